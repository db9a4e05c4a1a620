//! The devnet's nodes: `dexd` processes on loopback, node `i` trading as devnet trader `i`
//! (anvil development key `i`), each with its config and data dir under the devnet's data
//! dir, connected to each other through `--bootstrap`.
//!
//! Node `i` lives in `<data dir>/node-i/`: `dexd.toml` (written by [`node_config`]; for the
//! interactive ports it is the same text as the committed `config/devnet/node-i.toml`),
//! `trader.key` (the devnet trader's key, put there before the first start) and what dexd
//! creates (`p2p.key`, `api.token`, `api.url`, `dex.sqlite`). Its output goes to
//! `<data dir>/logs/dexd-i.log`.

use std::{
    env,
    ffi::OsString,
    fs::{self, OpenOptions},
    io::{self, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    time::Duration,
};

use dex_api::types::Info;
use dex_primitives::Market;
use tracing::info;

use crate::{
    ChildSpec, DevnetAccount, DevnetChains, DevnetError, NodeClient, Supervisor,
    config::MAX_TRADERS,
};

/// Nodes the devnet starts by default.
pub const DEFAULT_NODES: usize = 3;
/// API port of node 1 in the interactive devnet; node `i` listens on `7780 + i`.
pub const DEFAULT_API_PORT: u16 = 7781;
/// libp2p (TCP) port of node 1 in the interactive devnet; node `i` listens on `7790 + i`.
pub const DEFAULT_P2P_PORT: u16 = 7791;
/// The first line of every config [`node_config`] writes: a node directory whose
/// `dexd.toml` starts with it was made by the devnet and may be replaced.
pub const CONFIG_HEADER: &str = "# dexd config of devnet node";

/// The ports of the nodes, on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodePorts {
    /// Chosen by the operating system (the API's is read from `api.url`): for tests.
    Ephemeral,
    /// Node 1 listens on these, node `i` on these plus `i - 1`.
    Fixed {
        /// Node 1's API port.
        api: u16,
        /// Node 1's libp2p TCP port.
        p2p: u16,
    },
}

impl NodePorts {
    /// The API address and libp2p port of node `index` (from 1).
    pub fn of(self, index: usize) -> (SocketAddr, u16) {
        let offset = u16::try_from(index.saturating_sub(1)).unwrap_or(u16::MAX);
        match self {
            NodePorts::Ephemeral => (SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), 0),
            NodePorts::Fixed { api, p2p } => (
                SocketAddr::from((Ipv4Addr::LOCALHOST, api.saturating_add(offset))),
                p2p.saturating_add(offset),
            ),
        }
    }
}

/// How [`crate::Devnet::start_nodes`] runs the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodesConfig {
    /// How many nodes, at most the number of funded traders.
    pub count: usize,
    /// The `dexd` binary.
    pub dexd: PathBuf,
    /// Their ports.
    pub ports: NodePorts,
    /// How long each node may take to be ready (API up, peers connected, chains
    /// connected).
    pub startup_timeout: Duration,
    /// How long a node may take to stop after SIGTERM (it flushes its store).
    pub stop_grace: Duration,
}

impl NodesConfig {
    /// For tests: [`DEFAULT_NODES`] nodes on ephemeral ports.
    pub fn for_tests(dexd: impl Into<PathBuf>) -> NodesConfig {
        NodesConfig {
            count: DEFAULT_NODES,
            dexd: dexd.into(),
            ports: NodePorts::Ephemeral,
            startup_timeout: Duration::from_secs(60),
            stop_grace: Duration::from_secs(10),
        }
    }

    /// For people: [`DEFAULT_NODES`] nodes on [`DEFAULT_API_PORT`] and [`DEFAULT_P2P_PORT`]
    /// onwards.
    pub fn interactive(dexd: impl Into<PathBuf>) -> NodesConfig {
        NodesConfig {
            ports: NodePorts::Fixed {
                api: DEFAULT_API_PORT,
                p2p: DEFAULT_P2P_PORT,
            },
            ..NodesConfig::for_tests(dexd)
        }
    }
}

/// A running node of the devnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevnetNode {
    /// Its number, from 1: it trades as devnet trader `index` (anvil key `index`).
    pub index: usize,
    /// Its name in the supervisor and its log's name: `dexd-<index>`.
    pub name: String,
    /// Its data dir (`dexctl --data-dir` finds the API URL and token there).
    pub data_dir: PathBuf,
    /// Its config file.
    pub config: PathBuf,
    /// Its log file.
    pub log: PathBuf,
    /// Its trader.
    pub trader: DevnetAccount,
    /// The API's URL, `http://127.0.0.1:PORT`.
    pub api_url: String,
    /// The API token (also in `<data dir>/api.token`).
    pub token: String,
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Its libp2p addresses, each ending in `/p2p/<peer id>`.
    pub p2p_addrs: Vec<String>,
    /// Its process id.
    pub pid: u32,
}

