//! Hostile or unlucky observations: skewed chain clocks, claims reported on the wrong leg,
//! wrong secrets, absurd chain times, events out of order, locks that land late.

use alloy_primitives::B256;
use dex_swap::{Action, Event, Leg, Notice, Outcome, Phase, Role, Secret};

use crate::sim::*;

fn lock_action_timelock(actions: &[Action]) -> Option<u64> {
    actions.iter().find_map(|action| match action {
        Action::Lock { timelock, .. } => Some(*timelock),
        _ => None,
    })
}

#[test]
fn a_short_t1_on_a_chain_that_runs_ahead_gets_a_t2_that_ends_margin_earlier_in_real_time() {
    let mut world = World::new();
    // Chain X runs 500 s ahead of chain Y; the taker locks with T1 only 400 s away.
    world.chains[0].time += 500;
    let x_now = world.chain(Leg::Taker).time;
    let y_now = world.chain(Leg::Maker).time;
    let t1 = x_now + 400;
    let terms = params(Role::Taker).taker_leg;
    assert!(world.chains[0].lock(&terms, secret().hashlock(), t1));
    world.wait(1);
    world.round(Role::Maker);
    let t2 = world
        .actions_of(Role::Maker)
        .into_iter()
        .find_map(|action| lock_action_timelock(std::slice::from_ref(action)))
        .expect("the maker locks: T1 leaves room");
    // In real time the taker's last chance to claim (T2) comes at least `margin` before the
    // taker can refund (T1), whatever the chains' clocks say.
    let t2_in = t2 - (y_now + 1);
    let t1_in = t1 - (x_now + 1);
    assert!(
        t2_in + timing().margin_secs <= t1_in,
        "T2 in {t2_in}s, T1 in {t1_in}s"
    );
}

#[test]
fn a_malicious_taker_with_a_skewed_chain_cannot_take_both_legs() {
    // The same skew, played out: the taker refunds at T1 and then tries to claim the
    // maker's lock. The maker's lock expired first, so the claim fails.
    let mut world = World::new();
    world.chains[0].time += 500;
    let x_now = world.chain(Leg::Taker).time;
    let terms = params(Role::Taker).taker_leg;
    let t1 = x_now + 400;
    assert!(world.chains[0].lock(&terms, secret().hashlock(), t1));
    world.behaviour[0].offline = true; // the taker acts by hand below
    world.run(5);
    let maker_lock = world.maker.lock(Leg::Maker).expect("maker locked").clone();
    // Wait until the taker can refund, then do both.
    world.wait(400);
    let taker_lock_id = lock_id(&terms, secret().hashlock(), t1);
    assert!(world.chains[0].refund(taker_lock_id));
    assert!(
        !world.chains[1].claim(maker_lock.id, secret()),
        "the maker's lock expired before T1"
    );
    world.run(1000);
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Refunded));
    assert_eq!(world.deltas(Leg::Maker), [0, 0]);
}

/// A maker that locked and learned the secret, with its claim of the taker leg sent.
fn maker_claiming() -> World {
    let mut world = World::new();
    world.behaviour[0].mute = true;
    for _ in 0..20 {
        world.round(Role::Taker);
        world.round(Role::Maker);
        world.wait(1);
        if matches!(
            world.maker.phase(),
            Phase::MakerLocked {
                claim_sent_at: Some(_),
                ..
            }
        ) {
            break;
        }
    }
    world
}

#[test]
fn a_claim_reported_on_the_wrong_leg_changes_nothing() {
    let mut world = World::new();
    world.behaviour[1].never_claims = true;
    let mut world = {
        world.behaviour[0].mute = true;
        for _ in 0..20 {
            world.round(Role::Taker);
            world.round(Role::Maker);
            world.wait(1);
        }
        world
    };
    assert!(matches!(
        world.maker.phase(),
        Phase::MakerLocked {
            claim_sent_at: Some(_),
            ..
        }
    ));
    let taker_lock = world.maker.lock(Leg::Taker).unwrap().id;
    let now = world.now;
    // The id of the taker's lock, reported as claimed/refunded on the maker's chain (where a
    // copy with the same id could exist).
    world.maker.handle(
        Event::ClaimSeen {
            leg: Leg::Maker,
            lock_id: taker_lock,
            secret: secret(),
        },
        now,
    );
    world.maker.handle(
        Event::RefundSeen {
            leg: Leg::Maker,
            lock_id: taker_lock,
        },
        now,
    );
    assert!(!world.maker.is_finished(), "{:?}", world.maker.phase());
    // Claims keep being retried until the real claim is seen.
    world.behaviour[1].never_claims = false;
    world.run(100);
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Completed));
}

#[test]
fn a_claim_report_with_a_wrong_secret_is_not_a_claim() {
    let mut world = maker_claiming();
    let own = world.maker.lock(Leg::Maker).unwrap().id;
    let now = world.now;
    let actions = world.maker.handle(
        Event::ClaimSeen {
            leg: Leg::Maker,
            lock_id: own,
            secret: Secret(B256::repeat_byte(9)),
        },
        now,
    );
    assert_eq!(actions, vec![Action::Notice(Notice::WrongSecret)]);
    assert!(!world.maker.is_finished());
}

