//! Every path of the swap, on simulated chains.

use alloy_primitives::{Address, B256, U256};
use dex_swap::{
    Action, Error, Event, Hint, Leg, LockInfo, Mismatch, Notice, Outcome, Phase, Reservation, Role,
    Secret, Swap, Timing,
};

use crate::sim::*;

const TAKER_PAYS: i128 = TAKER_AMOUNT as i128;
const MAKER_SELLS: i128 = MAKER_AMOUNT as i128;

/// Runs rounds until the maker's lock is on chain and the maker has seen it, before the
/// taker has had a round to see it.
fn until_maker_locked(world: &mut World) {
    for _ in 0..20 {
        world.round(Role::Taker);
        world.round(Role::Maker);
        world.wait(1);
        if !world.chain(Leg::Maker).locks.is_empty() {
            break;
        }
    }
    world.round(Role::Maker);
    assert_eq!(
        world.maker.phase(),
        &Phase::MakerLocked {
            claim_sent_at: None,
            refund_sent_at: None
        }
    );
}

fn assert_swapped(world: &World) {
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Completed));
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Completed));
    assert_eq!(world.deltas(Leg::Taker), [-TAKER_PAYS, TAKER_PAYS]);
    assert_eq!(world.deltas(Leg::Maker), [MAKER_SELLS, -MAKER_SELLS]);
}

fn assert_nothing_moved(world: &World) {
    assert_eq!(world.deltas(Leg::Taker), [0, 0]);
    assert_eq!(world.deltas(Leg::Maker), [0, 0]);
}

#[test]
fn happy_path_both_roles() {
    let mut world = World::new();
    world.run(120);
    assert_swapped(&world);
    assert_eq!(world.maker.reservation(), Some(Reservation::Committed));
    // T2 is within the maker's rule, T1 − T2 ≥ margin, in chain time.
    let t1 = world.taker.lock(Leg::Taker).unwrap().timelock;
    let t2 = world.maker.lock(Leg::Maker).unwrap().timelock;
    assert!(t1 - t2 >= timing().margin_secs, "T1 {t1} T2 {t2}");
    assert_eq!(t1 - CHAIN_START, timing().taker_lock_secs);
    // Nobody sent a transaction that reverted.
    assert_eq!(world.chains[0].reverts + world.chains[1].reverts, 0);
    // The maker learned the secret from the taker's mined claim before any hint was due:
    // the hint only follows a claim seen on chain, and here the maker claimed first.
    assert!(
        !world
            .actions_of(Role::Taker)
            .iter()
            .any(|a| matches!(a, Action::Send(Hint::Secret { .. })))
    );
}

#[test]
fn maker_waits_for_confirmations_before_locking() {
    let mut world = World::new();
    // One round: the taker locks (1 confirmation). The maker needs 2.
    world.round(Role::Taker);
    world.round(Role::Maker);
    assert!(world.chain(Leg::Taker).locks.len() == 1);
    assert_eq!(world.maker.phase(), &Phase::MakerWaiting);
    assert!(world.chain(Leg::Maker).locks.is_empty());
    world.wait(1);
    world.round(Role::Maker);
    assert!(matches!(
        world.maker.phase(),
        Phase::MakerLocked { .. } | Phase::MakerLocking { .. }
    ));
}

#[test]
fn maker_never_locks_taker_refunds_after_t1() {
    let mut world = World::new();
    world.behaviour[1].never_locks = true;
    world.run(2000);
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Refunded));
    // The maker committed and tried to lock; its lock never appeared before T2.
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::NotLocked));
    assert_nothing_moved(&world);
    // The refund came at T1 exactly, not before (no reverted refund).
    assert_eq!(world.chains[0].reverts, 0);
}

#[test]
fn taker_never_locks_maker_releases_the_reservation() {
    let mut world = World::new();
    world.behaviour[0].never_locks = true;
    world.run(200);
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::NotLocked));
    assert_eq!(world.maker.reservation(), Some(Reservation::Released));
    assert!(
        world
            .actions_of(Role::Maker)
            .contains(&&Action::ReleaseReservation)
    );
    assert!(
        !world
            .actions_of(Role::Maker)
            .iter()
            .any(|a| matches!(a, Action::Lock { .. }))
    );
    // The taker sent its lock (which the chain never saw) and finishes when T1 passes.
    world.run(2000);
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::NotLocked));
    assert_nothing_moved(&world);
}

