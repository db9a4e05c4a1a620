//! The chain shell of the node: one watcher task per chain that connects (retrying until the
//! endpoint answers), checks the HTLC, and scans its events; and the transactions swaps ask
//! for, each sent in a task that reports back. Nothing here decides anything: the actor
//! feeds what the chains show to the swaps, and performs what they ask.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use dex_chain::{
    ChainClient, ChainError, HtlcClient, LockParams, ScanBatch, ScanCursor, Secret, TxOutcome,
};
use dex_primitives::{Address, TraderKey};
use dex_swap::{Action as SwapAction, SwapId};
use tokio::sync::{Notify, mpsc};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::{ChainCall, ChainConfig, Clock, NodeMetrics, state::BalanceReading};

/// What a chain's balance reader needs: the assets on the chain, how often to read, the
/// actor's nudge for an early reading, and the node's clock (readings are stamped with it).
#[derive(Debug)]
pub(crate) struct BalanceWatch {
    pub(crate) tokens: Vec<Address>,
    pub(crate) interval: Duration,
    pub(crate) nudge: Arc<Notify>,
    pub(crate) clock: Arc<dyn Clock>,
}

/// Longest pause between two connection attempts to an unreachable chain.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(30);

/// What the chain tasks tell the actor.
#[derive(Debug)]
pub(crate) enum ChainReport {
    /// The chain answers; here are its HTLC clients, one per trader key.
    Connected {
        chain_id: u64,
        htlcs: HashMap<Address, HtlcClient>,
    },
    /// One scan step: events in chain order, then the last block read.
    Scanned { chain_id: u64, batch: ScanBatch },
    /// Balances of the trader keys on this chain, read now, and what a transaction sent
    /// now would offer per gas (wei; `None` if the fee could not be read).
    Balances {
        chain_id: u64,
        readings: Vec<BalanceReading>,
        max_fee_per_gas: Option<u128>,
    },
    /// The chain stopped answering (scans are retried; trading on it is refused meanwhile).
    Unreachable { chain_id: u64, error: String },
    /// A transaction a swap asked for ended.
    Tx {
        chain_id: u64,
        swap_id: SwapId,
        what: &'static str,
        result: Result<TxOutcome, ChainError>,
    },
}

/// Starts the watcher of one chain. `cursor` is where the last run stopped (from the
/// database), or `None` to start at the configured block.
pub(crate) fn spawn_watcher(
    config: ChainConfig,
    traders: Vec<TraderKey>,
    cursor: Option<ScanCursor>,
    reports: mpsc::Sender<ChainReport>,
    balances: BalanceWatch,
    metrics: Arc<NodeMetrics>,
) {
    let span = info_span!("chain", chain_id = config.chain_id);
    tokio::spawn(watch(config, traders, cursor, reports, balances, metrics).instrument(span));
}

