//! The node's pure core: books, liveness and sync decisions. It is given bytes, pages and a
//! `now`, and returns what the shell must do ([`Action`]) and what happened ([`NodeEvent`]).
//! No I/O, no clock, no tasks: every decision is testable in microseconds.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    ops::Bound,
    sync::Arc,
    time::Duration,
};

use dex_book::{Book, BookConfig, OrderStatus};
use dex_network::{Acceptance, PeerId};
use dex_primitives::{
    Address, Alive, B256, Lots, MarketId, Markets, Order, OrderId, SignedAlive, SignedOrder,
    TraderKey, UnixMillis, Update, ValidationRules, VerifiedAlive, VerifiedOrder, VerifiedUpdate,
};
use dex_protocol::{
    ALIVE_TOPIC, Decoded, EntryAhead, GossipMessage, KnownOrder, SeenState, ValidationContext,
    Verdict, VerifiedMessage, WireMessage, entry_needs_signatures, market_topic,
    sync::{PageEntry, SyncRequest, SyncResponse},
    validate, validate_decoded, validate_synced,
};
use tracing::{debug, info, warn};

use crate::{Error, NodeConfig, NodeMetrics};

mod balances;
mod listings;
mod sync_guard;
#[cfg(test)]
mod testing;
mod trading;

pub(crate) use balances::Ledger;
pub use balances::{Balance, BalanceReading};
pub use dex_store::StoreOp;
use listings::{AliveSeen, Listings};
use sync_guard::{Follow, SyncGuard};
pub use sync_guard::{PeerStanding, STRIKE_MEMORY, STRIKES_TO_BAN, SYNC_BAN};
pub(crate) use trading::Trading;
pub use trading::{
    ChainBatch, Counterparty, CounterpartyRecord, DEFAULT_EXPIRY_MS, PlaceOrder, TakerFundsQuery,
    TimeInForce, phase_name,
};

/// What the core decided in one step: the writes that make it durable, and what to do
/// once they are. The shell writes all of `persist` in one transaction and performs `then`
/// only after that commit: nothing leaves the node (a gossip, an answer, a transaction, a
/// secret) on a decision that is not on disk, and a failed write leaves nothing done. An
/// [`Action`] cannot write, so no step can act before it persists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use = "a decision must be persisted and then performed"]
pub struct Decision {
    /// Written first, all or none.
    pub persist: Vec<StoreOp>,
    /// Performed in order once every write is on disk.
    pub then: Vec<Action>,
}

impl Decision {
    /// Whether there is nothing to write and nothing to do.
    pub fn is_empty(&self) -> bool {
        self.persist.is_empty() && self.then.is_empty()
    }

    /// Adds a write.
    pub(crate) fn persist(&mut self, op: StoreOp) {
        self.persist.push(op);
    }

    /// Adds an action, to perform after every write of the decision.
    pub(crate) fn then(&mut self, action: Action) {
        self.then.push(action);
    }

    /// Adds another decision's writes and actions (they run after this one's writes too).
    pub(crate) fn merge(&mut self, other: Decision) {
        self.persist.extend(other.persist);
        self.then.extend(other.then);
    }

    /// A decision that only acts.
    pub(crate) fn acting(then: Vec<Action>) -> Decision {
        Decision {
            persist: Vec::new(),
            then,
        }
    }
}

/// Something the shell must do, after the writes of its [`Decision`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Publish bytes on a gossip topic.
    Publish {
        /// The topic.
        topic: String,
        /// The encoded message.
        data: Vec<u8>,
    },
    /// Ask a peer for a page of a market's orders; feed the answer to
    /// [`NodeState::on_page`].
    Sync {
        /// Whom to ask.
        peer: PeerId,
        /// The request.
        request: SyncRequest,
    },
    /// Send a take request to a maker's node; feed the answer (or the failure) to
    /// [`NodeState::on_take_answer`].
    Take {
        /// The maker's node.
        peer: PeerId,
        /// The request's id.
        request_id: B256,
        /// The signed request (boxed: it carries a signed order).
        message: Box<dex_protocol::take::TakeMessage>,
    },
    /// Send a swap hint to the counterparty's node (fire and forget).
    Note {
        /// The counterparty's node.
        peer: PeerId,
        /// The signed hint.
        message: dex_protocol::take::SwapMessage,
    },
    /// Close every connection to a peer (it misbehaved; it may come back, and is judged
    /// again).
    Disconnect {
        /// The peer.
        peer: PeerId,
    },
    /// Send a swap's transaction (lock, claim or refund).
    Chain {
        /// The swap.
        swap_id: dex_swap::SwapId,
        /// What to send.
        action: dex_swap::Action,
    },
}

/// Something that happened to a book, an own order, a swap or a trade, for subscribers (API
/// streams, tests, benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// A book changed.
    Book {
        /// The market.
        market: MarketId,
        /// What changed.
        event: dex_book::Event,
    },
    /// A swap of this node moved on.
    Swap {
        /// The swap.
        swap_id: dex_swap::SwapId,
        /// Its phase now (see [`phase_name`]).
        phase: &'static str,
        /// Its whole state now (its outcome, its timelocks), shared by every subscriber.
        swap: std::sync::Arc<dex_swap::Swap>,
    },
    /// A swap of this node completed: a trade.
    Trade {
        /// The market.
        market: MarketId,
        /// Price in ticks.
        price: dex_primitives::Ticks,
        /// Quantity in lots.
        quantity: Lots,
        /// The taker's side.
        taker_side: dex_primitives::Side,
        /// The swap that settled it.
        swap_id: dex_swap::SwapId,
        /// When it completed (local unix ms).
        at: UnixMillis,
    },
    /// An own order was placed or changed (filled in part or whole, cancelled, done): its
    /// state as written to the database.
    OwnOrder(OwnOrderEvent),
}

