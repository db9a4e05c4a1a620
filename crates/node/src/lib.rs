//! The p2pdex node actor: one task owns the books and every state change; the rest of the
//! program holds a cloneable [`NodeHandle`].
//!
//! This first version does book replication (DESIGN §4–5): it subscribes to the configured
//! markets, judges every gossip message ([`dex_protocol::validate`]) and feeds the verified
//! ones into one [`dex_book::Book`] per market, publishes own orders and updates, sends an
//! `alive` per own maker and market every `alive_interval`, suspends the orders of makers
//! silent for `silent_after` and restores them when heard again, and syncs books from up to
//! `start_peers` peers at start and from a maker's node when its `alive` root differs.
//!
//! # Structure
//! - [`NodeState`] is the pure core: bytes, pages and `now` in; [`Action`]s and
//!   [`NodeEvent`]s out. It reads no clock and does no I/O.
//! - The actor (`actor.rs`) is the shell: it reads the [`Clock`], drives the core from
//!   network events, commands and a ticker, and performs the actions through the
//!   [`dex_network::NetworkHandle`]. Sync requests run in small tasks whose answers come
//!   back to the actor as messages, so the actor never waits on a peer.
//! - [`NodeHandle`] sends commands over a bounded channel with a `oneshot` reply; events go
//!   out on a broadcast channel ([`NodeHandle::subscribe`]).
//!
//! # Adding a command (API, settlement)
//! Add a variant with its `reply: Reply<T>` to `Command`, a method on [`NodeHandle`] that
//! sends it with `ask`, and an arm in the actor's `on_command` that calls a method of
//! [`NodeState`] (decisions stay in the pure core) and performs the returned actions. A new
//! request-response protocol arrives as another `dex_network::Request` variant in the
//! actor's `on_network_event`, answered with `NetworkHandle::respond`.

mod actor;
mod chains;
mod clock;
mod config;
mod error;
mod ingest;
mod metrics;
mod state;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use dex_book::{Depth, OrderStatus};
use dex_network::{NetworkHandle, PeerId};
use dex_primitives::{B256, Lots, MarketId, OrderId, SignedOrder};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

pub use actor::spawn;
pub use chains::{intended_lock_params, lock_params};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{
    CapsConfig, ChainConfig, CrashHook, DEFAULT_GAS_RESERVE, LivenessConfig, NodeConfig,
    SettlementConfig, SyncConfig, TimingProblem,
};
pub use dex_network::Registry;
/// The settlement records a node reads back (own orders, swaps, trades).
pub use dex_store::{
    ClientOrder, Fill, LogEntry, OrderStatus as OwnOrderStatus, OwnOrder, OwnOrdersPage,
    SwapLogRow, SwapRecord, SwapsPage, TradeRecord, TxRef,
};
pub use dex_swap::Swap;
pub use error::Error;
pub use ingest::{GOSSIP_BATCH, GossipMeta, Ingest, PageMeta, QUEUE_PER_THREAD, Ready};
pub use metrics::NodeMetrics;
pub use state::{
    Action, Balance, BalanceReading, BookStats, ChainBatch, Counterparty, CounterpartyRecord,
    DEFAULT_EXPIRY_MS, Decision, NodeEvent, NodeState, OwnOrderEvent, PlaceOrder, StoreOp,
    TakerFundsQuery, TimeInForce, phase_name,
};
pub use state::{PeerStanding, STRIKE_MEMORY, STRIKES_TO_BAN, SYNC_BAN};

/// Most own orders or swaps one page should hold ([`NodeHandle::own_orders_page`],
/// [`NodeHandle::swaps_changed`]): the API's cap.
pub const PAGE: u32 = 1_000;

type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// Every entry of a paged list, oldest first: `page(after)` reads the [`PAGE`] entries
/// after the cursor `after`, from 0 until a page comes back short.
async fn read_all<T, F>(mut page: impl FnMut(u64) -> F) -> Result<Vec<T>, Error>
where
    F: std::future::Future<Output = Result<dex_store::Page<T>, Error>>,
{
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let read = page(after).await?;
        let full = read.items.len() == PAGE as usize;
        all.extend(read.items);
        after = read.cursor;
        if !full {
            return Ok(all);
        }
    }
}

