//! Reads `/metrics` with an OpenMetrics parser (dex-test-utils' `metrics`).

pub(crate) use dex_test_utils::metrics::Scrape;

/// Parses an exposition; panics when it is not valid OpenMetrics.
pub(crate) fn parse(text: &str) -> Scrape {
    Scrape::parse(text).unwrap_or_else(|err| panic!("{err}"))
}

/// The label pairs of a selector such as `route="/v1/orders",status="201"`.
fn pairs(labels: &str) -> Vec<(&str, &str)> {
    labels
        .split("\",")
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key, value.trim_matches('"')))
        })
        .collect()
}

/// A metric's value, summed over the series whose labels include `labels`
/// (`key="value",...`).
pub(crate) fn value(scrape: &Scrape, name: &str, labels: &str) -> f64 {
    scrape.value(name, &pairs(labels))
}
