//! The p2pdex devnet: two local anvil chains with the contracts deployed and the traders
//! funded, `dexd` nodes trading on them, the `dex-mm` market maker, and a supervisor that
//! owns every process it starts, for `scripts/devnet.sh`, the `dex-devnet` binary and the
//! end-to-end tests.
//!
//! - [`Devnet::start_chains`] starts anvil for chain 31337 (base: ETH) and 31338 (quote: a
//!   test USDC with 6 decimals), deploys the HTLC on both and USDC on the quote chain, mints
//!   USDC to the traders (anvil keys 1, 2, …; anvil gives every key ETH on both chains), and
//!   writes the typed [`DevnetChains`] description to `<data dir>/chains.json`: RPC URLs,
//!   contract addresses, the ETH/USDC [`dex_primitives::MarketDef`], accounts and keys —
//!   what node configs are made from. Addresses are the same on every run (see
//!   [`Devnet::start_chains`]).
//! - [`Devnet::start_nodes`] starts `dexd` processes, node `i` trading as trader `i`, from
//!   configs written by [`node_config`] (the interactive ones are committed as
//!   `config/devnet/node-<i>.toml`), connects them through `--bootstrap`, and waits until
//!   each answers, sees every other and both chains. [`Devnet::kill_node`] and
//!   [`Devnet::restart_node`] crash and restart one from its data dir (see [`nodes`]).
//! - [`Devnet::start_market_maker`] runs `dex-mm` on a node and waits for its quotes.
//! - [`demo`] trades through the nodes' REST API ([`NodeClient`]), follows the swap in the
//!   nodes' histories and checks every balance on both chains to the base unit.
//! - [`Supervisor`] runs the child processes, each in its own process group with its
//!   output in `<data dir>/logs/<name>.log`; it notices a child that dies
//!   ([`Supervisor::wait_for_exit`]), waits for readiness with a deadline
//!   ([`Supervisor::wait_ready`]), and stops everything in reverse start order (the market
//!   maker, the nodes, the chains). The [`supervisor`] module documents what ends the
//!   children in each case (orderly shutdown, drop, the devnet being SIGKILLed) and what is
//!   not covered.
//!
//! Data directory layout: `chains.json` (the description), `processes.json` (name, pid,
//! log and command of each running child), `logs/`, `node-<i>/` (each node's config and
//! data dir), `dex-mm.toml`.

mod api;
mod config;
pub mod demo;
mod description;
mod devnet;
mod error;
#[cfg(feature = "inproc")]
pub mod inproc;
mod market_maker;
pub mod nodes;
pub mod supervisor;

pub use api::NodeClient;

pub use config::{
    BASE_CHAIN_ID, ChainsConfig, DEFAULT_BASE_PORT, DEFAULT_QUOTE_PORT, DEFAULT_TRADERS,
    DEFAULT_USDC_PER_TRADER, ETH_PER_ACCOUNT, MAX_TRADERS, Mining, QUOTE_CHAIN_ID, RpcPort,
    USDC_DECIMALS, default_anvil_path,
};
pub use description::{
    CHAINS_FILE, ChainInfo, DevnetAccount, DevnetChains, TokenInfo, format_units,
};
pub use devnet::{
    Balances, DEPLOYER_INDEX, Devnet, LOGS_DIR, LOT_WEI, PROCESSES_FILE, QUOTE_PER_TICK_LOT,
    eth_usdc_market,
};
pub use error::{ChildExit, DevnetError};
pub use market_maker::{MARKET_MAKER, MARKET_MAKER_CONFIG, MarketMakerConfig, market_maker_config};
pub use nodes::{
    DEFAULT_API_PORT, DEFAULT_NODES, DEFAULT_P2P_PORT, DevnetNode, NodePorts, NodesConfig,
    default_binary_path, node_config,
};
pub use supervisor::{
    ChildInfo, ChildSpec, GUARD_SUBCOMMAND, Lifeline, Supervisor, SupervisorConfig, exec_guarded,
};