/// An own order's state, as [`NodeEvent::OwnOrder`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnOrderEvent {
    /// The order id.
    pub id: OrderId,
    /// The market.
    pub market: MarketId,
    /// Its side.
    pub side: dex_primitives::Side,
    /// Limit price.
    pub price: dex_primitives::Ticks,
    /// Quantity.
    pub quantity: Lots,
    /// Smallest fill.
    pub min_fill: Lots,
    /// Remaining quantity, as stored.
    pub remaining: Lots,
    /// Status, as stored.
    pub status: dex_store::OrderStatus,
    /// The maker.
    pub maker: Address,
    /// Signed creation time.
    pub created_at: UnixMillis,
    /// Expiry.
    pub expires_at: UnixMillis,
    /// When this change happened (local unix ms).
    pub updated_at: UnixMillis,
    /// The client's own id of the order, if it gave one.
    pub client_order_id: Option<String>,
}

/// Counts of a book, for tests and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BookStats {
    /// Orders offered (open, maker not suspended).
    pub visible: usize,
    /// Orders held while their maker is silent.
    pub suspended: usize,
    /// Closed orders remembered until their expiry.
    pub tombstones: usize,
}

/// One market: its book, its topic and its open order ids in id order (the sync cursor).
#[derive(Debug)]
struct MarketState {
    book: Book,
    topic: String,
    ids: BTreeSet<OrderId>,
}

/// What the node knows of a remote maker's liveness in one market.
#[derive(Debug, Clone, Default)]
struct Heard {
    /// Latest signed time heard from the maker (capped at our `now`).
    last: UnixMillis,
    /// Newest `alive` timestamp seen by gossip: an older or equal one gossiped is stale.
    newest_alive: Option<UnixMillis>,
    /// Newest `alive` known (by gossip or in a sync page), served with the maker's orders
    /// to syncing peers.
    alive: Option<Box<SignedAlive>>,
    /// Its orders are suspended in the book.
    suspended: bool,
    /// When a root mismatch last triggered a sync.
    root_synced_at: Option<UnixMillis>,
}

impl Heard {
    fn newest_alive_at(&self) -> Option<UnixMillis> {
        self.newest_alive
    }
}

/// The books and every decision about them. Owned by the node actor; usable alone in tests
/// and benchmarks.
#[derive(Debug)]
pub struct NodeState {
    peer_id: PeerId,
    peer: String,
    markets: Markets,
    rules: ValidationRules,
    traders: HashMap<Address, TraderKey>,
    books: HashMap<MarketId, MarketState>,
    heard: HashMap<(Address, MarketId), Heard>,
    /// The latest heartbeat signed for each own maker and market, served with its orders.
    own_alives: HashMap<(Address, MarketId), SignedAlive>,
    silent_after_ms: u64,
    alive_interval_ms: u64,
    next_alive_at: UnixMillis,
    root_sync_cooldown_ms: u64,
    /// Root syncs in flight at most: each is a request task in the shell, and heartbeats
    /// of makers are free to make.
    max_root_syncs: usize,
    page_limit: u32,
    start_sync_peers: usize,
    start_synced: HashSet<PeerId>,
    connected: HashSet<PeerId>,
    /// Syncs in flight by (market, maker filter), so one slow peer or a burst of heartbeats
    /// never starts the same sync twice.
    syncing: HashSet<(MarketId, Option<Address>)>,
    /// Maker syncs in flight, and what their complete answers prove: ghosts of orders
    /// closed where they were posted.
    listings: Listings,
    seen_keys: SeenKeys,
    /// Pages per sync and the standing of the peers serving them.
    sync_guard: SyncGuard,
    events: Vec<NodeEvent>,
    metrics: Arc<NodeMetrics>,
    /// Settlement: own orders, takes and swaps. `None` for a relay-only node.
    trading: Option<Trading>,
}

/// A duration in whole milliseconds, saturating (for configured intervals and clocks).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Keyed 64-bit hashes of the orders the books took, kept until the orders expire: a
/// miss means an order is new without computing its EIP-712 id (a few µs of every ingest).
/// A hit only means "compute the id and look"; collisions cost time, never correctness.
///
/// At most `max_keys` are kept (what the books can hold at once): past it the key expiring
/// first is dropped. A dropped key makes a replay of its order cost a signature check
/// before the book refuses it, nothing more: the books, not this filter, keep closed
/// orders out.
#[derive(Debug)]
struct SeenKeys {
    hasher: std::hash::RandomState,
    counts: HashMap<u64, u32>,
    expiries: std::collections::BinaryHeap<std::cmp::Reverse<(UnixMillis, u64)>>,
    max_keys: usize,
}

impl SeenKeys {
    fn with_capacity(keys: usize, max_keys: usize) -> Self {
        SeenKeys {
            hasher: std::hash::RandomState::new(),
            counts: HashMap::with_capacity(keys.min(max_keys)),
            expiries: std::collections::BinaryHeap::with_capacity(keys.min(max_keys)),
            max_keys,
        }
    }

    fn key(&self, order: &Order) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(order)
    }

    fn may_contain(&self, order: &Order) -> bool {
        self.counts.contains_key(&self.key(order))
    }

    fn insert(&mut self, order: &Order) {
        while self.expiries.len() >= self.max_keys && self.pop_first() {}
        if self.max_keys == 0 {
            return;
        }
        let key = self.key(order);
        *self.counts.entry(key).or_default() += 1;
        self.expiries
            .push(std::cmp::Reverse((order.expires_at, key)));
    }

    /// Forgets the keys of orders expired at `now` (their tombstones are gone too).
    fn expire(&mut self, now: UnixMillis) {
        while let Some(std::cmp::Reverse((expires_at, _))) = self.expiries.peek().copied() {
            if expires_at > now {
                break;
            }
            self.pop_first();
        }
    }

    /// Drops the key expiring first; false when there is none.
    fn pop_first(&mut self) -> bool {
        let Some(std::cmp::Reverse((_, key))) = self.expiries.pop() else {
            return false;
        };
        if let std::collections::hash_map::Entry::Occupied(mut entry) = self.counts.entry(key) {
            *entry.get_mut() -= 1;
            if *entry.get() == 0 {
                entry.remove();
            }
        }
        true
    }
}

/// The [`SeenState`] view over the books, borrowed for one validation.
struct Known<'a> {
    books: &'a HashMap<MarketId, MarketState>,
    heard: &'a HashMap<(Address, MarketId), Heard>,
    keys: &'a SeenKeys,
}

