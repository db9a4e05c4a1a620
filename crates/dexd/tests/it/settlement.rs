//! Trading between real dexd processes on two anvil chains: a trade that settles and moves
//! balances, a refused order that changes nothing, the own streams, and a node killed with
//! SIGKILL in the middle of a swap that picks everything up again from its data dir.

use dex_client::WsClient;
use dex_devnet::{ChainsConfig, Devnet, DevnetChains};
use dex_primitives::{Address, U256};
use serde_json::{Value, json};

use crate::harness::{Dexd, test_config, wait_for};

/// Two anvil chains with the contracts deployed and anvil keys 1–3 funded; stopped on drop.
///
/// A thread of their own starts them and stops them when this is dropped: anvil dies with
/// the thread that spawned it (its parent-death signal), and in a network lab that thread
/// is inside the chains' host.
pub(crate) struct Chains {
    info: DevnetChains,
    /// The lab host the chains run in; `None`: this machine's loopback.
    host: Option<dex_netlab::Host>,
    /// Dropping it tells the keeper thread to shut the devnet down.
    stop: Option<std::sync::mpsc::Sender<()>>,
    keeper: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Chains {
    pub(crate) fn start() -> Chains {
        Self::start_in(None)
    }

    /// The chains on lab host `host`, listening on its address.
    pub(crate) fn start_on(host: &dex_netlab::Host) -> Chains {
        Self::start_in(Some(host.clone()))
    }

    fn start_in(host: Option<dex_netlab::Host>) -> Chains {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut config = ChainsConfig::for_tests(dir.path());
        if let Some(host) = &host {
            config.host = host.ip;
        }
        let (ready, started) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let keep = move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let devnet = runtime
                .block_on(Devnet::start_chains(config))
                .expect("the devnet chains start (scripts/install-tools.sh installs anvil)");
            let _ = ready.send(devnet.chains().clone());
            // Until the Chains is dropped (or the test's thread is gone).
            let _ = stopped.recv();
            runtime.block_on(devnet.shutdown());
        };
        let lab_host = host.clone();
        let keeper = std::thread::spawn(move || match lab_host {
            None => keep(),
            Some(host) => host.within(keep).expect("the lab host is there"),
        });
        let info = match started.recv() {
            Ok(info) => info,
            // The keeper panicked before the chains were up: its panic is the story.
            Err(_) => std::panic::resume_unwind(keeper.join().expect_err("a panic")),
        };
        Chains {
            info,
            host,
            stop: Some(stop),
            keeper: Some(keeper),
            _dir: dir,
        }
    }

    pub(crate) fn info(&self) -> &DevnetChains {
        &self.info
    }

    /// The private key of funded trader `index` (0-based).
    pub(crate) fn trader_key(&self, index: usize) -> String {
        self.info().traders[index].private_key.clone()
    }

    pub(crate) fn trader(&self, index: usize) -> Address {
        self.info().traders[index].address
    }

    /// A dexd config trading on these chains: fast polling, balances read often.
    pub(crate) fn config(&self) -> String {
        test_config() + &self.settlement_config()
    }

    /// The `[settlement]` section of [`Chains::config`].
    pub(crate) fn settlement_config(&self) -> String {
        let mut config = String::from("[settlement]\nbalance_refresh = \"200ms\"\n");
        for chain in [&self.info().base, &self.info().quote] {
            config.push_str(&format!(
                r#"[[settlement.chains]]
chain_id = {}
rpc_url = "{}"
htlc = "{}"
start_block = {}
poll_interval = "50ms"
rpc_timeout = "10s"
tx_timeout = "120s"
scan_confirmations = 1
resend_interval = "20s"
"#,
                chain.chain_id, chain.rpc_url, chain.htlc, chain.htlc_block
            ));
        }
        config
    }

