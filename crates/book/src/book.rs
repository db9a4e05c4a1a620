//! The book's storage and every mutation.
//!
//! Layout, chosen for the hot paths (insert, cancel, take) and measured against the
//! alternatives in `benches/compare.rs`:
//! - orders live in an arena of [`Slot`]s addressed by `u32`; a freed slot is reused, so
//!   steady-state operation allocates nothing;
//! - each side is a [`Ladder`] of price levels kept in a slab, ordered by a sorted `Vec` of
//!   prices and indexed directly over a window of ticks around the best price; a slot
//!   records its level's id, so only creating a level searches. A level keeps its orders'
//!   slots in a `Vec` in price-time priority, so an insert appends, a cancel finds and
//!   removes a `u32` in one short contiguous run, and no operation touches neighbouring
//!   orders (linked lists through the slots cost a cache miss per neighbour);
//! - one hash map from order id to an 8-byte [`Entry`] (slot or tombstone), keyed with a
//!   cheap seeded hasher (ids are already uniform digests);
//! - a maker table; each maker keeps its orders' slots in a `Vec` (swap-removed; the slot
//!   knows its position), for suspension and per-maker caps, and so that self-trade checks
//!   compare two `u32`s;
//! - a min-queue of open orders' expiries ([`DueQueue`]: appends for the usual in-order
//!   arrivals, a heap for the rest), so expiry never scans; entries of orders that left
//!   early stay until they are due or until the queue holds twice the open orders (plus a
//!   slack), when it is compacted to the open orders alone; calls check one cached earliest
//!   due time;
//! - a min-queue of tombstones by expiry: they expire, and are forgotten under the cap, in
//!   that order.
//!
//! # Caps: every table is bounded
//! Peers choose what they send, and makers are free to create, so no table may grow with
//! what was ever received. Four caps bound what one book holds, whatever the sequence of
//! inserts, updates, removals, suspensions, restores and expiries:
//!
//! | what | cap | when full |
//! |---|---|---|
//! | visible orders | [`BookConfig::max_orders`] | the order furthest from the mid leaves (evicted, no tombstone: it may come back by gossip or sync), or the incoming one is refused if it is the furthest |
//! | suspended orders | [`BookConfig::max_suspended`] | an order that would be suspended is dropped instead: refused on insert ([`Error::SuspendedFull`]), evicted on suspension (the maker's orders of least time priority first); it comes back by sync when its maker is heard again and its `ordersRoot` differs |
//! | tombstones | [`BookConfig::max_tombstones`] | [`Book::forgotten_until`] rises to the earliest expiry among them, and the tombstones expiring by then (that one, and any sharing its expiry) are forgotten |
//! | open orders per maker | [`BookConfig::max_orders_per_maker`] | the maker's next order is refused ([`Error::MakerCapReached`]) |
//!
//! So the ids held are at most `max_orders + max_suspended + max_tombstones`
//! ([`BookConfig::max_held`]); the arena of slots, the maker table and the expiry heaps are
//! bounded by the same numbers ([`Book::footprint`]).
//!
//! Forgetting a tombstone must not let its order back (a ghost: a cancelled order replayed
//! by gossip or served by a peer's sync). So a forgotten tombstone leaves a watermark: an
//! order not held here whose `expiresAt` is at or before [`Book::forgotten_until`] is
//! refused ([`Error::PossiblyClosed`]), because the book can no longer tell it from the
//! closed orders it forgot. Every forgotten order expires by the watermark, so none can come
//! back; what it costs is that, while the watermark is ahead of the book's time, new orders
//! expiring before it are refused too, and must be re-signed with a later expiry. The
//! watermark only moves when the tombstone cap binds, and it moves to the earliest expiry
//! still remembered at most, so a market whose cancels and fills within an order lifetime
//! stay under the cap never sees it. The alternatives are worse: forgetting without a
//! watermark lets cancelled orders back, and refusing every insert while tombstones are full
//! hands any flood of cancels (makers cost nothing) a stop of the whole market. Tombstones
//! are not counted per maker: makers are free to create, so a per-maker count bounds
//! nothing, and the watermark keeps ghosts out whoever's tombstone is forgotten.

use std::{
    collections::{HashMap, hash_map},
    sync::Arc,
};

use dex_primitives::{
    Address, Lots, MarketId, OrderId, Side, Ticks, UnixMillis, VerifiedOrder, VerifiedUpdate,
};

use crate::{
    Error,
    due::{Due, DueQueue},
    event::{Cross, Event, OrderRef, RemoveReason},
    hash::SeededState,
    ladder::Ladder,
};

/// Limits of one book. The defaults follow DESIGN §3 and §5; the module docs of `book.rs`
/// explain what happens when each one binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookConfig {
    /// Open orders (visible or suspended) one maker may have in this market. Default 1,000.
    pub max_orders_per_maker: usize,
    /// Visible orders the book holds; past it the order furthest from the mid is evicted.
    /// Default 100,000.
    pub max_orders: usize,
    /// Orders held while their maker is silent. Past it an order that would be suspended is
    /// dropped instead (it comes back by sync once its maker is heard). A node that joins
    /// holds every synced order suspended until its maker's heartbeat arrives, so this
    /// should not be below `max_orders`. Default 100,000.
    pub max_suspended: usize,
    /// Closed (cancelled, filled, dropped) orders remembered until their expiry so that a
    /// replay cannot bring them back. Past it the ones expiring first are forgotten and the
    /// book refuses new orders expiring no later than they do ([`Book::forgotten_until`]). Size
    /// it above the cancels and fills a market sees within a typical order lifetime.
    /// Default 200,000.
    pub max_tombstones: usize,
    /// Seed of the hasher of order ids and addresses. A node should pick a random one so
    /// peers cannot grind ids into one hash bucket; it does not affect any observable state.
    pub hash_seed: u64,
}

impl Default for BookConfig {
    fn default() -> Self {
        BookConfig {
            max_orders_per_maker: 1_000,
            max_orders: 100_000,
            max_suspended: 100_000,
            max_tombstones: 200_000,
            hash_seed: 0,
        }
    }
}

