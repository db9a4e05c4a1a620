//! The caps that bound a book's memory, one test per rule (the property tests in `props.rs`
//! check them against every sequence of operations).

use std::sync::Arc;

use dex_book::{Book, BookConfig, Error, Event, OrderStatus, RemoveReason};
use dex_primitives::{Lots, Side, VerifiedOrder};
use dex_test_utils::{HOUR_MS, T0, eth_usdc_id, verified_update};

use crate::support::{events, key, order, put};

fn capped(max_orders: usize, max_suspended: usize, max_tombstones: usize) -> Book {
    Book::new(
        eth_usdc_id(),
        BookConfig {
            max_orders_per_maker: 10,
            max_orders,
            max_suspended,
            max_tombstones,
            ..BookConfig::default()
        },
    )
}

fn cancel(book: &mut Book, maker: usize, order: &VerifiedOrder) {
    book.apply_update(&verified_update(key(maker), order, 0))
        .expect("cancel of an open order");
}

/// Makers post, cancel, post again and go silent, one after the other (free identities,
/// as an abuser would have). Suspended orders and tombstones used to count against no cap,
/// so the book grew by four ids a maker for the orders' lifetime; now what it holds stays
/// within `max_orders + max_suspended + max_tombstones`, and no cancelled order comes back.
#[test]
fn makers_who_post_cancel_and_go_silent_stay_within_the_caps() {
    let (max_orders, max_suspended, max_tombstones) = (4, 4, 4);
    let mut book = capped(max_orders, max_suspended, max_tombstones);
    let mut cancelled = Vec::new();
    for maker in 0..8 {
        // Each order expires a little after the previous one, as orders signed one after
        // the other with the same lifetime do.
        let signed = |side, price, k: u64| {
            let nonce = maker as u64 * 10 + k;
            order(maker, side, price, 1)
                .nonce(nonce)
                .expires_at(T0 + HOUR_MS + nonce)
        };
        let first = put(&mut book, signed(Side::Sell, 101, 0));
        let second = put(&mut book, signed(Side::Buy, 99, 1));
        cancel(&mut book, maker, &first);
        cancel(&mut book, maker, &second);
        cancelled.extend([first, second]);
        put(&mut book, signed(Side::Sell, 102, 2));
        put(&mut book, signed(Side::Buy, 98, 3));
        book.suspend_maker(key(maker).address());
        let held = book.len() + book.suspended_len() + book.tombstones();
        assert!(
            held <= max_orders + max_suspended + max_tombstones,
            "after maker {maker}: {} visible, {} suspended, {} tombstones",
            book.len(),
            book.suspended_len(),
            book.tombstones()
        );
    }
    assert_eq!(book.suspended_len(), max_suspended);
    assert_eq!(book.tombstones(), max_tombstones);
    assert_eq!(book.footprint().ids, max_suspended + max_tombstones);
    for order in &cancelled {
        assert!(
            matches!(
                book.insert(Arc::clone(order), T0),
                Err(Error::Closed { .. } | Error::PossiblyClosed { .. })
            ),
            "cancelled order {} came back",
            order.id()
        );
    }
}

#[test]
fn tombstones_past_the_cap_are_forgotten_soonest_expiring_first_and_cannot_come_back() {
    let mut book = capped(10, 10, 2);
    let expiring = |hours: u64, nonce: u64| {
        order(1, Side::Sell, 101, 1)
            .expires_at(T0 + hours * HOUR_MS)
            .nonce(nonce)
    };
    let late = put(&mut book, expiring(3, 1));
    let soon = put(&mut book, expiring(1, 2));
    cancel(&mut book, 1, &late);
    cancel(&mut book, 1, &soon);
    assert_eq!((book.tombstones(), book.forgotten()), (2, 0));
    assert_eq!(book.forgotten_until(), 0);

    // A third tombstone: the one expiring first (not the oldest) is forgotten.
    let middle = put(&mut book, expiring(2, 3));
    book.remove(middle.id()).expect("open");
    assert_eq!((book.tombstones(), book.forgotten()), (2, 1));
    assert_eq!(book.status(&soon.id()), OrderStatus::Unknown);
    assert_eq!(book.status(&late.id()), OrderStatus::Closed);
    assert_eq!(book.status(&middle.id()), OrderStatus::Closed);
    assert_eq!(book.forgotten_until(), T0 + HOUR_MS);
    events(&mut book);

    // The forgotten one cannot come back, nor can anything the book cannot tell from it.
    assert_eq!(
        book.insert(Arc::clone(&soon), T0),
        Err(Error::PossiblyClosed {
            id: soon.id(),
            expires_at: T0 + HOUR_MS,
            forgotten_until: T0 + HOUR_MS,
        })
    );
    let short = order(2, Side::Buy, 99, 1).expires_at(T0 + HOUR_MS - 1);
    assert!(matches!(
        book.insert(Arc::new(short.verified()), T0),
        Err(Error::PossiblyClosed { .. })
    ));
    assert!(events(&mut book).is_empty(), "refusals change nothing");
    // An order expiring later is accepted.
    put(
        &mut book,
        order(2, Side::Buy, 99, 1).expires_at(T0 + HOUR_MS + 1),
    );

    // Once the book's time passes the watermark, it no longer matters: every order it
    // covered has expired.
    book.expire(T0 + HOUR_MS);
    let fresh = order(3, Side::Sell, 103, 1)
        .created_at(T0 + HOUR_MS)
        .expires_at(T0 + HOUR_MS + 1);
    book.insert(Arc::new(fresh.verified()), T0 + HOUR_MS)
        .expect("after the watermark");
}

