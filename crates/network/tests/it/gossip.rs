use dex_network::{Acceptance, NetworkConfig, NetworkEvent, NetworkMetrics, message_id};

use crate::{DEADLINE, connect, start, wait_for};

const TOPIC: &str = "p2pdex/1/test";

/// a — b — c: a message published at a reaches c only after b accepts it; a rejected one
/// stops at b and costs a score at b.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_forwarded_only_after_the_verdict() -> anyhow::Result<()> {
    let (a, _a_events) = start(NetworkConfig::loopback()).await?;
    let (b, mut b_events) = start(NetworkConfig::loopback()).await?;
    let (c, mut c_events) = start(NetworkConfig::loopback()).await?;
    for node in [&a, &b, &c] {
        node.subscribe(TOPIC).await?;
    }
    connect(&a, &b).await?;
    connect(&c, &b).await?;
    wait_for("b's mesh to hold a and c", || async {
        b.peers(Some(TOPIC.into()))
            .await
            .is_ok_and(|view| view.mesh.len() == 2)
    })
    .await?;
    wait_for("a and c to see b subscribed", || async {
        sees_one_subscriber(&a).await && sees_one_subscriber(&c).await
    })
    .await?;

    // Rejected at b: c never hears of it, and a's score at b drops.
    let bad = b"bad".to_vec();
    a.publish(TOPIC, bad.clone()).await?;
    let gossip = next_gossip(&mut b_events).await?;
    assert_eq!(gossip.data, bad);
    assert_eq!(gossip.source, a.peer_id());
    assert_eq!(gossip.message_id, message_id(&bad));
    b.report(gossip.message_id, gossip.source, Acceptance::Reject)
        .await?;
    wait_for("a's score at b to fall", || async {
        b.peer_score(a.peer_id())
            .await
            .ok()
            .flatten()
            .is_some_and(|score| score < 0.0)
    })
    .await?;

    // Accepted at b: c gets it.
    let good = b"good".to_vec();
    a.publish(TOPIC, good.clone()).await?;
    let gossip = next_gossip(&mut b_events).await?;
    b.report(gossip.message_id, gossip.source, Acceptance::Accept)
        .await?;
    let at_c = next_gossip(&mut c_events).await?;
    assert_eq!(
        at_c.data, good,
        "c must receive the accepted message, never the rejected one"
    );
    assert_eq!(at_c.source, b.peer_id());
    assert_eq!(NetworkMetrics::get(&c.metrics().gossip_received), 1);
    Ok(())
}

/// A detached publication is not answered: with nobody subscribed it is counted as failed
/// (the caller goes on at once); once a peer is subscribed, detached publications arrive
/// in the order they were queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_publications_are_counted_when_refused_and_arrive_in_order() -> anyhow::Result<()>
{
    let (a, _a_events) = start(NetworkConfig::loopback()).await?;
    a.subscribe(TOPIC).await?;
    a.publish_detached(TOPIC, b"nobody hears this".to_vec())
        .await?;
    wait_for("the refused publication to be counted", || async {
        NetworkMetrics::get(&a.metrics().gossip_publish_failed) == 1
    })
    .await?;
    assert_eq!(NetworkMetrics::get(&a.metrics().gossip_published), 0);

    let (b, mut b_events) = start(NetworkConfig::loopback()).await?;
    b.subscribe(TOPIC).await?;
    connect(&a, &b).await?;
    wait_for("a to see b subscribed", || async {
        sees_one_subscriber(&a).await
    })
    .await?;
    let sent: Vec<Vec<u8>> = (0u8..5).map(|i| vec![b'm', i]).collect();
    for data in &sent {
        a.publish_detached(TOPIC, data.clone()).await?;
    }
    for data in &sent {
        let gossip = next_gossip(&mut b_events).await?;
        assert_eq!(&gossip.data, data);
        b.report(gossip.message_id, gossip.source, Acceptance::Accept)
            .await?;
    }
    assert_eq!(NetworkMetrics::get(&a.metrics().gossip_published), 5);
    assert_eq!(NetworkMetrics::get(&a.metrics().gossip_publish_failed), 1);
    Ok(())
}

