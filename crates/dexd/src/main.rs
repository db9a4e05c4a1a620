//! `dexd`: the p2pdex node daemon. It reads its TOML config (`DEX_*` environment variables
//! and flags override it), opens and locks its data dir (keys, token, database), opens the
//! trader keystore with its password, starts the node and serves the HTTP API until SIGINT
//! or SIGTERM.

mod config;
mod datadir;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use config::Config;
use datadir::{DataDir, KeyOrigin, TraderKeyAccess};
use dex_config::duration::whole_millis;
use dex_logging::LogFormat;
use dex_network::{Multiaddr, NetworkConfig, RateLimit};
use dex_node::{ChainConfig, NodeConfig, SettlementConfig, SystemClock};
use dex_primitives::{Markets, ValidationRules};
use tokio::net::TcpListener;
use tracing::{info, warn};

/// The p2pdex node daemon.
///
/// The trader key is <data dir>/trader.key, a Web3 Secret Storage v3 keystore (encrypted
/// JSON, as geth, Foundry's `cast wallet` and eth-account write): create one with `dexctl key
/// new` or import one with `dexctl key import`, or let the first start create it. Its
/// password comes from --password-file, else the DEX_KEY_PASSWORD environment variable,
/// else the config's `password_file`, else a prompt when stdin is a terminal; without any,
/// dexd stops with an error. A plain hex trader.key is refused unless --insecure-plain-key
/// (or `plain_key = true`) is given.
#[derive(Debug, Parser)]
#[command(name = "dexd", version, about, long_about)]
struct Cli {
    /// The TOML config file (see config/dexd.example.toml). Without one, defaults apply.
    #[arg(long, env = "DEX_CONFIG")]
    config: Option<PathBuf>,
    /// The data dir: keys, API token, database, lock. Overrides `data_dir`.
    #[arg(long, env = "DEX_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Address of the HTTP API (`127.0.0.1:7780`; port 0 picks one). Overrides `api.listen`.
    #[arg(long, env = "DEX_API_LISTEN")]
    api_listen: Option<SocketAddr>,
    /// libp2p listen multiaddrs, comma-separated. Overrides `p2p.listen`.
    #[arg(long, env = "DEX_P2P_LISTEN", value_delimiter = ',')]
    p2p_listen: Vec<String>,
    /// Bootstrap peers (multiaddrs with /p2p/<peer id>), comma-separated. Overrides
    /// `p2p.bootstrap`.
    #[arg(long, env = "DEX_BOOTSTRAP", value_delimiter = ',')]
    bootstrap: Vec<String>,
    /// Serve relay circuits to nodes behind NATs (a public node). Sets `p2p.relay_server`.
    #[arg(long)]
    relay_server: bool,
    /// Log output. Overrides `log.format`.
    #[arg(long, env = "DEX_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// RUST_LOG-style filter (`info`, `dex_node=debug,info`). Overrides `log.level`;
    /// `RUST_LOG` overrides it.
    #[arg(long, env = "DEX_LOG_LEVEL")]
    log_level: Option<String>,
    /// A file whose first line is the password of the trader keystore (keep it mode 0600).
    /// Overrides DEX_KEY_PASSWORD and `password_file`.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Accept a plain, unencrypted hex trader.key (and write a new key as plain hex):
    /// anyone who can read the file has the key. Only for throwaway keys such as a
    /// devnet's. Same as `plain_key = true`.
    #[arg(long)]
    insecure_plain_key: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("dexd: error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("dexd: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Everything resolved from the file, the environment and the flags.
struct Settings {
    config: Config,
    /// Directory relative paths of the config are resolved against.
    base: PathBuf,
    data_dir: PathBuf,
}

fn settings(cli: &Cli) -> Result<Settings> {
    // Flags over the environment over the file; --data-dir is resolved below (relative to
    // the working directory, where `data_dir` is relative to the config's).
    let mut loader = config::loader(cli.config.as_deref()).process_env();
    if let Some(listen) = cli.api_listen {
        loader = loader.flag("api.listen", "--api-listen", listen);
    }
    if !cli.p2p_listen.is_empty() {
        loader = loader.flag("p2p.listen", "--p2p-listen", &cli.p2p_listen);
    }
    if !cli.bootstrap.is_empty() {
        loader = loader.flag("p2p.bootstrap", "--bootstrap", &cli.bootstrap);
    }
    if cli.relay_server {
        loader = loader.flag("p2p.relay_server", "--relay-server", true);
    }
    if let Some(format) = cli.log_format {
        loader = loader.flag("log.format", "--log-format", format);
    }
    if let Some(level) = &cli.log_level {
        loader = loader.flag("log.level", "--log-level", level);
    }
    if cli.insecure_plain_key {
        loader = loader.flag("plain_key", dex_keyfile::PLAIN_KEY_FLAG, true);
    }
    let config: Config = loader.load()?;
    let base = cli
        .config
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."));
    let data_dir = match (&cli.data_dir, &config.data_dir) {
        (Some(dir), _) => dir.clone(),
        (None, Some(dir)) => base.join(dir),
        (None, None) => std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".p2pdex"))
            .ok_or_else(|| anyhow!("no data dir: pass --data-dir or set `data_dir`"))?,
    };
    Ok(Settings {
        config,
        base,
        data_dir,
    })
}

