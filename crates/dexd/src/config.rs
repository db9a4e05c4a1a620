//! dexd's TOML configuration: every setting has a default (`serde(default)`), unknown keys
//! are errors, and errors name the key and the file. `DEX_<SECTION>__<KEY>` environment
//! variables override the file (e.g. `DEX_API__BODY_LIMIT=131072`,
//! `DEX_NODE__TICK_INTERVAL=500ms`); command-line flags override both.
//!
//! `config/dexd.example.toml` documents every key.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail};
use dex_logging::LogFormat;
use dex_primitives::{Address, Decimal, MarketDef, Markets, U256};
use serde::{Deserialize, Deserializer, de};

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// Where keys, the token, the database and the lock live. Relative paths are relative to
    /// the config file's directory.
    pub(crate) data_dir: Option<PathBuf>,
    /// Accept (and at first start create) a plain, unencrypted hex `trader.key` instead of
    /// an encrypted keystore: for throwaway keys only (devnets, tests).
    pub(crate) plain_key: bool,
    /// A file whose first line is the trader keystore's password, relative to the config
    /// file's directory. `--password-file` and `DEX_KEY_PASSWORD` come first.
    pub(crate) password_file: Option<PathBuf>,
    /// A TOML file of `[[markets]]`, relative to the config file's directory. Its markets
    /// are added to those defined inline.
    pub(crate) markets_file: Option<PathBuf>,
    /// Markets defined inline.
    pub(crate) markets: Vec<MarketToml>,
    /// Logging.
    pub(crate) log: LogToml,
    /// The HTTP API.
    pub(crate) api: ApiToml,
    /// The libp2p swarm.
    pub p2p: P2pToml,
    /// Books, validation, liveness, sync.
    pub(crate) node: NodeToml,
    /// Trading: chains, swaps, the database. Without chains the node is a relay.
    pub(crate) settlement: SettlementToml,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LogToml {
    /// `human` or `json`.
    pub(crate) format: LogFormat,
    /// A `RUST_LOG`-style filter (`info`, `dex_node=debug,info`). `RUST_LOG` overrides it.
    pub(crate) level: String,
}

