//! The client: one [`ChainClient`] per chain (connection, signing account, balances, blocks,
//! transactions), and an [`HtlcClient`] for the HTLC deployed on it.

use std::{
    fmt,
    future::{Future, IntoFuture},
    sync::Arc,
    time::Duration,
};

use alloy_network::{Ethereum, EthereumWallet, ReceiptResponse, TransactionBuilder};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::{DynProvider, Provider, ProviderBuilder};
use alloy_rpc_types_eth::{
    BlockId, BlockNumberOrTag, Filter, Log, TransactionReceipt, TransactionRequest,
};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolConstructor, SolEvent, SolEventInterface};
use alloy_transport::{RpcError, TransportErrorKind};
use dex_primitives::TraderKey;
use tokio::{sync::Mutex, time::Instant};
use tracing::debug;

use crate::{
    ChainError, ChainEvent, Deployment, HtlcEvent, LockId, LockInfo, LockOutcome, LockParams,
    LockState, ScanBatch, ScanCursor, Secret, TxOutcome,
    contracts::{Htlc, IErc20, TestToken},
    error::rpc_error,
};

/// Timing and paging of a [`ChainClient`]. The defaults suit a public chain; tests and the
/// devnet, whose blocks are mined instantly, use [`ClientConfig::local`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// How often to poll for receipts and new blocks.
    pub poll_interval: Duration,
    /// Longest wait for one JSON-RPC answer.
    pub rpc_timeout: Duration,
    /// Longest wait for a sent transaction to be mined.
    pub tx_timeout: Duration,
    /// Most blocks one `eth_getLogs` covers (public RPC providers cap the range).
    pub max_scan_range: u64,
    /// Confirmations a block needs before the scanner reads it: 1 reads the latest block;
    /// more keeps events of blocks that a reorg may still drop out of the scan.
    pub scan_confirmations: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            poll_interval: Duration::from_secs(1),
            rpc_timeout: Duration::from_secs(30),
            tx_timeout: Duration::from_secs(180),
            max_scan_range: 1_000,
            scan_confirmations: 1,
        }
    }
}

impl ClientConfig {
    /// For a local node that mines on demand (anvil): fast polling, short waits.
    pub fn local() -> Self {
        ClientConfig {
            poll_interval: Duration::from_millis(10),
            rpc_timeout: Duration::from_secs(10),
            tx_timeout: Duration::from_secs(30),
            ..ClientConfig::default()
        }
    }
}

/// A connection to one chain that signs with one trader key. Cheap to clone; clones share
/// the connection and serialise their transactions.
#[derive(Clone)]
pub struct ChainClient {
    inner: Arc<Inner>,
}

