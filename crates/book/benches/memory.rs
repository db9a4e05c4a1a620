//! Heap bytes per resting order at 100,000 orders, for dex-book, lobster and orderbook-rs.
//!
//! Run: `cargo bench -p dex-book --bench memory` (signing the 100,000 orders takes a few
//! seconds first). Without `--bench` (as under `cargo test --benches`) it runs on 10,000.
//!
//! A counting global allocator measures the net heap growth of building each book from
//! the same orders: 100,000 limit orders (1..=100 lots) within 1,000 ticks on either side of
//! a mid, from 128 makers, none crossing. dex-book is given the verified orders as
//! `Arc<VerifiedOrder>` built beforehand (the node keeps them anyway: they are what it
//! forwards and serves to syncing peers), so its figure is the book's own structures; the
//! size of a signed order held by the `Arc` is reported on its own line. The book grows its
//! arrays by doubling, so a second line shows it built with `Book::with_capacity`.
//!
//! It also prints the time of `Book::digest` over that book and of `Book::visible_orders`,
//! the part of a digest a node's actor does (medians of 11).

use std::{alloc::System, hint::black_box, sync::Arc, thread};

use dex_book::{Book, BookConfig};
use dex_primitives::{Side, VerifiedOrder};
use dex_test_utils::{HOUR_MS, OrderBuilder, T0, eth_usdc_id, trader};
use orderbook_rs::prelude::{Id, Side as ObSide, TimeInForce};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, Stats, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const MID: u64 = 100_000;
const MAKERS: u64 = 128;

struct Spec {
    number: u64,
    side: Side,
    price: u64,
    quantity: u64,
}

/// Net bytes still allocated since the region started. (`stats_alloc` already adds a
/// reallocation's growth to `bytes_allocated` and its shrinking to `bytes_deallocated`.)
fn net(stats: Stats) -> isize {
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

fn spec(number: u64) -> Spec {
    // A fixed scramble of the number: reproducible, spread over sides, prices and sizes.
    let mixed = number.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    let side = if mixed & 1 == 0 {
        Side::Buy
    } else {
        Side::Sell
    };
    let offset = (mixed >> 1) % 1_000;
    let price = match side {
        Side::Buy => MID - 1 - offset,
        Side::Sell => MID + 1 + offset,
    };
    Spec {
        number,
        side,
        price,
        quantity: 1 + (mixed >> 20) % 100,
    }
}

/// Signs and verifies the orders on two threads (the machine has two cores).
fn verified_orders(specs: &[Spec]) -> Vec<Arc<VerifiedOrder>> {
    let keys: Vec<_> = (0..MAKERS).map(trader).collect();
    let half = specs.len() / 2;
    let build = |specs: &[Spec]| -> Vec<Arc<VerifiedOrder>> {
        specs
            .iter()
            .map(|spec| {
                Arc::new(
                    OrderBuilder::new()
                        .maker(&keys[(spec.number % MAKERS) as usize])
                        .side(spec.side)
                        .price(spec.price)
                        .quantity(spec.quantity)
                        .created_at(T0 + spec.number)
                        .expires_at(T0 + HOUR_MS)
                        .nonce(spec.number)
                        .verified(),
                )
            })
            .collect()
    };
    thread::scope(|scope| {
        let second = scope.spawn(|| build(&specs[half..]));
        let mut orders = build(&specs[..half]);
        orders.extend(second.join().expect("order signing does not panic"));
        orders
    })
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let count: u64 = if full { 100_000 } else { 10_000 };
    let specs: Vec<Spec> = (1..=count).map(spec).collect();

    let region = Region::new(GLOBAL);
    let orders = verified_orders(&specs);
    let orders_bytes = net(region.change());

    let region = Region::new(GLOBAL);
    let mut book = Book::new(eth_usdc_id(), BookConfig::default());
    for order in &orders {
        let now = order.order().created_at;
        book.insert(Arc::clone(order), now).expect("valid order");
        book.drain_events().for_each(drop);
    }
    let dex_bytes = net(region.change());
    assert_eq!(book.len() as u64, count);
    // What a digest of this book costs, and the part of it a node's actor does (copying
    // the visible orders out; the sort and the hashing happen elsewhere): medians of 11.
    let median_ms = |f: &dyn Fn()| {
        let mut times: Vec<f64> = (0..11)
            .map(|_| {
                let started = std::time::Instant::now();
                f();
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let digest_ms = median_ms(&|| {
        black_box(book.digest());
    });
    let visible_ms = median_ms(&|| drop(black_box(book.visible_orders())));
    drop(black_box(book));

    // The same with the room reserved up front, as a node that knows its market's size would.
    let region = Region::new(GLOBAL);
    let mut book = Book::with_capacity(eth_usdc_id(), BookConfig::default(), count as usize);
    for order in &orders {
        let now = order.order().created_at;
        book.insert(Arc::clone(order), now).expect("valid order");
        book.drain_events().for_each(drop);
    }
    let dex_sized_bytes = net(region.change());
    drop(black_box(book));

    let region = Region::new(GLOBAL);
    let mut lobster_book = lobster::OrderBook::default();
    for spec in &specs {
        black_box(lobster_book.execute(lobster::OrderType::Limit {
            id: u128::from(spec.number),
            side: match spec.side {
                Side::Buy => lobster::Side::Bid,
                Side::Sell => lobster::Side::Ask,
            },
            qty: spec.quantity,
            price: spec.price,
        }));
    }
    let lobster_bytes = net(region.change());
    drop(black_box(lobster_book));

    let region = Region::new(GLOBAL);
    let orderbook_rs_book = orderbook_rs::OrderBook::<()>::new("ETH/USDC");
    for spec in &specs {
        let side = match spec.side {
            Side::Buy => ObSide::Buy,
            Side::Sell => ObSide::Sell,
        };
        orderbook_rs_book
            .add_limit_order(
                Id::from_u64(spec.number),
                u128::from(spec.price),
                spec.quantity,
                side,
                TimeInForce::Gtc,
                None,
            )
            .expect("valid order");
    }
    let orderbook_rs_bytes = net(region.change());
    drop(black_box(orderbook_rs_book));

    let per_order = |bytes: isize| bytes as f64 / count as f64;
    // The Vec holding the Arcs is the benchmark's, not the orders'.
    let signed_order = per_order(orders_bytes) - std::mem::size_of::<Arc<VerifiedOrder>>() as f64;
    println!("heap bytes per resting order at {count} orders");
    println!(
        "{:<40} {:>10.1}",
        "p2pdex book structures",
        per_order(dex_bytes)
    );
    println!(
        "{:<40} {:>10.1}",
        "p2pdex book structures, with_capacity",
        per_order(dex_sized_bytes)
    );
    println!(
        "{:<40} {:>10.1}",
        "p2pdex signed order (Arc<VerifiedOrder>)", signed_order
    );
    println!(
        "{:<40} {:>10.1}",
        "p2pdex total",
        per_order(dex_bytes) + signed_order
    );
    println!("{:<40} {:>10.1}", "lobster", per_order(lobster_bytes));
    println!(
        "{:<40} {:>10.1}",
        "orderbook-rs",
        per_order(orderbook_rs_bytes)
    );
    println!("book_digest_ms {digest_ms:.2} ms (at {count} orders)");
    println!("book_visible_orders_ms {visible_ms:.2} ms (at {count} orders: the actor's part)");
    drop(orders);
}
