//! Limit orders: the EIP-712 message, its signed form, and the verified form the book takes.

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

use crate::{
    Error, Lots, Market, MarketId, Markets, Side, Signature, Ticks, TraderKey, UnixMillis,
    eip712::{self, sol},
    serde_util::b256_id,
    signature::RecoveredSigner,
};

b256_id!(
    /// An order's identity: its EIP-712 signing digest.
    OrderId,
    "order id"
);

/// The longest `peer` string accepted. Base58 peer ids of ed25519 keys are 52 characters.
pub(crate) const MAX_PEER_LEN: usize = 128;

/// A limit order as signed by its maker (the EIP-712 `Order` message). JSON field names are
/// the EIP-712 names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Order {
    /// The market traded.
    pub market: MarketId,
    /// Buy or sell base.
    pub side: Side,
    /// Limit price in ticks.
    pub price: Ticks,
    /// Total quantity in lots.
    pub quantity: Lots,
    /// Smallest fill the maker accepts, in lots (the last remainder may be smaller).
    pub min_fill: Lots,
    /// The maker's address; must be the signer.
    pub maker: Address,
    /// libp2p peer id (base58) of the maker's node, which takers contact.
    pub peer: String,
    /// Maker-chosen number that makes otherwise equal orders distinct.
    pub nonce: u64,
    /// Creation time, unix ms. Orders at one price are served in `createdAt` order.
    pub created_at: UnixMillis,
    /// Expiry time, unix ms.
    pub expires_at: UnixMillis,
}

impl Order {
    /// The EIP-712 struct this order hashes as.
    pub fn to_sol(&self) -> sol::Order {
        sol::Order {
            market: self.market.0,
            side: self.side.as_u8(),
            price: self.price.0,
            quantity: self.quantity.0,
            minFill: self.min_fill.0,
            maker: self.maker,
            peer: self.peer.clone(),
            nonce: self.nonce,
            createdAt: self.created_at,
            expiresAt: self.expires_at,
        }
    }

    /// The order id: its EIP-712 signing digest.
    pub fn id(&self) -> OrderId {
        OrderId(eip712::signing_digest(&self.to_sol()))
    }

    /// Signs the order with `key`. Does not check that `key` is the maker's: a signature by
    /// another key simply fails verification.
    pub fn sign(self, key: &TraderKey) -> SignedOrder {
        let signature = key.sign_digest(&self.id().0);
        SignedOrder {
            order: self,
            signature,
        }
    }

    /// Signs the order with `key` and checks it like [`SignedOrder::verify`], for an order
    /// this process signs itself: the same known market and trading rules at `now`, and
    /// `key` must be the maker's ([`Error::SignerMismatch`] otherwise). The signature is not
    /// recovered again: it was just made by the maker's own key, so recovery could only give
    /// back the maker (tests check that the result equals `sign` then `verify`). Computes
    /// the EIP-712 id once.
    pub fn sign_verified(
        self,
        key: &TraderKey,
        markets: &Markets,
        rules: &ValidationRules,
        now: UnixMillis,
    ) -> Result<VerifiedOrder, Error> {
        self.check_known_market_rules(markets, rules, now)?;
        if key.address() != self.maker {
            return Err(Error::SignerMismatch {
                signer: key.address(),
                expected: self.maker,
            });
        }
        let id = self.id();
        let signature = key.sign_digest(&id.0);
        Ok(VerifiedOrder {
            signed: SignedOrder {
                order: self,
                signature,
            },
            id,
        })
    }

    /// [`Order::check_rules`] against its market in `markets`, which must know it.
    fn check_known_market_rules(
        &self,
        markets: &Markets,
        rules: &ValidationRules,
        now: UnixMillis,
    ) -> Result<(), Error> {
        let market = markets
            .get(&self.market)
            .ok_or_else(|| Error::UnknownMarket {
                market: self.market.to_string(),
            })?;
        self.check_rules(market, rules, now)
    }

