//! `/p2pdex/take/1` and `/p2pdex/swap/1`: a taker asks a maker to trade against one of its
//! orders, the maker reserves and answers, and during the swap both send hints.
//!
//! Every message a peer acts on is an EIP-712 struct of the p2pdex domain signed by a trader
//! key: the take request by the taker order's maker, the answer by the maker order's maker,
//! hints by the party sending them. The node verifies the signature against the order it
//! already knows, never against a key the message names.

use dex_primitives::{
    Address, B256, OrderId, Signature, SignedOrder, TraderKey, UnixMillis, eip712, recover_signer,
};
use serde::{Deserialize, Serialize};

use crate::{Error, MAX_REQUEST_SIZE, WireMessage};

/// Solidity declarations of the signed take and swap structs.
#[allow(missing_docs, missing_debug_implementations, unreachable_pub)]
pub mod sol {
    alloy_sol_types::sol! {
        /// A taker's request to trade `quantity` lots against a maker order.
        #[derive(Debug, PartialEq, Eq)]
        struct TakeRequest {
            bytes32 makerOrderId;
            bytes32 takerOrderId;
            uint64 quantity;
            bytes32 hashlock;
            address takerHtlc;
            address makerHtlc;
            uint64 takerLockSecs;
            uint64 timestamp;
        }

        /// The maker's acceptance: the quantity is reserved until `reservedUntil`.
        #[derive(Debug, PartialEq, Eq)]
        struct TakeAccept {
            bytes32 requestId;
            bytes32 swapId;
            uint64 quantity;
            uint64 reservedUntil;
            uint64 timestamp;
        }

        /// The maker's refusal.
        #[derive(Debug, PartialEq, Eq)]
        struct TakeReject {
            bytes32 requestId;
            uint8 reason;
            uint64 timestamp;
        }

        /// A hint during a swap: a lock id, the secret, or an abort.
        #[derive(Debug, PartialEq, Eq)]
        struct SwapNote {
            bytes32 swapId;
            uint8 kind;
            bytes32 data;
            uint64 timestamp;
        }
    }
}

/// A taker's request (the EIP-712 `TakeRequest` message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TakeRequest {
    /// The maker order to trade against.
    pub maker_order_id: OrderId,
    /// The taker's own order (sent alongside, signed).
    pub taker_order_id: OrderId,
    /// Lots to trade.
    pub quantity: u64,
    /// sha256 of the taker's secret.
    pub hashlock: B256,
    /// The HTLC contract the taker locks in (on the chain of the asset the taker gives).
    pub taker_htlc: Address,
    /// The HTLC contract the maker must lock in (on the chain of the asset the maker gives).
    pub maker_htlc: Address,
    /// The taker's timelock duration T1 − lock time, in chain seconds.
    pub taker_lock_secs: u64,
    /// When the taker signed it (local ms); bounds replays.
    pub timestamp: UnixMillis,
}

impl TakeRequest {
    fn to_sol(self) -> sol::TakeRequest {
        sol::TakeRequest {
            makerOrderId: self.maker_order_id.0,
            takerOrderId: self.taker_order_id.0,
            quantity: self.quantity,
            hashlock: self.hashlock,
            takerHtlc: self.taker_htlc,
            makerHtlc: self.maker_htlc,
            takerLockSecs: self.taker_lock_secs,
            timestamp: self.timestamp,
        }
    }

    /// The request id: its EIP-712 signing digest. The swap id is derived from it, so a
    /// retransmitted request maps to the same swap.
    pub fn id(&self) -> B256 {
        eip712::signing_digest(&self.to_sol())
    }

    /// The swap this request starts if accepted: `keccak256("p2pdex swap" ‖ request id)`.
    pub fn swap_id(&self) -> B256 {
        let mut data = Vec::with_capacity(43);
        data.extend_from_slice(b"p2pdex swap");
        data.extend_from_slice(self.id().as_slice());
        alloy_primitives::keccak256(data)
    }
}

