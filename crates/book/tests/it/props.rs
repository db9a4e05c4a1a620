//! Property tests: the book agrees with the reference model on every operation; the result
//! does not depend on arrival order; quantities are conserved; crosses are always flagged;
//! plans respect self-trade prevention, `minFill` and strict price-time priority.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::Arc,
};

use dex_book::{Book, BookConfig, Cross, Event, OrderStatus, PlannedFill, RemoveReason, Taker};
use dex_primitives::{Lots, OrderId, Side, UnixMillis, VerifiedOrder};
use dex_test_utils::{T0, eth_usdc_id};
use proptest::prelude::*;

use crate::{
    model::Model,
    support::{MAKERS, ORDERS, POOL, key, pool_update},
};

/// One operation on a book, naming pool orders by index.
#[derive(Debug, Clone)]
enum Op {
    Insert {
        order: usize,
        now: u64,
    },
    Update {
        order: usize,
        remaining: u64,
    },
    Remove {
        order: usize,
    },
    Expire {
        now: u64,
    },
    Suspend {
        maker: usize,
    },
    Restore {
        maker: usize,
    },
    Reserve {
        order: usize,
        quantity: u64,
    },
    Release {
        order: usize,
        quantity: u64,
    },
    Commit {
        order: usize,
        quantity: u64,
    },
    Plan {
        order: usize,
        quantity: u64,
        min_fill: u64,
        now: u64,
    },
    CheckTake {
        maker_order: usize,
        taker: usize,
        quantity: u64,
        now: u64,
    },
}

fn pool(index: usize) -> &'static Arc<VerifiedOrder> {
    &ORDERS[index].order
}

fn id(index: usize) -> OrderId {
    pool(index).id()
}

/// Book time offsets: mostly early, sometimes up to 12 s after T0, so orders expiring at 3,
/// 6 and 9 s do expire.
fn now_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![3 => 0u64..2_000, 1 => 0u64..12_000]
}

/// Operations on a few pool orders (`universe`), so most of them meet orders in the book.
fn ops_strategy() -> impl Strategy<Value = Vec<Op>> {
    prop::sample::subsequence((0..POOL).collect::<Vec<_>>(), 4..24).prop_flat_map(|universe| {
        let pick = prop::sample::select(universe);
        prop::collection::vec(op_strategy(pick), 1..100)
    })
}

fn op_strategy(order: impl Strategy<Value = usize> + Clone + 'static) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (order.clone(), now_strategy()).prop_map(|(order, now)| Op::Insert { order, now }),
        2 => (order.clone(), 0u64..=12).prop_map(|(order, remaining)| Op::Update { order, remaining }),
        1 => order.clone().prop_map(|order| Op::Remove { order }),
        1 => now_strategy().prop_map(|now| Op::Expire { now }),
        1 => (0..MAKERS).prop_map(|maker| Op::Suspend { maker }),
        1 => (0..MAKERS).prop_map(|maker| Op::Restore { maker }),
        2 => (order.clone(), 0u64..=6).prop_map(|(order, quantity)| Op::Reserve { order, quantity }),
        1 => (order.clone(), 0u64..=6).prop_map(|(order, quantity)| Op::Release { order, quantity }),
        1 => (order.clone(), 0u64..=6).prop_map(|(order, quantity)| Op::Commit { order, quantity }),
        2 => (order.clone(), 1u64..=15, 1u64..=4, now_strategy())
            .prop_map(|(order, quantity, min_fill, now)| Op::Plan { order, quantity, min_fill, now }),
        1 => (order.clone(), order, 0u64..=8, now_strategy())
            .prop_map(|(maker_order, taker, quantity, now)| Op::CheckTake { maker_order, taker, quantity, now }),
    ]
}

fn config_strategy() -> impl Strategy<Value = BookConfig> {
    prop_oneof![
        2 => Just(BookConfig::default()),
        1 => (1usize..=6, 2usize..=12).prop_map(|(per_maker, max_orders)| BookConfig {
            max_orders_per_maker: per_maker,
            max_orders,
            hash_seed: 7,
            ..BookConfig::default()
        }),
        1 => small_caps_strategy(),
    ]
}

