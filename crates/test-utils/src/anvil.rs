//! A local anvil chain per test: started from the workspace's pinned `.tools/bin/anvil` on
//! an ephemeral loopback port with a chosen chain id, and killed when the handle drops.
//!
//! Process handling and the few test-only RPC calls (`evm_increaseTime`, `evm_mine`, …) use
//! only the standard library, so enabling the `anvil` feature compiles no HTTP stack: the
//! typed client lives in `dex-chain`.

use std::{
    collections::VecDeque,
    fmt,
    io::{self, BufRead, BufReader, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, mpsc},
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// How long anvil may take to start listening and to answer its first request. Generous:
/// on a loaded 2-core CI machine many tests start chains at once.
const START_DEADLINE: Duration = Duration::from_secs(30);
/// Lines of anvil output kept for error messages.
const KEPT_OUTPUT_LINES: usize = 40;

/// The workspace root, derived from this crate's manifest directory (`crates/test-utils`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists: this crate is inside it")
}

/// Where `scripts/install-tools.sh` puts the pinned chain tools.
pub fn tools_dir() -> PathBuf {
    workspace_root().join(".tools")
}

/// The pinned anvil binary, or an error that says how to install it.
pub fn anvil_path() -> io::Result<PathBuf> {
    let path = tools_dir().join("bin/anvil");
    if path.is_file() {
        Ok(path)
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "anvil not found at {}: run scripts/install-tools.sh (it installs the pinned \
                 anvil and solc into .tools/)",
                path.display()
            ),
        ))
    }
}

/// A running anvil node. Dropping it kills the process and reaps it, so a test that panics
/// leaves no chain behind.
pub struct Anvil {
    child: Child,
    addr: SocketAddr,
    chain_id: u64,
    output: Arc<Mutex<VecDeque<String>>>,
}

impl fmt::Debug for Anvil {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Anvil")
            .field("pid", &self.child.id())
            .field("addr", &self.addr)
            .field("chain_id", &self.chain_id)
            .finish()
    }
}

impl Anvil {
    /// Starts anvil with `chain_id` on 127.0.0.1 and an OS-chosen port, and returns once it
    /// answers JSON-RPC. It mines a block per transaction and funds the ten
    /// [`crate::ANVIL_KEYS`] accounts with 10,000 ETH each.
    pub fn start(chain_id: u64) -> io::Result<Anvil> {
        Anvil::start_with_args(chain_id, &[])
    }

