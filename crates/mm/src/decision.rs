//! What the strategy decides: the quotes it wants, the orders to keep, cancel and place,
//! and why.

use std::fmt;

use dex_primitives::{Decimal, Lots, OrderId, Side, Ticks};

use crate::Error;

/// One order the strategy wants on the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quote {
    /// Buy (a bid) or sell (an ask).
    pub side: Side,
    /// The ladder level it stands for: 0 is closest to the reference price. When levels
    /// merge on one tick, the merged quote carries the innermost level.
    pub level: u32,
    /// Price in ticks, on the grid by construction.
    pub price: Ticks,
    /// Quantity in lots, at least one.
    pub quantity: Lots,
}

impl fmt::Display for Quote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} level {}: {} lots at {} ticks",
            self.side, self.level, self.quantity.0, self.price.0
        )
    }
}

/// A live order left alone because it is close enough to a quote the strategy wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    /// The live order.
    pub order: OrderId,
    /// Its side, live price and remaining quantity, and the level it stands for.
    pub quote: Quote,
}

/// A live order to cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancel {
    /// The order to cancel.
    pub order: OrderId,
    /// Its side.
    pub side: Side,
    /// Its price.
    pub price: Ticks,
    /// Its remaining quantity.
    pub remaining: Lots,
    /// Why it goes.
    pub reason: CancelReason,
}

impl fmt::Display for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cancel {} {} {} lots at {} ticks: {}",
            self.order, self.side, self.remaining.0, self.price.0, self.reason
        )
    }
}

/// Why a live order is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// Quoting is halted; the decision's [`Reason::Halted`] says why.
    Halted,
    /// Its price is closer to the reference price than `min_spread_bps` allows, or across
    /// it. `bound` is the closest price allowed on its side now (`None`: no price is).
    InsideMinSpread {
        /// The closest allowed price on the order's side.
        bound: Option<Ticks>,
    },
    /// No wanted quote is within the price and size tolerances of it (or those that are
    /// were matched with other live orders). `nearest` is the wanted quote closest in price
    /// on its side, if any.
    OffTarget {
        /// The nearest wanted quote on the same side.
        nearest: Option<Quote>,
    },
    /// Keeping it, together with the other quotes, would break this limit.
    Limit(Limit),
    /// Another quote of the same side takes its tick.
    SameTick,
}

impl fmt::Display for CancelReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelReason::Halted => f.write_str("quoting is halted"),
            CancelReason::InsideMinSpread { bound: Some(bound) } => write!(
                f,
                "too close to the reference price (closest allowed: {} ticks)",
                bound.0
            ),
            CancelReason::InsideMinSpread { bound: None } => {
                f.write_str("no price on its side is allowed now")
            }
            CancelReason::OffTarget {
                nearest: Some(nearest),
            } => write!(
                f,
                "beyond tolerance of the nearest wanted quote ({nearest})"
            ),
            CancelReason::OffTarget { nearest: None } => {
                f.write_str("no quote is wanted on its side")
            }
            CancelReason::Limit(limit) => write!(f, "keeping it would exceed {limit}"),
            CancelReason::SameTick => f.write_str("another quote takes its tick"),
        }
    }
}

/// A limit that cuts or drops quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// The free balance (plus what the bot's own orders on that side reserve): quote for
    /// bids, base for asks.
    Balance,
    /// `max_order_size`.
    MaxOrderSize,
    /// `max_exposure_base`.
    MaxExposureBase,
    /// `max_exposure_quote`.
    MaxExposureQuote,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Limit::Balance => "the available balance",
            Limit::MaxOrderSize => "max_order_size",
            Limit::MaxExposureBase => "max_exposure_base",
            Limit::MaxExposureQuote => "max_exposure_quote",
        })
    }
}

/// How the ladder differs from the configured one, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Note {
    /// A level landed on the tick of a level closer to the reference price; its size was
    /// added to that one.
    Merged {
        /// Its side.
        side: Side,
        /// The merged level.
        level: u32,
        /// The level it was merged into.
        into_level: u32,
        /// The shared tick.
        price: Ticks,
    },
    /// A level was made smaller by a limit.
    Cut {
        /// Its side.
        side: Side,
        /// The level.
        level: u32,
        /// Its size before.
        from: Lots,
        /// Its size after.
        to: Lots,
        /// The limit that cut it.
        limit: Limit,
    },
    /// A level is not quoted.
    Dropped {
        /// Its side.
        side: Side,
        /// The level.
        level: u32,
        /// Why.
        why: DropReason,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Merged {
                side,
                level,
                into_level,
                price,
            } => write!(
                f,
                "{side} level {level} merged into level {into_level} at {} ticks",
                price.0
            ),
            Note::Cut {
                side,
                level,
                from,
                to,
                limit,
            } => write!(
                f,
                "{side} level {level} cut from {} to {} lots by {limit}",
                from.0, to.0
            ),
            Note::Dropped { side, level, why } => {
                write!(f, "{side} level {level} not quoted: {why}")
            }
        }
    }
}

