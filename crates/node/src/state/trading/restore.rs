//! Restoring settlement state after a restart.

use std::{collections::HashSet, sync::Arc};

use dex_network::PeerId;
use dex_primitives::{B256, Lots, U256, UnixMillis};
use dex_store::{LogEntry, OrderStatus as StoredStatus, OwnOrder, StoreOp, SwapRecord};
use dex_swap::{Role, Swap, SwapId};
use tracing::{info, warn};

use super::{MAX_TAKE_ROUNDS, Own, SwapEntry, TimeInForce, phase_name};
use crate::state::{Decision, NodeState};

impl NodeState {
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
        let mut open_ioc = Vec::new();
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
            let expired = stored.status == StoredStatus::Open && verified.order().expires_at <= now;
            let open = stored.status == StoredStatus::Open && !expired;
            let mut in_book = false;
            // An IOC order never rests: one still open is ended below, once its swaps are
            // back.
            if open && !stored.ioc && !stored.remaining.is_zero() {
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
            if stored.ioc && stored.status == StoredStatus::Open {
                open_ioc.push(id);
            }
            trading.own.insert(Own {
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
                client: stored.client,
            });
            self.account_own(id);
            // A resting order that expired while the node was down ends now, as one the
            // book expires in a run: it reserves nothing and is no longer listed open.
            if expired && !stored.ioc {
                self.expire_own(id, now, &mut decision);
            }
        }
        let Some(trading) = self.trading.as_mut() else {
            return decision;
        };
        trading.swaps.restore_history(committed, hashlocks);
        let mut ids = Vec::new();
        for (record, swap) in swaps {
            ids.push((
                record.swap_id,
                record.own_order_id,
                record.quantity,
                record.market,
                swap.params().role,
                swap.reservation(),
            ));
            let peer = record.peer.parse::<PeerId>().ok();
            trading.swaps.restore(SwapEntry { record, swap, peer });
        }
        for (swap_id, order, quantity, market, role, reservation) in ids {
            let committed = self
                .trading
                .as_ref()
                .is_some_and(|t| t.swaps.is_committed(&swap_id));
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
        // Takes of an IOC order in flight at the stop are lost (a maker that accepted one
        // lets its reservation lapse); what it took is in its swaps, resumed above. It is
        // over: the rest is cancelled.
        for id in open_ioc {
            self.settle_ioc(id, now, &mut decision);
        }
        decision
    }
}
