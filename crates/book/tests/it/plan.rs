//! Match planning and take checks.

use dex_book::{Error, PlannedFill, Taker};
use dex_primitives::{Lots, Side, Ticks};
use dex_test_utils::T0;

use crate::support::{book, events, key, order, put};

fn taker(maker: usize, side: Side, limit: u64, quantity: u64) -> Taker {
    Taker::from_order(
        &order(maker, side, limit, quantity)
            .created_at(T0 + 1_000)
            .verified(),
    )
}

fn quantities(fills: &[PlannedFill]) -> Vec<u64> {
    fills.iter().map(|fill| fill.quantity.0).collect()
}

#[test]
fn plan_takes_best_price_first_at_the_makers_price_up_to_the_limit() {
    let mut book = book();
    let cheap = put(&mut book, order(1, Side::Sell, 100, 3));
    let dear = put(&mut book, order(2, Side::Sell, 102, 3));
    put(&mut book, order(3, Side::Sell, 104, 3));
    events(&mut book);
    let digest = book.digest();
    let plan = book.plan(&taker(4, Side::Buy, 103, 10), T0 + 1_000);
    assert_eq!(
        plan.fills,
        vec![
            PlannedFill {
                maker_order: cheap.id(),
                maker: key(1).address(),
                price: Ticks(100),
                quantity: Lots(3),
            },
            PlannedFill {
                maker_order: dear.id(),
                maker: key(2).address(),
                price: Ticks(102),
                quantity: Lots(3),
            },
        ]
    );
    assert_eq!(plan.quantity(), Lots(6));
    // Planning changes nothing.
    assert_eq!(book.digest(), digest);
    assert!(book.events().is_empty());
}

#[test]
fn plan_skips_the_takers_own_orders() {
    let mut book = book();
    put(&mut book, order(1, Side::Sell, 100, 3));
    let other = put(&mut book, order(2, Side::Sell, 101, 3));
    let plan = book.plan(&taker(1, Side::Buy, 105, 3), T0 + 1_000);
    assert_eq!(plan.fills.len(), 1);
    assert_eq!(plan.fills[0].maker_order, other.id());
}

#[test]
fn plan_honours_the_makers_min_fill_except_its_last_remainder() {
    let mut book = book();
    // minFill 5: a take of 3 is refused ...
    let big = put(&mut book, order(1, Side::Sell, 100, 10).min_fill(5));
    // ... while an order whose whole remainder (2) is below its minFill (4) may be taken whole.
    let small = put(
        &mut book,
        order(2, Side::Sell, 100, 6).min_fill(4).created_at(T0 + 1),
    );
    book.apply_update(&dex_test_utils::verified_update(key(2), &small, 2))
        .expect("lower");
    let plan = book.plan(&taker(3, Side::Buy, 100, 3), T0 + 1_000);
    assert_eq!(plan.fills.len(), 1);
    assert_eq!(plan.fills[0].maker_order, small.id());
    assert_eq!(plan.fills[0].quantity, Lots(2));
    // Wanting 6: 6 from the big one (≥ 5) satisfies it first.
    let plan = book.plan(&taker(3, Side::Buy, 100, 6), T0 + 1_000);
    assert_eq!(quantities(&plan.fills), vec![6]);
    assert_eq!(plan.fills[0].maker_order, big.id());
}

#[test]
fn plan_honours_the_takers_min_fill_except_its_last_remainder() {
    let mut book = book();
    put(&mut book, order(1, Side::Sell, 100, 2));
    put(&mut book, order(2, Side::Sell, 100, 5).created_at(T0 + 1));
    put(&mut book, order(3, Side::Sell, 101, 1).created_at(T0 + 2));
    let mut wants = taker(4, Side::Buy, 101, 6);
    wants.min_fill = Lots(3);
    // 2 < 3 is skipped; 5 taken; then 1 left, and the 1-lot order is that last remainder.
    let plan = book.plan(&wants, T0 + 1_000);
    assert_eq!(quantities(&plan.fills), vec![5, 1]);
}

#[test]
fn plan_only_takes_orders_with_time_priority_over_the_taker() {
    let mut book = book();
    let earlier = put(&mut book, order(1, Side::Sell, 101, 1).created_at(T0));
    put(
        &mut book,
        order(2, Side::Sell, 100, 1).created_at(T0 + 2_000),
    );
    let plan = book.plan(&taker(3, Side::Buy, 101, 5), T0 + 2_000);
    assert_eq!(plan.fills.len(), 1);
    assert_eq!(plan.fills[0].maker_order, earlier.id());
}

