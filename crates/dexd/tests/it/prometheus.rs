//! A strict reader of the Prometheus text format (0.0.4), enough to check `/metrics`.

/// One sample line.
#[derive(Debug)]
pub(crate) struct Sample {
    pub(crate) name: String,
    /// The raw label text between the braces (`route="/v1/health",status="200"`).
    pub(crate) labels: String,
    pub(crate) value: f64,
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses the exposition: `# HELP`/`# TYPE` lines with valid names and types, each family's
/// TYPE before its samples, samples `name{labels} value` with well-formed labels.
pub(crate) fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    let mut typed = std::collections::HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let fail = |why: &str| Err(format!("line {}: {why}: {line:?}", number + 1));
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (keyword, name, tail) = (parts.next(), parts.next(), parts.next());
            match (keyword, name) {
                (Some("HELP"), Some(name)) if valid_name(name) => {}
                (Some("TYPE"), Some(name)) if valid_name(name) => {
                    let kind = tail.unwrap_or_default();
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return fail("unknown type");
                    }
                    if typed.insert(name.to_owned(), kind.to_owned()).is_some() {
                        return fail("family typed twice");
                    }
                }
                _ => return fail("bad comment"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or("no value")?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other
                .parse()
                .map_err(|_| format!("line {}: bad value", number + 1))?,
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let Some(labels) = rest.strip_suffix('}') else {
                    return fail("unclosed labels");
                };
                for pair in labels.split("\",").filter(|pair| !pair.is_empty()) {
                    let Some((key, quoted)) = pair.split_once("=\"") else {
                        return fail("bad label");
                    };
                    if !valid_name(key) || quoted.contains('\n') {
                        return fail("bad label");
                    }
                }
                (name, labels)
            }
            None => (series, ""),
        };
        if !valid_name(name) {
            return fail("bad metric name");
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .filter(|base| typed.get(*base).is_some_and(|kind| kind == "histogram"))
            .unwrap_or(name);
        if !typed.contains_key(family) {
            return fail("sample before its TYPE");
        }
        samples.push(Sample {
            name: name.to_owned(),
            labels: labels.to_owned(),
            value,
        });
    }
    Ok(samples)
}
