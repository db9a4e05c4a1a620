//! Reaching a peer through a relay: a node with a slot on a relay server is dialled through
//! its `/p2p-circuit` address, requests flow over the circuit, and the connection is
//! reported as relayed — until hole punching makes it direct, when that is on.

use dex_network::{
    NetworkConfig, NetworkEvent, NetworkHandle, NetworkMetrics, RelayServerConfig, Request,
    Response, with_peer,
};
use dex_protocol::sync::{SyncRequest, SyncResponse};
use dex_test_utils::eth_usdc_id;
use libp2p::multiaddr::Protocol;
use tokio::sync::mpsc;

use crate::{DEADLINE, start, wait_for};

/// A relay server, and a node `b` listening through it; `hole_punching` for both ends.
async fn relayed_pair(
    hole_punching: bool,
) -> anyhow::Result<(
    NetworkHandle,
    NetworkHandle,
    mpsc::Receiver<NetworkEvent>,
    NetworkHandle,
)> {
    let relay_config = NetworkConfig {
        relay_server: Some(RelayServerConfig::default()),
        ..NetworkConfig::loopback()
    };
    let (relay, _relay_events) = start(relay_config).await?;
    let relay_address = with_peer(relay.listen_addrs().await?.remove(0), relay.peer_id());
    let (b, b_events) = start(NetworkConfig {
        relays: vec![relay_address.clone()],
        hole_punching,
        ..NetworkConfig::loopback()
    })
    .await?;
    wait_for("b's address through the relay", || {
        let b = b.clone();
        async move {
            b.listen_addrs().await.is_ok_and(|addrs| {
                addrs
                    .iter()
                    .any(|a| a.iter().any(|p| p == Protocol::P2pCircuit))
            })
        }
    })
    .await?;
    let (a, _a_events) = start(NetworkConfig {
        hole_punching,
        ..NetworkConfig::loopback()
    })
    .await?;
    // `a` knows b only by its circuit address.
    let circuit = relay_address
        .with(Protocol::P2pCircuit)
        .with(Protocol::P2p(b.peer_id()));
    a.dial(circuit).await?;
    Ok((a, b, b_events, relay))
}

/// `a` asks `b` for a sync page; `b` (reading `events`) answers one empty page, which `a`
/// gets.
async fn request_answered(
    a: &NetworkHandle,
    b: &NetworkHandle,
    mut events: mpsc::Receiver<NetworkEvent>,
) -> anyhow::Result<()> {
    let server = tokio::spawn({
        let b = b.clone();
        async move {
            loop {
                match events.recv().await {
                    Some(NetworkEvent::Request { id, .. }) => {
                        let page = SyncResponse::OrdersPage {
                            market: eth_usdc_id(),
                            orders: Vec::new(),
                            next_cursor: None,
                        };
                        b.respond(id, Response::Sync(page)).await?;
                        return anyhow::Ok(());
                    }
                    Some(_) => continue,
                    None => anyhow::bail!("closed"),
                }
            }
        }
    });
    let request = Request::Sync(SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: None,
        limit: 10,
        maker: None,
    });
    let response = tokio::time::timeout(DEADLINE, a.request(b.peer_id(), request)).await??;
    assert!(matches!(
        response,
        Response::Sync(SyncResponse::OrdersPage { .. })
    ));
    server.await?
}

/// Without hole punching the connection stays on the relay, and requests cross it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_a_relay_is_reached_through_it() -> anyhow::Result<()> {
    let (a, b, b_events, _relay) = relayed_pair(false).await?;
    wait_for("a relayed connection to b", || {
        let a = a.clone();
        let b = b.peer_id();
        async move {
            a.peers(None)
                .await
                .is_ok_and(|view| view.relayed.contains(&b) && view.connected.contains(&b))
        }
    })
    .await?;
    request_answered(&a, &b, b_events).await?;
    assert!(NetworkMetrics::get(&a.metrics().connections_relayed) >= 1);
    assert_eq!(NetworkMetrics::get(&a.metrics().hole_punch_succeeded), 0);
    let view = a.peers(None).await?;
    assert!(view.relayed.contains(&b.peer_id()), "still relayed");
    Ok(())
}

/// With hole punching (DCUtR) the relayed connection becomes a direct one; on loopback
/// nothing stands in the way of the punch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hole_punching_turns_a_relayed_connection_direct() -> anyhow::Result<()> {
    let (a, b, b_events, _relay) = relayed_pair(true).await?;
    wait_for("a direct connection to b after the punch", || {
        let (a, b) = (a.clone(), b.clone());
        async move {
            let punched = NetworkMetrics::get(&a.metrics().hole_punch_succeeded)
                + NetworkMetrics::get(&b.metrics().hole_punch_succeeded);
            punched > 0
                && a.peers(None).await.is_ok_and(|view| {
                    view.connected.contains(&b.peer_id()) && !view.relayed.contains(&b.peer_id())
                })
        }
    })
    .await?;
    request_answered(&a, &b, b_events).await?;
    Ok(())
}
