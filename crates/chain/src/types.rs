//! Values the client and a swap driver exchange: lock parameters and ids, secrets, lock
//! state, transactions sent and their outcomes, scanned events, blocks and scan cursors.

use std::fmt;

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::SolValue;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ChainError, contracts::Htlc};

/// The id of a lock: `keccak256(abi.encode(chainId, contract, sender, recipient, token,
/// amount, hashlock, timelock))`, exactly as the contract computes it. It names one lock on
/// one chain's HTLC: the same terms on another chain or contract have another id.
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

/// Everything that defines a lock, including where it lives. The contract stores only a
/// commitment to these, so `claim` and `refund` take them whole; a driver keeps them (or
/// recovers them from the `Locked` event with [`crate::HtlcClient::find_lock`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockParams {
    /// The chain the lock lives on (`block.chainid`).
    pub chain_id: u64,
    /// The HTLC contract holding it (`address(this)`).
    pub contract: Address,
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
    /// The lock's id, computed offline; equal to what `lock` returns on chain
    /// `chain_id` at `contract`, and to nothing any other chain or contract computes.
    pub fn id(&self) -> LockId {
        let encoded = (U256::from(self.chain_id), self.contract, self.to_sol()).abi_encode();
        LockId(keccak256(encoded))
    }

    /// Whether the asset is the chain's native coin rather than an ERC-20.
    pub fn is_native(&self) -> bool {
        self.token == Address::ZERO
    }

    /// The parameters as the contract's `Lock` struct, which leaves out the chain and the
    /// contract (for hand-made calls).
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

/// A mined transaction, with what it cost. Returned for transactions that succeeded, except
/// in [`TxStatus::Mined`], which says whether it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxOutcome {
    /// Hash of the version that was mined (after a fee bump, not the first one sent).
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

/// A transaction this client signed and sent, as a driver stores it to find the
/// transaction again, also after a restart: every version sent (the client re-sends a
/// transaction that is not mined in time at the same nonce with higher fees, which changes
/// its hash) shares the sender and the nonce.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentTx {
    /// The signing account.
    pub from: Address,
    /// The account nonce every version uses: once the chain has a transaction of `from` with
    /// this nonce, no other version can be mined.
    pub nonce: u64,
    /// Hashes of the versions sent so far, oldest first (never empty).
    pub tx_hashes: Vec<B256>,
}

impl SentTx {
    /// The newest version's hash.
    pub fn latest_hash(&self) -> B256 {
        self.tx_hashes.last().copied().unwrap_or_default()
    }
}

/// Where a [`SentTx`] stands, from [`crate::ChainClient::tx_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum TxStatus {
    /// One of its versions is mined (the outcome names which).
    Mined {
        /// The mined version.
        outcome: TxOutcome,
        /// False if it reverted.
        succeeded: bool,
    },
    /// Not mined yet: the node holds a version, or this client does and re-sends it.
    Pending,
    /// Its nonce is unused, and neither the node nor this client holds any version: it will
    /// not be mined unless it is sent again.
    Dropped,
    /// Its nonce was used by a transaction that is none of the versions known here: a fee
    /// bump made after the [`SentTx`] was stored (before a restart), or another signer
    /// with the same key (unsupported). Whether it did what it should must be read from the
    /// chain (for the HTLC: [`crate::HtlcClient::lock_info`]).
    Superseded,
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
    /// Hash of that block (after a reorg, an event may come again from another block).
    pub block_hash: B256,
    /// Transaction that emitted it.
    pub tx_hash: B256,
    /// Position of the log in its block.
    pub log_index: u64,
    /// The event.
    pub event: HtlcEvent,
}

/// The most gas each kind of HTLC transaction may use, for the checks that a trader can pay
/// for a swap's transactions before it trades. `tests/it/gas.rs` measures the steady state
/// (lock 48,330 / claim 37,788 / refund 36,775 gas for the native coin, 67,850 / 46,359 /
/// 45,346 for an ERC-20); a storage slot written for the first time (the HTLC's first
/// balance of a token, a recipient's first balance of it) adds up to 22,100 each, and an
/// ERC-20 needs an approval first. These bounds cover all of that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HtlcGas {
    /// An ERC-20 `approve` of the HTLC.
    pub approve: u64,
    /// A `lock`.
    pub lock: u64,
    /// A `claim`.
    pub claim: u64,
    /// A `refund`.
    pub refund: u64,
}

/// See [`HtlcGas`].
pub const HTLC_GAS: HtlcGas = HtlcGas {
    approve: 60_000,
    lock: 120_000,
    claim: 90_000,
    refund: 90_000,
};

/// A block, as the scanner reports the last one it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Block timestamp (unix seconds): the chain's time as of this block.
    pub timestamp: u64,
}