impl BookConfig {
    /// The most ids the book ever holds: visible, suspended and closed together.
    pub fn max_held(&self) -> usize {
        self.max_orders
            .saturating_add(self.max_suspended)
            .saturating_add(self.max_tombstones)
    }

    /// Stale entries the expiry heap may hold beyond twice the open orders before it is
    /// rebuilt: a sixteenth of the open-order caps, at least 64 (12,500 at the defaults, half
    /// a megabyte). Each rebuild looks up every entry once, so the slack is what makes it
    /// cost about one lookup per insert in a book far below its caps, instead of two.
    pub fn expiry_slack(&self) -> usize {
        (self.max_orders.saturating_add(self.max_suspended) / 16).max(64)
    }
}

/// Entry counts of a book's tables (not bytes), each bounded by the caps, with
/// `open = max_orders + max_suspended`: ids held (open orders and tombstones) ≤
/// [`BookConfig::max_held`]; tombstone heap entries = tombstones; expiry heap entries ≤
/// 2 × `open` + [`BookConfig::expiry_slack`]; slots ≤ `open` (or the capacity asked for at
/// construction); makers ≤ `open`; spare level queues ≤ 512.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Footprint {
    /// Ids in the id map: open orders and tombstones.
    pub ids: usize,
    /// Entries of the expiry heap of open orders, stale ones included.
    pub expiry_entries: usize,
    /// Entries of the tombstone heap.
    pub tombstone_entries: usize,
    /// Slots of the order arena, free ones included.
    pub slots: usize,
    /// Entries of the maker table, free ones included.
    pub makers: usize,
    /// Emptied level queues kept for reuse.
    pub spare_queues: usize,
}

/// Largest capacity a freed maker's order list keeps for reuse: a maker entry is reused by
/// other makers, and one that once held many orders must not keep that memory forever.
const MAKER_LIST_KEEP: usize = 64;

/// What the id map knows about an order, packed in 8 bytes: an open order's slot, or a
/// tombstone with the time until which it is kept (unix milliseconds fit in 63 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry(u64);

const CLOSED: u64 = 1 << 63;

impl Entry {
    #[inline]
    pub(crate) fn open(slot: u32) -> Entry {
        Entry(u64::from(slot))
    }

    #[inline]
    fn closed(until: UnixMillis) -> Entry {
        Entry(CLOSED | (until & !CLOSED))
    }

    /// The slot of an open order, or the expiry of a tombstone.
    #[inline]
    pub(crate) fn get(self) -> Result<u32, UnixMillis> {
        if self.0 & CLOSED == 0 {
            Ok(self.0 as u32)
        } else {
            Err(self.0 & !CLOSED)
        }
    }
}

/// An order in the arena: two cache lines, the first with everything matching and the
/// level bookkeeping read, the second with the id and the signed data.
#[derive(Debug)]
#[repr(C, align(64))]
pub(crate) struct Slot {
    pub(crate) price: u64,
    pub(crate) created_at: UnixMillis,
    /// Open quantity as last signed or committed; includes `reserved`.
    pub(crate) remaining: u64,
    /// Part of `remaining` promised to takes in progress; never offered.
    pub(crate) reserved: u64,
    pub(crate) min_fill: u64,
    pub(crate) expires_at: UnixMillis,
    /// Index in the maker table.
    pub(crate) maker: u32,
    /// Id of its price level in its side's ladder, while visible.
    pub(crate) level: u32,
    pub(crate) side: Side,
    pub(crate) suspended: bool,
    /// Lots committed to swaps through this book.
    pub(crate) committed: u64,
    pub(crate) id: OrderId,
    /// The signed order; `None` marks a free slot.
    pub(crate) order: Option<Arc<VerifiedOrder>>,
    /// The latest signed update applied, proof of `remaining` for sync.
    pub(crate) proof: Option<Box<VerifiedUpdate>>,
}

impl Slot {
    /// Makes this (free) slot hold `order`, writing the fields in place: building a
    /// 128-byte `Slot` and moving it in costs a chain of stack copies on every insert.
    #[inline]
    fn fill(&mut self, order: Arc<VerifiedOrder>, maker: u32, suspended: bool) {
        let fields = order.order();
        self.price = fields.price.0;
        self.created_at = fields.created_at;
        self.remaining = fields.quantity.0;
        self.reserved = 0;
        self.min_fill = fields.min_fill.0;
        self.expires_at = fields.expires_at;
        self.maker = maker;
        self.level = 0;
        self.side = fields.side;
        self.suspended = suspended;
        self.committed = 0;
        self.id = order.id();
        self.proof = None;
        self.order = Some(order);
    }

    /// An unused slot.
    fn free() -> Slot {
        Slot {
            price: 0,
            created_at: 0,
            remaining: 0,
            reserved: 0,
            min_fill: 0,
            expires_at: 0,
            maker: 0,
            level: 0,
            side: Side::Buy,
            suspended: false,
            committed: 0,
            id: OrderId::default(),
            order: None,
            proof: None,
        }
    }

    /// The signed quantity (read from the signed order: matching never needs it).
    pub(crate) fn quantity(&self) -> u64 {
        self.order
            .as_ref()
            .map_or(0, |order| order.order().quantity.0)
    }

    #[inline]
    pub(crate) fn available(&self) -> u64 {
        self.remaining - self.reserved
    }

    /// Time priority: `(createdAt, id)`, smaller first.
    #[inline]
    pub(crate) fn priority(&self) -> (UnixMillis, &OrderId) {
        (self.created_at, &self.id)
    }
}

/// A maker known to the book (it has open orders here).
#[derive(Debug, Clone)]
pub(crate) struct Maker {
    pub(crate) address: Address,
    pub(crate) suspended: bool,
    /// Slots of its open orders, in no particular order.
    pub(crate) orders: Vec<u32>,
}