#[test]
fn with_no_room_for_tombstones_every_close_moves_the_watermark() {
    let mut book = capped(10, 10, 0);
    let ask = put(&mut book, order(1, Side::Sell, 101, 4));
    book.reserve(ask.id(), Lots(4)).expect("available");
    book.commit(ask.id(), Lots(4)).expect("reserved");
    assert!(matches!(
        events(&mut book).last(),
        Some(Event::Removed {
            reason: RemoveReason::Filled,
            ..
        })
    ));
    assert_eq!(book.tombstones(), 0);
    assert_eq!(book.forgotten_until(), T0 + HOUR_MS);
    assert!(matches!(
        book.insert(Arc::clone(&ask), T0),
        Err(Error::PossiblyClosed { .. })
    ));
}

#[test]
fn suspended_orders_past_their_cap_are_refused_on_insert_and_evicted_on_suspension() {
    let mut book = capped(10, 3, 10);
    let first = put(
        &mut book,
        order(1, Side::Sell, 101, 1).created_at(T0).nonce(1),
    );
    put(
        &mut book,
        order(1, Side::Sell, 102, 1).created_at(T0 + 1).nonce(2),
    );
    let early = put(
        &mut book,
        order(2, Side::Buy, 99, 1).created_at(T0).nonce(3),
    );
    let later = put(
        &mut book,
        order(2, Side::Buy, 98, 1).created_at(T0 + 1).nonce(4),
    );
    events(&mut book);
    assert_eq!(book.suspend_maker(key(1).address()), 2);
    events(&mut book);

    // Room for one more: maker 2's order of higher time priority is held, the other evicted.
    assert_eq!(book.suspend_maker(key(2).address()), 1);
    let events_now = events(&mut book);
    assert!(matches!(
        events_now[..],
        [
            Event::Suspended(held),
            Event::Removed { order: evicted, reason: RemoveReason::Evicted },
        ] if held.id == early.id() && evicted.id == later.id()
    ));
    assert_eq!(book.suspended_len(), 3);
    // Evicted, not closed: it may come back (by sync) once there is room.
    assert_eq!(book.status(&later.id()), OrderStatus::Unknown);

    // A new order of a silent maker finds no room.
    let newer = order(1, Side::Sell, 103, 1).nonce(5).verified();
    assert_eq!(
        book.insert(Arc::new(newer.clone()), T0),
        Err(Error::SuspendedFull {
            id: newer.id(),
            cap: 3,
        })
    );
    // Restoring maker 1 makes room again.
    assert_eq!(book.restore_maker(key(1).address()), 2);
    assert_eq!(book.status(&first.id()), OrderStatus::Open);
    book.insert(Arc::clone(&later), T0)
        .expect("room for the evicted order");
    assert_eq!(book.status(&later.id()), OrderStatus::Suspended);
}

/// Orders that leave before their expiry (evicted, cancelled) used to keep their entry in
/// the expiry heap for their whole lifetime.
#[test]
fn the_expiry_heap_stays_bounded_under_churn() {
    let mut book = capped(4, 0, 4);
    for nonce in 0..300 {
        let maker = (nonce % 4) as usize;
        let price = 100 + nonce % 3;
        let placed = Arc::new(
            order(maker, Side::Sell, price, 1)
                .nonce(nonce)
                .expires_at(T0 + HOUR_MS + nonce)
                .verified(),
        );
        // Past the visible cap either this order or a resting one is evicted.
        match book.insert(Arc::clone(&placed), T0) {
            Ok(()) if nonce % 2 == 0 => cancel(&mut book, maker, &placed),
            Ok(()) | Err(Error::BookFull { .. }) => {}
            Err(other) => panic!("unexpected refusal: {other}"),
        }
        let footprint = book.footprint();
        assert!(
            footprint.expiry_entries <= 2 * 4 + book.config().expiry_slack(),
            "{footprint:?}"
        );
        assert_eq!(footprint.tombstone_entries, book.tombstones());
        assert!(footprint.ids <= 8);
    }
}

/// Tombstones sharing the earliest expiry go together: the watermark covers them all, so
/// remembering any of them would keep nothing more out.
#[test]
fn tombstones_sharing_the_earliest_expiry_are_forgotten_together() {
    let mut book = capped(10, 10, 3);
    let at = |hours: u64, nonce: u64| {
        order(1, Side::Sell, 101, 1)
            .expires_at(T0 + hours * HOUR_MS)
            .nonce(nonce)
    };
    let twins = [put(&mut book, at(1, 1)), put(&mut book, at(1, 2))];
    let later = put(&mut book, at(2, 3));
    let last = put(&mut book, at(3, 4));
    for order in twins.iter().chain([&later, &last]) {
        book.remove(order.id()).expect("open");
    }
    assert_eq!((book.tombstones(), book.forgotten()), (2, 2));
    assert_eq!(book.forgotten_until(), T0 + HOUR_MS);
    for twin in &twins {
        assert_eq!(book.status(&twin.id()), OrderStatus::Unknown);
        assert!(matches!(
            book.insert(Arc::clone(twin), T0),
            Err(Error::PossiblyClosed { .. })
        ));
    }
    assert_eq!(book.status(&later.id()), OrderStatus::Closed);
}
