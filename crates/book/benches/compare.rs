//! dex-book against the order-book crates people reach for: `lobster` 0.7 and `orderbook-rs`
//! 0.15.3, fed the identical pre-generated operation stream in the same run.
//!
//! Run: `cargo bench -p dex-book --bench compare` (add
//! `-- --warm-up-time 1 --measurement-time 3` for a quick run).
//!
//! # Groups
//! - `mix`: start from 1,000 resting orders around a mid (500 bids, 500 asks, 1..=100 lots,
//!   within 50 ticks of the touch), then 10,000 operations: 60% new limit orders that do not
//!   cross (within 50 ticks behind the opposite touch), 30% cancels of a uniformly chosen
//!   resting order, 10% crossing orders that fill the top one to three opposite levels (a
//!   quarter of them larger, so their remainder rests at their limit). Throughput is in
//!   operations.
//! - `insert`: 1,000 non-crossing limit orders into the 1,000-order book (per order).
//! - `cancel`: 1,000 cancels of random orders from a 2,000-order book (per cancel).
//! - `sweep5`: one buy order that takes exactly the five best ask levels (two orders each)
//!   of a 1,000-level book, 100 times in a row (per sweep).
//!
//! # How the operations are made equivalent
//! The stream is generated once, with a simple model of the resting book that picks cancel
//! targets and sizes crossing orders, then replayed through each engine:
//! - every order has `minFill` = 1 lot and the same expiry, and `createdAt` grows by 1 ms per
//!   operation, so dex-book's price-time priority (signed `createdAt`, then id) is the arrival
//!   (FIFO) priority of the other two;
//! - crossing orders are signed by taker keys that own none of the orders they reach, so
//!   dex-book's self-trade prevention never fires (the other two have none configured);
//! - new limit order: lobster `Limit`, orderbook-rs `add_limit_order` (GTC), dex-book
//!   `insert`;
//! - cancel: lobster `Cancel`, orderbook-rs `cancel_order`, dex-book `apply_update` of the
//!   maker's signed update to `remaining = 0` (it leaves a tombstone, which the others do
//!   not need);
//! - crossing order: lobster `Limit` and orderbook-rs `add_limit_order`, which match and rest
//!   the remainder; for dex-book, what a node does for an incoming taker: `plan_into` the
//!   fills, then for each fill the maker side's `reserve` and `commit` (the fill lowering the
//!   maker order), then, if a remainder is left, `insert` of the taker order and `reserve` +
//!   `commit` of its filled quantity so only the remainder rests.
//!
//! Signing and verification are not the book's cost: every `VerifiedOrder` and
//! `VerifiedUpdate` is built before timing. dex-book's events are drained after every
//! operation (and passed to `black_box`), as a node does; the other engines' results are
//! passed to `black_box` too. Before timing, the whole `mix` stream is replayed once through
//! the three engines and their resulting top ten levels of each side must be identical.

use std::{collections::BTreeMap, hint::black_box, sync::Arc};

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dex_book::{Book, BookConfig, PlannedFill, Taker};
use dex_primitives::{Lots, Side, TraderKey, VerifiedOrder, VerifiedUpdate};
use dex_test_utils::{HOUR_MS, OrderBuilder, T0, eth_usdc_id, trader, verified_update};
use orderbook_rs::prelude::{Id, Side as ObSide, TimeInForce};

const MID: u64 = 100_000;
const INITIAL_ORDERS: usize = 1_000;
const MIX_OPERATIONS: usize = 10_000;
const RESTING_MAKERS: u64 = 64;
const TAKER_KEYS: u64 = 8;

/// One order of the stream: what every engine needs, plus dex-book's verified form.
struct Spec {
    /// Numeric id for lobster (`u128`) and orderbook-rs (`Id::from_u64`).
    number: u64,
    side: Side,
    price: u64,
    quantity: u64,
    verified: Arc<VerifiedOrder>,
}

#[derive(Clone, Copy)]
enum Op {
    /// A limit order that does not cross.
    Limit(usize),
    /// Cancel this (resting) order; the update is `cancels[.1]`.
    Cancel(usize, usize),
    /// A crossing limit order.
    Cross(usize),
}

