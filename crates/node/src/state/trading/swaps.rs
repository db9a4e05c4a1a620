//! Swaps in progress: each event fed to its state machine, the step persisted, its actions
//! turned into node actions; hints from the counterparty; the end of a swap.

use std::collections::{HashMap, HashSet};

use dex_network::PeerId;
use dex_primitives::{Address, B256, UnixMillis};
use dex_protocol::take::{NoteKind, SwapAck, SwapMessage, SwapNote, check_signer, sign_note};
use dex_store::SwapRecord;
use dex_store::{LogEntry, StoreOp, TradeRecord, TxRef};
use dex_swap::Swap;
use dex_swap::{
    Action as SwapAction, Event as SwapEvent, Hint, Leg, Outcome, Role, Secret, SwapId,
};
use tracing::{debug, info, warn};

use super::phase_name;
use crate::NodeMetrics;
use crate::state::{Action, Decision, NodeEvent, NodeState};

/// A swap in progress.
#[derive(Debug, Clone)]
pub(crate) struct SwapEntry {
    pub(crate) record: SwapRecord,
    pub(crate) swap: Swap,
    pub(super) peer: Option<PeerId>,
}

/// What one event did to a swap.
#[derive(Debug)]
pub(super) struct Step {
    /// What the swap decided.
    pub(super) actions: Vec<SwapAction>,
    /// Its phase or one of its locks changed.
    pub(super) changed: bool,
    /// The counterparty's lock it acted on was removed by a reorg just now.
    pub(super) newly_reorged: bool,
    /// Its own lock is on chain.
    pub(super) own_locked: bool,
    /// The phase it entered ([`phase_name`]; not `finished`: outcomes are counted apart), if it moved to
    /// another one.
    pub(super) entered: Option<&'static str>,
}

/// The node's swaps in progress, and what every swap it ever had left behind: the
/// hashlocks used (never again) and which reservations were committed or released (once).
#[derive(Debug, Default)]
pub(crate) struct Swaps {
    entries: HashMap<SwapId, SwapEntry>,
    /// Every hashlock any swap of this node used: a take reusing one is refused.
    hashlocks: HashSet<B256>,
    /// Lock id → the swap and leg it belongs to, to route claims and refunds.
    lock_ids: HashMap<B256, (SwapId, Leg)>,
    /// Swaps whose quantity was committed out of an own order (once each).
    committed: HashSet<SwapId>,
    /// Swaps whose reservation was released.
    released: HashSet<SwapId>,
}

impl Swaps {
    /// Tracks a new swap with `peer` (its hashlock counts as used from now on); `decision`
    /// persists it before anything acts on it.
    pub(super) fn open(
        &mut self,
        record: SwapRecord,
        swap: Swap,
        peer: PeerId,
        decision: &mut Decision,
    ) {
        self.hashlocks.insert(swap.params().hashlock);
        decision.persist(StoreOp::CreateSwap {
            record: Box::new(record.clone()),
            swap: Box::new(swap.clone()),
        });
        self.entries.insert(
            record.swap_id,
            SwapEntry {
                record,
                swap,
                peer: Some(peer),
            },
        );
    }

    /// Tracks a swap read back from the database.
    pub(super) fn restore(&mut self, entry: SwapEntry) {
        self.hashlocks.insert(entry.swap.params().hashlock);
        self.entries.insert(entry.record.swap_id, entry);
    }

    /// What the database says every past swap left behind.
    pub(super) fn restore_history(
        &mut self,
        committed: impl IntoIterator<Item = SwapId>,
        hashlocks: impl IntoIterator<Item = B256>,
    ) {
        self.committed.extend(committed);
        self.hashlocks.extend(hashlocks);
    }

    /// A swap in progress.
    pub(crate) fn get(&self, swap_id: &SwapId) -> Option<&SwapEntry> {
        self.entries.get(swap_id)
    }

    /// A swap in progress, to drive.
    pub(super) fn get_mut(&mut self, swap_id: &SwapId) -> Option<&mut SwapEntry> {
        self.entries.get_mut(swap_id)
    }

