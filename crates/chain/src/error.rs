//! The chain client's errors: what went wrong, with the values that matter, so a swap
//! driver can decide (retry, wait, give up) without parsing strings.

use std::time::Duration;

use alloy_primitives::{Address, Bytes, U256, hex};
use alloy_sol_types::{Revert, SolError, SolInterface};
use alloy_transport::{RpcError, TransportErrorKind};

use crate::{LockId, SentTx, contracts::Htlc};

/// Everything that can go wrong talking to a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The RPC endpoint could not be reached or answered with something that is not
    /// JSON-RPC. Usually worth retrying later.
    #[error("RPC endpoint {url} unreachable: {reason}")]
    Unreachable {
        /// The endpoint.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// The endpoint serves another chain than configured: nothing may be sent to it.
    #[error("wrong chain at {url}: expected chain id {expected}, the node reports {actual}")]
    WrongChain {
        /// The endpoint.
        url: String,
        /// The configured chain id.
        expected: u64,
        /// The chain id the node reports.
        actual: u64,
    },
    /// The address holds no contract, or not the HTLC this crate was built with.
    #[error("no HTLC contract matching this build at {address}")]
    NotOurHtlc {
        /// The address checked.
        address: Address,
    },
    /// The HTLC contract rejected the call with one of its custom errors.
    #[error("HTLC rejected the call: {0}")]
    Htlc(#[from] HtlcError),
    /// Some other revert (a token's error, a panic, a revert string).
    #[error("transaction reverted: {reason}")]
    Reverted {
        /// The decoded reason, or the raw revert data in hex.
        reason: String,
    },
    /// The account cannot pay for what it asked (the asset, or the gas).
    #[error(
        "insufficient funds: {account} needs {} of asset {asset}, has {available}",
        needed.map_or_else(|| "more (value + gas)".to_owned(), |needed| needed.to_string())
    )]
    InsufficientFunds {
        /// The paying account.
        account: Address,
        /// The asset short: a token, or [`Address::ZERO`] for the native coin.
        asset: Address,
        /// What is needed, when known (the node reports native shortfalls without it).
        needed: Option<U256>,
        /// The balance at the time of the check.
        available: U256,
    },
    /// The lock's sender is not the account this client signs for.
    #[error("lock sender {sender} is not this client's account {signer}")]
    SenderMismatch {
        /// `LockParams::sender`.
        sender: Address,
        /// The client's account.
        signer: Address,
    },
    /// The lock parameters name another chain or HTLC contract than the client's.
    #[error(
        "lock parameters are for the HTLC {contract} on chain {chain_id}, this client uses \
         {client_contract} on chain {client_chain_id}"
    )]
    WrongHtlc {
        /// `LockParams::chain_id`.
        chain_id: u64,
        /// `LockParams::contract`.
        contract: Address,
        /// The client's chain.
        client_chain_id: u64,
        /// The client's HTLC.
        client_contract: Address,
    },
    /// Waited too long for a node answer or confirmations.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        after: Duration,
    },
    /// A transaction was sent but not mined within the wait. It is not abandoned: the client
    /// keeps re-sending it with higher fees while anything waits on it or on a later one;
    /// store `sent` and ask again with [`crate::ChainClient::wait_for_tx`] or
    /// [`crate::ChainClient::tx_status`] rather than sending the same thing twice.
    #[error(
        "{what}: transaction {} (nonce {}) not mined after {after:?}",
        sent.latest_hash(),
        sent.nonce
    )]
    NotMined {
        /// What the transaction does.
        what: String,
        /// The transaction: its nonce and every version sent so far.
        sent: SentTx,
        /// How long it was waited for.
        after: Duration,
    },
    /// A transaction can no longer be mined as sent: neither the node nor this client holds
    /// a version of it. If `nonce_used`, another transaction with its nonce was mined (see
    /// [`crate::TxStatus::Superseded`]); otherwise it was dropped and its effect will not
    /// happen unless it is sent again.
    #[error("transaction {} (nonce {}) is gone (nonce used: {nonce_used})", sent.latest_hash(), sent.nonce)]
    TxGone {
        /// The transaction.
        sent: SentTx,
        /// Whether another transaction used its nonce.
        nonce_used: bool,
    },
    /// A [`crate::SentTx`] of another account than this client's.
    #[error("transaction from {from} cannot be followed by the client of {account}")]
    NotOurTx {
        /// The transaction's sender.
        from: Address,
        /// The client's account.
        account: Address,
    },
    /// Blocks the scanner had read were replaced deeper than it keeps hashes for
    /// ([`crate::ClientConfig::max_reorg_depth`]): it cannot tell where the chains part, so
    /// it cannot resume safely. Scan again from an older block.
    #[error(
        "reorg deeper than {max_depth} blocks: none of the blocks {oldest_checked}..={last_scanned} \
         the scan read is still on the chain"
    )]
    ReorgTooDeep {
        /// The oldest block whose hash the cursor held.
        oldest_checked: u64,
        /// The last block scanned.
        last_scanned: u64,
        /// The configured depth.
        max_depth: u64,
    },
    /// The node's answers contradict each other: the chain moved during a scan, or the
    /// endpoint serves logs from behind its own head (a lagging or load-balanced RPC). Nothing
    /// was skipped; scanning again later usually succeeds, and an endpoint that keeps doing
    /// this needs replacing.
    #[error("inconsistent answers from the node: {reason}")]
    Inconsistent {
        /// What contradicted what.
        reason: String,
    },
    /// The node answered with an error that fits none of the above.
    #[error("RPC error: {message}")]
    Rpc {
        /// The node's message.
        message: String,
    },
    /// The client was given an invalid argument (URL, key).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// Which argument.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The chain's event loop is not running (stopped, or its owner dropped every handle).
    #[error("the chain event loop is not running")]
    Stopped,
    /// The chain's event loop is not connected to the chain (yet, or any more).
    #[error("chain {chain_id} is not connected")]
    NotConnected {
        /// The chain.
        chain_id: u64,
    },
    /// The chain's event loop holds no key for the account that must send a transaction.
    #[error("no trader key for {account} on chain {chain_id}")]
    NoSigner {
        /// The chain.
        chain_id: u64,
        /// The account that would have to sign.
        account: Address,
    },
    /// The operating system's random source failed.
    #[error("random source failed: {reason}")]
    Randomness {
        /// The OS error.
        reason: String,
    },
}