/// What the handle asks of the actor.
#[derive(Debug)]
enum Command {
    PostOrder {
        order: SignedOrder,
        reply: Reply<OrderId>,
    },
    UpdateOrder {
        id: OrderId,
        remaining: Lots,
        reply: Reply<()>,
    },
    Digest {
        market: MarketId,
        reply: Reply<Vec<(OrderId, Lots)>>,
    },
    Stats {
        market: MarketId,
        reply: Reply<BookStats>,
    },
    Depth {
        market: MarketId,
        levels: usize,
        reply: Reply<Depth>,
    },
    Snapshot {
        market: MarketId,
        levels: usize,
        reply: Reply<SnapshotParts>,
    },
    PlaceOrder {
        request: PlaceOrder,
        reply: Reply<OwnOrder>,
    },
    Balances {
        reply: Reply<Vec<Balance>>,
    },
    CancelOwn {
        id: OrderId,
        reply: Reply<()>,
    },
    CancelAll {
        market: Option<MarketId>,
        reply: Reply<Vec<OrderId>>,
    },
    OwnOrders {
        market: Option<MarketId>,
        status: Option<dex_store::OrderStatus>,
        after: Option<u64>,
        limit: u32,
        reply: Reply<OwnOrdersPage>,
    },
    OwnOrder {
        id: OrderId,
        reply: Reply<(OwnOrder, Vec<(SwapRecord, Swap)>)>,
    },
    OwnOrderByClientId {
        client_order_id: String,
        reply: Reply<(OwnOrder, Vec<(SwapRecord, Swap)>)>,
    },
    Fills {
        market: Option<MarketId>,
        limit: u32,
        reply: Reply<Vec<dex_store::Fill>>,
    },
    Swaps {
        after: Option<u64>,
        limit: u32,
        reply: Reply<SwapsPage>,
    },
    SwapDetail {
        swap_id: B256,
        reply: Reply<(SwapRecord, Swap, Vec<SwapLogRow>)>,
    },
    Trades {
        market: MarketId,
        limit: u32,
        reply: Reply<Vec<TradeRecord>>,
    },
    ChainsUp {
        reply: Reply<Vec<u64>>,
    },
    Counterparties {
        reply: Reply<Vec<(Counterparty, CounterpartyRecord)>>,
    },
    Status {
        id: OrderId,
        reply: Reply<OrderStatus>,
    },
    Shutdown,
}

/// A market's book at one moment: what [`NodeHandle::snapshot`] answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookSnapshot {
    /// The book's revision ([`dex_book::Book::revision`]) the rest was read at.
    pub revision: u64,
    /// Aggregated depth, the levels asked for per side.
    pub depth: Depth,
    /// [`dex_book::Book::digest`]: keccak256 over every visible order's id and remaining
    /// quantity, sorted by id. Equal on nodes that offer the same orders with the same
    /// remaining quantities, whatever the depth asked for.
    pub digest: B256,
}

/// What the actor reads of a book for [`NodeHandle::snapshot`]: the digest is computed
/// from `orders` by the caller, off the actor.
#[derive(Debug)]
struct SnapshotParts {
    revision: u64,
    depth: Depth,
    /// [`dex_book::Book::visible_orders`].
    orders: Vec<(OrderId, Lots)>,
}

/// Books of fewer visible orders than this have their digest computed on the asking task;
/// larger ones on a blocking thread (about 0.1 ms of sorting and hashing per 1,000 orders,
/// too long to hold a runtime worker).
const DIGEST_INLINE: usize = 1_000;

