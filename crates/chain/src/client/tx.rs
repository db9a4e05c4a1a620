//! The transaction lifecycle: estimation, nonces, signing, broadcasting, tracking in the
//! outbox, re-sending with fee bumps, receipts and confirmations, and decoding why a mined
//! transaction failed. See the crate docs (# Transactions).

use std::time::Duration;

use alloy_network::{
    Ethereum, NetworkTransactionBuilder, ReceiptResponse, TransactionBuilder,
    eip2718::Encodable2718,
};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{BlockId, Transaction, TransactionReceipt, TransactionRequest};
use alloy_sol_types::SolCall;
use alloy_transport::RpcError;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::ChainClient;
use crate::{
    ChainError, Deployment, SentTx, TxOutcome, TxStatus,
    contracts::IErc20,
    error::rpc_error,
    outbox::{Fees, bumped},
};

/// Polls a waiter tolerates between seeing its nonce used and finding the receipt of one of
/// its versions, before it concludes that another transaction took the nonce (receipts can
/// trail the account nonce briefly on load-balanced endpoints).
const RECEIPT_GRACE_POLLS: u32 = 3;

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
    pub(super) async fn mined_nonce(&self) -> Result<u64, ChainError> {
        self.rpc(
            "eth_getTransactionCount",
            self.provider()
                .get_transaction_count(self.inner.account)
                .latest(),
        )
        .await
    }

    /// The account's nonce counting the node's pending pool.
    pub(super) async fn pending_nonce(&self) -> Result<u64, ChainError> {
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
    pub(super) async fn send(
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

    /// `sent` with every version of it this client has sent since.
    pub(crate) fn snapshot(&self, sent: &SentTx) -> SentTx {
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
            if let Some(receipt) = self
                .poll_mined(sent, what, &mut polls_without_receipt)
                .await?
            {
                return Ok(receipt);
            }
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

    /// One round of waiting for `sent`: its receipt if a version of it is mined (successful
    /// or not); otherwise re-sends it, and the transactions before it, when due, and
    /// returns `None`. `polls_without_receipt` carries, from round to round, how often its
    /// nonce was seen used without a receipt of any of its versions: past
    /// [`RECEIPT_GRACE_POLLS`] another transaction took the nonce ([`ChainError::TxGone`]).
    pub(crate) async fn poll_mined(
        &self,
        sent: &SentTx,
        what: &str,
        polls_without_receipt: &mut u32,
    ) -> Result<Option<TransactionReceipt>, ChainError> {
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
                return Ok(Some(receipt));
            }
            *polls_without_receipt += 1;
            if *polls_without_receipt > RECEIPT_GRACE_POLLS {
                let sent = self.snapshot(sent);
                self.outbox().finish(sent.nonce);
                return Err(ChainError::TxGone {
                    sent,
                    nonce_used: true,
                });
            }
        }
        self.resend_due(sent.nonce, mined_nonce).await;
        Ok(None)
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
    pub(crate) async fn check_receipt(
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
}

pub(super) fn call_request(to: Address, input: Vec<u8>, value: U256) -> TransactionRequest {
    TransactionRequest::default()
        .with_to(to)
        .with_input(input)
        .with_value(value)
}

pub(super) fn outcome(receipt: &TransactionReceipt) -> TxOutcome {
    TxOutcome {
        tx_hash: receipt.transaction_hash,
        block_number: receipt.block_number().unwrap_or_default(),
        gas_used: receipt.gas_used(),
        effective_gas_price: receipt.effective_gas_price(),
    }
}
