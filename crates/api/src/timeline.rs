//! A swap's timeline as people follow it: its steps on chain (locks, claims, refunds) with
//! their transactions, and the clock of the timelock that would refund our own lock. Pure:
//! built from the swap and its log, as the node stored them.

use std::collections::BTreeMap;

use dex_node::{LogEntry, Swap, SwapLogRow};
use dex_swap::{Action, Event, Leg, Outcome};

use crate::types::{RefundClock, SwapStep};

/// The steps of a swap, in the order a swap takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    TakerLock,
    MakerLock,
    /// The taker claims the maker's lock (revealing the secret).
    TakerClaim,
    /// The maker claims the taker's lock with the secret.
    MakerClaim,
    TakerRefund,
    MakerRefund,
}

impl Step {
    fn lock(leg: Leg) -> Step {
        match leg {
            Leg::Taker => Step::TakerLock,
            Leg::Maker => Step::MakerLock,
        }
    }

    /// The claim of `leg`'s lock, made by the other party.
    fn claim_of(leg: Leg) -> Step {
        match leg {
            Leg::Taker => Step::MakerClaim,
            Leg::Maker => Step::TakerClaim,
        }
    }

    fn refund(leg: Leg) -> Step {
        match leg {
            Leg::Taker => Step::TakerRefund,
            Leg::Maker => Step::MakerRefund,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Step::TakerLock => "takerLock",
            Step::MakerLock => "makerLock",
            Step::TakerClaim => "takerClaim",
            Step::MakerClaim => "makerClaim",
            Step::TakerRefund => "takerRefund",
            Step::MakerRefund => "makerRefund",
        }
    }
}

/// The swap's steps so far: each one `sent` once this node sent its transaction, `mined`
/// once the node read it from the chain, with the transaction's hash and block. Only the
/// locks the swap accepted count, and the claims and refunds of those: a lock with other
/// terms, which the swap ignored, is not a step.
pub(crate) fn steps(swap: &Swap, log: &[SwapLogRow]) -> Vec<SwapStep> {
    let params = swap.params();
    let chain_of = |leg: Leg| params.leg(leg).chain_id;
    let mut steps: BTreeMap<Step, SwapStep> = BTreeMap::new();
    for row in log {
        for action in &row.actions {
            let (step, leg) = match action {
                Action::Lock { leg, .. } => (Step::lock(*leg), *leg),
                Action::Claim { leg, .. } => (Step::claim_of(*leg), *leg),
                Action::Refund { leg, .. } => (Step::refund(*leg), *leg),
                _ => continue,
            };
            // A transaction sent again keeps its first time; one already read from the
            // chain stays mined.
            steps.entry(step).or_insert_with(|| SwapStep {
                step: step.name().to_owned(),
                chain_id: chain_of(leg),
                state: "sent".to_owned(),
                tx_hash: None,
                block: None,
                at: row.at,
            });
        }
        let LogEntry::Event { event, tx } = &row.entry else {
            continue;
        };
        let (step, leg, lock_id) = match event.as_ref() {
            Event::LockSeen { leg, lock, .. } => (Step::lock(*leg), *leg, lock.id),
            Event::ClaimSeen { leg, lock_id, .. } => (Step::claim_of(*leg), *leg, *lock_id),
            Event::RefundSeen { leg, lock_id } => (Step::refund(*leg), *leg, *lock_id),
            _ => continue,
        };
        if swap.lock(leg).map(|lock| lock.id) != Some(lock_id) {
            continue;
        }
        // The latest sighting wins: a lock mined again after a reorg shows its new block.
        steps.insert(
            step,
            SwapStep {
                step: step.name().to_owned(),
                chain_id: chain_of(leg),
                state: "mined".to_owned(),
                tx_hash: tx.map(|tx| tx.tx_hash),
                block: tx.map(|tx| tx.block),
                at: row.at,
            },
        );
    }
    steps.into_values().collect()
}

/// The clock of our own lock's timelock while the swap runs: `None` before we lock and
/// once the swap is over.
pub(crate) fn refund_clock(swap: &Swap, now: u64) -> Option<RefundClock> {
    if swap.is_finished() {
        return None;
    }
    let leg = swap.own_leg();
    let timelock = swap.own_timelock()?;
    Some(RefundClock {
        chain_id: swap.params().leg(leg).chain_id,
        timelock,
        seconds_left: swap
            .chain_now(leg, now)
            .map(|time| timelock.saturating_sub(time)),
    })
}