impl SeenState for Known<'_> {
    fn may_contain(&self, order: &Order) -> bool {
        self.keys.may_contain(order)
    }

    fn contains_order(&self, id: &OrderId) -> bool {
        self.books
            .values()
            .any(|market| market.book.status(id) != OrderStatus::Unknown)
    }

    fn known_order(&self, id: &OrderId) -> Option<KnownOrder<'_>> {
        self.books.values().find_map(|market| {
            let order = market.book.order(id)?;
            let view = market.book.get(id)?;
            Some(KnownOrder {
                order: order.as_ref(),
                remaining: view.remaining,
            })
        })
    }

    fn newest_alive(&self, maker: &Address, market: &MarketId) -> Option<UnixMillis> {
        self.heard
            .get(&(*maker, *market))
            .and_then(|heard| heard.newest_alive_at())
    }
}

impl NodeState {
    /// A node with empty books for every configured market. `hash_seed` seeds the books'
    /// hashers (pick it at random in production so peers cannot grind hash collisions).
    pub fn new(
        config: &NodeConfig,
        peer_id: PeerId,
        hash_seed: u64,
        metrics: Arc<NodeMetrics>,
    ) -> Self {
        let book_config = BookConfig {
            max_orders_per_maker: config.caps.orders_per_maker,
            max_orders: config.caps.orders_per_market,
            max_suspended: config.caps.suspended_per_market,
            max_tombstones: config.caps.tombstones_per_market,
            hash_seed,
        };
        let room = config.caps.preallocated();
        let books = config
            .markets
            .iter()
            .map(|market| {
                let id = market.id();
                let state = MarketState {
                    book: Book::with_capacity(id, book_config, room),
                    topic: market_topic(&id),
                    ids: BTreeSet::new(),
                };
                (id, state)
            })
            .collect();
        NodeState {
            peer_id,
            peer: peer_id.to_base58(),
            markets: config.markets.clone(),
            rules: config.rules,
            traders: config
                .traders
                .iter()
                .map(|key| (key.address(), key.clone()))
                .collect(),
            books,
            heard: HashMap::new(),
            own_alives: HashMap::new(),
            silent_after_ms: millis(config.liveness.silent_after),
            alive_interval_ms: millis(config.liveness.alive_interval),
            next_alive_at: 0,
            root_sync_cooldown_ms: millis(config.sync.root_sync_cooldown),
            max_root_syncs: config.sync.max_root_syncs(),
            page_limit: config.sync.page_limit,
            start_sync_peers: config.sync.start_peers,
            start_synced: HashSet::new(),
            connected: HashSet::new(),
            syncing: HashSet::new(),
            listings: Listings::default(),
            seen_keys: SeenKeys::with_capacity(
                room.saturating_mul(config.markets.len()),
                book_config.max_held().saturating_mul(config.markets.len()),
            ),
            sync_guard: SyncGuard::new(
                config.sync.max_market_pages(&config.caps),
                config.sync.max_maker_pages(&config.caps),
            ),
            events: Vec::new(),
            metrics,
            trading: config.settlement.as_ref().map(Trading::new),
        }
    }

    /// The gossip topics to subscribe to: one per market, and the heartbeats.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.books.values().map(|m| m.topic.clone()).collect();
        topics.sort();
        topics.push(ALIVE_TOPIC.to_owned());
        topics
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The events since the last drain, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, NodeEvent> {
        self.events.drain(..)
    }

    /// Runs `verdict` with a validation context over the books as they are now; `topic` is
    /// the gossip topic the message came on (`None` for a sync page).
    fn judge<R>(
        &self,
        topic: Option<&str>,
        verdict: impl FnOnce(&ValidationContext<'_, Known<'_>>) -> R,
    ) -> R {
        let known = Known {
            books: &self.books,
            heard: &self.heard,
            keys: &self.seen_keys,
        };
        verdict(&ValidationContext {
            markets: &self.markets,
            rules: &self.rules,
            seen: &known,
            topic,
            alive_max_age_ms: self.silent_after_ms,
        })
    }

    /// Judges and applies a gossip message received from `source` on `topic` at `now`.
    /// Returns the verdict for gossipsub and the actions it causes (a sync when an `alive`
    /// root differs).
    pub fn on_gossip(
        &mut self,
        source: PeerId,
        topic: &str,
        data: &[u8],
        now: UnixMillis,
    ) -> (Acceptance, Decision) {
        let verdict = self.judge(Some(topic), |ctx| validate(data, now, ctx));
        self.on_verdict(verdict, source, now)
    }

    /// [`NodeState::on_gossip`] for a message decoded and its signer recovered ahead (on the
    /// verification pool: see [`crate::Ingest`]): the same verdict and changes. `None` is a
    /// message whose work ahead was lost; it is ignored.
    pub fn on_gossip_decoded(
        &mut self,
        source: PeerId,
        topic: &str,
        decoded: Option<Decoded>,
        now: UnixMillis,
    ) -> (Acceptance, Decision) {
        let Some(decoded) = decoded else {
            self.metrics
                .gossip_verdict(Acceptance::Ignore, "not_verified");
            return (Acceptance::Ignore, Decision::default());
        };
        let verdict = self.judge(Some(topic), |ctx| validate_decoded(decoded, now, ctx));
        self.on_verdict(verdict, source, now)
    }

    fn on_verdict(
        &mut self,
        verdict: Verdict,
        source: PeerId,
        now: UnixMillis,
    ) -> (Acceptance, Decision) {
        let mut decision = Decision::default();
        let (acceptance, reason) = match verdict {
            Verdict::Accept(message) => match self.apply(message, source, now, &mut decision) {
                Ok(()) => (Acceptance::Accept, "accepted"),
                Err(err) => {
                    // Valid but refused by a cap: do not forward what we do not keep.
                    debug!(%err, "accepted message refused by the book");
                    NodeMetrics::inc(&self.metrics.orders_refused);
                    (Acceptance::Ignore, "book_refused")
                }
            },
            Verdict::Reject(err) => {
                debug!(%err, "gossip rejected");
                (Acceptance::Reject, err.label())
            }
            Verdict::Ignore(err) => {
                debug!(%err, "gossip ignored");
                (Acceptance::Ignore, err.label())
            }
        };
        self.metrics.gossip_verdict(acceptance, reason);
        (acceptance, decision)
    }