/// The HTLC contract's custom errors, one variant each, decoded from revert data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HtlcError {
    /// `lock` with a zero amount.
    #[error("amount is zero")]
    ZeroAmount,
    /// `lock` to the zero address.
    #[error("recipient is the zero address")]
    ZeroRecipient,
    /// `lock` with a timelock not after the block's timestamp.
    #[error("timelock {timelock} is not after the block timestamp {block_timestamp}")]
    TimelockInPast {
        /// The requested timelock.
        timelock: u64,
        /// The block's timestamp.
        block_timestamp: U256,
    },
    /// `lock` with the wrong ETH value (the amount for ETH, zero for tokens).
    #[error("sent {received} wei, expected {expected}")]
    ValueMismatch {
        /// What the lock needs.
        expected: U256,
        /// What was sent.
        received: U256,
    },
    /// `lock` with the parameters of an existing lock.
    #[error("lock {id} already exists")]
    AlreadyLocked {
        /// The existing lock.
        id: LockId,
    },
    /// `claim` or `refund` of parameters that were never locked.
    #[error("no lock {id}")]
    NotLocked {
        /// The id of the given parameters.
        id: LockId,
    },
    /// `claim` with a secret whose sha256 is not the hashlock.
    #[error("wrong secret for lock {id}")]
    WrongSecret {
        /// The lock.
        id: LockId,
    },
    /// `claim` or `refund` of a claimed lock.
    #[error("lock {id} was already claimed")]
    AlreadyClaimed {
        /// The lock.
        id: LockId,
    },
    /// `claim` or `refund` of a refunded lock.
    #[error("lock {id} was already refunded")]
    AlreadyRefunded {
        /// The lock.
        id: LockId,
    },
    /// `claim` at or after the timelock.
    #[error("lock {id} expired at {timelock}: it can only be refunded")]
    TimelockExpired {
        /// The lock.
        id: LockId,
        /// Its timelock.
        timelock: u64,
    },
    /// `refund` before the timelock.
    #[error("lock {id} cannot be refunded before {timelock}")]
    TimelockNotExpired {
        /// The lock.
        id: LockId,
        /// Its timelock.
        timelock: u64,
    },
    /// `refund` by someone other than the sender.
    #[error("{caller} is not the sender of lock {id}")]
    NotSender {
        /// The lock.
        id: LockId,
        /// Who tried.
        caller: Address,
    },
    /// An ERC-20 transfer reverted, returned false, or the token has no code.
    #[error("token transfer failed for {token}")]
    TokenTransferFailed {
        /// The token.
        token: Address,
    },
    /// The recipient (or sender, on refund) did not accept the ETH.
    #[error("{to} refused the ETH payment")]
    EthTransferFailed {
        /// The refusing account.
        to: Address,
    },
    /// `lock` of a token that delivered less than the amount (fee-on-transfer, rebasing):
    /// such tokens are not supported.
    #[error("token {token} delivered {received} of the {expected} locked")]
    TokenShortfall {
        /// The token.
        token: Address,
        /// The lock's amount.
        expected: U256,
        /// By how much the contract's balance grew.
        received: U256,
    },
    /// `lock` called again from inside its own token transfer (a token with hooks).
    #[error("lock re-entered from inside a token transfer")]
    Reentered,
}

