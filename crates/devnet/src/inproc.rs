//! In-process settled networks for tests and benchmarks: a fresh devnet (two anvil chains,
//! contracts, funded traders) and N `dex-node`s on loopback that trade on it, each with its
//! own database; plus what checks need (block numbers, fees from receipts, balances).
//! Enabled by the `inproc` feature.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy_primitives::{Address, U256};
use anyhow::Context;
use dex_node::{ChainConfig, NodeHandle, SettlementConfig};
use dex_test_utils::{
    anvil::rpc_call,
    harness::{TestNetwork, Topology},
    wait_for,
};
use serde_json::{Value, json};

use crate::{ChainInfo, ChainsConfig, Devnet, DevnetChains};

/// How long settlement waits may take in a debug build on a busy machine.
pub const SETTLE_DEADLINE: Duration = Duration::from_secs(60);

/// Nodes that settle on a fresh devnet. Dropping it stops the chains.
#[derive(Debug)]
pub struct SettledNetwork {
    /// The nodes; node `i` trades as devnet trader `i`.
    pub net: TestNetwork,
    /// The chains, contracts and accounts.
    pub chains: DevnetChains,
    /// Where the devnet and the node databases live.
    pub data_dir: PathBuf,
    devnet: Option<Devnet>,
}

impl SettledNetwork {
    /// Starts a devnet in `data_dir` (instant mining) and `n` fully connected nodes, with
    /// `tweak` applied to each node's settlement config, and waits until every node is
    /// connected to both chains.
    pub async fn start(
        n: usize,
        data_dir: &Path,
        tweak: impl Fn(usize, &mut SettlementConfig),
    ) -> anyhow::Result<SettledNetwork> {
        SettledNetwork::start_mining(n, data_dir, crate::Mining::Instant, tweak).await
    }

    /// Like [`SettledNetwork::start`], with chains that mine as `mining` says; each node's
    /// chain clients are told the block time.
    pub async fn start_mining(
        n: usize,
        data_dir: &Path,
        mining: crate::Mining,
        tweak: impl Fn(usize, &mut SettlementConfig),
    ) -> anyhow::Result<SettledNetwork> {
        let mut devnet_config = ChainsConfig::for_tests(data_dir.join("devnet"));
        devnet_config.traders = n.max(1);
        devnet_config.mining = mining;
        let devnet = Devnet::start_chains(devnet_config).await?;
        let chains = devnet.chains().clone();
        let keys = chains
            .traders
            .iter()
            .map(|trader| trader.key())
            .collect::<Result<Vec<_>, _>>()?;
        let base = data_dir.to_owned();
        let net = TestNetwork::start_with(n, Topology::Full, |index, config| {
            config.traders = vec![keys[index].clone()];
            let mut chain_configs = vec![chain_config(&chains.base), chain_config(&chains.quote)];
            if let Some(secs) = mining.block_time() {
                for chain in &mut chain_configs {
                    chain.client.block_time = Duration::from_secs(secs.max(1));
                    chain.client.tx_timeout =
                        chain.client.tx_timeout.max(Duration::from_secs(secs * 3));
                }
            }
            let mut settlement =
                SettlementConfig::new(base.join(format!("node{index}.sqlite")), chain_configs);
            tweak(index, &mut settlement);
            config.settlement = Some(settlement);
        })
        .await?;
        for index in 0..n {
            wait_chains_up(net.node(index)?).await?;
        }
        Ok(SettledNetwork {
            net,
            chains,
            data_dir: data_dir.to_owned(),
            devnet: Some(devnet),
        })
    }
}

impl Drop for SettledNetwork {
    fn drop(&mut self) {
        // The devnet's drop kills its chains.
        drop(self.devnet.take());
    }
}

/// A node's chain config for a devnet chain: local client settings, fast polling.
pub fn chain_config(chain: &ChainInfo) -> ChainConfig {
    let mut client = dex_chain::ClientConfig::local();
    client.poll_interval = Duration::from_millis(50);
    ChainConfig {
        chain_id: chain.chain_id,
        rpc_url: chain.rpc_url.clone(),
        htlc: chain.htlc,
        start_block: chain.htlc_block,
        client,
    }
}

/// Waits until `handle` is connected to both devnet chains.
pub async fn wait_chains_up(handle: &NodeHandle) -> anyhow::Result<()> {
    Ok(wait_for(
        "a node connected to both chains",
        SETTLE_DEADLINE,
        || async {
            handle
                .chains_up()
                .await
                .is_ok_and(|up| up == vec![crate::BASE_CHAIN_ID, crate::QUOTE_CHAIN_ID])
        },
    )
    .await?)
}

fn quantity(value: &Value) -> anyhow::Result<U256> {
    let text = value.as_str().context("hex quantity")?;
    Ok(U256::from_str_radix(text.trim_start_matches("0x"), 16)?)
}

fn socket(url: &str) -> anyhow::Result<SocketAddr> {
    Ok(url.trim_start_matches("http://").parse()?)
}

/// One JSON-RPC call to a devnet chain (blocking; for checks between async steps).
pub fn rpc(url: &str, method: &str, params: Value) -> anyhow::Result<Value> {
    Ok(rpc_call(socket(url)?, method, params)?)
}

/// The latest block number of a chain.
pub fn block_number(url: &str) -> anyhow::Result<u64> {
    Ok(quantity(&rpc(url, "eth_blockNumber", json!([]))?)?.to::<u64>())
}

/// The native balance of an account (wei).
pub fn native_balance(url: &str, account: Address) -> anyhow::Result<U256> {
    quantity(&rpc(
        url,
        "eth_getBalance",
        json!([account.to_string(), "latest"]),
    )?)
}

/// What `account` paid in fees on a chain in blocks `from..=to`, from the receipts.
pub fn fees_paid(url: &str, account: Address, from: u64, to: u64) -> anyhow::Result<U256> {
    let mut total = U256::ZERO;
    for number in from..=to {
        let block = rpc(
            url,
            "eth_getBlockByNumber",
            json!([format!("0x{number:x}"), true]),
        )?;
        for tx in block["transactions"]
            .as_array()
            .context("block transactions")?
        {
            let sender: Address = tx["from"].as_str().context("sender")?.parse()?;
            if sender != account {
                continue;
            }
            let hash = tx["hash"].as_str().context("tx hash")?;
            let receipt = rpc(url, "eth_getTransactionReceipt", json!([hash]))?;
            total += quantity(&receipt["gasUsed"])? * quantity(&receipt["effectiveGasPrice"])?;
        }
    }
    Ok(total)
}

/// Balances of one account: ETH on the base chain, ETH and USDC on the quote chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wallet {
    /// ETH on the base chain (wei).
    pub base_eth: U256,
    /// ETH on the quote chain (wei).
    pub quote_eth: U256,
    /// USDC on the quote chain (10^-6).
    pub usdc: U256,
}

/// The balances of `owner` now.
pub async fn wallet(chains: &DevnetChains, owner: Address) -> anyhow::Result<Wallet> {
    let balances = chains.balances(owner).await?;
    Ok(Wallet {
        base_eth: balances.base_eth,
        quote_eth: balances.quote_eth,
        usdc: balances.usdc,
    })
}
