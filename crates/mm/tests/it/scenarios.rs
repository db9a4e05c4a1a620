//! Worked examples on ETH/USDC (tick 0.01, lot 0.001) with hand-computed prices and sizes.

use dex_mm::{CancelReason, DropReason, Error, Limit, Note, Reason, Strategy, StrategyConfig};
use dex_primitives::{Lots, Side, Ticks};

use crate::support::*;

const BUY: Side = Side::Buy;
const SELL: Side = Side::Sell;

/// Three levels of 0.1 ETH, 10 bps spread, 10 bps spacing (the other defaults).
fn config() -> StrategyConfig {
    StrategyConfig {
        levels: 3,
        ..StrategyConfig::new(dec("0.1"))
    }
}

fn strategy(config: StrategyConfig) -> Strategy {
    Strategy::new(config, market()).expect("the test configuration is valid")
}

/// Plenty of both assets, half the value in each at 2500.
fn balanced() -> dex_mm::Inventory {
    balances("10", "25000")
}

#[test]
fn symmetric_ladder_at_the_expected_prices() {
    let decision = strategy(config()).decide(&price("2500"), &[], &balanced(), NOW);
    assert!(!decision.is_halted());
    assert_eq!(
        levels(&decision.desired),
        [
            (BUY, 249_750, 100),
            (BUY, 249_500, 100),
            (BUY, 249_250, 100),
            (SELL, 250_250, 100),
            (SELL, 250_500, 100),
            (SELL, 250_750, 100),
        ]
    );
    // Everything is placed, inner levels first.
    assert!(decision.cancels.is_empty() && decision.kept.is_empty());
    assert_eq!(
        levels(&decision.places),
        [
            (BUY, 249_750, 100),
            (SELL, 250_250, 100),
            (BUY, 249_500, 100),
            (SELL, 250_500, 100),
            (BUY, 249_250, 100),
            (SELL, 250_750, 100),
        ]
    );
    assert!(decision.notes.is_empty(), "{:?}", decision.notes);
    assert_eq!(
        decision.to_string(),
        "quoting around 2500, base share 0.5, deviation 0, first bid -10 bps, first ask +10 bps; \
         keep 0, cancel 0, place 6"
    );
}

#[test]
fn prices_round_away_from_the_reference() {
    let strategy = strategy(StrategyConfig {
        levels: 1,
        ..config()
    });
    // 2500.005 × 0.999 = 2497.504995 → down to 2497.50; × 1.001 = 2502.505005 → up to 2502.51.
    let decision = strategy.decide(&price("2500.005"), &[], &balanced(), NOW);
    assert_eq!(
        levels(&decision.desired),
        [(BUY, 249_750, 100), (SELL, 250_251, 100)]
    );
}

#[test]
fn a_zero_spread_still_stays_strictly_off_the_reference() {
    let strategy = strategy(StrategyConfig {
        levels: 1,
        bid_spread_bps: dec("0"),
        ask_spread_bps: dec("0"),
        ..config()
    });
    let on_tick = strategy.decide(&price("2500"), &[], &balanced(), NOW);
    assert_eq!(
        levels(&on_tick.desired),
        [(BUY, 249_999, 100), (SELL, 250_001, 100)]
    );
    let between_ticks = strategy.decide(&price("2500.005"), &[], &balanced(), NOW);
    assert_eq!(
        levels(&between_ticks.desired),
        [(BUY, 250_000, 100), (SELL, 250_001, 100)]
    );
}

