//! `dex-devnet up` and `dex-devnet demo`: the chains, the nodes, the market maker, and the
//! demo trade, with what a person needs to follow and use them.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::{Context as _, bail};
use dex_api::types::{SideName, TimeInForce};
use dex_devnet::{
    Devnet, DevnetChains, DevnetError, DevnetNode, MarketMakerConfig, NodePorts, NodesConfig,
    default_binary_path,
    demo::{self, BalanceCheck, Party, Snapshot},
    format_units,
};

use crate::{NetArgs, ShutdownSignals, chains_config, print_chains};

/// Waits for orders and books.
const BOOK_WAIT: Duration = Duration::from_secs(60);
/// Exit code after an interrupted start or demo (128 + SIGINT).
const INTERRUPTED: u8 = 130;

/// What `dex-devnet demo` trades.
#[derive(Debug)]
pub(crate) struct DemoPlan {
    /// ETH node 2 buys.
    pub(crate) quantity: String,
    /// Price of node 1's sell order when no market maker quotes.
    pub(crate) price: String,
    /// Run on after the demo.
    pub(crate) keep_running: bool,
    /// Longest wait for the swap.
    pub(crate) swap_timeout: Duration,
}

/// How a phase ended when it did not simply finish.
enum Stop {
    /// A shutdown signal, by name.
    Signal(&'static str),
    /// A child died.
    ChildDied(Box<dex_devnet::ChildExit>),
}

pub(crate) async fn run(mut args: NetArgs, demo: Option<DemoPlan>) -> anyhow::Result<ExitCode> {
    // Installed before anything starts, so a signal during start-up tears down too.
    let mut signals = ShutdownSignals::install()?;
    if demo.is_some() && args.nodes < 2 {
        bail!(
            "the demo needs at least 2 nodes (node 2 takes from node 1), not --nodes {}",
            args.nodes
        );
    }
    args.chains.traders = args.chains.traders.max(args.nodes);
    let ports = match (args.api_port, args.p2p_port) {
        (0, 0) => NodePorts::Ephemeral,
        (0, _) | (_, 0) => bail!("--api-port and --p2p-port are both 0 (ephemeral) or both fixed"),
        (api, p2p) => NodePorts::Fixed { api, p2p },
    };
    let dexd = args
        .dexd
        .clone()
        .unwrap_or_else(|| default_binary_path("dexd"));
    if !dexd.is_file() {
        return Err(DevnetError::BinaryMissing {
            name: "dexd",
            path: dexd,
        }
        .into());
    }
    let market_maker = market_maker(&args)?;
    let config = chains_config(&args.chains)?;
    let data_dir = config.data_dir.clone();
    let logs = data_dir.join(dex_devnet::LOGS_DIR);
    let nodes_config = NodesConfig {
        count: args.nodes,
        ports,
        ..NodesConfig::interactive(dexd)
    };

    let started = tokio::select! {
        started = Devnet::start_chains(config) => started,
        name = signals.recv() => {
            // Dropping the start future dropped its supervisor, which killed what it had
            // started.
            eprintln!("{name} received while starting: stopped everything started so far");
            return Ok(ExitCode::from(INTERRUPTED));
        }
    };
    let mut devnet = started.with_context(|| {
        format!(
            "starting the devnet chains failed (logs are in {})",
            shown(&logs).display()
        )
    })?;

    let code = match drive(&mut devnet, &mut signals, nodes_config, market_maker, demo).await {
        Ok(code) => code,
        Err(Stop::Signal(name)) => {
            eprintln!("{name} received: stopping the devnet (again to kill it at once)");
            ExitCode::from(INTERRUPTED)
        }
        Err(Stop::ChildDied(exit)) => {
            eprintln!("error: {exit}");
            eprintln!(
                "stopping the rest of the devnet; all logs are in {}",
                shown(&logs).display()
            );
            ExitCode::FAILURE
        }
    };
    tokio::select! {
        () = devnet.shutdown() => eprintln!("stopped everything the devnet started"),
        // Dropping the shutdown future drops the devnet, which kills what is left.
        name = signals.recv() => eprintln!("{name} received again: killed everything"),
    }
    Ok(code)
}

/// The market maker's binary, unless it is not wanted or not built (then the devnet runs
/// without it and the demo places node 1's ask itself).
fn market_maker(args: &NetArgs) -> anyhow::Result<Option<PathBuf>> {
    if args.no_market_maker {
        return Ok(None);
    }
    match &args.dex_mm {
        Some(path) if path.is_file() => Ok(Some(path.clone())),
        Some(path) => Err(DevnetError::BinaryMissing {
            name: "dex-mm",
            path: path.clone(),
        }
        .into()),
        None => {
            let path = default_binary_path("dex-mm");
            if path.is_file() {
                Ok(Some(path))
            } else {
                eprintln!(
                    "note: dex-mm is not built ({} is missing): running without the market \
                     maker",
                    shown(&path).display()
                );
                Ok(None)
            }
        }
    }
}

/// Starts the nodes and the market maker, runs the demo if asked, and keeps running when
/// asked to. Returns the exit code, or why it stopped early.
async fn drive(
    devnet: &mut Devnet,
    signals: &mut ShutdownSignals,
    nodes_config: NodesConfig,
    market_maker: Option<PathBuf>,
    demo: Option<DemoPlan>,
) -> Result<ExitCode, Stop> {
    let logs = devnet.data_dir().join(dex_devnet::LOGS_DIR);
    let failed = |what: &str, err: &dyn std::fmt::Display| {
        eprintln!("error: {what}: {err}");
        eprintln!("all logs are in {}", shown(&logs).display());
        ExitCode::FAILURE
    };
    let started = tokio::select! {
        started = devnet.start_nodes(nodes_config) => started,
        name = signals.recv() => return Err(Stop::Signal(name)),
    };
    if let Err(err) = started {
        return Ok(failed("starting the nodes failed", &err));
    }
    let market_maker_running = match market_maker {
        Some(path) => {
            let started = tokio::select! {
                started = devnet.start_market_maker(MarketMakerConfig::new(path)) => started,
                name = signals.recv() => return Err(Stop::Signal(name)),
            };
            if let Err(err) = started {
                return Ok(failed("starting the market maker failed", &err));
            }
            true
        }
        None => false,
    };

    println!();
    print_chains(devnet).await;
    print_nodes(devnet, market_maker_running);

    if let Some(plan) = &demo {
        let chains = devnet.chains().clone();
        let (maker, taker) = match (devnet.node(1), devnet.node(2)) {
            (Ok(maker), Ok(taker)) => (maker.clone(), taker.clone()),
            _ => return Ok(failed("the demo", &"it needs nodes 1 and 2")),
        };
        let result = tokio::select! {
            result = run_demo(&chains, &maker, &taker, plan, market_maker_running) => result,
            exit = devnet.wait_for_exit() => return Err(Stop::ChildDied(Box::new(exit))),
            name = signals.recv() => return Err(Stop::Signal(name)),
        };
        match result {
            Ok(true) => {}
            Ok(false) => {
                eprintln!(
                    "error: the demo swap did not settle exactly (see above); the nodes' logs \
                     are in {}",
                    shown(&logs).display()
                );
                return Ok(ExitCode::FAILURE);
            }
            Err(err) => return Ok(failed("the demo failed", &err)),
        }
        if !plan.keep_running {
            return Ok(ExitCode::SUCCESS);
        }
    }

    print_usage(devnet);
    tokio::select! {
        exit = devnet.wait_for_exit() => Err(Stop::ChildDied(Box::new(exit))),
        name = signals.recv() => {
            eprintln!("{name} received: stopping the devnet (again to kill it at once)");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Node 2 takes an ask of node 1 (the market maker's, or one placed here) through REST;
/// prints each swap step and the balances; true if the swap settled and every balance moved
/// by exactly the traded amounts.
async fn run_demo(
    chains: &DevnetChains,
    maker: &DevnetNode,
    taker: &DevnetNode,
    plan: &DemoPlan,
    market_maker: bool,
) -> Result<bool, DevnetError> {
    let (maker_api, taker_api) = (maker.client(), taker.client());
    let symbol = &chains.market.quote_symbol;
    println!();
    println!("== demo: node 2 buys ETH from node 1 through REST, settled by an atomic swap ==");
    let limit = if market_maker {
        println!("waiting for the market maker's asks to reach node 2's book");
        None
    } else {
        println!(
            "node 1 places a sell order: 0.25 ETH at {} {symbol}  (POST {}/v1/orders)",
            plan.price, maker.api_url
        );
        let request = demo::order_request(
            chains,
            SideName::Sell,
            &plan.price,
            "0.25",
            TimeInForce::Gtc,
        )?;
        let order = demo::place_order(&maker_api, &request, BOOK_WAIT).await?;
        println!("  order {} is open", order.order_id);
        Some(plan.price.as_str())
    };
    let ask = demo::wait_for_ask(&taker_api, chains, limit, None, BOOK_WAIT).await?;
    println!(
        "node 2 sees the best ask in its book: {} ETH at {} {symbol}  (GET {}/v1/markets/{{market}}/book)",
        ask.quantity, ask.price, taker.api_url
    );

    let accounts = [maker.trader.address, taker.trader.address];
    let before = Snapshot::take(chains, &accounts).await?;
    println!();
    println!("balances before:");
    print_balances(chains, &before, maker, taker);

    println!();
    println!(
        "node 2 buys {} ETH at up to {} {symbol}, immediate-or-cancel  (POST {}/v1/orders)",
        plan.quantity, ask.price, taker.api_url
    );
    let since = demo::now_ms();
    let request = demo::order_request(
        chains,
        SideName::Buy,
        &ask.price,
        &plan.quantity,
        TimeInForce::Ioc,
    )?;
    let order = demo::place_order(&taker_api, &request, BOOK_WAIT).await?;
    let swaps = demo::wait_for_swaps(&taker_api, &order.order_id.to_string(), BOOK_WAIT).await?;
    let swap_ids: Vec<String> = swaps.iter().map(|swap| swap.swap_id.to_string()).collect();
    for swap in &swaps {
        println!(
            "  order {} matched: swap {} for {} ETH at {} {symbol}",
            order.order_id, swap.swap_id, swap.quantity, swap.price
        );
    }
    println!("swap steps, as the nodes record them (GET /v1/swaps/{{id}} on both):");
    let parties = [
        Party {
            label: "node 2 (taker)".into(),
            client: taker_api.clone(),
        },
        Party {
            label: "node 1 (maker)".into(),
            client: maker_api.clone(),
        },
    ];
    let ends = demo::follow_swaps(
        chains,
        &parties,
        &swap_ids,
        since,
        plan.swap_timeout,
        &mut |line| println!("  {line}"),
    )
    .await?;
    let settled = ends.iter().all(|end| end.outcome == "completed");
    for end in &ends {
        println!("  {}: swap {} {}", end.label, end.swap.swap_id, end.outcome);
    }
    let taker_swaps: Vec<_> = ends
        .iter()
        .filter(|end| end.label == parties[0].label)
        .map(|end| end.swap.clone())
        .collect();

    let after = Snapshot::take(chains, &accounts).await?;
    let check = BalanceCheck::new(
        chains,
        ("trader 2", taker.trader.address),
        ("trader 1", maker.trader.address),
        &taker_swaps,
        &before,
        &after,
    )
    .await?;
    println!();
    println!(
        "balances after: node 2 bought {} ETH for {} {symbol}; native coins also pay gas",
        format_units(check.base_amount, 18),
        format_units(check.quote_amount, chains.usdc.decimals)
    );
    for row in check.table() {
        println!("{row}");
    }
    println!();
    let exact = check.exact();
    match (settled, exact) {
        (true, true) => println!(
            "demo: the swap settled and every balance moved by exactly the traded amounts \
             (native coins net of gas)"
        ),
        (false, _) => println!("demo: FAILED: the swap did not complete on both nodes"),
        (true, false) => println!("demo: FAILED: a balance did not move by the traded amount"),
    }
    Ok(settled && exact)
}

fn print_balances(
    chains: &DevnetChains,
    snapshot: &Snapshot,
    maker: &DevnetNode,
    taker: &DevnetNode,
) {
    for (label, node) in [("trader 1 (node 1)", maker), ("trader 2 (node 2)", taker)] {
        if let Some((_, balances)) = snapshot
            .balances
            .iter()
            .find(|(owner, _)| *owner == node.trader.address)
        {
            println!(
                "  {label}  {} ETH on {}, {} {} and {} ETH on {}",
                format_units(balances.base_eth, 18),
                chains.base.chain_id,
                format_units(balances.usdc, chains.usdc.decimals),
                chains.usdc.symbol,
                format_units(balances.quote_eth, 18),
                chains.quote.chain_id,
            );
        }
    }
}

fn print_nodes(devnet: &Devnet, market_maker: bool) {
    println!("  nodes (node i trades as trader i):");
    for node in devnet.nodes() {
        println!(
            "    node {}  trader {}  API {}  peer {}",
            node.index, node.trader.address, node.api_url, node.peer_id
        );
        println!(
            "            data dir {} (api.url, api.token)  log {}",
            shown(&node.data_dir).display(),
            shown(&node.log).display()
        );
    }
    if market_maker {
        println!(
            "  market maker: dex-mm quoting ETH/USDC on node 1  config {}  log {}",
            shown(&devnet.data_dir().join(dex_devnet::MARKET_MAKER_CONFIG)).display(),
            shown(
                &devnet
                    .data_dir()
                    .join(dex_devnet::LOGS_DIR)
                    .join("dex-mm.log")
            )
            .display()
        );
    }
}

/// How to use the running devnet.
fn print_usage(devnet: &Devnet) {
    let dexctl = shown(&default_binary_path("dexctl"));
    let dexctl = dexctl.display();
    let nodes = devnet.nodes();
    let dir = |index: usize| {
        nodes
            .get(index - 1)
            .map(|node| shown(&node.data_dir).display().to_string())
            .unwrap_or_default()
    };
    let url = |index: usize| {
        nodes
            .get(index - 1)
            .map(|node| node.api_url.clone())
            .unwrap_or_default()
    };
    println!();
    println!(
        "the trading page of each node, in a browser on this machine (each link carries the \
         node's API token after '#', which the browser keeps to itself; `dexctl ui` prints it):"
    );
    for node in nodes {
        println!("  node {}: {}", node.index, node.page_link());
    }
    println!();
    println!(
        "the devnet is running; try it (dexctl reads the API URL and token from a node's data dir):"
    );
    println!("  {dexctl} --data-dir {} info", dir(1));
    println!("  {dexctl} --data-dir {} book ETH/USDC", dir(2));
    println!(
        "  {dexctl} --data-dir {} order place --market ETH/USDC --side sell --price 2600 --quantity 0.5",
        dir(1)
    );
    println!(
        "  {dexctl} --data-dir {} order place --market ETH/USDC --side buy --price 2600 --quantity 0.1 --ioc",
        dir(2)
    );
    println!("  {dexctl} --data-dir {} swaps", dir(2));
    println!("or with curl (the token is in <data dir>/api.token):");
    println!("  curl -s {}/v1/markets/ETH%2FUSDC/book", url(2));
    println!(
        "  curl -s -H \"Authorization: Bearer $(cat {}/api.token)\" {}/v1/swaps",
        dir(2),
        url(2)
    );
    println!(
        "chains: {} (ETH) and {} (USDC), contracts and the traders' keys in {}",
        devnet.chains().base.rpc_url,
        devnet.chains().quote.rpc_url,
        shown(&devnet.chains_file()).display()
    );
    println!(
        "logs: {}",
        shown(&devnet.data_dir().join(dex_devnet::LOGS_DIR)).display()
    );
    println!("Ctrl-C stops the devnet and everything it started");
}

/// A path relative to the working directory when it is inside it (shorter to read and to
/// paste).
fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_owned))
        .filter(|relative| !relative.as_os_str().is_empty())
        .unwrap_or_else(|| path.to_owned())
}
