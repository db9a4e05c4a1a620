//! The client: one [`ChainClient`] per chain (connection, signing account, balances, blocks,
//! transactions), and an [`HtlcClient`] for the HTLC deployed on it.
//!
//! How transactions are sent, followed and re-sent, and the one-client-per-key constraint,
//! are described in the crate docs (# Transactions).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    future::{Future, IntoFuture},
    sync::{Arc, MutexGuard, PoisonError},
    time::Duration,
};

use alloy_network::{
    Ethereum, EthereumWallet, NetworkTransactionBuilder, ReceiptResponse, TransactionBuilder,
    eip2718::Encodable2718,
};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{
    BlockId, BlockNumberOrTag, Filter, Log, Transaction, TransactionReceipt, TransactionRequest,
};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolConstructor, SolEvent, SolEventInterface};
use alloy_transport::{RpcError, TransportErrorKind};
use dex_primitives::TraderKey;
use serde::Deserialize;
use tokio::{sync::Mutex, time::Instant};
use tracing::{debug, info, warn};

use crate::{
    BlockRef, ChainError, ChainEvent, Deployment, HtlcEvent, LockId, LockInfo, LockOutcome,
    LockParams, LockState, Secret, SentTx, TxOutcome, TxStatus,
    contracts::{Htlc, IErc20, TestToken},
    error::rpc_error,
    outbox::{Fees, Outbox, bumped},
};

/// Most requests in flight at once (public providers rate-limit bursts).
const MAX_CONCURRENT: usize = 16;

/// Polls a waiter tolerates between seeing its nonce used and finding the receipt of one of
/// its versions, before it concludes that another transaction took the nonce (receipts can
/// trail the account nonce briefly on load-balanced endpoints).
const RECEIPT_GRACE_POLLS: u32 = 3;

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

/// A block header's fields the scanner checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Header {
    number: U64,
    pub(crate) hash: B256,
    pub(crate) parent_hash: B256,
    timestamp: U64,
}

impl Header {
    pub(crate) fn number(&self) -> u64 {
        self.number.to()
    }

    pub(crate) fn block_ref(&self) -> BlockRef {
        BlockRef {
            number: self.number.to(),
            hash: self.hash,
            timestamp: self.timestamp.to(),
        }
    }
}

