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
/// there); waits until it trades.
fn trader(chains: &Chains, host: &Host, index: usize, relay: &str, timing: &str) -> Dexd {
    let config = node_config(&lab_p2p(""), LAB_LOG) + &chains.settlement_config() + timing;
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
    let maker = trader(&chains, &maker_host, 0, &relay_addr, "");
    let taker = trader(&chains, &taker_host, 1, &relay_addr, "");
    let before = Before::read(&maker, &taker);

    trade(&maker, &taker);
    wait_swaps_finished(&taker, 1);
    wait_swaps_finished(&maker, 1);
    before.traded(&maker, &taker);

    let maker_peer = maker.info().peer_id;
    let counter = format!("dex_network_hole_punch_{outcome}_total");
    wait_for("the connection kind and a hole punch outcome", || {
        let entry = peer_entry(&taker, maker_peer.as_str());
        let punches = taker.metric(&counter, "") + maker.metric(&counter, "");
        (entry["connection"] == connection && punches >= 1.0).then_some(())
    });
}

#[test]
fn traders_behind_port_preserving_nats_trade_and_hole_punch_a_direct_connection() {
    trade_between_homes(Nat::PortPreserving, "direct", "succeeded");
}

#[test]
fn traders_behind_random_port_nats_trade_over_the_relay() {
    trade_between_homes(Nat::RandomPort, "relayed", "failed");
}
