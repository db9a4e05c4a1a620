use std::time::{Duration, Instant};

use dex_book::OrderStatus;
use dex_network::{Acceptance, NetworkMetrics, with_peer};
use dex_primitives::Signature;
use dex_protocol::{GossipMessage, MAX_GOSSIP_SIZE, WireMessage, market_topic};
use dex_test_utils::{
    HOUR_MS, OrderBuilder, eth_usdc_id,
    harness::{DEADLINE, TestNetwork, Topology, now_ms},
    trader, wait_for,
};

use crate::{raw_peer, scrape};

/// An attacker connected to node 0 of a line 0 — 1 sends a badly signed order, malformed
/// bytes and an oversized message: node 0 rejects all three, node 1 never sees them, and
/// the attacker's score at node 0 falls below zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_messages_are_rejected_not_forwarded_and_cost_score() -> anyhow::Result<()> {
    let mut net = TestNetwork::start(2, Topology::Line).await?;
    let victim = net.node(0)?.clone();
    let third = net.node(1)?.clone();
    let topic = market_topic(&eth_usdc_id());
    let (attacker, _events) = raw_peer().await?;
    attacker.subscribe(topic.clone()).await?;
    attacker.dial(net.nodes[0].address.clone()).await?;
    wait_for(
        "the attacker to see the victim subscribed",
        DEADLINE,
        || async {
            attacker
                .peers(Some(topic.clone()))
                .await
                .is_ok_and(|view| view.subscribed.contains(&victim.peer_id()))
        },
    )
    .await?;

    let now = now_ms();
    let mut forged = OrderBuilder::new()
        .maker(&trader(1))
        .created_at(now)
        .expires_at(now + HOUR_MS)
        .sign();
    forged.signature = Signature(forged.order.clone().sign(&trader(2)).signature.0);
    let bad_signature = GossipMessage::Order(forged).encode()?;
    let malformed = br#"{"type":"order","order":{"market":"nope"}}"#.to_vec();
    let oversized = vec![b'{'; MAX_GOSSIP_SIZE + 4096];
    for data in [bad_signature, malformed, oversized] {
        attacker.publish(topic.clone(), data).await?;
    }
    wait_for("three rejections at the victim", DEADLINE, || async {
        let rejected = |reason| victim.metrics().gossip_verdicts(Acceptance::Reject, reason);
        rejected("bad_signature") + rejected("malformed") + rejected("too_large") == 3
    })
    .await?;
    // `/metrics` shows each rejection under its reason, once.
    let metrics = scrape(&net.nodes[0].registry);
    for reason in ["bad_signature", "malformed", "too_large"] {
        assert_eq!(
            metrics.value(
                "dex_node_gossip_verdicts_total",
                &[("verdict", "reject"), ("reason", reason)]
            ),
            1.0,
            "{reason}"
        );
    }
    assert_eq!(
        metrics.value("dex_node_gossip_verdicts_total", &[("verdict", "reject")]),
        3.0
    );
    assert_eq!(metrics.value("dex_network_gossip_rejected_total", &[]), 3.0);
    assert_eq!(
        NetworkMetrics::get(&victim.network().metrics().gossip_rejected),
        3
    );
    // Nothing was forwarded: the third node has received no gossip at all.
    assert_eq!(
        NetworkMetrics::get(&third.network().metrics().gossip_received),
        0
    );
    wait_for("the attacker's score to fall", DEADLINE, || async {
        victim
            .network()
            .peer_score(attacker.peer_id())
            .await
            .ok()
            .flatten()
            .is_some_and(|score| score < 0.0)
    })
    .await?;

    // The path itself works: an honest order from the victim reaches the third node.
    let id = net.post(0, &net.order(0)).await?;
    wait_for("the honest order at the third node", DEADLINE, || async {
        third.order_status(id).await.ok() == Some(OrderStatus::Open)
    })
    .await?;
    assert_eq!(
        scrape(&net.nodes[1].registry)
            .value("dex_node_gossip_verdicts_total", &[("verdict", "reject")]),
        0.0
    );
    attacker.shutdown().await;
    net.shutdown().await;
    Ok(())
}