    /// A test-only RPC call to a chain.
    pub(crate) fn rpc(&self, chain_id: u64, method: &str, params: Value) -> Value {
        let chain = self.info().chain(chain_id).expect("a devnet chain");
        let address = chain
            .rpc_url
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address");
        let call = || dex_test_utils::anvil::rpc_call(address, method, params);
        match &self.host {
            None => call(),
            Some(host) => host.within(call).expect("the lab host is there"),
        }
        .expect("the chain answers")
    }
}

impl Drop for Chains {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
    }
}

/// Starts trader `index`'s node on `chains` and waits until it trades: both chains up and
/// every balance read.
pub(crate) fn trading_node(chains: &Chains, index: usize, bootstrap: &[String]) -> Dexd {
    let node = Dexd::start_trader(&chains.config(), &chains.trader_key(index), bootstrap);
    wait_trading(&node);
    node
}

pub(crate) fn wait_trading(node: &Dexd) {
    wait_for("the node connected to both chains", || {
        (node.info().chains_up == vec![31337, 31338]).then_some(())
    });
    wait_for("every balance read", || {
        let answer = node.get_auth("/v1/balances");
        let balances = answer.json["balances"].as_array()?.clone();
        (!balances.is_empty() && balances.iter().all(|b| b["readAt"].is_u64())).then_some(())
    });
}

pub(crate) fn connect(a: &Dexd, b: &Dexd) {
    let b_peer = b.info().peer_id;
    wait_for("the nodes to connect", || {
        a.get("/v1/peers").json["peers"]
            .as_array()?
            .iter()
            .any(|peer| peer["peerId"] == b_peer.as_str())
            .then_some(())
    });
}

/// One balance field of `symbol` as exact base units (decimal string × 10^decimals).
pub(crate) fn balance(node: &Dexd, symbol: &str, field: &str) -> U256 {
    let answer = node.get_auth("/v1/balances");
    assert_eq!(answer.status, 200, "{}", answer.text);
    let entry = answer.json["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .find(|b| b["symbol"] == symbol)
        .unwrap_or_else(|| panic!("no {symbol} balance: {}", answer.text))
        .clone();
    units(
        entry[field].as_str().expect("a decimal string"),
        entry["decimals"].as_u64().expect("decimals") as usize,
    )
}

/// `"1.5"`, 6 → 1500000.
pub(crate) fn units(text: &str, decimals: usize) -> U256 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    assert!(fraction.len() <= decimals, "{text} has too many decimals");
    let digits = format!("{whole}{fraction}{}", "0".repeat(decimals - fraction.len()));
    U256::from_str_radix(&digits, 10).expect("decimal digits")
}

pub(crate) fn place(node: &Dexd, side: &str, price: &str, quantity: &str) -> Value {
    let body = json!({"market": "ETH/USDC", "side": side, "price": price, "quantity": quantity});
    let answer = node.post("/v1/orders", &body.to_string());
    assert_eq!(answer.status, 201, "{}", answer.text);
    answer.json
}

pub(crate) fn swaps(node: &Dexd) -> Vec<Value> {
    let answer = node.get_auth("/v1/swaps");
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json["swaps"].as_array().expect("swaps").clone()
}

pub(crate) fn trades(node: &Dexd) -> Vec<Value> {
    let answer = node.get_auth("/v1/markets/ETH%2FUSDC/trades");
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json["trades"].as_array().expect("trades").clone()
}

/// Waits until `node` has `count` swaps, all finished.
pub(crate) fn wait_swaps_finished(node: &Dexd, count: usize) {
    wait_for("the swaps to finish", || {
        let swaps = swaps(node);
        (swaps.len() == count && swaps.iter().all(|swap| swap["phase"] == "finished")).then_some(())
    });
}

type Socket = WsClient;

/// A WebSocket with the node's token (on the upgrade request).
fn ws_connect(node: &Dexd) -> Socket {
    let mut socket = node.client.ws().expect("WebSocket connects");
    socket
        .set_read_timeout(std::time::Duration::from_secs(60))
        .expect("a read timeout");
    socket
}

