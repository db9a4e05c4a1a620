//! Prometheus metrics: the API's requests by route and status with latency histograms, and
//! the node's and network's counters, peers and book sizes, in the text exposition format
//! (version 0.0.4), written by hand (a few families do not need a metrics library).

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::{ApiState, error::ApiError};
use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Path templates of the served routes: their metrics exist from the start (at zero).
/// Requests that match no route are counted under `unmatched`.
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

const UNMATCHED: &str = "unmatched";

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A latency histogram with fixed buckets, updated without locks.
#[derive(Debug, Default)]
struct Histogram {
    /// Count per bucket (not cumulative; summed when rendered).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(index) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[index].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct RouteMetrics {
    statuses: Mutex<BTreeMap<u16, u64>>,
    latency: Histogram,
}

impl RouteMetrics {
    fn record(&self, status: u16, elapsed: Duration) {
        if let Ok(mut statuses) = self.statuses.lock() {
            *statuses.entry(status).or_default() += 1;
        }
        self.latency.observe(elapsed);
    }
}

/// The API's own counters.
#[derive(Debug)]
pub struct ApiMetrics {
    routes: HashMap<&'static str, RouteMetrics>,
    /// WebSocket connections open now.
    pub ws_connections: AtomicU64,
    /// WebSocket clients disconnected for not keeping up.
    pub ws_slow_dropped: AtomicU64,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiMetrics {
    /// Metrics for [`ROUTES`], at zero.
    pub fn new() -> Self {
        let routes = ROUTES
            .iter()
            .chain(std::iter::once(&UNMATCHED))
            .map(|route| (*route, RouteMetrics::default()))
            .collect();
        ApiMetrics {
            routes,
            ws_connections: AtomicU64::new(0),
            ws_slow_dropped: AtomicU64::new(0),
        }
    }

    /// The metrics of a route template; requests that match no route count as `unmatched`.
    fn route(&self, template: Option<&str>) -> &RouteMetrics {
        template
            .and_then(|template| self.routes.get(template))
            .or_else(|| self.routes.get(UNMATCHED))
            .expect("the unmatched route is always registered")
    }

    /// Requests answered so far on `route` with `status`.
    pub fn requests(&self, route: &str, status: u16) -> u64 {
        self.routes
            .get(route)
            .and_then(|metrics| metrics.statuses.lock().ok()?.get(&status).copied())
            .unwrap_or(0)
    }

    fn render(&self, out: &mut String) {
        family(
            out,
            "dex_api_requests_total",
            "counter",
            "API requests answered, by route and status.",
        );
        let mut routes: Vec<_> = self.routes.iter().collect();
        routes.sort_by_key(|(route, _)| *route);
        for (route, metrics) in &routes {
            let statuses = metrics
                .statuses
                .lock()
                .map(|statuses| statuses.clone())
                .unwrap_or_default();
            for (status, count) in statuses {
                let _ = writeln!(
                    out,
                    "dex_api_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
        family(
            out,
            "dex_api_request_duration_seconds",
            "histogram",
            "Time to answer API requests, by route.",
        );
        for (route, metrics) in &routes {
            let route = escape(route);
            let histogram = &metrics.latency;
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS.iter().zip(&histogram.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "dex_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = histogram.count.load(Ordering::Relaxed);
            let sum = histogram.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "dex_api_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "dex_api_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
            );
            let _ = writeln!(
                out,
                "dex_api_request_duration_seconds_count{{route=\"{route}\"}} {count}"
            );
        }
        gauge(
            out,
            "dex_api_ws_connections",
            "WebSocket connections open.",
            self.ws_connections.load(Ordering::Relaxed),
        );
        counter(
            out,
            "dex_api_ws_slow_dropped_total",
            "WebSocket clients disconnected for not reading fast enough.",
            self.ws_slow_dropped.load(Ordering::Relaxed),
        );
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    family(out, name, "counter", help);
    let _ = writeln!(out, "{name} {value}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    family(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// Escapes a label value (backslash, quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Counts and times every request by its route template, and answers `timeout` problems for
/// requests that take longer than the configured limit.
pub(crate) async fn observe(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    // Looked up before the request moves on, so counting it allocates nothing.
    let metrics = state.metrics().route(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let limit = state.config().request_timeout;
    let response = match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout {
            millis: limit.as_millis(),
        }
        .into_response(),
    };
    metrics.record(response.status().as_u16(), started.elapsed());
    response
}

/// The whole exposition: API, node, network, peers, books.
pub(crate) async fn render(state: &ApiState) -> String {
    let mut out = String::with_capacity(16 * 1024);
    state.metrics().render(&mut out);
    let node = state.node();
    for (name, value) in node.metrics().snapshot() {
        counter(
            &mut out,
            &format!("dex_node_{name}_total"),
            &format!("Node counter {name}, since start."),
            value,
        );
    }
    let network = node.network().metrics();
    for (name, value) in network.snapshot() {
        counter(
            &mut out,
            &format!("dex_network_{name}_total"),
            &format!("Network counter {name}, since start."),
            value,
        );
    }
    gauge(
        &mut out,
        "dex_network_reachable",
        "1 if AutoNAT confirmed this node publicly reachable, else 0 (reached through relays, or not known yet).",
        u64::from(network.is_reachable()),
    );
    family(
        &mut out,
        "dex_connections",
        "gauge",
        "Open connections by kind: direct, or relayed through a circuit.",
    );
    let open = network.open_connections();
    for (kind, value) in [("direct", open.direct), ("relayed", open.relayed)] {
        let _ = writeln!(out, "dex_connections{{kind=\"{kind}\"}} {value}");
    }
    if let Ok(peers) = node.network().peers(None).await {
        gauge(
            &mut out,
            "dex_peers",
            "Connected peers.",
            peers.connected.len() as u64,
        );
        gauge(
            &mut out,
            "dex_peers_relayed",
            "Connected peers reached only through a relay (no direct connection).",
            peers.relayed.len() as u64,
        );
    }
    family(
        &mut out,
        "dex_book_orders",
        "gauge",
        "Orders held per market: visible (offered), suspended (maker silent), tombstones (closed, remembered until expiry).",
    );
    let mut markets: Vec<_> = state.context().markets.iter().collect();
    markets.sort_by_key(|market| market.symbol().to_owned());
    for market in markets {
        if let Ok(stats) = node.stats(market.id()).await {
            let symbol = escape(market.symbol());
            for (kind, value) in [
                ("visible", stats.visible),
                ("suspended", stats.suspended),
                ("tombstones", stats.tombstones),
            ] {
                let _ = writeln!(
                    out,
                    "dex_book_orders{{market=\"{symbol}\",state=\"{kind}\"}} {value}"
                );
            }
        }
    }
    out
}