/// Everything but the id map and the expiry heap, so the map's entry for an order can stay
/// borrowed while the rest of the book changes (one hash lookup per cancel or fill).
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) slots: Vec<Slot>,
    /// Each slot's position in its maker's list. Kept apart from the slots: a removal moves
    /// another order of the maker, and updating this dense array does not pull that order's
    /// slot into the cache.
    maker_positions: Vec<u32>,
    free: Vec<u32>,
    pub(crate) makers: Vec<Maker>,
    pub(crate) maker_index: HashMap<Address, u32, SeededState>,
    free_makers: Vec<u32>,
    pub(crate) bids: Ladder,
    pub(crate) asks: Ladder,
    /// Orders in the ladders (open and not suspended).
    pub(crate) visible: usize,
    pub(crate) events: Vec<Event>,
}

/// The deterministic order book of one market.
///
/// It holds [`VerifiedOrder`]s by price level in price-time priority (time is the signed
/// `createdAt`, ties broken by order id), applies signed updates, suspends and restores
/// makers, expires orders at the `now` it is given, plans matches without changing anything,
/// and keeps reservations of the maker side of takes. Every mutation appends [`Event`]s,
/// which the owner drains with [`Book::drain_events`].
///
/// Determinism: the visible contents (depth, digest, plans, pending crosses) depend only on
/// the set of orders, updates, removals and expiries applied, not on their order, because
/// (1) priority uses signed fields only, (2) remaining quantity only goes down (the minimum
/// is kept), (3) removed orders leave a tombstone until their expiry, and (4) the book's time
/// is the largest `now` it was given and every call that takes a `now` first expires what is
/// due, so an order is refused or expired the same way whatever came first. The caps are a
/// defence against abuse and make the result depend on arrival order once they bind (the
/// same sequence of calls still gives the same book); see the module docs for what each
/// cap does when it binds.
#[derive(Debug)]
pub struct Book {
    pub(crate) market: MarketId,
    pub(crate) config: BookConfig,
    pub(crate) index: HashMap<OrderId, Entry, SeededState>,
    pub(crate) expiries: DueQueue,
    /// Every tombstone with its expiry: the soonest expire, or are forgotten, first. Ordered
    /// by time alone, like `expiries`: ties are forgotten together.
    pub(crate) closed: DueQueue,
    /// No entry of `expiries` or `closed` is due before this time, so a call whose `now`
    /// is earlier has nothing to expire (it may be earlier than the first entry: entries
    /// removed by compaction or forgetting do not raise it).
    pub(crate) next_due: UnixMillis,
    /// The latest expiry of a tombstone forgotten under the cap (0: none).
    forgotten_until: UnixMillis,
    /// Tombstones forgotten under the cap so far.
    forgotten: u64,
    /// [`BookConfig::expiry_slack`], computed once.
    expiry_slack: usize,
    pub(crate) clock: UnixMillis,
    pub(crate) tombstones: usize,
    /// Events drained so far: with those not drained yet, the book's [`Book::revision`].
    drained: u64,
    pub(crate) core: Core,
}

/// The order to evict to make room, if any.
enum Victim {
    /// The incoming order is the furthest from the mid: refuse it.
    Incoming,
    /// Evict this resting order.
    Resting(u32),
}

impl Book {
    /// An empty book for `market`.
    pub fn new(market: MarketId, config: BookConfig) -> Book {
        Book::with_capacity(market, config, 0)
    }

    /// An empty book with room for `orders` orders (open and tombstones) before it
    /// allocates, for a node that knows the size of its markets. The memory is written once
    /// here (as `lobster` does with its arena), so the first `orders` inserts neither
    /// allocate nor take a page fault: a burst of gossip meets no latency spike.
    pub fn with_capacity(market: MarketId, config: BookConfig, orders: usize) -> Book {
        let state = SeededState::new(config.hash_seed);
        let mut index = HashMap::with_capacity_and_hasher(orders, state);
        let mut expiries = DueQueue::with_capacity(orders);
        let mut closed = DueQueue::with_capacity(orders);
        for number in 0..orders as u64 {
            // Distinct ids spread like digests (the hasher reads their first and last bytes).
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(
                &(number + 1)
                    .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    .to_le_bytes(),
            );
            bytes[24..].copy_from_slice(&number.to_le_bytes());
            let id = OrderId(bytes.into());
            index.insert(id, Entry::open(0));
            expiries.push(Due { at: 0, id });
            closed.push(Due { at: 0, id });
        }
        // Emptied, keeping the allocations (and the pages just touched).
        index.clear();
        expiries.clear();
        closed.clear();
        let slots: Vec<Slot> = (0..orders).map(|_| Slot::free()).collect();
        let free = (0..u32::try_from(orders).expect("fewer than 2^32 orders"))
            .rev()
            .collect();
        Book {
            market,
            config,
            index,
            expiries,
            closed,
            next_due: UnixMillis::MAX,
            forgotten_until: 0,
            forgotten: 0,
            expiry_slack: config.expiry_slack(),
            clock: 0,
            tombstones: 0,
            drained: 0,
            core: Core {
                slots,
                maker_positions: vec![0; orders],
                free,
                makers: Vec::new(),
                maker_index: HashMap::with_hasher(state),
                free_makers: Vec::new(),
                bids: Ladder::new(Side::Buy),
                asks: Ladder::new(Side::Sell),
                visible: 0,
                events: Vec::new(),
            },
        }
    }

    /// The market of this book.
    pub fn market(&self) -> MarketId {
        self.market
    }

    /// The limits in force.
    pub fn config(&self) -> &BookConfig {
        &self.config
    }

    /// The book's time: the largest `now` any call gave it.
    pub fn now(&self) -> UnixMillis {
        self.clock
    }

    /// The latest expiry of a tombstone forgotten under [`BookConfig::max_tombstones`], 0 if
    /// none was: orders not held here that expire at or before it are refused
    /// ([`Error::PossiblyClosed`]). It matters only while it is after [`Book::now`].
    pub fn forgotten_until(&self) -> UnixMillis {
        self.forgotten_until
    }

