//! The `dex-devnet chains` binary: it prints what it started, SIGTERM tears everything
//! down, SIGKILL of the devnet still takes its chains with it, a taken port is reported.

use std::{
    fs,
    net::{Ipv4Addr, TcpListener},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use dex_devnet::{CHAINS_FILE, ChildInfo, DevnetChains, PROCESSES_FILE};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

use crate::support::{is_running, wait_all_gone, wait_until};

const START: Duration = Duration::from_secs(60);
const GONE: Duration = Duration::from_secs(10);

/// `dex-devnet chains` on ephemeral ports with instant mining, output into `dir`.
fn start_devnet(dir: &Path) -> anyhow::Result<Child> {
    Ok(Command::new(env!("CARGO_BIN_EXE_dex-devnet"))
        .arg("chains")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--base-port", "0", "--quote-port", "0", "--block-time", "0"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(fs::File::create(dir.join("stdout"))?)
        .stderr(fs::File::create(dir.join("stderr"))?)
        .spawn()?)
}

/// Waits until the devnet says it runs, and returns its description and its processes.
async fn wait_running(dir: &Path) -> anyhow::Result<(DevnetChains, Vec<ChildInfo>)> {
    let stdout = dir.join("stdout");
    wait_until("the devnet to say it runs", START, || async {
        fs::read_to_string(&stdout).is_ok_and(|out| out.contains("Ctrl-C stops the devnet"))
    })
    .await;
    let chains = DevnetChains::read(&dir.join("data").join(CHAINS_FILE))?;
    let processes = serde_json::from_slice(&fs::read(dir.join("data").join(PROCESSES_FILE))?)?;
    Ok((chains, processes))
}

fn signal(child: &Child, signal: Signal) -> anyhow::Result<()> {
    Ok(kill(Pid::from_raw(child.id() as i32), signal)?)
}

#[tokio::test]
async fn sigterm_stops_the_chains_and_exits_cleanly() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut devnet = start_devnet(dir.path())?;
    let (chains, processes) = wait_running(dir.path()).await?;
    let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids.len(), 2);
    assert!(pids.iter().all(|pid| is_running(*pid)));

    // What it printed: URLs, addresses, balances.
    let out = fs::read_to_string(dir.path().join("stdout"))?;
    for expected in [
        chains.base.rpc_url.as_str(),
        chains.quote.rpc_url.as_str(),
        &chains.base.htlc.to_string(),
        &chains.usdc.address.to_string(),
        "10000 ETH on 31337, 10000 ETH on 31338, 1000000 USDC",
        "logs/anvil-31337.log",
    ] {
        assert!(out.contains(expected), "{expected:?} missing from:\n{out}");
    }
    let progress = fs::read_to_string(dir.path().join("stderr"))?;
    assert!(
        progress.contains("waiting for anvil (chain 31338) to answer"),
        "{progress}"
    );

    signal(&devnet, Signal::SIGTERM)?;
    let status = tokio::task::spawn_blocking(move || devnet.wait()).await??;
    assert!(status.success(), "{status}");
    // It reaped them before exiting.
    assert!(pids.iter().all(|pid| !is_running(*pid)), "{pids:?}");
    Ok(())
}

#[tokio::test]
async fn sigkill_of_the_devnet_kills_its_chains() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut devnet = start_devnet(dir.path())?;
    let (_, processes) = wait_running(dir.path()).await?;
    let pids: Vec<u32> = processes.iter().map(|p| p.pid).collect();
    assert!(pids.iter().all(|pid| is_running(*pid)));

    // No teardown code runs: only the parent-death signal can end the chains.
    signal(&devnet, Signal::SIGKILL)?;
    devnet.wait()?;
    wait_all_gone(&pids, GONE).await;
    Ok(())
}

#[tokio::test]
async fn a_taken_port_is_reported_with_the_port() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = taken.local_addr()?.port().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_dex-devnet"))
        .args(["chains", "--data-dir"])
        .arg(dir.path())
        .args(["--base-port", &port, "--quote-port", "0"])
        .stdin(Stdio::null())
        .output()?;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "port {port} on 127.0.0.1, wanted for anvil-31337, is already in use"
        )),
        "{stderr}"
    );
    Ok(())
}