    fn apply(
        &mut self,
        message: VerifiedMessage,
        source: PeerId,
        now: UnixMillis,
        decision: &mut Decision,
    ) -> Result<(), Error> {
        match message {
            VerifiedMessage::Order(order) => {
                let maker = order.maker();
                let market = order.market();
                let created_at = order.order().created_at;
                self.refuse_own_copy(&order)?;
                self.insert(order, now)?;
                self.heard_from(maker, market, created_at, now);
            }
            VerifiedMessage::Update(update) => {
                let (market, maker) = self.apply_update(&update)?;
                self.heard_from(maker, market, update.update().timestamp, now);
            }
            VerifiedMessage::Alive(alive) => {
                self.hear_alive(&alive, true, now);
                self.check_root(alive.alive(), source, now, decision);
            }
        }
        Ok(())
    }

    /// Refuses a peer's copy (gossip or sync) of an order signed by one of this node's
    /// makers, unless the node holds it open as its own. A settling node places and restores
    /// its own orders itself and alone knows their state: a copy it does not hold open is one
    /// it closed (a cancel or fill stored just before a stop, that never left the node, so
    /// its peers still offer the order) or one it never placed, and taking it in would offer
    /// it again, to be sold twice. An own order held open may come back (after an eviction).
    fn refuse_own_copy(&self, order: &VerifiedOrder) -> Result<(), Error> {
        let Some(trading) = self.trading.as_ref() else {
            return Ok(());
        };
        if !self.traders.contains_key(&order.maker()) {
            return Ok(());
        }
        let id = order.id();
        if trading.own.get(&id).is_some_and(|own| own.rests_open()) {
            Ok(())
        } else {
            debug!(order = %id, "a peer's copy of an own order not open here refused");
            Err(Error::OrderNotOpen { id })
        }
    }

    fn insert(&mut self, order: VerifiedOrder, now: UnixMillis) -> Result<(), Error> {
        let market = order.market();
        let id = order.id();
        let state = self
            .books
            .get_mut(&market)
            .ok_or(Error::UnknownMarket { market })?;
        let order = Arc::new(order);
        let result = state.book.insert(order.clone(), now);
        self.drain_book(market);
        result?;
        self.seen_keys.insert(order.order());
        NodeMetrics::inc(&self.metrics.orders_inserted);
        debug!(order = %id, "order inserted");
        Ok(())
    }

    fn apply_update(&mut self, update: &VerifiedUpdate) -> Result<(MarketId, Address), Error> {
        let id = update.order_id();
        let (market, maker) = self
            .books
            .iter()
            .find_map(|(market, state)| state.book.get(&id).map(|view| (*market, view.maker)))
            .ok_or(Error::UnknownOrder { id })?;
        let result = self
            .books
            .get_mut(&market)
            .map(|state| state.book.apply_update(update));
        self.drain_book(market);
        if let Some(result) = result {
            result?;
        }
        NodeMetrics::inc(&self.metrics.updates_applied);
        Ok((market, maker))
    }

    /// Moves a book's events out, keeping the id index in step.
    fn drain_book(&mut self, market: MarketId) {
        let Some(state) = self.books.get_mut(&market) else {
            return;
        };
        let own = self.trading.as_ref().map(|trading| &trading.own);
        let mut changed_own = Vec::new();
        let mut expired_own = Vec::new();
        for event in state.book.drain_events() {
            let changed = match &event {
                dex_book::Event::Inserted(order) => {
                    state.ids.insert(order.id);
                    Some(order.id)
                }
                dex_book::Event::Removed { order, .. } => {
                    state.ids.remove(&order.id);
                    Some(order.id)
                }
                dex_book::Event::Reduced { order, .. } => Some(order.id),
                _ => None,
            };
            if let (Some(id), Some(own)) = (changed, own)
                && own.contains(&id)
            {
                changed_own.push(id);
                if let dex_book::Event::Removed {
                    reason: dex_book::RemoveReason::Expired,
                    ..
                } = &event
                {
                    expired_own.push(id);
                }
            }
            self.events.push(NodeEvent::Book { market, event });
        }
        // What an own order reserves follows its remaining quantity in the book.
        for id in changed_own {
            self.account_own(id);
        }
        // Its end as an own order (status, store) is written at the next trading tick.
        if let Some(trading) = self.trading.as_mut() {
            for id in expired_own {
                trading.own.note_expired(id);
            }
        }
    }

    /// Keeps a verified heartbeat (the newest of its maker and market, to serve) and
    /// records the sign of life. One that came by gossip also makes older and equal ones
    /// stale there; one from a sync page does not, so the same heartbeat arriving by gossip
    /// afterwards is still accepted and forwarded (peers beyond this node need it).
    fn hear_alive(&mut self, alive: &VerifiedAlive, by_gossip: bool, now: UnixMillis) {
        let signed = alive.signed();
        let (maker, market, timestamp) = (
            signed.alive.maker,
            signed.alive.market,
            signed.alive.timestamp,
        );
        // Our own maker's heartbeat heard back (in a peer's page, or by gossip after a
        // restart): its liveness is ours to know, and a `heard` entry for it would be found
        // silent by the tick (its heartbeats never come back to us), suspending our orders.
        if self.traders.contains_key(&maker) {
            return;
        }
        let heard = self.heard.entry((maker, market)).or_default();
        if by_gossip {
            heard.newest_alive = Some(timestamp);
        }
        if heard
            .alive
            .as_ref()
            .is_none_or(|known| known.alive.timestamp < timestamp)
        {
            heard.alive = Some(Box::new(signed.clone()));
        }
        self.heard_from(maker, market, timestamp, now);
    }

    /// Records a signed sign of life of a remote maker (signed at `signed_at`, capped at
    /// `now` so a clock ahead of ours buys no extra time) and restores its orders if it was
    /// suspended.
    fn heard_from(
        &mut self,
        maker: Address,
        market: MarketId,
        signed_at: UnixMillis,
        now: UnixMillis,
    ) {
        if self.traders.contains_key(&maker) {
            return;
        }
        let heard = self.heard.entry((maker, market)).or_default();
        heard.last = heard.last.max(signed_at.min(now));
        let silent = now.saturating_sub(heard.last) > self.silent_after_ms;
        if heard.suspended && !silent {
            heard.suspended = false;
            if let Some(state) = self.books.get_mut(&market) {
                let restored = state.book.restore_maker(maker);
                info!(%maker, %market, restored, "maker heard again; orders restored");
                NodeMetrics::inc(&self.metrics.makers_restored);
            }
            self.drain_book(market);
        } else if !heard.suspended && silent {
            // Known only from old messages (a sync, a late relay): hold its orders back
            // until it speaks.
            self.suspend(maker, market);
        }
    }

