//! Logging setup shared by the p2pdex programs that run for an operator (`dexd`, `dex-mm`):
//! one format switch (`human` or `json`, from the config file or `--log-format`), the
//! configured level unless `RUST_LOG` is set, written to stderr (colours only on a terminal).

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `RUST_LOG` or the configured level is not a valid filter.
    #[error("{source_name} {filter:?} is not a valid filter: {reason}")]
    InvalidFilter {
        /// `RUST_LOG` or `log level`.
        source_name: &'static str,
        /// The text given.
        filter: String,
        /// What the parser said.
        reason: String,
    },
    /// A logger is already installed in this process.
    #[error("cannot start logging: {0}")]
    AlreadyStarted(String),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// The filter in force: `rust_log` (the `RUST_LOG` variable) when set and not empty, else
/// `level` (from the config file or the command line).
pub fn filter(rust_log: Option<&str>, level: &str) -> Result<EnvFilter, Error> {
    let (source_name, text) = match rust_log {
        Some(text) if !text.is_empty() => ("RUST_LOG", text),
        _ => ("log level", level),
    };
    EnvFilter::try_new(text).map_err(|err| Error::InvalidFilter {
        source_name,
        filter: text.to_owned(),
        reason: err.to_string(),
    })
}

/// Installs the process's logger: `format`, the filter of [`filter`] with `RUST_LOG` read
/// from the environment, to stderr.
pub fn init(format: LogFormat, level: &str) -> Result<(), Error> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(rust_log.as_deref(), level)?)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|err| Error::AlreadyStarted(err.to_string()))
}
