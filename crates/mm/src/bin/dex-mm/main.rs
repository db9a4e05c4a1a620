//! `dex-mm --config config/mm.toml`: a market maker that quotes one market of a p2pdex node
//! through the node's REST API (DESIGN §10).
//!
//! It reads the node's URL and token from the node's data dir (or the config), cancels
//! what a previous run of it left open, then every `refresh_interval` fetches the
//! reference price, reads its open orders and swaps, runs the strategy
//! ([`dex_mm::Strategy::decide`]) and carries the decision out, logging it with its reason.
//! It cancels every quote when the price is older than `max_price_age`, when API calls
//! fail in `max_api_errors` refreshes in a row, and on SIGINT or SIGTERM before it exits
//! (a second signal exits at once; the next start cancels what is left).
//!
//! Exit status: 0 after a signal with every order cancelled; 1 on a configuration or
//! start-up error, or when orders could not all be cancelled before exit.

mod bot;
mod ledger;
mod metrics;
mod node;
mod price;
mod settings;
mod state;

use std::{
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError},
    },
    time::Duration,
};

use anyhow::{Context, Result, anyhow};
use clap::Parser;
use dex_logging::LogFormat;
use nix::sys::signal::{SigSet, Signal};
use tracing::{info, warn};

use crate::{
    bot::Bot,
    metrics::Metrics,
    node::{Endpoint, NodeClient},
    price::PriceSource,
    settings::Settings,
};

/// The p2pdex market maker.
#[derive(Debug, Parser)]
#[command(name = "dex-mm", version, about)]
struct Cli {
    /// The TOML config file (see config/mm.toml, which documents every key).
    #[arg(long, env = "DEX_MM_CONFIG")]
    config: PathBuf,
    /// Log output. Overrides `log.format`.
    #[arg(long, env = "DEX_MM_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// RUST_LOG-style filter (`info`, `dex_mm=debug`). Overrides `log.level`; `RUST_LOG`
    /// overrides it.
    #[arg(long, env = "DEX_MM_LOG_LEVEL")]
    log_level: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any thread starts, so every thread inherits the mask and only the signal
    // thread receives them.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    if let Err(err) = signals.thread_block() {
        eprintln!("dex-mm: error: cannot block SIGINT and SIGTERM: {err}");
        return ExitCode::FAILURE;
    }
    match run(cli, signals) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("dex-mm: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for SIGINT or SIGTERM on a thread: the first asks the bot to stop (it cancels its
/// orders), a second exits at once.
fn watch_signals(signals: SigSet, stop: Arc<AtomicBool>) -> Result<Receiver<()>> {
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            loop {
                let Ok(signal) = signals.wait() else { continue };
                if stop.swap(true, Ordering::SeqCst) {
                    warn!(%signal, "second signal: exiting without cancelling; the next start cancels what is left");
                    std::process::exit(130);
                }
                info!(%signal, "signal received: cancelling the bot's orders before exit");
                let _ = sender.send(());
            }
        })
        .context("cannot start the signal thread")?;
    Ok(receiver)
}

/// Runs the bot; true when it stopped with every order cancelled.
fn run(cli: Cli, signals: SigSet) -> Result<bool> {
    // Flags over the environment (`DEX_MM_<SECTION>__<KEY>`) over the file.
    let mut loader = settings::loader(&cli.config).process_env();
    if let Some(format) = cli.log_format {
        loader = loader.flag("log.format", "--log-format", format);
    }
    if let Some(level) = &cli.log_level {
        loader = loader.flag("log.level", "--log-level", level);
    }
    let settings = Settings::load(&loader, &cli.config)?;
    dex_logging::init(settings.log.format, &settings.log.level)?;
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = watch_signals(signals, stop.clone())?;

    let metrics = Arc::new(Metrics::default());
    if let Some(listen) = settings.metrics.listen {
        let bound = metrics::serve(listen, metrics.clone())
            .with_context(|| format!("cannot serve metrics on {listen}"))?;
        info!("metrics on http://{bound}/metrics");
    }

    let source =
        PriceSource::from_settings(&settings.price, &settings.market).context("in [price]")?;
    let mut node = NodeClient::new(
        Endpoint {
            url: settings.node.url.clone(),
            token: settings.node.token.clone(),
            data_dir: settings.data_dir(),
        },
        settings.node.request_timeout,
    )?;
    let refresh = settings.refresh_interval;
    let Some(info) = wait_for_market(&mut node, &settings.market, refresh, &receiver)? else {
        return Ok(true);
    };
    // The trader the node signs placed orders with: its balances are the bot's.
    let trader = node
        .info()
        .map_err(|err| anyhow!("cannot read the node's info: {err}"))?
        .traders
        .first()
        .copied()
        .ok_or_else(|| anyhow!("the node at {} holds no trader key", node.base()))?;
    let mut bot = Bot::new(&settings, node, source, &info, trader, metrics, stop)?;
    if !bot.cancel_leftovers(&receiver)? {
        return Ok(false);
    }
    Ok(bot.run(&receiver))
}

/// The market from the node, retrying while the node does not answer; `None` if a signal
/// came first.
fn wait_for_market(
    node: &mut NodeClient,
    market: &str,
    retry: Duration,
    signals: &Receiver<()>,
) -> Result<Option<dex_api::types::MarketInfo>> {
    loop {
        match node.markets() {
            Ok(markets) => {
                let found = markets.into_iter().find(|info| {
                    info.symbol.eq_ignore_ascii_case(market)
                        || info.id.to_string().eq_ignore_ascii_case(market)
                });
                return found
                    .map(Some)
                    .ok_or_else(|| anyhow!("the node at {} has no market {market}", node.base()));
            }
            Err(err) => {
                warn!("waiting for the node: {err}");
                // A node (re)starting writes its URL when it listens.
                if let Err(err) = node.reload() {
                    warn!("{err:#}");
                }
            }
        }
        match signals.recv_timeout(retry) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(None),
        }
    }
}
