//! `dex-devnet`: runs the p2pdex devnet on this machine.
//!
//! - `dex-devnet chains` starts the two anvil chains, deploys the contracts, funds the
//!   traders, prints what it did and keeps running.
//! - `dex-devnet up` does that and starts the nodes (`dexd`, node `i` trading as trader `i`)
//!   connected to each other, and the market maker (`dex-mm`) on node 1, then prints how to
//!   use them and keeps running.
//! - `dex-devnet demo` does what `up` does, then trades: node 2 takes an ask of node 1
//!   through REST, each swap step is printed as the nodes record it, and the balances on
//!   both chains are checked to the base unit. It exits 0 if the swap settled exactly,
//!   1 otherwise; with `--keep-running` it then runs on like `up`.
//!
//! Ctrl-C (or SIGTERM, SIGHUP) stops everything it started, nodes before chains; a second
//! one kills at once. A child that dies is reported with its log, and the rest is stopped.
//! The hidden `guard` subcommand is how it starts its children under a parent-death signal
//! (see `dex_devnet::supervisor`).

mod up;

use std::{ffi::OsString, path::PathBuf, process::ExitCode};

use alloy_primitives::U256;
use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use dex_devnet::{
    ChainsConfig, Devnet, DevnetChains, Lifeline, MAX_TRADERS, Mining, RpcPort, USDC_DECIMALS,
    default_anvil_path, exec_guarded, format_units,
};
use tokio::signal::unix::{Signal, SignalKind, signal};

#[derive(Debug, Parser)]
#[command(
    name = "dex-devnet",
    version,
    about = "Runs the p2pdex devnet: two local anvil chains with the HTLC and a test USDC \
             deployed and the trader accounts funded."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the two chains (31337: ETH, 31338: USDC), deploy the HTLC on both and USDC on
    /// 31338, fund the traders, print it all, and run until Ctrl-C.
    Chains(ChainsArgs),
    /// The chains, the nodes (connected to each other) and the market maker on node 1;
    /// prints how to use them and runs until Ctrl-C.
    Up(NetArgs),
    /// Everything `up` starts, then a trade: node 2 takes an ask of node 1 through REST,
    /// every swap step is printed, and the balances on both chains are checked exactly.
    /// Exits 0 if the swap settled exactly, 1 if not.
    Demo(DemoArgs),
    /// Run a command under a parent-death signal (used by the devnet for its children).
    #[command(hide = true)]
    Guard {
        /// The devnet's pid: the command starts only if it is still the parent.
        #[arg(long)]
        parent: u32,
        /// The program and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<OsString>,
    },
}

