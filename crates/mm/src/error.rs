use dex_primitives::{Decimal, OrderId, UnixMillis};

/// Everything that can go wrong in the market maker: a configuration that cannot be used
/// (reported once, at start), or inputs that make quoting unsafe (reported in every
/// [`Decision`](crate::Decision) that halts, which then cancels all quotes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- configuration ----
    /// A parameter is outside the range it must be in.
    #[error("{name} = {value} is out of range: it must be {expected}")]
    OutOfRange {
        /// The configuration key.
        name: &'static str,
        /// The value given.
        value: Decimal,
        /// The accepted range, in words.
        expected: &'static str,
    },
    /// A size that becomes an order quantity is not a whole number of the market's lots.
    #[error("{name} = {value} is not a multiple of the lot size {lot} of {market}")]
    NotOnLotGrid {
        /// The configuration key.
        name: &'static str,
        /// The value given.
        value: Decimal,
        /// The market's lot size.
        lot: Decimal,
        /// The market's symbol.
        market: String,
    },
    /// A size limit is smaller than one lot, so no order could ever be placed.
    #[error(
        "{name} = {value} is smaller than one lot ({lot}) of {market}: nothing could be quoted"
    )]
    BelowOneLot {
        /// The configuration key.
        name: &'static str,
        /// The value given.
        value: Decimal,
        /// The market's lot size.
        lot: Decimal,
        /// The market's symbol.
        market: String,
    },
    /// Two parameters contradict each other.
    #[error("{smaller} = {smaller_value} must not be larger than {larger} = {larger_value}")]
    Contradiction {
        /// The key that must be the smaller one.
        smaller: &'static str,
        /// Its value.
        smaller_value: Decimal,
        /// The key that must be the larger one.
        larger: &'static str,
        /// Its value.
        larger_value: Decimal,
    },
    /// The deepest bid would be at or below a price of zero.
    #[error(
        "bid_spread_bps + (levels - 1) × level_spacing_bps = {offset_bps} bps: the deepest bid \
         must stay below 10000 bps (a price of zero)"
    )]
    LadderTooDeep {
        /// The distance of the deepest bid from the reference price, in bps.
        offset_bps: Decimal,
    },

    // ---- inputs that halt quoting ----
    /// The reference price is older than `max_price_age_ms`.
    #[error(
        "reference price is stale: observed at {observed_at}, {age_ms} ms before now ({now}), \
         maximum age {max_age_ms} ms"
    )]
    StalePrice {
        /// When the price was observed (unix ms).
        observed_at: UnixMillis,
        /// The time of the decision (unix ms).
        now: UnixMillis,
        /// `now - observed_at`.
        age_ms: u64,
        /// The configured maximum.
        max_age_ms: u64,
    },
    /// The reference price is zero or negative.
    #[error("reference price {price} is not positive")]
    InvalidReferencePrice {
        /// The price given.
        price: Decimal,
    },
    /// A balance is negative, which no node reports unless something is badly wrong.
    #[error("{asset} balance {field} = {value} is negative")]
    NegativeBalance {
        /// `base` or `quote`.
        asset: &'static str,
        /// `free` or `locked`.
        field: &'static str,
        /// The value given.
        value: Decimal,
    },
    /// The same order id appears twice among the live orders, so the view of them is not
    /// trustworthy.
    #[error("order {id} appears more than once among the live orders")]
    DuplicateOrderId {
        /// The repeated id.
        id: OrderId,
    },
    /// An exact intermediate value grew beyond 510 bits. Unreachable with real prices and
    /// balances; reported rather than rounded or wrapped.
    #[error("arithmetic overflow in the exact price computation")]
    ArithmeticOverflow,
}
