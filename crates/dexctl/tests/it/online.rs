//! The API subcommands against a real dexd (built next to dexctl: `cargo test -p dexd
//! -p dexctl` or the workspace builds both).

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use dex_primitives::TraderKey;
use serde_json::{Value, json};

fn dexd_path() -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_dexctl")).with_file_name("dexd");
    assert!(
        path.exists(),
        "{} is missing: build dexd too (cargo test -p dexd -p dexctl)",
        path.display()
    );
    path
}

pub(crate) struct Node {
    child: Child,
    pub(crate) dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn start() -> Node {
        Node::start_with("", dex_test_utils::ANVIL_KEYS[1], &[])
    }

    /// A dexd with the test config plus `extra` (TOML appended), trading with `key` (0x
    /// hex, imported encrypted with `dexctl key import --hex` before the first start; dexd
    /// and dexctl get [`PASSWORD`] from `DEX_KEY_PASSWORD`), bootstrapping from
    /// `bootstrap`.
    pub(crate) fn start_with(extra: &str, key: &str, bootstrap: &[String]) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let markets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/markets.toml");
        let config = dir.path().join("dexd.toml");
        fs::write(
            &config,
            format!(
                "markets_file = \"{}\"\n[log]\nlevel = \"warn\"\n[p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\nmdns = false\nkad = false\nallow_loopback_colocation = true\n{extra}",
                markets.display()
            ),
        )
        .unwrap();
        let data = dir.path().join("data");
        // The key is imported before the first start, as an operator would.
        let key_file = dir.path().join("import.key");
        fs::write(&key_file, key).unwrap();
        let imported = dexctl(
            &data,
            &[
                "key",
                "import",
                key_file.to_str().unwrap(),
                "--hex",
                "--light-kdf",
            ],
        );
        assert!(imported.status.success(), "{}", stderr(&imported));
        let mut command = Command::new(dexd_path());
        if !bootstrap.is_empty() {
            command.args(["--bootstrap", &bootstrap.join(",")]);
        }
        let child = command
            .args(["--config", config.to_str().unwrap(), "--data-dir"])
            .arg(&data)
            .args(["--api-listen", "127.0.0.1:0"])
            .env_remove("DEX_URL")
            .env_remove("DEX_TOKEN")
            .env("DEX_KEY_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let node = Node { child, dir };
        dex_test_utils::wait_for_blocking("dexd to start", Duration::from_secs(60), || {
            dex_client::read_url(&data)
                .expect("the data dir is readable")
                .is_some()
        })
        .unwrap_or_else(|err| panic!("{err}"));
        node
    }

