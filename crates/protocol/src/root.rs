//! The `ordersRoot` of an `Alive` heartbeat.

use alloy_primitives::{B256, keccak256};
use dex_primitives::{Lots, OrderId};

/// Digest of a maker's open orders in one market: keccak256 over the entries sorted by order
/// id, each the 32-byte id followed by the remaining lots as 8 big-endian bytes. Every node
/// computes it the same way from the same set, whatever order it learnt them in, so a peer
/// whose root differs from the maker's knows it is missing something.
pub fn orders_root(orders: impl IntoIterator<Item = (OrderId, Lots)>) -> B256 {
    let mut entries: Vec<(OrderId, Lots)> = orders.into_iter().collect();
    entries.sort_unstable();
    let mut bytes = Vec::with_capacity(entries.len() * 40);
    for (id, remaining) in entries {
        bytes.extend_from_slice(id.0.as_slice());
        bytes.extend_from_slice(&remaining.0.to_be_bytes());
    }
    keccak256(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_ignores_order_and_sees_remaining() {
        let a = (OrderId(B256::repeat_byte(1)), Lots(5));
        let b = (OrderId(B256::repeat_byte(2)), Lots(7));
        assert_eq!(orders_root([a, b]), orders_root([b, a]));
        assert_ne!(orders_root([a, b]), orders_root([a, (b.0, Lots(6))]));
        assert_ne!(orders_root([a]), orders_root([a, b]));
    }
}
