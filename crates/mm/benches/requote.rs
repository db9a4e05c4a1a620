//! Requote latency: from a price change at the bot's HTTP price source to the new ladder
//! being visible in the book of another node. The same real setup as the black-box tests
//! (two anvil chains, two `dexd`, the `dex-mm` binary), release builds.
//!
//! `cargo bench -p dex-mm --bench requote -- [--changes 20] [--refresh-ms 100]`, or
//! `scripts/bench.sh mm`. Prints `name value unit` lines:
//!
//! - `mm_requote_ms_median`: median over the changes;
//! - `mm_requote_ms_p90`, `mm_requote_ms_max`;
//! - `mm_refresh_interval_ms`: the bot's refresh interval, which bounds how late it sees
//!   a change (about half of it on average: the changes are spread over the interval).

#[path = "../tests/it/harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use harness::{DEADLINE, Exchange, PriceServer, bot_config, ladder, wait_until};

fn argument(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|arg| arg == name)
        .and_then(|index| args.get(index + 1))
        .map(|value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, not {value:?}"))
        })
        .unwrap_or(default)
}

fn main() {
    let changes = argument("--changes", 20).max(1);
    let refresh_ms = argument("--refresh-ms", 100).max(1);
    eprintln!("starting two anvil chains, two dexd and dex-mm (refresh {refresh_ms} ms)");
    let mut exchange = Exchange::start();
    let server = PriceServer::start(r#"{"price": "2500"}"#);
    let state_file = exchange.dir().join("mm-bench.json");
    let config = bot_config(
        &server.url("/price"),
        &state_file,
        refresh_ms,
        10_000,
        false,
    );
    exchange.start_bot("mm", &config);
    wait_until(
        "the first ladder on node B",
        DEADLINE,
        || exchange.log("mm"),
        || (exchange.taker.levels() == ladder(2500)).then_some(()),
    );

    let mut latencies = Vec::with_capacity(changes as usize);
    for change in 0..changes {
        // 40 bps moves: far beyond the tolerance, so the whole ladder is replaced.
        let mid = if change % 2 == 0 { 2510 } else { 2500 };
        let expected = ladder(mid);
        // The previous ladder showed just after a refresh: changing the price right away
        // would always land the same time before the next one. Spread the changes over
        // the refresh interval (golden-ratio steps), as real price moves are.
        let phase = (change * 618 % 1000) * refresh_ms / 1000;
        std::thread::sleep(Duration::from_millis(phase));
        server.set(&format!(r#"{{"price": "{mid}"}}"#));
        let changed = Instant::now();
        loop {
            if exchange.taker.levels() == expected {
                break;
            }
            assert!(
                changed.elapsed() < DEADLINE,
                "the ladder around {mid} never showed on node B\n{}",
                exchange.log("mm")
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let took = changed.elapsed();
        eprintln!(
            "change {}: {:.1} ms",
            change + 1,
            took.as_secs_f64() * 1000.0
        );
        latencies.push(took);
    }
    latencies.sort();
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let at = |quantile: f64| {
        let index = ((latencies.len() - 1) as f64 * quantile).round() as usize;
        latencies[index]
    };
    let median = if latencies.len() % 2 == 0 {
        (ms(latencies[latencies.len() / 2 - 1]) + ms(latencies[latencies.len() / 2])) / 2.0
    } else {
        ms(latencies[latencies.len() / 2])
    };
    println!("mm_requote_ms_median {median:.1} ms");
    println!("mm_requote_ms_p90 {:.1} ms", ms(at(0.9)));
    println!(
        "mm_requote_ms_max {:.1} ms",
        ms(*latencies.last().expect("at least one change"))
    );
    println!("mm_refresh_interval_ms {refresh_ms} ms");
}
