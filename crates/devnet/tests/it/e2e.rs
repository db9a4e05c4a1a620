//! End to end through the real binaries: two anvil chains, three `dexd` processes
//! connected over libp2p, `dex-mm` quoting on node 1, and a taker order placed through
//! node 2's REST API that settles by an atomic swap, checked to the base unit on both
//! chains. Then the same with a node SIGKILLed mid-swap and restarted from its data dir.
//!
//! The binaries come from the target directory of this test's profile (`target/debug/`
//! under `cargo test`): build them first with `cargo test --workspace --no-run` (or
//! `cargo build -p dexd -p dexctl -p dex-mm -p dex-devnet`), as scripts/test.sh does.
//! A swap is held mid-way deterministically by turning anvil's automatic mining off on one
//! chain: a node's transaction then waits in the pool, the node is killed, restarted, and
//! mining is turned on again.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use crate::support::{config, is_running, wait_until};
use alloy_primitives::{Address, U256};
use dex_api::types::{BookLevel, SideName, SwapDetail, TimeInForce};
use dex_devnet::{
    ChainInfo, Devnet, DevnetChains, MarketMakerConfig, NodeClient, NodesConfig,
    default_binary_path,
    demo::{self, BalanceCheck, Party, Snapshot, SwapEnd},
};

/// Books, orders, restarts.
const WAIT: Duration = Duration::from_secs(60);
/// A swap in a debug build on a busy machine.
const SWAP: Duration = Duration::from_secs(120);
/// The market maker quotes 0.1 ETH a side from 10 bps around 2500: its best ask.
const ASK_PRICE: &str = "2502.5";
/// What the taker buys.
const QUANTITY: &str = "0.1";
/// 0.1 ETH in wei.
const BASE_WEI: u64 = 100_000_000_000_000_000;
/// 0.1 × 2502.5 USDC in 10^-6 USDC.
const QUOTE_UNITS: u64 = 250_250_000;

