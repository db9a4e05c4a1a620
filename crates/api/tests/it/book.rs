//! The book route: its digest and its cache, read right after a change.

use dex_primitives::{Side, SignedOrder};
use dex_test_utils::{
    harness::{DEADLINE, Topology},
    wait_for,
};
use serde_json::json;

use crate::support::{Api, delete, get, post};

fn body(order: &SignedOrder) -> String {
    serde_json::to_string(order).unwrap()
}

/// The book route's digest is the book's: the published formula over the visible orders
/// (`orders_digest`), the same on two nodes once they hold the same orders whatever the
/// depth asked, and another one for another set (an order more, an order cancelled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_holding_the_same_orders_answer_the_same_book_digest() {
    let mut nodes = Api::network(2, Topology::Line, |_| {}).await;
    let (b, a) = (nodes.pop().unwrap(), nodes.pop().unwrap());
    let empty = dex_book::orders_digest([]);
    assert_eq!(a.digest().await, empty);
    assert_eq!(b.digest().await, empty);

    let orders = [
        a.order(Side::Buy, 249_000, 100, 1),
        a.order(Side::Sell, 251_000, 250, 2),
    ];
    for order in &orders {
        let answer = a.send(post("/v1/orders/signed", &body(order))).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
    }
    let both = dex_book::orders_digest(
        orders
            .iter()
            .map(|order| (order.order.id(), order.order.quantity)),
    );
    assert_ne!(both, empty);
    assert_eq!(a.digest().await, both);
    // The whole book, whatever the depth: one level of each side here, so depth=1 and 50
    // show the same orders; the digest also covers what depth=1 leaves out below.
    let deep = a.send(get("/v1/markets/ETH%2FUSDC/book?depth=50")).await;
    assert_eq!(deep.json["digest"], both.to_string());
    // Gossip needs a mesh; an order that went out before it is repaired by the heartbeat
    // root or B's start sync: wait for B to hold both.
    wait_for("B to hold A's two orders", DEADLINE, || async {
        b.digest().await == both
    })
    .await
    .unwrap();

    // B's own order: B's set differs from A's until A has it too.
    let third = b.order(Side::Buy, 248_000, 7, 3);
    let answer = b.send(post("/v1/orders/signed", &body(&third))).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    let all = dex_book::orders_digest(
        orders
            .iter()
            .chain([&third])
            .map(|order| (order.order.id(), order.order.quantity)),
    );
    assert_eq!(b.digest().await, all);
    assert_ne!(all, both);
    wait_for("A to hold B's order", DEADLINE, || async {
        a.digest().await == all
    })
    .await
    .unwrap();

    // A cancel removes the order from the digest on both.
    let cancelled = a
        .send(delete(&format!("/v1/orders/{}", orders[0].order.id())))
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    let rest = dex_book::orders_digest(
        [&orders[1], &third]
            .into_iter()
            .map(|order| (order.order.id(), order.order.quantity)),
    );
    assert_eq!(a.digest().await, rest);
    wait_for("B to apply the cancel", DEADLINE, || async {
        b.digest().await == rest
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_book_read_right_after_a_post_or_cancel_answer_includes_it() {
    // The book route answers from a cache while the book's revision stays the same: the
    // node must move the revision before it answers the post or the cancel, or the read
    // that follows the answer would get the cached book from before it.
    let node = Api::start().await;
    let mut expected: Vec<(String, String, String)> = Vec::new();
    let mut ids = Vec::new();
    for nonce in 1..=9u64 {
        // Read first, so a cached answer of the book without the order exists.
        assert_eq!(node.book().await, expected);
        let order = node.order(Side::Buy, 100_000 + nonce * 10, 100, nonce);
        let answer = node.send(post("/v1/orders/signed", &body(&order))).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        ids.push(order.order.id().to_string());
        // Bids best (highest) first: each order is the new best.
        let price = format!("1000.{nonce}");
        expected.insert(0, ("bids".into(), price.clone(), "0.1".into()));
        assert_eq!(
            node.book().await,
            expected,
            "right after posting order {nonce}"
        );
        let top = node.send(get("/v1/markets/ETH%2FUSDC/book?depth=1")).await;
        assert_eq!(
            top.json["bids"],
            json!([{"price": price, "quantity": "0.1", "orders": 1}])
        );
    }
    // Cancel from the best down: each read right after the answer has the order gone.
    for id in ids.iter().rev() {
        assert_eq!(node.book().await, expected);
        let cancelled = node.send(delete(&format!("/v1/orders/{id}"))).await;
        assert_eq!(cancelled.status, 200, "{}", cancelled.text);
        expected.remove(0);
        assert_eq!(node.book().await, expected, "right after cancelling {id}");
    }
    assert!(node.book().await.is_empty());
}

/// Reads of a changed book that arrive together ask the node once: the first read fills
/// the cache, the others wait for it and answer the same bytes. Each read that asks costs
/// the node's actor a pass over the whole book (the digest); one after the other, 32
/// readers of a 100,000-order book held the actor for 670 ms (`scripts/bench.sh scale`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_of_a_changed_book_arriving_together_ask_the_node_once() {
    const READERS: usize = 16;
    let node = std::sync::Arc::new(Api::start().await);
    for nonce in 1..=500u64 {
        let order = node.order(Side::Buy, 100_000 + nonce, 100, nonce);
        let answer = node.send(post("/v1/orders/signed", &body(&order))).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
    }
    for round in 1..=5u64 {
        // A change: the answer kept for the last revision is stale.
        let order = node.order(Side::Sell, 200_000 + round, 100, 1_000 + round);
        let answer = node.send(post("/v1/orders/signed", &body(&order))).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        let fills = node.metrics().book_fills();
        // Released together, as a burst of clients would arrive.
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(READERS));
        let reads: Vec<_> = (0..READERS)
            .map(|_| {
                let (node, start) = (node.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    node.send(get("/v1/markets/ETH%2FUSDC/book?depth=20")).await
                })
            })
            .collect();
        let mut bodies = Vec::new();
        for read in reads {
            let answer = read.await.expect("the read task");
            assert_eq!(answer.status, 200, "{}", answer.text);
            bodies.push(answer.text);
        }
        assert!(
            bodies.iter().all(|text| *text == bodies[0]),
            "round {round}"
        );
        assert_eq!(bodies[0].matches("\"price\"").count(), 20 + round as usize);
        assert_eq!(
            node.metrics().book_fills() - fills,
            1,
            "round {round}: {READERS} reads of one revision"
        );
    }
}
