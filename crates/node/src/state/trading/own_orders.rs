//! Own orders: placing (signed here or elsewhere), what they reserve, what swaps take out of
//! them for good, cancelling, withdrawing, re-posting what a swap gave back.

use std::collections::HashMap;
use std::{collections::HashSet, sync::Arc};

use dex_book::Taker;
use dex_primitives::{
    Address, B256, Lots, MarketId, Order, OrderId, U256, UnixMillis, Update, VerifiedOrder,
};
use dex_protocol::{GossipMessage, WireMessage};
use dex_store::{ClientOrder, OrderStatus as StoredStatus, OwnOrder, StoreOp, SwapRecord};
use dex_swap::SwapId;
use tracing::{debug, info, warn};

use super::{DEFAULT_EXPIRY_MS, PlaceOrder, TimeInForce};
use crate::Error;
use crate::state::{Decision, NodeEvent, NodeState, OwnOrderEvent};

/// An own order as the node tracks it beyond the book.
#[derive(Debug, Clone)]
pub(crate) struct Own {
    pub(crate) order: Arc<VerifiedOrder>,
    pub(super) tif: TimeInForce,
    pub(crate) status: StoredStatus,
    /// Remaining as last signed (or, for an IOC order that never rests, as filled).
    pub(crate) remaining: Lots,
    /// Lots asked for in takes still waiting for an answer.
    pub(super) in_flight: Lots,
    /// Maker orders that refused this order's takes, or that it already has a swap with
    /// (our book shows their quantity until the maker's update arrives): not taken again.
    pub(super) refused_by: HashSet<OrderId>,
    /// Re-planning rounds done.
    pub(super) rounds: u32,
    /// Whether it is in the book (GTC), or only tracked here (IOC).
    pub(crate) in_book: bool,
    /// What it reserves of its asset now (see `account_own`).
    pub(crate) reserving: U256,
    /// The client's own id of it, if it gave one.
    pub(crate) client: Option<ClientOrder>,
}

impl Own {
    /// Open and resting in the book: the only state in which the node offers it, and in
    /// which its remaining quantity in the book reserves its funds.
    pub(crate) fn rests_open(&self) -> bool {
        self.in_book && self.status == StoredStatus::Open
    }
}

/// The node's own orders beyond what the book holds: status, remaining as signed, takes
/// in flight, reservations.
#[derive(Debug, Default)]
pub(crate) struct OwnOrders {
    orders: HashMap<OrderId, Own>,
    /// Own orders the book expired since the last trading tick, to be ended there.
    expired: Vec<OrderId>,
    /// Counter of orders and takes made here (nonces and secrets differ within one ms).
    nonce: u64,
}

impl OwnOrders {
    /// An own order.
    pub(crate) fn get(&self, id: &OrderId) -> Option<&Own> {
        self.orders.get(id)
    }

    /// An own order, to change.
    pub(crate) fn get_mut(&mut self, id: &OrderId) -> Option<&mut Own> {
        self.orders.get_mut(id)
    }

    /// Whether `id` is an own order.
    pub(crate) fn contains(&self, id: &OrderId) -> bool {
        self.orders.contains_key(id)
    }

    /// Tracks a new own order.
    pub(super) fn insert(&mut self, own: Own) {
        self.orders.insert(own.order.id(), own);
    }

    /// Stops tracking an own order.
    pub(super) fn remove(&mut self, id: &OrderId) {
        self.orders.remove(id);
    }

    /// Notes that the book expired own order `id` (ended at the next trading tick).
    pub(crate) fn note_expired(&mut self, id: OrderId) {
        self.expired.push(id);
    }

    /// The own orders the book expired since the last call.
    pub(super) fn take_expired(&mut self) -> Vec<OrderId> {
        std::mem::take(&mut self.expired)
    }

