//! Updates: a maker lowers an order's remaining quantity (`remaining = 0` cancels).

use alloy_primitives::B256;
use serde::{Deserialize, Serialize};

use crate::{
    Error, Lots, OrderId, Signature, TraderKey, UnixMillis, ValidationRules, VerifiedOrder,
    eip712::{self, sol},
    order::check_not_in_future,
    signature::RecoveredSigner,
};

/// The EIP-712 `Update` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Update {
    /// The order updated.
    pub order_id: OrderId,
    /// The order's new remaining quantity; only ever lower than before.
    pub remaining: Lots,
    /// When the maker signed it, unix ms.
    pub timestamp: UnixMillis,
}

impl Update {
    /// The EIP-712 struct this update hashes as.
    pub fn to_sol(&self) -> sol::Update {
        sol::Update {
            orderId: self.order_id.0,
            remaining: self.remaining.0,
            timestamp: self.timestamp,
        }
    }

    /// The EIP-712 signing digest.
    pub fn digest(&self) -> B256 {
        eip712::signing_digest(&self.to_sol())
    }

    /// Signs the update with `key` (which must be the order's maker to verify).
    pub fn sign(self, key: &TraderKey) -> SignedUpdate {
        let signature = key.sign_digest(&self.digest());
        SignedUpdate {
            update: self,
            signature,
        }
    }
}

/// An update with its signature, as it travels in JSON: `{"update": {…}, "signature": "0x…"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedUpdate {
    /// The signed message.
    pub update: Update,
    /// `r ‖ s ‖ v` by the order's maker.
    pub signature: Signature,
}

impl SignedUpdate {
    /// Verifies the update against the order it names: same order id, signed by its maker,
    /// remaining not above the order quantity, timestamp not in the future.
    pub fn verify(
        self,
        order: &VerifiedOrder,
        rules: &ValidationRules,
        now: UnixMillis,
    ) -> Result<VerifiedUpdate, Error> {
        self.verify_with(order, rules, now, None)
    }

    /// The signer of this update recovered ahead, on any thread, for
    /// [`SignedUpdate::verify_with`].
    pub fn recover_ahead(&self) -> RecoveredSigner {
        RecoveredSigner::recover(self.update.digest(), self.signature)
    }

    /// [`SignedUpdate::verify`] with the signer recovered ahead: the same checks in the
    /// same order, the same result; only the recovery is not done again.
    pub fn verify_with(
        self,
        order: &VerifiedOrder,
        rules: &ValidationRules,
        now: UnixMillis,
        ahead: Option<&RecoveredSigner>,
    ) -> Result<VerifiedUpdate, Error> {
        if self.update.order_id != order.id() {
            return Err(Error::UpdateOrderMismatch {
                got: self.update.order_id,
                expected: order.id(),
            });
        }
        let quantity = order.order().quantity;
        if self.update.remaining > quantity {
            return Err(Error::UpdateAboveQuantity {
                remaining: self.update.remaining.0,
                quantity: quantity.0,
            });
        }
        check_not_in_future(self.update.timestamp, now, rules)?;
        let signer = RecoveredSigner::signer_of(ahead, &self.update.digest(), &self.signature)?;
        if signer != order.maker() {
            return Err(Error::SignerMismatch {
                signer,
                expected: order.maker(),
            });
        }
        Ok(VerifiedUpdate { signed: self })
    }
}

/// An update verified against its order. Only [`SignedUpdate::verify`] builds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerifiedUpdate {
    signed: SignedUpdate,
}

impl VerifiedUpdate {
    /// The order it lowers.
    pub fn order_id(&self) -> OrderId {
        self.signed.update.order_id
    }

    /// The new remaining quantity.
    pub fn remaining(&self) -> Lots {
        self.signed.update.remaining
    }

    /// The update message.
    pub fn update(&self) -> &Update {
        &self.signed.update
    }

    /// The signed update, to forward or store.
    pub fn signed(&self) -> &SignedUpdate {
        &self.signed
    }
}
