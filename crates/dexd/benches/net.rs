//! Order propagation across real hosts (DESIGN §12): 30 release `dexd`, each on a host of
//! its own in a network lab (crates/netlab: network namespaces on one switch, real TCP
//! between them), against bare gossipsub on 30 more hosts of the same lab. Prints
//! `name value unit`:
//!
//! - `net_p50_ms_30`, `net_p99_ms_30`: time from posting an order to a node's API
//!   (`POST /v1/orders/signed`) until it is in the book of the last of the 30 nodes, as each
//!   node's WebSocket channel `book:ETH/USDC` reports its insertion;
//! - `net_bytes_per_order_per_node`: bytes the hosts sent on their links while the orders
//!   were published and spread, per order and per node;
//! - `net_bare_p50_ms_30`, `net_bare_p99_ms_30`, `net_bare_bytes_per_order_per_node`: the
//!   same with bare gossipsub: on each host one process of this binary (a hidden
//!   sub-command) running only dex-network's swarm (same transports, same gossipsub
//!   settings, same Kademlia discovery from the same bootstrap nodes) that accepts every
//!   message at once and decodes nothing; it publishes the same orders' messages (same
//!   size and shape, signed by stand-in traders);
//! - `net_p99_vs_bare`, `net_bytes_vs_bare`: the ratios (goals: at most 2 and 1.5).
//!
//! Workload: 100 orders/s (`--rate R`) posted round-robin on 5 of the nodes, 1,000 orders
//! (`--orders N`; `--quick`: 200). Every node dials the first two as bootstrap (Kademlia on,
//! no mDNS); measuring starts once every node has 4 peers and warm-up orders reached every
//! node. Receipts are timestamped with CLOCK_MONOTONIC (every process runs on this machine):
//! by this process when a node's WebSocket delta arrives, by the bare process when gossipsub
//! hands it the message. An order that never reaches every node counts as infinitely late.
//! The machine may be shared, so the pair runs twice in mirrored order (bare, ours, ours,
//! bare) and each variant reports its run with the lower p99; every run's figures, with the
//! latency of single arrivals besides the last, go to stderr. `--only ours|bare` runs one
//! variant once (for profiling).
//!
//! Bytes are the sum of the hosts' `wan` transmit counters (`/proc/thread-self/net/dev` read
//! inside each host) from the first publication to the last arrival: they include what the
//! network does besides the orders meanwhile (gossipsub heartbeats and IHAVE, Kademlia,
//! identify, dexd's alive messages), as a deployment would.
//!
//! Needs root, `ip` and `nft` (`scripts/bench.sh net` installs nftables). Nothing leaves the
//! lab's namespaces; the lab and every process are removed on every exit path, Ctrl-C and
//! SIGTERM included.

use std::{
    collections::HashMap,
    fs,
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, ChildStdin, ExitCode, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use dex_netlab::{Host, Lab};
use dex_network::{Acceptance, Multiaddr, NetworkConfig, NetworkEvent};
use dex_primitives::{Lots, Order, Side, SignedOrder, Ticks, TraderKey};
use dex_protocol::{ALIVE_TOPIC, GossipMessage, WireMessage, market_topic};

/// Hosts of each variant.
const NODES: usize = 30;
/// Nodes that orders are posted to, round-robin: every sixth.
const PUBLISHERS: usize = 5;
/// The first nodes, which every other node dials at start.
const BOOTSTRAP: usize = 2;
/// Every node listens on this port, TCP and QUIC (each host is a machine of its own).
const P2P_PORT: u16 = 7781;
const DEFAULT_ORDERS: usize = 1_000;
const QUICK_ORDERS: usize = 200;
const DEFAULT_RATE: u64 = 100;
/// Orders published (and awaited everywhere) before measuring: two per publisher.
const WARMUP: usize = 2 * PUBLISHERS;
/// Connected peers every node has before the warm-up (the gossipsub mesh's low mark).
const READY_PEERS: usize = 4;
/// Longest wait for any one condition (start, peers, arrivals after the last publication).
const DEADLINE: Duration = Duration::from_secs(120);
/// The hidden sub-command that runs a bare gossipsub node.
const BARE_NODE: &str = "__bare-node";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.first().map(String::as_str) == Some(BARE_NODE) {
        bare::node(&args[1..])
    } else {
        run(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // What failed then is only the nodes being stopped.
        Err(_) if signals::interrupted() => ExitCode::from(130),
        Err(err) => {
            eprintln!("bench net: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// What is measured: real dexd, or bare gossipsub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Ours,
    Bare,
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Variant::Ours => "ours",
            Variant::Bare => "bare",
        })
    }
}

/// What the command line asks for.
#[derive(Debug)]
struct Options {
    orders: usize,
    rate: u64,
    /// `--only ours|bare`: one run of one variant (for profiling); no ratios.
    only: Option<Variant>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options {
            orders: DEFAULT_ORDERS,
            rate: DEFAULT_RATE,
            only: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--orders" | "--rate" => {
                    let value: u64 = args
                        .next()
                        .and_then(|value| value.parse().ok())
                        .filter(|value| *value > 0)
                        .with_context(|| format!("{arg} needs a positive whole number"))?;
                    if arg == "--orders" {
                        options.orders = value as usize;
                    } else {
                        options.rate = value;
                    }
                }
                "--quick" => options.orders = QUICK_ORDERS,
                "--only" => {
                    options.only = Some(match args.next().map(String::as_str) {
                        Some("ours") => Variant::Ours,
                        Some("bare") => Variant::Bare,
                        _ => bail!("--only takes ours or bare"),
                    });
                }
                // cargo bench passes --bench to every benchmark binary.
                "--bench" => {}
                other => {
                    bail!("unknown option {other:?} (--orders N, --rate R, --quick, --only V)")
                }
            }
        }
        Ok(options)
    }

    fn interval_ns(&self) -> u64 {
        1_000_000_000 / self.rate
    }
}

