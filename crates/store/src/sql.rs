//! Row helpers shared by the store's queries.

use dex_primitives::{B256, Lots, OrderId, SignedUpdate, UnixMillis};
use dex_swap::{Action, Swap, SwapId};
use rusqlite::{Connection, OptionalExtension, Params, Transaction, params};

use crate::{Error, LogEntry, OrderStatus, OwnOrder, Result, SwapRecord, TradeRecord, records};

/// SQLite integers are i64; u64 values are stored bit for bit (values above i64::MAX read
/// back unchanged, they only sort differently, and no query sorts by them).
pub(crate) fn to_sql_u64(value: u64) -> i64 {
    value as i64
}

/// The inverse of [`to_sql_u64`].
pub(crate) fn from_sql_u64(value: i64) -> u64 {
    value as u64
}

/// Inserts a new own order; [`Error::DuplicateOrder`] if its id is stored already.
pub(crate) fn insert_own_order(conn: &Connection, order: &OwnOrder) -> Result<()> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO own_orders (order_id, market, signed_json, remaining, status, \
             latest_update_json, created_at, updated_at, client_order_id, client_request, ioc) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (order_id) DO NOTHING",
        )?
        .execute(params![
            order.id.0.as_slice(),
            order.signed.order.market.0.as_slice(),
            serde_json::to_string(&order.signed)?,
            to_sql_u64(order.remaining.0),
            order.status.as_str(),
            order
                .latest_update
                .as_ref()
                .map(serde_json::to_string)
                .transpose()?,
            to_sql_u64(order.created_at),
            to_sql_u64(order.updated_at),
            order.client.as_ref().map(|client| client.id.as_str()),
            order.client.as_ref().map(|client| client.request.as_str()),
            order.ioc,
        ])?;
    if inserted == 0 {
        return Err(Error::DuplicateOrder { order_id: order.id });
    }
    Ok(())
}

pub(crate) fn insert_swap_event(
    tx: &Transaction<'_>,
    swap_id: &SwapId,
    entry: &LogEntry,
    actions: &[Action],
    swap: &Swap,
    at: UnixMillis,
) -> Result<u64> {
    let phase = serde_json::to_value(swap.phase())?;
    let phase_name = phase
        .get("phase")
        .and_then(|name| name.as_str())
        .unwrap_or("unknown")
        .to_owned();
    tx.prepare_cached(
        "INSERT INTO swap_events (swap_id, at, entry_json, actions_json, phase, finished, \
         state_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        swap_id.as_slice(),
        to_sql_u64(at),
        serde_json::to_string(entry)?,
        serde_json::to_string(actions)?,
        phase_name,
        swap.is_finished(),
        serde_json::to_string(swap)?,
    ])?;
    Ok(from_sql_u64(tx.last_insert_rowid()))
}

/// The 32-byte values of the first column of every row of `query` (no parameters).
pub(crate) fn b256_column(conn: &Connection, query: &str) -> Result<Vec<B256>> {
    let mut statement = conn.prepare_cached(query)?;
    let rows = statement.query_map([], |row| row.get::<_, Vec<u8>>(0))?;
    rows.map(|row| records::b256(&row?)).collect()
}

/// Whether a swap with this id is stored.
pub(crate) fn swap_exists(tx: &Transaction<'_>, swap_id: &SwapId) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT 1 FROM swaps WHERE swap_id = ?1")?
        .exists(params![swap_id.as_slice()])?)
}

/// Swaps with their latest state, filtered by `condition` over `s` (swaps) and `e` (the
/// swap's last event), newest first.
pub(crate) fn swaps_where(
    conn: &Connection,
    condition: &str,
    params: impl Params,
) -> Result<Vec<(SwapRecord, Swap)>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT s.swap_id, s.market, s.own_order_id, s.counter_order_id, s.side, s.price, \
         s.quantity, s.peer, s.created_at, e.state_json \
         FROM swaps s JOIN swap_events e ON e.seq = \
         (SELECT MAX(seq) FROM swap_events WHERE swap_id = s.swap_id) \
         WHERE {condition} ORDER BY s.created_at DESC, s.swap_id"
    ))?;
    let rows = statement.query_map(params, records::swap_from_row)?;
    rows.map(|row| row?).collect()
}

