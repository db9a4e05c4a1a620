//! The client: one [`ChainClient`] per chain (connection, signing account, configuration),
//! and an [`HtlcClient`] for the HTLC deployed on it. What a client does is split by
//! concern, each in its own module of `impl ChainClient` blocks:
//!
//! - `reads`: heads and blocks, headers and logs for the scanner, balances, allowances,
//!   contract calls;
//! - `tx`: the transaction lifecycle: nonces, estimation, signing, sending, re-sending with
//!   fee bumps, receipts, confirmations and revert decoding;
//! - `htlc`: the HTLC client: lock, claim and refund, lock reads and event decoding;
//! - `test_token`: deploying and minting the test ERC-20 (feature `test-token`).
//!
//! How transactions are sent, followed and re-sent, and the one-client-per-key constraint,
//! are described in the crate docs (# Transactions).

mod htlc;
mod reads;
#[cfg(feature = "test-token")]
mod test_token;
mod tx;

use std::{
    fmt,
    future::{Future, IntoFuture},
    sync::{Arc, MutexGuard, PoisonError},
    time::Duration,
};

use alloy_network::{Ethereum, EthereumWallet};
use alloy_primitives::Address;
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_signer_local::PrivateKeySigner;
use alloy_transport::{RpcError, TransportErrorKind};
use dex_primitives::TraderKey;
use tokio::sync::Mutex;
use tracing::{debug, warn};

pub use htlc::HtlcClient;
pub(crate) use reads::{Header, check_logs};

use crate::{ChainError, error::rpc_error, outbox::Outbox};

/// Timing, paging and safety margins of a [`ChainClient`]. The defaults suit a public
/// chain with Ethereum-like finality; tests and the devnet, whose blocks are mined
/// instantly and never reorganised, use [`ClientConfig::local`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// How often to poll for receipts and new blocks.
    pub poll_interval: Duration,
    /// Longest wait for one JSON-RPC answer.
    pub rpc_timeout: Duration,
    /// Longest a blocking send waits for its transaction to be mined before it returns
    /// [`ChainError::NotMined`] (the transaction stays tracked and fee-bumped).
    pub tx_timeout: Duration,
    /// Most blocks one scan step covers (one `eth_getLogs`; public providers cap the range).
    pub max_scan_range: u64,
    /// Confirmations a block needs before the scanner reads it: 1 reads the latest block.
    /// Events of a block that a reorg later removes are taken back by a [`crate::Reorg`]
    /// report, but a driver may have acted on them meanwhile, so this should exceed the
    /// reorgs the chain sees in practice: post-merge Ethereum rarely reorganises more than a
    /// block or two, and finalises after two epochs (64–95 blocks, ~13 minutes); 12 (~2.4
    /// minutes) is the default. Chains with deeper reorgs need more (Polygon PoS has seen
    /// dozens of blocks); rollups reorganise their unsafe head only if the sequencer fails,
    /// so they need few. Timelocks must leave room for this wait on both chains.
    pub scan_confirmations: u64,
    /// The deepest reorg the scanner recovers from by itself: it keeps the hashes of this
    /// many last scanned blocks, and a reorg that replaces all of them fails with
    /// [`ChainError::ReorgTooDeep`]. Default 64 blocks past the confirmations, beyond
    /// Ethereum's finality.
    pub max_reorg_depth: u64,
    /// How long a sent transaction may stay unmined before it is re-sent at the same nonce
    /// with higher fees (while anything waits on it or on a later transaction).
    pub resend_interval: Duration,
    /// How much each re-send raises both EIP-1559 fee fields, in percent. Nodes refuse
    /// replacements below +10%, so smaller values count as 10.
    pub fee_bump_percent: u64,
    /// The chain's block time (the usual gap between two blocks): with the scan
    /// confirmations it says how late the scanner sees what happens on the chain
    /// ([`ClientConfig::scan_lag`]). Default 12 s (Ethereum).
    pub block_time: Duration,
    /// The most this client offers per gas (`maxFeePerGas`, wei), however high the market
    /// estimate or the re-send bumps go: a fee spike cannot drain the account. A
    /// transaction priced at the cap waits until fees come down. Default 1,000 gwei.
    pub max_fee_per_gas: u128,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            poll_interval: Duration::from_secs(1),
            rpc_timeout: Duration::from_secs(30),
            tx_timeout: Duration::from_secs(180),
            max_scan_range: 1_000,
            scan_confirmations: 12,
            max_reorg_depth: 64,
            resend_interval: Duration::from_secs(30),
            fee_bump_percent: 20,
            block_time: Duration::from_secs(12),
            max_fee_per_gas: 1_000_000_000_000,
        }
    }
}

impl ClientConfig {
    /// For a local node that mines on demand (anvil): fast polling, short waits, and a
    /// block is read as soon as it is mined (1 confirmation).
    pub fn local() -> Self {
        ClientConfig {
            poll_interval: Duration::from_millis(10),
            rpc_timeout: Duration::from_secs(10),
            tx_timeout: Duration::from_secs(30),
            scan_confirmations: 1,
            // Blocks come instantly, or every few seconds with interval mining: a
            // transaction waiting for its block is not stuck.
            resend_interval: Duration::from_secs(15),
            block_time: Duration::from_secs(1),
            ..ClientConfig::default()
        }
    }

    /// How long after a block is mined the scanner has read it, at worst: the blocks it
    /// waits for to have `scan_confirmations`, and one poll.
    pub fn scan_lag(&self) -> Duration {
        let blocks = u32::try_from(self.scan_confirmations.max(1) - 1).unwrap_or(u32::MAX);
        self.block_time
            .saturating_mul(blocks)
            .saturating_add(self.poll_interval)
    }
}

