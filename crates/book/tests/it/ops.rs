//! One test (or a few) per operation and per error, through the public API.

use std::sync::Arc;

use dex_book::{
    Book, BookConfig, DepthLevel, Error, Event, OrderStatus, RemoveReason, Top, orders_digest,
};
use dex_primitives::{B256, Lots, Side, Ticks};
use dex_test_utils::{HOUR_MS, OrderBuilder, T0, eth_usdc_id, verified_update};

use crate::support::{book, events, key, order, put};

fn level(price: u64, quantity: u64, orders: u32) -> DepthLevel {
    DepthLevel {
        price: Ticks(price),
        quantity: Lots(quantity),
        orders,
    }
}

#[test]
fn insert_emits_inserted_and_shows_in_depth_and_top() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 5));
    let bid = put(&mut book, order(2, Side::Buy, 99, 7));
    let events = events(&mut book);
    assert_eq!(events.len(), 2);
    match events[0] {
        Event::Inserted(inserted) => {
            assert_eq!(inserted.id, ask.id());
            assert_eq!(inserted.price, Ticks(101));
            assert_eq!(inserted.remaining, Lots(5));
            assert_eq!(inserted.available, Lots(5));
            assert!(!inserted.suspended);
        }
        other => panic!("expected Inserted, got {other:?}"),
    }
    assert!(matches!(events[1], Event::Inserted(inserted) if inserted.id == bid.id()));
    let depth = book.depth(10);
    assert_eq!(depth.asks, vec![level(101, 5, 1)]);
    assert_eq!(depth.bids, vec![level(99, 7, 1)]);
    assert_eq!(
        book.top(),
        Top {
            bid: Some(level(99, 7, 1)),
            ask: Some(level(101, 5, 1)),
        }
    );
    assert_eq!(book.len(), 2);
    assert_eq!(book.status(&ask.id()), OrderStatus::Open);
    let view = book.get(&ask.id()).expect("open");
    assert_eq!(
        (view.quantity, view.remaining, view.reserved, view.committed),
        (Lots(5), Lots(5), Lots(0), Lots(0))
    );
    assert_eq!(book.order(&ask.id()).map(|o| o.id()), Some(ask.id()));
}

#[test]
fn insert_refuses_another_market() {
    let mut book = Book::new(
        dex_test_utils::eth_eth2().params().id(),
        BookConfig::default(),
    );
    let order = OrderBuilder::new().verified();
    assert_eq!(
        book.insert(Arc::new(order), T0),
        Err(Error::WrongMarket {
            expected: dex_test_utils::eth_eth2().params().id(),
            got: eth_usdc_id(),
        })
    );
    assert!(book.events().is_empty());
    assert!(book.is_empty());
}

#[test]
fn insert_refuses_duplicates_without_events() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 5));
    events(&mut book);
    assert_eq!(
        book.insert(Arc::clone(&ask), T0),
        Err(Error::AlreadyOpen { id: ask.id() })
    );
    assert!(book.events().is_empty());
    assert_eq!(book.depth(5).asks, vec![level(101, 5, 1)]);
}

#[test]
fn insert_refuses_orders_expired_at_book_time() {
    let mut book = book();
    let order = Arc::new(order(1, Side::Sell, 101, 5).verified());
    let expires_at = T0 + HOUR_MS;
    assert_eq!(
        book.insert(Arc::clone(&order), expires_at),
        Err(Error::Expired {
            id: order.id(),
            expires_at,
            now: expires_at,
        })
    );
    // The book's time stays at the latest `now`, even if a later call passes an older one.
    assert_eq!(book.now(), expires_at);
    assert!(matches!(
        book.insert(Arc::clone(&order), T0),
        Err(Error::Expired { .. })
    ));
}