#[test]
fn sizes_grow_per_level_up_to_the_maximum() {
    let strategy = strategy(StrategyConfig {
        order_size_growth: dec("0.05"),
        max_order_size: Some(dec("0.18")),
        ..config()
    });
    let decision = strategy.decide(&price("2500"), &[], &balanced(), NOW);
    let bids: Vec<u64> = decision
        .desired
        .iter()
        .filter(|quote| quote.side == BUY)
        .map(|quote| quote.quantity.0)
        .collect();
    assert_eq!(bids, [100, 150, 180]);
    assert!(decision.notes.contains(&Note::Cut {
        side: BUY,
        level: 2,
        from: Lots(200),
        to: Lots(180),
        limit: Limit::MaxOrderSize,
    }));
    assert_eq!(
        decision.notes[0].to_string(),
        "buy level 2 cut from 200 to 180 lots by max_order_size"
    );
}

#[test]
fn levels_on_one_tick_merge_into_the_inner_one() {
    // 0.01 bps of 2500 is a quarter of a tick: levels 1 and 2 round to the same tick.
    let strategy = strategy(StrategyConfig {
        level_spacing_bps: dec("0.01"),
        ..config()
    });
    let decision = strategy.decide(&price("2500"), &[], &balanced(), NOW);
    // Bids: 2497.5, 2497.4975 → 2497.49, 2497.495 → 2497.49.
    // Asks: 2502.5, 2502.5025 → 2502.51, 2502.505 → 2502.51.
    assert_eq!(
        levels(&decision.desired),
        [
            (BUY, 249_750, 100),
            (BUY, 249_749, 200),
            (SELL, 250_250, 100),
            (SELL, 250_251, 200),
        ]
    );
    assert_eq!(decision.desired[1].level, 1);
    assert_eq!(
        decision.notes,
        [
            Note::Merged {
                side: BUY,
                level: 2,
                into_level: 1,
                price: Ticks(249_749),
            },
            Note::Merged {
                side: SELL,
                level: 2,
                into_level: 1,
                price: Ticks(250_251),
            },
        ]
    );
}

#[test]
fn more_base_than_target_moves_bids_down_and_asks_in() {
    let strategy = strategy(StrategyConfig {
        levels: 1,
        inventory_skew_bps: dec("5"),
        inventory_size_skew: dec("1"),
        ..config()
    });
    // 3 ETH at 2500 = 7500 of 10000: base share 0.75, deviation (0.75 - 0.5) / 0.5 = 0.5.
    // Bid at 12.5 bps: 2496.875 → 2496.87; ask at 7.5 bps: 2501.875 → 2501.88.
    // Sizes: bid 0.1 × (1 - 0.5) = 0.05, ask 0.1 × 1.5 = 0.15.
    let long = strategy.decide(&price("2500"), &[], &balances("3", "2500"), NOW);
    assert_eq!(
        levels(&long.desired),
        [(BUY, 249_687, 50), (SELL, 250_188, 150)]
    );
    let Reason::Quoting(context) = &long.reason else {
        panic!("not quoting: {long}")
    };
    assert_eq!(context.base_share, Some(dec("0.75")));
    assert_eq!(context.deviation, dec("0.5"));
    assert_eq!(context.bid_offset_bps, dec("12.5"));
    assert_eq!(context.ask_offset_bps, dec("7.5"));

    // The mirror image: base share 0.25.
    let short = strategy.decide(&price("2500"), &[], &balances("1", "7500"), NOW);
    assert_eq!(
        levels(&short.desired),
        [(BUY, 249_812, 150), (SELL, 250_313, 50)]
    );

    // All base: full deviation; bids stop entirely, asks double.
    let all_base = strategy.decide(&price("2500"), &[], &balances("10", "0"), NOW);
    assert_eq!(levels(&all_base.desired), [(SELL, 250_125, 200)]);
    assert!(all_base.notes.contains(&Note::Dropped {
        side: BUY,
        level: 0,
        why: DropReason::ZeroSize,
    }));
}