#[test]
fn taker_never_claims_maker_refunds_after_t2_and_taker_after_t1() {
    let mut world = World::new();
    world.behaviour[0].never_claims = true;
    world.behaviour[0].mute = true;
    world.run(2000);
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Refunded));
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Refunded));
    assert_nothing_moved(&world);
}

#[test]
fn maker_misses_the_secret_message_and_learns_it_from_the_chain() {
    let mut world = World::new();
    world.behaviour[0].mute = true;
    world.run(120);
    assert_swapped(&world);
    assert!(world.inbox[1].is_empty());
}

#[test]
fn maker_learns_the_secret_from_the_message_first() {
    let mut world = World::new();
    // Drive until the maker locked, let the taker claim, then let the maker see only the
    // hint (its view of the maker chain is stale): it claims with the hinted secret.
    until_maker_locked(&mut world);
    // One round claims, the next sees the claim mined and hints the secret.
    world.round(Role::Taker);
    world.round(Role::Taker);
    assert!(matches!(
        world.taker.phase(),
        Phase::TakerLocked {
            claim_sent_at: Some(_),
            ..
        }
    ));
    assert!(
        world.inbox[1]
            .iter()
            .any(|h| matches!(h, Hint::Secret { .. }))
    );
    world.feed(Role::Maker, Event::SecretLearned { secret: secret() });
    assert!(matches!(
        world.maker.phase(),
        Phase::MakerLocked {
            claim_sent_at: Some(_),
            ..
        }
    ));
    world.run(60);
    assert_swapped(&world);
}

#[test]
fn taker_offline_until_t2_passed_refunds_both() {
    let mut world = World::new();
    // Run until the maker has locked, then take the taker offline past T2.
    until_maker_locked(&mut world);
    assert!(matches!(world.maker.phase(), Phase::MakerLocked { .. }));
    world.behaviour[0].offline = true;
    world.run(700);
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Refunded));
    // Back online after T2: it must not claim (the maker lock is refunded), only refund.
    world.behaviour[0].offline = false;
    world.run(2000);
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Refunded));
    assert_nothing_moved(&world);
}

#[test]
fn taker_back_online_with_too_little_time_does_not_claim() {
    let mut world = World::new();
    until_maker_locked(&mut world);
    let t2 = world.maker.lock(Leg::Maker).unwrap().timelock;
    world.behaviour[0].offline = true;
    // Until T2 − min_claim + 1: less than min_claim left.
    let wait = t2 - world.chain(Leg::Maker).time - timing().min_claim_secs + 1;
    world.wait(wait);
    world.behaviour[0].offline = false;
    world.round(Role::Taker);
    assert_eq!(
        world.taker.phase(),
        &Phase::TakerLocked {
            claim_sent_at: None,
            refund_sent_at: None
        },
        "claiming this late risks the secret"
    );
    world.run(3000);
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Refunded));
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Refunded));
    assert_nothing_moved(&world);
}

#[test]
fn maker_offline_after_taker_claims_still_claims_before_t1() {
    let mut world = World::new();
    world.behaviour[0].mute = true;
    until_maker_locked(&mut world);
    world.behaviour[1].offline = true;
    world.run(30);
    // The taker has the maker's asset; it stays open until its own lock is settled.
    assert_eq!(world.deltas(Leg::Maker), [MAKER_SELLS, -MAKER_SELLS]);
    assert_eq!(world.outcome(Role::Taker), None);
    // The maker comes back after T2 (its refund would fail: the lock is claimed) but
    // before T1: it learns the secret from the chain and claims.
    let t2 = world.maker.lock(Leg::Maker).unwrap().timelock;
    let to_t2 = t2 - world.chain(Leg::Maker).time;
    world.wait(to_t2 + 5);
    world.behaviour[1].offline = false;
    world.run(100);
    assert_swapped(&world);
}

