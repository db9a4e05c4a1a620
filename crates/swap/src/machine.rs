//! The swap state machine: events in, actions out, no I/O.
//!
//! The machine is level-triggered: events record what the chain shows (times, locks,
//! claims, refunds) and what a peer told (a secret, which is self-verifying, or an abort);
//! after each event [`Swap::handle`] re-evaluates the rules of the current phase against
//! everything known. Replaying the same observations after a restart therefore leads to the
//! same decisions, and every action is safe to perform twice.

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::{
    Error,
    types::{Leg, LockInfo, LockTerms, Mismatch, Role, Secret, SwapParams},
};

/// At most this many claim/refund observations are remembered (only ids of this swap's
/// locks are reported, so a handful suffice; the bound keeps a hostile chain view small).
const MAX_REMEMBERED_IDS: usize = 8;

/// Something observed (on chain, from the peer, or the passing of time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum Event {
    /// The latest block time of a leg's chain (unix seconds). The shell reports a block's
    /// time only after every lock, claim and refund up to that block, so "the timelock
    /// passed and no claim was seen" is conclusive.
    ChainTime {
        /// Which leg's chain.
        leg: Leg,
        /// Latest block timestamp.
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
        /// The chain's latest block time when it was read.
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
        /// Its lock id.
        lock_id: B256,
        /// The preimage.
        secret: Secret,
    },
    /// Refund our own lock after its timelock.
    Refund {
        /// Our leg.
        leg: Leg,
        /// Our lock id.
        lock_id: B256,
    },
    /// Send a hint to the counterparty (it speeds the swap up; it decides nothing).
    Send(Hint),
    /// Maker: the taker's lock is on chain; take the reserved quantity out of the order
    /// for good (the node signs and gossips an `Update`).
    CommitReservation,
    /// Maker: the swap will not happen; offer the reserved quantity again.
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
    /// The secret (the taker sends it with its claim).
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
    /// A secret that does not hash to the hashlock.
    WrongSecret,
}

/// How a swap ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Outcome {
    /// Both claims done from our side: we received the counterparty's asset.
    Completed,
    /// Our lock was refunded to us.
    Refunded,
    /// We never locked anything (expired reservation, abort, lock never mined).
    NotLocked,
    /// Funds may be lost: a deadline passed before our claim landed. Needs an operator.
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
    /// Taker: own lock on chain; waiting for the maker's lock (or T1 to refund).
    TakerLocked,
    /// Taker: claim of the maker's lock sent; the secret is public from here.
    TakerClaiming {
        /// Local ms of the last send.
        sent_at: u64,
    },
    /// Taker: T1 passed; refund sent.
    TakerRefunding {
        /// Local ms of the last send.
        sent_at: u64,
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
    /// Maker: own lock on chain; waiting for the secret (or T2 to refund).
    MakerLocked,
    /// Maker: claim of the taker's lock sent.
    MakerClaiming {
        /// Local ms of the last send.
        sent_at: u64,
    },
    /// Maker: T2 passed without the secret; refund sent.
    MakerRefunding {
        /// Local ms of the last send.
        sent_at: u64,
    },
    /// Over.
    Finished {
        /// How it ended.
        outcome: Outcome,
    },
}

