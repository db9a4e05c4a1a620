//! The swap state machine: events in, actions out, no I/O.
//!
//! The machine is level-triggered: events record what the chain shows (times, locks,
//! claims, refunds, the absence of a lock) and what a peer told (a secret, which proves
//! itself, or an abort); after each event [`Swap::handle`] re-evaluates the rules of the
//! current phase against everything known. Replaying the same observations after a restart
//! therefore leads to the same decisions, and every action is safe to perform twice.
//!
//! A swap ends only on conclusive chain facts (a claim, a refund, a confirmed absence),
//! never because a deadline passed: a deadline only decides what to send.

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::{
    Error,
    types::{Leg, LockInfo, LockTerms, Mismatch, Role, Secret, SwapParams},
};

/// At most this many claims/refunds of not-yet-known lock ids are remembered (only this
/// swap's hashlock is watched, so a handful suffice; the bound keeps a hostile view small).
const MAX_PENDING: usize = 8;

/// A chain time further ahead of the previous one than the local time elapsed plus this is
/// refused: a single absurd answer from an RPC endpoint must not end a swap.
pub const MAX_CHAIN_TIME_JUMP_SECS: u64 = 7 * 24 * 60 * 60;

/// Something observed (on chain, from the peer, or the passing of time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    /// The time of the last block scanned of a leg's chain (unix seconds). The shell
    /// reports a block's time only after every lock, claim and refund up to that block, so
    /// this clock decides what is final: a lock past its timelock with no claim seen was
    /// not claimed.
    ChainTime {
        /// Which leg's chain.
        leg: Leg,
        /// The block's timestamp.
        time: u64,
    },
    /// The head of a leg's chain: its newest block, which the scan reads only some
    /// confirmations later. Timelock decisions (T1, T2, how much time a lock leaves,
    /// whether a claim can still land) use this clock, and lock confirmations are counted
    /// against it, so they grow with every new head.
    ChainHead {
        /// Which leg's chain.
        leg: Leg,
        /// The head's block number.
        number: u64,
        /// The head's timestamp.
        time: u64,
    },
    /// A lock with this swap's hashlock, read from the chain.
    LockSeen {
        /// Which leg's chain it is on.
        leg: Leg,
        /// The lock as the chain stores it.
        lock: LockInfo,
        /// Confirmations of the lock transaction (1 = in the latest block).
        confirmations: u64,
        /// The block the lock was mined in: its confirmations grow with each
        /// [`Event::ChainHead`] after it. 0 when unknown (only `confirmations` count).
        #[serde(default)]
        block: u64,
        /// The time of the chain's latest block when it was read; used to judge how much
        /// time the lock leaves, not as the chain's clock.
        chain_time: u64,
    },
    /// A reorg replaced a leg's chain from `from_block` on: a lock mined there may be gone.
    /// It counts again only when the scan reports it again (with fresh confirmations);
    /// until then no claim is sent for it.
    Reorged {
        /// Which leg's chain.
        leg: Leg,
        /// The first block that changed.
        from_block: u64,
    },
    /// Our own intended lock (see [`Swap::own_lock_intent`]) is not on chain as of a
    /// confirmed block with this time. After its timelock this is final: the contract
    /// refuses locks whose timelock has passed.
    LockAbsent {
        /// Our leg.
        leg: Leg,
        /// The time of the block the absence was read at.
        chain_time: u64,
    },
    /// A lock was claimed on chain; the claim reveals the secret.
    ClaimSeen {
        /// Which leg's chain.
        leg: Leg,
        /// The lock claimed.
        lock_id: B256,
        /// The secret from the `Claimed` event.
        secret: Secret,
    },
    /// A lock was refunded on chain.
    RefundSeen {
        /// Which leg's chain.
        leg: Leg,
        /// The lock refunded.
        lock_id: B256,
    },
    /// The counterparty sent the secret (a hint; accepted only if it hashes to the hashlock).
    SecretLearned {
        /// The claimed preimage.
        secret: Secret,
    },
    /// The counterparty says it gives up. Only acted on while nothing of ours is locked.
    PeerAborted,
    /// Time passed (local clock); re-evaluates deadlines and retries.
    Tick,
}

/// Something the shell must do. Every action is idempotent: performing it twice (e.g. once
/// before and once after a crash) has the effect of performing it once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum Action {
    /// Lock our asset in the HTLC of `leg`'s chain.
    Lock {
        /// Our leg.
        leg: Leg,
        /// Chain, contract, token, amount, sender, recipient.
        terms: LockTerms,
        /// sha256 hashlock.
        hashlock: B256,
        /// Timelock in the chain's block time (unix seconds).
        timelock: u64,
    },
    /// Claim the counterparty's lock with the secret.
    Claim {
        /// The counterparty's leg.
        leg: Leg,
        /// The lock (its id and every parameter the contract needs).
        lock: LockInfo,
        /// The preimage.
        secret: Secret,
    },
    /// Refund our own lock after its timelock.
    Refund {
        /// Our leg.
        leg: Leg,
        /// Our lock.
        lock: LockInfo,
    },
    /// Send a hint to the counterparty (it speeds the swap up; it decides nothing).
    Send(Hint),
    /// Maker: the taker's lock is on chain; take this swap's reserved quantity out of the
    /// order for good (the node signs and gossips an `Update`). Idempotent per swap: the
    /// node commits a swap's reservation once, whatever the number of times it is asked.
    CommitReservation,
    /// Maker: the swap will not happen; offer this swap's reserved quantity again.
    /// Idempotent per swap like [`Action::CommitReservation`].
    ReleaseReservation,
    /// The swap is over.
    Finished(Outcome),
    /// Nothing to do, but worth a log line (an ignored lock, a wrong secret, …).
    Notice(Notice),
}