fn ws_next(socket: &mut Socket) -> Value {
    socket
        .next_json()
        .expect("a message before the read timeout")
}

fn subscribe(socket: &mut Socket, channel: &str) -> Value {
    socket.subscribe(channel).unwrap();
    assert_eq!(
        ws_next(socket),
        json!({"type": "subscribed", "channel": channel})
    );
    ws_next(socket)
}

#[test]
fn a_trade_settles_between_two_dexd_and_moves_balances_and_streams() {
    let chains = Chains::start();
    let a = trading_node(&chains, 0, &[]);
    let b = trading_node(&chains, 1, &a.info().listen_addrs);
    connect(&a, &b);
    assert_eq!(b.info().traders, vec![chains.trader(1)]);

    // B's own streams: snapshots first (nothing yet).
    let mut socket = ws_connect(&b);
    let orders = subscribe(&mut socket, "orders");
    assert_eq!(
        orders,
        json!({"type": "ordersSnapshot", "channel": "orders", "orders": []})
    );
    let snapshot = subscribe(&mut socket, "swaps");
    assert_eq!(
        snapshot,
        json!({"type": "swapsSnapshot", "channel": "swaps", "swaps": []})
    );
    let snapshot = subscribe(&mut socket, "trades:ETH/USDC");
    assert_eq!(
        snapshot,
        json!({"type": "tradesSnapshot", "channel": "trades:ETH/USDC", "trades": []})
    );
    // Own streams need the token.
    let mut anonymous = b.client.without_token().ws().expect("WebSocket connects");
    anonymous.subscribe("swaps").unwrap();
    let refused = ws_next(&mut anonymous);
    assert_eq!(refused["type"], "error");
    assert_eq!(
        refused["problem"]["type"],
        "urn:p2pdex:problem:missing-token"
    );
    // This node's trades too (the book stays public).
    for (channel, refused) in [("trades:ETH/USDC", true), ("book:ETH/USDC", false)] {
        anonymous.subscribe(channel).unwrap();
        let answer = ws_next(&mut anonymous);
        assert_eq!(answer["type"] == "error", refused, "{channel}: {answer}");
    }
    assert_eq!(ws_next(&mut anonymous)["type"], "snapshot", "the book's");
    // A browser cannot set the header: it presents the token in an `auth` message. A wrong
    // one changes nothing; the right one opens the own channels.
    let mut auth = |token: &str| {
        anonymous
            .send_text(&json!({"op": "auth", "token": token}).to_string())
            .unwrap();
        ws_next(&mut anonymous)
    };
    let wrong = auth(&"0".repeat(b.token.len()));
    assert_eq!(
        wrong["problem"]["type"], "urn:p2pdex:problem:invalid-token",
        "{wrong}"
    );
    assert_eq!(auth(&b.token), json!({"type": "authenticated"}));
    assert_eq!(
        subscribe(&mut anonymous, "swaps"),
        json!({"type": "swapsSnapshot", "channel": "swaps", "swaps": []})
    );

    let usdc = 1_000_000u64;
    let b_usdc = balance(&b, "USDC", "onChain");
    assert_eq!(b_usdc, U256::from(1_000_000 * usdc));
    let b_eth = balance(&b, "ETH", "onChain");
    let a_usdc = balance(&a, "USDC", "onChain");
    let a_eth = balance(&a, "ETH", "onChain");

    // More than B holds: refused with its own problem, and nothing changes.
    let body = json!({"market": "ETH/USDC", "side": "buy", "price": "2500", "quantity": "401"});
    let refused = b.post("/v1/orders", &body.to_string());
    assert_eq!(refused.status, 422, "{}", refused.text);
    let problem = refused.problem();
    assert_eq!(problem.slug(), "insufficient-balance");
    assert!(
        problem.detail.contains("1002500000000") && problem.detail.contains("1000000000000"),
        "{}",
        problem.detail
    );
    assert_eq!(
        b.get_auth("/v1/orders").json,
        json!({"orders": [], "cursor": 0})
    );
    assert!(b.book().is_empty());
    assert_eq!(balance(&b, "USDC", "reservedByOrders"), U256::ZERO);
    assert_eq!(balance(&b, "USDC", "free"), b_usdc);

    // A sells 0.25 ETH at 2500.5; B sees it, then buys it: a swap on both chains.
    let ask = place(&a, "sell", "2500.5", "0.25");
    assert_eq!(ask["status"], "open");
    assert_eq!(
        balance(&a, "ETH", "reservedByOrders"),
        U256::from(250_000_000_000_000_000u64)
    );
    wait_for("A's order in B's book", || {
        (b.book() == vec![("asks".into(), "2500.5".into(), "0.25".into())]).then_some(())
    });
    // Before any swap, the list of swap changes is empty and its cursor at the start.
    let none = b.get_auth("/v1/swaps").json;
    assert_eq!(none, json!({"swaps": [], "cursor": 0}));
    let bid = place(&b, "buy", "2500.5", "0.25");
    let bid_id = bid["orderId"].as_str().unwrap().to_owned();
    wait_swaps_finished(&b, 1);
    wait_swaps_finished(&a, 1);
    let swap = &swaps(&b)[0];
    // Following the changes from that cursor: the swap, once, at its end; then nothing
    // more, with the cursor where it was.
    let changed = b.get_auth("/v1/swaps?changedAfter=0&limit=5").json;
    assert_eq!(changed["swaps"], json!([swap]), "{changed}");
    let cursor = changed["cursor"].as_u64().expect("a cursor");
    assert!(cursor >= 3, "created, locked, finished at least: {changed}");
    assert_eq!(b.get_auth("/v1/swaps?limit=1").json["cursor"], cursor);
    let idle = b.get_auth(&format!("/v1/swaps?changedAfter={cursor}")).json;
    assert_eq!(idle, json!({"swaps": [], "cursor": cursor}));
    assert_eq!(swap["ownOrderId"], bid_id.as_str());
    assert_eq!(swap["counterOrderId"], ask["orderId"]);
    assert_eq!(
        (swap["price"].clone(), swap["quantity"].clone()),
        (json!("2500.5"), json!("0.25"))
    );
    for node in [&a, &b] {
        let trades = trades(node);
        assert_eq!(trades.len(), 1, "{trades:?}");
        assert_eq!(trades[0]["price"], "2500.5");
        assert_eq!(trades[0]["quantity"], "0.25");
        assert_eq!(trades[0]["takerSide"], "buy");
    }
    let filled = b.get_auth(&format!("/v1/orders/{bid_id}")).json;
    assert_eq!(filled["order"]["status"], "filled");
    assert_eq!(filled["swaps"][0]["phase"], "finished");
    check_timeline(&chains, &a, &b, swap["swapId"].as_str().unwrap());

    // Balances moved: 625.125 USDC from B to A (exactly: gas is paid in ETH), 0.25 ETH from
    // A to B (less B's claim gas; A paid its lock's gas on top).
    let cost = U256::from(625_125_000u64);
    let lot = U256::from(250_000_000_000_000_000u64);
    wait_for("B's USDC to go down", || {
        (balance(&b, "USDC", "onChain") == b_usdc - cost).then_some(())
    });
    wait_for("A's USDC to go up", || {
        (balance(&a, "USDC", "onChain") == a_usdc + cost).then_some(())
    });
    wait_for("B's ETH to go up", || {
        let now = balance(&b, "ETH", "onChain");
        (now > b_eth + lot - U256::from(10u64.pow(16)) && now < b_eth + lot).then_some(())
    });
    wait_for("A's ETH to go down", || {
        (balance(&a, "ETH", "onChain") < a_eth - lot).then_some(())
    });
    for node in [&a, &b] {
        for symbol in ["ETH", "USDC"] {
            assert_eq!(balance(node, symbol, "lockedInSwaps"), U256::ZERO);
            assert_eq!(balance(node, symbol, "reservedByOrders"), U256::ZERO);
        }
    }

    // B's streams told it all: its order placed then filled, the swap's phases to the end,
    // the trade.
    let mut statuses = Vec::new();
    let mut phases = Vec::new();
    let mut trades_seen = Vec::new();
    while phases.last().map(String::as_str) != Some("finished") || trades_seen.is_empty() {
        let message = ws_next(&mut socket);
        match message["type"].as_str().unwrap() {
            "order" => {
                assert_eq!(message["order"]["orderId"], bid_id.as_str());
                statuses.push(message["order"]["status"].as_str().unwrap().to_owned());
            }
            "swap" => {
                let swap = &message["swap"];
                assert_eq!(swap["ownOrderId"], bid_id.as_str());
                // Each message carries the swap's whole state at that phase: the outcome
                // once finished, the clock of B's refund while its USDC is locked.
                match swap["phase"].as_str().unwrap() {
                    "finished" => {
                        assert_eq!(swap["outcome"], "completed", "{swap}");
                        assert!(swap.get("refund").is_none(), "{swap}");
                    }
                    "takerLocking" | "takerLocked" | "takerClaiming" => {
                        assert!(swap.get("outcome").is_none(), "{swap}");
                        assert_eq!(swap["refund"]["chainId"], 31338, "{swap}");
                    }
                    _ => {}
                }
                phases.push(swap["phase"].as_str().unwrap().to_owned());
            }
            "trade" => trades_seen.push(message["trade"].clone()),
            other => panic!("unexpected {other}: {message}"),
        }
    }
    assert_eq!(statuses, vec!["open", "filled"]);
    // The phases go forward only; `takerLocked` may be skipped (when the taker sees its own
    // lock after the maker's, it claims at once), the claim never is.
    let order = [
        "takerStart",
        "takerLocking",
        "takerLocked",
        "takerClaiming",
        "finished",
    ];
    let ranks: Vec<usize> = phases
        .iter()
        .map(|phase| order.iter().position(|known| known == phase).expect(phase))
        .collect();
    assert!(ranks.is_sorted(), "{phases:?}");
    assert!(phases.contains(&"takerClaiming".to_owned()), "{phases:?}");
    assert_eq!(trades_seen.len(), 1);
    assert_eq!(trades_seen[0]["price"], "2500.5");
    assert_eq!(trades_seen[0]["swapId"], swap["swapId"]);
}