#[test]
fn price_time_priority_uses_created_at_then_id_whatever_the_arrival_order() {
    let mut book = book();
    // Same price, inserted latest-first; two share createdAt and are ordered by id.
    let late = put(&mut book, order(1, Side::Sell, 100, 1).created_at(T0 + 20));
    let tie_a = put(&mut book, order(2, Side::Sell, 100, 1).created_at(T0 + 10));
    let tie_b = put(&mut book, order(3, Side::Sell, 100, 1).created_at(T0 + 10));
    let early = put(
        &mut book,
        order(1, Side::Sell, 100, 1).created_at(T0).nonce(9),
    );
    let better_price_late = put(&mut book, order(2, Side::Sell, 99, 1).created_at(T0 + 30));
    let taker = order(5, Side::Buy, 100, 5).created_at(T0 + 40).verified();
    let plan = book.plan(&dex_book::Taker::from_order(&taker), T0 + 40);
    let (first_tie, second_tie) = if tie_a.id() < tie_b.id() {
        (tie_a.id(), tie_b.id())
    } else {
        (tie_b.id(), tie_a.id())
    };
    let taken: Vec<_> = plan.fills.iter().map(|fill| fill.maker_order).collect();
    assert_eq!(
        taken,
        vec![
            better_price_late.id(),
            early.id(),
            first_tie,
            second_tie,
            late.id()
        ]
    );
    assert_eq!(plan.fills[0].price, Ticks(99));
    assert_eq!(plan.fills[1].price, Ticks(100));
}

#[test]
fn maker_cap_refuses_past_the_limit_per_maker() {
    let config = BookConfig {
        max_orders_per_maker: 2,
        ..BookConfig::default()
    };
    let mut book = Book::new(eth_usdc_id(), config);
    put(&mut book, order(1, Side::Sell, 101, 1).nonce(1));
    put(&mut book, order(1, Side::Buy, 99, 1).nonce(2));
    let third = order(1, Side::Sell, 102, 1).nonce(3).verified();
    assert_eq!(
        book.insert(Arc::new(third), T0),
        Err(Error::MakerCapReached {
            maker: key(1).address(),
            cap: 2,
        })
    );
    // Another maker is not affected.
    put(&mut book, order(2, Side::Sell, 102, 1));
    assert_eq!(book.maker_open_orders(&key(1).address()), 2);
}

#[test]
fn global_cap_evicts_the_order_furthest_from_the_mid() {
    let config = BookConfig {
        max_orders: 4,
        ..BookConfig::default()
    };
    let mut book = Book::new(eth_usdc_id(), config);
    put(&mut book, order(1, Side::Buy, 99, 1));
    let far_bid = put(&mut book, order(1, Side::Buy, 90, 1));
    put(&mut book, order(2, Side::Sell, 101, 1));
    put(&mut book, order(2, Side::Sell, 105, 1));
    events(&mut book);
    // Mid 100: the bid at 90 (distance 10) is further than the ask at 105 (5).
    let near = put(&mut book, order(3, Side::Sell, 102, 1));
    let events = events(&mut book);
    assert!(matches!(
        events[0],
        Event::Removed { order, reason: RemoveReason::Evicted } if order.id == far_bid.id()
    ));
    assert!(matches!(events[1], Event::Inserted(order) if order.id == near.id()));
    // Evicted orders leave no tombstone: they may come back when there is room.
    assert_eq!(book.status(&far_bid.id()), OrderStatus::Unknown);
    assert_eq!(book.len(), 4);
    // An incoming order that would be the furthest is refused.
    let too_far = order(3, Side::Sell, 120, 1).nonce(7).verified();
    assert_eq!(
        book.insert(Arc::new(too_far.clone()), T0),
        Err(Error::BookFull {
            id: too_far.id(),
            cap: 4,
        })
    );
    assert_eq!(book.len(), 4);
}

#[test]
fn global_cap_breaks_distance_ties_by_least_time_priority() {
    let config = BookConfig {
        max_orders: 2,
        ..BookConfig::default()
    };
    let mut book = Book::new(eth_usdc_id(), config);
    let bid = put(&mut book, order(1, Side::Buy, 98, 1).created_at(T0));
    let ask = put(&mut book, order(2, Side::Sell, 102, 1).created_at(T0 + 5));
    events(&mut book);
    // Both are 2 ticks from the mid of 100, and so is the newcomer at 98; the ask is the
    // latest of the resting pair but the newcomer is later still, so it is refused.
    let newcomer = order(3, Side::Buy, 98, 1).created_at(T0 + 9).verified();
    assert!(matches!(
        book.insert(Arc::new(newcomer), T0 + 9),
        Err(Error::BookFull { .. })
    ));
    // An earlier newcomer at the same distance evicts the latest resting order (the ask).
    let early = put(
        &mut book,
        order(3, Side::Buy, 98, 1).created_at(T0 + 1).nonce(2),
    );
    assert_eq!(book.status(&ask.id()), OrderStatus::Unknown);
    assert_eq!(book.status(&bid.id()), OrderStatus::Open);
    assert_eq!(book.status(&early.id()), OrderStatus::Open);
}