#[derive(Debug, Args)]
struct ChainsArgs {
    /// Directory for chains.json (the description nodes are configured from),
    /// processes.json and the logs.
    #[arg(long, value_name = "DIR", default_value = "devnet-data")]
    data_dir: PathBuf,
    /// Seconds between blocks mined even when no transaction comes, so chain time advances
    /// and timelocks expire on a quiet chain; 0 mines only a block per transaction.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    block_time: u64,
    /// Mine only every --block-time seconds: transactions wait for the next block, as on a
    /// real chain (by default each transaction is also mined at once).
    #[arg(long)]
    interval_only: bool,
    /// Confirmations the nodes wait for before they read a block (their
    /// scan_confirmations): 1 reads each block as soon as it is mined; with --block-time and
    /// --interval-only, e.g. 3 behaves like a real chain read safely behind its head.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    confirmations: u64,
    /// The address both chains listen on: 127.0.0.1, or a network lab host's own address
    /// (scripts/netlab.sh) so that nodes on other hosts reach them.
    #[arg(long, value_name = "IPV4", default_value_t = std::net::Ipv4Addr::LOCALHOST)]
    rpc_host: std::net::Ipv4Addr,
    /// JSON-RPC port of the base chain (31337); 0 picks a free one.
    #[arg(long, value_name = "PORT", default_value_t = dex_devnet::DEFAULT_BASE_PORT)]
    base_port: u16,
    /// JSON-RPC port of the quote chain (31338); 0 picks a free one.
    #[arg(long, value_name = "PORT", default_value_t = dex_devnet::DEFAULT_QUOTE_PORT)]
    quote_port: u16,
    /// Trading accounts to fund: anvil development keys 1 to N (at most 9).
    #[arg(long, value_name = "N", default_value_t = dex_devnet::DEFAULT_TRADERS)]
    traders: usize,
    /// Whole USDC minted to each trader.
    #[arg(long, value_name = "USDC", default_value_t = dex_devnet::DEFAULT_USDC_PER_TRADER)]
    usdc_per_trader: u64,
    /// The anvil binary [default: $DEX_ANVIL, else .tools/bin/anvil, as installed by
    /// scripts/install-tools.sh]
    #[arg(long, value_name = "PATH")]
    anvil: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct NetArgs {
    #[command(flatten)]
    chains: ChainsArgs,
    /// Nodes to run (node i trades as trader i; at least 2 for the demo).
    #[arg(long, value_name = "N", default_value_t = dex_devnet::DEFAULT_NODES)]
    nodes: usize,
    /// API port of node 1 on 127.0.0.1 (node i: this + i - 1); 0 picks free ones.
    #[arg(long, value_name = "PORT", default_value_t = dex_devnet::DEFAULT_API_PORT)]
    api_port: u16,
    /// libp2p TCP port of node 1 on 127.0.0.1 (node i: this + i - 1); 0 picks free ones.
    #[arg(long, value_name = "PORT", default_value_t = dex_devnet::DEFAULT_P2P_PORT)]
    p2p_port: u16,
    /// The dexd binary [default: beside dex-devnet, or in $DEX_BIN_DIR]
    #[arg(long, value_name = "PATH")]
    dexd: Option<PathBuf>,
    /// The dex-mm binary [default: beside dex-devnet, or in $DEX_BIN_DIR]
    #[arg(long, value_name = "PATH")]
    dex_mm: Option<PathBuf>,
    /// Do not run the market maker (the demo then places a sell order on node 1 itself).
    #[arg(long)]
    no_market_maker: bool,
}

#[derive(Debug, Args)]
struct DemoArgs {
    #[command(flatten)]
    net: NetArgs,
    /// ETH node 2 buys.
    #[arg(long, value_name = "ETH", default_value = "0.1")]
    quantity: String,
    /// Without the market maker: the price of node 1's sell order (0.25 ETH), in USDC.
    #[arg(long, value_name = "USDC", default_value = "2500")]
    price: String,
    /// After the demo, keep the devnet running (like `up`) instead of stopping it.
    #[arg(long)]
    keep_running: bool,
    /// Longest wait for the swap to settle, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 180)]
    swap_timeout: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Guard { parent, command } => {
            // Only returns on failure; the message goes to the child's log.
            let error = exec_guarded(parent, &command);
            eprintln!("dex-devnet guard: {error}");
            ExitCode::from(127)
        }
        Command::Chains(args) => run(run_chains(args)),
        Command::Up(args) => run(up::run(args, None)),
        Command::Demo(args) => {
            let DemoArgs {
                net,
                quantity,
                price,
                keep_running,
                swap_timeout,
            } = args;
            let demo = up::DemoPlan {
                quantity,
                price,
                keep_running,
                swap_timeout: std::time::Duration::from_secs(swap_timeout),
            };
            run(up::run(net, Some(demo)))
        }
    }
}

fn run(work: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Progress and diagnostics on stderr: `info` from the devnet, warnings from the rest;
/// `RUST_LOG` overrides.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,dex_devnet=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .init();
}