impl Default for LogToml {
    fn default() -> Self {
        LogToml {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

/// `[api]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ApiToml {
    /// Address the HTTP API listens on. Port 0 picks a free port (written to `api.url`).
    pub(crate) listen: SocketAddr,
    /// Largest request body, bytes.
    pub(crate) body_limit: usize,
    /// Longest a request may take.
    pub(crate) request_timeout: Dur,
    /// Browser origins allowed (CORS); empty: CORS off. `*` allows any.
    pub(crate) cors_origins: Vec<String>,
    /// Largest `depth` of a book request.
    pub(crate) max_book_depth: usize,
    /// Levels per side of WebSocket book channels.
    pub(crate) ws_book_depth: usize,
    /// Messages queued per WebSocket client before it is dropped as too slow.
    pub(crate) ws_queue: usize,
    /// Subscriptions per WebSocket connection.
    pub(crate) ws_max_subscriptions: usize,
    /// Further `Host` names (`name:port`) the API answers to, besides its listen address
    /// and the loopback names with its port. `*`: any (no DNS-rebinding protection).
    pub(crate) hosts: Vec<String>,
}

impl Default for ApiToml {
    fn default() -> Self {
        let defaults = dex_api::ApiConfig::new("");
        ApiToml {
            listen: SocketAddr::from(([127, 0, 0, 1], 7780)),
            body_limit: defaults.body_limit,
            request_timeout: Dur(defaults.request_timeout),
            cors_origins: defaults.cors_origins,
            max_book_depth: defaults.max_book_depth,
            ws_book_depth: defaults.ws_book_depth,
            ws_queue: defaults.ws_queue,
            ws_max_subscriptions: defaults.ws_max_subscriptions,
            hosts: Vec::new(),
        }
    }
}

/// `[p2p]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct P2pToml {
    /// Multiaddrs to listen on (TCP and QUIC).
    pub(crate) listen: Vec<String>,
    /// Peers to dial at start, each with its `/p2p/<peer id>`.
    pub(crate) bootstrap: Vec<String>,
    /// Find peers on the local network.
    pub(crate) mdns: bool,
    /// Kademlia discovery from the bootstrap peers.
    pub(crate) kad: bool,
    /// Established connections in total.
    pub(crate) max_connections: u32,
    /// Established connections per peer.
    pub(crate) max_connections_per_peer: u32,
    /// Gossip messages per second accepted from one peer (sustained).
    pub(crate) gossip_rate: f64,
    /// Gossip burst per peer.
    pub(crate) gossip_burst: f64,
    /// Requests per second accepted from one peer (sustained).
    pub(crate) request_rate: f64,
    /// Request burst per peer.
    pub(crate) request_burst: f64,
    /// How long an outbound request may take.
    pub(crate) request_timeout: Dur,
    /// How long an idle connection stays open.
    pub(crate) idle_connection_timeout: Dur,
    /// Exempt loopback from gossipsub's IP-colocation penalty (many nodes on one host:
    /// devnets and tests). Off in production.
    pub(crate) allow_loopback_colocation: bool,
    /// Relays to hold a slot on (multiaddrs with `/p2p/<peer id>`): peers that cannot dial
    /// this node (behind a NAT) reach it through them. Connected relays (a bootstrap peer
    /// that serves relays) are used without being listed here (`max_auto_relays`).
    pub(crate) relays: Vec<String>,
    /// While AutoNAT has not confirmed this node public, reserve a slot on connected peers
    /// that serve relays, as long as fewer slots than this are held (`relays` included).
    /// 0: only the listed `relays`.
    pub(crate) max_auto_relays: usize,
    /// Serve relay circuits to other nodes (a public node).
    pub(crate) relay_server: bool,
    /// Turn relayed connections into direct ones (DCUtR hole punching).
    pub(crate) hole_punching: bool,
    /// Learn whether this node is publicly reachable by asking AutoNAT servers to dial it
    /// back (and, with `relay_server`, serve such probes to others).
    pub(crate) autonat: bool,
}

impl Default for P2pToml {
    fn default() -> Self {
        let network = dex_network::NetworkConfig::default();
        P2pToml {
            listen: network
                .listen_addrs
                .iter()
                .map(ToString::to_string)
                .collect(),
            bootstrap: Vec::new(),
            mdns: network.mdns,
            kad: network.kad,
            max_connections: network.connections.max_established,
            max_connections_per_peer: network.connections.max_established_per_peer,
            gossip_rate: network.gossip_rate.per_second,
            gossip_burst: network.gossip_rate.burst,
            request_rate: network.request_rate.per_second,
            request_burst: network.request_rate.burst,
            request_timeout: Dur(network.request_timeout),
            idle_connection_timeout: Dur(network.idle_connection_timeout),
            allow_loopback_colocation: false,
            relays: Vec::new(),
            max_auto_relays: network.max_auto_relays,
            relay_server: network.relay_server.is_some(),
            hole_punching: network.hole_punching,
            autonat: network.autonat,
        }
    }
}

/// `[node]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct NodeToml {
    /// How often expiry, liveness and heartbeats are checked.
    pub(crate) tick_interval: Dur,
    /// Longest order lifetime accepted (`expiresAt - createdAt`).
    pub(crate) max_order_lifetime: Dur,
    /// How far an order's `createdAt` may be ahead of this node's clock.
    pub(crate) max_clock_skew: Dur,
    /// Heartbeat interval per own maker and market.
    pub(crate) alive_interval: Dur,
    /// A maker silent this long has its orders suspended.
    pub(crate) silent_after: Dur,
    /// Open orders per maker per market.
    pub(crate) orders_per_maker: usize,
    /// Open orders per market (the furthest from the mid are evicted beyond).
    pub(crate) orders_per_market: usize,
    /// Orders per market held while their maker is silent (dropped beyond, re-synced later).
    pub(crate) suspended_per_market: usize,
    /// Closed orders remembered per market (beyond, those expiring first are forgotten and
    /// orders expiring no later are refused).
    pub(crate) tombstones_per_market: usize,
    /// Orders per market with memory reserved at start (no table growth before them).
    pub(crate) preallocated_orders: usize,
    /// Peers a starting node syncs each market from.
    pub(crate) sync_peers: usize,
    /// Least time between two syncs of one maker's orders asked because its heartbeat's
    /// `ordersRoot` differed from ours.
    pub(crate) root_sync_cooldown: Dur,
    /// Capacity of the node's command queue.
    pub(crate) command_queue: usize,
    /// Capacity of the node's event broadcast.
    pub(crate) event_capacity: usize,
}