/// Why a level is not quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Its price, rounded down to a tick, would be zero or less (bids only).
    PriceNotPositive,
    /// Its price would not fit in a u64 number of ticks (asks only).
    PriceOutOfRange,
    /// Its size rounds down to zero lots (for instance under full size skew).
    ZeroSize,
    /// Its size is below `min_order_size`.
    BelowMinSize {
        /// Its size.
        quantity: Lots,
        /// The smallest size allowed, in lots.
        min: Lots,
    },
    /// A limit leaves no room for it (or left too little for a level closer to the
    /// reference price, which ends the side).
    Limit(Limit),
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::PriceNotPositive => f.write_str("its price would not be positive"),
            DropReason::PriceOutOfRange => f.write_str("its price is out of range"),
            DropReason::ZeroSize => f.write_str("its size rounds down to zero lots"),
            DropReason::BelowMinSize { quantity, min } => write!(
                f,
                "{} lots is below min_order_size ({} lots)",
                quantity.0, min.0
            ),
            DropReason::Limit(limit) => write!(f, "no room left under {limit}"),
        }
    }
}

/// Why the decision is what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Quoting normally around the reference price.
    Quoting(Context),
    /// Quoting is unsafe: every live order is cancelled and nothing is placed.
    Halted(Error),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Quoting(context) => context.fmt(f),
            Reason::Halted(error) => write!(f, "halted, cancelling all quotes: {error}"),
        }
    }
}

/// The numbers behind a ladder, for the log. The fractions are truncated to display them;
/// the decision itself was computed exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The reference price used.
    pub reference_price: Decimal,
    /// The share of the portfolio's value held in base (0 to 1), `None` when the portfolio
    /// is empty.
    pub base_share: Option<Decimal>,
    /// The inventory deviation from -1 (all the way below target) to 1 (all the way above),
    /// which drives the skew.
    pub deviation: Decimal,
    /// Distance of the first bid from the reference price after skew, in bps (before
    /// rounding to ticks).
    pub bid_offset_bps: Decimal,
    /// Distance of the first ask from the reference price after skew, in bps.
    pub ask_offset_bps: Decimal,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "quoting around {}", self.reference_price)?;
        match self.base_share {
            Some(share) => write!(f, ", base share {share}")?,
            None => f.write_str(", empty portfolio")?,
        }
        write!(
            f,
            ", deviation {}, first bid -{} bps, first ask +{} bps",
            self.deviation, self.bid_offset_bps, self.ask_offset_bps
        )
    }
}

/// The outcome of one run of the strategy.
///
/// The caller cancels [`Decision::cancels`] first, then places [`Decision::places`]: the
/// places may need the funds the cancels release. Afterwards the live orders are exactly
/// [`Decision::kept`] plus the placed ones ([`Decision::resulting_quotes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Why: quoting (with the numbers behind the ladder), or halted.
    pub reason: Reason,
    /// The ladder the strategy wants, bids then asks, from the reference price outwards.
    /// Empty when halted.
    pub desired: Vec<Quote>,
    /// Live orders left alone, each standing for one desired quote.
    pub kept: Vec<Kept>,
    /// Live orders to cancel, each with its reason.
    pub cancels: Vec<Cancel>,
    /// Orders to place: the desired quotes no live order stands for, inner levels first.
    pub places: Vec<Quote>,
    /// How the ladder was adjusted (levels merged, cut or dropped), for the log.
    pub notes: Vec<Note>,
}

impl Decision {
    /// True when quoting is halted (every live order is cancelled).
    pub fn is_halted(&self) -> bool {
        matches!(self.reason, Reason::Halted(_))
    }

    /// True when there is nothing to cancel and nothing to place.
    pub fn is_noop(&self) -> bool {
        self.cancels.is_empty() && self.places.is_empty()
    }

    /// The quotes live once the decision is carried out: the kept orders (with their live
    /// price and size) and the placed ones, bids then asks, from the reference price out.
    pub fn resulting_quotes(&self) -> Vec<Quote> {
        let mut quotes: Vec<Quote> = self
            .kept
            .iter()
            .map(|kept| kept.quote)
            .chain(self.places.iter().copied())
            .collect();
        quotes.sort_by_key(|quote| outward_key(quote.side, quote.price));
        quotes
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; keep {}, cancel {}, place {}",
            self.reason,
            self.kept.len(),
            self.cancels.len(),
            self.places.len()
        )
    }
}

/// Sorts bids before asks, each from the reference price outwards.
pub(crate) fn outward_key(side: Side, price: Ticks) -> (Side, u64) {
    match side {
        Side::Buy => (side, u64::MAX - price.0),
        Side::Sell => (side, price.0),
    }
}
