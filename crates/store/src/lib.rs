//! Persistence of a p2pdex node: its own orders, its swaps with their append-only event log,
//! the trades it saw, and the chain scan cursors, in one SQLite file (rusqlite, bundled).
//!
//! Durability follows what depends on a write (DESIGN §8): the database runs in WAL mode
//! with `synchronous=FULL`, so every commit is on disk (fsynced) when it returns, before
//! anything that depends on it runs: an order answered "placed", a reservation answered to
//! a taker, a swap step before its transaction. A power cut loses nothing that was
//! answered. What the node decides in one step is written by [`Store::apply`] in one
//! transaction (all of it or none), and placements arriving together share one commit
//! (group commit), so the fsync is paid per step, not per row. Remote orders are not
//! stored: peers re-sync them.
//!
//! The API is synchronous; the node calls it from a blocking task.

mod error;
mod migrations;
mod ops;
mod records;
mod sql;

use std::path::Path;

use dex_primitives::{Lots, MarketId, OrderId, SignedUpdate, UnixMillis};
use dex_swap::{Action, Swap, SwapId};
use rusqlite::{Connection, OptionalExtension, params};

pub use error::Error;
pub use ops::StoreOp;
pub use records::{
    ClientOrder, Fill, LogEntry, OrderStatus, OwnOrder, SwapLogRow, SwapRecord, TradeRecord, TxRef,
};
use sql::{from_sql_u64, to_sql_u64};

/// A page of a list kept in sequence order: own orders by placement
/// ([`Store::own_orders_page`]), swaps by their latest change ([`Store::swaps_changed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The entries, in the order asked for.
    pub items: Vec<T>,
    /// The latest sequence number among them (or the `after` asked with, 0 if none, when
    /// there are none): ask again with it to get only what came since.
    pub cursor: u64,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Page {
            items: Vec::new(),
            cursor: 0,
        }
    }
}

impl<T> Page<T> {
    /// Collects rows of (entry, sequence number) read after `after`.
    fn collect(
        rows: impl Iterator<Item = rusqlite::Result<Result<(T, u64)>>>,
        after: u64,
    ) -> Result<Self> {
        let mut page = Page {
            items: Vec::new(),
            cursor: after,
        };
        for row in rows {
            let (item, seq) = row??;
            page.cursor = page.cursor.max(seq);
            page.items.push(item);
        }
        Ok(page)
    }
}

