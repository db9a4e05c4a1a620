//! Settlement end to end, in process: nodes on loopback, two anvil chains, real swaps.

use std::time::Duration;

use anyhow::{Context, bail};
use dex_devnet::inproc::{
    SettledNetwork, block_number, fees_paid, native_balance, wait_chains_up, wallet,
};
use dex_node::{
    NodeHandle, NodeMetrics, OwnOrder, OwnOrderStatus, PlaceOrder, SettlementConfig, Swap,
    TimeInForce,
};
use dex_primitives::{Lots, OrderId, Side, Ticks, U256};
use dex_swap::Outcome;
use dex_test_utils::{eth_usdc_id, wait_for};

/// Long enough for several swaps on two chains in a debug build on a busy machine.
pub(crate) const SWAP_DEADLINE_SECS: u64 = 60;
const SWAP_DEADLINE: Duration = Duration::from_secs(SWAP_DEADLINE_SECS);

/// `n` fully connected nodes, node `i` trading as devnet trader `i`, each with its own
/// database, all chains connected.
pub(crate) async fn settled(n: usize) -> anyhow::Result<Settled> {
    settled_with(n, |_, _| {}).await
}

/// Like [`settled`], with `tweak` applied to each node's settlement config.
pub(crate) async fn settled_with(
    n: usize,
    tweak: impl Fn(usize, &mut SettlementConfig),
) -> anyhow::Result<Settled> {
    let dir = tempfile::tempdir()?;
    let network = SettledNetwork::start(n, dir.path(), tweak).await?;
    Ok(Settled { network, _dir: dir })
}

/// A settled network and the directory it lives in (removed after the network stops).
pub(crate) struct Settled {
    network: SettledNetwork,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Settled {
    type Target = SettledNetwork;
    fn deref(&self) -> &SettledNetwork {
        &self.network
    }
}

impl std::ops::DerefMut for Settled {
    fn deref_mut(&mut self) -> &mut SettledNetwork {
        &mut self.network
    }
}

pub(crate) fn order(side: Side, price: u64, quantity: u64, tif: TimeInForce) -> PlaceOrder {
    PlaceOrder {
        market: eth_usdc_id(),
        side,
        price: Ticks(price),
        quantity: Lots(quantity),
        min_fill: None,
        time_in_force: tif,
        expires_in_ms: None,
        maker: None,
        client_order_id: None,
    }
}

/// Waits until `handle` has `count` finished swaps, and returns all its swaps.
pub(crate) async fn finished_swaps(
    handle: &NodeHandle,
    count: usize,
) -> anyhow::Result<Vec<(dex_node::SwapRecord, Swap)>> {
    wait_for(
        &format!("{count} finished swaps"),
        SWAP_DEADLINE,
        || async {
            handle
                .swaps()
                .await
                .is_ok_and(|swaps| swaps.iter().filter(|(_, s)| s.is_finished()).count() >= count)
        },
    )
    .await?;
    Ok(handle.swaps().await?)
}

/// The phase of `handle`'s first swap, if it has one.
pub(crate) async fn first_swap_phase(handle: &NodeHandle) -> Option<&'static str> {
    handle
        .swaps()
        .await
        .ok()
        .and_then(|swaps| swaps.first().map(|(_, swap)| dex_node::phase_name(swap)))
}

/// The maker offers LOTS at PRICE, the taker buys them (IOC); returns once the maker's
/// swap has its lock on chain.
async fn trade_until_the_maker_locked(
    maker: &NodeHandle,
    taker: &NodeHandle,
) -> anyhow::Result<()> {
    let ask = maker
        .place_order(order(Side::Sell, PRICE, LOTS, TimeInForce::Gtc))
        .await?;
    wait_offered(taker, ask, Some(LOTS)).await?;
    taker
        .place_order(order(Side::Buy, PRICE, LOTS, TimeInForce::Ioc))
        .await?;
    Ok(wait_for("the maker locked", SWAP_DEADLINE, || async {
        first_swap_phase(maker).await == Some("makerLocked")
    })
    .await?)
}

/// Waits until `order` is in `handle`'s book with `available` lots offered.
pub(crate) async fn wait_offered(
    handle: &NodeHandle,
    order: OrderId,
    available: Option<u64>,
) -> anyhow::Result<()> {
    wait_for("the order in the book", SWAP_DEADLINE, || async {
        handle.depth(eth_usdc_id(), 50).await.is_ok_and(|_| true)
            && handle
                .order_status(order)
                .await
                .is_ok_and(|status| status == dex_book::OrderStatus::Open)
    })
    .await?;
    if let Some(available) = available {
        wait_for("the order's available quantity", SWAP_DEADLINE, || async {
            handle.depth(eth_usdc_id(), 50).await.is_ok_and(|depth| {
                depth
                    .asks
                    .iter()
                    .chain(depth.bids.iter())
                    .map(|level| level.quantity.0)
                    .sum::<u64>()
                    == available
            })
        })
        .await?;
    }
    Ok(())
}

/// 0.25 ETH at 2500.00 USDC: 250 lots at 250,000 ticks.
const PRICE: u64 = 250_000;
const LOTS: u64 = 250;
const BASE_WEI: u64 = 250_000_000_000_000_000;
const QUOTE_UNITS: u64 = 625_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buy_settles_by_swap_with_exact_balances() -> anyhow::Result<()> {
    buy_settles_with_exact_balances(settled(2).await?).await
}

/// Chains with block times: a block every second and nothing in between, read 3
/// confirmations behind the head, locks counted after 2. Confirmations are counted against
/// each new head, so a lock read in the last block of its scan still comes to count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buy_settles_on_chains_with_block_times_and_confirmations() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let network = SettledNetwork::start_mining(
        2,
        dir.path(),
        dex_devnet::Mining::Interval { block_time: 1 },
        |_, settlement| {
            for chain in &mut settlement.chains {
                chain.client.scan_confirmations = 3;
            }
            settlement.timing.taker_leg_confirmations = 2;
            settlement.timing.maker_leg_confirmations = 2;
        },
    )
    .await?;
    buy_settles_with_exact_balances(Settled { network, _dir: dir }).await
}