    /// Tombstones forgotten under the cap since the book was made.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// The sizes of the book's tables, each bounded by the caps (see [`Footprint`]).
    pub fn footprint(&self) -> Footprint {
        Footprint {
            ids: self.index.len(),
            expiry_entries: self.expiries.len(),
            tombstone_entries: self.closed.len(),
            slots: self.core.slots.len(),
            makers: self.core.makers.len(),
            spare_queues: self.core.bids.spare_queues() + self.core.asks.spare_queues(),
        }
    }

    /// The events of the calls since the last drain, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, Event> {
        self.drained += self.core.events.len() as u64;
        self.core.events.drain(..)
    }

    /// The number of events the book has ever appended. Every mutation appends at least
    /// one, so an equal revision means the same contents (depth, orders), and a cache of
    /// anything read from the book stays valid while the revision does.
    pub fn revision(&self) -> u64 {
        self.drained + self.core.events.len() as u64
    }

    /// The events not drained yet.
    pub fn events(&self) -> &[Event] {
        &self.core.events
    }

    /// Adds a resting order (it stays even if it crosses: crosses are reported with
    /// [`Event::Crossed`], never matched by the book, which cannot swap).
    ///
    /// `now` advances the book's time and expires what is due first. Refused, with nothing
    /// changed: another market; `expiresAt` not after the book's time; already open; closed
    /// (tombstone); `expiresAt` not after [`Book::forgotten_until`] (it may be a closed order
    /// whose tombstone was forgotten); the maker's cap reached; the book full with this order
    /// the furthest from the mid. An order of a suspended maker is held suspended
    /// ([`Event::Inserted`] then [`Event::Suspended`]), or refused if the suspended orders are
    /// at their cap.
    pub fn insert(&mut self, order: Arc<VerifiedOrder>, now: UnixMillis) -> Result<(), Error> {
        let fields = order.order();
        let id = order.id();
        if fields.market != self.market {
            return Err(Error::WrongMarket {
                expected: self.market,
                got: fields.market,
            });
        }
        self.advance(now);
        if fields.expires_at <= self.clock {
            return Err(Error::Expired {
                id,
                expires_at: fields.expires_at,
                now: self.clock,
            });
        }
        if let Some(entry) = self.index.get(&id) {
            return Err(match entry.get() {
                Ok(_) => Error::AlreadyOpen { id },
                Err(_) => Error::Closed { id },
            });
        }
        if fields.expires_at <= self.forgotten_until {
            return Err(Error::PossiblyClosed {
                id,
                expires_at: fields.expires_at,
                forgotten_until: self.forgotten_until,
            });
        }
        // Hashed in place: a copy of the 20-byte address on the stack is read back across
        // two stores, which stalls store forwarding (measured).
        let known_maker = self.core.maker_index.get(&fields.maker).copied();
        let (open, suspended) = known_maker.map_or((0, false), |maker| {
            let maker = &self.core.makers[maker as usize];
            (maker.orders.len(), maker.suspended)
        });
        if open >= self.config.max_orders_per_maker {
            return Err(Error::MakerCapReached {
                maker: fields.maker,
                cap: self.config.max_orders_per_maker,
            });
        }
        if suspended && self.suspended_count() >= self.config.max_suspended {
            return Err(Error::SuspendedFull {
                id,
                cap: self.config.max_suspended,
            });
        }
        let expires_at = fields.expires_at;
        let maker = if !suspended && self.core.visible >= self.config.max_orders {
            match self.victim(fields.price.0, fields.created_at, &id) {
                Victim::Incoming => {
                    return Err(Error::BookFull {
                        id,
                        cap: self.config.max_orders,
                    });
                }
                Victim::Resting(victim) => {
                    self.evict(victim);
                    // The victim may have been the maker's last order, freeing its entry.
                    match self.core.maker_index.get(&fields.maker) {
                        Some(maker) => *maker,
                        None => self.core.add_maker(fields.maker),
                    }
                }
            }
        } else {
            match known_maker {
                Some(maker) => maker,
                None => self.core.add_maker(fields.maker),
            }
        };
        let slot = self.core.alloc(order, maker, suspended);
        self.index.insert(id, Entry::open(slot));
        self.push_expiry(expires_at, id);
        self.core.place(slot, maker);
        Ok(())
    }

    /// Open orders held suspended.
    #[inline]
    fn suspended_count(&self) -> usize {
        self.index.len() - self.tombstones - self.core.visible
    }

    /// Adds an open order's expiry to the heap, first rebuilding the heap from the open
    /// orders if orders that left early (evicted, cancelled, filled) have made it more than
    /// twice their number plus [`BookConfig::expiry_slack`]: without that, churn would grow
    /// it for a whole order lifetime. Each entry would be popped at its expiry anyway (a
    /// lookup and a sift); a rebuild removes most of them earlier, for a lookup each.
    #[inline]
    fn push_expiry(&mut self, at: UnixMillis, id: OrderId) {
        let open = self.index.len() - self.tombstones;
        if self.expiries.len() >= 2 * open + self.expiry_slack {
            self.compact_expiries();
        }
        self.expiries.push(Due { at, id });
        self.next_due = self.next_due.min(at);
    }

    /// Keeps one queue entry per open order: stale entries (the id is closed, forgotten or
    /// re-inserted after an eviction, so named twice) go. One linear pass (and a heapify of
    /// the out-of-order part), no sort (sorting 32-byte ids cost a fifth of a mixed
    /// workload); the allocations are reused.
    #[cold]
    fn compact_expiries(&mut self) {
        let (index, slots) = (&self.index, &self.core.slots);
        // A bit per slot: its order's entry is kept already.
        let mut kept = vec![0u64; slots.len().div_ceil(64)];
        self.expiries
            .retain(|due| match index.get(&due.id).map(|entry| entry.get()) {
                Some(Ok(slot)) if slots[slot as usize].expires_at == due.at => {
                    let (word, bit) = (slot as usize / 64, 1u64 << (slot % 64));
                    let first = kept[word] & bit == 0;
                    kept[word] |= bit;
                    first
                }
                _ => false,
            });
    }

    /// Records the tombstone of an order just closed (its map entry already says so). While
    /// there are more than the cap, the soonest expiry among them becomes
    /// [`Book::forgotten_until`] and every tombstone expiring by then is forgotten: the
    /// watermark refuses their orders already, so none of them can come back.
    fn remember_closed(&mut self, id: OrderId, until: UnixMillis) {
        self.tombstones += 1;
        self.closed.push(Due { at: until, id });
        self.next_due = self.next_due.min(until);
        if self.tombstones > self.config.max_tombstones
            && let Some(first) = self.closed.peek()
        {
            self.forgotten_until = self.forgotten_until.max(first.at);
            while let Some(due) = self.closed.pop_due(self.forgotten_until) {
                let removed = self.index.remove(&due.id);
                debug_assert!(matches!(removed.map(Entry::get), Some(Err(_))));
                self.tombstones -= 1;
                self.forgotten += 1;
            }
        }
    }

    /// Applies a signed update. Remaining only goes down: a lower value replaces the
    /// current one (reservations above it are cut to it), zero cancels the order and leaves
    /// a tombstone, an equal value changes nothing but is kept as proof of `remaining` if
    /// none is held, and a higher value is refused as stale.
    pub fn apply_update(&mut self, update: &VerifiedUpdate) -> Result<(), Error> {
        let id = update.order_id();
        let new_remaining = update.remaining().0;
        let Some(entry) = self.index.get_mut(&id) else {
            return Err(Error::UnknownOrder { id });
        };
        let Ok(slot) = entry.get() else {
            return Err(Error::Closed { id });
        };
        let core = &mut self.core;
        let current = core.slots[slot as usize].remaining;
        if new_remaining > current {
            return Err(Error::RemainingWouldRise {
                id,
                current: Lots(current),
                update: Lots(new_remaining),
            });
        }
        if new_remaining == 0 {
            let expires_at = core.close(slot, RemoveReason::Cancelled);
            *entry = Entry::closed(expires_at);
            self.remember_closed(id, expires_at);
            return Ok(());
        }
        let held = &mut core.slots[slot as usize];
        let keep_proof = match &held.proof {
            None => true,
            Some(proof) => proof.remaining().0 > new_remaining,
        };
        if keep_proof {
            held.proof = Some(Box::new(*update));
        }
        if new_remaining < current {
            core.reduce(slot, new_remaining);
        }
        Ok(())
    }

    /// Withdraws an order from this node's book without a signed update (for instance a
    /// maker the node stopped trusting). It leaves a tombstone like a cancel.
    pub fn remove(&mut self, id: OrderId) -> Result<(), Error> {
        let Some(entry) = self.index.get_mut(&id) else {
            return Err(Error::UnknownOrder { id });
        };
        let Ok(slot) = entry.get() else {
            return Err(Error::Closed { id });
        };
        let expires_at = self.core.close(slot, RemoveReason::Dropped);
        *entry = Entry::closed(expires_at);
        self.remember_closed(id, expires_at);
        Ok(())
    }

    /// Withdraws an open order shown closed where it was posted (its cancel or fill was
    /// missed here), without a tombstone: if that was a mistake (the node that posted it
    /// had lost it in a restart, say, and got it back), a later sync brings it back. The
    /// order must hold no reservation.
    pub fn unlist(&mut self, id: OrderId) -> Result<(), Error> {
        let Some(entry) = self.index.get(&id) else {
            return Err(Error::UnknownOrder { id });
        };
        let Ok(slot) = entry.get() else {
            return Err(Error::Closed { id });
        };
        let reserved = self.core.slots[slot as usize].reserved;
        if reserved > 0 {
            return Err(Error::Reserved {
                id,
                reserved: Lots(reserved),
            });
        }
        self.core.close(slot, RemoveReason::Unlisted);
        // Its expiry stays in the heap, which tolerates ids it no longer holds (as after an
        // eviction).
        self.index.remove(&id);
        Ok(())
    }

    /// Advances the book's time to `now` (if later) and removes every order and tombstone
    /// whose `expiresAt` is not after it. Returns the number of orders expired.
    pub fn expire(&mut self, now: UnixMillis) -> usize {
        self.advance(now)
    }

    #[inline]
    fn advance(&mut self, now: UnixMillis) -> usize {
        self.clock = self.clock.max(now);
        if self.next_due > self.clock {
            return 0;
        }
        self.remove_due()
    }

    /// Removes the tombstones and the orders due at the book's time; returns the number of
    /// orders expired.
    #[inline(never)]
    fn remove_due(&mut self) -> usize {
        // Tombstones first: every tombstone expires after the time it was made at, so none
        // is of an order expiring now.
        while let Some(due) = self.closed.pop_due(self.clock) {
            let removed = self.index.remove(&due.id);
            debug_assert!(matches!(removed.map(Entry::get), Some(Err(_))));
            self.tombstones -= 1;
        }
        let mut due = Vec::new();
        while let Some(next) = self.expiries.pop_due(self.clock) {
            due.push((next.at, next.id));
        }
        let earliest = |queue: &DueQueue| queue.peek().map_or(UnixMillis::MAX, |due| due.at);
        self.next_due = earliest(&self.closed).min(earliest(&self.expiries));
        if due.is_empty() {
            return 0;
        }
        due.sort_unstable();
        let mut expired = 0;
        for (_, id) in due {
            // The heap may name an id that was evicted (and maybe re-inserted with the same
            // expiry, so named twice) or closed (its tombstone has its own heap): the map is
            // the truth.
            if let hash_map::Entry::Occupied(entry) = self.index.entry(id)
                && let Ok(slot) = entry.get().get()
                && self.core.slots[slot as usize].expires_at <= self.clock
            {
                self.core.close(slot, RemoveReason::Expired);
                entry.remove();
                expired += 1;
            }
        }
        expired
    }

    /// Suspends every open order of `maker` (liveness timeout): they stay in the book, out of
    /// depth, matching and crosses, until [`Book::restore_maker`]. New orders of the maker
    /// arrive suspended. Returns the number of orders suspended (events in priority order);
    /// a maker with no open order here is not recorded.
    ///
    /// Orders past [`BookConfig::max_suspended`] are evicted instead (no tombstone): the
    /// maker's orders are suspended in time priority while there is room and the rest
    /// evicted. A node learns them again by sync once the maker is heard and its
    /// `ordersRoot` differs.
    pub fn suspend_maker(&mut self, maker: Address) -> usize {
        let Some(&index) = self.core.maker_index.get(&maker) else {
            return 0;
        };
        let room = self
            .config
            .max_suspended
            .saturating_sub(self.suspended_count());
        let core = &mut self.core;
        core.makers[index as usize].suspended = true;
        let slots = core.maker_slots(index, false);
        let (kept, evicted) = slots.split_at(room.min(slots.len()));
        for slot in kept {
            core.unlink_level(*slot);
            core.visible -= 1;
            core.slots[*slot as usize].suspended = true;
            let order = core.order_ref(*slot);
            core.events.push(Event::Suspended(order));
        }
        for slot in evicted {
            // Reservations go with it: only own orders have them, and a node never suspends
            // its own makers.
            self.evict(*slot);
        }
        kept.len()
    }

    /// Puts the suspended orders of `maker` back (it was heard again), in priority order.
    /// Crosses they make are reported; if the book is at its cap, the orders furthest from
    /// the mid are evicted (which may be restored ones). Returns the number restored.
    pub fn restore_maker(&mut self, maker: Address) -> usize {
        let Some(&index) = self.core.maker_index.get(&maker) else {
            return 0;
        };
        let core = &mut self.core;
        core.makers[index as usize].suspended = false;
        let slots = core.maker_slots(index, true);
        let mut restored = 0;
        for slot in slots {
            if self.core.visible >= self.config.max_orders {
                let held = &self.core.slots[slot as usize];
                let (price, created_at, id) = (held.price, held.created_at, held.id);
                match self.victim(price, created_at, &id) {
                    Victim::Incoming => {
                        // Still suspended, so not in a level: close removes it cleanly.
                        self.evict(slot);
                        continue;
                    }
                    Victim::Resting(victim) => self.evict(victim),
                }
            }
            let core = &mut self.core;
            core.slots[slot as usize].suspended = false;
            core.link_level(slot);
            core.visible += 1;
            let order = core.order_ref(slot);
            core.events.push(Event::Restored(order));
            core.detect_crosses(slot);
            restored += 1;
        }
        restored
    }

    /// Reserves `quantity` of a resting order for a take in progress (the maker side): it
    /// stops being offered until released or committed. The order must be open, not
    /// suspended, with at least `quantity` available.
    pub fn reserve(&mut self, id: OrderId, quantity: Lots) -> Result<(), Error> {
        let slot = self.open_slot(id)?;
        if quantity.is_zero() {
            return Err(Error::ZeroQuantity);
        }
        let core = &mut self.core;
        let held = &core.slots[slot as usize];
        if held.suspended {
            return Err(Error::Suspended { id });
        }
        let available = held.available();
        if quantity.0 > available {
            return Err(Error::InsufficientAvailable {
                id,
                requested: quantity,
                available: Lots(available),
            });
        }
        core.slots[slot as usize].reserved += quantity.0;
        core.adjust_level(slot, available, available - quantity.0);
        let order = core.order_ref(slot);
        core.events.push(Event::Reserved { order, quantity });
        Ok(())
    }

    /// Releases reserved quantity (the take was refused or its swap never started): it is
    /// offered again.
    pub fn release(&mut self, id: OrderId, quantity: Lots) -> Result<(), Error> {
        let slot = self.open_slot(id)?;
        if quantity.is_zero() {
            return Err(Error::ZeroQuantity);
        }
        let core = &mut self.core;
        let held = &core.slots[slot as usize];
        if quantity.0 > held.reserved {
            return Err(Error::ReleaseAboveReserved {
                id,
                requested: quantity,
                reserved: Lots(held.reserved),
            });
        }
        let available = held.available();
        core.slots[slot as usize].reserved -= quantity.0;
        core.adjust_level(slot, available, available + quantity.0);
        let order = core.order_ref(slot);
        core.events.push(Event::Released { order, quantity });
        if available == 0 && !order.suspended {
            // Offered again: it may cross orders it could not be taken against before.
            core.detect_crosses(slot);
        }
        Ok(())
    }

    /// Commits reserved quantity (the swap started): remaining goes down by `quantity`, as
    /// the maker's next signed update will say. Returns the new remaining quantity; at zero
    /// the order is removed as filled and leaves a tombstone.
    ///
    /// The node then signs `Update { remaining }` with the returned value, gossips it, and
    /// applies it here too: being equal, it only becomes the proof of `remaining`.
    pub fn commit(&mut self, id: OrderId, quantity: Lots) -> Result<Lots, Error> {
        let Some(entry) = self.index.get_mut(&id) else {
            return Err(Error::UnknownOrder { id });
        };
        let Ok(slot) = entry.get() else {
            return Err(Error::Closed { id });
        };
        if quantity.is_zero() {
            return Err(Error::ZeroQuantity);
        }
        let core = &mut self.core;
        let held = &mut core.slots[slot as usize];
        if quantity.0 > held.reserved {
            return Err(Error::CommitAboveReserved {
                id,
                requested: quantity,
                reserved: Lots(held.reserved),
            });
        }
        held.committed += quantity.0;
        let remaining = held.remaining - quantity.0;
        if remaining == 0 {
            let expires_at = core.close(slot, RemoveReason::Filled);
            *entry = Entry::closed(expires_at);
            self.remember_closed(id, expires_at);
        } else {
            // Reserved lots were not offered, so the level's available quantity is unchanged.
            let previous = held.remaining;
            held.reserved -= quantity.0;
            held.remaining = remaining;
            let order = core.order_ref(slot);
            core.events.push(Event::Reduced {
                order,
                previous: Lots(previous),
            });
        }
        Ok(Lots(remaining))
    }

    /// The slot of an open order, or the error saying why there is none.
    pub(crate) fn open_slot(&self, id: OrderId) -> Result<u32, Error> {
        match self.index.get(&id).map(|entry| entry.get()) {
            Some(Ok(slot)) => Ok(slot),
            Some(Err(_)) => Err(Error::Closed { id }),
            None => Err(Error::UnknownOrder { id }),
        }
    }

    /// Removes an order without a tombstone (global cap).
    fn evict(&mut self, slot: u32) {
        let id = self.core.slots[slot as usize].id;
        self.core.close(slot, RemoveReason::Evicted);
        self.index.remove(&id);
    }

    /// Which order leaves when the book is full and `incoming` arrives: the one furthest
    /// from the mid; on equal distance the one with the least time priority. Orders with
    /// reserved quantity (takes in progress) are never chosen.
    fn victim(&self, price: u64, created_at: UnixMillis, id: &OrderId) -> Victim {
        let core = &self.core;
        let best_bid = core.bids.best().map(|level| u128::from(level.price));
        let best_ask = core.asks.best().map(|level| u128::from(level.price));
        // Twice the mid, so the distance stays an integer.
        let twice_mid = match (best_bid, best_ask) {
            (Some(bid), Some(ask)) => bid + ask,
            (Some(only), None) | (None, Some(only)) => 2 * only,
            // An empty book is never full (unless the cap is zero).
            (None, None) => return Victim::Incoming,
        };
        let distance = |price: u64| (2 * u128::from(price)).abs_diff(twice_mid);
        let mut best: (u128, UnixMillis, &OrderId, Option<u32>) =
            (distance(price), created_at, id, None);
        for ladder in [&core.bids, &core.asks] {
            if let Some(candidate) = core.eviction_candidate(ladder) {
                let held = &core.slots[candidate as usize];
                let key = (
                    distance(held.price),
                    held.created_at,
                    &held.id,
                    Some(candidate),
                );
                if (key.0, key.1, key.2) > (best.0, best.1, best.2) {
                    best = key;
                }
            }
        }
        match best.3 {
            None => Victim::Incoming,
            Some(slot) => Victim::Resting(slot),
        }
    }

    /// Shrinks storage after a burst (the book keeps capacity otherwise, to not allocate on
    /// the hot path).
    pub fn shrink_to_fit(&mut self) {
        self.index.shrink_to_fit();
        self.expiries.shrink_to_fit();
        self.core.events.shrink_to_fit();
        self.core.free.shrink_to_fit();
    }
}

