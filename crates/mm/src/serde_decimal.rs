//! Decimals in configuration files: strings (`"12.5"`) or integers (`10`), read exactly.
//!
//! Floating-point numbers are refused: TOML and JSON parsers turn `0.1` into the nearest
//! binary float before we see it, which is exactly the silent rounding p2pdex avoids at its
//! edges. Writing fractional values as strings keeps them exact.

use std::fmt;

use dex_primitives::Decimal;
use serde::{Deserializer, Serializer, de};

/// Serializes as a string, the form that round-trips exactly.
pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Accepts a plain decimal string or an integer.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    deserializer.deserialize_any(DecimalVisitor)
}

struct DecimalVisitor;

impl de::Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a decimal number as a string (\"12.5\") or an integer")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Decimal, E> {
        parse(text).ok_or_else(|| {
            E::custom(format_args!(
                "{:?} is not a plain decimal number such as \"12.5\" (at most 28 digits)",
                text.chars().take(100).collect::<String>()
            ))
        })
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Decimal, E> {
        Err(E::custom(format_args!(
            "{value} is a floating-point number, which is not read exactly; write it as a \
             string, e.g. \"{value}\""
        )))
    }
}

/// Optional decimals: absent means `None`.
pub mod option {
    use super::*;

    /// Serializes `Some` as a string; `None` is skipped by the field attribute.
    pub fn serialize<S: Serializer>(
        value: &Option<Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.collect_str(value),
            None => serializer.serialize_none(),
        }
    }

    /// Accepts what [`super::deserialize`] accepts.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Decimal>, D::Error> {
        super::deserialize(deserializer).map(Some)
    }
}

/// Optional `-`, digits, optional `.` and digits: no exponents, spaces, `+` or `_`.
fn parse(text: &str) -> Option<Decimal> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((int_part, frac_part)) => (int_part, Some(frac_part)),
        None => (digits, None),
    };
    let plain = !int_part.is_empty()
        && int_part.bytes().all(|b| b.is_ascii_digit())
        && frac_part
            .is_none_or(|frac| !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()));
    if !plain {
        return None;
    }
    // from_str_exact refuses (instead of rounding) values with more than 28 digits.
    Decimal::from_str_exact(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_decimals_parse() {
        assert_eq!(parse("12.5"), Some(Decimal::new(125, 1)));
        assert_eq!(parse("-3"), Some(Decimal::from(-3)));
        for bad in ["", "1e3", " 1", "1.", ".5", "+1", "1_000", "0x10", "1.2.3"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(parse("0.12345678901234567890123456789"), None);
    }
}