fn run(args: &[String]) -> Result<()> {
    let options = Options::parse(args)?;
    Lab::available().map_err(|err| anyhow!("{err}: run it as root with scripts/bench.sh net"))?;
    signals::watch()?;
    let started = Instant::now();
    let mut lab = Lab::new()?;
    let ours_hosts = (0..NODES)
        .map(|index| lab.public_host(&format!("d{index}")))
        .collect::<Result<Vec<_>, _>>()?;
    let bare_hosts = (0..NODES)
        .map(|index| lab.public_host(&format!("b{index}")))
        .collect::<Result<Vec<_>, _>>()?;
    pin_neighbours(&ours_hosts)?;
    pin_neighbours(&bare_hosts)?;
    eprintln!(
        "({} orders at {}/s on {PUBLISHERS} of {NODES} nodes, each variant)",
        options.orders, options.rate
    );
    // Each variant's messages: the same orders, signed by stand-in traders and peers.
    let payloads = stand_in_payloads(&options)?;
    // The machine may be shared: run the pair twice in mirrored order (bare, ours, ours,
    // bare) so that both see the same load, and keep each one's less disturbed run (lower
    // p99), as the in-process gossip benchmark does.
    let runs: &[Variant] = match options.only {
        Some(Variant::Ours) => &[Variant::Ours],
        Some(Variant::Bare) => &[Variant::Bare],
        None => &[Variant::Bare, Variant::Ours, Variant::Ours, Variant::Bare],
    };
    let (mut ours, mut bare): (Option<Figures>, Option<Figures>) = (None, None);
    for variant in runs {
        let (figures, best) = match variant {
            Variant::Ours => (ours::measure(&ours_hosts, &options)?, &mut ours),
            Variant::Bare => (bare::measure(&bare_hosts, &options, &payloads)?, &mut bare),
        };
        eprintln!("({variant}: {figures})");
        if best
            .as_ref()
            .is_none_or(|best| figures.latencies.p99_ms < best.latencies.p99_ms)
        {
            *best = Some(figures);
        }
    }

    if let Some(ours) = &ours {
        println!("net_p50_ms_30 {:.2} ms", ours.latencies.p50_ms);
        println!("net_p99_ms_30 {:.2} ms", ours.latencies.p99_ms);
        println!(
            "net_bytes_per_order_per_node {:.0} bytes",
            ours.bytes_per_order_per_node
        );
    }
    if let Some(bare) = &bare {
        println!("net_bare_p50_ms_30 {:.2} ms", bare.latencies.p50_ms);
        println!("net_bare_p99_ms_30 {:.2} ms", bare.latencies.p99_ms);
        println!(
            "net_bare_bytes_per_order_per_node {:.0} bytes",
            bare.bytes_per_order_per_node
        );
    }
    if let (Some(ours), Some(bare)) = (&ours, &bare) {
        println!(
            "net_p99_vs_bare {:.2} x",
            ours.latencies.p99_ms / bare.latencies.p99_ms
        );
        println!(
            "net_bytes_vs_bare {:.2} x",
            ours.bytes_per_order_per_node / bare.bytes_per_order_per_node
        );
    }
    drop(lab);
    eprintln!("(wall time {:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// The figures of one run of a variant.
#[derive(Debug)]
struct Figures {
    latencies: Latencies,
    bytes_per_order_per_node: f64,
    /// The measuring window: first publication to last arrival (or the deadline).
    window: Duration,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let latencies = &self.latencies;
        write!(
            f,
            "last arrival p50 {:.2} ms, p99 {:.2} ms; each arrival p50 {:.2} ms, p90 {:.2} ms; \
             {:.0} bytes per order per node; {} orders missing somewhere; window {:.1} s",
            latencies.p50_ms,
            latencies.p99_ms,
            latencies.each_p50_ms,
            latencies.each_p90_ms,
            self.bytes_per_order_per_node,
            latencies.missing,
            self.window.as_secs_f64()
        )
    }
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine.
fn now_ns() -> u64 {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always readable");
    now.tv_sec() as u64 * 1_000_000_000 + now.tv_nsec() as u64
}

fn sleep_until_ns(at: u64) {
    let now = now_ns();
    if at > now {
        std::thread::sleep(Duration::from_nanos(at - now));
    }
}

/// Polls `check` until it answers `Some`; fails after `deadline` or on Ctrl-C.
fn wait_until<T>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    Ok(dex_test_utils::wait_for_blocking(what, deadline, || {
        if signals::interrupted() {
            bail!("interrupted");
        }
        check()
    })?)
}

/// Gives every host a permanent neighbour entry (IP to MAC) for every other host. The
/// kernel's ARP table is one for the whole machine, every namespace included, and holds at
/// most `gc_thresh3` (1,024 by default) learnt entries: 30 hosts that each talk to 29 others
/// nearly fill it, 60 overflow it, and a host whose neighbours cannot be learnt sends no
/// SYN at all. Permanent entries do not count against that limit (nor take room from
/// anything else on the machine), and hosts on the internet do not ARP each other either.
fn pin_neighbours(hosts: &[Host]) -> Result<()> {
    let mut macs = Vec::new();
    for host in hosts {
        // `ip netns exec` mounts the host's own /sys.
        let output = host
            .command("cat")
            .arg("/sys/class/net/wan/address")
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            bail!("cannot read the MAC address of {host}");
        }
        macs.push(String::from_utf8(output.stdout)?.trim().to_owned());
    }
    for host in hosts {
        let batch: String = hosts
            .iter()
            .zip(&macs)
            .filter(|(other, _)| other.ip != host.ip)
            .map(|(other, mac)| {
                format!(
                    "neigh replace {} lladdr {mac} dev wan nud permanent\n",
                    other.ip
                )
            })
            .collect();
        let mut child = host
            .command("ip")
            .args(["-batch", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .context("a piped stdin")?
            .write_all(batch.as_bytes())?;
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "cannot pin the neighbours of {host}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    Ok(())
}

/// The bytes `host` has sent on its link to the switch.
fn wan_tx_bytes(host: &Host) -> Result<u64> {
    // /proc/thread-self: the namespace of this thread (inside the host), where /proc/self
    // and /sys would show the process's own.
    let text = host.within(|| fs::read_to_string("/proc/thread-self/net/dev"))??;
    let line = text
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("wan:"))
        .with_context(|| format!("no wan link on {host}"))?;
    // Receive: bytes packets errs drop fifo frame compressed multicast; then transmit bytes.
    line.split_whitespace()
        .nth(8)
        .and_then(|field| field.parse().ok())
        .with_context(|| format!("unreadable counters of {host}: {line}"))
}

fn total_tx_bytes(hosts: &[Host]) -> Result<u64> {
    hosts.iter().map(wan_tx_bytes).sum()
}

/// The bootstrap addresses of node `index`, given the addresses of the nodes before it.
fn bootstrap_for(index: usize, addresses: &[String]) -> Vec<String> {
    addresses[..index.min(BOOTSTRAP)].to_vec()
}

fn address(host: &Host, peer_id: &str) -> String {
    format!("/ip4/{}/tcp/{P2P_PORT}/p2p/{peer_id}", host.ip)
}

/// Indexes of the publishing nodes.
fn publishers() -> Vec<usize> {
    (0..PUBLISHERS).map(|p| p * (NODES / PUBLISHERS)).collect()
}

/// Publication `k` of a run: which publisher posts it, and when (ns after the start).
fn slot(k: usize, options: &Options) -> (usize, u64) {
    (k % PUBLISHERS, k as u64 * options.interval_ns())
}

/// Latencies of a run: for each published key, the time from its publication to its last
/// arrival among the `receivers` maps that must all hold it (infinite when one does not);
/// and, to tell a slow first hop from a slow tail, every single arrival.
#[derive(Debug)]
struct Latencies {
    p50_ms: f64,
    p99_ms: f64,
    /// Published keys missing from some map.
    missing: usize,
    each_p50_ms: f64,
    each_p90_ms: f64,
}

impl Latencies {
    fn of(
        published: &[(String, u64)],
        arrivals: &[HashMap<String, u64>],
        receivers: usize,
    ) -> Latencies {
        let ms = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1e6;
        let mut last: Vec<f64> = published
            .iter()
            .map(|(key, at)| {
                let times: Vec<u64> = arrivals
                    .iter()
                    .filter_map(|times| times.get(key).copied())
                    .collect();
                match times.iter().max() {
                    Some(latest) if times.len() >= receivers => ms(*at, *latest),
                    _ => f64::INFINITY,
                }
            })
            .collect();
        let mut each: Vec<f64> = published
            .iter()
            .flat_map(|(key, at)| {
                arrivals
                    .iter()
                    .filter_map(move |times| times.get(key))
                    .map(move |arrived| ms(*at, *arrived))
            })
            .collect();
        Latencies {
            p50_ms: quantile(&mut last, 0.50),
            p99_ms: quantile(&mut last, 0.99),
            missing: last.iter().filter(|sample| sample.is_infinite()).count(),
            each_p50_ms: quantile(&mut each, 0.50),
            each_p90_ms: quantile(&mut each, 0.90),
        }
    }
}

fn quantile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples.get(index).copied().unwrap_or(f64::NAN)
}

/// Order `k` of a run, by `key`'s trader on node `peer`: bids from 1,000.00 and asks from
/// 2,000.00 USDC (nothing crosses), 0.001 to 0.1 ETH.
fn signed_order(key: &TraderKey, peer: &str, k: usize) -> SignedOrder {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64;
    let side = if k.is_multiple_of(2) {
        Side::Buy
    } else {
        Side::Sell
    };
    let base = if side == Side::Buy { 100_000 } else { 200_000 };
    Order {
        market: dex_test_utils::eth_usdc_id(),
        side,
        price: Ticks(base + (k as u64 * 7) % 10_000),
        quantity: Lots(1 + k as u64 % 100),
        min_fill: Lots(1),
        maker: key.address(),
        peer: peer.to_owned(),
        nonce: k as u64,
        created_at: now,
        expires_at: now + 3_600_000,
    }
    .sign(key)
}

/// The gossip messages of a run's orders (warm-up first) with their publisher, for the bare
/// nodes: the orders the dexd get, as far as size and shape go, signed by stand-in traders
/// and naming stand-in peers (ed25519 peer ids, as dexd's).
fn stand_in_payloads(options: &Options) -> Result<Vec<(usize, Vec<u8>)>> {
    let peers: Vec<String> = (0..PUBLISHERS)
        .map(|_| {
            dex_network::Keypair::generate_ed25519()
                .public()
                .to_peer_id()
                .to_base58()
        })
        .collect();
    (0..WARMUP + options.orders)
        .map(|k| {
            let (p, _) = slot(k, options);
            let order = signed_order(&dex_test_utils::trader(p as u64), &peers[p], k);
            Ok((p, GossipMessage::Order(order).encode()?))
        })
        .collect()
}

/// A child process killed when dropped, and on Ctrl-C or SIGTERM.
#[derive(Debug)]
struct Process {
    child: Child,
}

impl Process {
    fn spawn(mut command: std::process::Command) -> Result<Process> {
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        signals::register(child.id());
        if signals::interrupted() {
            signals::kill(child.id());
        }
        Ok(Process { child })
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        signals::unregister(self.child.id());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills this benchmark's children on SIGINT or SIGTERM, so that what waits on them fails,
/// the benchmark returns and the lab is dropped.
mod signals {
    use std::sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    };

    static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    static CHILDREN: Mutex<Vec<u32>> = Mutex::new(Vec::new());

    pub(crate) fn interrupted() -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }

    pub(crate) fn register(pid: u32) {
        CHILDREN.lock().expect("never poisoned").push(pid);
    }

    pub(crate) fn unregister(pid: u32) {
        CHILDREN
            .lock()
            .expect("never poisoned")
            .retain(|p| *p != pid);
    }

    pub(crate) fn kill(pid: u32) {
        let Ok(pid) = i32::try_from(pid) else { return };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }

    /// Starts the watcher thread.
    pub(crate) fn watch() -> anyhow::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        let (mut int, mut term) = runtime.block_on(async {
            anyhow::Ok((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })?;
        std::thread::spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            });
            eprintln!("bench net: interrupted; stopping every node and removing the lab");
            INTERRUPTED.store(true, Ordering::SeqCst);
            for pid in CHILDREN.lock().expect("never poisoned").iter() {
                kill(*pid);
            }
        });
        Ok(())
    }
}