/// Where an event scan resumes, and what it has read: the hashes of the last blocks it
/// scanned (at most [`crate::ClientConfig::max_reorg_depth`]), so that the next scan can
/// tell whether the chain still contains them and, if a reorg replaced some, where to
/// resume. Persist it after handling a batch's events; a restart from a stored cursor sees
/// every later event once (and again only after a [`Reorg`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanCursor {
    /// The block the scan started from: nothing below it is ever read.
    start_block: u64,
    /// First block the next scan reads.
    next_block: u64,
    /// Hashes of the blocks just below `next_block`, oldest first: the last one is block
    /// `next_block - 1`'s.
    #[serde(default)]
    recent_hashes: Vec<B256>,
}

impl ScanCursor {
    /// A cursor that starts at `block` (e.g. the HTLC's deployment block, or the block a
    /// swap started at). Its first scan checks nothing below `block`.
    pub fn from_block(block: u64) -> ScanCursor {
        ScanCursor {
            start_block: block,
            next_block: block,
            recent_hashes: Vec::new(),
        }
    }

    /// The block the next scan reads first.
    pub fn next_block(&self) -> u64 {
        self.next_block
    }

    /// The block the scan started from.
    pub fn start_block(&self) -> u64 {
        self.start_block
    }

    /// The number and hash of the last block scanned, if any.
    pub fn last_scanned(&self) -> Option<(u64, B256)> {
        let hash = *self.recent_hashes.last()?;
        Some((self.next_block.checked_sub(1)?, hash))
    }

    /// The cursor as a scan uses it: at most `depth` hashes, none below the start block
    /// (a stored cursor is outside input).
    pub(crate) fn normalised(&self, depth: u64) -> ScanCursor {
        let start_block = self.start_block.min(self.next_block);
        let span = self.next_block - start_block;
        let keep = usize::try_from(span.min(depth.max(1))).unwrap_or(usize::MAX);
        let skip = self.recent_hashes.len().saturating_sub(keep);
        ScanCursor {
            start_block,
            next_block: self.next_block,
            recent_hashes: self.recent_hashes[skip..].to_vec(),
        }
    }

    /// The number of the oldest block whose hash the cursor holds (`next_block` if none).
    pub(crate) fn oldest_known(&self) -> u64 {
        self.next_block
            .saturating_sub(self.recent_hashes.len() as u64)
    }

    pub(crate) fn recent_hashes(&self) -> &[B256] {
        &self.recent_hashes
    }

    /// The cursor after a scan up to `last_block` whose last blocks had the hashes `tail`
    /// (oldest first, ending with `last_block`'s), keeping at most `depth` hashes. When the
    /// tail starts at `next_block` the hashes join those already held; otherwise (a range
    /// longer than `depth`) the tail replaces them.
    pub(crate) fn advanced(&self, last_block: u64, tail: &[B256], depth: u64) -> ScanCursor {
        let tail_first = (last_block + 1).saturating_sub(tail.len() as u64);
        let mut recent_hashes = if tail_first == self.next_block {
            let mut joined = self.recent_hashes.clone();
            joined.extend_from_slice(tail);
            joined
        } else {
            tail.to_vec()
        };
        let keep = usize::try_from(depth.max(1)).unwrap_or(usize::MAX);
        if recent_hashes.len() > keep {
            recent_hashes.drain(..recent_hashes.len() - keep);
        }
        ScanCursor {
            start_block: self.start_block,
            next_block: last_block + 1,
            recent_hashes,
        }
    }

    /// The cursor rewound to just after block `number`, the newest block whose hash it holds
    /// that is still on the chain (`oldest_known() <= number < next_block`).
    pub(crate) fn rewound_after(&self, number: u64) -> ScanCursor {
        let oldest = self.oldest_known();
        let keep = usize::try_from(number + 1 - oldest)
            .unwrap_or(usize::MAX)
            .min(self.recent_hashes.len());
        ScanCursor {
            start_block: self.start_block,
            next_block: number + 1,
            recent_hashes: self.recent_hashes[..keep].to_vec(),
        }
    }
}

