//! Helpers of the core's unit tests: a settling node on the ETH/USDC market of the test
//! markets, orders, balance readings.

use std::sync::Arc;

use dex_network::PeerId;
use dex_primitives::{Address, Lots, Side, Ticks, U256, UnixMillis};
use dex_test_utils::{eth_usdc, eth_usdc_id, harness};

use super::{BalanceReading, NodeState};
use crate::{ChainConfig, NodeMetrics, PlaceOrder, SettlementConfig, TimeInForce};

pub(crate) const NOW: UnixMillis = 1_800_000_000_000;
pub(crate) const ETH: u128 = 1_000_000_000_000_000_000;
pub(crate) const USDC: u128 = 1_000_000;
pub(crate) const GWEI: u128 = 1_000_000_000;

pub(crate) fn chain(chain_id: u64) -> ChainConfig {
    ChainConfig {
        chain_id,
        rpc_url: "http://127.0.0.1:1".into(),
        htlc: Address::repeat_byte(0x11),
        start_block: 0,
        client: dex_chain::ClientConfig::local(),
    }
}

pub(crate) fn node() -> (NodeState, Address) {
    node_of(0)
}

/// A settling node holding trader key `index` of the harness.
pub(crate) fn node_of(index: usize) -> (NodeState, Address) {
    // Not the harness's config: that is another build of this crate's types.
    let mut config = crate::NodeConfig::new(
        dex_test_utils::markets().clone(),
        vec![harness::node_trader(index)],
    );
    let def = eth_usdc();
    config.settlement = Some(SettlementConfig::new(
        "unused.sqlite".into(),
        vec![chain(def.base_chain), chain(def.quote_chain)],
    ));
    let trader = config.traders[0].address();
    let mut state = NodeState::new(
        &config,
        PeerId::random(),
        1,
        Arc::new(NodeMetrics::default()),
    );
    state.set_chain_up(def.base_chain, true);
    state.set_chain_up(def.quote_chain, true);
    (state, trader)
}

pub(crate) fn order(side: Side, price: u64, lots: u64) -> PlaceOrder {
    PlaceOrder {
        market: eth_usdc_id(),
        side,
        price: Ticks(price),
        quantity: Lots(lots),
        min_fill: None,
        time_in_force: TimeInForce::Gtc,
        expires_in_ms: None,
        maker: None,
        client_order_id: None,
    }
}

pub(crate) fn reading(
    owner: Address,
    token: Address,
    amount: u128,
    at: UnixMillis,
) -> BalanceReading {
    BalanceReading {
        owner,
        token,
        amount: U256::from(amount),
        started_at: at,
    }
}

pub(crate) fn fund(state: &mut NodeState, trader: Address) {
    fund_with_gas(state, trader, ETH / 100);
}

/// Like [`fund`], with `quote_native` of the quote chain's native coin.
pub(crate) fn fund_with_gas(state: &mut NodeState, trader: Address, quote_native: u128) {
    let def = eth_usdc();
    read_balances(state, trader, quote_native);
    state.set_max_fee_per_gas(def.base_chain, GWEI);
    state.set_max_fee_per_gas(def.quote_chain, GWEI);
}

/// The readings of [`fund_with_gas`], without any fee read.
pub(crate) fn read_balances(state: &mut NodeState, trader: Address, quote_native: u128) {
    let def = eth_usdc();
    state.set_balances(
        def.base_chain,
        vec![reading(trader, def.base_token, ETH, NOW)],
    );
    state.set_balances(
        def.quote_chain,
        vec![
            reading(trader, def.quote_token, 1000 * USDC, NOW),
            reading(trader, Address::ZERO, quote_native, NOW),
        ],
    );
}
