//! A running devnet: the supervisor that owns its processes and the description of its
//! chains.

use std::{
    fs, io,
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::ExitStatus,
};

use alloy_primitives::{Address, U256};
use dex_chain::{ChainClient, ClientConfig};
use dex_primitives::{MarketDef, Markets, TraderKey};
use futures::future::try_join_all;
use tracing::info;

use crate::{
    ChainInfo, ChainsConfig, ChildExit, ChildInfo, ChildSpec, DevnetAccount, DevnetChains,
    DevnetError, DevnetNode, NodesConfig, Supervisor, SupervisorConfig, TokenInfo,
    config::{BASE_CHAIN_ID, ETH_PER_ACCOUNT, MAX_TRADERS, QUOTE_CHAIN_ID, USDC_DECIMALS},
    description::CHAINS_FILE,
};

/// File name of the supervised processes list in the data directory.
pub const PROCESSES_FILE: &str = "processes.json";
/// Directory of the children's logs in the data directory.
pub const LOGS_DIR: &str = "logs";
/// The anvil key that deploys the contracts and mints USDC.
pub const DEPLOYER_INDEX: usize = 0;
/// Base units of ETH in one lot of the devnet market: 0.001 ETH.
pub const LOT_WEI: u64 = 1_000_000_000_000_000;
/// USDC base units for one lot at one tick: tick 0.01 USDC × lot 0.001 ETH × 10^6.
pub const QUOTE_PER_TICK_LOT: u64 = 10;

/// A running devnet: two anvil chains with the HTLC deployed on both, the test USDC on the
/// quote chain and the traders funded, supervised until [`Devnet::shutdown`] or drop.
///
/// The supervisor is open for more children ([`Devnet::supervisor`]): nodes and bots
/// started there are stopped before the chains, as children stop newest first.
#[derive(Debug)]
pub struct Devnet {
    data_dir: PathBuf,
    supervisor: Supervisor,
    chains: DevnetChains,
    /// The nodes started by [`Devnet::start_nodes`], by index - 1.
    nodes: Vec<DevnetNode>,
    /// How they were started (for restarts).
    nodes_config: Option<NodesConfig>,
}

