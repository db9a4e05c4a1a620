//! Reads: the head and blocks, block headers and logs for the scanner (with the checks that
//! a scan's logs match the blocks read), balances, allowances and contract calls.

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
};

use alloy_network::TransactionBuilder;
use alloy_primitives::{Address, B256, U64, U256};
use alloy_provider::Provider;
use alloy_rpc_types_eth::{BlockNumberOrTag, Filter, Log, TransactionRequest};
use alloy_sol_types::SolCall;
use serde::Deserialize;

use super::ChainClient;
use crate::{BlockRef, ChainError, contracts::IErc20};

/// Most requests in flight at once (public providers rate-limit bursts).
const MAX_CONCURRENT: usize = 16;

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

impl ChainClient {
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
