//! Outgoing takes: what an own order takes from the book, the take requests sent to makers'
//! nodes, their answers, and the taker's swap they start.

use dex_primitives::{Ticks, VerifiedOrder};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use dex_book::Taker;
use dex_network::PeerId;
use dex_primitives::{B256, Lots, OrderId, UnixMillis};
use dex_protocol::take::{TakeAccept, TakeAnswer, TakeRequest, sign_take};
use dex_store::{OrderStatus as StoredStatus, SwapRecord};
use dex_swap::{Hint, Role, Secret, Swap, SwapParams};
use tracing::{debug, info, warn};

use super::{Counterparty, MAX_TAKE_ROUNDS, MAX_TAKES_PER_PEER};
use crate::NodeMetrics;
use crate::state::{Action, Decision, NodeState};

/// A take request sent, waiting for the maker's answer.
#[derive(Debug, Clone)]
pub(super) struct PendingTake {
    pub(super) request: TakeRequest,
    pub(super) own_order: OrderId,
    pub(super) maker_order: Arc<VerifiedOrder>,
    pub(super) secret: Secret,
    pub(super) price: Ticks,
    pub(super) quantity: Lots,
    pub(super) peer: PeerId,
    pub(super) sent_at: UnixMillis,
}

/// Take requests this node sent, waiting for the makers' answers.
#[derive(Debug)]
pub(super) struct OutgoingTakes {
    pending: HashMap<B256, PendingTake>,
    /// How long an answer may take before the take counts as refused.
    timeout_ms: u64,
}

impl OutgoingTakes {
    pub(super) fn new(timeout_ms: u64) -> OutgoingTakes {
        OutgoingTakes {
            pending: HashMap::new(),
            timeout_ms,
        }
    }

    /// Tracks a request sent.
    pub(super) fn insert(&mut self, request_id: B256, take: PendingTake) {
        self.pending.insert(request_id, take);
    }

    /// The request answered (or given up), if it was still waiting.
    pub(super) fn remove(&mut self, request_id: &B256) -> Option<PendingTake> {
        self.pending.remove(request_id)
    }

    /// The maker orders own order `id` is taking now, and the requests in flight per
    /// maker node.
    pub(super) fn in_flight(&self, id: OrderId) -> (HashSet<OrderId>, HashMap<PeerId, usize>) {
        let mut makers = HashSet::new();
        let mut per_peer: HashMap<PeerId, usize> = HashMap::new();
        for take in self.pending.values() {
            if take.own_order == id {
                makers.insert(take.request.maker_order_id);
            }
            *per_peer.entry(take.peer).or_default() += 1;
        }
        (makers, per_peer)
    }

    /// Requests whose answer is overdue at `now`.
    pub(super) fn overdue(&self, now: UnixMillis) -> Vec<B256> {
        let mut overdue: Vec<B256> = self
            .pending
            .iter()
            .filter(|(_, take)| now.saturating_sub(take.sent_at) > self.timeout_ms)
            .map(|(id, _)| *id)
            .collect();
        overdue.sort_unstable();
        overdue
    }

    /// Drops the (unsent) requests of own order `id`.
    pub(super) fn forget_order(&mut self, id: OrderId) {
        self.pending.retain(|_, take| take.own_order != id);
    }

    /// Requests waiting.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }
}

impl NodeState {
    /// Sends take requests for what own order `id` can take from the book now.
    ///
    /// `replan` is true after a refusal: those rounds are bounded. Continuing after an
    /// answer (fills that waited for a free slot) is not.
    pub(super) fn take_for(
        &mut self,
        id: OrderId,
        now: UnixMillis,
        replan: bool,
        decision: &mut Decision,
    ) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        // Maker orders this order is taking already, and the takes in flight per maker node.
        let (pending_makers, mut per_peer) = trading.outgoing.in_flight(id);
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
        let counterparties = &trading.counterparties;
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
            // Nor orders of a maker (or its node) that failed us repeatedly, for a while.
            let mut who = vec![Counterparty::Trader(maker_order.maker())];
            who.extend(
                maker_order
                    .order()
                    .peer
                    .parse::<PeerId>()
                    .ok()
                    .map(Counterparty::Peer),
            );
            if counterparties.refused(&who, now).is_some() {
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
            let nonce = trading.own.next_nonce();
            let mut context = Vec::with_capacity(72);
            context.extend_from_slice(id.0.as_slice());
            context.extend_from_slice(fill.maker_order.0.as_slice());
            context.extend_from_slice(&now.to_be_bytes());
            context.extend_from_slice(&nonce.to_be_bytes());
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
            trading.outgoing.insert(
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
        let Some(take) = trading.outgoing.remove(&request_id) else {
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
    pub(super) fn take_failed(
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

    pub(super) fn start_taker_swap(
        &mut self,
        take: PendingTake,
        accept: TakeAccept,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        let order = take.maker_order.clone();
        let Some((own, open)) = self
            .trading
            .as_ref()
            .and_then(|trading| trading.own.get(&take.own_order))
            .map(|own| (own.order.clone(), own.status == StoredStatus::Open))
        else {
            return;
        };
        if !open {
            // Cancelled while the take waited for its answer: the trader no longer wants
            // it. Nothing is locked; the maker is told, so it frees its reservation at once.
            info!(swap_id = %accept.swap_id, order = %take.own_order, "take accepted after its order was cancelled; aborted");
            self.send_note(
                take.peer,
                own.maker(),
                accept.swap_id,
                Hint::Abort,
                now,
                decision,
            );
            return self.take_failed(take, false, now, decision);
        }
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
            scan_lag_secs: trading.chains.scan_lag(&legs),
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
        self.metrics.swap_phase(super::phase_name(&swap));
        trading.swaps.open(record, swap, take.peer, decision);
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

    /// Take requests waiting for an answer.
    #[cfg(test)]
    pub(crate) fn pending_takes(&self) -> usize {
        self.trading.as_ref().map_or(0, |t| t.outgoing.len())
    }
}