/// Whether `node` sees exactly one peer subscribed to [`TOPIC`].
async fn sees_one_subscriber(node: &dex_network::NetworkHandle) -> bool {
    node.peers(Some(TOPIC.into()))
        .await
        .is_ok_and(|view| view.subscribed.len() == 1)
}

async fn next_gossip(
    events: &mut tokio::sync::mpsc::Receiver<NetworkEvent>,
) -> anyhow::Result<dex_network::GossipIn> {
    tokio::time::timeout(DEADLINE, async {
        loop {
            match events.recv().await {
                Some(NetworkEvent::Gossip(gossip)) => return Ok(gossip),
                Some(_) => continue,
                None => anyhow::bail!("event channel closed"),
            }
        }
    })
    .await?
}

/// Gossip beyond a peer's token bucket is dropped and counted before reaching the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_over_the_token_bucket_is_dropped_and_counted() -> anyhow::Result<()> {
    let mut config = NetworkConfig::loopback();
    config.gossip_rate = dex_network::RateLimit {
        per_second: 1.0,
        burst: 5.0,
    };
    let (a, _a_events) = start(NetworkConfig::loopback()).await?;
    let (b, mut b_events) = start(config).await?;
    a.subscribe(TOPIC).await?;
    b.subscribe(TOPIC).await?;
    connect(&a, &b).await?;
    wait_for("a to see b subscribed", || async {
        sees_one_subscriber(&a).await
    })
    .await?;
    for i in 0..50u32 {
        a.publish(TOPIC, i.to_be_bytes().to_vec()).await?;
    }
    wait_for("all 50 to arrive at b", || async {
        NetworkMetrics::get(&b.metrics().gossip_received) == 50
    })
    .await?;
    let limited = NetworkMetrics::get(&b.metrics().gossip_rate_limited);
    assert!((44..=45).contains(&limited), "rate limited {limited}");
    let mut delivered = 0;
    while let Ok(event) = b_events.try_recv() {
        if matches!(event, NetworkEvent::Gossip(_)) {
            delivered += 1;
        }
    }
    assert_eq!(
        delivered as u64,
        50 - limited,
        "everything not limited reaches the node"
    );
    Ok(())
}

/// Enough rejected messages push a peer below the graylist threshold: gossipsub then
/// ignores everything it sends, while other peers' messages still arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_with_many_rejects_is_graylisted() -> anyhow::Result<()> {
    let config = NetworkConfig::loopback();
    let graylist = config.gossip.score.graylist_threshold;
    let (bad, _bad_events) = start(config.clone()).await?;
    let (judge, mut judge_events) = start(config.clone()).await?;
    let (honest, _honest_events) = start(config).await?;
    for node in [&bad, &judge, &honest] {
        node.subscribe(TOPIC).await?;
    }
    connect(&bad, &judge).await?;
    connect(&honest, &judge).await?;
    wait_for("both to see the judge subscribed", || async {
        sees_one_subscriber(&bad).await && sees_one_subscriber(&honest).await
    })
    .await?;
    for i in 0..6u8 {
        bad.publish(TOPIC, vec![b'x', i]).await?;
        let gossip = next_gossip(&mut judge_events).await?;
        judge
            .report(gossip.message_id, gossip.source, Acceptance::Reject)
            .await?;
    }
    wait_for(
        "the bad peer's score below the graylist threshold",
        || async {
            judge
                .peer_score(bad.peer_id())
                .await
                .ok()
                .flatten()
                .is_some_and(|score| score < graylist)
        },
    )
    .await?;
    // Sent before the honest marker; graylisted, so never delivered.
    bad.publish(TOPIC, b"after graylisting".to_vec()).await?;
    honest.publish(TOPIC, b"marker".to_vec()).await?;
    let gossip = next_gossip(&mut judge_events).await?;
    assert_eq!(
        gossip.data, b"marker",
        "the graylisted peer's message was delivered"
    );
    assert_eq!(gossip.source, honest.peer_id());
    assert_eq!(NetworkMetrics::get(&judge.metrics().gossip_received), 7);
    Ok(())
}
