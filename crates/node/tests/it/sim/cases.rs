//! Named runs of the simulator: each a situation the design names, with what it must end in.

use super::{Hostility, Party, ReorgPlan, Schedule, chain::Slot};

/// Runs a schedule and checks the invariant; `SIM_TRACE=1` shows the nodes' logs.
fn run(schedule: Schedule) -> super::Outcome {
    if std::env::var_os("SIM_TRACE").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("dex_node=info")
            .with_test_writer()
            .try_init();
    }
    super::run(schedule)
}

#[test]
fn two_honest_nodes_trade() {
    let outcome = run(Schedule::calm(1));
    assert!(outcome.swap_started, "{outcome:#?}");
    assert!(
        outcome.traded(Party::Maker) && outcome.traded(Party::Taker),
        "{outcome:#?}"
    );
    assert_eq!(outcome.completed, [true, true]);
}

#[test]
fn the_same_seed_runs_the_same() {
    let schedule = Schedule {
        tx_delay_ms: 1_500,
        msg_delay_ms: 2_000,
        msg_loss_per_mille: 200,
        tx_drop_per_mille: 200,
        ..Schedule::calm(42)
    };
    let first = super::World::new(schedule.clone()).run();
    let second = super::World::new(schedule).run();
    assert_eq!(format!("{first:?}"), format!("{second:?}"));
}

/// (1) The taker's claim never mines (no gas, dropped): it never reaches a mempool, so the
/// maker never learns the secret; both get their funds back after their timelocks.
#[test]
fn a_claim_that_never_mines_reveals_nothing_and_the_taker_gets_its_funds_back() {
    let outcome = run(Schedule {
        taker_claims_dropped: true,
        ..Schedule::calm(2)
    });
    assert!(outcome.swap_started, "{outcome:#?}");
    assert!(outcome.whole(Party::Taker), "{outcome:#?}");
    assert!(outcome.whole(Party::Maker), "{outcome:#?}");
    assert!(
        outcome
            .locks
            .iter()
            .all(|(_, slot, _)| *slot == Slot::Refunded),
        "both locks refunded, none claimed: {outcome:#?}"
    );
}

/// The taker's first claim is lost before any node holds it; the maker watches the mempool
/// for the next one. `min_claim` leaves room for the re-send (3 blocks, the retry interval
/// and the scan lag), so it lands before T2 and the racer gains nothing. With `min_claim`
/// of three blocks alone, the re-send came after T2 and the taker lost its lock.
#[test]
fn a_lost_claim_is_sent_again_in_time_against_a_mempool_reader() {
    for seed in [11, 12, 13] {
        let outcome = run(Schedule {
            block_ms: [4_000, 7_000],
            scan_confirmations: [[1, 4], [1, 4]],
            taker_buys: false,
            taker_claims_lost_first: 1,
            hostile: Some((
                Party::Maker,
                Hostility {
                    mempool_racer: true,
                    ..Hostility::default()
                },
            )),
            ..Schedule::calm(seed)
        });
        assert!(outcome.swap_started, "{outcome:#?}");
        assert!(outcome.traded(Party::Taker), "{outcome:#?}");
    }
}

/// (2) The taker reads both chains 12 confirmations of 12 s behind; the maker locks with T2
/// just above the least the taker accepts and watches the mempool to race the taker's claim
/// with the secret. The taker stays whole.
#[test]
fn a_slow_taker_stays_whole_against_a_short_t2_and_a_mempool_reader() {
    for (seed, offset) in [(3, 0), (4, 1), (5, 12), (6, -1)] {
        let outcome = run(Schedule {
            block_ms: [12_000, 12_000],
            scan_confirmations: [[1, 1], [12, 12]],
            hostile: Some((
                Party::Maker,
                Hostility {
                    timelock_offset: Some(offset),
                    mempool_racer: true,
                    ..Hostility::default()
                },
            )),
            ..Schedule::calm(seed)
        });
        assert!(outcome.swap_started, "{outcome:#?}");
        assert!(
            outcome.traded(Party::Taker) || outcome.whole(Party::Taker),
            "{outcome:#?}"
        );
    }
}

/// (3) Scan confirmations 3, leg confirmations 2: the locks' confirmations grow with every
/// new head until they are enough, and the swap completes.
fn confirmations_grow(slack_secs: u64) -> super::Outcome {
    run(Schedule {
        scan_confirmations: [[3, 3], [3, 3]],
        leg_confirmations: [2, 2],
        timing_slack_secs: slack_secs,
        ..Schedule::calm(7)
    })
}

#[test]
fn confirmations_grow_until_the_swap_completes() {
    // The least timing `timing_problems` accepts, and with room to spare.
    for slack_secs in [0, 7] {
        let outcome = confirmations_grow(slack_secs);
        assert!(
            outcome.traded(Party::Maker) && outcome.traded(Party::Taker),
            "{outcome:#?}"
        );
    }
}

/// (4) Both nodes read both chains 12 confirmations of 12 s behind, with a timing that
/// passes `SettlementConfig::timing_problems()`: the trade settles.
fn slow_chains(slack_secs: u64) -> super::Outcome {
    run(Schedule {
        block_ms: [12_000, 12_000],
        scan_confirmations: [[12, 12], [12, 12]],
        msg_delay_ms: 1_000,
        timing_slack_secs: slack_secs,
        ..Schedule::calm(8)
    })
}

#[test]
fn a_coherent_timing_settles_on_slow_chains() {
    // The least timing `timing_problems` accepts. (Before the taker stopped telling the
    // maker to give up at its lock deadline, every swap on such chains failed here.)
    let outcome = slow_chains(0);
    assert!(
        outcome.traded(Party::Maker) && outcome.traded(Party::Taker),
        "{outcome:#?}"
    );
}

/// (5) A reorg removes the taker's lock after the maker locked, and it is not mined again:
/// the maker must end with its own funds (refund at T2).
/// Before the node acted on `ChainBatch::reorg`, the taker went on to claim the maker's
/// lock while the maker's claims of the vanished lock reverted: the maker lost its asset.
#[test]
fn a_reorg_that_removes_the_takers_lock_leaves_the_maker_its_funds() {
    let outcome = run(Schedule {
        // The taker (who buys: its lock is on the quote chain) reads its own chain at the
        // head and the maker's 6 blocks behind; the maker reads both 2 behind. So both have
        // read the taker's lock when the reorg removes it, and the taker has not yet seen
        // (nor claimed) the maker's lock.
        scan_confirmations: [[2, 2], [6, 1]],
        // Room for the taker's scan lag (see the case above).
        timing_slack_secs: 10,
        reorg: Some(ReorgPlan {
            chain: 1,
            after_ms: 0,
            depth: 0,
            keep_txs: false,
            when_maker_locked: true,
        }),
        ..Schedule::calm(9)
    });
    assert!(outcome.swap_started, "{outcome:#?}");
    assert!(outcome.whole(Party::Maker), "{outcome:#?}");
}