/// What the swap knows from the chains and the peer. Only chain observations decide.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Knowledge {
    /// Latest block time per leg's chain: [taker leg, maker leg].
    chain_time: [Option<u64>; 2],
    /// The lock of each leg that counts, once seen and accepted.
    locks: [Option<LockInfo>; 2],
    /// Confirmations of those locks.
    confirmations: [u64; 2],
    /// Lock ids seen claimed on chain.
    claimed: Vec<B256>,
    /// Lock ids seen refunded on chain.
    refunded: Vec<B256>,
    /// The secret: the taker's own from the start; the maker's once learned.
    secret: Option<Secret>,
    /// The counterparty asked to abort.
    peer_aborted: bool,
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

    /// Records one observation, then applies the rules of the current phase at `now`
    /// (local unix ms). Returns what to do, in order.
    pub fn handle(&mut self, event: Event, now: u64) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.is_finished() {
            self.observe(event, &mut actions);
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
            self.set_sent_at(0);
            self.advance(now, &mut actions);
        }
        actions
    }

    fn observe(&mut self, event: Event, actions: &mut Vec<Action>) {
        match event {
            Event::ChainTime { leg, time } => self.observe_time(leg, time),
            Event::LockSeen {
                leg,
                lock,
                confirmations,
                chain_time,
            } => {
                self.observe_time(leg, chain_time);
                self.observe_lock(leg, lock, confirmations, chain_time, actions);
            }
            Event::ClaimSeen {
                leg: _,
                lock_id,
                secret,
            } => {
                remember(&mut self.known.claimed, lock_id);
                self.learn_secret(secret, actions);
            }
            Event::RefundSeen { leg: _, lock_id } => remember(&mut self.known.refunded, lock_id),
            Event::SecretLearned { secret } => self.learn_secret(secret, actions),
            Event::PeerAborted => self.known.peer_aborted = true,
            Event::Tick => {}
        }
    }

    fn observe_time(&mut self, leg: Leg, time: u64) {
        let slot = &mut self.known.chain_time[index(leg)];
        // Block time never goes backwards for our purposes (a reorg may show an older
        // block; acting on the newest time seen is what the timelock checks need).
        *slot = Some(slot.map_or(time, |known| known.max(time)));
    }

    fn learn_secret(&mut self, secret: Secret, actions: &mut Vec<Action>) {
        if secret.hashlock() == self.params.hashlock {
            self.known.secret = Some(secret);
        } else {
            actions.push(Action::Notice(Notice::WrongSecret));
        }
    }

    fn observe_lock(
        &mut self,
        leg: Leg,
        lock: LockInfo,
        confirmations: u64,
        chain_time: u64,
        actions: &mut Vec<Action>,
    ) {
        let slot = index(leg);
        if let Some(known) = &self.known.locks[slot] {
            if known.id == lock.id {
                self.known.confirmations[slot] = self.known.confirmations[slot].max(confirmations);
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
        let acceptable = if own {
            // Our own lock: it is the one we sent if its timelock is the one we chose.
            match self.phase {
                Phase::TakerLocking { timelock, .. } | Phase::MakerLocking { timelock, .. } => {
                    lock.timelock == timelock
                }
                _ => false,
            }
        } else {
            self.counter_timelock_ok(leg, &lock, chain_time)
        };
        if !acceptable {
            actions.push(Action::Notice(Notice::LockTimelockRejected {
                leg,
                lock_id: lock.id,
                timelock: lock.timelock,
                chain_time,
            }));
            return;
        }
        self.known.locks[slot] = Some(lock);
        self.known.confirmations[slot] = confirmations;
    }

    /// Whether the counterparty's lock leaves enough time, judged at `chain_time` of its chain.
    fn counter_timelock_ok(&self, leg: Leg, lock: &LockInfo, chain_time: u64) -> bool {
        let timing = &self.params.timing;
        match leg {
            // The maker judges the taker's T1: there must be room for T2 ≤ T1 − margin with
            // at least `min_claim_secs` for the taker to claim.
            Leg::Taker => {
                lock.timelock.saturating_sub(chain_time)
                    >= timing.margin_secs + timing.min_claim_secs
            }
            // The taker judges the maker's T2: enough time to claim it safely.
            Leg::Maker => lock.timelock.saturating_sub(chain_time) >= timing.min_claim_secs,
        }
    }

    fn time(&self, leg: Leg) -> Option<u64> {
        self.known.chain_time[index(leg)]
    }

    fn is_claimed(&self, leg: Leg) -> bool {
        self.lock(leg)
            .is_some_and(|lock| self.known.claimed.contains(&lock.id))
    }

    fn is_refunded(&self, leg: Leg) -> bool {
        self.lock(leg)
            .is_some_and(|lock| self.known.refunded.contains(&lock.id))
    }

    fn confirmed(&self, leg: Leg) -> bool {
        let required = match leg {
            Leg::Taker => self.params.timing.taker_leg_confirmations,
            Leg::Maker => self.params.timing.maker_leg_confirmations,
        };
        self.lock(leg).is_some() && self.known.confirmations[index(leg)] >= required
    }

    /// Whether `leg`'s lock is past its timelock in its chain's time.
    fn expired(&self, leg: Leg) -> bool {
        match (self.lock(leg), self.time(leg)) {
            (Some(lock), Some(time)) => time >= lock.timelock,
            _ => false,
        }
    }

    /// Whether a claim of `leg`'s lock started now could still land before its timelock.
    fn claimable(&self, leg: Leg) -> bool {
        match (self.lock(leg), self.time(leg)) {
            (Some(lock), Some(time)) => {
                lock.timelock.saturating_sub(time) >= self.params.timing.min_claim_secs
                    && !self.is_claimed(leg)
                    && !self.is_refunded(leg)
            }
            _ => false,
        }
    }

    fn retry_due(&self, sent_at: u64, now: u64) -> bool {
        now.saturating_sub(sent_at) >= self.params.timing.retry_ms
    }

    /// Sending our lock again only helps while it could still be accepted by the other side.
    fn lock_still_useful(&self, own: Leg, timelock: u64) -> bool {
        self.time(own)
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

    fn claim_action(&self) -> Option<Action> {
        let counter = match self.params.role {
            Role::Taker => Leg::Maker,
            Role::Maker => Leg::Taker,
        };
        Some(Action::Claim {
            leg: counter,
            lock_id: self.lock(counter)?.id,
            secret: self.known.secret?,
        })
    }

    fn refund_action(&self) -> Option<Action> {
        let own = Leg::of(self.params.role);
        Some(Action::Refund {
            leg: own,
            lock_id: self.lock(own)?.id,
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

    fn set_sent_at(&mut self, now: u64) {
        match &mut self.phase {
            Phase::TakerLocking { sent_at, .. }
            | Phase::TakerClaiming { sent_at }
            | Phase::TakerRefunding { sent_at }
            | Phase::MakerLocking { sent_at, .. }
            | Phase::MakerClaiming { sent_at }
            | Phase::MakerRefunding { sent_at } => *sent_at = now,
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
        // Each step either changes the phase or stops; phases only move forward, except
        // the documented fall-backs (claim too late → wait for refund), so this ends.
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
                } else if let Some(time) = self.time(Leg::Taker) {
                    let timelock = time + self.params.timing.taker_lock_secs;
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
                    self.phase = Phase::TakerLocked;
                } else if self.time(Leg::Taker).is_some_and(|time| time >= timelock) {
                    // The contract refuses locks whose timelock is past: ours can no longer
                    // appear, so nothing of ours is or will be locked.
                    self.finish(Outcome::NotLocked, actions);
                } else if now >= deadline {
                    // Too late for the maker's reservation: stop sending, tell the maker,
                    // and keep watching until T1 in case the lock sent earlier lands.
                    if !aborted {
                        actions.push(Action::Send(Hint::Abort));
                        self.phase = Phase::TakerLocking {
                            timelock,
                            sent_at,
                            aborted: true,
                        };
                    }
                } else if self.retry_due(sent_at, now) {
                    actions.push(self.lock_action(timelock));
                    self.set_sent_at(now);
                }
            }
            Phase::TakerLocked => {
                if self.confirmed(Leg::Maker) && self.claimable(Leg::Maker) {
                    actions.extend(self.claim_action());
                    if let Some(secret) = self.known.secret {
                        actions.push(Action::Send(Hint::Secret { secret }));
                    }
                    self.phase = Phase::TakerClaiming { sent_at: now };
                } else if self.expired(Leg::Taker) {
                    if self.is_claimed(Leg::Taker) {
                        self.finish(
                            Outcome::Failed {
                                reason: "the maker claimed our lock while we could not claim \
                                         its lock"
                                    .into(),
                            },
                            actions,
                        );
                    } else {
                        actions.extend(self.refund_action());
                        self.phase = Phase::TakerRefunding { sent_at: now };
                    }
                }
            }
            Phase::TakerClaiming { sent_at } => {
                if self.is_claimed(Leg::Maker) {
                    self.finish(Outcome::Completed, actions);
                } else if self.is_refunded(Leg::Maker) || self.expired(Leg::Maker) {
                    // Our claim did not land in time: wait for T1 and refund our lock.
                    self.phase = Phase::TakerLocked;
                } else if self.retry_due(sent_at, now) {
                    actions.extend(self.claim_action());
                    self.set_sent_at(now);
                }
            }
            Phase::TakerRefunding { sent_at } => {
                if self.is_refunded(Leg::Taker) {
                    self.finish(Outcome::Refunded, actions);
                } else if self.is_claimed(Leg::Taker) {
                    // The maker claimed our lock, so the secret got out (an earlier claim of
                    // ours that failed): take the maker's lock if there is still time.
                    if self.confirmed(Leg::Maker) && self.claimable(Leg::Maker) {
                        actions.extend(self.claim_action());
                        self.phase = Phase::TakerClaiming { sent_at: now };
                    } else {
                        self.finish(
                            Outcome::Failed {
                                reason: "the maker claimed our lock after the maker's lock \
                                         could no longer be claimed"
                                    .into(),
                            },
                            actions,
                        );
                    }
                } else if self.retry_due(sent_at, now) {
                    actions.extend(self.refund_action());
                    self.set_sent_at(now);
                }
            }
            _ => {}
        }
    }

    fn step_maker(&mut self, now: u64, actions: &mut Vec<Action>) {
        let timing = self.params.timing;
        match self.phase.clone() {
            Phase::MakerWaiting => {
                let ready = self.confirmed(Leg::Taker)
                    && !self.is_refunded(Leg::Taker)
                    && now < self.params.reserved_until;
                let plan = match (
                    self.lock(Leg::Taker),
                    self.time(Leg::Taker),
                    self.time(Leg::Maker),
                ) {
                    (Some(counter), Some(time_x), Some(time_y)) if ready => {
                        let t2 = (time_y + timing.maker_lock_secs)
                            .min(counter.timelock.saturating_sub(timing.margin_secs));
                        // Both the taker's room to claim and ours to claim after T2 must hold
                        // now, in each chain's own time.
                        let room = t2.saturating_sub(time_y) >= timing.min_claim_secs
                            && counter.timelock.saturating_sub(time_x)
                                >= timing.margin_secs + timing.min_claim_secs;
                        room.then_some(t2)
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
                    self.phase = Phase::MakerLocked;
                } else if self.time(Leg::Maker).is_some_and(|time| time >= timelock) {
                    // Our lock can no longer be mined. The reservation stays committed; the
                    // node re-offers the quantity as for any swap that did not complete.
                    self.finish(Outcome::NotLocked, actions);
                } else if self.retry_due(sent_at, now)
                    && self.lock_still_useful(Leg::Maker, timelock)
                {
                    actions.push(self.lock_action(timelock));
                    self.set_sent_at(now);
                }
            }
            Phase::MakerLocked => {
                let taker_lock_open = !self.expired(Leg::Taker) && !self.is_refunded(Leg::Taker);
                if self.known.secret.is_some() && taker_lock_open {
                    actions.extend(self.claim_action());
                    self.phase = Phase::MakerClaiming { sent_at: now };
                } else if self.is_claimed(Leg::Maker) {
                    self.finish(
                        Outcome::Failed {
                            reason: "the taker claimed our lock, but its own lock could no \
                                     longer be claimed"
                                .into(),
                        },
                        actions,
                    );
                } else if self.expired(Leg::Maker) {
                    actions.extend(self.refund_action());
                    self.phase = Phase::MakerRefunding { sent_at: now };
                }
            }
            Phase::MakerClaiming { sent_at } => {
                if self.is_claimed(Leg::Taker) {
                    self.finish(Outcome::Completed, actions);
                } else if self.is_refunded(Leg::Taker) {
                    self.finish(
                        Outcome::Failed {
                            reason: "the taker refunded its lock before our claim landed".into(),
                        },
                        actions,
                    );
                } else if self.expired(Leg::Taker) {
                    // Every claim and refund up to the block of this time was reported before
                    // it (see `Event::ChainTime`), so our claim did not land before T1.
                    self.finish(
                        Outcome::Failed {
                            reason: "the taker's timelock passed before our claim landed".into(),
                        },
                        actions,
                    );
                } else if self.retry_due(sent_at, now) {
                    actions.extend(self.claim_action());
                    self.set_sent_at(now);
                }
            }
            Phase::MakerRefunding { sent_at } => {
                if self.is_claimed(Leg::Maker) {
                    // The taker claimed just before T2: its claim revealed the secret.
                    if self.known.secret.is_some() {
                        self.phase = Phase::MakerLocked;
                    }
                } else if self.is_refunded(Leg::Maker) {
                    self.finish(Outcome::Refunded, actions);
                } else if self.retry_due(sent_at, now) {
                    actions.extend(self.refund_action());
                    self.set_sent_at(now);
                }
            }
            _ => {}
        }
    }
}

fn remember(ids: &mut Vec<B256>, id: B256) {
    if !ids.contains(&id) {
        if ids.len() == MAX_REMEMBERED_IDS {
            ids.remove(0);
        }
        ids.push(id);
    }
}
