//! Trading across a network lab (crates/netlab): real dexd processes, each on a host of its
//! own with real sockets between hosts; traders at home behind NAT routers, a public relay
//! and bootstrap node, the two anvil chains on a public host. Skipped where labs cannot
//! run, except under CI (`CI=true`), where that fails.

use dex_netlab::{Host, Lab, Nat};
use dex_primitives::U256;
use serde_json::Value;

use crate::{
    harness::{Dexd, node_config, wait_for},
    settlement::{Chains, balance, place, wait_swaps_finished, wait_trading},
};

/// What lab nodes log: the network's reachability work in detail.
const LAB_LOG: &str =
    "info,dex_network=debug,libp2p_relay=debug,libp2p_dcutr=debug,libp2p_swarm=debug";

/// Every lab node listens on this port, TCP and QUIC (each host is a machine of its own).
const P2P_PORT: u16 = 7781;

/// The `[p2p]` settings of a lab node: both transports on every address, Kademlia to find
/// peers from the bootstrap node, no mDNS; then `extra`.
pub(crate) fn lab_p2p(extra: &str) -> String {
    format!(
        "listen = [\"/ip4/0.0.0.0/tcp/{P2P_PORT}\", \"/ip4/0.0.0.0/udp/{P2P_PORT}/quic-v1\"]\n\
         mdns = false\nkad = true\n{extra}"
    )
}

/// The address others dial `node` on `host` at (its public address, TCP).
pub(crate) fn address(host: &Host, node: &Dexd) -> String {
    format!(
        "/ip4/{}/tcp/{P2P_PORT}/p2p/{}",
        host.public_ip,
        node.info().peer_id
    )
}

/// A public node serving relay circuits (and bootstrap): no chains, it only relays.
fn relay_node(host: &Host) -> Dexd {
    Dexd::start_on(
        host,
        &node_config(&lab_p2p(""), LAB_LOG),
        None,
        &[],
        &["--relay-server"],
    )
}

/// Trader `index` on `host`, on `chains`, given only `relay` as its bootstrap node (it
/// finds by itself that it is not reachable and that the node is a relay, and takes a slot
/// there); waits until it trades. `settlement` goes into its `[settlement]` table, `timing`
/// is its `[settlement.timing]` table (or nothing).
fn trader(
    chains: &Chains,
    host: &Host,
    index: usize,
    relay: &str,
    settlement: &str,
    timing: &str,
) -> Dexd {
    let config = node_config(&lab_p2p(""), LAB_LOG)
        + &chains.settlement_config().replacen(
            "[settlement]\n",
            &format!("[settlement]\n{settlement}"),
            1,
        )
        + timing;
    let node = Dexd::start_on(
        host,
        &config,
        Some(&chains.trader_key(index)),
        &[relay.to_owned()],
        &[],
    );
    wait_trading(&node);
    node
}

/// `peer`'s entry in `node`'s GET /v1/peers, once there.
fn peer_entry(node: &Dexd, peer: &str) -> Value {
    wait_for("the peer among the node's peers", || {
        node.get("/v1/peers").json["peers"]
            .as_array()?
            .iter()
            .find(|entry| entry["peerId"] == peer)
            .cloned()
    })
}

/// Balances of a trade of 0.25 ETH at 2500.5 (625.125 USDC), read before it.
struct Before {
    maker_eth: U256,
    maker_usdc: U256,
    taker_eth: U256,
    taker_usdc: U256,
}

const COST: u64 = 625_125_000;
const LOT: u64 = 250_000_000_000_000_000;

impl Before {
    fn read(maker: &Dexd, taker: &Dexd) -> Before {
        Before {
            maker_eth: balance(maker, "ETH", "onChain"),
            maker_usdc: balance(maker, "USDC", "onChain"),
            taker_eth: balance(taker, "ETH", "onChain"),
            taker_usdc: balance(taker, "USDC", "onChain"),
        }
    }

    /// Waits until the trade shows on both chains: USDC exactly, ETH less gas.
    fn traded(&self, maker: &Dexd, taker: &Dexd) {
        let (cost, lot) = (U256::from(COST), U256::from(LOT));
        wait_for("the taker's USDC down by the cost", || {
            (balance(taker, "USDC", "onChain") == self.taker_usdc - cost).then_some(())
        });
        wait_for("the maker's USDC up by the cost", || {
            (balance(maker, "USDC", "onChain") == self.maker_usdc + cost).then_some(())
        });
        wait_for(
            "the taker's ETH up by the lot, less its claim's gas",
            || {
                let now = balance(taker, "ETH", "onChain");
                (now > self.taker_eth + lot - U256::from(10u64.pow(16))
                    && now < self.taker_eth + lot)
                    .then_some(())
            },
        );
        wait_for("the maker's ETH down by the lot and its gas", || {
            (balance(maker, "ETH", "onChain") < self.maker_eth - lot).then_some(())
        });
        for node in [maker, taker] {
            for symbol in ["ETH", "USDC"] {
                assert_eq!(balance(node, symbol, "lockedInSwaps"), U256::ZERO);
                assert_eq!(balance(node, symbol, "reservedByOrders"), U256::ZERO);
            }
        }
    }
}

