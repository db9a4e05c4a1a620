//! Settlement figures (issue: swap benchmarks), printed as `name value unit`:
//!
//! - `swap_wall_ms_median` / `swap_wall_ms_p90`: wall time from the taker's order (its take
//!   request) to both nodes having seen both claims, over 20 sequential swaps of 0.01 ETH
//!   between two in-process nodes on two anvil chains with instant mining.
//! - `swap_wall_ms_median_block_1s_conf_3` / `..._p90_...`: the same over 5 swaps on chains
//!   that mine a block every second and nothing in between, read 3 confirmations behind
//!   their head (as `dex-devnet --block-time 1 --interval-only --confirmations 3`).
//! - `swap_memory_bytes_per_swap`: heap growth of the process while 200 swaps are in flight
//!   at once (chains stopped mining, so every swap waits with its lock transaction pending),
//!   divided by the swaps held (200 on each of the two nodes). It counts everything a swap
//!   holds: its state machine, database buffers, the transaction task and its RPC client
//!   work, the take bookkeeping.
//!
//! Run: `scripts/bench.sh swap` (release build).

use std::{
    alloc::System,
    time::{Duration, Instant},
};

use dex_devnet::inproc::{SETTLE_DEADLINE, SettledNetwork, rpc};
use dex_node::{NodeHandle, PlaceOrder, TimeInForce};
use dex_primitives::{Lots, OrderId, Side, Ticks};
use dex_swap::Outcome;
use dex_test_utils::{eth_usdc_id, wait_for};
use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const SEQUENTIAL_SWAPS: usize = 20;
const CONCURRENT_SWAPS: u64 = 200;

fn order(side: Side, price: u64, lots: u64, tif: TimeInForce) -> PlaceOrder {
    PlaceOrder {
        market: eth_usdc_id(),
        side,
        price: Ticks(price),
        quantity: Lots(lots),
        min_fill: None,
        time_in_force: tif,
        expires_in_ms: None,
        maker: None,
        client_order_id: None,
    }
}

async fn completed(handle: &NodeHandle) -> anyhow::Result<usize> {
    Ok(handle
        .swaps()
        .await?
        .iter()
        .filter(|(_, swap)| swap.outcome() == Some(&Outcome::Completed))
        .count())
}

async fn offered(handle: &NodeHandle, id: OrderId) -> anyhow::Result<()> {
    Ok(
        wait_for("the ask in the taker's book", SETTLE_DEADLINE, || async {
            handle
                .order_status(id)
                .await
                .is_ok_and(|status| status == dex_book::OrderStatus::Open)
        })
        .await?,
    )
}

/// `count` swaps one after the other on chains mining as `mining` says and read
/// `confirmations` behind; the wall time of each, in ms.
async fn sequential(
    count: usize,
    mining: dex_devnet::Mining,
    confirmations: u64,
) -> anyhow::Result<Vec<f64>> {
    let dir = tempfile::tempdir()?;
    let settled = SettledNetwork::start_mining(2, dir.path(), mining, |_, config| {
        // The benchmark takes faster than a real taker may (the default limits the free
        // options one taker can hold).
        config.takes_per_minute = 100_000;
        config.take_requests_per_peer_minute = 100_000;
        config.max_open_swaps_per_taker = 100_000;
        for chain in &mut config.chains {
            chain.client.scan_confirmations = confirmations;
        }
    })
    .await?;
    let (maker, taker) = (settled.net.node(0)?.clone(), settled.net.node(1)?.clone());
    let mut times = Vec::new();
    for round in 0..count {
        let ask = maker
            .place_order(order(Side::Sell, 250_000, 10, TimeInForce::Gtc))
            .await?;
        offered(&taker, ask).await?;
        let started = Instant::now();
        taker
            .place_order(order(Side::Buy, 250_000, 10, TimeInForce::Ioc))
            .await?;
        let target = round + 1;
        let deadline = Instant::now() + SETTLE_DEADLINE;
        loop {
            if completed(&maker).await? >= target && completed(&taker).await? >= target {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "swap {round} did not complete");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(times)
}

/// Heap bytes per swap with 200 swaps in flight on each of two nodes.
async fn memory() -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let settled = SettledNetwork::start(2, dir.path(), |_, config| {
        // Swaps must stay in flight while measured.
        config.reservation = Duration::from_secs(600);
        config.take_timeout = Duration::from_secs(60);
        config.takes_per_minute = 100_000;
        config.take_requests_per_peer_minute = 100_000;
        config.max_open_swaps_per_taker = 100_000;
    })
    .await?;
    let (maker, taker) = (settled.net.node(0)?.clone(), settled.net.node(1)?.clone());
    // 200 one-lot asks at 200 prices; one bid takes them all: 200 takes, 200 swaps.
    let mut last = None;
    for step in 0..CONCURRENT_SWAPS {
        last = Some(
            maker
                .place_order(order(Side::Sell, 250_000 + step, 1, TimeInForce::Gtc))
                .await?,
        );
    }
    offered(&taker, last.expect("200 asks")).await?;
    wait_for("all asks in the taker's book", SETTLE_DEADLINE, || async {
        taker
            .depth(eth_usdc_id(), 1000)
            .await
            .is_ok_and(|depth| depth.asks.len() as u64 == CONCURRENT_SWAPS)
    })
    .await?;
    // Stop both chains from mining: locks stay pending, swaps stay in flight.
    for chain in [&settled.chains.base, &settled.chains.quote] {
        rpc(&chain.rpc_url, "evm_setAutomine", json!([false]))?;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let region = Region::new(GLOBAL);
    taker
        .place_order(order(
            Side::Buy,
            250_000 + CONCURRENT_SWAPS,
            CONCURRENT_SWAPS,
            TimeInForce::Ioc,
        ))
        .await?;
    wait_for("200 swaps on both nodes", SETTLE_DEADLINE, || async {
        let (m, t) = (maker.swaps().await, taker.swaps().await);
        m.is_ok_and(|s| s.len() as u64 == CONCURRENT_SWAPS)
            && t.is_ok_and(|s| s.len() as u64 == CONCURRENT_SWAPS)
    })
    .await?;
    // Let the in-flight work (lock submissions, scans) reach a steady state.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = region.change();
    let net = stats.bytes_allocated as f64 - stats.bytes_deallocated as f64;
    Ok(net / (2 * CONCURRENT_SWAPS) as f64)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    // `cargo test --benches` runs bench targets without `--bench`: stay quick and quiet then.
    if !std::env::args().any(|arg| arg == "--bench") {
        return Ok(());
    }
    // DEX_BENCH_LOG=info shows what the nodes do (on stderr).
    if let Ok(filter) = std::env::var("DEX_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut times = sequential(SEQUENTIAL_SWAPS, dex_devnet::Mining::Instant, 1).await?;
        times.sort_by(f64::total_cmp);
        println!("swap_wall_ms_median {:.1} ms", percentile(&times, 0.5));
        println!("swap_wall_ms_p90 {:.1} ms", percentile(&times, 0.9));
        let blocks = dex_devnet::Mining::Interval { block_time: 1 };
        let mut times = sequential(5, blocks, 3).await?;
        times.sort_by(f64::total_cmp);
        println!(
            "swap_wall_ms_median_block_1s_conf_3 {:.1} ms",
            percentile(&times, 0.5)
        );
        println!(
            "swap_wall_ms_p90_block_1s_conf_3 {:.1} ms",
            percentile(&times, 0.9)
        );
        let per_swap = memory().await?;
        println!("swap_memory_bytes_per_swap {per_swap:.0} bytes");
        anyhow::Ok(())
    })
}
