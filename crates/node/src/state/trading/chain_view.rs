//! What the node sees of each chain: which answer, their heads and scanned times, and the HTLC
//! events of a scan step routed to the swaps they concern.

use super::Legs;
use crate::SettlementConfig;
use dex_chain::{ChainEvent, HtlcEvent};
use dex_primitives::Address;
use dex_primitives::UnixMillis;
use dex_store::{StoreOp, TxRef};
use dex_swap::ScanLag;
use dex_swap::{Event as SwapEvent, Leg, LockInfo, Role, Secret, SwapId};
use std::collections::{HashMap, HashSet};

use super::{ChainBatch, OnChain};
use crate::state::{Decision, NodeState};

/// What the node sees of each chain it settles on: its HTLC contract, how late the node
/// sees it, whether it answers, and its two clocks (the newest head, and the time of the
/// last block scanned).
#[derive(Debug)]
pub(super) struct ChainView {
    /// HTLC contract per chain id.
    htlcs: HashMap<u64, Address>,
    /// How late this node sees each chain (scan confirmations and a poll), whole seconds
    /// rounded up, per chain id.
    scan_lags: HashMap<u64, u64>,
    /// Chains answering now.
    up: HashSet<u64>,
    /// Time of the last block scanned per chain.
    times: HashMap<u64, u64>,
    /// Newest head seen per chain (number, time).
    heads: HashMap<u64, (u64, u64)>,
}

impl ChainView {
    pub(super) fn new(config: &SettlementConfig) -> ChainView {
        ChainView {
            htlcs: config.chains.iter().map(|c| (c.chain_id, c.htlc)).collect(),
            scan_lags: config
                .chains
                .iter()
                .map(|c| (c.chain_id, c.client.scan_lag().as_millis().div_ceil(1000)))
                .map(|(chain_id, secs)| (chain_id, u64::try_from(secs).unwrap_or(u64::MAX)))
                .collect(),
            up: HashSet::new(),
            times: HashMap::new(),
            heads: HashMap::new(),
        }
    }

    /// The HTLC contract on a chain, if the node settles there.
    pub(super) fn htlc(&self, chain_id: u64) -> Option<Address> {
        self.htlcs.get(&chain_id).copied()
    }

    /// Whether the chain answers now.
    pub(super) fn is_up(&self, chain_id: u64) -> bool {
        self.up.contains(&chain_id)
    }

    /// The chains that answer now, sorted.
    fn up(&self) -> Vec<u64> {
        let mut up: Vec<u64> = self.up.iter().copied().collect();
        up.sort_unstable();
        up
    }

    fn set_up(&mut self, chain_id: u64, up: bool) {
        if up {
            self.up.insert(chain_id);
        } else {
            self.up.remove(&chain_id);
        }
    }

    /// This node's scan lag on the chains of both legs.
    pub(super) fn scan_lag(&self, legs: &Legs) -> ScanLag {
        let lag = |chain_id| self.scan_lags.get(&chain_id).copied().unwrap_or(0);
        ScanLag {
            taker_leg: lag(legs.taker_leg.chain_id),
            maker_leg: lag(legs.maker_leg.chain_id),
        }
    }

    /// The newest head of a chain (number, time), and the time of its last block scanned.
    pub(super) fn clocks(&self, chain_id: u64) -> (Option<(u64, u64)>, Option<u64>) {
        (
            self.heads.get(&chain_id).copied(),
            self.times.get(&chain_id).copied(),
        )
    }

    /// Moves a chain's clocks on by a scan step that read up to `last` (number, time) and
    /// saw `head`, after a reorg from block `reorg` if the step found one. Time never goes
    /// back (a reorg does not rewind it); the head number goes back only below a reorg, since
    /// the new branch may be shorter and confirmations are counted from it. Returns the head
    /// deadlines and confirmations are judged by now (the last block read stands in for a
    /// missing head).
    fn advance(
        &mut self,
        chain_id: u64,
        last: Option<(u64, u64)>,
        head: Option<(u64, u64)>,
        reorg: Option<u64>,
    ) -> Option<(u64, u64)> {
        if let Some((_, time)) = last {
            let slot = self.times.entry(chain_id).or_insert(time);
            *slot = (*slot).max(time);
        }
        if let (Some(from_block), Some(known)) = (reorg, self.heads.get_mut(&chain_id)) {
            known.0 = known.0.min(from_block.saturating_sub(1));
        }
        let head = head
            .or(last)
            .map(|(number, time)| match self.heads.get(&chain_id) {
                Some(&(known_number, known_time)) => {
                    (known_number.max(number), known_time.max(time))
                }
                None => (number, time),
            });
        if let Some(head) = head {
            self.heads.insert(chain_id, head);
        }
        head
    }
}

