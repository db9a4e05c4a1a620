//! `dex-devnet up` and `dex-devnet demo` as people run them (on ephemeral ports here): what
//! they print, that Ctrl-C, SIGKILL of the devnet and a dying node leave no process behind,
//! and that the committed node configs are what the devnet writes.
//!
//! Like the end-to-end tests, these need `dexd` and `dex-mm` built in the same target
//! directory (scripts/test.sh builds them first).

use std::{
    fs,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use dex_devnet::{ChildInfo, Devnet, DevnetNode, NodePorts, PROCESSES_FILE, node_config};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::{
    e2e::{binary, market_maker_exists},
    support::{config, is_running, wait_all_gone, wait_until},
};

const START: Duration = Duration::from_secs(120);
const GONE: Duration = Duration::from_secs(30);

/// `dex-devnet <command>` on ephemeral ports with instant mining, output into `dir`.
fn start(dir: &Path, command: &str, extra: &[&str]) -> anyhow::Result<Child> {
    // Built beside dex-devnet, where it looks for them.
    binary("dexd");
    let market_maker: &[&str] = if market_maker_exists() {
        binary("dex-mm");
        &[]
    } else {
        &["--no-market-maker"]
    };
    Ok(Command::new(env!("CARGO_BIN_EXE_dex-devnet"))
        .arg(command)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--base-port", "0", "--quote-port", "0", "--block-time", "0"])
        .args(["--api-port", "0", "--p2p-port", "0"])
        .args(extra)
        .args(market_maker)
        .env_remove("RUST_LOG")
        .env_remove("DEX_BIN_DIR")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(fs::File::create(dir.join("stdout"))?)
        .stderr(fs::File::create(dir.join("stderr"))?)
        .spawn()?)
}

fn output(dir: &Path) -> String {
    let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap_or_default();
    format!("stdout:\n{}\nstderr:\n{}", read("stdout"), read("stderr"))
}

/// Waits until `up` says it runs, and returns its processes.
async fn wait_up(dir: &Path) -> anyhow::Result<Vec<ChildInfo>> {
    let stdout = dir.join("stdout");
    wait_until("the devnet to say it runs", START, || async {
        fs::read_to_string(&stdout)
            .is_ok_and(|out| out.contains("Ctrl-C stops the devnet and everything it started"))
    })
    .await;
    Ok(serde_json::from_slice(&fs::read(
        dir.join("data").join(PROCESSES_FILE),
    )?)?)
}

fn signal(pid: u32, signal: Signal) -> anyhow::Result<()> {
    Ok(kill(Pid::from_raw(i32::try_from(pid)?), signal)?)
}

async fn exit_code(mut child: Child) -> anyhow::Result<Option<i32>> {
    let status = tokio::task::spawn_blocking(move || child.wait()).await??;
    Ok(status.code())
}

#[tokio::test]
async fn up_runs_chains_nodes_and_market_maker_until_ctrl_c_stops_them_all() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let devnet = start(dir.path(), "up", &[])?;
    let processes = wait_up(dir.path()).await?;
    let names: Vec<&str> = processes.iter().map(|p| p.name.as_str()).collect();
    let mut expected = vec!["anvil-31337", "anvil-31338", "dexd-1", "dexd-2", "dexd-3"];
    if market_maker_exists() {
        expected.push("dex-mm");
    }
    assert_eq!(names, expected);
    let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
    assert!(pids.iter().all(|pid| is_running(*pid)), "{pids:?}");

    // How to use it: nodes, data dirs with the token, dexctl and curl.
    let out = output(dir.path());
    for expected in [
        "node 2  trader 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        "data dir data/node-1 (api.url, api.token)",
        "--data-dir data/node-2 order place --market ETH/USDC --side buy",
        "Authorization: Bearer $(cat data/node-2/api.token)",
        "logs: data/logs",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
    // Node i trades as trader i, with the devnet's key.
    for index in 1..=3 {
        let key = fs::read_to_string(dir.path().join(format!("data/node-{index}/trader.key")))?;
        assert_eq!(key.trim(), dex_test_utils::ANVIL_KEYS[index]);
    }

    // Ctrl-C: everything stops, the bot before the nodes, and it exits 0.
    signal(devnet.id(), Signal::SIGINT)?;
    assert_eq!(exit_code(devnet).await?, Some(0), "{}", output(dir.path()));
    assert!(pids.iter().all(|pid| !is_running(*pid)), "{pids:?}");
    if market_maker_exists() {
        assert!(
            out.contains("market maker: dex-mm quoting ETH/USDC on node 1"),
            "{out}"
        );
        // Stopped before its node: it could cancel its quotes.
        let mm_log = fs::read_to_string(dir.path().join("data/logs/dex-mm.log"))?;
        assert!(
            mm_log.contains("every order of the bot is cancelled"),
            "{mm_log}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn sigkill_of_the_devnet_takes_its_nodes_and_market_maker_with_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let devnet = start(dir.path(), "up", &[])?;
    let processes = wait_up(dir.path()).await?;
    let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids.len(), 5 + usize::from(market_maker_exists()));
    // No teardown code runs: only the parent-death signal ends the children.
    signal(devnet.id(), Signal::SIGKILL)?;
    exit_code(devnet).await?;
    wait_all_gone(&pids, GONE).await;
    Ok(())
}

#[tokio::test]
async fn a_node_that_dies_is_reported_with_its_log_and_the_rest_is_stopped() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let devnet = start(dir.path(), "up", &[])?;
    let processes = wait_up(dir.path()).await?;
    let node = processes
        .iter()
        .find(|p| p.name == "dexd-2")
        .expect("dexd-2 runs");
    signal(node.pid, Signal::SIGKILL)?;
    assert_eq!(exit_code(devnet).await?, Some(1));
    let out = output(dir.path());
    assert!(
        out.contains("dexd-2 (pid") && out.contains("exited unexpectedly"),
        "{out}"
    );
    assert!(out.contains("logs/dexd-2.log"), "{out}");
    let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
    assert!(pids.iter().all(|pid| !is_running(*pid)), "{pids:?}");
    Ok(())
}

#[tokio::test]
async fn demo_trades_through_rest_prints_the_steps_and_exits_0() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // The price of node 1's ask when there is no market maker: its best ask.
    let devnet = if market_maker_exists() {
        start(dir.path(), "demo", &[])?
    } else {
        start(dir.path(), "demo", &["--price", "2502.5"])?
    };
    let code = tokio::time::timeout(START, exit_code(devnet)).await??;
    let out = output(dir.path());
    assert_eq!(code, Some(0), "{out}");
    for expected in [
        "node 2 sees the best ask in its book: ",
        " ETH at 2502.5 USDC",
        "node 2 buys 0.1 ETH at up to 2502.5 USDC, immediate-or-cancel",
        "locks 250.25 USDC on chain 31338",
        "claims 0.1 ETH on chain 31337",
        "node 1 (maker): swap",
        "trader 2   USDC on 31338                     1000000                  999749.75                -250.25  exact",
        "demo: the swap settled and every balance moved by exactly the traded amounts",
        "stopped everything the devnet started",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
    assert!(!out.contains("WRONG"), "{out}");
    Ok(())
}

/// `DEX_DEVNET_BLESS=1` rewrites the committed configs from what the devnet writes.
#[tokio::test]
async fn the_committed_node_configs_are_what_the_interactive_devnet_writes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // Real chains, so the contract addresses are the deployed ones; then the URLs of the
    // interactive devnet's fixed ports.
    let devnet = Devnet::start_chains(config(dir.path())).await?;
    let mut chains = devnet.chains().clone();
    devnet.shutdown().await;
    chains.base.rpc_url = format!("http://127.0.0.1:{}", dex_devnet::DEFAULT_BASE_PORT);
    chains.quote.rpc_url = format!("http://127.0.0.1:{}", dex_devnet::DEFAULT_QUOTE_PORT);
    let ports = NodePorts::Fixed {
        api: dex_devnet::DEFAULT_API_PORT,
        p2p: dex_devnet::DEFAULT_P2P_PORT,
    };
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/devnet");
    for index in 1..=dex_devnet::DEFAULT_NODES {
        let written = node_config(&chains, index, ports)?;
        let path = committed.join(format!("node-{index}.toml"));
        if std::env::var_os("DEX_DEVNET_BLESS").is_some() {
            fs::write(&path, &written)?;
        }
        let text = fs::read_to_string(&path)?;
        assert!(
            text == written,
            "{} differs from what the devnet writes for {} (run this test with \
             DEX_DEVNET_BLESS=1 to rewrite it):\n{written}",
            path.display(),
            DevnetNode::name_of(index)
        );
        assert!(written.contains(&format!("listen = \"127.0.0.1:{}\"", 7780 + index)));
    }
    Ok(())
}
