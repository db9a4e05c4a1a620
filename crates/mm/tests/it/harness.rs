//! A real exchange for the bot's black-box tests and its requote benchmark: two anvil chains
//! from dex-devnet, two `dexd` processes on loopback (temp data dirs, ephemeral ports; node
//! A trades as devnet trader 1, node B as trader 2) under the devnet's supervisor, the
//! `dex-mm` binary against node A, and a tiny HTTP server for price documents.
//!
//! Everything is blocking; waits poll a condition until a deadline and never sleep a fixed
//! time to let something happen.

#![allow(dead_code, unreachable_pub)]

use std::{
    fs,
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use dex_api::types::{Book, Info, OwnOrderView, PlaceOrderRequest, SwapDetail, Swaps};
use dex_client::{Client, ClientError};
use dex_devnet::{ChainInfo, ChainsConfig, ChildSpec, Devnet, DevnetChains};
use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

/// How long any one condition may take on a busy two-core machine with debug builds.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// Polls `check` until it returns `Some`, or panics with `what` (and `context()`) after
/// `deadline`.
pub fn wait_until<T>(
    what: &str,
    deadline: Duration,
    context: impl Fn() -> String,
    check: impl FnMut() -> Option<T>,
) -> T {
    dex_test_utils::wait_for_blocking(what, deadline, check)
        .unwrap_or_else(|err| panic!("{err}\n{}", context()))
}

/// The `dex-mm` binary cargo built for these tests.
pub fn bot_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dex-mm"))
}

/// The `dexd` binary beside it. Not built here: a `cargo build -p dexd` from a test resolves
/// dexd's features alone, rebuilds it unlike the workspace build and replaces the binary
/// under the other tests running it; `scripts/test.sh` builds every binary first.
pub fn dexd_binary() -> PathBuf {
    let path = bot_binary().with_file_name("dexd");
    assert!(
        path.is_file(),
        "{} is missing: build it first (`cargo build -p dexd`, or `cargo test --workspace --no-run` as scripts/test.sh does)",
        path.display()
    );
    path
}

/// A `dexd` process of the exchange.
#[derive(Debug)]
pub struct Node {
    /// Its name in the supervisor (and its log file's).
    pub name: String,
    /// How it was started, to start it again.
    spec: ChildSpec,
    /// Its data dir: keys, api.url, api.token, database.
    pub data_dir: PathBuf,
    /// The API's base URL.
    pub url: String,
    /// Its API, with its token.
    pub client: Client,
}

impl Node {
    /// Unwraps an API answer, naming the call.
    fn ok<T>(what: &str, answer: Result<T, ClientError>) -> T {
        answer.unwrap_or_else(|err| panic!("{what}: {err}"))
    }

    /// Places an order the node signs; panics if it is refused.
    pub fn place(&self, request: &PlaceOrderRequest) -> OwnOrderView {
        Self::ok("placing an order", self.client.place_order(request))
    }

    pub fn info(&self) -> Info {
        Self::ok("info", self.client.info())
    }

    /// The ETH/USDC book, 50 levels a side.
    pub fn book(&self) -> Book {
        Self::ok("the book", self.client.book("ETH/USDC", 50))
    }

    /// The book as `(price, quantity, orders)` per side, best first.
    pub fn levels(&self) -> (Vec<Level>, Vec<Level>) {
        let book = self.book();
        let side = |levels: &[dex_api::types::BookLevel]| {
            levels
                .iter()
                .map(|level| (level.price.clone(), level.quantity.clone(), level.orders))
                .collect()
        };
        (side(&book.bids), side(&book.asks))
    }

    /// The node's open own orders.
    pub fn open_orders(&self) -> Vec<OwnOrderView> {
        Self::ok("open orders", self.client.orders(None, Some("open"))).orders
    }

    /// One own order.
    pub fn order(&self, id: &str) -> OwnOrderView {
        Self::ok(&format!("order {id}"), self.client.order(id)).order
    }

    /// The node's swaps, newest first.
    pub fn swaps(&self) -> Swaps {
        Self::ok("swaps", self.client.swaps())
    }

    /// One swap with its history.
    pub fn swap(&self, id: &str) -> SwapDetail {
        Self::ok(&format!("swap {id}"), self.client.swap(id))
    }

    /// The prometheus text of `/metrics`.
    pub fn metrics(&self) -> String {
        Self::ok("metrics", self.client.metrics())
    }
}

