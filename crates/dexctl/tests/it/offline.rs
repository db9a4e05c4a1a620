//! The offline subcommands: keys, market ids, signing and verifying.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use dex_primitives::{Order, Signature, SignedOrder, TraderKey};
use dex_test_utils::{ANVIL_KEYS, OrderBuilder, anvil_key};
use serde_json::{Value, json};

fn dexctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dexctl"))
        .args(args)
        .output()
        .expect("dexctl runs")
}

/// Runs dexctl, expects success, returns its JSON output.
fn ok(args: &[&str]) -> Value {
    let output = dexctl(args);
    assert!(
        output.status.success(),
        "dexctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

/// Runs dexctl, expects exit code 1, returns stderr.
fn fails(args: &[&str]) -> String {
    let output = dexctl(args);
    assert_eq!(output.status.code(), Some(1), "dexctl {args:?} should fail");
    assert!(output.stdout.is_empty());
    String::from_utf8(output.stderr).unwrap()
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, contents).unwrap();
    path
}

fn key_file(dir: &Path, index: usize) -> PathBuf {
    let path = write(dir, &format!("key{index}"), ANVIL_KEYS[index]);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn key_new_writes_a_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trader.key");
    let printed = ok(&["key", "new", "--out", s(&out)]);
    let key: TraderKey = fs::read_to_string(&out).unwrap().parse().unwrap();
    assert_eq!(printed, json!({ "address": key.address().to_string() }));
    let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Never overwrites.
    let err = fails(&["key", "new", "--out", s(&out)]);
    assert!(err.contains("must not exist yet"), "{err}");
    assert_eq!(
        fs::read_to_string(&out).unwrap().trim(),
        key.to_hex_secret().as_str()
    );
}

#[test]
fn market_id_matches_the_library_and_the_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let vectors: Value = serde_json::from_str(include_str!(
        "../../../primitives/tests/vectors/eip712.json"
    ))
    .unwrap();
    for vector in vectors["markets"].as_array().unwrap() {
        let file = write(dir.path(), "market.json", &vector["market"].to_string());
        assert_eq!(
            ok(&["market", "id", s(&file)]),
            json!({ "marketId": vector["marketId"] })
        );
    }
    // uint256 values may be JSON numbers, and a full definition is accepted.
    let def = dex_test_utils::eth_usdc();
    let mut full = serde_json::to_value(&def).unwrap();
    full["basePerLot"] = json!(1_000_000_000_000_000u64);
    let file = write(dir.path(), "full.json", &full.to_string());
    assert_eq!(
        ok(&["market", "id", s(&file)]),
        json!({ "marketId": def.params().id() })
    );
    let file = write(dir.path(), "bad.json", r#"{"baseChain": 1}"#);
    let err = fails(&["market", "id", s(&file)]);
    assert!(
        err.contains("is not a valid market") && err.contains("missing field"),
        "{err}"
    );
}

#[test]
fn order_sign_then_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = anvil_key(0);
    let order = OrderBuilder::new().maker(&key).order();
    let order_file = write(
        dir.path(),
        "order.json",
        &serde_json::to_string(&order).unwrap(),
    );
    let signed = ok(&[
        "order",
        "sign",
        s(&order_file),
        "--key-file",
        s(&key_file(dir.path(), 0)),
    ]);

    let expected = order.clone().sign(&key);
    assert_eq!(signed["order"], serde_json::to_value(&order).unwrap());
    assert_eq!(signed["signature"], json!(expected.signature.to_hex()));
    assert_eq!(signed["orderId"], json!(order.id()));

    // The output of `sign` is the input of `verify`.
    let signed_file = write(dir.path(), "signed.json", &signed.to_string());
    assert_eq!(
        ok(&["order", "verify", s(&signed_file)]),
        json!({ "signer": key.address().to_string(), "orderId": order.id() })
    );
}

#[test]
fn order_sign_refuses_a_key_that_is_not_the_maker() {
    let dir = tempfile::tempdir().unwrap();
    let order = OrderBuilder::new().maker(&anvil_key(0)).order();
    let order_file = write(
        dir.path(),
        "order.json",
        &serde_json::to_string(&order).unwrap(),
    );
    let other = key_file(dir.path(), 1);
    let err = fails(&["order", "sign", s(&order_file), "--key-file", s(&other)]);
    assert!(err.contains("is not the order's maker"), "{err}");
    // With --any-signer it signs, and the result fails verification: signer ≠ maker.
    let signed = ok(&[
        "order",
        "sign",
        s(&order_file),
        "--key-file",
        s(&other),
        "--any-signer",
    ]);
    let signed_file = write(dir.path(), "signed.json", &signed.to_string());
    let err = fails(&["order", "verify", s(&signed_file)]);
    assert!(
        err.contains("signed by") && err.contains("but the message names"),
        "{err}"
    );
}