/// How the trader key is opened: the plain-key setting and the password sources, in the
/// order `--password-file`, `DEX_KEY_PASSWORD`, `password_file` (relative to the config's
/// directory), the terminal.
fn key_access(cli: &Cli, config: &Config, base: &Path) -> TraderKeyAccess {
    let mut passwords = dex_keyfile::PasswordSources::new(cli.password_file.clone());
    if cli.password_file.is_none()
        && !passwords.has_env()
        && let Some(file) = &config.password_file
    {
        passwords = dex_keyfile::PasswordSources::new(Some(base.join(file)));
    }
    TraderKeyAccess {
        allow_plain: config.plain_key,
        passwords,
    }
}

fn multiaddrs(what: &str, texts: &[String]) -> Result<Vec<Multiaddr>> {
    texts
        .iter()
        .map(|text| {
            text.parse()
                .map_err(|err| anyhow!("{what}: {text:?} is not a multiaddr: {err}"))
        })
        .collect()
}

fn node_config(
    config: &Config,
    markets: Markets,
    trader: dex_primitives::TraderKey,
) -> Result<NodeConfig> {
    let mut node = NodeConfig::new(markets, vec![trader]);
    node.rules = ValidationRules {
        max_clock_skew_ms: whole_millis(config.node.max_clock_skew),
        max_lifetime_ms: whole_millis(config.node.max_order_lifetime),
    };
    node.liveness.alive_interval = config.node.alive_interval;
    node.liveness.silent_after = config.node.silent_after;
    node.sync.start_peers = config.node.sync_peers;
    node.sync.root_sync_cooldown = config.node.root_sync_cooldown;
    node.caps.orders_per_maker = config.node.orders_per_maker;
    node.caps.orders_per_market = config.node.orders_per_market;
    node.caps.suspended_per_market = config.node.suspended_per_market;
    node.caps.tombstones_per_market = config.node.tombstones_per_market;
    node.caps.preallocated_orders = config.node.preallocated_orders;
    node.tick_interval = config.node.tick_interval;
    node.command_queue = config.node.command_queue;
    if let Some(threads) = config.node.verify_threads {
        node.verify_threads = threads;
    }
    node.ingest_queue = config.node.ingest_queue;
    node.event_capacity = config.node.event_capacity;
    let p2p = &config.p2p;
    let mut network = NetworkConfig {
        listen_addrs: multiaddrs("p2p.listen", &p2p.listen)?,
        bootstrap: multiaddrs("p2p.bootstrap", &p2p.bootstrap)?,
        mdns: p2p.mdns,
        kad: p2p.kad,
        relays: multiaddrs("p2p.relays", &p2p.relays)?,
        max_auto_relays: p2p.max_auto_relays,
        relay_server: p2p
            .relay_server
            .then(dex_network::RelayServerConfig::default),
        hole_punching: p2p.hole_punching,
        autonat: p2p.autonat,
        ..NetworkConfig::default()
    };
    network.connections.max_established = p2p.max_connections;
    network.connections.max_established_per_peer = p2p.max_connections_per_peer;
    network.gossip_rate = RateLimit {
        per_second: p2p.gossip_rate,
        burst: p2p.gossip_burst,
    };
    network.request_rate = RateLimit {
        per_second: p2p.request_rate,
        burst: p2p.request_burst,
    };
    network.request_timeout = p2p.request_timeout;
    network.idle_connection_timeout = p2p.idle_connection_timeout;
    if p2p.allow_loopback_colocation {
        network
            .gossip
            .score
            .ip_colocation_whitelist
            .push(std::net::IpAddr::from([127, 0, 0, 1]));
    }
    node.network = network;
    Ok(node)
}

