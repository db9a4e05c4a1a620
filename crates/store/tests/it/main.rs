//! dex-store tests against real SQLite files.

mod orders;
mod schema;
mod swaps;

use dex_primitives::{Address, B256, U256};
use dex_swap::{LockTerms, Role, Secret, Swap, SwapParams, Timing};

/// A taker or maker swap with fixed parameters; `n` varies the id.
pub(crate) fn swap(role: Role, n: u8) -> Swap {
    let secret = Secret(B256::repeat_byte(n));
    let terms = |sender: u8, recipient: u8| LockTerms {
        chain_id: 31337,
        contract: Address::repeat_byte(0xc0),
        token: Address::ZERO,
        amount: U256::from(1000u64),
        sender: Address::repeat_byte(sender),
        recipient: Address::repeat_byte(recipient),
    };
    let params = SwapParams {
        swap_id: B256::repeat_byte(0x40 + n),
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
        Role::Taker => Swap::taker(params, secret).unwrap(),
        Role::Maker => Swap::maker(params).unwrap(),
    }
}
