//! dexd's TOML configuration: every setting has a default (`serde(default)`), unknown keys
//! are errors, and errors name the key and the file. Loaded by [`dex_config::Loader`]:
//! `DEX_<SECTION>__<KEY>` environment variables override the file (e.g.
//! `DEX_API__BODY_LIMIT=131072`, `DEX_NODE__TICK_INTERVAL=500ms`); command-line flags
//! override both. Durations are written with units (`"250ms"`, `"1m 30s"`).
//!
//! `config/dexd.example.toml` documents every key.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail};
use dex_config::Loader;
use dex_logging::LogFormat;
use dex_primitives::{Address, Decimal, MarketDef, Markets, U256};
use serde::Deserialize;

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
    #[serde(with = "dex_config::duration")]
    pub(crate) request_timeout: Duration,
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
            request_timeout: defaults.request_timeout,
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
    #[serde(with = "dex_config::duration")]
    pub(crate) request_timeout: Duration,
    /// How long an idle connection stays open.
    #[serde(with = "dex_config::duration")]
    pub(crate) idle_connection_timeout: Duration,
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
            request_timeout: network.request_timeout,
            idle_connection_timeout: network.idle_connection_timeout,
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
    #[serde(with = "dex_config::duration")]
    pub(crate) tick_interval: Duration,
    /// Longest order lifetime accepted (`expiresAt - createdAt`).
    #[serde(with = "dex_config::duration")]
    pub(crate) max_order_lifetime: Duration,
    /// How far an order's `createdAt` may be ahead of this node's clock.
    #[serde(with = "dex_config::duration")]
    pub(crate) max_clock_skew: Duration,
    /// Heartbeat interval per own maker and market.
    #[serde(with = "dex_config::duration")]
    pub(crate) alive_interval: Duration,
    /// A maker silent this long has its orders suspended.
    #[serde(with = "dex_config::duration")]
    pub(crate) silent_after: Duration,
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
    #[serde(with = "dex_config::duration")]
    pub(crate) root_sync_cooldown: Duration,
    /// Capacity of the node's command queue.
    pub(crate) command_queue: usize,
    /// Threads that decode received gossip and sync pages and recover their signers ahead
    /// of the node's actor; 0 does it on the actor. Absent: one per core.
    pub(crate) verify_threads: Option<usize>,
    /// Received gossip messages and sync pages waiting for verification at most; while
    /// that many wait, the node reads no more network events.
    pub(crate) ingest_queue: usize,
    /// Capacity of the node's event broadcast.
    pub(crate) event_capacity: usize,
}