impl Devnet {
    /// Starts both chains, deploys the contracts, funds the traders and writes
    /// `chains.json` into the data directory.
    ///
    /// Deployment is deterministic: on each fresh chain the deployer (anvil key 0,
    /// `0xf39F…2266`) sends its first transactions, and a contract's address depends only on
    /// its deployer and nonce. So every run yields the same addresses:
    ///
    /// - quote chain (31338): USDC at nonce 0, `0x5FbDB2315678afecb367f032d93F642f64180aa3`
    ///   (the quote token of `dex_test_utils::eth_usdc()`), HTLC at nonce 1,
    ///   `0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512`;
    /// - base chain (31337): HTLC at nonce 0, `0x5FbDB2315678afecb367f032d93F642f64180aa3`.
    ///
    /// On failure every process started so far is killed before the error returns, and
    /// dropping the returned future mid-way does the same.
    pub async fn start_chains(config: ChainsConfig) -> Result<Devnet, DevnetError> {
        validate(&config)?;
        fs::create_dir_all(&config.data_dir).map_err(|source| {
            DevnetError::io("creating the data directory", &config.data_dir, source)
        })?;
        let chains_file = config.data_dir.join(CHAINS_FILE);
        // A description left by an earlier run names chains that no longer exist.
        match fs::remove_file(&chains_file) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                return Err(DevnetError::io(
                    "removing the old description",
                    &chains_file,
                    err,
                ));
            }
            _ => {}
        }
        let mut supervisor = Supervisor::new(SupervisorConfig {
            lifeline: config.lifeline.clone(),
            processes_file: Some(config.data_dir.join(PROCESSES_FILE)),
            ..SupervisorConfig::new(config.data_dir.join(LOGS_DIR))
        })?;

        // Both ports are checked before anything starts; both chains start at once, then
        // each is waited for.
        for (chain_id, port) in [
            (BASE_CHAIN_ID, config.base_port),
            (QUOTE_CHAIN_ID, config.quote_port),
        ] {
            if let crate::RpcPort::Fixed(port) = port {
                check_port_free(config.host, port, &anvil_name(chain_id))?;
            }
        }
        spawn_anvil(&mut supervisor, &config, BASE_CHAIN_ID, config.base_port)?;
        spawn_anvil(&mut supervisor, &config, QUOTE_CHAIN_ID, config.quote_port)?;
        let deployer = DevnetAccount::anvil(DEPLOYER_INDEX)?;
        let deployer_key = deployer.key()?;
        let base = wait_for_anvil(&mut supervisor, &config, BASE_CHAIN_ID, &deployer_key).await?;
        let quote = wait_for_anvil(&mut supervisor, &config, QUOTE_CHAIN_ID, &deployer_key).await?;

        let traders = (1..=config.traders)
            .map(DevnetAccount::anvil)
            .collect::<Result<Vec<_>, _>>()?;
        let (base_htlc, (usdc, quote_htlc)) =
            tokio::try_join!(deploy_base(&base), deploy_quote(&quote))?;
        info!(
            "minting {} USDC to each of {} traders on chain {QUOTE_CHAIN_ID}",
            crate::format_units(config.usdc_per_trader, USDC_DECIMALS),
            traders.len()
        );
        try_join_all(traders.iter().map(|trader| async {
            quote
                .mint_test_token(usdc.address, trader.address, config.usdc_per_trader)
                .await
                .map_err(|source| DevnetError::chain("minting USDC", QUOTE_CHAIN_ID, source))
        }))
        .await?;

        let usdc = TokenInfo {
            minted_per_trader: config.usdc_per_trader,
            ..usdc
        };
        let chains = DevnetChains {
            base: ChainInfo {
                chain_id: BASE_CHAIN_ID,
                rpc_url: base.url().to_owned(),
                htlc: base_htlc.0,
                htlc_block: base_htlc.1,
            },
            quote: ChainInfo {
                chain_id: QUOTE_CHAIN_ID,
                rpc_url: quote.url().to_owned(),
                htlc: quote_htlc.0,
                htlc_block: quote_htlc.1,
            },
            market: eth_usdc_market(usdc.address),
            usdc,
            mining: config.mining,
            confirmations: config.confirmations.max(1),
            eth_per_account: eth_per_account(),
            deployer,
            traders,
        };
        chains.write(&chains_file)?;
        info!(path = %chains_file.display(), "wrote the devnet description");
        Ok(Devnet {
            data_dir: config.data_dir,
            supervisor,
            chains,
            nodes: Vec::new(),
            nodes_config: None,
        })
    }

    /// Starts `config.count` nodes, node `i` trading as devnet trader `i`, one after the
    /// other, each bootstrapping from those started before it; then waits until every node
    /// is connected to every other and to both chains. Node directories of an earlier
    /// devnet in the data dir are replaced (see [`crate::nodes`]).
    ///
    /// On failure the nodes started so far keep running under the supervisor: shut the
    /// devnet down (or drop it).
    pub async fn start_nodes(&mut self, config: NodesConfig) -> Result<(), DevnetError> {
        if !self.nodes.is_empty() {
            return Err(DevnetError::InvalidConfig {
                reason: "the nodes are already started".into(),
            });
        }
        if config.count == 0 || config.count > self.chains.traders.len() {
            return Err(DevnetError::InvalidConfig {
                reason: format!(
                    "{} nodes need as many funded traders; the devnet has {}",
                    config.count,
                    self.chains.traders.len()
                ),
            });
        }
        if !config.dexd.is_file() {
            return Err(DevnetError::BinaryMissing {
                name: "dexd",
                path: config.dexd.clone(),
            });
        }
        for index in 1..=config.count {
            crate::nodes::check_ports_free(config.ports, index)?;
        }
        for index in 1..=config.count {
            let text = crate::nodes::node_config(&self.chains, index, config.ports)?;
            crate::nodes::prepare_node_dir(
                &crate::nodes::node_dir(&self.data_dir, index),
                &text,
                &self.chains.traders[index - 1],
            )?;
        }
        for index in 1..=config.count {
            let bootstrap = self.p2p_addrs_except(index);
            let node = self.launch_node(&config, index, &bootstrap).await?;
            self.nodes.push(node);
        }
        for node in &self.nodes {
            let others = self.peer_ids_except(node.index);
            crate::nodes::wait_peers(&mut self.supervisor, config.startup_timeout, node, &others)
                .await?;
        }
        for node in &self.nodes {
            crate::nodes::wait_chains(
                &mut self.supervisor,
                config.startup_timeout,
                node,
                &self.chains,
            )
            .await?;
        }
        info!(
            "{} nodes are up, connected to each other and to both chains",
            self.nodes.len()
        );
        self.nodes_config = Some(config);
        Ok(())
    }

    /// The nodes, node 1 first.
    pub fn nodes(&self) -> &[DevnetNode] {
        &self.nodes
    }

    /// Node `index` (from 1).
    pub fn node(&self, index: usize) -> Result<&DevnetNode, DevnetError> {
        index
            .checked_sub(1)
            .and_then(|position| self.nodes.get(position))
            .ok_or_else(|| DevnetError::UnknownChild {
                name: DevnetNode::name_of(index),
            })
    }

    /// Kills node `index` with SIGKILL now, as a crash would: nothing is flushed, its swaps
    /// stop mid-way. [`Devnet::restart_node`] starts it again from its data dir.
    pub fn kill_node(&mut self, index: usize) -> Result<ExitStatus, DevnetError> {
        let name = self.node(index)?.name.clone();
        info!("killing {name} (SIGKILL)");
        self.supervisor.kill(&name)
    }

    /// Starts node `index` again from its data dir (after [`Devnet::kill_node`], or after it
    /// died), bootstrapping from every other node, and waits until it is connected to them
    /// and to both chains. Its log continues in the same file.
    pub async fn restart_node(&mut self, index: usize) -> Result<&DevnetNode, DevnetError> {
        let name = self.node(index)?.name.clone();
        let config = self
            .nodes_config
            .clone()
            .ok_or_else(|| DevnetError::UnknownChild { name: name.clone() })?;
        if self.supervisor.child(&name).is_some() {
            return Err(DevnetError::DuplicateChild { name });
        }
        let bootstrap = self.p2p_addrs_except(index);
        let node = self.launch_node(&config, index, &bootstrap).await?;
        self.nodes[index - 1] = node;
        let node = &self.nodes[index - 1];
        let others = self.peer_ids_except(index);
        crate::nodes::wait_peers(&mut self.supervisor, config.startup_timeout, node, &others)
            .await?;
        crate::nodes::wait_chains(
            &mut self.supervisor,
            config.startup_timeout,
            node,
            &self.chains,
        )
        .await?;
        Ok(node)
    }

    async fn launch_node(
        &mut self,
        config: &NodesConfig,
        index: usize,
        bootstrap: &[String],
    ) -> Result<DevnetNode, DevnetError> {
        let dir = crate::nodes::node_dir(&self.data_dir, index);
        crate::nodes::spawn_node(&mut self.supervisor, config, &dir, index, bootstrap)?;
        crate::nodes::wait_node_up(
            &mut self.supervisor,
            config,
            &dir,
            index,
            &self.chains.traders[index - 1],
        )
        .await
    }

    /// The p2p addresses of every launched node but node `index`: its bootstrap list.
    fn p2p_addrs_except(&self, index: usize) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|node| node.index != index)
            .flat_map(|node| node.p2p_addrs.iter().cloned())
            .collect()
    }

    fn peer_ids_except(&self, index: usize) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|node| node.index != index)
            .map(|node| node.peer_id.clone())
            .collect()
    }

    /// The description of the chains (also in [`Devnet::chains_file`]).
    pub fn chains(&self) -> &DevnetChains {
        &self.chains
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Where the description is written: `<data dir>/chains.json`.
    pub fn chains_file(&self) -> PathBuf {
        self.data_dir.join(CHAINS_FILE)
    }

    /// The supervisor of the devnet's processes, to start more (nodes, bots) or stop one.
    pub fn supervisor(&mut self) -> &mut Supervisor {
        &mut self.supervisor
    }

    /// The running processes (also in `<data dir>/processes.json`).
    pub fn processes(&self) -> Vec<ChildInfo> {
        self.supervisor.children()
    }

    /// Waits until a process of the devnet exits, and says which and where its log is.
    /// Never returns while all run: select it against the shutdown signal.
    pub async fn wait_for_exit(&mut self) -> ChildExit {
        self.supervisor.wait_for_exit().await
    }

    /// Stops every process, newest first (SIGTERM, then SIGKILL after each one's grace
    /// period). When this returns, none runs.
    pub async fn shutdown(mut self) {
        self.supervisor.shutdown().await;
    }
}