impl Default for NodeToml {
    fn default() -> Self {
        let node = dex_node::NodeConfig::new(Markets::default(), Vec::new());
        NodeToml {
            tick_interval: Dur(node.tick_interval),
            max_order_lifetime: Dur(Duration::from_millis(node.rules.max_lifetime_ms)),
            max_clock_skew: Dur(Duration::from_millis(node.rules.max_clock_skew_ms)),
            alive_interval: Dur(node.liveness.alive_interval),
            silent_after: Dur(node.liveness.silent_after),
            orders_per_maker: node.caps.orders_per_maker,
            orders_per_market: node.caps.orders_per_market,
            suspended_per_market: node.caps.suspended_per_market,
            tombstones_per_market: node.caps.tombstones_per_market,
            preallocated_orders: node.caps.preallocated_orders,
            sync_peers: node.sync.start_peers,
            root_sync_cooldown: Dur(node.sync.root_sync_cooldown),
            command_queue: node.command_queue,
            event_capacity: node.event_capacity,
        }
    }
}

/// `[settlement]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct SettlementToml {
    /// The SQLite database, relative to the data dir.
    pub(crate) database: PathBuf,
    /// How long a maker holds quantity for an accepted taker that has not locked yet.
    pub(crate) reservation: Dur,
    /// A taker locks at least this long before the maker's reservation ends.
    pub(crate) lock_margin: Dur,
    /// Re-post quantity of a failed swap as a new order.
    pub(crate) repost_failed: bool,
    /// Takes accepted from one taker per minute.
    pub(crate) takes_per_minute: u32,
    /// Take requests answered per peer per minute, accepted or not.
    pub(crate) take_requests_per_peer_minute: u32,
    /// Swaps one taker (address or peer) may hold open at once.
    pub(crate) max_open_swaps_per_taker: usize,
    /// Failures in a row after which a counterparty is refused (0: never).
    pub(crate) refuse_after_failures: u32,
    /// How long a counterparty that failed repeatedly is refused.
    pub(crate) refuse_period: Dur,
    /// How long a take request waits for the maker's answer.
    pub(crate) take_timeout: Dur,
    /// How often the trader's on-chain balances are read (orders are judged against the
    /// latest reading).
    pub(crate) balance_refresh: Dur,
    /// Swap timelocks and confirmations.
    pub(crate) timing: TimingToml,
    /// A trade needs the native coin for its transactions at this percentage of current
    /// fees, on each chain.
    pub(crate) gas_safety_percent: u64,
    /// The chains; none: the node only relays.
    pub(crate) chains: Vec<ChainToml>,
}

impl Default for SettlementToml {
    /// The node's documented defaults (`dex_node::SettlementConfig::new`).
    fn default() -> Self {
        let node =
            dex_node::SettlementConfig::new(PathBuf::from(dex_api::layout::DATABASE), Vec::new());
        SettlementToml {
            database: node.database,
            reservation: Dur(node.reservation),
            lock_margin: Dur(node.lock_margin),
            repost_failed: node.repost_failed,
            takes_per_minute: node.takes_per_minute,
            take_requests_per_peer_minute: node.take_requests_per_peer_minute,
            max_open_swaps_per_taker: node.max_open_swaps_per_taker,
            refuse_after_failures: node.refuse_after_failures,
            refuse_period: Dur(node.refuse_period),
            take_timeout: Dur(node.take_timeout),
            balance_refresh: Dur(node.balance_refresh),
            timing: TimingToml::default(),
            gas_safety_percent: node.gas_safety_percent,
            chains: Vec::new(),
        }
    }
}

