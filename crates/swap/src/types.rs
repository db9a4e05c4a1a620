//! The vocabulary of a swap: roles, legs, lock terms, secrets and timing rules.

use std::fmt;

use alloy_primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;

/// A swap's identity, agreed in the take protocol.
pub type SwapId = B256;

/// Which side of the trade this node is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Initiator: holds the secret, locks first with the longer timelock, claims first.
    Taker,
    /// Responder: locks second with the shorter timelock after seeing the taker's lock on
    /// chain, claims with the secret the taker's claim reveals.
    Maker,
}

/// One of the two HTLCs of a swap, named by whose asset it locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Leg {
    /// The taker's asset, locked for the maker on the taker's chain (chain X), timelock T1.
    Taker,
    /// The maker's asset, locked for the taker on the maker's chain (chain Y), timelock T2.
    Maker,
}

impl Leg {
    /// The leg this role locks.
    pub fn of(role: Role) -> Leg {
        match role {
            Role::Taker => Leg::Taker,
            Role::Maker => Leg::Maker,
        }
    }
}

impl fmt::Display for Leg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Leg::Taker => "taker leg",
            Leg::Maker => "maker leg",
        })
    }
}

/// What one leg's lock must be: agreed in the take protocol, checked against the chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockTerms {
    /// Chain id where the lock lives.
    pub chain_id: u64,
    /// The HTLC contract on that chain.
    pub contract: Address,
    /// Token locked; `0x0` for the native coin.
    pub token: Address,
    /// Amount in the token's base units.
    pub amount: U256,
    /// Who locks (and may refund after the timelock).
    pub sender: Address,
    /// Who may claim with the secret.
    pub recipient: Address,
}

/// A lock as read from the chain (never as claimed by a peer).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockInfo {
    /// The contract's id of the lock.
    pub id: B256,
    /// Chain id where it was seen.
    pub chain_id: u64,
    /// Contract that holds it.
    pub contract: Address,
    /// Sender.
    pub sender: Address,
    /// Recipient.
    pub recipient: Address,
    /// Token (`0x0` = native).
    pub token: Address,
    /// Amount.
    pub amount: U256,
    /// sha256 hashlock.
    pub hashlock: B256,
    /// Unix seconds, in the lock chain's block time, after which the sender may refund and
    /// the recipient may no longer claim.
    pub timelock: u64,
}

impl LockInfo {
    /// The lock of contract id `id` that is exactly `terms` with `hashlock` and `timelock`.
    pub fn of_terms(id: B256, terms: &LockTerms, hashlock: B256, timelock: u64) -> LockInfo {
        LockInfo {
            id,
            chain_id: terms.chain_id,
            contract: terms.contract,
            sender: terms.sender,
            recipient: terms.recipient,
            token: terms.token,
            amount: terms.amount,
            hashlock,
            timelock,
        }
    }

    /// Whether the lock is exactly `terms` with `hashlock`, whatever its timelock.
    pub fn matches(&self, terms: &LockTerms, hashlock: &B256) -> Result<(), Mismatch> {
        let checks = [
            (self.chain_id == terms.chain_id, Mismatch::Chain),
            (self.contract == terms.contract, Mismatch::Contract),
            (self.sender == terms.sender, Mismatch::Sender),
            (self.recipient == terms.recipient, Mismatch::Recipient),
            (self.token == terms.token, Mismatch::Token),
            (self.amount == terms.amount, Mismatch::Amount),
            (&self.hashlock == hashlock, Mismatch::Hashlock),
        ];
        match checks.into_iter().find(|(ok, _)| !ok) {
            Some((_, mismatch)) => Err(mismatch),
            None => Ok(()),
        }
    }
}

/// Which term of a lock differs from what was agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mismatch {
    /// Another chain.
    Chain,
    /// Another contract.
    Contract,
    /// Another sender.
    Sender,
    /// Another recipient.
    Recipient,
    /// Another token.
    Token,
    /// Another amount.
    Amount,
    /// Another hashlock.
    Hashlock,
}

/// The taker's 32-byte preimage. Never printed; stored only in the node's own database.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret(pub B256);

