//! Row helpers shared by the store's queries.

use dex_primitives::UnixMillis;
use dex_swap::{Action, Swap, SwapId};
use rusqlite::{Connection, Params, Transaction, params};

use crate::{LogEntry, Result, SwapRecord, records};

/// SQLite integers are i64; u64 values are stored bit for bit (values above i64::MAX read
/// back unchanged, they only sort differently, and no query sorts by them).
pub(crate) fn to_sql_u64(value: u64) -> i64 {
    value as i64
}

/// The inverse of [`to_sql_u64`].
pub(crate) fn from_sql_u64(value: i64) -> u64 {
    value as u64
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
