//! The library starts both chains, deploys, funds, describes them exactly, and leaves no
//! process behind however it ends.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    os::unix::{fs::PermissionsExt, process::ExitStatusExt},
    time::Duration,
};

use alloy_primitives::{Address, U256};
use dex_chain::TestToken;
use dex_devnet::{
    BASE_CHAIN_ID, CHAINS_FILE, ChildInfo, Devnet, DevnetChains, DevnetError, PROCESSES_FILE,
    QUOTE_CHAIN_ID, RpcPort, eth_usdc_market,
};
use dex_primitives::Markets;
use dex_test_utils::{ANVIL_KEYS, anvil_key};
use nix::{sys::signal::Signal, unistd::Pid};

use crate::support::{config, is_running};

const GONE: Duration = Duration::from_secs(10);

fn pids(devnet: &Devnet) -> Vec<u32> {
    devnet.processes().iter().map(|child| child.pid).collect()
}

fn addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .parse()
        .expect("an http://IP:PORT URL")
}

#[tokio::test]
async fn starts_deploys_funds_and_describes_the_chains_exactly() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let devnet = Devnet::start_chains(config(dir.path())).await?;
    let chains = devnet.chains().clone();

    // The file says what the value says.
    assert_eq!(DevnetChains::read(&dir.path().join(CHAINS_FILE))?, chains);
    assert_eq!(devnet.chains_file(), dir.path().join(CHAINS_FILE));

    // Chains, on loopback, with their ids.
    assert_eq!(chains.base.chain_id, BASE_CHAIN_ID);
    assert_eq!(chains.quote.chain_id, QUOTE_CHAIN_ID);
    assert!(addr(&chains.base.rpc_url).ip().is_loopback());
    assert!(addr(&chains.quote.rpc_url).ip().is_loopback());
    assert_ne!(chains.base.rpc_url, chains.quote.rpc_url);

    // Deterministic addresses: the deployer's nonces 0 and 1.
    let deployer = anvil_key(0).address();
    assert_eq!(chains.deployer.address, deployer);
    assert_eq!(chains.base.htlc, deployer.create(0));
    assert_eq!(chains.usdc.address, deployer.create(0));
    assert_eq!(chains.quote.htlc, deployer.create(1));
    assert_eq!(
        chains.quote.htlc,
        "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512".parse::<Address>()?
    );

    // The market: the one the other crates' tests use, and valid.
    assert_eq!(chains.market, eth_usdc_market(chains.usdc.address));
    assert_eq!(chains.market, dex_test_utils::eth_usdc());
    Markets::new([chains.market.clone()])?;

    // The HTLC's exact code on both chains (htlc_at compares it with the artifact).
    let trader = &chains.traders[0];
    let base = chains.base.client(trader).await?;
    let quote = chains.quote.client(trader).await?;
    base.htlc_at(chains.base.htlc).await?;
    quote.htlc_at(chains.quote.htlc).await?;
    assert!(quote.htlc_at(chains.usdc.address).await.is_err());

    // The token.
    let token = chains.usdc.address;
    assert_eq!(quote.read(token, TestToken::decimalsCall {}).await?, 6);
    assert_eq!(quote.read(token, TestToken::symbolCall {}).await?, "USDC");
    assert_eq!(chains.usdc.decimals, 6);
    assert_eq!(chains.usdc.chain_id, QUOTE_CHAIN_ID);

    // Accounts and exact balances: anvil's ETH untouched, the USDC minted, nothing else.
    let ten_thousand_eth = U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64));
    let million_usdc = U256::from(1_000_000_000_000u64);
    assert_eq!(chains.eth_per_account, ten_thousand_eth);
    assert_eq!(chains.usdc.minted_per_trader, million_usdc);
    assert_eq!(chains.traders.len(), 3);
    for (i, trader) in chains.traders.iter().enumerate() {
        assert_eq!(trader.anvil_index, i + 1);
        assert_eq!(trader.private_key, ANVIL_KEYS[i + 1]);
        assert_eq!(trader.address, anvil_key(i + 1).address());
        let balances = chains.balances(trader.address).await?;
        assert_eq!(balances.base_eth, ten_thousand_eth, "trader {}", i + 1);
        assert_eq!(balances.quote_eth, ten_thousand_eth, "trader {}", i + 1);
        assert_eq!(balances.usdc, million_usdc, "trader {}", i + 1);
    }
    assert_eq!(quote.token_balance(token, deployer).await?, U256::ZERO);
    assert_eq!(
        quote.token_balance(token, chains.quote.htlc).await?,
        U256::ZERO
    );
    // Nobody else got USDC: the supply is what the traders hold.
    let supply = quote.read(token, TestToken::totalSupplyCall {}).await?;
    assert_eq!(supply, million_usdc * U256::from(3u64));

    // Chain time moves on demand.
    let before = base.latest_block_timestamp().await?;
    chains.base.advance_time(3_600).await?;
    assert!(base.latest_block_timestamp().await? >= before + 3_600);

    // processes.json names the two anvils with their pids.
    let recorded: Vec<ChildInfo> =
        serde_json::from_slice(&std::fs::read(dir.path().join(PROCESSES_FILE))?)?;
    assert_eq!(recorded, devnet.processes());
    let names: Vec<&str> = recorded.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["anvil-31337", "anvil-31338"]);

    // Orderly shutdown: no anvil left, nothing listening.
    let pids = pids(&devnet);
    assert!(pids.iter().all(|pid| is_running(*pid)));
    devnet.shutdown().await;
    assert!(pids.iter().all(|pid| !is_running(*pid)), "{pids:?}");
    for url in [&chains.base.rpc_url, &chains.quote.rpc_url] {
        assert!(TcpStream::connect_timeout(&addr(url), Duration::from_millis(200)).is_err());
    }
    let recorded: Vec<ChildInfo> =
        serde_json::from_slice(&std::fs::read(dir.path().join(PROCESSES_FILE))?)?;
    assert!(recorded.is_empty());
    Ok(())
}