impl From<Htlc::HtlcErrors> for HtlcError {
    fn from(error: Htlc::HtlcErrors) -> HtlcError {
        use Htlc::HtlcErrors as E;
        match error {
            E::ZeroAmount(_) => HtlcError::ZeroAmount,
            E::ZeroRecipient(_) => HtlcError::ZeroRecipient,
            E::TimelockInPast(e) => HtlcError::TimelockInPast {
                timelock: e.timelock,
                block_timestamp: e.blockTimestamp,
            },
            E::ValueMismatch(e) => HtlcError::ValueMismatch {
                expected: e.expected,
                received: e.received,
            },
            E::AlreadyLocked(e) => HtlcError::AlreadyLocked { id: LockId(e.id) },
            E::NotLocked(e) => HtlcError::NotLocked { id: LockId(e.id) },
            E::WrongSecret(e) => HtlcError::WrongSecret { id: LockId(e.id) },
            E::AlreadyClaimed(e) => HtlcError::AlreadyClaimed { id: LockId(e.id) },
            E::AlreadyRefunded(e) => HtlcError::AlreadyRefunded { id: LockId(e.id) },
            E::TimelockExpired(e) => HtlcError::TimelockExpired {
                id: LockId(e.id),
                timelock: e.timelock,
            },
            E::TimelockNotExpired(e) => HtlcError::TimelockNotExpired {
                id: LockId(e.id),
                timelock: e.timelock,
            },
            E::NotSender(e) => HtlcError::NotSender {
                id: LockId(e.id),
                caller: e.caller,
            },
            E::TokenTransferFailed(e) => HtlcError::TokenTransferFailed { token: e.token },
            E::EthTransferFailed(e) => HtlcError::EthTransferFailed { to: e.to },
            E::TokenShortfall(e) => HtlcError::TokenShortfall {
                token: e.token,
                expected: e.expected,
                received: e.received,
            },
            E::Reentered(_) => HtlcError::Reentered,
        }
    }
}

impl HtlcError {
    /// Decodes HTLC revert data; `None` if it is not one of the HTLC's errors.
    pub fn decode(data: &[u8]) -> Option<HtlcError> {
        Htlc::HtlcErrors::abi_decode(data).ok().map(HtlcError::from)
    }
}

/// Turns revert data into the most specific error: an HTLC error, else a known token
/// error or revert string, else the raw bytes.
pub(crate) fn revert_error(data: &Bytes) -> ChainError {
    if let Some(error) = HtlcError::decode(data) {
        return ChainError::Htlc(error);
    }
    let reason = if let Some(error) = test_token_error(data) {
        error
    } else if let Ok(revert) = Revert::abi_decode(data) {
        revert.reason
    } else if data.is_empty() {
        "no reason given".to_owned()
    } else {
        format!("revert data 0x{}", hex::encode(data))
    };
    ChainError::Reverted { reason }
}

/// The test token's error in revert data, if it is one.
#[cfg(feature = "test-token")]
fn test_token_error(data: &[u8]) -> Option<String> {
    crate::contracts::TestToken::TestTokenErrors::abi_decode(data)
        .ok()
        .map(|error| format!("{error:?}"))
}

/// Without the test token, its errors show as raw revert data.
#[cfg(not(feature = "test-token"))]
fn test_token_error(_data: &[u8]) -> Option<String> {
    None
}

/// Classifies an RPC failure. `url` names the endpoint in `Unreachable`.
pub(crate) fn rpc_error(url: &str, error: RpcError<TransportErrorKind>) -> ChainError {
    match error {
        RpcError::ErrorResp(payload) => {
            if let Some(data) = payload.as_revert_data() {
                return revert_error(&data);
            }
            let message = payload.message.to_string();
            if message.to_ascii_lowercase().contains("insufficient funds") {
                // The caller fills in the account and balance it knows.
                ChainError::InsufficientFunds {
                    account: Address::ZERO,
                    asset: Address::ZERO,
                    needed: None,
                    available: U256::ZERO,
                }
            } else if message.contains("revert") {
                ChainError::Reverted { reason: message }
            } else {
                ChainError::Rpc { message }
            }
        }
        RpcError::Transport(kind) => ChainError::Unreachable {
            url: url.to_owned(),
            reason: kind.to_string(),
        },
        other => ChainError::Rpc {
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::B256;

    #[test]
    fn htlc_errors_decode_to_their_variants() {
        let id = B256::repeat_byte(7);
        let data = Htlc::WrongSecret { id }.abi_encode();
        assert_eq!(
            revert_error(&data.into()),
            ChainError::Htlc(HtlcError::WrongSecret { id: LockId(id) })
        );
        let data = Htlc::TimelockExpired { id, timelock: 9 }.abi_encode();
        assert_eq!(
            HtlcError::decode(&data),
            Some(HtlcError::TimelockExpired {
                id: LockId(id),
                timelock: 9
            })
        );
    }

    #[test]
    fn other_reverts_keep_their_reason() {
        let data = Revert::from("nope").abi_encode();
        assert_eq!(
            revert_error(&data.into()),
            ChainError::Reverted {
                reason: "nope".into()
            }
        );
        assert_eq!(
            revert_error(&Bytes::from_static(&[1, 2])),
            ChainError::Reverted {
                reason: "revert data 0x0102".into()
            }
        );
    }
}