#[test]
fn a_lock_report_carrying_a_later_time_does_not_overtake_the_claims_of_the_same_scan() {
    // The maker's claim lands at T1 − 1; the next scan reports the taker's lock (with the
    // chain's latest time, T1) before the claim. The maker must not conclude its claim failed.
    let mut world = maker_claiming();
    let taker_lock = world.maker.lock(Leg::Taker).unwrap().clone();
    let now = world.now;
    world.maker.handle(
        Event::LockSeen {
            leg: Leg::Taker,
            lock: taker_lock.clone(),
            confirmations: 9,
            block: 0,
            chain_time: taker_lock.timelock,
        },
        now,
    );
    assert!(!world.maker.is_finished());
    world.maker.handle(
        Event::ClaimSeen {
            leg: Leg::Taker,
            lock_id: taker_lock.id,
            secret: secret(),
        },
        now,
    );
    world.run(50);
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Completed));
}

#[test]
fn an_absurd_chain_time_is_refused_and_overflows_nothing() {
    let mut world = World::new();
    world.round(Role::Taker);
    let actions = world.taker.handle(
        Event::ChainTime {
            leg: Leg::Taker,
            time: u64::MAX,
        },
        world.now,
    );
    assert!(matches!(
        actions[..],
        [Action::Notice(Notice::ChainTimeRejected {
            leg: Leg::Taker,
            time: u64::MAX,
            ..
        })]
    ));
    // A fresh swap whose first chain time is absurd saturates instead of overflowing.
    let mut fresh = World::new();
    let actions = fresh.taker.handle(
        Event::ChainTime {
            leg: Leg::Taker,
            time: u64::MAX,
        },
        fresh.now,
    );
    assert_eq!(lock_action_timelock(&actions), Some(u64::MAX));
    // The swap still completes on honest observations.
    world.run(100);
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Completed));
}

#[test]
fn a_lock_is_given_up_only_when_confirmed_absent_after_its_timelock() {
    let mut world = World::new();
    world.behaviour[0].never_locks = true;
    world.behaviour[1].offline = true;
    world.round(Role::Taker);
    let Phase::TakerLocking { timelock, .. } = *world.taker.phase() else {
        panic!()
    };
    let now = world.now;
    // The chain's time passing T1 alone concludes nothing.
    world.taker.handle(
        Event::ChainTime {
            leg: Leg::Taker,
            time: timelock + 10,
        },
        now,
    );
    assert!(matches!(world.taker.phase(), Phase::TakerLocking { .. }));
    // Absent before T1: the lock could still land.
    world.taker.handle(
        Event::LockAbsent {
            leg: Leg::Taker,
            chain_time: timelock - 1,
        },
        now,
    );
    assert!(matches!(world.taker.phase(), Phase::TakerLocking { .. }));
    // A lock that landed late is still handled: seen, then refunded after T1.
    let mut late = World::new();
    late.behaviour[1].offline = true;
    late.run(2000);
    assert_eq!(late.outcome(Role::Taker), Some(Outcome::Refunded));
    // Absent at T1: final.
    let actions = world.taker.handle(
        Event::LockAbsent {
            leg: Leg::Taker,
            chain_time: timelock,
        },
        now,
    );
    assert_eq!(actions, vec![Action::Finished(Outcome::NotLocked)]);
}

#[test]
fn settlements_seen_before_their_lock_count_once_the_lock_is_seen() {
    // One scan reports a refund of the taker's lock before the lock itself: the maker must
    // treat the lock as refunded, and never lock against it.
    let mut world = World::new();
    let terms = params(Role::Maker).taker_leg;
    let timelock = world.chain(Leg::Taker).time + 1200;
    let id = lock_id(&terms, secret().hashlock(), timelock);
    let now = world.now;
    let maker = &mut world.maker;
    maker.handle(
        Event::RefundSeen {
            leg: Leg::Taker,
            lock_id: id,
        },
        now,
    );
    maker.handle(
        Event::ChainTime {
            leg: Leg::Maker,
            time: CHAIN_START,
        },
        now,
    );
    maker.handle(
        Event::ChainTime {
            leg: Leg::Taker,
            time: CHAIN_START,
        },
        now,
    );
    let lock = dex_swap::LockInfo::of_terms(id, &terms, secret().hashlock(), timelock);
    let actions = maker.handle(
        Event::LockSeen {
            leg: Leg::Taker,
            lock,
            confirmations: 5,
            block: 0,
            chain_time: CHAIN_START,
        },
        now,
    );
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(maker.phase(), &Phase::MakerWaiting);
    let actions = maker.handle(Event::Tick, params(Role::Maker).reserved_until);
    assert_eq!(
        actions,
        vec![
            Action::ReleaseReservation,
            Action::Finished(Outcome::NotLocked)
        ]
    );
}
