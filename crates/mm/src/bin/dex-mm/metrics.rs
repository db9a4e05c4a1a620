//! The bot's Prometheus metrics: prometheus-client families in one registry, served on
//! `GET /metrics` (OpenMetrics text) by axum on a thread of its own when `[metrics] listen`
//! is set.

use std::{
    net::{SocketAddr, TcpListener},
    sync::{Arc, atomic::AtomicU64},
};

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

/// The content type of the exposition.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A gauge of a fractional value.
type FloatGauge = Gauge<f64, AtomicU64>;

/// One label with a static value.
type Labels = [(&'static str, &'static str); 1];

/// Counters and gauges, updated by the bot loop.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    pub(crate) refreshes: Counter,
    pub(crate) orders_placed: Counter,
    pub(crate) orders_cancelled: Counter,
    pub(crate) api_errors: Counter,
    pub(crate) price_failures: Counter,
    pub(crate) fills: Counter,
    halts: Family<Labels, Counter>,
    quoting: Gauge,
    /// NaN until a price was fetched.
    reference_price: FloatGauge,
    /// NaN until a price was fetched.
    price_age_seconds: FloatGauge,
    live_orders: Family<Labels, Gauge>,
    inventory: Family<Labels, FloatGauge>,
    last_refresh_seconds: FloatGauge,
}