/// The pre-generated orders, updates and operation streams.
struct Workload {
    specs: Vec<Spec>,
    cancels: Vec<VerifiedUpdate>,
    initial: Vec<usize>,
    mix: Vec<Op>,
    /// `insert` group: orders to insert into the initial book.
    extra: Vec<usize>,
    /// `cancel` group: cancels of orders of `initial` + `extra`.
    cancel_ops: Vec<Op>,
    /// `sweep5` group: resting asks and the sweeping bids.
    sweep_book: Vec<usize>,
    sweeps: Vec<usize>,
}

/// A small deterministic generator (xorshift64*), so every run benchmarks the same stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// An offset in 0..bound, skewed towards zero (orders cluster near the touch).
    fn near(&mut self, bound: u64) -> u64 {
        self.below(bound).min(self.below(bound))
    }
}

/// The generator's model of the resting book: FIFO queues per price, per side.
#[derive(Default)]
struct Model {
    bids: BTreeMap<u64, Vec<(usize, u64)>>,
    asks: BTreeMap<u64, Vec<(usize, u64)>>,
    /// Resting order → (side, price), for cancels.
    resting: Vec<usize>,
    where_is: BTreeMap<usize, (Side, u64)>,
}

impl Model {
    fn side(&mut self, side: Side) -> &mut BTreeMap<u64, Vec<(usize, u64)>> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn best(&self, side: Side) -> Option<u64> {
        match side {
            Side::Buy => self.bids.keys().next_back().copied(),
            Side::Sell => self.asks.keys().next().copied(),
        }
    }

    fn rest(&mut self, index: usize, side: Side, price: u64, quantity: u64) {
        self.side(side)
            .entry(price)
            .or_default()
            .push((index, quantity));
        self.resting.push(index);
        self.where_is.insert(index, (side, price));
    }

    fn remove(&mut self, index: usize) {
        let (side, price) = self.where_is.remove(&index).expect("resting");
        let levels = self.side(side);
        let queue = levels.get_mut(&price).expect("level");
        queue.retain(|(other, _)| *other != index);
        if queue.is_empty() {
            levels.remove(&price);
        }
        let position = self
            .resting
            .iter()
            .position(|other| *other == index)
            .expect("resting");
        self.resting.swap_remove(position);
    }

    /// The top `levels` opposite levels a taker of `side` would reach: their worst price,
    /// total quantity, the last level's quantity and the makers' orders.
    fn reach(&self, side: Side, levels: usize) -> Option<(u64, u64, u64, Vec<usize>)> {
        let opposite: Vec<(&u64, &Vec<(usize, u64)>)> = match side {
            Side::Buy => self.asks.iter().take(levels).collect(),
            Side::Sell => self.bids.iter().rev().take(levels).collect(),
        };
        let (last_price, last_queue) = opposite.last()?;
        let total = opposite
            .iter()
            .flat_map(|(_, queue)| queue.iter())
            .map(|(_, quantity)| quantity)
            .sum();
        let last = last_queue.iter().map(|(_, quantity)| quantity).sum();
        let orders = opposite
            .iter()
            .flat_map(|(_, queue)| queue.iter())
            .map(|(index, _)| *index)
            .collect();
        Some((**last_price, total, last, orders))
    }

    /// Fills `quantity` of a taker of `side` up to `limit`, FIFO; returns what is left.
    fn take(&mut self, side: Side, limit: u64, mut quantity: u64) -> u64 {
        while quantity > 0 {
            let Some(price) = self.best(side.opposite()) else {
                break;
            };
            let crosses = match side {
                Side::Buy => price <= limit,
                Side::Sell => price >= limit,
            };
            if !crosses {
                break;
            }
            let queue = self
                .side(side.opposite())
                .get_mut(&price)
                .expect("best level");
            let (index, resting) = queue[0];
            let filled = resting.min(quantity);
            quantity -= filled;
            if filled == resting {
                self.remove(index);
            } else {
                queue[0].1 -= filled;
            }
        }
        quantity
    }
}

struct Generator {
    rng: Rng,
    makers: Vec<TraderKey>,
    takers: Vec<TraderKey>,
    specs: Vec<Spec>,
    /// Maker key index of each spec (taker keys after the resting makers).
    owner: Vec<usize>,
    cancels: Vec<VerifiedUpdate>,
    clock: u64,
}