/// A book level: price, quantity, number of orders.
pub type Level = (String, String, u32);

/// Two settled dexd nodes on a fresh devnet.
pub struct Exchange {
    // Field order is drop order: the supervisor (in the devnet) stops the bot and the nodes
    // (newest first) before the chains, then the directory goes.
    devnet: Option<Devnet>,
    runtime: tokio::runtime::Runtime,
    pub chains: DevnetChains,
    /// Node A, the bot's.
    pub maker: Node,
    /// Node B, where takers and observers are.
    pub taker: Node,
    dir: tempfile::TempDir,
    bots: u32,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

fn chain_toml(chain: &ChainInfo) -> String {
    format!(
        "[[settlement.chains]]\nchain_id = {}\nrpc_url = \"{}\"\nhtlc = \"{}\"\nstart_block = {}\n\
         poll_interval = \"50ms\"\nscan_confirmations = 1\nrpc_timeout = \"10s\"\n",
        chain.chain_id, chain.rpc_url, chain.htlc, chain.htlc_block
    )
}

fn markets_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/markets.toml")
}

impl Exchange {
    /// Starts the chains and both nodes, and waits until they are connected.
    pub fn start() -> Exchange {
        let dexd = dexd_binary();
        let dir = tempfile::tempdir().expect("a temp dir");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let config = ChainsConfig {
            traders: 2,
            ..ChainsConfig::for_tests(dir.path().join("devnet"))
        };
        let mut devnet = runtime
            .block_on(Devnet::start_chains(config))
            .expect("the devnet starts (anvil from scripts/install-tools.sh)");
        let chains = devnet.chains().clone();
        let maker = spawn_node(&mut devnet, &dexd, dir.path(), "node-a", &chains, 0, &[]);
        let bootstrap = maker.info().listen_addrs;
        let taker = spawn_node(
            &mut devnet,
            &dexd,
            dir.path(),
            "node-b",
            &chains,
            1,
            &bootstrap,
        );
        let exchange = Exchange {
            devnet: Some(devnet),
            runtime,
            chains,
            maker,
            taker,
            dir,
            bots: 0,
        };
        wait_until(
            "the nodes to connect to each other and to both chains",
            DEADLINE,
            || exchange.logs(),
            || {
                let ready = |info: Info| {
                    info.peers > 0
                        && info.chains_up == [dex_devnet::BASE_CHAIN_ID, dex_devnet::QUOTE_CHAIN_ID]
                };
                (ready(exchange.maker.info()) && ready(exchange.taker.info())).then_some(())
            },
        );
        exchange
    }

    fn devnet(&mut self) -> &mut Devnet {
        self.devnet.as_mut().expect("the devnet runs")
    }