/// Messages to the counterparty. They are hints: the receiver checks the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "hint", rename_all = "camelCase")]
pub enum Hint {
    /// Our lock is on chain with this id.
    Locked {
        /// Lock id.
        lock_id: B256,
    },
    /// The secret. The taker sends it only after its own claim is seen on chain, when the
    /// claim has made it public anyway.
    Secret {
        /// The preimage.
        secret: Secret,
    },
    /// We give up before locking.
    Abort,
}

/// Why the machine ignored an observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "camelCase")]
pub enum Notice {
    /// A lock with our hashlock whose terms differ from the agreed ones.
    LockMismatch {
        /// Which leg.
        leg: Leg,
        /// The lock id.
        lock_id: B256,
        /// What differs.
        mismatch: Mismatch,
    },
    /// The counterparty's lock leaves too little time (or our own timelock rules fail).
    LockTimelockRejected {
        /// Which leg.
        leg: Leg,
        /// The lock id.
        lock_id: B256,
        /// The lock's timelock.
        timelock: u64,
        /// The chain time it was judged at.
        chain_time: u64,
    },
    /// A secret that does not hash to the hashlock (from a peer, or in a claim report).
    WrongSecret,
    /// A lock of ours or the counterparty's was in blocks a reorg replaced.
    LockReorged {
        /// Which leg.
        leg: Leg,
        /// The lock id.
        lock_id: B256,
    },
    /// A chain time that jumps implausibly far ahead; ignored.
    ChainTimeRejected {
        /// Which leg's chain.
        leg: Leg,
        /// The time reported.
        time: u64,
        /// The newest time accepted before.
        previous: u64,
    },
}

/// How a swap ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    /// We received the counterparty's asset.
    Completed,
    /// Our lock was refunded to us.
    Refunded,
    /// We never locked anything (expired reservation, abort, lock never mined).
    NotLocked,
    /// Our asset was claimed and we did not receive the counterparty's. Needs an operator.
    Failed {
        /// What happened.
        reason: String,
    },
}

/// Where the swap is. Each phase names what we are waiting for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "camelCase")]
pub enum Phase {
    /// Taker: nothing sent yet; waiting for the taker chain's time to set T1.
    TakerStart,
    /// Taker: own lock sent with `timelock`; waiting to see it on chain.
    TakerLocking {
        /// T1.
        timelock: u64,
        /// Local ms of the last send.
        sent_at: u64,
        /// Whether an abort was sent because the reservation deadline passed.
        aborted: bool,
    },
    /// Taker: own lock on chain. Claims the maker's lock when it is safe; refunds its own
    /// lock after T1 if it is still there.
    TakerLocked {
        /// Local ms of the last claim sent (the secret is public from the first).
        claim_sent_at: Option<u64>,
        /// Local ms of the last refund sent.
        refund_sent_at: Option<u64>,
    },
    /// Maker: reservation held; waiting for the taker's lock.
    MakerWaiting,
    /// Maker: own lock sent with `timelock`; waiting to see it on chain.
    MakerLocking {
        /// T2.
        timelock: u64,
        /// Local ms of the last send.
        sent_at: u64,
    },
    /// Maker: own lock on chain. Claims the taker's lock once the secret is known; refunds
    /// its own lock after T2 if it is still there.
    MakerLocked {
        /// Local ms of the last claim sent.
        claim_sent_at: Option<u64>,
        /// Local ms of the last refund sent.
        refund_sent_at: Option<u64>,
    },
    /// Over.
    Finished {
        /// How it ended.
        outcome: Outcome,
    },
}

/// How a lock was settled on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Settlement {
    /// Paid to the recipient.
    Claimed,
    /// Paid back to the sender.
    Refunded,
}

/// A chain's latest block time and the local time it was learned at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChainClock {
    time: u64,
    observed_at: u64,
}

impl ChainClock {
    /// The chain's time at local `now`: the block time plus the local time elapsed since.
    fn estimate(&self, now: u64) -> u64 {
        self.time
            .saturating_add(now.saturating_sub(self.observed_at) / 1000)
    }

    /// The clock after a report of `time` at local `now`: moved forward, or kept (block
    /// time never goes backwards for our purposes: a reorg may show an older block, and
    /// the timelock checks need the newest time seen). `Err` with the previous time when
    /// the report jumps implausibly far ahead: one absurd answer from an RPC endpoint must
    /// not end a swap.
    fn advanced(previous: Option<ChainClock>, time: u64, now: u64) -> Result<ChainClock, u64> {
        let next = ChainClock {
            time,
            observed_at: now,
        };
        match previous {
            None => Ok(next),
            Some(clock) if time > clock.time => {
                let bound = clock.estimate(now).saturating_add(MAX_CHAIN_TIME_JUMP_SECS);
                if time > bound {
                    Err(clock.time)
                } else {
                    Ok(next)
                }
            }
            Some(clock) => Ok(clock),
        }
    }
}

/// How a lock was seen: [`Event::LockSeen`]'s fields besides the lock.
#[derive(Debug, Clone, Copy)]
struct Sighting {
    confirmations: u64,
    block: u64,
    chain_time: u64,
}

/// A chain's head as last reported: its number, and its time as a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeadClock {
    number: u64,
    #[serde(flatten)]
    clock: ChainClock,
}