/// How the node took a raw transaction.
enum Broadcast {
    /// In its pool (or already there).
    Accepted,
    /// No answer (timeout, transport failure): it may or may not have arrived.
    Unknown(ChainError),
    /// Refused with an error.
    Refused(ChainError),
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

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.rpc("eth_blockNumber", self.provider().get_block_number())
            .await
    }

    /// The latest block's timestamp (unix seconds). Timelocks are set and checked against
    /// this, never against the local clock.
    pub async fn latest_block_timestamp(&self) -> Result<u64, ChainError> {
        let block = self
            .rpc(
                "eth_getBlockByNumber",
                self.provider()
                    .get_block_by_number(BlockNumberOrTag::Latest),
            )
            .await?
            .ok_or_else(|| ChainError::Rpc {
                message: "the node has no latest block".into(),
            })?;
        Ok(block.header.timestamp)
    }

    /// Block `number` (its hash and timestamp), or `None` if the chain is not that long.
    pub async fn block(&self, number: u64) -> Result<Option<BlockRef>, ChainError> {
        let headers = self.headers(&[number]).await?;
        Ok(headers.into_iter().flatten().next().map(|h| h.block_ref()))
    }

    /// The native-coin balance of `owner`, in wei.
    pub async fn native_balance(&self, owner: Address) -> Result<U256, ChainError> {
        self.rpc("eth_getBalance", self.provider().get_balance(owner))
            .await
    }

    /// The `token` balance of `owner` (ERC-20 `balanceOf`).
    pub async fn token_balance(&self, token: Address, owner: Address) -> Result<U256, ChainError> {
        self.read(token, IErc20::balanceOfCall { owner }).await
    }

    /// The balance of `owner` in `asset`: the native coin for [`Address::ZERO`], else the
    /// ERC-20 at that address.
    pub async fn balance(&self, asset: Address, owner: Address) -> Result<U256, ChainError> {
        if asset == Address::ZERO {
            self.native_balance(owner).await
        } else {
            self.token_balance(asset, owner).await
        }
    }

    /// The ERC-20 allowance `owner` gave `spender`.
    pub async fn allowance(
        &self,
        token: Address,
        owner: Address,
        spender: Address,
    ) -> Result<U256, ChainError> {
        self.read(token, IErc20::allowanceCall { owner, spender })
            .await
    }

    /// Sends ERC-20 `approve(spender, amount)` and waits until it is mined.
    pub async fn approve(
        &self,
        token: Address,
        spender: Address,
        amount: U256,
    ) -> Result<TxOutcome, ChainError> {
        let tx = call_request(
            token,
            IErc20::approveCall { spender, amount }.abi_encode(),
            U256::ZERO,
        );
        self.send(tx, "approve")
            .await
            .map(|receipt| outcome(&receipt))
    }

    /// Deploys the HTLC contract (the committed artifact) and returns a client for it.
    pub async fn deploy_htlc(&self) -> Result<(HtlcClient, Deployment), ChainError> {
        let deployment = self.deploy(Htlc::BYTECODE.clone(), "deploy HTLC").await?;
        let htlc = HtlcClient {
            chain: self.clone(),
            address: deployment.address,
        };
        Ok((htlc, deployment))
    }

    /// A client for the HTLC at `address`, after checking that the code there is exactly
    /// the contract this crate was built with: a node must not send funds to, or trust
    /// events from, anything else.
    pub async fn htlc_at(&self, address: Address) -> Result<HtlcClient, ChainError> {
        let code = self
            .rpc("eth_getCode", self.provider().get_code_at(address))
            .await?;
        if code != Htlc::DEPLOYED_BYTECODE {
            return Err(ChainError::NotOurHtlc { address });
        }
        Ok(HtlcClient {
            chain: self.clone(),
            address,
        })
    }

    /// Deploys the test ERC-20 (`TestToken`, mintable by this account) with `decimals`.
    pub async fn deploy_test_token(
        &self,
        name: &str,
        symbol: &str,
        decimals: u8,
    ) -> Result<Deployment, ChainError> {
        let args = TestToken::constructorCall {
            name_: name.to_owned(),
            symbol_: symbol.to_owned(),
            decimals_: decimals,
        }
        .abi_encode();
        let code = [TestToken::BYTECODE.as_ref(), &args].concat();
        self.deploy(code.into(), "deploy test token").await
    }

    /// Mints `amount` of the test token at `token` to `to` (this account must have deployed it).
    pub async fn mint_test_token(
        &self,
        token: Address,
        to: Address,
        amount: U256,
    ) -> Result<TxOutcome, ChainError> {
        self.send_call(
            token,
            TestToken::mintCall { to, amount }.abi_encode(),
            U256::ZERO,
        )
        .await
    }

    /// Deploys `code` (creation bytecode with constructor arguments appended).
    pub async fn deploy(&self, code: Bytes, what: &str) -> Result<Deployment, ChainError> {
        let tx = TransactionRequest::default().with_deploy_code(code);
        let receipt = self.send(tx, what).await?;
        let address = receipt.contract_address().ok_or_else(|| ChainError::Rpc {
            message: format!("{what}: the receipt names no contract address"),
        })?;
        Ok(Deployment {
            address,
            outcome: outcome(&receipt),
        })
    }

    /// Sends a transaction calling `to` with `input` and `value`, waits until it is mined,
    /// and returns its outcome, or the decoded revert. The building block of every write;
    /// public so tools (and tests) can make calls this API has no method for.
    pub async fn send_call(
        &self,
        to: Address,
        input: Vec<u8>,
        value: U256,
    ) -> Result<TxOutcome, ChainError> {
        self.send(call_request(to, input, value), "contract call")
            .await
            .map(|receipt| outcome(&receipt))
    }

    /// Like [`ChainClient::send_call`], but returns as soon as the transaction is sent: store
    /// the [`SentTx`], then [`ChainClient::wait_for_tx`]. A call the node's estimation
    /// rejects fails here, with nothing sent.
    pub async fn submit_call(
        &self,
        to: Address,
        input: Vec<u8>,
        value: U256,
    ) -> Result<SentTx, ChainError> {
        self.submit(call_request(to, input, value), "contract call")
            .await
    }

    /// Waits until a version of `sent` is mined (re-sending it with higher fees meanwhile,
    /// like every wait), and returns its outcome, or its decoded revert. Works on any
    /// transaction of this account sent by a `submit_*` call, also one sent before a
    /// restart: if this client does not track it, the newest version the node still holds is
    /// adopted and fee-bumped from there.
    ///
    /// Fails with [`ChainError::NotMined`] after [`ClientConfig::tx_timeout`] (ask again),
    /// and with [`ChainError::TxGone`] if it can no longer be mined as sent.
    pub async fn wait_for_tx(&self, sent: &SentTx) -> Result<TxOutcome, ChainError> {
        self.check_sender(sent)?;
        if !self.outbox().knows(sent.nonce) {
            self.adopt(sent).await?;
        }
        let receipt = self
            .wait_mined(sent, "transaction", self.inner.config.tx_timeout)
            .await?;
        self.check_receipt(receipt, "transaction").await
    }

    /// Where `sent` stands now, without waiting: mined (which version, and whether it
    /// succeeded), pending, dropped, or superseded by a version this lookup does not know.
    /// After a restart, [`TxStatus::Pending`] means the node holds a version: resume it with
    /// [`ChainClient::wait_for_tx`] so that its fees keep up.
    pub async fn tx_status(&self, sent: &SentTx) -> Result<TxStatus, ChainError> {
        self.check_sender(sent)?;
        let hashes = self.known_hashes(sent);
        let nonce_used = self.mined_nonce().await? > sent.nonce;
        if nonce_used {
            return Ok(match self.newest_receipt(&hashes).await? {
                Some(receipt) => TxStatus::Mined {
                    outcome: outcome(&receipt),
                    succeeded: receipt.status(),
                },
                None => TxStatus::Superseded,
            });
        }
        if self.outbox().is_pending(sent.nonce) {
            return Ok(TxStatus::Pending);
        }
        for hash in hashes.iter().rev() {
            if self.transaction_by_hash(*hash).await?.is_some() {
                return Ok(TxStatus::Pending);
            }
        }
        Ok(TxStatus::Dropped)
    }

    /// The outcome of `tx_hash`, if mined (whether or not it succeeded).
    pub async fn receipt(&self, tx_hash: B256) -> Result<Option<TxOutcome>, ChainError> {
        Ok(self.receipt_of(tx_hash).await?.as_ref().map(outcome))
    }

    /// Waits until `tx_hash` is mined with `confirmations` blocks (1 = mined) and
    /// succeeded. Fails with `Timeout` after `timeout`, and with `Reverted` if it failed.
    pub async fn wait_for_confirmations(
        &self,
        tx_hash: B256,
        confirmations: u64,
        timeout: Duration,
    ) -> Result<TxOutcome, ChainError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(receipt) = self.receipt_of(tx_hash).await? {
                let mined_in = receipt.block_number().unwrap_or(u64::MAX);
                let latest = self.block_number().await?;
                // A reorg can drop the receipt again: it is re-read on every round.
                if latest.saturating_add(1) >= mined_in.saturating_add(confirmations.max(1)) {
                    if !receipt.status() {
                        return Err(ChainError::Reverted {
                            reason: format!("transaction {tx_hash} failed on chain"),
                        });
                    }
                    return Ok(outcome(&receipt));
                }
            }
            if Instant::now() >= deadline {
                return Err(ChainError::Timeout {
                    what: format!("{confirmations} confirmations of {tx_hash}"),
                    after: timeout,
                });
            }
            tokio::time::sleep(self.inner.config.poll_interval).await;
        }
    }

    /// A read-only contract call (`eth_call` on the latest block), decoded.
    pub async fn read<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, ChainError> {
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(call.abi_encode());
        let output = self.rpc("eth_call", self.provider().call(tx)).await?;
        C::abi_decode_returns(&output).map_err(|err| ChainError::Rpc {
            message: format!("{to} answered {} with {output}: {err}", C::SIGNATURE),
        })
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

    async fn receipt_of(&self, tx_hash: B256) -> Result<Option<TransactionReceipt>, ChainError> {
        self.rpc(
            "eth_getTransactionReceipt",
            self.provider().get_transaction_receipt(tx_hash),
        )
        .await
    }

    /// The receipt of the newest of `hashes` (versions of one transaction, oldest first)
    /// that is mined: newest first, as the mined version is usually the last one sent.
    async fn newest_receipt(
        &self,
        hashes: &[B256],
    ) -> Result<Option<TransactionReceipt>, ChainError> {
        for hash in hashes.iter().rev() {
            if let Some(receipt) = self.receipt_of(*hash).await? {
                return Ok(Some(receipt));
            }
        }
        Ok(None)
    }

    /// The transaction `tx_hash`, if the node has it (mined or in its pool).
    async fn transaction_by_hash(&self, tx_hash: B256) -> Result<Option<Transaction>, ChainError> {
        self.rpc(
            "eth_getTransactionByHash",
            self.provider().get_transaction_by_hash(tx_hash),
        )
        .await
    }

    /// The account's nonce at the latest block: the number of its transactions mined.
    async fn mined_nonce(&self) -> Result<u64, ChainError> {
        self.rpc(
            "eth_getTransactionCount",
            self.provider()
                .get_transaction_count(self.inner.account)
                .latest(),
        )
        .await
    }

    /// The account's nonce counting the node's pending pool.
    async fn pending_nonce(&self) -> Result<u64, ChainError> {
        self.rpc(
            "eth_getTransactionCount",
            self.provider()
                .get_transaction_count(self.inner.account)
                .pending(),
        )
        .await
    }

    async fn fee_estimate(&self) -> Result<Fees, ChainError> {
        let estimate = self
            .rpc("eth_feeHistory", self.provider().estimate_eip1559_fees())
            .await?;
        Ok(Fees {
            max_fee: estimate.max_fee_per_gas,
            tip: estimate.max_priority_fee_per_gas,
        }
        .capped(self.inner.config.max_fee_per_gas))
    }

    /// What this client would offer per gas for a transaction sent now (`maxFeePerGas`,
    /// wei): the market estimate from the chain's fee history, held to
    /// [`ClientConfig::max_fee_per_gas`]. A transaction costs at most its gas times this.
    pub async fn max_fee_per_gas(&self) -> Result<u128, ChainError> {
        Ok(self.fee_estimate().await?.max_fee)
    }

    /// Signs `tx` (sender, send, wait) and turns a mined failure into its decoded revert.
    async fn send(
        &self,
        tx: TransactionRequest,
        what: &str,
    ) -> Result<TransactionReceipt, ChainError> {
        let sent = self.submit(tx, what).await?;
        let receipt = self
            .wait_mined(&sent, what, self.inner.config.tx_timeout)
            .await?;
        if receipt.status() {
            return Ok(receipt);
        }
        Err(self.failure(&receipt, what).await)
    }

    /// Estimates, signs with the next nonce, records and broadcasts `tx`. Gas estimation
    /// runs first, so most reverts are caught before anything is sent (and cost nothing).
    pub(crate) async fn submit(
        &self,
        tx: TransactionRequest,
        what: &str,
    ) -> Result<SentTx, ChainError> {
        let account = self.inner.account;
        let tx = tx.with_from(account).with_chain_id(self.inner.chain_id);
        let gas = self
            .rpc("eth_estimateGas", self.provider().estimate_gas(tx.clone()))
            .await?;
        let fees = self.fee_estimate().await?;

        let _nonce_guard = self.inner.send_lock.lock().await;
        let node_nonce = self.pending_nonce().await?;
        let nonce = self.outbox().next_nonce(node_nonce);
        let request = tx
            .with_nonce(nonce)
            .with_gas_limit(gas)
            .with_max_fee_per_gas(fees.max_fee)
            .with_max_priority_fee_per_gas(fees.tip);
        let (tx_hash, raw) = self.sign(request.clone()).await?;
        match self.broadcast(&raw).await {
            Broadcast::Accepted => {}
            // It may have arrived: track it, the waits re-send it (a nonce is never skipped).
            Broadcast::Unknown(err) => {
                warn!(chain_id = self.inner.chain_id, what, %tx_hash, nonce, %err, "broadcast unconfirmed; will re-send");
            }
            Broadcast::Refused(err) => return Err(self.complete(err).await),
        }
        self.outbox()
            .track(nonce, request, what, vec![tx_hash], fees, Instant::now());
        debug!(chain_id = self.inner.chain_id, what, %tx_hash, nonce, "transaction sent");
        Ok(SentTx {
            from: account,
            nonce,
            tx_hashes: vec![tx_hash],
        })
    }

    async fn sign(&self, request: TransactionRequest) -> Result<(B256, Vec<u8>), ChainError> {
        let envelope = <TransactionRequest as NetworkTransactionBuilder<Ethereum>>::build(
            request,
            &self.inner.wallet,
        )
        .await
        .map_err(|err| ChainError::Invalid {
            what: "transaction",
            reason: err.to_string(),
        })?;
        Ok((*envelope.tx_hash(), envelope.encoded_2718()))
    }

    async fn broadcast(&self, raw: &[u8]) -> Broadcast {
        let after = self.inner.config.rpc_timeout;
        let sending = self.provider().send_raw_transaction(raw);
        match tokio::time::timeout(after, sending).await {
            Ok(Ok(_)) => Broadcast::Accepted,
            Ok(Err(RpcError::ErrorResp(payload)))
                if ["already known", "known transaction", "already imported"]
                    .iter()
                    .any(|known| payload.message.to_ascii_lowercase().contains(known)) =>
            {
                Broadcast::Accepted
            }
            Ok(Err(err @ RpcError::ErrorResp(_))) => {
                Broadcast::Refused(rpc_error(&self.inner.url, err))
            }
            Ok(Err(err)) => Broadcast::Unknown(rpc_error(&self.inner.url, err)),
            Err(_) => Broadcast::Unknown(ChainError::Timeout {
                what: "eth_sendRawTransaction".into(),
                after,
            }),
        }
    }

    fn check_sender(&self, sent: &SentTx) -> Result<(), ChainError> {
        if sent.from != self.inner.account {
            return Err(ChainError::NotOurTx {
                from: sent.from,
                account: self.inner.account,
            });
        }
        Ok(())
    }

    /// The hashes of `sent` together with any later versions this client sent.
    fn known_hashes(&self, sent: &SentTx) -> Vec<B256> {
        let mut hashes = sent.tx_hashes.clone();
        if let Some(tracked) = self.outbox().hashes(sent.nonce) {
            for hash in tracked {
                if !hashes.contains(hash) {
                    hashes.push(*hash);
                }
            }
        }
        hashes
    }

    fn snapshot(&self, sent: &SentTx) -> SentTx {
        SentTx {
            tx_hashes: self.known_hashes(sent),
            ..sent.clone()
        }
    }

    /// Tracks a transaction this client does not know (sent before a restart) from the
    /// newest of its versions the node holds, so that waits fee-bump it. Mined ones need
    /// nothing; one the node has no version of is gone.
    async fn adopt(&self, sent: &SentTx) -> Result<(), ChainError> {
        if self.mined_nonce().await? > sent.nonce {
            return Ok(());
        }
        for hash in sent.tx_hashes.iter().rev() {
            let Some(found) = self.transaction_by_hash(*hash).await? else {
                continue;
            };
            let request = found.into_request();
            let tip = request
                .max_priority_fee_per_gas
                .or(request.gas_price)
                .unwrap_or_default();
            let fees = Fees {
                max_fee: request.max_fee_per_gas.or(request.gas_price).unwrap_or(tip),
                tip,
            };
            let request = request
                .with_from(self.inner.account)
                .with_nonce(sent.nonce)
                .with_chain_id(self.inner.chain_id);
            info!(chain_id = self.inner.chain_id, nonce = sent.nonce, %hash, "resuming a transaction sent before");
            self.outbox().track(
                sent.nonce,
                request,
                "resumed transaction",
                sent.tx_hashes.clone(),
                fees,
                Instant::now(),
            );
            return Ok(());
        }
        Err(ChainError::TxGone {
            sent: sent.clone(),
            nonce_used: false,
        })
    }

    /// Waits until a version of `sent` is mined (successful or not), keeping it and the
    /// transactions before it moving by re-sending them when due.
    async fn wait_mined(
        &self,
        sent: &SentTx,
        what: &str,
        timeout: Duration,
    ) -> Result<TransactionReceipt, ChainError> {
        let deadline = Instant::now() + timeout;
        let mut polls_without_receipt = 0;
        loop {
            let mined_nonce = self.mined_nonce().await?;
            if mined_nonce > sent.nonce {
                if let Some(receipt) = self.newest_receipt(&self.known_hashes(sent)).await? {
                    self.outbox().finish(sent.nonce);
                    debug!(
                        chain_id = self.inner.chain_id,
                        what,
                        tx_hash = %receipt.transaction_hash,
                        nonce = sent.nonce,
                        gas_used = receipt.gas_used(),
                        success = receipt.status(),
                        "transaction mined"
                    );
                    return Ok(receipt);
                }
                polls_without_receipt += 1;
                if polls_without_receipt > RECEIPT_GRACE_POLLS {
                    let sent = self.snapshot(sent);
                    self.outbox().finish(sent.nonce);
                    return Err(ChainError::TxGone {
                        sent,
                        nonce_used: true,
                    });
                }
            }
            self.resend_due(sent.nonce, mined_nonce).await;
            if Instant::now() >= deadline {
                return Err(ChainError::NotMined {
                    what: what.to_owned(),
                    sent: self.snapshot(sent),
                    after: timeout,
                });
            }
            tokio::time::sleep(self.inner.config.poll_interval).await;
        }
    }

    /// Re-sends, with bumped fees, every tracked transaction up to nonce `up_to` that has
    /// waited [`ClientConfig::resend_interval`] since it was last sent. Problems are logged,
    /// not returned: the waiter keeps waiting and the next round tries again.
    async fn resend_due(&self, up_to: u64, mined_nonce: u64) {
        let config = &self.inner.config;
        let due = {
            let mut outbox = self.outbox();
            outbox.settle_below(mined_nonce);
            outbox.take_due(up_to, Instant::now(), config.resend_interval)
        };
        if due.is_empty() {
            return;
        }
        let estimate = match self.fee_estimate().await {
            Ok(estimate) => estimate,
            Err(err) => {
                warn!(chain_id = self.inner.chain_id, %err, "no fee estimate; re-send postponed");
                return;
            }
        };
        for due in due {
            let fees =
                bumped(due.fees, estimate, config.fee_bump_percent).capped(config.max_fee_per_gas);
            if fees == due.fees {
                // At the cap already: a replacement at the same fees would be refused.
                warn!(
                    chain_id = self.inner.chain_id,
                    what = due.what,
                    nonce = due.nonce,
                    max_fee_per_gas = fees.max_fee,
                    "unmined transaction at the fee cap (max_fee_per_gas); waiting for fees to fall"
                );
                continue;
            }
            let request = due
                .request
                .with_max_fee_per_gas(fees.max_fee)
                .with_max_priority_fee_per_gas(fees.tip);
            let (tx_hash, raw) = match self.sign(request).await {
                Ok(signed) => signed,
                Err(err) => {
                    warn!(chain_id = self.inner.chain_id, nonce = due.nonce, %err, "cannot sign a re-send");
                    continue;
                }
            };
            match self.broadcast(&raw).await {
                Broadcast::Accepted | Broadcast::Unknown(_) => {
                    info!(
                        chain_id = self.inner.chain_id,
                        what = due.what,
                        nonce = due.nonce,
                        %tx_hash,
                        max_fee_per_gas = fees.max_fee,
                        max_priority_fee_per_gas = fees.tip,
                        "re-sent an unmined transaction with higher fees"
                    );
                    self.outbox().record_version(due.nonce, tx_hash, fees);
                }
                Broadcast::Refused(err) => {
                    if err.to_string().to_ascii_lowercase().contains("underpriced") {
                        self.outbox().record_refused_fees(due.nonce, fees);
                    }
                    warn!(chain_id = self.inner.chain_id, nonce = due.nonce, %err, "re-send refused");
                }
            }
        }
    }

    /// The outcome of a mined receipt, or its decoded failure.
    async fn check_receipt(
        &self,
        receipt: TransactionReceipt,
        what: &str,
    ) -> Result<TxOutcome, ChainError> {
        if receipt.status() {
            Ok(outcome(&receipt))
        } else {
            Err(self.failure(&receipt, what).await)
        }
    }

    /// Why a mined transaction failed. The state changed between estimation and mining,
    /// usually by a competing transaction (another claim of the same lock). Replaying the
    /// call on the state after its block reproduces such a cause whether the competitor
    /// came earlier in the same block or in an earlier one; a tracing API would be exact
    /// but is not offered by every node.
    async fn failure(&self, receipt: &TransactionReceipt, what: &str) -> ChainError {
        let tx_hash = receipt.transaction_hash;
        let mined_in = receipt.block_number().unwrap_or_default();
        let generic = ChainError::Reverted {
            reason: format!("{what}: transaction {tx_hash} failed on chain"),
        };
        let Ok(Some(mined)) = self.transaction_by_hash(tx_hash).await else {
            return generic;
        };
        let mined = mined.into_request();
        let mut replay = TransactionRequest::default()
            .with_from(self.inner.account)
            .with_input(mined.input.into_input().unwrap_or_default())
            .with_value(mined.value.unwrap_or_default());
        replay.to = mined.to;
        match self
            .provider()
            .call(replay)
            .block(BlockId::number(mined_in))
            .await
        {
            Err(err) => rpc_error(&self.inner.url, err),
            Ok(_) => generic,
        }
    }

    /// Block headers by number, in order (`None` past the chain's head), fetched
    /// [`MAX_CONCURRENT`] at a time.
    pub(crate) async fn headers(&self, numbers: &[u64]) -> Result<Vec<Option<Header>>, ChainError> {
        let mut headers = Vec::with_capacity(numbers.len());
        for chunk in numbers.chunks(MAX_CONCURRENT) {
            let requests = chunk.iter().map(|&number| {
                self.rpc(
                    "eth_getBlockByNumber",
                    self.provider().raw_request::<_, Option<Header>>(
                        "eth_getBlockByNumber".into(),
                        (BlockNumberOrTag::Number(number), false),
                    ),
                )
            });
            for header in join_all(requests.collect()).await {
                headers.push(header?);
            }
        }
        Ok(headers)
    }

    /// The logs matching `range`, and those matching `at_end` (the same filter pinned to the
    /// range's last block by hash), asked together. A node that has not got that block
    /// refuses the second query (EIP-234) instead of quietly returning a range cut short.
    pub(crate) async fn logs_with_end(
        &self,
        range: &Filter,
        at_end: &Filter,
    ) -> Result<(Vec<Log>, Result<Vec<Log>, ChainError>), ChainError> {
        let mut answers = join_all(vec![self.logs(range), self.logs(at_end)]).await;
        let end_logs = answers.pop().unwrap_or_else(|| Ok(Vec::new()));
        let logs = answers.pop().unwrap_or_else(|| Ok(Vec::new()))?;
        Ok((logs, end_logs))
    }

    pub(crate) async fn logs(&self, filter: &Filter) -> Result<Vec<Log>, ChainError> {
        self.timed("eth_getLogs", self.provider().get_logs(filter))
            .await
    }
}