/// Caps small enough that every one of them binds in a short run.
fn small_caps_strategy() -> impl Strategy<Value = BookConfig> {
    (1usize..=6, 1usize..=12, 0usize..=6, 0usize..=6).prop_map(
        |(per_maker, max_orders, max_suspended, max_tombstones)| BookConfig {
            max_orders_per_maker: per_maker,
            max_orders,
            max_suspended,
            max_tombstones,
            hash_seed: 7,
        },
    )
}

/// A taker from pool order `index` wanting `quantity` with `min_fill` (at most the quantity).
fn pool_taker(index: usize, quantity: u64, min_fill: u64) -> Taker {
    let mut taker = Taker::from_order(pool(index)).with_quantity(Lots(quantity));
    taker.min_fill = Lots(min_fill.min(quantity));
    taker
}

/// Applies `op` to both and requires identical answers and events; returns the plan, if any.
fn apply_both(book: &mut Book, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    match *op {
        Op::Insert { order, now } => {
            prop_assert_eq!(
                book.insert(Arc::clone(pool(order)), T0 + now),
                model.insert(pool(order), T0 + now)
            );
        }
        Op::Update { order, remaining } => {
            let remaining = remaining.min(pool(order).order().quantity.0);
            let update = pool_update(order, remaining);
            prop_assert_eq!(book.apply_update(&update), model.apply_update(&update));
        }
        Op::Remove { order } => {
            prop_assert_eq!(book.remove(id(order)), model.remove(id(order)));
        }
        Op::Expire { now } => {
            prop_assert_eq!(book.expire(T0 + now), model.expire(T0 + now));
        }
        Op::Suspend { maker } => {
            let address = key(maker).address();
            prop_assert_eq!(book.suspend_maker(address), model.suspend_maker(address));
        }
        Op::Restore { maker } => {
            let address = key(maker).address();
            prop_assert_eq!(book.restore_maker(address), model.restore_maker(address));
        }
        Op::Reserve { order, quantity } => {
            prop_assert_eq!(
                book.reserve(id(order), Lots(quantity)),
                model.reserve(id(order), Lots(quantity))
            );
        }
        Op::Release { order, quantity } => {
            prop_assert_eq!(
                book.release(id(order), Lots(quantity)),
                model.release(id(order), Lots(quantity))
            );
        }
        Op::Commit { order, quantity } => {
            prop_assert_eq!(
                book.commit(id(order), Lots(quantity)),
                model.commit(id(order), Lots(quantity))
            );
        }
        Op::Plan {
            order,
            quantity,
            min_fill,
            now,
        } => {
            let taker = pool_taker(order, quantity, min_fill);
            let plan = book.plan(&taker, T0 + now);
            prop_assert_eq!(&plan.fills, &model.plan(&taker, T0 + now));
            check_plan(book, &taker, &plan.fills)?;
        }
        Op::CheckTake {
            maker_order,
            taker,
            quantity,
            now,
        } => {
            let taker = Taker::from_order(pool(taker));
            prop_assert_eq!(
                book.check_take(id(maker_order), &taker, Lots(quantity), T0 + now),
                model.check_take(id(maker_order), &taker, Lots(quantity), T0 + now)
            );
        }
    }
    let book_events: Vec<Event> = book.drain_events().collect();
    let model_events: Vec<Event> = std::mem::take(&mut model.events);
    prop_assert_eq!(book_events, model_events);
    Ok(())
}