/// `[settlement.timing]` (DESIGN §7; whole seconds of chain time).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct TimingToml {
    /// T1 = taker's lock time + this (2Δ).
    pub(crate) taker_lock: Dur,
    /// T2 = maker's lock time + this (Δ).
    pub(crate) maker_lock: Dur,
    /// Smallest T1 − T2.
    pub(crate) margin: Dur,
    /// A claim starts only with at least this long left before the timelock.
    pub(crate) min_claim: Dur,
    /// Confirmations of the taker's lock before the maker locks.
    pub(crate) taker_leg_confirmations: u64,
    /// Confirmations of the maker's lock before the taker claims.
    pub(crate) maker_leg_confirmations: u64,
    /// A transaction without visible effect after this long is sent again.
    pub(crate) retry: Dur,
}

impl Default for TimingToml {
    fn default() -> Self {
        let timing = dex_swap::Timing::DEVNET;
        TimingToml {
            taker_lock: Dur(Duration::from_secs(timing.taker_lock_secs)),
            maker_lock: Dur(Duration::from_secs(timing.maker_lock_secs)),
            margin: Dur(Duration::from_secs(timing.margin_secs)),
            min_claim: Dur(Duration::from_secs(timing.min_claim_secs)),
            taker_leg_confirmations: timing.taker_leg_confirmations,
            maker_leg_confirmations: timing.maker_leg_confirmations,
            retry: Dur(Duration::from_millis(timing.retry_ms)),
        }
    }
}

/// `[[settlement.chains]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ChainToml {
    /// Chain id (required).
    pub(crate) chain_id: u64,
    /// JSON-RPC URL, plain HTTP (required).
    pub(crate) rpc_url: String,
    /// The p2pdex HTLC contract (required).
    pub(crate) htlc: Address,
    /// First block to scan when the database has no cursor (the HTLC's deployment block).
    pub(crate) start_block: u64,
    /// Poll interval for receipts and blocks.
    pub(crate) poll_interval: Dur,
    /// Longest wait for one RPC answer.
    pub(crate) rpc_timeout: Dur,
    /// Longest a send waits for its transaction to be mined.
    pub(crate) tx_timeout: Dur,
    /// Most blocks per `eth_getLogs`.
    pub(crate) max_scan_range: u64,
    /// Confirmations before the scanner reads a block (1: the latest).
    pub(crate) scan_confirmations: u64,
    /// Deepest reorg recovered from by itself.
    pub(crate) max_reorg_depth: u64,
    /// Re-send an unmined transaction with higher fees after this long.
    pub(crate) resend_interval: Dur,
    /// Fee raise per re-send, percent.
    pub(crate) fee_bump_percent: u64,
    /// The chain's block time: with `scan_confirmations` it says how late the node sees
    /// what happens on the chain, which swap deadlines must allow for.
    pub(crate) block_time: Dur,
    /// The most offered per gas, in gwei, however high fees or re-send bumps go.
    pub(crate) max_fee_gwei: u64,
    /// Native coin kept for gas, in whole coins (18 decimals), a decimal string: orders may
    /// not lock it.
    pub(crate) gas_reserve: String,
}

impl Default for ChainToml {
    fn default() -> Self {
        let client = dex_chain::ClientConfig::default();
        ChainToml {
            chain_id: 0,
            rpc_url: String::new(),
            htlc: Address::ZERO,
            start_block: 0,
            poll_interval: Dur(client.poll_interval),
            rpc_timeout: Dur(client.rpc_timeout),
            tx_timeout: Dur(client.tx_timeout),
            max_scan_range: client.max_scan_range,
            scan_confirmations: client.scan_confirmations,
            max_reorg_depth: client.max_reorg_depth,
            resend_interval: Dur(client.resend_interval),
            fee_bump_percent: client.fee_bump_percent,
            block_time: Dur(client.block_time),
            max_fee_gwei: u64::try_from(client.max_fee_per_gas / 1_000_000_000).unwrap_or(u64::MAX),
            gas_reserve: "0.01".into(),
        }
    }
}

