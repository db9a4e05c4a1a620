use std::time::Duration;

use dex_book::OrderStatus;
use dex_primitives::Side;
use dex_test_utils::{
    eth_usdc_id,
    harness::{DEADLINE, TestNetwork, Topology},
    wait_for,
};

/// Five nodes in a line, each knowing only its neighbours: an order posted at one end is in
/// every book; its cancel removes it everywhere; all digests are equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_and_its_cancel_cross_a_line_of_five() -> anyhow::Result<()> {
    let mut net = TestNetwork::start(5, Topology::Line).await?;
    for i in 0..5 {
        let peers = net.node(i)?.network().peers(None).await?.connected.len();
        assert_eq!(peers, if i == 0 || i == 4 { 1 } else { 2 }, "node {i}");
    }
    let market = eth_usdc_id();
    let empty = net.node(0)?.digest(market).await?;
    let id = net
        .post(0, &net.order(0).price(250_050).quantity(7))
        .await?;

    wait_for("the order in every book", DEADLINE, || async {
        for handle in net.running() {
            if handle.order_status(id).await.ok() != Some(OrderStatus::Open) {
                return false;
            }
        }
        true
    })
    .await?;
    let with_order = net.wait_converged(market, DEADLINE).await?;
    assert_ne!(with_order, empty);

    net.node(0)?.cancel_order(id).await?;
    wait_for("the cancel everywhere", DEADLINE, || async {
        for handle in net.running() {
            if handle.order_status(id).await.ok() != Some(OrderStatus::Closed) {
                return false;
            }
        }
        true
    })
    .await?;
    assert_eq!(net.wait_converged(market, DEADLINE).await?, empty);
    let last = crate::scrape(&net.nodes[4].registry);
    assert_eq!(
        last.value("dex_node_gossip_verdicts_total", &[("verdict", "reject")]),
        0.0
    );
    net.shutdown().await;
    Ok(())
}

/// Orders, partial updates and cancels posted concurrently at every node, in an order that
/// differs per node, end in identical digests everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_orders_everywhere_converge_to_one_digest() -> anyhow::Result<()> {
    const NODES: usize = 6;
    const PER_NODE: u64 = 25;
    let mut net = TestNetwork::start(NODES, Topology::Sparse { dials: 2, seed: 7 }).await?;
    let market = eth_usdc_id();
    let mut tasks = Vec::new();
    for node in 0..NODES {
        let handle = net.node(node)?.clone();
        // Each node posts its orders in its own pseudo-random price order.
        let builders: Vec<_> = (0..PER_NODE)
            .map(|k| {
                let price = 1_000 + (k * 7919 + node as u64 * 104_729) % 200;
                let side = if (k + node as u64).is_multiple_of(2) {
                    Side::Buy
                } else {
                    Side::Sell
                };
                net.order(node)
                    .price(price)
                    .side(side)
                    .quantity(10 + k)
                    .nonce(k)
            })
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for builder in builders {
                ids.push(handle.post_order(builder.sign()).await?);
            }
            // Lower every third order, cancel every fifth.
            for (k, id) in ids.iter().enumerate() {
                if k.is_multiple_of(5) {
                    handle.cancel_order(*id).await?;
                } else if k.is_multiple_of(3) {
                    handle.update_order(*id, dex_primitives::Lots(4)).await?;
                }
            }
            anyhow::Ok(ids.len())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let expected_visible = NODES * (PER_NODE as usize - PER_NODE.div_ceil(5) as usize);
    wait_for("every node to hold every open order", DEADLINE, || async {
        for handle in net.running() {
            match handle.stats(market).await {
                Ok(stats) if stats.visible == expected_visible => {}
                _ => return false,
            }
        }
        true
    })
    .await?;
    let digest = net.wait_converged(market, Duration::from_secs(10)).await?;
    for handle in net.running() {
        assert_eq!(handle.digest(market).await?, digest);
    }
    net.shutdown().await;
    Ok(())
}