#[test]
fn maker_refunding_switches_to_claim_when_the_taker_claimed_at_the_last_moment() {
    let mut world = World::new();
    until_maker_locked(&mut world);
    // The maker believes T2 passed (its chain view moved on) before it saw the claim.
    let own = world.maker.lock(Leg::Maker).unwrap().clone();
    let actions = world.maker.handle(
        Event::ChainTime {
            leg: Leg::Maker,
            time: own.timelock,
        },
        world.now,
    );
    assert!(matches!(
        actions[..],
        [Action::Refund {
            leg: Leg::Maker,
            ..
        }]
    ));
    let actions = world.maker.handle(
        Event::ClaimSeen {
            leg: Leg::Maker,
            lock_id: own.id,
            secret: secret(),
        },
        world.now,
    );
    assert!(
        matches!(
            actions[..],
            [Action::Claim {
                leg: Leg::Taker,
                ..
            }]
        ),
        "{actions:?}"
    );
}

/// Finding 1 of the swap-safety review: the taker sent the secret hint together with its
/// first claim, so a claim that never mined (no gas, a fee spike, a dropped transaction)
/// let the honest maker claim the taker's lock and later refund its own.
#[test]
fn taker_whose_claim_never_lands_keeps_the_secret_and_gets_its_funds_back() {
    let mut world = World::new();
    until_maker_locked(&mut world);
    world.behaviour[0].never_claims = true; // its claim transactions never land
    world.run(5000);
    let hinted = world
        .actions_of(Role::Taker)
        .into_iter()
        .any(|action| matches!(action, Action::Send(Hint::Secret { .. })));
    assert!(!hinted, "the secret left the taker without a mined claim");
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Refunded));
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Refunded));
    assert_nothing_moved(&world);
}

#[test]
fn the_secret_hint_follows_the_claim_seen_on_chain() {
    let mut world = World::new();
    until_maker_locked(&mut world);
    // The round that sends the claim sends no hint: the claim is not on chain yet.
    let actions = world.feed(Role::Taker, Event::Tick);
    assert!(actions.is_empty(), "{actions:?}");
    let now = world.now;
    let actions: Vec<Action> = world
        .observations(Role::Taker)
        .into_iter()
        .flat_map(|event| world.swap_mut(Role::Taker).handle(event, now))
        .collect();
    let claim_at = actions
        .iter()
        .position(|action| matches!(action, Action::Claim { .. }))
        .expect("the taker claims");
    assert!(
        !actions
            .iter()
            .any(|action| matches!(action, Action::Send(Hint::Secret { .. }))),
        "hint sent with the claim: {:?}",
        &actions[claim_at..]
    );
    world.perform(Role::Taker, &actions);
    // The next observation shows the claim mined: now the hint goes out, once.
    world.round(Role::Taker);
    world.round(Role::Taker);
    let hints = world
        .actions_of(Role::Taker)
        .into_iter()
        .filter(|action| matches!(action, Action::Send(Hint::Secret { .. })))
        .count();
    assert_eq!(hints, 1);
}

#[test]
fn taker_aborts_when_the_reservation_deadline_passes_before_it_can_lock() {
    let mut world = World::new();
    // The taker's chain is unreachable (no chain time) until after the deadline.
    world.now = params(Role::Taker).reserved_until - params(Role::Taker).lock_margin_ms;
    let actions = world.taker.handle(Event::Tick, world.now);
    assert_eq!(
        actions,
        vec![
            Action::Send(Hint::Abort),
            Action::Finished(Outcome::NotLocked)
        ]
    );
    // The abort makes the maker release at once.
    world.now = LOCAL_START + 1;
    let actions = world.maker.handle(Event::PeerAborted, world.now);
    assert_eq!(
        actions,
        vec![
            Action::ReleaseReservation,
            Action::Finished(Outcome::NotLocked)
        ]
    );
}

#[test]
fn a_taker_lock_after_the_reservation_expired_is_never_answered() {
    let mut world = World::new();
    world.behaviour[0].offline = true;
    world.run(61);
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::NotLocked));
    // The taker's lock lands late anyway (e.g. it was stuck in a mempool).
    let terms = params(Role::Taker).taker_leg;
    let chain_time = world.chain(Leg::Taker).time;
    assert!(world.chains[0].lock(&terms, secret().hashlock(), chain_time + 1200));
    world.wait(5);
    world.round(Role::Maker);
    assert!(world.chain(Leg::Maker).locks.is_empty());
}

// ---- locks that do not match are ignored ----

fn taker_lock(world: &World) -> LockInfo {
    let terms = params(Role::Maker).taker_leg;
    let timelock = world.chain(Leg::Taker).time + 1200;
    LockInfo::of_terms(
        B256::repeat_byte(0x99),
        &terms,
        secret().hashlock(),
        timelock,
    )
}