impl DevnetNode {
    /// Its trading page, signed in: the token rides in the URL fragment, which browsers
    /// never send to a server (`dexctl ui` prints the same link).
    pub fn page_link(&self) -> String {
        self.client()
            .blocking()
            .page_link()
            .unwrap_or_else(|_| self.api_url.clone())
    }

    /// A client of its API.
    pub fn client(&self) -> NodeClient {
        NodeClient::new(&self.api_url, &self.token)
    }

    /// The name of node `index`.
    pub fn name_of(index: usize) -> String {
        format!("dexd-{index}")
    }
}

/// Where a binary built with this workspace is looked for: `$DEX_BIN_DIR/<name>` if that
/// variable is set, else beside the running executable (dex-devnet in `target/<profile>/`,
/// or a test in `target/<profile>/deps/`, whose binaries are one level up).
pub fn default_binary_path(name: &str) -> PathBuf {
    if let Some(dir) = env::var_os("DEX_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let Ok(exe) = env::current_exe() else {
        return PathBuf::from(name);
    };
    let mut candidates = exe.ancestors().skip(1).take(2).map(|dir| dir.join(name));
    let first = candidates.next().unwrap_or_else(|| PathBuf::from(name));
    if first.is_file() {
        return first;
    }
    candidates.find(|path| path.is_file()).unwrap_or(first)
}

/// The config of node `index` (from 1) of a devnet with `chains`: the market, both chains,
/// loopback ports, no discovery beyond `--bootstrap`.
pub fn node_config(
    chains: &DevnetChains,
    index: usize,
    ports: NodePorts,
) -> Result<String, DevnetError> {
    let trader = trader(chains, index)?;
    let market = Market::new(chains.market.clone()).map_err(|err| DevnetError::InvalidConfig {
        reason: format!("the devnet market is invalid: {err}"),
    })?;
    let def = market.def();
    let (api, p2p) = ports.of(index);
    let chain = |role: &str, chain: &crate::ChainInfo| {
        format!(
            r#"
# The {role} chain. start_block 0: the HTLC's deployment block is not the same on every
# run (interval blocks), and scanning a devnet chain from genesis costs nothing.
[[settlement.chains]]
chain_id = {chain_id}
rpc_url = "{rpc_url}"
htlc = "{htlc}"
start_block = 0
poll_interval = "100ms"
rpc_timeout = "10s"
tx_timeout = "60s"
{confirmations_comment}
scan_confirmations = {confirmations}
block_time = "{block_time}s"
resend_interval = "15s"
"#,
            chain_id = chain.chain_id,
            rpc_url = chain.rpc_url,
            htlc = chain.htlc,
            confirmations = chains.confirmations.max(1),
            confirmations_comment = if chains.confirmations <= 1 {
                "# anvil does not reorganise: read a block as soon as it is mined."
            } else {
                "# Read blocks this many confirmations behind the head, as on a real chain."
            },
            // Instant mining has no block time; a second is what timing rules assume.
            block_time = chains.mining.block_time().unwrap_or(1).max(1),
        )
    };
    Ok(format!(
        r#"{CONFIG_HEADER} {index}: trader {index} ({address}, anvil development key {index}).
#
# Written by dex-devnet (crates/devnet) to <devnet data dir>/node-{index}/dexd.toml; with the
# interactive ports (API 7780 + node, libp2p 7790 + node, chains on 8545 and 8546) it is
# exactly config/devnet/node-{index}.toml. dex-devnet puts the trader's key into the node's data
# dir as trader.key, then starts
#   dexd --config <data dir>/node-{index}/dexd.toml --data-dir <data dir>/node-{index} \
#        --bootstrap <the libp2p addresses of the nodes started before it>
# The contract addresses are those dex-devnet deploys to on fresh chains (chains.json).
# Every key and its default: config/dexd.example.toml.

# The trader key is anvil's development key {index}, public knowledge: it is kept as plain hex
# (no password to type on a devnet). Never do this with a key that holds real funds.
plain_key = true

[log]
format = "human"
level = "info"

[api]
listen = "{api}"

[p2p]
listen = ["/ip4/127.0.0.1/tcp/{p2p}"]
# Peers come only from --bootstrap: no mDNS or Kademlia, so nodes of other devnets and
# tests on this machine are never met.
mdns = false
kad = false
# Several nodes on one host.
allow_loopback_colocation = true

[node]
tick_interval = "250ms"
{base}{quote}
# The devnet market: {symbol}, lot {lot} {base_symbol}, tick {tick} {quote_symbol}.
[[markets]]
base_symbol = "{base_symbol}"
base_chain = {base_chain}
base_token = "{base_token}"
base_decimals = {base_decimals}
quote_symbol = "{quote_symbol}"
quote_chain = {quote_chain}
quote_token = "{quote_token}"
quote_decimals = {quote_decimals}
lot = "{lot}"
tick = "{tick}"
"#,
        address = trader.address,
        base = chain("base", &chains.base),
        quote = chain("quote", &chains.quote),
        symbol = market.symbol(),
        lot = market.lot_size().normalize(),
        tick = market.tick_size().normalize(),
        base_symbol = def.base_symbol,
        base_chain = def.base_chain,
        base_token = def.base_token,
        base_decimals = def.base_decimals,
        quote_symbol = def.quote_symbol,
        quote_chain = def.quote_chain,
        quote_token = def.quote_token,
        quote_decimals = def.quote_decimals,
    ))
}

