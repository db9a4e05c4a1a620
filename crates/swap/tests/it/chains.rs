//! Chains as they are outside the lab: a node reads each chain some confirmations behind
//! its head, sees each event once, and a hostile counterparty reads the mempool. Each named
//! case is a finding of the swap-safety review; its `_without_heads` twin runs the same
//! schedule with a shell that reports no chain heads (as p2pdex did before it tracked them)
//! and shows that the case bites there.

use dex_swap::{Leg, Outcome, Phase, Role};
use proptest::prelude::*;

use crate::sim::*;

const TAKER_PAYS: i128 = TAKER_AMOUNT as i128;
const MAKER_SELLS: i128 = MAKER_AMOUNT as i128;

/// The honest taker ends with the agreed trade or its own funds back, never less.
fn taker_whole(world: &World) -> bool {
    let x = world.deltas(Leg::Taker)[0];
    let y = world.deltas(Leg::Maker)[0];
    (x, y) == (0, 0) || (x, y) == (-TAKER_PAYS, MAKER_SELLS)
}

/// The honest maker ends with the agreed trade or its own funds back, never less.
fn maker_whole(world: &World) -> bool {
    let x = world.deltas(Leg::Taker)[1];
    let y = world.deltas(Leg::Maker)[1];
    (x, y) == (0, 0) || (x, y) == (TAKER_PAYS, -MAKER_SELLS)
}

/// A maker whose T2 is just above the taker's floor by the head when it locks, facing a
/// taker that reads the chains 132 blocks (s) late: 12 confirmations of 12-second blocks.
/// Every event is reported each round here (not once), so that the confirmations of
/// finding 3 do not hide this one.
fn short_t2_against_a_lagging_taker(reports_head: bool) -> World {
    let mut world = World::lagging(132, reports_head, false);
    world.behaviour[1].hostile_t2_secs = Some(timing().min_claim_secs + 10);
    world.run(5000);
    // The maker did lock, with its short T2.
    assert_eq!(world.chain(Leg::Maker).locks.len(), 1);
    world
}

/// Finding 2: timelock decisions used the last block scanned, which lags the head by the
/// scan depth. The taker judged a T2 that had passed as leaving time, claimed after T2,
/// and the maker took the secret from the mempool, claimed the taker's lock and refunded
/// its own.
#[test]
fn a_lagging_taker_judges_a_short_t2_by_the_head_and_does_not_claim() {
    let world = short_t2_against_a_lagging_taker(true);
    assert!(
        world.mempool_secrets.is_empty(),
        "the taker sent a claim it could not land"
    );
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Refunded));
    assert_eq!(world.deltas(Leg::Taker), [0, 0]);
    assert_eq!(world.deltas(Leg::Maker), [0, 0]);
}

#[test]
fn a_short_t2_against_a_lagging_taker_without_heads_costs_the_taker_its_lock() {
    let world = short_t2_against_a_lagging_taker(false);
    assert!(!world.mempool_secrets.is_empty());
    assert_eq!(world.deltas(Leg::Taker), [-TAKER_PAYS, TAKER_PAYS]);
    assert_eq!(world.deltas(Leg::Maker), [0, 0]);
    assert!(!taker_whole(&world));
}

/// Finding 3: confirmations were counted once, to the end of the scan batch that carried
/// the lock, and never again: with 2 confirmations required, a lock read in the last block
/// of its batch never counted and the swap stalled until it refunded.
#[test]
fn confirmations_grow_with_the_head_until_the_lock_counts() {
    let mut world = World::lagging(2, true, true);
    world.run(5000);
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Completed));
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Completed));
    assert_eq!(world.deltas(Leg::Taker), [-TAKER_PAYS, TAKER_PAYS]);
    assert_eq!(world.deltas(Leg::Maker), [MAKER_SELLS, -MAKER_SELLS]);
}

#[test]
fn confirmations_without_heads_never_grow_and_the_swap_stalls() {
    let mut world = World::lagging(2, false, true);
    world.run(5000);
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::NotLocked));
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Refunded));
    assert!(world.chain(Leg::Maker).locks.is_empty());
}

/// Finding 1 with a scan lag: the taker's claim never lands; it learns so only from the
/// chain, and the secret must not leave it meanwhile.
#[test]
fn a_lagging_taker_whose_claim_never_lands_gets_its_funds_back() {
    let mut world = World::lagging(11, true, true);
    world.behaviour[0].never_claims = true;
    world.run(5000);
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Refunded));
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Refunded));
    assert_eq!(world.deltas(Leg::Taker), [0, 0]);
    assert_eq!(world.deltas(Leg::Maker), [0, 0]);
}

/// Mainnet-like lag (12 confirmations of 1-second blocks here): an honest swap settles.
#[test]
fn honest_parties_settle_reading_twelve_blocks_behind() {
    let mut world = World::lagging(11, true, true);
    world.run(5000);
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Completed));
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Completed));
    assert!(taker_whole(&world) && maker_whole(&world));
    assert_eq!(world.chains[0].reverts + world.chains[1].reverts, 0);
}

/// Runs until the maker's lock is on chain and the maker has seen it.
fn until_maker_locked(world: &mut World) {
    for _ in 0..60 {
        world.round(Role::Taker);
        world.round(Role::Maker);
        world.wait(1);
        if matches!(world.maker.phase(), Phase::MakerLocked { .. }) {
            return;
        }
    }
    panic!("the maker never locked: {:?}", world.maker.phase());
}