/// `[[markets]]`: symbols, chains, tokens, decimals, and either `lot` and `tick` (decimal
/// strings in display units) or `base_per_lot` and `quote_per_tick_lot` (integers, as
/// strings, in base units).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MarketToml {
    /// Base asset symbol (`ETH`).
    pub(crate) base_symbol: String,
    /// Base asset chain id.
    pub(crate) base_chain: u64,
    /// Base token address (`0x000…0`: native coin).
    #[serde(default)]
    pub(crate) base_token: Address,
    /// Base asset decimals.
    pub(crate) base_decimals: u8,
    /// Quote asset symbol (`USDC`).
    pub(crate) quote_symbol: String,
    /// Quote asset chain id.
    pub(crate) quote_chain: u64,
    /// Quote token address.
    #[serde(default)]
    pub(crate) quote_token: Address,
    /// Quote asset decimals.
    pub(crate) quote_decimals: u8,
    /// One lot in base display units (`"0.001"`).
    pub(crate) lot: Option<String>,
    /// One tick in quote per base (`"0.01"`).
    pub(crate) tick: Option<String>,
    /// Base units per lot (instead of `lot`).
    pub(crate) base_per_lot: Option<String>,
    /// Quote units per lot at one tick (instead of `tick`).
    pub(crate) quote_per_tick_lot: Option<String>,
}

/// `markets_file` contents.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MarketsFile {
    /// The markets.
    pub(crate) markets: Vec<MarketToml>,
}

/// A duration written `"250ms"`, `"30s"`, `"5m"`, `"2h"` or `"7d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dur(pub(crate) Duration);

impl Dur {
    /// Whole milliseconds, saturating (what the node's `_ms` settings take).
    pub(crate) fn millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }
}

impl FromStr for Dur {
    type Err = String;

    fn from_str(text: &str) -> Result<Dur, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let bad = || {
            format!("{text:?} is not a duration like \"250ms\", \"30s\", \"5m\", \"2h\" or \"7d\"")
        };
        let value: u64 = number.parse().map_err(|_| bad())?;
        let millis = match unit.trim() {
            "ms" => Some(value),
            "s" => value.checked_mul(1000),
            "m" => value.checked_mul(60_000),
            "h" => value.checked_mul(3_600_000),
            "d" => value.checked_mul(86_400_000),
            _ => None,
        }
        .ok_or_else(bad)?;
        Ok(Dur(Duration::from_millis(millis)))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0.as_millis())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Dur, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// Reads and checks a config file, then applies `DEX_<SECTION>__<KEY>` overrides from `env`.
pub(crate) fn load(path: Option<&Path>, env: &[(String, String)]) -> Result<Config> {
    let text = match path {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?,
        None => String::new(),
    };
    let name = path.map_or_else(|| "<defaults>".to_owned(), |p| p.display().to_string());
    // First from the text, so errors carry line numbers and the key path.
    let config = parse::<Config>(&text).map_err(|err| anyhow!("{name}: {err}"))?;
    let overrides = env_overrides(env)?;
    if overrides.is_empty() {
        return Ok(config);
    }
    let mut table: toml::Table = toml::from_str(&text).map_err(|err| anyhow!("{name}: {err}"))?;
    let mut names = Vec::new();
    for (var, keys, value) in overrides {
        insert(&mut table, &keys, value).with_context(|| format!("environment variable {var}"))?;
        names.push(var);
    }
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|err| {
        anyhow!(
            "{name} with the overrides {}: {}: {}",
            names.join(", "),
            err.path(),
            err.inner()
        )
    })
}

/// Parses TOML text, naming the key path on type errors.
pub(crate) fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    let deserializer = toml::de::Deserializer::parse(text).map_err(|err| err.to_string())?;
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        if path == "." || path.is_empty() {
            inner
        } else {
            format!("key `{path}`: {}", inner.trim_end())
        }
    })
}

/// Variables named by command-line flags, not by config keys.
pub(crate) const FLAG_VARS: &[&str] = &[
    "DEX_CONFIG",
    "DEX_DATA_DIR",
    "DEX_API_LISTEN",
    "DEX_P2P_LISTEN",
    "DEX_BOOTSTRAP",
    "DEX_LOG_FORMAT",
    "DEX_LOG_LEVEL",
    // dexctl's.
    "DEX_URL",
    "DEX_TOKEN",
];