    /// Like [`Anvil::start`], with extra command-line arguments for anvil.
    pub fn start_with_args(chain_id: u64, extra_args: &[&str]) -> io::Result<Anvil> {
        let deadline = Instant::now() + START_DEADLINE;
        let mut child = Command::new(anvil_path()?)
            .args(["--host", "127.0.0.1", "--port", "0", "--chain-id"])
            .arg(chain_id.to_string())
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;

        // anvil prints the port it bound ("Listening on 127.0.0.1:PORT"): reading it avoids
        // the race of picking a free port first and hoping it stays free.
        let output = Arc::new(Mutex::new(VecDeque::new()));
        let (listening_tx, listening_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped above");
        let stderr = child.stderr.take().expect("stderr is piped above");
        spawn_drain(stdout, Arc::clone(&output), Some(listening_tx));
        spawn_drain(stderr, Arc::clone(&output), None);

        let mut anvil = Anvil {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            chain_id,
            output,
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        anvil.addr = match listening_rx.recv_timeout(remaining) {
            Ok(addr) => addr,
            Err(_) => return Err(anvil.failure("anvil did not start listening")),
        };

        // Listening is not serving yet: wait until it answers a request.
        loop {
            match anvil.rpc("eth_chainId", json!([])) {
                Ok(answer) if answer.as_str() == Some(&format!("{chain_id:#x}")) => {
                    return Ok(anvil);
                }
                Ok(answer) => {
                    return Err(anvil.failure(&format!("anvil reports chain id {answer}")));
                }
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Err(err) => return Err(anvil.failure(&format!("anvil does not answer: {err}"))),
            }
        }
    }

    /// The JSON-RPC endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address anvil listens on (always on 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The chain id anvil was started with.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Moves chain time forward by `seconds`; takes effect with the next mined block.
    pub fn increase_time(&self, seconds: u64) -> io::Result<()> {
        self.rpc("evm_increaseTime", json!([seconds])).map(drop)
    }

    /// Mines `blocks` empty blocks at once.
    pub fn mine(&self, blocks: u64) -> io::Result<()> {
        self.rpc("anvil_mine", json!([format!("{blocks:#x}")]))
            .map(drop)
    }

    /// Mines one block with `evm_mine`.
    pub fn mine_one(&self) -> io::Result<()> {
        self.rpc("evm_mine", json!([])).map(drop)
    }

    /// Moves time forward by `seconds` and mines a block, so the latest block's timestamp
    /// (what contracts see as `block.timestamp` for reads) reflects it.
    pub fn advance(&self, seconds: u64) -> io::Result<()> {
        self.increase_time(seconds)?;
        self.mine_one()
    }

    /// The latest block's timestamp (unix seconds).
    pub fn latest_timestamp(&self) -> io::Result<u64> {
        let block = self.rpc("eth_getBlockByNumber", json!(["latest", false]))?;
        quantity(&block["timestamp"])
    }

    /// The latest block number.
    pub fn block_number(&self) -> io::Result<u64> {
        quantity(&self.rpc("eth_blockNumber", json!([]))?)
    }

    /// Sends one JSON-RPC request and returns its `result`, or the node's `error` as an
    /// `io::Error`. Blocking, for test set-up between async steps.
    pub fn rpc(&self, method: &str, params: Value) -> io::Result<Value> {
        rpc_call(self.addr, method, params)
    }

    /// The last lines anvil printed, for diagnosing a failed test.
    pub fn recent_output(&self) -> Vec<String> {
        self.output
            .lock()
            .map(|lines| lines.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn failure(&mut self, what: &str) -> io::Error {
        let status = match self.child.try_wait() {
            Ok(Some(status)) => format!("exited with {status}"),
            _ => "still running".to_owned(),
        };
        io::Error::other(format!(
            "{what} (chain id {}, {status}); last output:\n{}",
            self.chain_id,
            self.recent_output().join("\n")
        ))
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        // kill() fails only if the process already exited; wait() reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a pipe line by line until EOF, keeping the last lines and reporting the listening
/// address once. The pipe must be drained for anvil's whole life, or it blocks on logging.
fn spawn_drain(
    pipe: impl Read + Send + 'static,
    output: Arc<Mutex<VecDeque<String>>>,
    mut listening: Option<mpsc::Sender<SocketAddr>>,
) {
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line
                .strip_prefix("Listening on ")
                .and_then(|addr| addr.trim().parse::<SocketAddr>().ok())
                && let Some(sender) = listening.take()
            {
                let _ = sender.send(addr);
            }
            if let Ok(mut lines) = output.lock() {
                if lines.len() == KEPT_OUTPUT_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        }
    });
}

/// Parses a JSON-RPC hex quantity.
fn quantity(value: &Value) -> io::Result<u64> {
    value
        .as_str()
        .and_then(|hex| u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| io::Error::other(format!("not a hex quantity: {value}")))
}

/// Sends one JSON-RPC request to the node at `addr` (plain HTTP) and returns its `result`,
/// or the node's `error` as an `io::Error`. Blocking, for test set-up and checks.
pub fn rpc_call(addr: SocketAddr, method: &str, params: Value) -> io::Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let body = serde_json::to_vec(&body).map_err(io::Error::other)?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    // HTTP/1.0: the server closes the connection after one un-chunked response, so the
    // body is simply everything after the headers.
    write!(
        stream,
        "POST / HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("{method}: malformed HTTP response")))?;
    let answer: Value = serde_json::from_slice(&response[split + 4..]).map_err(io::Error::other)?;
    match answer.get("error") {
        Some(error) => Err(io::Error::other(format!("{method} failed: {error}"))),
        None => Ok(answer["result"].clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_answers_moves_time_and_dies_on_drop() {
        let anvil = Anvil::start(31_999).expect("anvil starts (run scripts/install-tools.sh)");
        assert!(anvil.addr().ip().is_loopback());
        assert_eq!(anvil.chain_id(), 31_999);

        let before = anvil.latest_timestamp().unwrap();
        anvil.advance(3_600).unwrap();
        let after = anvil.latest_timestamp().unwrap();
        assert!(after >= before + 3_600, "{before} -> {after}");

        let height = anvil.block_number().unwrap();
        anvil.mine(5).unwrap();
        assert_eq!(anvil.block_number().unwrap(), height + 5);

        assert!(anvil.rpc("no_such_method", json!([])).is_err());

        let addr = anvil.addr();
        drop(anvil);
        assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err());
    }

    #[test]
    fn two_chains_run_side_by_side() {
        let first = Anvil::start(31_337).unwrap();
        let second = Anvil::start(31_338).unwrap();
        assert_ne!(first.addr(), second.addr());
        assert_eq!(
            second.rpc("eth_chainId", json!([])).unwrap(),
            json!("0x7a6a")
        );
    }
}
