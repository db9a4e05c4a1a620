//! Start-up errors, the data dir and graceful shutdown.

use std::{
    fs,
    io::Read,
    os::unix::fs::PermissionsExt,
    process::{Command, Stdio},
    time::Duration,
};

use dex_primitives::{KdfStrength, TraderKey};

use crate::harness::{Dexd, dexd_command, keystore_config, test_config, write_trader_key};

/// Runs dexd expecting it to fail at start; returns stderr.
fn fails(args: &[&str]) -> String {
    fails_command(&mut dexd_command(args))
}

/// Runs `command` (a dexd) expecting exit code 1 at start; returns stderr. A dexd that
/// starts instead is killed at the deadline and the test fails, rather than waiting for a
/// daemon that never exits.
fn fails_command(command: &mut Command) -> String {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dexd runs");
    let exited = dex_test_utils::wait_for_blocking("dexd to exit", Duration::from_secs(30), || {
        child.try_wait().expect("dexd can be waited for")
    });
    let code = exited.ok().and_then(|status| status.code());
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut stderr)
        .expect("utf-8");
    assert_eq!(
        code,
        Some(1),
        "dexd should fail at start (None: it started): {stderr}"
    );
    stderr
}

#[test]
fn a_bad_config_line_names_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let path_text = path.display().to_string();
    let data = dir.path().join("data").display().to_string();

    fs::write(
        &path,
        format!("{}\n[api]\nbody_limit = \"big\"\n", test_config()),
    )
    .unwrap();
    let stderr = fails(&["--config", &path_text, "--data-dir", &data]);
    assert!(stderr.contains(&path_text), "{stderr}");
    assert!(stderr.contains("api.body_limit"), "{stderr}");

    fs::write(&path, format!("{}\n[api]\nlisten_at = 1\n", test_config())).unwrap();
    let stderr = fails(&["--config", &path_text, "--data-dir", &data]);
    assert!(
        stderr.contains(&path_text) && stderr.contains("listen_at"),
        "{stderr}"
    );

    fs::write(
        &path,
        test_config().replace("tick_interval = \"100ms\"", "tick_interval = \"soon\""),
    )
    .unwrap();
    let stderr = fails(&["--config", &path_text, "--data-dir", &data]);
    assert!(
        stderr.contains("node.tick_interval") && stderr.contains("soon"),
        "{stderr}"
    );

    let stderr = fails(&["--config", "/nonexistent/dexd.toml"]);
    assert!(stderr.contains("/nonexistent/dexd.toml"), "{stderr}");

    // An environment override of an unknown key names the variable.
    fs::write(&path, test_config()).unwrap();
    let stderr = fails_command(
        dexd_command(&["--config", &path_text, "--data-dir", &data])
            .env("DEX_API__NO_SUCH_KEY", "1"),
    );
    assert!(stderr.contains("DEX_API__NO_SUCH_KEY"), "{stderr}");
}

/// One rule for every setting: the file, then `DEX_<SECTION>__<KEY>` over it, then the flag
/// over both. Shown with `api.listen` on three taken ports: the error names the one used.
#[test]
fn a_flag_overrides_the_environment_which_overrides_the_file() {
    let taken: Vec<std::net::TcpListener> = (0..3)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let [in_file, in_env, in_flag] =
        [0, 1, 2].map(|index| taken[index].local_addr().unwrap().to_string());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dexd.toml");
    let path_text = path.display().to_string();
    let data = dir.path().join("data").display().to_string();
    fs::write(
        &path,
        format!("{}[api]\nlisten = \"{in_file}\"\n", test_config()),
    )
    .unwrap();
    let args = ["--config", path_text.as_str(), "--data-dir", data.as_str()];

    let stderr = fails(&args);
    assert!(
        stderr.contains("cannot listen for the API") && stderr.contains(&in_file),
        "the file alone: {stderr}"
    );
    let stderr = fails_command(dexd_command(&args).env("DEX_API__LISTEN", &in_env));
    assert!(
        stderr.contains(&in_env) && !stderr.contains(&in_file),
        "the environment over the file: {stderr}"
    );
    let mut with_flag = args.to_vec();
    with_flag.extend(["--api-listen", in_flag.as_str()]);
    let stderr = fails_command(dexd_command(&with_flag).env("DEX_API__LISTEN", &in_env));
    assert!(
        stderr.contains(&in_flag) && !stderr.contains(&in_env) && !stderr.contains(&in_file),
        "the flag over the environment and the file: {stderr}"
    );
}

