//! The p2pdex HTTP API (DESIGN §9): axum REST under `/v1`, a WebSocket stream, the OpenAPI
//! document generated from this code, bearer-token auth, Prometheus metrics.
//!
//! The API reaches the node only through its [`dex_node::NodeHandle`]. Prices and
//! quantities are decimal strings at this edge, converted exactly with the market's tick and
//! lot ([`dex_primitives::Market::parse_price`]); every error is an RFC 7807 problem with a
//! stable `type` ([`error::PROBLEM_KINDS`]).
//!
//! Without the default `server` feature the crate is only [`types`]: the JSON both sides
//! speak, for clients (dexctl, dex-mm).
//!
//! # Routes
//! Public (no token): the trading page (`GET /`, `/ui/{file}`), `GET /v1/health`, `/v1/info`, `/v1/markets`,
//! `/v1/markets/{market}/book?depth=N`, `/v1/peers`, `/v1/openapi.json`, `/v1/ws` (the
//! `orders`, `swaps` and `trades:` channels need the token), `/metrics`. With
//! `Authorization: Bearer <token>`: `POST /v1/orders` (the node signs),
//! `POST /v1/orders/signed`, `GET /v1/orders`, `DELETE /v1/orders?market=` (cancel all),
//! `GET`/`DELETE /v1/orders/{id}`, `GET`/`DELETE /v1/orders/by-client-id/{clientOrderId}`,
//! `GET /v1/fills`, `GET /v1/swaps`, `/v1/swaps/{id}`, `GET /v1/balances`,
//! `/v1/counterparties`, `/v1/markets/{market}/trades`.
//!
//! # Adding a route
//! Write the handler in `routes.rs` with a `#[utoipa::path]` attribute (its problems in
//! `responses`), add it to the router in [`router`] (inside `private` if it needs the token)
//! and to [`openapi::ApiDoc`]'s `paths`, add its path template to [`metrics::ROUTES`], and a
//! dexctl subcommand. New node errors map to a problem kind in `error.rs`.

pub mod types;
pub use types::layout;

#[cfg(feature = "server")]
mod auth;
#[cfg(feature = "server")]
mod book_cache;
#[cfg(feature = "server")]
pub mod error;
#[cfg(feature = "server")]
mod extract;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
pub mod openapi;
#[cfg(feature = "server")]
pub mod place;
#[cfg(feature = "server")]
mod routes;
#[cfg(feature = "server")]
mod timeline;
#[cfg(feature = "server")]
mod trading;
#[cfg(feature = "server")]
mod ui;
#[cfg(feature = "server")]
mod ws;

#[cfg(feature = "server")]
pub use server::*;

#[cfg(feature = "server")]
mod server {
    use std::{future::Future, sync::Arc, time::Duration};

    use axum::{
        Router,
        extract::DefaultBodyLimit,
        http::{HeaderValue, Method, header},
        middleware::from_fn_with_state,
        routing::{get, post},
    };
    use dex_node::{NodeHandle, Registry};
    use dex_primitives::{Address, Markets};
    use tokio::net::TcpListener;
    use tower_http::cors::{AllowOrigin, CorsLayer};

    use crate::{auth, book_cache::BookCache, metrics::ApiMetrics, routes, trading, ui, ws};

    /// Settings of the API server. Defaults suit a local node.
    #[derive(Debug, Clone)]
    pub struct ApiConfig {
        /// The bearer token that protects mutations and own data (from `api.token`).
        pub token: String,
        /// Largest request body accepted, in bytes. Default 64 KiB.
        pub body_limit: usize,
        /// Longest a request may take before it is answered with a `timeout` problem.
        /// Default 10 s.
        pub request_timeout: Duration,
        /// Origins allowed to call the API from a browser (CORS). Empty (default): CORS off,
        /// browsers refuse cross-origin calls. `*` allows any origin.
        pub cors_origins: Vec<String>,
        /// Largest `depth` a book request may ask for. Default 1,000 levels.
        pub max_book_depth: usize,
        /// Levels per side a WebSocket book channel carries. Default 100.
        pub ws_book_depth: usize,
        /// Messages queued per WebSocket connection; a client that lets more pile up is
        /// disconnected (slow consumers are dropped, never buffered without bound).
        /// Default 256.
        pub ws_queue: usize,
        /// Channels one WebSocket connection may subscribe. Default 16.
        pub ws_max_subscriptions: usize,
        /// `Host` values (`name:port`, as the header carries them) the API answers to;
        /// any other is refused with `forbidden-host`, so a web page that rebinds its
        /// own name to 127.0.0.1 (DNS rebinding) reaches nothing. Empty (the library
        /// default): every host; dexd sets the listen address and its loopback names, plus
        /// `[api] hosts`. `*` in the list: every host.
        pub allowed_hosts: Vec<String>,
    }

    impl ApiConfig {
        /// Defaults with the given token.
        pub fn new(token: impl Into<String>) -> Self {
            ApiConfig {
                token: token.into(),
                body_limit: 64 * 1024,
                request_timeout: Duration::from_secs(10),
                cors_origins: Vec::new(),
                max_book_depth: 1000,
                ws_book_depth: 100,
                ws_queue: 256,
                ws_max_subscriptions: 16,
                allowed_hosts: Vec::new(),
            }
        }

        /// Whether a request with this `Host` is answered.
        pub fn host_allowed(&self, host: Option<&str>) -> bool {
            if self.allowed_hosts.is_empty() || self.allowed_hosts.iter().any(|h| h == "*") {
                return true;
            }
            host.is_some_and(|host| {
                self.allowed_hosts
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(host))
            })
        }