/// The maker sells 0.25 ETH at 2500.5; once the taker's book shows it, the taker buys it.
fn trade(maker: &Dexd, taker: &Dexd) {
    place(maker, "sell", "2500.5", "0.25");
    wait_for("the maker's order in the taker's book", || {
        (taker.book() == vec![("asks".into(), "2500.5".into(), "0.25".into())]).then_some(())
    });
    place(taker, "buy", "2500.5", "0.25");
}

/// Two traders at home, each behind its own router, and a public relay/bootstrap node;
/// anvil on a public host of its own. The order crosses the relay, the take reaches the
/// maker, the swap settles with exact balances; the traders' connection ends up
/// `connection` in the taker's GET /v1/peers, and the hole punches counted on both sides
/// (`dex_network_hole_punch_<outcome>_total`) include at least one `outcome`.
fn trade_between_homes(nat: Nat, connection: &str, outcome: &str) {
    let Some(mut lab) = Lab::for_test() else {
        return;
    };
    let chain_host = lab.public_host("chain").unwrap();
    let relay_host = lab.public_host("relay").unwrap();
    let maker_host = lab.home_host("maker", nat).unwrap();
    let taker_host = lab.home_host("taker", nat).unwrap();
    let chains = Chains::start_on(&chain_host);
    let relay = relay_node(&relay_host);
    let relay_addr = address(&relay_host, &relay);
    let maker = trader(&chains, &maker_host, 0, &relay_addr, "", "");
    let taker = trader(&chains, &taker_host, 1, &relay_addr, "", "");
    let before = Before::read(&maker, &taker);
    // The maker is reachable through the relay's public address only (a relay listening
    // on 0.0.0.0 does not offer its 127.0.0.1, which would lead others to themselves).
    let circuits = wait_for("the maker's circuit address", || {
        let circuits: Vec<String> = maker
            .info()
            .listen_addrs
            .into_iter()
            .filter(|address| address.contains("/p2p-circuit"))
            .collect();
        (!circuits.is_empty()).then_some(circuits)
    });
    let relay_ip = format!("/ip4/{}/", relay_host.public_ip);
    assert!(
        circuits
            .iter()
            .all(|address| address.starts_with(&relay_ip)),
        "{circuits:?}"
    );

    trade(&maker, &taker);
    wait_swaps_finished(&taker, 1);
    wait_swaps_finished(&maker, 1);
    before.traded(&maker, &taker);

    let maker_peer = maker.info().peer_id;
    let counter = format!("dex_network_hole_punch_{outcome}_total");
    let entry = wait_for("the connection kind and a hole punch outcome", || {
        let entry = peer_entry(&taker, maker_peer.as_str());
        let punches = taker.metric(&counter, "") + maker.metric(&counter, "");
        (entry["connection"] == connection && punches >= 1.0).then_some(entry)
    });
    // Its addresses say the same: the maker's router, or a circuit through the relay.
    let addresses: Vec<&str> = entry["addresses"]
        .as_array()
        .expect("addresses")
        .iter()
        .map(|address| address.as_str().expect("a multiaddr"))
        .collect();
    let through_router = format!("/ip4/{}/", maker_host.public_ip);
    let circuit = format!("{relay_addr}/p2p-circuit");
    match connection {
        "direct" => assert!(
            addresses.iter().any(|a| a.starts_with(&through_router)),
            "{addresses:?}"
        ),
        _ => assert!(
            !addresses.is_empty() && addresses.iter().all(|a| a.starts_with(&circuit)),
            "{addresses:?}"
        ),
    }
}

#[test]
fn traders_behind_port_preserving_nats_trade_and_hole_punch_a_direct_connection() {
    trade_between_homes(Nat::PortPreserving, "direct", "succeeded");
}

#[test]
fn traders_behind_random_port_nats_trade_over_the_relay() {
    trade_between_homes(Nat::RandomPort, "relayed", "failed");
}

/// Both traders wait for 3 blocks on the taker's lock before the maker locks: with
/// instant mining no block follows it until the test mines one, so the maker, having seen
/// the lock, waits for the test to cut it off before it can act.
const PARTITION_TIMING: &str = "[settlement.timing]\ntaker_leg_confirmations = 3\n";
/// The lock margin and reservation that three confirmations need (dexd refuses less).
const PARTITION_SETTLEMENT: &str = "lock_margin = \"40s\"\nreservation = \"80s\"\n";

/// The quote chain (where the taker locks USDC).
const QUOTE: u64 = 31338;
/// The base chain (where the maker would lock ETH).
const BASE: u64 = 31337;

/// A chain's native balance of `address`, read on the chain.
fn native_balance(chains: &Chains, chain_id: u64, address: dex_primitives::Address) -> U256 {
    let hex = chains.rpc(
        chain_id,
        "eth_getBalance",
        serde_json::json!([address.to_string(), "latest"]),
    );
    U256::from_str_radix(
        hex.as_str()
            .expect("a hex quantity")
            .trim_start_matches("0x"),
        16,
    )
    .expect("a hex quantity")
}

