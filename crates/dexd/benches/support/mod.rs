//! What the API benchmarks share (`api.rs` and `scale.rs` include it with `#[path]`): a
//! release dexd trading on the devnet's chains, wrk runs with their result line, and the
//! placement run with its group-commit counters.

use std::{
    fs,
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

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

/// A release dexd in a temp dir (config, data dir, `dexd.log`), killed on drop.
pub(crate) struct Dexd {
    pub(crate) child: Child,
    /// Its API, found through its data dir (wrk is given its URL and token).
    pub(crate) client: Client,
    /// Also where the wrk scripts go.
    pub(crate) dir: tempfile::TempDir,
}

impl Drop for Dexd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dexd {
    /// Starts a dexd with the markets of `markets_file`, trading on the devnet's two chains
    /// with devnet trader 0's key, its caps leaving room for every order the benchmark
    /// places, dialing `bootstrap` if given. Returns once its API answers with a token.
    pub(crate) fn start(
        devnet: &Devnet,
        markets_file: &Path,
        bootstrap: Option<&str>,
    ) -> Result<Dexd, String> {
        let dir = tempfile::tempdir().map_err(|err| format!("a temp dir: {err}"))?;
        let bootstrap =
            bootstrap.map_or(String::new(), |addr| format!("bootstrap = [\"{addr}\"]\n"));
        let mut config = format!(
            r#"markets_file = "{}"
# The devnet's public anvil key, written below as plain hex.
plain_key = true
[log]
level = "warn"
[p2p]
listen = ["/ip4/127.0.0.1/tcp/0"]
{bootstrap}mdns = false
kad = false
[node]
# Room for the benchmark's placements (one maker places them all).
orders_per_maker = 10000000
orders_per_market = 10000000
command_queue = 4096
"#,
            markets_file.display()
        );
        config.push_str(&settlement_toml(devnet));
        fs::write(dir.path().join("dexd.toml"), config).map_err(io("dexd.toml"))?;
        let data = dir.path().join("data");
        fs::create_dir(&data).map_err(io("the data dir"))?;
        fs::set_permissions(&data, fs::Permissions::from_mode(0o700))
            .map_err(io("the data dir"))?;
        fs::OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(data.join("trader.key"))
            .and_then(|mut key| key.write_all(devnet.chains().traders[0].private_key.as_bytes()))
            .map_err(io("trader.key"))?;
        let log_path = dir.path().join("dexd.log");
        let log = fs::File::create(&log_path).map_err(io("dexd.log"))?;
        let child = Command::new(env!("CARGO_BIN_EXE_dexd"))
            .arg("--config")
            .arg(dir.path().join("dexd.toml"))
            .arg("--data-dir")
            .arg(&data)
            .args(["--api-listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io("dexd does not start"))?;
        let mut dexd = Dexd {
            child,
            client: Client::new("http://not-listening-yet", None),
            dir,
        };
        let child = &mut dexd.child;
        // The URL it writes once listening, or how it exited before that.
        let started =
            dex_test_utils::wait_for_blocking("dexd's API URL", Duration::from_secs(120), || {
                match child.try_wait() {
                    Ok(Some(status)) => Some(Err(status)),
                    _ => dex_client::read_url(&data).ok().flatten().map(Ok),
                }
            })
            .map_err(|err| err.to_string())?;
        let url = started.map_err(|status| {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            format!("dexd exited ({status}):\n{log}")
        })?;
        dexd.client = Client::discover(Some(&url), None, Some(&data))
            .map_err(|err| format!("dexd's data dir: {err}"))?;
        if dexd.client.token().is_none() {
            return Err("dexd wrote no API token".into());
        }
        Ok(dexd)
    }
}

/// Describes a failed file operation of [`Dexd::start`].
fn io(what: &'static str) -> impl Fn(std::io::Error) -> String {
    move |err| format!("{what}: {err}")
}

/// What one wrk run measured.
pub(crate) struct Run {
    pub(crate) rps: f64,
    pub(crate) p99_ms: f64,
    /// dexd's CPU time per answered request, in µs (both cores count).
    pub(crate) cpu_us: f64,
}

/// wrk's connections unless a run asks for more: each waits for its answer before it
/// sends again, so they are the requests in flight.
pub(crate) const CONNECTIONS: u32 = 32;

/// Runs wrk (2 threads, `connections` connections) against `path` with `script` (plus the
/// result printer) for `seconds`. Err on any non-2xx answer or socket error, or if wrk
/// cannot run.
pub(crate) fn wrk(
    name: &str,
    target: &Dexd,
    path: &str,
    script: &str,
    seconds: u64,
    connections: u32,
) -> Result<Run, String> {
    let script_path = target.dir.path().join(format!("{name}.lua"));
    fs::write(&script_path, format!("{script}\n{DONE}"))
        .map_err(|err| format!("cannot write {}: {err}", script_path.display()))?;
    let cpu_before = dex_test_utils::process::cpu_seconds(target.child.id());
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&script_path)
        .arg(format!("{}{path}", target.client.base_url()))
        .output()
        .map_err(|err| format!("cannot run wrk (scripts/bench.sh installs it): {err}"))?;
    let cpu = dex_test_utils::process::cpu_seconds(target.child.id()) - cpu_before;
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
            target.dir.path().join("dexd.log").display()
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
fn settlement_toml(devnet: &Devnet) -> String {
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

/// How a placement measurement runs: wrk's connections, and how many runs of `seconds`
/// each it takes.
#[derive(Clone, Copy)]
pub(crate) struct Placing {
    pub(crate) seconds: u64,
    pub(crate) connections: u32,
    pub(crate) rounds: usize,
}

/// One placement run's figures.
struct PlaceRound {
    run: Run,
    /// Orders per group commit.
    batch: f64,
}

/// Runs the placement script against `target` `placing.rounds` times and prints the
/// figures of the median run (by rate), each name ending in `suffix`: `api_place_rps`,
/// `api_place_p99_ms`, `api_place_cpu_us` and `api_place_batch` (orders per group commit
/// during the run). With more than one round, also `api_place_rps_min`/`_max` (and the
/// suffix): the spread, which on a shared machine is wider than the differences most
/// changes make.
pub(crate) fn place_run(target: &Dexd, placing: Placing, suffix: &str) -> Result<(), String> {
    let script = place_script(target.client.token().unwrap_or_default());
    let mut rounds = Vec::with_capacity(placing.rounds);
    for round in 0..placing.rounds.max(1) {
        let (commits_before, orders_before) = place_commits(&target.client)?;
        let run = wrk(
            &format!("place{suffix}_{round}"),
            target,
            "/v1/orders",
            &script,
            placing.seconds,
            placing.connections,
        )?;
        let (commits_after, orders_after) = place_commits(&target.client)?;
        let batch = (orders_after - orders_before) / (commits_after - commits_before).max(1.0);
        eprintln!(
            "placement round {}: {:.0} req/s, p99 {:.2} ms, {:.1} us, {batch:.1} orders/commit",
            round + 1,
            run.rps,
            run.p99_ms,
            run.cpu_us
        );
        rounds.push(PlaceRound { run, batch });
    }
    rounds.sort_by(|a, b| a.run.rps.total_cmp(&b.run.rps));
    let median = &rounds[rounds.len() / 2];
    println!("api_place_rps{suffix} {:.0} req/s", median.run.rps);
    println!("api_place_p99_ms{suffix} {:.2} ms", median.run.p99_ms);
    println!("api_place_cpu_us{suffix} {:.1} us", median.run.cpu_us);
    println!("api_place_batch{suffix} {:.1} orders/commit", median.batch);
    if rounds.len() > 1 {
        println!("api_place_rps_min{suffix} {:.0} req/s", rounds[0].run.rps);
        println!(
            "api_place_rps_max{suffix} {:.0} req/s",
            rounds[rounds.len() - 1].run.rps
        );
    }
    Ok(())
}
