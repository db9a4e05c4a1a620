//! A party crashes at any step — after persisting an event, before performing the actions
//! it produced — stays down for a while, restarts from its persisted state and resumes.
//! Whatever the step, the swap completes or both sides get their funds back.

use dex_swap::{Leg, Outcome, Role, Swap};
use proptest::prelude::*;

use crate::sim::*;

/// The party processes one round, persists, and dies before acting on any of it.
fn crash(world: &mut World, role: Role) -> String {
    let now = world.now;
    let mut events = world.observations(role);
    events.push(dex_swap::Event::Tick);
    for event in events {
        // Actions dropped: the process died right after writing the event log.
        world.swap_mut(role).handle(event, now);
    }
    serde_json::to_string(world.swap(role)).expect("a swap serializes")
}

fn restart(world: &mut World, role: Role, persisted: &str) {
    let restored: Swap = serde_json::from_str(persisted).expect("a swap deserializes");
    *world.swap_mut(role) = restored;
    let now = world.now;
    let actions = world.swap_mut(role).resume(now);
    world.perform(role, &actions);
}

fn run_with_crash(role: Role, crash_round: u64, down_secs: u64) -> World {
    let mut world = World::new();
    for _ in 0..crash_round {
        world.round(Role::Taker);
        world.round(Role::Maker);
        world.wait(1);
    }
    let persisted = crash(&mut world, role);
    let slot = if role == Role::Taker { 0 } else { 1 };
    world.behaviour[slot].offline = true;
    for _ in 0..down_secs {
        world.round(Role::Taker);
        world.round(Role::Maker);
        world.wait(1);
    }
    world.behaviour[slot].offline = false;
    restart(&mut world, role, &persisted);
    world.run(5000);
    world
}

fn assert_safe(world: &World) {
    let taker = world.outcome(Role::Taker).expect("taker finished");
    let maker = world.outcome(Role::Maker).expect("maker finished");
    let x = world.deltas(Leg::Taker);
    let y = world.deltas(Leg::Maker);
    let swapped = taker == Outcome::Completed
        && maker == Outcome::Completed
        && x == [-(TAKER_AMOUNT as i128), TAKER_AMOUNT as i128]
        && y == [MAKER_AMOUNT as i128, -(MAKER_AMOUNT as i128)];
    let unwound = x == [0, 0] && y == [0, 0];
    assert!(
        swapped || unwound,
        "taker {taker:?} maker {maker:?} deltas x {x:?} y {y:?}"
    );
    assert!(!matches!(taker, Outcome::Failed { .. }) && !matches!(maker, Outcome::Failed { .. }));
    // Nothing is left in either contract.
    for chain in &world.chains {
        assert_eq!(chain.balance(chain.contract), 0);
    }
}

#[test]
fn crash_at_every_step_of_either_party() {
    // Every round of a normal swap (it finishes in well under 15 rounds), both parties,
    // short and long downtimes (long enough to cross the claim window).
    for role in [Role::Taker, Role::Maker] {
        for crash_round in 0..15 {
            for down_secs in [0, 3, 30, 250] {
                let world = run_with_crash(role, crash_round, down_secs);
                assert_safe(&world);
            }
        }
    }
}

#[test]
fn a_quick_restart_still_completes() {
    for role in [Role::Taker, Role::Maker] {
        for crash_round in 0..15 {
            let world = run_with_crash(role, crash_round, 2);
            assert_eq!(
                world.outcome(Role::Taker),
                Some(Outcome::Completed),
                "{role:?} at {crash_round}"
            );
            assert_eq!(
                world.outcome(Role::Maker),
                Some(Outcome::Completed),
                "{role:?} at {crash_round}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn crashes_never_lose_funds(taker_crash in 0u64..40, maker_crash in 0u64..40, down in 0u64..280) {
        // Both parties crash, at independent points.
        let mut world = World::new();
        let mut persisted: [Option<String>; 2] = [None, None];
        let mut back_at = [u64::MAX; 2];
        for round in 0..6000u64 {
            if world.taker.is_finished() && world.maker.is_finished() {
                break;
            }
            for (slot, role, at) in [(0, Role::Taker, taker_crash), (1, Role::Maker, maker_crash)] {
                if round == at {
                    persisted[slot] = Some(crash(&mut world, role));
                    world.behaviour[slot].offline = true;
                    back_at[slot] = round + down;
                }
                if round == back_at[slot] {
                    world.behaviour[slot].offline = false;
                    let state = persisted[slot].take().expect("crashed before");
                    restart(&mut world, role, &state);
                }
            }
            world.round(Role::Taker);
            world.round(Role::Maker);
            world.wait(1);
        }
        assert_safe(&world);
    }
}