/// Both sides of a completed swap show its four steps on chain, each with the transaction
/// the chain holds: B (taker, buys ETH) locked USDC on 31338 and claimed ETH on 31337, A
/// (maker) locked ETH on 31337 and claimed USDC on 31338, in that order of blocks.
fn check_timeline(chains: &Chains, a: &Dexd, b: &Dexd, swap_id: &str) {
    let (base, quote) = (chains.info().base.chain_id, chains.info().quote.chain_id);
    let expected = [
        ("takerLock", quote, chains.trader(1)),
        ("makerLock", base, chains.trader(0)),
        ("takerClaim", base, chains.trader(1)),
        ("makerClaim", quote, chains.trader(0)),
    ];
    let mut seen = Vec::new();
    for (node, role) in [(a, "maker"), (b, "taker")] {
        let detail = node.get_auth(&format!("/v1/swaps/{swap_id}")).json;
        assert_eq!(detail["swap"]["role"], role);
        assert_eq!(detail["swap"]["outcome"], "completed");
        assert!(
            detail["swap"].get("refund").is_none(),
            "a finished swap has nothing left to refund: {}",
            detail["swap"]
        );
        // The taker's claim logged the secret before the claim was mined; the API never
        // shows it.
        let mut secrets = Vec::new();
        collect_secrets(&detail["events"], &mut secrets);
        assert!(
            !secrets.is_empty(),
            "the history has claims: {}",
            detail["events"]
        );
        assert!(
            secrets.iter().all(|secret| secret == "<redacted>"),
            "{secrets:?}"
        );
        let steps = detail["steps"].as_array().expect("steps");
        assert_eq!(steps.len(), expected.len(), "{steps:?}");
        for (step, (name, chain_id, sender)) in steps.iter().zip(expected) {
            assert_eq!(step["step"], name, "{steps:?}");
            assert_eq!(step["state"], "mined", "{step}");
            assert_eq!(step["chainId"], chain_id, "{step}");
            let hash = step["txHash"].as_str().expect("a transaction hash");
            let receipt = chains.rpc(chain_id, "eth_getTransactionReceipt", json!([hash]));
            assert_eq!(receipt["status"], "0x1", "{name}: {receipt}");
            assert_eq!(
                receipt["from"]
                    .as_str()
                    .unwrap()
                    .parse::<Address>()
                    .unwrap(),
                sender,
                "{name} was sent by its party"
            );
            let block = u64::from_str_radix(
                receipt["blockNumber"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("0x"),
                16,
            )
            .unwrap();
            assert_eq!(step["block"], block, "{name}");
        }
        seen.push(steps.clone());
    }
    // Both nodes read the same four transactions from the chains.
    let hashes =
        |steps: &Vec<Value>| -> Vec<Value> { steps.iter().map(|s| s["txHash"].clone()).collect() };
    assert_eq!(hashes(&seen[0]), hashes(&seen[1]));
}

/// Every `secret` field anywhere in `value`.
fn collect_secrets(value: &Value, found: &mut Vec<Value>) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                if name == "secret" {
                    found.push(field.clone());
                } else {
                    collect_secrets(field, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_secrets(item, found)),
        _ => {}
    }
}

