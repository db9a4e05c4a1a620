//! The REST API, the WebSocket stream and the metrics of running nodes.

use std::net::TcpStream;

use dex_client::{ClientError, RawRequest, WsClient};
use dex_primitives::{Side, SignedOrder, TraderKey};
use serde_json::{Value, json};

use crate::harness::{Dexd, wait_for};

fn body(order: &SignedOrder) -> String {
    serde_json::to_string(order).unwrap()
}

type Socket = WsClient;

/// An anonymous WebSocket (no token).
fn ws_connect(node: &Dexd) -> Socket {
    let mut socket = node
        .client
        .without_token()
        .ws()
        .expect("WebSocket connects");
    socket
        .set_read_timeout(std::time::Duration::from_secs(30))
        .expect("a read timeout");
    socket
}

/// The next text message as JSON (pings are skipped).
fn ws_next(socket: &mut Socket) -> Value {
    socket
        .next_json()
        .expect("a message before the read timeout")
}

/// Reads deltas until one carries an event `name` for `order`; returns that delta.
fn ws_until_event(socket: &mut Socket, name: &str, order: &str) -> Value {
    loop {
        let message = ws_next(socket);
        assert_eq!(message["type"], "delta", "{message}");
        let found = message["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["event"] == name && event["orderId"] == order);
        if found {
            return message;
        }
    }
}

#[test]
fn an_order_placed_on_one_node_is_booked_streamed_and_cancelled_on_another() {
    let a = Dexd::start(&[]);
    let b = Dexd::start(&a.info().listen_addrs);
    let b_peer = b.info().peer_id;
    wait_for("A and B to connect", || {
        let peers = a.get("/v1/peers").json;
        peers["peers"]
            .as_array()?
            .iter()
            .any(|peer| peer["peerId"] == b_peer.as_str())
            .then_some(())
    });

    // B's stream: subscribed, then an empty snapshot.
    let mut socket = ws_connect(&b);
    socket.subscribe("book:ETH/USDC").unwrap();
    assert_eq!(
        ws_next(&mut socket),
        json!({"type": "subscribed", "channel": "book:ETH/USDC"})
    );
    let snapshot = ws_next(&mut socket);
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["bids"], json!([]));
    assert_eq!(snapshot["asks"], json!([]));
    let snapshot_seq = snapshot["seq"].as_u64().unwrap();

    // Gossip needs a mesh: post until B has it (a post before the mesh forms is still
    // repaired by the heartbeat root, but that takes a heartbeat interval).
    let order = a.order(Side::Sell, 250_050, 250, 1);
    let answer = a.post("/v1/orders/signed", &body(&order));
    assert_eq!(answer.status, 201, "{}", answer.text);
    let id = order.order.id().to_string();
    assert_eq!(answer.json["orderId"], id.as_str());
    assert_eq!(answer.json["price"], "2500.5");
    assert_eq!(answer.json["quantity"], "0.25");
    assert_eq!(answer.json["side"], "sell");
    assert_eq!(
        a.book(),
        vec![("asks".into(), "2500.5".into(), "0.25".into())]
    );
    wait_for("the order in B's book", || {
        (b.book() == vec![("asks".to_owned(), "2500.5".to_owned(), "0.25".to_owned())])
            .then_some(())
    });

    let inserted = ws_until_event(&mut socket, "inserted", &id);
    assert!(inserted["seq"].as_u64().unwrap() > snapshot_seq);
    assert_eq!(
        inserted["asks"],
        json!([{"price": "2500.5", "quantity": "0.25", "orders": 1}])
    );

    let cancelled = a.delete(&format!("/v1/orders/{id}"));
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(
        cancelled.json,
        json!({"orderId": id, "status": "cancelled"})
    );
    wait_for("the order gone from B's book", || {
        b.book().is_empty().then_some(())
    });
    let removed = ws_until_event(&mut socket, "removed", &id);
    assert_eq!(
        removed["asks"],
        json!([{"price": "2500.5", "quantity": "0", "orders": 0}])
    );
    let event = removed["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["event"] == "removed")
        .unwrap()
        .clone();
    assert_eq!(event["reason"], "cancelled");

    // The metrics count exactly what this test did on A.
    assert_eq!(
        a.metric(
            "dex_api_requests_total",
            r#"route="/v1/orders/signed",status="201""#
        ),
        1.0
    );
    assert_eq!(
        a.metric(
            "dex_api_requests_total",
            r#"route="/v1/orders/{id}",status="200""#
        ),
        1.0
    );
    assert_eq!(
        a.metric(
            "dex_api_request_duration_seconds_count",
            r#"route="/v1/orders/signed""#
        ),
        1.0
    );
    assert!(
        b.metric(
            "dex_node_gossip_verdicts_total",
            r#"verdict="accept",reason="accepted""#
        ) >= 2.0
    );
    assert!(a.metric("dex_peers", "") >= 1.0);
    assert_eq!(
        a.metric("dex_book_orders", r#"market="ETH/USDC",state="visible""#),
        0.0
    );
    assert_eq!(b.metric("dex_api_ws_connections", ""), 1.0);
    // Requests that match no route count under `unmatched`.
    assert_eq!(a.get("/nowhere").status, 404);
    assert_eq!(
        a.metric(
            "dex_api_requests_total",
            r#"route="unmatched",status="404""#
        ),
        1.0
    );
    // OpenMetrics text, with libp2p's own families beside ours: the connection between the
    // two nodes, and B's gossip received from A.
    assert_eq!(
        a.get("/metrics").content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(a.metric("libp2p_swarm_connections_established_total", "") >= 1.0);
    assert!(b.metric("libp2p_gossipsub_messages_total", "") >= 1.0);
    assert!(a.metric("libp2p_identify_received_total", "") >= 1.0);
    assert!(a.metric("libp2p_bandwidth_bytes_total", "") > 0.0);
}

/// The book route's digest is the book's: the published formula over the visible orders
/// (`orders_digest`), the same on two nodes once they hold the same orders whatever the
/// depth asked, and another one for another set (an order more, an order cancelled).
#[test]
fn two_nodes_holding_the_same_orders_answer_the_same_book_digest() {
    let a = Dexd::start(&[]);
    let b = Dexd::start(&a.info().listen_addrs);
    let empty = dex_book::orders_digest([]);
    assert_eq!(a.digest(), empty);
    assert_eq!(b.digest(), empty);

    let orders = [
        a.order(Side::Buy, 249_000, 100, 1),
        a.order(Side::Sell, 251_000, 250, 2),
    ];
    for order in &orders {
        let answer = a.post("/v1/orders/signed", &body(order));
        assert_eq!(answer.status, 201, "{}", answer.text);
    }
    let both = dex_book::orders_digest(
        orders
            .iter()
            .map(|order| (order.order.id(), order.order.quantity)),
    );
    assert_ne!(both, empty);
    assert_eq!(a.digest(), both);
    // The whole book, whatever the depth: one level of each side here, so depth=1 and 50
    // show the same orders; the digest also covers what depth=1 leaves out below.
    let deep = a.get("/v1/markets/ETH%2FUSDC/book?depth=50");
    assert_eq!(deep.json["digest"], both.to_string());
    // Gossip needs a mesh; an order that went out before it is repaired by the heartbeat
    // root or B's start sync: wait for B to hold both.
    wait_for("B to hold A's two orders", || {
        (b.digest() == both).then_some(())
    });

    // B's own order: B's set differs from A's until A has it too.
    let third = b.order(Side::Buy, 248_000, 7, 3);
    let answer = b.post("/v1/orders/signed", &body(&third));
    assert_eq!(answer.status, 201, "{}", answer.text);
    let all = dex_book::orders_digest(
        orders
            .iter()
            .chain([&third])
            .map(|order| (order.order.id(), order.order.quantity)),
    );
    assert_eq!(b.digest(), all);
    assert_ne!(all, both);
    wait_for("A to hold B's order", || (a.digest() == all).then_some(()));

    // A cancel removes the order from the digest on both.
    let cancelled = a.delete(&format!("/v1/orders/{}", orders[0].order.id()));
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    let rest = dex_book::orders_digest(
        [&orders[1], &third]
            .into_iter()
            .map(|order| (order.order.id(), order.order.quantity)),
    );
    assert_eq!(a.digest(), rest);
    wait_for("B to apply the cancel", || {
        (b.digest() == rest).then_some(())
    });
}

type Call<'a> = Box<dyn Fn() -> crate::harness::Answer + 'a>;

/// Every bad request gets its own problem type and changes nothing.
#[test]
fn a_book_read_right_after_a_post_or_cancel_answer_includes_it() {
    // The book route answers from a cache while the book's revision stays the same: the
    // node must move the revision before it answers the post or the cancel, or the read
    // that follows the answer would get the cached book from before it.
    let node = Dexd::start(&[]);
    let mut expected: Vec<(String, String, String)> = Vec::new();
    let mut ids = Vec::new();
    for nonce in 1..=9u64 {
        // Read first, so a cached answer of the book without the order exists.
        assert_eq!(node.book(), expected);
        let order = node.order(Side::Buy, 100_000 + nonce * 10, 100, nonce);
        let answer = node.post("/v1/orders/signed", &body(&order));
        assert_eq!(answer.status, 201, "{}", answer.text);
        ids.push(order.order.id().to_string());
        // Bids best (highest) first: each order is the new best.
        let price = format!("1000.{nonce}");
        expected.insert(0, ("bids".into(), price.clone(), "0.1".into()));
        assert_eq!(node.book(), expected, "right after posting order {nonce}");
        let top = node.get("/v1/markets/ETH%2FUSDC/book?depth=1");
        assert_eq!(
            top.json["bids"],
            json!([{"price": price, "quantity": "0.1", "orders": 1}])
        );
    }
    // Cancel from the best down: each read right after the answer has the order gone.
    for id in ids.iter().rev() {
        assert_eq!(node.book(), expected);
        let cancelled = node.delete(&format!("/v1/orders/{id}"));
        assert_eq!(cancelled.status, 200, "{}", cancelled.text);
        expected.remove(0);
        assert_eq!(node.book(), expected, "right after cancelling {id}");
    }
    assert!(node.book().is_empty());
}

#[test]
fn each_bad_request_is_its_own_problem_and_changes_nothing() {
    let node = Dexd::start(&[]);
    let good = node.order(Side::Buy, 100_000, 10, 1);
    let good_json: Value = serde_json::to_value(&good).unwrap();
    let with = |path: &[&str], value: Value| {
        let mut json = good_json.clone();
        let mut target = &mut json;
        for key in &path[..path.len() - 1] {
            target = &mut target[*key];
        }
        target[path[path.len() - 1]] = value;
        json.to_string()
    };
    let without_signature = {
        let mut json = good_json.clone();
        json.as_object_mut().unwrap().remove("signature");
        json.to_string()
    };
    // The good order, its price changed after signing: the signature is someone else's.
    let tampered = with(&["order", "price"], json!(100_001));
    // Signed by a key the node does not hold.
    let stranger = TraderKey::generate().unwrap();
    let mut foreign = good.order.clone();
    foreign.maker = stranger.address();
    let foreign = body(&foreign.sign(&stranger));
    let mut other_peer = good.order.clone();
    other_peer.peer = dex_test_utils::TEST_PEER.into();
    let other_peer = body(&other_peer.sign(&node.trader_key()));
    let mut zero = good.order.clone();
    zero.quantity = dex_primitives::Lots(0);
    let zero = body(&zero.sign(&node.trader_key()));
    let mut expired = good.order.clone();
    expired.created_at -= 7_200_000;
    expired.expires_at = expired.created_at + 1000;
    let expired = body(&expired.sign(&node.trader_key()));
    let mut unknown_market = good.order.clone();
    unknown_market.market = dex_primitives::MarketId(dex_primitives::B256::repeat_byte(7));
    let unknown_market = body(&unknown_market.sign(&node.trader_key()));
    let wrong_id = with(&["orderId"], json!(format!("0x{}", "11".repeat(32))));
    let oversized = format!("{{\"pad\":\"{}\"}}", "x".repeat(100 * 1024));
    let no_order = format!("0x{}", "00".repeat(32));

    let token = node.token.clone();
    let json_type = Some("application/json");
    let place = |price: &str, quantity: &str| {
        json!({"market": "ETH/USDC", "side": "buy", "price": price, "quantity": quantity})
            .to_string()
    };
    let cases: Vec<(&str, u16, Call<'_>)> = vec![
        (
            "malformed-json",
            400,
            Box::new(|| node.post("/v1/orders/signed", "{\"order\": ")),
        ),
        (
            "unknown-field",
            422,
            Box::new(|| node.post("/v1/orders/signed", &with(&["extra"], json!(1)))),
        ),
        (
            "unknown-field",
            422,
            Box::new(|| {
                node.post(
                    "/v1/orders/signed",
                    &with(&["order", "colour"], json!("red")),
                )
            }),
        ),
        (
            "missing-field",
            422,
            Box::new(|| node.post("/v1/orders/signed", &without_signature)),
        ),
        (
            "invalid-field",
            422,
            Box::new(|| {
                node.post(
                    "/v1/orders/signed",
                    &with(&["order", "price"], json!("2500.5")),
                )
            }),
        ),
        (
            "invalid-field",
            422,
            Box::new(|| {
                node.post(
                    "/v1/orders/signed",
                    &with(&["order", "quantity"], json!(-1)),
                )
            }),
        ),
        (
            "invalid-field",
            422,
            Box::new(|| node.post("/v1/orders/signed", &with(&["order", "side"], json!(2)))),
        ),
        (
            "unsupported-media-type",
            415,
            Box::new(|| {
                node.post_as(
                    "/v1/orders/signed",
                    &body(&good),
                    Some(&token),
                    Some("text/plain"),
                )
            }),
        ),
        (
            "body-too-large",
            413,
            Box::new(|| node.post("/v1/orders/signed", &oversized)),
        ),
        (
            "missing-token",
            401,
            Box::new(|| node.post_as("/v1/orders/signed", &body(&good), None, json_type)),
        ),
        (
            "invalid-token",
            401,
            Box::new(|| {
                node.post_as(
                    "/v1/orders/signed",
                    &body(&good),
                    Some("0123456789abcdef0123456789abcdef"),
                    json_type,
                )
            }),
        ),
        (
            "signer-mismatch",
            422,
            Box::new(|| node.post("/v1/orders/signed", &tampered)),
        ),
        (
            "maker-not-held",
            403,
            Box::new(|| node.post("/v1/orders/signed", &foreign)),
        ),
        (
            "wrong-peer",
            422,
            Box::new(|| node.post("/v1/orders/signed", &other_peer)),
        ),
        (
            "zero-quantity",
            422,
            Box::new(|| node.post("/v1/orders/signed", &zero)),
        ),
        (
            "order-expired",
            422,
            Box::new(|| node.post("/v1/orders/signed", &expired)),
        ),
        (
            "unknown-market",
            404,
            Box::new(|| node.post("/v1/orders/signed", &unknown_market)),
        ),
        (
            "order-id-mismatch",
            422,
            Box::new(|| node.post("/v1/orders/signed", &wrong_id)),
        ),
        (
            "unknown-market",
            404,
            Box::new(|| node.get("/v1/markets/BTC%2FUSDC/book")),
        ),
        (
            "invalid-query",
            400,
            Box::new(|| node.get("/v1/markets/ETH%2FUSDC/book?depth=lots")),
        ),
        (
            "invalid-query",
            400,
            Box::new(|| node.get("/v1/markets/ETH%2FUSDC/book?depth=0")),
        ),
        (
            "invalid-order-id",
            400,
            Box::new(|| node.delete("/v1/orders/42")),
        ),
        (
            "unknown-order",
            404,
            Box::new(|| node.delete(&format!("/v1/orders/{no_order}"))),
        ),
        (
            "invalid-query",
            400,
            Box::new(|| node.delete("/v1/orders?status=open")),
        ),
        ("not-found", 404, Box::new(|| node.get("/v1/nothing-here"))),
        (
            "method-not-allowed",
            405,
            Box::new(|| node.get("/v1/orders/signed")),
        ),
        ("websocket-required", 426, Box::new(|| node.get("/v1/ws"))),
        // Placing: decimal strings converted exactly, every fault its own type, checked
        // before the node is asked (a relay node then refuses to trade).
        (
            "invalid-decimal",
            422,
            Box::new(|| node.post("/v1/orders", &place("abc", "0.25"))),
        ),
        (
            "invalid-decimal",
            422,
            Box::new(|| node.post("/v1/orders", &place("2.5e3", "0.25"))),
        ),
        (
            "negative-value",
            422,
            Box::new(|| node.post("/v1/orders", &place("-2500", "0.25"))),
        ),
        (
            "zero-value",
            422,
            Box::new(|| node.post("/v1/orders", &place("2500", "0"))),
        ),
        (
            "too-many-digits",
            422,
            Box::new(|| {
                node.post(
                    "/v1/orders",
                    &place("0.00000000000000000000000000001", "0.25"),
                )
            }),
        ),
        (
            "off-tick",
            422,
            Box::new(|| node.post("/v1/orders", &place("2500.001", "0.25"))),
        ),
        (
            "off-lot",
            422,
            Box::new(|| node.post("/v1/orders", &place("2500", "0.0001"))),
        ),
        (
            "out-of-range",
            422,
            Box::new(|| node.post("/v1/orders", &place("1000000000000000000", "0.25"))),
        ),
        (
            "unknown-market",
            404,
            Box::new(|| {
                node.post(
                    "/v1/orders",
                    &json!({"market": "BTC/USDC", "side": "buy", "price": "1", "quantity": "1"})
                        .to_string(),
                )
            }),
        ),
        (
            "invalid-field",
            422,
            Box::new(|| {
                node.post(
                    "/v1/orders",
                    &json!({"market": "ETH/USDC", "side": "hold", "price": "1", "quantity": "1"})
                        .to_string(),
                )
            }),
        ),
        (
            "invalid-field",
            422,
            Box::new(|| {
                node.post(
                    "/v1/orders",
                    &json!({"market": "ETH/USDC", "side": "buy", "price": 2500, "quantity": "1"})
                        .to_string(),
                )
            }),
        ),
        (
            "missing-field",
            422,
            Box::new(|| {
                node.post(
                    "/v1/orders",
                    &json!({"market": "ETH/USDC", "side": "buy", "price": "1"}).to_string(),
                )
            }),
        ),
        (
            "unknown-field",
            422,
            Box::new(|| {
                node.post("/v1/orders", &json!({"market": "ETH/USDC", "side": "buy", "price": "1", "quantity": "1", "leverage": 100}).to_string())
            }),
        ),
        (
            "min-fill-above-quantity",
            422,
            Box::new(|| {
                node.post("/v1/orders", &json!({"market": "ETH/USDC", "side": "buy", "price": "1", "quantity": "0.001", "minFill": "0.002"}).to_string())
            }),
        ),
        (
            "missing-token",
            401,
            Box::new(|| node.post_as("/v1/orders", &place("2500", "0.25"), None, json_type)),
        ),
        (
            "settlement-off",
            409,
            Box::new(|| node.post("/v1/orders", &place("2500", "0.25"))),
        ),
        (
            "settlement-off",
            409,
            Box::new(|| node.get_auth("/v1/orders")),
        ),
        (
            "settlement-off",
            409,
            Box::new(|| node.get_auth("/v1/swaps")),
        ),
        (
            "settlement-off",
            409,
            Box::new(|| node.get_auth("/v1/markets/ETH%2FUSDC/trades")),
        ),
        // Issue 16's fifth finding: this node's trades were served to anyone.
        (
            "missing-token",
            401,
            Box::new(|| node.get("/v1/markets/ETH%2FUSDC/trades")),
        ),
        ("missing-token", 401, Box::new(|| node.get("/v1/orders"))),
        ("missing-token", 401, Box::new(|| node.get("/v1/swaps"))),
        ("missing-token", 401, Box::new(|| node.get("/v1/balances"))),
        (
            "missing-token",
            401,
            Box::new(|| node.get("/v1/counterparties")),
        ),
        (
            "settlement-off",
            409,
            Box::new(|| node.get_auth("/v1/counterparties")),
        ),
        (
            "settlement-off",
            409,
            Box::new(|| node.get_auth("/v1/balances")),
        ),
        (
            "invalid-query",
            400,
            Box::new(|| node.get_auth("/v1/orders?status=lost")),
        ),
        (
            "invalid-swap-id",
            400,
            Box::new(|| node.get_auth("/v1/swaps/nope")),
        ),
    ];
    for (slug, status, call) in &cases {
        let answer = call();
        assert_eq!(answer.status, *status, "{slug}: {}", answer.text);
        let problem = answer.problem();
        assert_eq!(problem.slug(), *slug, "{}", answer.text);
        assert_eq!(problem.status, *status);
        assert!(!problem.detail.is_empty() && !problem.title.is_empty());
    }
    // Nothing changed: empty book, no order inserted.
    assert!(node.book().is_empty());
    assert_eq!(node.metric("dex_node_orders_inserted_total", ""), 0.0);

    // The good order is accepted once, then is a duplicate.
    assert_eq!(node.post("/v1/orders/signed", &body(&good)).status, 201);
    let again = node.post("/v1/orders/signed", &body(&good));
    assert_eq!(again.problem().slug(), "duplicate-order", "{}", again.text);
    assert_eq!(
        node.book(),
        vec![("bids".into(), "1000".into(), "0.01".into())]
    );
    // Cancelling needs the token too.
    let id = good.order.id();
    let request = node.send(RawRequest::delete(&format!("/v1/orders/{id}")));
    assert_eq!(request.status, 401, "{}", request.text);
    assert_eq!(node.book().len(), 1);
}

#[test]
fn the_openapi_document_describes_the_served_routes() {
    let node = Dexd::start(&[]);
    let answer = node.get("/v1/openapi.json");
    assert_eq!(answer.status, 200);
    let document = answer.json;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/health",
        "/v1/info",
        "/v1/markets",
        "/v1/markets/{market}/book",
        "/v1/orders/signed",
        "/v1/orders/{id}",
        "/v1/orders",
        "/v1/swaps",
        "/v1/swaps/{id}",
        "/v1/markets/{market}/trades",
        "/v1/peers",
        "/v1/ws",
        "/v1/balances",
        "/v1/counterparties",
        "/metrics",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    // Parameters carry the constraints the API enforces, so that clients and fuzzers
    // generated from the document send what the API accepts.
    let parameter = |path: &str, method: &str, name: &str| {
        document["paths"][path][method]["parameters"]
            .as_array()
            .and_then(|parameters| parameters.iter().find(|p| p["name"] == name))
            .map(|p| p["schema"].clone())
            .unwrap_or_else(|| panic!("{method} {path}: no parameter {name}"))
    };
    let hex = "^(0x)?[0-9a-fA-F]{64}$";
    assert_eq!(parameter("/v1/orders/{id}", "get", "id")["pattern"], hex);
    assert_eq!(parameter("/v1/orders/{id}", "delete", "id")["pattern"], hex);
    assert_eq!(parameter("/v1/swaps/{id}", "get", "id")["pattern"], hex);
    assert_eq!(
        parameter("/v1/orders", "get", "status")["pattern"],
        "^(open|filled|cancelled|expired)$"
    );
    let limit = parameter("/v1/markets/{market}/trades", "get", "limit");
    assert_eq!(
        (limit["minimum"].as_u64(), limit["maximum"].as_u64()),
        (Some(1), Some(1000))
    );
    assert_eq!(
        parameter("/v1/markets/{market}/book", "get", "depth")["minimum"].as_u64(),
        Some(1)
    );
    assert!(
        parameter("/v1/markets/{market}/book", "get", "market")["pattern"]
            .as_str()
            .is_some_and(|pattern| pattern.contains("[^/]+/[^/]+"))
    );
    // The book's digest: required, and exactly the `0x` and 64 lowercase hex digits that
    // a B256 serializes as.
    let book = &document["components"]["schemas"]["Book"];
    assert_eq!(book["properties"]["digest"]["type"], "string");
    assert_eq!(book["properties"]["digest"]["pattern"], "^0x[0-9a-f]{64}$");
    assert!(
        book["required"]
            .as_array()
            .is_some_and(|required| required.contains(&json!("digest")))
    );
    assert!(
        document["paths"]["/v1/orders"]["post"]["responses"]["422"]["description"]
            .as_str()
            .unwrap()
            .contains("insufficient-balance")
    );
    // A relay node: settlement off, no chains.
    assert_eq!(node.info().chains_up, Vec::<u64>::new());
    let markets = node.get("/v1/markets").json;
    assert_eq!(markets["markets"][0]["symbol"], "ETH/USDC");
    assert_eq!(markets["markets"][0]["lotSize"], "0.001");
    assert_eq!(markets["markets"][0]["tickSize"], "0.01");
    assert_eq!(markets["markets"][0]["quotePerTickLot"], "10");
}

#[test]
fn an_unreachable_chain_leaves_a_relaying_node_that_refuses_to_trade_on_it() {
    let chains = r#"
[[settlement.chains]]
chain_id = 31337
rpc_url = "http://127.0.0.1:1"
htlc = "0x1111111111111111111111111111111111111111"
rpc_timeout = "1s"
scan_confirmations = 1
[[settlement.chains]]
chain_id = 31338
rpc_url = "http://127.0.0.1:1"
htlc = "0x1111111111111111111111111111111111111111"
rpc_timeout = "1s"
scan_confirmations = 1
"#;
    let node = Dexd::start_with(&format!("{}{chains}", crate::harness::test_config()), &[]);
    assert!(node.info().settlement);
    assert!(node.data_dir().join("dex.sqlite").exists());
    let place = json!({"market": "ETH/USDC", "side": "buy", "price": "2500", "quantity": "0.25"});
    let answer = node.post("/v1/orders", &place.to_string());
    assert_eq!(answer.status, 503, "{}", answer.text);
    let problem = answer.problem();
    assert_eq!(problem.slug(), "chain-unavailable");
    assert!(problem.detail.contains("31337"), "{}", problem.detail);
    assert_eq!(node.get_auth("/v1/orders").json, json!({"orders": []}));
    // A signed order of this node's trader is an own order like any other: refused too,
    // and nothing of it is booked.
    let order = node.order(Side::Sell, 300_000, 5, 9);
    let answer = node.post("/v1/orders/signed", &body(&order));
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert_eq!(answer.problem().slug(), "chain-unavailable");
    assert!(node.book().is_empty());
    // Each refusal counted by its route and status, and the failed connections by chain.
    for route in ["/v1/orders", "/v1/orders/signed"] {
        assert_eq!(
            node.metric(
                "dex_api_requests_total",
                &format!(r#"route="{route}",status="503""#)
            ),
            1.0,
            "{route}"
        );
    }
    for chain in ["31337", "31338"] {
        wait_for("a failed connection counted", || {
            let labels = format!(r#"chain="{chain}",call="connect""#);
            (node.metric("dex_chain_rpc_errors_total", &labels) >= 1.0).then_some(())
        });
    }
}

/// Sends `GET path` with the given `Host` over a plain socket (an HTTP client sets its own
/// Host), and returns the status and the body.
fn get_with_host(node: &Dexd, path: &str, host: &str) -> (u16, String) {
    let (status, _, body) = get_raw(node, path, host, "");
    (status, body)
}

/// A GET with exactly these `Host` and extra header lines (each ending in `\r\n`): the
/// status, the head (lowercase) and the body.
fn get_raw(node: &Dexd, path: &str, host: &str, headers: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let address = node.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("the API answers");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .map(|(head, body)| (head.to_lowercase(), body.to_owned()))
        .unwrap_or_default();
    (status, head, body)
}

/// The trading page: served at `/` from the binary with a policy that allows this node
/// only, public (it holds no data, and never the token), refused under a foreign `Host`
/// like every route.
#[test]
fn the_trading_page_is_served_from_the_binary_to_this_node_only() {
    let node = Dexd::start(&[]);
    let host = node.url.trim_start_matches("http://").to_owned();
    let (status, head, html) = get_raw(&node, "/", &host, "");
    assert_eq!(status, 200, "{head}");
    for line in [
        "content-type: text/html; charset=utf-8",
        "x-frame-options: deny",
        "referrer-policy: no-referrer",
        "x-content-type-options: nosniff",
    ] {
        assert!(head.contains(line), "{line} in {head}");
    }
    let policy = head
        .lines()
        .find_map(|line| line.strip_prefix("content-security-policy: "))
        .expect("a content security policy");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert!(
        !html.contains(&node.token),
        "the token is never in the page"
    );
    let mut total = html.len();
    for (file, content_type) in [
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let path = format!("/ui/{file}");
        assert!(html.contains(&path), "the page loads {path}");
        let (status, head, body) = get_raw(&node, &path, &host, "");
        assert_eq!(status, 200, "{path}");
        assert!(
            head.contains(&format!("content-type: {content_type}")),
            "{head}"
        );
        assert!(!body.contains(&node.token));
        total += body.len();
        // Asked again with its validator: not sent again.
        let etag = head
            .lines()
            .find_map(|line| line.strip_prefix("etag: "))
            .expect("an etag")
            .to_owned();
        let (status, _, body) = get_raw(&node, &path, &host, &format!("If-None-Match: {etag}\r\n"));
        assert_eq!((status, body.as_str()), (304, ""), "{path}");
    }
    assert!(total < 300 * 1024, "the page's files are {total} bytes");
    let (status, _, body) = get_raw(&node, "/ui/../v1/info", &host, "");
    assert_eq!(status, 404, "{body}");
    let (status, _, body) = get_raw(&node, "/ui/secret.js", &host, "");
    assert_eq!(status, 404);
    let problem: Value = serde_json::from_str(&body).expect("problem+json");
    assert_eq!(problem["type"], "urn:p2pdex:problem:not-found");
    let (status, _, _) = get_raw(&node, "/", "attacker.example", "");
    assert_eq!(status, 403);
}

/// Issue 16's fifth finding: no route checked the Host header (a page that rebinds its own
/// name to 127.0.0.1 reached the API) and WebSocket upgrades from any page were accepted.
#[test]
fn foreign_hosts_and_websocket_origins_are_refused() {
    let node = Dexd::start(&[]);
    let port = node.url.rsplit(':').next().unwrap().to_owned();
    let (status, body) = get_with_host(&node, "/v1/health", "attacker.example");
    assert_eq!(status, 403, "{body}");
    let problem: Value = serde_json::from_str(&body).expect("problem+json");
    assert_eq!(problem["type"], "urn:p2pdex:problem:forbidden-host");
    let (status, _) = get_with_host(&node, "/v1/markets", &format!("attacker.example:{port}"));
    assert_eq!(status, 403);
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let (status, body) = get_with_host(&node, "/v1/health", &host);
        assert_eq!(status, 200, "{host}: {body}");
    }

    let ws = |origin: Option<String>| {
        let headers: Vec<(&str, &str)> = origin
            .as_deref()
            .map(|origin| ("Origin", origin))
            .into_iter()
            .collect();
        node.client.ws_with_headers(&headers).map(|_| ())
    };
    match ws(Some("http://example.com".into())) {
        Err(ClientError::Problem { problem }) => {
            assert_eq!(problem.status, 403);
            assert_eq!(problem.slug(), "forbidden-origin");
        }
        other => panic!("a foreign origin's upgrade: {other:?}"),
    }
    // A page served by the node itself, or no browser at all, connects.
    assert!(ws(Some(format!("http://127.0.0.1:{port}"))).is_ok());
    assert!(ws(None).is_ok());
}

/// dexd's relay settings end to end: a node started with `--relay-server`, one holding a
/// slot on it (`[p2p] relays`), and one that knows the latter only by its circuit address
/// through the relay: they connect, and GET /v1/peers and /metrics report the peer as
/// relayed (hole punching off, so it stays so).
#[test]
fn a_node_known_only_through_a_relay_is_reached_and_reported_relayed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("dexd.toml"), crate::harness::test_config())
        .expect("config written");
    let relay = Dexd::launch_with(dir, &[], &["--relay-server"], &[]);
    let relay_addr = relay.info().listen_addrs[0].clone();
    let through_relay = |extra: &str| {
        crate::harness::test_config()
            .replace("[p2p]\n", &format!("[p2p]\nhole_punching = false\n{extra}"))
    };
    let b = Dexd::start_with(
        &through_relay(&format!("relays = [\"{relay_addr}\"]\n")),
        &[],
    );
    let circuit = wait_for("B's address through the relay", || {
        b.info()
            .listen_addrs
            .into_iter()
            .find(|address| address.contains("/p2p-circuit"))
    });
    let b_peer = b.info().peer_id;
    assert!(
        circuit.ends_with(&format!("/p2p-circuit/p2p/{b_peer}")),
        "{circuit}"
    );
    let a = Dexd::start_with(&through_relay(""), &[circuit]);
    let peer = wait_for("B among A's peers", || {
        a.get("/v1/peers").json["peers"]
            .as_array()?
            .iter()
            .find(|peer| peer["peerId"] == b_peer.as_str())
            .cloned()
    });
    assert_eq!(peer["connection"], "relayed", "{peer}");
    assert_eq!(
        peer["addresses"],
        serde_json::json!([format!("{relay_addr}/p2p-circuit/p2p/{b_peer}")]),
        "{peer}"
    );
    let metrics = a.scrape();
    let value = |name: &str, labels: &str| crate::prometheus::value(&metrics, name, labels);
    assert_eq!(value("dex_peers_relayed", ""), 1.0);
    assert_eq!(value("dex_network_connections_relayed_total", ""), 1.0);
    assert_eq!(value("dex_connections", r#"kind="relayed""#), 1.0);
    assert_eq!(value("dex_network_hole_punch_attempts_total", ""), 0.0);
    // The relay itself is a direct peer of B.
    let relay_peer = relay.info().peer_id;
    let direct = wait_for("the relay among B's peers", || {
        b.get("/v1/peers").json["peers"]
            .as_array()?
            .iter()
            .find(|peer| peer["peerId"] == relay_peer.as_str())
            .cloned()
    });
    assert_eq!(direct["connection"], "direct", "{direct}");
}

/// dexd's automatic relay slot end to end: a node whose only peer setting is its bootstrap
/// peer, a relay server, listens through that relay without `[p2p] relays` (AutoNAT off, as
/// on loopback the relay's AutoNAT would confirm it public), and /metrics says so.
#[test]
fn a_node_bootstrapped_from_a_relay_listens_through_it_without_relay_settings() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("dexd.toml"), crate::harness::test_config())
        .expect("config written");
    let relay = Dexd::launch_with(dir, &[], &["--relay-server"], &[]);
    let relay_addr = relay.info().listen_addrs[0].clone();
    let config = crate::harness::test_config().replace("[p2p]\n", "[p2p]\nautonat = false\n");
    let b = Dexd::start_with(&config, std::slice::from_ref(&relay_addr));
    let circuit = wait_for("B's address through the relay", || {
        b.info()
            .listen_addrs
            .into_iter()
            .find(|address| address.contains("/p2p-circuit"))
    });
    assert!(
        circuit.starts_with(&format!("{relay_addr}/p2p-circuit/")),
        "{circuit}"
    );
    wait_for("the automatic reservation counted", || {
        (b.metric("dex_network_auto_relay_reservations_total", "") == 1.0).then_some(())
    });
    assert_eq!(b.metric("dex_network_auto_relay_requests_total", ""), 1.0);
    assert_eq!(b.metric("dex_network_reachable", ""), 0.0);
    assert!(b.metric("dex_connections", "kind=\"direct\"") >= 1.0);
}
