//! How to start the devnet's chains: ports, mining, accounts, where anvil is.

use std::{
    env,
    net::Ipv4Addr,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy_primitives::U256;
use serde::{Deserialize, Serialize};

use crate::Lifeline;

/// Chain id of the base chain (ETH of the ETH/USDC market).
pub const BASE_CHAIN_ID: u64 = 31_337;
/// Chain id of the quote chain (the test USDC).
pub const QUOTE_CHAIN_ID: u64 = 31_338;
/// The base chain's RPC port in the interactive devnet.
pub const DEFAULT_BASE_PORT: u16 = 8545;
/// The quote chain's RPC port in the interactive devnet.
pub const DEFAULT_QUOTE_PORT: u16 = 8546;
/// ETH each anvil account holds on each chain at start (passed to anvil as `--balance`).
pub const ETH_PER_ACCOUNT: u64 = 10_000;
/// Decimals of the test USDC.
pub const USDC_DECIMALS: u8 = 6;
/// USDC minted to each trader by default: one million.
pub const DEFAULT_USDC_PER_TRADER: u64 = 1_000_000;
/// Trading accounts funded by default (one per node of the demo devnet).
pub const DEFAULT_TRADERS: usize = 3;
/// The most trading accounts: anvil's development keys 1 to 9 (key 0 deploys).
pub const MAX_TRADERS: usize = 9;

/// How anvil mines blocks, on both chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "mode", deny_unknown_fields)]
pub enum Mining {
    /// One block per transaction, the moment it arrives, and no other blocks: chain time
    /// stands still while nothing happens. For tests, which move time with
    /// [`crate::ChainInfo::advance_time`].
    Instant,
    /// One block per transaction as it arrives, plus a block every `block_time` seconds, so
    /// chain time advances on a quiet chain and timelocks expire by themselves (refunds
    /// become possible). For the interactive devnet (anvil `--block-time N --mixed-mining`).
    InstantAndInterval {
        /// Seconds between interval blocks (at least 1).
        block_time: u64,
    },
    /// Only a block every `block_time` seconds: transactions wait for the next block, as on
    /// a real chain (anvil `--block-time N`).
    Interval {
        /// Seconds between blocks (at least 1).
        block_time: u64,
    },
}

impl Mining {
    /// The anvil arguments for this mode.
    pub(crate) fn anvil_args(self) -> Vec<String> {
        match self {
            Mining::Instant => Vec::new(),
            Mining::InstantAndInterval { block_time } => vec![
                "--block-time".into(),
                block_time.to_string(),
                "--mixed-mining".into(),
            ],
            Mining::Interval { block_time } => vec!["--block-time".into(), block_time.to_string()],
        }
    }

    pub(crate) fn block_time(self) -> Option<u64> {
        match self {
            Mining::Instant => None,
            Mining::InstantAndInterval { block_time } | Mining::Interval { block_time } => {
                Some(block_time)
            }
        }
    }
}

impl std::fmt::Display for Mining {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mining::Instant => write!(f, "a block per transaction"),
            Mining::InstantAndInterval { block_time } => {
                write!(f, "a block per transaction and every {block_time} s")
            }
            Mining::Interval { block_time } => write!(f, "a block every {block_time} s"),
        }
    }
}

/// The port a chain's JSON-RPC listens on, on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcPort {
    /// Chosen by the operating system (anvil reports it): for tests, never collides.
    Ephemeral,
    /// This port; starting fails with [`crate::DevnetError::PortInUse`] if it is taken.
    Fixed(u16),
}

impl From<u16> for RpcPort {
    /// 0 is [`RpcPort::Ephemeral`], like in `bind`.
    fn from(port: u16) -> RpcPort {
        match port {
            0 => RpcPort::Ephemeral,
            port => RpcPort::Fixed(port),
        }
    }
}

impl RpcPort {
    pub(crate) fn number(self) -> u16 {
        match self {
            RpcPort::Ephemeral => 0,
            RpcPort::Fixed(port) => port,
        }
    }
}

/// Everything [`crate::Devnet::start_chains`] needs. Start from
/// [`ChainsConfig::for_tests`] or [`ChainsConfig::interactive`] and change fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainsConfig {
    /// Where `chains.json`, `processes.json` and `logs/` go (created if missing).
    pub data_dir: PathBuf,
    /// The anvil binary.
    pub anvil: PathBuf,
    /// The address both chains listen on: 127.0.0.1, or a network-lab host's own address
    /// so that nodes on other hosts reach them (the devnet is then started from a thread
    /// inside that host).
    pub host: Ipv4Addr,
    /// Port of the base chain (31337).
    pub base_port: RpcPort,
    /// Port of the quote chain (31338).
    pub quote_port: RpcPort,
    /// How both chains mine.
    pub mining: Mining,
    /// Confirmations the nodes wait for before reading a block (see
    /// [`crate::DevnetChains::confirmations`]); at least 1.
    pub confirmations: u64,
    /// How many trading accounts to fund (anvil keys 1 to `traders`), at most
    /// [`MAX_TRADERS`].
    pub traders: usize,
    /// USDC base units minted to each trader.
    pub usdc_per_trader: U256,
    /// How long each chain may take to start answering.
    pub startup_timeout: Duration,
    /// How children die with the devnet if it is killed.
    pub lifeline: Lifeline,
}

impl ChainsConfig {
    /// For tests: ephemeral ports, instant mining, [`DEFAULT_TRADERS`] traders with
    /// [`DEFAULT_USDC_PER_TRADER`] USDC each, the [detected](Lifeline::detect) lifeline.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> ChainsConfig {
        ChainsConfig {
            data_dir: data_dir.into(),
            anvil: default_anvil_path(),
            host: Ipv4Addr::LOCALHOST,
            base_port: RpcPort::Ephemeral,
            quote_port: RpcPort::Ephemeral,
            mining: Mining::Instant,
            confirmations: 1,
            traders: DEFAULT_TRADERS,
            usdc_per_trader: U256::from(DEFAULT_USDC_PER_TRADER)
                * U256::from(10u64).pow(U256::from(USDC_DECIMALS)),
            startup_timeout: Duration::from_secs(30),
            lifeline: Lifeline::detect(),
        }
    }

    /// For people: ports [`DEFAULT_BASE_PORT`] and [`DEFAULT_QUOTE_PORT`], instant mining
    /// plus a block every second, otherwise like [`ChainsConfig::for_tests`].
    pub fn interactive(data_dir: impl Into<PathBuf>) -> ChainsConfig {
        ChainsConfig {
            base_port: RpcPort::Fixed(DEFAULT_BASE_PORT),
            quote_port: RpcPort::Fixed(DEFAULT_QUOTE_PORT),
            mining: Mining::InstantAndInterval { block_time: 1 },
            ..ChainsConfig::for_tests(data_dir)
        }
    }
}

/// Where anvil is looked for: `$DEX_ANVIL`, else `.tools/bin/anvil` under the current
/// directory, else under the workspace this crate was built in (where
/// `scripts/install-tools.sh` puts it).
pub fn default_anvil_path() -> PathBuf {
    if let Some(path) = env::var_os("DEX_ANVIL") {
        return PathBuf::from(path);
    }
    let relative = Path::new(".tools/bin/anvil");
    if relative.is_file()
        && let Ok(absolute) = std::path::absolute(relative)
    {
        return absolute;
    }
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin/anvil");
    built_in.canonicalize().unwrap_or(built_in)
}