/// Sets a flag when dropped: threads that watch it stop, whatever way their scope ends.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Real dexd nodes, posted to over HTTP, followed over WebSocket.
mod ours {
    use super::*;

    use dex_client::{Client, ClientError};
    use tungstenite::stream::MaybeTlsStream;

    /// One release dexd on a lab host.
    pub(crate) struct Dexd {
        process: Process,
        dir: tempfile::TempDir,
        host: Host,
        /// Its API, found through its data dir once it is up.
        client: Client,
        peer_id: String,
        /// Its trader key, read once it is up.
        key: Option<TraderKey>,
    }

    fn config() -> String {
        let markets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/markets.toml");
        // A relay node (no chains): it verifies, books and gossips. One maker per publisher
        // holds all its orders, beyond the default per-maker cap.
        format!(
            r#"markets_file = "{}"
plain_key = true
[log]
level = "warn"
[p2p]
listen = ["/ip4/0.0.0.0/tcp/{P2P_PORT}", "/ip4/0.0.0.0/udp/{P2P_PORT}/quic-v1"]
mdns = false
kad = true
[node]
orders_per_maker = 10000000
"#,
            markets.display()
        )
    }

    impl Dexd {
        /// Starts dexd on `host`; [`Dexd::wait_up`] waits until it answers.
        fn spawn(host: &Host, bootstrap: &[String]) -> Result<Dexd> {
            let dir = tempfile::tempdir()?;
            fs::write(dir.path().join("dexd.toml"), config())?;
            let log = fs::File::create(dir.path().join("dexd.log"))?;
            let mut command = host.command(env!("CARGO_BIN_EXE_dexd"));
            command
                .arg("--config")
                .arg(dir.path().join("dexd.toml"))
                .arg("--data-dir")
                .arg(dir.path().join("data"))
                .args(["--api-listen", "127.0.0.1:0"])
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log);
            if !bootstrap.is_empty() {
                command.arg("--bootstrap").arg(bootstrap.join(","));
            }
            Ok(Dexd {
                process: Process::spawn(command)?,
                dir,
                host: host.clone(),
                client: Client::new("http://not-listening-yet", None),
                peer_id: String::new(),
                key: None,
            })
        }

