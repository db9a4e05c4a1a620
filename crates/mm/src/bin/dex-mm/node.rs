//! The node's REST API, the bot's only way to the exchange: plain HTTP (no TLS) with the
//! bearer token, blocking, one kept-alive connection. Errors keep the problem's `type` so the
//! bot can tell "this order is already gone" from a failure.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use dex_api::{
    layout,
    types::{
        BalanceView, Balances, Book, Info, MarketInfo, Markets, OrderCancelled, OwnOrderView,
        OwnOrders, PlaceOrderRequest, Problem, SwapDetail, SwapView, Swaps,
        percent_encode as encode,
    },
};
use dex_primitives::{B256, OrderId};
use serde::de::DeserializeOwned;

/// The API's default address (DESIGN §9).
const DEFAULT_URL: &str = "http://127.0.0.1:7780";

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// No answer: the node is down, unreachable, or too slow.
    #[error("cannot reach the node at {url}: {reason}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// What the client saw.
        reason: String,
    },
    /// The node answered with a problem.
    #[error("{} ({}, HTTP {}): {}", problem.title, problem.slug(), problem.status, problem.detail)]
    Problem {
        /// The problem (boxed: it is large and rare).
        problem: Box<Problem>,
    },
    /// The node answered something else than the expected JSON.
    #[error("unexpected answer to {what} (HTTP {status}): {detail}")]
    Unexpected {
        /// The call.
        what: String,
        /// The status.
        status: u16,
        /// What was wrong.
        detail: String,
    },
}

impl ApiError {
    /// The problem slug, if the node answered with a problem.
    pub(crate) fn slug(&self) -> Option<&str> {
        match self {
            ApiError::Problem { problem } => Some(problem.slug()),
            _ => None,
        }
    }
}

/// How a cancel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// Cancelled now.
    Now,
    /// Already closed (filled, cancelled or expired) or unknown: nothing to do.
    AlreadyGone,
}

/// Where the node's URL and token come from.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The URL given in the config, if any.
    pub(crate) url: Option<String>,
    /// The token given in the config, if any.
    pub(crate) token: Option<String>,
    /// The data dir holding `api.url` and `api.token`.
    pub(crate) data_dir: Option<PathBuf>,
}

/// A client of one node's API.
#[derive(Debug)]
pub(crate) struct NodeClient {
    endpoint: Endpoint,
    base: String,
    token: String,
    agent: ureq::Agent,
}

fn read_trimmed(dir: Option<&Path>, name: &str) -> anyhow::Result<Option<String>> {
    let Some(dir) = dir else { return Ok(None) };
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(anyhow::Error::new(err).context(format!("cannot read {}", path.display()))),
    }
}