async fn run_chains(args: ChainsArgs) -> anyhow::Result<ExitCode> {
    // Installed before anything starts, so a signal during start-up tears down too.
    let mut signals = ShutdownSignals::install()?;
    let config = chains_config(&args)?;
    let logs = config.data_dir.join(dex_devnet::LOGS_DIR);

    let started = tokio::select! {
        started = Devnet::start_chains(config) => started,
        name = signals.recv() => {
            // Dropping the start future dropped its supervisor, which killed what it had
            // started.
            eprintln!("{name} received while starting: stopped everything started so far");
            return Ok(ExitCode::from(130));
        }
    };
    let mut devnet = started.with_context(|| {
        format!(
            "starting the devnet chains failed (logs are in {})",
            logs.display()
        )
    })?;

    print_summary(&devnet).await;

    tokio::select! {
        exit = devnet.wait_for_exit() => {
            eprintln!("error: {exit}");
            eprintln!("stopping the rest of the devnet");
            devnet.shutdown().await;
            Ok(ExitCode::FAILURE)
        }
        name = signals.recv() => {
            eprintln!("{name} received: stopping the devnet (again to kill it at once)");
            tokio::select! {
                () = devnet.shutdown() => eprintln!("stopped"),
                // Dropping the shutdown future drops the devnet, which kills what is left.
                name = signals.recv() => eprintln!("{name} received again: killed everything"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub(crate) fn chains_config(args: &ChainsArgs) -> anyhow::Result<ChainsConfig> {
    if args.traders > MAX_TRADERS {
        anyhow::bail!(
            "--traders {} is too many: anvil has development keys 1 to {MAX_TRADERS} for traders",
            args.traders
        );
    }
    let mining = match (args.block_time, args.interval_only) {
        (0, true) => anyhow::bail!("--interval-only needs a --block-time of at least 1"),
        (0, false) => Mining::Instant,
        (block_time, false) => Mining::InstantAndInterval { block_time },
        (block_time, true) => Mining::Interval { block_time },
    };
    // Absolute, so the paths printed and recorded in processes.json work from anywhere.
    let data_dir = std::path::absolute(&args.data_dir)
        .with_context(|| format!("the data directory {}", args.data_dir.display()))?;
    let lifeline = match std::env::current_exe() {
        Ok(exe) => Lifeline::Guard(exe),
        Err(_) => Lifeline::detect(),
    };
    Ok(ChainsConfig {
        anvil: args.anvil.clone().unwrap_or_else(default_anvil_path),
        host: args.rpc_host,
        base_port: RpcPort::from(args.base_port),
        quote_port: RpcPort::from(args.quote_port),
        mining,
        confirmations: args.confirmations,
        traders: args.traders,
        usdc_per_trader: U256::from(args.usdc_per_trader)
            * U256::from(10u64).pow(U256::from(USDC_DECIMALS)),
        lifeline,
        ..ChainsConfig::interactive(data_dir)
    })
}

async fn print_summary(devnet: &Devnet) {
    print_chains(devnet).await;
    println!();
    println!("running; Ctrl-C stops the devnet");
}

/// The chains, contracts, market, accounts and processes, for people.
async fn print_chains(devnet: &Devnet) {
    let chains: &DevnetChains = devnet.chains();
    let market = &chains.market;
    let lot = format_units(market.base_per_lot, market.base_decimals);
    // Quote base units per whole base unit at one tick: the tick as a price.
    let tick_units = market.quote_per_tick_lot
        * U256::from(10u64).pow(U256::from(market.base_decimals))
        / market.base_per_lot;
    let tick = format_units(tick_units, market.quote_decimals);

    println!();
    println!("devnet chains are ready ({})", chains.mining);
    for (role, chain) in [("base ", &chains.base), ("quote", &chains.quote)] {
        println!(
            "  {role} chain {}  {}  HTLC {} (block {})",
            chain.chain_id, chain.rpc_url, chain.htlc, chain.htlc_block
        );
    }
    println!(
        "  {} on chain {}: {} ({} decimals)",
        chains.usdc.symbol, chains.usdc.chain_id, chains.usdc.address, chains.usdc.decimals
    );
    println!(
        "  market {}: lot {lot} {}, tick {tick} {}, id {}",
        market.symbol(),
        market.base_symbol,
        market.quote_symbol,
        market.params().id()
    );
    println!("  accounts (anvil development keys, worthless anywhere else):");
    println!("    deployer  {}", chains.deployer.address);
    for trader in &chains.traders {
        match chains.balances(trader.address).await {
            Ok(balances) => println!(
                "    trader {}  {}  {} ETH on {}, {} ETH on {}, {} USDC",
                trader.anvil_index,
                trader.address,
                format_units(balances.base_eth, 18),
                chains.base.chain_id,
                format_units(balances.quote_eth, 18),
                chains.quote.chain_id,
                format_units(balances.usdc, USDC_DECIMALS),
            ),
            Err(err) => println!(
                "    trader {}  {}  (balances unavailable: {err})",
                trader.anvil_index, trader.address
            ),
        }
    }
    println!(
        "  description (URLs, addresses, market, keys): {}",
        devnet.chains_file().display()
    );
    println!("  processes:");
    for child in devnet.processes() {
        println!(
            "    {}  pid {}  log {}",
            child.name,
            child.pid,
            child.log.display()
        );
    }
}

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP (terminal closed) all mean: tear down.
pub(crate) struct ShutdownSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl ShutdownSignals {
    pub(crate) fn install() -> anyhow::Result<ShutdownSignals> {
        let install = |kind: SignalKind| signal(kind).context("installing a signal handler");
        Ok(ShutdownSignals {
            interrupt: install(SignalKind::interrupt())?,
            terminate: install(SignalKind::terminate())?,
            hangup: install(SignalKind::hangup())?,
        })
    }

    /// Waits for the next shutdown signal and names it.
    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}
