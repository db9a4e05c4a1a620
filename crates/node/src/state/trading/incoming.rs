//! Incoming takes: a taker's request for one of our orders, checked, reserved and persisted
//! before it is answered.

use std::collections::HashMap;
use std::sync::Arc;

use dex_book::Taker;
use dex_network::PeerId;
use dex_primitives::{Address, B256, Lots, OrderId, U256, UnixMillis, VerifiedOrder};
use dex_protocol::take::{
    RejectReason, TakeAccept, TakeAnswer, TakeMessage, TakeReject, TakeRequest, check_signer,
    sign_accept, sign_reject,
};
use dex_store::SwapRecord;
use dex_swap::{Role, Swap, SwapParams};
use tracing::{debug, info};

use super::Counterparty;
use crate::state::{Decision, NodeState, millis};
use crate::{NodeMetrics, SettlementConfig};

/// A take request as the maker judges it.
#[derive(Debug, Clone)]
pub(super) struct Take<'a> {
    /// The peer that sent it.
    pub(super) peer: PeerId,
    /// The request.
    pub(super) request: &'a TakeRequest,
    /// The taker's signature of it.
    pub(super) signature: &'a dex_primitives::Signature,
    /// The taker's order.
    pub(super) taker_order: dex_primitives::SignedOrder,
    /// Our order it takes.
    pub(super) maker_order: &'a Arc<VerifiedOrder>,
    /// What the taker holds of what it must lock, read from the chain.
    pub(super) taker_balance: Option<U256>,
    /// Local time.
    pub(super) now: UnixMillis,
}

/// A take request this node can accept: what it reserves, and the swap it starts.
#[derive(Debug)]
pub(super) struct CheckedTake {
    /// The request's id.
    request_id: B256,
    /// The taker's address.
    taker: Address,
    /// Lots it takes.
    quantity: Lots,
    /// What the swap trades.
    record: SwapRecord,
    /// The maker's swap, reserved until its `reserved_until`.
    swap: Swap,
}

/// Why a take request is refused, as the maker tells the taker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TakeRefusal {
    /// The reason, as the protocol names it.
    pub(crate) reason: RejectReason,
    /// What exactly, for the taker's operator.
    pub(crate) detail: String,
}

impl TakeRefusal {
    fn new(reason: RejectReason, detail: impl ToString) -> TakeRefusal {
        TakeRefusal {
            reason,
            detail: detail.to_string(),
        }
    }
}

/// Most takers (addresses or peers) with a rate window at once: beyond, new ones are
/// refused until windows expire (each lasts a minute), so the windows stay bounded however
/// many fresh keys or peer ids an attacker uses.
pub(crate) const MAX_TAKE_WINDOWS: usize = 4096;

/// A count of events in the minute that started at `.0`.
type Window = (UnixMillis, u32);

const WINDOW_MS: u64 = 60_000;

/// Whether `window` holds `limit` events of the minute running at `now`.
fn full(window: Option<&Window>, limit: u32, now: UnixMillis) -> bool {
    window.is_some_and(|(start, count)| now.saturating_sub(*start) < WINDOW_MS && *count >= limit)
}

/// Counts an event at `now` in `key`'s window of `windows`.
fn count_in<K: std::hash::Hash + Eq>(windows: &mut HashMap<K, Window>, key: K, now: UnixMillis) {
    let window = windows.entry(key).or_insert((now, 0));
    if now.saturating_sub(window.0) >= WINDOW_MS {
        *window = (now, 0);
    }
    window.1 = window.1.saturating_add(1);
}

/// Admission of takers' requests: what each peer asked and each taker address had accepted
/// in the last minute (both bounded and pruned), how many swaps one taker may hold open,
/// and how long a reservation lasts.
#[derive(Debug)]
pub(super) struct IncomingTakes {
    /// Takes accepted per taker address in the current minute.
    windows: HashMap<Address, Window>,
    /// Take requests received per peer in the current minute, accepted or not.
    peer_windows: HashMap<PeerId, Window>,
    pub(super) per_minute: u32,
    per_peer_minute: u32,
    pub(super) max_open_per_taker: usize,
    pub(super) reservation_ms: u64,
}