/// `completed`, `refunded`, `notLocked` or `failed`, and the reason of a failure.
pub(crate) fn outcome(swap: &Swap) -> (Option<String>, Option<String>) {
    match swap.outcome() {
        None => (None, None),
        Some(Outcome::Completed) => (Some("completed".into()), None),
        Some(Outcome::Refunded) => (Some("refunded".into()), None),
        Some(Outcome::NotLocked) => (Some("notLocked".into()), None),
        Some(Outcome::Failed { reason }) => (Some("failed".into()), Some(reason.clone())),
    }
}

#[cfg(test)]
mod tests {
    use dex_node::TxRef;
    use dex_primitives::{Address, B256, U256};
    use dex_swap::{LockInfo, LockTerms, Role, ScanLag, Secret, SwapParams, Timing};

    use super::*;

    const CHAIN_X: u64 = 31338;
    const CHAIN_Y: u64 = 31337;
    const T0: u64 = 1_800_000_000;
    const NOW: u64 = 1_764_000_000_000;

    fn secret() -> Secret {
        Secret(B256::repeat_byte(0x5e))
    }

    fn terms(chain_id: u64, sender: u8, recipient: u8) -> LockTerms {
        LockTerms {
            chain_id,
            contract: Address::repeat_byte(0xc0),
            token: Address::ZERO,
            amount: U256::from(1000),
            sender: Address::repeat_byte(sender),
            recipient: Address::repeat_byte(recipient),
        }
    }

    fn taker() -> Swap {
        let params = SwapParams {
            swap_id: B256::repeat_byte(0x51),
            role: Role::Taker,
            hashlock: secret().hashlock(),
            taker_leg: terms(CHAIN_X, 0x7a, 0x3a),
            maker_leg: terms(CHAIN_Y, 0x3a, 0x7a),
            reserved_until: NOW + 60_000,
            lock_margin_ms: 10_000,
            timing: Timing::DEVNET,
            scan_lag_secs: ScanLag::default(),
        };
        Swap::taker(params, secret()).unwrap()
    }

    fn lock_of(swap: &Swap, leg: Leg, id: u8, timelock: u64) -> LockInfo {
        let params = swap.params();
        LockInfo::of_terms(
            B256::repeat_byte(id),
            params.leg(leg),
            params.hashlock,
            timelock,
        )
    }

    /// Feeds `event` to the swap at `at` and appends the log row the node would write.
    fn feed(swap: &mut Swap, log: &mut Vec<SwapLogRow>, event: Event, tx: Option<u8>, at: u64) {
        let actions = swap.handle(event.clone(), at);
        let chain_id = match &event {
            Event::LockSeen { lock, .. } => lock.chain_id,
            _ => CHAIN_Y,
        };
        log.push(SwapLogRow {
            seq: log.len() as u64 + 1,
            at,
            entry: LogEntry::Event {
                event: Box::new(event),
                tx: tx.map(|byte| TxRef {
                    chain_id,
                    tx_hash: B256::repeat_byte(byte),
                    block: u64::from(byte),
                }),
            },
            actions,
            phase: String::new(),
        });
    }

    fn head(leg: Leg, number: u64, time: u64) -> Event {
        Event::ChainHead { leg, number, time }
    }

    fn names(steps: &[SwapStep]) -> Vec<(&str, &str, Option<u64>)> {
        steps
            .iter()
            .map(|step| (step.step.as_str(), step.state.as_str(), step.block))
            .collect()
    }

