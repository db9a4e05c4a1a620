//! The chain event loop's public face: its configuration, the cloneable [`ChainHandle`]
//! that sends it commands, and the [`ChainLoopEvent`]s it reports. The loop itself is in
//! `event_loop.rs`.
//!
//! # Flow
//! One event loop per chain owns its clients (one per trader key), its scan cursor and the
//! transactions it sent. Commands go in over a bounded mpsc, each with a `oneshot` for its
//! answer (`ChainHandle` → `EventLoop`), and are answered at once: the loop never waits on
//! the chain to answer a command, its reads and sends run beside it. Events come out over
//! a bounded mpsc (`EventLoop` → the owner) in the order they happened; while that queue is
//! full the loop starts no new scan or balance reading (a busy owner slows the chain's
//! reading down, nothing is dropped) and keeps answering commands.
//!
//! What the loop does:
//! - connects every trader's client (retrying with a doubling delay, up to
//!   [`MAX_RECONNECT_DELAY`], until the endpoint answers and the HTLC checks out), reads
//!   the balances, and reports [`ChainLoopEvent::Connected`];
//! - scans the HTLC's events ([`crate::HtlcClient::scan`]): each [`ScanBatch`] carries the
//!   confirmed position (`last_block`, the cursor) and the head, reported as
//!   [`ChainLoopEvent::Scanned`]; a failing endpoint is reported once as
//!   [`ChainLoopEvent::Unreachable`] and retried every [`SCAN_RETRY_DELAY`] at least;
//! - reads the balances every `balance_interval`, or sooner when asked
//!   ([`ChainHandle::refresh_balances`]);
//! - submits the transactions it is asked for ([`ChainHandle::submit`], one at a time per
//!   tag), reports each version it broadcasts ([`ChainLoopEvent::TxSent`]), re-sends it
//!   with bumped fees while it is not mined (as [`crate::ChainClient::wait_for_tx`] does),
//!   and reports how it ended ([`ChainLoopEvent::TxDone`]).
//!
//! The loop knows no swaps: a transaction is named by the owner's tag `T`.

use std::{fmt, sync::Arc, time::Duration};

use alloy_primitives::{Address, U256};
use dex_primitives::UnixMillis;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::{ChainError, ClientConfig, LockParams, ScanBatch, Secret, SentTx, TxOutcome};

/// Longest pause between two connection attempts to an unreachable chain.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);

/// Shortest pause before a failed scan is tried again.
pub const SCAN_RETRY_DELAY: Duration = Duration::from_millis(500);

/// Where the chain is and how its event loop reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLoopConfig {
    /// The chain id (checked against the endpoint when connecting).
    pub chain_id: u64,
    /// JSON-RPC endpoint (plain HTTP).
    pub rpc_url: String,
    /// The HTLC contract (checked to be exactly this crate's contract when connecting).
    pub htlc: Address,
    /// First block to scan when no cursor is given.
    pub start_block: u64,
    /// Timeouts, polling, scan range, confirmations, fee bumping.
    pub client: ClientConfig,
    /// The assets whose balances the loop reads for every trader (`0x0…0`: the native coin).
    pub balance_tokens: Vec<Address>,
    /// How often the balances are read (at least every 10 ms).
    pub balance_interval: Duration,
    /// Capacity of the command queue (senders wait while it is full).
    pub command_queue: usize,
    /// Capacity of the event queue (the loop holds back new readings while it is full).
    pub event_queue: usize,
}

impl ChainLoopConfig {
    /// A configuration with the given endpoint and HTLC, scanning from `start_block`, the
    /// client's defaults, no balances read, and queues of 64.
    pub fn new(chain_id: u64, rpc_url: impl Into<String>, htlc: Address, start_block: u64) -> Self {
        ChainLoopConfig {
            chain_id,
            rpc_url: rpc_url.into(),
            htlc,
            start_block,
            client: ClientConfig::default(),
            balance_tokens: Vec::new(),
            balance_interval: Duration::from_secs(5),
            command_queue: 64,
            event_queue: 64,
        }
    }
}