/// Settlement from `[settlement]`: on when chains are configured. A chain whose RPC does
/// not answer does not stop the node: it relays, and trading on that chain is refused until
/// the chain answers.
fn settlement_config(config: &Config, data_dir: &Path) -> Result<Option<SettlementConfig>> {
    let settlement = &config.settlement;
    if settlement.chains.is_empty() {
        return Ok(None);
    }
    let mut chains = Vec::new();
    let mut gas_reserves = std::collections::HashMap::new();
    for (index, chain) in settlement.chains.iter().enumerate() {
        let key = format!("settlement.chains[{index}]");
        if chain.chain_id == 0 {
            bail!("{key}.chain_id is required");
        }
        if !chain.rpc_url.starts_with("http://") {
            bail!(
                "{key}.rpc_url {:?} must be a plain http:// URL (no TLS in this build; use a \
                 local node or proxy)",
                chain.rpc_url
            );
        }
        if chain.htlc.is_zero() {
            bail!("{key}.htlc (the p2pdex HTLC contract address) is required");
        }
        gas_reserves.insert(
            chain.chain_id,
            config::coin_units(&format!("{key}.gas_reserve"), &chain.gas_reserve)?,
        );
        chains.push(ChainConfig {
            chain_id: chain.chain_id,
            rpc_url: chain.rpc_url.clone(),
            htlc: chain.htlc,
            start_block: chain.start_block,
            client: dex_chain::ClientConfig {
                poll_interval: chain.poll_interval,
                rpc_timeout: chain.rpc_timeout,
                tx_timeout: chain.tx_timeout,
                max_scan_range: chain.max_scan_range,
                scan_confirmations: chain.scan_confirmations,
                max_reorg_depth: chain.max_reorg_depth,
                resend_interval: chain.resend_interval,
                fee_bump_percent: chain.fee_bump_percent,
                block_time: chain.block_time,
                max_fee_per_gas: u128::from(chain.max_fee_gwei) * 1_000_000_000,
            },
        });
    }
    let timing = &settlement.timing;
    let timing = dex_swap::Timing {
        taker_lock_secs: timing.taker_lock.as_secs(),
        maker_lock_secs: timing.maker_lock.as_secs(),
        margin_secs: timing.margin.as_secs(),
        min_claim_secs: timing.min_claim.as_secs(),
        taker_leg_confirmations: timing.taker_leg_confirmations,
        maker_leg_confirmations: timing.maker_leg_confirmations,
        retry_ms: whole_millis(timing.retry),
    };
    timing
        .validate()
        .map_err(|err| anyhow!("settlement.timing: {err}"))?;
    let mut node = SettlementConfig::new(data_dir.join(&settlement.database), chains);
    node.timing = timing;
    node.reservation = settlement.reservation;
    node.lock_margin = settlement.lock_margin;
    node.repost_failed = settlement.repost_failed;
    node.takes_per_minute = settlement.takes_per_minute;
    node.take_requests_per_peer_minute = settlement.take_requests_per_peer_minute;
    node.max_open_swaps_per_taker = settlement.max_open_swaps_per_taker;
    node.refuse_after_failures = settlement.refuse_after_failures;
    node.refuse_period = settlement.refuse_period;
    node.take_timeout = settlement.take_timeout;
    node.balance_refresh = settlement.balance_refresh;
    node.gas_reserves = gas_reserves;
    node.gas_safety_percent = settlement.gas_safety_percent;
    // The taker allows for the clock skew that orders are allowed to have.
    node.max_clock_skew = config.node.max_clock_skew;
    let problems = node.timing_problems();
    if !problems.is_empty() {
        let list: Vec<String> = problems
            .iter()
            .map(|problem| format!("  - {problem}"))
            .collect();
        bail!(
            "the settlement timing does not fit the configured chains (swaps would fail or \
             lose funds); change these values:\n{}",
            list.join("\n")
        );
    }
    Ok(Some(node))
}

