//! Markets: their EIP-712 identity, validation, and exact decimal ↔ ticks/lots conversion.

use std::{collections::HashMap, str::FromStr};

use alloy_primitives::{Address, U256};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{
    Error, Lots, Ticks,
    eip712::sol,
    serde_util::{b256_id, u256_decimal},
};

b256_id!(
    /// A market's identity: the EIP-712 hashStruct of its [`MarketParams`].
    MarketId,
    "market id"
);

/// The fields of the EIP-712 `Market` struct: what identifies a market.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarketParams {
    /// Chain id of the base asset.
    pub base_chain: u64,
    /// Base token address; `0x000…0` for the chain's native coin.
    pub base_token: Address,
    /// Chain id of the quote asset.
    pub quote_chain: u64,
    /// Quote token address; `0x000…0` for the chain's native coin.
    pub quote_token: Address,
    /// Base-asset base units in one lot (the quantity step).
    #[serde(with = "u256_decimal")]
    pub base_per_lot: U256,
    /// Quote base units paid for one lot at a price of one tick.
    #[serde(with = "u256_decimal")]
    pub quote_per_tick_lot: U256,
}

impl MarketParams {
    /// The market id: `hashStruct(Market)`.
    pub fn id(&self) -> MarketId {
        use alloy_sol_types::SolStruct;
        MarketId(self.to_sol().eip712_hash_struct())
    }

    fn to_sol(&self) -> sol::Market {
        sol::Market {
            baseChain: self.base_chain,
            baseToken: self.base_token,
            quoteChain: self.quote_chain,
            quoteToken: self.quote_token,
            basePerLot: self.base_per_lot,
            quotePerTickLot: self.quote_per_tick_lot,
        }
    }
}

/// A market as configured: its identifying parameters plus display metadata (symbols and
/// token decimals), which is needed to read and write human prices but is not hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MarketDef {
    /// Chain id of the base asset.
    pub base_chain: u64,
    /// Base token address; `0x000…0` for the chain's native coin.
    pub base_token: Address,
    /// Chain id of the quote asset.
    pub quote_chain: u64,
    /// Quote token address; `0x000…0` for the chain's native coin.
    pub quote_token: Address,
    /// Base-asset base units in one lot.
    #[serde(with = "u256_decimal")]
    pub base_per_lot: U256,
    /// Quote base units for one lot at one tick.
    #[serde(with = "u256_decimal")]
    pub quote_per_tick_lot: U256,
    /// Display symbol of the base asset, e.g. `ETH`.
    pub base_symbol: String,
    /// Display symbol of the quote asset, e.g. `USDC`.
    pub quote_symbol: String,
    /// Decimals of the base asset (18 for ETH).
    pub base_decimals: u8,
    /// Decimals of the quote asset (6 for USDC).
    pub quote_decimals: u8,
}

impl MarketDef {
    /// The hashed part of the definition.
    pub fn params(&self) -> MarketParams {
        MarketParams {
            base_chain: self.base_chain,
            base_token: self.base_token,
            quote_chain: self.quote_chain,
            quote_token: self.quote_token,
            base_per_lot: self.base_per_lot,
            quote_per_tick_lot: self.quote_per_tick_lot,
        }
    }

    /// `BASE/QUOTE`.
    pub fn symbol(&self) -> String {
        format!("{}/{}", self.base_symbol, self.quote_symbol)
    }
}

/// The asset amounts a fill moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillAmounts {
    /// Base units: `quantity × basePerLot`.
    pub base: U256,
    /// Quote units: `price × quantity × quotePerTickLot`.
    pub quote: U256,
}

/// A validated market: its definition, id, and the exact decimal sizes of one lot and one
/// tick in display units. Built only by [`Market::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Market {
    def: MarketDef,
    id: MarketId,
    symbol: String,
    /// One lot in base display units, e.g. 0.001 (ETH).
    lot_size: Decimal,
    /// One tick in quote display units per base display unit, e.g. 0.01 (USDC per ETH).
    tick_size: Decimal,
}

/// The largest number of fractional digits (and of significant digits) a [`Decimal`] holds.
const MAX_DECIMAL_DIGITS: u32 = 28;