impl NodeClient {
    /// A client for `endpoint`: the configured URL and token, else the data dir's
    /// `api.url` (else the default URL) and `api.token`.
    pub(crate) fn new(endpoint: Endpoint, timeout: Duration) -> anyhow::Result<NodeClient> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        let mut client = NodeClient {
            endpoint,
            base: String::new(),
            token: String::new(),
            agent,
        };
        client.reload()?;
        Ok(client)
    }

    /// Reads the URL and token again: a restarted node may listen on another port (its
    /// `api.url` says which).
    pub(crate) fn reload(&mut self) -> anyhow::Result<()> {
        let dir = self.endpoint.data_dir.as_deref();
        let base = match (&self.endpoint.url, read_trimmed(dir, layout::API_URL)?) {
            (Some(url), _) => url.clone(),
            (None, Some(url)) => url,
            // A stopped node removes its api.url: keep the address it had until it is back.
            (None, None) if !self.base.is_empty() => self.base.clone(),
            (None, None) => DEFAULT_URL.into(),
        };
        let token = match &self.endpoint.token {
            Some(token) => token.clone(),
            None => read_trimmed(dir, layout::API_TOKEN)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no API token: set node.token, or node.data_dir to a node's data dir \
                     (its {} is read)",
                    layout::API_TOKEN
                )
            })?,
        };
        if !base.starts_with("http://") {
            anyhow::bail!("the node's URL {base:?} must start with http:// (no TLS)");
        }
        self.base = base.trim_end_matches('/').to_owned();
        self.token = token;
        Ok(())
    }

    /// The base URL in use.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    fn finish<T: DeserializeOwned>(
        &self,
        what: &str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ApiError> {
        let mut response = result.map_err(|err| ApiError::Unreachable {
            url: self.base.clone(),
            reason: err.to_string(),
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|err| ApiError::Unreachable {
                url: self.base.clone(),
                reason: format!("reading the answer: {err}"),
            })?;
        if (200..300).contains(&status) {
            return serde_json::from_str(&text).map_err(|err| ApiError::Unexpected {
                what: what.to_owned(),
                status,
                detail: err.to_string(),
            });
        }
        match serde_json::from_str::<Problem>(&text) {
            Ok(problem) => Err(ApiError::Problem {
                problem: Box::new(problem),
            }),
            Err(_) => Err(ApiError::Unexpected {
                what: what.to_owned(),
                status,
                detail: text.chars().take(300).collect(),
            }),
        }
    }

    /// `request` with the bearer token.
    fn authorized<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        request.header("Authorization", &format!("Bearer {}", self.token))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let request = self.authorized(self.agent.get(&self.url(path)));
        self.finish(&format!("GET {path}"), request.call())
    }

    /// Who the node is: its traders, the chains that answer.
    pub(crate) fn info(&self) -> Result<Info, ApiError> {
        self.get("/v1/info")
    }

    /// The on-chain balances of the node's traders, with what swaps lock and orders reserve.
    pub(crate) fn balances(&self) -> Result<Vec<BalanceView>, ApiError> {
        Ok(self.get::<Balances>("/v1/balances")?.balances)
    }

    /// One own order.
    pub(crate) fn order(&self, id: OrderId) -> Result<OwnOrderView, ApiError> {
        Ok(self
            .get::<dex_api::types::OwnOrderDetail>(&format!("/v1/orders/{id}"))?
            .order)
    }

    /// The node's markets.
    pub(crate) fn markets(&self) -> Result<Vec<MarketInfo>, ApiError> {
        Ok(self.get::<Markets>("/v1/markets")?.markets)
    }

    /// The best `depth` levels of each side of `market`.
    pub(crate) fn book(&self, market: &str, depth: usize) -> Result<Book, ApiError> {
        self.get(&format!(
            "/v1/markets/{}/book?depth={depth}",
            encode(market)
        ))
    }

    /// The node's open own orders, of `market` or of all markets.
    pub(crate) fn open_orders(&self, market: Option<&str>) -> Result<Vec<OwnOrderView>, ApiError> {
        let path = match market {
            Some(market) => format!("/v1/orders?status=open&market={}", encode(market)),
            None => "/v1/orders?status=open".to_owned(),
        };
        Ok(self.get::<OwnOrders>(&path)?.orders)
    }

    /// Places an order the node signs.
    pub(crate) fn place(&self, request: &PlaceOrderRequest) -> Result<OwnOrderView, ApiError> {
        let body = serde_json::to_string(request).expect("a place request serialises");
        let response = self
            .authorized(self.agent.post(&self.url("/v1/orders")))
            .header("Content-Type", "application/json")
            .send(body);
        self.finish("POST /v1/orders", response)
    }

    /// Cancels an own order; an order already closed or unknown counts as gone.
    pub(crate) fn cancel(&self, id: OrderId) -> Result<Cancelled, ApiError> {
        let path = format!("/v1/orders/{id}");
        let response = self.authorized(self.agent.delete(&self.url(&path))).call();
        match self.finish::<OrderCancelled>(&format!("DELETE {path}"), response) {
            Ok(_) => Ok(Cancelled::Now),
            Err(err) if matches!(err.slug(), Some("order-closed" | "unknown-order")) => {
                Ok(Cancelled::AlreadyGone)
            }
            Err(err) => Err(err),
        }
    }

    /// The node's swaps, newest first.
    pub(crate) fn swaps(&self) -> Result<Vec<SwapView>, ApiError> {
        Ok(self.get::<Swaps>("/v1/swaps")?.swaps)
    }

    /// One swap with its history.
    pub(crate) fn swap(&self, id: B256) -> Result<SwapDetail, ApiError> {
        self.get(&format!("/v1/swaps/{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_and_token_come_from_the_data_dir_unless_given() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api.url"), "http://127.0.0.1:4242/\n").unwrap();
        std::fs::write(dir.path().join("api.token"), "secret\n").unwrap();
        let endpoint = Endpoint {
            url: None,
            token: None,
            data_dir: Some(dir.path().to_owned()),
        };
        let client = NodeClient::new(endpoint.clone(), Duration::from_secs(1)).unwrap();
        assert_eq!(client.base(), "http://127.0.0.1:4242");
        assert_eq!(client.token, "secret");
        // A stopped node removes api.url; the last address stays until a new one is written.
        let mut client = client;
        std::fs::remove_file(dir.path().join("api.url")).unwrap();
        client.reload().unwrap();
        assert_eq!(client.base(), "http://127.0.0.1:4242");
        std::fs::write(dir.path().join("api.url"), "http://127.0.0.1:4343\n").unwrap();
        client.reload().unwrap();
        assert_eq!(client.base(), "http://127.0.0.1:4343");
        let given = NodeClient::new(
            Endpoint {
                url: Some("http://10.0.0.1:1".into()),
                token: Some("t".into()),
                ..endpoint
            },
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            (given.base(), given.token.as_str()),
            ("http://10.0.0.1:1", "t")
        );
        let tls = NodeClient::new(
            Endpoint {
                url: Some("https://node".into()),
                token: Some("t".into()),
                data_dir: None,
            },
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(tls.to_string().contains("no TLS"), "{tls}");
        let no_token = NodeClient::new(
            Endpoint {
                url: None,
                token: None,
                data_dir: Some(dir.path().join("missing")),
            },
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(no_token.to_string().contains("no API token"), "{no_token}");
    }
}
