//! Memory of a node holding the capped maximum of one market (DESIGN §12), run by
//! `scripts/bench.sh memory`.
//!
//! One relay node (`NodeState`, one market, default caps: 100,000 offered, 100,000
//! suspended and 200,000 closed orders) is filled through its gossip path (`on_gossip`:
//! decode, checks, signature, book) to every cap, and a counting allocator measures the net
//! heap growth of each phase:
//! 1. closed: orders posted and cancelled by a signed update, until the tombstones are full;
//! 2. suspended: orders whose makers then fall silent (a tick past `silent_after`);
//! 3. offered: orders of live makers, until the book is full.
//!
//! The signed messages are built (on two threads) before anything is measured, so the
//! figures are what the node keeps: the book's structures, the verified order of every
//! open order (the node forwards and serves it), the order id index of the sync cursor and
//! the seen-order filter. Then every kind is pushed 10% past its cap, and the heap growth
//! of that phase shows the caps hold.
//!
//! A phase's figure includes the tables it made grow (hash maps and arrays double), so the
//! bytes per order of each kind depend on the order of the phases; the total does not.
//!
//! Prints `name value unit` lines. Options: `--scale N` divides every cap by N (default 1;
//! without `--bench`, as under `cargo test --benches`, 100).

use std::{alloc::System, hint::black_box, sync::Arc, thread, time::Duration};

use dex_network::PeerId;
use dex_node::{NodeConfig, NodeMetrics, NodeState};
use dex_primitives::{Lots, Markets, Side, TraderKey, UnixMillis, Update};
use dex_protocol::{GossipMessage, WireMessage, market_topic};
use dex_test_utils::{OrderBuilder, T0, eth_usdc, eth_usdc_id, trader};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, Stats, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const MID: u64 = 100_000;
/// Makers of each group: few enough orders each for the per-maker cap (1,000).
const MAKERS: u64 = 128;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Net bytes still allocated since the region started.
fn net(stats: Stats) -> isize {
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize
}

/// One order to sign: `number` spreads it over sides and prices (never crossing), `group`
/// picks its makers, `at` is its `createdAt`; it expires a day later (plus `number`, so
/// that orders signed later expire later, as with a fixed lifetime).
struct Spec {
    group: u64,
    number: u64,
    at: UnixMillis,
}

/// The gossip messages of `specs`, each order followed by its cancel when `cancel`.
fn messages(specs: &[Spec], cancel: bool, keys: &[TraderKey]) -> Vec<Vec<u8>> {
    let build = |specs: &[Spec]| -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(specs.len() * (1 + usize::from(cancel)));
        for spec in specs {
            let mixed = spec
                .number
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(29);
            let (side, price) = if mixed & 1 == 0 {
                (Side::Buy, MID - 1 - (mixed >> 1) % 1_000)
            } else {
                (Side::Sell, MID + 1 + (mixed >> 1) % 1_000)
            };
            let key = &keys[(spec.group * MAKERS + spec.number % MAKERS) as usize];
            let order = OrderBuilder::new()
                .maker(key)
                .side(side)
                .price(price)
                .quantity(1 + (mixed >> 20) % 100)
                .nonce(spec.number)
                .created_at(spec.at)
                .expires_at(T0 + DAY_MS + spec.number)
                .sign();
            let id = order.order.id();
            out.push(
                GossipMessage::Order(order)
                    .encode()
                    .expect("an order fits a message"),
            );
            if cancel {
                let update = Update {
                    order_id: id,
                    remaining: Lots(0),
                    timestamp: spec.at,
                }
                .sign(key);
                out.push(
                    GossipMessage::Update(update)
                        .encode()
                        .expect("an update fits a message"),
                );
            }
        }
        out
    };
    let build = &build;
    let half = specs.len() / 2;
    thread::scope(|scope| {
        let second = scope.spawn(move || build(&specs[half..]));
        let mut all = build(&specs[..half]);
        all.extend(second.join().expect("signing does not panic"));
        all
    })
}

