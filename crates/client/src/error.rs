//! What can go wrong calling a node's API.

use std::path::PathBuf;

use dex_api::types::Problem;

/// A failed call of a node's API.
///
/// Reasons from the transport and the decoder are kept as text inside the message (not as
/// `source`), so that `{}` alone says everything; the one `source` is the I/O error of a
/// data-dir file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No answer: the node is down, not listening there, or too slow.
    #[error("cannot reach the node at {url}: {reason} (is dexd running? see --url and --data-dir)")]
    Unreachable {
        /// The API's base URL.
        url: String,
        /// What the transport saw.
        reason: String,
    },
    /// The node refused the call with an RFC 7807 problem; branch on
    /// [`Problem::slug`] (see [`ClientError::slug`]).
    #[error(
        "{}: {} ({}, HTTP {})",
        problem.title,
        problem.detail,
        problem.slug(),
        problem.status
    )]
    Problem {
        /// The problem (boxed: it is large and rare).
        problem: Box<Problem>,
    },
    /// The node answered with an error status whose body is not a problem.
    #[error("HTTP {}: {body}", status_line(*status))]
    Http {
        /// The HTTP status.
        status: u16,
        /// The start of the body (at most 500 characters).
        body: String,
    },
    /// The node answered, but not with the JSON this route promises.
    #[error("unexpected answer to {request} (HTTP {status}): {reason}")]
    UnexpectedAnswer {
        /// The call (`GET /v1/info`).
        request: String,
        /// The HTTP status.
        status: u16,
        /// What was wrong, with the start of the body.
        reason: String,
    },
    /// The route needs the API token and the client has none.
    #[error("no API token for {route}: give --token, DEX_TOKEN or the node's --data-dir")]
    MissingToken {
        /// What needed it (`GET /v1/balances`, `the trading page`).
        route: String,
    },
    /// A file of the node's data dir (`api.url`, `api.token`) exists but cannot be read.
    #[error("cannot read {}", path.display())]
    DataDir {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The WebSocket failed: the connection broke, or a frame is not a message of the API.
    #[error("WebSocket {url}: {reason}")]
    WebSocket {
        /// The WebSocket URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// No WebSocket message came within the read timeout.
    #[error("no WebSocket message from {url} within {timeout_ms} ms")]
    WebSocketTimeout {
        /// The WebSocket URL.
        url: String,
        /// The read timeout.
        timeout_ms: u64,
    },
}

impl ClientError {
    /// The node's problem, if it answered with one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Problem { problem } => Some(problem),
            _ => None,
        }
    }

    /// The problem's slug (`unknown-order`), if the node answered with a problem.
    pub fn slug(&self) -> Option<&str> {
        self.problem().map(Problem::slug)
    }

    /// True when the node did not answer at all (down, restarting, elsewhere): a caller
    /// that retries may look for the node's URL again.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. })
    }
}

/// `404 Not Found`: the code and its reason phrase, as HTTP status lines read.
fn status_line(status: u16) -> String {
    match ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}
