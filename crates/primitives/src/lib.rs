//! Primitives of p2pdex: units, markets, EIP-712 orders, updates and heartbeats, and their
//! signing and verification, and trader keys with their encrypted keystores.
//!
//! Everything here is pure: no I/O (keystores are encrypted and opened as text; callers
//! read and write the files), no clock (callers pass `now` in unix milliseconds), no
//! async runtime. The types make wrong states hard to represent: prices are [`Ticks`],
//! quantities are [`Lots`], and the only way to obtain a [`VerifiedOrder`] is to verify a
//! [`SignedOrder`] against the known markets and the validation rules.

mod alive;
pub mod eip712;
mod error;
mod key;
mod keystore;
mod market;
mod order;
mod serde_util;
mod signature;
mod units;
mod update;

pub use alive::{Alive, SignedAlive, VerifiedAlive};
pub use error::Error;
pub use key::TraderKey;
pub use keystore::KdfStrength;
pub use market::{FillAmounts, Market, MarketDef, MarketId, MarketParams, Markets};
pub use order::{Order, OrderId, RecoveredOrder, SignedOrder, ValidationRules, VerifiedOrder};
pub use signature::{RecoveredSigner, Signature, recover_signer};
pub use units::{Lots, Side, Ticks};
pub use update::{SignedUpdate, Update, VerifiedUpdate};

/// Re-exported so that users of this crate name the same types.
pub use alloy_primitives::{Address, B256, U256};
pub use rust_decimal::Decimal;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Unix time in milliseconds, as used by every timestamp in signed messages.
pub type UnixMillis = u64;