impl Default for NodeToml {
    fn default() -> Self {
        let node = dex_node::NodeConfig::new(Markets::default(), Vec::new());
        NodeToml {
            tick_interval: node.tick_interval,
            max_order_lifetime: Duration::from_millis(node.rules.max_lifetime_ms),
            max_clock_skew: Duration::from_millis(node.rules.max_clock_skew_ms),
            alive_interval: node.liveness.alive_interval,
            silent_after: node.liveness.silent_after,
            orders_per_maker: node.caps.orders_per_maker,
            orders_per_market: node.caps.orders_per_market,
            suspended_per_market: node.caps.suspended_per_market,
            tombstones_per_market: node.caps.tombstones_per_market,
            preallocated_orders: node.caps.preallocated_orders,
            sync_peers: node.sync.start_peers,
            root_sync_cooldown: node.sync.root_sync_cooldown,
            command_queue: node.command_queue,
            verify_threads: None,
            ingest_queue: node.ingest_queue,
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
    #[serde(with = "dex_config::duration")]
    pub(crate) reservation: Duration,
    /// A taker locks at least this long before the maker's reservation ends.
    #[serde(with = "dex_config::duration")]
    pub(crate) lock_margin: Duration,
    /// Re-post quantity of a resting order's failed swap as a new order (never an IOC
    /// order's, nor a cancelled one's).
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
    #[serde(with = "dex_config::duration")]
    pub(crate) refuse_period: Duration,
    /// How long a take request waits for the maker's answer.
    #[serde(with = "dex_config::duration")]
    pub(crate) take_timeout: Duration,
    /// How often the trader's on-chain balances are read (orders are judged against the
    /// latest reading).
    #[serde(with = "dex_config::duration")]
    pub(crate) balance_refresh: Duration,
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
            reservation: node.reservation,
            lock_margin: node.lock_margin,
            repost_failed: node.repost_failed,
            takes_per_minute: node.takes_per_minute,
            take_requests_per_peer_minute: node.take_requests_per_peer_minute,
            max_open_swaps_per_taker: node.max_open_swaps_per_taker,
            refuse_after_failures: node.refuse_after_failures,
            refuse_period: node.refuse_period,
            take_timeout: node.take_timeout,
            balance_refresh: node.balance_refresh,
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
    #[serde(with = "dex_config::duration")]
    pub(crate) taker_lock: Duration,
    /// T2 = maker's lock time + this (Δ).
    #[serde(with = "dex_config::duration")]
    pub(crate) maker_lock: Duration,
    /// Smallest T1 − T2.
    #[serde(with = "dex_config::duration")]
    pub(crate) margin: Duration,
    /// A claim starts only with at least this long left before the timelock.
    #[serde(with = "dex_config::duration")]
    pub(crate) min_claim: Duration,
    /// Confirmations of the taker's lock before the maker locks.
    pub(crate) taker_leg_confirmations: u64,
    /// Confirmations of the maker's lock before the taker claims.
    pub(crate) maker_leg_confirmations: u64,
    /// A transaction without visible effect after this long is sent again.
    #[serde(with = "dex_config::duration")]
    pub(crate) retry: Duration,
}

impl Default for TimingToml {
    fn default() -> Self {
        let timing = dex_swap::Timing::DEVNET;
        TimingToml {
            taker_lock: Duration::from_secs(timing.taker_lock_secs),
            maker_lock: Duration::from_secs(timing.maker_lock_secs),
            margin: Duration::from_secs(timing.margin_secs),
            min_claim: Duration::from_secs(timing.min_claim_secs),
            taker_leg_confirmations: timing.taker_leg_confirmations,
            maker_leg_confirmations: timing.maker_leg_confirmations,
            retry: Duration::from_millis(timing.retry_ms),
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
    #[serde(with = "dex_config::duration")]
    pub(crate) poll_interval: Duration,
    /// Longest wait for one RPC answer.
    #[serde(with = "dex_config::duration")]
    pub(crate) rpc_timeout: Duration,
    /// Longest a send waits for its transaction to be mined.
    #[serde(with = "dex_config::duration")]
    pub(crate) tx_timeout: Duration,
    /// Most blocks per `eth_getLogs`.
    pub(crate) max_scan_range: u64,
    /// Confirmations before the scanner reads a block (1: the latest).
    pub(crate) scan_confirmations: u64,
    /// Deepest reorg recovered from by itself.
    pub(crate) max_reorg_depth: u64,
    /// Re-send an unmined transaction with higher fees after this long.
    #[serde(with = "dex_config::duration")]
    pub(crate) resend_interval: Duration,
    /// Fee raise per re-send, percent.
    pub(crate) fee_bump_percent: u64,
    /// The chain's block time: with `scan_confirmations` it says how late the node sees
    /// what happens on the chain, which swap deadlines must allow for.
    #[serde(with = "dex_config::duration")]
    pub(crate) block_time: Duration,
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
            poll_interval: client.poll_interval,
            rpc_timeout: client.rpc_timeout,
            tx_timeout: client.tx_timeout,
            max_scan_range: client.max_scan_range,
            scan_confirmations: client.scan_confirmations,
            max_reorg_depth: client.max_reorg_depth,
            resend_interval: client.resend_interval,
            fee_bump_percent: client.fee_bump_percent,
            block_time: client.block_time,
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

/// Variables that name dexd's flags (clap reads them), or dexctl's: never config keys, even
/// where the name would read as one (`DEX_DATA_DIR` is `--data-dir`, relative to the working
/// directory, not the config's `data_dir`).
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

/// The loader of dexd's config: `path` (none: the defaults), then `DEX_<SECTION>__<KEY>`
/// variables (other `DEX_*` variables — `DEX_MM_CONFIG`, `DEX_BIN_DIR`, … — are not keys of
/// [`Config`] and are left alone), then the flags the caller adds.
pub(crate) fn loader(path: Option<&Path>) -> Loader {
    Loader::new("DEX_").file(path).ignore_env(FLAG_VARS)
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
            let parsed: MarketsFile = dex_config::read(&path).context("markets_file")?;
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
    fn the_devnet_market_converts_exactly() {
        let file: MarketsFile = dex_config::read(&config_dir().join("markets.toml")).unwrap();
        let def = file.markets[0].to_def().unwrap();
        assert_eq!(def, dex_test_utils::eth_usdc());
    }

    #[test]
    fn the_example_config_is_valid_and_states_the_defaults() {
        let path = config_dir().join("dexd.example.toml");
        let config: Config = loader(Some(&path)).load().unwrap();
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
        assert_eq!(config.node.ingest_queue, defaults.node.ingest_queue);
        assert_eq!(config.node.ingest_queue, 4096);
        // One per core unless set: the example shows it commented out.
        assert_eq!(config.node.verify_threads, None);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\n# verify_threads = "),
            "verify_threads is documented"
        );
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

    /// The repository's config directory.
    fn config_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
    }

    /// `text` as a dexd.toml in a temp dir, loaded with `env`.
    fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Config, dex_config::ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dexd.toml");
        std::fs::write(&path, text).unwrap();
        loader(Some(&path))
            .env(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .load()
    }

    /// Every TOML file of config/ (and its subdirectories) is read by its program: dexd's
    /// configs here, the markets file here, dex-mm's in dex-mm's tests; a new file must be
    /// listed or load as a dexd config.
    #[test]
    fn every_config_file_loads() {
        // Read by other programs, and tested there.
        const OTHERS: &[&str] = &[
            "mm.toml",           // dex-mm (crates/mm settings tests)
            "schemathesis.toml", // schemathesis (scripts/test.sh)
        ];
        let mut files = Vec::new();
        let mut dirs = vec![config_dir()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|ext| ext == "toml") {
                    files.push(path);
                }
            }
        }
        files.sort();
        let mut dexd_configs = 0;
        for path in &files {
            let name = path.file_name().unwrap().to_str().unwrap();
            if OTHERS.contains(&name) {
                continue;
            }
            if name == "markets.toml" {
                let file: MarketsFile = dex_config::read(path).unwrap();
                assert!(!file.markets.is_empty());
                continue;
            }
            let config: Config = loader(Some(path))
                .load()
                .unwrap_or_else(|err| panic!("{err}"));
            config
                .markets(path.parent().unwrap())
                .unwrap_or_else(|err| panic!("{}: {err:#}", path.display()));
            dexd_configs += 1;
        }
        // dexd.example.toml and the three devnet nodes'.
        assert_eq!(dexd_configs, 4, "{files:?}");
    }

    #[test]
    fn errors_name_the_key_the_file_and_the_line() {
        let err = load_text("[api]\nbody_limit = \"big\"\n", &[]).unwrap_err();
        assert_eq!(err.key(), Some("api.body_limit"), "{err}");
        let err = load_text("[api]\nlisten_on = 1\n", &[]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("unknown key `api.listen_on` in ")
                && message.contains("dexd.toml line 2"),
            "{message}"
        );
        let err = load_text("[node]\ntick_interval = \"3 parsecs\"\n", &[]).unwrap_err();
        assert_eq!(err.key(), Some("node.tick_interval"), "{err}");
        let err = load_text("[node]\ningest_queue = \"many\"\n", &[]).unwrap_err();
        assert_eq!(err.key(), Some("node.ingest_queue"), "{err}");
        let err = load_text("nodes = 1\n", &[]).unwrap_err();
        assert_eq!(err.key(), Some("nodes"), "{err}");
    }

    #[test]
    fn the_node_queues_are_settings() {
        let config = load_text("[node]\nverify_threads = 0\ningest_queue = 64\n", &[]).unwrap();
        assert_eq!(config.node.verify_threads, Some(0));
        assert_eq!(config.node.ingest_queue, 64);
        let config = load_text("", &[("DEX_NODE__VERIFY_THREADS", "3")]).unwrap();
        assert_eq!(config.node.verify_threads, Some(3));
        assert_eq!(config.node.ingest_queue, 4096);
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = "[api]\nbody_limit = 1000\n";
        let config = load_text(
            file,
            &[
                ("DEX_API__BODY_LIMIT", "2000"),
                ("DEX_NODE__TICK_INTERVAL", "250ms"),
                ("DEX_API_LISTEN", "ignored: a flag variable"),
                ("DEX_DATA_DIR", "ignored: --data-dir's variable"),
            ],
        )
        .unwrap();
        assert_eq!(config.api.body_limit, 2000);
        assert_eq!(config.node.tick_interval, Duration::from_millis(250));
        assert_eq!(config.data_dir, None);
        // Other programs' variables are not dexd settings.
        let others = [
            "DEX_MM_CONFIG",
            "DEX_MM_LOG_LEVEL",
            "DEX_BIN_DIR",
            "DEX_ANVIL",
            // A password, read by dexd itself but never a config key.
            "DEX_KEY_PASSWORD",
        ]
        .map(|var| (var, "/somewhere"));
        let config = load_text(file, &others).unwrap();
        assert_eq!(config.api.body_limit, 1000);
        let err = load_text(file, &[("DEX_API__NOPE", "1")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown key `api.nope` in environment variable DEX_API__NOPE"),
            "{err}"
        );
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
