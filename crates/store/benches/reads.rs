//! What reading a node's swaps and own orders costs as they accumulate, as `name value unit`:
//!
//! - `store_swaps_all_ms_<n>`: every swap with its latest state ([`Store::swaps`]), what
//!   `GET /v1/swaps` read on every call before it was paged;
//! - `store_swaps_newest_ms_<n>`: the 100 most recently changed (`GET /v1/swaps`);
//! - `store_swaps_changed_us_<n>`: the swaps changed since a cursor, when 10 changed (what a
//!   client following the swaps, such as dex-mm, reads each refresh);
//! - `store_swaps_idle_us_<n>`: the same when nothing changed.
//!
//! - `store_orders_all_ms_<m>`: every own order ([`Store::own_orders`]), what
//!   `GET /v1/orders` read on every call before it was paged;
//! - `store_orders_newest_ms_<m>`: the 100 most recently placed (`GET /v1/orders`);
//! - `store_orders_open_ms_<m>`: the 100 left open, all others closed, across markets (what
//!   a restarting node restores and the orders stream starts from).
//!
//! Each is the median of 15 reads from a file database holding `n` swaps (10,000 by
//! default; `--swaps N`) of five log entries each and `m` own orders (20,000; `--orders M`).
//! Run: `scripts/bench.sh store`.

use std::time::Instant;

use dex_primitives::{B256, Lots, U256};
use dex_store::{OrderStatus, OwnOrder, Store, StoreOp};
use dex_swap::{Role, Swap};
use dex_test_utils::OrderBuilder;

const ROUNDS: usize = 15;

#[path = "../tests/it/fixtures.rs"]
mod fixtures;

use fixtures::{record, step};

/// Swap `n` of the bench (its secret and id vary with `n`).
fn swap(n: u64) -> Swap {
    fixtures::swap_with(
        Role::Taker,
        B256::from(U256::from(n + 1)),
        B256::from(U256::from(n + (1 << 40))),
    )
}

/// Median wall time of `read`, in seconds.
fn median(mut read: impl FnMut() -> usize, expected: usize) -> f64 {
    let mut times: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let listed = read();
            let elapsed = start.elapsed().as_secs_f64();
            assert_eq!(listed, expected, "swaps listed");
            elapsed
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[ROUNDS / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut count, mut orders) = (10_000u64, 20_000u64);
    while let Some(arg) = args.next() {
        let value = args.next().and_then(|value| value.parse().ok());
        match arg.as_str() {
            "--swaps" => count = value.expect("--swaps takes a number"),
            "--orders" => orders = value.expect("--orders takes a number"),
            _ => {}
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut store = Store::open(&dir.path().join("node.sqlite")).expect("a database");
    let mut swaps: Vec<Swap> = (0..count).map(swap).collect();
    for (n, swap) in swaps.iter_mut().enumerate() {
        let at = n as u64 * 10;
        store.create_swap(&record(swap), swap, at).expect("created");
        for k in 1..5 {
            step(&mut store, swap, at + k);
        }
    }
    let total = count as usize;
    let all = median(|| store.swaps().expect("read").len(), total);
    let newest = median(
        || store.swaps_changed(None, 100).expect("read").items.len(),
        total.min(100),
    );
    let cursor = store.swaps_changed(None, 1).expect("read").cursor;
    // What a client following the swaps reads each refresh.
    let since = |store: &Store| {
        store
            .swaps_changed(Some(cursor), 1000)
            .expect("read")
            .items
            .len()
    };
    let idle = median(|| since(&store), 0);
    let changed_count = swaps.len().min(10);
    for (k, swap) in swaps.iter_mut().take(changed_count).enumerate() {
        step(&mut store, swap, count * 10 + k as u64);
    }
    let changed = median(|| since(&store), changed_count);
    // Own orders, stored in batches of 16 as placements are.
    let placed: Vec<StoreOp> = (0..orders)
        .map(|nonce| {
            let signed = OrderBuilder::new().nonce(nonce + 1).sign();
            StoreOp::InsertOrder(Box::new(OwnOrder {
                id: signed.order.id(),
                remaining: signed.order.quantity,
                signed,
                status: OrderStatus::Open,
                latest_update: None,
                created_at: nonce,
                updated_at: nonce,
                client: None,
                ioc: false,
            }))
        })
        .collect();
    for batch in placed.chunks(16) {
        store.apply(batch, 0).expect("stored");
    }
    let placed = orders as usize;
    let orders_all = median(|| store.own_orders(None, None).expect("read").len(), placed);
    let orders_newest = median(
        || {
            let page = store.own_orders_page(None, None, None, 100);
            page.expect("read").items.len()
        },
        placed.min(100),
    );
    // All but 100 closed: the open ones (what a restart restores, what the orders stream
    // starts from) among many closed.
    let open_left = placed.min(100);
    let closes: Vec<StoreOp> = store
        .own_orders(None, None)
        .expect("read")
        .into_iter()
        .skip(open_left)
        .map(|order| StoreOp::UpdateOrder {
            id: order.id,
            remaining: Lots(0),
            status: OrderStatus::Cancelled,
            update: None,
        })
        .collect();
    for batch in closes.chunks(500) {
        store.apply(batch, 1).expect("stored");
    }
    let orders_open = median(
        || {
            store
                .own_orders(None, Some(OrderStatus::Open))
                .expect("read")
                .len()
        },
        open_left,
    );
    println!("store_swaps_all_ms_{count} {:.2} ms", all * 1e3);
    println!("store_swaps_newest_ms_{count} {:.3} ms", newest * 1e3);
    println!("store_swaps_changed_us_{count} {:.1} us", changed * 1e6);
    println!("store_swaps_idle_us_{count} {:.1} us", idle * 1e6);
    println!("store_orders_all_ms_{orders} {:.2} ms", orders_all * 1e3);
    println!(
        "store_orders_newest_ms_{orders} {:.3} ms",
        orders_newest * 1e3
    );
    println!("store_orders_open_ms_{orders} {:.3} ms", orders_open * 1e3);
}
