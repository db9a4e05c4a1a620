//! Shared fixtures: cached keys, a pool of pre-signed orders and memoized updates, so the
//! property tests spend their time in the book, not in signing.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
};

use dex_book::{Book, BookConfig, Event};
use dex_primitives::{Side, TraderKey, VerifiedOrder, VerifiedUpdate};
use dex_test_utils::{OrderBuilder, T0, eth_usdc_id, trader, verified_update};

/// Makers used by the tests.
pub(crate) const MAKERS: usize = 4;

static KEYS: LazyLock<Vec<TraderKey>> = LazyLock::new(|| (0..8).map(trader).collect());

/// Trader key `index` (0..8), derived once.
pub(crate) fn key(index: usize) -> &'static TraderKey {
    &KEYS[index]
}

/// A book of the test market with default limits.
pub(crate) fn book() -> Book {
    Book::new(eth_usdc_id(), BookConfig::default())
}

/// A verified order of maker `maker` with the builder's defaults otherwise.
pub(crate) fn order(maker: usize, side: Side, price: u64, quantity: u64) -> OrderBuilder {
    OrderBuilder::new()
        .maker(key(maker))
        .side(side)
        .price(price)
        .quantity(quantity)
}

/// Inserts at [`T0`] and panics on refusal; returns the order.
pub(crate) fn put(book: &mut Book, builder: OrderBuilder) -> Arc<VerifiedOrder> {
    let order = Arc::new(builder.verified());
    book.insert(Arc::clone(&order), T0)
        .expect("the test order is accepted");
    order
}

/// Drains the events.
pub(crate) fn events(book: &mut Book) -> Vec<Event> {
    book.drain_events().collect()
}

/// One order of the pool, with the index of its maker.
#[derive(Debug)]
pub(crate) struct Pooled {
    pub(crate) order: Arc<VerifiedOrder>,
    pub(crate) maker: usize,
}

/// Orders in the pool.
pub(crate) const POOL: usize = 120;

/// A deterministic pool of varied orders: 4 makers, both sides, prices 96..=104 around a
/// mid of 100 (so some cross), quantities 1..=12, some large `minFill`s, `createdAt` values
/// that collide (ties broken by id) and expiries from 3 s to an hour after [`T0`].
pub(crate) static ORDERS: LazyLock<Vec<Pooled>> = LazyLock::new(|| {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: u64| {
        // xorshift64*: enough to spread the parameters, reproducible everywhere.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound
    };
    (0..POOL)
        .map(|index| {
            let maker = next(MAKERS as u64) as usize;
            let side = if next(2) == 0 { Side::Buy } else { Side::Sell };
            let price = 96 + next(9);
            let quantity = 1 + next(12);
            let min_fill = match next(4) {
                0 => 1 + next(quantity),
                _ => 1,
            };
            let created_at = T0 + 100 * next(20);
            let expires_at = T0
                + match next(4) {
                    0 => 3_000,
                    1 => 6_000,
                    2 => 9_000,
                    _ => 3_600_000,
                };
            let order = OrderBuilder::new()
                .maker(key(maker))
                .side(side)
                .price(price)
                .quantity(quantity)
                .min_fill(min_fill)
                .created_at(created_at)
                .expires_at(expires_at)
                .nonce(index as u64)
                .verified();
            Pooled {
                order: Arc::new(order),
                maker,
            }
        })
        .collect()
});

static UPDATES: LazyLock<Mutex<HashMap<(usize, u64), VerifiedUpdate>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The signed update of pool order `index` to `remaining` (memoized: signing is slow).
pub(crate) fn pool_update(index: usize, remaining: u64) -> VerifiedUpdate {
    let mut cache = UPDATES
        .lock()
        .expect("no test panics while holding the cache");
    *cache.entry((index, remaining)).or_insert_with(|| {
        let pooled = &ORDERS[index];
        verified_update(key(pooled.maker), &pooled.order, remaining)
    })
}
