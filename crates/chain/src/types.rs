//! Values the client and a swap driver exchange: lock parameters and ids, secrets, lock
//! state, transaction outcomes, scanned events and scan cursors.

use std::fmt;

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::SolValue;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ChainError, contracts::Htlc};

/// The id of a lock: `keccak256(abi.encode(sender, recipient, token, amount, hashlock,
/// timelock))`, exactly as the contract computes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LockId(pub B256);

impl fmt::Display for LockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for LockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LockId({})", self.0)
    }
}

/// Everything that defines a lock. The contract stores only a commitment to these, so
/// `claim` and `refund` take them whole; a driver keeps them (or recovers them from the
/// `Locked` event with [`crate::HtlcClient::find_lock`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockParams {
    /// Who locks, and who alone may refund.
    pub sender: Address,
    /// Who receives the funds on claim.
    pub recipient: Address,
    /// The ERC-20 token, or [`Address::ZERO`] for the chain's native coin.
    pub token: Address,
    /// Amount in the asset's base units; never zero.
    pub amount: U256,
    /// `sha256(secret)`.
    pub hashlock: B256,
    /// Unix seconds of chain time: claims must land strictly before, refunds from then on.
    pub timelock: u64,
}

impl LockParams {
    /// The lock's id, computed offline; equal to what `lock` returns on chain.
    pub fn id(&self) -> LockId {
        LockId(keccak256(self.to_sol().abi_encode()))
    }

    /// Whether the asset is the chain's native coin rather than an ERC-20.
    pub fn is_native(&self) -> bool {
        self.token == Address::ZERO
    }

    /// The parameters as the contract's `Lock` struct (for hand-made calls).
    pub fn to_sol(&self) -> Htlc::Lock {
        Htlc::Lock {
            sender: self.sender,
            recipient: self.recipient,
            token: self.token,
            amount: self.amount,
            hashlock: self.hashlock,
            timelock: self.timelock,
        }
    }
}

/// A 32-byte swap secret, whose `sha256` is the hashlock. `Debug` does not show it, so it
/// cannot leak into logs by accident.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(B256);

impl Secret {
    /// A fresh secret from the operating system's random source.
    pub fn random() -> Result<Secret, ChainError> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).map_err(|err| ChainError::Randomness {
            reason: err.to_string(),
        })?;
        Ok(Secret(B256::from(bytes)))
    }

    /// A secret from known bytes (a stored swap, a `Claimed` event, a test).
    pub fn from_bytes(bytes: B256) -> Secret {
        Secret(bytes)
    }

    /// The secret's bytes.
    pub fn as_b256(&self) -> &B256 {
        &self.0
    }

    /// `sha256(secret)`, the hashlock the contract checks.
    pub fn hashlock(&self) -> B256 {
        B256::from_slice(&Sha256::digest(self.0))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a lock id is in its life, as the contract records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LockState {
    /// Never locked (or locked under different parameters).
    Absent,
    /// Funds are held.
    Locked,
    /// Paid to the recipient; the secret is public.
    Claimed,
    /// Paid back to the sender.
    Refunded,
}

/// What the contract stores for a lock id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockInfo {
    /// The lock's state.
    pub state: LockState,
    /// The timelock (0 when absent).
    pub timelock: u64,
    /// Block that mined the lock (0 when absent): where its `Locked` event is.
    pub lock_block: u64,
    /// Block that mined the claim or refund, if any: where its event is.
    pub settle_block: Option<u64>,
}

/// A mined transaction that succeeded, with what it cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxOutcome {
    /// Transaction hash.
    pub tx_hash: B256,
    /// Block it was mined in.
    pub block_number: u64,
    /// Gas used by the transaction.
    pub gas_used: u64,
    /// Price paid per gas unit (wei).
    pub effective_gas_price: u128,
}

impl TxOutcome {
    /// The execution fee in wei (`gas_used × effective_gas_price`). Rollups may charge a
    /// data fee on top, which this does not include.
    pub fn fee(&self) -> U256 {
        U256::from(self.gas_used) * U256::from(self.effective_gas_price)
    }
}

/// A contract deployed by [`crate::ChainClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// The new contract's address.
    pub address: Address,
    /// The deploying transaction.
    pub outcome: TxOutcome,
}

/// The result of [`crate::HtlcClient::lock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOutcome {
    /// The lock's id.
    pub id: LockId,
    /// The ERC-20 approval sent first, when the allowance was too small.
    pub approval: Option<TxOutcome>,
    /// The lock transaction.
    pub lock: TxOutcome,
}

