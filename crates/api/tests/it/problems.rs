//! Every bad request is its own RFC 7807 problem type, and changes nothing.

use axum::{body::Body, http::Request};
use dex_primitives::{Side, SignedOrder, TraderKey};
use dex_test_utils::eth_usdc_id;
use serde_json::{Value, json};

use crate::support::{Api, TOKEN, delete, delete_anonymous, get, get_auth, post, post_as};

fn body(order: &SignedOrder) -> String {
    serde_json::to_string(order).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_request_is_its_own_problem_and_changes_nothing() {
    let node = Api::start().await;
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

    let token = TOKEN;
    let json_type = Some("application/json");
    let place = |price: &str, quantity: &str| {
        json!({"market": "ETH/USDC", "side": "buy", "price": price, "quantity": quantity})
            .to_string()
    };
    let cases: Vec<(&str, u16, Request<Body>)> = vec![
        (
            "malformed-json",
            400,
            post("/v1/orders/signed", "{\"order\": "),
        ),
        (
            "unknown-field",
            422,
            post("/v1/orders/signed", &with(&["extra"], json!(1))),
        ),
        ("unknown-field", 422, {
            post(
                "/v1/orders/signed",
                &with(&["order", "colour"], json!("red")),
            )
        }),
        (
            "missing-field",
            422,
            post("/v1/orders/signed", &without_signature),
        ),
        ("invalid-field", 422, {
            post(
                "/v1/orders/signed",
                &with(&["order", "price"], json!("2500.5")),
            )
        }),
        ("invalid-field", 422, {
            post(
                "/v1/orders/signed",
                &with(&["order", "quantity"], json!(-1)),
            )
        }),
        (
            "invalid-field",
            422,
            post("/v1/orders/signed", &with(&["order", "side"], json!(2))),
        ),
        ("unsupported-media-type", 415, {
            post_as(
                "/v1/orders/signed",
                &body(&good),
                Some(token),
                Some("text/plain"),
            )
        }),
        ("body-too-large", 413, post("/v1/orders/signed", &oversized)),
        (
            "missing-token",
            401,
            post_as("/v1/orders/signed", &body(&good), None, json_type),
        ),
        ("invalid-token", 401, {
            post_as(
                "/v1/orders/signed",
                &body(&good),
                Some("0123456789abcdef0123456789abcdef"),
                json_type,
            )
        }),
        ("signer-mismatch", 422, post("/v1/orders/signed", &tampered)),
        ("maker-not-held", 403, post("/v1/orders/signed", &foreign)),
        ("wrong-peer", 422, post("/v1/orders/signed", &other_peer)),
        ("zero-quantity", 422, post("/v1/orders/signed", &zero)),
        ("order-expired", 422, post("/v1/orders/signed", &expired)),
        (
            "unknown-market",
            404,
            post("/v1/orders/signed", &unknown_market),
        ),
        (
            "order-id-mismatch",
            422,
            post("/v1/orders/signed", &wrong_id),
        ),
        ("unknown-market", 404, get("/v1/markets/BTC%2FUSDC/book")),
        (
            "invalid-query",
            400,
            get("/v1/markets/ETH%2FUSDC/book?depth=lots"),
        ),
        (
            "invalid-query",
            400,
            get("/v1/markets/ETH%2FUSDC/book?depth=0"),
        ),
        ("invalid-order-id", 400, delete("/v1/orders/42")),
        (
            "unknown-order",
            404,
            delete(&format!("/v1/orders/{no_order}")),
        ),
        ("invalid-query", 400, delete("/v1/orders?status=open")),
        ("not-found", 404, get("/v1/nothing-here")),
        ("method-not-allowed", 405, get("/v1/orders/signed")),
        ("websocket-required", 426, get("/v1/ws")),
        // Placing: decimal strings converted exactly, every fault its own type, checked
        // before the node is asked (a relay node then refuses to trade).
        (
            "invalid-decimal",
            422,
            post("/v1/orders", &place("abc", "0.25")),
        ),
        (
            "invalid-decimal",
            422,
            post("/v1/orders", &place("2.5e3", "0.25")),
        ),
        (
            "negative-value",
            422,
            post("/v1/orders", &place("-2500", "0.25")),
        ),
        ("zero-value", 422, post("/v1/orders", &place("2500", "0"))),
        ("too-many-digits", 422, {
            post(
                "/v1/orders",
                &place("0.00000000000000000000000000001", "0.25"),
            )
        }),
        (
            "off-tick",
            422,
            post("/v1/orders", &place("2500.001", "0.25")),
        ),
        ("off-lot", 422, post("/v1/orders", &place("2500", "0.0001"))),
        (
            "out-of-range",
            422,
            post("/v1/orders", &place("1000000000000000000", "0.25")),
        ),
        ("unknown-market", 404, {
            post(
                "/v1/orders",
                &json!({"market": "BTC/USDC", "side": "buy", "price": "1", "quantity": "1"})
                    .to_string(),
            )
        }),
        ("invalid-field", 422, {
            post(
                "/v1/orders",
                &json!({"market": "ETH/USDC", "side": "hold", "price": "1", "quantity": "1"})
                    .to_string(),
            )
        }),
        ("invalid-field", 422, {
            post(
                "/v1/orders",
                &json!({"market": "ETH/USDC", "side": "buy", "price": 2500, "quantity": "1"})
                    .to_string(),
            )
        }),
        ("missing-field", 422, {
            post(
                "/v1/orders",
                &json!({"market": "ETH/USDC", "side": "buy", "price": "1"}).to_string(),
            )
        }),
        ("unknown-field", 422, {
            post("/v1/orders", &json!({"market": "ETH/USDC", "side": "buy", "price": "1", "quantity": "1", "leverage": 100}).to_string())
        }),
        ("min-fill-above-quantity", 422, {
            post("/v1/orders", &json!({"market": "ETH/USDC", "side": "buy", "price": "1", "quantity": "0.001", "minFill": "0.002"}).to_string())
        }),
        (
            "missing-token",
            401,
            post_as("/v1/orders", &place("2500", "0.25"), None, json_type),
        ),
        (
            "settlement-off",
            409,
            post("/v1/orders", &place("2500", "0.25")),
        ),
        ("settlement-off", 409, get_auth("/v1/orders")),
        ("settlement-off", 409, get_auth("/v1/swaps")),
        (
            "settlement-off",
            409,
            get_auth("/v1/markets/ETH%2FUSDC/trades"),
        ),
        // Issue 16's fifth finding: this node's trades were served to anyone.
        ("missing-token", 401, get("/v1/markets/ETH%2FUSDC/trades")),
        ("missing-token", 401, get("/v1/orders")),
        ("missing-token", 401, get("/v1/swaps")),
        ("missing-token", 401, get("/v1/balances")),
        ("missing-token", 401, get("/v1/counterparties")),
        ("settlement-off", 409, get_auth("/v1/counterparties")),
        ("settlement-off", 409, get_auth("/v1/balances")),
        ("invalid-query", 400, get_auth("/v1/orders?status=lost")),
        ("invalid-swap-id", 400, get_auth("/v1/swaps/nope")),
        // Swaps come a bounded page at a time.
        ("invalid-query", 400, get_auth("/v1/swaps?limit=0")),
        ("invalid-query", 400, get_auth("/v1/swaps?limit=1001")),
        ("invalid-query", 400, get_auth("/v1/swaps?changedAfter=-1")),
        (
            "invalid-query",
            400,
            get_auth("/v1/swaps?changedAfter=soon"),
        ),
        ("invalid-query", 400, get_auth("/v1/swaps?after=3")),
        ("invalid-query", 400, get_auth("/v1/orders?limit=1001")),
        (
            "invalid-query",
            400,
            get_auth("/v1/orders?status=open&after=soon"),
        ),
        // Cursors are database sequence numbers: at most i64::MAX.
        (
            "invalid-query",
            400,
            get_auth("/v1/orders?after=9223372036854775808"),
        ),
        (
            "invalid-query",
            400,
            get_auth("/v1/swaps?changedAfter=9223372036854775808"),
        ),
    ];
    for (slug, status, request) in cases {
        let answer = node.send(request).await;
        assert_eq!(answer.status, status, "{slug}: {}", answer.text);
        let problem = answer.problem();
        assert_eq!(problem.slug(), slug, "{}", answer.text);
        assert_eq!(problem.status, status);
        assert!(!problem.detail.is_empty() && !problem.title.is_empty());
    }
    // Nothing changed: empty book, no order inserted.
    assert!(node.book().await.is_empty());
    let stats = node.node().stats(eth_usdc_id()).await.unwrap();
    assert_eq!(
        (stats.visible, stats.suspended, stats.tombstones),
        (0, 0, 0)
    );

    // The good order is accepted once, then is a duplicate.
    assert_eq!(
        node.send(post("/v1/orders/signed", &body(&good)))
            .await
            .status,
        201
    );
    let again = node.send(post("/v1/orders/signed", &body(&good))).await;
    assert_eq!(again.problem().slug(), "duplicate-order", "{}", again.text);
    assert_eq!(
        node.book().await,
        vec![("bids".into(), "1000".into(), "0.01".into())]
    );
    // Cancelling needs the token too.
    let id = good.order.id();
    let answer = node
        .send(delete_anonymous(&format!("/v1/orders/{id}")))
        .await;
    assert_eq!(answer.status, 401, "{}", answer.text);
    assert_eq!(node.book().await.len(), 1);
}
