//! Crossed resting orders: detection, the agreed taker, and resolution by planned takes.

use dex_book::{Cross, Event, Taker};
use dex_primitives::{Lots, Side, Ticks};
use dex_test_utils::T0;

use crate::support::{book, events, key, order, put};

fn crosses_in(events: &[Event]) -> Vec<Cross> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Crossed(cross) => Some(*cross),
            _ => None,
        })
        .collect()
}

#[test]
fn a_later_crossing_order_is_the_taker() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 100, 5).created_at(T0));
    events(&mut book);
    let bid = put(&mut book, order(2, Side::Buy, 101, 3).created_at(T0 + 1));
    let expected = Cross {
        taker: bid.id(),
        taker_maker: key(2).address(),
        maker_order: ask.id(),
        maker: key(1).address(),
        price: Ticks(100),
    };
    assert_eq!(crosses_in(&events(&mut book)), vec![expected]);
    assert!(book.is_crossed());
    assert_eq!(book.pending_crosses(), vec![expected]);
}

#[test]
fn an_earlier_order_arriving_late_makes_the_resting_later_one_the_taker() {
    let mut book = book();
    let late_bid = put(&mut book, order(2, Side::Buy, 101, 3).created_at(T0 + 10));
    let later_bid = put(&mut book, order(3, Side::Buy, 100, 3).created_at(T0 + 20));
    events(&mut book);
    // Gossip delivers an older ask only now: both bids are later, so both must take it.
    let old_ask = put(&mut book, order(1, Side::Sell, 100, 5).created_at(T0));
    let crosses = crosses_in(&events(&mut book));
    assert_eq!(
        crosses,
        vec![
            Cross {
                taker: late_bid.id(),
                taker_maker: key(2).address(),
                maker_order: old_ask.id(),
                maker: key(1).address(),
                price: Ticks(100),
            },
            Cross {
                taker: later_bid.id(),
                taker_maker: key(3).address(),
                maker_order: old_ask.id(),
                maker: key(1).address(),
                price: Ticks(100),
            },
        ]
    );
    assert_eq!(book.pending_crosses(), crosses);
}

#[test]
fn orders_of_one_maker_may_cross_without_a_pending_cross() {
    let mut book = book();
    put(&mut book, order(1, Side::Sell, 100, 5));
    put(&mut book, order(1, Side::Buy, 101, 5).created_at(T0 + 1));
    assert!(crosses_in(&events(&mut book)).is_empty());
    assert!(book.is_crossed());
    assert!(book.pending_crosses().is_empty());
}

#[test]
fn restore_and_release_report_new_crosses() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 100, 5).created_at(T0));
    book.suspend_maker(key(1).address());
    let bid = put(&mut book, order(2, Side::Buy, 101, 3).created_at(T0 + 1));
    assert!(crosses_in(&events(&mut book)).is_empty());
    book.restore_maker(key(1).address());
    assert_eq!(
        crosses_in(&events(&mut book)),
        vec![Cross {
            taker: bid.id(),
            taker_maker: key(2).address(),
            maker_order: ask.id(),
            maker: key(1).address(),
            price: Ticks(100),
        }]
    );
    // A wholly reserved order is not offered, so it crosses nothing until released.
    book.reserve(ask.id(), Lots(5)).expect("reserve");
    assert!(book.pending_crosses().is_empty());
    events(&mut book);
    book.release(ask.id(), Lots(5)).expect("release");
    assert_eq!(crosses_in(&events(&mut book)).len(), 1);
}

#[test]
fn the_takers_planned_takes_uncross_the_book() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 100, 2).created_at(T0));
    let ask2 = put(&mut book, order(3, Side::Sell, 101, 2).created_at(T0 + 1));
    let bid = put(&mut book, order(2, Side::Buy, 101, 3).created_at(T0 + 2));
    let crosses = book.pending_crosses();
    assert_eq!(crosses.len(), 2);
    assert!(crosses.iter().all(|cross| cross.taker == bid.id()));
    let plan = book.plan_resting(bid.id(), T0 + 2).expect("open");
    assert_eq!(plan.quantity(), Lots(3));
    assert_eq!(plan.fills[0].maker_order, ask.id());
    assert_eq!(plan.fills[1].maker_order, ask2.id());
    // Both sides reserve and then commit, as the two nodes do when the swaps start.
    book.reserve(bid.id(), plan.quantity())
        .expect("taker reserves");
    for fill in &plan.fills {
        book.reserve(fill.maker_order, fill.quantity)
            .expect("maker reserves");
        book.commit(fill.maker_order, fill.quantity)
            .expect("maker commits");
    }
    assert_eq!(book.commit(bid.id(), plan.quantity()), Ok(Lots(0)));
    assert!(book.pending_crosses().is_empty());
    assert!(!book.is_crossed());
    assert_eq!(
        book.depth(5).asks,
        vec![dex_book::DepthLevel {
            price: Ticks(101),
            quantity: Lots(1),
            orders: 1,
        }]
    );
    // A taker that is not in the book yet plans against all earlier orders too.
    let plan = book.plan(
        &Taker::from_order(&order(4, Side::Buy, 105, 9).created_at(T0 + 9).verified()),
        T0 + 9,
    );
    assert_eq!(plan.quantity(), Lots(1));
}