/// The balances of one account on the devnet, in base units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balances {
    /// ETH on the base chain, in wei.
    pub base_eth: U256,
    /// ETH on the quote chain (gas there), in wei.
    pub quote_eth: U256,
    /// USDC on the quote chain, in 10^-6 USDC.
    pub usdc: U256,
}

impl DevnetChains {
    /// The balances of `owner` on both chains, read now.
    pub async fn balances(&self, owner: Address) -> Result<Balances, DevnetError> {
        let base = self.base.client(&self.deployer).await?;
        let quote = self.quote.client(&self.deployer).await?;
        let read = |chain: u64| {
            move |source| {
                DevnetError::chain(format!("reading the balance of {owner}"), chain, source)
            }
        };
        Ok(Balances {
            base_eth: base
                .native_balance(owner)
                .await
                .map_err(read(BASE_CHAIN_ID))?,
            quote_eth: quote
                .native_balance(owner)
                .await
                .map_err(read(QUOTE_CHAIN_ID))?,
            usdc: quote
                .token_balance(self.usdc.address, owner)
                .await
                .map_err(read(QUOTE_CHAIN_ID))?,
        })
    }
}

/// Wei each account starts with on each chain.
fn eth_per_account() -> U256 {
    U256::from(ETH_PER_ACCOUNT) * U256::from(10u64).pow(U256::from(18u64))
}

