//! Reads a `/metrics` exposition (OpenMetrics text, as prometheus-client encodes it) with an
//! OpenMetrics parser, so tests check what a Prometheus server would read.

use openmetrics_parser::{
    MetricFamily, MetricsExposition, OpenMetricsType, OpenMetricsValue,
    openmetrics::parse_openmetrics,
};

/// A parsed exposition.
#[derive(Debug)]
pub struct Scrape(MetricsExposition<OpenMetricsType, OpenMetricsValue>);

/// Which number of a sample a sample name asks for.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// A counter's or gauge's value.
    Value,
    /// A histogram's count.
    Count,
    /// A histogram's sum.
    Sum,
}

type Family = MetricFamily<OpenMetricsType, OpenMetricsValue>;

impl Scrape {
    /// Parses `text`; `Err` with the parser's complaint when it is not valid OpenMetrics.
    ///
    /// Two kinds of metadata that OpenMetrics allows but openmetrics-parser 0.5 refuses are
    /// left out first: families without samples (libp2p-metrics' collectors write them
    /// before any peer is known; the parser takes the next family's lines for theirs), and
    /// `# UNIT` lines (refused on histograms, such as libp2p's connection durations; the
    /// unit stays in the family's name).
    pub fn parse(text: &str) -> Result<Scrape, String> {
        parse_openmetrics(&parseable(text))
            .map(Scrape)
            .map_err(|err| format!("not valid OpenMetrics ({err}):\n{text}"))
    }

    /// Whether the exposition has the family `name` (`dex_api_requests`, not `..._total`).
    pub fn has_family(&self, name: &str) -> bool {
        self.0.families.contains_key(name)
    }

    /// The family a sample name belongs to, and which number of its samples it names.
    fn family(&self, name: &str) -> Option<(&Family, Part)> {
        let families = &self.0.families;
        if let Some(family) = families.get(name) {
            return Some((family, Part::Value));
        }
        [
            ("_total", Part::Value),
            ("_count", Part::Count),
            ("_sum", Part::Sum),
        ]
        .into_iter()
        .find_map(|(suffix, part)| {
            let family = families.get(name.strip_suffix(suffix)?)?;
            Some((family, part))
        })
    }

    /// The values of the series of sample `name` that carry every label of `labels`:
    /// `name` as Prometheus shows it (a counter's `<family>_total`, a gauge's `<family>`, a
    /// histogram's `<family>_count` or `<family>_sum`). Empty when there is none.
    pub fn series(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        let Some((family, part)) = self.family(name) else {
            return Vec::new();
        };
        family
            .iter_samples()
            .filter(|sample| {
                sample.get_labelset().is_ok_and(|set| {
                    labels
                        .iter()
                        .all(|(key, value)| set.get_label_value(key) == Some(*value))
                })
            })
            .map(|sample| match (&sample.value, part) {
                (OpenMetricsValue::Counter(counter), Part::Value) => counter.value.as_f64(),
                (
                    OpenMetricsValue::Gauge(value) | OpenMetricsValue::Unknown(value),
                    Part::Value,
                ) => value.as_f64(),
                (OpenMetricsValue::Histogram(histogram), Part::Count) => {
                    histogram.count.unwrap_or(0) as f64
                }
                (OpenMetricsValue::Histogram(histogram), Part::Sum) => {
                    histogram.sum.as_ref().map_or(0.0, |sum| sum.as_f64())
                }
                (other, part) => panic!("{name}: no {part:?} in {other:?}"),
            })
            .collect()
    }

    /// The sum of [`Scrape::series`] (0 when there is none).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.series(name, labels).iter().sum()
    }
}

/// `text` without `# UNIT` lines and the metadata lines of families that have no sample.
fn parseable(text: &str) -> String {
    const SUFFIXES: [&str; 6] = ["", "_total", "_bucket", "_count", "_sum", "_created"];
    let sampled: std::collections::HashSet<&str> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .collect();
    let mut kept = String::with_capacity(text.len());
    for line in text.lines() {
        let family = ["# HELP ", "# TYPE "]
            .iter()
            .find_map(|prefix| line.strip_prefix(prefix))
            .and_then(|rest| rest.split(' ').next());
        let empty = family.is_some_and(|family| {
            !SUFFIXES
                .iter()
                .any(|suffix| sampled.contains(format!("{family}{suffix}").as_str()))
        });
        if !empty && !line.starts_with("# UNIT ") {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}