/// The owner's clock, read when a balance reading starts (readings are stamped with it).
pub type ReadingClock = Arc<dyn Fn() -> UnixMillis + Send + Sync>;

/// One balance the loop read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceReading {
    /// The trader.
    pub owner: Address,
    /// The token (`0x0…0`: the native coin).
    pub token: Address,
    /// Base units held.
    pub amount: U256,
    /// When the reading started, by the owner's clock: what the chain showed before then
    /// is in `amount`.
    pub started_at: UnixMillis,
}

/// A transaction the loop is asked to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxRequest {
    /// Lock (with the ERC-20 approval if needed), sent by `params.sender`.
    Lock(LockParams),
    /// Claim with the secret, sent by `params.recipient` (who is paid).
    Claim {
        /// The lock.
        params: LockParams,
        /// Its secret.
        secret: Secret,
    },
    /// Refund, sent by `params.sender`.
    Refund(LockParams),
}

impl TxRequest {
    /// `"lock"`, `"claim"` or `"refund"`.
    pub fn what(&self) -> &'static str {
        match self {
            TxRequest::Lock(_) => "lock",
            TxRequest::Claim { .. } => "claim",
            TxRequest::Refund(_) => "refund",
        }
    }

    /// The lock's parameters.
    pub fn params(&self) -> &LockParams {
        match self {
            TxRequest::Lock(params)
            | TxRequest::Claim { params, .. }
            | TxRequest::Refund(params) => params,
        }
    }

    /// The account that sends it: the lock's sender locks and refunds, its recipient (who
    /// is paid, and whose gas the node judged) claims.
    pub fn signer(&self) -> Address {
        match self {
            TxRequest::Lock(params) | TxRequest::Refund(params) => params.sender,
            TxRequest::Claim { params, .. } => params.recipient,
        }
    }
}

/// The loop's RPC work, as an operator's error counts name it: the loop's own work in
/// [`ChainLoopEvent::RpcFailed`], a submitted transaction in a failed
/// [`ChainLoopEvent::TxDone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcWork {
    /// Connecting (chain id, contract checks, the first balances).
    Connect,
    /// Scanning blocks for HTLC events.
    Scan,
    /// Reading balances and the fee per gas.
    Balance,
    /// Sending a lock, claim or refund and following it.
    Transaction,
}

impl RpcWork {
    /// Its name in metrics labels: `connect`, `scan`, `balance` or `transaction`.
    pub fn label(self) -> &'static str {
        match self {
            RpcWork::Connect => "connect",
            RpcWork::Scan => "scan",
            RpcWork::Balance => "balance",
            RpcWork::Transaction => "transaction",
        }
    }
}

