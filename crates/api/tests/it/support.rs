//! An in-process node with the API's router in front of it.

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    body::Body,
    http::{Method, Request, header},
};
use dex_api::{ApiConfig, ApiState, NodeContext, types::Problem};
use dex_node::{NodeHandle, Registry};
use dex_primitives::{B256, Lots, Order, Side, SignedOrder, Ticks, TraderKey};
use dex_test_utils::harness::{TestNetwork, Topology, now_ms};
use serde_json::Value;
use tower::ServiceExt;

/// The JSON content type.
pub(crate) const JSON: &str = "application/json";

/// The token of the test API.
pub(crate) const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef";

/// One node of a [`TestNetwork`] and the API router over its handle.
pub(crate) struct Api {
    network: Arc<TestNetwork>,
    index: usize,
    router: Router,
    state: ApiState,
}

/// An answer of the router.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) text: String,
    pub(crate) json: Value,
}

impl Answer {
    /// The body as an RFC 7807 problem (the content type must say so).
    pub(crate) fn problem(&self) -> Problem {
        assert_eq!(
            self.content_type, "application/problem+json",
            "not a problem: {} {}",
            self.status, self.text
        );
        serde_json::from_str(&self.text).expect("a problem body")
    }
}

impl Api {
    /// A relay node (no chains) and its API with the default settings.
    pub(crate) async fn start() -> Api {
        Self::start_with(|_| {}).await
    }

    /// Like [`Api::start`], with `tweak` applied to the API's settings.
    pub(crate) async fn start_with(tweak: impl Fn(&mut ApiConfig)) -> Api {
        Self::network(1, Topology::None, tweak)
            .await
            .pop()
            .expect("one node")
    }

    /// `n` connected relay nodes dialing `topology`, each with its API.
    pub(crate) async fn network(
        n: usize,
        topology: Topology,
        tweak: impl Fn(&mut ApiConfig),
    ) -> Vec<Api> {
        let network = Arc::new(
            TestNetwork::start(n, topology)
                .await
                .expect("the nodes start"),
        );
        (0..n)
            .map(|index| {
                let node = network.node(index).expect("a node").clone();
                let config = &network.nodes[index].config;
                let context = NodeContext {
                    version: "test".into(),
                    markets: config.markets.clone(),
                    traders: config.traders.iter().map(TraderKey::address).collect(),
                    settlement: false,
                    max_order_lifetime_ms: config.rules.max_lifetime_ms,
                };
                let mut api = ApiConfig::new(TOKEN);
                tweak(&mut api);
                // The node's families stay in the harness's registry; /metrics here
                // serves the API's own.
                let state = ApiState::new(node, context, api, Registry::default());
                let router = dex_api::router(state.clone());
                Api {
                    network: network.clone(),
                    index,
                    router,
                    state,
                }
            })
            .collect()
    }

    /// The router, for requests whose whole response a test reads.
    pub(crate) fn router(&self) -> Router {
        self.router.clone()
    }

    /// The API's own counters.
    pub(crate) fn metrics(&self) -> &dex_api::metrics::ApiMetrics {
        self.state.metrics()
    }

    pub(crate) fn node(&self) -> &NodeHandle {
        self.network.node(self.index).expect("a running node")
    }

    /// Sends `request` through the router.
    pub(crate) async fn send(&self, request: Request<Body>) -> Answer {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = tokio::time::timeout(
            Duration::from_secs(30),
            axum::body::to_bytes(response.into_body(), 16 << 20),
        )
        .await
        .expect("the body ends")
        .expect("the body reads");
        let text = String::from_utf8(bytes.to_vec()).expect("utf-8");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            text,
            json,
        }
    }

    /// The node's trader key.
    pub(crate) fn trader_key(&self) -> TraderKey {
        self.network.nodes[self.index].trader.clone()
    }

    /// An ETH/USDC order by this node's trader, naming this node, signed.
    pub(crate) fn order(&self, side: Side, price: u64, quantity: u64, nonce: u64) -> SignedOrder {
        let key = self.trader_key();
        let now = now_ms();
        Order {
            market: dex_test_utils::eth_usdc_id(),
            side,
            price: Ticks(price),
            quantity: Lots(quantity),
            min_fill: Lots(1),
            maker: key.address(),
            peer: self.node().peer_id().to_string(),
            nonce,
            created_at: now,
            expires_at: now + 3_600_000,
        }
        .sign(&key)
    }

    /// The digest of the visible ETH/USDC book, as the book route answers it.
    pub(crate) async fn digest(&self) -> B256 {
        let book = self.send(get("/v1/markets/ETH%2FUSDC/book?depth=1")).await;
        assert_eq!(book.status, 200, "{}", book.text);
        book.json["digest"]
            .as_str()
            .and_then(|digest| digest.parse().ok())
            .unwrap_or_else(|| panic!("no digest in {}", book.text))
    }

    /// The ETH/USDC book as the book route answers it: (side, price, quantity) triples.
    pub(crate) async fn book(&self) -> Vec<(String, String, String)> {
        let book = self.send(get("/v1/markets/ETH%2FUSDC/book?depth=50")).await;
        assert_eq!(book.status, 200, "{}", book.text);
        let mut levels = Vec::new();
        for side in ["bids", "asks"] {
            for level in book.json[side].as_array().expect("levels") {
                let text = |key: &str| level[key].as_str().expect("a decimal").to_owned();
                levels.push((side.to_owned(), text("price"), text("quantity")));
            }
        }
        levels
    }
}

/// A request of `method` to `path` with `body`, the bearer `token` and `content_type`.
pub(crate) fn request(
    method: Method,
    path: &str,
    body: &str,
    token: Option<&str>,
    content_type: Option<&str>,
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    request
        .body(Body::from(body.to_owned()))
        .expect("a valid request")
}

/// GET without a token.
pub(crate) fn get(path: &str) -> Request<Body> {
    request(Method::GET, path, "", None, None)
}

/// GET with the token.
pub(crate) fn get_auth(path: &str) -> Request<Body> {
    request(Method::GET, path, "", Some(TOKEN), None)
}

/// POST of JSON with the token.
pub(crate) fn post(path: &str, body: &str) -> Request<Body> {
    request(Method::POST, path, body, Some(TOKEN), Some(JSON))
}

/// POST with the given token and content type.
pub(crate) fn post_as(
    path: &str,
    body: &str,
    token: Option<&str>,
    content_type: Option<&str>,
) -> Request<Body> {
    request(Method::POST, path, body, token, content_type)
}

/// DELETE with the token.
pub(crate) fn delete(path: &str) -> Request<Body> {
    request(Method::DELETE, path, "", Some(TOKEN), None)
}

/// DELETE without a token.
pub(crate) fn delete_anonymous(path: &str) -> Request<Body> {
    request(Method::DELETE, path, "", None, None)
}
