//! JSON encoding with hard size limits, shared by every message type of the protocol.
//!
//! The size is checked before any parsing, so an oversized message costs nothing but its
//! length check. Messages are serde_json objects tagged by a `type` field.

use serde::{Serialize, de::DeserializeOwned};

use crate::Error;

/// Largest gossip message accepted or sent: 64 KiB.
pub const MAX_GOSSIP_SIZE: usize = 64 * 1024;
/// Largest request-response request accepted or sent: 64 KiB.
pub const MAX_REQUEST_SIZE: usize = 64 * 1024;
/// Largest request-response answer accepted or sent: 2 MiB. The largest page an honest
/// peer sends (1,000 orders with updates, each by its own maker with a heartbeat, every
/// field at its longest) is about 1.52 MB
/// (`the_largest_honest_page_fits_the_response_limit`); the codec reads up to this many
/// bytes of a peer's answer before anything is checked, so it is kept close to that.
pub const MAX_RESPONSE_SIZE: usize = 2 * 1024 * 1024;

/// How many characters of a decoder error are kept; peers control that text.
const MAX_REASON_LEN: usize = 200;

/// A message of the wire protocol: JSON with a size limit.
///
/// Implemented by the gossip message and by each request and response type; a new
/// request-response protocol (take, swap) implements it for its two types and gets the
/// network's codec for free.
pub trait WireMessage: Serialize + DeserializeOwned + Send + 'static {
    /// The largest encoding accepted or produced, in bytes.
    const MAX_SIZE: usize;

    /// Decodes `bytes`, refusing anything over [`WireMessage::MAX_SIZE`] before parsing.
    fn decode(bytes: &[u8]) -> Result<Self, Error> {
        check_size(bytes.len(), Self::MAX_SIZE)?;
        serde_json::from_slice(bytes).map_err(|err| Error::Malformed {
            reason: truncate(err.to_string()),
        })
    }

    /// Encodes to JSON, refusing to produce more than [`WireMessage::MAX_SIZE`] bytes.
    fn encode(&self) -> Result<Vec<u8>, Error> {
        let bytes = serde_json::to_vec(self).map_err(|err| Error::Encode {
            reason: err.to_string(),
        })?;
        check_size(bytes.len(), Self::MAX_SIZE).map_err(|_| Error::Encode {
            reason: format!(
                "{} bytes exceed the limit of {} bytes",
                bytes.len(),
                Self::MAX_SIZE
            ),
        })?;
        Ok(bytes)
    }
}

/// `Err(TooLarge)` when `size > max`.
pub fn check_size(size: usize, max: usize) -> Result<(), Error> {
    if size > max {
        Err(Error::TooLarge { size, max })
    } else {
        Ok(())
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_REASON_LEN {
        let mut end = MAX_REASON_LEN;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}
