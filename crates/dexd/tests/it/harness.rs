//! Real `dexd` processes on loopback with temp data dirs and ephemeral ports, and a small
//! HTTP client. Waits poll conditions with deadlines; nothing sleeps a fixed time.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use dex_api::types::{Info, Problem};
use dex_client::{Client, RawRequest};
use dex_primitives::{Order, Side, SignedOrder, TraderKey};
use serde_json::Value;

pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// The repository's markets file (the devnet's ETH/USDC).
pub(crate) fn markets_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/markets.toml")
}

/// Polls `check` until it returns `Some`, or panics with `what` after the deadline.
pub(crate) fn wait_for<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    dex_test_utils::wait_for_blocking(what, DEADLINE, check).unwrap_or_else(|err| panic!("{err}"))
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as u64
}

/// The `[p2p]` settings of a test node on loopback: an ephemeral port, no mDNS or
/// Kademlia (the test dials the topology it wants).
pub(crate) const LOOPBACK_P2P: &str = r#"listen = ["/ip4/127.0.0.1/tcp/0"]
mdns = false
kad = false
allow_loopback_colocation = true
"#;

/// A config for a test node: loopback, no mDNS or Kademlia, fast ticks, and a plain hex
/// trader key (test keys are throwaway; the keystore tests use [`keystore_config`]).
pub(crate) fn test_config() -> String {
    node_config(LOOPBACK_P2P, "warn")
}

/// [`test_config`] with other `[p2p]` settings and log level.
pub(crate) fn node_config(p2p: &str, log_level: &str) -> String {
    format!(
        r#"markets_file = "{}"
plain_key = true
[log]
level = "{log_level}"
[p2p]
{p2p}[node]
tick_interval = "100ms"
"#,
        markets_file().display()
    )
}

/// [`test_config`] without `plain_key`: the trader key must be an encrypted keystore.
/// `top` goes before the first section (top-level keys such as `password_file`).
pub(crate) fn keystore_config(top: &str) -> String {
    format!("{top}{}", test_config().replace("plain_key = true\n", ""))
}

/// A running dexd.
pub(crate) struct Dexd {
    child: Child,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) url: String,
    pub(crate) token: String,
    /// Its API (URL and token from its data dir).
    pub(crate) client: Client,
    /// The network-lab host it runs in (its API is reached from inside that host); `None`:
    /// this machine's loopback.
    pub(crate) host: Option<dex_netlab::Host>,
}

/// Creates the data dir `data` (0700) with `key` as its trader.key (0600).
pub(crate) fn write_trader_key(data: &Path, key: &str) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    fs::create_dir(data).expect("data dir");
    fs::set_permissions(data, fs::Permissions::from_mode(0o700)).expect("mode");
    let mut file = fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(data.join("trader.key"))
        .expect("trader.key");
    std::io::Write::write_all(&mut file, key.as_bytes()).expect("key written");
}

/// An HTTP answer: status, content type, JSON body (Null if not JSON), raw text.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) json: Value,
    pub(crate) text: String,
}

impl Answer {
    /// The problem in the body; panics if it is not one.
    pub(crate) fn problem(&self) -> Problem {
        assert_eq!(
            self.content_type, "application/problem+json",
            "not a problem: {} {}",
            self.status, self.text
        );
        serde_json::from_str(&self.text).expect("a problem body")
    }
}

pub(crate) fn dexd_command(args: &[&str]) -> Command {
    dexd_command_on(None, args)
}

/// The dexd command, inside `host` when given.
fn dexd_command_on(host: Option<&dex_netlab::Host>, args: &[&str]) -> Command {
    let program = env!("CARGO_BIN_EXE_dexd");
    let mut command = host.map_or_else(|| Command::new(program), |host| host.command(program));
    command.args(args);
    for (var, _) in std::env::vars() {
        if var.starts_with("DEX_") || var == "RUST_LOG" {
            command.env_remove(var);
        }
    }
    command
}

impl Dexd {
    /// Starts a node with the test config, bootstrapping from `bootstrap`.
    pub(crate) fn start(bootstrap: &[String]) -> Dexd {
        Self::start_with(&test_config(), bootstrap)
    }

    pub(crate) fn start_with(config: &str, bootstrap: &[String]) -> Dexd {
        let dir = tempfile::tempdir().expect("a temp dir");
        fs::write(dir.path().join("dexd.toml"), config).expect("config written");
        Self::launch(dir, bootstrap)
    }