/// [`dex_book::orders_digest`] of a book's visible orders, computed neither on the actor
/// nor, for a large book, on a runtime worker.
async fn digest_of(orders: Vec<(OrderId, Lots)>) -> Result<B256, Error> {
    if orders.len() < DIGEST_INLINE {
        return Ok(dex_book::orders_digest(orders));
    }
    // An error is a runtime shutting down (the digest itself cannot panic).
    tokio::task::spawn_blocking(move || dex_book::orders_digest(orders))
        .await
        .map_err(|_| Error::Stopped)
}

/// Each market's book revision ([`dex_book::Book::revision`]) as the actor last published
/// it. The actor publishes before it sends any answer to a command that may change a book,
/// before it performs actions (messages to peers) and before it sends the events of a turn: whoever got such an answer or event and reads
/// a revision here reads one that includes that change.
#[derive(Debug)]
struct BookRevisions(HashMap<MarketId, AtomicU64>);

impl BookRevisions {
    fn new(markets: impl IntoIterator<Item = MarketId>) -> Self {
        BookRevisions(
            markets
                .into_iter()
                .map(|market| (market, AtomicU64::new(0)))
                .collect(),
        )
    }

    /// Publishes the revision of each book the actor holds.
    fn publish(&self, state: &NodeState) {
        for (market, revision) in &self.0 {
            if let Some(book) = state.book(market) {
                // Release: a reader that sees the revision also sees what came before it.
                revision.store(book.revision(), Ordering::Release);
            }
        }
    }

    fn get(&self, market: &MarketId) -> Option<u64> {
        self.0
            .get(market)
            .map(|revision| revision.load(Ordering::Acquire))
    }
}

/// A cloneable handle to a running node.
#[derive(Debug, Clone)]
pub struct NodeHandle {
    commands: mpsc::Sender<Command>,
    revisions: Arc<BookRevisions>,
    events: broadcast::Sender<NodeEvent>,
    network: NetworkHandle,
    metrics: Arc<NodeMetrics>,
    /// Closed (its sender dropped) when the actor has stopped and dropped its database.
    stopped: watch::Receiver<()>,
}

impl NodeHandle {
    /// The node's libp2p peer id (the `peer` its own orders must name).
    pub fn peer_id(&self) -> PeerId {
        self.network.peer_id()
    }

    /// The node's network handle (listen addresses, dialing, peer scores, counters).
    pub fn network(&self) -> &NetworkHandle {
        &self.network
    }

    /// The node's counters.
    pub fn metrics(&self) -> &Arc<NodeMetrics> {
        &self.metrics
    }

