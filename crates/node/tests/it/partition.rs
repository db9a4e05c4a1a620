use dex_test_utils::{
    eth_usdc_id,
    harness::{DEADLINE, TestNetwork, Topology},
    wait_for,
};

/// Two halves {0,1,2} and {3,4,5} joined by the link 2 — 3. The link is cut, each half gets
/// its own orders, the link is restored, and all six books converge on every order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healed_split_converges() -> anyhow::Result<()> {
    let edges = vec![(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)];
    let mut net = TestNetwork::start(6, Topology::Edges(edges)).await?;
    let market = eth_usdc_id();
    net.post(0, &net.order(0).price(100)).await?;
    net.wait_converged(market, DEADLINE).await?;

    let bridge_far = net.nodes[3].peer_id;
    net.node(2)?.network().disconnect(bridge_far).await?;
    let near = net.node(2)?.clone();
    wait_for("the halves to be apart", DEADLINE, || async {
        near.network()
            .peers(None)
            .await
            .is_ok_and(|view| !view.connected.contains(&bridge_far))
    })
    .await?;

    for (node, price) in [(0, 110), (1, 120), (2, 130)] {
        net.post(node, &net.order(node).price(price)).await?;
    }
    for (node, price) in [(3, 210), (4, 220), (5, 230)] {
        net.post(node, &net.order(node).price(price)).await?;
    }
    let half_visible = |count: usize, nodes: std::ops::Range<usize>| {
        let net = &net;
        async move {
            for i in nodes {
                match net.node(i) {
                    Ok(handle) => match handle.stats(market).await {
                        Ok(stats) if stats.visible == count => {}
                        _ => return false,
                    },
                    Err(_) => return false,
                }
            }
            true
        }
    };
    wait_for("each half to agree on its own orders", DEADLINE, || {
        let a = half_visible(4, 0..3);
        let b = half_visible(4, 3..6);
        async move { a.await && b.await }
    })
    .await?;
    let a = net.node(0)?.digest(market).await?;
    let b = net.node(3)?.digest(market).await?;
    assert_ne!(a, b, "the halves hold different orders while split");

    net.dial(2, 3).await?;
    net.wait_linked(&[(2, 3)]).await?;
    wait_for("all six books to hold all seven orders", DEADLINE, || {
        half_visible(7, 0..6)
    })
    .await?;
    net.wait_converged(market, DEADLINE).await?;
    net.shutdown().await;
    Ok(())
}
