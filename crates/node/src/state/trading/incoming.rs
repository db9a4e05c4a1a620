//! Incoming takes: a taker's request for one of our orders, checked, reserved and persisted
//! before it is answered.

use std::collections::HashMap;
use std::sync::Arc;

use dex_book::Taker;
use dex_network::PeerId;
use dex_primitives::{Address, B256, Lots, UnixMillis, VerifiedOrder};
use dex_protocol::take::{
    RejectReason, TakeAccept, TakeAnswer, TakeMessage, TakeReject, TakeRequest, check_signer,
    sign_accept, sign_reject,
};
use dex_store::SwapRecord;
use dex_swap::{Role, Swap, SwapParams};
use tracing::info;

use crate::NodeMetrics;
use crate::state::{Decision, NodeState};

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

/// Admission of takers' requests: how many each taker had accepted lately, and how long a
/// reservation lasts.
#[derive(Debug)]
pub(super) struct IncomingTakes {
    /// Takes accepted per taker address in the current minute.
    windows: HashMap<Address, (UnixMillis, u32)>,
    per_minute: u32,
    reservation_ms: u64,
}

impl IncomingTakes {
    pub(super) fn new(per_minute: u32, reservation_ms: u64) -> IncomingTakes {
        IncomingTakes {
            windows: HashMap::new(),
            per_minute,
            reservation_ms,
        }
    }

    /// Whether `taker` had its minute's takes accepted already.
    fn rate_limited(&self, taker: &Address, now: UnixMillis) -> bool {
        self.windows.get(taker).is_some_and(|(start, count)| {
            now.saturating_sub(*start) < 60_000 && *count >= self.per_minute
        })
    }

    /// Counts a take of `taker` accepted at `now`.
    fn count(&mut self, taker: Address, now: UnixMillis) {
        let window = self.windows.entry(taker).or_insert((now, 0));
        if now.saturating_sub(window.0) >= 60_000 {
            *window = (now, 0);
        }
        window.1 += 1;
    }
}

impl NodeState {
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
            Err(TakeRefusal { reason, detail }) => {
                NodeMetrics::inc(&self.metrics.takes_refused);
                info!(maker_order = %request.maker_order_id, %peer, reason = reason.label(), %detail, "take refused");
                self.refuse(&request, Some(maker), reason, &detail, now)
            }
        }
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
    ) -> Result<TakeAccept, TakeRefusal> {
        let checked = self.check_take(peer, request, signature, taker_order, maker_order, now)?;
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
        trading.swaps.open(record, swap, peer, decision);
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

    /// Every check of take `request` from `peer` for our `maker_order` — the request and
    /// the taker's order, this node's terms and chains, the book — changing nothing: what
    /// accepting it reserves and starts, or why it is refused.
    pub(super) fn check_take(
        &self,
        peer: PeerId,
        request: &TakeRequest,
        signature: &dex_primitives::Signature,
        taker_order: dex_primitives::SignedOrder,
        maker_order: &Arc<VerifiedOrder>,
        now: UnixMillis,
    ) -> Result<CheckedTake, TakeRefusal> {
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
    use dex_primitives::{Lots, OrderId, Side};
    use dex_protocol::take::{RejectReason, TakeAnswer, TakeMessage};
    use dex_store::StoreOp;
    use dex_test_utils::eth_usdc_id;

    use crate::Action;
    use crate::state::{
        NodeState,
        testing::{NOW, fund, node_of, order},
    };

    /// A maker node with an ask of 500 lots, and a taker node whose crossing buy of 100
    /// lots asked to take it: the maker's node, its ask, the taker's peer id and request.
    fn a_take() -> (NodeState, OrderId, PeerId, TakeMessage) {
        let (mut maker, maker_trader) = node_of(0);
        fund(&mut maker, maker_trader);
        let (ask, placed) = maker
            .place_order(order(Side::Sell, 300_000, 500), NOW)
            .unwrap();
        let (mut taker, taker_trader) = node_of(1);
        fund(&mut taker, taker_trader);
        let taker_peer = taker.peer_id;
        for action in placed.then {
            if let Action::Publish { topic, data } = action {
                let _ = taker.on_gossip(maker.peer_id, &topic, &data, NOW);
            }
        }
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

    fn check(
        maker: &NodeState,
        ask: OrderId,
        peer: PeerId,
        message: &TakeMessage,
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
        maker.check_take(
            peer,
            &request,
            &signature,
            taker_order,
            &maker_order,
            NOW + 2,
        )
    }

    fn available(maker: &NodeState, ask: OrderId) -> Lots {
        maker
            .book(&eth_usdc_id())
            .and_then(|book| book.get(&ask))
            .map(|view| view.available())
            .expect("the ask is in the book")
    }

    /// `check_take` judges a request without changing anything; accepting it then does
    /// exactly what the check said: the same swap, the same quantity reserved, the swap
    /// persisted before the answer may leave.
    #[test]
    fn check_take_changes_nothing_and_the_accept_does_what_it_said() {
        let (mut maker, ask, peer, message) = a_take();
        let checked = check(&maker, ask, peer, &message).expect("a valid take");
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
            check(&maker, ask, peer, &message).unwrap().record.swap_id,
            checked.record.swap_id
        );

        let (answer, decision) = maker.on_take_request(peer, message.clone(), NOW + 2);
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
        let refusal = check(&maker, ask, peer, &message).unwrap_err();
        assert_eq!(refusal.reason, RejectReason::InvalidRequest);
        assert_eq!(refusal.detail, "hashlock already used");
        let (answer, decision) = maker.on_take_request(peer, message, NOW + 2);
        assert!(
            matches!(answer, TakeAnswer::Rejected { reject, .. } if reject.reason == RejectReason::InvalidRequest)
        );
        assert!(decision.is_empty());
        assert_eq!(available(&maker, ask), Lots(400));
    }

    /// A request from another peer than the one its taker order names is refused by the
    /// check, before anything is reserved.
    #[test]
    fn a_take_sent_by_another_peer_is_refused_by_the_check() {
        let (maker, ask, _, message) = a_take();
        let refusal = check(&maker, ask, PeerId::random(), &message).unwrap_err();
        assert_eq!(refusal.reason, RejectReason::InvalidRequest);
        assert!(
            refusal.detail.contains("another peer"),
            "{}",
            refusal.detail
        );
        assert_eq!(available(&maker, ask), Lots(500));
    }
}