async fn run(cli: Cli) -> Result<()> {
    let Settings {
        config,
        base,
        data_dir,
    } = settings(&cli)?;
    dex_logging::init(config.log.format, &config.log.level)?;
    let data = DataDir::open(&data_dir)?;
    // The config is checked before the key is opened: no password is typed for a start
    // that fails on a config error.
    let markets = config.markets(&base)?;
    let settlement = settlement_config(&config, data.path())?;
    let (trader, origin) = data.trader_key(&key_access(&cli, &config, &base))?;
    let key_path = data.path().join(dex_api::layout::TRADER_KEY);
    match origin {
        KeyOrigin::Opened => {}
        KeyOrigin::CreatedEncrypted => info!(
            address = %trader.address(),
            "created a new trader key, encrypted, in {}", key_path.display()
        ),
        KeyOrigin::CreatedPlain => warn!(
            address = %trader.address(),
            "created a new trader key as PLAIN HEX in {} (plain_key): only for throwaway keys",
            key_path.display()
        ),
    }
    let keypair = data.p2p_key()?;
    let token = data.api_token()?;
    let traders = vec![trader.address()];
    let mut node_config = node_config(&config, markets.clone(), trader)?;
    let settles = settlement.is_some();
    node_config.settlement = settlement;
    if !settles {
        info!("no chains configured: running as a relay (books replicate; no trading)");
    }
    // The API port first: if it is taken, fail before joining the network.
    let listener = TcpListener::bind(config.api.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen for the API on {} (api.listen / --api-listen)",
                config.api.listen
            )
        })?;
    let api_address = listener.local_addr().context("API listener address")?;
    let mut hash_seed = [0u8; 8];
    getrandom::getrandom(&mut hash_seed).context("no randomness for the book hashers")?;
    // One registry for every metric family `/metrics` serves: the node and its network fill
    // it here, the API adds its own.
    let mut registry = dex_node::Registry::default();
    let node = dex_node::spawn(
        node_config,
        keypair,
        Arc::new(SystemClock),
        u64::from_le_bytes(hash_seed),
        &mut registry,
    )
    .await
    .context("cannot start the node (p2p.listen / --p2p-listen)")?;
    let listen_addrs = node.network().listen_addrs().await.unwrap_or_default();
    let url = format!("http://{api_address}");
    data.write_api_url(&url)?;
    info!(
        peer_id = %node.peer_id(),
        api = %url,
        listen = ?listen_addrs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        markets = markets.len(),
        trader = %traders[0],
        data_dir = %data.path().display(),
        "dexd started"
    );
    let api = &config.api;
    let mut api_config = dex_api::ApiConfig::new(token);
    api_config.body_limit = api.body_limit;
    api_config.request_timeout = api.request_timeout;
    api_config.cors_origins = api.cors_origins.clone();
    api_config.max_book_depth = api.max_book_depth;
    api_config.ws_book_depth = api.ws_book_depth;
    api_config.ws_queue = api.ws_queue;
    api_config.ws_max_subscriptions = api.ws_max_subscriptions;
    // The names this API answers to (DNS rebinding): where it listens, the loopback names
    // with its port, and those configured.
    let port = api_address.port();
    api_config.allowed_hosts = [
        api_address.to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ]
    .into_iter()
    .chain(api.hosts.iter().cloned())
    .collect();
    let context = dex_api::NodeContext {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        markets,
        traders,
        settlement: settles,
        max_order_lifetime_ms: whole_millis(config.node.max_order_lifetime),
    };
    let state = dex_api::ApiState::new(node.clone(), context, api_config, registry);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(dex_api::serve(listener, state, async move {
        let _ = stop_rx.await;
    }));
    let signal = shutdown_signal().await;
    info!(
        signal,
        "shutting down: API closing, node stopping (swaps resume at the next start)"
    );
    let _ = stop_tx.send(());
    // Requests in flight finish; WebSocket clients are cut when the node stops.
    match tokio::time::timeout(Duration::from_secs(10), server).await {
        Ok(Ok(Err(err))) => warn!(%err, "API server error"),
        Ok(Err(err)) => warn!(%err, "API server task failed"),
        Err(_) => warn!("API requests still running after 10 s; closing anyway"),
        Ok(Ok(Ok(()))) => {}
    }
    // Waits until the node has stopped and closed its database (every write is on disk).
    if tokio::time::timeout(Duration::from_secs(30), node.shutdown())
        .await
        .is_err()
    {
        warn!("the node did not stop within 30 s; exiting anyway (swaps resume at the next start)");
    }
    data.remove_api_url();
    info!("dexd stopped");
    Ok(())
}

/// Waits for SIGINT or SIGTERM and names it.
async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        warn!("cannot install signal handlers; stop dexd with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}