/// Views that must agree after every operation.
fn compare_views(book: &Book, model: &Model) -> Result<(), TestCaseError> {
    let depth = book.depth(usize::MAX);
    prop_assert_eq!(&depth, &model.depth());
    prop_assert_eq!(book.top().bid, depth.bids.first().copied());
    prop_assert_eq!(book.top().ask, depth.asks.first().copied());
    prop_assert_eq!(book.digest(), model.digest());
    prop_assert_eq!(book.pending_crosses(), model.pending_crosses());
    prop_assert_eq!(book.now(), model.clock);
    prop_assert_eq!(book.tombstones(), model.tombstone_count());
    prop_assert_eq!(book.forgotten_until(), model.forgotten_until);
    prop_assert_eq!(book.len() + book.suspended_len(), model.open.len());
    for index in 0..POOL {
        let order_id = id(index);
        prop_assert_eq!(book.get(&order_id), model.view(&order_id));
        prop_assert_eq!(book.status(&order_id), model.status(&order_id));
        prop_assert_eq!(
            book.latest_update(&order_id).copied(),
            model.proof(&order_id)
        );
    }
    for maker in 0..MAKERS {
        let address = key(maker).address();
        let open = model.open.iter().filter(|o| o.maker == address).count();
        prop_assert_eq!(book.maker_open_orders(&address), open);
    }
    Ok(())
}

/// Every table of the book within the bounds its caps promise (`Footprint`).
fn check_bounds(book: &Book, capacity: usize) -> Result<(), TestCaseError> {
    let config = book.config();
    let footprint = book.footprint();
    let max_open = config.max_orders + config.max_suspended;
    prop_assert!(book.len() <= config.max_orders);
    prop_assert!(book.suspended_len() <= config.max_suspended);
    prop_assert!(book.tombstones() <= config.max_tombstones);
    prop_assert_eq!(
        footprint.ids,
        book.len() + book.suspended_len() + book.tombstones()
    );
    prop_assert!(footprint.ids <= config.max_held());
    prop_assert_eq!(footprint.tombstone_entries, book.tombstones());
    prop_assert!(footprint.expiry_entries <= 2 * max_open + config.expiry_slack());
    prop_assert!(footprint.slots <= max_open.max(capacity));
    prop_assert!(footprint.makers <= max_open);
    prop_assert!(footprint.spare_queues <= 2 * 256);
    for maker in 0..MAKERS {
        prop_assert!(book.maker_open_orders(&key(maker).address()) <= config.max_orders_per_maker);
    }
    Ok(())
}

/// Quantity conservation: for every open order, quantity = committed + lowered by updates
/// + reserved + available, and each side's depth is the sum of its orders' available lots.
fn check_conservation(book: &Book, model: &Model) -> Result<(), TestCaseError> {
    let mut available = [0u64; 2];
    for view in book.orders() {
        let tracked = model
            .open
            .iter()
            .find(|order| order.id == view.id)
            .expect("the model holds the same open orders");
        prop_assert_eq!(
            view.quantity.0,
            view.committed.0 + tracked.lowered_by_updates + view.reserved.0 + view.available().0
        );
        if !view.suspended {
            available[view.side.as_u8() as usize] += view.available().0;
        }
    }
    let depth = book.depth(usize::MAX);
    let sum = |levels: &[dex_book::DepthLevel]| levels.iter().map(|l| l.quantity.0).sum::<u64>();
    prop_assert_eq!(sum(&depth.bids), available[0]);
    prop_assert_eq!(sum(&depth.asks), available[1]);
    Ok(())
}

/// The book is never crossed between different makers unless the pair is flagged as a
/// pending cross with the agreed taker; computed from the open orders, not the model.
fn check_crosses_flagged(book: &Book) -> Result<(), TestCaseError> {
    let visible: Vec<_> = book
        .orders()
        .filter(|view| !view.suspended && view.available().0 > 0)
        .collect();
    let mut expected = HashSet::new();
    for bid in visible.iter().filter(|view| view.side == Side::Buy) {
        for ask in visible.iter().filter(|view| view.side == Side::Sell) {
            if bid.price >= ask.price && bid.maker != ask.maker {
                let (taker, maker) = if (bid.created_at, bid.id) > (ask.created_at, ask.id) {
                    (bid, ask)
                } else {
                    (ask, bid)
                };
                expected.insert(Cross {
                    taker: taker.id,
                    taker_maker: taker.maker,
                    maker_order: maker.id,
                    maker: maker.maker,
                    price: maker.price,
                });
            }
        }
    }
    let flagged: HashSet<Cross> = book.pending_crosses().into_iter().collect();
    prop_assert_eq!(flagged, expected);
    Ok(())
}