fn maker_sees(world: &mut World, lock: LockInfo) -> Vec<Action> {
    let chain_time = world.chain(Leg::Taker).time;
    world.maker.handle(
        Event::ChainTime {
            leg: Leg::Taker,
            time: chain_time,
        },
        world.now,
    );
    world.maker.handle(
        Event::ChainTime {
            leg: Leg::Maker,
            time: CHAIN_START,
        },
        world.now,
    );
    world.maker.handle(
        Event::LockSeen {
            leg: Leg::Taker,
            lock,
            confirmations: 5,
            block: 0,
            chain_time,
        },
        world.now,
    )
}

#[test]
fn a_correct_taker_lock_makes_the_maker_lock() {
    let mut world = World::new();
    let lock = taker_lock(&world);
    let actions = maker_sees(&mut world, lock);
    assert_eq!(actions[0], Action::CommitReservation);
    let Action::Lock {
        leg,
        timelock,
        terms,
        hashlock,
    } = &actions[1]
    else {
        panic!("{actions:?}")
    };
    assert_eq!(*leg, Leg::Maker);
    assert_eq!(*timelock, CHAIN_START + 600);
    assert_eq!(terms, &params(Role::Maker).maker_leg);
    assert_eq!(*hashlock, secret().hashlock());
}

/// A reorg onto a shorter branch (a fork that skipped slots) lowers the head confirmations
/// are counted from: a lock mined again on the new branch has its new block's
/// confirmations, not those the old, longer branch's head would give it.
#[test]
fn a_lock_mined_again_after_a_reorg_to_a_shorter_branch_counts_from_the_new_head() {
    let mut world = World::new();
    let lock = taker_lock(&world);
    let now = world.now;
    let chain_time = world.chain(Leg::Taker).time;
    let maker = &mut world.maker;
    maker.handle(
        Event::ChainTime {
            leg: Leg::Maker,
            time: CHAIN_START,
        },
        now,
    );
    let head = |number| Event::ChainHead {
        leg: Leg::Taker,
        number,
        time: chain_time,
    };
    let seen = |block| Event::LockSeen {
        leg: Leg::Taker,
        lock: lock.clone(),
        confirmations: 1,
        block,
        chain_time,
    };
    maker.handle(head(110), now);
    // Mined in the head block: 1 confirmation of the 2 the maker waits for.
    let actions = maker.handle(seen(110), now);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Lock { .. })),
        "{actions:?}"
    );
    // The branch from block 101 is replaced by a shorter one, head 103, which holds the
    // lock in its head block: still 1 confirmation.
    maker.handle(
        Event::Reorged {
            leg: Leg::Taker,
            from_block: 101,
        },
        now,
    );
    maker.handle(head(103), now);
    let actions = maker.handle(seen(103), now);
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Lock { .. })),
        "locked on 1 confirmation counted as 8: {actions:?}"
    );
    assert_eq!(maker.phase(), &Phase::MakerWaiting);
    // The next block gives it the second.
    let actions = maker.handle(head(104), now);
    assert!(
        actions.iter().any(|a| matches!(a, Action::Lock { .. })),
        "{actions:?}"
    );
}

#[test]
fn a_lock_with_wrong_terms_is_ignored() {
    type Spoil = fn(&mut LockInfo);
    let cases: Vec<(Mismatch, Spoil)> = vec![
        (Mismatch::Amount, |l| l.amount -= U256::from(1)),
        (Mismatch::Token, |l| l.token = Address::repeat_byte(0xee)),
        (Mismatch::Recipient, |l| {
            l.recipient = Address::repeat_byte(0xee)
        }),
        (Mismatch::Sender, |l| l.sender = Address::repeat_byte(0xee)),
        (Mismatch::Hashlock, |l| l.hashlock = B256::repeat_byte(0xee)),
        (Mismatch::Chain, |l| l.chain_id = 1),
        (Mismatch::Contract, |l| {
            l.contract = Address::repeat_byte(0xee)
        }),
    ];
    for (mismatch, spoil) in cases {
        let mut world = World::new();
        let mut lock = taker_lock(&world);
        spoil(&mut lock);
        let lock_id = lock.id;
        let actions = maker_sees(&mut world, lock);
        assert_eq!(
            actions,
            vec![Action::Notice(Notice::LockMismatch {
                leg: Leg::Taker,
                lock_id,
                mismatch
            })]
        );
        assert_eq!(world.maker.phase(), &Phase::MakerWaiting);
        assert_eq!(world.maker.lock(Leg::Taker), None);
    }
}