/// Why quoting stopped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Halt {
    /// Price too old or missing, balances unknown, inputs the strategy refuses.
    Inputs,
    /// Too many API errors in a row.
    Api,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every family registered, at zero (the price gauges at NaN: not known yet).
    pub(crate) fn new() -> Self {
        let mut metrics = Metrics {
            registry: Registry::default(),
            refreshes: Counter::default(),
            orders_placed: Counter::default(),
            orders_cancelled: Counter::default(),
            api_errors: Counter::default(),
            price_failures: Counter::default(),
            fills: Counter::default(),
            halts: Family::default(),
            quoting: Gauge::default(),
            reference_price: FloatGauge::default(),
            price_age_seconds: FloatGauge::default(),
            live_orders: Family::default(),
            inventory: Family::default(),
            last_refresh_seconds: FloatGauge::default(),
        };
        metrics.reference_price.set(f64::NAN);
        metrics.price_age_seconds.set(f64::NAN);
        for cause in ["inputs", "api"] {
            drop(metrics.halts.get_or_create(&[("cause", cause)]));
        }
        metrics.set_live_orders(0, 0);
        metrics.set_inventory(0.0, 0.0);
        let registry = &mut metrics.registry;
        let counters = [
            (
                "dex_mm_refreshes",
                "Refreshes run (price, orders, decision).",
                &metrics.refreshes,
            ),
            (
                "dex_mm_orders_placed",
                "Orders placed.",
                &metrics.orders_placed,
            ),
            (
                "dex_mm_orders_cancelled",
                "Orders cancelled.",
                &metrics.orders_cancelled,
            ),
            (
                "dex_mm_api_errors",
                "Failed calls to the node's API.",
                &metrics.api_errors,
            ),
            (
                "dex_mm_price_failures",
                "Failed price fetches.",
                &metrics.price_failures,
            ),
            (
                "dex_mm_fills",
                "Swaps of the bot's orders that completed.",
                &metrics.fills,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "dex_mm_halts",
            "Times quoting stopped and every order was cancelled, by cause: inputs (price too \
             old or missing, balances unknown, inputs the strategy refuses) or api (too many \
             API errors in a row).",
            metrics.halts.clone(),
        );
        registry.register(
            "dex_mm_quoting",
            "1 while the bot quotes, 0 while it is halted.",
            metrics.quoting.clone(),
        );
        registry.register(
            "dex_mm_reference_price",
            "The last reference price fetched (NaN before the first).",
            metrics.reference_price.clone(),
        );
        registry.register(
            "dex_mm_price_age_seconds",
            "Age of the reference price at the last refresh (NaN before the first price).",
            metrics.price_age_seconds.clone(),
        );
        registry.register(
            "dex_mm_live_orders",
            "The bot's open orders after the last refresh, by side.",
            metrics.live_orders.clone(),
        );
        registry.register(
            "dex_mm_inventory",
            "What the bot holds (start capital moved by its settled swaps), by asset.",
            metrics.inventory.clone(),
        );
        registry.register(
            "dex_mm_last_refresh_seconds",
            "Wall time of the last refresh, including the orders it placed and cancelled.",
            metrics.last_refresh_seconds.clone(),
        );
        metrics
    }

    /// Counts a refresh that took `seconds`.
    pub(crate) fn refreshed(&self, seconds: f64) {
        self.refreshes.inc();
        self.last_refresh_seconds.set(seconds);
    }

    /// Counts a halt.
    pub(crate) fn halted(&self, cause: Halt) {
        let cause = match cause {
            Halt::Inputs => "inputs",
            Halt::Api => "api",
        };
        self.halts.get_or_create(&[("cause", cause)]).inc();
    }

    /// Whether the bot quotes now.
    pub(crate) fn set_quoting(&self, quoting: bool) {
        self.quoting.set(i64::from(quoting));
    }

    /// The last reference price fetched.
    pub(crate) fn set_reference_price(&self, price: f64) {
        self.reference_price.set(price);
    }

    /// The age of the reference price now.
    pub(crate) fn set_price_age(&self, seconds: f64) {
        self.price_age_seconds.set(seconds);
    }

    /// The bot's open orders by side.
    pub(crate) fn set_live_orders(&self, bids: u64, asks: u64) {
        for (side, count) in [("buy", bids), ("sell", asks)] {
            self.live_orders
                .get_or_create(&[("side", side)])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// What the bot holds.
    pub(crate) fn set_inventory(&self, base: f64, quote: f64) {
        for (asset, value) in [("base", base), ("quote", quote)] {
            self.inventory.get_or_create(&[("asset", asset)]).set(value);
        }
    }

    /// The exposition.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The metrics server: `GET /metrics`, 404 for anything else.
fn router(metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(metrics)
}

async fn scrape(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.render())
}

/// Binds `address` and serves the metrics with axum on a thread of its own (a
/// single-threaded tokio runtime: the bot itself is blocking); returns the bound address.
pub(crate) fn serve(address: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    // Bound here, so a taken port fails the start instead of a thread.
    let listener = TcpListener::bind(address)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(err) => {
                        tracing::warn!(%err, "metrics server cannot start");
                        return;
                    }
                };
                if let Err(err) = axum::serve(listener, router(metrics)).await {
                    tracing::warn!(%err, "metrics server stopped");
                }
            });
        })?;
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use dex_test_utils::metrics::Scrape;

    use super::*;

    /// The one series of `name` with `labels`.
    fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
        match scrape.series(name, labels).as_slice() {
            [value] => *value,
            other => panic!("{name} {labels:?}: {other:?}"),
        }
    }

    #[test]
    fn the_endpoint_serves_the_values() {
        let metrics = Arc::new(Metrics::new());
        metrics.orders_placed.inc_by(6);
        metrics.set_quoting(true);
        metrics.set_reference_price(2500.5);
        metrics.set_live_orders(3, 2);
        metrics.halted(Halt::Inputs);
        let address = serve("127.0.0.1:0".parse().unwrap(), metrics.clone()).unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut response = agent
            .get(&format!("http://{address}/metrics"))
            .call()
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|value| value.to_str().ok()),
            Some(CONTENT_TYPE)
        );
        let text = response.body_mut().read_to_string().unwrap();
        let scrape = Scrape::parse(&text).unwrap();
        assert_eq!(value(&scrape, "dex_mm_orders_placed_total", &[]), 6.0);
        assert_eq!(value(&scrape, "dex_mm_quoting", &[]), 1.0);
        assert_eq!(value(&scrape, "dex_mm_reference_price", &[]), 2500.5);
        assert!(value(&scrape, "dex_mm_price_age_seconds", &[]).is_nan());
        assert_eq!(
            value(&scrape, "dex_mm_halts_total", &[("cause", "inputs")]),
            1.0
        );
        assert_eq!(
            value(&scrape, "dex_mm_halts_total", &[("cause", "api")]),
            0.0
        );
        assert_eq!(
            value(&scrape, "dex_mm_live_orders", &[("side", "buy")]),
            3.0
        );
        assert_eq!(
            value(&scrape, "dex_mm_live_orders", &[("side", "sell")]),
            2.0
        );
        let other = agent.get(&format!("http://{address}/")).call().unwrap();
        assert_eq!(other.status(), 404);
    }
}
