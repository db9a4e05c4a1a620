//! The records the store reads and writes.

use dex_primitives::{
    B256, Lots, MarketId, OrderId, Side, SignedOrder, SignedUpdate, Ticks, UnixMillis,
};
use dex_swap::{Action, Event, Swap, SwapId};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, sql::from_sql_u64};

/// Lifecycle of an own order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// In the book (possibly partly filled).
    Open,
    /// Fully filled.
    Filled,
    /// Cancelled by its maker (or the unfilled rest of an IOC order).
    Cancelled,
    /// Past its expiry.
    Expired,
}

impl OrderStatus {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Filled => "filled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
        }
    }

    fn parse(text: &str) -> Result<OrderStatus> {
        Ok(match text {
            "open" => OrderStatus::Open,
            "filled" => OrderStatus::Filled,
            "cancelled" => OrderStatus::Cancelled,
            "expired" => OrderStatus::Expired,
            other => return Err(Error::Corrupt(format!("order status {other:?}"))),
        })
    }
}

/// An order this node placed for one of its trader keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnOrder {
    /// The order id.
    pub id: OrderId,
    /// The signed order as gossiped.
    pub signed: SignedOrder,
    /// Remaining quantity as last signed.
    pub remaining: Lots,
    /// Lifecycle state.
    pub status: OrderStatus,
    /// The latest signed update, re-gossiped on restart and in sync answers.
    pub latest_update: Option<SignedUpdate>,
    /// Local time it was placed.
    pub created_at: UnixMillis,
    /// Local time of the last change.
    pub updated_at: UnixMillis,
    /// The client's own id of the order, if it gave one.
    pub client: Option<ClientOrder>,
    /// Immediate-or-cancel: it never rests in the book, and a restart ends it if it is
    /// still open (its takes in flight ended with the stop).
    pub ioc: bool,
}

/// A client's own id of an order (unique per node) and the placement it named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOrder {
    /// The id, as the client gave it.
    pub id: String,
    /// The placement, in a canonical form: the same placement gives the same text.
    pub request: String,
}

/// The number of [`OWN_ORDER_COLUMNS`]: the index of a column selected after them.
pub(crate) const OWN_ORDER_COLUMN_COUNT: usize = 10;

pub(crate) const OWN_ORDER_COLUMNS: &str = "order_id, signed_json, remaining, status, \
     latest_update_json, created_at, updated_at, client_order_id, client_request, ioc";

pub(crate) fn own_order_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<OwnOrder>> {
    let id: Vec<u8> = row.get(0)?;
    let signed: String = row.get(1)?;
    let remaining: i64 = row.get(2)?;
    let status: String = row.get(3)?;
    let update: Option<String> = row.get(4)?;
    let created_at: i64 = row.get(5)?;
    let updated_at: i64 = row.get(6)?;
    let client_id: Option<String> = row.get(7)?;
    let client_request: Option<String> = row.get(8)?;
    let ioc: bool = row.get(9)?;
    Ok((|| {
        Ok(OwnOrder {
            id: OrderId(b256(&id)?),
            signed: serde_json::from_str(&signed)?,
            remaining: Lots(from_sql_u64(remaining)),
            status: OrderStatus::parse(&status)?,
            latest_update: update.as_deref().map(serde_json::from_str).transpose()?,
            created_at: from_sql_u64(created_at),
            updated_at: from_sql_u64(updated_at),
            client: client_id.map(|id| ClientOrder {
                id,
                request: client_request.unwrap_or_default(),
            }),
            ioc,
        })
    })())
}

/// What a swap is about, fixed when it is created. Its evolving state is the [`Swap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapRecord {
    /// The swap id.
    pub swap_id: SwapId,
    /// The market.
    pub market: MarketId,
    /// Our order in the trade (the maker's resting order, or the taker's order).
    pub own_order_id: OrderId,
    /// The counterparty's order.
    pub counter_order_id: OrderId,
    /// Our side of the trade.
    pub side: Side,
    /// Trade price (the maker's price).
    pub price: Ticks,
    /// Trade quantity.
    pub quantity: Lots,
    /// The counterparty's peer id.
    pub peer: String,
    /// Local time it was created.
    pub created_at: UnixMillis,
}