#[test]
fn update_lowers_remaining_and_keeps_the_proof() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 10));
    events(&mut book);
    let update = verified_update(key(1), &ask, 4);
    book.apply_update(&update).expect("lower remaining");
    let events = events(&mut book);
    assert_eq!(events.len(), 1);
    match events[0] {
        Event::Reduced { order, previous } => {
            assert_eq!(previous, Lots(10));
            assert_eq!(order.remaining, Lots(4));
        }
        other => panic!("expected Reduced, got {other:?}"),
    }
    assert_eq!(book.depth(1).asks, vec![level(101, 4, 1)]);
    assert_eq!(book.latest_update(&ask.id()), Some(&update));
}

#[test]
fn update_that_would_raise_remaining_is_refused_and_changes_nothing() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 10));
    book.apply_update(&verified_update(key(1), &ask, 4))
        .expect("lower remaining");
    events(&mut book);
    let digest = book.digest();
    assert_eq!(
        book.apply_update(&verified_update(key(1), &ask, 6)),
        Err(Error::RemainingWouldRise {
            id: ask.id(),
            current: Lots(4),
            update: Lots(6),
        })
    );
    assert_eq!(book.digest(), digest);
    assert!(book.events().is_empty());
    // An equal update is a no-op without events.
    book.apply_update(&verified_update(key(1), &ask, 4))
        .expect("equal is fine");
    assert!(book.events().is_empty());
}

#[test]
fn cancel_removes_and_leaves_a_tombstone_until_expiry() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 10));
    events(&mut book);
    book.apply_update(&verified_update(key(1), &ask, 0))
        .expect("cancel");
    let events = events(&mut book);
    assert!(matches!(
        events[..],
        [Event::Removed { order, reason: RemoveReason::Cancelled }]
            if order.id == ask.id() && order.remaining == Lots(10)
    ));
    assert!(book.is_empty());
    assert_eq!(book.status(&ask.id()), OrderStatus::Closed);
    assert_eq!(book.tombstones(), 1);
    // No ghost: a re-gossiped copy does not come back, nor does a late update apply.
    assert_eq!(
        book.insert(Arc::clone(&ask), T0),
        Err(Error::Closed { id: ask.id() })
    );
    assert_eq!(
        book.apply_update(&verified_update(key(1), &ask, 3)),
        Err(Error::Closed { id: ask.id() })
    );
    // At its expiry the tombstone goes, and the copy is refused as expired instead.
    assert_eq!(book.expire(T0 + HOUR_MS), 0);
    assert_eq!(book.tombstones(), 0);
    assert_eq!(book.status(&ask.id()), OrderStatus::Unknown);
    assert!(matches!(
        book.insert(Arc::clone(&ask), T0),
        Err(Error::Expired { .. })
    ));
}

#[test]
fn update_of_an_unknown_order_is_refused() {
    let mut book = book();
    let order = order(1, Side::Sell, 101, 10).verified();
    assert_eq!(
        book.apply_update(&verified_update(key(1), &order, 3)),
        Err(Error::UnknownOrder { id: order.id() })
    );
}

#[test]
fn remove_drops_with_a_tombstone() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 10));
    events(&mut book);
    book.remove(ask.id()).expect("open order");
    assert!(matches!(
        events(&mut book)[..],
        [Event::Removed {
            reason: RemoveReason::Dropped,
            ..
        }]
    ));
    assert_eq!(book.remove(ask.id()), Err(Error::Closed { id: ask.id() }));
    let unknown = order(2, Side::Sell, 101, 1).verified().id();
    assert_eq!(
        book.remove(unknown),
        Err(Error::UnknownOrder { id: unknown })
    );
}