/// The devnet market, ETH (base chain, native) / USDC (quote chain, `usdc`), lot 0.001 ETH,
/// tick 0.01 USDC.
pub fn eth_usdc_market(usdc: Address) -> MarketDef {
    MarketDef {
        base_chain: BASE_CHAIN_ID,
        base_token: Address::ZERO,
        quote_chain: QUOTE_CHAIN_ID,
        quote_token: usdc,
        base_per_lot: U256::from(LOT_WEI),
        quote_per_tick_lot: U256::from(QUOTE_PER_TICK_LOT),
        base_symbol: "ETH".into(),
        quote_symbol: "USDC".into(),
        base_decimals: 18,
        quote_decimals: USDC_DECIMALS,
    }
}

fn validate(config: &ChainsConfig) -> Result<(), DevnetError> {
    let invalid = |reason: String| Err(DevnetError::InvalidConfig { reason });
    if config.traders > MAX_TRADERS {
        return invalid(format!(
            "at most {MAX_TRADERS} traders (anvil keys 1 to {MAX_TRADERS}), not {}",
            config.traders
        ));
    }
    if let (crate::RpcPort::Fixed(base), crate::RpcPort::Fixed(quote)) =
        (config.base_port, config.quote_port)
        && base == quote
    {
        return invalid(format!("both chains cannot listen on port {base}"));
    }
    if config.mining.block_time() == Some(0) {
        return invalid("a block time must be at least 1 second".into());
    }
    if let Err(err) = Markets::new([eth_usdc_market(Address::repeat_byte(1))]) {
        return invalid(format!("the devnet market is invalid: {err}"));
    }
    if !config.anvil.is_file() {
        return Err(DevnetError::ToolMissing {
            tool: "anvil",
            path: config.anvil.clone(),
        });
    }
    Ok(())
}

fn anvil_name(chain_id: u64) -> String {
    format!("anvil-{chain_id}")
}

fn spawn_anvil(
    supervisor: &mut Supervisor,
    config: &ChainsConfig,
    chain_id: u64,
    port: crate::RpcPort,
) -> Result<(), DevnetError> {
    let name = anvil_name(chain_id);
    info!(
        "starting anvil for chain {chain_id} on {} ({})",
        match port {
            crate::RpcPort::Ephemeral => format!("an ephemeral port of {}", config.host),
            crate::RpcPort::Fixed(port) => format!("{}:{port}", config.host),
        },
        config.mining
    );
    let spec = ChildSpec::new(&name, &config.anvil)
        .arg("--host")
        .arg(config.host.to_string())
        .arg("--port")
        .arg(port.number().to_string())
        .arg("--chain-id")
        .arg(chain_id.to_string())
        .arg("--balance")
        .arg(ETH_PER_ACCOUNT.to_string())
        .args(["--color", "never"])
        .args(config.mining.anvil_args());
    supervisor.spawn(spec).map(drop)
}