/// A plan never takes from the taker's maker, never fills below either side's `minFill`
/// except a last remainder, only takes earlier orders at crossing prices, and lists its
/// fills in strict price-time priority.
fn check_plan(book: &Book, taker: &Taker, fills: &[PlannedFill]) -> Result<(), TestCaseError> {
    let mut wanted = taker.quantity.0;
    let mut previous: Option<(i128, UnixMillis, OrderId)> = None;
    let mut seen = BTreeSet::new();
    for fill in fills {
        let maker = book
            .get(&fill.maker_order)
            .expect("planned orders are open");
        prop_assert!(seen.insert(fill.maker_order), "an order is taken once");
        prop_assert_ne!(maker.maker, taker.maker);
        prop_assert_eq!(maker.side, taker.side.opposite());
        prop_assert_eq!(fill.price, maker.price);
        let crosses = match taker.side {
            Side::Buy => maker.price <= taker.limit,
            Side::Sell => maker.price >= taker.limit,
        };
        prop_assert!(
            crosses,
            "price {} does not cross {}",
            maker.price,
            taker.limit
        );
        prop_assert!((maker.created_at, maker.id) < (taker.created_at, taker.id));
        prop_assert!(fill.quantity.0 > 0 && fill.quantity.0 <= maker.available().0);
        prop_assert!(fill.quantity >= maker.min_fill || fill.quantity == maker.remaining);
        prop_assert!(fill.quantity >= taker.min_fill || fill.quantity.0 == wanted);
        let rank = match taker.side {
            Side::Buy => i128::from(maker.price.0),
            Side::Sell => -i128::from(maker.price.0),
        };
        let key = (rank, maker.created_at, maker.id);
        prop_assert!(previous.is_none_or(|previous| previous < key));
        previous = Some(key);
        wanted -= fill.quantity.0;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// The book and the reference model agree on every operation, view and event; the
    /// conservation and cross invariants hold after each step.
    #[test]
    fn book_agrees_with_the_reference_model(
        config in config_strategy(),
        capacity in prop_oneof![Just(0usize), 1usize..40],
        ops in ops_strategy(),
    ) {
        let mut book = Book::with_capacity(eth_usdc_id(), config, capacity);
        let mut model = Model::new(eth_usdc_id(), config);
        for op in &ops {
            apply_both(&mut book, &mut model, op)?;
            compare_views(&book, &model)?;
            check_conservation(&book, &model)?;
            check_crosses_flagged(&book)?;
            check_bounds(&book, capacity)?;
        }
    }

    /// Whatever the operations, with caps small enough to bind all the time: every table
    /// stays within its cap, no cancelled, filled or dropped order ever comes back before
    /// its expiry (even once its tombstone is forgotten), and two books given the same
    /// calls (other hash seeds, other preallocation) end up the same.
    #[test]
    fn caps_bound_every_table_and_closed_orders_never_come_back(
        config in small_caps_strategy(),
        capacity in 0usize..20,
        ops in prop::collection::vec(op_strategy(0..POOL), 1..300),
    ) {
        let mut book = Book::with_capacity(eth_usdc_id(), config, capacity);
        let mut twin = Book::new(eth_usdc_id(), BookConfig { hash_seed: 99, ..config });
        let mut closed: HashMap<OrderId, UnixMillis> = HashMap::new();
        for op in &ops {
            let answer = apply(&mut book, op);
            prop_assert_eq!(&answer, &apply(&mut twin, op));
            let events: Vec<Event> = book.drain_events().collect();
            prop_assert_eq!(&events, &twin.drain_events().collect::<Vec<_>>());
            for event in &events {
                if let Event::Removed { order, reason } = event
                    && matches!(
                        reason,
                        RemoveReason::Cancelled | RemoveReason::Filled | RemoveReason::Dropped
                    )
                {
                    let index = (0..POOL).find(|index| id(*index) == order.id).expect("a pool order");
                    closed.insert(order.id, pool(index).order().expires_at);
                }
            }
            check_bounds(&book, capacity)?;
            for (closed_id, expires_at) in &closed {
                if *expires_at > book.now() {
                    let status = book.status(closed_id);
                    prop_assert!(
                        matches!(status, OrderStatus::Closed | OrderStatus::Unknown),
                        "closed order {} is back ({:?}) after {:?}", closed_id, status, op
                    );
                }
            }
            prop_assert_eq!(book.digest(), twin.digest());
            prop_assert_eq!(book.depth(usize::MAX), twin.depth(usize::MAX));
            prop_assert_eq!(book.tombstones(), twin.tombstones());
            prop_assert_eq!(book.suspended_len(), twin.suspended_len());
            prop_assert_eq!(book.forgotten_until(), twin.forgotten_until());
        }
    }
}

/// Applies `op` to a book alone; the answer as a comparable string.
fn apply(book: &mut Book, op: &Op) -> String {
    match *op {
        Op::Insert { order, now } => {
            format!("{:?}", book.insert(Arc::clone(pool(order)), T0 + now))
        }
        Op::Update { order, remaining } => {
            let remaining = remaining.min(pool(order).order().quantity.0);
            format!("{:?}", book.apply_update(&pool_update(order, remaining)))
        }
        Op::Remove { order } => format!("{:?}", book.remove(id(order))),
        Op::Expire { now } => format!("{:?}", book.expire(T0 + now)),
        Op::Suspend { maker } => format!("{:?}", book.suspend_maker(key(maker).address())),
        Op::Restore { maker } => format!("{:?}", book.restore_maker(key(maker).address())),
        Op::Reserve { order, quantity } => format!("{:?}", book.reserve(id(order), Lots(quantity))),
        Op::Release { order, quantity } => format!("{:?}", book.release(id(order), Lots(quantity))),
        Op::Commit { order, quantity } => format!("{:?}", book.commit(id(order), Lots(quantity))),
        Op::Plan {
            order,
            quantity,
            min_fill,
            now,
        } => {
            format!(
                "{:?}",
                book.plan(&pool_taker(order, quantity, min_fill), T0 + now)
                    .fills
            )
        }
        Op::CheckTake {
            maker_order,
            taker,
            quantity,
            now,
        } => format!(
            "{:?}",
            book.check_take(
                id(maker_order),
                &Taker::from_order(pool(taker)),
                Lots(quantity),
                T0 + now
            )
        ),
    }
}

/// An operation of the permutation property.
#[derive(Debug, Clone)]
enum Gossip {
    Insert { order: usize, now: u64 },
    Update { order: usize, remaining: u64 },
    Remove { order: usize },
    Expire { now: u64 },
}

impl Gossip {
    fn names(&self) -> Option<usize> {
        match *self {
            Gossip::Insert { .. } | Gossip::Expire { .. } => None,
            Gossip::Update { order, .. } | Gossip::Remove { order } => Some(order),
        }
    }

    fn apply(&self, book: &mut Book) {
        // Refusals are part of the behaviour under test: they must leave no trace.
        let _ = match *self {
            Gossip::Insert { order, now } => book.insert(Arc::clone(pool(order)), T0 + now),
            Gossip::Update { order, remaining } => {
                let remaining = remaining.min(pool(order).order().quantity.0);
                book.apply_update(&pool_update(order, remaining))
            }
            Gossip::Remove { order } => book.remove(id(order)),
            Gossip::Expire { now } => {
                book.expire(T0 + now);
                Ok(())
            }
        };
        book.drain_events().for_each(drop);
    }
}

/// Distinct inserted orders, updates and removals of them, expiries, and a permutation.
fn gossip_strategy() -> impl Strategy<Value = (Vec<Gossip>, Vec<usize>)> {
    prop::sample::subsequence((0..POOL).collect::<Vec<_>>(), 1..40)
        .prop_flat_map(|orders| {
            let inserts: Vec<_> = orders
                .iter()
                .map(|order| {
                    let order = *order;
                    now_strategy().prop_map(move |now| Gossip::Insert { order, now })
                })
                .collect();
            let chosen = prop::sample::select(orders);
            let others = prop::collection::vec(
                prop_oneof![
                    3 => (chosen.clone(), 0u64..=12)
                        .prop_map(|(order, remaining)| Gossip::Update { order, remaining }),
                    1 => chosen.prop_map(|order| Gossip::Remove { order }),
                    1 => now_strategy().prop_map(|now| Gossip::Expire { now }),
                ],
                0..30,
            );
            (inserts, others)
        })
        .prop_map(|(mut inserts, others)| {
            inserts.extend(others);
            inserts
        })
        .prop_flat_map(|ops| {
            let count = ops.len();
            (
                Just(ops),
                Just((0..count).collect::<Vec<_>>()).prop_shuffle(),
            )
        })
}

/// Reorders `ops` by `shuffle` while keeping each update or removal after the insert of the
/// order it names (a node cannot verify an update before it has the order).
fn causal_order(ops: &[Gossip], shuffle: &[usize]) -> Vec<Gossip> {
    let mut pending: Vec<usize> = shuffle.to_vec();
    let mut inserted = HashSet::new();
    let mut ordered = Vec::with_capacity(ops.len());
    while !pending.is_empty() {
        let next = pending
            .iter()
            .position(|index| {
                ops[*index]
                    .names()
                    .is_none_or(|order| inserted.contains(&order))
            })
            .expect("every named order has an insert");
        let index = pending.remove(next);
        if let Gossip::Insert { order, .. } = ops[index] {
            inserted.insert(order);
        }
        ordered.push(ops[index].clone());
    }
    ordered
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any causal permutation of the same inserts, updates, removals and expiries gives the
    /// same digest, depth, crosses and tombstones.
    #[test]
    fn arrival_order_does_not_matter((ops, shuffle) in gossip_strategy()) {
        let mut first = Book::new(eth_usdc_id(), BookConfig::default());
        for op in &ops {
            op.apply(&mut first);
        }
        let mut second = Book::new(eth_usdc_id(), BookConfig::default());
        for op in causal_order(&ops, &shuffle) {
            op.apply(&mut second);
        }
        prop_assert_eq!(first.digest(), second.digest());
        prop_assert_eq!(first.depth(usize::MAX), second.depth(usize::MAX));
        prop_assert_eq!(first.pending_crosses(), second.pending_crosses());
        prop_assert_eq!(first.now(), second.now());
        prop_assert_eq!(first.tombstones(), second.tombstones());
        for index in 0..POOL {
            prop_assert_eq!(first.status(&id(index)), second.status(&id(index)));
            prop_assert_eq!(first.get(&id(index)), second.get(&id(index)));
        }
    }

    /// With every `minFill` at one lot, executing each pending taker's plan (both sides
    /// reserve, then commit) leaves no cross between different makers.
    #[test]
    fn executing_the_takers_plans_uncrosses_the_book(
        orders in prop::sample::subsequence((0..POOL).collect::<Vec<_>>(), 1..40),
    ) {
        let mut book = Book::new(eth_usdc_id(), BookConfig::default());
        for order in orders {
            if pool(order).order().min_fill == Lots(1) {
                let _ = book.insert(Arc::clone(pool(order)), T0);
            }
        }
        let mut rounds = 0;
        while let Some(cross) = book.pending_crosses().first().copied() {
            rounds += 1;
            prop_assert!(rounds <= POOL, "every round fills at least one lot");
            let plan = book.plan_resting(cross.taker, T0).expect("the taker is open");
            prop_assert!(!plan.is_empty(), "a pending taker can take something: {:?}", cross);
            book.reserve(cross.taker, plan.quantity()).expect("the taker reserves its fills");
            for fill in &plan.fills {
                book.reserve(fill.maker_order, fill.quantity).expect("available");
                book.commit(fill.maker_order, fill.quantity).expect("reserved");
            }
            book.commit(cross.taker, plan.quantity()).expect("reserved");
        }
        prop_assert!(book.pending_crosses().is_empty());
        check_crosses_flagged(&book)?;
        prop_assert!(book.orders().all(|view| view.reserved == Lots(0)));
        prop_assert_eq!(book.len(), book.orders().count());
        prop_assert!(book.orders().all(|view| book.status(&view.id) == OrderStatus::Open));
    }
}