async fn buy_settles_with_exact_balances(settled: Settled) -> anyhow::Result<()> {
    let (maker, taker) = (settled.net.node(0)?.clone(), settled.net.node(1)?.clone());
    let maker_addr = settled.net.nodes[0].trader.address();
    let taker_addr = settled.net.nodes[1].trader.address();
    let chains = &settled.chains;
    let start = (
        block_number(&chains.base.rpc_url)?,
        block_number(&chains.quote.rpc_url)?,
    );
    let before = (
        wallet(chains, maker_addr).await?,
        wallet(chains, taker_addr).await?,
    );

    let ask = maker
        .place_order(order(Side::Sell, PRICE, LOTS, TimeInForce::Gtc))
        .await?;
    wait_offered(&taker, ask, Some(LOTS)).await?;
    let bid = taker
        .place_order(order(Side::Buy, PRICE, LOTS, TimeInForce::Ioc))
        .await?;

    let maker_swaps = finished_swaps(&maker, 1).await?;
    let taker_swaps = finished_swaps(&taker, 1).await?;
    for swaps in [&maker_swaps, &taker_swaps] {
        assert_eq!(swaps.len(), 1);
        assert_eq!(swaps[0].1.outcome(), Some(&Outcome::Completed));
        assert_eq!(swaps[0].0.quantity, Lots(LOTS));
        assert_eq!(swaps[0].0.price, Ticks(PRICE));
    }
    assert_eq!(maker_swaps[0].0.swap_id, taker_swaps[0].0.swap_id);
    // `/metrics`: each node's swap went through its role's phases and completed.
    // Every swap enters its role's first two phases. The locked phase is passed through
    // within one step when a scan brings the own lock's confirmation together with the
    // counterparty's next move (instant-mining chains under load do that), so it is
    // counted once or not at all.
    for (index, role, phases, locked) in [
        (0, "maker", ["makerWaiting", "makerLocking"], "makerLocked"),
        (1, "taker", ["takerStart", "takerLocking"], "takerLocked"),
    ] {
        let metrics = crate::scrape(&settled.net.nodes[index].registry);
        for phase in phases {
            assert_eq!(
                metrics.value("dex_node_swap_phases_total", &[("phase", phase)]),
                1.0,
                "{role} {phase}"
            );
        }
        let locked_count = metrics.series("dex_node_swap_phases_total", &[("phase", locked)]);
        assert!(
            locked_count.is_empty() || locked_count == [1.0],
            "{role} {locked}: {locked_count:?}"
        );
        assert_eq!(
            metrics.value(
                "dex_node_swap_outcomes_total",
                &[("role", role), ("outcome", "completed")]
            ),
            1.0,
            "{role}"
        );
        assert_eq!(
            metrics.value("dex_node_swap_outcomes_total", &[]),
            1.0,
            "{role}"
        );
        assert_eq!(
            metrics.value("dex_node_swaps_started_total", &[]),
            1.0,
            "{role}"
        );
    }

    let end = (
        block_number(&chains.base.rpc_url)?,
        block_number(&chains.quote.rpc_url)?,
    );
    let after = (
        wallet(chains, maker_addr).await?,
        wallet(chains, taker_addr).await?,
    );
    let fees = |account| -> anyhow::Result<(U256, U256)> {
        Ok((
            fees_paid(&chains.base.rpc_url, account, start.0 + 1, end.0)?,
            fees_paid(&chains.quote.rpc_url, account, start.1 + 1, end.1)?,
        ))
    };
    let (maker_fees, taker_fees) = (fees(maker_addr)?, fees(taker_addr)?);
    let (base, quote) = (U256::from(BASE_WEI), U256::from(QUOTE_UNITS));
    // The maker sold 0.25 ETH on the base chain for 625 USDC on the quote chain.
    assert_eq!(after.0.base_eth, before.0.base_eth - base - maker_fees.0);
    assert_eq!(after.0.usdc, before.0.usdc + quote);
    assert_eq!(after.0.quote_eth, before.0.quote_eth - maker_fees.1);
    // The taker bought it.
    assert_eq!(after.1.base_eth, before.1.base_eth + base - taker_fees.0);
    assert_eq!(after.1.usdc, before.1.usdc - quote);
    assert_eq!(after.1.quote_eth, before.1.quote_eth - taker_fees.1);
    // Each side paid for its own transactions: maker lock (base) + claim (quote), taker
    // approve + lock (quote) + claim (base).
    assert!(maker_fees.0 > U256::ZERO && maker_fees.1 > U256::ZERO);
    assert!(taker_fees.0 > U256::ZERO && taker_fees.1 > U256::ZERO);

    // Both orders are done, in the database and in every book.
    let (stored_ask, _) = maker.own_order(ask).await?;
    assert_eq!(
        (stored_ask.status, stored_ask.remaining),
        (OwnOrderStatus::Filled, Lots(0))
    );
    let (stored_bid, _) = taker.own_order(bid).await?;
    assert_eq!(
        (stored_bid.status, stored_bid.remaining),
        (OwnOrderStatus::Filled, Lots(0))
    );
    for handle in [&maker, &taker] {
        wait_for(
            "the filled ask gone from the book",
            SWAP_DEADLINE,
            || async {
                handle
                    .depth(eth_usdc_id(), 10)
                    .await
                    .is_ok_and(|d| d.asks.is_empty() && d.bids.is_empty())
            },
        )
        .await?;
    }
    let trades = taker.trades(eth_usdc_id(), 10).await?;
    assert_eq!(trades.len(), 1);
    assert_eq!(
        (trades[0].price, trades[0].quantity, trades[0].taker_side),
        (Ticks(PRICE), Lots(LOTS), Side::Buy)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resting_order_that_turns_out_later_in_a_cross_takes() -> anyhow::Result<()> {
    let settled = settled(2).await?;
    let (maker, taker) = (settled.net.node(0)?.clone(), settled.net.node(1)?.clone());
    // Apart, each places a GTC order: the ask first, then the bid, which crosses it but
    // cannot see it, so it rests.
    let maker_peer = settled.net.nodes[0].peer_id;
    taker.network().disconnect(maker_peer).await?;
    wait_for("the nodes apart", SWAP_DEADLINE, || async {
        taker
            .network()
            .peers(None)
            .await
            .is_ok_and(|view| !view.connected.contains(&maker_peer))
    })
    .await?;
    let ask = maker
        .place_order(order(Side::Sell, PRICE, LOTS, TimeInForce::Gtc))
        .await?;
    let bid = taker
        .place_order(order(Side::Buy, PRICE, LOTS, TimeInForce::Gtc))
        .await?;
    assert!(taker.swaps().await?.is_empty());
    // Together again: the books sync, both see the cross, and the later order of the two
    // (by createdAt, then id; usually the bid) takes the other.
    settled.net.dial(1, 0).await?;
    let maker_swaps = finished_swaps(&maker, 1).await?;
    assert_eq!(maker_swaps[0].1.outcome(), Some(&Outcome::Completed));
    assert_eq!(maker_swaps[0].0.counter_order_id, bid);
    assert_eq!(maker_swaps[0].0.own_order_id, ask);
    finished_swaps(&taker, 1).await?;
    let (stored, _) = taker.own_order(bid).await?;
    assert_eq!(
        (stored.status, stored.remaining),
        (OwnOrderStatus::Filled, Lots(0))
    );
    Ok(())
}

/// The trade of one swap as balance changes, for exact checks.
fn trade_amounts(lots: u64) -> (U256, U256) {
    (
        U256::from(BASE_WEI / LOTS * lots),
        U256::from(QUOTE_UNITS / LOTS * lots),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_takers_fill_one_order_in_parts() -> anyhow::Result<()> {
    let settled = settled(3).await?;
    let maker = settled.net.node(0)?.clone();
    let ask = maker
        .place_order(order(Side::Sell, PRICE, LOTS, TimeInForce::Gtc))
        .await?;
    for index in 1..3 {
        wait_offered(settled.net.node(index)?, ask, Some(LOTS)).await?;
    }
    let chains = &settled.chains;
    let maker_addr = settled.net.nodes[0].trader.address();
    let before = wallet(chains, maker_addr).await?;
    // 100 + 120 of 250: both fit.
    let (a, b) = (settled.net.node(1)?.clone(), settled.net.node(2)?.clone());
    let (first, second) = tokio::join!(
        a.place_order(order(Side::Buy, PRICE, 100, TimeInForce::Ioc)),
        b.place_order(order(Side::Buy, PRICE, 120, TimeInForce::Ioc)),
    );
    first?;
    second?;
    let swaps = finished_swaps(&maker, 2).await?;
    assert_eq!(swaps.len(), 2);
    assert!(
        swaps
            .iter()
            .all(|(_, swap)| swap.outcome() == Some(&Outcome::Completed))
    );
    let mut quantities: Vec<u64> = swaps.iter().map(|(record, _)| record.quantity.0).collect();
    quantities.sort_unstable();
    assert_eq!(quantities, vec![100, 120]);
    // The maker received exactly 220 lots' worth of USDC.
    let after = wallet(chains, maker_addr).await?;
    assert_eq!(after.usdc, before.usdc + trade_amounts(220).1);
    // 30 lots remain, in the database and in every node's book.
    let (stored, order_swaps) = maker.own_order(ask).await?;
    assert_eq!(
        (stored.status, stored.remaining),
        (OwnOrderStatus::Open, Lots(30))
    );
    assert_eq!(order_swaps.len(), 2);
    for index in 0..3 {
        wait_offered(settled.net.node(index)?, ask, Some(30)).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_takers_race_for_one_order_and_one_wins() -> anyhow::Result<()> {
    let settled = settled(4).await?;
    let maker = settled.net.node(0)?.clone();
    let ask = maker
        .place_order(order(Side::Sell, PRICE, 100, TimeInForce::Gtc))
        .await?;
    for index in 1..4 {
        wait_offered(settled.net.node(index)?, ask, Some(100)).await?;
    }
    let takers: Vec<NodeHandle> = (1..4)
        .map(|index| settled.net.node(index).cloned())
        .collect::<Result<_, _>>()?;
    // Two IOC, one GTC: the losers' IOC orders are cancelled, the GTC one rests.
    let (one, two, three) = tokio::join!(
        takers[0].place_order(order(Side::Buy, PRICE, 100, TimeInForce::Ioc)),
        takers[1].place_order(order(Side::Buy, PRICE, 100, TimeInForce::Ioc)),
        takers[2].place_order(order(Side::Buy, PRICE, 100, TimeInForce::Gtc)),
    );
    let ids = [one?, two?, three?];
    let swaps = finished_swaps(&maker, 1).await?;
    assert_eq!(swaps.len(), 1, "exactly one swap for one order");
    assert_eq!(swaps[0].1.outcome(), Some(&Outcome::Completed));
    let winner = swaps[0].0.counter_order_id;
    let winner_index = ids
        .iter()
        .position(|id| *id == winner)
        .context("the swap is one of the three takers' orders")?;
    for (index, (taker, id)) in takers.iter().zip(ids).enumerate() {
        let own_swaps = taker.swaps().await?;
        if index == winner_index {
            finished_swaps(taker, 1).await?;
            let (stored, _) = taker.own_order(id).await?;
            assert_eq!(stored.status, OwnOrderStatus::Filled);
        } else {
            assert!(own_swaps.is_empty(), "a loser started no swap");
            let expected = if index == 2 {
                OwnOrderStatus::Open
            } else {
                OwnOrderStatus::Cancelled
            };
            wait_for("the loser's order settled", SWAP_DEADLINE, || async {
                taker.own_order(id).await.is_ok_and(|(stored, _)| {
                    stored.status == expected && stored.remaining == Lots(100)
                })
            })
            .await?;
        }
    }
    // The maker sold 100 lots once: nothing double-spent.
    let (stored, _) = maker.own_order(ask).await?;
    assert_eq!(
        (stored.status, stored.remaining),
        (OwnOrderStatus::Filled, Lots(0))
    );
    Ok(())
}

/// Which writes a crash may follow: those of a swap (not order bookkeeping).
fn swap_write(op: &dex_node::StoreOp) -> bool {
    matches!(
        op,
        dex_node::StoreOp::CreateSwap { .. }
            | dex_node::StoreOp::AppendSwap { .. }
            | dex_node::StoreOp::Commit { .. }
            | dex_node::StoreOp::Trade(_)
    )
}

/// One crash case: node `victim` stops right after its `step`-th swap write, is restarted
/// from its data dir, and the trade ends either done or undone — exactly.
async fn crash_case(victim: usize, step: usize) -> anyhow::Result<bool> {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    let writes = Arc::new(AtomicUsize::new(0));
    let counter = writes.clone();
    let mut settled = settled_with(2, move |index, config| {
        // Short enough that an unanswered take and an unused reservation end quickly.
        // (One process, one clock: no skew to allow for.)
        config.reservation = Duration::from_secs(4);
        config.lock_margin = Duration::from_secs(1);
        config.max_clock_skew = Duration::ZERO;
        config.take_timeout = Duration::from_secs(2);
        config.timing.retry_ms = 500;
        if index == victim {
            let counter = counter.clone();
            config.crash_after = Some(dex_node::CrashHook(Arc::new(move |op| {
                swap_write(op) && counter.fetch_add(1, Ordering::SeqCst) + 1 == step
            })));
        }
    })
    .await?;
    let chains = settled.chains.clone();
    let addrs = [
        settled.net.nodes[0].trader.address(),
        settled.net.nodes[1].trader.address(),
    ];
    let start = (
        block_number(&chains.base.rpc_url)?,
        block_number(&chains.quote.rpc_url)?,
    );
    let before = [
        wallet(&chains, addrs[0]).await?,
        wallet(&chains, addrs[1]).await?,
    ];

    let maker = settled.net.node(0)?.clone();
    let taker = settled.net.node(1)?.clone();
    let ask = maker
        .place_order(order(Side::Sell, PRICE, LOTS, TimeInForce::Gtc))
        .await?;
    wait_offered(&taker, ask, Some(LOTS)).await?;
    let bid = taker
        .place_order(order(Side::Buy, PRICE, LOTS, TimeInForce::Ioc))
        .await?;

    // Either the victim crashes at its step, or the trade ends before it writes that much.
    let victim_handle = settled.net.node(victim)?.clone();
    let deadline = tokio::time::Instant::now() + SWAP_DEADLINE;
    let crashed = loop {
        if victim_handle.chains_up().await.is_err() {
            break true;
        }
        if writes.load(std::sync::atomic::Ordering::SeqCst) < step
            && trade_over(&maker, &taker, bid).await
        {
            break false;
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("neither a crash nor the end of the trade (crash of {victim} at {step})");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    if crashed {
        settled.net.nodes[victim].handle = None;
        settled.net.restart(victim).await?;
        wait_chains_up(settled.net.node(victim)?).await?;
    }
    let maker = settled.net.node(0)?.clone();
    let taker = settled.net.node(1)?.clone();
    // Everything settles: every swap finished, the taker's IOC order no longer open.
    wait_for(
        "every swap finished and the taker order done",
        SWAP_DEADLINE,
        || trade_over(&maker, &taker, bid),
    )
    .await?;
    let taker_swaps = taker.swaps().await?;
    let completed = taker_swaps
        .iter()
        .any(|(_, swap)| swap.outcome() == Some(&Outcome::Completed));
    let end = (
        block_number(&chains.base.rpc_url)?,
        block_number(&chains.quote.rpc_url)?,
    );
    let after = [
        wallet(&chains, addrs[0]).await?,
        wallet(&chains, addrs[1]).await?,
    ];
    let (base, quote) = if completed {
        trade_amounts(LOTS)
    } else {
        (U256::ZERO, U256::ZERO)
    };
    eprintln!("crash case: victim {victim} step {step}: crashed {crashed}, completed {completed}");
    for (index, sign) in [(0usize, -1i8), (1, 1)] {
        let fee_base = fees_paid(&chains.base.rpc_url, addrs[index], start.0 + 1, end.0)?;
        let fee_quote = fees_paid(&chains.quote.rpc_url, addrs[index], start.1 + 1, end.1)?;
        let (b, a) = (before[index], after[index]);
        if sign < 0 {
            assert_eq!(
                a.base_eth,
                b.base_eth - base - fee_base,
                "maker base, crash of {victim} at {step}"
            );
            assert_eq!(
                a.usdc,
                b.usdc + quote,
                "maker usdc, crash of {victim} at {step}"
            );
        } else {
            assert_eq!(
                a.base_eth,
                b.base_eth + base - fee_base,
                "taker base, crash of {victim} at {step}"
            );
            assert_eq!(
                a.usdc,
                b.usdc - quote,
                "taker usdc, crash of {victim} at {step}"
            );
        }
        assert_eq!(
            a.quote_eth,
            b.quote_eth - fee_quote,
            "quote gas, crash of {victim} at {step}"
        );
    }
    // Nothing is left locked in either contract.
    for chain in [&chains.base, &chains.quote] {
        let eth = native_balance(&chain.rpc_url, chain.htlc)?;
        assert_eq!(
            eth,
            U256::ZERO,
            "ETH left in the HTLC, crash of {victim} at {step}"
        );
    }
    let maker_swaps = maker.swaps().await?;
    assert_eq!(
        maker_swaps
            .iter()
            .filter(|(_, s)| s.outcome() == Some(&Outcome::Completed))
            .count(),
        usize::from(completed),
        "both sides agree on the outcome"
    );
    Ok(crashed)
}

/// Whether every swap of both nodes is finished and the taker's IOC order is done.
async fn trade_over(maker: &NodeHandle, taker: &NodeHandle, bid: OrderId) -> bool {
    let swaps_done = |swaps: Result<Vec<(dex_node::SwapRecord, Swap)>, dex_node::Error>| {
        swaps.is_ok_and(|swaps| swaps.iter().all(|(_, swap)| swap.is_finished()))
    };
    swaps_done(maker.swaps().await)
        && swaps_done(taker.swaps().await)
        && taker
            .own_order(bid)
            .await
            .is_ok_and(|(order, _)| order.status != OwnOrderStatus::Open)
}

/// Waits until node `index` stopped at its crash hook.
async fn crashed(settled: &Settled, index: usize) -> anyhow::Result<()> {
    let node = settled.net.node(index)?.clone();
    wait_for("the node stopped at its crash", SWAP_DEADLINE, || async {
        node.chains_up().await.is_err()
    })
    .await?;
    Ok(())
}

/// Waits until node `index` stopped at its crash hook, starts it again and waits for its
/// chains: its new handle.
async fn restart_after_crash(settled: &mut Settled, index: usize) -> anyhow::Result<NodeHandle> {
    crashed(settled, index).await?;
    settled.net.nodes[index].handle = None;
    settled.net.restart(index).await?;
    let node = settled.net.node(index)?.clone();
    wait_chains_up(&node).await?;
    Ok(node)
}

/// An IOC order stored, and the node stopped before any of its takes left: after the
/// restart it is over (nothing of it was taken), not a resting order in the book.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ioc_order_stored_just_before_a_crash_does_not_rest_after_the_restart()
-> anyhow::Result<()> {
    use std::sync::Arc;
    let mut settled = settled_with(2, |index, config| {
        if index == 1 {
            config.crash_after = Some(dex_node::CrashHook(Arc::new(|op| {
                matches!(op, dex_node::StoreOp::InsertOrder(order)
                    if order.signed.order.side == Side::Buy)
            })));
        }
    })
    .await?;
    let maker = settled.net.node(0)?.clone();
    let taker = settled.net.node(1)?.clone();
    let ask = maker
        .place_order(order(Side::Sell, PRICE, LOTS, TimeInForce::Gtc))
        .await?;
    wait_offered(&taker, ask, Some(LOTS)).await?;
    // The IOC bid is written, then the node stops: its take is never sent.
    let _ = taker
        .place_order(order(Side::Buy, PRICE, LOTS, TimeInForce::Ioc))
        .await;
    let taker = restart_after_crash(&mut settled, 1).await?;
    let bids = taker
        .own_orders(Some(eth_usdc_id()), None)
        .await?
        .into_iter()
        .filter(|own| own.signed.order.side == Side::Buy)
        .collect::<Vec<_>>();
    assert_eq!(bids.len(), 1, "the IOC bid was stored: {bids:?}");
    assert_ne!(
        bids[0].status,
        OwnOrderStatus::Open,
        "the IOC bid is over after the restart: {bids:?}"
    );
    let depth = taker.depth(eth_usdc_id(), 10).await?;
    assert!(
        depth.bids.is_empty(),
        "no bid rests in the taker's book: {:?}",
        depth.bids
    );
    // Nothing was taken: the ask is still offered whole.
    wait_offered(&taker, ask, Some(LOTS)).await?;
    Ok(())
}

/// A maker's node stopped right after storing a cancel, before the cancel left it: its
/// peers still hold the order. After the restart the node does not take that order back
/// from them (its start-up sync or their gossip) and does not sell it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_stored_just_before_a_crash_is_not_undone_by_a_peers_copy() -> anyhow::Result<()> {
    use std::sync::Arc;
    let mut settled = settled_with(2, |index, config| {
        if index == 0 {
            config.crash_after = Some(dex_node::CrashHook(Arc::new(|op| {
                matches!(
                    op,
                    dex_node::StoreOp::UpdateOrder {
                        status: OwnOrderStatus::Cancelled,
                        ..
                    }
                )
            })));
        }
    })
    .await?;
    let maker = settled.net.node(0)?.clone();
    let taker = settled.net.node(1)?.clone();
    let ask = maker
        .place_order(order(Side::Sell, PRICE, LOTS, TimeInForce::Gtc))
        .await?;
    // A bid of the taker far below: when the restarted maker shows it, its start-up sync
    // with the taker is done.
    let marker = taker
        .place_order(order(Side::Buy, PRICE / 2, 10, TimeInForce::Gtc))
        .await?;
    wait_offered(&taker, ask, None).await?;
    wait_offered(&maker, marker, None).await?;
    // The cancel is written, then the node stops: the update never leaves it.
    let _ = maker.cancel_own_order(ask).await;
    crashed(&settled, 0).await?;
    assert_eq!(
        taker.order_status(ask).await?,
        dex_book::OrderStatus::Open,
        "the taker still holds the cancelled ask"
    );
    let maker = restart_after_crash(&mut settled, 0).await?;
    wait_offered(&maker, marker, None).await?;
    let (own, _) = maker.own_order(ask).await?;
    assert_eq!(
        own.status,
        OwnOrderStatus::Cancelled,
        "the cancel was stored"
    );
    let depth = maker.depth(eth_usdc_id(), 10).await?;
    assert!(
        depth.asks.is_empty(),
        "the cancelled ask is back in the maker's book: {:?}",
        depth.asks
    );
    // A taker that still sees the ask gets nothing of it.
    let bid = taker
        .place_order(order(Side::Buy, PRICE, LOTS, TimeInForce::Ioc))
        .await?;
    wait_for("the IOC bid over", SWAP_DEADLINE, || async {
        taker
            .own_order(bid)
            .await
            .is_ok_and(|(own, _)| own.status != OwnOrderStatus::Open)
    })
    .await?;
    assert!(
        maker.swaps().await?.is_empty(),
        "the cancelled ask was sold"
    );
    assert!(
        taker.swaps().await?.is_empty(),
        "the cancelled ask was bought"
    );
    Ok(())
}

/// A resting own order past its expiry ends as expired: listed so, with nothing left open,
/// its funds no longer reserved; one that expired while its node was down ends so at the
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_order_past_its_expiry_ends_expired_in_a_run_and_across_a_restart()
-> anyhow::Result<()> {
    let mut settled = settled(1).await?;
    let node = settled.net.node(0)?.clone();
    let trader = settled.net.nodes[0].trader.address();
    let base_chain = settled.chains.base.chain_id;
    let reserved_eth = |node: NodeHandle| async move {
        let balances = node.balances().await?;
        balances
            .into_iter()
            .find(|b| {
                b.trader == trader
                    && b.chain_id == base_chain
                    && b.token == dex_primitives::Address::ZERO
            })
            .map(|b| b.reserved_by_orders)
            .context("no ETH balance")
    };
    let short = |ms| PlaceOrder {
        expires_in_ms: Some(ms),
        ..order(Side::Sell, PRICE, LOTS, TimeInForce::Gtc)
    };
    let ask = node.place_order(short(2_000)).await?;
    assert!(reserved_eth(node.clone()).await? > U256::ZERO);
    wait_for("the ask expired", SWAP_DEADLINE, || async {
        node.own_order(ask)
            .await
            .is_ok_and(|(own, _)| own.status == OwnOrderStatus::Expired)
    })
    .await?;
    let (own, _) = node.own_order(ask).await?;
    assert_eq!(own.remaining, Lots::ZERO);
    let open = node.own_orders(None, Some(OwnOrderStatus::Open)).await?;
    assert!(open.is_empty(), "still listed open: {open:?}");
    assert_eq!(reserved_eth(node.clone()).await?, U256::ZERO);

    // One that expires while the node is down.
    let ask = node.place_order(short(3_000)).await?;
    let expires_at = node.own_order(ask).await?.0.signed.order.expires_at;
    settled.net.stop(0).await?;
    let wait = expires_at.saturating_sub(dex_test_utils::harness::now_ms()) + 100;
    tokio::time::sleep(Duration::from_millis(wait)).await;
    settled.net.restart(0).await?;
    let node = settled.net.node(0)?.clone();
    wait_chains_up(&node).await?;
    let (own, _) = node.own_order(ask).await?;
    assert_eq!(
        (own.status, own.remaining),
        (OwnOrderStatus::Expired, Lots::ZERO),
        "expired while down"
    );
    assert_eq!(reserved_eth(node.clone()).await?, U256::ZERO);
    Ok(())
}

/// The library's update and cancel of an own order on a settling node are stored like the
/// API's cancel: after a restart the lowered order rests at its lowered quantity and the
/// cancelled one stays cancelled, out of the book.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_orders_update_and_cancel_through_the_handle_survive_a_restart() -> anyhow::Result<()>
{
    let mut settled = settled(1).await?;
    let node = settled.net.node(0)?.clone();
    let lowered = node
        .place_order(order(Side::Sell, PRICE, LOTS, TimeInForce::Gtc))
        .await?;
    let cancelled = node
        .place_order(order(Side::Sell, PRICE + 100, LOTS, TimeInForce::Gtc))
        .await?;
    node.update_order(lowered, Lots(100)).await?;
    node.cancel_order(cancelled).await?;
    settled.net.stop(0).await?;
    settled.net.restart(0).await?;
    let node = settled.net.node(0)?.clone();
    wait_chains_up(&node).await?;
    let (own, _) = node.own_order(lowered).await?;
    assert_eq!(
        (own.status, own.remaining),
        (OwnOrderStatus::Open, Lots(100))
    );
    let (own, _) = node.own_order(cancelled).await?;
    assert_eq!(
        (own.status, own.remaining),
        (OwnOrderStatus::Cancelled, Lots::ZERO)
    );
    let depth = node.depth(eth_usdc_id(), 10).await?;
    let asks: Vec<(u64, u64)> = depth
        .asks
        .iter()
        .map(|level| (level.price.0, level.quantity.0))
        .collect();
    assert_eq!(asks, vec![(PRICE, 100)], "the book after the restart");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_of_the_maker_after_any_swap_write_still_settles() -> anyhow::Result<()> {
    let mut step = 1;
    while crash_case(0, step).await? {
        step += 1;
    }
    assert!(step > 4, "the maker wrote only {} swap steps", step - 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_of_the_taker_after_any_swap_write_still_settles() -> anyhow::Result<()> {
    let mut step = 1;
    while crash_case(1, step).await? {
        step += 1;
    }
    assert!(step > 4, "the taker wrote only {} swap steps", step - 1);
    Ok(())
}

/// Orders placed at the same time share database commits (group commit), and every order
/// answered as placed is in the database when the node starts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_placed_together_are_stored_before_they_are_answered() -> anyhow::Result<()> {
    const ORDERS: u64 = 300;
    let mut settled = settled(1).await?;
    let node = settled.net.node(0)?.clone();
    let placing: Vec<_> = (0..ORDERS)
        .map(|index| {
            let node = node.clone();
            tokio::spawn(async move {
                node.place_order(order(Side::Sell, PRICE + index, 1, TimeInForce::Gtc))
                    .await
            })
        })
        .collect();
    let mut placed = Vec::new();
    for task in placing {
        placed.push(task.await??);
    }
    let metrics = node.metrics();
    let commits = dex_node::NodeMetrics::get(&metrics.place_commits);
    assert_eq!(
        dex_node::NodeMetrics::get(&metrics.place_committed_orders),
        ORDERS
    );
    assert!(
        commits < ORDERS,
        "{commits} commits for {ORDERS} orders placed at once"
    );

    settled.net.stop(0).await?;
    settled.net.restart(0).await?;
    let node = settled.net.node(0)?.clone();
    let stored: std::collections::HashSet<OrderId> = node
        .own_orders(Some(eth_usdc_id()), Some(OwnOrderStatus::Open))
        .await?
        .into_iter()
        .map(|order| order.id)
        .collect();
    for id in &placed {
        assert!(stored.contains(id), "order {id} answered but not stored");
    }
    assert_eq!(stored.len(), placed.len());
    Ok(())
}

/// Placements sent together under the same client order ids while the node stores
/// placements in shared commits: one order per id, and every answer under an id names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_order_ids_sent_many_times_at_once_place_one_order_each() -> anyhow::Result<()> {
    const SENDS: u64 = 200;
    const IDS: u64 = 20;
    let settled = settled(1).await?;
    let node = settled.net.node(0)?.clone();
    let placing: Vec<_> = (0..SENDS)
        .map(|index| {
            let node = node.clone();
            tokio::spawn(async move {
                // The same placement under the same id, ten times each, interleaved.
                let key = index % IDS;
                let mut request = order(Side::Sell, PRICE + key, 1, TimeInForce::Gtc);
                request.client_order_id = Some(format!("dup-{key}"));
                node.place(request).await
            })
        })
        .collect();
    let mut orders_of =
        std::collections::HashMap::<String, std::collections::HashSet<OrderId>>::new();
    for task in placing {
        let answer: OwnOrder = task.await??;
        let client = answer
            .client
            .expect("the answer carries its client order id");
        orders_of.entry(client.id).or_default().insert(answer.id);
    }
    assert_eq!(orders_of.len() as u64, IDS);
    for (id, orders) in &orders_of {
        assert_eq!(orders.len(), 1, "{id}: one order, {orders:?}");
    }
    // Each id's order stored once (placements that repeat one are answered from the
    // store, not stored again).
    assert_eq!(
        NodeMetrics::get(&node.metrics().place_committed_orders),
        IDS
    );
    let open = node
        .own_orders(Some(eth_usdc_id()), Some(OwnOrderStatus::Open))
        .await?;
    assert_eq!(open.len() as u64, IDS);
    Ok(())
}

/// A reorg of the taker's chain removes the taker's lock after the maker locked against
/// it: the maker's swap shows `reorged`, is counted, and sends no claim for the lock that
/// is gone. (The taker here never claims: it waits for more confirmations than will come.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_lock_removed_by_a_reorg_surfaces_on_the_maker() -> anyhow::Result<()> {
    let settled = settled_with(2, |index, config| {
        if index == 1 {
            config.timing.maker_leg_confirmations = 1_000_000;
        }
    })
    .await?;
    let (maker, taker) = (settled.net.node(0)?.clone(), settled.net.node(1)?.clone());
    // The taker buys: its lock is on the quote chain.
    let quote = settled.chains.quote.rpc_url.clone();
    let before_bid = block_number(&quote)?;
    trade_until_the_maker_locked(&maker, &taker).await?;
    assert_eq!(NodeMetrics::get(&maker.metrics().swaps_reorged), 0);

    // Every block since the bid (the taker's approval and lock) replaced by empty ones.
    let depth = block_number(&quote)? - before_bid;
    dex_devnet::inproc::rpc(&quote, "anvil_reorg", serde_json::json!([depth, []]))?;
    wait_for("the maker's swap reorged", SWAP_DEADLINE, || async {
        first_swap_phase(&maker).await == Some("reorged")
    })
    .await?;
    assert_eq!(NodeMetrics::get(&maker.metrics().swaps_reorged), 1);
    let swaps = maker.swaps().await?;
    assert!(!swaps[0].1.is_finished());
    Ok(())
}

/// A taker with no native coin on the chain it would claim on (it buys ETH, so it claims on
/// the base chain) is refused with insufficient-gas before anything is sent: no take, no
/// lock, the maker's order untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taker_that_cannot_pay_for_its_claim_is_refused_and_nothing_is_locked()
-> anyhow::Result<()> {
    let settled = settled_with(2, |_, config| {
        config.balance_refresh = Duration::from_millis(100);
    })
    .await?;
    let (maker, taker) = (settled.net.node(0)?.clone(), settled.net.node(1)?.clone());
    let taker_addr = settled.net.nodes[1].trader.address();
    let base = settled.chains.base.rpc_url.clone();
    dex_devnet::inproc::rpc(
        &base,
        "anvil_setBalance",
        serde_json::json!([taker_addr.to_string(), "0x0"]),
    )?;
    let ask = maker
        .place_order(order(Side::Sell, PRICE, LOTS, TimeInForce::Gtc))
        .await?;
    wait_offered(&taker, ask, Some(LOTS)).await?;
    // The balance reading that shows the empty account comes within a refresh.
    wait_for("the empty account read", SWAP_DEADLINE, || async {
        taker.balances().await.is_ok_and(|balances| {
            balances.iter().any(|balance| {
                balance.chain_id == dex_devnet::BASE_CHAIN_ID
                    && balance.token.is_zero()
                    && balance.on_chain.is_zero()
                    && balance.read_at.is_some()
            })
        })
    })
    .await?;
    let refusal = taker
        .place_order(order(Side::Buy, PRICE, LOTS, TimeInForce::Ioc))
        .await;
    match refusal {
        Err(dex_node::Error::InsufficientGas {
            chain_id,
            needed,
            available,
        }) => {
            assert_eq!(chain_id, dex_devnet::BASE_CHAIN_ID);
            assert_eq!(available, U256::ZERO);
            assert!(needed > U256::ZERO);
        }
        other => panic!("{other:?}"),
    }
    assert!(taker.swaps().await?.is_empty());
    assert!(maker.swaps().await?.is_empty());
    assert_eq!(
        dex_devnet::inproc::native_balance(&base, taker_addr)?,
        U256::ZERO
    );
    let (stored_ask, _) = maker.own_order(ask).await?;
    assert_eq!(stored_ask.remaining, Lots(LOTS));
    Ok(())
}

/// The taker's claim cannot be mined (the chain it claims on stops mining right after the
/// maker's lock counts): the claim waits in the mempool, the taker sends no secret hint and
/// the maker has no secret meanwhile; once the chain mines again the claim lands, the hint
/// follows, and the swap completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_cannot_be_mined_gives_the_maker_no_secret_until_it_is() -> anyhow::Result<()>
{
    // The taker waits for a second confirmation of the maker's lock (the base chain mines
    // one block per transaction): mining it is this test's to decide.
    let settled = settled_with(2, |index, config| {
        if index == 1 {
            config.timing.maker_leg_confirmations = 2;
        }
    })
    .await?;
    let (maker, taker) = (settled.net.node(0)?.clone(), settled.net.node(1)?.clone());
    let base = settled.chains.base.rpc_url.clone();
    trade_until_the_maker_locked(&maker, &taker).await?;
    // Mining stops; one more block gives the maker's lock its second confirmation.
    dex_devnet::inproc::rpc(&base, "evm_setAutomine", serde_json::json!([false]))?;
    dex_devnet::inproc::rpc(&base, "evm_mine", serde_json::json!([]))?;
    wait_for("the taker's claim sent", SWAP_DEADLINE, || async {
        first_swap_phase(&taker).await == Some("takerClaiming")
    })
    .await?;
    wait_for("the claim in the mempool", SWAP_DEADLINE, || async {
        dex_devnet::inproc::rpc(&base, "txpool_status", serde_json::json!([]))
            .ok()
            .and_then(|status| status["pending"].as_str().map(str::to_owned))
            .is_some_and(|pending| pending != "0x0")
    })
    .await?;
    let swap_id = taker.swaps().await?[0].0.swap_id;
    let (_, _, log) = taker.swap(swap_id).await?;
    let sent = |what: &dyn Fn(&dex_swap::Action) -> bool| {
        log.iter().flat_map(|row| &row.actions).any(what)
    };
    assert!(sent(&|action| matches!(
        action,
        dex_swap::Action::Claim { .. }
    )));
    assert!(
        !sent(&|action| matches!(
            action,
            dex_swap::Action::Send(dex_swap::Hint::Secret { .. })
        )),
        "the secret hint went out before the claim was mined"
    );
    let (_, maker_swap, _) = maker.swap(swap_id).await?;
    assert_eq!(maker_swap.secret(), None);
    assert_eq!(first_swap_phase(&maker).await, Some("makerLocked"));

    // Mining again: the claim lands, the maker learns the secret, both complete.
    dex_devnet::inproc::rpc(&base, "evm_setAutomine", serde_json::json!([true]))?;
    dex_devnet::inproc::rpc(&base, "evm_mine", serde_json::json!([]))?;
    for handle in [&maker, &taker] {
        let swaps = finished_swaps(handle, 1).await?;
        assert_eq!(swaps[0].1.outcome(), Some(&Outcome::Completed));
    }
    Ok(())
}

/// Issue 16's first finding: an order posted with `POST /v1/orders/signed` was booked and
/// gossiped but not an own order: not stored, its fills committed no update (every peer kept
/// showing it whole), and after a restart sync brought it back at full size, so the maker
/// could be made to sell more than it signed for. Now it is placed like any own order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_order_is_an_own_order_filled_once_and_never_back() -> anyhow::Result<()> {
    let mut settled = settled(2).await?;
    let (maker, taker) = (settled.net.node(0)?.clone(), settled.net.node(1)?.clone());
    let now = dex_test_utils::harness::now_ms();
    let signed = dex_test_utils::OrderBuilder::new()
        .maker(&settled.net.nodes[0].trader)
        .peer(&settled.net.nodes[0].peer_id.to_base58())
        .side(Side::Sell)
        .price(PRICE)
        .quantity(LOTS)
        .created_at(now)
        .expires_at(now + 3_600_000)
        .sign();
    let ask = maker.post_order(signed.clone()).await?;
    let (stored, _) = maker.own_order(ask).await?;
    assert_eq!(
        (stored.status, stored.remaining),
        (OwnOrderStatus::Open, Lots(LOTS))
    );
    wait_offered(&taker, ask, Some(LOTS)).await?;
    taker
        .place_order(order(Side::Buy, PRICE, LOTS, TimeInForce::Ioc))
        .await?;
    for handle in [&maker, &taker] {
        let swaps = finished_swaps(handle, 1).await?;
        assert_eq!(swaps[0].1.outcome(), Some(&Outcome::Completed));
    }
    // Filled, in the maker's database, and gone from the taker's book (the update went out).
    let (stored, _) = maker.own_order(ask).await?;
    assert_eq!(
        (stored.status, stored.remaining),
        (OwnOrderStatus::Filled, Lots(0))
    );
    wait_for(
        "the filled ask gone from the taker's book",
        SWAP_DEADLINE,
        || async {
            taker
                .depth(eth_usdc_id(), 10)
                .await
                .is_ok_and(|depth| depth.asks.is_empty())
        },
    )
    .await?;
    // Posting it again changes nothing; after a restart the maker still knows it filled,
    // and nothing brings it back.
    assert!(maker.post_order(signed.clone()).await.is_err());
    settled.net.stop(0).await?;
    settled.net.restart(0).await?;
    let maker = settled.net.node(0)?.clone();
    dex_devnet::inproc::wait_chains_up(&maker).await?;
    let (stored, _) = maker.own_order(ask).await?;
    assert_eq!(
        (stored.status, stored.remaining),
        (OwnOrderStatus::Filled, Lots(0))
    );
    assert!(maker.post_order(signed).await.is_err());
    assert!(maker.depth(eth_usdc_id(), 10).await?.asks.is_empty());
    let trades = maker.swaps().await?;
    assert_eq!(trades.len(), 1);
    Ok(())
}
