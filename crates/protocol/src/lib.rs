//! The p2pdex wire protocol: what peers send each other and how a node judges it.
//!
//! - [`GossipMessage`]: `order`, `update` and `alive`, gossiped on the topics named by
//!   [`market_topic`] and [`ALIVE_TOPIC`].
//! - [`sync`]: the request-response messages of [`SYNC_PROTOCOL`] (`GetOrders` → `OrdersPage`).
//! - [`codec`]: serde_json tagged by `type`, with a hard size limit checked before parsing.
//! - [`validate`]: bytes in, a [`Verdict`] out (`Accept` / `Reject` / `Ignore`), which the
//!   network layer turns into gossipsub's validation result.
//!
//! An `alive`'s `ordersRoot` is `dex_book::orders_digest` over the maker's open orders
//! (`Book::maker_root`), so the book and the heartbeat cannot disagree on its definition.
//!
//! Everything here is pure: no I/O, no clock (`now` is passed in), no async runtime. The
//! take (`/p2pdex/take/1`) and swap (`/p2pdex/swap/1`) messages of the settlement work are
//! added as sibling modules of [`sync`], each a request type and a response type implementing
//! [`WireMessage`], so the network's generic JSON codec carries them unchanged.

pub mod codec;
mod error;
mod gossip;
pub mod sync;
pub mod take;
mod validate;

pub use codec::{MAX_GOSSIP_SIZE, MAX_REQUEST_SIZE, MAX_RESPONSE_SIZE, WireMessage};
pub use error::Error;
pub use gossip::{ALIVE_TOPIC, GossipMessage, MARKET_TOPIC_PREFIX, market_of_topic, market_topic};
pub use validate::{
    Decoded, EntryAhead, KnownOrder, SeenState, ValidationContext, Verdict, VerifiedMessage,
    classify, decode_ahead, entry_needs_signatures, recover_page_ahead, validate, validate_decoded,
    validate_synced,
};

/// Protocol name of order-book sync (request-response).
pub const SYNC_PROTOCOL: &str = "/p2pdex/sync/1";
/// Protocol name of take requests (settlement work; reserved here so names stay in one place).
pub const TAKE_PROTOCOL: &str = "/p2pdex/take/1";
/// Protocol name of swap messages (settlement work; reserved here).
pub const SWAP_PROTOCOL: &str = "/p2pdex/swap/1";
