use dex_primitives::OrderId;
use dex_swap::SwapId;

/// What can go wrong reading or writing the node's database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite failed (disk full, locked by another process, corrupt file, ...).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON column does not decode: the file was written by an incompatible
    /// version or edited by hand.
    #[error("stored data does not decode: {0}")]
    Json(#[from] serde_json::Error),
    /// Creating the database file failed.
    #[error("cannot create {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database was written by a newer p2pdex whose schema this version does not know.
    #[error(
        "database schema version {found} is newer than this program's {supported}; upgrade p2pdex"
    )]
    SchemaTooNew {
        /// Version in the file.
        found: u32,
        /// Newest version this program knows.
        supported: u32,
    },
    /// The order is already stored.
    #[error("order {order_id} is already stored")]
    DuplicateOrder {
        /// The order.
        order_id: OrderId,
    },
    /// No such own order.
    #[error("no own order {order_id}")]
    UnknownOrder {
        /// The order.
        order_id: OrderId,
    },
    /// Remaining quantity only goes down.
    #[error("order {order_id}: remaining cannot go from {current} up to {requested}")]
    RemainingIncrease {
        /// The order.
        order_id: OrderId,
        /// Stored remaining.
        current: u64,
        /// Requested remaining.
        requested: u64,
    },
    /// The swap is already stored.
    #[error("swap {swap_id} is already stored")]
    DuplicateSwap {
        /// The swap.
        swap_id: SwapId,
    },
    /// Another swap already used this hashlock.
    #[error("hashlock {hashlock} was already used by another swap")]
    HashlockReused {
        /// The hashlock.
        hashlock: dex_primitives::B256,
    },
    /// A stored value is out of its domain (e.g. a side byte of 7).
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
}