#[test]
fn a_taker_lock_with_too_short_a_timelock_is_ignored_at_the_exact_boundary() {
    let timing = timing();
    // T1 − now = margin + min_claim is just enough; one second less is not.
    let mut world = World::new();
    let mut lock = taker_lock(&world);
    lock.timelock = world.chain(Leg::Taker).time + timing.margin_secs + timing.min_claim_secs;
    let actions = maker_sees(&mut world, lock.clone());
    assert_eq!(actions[0], Action::CommitReservation);
    // T2 = min(now_y + Δ, T1 − margin) = T1 − margin.
    let Action::Lock { timelock, .. } = &actions[1] else {
        panic!()
    };
    assert_eq!(*timelock, lock.timelock - timing.margin_secs);

    let mut world = World::new();
    lock.timelock -= 1;
    let actions = maker_sees(&mut world, lock.clone());
    assert!(matches!(
        actions[..],
        [Action::Notice(Notice::LockTimelockRejected {
            leg: Leg::Taker,
            ..
        })]
    ));
    assert_eq!(world.maker.phase(), &Phase::MakerWaiting);
}

#[test]
fn a_maker_lock_with_too_little_time_is_ignored_at_the_exact_boundary() {
    let mut world = World::new();
    for _ in 0..20 {
        world.round(Role::Taker);
        world.wait(1);
        if matches!(world.taker.phase(), Phase::TakerLocked { .. }) {
            break;
        }
    }
    let terms = params(Role::Taker).maker_leg;
    let now_y = world.chain(Leg::Maker).time;
    let lock = |timelock: u64, id: u8| {
        LockInfo::of_terms(B256::repeat_byte(id), &terms, secret().hashlock(), timelock)
    };
    let short = lock(now_y + timing().min_claim_secs - 1, 1);
    let actions = world.taker.handle(
        Event::LockSeen {
            leg: Leg::Maker,
            lock: short,
            confirmations: 5,
            block: 0,
            chain_time: now_y,
        },
        world.now,
    );
    assert!(matches!(
        actions[..],
        [Action::Notice(Notice::LockTimelockRejected { .. })]
    ));
    let enough = lock(now_y + timing().min_claim_secs, 2);
    let actions = world.taker.handle(
        Event::LockSeen {
            leg: Leg::Maker,
            lock: enough,
            confirmations: 5,
            block: 0,
            chain_time: now_y,
        },
        world.now,
    );
    assert!(
        matches!(&actions[0], Action::Claim { leg: Leg::Maker, lock, .. } if lock.id == B256::repeat_byte(2))
    );
}

#[test]
fn a_wrong_secret_from_a_peer_is_ignored() {
    let mut world = World::new();
    let actions = world.maker.handle(
        Event::SecretLearned {
            secret: Secret(B256::repeat_byte(1)),
        },
        world.now,
    );
    assert_eq!(actions, vec![Action::Notice(Notice::WrongSecret)]);
    assert_eq!(world.maker.secret(), None);
}

#[test]
fn timelocks_expire_exactly_at_the_timelock() {
    // The taker refunds at chain time == T1, not one second earlier.
    let mut world = World::new();
    world.behaviour[1].offline = true;
    world.run(10);
    let t1 = world.taker.lock(Leg::Taker).unwrap().timelock;
    let actions = world.taker.handle(
        Event::ChainTime {
            leg: Leg::Taker,
            time: t1 - 1,
        },
        world.now,
    );
    assert!(actions.is_empty(), "{actions:?}");
    let actions = world.taker.handle(
        Event::ChainTime {
            leg: Leg::Taker,
            time: t1,
        },
        world.now,
    );
    assert!(
        matches!(
            actions[..],
            [Action::Refund {
                leg: Leg::Taker,
                ..
            }]
        ),
        "{actions:?}"
    );
}

