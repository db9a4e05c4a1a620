//! Property test of the book's internal invariants, which the public views cannot show:
//! every visible order is in the level its slot names, and nowhere else; levels' sums,
//! the ladders' order and their direct windows agree with the orders; the id map agrees
//! with the slots; the earliest due time is not after any queued entry.

use std::sync::{Arc, LazyLock};

use dex_primitives::{Lots, Side, TraderKey, VerifiedOrder};
use dex_test_utils::{OrderBuilder, T0, eth_usdc_id, trader};
use proptest::prelude::*;

use crate::{Book, BookConfig, Taker, book::Entry, ladder::Ladder};

static KEYS: LazyLock<Vec<TraderKey>> = LazyLock::new(|| (0..3).map(trader).collect());

/// 90 orders of 3 makers: prices near 100,000 with some far out (beyond a level window),
/// expiries spread so some expire during a test.
static POOL: LazyLock<Vec<Arc<VerifiedOrder>>> = LazyLock::new(|| {
    (0..90u64)
        .map(|number| {
            let side = if number % 2 == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let offset = (number * 7) % 11;
            let far = if number % 13 == 0 { 10_000 } else { 0 };
            let price = match side {
                Side::Buy => 100_000 - offset - far,
                Side::Sell => 99_995 + offset + far,
            };
            Arc::new(
                OrderBuilder::new()
                    .maker(&KEYS[(number % 3) as usize])
                    .side(side)
                    .price(price)
                    .quantity(1 + number % 9)
                    .created_at(T0 + number % 17)
                    .expires_at(T0 + 1_000 + (number % 5) * 1_000)
                    .nonce(number)
                    .verified(),
            )
        })
        .collect()
});

impl Ladder {
    /// Checks the ladder's own invariants and returns the live levels' (id, price).
    fn check(&self, side: Side) -> Vec<(u32, u64)> {
        let live = self.live();
        for pair in live.windows(2) {
            let ordered = match side {
                Side::Buy => pair[0].1 < pair[1].1,
                Side::Sell => pair[0].1 > pair[1].1,
            };
            assert!(ordered, "levels worst first, best last: {live:?}");
        }
        self.check_window(&live);
        live
    }
}

impl Book {
    fn check_invariants(&self) {
        let core = &self.core;
        let mut visible = 0;
        for (side, ladder) in [(Side::Buy, &core.bids), (Side::Sell, &core.asks)] {
            for (id, price) in ladder.check(side) {
                let level = ladder.level(id);
                assert_eq!(level.price, price);
                assert!(!level.orders.is_empty(), "an empty level is dropped");
                let mut available = 0;
                for slot in &level.orders {
                    let held = &core.slots[*slot as usize];
                    assert!(held.order.is_some() && !held.suspended);
                    assert_eq!((held.side, held.price, held.level), (side, price, id));
                    available += held.available();
                    visible += 1;
                }
                assert_eq!(level.available, available, "level sum at {price}");
                for pair in level.orders.windows(2) {
                    let (a, b) = (&core.slots[pair[0] as usize], &core.slots[pair[1] as usize]);
                    assert!(a.priority() < b.priority(), "queue in priority order");
                }
            }
        }
        assert_eq!(visible, core.visible);
        let mut open = 0;
        for (slot, held) in core.slots.iter().enumerate() {
            if held.order.is_some() {
                open += 1;
                assert_eq!(self.index.get(&held.id), Some(&Entry::open(slot as u32)));
            }
        }
        assert_eq!(self.index.len() - self.tombstones, open);
        if let Some(due) = self.expiries.peek() {
            assert!(self.next_due <= due.at);
        }
        if let Some(due) = self.closed.peek() {
            assert!(self.next_due <= due.at);
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, u64),
    Cancel(usize),
    Reserve(usize, u64),
    Commit(usize, u64),
    Take(usize, u64),
    Suspend(usize),
    Restore(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..90usize, 0..6_000u64).prop_map(|(order, now)| Op::Insert(order, now)),
        2 => (0..90usize).prop_map(Op::Cancel),
        1 => (0..90usize, 1..5u64).prop_map(|(order, lots)| Op::Reserve(order, lots)),
        1 => (0..90usize, 1..5u64).prop_map(|(order, lots)| Op::Commit(order, lots)),
        1 => (0..90usize, 0..6_000u64).prop_map(|(order, now)| Op::Take(order, now)),
        1 => (0..3usize).prop_map(Op::Suspend),
        1 => (0..3usize).prop_map(Op::Restore),
    ]
}

proptest! {
    #[test]
    fn internal_invariants_hold_after_every_operation(
        ops in proptest::collection::vec(op(), 1..120),
        max_orders in prop_oneof![Just(1_000usize), 5..20usize],
    ) {
        let config = BookConfig { max_orders, max_tombstones: 30, ..BookConfig::default() };
        let mut book = Book::new(eth_usdc_id(), config);
        for op in ops {
            match op {
                Op::Insert(order, now) => {
                    let _ = book.insert(Arc::clone(&POOL[order]), T0 + now);
                }
                Op::Cancel(order) => {
                    let _ = book.remove(POOL[order].id());
                }
                Op::Reserve(order, lots) => {
                    let _ = book.reserve(POOL[order].id(), Lots(lots));
                }
                Op::Commit(order, lots) => {
                    let id = POOL[order].id();
                    if book.reserve(id, Lots(lots)).is_ok() {
                        book.commit(id, Lots(lots)).expect("just reserved");
                    }
                }
                Op::Take(order, now) => {
                    // The maker side of every planned fill, as a node does for a taker.
                    let plan = book.plan(&Taker::from_order(&POOL[order]), T0 + now);
                    for fill in plan.fills {
                        book.reserve(fill.maker_order, fill.quantity).expect("planned");
                        book.commit(fill.maker_order, fill.quantity).expect("reserved");
                    }
                }
                Op::Suspend(maker) => {
                    book.suspend_maker(KEYS[maker].address());
                }
                Op::Restore(maker) => {
                    book.restore_maker(KEYS[maker].address());
                }
            }
            book.drain_events().for_each(drop);
            book.check_invariants();
        }
    }
}
