//! One node at scale (DESIGN §12): a release `dexd` holding 100,000 orders in one market,
//! then 1,000,000 across ten, printed as `name value unit`:
//!
//! - `node_rss_mb_100k`, `node_rss_mb_1m`: its resident memory (VmRSS) once its books
//!   match the holder's (same digests);
//! - `scale_sync_ms_100k`, `scale_sync_ms_1m`: from its start to that moment (it syncs
//!   every market from the holder at start, verifying every signature);
//! - `api_book_rps_100k`, `api_book_p99_ms_100k`, `api_book_rps_1m`, `api_book_p99_ms_1m`:
//!   wrk against `GET /v1/markets/ETH%2FUSDC/book?depth=20` of that node (2 threads, 32
//!   connections, 10 s; `--duration N` changes it);
//! - `api_place_rps_100k`, `api_place_p99_ms_100k`, `api_place_cpu_us_100k`,
//!   `api_place_batch_100k` and the same ending in `_1m`: then wrk placing ETH/USDC asks
//!   through `POST /v1/orders` into that book, as `scripts/bench.sh api` does into a book of
//!   10,000 (same script and figures).
//!
//! The orders come from a holder node in this process (the makers' node: 100 makers, 1,000
//! orders each per market, over 500 price levels a side), signed on every core first. The
//! `dexd` trades on the devnet's two anvil chains with a devnet trader's key, so its
//! placements are real; the holder is its peer, so each placed order is gossiped to it (and
//! verified there, in this process, on the same cores). The `dexd`'s caps let it hold its
//! own placements beside the synced orders.
//!
//! Run: `scripts/bench.sh scale` (installs wrk and anvil). Takes a few minutes: a million
//! orders are signed, verified by the holder and verified again by `dexd`.

use std::{
    fs,
    sync::Arc,
    time::{Duration, Instant},
};

use dex_devnet::{ChainsConfig, Devnet};
use dex_network::{Keypair, NetworkConfig};
use dex_node::{LivenessConfig, NodeConfig, NodeHandle, SystemClock};
use dex_primitives::{MarketDef, Markets, SignedOrder, TraderKey, U256};
use dex_test_utils::{eth_usdc, trader};

const MARKETS: usize = 10;
const PER_MARKET: usize = 100_000;
const MAKERS: usize = 100;
const PER_MAKER: usize = PER_MARKET / MAKERS;

#[path = "support/mod.rs"]
mod support;

use support::Dexd;

fn fail(message: String) -> ! {
    eprintln!("bench scale: {message}");
    std::process::exit(1);
}

/// The ten markets: ETH/USDC, then nine like it with another tick (so other ids).
fn market_defs() -> Vec<MarketDef> {
    (0..MARKETS)
        .map(|index| {
            let mut def = eth_usdc();
            if index > 0 {
                def.quote_symbol = format!("USD{index}");
                def.quote_per_tick_lot = U256::from(10 + index as u64);
            }
            def
        })
        .collect()
}

fn markets_toml(defs: &[MarketDef]) -> String {
    defs.iter()
        .map(|def| {
            format!(
                "[[markets]]\nbase_symbol = \"{}\"\nbase_chain = {}\nbase_token = \"{}\"\nbase_decimals = {}\nquote_symbol = \"{}\"\nquote_chain = {}\nquote_token = \"{}\"\nquote_decimals = {}\nbase_per_lot = \"{}\"\nquote_per_tick_lot = \"{}\"\n\n",
                def.base_symbol,
                def.base_chain,
                def.base_token,
                def.base_decimals,
                def.quote_symbol,
                def.quote_chain,
                def.quote_token,
                def.quote_decimals,
                def.base_per_lot,
                def.quote_per_tick_lot,
            )
        })
        .collect()
}

async fn post_all(holder: &NodeHandle, orders: Vec<SignedOrder>) {
    for chunk in orders.chunks(1_000) {
        let mut posts = tokio::task::JoinSet::new();
        for order in chunk {
            let (holder, order) = (holder.clone(), order.clone());
            posts.spawn(async move { holder.post_order(order).await });
        }
        while let Some(result) = posts.join_next().await {
            match result {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => fail(format!("the holder refused an order: {err}")),
                Err(err) => fail(format!("a post task failed: {err}")),
            }
        }
    }
}

fn wait<T>(what: &str, deadline: Duration, check: impl FnMut() -> Option<T>) -> T {
    dex_test_utils::wait_for_blocking(what, deadline, check)
        .unwrap_or_else(|err| fail(err.to_string()))
}