impl Cross {
    /// The cross in which the order in `taker` takes the one in `maker`, at the maker's
    /// price; `makers` is the book's maker table.
    pub(crate) fn between(makers: &[Maker], taker: &Slot, maker: &Slot) -> Cross {
        Cross {
            taker: taker.id,
            taker_maker: makers[taker.maker as usize].address,
            maker_order: maker.id,
            maker: makers[maker.maker as usize].address,
            price: Ticks(maker.price),
        }
    }
}

impl Core {
    #[inline]
    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    #[inline]
    pub(crate) fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    #[inline]
    pub(crate) fn order_ref(&self, slot: u32) -> OrderRef {
        let held = &self.slots[slot as usize];
        OrderRef {
            id: held.id,
            side: held.side,
            price: Ticks(held.price),
            remaining: Lots(held.remaining),
            available: Lots(held.available()),
            suspended: held.suspended,
        }
    }

    /// The slots of `maker`'s open orders that are (or are not) `suspended`, in priority
    /// order.
    fn maker_slots(&self, maker: u32, suspended: bool) -> Vec<u32> {
        let mut slots: Vec<u32> = self.makers[maker as usize]
            .orders
            .iter()
            .copied()
            .filter(|slot| self.slots[*slot as usize].suspended == suspended)
            .collect();
        slots.sort_unstable_by(|a, b| {
            let a = &self.slots[*a as usize];
            let b = &self.slots[*b as usize];
            a.priority().cmp(&b.priority())
        });
        slots
    }

