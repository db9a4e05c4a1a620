//! A small client of a node's REST API, for the devnet's readiness checks and its demo
//! trade: plain HTTP on loopback, JSON in and out, problems kept as such.

use std::time::Duration;

use dex_api::types::Problem;
use serde::{Serialize, de::DeserializeOwned};

use crate::DevnetError;

/// Longest one API call may take (a local node answers in milliseconds; the node's own
/// request timeout is 10 s by default).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Calls one node's API. Cheap to clone. Calls run on tokio's blocking pool, so they can be
/// awaited from any runtime.
#[derive(Debug, Clone)]
pub struct NodeClient {
    url: String,
    token: String,
    agent: ureq::Agent,
}

/// Why an API call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// No answer: the node is down or not listening yet.
    Unreachable(String),
    /// The node answered with a problem.
    Problem(Box<Problem>),
    /// The node answered something that is not the expected JSON.
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// What was wrong, with the start of the body.
        reason: String,
    },
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::Unreachable(reason) => write!(f, "no answer: {reason}"),
            CallFailure::Problem(problem) => write!(
                f,
                "{} {} ({}): {}",
                problem.status,
                problem.title,
                problem.slug(),
                problem.detail
            ),
            CallFailure::Unexpected { status, reason } => {
                write!(f, "unexpected answer (HTTP {status}): {reason}")
            }
        }
    }
}

impl CallFailure {
    /// The problem's slug (`chain-unavailable`), if the node answered with a problem.
    pub fn slug(&self) -> Option<&str> {
        match self {
            CallFailure::Problem(problem) => Some(problem.slug()),
            _ => None,
        }
    }
}

impl NodeClient {
    /// A client of the API at `url` (`http://127.0.0.1:PORT`) with the node's bearer
    /// `token`.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> NodeClient {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .into();
        NodeClient {
            url: url.into().trim_end_matches('/').to_owned(),
            token: token.into(),
            agent,
        }
    }

    /// The API's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `GET path` with the token, decoded as `T`.
    pub async fn get<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
    ) -> Result<T, DevnetError> {
        self.call("GET", path, None).await
    }

    /// `POST path` with the token and `body` as JSON, decoded as `T`.
    pub async fn post<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, DevnetError> {
        let body = serde_json::to_string(body).map_err(|err| {
            self.error(
                "POST",
                path,
                CallFailure::Unexpected {
                    status: 0,
                    reason: format!("the request does not serialise: {err}"),
                },
            )
        })?;
        self.call("POST", path, Some(body)).await
    }

    fn error(&self, method: &str, path: &str, failure: CallFailure) -> DevnetError {
        DevnetError::Api {
            request: format!("{method} {}{path}", self.url),
            failure,
        }
    }

    async fn call<T: DeserializeOwned + Send + 'static>(
        &self,
        method: &'static str,
        path: &str,
        body: Option<String>,
    ) -> Result<T, DevnetError> {
        let client = self.clone();
        let target = format!("{}{path}", self.url);
        let answer = tokio::task::spawn_blocking(move || client.blocking(method, &target, body))
            .await
            .unwrap_or_else(|err| {
                Err(CallFailure::Unreachable(format!(
                    "the call's thread failed: {err}"
                )))
            });
        answer.map_err(|failure| self.error(method, path, failure))
    }

    fn blocking<T: DeserializeOwned>(
        &self,
        method: &str,
        url: &str,
        body: Option<String>,
    ) -> Result<T, CallFailure> {
        let bearer = format!("Bearer {}", self.token);
        let result = match body {
            Some(body) => self
                .agent
                .post(url)
                .header("Authorization", &bearer)
                .header("Content-Type", "application/json")
                .send(body),
            None if method == "GET" => self.agent.get(url).header("Authorization", &bearer).call(),
            None => unreachable!("only GET and POST are used"),
        };
        let mut response = result.map_err(|err| CallFailure::Unreachable(err.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|err| CallFailure::Unreachable(format!("reading the answer: {err}")))?;
        let unexpected = |reason: String| CallFailure::Unexpected {
            status,
            reason: format!(
                "{reason}; body: {}",
                text.chars().take(300).collect::<String>()
            ),
        };
        if !(200..300).contains(&status) {
            return Err(match serde_json::from_str::<Problem>(&text) {
                Ok(problem) => CallFailure::Problem(Box::new(problem)),
                Err(_) => unexpected("not a problem document".into()),
            });
        }
        serde_json::from_str(&text).map_err(|err| unexpected(err.to_string()))
    }
}
