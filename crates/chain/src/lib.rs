//! The chain layer of p2pdex: the HTLC contract (Solidity source and compiled artifacts in
//! `contracts/`) and a typed alloy client for it.
//!
//! - [`ChainClient`]: one per chain; connects with a chain-id check, signs locally with
//!   the trader key, reads balances, blocks and receipts, waits for confirmations.
//! - [`HtlcClient`]: lock (with ERC-20 approval), claim, refund, read a lock by id, find a
//!   lock's parameters or a claim's secret by id, scan events from a stored cursor.
//! - [`ChainError`]: every failure, HTLC rejections decoded into [`HtlcError`].
//!
//! The contract stores one slot per swap (a commitment to the lock's parameters plus its
//! state), so `claim`/`refund` take the full [`LockParams`]; see `contracts/Htlc.sol`.

mod client;
mod contracts;
mod error;
mod types;

pub use client::{ChainClient, ClientConfig, HtlcClient};
pub use contracts::{Htlc, IErc20, TestToken};
pub use error::{ChainError, HtlcError};
pub use types::{
    ChainEvent, Deployment, HtlcEvent, LockId, LockInfo, LockOutcome, LockParams, LockState,
    ScanBatch, ScanCursor, Secret, TxOutcome,
};
