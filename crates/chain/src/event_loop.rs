//! The task that owns one chain's clients: one `select!` over commands, finished reads and
//! sends, the event queue's free slots, the balance nudge and its timers.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    fmt::Debug,
    hash::Hash,
    sync::Arc,
    time::Duration,
};

use alloy_primitives::Address;
use dex_primitives::TraderKey;
use tokio::{
    sync::{Notify, mpsc},
    task::JoinSet,
    time::Instant,
};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::{
    BalanceReading, ChainClient, ChainError, ChainHandle, ChainLoopConfig, ChainLoopEvent,
    HtlcClient, MAX_RECONNECT_DELAY, ReadingClock, RpcWork, SCAN_RETRY_DELAY, ScanBatch,
    ScanCursor, SentTx, TxOutcome, TxRequest, handle::Command,
};

/// Events held back while the owner's queue is full before no new scan or balance reading
/// starts.
const MAX_HELD_EVENTS: usize = 4;

/// Shortest interval between two balance readings.
const MIN_BALANCE_INTERVAL: Duration = Duration::from_millis(10);

/// Shortest first pause between connection attempts.
const MIN_RECONNECT_DELAY: Duration = Duration::from_millis(100);

/// Balances of every (trader, token), and the fee per gas if it could be read.
type Readings = (Vec<BalanceReading>, Option<u128>);

/// A piece of work the loop started beside it, back with its result.
enum Work<T> {
    Connected(Result<(HashMap<Address, HtlcClient>, Readings), ChainError>),
    Scanned(Result<ScanBatch, ChainError>),
    Balances(Result<Readings, ChainError>),
    Submitted {
        tag: T,
        what: &'static str,
        client: ChainClient,
        result: Result<SentTx, ChainError>,
    },
    TxRound(Vec<(T, TxStep)>),
}

/// Where a followed transaction stands after one round.
enum TxStep {
    /// A version is mined: its outcome, or its decoded failure.
    Mined(Result<TxOutcome, ChainError>),
    /// Not mined yet; re-sent if it was due (`sent` has every version's hash).
    Pending {
        sent: SentTx,
        polls_without_receipt: u32,
    },
    /// Following it failed (the endpoint, or another transaction took the nonce).
    Failed(ChainError),
}