fn trader(chains: &DevnetChains, index: usize) -> Result<&DevnetAccount, DevnetError> {
    index
        .checked_sub(1)
        .and_then(|position| chains.traders.get(position))
        .ok_or_else(|| DevnetError::InvalidConfig {
            reason: format!(
                "node {index} needs devnet trader {index}, but {} traders are funded (at most \
                 {MAX_TRADERS})",
                chains.traders.len()
            ),
        })
}

/// The node directory `<data dir>/node-<index>`.
pub(crate) fn node_dir(data_dir: &Path, index: usize) -> PathBuf {
    data_dir.join(format!("node-{index}"))
}

/// Makes a fresh node directory: the config and the trader's key, plain hex (a public
/// anvil key; the config says `plain_key = true`). A directory left by an earlier devnet
/// (its chains are gone) is replaced; anything else in the way is refused.
pub(crate) fn prepare_node_dir(
    dir: &Path,
    config: &str,
    trader: &DevnetAccount,
) -> Result<(), DevnetError> {
    if dir.exists() {
        let ours = fs::read_to_string(dir.join("dexd.toml"))
            .is_ok_and(|text| text.starts_with(CONFIG_HEADER));
        if !ours {
            return Err(DevnetError::InvalidConfig {
                reason: format!(
                    "{} exists and was not made by dex-devnet (no dexd.toml of a devnet node): \
                     remove it or choose another data dir",
                    dir.display()
                ),
            });
        }
        fs::remove_dir_all(dir)
            .map_err(|source| DevnetError::io("removing an old node directory", dir, source))?;
    }
    fs::create_dir_all(dir)
        .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(0o700)))
        .map_err(|source| DevnetError::io("creating the node directory", dir, source))?;
    let config_path = dir.join("dexd.toml");
    fs::write(&config_path, config)
        .map_err(|source| DevnetError::io("writing the node config", &config_path, source))?;
    let key_path = dir.join(dex_api::layout::TRADER_KEY);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&key_path)
        .and_then(|mut file| writeln!(file, "{}", trader.private_key))
        .map_err(|source| DevnetError::io("writing the trader key", &key_path, source))
}

/// Fails clearly if a fixed port is taken.
pub(crate) fn check_ports_free(ports: NodePorts, index: usize) -> Result<(), DevnetError> {
    let NodePorts::Fixed { .. } = ports else {
        return Ok(());
    };
    let (api, p2p) = ports.of(index);
    for (port, what) in [(api.port(), "API"), (p2p, "libp2p")] {
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::AddrInUse => {
                return Err(DevnetError::PortInUse {
                    port,
                    what: format!("the {what} of {}", DevnetNode::name_of(index)),
                });
            }
            Err(err) => {
                return Err(DevnetError::InvalidConfig {
                    reason: format!("node {index} cannot listen on 127.0.0.1:{port}: {err}"),
                });
            }
        }
    }
    Ok(())
}

/// Starts `dexd` for node `index` from its directory, bootstrapping from `bootstrap`.
pub(crate) fn spawn_node(
    supervisor: &mut Supervisor,
    config: &NodesConfig,
    dir: &Path,
    index: usize,
    bootstrap: &[String],
) -> Result<(), DevnetError> {
    // A node killed earlier left its URL behind: readiness waits for the new one.
    let url_file = dir.join(dex_api::layout::API_URL);
    match fs::remove_file(&url_file) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => {
            return Err(DevnetError::io("removing the old api.url", &url_file, err));
        }
        _ => {}
    }
    let mut spec = ChildSpec::new(DevnetNode::name_of(index), &config.dexd)
        .arg("--config")
        .arg(dir.join("dexd.toml"))
        .arg("--data-dir")
        .arg(dir)
        .stop_grace(config.stop_grace);
    if !bootstrap.is_empty() {
        spec = spec.arg("--bootstrap").arg(bootstrap.join(","));
    }
    // The config says everything: variables of the caller's shell (DEX_API_LISTEN,
    // RUST_LOG…) would override it for every node alike.
    let inherited: Vec<OsString> = env::vars_os()
        .map(|(key, _)| key)
        .filter(|key| {
            key.to_str()
                .is_some_and(|key| key.starts_with("DEX_") || key == "RUST_LOG")
        })
        .collect();
    for key in inherited {
        spec = spec.env_remove(key);
    }
    info!("starting {} (trader {index})", DevnetNode::name_of(index));
    supervisor.spawn(spec).map(drop)
}

