//! Reaching a peer through a relay: a node with a slot on a relay server is dialled through
//! its `/p2p-circuit` address, requests flow over the circuit, and the connection is
//! reported as relayed — until hole punching makes it direct, when that is on. A node that
//! is not known to be public finds relays among its peers by itself (identify shows the
//! relay protocol), within a bound, and a node AutoNAT confirms public makes no new slots.

use dex_network::{
    Multiaddr, NetworkConfig, NetworkEvent, NetworkHandle, NetworkMetrics, PeerId, Reachability,
    RelayServerConfig, SlotOrigin, with_peer,
};
use libp2p::multiaddr::Protocol;
use tokio::sync::mpsc;

use crate::{address_of, connect, request_answered, start, wait_for};

/// How the node behind the relay comes to hold its slot.
#[derive(Debug, Clone, Copy)]
enum SlotBy {
    /// The relay is in its `relays`.
    Configured,
    /// The relay is only its bootstrap peer: the slot is automatic.
    Bootstrap,
}

/// A loopback relay server (AutoNAT as `autonat` says).
async fn relay_server(autonat: bool) -> anyhow::Result<NetworkHandle> {
    let (relay, _relay_events) = start(NetworkConfig {
        relay_server: Some(RelayServerConfig::default()),
        autonat,
        ..NetworkConfig::loopback()
    })
    .await?;
    Ok(relay)
}

/// `node`'s listen addresses through relays.
async fn circuit_addrs(node: &NetworkHandle) -> Vec<Multiaddr> {
    node.listen_addrs()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|address| address.iter().any(|p| p == Protocol::P2pCircuit))
        .collect()
}

/// Waits until `node` listens through a relay, and returns that circuit address.
async fn wait_for_circuit(node: &NetworkHandle) -> anyhow::Result<Multiaddr> {
    wait_for("an address through a relay", || async {
        !circuit_addrs(node).await.is_empty()
    })
    .await?;
    Ok(circuit_addrs(node).await.remove(0))
}

/// The relays `node` holds or asks for a slot on.
async fn slot_relays(node: &NetworkHandle) -> anyhow::Result<Vec<PeerId>> {
    let view = node.reachability().await?;
    Ok(view.relay_slots.iter().map(|slot| slot.relay).collect())
}

/// A relay server, and a node `b` listening through it (its slot `slot_by`); `hole_punching`
/// for both ends. A third node `a` dials b by that circuit address only.
async fn relayed_pair(
    hole_punching: bool,
    slot_by: SlotBy,
) -> anyhow::Result<(
    NetworkHandle,
    NetworkHandle,
    mpsc::Receiver<NetworkEvent>,
    NetworkHandle,
)> {
    let relay = relay_server(false).await?;
    let relay_address = address_of(&relay).await?;
    let mut b_config = NetworkConfig {
        hole_punching,
        ..NetworkConfig::loopback()
    };
    match slot_by {
        SlotBy::Configured => b_config.relays = vec![relay_address],
        SlotBy::Bootstrap => b_config.bootstrap = vec![relay_address],
    }
    let (b, b_events) = start(b_config).await?;
    let circuit = wait_for_circuit(&b).await?;
    let (a, _a_events) = start(NetworkConfig {
        hole_punching,
        ..NetworkConfig::loopback()
    })
    .await?;
    // `a` knows b only by its circuit address.
    a.dial(with_peer(circuit, b.peer_id())).await?;
    Ok((a, b, b_events, relay))
}

/// Without hole punching the connection stays on the relay, and requests cross it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_behind_a_relay_is_reached_through_it() -> anyhow::Result<()> {
    let (a, b, b_events, _relay) = relayed_pair(false, SlotBy::Configured).await?;
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
    assert_eq!(NetworkMetrics::get(&a.metrics().hole_punch_attempts), 0);
    let view = a.peers(None).await?;
    assert!(view.relayed.contains(&b.peer_id()), "still relayed");
    Ok(())
}

/// With hole punching (DCUtR) the relayed connection becomes a direct one; on loopback
/// nothing stands in the way of the punch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hole_punching_turns_a_relayed_connection_direct() -> anyhow::Result<()> {
    let (a, b, b_events, _relay) = relayed_pair(true, SlotBy::Configured).await?;
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
    // Every outcome, success or failure, is an attempt.
    let attempts = NetworkMetrics::get(&a.metrics().hole_punch_attempts)
        + NetworkMetrics::get(&b.metrics().hole_punch_attempts);
    let ended = [&a, &b]
        .iter()
        .map(|node| {
            NetworkMetrics::get(&node.metrics().hole_punch_succeeded)
                + NetworkMetrics::get(&node.metrics().hole_punch_failed)
        })
        .sum::<u64>();
    assert!(attempts >= 1);
    assert_eq!(attempts, ended);
    request_answered(&a, &b, b_events).await?;
    Ok(())
}

