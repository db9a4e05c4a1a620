use libp2p::PeerId;

/// Everything the network layer can fail at, as seen by the holder of a
/// [`crate::NetworkHandle`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The event loop has stopped (shut down or crashed); the handle is useless now.
    #[error("the network event loop is not running")]
    Stopped,
    /// Building the transport or a behaviour failed at start.
    #[error("cannot start the network: {reason}")]
    Setup {
        /// What failed.
        reason: String,
    },
    /// Listening on an address failed.
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// Dialing a peer failed.
    #[error("cannot dial {address}: {reason}")]
    Dial {
        /// The address or peer.
        address: String,
        /// Why.
        reason: String,
    },
    /// Subscribing to a topic failed.
    #[error("cannot subscribe to {topic}: {reason}")]
    Subscribe {
        /// The topic.
        topic: String,
        /// Why.
        reason: String,
    },
    /// Gossipsub refused to publish (no peers, duplicate, queue full, too large).
    #[error("cannot publish on {topic}: {reason}")]
    Publish {
        /// The topic.
        topic: String,
        /// Why.
        reason: String,
    },
    /// An outbound request failed (timeout, connection closed, protocol unsupported, refused).
    #[error("request to {peer} failed: {reason}")]
    Request {
        /// The peer asked.
        peer: PeerId,
        /// Why.
        reason: String,
    },
    /// The answer to a request could not be sent (the requester left or the request expired).
    #[error("response could not be sent: {reason}")]
    Respond {
        /// Why.
        reason: String,
    },
    /// A message could not be encoded within the protocol's limits.
    #[error(transparent)]
    Protocol(#[from] dex_protocol::Error),
}
