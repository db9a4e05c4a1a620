//! Cost of verifying one order against the bare signature recovery it is built on.
//!
//! `order_verify_full` is what a node pays for every new order it ingests: EIP-712 signing
//! hash, public-key recovery (libsecp256k1), address derivation and every validation rule.
//! `secp256k1_recover` and `k256_recover` recover a public key from a fixed digest and
//! signature with each library, nothing else. The goal is full ≤ 1.15 × secp256k1_recover.
//!
//! The `sign` group is what a node pays for every order it signs (`POST /v1/orders`):
//! `trader_key_sign` is [`TraderKey::sign_digest`](dex_primitives::TraderKey::sign_digest),
//! `k256_sign` and `secp256k1_sign` the bare RFC 6979 recoverable signature of each library.
//!
//! Run: `cargo bench -p dex-primitives --bench verify`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use dex_primitives::ValidationRules;
use dex_test_utils::{OrderBuilder, T0, markets};

fn verify(c: &mut Criterion) {
    let signed = OrderBuilder::new().sign();
    let markets = markets();
    let rules = ValidationRules::default();
    let digest = signed.order.id().0;
    let signature = signed.signature;

    let mut group = c.benchmark_group("verify");
    group.bench_function("order_verify_full", |b| {
        b.iter_batched(
            || signed.clone(),
            |signed| {
                signed
                    .verify(black_box(markets), black_box(&rules), black_box(T0))
                    .expect("valid order")
            },
            BatchSize::SmallInput,
        )
    });

    group.bench_function("secp256k1_recover", |b| {
        let recovery_id = secp256k1::ecdsa::RecoveryId::try_from(i32::from(signature.v() - 27))
            .expect("v is 27 or 28");
        let verifier = secp256k1::Secp256k1::verification_only();
        b.iter(|| {
            let recoverable = secp256k1::ecdsa::RecoverableSignature::from_compact(
                black_box(&signature.0[..64]),
                recovery_id,
            )
            .expect("valid signature");
            verifier
                .recover_ecdsa(
                    secp256k1::Message::from_digest(black_box(digest.0)),
                    &recoverable,
                )
                .expect("recoverable")
        })
    });

    group.bench_function("k256_recover", |b| {
        let k256_signature =
            k256::ecdsa::Signature::from_slice(&signature.0[..64]).expect("valid signature");
        let recovery_id =
            k256::ecdsa::RecoveryId::from_byte(signature.v() - 27).expect("v is 27 or 28");
        b.iter(|| {
            k256::ecdsa::VerifyingKey::recover_from_prehash(
                black_box(digest.as_slice()),
                black_box(&k256_signature),
                recovery_id,
            )
            .expect("recoverable")
        })
    });
    group.finish();
}

fn sign(c: &mut Criterion) {
    let key = dex_test_utils::anvil_key(0);
    let digest = OrderBuilder::new().sign().order.id().0;
    let secret = key.to_hex_secret();
    let secret_bytes: [u8; 32] = alloy_primitives::hex::decode(secret.as_str())
        .expect("hex")
        .try_into()
        .expect("32 bytes");

    let mut group = c.benchmark_group("sign");
    group.bench_function("trader_key_sign", |b| {
        b.iter(|| key.sign_digest(black_box(&digest)))
    });
    group.bench_function("k256_sign", |b| {
        let signing_key = k256::ecdsa::SigningKey::from_slice(&secret_bytes).expect("valid key");
        b.iter(|| {
            signing_key
                .sign_prehash_recoverable(black_box(digest.as_slice()))
                .expect("signed")
        })
    });
    group.bench_function("secp256k1_sign", |b| {
        let secret_key = secp256k1::SecretKey::from_byte_array(secret_bytes).expect("valid key");
        let signer = secp256k1::Secp256k1::signing_only();
        b.iter(|| {
            signer.sign_ecdsa_recoverable(
                secp256k1::Message::from_digest(black_box(digest.0)),
                &secret_key,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, verify, sign);
criterion_main!(benches);
