//! The node's side of the chains: one [`dex_chain`] event loop per chain, held through its
//! handle as the network is, and the translation between swaps and chain transactions.
//! Nothing here decides anything: the actor feeds what the chains show to the swaps, and
//! performs what they ask.

use std::{
    collections::HashMap,
    sync::Arc,
    task::{Context, Poll},
};

use dex_chain::{
    ChainError, ChainHandle, ChainLoopConfig, ChainLoopEvent, LockParams, ScanCursor, Secret,
    TxRequest,
};
use dex_primitives::{Address, TraderKey};
use dex_swap::{Action as SwapAction, SwapId};
use tokio::sync::mpsc;
use tracing::debug;

use crate::{ChainConfig, Clock};

/// Names a transaction to the chain loops: the swap that asked for it and what it is
/// (`"lock"`, `"claim"`, `"refund"`). A swap's retry does not send a second transaction
/// with the same tag while the first is on its way.
pub(crate) type TxTag = (SwapId, &'static str);

/// What the chain loops report to the actor.
pub(crate) type ChainReport = ChainLoopEvent<TxTag>;

/// Capacity of each chain loop's command and event queues.
const CHAIN_QUEUE: usize = 64;

/// The chain loops, by chain id, and their event receivers.
#[derive(Debug, Default)]
pub(crate) struct Chains {
    handles: HashMap<u64, ChainHandle<TxTag>>,
    events: Vec<mpsc::Receiver<ChainReport>>,
    /// The receiver polled first next time, so that no chain starves the others.
    next_first: usize,
}

impl Chains {
    /// Starts the event loop of one chain. `cursor` is where the last run stopped (from
    /// the database), or `None` to start at the configured block; `tokens` are the assets
    /// whose balances it reads, stamped with the node's `clock`.
    pub(crate) fn spawn(
        &mut self,
        config: &ChainConfig,
        traders: Vec<TraderKey>,
        cursor: Option<ScanCursor>,
        tokens: Vec<Address>,
        balance_interval: std::time::Duration,
        clock: Arc<dyn Clock>,
    ) {
        let loop_config = ChainLoopConfig {
            client: config.client.clone(),
            balance_tokens: tokens,
            balance_interval,
            // Bounded: a busy actor slows the chain's reading down instead of queueing.
            command_queue: CHAIN_QUEUE,
            event_queue: CHAIN_QUEUE,
            ..ChainLoopConfig::new(
                config.chain_id,
                config.rpc_url.clone(),
                config.htlc,
                config.start_block,
            )
        };
        let (handle, events) =
            dex_chain::spawn(loop_config, traders, cursor, Arc::new(move || clock.now()));
        self.handles.insert(config.chain_id, handle);
        self.events.push(events);
    }

    /// The next report of any chain; pending while there is none (forever without chains).
    pub(crate) async fn next(&mut self) -> Option<ChainReport> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<ChainReport>> {
        let count = self.events.len();
        for offset in 0..count {
            let index = (self.next_first + offset) % count;
            if let Poll::Ready(Some(report)) = self.events[index].poll_recv(cx) {
                self.next_first = (index + 1) % count;
                return Poll::Ready(Some(report));
            }
        }
        // A closed receiver (its loop stopped) stays closed: the others carry on.
        Poll::Pending
    }

    /// Asks every chain for a fresh balance reading (after own transactions and chain
    /// events, which move balances).
    pub(crate) fn refresh_balances(&self) {
        for handle in self.handles.values() {
            handle.refresh_balances();
        }
    }

    /// The handle of `chain_id`'s loop (for reads), if the chain is configured.
    pub(crate) fn handle(&self, chain_id: u64) -> Option<ChainHandle<TxTag>> {
        self.handles.get(&chain_id).cloned()
    }

    /// Asks the chain's loop to send the transaction a swap asked for; its end comes back
    /// as a report. Nothing is sent if the chain is not connected (the swap retries
    /// later) or a transaction with the same tag is on its way.
    pub(crate) async fn send(&self, swap_id: SwapId, action: &SwapAction) {
        let request = match action {
            SwapAction::Lock {
                terms,
                hashlock,
                timelock,
                ..
            } => TxRequest::Lock(intended_lock_params(terms, *hashlock, *timelock)),
            SwapAction::Claim { lock, secret, .. } => TxRequest::Claim {
                params: lock_params(lock),
                secret: Secret::from_bytes(secret.0),
            },
            SwapAction::Refund { lock, .. } => TxRequest::Refund(lock_params(lock)),
            _ => return,
        };
        let chain_id = request.params().chain_id;
        let what = request.what();
        let Some(handle) = self.handles.get(&chain_id) else {
            debug!(%swap_id, chain_id, what, "chain not configured; the swap retries later");
            return;
        };
        match handle.submit((swap_id, what), request).await {
            Ok(true) => {}
            Ok(false) => debug!(%swap_id, what, "transaction already on its way"),
            Err(err @ (ChainError::NotConnected { .. } | ChainError::NoSigner { .. })) => {
                debug!(%swap_id, chain_id, what, %err, "chain not connected; the swap retries later");
            }
            Err(err) => debug!(%swap_id, chain_id, what, %err, "transaction not submitted"),
        }
    }
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