/// Finding 4 of the swap-safety review: a chain read 12 confirmations of 12 s behind its
/// head with the default 60 s reservation was accepted, and every swap on it failed. dexd
/// refuses it before touching the chain, naming the values to change.
#[test]
fn incoherent_settlement_timing_is_refused_at_start_with_the_values_to_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("timing.toml");
    let path_text = path.display().to_string();
    let data = dir.path().join("data").display().to_string();
    let chain = "[[settlement.chains]]\nchain_id = 1\nrpc_url = \"http://127.0.0.1:9\"\n\
                 htlc = \"0x00000000000000000000000000000000000000c1\"\n\
                 scan_confirmations = 12\nblock_time = \"12s\"\npoll_interval = \"1s\"\n";
    fs::write(&path, format!("{}\n{chain}", test_config())).unwrap();
    let stderr = fails(&["--config", &path_text, "--data-dir", &data]);
    assert!(
        stderr.contains("settlement.lock_margin: 15s is too short")
            && stderr.contains("at least 145s")
            && stderr.contains("settlement.reservation: 60s")
            && stderr.contains("at least 180s"),
        "{stderr}"
    );
    // 2 × 133 s of scan lag, a 5 s retry and min_claim 60 s.
    assert!(
        stderr.contains("settlement.timing.margin: 300s") && stderr.contains("at least 331s"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("settlement.timing.maker_lock")
            && !stderr.contains("settlement.timing.taker_lock"),
        "only the failing rules are named: {stderr}"
    );
}

#[test]
fn a_taken_api_port_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dexd.toml");
    fs::write(&path, test_config()).unwrap();
    let data = dir.path().join("data").display().to_string();
    let stderr = fails(&[
        "--config",
        &path.display().to_string(),
        "--data-dir",
        &data,
        "--api-listen",
        &address,
    ]);
    assert!(
        stderr.contains("cannot listen for the API") && stderr.contains(&address),
        "{stderr}"
    );
}

