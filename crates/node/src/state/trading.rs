//! Settlement in the pure core (DESIGN §6–8): own orders and what happens to them, the take
//! protocol on both sides, and the swaps it starts. Given decoded messages, chain batches
//! and `now`, it decides ([`Decision`]): the shell writes what it must persist, and only
//! then does what it decided.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use dex_book::Taker;
use dex_chain::{BlockRef, ChainEvent, HtlcEvent};
use dex_network::PeerId;
use dex_primitives::{
    Address, B256, Lots, MarketId, Order, OrderId, Side, Ticks, U256, UnixMillis, Update,
    VerifiedOrder,
};
use dex_protocol::{
    GossipMessage, WireMessage,
    take::{
        NoteKind, RejectReason, SwapAck, SwapMessage, SwapNote, TakeAccept, TakeAnswer,
        TakeMessage, TakeReject, TakeRequest, check_signer, sign_accept, sign_note, sign_reject,
        sign_take,
    },
};
use dex_store::{
    LogEntry, OrderStatus as StoredStatus, OwnOrder, StoreOp, SwapRecord, TradeRecord,
};
use dex_swap::{
    Action as SwapAction, Event as SwapEvent, Hint, Leg, LockInfo, LockTerms, Outcome, Role,
    ScanLag, Secret, Swap, SwapId, SwapParams, Timing,
};
use tracing::{debug, info, warn};

use super::{Action, Decision, Ledger, NodeEvent, NodeState, OwnOrderEvent, millis};
use crate::{Error, NodeMetrics, SettlementConfig};

/// Rounds of re-planning after refused takes, per order: bounds the work a crowd of
/// refusing makers can cause.
const MAX_TAKE_ROUNDS: u32 = 4;

/// Take requests in flight to one maker node at once; more fills wait for answers. A sweep
/// of many levels of one maker must not open more streams than the connection allows.
const MAX_TAKES_PER_PEER: usize = 16;

/// How long an order stays valid when the request names no expiry: one day.
pub const DEFAULT_EXPIRY_MS: u64 = 24 * 60 * 60 * 1000;

/// Whether an order rests after its takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimeInForce {
    /// Good till cancelled: what is not filled rests in the book.
    #[default]
    Gtc,
    /// Immediate or cancel: what the takes do not fill is cancelled.
    Ioc,
}

/// An order to place, in market units (the API converts decimal strings exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    /// The market.
    pub market: MarketId,
    /// Buy or sell base.
    pub side: Side,
    /// Limit price.
    pub price: Ticks,
    /// Quantity.
    pub quantity: Lots,
    /// Smallest fill accepted; default one lot.
    pub min_fill: Option<Lots>,
    /// GTC (default) or IOC.
    pub time_in_force: TimeInForce,
    /// Lifetime; default [`DEFAULT_EXPIRY_MS`].
    pub expires_in_ms: Option<u64>,
    /// Which of the node's trader keys makes it; default the first.
    pub maker: Option<Address>,
}

/// An own order as the node tracks it beyond the book.
#[derive(Debug, Clone)]
pub(crate) struct Own {
    pub(crate) order: Arc<VerifiedOrder>,
    tif: TimeInForce,
    pub(crate) status: StoredStatus,
    /// Remaining as last signed (or, for an IOC order that never rests, as filled).
    pub(crate) remaining: Lots,
    /// Lots asked for in takes still waiting for an answer.
    in_flight: Lots,
    /// Maker orders that refused this order's takes, or that it already has a swap with
    /// (our book shows their quantity until the maker's update arrives): not taken again.
    refused_by: HashSet<OrderId>,
    /// Re-planning rounds done.
    rounds: u32,
    /// Whether it is in the book (GTC), or only tracked here (IOC).
    pub(crate) in_book: bool,
    /// What it reserves of its asset now (see `account_own`).
    pub(crate) reserving: U256,
}

/// A take request sent, waiting for the maker's answer.
#[derive(Debug, Clone)]
struct PendingTake {
    request: TakeRequest,
    own_order: OrderId,
    maker_order: Arc<VerifiedOrder>,
    secret: Secret,
    price: Ticks,
    quantity: Lots,
    peer: PeerId,
    sent_at: UnixMillis,
}

/// A swap in progress.
#[derive(Debug, Clone)]
pub(crate) struct SwapEntry {
    record: SwapRecord,
    pub(crate) swap: Swap,
    peer: Option<PeerId>,
}

/// Settlement state of the node. Lives inside [`NodeState`].
#[derive(Debug)]
pub(crate) struct Trading {
    timing: Timing,
    reservation_ms: u64,
    lock_margin_ms: u64,
    repost_failed: bool,
    takes_per_minute: u32,
    take_timeout_ms: u64,
    /// HTLC contract per chain id.
    htlcs: HashMap<u64, Address>,
    /// How late this node sees each chain (scan confirmations and a poll), whole seconds
    /// rounded up, per chain id.
    scan_lags: HashMap<u64, u64>,
    /// Chains answering now.
    up: HashSet<u64>,
    /// Time of the last block scanned per chain.
    chain_times: HashMap<u64, u64>,
    /// Newest head seen per chain (number, time).
    chain_heads: HashMap<u64, (u64, u64)>,
    pub(crate) own: HashMap<OrderId, Own>,
    takes: HashMap<B256, PendingTake>,
    pub(crate) swaps: HashMap<SwapId, SwapEntry>,
    /// Every hashlock any swap of this node used: a take reusing one is refused.
    hashlocks: HashSet<B256>,
    /// Lock id → the swap and leg it belongs to, to route claims and refunds.
    lock_ids: HashMap<B256, (SwapId, Leg)>,
    /// Swaps whose quantity was committed out of an own order (once each).
    pub(crate) committed: HashSet<SwapId>,
    /// Swaps whose reservation was released.
    released: HashSet<SwapId>,
    /// Takes accepted per taker address in the current minute.
    taker_windows: HashMap<Address, (UnixMillis, u32)>,
    nonce: u64,
    /// Balances: on chain, reserved by orders, locks seen.
    pub(crate) ledger: Ledger,
}

impl Trading {
    pub(crate) fn new(config: &SettlementConfig) -> Trading {
        Trading {
            timing: config.timing,
            reservation_ms: millis(config.reservation),
            // The taker reads the maker's deadline on its own clock: the skew allowed
            // between the two comes off the time it has to lock.
            lock_margin_ms: millis(config.lock_margin)
                .saturating_add(millis(config.max_clock_skew)),
            repost_failed: config.repost_failed,
            takes_per_minute: config.takes_per_minute,
            take_timeout_ms: millis(config.take_timeout),
            htlcs: config.chains.iter().map(|c| (c.chain_id, c.htlc)).collect(),
            scan_lags: config
                .chains
                .iter()
                .map(|c| (c.chain_id, c.client.scan_lag().as_millis().div_ceil(1000)))
                .map(|(chain_id, secs)| (chain_id, u64::try_from(secs).unwrap_or(u64::MAX)))
                .collect(),
            up: HashSet::new(),
            chain_times: HashMap::new(),
            chain_heads: HashMap::new(),
            own: HashMap::new(),
            takes: HashMap::new(),
            swaps: HashMap::new(),
            hashlocks: HashSet::new(),
            lock_ids: HashMap::new(),
            committed: HashSet::new(),
            released: HashSet::new(),
            taker_windows: HashMap::new(),
            nonce: 0,
            ledger: Ledger::new(config),
        }
    }

    /// This node's scan lag on the chains of both legs.
    fn scan_lag(&self, legs: &Legs) -> ScanLag {
        let lag = |chain_id| self.scan_lags.get(&chain_id).copied().unwrap_or(0);
        ScanLag {
            taker_leg: lag(legs.taker_leg.chain_id),
            maker_leg: lag(legs.maker_leg.chain_id),
        }
    }

    /// Tracks a new swap with `peer` (its hashlock counts as used from now on); `decision`
    /// persists it before anything acts on it.
    fn open_swap(&mut self, record: SwapRecord, swap: Swap, peer: PeerId, decision: &mut Decision) {
        self.hashlocks.insert(swap.params().hashlock);
        decision.persist(StoreOp::CreateSwap {
            record: Box::new(record.clone()),
            swap: Box::new(swap.clone()),
        });
        self.swaps.insert(
            record.swap_id,
            SwapEntry {
                record,
                swap,
                peer: Some(peer),
            },
        );
    }
}

/// A swap with a leg on some chain: its id, its legs there, and the lock it waits to see.
type OnChain = (SwapId, Vec<Leg>, Option<(Leg, u64)>);

/// One scan step of a chain, as the node core takes it.
#[derive(Debug, Clone, Default)]
pub struct ChainBatch {
    /// HTLC events in chain order.
    pub events: Vec<ChainEvent>,
    /// The last block scanned: every event up to it was reported.
    pub last_block: Option<BlockRef>,
    /// The chain's head when the step read it.
    pub head: Option<BlockRef>,
    /// Set when the step found blocks it had read replaced: the first block that changed.
    /// What was reported from it on may be gone (the scan reads it again).
    pub reorg: Option<u64>,
    /// Where the scan stands now (next block, cursor JSON), to persist after the events.
    pub cursor: Option<(u64, String)>,
}

