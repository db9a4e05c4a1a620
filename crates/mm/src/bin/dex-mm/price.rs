//! Reference price sources: a fixed price, a JSON document over plain HTTP, or the mid of
//! another market's book on the node. Each fetch returns the price with the time it was
//! observed; the strategy treats a price older than `max_price_age_ms` as a failure.

use std::str::FromStr;

use dex_mm::ReferencePrice;
use dex_primitives::{Decimal, UnixMillis};
use serde_json::Value;

use crate::{
    node::NodeClient,
    settings::{PriceSettings, TimestampUnit},
};

/// Why no price was fetched.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PriceError {
    /// The HTTP request failed or was answered with an error status.
    #[error("price source {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The document has nothing usable at the pointer.
    #[error("price source {url}: {reason}")]
    Document {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The book of the reference market cannot give a mid.
    #[error("book-mid:{market}: {reason}")]
    Book {
        /// The reference market.
        market: String,
        /// What is missing.
        reason: String,
    },
}

/// Where the reference price comes from.
#[derive(Debug)]
pub(crate) enum PriceSource {
    /// `static:<price>`: always this price, observed now.
    Static(Decimal),
    /// `http://…#/pointer`: a JSON document and JSON pointers to the price and, optionally,
    /// to when it was observed.
    Http {
        /// The URL without the fragment.
        url: String,
        /// Pointer to the price (a number or a decimal string).
        price_pointer: String,
        /// Pointer to the observation time, and its unit.
        timestamp: Option<(String, TimestampUnit)>,
        /// The HTTP client (separate from the node's: another host and timeout).
        agent: ureq::Agent,
    },
    /// `book-mid:<market>`: halfway between the best bid and the best ask of another market
    /// on the node.
    BookMid {
        /// The reference market.
        market: String,
    },
}

/// Parses a decimal from a JSON number or string: plain (`"2500.5"`) or with an exponent
/// (`2.5e3`). A JSON number is read from its shortest text form, so `2500.1` is read as
/// 2500.1, not as the nearest binary float.
fn json_decimal(value: &Value) -> Option<Decimal> {
    let text = match value {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    Decimal::from_str_exact(&text)
        .ok()
        .or_else(|| Decimal::from_scientific(&text).ok())
}

/// Decodes `%XX` escapes of a URL fragment; `None` if one is malformed or not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn check_pointer(what: &str, pointer: &str) -> anyhow::Result<()> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        anyhow::bail!("{what} {pointer:?} is not a JSON pointer: it must start with '/'");
    }
    Ok(())
}