    pub(crate) fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// The password of the test nodes' trader keystores.
pub(crate) const PASSWORD: &str = "test nodes' password";

pub(crate) fn dexctl(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dexctl"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("DEX_URL")
        .env_remove("DEX_TOKEN")
        .env_remove("DEX_DATA_DIR")
        .env("DEX_KEY_PASSWORD", PASSWORD)
        .output()
        .unwrap()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn json_of(node: &Node, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let output = dexctl(&node.data(), &all);
    assert!(
        output.status.success(),
        "dexctl {args:?}: {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn dexctl_drives_an_order_from_signing_to_cancel() {
    let node = Node::start();
    let data = node.data();
    let info = json_of(&node, &["info"]);
    let key: TraderKey = dex_test_utils::ANVIL_KEYS[1].parse().unwrap();
    assert_eq!(
        info["traders"][0].as_str().unwrap(),
        key.address().to_string().to_lowercase()
    );
    let market = json_of(&node, &["markets"])["markets"][0]["id"].clone();

    // Sign offline with the node's key file, submit, see it in the book.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let order = json!({
        "market": market, "side": 0, "price": 250050, "quantity": 250, "minFill": 1,
        "maker": key.address(), "peer": info["peerId"], "nonce": 1,
        "createdAt": now, "expiresAt": now + 3_600_000,
    });
    let order_file = node.dir.path().join("order.json");
    fs::write(&order_file, order.to_string()).unwrap();
    let signed = dexctl(
        &data,
        &[
            "order",
            "sign",
            order_file.to_str().unwrap(),
            "--key-file",
            data.join("trader.key").to_str().unwrap(),
        ],
    );
    assert!(signed.status.success(), "{}", stderr(&signed));
    let signed_file = node.dir.path().join("signed.json");
    fs::write(&signed_file, &signed.stdout).unwrap();
    let signed: Value = serde_json::from_slice(&signed.stdout).unwrap();
    let id = signed["orderId"].as_str().unwrap().to_owned();

    let accepted = json_of(&node, &["order", "submit", signed_file.to_str().unwrap()]);
    assert_eq!(accepted["orderId"], id.as_str());
    let book = json_of(&node, &["book", "ETH/USDC"]);
    assert_eq!(
        book["bids"],
        json!([{"price": "2500.5", "quantity": "0.25", "orders": 1}])
    );
    // The human table shows the level too.
    let table = dexctl(&data, &["book", "ETH/USDC"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("bid") && table.contains("2500.5") && table.contains("0.25"),
        "{table}"
    );

    // A tampered copy is refused with the problem's title and detail, exit 1: with the
    // orderId of the signing output the id no longer matches; without it, the signature.
    let mut tampered = signed.clone();
    tampered["order"]["price"] = json!(250051);
    let tampered_file = node.dir.path().join("tampered.json");
    fs::write(&tampered_file, tampered.to_string()).unwrap();
    let refused = dexctl(&data, &["order", "submit", tampered_file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("order-id-mismatch"),
        "{}",
        stderr(&refused)
    );
    tampered.as_object_mut().unwrap().remove("orderId");
    fs::write(&tampered_file, tampered.to_string()).unwrap();
    let refused = dexctl(&data, &["order", "submit", tampered_file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert!(
        message.contains("signer-mismatch") && message.contains("not signed by its maker"),
        "{message}"
    );
    assert_eq!(
        json_of(&node, &["book", "ETH/USDC"])["bids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let cancelled = json_of(&node, &["order", "cancel", &id]);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(json_of(&node, &["book", "ETH/USDC"])["bids"], json!([]));
    let again = dexctl(&data, &["order", "cancel", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("unknown-order"),
        "{}",
        stderr(&again)
    );

    // A relay node refuses to trade, clearly.
    let place = dexctl(
        &data,
        &[
            "order",
            "place",
            "--market",
            "ETH/USDC",
            "--side",
            "buy",
            "--price",
            "2500.5",
            "--quantity",
            "0.25",
        ],
    );
    assert_eq!(place.status.code(), Some(1));
    assert!(
        stderr(&place).contains("settlement-off"),
        "{}",
        stderr(&place)
    );
    let off_grid = dexctl(
        &data,
        &[
            "order",
            "place",
            "--market",
            "ETH/USDC",
            "--side",
            "buy",
            "--price",
            "2500.505",
            "--quantity",
            "0.25",
        ],
    );
    assert!(
        stderr(&off_grid).contains("off-tick"),
        "{}",
        stderr(&off_grid)
    );

    // Importing over a running node's data dir is refused.
    let key_file = node.dir.path().join("import.key");
    let import = dexctl(&data, &["key", "import", key_file.to_str().unwrap()]);
    assert_eq!(import.status.code(), Some(1));
    assert!(stderr(&import).contains("running"), "{}", stderr(&import));

    // A wrong token is refused.
    let wrong = dexctl(
        &data,
        &[
            "--token",
            "0123456789abcdef0123456789abcdef",
            "order",
            "cancel",
            &id,
        ],
    );
    assert!(
        stderr(&wrong).contains("invalid-token"),
        "{}",
        stderr(&wrong)
    );

    // The trading page's link: the node's URL, the token after '#'; and the page is there.
    let link = dexctl(&data, &["ui"]);
    assert!(link.status.success(), "{}", stderr(&link));
    let client = dex_client::Client::discover(None, None, Some(&data)).unwrap();
    let token = client.token().expect("the node's token");
    assert_eq!(
        String::from_utf8_lossy(&link.stdout).trim(),
        format!("{}/#token={token}", client.base_url())
    );
    let page = client
        .send_raw(&dex_client::RawRequest::get("/"))
        .expect("the page answers");
    assert_eq!(page.status, 200);
    let no_token = dexctl(&data, &["--token", "", "ui"]);
    assert_eq!(no_token.status.code(), Some(1), "{}", stderr(&no_token));
}
