//! Reads a `/metrics` exposition (OpenMetrics text, as prometheus-client encodes it) with a
//! strict parser of the OpenMetrics text format, so tests check what a Prometheus server
//! would read: every sample belongs to a family declared before it by `# TYPE`, with a
//! name its type allows; a family's lines are together; label values are quoted and
//! escaped (they may hold `{`, `}`, `,` or `=`, as routes such as `/v1/orders/{id}` do);
//! values are numbers; the exposition ends with `# EOF`.

use std::collections::{HashMap, HashSet};

/// A parsed exposition.
#[derive(Debug, Default)]
pub struct Scrape {
    /// Each family's type by its name (`dex_api_requests`, without `_total`).
    families: HashMap<String, Kind>,
    samples: Vec<Sample>,
}

/// A family's type (OpenMetrics `# TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl Kind {
    fn parse(text: &str) -> Option<Kind> {
        Some(match text {
            "counter" => Kind::Counter,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "gaugehistogram" => Kind::GaugeHistogram,
            "summary" => Kind::Summary,
            "info" => Kind::Info,
            "stateset" => Kind::StateSet,
            "unknown" => Kind::Unknown,
            _ => return None,
        })
    }

    /// The sample name suffixes a family of this type may have.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Kind::Counter => &["_total", "_created"],
            Kind::Gauge | Kind::StateSet | Kind::Unknown => &[""],
            Kind::Histogram => &["_bucket", "_count", "_sum", "_created"],
            Kind::GaugeHistogram => &["_bucket", "_gcount", "_gsum"],
            Kind::Summary => &["", "_count", "_sum", "_created"],
            Kind::Info => &["_info"],
        }
    }
}

/// One sample line.
#[derive(Debug)]
struct Sample {
    /// The sample's full name (`dex_api_requests_total`).
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Scrape {
    /// Parses `text`; `Err` naming the first line that is not valid OpenMetrics.
    pub fn parse(text: &str) -> Result<Scrape, String> {
        parse(text).map_err(|(number, why)| {
            format!("not valid OpenMetrics (line {number}: {why}):\n{text}")
        })
    }

    /// Whether the exposition has the family `name` (`dex_api_requests`, not `..._total`).
    pub fn has_family(&self, name: &str) -> bool {
        self.families.contains_key(name)
    }

    /// The values of the series of sample `name` that carry every label of `labels`:
    /// `name` as Prometheus shows it (a counter's `<family>_total`, a gauge's `<family>`, a
    /// histogram's `<family>_count` or `<family>_sum`). Empty when there is none.
    pub fn series(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|sample| sample.name == name)
            .filter(|sample| {
                labels.iter().all(|(key, value)| {
                    sample
                        .labels
                        .iter()
                        .any(|(have_key, have_value)| have_key == key && have_value == value)
                })
            })
            .map(|sample| sample.value)
            .collect()
    }

    /// The sum of [`Scrape::series`] (0 when there is none).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.series(name, labels).iter().sum()
    }
}

/// The parse, or the 1-based number of the first bad line and what is wrong with it.
fn parse(text: &str) -> Result<Scrape, (usize, String)> {
    let mut scrape = Scrape::default();
    // The family whose lines come now; families whose lines are over.
    let mut current: Option<String> = None;
    let mut closed: HashSet<String> = HashSet::new();
    let mut ended = false;
    for (index, line) in text.split_terminator('\n').enumerate() {
        let number = index + 1;
        let fail = |why: String| Err((number, why));
        if ended {
            return fail("a line after # EOF".into());
        }
        if line == "# EOF" {
            ended = true;
            continue;
        }
        let family = if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (keyword, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let rest = parts.next();
            check_name(name).map_err(|why| (number, why))?;
            match keyword {
                "TYPE" => {
                    let Some(kind) = rest.and_then(Kind::parse) else {
                        return fail(format!("unknown type {rest:?}"));
                    };
                    if scrape.families.insert(name.to_owned(), kind).is_some() {
                        return fail(format!("a second # TYPE of {name}"));
                    }
                }
                "HELP" | "UNIT" => {
                    if rest.is_none() {
                        return fail(format!("# {keyword} without text"));
                    }
                }
                _ => return fail(format!("unknown metadata # {keyword}")),
            }
            name.to_owned()
        } else {
            let sample = parse_sample(line).map_err(|why| (number, why))?;
            let Some(family) = family_of(&scrape.families, &sample.name) else {
                return fail(format!(
                    "sample {} of no family declared before it with a type allowing that name",
                    sample.name
                ));
            };
            if scrape.families.get(&family) == Some(&Kind::Histogram)
                && sample.name.ends_with("_bucket")
                && !sample.labels.iter().any(|(key, _)| key == "le")
            {
                return fail(format!("bucket of {family} without le"));
            }
            scrape.samples.push(sample);
            family
        };
        if current.as_deref() != Some(family.as_str()) {
            if closed.contains(&family) {
                return fail(format!("the lines of {family} are not together"));
            }
            if let Some(previous) = current.replace(family) {
                closed.insert(previous);
            }
        }
    }
    if !ended {
        return Err((text.lines().count(), "no # EOF at the end".into()));
    }
    Ok(scrape)
}

