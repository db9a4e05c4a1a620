//! Prometheus metrics: the API's requests by route and status with latency histograms, its
//! WebSocket gauges, and the peers and book sizes read at each scrape. They join the node's,
//! the network's and libp2p's families in one prometheus-client registry, which `/metrics`
//! encodes in the OpenMetrics text format.

use std::time::Instant;

use crate::{ApiState, error::ApiError};
use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

/// Path templates of the served routes: their latency histograms exist from the start (at
/// zero). Requests that match no route are counted under `unmatched`.
pub const ROUTES: &[&str] = &[
    "/v1/health",
    "/v1/info",
    "/v1/markets",
    "/v1/markets/{market}/book",
    "/v1/markets/{market}/trades",
    "/v1/orders",
    "/v1/peers",
    "/v1/openapi.json",
    "/v1/ws",
    "/v1/orders/signed",
    "/v1/orders/{id}",
    "/v1/orders/by-client-id/{clientOrderId}",
    "/v1/fills",
    "/v1/swaps",
    "/v1/swaps/{id}",
    "/v1/balances",
    "/v1/counterparties",
    "/metrics",
    "/",
    "/ui/{file}",
];

/// The `route` of requests that match no route.
pub const UNMATCHED: &str = "unmatched";

/// The content type of the exposition (OpenMetrics text, which Prometheus reads).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The labels of `dex_api_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    /// A path template of [`ROUTES`], or [`UNMATCHED`].
    route: &'static str,
    /// The HTTP status answered.
    status: u16,
}

/// The labels of `dex_book_orders`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BookLabels {
    /// The market's symbol.
    market: String,
    /// `visible`, `suspended` or `tombstones`.
    state: &'static str,
}

type RouteLabels = [(&'static str, &'static str); 1];

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The API's own metrics, registered in the node's registry by [`ApiMetrics::new`].
#[derive(Debug)]
pub struct ApiMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// WebSocket connections open now.
    pub(crate) ws_connections: Gauge,
    /// WebSocket clients disconnected for not keeping up.
    pub(crate) ws_slow_dropped: Counter,
    /// Book reads that asked the node (no answer kept for the book's revision and depth).
    pub(crate) book_fills: Counter,
    peers: Gauge,
    peers_relayed: Gauge,
    books: Family<BookLabels, Gauge>,
}

impl ApiMetrics {
    /// The API's families, at zero, added to `registry`: `dex_api_requests_total{route,
    /// status}`, `dex_api_request_duration_seconds{route}` (a histogram for every route of
    /// [`ROUTES`] and `unmatched` from the start), `dex_api_ws_connections`,
    /// `dex_api_ws_slow_dropped_total`, `dex_api_book_fills_total`, `dex_peers`,
    /// `dex_peers_relayed` and `dex_book_orders{market, state}`.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = ApiMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            ws_connections: Gauge::default(),
            ws_slow_dropped: Counter::default(),
            book_fills: Counter::default(),
            peers: Gauge::default(),
            peers_relayed: Gauge::default(),
            books: Family::default(),
        };
        for route in ROUTES.iter().chain(std::iter::once(&UNMATCHED)) {
            drop(metrics.latency.get_or_create(&[("route", route)]));
        }
        registry.register(
            "dex_api_requests",
            "API requests answered, by route and status.",
            metrics.requests.clone(),
        );
        registry.register(
            "dex_api_request_duration_seconds",
            "Time to answer API requests, by route.",
            metrics.latency.clone(),
        );
        registry.register(
            "dex_api_ws_connections",
            "WebSocket connections open.",
            metrics.ws_connections.clone(),
        );
        registry.register(
            "dex_api_ws_slow_dropped",
            "WebSocket clients disconnected for not reading fast enough.",
            metrics.ws_slow_dropped.clone(),
        );
        registry.register(
            "dex_api_book_fills",
            "Book reads that asked the node for the book (the others are answered from the \
             answer kept for the book's revision).",
            metrics.book_fills.clone(),
        );
        registry.register("dex_peers", "Connected peers.", metrics.peers.clone());
        registry.register(
            "dex_peers_relayed",
            "Connected peers reached only through a relay (no direct connection).",
            metrics.peers_relayed.clone(),
        );
        registry.register(
            "dex_book_orders",
            "Orders held per market: visible (offered), suspended (maker silent), tombstones \
             (closed, remembered until expiry).",
            metrics.books.clone(),
        );
        metrics
    }

    /// Requests answered so far on `route` (a template of [`ROUTES`], or [`UNMATCHED`]) with
    /// `status`.
    pub fn requests(&self, route: &str, status: u16) -> u64 {
        let Some(route) = static_route(Some(route)) else {
            return 0;
        };
        self.requests
            .get(&RequestLabels { route, status })
            .map_or(0, |counter| counter.get())
    }

    /// Book reads so far that asked the node for the book.
    pub fn book_fills(&self) -> u64 {
        self.book_fills.get()
    }

    fn record(&self, route: &'static str, status: u16, started: Instant) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
        self.latency
            .get_or_create(&[("route", route)])
            .observe(started.elapsed().as_secs_f64());
    }
}

/// The template of [`ROUTES`] (or [`UNMATCHED`]) equal to `template`.
fn static_route(template: Option<&str>) -> Option<&'static str> {
    let template = template?;
    ROUTES
        .iter()
        .chain(std::iter::once(&UNMATCHED))
        .find(|route| **route == template)
        .copied()
}

/// The middleware of every route: refuses a request whose `Host` the API does not answer to
/// ([`crate::auth::refused_host`]), counts and times every request by its route template,
/// and answers `timeout` problems for requests that take longer than the configured limit.
/// One layer for all three: each layer clones the route's service and boxes a future per
/// request.
pub(crate) async fn observe(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // Looked up before the request moves on, so counting it allocates nothing.
    let route = static_route(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    )
    .unwrap_or(UNMATCHED);
    let limit = state.config().request_timeout;
    let response = if let Some(refused) = crate::auth::refused_host(&request, state.config()) {
        refused.into_response()
    } else {
        match tokio::time::timeout(limit, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::Timeout {
                millis: limit.as_millis(),
            }
            .into_response(),
        }
    };
    state
        .metrics()
        .record(route, response.status().as_u16(), started);
    response
}

/// The whole exposition: the gauges read from the node now (peers, books), then every
/// family of the registry (API, node, network, libp2p).
pub(crate) async fn render(state: &ApiState) -> String {
    let metrics = state.metrics();
    let node = state.node();
    if let Ok(peers) = node.network().peers(None).await {
        metrics.peers.set(gauge_value(peers.connected.len()));
        metrics.peers_relayed.set(gauge_value(peers.relayed.len()));
    }
    for market in state.context().markets.iter() {
        if let Ok(stats) = node.stats(market.id()).await {
            for (kind, value) in [
                ("visible", stats.visible),
                ("suspended", stats.suspended),
                ("tombstones", stats.tombstones),
            ] {
                metrics
                    .books
                    .get_or_create(&BookLabels {
                        market: market.symbol().to_owned(),
                        state: kind,
                    })
                    .set(gauge_value(value));
            }
        }
    }
    let mut out = String::with_capacity(64 * 1024);
    // Writing into a String cannot fail.
    let _ = encode(&mut out, state.registry());
    out
}

fn gauge_value(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}
