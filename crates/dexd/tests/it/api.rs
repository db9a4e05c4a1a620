//! The REST API, the WebSocket stream and the metrics of running nodes.

use std::net::TcpStream;

use dex_client::{ClientError, WsClient};
use dex_primitives::{Side, SignedOrder};
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

/// The problem types, auth, limits and the OpenAPI document are tested in process
/// (crates/api/tests/it); this checks what dexd itself wires: the markets file it loads,
/// no chains for a relay node, and the document served.
#[test]
fn a_relay_node_serves_its_markets_file_and_the_openapi_document() {
    let node = Dexd::start(&[]);
    assert_eq!(node.info().chains_up, Vec::<u64>::new());
    assert!(!node.info().settlement);
    let markets = node.get("/v1/markets").json;
    assert_eq!(markets["markets"][0]["symbol"], "ETH/USDC");
    assert_eq!(markets["markets"][0]["lotSize"], "0.001");
    assert_eq!(markets["markets"][0]["tickSize"], "0.01");
    assert_eq!(markets["markets"][0]["quotePerTickLot"], "10");
    let document = node.get("/v1/openapi.json");
    assert_eq!(document.status, 200);
    assert!(document.json["paths"]["/v1/orders"].is_object());
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
    assert_eq!(
        node.get_auth("/v1/orders").json,
        json!({"orders": [], "cursor": 0})
    );
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
