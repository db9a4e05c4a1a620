//! Our EIP-712 hashing and signing against vectors made by an independent implementation
//! (eth-account; see tests/vectors/README.md), byte for byte.

use dex_primitives::{
    Alive, B256, MarketParams, Order, Signature, TraderKey, Update, eip712, recover_signer,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vectors {
    domain_separator: B256,
    markets: Vec<MarketVector>,
    orders: Vec<Signed<Order>>,
    updates: Vec<Signed<Update>>,
    alives: Vec<Signed<Alive>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MarketVector {
    market: MarketParams,
    market_id: B256,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Signed<T> {
    note: String,
    #[serde(alias = "order", alias = "update", alias = "alive")]
    message: T,
    hash_struct: B256,
    digest: B256,
    private_key: String,
    signer: dex_primitives::Address,
    signature: Signature,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("../vectors/eip712.json")).expect("vectors parse")
}

/// Checks one signed vector: hashStruct, digest, deterministic signature, recovery.
fn check<T>(vector: &Signed<T>, hash_struct: B256, digest: B256) {
    let note = &vector.note;
    assert_eq!(hash_struct, vector.hash_struct, "hashStruct of {note}");
    assert_eq!(digest, vector.digest, "digest of {note}");
    let key: TraderKey = vector.private_key.parse().unwrap();
    assert_eq!(key.address(), vector.signer, "signer of {note}");
    assert_eq!(
        key.sign_digest(&digest),
        vector.signature,
        "signature of {note}"
    );
    assert_eq!(
        recover_signer(&digest, &vector.signature).unwrap(),
        vector.signer,
        "recovery of {note}"
    );
}

#[test]
fn domain_separator_matches() {
    assert_eq!(eip712::domain_separator(), vectors().domain_separator);
}

#[test]
fn market_ids_match() {
    let vectors = vectors();
    assert_eq!(vectors.markets.len(), 3);
    for vector in vectors.markets {
        assert_eq!(vector.market.id().0, vector.market_id);
    }
}

#[test]
fn orders_match() {
    use alloy_sol_types::SolStruct;
    let vectors = vectors();
    assert_eq!(vectors.orders.len(), 4);
    for vector in &vectors.orders {
        let order = &vector.message;
        check(vector, order.to_sol().eip712_hash_struct(), order.id().0);
        let signed = order.clone().sign(&vector.private_key.parse().unwrap());
        assert_eq!(signed.verify_signature().unwrap().0, vector.digest);
    }
}

#[test]
fn updates_match() {
    use alloy_sol_types::SolStruct;
    let vectors = vectors();
    assert_eq!(vectors.updates.len(), 3);
    for vector in &vectors.updates {
        let update = &vector.message;
        check(
            vector,
            update.to_sol().eip712_hash_struct(),
            update.digest(),
        );
    }
    // Updates name the orders of the order vectors.
    assert_eq!(
        vectors.updates[0].message.order_id.0,
        vectors.orders[0].digest
    );
}

#[test]
fn alives_match() {
    use alloy_sol_types::SolStruct;
    let vectors = vectors();
    assert_eq!(vectors.alives.len(), 2);
    for vector in &vectors.alives {
        let alive = &vector.message;
        check(vector, alive.to_sol().eip712_hash_struct(), alive.digest());
    }
}

#[test]
fn order_json_is_the_eip712_message() {
    let vectors = vectors();
    let order = &vectors.orders[0].message;
    let json = serde_json::to_value(order).unwrap();
    let expected = serde_json::json!({
        "market": "0x1a9643be6aec8d976d00474e6d56a5d8e2df5a488af5835c5f5f12757b3d6cd0",
        "side": 1,
        "price": 250050,
        "quantity": 1000,
        "minFill": 1,
        // Addresses are written in lowercase hex (parsing accepts any case).
        "maker": "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
        "peer": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
        "nonce": 7,
        "createdAt": 1764140000000u64,
        "expiresAt": 1764226400000u64,
    });
    assert_eq!(json, expected);
}