/// What the swap knows from the chains and the peer. Only chain observations decide.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Knowledge {
    /// Time of the last block scanned per leg's chain: [taker leg, maker leg].
    chain_time: [Option<ChainClock>; 2],
    /// Head of each leg's chain.
    #[serde(default)]
    heads: [Option<HeadClock>; 2],
    /// The lock of each leg that counts, once seen and accepted.
    locks: [Option<LockInfo>; 2],
    /// Confirmations of those locks.
    confirmations: [u64; 2],
    /// The blocks those locks were mined in, when known.
    #[serde(default)]
    lock_blocks: [Option<u64>; 2],
    /// How each leg's lock was settled, once seen.
    settled: [Option<Settlement>; 2],
    /// Settlements of ids that are not (yet) a known lock of their leg.
    pending: Vec<(Leg, B256, Settlement)>,
    /// Newest block time at which our intended lock was confirmed absent.
    own_absent_at: Option<u64>,
    /// The secret: the taker's own from the start; the maker's once learned.
    secret: Option<Secret>,
    /// The counterparty asked to abort.
    peer_aborted: bool,
    /// Taker: the secret hint was sent (once, after our claim was seen on chain).
    #[serde(default)]
    secret_hinted: bool,
    /// Per leg: its lock was in blocks a reorg replaced and has not been seen again.
    #[serde(default)]
    reorged: [bool; 2],
}

fn index(leg: Leg) -> usize {
    match leg {
        Leg::Taker => 0,
        Leg::Maker => 1,
    }
}

/// The maker's reservation of order quantity for this swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Reservation {
    /// Reserved: not offered to others, not yet taken out of the order.
    Held,
    /// Taken out of the order for good (the taker's lock is on chain and we lock too).
    Committed,
    /// Given back: the swap did not start.
    Released,
}

/// One atomic swap from one party's point of view.
///
/// The caller guarantees that a maker never runs two swaps with the same hashlock (a lock
/// is recognised by its terms and hashlock, so two such swaps could both accept one lock):
/// the node refuses a take whose hashlock it has seen before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Swap {
    params: SwapParams,
    phase: Phase,
    known: Knowledge,
    /// The maker's reservation; `None` for the taker.
    reservation: Option<Reservation>,
}

impl Swap {
    /// A taker's swap, with the secret the taker generated.
    pub fn taker(params: SwapParams, secret: Secret) -> Result<Swap, Error> {
        if params.role != Role::Taker {
            return Err(Error::WrongRole {
                expected: Role::Taker,
            });
        }
        params.validate()?;
        if secret.hashlock() != params.hashlock {
            return Err(Error::SecretMismatch);
        }
        Ok(Swap {
            params,
            phase: Phase::TakerStart,
            known: Knowledge {
                secret: Some(secret),
                ..Knowledge::default()
            },
            reservation: None,
        })
    }

    /// A maker's swap, started when the maker accepted the take and reserved the quantity.
    pub fn maker(params: SwapParams) -> Result<Swap, Error> {
        if params.role != Role::Maker {
            return Err(Error::WrongRole {
                expected: Role::Maker,
            });
        }
        params.validate()?;
        Ok(Swap {
            params,
            phase: Phase::MakerWaiting,
            known: Knowledge::default(),
            reservation: Some(Reservation::Held),
        })
    }

    /// The agreed parameters.
    pub fn params(&self) -> &SwapParams {
        &self.params
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The outcome, once finished.
    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.phase {
            Phase::Finished { outcome } => Some(outcome),
            _ => None,
        }
    }

    /// Whether the swap is over.
    pub fn is_finished(&self) -> bool {
        self.outcome().is_some()
    }

    /// The lock of `leg` as accepted from the chain, if any.
    pub fn lock(&self, leg: Leg) -> Option<&LockInfo> {
        self.known.locks[index(leg)].as_ref()
    }

    /// The maker's reservation state; `None` for the taker.
    pub fn reservation(&self) -> Option<Reservation> {
        self.reservation
    }

    /// The secret, if known. For logging use the hashlock instead.
    pub fn secret(&self) -> Option<Secret> {
        self.known.secret
    }

    /// Whether the counterparty's lock, which we acted on (the maker locked against it, or
    /// the taker claimed it), was removed by a reorg and has not been mined again. The
    /// swap goes on: our own lock is refunded at its timelock if nothing else happens, and
    /// an operator should look at it.
    pub fn counter_lock_reorged(&self) -> bool {
        let acted = match &self.phase {
            Phase::MakerLocking { .. } | Phase::MakerLocked { .. } => true,
            Phase::TakerLocked { claim_sent_at, .. } => claim_sent_at.is_some(),
            _ => false,
        };
        acted && self.known.reorged[index(self.counter_leg())]
    }

    /// The leg this node locks.
    pub fn own_leg(&self) -> Leg {
        Leg::of(self.params.role)
    }

    /// The timelock of our own lock (chain time, unix seconds): of the lock on chain once
    /// seen, else of the lock sent; `None` before we send it. From then on our asset comes
    /// back only by a refund.
    pub fn own_timelock(&self) -> Option<u64> {
        self.lock(self.own_leg())
            .map(|lock| lock.timelock)
            .or_else(|| self.own_lock_intent().map(|(_, timelock)| timelock))
    }

    /// `leg`'s chain time at local `now` (unix ms), estimated from its latest head or
    /// block seen plus the local time elapsed since; `None` before any was reported.
    pub fn chain_now(&self, leg: Leg, now: u64) -> Option<u64> {
        self.estimate(leg, now)
    }