    fn suspend(&mut self, maker: Address, market: MarketId) {
        if self.traders.contains_key(&maker) {
            return;
        }
        let heard = self.heard.entry((maker, market)).or_default();
        heard.suspended = true;
        if let Some(state) = self.books.get_mut(&market) {
            let suspended = state.book.suspend_maker(maker);
            if suspended > 0 {
                info!(%maker, %market, suspended, "maker silent; orders suspended");
                NodeMetrics::inc(&self.metrics.makers_suspended);
            }
        }
        self.drain_book(market);
    }

    /// Compares a maker's `ordersRoot` with ours and, when they differ (at most once per
    /// cooldown), asks for the market: from the maker's node if connected to it, else from
    /// the peer that relayed the heartbeat (it accepted it, so it is likely up to date, and
    /// it is connected, so no dial to an unknown address is needed).
    fn check_root(
        &mut self,
        alive: &Alive,
        source: PeerId,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        let Some(state) = self.books.get(&alive.market) else {
            return;
        };
        let (_, root) = state.book.maker_root(&alive.maker);
        if root == alive.orders_root || self.traders.contains_key(&alive.maker) {
            return;
        }
        let heard = self.heard.entry((alive.maker, alive.market)).or_default();
        if heard
            .root_synced_at
            .is_some_and(|at| now.saturating_sub(at) < self.root_sync_cooldown_ms)
        {
            return;
        }
        let peer = match alive.peer.parse::<PeerId>() {
            Ok(maker_node)
                if self.connected.contains(&maker_node)
                    && !self.sync_guard.is_banned(&maker_node) =>
            {
                maker_node
            }
            _ => source,
        };
        if peer == self.peer_id || self.sync_guard.is_banned(&peer) {
            return;
        }
        if self.syncing.len() >= self.max_root_syncs {
            // Asked again at the maker's next heartbeat, once others have finished.
            debug!(maker = %alive.maker, "too many syncs in flight; root sync deferred");
            return;
        }
        if !self.syncing.insert((alive.market, Some(alive.maker))) {
            return;
        }
        heard.root_synced_at = Some(now);
        NodeMetrics::inc(&self.metrics.root_syncs);
        debug!(maker = %alive.maker, %peer, "alive root differs; syncing the maker's orders");
        // The orders of the maker naming its node: the complete answer may prove some of
        // them closed there (see `listings`).
        if let Ok(maker_node) = alive.peer.parse::<PeerId>() {
            let held = state
                .book
                .maker_orders(&alive.maker)
                .filter(|view| {
                    state
                        .book
                        .order(&view.id)
                        .is_some_and(|order| order.order().peer == alive.peer)
                })
                .map(|view| (view.id, view.created_at))
                .collect();
            let seen = AliveSeen {
                maker_node,
                orders_root: alive.orders_root,
                timestamp: alive.timestamp,
            };
            self.listings
                .asked(alive.market, alive.maker, peer, seen, held);
        }
        decision.then(Action::Sync {
            peer,
            request: SyncRequest::GetOrders {
                market: alive.market,
                cursor: None,
                limit: self.page_limit,
                maker: Some(alive.maker),
            },
        });
    }

    /// Periodic work at `now`: expiry, silent makers, own heartbeats.
    pub fn tick(&mut self, now: UnixMillis) -> Decision {
        self.seen_keys.expire(now);
        self.sync_guard.tick(now);
        let markets: Vec<MarketId> = self.books.keys().copied().collect();
        for market in &markets {
            if let Some(state) = self.books.get_mut(market) {
                state.book.expire(now);
            }
            self.drain_book(*market);
        }
        let silent: Vec<(Address, MarketId)> = self
            .heard
            .iter()
            .filter(|(_, heard)| {
                !heard.suspended && now.saturating_sub(heard.last) > self.silent_after_ms
            })
            .map(|(key, _)| *key)
            .collect();
        for (maker, market) in silent {
            self.suspend(maker, market);
        }
        // Forget makers that have nothing left here, so the map stays bounded.
        let books = &self.books;
        self.heard.retain(|(maker, market), heard| {
            books
                .get(market)
                .is_some_and(|state| state.book.maker_open_orders(maker) > 0)
                || heard
                    .newest_alive_at()
                    .is_some_and(|at| now.saturating_sub(at) <= self.silent_after_ms)
        });
        let mut decision = Decision::default();
        if now >= self.next_alive_at {
            self.next_alive_at = now.saturating_add(self.alive_interval_ms.max(1));
            self.heartbeats(now, &mut decision);
        }
        decision
    }

    fn heartbeats(&mut self, now: UnixMillis, decision: &mut Decision) {
        for (market, state) in &self.books {
            for (maker, key) in &self.traders {
                let (open_orders, orders_root) = state.book.maker_root(maker);
                if open_orders == 0 {
                    continue;
                }
                let alive = Alive {
                    maker: *maker,
                    peer: self.peer.clone(),
                    market: *market,
                    open_orders,
                    orders_root,
                    timestamp: now,
                }
                .sign(key);
                self.own_alives.insert((*maker, *market), alive.clone());
                match GossipMessage::Alive(alive).encode() {
                    Ok(data) => {
                        NodeMetrics::inc(&self.metrics.alives_sent);
                        decision.then(Action::Publish {
                            topic: ALIVE_TOPIC.to_owned(),
                            data,
                        });
                    }
                    Err(err) => warn!(%err, "cannot encode alive"),
                }
            }
        }
    }

    /// Makes the next tick send heartbeats at once (after own orders changed a lot, or at
    /// start).
    pub fn heartbeat_soon(&mut self) {
        self.next_alive_at = 0;
    }