/// Fails clearly if `port` is taken, rather than leaving anvil to die with a bind error.
/// (Someone may still take it between this check and anvil's bind: then anvil's exit is
/// reported with its log.)
fn check_port_free(host: Ipv4Addr, port: u16, what: &str) -> Result<(), DevnetError> {
    match TcpListener::bind((host, port)) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AddrInUse => Err(DevnetError::PortInUse {
            port,
            what: what.to_owned(),
        }),
        Err(err) => Err(DevnetError::InvalidConfig {
            reason: format!("{what} cannot listen on {host}:{port}: {err}"),
        }),
    }
}

/// Waits until anvil prints the address it listens on and answers JSON-RPC with the right
/// chain id, and returns the deployer's client.
async fn wait_for_anvil(
    supervisor: &mut Supervisor,
    config: &ChainsConfig,
    chain_id: u64,
    deployer: &TraderKey,
) -> Result<ChainClient, DevnetError> {
    let name = anvil_name(chain_id);
    let log = supervisor.log_path(&name);
    let addr = supervisor
        .wait_ready(
            &name,
            &format!("anvil (chain {chain_id}) to listen (\"Listening on\" in its log)"),
            config.startup_timeout,
            async || listening_addr(&log),
        )
        .await?;
    let url = format!("http://{addr}");
    supervisor
        .wait_ready(
            &name,
            &format!("anvil (chain {chain_id}) to answer JSON-RPC at {url}"),
            config.startup_timeout,
            async || {
                ChainClient::connect(&url, chain_id, deployer, client_config(config.mining))
                    .await
                    .ok()
            },
        )
        .await
}

/// Timing for a local chain; with interval mining a transaction waits up to a block time.
fn client_config(mining: crate::Mining) -> ClientConfig {
    let local = ClientConfig::local();
    let block_time = std::time::Duration::from_secs(mining.block_time().unwrap_or(0));
    ClientConfig {
        tx_timeout: local.tx_timeout.max(block_time * 3),
        block_time: block_time.max(local.block_time),
        ..local
    }
}

/// The address in anvil's `Listening on 127.0.0.1:PORT` line, once it is in the log.
fn listening_addr(log: &Path) -> Option<SocketAddr> {
    let text = fs::read_to_string(log).ok()?;
    text.lines().find_map(|line| {
        line.trim()
            .strip_prefix("Listening on ")
            .and_then(|addr| addr.trim().parse().ok())
    })
}

/// Deploys the HTLC on the base chain (the deployer's nonce 0). Returns its address and
/// block.
async fn deploy_base(chain: &ChainClient) -> Result<(Address, u64), DevnetError> {
    info!("deploying the HTLC on chain {}", chain.chain_id());
    let (htlc, deployment) = chain
        .deploy_htlc()
        .await
        .map_err(|source| DevnetError::chain("deploying the HTLC", chain.chain_id(), source))?;
    Ok((htlc.address(), deployment.outcome.block_number))
}

/// Deploys USDC (nonce 0) and the HTLC (nonce 1) on the quote chain.
async fn deploy_quote(chain: &ChainClient) -> Result<(TokenInfo, (Address, u64)), DevnetError> {
    let chain_id = chain.chain_id();
    info!("deploying the test USDC ({USDC_DECIMALS} decimals) on chain {chain_id}");
    let (name, symbol) = ("USD Coin (devnet)", "USDC");
    let token = chain
        .deploy_test_token(name, symbol, USDC_DECIMALS)
        .await
        .map_err(|source| DevnetError::chain("deploying the test USDC", chain_id, source))?;
    let htlc = deploy_base(chain).await?;
    let usdc = TokenInfo {
        chain_id,
        address: token.address,
        name: name.into(),
        symbol: symbol.into(),
        decimals: USDC_DECIMALS,
        minted_per_trader: U256::ZERO,
    };
    Ok((usdc, htlc))
}