impl NodeState {
    /// Marks a chain reachable or not; trading on an unreachable chain is refused.
    pub fn set_chain_up(&mut self, chain_id: u64, up: bool) {
        if let Some(trading) = self.trading.as_mut() {
            trading.chains.set_up(chain_id, up);
        }
    }

    /// The chains that answer now, sorted.
    pub fn chains_up(&self) -> Vec<u64> {
        self.trading
            .as_ref()
            .map(|trading| trading.chains.up())
            .unwrap_or_default()
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
        trading.chains.set_up(chain_id, true);
        let last = last_block.map(|block| (block.number, block.timestamp));
        // The newest head (the last block read stands in for it in a rewinding batch); a
        // lower one does not move the clock back, nor, without a reorg, the number.
        let head = trading.chains.advance(
            chain_id,
            last,
            head.map(|block| (block.number, block.timestamp)),
            reorg,
        );
        if let Some(head) = head {
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
    pub(super) fn swaps_on_chain(&self, chain_id: u64) -> Vec<OnChain> {
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

    pub(super) fn route_chain_event(
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
        let tx = Some(TxRef {
            chain_id,
            tx_hash: event.tx_hash,
            block,
        });
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
                    self.drive_from(
                        swap_id,
                        SwapEvent::LockSeen {
                            leg,
                            lock: lock.clone(),
                            confirmations,
                            block,
                            chain_time,
                        },
                        tx,
                        now,
                        decision,
                    );
                }
            }
            HtlcEvent::Claimed { id, secret } => {
                let secret = Secret(*secret.as_b256());
                let target = trading.swaps.lock_owner(&id.0).or_else(|| {
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
                    self.drive_from(
                        swap_id,
                        SwapEvent::ClaimSeen {
                            leg,
                            lock_id: id.0,
                            secret,
                        },
                        tx,
                        now,
                        decision,
                    );
                }
            }
            HtlcEvent::Refunded { id } => {
                if let Some((swap_id, leg)) = trading.swaps.lock_owner(&id.0) {
                    self.drive_from(
                        swap_id,
                        SwapEvent::RefundSeen { leg, lock_id: id.0 },
                        tx,
                        now,
                        decision,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ChainView {
        ChainView {
            htlcs: HashMap::new(),
            scan_lags: HashMap::new(),
            up: HashSet::new(),
            times: HashMap::new(),
            heads: HashMap::new(),
        }
    }

    /// Confirmations of the events of a scan step are counted from the head `advance`
    /// returns: after a reorg onto a shorter branch it is the new branch's head, so a lock
    /// mined again at 103 has 1 confirmation, not the 8 the old head 110 would give it.
    #[test]
    fn a_reorg_onto_a_shorter_branch_lowers_the_head_but_not_the_time() {
        let mut view = view();
        assert_eq!(
            view.advance(7, Some((110, 1_000)), Some((110, 1_000)), None),
            Some((110, 1_000))
        );
        // A lagging provider's lower head, no reorg: nothing goes back.
        assert_eq!(
            view.advance(7, Some((105, 990)), Some((105, 990)), None),
            Some((110, 1_000))
        );
        // A reorg from 101 onto a branch whose head is 103: the number goes back, the time
        // does not.
        assert_eq!(
            view.advance(7, Some((103, 995)), Some((103, 995)), Some(101)),
            Some((103, 1_000))
        );
        assert_eq!(view.clocks(7), (Some((103, 1_000)), Some(1_000)));
        // A reorg deeper than the branch the step read leaves the head it read.
        assert_eq!(
            view.advance(7, Some((120, 1_100)), Some((121, 1_110)), Some(119)),
            Some((121, 1_110))
        );
    }
}