    /// Posts an own order: it must be by a maker this node holds the key of and name this
    /// node's peer id. Verified, inserted, then published.
    pub fn post_order(
        &mut self,
        signed: SignedOrder,
        now: UnixMillis,
    ) -> Result<(OrderId, Decision), Error> {
        // A trading node tracks it as its own: stored, judged, committed as it fills.
        if self.trading.is_some() {
            return self.place_signed(signed, now);
        }
        self.check_ours(&signed.order)?;
        let market = signed.order.market;
        let order = signed
            .clone()
            .verify(&self.markets, &self.rules, now)
            .map_err(|source| dex_protocol::Error::Invalid {
                what: "order",
                source,
            })?;
        let id = order.id();
        self.insert(order, now)?;
        info!(order = %id, "own order posted");
        let data = GossipMessage::Order(signed).encode()?;
        Ok((id, Decision::acting(vec![self.publish(&market, data)])))
    }

    /// Refuses an order signed elsewhere that this node may not post as its own: a maker
    /// whose key it does not hold, another node's peer id, a market it does not trade.
    pub(crate) fn check_ours(&self, order: &dex_primitives::Order) -> Result<(), Error> {
        let maker = order.maker;
        if !self.traders.contains_key(&maker) {
            return Err(Error::NotOurMaker { maker });
        }
        if order.peer != self.peer {
            return Err(Error::WrongPeer {
                got: order.peer.clone(),
                expected: self.peer.clone(),
            });
        }
        if !self.books.contains_key(&order.market) {
            return Err(Error::UnknownMarket {
                market: order.market,
            });
        }
        Ok(())
    }

    /// Lowers an own order's remaining quantity (0 cancels): signs the update with the
    /// maker's key, applies it and publishes it. On a settling node an order it tracks as
    /// its own is changed as the API's cancel does: stored, so a restart keeps the change.
    pub fn update_order(
        &mut self,
        id: OrderId,
        remaining: Lots,
        now: UnixMillis,
    ) -> Result<Decision, Error> {
        if self
            .trading
            .as_ref()
            .is_some_and(|trading| trading.own.contains(&id))
        {
            return self.reduce_own(id, remaining, now);
        }
        self.sign_update(id, remaining, now)
    }

    /// Signs an update of own order `id` to `remaining` with the maker's key, applies it to
    /// the book and publishes it; the caller keeps any other record of the order.
    pub(crate) fn sign_update(
        &mut self,
        id: OrderId,
        remaining: Lots,
        now: UnixMillis,
    ) -> Result<Decision, Error> {
        let (market, order) = self
            .books
            .iter()
            .find_map(|(market, state)| state.book.order(&id).map(|order| (*market, order.clone())))
            .ok_or(Error::UnknownOrder { id })?;
        let key = self.traders.get(&order.maker()).ok_or(Error::NotOurMaker {
            maker: order.maker(),
        })?;
        let signed = Update {
            order_id: id,
            remaining,
            timestamp: now,
        }
        .sign(key);
        let update = signed.verify(&order, &self.rules, now).map_err(|source| {
            dex_protocol::Error::Invalid {
                what: "update",
                source,
            }
        })?;
        self.apply_update(&update)?;
        info!(order = %id, remaining = remaining.0, "own order updated");
        let data = GossipMessage::Update(signed).encode()?;
        Ok(Decision::acting(vec![self.publish(&market, data)]))
    }

    /// Publishing `data` on `market`'s topic (the one kept with its book, if configured).
    fn publish(&self, market: &MarketId, data: Vec<u8>) -> Action {
        let topic = self
            .books
            .get(market)
            .map_or_else(|| market_topic(market), |state| state.topic.clone());
        Action::Publish { topic, data }
    }

    /// Answers a peer's sync request from the books at `now`, with the newest heartbeat of
    /// each maker of the page heard from lately (an own maker's is signed now if the last
    /// one is older than a heartbeat interval).
    pub fn serve(&mut self, request: &SyncRequest, now: UnixMillis) -> SyncResponse {
        NodeMetrics::inc(&self.metrics.sync_served);
        if let Err(err) = request.check() {
            return SyncResponse::Refused {
                reason: err.to_string(),
            };
        }
        let SyncRequest::GetOrders {
            market,
            cursor,
            limit,
            maker,
        } = request
        else {
            return SyncResponse::Refused {
                reason: "unsupported request".into(),
            };
        };
        let Some(state) = self.books.get(market) else {
            return SyncResponse::Refused {
                reason: format!("market {market} is not configured here"),
            };
        };
        // One maker's orders come from the book's list of them (at most the per-maker cap),
        // not from a pass over every order of the market: a peer asks for them whenever a
        // heartbeat's root differs, and the pass cost the actor milliseconds per page of a
        // large book even for a maker with no order here.
        let maker_ids;
        let ids: Box<dyn Iterator<Item = &OrderId>> = match maker {
            Some(maker) => {
                let mut ids = state.book.maker_order_ids(maker);
                ids.sort_unstable();
                let start = cursor.map_or(0, |cursor| ids.partition_point(|id| *id <= cursor));
                maker_ids = ids;
                Box::new(maker_ids[start..].iter())
            }
            None => Box::new(state.ids.range((
                cursor.map_or(Bound::Unbounded, Bound::Excluded),
                Bound::Unbounded,
            ))),
        };
        let mut orders = Vec::new();
        let mut last = None;
        for id in ids {
            if orders.len() >= *limit as usize {
                break;
            }
            let Some(order) = state.book.order(id) else {
                continue;
            };
            orders.push(PageEntry {
                order: order.signed().clone(),
                update: state.book.latest_update(id).map(|update| *update.signed()),
            });
            last = Some(*id);
        }
        let next_cursor = if orders.len() >= *limit as usize {
            last
        } else {
            None
        };
        let market = *market;
        let alives = self.page_alives(market, &orders, now);
        SyncResponse::OrdersPage {
            market,
            orders,
            next_cursor,
            alives,
        }
    }

