//! The strategy's parameters, their defaults and their validation.

use dex_primitives::{Decimal, Market};
use serde::{Deserialize, Serialize};

use crate::{Error, exact::Exact};

/// One basis point is 1/10000; prices at or beyond 10000 bps from the reference are ≤ 0.
pub(crate) const BPS: u32 = 10_000;

/// The most levels per side: enough for any ladder, far below a node's open-order cap.
pub const MAX_LEVELS: u32 = 100;

/// Parameters of the quoting strategy, as read from the `[strategy]` table of
/// `config/mm.toml`. Keys are snake_case; unknown keys are refused so that a typo cannot
/// silently leave a limit unset.
///
/// Decimal values are written as strings (`"12.5"`) or integers (`10`); floating-point
/// numbers are refused because they are not read exactly. Sizes are in base-asset display
/// units (ETH in ETH/USDC), values in quote-asset display units (USDC), spreads in basis
/// points (1 bps = 0.01 %) of the reference price. Every key except `order_size` has a
/// default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// Distance of the first bid below the reference price, in bps. Default 10.
    #[serde(default = "defaults::spread_bps", with = "crate::serde_decimal")]
    pub bid_spread_bps: Decimal,

    /// Distance of the first ask above the reference price, in bps. Default 10.
    #[serde(default = "defaults::spread_bps", with = "crate::serde_decimal")]
    pub ask_spread_bps: Decimal,

    /// Number of orders on each side, from 1 to 100. Default 1.
    #[serde(default = "defaults::levels")]
    pub levels: u32,

    /// Extra distance of each further level from the previous one, in bps of the reference
    /// price: level k (from 0) sits at spread + k × spacing. Levels that land on the same
    /// tick are merged into one order. Default 10.
    #[serde(default = "defaults::spread_bps", with = "crate::serde_decimal")]
    pub level_spacing_bps: Decimal,

    /// Size of the first level on each side, in base units; a whole number of lots.
    /// Required: no default suits every market.
    #[serde(with = "crate::serde_decimal")]
    pub order_size: Decimal,

    /// Size added to each further level, in base units (a whole number of lots): level k
    /// quotes order_size + k × order_size_growth. Default 0 (every level the same size).
    #[serde(default, with = "crate::serde_decimal")]
    pub order_size_growth: Decimal,

    /// The share of the portfolio's value (base at the reference price plus quote) the bot
    /// aims to hold in the base asset, from 0 to 1. Default 0.5.
    #[serde(default = "defaults::half", with = "crate::serde_decimal")]
    pub inventory_target: Decimal,

    /// How far the base share may move from the target before the skew is at its
    /// strongest, from 0 (exclusive) to 1. The skew grows linearly with the distance from
    /// the target and stops growing at this distance. Default 0.5.
    #[serde(default = "defaults::half", with = "crate::serde_decimal")]
    pub inventory_range: Decimal,

    /// Price skew at full inventory deviation, in bps. Holding more base than the target
    /// moves the whole bid ladder this much further from the reference price and the ask
    /// ladder this much closer (and the other way round with too little base), so fills
    /// tend to bring the inventory back. Quotes never come closer than `min_spread_bps`.
    /// Default 0 (no price skew).
    #[serde(default, with = "crate::serde_decimal")]
    pub inventory_skew_bps: Decimal,

    /// Size skew at full inventory deviation, from 0 to 1. Holding more base than the target
    /// multiplies bid sizes by (1 - skew × deviation) and ask sizes by (1 + skew ×
    /// deviation), where the deviation goes from 0 at the target to 1 at the full range;
    /// with 1, a bot at the edge of its range stops bidding and asks twice the size.
    /// Default 0 (no size skew).
    #[serde(default, with = "crate::serde_decimal")]
    pub inventory_size_skew: Decimal,

    /// Smallest order placed, in base units: a level whose size (after skew, rounding down
    /// to lots and limits) is smaller is not quoted. Default 0 (one lot).
    #[serde(default, with = "crate::serde_decimal")]
    pub min_order_size: Decimal,

    /// Largest order placed, in base units: larger levels are cut to it (rounded down to
    /// lots). Default: no maximum.
    #[serde(
        default,
        with = "crate::serde_decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_order_size: Option<Decimal>,

    /// Most base, in base units, quoted on each side in total (the sum of the sizes of all
    /// bids, and separately of all asks). Levels are filled from the reference price
    /// outwards; the first level that does not fit whole is cut and is the last one.
    /// Default: no limit (the balances still limit what is quoted).
    #[serde(
        default,
        with = "crate::serde_decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_exposure_base: Option<Decimal>,

    /// Most value, in quote units (size × price), quoted on each side in total. Works like
    /// `max_exposure_base`; both apply when both are set. Default: no limit.
    #[serde(
        default,
        with = "crate::serde_decimal::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_exposure_quote: Option<Decimal>,

    /// No quote is ever closer to the reference price than this, in bps, whatever the skew;
    /// live quotes that end up closer because the price moved are cancelled. Quotes are
    /// always strictly below (bids) or above (asks) the reference price, even with 0.
    /// Default 0.
    #[serde(default, with = "crate::serde_decimal")]
    pub min_spread_bps: Decimal,

    /// A live quote whose price is within this many bps (of the reference price) of the
    /// price the strategy wants is left alone instead of being cancelled and replaced,
    /// which keeps its place in the queue and saves a cancel and a new signed order on the
    /// network. 0 replaces every quote that is off by one tick. Default 2.
    #[serde(default = "defaults::tolerance_bps", with = "crate::serde_decimal")]
    pub tolerance_bps: Decimal,

    /// A live quote whose remaining size differs from the size the strategy wants by at most
    /// this fraction of the wanted size is left alone (if its price is within tolerance),
    /// from 0 to 1. 0 replaces a quote after any partial fill. Default 0.2.
    #[serde(default = "defaults::size_tolerance", with = "crate::serde_decimal")]
    pub size_tolerance: Decimal,

    /// A reference price older than this many milliseconds is a failure of the price
    /// source: every quote is cancelled until a fresh price arrives. Written as a duration,
    /// `max_price_age = "10s"` (the default).
    #[serde(
        rename = "max_price_age",
        default = "defaults::max_price_age_ms",
        with = "dex_config::duration::millis"
    )]
    pub max_price_age_ms: u64,
}

