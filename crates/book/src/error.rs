use dex_primitives::{Address, Lots, MarketId, OrderId, Side, Ticks, UnixMillis};

/// Why the book refused an operation. A refused operation changes nothing: no state, no
/// events. Each variant carries the values that matter, so the node can map it to a gossip
/// verdict (most are `Ignore`: stale, duplicate or closed) or to an API problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The order belongs to another market than this book's.
    #[error("order is for market {got}, this book is {expected}")]
    WrongMarket {
        /// This book's market.
        expected: MarketId,
        /// The order's market.
        got: MarketId,
    },
    /// The order's `expiresAt` is not after the latest `now` the book was given.
    #[error("order {id} expired at {expires_at} (book time {now})")]
    Expired {
        /// The order.
        id: OrderId,
        /// Its `expiresAt`.
        expires_at: UnixMillis,
        /// The latest `now` the book has seen.
        now: UnixMillis,
    },
    /// The order is already open in the book (a re-gossiped or re-synced copy).
    #[error("order {id} is already in the book")]
    AlreadyOpen {
        /// The order.
        id: OrderId,
    },
    /// The order was cancelled, filled or dropped; its tombstone lasts until its expiry (or
    /// until forgotten under the cap) so a re-gossiped copy cannot bring it back.
    #[error("order {id} is closed (cancelled, filled or dropped)")]
    Closed {
        /// The order.
        id: OrderId,
    },
    /// The book holds no such order (never seen, expired, or evicted).
    #[error("unknown order {id}")]
    UnknownOrder {
        /// The order.
        id: OrderId,
    },
    /// The order is not held here and expires no later than a closed order whose tombstone
    /// was forgotten under the tombstone cap, so the book cannot tell it from one; taking it
    /// could bring a cancelled order back. An order signed with a later expiry is accepted.
    #[error(
        "order {id} expires at {expires_at}, not after {forgotten_until}: closed orders expiring by then were forgotten (tombstone cap) and it may be one"
    )]
    PossiblyClosed {
        /// The order.
        id: OrderId,
        /// Its `expiresAt`.
        expires_at: UnixMillis,
        /// [`crate::Book::forgotten_until`].
        forgotten_until: UnixMillis,
    },
    /// The order's maker is suspended and the book holds as many suspended orders as it may;
    /// the order comes back by sync once its maker is heard again.
    #[error("order {id} is of a silent maker and {cap} suspended orders are held already")]
    SuspendedFull {
        /// The refused order.
        id: OrderId,
        /// The configured cap.
        cap: usize,
    },
    /// The maker already has the maximum number of open orders in this market.
    #[error("maker {maker} already has {cap} open orders in this market")]
    MakerCapReached {
        /// The maker.
        maker: Address,
        /// The configured cap.
        cap: usize,
    },
    /// The book is at its global cap and the new order is the furthest from the mid, so it
    /// is the one that does not fit.
    #[error("book is full ({cap} orders) and order {id} is the furthest from the mid")]
    BookFull {
        /// The refused order.
        id: OrderId,
        /// The configured cap.
        cap: usize,
    },
    /// An update names a remaining quantity above the one the book holds. Remaining only
    /// goes down, so this is a stale update; nothing changes.
    #[error("update of order {id} would raise remaining from {current} to {update}")]
    RemainingWouldRise {
        /// The order.
        id: OrderId,
        /// Remaining quantity in the book.
        current: Lots,
        /// Remaining quantity in the update.
        update: Lots,
    },
    /// Reserving, releasing, committing or taking zero lots.
    #[error("quantity must be at least one lot")]
    ZeroQuantity,
    /// A reservation or take asks for more than the order offers (remaining minus reserved).
    #[error("order {id} has {available} available, {requested} requested")]
    InsufficientAvailable {
        /// The order.
        id: OrderId,
        /// The quantity asked for.
        requested: Lots,
        /// Remaining minus reserved.
        available: Lots,
    },
    /// Releasing more than is reserved on the order.
    #[error("order {id} has {reserved} reserved, cannot release {requested}")]
    ReleaseAboveReserved {
        /// The order.
        id: OrderId,
        /// The quantity to release.
        requested: Lots,
        /// The quantity reserved.
        reserved: Lots,
    },
    /// Committing more than is reserved on the order: only reserved quantity can be committed.
    #[error("order {id} has {reserved} reserved, cannot commit {requested}")]
    CommitAboveReserved {
        /// The order.
        id: OrderId,
        /// The quantity to commit.
        requested: Lots,
        /// The quantity reserved.
        reserved: Lots,
    },
    /// The order holds reserved quantity (takes in progress), so it cannot be unlisted.
    #[error("order {id} has {reserved} reserved")]
    Reserved {
        /// The order.
        id: OrderId,
        /// The quantity reserved.
        reserved: Lots,
    },
    /// The order's maker is suspended (not heard from); its orders are not offered.
    #[error("order {id} is suspended: its maker has not been heard from")]
    Suspended {
        /// The order.
        id: OrderId,
    },
    /// A take between two orders of the same maker (self-trade prevention).
    #[error("order {id} and the taker are both by {maker}")]
    SameMaker {
        /// The maker order.
        id: OrderId,
        /// Their common maker.
        maker: Address,
    },
    /// A take between two orders of the same side.
    #[error("order {id} and the taker are both {side} orders")]
    SameSide {
        /// The maker order.
        id: OrderId,
        /// Their common side.
        side: Side,
    },
    /// The taker's limit does not reach the maker order's price.
    #[error("taker limit {limit} does not cross order {id} at {price}")]
    PriceDoesNotCross {
        /// The maker order.
        id: OrderId,
        /// The maker order's price.
        price: Ticks,
        /// The taker's limit price.
        limit: Ticks,
    },
    /// The taker order has time priority over the maker order, so by the book's rule the
    /// maker order is the one that must take, not the other way round.
    #[error("taker {taker} is not later than order {id} (createdAt, then id)")]
    TakerNotLater {
        /// The maker order.
        id: OrderId,
        /// The taker order.
        taker: OrderId,
    },
    /// A take asks for more than the taker order's quantity.
    #[error("take of {requested} exceeds the taker's quantity {quantity}")]
    TakeExceedsTaker {
        /// The quantity asked for.
        requested: Lots,
        /// The taker's quantity.
        quantity: Lots,
    },
    /// A take below the maker order's `minFill` that is not its whole remaining quantity.
    #[error("take of {requested} from order {id} is below its minFill {min_fill}")]
    BelowMinFill {
        /// The maker order.
        id: OrderId,
        /// The quantity asked for.
        requested: Lots,
        /// The order's `minFill`.
        min_fill: Lots,
    },
}