impl Generator {
    fn new() -> Generator {
        Generator {
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            makers: (0..RESTING_MAKERS).map(trader).collect(),
            takers: (RESTING_MAKERS..RESTING_MAKERS + TAKER_KEYS)
                .map(trader)
                .collect(),
            specs: Vec::new(),
            owner: Vec::new(),
            cancels: Vec::new(),
            clock: T0,
        }
    }

    fn key(&self, owner: usize) -> &TraderKey {
        if owner < self.makers.len() {
            &self.makers[owner]
        } else {
            &self.takers[owner - self.makers.len()]
        }
    }

    fn order(&mut self, owner: usize, side: Side, price: u64, quantity: u64) -> usize {
        self.clock += 1;
        let number = self.specs.len() as u64 + 1;
        let verified = OrderBuilder::new()
            .maker(self.key(owner))
            .side(side)
            .price(price)
            .quantity(quantity)
            .created_at(self.clock)
            .expires_at(T0 + HOUR_MS)
            .nonce(number)
            .verified();
        self.specs.push(Spec {
            number,
            side,
            price,
            quantity,
            verified: Arc::new(verified),
        });
        self.owner.push(owner);
        self.specs.len() - 1
    }

    fn side(&mut self) -> Side {
        if self.rng.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    /// A non-crossing limit order within 50 ticks behind the opposite touch.
    fn limit(&mut self, model: &mut Model) -> usize {
        let side = self.side();
        let offset = self.rng.near(50);
        let price = match side {
            Side::Buy => model.best(Side::Sell).unwrap_or(MID + 1) - 1 - offset,
            Side::Sell => model.best(Side::Buy).unwrap_or(MID - 1) + 1 + offset,
        };
        let quantity = 1 + self.rng.below(100);
        let owner = self.rng.below(RESTING_MAKERS) as usize;
        let index = self.order(owner, side, price, quantity);
        model.rest(index, side, price, quantity);
        index
    }

    fn cancel(&mut self, model: &mut Model) -> Op {
        let victim = model.resting[self.rng.below(model.resting.len() as u64) as usize];
        model.remove(victim);
        let update = verified_update(
            self.key(self.owner[victim]),
            &self.specs[victim].verified,
            0,
        );
        self.cancels.push(update);
        Op::Cancel(victim, self.cancels.len() - 1)
    }

    /// A crossing order filling the top one to three opposite levels.
    fn cross(&mut self, model: &mut Model) -> Option<usize> {
        let side = self.side();
        let levels = 1 + self.rng.below(3) as usize;
        let (limit, total, last, reached) = model.reach(side, levels)?;
        let quantity = if self.rng.below(4) == 0 {
            // Larger than the liquidity up to its limit: the remainder rests there.
            total + 1 + self.rng.below(50)
        } else {
            // Clears the levels before the last and part (or all) of the last one.
            total - self.rng.below(last)
        };
        // A taker key that owns none of the orders it reaches (no self-trade anywhere).
        let owners: Vec<usize> = reached.iter().map(|index| self.owner[*index]).collect();
        let taker = (0..TAKER_KEYS as usize)
            .map(|offset| self.makers.len() + offset)
            .find(|key| !owners.contains(key))?;
        let index = self.order(taker, side, limit, quantity);
        let left = model.take(side, limit, quantity);
        if left > 0 {
            model.rest(index, side, limit, left);
        }
        Some(index)
    }
}

fn workload() -> Workload {
    let mut generator = Generator::new();
    let mut model = Model::default();
    let mut initial = Vec::new();
    for _ in 0..INITIAL_ORDERS {
        initial.push(generator.limit(&mut model));
    }
    // The single-op groups start from copies of this state.
    let mut extra_model = Model {
        bids: model.bids.clone(),
        asks: model.asks.clone(),
        resting: model.resting.clone(),
        where_is: model.where_is.clone(),
    };
    let mut mix = Vec::with_capacity(MIX_OPERATIONS);
    while mix.len() < MIX_OPERATIONS {
        let roll = generator.rng.below(100);
        if roll < 60 {
            mix.push(Op::Limit(generator.limit(&mut model)));
        } else if roll < 90 {
            mix.push(generator.cancel(&mut model));
        } else if let Some(index) = generator.cross(&mut model) {
            mix.push(Op::Cross(index));
        }
    }
    let extra: Vec<usize> = (0..1_000)
        .map(|_| generator.limit(&mut extra_model))
        .collect();
    let cancel_ops: Vec<Op> = (0..1_000)
        .map(|_| generator.cancel(&mut extra_model))
        .collect();
    // A ladder of 1,000 ask levels, two orders each, and bids sweeping five levels each.
    let mut sweep_book = Vec::new();
    for level in 0..1_000 {
        for _ in 0..2 {
            let owner = generator.rng.below(RESTING_MAKERS) as usize;
            sweep_book.push(generator.order(owner, Side::Sell, MID + 1 + level, 10));
        }
    }
    let taker = generator.makers.len();
    let sweeps = (0..100)
        .map(|sweep| generator.order(taker, Side::Buy, MID + 5 + 5 * sweep, 100))
        .collect();
    Workload {
        specs: generator.specs,
        cancels: generator.cancels,
        initial,
        mix,
        extra,
        cancel_ops,
        sweep_book,
        sweeps,
    }
}

/// Top levels of (bids best first, asks best first) as (price, quantity).
type TopLevels = (Vec<(u64, u64)>, Vec<(u64, u64)>);

/// One engine, driven by the workload's operations.
trait Engine {
    fn new_book() -> Self;
    fn limit(&mut self, workload: &Workload, index: usize);
    fn cancel(&mut self, workload: &Workload, index: usize, update: usize);
    fn cross(&mut self, workload: &Workload, index: usize);
    /// Top `levels` of (bids best first, asks best first) as (price, quantity).
    fn top(&mut self, levels: usize) -> TopLevels;

