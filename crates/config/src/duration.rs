//! Durations in configuration files: strings with units, as `humantime` reads them —
//! `"250ms"`, `"2s"`, `"1m 30s"`, `"1.5s"`, `"2h"`, `"7d"`. A bare number is refused (its
//! unit would be a guess).
//!
//! Use it as a field attribute: `#[serde(with = "dex_config::duration")]` on a
//! [`Duration`], `dex_config::duration::option` on an `Option<Duration>`, and
//! `dex_config::duration::millis` on a `u64` of milliseconds that a pure core keeps.

use std::{fmt, time::Duration};

use serde::{Deserializer, Serializer, de};

/// The forms shown when a duration is refused.
const EXPECTED: &str = "a duration with a unit, such as \"250ms\", \"2s\" or \"1m 30s\"";

/// Parses `text` as a duration with units (`"250ms"`, `"1m 30s"`).
pub fn parse(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|err| format!("{text:?} is not {EXPECTED} ({err})"))
}

/// Formats `duration` the way [`parse`] reads it back (`"1m 30s"`, `"250ms"`).
pub fn format(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// Whole milliseconds of `duration`, saturating (what `_ms` settings of the cores take).
pub fn whole_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Serializes as a string [`parse`] reads back.
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_duration(*duration))
}

/// Reads a string with units; anything else is refused with the accepted forms.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

struct DurationVisitor;

impl de::Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(EXPECTED)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse(text).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Duration, E> {
        Err(E::custom(format_args!(
            "{value} has no unit: write {EXPECTED} (e.g. \"{value}ms\" or \"{value}s\")"
        )))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Duration, E> {
        match u64::try_from(value) {
            Ok(value) => self.visit_u64(value),
            Err(_) => Err(E::custom(format_args!("{value} is not {EXPECTED}"))),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Duration, E> {
        Err(E::custom(format_args!("{value} is not {EXPECTED}")))
    }
}

/// Optional durations: absent is `None`.
pub mod option {
    use super::*;

    /// Serializes `Some` as [`super::serialize`] does, `None` as none.
    pub fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => super::serialize(duration, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads what [`super::deserialize`] reads.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::deserialize(deserializer).map(Some)
    }
}

/// A `u64` of milliseconds written as a duration (`"10s"` is 10000); sub-millisecond parts
/// are refused rather than dropped.
pub mod millis {
    use super::*;

    /// Serializes as a duration string.
    pub fn serialize<S: Serializer>(millis: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        super::serialize(&Duration::from_millis(*millis), serializer)
    }

    /// Reads a duration and gives its milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        let duration = super::deserialize(deserializer)?;
        if duration.subsec_nanos() % 1_000_000 != 0 {
            return Err(de::Error::custom(format_args!(
                "{} is not a whole number of milliseconds",
                super::format(duration)
            )));
        }
        Ok(whole_millis(duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_read() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse(" 30s "), Ok(Duration::from_secs(30)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn numbers_without_units_and_unknown_units_are_refused() {
        for bad in ["30", "s", "1.5", "3 parsecs", "", "-1s", "5 fortnights"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("250ms"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        for millis in [0, 1, 250, 1000, 90_000, 3_600_000, 86_400_000 * 7 + 1] {
            let duration = Duration::from_millis(millis);
            assert_eq!(parse(&format(duration)), Ok(duration), "{millis}");
        }
        assert_eq!(format(Duration::from_secs(90)), "1m 30s");
        assert_eq!(whole_millis(Duration::MAX), u64::MAX);
    }
}
