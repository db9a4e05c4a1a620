use dex_network::NetworkConfig;

use crate::{address_of, start, wait_for};

/// With Kademlia on, a node that bootstraps from one peer finds the peers that one knows:
/// c knows only b, b knows a, and c ends up connected to a.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kademlia_bootstrap_finds_peers_of_peers() -> anyhow::Result<()> {
    let kad = || {
        let mut config = NetworkConfig::loopback();
        config.kad = true;
        config
    };
    let (a, _a_events) = start(kad()).await?;
    let mut b_config = kad();
    b_config.bootstrap = vec![address_of(&a).await?];
    let (b, _b_events) = start(b_config).await?;
    wait_for("b to reach its bootstrap peer", || async {
        b.peers(None)
            .await
            .is_ok_and(|view| view.connected.contains(&a.peer_id()))
    })
    .await?;
    let mut c_config = kad();
    c_config.bootstrap = vec![address_of(&b).await?];
    let (c, _c_events) = start(c_config).await?;
    wait_for("c to find a through b", || async {
        c.peers(None)
            .await
            .is_ok_and(|view| view.connected.contains(&a.peer_id()))
    })
    .await?;
    Ok(())
}
