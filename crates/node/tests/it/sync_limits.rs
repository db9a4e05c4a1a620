//! What a peer that serves sync pages can make the pure core do: follow pages only up to a
//! cap, stop at the first invalid entry, and lose the peer's standing for it.

use std::sync::Arc;

use dex_network::PeerId;
use dex_node::{Action, NodeMetrics, NodeState};
use dex_primitives::{Alive, B256, OrderId, SignedOrder, Ticks, UnixMillis};
use dex_protocol::{
    ALIVE_TOPIC, GossipMessage, WireMessage,
    sync::{PageEntry, SyncRequest, SyncResponse},
};
use dex_test_utils::{HOUR_MS, OrderBuilder, eth_usdc_id, harness::test_config, trader};

const NOW: UnixMillis = 1_800_000_000_000;
/// Orders per page the node asks for.
const PAGE: u32 = 2;

struct Node {
    state: NodeState,
    metrics: Arc<NodeMetrics>,
}

/// A node asking for pages of two, with room for six visible and six suspended orders: a
/// whole market is at most six pages, so it follows at most six pages and a little more.
fn node() -> Node {
    let mut config = test_config(1);
    config.sync.page_limit = PAGE;
    config.caps.orders_per_market = 6;
    config.caps.suspended_per_market = 6;
    let metrics = Arc::new(NodeMetrics::default());
    Node {
        state: NodeState::new(&config, PeerId::random(), 1, metrics.clone()),
        metrics,
    }
}

/// `count` valid signed orders of distinct makers, sorted by id (the order pages list them in).
fn orders(count: u64, seed: u64) -> Vec<SignedOrder> {
    let mut orders: Vec<SignedOrder> = (0..count)
        .map(|k| {
            OrderBuilder::new()
                .maker(&trader(seed + k % 16))
                .price(100 + k)
                .nonce(k)
                .created_at(NOW)
                .expires_at(NOW + HOUR_MS)
                .sign()
        })
        .collect();
    orders.sort_by_key(|order| order.order.id());
    orders
}

fn first_request() -> SyncRequest {
    SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: None,
        limit: PAGE,
        maker: None,
    }
}

/// A page of `entries` whose next cursor is always present: the last id, or (for an empty
/// page) an id from `cursor`.
fn page(entries: &[SignedOrder], cursor: OrderId) -> SyncResponse {
    SyncResponse::OrdersPage {
        market: eth_usdc_id(),
        orders: entries
            .iter()
            .map(|order| PageEntry {
                order: order.clone(),
                update: None,
            })
            .collect(),
        alives: Vec::new(),
        next_cursor: Some(entries.last().map_or(cursor, |order| order.order.id())),
    }
}

/// The request the node asks next, if it asked exactly one more page of `peer`.
fn next_request(actions: &[Action], peer: PeerId) -> Option<SyncRequest> {
    match actions {
        [] => None,
        [
            Action::Sync {
                peer: asked,
                request,
            },
        ] if *asked == peer => Some(request.clone()),
        other => panic!("unexpected actions {other:?}"),
    }
}

/// A peer that always has one more page (every page full, a cursor always present) gets
/// its cursor followed only up to the cap: the node's market holds at most 12 open orders,
/// six pages of two, and it follows two pages more, then stops.
#[test]
fn a_peer_serving_endless_pages_is_followed_only_up_to_the_cap() {
    let mut node = node();
    let server = PeerId::random();
    let orders = orders(200, 500);
    let mut request = first_request();
    let mut pages = 0;
    for chunk in orders.chunks(PAGE as usize) {
        pages += 1;
        let actions = node
            .state
            .on_page(server, &request, page(chunk, OrderId::default()), NOW);
        match next_request(&actions, server) {
            Some(next) => request = next,
            None => break,
        }
    }
    assert_eq!(pages, 8, "followed {pages} pages");
    assert_eq!(NodeMetrics::get(&node.metrics.sync_pages), 8);
    // Stopping at the cap is no offence: a peer with larger caps serves more, honestly.
    assert_eq!(node.state.peer_standing(&server, NOW).strikes, 0);
    assert_eq!(NodeMetrics::get(&node.metrics.sync_capped), 1);
}

/// An empty page with a cursor makes no progress: followed, it would never end.
#[test]
fn an_empty_page_with_a_cursor_ends_the_sync_and_costs_standing() {
    let mut node = node();
    let server = PeerId::random();
    let actions = node
        .state
        .on_page(server, &first_request(), page(&[], OrderId::default()), NOW);
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(node.state.peer_standing(&server, NOW).strikes, 1);
}