#[test]
fn skew_never_brings_quotes_inside_the_minimum_spread() {
    let strategy = strategy(StrategyConfig {
        levels: 1,
        inventory_skew_bps: dec("20"),
        inventory_range: dec("0.1"),
        min_spread_bps: dec("3"),
        ..config()
    });
    // Base share 25000 / 26000, beyond the range: deviation 1. The ask would be at
    // 10 - 20 = -10 bps; the floor keeps it at 3 bps. The bid is at 10 + 20 bps.
    let decision = strategy.decide(&price("2500"), &[], &balances("10", "1000"), NOW);
    assert_eq!(
        levels(&decision.desired),
        [(BUY, 249_250, 100), (SELL, 250_075, 100)]
    );
}

#[test]
fn exposure_limits_cut_the_outer_levels() {
    let base_limited = strategy(StrategyConfig {
        max_exposure_base: Some(dec("0.25")),
        ..config()
    })
    .decide(&price("2500"), &[], &balanced(), NOW);
    assert_eq!(
        levels(&base_limited.desired),
        [
            (BUY, 249_750, 100),
            (BUY, 249_500, 100),
            (BUY, 249_250, 50),
            (SELL, 250_250, 100),
            (SELL, 250_500, 100),
            (SELL, 250_750, 50),
        ]
    );

    // 600 USDC per side: two levels use 499.25 (bids) and 500.75 (asks); the rest buys 40
    // lots at 2492.50 and sells 39 at 2507.50, both below the minimum of 50 lots.
    let quote_limited = strategy(StrategyConfig {
        max_exposure_quote: Some(dec("600")),
        min_order_size: dec("0.05"),
        ..config()
    })
    .decide(&price("2500"), &[], &balanced(), NOW);
    assert_eq!(quote_limited.desired.len(), 4);
    for side in [BUY, SELL] {
        assert!(quote_limited.notes.contains(&Note::Dropped {
            side,
            level: 2,
            why: DropReason::Limit(Limit::MaxExposureQuote),
        }));
    }
}

#[test]
fn balances_limit_what_is_quoted_and_own_orders_count_as_available() {
    // 0.15 ETH: asks of 100 and 50 lots. 300 USDC: a bid of 100 lots (249.75), then 20
    // lots at 2495 (49.90 of the 50.25 left).
    let decision = strategy(config()).decide(&price("2500"), &[], &balances("0.15", "300"), NOW);
    assert_eq!(
        levels(&decision.desired),
        [
            (BUY, 249_750, 100),
            (BUY, 249_500, 20),
            (SELL, 250_250, 100),
            (SELL, 250_500, 50),
        ]
    );
    assert!(decision.notes.contains(&Note::Dropped {
        side: SELL,
        level: 2,
        why: DropReason::Limit(Limit::Balance),
    }));

    // No free ETH, but the bot's own live ask holds 0.1: it is still available to asks.
    let ask = live(1, SELL, 250_250, 100);
    let mut reserved = balances("0", "0");
    reserved.base.locked = dec("0.1");
    let decision = strategy(config()).decide(&price("2500"), &[ask], &reserved, NOW);
    assert_eq!(levels(&decision.desired), [(SELL, 250_250, 100)]);
    assert_eq!(decision.kept.len(), 1);
    assert!(decision.is_noop());
}

#[test]
fn a_stale_price_cancels_everything() {
    let strategy = strategy(config());
    let orders = [live(1, BUY, 249_750, 100), live(2, SELL, 250_250, 100)];
    let mut stale = price("2500");
    stale.observed_at = NOW - 10_001;
    let decision = strategy.decide(&stale, &orders, &balanced(), NOW);
    assert!(decision.is_halted());
    assert!(decision.places.is_empty() && decision.kept.is_empty());
    assert_eq!(decision.cancels.len(), 2);
    assert!(
        decision
            .cancels
            .iter()
            .all(|cancel| cancel.reason == CancelReason::Halted)
    );
    assert_eq!(
        decision.reason,
        Reason::Halted(Error::StalePrice {
            observed_at: NOW - 10_001,
            now: NOW,
            age_ms: 10_001,
            max_age_ms: 10_000,
        })
    );
    assert!(
        decision
            .to_string()
            .starts_with("halted, cancelling all quotes: reference price is stale: observed at")
    );

    // Exactly the maximum age is still fresh.
    stale.observed_at = NOW - 10_000;
    assert!(
        !strategy
            .decide(&stale, &orders, &balanced(), NOW)
            .is_halted()
    );
}

