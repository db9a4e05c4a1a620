use dex_test_utils::{
    eth_usdc_id,
    harness::{DEADLINE, TestNetwork, Topology},
    wait_for,
};

/// A maker node that stops disappears from every book after the liveness timeout; when it
/// restarts (same identity and key, nothing persisted) it learns its orders back from its
/// peers, heartbeats again, and they come back everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_maker_vanishes_and_returns_when_restarted() -> anyhow::Result<()> {
    let mut net = TestNetwork::start(3, Topology::Full).await?;
    let market = eth_usdc_id();
    for k in 0..3 {
        net.post(2, &net.order(2).price(500 + k).nonce(k)).await?;
    }
    net.post(0, &net.order(0).price(100)).await?;
    let full = net.wait_converged(market, DEADLINE).await?;
    let visible = |stats: dex_node::BookStats| stats.visible;
    for handle in net.running() {
        assert_eq!(visible(handle.stats(market).await?), 4);
    }

    net.stop(2).await?;
    wait_for(
        "the silent maker's orders to leave every book",
        DEADLINE,
        || async {
            for handle in net.running() {
                match handle.stats(market).await {
                    Ok(stats) if stats.visible == 1 && stats.suspended == 3 => {}
                    _ => return false,
                }
            }
            true
        },
    )
    .await?;
    let without = net.wait_converged(market, DEADLINE).await?;
    assert_ne!(without, full);

    net.restart(2).await?;
    wait_for("the maker's orders back everywhere", DEADLINE, || async {
        for handle in net.running() {
            match handle.stats(market).await {
                Ok(stats) if stats.visible == 4 => {}
                _ => return false,
            }
        }
        true
    })
    .await?;
    assert_eq!(net.wait_converged(market, DEADLINE).await?, full);
    net.shutdown().await;
    Ok(())
}
