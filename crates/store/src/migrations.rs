//! Versioned schema migrations, tracked in SQLite's `user_version`.
//!
//! Each entry upgrades the schema from version `index` to `index + 1`, in one transaction.
//! Entries are never edited once released; changes are new entries.

use rusqlite::Connection;

use crate::{Error, Result};

const MIGRATIONS: &[&str] = &[
    // 0 → 1: the first schema.
    "
    CREATE TABLE own_orders (
        order_id           BLOB PRIMARY KEY,
        market             BLOB NOT NULL,
        signed_json        TEXT NOT NULL,
        remaining          INTEGER NOT NULL,
        status             TEXT NOT NULL,
        latest_update_json TEXT,
        created_at         INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL
    );
    CREATE INDEX own_orders_by_market ON own_orders (market, status);

    CREATE TABLE swaps (
        swap_id          BLOB PRIMARY KEY,
        role             TEXT NOT NULL,
        market           BLOB NOT NULL,
        own_order_id     BLOB NOT NULL,
        counter_order_id BLOB NOT NULL,
        side             INTEGER NOT NULL,
        price            INTEGER NOT NULL,
        quantity         INTEGER NOT NULL,
        peer             TEXT NOT NULL,
        created_at       INTEGER NOT NULL
    );
    CREATE INDEX swaps_by_order ON swaps (own_order_id);

    -- Append-only: rows are inserted, never updated or deleted. The last row of a swap
    -- holds its current state.
    CREATE TABLE swap_events (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        swap_id      BLOB NOT NULL REFERENCES swaps (swap_id),
        at           INTEGER NOT NULL,
        entry_json   TEXT NOT NULL,
        actions_json TEXT NOT NULL,
        phase        TEXT NOT NULL,
        finished     INTEGER NOT NULL,
        state_json   TEXT NOT NULL
    );
    CREATE INDEX swap_events_by_swap ON swap_events (swap_id, seq);
    CREATE TRIGGER swap_events_append_only_update BEFORE UPDATE ON swap_events
        BEGIN SELECT RAISE(ABORT, 'swap_events is append-only'); END;
    CREATE TRIGGER swap_events_append_only_delete BEFORE DELETE ON swap_events
        BEGIN SELECT RAISE(ABORT, 'swap_events is append-only'); END;

    CREATE TABLE trades (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        market     BLOB NOT NULL,
        price      INTEGER NOT NULL,
        quantity   INTEGER NOT NULL,
        taker_side INTEGER NOT NULL,
        swap_id    BLOB,
        at         INTEGER NOT NULL
    );
    CREATE INDEX trades_by_market ON trades (market, at);

    CREATE TABLE chain_cursors (
        chain_id   INTEGER PRIMARY KEY,
        block      INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    ",
    // 1 → 2: one hashlock per swap, ever. A maker recognises a lock by its terms and
    // hashlock, so two swaps sharing a hashlock could both accept a single lock of the taker
    // (and the maker would lock twice against it). Finished swaps count too: an old lock
    // with the same hashlock must not satisfy a new swap.
    "
    ALTER TABLE swaps ADD COLUMN hashlock BLOB;
    CREATE UNIQUE INDEX swaps_by_hashlock ON swaps (hashlock);
    ",
    // 2 → 3: scan cursors keep the hashes of the last blocks read (reorg detection), and the
    // quantity each swap committed out of an own order is recorded once, in the same
    // transaction that lowers the order, so a restart never commits it twice.
    "
    ALTER TABLE chain_cursors ADD COLUMN cursor_json TEXT;
    CREATE TABLE reservation_commits (
        swap_id  BLOB PRIMARY KEY,
        order_id BLOB NOT NULL,
        quantity INTEGER NOT NULL,
        at       INTEGER NOT NULL
    );
    ",
    // 3 → 4: a client's own id of an order (`clientOrderId`), unique per node, with the
    // placement it named, so that the same id placed again answers the same order and a
    // different placement under it is refused.
    "
    ALTER TABLE own_orders ADD COLUMN client_order_id TEXT;
    ALTER TABLE own_orders ADD COLUMN client_request TEXT;
    CREATE UNIQUE INDEX own_orders_by_client_id ON own_orders (client_order_id);
    ",
    // 4 → 5: open orders across markets (what a restart restores, what a client's stream
    // starts from) are found through an index, not by reading every order ever placed.
    "
    CREATE INDEX own_orders_by_status ON own_orders (status);
    ",
    // 5 → 6: whether an own order is immediate-or-cancel. A restart must not put one that
    // was still open (its takes lost with the stop) into the book as a resting order.
    // Orders stored before are taken as resting (GTC), as they were restored until now.
    "
    ALTER TABLE own_orders ADD COLUMN ioc INTEGER NOT NULL DEFAULT 0;
    ",
];

/// The newest schema version this program knows.
pub(crate) const LATEST: u32 = MIGRATIONS.len() as u32;

pub(crate) fn version(conn: &Connection) -> Result<u32> {
    Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        // IMMEDIATE takes the write lock before reading the version, so two processes
        // opening the same new file cannot both run a migration.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let found = version(&tx)?;
        if found > LATEST {
            return Err(Error::SchemaTooNew {
                found,
                supported: LATEST,
            });
        }
        let Some(script) = MIGRATIONS.get(found as usize) else {
            return Ok(());
        };
        tx.execute_batch(script)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
    }
}