/// The top-level keys of [`Config`]: a `DEX_*` variable is an override only if its first
/// key is one of these. Other `DEX_*` variables belong to other programs (`DEX_MM_CONFIG`,
/// `DEX_BIN_DIR`, …) and are left alone. A misspelt key inside a section is still an error.
const TOP_LEVEL_KEYS: &[&str] = &[
    "data_dir",
    "plain_key",
    "password_file",
    "markets_file",
    "markets",
    "log",
    "api",
    "p2p",
    "node",
    "settlement",
];

type Override = (String, Vec<String>, toml::Value);

fn env_overrides(env: &[(String, String)]) -> Result<Vec<Override>> {
    let mut overrides = Vec::new();
    for (var, value) in env {
        let Some(rest) = var.strip_prefix("DEX_") else {
            continue;
        };
        if FLAG_VARS.contains(&var.as_str()) || rest.is_empty() {
            continue;
        }
        let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if !TOP_LEVEL_KEYS.contains(&keys[0].as_str()) {
            continue;
        }
        if keys.iter().any(String::is_empty) {
            bail!("environment variable {var}: empty key (use DEX_<SECTION>__<KEY>)");
        }
        // A TOML value if it parses as one (numbers, booleans, arrays), else a string.
        let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut table| table.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.clone()));
        overrides.push((var.clone(), keys, value));
    }
    overrides.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(overrides)
}

