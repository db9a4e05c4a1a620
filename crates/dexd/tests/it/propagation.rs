//! Orders spread across real hosts: debug dexd processes, each on a network-lab host of its
//! own (real TCP between namespaces), all dialling the first one as bootstrap with
//! Kademlia on, like the `net` benchmark's 30 release nodes (`scripts/bench.sh net`).
//! Skipped where labs cannot run, except under CI (`CI=true`), where that fails.

use dex_netlab::{Host, Lab};
use dex_primitives::Side;
use rust_decimal::Decimal;

use crate::{
    harness::{Dexd, node_config, wait_for},
    lab::{address, lab_p2p},
};

const NODES: usize = 8;
const ORDERS: u64 = 50;

/// A book level as [`Dexd::book`] lists it, for `lots` at `ticks` (lot 0.001 ETH, tick
/// 0.01 USDC).
fn level(side: Side, ticks: u64, lots: u64) -> (String, String, String) {
    let side = match side {
        Side::Buy => "bids",
        Side::Sell => "asks",
    };
    (
        side.to_owned(),
        Decimal::new(ticks as i64, 2).normalize().to_string(),
        Decimal::new(lots as i64, 3).normalize().to_string(),
    )
}

/// Eight nodes; 50 orders posted round-robin on all of them, each with a price and a
/// quantity of its own, so that the book's levels name every order. Every book ends up
/// holding exactly those 50.
#[test]
fn orders_posted_across_lab_hosts_reach_every_book() {
    let Some(mut lab) = Lab::for_test() else {
        return;
    };
    let hosts: Vec<Host> = (0..NODES)
        .map(|index| lab.public_host(&format!("n{index}")).unwrap())
        .collect();
    let config = node_config(&lab_p2p(""), "info");
    let first = Dexd::start_on(&hosts[0], &config, None, &[], &[]);
    let bootstrap = [address(&hosts[0], &first)];
    let mut nodes = vec![first];
    for host in &hosts[1..] {
        nodes.push(Dexd::start_on(host, &config, None, &bootstrap, &[]));
    }
    let peers = |node: &Dexd| {
        node.within(|client| client.peers())
            .map_or(0, |peers| peers.peers.len())
    };
    wait_for("the bootstrap node connected to every other", || {
        (peers(&nodes[0]) == NODES - 1).then_some(())
    });
    for node in &nodes[1..] {
        wait_for("each node connected", || (peers(node) >= 1).then_some(()));
    }

    let mut expected = Vec::new();
    for k in 0..ORDERS {
        let node = &nodes[k as usize % NODES];
        let side = if k % 2 == 0 { Side::Buy } else { Side::Sell };
        // Bids at 1,000 + k USDC, asks at 2,000 + k: nothing crosses.
        let ticks = if side == Side::Buy { 100_000 } else { 200_000 } + 100 * k;
        let lots = k + 1;
        let order = node.order(side, ticks, lots, k);
        let body = serde_json::to_string(&order).unwrap();
        let accepted = node
            .within(|client| client.post_signed_order_json(&body))
            .unwrap_or_else(|err| panic!("posting order {k}: {err}"));
        assert_eq!(accepted.order_id, order.order.id());
        expected.push(level(side, ticks, lots));
    }
    // As the book lists them: bids best (highest) first, then asks best (lowest) first.
    expected.sort_by_key(|(side, price, _)| {
        let price: Decimal = price.parse().unwrap();
        if side == "bids" {
            (0, -price)
        } else {
            (1, price)
        }
    });
    for (node, host) in nodes.iter().zip(&hosts) {
        wait_for(
            &format!("exactly the {ORDERS} orders in the book of {host}"),
            || (node.book() == expected).then_some(()),
        );
    }
}