#[test]
fn unusable_inputs_halt_with_their_reason() {
    let strategy = strategy(config());
    let orders = [live(1, BUY, 249_750, 100), live(1, BUY, 249_750, 100)];
    let duplicate = strategy.decide(&price("2500"), &orders, &balanced(), NOW);
    assert_eq!(
        duplicate.reason,
        Reason::Halted(Error::DuplicateOrderId { id: order_id(1) })
    );
    // Each id is cancelled once.
    assert_eq!(duplicate.cancels.len(), 1);

    for bad in ["0", "-1"] {
        let decision = strategy.decide(&price(bad), &[], &balanced(), NOW);
        assert_eq!(
            decision.reason,
            Reason::Halted(Error::InvalidReferencePrice { price: dec(bad) })
        );
    }

    let mut negative = balanced();
    negative.quote.locked = dec("-1");
    let decision = strategy.decide(&price("2500"), &[], &negative, NOW);
    assert_eq!(
        decision.reason,
        Reason::Halted(Error::NegativeBalance {
            asset: "quote",
            field: "locked",
            value: dec("-1"),
        })
    );
}

#[test]
fn nothing_moves_within_tolerance_and_everything_beyond_it() {
    let strategy = strategy(config());
    let mut node = Node::new(market(), balanced());
    let first = strategy.decide(&price("2500"), &node.live, &node.inventory, NOW);
    node.apply(&first);
    assert_eq!(node.live.len(), 6);

    let again = strategy.decide(&price("2500"), &node.live, &node.inventory, NOW);
    assert!(again.is_noop(), "{again:?}");
    assert_eq!(again.kept.len(), 6);

    // 1.2 bps: every wanted price moves by about 30 ticks, the tolerance is 2 bps ≈ 50.
    let small = strategy.decide(&price("2500.3"), &node.live, &node.inventory, NOW);
    assert!(small.is_noop(), "{small:?}");

    // 4 bps: every level is off by about 100 ticks and is replaced.
    let large = strategy.decide(&price("2501"), &node.live, &node.inventory, NOW);
    assert_eq!((large.cancels.len(), large.places.len()), (6, 6));
    assert!(matches!(
        large.cancels[0].reason,
        CancelReason::OffTarget { nearest: Some(_) }
    ));
}

#[test]
fn only_the_level_that_changed_is_replaced() {
    let strategy = strategy(config());
    let mut node = Node::new(market(), balanced());
    node.apply(&strategy.decide(&price("2500"), &node.live, &node.inventory, NOW));

    // Someone cancelled the second bid: only it is placed again.
    let second_bid = node
        .live
        .iter()
        .find(|order| order.side == BUY && order.price == Ticks(249_500))
        .expect("the second bid is live")
        .id;
    node.remove(second_bid);
    let decision = strategy.decide(&price("2500"), &node.live, &node.inventory, NOW);
    assert!(decision.cancels.is_empty());
    assert_eq!(levels(&decision.places), [(BUY, 249_500, 100)]);
    assert_eq!(decision.places[0].level, 1);
}

#[test]
fn partial_fills_are_left_alone_within_the_size_tolerance() {
    let strategy = strategy(StrategyConfig {
        levels: 1,
        ..config()
    });
    let bid = |remaining| {
        [
            live(1, BUY, 249_750, remaining),
            live(2, SELL, 250_250, 100),
        ]
    };
    let within = strategy.decide(&price("2500"), &bid(80), &balanced(), NOW);
    assert!(within.is_noop(), "{within:?}");
    let beyond = strategy.decide(&price("2500"), &bid(79), &balanced(), NOW);
    assert_eq!(beyond.cancels.len(), 1);
    assert_eq!(beyond.cancels[0].order, order_id(1));
    assert_eq!(levels(&beyond.places), [(BUY, 249_750, 100)]);
}