        /// Waits for the API, then reads the token, peer id and trader key.
        fn wait_up(&mut self) -> Result<()> {
            let data = self.dir.path().join("data");
            let url = wait_until(&format!("dexd on {} to start", self.host), DEADLINE, || {
                if let Some(status) = self.process.exited() {
                    bail!("dexd on {} exited with {status}: {}", self.host, self.log());
                }
                Ok(dex_client::read_url(&data)?)
            })?;
            self.client = Client::discover(Some(&url), None, Some(&data))?;
            self.key = Some(
                fs::read_to_string(data.join("trader.key"))?
                    .parse()
                    .context("the node's trader.key")?,
            );
            self.peer_id = self.call(Client::info)?.peer_id;
            Ok(())
        }

        fn log(&self) -> String {
            let log = fs::read_to_string(self.dir.path().join("dexd.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        }

        /// One call of its API, from inside its host.
        fn call<T: Send>(
            &self,
            call: impl FnOnce(&Client) -> Result<T, ClientError> + Send,
        ) -> Result<T> {
            Ok(self.host.within(|| call(&self.client))??)
        }

        fn peers(&self) -> Result<usize> {
            Ok(self.call(Client::peers)?.peers.len())
        }

        /// Order `k` of the run by this node's trader, naming this node, signed.
        fn order(&self, k: usize) -> SignedOrder {
            let key = self.key.as_ref().expect("read when the node came up");
            signed_order(key, &self.peer_id, k)
        }
    }

    /// Follows `node`'s `book:ETH/USDC` channel (from inside its host) until `stop`: the
    /// time each order was first reported inserted.
    fn record(
        node: &Dexd,
        subscribed: &AtomicUsize,
        arrivals: &AtomicUsize,
        stop: &AtomicBool,
    ) -> Result<HashMap<String, u64>> {
        let mut socket = node.client.without_token().ws()?;
        // Short reads, so that `stop` is seen.
        socket.set_read_timeout(Duration::from_millis(100))?;
        if let MaybeTlsStream::Plain(stream) = socket.socket_mut().get_ref() {
            stream.set_nodelay(true)?;
        }
        socket.subscribe("book:ETH/USDC")?;
        let mut times = HashMap::new();
        let mut snapshot_seen = false;
        while !stop.load(Ordering::SeqCst) && !signals::interrupted() {
            let message = match socket.next_json() {
                Ok(message) => message,
                Err(ClientError::WebSocketTimeout { .. }) => continue,
                Err(err) => bail!("{}'s stream: {err}", node.host),
            };
            let at = now_ns();
            match message["type"].as_str() {
                Some("snapshot") if !snapshot_seen => {
                    snapshot_seen = true;
                    subscribed.fetch_add(1, Ordering::SeqCst);
                }
                Some("delta") => {
                    for event in message["events"].as_array().into_iter().flatten() {
                        if event["event"] == "inserted"
                            && let Some(id) = event["orderId"].as_str()
                            && times.insert(id.to_owned(), at).is_none()
                        {
                            arrivals.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(times)
    }

    /// Posts each order of `schedule` (publisher index, ns after `start`, order) to its
    /// publisher at its time, one thread per publisher; returns (order id, posted at).
    fn publish(
        publishers: &[&Dexd],
        schedule: &[(usize, u64, SignedOrder)],
        start: u64,
    ) -> Result<Vec<(String, u64)>> {
        on_each(publishers, |p, node| {
            node.host.within(|| {
                let mut posted = Vec::new();
                for (_, offset, order) in schedule.iter().filter(|s| s.0 == p) {
                    if signals::interrupted() {
                        bail!("interrupted");
                    }
                    let body = serde_json::to_string(order)?;
                    sleep_until_ns(start + offset);
                    let at = now_ns();
                    if let Err(err) = node.client.post_signed_order_json(&body) {
                        bail!("{} refused an order: {err}", node.host);
                    }
                    posted.push((order.order.id().to_string(), at));
                }
                Ok(posted)
            })?
        })
    }

    /// Starts 30 dexd on `hosts`, measures, stops them.
    pub(crate) fn measure(hosts: &[Host], options: &Options) -> Result<Figures> {
        let mut nodes: Vec<Dexd> = Vec::with_capacity(NODES);
        let mut addresses = Vec::new();
        for (index, host) in hosts.iter().enumerate() {
            let mut node = Dexd::spawn(host, &bootstrap_for(index, &addresses))?;
            // The bootstrap nodes must be up before the others dial them.
            if index < BOOTSTRAP {
                node.wait_up()?;
                addresses.push(address(host, &node.peer_id));
            }
            nodes.push(node);
        }
        for node in &mut nodes[BOOTSTRAP..] {
            node.wait_up()?;
        }
        eprintln!("(ours: {NODES} dexd up)");
        let figures = measure_on(&nodes, hosts, options);
        if figures.is_err() && !signals::interrupted() {
            for node in &nodes {
                eprintln!("--- {} ---\n{}", node.host, node.log());
            }
        }
        for node in &mut nodes {
            node.process.kill();
        }
        figures
    }

    /// Measures on running `nodes`.
    fn measure_on(nodes: &[Dexd], hosts: &[Host], options: &Options) -> Result<Figures> {
        wait_until(
            &format!("every dexd with {READY_PEERS} peers"),
            DEADLINE,
            || {
                let counts = nodes.iter().map(Dexd::peers).collect::<Result<Vec<_>>>()?;
                Ok(counts
                    .iter()
                    .all(|count| *count >= READY_PEERS)
                    .then_some(()))
            },
        )?;

        let publishers: Vec<&Dexd> = publishers().into_iter().map(|i| &nodes[i]).collect();
        let total = WARMUP + options.orders;
        let schedule: Vec<(usize, u64, SignedOrder)> = (0..total)
            .map(|k| {
                let (p, offset) = slot(k, options);
                (p, offset, publishers[p].order(k))
            })
            .collect();
        let size: usize = schedule
            .iter()
            .map(|(_, _, order)| Ok(GossipMessage::Order(order.clone()).encode()?.len()))
            .sum::<Result<usize>>()?;
        eprintln!("(ours: messages of {} bytes on average)", size / total);
        let (warmup, measured) = schedule.split_at(WARMUP);

        let subscribed = AtomicUsize::new(0);
        let arrivals = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let _stop = StopOnDrop(&stop);
            let recorders: Vec<_> = nodes
                .iter()
                .map(|node| {
                    let (subscribed, arrivals, stop) = (&subscribed, &arrivals, &stop);
                    scope.spawn(move || {
                        node.host
                            .within(|| record(node, subscribed, arrivals, stop))?
                    })
                })
                .collect();
            wait_until("every WebSocket subscribed", DEADLINE, || {
                Ok((subscribed.load(Ordering::SeqCst) == NODES).then_some(()))
            })?;

            publish(&publishers, warmup, now_ns())?;
            wait_until("the warm-up orders in every book", DEADLINE, || {
                Ok((arrivals.load(Ordering::Relaxed) >= WARMUP * NODES).then_some(()))
            })?;

            let tx_before = total_tx_bytes(hosts)?;
            let window = Instant::now();
            let first = measured.first().map_or(0, |s| s.1);
            let shifted: Vec<_> = measured
                .iter()
                .map(|(p, offset, order)| (*p, offset - first, order.clone()))
                .collect();
            let published = publish(&publishers, &shifted, now_ns() + 10_000_000)?;
            let expected = total * NODES;
            let complete = wait_until("every order in every book", DEADLINE, || {
                Ok((arrivals.load(Ordering::Relaxed) >= expected).then_some(()))
            });
            if let Err(err) = complete {
                eprintln!("(ours: {err})");
            }
            let window = window.elapsed();
            let tx_bytes = total_tx_bytes(hosts)? - tx_before;
            stop.store(true, Ordering::SeqCst);
            let mut maps = Vec::new();
            for recorder in recorders {
                maps.push(
                    recorder
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
                );
            }
            anyhow::Ok(Figures {
                latencies: Latencies::of(&published, &maps, NODES),
                bytes_per_order_per_node: tx_bytes as f64 / options.orders as f64 / NODES as f64,
                window,
            })
        })
    }
}

/// Bare gossipsub: one process of this binary per host.
mod bare {
    use super::*;

    /// The swarm settings of a lab dexd (see `ours::config` and dexd's `node_config`):
    /// TCP and QUIC on the port, Kademlia from the bootstrap nodes, no mDNS; the rest the
    /// defaults dexd uses.
    fn network_config(bootstrap: &[String]) -> Result<NetworkConfig> {
        Ok(NetworkConfig {
            listen_addrs: vec![
                format!("/ip4/0.0.0.0/tcp/{P2P_PORT}").parse()?,
                format!("/ip4/0.0.0.0/udp/{P2P_PORT}/quic-v1").parse()?,
            ],
            bootstrap: bootstrap
                .iter()
                .map(|address| address.parse::<Multiaddr>())
                .collect::<Result<_, _>>()?,
            mdns: false,
            kad: true,
            ..NetworkConfig::default()
        })
    }

    /// A message's key in the output: its id (sha256 of the bytes), hex.
    fn key(data: &[u8]) -> String {
        dex_network::message_id(data)
            .0
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// The hidden sub-command: a bare node on this host. Prints `peer <peer id>` once
    /// listening, `peers <n>` when its count of connected peers changes, `got <key> <ns>`
    /// for each message received (accepted at once); publishes each stdin line (the bytes of
    /// a message, without the newline) on the market topic; stops at the end of stdin.
    pub(crate) fn node(bootstrap: &[String]) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let config = network_config(bootstrap)?;
            let keypair = dex_network::Keypair::generate_ed25519();
            let (handle, mut events) = dex_network::spawn(keypair, config, &mut dex_network::Registry::default()).await?;
            let topic = market_topic(&dex_test_utils::eth_usdc_id());
            // The topics a dexd of the markets file subscribes to.
            for topic in [topic.clone(), ALIVE_TOPIC.to_owned()] {
                handle.subscribe(topic).await?;
            }
            println!("peer {}", handle.peer_id());
            let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<Vec<u8>>(1024);
            std::thread::spawn(move || {
                let mut stdin = std::io::stdin().lock();
                let mut line = Vec::new();
                while stdin.read_until(b'\n', &mut line).is_ok_and(|read| read > 0) {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if lines_tx.blocking_send(std::mem::take(&mut line)).is_err() {
                        break;
                    }
                }
            });
            let mut ticker = tokio::time::interval(Duration::from_millis(250));
            let mut peers = usize::MAX;
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Some(NetworkEvent::Gossip(gossip)) => {
                            let at = now_ns();
                            handle
                                .report(gossip.message_id.clone(), gossip.source, Acceptance::Accept)
                                .await?;
                            println!("got {} {at}", key(&gossip.data));
                        }
                        Some(_) => {}
                        None => break,
                    },
                    line = lines.recv() => match line {
                        Some(data) => {
                            // Not fatal: the message goes missing, which the figures show.
                            if let Err(err) = handle.publish(topic.clone(), data).await {
                                eprintln!("(bare node: {err})");
                            }
                        }
                        None => break,
                    },
                    _ = ticker.tick() => {
                        let connected = handle.peers(None).await?.connected.len();
                        if connected != peers {
                            peers = connected;
                            println!("peers {connected}");
                        }
                    }
                }
            }
            handle.shutdown().await;
            anyhow::Ok(())
        })
    }