/// Runs `futures` concurrently on the current task and returns their outputs in order (a
/// dependency-free `join_all`).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_ready = true;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => all_ready = false,
                }
            }
        }
        if all_ready {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn call_request(to: Address, input: Vec<u8>, value: U256) -> TransactionRequest {
    TransactionRequest::default()
        .with_to(to)
        .with_input(input)
        .with_value(value)
}

fn outcome(receipt: &TransactionReceipt) -> TxOutcome {
    TxOutcome {
        tx_hash: receipt.transaction_hash,
        block_number: receipt.block_number().unwrap_or_default(),
        gas_used: receipt.gas_used(),
        effective_gas_price: receipt.effective_gas_price(),
    }
}

/// The HTLC contract on one chain, used through a [`ChainClient`].
///
/// Everything a swap driver needs to act idempotently: a lock's id is known before it is
/// sent ([`LockParams::id`]), its state can be read by id ([`HtlcClient::lock_info`]), and
/// its parameters and the claim's secret can be recovered by id from the events
/// ([`HtlcClient::find_lock`], [`HtlcClient::find_secret`]) after a restart. Every call
/// taking [`LockParams`] first checks that they name this client's chain and contract.
#[derive(Debug, Clone)]
pub struct HtlcClient {
    pub(crate) chain: ChainClient,
    pub(crate) address: Address,
}

impl HtlcClient {
    /// The contract's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The chain client underneath.
    pub fn chain(&self) -> &ChainClient {
        &self.chain
    }

    /// Parameters of a lock by this client's account on this chain and contract.
    pub fn lock_params(
        &self,
        recipient: Address,
        token: Address,
        amount: U256,
        hashlock: B256,
        timelock: u64,
    ) -> LockParams {
        LockParams {
            chain_id: self.chain.chain_id(),
            contract: self.address,
            sender: self.chain.account(),
            recipient,
            token,
            amount,
            hashlock,
            timelock,
        }
    }

    /// Locks `params.amount` of `params.token` for `params.recipient` and waits until it is
    /// mined. For an ERC-20 it first approves the HTLC for the maximum amount if the
    /// allowance is short (safe: the HTLC only ever pulls from the caller of `lock`, so one
    /// approval serves every later swap and saves an approval per swap). Balances are
    /// checked first so a shortfall is a typed [`ChainError::InsufficientFunds`], not a
    /// revert.
    ///
    /// `params` must name this chain and contract, and this client's account as sender;
    /// the id is `params.id()`.
    pub async fn lock(&self, params: &LockParams) -> Result<LockOutcome, ChainError> {
        let approval = self.prepare_lock(params).await?;
        let (tx, _) = self.lock_request(params);
        let receipt = self.chain.send(tx, "lock").await?;
        let lock = outcome(&receipt);
        let id = params.id();
        debug!(chain_id = self.chain.chain_id(), %id, gas_used = lock.gas_used, "locked");
        Ok(LockOutcome { id, approval, lock })
    }

    /// Like [`HtlcClient::lock`] (approval included, waited for), but returns as soon as the
    /// lock transaction is sent; wait with [`ChainClient::wait_for_tx`].
    pub async fn submit_lock(&self, params: &LockParams) -> Result<SentTx, ChainError> {
        self.prepare_lock(params).await?;
        let (tx, what) = self.lock_request(params);
        self.chain.submit(tx, what).await
    }

    /// Claims the lock for its recipient with `secret` (any account may send it) and waits
    /// until it is mined.
    pub async fn claim(
        &self,
        params: &LockParams,
        secret: &Secret,
    ) -> Result<TxOutcome, ChainError> {
        let tx = self.claim_request(params, secret)?;
        self.chain
            .send(tx, "claim")
            .await
            .map(|receipt| outcome(&receipt))
    }

    /// Like [`HtlcClient::claim`], but returns as soon as the transaction is sent.
    pub async fn submit_claim(
        &self,
        params: &LockParams,
        secret: &Secret,
    ) -> Result<SentTx, ChainError> {
        let tx = self.claim_request(params, secret)?;
        self.chain.submit(tx, "claim").await
    }

    /// Refunds the lock to its sender (this client's account must be the sender) and waits
    /// until it is mined.
    pub async fn refund(&self, params: &LockParams) -> Result<TxOutcome, ChainError> {
        let tx = self.refund_request(params)?;
        self.chain
            .send(tx, "refund")
            .await
            .map(|receipt| outcome(&receipt))
    }

    /// Like [`HtlcClient::refund`], but returns as soon as the transaction is sent.
    pub async fn submit_refund(&self, params: &LockParams) -> Result<SentTx, ChainError> {
        let tx = self.refund_request(params)?;
        self.chain.submit(tx, "refund").await
    }

    /// What the contract records for `id`.
    pub async fn lock_info(&self, id: LockId) -> Result<LockInfo, ChainError> {
        let answer = self
            .chain
            .read(self.address, Htlc::getLockCall { id: id.0 })
            .await?;
        let state = match answer.state {
            0 => LockState::Absent,
            1 => LockState::Locked,
            2 => LockState::Claimed,
            3 => LockState::Refunded,
            other => {
                return Err(ChainError::Rpc {
                    message: format!("getLock({id}) returned unknown state {other}"),
                });
            }
        };
        Ok(LockInfo {
            state,
            timelock: answer.timelock,
            lock_block: answer.lockBlock,
            settle_block: (answer.settleBlock != 0).then_some(answer.settleBlock),
        })
    }

    /// The `Locked` event of `id` (with all its parameters), or `None` if never locked.
    /// Reads one block: the one the contract recorded for the lock.
    pub async fn find_lock(&self, id: LockId) -> Result<Option<ChainEvent>, ChainError> {
        let info = self.lock_info(id).await?;
        if info.state == LockState::Absent {
            return Ok(None);
        }
        self.find_event(Htlc::Locked::SIGNATURE_HASH, id, info.lock_block)
            .await
            .map(Some)
    }

    /// The secret revealed by the claim of `id`, or `None` while it is not claimed.
    /// Reads one block: the one the contract recorded for the claim.
    pub async fn find_secret(&self, id: LockId) -> Result<Option<Secret>, ChainError> {
        let info = self.lock_info(id).await?;
        let (LockState::Claimed, Some(block)) = (info.state, info.settle_block) else {
            return Ok(None);
        };
        match self
            .find_event(Htlc::Claimed::SIGNATURE_HASH, id, block)
            .await?
            .event
        {
            HtlcEvent::Claimed { secret, .. } => Ok(Some(secret)),
            other => Err(ChainError::Rpc {
                message: format!("expected a Claimed event for {id}, found {other:?}"),
            }),
        }
    }

    fn check_params(&self, params: &LockParams) -> Result<(), ChainError> {
        if params.chain_id != self.chain.chain_id() || params.contract != self.address {
            return Err(ChainError::WrongHtlc {
                chain_id: params.chain_id,
                contract: params.contract,
                client_chain_id: self.chain.chain_id(),
                client_contract: self.address,
            });
        }
        Ok(())
    }

    /// Checks the parameters and balances, and approves the HTLC if needed.
    async fn prepare_lock(&self, params: &LockParams) -> Result<Option<TxOutcome>, ChainError> {
        self.check_params(params)?;
        let account = self.chain.account();
        if params.sender != account {
            return Err(ChainError::SenderMismatch {
                sender: params.sender,
                signer: account,
            });
        }
        let available = self.chain.balance(params.token, account).await?;
        if available < params.amount {
            return Err(ChainError::InsufficientFunds {
                account,
                asset: params.token,
                needed: Some(params.amount),
                available,
            });
        }
        if params.is_native() {
            return Ok(None);
        }
        let allowance = self
            .chain
            .allowance(params.token, account, self.address)
            .await?;
        if allowance >= params.amount {
            return Ok(None);
        }
        if !allowance.is_zero() {
            // Some tokens (USDT) refuse to change one non-zero allowance into another.
            self.chain
                .approve(params.token, self.address, U256::ZERO)
                .await?;
        }
        self.chain
            .approve(params.token, self.address, U256::MAX)
            .await
            .map(Some)
    }

    fn lock_request(&self, params: &LockParams) -> (TransactionRequest, &'static str) {
        let call = Htlc::lockCall {
            recipient: params.recipient,
            token: params.token,
            amount: params.amount,
            hashlock: params.hashlock,
            timelock: params.timelock,
        };
        let value = if params.is_native() {
            params.amount
        } else {
            U256::ZERO
        };
        (call_request(self.address, call.abi_encode(), value), "lock")
    }

    fn claim_request(
        &self,
        params: &LockParams,
        secret: &Secret,
    ) -> Result<TransactionRequest, ChainError> {
        self.check_params(params)?;
        let call = Htlc::claimCall {
            params: params.to_sol(),
            secret: *secret.as_b256(),
        };
        Ok(call_request(self.address, call.abi_encode(), U256::ZERO))
    }

    fn refund_request(&self, params: &LockParams) -> Result<TransactionRequest, ChainError> {
        self.check_params(params)?;
        let call = Htlc::refundCall {
            params: params.to_sol(),
        };
        Ok(call_request(self.address, call.abi_encode(), U256::ZERO))
    }

    async fn find_event(
        &self,
        signature: B256,
        id: LockId,
        block: u64,
    ) -> Result<ChainEvent, ChainError> {
        let filter = Filter::new()
            .address(self.address)
            .event_signature(signature)
            .topic1(id.0)
            .from_block(block)
            .to_block(block);
        let logs = self.chain.logs(&filter).await?;
        logs.iter()
            .find_map(|log| self.decode_log(log))
            .ok_or_else(|| ChainError::Rpc {
                message: format!("no event {signature} for lock {id} in block {block}"),
            })
    }

    /// Decodes one HTLC log; `None` for logs of other contracts or events, and removed logs.
    pub(crate) fn decode_log(&self, log: &Log) -> Option<ChainEvent> {
        if log.removed || log.address() != self.address {
            return None;
        }
        let event = match Htlc::HtlcEvents::decode_log(&log.inner).ok()?.data {
            Htlc::HtlcEvents::Locked(locked) => {
                let params = LockParams {
                    chain_id: self.chain.chain_id(),
                    contract: self.address,
                    sender: locked.sender,
                    recipient: locked.recipient,
                    token: locked.token,
                    amount: locked.amount,
                    hashlock: locked.hashlock,
                    timelock: locked.timelock,
                };
                HtlcEvent::Locked {
                    id: LockId(locked.id),
                    params,
                }
            }
            Htlc::HtlcEvents::Claimed(claimed) => HtlcEvent::Claimed {
                id: LockId(claimed.id),
                secret: Secret::from_bytes(claimed.secret),
            },
            Htlc::HtlcEvents::Refunded(refunded) => HtlcEvent::Refunded {
                id: LockId(refunded.id),
            },
        };
        Some(ChainEvent {
            block_number: log.block_number?,
            block_hash: log.block_hash?,
            tx_hash: log.transaction_hash?,
            log_index: log.log_index?,
            event,
        })
    }

    /// The event filter of this HTLC.
    pub(crate) fn event_filter(&self) -> Filter {
        Filter::new().address(self.address).event_signature(vec![
            Htlc::Locked::SIGNATURE_HASH,
            Htlc::Claimed::SIGNATURE_HASH,
            Htlc::Refunded::SIGNATURE_HASH,
        ])
    }
}

/// Checks that every log of a scan lies in the scanned range on the blocks read (their
/// hashes by number in `headers`), and that the logs of the range's last block are those
/// the query by its hash returned.
pub(crate) fn check_logs(
    logs: &[Log],
    end_logs: &[Log],
    first: u64,
    last: u64,
    headers: &BTreeMap<u64, Header>,
) -> Result<(), ChainError> {
    let inconsistent = |reason: String| Err(ChainError::Inconsistent { reason });
    for log in logs {
        let (Some(number), Some(hash)) = (log.block_number, log.block_hash) else {
            return inconsistent("a log without its block".into());
        };
        if log.removed {
            return inconsistent(format!("a removed log in block {number}"));
        }
        if !(first..=last).contains(&number) {
            return inconsistent(format!(
                "a log of block {number} for the range {first}..={last}"
            ));
        }
        match headers.get(&number) {
            Some(header) if header.hash == hash => {}
            Some(header) => {
                return inconsistent(format!(
                    "a log of block {number} from {hash}, but the chain's block {number} is {}: \
                     the chain moved during the scan",
                    header.hash
                ));
            }
            None => return inconsistent(format!("block {number} of a log was not read")),
        }
    }
    let key = |log: &Log| (log.transaction_hash, log.log_index);
    let from_range: BTreeSet<_> = logs
        .iter()
        .filter(|log| log.block_number == Some(last))
        .map(key)
        .collect();
    let by_hash: BTreeSet<_> = end_logs.iter().map(key).collect();
    if from_range != by_hash {
        return inconsistent(format!(
            "block {last} has {} logs by hash but {} in the range query: the endpoint's logs \
             lag its blocks",
            by_hash.len(),
            from_range.len()
        ));
    }
    Ok(())
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