    /// While our lock is sent but not yet seen: its leg and timelock. The shell checks the
    /// chain for it and reports [`Event::LockSeen`] or [`Event::LockAbsent`].
    pub fn own_lock_intent(&self) -> Option<(Leg, u64)> {
        match self.phase {
            Phase::TakerLocking { timelock, .. } => Some((Leg::Taker, timelock)),
            Phase::MakerLocking { timelock, .. } => Some((Leg::Maker, timelock)),
            _ => None,
        }
    }

    /// Records one observation, then applies the rules of the current phase at `now`
    /// (local unix ms). Returns what to do, in order.
    pub fn handle(&mut self, event: Event, now: u64) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.is_finished() {
            self.observe(event, now, &mut actions);
            self.advance(now, &mut actions);
        }
        actions
    }

    /// The actions implied by the current state, for a node that restarts: whatever was in
    /// flight when it stopped is done again (each action is idempotent), then the phase
    /// rules run as for any event.
    pub fn resume(&mut self, now: u64) -> Vec<Action> {
        let mut actions = Vec::new();
        match self.reservation {
            Some(Reservation::Committed) => actions.push(Action::CommitReservation),
            Some(Reservation::Released) => actions.push(Action::ReleaseReservation),
            Some(Reservation::Held) | None => {}
        }
        if !self.is_finished() {
            // Make every pending send due, so the retry rules (which know when a send is
            // still useful) decide what to send again.
            self.make_sends_due();
            self.advance(now, &mut actions);
        }
        actions
    }

    fn observe(&mut self, event: Event, now: u64, actions: &mut Vec<Action>) {
        match event {
            Event::ChainTime { leg, time } => self.observe_time(leg, time, now, actions),
            Event::ChainHead { leg, number, time } => {
                self.observe_head(leg, number, time, now, actions)
            }
            Event::LockSeen {
                leg,
                lock,
                confirmations,
                block,
                chain_time,
            } => {
                let sighting = Sighting {
                    confirmations,
                    block,
                    chain_time,
                };
                self.observe_lock(leg, lock, sighting, now, actions)
            }
            Event::Reorged { leg, from_block } => self.observe_reorg(leg, from_block, actions),
            Event::LockAbsent { leg, chain_time } => {
                if leg == Leg::of(self.params.role) {
                    let slot = &mut self.known.own_absent_at;
                    *slot = Some(slot.map_or(chain_time, |known| known.max(chain_time)));
                }
            }
            Event::ClaimSeen {
                leg,
                lock_id,
                secret,
            } => {
                // The contract only pays out for the right secret; a claim report with any
                // other secret is not a claim of this swap's lock.
                if self.learn_secret(secret, actions) {
                    self.settle(leg, lock_id, Settlement::Claimed);
                }
            }
            Event::RefundSeen { leg, lock_id } => self.settle(leg, lock_id, Settlement::Refunded),
            Event::SecretLearned { secret } => {
                self.learn_secret(secret, actions);
            }
            Event::PeerAborted => self.known.peer_aborted = true,
            Event::Tick => {}
        }
    }

    fn observe_time(&mut self, leg: Leg, time: u64, now: u64, actions: &mut Vec<Action>) {
        let slot = &mut self.known.chain_time[index(leg)];
        match ChainClock::advanced(*slot, time, now) {
            Ok(clock) => *slot = Some(clock),
            Err(previous) => actions.push(Action::Notice(Notice::ChainTimeRejected {
                leg,
                time,
                previous,
            })),
        }
    }

    fn observe_head(
        &mut self,
        leg: Leg,
        number: u64,
        time: u64,
        now: u64,
        actions: &mut Vec<Action>,
    ) {
        let slot = index(leg);
        let head = self.known.heads[slot];
        // Held to the same bound as the scanned time, and never behind it.
        let previous = head.map(|head| head.clock).or(self.known.chain_time[slot]);
        match ChainClock::advanced(previous, time, now) {
            Ok(clock) => {
                // A lower head without a reorg report (a lagging provider) does not lower
                // confirmations; a reorg lowers the head itself (`observe_reorg`).
                let number = head.map_or(number, |head| head.number.max(number));
                self.known.heads[slot] = Some(HeadClock { number, clock });
                self.count_confirmations(leg);
            }
            Err(previous) => actions.push(Action::Notice(Notice::ChainTimeRejected {
                leg,
                time,
                previous,
            })),
        }
    }

    /// A reorg from `from_block` on `leg`'s chain: the leg's lock, if mined there (or at a
    /// block we do not know), has no confirmations until the scan shows it again. The head
    /// goes back below `from_block`: the new branch may be shorter than the old one, and a
    /// lock mined again on it is counted from the new branch's heads, not the old one's.
    fn observe_reorg(&mut self, leg: Leg, from_block: u64, actions: &mut Vec<Action>) {
        let slot = index(leg);
        if let Some(head) = &mut self.known.heads[slot] {
            head.number = head.number.min(from_block.saturating_sub(1));
        }
        let Some(lock) = &self.known.locks[slot] else {
            return;
        };
        if self.known.lock_blocks[slot].is_some_and(|block| block < from_block) {
            return;
        }
        let lock_id = lock.id;
        self.known.confirmations[slot] = 0;
        self.known.lock_blocks[slot] = None;
        if !self.known.reorged[slot] {
            self.known.reorged[slot] = true;
            actions.push(Action::Notice(Notice::LockReorged { leg, lock_id }));
        }
    }

    /// Raises the confirmations of `leg`'s lock to what the head now gives it.
    fn count_confirmations(&mut self, leg: Leg) {
        let slot = index(leg);
        if let (Some(block), Some(head)) = (self.known.lock_blocks[slot], self.known.heads[slot])
            && block > 0
            && head.number >= block
        {
            let by_head = head.number - block + 1;
            let confirmations = &mut self.known.confirmations[slot];
            *confirmations = (*confirmations).max(by_head);
        }
    }

    /// Records the secret if it is the preimage of the hashlock; says whether it was.
    fn learn_secret(&mut self, secret: Secret, actions: &mut Vec<Action>) -> bool {
        if secret.hashlock() == self.params.hashlock {
            self.known.secret = Some(secret);
            true
        } else {
            actions.push(Action::Notice(Notice::WrongSecret));
            false
        }
    }

    /// Records a settlement of `lock_id` on `leg` if it is that leg's lock; otherwise keeps
    /// it until such a lock is accepted (events of one scan can arrive in any order).
    fn settle(&mut self, leg: Leg, lock_id: B256, settlement: Settlement) {
        let slot = index(leg);
        match &self.known.locks[slot] {
            Some(lock) if lock.id == lock_id => {
                self.known.settled[slot].get_or_insert(settlement);
            }
            Some(_) => {}
            None => {
                let entry = (leg, lock_id, settlement);
                if !self.known.pending.contains(&entry) {
                    if self.known.pending.len() == MAX_PENDING {
                        self.known.pending.remove(0);
                    }
                    self.known.pending.push(entry);
                }
            }
        }
    }

    fn observe_lock(
        &mut self,
        leg: Leg,
        lock: LockInfo,
        sighting: Sighting,
        now: u64,
        actions: &mut Vec<Action>,
    ) {
        let Sighting {
            confirmations,
            block,
            chain_time,
        } = sighting;
        let slot = index(leg);
        if let Some(known) = &self.known.locks[slot] {
            if known.id == lock.id {
                // Seen (again, after a reorg): it is on chain.
                self.known.reorged[slot] = false;
                self.known.confirmations[slot] = self.known.confirmations[slot].max(confirmations);
                if block > 0 {
                    self.known.lock_blocks[slot] = Some(block);
                }
                self.count_confirmations(leg);
            }
            // A lock of this leg is already accepted; another one with the same hashlock
            // (a duplicate by the counterparty) changes nothing.
            return;
        }
        if let Err(mismatch) = lock.matches(self.params.leg(leg), &self.params.hashlock) {
            actions.push(Action::Notice(Notice::LockMismatch {
                leg,
                lock_id: lock.id,
                mismatch,
            }));
            return;
        }
        let own = leg == Leg::of(self.params.role);
        // Judge the time a lock leaves by the later of the reported block time and our
        // running estimate of the chain's time: the more conservative of the two.
        let judged_at = chain_time.max(self.estimate(leg, now).unwrap_or(0));
        let acceptable = if own {
            // Our own lock: it is the one we sent if its timelock is the one we chose.
            match self.own_lock_intent() {
                Some((_, timelock)) => lock.timelock == timelock,
                None => false,
            }
        } else {
            self.counter_timelock_ok(leg, &lock, judged_at)
        };
        if !acceptable {
            actions.push(Action::Notice(Notice::LockTimelockRejected {
                leg,
                lock_id: lock.id,
                timelock: lock.timelock,
                chain_time: judged_at,
            }));
            return;
        }
        // Settlements of this id seen before the lock itself now count.
        let id = lock.id;
        let mut settled = None;
        self.known
            .pending
            .retain(|(pending_leg, pending_id, settlement)| {
                let matches = *pending_leg == leg && *pending_id == id;
                if matches && settled.is_none() {
                    settled = Some(*settlement);
                }
                !matches
            });
        self.known.locks[slot] = Some(lock);
        self.known.confirmations[slot] = confirmations;
        self.known.lock_blocks[slot] = (block > 0).then_some(block);
        self.known.settled[slot] = settled;
        self.count_confirmations(leg);
    }

    /// Whether the counterparty's lock leaves enough time, judged at `chain_time` of its chain.
    fn counter_timelock_ok(&self, leg: Leg, lock: &LockInfo, chain_time: u64) -> bool {
        let timing = &self.params.timing;
        let left = lock.timelock.saturating_sub(chain_time);
        match leg {
            // The maker judges the taker's T1: there must be room for T2 ≤ T1 − margin with
            // at least `min_claim_secs` for the taker to claim.
            Leg::Taker => left >= timing.margin_secs.saturating_add(timing.min_claim_secs),
            // The taker judges the maker's T2 (at the head's time, so however late it sees
            // the lock): enough time to claim it safely.
            Leg::Maker => left >= timing.min_claim_secs,
        }
    }

    /// The time of the last block scanned on `leg`'s chain: everything up to it is known.
    fn time(&self, leg: Leg) -> Option<u64> {
        self.known.chain_time[index(leg)].map(|clock| clock.time)
    }

    /// The chain's time now, estimated from its head (or, before a head was reported, the
    /// last block scanned, which lags the head by the scan confirmations) plus the local
    /// time elapsed since it was seen. Chains without traffic (instant mining) have old
    /// latest blocks; the next block, where our transaction lands, will carry about this time.
    fn estimate(&self, leg: Leg, now: u64) -> Option<u64> {
        let slot = index(leg);
        let scanned = self.known.chain_time[slot].map(|clock| clock.estimate(now));
        let head = self.known.heads[slot].map(|head| head.clock.estimate(now));
        scanned.max(head)
    }

    fn settled(&self, leg: Leg) -> Option<Settlement> {
        self.known.settled[index(leg)]
    }

    fn confirmed(&self, leg: Leg) -> bool {
        let required = match leg {
            Leg::Taker => self.params.timing.taker_leg_confirmations,
            Leg::Maker => self.params.timing.maker_leg_confirmations,
        };
        self.lock(leg).is_some() && self.known.confirmations[index(leg)] >= required
    }

    /// Whether `leg`'s lock is past its timelock by the latest block time: a refund is
    /// accepted and a claim is not.
    fn expired(&self, leg: Leg) -> bool {
        match (self.lock(leg), self.time(leg)) {
            (Some(lock), Some(time)) => time >= lock.timelock,
            _ => false,
        }
    }

    /// Whether a first claim of `leg`'s lock started now leaves at least `min_claim_secs`
    /// before its timelock, judged at the chain's head time (not the last block scanned,
    /// which lags it by the scan depth): a claim reveals the secret (in the mempool
    /// already), so it must be mined while the counterparty cannot yet refund, and
    /// `min_claim_secs` is the time a claim is given to be mined.
    fn safe_to_start_claim(&self, leg: Leg, now: u64) -> bool {
        match (self.lock(leg), self.estimate(leg, now)) {
            (Some(lock), Some(time)) => {
                lock.timelock.saturating_sub(time) >= self.params.timing.min_claim_secs
            }
            _ => false,
        }
    }

    /// Whether a transaction sent at `sent_at` on `leg`'s chain and still not seen is due
    /// to be sent again: after `retry_ms` plus the scan lag of that chain, since the node
    /// cannot see it sooner (a re-send of a transaction already mined only reverts).
    fn retry_due(&self, leg: Leg, sent_at: u64, now: u64) -> bool {
        let lag_ms = self.params.scan_lag_secs.of(leg).saturating_mul(1000);
        now.saturating_sub(sent_at) >= self.params.timing.retry_ms.saturating_add(lag_ms)
    }

    /// Sending our lock again only helps while the other side could still accept it.
    fn lock_still_useful(&self, own: Leg, timelock: u64, now: u64) -> bool {
        self.estimate(own, now)
            .is_none_or(|time| timelock.saturating_sub(time) > self.params.timing.min_claim_secs)
    }

    fn lock_action(&self, timelock: u64) -> Action {
        let leg = Leg::of(self.params.role);
        Action::Lock {
            leg,
            terms: self.params.leg(leg).clone(),
            hashlock: self.params.hashlock,
            timelock,
        }
    }

    fn counter_leg(&self) -> Leg {
        match self.params.role {
            Role::Taker => Leg::Maker,
            Role::Maker => Leg::Taker,
        }
    }

    fn claim_action(&self) -> Option<Action> {
        let counter = self.counter_leg();
        Some(Action::Claim {
            leg: counter,
            lock: self.lock(counter)?.clone(),
            secret: self.known.secret?,
        })
    }

    fn refund_action(&self) -> Option<Action> {
        let own = Leg::of(self.params.role);
        Some(Action::Refund {
            leg: own,
            lock: self.lock(own)?.clone(),
        })
    }

    fn set_reservation(
        &mut self,
        reservation: Reservation,
        action: Action,
        actions: &mut Vec<Action>,
    ) {
        self.reservation = Some(reservation);
        actions.push(action);
    }

    fn make_sends_due(&mut self) {
        match &mut self.phase {
            Phase::TakerLocking { sent_at, .. } | Phase::MakerLocking { sent_at, .. } => {
                *sent_at = 0
            }
            Phase::TakerLocked {
                claim_sent_at,
                refund_sent_at,
            }
            | Phase::MakerLocked {
                claim_sent_at,
                refund_sent_at,
            } => {
                for sent_at in [claim_sent_at, refund_sent_at].into_iter().flatten() {
                    *sent_at = 0;
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, outcome: Outcome, actions: &mut Vec<Action>) {
        self.phase = Phase::Finished {
            outcome: outcome.clone(),
        };
        actions.push(Action::Finished(outcome));
    }

    /// Applies the phase rules until nothing changes.
    fn advance(&mut self, now: u64, actions: &mut Vec<Action>) {
        // Phases only move forward, so this ends; the bound is a belt and braces.
        for _ in 0..8 {
            let before = self.phase.clone();
            match self.params.role {
                Role::Taker => self.step_taker(now, actions),
                Role::Maker => self.step_maker(now, actions),
            }
            if self.phase == before {
                return;
            }
        }
    }

    fn step_taker(&mut self, now: u64, actions: &mut Vec<Action>) {
        let deadline = self
            .params
            .reserved_until
            .saturating_sub(self.params.lock_margin_ms);
        match self.phase.clone() {
            Phase::TakerStart => {
                if now >= deadline {
                    actions.push(Action::Send(Hint::Abort));
                    self.finish(Outcome::NotLocked, actions);
                } else if let Some(time) = self.estimate(Leg::Taker, now) {
                    let timelock = time.saturating_add(self.params.timing.taker_lock_secs);
                    self.phase = Phase::TakerLocking {
                        timelock,
                        sent_at: now,
                        aborted: false,
                    };
                    actions.push(self.lock_action(timelock));
                }
            }
            Phase::TakerLocking {
                timelock,
                sent_at,
                aborted,
            } => {
                if let Some(lock) = self.lock(Leg::Taker) {
                    actions.push(Action::Send(Hint::Locked { lock_id: lock.id }));
                    self.phase = Phase::TakerLocked {
                        claim_sent_at: None,
                        refund_sent_at: None,
                    };
                } else if self.known.own_absent_at.is_some_and(|at| at >= timelock) {
                    // Confirmed absent after its timelock: the contract refuses it from
                    // then on, so nothing of ours is or will be locked.
                    self.finish(Outcome::NotLocked, actions);
                } else if now >= deadline {
                    // Too late to send the lock again. The one sent before the deadline may
                    // still be seen by the maker in time (we see it only a scan lag late),
                    // so the maker is told to give up only once its reservation is over
                    // and our lock has still not shown; keep watching in case it lands.
                    let lag_ms = self
                        .params
                        .scan_lag_secs
                        .of(Leg::Taker)
                        .saturating_mul(1000);
                    if !aborted && now >= self.params.reserved_until.saturating_add(lag_ms) {
                        actions.push(Action::Send(Hint::Abort));
                        self.phase = Phase::TakerLocking {
                            timelock,
                            sent_at,
                            aborted: true,
                        };
                    }
                } else if self.retry_due(Leg::Taker, sent_at, now) {
                    actions.push(self.lock_action(timelock));
                    self.phase = Phase::TakerLocking {
                        timelock,
                        sent_at: now,
                        aborted,
                    };
                }
            }
            Phase::TakerLocked {
                mut claim_sent_at,
                mut refund_sent_at,
            } => {
                let own = self.settled(Leg::Taker);
                let counter = self.settled(Leg::Maker);
                if let Some(outcome) = self.ending(claim_sent_at.is_some()) {
                    return self.finish(outcome, actions);
                }
                // Claim the maker's lock: the first time only with enough time left (the
                // claim makes the secret public), then retried while the lock is claimable.
                // Not while either lock is gone after a reorg: theirs cannot be claimed, and
                // claiming theirs while ours is not on chain would take without giving.
                if counter.is_none()
                    && self.confirmed(Leg::Maker)
                    && !self.known.reorged.contains(&true)
                {
                    // Once the maker claimed our lock the secret is public anyway: claim
                    // whatever time is left.
                    let secret_public = own == Some(Settlement::Claimed);
                    let send = match claim_sent_at {
                        None => {
                            self.safe_to_start_claim(Leg::Maker, now)
                                || (secret_public && !self.expired(Leg::Maker))
                        }
                        Some(sent) => {
                            self.retry_due(Leg::Maker, sent, now) && !self.expired(Leg::Maker)
                        }
                    };
                    if send {
                        // No hint with the claim: a claim that never mines (no gas, a fee
                        // spike, a dropped transaction) must not hand the maker the secret.
                        actions.extend(self.claim_action());
                        claim_sent_at = Some(now);
                    }
                }
                // Our claim is on chain, so the secret is public: the hint now only spares
                // the maker its wait for the chain.
                if counter == Some(Settlement::Claimed) && !self.known.secret_hinted {
                    actions.extend(
                        self.known
                            .secret
                            .map(|secret| Action::Send(Hint::Secret { secret })),
                    );
                    self.known.secret_hinted = true;
                }
                // Refund our lock after T1 if nobody claimed it.
                self.refund_if_expired(&mut refund_sent_at, now, actions);
                self.phase = Phase::TakerLocked {
                    claim_sent_at,
                    refund_sent_at,
                };
            }
            _ => {}
        }
    }

    fn step_maker(&mut self, now: u64, actions: &mut Vec<Action>) {
        match self.phase.clone() {
            Phase::MakerWaiting => {
                let ready = self.confirmed(Leg::Taker)
                    && self.settled(Leg::Taker).is_none()
                    && now < self.params.reserved_until;
                let plan = match (
                    self.lock(Leg::Taker),
                    self.estimate(Leg::Taker, now),
                    self.estimate(Leg::Maker, now),
                ) {
                    (Some(counter), Some(x_now), Some(y_now)) if ready => {
                        self.maker_timelock(counter.timelock, x_now, y_now)
                    }
                    _ => None,
                };
                if let Some(timelock) = plan {
                    self.set_reservation(
                        Reservation::Committed,
                        Action::CommitReservation,
                        actions,
                    );
                    actions.push(self.lock_action(timelock));
                    self.phase = Phase::MakerLocking {
                        timelock,
                        sent_at: now,
                    };
                } else if now >= self.params.reserved_until || self.known.peer_aborted {
                    self.set_reservation(
                        Reservation::Released,
                        Action::ReleaseReservation,
                        actions,
                    );
                    // Forget a taker lock that arrived too late: we never act on it.
                    self.known.locks[index(Leg::Taker)] = None;
                    self.finish(Outcome::NotLocked, actions);
                }
            }
            Phase::MakerLocking { timelock, sent_at } => {
                if let Some(lock) = self.lock(Leg::Maker) {
                    actions.push(Action::Send(Hint::Locked { lock_id: lock.id }));
                    self.phase = Phase::MakerLocked {
                        claim_sent_at: None,
                        refund_sent_at: None,
                    };
                } else if self.known.own_absent_at.is_some_and(|at| at >= timelock) {
                    // Our lock can no longer be mined. The reservation stays committed; the
                    // node re-offers the quantity as for any swap that did not complete.
                    self.finish(Outcome::NotLocked, actions);
                } else if self.retry_due(Leg::Maker, sent_at, now)
                    && self.lock_still_useful(Leg::Maker, timelock, now)
                {
                    actions.push(self.lock_action(timelock));
                    self.phase = Phase::MakerLocking {
                        timelock,
                        sent_at: now,
                    };
                }
            }
            Phase::MakerLocked {
                mut claim_sent_at,
                mut refund_sent_at,
            } => {
                let own = self.settled(Leg::Maker);
                let counter = self.settled(Leg::Taker);
                if let Some(outcome) = self.ending(claim_sent_at.is_some()) {
                    return self.finish(outcome, actions);
                }
                // Claim the taker's lock once the secret is known, unless we already took
                // our own lock back (then the trade did not happen for us). The contract
                // decides whether it is still claimable; retries stop at the timelock.
                if counter.is_none()
                    && self.known.secret.is_some()
                    && !self.known.reorged.contains(&true)
                {
                    let send = match claim_sent_at {
                        None => own != Some(Settlement::Refunded),
                        Some(sent) => {
                            self.retry_due(Leg::Taker, sent, now) && !self.expired(Leg::Taker)
                        }
                    };
                    if send {
                        actions.extend(self.claim_action());
                        claim_sent_at = Some(now);
                    }
                }
                // Refund our lock after T2 if the taker did not claim it.
                self.refund_if_expired(&mut refund_sent_at, now, actions);
                self.phase = Phase::MakerLocked {
                    claim_sent_at,
                    refund_sent_at,
                };
            }
            _ => {}
        }
    }

    /// Refunds our lock once past its timelock if nobody settled it, again every
    /// `retry_ms` until the chain shows a settlement: left alone, it would be locked for
    /// good (only its sender can refund it). `refund_sent_at` is the phase's record.
    fn refund_if_expired(
        &self,
        refund_sent_at: &mut Option<u64>,
        now: u64,
        actions: &mut Vec<Action>,
    ) {
        let own = Leg::of(self.params.role);
        if self.settled(own).is_none()
            && !self.known.reorged[index(own)]
            && self.expired(own)
            && refund_sent_at.is_none_or(|sent| self.retry_due(own, sent, now))
        {
            actions.extend(self.refund_action());
            *refund_sent_at = Some(now);
        }
    }

    /// How a swap with both locks on chain ends, once the chain shows it (the same rules
    /// for both roles): the counterparty's lock claimed by us and ours settled either way is
    /// a trade; ours refunded is a refund, unless a claim of ours may still land (then its
    /// lock's refund or expiry decides); ours claimed and theirs refunded is a loss.
    fn ending(&self, claim_sent: bool) -> Option<Outcome> {
        let own_leg = Leg::of(self.params.role);
        let counter_leg = self.counter_leg();
        // Our lock removed by a reorg and not mined again by its timelock can no longer be
        // (the contract refuses a past timelock): the funds never left, as if refunded.
        let own = self.settled(own_leg).or_else(|| {
            (self.known.reorged[index(own_leg)] && self.expired(own_leg))
                .then_some(Settlement::Refunded)
        });
        match (own, self.settled(counter_leg)) {
            (Some(_), Some(Settlement::Claimed)) => Some(Outcome::Completed),
            (Some(Settlement::Refunded), Some(Settlement::Refunded)) => Some(Outcome::Refunded),
            (Some(Settlement::Refunded), None) if !claim_sent || self.expired(counter_leg) => {
                // Block times come after the claims of their blocks: an expired lock with
                // no claim seen was not claimed.
                Some(Outcome::Refunded)
            }
            (Some(Settlement::Claimed), None)
                if self.known.reorged[index(counter_leg)] && self.expired(counter_leg) =>
            {
                // Our lock was claimed, theirs was removed by a reorg and is past its
                // timelock: it cannot be claimed even if it is mined again.
                Some(Outcome::Failed {
                    reason: "our lock was claimed; the counterparty's lock was removed by a \
                             reorg and not mined again before its timelock"
                        .into(),
                })
            }
            (Some(Settlement::Claimed), Some(Settlement::Refunded)) => Some(Outcome::Failed {
                reason: format!(
                    "the {} claimed our lock and refunded its own before our claim landed",
                    match self.params.role {
                        Role::Taker => "maker",
                        Role::Maker => "taker",
                    }
                ),
            }),
            _ => None,
        }
    }

    /// T2 for the maker, or `None` if the taker's T1 leaves no safe room.
    ///
    /// The two chains' clocks need not agree: T2 is bounded by the time T1 leaves measured
    /// on the taker's chain (`T1 − x_now`) and carried over as a duration onto the maker's
    /// chain, as well as by the absolute rule T2 ≤ T1 − margin. Whichever chain runs ahead,
    /// the taker's last chance to claim comes at least `margin` before T1 in real time.
    fn maker_timelock(&self, t1: u64, x_now: u64, y_now: u64) -> Option<u64> {
        let timing = &self.params.timing;
        let left_on_x = t1.checked_sub(x_now)?;
        let by_duration = y_now.checked_add(left_on_x.checked_sub(timing.margin_secs)?)?;
        let by_absolute = t1.checked_sub(timing.margin_secs)?;
        let t2 = y_now
            .saturating_add(timing.maker_lock_secs)
            .min(by_duration)
            .min(by_absolute);
        // The taker needs `min_claim_secs` to claim; T2 must also be in the future for the
        // contract to accept the lock. (The taker sees our lock some scan lag late: the
        // start-up timing checks size maker_lock for that.)
        let floor = y_now.saturating_add(timing.min_claim_secs);
        (t2 >= floor && t2 > y_now).then_some(t2)
    }
}
