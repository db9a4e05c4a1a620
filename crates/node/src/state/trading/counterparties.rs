//! The counterparty record: per peer and per trader address, how the swaps with them ended
//! — completed, refunded, never locked, failed — and a refusal period for one that fails
//! repeatedly (a free option taken and dropped again and again costs the other side its
//! reservations and locks, and costs the one who drops it nothing).

use std::collections::HashMap;

use dex_network::PeerId;
use dex_primitives::{Address, UnixMillis};
use dex_store::SwapRecord;
use dex_swap::{Leg, Outcome, Role, Swap};

use crate::state::NodeState;

/// Most counterparties remembered; beyond, the one whose last swap is oldest (and that is
/// not refused now) is forgotten. Each entry needs an accepted take, which needs funds.
pub(crate) const MAX_COUNTERPARTIES: usize = 10_000;

/// Whom a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counterparty {
    /// A node, by its peer id.
    Peer(PeerId),
    /// A trader, by its address.
    Trader(Address),
}

/// How the swaps with one counterparty ended, as this node saw them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterpartyRecord {
    /// Swaps that completed.
    pub completed: u32,
    /// Swaps that ended with locks refunded because the counterparty did not go on (a
    /// maker that never locked after our lock; a taker that never claimed).
    pub refunded: u32,
    /// Takes it was granted and never locked for (the maker's reservation ran out).
    pub never_locked: u32,
    /// Swaps that ended with our asset claimed and theirs not received.
    pub failed: u32,
    /// Failures since its last completed swap.
    pub failing_in_a_row: u32,
    /// Until when (local ms) its takes are refused and its orders not taken, if now.
    pub refused_until: Option<UnixMillis>,
    /// When its last swap ended (local ms).
    pub last_swap_at: UnixMillis,
}

/// How one swap ended for the counterparty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Completed,
    Refunded,
    NeverLocked,
    Failed,
    /// It ended on our side (we did not lock in time): not held against it.
    NotItsFault,
}

/// What `outcome` of a swap in role `role` says of the counterparty; `counter_locked`:
/// its lock was seen.
fn verdict(role: Role, outcome: &Outcome, counter_locked: bool) -> Verdict {
    match outcome {
        Outcome::Completed => Verdict::Completed,
        Outcome::Failed { .. } => Verdict::Failed,
        // Our lock came back: the taker never claimed (we are the maker), or the maker
        // never locked (we are the taker).
        Outcome::Refunded => Verdict::Refunded,
        // A maker whose taker never locked; a taker that did not lock is at fault itself,
        // and so is a maker that did not lock after the taker did.
        Outcome::NotLocked if role == Role::Maker && !counter_locked => Verdict::NeverLocked,
        Outcome::NotLocked => Verdict::NotItsFault,
    }
}

/// The records, and when one is refused.
#[derive(Debug)]
pub(super) struct Counterparties {
    records: HashMap<Counterparty, CounterpartyRecord>,
    /// Failures in a row that get a counterparty refused (0: never).
    refuse_after: u32,
    /// How long it is refused.
    refuse_ms: u64,
}

impl Counterparties {
    pub(super) fn new(refuse_after: u32, refuse_ms: u64) -> Counterparties {
        Counterparties {
            records: HashMap::new(),
            refuse_after,
            refuse_ms,
        }
    }

    /// Records how a swap with `who` (its node and its trader) ended at `at`.
    pub(super) fn record(&mut self, who: &[Counterparty], verdict: Verdict, at: UnixMillis) {
        if verdict == Verdict::NotItsFault {
            return;
        }
        for party in who {
            if !self.records.contains_key(party) && self.records.len() >= MAX_COUNTERPARTIES {
                self.evict(at);
            }
            let record = self.records.entry(*party).or_default();
            record.last_swap_at = record.last_swap_at.max(at);
            match verdict {
                Verdict::Completed => {
                    record.completed = record.completed.saturating_add(1);
                    record.failing_in_a_row = 0;
                    continue;
                }
                Verdict::Refunded => record.refunded = record.refunded.saturating_add(1),
                Verdict::NeverLocked => {
                    record.never_locked = record.never_locked.saturating_add(1);
                }
                Verdict::Failed => record.failed = record.failed.saturating_add(1),
                Verdict::NotItsFault => {}
            }
            record.failing_in_a_row = record.failing_in_a_row.saturating_add(1);
            if self.refuse_after > 0 && record.failing_in_a_row >= self.refuse_after {
                record.refused_until = Some(at.saturating_add(self.refuse_ms));
            }
        }
    }

    /// Forgets the counterparty whose last swap is oldest, among those not refused at `now`.
    fn evict(&mut self, now: UnixMillis) {
        let oldest = self
            .records
            .iter()
            .filter(|(_, record)| record.refused_until.is_none_or(|until| until <= now))
            .min_by_key(|(party, record)| (record.last_swap_at, **party))
            .map(|(party, _)| *party);
        if let Some(party) = oldest {
            self.records.remove(&party);
        }
    }

    /// Until when the first of `who` that is refused at `now` stays refused, and which.
    pub(super) fn refused(
        &self,
        who: &[Counterparty],
        now: UnixMillis,
    ) -> Option<(Counterparty, UnixMillis, u32)> {
        who.iter().find_map(|party| {
            let record = self.records.get(party)?;
            let until = record.refused_until.filter(|until| *until > now)?;
            Some((*party, until, record.failing_in_a_row))
        })
    }