impl IncomingTakes {
    pub(super) fn new(config: &SettlementConfig) -> IncomingTakes {
        IncomingTakes {
            windows: HashMap::new(),
            peer_windows: HashMap::new(),
            per_minute: config.takes_per_minute,
            per_peer_minute: config.take_requests_per_peer_minute,
            max_open_per_taker: config.max_open_swaps_per_taker,
            reservation_ms: millis(config.reservation),
        }
    }

    /// Whether `taker` had its minute's takes accepted already, or is new while the
    /// windows are full.
    fn rate_limited(&self, taker: &Address, now: UnixMillis) -> bool {
        let window = self.windows.get(taker);
        full(window, self.per_minute, now)
            || (window.is_none() && self.windows.len() >= MAX_TAKE_WINDOWS)
    }

    /// Counts a request from `peer` at `now`; false if the peer sent its minute's requests
    /// already (or is new while the windows are full): it is refused unread.
    fn admit_peer(&mut self, peer: PeerId, now: UnixMillis) -> bool {
        let window = self.peer_windows.get(&peer);
        if full(window, self.per_peer_minute, now)
            || (window.is_none() && self.peer_windows.len() >= MAX_TAKE_WINDOWS)
        {
            return false;
        }
        count_in(&mut self.peer_windows, peer, now);
        true
    }

    /// Counts a take of `taker` accepted at `now`.
    fn count(&mut self, taker: Address, now: UnixMillis) {
        count_in(&mut self.windows, taker, now);
    }

    /// Forgets the windows of minutes that are over.
    pub(super) fn prune(&mut self, now: UnixMillis) {
        self.windows
            .retain(|_, (start, _)| now.saturating_sub(*start) < WINDOW_MS);
        self.peer_windows
            .retain(|_, (start, _)| now.saturating_sub(*start) < WINDOW_MS);
    }

    /// Rate windows held now (takers, peers).
    #[cfg(test)]
    pub(super) fn windows(&self) -> (usize, usize) {
        (self.windows.len(), self.peer_windows.len())
    }
}

/// What a taker must hold on chain to lock its leg of a take: the maker reads it (a
/// read-only call) before judging the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakerFundsQuery {
    /// The chain of the taker's leg.
    pub chain_id: u64,
    /// The asset (zero: the native coin).
    pub token: Address,
    /// The taker's address.
    pub owner: Address,
    /// What the take locks, in base units.
    pub amount: U256,
}

impl NodeState {
    /// What the taker of `message` must hold to lock its leg, for the shell to read from
    /// the chain before [`NodeState::on_take_request`]; `None` if the request names no
    /// order of ours it could take (it is refused without a read).
    pub fn take_funds_query(&self, message: &TakeMessage) -> Option<TakerFundsQuery> {
        let TakeMessage::Take {
            request,
            taker_order,
            ..
        } = message;
        let maker_order = self
            .books
            .values()
            .find_map(|state| state.book.order(&request.maker_order_id))?;
        let taker = &taker_order.order;
        let price = maker_order.order().price;
        let legs = self
            .legs(
                &maker_order.market(),
                taker.side,
                price,
                Lots(request.quantity),
                taker.maker,
                maker_order.maker(),
            )
            .ok()?;
        Some(TakerFundsQuery {
            chain_id: legs.taker_leg.chain_id,
            token: legs.taker_leg.token,
            owner: legs.taker_leg.sender,
            amount: legs.taker_leg.amount,
        })
    }