/// What a task of the loop's set is doing, to undo its bookkeeping if it dies.
enum Task<T> {
    Connect,
    Scan,
    Balances,
    Round,
    Submit { tag: T, what: &'static str },
}

/// A sent transaction the loop follows until it is mined.
struct Followed<T> {
    tag: T,
    what: &'static str,
    client: ChainClient,
    sent: SentTx,
    polls_without_receipt: u32,
    /// When it fails with [`ChainError::NotMined`].
    deadline: Instant,
}

/// The connection to the chain.
enum Connection {
    /// Not connected; the next attempt is at `next` (if it is not under way), and the one
    /// after waits `delay`.
    Down { next: Instant, delay: Duration },
    /// Connected: a client per trader key, by address.
    Up { htlcs: HashMap<Address, HtlcClient> },
}

/// Owns one chain's clients. Created and started by [`spawn`].
struct EventLoop<T> {
    config: ChainLoopConfig,
    traders: Vec<TraderKey>,
    clock: ReadingClock,
    commands: mpsc::Receiver<Command<T>>,
    events: mpsc::Sender<ChainLoopEvent<T>>,
    /// Events waiting for room in the owner's queue, oldest first.
    held: VecDeque<ChainLoopEvent<T>>,
    nudge: Arc<Notify>,
    connection: Connection,
    cursor: ScanCursor,
    /// Work under way beside the loop (reads, sends, rounds of following).
    work: JoinSet<Work<T>>,
    /// What each task under way in `work` does.
    tasks: HashMap<tokio::task::Id, Task<T>>,
    connecting: bool,
    scanning: bool,
    next_scan: Instant,
    /// A scan failed and no scan has succeeded since (reported once).
    scan_failing: bool,
    reading_balances: bool,
    next_balances: Instant,
    /// Tags of the transactions being submitted or followed.
    in_flight: HashSet<T>,
    followed: Vec<Followed<T>>,
    following: bool,
    next_round: Instant,
}

/// Starts the event loop of one chain on the current tokio runtime: it connects with a
/// client per trader key, scans from `cursor` (or `config.start_block`), reads balances
/// stamped by `clock`, and sends what it is asked. Returns the handle and the owner's
/// event receiver. The loop stops when every handle is dropped or on
/// [`ChainHandle::shutdown`].
pub fn spawn<T>(
    config: ChainLoopConfig,
    traders: Vec<TraderKey>,
    cursor: Option<ScanCursor>,
    clock: ReadingClock,
) -> (ChainHandle<T>, mpsc::Receiver<ChainLoopEvent<T>>)
where
    T: Clone + Eq + Hash + Debug + Send + 'static,
{
    let (command_tx, command_rx) = mpsc::channel(config.command_queue.max(1));
    let (event_tx, event_rx) = mpsc::channel(config.event_queue.max(1));
    let nudge = Arc::new(Notify::new());
    let chain_id = config.chain_id;
    let now = Instant::now();
    let event_loop = EventLoop {
        cursor: cursor.unwrap_or_else(|| ScanCursor::from_block(config.start_block)),
        connection: Connection::Down {
            next: now,
            delay: config.client.poll_interval.max(MIN_RECONNECT_DELAY),
        },
        config,
        traders,
        clock,
        commands: command_rx,
        events: event_tx,
        held: VecDeque::new(),
        nudge: nudge.clone(),
        work: JoinSet::new(),
        tasks: HashMap::new(),
        connecting: false,
        scanning: false,
        next_scan: now,
        scan_failing: false,
        reading_balances: false,
        next_balances: now,
        in_flight: HashSet::new(),
        followed: Vec::new(),
        following: false,
        next_round: now,
    };
    let span = info_span!("chain", chain_id);
    tokio::spawn(event_loop.run().instrument(span));
    (
        ChainHandle {
            chain_id,
            commands: command_tx,
            nudge,
        },
        event_rx,
    )
}

impl<T> EventLoop<T>
where
    T: Clone + Eq + Hash + Debug + Send + 'static,
{
    async fn run(mut self) {
        if self.traders.is_empty() {
            warn!("no trader key: nothing to settle on this chain");
        }
        loop {
            self.start_due_work();
            let wake = self.next_wake();
            // Owned here: the branches' futures live while a handler borrows `self`.
            let (events, nudge) = (self.events.clone(), self.nudge.clone());
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
                Some(done) = self.work.join_next_with_id() => match done {
                    Ok((id, work)) => {
                        self.tasks.remove(&id);
                        self.on_work(work);
                    }
                    Err(err) => self.on_task_failed(&err),
                },
                permit = events.reserve(), if !self.held.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.held.pop_front() {
                            permit.send(event);
                        }
                    }
                    // The owner is gone.
                    Err(_) => break,
                },
                _ = nudge.notified() => self.next_balances = Instant::now(),
                _ = sleep_until(wake) => {}
            }
        }
        // Dropping the set aborts the reads and sends under way.
        debug!("chain event loop stopped");
    }

    /// Queues an event for the owner, in order.
    fn emit(&mut self, event: ChainLoopEvent<T>) {
        self.held.push_back(event);
    }

    /// The earliest timer the loop waits for, if any.
    fn next_wake(&self) -> Option<Instant> {
        let mut wake: Option<Instant> = None;
        let mut consider = |at: Instant| wake = Some(wake.map_or(at, |wake| wake.min(at)));
        match &self.connection {
            Connection::Down { next, .. } if !self.connecting && !self.traders.is_empty() => {
                consider(*next)
            }
            Connection::Down { .. } => {}
            // While the owner lags, readings wait for room in its queue, which wakes the
            // loop: their timers must not (a timer past due would spin it).
            Connection::Up { .. } if self.held.len() < MAX_HELD_EVENTS => {
                if !self.scanning {
                    consider(self.next_scan);
                }
                if !self.reading_balances {
                    consider(self.next_balances);
                }
            }
            Connection::Up { .. } => {}
        }
        if !self.following && !self.followed.is_empty() {
            consider(self.next_round);
        }
        wake
    }

    /// Starts what is due and not under way: connecting, a scan, a balance reading, a
    /// round of following the sent transactions. Readings wait while the owner lags.
    fn start_due_work(&mut self) {
        let now = Instant::now();
        let owner_keeps_up = self.held.len() < MAX_HELD_EVENTS;
        match &self.connection {
            Connection::Down { next, .. } => {
                if !self.connecting && !self.traders.is_empty() && *next <= now {
                    self.connecting = true;
                    let config = self.config.clone();
                    let traders = self.traders.clone();
                    let clock = self.clock.clone();
                    let task = self.work.spawn(
                        async move { Work::Connected(connect(&config, &traders, &clock).await) }
                            .in_current_span(),
                    );
                    self.tasks.insert(task.id(), Task::Connect);
                }
            }
            Connection::Up { htlcs } => {
                let Some(scanner) = htlcs.values().next().cloned() else {
                    return;
                };
                if !self.scanning && owner_keeps_up && self.next_scan <= now {
                    self.scanning = true;
                    let (scanner, cursor) = (scanner.clone(), self.cursor.clone());
                    let task = self.work.spawn(
                        async move { Work::Scanned(scanner.scan(&cursor).await) }.in_current_span(),
                    );
                    self.tasks.insert(task.id(), Task::Scan);
                }
                if !self.reading_balances && owner_keeps_up && self.next_balances <= now {
                    self.reading_balances = true;
                    let client = scanner.chain().clone();
                    let owners: Vec<Address> = htlcs.keys().copied().collect();
                    let tokens = self.config.balance_tokens.clone();
                    let clock = self.clock.clone();
                    let task = self.work.spawn(
                        async move {
                            Work::Balances(read_balances(&client, &owners, &tokens, &clock).await)
                        }
                        .in_current_span(),
                    );
                    self.tasks.insert(task.id(), Task::Balances);
                }
            }
        }
        if !self.following && !self.followed.is_empty() && self.next_round <= now {
            self.following = true;
            let round: Vec<_> = self
                .followed
                .iter()
                .map(|tx| {
                    (
                        tx.tag.clone(),
                        tx.what,
                        tx.client.clone(),
                        tx.sent.clone(),
                        tx.polls_without_receipt,
                    )
                })
                .collect();
            let task = self
                .work
                .spawn(async move { Work::TxRound(follow(round).await) }.in_current_span());
            self.tasks.insert(task.id(), Task::Round);
        }
    }

    fn on_command(&mut self, command: Command<T>) {
        match command {
            Command::Submit {
                tag,
                request,
                reply,
            } => {
                let _ = reply.send(self.submit(tag, request));
            }
            Command::Balance {
                token,
                owner,
                reply,
            } => {
                let Some(client) = self.any_htlc().map(|htlc| htlc.chain().clone()) else {
                    let _ = reply.send(Err(ChainError::NotConnected {
                        chain_id: self.config.chain_id,
                    }));
                    return;
                };
                // The answer goes straight to the asker: nothing for the loop to keep.
                tokio::spawn(
                    async move {
                        let _ = reply.send(client.balance(token, owner).await);
                    }
                    .in_current_span(),
                );
            }
            Command::Shutdown => {}
        }
    }

    /// Any trader's client, if connected (claims and reads need no particular key).
    fn any_htlc(&self) -> Option<&HtlcClient> {
        match &self.connection {
            Connection::Up { htlcs } => htlcs.values().next(),
            Connection::Down { .. } => None,
        }
    }

    /// Starts sending `request` unless one with `tag` is on its way.
    fn submit(&mut self, tag: T, request: TxRequest) -> Result<bool, ChainError> {
        let chain_id = self.config.chain_id;
        let Connection::Up { htlcs } = &self.connection else {
            return Err(ChainError::NotConnected { chain_id });
        };
        let what = request.what();
        // A claim is sent by the lock's recipient, one of ours, whose gas the node judged:
        // any other key may hold nothing on this chain.
        let account = request.signer();
        let Some(htlc) = htlcs.get(&account).cloned() else {
            return Err(ChainError::NoSigner { chain_id, account });
        };
        if !self.in_flight.insert(tag.clone()) {
            debug!(?tag, what, "transaction already on its way");
            return Ok(false);
        }
        let span = info_span!("tx", ?tag, what);
        let task_tag = tag.clone();
        let task = self.work.spawn(
            async move {
                let result = match &request {
                    TxRequest::Lock(params) => htlc.submit_lock(params).await,
                    TxRequest::Claim { params, secret } => htlc.submit_claim(params, secret).await,
                    TxRequest::Refund(params) => htlc.submit_refund(params).await,
                };
                Work::Submitted {
                    tag,
                    what,
                    client: htlc.chain().clone(),
                    result,
                }
            }
            .instrument(span),
        );
        self.tasks.insert(
            task.id(),
            Task::Submit {
                tag: task_tag,
                what,
            },
        );
        Ok(true)
    }

    /// A task died (only a panic does: the set is never aborted while the loop runs):
    /// its work is marked not under way, to be retried on its timer; a submission ends as
    /// failed, freeing its tag.
    fn on_task_failed(&mut self, err: &tokio::task::JoinError) {
        warn!(%err, "chain task failed");
        let now = Instant::now();
        match self.tasks.remove(&err.id()) {
            Some(Task::Connect) => {
                self.connecting = false;
                if let Connection::Down { next, delay } = &mut self.connection {
                    *next = now + *delay;
                }
            }
            Some(Task::Scan) => {
                self.scanning = false;
                self.next_scan = now + self.config.client.poll_interval.max(SCAN_RETRY_DELAY);
            }
            Some(Task::Balances) => {
                self.reading_balances = false;
                self.next_balances = now + self.balance_interval();
            }
            Some(Task::Round) => {
                self.following = false;
                self.next_round = now + self.config.client.poll_interval;
            }
            Some(Task::Submit { tag, what }) => {
                let error = ChainError::Rpc {
                    message: format!("the {what} task failed: {err}"),
                };
                self.tx_done(tag, what, Err(error));
            }
            None => {}
        }
    }

    fn on_work(&mut self, work: Work<T>) {
        let chain_id = self.config.chain_id;
        let now = Instant::now();
        match work {
            Work::Connected(result) => {
                self.connecting = false;
                match result {
                    Ok((htlcs, (readings, max_fee_per_gas))) => {
                        info!(url = %self.config.rpc_url, htlc = %self.config.htlc, "chain connected");
                        // Connected means balances known too: an order is never judged
                        // without them.
                        self.emit(ChainLoopEvent::Balances {
                            chain_id,
                            readings,
                            max_fee_per_gas,
                        });
                        self.emit(ChainLoopEvent::Connected { chain_id });
                        self.connection = Connection::Up { htlcs };
                        self.next_scan = now;
                        self.next_balances = now + self.balance_interval();
                    }
                    Err(err) => {
                        let Connection::Down { next, delay } = &mut self.connection else {
                            return;
                        };
                        let retry_in = *delay;
                        *next = now + retry_in;
                        *delay = (retry_in * 2).min(MAX_RECONNECT_DELAY);
                        warn!(url = %self.config.rpc_url, %err, ?retry_in, "chain not reachable; trading on it is refused until it is");
                        self.emit(ChainLoopEvent::RpcFailed {
                            chain_id,
                            work: RpcWork::Connect,
                        });
                        self.emit(ChainLoopEvent::Unreachable {
                            chain_id,
                            error: err.to_string(),
                            retry_in,
                        });
                    }
                }
            }
            Work::Scanned(result) => {
                self.scanning = false;
                match result {
                    Ok(batch) => {
                        if self.scan_failing {
                            info!("chain answering again");
                            self.scan_failing = false;
                        }
                        self.cursor = batch.cursor.clone();
                        self.next_scan = if batch.caught_up {
                            now + self.config.client.poll_interval
                        } else {
                            now
                        };
                        self.emit(ChainLoopEvent::Scanned { chain_id, batch });
                    }
                    Err(err) => {
                        let retry_in = self.config.client.poll_interval.max(SCAN_RETRY_DELAY);
                        self.next_scan = now + retry_in;
                        self.emit(ChainLoopEvent::RpcFailed {
                            chain_id,
                            work: RpcWork::Scan,
                        });
                        if self.scan_failing {
                            debug!(%err, "chain scan failed again");
                        } else {
                            warn!(%err, "chain scan failed; retrying");
                            self.scan_failing = true;
                            self.emit(ChainLoopEvent::Unreachable {
                                chain_id,
                                error: err.to_string(),
                                retry_in,
                            });
                        }
                    }
                }
            }
            Work::Balances(result) => {
                self.reading_balances = false;
                self.next_balances = now + self.balance_interval();
                match result {
                    Ok((readings, max_fee_per_gas)) => self.emit(ChainLoopEvent::Balances {
                        chain_id,
                        readings,
                        max_fee_per_gas,
                    }),
                    // The scan reports the chain unreachable if it is.
                    Err(err) => {
                        debug!(%err, "balance reading failed; the last one stands");
                        self.emit(ChainLoopEvent::RpcFailed {
                            chain_id,
                            work: RpcWork::Balance,
                        });
                    }
                }
            }
            Work::Submitted {
                tag,
                what,
                client,
                result,
            } => match result {
                Ok(sent) => {
                    debug!(?tag, what, tx = ?sent.tx_hashes, "transaction sent");
                    self.emit(ChainLoopEvent::TxSent {
                        chain_id,
                        tag: tag.clone(),
                        what,
                        sent: sent.clone(),
                    });
                    self.followed.push(Followed {
                        tag,
                        what,
                        deadline: now + client.config().tx_timeout,
                        client,
                        sent,
                        polls_without_receipt: 0,
                    });
                    if !self.following {
                        self.next_round = now + self.config.client.poll_interval;
                    }
                }
                Err(err) => self.tx_done(tag, what, Err(err)),
            },
            Work::TxRound(steps) => {
                self.following = false;
                self.next_round = now + self.config.client.poll_interval;
                for (tag, step) in steps {
                    self.on_tx_step(tag, step, now);
                }
            }
        }
    }

    fn on_tx_step(&mut self, tag: T, step: TxStep, now: Instant) {
        let chain_id = self.config.chain_id;
        let Some(index) = self.followed.iter().position(|tx| tx.tag == tag) else {
            return;
        };
        match step {
            TxStep::Pending {
                sent,
                polls_without_receipt,
            } => {
                let tx = &mut self.followed[index];
                tx.polls_without_receipt = polls_without_receipt;
                let resent = sent.tx_hashes.len() > tx.sent.tx_hashes.len();
                tx.sent = sent;
                let (what, sent, expired) = (tx.what, tx.sent.clone(), now >= tx.deadline);
                if expired {
                    let tx = self.followed.swap_remove(index);
                    let error = ChainError::NotMined {
                        what: what.to_owned(),
                        sent,
                        after: tx.client.config().tx_timeout,
                    };
                    self.tx_done(tx.tag, what, Err(error));
                } else if resent {
                    self.emit(ChainLoopEvent::TxSent {
                        chain_id,
                        tag,
                        what,
                        sent,
                    });
                }
            }
            TxStep::Mined(result) => {
                let tx = self.followed.swap_remove(index);
                self.tx_done(tx.tag, tx.what, result);
            }
            TxStep::Failed(error) => {
                let tx = self.followed.swap_remove(index);
                self.tx_done(tx.tag, tx.what, Err(error));
            }
        }
    }

    /// A transaction ended: reported, and its tag free for the next.
    fn tx_done(&mut self, tag: T, what: &'static str, result: Result<TxOutcome, ChainError>) {
        match &result {
            Ok(outcome) => {
                info!(?tag, what, tx = %outcome.tx_hash, gas_used = outcome.gas_used, "transaction mined")
            }
            Err(err) => warn!(?tag, what, %err, "transaction failed"),
        }
        self.in_flight.remove(&tag);
        self.emit(ChainLoopEvent::TxDone {
            chain_id: self.config.chain_id,
            tag,
            what,
            result,
        });
    }

    fn balance_interval(&self) -> Duration {
        self.config.balance_interval.max(MIN_BALANCE_INTERVAL)
    }
}