/// The two legs of a trade at `price` × `quantity` in `market`, for a taker on `taker_side`.
struct Legs {
    taker_leg: LockTerms,
    maker_leg: LockTerms,
}

impl NodeState {
    fn trading_mut(&mut self) -> Result<&mut Trading, Error> {
        self.trading.as_mut().ok_or(Error::SettlementOff)
    }

    /// Marks a chain reachable or not; trading on an unreachable chain is refused.
    pub fn set_chain_up(&mut self, chain_id: u64, up: bool) {
        if let Some(trading) = self.trading.as_mut() {
            if up {
                trading.up.insert(chain_id);
            } else {
                trading.up.remove(&chain_id);
            }
        }
    }

    /// The chains that answer now, sorted.
    pub fn chains_up(&self) -> Vec<u64> {
        let mut up: Vec<u64> = self
            .trading
            .as_ref()
            .map(|trading| trading.up.iter().copied().collect())
            .unwrap_or_default();
        up.sort_unstable();
        up
    }

    /// The lock terms of both legs of a trade.
    fn legs(
        &self,
        market: &MarketId,
        taker_side: Side,
        price: Ticks,
        quantity: Lots,
        taker: Address,
        maker: Address,
    ) -> Result<Legs, Error> {
        let trading = self.trading.as_ref().ok_or(Error::SettlementOff)?;
        let market = self
            .markets
            .get(market)
            .ok_or(Error::UnknownMarket { market: *market })?;
        let def = market.def();
        let amounts = market.fill_amounts(price, quantity).map_err(|source| {
            dex_protocol::Error::Invalid {
                what: "order",
                source,
            }
        })?;
        let htlc = |chain_id: u64| {
            trading
                .htlcs
                .get(&chain_id)
                .copied()
                .ok_or(Error::ChainNotConfigured { chain_id })
        };
        let base = (def.base_chain, def.base_token, amounts.base);
        let quote = (def.quote_chain, def.quote_token, amounts.quote);
        // The taker gives quote when it buys base, base when it sells.
        let (gives, gets) = match taker_side {
            Side::Buy => (quote, base),
            Side::Sell => (base, quote),
        };
        Ok(Legs {
            taker_leg: LockTerms {
                chain_id: gives.0,
                contract: htlc(gives.0)?,
                token: gives.1,
                amount: gives.2,
                sender: taker,
                recipient: maker,
            },
            maker_leg: LockTerms {
                chain_id: gets.0,
                contract: htlc(gets.0)?,
                token: gets.1,
                amount: gets.2,
                sender: maker,
                recipient: taker,
            },
        })
    }

    /// Refuses trading on a market whose chains are not both reachable.
    fn check_chains_up(&self, market: &MarketId) -> Result<(), Error> {
        let trading = self.trading.as_ref().ok_or(Error::SettlementOff)?;
        let def = self
            .markets
            .get(market)
            .ok_or(Error::UnknownMarket { market: *market })?
            .def();
        for chain_id in [def.base_chain, def.quote_chain] {
            if !trading.htlcs.contains_key(&chain_id) {
                return Err(Error::ChainNotConfigured { chain_id });
            }
            if !trading.up.contains(&chain_id) {
                return Err(Error::ChainUnavailable { chain_id });
            }
        }
        Ok(())
    }

    /// Places an order the node signs with one of its trader keys: it takes what crosses in
    /// the book (take requests to the makers' nodes) and, for GTC, rests the rest.
    /// Refused beyond the free balance of the asset the order locks (see
    /// [`NodeState::balances`]).
    pub fn place_order(
        &mut self,
        request: PlaceOrder,
        now: UnixMillis,
    ) -> Result<(OrderId, Decision), Error> {
        self.place(request, now, true)
    }

    fn place(
        &mut self,
        request: PlaceOrder,
        now: UnixMillis,
        check_balance: bool,
    ) -> Result<(OrderId, Decision), Error> {
        self.check_chains_up(&request.market)?;
        let maker = match request.maker {
            Some(maker) => maker,
            None => *self.traders.keys().min().ok_or(Error::NoTraderKey)?,
        };
        let key = self
            .traders
            .get(&maker)
            .ok_or(Error::NotOurMaker { maker })?
            .clone();
        let trading = self.trading_mut()?;
        trading.nonce += 1;
        // Unique across restarts too: the time in ms, with a counter for the same ms.
        let nonce = now
            .saturating_mul(1000)
            .saturating_add(trading.nonce % 1000);
        let created_at = self.taking_time(&request, maker, now);
        let order = Order {
            market: request.market,
            side: request.side,
            price: request.price,
            quantity: request.quantity,
            min_fill: request.min_fill.unwrap_or(Lots(1)).min(request.quantity),
            maker,
            peer: self.peer.clone(),
            nonce,
            created_at,
            expires_at: now.saturating_add(request.expires_in_ms.unwrap_or(DEFAULT_EXPIRY_MS)),
        };
        if check_balance {
            self.check_balance(&order)?;
            self.check_gas(&order, false)?;
        }
        // Signed by the maker's own key here: checked like a received order, except that
        // the signature is not recovered again (it could only give back the maker).
        let verified = order
            .sign_verified(&key, &self.markets, &self.rules, now)
            .map_err(|source| dex_protocol::Error::Invalid {
                what: "order",
                source,
            })?;
        self.place_verified(verified, request.time_in_force, now)
    }

    /// Places an own order signed elsewhere (a wallet, a bot) by a trader key this node
    /// holds, exactly as [`NodeState::place_order`] places one it signs: judged against the
    /// balances and gas, stored, tracked, committed with signed updates as it fills,
    /// listed and restored on restart. It rests (GTC) after what it takes.
    pub(crate) fn place_signed(
        &mut self,
        signed: dex_primitives::SignedOrder,
        now: UnixMillis,
    ) -> Result<(OrderId, Decision), Error> {
        self.check_ours(&signed.order)?;
        self.check_chains_up(&signed.order.market)?;
        let verified = signed
            .verify(&self.markets, &self.rules, now)
            .map_err(|source| dex_protocol::Error::Invalid {
                what: "order",
                source,
            })?;
        let id = verified.id();
        let known = self
            .trading
            .as_ref()
            .is_some_and(|trading| trading.own.contains_key(&id));
        if known
            || self
                .books
                .values()
                .any(|state| state.book.get(&id).is_some())
        {
            return Err(dex_book::Error::AlreadyOpen { id }.into());
        }
        self.check_balance(verified.order())?;
        self.check_gas(verified.order(), false)?;
        self.place_verified(verified, TimeInForce::Gtc, now)
    }

    /// Everything after an own order is signed and verified: its write, the book, the
    /// gossip, its tracking and reservation, and its takes.
    fn place_verified(
        &mut self,
        verified: VerifiedOrder,
        time_in_force: TimeInForce,
        now: UnixMillis,
    ) -> Result<(OrderId, Decision), Error> {
        let market = verified.market();
        let id = verified.id();
        let signed = verified.signed().clone();
        let mut decision = Decision::default();
        decision.persist(StoreOp::InsertOrder(Box::new(OwnOrder {
            id,
            signed: signed.clone(),
            remaining: verified.order().quantity,
            status: StoredStatus::Open,
            latest_update: None,
            created_at: now,
            updated_at: now,
        })));
        let verified = Arc::new(verified);
        let in_book = time_in_force == TimeInForce::Gtc;
        if in_book {
            self.insert((*verified).clone(), now)?;
            let data = GossipMessage::Order(signed).encode()?;
            decision.then(self.publish(&market, data));
        }
        let trading = self.trading_mut()?;
        trading.own.insert(
            id,
            Own {
                order: verified.clone(),
                tif: time_in_force,
                status: StoredStatus::Open,
                remaining: verified.order().quantity,
                in_flight: Lots::ZERO,
                refused_by: HashSet::new(),
                rounds: 0,
                in_book,
                reserving: U256::ZERO,
            },
        );
        self.account_own(id);
        self.own_order_event(id, verified.order().quantity, StoredStatus::Open, now);
        let fields = verified.order();
        info!(order = %id, side = %fields.side, price = fields.price.0, quantity = fields.quantity.0, tif = ?time_in_force, "order placed");
        self.take_for(id, now, false, &mut decision);
        self.settle_ioc(id, now, &mut decision);
        Ok((id, decision))
    }