/// A reorg removes the taker's lock after the maker locked against it; the taker's node
/// (honest, but its lock is simply gone) claims the maker's lock all the same, unless it
/// went away as soon as the maker's lock was mined (`taker_leaves`).
fn takers_lock_reorged_away(reports_reorgs: bool, taker_leaves: bool) -> World {
    let mut world = World::new();
    world.watchers[1].reports_reorgs = reports_reorgs;
    if taker_leaves {
        while world.chain(Leg::Maker).locks.is_empty() {
            world.round(Role::Taker);
            world.round(Role::Maker);
            world.wait(1);
        }
        world.behaviour[0].offline = true;
    }
    until_maker_locked(&mut world);
    let x = world.chain(Leg::Taker);
    let taker_lock = x.locks.values().next().expect("the taker locked").block;
    let depth = x.height - taker_lock + 1;
    world.reorg(Leg::Taker, depth);
    assert!(world.chain(Leg::Taker).locks.is_empty());
    world
}

/// Finding 5: a counter-lock that a reorg removed after the maker acted on it was only
/// logged; the maker, whose own lock the taker then claimed, kept claiming a lock that no
/// longer existed and the swap never ended. Now it shows (`counter_lock_reorged`), sends
/// no claim for the missing lock, and ends once that lock's timelock has passed.
#[test]
fn a_counter_lock_removed_by_a_reorg_surfaces_and_the_swap_ends() {
    let mut world = takers_lock_reorged_away(true, false);
    assert!(world.maker.counter_lock_reorged());
    world.run(5000);
    let outcome = world.outcome(Role::Maker).expect("the maker's swap ended");
    assert!(
        matches!(&outcome, Outcome::Failed { reason } if reason.contains("reorg")),
        "{outcome:?}"
    );
    // The maker's asset went to the taker; nothing came back on the taker's chain.
    assert_eq!(world.deltas(Leg::Maker), [MAKER_SELLS, -MAKER_SELLS]);
    assert_eq!(world.deltas(Leg::Taker), [0, 0]);
    assert_eq!(world.chains[0].reverts, 0, "claims of a lock that is gone");
}

#[test]
fn a_counter_lock_removed_by_a_reorg_without_reorg_reports_never_ends() {
    let mut world = takers_lock_reorged_away(false, false);
    assert!(!world.maker.counter_lock_reorged());
    world.run(5000);
    assert_eq!(world.outcome(Role::Maker), None);
    assert!(world.chains[0].reverts > 0);
}

/// The same reorg with a taker that goes away: the maker refunds its lock at T2.
#[test]
fn a_maker_whose_counter_lock_was_reorged_away_refunds_at_t2() {
    let mut world = takers_lock_reorged_away(true, true);
    assert!(world.maker.counter_lock_reorged());
    world.run(5000);
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Refunded));
    assert_eq!(world.deltas(Leg::Maker), [0, 0]);
    assert_eq!(world.deltas(Leg::Taker), [0, 0]);
}

/// A reorg that takes a lock out and mines it again (the usual case) changes nothing but
/// the wait: confirmations count afresh, and the swap completes.
#[test]
fn a_lock_mined_again_after_a_reorg_counts_again() {
    let mut world = World::new();
    until_maker_locked(&mut world);
    let x = world.chain(Leg::Taker).clone();
    world.reorg(Leg::Taker, 1);
    // Mined again in the new branch (the chain's copy from before the reorg).
    world.chains[0] = x;
    world.run(5000);
    assert_eq!(world.outcome(Role::Taker), Some(Outcome::Completed));
    assert_eq!(world.outcome(Role::Maker), Some(Outcome::Completed));
    assert!(!world.maker.counter_lock_reorged());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever T2 a hostile, mempool-reading maker picks and however far behind the
    /// taker reads, the taker ends whole; and so does an honest maker facing a taker whose
    /// claims may not land. (A claim that never mines before T2 while the maker reads the
    /// mempool is lost whatever the machine does: the secret is out. Gas checks and fee
    /// pricing keep claims landing; the machine keeps the time they need.)
    #[test]
    fn the_honest_party_never_ends_with_less(
        lag in 0u64..40,
        hostile_t2 in proptest::option::of(1u64..900),
        taker_claims_land in any::<bool>(),
        taker_mute in any::<bool>(),
    ) {
        prop_assume!(taker_claims_land || hostile_t2.is_none());
        let mut world = World::lagging(lag, true, true);
        world.behaviour[1].hostile_t2_secs = hostile_t2;
        world.behaviour[0].never_claims = !taker_claims_land;
        world.behaviour[0].mute = taker_mute;
        world.run(5000);
        prop_assert!(world.outcome(Role::Taker).is_some(), "the taker never finished");
        prop_assert!(taker_whole(&world), "taker: X {:?} Y {:?}", world.deltas(Leg::Taker), world.deltas(Leg::Maker));
        if hostile_t2.is_none() {
            prop_assert!(world.outcome(Role::Maker).is_some(), "the maker never finished");
            prop_assert!(maker_whole(&world), "maker: X {:?} Y {:?}", world.deltas(Leg::Taker), world.deltas(Leg::Maker));
        }
    }
}