    /// Every own order's id.
    pub(crate) fn ids(&self) -> impl Iterator<Item = OrderId> + '_ {
        self.orders.keys().copied()
    }

    /// A number not given out before by this node's run (with the time, unique across
    /// restarts too).
    pub(super) fn next_nonce(&mut self) -> u64 {
        self.nonce = self.nonce.wrapping_add(1);
        self.nonce
    }
}

impl NodeState {
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

    pub(super) fn place(
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
        // Unique across restarts too: the time in ms, with a counter for the same ms.
        let nonce = now
            .saturating_mul(1000)
            .saturating_add(trading.own.next_nonce() % 1000);
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
        let client = request.client_order_id.clone().map(|id| ClientOrder {
            id,
            request: request.client_request(),
        });
        self.place_verified(verified, request.time_in_force, client, now)
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
            .is_some_and(|trading| trading.own.contains(&id));
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
        self.place_verified(verified, TimeInForce::Gtc, None, now)
    }

    /// Everything after an own order is signed and verified: its write, the book, the
    /// gossip, its tracking and reservation, and its takes.
    pub(super) fn place_verified(
        &mut self,
        verified: VerifiedOrder,
        time_in_force: TimeInForce,
        client: Option<ClientOrder>,
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
            client: client.clone(),
            ioc: time_in_force == TimeInForce::Ioc,
        })));
        let verified = Arc::new(verified);
        let in_book = time_in_force == TimeInForce::Gtc;
        if in_book {
            self.insert((*verified).clone(), now)?;
            let data = GossipMessage::Order(signed).encode()?;
            decision.then(self.publish(&market, data));
        }
        let trading = self.trading_mut()?;
        trading.own.insert(Own {
            order: verified.clone(),
            tif: time_in_force,
            status: StoredStatus::Open,
            remaining: verified.order().quantity,
            in_flight: Lots::ZERO,
            refused_by: HashSet::new(),
            rounds: 0,
            in_book,
            reserving: U256::ZERO,
            client,
        });
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
    pub(super) fn taking_time(
        &self,
        request: &PlaceOrder,
        maker: Address,
        now: UnixMillis,
    ) -> UnixMillis {
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

    /// An IOC order with no take in flight is over: the rest is cancelled.
    pub(super) fn settle_ioc(&mut self, id: OrderId, now: UnixMillis, decision: &mut Decision) {
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

    /// Takes a swap's quantity out of our order for good (once per swap): lowers remaining,
    /// signs and gossips the update, and persists both with the commit record.
    pub(super) fn commit_own(&mut self, swap_id: SwapId, now: UnixMillis, decision: &mut Decision) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        if trading.swaps.is_committed(&swap_id) {
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
        trading.swaps.mark_committed(swap_id);
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
    pub(super) fn release_own(&mut self, swap_id: SwapId) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        if !trading.swaps.mark_released(swap_id) {
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

    /// Offers the quantity of a swap that did not complete again, as a new order with the
    /// old one's price and expiry (remaining only goes down, so the old order cannot grow).
    /// Only a resting (GTC) order's: an immediate-or-cancel order never rests, so what its
    /// failed swap gives back is not offered again. And only while the order is open or
    /// filled: a maker that cancelled it took down the whole quote, the part in the swap too,
    /// and an expired one is past its price.
    pub(super) fn repost(&mut self, record: &SwapRecord, now: UnixMillis, decision: &mut Decision) {
        let Some(original) = self
            .trading
            .as_ref()
            .and_then(|trading| trading.own.get(&record.own_order_id))
            .filter(|own| {
                own.tif == TimeInForce::Gtc
                    && matches!(own.status, StoredStatus::Open | StoredStatus::Filled)
            })
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
            // A new order: the client's id names the original one.
            client_order_id: None,
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

    /// Own orders of the node, as the trading state tracks them.
    pub fn own_order_ids(&self) -> Vec<OrderId> {
        self.trading
            .as_ref()
            .map(|trading| trading.own.ids().collect())
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
            trading.outgoing.forget_order(id);
            trading.own.remove(&id);
        }
        warn!(order = %id, "order withdrawn: it could not be stored");
    }

    /// Cancels an own order: an update to zero for a resting order, or the end of an IOC
    /// order's pending takes. Quantity in swaps already started is not affected; a take
    /// still waiting for its answer starts none (an accept is answered with an abort).
    pub fn cancel_own(&mut self, id: OrderId, now: UnixMillis) -> Result<Decision, Error> {
        let Some((status, in_book, market)) = self.own_state(&id) else {
            return self.sign_update(id, Lots::ZERO, now);
        };
        if status != StoredStatus::Open {
            return Err(Error::OrderNotOpen { id });
        }
        let mut decision = if in_book {
            self.sign_update(id, Lots::ZERO, now)?
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

    /// Ends own order `id`, which its expiry took out of the book: expired, nothing of it
    /// open or reserved, stored so (a client listing open orders no longer sees it, and a
    /// restart does not hold its funds). Swaps of it already started go on.
    pub(super) fn expire_own(&mut self, id: OrderId, now: UnixMillis, decision: &mut Decision) {
        let Some(own) = self.trading.as_mut().and_then(|t| t.own.get_mut(&id)) else {
            return;
        };
        if own.status != StoredStatus::Open {
            return;
        }
        own.status = StoredStatus::Expired;
        own.remaining = Lots::ZERO;
        decision.persist(StoreOp::UpdateOrder {
            id,
            remaining: Lots::ZERO,
            status: StoredStatus::Expired,
            update: None,
        });
        self.account_own(id);
        self.own_order_event(id, Lots::ZERO, StoredStatus::Expired, now);
        info!(order = %id, "own order expired");
    }

    /// Lowers the remaining quantity of an own order the node tracks (0 cancels it, as
    /// [`NodeState::cancel_own`]): signed, applied, stored and published. Only a resting
    /// order has a remaining quantity to lower; an IOC order can only be cancelled.
    pub(crate) fn reduce_own(
        &mut self,
        id: OrderId,
        remaining: Lots,
        now: UnixMillis,
    ) -> Result<Decision, Error> {
        if remaining.is_zero() {
            return self.cancel_own(id, now);
        }
        let Some((status, in_book, market)) = self.own_state(&id) else {
            return self.sign_update(id, remaining, now);
        };
        if status != StoredStatus::Open {
            return Err(Error::OrderNotOpen { id });
        }
        if !in_book {
            return Err(Error::UnknownOrder { id });
        }
        let mut decision = self.sign_update(id, remaining, now)?;
        // The book keeps the lower of this and what fills left: that is what is open now.
        let (left, signed) = self
            .book(&market)
            .map(|book| {
                (
                    book.get(&id).map_or(remaining, |view| view.remaining),
                    book.latest_update(&id).map(|update| *update.signed()),
                )
            })
            .unwrap_or((remaining, None));
        if let Some(own) = self.trading.as_mut().and_then(|t| t.own.get_mut(&id)) {
            own.remaining = left;
        }
        self.account_own(id);
        self.own_order_event(id, left, StoredStatus::Open, now);
        // Written before the update is gossiped (a decision's writes come first).
        decision.persist(StoreOp::UpdateOrder {
            id,
            remaining: left,
            status: StoredStatus::Open,
            update: signed,
        });
        Ok(decision)
    }

    /// An own order's status, whether it rests in the book, and its market.
    fn own_state(&self, id: &OrderId) -> Option<(StoredStatus, bool, MarketId)> {
        self.trading
            .as_ref()
            .and_then(|t| t.own.get(id))
            .map(|own| (own.status, own.in_book, own.order.market()))
    }

    /// Reports an own order's stored state to subscribers.
    pub(super) fn own_order_event(
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
            client_order_id: own.client.as_ref().map(|client| client.id.clone()),
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
            client: own.client.clone(),
            ioc: own.tif == TimeInForce::Ioc,
        })
    }
}