    /// Every swap in progress.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&SwapId, &SwapEntry)> {
        self.entries.iter()
    }

    /// The ids of the swaps in progress, sorted (a deterministic order to drive them in).
    pub(super) fn ids(&self) -> Vec<SwapId> {
        let mut ids: Vec<SwapId> = self.entries.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Ends a swap: it is no longer tracked, and its locks no longer route to it.
    pub(super) fn finish(&mut self, swap_id: &SwapId) -> Option<SwapEntry> {
        let entry = self.entries.remove(swap_id)?;
        self.lock_ids.retain(|_, (swap, _)| swap != swap_id);
        Some(entry)
    }

    /// Feeds one event to a swap's machine; routes the locks it knows now to it. None if
    /// the swap is not in progress.
    pub(super) fn step(
        &mut self,
        swap_id: &SwapId,
        event: SwapEvent,
        now: UnixMillis,
    ) -> Option<Step> {
        const LEGS: [Leg; 2] = [Leg::Taker, Leg::Maker];
        let entry = self.entries.get_mut(swap_id)?;
        let before_phase = entry.swap.phase().clone();
        let before_name = phase_name(&entry.swap);
        let before_reorged = entry.swap.counter_lock_reorged();
        let before_locks = LEGS.map(|leg| entry.swap.lock(leg).cloned());
        let actions = entry.swap.handle(event, now);
        let changed = entry.swap.phase() != &before_phase
            || LEGS
                .iter()
                .zip(&before_locks)
                .any(|(leg, before)| entry.swap.lock(*leg) != before.as_ref());
        // Lock ids route later claims and refunds to this swap.
        for leg in LEGS {
            if let Some(lock) = entry.swap.lock(leg) {
                self.lock_ids.insert(lock.id, (*swap_id, leg));
            }
        }
        Some(Step {
            actions,
            changed,
            newly_reorged: !before_reorged && entry.swap.counter_lock_reorged(),
            own_locked: entry.swap.lock(Leg::of(entry.swap.params().role)).is_some(),
            entered: Some(phase_name(&entry.swap))
                .filter(|name| *name != before_name && *name != "finished"),
        })
    }

    /// Whether a take with this hashlock would reuse one.
    pub(super) fn hashlock_used(&self, hashlock: &B256) -> bool {
        self.hashlocks.contains(hashlock)
    }

    /// The swap and leg lock `lock_id` belongs to.
    pub(super) fn lock_owner(&self, lock_id: &B256) -> Option<(SwapId, Leg)> {
        self.lock_ids.get(lock_id).copied()
    }

    /// Whether the swap's quantity was committed out of its own order.
    pub(crate) fn is_committed(&self, swap_id: &SwapId) -> bool {
        self.committed.contains(swap_id)
    }

    /// Records the commit of a swap's quantity; false if it was recorded before.
    pub(super) fn mark_committed(&mut self, swap_id: SwapId) -> bool {
        self.committed.insert(swap_id)
    }

    /// Records the release of a swap's reservation; false if it was committed or released
    /// before (a reservation is given back once, and never after its commit).
    pub(super) fn mark_released(&mut self, swap_id: SwapId) -> bool {
        !self.committed.contains(&swap_id) && self.released.insert(swap_id)
    }
}