/// The default values, as functions for serde.
mod defaults {
    use dex_primitives::Decimal;

    pub(super) fn spread_bps() -> Decimal {
        Decimal::TEN
    }
    pub(super) fn levels() -> u32 {
        1
    }
    pub(super) fn half() -> Decimal {
        Decimal::new(5, 1)
    }
    pub(super) fn tolerance_bps() -> Decimal {
        Decimal::TWO
    }
    pub(super) fn size_tolerance() -> Decimal {
        Decimal::new(2, 1)
    }
    pub(super) fn max_price_age_ms() -> u64 {
        10_000
    }
}

impl StrategyConfig {
    /// The defaults described on each field, quoting `order_size` per level.
    pub fn new(order_size: Decimal) -> StrategyConfig {
        StrategyConfig {
            bid_spread_bps: defaults::spread_bps(),
            ask_spread_bps: defaults::spread_bps(),
            levels: defaults::levels(),
            level_spacing_bps: defaults::spread_bps(),
            order_size,
            order_size_growth: Decimal::ZERO,
            inventory_target: defaults::half(),
            inventory_range: defaults::half(),
            inventory_skew_bps: Decimal::ZERO,
            inventory_size_skew: Decimal::ZERO,
            min_order_size: Decimal::ZERO,
            max_order_size: None,
            max_exposure_base: None,
            max_exposure_quote: None,
            min_spread_bps: Decimal::ZERO,
            tolerance_bps: defaults::tolerance_bps(),
            size_tolerance: defaults::size_tolerance(),
            max_price_age_ms: defaults::max_price_age_ms(),
        }
    }