    /// A take request from `peer` for one of our orders: checked, reserved, persisted and
    /// answered. `taker_balance` is what the taker holds of the asset of
    /// [`NodeState::take_funds_query`], read from its chain (`None`: not read, refused).
    /// Returns the signed answer and what to persist before sending it.
    pub fn on_take_request(
        &mut self,
        peer: PeerId,
        message: TakeMessage,
        taker_balance: Option<U256>,
        now: UnixMillis,
    ) -> (TakeAnswer, Decision) {
        let TakeMessage::Take {
            request,
            signature,
            taker_order,
        } = message;
        // Every request counts against its peer, before any signature is checked: a peer
        // that floods pays with refusals, not with the maker's work.
        let admitted = self
            .trading
            .as_mut()
            .is_none_or(|trading| trading.incoming.admit_peer(peer, now));
        if !admitted {
            NodeMetrics::inc(&self.metrics.takes_refused);
            debug!(%peer, "take refused unread: too many requests from this peer");
            let maker = self.own_maker_of(&request.maker_order_id);
            return self.refuse(
                &request,
                maker,
                RejectReason::RateLimited,
                "too many take requests from this peer; try again in a minute",
                now,
            );
        }
        let maker_order = self
            .books
            .values()
            .find_map(|state| state.book.order(&request.maker_order_id).cloned());
        let Some(maker_order) = maker_order else {
            // Not open here. A closed order of ours is refused under its maker's key; for
            // an order we never held there is nobody to sign for (see `refuse`).
            let maker = self.own_maker_of(&request.maker_order_id);
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
        let take = Take {
            peer,
            request: &request,
            signature: &signature,
            taker_order,
            maker_order: &maker_order,
            taker_balance,
            now,
        };
        match self.accept_take(take, &mut decision) {
            Ok(accept) => {
                let key = self
                    .traders
                    .get(&maker)
                    .expect("accept_take checked the maker is ours");
                NodeMetrics::inc(&self.metrics.takes_accepted);
                (sign_accept(accept, key), decision)
            }
            Err(TakeRefusal { reason, detail }) => {
                NodeMetrics::inc(&self.metrics.takes_refused);
                info!(maker_order = %request.maker_order_id, %peer, reason = reason.label(), %detail, "take refused");
                self.refuse(&request, Some(maker), reason, &detail, now)
            }
        }
    }

    /// The maker of own order `id`, open or not.
    fn own_maker_of(&self, id: &OrderId) -> Option<Address> {
        self.trading
            .as_ref()
            .and_then(|t| t.own.get(id))
            .map(|own| own.order.maker())
    }

    pub(super) fn refuse(
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
    fn accept_take(
        &mut self,
        take: Take<'_>,
        decision: &mut Decision,
    ) -> Result<TakeAccept, TakeRefusal> {
        let (peer, maker_order, now) = (take.peer, take.maker_order, take.now);
        let checked = self.check_take(take)?;
        let CheckedTake {
            request_id,
            taker,
            quantity,
            record,
            swap,
        } = checked;
        let (swap_id, market, price) = (record.swap_id, record.market, record.price);
        let reserved_until = swap.params().reserved_until;
        // Reserve: from here on the quantity is not offered to anyone else.
        let Some(state) = self.books.get_mut(&market) else {
            return Err(TakeRefusal::new(
                RejectReason::OrderNotOpen,
                "unknown market",
            ));
        };
        if let Err(err) = state.book.reserve(maker_order.id(), quantity) {
            self.drain_book(market);
            return Err(TakeRefusal::new(RejectReason::InsufficientQuantity, err));
        }
        self.drain_book(market);
        let Some(trading) = self.trading.as_mut() else {
            return Err(TakeRefusal::new(RejectReason::Other, "settlement off"));
        };
        trading.incoming.count(taker, now);
        let phase = super::phase_name(&swap);
        trading.swaps.open(record, swap, peer, decision);
        self.metrics.swap_phase(phase);
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

    /// Every check of a take — the request and the taker's order, this node's terms and
    /// chains, both parties' funds, the book — changing nothing: what accepting it reserves
    /// and starts, or why it is refused.
    pub(super) fn check_take(&self, take: Take<'_>) -> Result<CheckedTake, TakeRefusal> {
        let Take {
            peer,
            request,
            signature,
            taker_order,
            maker_order,
            taker_balance,
            now,
        } = take;
        let refuse = |reason: RejectReason, detail: String| Err(TakeRefusal { reason, detail });
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
        // Only what the node holds open as its own: its book could show a copy of an order
        // it closed (see `NodeState::refuse_own_copy`).
        if !trading
            .own
            .get(&maker_order.id())
            .is_some_and(|own| own.rests_open())
        {
            return refuse(
                RejectReason::OrderNotOpen,
                "not an open order of this node".into(),
            );
        }
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
        if trading.swaps.hashlock_used(&request.hashlock) {
            return refuse(RejectReason::InvalidRequest, "hashlock already used".into());
        }
        // Rate limit per taker: each swap gives the taker a free option until T2.
        if trading.incoming.rate_limited(&taker_order.maker(), now) {
            return refuse(
                RejectReason::RateLimited,
                format!("more than {} takes per minute", trading.incoming.per_minute),
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
        // A counterparty that failed repeatedly waits out its refusal.
        let taker = taker_order.maker();
        let who = [Counterparty::Trader(taker), Counterparty::Peer(peer)];
        if let Some((party, until, failures)) = trading.counterparties.refused(&who, now) {
            let whom = match party {
                Counterparty::Trader(_) => "this taker",
                Counterparty::Peer(_) => "this peer",
            };
            return refuse(
                RejectReason::RateLimited,
                format!(
                    "{whom} is refused until {until} (unix ms) after {failures} failed swaps in a row"
                ),
            );
        }
        // Swaps one taker holds open: each holds some of our quantity or our lock.
        let open = trading
            .swaps
            .iter()
            .filter(|(_, entry)| {
                let params = entry.swap.params();
                params.role == Role::Maker
                    && (params.taker_leg.sender == taker || entry.peer == Some(peer))
            })
            .count();
        if open >= trading.incoming.max_open_per_taker {
            return refuse(
                RejectReason::RateLimited,
                format!("{open} swaps open with this taker or peer, the most this node allows"),
            );
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
        // Both sides can pay: our balance still covers the order with its takes in
        // flight, and the taker holds what it must lock (read from its chain just now).
        if let Err(err) = self.check_maker_funds(maker_order, quantity) {
            return refuse(RejectReason::InsufficientFunds, err.to_string());
        }
        let needed = legs.taker_leg.amount;
        match taker_balance {
            Some(balance) if balance >= needed => {}
            Some(balance) => {
                return refuse(
                    RejectReason::InsufficientFunds,
                    format!(
                        "the taker holds {balance} of {} on chain {}; the take locks {needed}",
                        legs.taker_leg.token, legs.taker_leg.chain_id
                    ),
                );
            }
            None => {
                return refuse(
                    RejectReason::ChainUnavailable,
                    format!(
                        "the taker's balance on chain {} could not be read",
                        legs.taker_leg.chain_id
                    ),
                );
            }
        }
        let swap_id = request.swap_id();
        let Some(trading) = self.trading.as_ref() else {
            return refuse(RejectReason::Other, "settlement off".into());
        };
        let reserved_until = now.saturating_add(trading.incoming.reservation_ms);
        let params = SwapParams {
            swap_id,
            role: Role::Maker,
            hashlock: request.hashlock,
            scan_lag_secs: trading.chains.scan_lag(&legs),
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
        Ok(CheckedTake {
            request_id,
            taker: taker_order.maker(),
            quantity,
            record,
            swap,
        })
    }
}

#[cfg(test)]
mod tests {
    use dex_network::PeerId;
    use dex_primitives::{Address, B256, Lots, OrderId, Side, U256};
    use dex_protocol::take::{RejectReason, TakeAnswer, TakeMessage, TakeRequest, sign_take};
    use dex_store::StoreOp;
    use dex_test_utils::{OrderBuilder, eth_usdc, eth_usdc_id, trader};

    use super::{MAX_TAKE_WINDOWS, Take};
    use crate::Action;
    use crate::state::{
        NodeState,
        testing::{ETH, NOW, USDC, fund, node_of, order, reading},
    };

    /// Plenty of what a taker locks.
    const RICH: Option<U256> = Some(U256::MAX);

    /// A maker node with an ask of 500 lots, and a taker node whose crossing buy of 100
    /// lots asked to take it: the maker's node, its ask, the taker's peer id and request.
    fn a_take() -> (NodeState, OrderId, PeerId, TakeMessage) {
        let (maker, ask, mut taker) = maker_and_taker();
        let taker_peer = taker.peer_id;
        let (_, placed) = taker
            .place_order(order(Side::Buy, 300_000, 100), NOW + 1)
            .unwrap();
        let message = placed
            .then
            .into_iter()
            .find_map(|action| match action {
                Action::Take { message, .. } => Some(*message),
                _ => None,
            })
            .expect("the buy asked to take the ask");
        (maker, ask, taker_peer, message)
    }

    /// A funded maker node with an ask of 500 lots at 3000, and a funded taker node whose
    /// book holds it (gossiped).
    fn maker_and_taker() -> (NodeState, OrderId, NodeState) {
        let (mut maker, maker_trader) = node_of(0);
        fund(&mut maker, maker_trader);
        let (ask, placed) = maker
            .place_order(order(Side::Sell, 300_000, 500), NOW)
            .unwrap();
        let (mut taker, taker_trader) = node_of(1);
        fund(&mut taker, taker_trader);
        for action in placed.then {
            if let Action::Publish { topic, data } = action {
                let _ = taker.on_gossip(maker.peer_id, &topic, &data, NOW);
            }
        }
        (maker, ask, taker)
    }

    /// A funded maker node with an ask of 500 lots (0.5 ETH at 3000).
    fn a_maker() -> (NodeState, OrderId) {
        let (mut maker, maker_trader) = node_of(0);
        fund(&mut maker, maker_trader);
        let (ask, _) = maker
            .place_order(order(Side::Sell, 300_000, 500), NOW)
            .unwrap();
        (maker, ask)
    }

    /// A take on `side` of `lots` of our order `ask` by test trader `key` (a fresh key per
    /// index) sent from `peer`, with hashlock `n`.
    fn take_by(key: u8, peer: PeerId, ask: OrderId, side: Side, lots: u64, n: u64) -> TakeMessage {
        let taker = trader(u64::from(key));
        let bid = OrderBuilder::new()
            .maker(&taker)
            .peer(&peer.to_base58())
            .side(side)
            .price(300_000)
            .quantity(lots)
            .created_at(NOW + 1)
            .expires_at(NOW + 3_600_000)
            .sign();
        let mut hashlock = [0u8; 32];
        hashlock[..8].copy_from_slice(&n.to_be_bytes());
        hashlock[31] = key;
        let request = TakeRequest {
            maker_order_id: ask,
            taker_order_id: bid.order.id(),
            quantity: lots,
            hashlock: B256::from(hashlock),
            taker_htlc: Address::repeat_byte(0x11),
            maker_htlc: Address::repeat_byte(0x11),
            taker_lock_secs: dex_swap::Timing::DEVNET.taker_lock_secs,
            timestamp: NOW + 1,
        };
        sign_take(request, bid, &taker)
    }

    fn check(
        maker: &NodeState,
        ask: OrderId,
        peer: PeerId,
        message: &TakeMessage,
        taker_balance: Option<U256>,
    ) -> Result<super::CheckedTake, super::TakeRefusal> {
        let TakeMessage::Take {
            request,
            signature,
            taker_order,
        } = message.clone();
        let maker_order = maker
            .book(&eth_usdc_id())
            .and_then(|book| book.order(&ask))
            .cloned()
            .expect("the ask is in the book");
        maker.check_take(Take {
            peer,
            request: &request,
            signature: &signature,
            taker_order,
            maker_order: &maker_order,
            taker_balance,
            now: NOW + 2,
        })
    }

    fn available(maker: &NodeState, ask: OrderId) -> Lots {
        maker
            .book(&eth_usdc_id())
            .and_then(|book| book.get(&ask))
            .map(|view| view.available())
            .expect("the ask is in the book")
    }

    fn reason(answer: &TakeAnswer) -> Option<RejectReason> {
        match answer {
            TakeAnswer::Rejected { reject, .. } => Some(reject.reason),
            _ => None,
        }
    }

    /// `check_take` judges a request without changing anything; accepting it then does
    /// exactly what the check said: the same swap, the same quantity reserved, the swap
    /// persisted before the answer may leave.
    #[test]
    fn check_take_changes_nothing_and_the_accept_does_what_it_said() {
        let (mut maker, ask, peer, message) = a_take();
        let checked = check(&maker, ask, peer, &message, RICH).expect("a valid take");
        assert_eq!(checked.quantity, Lots(100));
        assert_eq!(checked.record.own_order_id, ask);
        assert_eq!(checked.record.quantity, Lots(100));
        assert_eq!(
            available(&maker, ask),
            Lots(500),
            "nothing reserved by a check"
        );
        assert_eq!(maker.trading.as_ref().unwrap().swaps.iter().count(), 0);
        // Checking again gives the same verdict.
        assert_eq!(
            check(&maker, ask, peer, &message, RICH)
                .unwrap()
                .record
                .swap_id,
            checked.record.swap_id
        );

        let (answer, decision) = maker.on_take_request(peer, message.clone(), RICH, NOW + 2);
        let TakeAnswer::Accepted { accept, .. } = answer else {
            panic!("expected an accept, got {answer:?}");
        };
        assert_eq!(accept.swap_id, checked.record.swap_id);
        assert_eq!(accept.quantity, 100);
        assert!(matches!(
            decision.persist.first(),
            Some(StoreOp::CreateSwap { record, .. }) if record.swap_id == accept.swap_id
        ));
        assert_eq!(available(&maker, ask), Lots(400));

        // The same request again reuses its hashlock: refused, and nothing changes.
        let refusal = check(&maker, ask, peer, &message, RICH).unwrap_err();
        assert_eq!(refusal.reason, RejectReason::InvalidRequest);
        assert_eq!(refusal.detail, "hashlock already used");
        let (answer, decision) = maker.on_take_request(peer, message, RICH, NOW + 2);
        assert_eq!(reason(&answer), Some(RejectReason::InvalidRequest));
        assert!(decision.is_empty());
        assert_eq!(available(&maker, ask), Lots(400));
    }

    /// A request from another peer than the one its taker order names is refused by the
    /// check, before anything is reserved.
    #[test]
    fn a_take_sent_by_another_peer_is_refused_by_the_check() {
        let (maker, ask, _, message) = a_take();
        let refusal = check(&maker, ask, PeerId::random(), &message, RICH).unwrap_err();
        assert_eq!(refusal.reason, RejectReason::InvalidRequest);
        assert!(
            refusal.detail.contains("another peer"),
            "{}",
            refusal.detail
        );
        assert_eq!(available(&maker, ask), Lots(500));
    }

    /// One peer signing takes with 50 fresh keys (every key is free) holds at most
    /// `max_open_swaps_per_taker` swaps of this maker; flooding requests gets it refused
    /// unread after its minute's share; the rate windows stay bounded and are pruned.
    #[test]
    fn takes_signed_by_fresh_keys_from_one_peer_are_bounded() {
        let (mut maker, ask) = a_maker();
        let peer = PeerId::random();
        let limit = maker.trading.as_ref().unwrap().incoming.max_open_per_taker;
        assert_eq!(limit, 16);
        let mut reasons = Vec::new();
        for key in 0..50u8 {
            let message = take_by(key + 10, peer, ask, Side::Buy, 1, 0);
            let (answer, _) = maker.on_take_request(peer, message, RICH, NOW + 2);
            reasons.push(reason(&answer));
        }
        let accepted = reasons.iter().filter(|reason| reason.is_none()).count();
        assert_eq!(accepted, limit);
        assert!(
            reasons[limit..]
                .iter()
                .all(|reason| *reason == Some(RejectReason::RateLimited)),
            "{reasons:?}"
        );
        assert_eq!(available(&maker, ask), Lots(500 - limit as u64));

        // More requests this minute than a peer may send: refused before they are read.
        for n in 0..20 {
            let message = take_by(99, peer, ask, Side::Buy, 1, n + 1);
            let (answer, decision) = maker.on_take_request(peer, message, RICH, NOW + 3);
            assert_eq!(reason(&answer), Some(RejectReason::RateLimited));
            assert!(decision.is_empty());
        }
        let windows = maker.trading.as_ref().unwrap().incoming.windows();
        assert_eq!(
            windows,
            (limit, 1),
            "a window per accepted taker, one per peer"
        );
        assert!(windows.0 <= MAX_TAKE_WINDOWS);

        // A minute later the windows are gone.
        let _ = maker.trading_tick(NOW + 3 + 60_000);
        assert_eq!(maker.trading.as_ref().unwrap().incoming.windows(), (0, 0));
    }

    /// The maker's balance dropped after its order was placed (spent elsewhere): a take
    /// beyond what is still free is refused with `InsufficientFunds` and nothing is
    /// reserved; one within it is accepted, and counts against the next.
    #[test]
    fn a_maker_short_of_its_free_balance_refuses_the_take() {
        let (mut maker, maker_trader) = node_of(0);
        fund(&mut maker, maker_trader);
        // A bid of 0.3 ETH at 3000: it reserves 900 of the 1000 USDC.
        let (bid, _) = maker
            .place_order(order(Side::Buy, 300_000, 300), NOW)
            .unwrap();
        let def = eth_usdc();
        // 500 USDC left (the native coin for gas is untouched).
        maker.set_balances(
            def.quote_chain,
            vec![
                reading(maker_trader, def.quote_token, 500 * USDC, NOW + 1),
                reading(maker_trader, Address::ZERO, ETH / 100, NOW + 1),
            ],
        );
        let peer = PeerId::random();
        let sell = |key, lots, n| take_by(key, peer, bid, Side::Sell, lots, n);
        let (answer, decision) = maker.on_take_request(peer, sell(20, 200, 1), RICH, NOW + 2);
        assert_eq!(reason(&answer), Some(RejectReason::InsufficientFunds));
        let TakeAnswer::Rejected { detail, .. } = &answer else {
            unreachable!()
        };
        assert!(
            detail.contains("needs 600000000 base units, 500000000 are free"),
            "{detail}"
        );
        assert!(decision.is_empty());
        assert_eq!(available(&maker, bid), Lots(300));

        let (answer, _) = maker.on_take_request(peer, sell(20, 100, 2), RICH, NOW + 2);
        assert_eq!(reason(&answer), None, "300 of the 500 USDC left: accepted");
        // With 300 USDC in flight, another 300 is more than is left.
        let (answer, _) = maker.on_take_request(peer, sell(21, 100, 3), RICH, NOW + 2);
        assert_eq!(reason(&answer), Some(RejectReason::InsufficientFunds));
        assert_eq!(available(&maker, bid), Lots(200));
    }

    /// A taker that does not hold what its leg locks (read from its chain) is refused
    /// before anything is reserved; one whose balance could not be read is refused too.
    #[test]
    fn a_taker_that_cannot_pay_is_refused_before_anything_is_reserved() {
        let (mut maker, ask) = a_maker();
        let peer = PeerId::random();
        let message = take_by(30, peer, ask, Side::Buy, 100, 1);
        let query = maker
            .take_funds_query(&message)
            .expect("a take of our order");
        let def = eth_usdc();
        assert_eq!(query.chain_id, def.quote_chain);
        assert_eq!(query.token, def.quote_token);
        assert_eq!(query.owner, trader(30).address());
        assert_eq!(query.amount, U256::from(300 * USDC), "0.1 ETH at 3000 USDC");

        let short = Some(query.amount - U256::from(1));
        let (answer, decision) = maker.on_take_request(peer, message.clone(), short, NOW + 2);
        assert_eq!(reason(&answer), Some(RejectReason::InsufficientFunds));
        assert!(decision.is_empty());
        assert_eq!(available(&maker, ask), Lots(500));
        assert_eq!(maker.trading.as_ref().unwrap().swaps.iter().count(), 0);

        let (answer, decision) = maker.on_take_request(peer, message.clone(), None, NOW + 2);
        assert_eq!(reason(&answer), Some(RejectReason::ChainUnavailable));
        assert!(decision.is_empty());
        assert_eq!(available(&maker, ask), Lots(500));

        let (answer, _) = maker.on_take_request(peer, message, Some(query.amount), NOW + 2);
        assert_eq!(reason(&answer), None, "exactly enough is enough");
        assert_eq!(available(&maker, ask), Lots(400));
    }

    /// A taker that failed three times in a row (here: takes it never locked) is refused
    /// for the refusal period, by address and by peer; the taker side does not take the
    /// orders of a maker refused so.
    #[test]
    fn a_counterparty_that_failed_repeatedly_is_refused_for_a_while() {
        use super::super::{Counterparty, Verdict};
        let (mut maker, ask) = a_maker();
        let peer = PeerId::random();
        let taker = trader(40).address();
        let failing = [Counterparty::Trader(taker), Counterparty::Peer(peer)];
        let parties = &mut maker.trading.as_mut().unwrap().counterparties;
        for at in 0..3 {
            parties.record(&failing, Verdict::NeverLocked, NOW + at);
        }
        let (answer, decision) =
            maker.on_take_request(peer, take_by(40, peer, ask, Side::Buy, 1, 1), RICH, NOW + 5);
        assert_eq!(reason(&answer), Some(RejectReason::RateLimited));
        let TakeAnswer::Rejected { detail, .. } = &answer else {
            unreachable!()
        };
        assert!(detail.contains("after 3 failed swaps in a row"), "{detail}");
        assert!(decision.is_empty());
        // A fresh key from the same node is refused too.
        let (answer, _) =
            maker.on_take_request(peer, take_by(41, peer, ask, Side::Buy, 1, 2), RICH, NOW + 5);
        assert_eq!(reason(&answer), Some(RejectReason::RateLimited));
        // An hour after the last failure the refusal is over.
        let parties = &maker.trading.as_ref().unwrap().counterparties;
        assert!(parties.refused(&failing, NOW + 2 + 3_600_000 - 1).is_some());
        assert_eq!(parties.refused(&failing, NOW + 2 + 3_600_000), None);
        let records = maker.counterparties(NOW + 2 + 3_600_000);
        assert_eq!(records.len(), 2);
        assert!(records.iter().all(|(_, record)| record.never_locked == 3
            && record.failing_in_a_row == 3
            && record.refused_until.is_none()));
    }

    /// The taker side leaves out the orders of a maker it refuses.
    #[test]
    fn a_taker_does_not_take_from_a_refused_maker() {
        let (maker, _, mut taker) = maker_and_taker();
        let maker_trader = maker.traders.keys().next().copied().unwrap();
        let failing = [super::super::Counterparty::Trader(maker_trader)];
        let parties = &mut taker.trading.as_mut().unwrap().counterparties;
        for at in 0..3 {
            parties.record(&failing, super::super::Verdict::Refunded, NOW + at);
        }
        let (_, placed) = taker
            .place_order(order(Side::Buy, 300_000, 100), NOW + 5)
            .unwrap();
        assert!(
            !placed
                .then
                .iter()
                .any(|action| matches!(action, Action::Take { .. })),
            "no take of a refused maker's order"
        );
    }
}