/// Waits until node `index` answers on its API and says who it is.
pub(crate) async fn wait_node_up(
    supervisor: &mut Supervisor,
    config: &NodesConfig,
    dir: &Path,
    index: usize,
    trader: &DevnetAccount,
) -> Result<DevnetNode, DevnetError> {
    let name = DevnetNode::name_of(index);
    let url = supervisor
        .wait_ready(
            &name,
            &format!("{name} to listen (its API URL in {})", dir.display()),
            config.startup_timeout,
            async || {
                dex_client::read_url(dir)
                    .ok()
                    .flatten()
                    .filter(|url| !url.is_empty())
            },
        )
        .await?;
    let token = dex_client::read_token(dir)
        .map_err(|failure| DevnetError::Api {
            request: format!("reading {name}'s API token"),
            failure,
        })?
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            DevnetError::Check(format!(
                "{name} listens at {url} but its data dir {} has no API token",
                dir.display()
            ))
        })?;
    let client = NodeClient::new(&url, &token);
    let info: Info = supervisor
        .wait_ready(
            &name,
            &format!("{name} to answer GET {url}/v1/info"),
            config.startup_timeout,
            async || client.info().await.ok(),
        )
        .await?;
    if !info.settlement || !info.traders.contains(&trader.address) {
        return Err(DevnetError::Check(format!(
            "{name} does not trade as devnet trader {index} ({}): /v1/info says settlement \
             {} with traders {:?}; its log: {}",
            trader.address,
            info.settlement,
            info.traders,
            supervisor.log_path(&name).display()
        )));
    }
    let pid = supervisor
        .child(&name)
        .ok_or_else(|| DevnetError::UnknownChild { name: name.clone() })?
        .pid;
    Ok(DevnetNode {
        index,
        log: supervisor.log_path(&name),
        name,
        data_dir: dir.to_owned(),
        config: dir.join("dexd.toml"),
        trader: trader.clone(),
        api_url: url,
        token,
        peer_id: info.peer_id,
        p2p_addrs: info.listen_addrs,
        pid,
    })
}

/// Waits until `node` is connected to every peer in `others`.
pub(crate) async fn wait_peers(
    supervisor: &mut Supervisor,
    timeout: Duration,
    node: &DevnetNode,
    others: &[String],
) -> Result<(), DevnetError> {
    let client = node.client();
    supervisor
        .wait_ready(
            &node.name,
            &format!(
                "{} to be connected to its {} peers (GET {}/v1/peers)",
                node.name,
                others.len(),
                node.api_url
            ),
            timeout,
            async || {
                let peers = client.peers().await.ok()?;
                others
                    .iter()
                    .all(|other| peers.peers.iter().any(|peer| &peer.peer_id == other))
                    .then_some(())
            },
        )
        .await
}

/// Waits until `node` has connected to both chains (`chainsUp` of `GET /v1/info`).
pub(crate) async fn wait_chains(
    supervisor: &mut Supervisor,
    timeout: Duration,
    node: &DevnetNode,
    chains: &DevnetChains,
) -> Result<(), DevnetError> {
    let ids = [chains.base.chain_id, chains.quote.chain_id];
    let client = node.client();
    supervisor
        .wait_ready(
            &node.name,
            &format!(
                "{} to connect to both chains (chainsUp in GET {}/v1/info)",
                node.name, node.api_url
            ),
            timeout,
            async || {
                let info = client.info().await.ok()?;
                ids.iter()
                    .all(|id| info.chains_up.contains(id))
                    .then_some(())
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_ports_count_up_from_node_one() {
        let ports = NodePorts::Fixed {
            api: DEFAULT_API_PORT,
            p2p: DEFAULT_P2P_PORT,
        };
        assert_eq!(
            ports.of(1),
            (SocketAddr::from(([127, 0, 0, 1], 7781)), 7791)
        );
        assert_eq!(
            ports.of(3),
            (SocketAddr::from(([127, 0, 0, 1], 7783)), 7793)
        );
        assert_eq!(
            NodePorts::Ephemeral.of(2),
            (SocketAddr::from(([127, 0, 0, 1], 0)), 0)
        );
    }
}