/// An attacker floods node 1 of a line 0 — 1 — 2 with 10,000 valid, signed orders: the
/// token bucket drops most (counted), node 1 keeps answering, and an honest order posted at
/// node 0 during the flood still reaches node 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_rate_limited_and_honest_orders_still_arrive() -> anyhow::Result<()> {
    const FLOOD: u64 = 10_000;
    let mut net = TestNetwork::start(3, Topology::Line).await?;
    let victim = net.node(1)?.clone();
    let topic = market_topic(&eth_usdc_id());
    let (attacker, _events) = raw_peer().await?;
    attacker.subscribe(topic.clone()).await?;
    attacker
        .dial(with_peer(net.nodes[1].address.clone(), victim.peer_id()))
        .await?;
    wait_for(
        "the attacker to see the victim subscribed",
        DEADLINE,
        || async {
            attacker
                .peers(Some(topic.clone()))
                .await
                .is_ok_and(|view| view.subscribed.contains(&victim.peer_id()))
        },
    )
    .await?;

    // Valid orders (one maker per 500 so per-maker caps are not what stops them).
    let now = now_ms();
    let peer = attacker.peer_id().to_base58();
    // Signing 10,000 orders is the slow part of this test: two threads.
    let sign = |range: std::ops::Range<u64>| {
        let peer = peer.clone();
        tokio::task::spawn_blocking(move || {
            let bases: Vec<_> = (0..FLOOD / 500)
                .map(|m| {
                    OrderBuilder::new()
                        .maker(&trader(1_000 + m))
                        .peer(&peer)
                        .created_at(now)
                        .expires_at(now + HOUR_MS)
                })
                .collect();
            range
                .map(|k| {
                    let order = bases[(k / 500) as usize].clone().nonce(k).sign();
                    GossipMessage::Order(order).encode()
                })
                .collect::<Result<Vec<Vec<u8>>, _>>()
        })
    };
    let (first, second) = (sign(0..FLOOD / 2), sign(FLOOD / 2..FLOOD));
    let mut messages = first.await??;
    messages.extend(second.await??);
    let flood_started = Instant::now();
    let flood = tokio::spawn({
        let attacker = attacker.clone();
        let topic = topic.clone();
        async move {
            let mut sent = 0u64;
            for data in messages {
                if attacker.publish(topic.clone(), data).await.is_ok() {
                    sent += 1;
                }
            }
            sent
        }
    });

    // During the flood: an honest order from node 0 crosses the victim to node 2.
    let id = net.post(0, &net.order(0).price(4242)).await?;
    let sent = flood.await?;
    assert!(sent > 5_000, "the attacker sent only {sent}");
    let started = Instant::now();
    let stats = victim.stats(eth_usdc_id()).await?;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "victim answered in {:?}",
        started.elapsed()
    );
    let far = net.node(2)?.clone();
    wait_for("the honest order at node 2", DEADLINE, || async {
        far.order_status(id).await.ok() == Some(OrderStatus::Open)
    })
    .await?;
    let metrics = victim.network().metrics();
    wait_for("the flood to reach the victim", DEADLINE, || async {
        NetworkMetrics::get(&metrics.gossip_received) >= 5_000
    })
    .await?;
    let limited = NetworkMetrics::get(&metrics.gossip_rate_limited);
    let received = NetworkMetrics::get(&metrics.gossip_received);
    // The attacker's bucket let through at most its burst plus the rate over the time since
    // the flood began (node 0's and node 2's own messages share nothing with it).
    let seconds = flood_started.elapsed().as_secs() + 1;
    let allowance = 500 + 100 * seconds;
    // Node 0's order and its heartbeats (one every 300 ms).
    let own_traffic = 20 + 10 * seconds;
    assert!(
        limited > 1_000 && received - limited <= allowance + own_traffic,
        "rate limited {limited} of {received}, allowance {allowance}"
    );
    // What passed the bucket is bounded by the burst plus the rate over the flood's time.
    assert!(
        stats.visible < 5_000,
        "victim holds {} orders",
        stats.visible
    );
    attacker.shutdown().await;
    net.shutdown().await;
    Ok(())
}
