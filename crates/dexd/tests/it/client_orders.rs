//! What exchange clients (CCXT, Hummingbot, bots) need of a node: their own order ids,
//! idempotent across retries, lost answers, concurrent sends and restarts; orders read and
//! cancelled by those ids; the market's trading rules; fills that are completed swaps only.

use std::{
    io::{Read, Write},
    net::TcpStream,
};

use dex_primitives::U256;
use serde_json::{Value, json};

use crate::{
    harness::{Dexd, wait_for},
    settlement::{Chains, balance, connect, trading_node, wait_swaps_finished},
};

fn body(client_order_id: &str, price: &str, quantity: &str) -> Value {
    json!({
        "market": "ETH/USDC", "side": "sell", "price": price, "quantity": quantity,
        "clientOrderId": client_order_id,
    })
}

/// The own orders of `node` that carry `client_order_id`.
fn named(node: &Dexd, client_order_id: &str) -> Vec<Value> {
    let answer = node.get_auth("/v1/orders");
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|order| order["clientOrderId"] == client_order_id)
        .cloned()
        .collect()
}

/// Sends a placement and drops the connection as soon as the node starts answering, without
/// reading the answer: a client whose network failed while the answer was on its way. (The
/// node has handled the request by then; a connection dropped earlier places nothing, or
/// places it: either way the retry below finds one order.)
fn send_and_lose_the_answer(node: &Dexd, body: &Value) {
    let address = node.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).expect("the API answers");
    let body = body.to_string();
    write!(
        stream,
        "POST /v1/orders HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        node.token,
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    let mut first = [0u8; 1];
    stream.read_exact(&mut first).expect("the node answers");
    drop(stream);
}