#[tokio::test]
async fn dropping_the_devnet_kills_both_chains() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let devnet = Devnet::start_chains(config(dir.path())).await?;
    let pids = pids(&devnet);
    assert_eq!(pids.len(), 2);
    drop(devnet);
    // Drop reaps: they are gone when it returns, not merely signalled.
    assert!(pids.iter().all(|pid| !is_running(*pid)), "{pids:?}");
    Ok(())
}

#[tokio::test]
async fn a_chain_that_dies_is_reported_with_its_log() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut devnet = Devnet::start_chains(config(dir.path())).await?;
    let quote = devnet.supervisor().child("anvil-31338").unwrap().clone();
    let base_pid = devnet.supervisor().child("anvil-31337").unwrap().pid;

    nix::sys::signal::kill(Pid::from_raw(quote.pid as i32), Signal::SIGKILL)?;
    let exit = tokio::time::timeout(GONE, devnet.wait_for_exit()).await?;
    assert_eq!(exit.name, "anvil-31338");
    assert_eq!(exit.pid, quote.pid);
    assert_eq!(exit.status.signal(), Some(9));
    assert_eq!(exit.log, dir.path().join("logs/anvil-31338.log"));
    assert!(!exit.log_tail.is_empty());
    assert!(std::fs::read_to_string(&exit.log)?.contains("Listening on"));
    let message = exit.to_string();
    assert!(message.contains("anvil-31338") && message.contains("anvil-31338.log"));

    // The rest is torn down as usual.
    assert!(is_running(base_pid));
    devnet.shutdown().await;
    assert!(!is_running(base_pid));
    Ok(())
}

#[tokio::test]
async fn a_taken_port_fails_clearly_before_anything_starts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = taken.local_addr()?.port();
    let config = dex_devnet::ChainsConfig {
        quote_port: RpcPort::Fixed(port),
        ..config(dir.path())
    };
    match Devnet::start_chains(config).await {
        Err(DevnetError::PortInUse {
            port: reported,
            what,
        }) => {
            assert_eq!(reported, port);
            assert_eq!(what, "anvil-31338");
        }
        other => panic!("expected PortInUse, got {other:?}"),
    }
    // Not even the base chain was started.
    assert!(!dir.path().join("logs/anvil-31337.log").exists());
    Ok(())
}

#[tokio::test]
async fn a_chain_failing_to_start_is_reported_and_the_other_is_killed() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // A stand-in for anvil: the quote chain runs (and writes its pid) until killed; the
    // base chain fails with a message once the quote chain runs.
    let fake = dir.path().join("fake-anvil");
    let pid_file = dir.path().join("quote.pid");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\ncase \"$*\" in\n  \
             *31337*) while [ ! -s '{pid}' ]; do sleep 0.01; done\n    \
             echo 'fake anvil: cannot start' >&2; exit 3;;\n  \
             *) echo $$ > '{pid}.tmp'; mv '{pid}.tmp' '{pid}'; exec sleep 600;;\nesac\n",
            pid = pid_file.display()
        ),
    )?;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755))?;
    let config = dex_devnet::ChainsConfig {
        anvil: fake,
        ..config(dir.path())
    };

    let error = Devnet::start_chains(config).await.unwrap_err();
    let DevnetError::ChildExited(exit) = &error else {
        panic!("expected ChildExited, got {error:?}");
    };
    assert_eq!(exit.name, "anvil-31337");
    assert_eq!(exit.status.code(), Some(3));
    assert!(
        exit.log_tail
            .iter()
            .any(|l| l.contains("fake anvil: cannot start"))
    );
    assert!(
        error.to_string().contains("logs/anvil-31337.log"),
        "{error}"
    );

    // The quote chain's stand-in had started, and was killed before the error returned.
    let quote_pid: u32 = std::fs::read_to_string(&pid_file)?.trim().parse()?;
    assert!(!is_running(quote_pid));
    Ok(())
}

#[tokio::test]
async fn a_missing_anvil_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dex_devnet::ChainsConfig {
        anvil: dir.path().join("no-anvil-here"),
        ..config(dir.path())
    };
    let error = Devnet::start_chains(config).await.unwrap_err();
    assert!(matches!(
        error,
        DevnetError::ToolMissing { tool: "anvil", .. }
    ));
    assert!(
        error.to_string().contains("scripts/install-tools.sh"),
        "{error}"
    );
}

#[tokio::test]
async fn with_a_block_time_chain_time_advances_on_a_quiet_chain() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = dex_devnet::ChainsConfig {
        mining: dex_devnet::Mining::InstantAndInterval { block_time: 1 },
        traders: 1,
        ..config(dir.path())
    };
    let devnet = Devnet::start_chains(config).await?;
    let chains = devnet.chains();
    let base = chains.base.client(&chains.traders[0]).await?;
    let start = base.latest_block_timestamp().await?;
    // Nobody sends anything: only the interval blocks move the clock.
    crate::support::wait_until("two interval blocks", Duration::from_secs(15), || async {
        base.latest_block_timestamp()
            .await
            .is_ok_and(|now| now >= start + 2)
    })
    .await;
    devnet.shutdown().await;
    Ok(())
}