fn insert(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<()> {
    let (last, parents) = keys.split_last().expect("at least one key");
    let mut current = table;
    for key in parents {
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry
            .as_table_mut()
            .ok_or_else(|| anyhow!("`{key}` is not a table"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

impl Config {
    /// The markets: inline ones and those of `markets_file` (relative to `base`).
    pub(crate) fn markets(&self, base: &Path) -> Result<Markets> {
        let mut defs = Vec::new();
        for (index, market) in self.markets.iter().enumerate() {
            defs.push(
                market
                    .to_def()
                    .with_context(|| format!("config: markets[{index}]"))?,
            );
        }
        if let Some(file) = &self.markets_file {
            let path = base.join(file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read markets file {}", path.display()))?;
            let parsed: MarketsFile =
                parse(&text).map_err(|err| anyhow!("{}: {err}", path.display()))?;
            for (index, market) in parsed.markets.iter().enumerate() {
                defs.push(
                    market
                        .to_def()
                        .with_context(|| format!("{}: markets[{index}]", path.display()))?,
                );
            }
        }
        if defs.is_empty() {
            bail!("no markets configured: set `markets_file` or add [[markets]] to the config");
        }
        Markets::new(defs).context("invalid market definitions")
    }
}

impl MarketToml {
    /// The market definition, sizes converted exactly.
    pub(crate) fn to_def(&self) -> Result<MarketDef> {
        let base_per_lot = match (&self.lot, &self.base_per_lot) {
            (Some(lot), None) => scaled("lot", lot, u32::from(self.base_decimals))?,
            (None, Some(units)) => integer("base_per_lot", units)?,
            _ => bail!("give exactly one of `lot` and `base_per_lot`"),
        };
        let quote_per_tick_lot = match (&self.tick, &self.quote_per_tick_lot) {
            (Some(tick), None) => {
                // tick × lot × 10^quoteDecimals, with lot = basePerLot / 10^baseDecimals.
                let tick = decimal("tick", tick)?;
                let numerator = U256::from(tick.mantissa().unsigned_abs())
                    * base_per_lot
                    * pow10(u32::from(self.quote_decimals));
                let denominator = pow10(tick.scale() + u32::from(self.base_decimals));
                let (units, remainder) = numerator.div_rem(denominator);
                if !remainder.is_zero() {
                    bail!(
                        "`tick` {tick} × lot is not a whole number of quote base units \
                         ({} decimals)",
                        self.quote_decimals
                    );
                }
                units
            }
            (None, Some(units)) => integer("quote_per_tick_lot", units)?,
            _ => bail!("give exactly one of `tick` and `quote_per_tick_lot`"),
        };
        Ok(MarketDef {
            base_chain: self.base_chain,
            base_token: self.base_token,
            quote_chain: self.quote_chain,
            quote_token: self.quote_token,
            base_per_lot,
            quote_per_tick_lot,
            base_symbol: self.base_symbol.clone(),
            quote_symbol: self.quote_symbol.clone(),
            base_decimals: self.base_decimals,
            quote_decimals: self.quote_decimals,
        })
    }
}

fn pow10(exponent: u32) -> U256 {
    U256::from(10u8).pow(U256::from(exponent))
}

/// A native-coin amount in whole coins (18 decimals) as base units; zero allowed.
pub(crate) fn coin_units(key: &str, text: &str) -> Result<U256> {
    let value = Decimal::from_str_exact(text.trim())
        .map_err(|err| anyhow!("`{key}` {text:?} is not a decimal number: {err}"))?;
    if value < Decimal::ZERO {
        bail!("`{key}` must not be negative, got {text}");
    }
    if value.is_zero() {
        return Ok(U256::ZERO);
    }
    scaled(key, text, 18)
}

fn decimal(key: &str, text: &str) -> Result<Decimal> {
    let value = Decimal::from_str_exact(text.trim())
        .map_err(|err| anyhow!("`{key}` {text:?} is not a decimal number: {err}"))?;
    if value <= Decimal::ZERO {
        bail!("`{key}` must be greater than zero, got {text}");
    }
    Ok(value)
}

/// `text × 10^decimals`, which must be a whole number.
fn scaled(key: &str, text: &str, decimals: u32) -> Result<U256> {
    let value = decimal(key, text)?;
    let numerator = U256::from(value.mantissa().unsigned_abs()) * pow10(decimals);
    let (units, remainder) = numerator.div_rem(pow10(value.scale()));
    if !remainder.is_zero() {
        bail!("`{key}` {text} has more decimals than the asset ({decimals})");
    }
    Ok(units)
}

fn integer(key: &str, text: &str) -> Result<U256> {
    let units = U256::from_str_radix(text.trim(), 10)
        .map_err(|err| anyhow!("`{key}` {text:?} is not a whole number: {err}"))?;
    if units.is_zero() {
        bail!("`{key}` must be greater than zero");
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_only() {
        assert_eq!(
            "250ms".parse::<Dur>().unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!("30s".parse::<Dur>().unwrap().0, Duration::from_secs(30));
        assert_eq!(
            "7d".parse::<Dur>().unwrap().0,
            Duration::from_secs(7 * 86_400)
        );
        assert!("30".parse::<Dur>().is_err());
        assert!("s".parse::<Dur>().is_err());
        assert!("1.5s".parse::<Dur>().is_err());
    }

    #[test]
    fn the_devnet_market_converts_exactly() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../config/markets.toml"
        ))
        .unwrap();
        let file: MarketsFile = parse(&text).unwrap();
        let def = file.markets[0].to_def().unwrap();
        assert_eq!(def, dex_test_utils::eth_usdc());
    }

    #[test]
    fn the_example_config_is_valid_and_states_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/dexd.example.toml");
        let config = load(Some(&path), &[]).unwrap();
        let defaults = Config::default();
        assert_eq!(config.plain_key, defaults.plain_key);
        assert!(
            !config.plain_key,
            "keys are encrypted unless a flag says otherwise"
        );
        assert_eq!(config.api.listen, defaults.api.listen);
        assert_eq!(config.api.body_limit, defaults.api.body_limit);
        assert_eq!(config.p2p.listen, defaults.p2p.listen);
        assert_eq!(config.p2p.max_auto_relays, defaults.p2p.max_auto_relays);
        assert_eq!(config.p2p.autonat, defaults.p2p.autonat);
        assert_eq!(config.node.tick_interval, defaults.node.tick_interval);
        assert_eq!(
            config.node.max_order_lifetime,
            defaults.node.max_order_lifetime
        );
        assert_eq!(config.node.event_capacity, defaults.node.event_capacity);
        assert_eq!(
            config.node.root_sync_cooldown,
            defaults.node.root_sync_cooldown
        );
        assert_eq!(
            config.settlement.timing.taker_lock,
            defaults.settlement.timing.taker_lock
        );
        assert_eq!(
            config.settlement.timing.retry,
            defaults.settlement.timing.retry
        );
        assert_eq!(
            config.settlement.balance_refresh,
            defaults.settlement.balance_refresh
        );
        assert!(config.settlement.chains.is_empty());
        config.markets(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn errors_name_the_key() {
        let err = parse::<Config>("[api]\nbody_limit = \"big\"\n").unwrap_err();
        assert!(err.contains("api.body_limit"), "{err}");
        let err = parse::<Config>("[api]\nlisten_on = 1\n").unwrap_err();
        assert!(err.contains("listen_on") && err.contains("line 2"), "{err}");
        let err = parse::<Config>("[node]\ntick_interval = \"3 parsecs\"\n").unwrap_err();
        assert!(err.contains("node.tick_interval"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dexd.toml");
        std::fs::write(&path, "[api]\nbody_limit = 1000\n").unwrap();
        let env = vec![
            ("DEX_API__BODY_LIMIT".to_owned(), "2000".to_owned()),
            ("DEX_NODE__TICK_INTERVAL".to_owned(), "250ms".to_owned()),
            (
                "DEX_API_LISTEN".to_owned(),
                "ignored: a flag variable".to_owned(),
            ),
        ];
        let config = load(Some(&path), &env).unwrap();
        assert_eq!(config.api.body_limit, 2000);
        assert_eq!(config.node.tick_interval.0, Duration::from_millis(250));
        // Other programs' variables are not dexd settings.
        let others = [
            "DEX_MM_CONFIG",
            "DEX_MM_LOG_LEVEL",
            "DEX_BIN_DIR",
            "DEX_ANVIL",
            // A password, read by dexd itself but never a config key.
            "DEX_KEY_PASSWORD",
        ]
        .map(|var| (var.to_owned(), "/somewhere".to_owned()));
        let config = load(Some(&path), &others).unwrap();
        assert_eq!(config.api.body_limit, 1000);
        let bad = vec![("DEX_API__NOPE".to_owned(), "1".to_owned())];
        let err = load(Some(&path), &bad).unwrap_err().to_string();
        assert!(
            err.contains("DEX_API__NOPE") && err.contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn the_top_level_keys_are_the_configs() {
        // Each is a key of Config (a wrong type, not an unknown field)…
        for key in TOP_LEVEL_KEYS {
            let err = parse::<Config>(&format!("{key} = 1.5")).unwrap_err();
            assert!(!err.contains("unknown field"), "{key}: {err}");
        }
        // …and Config has no other: serde's unknown-field error lists exactly its keys.
        let err = parse::<Config>("no_such_key = 1").unwrap_err();
        let (_, expected) = err.split_once("expected one of ").expect(&err);
        let mut listed: Vec<&str> = expected
            .split(", ")
            .map(|key| key.trim().trim_matches('`'))
            .collect();
        let mut ours = TOP_LEVEL_KEYS.to_vec();
        listed.sort_unstable();
        ours.sort_unstable();
        assert_eq!(listed, ours, "{err}");
    }

    #[test]
    fn the_gas_reserve_default_is_the_nodes() {
        let chain = ChainToml::default();
        assert_eq!(
            coin_units("gas_reserve", &chain.gas_reserve).unwrap(),
            dex_node::DEFAULT_GAS_RESERVE
        );
        assert_eq!(coin_units("g", "0").unwrap(), U256::ZERO);
        assert!(coin_units("g", "-1").is_err());
        assert!(coin_units("g", "lots").is_err());
    }

    #[test]
    fn markets_need_exact_sizes() {
        let market = |lot: &str, tick: &str| MarketToml {
            base_symbol: "ETH".into(),
            base_chain: 1,
            base_token: Address::ZERO,
            base_decimals: 18,
            quote_symbol: "USDC".into(),
            quote_chain: 2,
            quote_token: Address::ZERO,
            quote_decimals: 6,
            lot: Some(lot.into()),
            tick: Some(tick.into()),
            base_per_lot: None,
            quote_per_tick_lot: None,
        };
        assert!(market("0.001", "0.01").to_def().is_ok());
        // 0.0001 USDC per ETH × 0.001 ETH = 1e-7 USDC: below one base unit.
        assert!(market("0.001", "0.0001").to_def().is_err());
        assert!(market("0", "0.01").to_def().is_err());
    }
}