    /// Checks every parameter against its range and against the market's lot size, and
    /// the parameters against each other. The first problem found is returned.
    pub fn validate(&self, market: &Market) -> Result<(), Error> {
        let bps = Decimal::from(BPS);
        below("bid_spread_bps", self.bid_spread_bps, bps)?;
        below("ask_spread_bps", self.ask_spread_bps, bps)?;
        below("level_spacing_bps", self.level_spacing_bps, bps)?;
        below("inventory_skew_bps", self.inventory_skew_bps, bps)?;
        below("min_spread_bps", self.min_spread_bps, bps)?;
        below("tolerance_bps", self.tolerance_bps, bps)?;
        if !(1..=MAX_LEVELS).contains(&self.levels) {
            return Err(Error::OutOfRange {
                name: "levels",
                value: self.levels.into(),
                expected: "from 1 to 100",
            });
        }
        fraction("inventory_target", self.inventory_target)?;
        fraction("inventory_size_skew", self.inventory_size_skew)?;
        fraction("size_tolerance", self.size_tolerance)?;
        if self.inventory_range <= Decimal::ZERO || self.inventory_range > Decimal::ONE {
            return Err(Error::OutOfRange {
                name: "inventory_range",
                value: self.inventory_range,
                expected: "above 0 and at most 1",
            });
        }
        if self.max_price_age_ms == 0 {
            return Err(Error::OutOfRange {
                name: "max_price_age",
                value: Decimal::ZERO,
                expected: "at least 1",
            });
        }

        on_lot_grid("order_size", self.order_size, market)?;
        at_least_one_lot("order_size", self.order_size, market)?;
        not_negative("order_size_growth", self.order_size_growth)?;
        on_lot_grid("order_size_growth", self.order_size_growth, market)?;
        not_negative("min_order_size", self.min_order_size)?;
        not_larger(
            "min_order_size",
            self.min_order_size,
            "order_size",
            self.order_size,
        )?;
        if let Some(max) = self.max_order_size {
            at_least_one_lot("max_order_size", max, market)?;
            not_larger("order_size", self.order_size, "max_order_size", max)?;
        }
        if let Some(max) = self.max_exposure_base {
            at_least_one_lot("max_exposure_base", max, market)?;
        }
        if let Some(max) = self.max_exposure_quote
            && max <= Decimal::ZERO
        {
            return Err(Error::OutOfRange {
                name: "max_exposure_quote",
                value: max,
                expected: "greater than 0",
            });
        }

        // The deepest bid, without skew, must stay above a price of zero; a skew that pushes
        // it further only drops that level at run time.
        let first_bid = self.bid_spread_bps.max(self.min_spread_bps);
        let deepest = Exact::from_decimal(self.level_spacing_bps)
            .mul(Exact::from_int((self.levels - 1).into()))
            .and_then(|spacing| spacing.add(Exact::from_decimal(first_bid)))?;
        if deepest >= Exact::from_int(BPS.into()) {
            return Err(Error::LadderTooDeep {
                offset_bps: deepest.to_display_decimal(4).unwrap_or(Decimal::MAX),
            });
        }
        Ok(())
    }
}

fn below(name: &'static str, value: Decimal, limit: Decimal) -> Result<(), Error> {
    if value < Decimal::ZERO || value >= limit {
        return Err(Error::OutOfRange {
            name,
            value,
            expected: "at least 0 and below 10000",
        });
    }
    Ok(())
}

fn fraction(name: &'static str, value: Decimal) -> Result<(), Error> {
    if value < Decimal::ZERO || value > Decimal::ONE {
        return Err(Error::OutOfRange {
            name,
            value,
            expected: "from 0 to 1",
        });
    }
    Ok(())
}

fn not_negative(name: &'static str, value: Decimal) -> Result<(), Error> {
    if value < Decimal::ZERO {
        return Err(Error::OutOfRange {
            name,
            value,
            expected: "at least 0",
        });
    }
    Ok(())
}

fn not_larger(
    smaller: &'static str,
    smaller_value: Decimal,
    larger: &'static str,
    larger_value: Decimal,
) -> Result<(), Error> {
    if smaller_value > larger_value {
        return Err(Error::Contradiction {
            smaller,
            smaller_value,
            larger,
            larger_value,
        });
    }
    Ok(())
}

fn on_lot_grid(name: &'static str, value: Decimal, market: &Market) -> Result<(), Error> {
    let lots = Exact::from_decimal(value).div(Exact::from_decimal(market.lot_size()))?;
    if lots
        .floor_u64()
        .is_none_or(|whole| Exact::from_int(whole.into()) != lots)
    {
        return Err(Error::NotOnLotGrid {
            name,
            value,
            lot: market.lot_size(),
            market: market.symbol().to_owned(),
        });
    }
    Ok(())
}