/// Reads every (trader, token) balance on the chain of `client`, and the fee per gas.
async fn read_balances(
    client: &ChainClient,
    owners: &[Address],
    watch: &BalanceWatch,
) -> Result<(Vec<BalanceReading>, Option<u128>), ChainError> {
    let started_at = watch.clock.now();
    let mut readings = Vec::with_capacity(owners.len() * watch.tokens.len());
    for owner in owners {
        for token in &watch.tokens {
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

/// Reads the balances every `interval`, or sooner when nudged, until the actor is gone.
/// A failed reading keeps the last one (the scan reports the chain unreachable).
async fn refresh_balances(
    chain_id: u64,
    client: ChainClient,
    owners: Vec<Address>,
    watch: BalanceWatch,
    reports: mpsc::Sender<ChainReport>,
    metrics: Arc<NodeMetrics>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(watch.interval.max(Duration::from_millis(10))) => {}
            _ = watch.nudge.notified() => {}
        }
        match read_balances(&client, &owners, &watch).await {
            Ok((readings, max_fee_per_gas)) => {
                if reports
                    .send(ChainReport::Balances {
                        chain_id,
                        readings,
                        max_fee_per_gas,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(err) => {
                metrics.chain_error(chain_id, ChainCall::Balance);
                debug!(%err, "balance reading failed; the last one stands");
            }
        }
    }
}

async fn connect(
    config: &ChainConfig,
    traders: &[TraderKey],
) -> Result<HashMap<Address, HtlcClient>, ChainError> {
    let mut htlcs = HashMap::new();
    for key in traders {
        let client =
            ChainClient::connect(&config.rpc_url, config.chain_id, key, config.client.clone())
                .await?;
        htlcs.insert(key.address(), client.htlc_at(config.htlc).await?);
    }
    Ok(htlcs)
}

async fn watch(
    config: ChainConfig,
    traders: Vec<TraderKey>,
    cursor: Option<ScanCursor>,
    reports: mpsc::Sender<ChainReport>,
    balances: BalanceWatch,
    metrics: Arc<NodeMetrics>,
) {
    let chain_id = config.chain_id;
    let owners: Vec<Address> = traders.iter().map(TraderKey::address).collect();
    let poll = config.client.poll_interval;
    let mut delay = poll.max(Duration::from_millis(100));
    let scanner = loop {
        // Connected means balances known too: an order is never judged without them.
        let connected = match connect(&config, &traders).await {
            // Any trader's client scans: the chain's events are the same for all.
            Ok(htlcs) => match htlcs.values().next().cloned() {
                Some(scanner) => read_balances(scanner.chain(), &owners, &balances)
                    .await
                    .inspect_err(|_| metrics.chain_error(chain_id, ChainCall::Balance))
                    .map(|readings| (scanner, htlcs, readings)),
                None => {
                    warn!("no trader key: nothing to settle on this chain");
                    return;
                }
            },
            Err(err) => {
                metrics.chain_error(chain_id, ChainCall::Connect);
                Err(err)
            }
        };
        match connected {
            Ok((scanner, htlcs, (readings, max_fee_per_gas))) => {
                if reports
                    .send(ChainReport::Balances {
                        chain_id,
                        readings,
                        max_fee_per_gas,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                info!(url = %config.rpc_url, htlc = %config.htlc, "chain connected");
                if reports
                    .send(ChainReport::Connected { chain_id, htlcs })
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::spawn(
                    refresh_balances(
                        chain_id,
                        scanner.chain().clone(),
                        owners.clone(),
                        balances,
                        reports.clone(),
                        metrics.clone(),
                    )
                    .in_current_span(),
                );
                break scanner;
            }
            Err(err) => {
                warn!(url = %config.rpc_url, %err, "chain not reachable; trading on it is refused until it is");
                if reports
                    .send(ChainReport::Unreachable {
                        chain_id,
                        error: err.to_string(),
                    })
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RECONNECT_DELAY);
            }
        }
    };
    let mut cursor = cursor.unwrap_or_else(|| ScanCursor::from_block(config.start_block));
    let mut failing = false;
    loop {
        match scanner.scan(&cursor).await {
            Ok(batch) => {
                if failing {
                    info!("chain answering again");
                    failing = false;
                }
                let caught_up = batch.caught_up;
                cursor = batch.cursor.clone();
                // Bounded channel: a busy actor slows the scan down instead of queueing.
                if reports
                    .send(ChainReport::Scanned { chain_id, batch })
                    .await
                    .is_err()
                {
                    return;
                }
                if caught_up {
                    tokio::time::sleep(poll).await;
                }
            }
            Err(err) => {
                metrics.chain_error(chain_id, ChainCall::Scan);
                if !failing {
                    warn!(%err, "chain scan failed; retrying");
                    failing = true;
                    if reports
                        .send(ChainReport::Unreachable {
                            chain_id,
                            error: err.to_string(),
                        })
                        .await
                        .is_err()
                    {
                        return;
                    }
                } else {
                    debug!(%err, "chain scan failed again");
                }
                tokio::time::sleep(poll.max(Duration::from_millis(500))).await;
            }
        }
    }
}

/// The HTLC clients of the connected chains, and the transactions in flight.
#[derive(Debug, Default)]
pub(crate) struct Chains {
    htlcs: HashMap<u64, HashMap<Address, HtlcClient>>,
    /// (swap, what) pairs being sent: a swap's retry does not send a second transaction
    /// while the first is still on its way.
    in_flight: HashSet<(SwapId, &'static str)>,
}

impl Chains {
    pub(crate) fn connected(&mut self, chain_id: u64, htlcs: HashMap<Address, HtlcClient>) {
        self.htlcs.insert(chain_id, htlcs);
    }

    /// A transaction ended: a retry may send again.
    pub(crate) fn done(&mut self, swap_id: &SwapId, what: &'static str) {
        self.in_flight.remove(&(*swap_id, what));
    }

    /// The HTLC client of `account` on `chain_id`.
    pub(crate) fn htlc(&self, chain_id: u64, account: &Address) -> Option<&HtlcClient> {
        self.htlcs.get(&chain_id)?.get(account)
    }

    /// A client of `chain_id` for reads, if the chain is connected.
    pub(crate) fn client(&self, chain_id: u64) -> Option<ChainClient> {
        self.any_htlc(chain_id).map(|htlc| htlc.chain().clone())
    }

    /// Any HTLC client on `chain_id` (claims can be sent by anyone).
    fn any_htlc(&self, chain_id: u64) -> Option<&HtlcClient> {
        self.htlcs.get(&chain_id)?.values().next()
    }

    /// Sends the transaction a swap asked for, in its own task, which reports the result.
    /// Returns false if the chain is not connected (the swap retries later).
    pub(crate) fn send(
        &mut self,
        swap_id: SwapId,
        action: &SwapAction,
        reports: &mpsc::Sender<ChainReport>,
    ) -> bool {
        let (what, chain_id, htlc, request) = match action {
            SwapAction::Lock {
                terms,
                hashlock,
                timelock,
                ..
            } => {
                let params = intended_lock_params(terms, *hashlock, *timelock);
                let htlc = self.htlc(terms.chain_id, &terms.sender).cloned();
                ("lock", terms.chain_id, htlc, Tx::Lock(params))
            }
            SwapAction::Claim { lock, secret, .. } => {
                let htlc = self.any_htlc(lock.chain_id).cloned();
                let params = lock_params(lock);
                let secret = Secret::from_bytes(secret.0);
                ("claim", lock.chain_id, htlc, Tx::Claim(params, secret))
            }
            SwapAction::Refund { lock, .. } => {
                let htlc = self.htlc(lock.chain_id, &lock.sender).cloned();
                ("refund", lock.chain_id, htlc, Tx::Refund(lock_params(lock)))
            }
            _ => return true,
        };
        let Some(htlc) = htlc else {
            debug!(%swap_id, chain_id, what, "chain not connected; the swap retries later");
            return false;
        };
        if !self.in_flight.insert((swap_id, what)) {
            debug!(%swap_id, what, "transaction already on its way");
            return true;
        }
        let reports = reports.clone();
        let span = info_span!("swap", swap_id = %swap_id, chain_id, what);
        tokio::spawn(
            async move {
                let result = match request {
                    Tx::Lock(params) => htlc.lock(&params).await.map(|outcome| outcome.lock),
                    Tx::Claim(params, secret) => htlc.claim(&params, &secret).await,
                    Tx::Refund(params) => htlc.refund(&params).await,
                };
                match &result {
                    Ok(outcome) => info!(
                        tx = %outcome.tx_hash,
                        gas_used = outcome.gas_used,
                        "transaction mined"
                    ),
                    Err(err) => {
                        warn!(%err, "transaction failed; the swap decides whether to retry")
                    }
                }
                let _ = reports
                    .send(ChainReport::Tx {
                        chain_id,
                        swap_id,
                        what,
                        result,
                    })
                    .await;
            }
            .instrument(span),
        );
        true
    }
}

enum Tx {
    Lock(LockParams),
    Claim(LockParams, Secret),
    Refund(LockParams),
}

/// The contract's parameters of the lock a swap asks for: `terms` with `hashlock` and
/// `timelock`.
pub fn intended_lock_params(
    terms: &dex_swap::LockTerms,
    hashlock: dex_primitives::B256,
    timelock: u64,
) -> LockParams {
    LockParams {
        chain_id: terms.chain_id,
        contract: terms.contract,
        sender: terms.sender,
        recipient: terms.recipient,
        token: terms.token,
        amount: terms.amount,
        hashlock,
        timelock,
    }
}

/// The contract's parameters of a lock a swap read from the chain.
pub fn lock_params(lock: &dex_swap::LockInfo) -> LockParams {
    LockParams {
        chain_id: lock.chain_id,
        contract: lock.contract,
        sender: lock.sender,
        recipient: lock.recipient,
        token: lock.token,
        amount: lock.amount,
        hashlock: lock.hashlock,
        timelock: lock.timelock,
    }
}
