//! The HTLC client: deploying or checking the contract, lock (with the ERC-20 approval),
//! claim and refund, reading a lock by id, and decoding the contract's events.

use alloy_primitives::{Address, B256, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{Filter, Log, TransactionRequest};
use alloy_sol_types::{SolCall, SolEvent, SolEventInterface};
use tracing::debug;

use super::{
    ChainClient,
    tx::{call_request, outcome},
};
use crate::{
    ChainError, ChainEvent, Deployment, HtlcEvent, LockId, LockInfo, LockOutcome, LockParams,
    LockState, Secret, SentTx, TxOutcome, contracts::Htlc,
};

impl ChainClient {
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