/// Why a maker refuses a take. Stable codes: they are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[repr(u8)]
pub enum RejectReason {
    /// The maker order is not open here (filled, cancelled, expired, unknown).
    OrderNotOpen = 1,
    /// Less is available than asked (others reserved or took it first).
    InsufficientQuantity = 2,
    /// The quantity is below the maker order's minimum fill.
    BelowMinFill = 3,
    /// The taker order does not cross the maker order's price, or is not its opposite side.
    PriceMismatch = 4,
    /// The taker order or the request is invalid (signature, rules, time).
    InvalidRequest = 5,
    /// The HTLC contracts or timelock differ from this node's configuration.
    TermsMismatch = 6,
    /// A chain of the market is unreachable from the maker's node.
    ChainUnavailable = 7,
    /// Too many requests from this taker.
    RateLimited = 8,
    /// The maker's funds do not cover the trade.
    InsufficientFunds = 9,
    /// Anything else (see the detail text).
    Other = 255,
}

impl RejectReason {
    /// Decodes a signed reason byte (unknown codes read as [`RejectReason::Other`]).
    pub fn from_code(code: u8) -> RejectReason {
        match code {
            1 => RejectReason::OrderNotOpen,
            2 => RejectReason::InsufficientQuantity,
            3 => RejectReason::BelowMinFill,
            4 => RejectReason::PriceMismatch,
            5 => RejectReason::InvalidRequest,
            6 => RejectReason::TermsMismatch,
            7 => RejectReason::ChainUnavailable,
            8 => RejectReason::RateLimited,
            9 => RejectReason::InsufficientFunds,
            _ => RejectReason::Other,
        }
    }
}

/// The maker's acceptance (the EIP-712 `TakeAccept` message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TakeAccept {
    /// The request answered.
    pub request_id: B256,
    /// The swap started.
    pub swap_id: B256,
    /// Lots reserved (equal to the request's quantity).
    pub quantity: u64,
    /// Maker-local ms until which the reservation holds; the taker must lock before.
    pub reserved_until: UnixMillis,
    /// When the maker signed it.
    pub timestamp: UnixMillis,
}

impl TakeAccept {
    /// The EIP-712 signing digest.
    pub fn digest(&self) -> B256 {
        eip712::signing_digest(&sol::TakeAccept {
            requestId: self.request_id,
            swapId: self.swap_id,
            quantity: self.quantity,
            reservedUntil: self.reserved_until,
            timestamp: self.timestamp,
        })
    }
}

/// The maker's refusal (the EIP-712 `TakeReject` message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TakeReject {
    /// The request answered.
    pub request_id: B256,
    /// Why.
    pub reason: RejectReason,
    /// When the maker signed it.
    pub timestamp: UnixMillis,
}

impl TakeReject {
    /// The EIP-712 signing digest.
    pub fn digest(&self) -> B256 {
        eip712::signing_digest(&sol::TakeReject {
            requestId: self.request_id,
            reason: self.reason as u8,
            timestamp: self.timestamp,
        })
    }
}

/// A take request as sent: the signed request and the taker's signed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
// Not `non_exhaustive`: a new request kind is a new protocol version (`/p2pdex/take/2`).
pub enum TakeMessage {
    /// Trade against a maker order.
    Take {
        /// The request.
        request: TakeRequest,
        /// By the taker order's maker.
        signature: Signature,
        /// The taker's order, which the maker verifies like any order.
        taker_order: SignedOrder,
    },
}

impl WireMessage for TakeMessage {
    const MAX_SIZE: usize = MAX_REQUEST_SIZE;
}

/// The maker's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum TakeAnswer {
    /// Reserved: the swap starts.
    Accepted {
        /// The acceptance.
        accept: TakeAccept,
        /// By the maker order's maker.
        signature: Signature,
    },
    /// Refused.
    Rejected {
        /// The refusal.
        reject: TakeReject,
        /// By the maker order's maker.
        signature: Signature,
        /// Human-readable detail (unsigned, for logs; at most 200 characters are kept).
        detail: String,
    },
}

impl WireMessage for TakeAnswer {
    const MAX_SIZE: usize = MAX_REQUEST_SIZE;
}

/// What a swap hint carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[repr(u8)]
pub enum NoteKind {
    /// `data` is the id of the sender's lock, now on chain.
    Locked = 1,
    /// `data` is the secret.
    Secret = 2,
    /// The sender gives up before locking; `data` is zero.
    Abort = 3,
}