impl PriceSource {
    /// Parses `[price]`; `quoted` is the bot's market, which `book-mid` must not name (the
    /// bot would follow its own quotes).
    pub(crate) fn from_settings(
        settings: &PriceSettings,
        quoted: &str,
    ) -> anyhow::Result<PriceSource> {
        let source = settings.source.trim();
        if let Some(price) = source.strip_prefix("static:") {
            let price = Decimal::from_str_exact(price.trim())
                .map_err(|err| anyhow::anyhow!("static price {price:?}: {err}"))?;
            if price <= Decimal::ZERO {
                anyhow::bail!("static price {price} must be positive");
            }
            return Ok(PriceSource::Static(price));
        }
        if let Some(market) = source.strip_prefix("book-mid:") {
            let market = market.trim();
            if market.is_empty() {
                anyhow::bail!("book-mid: names no market");
            }
            if market.eq_ignore_ascii_case(quoted) {
                anyhow::bail!(
                    "book-mid:{market} is the quoted market: the bot would follow its own quotes"
                );
            }
            return Ok(PriceSource::BookMid {
                market: market.to_owned(),
            });
        }
        if source.starts_with("https://") {
            anyhow::bail!("price source {source:?}: only plain http:// is supported (no TLS)");
        }
        if source.starts_with("http://") {
            let (url, fragment) = source.split_once('#').ok_or_else(|| {
                anyhow::anyhow!(
                    "price source {source:?}: add the JSON pointer to the price after '#', \
                     e.g. {source}#/data/price"
                )
            })?;
            let price_pointer = percent_decode(fragment).ok_or_else(|| {
                anyhow::anyhow!("price source {source:?}: the pointer has a bad %-escape")
            })?;
            check_pointer("the price pointer", &price_pointer)?;
            let timestamp = match &settings.timestamp_pointer {
                Some(pointer) => {
                    check_pointer("price.timestamp_pointer", pointer)?;
                    Some((pointer.clone(), settings.timestamp_unit))
                }
                None => None,
            };
            let agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(settings.timeout))
                .build()
                .into();
            return Ok(PriceSource::Http {
                url: url.to_owned(),
                price_pointer,
                timestamp,
                agent,
            });
        }
        if settings.timestamp_pointer.is_some() {
            anyhow::bail!("price.timestamp_pointer applies only to http:// sources");
        }
        anyhow::bail!(
            "price source {source:?} is not one of static:<price>, http://host/path#/pointer, \
             book-mid:<market>"
        )
    }

    /// A short description for logs.
    pub(crate) fn describe(&self) -> String {
        match self {
            PriceSource::Static(price) => format!("static:{price}"),
            PriceSource::Http {
                url, price_pointer, ..
            } => format!("{url}#{price_pointer}"),
            PriceSource::BookMid { market } => format!("book-mid:{market}"),
        }
    }

    /// Fetches the price now. `now` is the local clock (unix ms), read when the request is
    /// sent: without a timestamp in the document, that is when the price was observed.
    pub(crate) fn fetch(
        &self,
        node: &NodeClient,
        now: impl Fn() -> UnixMillis,
    ) -> Result<ReferencePrice, PriceError> {
        match self {
            PriceSource::Static(price) => Ok(ReferencePrice {
                price: *price,
                observed_at: now(),
            }),
            PriceSource::Http {
                url,
                price_pointer,
                timestamp,
                agent,
            } => {
                let sent_at = now();
                let http = |reason: String| PriceError::Http {
                    url: url.clone(),
                    reason,
                };
                let mut response = agent.get(url).call().map_err(|err| http(err.to_string()))?;
                let status = response.status();
                if !status.is_success() {
                    return Err(http(format!("HTTP {status}")));
                }
                let text = response
                    .body_mut()
                    .read_to_string()
                    .map_err(|err| http(err.to_string()))?;
                let document: Value =
                    serde_json::from_str(&text).map_err(|err| PriceError::Document {
                        url: url.clone(),
                        reason: format!("not JSON: {err}"),
                    })?;
                read_document(&document, price_pointer, timestamp.as_ref(), sent_at).map_err(
                    |reason| PriceError::Document {
                        url: url.clone(),
                        reason,
                    },
                )
            }
            PriceSource::BookMid { market } => {
                let observed_at = now();
                let book_error = |reason: String| PriceError::Book {
                    market: market.clone(),
                    reason,
                };
                let book = node
                    .book(market, 1)
                    .map_err(|err| book_error(err.to_string()))?;
                let best = |levels: &[dex_api::types::BookLevel], side: &str| {
                    let level = levels
                        .first()
                        .ok_or_else(|| book_error(format!("no {side} in the book")))?;
                    Decimal::from_str(&level.price)
                        .map_err(|err| book_error(format!("{side} price {:?}: {err}", level.price)))
                };
                let bid = best(&book.bids, "bid")?;
                let ask = best(&book.asks, "ask")?;
                let mid = (bid + ask) / Decimal::TWO;
                Ok(ReferencePrice {
                    price: mid,
                    observed_at,
                })
            }
        }
    }
}