    /// The `createdAt` of a new order: now, or just after the latest resting order it can
    /// take. An order placed to take what it sees is later than what it takes; stamping it
    /// so keeps the takes valid ("the later order takes") when clocks agree to the
    /// millisecond or differ a little. At most half the allowed clock skew ahead of now, so
    /// peers with some skew still accept it.
    fn taking_time(&self, request: &PlaceOrder, maker: Address, now: UnixMillis) -> UnixMillis {
        let cap = now.saturating_add(self.rules.max_clock_skew_ms / 2);
        let Some(state) = self.books.get(&request.market) else {
            return now;
        };
        let probe = Taker {
            id: OrderId(B256::repeat_byte(0xff)),
            maker,
            side: request.side,
            limit: request.price,
            quantity: request.quantity,
            min_fill: Lots(1),
            created_at: cap,
        };
        state
            .book
            .plan(&probe, now)
            .fills
            .iter()
            .filter_map(|fill| state.book.get(&fill.maker_order))
            .map(|view| view.created_at.saturating_add(1))
            .max()
            .map_or(now, |after| after.clamp(now, cap))
    }

    /// Sends take requests for what own order `id` can take from the book now.
    ///
    /// `replan` is true after a refusal: those rounds are bounded. Continuing after an
    /// answer (fills that waited for a free slot) is not.
    fn take_for(&mut self, id: OrderId, now: UnixMillis, replan: bool, decision: &mut Decision) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        // Maker orders this order is taking already, and the takes in flight per maker node.
        let mut pending_makers = HashSet::new();
        let mut per_peer: HashMap<PeerId, usize> = HashMap::new();
        for take in trading.takes.values() {
            if take.own_order == id {
                pending_makers.insert(take.request.maker_order_id);
            }
            *per_peer.entry(take.peer).or_default() += 1;
        }
        let Some(own) = trading.own.get_mut(&id) else {
            return;
        };
        if own.status != StoredStatus::Open || (replan && own.rounds >= MAX_TAKE_ROUNDS) {
            return;
        }
        if replan {
            own.rounds += 1;
        }
        let order = own.order.clone();
        let in_book = own.in_book;
        let refused_by = &own.refused_by;
        let want = own.remaining.saturating_sub(own.in_flight);
        let market = order.market();
        let Some(state) = self.books.get(&market) else {
            return;
        };
        let want = if in_book {
            match state.book.get(&id) {
                Some(view) => view.available(),
                None => return,
            }
        } else {
            want
        };
        if want.is_zero() {
            return;
        }
        // Plan for everything that crosses, then leave out the maker orders this order is
        // taking already, was refused by, or that belong to this node, and keep `want`
        // lots: planning for only `want` would let excluded orders use up the plan.
        let taker = Taker::from_order(&order).with_quantity(Lots(u64::MAX / 2));
        let plan = state.book.plan(&taker, now);
        let mut left = want;
        let mut fills = Vec::new();
        for mut fill in plan.fills {
            if left.is_zero() {
                break;
            }
            if refused_by.contains(&fill.maker_order) || pending_makers.contains(&fill.maker_order)
            {
                continue;
            }
            let Some(maker_order) = state.book.order(&fill.maker_order).cloned() else {
                continue;
            };
            // Orders of this node (another of its trader keys) cannot be taken over the
            // network, and would share the swap's hashlock in one database.
            if maker_order.order().peer == self.peer {
                continue;
            }
            let quantity = fill.quantity.min(left);
            // A part of a maker order must respect its minFill (all of it always may).
            if quantity < fill.quantity && quantity < maker_order.order().min_fill {
                continue;
            }
            fill.quantity = quantity;
            left = left.saturating_sub(quantity);
            fills.push((fill, maker_order));
        }
        let Some(key) = self.traders.get(&order.maker()).cloned() else {
            return;
        };
        for (fill, maker_order) in fills {
            let Ok(peer) = maker_order.order().peer.parse::<PeerId>() else {
                debug!(maker_order = %fill.maker_order, "maker order names no valid peer; skipped");
                continue;
            };
            let in_flight = per_peer.entry(peer).or_default();
            if *in_flight >= MAX_TAKES_PER_PEER {
                // Sent when an answer frees a slot (see `take_answered`).
                continue;
            }
            *in_flight += 1;
            let legs = match self.legs(
                &market,
                order.order().side,
                fill.price,
                fill.quantity,
                order.maker(),
                maker_order.maker(),
            ) {
                Ok(legs) => legs,
                Err(err) => {
                    warn!(%err, "cannot build the swap of a fill; skipped");
                    continue;
                }
            };
            if in_book {
                let Some(state) = self.books.get_mut(&market) else {
                    return;
                };
                if let Err(err) = state.book.reserve(id, fill.quantity) {
                    debug!(%err, "own order cannot reserve for a take");
                    self.drain_book(market);
                    continue;
                }
                self.drain_book(market);
            }
            let Some(trading) = self.trading.as_mut() else {
                return;
            };
            trading.nonce += 1;
            let mut context = Vec::with_capacity(72);
            context.extend_from_slice(id.0.as_slice());
            context.extend_from_slice(fill.maker_order.0.as_slice());
            context.extend_from_slice(&now.to_be_bytes());
            context.extend_from_slice(&trading.nonce.to_be_bytes());
            let secret = Secret(key.derive_secret(&context));
            let request = TakeRequest {
                maker_order_id: fill.maker_order,
                taker_order_id: id,
                quantity: fill.quantity.0,
                hashlock: secret.hashlock(),
                taker_htlc: legs.taker_leg.contract,
                maker_htlc: legs.maker_leg.contract,
                taker_lock_secs: trading.timing.taker_lock_secs,
                timestamp: now,
            };
            let request_id = request.id();
            if let Some(own) = trading.own.get_mut(&id) {
                own.in_flight = own
                    .in_flight
                    .checked_add(fill.quantity)
                    .unwrap_or(own.in_flight);
            }
            trading.takes.insert(
                request_id,
                PendingTake {
                    request,
                    own_order: id,
                    maker_order,
                    secret,
                    price: fill.price,
                    quantity: fill.quantity,
                    peer,
                    sent_at: now,
                },
            );
            info!(order = %id, maker_order = %fill.maker_order, quantity = fill.quantity.0, price = fill.price.0, %peer, "take requested");
            NodeMetrics::inc(&self.metrics.takes_sent);
            decision.then(Action::Take {
                peer,
                request_id,
                message: Box::new(sign_take(request, order.signed().clone(), &key)),
            });
        }
    }

    /// An IOC order with no take in flight is over: the rest is cancelled.
    fn settle_ioc(&mut self, id: OrderId, now: UnixMillis, decision: &mut Decision) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        let Some(own) = trading.own.get_mut(&id) else {
            return;
        };
        if own.tif != TimeInForce::Ioc
            || !own.in_flight.is_zero()
            || own.status != StoredStatus::Open
        {
            return;
        }
        own.status = if own.remaining.is_zero() {
            StoredStatus::Filled
        } else {
            StoredStatus::Cancelled
        };
        info!(order = %id, status = own.status.as_str(), remaining = own.remaining.0, "IOC order done");
        let (remaining, status) = (own.remaining, own.status);
        decision.persist(StoreOp::UpdateOrder {
            id,
            remaining,
            status,
            update: None,
        });
        self.account_own(id);
        self.own_order_event(id, remaining, status, now);
    }

    /// The maker's answer to take `request_id` (or the failure to get one).
    pub fn on_take_answer(
        &mut self,
        request_id: B256,
        answer: Result<TakeAnswer, String>,
        now: UnixMillis,
    ) -> Decision {
        let mut decision = Decision::default();
        let Some(trading) = self.trading.as_mut() else {
            return decision;
        };
        let Some(take) = trading.takes.remove(&request_id) else {
            // Timed out already, or never sent.
            return decision;
        };
        let verified = answer.and_then(|answer| {
            answer
                .verify(&request_id, take.maker_order.maker())
                .map_err(|err| err.to_string())?;
            Ok(answer)
        });
        match verified {
            Ok(TakeAnswer::Accepted { accept, .. })
                if accept.swap_id == take.request.swap_id()
                    && accept.quantity == take.request.quantity =>
            {
                self.start_taker_swap(take, accept, now, &mut decision);
            }
            Ok(TakeAnswer::Rejected { reject, detail, .. }) => {
                info!(maker_order = %take.request.maker_order_id, reason = reject.reason.label(), %detail, "take refused");
                self.take_failed(take, true, now, &mut decision);
            }
            Ok(other) => {
                warn!(?other, "take answer does not match the request");
                self.take_failed(take, true, now, &mut decision);
            }
            Err(err) => {
                info!(maker_order = %take.request.maker_order_id, %err, "take failed");
                self.take_failed(take, true, now, &mut decision);
            }
        }
        decision
    }

    /// A take that will not happen: give its quantity back to the own order and try the
    /// next makers.
    fn take_failed(
        &mut self,
        take: PendingTake,
        refused: bool,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        NodeMetrics::inc(&self.metrics.takes_failed);
        let id = take.own_order;
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        let Some(own) = trading.own.get_mut(&id) else {
            return;
        };
        own.in_flight = own.in_flight.saturating_sub(take.quantity);
        if refused {
            own.refused_by.insert(take.request.maker_order_id);
        }
        let in_book = own.in_book;
        let market = own.order.market();
        if in_book {
            if let Some(state) = self.books.get_mut(&market) {
                let _ = state.book.release(id, take.quantity);
            }
            self.drain_book(market);
        }
        self.take_for(id, now, refused, decision);
        self.settle_ioc(id, now, decision);
    }

    fn start_taker_swap(
        &mut self,
        take: PendingTake,
        accept: TakeAccept,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        let order = take.maker_order.clone();
        let Some(own) = self
            .trading
            .as_ref()
            .and_then(|trading| trading.own.get(&take.own_order))
            .map(|own| own.order.clone())
        else {
            return;
        };
        let legs = match self.legs(
            &own.market(),
            own.order().side,
            take.price,
            take.quantity,
            own.maker(),
            order.maker(),
        ) {
            Ok(legs) => legs,
            Err(err) => {
                warn!(%err, "accepted take cannot be settled");
                return self.take_failed(take, false, now, decision);
            }
        };
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        let params = SwapParams {
            swap_id: accept.swap_id,
            role: Role::Taker,
            hashlock: take.request.hashlock,
            scan_lag_secs: trading.scan_lag(&legs),
            taker_leg: legs.taker_leg,
            maker_leg: legs.maker_leg,
            reserved_until: accept.reserved_until,
            lock_margin_ms: trading.lock_margin_ms,
            timing: trading.timing,
        };
        let swap = match Swap::taker(params, take.secret) {
            Ok(swap) => swap,
            Err(err) => {
                warn!(%err, "taker swap refused its parameters");
                return self.take_failed(take, false, now, decision);
            }
        };
        let record = SwapRecord {
            swap_id: accept.swap_id,
            market: own.market(),
            own_order_id: take.own_order,
            counter_order_id: order.id(),
            side: own.order().side,
            price: take.price,
            quantity: take.quantity,
            peer: take.peer.to_base58(),
            created_at: now,
        };
        info!(swap_id = %accept.swap_id, order = %take.own_order, quantity = take.quantity.0, "take accepted; swap starts");
        NodeMetrics::inc(&self.metrics.swaps_started);
        trading.open_swap(record, swap, take.peer, decision);
        if let Some(own) = trading.own.get_mut(&take.own_order) {
            own.in_flight = own.in_flight.saturating_sub(take.quantity);
            own.refused_by.insert(take.request.maker_order_id);
        }
        // The taker's own quantity is traded from now on.
        self.commit_own(accept.swap_id, now, decision);
        // Fills that waited for a free slot to this maker's node go now.
        self.take_for(take.own_order, now, false, decision);
        self.settle_ioc(take.own_order, now, decision);
        self.feed_known_times(accept.swap_id, now, decision);
    }

    /// Takes a swap's quantity out of our order for good (once per swap): lowers remaining,
    /// signs and gossips the update, and persists both with the commit record.
    fn commit_own(&mut self, swap_id: SwapId, now: UnixMillis, decision: &mut Decision) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        if trading.committed.contains(&swap_id) {
            return;
        }
        let Some(entry) = trading.swaps.get(&swap_id) else {
            return;
        };
        let (order_id, quantity) = (entry.record.own_order_id, entry.record.quantity);
        let Some(own) = trading.own.get(&order_id) else {
            return;
        };
        let (in_book, market, maker) = (own.in_book, own.order.market(), own.order.maker());
        let remaining = if in_book {
            let Some(state) = self.books.get_mut(&market) else {
                return;
            };
            let committed = state.book.commit(order_id, quantity);
            self.drain_book(market);
            match committed {
                Ok(remaining) => remaining,
                Err(err) => {
                    warn!(%err, %swap_id, "own order cannot commit the swap's quantity");
                    return;
                }
            }
        } else {
            own.remaining.saturating_sub(quantity)
        };
        let Some(key) = self.traders.get(&maker).cloned() else {
            return;
        };
        let signed = Update {
            order_id,
            remaining,
            timestamp: now,
        }
        .sign(&key);
        let status = if remaining.is_zero() {
            StoredStatus::Filled
        } else {
            StoredStatus::Open
        };
        if in_book && !remaining.is_zero() {
            // Equal to what the book holds now: it only becomes the proof of `remaining`.
            if let Some(order) = self
                .book(&market)
                .and_then(|book| book.order(&order_id))
                .cloned()
                && let Ok(update) = signed.verify(&order, &self.rules, now)
            {
                let _ = self.apply_update(&update);
            }
        }
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        trading.committed.insert(swap_id);
        if let Some(own) = trading.own.get_mut(&order_id) {
            own.remaining = remaining;
            if own.status == StoredStatus::Open && remaining.is_zero() {
                own.status = StoredStatus::Filled;
            }
        }
        decision.persist(StoreOp::Commit {
            swap_id,
            order: order_id,
            quantity,
            remaining,
            status,
            update: Some(signed),
        });
        self.account_own(order_id);
        self.own_order_event(order_id, remaining, status, now);
        if in_book && let Ok(data) = GossipMessage::Update(signed).encode() {
            decision.then(self.publish(&market, data));
        }
        info!(%swap_id, order = %order_id, quantity = quantity.0, remaining = remaining.0, "quantity committed to the swap");
    }

    /// Gives a swap's reserved quantity back to the maker order (once per swap).
    fn release_own(&mut self, swap_id: SwapId) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        if trading.committed.contains(&swap_id) || !trading.released.insert(swap_id) {
            return;
        }
        let Some(entry) = trading.swaps.get(&swap_id) else {
            return;
        };
        let (order_id, quantity, market) = (
            entry.record.own_order_id,
            entry.record.quantity,
            entry.record.market,
        );
        if let Some(state) = self.books.get_mut(&market)
            && let Err(err) = state.book.release(order_id, quantity)
        {
            debug!(%err, %swap_id, "reservation not released (order already closed)");
        }
        self.drain_book(market);
        info!(%swap_id, order = %order_id, quantity = quantity.0, "reservation released");
    }

    /// A take request from `peer` for one of our orders: checked, reserved, persisted and
    /// answered. Returns the signed answer and what to persist before sending it.
    pub fn on_take_request(
        &mut self,
        peer: PeerId,
        message: TakeMessage,
        now: UnixMillis,
    ) -> (TakeAnswer, Decision) {
        let TakeMessage::Take {
            request,
            signature,
            taker_order,
        } = message;
        let maker_order = self
            .books
            .values()
            .find_map(|state| state.book.order(&request.maker_order_id).cloned());
        let Some(maker_order) = maker_order else {
            // Not open here. A closed order of ours is refused under its maker's key; for
            // an order we never held there is nobody to sign for (see `refuse`).
            let maker = self
                .trading
                .as_ref()
                .and_then(|t| t.own.get(&request.maker_order_id))
                .map(|own| own.order.maker());
            return self.refuse(
                &request,
                maker,
                RejectReason::OrderNotOpen,
                "order not open on this node",
                now,
            );
        };
        let maker = maker_order.maker();
        let mut decision = Decision::default();
        match self.accept_take(
            peer,
            &request,
            &signature,
            taker_order,
            &maker_order,
            now,
            &mut decision,
        ) {
            Ok(accept) => {
                let key = self
                    .traders
                    .get(&maker)
                    .expect("accept_take checked the maker is ours");
                NodeMetrics::inc(&self.metrics.takes_accepted);
                (sign_accept(accept, key), decision)
            }
            Err((reason, detail)) => {
                NodeMetrics::inc(&self.metrics.takes_refused);
                info!(maker_order = %request.maker_order_id, %peer, reason = reason.label(), %detail, "take refused");
                self.refuse(&request, Some(maker), reason, &detail, now)
            }
        }
    }

    fn refuse(
        &self,
        request: &TakeRequest,
        maker: Option<Address>,
        reason: RejectReason,
        detail: &str,
        now: UnixMillis,
    ) -> (TakeAnswer, Decision) {
        // Only the order's maker can sign a refusal the taker can check. For an order this
        // node does not hold, signing with another of its keys would prove nothing to the
        // taker and would tell any peer that asks which trader keys this node holds.
        let key = maker.and_then(|maker| self.traders.get(&maker));
        let reject = TakeReject {
            request_id: request.id(),
            reason,
            timestamp: now,
        };
        let answer = match key {
            Some(key) => sign_reject(reject, detail, key),
            // Unsigned: the taker's check fails, which ends the take like a refusal.
            None => TakeAnswer::Rejected {
                reject,
                signature: dex_primitives::Signature([0; 65]),
                detail: detail.chars().take(200).collect(),
            },
        };
        (answer, Decision::default())
    }

    /// The maker side of a take: every check, then the reservation and the swap.
    #[allow(clippy::too_many_arguments)]
    fn accept_take(
        &mut self,
        peer: PeerId,
        request: &TakeRequest,
        signature: &dex_primitives::Signature,
        taker_order: dex_primitives::SignedOrder,
        maker_order: &Arc<VerifiedOrder>,
        now: UnixMillis,
        decision: &mut Decision,
    ) -> Result<TakeAccept, (RejectReason, String)> {
        let refuse = |reason: RejectReason, detail: String| Err((reason, detail));
        let maker = maker_order.maker();
        let market = maker_order.market();
        if !self.traders.contains_key(&maker) {
            return refuse(
                RejectReason::OrderNotOpen,
                "not an order of this node".into(),
            );
        }
        let Some(trading) = self.trading.as_ref() else {
            return refuse(
                RejectReason::ChainUnavailable,
                "this node does not settle".into(),
            );
        };
        // The request and the taker's order.
        if request.taker_order_id != taker_order.order.id() {
            return refuse(
                RejectReason::InvalidRequest,
                "takerOrderId does not match the order sent".into(),
            );
        }
        let taker_order = match taker_order.verify(&self.markets, &self.rules, now) {
            Ok(order) => order,
            Err(err) => return refuse(RejectReason::InvalidRequest, format!("taker order: {err}")),
        };
        let request_id = request.id();
        if let Err(err) = check_signer("take request", &request_id, signature, taker_order.maker())
        {
            return refuse(RejectReason::InvalidRequest, err.to_string());
        }
        if taker_order.market() != market {
            return refuse(
                RejectReason::PriceMismatch,
                "taker order is for another market".into(),
            );
        }
        if taker_order.order().peer != peer.to_base58() {
            return refuse(
                RejectReason::InvalidRequest,
                "the taker order names another peer than the sender".into(),
            );
        }
        let skew = self.rules.max_clock_skew_ms;
        if request.timestamp.abs_diff(now) > skew {
            return refuse(
                RejectReason::InvalidRequest,
                format!(
                    "request timestamp {} is more than {skew} ms from now",
                    request.timestamp
                ),
            );
        }
        if trading.hashlocks.contains(&request.hashlock) {
            return refuse(RejectReason::InvalidRequest, "hashlock already used".into());
        }
        // Rate limit per taker: each swap gives the taker a free option until T2.
        let window = trading.taker_windows.get(&taker_order.maker()).copied();
        if let Some((start, count)) = window
            && now.saturating_sub(start) < 60_000
            && count >= trading.takes_per_minute
        {
            return refuse(
                RejectReason::RateLimited,
                format!("more than {} takes per minute", trading.takes_per_minute),
            );
        }
        // The terms this node settles under.
        if let Err(err) = self.check_chains_up(&market) {
            return refuse(RejectReason::ChainUnavailable, err.to_string());
        }
        // What the maker's transactions may cost (lock, refund, claim), payable now.
        if let Err(err) = self.check_gas(maker_order.order(), true) {
            return refuse(RejectReason::InsufficientFunds, err.to_string());
        }
        let minimum_t1 = trading
            .timing
            .maker_lock_secs
            .saturating_add(trading.timing.margin_secs)
            .saturating_add(trading.timing.min_claim_secs);
        if request.taker_lock_secs < minimum_t1 {
            return refuse(
                RejectReason::TermsMismatch,
                format!(
                    "takerLockSecs {} is below the {minimum_t1} s this node needs",
                    request.taker_lock_secs
                ),
            );
        }
        // The book: open, offered, crossing, enough available, minFill.
        let quantity = Lots(request.quantity);
        let taker = Taker::from_order(&taker_order).with_quantity(quantity);
        let Some(state) = self.books.get(&market) else {
            return refuse(RejectReason::OrderNotOpen, "unknown market".into());
        };
        let price = match state
            .book
            .check_take(maker_order.id(), &taker, quantity, now)
        {
            Ok(price) => price,
            Err(err) => {
                let reason = match err {
                    dex_book::Error::InsufficientAvailable { .. } => {
                        RejectReason::InsufficientQuantity
                    }
                    dex_book::Error::BelowMinFill { .. } => RejectReason::BelowMinFill,
                    dex_book::Error::PriceDoesNotCross { .. }
                    | dex_book::Error::SameSide { .. } => RejectReason::PriceMismatch,
                    dex_book::Error::ZeroQuantity
                    | dex_book::Error::TakeExceedsTaker { .. }
                    | dex_book::Error::TakerNotLater { .. }
                    | dex_book::Error::SameMaker { .. } => RejectReason::InvalidRequest,
                    _ => RejectReason::OrderNotOpen,
                };
                return refuse(reason, err.to_string());
            }
        };
        let legs = match self.legs(
            &market,
            taker_order.order().side,
            price,
            quantity,
            taker_order.maker(),
            maker,
        ) {
            Ok(legs) => legs,
            Err(err) => return refuse(RejectReason::TermsMismatch, err.to_string()),
        };
        if legs.taker_leg.contract != request.taker_htlc
            || legs.maker_leg.contract != request.maker_htlc
        {
            return refuse(
                RejectReason::TermsMismatch,
                "HTLC contracts differ from this node's".into(),
            );
        }
        let swap_id = request.swap_id();
        let Some(trading) = self.trading.as_ref() else {
            return refuse(RejectReason::Other, "settlement off".into());
        };
        let reserved_until = now.saturating_add(trading.reservation_ms);
        let params = SwapParams {
            swap_id,
            role: Role::Maker,
            hashlock: request.hashlock,
            scan_lag_secs: trading.scan_lag(&legs),
            taker_leg: legs.taker_leg,
            maker_leg: legs.maker_leg,
            reserved_until,
            lock_margin_ms: trading.lock_margin_ms,
            timing: trading.timing,
        };
        let swap = match Swap::maker(params) {
            Ok(swap) => swap,
            Err(err) => return refuse(RejectReason::TermsMismatch, err.to_string()),
        };
        // Reserve: from here on the quantity is not offered to anyone else.
        let Some(state) = self.books.get_mut(&market) else {
            return refuse(RejectReason::OrderNotOpen, "unknown market".into());
        };
        if let Err(err) = state.book.reserve(maker_order.id(), quantity) {
            self.drain_book(market);
            return refuse(RejectReason::InsufficientQuantity, err.to_string());
        }
        self.drain_book(market);
        let record = SwapRecord {
            swap_id,
            market,
            own_order_id: maker_order.id(),
            counter_order_id: taker_order.id(),
            side: maker_order.order().side,
            price,
            quantity,
            peer: peer.to_base58(),
            created_at: now,
        };
        let Some(trading) = self.trading.as_mut() else {
            return refuse(RejectReason::Other, "settlement off".into());
        };
        let window = trading
            .taker_windows
            .entry(taker_order.maker())
            .or_insert((now, 0));
        if now.saturating_sub(window.0) >= 60_000 {
            *window = (now, 0);
        }
        window.1 += 1;
        trading.open_swap(record, swap, peer, decision);
        info!(%swap_id, maker_order = %maker_order.id(), %peer, quantity = quantity.0, price = price.0, "take accepted; quantity reserved");
        NodeMetrics::inc(&self.metrics.swaps_started);
        self.feed_known_times(swap_id, now, decision);
        Ok(TakeAccept {
            request_id,
            swap_id,
            quantity: quantity.0,
            reserved_until,
            timestamp: now,
        })
    }

    /// Gives a new swap the chain times already known, so it starts without waiting for
    /// the next scan.
    fn feed_known_times(&mut self, swap_id: SwapId, now: UnixMillis, decision: &mut Decision) {
        let Some(trading) = self.trading.as_ref() else {
            return;
        };
        let Some(entry) = trading.swaps.get(&swap_id) else {
            return;
        };
        let params = entry.swap.params();
        let mut events = Vec::new();
        for leg in [Leg::Taker, Leg::Maker] {
            let chain_id = params.leg(leg).chain_id;
            if let Some(&(number, time)) = trading.chain_heads.get(&chain_id) {
                events.push(SwapEvent::ChainHead { leg, number, time });
            }
            if let Some(time) = trading.chain_times.get(&chain_id) {
                events.push(SwapEvent::ChainTime { leg, time: *time });
            }
        }
        for event in events {
            self.drive(swap_id, event, now, decision);
        }
    }

    /// A swap hint from `peer`: checked against the swap's counterparty, fed as what it is
    /// (a secret proves itself; an abort matters only before the maker locks).
    pub fn on_swap_message(
        &mut self,
        peer: PeerId,
        message: SwapMessage,
        now: UnixMillis,
    ) -> (SwapAck, Decision) {
        let SwapMessage::Note { note, signature } = message;
        let mut decision = Decision::default();
        let Some(entry) = self
            .trading
            .as_ref()
            .and_then(|trading| trading.swaps.get(&note.swap_id))
        else {
            return (SwapAck::Unknown, decision);
        };
        let params = entry.swap.params();
        let counterparty = match params.role {
            Role::Taker => params.maker_leg.sender,
            Role::Maker => params.taker_leg.sender,
        };
        if check_signer("swap note", &note.digest(), &signature, counterparty).is_err() {
            debug!(swap_id = %note.swap_id, %peer, "swap note not signed by the counterparty");
            return (SwapAck::Unknown, decision);
        }
        let event = match note.kind {
            NoteKind::Secret => Some(SwapEvent::SecretLearned {
                secret: Secret(note.data),
            }),
            NoteKind::Abort => Some(SwapEvent::PeerAborted),
            // A lock hint only says where to look; the watcher reads every lock anyway.
            NoteKind::Locked => None,
        };
        if let Some(event) = event {
            self.drive(note.swap_id, event, now, &mut decision);
        }
        (SwapAck::Ack, decision)
    }

    /// Feeds one event to a swap and turns what it decides into node actions (persisting the
    /// step first).
    fn drive(
        &mut self,
        swap_id: SwapId,
        event: SwapEvent,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        let Some(entry) = trading.swaps.get_mut(&swap_id) else {
            return;
        };
        let before_phase = entry.swap.phase().clone();
        let before_reorged = entry.swap.counter_lock_reorged();
        const LEGS: [Leg; 2] = [Leg::Taker, Leg::Maker];
        let before_locks = LEGS.map(|leg| entry.swap.lock(leg).cloned());
        // Clock events come with every scan poll: logged only when they change something
        // (a head that only raises confirmations does not: they are counted again from the
        // lock's block at the next head after a restart).
        let worth_logging = !matches!(
            event,
            SwapEvent::ChainTime { .. } | SwapEvent::ChainHead { .. } | SwapEvent::Tick
        );
        let swap_actions = entry.swap.handle(event.clone(), now);
        if !before_reorged && entry.swap.counter_lock_reorged() {
            warn!(
                %swap_id,
                "the counterparty's lock that this swap acted on was removed by a reorg; the \
                 swap waits for it to be mined again and otherwise refunds at the timelock: \
                 an operator should look at it"
            );
            NodeMetrics::inc(&self.metrics.swaps_reorged);
        }
        let changed = entry.swap.phase() != &before_phase
            || LEGS
                .iter()
                .zip(&before_locks)
                .any(|(leg, before)| entry.swap.lock(*leg) != before.as_ref());
        // Lock ids route later claims and refunds to this swap.
        for leg in LEGS {
            if let Some(lock) = entry.swap.lock(leg) {
                trading.lock_ids.insert(lock.id, (swap_id, leg));
            }
        }
        let own_leg = Leg::of(entry.swap.params().role);
        if entry.swap.lock(own_leg).is_some() {
            trading.ledger.locks_seen_once(swap_id, now);
        }
        if swap_actions.is_empty() && !changed && !worth_logging {
            return;
        }
        let entry_snapshot = entry.swap.clone();
        decision.persist(StoreOp::AppendSwap {
            swap_id,
            entry: Box::new(LogEntry::Event {
                event: Box::new(event),
            }),
            actions: swap_actions.clone(),
            swap: Box::new(entry_snapshot),
        });
        self.perform_swap_actions(swap_id, swap_actions, now, decision);
    }

    fn perform_swap_actions(
        &mut self,
        swap_id: SwapId,
        swap_actions: Vec<SwapAction>,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        // The phase now: a finished swap is gone from the map after its last action.
        let phase = self
            .trading
            .as_ref()
            .and_then(|trading| trading.swaps.get(&swap_id))
            .map(|entry| phase_name(&entry.swap));
        for action in swap_actions {
            match action {
                SwapAction::Lock { .. } | SwapAction::Claim { .. } | SwapAction::Refund { .. } => {
                    decision.then(Action::Chain { swap_id, action });
                }
                SwapAction::Send(hint) => self.send_hint(swap_id, hint, now, decision),
                SwapAction::CommitReservation => self.commit_own(swap_id, now, decision),
                SwapAction::ReleaseReservation => self.release_own(swap_id),
                SwapAction::Finished(outcome) => self.finish_swap(swap_id, outcome, now, decision),
                SwapAction::Notice(notice) => {
                    info!(%swap_id, ?notice, "swap ignored an observation");
                }
            }
        }
        if let Some(phase) = phase {
            self.events.push(NodeEvent::Swap { swap_id, phase });
        }
    }

    fn send_hint(&mut self, swap_id: SwapId, hint: Hint, now: UnixMillis, decision: &mut Decision) {
        let Some(entry) = self.trading.as_ref().and_then(|t| t.swaps.get(&swap_id)) else {
            return;
        };
        let Some(peer) = entry.peer else {
            return;
        };
        let params = entry.swap.params();
        let own = params.leg(Leg::of(params.role)).sender;
        let Some(key) = self.traders.get(&own) else {
            return;
        };
        let (kind, data) = match hint {
            Hint::Locked { lock_id } => (NoteKind::Locked, lock_id),
            Hint::Secret { secret } => (NoteKind::Secret, secret.0),
            Hint::Abort => (NoteKind::Abort, B256::ZERO),
        };
        let note = SwapNote {
            swap_id,
            kind,
            data,
            timestamp: now,
        };
        decision.then(Action::Note {
            peer,
            message: sign_note(note, key),
        });
    }

    fn finish_swap(
        &mut self,
        swap_id: SwapId,
        outcome: Outcome,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        let Some(entry) = trading.swaps.remove(&swap_id) else {
            return;
        };
        trading.lock_ids.retain(|_, (swap, _)| *swap != swap_id);
        trading.ledger.forget_swap(&swap_id);
        let record = entry.record;
        match &outcome {
            Outcome::Completed => {
                info!(%swap_id, quantity = record.quantity.0, price = record.price.0, "swap completed");
                NodeMetrics::inc(&self.metrics.swaps_completed);
                let taker_side = match entry.swap.params().role {
                    Role::Taker => record.side,
                    Role::Maker => record.side.opposite(),
                };
                decision.persist(StoreOp::Trade(TradeRecord {
                    market: record.market,
                    price: record.price,
                    quantity: record.quantity,
                    taker_side,
                    swap_id: Some(swap_id),
                    at: now,
                }));
                self.events.push(NodeEvent::Trade {
                    market: record.market,
                    price: record.price,
                    quantity: record.quantity,
                    taker_side,
                    swap_id,
                    at: now,
                });
            }
            Outcome::Failed { reason } => {
                warn!(%swap_id, %reason, "swap failed; an operator should look at it");
                NodeMetrics::inc(&self.metrics.swaps_failed);
            }
            other => {
                info!(%swap_id, outcome = ?other, "swap ended without a trade");
                NodeMetrics::inc(&self.metrics.swaps_unwound);
            }
        }
        let committed = self
            .trading
            .as_ref()
            .is_some_and(|trading| trading.committed.contains(&swap_id));
        let reposting = committed
            && !matches!(outcome, Outcome::Completed | Outcome::Failed { .. })
            && self.trading.as_ref().is_some_and(|t| t.repost_failed);
        if reposting {
            self.repost(&record, now, decision);
        }
    }

    /// Offers the quantity of a swap that did not complete again, as a new order with the
    /// old one's price and expiry (remaining only goes down, so the old order cannot grow).
    fn repost(&mut self, record: &SwapRecord, now: UnixMillis, decision: &mut Decision) {
        let Some(original) = self
            .trading
            .as_ref()
            .and_then(|trading| trading.own.get(&record.own_order_id))
            .map(|own| own.order.clone())
        else {
            return;
        };
        let fields = original.order();
        if fields.expires_at <= now.saturating_add(1000) {
            return;
        }
        let request = PlaceOrder {
            market: record.market,
            side: fields.side,
            price: fields.price,
            quantity: record.quantity,
            min_fill: Some(fields.min_fill.min(record.quantity)),
            time_in_force: TimeInForce::Gtc,
            expires_in_ms: Some(fields.expires_at - now),
            maker: Some(fields.maker),
        };
        // Not judged against the balance: this quantity was offered before, and the funds
        // the unfinished swap returns may not be in the last reading yet.
        match self.place(request, now, false) {
            Ok((id, more)) => {
                info!(order = %id, quantity = record.quantity.0, "quantity of an unfinished swap offered again");
                decision.merge(more);
            }
            Err(err) => warn!(%err, "could not re-post the quantity of an unfinished swap"),
        }
    }

    /// A scan step of a chain: the head first (the clock deadlines are judged by), then
    /// locks, claims and refunds routed to the swaps they concern, then the time of the
    /// last block scanned, then (if the step read up to a block past its timelock) the
    /// absence of a lock a swap is waiting for; finally the cursor to persist.
    pub fn on_chain_batch(
        &mut self,
        chain_id: u64,
        batch: ChainBatch,
        now: UnixMillis,
    ) -> Decision {
        let ChainBatch {
            events,
            last_block,
            head,
            reorg,
            cursor,
        } = batch;
        let mut decision = Decision::default();
        if let Some(from_block) = reorg {
            // Locks mined from there on may be gone: they count again when the rescan
            // reports them.
            for (swap_id, legs, _) in self.swaps_on_chain(chain_id) {
                for leg in legs {
                    self.drive(
                        swap_id,
                        SwapEvent::Reorged { leg, from_block },
                        now,
                        &mut decision,
                    );
                }
            }
        }
        let Some(trading) = self.trading.as_mut() else {
            return decision;
        };
        trading.up.insert(chain_id);
        let last = last_block.map(|block| (block.number, block.timestamp));
        if let Some((_, time)) = last {
            let slot = trading.chain_times.entry(chain_id).or_insert(time);
            *slot = (*slot).max(time);
        }
        // The newest head (the last block read stands in for it in a rewinding batch); a
        // lower one (a reorg) does not move the clock back.
        let head = head
            .map(|block| (block.number, block.timestamp))
            .or(last)
            .map(|(number, time)| match trading.chain_heads.get(&chain_id) {
                Some(&(known_number, known_time)) => {
                    (known_number.max(number), known_time.max(time))
                }
                None => (number, time),
            });
        if let Some(head) = head {
            trading.chain_heads.insert(chain_id, head);
            for (swap_id, legs, _) in self.swaps_on_chain(chain_id) {
                for leg in legs {
                    let (number, time) = head;
                    self.drive(
                        swap_id,
                        SwapEvent::ChainHead { leg, number, time },
                        now,
                        &mut decision,
                    );
                }
            }
        }
        for event in events {
            // Counted to the head (they grow with every later head the swaps are given).
            let (counted_to, chain_time) = head.unwrap_or((event.block_number, 0));
            let confirmations = counted_to
                .saturating_sub(event.block_number)
                .saturating_add(1);
            self.route_chain_event(
                chain_id,
                event,
                confirmations,
                chain_time,
                now,
                &mut decision,
            );
        }
        if let Some((_, time)) = last {
            for (swap_id, legs, intent) in self.swaps_on_chain(chain_id) {
                for leg in &legs {
                    self.drive(
                        swap_id,
                        SwapEvent::ChainTime { leg: *leg, time },
                        now,
                        &mut decision,
                    );
                }
                // Every lock up to this block was reported above: if ours is not among
                // them and its timelock has passed, it never will be.
                if let Some((leg, timelock)) = intent
                    && legs.contains(&leg)
                    && time >= timelock
                {
                    let seen = self
                        .trading
                        .as_ref()
                        .and_then(|t| t.swaps.get(&swap_id))
                        .is_some_and(|entry| entry.swap.lock(leg).is_some());
                    if !seen {
                        self.drive(
                            swap_id,
                            SwapEvent::LockAbsent {
                                leg,
                                chain_time: time,
                            },
                            now,
                            &mut decision,
                        );
                    }
                }
            }
        }
        if let Some((block, cursor)) = cursor {
            decision.persist(StoreOp::Cursor {
                chain_id,
                block,
                cursor,
            });
        }
        decision
    }

    /// Every swap with a leg on `chain_id`: its legs there, and the lock it waits to see.
    fn swaps_on_chain(&self, chain_id: u64) -> Vec<OnChain> {
        self.trading
            .as_ref()
            .map(|trading| {
                trading
                    .swaps
                    .iter()
                    .map(|(id, entry)| {
                        let params = entry.swap.params();
                        let legs = [Leg::Taker, Leg::Maker]
                            .into_iter()
                            .filter(|leg| params.leg(*leg).chain_id == chain_id)
                            .collect();
                        (*id, legs, entry.swap.own_lock_intent())
                    })
                    .filter(|(_, legs, _): &OnChain| !legs.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn route_chain_event(
        &mut self,
        chain_id: u64,
        event: ChainEvent,
        confirmations: u64,
        chain_time: u64,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        let Some(trading) = self.trading.as_ref() else {
            return;
        };
        let block = event.block_number;
        match event.event {
            HtlcEvent::Locked { id, params } => {
                let lock = LockInfo {
                    id: id.0,
                    chain_id: params.chain_id,
                    contract: params.contract,
                    sender: params.sender,
                    recipient: params.recipient,
                    token: params.token,
                    amount: params.amount,
                    hashlock: params.hashlock,
                    timelock: params.timelock,
                };
                let targets: Vec<(SwapId, Leg)> = trading
                    .swaps
                    .iter()
                    .filter(|(_, entry)| entry.swap.params().hashlock == lock.hashlock)
                    .filter_map(|(swap_id, entry)| {
                        let params = entry.swap.params();
                        // The leg is the one on this chain whose sender locked; a lock by
                        // anyone else goes to the counterparty's leg, which reports it as
                        // not matching.
                        let by_sender = [Leg::Taker, Leg::Maker].into_iter().find(|leg| {
                            let terms = params.leg(*leg);
                            terms.chain_id == chain_id && terms.sender == lock.sender
                        });
                        let counter = match params.role {
                            Role::Taker => Leg::Maker,
                            Role::Maker => Leg::Taker,
                        };
                        by_sender
                            .or((params.leg(counter).chain_id == chain_id).then_some(counter))
                            .map(|leg| (*swap_id, leg))
                    })
                    .collect();
                for (swap_id, leg) in targets {
                    self.drive(
                        swap_id,
                        SwapEvent::LockSeen {
                            leg,
                            lock: lock.clone(),
                            confirmations,
                            block,
                            chain_time,
                        },
                        now,
                        decision,
                    );
                }
            }
            HtlcEvent::Claimed { id, secret } => {
                let secret = Secret(*secret.as_b256());
                let target = trading.lock_ids.get(&id.0).copied().or_else(|| {
                    // A claim of a lock we have not accepted (yet): the secret names the swap.
                    let hashlock = secret.hashlock();
                    trading.swaps.iter().find_map(|(swap_id, entry)| {
                        let params = entry.swap.params();
                        (params.hashlock == hashlock)
                            .then(|| {
                                [Leg::Taker, Leg::Maker]
                                    .into_iter()
                                    .find(|leg| params.leg(*leg).chain_id == chain_id)
                            })
                            .flatten()
                            .map(|leg| (*swap_id, leg))
                    })
                });
                if let Some((swap_id, leg)) = target {
                    self.drive(
                        swap_id,
                        SwapEvent::ClaimSeen {
                            leg,
                            lock_id: id.0,
                            secret,
                        },
                        now,
                        decision,
                    );
                }
            }
            HtlcEvent::Refunded { id } => {
                if let Some((swap_id, leg)) = trading.lock_ids.get(&id.0).copied() {
                    self.drive(
                        swap_id,
                        SwapEvent::RefundSeen { leg, lock_id: id.0 },
                        now,
                        decision,
                    );
                }
            }
        }
    }

    /// Periodic settlement work: take answers that never came, and every swap's deadlines
    /// and retries.
    pub fn trading_tick(&mut self, now: UnixMillis) -> Decision {
        let mut decision = Decision::default();
        let Some(trading) = self.trading.as_mut() else {
            return decision;
        };
        let timeout = trading.take_timeout_ms;
        let expired: Vec<B256> = trading
            .takes
            .iter()
            .filter(|(_, take)| now.saturating_sub(take.sent_at) > timeout)
            .map(|(id, _)| *id)
            .collect();
        for request_id in expired {
            if let Some(take) = self
                .trading
                .as_mut()
                .and_then(|t| t.takes.remove(&request_id))
            {
                info!(maker_order = %take.request.maker_order_id, "take answer timed out");
                self.take_failed(take, true, now, &mut decision);
            }
        }
        let swaps: Vec<SwapId> = self
            .trading
            .as_ref()
            .map(|trading| trading.swaps.keys().copied().collect())
            .unwrap_or_default();
        for swap_id in swaps {
            self.drive(swap_id, SwapEvent::Tick, now, &mut decision);
        }
        // A resting own order that is the later of a cross must take (every node agrees it
        // is the taker): an order that arrived late, or ours after a refused take.
        let mut takers: Vec<OrderId> = self
            .books
            .values()
            .flat_map(|state| state.book.pending_crosses())
            .filter(|cross| self.traders.contains_key(&cross.taker_maker))
            .map(|cross| cross.taker)
            .collect();
        takers.sort_unstable();
        takers.dedup();
        for id in takers {
            let resting = self
                .trading
                .as_ref()
                .and_then(|trading| trading.own.get(&id))
                .is_some_and(|own| own.in_book);
            if resting {
                self.take_for(id, now, false, &mut decision);
            }
        }
        decision
    }

    /// Restores settlement state after a restart: own open orders back in the books, every
    /// unfinished swap with its reservation, then each swap resumed (whatever was in flight
    /// is done again; every action is idempotent).
    pub fn restore(
        &mut self,
        orders: Vec<OwnOrder>,
        swaps: Vec<(SwapRecord, Swap)>,
        committed: Vec<SwapId>,
        hashlocks: Vec<B256>,
        now: UnixMillis,
    ) -> Decision {
        let mut decision = Decision::default();
        if self.trading.is_none() {
            return decision;
        }
        for stored in orders {
            let id = stored.id;
            let verified =
                match stored
                    .signed
                    .clone()
                    .verify(&self.markets, &self.rules, stored.created_at)
                {
                    Ok(order) => Arc::new(order),
                    Err(err) => {
                        warn!(order = %id, %err, "stored own order no longer verifies; left out");
                        continue;
                    }
                };
            let open = stored.status == StoredStatus::Open && verified.order().expires_at > now;
            let mut in_book = false;
            if open && !stored.remaining.is_zero() {
                match self.insert((*verified).clone(), now) {
                    Ok(()) => in_book = true,
                    Err(err) => warn!(order = %id, %err, "own order not restored to the book"),
                }
                if in_book && stored.remaining < verified.order().quantity {
                    // Back to the remaining quantity it had, with the update that said so.
                    if let Some(update) = stored.latest_update
                        && let Ok(update) =
                            update.verify(&verified, &self.rules, now.max(update.update.timestamp))
                    {
                        let _ = self.apply_update(&update);
                    }
                }
            }
            let Some(trading) = self.trading.as_mut() else {
                return decision;
            };
            trading.own.insert(
                id,
                Own {
                    order: verified,
                    tif: if in_book {
                        TimeInForce::Gtc
                    } else {
                        TimeInForce::Ioc
                    },
                    status: stored.status,
                    remaining: stored.remaining,
                    in_flight: Lots::ZERO,
                    refused_by: HashSet::new(),
                    rounds: MAX_TAKE_ROUNDS,
                    in_book,
                    reserving: U256::ZERO,
                },
            );
            self.account_own(id);
        }
        let Some(trading) = self.trading.as_mut() else {
            return decision;
        };
        trading.committed.extend(committed);
        trading.hashlocks.extend(hashlocks);
        let mut ids = Vec::new();
        for (record, swap) in swaps {
            trading.hashlocks.insert(swap.params().hashlock);
            ids.push((
                record.swap_id,
                record.own_order_id,
                record.quantity,
                record.market,
                swap.params().role,
                swap.reservation(),
            ));
            let peer = record.peer.parse::<PeerId>().ok();
            trading
                .swaps
                .insert(record.swap_id, SwapEntry { record, swap, peer });
        }
        for (swap_id, order, quantity, market, role, reservation) in ids {
            let committed = self
                .trading
                .as_ref()
                .is_some_and(|t| t.committed.contains(&swap_id));
            // Quantity promised to a swap and not yet committed is held again.
            let hold = match role {
                Role::Maker => {
                    matches!(
                        reservation,
                        Some(dex_swap::Reservation::Held | dex_swap::Reservation::Committed)
                    ) && !committed
                }
                Role::Taker => !committed,
            };
            if hold && let Some(state) = self.books.get_mut(&market) {
                let _ = state.book.reserve(order, quantity);
            }
            self.drain_book(market);
            if role == Role::Taker && !committed {
                self.commit_own(swap_id, now, &mut decision);
            }
            let resumed = self
                .trading
                .as_mut()
                .and_then(|t| t.swaps.get_mut(&swap_id))
                .map(|entry| {
                    let resumed = entry.swap.resume(now);
                    (resumed, entry.swap.clone())
                });
            if let Some((swap_actions, swap)) = resumed {
                info!(%swap_id, phase = phase_name(&swap), "swap resumed");
                decision.persist(StoreOp::AppendSwap {
                    swap_id,
                    entry: Box::new(LogEntry::Resumed),
                    actions: swap_actions.clone(),
                    swap: Box::new(swap),
                });
                self.perform_swap_actions(swap_id, swap_actions, now, &mut decision);
            }
        }
        decision
    }

    /// Own orders of the node, as the trading state tracks them.
    pub fn own_order_ids(&self) -> Vec<OrderId> {
        self.trading
            .as_ref()
            .map(|trading| trading.own.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Forgets own order `id` whose placement could not be stored. Nothing of it left the
    /// node (the gossip and the take requests come after the write), so it is withdrawn
    /// from the book without a signed update, its unsent takes are dropped, its reservation
    /// is released, and subscribers see it cancelled: a client told "not placed" finds no
    /// order, now or after a restart.
    pub fn abandon_own(&mut self, id: OrderId, now: UnixMillis) {
        let Some((market, in_book)) = self
            .trading
            .as_ref()
            .and_then(|t| t.own.get(&id))
            .map(|own| (own.order.market(), own.in_book))
        else {
            return;
        };
        if in_book {
            if let Some(state) = self.books.get_mut(&market) {
                // A tombstone until expiry, like any removal: a replay cannot bring it back.
                let _ = state.book.remove(id);
            }
            self.drain_book(market);
        }
        if let Some(own) = self.trading.as_mut().and_then(|t| t.own.get_mut(&id)) {
            own.status = StoredStatus::Cancelled;
        }
        self.account_own(id);
        self.own_order_event(id, Lots::ZERO, StoredStatus::Cancelled, now);
        if let Some(trading) = self.trading.as_mut() {
            trading.takes.retain(|_, take| take.own_order != id);
            trading.own.remove(&id);
        }
        warn!(order = %id, "order withdrawn: it could not be stored");
    }

    /// Take requests waiting for an answer.
    #[cfg(test)]
    pub(crate) fn pending_takes(&self) -> usize {
        self.trading.as_ref().map_or(0, |t| t.takes.len())
    }

    /// Cancels an own order: an update to zero for a resting order, or the end of an IOC
    /// order's pending takes. Quantity in swaps already started is not affected.
    pub fn cancel_own(&mut self, id: OrderId, now: UnixMillis) -> Result<Decision, Error> {
        let Some((status, in_book, market)) = self
            .trading
            .as_ref()
            .and_then(|t| t.own.get(&id))
            .map(|own| (own.status, own.in_book, own.order.market()))
        else {
            return self.update_order(id, Lots::ZERO, now);
        };
        if status != StoredStatus::Open {
            return Err(Error::OrderNotOpen { id });
        }
        let mut decision = if in_book {
            self.update_order(id, Lots::ZERO, now)?
        } else {
            Decision::default()
        };
        let signed = self
            .book(&market)
            .and_then(|book| book.latest_update(&id))
            .map(|update| *update.signed());
        if let Some(own) = self.trading.as_mut().and_then(|t| t.own.get_mut(&id)) {
            own.status = StoredStatus::Cancelled;
        }
        self.account_own(id);
        self.own_order_event(id, Lots::ZERO, StoredStatus::Cancelled, now);
        // Written before the update is gossiped (a decision's writes come first).
        decision.persist(StoreOp::UpdateOrder {
            id,
            remaining: Lots::ZERO,
            status: StoredStatus::Cancelled,
            update: signed,
        });
        Ok(decision)
    }

    /// Reports an own order's stored state to subscribers.
    fn own_order_event(
        &mut self,
        id: OrderId,
        remaining: Lots,
        status: StoredStatus,
        now: UnixMillis,
    ) {
        let Some(own) = self.trading.as_ref().and_then(|t| t.own.get(&id)) else {
            return;
        };
        let order = own.order.order();
        self.events.push(NodeEvent::OwnOrder(OwnOrderEvent {
            id,
            market: order.market,
            side: order.side,
            price: order.price,
            quantity: order.quantity,
            min_fill: order.min_fill,
            remaining,
            status,
            maker: order.maker,
            created_at: order.created_at,
            expires_at: order.expires_at,
            updated_at: now,
        }));
    }

    /// An own order as the node tracks it now, in the form the database stores (without
    /// its latest signed update): what a placement answers without reading the database.
    pub fn own_record(&self, id: &OrderId, now: UnixMillis) -> Option<OwnOrder> {
        let own = self.trading.as_ref()?.own.get(id)?;
        Some(OwnOrder {
            id: *id,
            signed: own.order.signed().clone(),
            remaining: own.remaining,
            status: own.status,
            latest_update: None,
            created_at: now,
            updated_at: now,
        })
    }
}

/// The phase of a swap as a stable name (`takerLocking`, `makerLocked`, `finished`...);
/// `reorged` while the counterparty's lock it acted on is gone after a reorg.
pub fn phase_name(swap: &Swap) -> &'static str {
    use dex_swap::Phase;
    if swap.counter_lock_reorged() {
        return "reorged";
    }
    match swap.phase() {
        Phase::TakerStart => "takerStart",
        Phase::TakerLocking { .. } => "takerLocking",
        Phase::TakerLocked {
            claim_sent_at: Some(_),
            ..
        } => "takerClaiming",
        Phase::TakerLocked { .. } => "takerLocked",
        Phase::MakerWaiting => "makerWaiting",
        Phase::MakerLocking { .. } => "makerLocking",
        Phase::MakerLocked {
            claim_sent_at: Some(_),
            ..
        } => "makerClaiming",
        Phase::MakerLocked { .. } => "makerLocked",
        Phase::Finished { .. } => "finished",
    }
}
