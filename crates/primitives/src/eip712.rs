//! The EIP-712 types and domain of p2pdex (DESIGN §3), declared with `alloy-sol-types`.
//!
//! The Rust-side types ([`crate::Order`], [`crate::Update`], ...) convert into these structs
//! to be hashed; the type strings below are the protocol and must never change without a
//! new domain version.

use std::{any::TypeId, cell::RefCell, sync::LazyLock};

use alloy_primitives::{B256, Keccak256, keccak256};
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
/// separator and type hash instead of hashing them again for every message: on every
/// order's path, that is 3 of 8 Keccak permutations saved.
pub fn signing_digest<T: SolStruct + 'static>(message: &T) -> B256 {
    let mut buf = [0u8; 66];
    buf[0] = 0x19;
    buf[1] = 0x01;
    buf[2..34].copy_from_slice(DOMAIN_SEPARATOR.as_slice());
    buf[34..66].copy_from_slice(hash_struct(message).as_slice());
    keccak256(buf)
}

/// `hashStruct(message) = keccak256(typeHash ‖ encodeData(message))`, equal to
/// `message.eip712_hash_struct()` (tested) with the type hash taken from [`type_hash`].
pub fn hash_struct<T: SolStruct + 'static>(message: &T) -> B256 {
    let mut hasher = Keccak256::new();
    hasher.update(type_hash::<T>());
    hasher.update(message.eip712_encode_data());
    hasher.finalize()
}

/// `typeHash = keccak256(encodeType(T))`, computed once per type and thread. alloy hashes
/// the type string (two Keccak permutations for an order) on every call.
pub fn type_hash<T: SolStruct + 'static>() -> B256 {
    thread_local! {
        // A handful of protocol types: a short list beats a map.
        static TYPE_HASHES: RefCell<Vec<(TypeId, B256)>> = const { RefCell::new(Vec::new()) };
    }
    let id = TypeId::of::<T>();
    TYPE_HASHES.with(|cache| {
        if let Some((_, hash)) = cache.borrow().iter().find(|(known, _)| *known == id) {
            return *hash;
        }
        let hash = keccak256(T::eip712_encode_type().as_bytes());
        cache.borrow_mut().push((id, hash));
        hash
    })
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
        let update = sol::Update {
            orderId: B256::repeat_byte(9),
            remaining: 3,
            timestamp: 1_764_140_000_500,
        };
        let alive = sol::Alive {
            maker: Address::repeat_byte(0x22),
            peer: "12D3KooWOther".into(),
            market: B256::repeat_byte(7),
            openOrders: 2,
            ordersRoot: B256::repeat_byte(5),
            timestamp: 1_764_140_001_000,
        };
        // Twice, interleaved: the second round reads every type hash from the cache.
        for _ in 0..2 {
            assert_eq!(hash_struct(&order), order.eip712_hash_struct());
            assert_eq!(hash_struct(&update), update.eip712_hash_struct());
            assert_eq!(hash_struct(&alive), alive.eip712_hash_struct());
            assert_eq!(hash_struct(&market), market.eip712_hash_struct());
            assert_eq!(signing_digest(&update), update.eip712_signing_hash(&DOMAIN));
            assert_eq!(signing_digest(&alive), alive.eip712_signing_hash(&DOMAIN));
            assert_eq!(type_hash::<sol::Order>(), order.eip712_type_hash());
        }
    }
}
