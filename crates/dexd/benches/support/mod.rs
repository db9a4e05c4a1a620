//! What the API benchmarks share (`api.rs` and `scale.rs` include it with `#[path]`): wrk
//! runs with their result line, the script of the placement run, the settlement section of
//! a dexd config trading on the devnet's chains, and the group-commit counters.

use std::{fs, path::Path, process::Command};

use dex_client::Client;
use dex_devnet::Devnet;

/// Prints, after the run, `RESULT <requests/s> <p99 ms> <requests> <non-2xx> <socket errors>`.
const DONE: &str = r#"
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %.1f %.3f %d %d %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000,
    summary.requests, summary.errors.status, errors))
end
"#;

/// The dexd a wrk run is aimed at.
pub(crate) struct Target<'a> {
    pub(crate) client: &'a Client,
    /// Its process, whose CPU time is read around the run.
    pub(crate) pid: u32,
    /// Where the run's script goes; its `dexd.log` is named when a run fails.
    pub(crate) dir: &'a Path,
}

/// What one wrk run measured.
pub(crate) struct Run {
    pub(crate) rps: f64,
    pub(crate) p99_ms: f64,
    /// dexd's CPU time per answered request, in µs (both cores count).
    pub(crate) cpu_us: f64,
}

/// Runs wrk (2 threads, 32 connections) against `path` with `script` (plus the result
/// printer) for `seconds`. Err on any non-2xx answer or socket error, or if wrk cannot run.
pub(crate) fn wrk(
    name: &str,
    target: &Target<'_>,
    path: &str,
    script: &str,
    seconds: u64,
) -> Result<Run, String> {
    let script_path = target.dir.join(format!("{name}.lua"));
    fs::write(&script_path, format!("{script}\n{DONE}"))
        .map_err(|err| format!("cannot write {}: {err}", script_path.display()))?;
    let cpu_before = dex_test_utils::process::cpu_seconds(target.pid);
    let output = Command::new("wrk")
        .args([
            "-t2",
            "-c32",
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&script_path)
        .arg(format!("{}{path}", target.client.base_url()))
        .output()
        .map_err(|err| format!("cannot run wrk (scripts/bench.sh installs it): {err}"))?;
    let cpu = dex_test_utils::process::cpu_seconds(target.pid) - cpu_before;
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    let Some(line) = stdout.lines().find_map(|line| line.strip_prefix("RESULT ")) else {
        return Err(format!(
            "wrk printed no result: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    };
    let fields: Vec<f64> = line
        .split_whitespace()
        .map(|field| field.parse().map_err(|_| format!("wrk printed {line:?}")))
        .collect::<Result<_, _>>()?;
    let [rps, p99_ms, requests, non_2xx, socket_errors] = fields[..] else {
        return Err(format!("wrk printed {line:?}"));
    };
    if non_2xx > 0.0 || socket_errors > 0.0 || requests == 0.0 {
        return Err(format!(
            "{name}: {non_2xx} non-2xx answers and {socket_errors} socket errors in {requests} requests (see {})",
            target.dir.join("dexd.log").display()
        ));
    }
    Ok(Run {
        rps,
        p99_ms,
        cpu_us: cpu * 1e6 / requests,
    })
}

/// The wrk script of the placement run: authenticated `POST /v1/orders` of ETH/USDC asks of
/// 0.001 ETH from 3,000.00 up (above every bid the benchmarks rest), a new price each.
fn place_script(token: &str) -> String {
    format!(
        r#"
local counter = 0
request = function()
  counter = counter + 1
  local cents = 300000 + (counter * 7919 + math.random(0, 99999)) % 100000
  local body = string.format('{{"market":"ETH/USDC","side":"sell","price":"%d.%02d","quantity":"0.001"}}', math.floor(cents / 100), cents % 100)
  return wrk.format("POST", nil, {{["Authorization"] = "Bearer {token}", ["Content-Type"] = "application/json"}}, body)
end
"#
    )
}

/// The `[settlement]` section of a dexd config that trades on the devnet's two chains.
pub(crate) fn settlement_toml(devnet: &Devnet) -> String {
    let mut toml = String::from("[settlement]\n");
    for chain in [&devnet.chains().base, &devnet.chains().quote] {
        toml.push_str(&format!(
            "[[settlement.chains]]\nchain_id = {}\nrpc_url = \"{}\"\nhtlc = \"{}\"\nstart_block = {}\nscan_confirmations = 1\npoll_interval = \"200ms\"\n",
            chain.chain_id, chain.rpc_url, chain.htlc, chain.htlc_block
        ));
    }
    toml
}

/// True once the node trades on both devnet chains and has read its balances.
pub(crate) fn trading(client: &Client) -> bool {
    let (Ok(info), Ok(balances)) = (client.info(), client.balances()) else {
        return false;
    };
    info.chains_up == [31337, 31338]
        && balances
            .balances
            .iter()
            .all(|balance| balance.read_at.is_some())
}

/// The node's group commits of placements so far and the orders they stored (its
/// `dex_node_place_commits_total` and `dex_node_place_committed_orders_total`).
fn place_commits(client: &Client) -> Result<(f64, f64), String> {
    let text = client
        .metrics()
        .map_err(|err| format!("the node's metrics: {err}"))?;
    let counter = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .ok_or_else(|| format!("the metrics have no {name}"))
    };
    Ok((
        counter("dex_node_place_commits_total")?,
        counter("dex_node_place_committed_orders_total")?,
    ))
}

/// Runs the placement script against `target` and prints its figures, each name ending
/// in `suffix`: `api_place_rps`, `api_place_p99_ms`, `api_place_cpu_us` and
/// `api_place_batch` (orders per group commit during the run).
pub(crate) fn place_run(target: &Target<'_>, seconds: u64, suffix: &str) -> Result<(), String> {
    let script = place_script(target.client.token().unwrap_or_default());
    let (commits_before, orders_before) = place_commits(target.client)?;
    let placed = wrk(
        &format!("place{suffix}"),
        target,
        "/v1/orders",
        &script,
        seconds,
    )?;
    let (commits_after, orders_after) = place_commits(target.client)?;
    println!("api_place_rps{suffix} {:.0} req/s", placed.rps);
    println!("api_place_p99_ms{suffix} {:.2} ms", placed.p99_ms);
    println!("api_place_cpu_us{suffix} {:.1} us", placed.cpu_us);
    println!(
        "api_place_batch{suffix} {:.1} orders/commit",
        (orders_after - orders_before) / (commits_after - commits_before).max(1.0)
    );
    Ok(())
}
