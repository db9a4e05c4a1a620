//! What the book tells its owner after each mutation.

use dex_primitives::{Address, Lots, OrderId, Side, Ticks};

/// A snapshot of an order's book state, carried by events. It does not carry the maker:
/// every event would copy it, on the hot path of every insert and cancel. The owner knows
/// its own orders; for others, [`crate::Book::get`] answers while the order is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRef {
    /// The order.
    pub id: OrderId,
    /// Its side.
    pub side: Side,
    /// Its limit price.
    pub price: Ticks,
    /// Remaining quantity as last signed or committed (includes reserved lots).
    pub remaining: Lots,
    /// What the book offers: remaining minus reserved. Depth sums this.
    pub available: Lots,
    /// True while the maker is suspended: the order is held but not in depth or matching.
    pub suspended: bool,
}

/// Why an order left the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RemoveReason {
    /// Its maker signed an update with `remaining = 0`. Leaves a tombstone.
    Cancelled,
    /// Committed fills took its whole remaining quantity. Leaves a tombstone.
    Filled,
    /// Its `expiresAt` passed.
    Expired,
    /// The book was at its global cap and this was the order furthest from the mid. No
    /// tombstone: the order may come back (re-gossip, sync) when the book has room.
    Evicted,
    /// The node withdrew it from its book ([`crate::Book::remove`]). Leaves a tombstone.
    Dropped,
    /// Shown closed where it was posted, its end missed here ([`crate::Book::unlist`]). No
    /// tombstone: the order comes back (sync, re-gossip) if it was a mistake.
    Unlisted,
}

impl RemoveReason {
    /// A stable lower-case name, for logs, metrics and the API stream.
    pub const fn as_str(self) -> &'static str {
        match self {
            RemoveReason::Cancelled => "cancelled",
            RemoveReason::Filled => "filled",
            RemoveReason::Expired => "expired",
            RemoveReason::Evicted => "evicted",
            RemoveReason::Dropped => "dropped",
            RemoveReason::Unlisted => "unlisted",
        }
    }
}

/// Two resting orders of different makers whose prices cross. Every node computes the same
/// taker: the later order by `(createdAt, id)`. Its maker's node must act (plan the take with
/// [`crate::Book::plan_resting`] and send take requests); the fill is at the maker order's
/// price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cross {
    /// The later order, which must take.
    pub taker: OrderId,
    /// The taker's maker, so a node can tell at a glance whether it must act.
    pub taker_maker: Address,
    /// The earlier order, which is taken.
    pub maker_order: OrderId,
    /// The earlier order's maker.
    pub maker: Address,
    /// The earlier order's price, at which they would trade.
    pub price: Ticks,
}

/// A change to the book, in the order it happened. Drain them with
/// [`crate::Book::drain_events`] after every call.
///
/// Events describe every order the book holds, including suspended ones (their
/// [`OrderRef::suspended`] is true; they are not in depth), so a consumer that maintains
/// depth from events applies only changes of orders that are not suspended, plus
/// [`Event::Suspended`] and [`Event::Restored`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// A full-word tag keeps the payload's copies aligned: with a one-byte tag the compiler
// copied events as unaligned 16-byte blocks from byte 1, which stalled store forwarding
// (measured: most of an insert's time in that one copy).
#[repr(u64)]
#[non_exhaustive]
pub enum Event {
    /// An order entered the book.
    Inserted(OrderRef),
    /// An order's remaining quantity went down, by a signed update or a commit, and is not
    /// zero (zero is [`Event::Removed`]).
    Reduced {
        /// The order after the change.
        order: OrderRef,
        /// Remaining quantity before the change.
        previous: Lots,
    },
    /// Quantity of the order was reserved for a take: it is no longer offered.
    Reserved {
        /// The order after the change.
        order: OrderRef,
        /// Lots reserved by this call.
        quantity: Lots,
    },
    /// Reserved quantity was released and is offered again.
    Released {
        /// The order after the change.
        order: OrderRef,
        /// Lots released by this call.
        quantity: Lots,
    },
    /// An order left the book.
    Removed {
        /// The order as it was just before the change that removed it.
        order: OrderRef,
        /// Why.
        reason: RemoveReason,
    },
    /// The order's maker was suspended: the order is held but no longer offered.
    Suspended(OrderRef),
    /// The order's maker was heard again: the order is offered again.
    Restored(OrderRef),
    /// An order became visible that crosses an order of another maker. Emitted once per
    /// taker per call: for the new order if it must take, and for each later order that now
    /// must take the new one.
    Crossed(Cross),
}