fn specs(group: u64, numbers: std::ops::Range<u64>, at: UnixMillis) -> Vec<Spec> {
    numbers.map(|number| Spec { group, number, at }).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|arg| arg == "--bench");
    let scale: usize = args
        .windows(2)
        .find(|pair| pair[0] == "--scale")
        .and_then(|pair| pair[1].parse().ok())
        .filter(|scale| *scale > 0)
        .unwrap_or(if full { 1 } else { 100 });

    let markets = Markets::new([eth_usdc()]).expect("a valid market");
    let mut config = NodeConfig::new(markets, Vec::new());
    config.caps.orders_per_market /= scale;
    config.caps.suspended_per_market /= scale;
    config.caps.tombstones_per_market /= scale;
    config.caps.preallocated_orders /= scale;
    let caps = config.caps;
    let (offered, suspended, closed) = (
        caps.orders_per_market as u64,
        caps.suspended_per_market as u64,
        caps.tombstones_per_market as u64,
    );
    let over = |cap: u64| cap / 10;
    let silent_after = config.liveness.silent_after;

    let keys: Vec<TraderKey> = (0..3 * MAKERS).map(|k| trader(10_000 + k)).collect();
    eprintln!("signing orders and cancels");
    let t1 = T0;
    let closed_msgs = messages(&specs(0, 0..closed + over(closed), t1), true, &keys);
    let suspended_msgs = messages(&specs(1, 0..suspended + over(suspended), t1), false, &keys);
    let t2 = T0 + duration_ms(silent_after) + 1_000;
    let offered_msgs = messages(&specs(2, 0..offered + over(offered), t2), false, &keys);

    let topic = market_topic(&eth_usdc_id());
    let source = PeerId::random();
    let mut total = Region::new(GLOBAL);
    let mut state = NodeState::new(
        &config,
        PeerId::random(),
        7,
        Arc::new(NodeMetrics::default()),
    );
    let empty = net(total.change());
    let feed = |state: &mut NodeState, msgs: &[Vec<u8>], now: UnixMillis| {
        for data in msgs {
            let _ = black_box(state.on_gossip(source, &topic, data, now));
            // As the actor does after every call (it broadcasts them).
            state.drain_events().for_each(drop);
        }
    };
    eprintln!("ingesting");

    let region = Region::new(GLOBAL);
    let cut = 2 * closed as usize;
    feed(&mut state, &closed_msgs[..cut], t1);
    let closed_bytes = net(region.change());

    let region = Region::new(GLOBAL);
    let cut_s = suspended as usize;
    feed(&mut state, &suspended_msgs[..cut_s], t1);
    let _ = state.tick(t2);
    state.drain_events().for_each(drop);
    let suspended_bytes = net(region.change());

    let region = Region::new(GLOBAL);
    let cut_o = offered as usize;
    feed(&mut state, &offered_msgs[..cut_o], t2);
    let offered_bytes = net(region.change());
    let full_bytes = net(total.change());

    let stats = state.stats(&eth_usdc_id()).expect("the market");
    assert_eq!(
        (stats.visible, stats.suspended, stats.tombstones),
        (offered as usize, suspended as usize, closed as usize),
        "every cap reached"
    );

    // 10% past every cap: more cancels (tombstones forgotten), more orders of silent
    // makers (refused), more offered orders (the furthest from the mid evicted or refused).
    let region = Region::new(GLOBAL);
    feed(&mut state, &closed_msgs[cut..], t2);
    feed(&mut state, &suspended_msgs[cut_s..], t2);
    feed(&mut state, &offered_msgs[cut_o..], t2);
    let past_bytes = net(region.change());
    let after = state.stats(&eth_usdc_id()).expect("the market");
    assert!(
        after.visible <= offered as usize
            && after.suspended <= suspended as usize
            && after.tombstones <= closed as usize,
        "{after:?}"
    );
    let footprint = state.book(&eth_usdc_id()).expect("the market").footprint();
    total = Region::new(GLOBAL);
    drop(black_box(state));
    let freed = -net(total.change());

    let per = |bytes: isize, count: u64| bytes as f64 / count.max(1) as f64;
    println!("memory_caps_offered_suspended_closed {offered}/{suspended}/{closed} orders");
    println!(
        "memory_node_empty_market_kib {:.1} KiB",
        empty as f64 / 1024.0
    );
    println!(
        "memory_closed_bytes_per_order {:.1} bytes",
        per(closed_bytes, closed)
    );
    println!(
        "memory_suspended_bytes_per_order {:.1} bytes",
        per(suspended_bytes, suspended)
    );
    println!(
        "memory_offered_bytes_per_order {:.1} bytes",
        per(offered_bytes, offered)
    );
    println!(
        "memory_market_at_caps_mib {:.1} MiB",
        full_bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "memory_past_caps_growth_kib {:.1} KiB",
        past_bytes as f64 / 1024.0
    );
    println!(
        "memory_freed_on_drop_mib {:.1} MiB",
        freed as f64 / (1024.0 * 1024.0)
    );
    eprintln!("after 10% past the caps: {after:?}; book tables: {footprint:?}");
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