    /// The test's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The log of a supervised process.
    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir().join("devnet/logs").join(format!("{name}.log")))
            .unwrap_or_default()
    }

    /// The tails of every log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let Ok(entries) = fs::read_dir(self.dir().join("devnet/logs")) else {
            return out;
        };
        for entry in entries.flatten() {
            let text = fs::read_to_string(entry.path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(40)..].join("\n");
            out.push_str(&format!("--- {} ---\n{tail}\n", entry.path().display()));
        }
        out
    }

    /// Starts `dex-mm` with `config` (a TOML text; `{data_dir}` is replaced by node A's data
    /// dir) as process `name`; returns its pid.
    pub fn start_bot(&mut self, name: &str, config: &str) -> u32 {
        self.bots += 1;
        let path = self.dir().join(format!("{name}-{}.toml", self.bots));
        let text = config.replace("{data_dir}", &self.maker.data_dir.display().to_string());
        fs::write(&path, text).expect("bot config written");
        let spec = ChildSpec::new(name, bot_binary())
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "info,dex_mm=debug")
            .stop_grace(Duration::from_secs(20));
        self.devnet()
            .supervisor()
            .spawn(spec)
            .expect("dex-mm starts")
            .pid
    }

    /// Sends `signal` to process `pid`.
    pub fn signal(&self, pid: u32, signal: Signal) {
        kill(Pid::from_raw(pid as i32), signal).expect("the signal is sent");
    }

    /// Waits for the supervised process `name` to exit and returns its exit code.
    pub fn wait_exit(&mut self, name: &str) -> Option<i32> {
        let logs = self.logs();
        let exit = wait_until(
            &format!("{name} to exit"),
            DEADLINE,
            || logs.clone(),
            || self.devnet().supervisor().try_exit(),
        );
        assert_eq!(exit.name, name, "another process exited: {exit}");
        exit.status.code()
    }

    /// Kills `name` with SIGKILL (a crash).
    pub fn crash(&mut self, name: &str) {
        self.devnet()
            .supervisor()
            .kill(name)
            .expect("the process is killed");
    }

    /// The address a bot logged for its metrics endpoint.
    pub fn bot_metrics_address(&self, name: &str) -> SocketAddr {
        wait_until(
            "the bot's metrics address",
            DEADLINE,
            || self.log(name),
            || {
                let log = self.log(name);
                // The log is appended to across restarts: the last run's address.
                let start = log.rfind("metrics on http://")? + "metrics on http://".len();
                let rest = &log[start..];
                rest[..rest.find("/metrics")?].parse().ok()
            },
        )
    }

    /// Stops node A (SIGTERM: a clean shutdown) and keeps it down until `restart_maker`.
    pub fn stop_maker(&mut self) {
        let name = self.maker.name.clone();
        let devnet = self.devnet.as_mut().expect("the devnet runs");
        let status = self
            .runtime
            .block_on(devnet.supervisor().stop(&name))
            .expect("node A stops");
        assert!(status.success(), "node A's shutdown: {status}");
        // Its next start writes a new one (a clean shutdown may have removed it already).
        match fs::remove_file(self.maker.data_dir.join("api.url")) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => panic!("cannot remove node A's api.url: {err}"),
        }
    }

    /// Starts node A again on its data dir (its API and swarm get new ports, so it dials
    /// node B).
    pub fn restart_maker(&mut self) {
        let spec = self
            .maker
            .spec
            .clone()
            .arg("--bootstrap")
            .arg(self.taker.info().listen_addrs.join(","));
        let data_dir = self.maker.data_dir.clone();
        let name = self.maker.name.clone();
        let dir = self.dir.path().to_owned();
        let devnet = self.devnet.as_mut().expect("the devnet runs");
        devnet
            .supervisor()
            .spawn(spec.clone())
            .expect("dexd starts again");
        self.maker = await_node(devnet, &dir, &name, data_dir, spec);
        wait_until(
            "node A to reconnect to node B and the chains",
            DEADLINE,
            || self.logs(),
            || {
                let info = self.maker.info();
                (info.peers > 0
                    && info.chains_up == [dex_devnet::BASE_CHAIN_ID, dex_devnet::QUOTE_CHAIN_ID])
                .then_some(())
            },
        );
    }

    /// Runs `future` on the exchange's runtime (chain queries).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        if let Some(devnet) = self.devnet.take() {
            self.runtime.block_on(devnet.shutdown());
        }
    }
}

fn spawn_node(
    devnet: &mut Devnet,
    dexd: &Path,
    dir: &Path,
    name: &str,
    chains: &DevnetChains,
    trader: usize,
    bootstrap: &[String],
) -> Node {
    let data_dir = dir.join(name);
    fs::create_dir_all(&data_dir).expect("data dir");
    fs::set_permissions(&data_dir, fs::Permissions::from_mode(0o700)).expect("mode 0700");
    // The devnet's funded trader (a public anvil key) as plain hex, as `dexctl key import
    // --hex --insecure-plain-key` would write it; the config says `plain_key = true`.
    let key = &chains.traders[trader].private_key;
    fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(data_dir.join("trader.key"))
        .and_then(|mut file| writeln!(file, "{key}"))
        .expect("trader.key written");
    let config = dir.join(format!("{name}.toml"));
    fs::write(
        &config,
        format!(
            "markets_file = \"{}\"\nplain_key = true\n[log]\nlevel = \"info\"\n[p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/0\"]\n\
             mdns = false\nkad = false\nallow_loopback_colocation = true\n[node]\ntick_interval = \"100ms\"\n\
             [settlement]\n{}{}",
            markets_file().display(),
            chain_toml(&chains.base),
            chain_toml(&chains.quote),
        ),
    )
    .expect("node config written");
    let mut spec = ChildSpec::new(name, dexd)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--api-listen", "127.0.0.1:0"])
        .stop_grace(Duration::from_secs(10));
    if !bootstrap.is_empty() {
        spec = spec.arg("--bootstrap").arg(bootstrap.join(","));
    }
    devnet
        .supervisor()
        .spawn(spec.clone())
        .expect("dexd starts");
    await_node(devnet, dir, name, data_dir, spec)
}