impl Market {
    /// Validates a definition: non-zero lot and tick-lot values, base ≠ quote, sane symbols
    /// and decimals, and lot and tick sizes that are exact decimals.
    pub fn new(def: MarketDef) -> Result<Market, Error> {
        for symbol in [&def.base_symbol, &def.quote_symbol] {
            let valid = (1..=16).contains(&symbol.len())
                && symbol
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
            if !valid {
                return Err(Error::InvalidSymbol {
                    symbol: symbol.clone(),
                });
            }
        }
        let symbol = def.symbol();
        if def.base_per_lot.is_zero() {
            return Err(Error::ZeroLotSize { symbol });
        }
        if def.quote_per_tick_lot.is_zero() {
            return Err(Error::ZeroTickSize { symbol });
        }
        if def.base_chain == def.quote_chain && def.base_token == def.quote_token {
            return Err(Error::SameAsset {
                symbol,
                chain: def.base_chain,
                token: def.base_token,
            });
        }
        for (asset, decimals) in [("base", def.base_decimals), ("quote", def.quote_decimals)] {
            if u32::from(decimals) > MAX_DECIMAL_DIGITS {
                return Err(Error::DecimalsTooLarge {
                    symbol,
                    asset,
                    decimals,
                });
            }
        }
        let base_scale = pow10(def.base_decimals.into());
        let quote_scale = pow10(def.quote_decimals.into());
        // lot = basePerLot / 10^baseDecimals
        let lot_size = fraction_to_decimal(def.base_per_lot, base_scale).ok_or_else(|| {
            Error::StepNotDecimal {
                symbol: symbol.clone(),
                what: "lot",
                numerator: def.base_per_lot,
                denominator: base_scale,
            }
        })?;
        // tick = (quotePerTickLot / 10^quoteDecimals) / (basePerLot / 10^baseDecimals)
        let tick_num = def.quote_per_tick_lot.checked_mul(base_scale);
        let tick_den = def.base_per_lot.checked_mul(quote_scale);
        let tick_size = match (tick_num, tick_den) {
            (Some(num), Some(den)) => fraction_to_decimal(num, den),
            _ => None,
        }
        .ok_or_else(|| Error::StepNotDecimal {
            symbol: symbol.clone(),
            what: "tick",
            numerator: def.quote_per_tick_lot.saturating_mul(base_scale),
            denominator: def.base_per_lot.saturating_mul(quote_scale),
        })?;
        Ok(Market {
            id: def.params().id(),
            def,
            symbol,
            lot_size,
            tick_size,
        })
    }

    /// The market id.
    pub fn id(&self) -> MarketId {
        self.id
    }

    /// The definition it was built from.
    pub fn def(&self) -> &MarketDef {
        &self.def
    }

    /// `BASE/QUOTE`.
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// One lot in base display units.
    pub fn lot_size(&self) -> Decimal {
        self.lot_size
    }

    /// One tick in display price units.
    pub fn tick_size(&self) -> Decimal {
        self.tick_size
    }

    /// Parses a display price (`"2500.5"`) into ticks. Errors, never rounds: not a number,
    /// too many digits, negative, zero, off the tick grid, more than `u64::MAX` ticks.
    pub fn parse_price(&self, text: &str) -> Result<Ticks, Error> {
        let value = parse_decimal("price", text)?;
        self.price_to_ticks(value)
    }

    /// Converts a display price into ticks exactly (see [`Market::parse_price`]).
    pub fn price_to_ticks(&self, price: Decimal) -> Result<Ticks, Error> {
        to_steps("price", price, self.tick_size).map(Ticks)
    }

    /// Parses a display quantity (`"0.25"`) into lots. Same rules as prices.
    pub fn parse_quantity(&self, text: &str) -> Result<Lots, Error> {
        let value = parse_decimal("quantity", text)?;
        self.quantity_to_lots(value)
    }

    /// Converts a display quantity into lots exactly.
    pub fn quantity_to_lots(&self, quantity: Decimal) -> Result<Lots, Error> {
        to_steps("quantity", quantity, self.lot_size).map(Lots)
    }

    /// The display price of a number of ticks, exactly. Fails only if the value needs more
    /// than 28 significant digits.
    pub fn ticks_to_price(&self, ticks: Ticks) -> Result<Decimal, Error> {
        from_steps("price", ticks.0, self.tick_size)
    }

