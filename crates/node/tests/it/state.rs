//! The pure core alone: liveness, root syncs and paging decided without any I/O.

use std::{sync::Arc, time::Duration};

use dex_book::OrderStatus;
use dex_network::{Acceptance, PeerId};
use dex_node::{Action, Decision, NodeMetrics, NodeState};
use dex_primitives::{Lots, UnixMillis};
use dex_protocol::{
    ALIVE_TOPIC, GossipMessage, WireMessage, market_topic,
    sync::{SyncRequest, SyncResponse},
};
use dex_test_utils::{
    HOUR_MS, eth_usdc_id,
    harness::{node_trader, test_config},
};

const NOW: UnixMillis = 1_800_000_000_000;

struct Peer {
    state: NodeState,
    id: PeerId,
    metrics: Arc<NodeMetrics>,
}

fn peer(index: usize, page_limit: u32) -> Peer {
    let mut config = test_config(index);
    config.sync.page_limit = page_limit;
    config.sync.root_sync_cooldown = Duration::from_secs(5);
    let id = PeerId::random();
    let metrics = Arc::new(NodeMetrics::default());
    Peer {
        state: NodeState::new(&config, id, 1, metrics.clone()),
        id,
        metrics,
    }
}

/// Posts `count` orders at `maker`, returning the gossip messages it asked to publish.
fn post(maker: &mut Peer, index: usize, count: u64, now: UnixMillis) -> Vec<Vec<u8>> {
    let base = dex_test_utils::OrderBuilder::new()
        .maker(&node_trader(index))
        .peer(&maker.id.to_base58())
        .created_at(now)
        .expires_at(now + HOUR_MS);
    (0..count)
        .flat_map(|k| {
            let (_, actions) = maker
                .state
                .post_order(base.clone().nonce(k).price(100 + k).sign(), now)
                .expect("valid own order");
            actions.then
        })
        .map(|action| match action {
            Action::Publish { data, .. } => data,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

fn alive_messages(decision: Decision) -> Vec<Vec<u8>> {
    decision
        .then
        .into_iter()
        .filter_map(|action| match action {
            Action::Publish { topic, data } if topic == ALIVE_TOPIC => Some(data),
            _ => None,
        })
        .collect()
}

#[test]
fn a_silent_maker_is_suspended_and_restored_by_its_alive() {
    let mut maker = peer(0, 1000);
    let mut other = peer(1, 1000);
    let market = eth_usdc_id();
    let topic = market_topic(&market);
    for data in post(&mut maker, 0, 2, NOW) {
        let (acceptance, _) = other.state.on_gossip(maker.id, &topic, &data, NOW);
        assert_eq!(acceptance, Acceptance::Accept);
    }
    assert_eq!(other.state.stats(&market).unwrap().visible, 2);

    // Silent for longer than 2 s (the test profile): suspended, out of the digest.
    let later = NOW + 2_001;
    let _ = other.state.tick(later);
    let stats = other.state.stats(&market).unwrap();
    assert_eq!((stats.visible, stats.suspended), (0, 2));
    assert_eq!(NodeMetrics::get(&other.metrics.makers_suspended), 1);
    // The maker's own node never suspends its own orders; its tick sends a heartbeat.
    let alives = alive_messages(maker.state.tick(later));
    assert_eq!(maker.state.stats(&market).unwrap().visible, 2);
    assert_eq!(
        alives.len(),
        1,
        "one alive per maker and market with orders"
    );
    // Not due again before the interval.
    assert!(alive_messages(maker.state.tick(later + 1)).is_empty());

    // The heartbeat restores them, and the roots agree so no sync is asked for.
    let (acceptance, actions) = other
        .state
        .on_gossip(maker.id, ALIVE_TOPIC, &alives[0], later + 1);
    assert_eq!(acceptance, Acceptance::Accept);
    assert!(actions.is_empty(), "{actions:?}");
    assert_eq!(other.state.stats(&market).unwrap().visible, 2);
    assert_eq!(
        other.state.digest(&market),
        maker.state.digest(&market),
        "same books after the restore"
    );
    // A replay of the same heartbeat is stale.
    let (acceptance, _) = other
        .state
        .on_gossip(maker.id, ALIVE_TOPIC, &alives[0], later + 2);
    assert_eq!(acceptance, Acceptance::Ignore);
}

#[test]
fn a_differing_root_asks_for_the_makers_orders_once_and_pages_them_in() {
    let mut maker = peer(0, 2);
    let mut other = peer(1, 2);
    let market = eth_usdc_id();
    let topic = market_topic(&market);
    let messages = post(&mut maker, 0, 5, NOW);
    // Only the first order arrives by gossip.
    let _ = other.state.on_gossip(maker.id, &topic, &messages[0], NOW);

    let alives = alive_messages(maker.state.tick(NOW + 10));
    let relay = PeerId::random();
    let (_, actions) = other
        .state
        .on_gossip(relay, ALIVE_TOPIC, &alives[0], NOW + 10);
    // Not connected to the maker's node: ask the relay, for this maker only.
    let [Action::Sync { peer, request }] = actions.then.as_slice() else {
        panic!("expected one sync, got {actions:?}");
    };
    assert_eq!(*peer, relay);
    assert!(matches!(
        request,
        SyncRequest::GetOrders { maker: Some(m), cursor: None, limit: 2, .. }
            if *m == node_trader(0).address()
    ));
    // While that sync runs, more differing heartbeats ask nothing more.
    let alives = alive_messages(maker.state.tick(NOW + 400));
    let (_, again) = other
        .state
        .on_gossip(relay, ALIVE_TOPIC, &alives[0], NOW + 400);
    assert!(again.is_empty(), "{again:?}");

    // Page through the maker's book, two orders at a time.
    let mut request = request.clone();
    let mut pages = 0;
    loop {
        let page = maker.state.serve(&request, NOW + 500);
        pages += 1;
        let next = other.state.on_page(relay, &request, page, NOW + 500);
        match next.as_slice() {
            [] => break,
            [Action::Sync { request: next, .. }] => request = next.clone(),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(other.state.stats(&market).unwrap().visible, 5);
    assert_eq!(other.state.digest(&market), maker.state.digest(&market));
    assert_eq!(NodeMetrics::get(&other.metrics.root_syncs), 1);
}

/// Cancels that never reached a node (it was restarting, or not in the mesh yet) leave
/// ghosts there; the maker's heartbeat root differs, and the complete answer of the maker's
/// own node withdraws exactly the orders that node posted, no longer lists, and that were
/// held before the question: not an order naming another node, not one learnt by gossip
/// while the pages were on their way.
#[test]
fn a_root_sync_from_the_makers_node_withdraws_the_orders_it_closed() {
    let mut maker = peer(0, 2);
    let mut other = peer(1, 2);
    let market = eth_usdc_id();
    let topic = market_topic(&market);
    for data in post(&mut maker, 0, 5, NOW) {
        let _ = other.state.on_gossip(maker.id, &topic, &data, NOW);
    }
    // The same maker's order naming another node: the maker's node need not list it.
    let relay = PeerId::random();
    let elsewhere = dex_test_utils::OrderBuilder::new()
        .maker(&node_trader(0))
        .peer(&relay.to_base58())
        .created_at(NOW)
        .expires_at(NOW + HOUR_MS)
        .nonce(99)
        .sign();
    let data = GossipMessage::Order(elsewhere.clone()).encode().unwrap();
    let (acceptance, _) = other.state.on_gossip(relay, &topic, &data, NOW);
    assert_eq!(acceptance, Acceptance::Accept);
    assert_eq!(other.state.stats(&market).unwrap().visible, 6);
    // Two cancels that `other` never gets.
    let ids: Vec<_> = maker
        .state
        .book(&market)
        .unwrap()
        .orders()
        .map(|view| view.id)
        .collect();
    let mut cancelled = ids[..2].to_vec();
    cancelled.sort();
    for id in &cancelled {
        let _ = maker.state.update_order(*id, Lots(0), NOW + 1).unwrap();
    }
    let _ = other.state.on_peer_connected(maker.id);

    let alives = alive_messages(maker.state.tick(NOW + 10));
    let (_, actions) = other
        .state
        .on_gossip(relay, ALIVE_TOPIC, &alives[0], NOW + 10);
    // Connected to the maker's node: asked of it.
    let [Action::Sync { peer, request }] = actions.then.as_slice() else {
        panic!("expected one sync, got {actions:?}");
    };
    assert_eq!(*peer, maker.id);
    // The first page is made, then a new order reaches `other` by gossip before it.
    let mut request = request.clone();
    let mut page = maker.state.serve(&request, NOW + 20);
    let newer = post(&mut maker, 0, 1, NOW + 20);
    let _ = other.state.on_gossip(maker.id, &topic, &newer[0], NOW + 20);
    loop {
        match other
            .state
            .on_page(maker.id, &request, page, NOW + 30)
            .as_slice()
        {
            [] => break,
            [Action::Sync { request: next, .. }] => request = next.clone(),
            unexpected => panic!("unexpected {unexpected:?}"),
        }
        page = maker.state.serve(&request, NOW + 30);
    }
    assert_eq!(NodeMetrics::get(&other.metrics.orders_unlisted), 2);
    for id in &cancelled {
        // Withdrawn without a tombstone: if its node lists it again, it comes back.
        assert_eq!(other.state.order_status(id), OrderStatus::Unknown);
    }
    assert_eq!(
        other.state.order_status(&elsewhere.order.id()),
        OrderStatus::Open
    );
    // The three left and the newer one, as at the maker, and the one naming the relay.
    let maker_book = maker.state.book(&market).unwrap();
    let mut expected: Vec<_> = maker_book
        .orders()
        .map(|view| (view.id, view.remaining))
        .collect();
    assert_eq!(expected.len(), 4);
    expected.push((elsewhere.order.id(), elsewhere.order.quantity));
    assert_eq!(
        other.state.digest(&market),
        Some(dex_book::orders_digest(expected))
    );
}

/// Follows a sync from `request` to its last page, each page served by `server`'s book
/// and received from `peer`.
fn sync_through(
    node: &mut Peer,
    peer: PeerId,
    mut request: SyncRequest,
    server: &mut Peer,
    now: UnixMillis,
) {
    loop {
        let page = server.state.serve(&request, now);
        match node.state.on_page(peer, &request, page, now).as_slice() {
            [] => return,
            [Action::Sync { request: next, .. }] => request = next.clone(),
            unexpected => panic!("unexpected {unexpected:?}"),
        }
    }
}

/// The same ghost at a node not connected to the maker's node: the relay that forwarded
/// the heartbeat is asked, and its answer withdraws the ghost only when it is exactly the
/// set the heartbeat signed (the maker may have moved on, or the relay be behind).
#[test]
fn a_relays_answer_withdraws_a_closed_order_only_when_it_is_what_the_heartbeat_signed() {
    let mut maker = peer(0, 2);
    let mut other = peer(1, 2);
    let market = eth_usdc_id();
    let topic = market_topic(&market);
    for data in post(&mut maker, 0, 3, NOW) {
        let _ = other.state.on_gossip(maker.id, &topic, &data, NOW);
    }
    let ghost = maker
        .state
        .book(&market)
        .unwrap()
        .orders()
        .map(|view| view.id)
        .min()
        .unwrap();
    let _ = maker.state.update_order(ghost, Lots(0), NOW + 1).unwrap();
    let relay = PeerId::random();

    // The maker posts again between its heartbeat and the relay's answer: the answer is
    // not the signed set, so it proves nothing (the new order is learnt all the same).
    let alives = alive_messages(maker.state.tick(NOW + 10));
    let (_, actions) = other
        .state
        .on_gossip(relay, ALIVE_TOPIC, &alives[0], NOW + 10);
    let [Action::Sync { peer, request }] = actions.then.as_slice() else {
        panic!("expected one sync, got {actions:?}");
    };
    assert_eq!(*peer, relay);
    let _ = post(&mut maker, 0, 1, NOW + 20);
    sync_through(&mut other, relay, request.clone(), &mut maker, NOW + 30);
    assert_eq!(NodeMetrics::get(&other.metrics.orders_unlisted), 0);
    assert_eq!(other.state.order_status(&ghost), OrderStatus::Open);
    assert_eq!(other.state.stats(&market).unwrap().visible, 4);

    // The next heartbeat, nothing changed since: the answer is what it signed.
    let later = NOW + 6_000;
    let alives = alive_messages(maker.state.tick(later));
    let (_, actions) = other.state.on_gossip(relay, ALIVE_TOPIC, &alives[0], later);
    let [Action::Sync { request, .. }] = actions.then.as_slice() else {
        panic!("expected one sync, got {actions:?}");
    };
    sync_through(&mut other, relay, request.clone(), &mut maker, later + 10);
    assert_eq!(NodeMetrics::get(&other.metrics.orders_unlisted), 1);
    assert_eq!(other.state.order_status(&ghost), OrderStatus::Unknown);
    assert_eq!(other.state.digest(&market), maker.state.digest(&market));
}

#[test]
fn synced_orders_of_a_maker_never_heard_stay_suspended() {
    let mut maker = peer(0, 1000);
    let mut joiner = peer(2, 1000);
    let market = eth_usdc_id();
    post(&mut maker, 0, 3, NOW);
    let request = SyncRequest::GetOrders {
        market,
        cursor: None,
        limit: 1000,
        maker: None,
    };
    let page = maker.state.serve(&request, NOW);
    // Much later: the maker has been silent since; its orders are held, not offered.
    let now = NOW + 60_000;
    assert!(
        joiner
            .state
            .on_page(maker.id, &request, page, now)
            .is_empty()
    );
    let stats = joiner.state.stats(&market).unwrap();
    assert_eq!((stats.visible, stats.suspended), (0, 3));
    assert_eq!(NodeMetrics::get(&joiner.metrics.sync_orders), 3);
}

/// A joining node shows synced orders at once: the page carries each maker's newest
/// heartbeat, from the maker's own node (signed when the page is made) and from a relay
/// that heard it, so the joiner does not wait up to a heartbeat interval.
#[test]
fn synced_orders_come_with_their_makers_heartbeats_and_show_at_once() {
    let mut maker = peer(0, 2);
    let mut relay = peer(1, 1000);
    let market = eth_usdc_id();
    let topic = market_topic(&market);
    for data in post(&mut maker, 0, 3, NOW) {
        let _ = relay.state.on_gossip(maker.id, &topic, &data, NOW);
    }
    let full = |limit| SyncRequest::GetOrders {
        market,
        cursor: None,
        limit,
        maker: None,
    };
    // From the maker's node, in pages of two: each page has the maker's heartbeat, the same
    // one (signed once per heartbeat interval).
    let mut joiner = peer(2, 2);
    let first = maker.state.serve(&full(2), NOW + 10);
    let second_request = SyncRequest::GetOrders {
        market,
        cursor: match &first {
            dex_protocol::sync::SyncResponse::OrdersPage { next_cursor, .. } => *next_cursor,
            other => panic!("unexpected {other:?}"),
        },
        limit: 2,
        maker: None,
    };
    let second = maker.state.serve(&second_request, NOW + 20);
    let alives = |page: &dex_protocol::sync::SyncResponse| match page {
        dex_protocol::sync::SyncResponse::OrdersPage { alives, .. } => alives.clone(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(alives(&first).len(), 1);
    assert_eq!(alives(&first), alives(&second));
    assert_eq!(alives(&first)[0].alive.maker, node_trader(0).address());
    assert_eq!(alives(&first)[0].alive.timestamp, NOW + 10);
    let next = joiner.state.on_page(maker.id, &full(2), first, NOW + 30);
    assert_eq!(joiner.state.stats(&market).unwrap().visible, 2, "{next:?}");
    assert!(
        joiner
            .state
            .on_page(maker.id, &second_request, second, NOW + 30)
            .is_empty()
    );
    let stats = joiner.state.stats(&market).unwrap();
    assert_eq!((stats.visible, stats.suspended), (3, 0));
    assert_eq!(joiner.state.digest(&market), maker.state.digest(&market));

    // From a relay: it serves the heartbeat it heard (a relay signs none itself).
    let mut late = peer(3, 1000);
    let page = relay.state.serve(&full(1000), NOW + 40);
    assert!(alives(&page).is_empty(), "the relay heard no heartbeat yet");
    let beats = alive_messages(maker.state.tick(NOW + 50));
    let _ = relay
        .state
        .on_gossip(maker.id, ALIVE_TOPIC, &beats[0], NOW + 50);
    let page = relay.state.serve(&full(1000), NOW + 60);
    assert_eq!(alives(&page).len(), 1);
    assert!(
        late.state
            .on_page(relay.id, &full(1000), page, NOW + 70)
            .is_empty()
    );
    let stats = late.state.stats(&market).unwrap();
    assert_eq!((stats.visible, stats.suspended), (3, 0));
    // The same heartbeat by gossip afterwards is still accepted, so it is forwarded to the
    // peers beyond (an ignored one would stop here, and their makers would look silent); a
    // replay of it by gossip then is stale.
    let (acceptance, _) = late
        .state
        .on_gossip(relay.id, ALIVE_TOPIC, &beats[0], NOW + 80);
    assert_eq!(acceptance, Acceptance::Accept);
    let (acceptance, _) = late
        .state
        .on_gossip(relay.id, ALIVE_TOPIC, &beats[0], NOW + 81);
    assert_eq!(acceptance, Acceptance::Ignore);
}

/// A node that syncs from a relay gets its own maker's heartbeat back in the page (and,
/// after a restart, its own old heartbeats by gossip): neither may make it track its own
/// maker as a remote one, which its ticks would then find silent, suspending its own
/// orders (its book then lacked them for good: its own heartbeats never come back to it).
#[test]
fn a_node_never_suspends_its_own_maker_for_its_own_heartbeats_heard_back() {
    let mut maker = peer(0, 1000);
    let mut relay = peer(1, 1000);
    let market = eth_usdc_id();
    let topic = market_topic(&market);
    for data in post(&mut maker, 0, 3, NOW) {
        let _ = relay.state.on_gossip(maker.id, &topic, &data, NOW);
    }
    let beats = alive_messages(maker.state.tick(NOW + 10));
    let _ = relay
        .state
        .on_gossip(maker.id, ALIVE_TOPIC, &beats[0], NOW + 10);
    let request = SyncRequest::GetOrders {
        market,
        cursor: None,
        limit: 1000,
        maker: None,
    };
    let page = relay.state.serve(&request, NOW + 20);
    let _ = maker.state.on_page(relay.id, &request, page, NOW + 30);
    let (acceptance, _) = maker
        .state
        .on_gossip(relay.id, ALIVE_TOPIC, &beats[0], NOW + 40);
    assert_ne!(acceptance, Acceptance::Reject);
    // Long past `silent_after` (2 s in the test profile), ticking all along.
    for second in 1..=10 {
        let _ = maker.state.tick(NOW + second * 1_000);
    }
    let stats = maker.state.stats(&market).unwrap();
    assert_eq!((stats.visible, stats.suspended), (3, 0));
    assert_eq!(NodeMetrics::get(&maker.metrics.makers_suspended), 0);
}

/// A heartbeat in a page is checked like one by gossip: a forged one (signed by another
/// key) spoils the whole page and costs the peer a strike; one older than `silent_after`
/// is no sign of life and leaves the orders held.
#[test]
fn a_forged_heartbeat_spoils_the_page_and_a_stale_one_counts_for_nothing() {
    use dex_protocol::sync::SyncResponse;
    let mut maker = peer(0, 1000);
    let market = eth_usdc_id();
    post(&mut maker, 0, 2, NOW);
    let request = SyncRequest::GetOrders {
        market,
        cursor: None,
        limit: 1000,
        maker: None,
    };
    let SyncResponse::OrdersPage {
        orders,
        next_cursor,
        alives,
        ..
    } = maker.state.serve(&request, NOW)
    else {
        panic!("a page");
    };
    let forged = {
        let mut alive = alives[0].alive.clone();
        alive.timestamp += 1;
        alive.sign(&node_trader(7))
    };
    let page = |alive| SyncResponse::OrdersPage {
        market,
        orders: orders.clone(),
        next_cursor,
        alives: vec![alive],
    };
    let mut joiner = peer(2, 1000);
    let _ = joiner
        .state
        .on_page(maker.id, &request, page(forged), NOW + 10);
    let stats = joiner.state.stats(&market).unwrap();
    assert_eq!(
        (stats.visible, stats.suspended),
        (0, 0),
        "nothing of the page applied"
    );
    assert_eq!(NodeMetrics::get(&joiner.metrics.sync_faults), 1);

    // Applied 2 s later (the test profile's `silent_after`) plus one ms: held.
    let mut joiner = peer(3, 1000);
    let later = NOW + 2_001;
    let _ = joiner
        .state
        .on_page(maker.id, &request, page(alives[0].clone()), later);
    let stats = joiner.state.stats(&market).unwrap();
    assert_eq!((stats.visible, stats.suspended), (0, 2));
    assert_eq!(NodeMetrics::get(&joiner.metrics.sync_faults), 0);
}

#[test]
fn own_orders_must_be_ours_and_name_our_peer() {
    let mut node = peer(0, 1000);
    let foreign = dex_test_utils::OrderBuilder::new()
        .maker(&node_trader(5))
        .peer(&node.id.to_base58())
        .created_at(NOW)
        .expires_at(NOW + HOUR_MS)
        .sign();
    assert!(matches!(
        node.state.post_order(foreign, NOW),
        Err(dex_node::Error::NotOurMaker { .. })
    ));
    let wrong_peer = dex_test_utils::OrderBuilder::new()
        .maker(&node_trader(0))
        .created_at(NOW)
        .expires_at(NOW + HOUR_MS)
        .sign();
    assert!(matches!(
        node.state.post_order(wrong_peer, NOW),
        Err(dex_node::Error::WrongPeer { .. })
    ));
}

#[test]
fn replays_in_any_encoding_are_dropped_as_duplicates_even_after_a_cancel() {
    let mut maker = peer(0, 1000);
    let mut other = peer(1, 1000);
    let market = eth_usdc_id();
    let topic = market_topic(&market);
    let data = post(&mut maker, 0, 1, NOW).remove(0);
    assert_eq!(
        other.state.on_gossip(maker.id, &topic, &data, NOW).0,
        Acceptance::Accept
    );
    // Same bytes, and the same order re-encoded (pretty-printed: other bytes, same id).
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&data).unwrap())
            .unwrap();
    assert_ne!(pretty, data);
    for replay in [&data, &pretty] {
        assert_eq!(
            other.state.on_gossip(maker.id, &topic, replay, NOW).0,
            Acceptance::Ignore
        );
    }
    assert_eq!(
        other
            .metrics
            .gossip_verdicts(Acceptance::Ignore, "duplicate"),
        2
    );

    // Cancelled at the maker, the cancel gossiped: a replay of the order stays out.
    let Some(id) = maker
        .state
        .book(&market)
        .and_then(|book| book.orders().next().map(|o| o.id))
    else {
        panic!("the maker holds its order");
    };
    let cancel = match maker
        .state
        .update_order(id, dex_primitives::Lots(0), NOW + 1)
        .unwrap()
        .then
        .remove(0)
    {
        Action::Publish { data, .. } => data,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        other.state.on_gossip(maker.id, &topic, &cancel, NOW + 1).0,
        Acceptance::Accept
    );
    assert_eq!(other.state.stats(&market).unwrap().visible, 0);
    assert_eq!(
        other.state.on_gossip(maker.id, &topic, &data, NOW + 2).0,
        Acceptance::Ignore
    );
    assert_eq!(other.state.stats(&market).unwrap().visible, 0);
    assert_eq!(
        other
            .metrics
            .gossip_verdicts(Acceptance::Ignore, "duplicate"),
        3
    );
}

#[test]
fn preallocation_changes_nothing_but_memory() {
    let mut config = test_config(0);
    config.caps.orders_per_market = 50;
    config.caps.preallocated_orders = 10_000;
    assert_eq!(config.caps.preallocated(), 50, "capped at the market cap");

    // Fewer, as many and more orders than the room reserved: same book, same verdicts.
    let mut maker = peer(2, 1000);
    let market = eth_usdc_id();
    let topic = market_topic(&market);
    let messages = post(&mut maker, 2, 12, NOW);
    let mut receivers: Vec<(NodeState, Arc<NodeMetrics>)> = [0, 5, 12, 10_000]
        .into_iter()
        .map(|room| {
            let mut config = test_config(1);
            config.caps.preallocated_orders = room;
            let metrics = Arc::new(NodeMetrics::default());
            (
                NodeState::new(&config, PeerId::random(), 1, metrics.clone()),
                metrics,
            )
        })
        .collect();
    for data in messages.iter().chain(&messages) {
        let verdicts: Vec<Acceptance> = receivers
            .iter_mut()
            .map(|(state, _)| state.on_gossip(maker.id, &topic, data, NOW).0)
            .collect();
        assert!(
            verdicts.windows(2).all(|pair| pair[0] == pair[1]),
            "{verdicts:?}"
        );
    }
    let digest = maker.state.digest(&market);
    assert!(digest.is_some());
    for (state, metrics) in &receivers {
        assert_eq!(state.digest(&market), digest);
        assert_eq!(state.stats(&market).unwrap().visible, 12);
        assert_eq!(metrics.gossip_verdicts(Acceptance::Accept, "accepted"), 12);
        assert_eq!(metrics.gossip_verdicts(Acceptance::Ignore, "duplicate"), 12);
    }
}

/// The verification pool changes where signers are recovered, not what a node decides:
/// a stream of orders, their updates (each valid only after its order), replays, forged
/// and malformed messages gets the same verdicts in the same order, and the same book, as
/// judged one by one on the node's thread; with the pool's threads and without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_pool_gives_the_verdicts_and_book_of_inline_ingest() {
    let market = eth_usdc_id();
    let topic = market_topic(&market);
    let mut maker = peer(0, 1000);
    let mut stream: Vec<Vec<u8>> = Vec::new();
    for k in 0..60 {
        let order = post(&mut maker, 0, 1, NOW + k).remove(0);
        stream.push(order.clone());
        if k % 3 == 0 {
            // A cancel right behind its order: valid only once the order is in the book.
            let id = match GossipMessage::decode(&order).unwrap() {
                GossipMessage::Order(signed) => signed.order.id(),
                other => panic!("unexpected {other:?}"),
            };
            let update = maker
                .state
                .update_order(id, Lots(0), NOW + k)
                .expect("own order");
            stream.extend(update.then.into_iter().filter_map(|action| match action {
                Action::Publish { data, .. } => Some(data),
                _ => None,
            }));
        }
        if k % 7 == 0 {
            stream.push(order.clone());
        }
        if k % 11 == 0 {
            let mut forged = order.clone();
            let at = forged.len() - 10;
            forged[at] = if forged[at] == b'1' { b'2' } else { b'1' };
            stream.push(forged);
            stream.push(b"{not json".to_vec());
        }
    }
    let now = NOW + 100;
    let source = PeerId::random();

    let mut inline = peer(1, 1000);
    let expected: Vec<Acceptance> = stream
        .iter()
        .map(|data| inline.state.on_gossip(source, &topic, data, now).0)
        .collect();
    assert!(expected.contains(&Acceptance::Accept));
    assert!(expected.contains(&Acceptance::Reject));
    assert!(expected.contains(&Acceptance::Ignore));

    for threads in [0, 2] {
        let mut pooled = peer(1, 1000);
        let mut ingest = dex_node::Ingest::new(threads, 16);
        let mut verdicts = Vec::new();
        let mut queue = stream.iter().peekable();
        while verdicts.len() < stream.len() {
            while queue.peek().is_some() && ingest.has_room_for(3) {
                let batch = queue
                    .by_ref()
                    .take(3)
                    .map(|data| dex_network::GossipIn {
                        source,
                        message_id: dex_network::message_id(data),
                        topic: topic.clone(),
                        data: data.clone(),
                    })
                    .collect();
                ingest.gossip(batch);
            }
            let Some(dex_node::Ready::Gossip(items)) = ingest.next().await else {
                panic!("gossip expected");
            };
            for (meta, decoded) in items {
                let (acceptance, _) =
                    pooled
                        .state
                        .on_gossip_decoded(meta.source, &meta.topic, decoded, now);
                verdicts.push(acceptance);
            }
        }
        assert!(ingest.next().await.is_none());
        assert_eq!(verdicts, expected, "{threads} threads");
        assert_eq!(
            pooled.state.digest(&market),
            inline.state.digest(&market),
            "{threads} threads"
        );
        assert_eq!(
            pooled.state.stats(&market).unwrap().visible,
            inline.state.stats(&market).unwrap().visible
        );
    }
}

/// A page of one maker's orders lists that maker's open orders only, in id order from the
/// cursor, `limit` at a time, the last page without a cursor; a maker with no order here
/// gets an empty last page. (Such pages are read from the book's list of the maker's
/// orders, not from a pass over the market.)
#[test]
fn a_makers_pages_list_its_orders_in_id_order_from_the_cursor() {
    let mut server = peer(0, 2);
    let mut other = peer(1, 2);
    let market = eth_usdc_id();
    let topic = market_topic(&market);
    let _ = post(&mut server, 0, 4, NOW);
    for data in post(&mut other, 1, 5, NOW) {
        let (acceptance, _) = server.state.on_gossip(other.id, &topic, &data, NOW);
        assert_eq!(acceptance, Acceptance::Accept);
    }
    let book = server.state.book(&market).unwrap();
    let mut expected: Vec<_> = book
        .orders()
        .filter(|view| view.maker == node_trader(1).address())
        .map(|view| view.id)
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 5);
    assert_eq!(book.len(), 9);

    let page = |state: &mut NodeState, maker, cursor| {
        let request = SyncRequest::GetOrders {
            market,
            cursor,
            limit: 2,
            maker: Some(maker),
        };
        match state.serve(&request, NOW + 10) {
            SyncResponse::OrdersPage {
                orders,
                next_cursor,
                ..
            } => (
                orders
                    .iter()
                    .map(|entry| entry.order.order.id())
                    .collect::<Vec<_>>(),
                next_cursor,
            ),
            refused => panic!("refused: {refused:?}"),
        }
    };
    let maker = node_trader(1).address();
    let (first, cursor) = page(&mut server.state, maker, None);
    assert_eq!(
        (first.as_slice(), cursor),
        (&expected[..2], Some(expected[1]))
    );
    let (second, cursor) = page(&mut server.state, maker, cursor);
    assert_eq!(
        (second.as_slice(), cursor),
        (&expected[2..4], Some(expected[3]))
    );
    let (last, cursor) = page(&mut server.state, maker, cursor);
    assert_eq!((last.as_slice(), cursor), (&expected[4..], None));
    // Any cursor: the page starts after it.
    let (from_middle, _) = page(&mut server.state, maker, Some(expected[2]));
    assert_eq!(from_middle, expected[3..5]);
    // A maker with no order here.
    let (none, cursor) = page(&mut server.state, node_trader(7).address(), None);
    assert_eq!((none.len(), cursor), (0, None));
}