#[test]
fn a_dexd_killed_mid_swap_restarts_with_its_orders_trades_and_swap_and_completes_it() {
    let chains = Chains::start();
    let a = trading_node(&chains, 0, &[]);
    let b = trading_node(&chains, 1, &a.info().listen_addrs);
    connect(&a, &b);

    // A first trade, completed: B has a trade to remember.
    place(&a, "sell", "2500", "0.1");
    wait_for("A's first order in B's book", || {
        (!b.book().is_empty()).then_some(())
    });
    place(&b, "buy", "2500", "0.1");
    wait_swaps_finished(&b, 1);
    wait_swaps_finished(&a, 1);
    // An open order of B's that stays open.
    let resting = place(&b, "buy", "2000", "0.1");
    let resting_id = resting["orderId"].as_str().unwrap().to_owned();

    // The base chain stops mining: A's lock of ETH waits in its mempool, so B (the taker,
    // locked on the quote chain) waits for it.
    chains.rpc(31337, "evm_setAutomine", json!([false]));
    place(&a, "sell", "2600", "0.2");
    wait_for("A's second order in B's book", || {
        b.book().iter().any(|level| level.1 == "2600").then_some(())
    });
    let taking = place(&b, "buy", "2600", "0.2");
    let taking_id = taking["orderId"].as_str().unwrap().to_owned();
    let in_flight =
        |node: &Dexd, phase: &str| swaps(node).into_iter().find(|swap| swap["phase"] == phase);
    let swap = wait_for("B locked and waiting for A's lock", || {
        in_flight(&b, "takerLocked")
    });
    wait_for("A's lock sent, not mined", || in_flight(&a, "makerLocking"));
    let swap_id = swap["swapId"].as_str().unwrap().to_owned();
    assert_eq!(swap["ownOrderId"], taking_id.as_str());

    // SIGKILL in the middle of the swap, then the same data dir again.
    let b = b.restart_with(&a.info().listen_addrs);
    wait_trading(&b);
    let orders = b.get_auth("/v1/orders").json["orders"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(orders.len(), 3, "{orders:?}");
    let status_of = |id: &str| {
        orders
            .iter()
            .find(|order| order["orderId"] == id)
            .map(|order| order["status"].as_str().unwrap().to_owned())
    };
    assert_eq!(status_of(&resting_id).as_deref(), Some("open"));
    // The taker committed its quantity to the swap when the swap started.
    assert_eq!(status_of(&taking_id).as_deref(), Some("filled"));
    assert_eq!(trades(&b).len(), 1);
    // The counterparty record is rebuilt from the finished swap: A, as a node and as a
    // trader, completed one swap with B.
    let a_info = a.info();
    let records = b.get_auth("/v1/counterparties").json["counterparties"]
        .as_array()
        .unwrap()
        .clone();
    let a_trader = a_info.traders[0].to_string();
    for (kind, id) in [
        ("peer", a_info.peer_id.as_str()),
        ("trader", a_trader.as_str()),
    ] {
        let record = records
            .iter()
            .find(|record| record["kind"] == kind && record["id"] == id)
            .unwrap_or_else(|| panic!("no {kind} record of A in {records:?}"));
        assert_eq!(record["completed"], 1, "{record}");
        assert_eq!(record["failingInARow"], 0, "{record}");
        assert!(record.get("refusedUntil").is_none(), "{record}");
    }
    assert_eq!(records.len(), 2, "{records:?}");
    // GET /v1/peers shows A's record beside it, with the token only.
    let peer_a = |answer: Value| {
        answer["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|peer| peer["peerId"] == a_info.peer_id.as_str())
            .cloned()
    };
    let with_token = wait_for("A among B's peers", || peer_a(b.get_auth("/v1/peers").json));
    assert_eq!(with_token["record"]["completed"], 1, "{with_token}");
    assert_eq!(with_token["record"]["kind"], "peer", "{with_token}");
    let public = peer_a(b.get("/v1/peers").json).expect("A among B's peers");
    assert!(public.get("record").is_none(), "{public}");
    let after = swaps(&b);
    assert_eq!(after.len(), 2);
    let resumed = after
        .iter()
        .find(|swap| swap["swapId"] == swap_id.as_str())
        .expect("the swap in progress is there");
    assert_eq!(resumed["phase"], "takerLocked");
    // Its timeline survived the kill: B's lock is on chain, and the clock of its refund runs.
    let refund = &resumed["refund"];
    assert_eq!(refund["chainId"], 31338, "{resumed}");
    let left = refund["secondsLeft"]
        .as_u64()
        .expect("B read the chain's time");
    assert!(left > 0 && left <= 1200, "T1 is ahead: {refund}");
    let detail = b.get_auth(&format!("/v1/swaps/{swap_id}")).json;
    let steps: Vec<(&str, &str)> = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["step"].as_str().unwrap(),
                step["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(steps, [("takerLock", "mined")], "{detail}");
    // The resting order is back in the book and reserves its USDC again.
    assert!(b.book().iter().any(|level| level.1 == "2000"));
    assert_eq!(
        balance(&b, "USDC", "reservedByOrders"),
        U256::from(200_000_000u64)
    );
    assert_eq!(
        balance(&b, "USDC", "lockedInSwaps"),
        U256::from(520_000_000u64)
    );

    // Mining again: A's lock lands, B claims, A claims; both swaps end, two trades.
    chains.rpc(31337, "evm_setAutomine", json!([true]));
    chains.rpc(31337, "evm_mine", json!([]));
    wait_swaps_finished(&b, 2);
    wait_swaps_finished(&a, 2);
    assert_eq!(trades(&b).len(), 2);
    assert_eq!(trades(&a).len(), 2);
    assert_eq!(
        b.get_auth(&format!("/v1/orders/{resting_id}")).json["order"]["status"],
        "open"
    );
    wait_for("B's locked USDC released", || {
        (balance(&b, "USDC", "lockedInSwaps") == U256::ZERO).then_some(())
    });
    check_timeline(&chains, &a, &b, &swap_id);
}