/// The declared family a sample name belongs to: the family whose type allows the name's
/// suffix (the longest family name, so `a_total` of counter `a` beats gauge `a_total`).
fn family_of(families: &HashMap<String, Kind>, name: &str) -> Option<String> {
    families
        .iter()
        .filter(|(family, kind)| {
            kind.suffixes().iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|stem| stem == family.as_str())
            })
        })
        .max_by_key(|(family, _)| family.len())
        .map(|(family, _)| family.clone())
}

fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':');
    if first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

/// `name{label="value",...} value [timestamp]`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("a sample without a value")?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels: Vec<(String, String)> = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("a label without =")?;
            let key = &rest[..eq];
            let key_ok = key
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !key_ok {
                return Err(format!("bad label name {key:?}"));
            }
            let (value, after) = quoted(&rest[eq + 1..])?;
            if labels.iter().any(|(have, _)| have == key) {
                return Err(format!("label {key} twice"));
            }
            labels.push((key.to_owned(), value));
            rest = match after.strip_prefix(',') {
                Some(next) if !next.starts_with('}') => next,
                Some(_) => return Err("a comma before }".into()),
                None if after.starts_with('}') => after,
                None => return Err("labels not separated by a comma".into()),
            };
        }
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut fields = rest.split(' ');
    let value = fields.next().ok_or("no value")?;
    let value = number(value).ok_or_else(|| format!("bad value {value:?}"))?;
    if let Some(timestamp) = fields.next()
        && timestamp != "#"
        && number(timestamp).is_none()
    {
        return Err(format!("bad timestamp {timestamp:?}"));
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// A quoted, escaped label value at the start of `text`, and what follows it.
fn quoted(text: &str) -> Result<(String, &str), String> {
    let inner = text.strip_prefix('"').ok_or("a label value not quoted")?;
    let mut value = String::new();
    let mut chars = inner.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &inner[at + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, 'n')) => value.push('\n'),
                other => return Err(format!("bad escape {other:?} in a label value")),
            },
            '\n' => return Err("a newline in a label value".into()),
            c => value.push(c),
        }
    }
    Err("a label value without its closing quote".into())
}

