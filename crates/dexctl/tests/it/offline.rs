//! The offline subcommands: keys, market ids, signing and verifying.

use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use dex_primitives::{KdfStrength, Order, Signature, SignedOrder, TraderKey};
use dex_test_utils::{ANVIL_KEYS, OrderBuilder, anvil_key};
use serde_json::{Value, json};

/// Runs dexctl without a terminal (stdin is not one: passwords are never prompted for),
/// with `DEX_KEY_PASSWORD` set to `password` if given.
fn dexctl_with(args: &[&str], password: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dexctl"));
    command.args(args).env_remove("DEX_KEY_PASSWORD");
    if let Some(password) = password {
        command.env("DEX_KEY_PASSWORD", password);
    }
    command.output().expect("dexctl runs")
}

fn ok_with(args: &[&str], password: Option<&str>) -> Value {
    let output = dexctl_with(args, password);
    assert!(
        output.status.success(),
        "dexctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

/// Runs dexctl, expects success, returns its JSON output.
fn ok(args: &[&str]) -> Value {
    ok_with(args, None)
}

fn fails_with(args: &[&str], password: Option<&str>) -> String {
    let output = dexctl_with(args, password);
    assert_eq!(output.status.code(), Some(1), "dexctl {args:?} should fail");
    assert!(output.stdout.is_empty());
    String::from_utf8(output.stderr).unwrap()
}

/// Runs dexctl, expects exit code 1, returns stderr.
fn fails(args: &[&str]) -> String {
    fails_with(args, None)
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, contents).unwrap();
    path
}

/// A plain hex key file of anvil key `index` (0600).
fn key_file(dir: &Path, index: usize) -> PathBuf {
    let path = write(dir, &format!("key{index}"), ANVIL_KEYS[index]);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn key_new_writes_an_encrypted_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trader.key");
    let password_file = write(dir.path(), "password", "correct horse\n");
    let printed = ok(&[
        "key",
        "new",
        "--out",
        s(&out),
        "--password-file",
        s(&password_file),
        "--light-kdf",
    ]);
    let text = fs::read_to_string(&out).unwrap();
    // The password is the file's first line, without the line break.
    let key = TraderKey::from_keystore(&text, b"correct horse").unwrap();
    assert_eq!(
        printed,
        json!({ "address": key.address().to_string(), "file": s(&out), "encrypted": true })
    );
    assert_eq!(mode(&out), 0o600);
    assert!(!text.contains(&key.to_hex_secret()[2..]));
    // Never overwrites, and says so before asking for a password.
    let err = fails(&["key", "new", "--out", s(&out)]);
    assert!(err.contains("must not exist yet"), "{err}");
    assert_eq!(fs::read_to_string(&out).unwrap(), text);
    // No password and no terminal: a clear error, no file.
    let other = dir.path().join("other.key");
    let err = fails(&["key", "new", "--out", s(&other)]);
    assert!(
        err.contains("no password")
            && err.contains("--password-file")
            && err.contains("DEX_KEY_PASSWORD"),
        "{err}"
    );
    assert!(!other.exists());
    // An empty password is refused.
    let err = fails_with(&["key", "new", "--out", s(&other)], Some(""));
    assert!(err.contains("empty password"), "{err}");
}

#[test]
fn key_new_with_the_flag_writes_plain_hex() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trader.key");
    let printed = ok(&["key", "new", "--out", s(&out), "--insecure-plain-key"]);
    let key: TraderKey = fs::read_to_string(&out).unwrap().parse().unwrap();
    assert_eq!(printed["address"], json!(key.address().to_string()));
    assert_eq!(printed["encrypted"], json!(false));
    assert_eq!(mode(&out), 0o600);
}

/// Finding 6 of issue 16: key files were plain hex. A plain key file is now refused unless
/// the flag says so, and the message names the flag.
#[test]
fn a_plain_key_file_is_refused_without_the_flag_and_the_error_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let order_file = write(
        dir.path(),
        "order.json",
        &serde_json::to_string(&OrderBuilder::new().maker(&anvil_key(0)).order()).unwrap(),
    );
    let key = key_file(dir.path(), 0);
    let err = fails_with(
        &["order", "sign", s(&order_file), "--key-file", s(&key)],
        Some("pw"),
    );
    assert!(
        err.contains("plain (unencrypted) hex key") && err.contains("--insecure-plain-key"),
        "{err}"
    );
    ok(&[
        "order",
        "sign",
        s(&order_file),
        "--key-file",
        s(&key),
        "--insecure-plain-key",
    ]);
}

#[test]
fn signing_with_a_keystore_takes_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let key = anvil_key(0);
    let keystore = write(
        dir.path(),
        "key.json",
        &key.to_keystore(b"pw", KdfStrength::Light).unwrap(),
    );
    let order = OrderBuilder::new().maker(&key).order();
    let order_file = write(
        dir.path(),
        "order.json",
        &serde_json::to_string(&order).unwrap(),
    );
    let args = ["order", "sign", s(&order_file), "--key-file", s(&keystore)];
    let signed = ok_with(&args, Some("pw"));
    assert_eq!(
        signed["signature"],
        json!(order.clone().sign(&key).signature.to_hex())
    );
    let err = fails_with(&args, Some("not it"));
    assert!(
        err.contains("wrong password") && err.contains(s(&keystore)),
        "{err}"
    );
    let err = fails(&args);
    assert!(err.contains("no password to open"), "{err}");
}