/// Resident memory of a process, in MB, from `/proc/<pid>/status`.
fn rss_mb(pid: u32) -> f64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Waits until `dexd`'s book of every market in `symbols` has the holder's digest.
fn wait_synced(dexd: &Dexd, expected: &[(String, dex_primitives::B256)]) -> Duration {
    let started = Instant::now();
    wait(
        "dexd's books to match the holder's",
        Duration::from_secs(600),
        || {
            expected
                .iter()
                .all(|(symbol, digest)| {
                    dexd.client
                        .book(symbol, 1)
                        .is_ok_and(|book| book.digest == *digest)
                })
                .then_some(())
        },
    );
    started.elapsed()
}

fn main() {
    let mut seconds = 10;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--duration" {
            seconds = args
                .next()
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| fail("--duration needs whole seconds".into()));
        }
    }
    let defs = market_defs();
    let markets = Markets::new(defs.clone()).unwrap_or_else(|err| fail(format!("markets: {err}")));
    let dir = tempfile::tempdir().expect("a temp dir");
    let markets_file = dir.path().join("markets.toml");
    fs::write(&markets_file, markets_toml(&defs)).expect("markets written");
    let makers: Vec<TraderKey> = (0..MAKERS as u64).map(|m| trader(40_000 + m)).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let devnet = runtime
        .block_on(Devnet::start_chains(ChainsConfig::for_tests(
            dir.path().join("devnet"),
        )))
        .unwrap_or_else(|err| fail(format!("devnet chains: {err} (scripts/install-tools.sh)")));
    let mut config = NodeConfig::new(markets.clone(), makers.clone());
    config.network = NetworkConfig::loopback();
    config.liveness = LivenessConfig::default();
    let holder = runtime
        .block_on(dex_node::spawn(
            config,
            Keypair::generate_ed25519(),
            Arc::new(SystemClock),
            1,
            &mut dex_node::Registry::default(),
        ))
        .unwrap_or_else(|err| fail(format!("the holder: {err}")));
    let address = runtime
        .block_on(holder.network().listen_addrs())
        .ok()
        .and_then(|addrs| addrs.into_iter().next())
        .unwrap_or_else(|| fail("the holder has no listen address".into()));
    let bootstrap = dex_network::with_peer(address, holder.peer_id()).to_string();
    let peer = holder.peer_id().to_base58();
    let symbols: Vec<String> = defs
        .iter()
        .map(|def| format!("{}/{}", def.base_symbol, def.quote_symbol))
        .collect();

    let mut expected = Vec::new();
    for (stage, held) in [("100k", 1), ("1m", MARKETS)] {
        for index in expected.len()..held {
            let market = defs[index].params().id();
            let started = Instant::now();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_millis() as u64);
            let orders = dex_test_utils::signed_resting_orders(
                market, PER_MARKET, PER_MAKER, &makers, &peer, now,
            );
            let signed = started.elapsed();
            runtime.block_on(post_all(&holder, orders));
            let digest = runtime
                .block_on(holder.digest(market))
                .unwrap_or_else(|err| fail(format!("the holder's digest: {err}")));
            eprintln!(
                "(scale: market {} with {PER_MARKET} orders: signed in {:.1} s, held in {:.1} s)",
                symbols[index],
                signed.as_secs_f64(),
                (started.elapsed() - signed).as_secs_f64()
            );
            expected.push((symbols[index].clone(), digest));
        }
        let started = Instant::now();
        let dexd =
            Dexd::start(&devnet, &markets_file, Some(&bootstrap)).unwrap_or_else(|err| fail(err));
        wait_synced(&dexd, &expected);
        let synced = started.elapsed();
        let rss = rss_mb(dexd.child.id());
        println!("scale_sync_ms_{stage} {:.0} ms", synced.as_secs_f64() * 1e3);
        println!("node_rss_mb_{stage} {rss:.0} MB");
        let book = support::wrk(
            "book",
            &dexd,
            "/v1/markets/ETH%2FUSDC/book?depth=20",
            "",
            seconds,
            support::CONNECTIONS,
        )
        .unwrap_or_else(|err| fail(err));
        println!("api_book_rps_{stage} {:.0} req/s", book.rps);
        println!("api_book_p99_ms_{stage} {:.2} ms", book.p99_ms);
        wait(
            "dexd trading on both chains",
            Duration::from_secs(60),
            || support::trading(&dexd.client).then_some(()),
        );
        let placing = support::Placing {
            seconds,
            connections: support::CONNECTIONS,
            rounds: 1,
        };
        support::place_run(&dexd, placing, &format!("_{stage}")).unwrap_or_else(|err| fail(err));
        drop(dexd);
    }
    runtime.block_on(holder.shutdown());
    runtime.block_on(devnet.shutdown());
}
