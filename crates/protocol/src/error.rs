use dex_primitives::{Address, MarketId, OrderId};

/// Everything that can be wrong with bytes received from a peer, or with a message built to
/// be sent. Each variant says whether a peer that sent it misbehaved ([`Error::is_fault`]):
/// faults are rejected (the sender's score drops), the rest are ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message is larger than the limit; it was not parsed.
    #[error("message of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a message of this protocol (bad JSON, unknown `type`, missing or
    /// unknown fields, malformed hex...).
    #[error("malformed message: {reason}")]
    Malformed {
        /// What the decoder said (truncated).
        reason: String,
    },
    /// The message was encoded into more bytes than the limit allows (a local bug or a
    /// request too large to send).
    #[error("encoding failed: {reason}")]
    Encode {
        /// What the encoder said.
        reason: String,
    },
    /// A signature or a trading rule failed (DESIGN §3); see [`dex_primitives::Error`].
    #[error("invalid {what}: {source}")]
    Invalid {
        /// `order`, `update` or `alive`.
        what: &'static str,
        /// The precise failure.
        #[source]
        source: dex_primitives::Error,
    },
    /// The order is already known (in the book, or seen and removed): nothing to do.
    #[error("duplicate order {id}")]
    DuplicateOrder {
        /// The order id.
        id: OrderId,
    },
    /// The update does not lower the remaining quantity below what is already known.
    #[error("stale update for order {id}: remaining {remaining} is not below the known {known}")]
    StaleUpdate {
        /// The order id.
        id: OrderId,
        /// Remaining in the update.
        remaining: u64,
        /// Remaining already known.
        known: u64,
    },
    /// The update names an order this node does not know; it cannot be checked.
    #[error("update for unknown order {id}")]
    UnknownOrder {
        /// The order id.
        id: OrderId,
    },
    /// The heartbeat is not newer than one already seen from the maker, or too old to matter.
    #[error(
        "stale alive from {maker} in market {market}: timestamp {timestamp}, newest known {newest}"
    )]
    StaleAlive {
        /// The maker.
        maker: Address,
        /// The market.
        market: MarketId,
        /// Its timestamp.
        timestamp: u64,
        /// The newest timestamp already known (or the oldest still accepted).
        newest: u64,
    },
    /// The market is not one this node trades (configuration differs between nodes).
    #[error("market {market} is not configured on this node")]
    UnknownMarket {
        /// The market id.
        market: MarketId,
    },
    /// The message arrived on a topic it does not belong to.
    #[error("message for topic {expected} arrived on topic {got}")]
    WrongTopic {
        /// The topic it belongs to.
        expected: String,
        /// The topic it arrived on.
        got: String,
    },
    /// A sync page answers another market than the one asked for, or breaks the cursor order.
    #[error("bad sync page: {reason}")]
    BadPage {
        /// What is wrong.
        reason: String,
    },
    /// A sync request asks for more than the protocol allows.
    #[error("sync limit {limit} exceeds the maximum {max}")]
    LimitTooLarge {
        /// The requested limit.
        limit: u32,
        /// The maximum.
        max: u32,
    },
}

impl Error {
    /// True when the sender misbehaved: a correct peer never sends this, whatever its clock
    /// or configuration. Faults are `Reject`ed (peer score drops); everything else is
    /// `Ignore`d (dropped, not forwarded, no penalty).
    pub fn is_fault(&self) -> bool {
        match self {
            Error::TooLarge { .. }
            | Error::Malformed { .. }
            | Error::WrongTopic { .. }
            | Error::BadPage { .. }
            | Error::LimitTooLarge { .. } => true,
            Error::Invalid { source, .. } => primitive_is_fault(source),
            Error::Encode { .. }
            | Error::DuplicateOrder { .. }
            | Error::StaleUpdate { .. }
            | Error::UnknownOrder { .. }
            | Error::StaleAlive { .. }
            | Error::UnknownMarket { .. } => false,
        }
    }

    /// A short stable label for counters and logs (`too_large`, `bad_signature`...).
    pub fn label(&self) -> &'static str {
        match self {
            Error::TooLarge { .. } => "too_large",
            Error::Malformed { .. } => "malformed",
            Error::Encode { .. } => "encode",
            Error::Invalid { source, .. } => match source {
                dex_primitives::Error::InvalidRecoveryId { .. }
                | dex_primitives::Error::HighS
                | dex_primitives::Error::InvalidSignature
                | dex_primitives::Error::SignerMismatch { .. } => "bad_signature",
                dex_primitives::Error::Expired { .. } => "expired",
                dex_primitives::Error::CreatedInFuture { .. } => "future",
                _ if primitive_is_fault(source) => "invalid",
                _ => "policy",
            },
            Error::DuplicateOrder { .. } => "duplicate",
            Error::StaleUpdate { .. } => "stale_update",
            Error::UnknownOrder { .. } => "unknown_order",
            Error::StaleAlive { .. } => "stale_alive",
            Error::UnknownMarket { .. } => "unknown_market",
            Error::WrongTopic { .. } => "wrong_topic",
            Error::BadPage { .. } => "bad_page",
            Error::LimitTooLarge { .. } => "limit_too_large",
        }
    }
}

/// Which failures of a signed message are the sender's fault. Time and policy limits depend
/// on the receiver's clock and configuration, so an honest peer can trip them: those are
/// ignored, not punished.
fn primitive_is_fault(error: &dex_primitives::Error) -> bool {
    use dex_primitives::Error as P;
    !matches!(
        error,
        P::Expired { .. }
            | P::CreatedInFuture { .. }
            | P::LifetimeTooLong { .. }
            | P::UnknownMarket { .. }
            | P::Randomness { .. }
    )
}