pub(crate) fn swap_from_row(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<(SwapRecord, Swap)>> {
    let swap_id: Vec<u8> = row.get(0)?;
    let market: Vec<u8> = row.get(1)?;
    let own_order: Vec<u8> = row.get(2)?;
    let counter_order: Vec<u8> = row.get(3)?;
    let side: u8 = row.get(4)?;
    let price: i64 = row.get(5)?;
    let quantity: i64 = row.get(6)?;
    let peer: String = row.get(7)?;
    let created_at: i64 = row.get(8)?;
    let state: String = row.get(9)?;
    Ok((|| {
        let record = SwapRecord {
            swap_id: b256(&swap_id)?,
            market: MarketId(b256(&market)?),
            own_order_id: OrderId(b256(&own_order)?),
            counter_order_id: OrderId(b256(&counter_order)?),
            side: Side::try_from(side).map_err(|err| Error::Corrupt(err.to_string()))?,
            price: Ticks(from_sql_u64(price)),
            quantity: Lots(from_sql_u64(quantity)),
            peer,
            created_at: from_sql_u64(created_at),
        };
        Ok((record, serde_json::from_str(&state)?))
    })())
}

/// What a swap log row records as its cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum LogEntry {
    /// The swap was created (take accepted).
    Created,
    /// An event was handled.
    Event {
        /// The event.
        event: Box<Event>,
        /// The transaction whose chain log it was, for events read from a chain (locks,
        /// claims, refunds): what a person looks up in a block explorer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tx: Option<TxRef>,
    },
    /// The node restarted and resumed the swap.
    Resumed,
}

/// Where on a chain an event was read: the chain, the transaction that emitted it, its
/// block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxRef {
    /// Chain id.
    pub chain_id: u64,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Block number.
    pub block: u64,
}

/// One row of a swap's event history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapLogRow {
    /// Position in the log (global, increasing).
    pub seq: u64,
    /// Local time.
    pub at: UnixMillis,
    /// What happened.
    pub entry: LogEntry,
    /// What the swap decided to do.
    pub actions: Vec<Action>,
    /// The phase after it.
    pub phase: String,
}

/// A trade in a market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRecord {
    /// The market.
    pub market: MarketId,
    /// Price in ticks.
    pub price: Ticks,
    /// Quantity in lots.
    pub quantity: Lots,
    /// The taker's side.
    pub taker_side: Side,
    /// The swap, for trades this node took part in.
    pub swap_id: Option<SwapId>,
    /// Local time.
    pub at: UnixMillis,
}

/// A fill of an own order: a trade of this node, whose swap completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The trade (its `swap_id` is set).
    pub trade: TradeRecord,
    /// The own order it filled.
    pub order_id: OrderId,
    /// That order's side.
    pub side: Side,
    /// That order's client order id, if it had one.
    pub client_order_id: Option<String>,
}

pub(crate) const FILL_COLUMNS: &str = "t.market, t.price, t.quantity, t.taker_side, t.swap_id, \
     t.at, s.own_order_id, s.side, o.client_order_id";

pub(crate) fn fill_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Fill>> {
    let trade = trade_from_row(row)?;
    let order_id: Vec<u8> = row.get(6)?;
    let side: u8 = row.get(7)?;
    let client_order_id: Option<String> = row.get(8)?;
    Ok((|| {
        Ok(Fill {
            trade: trade?,
            order_id: OrderId(b256(&order_id)?),
            side: Side::try_from(side).map_err(|err| Error::Corrupt(err.to_string()))?,
            client_order_id,
        })
    })())
}

pub(crate) fn trade_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<TradeRecord>> {
    let market: Vec<u8> = row.get(0)?;
    let price: i64 = row.get(1)?;
    let quantity: i64 = row.get(2)?;
    let side: u8 = row.get(3)?;
    let swap_id: Option<Vec<u8>> = row.get(4)?;
    let at: i64 = row.get(5)?;
    Ok((|| {
        Ok(TradeRecord {
            market: MarketId(b256(&market)?),
            price: Ticks(from_sql_u64(price)),
            quantity: Lots(from_sql_u64(quantity)),
            taker_side: Side::try_from(side).map_err(|err| Error::Corrupt(err.to_string()))?,
            swap_id: swap_id.as_deref().map(b256).transpose()?,
            at: from_sql_u64(at),
        })
    })())
}

pub(crate) fn b256(bytes: &[u8]) -> Result<B256> {
    <[u8; 32]>::try_from(bytes)
        .map(B256::from)
        .map_err(|_| Error::Corrupt(format!("{} bytes where 32 were expected", bytes.len())))
}