    /// The display quantity of a number of lots, exactly.
    pub fn lots_to_quantity(&self, lots: Lots) -> Result<Decimal, Error> {
        from_steps("quantity", lots.0, self.lot_size)
    }

    /// Base and quote base units moved by a fill of `quantity` at `price`, checked in U256.
    pub fn fill_amounts(&self, price: Ticks, quantity: Lots) -> Result<FillAmounts, Error> {
        let overflow = || Error::AmountOverflow {
            price: price.0,
            quantity: quantity.0,
        };
        let base = U256::from(quantity.0)
            .checked_mul(self.def.base_per_lot)
            .ok_or_else(overflow)?;
        let quote = U256::from(price.0)
            .checked_mul(U256::from(quantity.0))
            .and_then(|lots_ticks| lots_ticks.checked_mul(self.def.quote_per_tick_lot))
            .ok_or_else(overflow)?;
        Ok(FillAmounts { base, quote })
    }
}

/// The markets a node knows, by id and by symbol.
#[derive(Debug, Clone, Default)]
pub struct Markets {
    by_id: HashMap<MarketId, Market>,
    by_symbol: HashMap<String, MarketId>,
}

impl Markets {
    /// Validates every definition; ids and symbols must be unique.
    pub fn new(defs: impl IntoIterator<Item = MarketDef>) -> Result<Markets, Error> {
        let mut markets = Markets::default();
        for def in defs {
            let market = Market::new(def)?;
            let id = market.id();
            if markets.by_id.contains_key(&id) || markets.by_symbol.contains_key(market.symbol()) {
                return Err(Error::DuplicateMarket {
                    symbol: market.symbol().to_owned(),
                    market: id,
                });
            }
            markets.by_symbol.insert(market.symbol().to_owned(), id);
            markets.by_id.insert(id, market);
        }
        Ok(markets)
    }

    /// The market with this id.
    pub fn get(&self, id: &MarketId) -> Option<&Market> {
        self.by_id.get(id)
    }

    /// Looks a market up by `0x…` id or by `BASE/QUOTE` symbol.
    pub fn find(&self, id_or_symbol: &str) -> Result<&Market, Error> {
        let id = match MarketId::from_str(id_or_symbol) {
            Ok(id) => Some(id),
            Err(_) => self.by_symbol.get(id_or_symbol).copied(),
        };
        id.and_then(|id| self.by_id.get(&id))
            .ok_or_else(|| Error::UnknownMarket {
                market: id_or_symbol.chars().take(100).collect(),
            })
    }

    /// Every market, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Market> {
        self.by_id.values()
    }

    /// Number of markets.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

fn pow10(exponent: u32) -> U256 {
    U256::from(10u8).pow(U256::from(exponent))
}

/// `numerator / denominator` as an exact [`Decimal`], if it has a finite decimal expansion of
/// at most 28 fractional digits and a mantissa of at most 96 bits.
fn fraction_to_decimal(numerator: U256, denominator: U256) -> Option<Decimal> {
    if denominator.is_zero() {
        return None;
    }
    let gcd = numerator.gcd(denominator);
    let (mut numerator, mut denominator) = (numerator / gcd, denominator / gcd);
    // Multiply numerator and denominator by 10 until the denominator divides a power of ten.
    let mut scale = 0u32;
    while !(pow10(scale) % denominator).is_zero() {
        scale += 1;
        if scale > MAX_DECIMAL_DIGITS {
            return None;
        }
    }
    let factor = pow10(scale) / denominator;
    numerator = numerator.checked_mul(factor)?;
    denominator = pow10(scale);
    debug_assert_eq!(denominator, pow10(scale));
    let mantissa = i128::try_from(numerator).ok()?;
    if mantissa >= 1i128 << 96 {
        return None;
    }
    Some(Decimal::from_i128_with_scale(mantissa, scale).normalize())
}

