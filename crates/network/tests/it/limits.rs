use dex_network::{NetworkConfig, NetworkMetrics};

use crate::{connect, start, wait_for};

/// A node at its connection limit refuses further peers and counts the refusals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_limit_are_refused() -> anyhow::Result<()> {
    let mut config = NetworkConfig::loopback();
    config.connections.max_established = 2;
    let (hub, _hub_events) = start(config).await?;
    let mut spokes = Vec::new();
    for _ in 0..3 {
        spokes.push(start(NetworkConfig::loopback()).await?);
    }
    for (spoke, _) in &spokes[..2] {
        connect(spoke, &hub).await?;
    }
    wait_for("two established connections", || async {
        hub.peers(None)
            .await
            .is_ok_and(|view| view.connected.len() == 2)
    })
    .await?;
    connect(&spokes[2].0, &hub).await?;
    wait_for("the third connection to be refused", || async {
        NetworkMetrics::get(&hub.metrics().incoming_connection_errors) >= 1
    })
    .await?;
    let view = hub.peers(None).await?;
    assert_eq!(view.connected.len(), 2);
    assert!(!view.connected.contains(&spokes[2].0.peer_id()));
    Ok(())
}
