//! Why a configuration could not be loaded. Every variant names where the fault is: the
//! key path (`node.tick_interval`) and its origin — the file (with the line where it can be
//! found), the environment variable or the command-line flag.

use std::{fmt, path::PathBuf};

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A config file, and the line of the key when it could be found.
    File {
        /// The file, as given.
        path: PathBuf,
        /// The line (from 1) of the key.
        line: Option<usize>,
    },
    /// An environment variable.
    Env(String),
    /// A command-line flag (`--api-listen`).
    Flag(String),
    /// No source holds the key (a required key missing everywhere, or the defaults).
    Defaults,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path,
                line: Some(line),
            } => write!(f, "{} line {line}", path.display()),
            Origin::File { path, line: None } => write!(f, "{}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Defaults => f.write_str("the configuration"),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not TOML.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the line and column.
        message: String,
    },
    /// An environment variable of the program's prefix names no key
    /// (`DEX_API____LISTEN`).
    #[error("environment variable {var}: {reason} (write {prefix}<SECTION>__<KEY>)")]
    BadEnvName {
        /// The variable.
        var: String,
        /// The program's prefix (`DEX_`).
        prefix: String,
        /// What is wrong with the name.
        reason: &'static str,
    },
    /// A key no setting has: a typo, or a key of another program.
    #[error("unknown key `{key}` in {origin}{}", Expected(expected))]
    UnknownKey {
        /// The key's full path (`node.gossip.heartbeet`).
        key: String,
        /// Where it was found.
        origin: Origin,
        /// The keys its table takes.
        expected: &'static [&'static str],
    },
    /// A key that was renamed; the message says what to write instead.
    #[error("key `{key}` in {origin} was renamed: use {replacement}")]
    Renamed {
        /// The old key's full path (`refresh_interval_ms`).
        key: String,
        /// Where it was found.
        origin: Origin,
        /// What to write instead (`refresh_interval = "2s"`).
        replacement: String,
    },
    /// A required key is missing from every source.
    #[error("missing key `{key}` (required) in {origin}")]
    MissingKey {
        /// The key's full path.
        key: String,
        /// The file that should hold it, or the defaults.
        origin: Origin,
    },
    /// A value of the wrong type or out of its range.
    #[error("key `{key}` in {origin}: {reason}")]
    Invalid {
        /// The key's full path; empty for the whole document.
        key: String,
        /// Where the value came from.
        origin: Origin,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    /// The key path at fault, when the error is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. }
            | ConfigError::Renamed { key, .. }
            | ConfigError::MissingKey { key, .. }
            | ConfigError::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }
}

/// ` (expected one of: a, b, c)`, or nothing when the list is empty.
struct Expected<'a>(&'a [&'static str]);

impl fmt::Display for Expected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(f, " (expected one of: {})", self.0.join(", "))
    }
}