#[test]
fn two_dexd_never_share_a_data_dir_and_shutdown_is_graceful() {
    let mut node = Dexd::start(&[]);
    let data = node.data_dir();
    for (name, mode) in [
        ("trader.key", 0o600),
        ("p2p.key", 0o600),
        (dex_api::layout::API_TOKEN, 0o600),
    ] {
        let actual = fs::metadata(data.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(actual, mode, "{name}");
    }
    assert_eq!(node.token.len(), 64);

    let config = node.dir.path().join("dexd.toml").display().to_string();
    let stderr = fails(&[
        "--config",
        &config,
        "--data-dir",
        &data.display().to_string(),
        "--api-listen",
        "127.0.0.1:0",
    ]);
    assert!(stderr.contains("in use by another dexd"), "{stderr}");

    let key = node.trader_key().address();
    let token = node.token.clone();
    let status = Command::new("kill")
        .args(["-TERM", &node.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(node.wait_exit(), Some(0), "{}", node.log());
    assert_eq!(
        dex_client::read_url(&data).unwrap(),
        None,
        "the API URL is removed at shutdown"
    );

    // The same data dir starts again with the same identity, keys and token.
    let peer_id = fs::read(data.join("p2p.key")).unwrap();
    let node = node.restart();
    assert_eq!(node.token, token);
    assert_eq!(node.trader_key().address(), key);
    assert_eq!(node.info().traders, vec![key]);
    assert_eq!(fs::read(data.join("p2p.key")).unwrap(), peer_id);
}

/// A temp dir with `config` as dexd.toml and `key` as data/trader.key; returns it with the
/// arguments that start dexd on it.
fn node_dir(config: &str, key: &str) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("dexd.toml"), config).unwrap();
    write_trader_key(&dir.path().join("data"), key);
    let args = [
        "--config",
        "dexd.toml",
        "--data-dir",
        "data",
        "--api-listen",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|arg| match *arg {
        "dexd.toml" | "data" => dir.path().join(arg).display().to_string(),
        other => other.to_owned(),
    })
    .collect();
    (dir, args)
}

fn fails_in(args: &[String]) -> String {
    fails(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Finding 6 of issue 16: keys were kept in plain text. A plain hex trader.key is now
/// refused unless the operator says so, and the message names how.
#[test]
fn a_plain_trader_key_is_refused_without_the_flag_and_the_error_names_it() {
    let key = dex_test_utils::ANVIL_KEYS[1];
    let (dir, args) = node_dir(&keystore_config(""), key);
    let stderr = fails_in(&args);
    assert!(
        stderr.contains("plain (unencrypted) hex key")
            && stderr.contains("--insecure-plain-key")
            && stderr.contains("plain_key = true"),
        "{stderr}"
    );
    // The flag accepts it.
    let node = Dexd::launch_with(dir, &[], &["--insecure-plain-key"], &[]);
    let address = key.parse::<TraderKey>().unwrap().address();
    assert_eq!(node.info().traders, vec![address]);
}

#[test]
fn the_trader_keystore_opens_with_its_password_and_failures_are_clear_errors() {
    let key = TraderKey::generate().unwrap();
    let keystore = key.to_keystore(b"pw", KdfStrength::Light).unwrap();
    let (dir, args) = node_dir(
        &keystore_config("password_file = \"password\"\n"),
        &keystore,
    );
    let key_path = dir.path().join("data/trader.key").display().to_string();
    let password_path = dir.path().join("password");

    // The password file is missing.
    let stderr = fails_in(&args);
    assert!(
        stderr.contains("cannot read the password file")
            && stderr.contains(&password_path.display().to_string()),
        "{stderr}"
    );
    // A wrong password.
    fs::write(&password_path, "not it\n").unwrap();
    let stderr = fails_in(&args);
    assert!(
        stderr.contains("wrong password") && stderr.contains(&key_path),
        "{stderr}"
    );
    // No password anywhere, and no terminal to ask on (the keystore config without
    // `password_file`).
    fs::write(dir.path().join("dexd.toml"), keystore_config("")).unwrap();
    let stderr = fails_in(&args);
    assert!(
        stderr.contains("no password to open")
            && stderr.contains("--password-file")
            && stderr.contains("DEX_KEY_PASSWORD"),
        "{stderr}"
    );
    // --password-file (first line only; the line break is not part of it) opens it.
    fs::write(&password_path, "pw\nnot part of it\n").unwrap();
    let password_arg = password_path.display().to_string();
    let node = Dexd::launch_with(dir, &[], &["--password-file", &password_arg], &[]);
    assert_eq!(node.info().traders, vec![key.address()]);
}

#[test]
fn a_trader_key_file_that_is_not_a_keystore_is_a_clear_error() {
    let (_dir, args) = node_dir(&keystore_config(""), "{\"crypto\": 1}");
    let stderr = fails_command(
        dexd_command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .env("DEX_KEY_PASSWORD", "pw"),
    );
    assert!(
        stderr.contains("not a valid keystore") && stderr.contains("trader.key"),
        "{stderr}"
    );
}

/// The first start writes a new key encrypted, at geth's standard scrypt parameters, with
/// the password from DEX_KEY_PASSWORD.
#[test]
fn a_first_start_writes_an_encrypted_trader_key() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("dexd.toml"), keystore_config("")).unwrap();
    let node = Dexd::launch_with(dir, &[], &[], &[("DEX_KEY_PASSWORD", "first start")]);
    let text = fs::read_to_string(node.data_dir().join("trader.key")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["crypto"]["kdfparams"]["n"], 1 << 18, "{text}");
    let key = TraderKey::from_keystore(&text, b"first start").unwrap();
    assert_eq!(node.info().traders, vec![key.address()]);
    let mode = fs::metadata(node.data_dir().join("trader.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
