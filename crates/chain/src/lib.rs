//! The chain layer of p2pdex: the HTLC contract (Solidity source and compiled artifacts in
//! `contracts/`) and a typed alloy client for it.
//!
//! - [`ChainClient`]: one per chain; connects with a chain-id check, signs locally with
//!   the trader key, reads balances, blocks and receipts, waits for confirmations, and keeps
//!   its own transactions moving until they are mined ([`SentTx`], [`TxStatus`]).
//! - [`HtlcClient`]: lock (with ERC-20 approval), claim, refund (each blocking, or
//!   `submit_*` returning a [`SentTx`]), read a lock by id, find a lock's parameters or a
//!   claim's secret by id, scan events from a stored [`ScanCursor`], reorgs included.
//! - [`ChainError`]: every failure, HTLC rejections decoded into [`HtlcError`].
//! - [`spawn`]: the event loop of one chain, driven through a cloneable [`ChainHandle`]
//!   like the network's: it connects (retrying with a growing delay), scans and reports
//!   the head and the confirmed position, reads balances, sends transactions, re-sends them
//!   with bumped fees while they are not mined, and reports it all as [`ChainLoopEvent`]s.
//!
//! Feature `test-token` (off by default; the tests, the devnet and their dev-dependencies
//! turn it on): the test ERC-20 `TestToken` (bindings with its bytecode,
//! `ChainClient::deploy_test_token`, `ChainClient::mint_test_token`, the decoding of its
//! errors). Production builds (dexd, the node) carry none of it.
//!
//! The contract stores one slot per swap (a commitment to the lock's parameters plus its
//! state), so `claim`/`refund` take the full [`LockParams`]; see `contracts/Htlc.sol`.
//!
//! # Lock ids
//!
//! `id = keccak256(abi.encode(chainId, contract, sender, recipient, token, amount, hashlock,
//! timelock))`. The chain id and the HTLC's address are part of it (and of [`LockParams`]),
//! so the two legs of a swap never share an id, even with equal terms and the HTLC at the
//! same address on both chains (as on the devnet). [`HtlcClient`] refuses parameters of
//! another chain or contract ([`ChainError::WrongHtlc`]).
//!
//! # Tokens
//!
//! Supported: the native coin, and ERC-20s whose balances change only by transfers, by
//! exactly the amount transferred; `transfer`/`transferFrom` may revert, return `true`, or
//! return nothing (USDT). `lock` measures the HTLC's balance before and after pulling the
//! tokens and refuses a token that delivers less ([`HtlcError::TokenShortfall`]):
//! fee-on-transfer tokens cannot be locked. Not supported (configure no market with them):
//! rebasing tokens (stETH, AMPL), whose balances change on their own; a negative rebase
//! would leave the HTLC short of what its locks promise. Known limit: tokens whose issuer can
//! freeze transfers (blocklists, pauses: USDC, USDT) can block a claim or a refund for as
//! long as the freeze lasts. A maker whose claim on chain X is frozen after the taker's
//! claim revealed the secret on chain Y loses the asset once T1 passes; a leg in such a
//! token is only as safe as its issuer is neutral.
//!
//! # Scanning
//!
//! [`HtlcClient::scan`] reads blocks with [`ClientConfig::scan_confirmations`] (12 by
//! default; 1 in [`ClientConfig::local`]). Its cursor holds the hashes of the last
//! [`ClientConfig::max_reorg_depth`] blocks it read. Each step checks that the last block
//! read is still on the chain and that the new blocks descend from it, reads the range's
//! logs together with its last block's logs by hash (a node whose logs lag its head fails
//! that instead of returning a short range), and checks every log against the block it
//! claims to be in. A reorg of blocks already read moves the cursor back to the first
//! changed block and is reported as a [`Reorg`]; anything inconsistent is an error and
//! skips nothing. Each [`ScanBatch`] names its last block ([`BlockRef`]: number, hash,
//! time): report that time to the swap machine after the batch's events.
//!
//! # Transactions
//!
//! Writes are estimated first (a call the contract rejects comes back decoded, and costs
//! nothing), then signed locally with the next nonce and EIP-1559 fees from
//! `eth_feeHistory`, recorded by nonce, and broadcast. While a transaction is not mined,
//! whoever waits on it, or on a later transaction of the same client (which cannot be mined
//! before it), re-sends it every [`ClientConfig::resend_interval`] at the same nonce with
//! both fee fields raised by [`ClientConfig::fee_bump_percent`] (at least the 10% nodes
//! require of a replacement, and never below the current market). A transaction stuck
//! under a fee spike, or dropped by the node, therefore cannot hold up the claims and
//! refunds behind it.
//!
//! A blocking call that waits too long fails with [`ChainError::NotMined`], carrying the
//! [`SentTx`] (sender, nonce, hash of every version). For restarts, send with a `submit_*`
//! call, store the [`SentTx`], then [`ChainClient::wait_for_tx`]; after a restart,
//! [`ChainClient::tx_status`] says whether it or a replacement was mined (a replacement
//! sent after it was stored shows as [`TxStatus::Superseded`]: read the effect from the
//! chain, e.g. [`HtlcClient::lock_info`]), and `wait_for_tx` adopts a still-pending one and
//! resumes its fee bumps.
//!
//! Constraint: one client per key per process (clones share it and are fine). Nonces come
//! from the node's pending count and the client's record, so two clients or processes
//! signing with one key can take the same nonce and replace each other's transactions.
//!
//! # Gas
//!
//! Measured on anvil (cancun rules), steady state: the HTLC already holds the asset, the
//! parties already hold it, the ERC-20 allowance is given. The `gas` integration test
//! keeps ours under budget (its figures differ by a few hundred gas from the table's, as
//! calldata costs depend on the bytes of the values). The same scenario, run by one script
//! against each design compiled by the same solc (0.8.30, via-IR, 1,000,000 runs):
//!
//! | design                                          | ETH lock |  claim | refund | ERC-20 lock |  claim | refund |
//! |-------------------------------------------------|---------:|-------:|-------:|------------:|-------:|-------:|
//! | this HTLC                                       |   48,330 | 37,416 | 36,763 |      67,850 | 45,987 | 45,334 |
//! | this HTLC before chain-bound ids, balance check |   48,417 | 37,751 | 37,058 |      66,240 | 46,476 | 45,789 |
//! | Komodo `EtomicSwap` (one slot per swap)         |   48,325 | 39,407 | 38,274 |      66,693 | 48,203 | 47,070 |
//! | chatch `HashedTimelock` (full struct)           |  141,381 | 85,747 | 59,113 |     183,243 | 96,484 | 69,844 |
//!
//! The first row is the second plus the difference the `gas` test measures between
//! the two contracts on the same calls (the ids and token calls are built in assembly, which
//! pays for the chain id and address in the id). Neither of the other designs binds its ids
//! to the chain or checks what a token delivered; that check, and the reentrancy guard it
//! needs, cost ~1,850 gas on an ERC-20 lock (~1,530 for the two `balanceOf` calls, ~325 for
//! the transient guard). The first lock of a token costs more (the HTLC's first balance of
//! it, and one `approve` by the sender, ~46k, which later locks reuse).

mod client;
mod contracts;
mod error;
mod event_loop;
mod handle;
mod outbox;
mod scanner;
mod types;

pub use client::{ChainClient, ClientConfig, HtlcClient};
#[cfg(feature = "test-token")]
pub use contracts::TestToken;
pub use contracts::{Htlc, IErc20};
pub use error::{ChainError, HtlcError};
pub use event_loop::spawn;
pub use handle::{
    BalanceReading, ChainHandle, ChainLoopConfig, ChainLoopEvent, MAX_RECONNECT_DELAY,
    ReadingClock, RpcWork, SCAN_RETRY_DELAY, TxRequest,
};
pub use types::{
    BlockRef, ChainEvent, Deployment, HTLC_GAS, HtlcEvent, HtlcGas, LockId, LockInfo, LockOutcome,
    LockParams, LockState, Reorg, ScanBatch, ScanCursor, Secret, SentTx, TxOutcome, TxStatus,
};
