//! `Alive`: a maker's signed heartbeat for one market, with a digest of its open orders.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::{
    Error, MarketId, Signature, TraderKey, UnixMillis, ValidationRules,
    eip712::{self, sol},
    order::{check_not_in_future, check_peer},
    signature::RecoveredSigner,
};

/// The EIP-712 `Alive` message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Alive {
    /// The maker whose orders are alive.
    pub maker: Address,
    /// The maker node's peer id (base58).
    pub peer: String,
    /// The market.
    pub market: MarketId,
    /// Number of the maker's open orders in the market.
    pub open_orders: u32,
    /// Digest of the maker's open order ids and remaining quantities in the market.
    pub orders_root: B256,
    /// When it was signed, unix ms.
    pub timestamp: UnixMillis,
}

impl Alive {
    /// The EIP-712 struct this message hashes as.
    pub fn to_sol(&self) -> sol::Alive {
        sol::Alive {
            maker: self.maker,
            peer: self.peer.clone(),
            market: self.market.0,
            openOrders: self.open_orders,
            ordersRoot: self.orders_root,
            timestamp: self.timestamp,
        }
    }

    /// The EIP-712 signing digest.
    pub fn digest(&self) -> B256 {
        eip712::signing_digest(&self.to_sol())
    }

    /// Signs the heartbeat with `key`.
    pub fn sign(self, key: &TraderKey) -> SignedAlive {
        let signature = key.sign_digest(&self.digest());
        SignedAlive {
            alive: self,
            signature,
        }
    }
}

/// A heartbeat with its signature: `{"alive": {…}, "signature": "0x…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedAlive {
    /// The signed message.
    pub alive: Alive,
    /// `r ‖ s ‖ v` by the maker.
    pub signature: Signature,
}

impl SignedAlive {
    /// Checks the peer field, the timestamp against `now`, and that `maker` signed it.
    pub fn verify(self, rules: &ValidationRules, now: UnixMillis) -> Result<VerifiedAlive, Error> {
        self.verify_with(rules, now, None)
    }

    /// The signer of this heartbeat recovered ahead, on any thread, for
    /// [`SignedAlive::verify_with`].
    pub fn recover_ahead(&self) -> RecoveredSigner {
        RecoveredSigner::recover(self.alive.digest(), self.signature)
    }

    /// [`SignedAlive::verify`] with the signer recovered ahead: the same checks in the same
    /// order, the same result; only the recovery is not done again.
    pub fn verify_with(
        self,
        rules: &ValidationRules,
        now: UnixMillis,
        ahead: Option<&RecoveredSigner>,
    ) -> Result<VerifiedAlive, Error> {
        check_peer(&self.alive.peer)?;
        check_not_in_future(self.alive.timestamp, now, rules)?;
        let signer = RecoveredSigner::signer_of(ahead, &self.alive.digest(), &self.signature)?;
        if signer != self.alive.maker {
            return Err(Error::SignerMismatch {
                signer,
                expected: self.alive.maker,
            });
        }
        Ok(VerifiedAlive { signed: self })
    }
}

/// A heartbeat whose signature was checked. Only [`SignedAlive::verify`] builds one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifiedAlive {
    signed: SignedAlive,
}

impl VerifiedAlive {
    /// The heartbeat message.
    pub fn alive(&self) -> &Alive {
        &self.signed.alive
    }

    /// The signed heartbeat, to forward.
    pub fn signed(&self) -> &SignedAlive {
        &self.signed
    }
}