/// Blocks that earlier batches had read were replaced (a chain reorganisation deeper than
/// the confirmations waited for). The cursor was moved back to the first changed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reorg {
    /// The first block that is no longer the one read before: events earlier batches
    /// delivered from this block on may be gone or moved. Those still on the chain are
    /// delivered again, from this block on, by the next batches; re-evaluate what depended
    /// on the others (for the HTLC, [`crate::HtlcClient::lock_info`] tells the truth).
    pub first_changed_block: u64,
    /// The last block scanned before the rewind.
    pub previous_last_block: u64,
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
    /// The last block scanned, which the cursor now stands after: every event up to and
    /// including it has been delivered, by this batch or an earlier one. Its timestamp is
    /// the chain time to report once this batch's events are handled (never before them).
    /// `None` only while a cursor has scanned no block yet.
    pub last_block: Option<BlockRef>,
    /// Set when the scan found blocks it had read replaced and rewound instead of reading
    /// further; such a batch has no events.
    pub reorg: Option<Reorg>,
    /// The chain's head when the step read it: newer than `last_block` by the scan
    /// confirmations less one. Its time is the chain's clock for deadlines (what a
    /// transaction sent now is judged against), and confirmations count to it. `None` in a
    /// rewinding batch.
    pub head: Option<BlockRef>,
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

    fn sample_params() -> LockParams {
        LockParams {
            chain_id: 31_337,
            contract: Address::repeat_byte(8),
            sender: Address::repeat_byte(1),
            recipient: Address::repeat_byte(2),
            token: Address::ZERO,
            amount: U256::from(5),
            hashlock: B256::repeat_byte(3),
            timelock: 1_000,
        }
    }

    #[test]
    fn lock_id_covers_every_parameter_and_the_chain_and_contract() {
        let params = sample_params();
        let id = params.id();
        let variants = [
            LockParams {
                chain_id: 31_338,
                ..params.clone()
            },
            LockParams {
                contract: Address::repeat_byte(9),
                ..params.clone()
            },
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
        // Same as Solidity's keccak256(abi.encode(block.chainid, address(this), ...)) of
        // eight static words.
        let mut encoded = Vec::new();
        encoded.extend_from_slice(&U256::from(params.chain_id).to_be_bytes::<32>());
        encoded.extend_from_slice(&[0u8; 12]);
        encoded.extend_from_slice(params.contract.as_slice());
        encoded.extend_from_slice(&[0u8; 12]);
        encoded.extend_from_slice(params.sender.as_slice());
        encoded.extend_from_slice(&[0u8; 12]);
        encoded.extend_from_slice(params.recipient.as_slice());
        encoded.extend_from_slice(&[0u8; 32]);
        encoded.extend_from_slice(&params.amount.to_be_bytes::<32>());
        encoded.extend_from_slice(params.hashlock.as_slice());
        encoded.extend_from_slice(&U256::from(params.timelock).to_be_bytes::<32>());
        assert_eq!(encoded.len(), 8 * 32);
        assert_eq!(id.0, keccak256(&encoded));
    }

    #[test]
    fn params_and_cursors_round_trip_through_json() {
        let params = LockParams {
            token: Address::repeat_byte(4),
            amount: U256::MAX,
            timelock: u64::MAX,
            ..sample_params()
        };
        let json = serde_json::to_string(&params).unwrap();
        assert!(json.contains(r#""chainId":31337"#), "{json}");
        assert_eq!(serde_json::from_str::<LockParams>(&json).unwrap(), params);

        let cursor = ScanCursor::from_block(42).advanced(
            44,
            &[
                B256::repeat_byte(1),
                B256::repeat_byte(2),
                B256::repeat_byte(3),
            ],
            64,
        );
        let json = serde_json::to_string(&cursor).unwrap();
        assert_eq!(serde_json::from_str::<ScanCursor>(&json).unwrap(), cursor);
        // A cursor stored before hashes were kept still reads, as a fresh one.
        let old: ScanCursor = serde_json::from_str(r#"{"startBlock":7,"nextBlock":9}"#).unwrap();
        assert_eq!((old.next_block(), old.last_scanned()), (9, None));
    }

    #[test]
    fn a_cursor_keeps_the_hashes_of_the_last_blocks_up_to_the_depth() {
        let hash = |n: u8| B256::repeat_byte(n);
        let start = ScanCursor::from_block(10);
        assert_eq!(start.last_scanned(), None);
        assert_eq!(start.oldest_known(), 10);

        // Blocks 10..=12, then 13..=14: consecutive, so the hashes join.
        let cursor = start.advanced(12, &[hash(10), hash(11), hash(12)], 4);
        let cursor = cursor.advanced(14, &[hash(13), hash(14)], 4);
        assert_eq!(cursor.next_block(), 15);
        assert_eq!(cursor.last_scanned(), Some((14, hash(14))));
        assert_eq!(
            cursor.recent_hashes(),
            &[hash(11), hash(12), hash(13), hash(14)]
        );
        assert_eq!(cursor.oldest_known(), 11);

        // A long range brings only the hashes of its last blocks.
        let long = cursor.advanced(100, &[hash(99), hash(100)], 4);
        assert_eq!(long.recent_hashes(), &[hash(99), hash(100)]);
        assert_eq!(long.oldest_known(), 99);

        // Rewinding keeps the hashes up to the block resumed after.
        let rewound = cursor.rewound_after(12);
        assert_eq!(rewound.next_block(), 13);
        assert_eq!(rewound.recent_hashes(), &[hash(11), hash(12)]);
        assert_eq!(rewound.start_block(), 10);
    }
}