/// An HTLC event, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum HtlcEvent {
    /// Funds were locked with these parameters.
    Locked {
        /// The lock's id (equal to `params.id()`).
        id: LockId,
        /// The lock's parameters.
        params: LockParams,
    },
    /// The lock was claimed, revealing the secret.
    Claimed {
        /// The lock's id.
        id: LockId,
        /// The secret whose sha256 is the hashlock.
        secret: Secret,
    },
    /// The lock was refunded to its sender.
    Refunded {
        /// The lock's id.
        id: LockId,
    },
}

impl HtlcEvent {
    /// The id of the lock the event is about.
    pub fn id(&self) -> LockId {
        match self {
            HtlcEvent::Locked { id, .. }
            | HtlcEvent::Claimed { id, .. }
            | HtlcEvent::Refunded { id } => *id,
        }
    }
}

/// An HTLC event with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainEvent {
    /// Block number.
    pub block_number: u64,
    /// Transaction that emitted it.
    pub tx_hash: B256,
    /// Position of the log in its block.
    pub log_index: u64,
    /// The event.
    pub event: HtlcEvent,
}

/// Where an event scan resumes: the first block not yet scanned. Persist it after handling
/// a batch's events; a restart from a stored cursor sees every later event exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanCursor {
    /// First block the next scan reads.
    pub next_block: u64,
}

impl ScanCursor {
    /// A cursor that starts at `block` (e.g. the HTLC's deployment block).
    pub fn from_block(block: u64) -> ScanCursor {
        ScanCursor { next_block: block }
    }
}

/// One bounded step of an event scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanBatch {
    /// Events in chain order (block, then log index).
    pub events: Vec<ChainEvent>,
    /// The cursor to store once the events are handled.
    pub cursor: ScanCursor,
    /// True when the scan reached the newest block it may read (more may come later).
    pub caught_up: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hashlock_is_sha256_and_debug_hides_it() {
        // sha256 of 32 zero bytes.
        let secret = Secret::from_bytes(B256::ZERO);
        assert_eq!(
            secret.hashlock().to_string(),
            "0x66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
        );
        let random = Secret::random().unwrap();
        assert_ne!(random, Secret::random().unwrap());
        assert!(!format!("{random:?}").contains(&random.as_b256().to_string()[2..10]));
    }

    #[test]
    fn lock_id_covers_every_parameter() {
        let params = LockParams {
            sender: Address::repeat_byte(1),
            recipient: Address::repeat_byte(2),
            token: Address::ZERO,
            amount: U256::from(5),
            hashlock: B256::repeat_byte(3),
            timelock: 1_000,
        };
        let id = params.id();
        let variants = [
            LockParams {
                sender: Address::repeat_byte(9),
                ..params.clone()
            },
            LockParams {
                recipient: Address::repeat_byte(9),
                ..params.clone()
            },
            LockParams {
                token: Address::repeat_byte(9),
                ..params.clone()
            },
            LockParams {
                amount: U256::from(6),
                ..params.clone()
            },
            LockParams {
                hashlock: B256::repeat_byte(9),
                ..params.clone()
            },
            LockParams {
                timelock: 1_001,
                ..params.clone()
            },
        ];
        for other in variants {
            assert_ne!(other.id(), id, "{other:?}");
        }
        // Same as Solidity's keccak256(abi.encode(...)) of six static words.
        let mut encoded = Vec::new();
        encoded.extend_from_slice(&[0u8; 12]);
        encoded.extend_from_slice(params.sender.as_slice());
        encoded.extend_from_slice(&[0u8; 12]);
        encoded.extend_from_slice(params.recipient.as_slice());
        encoded.extend_from_slice(&[0u8; 32]);
        encoded.extend_from_slice(&params.amount.to_be_bytes::<32>());
        encoded.extend_from_slice(params.hashlock.as_slice());
        encoded.extend_from_slice(&U256::from(params.timelock).to_be_bytes::<32>());
        assert_eq!(id.0, keccak256(&encoded));
    }

    #[test]
    fn params_round_trip_through_json() {
        let params = LockParams {
            sender: Address::repeat_byte(1),
            recipient: Address::repeat_byte(2),
            token: Address::repeat_byte(4),
            amount: U256::MAX,
            hashlock: B256::repeat_byte(3),
            timelock: u64::MAX,
        };
        let json = serde_json::to_string(&params).unwrap();
        assert_eq!(serde_json::from_str::<LockParams>(&json).unwrap(), params);
        let cursor = ScanCursor::from_block(42);
        let json = serde_json::to_string(&cursor).unwrap();
        assert_eq!(json, r#"{"nextBlock":42}"#);
    }
}