struct Inner {
    provider: DynProvider<Ethereum>,
    url: String,
    chain_id: u64,
    account: Address,
    config: ClientConfig,
    /// Held from nonce lookup to submission, so concurrent sends from this client never
    /// pick the same nonce (the nonce is read from the node each time: a send that fails
    /// leaves no gap behind, unlike a cached counter).
    send_lock: Mutex<()>,
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
        let secret: B256 = key
            .to_hex_secret()
            .parse()
            .map_err(|_| ChainError::Invalid {
                what: "trader key",
                reason: "not 32 bytes of hex".into(),
            })?;
        let signer = PrivateKeySigner::from_bytes(&secret).map_err(|err| ChainError::Invalid {
            what: "trader key",
            reason: err.to_string(),
        })?;
        let account = signer.address();
        let provider = ProviderBuilder::<_, _, Ethereum>::default()
            .with_gas_estimation()
            .with_simple_nonce_management()
            .with_chain_id(expected_chain_id)
            .wallet(EthereumWallet::from(signer))
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
                url: url.to_owned(),
                chain_id: expected_chain_id,
                account,
                config,
                send_lock: Mutex::new(()),
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
        self.send_call(
            token,
            IErc20::approveCall { spender, amount }.abi_encode(),
            U256::ZERO,
        )
        .await
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
        let tx = TransactionRequest::default()
            .with_to(to)
            .with_input(input)
            .with_value(value);
        self.send(tx, "contract call")
            .await
            .map(|receipt| outcome(&receipt))
    }

    /// The receipt of `tx_hash`, if mined.
    pub async fn receipt(&self, tx_hash: B256) -> Result<Option<TxOutcome>, ChainError> {
        let receipt = self
            .rpc(
                "eth_getTransactionReceipt",
                self.provider().get_transaction_receipt(tx_hash),
            )
            .await?;
        Ok(receipt.as_ref().map(outcome))
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
            let receipt = self
                .rpc(
                    "eth_getTransactionReceipt",
                    self.provider().get_transaction_receipt(tx_hash),
                )
                .await?;
            if let Some(receipt) = receipt {
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

    fn provider(&self) -> &DynProvider<Ethereum> {
        &self.inner.provider
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

    /// Signs and sends `tx` from this account, waits for its receipt, and turns a failure
    /// into the decoded revert. Gas estimation runs first, so most reverts are caught before
    /// anything is sent (and cost nothing).
    async fn send(
        &self,
        tx: TransactionRequest,
        what: &str,
    ) -> Result<TransactionReceipt, ChainError> {
        let tx = tx.with_from(self.inner.account);
        let tx_hash = {
            let _nonce_guard = self.inner.send_lock.lock().await;
            let pending = self
                .timed(what, self.provider().send_transaction(tx.clone()))
                .await?;
            *pending.tx_hash()
        };
        let receipt = self.wait_receipt(tx_hash, what).await?;
        debug!(
            chain_id = self.inner.chain_id,
            what,
            %tx_hash,
            gas_used = receipt.gas_used(),
            success = receipt.status(),
            "transaction mined"
        );
        if receipt.status() {
            return Ok(receipt);
        }
        // Mined but reverted: the state changed between estimation and mining, usually by a
        // competing transaction (another claim of the same lock). Replaying it on the state
        // after its block reproduces such a cause whether the competitor came earlier in the
        // same block or in an earlier one; a tracing API would be exact but is not offered
        // by every node.
        let mined_in = receipt.block_number().unwrap_or_default();
        let replay = self
            .provider()
            .call(tx)
            .block(BlockId::number(mined_in))
            .await;
        Err(match replay {
            Err(err) => rpc_error(&self.inner.url, err),
            Ok(_) => ChainError::Reverted {
                reason: format!("{what}: transaction {tx_hash} failed on chain"),
            },
        })
    }

    async fn wait_receipt(
        &self,
        tx_hash: B256,
        what: &str,
    ) -> Result<TransactionReceipt, ChainError> {
        let timeout = self.inner.config.tx_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            let receipt = self
                .rpc(
                    "eth_getTransactionReceipt",
                    self.provider().get_transaction_receipt(tx_hash),
                )
                .await?;
            if let Some(receipt) = receipt {
                return Ok(receipt);
            }
            if Instant::now() >= deadline {
                return Err(ChainError::Timeout {
                    what: format!("{what}: receipt of {tx_hash}"),
                    after: timeout,
                });
            }
            tokio::time::sleep(self.inner.config.poll_interval).await;
        }
    }

    async fn logs(&self, filter: &Filter) -> Result<Vec<Log>, ChainError> {
        self.timed("eth_getLogs", self.provider().get_logs(filter))
            .await
    }
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
/// ([`HtlcClient::find_lock`], [`HtlcClient::find_secret`]) after a restart.
#[derive(Debug, Clone)]
pub struct HtlcClient {
    chain: ChainClient,
    address: Address,
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

    /// Locks `params.amount` of `params.token` for `params.recipient`. For an ERC-20 it
    /// first approves the HTLC for the maximum amount if the allowance is short (safe: the
    /// HTLC only ever pulls from the caller of `lock`, so one approval serves every later
    /// swap and saves an approval per swap). Balances are checked first so a shortfall is a
    /// typed [`ChainError::InsufficientFunds`], not a revert.
    ///
    /// `params.sender` must be this client's account; the id is `params.id()`.
    pub async fn lock(&self, params: &LockParams) -> Result<LockOutcome, ChainError> {
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
        let approval = if params.is_native() {
            None
        } else {
            let allowance = self
                .chain
                .allowance(params.token, account, self.address)
                .await?;
            if allowance < params.amount {
                if !allowance.is_zero() {
                    // Some tokens (USDT) refuse to change one non-zero allowance into another.
                    self.chain
                        .approve(params.token, self.address, U256::ZERO)
                        .await?;
                }
                Some(
                    self.chain
                        .approve(params.token, self.address, U256::MAX)
                        .await?,
                )
            } else {
                None
            }
        };
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
        let lock = self
            .chain
            .send_call(self.address, call.abi_encode(), value)
            .await?;
        let id = params.id();
        debug!(chain_id = self.chain.chain_id(), %id, gas_used = lock.gas_used, "locked");
        Ok(LockOutcome { id, approval, lock })
    }

    /// Claims the lock for its recipient with `secret` (any account may send it).
    pub async fn claim(
        &self,
        params: &LockParams,
        secret: &Secret,
    ) -> Result<TxOutcome, ChainError> {
        let call = Htlc::claimCall {
            params: params.to_sol(),
            secret: *secret.as_b256(),
        };
        self.chain
            .send_call(self.address, call.abi_encode(), U256::ZERO)
            .await
    }

    /// Refunds the lock to its sender (this client's account must be the sender).
    pub async fn refund(&self, params: &LockParams) -> Result<TxOutcome, ChainError> {
        let call = Htlc::refundCall {
            params: params.to_sol(),
        };
        self.chain
            .send_call(self.address, call.abi_encode(), U256::ZERO)
            .await
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

    /// Reads the HTLC events of one bounded block range from `cursor`: at most
    /// `max_scan_range` blocks, never past the newest block with `scan_confirmations`.
    /// Store the returned cursor once its events are handled; call again until
    /// `caught_up`, and later for new blocks.
    pub async fn scan(&self, cursor: ScanCursor) -> Result<ScanBatch, ChainError> {
        let config = self.chain.config();
        let latest = self.chain.block_number().await?;
        let newest_readable = latest.checked_sub(config.scan_confirmations.max(1) - 1);
        let Some(newest_readable) = newest_readable.filter(|&n| n >= cursor.next_block) else {
            return Ok(ScanBatch {
                events: Vec::new(),
                cursor,
                caught_up: true,
            });
        };
        let last = newest_readable.min(
            cursor
                .next_block
                .saturating_add(config.max_scan_range.max(1) - 1),
        );
        let filter = Filter::new()
            .address(self.address)
            .event_signature(vec![
                Htlc::Locked::SIGNATURE_HASH,
                Htlc::Claimed::SIGNATURE_HASH,
                Htlc::Refunded::SIGNATURE_HASH,
            ])
            .from_block(cursor.next_block)
            .to_block(last);
        let logs = self.chain.logs(&filter).await?;
        let events = logs.iter().filter_map(decode_log).collect();
        Ok(ScanBatch {
            events,
            cursor: ScanCursor {
                next_block: last + 1,
            },
            caught_up: last == newest_readable,
        })
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
            .find_map(decode_log)
            .ok_or_else(|| ChainError::Rpc {
                message: format!("no event {signature} for lock {id} in block {block}"),
            })
    }
}

/// Decodes one HTLC log; `None` for logs of other contracts or events, and removed logs.
fn decode_log(log: &Log) -> Option<ChainEvent> {
    if log.removed {
        return None;
    }
    let event = match Htlc::HtlcEvents::decode_log(&log.inner).ok()?.data {
        Htlc::HtlcEvents::Locked(locked) => {
            let params = LockParams {
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
        tx_hash: log.transaction_hash?,
        log_index: log.log_index?,
        event,
    })
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
}
