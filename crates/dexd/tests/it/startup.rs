//! Start-up errors, the data dir and graceful shutdown.

use std::{fs, os::unix::fs::PermissionsExt, process::Command};

use crate::harness::{Dexd, dexd_command, test_config};

/// Runs dexd expecting it to fail at start; returns stderr.
fn fails(args: &[&str]) -> String {
    let output = dexd_command(args).output().expect("dexd runs");
    assert_eq!(output.status.code(), Some(1), "dexd {args:?} should fail");
    String::from_utf8(output.stderr).expect("utf-8")
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
    let output = dexd_command(&["--config", &path_text, "--data-dir", &data])
        .env("DEX_API__NO_SUCH_KEY", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("DEX_API__NO_SUCH_KEY"), "{stderr}");
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
        ("api.token", 0o600),
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
    assert!(
        !data.join("api.url").exists(),
        "api.url is removed at shutdown"
    );

    // The same data dir starts again with the same identity, keys and token.
    let peer_id = fs::read(data.join("p2p.key")).unwrap();
    let node = node.restart();
    assert_eq!(node.token, token);
    assert_eq!(node.trader_key().address(), key);
    assert_eq!(node.info().traders, vec![key]);
    assert_eq!(fs::read(data.join("p2p.key")).unwrap(), peer_id);
}