/// A node whose only setting is its bootstrap peer, a relay server, reserves a slot there by
/// itself (the relay's identify shows the hop protocol; AutoNAT is off, so the node is not
/// public), listens at `<the address it dialled>/p2p/<relay>/p2p-circuit`, and a third node
/// that knows it only by that address reaches it and gets an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_bootstrapped_from_a_relay_reserves_a_slot_and_is_reached_through_it()
-> anyhow::Result<()> {
    let (a, b, b_events, relay) = relayed_pair(false, SlotBy::Bootstrap).await?;
    let relay_address = address_of(&relay).await?;
    assert_eq!(
        circuit_addrs(&b).await,
        vec![
            relay_address
                .with(Protocol::P2pCircuit)
                .with(Protocol::P2p(b.peer_id()))
        ]
    );
    let view = b.reachability().await?;
    assert_eq!(view.status, Reachability::Unknown, "AutoNAT is off");
    assert_eq!(view.relay_slots.len(), 1, "{view:?}");
    let slot = &view.relay_slots[0];
    assert_eq!(slot.relay, relay.peer_id());
    assert_eq!(slot.origin, SlotOrigin::Automatic);
    assert!(slot.reserved);
    assert_eq!(NetworkMetrics::get(&b.metrics().auto_relay_requests), 1);
    assert_eq!(NetworkMetrics::get(&b.metrics().auto_relay_reservations), 1);
    assert_eq!(
        NetworkMetrics::get(&b.metrics().auto_relay_reservations_lost),
        0
    );

    wait_for("a relayed connection from a to b", || async {
        a.peers(None)
            .await
            .is_ok_and(|view| view.relayed.contains(&b.peer_id()))
    })
    .await?;
    assert_eq!(a.metrics().open_connections().relayed, 1);
    request_answered(&a, &b, b_events).await?;
    Ok(())
}

/// A connected peer whose identify lacks the relay hop protocol is never asked for a slot;
/// a relay server connected afterwards is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_is_not_a_relay_is_never_asked_for_a_slot() -> anyhow::Result<()> {
    let (plain, _plain_events) = start(NetworkConfig::loopback()).await?;
    let (b, _b_events) = start(NetworkConfig {
        bootstrap: vec![address_of(&plain).await?],
        ..NetworkConfig::loopback()
    })
    .await?;
    // b's only peer is `plain`: once an identify answer arrived, it was plain's, and the
    // decision on it is taken as it arrives.
    wait_for("plain's identify at b", || async {
        NetworkMetrics::get(&b.metrics().identify_received) >= 1
    })
    .await?;
    let view = b.reachability().await?;
    assert!(view.relay_slots.is_empty(), "{view:?}");
    assert!(view.relay_candidates.is_empty(), "{view:?}");
    assert_eq!(NetworkMetrics::get(&b.metrics().auto_relay_requests), 0);
    assert!(circuit_addrs(&b).await.is_empty());

    let relay = relay_server(false).await?;
    connect(&b, &relay).await?;
    wait_for_circuit(&b).await?;
    assert_eq!(slot_relays(&b).await?, vec![relay.peer_id()]);
    assert_eq!(NetworkMetrics::get(&b.metrics().auto_relay_requests), 1);
    Ok(())
}

/// With `max_auto_relays = 1` and two relay servers as bootstrap peers, the node holds a
/// slot on one of them only, though it knows both as relays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_relay_slots_are_bounded() -> anyhow::Result<()> {
    let relays = [relay_server(false).await?, relay_server(false).await?];
    let relay_ids: Vec<PeerId> = relays.iter().map(NetworkHandle::peer_id).collect();
    let (b, _b_events) = start(NetworkConfig {
        bootstrap: vec![address_of(&relays[0]).await?, address_of(&relays[1]).await?],
        max_auto_relays: 1,
        ..NetworkConfig::loopback()
    })
    .await?;
    // Both identified as relays: both decisions are taken.
    wait_for("both relays known as candidates", || async {
        b.reachability().await.is_ok_and(|view| {
            relay_ids
                .iter()
                .all(|relay| view.relay_candidates.contains(relay))
        })
    })
    .await?;
    wait_for_circuit(&b).await?;
    assert_eq!(circuit_addrs(&b).await.len(), 1);
    let slots = slot_relays(&b).await?;
    assert_eq!(slots.len(), 1, "{slots:?}");
    assert!(relay_ids.contains(&slots[0]));
    assert_eq!(NetworkMetrics::get(&b.metrics().auto_relay_requests), 1);
    Ok(())
}

/// AutoNAT on loopback: a relay server that also serves AutoNAT dials the node back at its
/// listen address, so the node is confirmed public, with that address as an external one.
/// Before that it took a slot on the relay (not yet known public); after it, a second relay
/// it connects to is known as a relay but not asked for a slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_autonat_confirms_public_takes_no_new_relay_slots() -> anyhow::Result<()> {
    let first = relay_server(true).await?;
    let (c, _c_events) = start(NetworkConfig {
        bootstrap: vec![address_of(&first).await?],
        autonat: true,
        ..NetworkConfig::loopback()
    })
    .await?;
    let listen = c.listen_addrs().await?.remove(0);
    wait_for_circuit(&c).await?;
    assert_eq!(slot_relays(&c).await?, vec![first.peer_id()]);
    assert!(!c.metrics().is_reachable());

    wait_for("AutoNAT to confirm c public", || async {
        c.metrics().is_reachable()
    })
    .await?;
    let view = c.reachability().await?;
    assert_eq!(
        view.status,
        Reachability::Public {
            addresses: vec![listen.clone()]
        }
    );
    assert!(view.external_addrs.contains(&listen), "{view:?}");

    let second = relay_server(false).await?;
    connect(&c, &second).await?;
    wait_for("the second relay known as a candidate", || async {
        c.reachability()
            .await
            .is_ok_and(|view| view.relay_candidates.contains(&second.peer_id()))
    })
    .await?;
    assert_eq!(
        slot_relays(&c).await?,
        vec![first.peer_id()],
        "the existing slot stays, no new one"
    );
    assert_eq!(NetworkMetrics::get(&c.metrics().auto_relay_requests), 1);
    Ok(())
}