#[test]
fn reservation_expires_exactly_at_reserved_until() {
    let mut world = World::new();
    let until = params(Role::Maker).reserved_until;
    assert!(world.maker.handle(Event::Tick, until - 1).is_empty());
    let actions = world.maker.handle(Event::Tick, until);
    assert_eq!(
        actions,
        vec![
            Action::ReleaseReservation,
            Action::Finished(Outcome::NotLocked)
        ]
    );
    world.now = until;
}

#[test]
fn resume_resends_what_was_in_flight_at_once() {
    let mut world = World::new();
    world.behaviour[0].never_locks = true; // the lock transaction is lost with the crash
    world.feed(
        Role::Taker,
        Event::ChainTime {
            leg: Leg::Taker,
            time: CHAIN_START,
        },
    );
    let Phase::TakerLocking { timelock, .. } = *world.taker.phase() else {
        panic!()
    };
    let persisted = serde_json::to_string(&world.taker).unwrap();
    let mut restored: Swap = serde_json::from_str(&persisted).unwrap();
    world.now += 1;
    let actions = restored.resume(world.now);
    // The same lock (same timelock, hence the same lock id), without waiting for retry_ms.
    assert_eq!(
        actions,
        vec![Action::Lock {
            leg: Leg::Taker,
            terms: params(Role::Taker).taker_leg,
            hashlock: secret().hashlock(),
            timelock,
        }]
    );
}

#[test]
fn a_restarted_maker_recommits_or_rereleases_its_reservation() {
    let mut world = World::new();
    world.run(120);
    let mut restored: Swap =
        serde_json::from_str(&serde_json::to_string(&world.maker).unwrap()).unwrap();
    assert_eq!(restored.resume(world.now), vec![Action::CommitReservation]);

    let mut world = World::new();
    world.maker.handle(Event::PeerAborted, world.now);
    let mut restored: Swap =
        serde_json::from_str(&serde_json::to_string(&world.maker).unwrap()).unwrap();
    assert_eq!(restored.resume(world.now), vec![Action::ReleaseReservation]);
}

#[test]
fn retries_are_spaced_by_retry_ms() {
    let mut world = World::new();
    world.behaviour[0].never_locks = true;
    world.feed(
        Role::Taker,
        Event::ChainTime {
            leg: Leg::Taker,
            time: CHAIN_START,
        },
    );
    let locks = |world: &World| {
        world
            .actions_of(Role::Taker)
            .iter()
            .filter(|a| matches!(a, Action::Lock { .. }))
            .count()
    };
    assert_eq!(locks(&world), 1);
    world.now += timing().retry_ms - 1;
    world.feed(Role::Taker, Event::Tick);
    assert_eq!(locks(&world), 1);
    world.now += 1;
    world.feed(Role::Taker, Event::Tick);
    assert_eq!(locks(&world), 2);
}

#[test]
fn invalid_parameters_are_refused() {
    assert_eq!(
        Swap::taker(params(Role::Taker), Secret(B256::ZERO)).unwrap_err(),
        Error::SecretMismatch
    );
    assert_eq!(
        Swap::maker(params(Role::Taker)).unwrap_err(),
        Error::WrongRole {
            expected: Role::Maker
        }
    );
    let mut bad = params(Role::Maker);
    bad.timing = Timing {
        taker_lock_secs: 800,
        ..timing()
    };
    assert!(matches!(
        Swap::maker(bad).unwrap_err(),
        Error::InvalidTiming { .. }
    ));
    let mut bad = params(Role::Maker);
    bad.timing = Timing {
        margin_secs: 10,
        ..timing()
    };
    assert!(matches!(
        Swap::maker(bad).unwrap_err(),
        Error::InvalidTiming { .. }
    ));
    let mut bad = params(Role::Maker);
    bad.maker_leg.recipient = Address::repeat_byte(1);
    assert_eq!(Swap::maker(bad).unwrap_err(), Error::PartiesMismatch);
    let mut bad = params(Role::Maker);
    bad.taker_leg.amount = U256::ZERO;
    assert_eq!(Swap::maker(bad).unwrap_err(), Error::ZeroAmount);
    Timing::DEVNET.validate().unwrap();
}

#[test]
fn the_secret_is_never_printed() {
    let world = World::new();
    let printed = format!("{:?}", world.taker);
    assert!(!printed.contains(&format!("{:x}", secret().0)), "{printed}");
    assert!(printed.contains("redacted"));
}