    fn apply(&mut self, workload: &Workload, op: Op) {
        match op {
            Op::Limit(index) => self.limit(workload, index),
            Op::Cancel(index, update) => self.cancel(workload, index, update),
            Op::Cross(index) => self.cross(workload, index),
        }
    }

    /// Prepares the inputs of `ops` before timing (dex-book: the orders to hand over).
    fn prepare(&mut self, _workload: &Workload, _ops: &[Op]) {}

    fn with(workload: &Workload, orders: &[usize]) -> Self
    where
        Self: Sized,
    {
        let mut engine = Self::new_book();
        for index in orders {
            engine.limit(workload, *index);
        }
        engine
    }
}

/// dex-book, with a reusable fill buffer as a node would keep.
struct DexBook {
    book: Book,
    fills: Vec<PlannedFill>,
    /// The orders the timed operations hand over, by spec index. A node moves the `Arc` it
    /// wrapped the freshly verified order in into the book; cloning one here instead would
    /// time an atomic increment on a cold cache line that a node never does.
    inputs: Vec<Option<Arc<VerifiedOrder>>>,
}

impl DexBook {
    fn take(&mut self, workload: &Workload, index: usize) -> Arc<VerifiedOrder> {
        match self.inputs.get_mut(index).and_then(Option::take) {
            Some(order) => order,
            None => Arc::clone(&workload.specs[index].verified),
        }
    }

    fn drain(&mut self) {
        for event in self.book.drain_events() {
            black_box(event);
        }
    }
}

impl Engine for DexBook {
    fn new_book() -> Self {
        DexBook {
            // lobster's default preallocates 10,000 orders; give dex-book the same room.
            book: Book::with_capacity(eth_usdc_id(), BookConfig::default(), 10_000),
            fills: Vec::new(),
            inputs: Vec::new(),
        }
    }

    fn prepare(&mut self, workload: &Workload, ops: &[Op]) {
        self.inputs = vec![None; workload.specs.len()];
        for op in ops {
            if let Op::Limit(index) | Op::Cross(index) = *op {
                self.inputs[index] = Some(Arc::clone(&workload.specs[index].verified));
            }
        }
    }

    fn limit(&mut self, workload: &Workload, index: usize) {
        let order = self.take(workload, index);
        let now = order.order().created_at;
        let result = self.book.insert(order, now);
        black_box(result).expect("valid insert");
        self.drain();
    }

    fn cancel(&mut self, workload: &Workload, _index: usize, update: usize) {
        let result = self.book.apply_update(&workload.cancels[update]);
        black_box(result).expect("valid cancel");
        self.drain();
    }

