//! The devnet's one error type: what failed, with the values and the log a person needs to
//! find out why.

use std::{io, path::PathBuf, process::ExitStatus, time::Duration};

use dex_chain::ChainError;

/// Everything that can go wrong starting, running or stopping a devnet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevnetError {
    /// A tool the devnet runs is not installed where it was looked for.
    #[error("{tool} not found at {}: run scripts/install-tools.sh (it installs the pinned anvil and solc into .tools/)", path.display())]
    ToolMissing {
        /// The tool's name, e.g. `anvil`.
        tool: &'static str,
        /// Where it was expected.
        path: PathBuf,
    },
    /// A p2pdex binary the devnet runs has not been built.
    #[error("{name} not found at {}: build it first (cargo build -p {name}, or --release as scripts/devnet.sh does), or point DEX_BIN_DIR at the directory that holds it", path.display())]
    BinaryMissing {
        /// The binary's name, e.g. `dexd`.
        name: &'static str,
        /// Where it was expected.
        path: PathBuf,
    },
    /// A fixed port the devnet needs is already taken (often by a devnet still running).
    #[error(
        "port {port} on 127.0.0.1, wanted for {what}, is already in use (another devnet or \
         anvil still running? choose other ports, or 0 for an ephemeral one)"
    )]
    PortInUse {
        /// The port.
        port: u16,
        /// What wanted it, e.g. `anvil-31337`.
        what: String,
    },
    /// The configuration cannot work.
    #[error("invalid devnet configuration: {reason}")]
    InvalidConfig {
        /// Why.
        reason: String,
    },
    /// A file or directory operation failed.
    #[error("{what} ({}): {source}", path.display())]
    Io {
        /// What was being done.
        what: String,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A child process could not be started.
    #[error("could not start {name} ({program}): {source}")]
    Spawn {
        /// The child's name.
        name: String,
        /// The program.
        program: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Two children were given the same name (names key their log files).
    #[error("a child named {name} is already supervised")]
    DuplicateChild {
        /// The name.
        name: String,
    },
    /// No supervised child has this name.
    #[error("no supervised child named {name}")]
    UnknownChild {
        /// The name.
        name: String,
    },
    /// A supervised child exited while it was expected to run.
    #[error("{0}")]
    ChildExited(Box<ChildExit>),
    /// A child did not become ready in time.
    #[error(
        "{name} (pid {pid}) was not ready after {after:?}: still waiting for {waiting_for}; its log: {}",
        log.display()
    )]
    NotReady {
        /// The child's name.
        name: String,
        /// Its process id.
        pid: u32,
        /// What readiness was awaited.
        waiting_for: String,
        /// How long it was given.
        after: Duration,
        /// Its log file.
        log: PathBuf,
    },
    /// A chain operation failed (deploying, minting, reading a balance).
    #[error("{step} on chain {chain_id}: {source}")]
    Chain {
        /// What was being done.
        step: String,
        /// The chain.
        chain_id: u64,
        /// What the chain client reported (boxed: it is large, and rare).
        #[source]
        source: Box<ChainError>,
    },
    /// A devnet description (`chains.json`) could not be read or written.
    #[error("devnet description {}: {reason}", path.display())]
    Description {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A call to a node's API failed.
    #[error("{request}: {failure}")]
    Api {
        /// The call and the node's URL.
        request: String,
        /// What went wrong.
        failure: dex_client::ClientError,
    },
    /// The demo trade or a check of the devnet did not go as it must.
    #[error("{0}")]
    Check(String),
    /// A signal could not be delivered, or the parent-death signal could not be set.
    #[error("{what}: {source}")]
    Os {
        /// What was being done.
        what: String,
        /// The system call's error.
        #[source]
        source: nix::Error,
    },
}

/// How and where a supervised child ended, with the end of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildExit {
    /// The child's name.
    pub name: String,
    /// Its process id.
    pub pid: u32,
    /// How it ended.
    pub status: ExitStatus,
    /// Its log file (stdout and stderr).
    pub log: PathBuf,
    /// The last lines of the log, for the error message.
    pub log_tail: Vec<String>,
}

impl std::fmt::Display for ChildExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (pid {}) exited unexpectedly ({}); its log: {}",
            self.name,
            self.pid,
            self.status,
            self.log.display()
        )?;
        if !self.log_tail.is_empty() {
            write!(f, "\nlast lines of the log:")?;
            for line in &self.log_tail {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

impl From<ChildExit> for DevnetError {
    fn from(exit: ChildExit) -> DevnetError {
        DevnetError::ChildExited(Box::new(exit))
    }
}

impl DevnetError {
    pub(crate) fn io(what: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Self {
        DevnetError::Io {
            what: what.into(),
            path: path.into(),
            source,
        }
    }

    pub(crate) fn chain(step: impl Into<String>, chain_id: u64, source: ChainError) -> Self {
        DevnetError::Chain {
            step: step.into(),
            chain_id,
            source: Box::new(source),
        }
    }
}