/// A page whose second entry does not verify (its price was changed after signing): the
/// node keeps what verified before it, checks no further signature, does not follow the
/// cursor, and the peer loses standing; three such pages and the peer is banned from sync.
#[test]
fn a_page_with_an_invalid_signature_stops_the_sync_and_costs_the_peer_its_standing() {
    let mut node = node();
    let liar = PeerId::random();
    let market = eth_usdc_id();
    for round in 0..3u64 {
        let mut entries = orders(2, 600 + 20 * round);
        let mut forged = OrderBuilder::new()
            .maker(&trader(700 + round))
            .created_at(NOW)
            .expires_at(NOW + HOUR_MS)
            .sign();
        forged.order.price = Ticks(1);
        entries.push(forged);
        entries.sort_by_key(|order| order.order.id());
        let forged_at = entries
            .iter()
            .position(|order| order.order.price == Ticks(1))
            .expect("the forged order is in the page");
        let actions = node.state.on_page(
            liar,
            &SyncRequest::GetOrders {
                market,
                cursor: None,
                limit: 3,
                maker: None,
            },
            page(&entries, OrderId::default()),
            NOW,
        );
        // The cursor of a lying peer is not followed; banned, it is disconnected.
        let expected = if round == 2 {
            vec![Action::Disconnect { peer: liar }]
        } else {
            Vec::new()
        };
        assert_eq!(actions, expected, "round {round}");
        let held = node.state.stats(&market).expect("configured market");
        assert_eq!(
            held.visible + held.suspended,
            (2 * round + forged_at as u64) as usize,
            "round {round}: the entries before the forged one are kept, none after it"
        );
        let standing = node.state.peer_standing(&liar, NOW);
        assert_eq!(standing.strikes, round as u32 + 1);
        assert_eq!(
            standing.banned_until,
            (round == 2).then_some(NOW + dex_node::SYNC_BAN.as_millis() as u64)
        );
    }
    assert_eq!(NodeMetrics::get(&node.metrics.sync_faults), 3);
    assert_eq!(NodeMetrics::get(&node.metrics.peers_banned), 1);

    // Banned: a new connection starts no sync with it, and its pages are dropped unread.
    assert!(node.state.on_peer_connected(liar).is_empty());
    let before = node.state.stats(&market).expect("configured market");
    let actions = node.state.on_page(
        liar,
        &first_request(),
        page(&orders(2, 900), OrderId::default()),
        NOW,
    );
    assert!(actions.is_empty());
    assert_eq!(node.state.stats(&market), Some(before));
    // Another peer is not affected.
    let honest = PeerId::random();
    let actions = node.state.on_peer_connected(honest);
    assert_eq!(
        actions.len(),
        dex_test_utils::markets().len(),
        "one sync a market"
    );
    assert!(
        actions
            .iter()
            .all(|action| matches!(action, Action::Sync { peer, .. } if *peer == honest))
    );
    // The ban ends.
    let later = NOW + dex_node::SYNC_BAN.as_millis() as u64;
    let _ = node.state.tick(later);
    assert_eq!(node.state.peer_standing(&liar, later).banned_until, None);
}

/// Heartbeats whose roots differ from the book each ask for a sync of their maker's orders;
/// makers cost nothing to make, so the syncs in flight are capped (four times
/// `max_concurrent`) and the rest wait for a later heartbeat.
#[test]
fn root_syncs_in_flight_are_capped() {
    let mut config = test_config(1);
    config.sync.max_concurrent = 2;
    let metrics = Arc::new(NodeMetrics::default());
    let mut state = NodeState::new(&config, PeerId::random(), 1, metrics.clone());
    let relay = PeerId::random();
    let market = eth_usdc_id();
    let alive = |maker: u64, timestamp: UnixMillis| {
        let alive = Alive {
            maker: trader(maker).address(),
            peer: PeerId::random().to_base58(),
            market,
            open_orders: 1,
            orders_root: B256::repeat_byte(1),
            timestamp,
        }
        .sign(&trader(maker));
        GossipMessage::Alive(alive).encode().expect("small")
    };
    for maker in 0..20 {
        // What it asks is counted by the metric (the asks themselves go to the shell).
        let _ = state.on_gossip(relay, ALIVE_TOPIC, &alive(800 + maker, NOW), NOW);
    }
    assert_eq!(NodeMetrics::get(&metrics.root_syncs), 8);
    // One ends (an empty last page): the next differing heartbeat may sync.
    let first = SyncRequest::GetOrders {
        market,
        cursor: None,
        limit: config.sync.page_limit,
        maker: Some(trader(800).address()),
    };
    let done = SyncResponse::OrdersPage {
        market,
        orders: Vec::new(),
        next_cursor: None,
        alives: Vec::new(),
    };
    let _ = state.on_page(relay, &first, done, NOW);
    let _ = state.on_gossip(relay, ALIVE_TOPIC, &alive(800 + 19, NOW + 1), NOW + 1);
    assert_eq!(NodeMetrics::get(&metrics.root_syncs), 9);
}