    fn cross(&mut self, workload: &Workload, index: usize) {
        let order = self.take(workload, index);
        let now = order.order().created_at;
        let taker = Taker::from_order(&order);
        let filled = self.book.plan_into(&taker, now, &mut self.fills);
        for fill in &self.fills {
            self.book
                .reserve(fill.maker_order, fill.quantity)
                .expect("planned quantity is available");
            self.book
                .commit(fill.maker_order, fill.quantity)
                .expect("just reserved");
        }
        if filled < taker.quantity {
            self.book.insert(order, now).expect("valid insert");
            if filled > Lots::ZERO {
                self.book.reserve(taker.id, filled).expect("fresh order");
                self.book.commit(taker.id, filled).expect("just reserved");
            }
        }
        self.drain();
    }

    fn top(&mut self, levels: usize) -> TopLevels {
        let depth = self.book.depth(levels);
        let pairs = |levels: Vec<dex_book::DepthLevel>| {
            levels
                .into_iter()
                .map(|level| (level.price.0, level.quantity.0))
                .collect()
        };
        (pairs(depth.bids), pairs(depth.asks))
    }
}

struct Lobster(lobster::OrderBook);

fn lobster_side(side: Side) -> lobster::Side {
    match side {
        Side::Buy => lobster::Side::Bid,
        Side::Sell => lobster::Side::Ask,
    }
}

impl Engine for Lobster {
    fn new_book() -> Self {
        Lobster(lobster::OrderBook::default())
    }

    fn limit(&mut self, workload: &Workload, index: usize) {
        let spec = &workload.specs[index];
        black_box(self.0.execute(lobster::OrderType::Limit {
            id: u128::from(spec.number),
            side: lobster_side(spec.side),
            qty: spec.quantity,
            price: spec.price,
        }));
    }

    fn cancel(&mut self, workload: &Workload, index: usize, _update: usize) {
        black_box(self.0.execute(lobster::OrderType::Cancel {
            id: u128::from(workload.specs[index].number),
        }));
    }

    fn cross(&mut self, workload: &Workload, index: usize) {
        self.limit(workload, index);
    }

    fn top(&mut self, levels: usize) -> TopLevels {
        // `depth` returns every level; its argument only sizes the vectors.
        let depth = self.0.depth(levels);
        let bids = depth
            .bids
            .iter()
            .rev()
            .take(levels)
            .map(|level| (level.price, level.qty))
            .collect();
        let asks = depth
            .asks
            .iter()
            .take(levels)
            .map(|level| (level.price, level.qty))
            .collect();
        (bids, asks)
    }
}

struct OrderbookRs(orderbook_rs::OrderBook<()>);

impl Engine for OrderbookRs {
    fn new_book() -> Self {
        OrderbookRs(orderbook_rs::OrderBook::new("ETH/USDC"))
    }

    fn limit(&mut self, workload: &Workload, index: usize) {
        let spec = &workload.specs[index];
        let side = match spec.side {
            Side::Buy => ObSide::Buy,
            Side::Sell => ObSide::Sell,
        };
        let result = self.0.add_limit_order(
            Id::from_u64(spec.number),
            u128::from(spec.price),
            spec.quantity,
            side,
            TimeInForce::Gtc,
            None,
        );
        black_box(result).expect("valid order");
    }

    fn cancel(&mut self, workload: &Workload, index: usize, _update: usize) {
        let result = self
            .0
            .cancel_order(Id::from_u64(workload.specs[index].number));
        black_box(result).expect("resting order");
    }

    fn cross(&mut self, workload: &Workload, index: usize) {
        self.limit(workload, index);
    }