fn at_least_one_lot(name: &'static str, value: Decimal, market: &Market) -> Result<(), Error> {
    if value < market.lot_size() {
        return Err(Error::BelowOneLot {
            name,
            value,
            lot: market.lot_size(),
            market: market.symbol().to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use dex_test_utils::eth_usdc;

    use super::*;

    fn market() -> Market {
        Market::new(eth_usdc()).unwrap()
    }

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn valid() -> StrategyConfig {
        StrategyConfig::new(dec("0.1"))
    }

    #[test]
    fn defaults_are_valid_and_what_the_docs_say() {
        let config = valid();
        config.validate(&market()).unwrap();
        assert_eq!(config.bid_spread_bps, dec("10"));
        assert_eq!(config.levels, 1);
        assert_eq!(config.inventory_target, dec("0.5"));
        assert_eq!(config.tolerance_bps, dec("2"));
        assert_eq!(config.size_tolerance, dec("0.2"));
        assert_eq!(config.max_price_age_ms, 10_000);
        assert_eq!(config.max_order_size, None);
    }

    #[test]
    fn serde_reads_strings_and_integers_and_fills_defaults() {
        let config: StrategyConfig = serde_json::from_value(serde_json::json!({
            "order_size": "0.1",
            "bid_spread_bps": 15,
            "ask_spread_bps": "12.5",
            "max_exposure_quote": "5000",
            "max_price_age": "1m 30s",
        }))
        .unwrap();
        assert_eq!(
            config,
            StrategyConfig {
                bid_spread_bps: dec("15"),
                ask_spread_bps: dec("12.5"),
                max_exposure_quote: Some(dec("5000")),
                max_price_age_ms: 90_000,
                ..valid()
            }
        );
        // Serialized form reads back to the same value.
        let text = serde_json::to_string(&config).unwrap();
        assert!(text.contains(r#""ask_spread_bps":"12.5""#), "{text}");
        assert!(!text.contains("max_order_size"), "{text}");
        assert!(text.contains(r#""max_price_age":"1m 30s""#), "{text}");
        assert_eq!(
            serde_json::from_str::<StrategyConfig>(&text).unwrap(),
            config
        );
    }

    #[test]
    fn serde_refuses_floats_typos_and_a_missing_order_size() {
        let float = serde_json::from_value::<StrategyConfig>(serde_json::json!({
            "order_size": "0.1", "bid_spread_bps": 12.5,
        }))
        .unwrap_err()
        .to_string();
        assert!(float.contains("write it as a string"), "{float}");
        let typo = serde_json::from_value::<StrategyConfig>(serde_json::json!({
            "order_size": "0.1", "max_exposure": "10",
        }))
        .unwrap_err()
        .to_string();
        assert!(typo.contains("unknown field `max_exposure`"), "{typo}");
        let missing = serde_json::from_value::<StrategyConfig>(serde_json::json!({}))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("order_size"), "{missing}");
    }

    #[test]
    fn each_bad_parameter_has_a_clear_error() {
        let market = market();
        let check = |config: StrategyConfig, expected: &str| {
            let err = config.validate(&market).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{err:?} should contain {expected:?}"
            );
        };
        check(
            StrategyConfig {
                bid_spread_bps: dec("-1"),
                ..valid()
            },
            "bid_spread_bps = -1 is out of range",
        );
        check(
            StrategyConfig {
                tolerance_bps: dec("10000"),
                ..valid()
            },
            "tolerance_bps = 10000 is out of range",
        );
        check(
            StrategyConfig {
                levels: 0,
                ..valid()
            },
            "levels = 0",
        );
        check(
            StrategyConfig {
                levels: 101,
                ..valid()
            },
            "levels = 101",
        );
        check(
            StrategyConfig {
                inventory_target: dec("1.5"),
                ..valid()
            },
            "inventory_target = 1.5",
        );
        check(
            StrategyConfig {
                inventory_range: dec("0"),
                ..valid()
            },
            "inventory_range = 0",
        );
        check(
            StrategyConfig {
                max_price_age_ms: 0,
                ..valid()
            },
            "max_price_age = 0",
        );
        check(
            StrategyConfig::new(dec("0.0015")),
            "order_size = 0.0015 is not a multiple of the lot size 0.001 of ETH/USDC",
        );
        check(
            StrategyConfig {
                order_size_growth: dec("0.0001"),
                ..valid()
            },
            "order_size_growth = 0.0001 is not a multiple",
        );
        check(
            StrategyConfig::new(dec("0")),
            "order_size = 0 is smaller than one lot",
        );
        check(
            StrategyConfig {
                min_order_size: dec("0.2"),
                ..valid()
            },
            "min_order_size = 0.2 must not be larger than order_size = 0.1",
        );
        check(
            StrategyConfig {
                max_order_size: Some(dec("0.05")),
                ..valid()
            },
            "order_size = 0.1 must not be larger than max_order_size = 0.05",
        );
        check(
            StrategyConfig {
                max_exposure_base: Some(dec("0.0001")),
                ..valid()
            },
            "max_exposure_base = 0.0001 is smaller than one lot",
        );
        check(
            StrategyConfig {
                max_exposure_quote: Some(dec("0")),
                ..valid()
            },
            "max_exposure_quote = 0",
        );
        check(
            StrategyConfig {
                levels: 100,
                level_spacing_bps: dec("101"),
                ..valid()
            },
            "= 10009 bps",
        );
        // 9999 bps of depth is still a positive price.
        StrategyConfig {
            levels: 100,
            bid_spread_bps: dec("0"),
            level_spacing_bps: dec("101"),
            ..valid()
        }
        .validate(&market)
        .unwrap();
    }
}
