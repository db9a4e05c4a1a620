//! Swap fixtures of the store's tests, shared with its read benchmark
//! (`benches/reads.rs` includes this file).

use dex_primitives::{Address, B256, Lots, OrderId, Side, Ticks, U256};
use dex_store::{LogEntry, Store, SwapRecord};
use dex_swap::{Event, Leg, LockTerms, Role, Secret, Swap, SwapParams, Timing};
use dex_test_utils::eth_usdc_id;

/// A taker or maker swap with fixed parameters besides its secret and id.
pub(crate) fn swap_with(role: Role, secret: B256, swap_id: B256) -> Swap {
    let secret = Secret(secret);
    let terms = |sender: u8, recipient: u8| LockTerms {
        chain_id: 31337,
        contract: Address::repeat_byte(0xc0),
        token: Address::ZERO,
        amount: U256::from(1000u64),
        sender: Address::repeat_byte(sender),
        recipient: Address::repeat_byte(recipient),
    };
    let params = SwapParams {
        swap_id,
        role,
        hashlock: secret.hashlock(),
        taker_leg: terms(1, 2),
        maker_leg: terms(2, 1),
        reserved_until: 1_000_000,
        lock_margin_ms: 1000,
        timing: Timing::DEVNET,
        scan_lag_secs: Default::default(),
    };
    match role {
        Role::Taker => Swap::taker(params, secret).expect("valid parameters"),
        Role::Maker => Swap::maker(params).expect("valid parameters"),
    }
}

/// The record of `swap`: an ETH/USDC buy of fixed orders, price and quantity.
pub(crate) fn record(swap: &Swap) -> SwapRecord {
    SwapRecord {
        swap_id: swap.params().swap_id,
        market: eth_usdc_id(),
        own_order_id: OrderId(B256::repeat_byte(0xa1)),
        counter_order_id: OrderId(B256::repeat_byte(0xb2)),
        side: Side::Buy,
        price: Ticks(250_050),
        quantity: Lots(250),
        peer: "12D3KooWPeer".into(),
        created_at: 10,
    }
}

/// A step of `swap` (its taker chain's time moves on), logged at `at`.
pub(crate) fn step(store: &mut Store, swap: &mut Swap, at: u64) {
    let event = Event::ChainTime {
        leg: Leg::Taker,
        time: 1_800_000_000 + at,
    };
    let actions = swap.handle(event.clone(), at);
    store
        .append_swap_event(
            &swap.params().swap_id,
            &LogEntry::Event {
                event: Box::new(event),
                tx: None,
            },
            &actions,
            swap,
            at,
        )
        .expect("logged");
}