#[test]
fn plan_skips_reserved_suspended_and_expired_quantity() {
    let mut book = book();
    let reserved = put(&mut book, order(1, Side::Sell, 100, 4));
    book.reserve(reserved.id(), Lots(3)).expect("reserve");
    put(&mut book, order(2, Side::Sell, 100, 4).created_at(T0 + 1));
    let short = put(
        &mut book,
        order(3, Side::Sell, 100, 4)
            .created_at(T0 + 2)
            .expires_at(T0 + 500),
    );
    book.suspend_maker(key(2).address());
    let plan = book.plan(&taker(4, Side::Buy, 100, 10), T0 + 400);
    assert_eq!(quantities(&plan.fills), vec![1, 4]);
    assert_eq!(plan.fills[1].maker_order, short.id());
    // At T0 + 500 the short-lived one is expired for planning, even before `expire`.
    let plan = book.plan(&taker(4, Side::Buy, 100, 10), T0 + 500);
    assert_eq!(quantities(&plan.fills), vec![1]);
}

#[test]
fn plan_into_reuses_the_buffer() {
    let mut book = book();
    put(&mut book, order(1, Side::Sell, 100, 4));
    let mut fills = vec![PlannedFill {
        maker_order: Default::default(),
        maker: Default::default(),
        price: Ticks(1),
        quantity: Lots(1),
    }];
    let total = book.plan_into(&taker(2, Side::Buy, 100, 3), T0 + 1_000, &mut fills);
    assert_eq!(total, Lots(3));
    assert_eq!(quantities(&fills), vec![3]);
}

#[test]
fn plan_resting_plans_for_the_available_quantity_of_a_crossing_order() {
    let mut book = book();
    let maker = put(&mut book, order(1, Side::Sell, 100, 4).created_at(T0));
    let late_bid = put(&mut book, order(2, Side::Buy, 101, 6).created_at(T0 + 5));
    book.reserve(late_bid.id(), Lots(1)).expect("reserve");
    let plan = book.plan_resting(late_bid.id(), T0 + 5).expect("open");
    assert_eq!(plan.fills.len(), 1);
    assert_eq!(plan.fills[0].maker_order, maker.id());
    assert_eq!(plan.fills[0].quantity, Lots(4));
    // The earlier order has nothing to take: the bid is later.
    assert!(
        book.plan_resting(maker.id(), T0 + 5)
            .expect("open")
            .is_empty()
    );
    book.suspend_maker(key(2).address());
    assert_eq!(
        book.plan_resting(late_bid.id(), T0 + 5),
        Err(Error::Suspended { id: late_bid.id() })
    );
}

#[test]
fn check_take_accepts_a_valid_take_at_the_makers_price() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 100, 10).min_fill(2));
    let wants = taker(2, Side::Buy, 101, 5);
    assert_eq!(
        book.check_take(ask.id(), &wants, Lots(5), T0 + 1_000),
        Ok(Ticks(100))
    );
}

#[test]
fn check_take_refuses_every_invalid_take() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 100, 10).min_fill(2));
    let id = ask.id();
    let now = T0 + 1_000;
    let wants = taker(2, Side::Buy, 101, 5);
    assert_eq!(
        book.check_take(id, &taker(2, Side::Sell, 99, 5), Lots(1), now),
        Err(Error::SameSide {
            id,
            side: Side::Sell,
        })
    );
    assert_eq!(
        book.check_take(id, &taker(1, Side::Buy, 101, 5), Lots(2), now),
        Err(Error::SameMaker {
            id,
            maker: key(1).address(),
        })
    );
    assert_eq!(
        book.check_take(id, &taker(2, Side::Buy, 99, 5), Lots(2), now),
        Err(Error::PriceDoesNotCross {
            id,
            price: Ticks(100),
            limit: Ticks(99),
        })
    );
    let mut early = wants;
    early.created_at = T0 - 1;
    assert_eq!(
        book.check_take(id, &early, Lots(2), now),
        Err(Error::TakerNotLater {
            id,
            taker: wants.id,
        })
    );
    assert_eq!(
        book.check_take(id, &wants, Lots(0), now),
        Err(Error::ZeroQuantity)
    );
    assert_eq!(
        book.check_take(id, &wants, Lots(6), now),
        Err(Error::TakeExceedsTaker {
            requested: Lots(6),
            quantity: Lots(5),
        })
    );
    assert_eq!(
        book.check_take(id, &wants, Lots(1), now),
        Err(Error::BelowMinFill {
            id,
            requested: Lots(1),
            min_fill: Lots(2),
        })
    );
    book.reserve(id, Lots(8)).expect("reserve");
    assert_eq!(
        book.check_take(id, &wants, Lots(3), now),
        Err(Error::InsufficientAvailable {
            id,
            requested: Lots(3),
            available: Lots(2),
        })
    );
    let expires_at = ask.order().expires_at;
    assert_eq!(
        book.check_take(id, &wants, Lots(2), expires_at),
        Err(Error::Expired {
            id,
            expires_at,
            now: expires_at,
        })
    );
    book.suspend_maker(key(1).address());
    assert_eq!(
        book.check_take(id, &wants, Lots(2), now),
        Err(Error::Suspended { id })
    );
}