/// The price (and observation time) in a source's JSON document.
fn read_document(
    document: &Value,
    price_pointer: &str,
    timestamp: Option<&(String, TimestampUnit)>,
    sent_at: UnixMillis,
) -> Result<ReferencePrice, String> {
    let value = document
        .pointer(price_pointer)
        .ok_or_else(|| format!("nothing at {price_pointer:?}"))?;
    let price = json_decimal(value)
        .ok_or_else(|| format!("{value} at {price_pointer:?} is not a decimal number"))?;
    if price <= Decimal::ZERO {
        return Err(format!("price {price} is not positive"));
    }
    let observed_at = match timestamp {
        None => sent_at,
        Some((pointer, unit)) => {
            let value = document
                .pointer(pointer)
                .ok_or_else(|| format!("no timestamp at {pointer:?}"))?;
            let number = json_decimal(value)
                .ok_or_else(|| format!("timestamp {value} at {pointer:?} is not a number"))?;
            let millis = match unit {
                TimestampUnit::Millis => Some(number),
                TimestampUnit::Seconds => number.checked_mul(Decimal::ONE_THOUSAND),
            };
            millis
                .filter(|millis| *millis >= Decimal::ZERO)
                .and_then(|millis| u64::try_from(millis.trunc()).ok())
                .ok_or_else(|| format!("timestamp {number} is out of range"))?
        }
    };
    Ok(ReferencePrice { price, observed_at })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn settings(source: &str) -> PriceSettings {
        PriceSettings {
            source: source.into(),
            timestamp_pointer: None,
            timestamp_unit: TimestampUnit::Millis,
            timeout: Duration::from_secs(1),
        }
    }

    fn parse(source: &str) -> anyhow::Result<PriceSource> {
        PriceSource::from_settings(&settings(source), "ETH/USDC")
    }

    #[test]
    fn sources_parse_or_say_why_not() {
        assert!(
            matches!(parse("static:2500.5").unwrap(), PriceSource::Static(p) if p == Decimal::new(25005, 1))
        );
        assert!(
            matches!(parse("book-mid:BTC/USDC").unwrap(), PriceSource::BookMid { market } if market == "BTC/USDC")
        );
        match parse("http://127.0.0.1:9/p.json#/data/price%20usd").unwrap() {
            PriceSource::Http {
                url, price_pointer, ..
            } => {
                assert_eq!(url, "http://127.0.0.1:9/p.json");
                assert_eq!(price_pointer, "/data/price usd");
            }
            other => panic!("{other:?}"),
        }
        for (bad, why) in [
            ("static:-1", "positive"),
            ("static:abc", "static price"),
            ("book-mid:eth/usdc", "own quotes"),
            ("https://x/p#/a", "no TLS"),
            ("http://x/p", "JSON pointer"),
            ("http://x/p#a", "start with '/'"),
            ("ftp://x", "not one of"),
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn documents_give_a_price_and_a_time() {
        let document = json!({"data": {"price": "2500.10", "n": 2500.1, "e": 2.5e3,
            "ts": 1_700_000_000_123u64, "sec": 1_700_000_000.5, "neg": "-1", "text": "x"}});
        let read = |pointer: &str, ts: Option<(&str, TimestampUnit)>| {
            let ts = ts.map(|(p, u)| (p.to_owned(), u));
            read_document(&document, pointer, ts.as_ref(), 42)
        };
        let dec = |text: &str| Decimal::from_str_exact(text).unwrap();
        assert_eq!(read("/data/price", None).unwrap().price, dec("2500.10"));
        assert_eq!(read("/data/price", None).unwrap().observed_at, 42);
        assert_eq!(read("/data/n", None).unwrap().price, dec("2500.1"));
        assert_eq!(read("/data/e", None).unwrap().price, dec("2500"));
        let stamped = read("/data/n", Some(("/data/ts", TimestampUnit::Millis))).unwrap();
        assert_eq!(stamped.observed_at, 1_700_000_000_123);
        let seconds = read("/data/n", Some(("/data/sec", TimestampUnit::Seconds))).unwrap();
        assert_eq!(seconds.observed_at, 1_700_000_000_500);
        assert!(
            read("/data/missing", None)
                .unwrap_err()
                .contains("nothing at")
        );
        assert!(
            read("/data/neg", None)
                .unwrap_err()
                .contains("not positive")
        );
        assert!(
            read("/data/text", None)
                .unwrap_err()
                .contains("not a decimal")
        );
        assert!(
            read("/data/n", Some(("/data/nope", TimestampUnit::Millis)))
                .unwrap_err()
                .contains("no timestamp")
        );
    }
}