/// An OpenMetrics number: a float, `NaN`, `+Inf` or `-Inf`.
fn number(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ if text.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') => None,
        _ => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"# HELP dex_api_requests Requests by route and status.
# TYPE dex_api_requests counter
dex_api_requests_total{route="/v1/orders/{id}",status="200"} 3
dex_api_requests_total{route="/v1/book",status="404"} 1
dex_api_requests_created{route="/v1/book",status="404"} 1700000000.5
# HELP dex_api_latency_seconds Latency.
# TYPE dex_api_latency_seconds histogram
# UNIT dex_api_latency_seconds seconds
dex_api_latency_seconds_sum{route="/v1/book"} 0.25
dex_api_latency_seconds_count{route="/v1/book"} 2
dex_api_latency_seconds_bucket{le="0.1",route="/v1/book"} 1
dex_api_latency_seconds_bucket{le="+Inf",route="/v1/book"} 2
# HELP libp2p_peers Peers.
# TYPE libp2p_peers gauge
# HELP dex_mm_reference_price Price.
# TYPE dex_mm_reference_price gauge
dex_mm_reference_price NaN
# TYPE odd gauge
odd{text="a \"quoted\" \\ back, {x=1}\nnext"} -1.5e3
# EOF
"#;

    #[test]
    fn reads_counters_histograms_gauges_and_escaped_labels() {
        let scrape = Scrape::parse(GOOD).unwrap();
        assert_eq!(scrape.value("dex_api_requests_total", &[]), 4.0);
        assert_eq!(
            scrape.series(
                "dex_api_requests_total",
                &[("route", "/v1/orders/{id}"), ("status", "200")]
            ),
            [3.0]
        );
        assert_eq!(
            scrape.value("dex_api_latency_seconds_count", &[("route", "/v1/book")]),
            2.0
        );
        assert_eq!(scrape.value("dex_api_latency_seconds_sum", &[]), 0.25);
        assert_eq!(
            scrape.value("dex_api_latency_seconds_bucket", &[("le", "+Inf")]),
            2.0
        );
        assert!(scrape.value("dex_mm_reference_price", &[]).is_nan());
        assert_eq!(
            scrape.series("odd", &[("text", "a \"quoted\" \\ back, {x=1}\nnext")]),
            [-1500.0]
        );
        assert!(scrape.has_family("libp2p_peers"));
        assert!(scrape.series("libp2p_peers", &[]).is_empty());
        assert!(!scrape.has_family("dex_api_requests_total"));
        assert!(
            scrape
                .series("dex_api_requests_total", &[("route", "nope")])
                .is_empty()
        );
    }

    /// Each case: the exposition with one fault, and the line the parser must name.
    #[test]
    fn refuses_what_a_prometheus_server_would_refuse() {
        let cases: &[(&str, &str)] = &[
            ("# TYPE a counter\na_total 1\n", "no # EOF"),
            (
                "# TYPE a counter\n# EOF\na_total 1\n",
                "line 3: a line after # EOF",
            ),
            ("a 1\n# EOF\n", "line 1: sample a of no family"),
            (
                "# TYPE a counter\na 1\n# EOF\n",
                "line 2: sample a of no family",
            ),
            (
                "# TYPE a gauge\na_total 1\n# EOF\n",
                "line 2: sample a_total of no family",
            ),
            (
                "# TYPE a counter\n# TYPE a counter\n# EOF\n",
                "line 2: a second # TYPE",
            ),
            ("# TYPE a countr\n# EOF\n", "line 1: unknown type"),
            ("# TYPE 1a gauge\n# EOF\n", "line 1: bad metric name"),
            (
                "# TYPE a gauge\na{x=\"1\"} one\n# EOF\n",
                "line 2: bad value",
            ),
            (
                "# TYPE a gauge\na{x=1} 1\n# EOF\n",
                "line 2: a label value not quoted",
            ),
            (
                "# TYPE a gauge\na{x=\"1} 1\n# EOF\n",
                "line 2: a label value without its closing quote",
            ),
            (
                "# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n# EOF\n",
                "line 2: label x twice",
            ),
            (
                "# TYPE a gauge\na{x=\"1\" y=\"2\"} 1\n# EOF\n",
                "line 2: labels not separated",
            ),
            (
                "# TYPE a gauge\na{x=\"\\t\"} 1\n# EOF\n",
                "line 2: bad escape",
            ),
            (
                "# TYPE a gauge\na{x=\"1\",} 1\n# EOF\n",
                "line 2: a comma before }",
            ),
            ("# TYPE a gauge\na 1 soon\n# EOF\n", "line 2: bad timestamp"),
            (
                "# TYPE h histogram\nh_bucket 1\n# EOF\n",
                "line 2: bucket of h without le",
            ),
            (
                "# TYPE a gauge\n# TYPE b gauge\na 1\n# EOF\n",
                "line 3: the lines of a are not together",
            ),
            (
                "# TYPE a gauge\n# NOTE a x\n# EOF\n",
                "line 2: unknown metadata # NOTE",
            ),
        ];
        for (text, expected) in cases {
            let err = Scrape::parse(text).expect_err(text);
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