/// A swap's phase on `node`, once it has exactly one swap.
fn phase(node: &Dexd) -> Option<String> {
    let swaps = crate::settlement::swaps(node);
    (swaps.len() == 1).then(|| swaps[0]["phase"].as_str().unwrap_or_default().to_owned())
}

/// Two traders at home, the relay and the chains public. The taker locks; the maker has
/// seen the lock but waits for its confirmations when its host is cut off the internet
/// (peers and chains alike). Three blocks follow the lock while the maker is away.
/// `heal`: it comes back (long before the maker's timelock T2 would matter) and the swap
/// completes with exact balances; otherwise it never does, the taker's timelock T1
/// passes, the taker refunds itself, and each side holds exactly what it held before.
fn partition_mid_swap(heal: bool) {
    let Some(mut lab) = Lab::for_test() else {
        return;
    };
    let chain_host = lab.public_host("chain").unwrap();
    let relay_host = lab.public_host("relay").unwrap();
    let maker_host = lab.home_host("maker", Nat::PortPreserving).unwrap();
    let taker_host = lab.home_host("taker", Nat::PortPreserving).unwrap();
    let chains = Chains::start_on(&chain_host);
    let relay = relay_node(&relay_host);
    let relay_addr = address(&relay_host, &relay);
    let maker = trader(
        &chains,
        &maker_host,
        0,
        &relay_addr,
        PARTITION_SETTLEMENT,
        PARTITION_TIMING,
    );
    let taker = trader(
        &chains,
        &taker_host,
        1,
        &relay_addr,
        PARTITION_SETTLEMENT,
        PARTITION_TIMING,
    );
    let before = Before::read(&maker, &taker);
    let maker_eth_on_chain = native_balance(&chains, BASE, chains.trader(0));

    trade(&maker, &taker);
    wait_for("the taker's lock mined and seen", || {
        (phase(&taker)? == "takerLocked").then_some(())
    });
    wait_for("the maker waiting for the lock's confirmations", || {
        (phase(&maker)? == "makerWaiting").then_some(())
    });
    assert_eq!(
        balance(&taker, "USDC", "lockedInSwaps"),
        U256::from(COST),
        "the taker's USDC is locked"
    );
    lab.cut(&maker_host).unwrap();
    for _ in 0..3 {
        chains.rpc(QUOTE, "evm_mine", serde_json::json!([]));
    }

    if heal {
        lab.heal(&maker_host).unwrap();
        wait_swaps_finished(&taker, 1);
        wait_swaps_finished(&maker, 1);
        before.traded(&maker, &taker);
        return;
    }

    // Past T1 (the taker's lock time + 1,200 s) on the quote chain; the maker never comes
    // back.
    chains.rpc(QUOTE, "evm_increaseTime", serde_json::json!([1_300]));
    chains.rpc(QUOTE, "evm_mine", serde_json::json!([]));
    wait_swaps_finished(&taker, 1);
    wait_for("the taker's USDC back, exactly", || {
        (balance(&taker, "USDC", "onChain") == before.taker_usdc).then_some(())
    });
    wait_for("nothing of the taker's locked any more", || {
        (balance(&taker, "USDC", "lockedInSwaps") == U256::ZERO).then_some(())
    });
    // The quantity the maker failed is posted again as a new buy (`repost_failed`), which
    // reserves exactly its cost.
    let open = taker.get_auth("/v1/orders?status=open").json;
    let open = open["orders"].as_array().expect("orders");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (&open[0]["side"], &open[0]["price"], &open[0]["remaining"]),
        (
            &serde_json::json!("buy"),
            &serde_json::json!("2500.5"),
            &serde_json::json!("0.25")
        ),
        "{open:?}"
    );
    assert_eq!(
        balance(&taker, "USDC", "reservedByOrders"),
        U256::from(COST)
    );
    assert_eq!(
        native_balance(&chains, BASE, chains.trader(0)),
        maker_eth_on_chain,
        "the maker never locked: its ETH is untouched on chain"
    );
    let swap = &crate::settlement::swaps(&taker)[0];
    let detail = taker.get_auth(&format!(
        "/v1/swaps/{}",
        swap["swapId"].as_str().expect("a swap id")
    ));
    let last = detail.json["events"]
        .as_array()
        .and_then(|events| events.last())
        .expect("the swap's history")
        .clone();
    assert_eq!(
        last["actions"][0],
        serde_json::json!({"action": "finished", "outcome": "refunded"}),
        "{}",
        detail.text
    );
}

#[test]
fn a_maker_cut_off_after_the_taker_locked_completes_the_swap_once_healed() {
    partition_mid_swap(true);
}

#[test]
fn a_maker_cut_off_for_good_leaves_both_traders_their_own_funds() {
    partition_mid_swap(false);
}
