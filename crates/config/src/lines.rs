//! The line of a key in a TOML text, so that errors point at it.

use toml::{Spanned, de::DeValue};

/// The line (from 1) where the key at `path` (`["settlement", "chains", "0", "htlc"]`) is
/// written in `text`, or `None` when it is not there (it came from another source) or
/// the text does not parse.
pub(crate) fn line_of(text: &str, path: &[String]) -> Option<usize> {
    let document = toml::de::DeTable::parse(text).ok()?;
    let mut table = document.get_ref();
    let mut segments = path.iter().peekable();
    while let Some(segment) = segments.next() {
        let (key, value) = table
            .iter()
            .find(|(key, _)| key.get_ref().as_ref() == segment.as_str())?;
        let Some(next) = segments.peek() else {
            return Some(line(text, key));
        };
        let mut value: &Spanned<DeValue<'_>> = value;
        if let DeValue::Array(items) = value.get_ref() {
            let index: usize = next.parse().ok()?;
            segments.next();
            value = items.get(index)?;
            if segments.peek().is_none() {
                return Some(line(text, value));
            }
        }
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            _ => return Some(line(text, value)),
        }
    }
    None
}

fn line<T>(text: &str, spanned: &Spanned<T>) -> usize {
    let start = spanned.span().start.min(text.len());
    text.as_bytes()[..start]
        .iter()
        .filter(|byte| **byte == b'\n')
        .count()
        + 1
}