impl Secret {
    /// The sha256 hashlock of the secret, as the HTLC contract computes it.
    pub fn hashlock(&self) -> B256 {
        B256::from(<[u8; 32]>::from(Sha256::digest(self.0.as_slice())))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Timing and confirmation rules of a swap, per DESIGN §7. Chain times are unix seconds of
/// each chain's latest block; local times are unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    /// T1 = the taker chain's time when the taker locks + this (2Δ).
    pub taker_lock_secs: u64,
    /// T2 = the maker chain's time when the maker locks + this (Δ), capped at T1 − margin.
    pub maker_lock_secs: u64,
    /// Smallest T1 − T2: how long the maker keeps to claim the taker leg after the taker's
    /// last chance to claim the maker leg.
    pub margin_secs: u64,
    /// A claim is only started with at least this long before the lock's timelock: a claim
    /// reveals the secret, so it must confirm while the counterparty cannot yet refund.
    pub min_claim_secs: u64,
    /// Confirmations of the taker's lock before the maker locks.
    pub taker_leg_confirmations: u64,
    /// Confirmations of the maker's lock before the taker claims.
    pub maker_leg_confirmations: u64,
    /// A transaction whose effect is not seen on chain after this long (local ms) is sent
    /// again. Sending again is safe: lock ids are derived from the lock's parameters, and
    /// the contract refuses a second lock, claim or refund of the same id.
    pub retry_ms: u64,
}

impl Timing {
    /// Defaults that suit the devnet (instant mining, one confirmation).
    pub const DEVNET: Timing = Timing {
        taker_lock_secs: 2 * 600,
        maker_lock_secs: 600,
        margin_secs: 300,
        min_claim_secs: 60,
        taker_leg_confirmations: 1,
        maker_leg_confirmations: 1,
        retry_ms: 5_000,
    };

    /// Checks the rules hold together: the maker's lock fits before T1 − margin with room to
    /// claim, and the margin leaves the maker room to claim the taker leg.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |reason: &'static str| Err(Error::InvalidTiming { reason });
        if self.min_claim_secs == 0 {
            return fail("minClaimSecs must be greater than zero");
        }
        if self.maker_lock_secs <= self.min_claim_secs {
            return fail("makerLockSecs must exceed minClaimSecs, or the taker can never claim");
        }
        // The maker learns the secret from a claim that may land just before T2, has to
        // see it (scan, confirmations) and then get its own claim in before T1.
        if self.margin_secs < self.min_claim_secs.saturating_mul(2) {
            return fail(
                "marginSecs must be at least twice minClaimSecs: the maker needs time to see \
                 the taker's claim and then to claim",
            );
        }
        if self.taker_lock_secs < self.maker_lock_secs.saturating_add(self.margin_secs) {
            return fail("takerLockSecs must be at least makerLockSecs + marginSecs");
        }
        if self.taker_leg_confirmations == 0 || self.maker_leg_confirmations == 0 {
            return fail("confirmations must be at least 1");
        }
        if self.retry_ms == 0 {
            return fail("retryMs must be greater than zero");
        }
        Ok(())
    }
}

/// Everything both parties agreed in the take protocol, from this node's point of view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwapParams {
    /// The swap id.
    pub swap_id: SwapId,
    /// This node's role.
    pub role: Role,
    /// sha256 of the taker's secret.
    pub hashlock: B256,
    /// The taker's lock (chain X).
    pub taker_leg: LockTerms,
    /// The maker's lock (chain Y).
    pub maker_leg: LockTerms,
    /// Local unix ms until which the maker holds the reservation. The taker does not lock
    /// after `reserved_until - lock_margin_ms`, so the maker sees the lock in time.
    pub reserved_until: u64,
    /// See `reserved_until`.
    pub lock_margin_ms: u64,
    /// Timelocks and confirmations.
    pub timing: Timing,
    /// How far behind each chain's head this node learns of what happens there, in seconds
    /// of chain time: its scan confirmations less one times the block time, plus a poll.
    /// A transaction is sent again only after `retry_ms` plus this: the node cannot see it
    /// sooner, and a second lock or claim of a mined one only reverts.
    #[serde(default)]
    pub scan_lag_secs: ScanLag,
}

/// [`SwapParams::scan_lag_secs`]: the lag of each leg's chain, unix seconds of chain time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanLag {
    /// The taker leg's chain (X).
    pub taker_leg: u64,
    /// The maker leg's chain (Y).
    pub maker_leg: u64,
}

impl ScanLag {
    /// The lag of `leg`'s chain.
    pub fn of(&self, leg: Leg) -> u64 {
        match leg {
            Leg::Taker => self.taker_leg,
            Leg::Maker => self.maker_leg,
        }
    }
}

impl SwapParams {
    /// The terms of one leg.
    pub fn leg(&self, leg: Leg) -> &LockTerms {
        match leg {
            Leg::Taker => &self.taker_leg,
            Leg::Maker => &self.maker_leg,
        }
    }

    /// Checks the parameters are coherent for this role.
    pub fn validate(&self) -> Result<(), Error> {
        self.timing.validate()?;
        if self.taker_leg.amount.is_zero() || self.maker_leg.amount.is_zero() {
            return Err(Error::ZeroAmount);
        }
        if self.taker_leg.sender != self.maker_leg.recipient
            || self.maker_leg.sender != self.taker_leg.recipient
        {
            return Err(Error::PartiesMismatch);
        }
        Ok(())
    }
}
