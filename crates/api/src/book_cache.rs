//! The serialised answers of the book route, kept per market while the book's revision
//! stays the same.
//!
//! A book read that finds its answer here asks the node nothing: it reads the book's
//! revision from the handle ([`NodeHandle::book_revision`], an atomic the node publishes
//! before it answers any command that may change a book) and answers the bytes kept for
//! that revision. Profiles of the route under load showed its time going to the decimal
//! strings and the JSON of the levels and to the round trip through the node's actor, not
//! to the book itself; a quiet book (the common case between changes) costs neither here.
//!
//! Freshness is that of asking the node: the revision counts every change of the book, and
//! the node publishes it before the answer to the placement or cancel that made the
//! change, so a client that got that answer misses the cache on its next read.
//!
//! Reads that miss together ask once: a read that misses waits for its market's turn
//! ([`BookCache::fill_turn`]) and looks again before asking, so the reads that arrive
//! while one asks take its answer. Asking costs the node a pass over the whole book (its
//! digest); without turns, 32 readers of a changed 100,000-order book asked 32 times, one
//! after the other on the node's actor, which then did nothing else for 670 ms.
//!
//! Memory: one answer per market (the last depth read), at most the configured maximum
//! depth of levels.

use std::{collections::HashMap, sync::Mutex};

use axum::body::Bytes;
use dex_node::NodeHandle;
use dex_primitives::{MarketId, Markets};

/// One market's last answer.
#[derive(Debug)]
struct Cached {
    revision: u64,
    depth: usize,
    body: Bytes,
}

/// The last book answer of each configured market.
#[derive(Debug)]
pub(crate) struct BookCache {
    /// Fixed at start (the configured markets): one lock per market, so reads of different
    /// markets never wait for each other.
    markets: HashMap<MarketId, Mutex<Option<Cached>>>,
    /// Per market, held by the read that asks the node (see [`BookCache::fill_turn`]).
    turns: HashMap<MarketId, tokio::sync::Mutex<()>>,
}

impl BookCache {
    pub(crate) fn new(markets: &Markets) -> Self {
        BookCache {
            markets: markets
                .iter()
                .map(|market| (market.id(), Mutex::new(None)))
                .collect(),
            turns: markets
                .iter()
                .map(|market| (market.id(), tokio::sync::Mutex::new(())))
                .collect(),
        }
    }

    /// The answer for `depth` levels of `market`, if one is kept for the book's current
    /// revision.
    pub(crate) fn get(&self, node: &NodeHandle, market: MarketId, depth: usize) -> Option<Bytes> {
        let revision = node.book_revision(&market)?;
        let cached = self.markets.get(&market)?.lock().ok()?;
        cached
            .as_ref()
            .filter(|cached| cached.revision == revision && cached.depth == depth)
            .map(|cached| cached.body.clone())
    }

    /// Waits until no other read of `market` is asking the node, and holds that turn until
    /// the guard drops: a read that missed takes its turn, then looks again (the read ahead
    /// may have kept the answer it wants) before asking. Turns are first come, first
    /// served. `None` for a market not configured.
    pub(crate) async fn fill_turn(
        &self,
        market: MarketId,
    ) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        Some(self.turns.get(&market)?.lock().await)
    }

    /// Keeps the answer for `depth` levels of `market` at `revision` (read with the depth),
    /// replacing the market's previous one.
    pub(crate) fn put(&self, market: MarketId, revision: u64, depth: usize, body: Bytes) {
        if let Some(Ok(mut cached)) = self.markets.get(&market).map(Mutex::lock) {
            *cached = Some(Cached {
                revision,
                depth,
                body,
            });
        }
    }
}