        /// Whether a browser page of `origin` may open a WebSocket: one of the CORS
        /// origins, or a page served under a host the API answers to.
        pub fn origin_allowed(&self, origin: &str) -> bool {
            if self
                .cors_origins
                .iter()
                .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin))
            {
                return true;
            }
            let host = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            !self.allowed_hosts.is_empty() && host.is_some_and(|host| self.host_allowed(Some(host)))
        }
    }

    /// What the API reports about the node besides what the handle answers.
    #[derive(Debug, Clone)]
    pub struct NodeContext {
        /// Software version (`/v1/info`).
        pub version: String,
        /// The markets the node was configured with (the handle does not expose them).
        pub markets: Markets,
        /// Trader addresses the node holds keys of.
        pub traders: Vec<Address>,
        /// True when the node settles trades (chains configured).
        pub settlement: bool,
        /// The longest lifetime the node allows an order (its validation rules).
        pub max_order_lifetime_ms: u64,
    }

    /// Shared state of every handler: the node handle and read-only context. Cheap to clone.
    #[derive(Debug, Clone)]
    pub struct ApiState {
        inner: Arc<Inner>,
    }

    #[derive(Debug)]
    struct Inner {
        node: NodeHandle,
        context: NodeContext,
        config: ApiConfig,
        metrics: ApiMetrics,
        /// Every metric family `/metrics` shows: the node's, the network's, libp2p's and
        /// [`ApiMetrics`].
        registry: Registry,
        feeds: ws::BookFeeds,
        books: BookCache,
    }

    impl ApiState {
        /// State for a node. `registry` holds the node's metric families (the one
        /// [`dex_node::spawn`] filled); the API adds its own ([`ApiMetrics::new`]) and
        /// serves them all on `/metrics`.
        pub fn new(
            node: NodeHandle,
            context: NodeContext,
            config: ApiConfig,
            mut registry: Registry,
        ) -> Self {
            let feeds = ws::BookFeeds::new(node.clone(), config.ws_book_depth);
            let books = BookCache::new(&context.markets);
            let metrics = ApiMetrics::new(&mut registry);
            ApiState {
                inner: Arc::new(Inner {
                    node,
                    context,
                    config,
                    metrics,
                    registry,
                    feeds,
                    books,
                }),
            }
        }

        pub(crate) fn node(&self) -> &NodeHandle {
            &self.inner.node
        }

        pub(crate) fn context(&self) -> &NodeContext {
            &self.inner.context
        }

        pub(crate) fn config(&self) -> &ApiConfig {
            &self.inner.config
        }

        /// The API's own counters.
        pub fn metrics(&self) -> &ApiMetrics {
            &self.inner.metrics
        }

        pub(crate) fn registry(&self) -> &Registry {
            &self.inner.registry
        }

        pub(crate) fn feeds(&self) -> &ws::BookFeeds {
            &self.inner.feeds
        }

        pub(crate) fn books(&self) -> &BookCache {
            &self.inner.books
        }
    }

    /// The whole API as an axum router.
    pub fn router(state: ApiState) -> Router {
        let config = state.config().clone();
        let public = Router::new()
            .route("/v1/health", get(routes::health))
            .route("/v1/info", get(routes::info))
            .route("/v1/markets", get(routes::markets))
            .route("/v1/markets/{market}/book", get(routes::book))
            .route("/v1/peers", get(routes::peers))
            .route("/v1/openapi.json", get(routes::openapi))
            .route("/v1/ws", get(ws::upgrade))
            .route("/metrics", get(routes::metrics))
            // The trading page; it asks for the token itself.
            .route("/", get(ui::index))
            .route("/ui/{file}", get(ui::asset));
        let private = Router::new()
            .route(
                "/v1/orders",
                post(trading::place_order)
                    .get(trading::list_orders)
                    .delete(trading::cancel_all),
            )
            .route("/v1/orders/signed", post(routes::post_signed_order))
            .route(
                "/v1/orders/{id}",
                get(trading::show_order).delete(routes::cancel_order),
            )
            .route(
                "/v1/orders/by-client-id/{clientOrderId}",
                get(trading::show_order_by_client_id).delete(trading::cancel_order_by_client_id),
            )
            .route("/v1/fills", get(trading::fills))
            .route("/v1/swaps", get(trading::list_swaps))
            .route("/v1/swaps/{id}", get(trading::show_swap))
            .route("/v1/balances", get(trading::balances))
            .route("/v1/counterparties", get(trading::counterparties))
            // This node's own trades: who it traded with, when, how much.
            .route("/v1/markets/{market}/trades", get(trading::trades))
            .route_layer(from_fn_with_state(state.clone(), auth::require_token));
        let mut router = public
            .merge(private)
            .fallback(routes::not_found)
            .method_not_allowed_fallback(routes::method_not_allowed)
            .layer(DefaultBodyLimit::max(config.body_limit))
            .layer(from_fn_with_state(state.clone(), crate::metrics::observe));
        if let Some(cors) = cors_layer(&config.cors_origins) {
            router = router.layer(cors);
        }
        router.with_state(state)
    }

    fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
        if origins.is_empty() {
            return None;
        }
        let allow = if origins.iter().any(|origin| origin == "*") {
            AllowOrigin::any()
        } else {
            AllowOrigin::list(
                origins
                    .iter()
                    .filter_map(|origin| HeaderValue::from_str(origin).ok()),
            )
        };
        Some(
            CorsLayer::new()
                .allow_origin(allow)
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        )
    }

    /// Serves the API on `listener` until `shutdown` resolves, then finishes the requests in
    /// flight.
    pub async fn serve(
        listener: TcpListener,
        state: ApiState,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown)
            .await
    }
}
