//! A JSON-RPC proxy in front of anvil that misbehaves the ways real endpoints do, for the
//! scanner tests: logs that lag the endpoint's own head (a load-balanced or still-indexing
//! RPC), logs of blocks a reorg has already replaced (a stale backend), and a backend that
//! answers every call with an error.
//!
//! Plain std: a thread per connection, HTTP/1.1 with keep-alive as reqwest speaks it.

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::Duration,
};

use serde_json::{Value, json};

/// How the proxy answers `eth_getLogs` (and, when down, every call); everything else is
/// passed through.
#[derive(Debug, Clone)]
pub(crate) enum Mode {
    /// Every call is answered with a JSON-RPC error ("backend down").
    Down,
    /// Passes everything through.
    Honest,
    /// Logs come from a backend `lag` blocks behind the head that `eth_blockNumber`
    /// reports: range queries end there, and blocks past it are unknown by hash.
    LogsLag(u64),
    /// Range queries are answered with these logs (recorded before a reorg), restricted
    /// to the range asked.
    StaleLogs(Vec<Value>),
}

/// A running proxy; stops accepting when dropped.
pub(crate) struct Proxy {
    addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    stopped: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
}

impl Proxy {
    /// Starts a proxy for the JSON-RPC endpoint at `upstream`.
    pub(crate) fn start(upstream: SocketAddr) -> io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mode = Arc::new(Mutex::new(Mode::Honest));
        let stopped = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicU64::new(0));
        let (shared, stop, count) = (
            Arc::clone(&mode),
            Arc::clone(&stopped),
            Arc::clone(&refused),
        );
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (mode, count) = (Arc::clone(&shared), Arc::clone(&count));
                thread::spawn(move || {
                    let _ = serve(stream, upstream, &mode, &count);
                });
            }
        });
        Ok(Proxy {
            addr,
            mode,
            stopped,
            refused,
        })
    }

    /// The proxy's endpoint.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many calls were answered with an error because the proxy was down.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }

    /// Changes how calls are answered from now on.
    pub(crate) fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // Wake the accept loop so that it sees the flag and exits.
        self.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Serves one keep-alive connection until the client closes it.
fn serve(
    stream: TcpStream,
    upstream: SocketAddr,
    mode: &Mutex<Mode>,
    refused: &AtomicU64,
) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut content_length = None;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse::<usize>().ok();
            }
        }
        let mut body = vec![0; content_length.unwrap_or(0)];
        reader.read_exact(&mut body)?;
        let request: Value = serde_json::from_slice(&body).map_err(io::Error::other)?;
        let current = mode.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let response = match request {
            Value::Array(calls) => Value::Array(
                calls
                    .into_iter()
                    .map(|call| answer(call, upstream, &current, refused))
                    .collect::<io::Result<_>>()?,
            ),
            call => answer(call, upstream, &current, refused)?,
        };
        let body = serde_json::to_vec(&response).map_err(io::Error::other)?;
        write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )?;
        writer.write_all(&body)?;
        writer.flush()?;
    }
}

/// The response to one JSON-RPC call.
fn answer(
    call: Value,
    upstream: SocketAddr,
    mode: &Mode,
    refused: &AtomicU64,
) -> io::Result<Value> {
    let id = call["id"].clone();
    if let Mode::Down = mode {
        refused.fetch_add(1, Ordering::SeqCst);
        return Ok(json!({
            "jsonrpc": "2.0", "id": id,
            "error": {"code": -32603, "message": "backend down"},
        }));
    }
    if call["method"] != "eth_getLogs" {
        return forward(&call, upstream);
    }
    let filter = &call["params"][0];
    match mode {
        Mode::Honest | Mode::Down => forward(&call, upstream),
        Mode::LogsLag(lag) => {
            let head = quantity(&rpc(upstream, "eth_blockNumber", json!([]))?)?;
            let indexed = head.saturating_sub(*lag);
            if let Some(hash) = filter.get("blockHash") {
                let block = rpc(upstream, "eth_getBlockByHash", json!([hash, false]))?;
                if block.is_null() || quantity(&block["number"])? > indexed {
                    return Ok(json!({
                        "jsonrpc": "2.0", "id": id,
                        "error": {"code": -32000, "message": "unknown block"},
                    }));
                }
                return forward(&call, upstream);
            }
            let mut call = call;
            let to = quantity(&call["params"][0]["toBlock"])?;
            call["params"][0]["toBlock"] = json!(format!("{:#x}", to.min(indexed)));
            forward(&call, upstream)
        }
        Mode::StaleLogs(logs) => {
            if filter.get("blockHash").is_some() {
                return forward(&call, upstream);
            }
            let from = quantity(&filter["fromBlock"])?;
            let to = quantity(&filter["toBlock"])?;
            let mut in_range = Vec::new();
            for log in logs {
                if (from..=to).contains(&quantity(&log["blockNumber"])?) {
                    in_range.push(log.clone());
                }
            }
            Ok(json!({"jsonrpc": "2.0", "id": id, "result": in_range}))
        }
    }
}

/// Sends `call` upstream as is and returns the whole response object.
fn forward(call: &Value, upstream: SocketAddr) -> io::Result<Value> {
    let body = serde_json::to_vec(call).map_err(io::Error::other)?;
    let mut stream = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST / HTTP/1.0\r\nHost: {upstream}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other("malformed HTTP response"))?;
    serde_json::from_slice(&response[split + 4..]).map_err(io::Error::other)
}

/// One call upstream; its result.
fn rpc(upstream: SocketAddr, method: &str, params: Value) -> io::Result<Value> {
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let response = forward(&call, upstream)?;
    match response.get("error") {
        Some(error) => Err(io::Error::other(format!("{method}: {error}"))),
        None => Ok(response["result"].clone()),
    }
}

/// A hex quantity as u64.
fn quantity(value: &Value) -> io::Result<u64> {
    value
        .as_str()
        .and_then(|hex| u64::from_str_radix(hex.trim_start_matches("0x"), 16).ok())
        .ok_or_else(|| io::Error::other(format!("not a hex quantity: {value}")))
}