#[test]
fn quotes_overtaken_by_the_price_go_even_within_tolerance() {
    let strategy = strategy(StrategyConfig {
        levels: 1,
        tolerance_bps: dec("100"),
        ..config()
    });
    // The price jumped above the live ask: within 100 bps of the wanted ask, but across
    // the reference price.
    let orders = [live(1, BUY, 249_750, 100), live(2, SELL, 250_100, 100)];
    let decision = strategy.decide(&price("2501.5"), &orders, &balanced(), NOW);
    assert_eq!(decision.kept.len(), 1);
    assert_eq!(decision.cancels.len(), 1);
    assert_eq!(
        decision.cancels[0].reason,
        CancelReason::InsideMinSpread {
            bound: Some(Ticks(250_151))
        }
    );
    assert_eq!(levels(&decision.places), [(SELL, 250_401, 100)]);
}

#[test]
fn a_kept_order_that_would_overspend_is_replaced() {
    let strategy = strategy(StrategyConfig {
        levels: 2,
        ..config()
    });
    // The live bid is 1 tick above the wanted 2497.50: within tolerance, but it reserves
    // 249.76 where the ladder plans 249.75, and the budget (249.49 free + 249.76) is
    // exactly the ladder's 499.25.
    let orders = [live(1, BUY, 249_760, 100)];
    let decision = strategy.decide(&price("2500"), &orders, &balances("10", "249.49"), NOW);
    let bids: Vec<_> = levels(&decision.desired)
        .into_iter()
        .filter(|(side, ..)| *side == BUY)
        .collect();
    assert_eq!(bids, [(BUY, 249_750, 100), (BUY, 249_500, 100)]);
    assert_eq!(decision.cancels.len(), 1);
    assert_eq!(
        decision.cancels[0].reason,
        CancelReason::Limit(Limit::Balance)
    );
    assert!(decision.kept.is_empty());

    // With a cent more there is room to keep it.
    let decision = strategy.decide(&price("2500"), &orders, &balances("10", "249.50"), NOW);
    assert_eq!(decision.kept.len(), 1);
}

#[test]
fn two_orders_on_one_tick_are_not_both_kept() {
    let strategy = strategy(StrategyConfig {
        levels: 2,
        level_spacing_bps: dec("0.1"),
        ..config()
    });
    // Wanted bids: 2497.50 and 2497.475 → 2497.47. Both live bids sit at 2497.50.
    let orders = [live(1, BUY, 249_750, 100), live(2, BUY, 249_750, 100)];
    let decision = strategy.decide(&price("2500"), &orders, &balanced(), NOW);
    assert_eq!(decision.kept.len(), 1);
    assert_eq!(decision.kept[0].order, order_id(1));
    assert_eq!(decision.cancels.len(), 1);
    assert_eq!(decision.cancels[0].reason, CancelReason::SameTick);
    let placed_bids: Vec<_> = levels(&decision.places)
        .into_iter()
        .filter(|(side, ..)| *side == BUY)
        .collect();
    assert_eq!(placed_bids, [(BUY, 249_747, 100)]);
}

#[test]
fn an_empty_portfolio_quotes_nothing_and_says_why() {
    let decision = strategy(config()).decide(&price("2500"), &[], &balances("0", "0"), NOW);
    assert!(decision.desired.is_empty());
    assert!(!decision.is_halted());
    assert!(
        decision.to_string().contains("empty portfolio"),
        "{decision}"
    );
    assert_eq!(decision.notes.len(), 6);
    assert_eq!(
        decision.notes[0].to_string(),
        "buy level 0 not quoted: no room left under the available balance"
    );
}