    /// Book events from now on. A subscriber that falls behind by more than the configured
    /// capacity loses the oldest events and is told how many (`RecvError::Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<NodeEvent> {
        self.events.subscribe()
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)?
    }

    /// Posts an own order, signed by a trader key this node holds and naming this node's
    /// peer id: verified, put in the book, gossiped.
    pub async fn post_order(&self, order: SignedOrder) -> Result<OrderId, Error> {
        self.ask(|reply| Command::PostOrder { order, reply }).await
    }

    /// Lowers an own order's remaining quantity, signed by the node with the maker's key.
    pub async fn update_order(&self, id: OrderId, remaining: Lots) -> Result<(), Error> {
        self.ask(|reply| Command::UpdateOrder {
            id,
            remaining,
            reply,
        })
        .await
    }

    /// Cancels an own order (an update to zero).
    pub async fn cancel_order(&self, id: OrderId) -> Result<(), Error> {
        self.update_order(id, Lots::ZERO).await
    }

    /// The digest of a market's visible book; equal on nodes that hold the same orders.
    /// The actor only copies the orders out; the sort and the hashing happen off it.
    pub async fn digest(&self, market: MarketId) -> Result<B256, Error> {
        let orders = self.ask(|reply| Command::Digest { market, reply }).await?;
        digest_of(orders).await
    }

    /// Counts of a market's book.
    pub async fn stats(&self, market: MarketId) -> Result<BookStats, Error> {
        self.ask(|reply| Command::Stats { market, reply }).await
    }

    /// Aggregated depth of a market, `levels` per side.
    pub async fn depth(&self, market: MarketId, levels: usize) -> Result<Depth, Error> {
        self.ask(|reply| Command::Depth {
            market,
            levels,
            reply,
        })
        .await
    }

    /// A market's depth (`levels` per side) with the book's revision and digest, all read
    /// at one moment. While [`NodeHandle::book_revision`] answers the same revision, the
    /// depth and the digest are the same. The digest costs the actor a copy of every
    /// visible order's id and remaining quantity, and this task (or a blocking thread, for
    /// a large book) their sort and hashing: read it when it is wanted,
    /// [`NodeHandle::depth`] otherwise.
    pub async fn snapshot(&self, market: MarketId, levels: usize) -> Result<BookSnapshot, Error> {
        let parts = self
            .ask(|reply| Command::Snapshot {
                market,
                levels,
                reply,
            })
            .await?;
        Ok(BookSnapshot {
            revision: parts.revision,
            depth: parts.depth,
            digest: digest_of(parts.orders).await?,
        })
    }

    /// The revision of a market's book, without asking the actor; `None` for a market the
    /// node does not trade. It includes every change whose answer (to any caller) or event
    /// was sent before this call, so a depth read at this revision is as fresh as asking
    /// the actor: a client that placed or cancelled an order and got its answer sees it.
    pub fn book_revision(&self, market: &MarketId) -> Option<u64> {
        self.revisions.get(market)
    }

    /// What the books know of an order.
    pub async fn order_status(&self, id: OrderId) -> Result<OrderStatus, Error> {
        self.ask(|reply| Command::Status { id, reply }).await
    }

    /// Places an order the node signs with one of its trader keys (GTC or IOC): it takes
    /// what crosses in the book through swaps and rests the rest (GTC). Refused when
    /// settlement is off, a chain of the market is unreachable, or the order would lock
    /// more than the free balance of its asset ([`Error::InsufficientBalance`]; see
    /// [`NodeHandle::balances`] for how fresh that is).
    pub async fn place_order(&self, request: PlaceOrder) -> Result<OrderId, Error> {
        self.place(request).await.map(|order| order.id)
    }

    /// Like [`NodeHandle::place_order`], answering the order as placed (its status and
    /// remaining quantity once the takes it started were sent; `latest_update` is `None`).
    pub async fn place(&self, request: PlaceOrder) -> Result<OwnOrder, Error> {
        self.ask(|reply| Command::PlaceOrder { request, reply })
            .await
    }

    /// Every trader key's balance of every asset of the configured markets: on chain (as
    /// last read by the node, at most `balance_refresh` old while the chain answers),
    /// locked in swaps, reserved by open orders, and free. Empty for a relay node.
    pub async fn balances(&self) -> Result<Vec<Balance>, Error> {
        self.ask(|reply| Command::Balances { reply }).await
    }

    /// Cancels an own order (resting or IOC in progress). Swaps already started go on; takes
    /// still waiting for the maker's answer start none.
    pub async fn cancel_own_order(&self, id: OrderId) -> Result<(), Error> {
        self.ask(|reply| Command::CancelOwn { id, reply }).await
    }

    /// Cancels every open own order, of one market or of all; returns those cancelled.
    pub async fn cancel_all(&self, market: Option<MarketId>) -> Result<Vec<OrderId>, Error> {
        self.ask(|reply| Command::CancelAll { market, reply }).await
    }

    /// At most `limit` own orders in placement order, optionally of one market and status:
    /// with `after` (an [`OwnOrdersPage::cursor`] from before), those placed since, oldest
    /// first; without, the most recently placed first.
    pub async fn own_orders_page(
        &self,
        market: Option<MarketId>,
        status: Option<dex_store::OrderStatus>,
        after: Option<u64>,
        limit: u32,
    ) -> Result<OwnOrdersPage, Error> {
        self.ask(|reply| Command::OwnOrders {
            market,
            status,
            after,
            limit,
            reply,
        })
        .await
    }

    /// Own orders, oldest first, optionally of one market and status, read a page at a time
    /// so the node answers other work in between.
    pub async fn own_orders(
        &self,
        market: Option<MarketId>,
        status: Option<dex_store::OrderStatus>,
    ) -> Result<Vec<OwnOrder>, Error> {
        read_all(|after| self.own_orders_page(market, status, Some(after), PAGE)).await
    }

    /// One own order with the swaps that traded it.
    pub async fn own_order(
        &self,
        id: OrderId,
    ) -> Result<(OwnOrder, Vec<(SwapRecord, Swap)>), Error> {
        self.ask(|reply| Command::OwnOrder { id, reply }).await
    }

    /// The own order a client named `client_order_id` when placing it, with the swaps that
    /// traded it.
    pub async fn own_order_by_client_id(
        &self,
        client_order_id: String,
    ) -> Result<(OwnOrder, Vec<(SwapRecord, Swap)>), Error> {
        self.ask(|reply| Command::OwnOrderByClientId {
            client_order_id,
            reply,
        })
        .await
    }

    /// Fills of own orders (trades whose swap completed), newest first.
    pub async fn fills(
        &self,
        market: Option<MarketId>,
        limit: u32,
    ) -> Result<Vec<dex_store::Fill>, Error> {
        self.ask(|reply| Command::Fills {
            market,
            limit,
            reply,
        })
        .await
    }

    /// At most `limit` swaps with their current state, by their latest change: with
    /// `after` (a [`SwapsPage::cursor`] from before), those changed since, oldest change
    /// first; without, the most recently changed first. The node reads about `limit` swaps'
    /// worth of its log, however many swaps it ever made.
    pub async fn swaps_changed(&self, after: Option<u64>, limit: u32) -> Result<SwapsPage, Error> {
        self.ask(|reply| Command::Swaps {
            after,
            limit,
            reply,
        })
        .await
    }

    /// Every swap of this node, most recently changed first, read a page at a time so the
    /// node answers other work in between (for tests and tools: a client lists pages).
    pub async fn swaps(&self) -> Result<Vec<(SwapRecord, Swap)>, Error> {
        let mut all = read_all(|after| self.swaps_changed(Some(after), PAGE)).await?;
        // A swap that changed while the pages were read is listed at each of its changes.
        let mut seen = std::collections::HashSet::new();
        all.reverse();
        all.retain(|(record, _)| seen.insert(record.swap_id));
        Ok(all)
    }

    /// One swap with its event history.
    pub async fn swap(&self, swap_id: B256) -> Result<(SwapRecord, Swap, Vec<SwapLogRow>), Error> {
        self.ask(|reply| Command::SwapDetail { swap_id, reply })
            .await
    }

    /// Recent trades of a market this node took part in, newest first.
    pub async fn trades(&self, market: MarketId, limit: u32) -> Result<Vec<TradeRecord>, Error> {
        self.ask(|reply| Command::Trades {
            market,
            limit,
            reply,
        })
        .await
    }

    /// The chains that answer now (sorted): trading needs both chains of a market.
    pub async fn chains_up(&self) -> Result<Vec<u64>, Error> {
        self.ask(|reply| Command::ChainsUp { reply }).await
    }

    /// How the swaps with each peer and trader address ended, and who is refused for a
    /// while after failing repeatedly (sorted). Refused on a relay-only node.
    pub async fn counterparties(&self) -> Result<Vec<(Counterparty, CounterpartyRecord)>, Error> {
        self.ask(|reply| Command::Counterparties { reply }).await
    }

    /// Stops the node and its network, and returns once the actor has stopped: its
    /// database is closed (every write done) and its network shut down. Swaps in progress
    /// resume at the next start.
    pub async fn shutdown(&self) {
        // Already stopped is fine.
        let _ = self.commands.send(Command::Shutdown).await;
        let mut stopped = self.stopped.clone();
        // Errs once the actor dropped its side, i.e. has stopped.
        while stopped.changed().await.is_ok() {}
    }
}