    #[test]
    fn a_completed_swap_shows_both_locks_and_both_claims_with_their_transactions() {
        let mut swap = taker();
        let mut log = Vec::new();
        feed(&mut swap, &mut log, head(Leg::Taker, 5, T0), None, NOW);
        assert_eq!(names(&steps(&swap, &log)), [("takerLock", "sent", None)]);
        let refund = refund_clock(&swap, NOW).expect("our lock is sent");
        assert_eq!(refund.chain_id, CHAIN_X);
        assert_eq!(refund.timelock, T0 + Timing::DEVNET.taker_lock_secs);
        assert_eq!(refund.seconds_left, Some(Timing::DEVNET.taker_lock_secs));
        // Ten seconds later on the local clock, the estimate of chain time moved with it.
        assert_eq!(
            refund_clock(&swap, NOW + 10_000).unwrap().seconds_left,
            Some(Timing::DEVNET.taker_lock_secs - 10)
        );

        let own = lock_of(&swap, Leg::Taker, 0xa1, T0 + Timing::DEVNET.taker_lock_secs);
        let seen = |leg, lock: &LockInfo, block| Event::LockSeen {
            leg,
            lock: lock.clone(),
            confirmations: 1,
            block,
            chain_time: T0,
        };
        feed(
            &mut swap,
            &mut log,
            seen(Leg::Taker, &own, 7),
            Some(7),
            NOW + 100,
        );
        // A lock with our hashlock but another amount: the swap ignores it, so does the
        // timeline.
        let mut wrong = lock_of(&swap, Leg::Maker, 0xb0, T0 + 600);
        wrong.amount = U256::from(1);
        feed(
            &mut swap,
            &mut log,
            head(Leg::Maker, 2, T0),
            None,
            NOW + 150,
        );
        feed(
            &mut swap,
            &mut log,
            seen(Leg::Maker, &wrong, 2),
            Some(2),
            NOW + 200,
        );
        assert_eq!(
            names(&steps(&swap, &log)),
            [("takerLock", "mined", Some(7))]
        );
        let maker = lock_of(&swap, Leg::Maker, 0xb1, T0 + 600);
        feed(
            &mut swap,
            &mut log,
            seen(Leg::Maker, &maker, 3),
            Some(3),
            NOW + 300,
        );
        assert_eq!(
            names(&steps(&swap, &log)),
            [
                ("takerLock", "mined", Some(7)),
                ("makerLock", "mined", Some(3)),
                ("takerClaim", "sent", None),
            ]
        );
        let claimed = |leg, lock: &LockInfo| Event::ClaimSeen {
            leg,
            lock_id: lock.id,
            secret: secret(),
        };
        feed(
            &mut swap,
            &mut log,
            claimed(Leg::Maker, &maker),
            Some(4),
            NOW + 400,
        );
        feed(
            &mut swap,
            &mut log,
            claimed(Leg::Taker, &own),
            Some(9),
            NOW + 500,
        );
        let steps = steps(&swap, &log);
        assert_eq!(
            names(&steps),
            [
                ("takerLock", "mined", Some(7)),
                ("makerLock", "mined", Some(3)),
                ("takerClaim", "mined", Some(4)),
                ("makerClaim", "mined", Some(9)),
            ]
        );
        assert_eq!(steps[0].tx_hash, Some(B256::repeat_byte(7)));
        assert_eq!(steps[0].chain_id, CHAIN_X);
        assert_eq!(steps[1].chain_id, CHAIN_Y);
        assert_eq!(steps[3].at, NOW + 500);
        assert_eq!(outcome(&swap), (Some("completed".to_owned()), None));
        assert_eq!(
            refund_clock(&swap, NOW + 600),
            None,
            "over: nothing to refund"
        );
    }

    #[test]
    fn a_refunded_swap_shows_the_refund_after_the_timelock() {
        let mut swap = taker();
        let mut log = Vec::new();
        feed(&mut swap, &mut log, head(Leg::Taker, 5, T0), None, NOW);
        let timelock = T0 + Timing::DEVNET.taker_lock_secs;
        let own = lock_of(&swap, Leg::Taker, 0xa1, timelock);
        let seen = Event::LockSeen {
            leg: Leg::Taker,
            lock: own.clone(),
            confirmations: 1,
            block: 7,
            chain_time: T0,
        };
        feed(&mut swap, &mut log, seen, Some(7), NOW + 100);
        // The scan reached a block at the timelock: the lock can only be refunded now.
        feed(
            &mut swap,
            &mut log,
            head(Leg::Taker, 8, timelock),
            None,
            NOW + 200,
        );
        let scanned = Event::ChainTime {
            leg: Leg::Taker,
            time: timelock,
        };
        feed(&mut swap, &mut log, scanned, None, NOW + 200);
        assert_eq!(
            refund_clock(&swap, NOW + 200).unwrap().seconds_left,
            Some(0)
        );
        assert_eq!(
            names(&steps(&swap, &log)),
            [
                ("takerLock", "mined", Some(7)),
                ("takerRefund", "sent", None)
            ]
        );
        let refunded = Event::RefundSeen {
            leg: Leg::Taker,
            lock_id: own.id,
        };
        feed(&mut swap, &mut log, refunded, Some(8), NOW + 300);
        assert_eq!(
            names(&steps(&swap, &log)),
            [
                ("takerLock", "mined", Some(7)),
                ("takerRefund", "mined", Some(8))
            ]
        );
        assert_eq!(outcome(&swap), (Some("refunded".to_owned()), None));
    }
}