    fn top(&mut self, levels: usize) -> TopLevels {
        let snapshot = self.0.create_snapshot(levels).expect("snapshot");
        let bids = snapshot
            .bids
            .iter()
            .map(|level| {
                (
                    level.price().as_u128() as u64,
                    level.visible_quantity().as_u64(),
                )
            })
            .collect();
        let asks = snapshot
            .asks
            .iter()
            .map(|level| {
                (
                    level.price().as_u128() as u64,
                    level.visible_quantity().as_u64(),
                )
            })
            .collect();
        (bids, asks)
    }
}

/// Replays the mix once through an engine and returns its top ten levels.
fn replay<E: Engine>(workload: &Workload) -> TopLevels {
    let mut engine = E::with(workload, &workload.initial);
    for op in &workload.mix {
        engine.apply(workload, *op);
    }
    engine.top(10)
}

/// The timed part: the operations, through one engine. Not inlined, so profilers can
/// single it out (`valgrind --toggle-collect='compare::run*'`).
#[inline(never)]
fn run<E: Engine>(mut engine: E, workload: &Workload, ops: &[Op]) -> E {
    for op in ops {
        engine.apply(workload, *op);
    }
    engine
}

fn bench_engine<E: Engine>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    workload: &Workload,
    setup: &[usize],
    ops: &[Op],
) {
    group.bench_function(BenchmarkId::from_parameter(name), |bencher| {
        bencher.iter_batched(
            || {
                let mut engine = E::with(workload, setup);
                engine.prepare(workload, ops);
                engine
            },
            |engine| run(engine, workload, ops),
            BatchSize::PerIteration,
        )
    });
}

fn benches(c: &mut Criterion) {
    let workload = workload();
    let reference = replay::<DexBook>(&workload);
    assert_eq!(
        reference,
        replay::<Lobster>(&workload),
        "lobster ends the mix with the same book"
    );
    assert_eq!(
        reference,
        replay::<OrderbookRs>(&workload),
        "orderbook-rs ends the mix with the same book"
    );

    let mut group = c.benchmark_group("mix");
    group.sample_size(30);
    group.throughput(Throughput::Elements(workload.mix.len() as u64));
    bench_engine::<DexBook>(
        &mut group,
        "p2pdex",
        &workload,
        &workload.initial,
        &workload.mix,
    );
    bench_engine::<Lobster>(
        &mut group,
        "lobster",
        &workload,
        &workload.initial,
        &workload.mix,
    );
    bench_engine::<OrderbookRs>(
        &mut group,
        "orderbook-rs",
        &workload,
        &workload.initial,
        &workload.mix,
    );
    group.finish();

    let inserts: Vec<Op> = workload
        .extra
        .iter()
        .map(|index| Op::Limit(*index))
        .collect();
    let mut group = c.benchmark_group("insert");
    group.throughput(Throughput::Elements(inserts.len() as u64));
    bench_engine::<DexBook>(&mut group, "p2pdex", &workload, &workload.initial, &inserts);
    bench_engine::<Lobster>(
        &mut group,
        "lobster",
        &workload,
        &workload.initial,
        &inserts,
    );
    bench_engine::<OrderbookRs>(
        &mut group,
        "orderbook-rs",
        &workload,
        &workload.initial,
        &inserts,
    );
    group.finish();

    let two_thousand: Vec<usize> = workload
        .initial
        .iter()
        .chain(&workload.extra)
        .copied()
        .collect();
    let mut group = c.benchmark_group("cancel");
    group.throughput(Throughput::Elements(workload.cancel_ops.len() as u64));
    bench_engine::<DexBook>(
        &mut group,
        "p2pdex",
        &workload,
        &two_thousand,
        &workload.cancel_ops,
    );
    bench_engine::<Lobster>(
        &mut group,
        "lobster",
        &workload,
        &two_thousand,
        &workload.cancel_ops,
    );
    bench_engine::<OrderbookRs>(
        &mut group,
        "orderbook-rs",
        &workload,
        &two_thousand,
        &workload.cancel_ops,
    );
    group.finish();

    let sweeps: Vec<Op> = workload
        .sweeps
        .iter()
        .map(|index| Op::Cross(*index))
        .collect();
    let mut group = c.benchmark_group("sweep5");
    group.throughput(Throughput::Elements(sweeps.len() as u64));
    bench_engine::<DexBook>(
        &mut group,
        "p2pdex",
        &workload,
        &workload.sweep_book,
        &sweeps,
    );
    bench_engine::<Lobster>(
        &mut group,
        "lobster",
        &workload,
        &workload.sweep_book,
        &sweeps,
    );
    bench_engine::<OrderbookRs>(
        &mut group,
        "orderbook-rs",
        &workload,
        &workload.sweep_book,
        &sweeps,
    );
    group.finish();
}

criterion_group!(compare, benches);
criterion_main!(compare);