/// A built binary of this workspace, or a failure that says how to build it.
pub(crate) fn binary(name: &str) -> PathBuf {
    let path = default_binary_path(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build -p dexd -p dexctl -p dex-mm -p dex-devnet` first \
         (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Whether the workspace has the `dex-mm` binary (then it must be built and is run); while
/// it does not, node 1 places the ask the market maker would quote.
pub(crate) fn market_maker_exists() -> bool {
    let mm = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mm/src");
    mm.join("bin/dex-mm/main.rs").is_file() || mm.join("main.rs").is_file()
}

/// Chains, three nodes and the market maker on node 1 (or its best ask), all up.
async fn full_devnet(dir: &Path) -> anyhow::Result<Devnet> {
    full_devnet_with(config(dir)).await
}

/// [`full_devnet`] on chains configured as `chains` says.
async fn full_devnet_with(chains: dex_devnet::ChainsConfig) -> anyhow::Result<Devnet> {
    let dexd = binary("dexd");
    let mut devnet = Devnet::start_chains(chains).await?;
    devnet.start_nodes(NodesConfig::for_tests(dexd)).await?;
    if market_maker_exists() {
        devnet
            .start_market_maker(MarketMakerConfig::new(binary("dex-mm")))
            .await?;
    } else {
        let request = demo::order_request(
            devnet.chains(),
            SideName::Sell,
            ASK_PRICE,
            "0.25",
            TimeInForce::Gtc,
        )?;
        demo::place_order(&devnet.node(1)?.client(), &request, WAIT).await?;
    }
    Ok(devnet)
}

fn parties(devnet: &Devnet) -> anyhow::Result<Vec<Party>> {
    Ok(vec![
        Party {
            label: "node 2 (taker)".into(),
            client: devnet.node(2)?.client(),
        },
        Party {
            label: "node 1 (maker)".into(),
            client: devnet.node(1)?.client(),
        },
    ])
}

/// Node 2 buys [`QUANTITY`] at the market maker's best ask, immediate-or-cancel, once
/// every node shows that ask; returns the swap ids.
async fn take_the_best_ask(devnet: &Devnet) -> anyhow::Result<Vec<String>> {
    let chains = devnet.chains();
    // Replicated to every node, the bystander too.
    let mut best: Option<BookLevel> = None;
    for node in devnet.nodes() {
        let ask = demo::wait_for_ask(
            &node.client(),
            chains,
            Some(ASK_PRICE),
            Some(QUANTITY),
            WAIT,
        )
        .await?;
        assert_eq!(ask.price, ASK_PRICE, "the best ask on {}", node.name);
        best = Some(ask);
    }
    let best = best.expect("three nodes");
    let request = demo::order_request(
        chains,
        SideName::Buy,
        &best.price,
        QUANTITY,
        TimeInForce::Ioc,
    )?;
    let taker = devnet.node(2)?.client();
    let order = demo::place_order(&taker, &request, WAIT).await?;
    let swaps = demo::wait_for_swaps(&taker, &order.order_id.to_string(), WAIT).await?;
    assert_eq!(swaps.len(), 1, "one ask, one swap: {swaps:?}");
    assert_eq!(
        (swaps[0].price.as_str(), swaps[0].quantity.as_str()),
        (ASK_PRICE, QUANTITY)
    );
    assert_eq!(swaps[0].side, SideName::Buy);
    Ok(swaps.iter().map(|swap| swap.swap_id.to_string()).collect())
}

/// Both nodes finished every swap with `completed`; the taker's view of them.
fn completed(ends: &[SwapEnd]) -> Vec<dex_api::types::SwapView> {
    assert_eq!(ends.len(), 2, "{ends:?}");
    for end in ends {
        assert_eq!(end.outcome, "completed", "{} ended {end:?}", end.label);
        assert_eq!(end.swap.phase, "finished");
    }
    ends.iter()
        .filter(|end| end.label.contains("taker"))
        .map(|end| end.swap.clone())
        .collect()
}

/// Every balance of both traders moved by exactly the trade, fees from the receipts, and
/// the trade is the one expected.
async fn assert_exact_balances(
    chains: &DevnetChains,
    taker: Address,
    maker: Address,
    taker_swaps: &[dex_api::types::SwapView],
    before: &Snapshot,
) -> anyhow::Result<()> {
    let after = Snapshot::take(chains, &[maker, taker]).await?;
    let check = BalanceCheck::new(
        chains,
        ("trader 2", taker),
        ("trader 1", maker),
        taker_swaps,
        before,
        &after,
    )
    .await?;
    assert_eq!(check.base_amount, U256::from(BASE_WEI));
    assert_eq!(check.quote_amount, U256::from(QUOTE_UNITS));
    assert!(check.exact(), "balances:\n{}", check.table().join("\n"));
    // The token moves by exactly the price, with nothing for gas.
    let usdc = |snapshot: &Snapshot, who: Address| {
        snapshot
            .balances
            .iter()
            .find(|(owner, _)| *owner == who)
            .map(|(_, balances)| balances.usdc)
            .expect("balances taken")
    };
    assert_eq!(
        usdc(&after, taker),
        usdc(before, taker) - U256::from(QUOTE_UNITS)
    );
    assert_eq!(
        usdc(&after, maker),
        usdc(before, maker) + U256::from(QUOTE_UNITS)
    );
    // Each side paid gas on both chains (taker: approve and lock on the quote chain, claim
    // on the base chain; maker: lock on the base chain, claim on the quote chain), so the
    // native lines check a real fee, not a zero.
    for line in &check.lines {
        if line.asset.starts_with("ETH") {
            assert!(line.fees > U256::ZERO, "no fee in {line:?}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_taker_order_through_rest_settles_with_exact_balances_on_both_chains()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    settles_with_exact_balances(full_devnet(dir.path()).await?).await
}

/// As `dex-devnet demo --block-time 1 --interval-only --confirmations 3` runs: a block
/// every second and nothing in between, the nodes reading 3 confirmations behind the head.
#[tokio::test]
async fn a_taker_order_settles_on_chains_with_block_times_and_three_confirmations()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut chains = config(dir.path());
    chains.mining = dex_devnet::Mining::Interval { block_time: 1 };
    chains.confirmations = 3;
    let devnet = full_devnet_with(chains).await?;
    let written = std::fs::read_to_string(dir.path().join("node-2/dexd.toml"))?;
    assert!(written.contains("scan_confirmations = 3"), "{written}");
    assert!(written.contains("block_time = \"1s\""), "{written}");
    settles_with_exact_balances(devnet).await
}

async fn settles_with_exact_balances(devnet: Devnet) -> anyhow::Result<()> {
    let chains = devnet.chains().clone();
    let (maker, taker) = (
        devnet.node(1)?.trader.address,
        devnet.node(2)?.trader.address,
    );
    let before = Snapshot::take(&chains, &[maker, taker]).await?;

    let since = demo::now_ms();
    let swap_ids = take_the_best_ask(&devnet).await?;
    let mut steps = Vec::new();
    let ends = demo::follow_swaps(
        &chains,
        &parties(&devnet)?,
        &swap_ids,
        since,
        SWAP,
        &mut |line| steps.push(line),
    )
    .await?;
    let taker_swaps = completed(&ends);
    assert_exact_balances(&chains, taker, maker, &taker_swaps, &before).await?;
    // The steps people see: both locks and both claims, on the right chains.
    let steps = steps.join("\n");
    for expected in [
        "node 2 (taker)",
        "locks 250.25 USDC on chain 31338",
        "locks 0.1 ETH on chain 31337",
        "claims 0.1 ETH on chain 31337",
        "claims 250.25 USDC on chain 31338",
        "FINISHED: completed",
    ] {
        assert!(
            steps.contains(expected),
            "{expected:?} missing from:\n{steps}"
        );
    }

    let pids: Vec<u32> = devnet.processes().iter().map(|child| child.pid).collect();
    let market_maker = usize::from(market_maker_exists());
    assert_eq!(
        pids.len(),
        5 + market_maker,
        "2 chains, 3 nodes, the market maker"
    );
    devnet.shutdown().await;
    assert!(pids.iter().all(|pid| !is_running(*pid)), "{pids:?}");
    Ok(())
}

/// Which node to kill, with which chain held so that its transaction waits in the pool.
struct Crash {
    node: usize,
    /// The phase the node is in when killed.
    phase: &'static str,
    /// The chain its transaction goes to.
    hold_base: bool,
}

/// Holds the swap on one chain, kills `crash.node` with its transaction in the pool,
/// restarts it, releases the chain, and checks the swap still settles exactly.
async fn crash_mid_swap(crash: Crash) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut devnet = full_devnet(dir.path()).await?;
    let chains = devnet.chains().clone();
    let (maker, taker) = (
        devnet.node(1)?.trader.address,
        devnet.node(2)?.trader.address,
    );
    let victim = devnet.node(crash.node)?.clone();
    let held: &ChainInfo = if crash.hold_base {
        &chains.base
    } else {
        &chains.quote
    };
    let before = Snapshot::take(&chains, &[maker, taker]).await?;

    held.set_automine(false).await?;
    let since = demo::now_ms();
    let swap_ids = take_the_best_ask(&devnet).await?;
    let swap_id = swap_ids[0].clone();

    // The victim has sent its transaction and it waits in the pool: the swap is mid-way.
    let client = victim.client();
    wait_until(
        &format!(
            "{} to be at {} with its transaction pending",
            victim.name, crash.phase
        ),
        WAIT,
        || async {
            phase(&client, &swap_id).await.as_deref() == Some(crash.phase)
                && pending(held, victim.trader.address).await
        },
    )
    .await;
    let status = devnet.kill_node(crash.node)?;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status}"
    );
    assert!(!is_running(victim.pid));

    // Back from its data dir, with the chain still held: it must pick the swap up again
    // from its database, not from anything that happens after.
    let restarted = devnet.restart_node(crash.node).await?.clone();
    assert_ne!(restarted.pid, victim.pid);
    assert_eq!(
        restarted.peer_id, victim.peer_id,
        "same data dir, same identity"
    );
    let client = restarted.client();
    wait_until("the swap resumed after the restart", WAIT, || async {
        history(&client, &swap_id).await.is_some_and(|detail| {
            detail
                .events
                .iter()
                .any(|row| row.entry["kind"] == "resumed")
        })
    })
    .await;

    held.set_automine(true).await?;
    held.mine().await?;
    let ends = demo::follow_swaps(
        &chains,
        &parties(&devnet)?,
        &swap_ids,
        since,
        SWAP,
        // Shown when the test fails.
        &mut |line| println!("{line}"),
    )
    .await?;
    let taker_swaps = completed(&ends);
    assert_exact_balances(&chains, taker, maker, &taker_swaps, &before).await?;

    let pids: Vec<u32> = devnet.processes().iter().map(|child| child.pid).collect();
    devnet.shutdown().await;
    assert!(pids.iter().all(|pid| !is_running(*pid)), "{pids:?}");
    Ok(())
}

async fn history(client: &NodeClient, swap_id: &str) -> Option<SwapDetail> {
    client.swap(swap_id).await.ok()
}

async fn phase(client: &NodeClient, swap_id: &str) -> Option<String> {
    history(client, swap_id)
        .await
        .map(|detail| detail.swap.phase)
}

/// Whether `account` has a transaction waiting in `chain`'s pool.
async fn pending(chain: &ChainInfo, account: Address) -> bool {
    match (
        chain.nonce(account, "pending").await,
        chain.nonce(account, "latest").await,
    ) {
        (Ok(pending), Ok(latest)) => pending > latest,
        _ => false,
    }
}

#[tokio::test]
async fn a_taker_killed_with_its_lock_in_the_pool_restarts_and_the_swap_settles()
-> anyhow::Result<()> {
    crash_mid_swap(Crash {
        node: 2,
        phase: "takerLocking",
        hold_base: false,
    })
    .await
}

#[tokio::test]
async fn a_maker_killed_with_its_lock_in_the_pool_restarts_and_the_swap_settles()
-> anyhow::Result<()> {
    crash_mid_swap(Crash {
        node: 1,
        phase: "makerLocking",
        hold_base: true,
    })
    .await
}
