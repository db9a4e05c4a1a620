//! The whole life of an order through dexctl, between two dexd trading on two anvil chains:
//! place (the node signs), seen in the other node's book, cancel, list; cancel-all;
//! balances, swaps and trades; a place beyond the free balance refused.

use std::time::Duration;

use dex_devnet::{ChainsConfig, Devnet};
use serde_json::{Value, json};

use crate::online::{Node, dexctl, json_of, stderr};

const DEADLINE: Duration = Duration::from_secs(60);

/// Polls `check` until it returns `Some`, or panics naming `what` after the deadline.
fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    dex_test_utils::wait_for_blocking(what, DEADLINE, check).unwrap_or_else(|err| panic!("{err}"))
}

/// `[settlement]` for the devnet's chains: fast polling, balances read often.
fn settlement(devnet: &Devnet) -> String {
    let mut config = "[settlement]\nbalance_refresh = \"200ms\"\n".to_owned();
    for chain in [&devnet.chains().base, &devnet.chains().quote] {
        config.push_str(&format!(
            "[[settlement.chains]]\nchain_id = {}\nrpc_url = \"{}\"\nhtlc = \"{}\"\nstart_block = {}\npoll_interval = \"50ms\"\nscan_confirmations = 1\n",
            chain.chain_id, chain.rpc_url, chain.htlc, chain.htlc_block
        ));
    }
    config
}

/// Runs dexctl `args` and expects it to fail with exit code 1; returns stderr.
fn fails(node: &Node, args: &[&str]) -> String {
    let output = dexctl(&node.data(), args);
    assert_eq!(output.status.code(), Some(1), "dexctl {args:?} should fail");
    stderr(&output)
}

fn place(node: &Node, side: &str, price: &str, quantity: &str) -> Value {
    json_of(
        node,
        &[
            "order",
            "place",
            "--market",
            "ETH/USDC",
            "--side",
            side,
            "--price",
            price,
            "--quantity",
            quantity,
        ],
    )
}

fn asks(node: &Node) -> Value {
    json_of(node, &["book", "ETH/USDC"])["asks"].clone()
}

fn ready(node: &Node) {
    wait_for("the node trading: both chains and its balances", || {
        let info = json_of(node, &["info"]);
        let balances = json_of(node, &["balances"]);
        let read = balances["balances"]
            .as_array()?
            .iter()
            .all(|balance| balance["readAt"].is_u64());
        (info["chainsUp"] == json!([31337, 31338]) && read).then_some(())
    });
}

#[test]
fn dexctl_drives_the_order_lifecycle_across_two_trading_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let devnet = runtime
        .block_on(Devnet::start_chains(ChainsConfig::for_tests(dir.path())))
        .expect("the devnet chains start (scripts/install-tools.sh installs anvil)");
    let config = settlement(&devnet);
    let keys = &devnet.chains().traders;
    let a = Node::start_with(&config, &keys[0].private_key, &[]);
    wait_for("A's API", || {
        dexctl(&a.data(), &["health"])
            .status
            .success()
            .then_some(())
    });
    let a_addrs: Vec<String> =
        serde_json::from_value(json_of(&a, &["info"])["listenAddrs"].clone()).unwrap();
    let b = Node::start_with(&config, &keys[1].private_key, &a_addrs);
    wait_for("B's API", || {
        dexctl(&b.data(), &["health"])
            .status
            .success()
            .then_some(())
    });
    ready(&a);
    ready(&b);

    // Place on A (decimal price and quantity, the node signs): in B's book.
    let placed = place(&a, "sell", "2500.5", "0.25");
    assert_eq!(placed["status"], "open");
    assert_eq!(
        (placed["price"].clone(), placed["quantity"].clone()),
        (json!("2500.5"), json!("0.25"))
    );
    let id = placed["orderId"].as_str().unwrap().to_owned();
    wait_for("the order in B's book", || {
        (asks(&b) == json!([{"price": "2500.5", "quantity": "0.25", "orders": 1}])).then_some(())
    });
    let balances = json_of(&a, &["balances"]);
    let eth = balances["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|balance| balance["symbol"] == "ETH")
        .unwrap()
        .clone();
    assert_eq!(eth["reservedByOrders"], "0.25");
    let table = String::from_utf8(dexctl(&a.data(), &["balances"]).stdout).unwrap();
    assert!(
        table.contains("RESERVED") && table.contains("ETH") && table.contains("0.25"),
        "{table}"
    );

    // Cancel on A: gone from B's book; listed as cancelled.
    let cancelled = json_of(&a, &["order", "cancel", &id]);
    assert_eq!(cancelled["status"], "cancelled");
    wait_for("the order gone from B's book", || {
        (asks(&b) == json!([])).then_some(())
    });
    let listed = json_of(&a, &["order", "list"]);
    assert_eq!(listed["orders"].as_array().unwrap().len(), 1);
    assert_eq!(listed["orders"][0]["orderId"], id.as_str());
    assert_eq!(listed["orders"][0]["status"], "cancelled");
    assert_eq!(
        json_of(&a, &["order", "list", "--status", "open"]),
        json!({"orders": [], "cursor": 0})
    );

    // Cancel all: two more orders, both cancelled at once.
    place(&a, "sell", "2600", "0.1");
    let newest = place(&a, "buy", "2400", "0.1");
    // Listed a page at a time, the most recently placed first.
    let page = json_of(&a, &["order", "list", "--limit", "1"]);
    assert_eq!(page["orders"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["orders"][0]["orderId"], newest["orderId"], "{page}");
    assert_eq!(page["cursor"], 3, "the third order placed: {page}");
    wait_for("both in B's book", || {
        let book = json_of(&b, &["book", "ETH/USDC"]);
        (book["asks"].as_array()?.len() == 1 && book["bids"].as_array()?.len() == 1).then_some(())
    });
    let all = json_of(&a, &["order", "cancel", "--all", "--market", "ETH/USDC"]);
    assert_eq!(all["cancelled"].as_array().unwrap().len(), 2);
    wait_for("B's book empty", || {
        let book = json_of(&b, &["book", "ETH/USDC"]);
        (book["asks"] == json!([]) && book["bids"] == json!([])).then_some(())
    });

    // Nothing traded; a place beyond the free balance is refused with its problem.
    assert_eq!(json_of(&a, &["swaps"]), json!({"swaps": [], "cursor": 0}));
    // A page is 1 to 1000 swaps: a usage error before anything is asked.
    let refused = dexctl(&a.data(), &["swaps", "--limit", "1001"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("1001"), "{}", stderr(&refused));
    assert_eq!(
        json_of(&a, &["trades", "ETH/USDC"]),
        json!({"symbol": "ETH/USDC", "trades": []})
    );
    let refused = fails(
        &a,
        &[
            "order",
            "place",
            "--market",
            "ETH/USDC",
            "--side",
            "buy",
            "--price",
            "2500",
            "--quantity",
            "1000",
        ],
    );
    assert!(refused.contains("insufficient-balance"), "{refused}");
    assert_eq!(
        json_of(&a, &["order", "list", "--status", "open"]),
        json!({"orders": [], "cursor": 0})
    );

    drop((a, b));
    runtime.block_on(devnet.shutdown());
}