/// What the event loop of one chain reports, in the order it happened.
#[derive(Debug)]
#[non_exhaustive]
pub enum ChainLoopEvent<T> {
    /// Every trader's client is connected, the HTLC checked, and the balances read (a
    /// [`ChainLoopEvent::Balances`] came just before): transactions can be submitted.
    Connected {
        /// The chain.
        chain_id: u64,
    },
    /// The chain does not answer: connecting failed (reported on every attempt), or a scan
    /// failed (reported once, until one succeeds again). Trading on it should stop.
    Unreachable {
        /// The chain.
        chain_id: u64,
        /// Why.
        error: String,
        /// When the loop tries again.
        retry_in: Duration,
    },
    /// An RPC call of the loop's own work failed (every failure, also those that do not
    /// make the chain [`ChainLoopEvent::Unreachable`]): for the operator's error counts.
    /// Transactions report their failures in [`ChainLoopEvent::TxDone`].
    RpcFailed {
        /// The chain.
        chain_id: u64,
        /// The work that failed.
        work: RpcWork,
    },
    /// One scan step: events in chain order, the confirmed position (`last_block` and
    /// the cursor to store once the events are handled) and the head.
    Scanned {
        /// The chain.
        chain_id: u64,
        /// The step.
        batch: ScanBatch,
    },
    /// The trader's balances on this chain, read now, and what a transaction sent now
    /// would offer per gas (wei; `None` if the fee could not be read).
    Balances {
        /// The chain.
        chain_id: u64,
        /// One per (trader, token).
        readings: Vec<BalanceReading>,
        /// The fee per gas.
        max_fee_per_gas: Option<u128>,
    },
    /// A version of a submitted transaction was broadcast: the first, or a re-send with
    /// bumped fees. `sent` holds the hashes of every version so far.
    TxSent {
        /// The chain.
        chain_id: u64,
        /// The owner's tag of the transaction.
        tag: T,
        /// What it is (`"lock"`, `"claim"`, `"refund"`).
        what: &'static str,
        /// Sender, nonce and every version's hash.
        sent: SentTx,
    },
    /// A submitted transaction ended: mined and succeeded, or failed (refused, reverted,
    /// not mined within [`ClientConfig::tx_timeout`], gone). The tag is free again.
    TxDone {
        /// The chain.
        chain_id: u64,
        /// The owner's tag of the transaction.
        tag: T,
        /// What it was.
        what: &'static str,
        /// Its outcome, or why it failed.
        result: Result<TxOutcome, ChainError>,
    },
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T, ChainError>>;

/// Everything the handle can ask of the event loop.
#[derive(Debug)]
pub(crate) enum Command<T> {
    Submit {
        tag: T,
        request: TxRequest,
        reply: Reply<bool>,
    },
    Balance {
        token: Address,
        owner: Address,
        reply: Reply<U256>,
    },
    Shutdown,
}

/// A cloneable handle to one chain's event loop. Every method sends a command over a
/// bounded channel (waiting while it is full) and, where there is an answer, waits for
/// it; the loop answers at once.
pub struct ChainHandle<T> {
    pub(crate) chain_id: u64,
    pub(crate) commands: mpsc::Sender<Command<T>>,
    pub(crate) nudge: Arc<Notify>,
}

impl<T> Clone for ChainHandle<T> {
    fn clone(&self) -> Self {
        ChainHandle {
            chain_id: self.chain_id,
            commands: self.commands.clone(),
            nudge: self.nudge.clone(),
        }
    }
}

impl<T> fmt::Debug for ChainHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainHandle")
            .field("chain_id", &self.chain_id)
            .finish_non_exhaustive()
    }
}

impl<T> ChainHandle<T> {
    /// The chain this handle drives.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    async fn ask<R>(&self, command: impl FnOnce(Reply<R>) -> Command<T>) -> Result<R, ChainError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| ChainError::Stopped)?;
        answer.await.map_err(|_| ChainError::Stopped)?
    }

    /// Asks the loop to send `request`, tagged `tag`. `Ok(true)`: taken, its end comes as
    /// [`ChainLoopEvent::TxDone`] with the tag; `Ok(false)`: a transaction with this tag is
    /// still on its way (nothing new is sent); [`ChainError::NotConnected`] or
    /// [`ChainError::NoSigner`]: nothing is sent, ask again later.
    pub async fn submit(&self, tag: T, request: TxRequest) -> Result<bool, ChainError> {
        self.ask(|reply| Command::Submit {
            tag,
            request,
            reply,
        })
        .await
    }

    /// The balance of `owner` in `token` (`0x0…0`: the native coin), read now. Fails with
    /// [`ChainError::NotConnected`] while the chain is not connected.
    pub async fn balance(&self, token: Address, owner: Address) -> Result<U256, ChainError> {
        self.ask(|reply| Command::Balance {
            token,
            owner,
            reply,
        })
        .await
    }

    /// Asks for a fresh balance reading soon (after transactions and events that move
    /// balances). Requests made before the reading starts are served by it.
    pub fn refresh_balances(&self) {
        self.nudge.notify_one();
    }

    /// Stops the event loop; transactions it was following are no longer followed (their
    /// versions already broadcast may still be mined). Other handles then get
    /// [`ChainError::Stopped`].
    pub async fn shutdown(&self) {
        // If it is already stopped there is nothing to do.
        let _ = self.commands.send(Command::Shutdown).await;
    }
}