/// Waits for a started node's API.
fn await_node(
    devnet: &mut Devnet,
    dir: &Path,
    name: &str,
    data_dir: PathBuf,
    spec: ChildSpec,
) -> Node {
    let log = dir.join("devnet/logs").join(format!("{name}.log"));
    let url = wait_until(
        &format!("{name} to listen"),
        DEADLINE,
        || fs::read_to_string(&log).unwrap_or_default(),
        || {
            devnet.supervisor().check().expect("dexd keeps running");
            dex_client::read_url(&data_dir)
                .expect("the data dir is readable")
                .filter(|url| !url.is_empty())
        },
    );
    let client = Client::discover(Some(&url), None, Some(&data_dir)).expect("the node's token");
    let node = Node {
        name: name.to_owned(),
        spec,
        data_dir,
        url,
        client,
    };
    wait_until(&format!("{name}'s API"), DEADLINE, String::new, || {
        node.client.health().ok()
    });
    node
}

/// A price document server: answers every GET with the current body, one connection per
/// request. Stopping it closes the listener, so fetches fail at once.
#[derive(Debug)]
pub struct PriceServer {
    address: SocketAddr,
    body: Arc<Mutex<String>>,
    stopped: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PriceServer {
    /// Serves `body` on an ephemeral loopback port.
    pub fn start(body: &str) -> PriceServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("the bound address");
        let body = Arc::new(Mutex::new(body.to_owned()));
        let stopped = Arc::new(AtomicBool::new(false));
        let thread = {
            let body = body.clone();
            let stopped = stopped.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopped.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let text = body.lock().expect("not poisoned").clone();
                    let _ = serve_one(stream, &text);
                }
            })
        };
        PriceServer {
            address,
            body,
            stopped,
            thread: Some(thread),
        }
    }

    /// The URL of the document, with `pointer` as its fragment.
    pub fn url(&self, pointer: &str) -> String {
        format!("http://{}/price.json#{pointer}", self.address)
    }

    /// Serves `body` from now on.
    pub fn set(&self, body: &str) {
        *self.body.lock().expect("not poisoned") = body.to_owned();
    }

    /// Stops serving: the port refuses connections from now on.
    pub fn stop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and drops the listener.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the server thread ends");
        }
    }
}

impl Drop for PriceServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve_one(stream: TcpStream, body: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
    }
    let mut stream = reader.into_inner();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

/// The expected ladder of the tests' strategy (three levels, 10 bps spread and spacing, 0.01
/// each) around `mid` (a multiple of 10, so every level is on the 0.01 tick), as book levels
/// `(price, "0.01", 1)`, each side best first.
pub fn ladder(mid: u64) -> (Vec<Level>, Vec<Level>) {
    assert_eq!(mid % 10, 0, "the tests' mids are multiples of 10");
    // mid × (1000 ± k) / 1000 in cents is mid × (1000 ± k) / 10.
    let level = |per_mille: u64| -> Level {
        let cents = mid * per_mille / 10;
        let price = dex_primitives::Decimal::new(cents as i64, 2).normalize();
        (price.to_string(), "0.01".to_owned(), 1)
    };
    let bids = (1..=3).map(|k| level(1000 - k)).collect();
    let asks = (1..=3).map(|k| level(1000 + k)).collect();
    (bids, asks)
}

/// A bot config for node A (`{data_dir}`), quoting the tests' ladder around `source`; with
/// `own_account`, on a capital of 1 ETH and 10,000 USDC of its own, else on the node's
/// balances.
pub fn bot_config(
    source: &str,
    state_file: &Path,
    refresh_ms: u64,
    max_age_ms: u64,
    own_account: bool,
) -> String {
    let inventory = if own_account {
        "[inventory]\nbase = \"1\"\nquote = \"10000\"\n"
    } else {
        ""
    };
    format!(
        r#"market = "ETH/USDC"
refresh_interval = "{refresh_ms}ms"
order_lifetime = "10m"
max_api_errors = 10
api_error_cooldown = "1s"
state_file = "{}"
[node]
data_dir = "{{data_dir}}"
[price]
source = "{source}"
{inventory}[strategy]
levels = 3
order_size = "0.01"
bid_spread_bps = 10
ask_spread_bps = 10
level_spacing_bps = 10
max_price_age = "{max_age_ms}ms"
[metrics]
listen = "127.0.0.1:0"
"#,
        state_file.display()
    )
}