    /// The heartbeats served with `orders`: for each maker, in order of first appearance,
    /// its newest one if signed within `silent_after` (what a peer accepts), and for an
    /// own maker one signed within a heartbeat interval, signed now if needed.
    fn page_alives(
        &mut self,
        market: MarketId,
        orders: &[PageEntry],
        now: UnixMillis,
    ) -> Vec<SignedAlive> {
        let mut makers: Vec<Address> = Vec::new();
        let mut seen = HashSet::new();
        for entry in orders {
            let maker = entry.order.order.maker;
            if seen.insert(maker) {
                makers.push(maker);
            }
        }
        let mut alives = Vec::with_capacity(makers.len());
        for maker in makers {
            if let Some(key) = self.traders.get(&maker) {
                let fresh = self.own_alives.get(&(maker, market)).filter(|alive| {
                    now.saturating_sub(alive.alive.timestamp) < self.alive_interval_ms
                });
                let alive = match fresh {
                    Some(alive) => alive.clone(),
                    None => {
                        let Some(state) = self.books.get(&market) else {
                            continue;
                        };
                        let (open_orders, orders_root) = state.book.maker_root(&maker);
                        let alive = Alive {
                            maker,
                            peer: self.peer.clone(),
                            market,
                            open_orders,
                            orders_root,
                            timestamp: now,
                        }
                        .sign(key);
                        self.own_alives.insert((maker, market), alive.clone());
                        alive
                    }
                };
                alives.push(alive);
            } else if let Some(alive) = self
                .heard
                .get(&(maker, market))
                .and_then(|heard| heard.alive.as_deref())
                .filter(|alive| now.saturating_sub(alive.alive.timestamp) <= self.silent_after_ms)
            {
                alives.push(alive.clone());
            }
        }
        alives
    }

    /// Applies a page a peer answered to `request`. Returns the request of the next page,
    /// if any: the cursor is followed only while the sync is within its page cap
    /// ([`crate::SyncConfig::max_market_pages`]). A bad page is dropped whole; entries are
    /// applied in order up to the first one no correct peer sends (bad signature, broken
    /// rule), where the sync stops. Either costs the peer a strike (see [`PeerStanding`]);
    /// pages of a banned peer are dropped unread.
    pub fn on_page(
        &mut self,
        peer: PeerId,
        request: &SyncRequest,
        response: SyncResponse,
        now: UnixMillis,
    ) -> Vec<Action> {
        self.on_page_ahead(peer, request, response, &[], now)
    }

    /// Which entries of a page will have a signature checked, given what the books hold now
    /// (see [`dex_protocol::entry_needs_signatures`]): the ones worth recovering ahead.
    /// Most entries of a joining node's pages are new, and a cheap filter says so without
    /// hashing them.
    pub fn page_needs_signatures(&self, response: &SyncResponse) -> Vec<bool> {
        let SyncResponse::OrdersPage { orders, .. } = response else {
            return Vec::new();
        };
        let known = Known {
            books: &self.books,
            heard: &self.heard,
            keys: &self.seen_keys,
        };
        orders
            .iter()
            .map(|entry| {
                !known.may_contain(&entry.order.order)
                    || entry_needs_signatures(entry, &entry.order.order.id(), &known)
            })
            .collect()
    }

    /// [`NodeState::on_page`] with the signers of its entries recovered ahead (`ahead[i]`
    /// for entry `i`; missing ones are recovered here when needed).
    pub fn on_page_ahead(
        &mut self,
        peer: PeerId,
        request: &SyncRequest,
        response: SyncResponse,
        ahead: &[EntryAhead],
        now: UnixMillis,
    ) -> Vec<Action> {
        let SyncRequest::GetOrders {
            market: asked,
            maker: filter,
            cursor,
            ..
        } = request
        else {
            self.on_sync_failed(request);
            return Vec::new();
        };
        let chain = (peer, *asked, *filter);
        if self.sync_guard.is_banned(&peer) {
            debug!(%peer, "sync page of a banned peer dropped");
            self.sync_guard.end(&chain);
            self.on_sync_failed(request);
            return Vec::new();
        }
        let ids = match response.check_page(request) {
            Ok(ids) => ids,
            Err(err) => {
                warn!(%peer, %err, "bad sync page");
                let actions = self.sync_fault(peer, now);
                self.sync_guard.end(&chain);
                self.on_sync_failed(request);
                return actions;
            }
        };
        let SyncResponse::OrdersPage {
            market,
            orders,
            next_cursor,
            alives,
        } = response
        else {
            debug!(%peer, ?response, "sync refused");
            self.sync_guard.end(&chain);
            self.on_sync_failed(request);
            return Vec::new();
        };
        // The makers' heartbeats first: their orders are then shown as they are inserted,
        // not held until each maker's next heartbeat. A forged one spoils the whole page.
        let alives = match self.verify_page_alives(alives, now) {
            Ok(alives) => alives,
            Err(err) => {
                warn!(%peer, %market, %err, "sync page with an invalid heartbeat");
                let actions = self.sync_fault(peer, now);
                self.sync_guard.end(&chain);
                self.on_sync_failed(request);
                return actions;
            }
        };
        for alive in &alives {
            self.hear_alive(alive, false, now);
        }
        NodeMetrics::inc(&self.metrics.sync_pages);
        self.sync_guard.page(chain, cursor.is_none(), now);
        if let Some(maker) = filter {
            let listed = orders.iter().zip(&ids).map(|(entry, id)| {
                let remaining = entry
                    .update
                    .as_ref()
                    .map_or(entry.order.order.quantity, |update| update.update.remaining);
                (*id, remaining)
            });
            self.listings.page(market, *maker, peer, listed);
        }
        let mut learnt = 0u64;
        let mut fault = None;
        let none = EntryAhead::default();
        for (index, (entry, id)) in orders.into_iter().zip(ids).enumerate() {
            let ahead = ahead.get(index).unwrap_or(&none);
            match self.judge(None, |ctx| validate_synced(entry, id, ahead, now, ctx)) {
                Ok((order, update)) => {
                    if let Some(order) = order {
                        let maker = order.maker();
                        if self.refuse_own_copy(&order).is_ok() && self.insert(order, now).is_ok() {
                            learnt += 1;
                            // A synced order is no sign of life: its maker stays suspended
                            // until heard (no ghost orders from a dead maker's peers).
                            self.heard_from(maker, market, 0, now);
                        }
                    }
                    if let Some(update) = update {
                        let _ = self.apply_update(&update);
                    }
                }
                Err(err) if err.is_fault() => {
                    // No correct peer sends it: check nothing more it sent.
                    fault = Some(err);
                    break;
                }
                Err(err) => debug!(%peer, %err, "sync entry skipped"),
            }
        }
        NodeMetrics::add(&self.metrics.sync_orders, learnt);
        debug!(%peer, %market, learnt, "sync page applied");
        if let Some(err) = fault {
            warn!(%peer, %market, %err, "sync page with an invalid entry; sync stopped");
            let actions = self.sync_fault(peer, now);
            self.sync_guard.end(&chain);
            self.on_sync_failed(request);
            return actions;
        }
        let Some(cursor) = next_cursor else {
            self.sync_guard.end(&chain);
            self.syncing.remove(&(market, *filter));
            match filter {
                None => info!(%peer, %market, "sync complete"),
                Some(maker) => self.unlist(market, *maker, peer),
            }
            return Vec::new();
        };
        match self.sync_guard.follow(&chain) {
            Follow::Yes => vec![Action::Sync {
                peer,
                request: SyncRequest::GetOrders {
                    market,
                    cursor: Some(cursor),
                    limit: self.page_limit,
                    maker: *filter,
                },
            }],
            stop => {
                if stop == Follow::Capped {
                    NodeMetrics::inc(&self.metrics.sync_capped);
                    info!(%peer, %market, "sync stopped at the page cap; the peer offers more");
                }
                self.sync_guard.end(&chain);
                self.syncing.remove(&(market, *filter));
                if let Some(maker) = filter {
                    self.listings.abandon(market, *maker);
                }
                Vec::new()
            }
        }
    }

