//! Sync of a joining node (DESIGN §5, §12), run by `scripts/bench.sh sync`.
//!
//! A holder node posts N orders of one market from N/1,000 makers whose keys it holds (a
//! market maker's node), with production liveness (a heartbeat every 30 s, makers silent
//! after 90 s). A second node, empty, then dials it; the figure is the time from that dial
//! until the joiner's book shows every order (visible: signatures verified, makers known
//! alive), read from its book counts every 5 ms.
//!
//! Prints `sync_ms_10k` and `sync_ms_100k` (`name value unit`). Options: `--orders N` (one
//! run of N orders, printed as `sync_ms_N`), `--quick` (1,000 orders).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use dex_network::{Keypair, NetworkConfig};
use dex_node::{LivenessConfig, NodeConfig, NodeHandle, SystemClock};
use dex_primitives::{MarketId, TraderKey};
use dex_test_utils::{eth_usdc_id, harness::now_ms, markets, trader};

/// Orders per maker: the default per-maker cap.
const PER_MAKER: usize = 1_000;
/// Longest a sync may take before the run is called failed.
const SYNC_DEADLINE: Duration = Duration::from_secs(120);

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runs: Vec<usize> = if let Some(orders) = args
        .windows(2)
        .find(|pair| pair[0] == "--orders")
        .map(|pair| pair[1].parse::<usize>())
    {
        vec![orders.context("--orders takes a number")?]
    } else if args.iter().any(|arg| arg == "--quick") {
        vec![1_000]
    } else {
        vec![10_000, 100_000]
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for orders in runs {
        let elapsed = runtime.block_on(sync_run(orders))?;
        let name = match orders {
            10_000 => "10k".to_owned(),
            100_000 => "100k".to_owned(),
            other => other.to_string(),
        };
        println!("sync_ms_{name} {:.0} ms", elapsed.as_secs_f64() * 1e3);
    }
    Ok(())
}

/// A node of the bench: loopback networking, production liveness, no trading.
fn config(traders: Vec<TraderKey>) -> NodeConfig {
    let mut config = NodeConfig::new(markets().clone(), traders);
    config.network = NetworkConfig::loopback();
    config.liveness = LivenessConfig::default();
    config
}

async fn spawn(config: NodeConfig) -> anyhow::Result<NodeHandle> {
    Ok(dex_node::spawn(
        config,
        Keypair::generate_ed25519(),
        Arc::new(SystemClock),
        now_ms(),
        &mut dex_node::Registry::default(),
    )
    .await?)
}

/// Visible orders of `market` in `node`'s book.
async fn visible(node: &NodeHandle, market: MarketId) -> anyhow::Result<usize> {
    Ok(node.stats(market).await?.visible)
}

async fn sync_run(orders: usize) -> anyhow::Result<Duration> {
    let market = eth_usdc_id();
    let makers: Vec<TraderKey> = (0..orders.div_ceil(PER_MAKER) as u64)
        .map(|m| trader(20_000 + m))
        .collect();
    let holder = spawn(config(makers.clone())).await?;
    let signed = dex_test_utils::signed_resting_orders(
        eth_usdc_id(),
        orders,
        PER_MAKER,
        &makers,
        &holder.peer_id().to_base58(),
        now_ms(),
    );
    let posting = Instant::now();
    for chunk in signed.chunks(1_000) {
        let mut posts = tokio::task::JoinSet::new();
        for order in chunk {
            let (holder, order) = (holder.clone(), order.clone());
            posts.spawn(async move { holder.post_order(order).await });
        }
        while let Some(result) = posts.join_next().await {
            result??;
        }
    }
    let held = visible(&holder, market).await?;
    anyhow::ensure!(held == orders, "the holder shows {held} of {orders} orders");
    eprintln!(
        "(sync: holder posted {orders} orders of {} makers in {:.1} s)",
        makers.len(),
        posting.elapsed().as_secs_f64()
    );

    let joiner = spawn(config(Vec::new())).await?;
    let address = holder
        .network()
        .listen_addrs()
        .await?
        .into_iter()
        .next()
        .context("the holder has no listen address")?;
    let address = dex_network::with_peer(address, holder.peer_id());
    let started = Instant::now();
    joiner.network().dial(address).await?;
    loop {
        let shown = visible(&joiner, market).await?;
        if shown == orders {
            break;
        }
        if started.elapsed() > SYNC_DEADLINE {
            let stats = joiner.stats(market).await?;
            anyhow::bail!(
                "the joiner shows {shown} of {orders} orders after {:?} ({} suspended)",
                SYNC_DEADLINE,
                stats.suspended
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    joiner.shutdown().await;
    holder.shutdown().await;
    Ok(elapsed)
}
