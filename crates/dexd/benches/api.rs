//! API throughput of a release `dexd` under wrk (DESIGN §12), printed as `name value unit`:
//!
//! - `api_health_rps` / `api_health_p99_ms`: `GET /v1/health`, the cheapest route (it does
//!   not ask the node): the ceiling.
//! - `api_book_rps` / `api_book_p99_ms`: `GET /v1/markets/ETH%2FUSDC/book?depth=20` with
//!   10,000 resting orders in the book (placed through the API first), and
//!   `api_book_vs_health_pct`.
//! - `api_place_rps` / `api_place_p99_ms`: authenticated `POST /v1/orders` of non-crossing
//!   asks (a wrk Lua script makes each body), each signed, booked, persisted and gossiped
//!   by the node, judged against the trader's balances; the node trades on two anvil chains
//!   (dex-devnet) so placement is real.
//! - `api_place_batch`: orders per group commit during the placement run (the node stores
//!   the placements queued together in one transaction).
//! - The placement run is repeated (3 rounds; `--rounds N` changes it) and its figures are
//!   the median round's, with `api_place_rps_min`/`_max` beside them: on a shared 2-core
//!   machine the rate of one binary moves by ±20% from run to run. Each round also places
//!   into a larger database (every order placed stays in it), which costs a little more
//!   per order; stderr shows each round.
//! - The same placement figures ending in `_c128`: 128 connections instead of 32. Each
//!   connection has one request in flight, so this is the node with four times the
//!   clients queued: larger group commits, and whether the rate is bound by the clients or
//!   by the node.
//! - `api_health_cpu_us`, `api_book_cpu_us`, `api_place_cpu_us`: dexd's CPU time (user +
//!   system, both cores) per answered request of each run: what a request costs the node,
//!   whatever the machine's load.
//!
//! wrk runs with 2 threads and 32 connections (unless said otherwise) for 10 s per route
//! and round (`--duration N` changes it) on the same 2-core machine as dexd, so the figures
//! are lower bounds. Every answer is checked: a non-2xx answer fails the benchmark.
//!
//! Run: `scripts/bench.sh api` (installs wrk).

use std::{path::Path, time::Duration};

use dex_api::types::{PlaceOrderRequest, SideName, TimeInForce};
use dex_devnet::{ChainsConfig, Devnet};

#[path = "support/mod.rs"]
mod support;

use support::Dexd;

/// Resting orders in the book before the book route is measured.
const RESTING: usize = 10_000;

fn fail(message: String) -> ! {
    eprintln!("bench api: {message}");
    std::process::exit(1);
}

fn wait<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    dex_test_utils::wait_for_blocking(what, Duration::from_secs(120), check)
        .unwrap_or_else(|err| fail(err.to_string()))
}

/// Places `count` non-crossing bids (0.001 ETH at 1,000.00 to 1,999.99 USDC) through the
/// API: the resting book of the read benchmark.
fn load_book(node: &Dexd, count: usize) {
    for index in 0..count {
        let cents = 100_000 + (index * 7919) % 100_000;
        let request = PlaceOrderRequest {
            market: "ETH/USDC".into(),
            side: SideName::Buy,
            price: format!("{}.{:02}", cents / 100, cents % 100),
            quantity: "0.001".into(),
            min_fill: None,
            time_in_force: TimeInForce::Gtc,
            expires_in: None,
            client_order_id: None,
        };
        if let Err(err) = node.client.place_order(&request) {
            fail(format!("a resting order was refused: {err}"));
        }
    }
}

/// Runs wrk against `path` of `node` (see [`support::wrk`]); any failure ends the benchmark.
fn wrk(name: &str, node: &Dexd, path: &str, seconds: u64) -> support::Run {
    support::wrk(name, node, path, "", seconds, support::CONNECTIONS)
        .unwrap_or_else(|err| fail(err))
}

fn main() {
    let mut seconds = 10;
    let mut rounds = 3;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--duration" => {
                seconds = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .unwrap_or_else(|| fail("--duration needs whole seconds".into()));
            }
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|rounds| *rounds > 0)
                    .unwrap_or_else(|| fail("--rounds needs a positive whole number".into()));
            }
            // cargo bench passes `--bench`; anything else is ignored as before.
            _ => {}
        }
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let devnet = runtime
        .block_on(Devnet::start_chains(ChainsConfig::for_tests(dir.path())))
        .unwrap_or_else(|err| fail(format!("devnet chains: {err} (scripts/install-tools.sh)")));
    let markets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/markets.toml");
    let node = Dexd::start(&devnet, &markets, None).unwrap_or_else(|err| fail(err));
    wait("the node trading on both chains", || {
        support::trading(&node.client).then_some(())
    });

    let health = wrk("health", &node, "/v1/health", seconds);
    println!("api_health_rps {:.0} req/s", health.rps);
    println!("api_health_p99_ms {:.2} ms", health.p99_ms);
    println!("api_health_cpu_us {:.1} us", health.cpu_us);

    eprintln!("placing {RESTING} resting orders");
    load_book(&node, RESTING);
    let book = node
        .client
        .book("ETH/USDC", 20)
        .unwrap_or_else(|err| fail(format!("the book: {err}")));
    if book.bids.len() != 20 {
        fail(format!("the book does not have 20 bid levels: {book:?}"));
    }
    let book = wrk(
        "book",
        &node,
        "/v1/markets/ETH%2FUSDC/book?depth=20",
        seconds,
    );
    println!("api_book_rps {:.0} req/s", book.rps);
    println!("api_book_p99_ms {:.2} ms", book.p99_ms);
    println!("api_book_cpu_us {:.1} us", book.cpu_us);
    println!(
        "api_book_vs_health_pct {:.0} %",
        100.0 * book.rps / health.rps
    );

    let placing = support::Placing {
        seconds,
        connections: support::CONNECTIONS,
        rounds,
    };
    support::place_run(&node, placing, "").unwrap_or_else(|err| fail(err));
    let queued = support::Placing {
        connections: 128,
        ..placing
    };
    support::place_run(&node, queued, "_c128").unwrap_or_else(|err| fail(err));
    drop(node);
    runtime.block_on(devnet.shutdown());
}