impl NodeState {
    /// Gives a new swap the chain times already known, so it starts without waiting for
    /// the next scan.
    pub(super) fn feed_known_times(
        &mut self,
        swap_id: SwapId,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
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
            let (head, scanned) = trading.chains.clocks(chain_id);
            if let Some((number, time)) = head {
                events.push(SwapEvent::ChainHead { leg, number, time });
            }
            if let Some(time) = scanned {
                events.push(SwapEvent::ChainTime { leg, time });
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
    pub(super) fn drive(
        &mut self,
        swap_id: SwapId,
        event: SwapEvent,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        self.drive_from(swap_id, event, None, now, decision);
    }

    /// [`Self::drive`] with the transaction a chain event was read from, kept in the swap's
    /// log (its timeline shows the transaction hashes).
    pub(super) fn drive_from(
        &mut self,
        swap_id: SwapId,
        event: SwapEvent,
        tx: Option<TxRef>,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        // Clock events come with every scan poll: logged only when they change something
        // (a head that only raises confirmations does not: they are counted again from the
        // lock's block at the next head after a restart).
        let worth_logging = !matches!(
            event,
            SwapEvent::ChainTime { .. } | SwapEvent::ChainHead { .. } | SwapEvent::Tick
        );
        let Some(step) = trading.swaps.step(&swap_id, event.clone(), now) else {
            return;
        };
        if step.newly_reorged {
            warn!(
                %swap_id,
                "the counterparty's lock that this swap acted on was removed by a reorg; the \
                 swap waits for it to be mined again and otherwise refunds at the timelock: \
                 an operator should look at it"
            );
            NodeMetrics::inc(&self.metrics.swaps_reorged);
        }
        if let Some(phase) = step.entered {
            self.metrics.swap_phase(phase);
        }
        if step.own_locked {
            trading.ledger.locks_seen_once(swap_id, now);
        }
        if step.actions.is_empty() && !step.changed && !worth_logging {
            return;
        }
        let Some(entry) = trading.swaps.get(&swap_id) else {
            return;
        };
        decision.persist(StoreOp::AppendSwap {
            swap_id,
            entry: Box::new(LogEntry::Event {
                event: Box::new(event),
                tx,
            }),
            actions: step.actions.clone(),
            swap: Box::new(entry.swap.clone()),
        });
        self.perform_swap_actions(swap_id, step.actions, now, decision);
    }

    pub(super) fn perform_swap_actions(
        &mut self,
        swap_id: SwapId,
        swap_actions: Vec<SwapAction>,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        // The phase now: a finished swap is gone from the map after its last action.
        let now_state = self
            .trading
            .as_ref()
            .and_then(|trading| trading.swaps.get(&swap_id))
            .map(|entry| {
                (
                    phase_name(&entry.swap),
                    std::sync::Arc::new(entry.swap.clone()),
                )
            });
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
        if let Some((phase, swap)) = now_state {
            self.events.push(NodeEvent::Swap {
                swap_id,
                phase,
                swap,
            });
        }
    }

    pub(super) fn send_hint(
        &mut self,
        swap_id: SwapId,
        hint: Hint,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        let Some(entry) = self.trading.as_ref().and_then(|t| t.swaps.get(&swap_id)) else {
            return;
        };
        let Some(peer) = entry.peer else {
            return;
        };
        let params = entry.swap.params();
        let own = params.leg(Leg::of(params.role)).sender;
        self.send_note(peer, own, swap_id, hint, now, decision);
    }

    /// Sends `peer` a hint about swap `swap_id`, signed by trader `signer` (a swap not
    /// opened yet too: an accepted take's abort).
    pub(super) fn send_note(
        &self,
        peer: PeerId,
        signer: Address,
        swap_id: SwapId,
        hint: Hint,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        let Some(key) = self.traders.get(&signer) else {
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

    pub(super) fn finish_swap(
        &mut self,
        swap_id: SwapId,
        outcome: Outcome,
        now: UnixMillis,
        decision: &mut Decision,
    ) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        let Some(entry) = trading.swaps.finish(&swap_id) else {
            return;
        };
        trading.ledger.forget_swap(&swap_id);
        self.record_counterparty(&entry.swap, entry.peer, &outcome, now);
        let record = entry.record;
        let role = match entry.swap.params().role {
            Role::Taker => "taker",
            Role::Maker => "maker",
        };
        // The outcome names the API shows.
        let outcome_name = match &outcome {
            Outcome::Completed => "completed",
            Outcome::Refunded => "refunded",
            Outcome::NotLocked => "notLocked",
            Outcome::Failed { .. } => "failed",
        };
        self.metrics.swap_outcome(role, outcome_name);
        match &outcome {
            Outcome::Completed => {
                info!(%swap_id, quantity = record.quantity.0, price = record.price.0, "swap completed");
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
            }
            other => {
                info!(%swap_id, outcome = ?other, "swap ended without a trade");
            }
        }
        let committed = self
            .trading
            .as_ref()
            .is_some_and(|trading| trading.swaps.is_committed(&swap_id));
        let reposting = committed
            && !matches!(outcome, Outcome::Completed | Outcome::Failed { .. })
            && self.trading.as_ref().is_some_and(|t| t.repost_failed);
        if reposting {
            self.repost(&record, now, decision);
        }
    }
}