/// A connection to one chain that signs with one trader key. Cheap to clone; clones share
/// the connection and the record of transactions in flight. See the module docs for the
/// one-client-per-key constraint.
#[derive(Clone)]
pub struct ChainClient {
    inner: Arc<Inner>,
}

struct Inner {
    provider: DynProvider<Ethereum>,
    wallet: EthereumWallet,
    url: String,
    chain_id: u64,
    account: Address,
    config: ClientConfig,
    /// Held from choosing a nonce to broadcasting, so this client's new transactions take
    /// consecutive nonces in the order they reach the node.
    send_lock: Mutex<()>,
    /// Transactions in flight. Never held across an await.
    outbox: std::sync::Mutex<Outbox>,
}

impl fmt::Debug for ChainClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainClient")
            .field("url", &self.inner.url)
            .field("chain_id", &self.inner.chain_id)
            .field("account", &self.inner.account)
            .finish_non_exhaustive()
    }
}

impl ChainClient {
    /// Connects to the JSON-RPC endpoint `url` (plain `http://`) and checks that it serves
    /// `expected_chain_id`. Transactions are signed locally by `key` for that chain id only,
    /// so they cannot be replayed on another chain.
    pub async fn connect(
        url: &str,
        expected_chain_id: u64,
        key: &TraderKey,
        config: ClientConfig,
    ) -> Result<ChainClient, ChainError> {
        // The k256 key itself (erased on drop), not a hex or byte copy of the secret.
        let signer = PrivateKeySigner::from_signing_key(key.signing_key().clone());
        let account = signer.address();
        // No fillers: nonces, gas and fees are set by this client (see the module docs).
        let provider = ProviderBuilder::<_, _, Ethereum>::default()
            .connect(url)
            .await
            .map_err(|err| ChainError::Invalid {
                what: "RPC URL",
                reason: format!("{url}: {err}"),
            })?
            .erased();
        let client = ChainClient {
            inner: Arc::new(Inner {
                provider,
                wallet: EthereumWallet::from(signer),
                url: url.to_owned(),
                chain_id: expected_chain_id,
                account,
                config,
                send_lock: Mutex::new(()),
                outbox: std::sync::Mutex::new(Outbox::default()),
            }),
        };
        let actual = client
            .rpc("eth_chainId", client.provider().get_chain_id())
            .await?;
        if actual != expected_chain_id {
            return Err(ChainError::WrongChain {
                url: url.to_owned(),
                expected: expected_chain_id,
                actual,
            });
        }
        let (mined, pending) = (client.mined_nonce().await?, client.pending_nonce().await?);
        if pending > mined {
            warn!(
                url,
                %account,
                count = pending - mined,
                "transactions of this account sent before are still pending; resume them \
                 with wait_for_tx so they are fee-bumped, or new ones may queue behind them"
            );
        }
        debug!(url, chain_id = actual, %account, "connected to chain");
        Ok(client)
    }

    /// The chain id this client was connected (and checked) with.
    pub fn chain_id(&self) -> u64 {
        self.inner.chain_id
    }

    /// The account that signs this client's transactions.
    pub fn account(&self) -> Address {
        self.inner.account
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The client's configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    fn provider(&self) -> &DynProvider<Ethereum> {
        &self.inner.provider
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // The outbox is never left half-updated (no panics while held), so a poisoned lock
        // still holds consistent data.
        self.inner
            .outbox
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one RPC future under the configured timeout and classifies its error.
    async fn rpc<T>(
        &self,
        what: &str,
        request: impl IntoFuture<Output = Result<T, RpcError<TransportErrorKind>>>,
    ) -> Result<T, ChainError> {
        self.timed(what, request.into_future()).await
    }

    async fn timed<T>(
        &self,
        what: &str,
        future: impl Future<Output = Result<T, RpcError<TransportErrorKind>>>,
    ) -> Result<T, ChainError> {
        let after = self.inner.config.rpc_timeout;
        match tokio::time::timeout(after, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(self.complete(rpc_error(&self.inner.url, err)).await),
            Err(_) => Err(ChainError::Timeout {
                what: what.to_owned(),
                after,
            }),
        }
    }

    /// Fills in what a node's "insufficient funds" leaves out: whose, and how much there is.
    async fn complete(&self, error: ChainError) -> ChainError {
        match error {
            ChainError::InsufficientFunds { needed, .. } => {
                let account = self.inner.account;
                let available = Box::pin(self.native_balance(account))
                    .await
                    .unwrap_or_default();
                ChainError::InsufficientFunds {
                    account,
                    asset: Address::ZERO,
                    needed,
                    available,
                }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_can_move_between_tasks() {
        fn is_send_sync<T: Send + Sync + 'static>() {}
        is_send_sync::<ChainClient>();
        is_send_sync::<HtlcClient>();
    }

    #[test]
    fn the_defaults_wait_for_confirmations_and_the_local_config_does_not() {
        let public = ClientConfig::default();
        assert_eq!(public.scan_confirmations, 12);
        assert!(public.max_reorg_depth >= 64);
        assert!(public.fee_bump_percent >= crate::outbox::MIN_FEE_BUMP_PERCENT);
        let local = ClientConfig::local();
        assert_eq!(local.scan_confirmations, 1);
        assert_eq!(local.max_reorg_depth, public.max_reorg_depth);
    }
}