#[test]
fn unlist_withdraws_without_a_tombstone_so_the_order_can_come_back() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 10));
    let other = put(&mut book, order(1, Side::Buy, 99, 4));
    events(&mut book);
    book.unlist(ask.id()).expect("open order");
    assert!(matches!(
        events(&mut book)[..],
        [Event::Removed {
            order,
            reason: RemoveReason::Unlisted,
        }] if order.id == ask.id()
    ));
    assert_eq!(book.status(&ask.id()), OrderStatus::Unknown);
    assert_eq!(book.tombstones(), 0);
    assert_eq!(book.digest(), orders_digest([(other.id(), Lots(4))]));
    let ids: Vec<_> = book
        .maker_orders(&key(1).address())
        .map(|view| view.id)
        .collect();
    assert_eq!(ids, vec![other.id()]);
    assert_eq!(
        book.unlist(ask.id()),
        Err(Error::UnknownOrder { id: ask.id() })
    );
    // Listed again by its node: sync brings it back.
    book.insert(Arc::clone(&ask), T0).expect("no tombstone");
    assert_eq!(book.status(&ask.id()), OrderStatus::Open);
    // A closed order stays closed; one with a take in progress stays.
    book.remove(other.id()).expect("open order");
    assert_eq!(
        book.unlist(other.id()),
        Err(Error::Closed { id: other.id() })
    );
    book.reserve(ask.id(), Lots(3)).expect("reserve");
    assert_eq!(
        book.unlist(ask.id()),
        Err(Error::Reserved {
            id: ask.id(),
            reserved: Lots(3)
        })
    );
    assert_eq!(book.status(&ask.id()), OrderStatus::Open);
}

#[test]
fn expire_removes_due_orders_in_expiry_order_and_time_never_goes_back() {
    let mut book = book();
    let second = put(
        &mut book,
        order(1, Side::Sell, 101, 1).expires_at(T0 + 2_000),
    );
    let first = put(&mut book, order(2, Side::Buy, 99, 1).expires_at(T0 + 1_000));
    let stays = put(&mut book, order(3, Side::Buy, 98, 1));
    events(&mut book);
    assert_eq!(book.expire(T0 + 2_000), 2);
    let removed: Vec<_> = events(&mut book)
        .into_iter()
        .map(|event| match event {
            Event::Removed {
                order,
                reason: RemoveReason::Expired,
            } => order.id,
            other => panic!("expected Removed Expired, got {other:?}"),
        })
        .collect();
    assert_eq!(removed, vec![first.id(), second.id()]);
    assert_eq!(book.status(&first.id()), OrderStatus::Unknown);
    assert_eq!(book.expire(T0), 0);
    assert_eq!(book.now(), T0 + 2_000);
    assert_eq!(book.len(), 1);
    assert_eq!(book.status(&stays.id()), OrderStatus::Open);
}

#[test]
fn insert_expires_what_is_due_first() {
    let mut book = book();
    let short = put(
        &mut book,
        order(1, Side::Sell, 101, 1).expires_at(T0 + 1_000),
    );
    events(&mut book);
    let later = Arc::new(order(2, Side::Sell, 102, 1).verified());
    book.insert(Arc::clone(&later), T0 + 1_000).expect("insert");
    let events = events(&mut book);
    assert!(matches!(
        events[0],
        Event::Removed { order, reason: RemoveReason::Expired } if order.id == short.id()
    ));
    assert!(matches!(events[1], Event::Inserted(order) if order.id == later.id()));
}