/// Parses a plain decimal number: optional `-`, digits, optional `.` and digits. No
/// exponents, spaces or signs other than `-`. More than 28 significant digits is an error.
pub(crate) fn parse_decimal(what: &'static str, text: &str) -> Result<Decimal, Error> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let int_part = parts.next().unwrap_or_default();
    let frac_part = parts.next();
    let plain = !int_part.is_empty()
        && int_part.bytes().all(|b| b.is_ascii_digit())
        && frac_part
            .is_none_or(|frac| !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()));
    if !plain {
        return Err(Error::InvalidDecimal {
            what,
            value: text.chars().take(100).collect(),
        });
    }
    Decimal::from_str_exact(text).map_err(|_| Error::TooManyDigits {
        what,
        value: text.chars().take(100).collect(),
    })
}

/// `value / step` when it is a positive whole number that fits in u64.
fn to_steps(what: &'static str, value: Decimal, step: Decimal) -> Result<u64, Error> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(Error::NegativeValue {
            what,
            value: value.to_string(),
        });
    }
    if value.is_zero() {
        return Err(Error::ZeroValue { what });
    }
    // value = vm / 10^vs, step = sm / 10^ss  =>  value / step = vm·10^ss / (sm·10^vs).
    // Mantissas are below 2^96 and scales at most 28, so both products fit in U256.
    let numerator = U256::from(value.mantissa().unsigned_abs()) * pow10(step.scale());
    let denominator = U256::from(step.mantissa().unsigned_abs()) * pow10(value.scale());
    let (steps, remainder) = numerator.div_rem(denominator);
    if !remainder.is_zero() {
        return Err(Error::OffGrid {
            what,
            value: value.normalize().to_string(),
            step: step.to_string(),
        });
    }
    u64::try_from(steps).map_err(|_| Error::OutOfRange {
        what,
        value: value.normalize().to_string(),
        max: max_value(step),
    })
}

fn max_value(step: Decimal) -> String {
    from_steps("value", u64::MAX, step)
        .map(|max| max.to_string())
        .unwrap_or_else(|_| format!("{} × {step}", u64::MAX))
}

