use alloy_primitives::{Address, U256};

use crate::{MarketId, OrderId};

/// Everything that can be wrong with a value, a market definition, a key, a signature or a
/// signed message. Each failure has its own variant carrying the values that matter, so
/// callers (the API, the gossip validator) can map it to a precise answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- decimal values at the edges ----
    /// The text is not a plain decimal number such as `2500.5`.
    #[error("{what} {value:?} is not a decimal number (expected digits with an optional '.')")]
    InvalidDecimal {
        /// What the value was meant to be (`price`, `quantity`, ...).
        what: &'static str,
        /// The text as given.
        value: String,
    },
    /// The number has more significant digits than can be represented exactly (28).
    #[error("{what} {value:?} has too many digits to be represented exactly")]
    TooManyDigits {
        /// What the value was meant to be.
        what: &'static str,
        /// The text as given.
        value: String,
    },
    /// A negative value where only positive ones make sense.
    #[error("{what} {value} is negative")]
    NegativeValue {
        /// What the value was meant to be.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// Zero where it is not allowed.
    #[error("{what} must be greater than zero")]
    ZeroValue {
        /// What the value was meant to be.
        what: &'static str,
    },
    /// The value is not a whole multiple of the market's step; it is never rounded.
    #[error("{what} {value} is not a multiple of the step {step}")]
    OffGrid {
        /// What the value was meant to be.
        what: &'static str,
        /// The value.
        value: String,
        /// The step it must be a multiple of.
        step: String,
    },
    /// The value is on the grid but too large for the internal integer representation.
    #[error("{what} {value} is out of range (at most {max})")]
    OutOfRange {
        /// What the value was meant to be.
        what: &'static str,
        /// The value.
        value: String,
        /// The largest value that is accepted.
        max: String,
    },
    /// Computing the asset amounts of a fill overflowed 256 bits.
    #[error("amount overflow: {quantity} lots at {price} ticks does not fit in 256 bits")]
    AmountOverflow {
        /// Price in ticks.
        price: u64,
        /// Quantity in lots.
        quantity: u64,
    },

    // ---- market definitions ----
    /// `basePerLot` is zero.
    #[error("market {symbol}: basePerLot must be greater than zero")]
    ZeroLotSize {
        /// The market's display symbol.
        symbol: String,
    },
    /// `quotePerTickLot` is zero.
    #[error("market {symbol}: quotePerTickLot must be greater than zero")]
    ZeroTickSize {
        /// The market's display symbol.
        symbol: String,
    },
    /// Base and quote are the same asset on the same chain.
    #[error("market {symbol}: base and quote are the same asset (chain {chain}, token {token})")]
    SameAsset {
        /// The market's display symbol.
        symbol: String,
        /// Chain id of both.
        chain: u64,
        /// Token address of both.
        token: Address,
    },
    /// A display symbol is empty, too long, or has characters other than `A-Z a-z 0-9 . - _`.
    #[error("market symbol {symbol:?} is invalid (1 to 16 characters of A-Z a-z 0-9 . - _)")]
    InvalidSymbol {
        /// The symbol as given.
        symbol: String,
    },
    /// Token decimals above 28 cannot be shown exactly.
    #[error("market {symbol}: {asset} decimals {decimals} exceed the maximum of 28")]
    DecimalsTooLarge {
        /// The market's display symbol.
        symbol: String,
        /// `base` or `quote`.
        asset: &'static str,
        /// The decimals given.
        decimals: u8,
    },
    /// The lot or tick size, in display units, is not an exact decimal of at most 28 digits.
    #[error("market {symbol}: the {what} size {numerator}/{denominator} is not an exact decimal")]
    StepNotDecimal {
        /// The market's display symbol.
        symbol: String,
        /// `lot` or `tick`.
        what: &'static str,
        /// Numerator of the step as a fraction.
        numerator: U256,
        /// Denominator of the step as a fraction.
        denominator: U256,
    },
    /// Two markets share an id or a symbol.
    #[error("market {symbol} ({market}) is defined twice")]
    DuplicateMarket {
        /// The symbol.
        symbol: String,
        /// The id.
        market: MarketId,
    },
    /// The market is not one this node knows.
    #[error("unknown market {market}")]
    UnknownMarket {
        /// The id (or symbol) as given.
        market: String,
    },

    // ---- encodings ----
    /// A hex string is not `0x` followed by hex digits.
    #[error("{what} is not valid 0x-prefixed hex: {reason}")]
    MalformedHex {
        /// What the hex encodes.
        what: &'static str,
        /// Why it is malformed.
        reason: String,
    },
    /// A byte string has the wrong length.
    #[error("{what} must be {expected} bytes, got {actual}")]
    WrongLength {
        /// What the bytes encode.
        what: &'static str,
        /// The required length.
        expected: usize,
        /// The given length.
        actual: usize,
    },
    /// A private key is zero or not below the curve order.
    #[error("invalid private key: not a scalar in 1..n")]
    InvalidKey,
    /// The operating system's random source failed.
    #[error("no randomness available: {reason}")]
    Randomness {
        /// What the OS said.
        reason: String,
    },

    // ---- keystores ----
    /// The text is not a Web3 Secret Storage keystore: not JSON, a field missing, not hex,
    /// of the wrong length or with impossible parameters.
    #[error("not a valid keystore: {reason}")]
    KeystoreMalformed {
        /// What is wrong, naming the field (never secret: keystores hold nothing in clear).
        reason: String,
    },
    /// A keystore this build does not read: another version, cipher or key derivation, or
    /// parameters beyond the memory and work limits.
    #[error("unsupported keystore: {reason}")]
    KeystoreUnsupported {
        /// What is not supported.
        reason: String,
    },
    /// The keystore's MAC does not match the key derived from the password: the password is
    /// wrong (or the ciphertext was damaged).
    #[error("wrong password: the keystore's MAC does not match the password")]
    WrongPassword,
    /// The keystore names another address than that of the key it holds.
    #[error("the keystore names address {stated} but holds the key of {actual}")]
    KeystoreAddressMismatch {
        /// The `address` field.
        stated: Address,
        /// The address of the decrypted key.
        actual: Address,
    },

    // ---- signatures ----
    /// The recovery byte `v` of a signature is not 27 or 28.
    #[error("signature recovery byte v = {v}, expected 27 or 28")]
    InvalidRecoveryId {
        /// The byte given.
        v: u8,
    },
    /// The signature's `s` is in the upper half of the curve order (malleable form).
    #[error("signature s value is high (s > n/2); only low-s signatures are accepted")]
    HighS,
    /// No public key can be recovered from the signature (`r` or `s` zero or out of range).
    #[error("signature is invalid: no public key can be recovered from it")]
    InvalidSignature,
    /// The signature is valid but by another key than the one the message names.
    #[error("signed by {signer}, but the message names {expected}")]
    SignerMismatch {
        /// The address that signed.
        signer: Address,
        /// The address the message names (maker).
        expected: Address,
    },

    // ---- order and update rules ----
    /// `side` is neither 0 (buy) nor 1 (sell).
    #[error("side {side} is invalid: 0 = buy, 1 = sell")]
    InvalidSide {
        /// The value given.
        side: u8,
    },
    /// The order quantity is zero.
    #[error("order quantity must be at least one lot")]
    ZeroQuantity,
    /// The order price is zero.
    #[error("order price must be at least one tick")]
    ZeroPrice,
    /// `minFill` is zero.
    #[error("minFill must be at least one lot")]
    ZeroMinFill,
    /// `minFill` exceeds the quantity.
    #[error("minFill {min_fill} exceeds the quantity {quantity}")]
    MinFillAboveQuantity {
        /// minFill in lots.
        min_fill: u64,
        /// quantity in lots.
        quantity: u64,
    },
    /// `createdAt` (or an update's timestamp) is further in the future than the clock skew allows.
    #[error("timestamp {created_at} is more than {max_skew_ms} ms ahead of now ({now})")]
    CreatedInFuture {
        /// The timestamp in the message.
        created_at: u64,
        /// The local time.
        now: u64,
        /// The allowed skew.
        max_skew_ms: u64,
    },
    /// The order has expired.
    #[error("order expired at {expires_at} (now {now})")]
    Expired {
        /// expiresAt of the order.
        expires_at: u64,
        /// The local time.
        now: u64,
    },
    /// `expiresAt - createdAt` is longer than allowed.
    #[error("order lifetime {lifetime_ms} ms exceeds the maximum of {max_ms} ms")]
    LifetimeTooLong {
        /// expiresAt - createdAt (or the whole span if expiresAt <= createdAt).
        lifetime_ms: u64,
        /// The configured maximum.
        max_ms: u64,
    },
    /// `expiresAt` is not after `createdAt`.
    #[error("order expiresAt {expires_at} is not after createdAt {created_at}")]
    ExpiresBeforeCreated {
        /// createdAt of the order.
        created_at: u64,
        /// expiresAt of the order.
        expires_at: u64,
    },
    /// The `peer` field is not a plausible base58 libp2p peer id.
    #[error("peer {peer:?} is not a base58 peer id of 1 to {max} characters")]
    InvalidPeer {
        /// The value given (truncated to 100 characters).
        peer: String,
        /// The maximum length.
        max: usize,
    },
    /// An update names another order than the one it is applied to.
    #[error("update is for order {got}, not {expected}")]
    UpdateOrderMismatch {
        /// The order the update names.
        got: OrderId,
        /// The order it was applied to.
        expected: OrderId,
    },
    /// An update claims more remaining quantity than the order ever had.
    #[error("update remaining {remaining} exceeds the order quantity {quantity}")]
    UpdateAboveQuantity {
        /// remaining in the update.
        remaining: u64,
        /// quantity of the order.
        quantity: u64,
    },
}