    /// Verifies the heartbeats of a page at `now`, keeping those recent enough to count
    /// (signed within `silent_after`); any invalid one is an error.
    fn verify_page_alives(
        &self,
        alives: Vec<SignedAlive>,
        now: UnixMillis,
    ) -> Result<Vec<VerifiedAlive>, dex_primitives::Error> {
        let oldest = now.saturating_sub(self.silent_after_ms);
        let mut verified = Vec::with_capacity(alives.len());
        for signed in alives {
            let alive = signed.verify(&self.rules, now)?;
            if alive.alive().timestamp >= oldest {
                verified.push(alive);
            }
        }
        Ok(verified)
    }

    /// Withdraws the orders of `maker` that the complete sync answer of `peer` proves
    /// closed where they were posted (see `listings`): ghosts here.
    fn unlist(&mut self, market: MarketId, maker: Address, peer: PeerId) {
        let unlisted = self.listings.complete(market, maker, peer);
        let Some(state) = self.books.get_mut(&market) else {
            return;
        };
        let mut withdrawn = 0u64;
        for id in unlisted {
            // Closed here meanwhile (its cancel arrived after all), or taken in hand: left.
            if state.book.unlist(id).is_ok() {
                withdrawn += 1;
                debug!(order = %id, %peer, "order closed where it was posted; withdrawn");
            }
        }
        if withdrawn > 0 {
            info!(%maker, %market, %peer, withdrawn, "orders closed where they were posted withdrawn");
            NodeMetrics::add(&self.metrics.orders_unlisted, withdrawn);
            self.drain_book(market);
        }
    }

    /// A faulty page from `peer`: counted, and a strike that may ban it from sync; a peer
    /// banned now is disconnected (what to do about it).
    fn sync_fault(&mut self, peer: PeerId, now: UnixMillis) -> Vec<Action> {
        NodeMetrics::inc(&self.metrics.sync_faults);
        if self.sync_guard.strike(peer, now) {
            NodeMetrics::inc(&self.metrics.peers_banned);
            warn!(%peer, "peer banned from sync for repeated invalid pages; disconnecting it");
            return vec![Action::Disconnect { peer }];
        }
        Vec::new()
    }

    /// `peer`'s standing as a sync server at `now`.
    pub fn peer_standing(&self, peer: &PeerId, now: UnixMillis) -> PeerStanding {
        self.sync_guard.standing(peer, now)
    }

    /// A sync request failed (timeout, refused, bad page): count it and allow a retry.
    pub fn on_sync_failed(&mut self, request: &SyncRequest) {
        NodeMetrics::inc(&self.metrics.sync_failed);
        if let SyncRequest::GetOrders { market, maker, .. } = request {
            self.syncing.remove(&(*market, *maker));
            if let Some(maker) = maker {
                self.listings.abandon(*market, *maker);
            }
        }
    }

    /// A peer disconnected.
    pub fn on_peer_disconnected(&mut self, peer: PeerId) {
        self.connected.remove(&peer);
    }

    /// A peer connected: a starting node syncs every market from its first few peers.
    pub fn on_peer_connected(&mut self, peer: PeerId) -> Vec<Action> {
        self.connected.insert(peer);
        if self.start_synced.len() >= self.start_sync_peers
            || self.sync_guard.is_banned(&peer)
            || !self.start_synced.insert(peer)
        {
            return Vec::new();
        }
        let mut markets: Vec<MarketId> = self.books.keys().copied().collect();
        markets.sort();
        markets
            .into_iter()
            .map(|market| Action::Sync {
                peer,
                request: SyncRequest::GetOrders {
                    market,
                    cursor: None,
                    limit: self.page_limit,
                    maker: None,
                },
            })
            .collect()
    }

    /// The book digest of a market (visible orders and their remaining quantities).
    pub fn digest(&self, market: &MarketId) -> Option<B256> {
        self.books.get(market).map(|state| state.book.digest())
    }

    /// Counts of a market's book.
    pub fn stats(&self, market: &MarketId) -> Option<BookStats> {
        self.books.get(market).map(|state| BookStats {
            visible: state.book.len(),
            suspended: state.book.suspended_len(),
            tombstones: state.book.tombstones(),
        })
    }

    /// A market's book, for read-only queries (depth, top, orders).
    pub fn book(&self, market: &MarketId) -> Option<&Book> {
        self.books.get(market).map(|state| &state.book)
    }

    /// What the books know of an order.
    pub fn order_status(&self, id: &OrderId) -> OrderStatus {
        self.books
            .values()
            .map(|state| state.book.status(id))
            .find(|status| *status != OrderStatus::Unknown)
            .unwrap_or(OrderStatus::Unknown)
    }
}
