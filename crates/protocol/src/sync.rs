//! `/p2pdex/sync/1`: a joining (or lagging) node pages through a peer's book of a market.
//!
//! Pages are ordered by order id; the cursor is the last id of the previous page (exclusive),
//! so paging is stable while the book changes and a node can resume where it stopped.

use std::collections::HashSet;

use dex_primitives::{Address, MarketId, OrderId, SignedAlive, SignedOrder, SignedUpdate};
use serde::{Deserialize, Serialize};

use crate::{Error, MAX_REQUEST_SIZE, MAX_RESPONSE_SIZE, WireMessage};

/// Largest page a peer may ask for (and a node answers with).
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// A sync request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum SyncRequest {
    /// The open orders of `market` with ids above `cursor`, at most `limit` of them.
    GetOrders {
        /// The market.
        market: MarketId,
        /// Last order id of the previous page; `None` for the first page.
        cursor: Option<OrderId>,
        /// Page size, 1 to [`MAX_PAGE_LIMIT`].
        limit: u32,
        /// Only this maker's orders (a peer whose `alive` root differs from ours); all
        /// makers when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maker: Option<Address>,
    },
}

impl SyncRequest {
    /// Checks what a decoder cannot: the page limit.
    pub fn check(&self) -> Result<(), Error> {
        match self {
            SyncRequest::GetOrders { limit, .. } if *limit == 0 || *limit > MAX_PAGE_LIMIT => {
                Err(Error::LimitTooLarge {
                    limit: *limit,
                    max: MAX_PAGE_LIMIT,
                })
            }
            SyncRequest::GetOrders { .. } => Ok(()),
        }
    }
}

impl WireMessage for SyncRequest {
    const MAX_SIZE: usize = MAX_REQUEST_SIZE;
}

/// One order of a page with the lowest-remaining update its sender knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageEntry {
    /// The signed order.
    pub order: SignedOrder,
    /// Its latest update, if any.
    pub update: Option<SignedUpdate>,
}

/// A sync answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum SyncResponse {
    /// A page of open orders in ascending id order.
    OrdersPage {
        /// The market asked for.
        market: MarketId,
        /// The orders.
        orders: Vec<PageEntry>,
        /// Cursor for the next page; `None` when this was the last.
        next_cursor: Option<OrderId>,
        /// The newest heartbeat the peer holds of each maker of `orders` heard from lately
        /// (at most one per maker): a joining node shows a synced maker's orders at once
        /// instead of waiting up to a heartbeat interval to learn it is alive. Each is
        /// signed by its maker, so a peer can only forward heartbeats, not make them up.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        alives: Vec<SignedAlive>,
    },
    /// The peer will not answer (unknown market, bad request, busy).
    Refused {
        /// Why, for logs.
        reason: String,
    },
}

impl WireMessage for SyncResponse {
    const MAX_SIZE: usize = MAX_RESPONSE_SIZE;
}

impl SyncResponse {
    /// Checks that a page answers `request`: same market, no more than `limit` entries, ids
    /// strictly ascending and above the cursor, a next cursor only after at least one
    /// entry (it is the last id, so paging always moves forward and an empty page ends it),
    /// and heartbeats only of the page's market and makers, one per maker.
    /// Returns the ids of the entries, so the caller does not hash the orders twice.
    /// Signatures are checked per entry later.
    pub fn check_page(&self, request: &SyncRequest) -> Result<Vec<OrderId>, Error> {
        let SyncRequest::GetOrders {
            market,
            cursor,
            limit,
            maker,
        } = request;
        let SyncResponse::OrdersPage {
            market: page_market,
            orders,
            next_cursor,
            alives,
        } = self
        else {
            return Ok(Vec::new());
        };
        let bad = |reason: String| Err(Error::BadPage { reason });
        if page_market != market {
            return bad(format!("asked for market {market}, got {page_market}"));
        }
        if orders.len() > *limit as usize {
            return bad(format!("{} entries for a limit of {limit}", orders.len()));
        }
        let mut ids = Vec::with_capacity(orders.len());
        let mut previous = *cursor;
        for entry in orders {
            if entry.order.order.market != *market {
                return bad(format!("an order of market {}", entry.order.order.market));
            }
            if maker.is_some_and(|maker| maker != entry.order.order.maker) {
                return bad(format!("an order of maker {}", entry.order.order.maker));
            }
            let id = entry.order.order.id();
            if previous.is_some_and(|previous| id <= previous) {
                return bad(format!("order {id} is out of cursor order"));
            }
            previous = Some(id);
            ids.push(id);
        }
        if !alives.is_empty() {
            // Each maker of the page may have one heartbeat: removed from the set once seen.
            let mut makers: HashSet<Address> =
                orders.iter().map(|entry| entry.order.order.maker).collect();
            for signed in alives {
                let alive = &signed.alive;
                if alive.market != *market {
                    return bad(format!("a heartbeat of market {}", alive.market));
                }
                if !makers.remove(&alive.maker) {
                    return bad(format!(
                        "a heartbeat of maker {} who has no order here or one already",
                        alive.maker
                    ));
                }
            }
        }
        match (next_cursor, ids.last()) {
            (Some(next), Some(last)) if next != last => {
                bad(format!("next cursor {next} is not the last id {last}"))
            }
            (Some(next), None) => bad(format!("next cursor {next} after an empty page")),
            _ => Ok(ids),
        }
    }
}