    /// Starts a node with `config` whose trader key is `key` (0x hex, or a keystore's
    /// JSON), written into its data dir before the first start.
    pub(crate) fn start_trader(config: &str, key: &str, bootstrap: &[String]) -> Dexd {
        let dir = tempfile::tempdir().expect("a temp dir");
        fs::write(dir.path().join("dexd.toml"), config).expect("config written");
        write_trader_key(&dir.path().join("data"), key);
        Self::launch(dir, bootstrap)
    }

    /// Stops this node (SIGKILL if still running) and starts it again on the same data dir.
    pub(crate) fn restart(self) -> Dexd {
        self.restart_with(&[])
    }

    /// Like [`Dexd::restart`], bootstrapping from `bootstrap`.
    pub(crate) fn restart_with(mut self, bootstrap: &[String]) -> Dexd {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("a temp dir"));
        // A killed dexd leaves its API URL behind; the new one writes its own once it
        // listens.
        let _ = fs::remove_file(dir.path().join("data").join(dex_api::layout::API_URL));
        Self::launch_on(self.host.take(), dir, bootstrap, &[], &[])
    }

    fn launch(dir: tempfile::TempDir, bootstrap: &[String]) -> Dexd {
        Self::launch_with(dir, bootstrap, &[], &[])
    }

    /// Starts a node with `config` (and trader key `key`, if given) inside lab host
    /// `host`, bootstrapping from `bootstrap`.
    pub(crate) fn start_on(
        host: &dex_netlab::Host,
        config: &str,
        key: Option<&str>,
        bootstrap: &[String],
        args: &[&str],
    ) -> Dexd {
        let dir = tempfile::tempdir().expect("a temp dir");
        fs::write(dir.path().join("dexd.toml"), config).expect("config written");
        if let Some(key) = key {
            write_trader_key(&dir.path().join("data"), key);
        }
        Self::launch_on(Some(host.clone()), dir, bootstrap, args, &[])
    }

    /// Starts dexd on `dir` (its `dexd.toml`, its `data`) with further `args` and
    /// environment variables `envs`.
    pub(crate) fn launch_with(
        dir: tempfile::TempDir,
        bootstrap: &[String],
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Dexd {
        Self::launch_on(None, dir, bootstrap, args, envs)
    }

    fn launch_on(
        host: Option<dex_netlab::Host>,
        dir: tempfile::TempDir,
        bootstrap: &[String],
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Dexd {
        let extra_args = args;
        let config_path = dir.path().join("dexd.toml");
        let data = dir.path().join("data");
        // Appended: a restarted node's log follows the one before.
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("dexd.log"))
            .expect("log file");
        let mut args = vec![
            "--config".to_owned(),
            config_path.display().to_string(),
            "--data-dir".to_owned(),
            data.display().to_string(),
            "--api-listen".to_owned(),
            "127.0.0.1:0".to_owned(),
        ];
        if !bootstrap.is_empty() {
            args.push("--bootstrap".to_owned());
            args.push(bootstrap.join(","));
        }
        args.extend(extra_args.iter().map(|arg| (*arg).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // No terminal: a password that is not given is an error, never a prompt.
        let child = dexd_command_on(host.as_ref(), &args)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dexd starts");
        // Built at once, so that a failed start still kills the process (and shows its log).
        let mut node = Dexd {
            child,
            dir,
            url: String::new(),
            token: String::new(),
            client: Client::new("http://not-listening-yet", None),
            host,
        };
        let url = wait_for("dexd to write its API URL", || {
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!("dexd exited with {status}: {}", node.log());
            }
            dex_client::read_url(&data).ok().flatten()
        });
        node.client = Client::discover(Some(&url), None, Some(&data)).expect("the data dir");
        node.token = node
            .client
            .token()
            .expect("dexd wrote its API token")
            .to_owned();
        node.url = url;
        wait_for("the API to answer", || {
            node.within(|client| client.health()).ok()
        });
        node
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub(crate) fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("dexd.log")).unwrap_or_default()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit and returns its code.
    pub(crate) fn wait_exit(&mut self) -> Option<i32> {
        wait_for("dexd to exit", || self.child.try_wait().ok().flatten()).code()
    }

    /// The trader key, from its plain hex file.
    pub(crate) fn trader_key(&self) -> TraderKey {
        fs::read_to_string(self.data_dir().join("trader.key"))
            .expect("trader.key")
            .parse()
            .expect("a trader key")
    }

    pub(crate) fn info(&self) -> Info {
        self.within(|client| client.info()).expect("an info answer")
    }

    /// Runs `call` with this node's client, from inside its lab host if it has one.
    pub(crate) fn within<T: Send>(&self, call: impl FnOnce(&Client) -> T + Send) -> T {
        match &self.host {
            None => call(&self.client),
            Some(host) => host
                .within(|| call(&self.client))
                .expect("the lab host is there"),
        }
    }

    /// Sends `request` through this node's client: from inside its lab host if it has one.
    pub(crate) fn send(&self, request: RawRequest) -> Answer {
        let call = || {
            let response = self.client.send_raw(&request).expect("the API answers");
            Answer {
                status: response.status,
                json: response.json().unwrap_or(Value::Null),
                content_type: response.content_type,
                text: response.body,
            }
        };
        match &self.host {
            None => call(),
            Some(host) => host.within(call).expect("the lab host is there"),
        }
    }

    pub(crate) fn get(&self, path: &str) -> Answer {
        self.send(RawRequest::get(path))
    }

    /// GET with the node's token.
    pub(crate) fn get_auth(&self, path: &str) -> Answer {
        self.send(RawRequest::get(path).authorized())
    }

    /// POST with the node's token and a JSON content type.
    pub(crate) fn post(&self, path: &str, body: &str) -> Answer {
        self.post_as(path, body, Some(&self.token), Some("application/json"))
    }

    pub(crate) fn post_as(
        &self,
        path: &str,
        body: &str,
        token: Option<&str>,
        content_type: Option<&str>,
    ) -> Answer {
        let mut request = RawRequest::post(path, body);
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        self.send(request)
    }

    /// DELETE with the node's token.
    pub(crate) fn delete(&self, path: &str) -> Answer {
        self.send(RawRequest::delete(path).authorized())
    }

    /// An order by this node's trader, naming this node, signed.
    pub(crate) fn order(&self, side: Side, price: u64, quantity: u64, nonce: u64) -> SignedOrder {
        let info = self.info();
        let key = self.trader_key();
        let now = now_ms();
        Order {
            market: dex_test_utils::eth_usdc_id(),
            side,
            price: dex_primitives::Ticks(price),
            quantity: dex_primitives::Lots(quantity),
            min_fill: dex_primitives::Lots(1),
            maker: key.address(),
            peer: info.peer_id,
            nonce,
            created_at: now,
            expires_at: now + 3_600_000,
        }
        .sign(&key)
    }

    /// The book of ETH/USDC as (side, price, quantity) triples.
    pub(crate) fn book(&self) -> Vec<(String, String, String)> {
        let book = self
            .within(|client| client.book("ETH/USDC", 50))
            .expect("the book");
        let mut levels = Vec::new();
        for (side, side_levels) in [("bids", &book.bids), ("asks", &book.asks)] {
            for level in side_levels {
                levels.push((side.to_owned(), level.price.clone(), level.quantity.clone()));
            }
        }
        levels
    }

    /// The digest of the visible ETH/USDC book, as the book route answers it.
    pub(crate) fn digest(&self) -> dex_primitives::B256 {
        self.within(|client| client.book("ETH/USDC", 1))
            .expect("the book")
            .digest
    }

    /// A metric's value, summed over the series whose labels include `labels`
    /// (`key="value",...`).
    pub(crate) fn metric(&self, name: &str, labels: &str) -> f64 {
        crate::prometheus::value(&self.scrape(), name, labels)
    }

    /// `/metrics`, parsed.
    pub(crate) fn scrape(&self) -> crate::prometheus::Scrape {
        let text = self.within(|client| client.metrics()).expect("the metrics");
        crate::prometheus::parse(&text)
    }
}

/// Lines of a node's log shown when a test fails.
const LOG_TAIL: usize = 60;

impl Drop for Dexd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // The data dir goes with this: what the node said is shown now or never (or
            // kept whole in `DEX_TEST_LOG_DIR`, when set).
            let log = self.log();
            if let Some(dir) = std::env::var_os("DEX_TEST_LOG_DIR") {
                let name = format!("dexd-{}-{}.log", std::process::id(), self.child.id());
                let _ = fs::create_dir_all(&dir);
                let _ = fs::write(Path::new(&dir).join(name), &log);
            }
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
            let host = self.host.as_ref().map(ToString::to_string);
            eprintln!(
                "--- last {} lines of the log of dexd {} ({}) ---\n{}",
                tail.len(),
                self.url,
                host.as_deref().unwrap_or("loopback"),
                tail.join("\n")
            );
        }
    }
}
