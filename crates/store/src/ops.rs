//! The writes a node decides, as values: the core returns them, the shell hands them to
//! [`crate::Store::apply`], which writes one step's in one transaction.

use dex_primitives::{Lots, OrderId, SignedUpdate, UnixMillis};
use dex_swap::{Action, Swap, SwapId};
use rusqlite::Transaction;

use crate::{LogEntry, OrderStatus, OwnOrder, Result, SwapRecord, TradeRecord, sql};

/// One write of the node's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// A new own order.
    InsertOrder(Box<OwnOrder>),
    /// An own order's new remaining, status and latest signed update.
    UpdateOrder {
        /// The order.
        id: OrderId,
        /// Its remaining quantity.
        remaining: Lots,
        /// Its status.
        status: OrderStatus,
        /// The update that announced it, if any.
        update: Option<SignedUpdate>,
    },
    /// A swap's quantity taken out of an own order, with the order's new state, once
    /// (written again, it changes nothing).
    Commit {
        /// The swap.
        swap_id: SwapId,
        /// The own order.
        order: OrderId,
        /// Lots committed.
        quantity: Lots,
        /// The order's remaining after it.
        remaining: Lots,
        /// The order's status after it.
        status: OrderStatus,
        /// The signed update announcing it.
        update: Option<SignedUpdate>,
    },
    /// A new swap (for a maker, this is the persisted reservation).
    CreateSwap {
        /// What it trades.
        record: Box<SwapRecord>,
        /// Its initial state.
        swap: Box<Swap>,
    },
    /// A step of a swap, written before its actions run.
    AppendSwap {
        /// The swap.
        swap_id: SwapId,
        /// What happened.
        entry: Box<LogEntry>,
        /// What it decided.
        actions: Vec<Action>,
        /// Its state after it.
        swap: Box<Swap>,
    },
    /// A trade this node took part in.
    Trade(TradeRecord),
    /// Where a chain's scan stopped, after the batch's events were handled.
    Cursor {
        /// The chain.
        chain_id: u64,
        /// The next block to scan.
        block: u64,
        /// The scanner's cursor as JSON.
        cursor: String,
    },
}

impl StoreOp {
    /// Writes this operation inside `tx` at local time `at`.
    pub(crate) fn write(&self, tx: &Transaction<'_>, at: UnixMillis) -> Result<()> {
        match self {
            StoreOp::InsertOrder(order) => sql::insert_own_order(tx, order),
            StoreOp::UpdateOrder {
                id,
                remaining,
                status,
                update,
            } => sql::update_own_order(tx, id, *remaining, *status, update.as_ref(), at),
            StoreOp::Commit {
                swap_id,
                order,
                quantity,
                remaining,
                status,
                update,
            } => sql::commit_reservation(
                tx,
                swap_id,
                order,
                *quantity,
                *remaining,
                *status,
                update.as_ref(),
                at,
            )
            .map(|_| ()),
            StoreOp::CreateSwap { record, swap } => sql::create_swap(tx, record, swap, at),
            StoreOp::AppendSwap {
                swap_id,
                entry,
                actions,
                swap,
            } => sql::insert_swap_event(tx, swap_id, entry, actions, swap, at).map(|_| ()),
            StoreOp::Trade(trade) => sql::insert_trade(tx, trade),
            StoreOp::Cursor {
                chain_id,
                block,
                cursor,
            } => sql::set_chain_cursor(tx, *chain_id, *block, cursor, at),
        }
    }
}
