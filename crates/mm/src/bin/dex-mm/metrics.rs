//! The bot's Prometheus metrics (text format 0.0.4), served on `GET /metrics` by a small
//! thread when `[metrics] listen` is set.

use std::{
    fmt::Write as _,
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{Arc, Mutex},
    time::Duration,
};

/// Counters and gauges, updated by the bot loop.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    inner: Mutex<Values>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Values {
    pub(crate) refreshes: u64,
    pub(crate) orders_placed: u64,
    pub(crate) orders_cancelled: u64,
    pub(crate) api_errors: u64,
    pub(crate) price_failures: u64,
    pub(crate) halts_inputs: u64,
    pub(crate) halts_api: u64,
    pub(crate) fills: u64,
    pub(crate) quoting: bool,
    pub(crate) reference_price: Option<f64>,
    pub(crate) price_age_seconds: Option<f64>,
    pub(crate) live_bids: u64,
    pub(crate) live_asks: u64,
    pub(crate) inventory_base: f64,
    pub(crate) inventory_quote: f64,
    pub(crate) last_refresh_seconds: f64,
}

impl Metrics {
    /// Changes the values.
    pub(crate) fn update(&self, change: impl FnOnce(&mut Values)) {
        let mut values = self
            .inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        change(&mut values);
    }

    /// The text exposition.
    pub(crate) fn render(&self) -> String {
        let values = self
            .inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, f64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let count = |value: u64| value as f64;
        metric(
            "dex_mm_refreshes_total",
            "counter",
            "Refreshes run (price, orders, decision).",
            &[("", count(values.refreshes))],
        );
        metric(
            "dex_mm_orders_placed_total",
            "counter",
            "Orders placed.",
            &[("", count(values.orders_placed))],
        );
        metric(
            "dex_mm_orders_cancelled_total",
            "counter",
            "Orders cancelled.",
            &[("", count(values.orders_cancelled))],
        );
        metric(
            "dex_mm_api_errors_total",
            "counter",
            "Failed calls to the node's API.",
            &[("", count(values.api_errors))],
        );
        metric(
            "dex_mm_price_failures_total",
            "counter",
            "Failed price fetches.",
            &[("", count(values.price_failures))],
        );
        metric(
            "dex_mm_halts_total",
            "counter",
            "Times quoting stopped and every order was cancelled, by cause: inputs (price too \
             old or missing, balances unknown, inputs the strategy refuses) or api (too many \
             API errors in a row).",
            &[
                ("{cause=\"inputs\"}", count(values.halts_inputs)),
                ("{cause=\"api\"}", count(values.halts_api)),
            ],
        );
        metric(
            "dex_mm_fills_total",
            "counter",
            "Swaps of the bot's orders that completed.",
            &[("", count(values.fills))],
        );
        metric(
            "dex_mm_quoting",
            "gauge",
            "1 while the bot quotes, 0 while it is halted.",
            &[("", if values.quoting { 1.0 } else { 0.0 })],
        );
        if let Some(price) = values.reference_price {
            metric(
                "dex_mm_reference_price",
                "gauge",
                "The last reference price fetched.",
                &[("", price)],
            );
        }
        if let Some(age) = values.price_age_seconds {
            metric(
                "dex_mm_price_age_seconds",
                "gauge",
                "Age of the reference price at the last refresh.",
                &[("", age)],
            );
        }
        metric(
            "dex_mm_live_orders",
            "gauge",
            "The bot's open orders after the last refresh, by side.",
            &[
                ("{side=\"buy\"}", count(values.live_bids)),
                ("{side=\"sell\"}", count(values.live_asks)),
            ],
        );
        metric(
            "dex_mm_inventory",
            "gauge",
            "What the bot holds (start capital moved by its settled swaps), by asset.",
            &[
                ("{asset=\"base\"}", values.inventory_base),
                ("{asset=\"quote\"}", values.inventory_quote),
            ],
        );
        metric(
            "dex_mm_last_refresh_seconds",
            "gauge",
            "Wall time of the last refresh, including the orders it placed and cancelled.",
            &[("", values.last_refresh_seconds)],
        );
        out
    }
}

/// Binds `address` and serves the metrics from a thread; returns the bound address.
pub(crate) fn serve(address: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(address)?;
    let bound = listener.local_addr()?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                // One scrape at a time is plenty; a slow client cannot hold it for long.
                let _ = answer(stream, &metrics);
            }
        })?;
    Ok(bound)
}

fn answer(stream: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (status, content_type, body) = match (parts.next(), parts.next()) {
        (Some("GET"), Some("/metrics")) => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
        ),
        _ => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "only GET /metrics is served here\n".to_owned(),
        ),
    };
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_serves_the_values() {
        let metrics = Arc::new(Metrics::default());
        metrics.update(|values| {
            values.orders_placed = 6;
            values.quoting = true;
            values.reference_price = Some(2500.5);
        });
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
        let text = response.body_mut().read_to_string().unwrap();
        assert!(text.contains("dex_mm_orders_placed_total 6\n"), "{text}");
        assert!(text.contains("dex_mm_quoting 1\n"), "{text}");
        assert!(text.contains("dex_mm_reference_price 2500.5\n"), "{text}");
        assert!(
            text.contains("dex_mm_halts_total{cause=\"api\"} 0\n"),
            "{text}"
        );
        let other = agent.get(&format!("http://{address}/")).call().unwrap();
        assert_eq!(other.status(), 404);
    }
}