    /// A bare node as the benchmark sees it.
    struct BareNode {
        process: Process,
        stdin: Mutex<ChildStdin>,
        reader: Option<std::thread::JoinHandle<HashMap<String, u64>>>,
        peers: Arc<AtomicUsize>,
        peer_id: String,
    }

    impl BareNode {
        fn start(host: &Host, bootstrap: &[String], arrivals: &Arc<AtomicUsize>) -> Result<Self> {
            let mut command = host.command(std::env::current_exe()?);
            command
                .arg(BARE_NODE)
                .args(bootstrap)
                .env_remove("RUST_LOG")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit());
            let mut process = Process::spawn(command)?;
            let stdin = process.child.stdin.take().context("a piped stdin")?;
            let stdout = process.child.stdout.take().context("a piped stdout")?;
            let peers = Arc::new(AtomicUsize::new(0));
            let (peer_tx, peer_rx) = std::sync::mpsc::channel();
            let reader = {
                let (peers, arrivals) = (peers.clone(), arrivals.clone());
                std::thread::spawn(move || {
                    let mut times = HashMap::new();
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        let mut words = line.split_whitespace();
                        match (words.next(), words.next(), words.next()) {
                            (Some("got"), Some(key), Some(at)) => {
                                if let Ok(at) = at.parse::<u64>()
                                    && times.insert(key.to_owned(), at).is_none()
                                {
                                    arrivals.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            (Some("peers"), Some(count), None) => {
                                peers.store(count.parse().unwrap_or(0), Ordering::SeqCst);
                            }
                            (Some("peer"), Some(id), None) => {
                                let _ = peer_tx.send(id.to_owned());
                            }
                            _ => eprintln!("(bare node said: {line})"),
                        }
                    }
                    times
                })
            };
            let peer_id = wait_until(
                &format!("the bare node on {host} to start"),
                DEADLINE,
                || {
                    if let Some(status) = process.exited() {
                        bail!("the bare node on {host} exited with {status}");
                    }
                    Ok(peer_rx.try_recv().ok())
                },
            )?;
            Ok(BareNode {
                process,
                stdin: Mutex::new(stdin),
                reader: Some(reader),
                peers,
                peer_id,
            })
        }
    }