/// Lowers an own order's remaining quantity (never raises it) and sets its status and, if
/// given, its latest signed update.
pub(crate) fn update_own_order(
    tx: &Transaction<'_>,
    order_id: &OrderId,
    remaining: Lots,
    status: OrderStatus,
    update: Option<&SignedUpdate>,
    at: UnixMillis,
) -> Result<()> {
    let current: Option<i64> = tx
        .prepare_cached("SELECT remaining FROM own_orders WHERE order_id = ?1")?
        .query_row(params![order_id.0.as_slice()], |row| row.get(0))
        .optional()?;
    let current = from_sql_u64(current.ok_or(Error::UnknownOrder {
        order_id: *order_id,
    })?);
    if remaining.0 > current {
        return Err(Error::RemainingIncrease {
            order_id: *order_id,
            current,
            requested: remaining.0,
        });
    }
    let update_json = update.map(serde_json::to_string).transpose()?;
    tx.prepare_cached(
        "UPDATE own_orders SET remaining = ?2, status = ?3, \
         latest_update_json = COALESCE(?4, latest_update_json), updated_at = ?5 \
         WHERE order_id = ?1",
    )?
    .execute(params![
        order_id.0.as_slice(),
        to_sql_u64(remaining.0),
        status.as_str(),
        update_json,
        to_sql_u64(at),
    ])?;
    Ok(())
}

/// Records a new swap and its initial state; [`Error::DuplicateSwap`] or
/// [`Error::HashlockReused`] if either is stored already.
pub(crate) fn create_swap(
    tx: &Transaction<'_>,
    record: &SwapRecord,
    swap: &Swap,
    at: UnixMillis,
) -> Result<()> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO swaps (swap_id, role, market, own_order_id, counter_order_id, \
             side, price, quantity, peer, created_at, hashlock) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            record.swap_id.as_slice(),
            serde_json::to_string(&swap.params().role)?,
            record.market.0.as_slice(),
            record.own_order_id.0.as_slice(),
            record.counter_order_id.0.as_slice(),
            record.side.as_u8(),
            to_sql_u64(record.price.0),
            to_sql_u64(record.quantity.0),
            record.peer,
            to_sql_u64(at),
            swap.params().hashlock.as_slice(),
        ])?;
    if inserted == 0 {
        return Err(if swap_exists(tx, &record.swap_id)? {
            Error::DuplicateSwap {
                swap_id: record.swap_id,
            }
        } else {
            Error::HashlockReused {
                hashlock: swap.params().hashlock,
            }
        });
    }
    insert_swap_event(tx, &record.swap_id, &LogEntry::Created, &[], swap, at)?;
    Ok(())
}

/// Records a trade.
pub(crate) fn insert_trade(tx: &Transaction<'_>, trade: &TradeRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO trades (market, price, quantity, taker_side, swap_id, at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        trade.market.0.as_slice(),
        to_sql_u64(trade.price.0),
        to_sql_u64(trade.quantity.0),
        trade.taker_side.as_u8(),
        trade.swap_id.map(|id| id.to_vec()),
        to_sql_u64(trade.at),
    ])?;
    Ok(())
}

/// Records a swap's commit of an own order's quantity with the order's new state; false
/// (and nothing changed) if this swap's commit is recorded already.
#[allow(clippy::too_many_arguments)]
pub(crate) fn commit_reservation(
    tx: &Transaction<'_>,
    swap_id: &SwapId,
    order_id: &OrderId,
    quantity: Lots,
    remaining: Lots,
    status: OrderStatus,
    update: Option<&SignedUpdate>,
    at: UnixMillis,
) -> Result<bool> {
    let inserted = tx
        .prepare_cached(
            "INSERT INTO reservation_commits (swap_id, order_id, quantity, at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (swap_id) DO NOTHING",
        )?
        .execute(params![
            swap_id.as_slice(),
            order_id.0.as_slice(),
            to_sql_u64(quantity.0),
            to_sql_u64(at),
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    update_own_order(tx, order_id, remaining, status, update, at)?;
    Ok(true)
}

/// Stores where the scan of a chain stopped.
pub(crate) fn set_chain_cursor(
    tx: &Transaction<'_>,
    chain_id: u64,
    block: u64,
    cursor: &str,
    at: UnixMillis,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO chain_cursors (chain_id, block, cursor_json, updated_at) \
         VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (chain_id) DO UPDATE SET block = ?2, cursor_json = ?3, updated_at = ?4",
    )?
    .execute(params![
        to_sql_u64(chain_id),
        to_sql_u64(block),
        cursor,
        to_sql_u64(at)
    ])?;
    Ok(())
}
