//! The EIP-712 types and domain of p2pdex (DESIGN §3), declared with `alloy-sol-types`.
//!
//! The Rust-side types ([`crate::Order`], [`crate::Update`], ...) convert into these structs
//! to be hashed; the type strings below are the protocol and must never change without a
//! new domain version.

use std::sync::LazyLock;

use alloy_primitives::{B256, keccak256};
use alloy_sol_types::{Eip712Domain, SolStruct, eip712_domain};

/// Solidity declarations of the signed structs. Field names are the EIP-712 names.
#[allow(missing_docs, missing_debug_implementations, unreachable_pub)]
pub mod sol {
    alloy_sol_types::sol! {
        /// A market, identified by its hashStruct.
        #[derive(Debug, PartialEq, Eq)]
        struct Market {
            uint64 baseChain;
            address baseToken;
            uint64 quoteChain;
            address quoteToken;
            uint256 basePerLot;
            uint256 quotePerTickLot;
        }

        /// A limit order.
        #[derive(Debug, PartialEq, Eq)]
        struct Order {
            bytes32 market;
            uint8 side;
            uint64 price;
            uint64 quantity;
            uint64 minFill;
            address maker;
            string peer;
            uint64 nonce;
            uint64 createdAt;
            uint64 expiresAt;
        }

        /// A decrease of an order's remaining quantity (0 cancels).
        #[derive(Debug, PartialEq, Eq)]
        struct Update {
            bytes32 orderId;
            uint64 remaining;
            uint64 timestamp;
        }

        /// A maker's heartbeat for one market.
        #[derive(Debug, PartialEq, Eq)]
        struct Alive {
            address maker;
            string peer;
            bytes32 market;
            uint32 openOrders;
            bytes32 ordersRoot;
            uint64 timestamp;
        }
    }
}

/// Domain name of every p2pdex signature.
pub const DOMAIN_NAME: &str = "p2pdex";
/// Domain version of every p2pdex signature.
pub const DOMAIN_VERSION: &str = "1";

/// `EIP712Domain(string name,string version)` with name "p2pdex", version "1".
pub const DOMAIN: Eip712Domain = eip712_domain! {
    name: "p2pdex",
    version: "1",
};

static DOMAIN_SEPARATOR: LazyLock<B256> = LazyLock::new(|| DOMAIN.separator());

/// The domain separator, computed once.
pub fn domain_separator() -> B256 {
    *DOMAIN_SEPARATOR
}

/// The EIP-712 signing digest `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message))`.
///
/// Equal to `message.eip712_signing_hash(&DOMAIN)` (tested), but reuses the cached domain
/// separator instead of re-hashing the domain for every message.
pub fn signing_digest<T: SolStruct>(message: &T) -> B256 {
    let mut buf = [0u8; 66];
    buf[0] = 0x19;
    buf[1] = 0x01;
    buf[2..34].copy_from_slice(DOMAIN_SEPARATOR.as_slice());
    buf[34..66].copy_from_slice(message.eip712_hash_struct().as_slice());
    keccak256(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, U256};

    #[test]
    fn type_strings_are_the_protocol() {
        assert_eq!(
            sol::Market::eip712_encode_type(),
            "Market(uint64 baseChain,address baseToken,uint64 quoteChain,address quoteToken,uint256 basePerLot,uint256 quotePerTickLot)"
        );
        assert_eq!(
            sol::Order::eip712_encode_type(),
            "Order(bytes32 market,uint8 side,uint64 price,uint64 quantity,uint64 minFill,address maker,string peer,uint64 nonce,uint64 createdAt,uint64 expiresAt)"
        );
        assert_eq!(
            sol::Update::eip712_encode_type(),
            "Update(bytes32 orderId,uint64 remaining,uint64 timestamp)"
        );
        assert_eq!(
            sol::Alive::eip712_encode_type(),
            "Alive(address maker,string peer,bytes32 market,uint32 openOrders,bytes32 ordersRoot,uint64 timestamp)"
        );
        assert_eq!(
            DOMAIN.encode_type(),
            "EIP712Domain(string name,string version)"
        );
    }

    #[test]
    fn cached_digest_equals_alloy_signing_hash() {
        let order = sol::Order {
            market: B256::repeat_byte(7),
            side: 1,
            price: 250_050,
            quantity: 1000,
            minFill: 1,
            maker: Address::repeat_byte(0x11),
            peer: "12D3KooWExample".into(),
            nonce: 7,
            createdAt: 1_764_140_000_000,
            expiresAt: 1_764_226_400_000,
        };
        assert_eq!(signing_digest(&order), order.eip712_signing_hash(&DOMAIN));
        let market = sol::Market {
            baseChain: 1,
            baseToken: Address::ZERO,
            quoteChain: 2,
            quoteToken: Address::repeat_byte(1),
            basePerLot: U256::from(10u64.pow(15)),
            quotePerTickLot: U256::from(10),
        };
        assert_eq!(signing_digest(&market), market.eip712_signing_hash(&DOMAIN));
    }
}