/// Own orders in placement order.
pub type OwnOrdersPage = Page<OwnOrder>;
/// Swaps with their latest state, by their latest change.
pub type SwapsPage = Page<(SwapRecord, Swap)>;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The node's database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// The file is created readable by its owner only: it holds swap secrets.
    pub fn open(path: &Path) -> Result<Store> {
        if !path.exists() {
            create_private_file(path)?;
        }
        let conn = Connection::open(path)?;
        Store::init(conn)
    }

    /// A throw-away in-memory database (tests).
    pub fn open_in_memory() -> Result<Store> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Another process holding the file (a second node on the same data dir) makes
        // writes wait briefly, then fail clearly instead of corrupting anything.
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Every statement prepared once and kept: 21 call sites, the list queries in a few
        // shapes each (filters, order, limit), about 40 texts in all. At rusqlite's default
        // of 16 the API's list reads would push the placement insert out and have it
        // prepared again (tens of µs) after each.
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = Store { conn };
        migrations::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<u32> {
        migrations::version(&self.conn)
    }

    /// Whether a commit is on disk when it returns (`PRAGMA synchronous` is FULL or
    /// EXTRA): what every answer of the node relies on.
    pub fn is_durable(&self) -> Result<bool> {
        let level: i64 = self
            .conn
            .pragma_query_value(None, "synchronous", |row| row.get(0))?;
        Ok(level >= 2)
    }

    /// Runs `f` in one transaction: all of its writes are committed (durably), or none.
    fn durable<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = self.conn.transaction()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Writes what the node decided in one step, in order, in one transaction: every
    /// operation is on disk when this returns, or (on an error) none is.
    pub fn apply<'a>(
        &mut self,
        ops: impl IntoIterator<Item = &'a StoreOp>,
        at: UnixMillis,
    ) -> Result<()> {
        self.durable(|tx| ops.into_iter().try_for_each(|op| op.write(tx, at)))
    }

    // ---- own orders ----

    /// Records a new own order.
    pub fn insert_own_order(&mut self, order: &OwnOrder) -> Result<()> {
        self.durable(|tx| sql::insert_own_order(tx, order))
    }

    /// Records an own order's new remaining quantity and status, with the signed update
    /// that announced it (if any). Remaining never goes up.
    pub fn update_own_order(
        &mut self,
        order_id: &OrderId,
        remaining: Lots,
        status: OrderStatus,
        update: Option<&SignedUpdate>,
        at: UnixMillis,
    ) -> Result<()> {
        self.durable(|tx| sql::update_own_order(tx, order_id, remaining, status, update, at))
    }

    /// One own order.
    pub fn own_order(&self, order_id: &OrderId) -> Result<Option<OwnOrder>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {} FROM own_orders WHERE order_id = ?1",
                records::OWN_ORDER_COLUMNS
            ))?
            .query_row(params![order_id.0.as_slice()], records::own_order_from_row)
            .optional()?
            .transpose()
    }

    /// The own order a client named `client_order_id`.
    pub fn own_order_by_client_id(&self, client_order_id: &str) -> Result<Option<OwnOrder>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {} FROM own_orders WHERE client_order_id = ?1",
                records::OWN_ORDER_COLUMNS
            ))?
            .query_row(params![client_order_id], records::own_order_from_row)
            .optional()?
            .transpose()
    }

    /// Own orders, optionally of one market and/or one status, oldest first (in placement
    /// order). Read through the index of the market or the status when given: a node's
    /// open orders are found without passing over the closed ones.
    pub fn own_orders(
        &self,
        market: Option<&MarketId>,
        status: Option<OrderStatus>,
    ) -> Result<Vec<OwnOrder>> {
        Ok(self.own_orders_where(market, status, 0, "ASC", None)?.items)
    }

    /// At most `limit` own orders in the order they were placed, optionally of one market
    /// and status: with `after` (a [`Page::cursor`] from before), those placed after it,
    /// oldest first; without, the most recently placed first. The work is in the orders
    /// listed (found through the index of the market or the status), not in every order ever
    /// placed.
    pub fn own_orders_page(
        &self,
        market: Option<&MarketId>,
        status: Option<OrderStatus>,
        after: Option<u64>,
        limit: u32,
    ) -> Result<OwnOrdersPage> {
        let order = if after.is_some() { "ASC" } else { "DESC" };
        self.own_orders_where(market, status, after.unwrap_or(0), order, Some(limit))
    }

    fn own_orders_where(
        &self,
        market: Option<&MarketId>,
        status: Option<OrderStatus>,
        after: u64,
        order: &str,
        limit: Option<u32>,
    ) -> Result<OwnOrdersPage> {
        // One statement per combination of filters, so that the orders are read through the
        // index of what is asked (`?1 IS NULL OR market = ?1` would read them all).
        let mut values: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(to_sql_u64(after))];
        let mut filters = vec!["rowid > ?1".to_owned()];
        if let Some(market) = market {
            values.push(Box::new(market.0.to_vec()));
            filters.push(format!("market = ?{}", values.len()));
        }
        if let Some(status) = status {
            values.push(Box::new(status.as_str()));
            filters.push(format!("status = ?{}", values.len()));
        }
        let limit = match limit {
            Some(limit) => {
                values.push(Box::new(limit));
                format!(" LIMIT ?{}", values.len())
            }
            None => String::new(),
        };
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {}, rowid FROM own_orders WHERE {} ORDER BY rowid {order}{limit}",
            records::OWN_ORDER_COLUMNS,
            filters.join(" AND ")
        ))?;
        let rows = statement.query_map(rusqlite::params_from_iter(values.iter()), |row| {
            let seq: i64 = row.get(records::OWN_ORDER_COLUMN_COUNT)?;
            Ok(records::own_order_from_row(row)?.map(|order| (order, from_sql_u64(seq))))
        })?;
        Page::collect(rows, after)
    }

    // ---- swaps ----

    /// Records a new swap and its initial state in one durable transaction. For a maker
    /// this is also the persisted reservation: the swap's state holds it.
    pub fn create_swap(&mut self, record: &SwapRecord, swap: &Swap, at: UnixMillis) -> Result<()> {
        self.durable(|tx| sql::create_swap(tx, record, swap, at))
    }

    /// Appends one step of a swap — what happened, what it decided, the resulting state —
    /// durably. Call it before performing `actions`.
    pub fn append_swap_event(
        &mut self,
        swap_id: &SwapId,
        entry: &LogEntry,
        actions: &[Action],
        swap: &Swap,
        at: UnixMillis,
    ) -> Result<u64> {
        self.durable(|tx| sql::insert_swap_event(tx, swap_id, entry, actions, swap, at))
    }

    /// One swap with its latest state.
    pub fn swap(&self, swap_id: &SwapId) -> Result<Option<(SwapRecord, Swap)>> {
        let mut found =
            sql::swaps_where(&self.conn, "s.swap_id = ?1", params![swap_id.as_slice()])?;
        Ok(found.pop())
    }

    /// Every swap, newest first. Reads the whole log: for tests and tools; a node answers
    /// its clients page by page ([`Store::swaps_changed`]).
    pub fn swaps(&self) -> Result<Vec<(SwapRecord, Swap)>> {
        sql::swaps_where(&self.conn, "1 = 1", params![])
    }

    /// At most `limit` swaps by their latest change. Every step of a swap appends to its log,
    /// whose sequence numbers only grow, so a swap's latest entry says when it last changed.
    /// With `after`, the swaps whose latest change is past it, oldest change first: what a
    /// client following the swaps asks for, handing back [`SwapsPage::cursor`] each time.
    /// Without, the most recently changed first. The work is in the entries read (about
    /// `limit` swaps' worth, or the changes since `after`), not in the swaps ever made.
    pub fn swaps_changed(&self, after: Option<u64>, limit: u32) -> Result<SwapsPage> {
        let order = if after.is_some() { "ASC" } else { "DESC" };
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT s.swap_id, s.market, s.own_order_id, s.counter_order_id, s.side, s.price, \
             s.quantity, s.peer, s.created_at, e.state_json, e.seq \
             FROM swap_events e JOIN swaps s ON s.swap_id = e.swap_id \
             WHERE e.seq > ?1 AND e.seq = \
             (SELECT MAX(seq) FROM swap_events WHERE swap_id = e.swap_id) \
             ORDER BY e.seq {order} LIMIT ?2"
        ))?;
        let after = after.unwrap_or(0);
        let rows = statement.query_map(params![to_sql_u64(after), limit], |row| {
            let seq: i64 = row.get(10)?;
            Ok(records::swap_from_row(row)?.map(|swap| (swap, from_sql_u64(seq))))
        })?;
        Page::collect(rows, after)
    }

    /// Every finished swap with its final state and the local time of its last step (what
    /// the counterparty record is rebuilt from), oldest first.
    pub fn finished_swaps(&self) -> Result<Vec<(SwapRecord, Swap, UnixMillis)>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT s.swap_id, s.market, s.own_order_id, s.counter_order_id, s.side, s.price, \
             s.quantity, s.peer, s.created_at, e.state_json, e.at \
             FROM swaps s JOIN swap_events e ON e.seq = \
             (SELECT MAX(seq) FROM swap_events WHERE swap_id = s.swap_id) \
             WHERE e.finished = 1 ORDER BY e.at, s.swap_id",
        )?;
        let rows = statement.query_map(params![], |row| {
            let at: i64 = row.get(10)?;
            Ok(records::swap_from_row(row)?.map(|(record, swap)| (record, swap, from_sql_u64(at))))
        })?;
        rows.map(|row| row?).collect()
    }

    /// Swaps of one own order, oldest first.
    pub fn swaps_of_order(&self, order_id: &OrderId) -> Result<Vec<(SwapRecord, Swap)>> {
        let mut swaps = sql::swaps_where(
            &self.conn,
            "s.own_order_id = ?1",
            params![order_id.0.as_slice()],
        )?;
        swaps.reverse();
        Ok(swaps)
    }

    /// Whether any swap, finished or not, used this hashlock. A maker refuses a take whose
    /// hashlock it has seen before.
    pub fn hashlock_used(&self, hashlock: &dex_primitives::B256) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM swaps WHERE hashlock = ?1")?
            .exists(params![hashlock.as_slice()])?)
    }

    /// Swaps that are not finished: the ones a restarting node resumes.
    pub fn unfinished_swaps(&self) -> Result<Vec<(SwapRecord, Swap)>> {
        sql::swaps_where(&self.conn, "e.finished = 0", params![])
    }

    /// The event log of a swap, in order.
    pub fn swap_history(&self, swap_id: &SwapId) -> Result<Vec<SwapLogRow>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT seq, at, entry_json, actions_json, phase FROM swap_events \
             WHERE swap_id = ?1 ORDER BY seq",
        )?;
        let rows = statement.query_map(params![swap_id.as_slice()], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (seq, at, entry, actions, phase) = row?;
            Ok(SwapLogRow {
                seq: from_sql_u64(seq),
                at: from_sql_u64(at),
                entry: serde_json::from_str(&entry)?,
                actions: serde_json::from_str(&actions)?,
                phase,
            })
        })
        .collect()
    }

    // ---- trades ----

    /// Records a trade (own, from a completed swap; or seen).
    pub fn insert_trade(&mut self, trade: &TradeRecord) -> Result<()> {
        self.durable(|tx| sql::insert_trade(tx, trade))
    }

    /// The most recent trades of a market, newest first.
    pub fn recent_trades(&self, market: &MarketId, limit: u32) -> Result<Vec<TradeRecord>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT market, price, quantity, taker_side, swap_id, at FROM trades \
             WHERE market = ?1 ORDER BY at DESC, id DESC LIMIT ?2",
        )?;
        let rows =
            statement.query_map(params![market.0.as_slice(), limit], records::trade_from_row)?;
        rows.map(|row| row?).collect()
    }

    /// Fills of own orders (trades whose swap completed), newest first, optionally of one
    /// market.
    pub fn fills(&self, market: Option<&MarketId>, limit: u32) -> Result<Vec<Fill>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {} FROM trades t JOIN swaps s ON s.swap_id = t.swap_id \
             LEFT JOIN own_orders o ON o.order_id = s.own_order_id \
             WHERE (?1 IS NULL OR t.market = ?1) ORDER BY t.at DESC, t.id DESC LIMIT ?2",
            records::FILL_COLUMNS
        ))?;
        let rows = statement.query_map(
            params![market.map(|m| m.0.to_vec()), limit],
            records::fill_from_row,
        )?;
        rows.map(|row| row?).collect()
    }

    // ---- reservations committed to swaps ----

    /// Takes `quantity` of an own order for swap `swap_id` for good: records the commit and
    /// the order's new remaining quantity, status and signed update in one transaction.
    /// Returns false (and changes nothing) if this swap's commit is already recorded.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_reservation(
        &mut self,
        swap_id: &SwapId,
        order_id: &OrderId,
        quantity: Lots,
        remaining: Lots,
        status: OrderStatus,
        update: Option<&SignedUpdate>,
        at: UnixMillis,
    ) -> Result<bool> {
        self.durable(|tx| {
            sql::commit_reservation(
                tx, swap_id, order_id, quantity, remaining, status, update, at,
            )
        })
    }

    /// The swaps whose commit is recorded.
    pub fn committed_swaps(&self) -> Result<Vec<SwapId>> {
        sql::b256_column(&self.conn, "SELECT swap_id FROM reservation_commits")
    }

    /// Every hashlock any swap ever used.
    pub fn hashlocks(&self) -> Result<Vec<dex_primitives::B256>> {
        sql::b256_column(
            &self.conn,
            "SELECT hashlock FROM swaps WHERE hashlock IS NOT NULL",
        )
    }

    // ---- chain cursors ----

    /// Where the scan of a chain stopped: the next block, and the scanner's cursor (JSON).
    pub fn chain_cursor(&self, chain_id: u64) -> Result<Option<(u64, Option<String>)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT block, cursor_json FROM chain_cursors WHERE chain_id = ?1")?
            .query_row(params![to_sql_u64(chain_id)], |row| {
                Ok((
                    from_sql_u64(row.get::<_, i64>(0)?),
                    row.get::<_, Option<String>>(1)?,
                ))
            })
            .optional()?)
    }

    /// Stores where the scan of a chain stopped (after the events before it were handled).
    pub fn set_chain_cursor(
        &mut self,
        chain_id: u64,
        block: u64,
        cursor: &str,
        at: UnixMillis,
    ) -> Result<()> {
        self.durable(|tx| sql::set_chain_cursor(tx, chain_id, block, cursor, at))
    }
}

fn create_private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
    Ok(())
}