    /// Writes each payload of `schedule` (publisher index, ns after `start`, bytes) to its
    /// publisher at its time; returns (message key, written at).
    fn publish(
        publishers: &[&BareNode],
        schedule: &[(usize, u64, &[u8])],
        start: u64,
    ) -> Result<Vec<(String, u64)>> {
        on_each(publishers, |p, node| {
            let mut stdin = node.stdin.lock().expect("never poisoned");
            let mut written = Vec::new();
            for (_, offset, data) in schedule.iter().filter(|s| s.0 == p) {
                if signals::interrupted() {
                    bail!("interrupted");
                }
                let mut line = data.to_vec();
                line.push(b'\n');
                sleep_until_ns(start + offset);
                let at = now_ns();
                stdin.write_all(&line)?;
                stdin.flush()?;
                written.push((key(data), at));
            }
            Ok(written)
        })
    }

    /// Starts 30 bare nodes on `hosts` and publishes `payloads` (warm-up first) like
    /// [`ours::measure`] posts its orders.
    pub(crate) fn measure(
        hosts: &[Host],
        options: &Options,
        payloads: &[(usize, Vec<u8>)],
    ) -> Result<Figures> {
        let arrivals = Arc::new(AtomicUsize::new(0));
        let mut nodes: Vec<BareNode> = Vec::with_capacity(NODES);
        let mut addresses = Vec::new();
        for (index, host) in hosts.iter().enumerate() {
            let node = BareNode::start(host, &bootstrap_for(index, &addresses), &arrivals)?;
            if index < BOOTSTRAP {
                addresses.push(address(host, &node.peer_id));
            }
            nodes.push(node);
        }
        eprintln!("(bare: {NODES} nodes up)");
        wait_until(
            &format!("every bare node with {READY_PEERS} peers"),
            DEADLINE,
            || {
                let counts: Vec<usize> = nodes
                    .iter()
                    .map(|node| node.peers.load(Ordering::SeqCst))
                    .collect();
                Ok(counts
                    .iter()
                    .all(|count| *count >= READY_PEERS)
                    .then_some(()))
            },
        )?;
        let publishers: Vec<&BareNode> = publishers().into_iter().map(|i| &nodes[i]).collect();
        let schedule: Vec<(usize, u64, &[u8])> = payloads
            .iter()
            .enumerate()
            .map(|(k, (p, data))| (*p, slot(k, options).1, data.as_slice()))
            .collect();
        let size: usize = payloads.iter().map(|(_, data)| data.len()).sum();
        eprintln!(
            "(bare: messages of {} bytes on average)",
            size / payloads.len().max(1)
        );
        let (warmup, measured) = schedule.split_at(WARMUP.min(schedule.len()));
        // A publisher does not receive its own message.
        let receivers = NODES - 1;
        publish(&publishers, warmup, now_ns())?;
        wait_until("the warm-up messages at every node", DEADLINE, || {
            Ok((arrivals.load(Ordering::Relaxed) >= warmup.len() * receivers).then_some(()))
        })?;

        let tx_before = total_tx_bytes(hosts)?;
        let window = Instant::now();
        let first = measured.first().map_or(0, |s| s.1);
        let shifted: Vec<_> = measured
            .iter()
            .map(|(p, offset, data)| (*p, offset - first, *data))
            .collect();
        let published = publish(&publishers, &shifted, now_ns() + 10_000_000)?;
        let expected = schedule.len() * receivers;
        let complete = wait_until("every message at every node", DEADLINE, || {
            Ok((arrivals.load(Ordering::Relaxed) >= expected).then_some(()))
        });
        if let Err(err) = complete {
            eprintln!("(bare: {err})");
        }
        let window = window.elapsed();
        let tx_bytes = total_tx_bytes(hosts)? - tx_before;
        // Every line is read once its process is gone.
        let mut maps = Vec::new();
        for node in &mut nodes {
            node.process.kill();
        }
        for node in &mut nodes {
            if let Some(reader) = node.reader.take() {
                maps.push(reader.join().map_err(|_| anyhow!("a reader panicked"))?);
            }
        }
        Ok(Figures {
            latencies: Latencies::of(&published, &maps, receivers),
            bytes_per_order_per_node: tx_bytes as f64 / measured.len() as f64 / NODES as f64,
            window,
        })
    }
}

/// Runs `work` for each publisher (its index and node) on a thread of its own and
/// concatenates what each returned, in publisher order (a panic is resumed here).
fn on_each<N: Sync, T: Send>(
    publishers: &[&N],
    work: impl Fn(usize, &N) -> Result<Vec<T>> + Sync,
) -> Result<Vec<T>> {
    let work = &work;
    std::thread::scope(|scope| {
        let threads: Vec<_> = publishers
            .iter()
            .enumerate()
            .map(|(p, node)| scope.spawn(move || work(p, node)))
            .collect();
        let mut all = Vec::new();
        for thread in threads {
            all.extend(
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
            );
        }
        Ok(all)
    })
}