/// `steps × step` as an exact decimal.
fn from_steps(what: &'static str, steps: u64, step: Decimal) -> Result<Decimal, Error> {
    let mut mantissa = U256::from(step.mantissa().unsigned_abs()) * U256::from(steps);
    let mut scale = step.scale();
    let ten = U256::from(10u8);
    while scale > 0 && (mantissa % ten).is_zero() && !mantissa.is_zero() {
        mantissa /= ten;
        scale -= 1;
    }
    match i128::try_from(mantissa) {
        Ok(mantissa) if mantissa < 1i128 << 96 => {
            Ok(Decimal::from_i128_with_scale(mantissa, scale))
        }
        _ => Err(Error::OutOfRange {
            what,
            value: format!("{steps} × {step}"),
            max: "28 significant digits".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn eth_usdc() -> MarketDef {
        MarketDef {
            base_chain: 31337,
            base_token: Address::ZERO,
            quote_chain: 31338,
            quote_token: Address::repeat_byte(0xaa),
            base_per_lot: U256::from(10u64.pow(15)),
            quote_per_tick_lot: U256::from(10u64),
            base_symbol: "ETH".into(),
            quote_symbol: "USDC".into(),
            base_decimals: 18,
            quote_decimals: 6,
        }
    }

    #[test]
    fn sizes_of_the_design_example() {
        let market = Market::new(eth_usdc()).unwrap();
        assert_eq!(market.lot_size().to_string(), "0.001");
        assert_eq!(market.tick_size().to_string(), "0.01");
        assert_eq!(market.symbol(), "ETH/USDC");
    }

    #[test]
    fn design_example_conversion() {
        let market = Market::new(eth_usdc()).unwrap();
        assert_eq!(market.parse_price("2500.5").unwrap(), Ticks(250_050));
        assert_eq!(market.parse_quantity("0.25").unwrap(), Lots(250));
        assert_eq!(
            market.ticks_to_price(Ticks(250_050)).unwrap().to_string(),
            "2500.5"
        );
        assert_eq!(
            market.lots_to_quantity(Lots(250)).unwrap().to_string(),
            "0.25"
        );
        // 0.25 ETH at 2500.5 USDC = 625.125 USDC = 625_125_000 units.
        let amounts = market.fill_amounts(Ticks(250_050), Lots(250)).unwrap();
        assert_eq!(amounts.base, U256::from(25u64 * 10u64.pow(16)));
        assert_eq!(amounts.quote, U256::from(625_125_000u64));
    }

    #[test]
    fn bad_decimals_each_have_their_error() {
        let market = Market::new(eth_usdc()).unwrap();
        for bad in [
            "", "abc", "1e3", " 1", "1.", ".5", "+1", "1,5", "--1", "0x10",
        ] {
            assert!(
                matches!(market.parse_price(bad), Err(Error::InvalidDecimal { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            market.parse_price("-1"),
            Err(Error::NegativeValue { .. })
        ));
        assert_eq!(
            market.parse_price("0.00"),
            Err(Error::ZeroValue { what: "price" })
        );
        assert_eq!(
            market.parse_price("2500.505"),
            Err(Error::OffGrid {
                what: "price",
                value: "2500.505".into(),
                step: "0.01".into()
            })
        );
        assert_eq!(
            market.parse_quantity("0.0015"),
            Err(Error::OffGrid {
                what: "quantity",
                value: "0.0015".into(),
                step: "0.001".into()
            })
        );
        assert!(matches!(
            market.parse_price("0.1234567890123456789012345678901"),
            Err(Error::TooManyDigits { .. })
        ));
        assert!(matches!(
            market.parse_price("1000000000000000000000"),
            Err(Error::OutOfRange { .. })
        ));
    }

    #[test]
    fn market_definition_errors() {
        let mut def = eth_usdc();
        def.base_per_lot = U256::ZERO;
        assert!(matches!(Market::new(def), Err(Error::ZeroLotSize { .. })));

        let mut def = eth_usdc();
        def.quote_per_tick_lot = U256::ZERO;
        assert!(matches!(Market::new(def), Err(Error::ZeroTickSize { .. })));

        let mut def = eth_usdc();
        def.quote_chain = def.base_chain;
        def.quote_token = def.base_token;
        assert!(matches!(Market::new(def), Err(Error::SameAsset { .. })));

        let mut def = eth_usdc();
        def.base_symbol = "E TH".into();
        assert!(matches!(Market::new(def), Err(Error::InvalidSymbol { .. })));

        let mut def = eth_usdc();
        def.base_decimals = 40;
        assert!(matches!(
            Market::new(def),
            Err(Error::DecimalsTooLarge { asset: "base", .. })
        ));

        // A lot of 3 base units at 18 decimals is fine (0.000000000000000003), but a tick of
        // 10 / 3 quote units per lot is not an exact decimal.
        let mut def = eth_usdc();
        def.base_per_lot = U256::from(3u8);
        assert!(matches!(
            Market::new(def),
            Err(Error::StepNotDecimal { what: "tick", .. })
        ));
    }

    #[test]
    fn duplicate_markets_are_refused() {
        let err = Markets::new([eth_usdc(), eth_usdc()]).unwrap_err();
        assert!(matches!(err, Error::DuplicateMarket { .. }));
        let markets = Markets::new([eth_usdc()]).unwrap();
        let id = Market::new(eth_usdc()).unwrap().id();
        assert_eq!(markets.find("ETH/USDC").unwrap().id(), id);
        assert_eq!(markets.find(&id.to_string()).unwrap().id(), id);
        assert!(matches!(
            markets.find("BTC/USDC"),
            Err(Error::UnknownMarket { .. })
        ));
    }

    #[test]
    fn amount_overflow_is_an_error() {
        // A tick of 2^90 quote display units per base unit, quote with 28 decimals:
        // quotePerTickLot = 2^90 · 10^28 ≈ 2^183, so u64::MAX² of it overflows 256 bits.
        let mut def = eth_usdc();
        def.base_per_lot = U256::from(1u8);
        def.base_decimals = 0;
        def.quote_decimals = 28;
        def.quote_per_tick_lot = (U256::from(1u8) << 90usize) * pow10(28);
        let market = Market::new(def).unwrap();
        assert!(market.fill_amounts(Ticks(1 << 30), Lots(1 << 30)).is_ok());
        assert_eq!(
            market.fill_amounts(Ticks(u64::MAX), Lots(u64::MAX)),
            Err(Error::AmountOverflow {
                price: u64::MAX,
                quantity: u64::MAX
            })
        );
    }
}