fn verify_error(signed: &SignedOrder, signature: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let json = json!({ "order": signed.order, "signature": signature });
    let file = write(dir.path(), "signed.json", &json.to_string());
    fails(&["order", "verify", s(&file)])
}

#[test]
fn order_verify_rejects_bad_signatures() {
    let signed = OrderBuilder::new().sign();
    let hex = signed.signature.to_hex();

    let err = verify_error(&signed, "0xnothex");
    assert!(err.contains("not valid 0x-prefixed hex"), "{err}");
    let err = verify_error(&signed, &hex[..hex.len() - 2]);
    assert!(err.contains("must be 65 bytes, got 64"), "{err}");

    let mut bad_v = signed.signature;
    bad_v.0[64] = 1;
    let err = verify_error(&signed, &bad_v.to_hex());
    assert!(err.contains("v = 1, expected 27 or 28"), "{err}");

    // Malleated: s → n − s, v flipped. Same key recovers, but high-s is refused.
    let n = dex_primitives::U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    let mut high = signed.signature;
    let s_value = dex_primitives::U256::from_be_slice(&high.0[32..64]);
    high.0[32..64].copy_from_slice(&(n - s_value).to_be_bytes::<32>());
    high.0[64] ^= 27 ^ 28;
    let err = verify_error(&signed, &high.to_hex());
    assert!(err.contains("s value is high"), "{err}");

    // Tampered order: the signature no longer belongs to the maker.
    let mut tampered: SignedOrder = signed.clone();
    tampered.order.price.0 += 1;
    let err = verify_error(&tampered, &hex);
    assert!(err.contains("signed by"), "{err}");
}

#[test]
fn order_verify_checks_a_given_order_id() {
    let dir = tempfile::tempdir().unwrap();
    let signed = OrderBuilder::new().sign();
    let other: Order = OrderBuilder::new().nonce(9).order();
    let json =
        json!({ "order": signed.order, "signature": signed.signature, "orderId": other.id() });
    let file = write(dir.path(), "signed.json", &json.to_string());
    let err = fails(&["order", "verify", s(&file)]);
    assert!(err.contains("does not match the order"), "{err}");
}

#[test]
fn update_sign_matches_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let key = anvil_key(0);
    let order = OrderBuilder::new().maker(&key).order();
    let update = dex_primitives::Update {
        order_id: order.id(),
        remaining: dex_primitives::Lots(0),
        timestamp: 1_764_140_002_000,
    };
    let file = write(
        dir.path(),
        "update.json",
        &serde_json::to_string(&update).unwrap(),
    );
    let signed = ok(&[
        "update",
        "sign",
        s(&file),
        "--key-file",
        s(&key_file(dir.path(), 0)),
    ]);
    assert_eq!(signed["update"], serde_json::to_value(update).unwrap());
    assert_eq!(signed["digest"], json!(update.digest()));
    let signature: Signature = serde_json::from_value(signed["signature"].clone()).unwrap();
    assert_eq!(
        dex_primitives::recover_signer(&update.digest(), &signature).unwrap(),
        key.address()
    );
}

#[test]
fn bad_key_files_and_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let order_file = write(
        dir.path(),
        "order.json",
        &serde_json::to_string(&OrderBuilder::new().order()).unwrap(),
    );
    let missing = dir.path().join("missing.key");
    let err = fails(&["order", "sign", s(&order_file), "--key-file", s(&missing)]);
    assert!(err.contains("reading key file"), "{err}");
    let garbage = write(dir.path(), "garbage.key", "0x1234");
    let err = fails(&["order", "sign", s(&order_file), "--key-file", s(&garbage)]);
    assert!(
        err.contains("does not hold a private key") && err.contains("32 bytes"),
        "{err}"
    );
    let not_json = write(dir.path(), "order2.json", "{");
    let err = fails(&[
        "order",
        "sign",
        s(&not_json),
        "--key-file",
        s(&key_file(dir.path(), 0)),
    ]);
    assert!(err.contains("is not a valid order"), "{err}");
}