/// Sleeps until `at`, or forever without a timer.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Connects a client per trader key, checks the HTLC, and reads the balances.
async fn connect(
    config: &ChainLoopConfig,
    traders: &[TraderKey],
    clock: &ReadingClock,
) -> Result<(HashMap<Address, HtlcClient>, Readings), ChainError> {
    let mut htlcs = HashMap::new();
    for key in traders {
        let client =
            ChainClient::connect(&config.rpc_url, config.chain_id, key, config.client.clone())
                .await?;
        htlcs.insert(key.address(), client.htlc_at(config.htlc).await?);
    }
    let Some(client) = htlcs.values().next().map(|htlc| htlc.chain().clone()) else {
        return Err(ChainError::NotConnected {
            chain_id: config.chain_id,
        });
    };
    let owners: Vec<Address> = htlcs.keys().copied().collect();
    let readings = read_balances(&client, &owners, &config.balance_tokens, clock).await?;
    Ok((htlcs, readings))
}

/// Reads every (owner, token) balance on the chain of `client`, and the fee per gas.
async fn read_balances(
    client: &ChainClient,
    owners: &[Address],
    tokens: &[Address],
    clock: &ReadingClock,
) -> Result<Readings, ChainError> {
    let started_at = clock();
    let mut readings = Vec::with_capacity(owners.len() * tokens.len());
    for owner in owners {
        for token in tokens {
            let amount = client.balance(*token, *owner).await?;
            readings.push(BalanceReading {
                owner: *owner,
                token: *token,
                amount,
                started_at,
            });
        }
    }
    let max_fee_per_gas = match client.max_fee_per_gas().await {
        Ok(fee) => Some(fee),
        Err(err) => {
            debug!(%err, "fee estimate failed; the last one stands");
            None
        }
    };
    Ok((readings, max_fee_per_gas))
}

/// One round of following sent transactions: for each, whether a version is mined
/// (re-sending it with bumped fees when due, as [`ChainClient::wait_for_tx`] does).
async fn follow<T>(round: Vec<(T, &'static str, ChainClient, SentTx, u32)>) -> Vec<(T, TxStep)> {
    let mut steps = Vec::with_capacity(round.len());
    for (tag, what, client, sent, mut polls_without_receipt) in round {
        let step = match client
            .poll_mined(&sent, what, &mut polls_without_receipt)
            .await
        {
            Ok(Some(receipt)) => TxStep::Mined(client.check_receipt(receipt, what).await),
            Ok(None) => TxStep::Pending {
                sent: client.snapshot(&sent),
                polls_without_receipt,
            },
            Err(err) => TxStep::Failed(err),
        };
        steps.push((tag, step));
    }
    steps
}