    /// Checks every trading rule except the signature (DESIGN §3) against `market` and `now`.
    pub fn check_rules(
        &self,
        market: &Market,
        rules: &ValidationRules,
        now: UnixMillis,
    ) -> Result<(), Error> {
        if market.id() != self.market {
            return Err(Error::UnknownMarket {
                market: self.market.to_string(),
            });
        }
        if self.quantity.is_zero() {
            return Err(Error::ZeroQuantity);
        }
        if self.price.0 == 0 {
            return Err(Error::ZeroPrice);
        }
        if self.min_fill.is_zero() {
            return Err(Error::ZeroMinFill);
        }
        if self.min_fill > self.quantity {
            return Err(Error::MinFillAboveQuantity {
                min_fill: self.min_fill.0,
                quantity: self.quantity.0,
            });
        }
        check_peer(&self.peer)?;
        check_not_in_future(self.created_at, now, rules)?;
        if self.expires_at <= self.created_at {
            return Err(Error::ExpiresBeforeCreated {
                created_at: self.created_at,
                expires_at: self.expires_at,
            });
        }
        if self.expires_at <= now {
            return Err(Error::Expired {
                expires_at: self.expires_at,
                now,
            });
        }
        let lifetime_ms = self.expires_at - self.created_at;
        if lifetime_ms > rules.max_lifetime_ms {
            return Err(Error::LifetimeTooLong {
                lifetime_ms,
                max_ms: rules.max_lifetime_ms,
            });
        }
        // Every fill of this order is at most the whole order, so this bounds them all.
        market.fill_amounts(self.price, self.quantity)?;
        Ok(())
    }
}

/// `signer` must be the order's `maker`.
fn signed_by(signer: Address, maker: Address) -> Result<(), Error> {
    if signer == maker {
        Ok(())
    } else {
        Err(Error::SignerMismatch {
            signer,
            expected: maker,
        })
    }
}

/// Rejects timestamps further ahead of `now` than the allowed clock skew.
pub(crate) fn check_not_in_future(
    timestamp: UnixMillis,
    now: UnixMillis,
    rules: &ValidationRules,
) -> Result<(), Error> {
    if timestamp > now.saturating_add(rules.max_clock_skew_ms) {
        return Err(Error::CreatedInFuture {
            created_at: timestamp,
            now,
            max_skew_ms: rules.max_clock_skew_ms,
        });
    }
    Ok(())
}

/// A peer id must be non-empty base58 of bounded length; full parsing is the network's job.
pub(crate) fn check_peer(peer: &str) -> Result<(), Error> {
    const BASE58: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let valid =
        (1..=MAX_PEER_LEN).contains(&peer.len()) && peer.bytes().all(|b| BASE58.contains(&b));
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidPeer {
            peer: peer.chars().take(100).collect(),
            max: MAX_PEER_LEN,
        })
    }
}

/// Limits applied to every order, local or remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationRules {
    /// How far `createdAt` may be ahead of the local clock. Default 30 s.
    pub max_clock_skew_ms: u64,
    /// Longest allowed `expiresAt - createdAt`. Default 7 days.
    pub max_lifetime_ms: u64,
}

impl Default for ValidationRules {
    fn default() -> Self {
        ValidationRules {
            max_clock_skew_ms: 30_000,
            max_lifetime_ms: 7 * 24 * 60 * 60 * 1000,
        }
    }
}

/// An order with its maker's signature, as it travels in JSON:
/// `{"order": {…}, "signature": "0x…"}`. Nothing about it is trusted until verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedOrder {
    /// The signed message.
    pub order: Order,
    /// `r ‖ s ‖ v` by the maker.
    pub signature: Signature,
}

impl SignedOrder {
    /// Checks the signature alone: valid, low-s, `v` 27/28, and signed by `maker`.
    /// Returns the order id. Trading rules are not checked (see [`SignedOrder::verify`]).
    pub fn verify_signature(&self) -> Result<OrderId, Error> {
        self.check_signature(None)
    }