    /// Every record at `now` (a refusal that ended is not shown), sorted by counterparty.
    pub(super) fn list(&self, now: UnixMillis) -> Vec<(Counterparty, CounterpartyRecord)> {
        let mut list: Vec<_> = self
            .records
            .iter()
            .map(|(party, record)| {
                let mut record = *record;
                record.refused_until = record.refused_until.filter(|until| *until > now);
                (*party, record)
            })
            .collect();
        list.sort_unstable_by_key(|(party, _)| *party);
        list
    }

    /// Records held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }
}

/// The counterparty of a swap: its node (if known) and its trader.
pub(super) fn counterparties_of(swap: &Swap, peer: Option<PeerId>) -> Vec<Counterparty> {
    let params = swap.params();
    let counter = match params.role {
        Role::Maker => params.taker_leg.sender,
        Role::Taker => params.maker_leg.sender,
    };
    let mut who = vec![Counterparty::Trader(counter)];
    who.extend(peer.map(Counterparty::Peer));
    who
}

impl NodeState {
    /// Records how a finished swap ended for its counterparty.
    pub(super) fn record_counterparty(
        &mut self,
        swap: &Swap,
        peer: Option<PeerId>,
        outcome: &Outcome,
        at: UnixMillis,
    ) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        let role = swap.params().role;
        let counter_leg = match role {
            Role::Maker => Leg::Taker,
            Role::Taker => Leg::Maker,
        };
        let verdict = verdict(role, outcome, swap.lock(counter_leg).is_some());
        trading
            .counterparties
            .record(&counterparties_of(swap, peer), verdict, at);
    }

    /// Rebuilds the counterparty record after a restart from the swaps that finished, each
    /// with the time of its last step.
    pub fn restore_counterparties(&mut self, finished: Vec<(SwapRecord, Swap, UnixMillis)>) {
        let mut finished = finished;
        finished.sort_by_key(|(record, _, at)| (*at, record.swap_id));
        for (record, swap, at) in finished {
            let dex_swap::Phase::Finished { outcome } = swap.phase() else {
                continue;
            };
            let peer = record.peer.parse::<PeerId>().ok();
            self.record_counterparty(&swap, peer, &outcome.clone(), at);
        }
    }

    /// The counterparty record at `now`: per peer and per trader address, sorted.
    pub fn counterparties(&self, now: UnixMillis) -> Vec<(Counterparty, CounterpartyRecord)> {
        self.trading
            .as_ref()
            .map(|trading| trading.counterparties.list(now))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;

    fn trader(n: u8) -> Counterparty {
        Counterparty::Trader(Address::repeat_byte(n))
    }

    #[test]
    fn failures_in_a_row_get_a_counterparty_refused_for_the_period_and_a_completion_resets_them() {
        let mut parties = Counterparties::new(3, HOUR);
        let peer = Counterparty::Peer(PeerId::random());
        let who = [trader(1), peer];
        parties.record(&who, Verdict::NeverLocked, 1_000);
        parties.record(&who, Verdict::Refunded, 2_000);
        assert_eq!(
            parties.refused(&who, 2_000),
            None,
            "two failures are not yet three"
        );
        parties.record(&who, Verdict::Completed, 3_000);
        parties.record(&who, Verdict::NeverLocked, 4_000);
        parties.record(&who, Verdict::NeverLocked, 5_000);
        assert_eq!(
            parties.refused(&who, 5_000),
            None,
            "the completion reset the count"
        );
        parties.record(&who, Verdict::NotItsFault, 5_500);
        parties.record(&who, Verdict::Failed, 6_000);
        assert_eq!(
            parties.refused(&who, 6_000),
            Some((trader(1), 6_000 + HOUR, 3))
        );
        // The peer alone is refused too (a fresh key from the same node).
        assert_eq!(
            parties.refused(&[trader(2), peer], 7_000),
            Some((peer, 6_000 + HOUR, 3))
        );
        assert_eq!(parties.refused(&who, 6_000 + HOUR), None, "the period ends");
        let record = parties
            .list(6_000)
            .into_iter()
            .find(|(p, _)| *p == trader(1))
            .unwrap()
            .1;
        assert_eq!(
            record,
            CounterpartyRecord {
                completed: 1,
                refunded: 1,
                never_locked: 3,
                failed: 1,
                failing_in_a_row: 3,
                refused_until: Some(6_000 + HOUR),
                last_swap_at: 6_000,
            }
        );
    }

    #[test]
    fn the_record_is_bounded_and_keeps_who_is_refused() {
        let mut parties = Counterparties::new(1, HOUR);
        parties.record(&[trader(0)], Verdict::Failed, 1);
        for n in 1..=MAX_COUNTERPARTIES as u32 + 10 {
            let party = Counterparty::Trader(Address::left_padding_from(&n.to_be_bytes()));
            parties.record(&[party], Verdict::Completed, u64::from(n) + 1);
        }
        assert_eq!(parties.len(), MAX_COUNTERPARTIES);
        assert!(
            parties.refused(&[trader(0)], 100).is_some(),
            "a refused one is kept"
        );
    }

    #[test]
    fn what_an_outcome_says_of_the_counterparty() {
        let refunded = Outcome::Refunded;
        let not_locked = Outcome::NotLocked;
        assert_eq!(
            verdict(Role::Maker, &not_locked, false),
            Verdict::NeverLocked
        );
        assert_eq!(
            verdict(Role::Maker, &not_locked, true),
            Verdict::NotItsFault
        );
        assert_eq!(
            verdict(Role::Taker, &not_locked, false),
            Verdict::NotItsFault
        );
        assert_eq!(verdict(Role::Taker, &refunded, true), Verdict::Refunded);
        assert_eq!(
            verdict(Role::Maker, &Outcome::Completed, true),
            Verdict::Completed
        );
    }
}