    #[inline]
    fn alloc(&mut self, order: Arc<VerifiedOrder>, maker: u32, suspended: bool) -> u32 {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 orders");
                self.slots.push(Slot::free());
                self.maker_positions.push(0);
                index
            }
        };
        self.slots[index as usize].fill(order, maker, suspended);
        index
    }

    fn add_maker(&mut self, address: Address) -> u32 {
        let index = match self.free_makers.pop() {
            Some(index) => {
                // Reuse the entry and the capacity of its (empty) list.
                let maker = &mut self.makers[index as usize];
                maker.address = address;
                maker.suspended = false;
                index
            }
            None => {
                self.makers.push(Maker {
                    address,
                    suspended: false,
                    orders: Vec::new(),
                });
                u32::try_from(self.makers.len() - 1).expect("fewer than 2^32 makers")
            }
        };
        self.maker_index.insert(address, index);
        index
    }

    #[inline]
    fn push_maker_order(&mut self, maker: u32, slot: u32) {
        let orders = &mut self.makers[maker as usize].orders;
        self.maker_positions[slot as usize] =
            u32::try_from(orders.len()).expect("a maker's orders are capped");
        orders.push(slot);
    }

    #[inline]
    fn remove_maker_order(&mut self, slot: u32) {
        let maker = self.slots[slot as usize].maker;
        let position = self.maker_positions[slot as usize] as usize;
        let entry = &mut self.makers[maker as usize];
        entry.orders.swap_remove(position);
        if let Some(&moved) = entry.orders.get(position) {
            self.maker_positions[moved as usize] = position as u32;
        }
        if entry.orders.is_empty() {
            // Forget the maker (and its suspension): nothing of it is left to hide.
            entry.orders.shrink_to(MAKER_LIST_KEEP);
            let address = entry.address;
            self.maker_index.remove(&address);
            self.free_makers.push(maker);
        }
    }

    /// Finishes an insert: adds the new slot to its maker's list and, unless suspended, to
    /// its level; reports it and the crosses it makes.
    #[inline]
    fn place(&mut self, slot: u32, maker: u32) {
        self.push_maker_order(maker, slot);
        let inserted = self.order_ref(slot);
        self.events.push(Event::Inserted(inserted));
        if inserted.suspended {
            self.events.push(Event::Suspended(inserted));
        } else {
            self.link_level(slot);
            self.visible += 1;
            self.detect_crosses(slot);
        }
    }

    /// Adds a slot to its price level, after every order with priority over it.
    fn link_level(&mut self, slot: u32) {
        let Core {
            slots, bids, asks, ..
        } = self;
        let held = &slots[slot as usize];
        let (price, available) = (held.price, held.available());
        let ladder = match held.side {
            Side::Buy => bids,
            Side::Sell => asks,
        };
        let id = ladder.find_or_insert(price);
        slots[slot as usize].level = id;
        let held = &slots[slot as usize];
        let level = ladder.level_mut(id);
        level.available += available;
        // A new order is nearly always the latest: append it without reading the others.
        if held.created_at > level.newest || level.orders.is_empty() {
            level.newest = held.created_at;
            level.orders.push(slot);
        } else {
            let key = held.priority();
            let position = level
                .orders
                .partition_point(|other| slots[*other as usize].priority() < key);
            level.orders.insert(position, slot);
        }
    }

    /// Removes a visible slot from its price level, dropping the level when it empties.
    fn unlink_level(&mut self, slot: u32) {
        let Core {
            slots, bids, asks, ..
        } = self;
        let held = &slots[slot as usize];
        let ladder = match held.side {
            Side::Buy => bids,
            Side::Sell => asks,
        };
        let id = held.level;
        let level = ladder.level_mut(id);
        level.available -= held.available();
        let orders = &mut level.orders;
        // Queues up to a few hundred orders: scan, sixteen slots a step. Longer ones: search
        // by priority (the queue is sorted by it), which reads a slot per step, each
        // likely a cache miss, so it only pays on long queues.
        let position = if orders.len() <= 512 {
            position_of(orders, slot)
        } else {
            let key = held.priority();
            let position = orders.partition_point(|other| slots[*other as usize].priority() < key);
            (orders.get(position) == Some(&slot)).then_some(position)
        }
        .expect("a visible order is in its level");
        orders.remove(position);
        if orders.is_empty() {
            ladder.remove(id);
        }
    }

    /// Keeps the level's available sum in step with a visible slot's change.
    #[inline]
    fn adjust_level(&mut self, slot: u32, before: u64, after: u64) {
        let held = &self.slots[slot as usize];
        if held.suspended || before == after {
            return;
        }
        let (side, id) = (held.side, held.level);
        let level = self.ladder_mut(side).level_mut(id);
        level.available = level.available - before + after;
    }

    /// Lowers remaining to `new_remaining` (not zero), cutting reservations above it.
    fn reduce(&mut self, slot: u32, new_remaining: u64) {
        let held = &mut self.slots[slot as usize];
        let previous = held.remaining;
        let available_before = held.available();
        held.remaining = new_remaining;
        held.reserved = held.reserved.min(new_remaining);
        let available_after = held.available();
        self.adjust_level(slot, available_before, available_after);
        let order = self.order_ref(slot);
        self.events.push(Event::Reduced {
            order,
            previous: Lots(previous),
        });
    }

    /// Takes an open order out of every structure but the id map (the caller turns its entry
    /// into a tombstone or removes it), emits [`Event::Removed`], frees the slot and returns
    /// the order's expiry.
    fn close(&mut self, slot: u32, reason: RemoveReason) -> UnixMillis {
        let order = self.order_ref(slot);
        if !order.suspended {
            self.unlink_level(slot);
            self.visible -= 1;
        }
        self.remove_maker_order(slot);
        let held = &mut self.slots[slot as usize];
        held.order = None;
        held.proof = None;
        let expires_at = held.expires_at;
        self.free.push(slot);
        self.events.push(Event::Removed { order, reason });
        expires_at
    }

    /// The lowest-priority order without reservations at the worst price of a side.
    fn eviction_candidate(&self, ladder: &Ladder) -> Option<u32> {
        ladder.worst_first().find_map(|level| {
            level
                .orders
                .iter()
                .rev()
                .copied()
                .find(|slot| self.slots[*slot as usize].reserved == 0)
        })
    }

    /// Reports the crosses a newly visible slot makes with orders of other makers.
    fn detect_crosses(&mut self, slot: u32) {
        let Core {
            slots,
            bids,
            asks,
            makers,
            events,
            ..
        } = self;
        let held = &slots[slot as usize];
        let opposite = match held.side {
            Side::Buy => &*asks,
            Side::Sell => &*bids,
        };
        match opposite.best() {
            Some(level) if opposite.crosses(level.price, held.price) => {}
            _ => return,
        }
        if held.available() == 0 {
            return;
        }
        let key = held.priority();
        let first_event = events.len();
        let mut taken: Option<u32> = None;
        for level in opposite.best_first() {
            if !opposite.crosses(level.price, held.price) {
                break;
            }
            for &other_slot in &level.orders {
                let other = &slots[other_slot as usize];
                if other.maker == held.maker || other.available() == 0 {
                    continue;
                }
                if other.priority() < key {
                    // The new order is later: it takes, first from this one.
                    taken.get_or_insert(other_slot);
                } else {
                    events.push(Event::Crossed(Cross::between(makers, other, held)));
                }
            }
        }
        if let Some(taken) = taken {
            let other = &slots[taken as usize];
            events.insert(
                first_event,
                Event::Crossed(Cross::between(makers, held, other)),
            );
        }
    }
}

/// The position of `slot` in `orders`, scanning sixteen entries per step (the comparison of
/// a whole chunk compiles to a few vector instructions).
#[inline]
fn position_of(orders: &[u32], slot: u32) -> Option<usize> {
    let mut chunks = orders.chunks_exact(16);
    let mut base = 0;
    for chunk in &mut chunks {
        if chunk
            .iter()
            .fold(false, |found, other| found | (*other == slot))
        {
            return chunk
                .iter()
                .position(|other| *other == slot)
                .map(|at| base + at);
        }
        base += 16;
    }
    chunks
        .remainder()
        .iter()
        .position(|other| *other == slot)
        .map(|at| base + at)
}
