//! dex-store tests against real SQLite files.

mod fixtures;
mod orders;
mod schema;
mod swaps;

use dex_primitives::B256;
use dex_swap::{Role, Swap};

/// A taker or maker swap with fixed parameters; `n` varies the secret and the id.
pub(crate) fn swap(role: Role, n: u8) -> Swap {
    fixtures::swap_with(role, B256::repeat_byte(n), B256::repeat_byte(0x40 + n))
}