#[test]
fn key_import_stores_a_keystore_as_it_is_and_export_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = TraderKey::generate().unwrap();
    let keystore_text = key.to_keystore(b"theirs", KdfStrength::Light).unwrap();
    let keystore = write(dir.path(), "theirs.json", &keystore_text);
    let import = ["--data-dir", s(&data), "key", "import", s(&keystore)];

    let err = fails_with(&import, Some("wrong"));
    assert!(err.contains("wrong password"), "{err}");
    assert!(!data.join("trader.key").exists());
    let printed = ok_with(&import, Some("theirs"));
    let stored = data.join("trader.key");
    assert_eq!(printed["address"], json!(key.address().to_string()));
    assert_eq!(printed["file"], json!(s(&stored)));
    assert_eq!(fs::read_to_string(&stored).unwrap(), keystore_text);
    assert_eq!((mode(&stored), mode(&data)), (0o600, 0o700));
    // A data dir keeps its key.
    let err = fails_with(&import, Some("theirs"));
    assert!(err.contains("keeps its key"), "{err}");

    // Export: the keystore as it is; with the loud flag, the hex.
    let out = dir.path().join("backup.json");
    let export = ["--data-dir", s(&data), "key", "export", "--out", s(&out)];
    let err = fails_with(&export, Some("wrong"));
    assert!(err.contains("wrong password"), "{err}");
    assert!(!out.exists());
    assert_eq!(ok_with(&export, Some("theirs"))["encrypted"], json!(true));
    assert_eq!(fs::read_to_string(&out).unwrap(), keystore_text);
    assert_eq!(mode(&out), 0o600);
    let hex_out = dir.path().join("backup.hex");
    let printed = ok_with(
        &[
            "--data-dir",
            s(&data),
            "key",
            "export",
            "--out",
            s(&hex_out),
            "--insecure-plain-hex",
        ],
        Some("theirs"),
    );
    assert_eq!(printed["encrypted"], json!(false));
    assert_eq!(
        fs::read_to_string(&hex_out).unwrap().trim(),
        *key.to_hex_secret()
    );
    assert_eq!(mode(&hex_out), 0o600);
}

#[test]
fn key_import_of_a_hex_key_needs_hex_and_encrypts_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let hex = key_file(dir.path(), 2);
    let err = fails_with(
        &["--data-dir", s(&data), "key", "import", s(&hex)],
        Some("pw"),
    );
    assert!(
        err.contains("not a keystore") && err.contains("--hex"),
        "{err}"
    );
    let printed = ok_with(
        &[
            "--data-dir",
            s(&data),
            "key",
            "import",
            s(&hex),
            "--hex",
            "--light-kdf",
        ],
        Some("new password"),
    );
    assert_eq!(printed["encrypted"], json!(true));
    let text = fs::read_to_string(data.join("trader.key")).unwrap();
    assert_eq!(
        TraderKey::from_keystore(&text, b"new password")
            .unwrap()
            .address(),
        anvil_key(2).address()
    );
}

#[test]
fn a_plain_data_dir_key_exports_only_with_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let hex = key_file(dir.path(), 3);
    let printed = ok(&[
        "--data-dir",
        s(&data),
        "key",
        "import",
        s(&hex),
        "--hex",
        "--insecure-plain-key",
    ]);
    assert_eq!(printed["encrypted"], json!(false));
    assert_eq!(
        fs::read_to_string(data.join("trader.key")).unwrap().trim(),
        ANVIL_KEYS[3]
    );
    let out = dir.path().join("out.json");
    let export = [
        "--data-dir",
        s(&data),
        "key",
        "export",
        "--out",
        s(&out),
        "--light-kdf",
    ];
    let err = fails_with(&export, Some("pw"));
    assert!(err.contains("--insecure-plain-key"), "{err}");
    let mut with_flag = export.to_vec();
    with_flag.push("--insecure-plain-key");
    ok_with(&with_flag, Some("pw"));
    let text = fs::read_to_string(&out).unwrap();
    assert_eq!(
        TraderKey::from_keystore(&text, b"pw").unwrap().address(),
        anvil_key(3).address()
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
        "--insecure-plain-key",
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
    let err = fails(&[
        "order",
        "sign",
        s(&order_file),
        "--key-file",
        s(&other),
        "--insecure-plain-key",
    ]);
    assert!(err.contains("is not the order's maker"), "{err}");
    // With --any-signer it signs, and the result fails verification: signer ≠ maker.
    let signed = ok(&[
        "order",
        "sign",
        s(&order_file),
        "--key-file",
        s(&other),
        "--insecure-plain-key",
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
        "--insecure-plain-key",
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
    let err = fails(&[
        "order",
        "sign",
        s(&order_file),
        "--key-file",
        s(&garbage),
        "--insecure-plain-key",
    ]);
    assert!(
        err.contains("does not hold a private key") && err.contains("32 bytes"),
        "{err}"
    );
    let broken_keystore = write(dir.path(), "broken.json", "{\"version\": 3}");
    let err = fails_with(
        &[
            "order",
            "sign",
            s(&order_file),
            "--key-file",
            s(&broken_keystore),
        ],
        Some("pw"),
    );
    assert!(
        err.contains("not a valid keystore") && err.contains("missing field `crypto`"),
        "{err}"
    );
    let not_json = write(dir.path(), "order2.json", "{");
    let err = fails(&[
        "order",
        "sign",
        s(&not_json),
        "--key-file",
        s(&key_file(dir.path(), 0)),
        "--insecure-plain-key",
    ]);
    assert!(err.contains("is not a valid order"), "{err}");
}