/// A swap hint (the EIP-712 `SwapNote` message). Hints make a swap faster; the receiver
/// checks the chain before acting on any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwapNote {
    /// The swap.
    pub swap_id: B256,
    /// What it says.
    pub kind: NoteKind,
    /// Lock id, secret, or zero.
    pub data: B256,
    /// When it was signed.
    pub timestamp: UnixMillis,
}

impl SwapNote {
    /// The EIP-712 signing digest.
    pub fn digest(&self) -> B256 {
        eip712::signing_digest(&sol::SwapNote {
            swapId: self.swap_id,
            kind: self.kind as u8,
            data: self.data,
            timestamp: self.timestamp,
        })
    }
}

/// A swap hint as sent on `/p2pdex/swap/1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
// Not `non_exhaustive`: a new hint kind is a `NoteKind`; a new message is `/p2pdex/swap/2`.
pub enum SwapMessage {
    /// A signed hint.
    Note {
        /// The hint.
        note: SwapNote,
        /// By the sending party's trader key.
        signature: Signature,
    },
}

impl WireMessage for SwapMessage {
    const MAX_SIZE: usize = MAX_REQUEST_SIZE;
}

/// The answer to a hint: received (or not understood).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
#[non_exhaustive]
pub enum SwapAck {
    /// Received; the receiver will check the chain.
    Ack,
    /// Not for a swap the receiver knows, or not signed by its counterparty.
    Unknown,
}

impl WireMessage for SwapAck {
    const MAX_SIZE: usize = MAX_REQUEST_SIZE;
}

/// Signs and builds a take request.
pub fn sign_take(request: TakeRequest, taker_order: SignedOrder, key: &TraderKey) -> TakeMessage {
    TakeMessage::Take {
        signature: key.sign_digest(&request.id()),
        request,
        taker_order,
    }
}

/// Signs an acceptance.
pub fn sign_accept(accept: TakeAccept, key: &TraderKey) -> TakeAnswer {
    TakeAnswer::Accepted {
        signature: key.sign_digest(&accept.digest()),
        accept,
    }
}

/// Signs a refusal.
pub fn sign_reject(reject: TakeReject, detail: &str, key: &TraderKey) -> TakeAnswer {
    TakeAnswer::Rejected {
        signature: key.sign_digest(&reject.digest()),
        reject,
        detail: detail.chars().take(200).collect(),
    }
}

/// Signs a swap hint.
pub fn sign_note(note: SwapNote, key: &TraderKey) -> SwapMessage {
    SwapMessage::Note {
        signature: key.sign_digest(&note.digest()),
        note,
    }
}

/// Checks that `signature` over `digest` is by `expected`.
pub fn check_signer(
    what: &'static str,
    digest: &B256,
    signature: &Signature,
    expected: Address,
) -> Result<(), Error> {
    let signer =
        recover_signer(digest, signature).map_err(|source| Error::Invalid { what, source })?;
    if signer != expected {
        return Err(Error::Invalid {
            what,
            source: dex_primitives::Error::SignerMismatch { signer, expected },
        });
    }
    Ok(())
}

impl TakeAnswer {
    /// Checks the answer is by `maker` and answers `request_id`.
    pub fn verify(&self, request_id: &B256, maker: Address) -> Result<(), Error> {
        let (answered, digest, signature) = match self {
            TakeAnswer::Accepted { accept, signature } => {
                (accept.request_id, accept.digest(), signature)
            }
            TakeAnswer::Rejected {
                reject, signature, ..
            } => (reject.request_id, reject.digest(), signature),
        };
        if &answered != request_id {
            return Err(Error::Malformed {
                reason: format!("answer is for request {answered}, not {request_id}"),
            });
        }
        check_signer("take answer", &digest, signature, maker)
    }
}

impl RejectReason {
    /// A stable label for logs and counters.
    pub fn label(self) -> &'static str {
        match self {
            RejectReason::OrderNotOpen => "order_not_open",
            RejectReason::InsufficientQuantity => "insufficient_quantity",
            RejectReason::BelowMinFill => "below_min_fill",
            RejectReason::PriceMismatch => "price_mismatch",
            RejectReason::InvalidRequest => "invalid_request",
            RejectReason::TermsMismatch => "terms_mismatch",
            RejectReason::ChainUnavailable => "chain_unavailable",
            RejectReason::RateLimited => "rate_limited",
            RejectReason::InsufficientFunds => "insufficient_funds",
            RejectReason::Other => "other",
        }
    }
}