#[test]
fn suspend_hides_a_makers_orders_and_restore_brings_them_back() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 5));
    let bid = put(&mut book, order(1, Side::Buy, 99, 3).nonce(1));
    let other = put(&mut book, order(2, Side::Sell, 102, 2));
    events(&mut book);
    let digest_before = book.digest();
    assert_eq!(book.suspend_maker(key(1).address()), 2);
    let suspended: Vec<_> = events(&mut book)
        .into_iter()
        .map(|event| match event {
            Event::Suspended(order) => {
                assert!(order.suspended);
                order.id
            }
            other => panic!("expected Suspended, got {other:?}"),
        })
        .collect();
    assert_eq!(suspended.len(), 2);
    assert!(suspended.contains(&ask.id()) && suspended.contains(&bid.id()));
    assert!(book.is_suspended(&key(1).address()));
    assert_eq!(book.depth(5).asks, vec![level(102, 2, 1)]);
    assert!(book.depth(5).bids.is_empty());
    assert_eq!(book.status(&ask.id()), OrderStatus::Suspended);
    assert_eq!(book.suspended_len(), 2);
    assert_eq!(book.digest(), orders_digest([(other.id(), Lots(2))]));
    // Orders of a suspended maker arrive suspended.
    let newer = put(&mut book, order(1, Side::Sell, 103, 1).nonce(2));
    assert!(matches!(
        events(&mut book)[..],
        [Event::Inserted(a), Event::Suspended(b)] if a.id == newer.id() && b.id == newer.id()
    ));
    // Suspending twice changes nothing.
    assert_eq!(book.suspend_maker(key(1).address()), 0);
    // Restored in priority order.
    assert_eq!(book.restore_maker(key(1).address()), 3);
    let restored: Vec<_> = events(&mut book)
        .into_iter()
        .map(|event| match event {
            Event::Restored(order) => order.id,
            other => panic!("expected Restored, got {other:?}"),
        })
        .collect();
    let mut expected = vec![ask.id(), bid.id(), newer.id()];
    expected.sort();
    assert_eq!(restored, expected);
    book.apply_update(&verified_update(key(1), &newer, 0))
        .expect("cancel the newer one");
    assert_eq!(book.digest(), digest_before);
    // A maker without orders here is not recorded.
    assert_eq!(book.suspend_maker(key(7).address()), 0);
    assert!(!book.is_suspended(&key(7).address()));
}

#[test]
fn updates_apply_to_suspended_orders() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 5));
    book.suspend_maker(key(1).address());
    book.apply_update(&verified_update(key(1), &ask, 2))
        .expect("update");
    book.restore_maker(key(1).address());
    assert_eq!(book.depth(1).asks, vec![level(101, 2, 1)]);
}

#[test]
fn reserve_takes_quantity_out_of_the_offer() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 5));
    events(&mut book);
    book.reserve(ask.id(), Lots(3)).expect("reserve");
    assert!(matches!(
        events(&mut book)[..],
        [Event::Reserved { order, quantity: Lots(3) }]
            if order.available == Lots(2) && order.remaining == Lots(5)
    ));
    assert_eq!(book.depth(1).asks, vec![level(101, 2, 1)]);
    assert_eq!(
        book.reserve(ask.id(), Lots(3)),
        Err(Error::InsufficientAvailable {
            id: ask.id(),
            requested: Lots(3),
            available: Lots(2),
        })
    );
    assert_eq!(book.reserve(ask.id(), Lots(0)), Err(Error::ZeroQuantity));
    book.reserve(ask.id(), Lots(2)).expect("the rest");
    // A wholly reserved level is not offered.
    assert!(book.depth(1).asks.is_empty());
    assert_eq!(book.top().ask, None);
    let view = book.get(&ask.id()).expect("open");
    assert_eq!(
        (view.remaining, view.reserved, view.available()),
        (Lots(5), Lots(5), Lots(0))
    );
}

#[test]
fn reserve_refuses_suspended_unknown_and_closed_orders() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 5));
    book.suspend_maker(key(1).address());
    assert_eq!(
        book.reserve(ask.id(), Lots(1)),
        Err(Error::Suspended { id: ask.id() })
    );
    book.restore_maker(key(1).address());
    book.apply_update(&verified_update(key(1), &ask, 0))
        .expect("cancel");
    assert_eq!(
        book.reserve(ask.id(), Lots(1)),
        Err(Error::Closed { id: ask.id() })
    );
    let unknown = order(2, Side::Sell, 1, 1).verified().id();
    assert_eq!(
        book.reserve(unknown, Lots(1)),
        Err(Error::UnknownOrder { id: unknown })
    );
    assert_eq!(
        book.release(unknown, Lots(1)),
        Err(Error::UnknownOrder { id: unknown })
    );
    assert_eq!(
        book.commit(unknown, Lots(1)),
        Err(Error::UnknownOrder { id: unknown })
    );
}