#[test]
fn a_client_order_id_names_one_order_whatever_the_retries() {
    let chains = Chains::start();
    let node = trading_node(&chains, 0, &[]);

    // Placed once, answered with its id.
    let first = node.post("/v1/orders", &body("mm-1", "2600", "0.1").to_string());
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.json["clientOrderId"], "mm-1");
    let id = first.json["orderId"].as_str().unwrap().to_owned();
    // The same placement again: the same order, nothing new.
    let again = node.post("/v1/orders", &body("mm-1", "2600", "0.1").to_string());
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.json["orderId"], id.as_str());
    assert_eq!(named(&node, "mm-1").len(), 1);
    // Another placement under the same id: refused, naming the order it belongs to.
    let other = node.post("/v1/orders", &body("mm-1", "2601", "0.1").to_string());
    assert_eq!(other.status, 409, "{}", other.text);
    let problem = other.problem();
    assert_eq!(problem.slug(), "duplicate-client-order-id");
    assert!(problem.detail.contains(&id), "{}", problem.detail);
    // Ids of another form are refused before anything happens.
    for bad in ["", "a b", "ü", &"x".repeat(65)] {
        let answer = node.post("/v1/orders", &body(bad, "2600", "0.1").to_string());
        assert_eq!(answer.status, 422, "{bad:?}: {}", answer.text);
        assert_eq!(answer.problem().slug(), "invalid-client-order-id");
    }

    // Read and cancelled by it.
    let shown = node.get_auth("/v1/orders/by-client-id/mm-1");
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(shown.json["order"]["orderId"], id.as_str());
    assert_eq!(shown.json["order"]["status"], "open");
    let cancelled = node.delete("/v1/orders/by-client-id/mm-1");
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(
        cancelled.json,
        json!({"orderId": id.as_str(), "status": "cancelled"})
    );
    // The typed client reads the same.
    let typed = node.client.order_by_client_id("mm-1").expect("the order");
    assert_eq!(typed.order.order_id.to_string(), id);
    assert_eq!(typed.order.client_order_id.as_deref(), Some("mm-1"));
    let unknown = node.get_auth("/v1/orders/by-client-id/mm-404");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.problem().slug(), "unknown-client-order-id");
    // A replay after the cancel answers the order as it is now, and places nothing.
    let replay = node.post("/v1/orders", &body("mm-1", "2600", "0.1").to_string());
    assert_eq!(replay.status, 201, "{}", replay.text);
    assert_eq!(
        (
            replay.json["orderId"].as_str(),
            replay.json["status"].as_str()
        ),
        (Some(id.as_str()), Some("cancelled"))
    );
    assert_eq!(named(&node, "mm-1").len(), 1);

    // The answer is lost: the connection drops while it comes back. The client does not
    // know whether the order exists; it sends the placement again and gets the order, not
    // a second one.
    send_and_lose_the_answer(&node, &body("mm-2", "2610", "0.05"));
    let retry = node.post("/v1/orders", &body("mm-2", "2610", "0.05").to_string());
    assert_eq!(retry.status, 201, "{}", retry.text);
    let placed = named(&node, "mm-2");
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(retry.json["orderId"], placed[0]["orderId"]);
    let placed = placed[0].clone();
    assert_eq!(
        balance(&node, "ETH", "reservedByOrders"),
        U256::from(50_000_000_000_000_000u64),
        "one order reserves, once"
    );

    // Sent at the same moment by many connections (a client retrying on a timeout while
    // the first is in flight): one order, every answer names it.
    let ids: Vec<String> = std::thread::scope(|scope| {
        let sends: Vec<_> = (0..12)
            .map(|_| {
                scope.spawn(|| {
                    let answer = node.post("/v1/orders", &body("mm-3", "2620", "0.01").to_string());
                    assert_eq!(answer.status, 201, "{}", answer.text);
                    answer.json["orderId"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        sends.into_iter().map(|send| send.join().unwrap()).collect()
    });
    assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "{ids:?}");
    assert_eq!(named(&node, "mm-3").len(), 1);

    // After a restart (SIGKILL), the ids still name their orders.
    let node = node.restart_with(&[]);
    crate::settlement::wait_trading(&node);
    let after = node.post("/v1/orders", &body("mm-2", "2610", "0.05").to_string());
    assert_eq!(after.status, 201, "{}", after.text);
    assert_eq!(after.json["orderId"], placed["orderId"]);
    let conflict = node.post("/v1/orders", &body("mm-3", "2620", "0.02").to_string());
    assert_eq!(conflict.status, 409, "{}", conflict.text);
    assert_eq!(named(&node, "mm-2").len(), 1);
}

/// The market's trading rules in one place, and fills: a trade whose swap completed, on
/// both sides, with the client's id of the order it filled; nothing before completion.
#[test]
fn fills_are_completed_swaps_with_the_orders_they_filled() {
    let chains = Chains::start();
    let a = trading_node(&chains, 0, &[]);
    let b = trading_node(&chains, 1, &a.info().listen_addrs);
    connect(&a, &b);

    let markets = a.get("/v1/markets").json;
    let market = &markets["markets"][0];
    assert_eq!(
        (
            &market["minQuantity"],
            &market["minPrice"],
            &market["maxExpiresIn"]
        ),
        (&json!("0.001"), &json!("0.01"), &json!(7 * 24 * 3600)),
        "{market}"
    );
    assert!(
        market.get("minNotional").is_none(),
        "no such rule: {market}"
    );

    assert_eq!(a.get_auth("/v1/fills").json, json!({"fills": []}));
    let ask = a.post("/v1/orders", &body("ask-1", "2500.5", "0.25").to_string());
    assert_eq!(ask.status, 201, "{}", ask.text);
    wait_for("A's ask in B's book", || {
        (!b.book().is_empty()).then_some(())
    });
    let bid = json!({
        "market": "ETH/USDC", "side": "buy", "price": "2500.5", "quantity": "0.25",
        "timeInForce": "IOC", "clientOrderId": "take-1",
    });
    let taken = b.post("/v1/orders", &bid.to_string());
    assert_eq!(taken.status, 201, "{}", taken.text);
    wait_swaps_finished(&b, 1);
    wait_swaps_finished(&a, 1);
    let swap_id = crate::settlement::swaps(&b)[0]["swapId"].clone();
    for (node, order, client, side, role) in [
        (&a, &ask.json, "ask-1", "sell", "maker"),
        (&b, &taken.json, "take-1", "buy", "taker"),
    ] {
        let fills = wait_for("the fill", || {
            let fills = node.get_auth("/v1/fills?market=ETH%2FUSDC").json["fills"].clone();
            (fills.as_array()?.len() == 1).then_some(fills)
        });
        assert_eq!(
            fills[0],
            json!({
                "fillId": swap_id, "orderId": order["orderId"], "clientOrderId": client,
                "market": order["market"], "symbol": "ETH/USDC", "side": side, "role": role,
                "price": "2500.5", "quantity": "0.25", "cost": "625.125", "at": fills[0]["at"],
            })
        );
        assert!(fills[0]["at"].as_u64().unwrap() >= order["createdAt"].as_u64().unwrap());
    }
    let typed = b.client.fills(Some("ETH/USDC"), Some(10)).expect("fills");
    assert_eq!(typed.fills.len(), 1);
    assert_eq!(typed.fills[0].client_order_id.as_deref(), Some("take-1"));
    assert_eq!(
        (typed.fills[0].role.as_str(), typed.fills[0].cost.as_str()),
        ("taker", "625.125")
    );
    let bad = a.get_auth("/v1/fills?limit=0");
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert_eq!(bad.problem().slug(), "invalid-query");
}
