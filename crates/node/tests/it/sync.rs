use std::time::Duration;

use dex_network::RateLimit;
use dex_node::NodeMetrics;
use dex_primitives::Side;
use dex_test_utils::{
    eth_usdc_id,
    harness::{DEADLINE, TestNetwork, Topology, node_trader},
    trader, wait_for,
};

/// 5,000 orders are posted at a node; a second node that connects afterwards and a third
/// that joins after that both show every one of them within the deadline, through sync alone
/// (the third from two peers at once). Heartbeats are an hour apart: the makers' liveness
/// comes with the pages, not from a heartbeat the joiners would wait for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_joiner_gets_5000_orders_by_sync() -> anyhow::Result<()> {
    const ORDERS: u64 = 5_000;
    const MAKERS: u64 = 6;
    let makers: Vec<_> = (0..MAKERS).map(|m| trader(300 + m)).collect();
    // Posted at node 0 before node 1 dials it: node 1 learns them by its start sync too.
    let mut net = TestNetwork::start_with(2, Topology::None, |index, config| {
        if index == 0 {
            config.traders = makers.clone();
        }
        config.liveness.alive_interval = Duration::from_secs(3_600);
        config.liveness.silent_after = Duration::from_secs(7_200);
        // This test is about sync, not the flood limiter: let the pair gossip freely.
        config.network.gossip_rate = RateLimit {
            per_second: 100_000.0,
            burst: 100_000.0,
        };
    })
    .await?;
    let market = eth_usdc_id();
    let poster = net.node(0)?.clone();
    let peer = net.nodes[0].peer_id.to_base58();
    let bases: Vec<_> = makers
        .iter()
        .map(|maker| net.order(0).maker(maker).peer(&peer))
        .collect();
    for k in 0..ORDERS {
        let side = if k.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        let price = if side == Side::Buy {
            1_000 + k % 500
        } else {
            2_000 + k % 500
        };
        let builder = bases[(k % MAKERS) as usize]
            .clone()
            .side(side)
            .price(price)
            .nonce(k);
        poster.post_order(builder.sign()).await?;
    }
    let first = net.node(0)?.clone();
    let second = net.node(1)?.clone();
    net.dial(1, 0).await?;
    wait_for("both nodes to hold 5,000 orders", DEADLINE, || async {
        first
            .stats(market)
            .await
            .is_ok_and(|s| s.visible == ORDERS as usize)
            && second
                .stats(market)
                .await
                .is_ok_and(|s| s.visible == ORDERS as usize)
    })
    .await?;

    // The joiner: a node started now, dialing both.
    let mut joiner_config = dex_test_utils::harness::test_config(2);
    joiner_config.traders = vec![node_trader(2)];
    joiner_config.liveness = net.nodes[0].config.liveness;
    let joiner = dex_node::spawn(
        joiner_config,
        dex_network::Keypair::generate_ed25519(),
        std::sync::Arc::new(dex_node::SystemClock),
        1,
        &mut dex_node::Registry::default(),
    )
    .await?;
    for node in &net.nodes {
        joiner.network().dial(node.address.clone()).await?;
    }
    wait_for("the joiner to show all 5,000 orders", DEADLINE, || async {
        joiner
            .stats(market)
            .await
            .is_ok_and(|s| s.visible == ORDERS as usize)
    })
    .await?;
    assert!(NodeMetrics::get(&joiner.metrics().sync_orders) >= ORDERS);
    assert_eq!(joiner.digest(market).await?, first.digest(market).await?);
    joiner.shutdown().await;
    net.shutdown().await;
    Ok(())
}