#[test]
fn release_offers_quantity_again() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 5));
    book.reserve(ask.id(), Lots(3)).expect("reserve");
    events(&mut book);
    assert_eq!(
        book.release(ask.id(), Lots(4)),
        Err(Error::ReleaseAboveReserved {
            id: ask.id(),
            requested: Lots(4),
            reserved: Lots(3),
        })
    );
    book.release(ask.id(), Lots(3)).expect("release");
    assert!(matches!(
        events(&mut book)[..],
        [Event::Released { order, quantity: Lots(3) }] if order.available == Lots(5)
    ));
    assert_eq!(book.depth(1).asks, vec![level(101, 5, 1)]);
    assert_eq!(book.release(ask.id(), Lots(0)), Err(Error::ZeroQuantity));
}

#[test]
fn commit_lowers_remaining_and_the_makers_update_becomes_the_proof() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 5));
    book.reserve(ask.id(), Lots(3)).expect("reserve");
    events(&mut book);
    assert_eq!(
        book.commit(ask.id(), Lots(4)),
        Err(Error::CommitAboveReserved {
            id: ask.id(),
            requested: Lots(4),
            reserved: Lots(3),
        })
    );
    assert_eq!(book.commit(ask.id(), Lots(2)), Ok(Lots(3)));
    assert!(matches!(
        events(&mut book)[..],
        [Event::Reduced { order, previous: Lots(5) }]
            if order.remaining == Lots(3) && order.available == Lots(2)
    ));
    let view = book.get(&ask.id()).expect("open");
    assert_eq!(
        (view.remaining, view.reserved, view.committed),
        (Lots(3), Lots(1), Lots(2))
    );
    // Depth did not move: reserved lots were not offered.
    assert_eq!(book.depth(1).asks, vec![level(101, 2, 1)]);
    // The node signs remaining = 3 and applies it: no change, now the proof.
    let update = verified_update(key(1), &ask, 3);
    book.apply_update(&update).expect("equal");
    assert!(book.events().is_empty());
    assert_eq!(book.latest_update(&ask.id()), Some(&update));
}

#[test]
fn commit_of_the_whole_remainder_fills_the_order() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 5));
    book.reserve(ask.id(), Lots(5)).expect("reserve");
    events(&mut book);
    assert_eq!(book.commit(ask.id(), Lots(5)), Ok(Lots(0)));
    assert!(matches!(
        events(&mut book)[..],
        [Event::Removed { order, reason: RemoveReason::Filled }] if order.id == ask.id()
    ));
    assert_eq!(book.status(&ask.id()), OrderStatus::Closed);
    // The maker's update to zero then meets the tombstone.
    assert_eq!(
        book.apply_update(&verified_update(key(1), &ask, 0)),
        Err(Error::Closed { id: ask.id() })
    );
}

#[test]
fn update_below_the_reservation_cuts_it() {
    let mut book = book();
    let ask = put(&mut book, order(1, Side::Sell, 101, 10));
    book.reserve(ask.id(), Lots(6)).expect("reserve");
    book.apply_update(&verified_update(key(1), &ask, 4))
        .expect("update");
    let view = book.get(&ask.id()).expect("open");
    assert_eq!((view.remaining, view.reserved), (Lots(4), Lots(4)));
    assert!(book.depth(1).asks.is_empty());
}

#[test]
fn depth_aggregates_levels_best_first_up_to_n() {
    let mut book = book();
    put(&mut book, order(1, Side::Sell, 103, 1));
    put(&mut book, order(2, Side::Sell, 101, 2));
    put(&mut book, order(3, Side::Sell, 101, 3));
    put(&mut book, order(1, Side::Sell, 102, 4).nonce(1));
    put(&mut book, order(2, Side::Buy, 99, 5).nonce(1));
    put(&mut book, order(3, Side::Buy, 97, 6).nonce(1));
    let depth = book.depth(2);
    assert_eq!(depth.asks, vec![level(101, 5, 2), level(102, 4, 1)]);
    assert_eq!(depth.bids, vec![level(99, 5, 1), level(97, 6, 1)]);
    assert_eq!(book.depth(10).asks.len(), 3);
    assert_eq!(book.depth(0), dex_book::Depth::default());
}