    fn check_signature(&self, ahead: Option<&RecoveredSigner>) -> Result<OrderId, Error> {
        let id = self.order.id();
        let signer = RecoveredSigner::signer_of(ahead, &id.0, &self.signature)?;
        signed_by(signer, self.order.maker)?;
        Ok(id)
    }

    /// The signer of this order recovered ahead, on any thread, for
    /// [`SignedOrder::verify_with`].
    pub fn recover_ahead(&self) -> RecoveredSigner {
        RecoveredSigner::recover(self.order.id().0, self.signature)
    }

    /// Full validation (DESIGN §3): known market, trading rules at `now`, then the
    /// signature (the expensive part, last, so cheap rejections stay cheap).
    pub fn verify(
        self,
        markets: &Markets,
        rules: &ValidationRules,
        now: UnixMillis,
    ) -> Result<VerifiedOrder, Error> {
        self.verify_with(markets, rules, now, None)
    }

    /// [`SignedOrder::verify`] with the signer recovered ahead
    /// ([`SignedOrder::recover_ahead`]): the same checks in the same order, the same
    /// result; only the recovery is not done again.
    pub fn verify_with(
        self,
        markets: &Markets,
        rules: &ValidationRules,
        now: UnixMillis,
        ahead: Option<&RecoveredSigner>,
    ) -> Result<VerifiedOrder, Error> {
        self.order.check_known_market_rules(markets, rules, now)?;
        let id = self.check_signature(ahead)?;
        Ok(VerifiedOrder { signed: self, id })
    }
}

/// A signed order with its id and its signer recovered ahead of its other checks, on any
/// thread ([`SignedOrder::recover`]); [`RecoveredOrder::verify`] then checks the rules and
/// compares the signer without hashing or recovering again. It owns the order it was
/// recovered from, so the two cannot be mismatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredOrder {
    signed: SignedOrder,
    id: OrderId,
    signer: Result<Address, Error>,
}

impl SignedOrder {
    /// Computes the id and recovers the signer, for [`RecoveredOrder::verify`] later.
    pub fn recover(self) -> RecoveredOrder {
        let id = self.order.id();
        let signer = crate::recover_signer(&id.0, &self.signature);
        RecoveredOrder {
            signed: self,
            id,
            signer,
        }
    }
}

impl RecoveredOrder {
    /// The order message.
    pub fn order(&self) -> &Order {
        &self.signed.order
    }

    /// The order id.
    pub fn id(&self) -> OrderId {
        self.id
    }

    /// [`SignedOrder::verify`] with the work done ahead: the same checks in the same order
    /// and the same result.
    pub fn verify(
        self,
        markets: &Markets,
        rules: &ValidationRules,
        now: UnixMillis,
    ) -> Result<VerifiedOrder, Error> {
        self.signed
            .order
            .check_known_market_rules(markets, rules, now)?;
        signed_by(self.signer?, self.signed.order.maker)?;
        Ok(VerifiedOrder {
            signed: self.signed,
            id: self.id,
        })
    }
}

/// An order whose signature and trading rules were checked. Only [`SignedOrder::verify`]
/// and [`Order::sign_verified`] build one, so nothing unverified can reach the book.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VerifiedOrder {
    signed: SignedOrder,
    id: OrderId,
}

impl VerifiedOrder {
    /// The order id.
    pub fn id(&self) -> OrderId {
        self.id
    }

    /// The order message.
    pub fn order(&self) -> &Order {
        &self.signed.order
    }

    /// The signed order, to forward or store.
    pub fn signed(&self) -> &SignedOrder {
        &self.signed
    }

    /// The maker's address (the verified signer).
    pub fn maker(&self) -> Address {
        self.signed.order.maker
    }

    /// The order's market.
    pub fn market(&self) -> MarketId {
        self.signed.order.market
    }

    /// Consumes it, giving back the signed order.
    pub fn into_signed(self) -> SignedOrder {
        self.signed
    }
}