#[test]
fn digest_is_keccak_over_sorted_ids_and_remaining() {
    let mut book = book();
    assert_eq!(book.digest(), orders_digest([]));
    let a = put(&mut book, order(1, Side::Sell, 101, 5));
    let b = put(&mut book, order(2, Side::Buy, 99, 7));
    let (low, high) = if a.id() < b.id() {
        ((a.id(), 5u64), (b.id(), 7u64))
    } else {
        ((b.id(), 7u64), (a.id(), 5u64))
    };
    let mut bytes = Vec::new();
    for (id, remaining) in [low, high] {
        bytes.extend_from_slice(id.0.as_slice());
        bytes.extend_from_slice(&remaining.to_be_bytes());
    }
    let expected: B256 = alloy_primitives::keccak256(&bytes);
    assert_eq!(book.digest(), expected);
    book.apply_update(&verified_update(key(1), &a, 4))
        .expect("lower");
    assert_ne!(book.digest(), expected);
}

#[test]
fn maker_root_covers_the_makers_open_orders() {
    let mut book = book();
    let a = put(&mut book, order(1, Side::Sell, 101, 5));
    let b = put(&mut book, order(1, Side::Buy, 99, 7).nonce(1));
    put(&mut book, order(2, Side::Buy, 98, 7));
    book.suspend_maker(key(1).address());
    assert_eq!(
        book.maker_root(&key(1).address()),
        (2, orders_digest([(a.id(), Lots(5)), (b.id(), Lots(7))]))
    );
    assert_eq!(book.maker_root(&key(5).address()), (0, orders_digest([])));
}

#[test]
fn orders_lists_every_open_order() {
    let mut book = book();
    let a = put(&mut book, order(1, Side::Sell, 101, 5));
    let b = put(&mut book, order(2, Side::Buy, 99, 7));
    book.suspend_maker(key(2).address());
    let mut ids: Vec<_> = book.orders().map(|view| view.id).collect();
    ids.sort();
    let mut expected = vec![a.id(), b.id()];
    expected.sort();
    assert_eq!(ids, expected);
}

#[test]
fn remove_reasons_have_stable_names() {
    let names: Vec<_> = [
        RemoveReason::Cancelled,
        RemoveReason::Filled,
        RemoveReason::Expired,
        RemoveReason::Evicted,
        RemoveReason::Dropped,
        RemoveReason::Unlisted,
    ]
    .iter()
    .map(|reason| reason.as_str())
    .collect();
    assert_eq!(
        names,
        [
            "cancelled",
            "filled",
            "expired",
            "evicted",
            "dropped",
            "unlisted"
        ]
    );
}

#[test]
fn revision_moves_with_every_change_and_only_then() {
    let mut book = book();
    assert_eq!(book.revision(), 0);
    let bid = put(&mut book, order(1, Side::Buy, 99, 7));
    let after_insert = book.revision();
    assert!(after_insert > 0);
    // Reads and draining the events change nothing.
    let _ = (book.depth(10), book.top(), book.digest());
    events(&mut book);
    assert_eq!(book.revision(), after_insert);
    // A refused insert changes nothing either.
    assert!(book.insert(Arc::clone(&bid), T0).is_err());
    assert_eq!(book.revision(), after_insert);
    let mut last = after_insert;
    let changes: [&dyn Fn(&mut Book); 3] = [
        &|book| book.reserve(bid.id(), Lots(2)).expect("reserved"),
        &|book| book.release(bid.id(), Lots(2)).expect("released"),
        &|book| book.remove(bid.id()).expect("removed"),
    ];
    for change in changes {
        change(&mut book);
        assert!(book.revision() > last, "every change moves the revision");
        last = book.revision();
    }
}
