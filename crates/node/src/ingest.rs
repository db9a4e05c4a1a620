//! Ingest on every core: received gossip and sync pages are decoded and their signers
//! recovered on a bounded pool of verification threads, then judged and applied by the
//! actor in the order they arrived.
//!
//! Signer recovery is most of the cost of a received order and needs no state
//! ([`dex_protocol::decode_ahead`], [`dex_protocol::recover_page_ahead`]); every check that
//! reads the books stays on the actor ([`crate::NodeState::on_gossip_decoded`],
//! [`crate::NodeState::on_page`]), which sees each item only when the work ahead of it
//! is done, in arrival order. Verdicts therefore reach gossipsub, which forwards nothing
//! before them, exactly as without the pool, and the books change in the same order.
//!
//! A lone gossip message arriving while nothing waits is judged by the actor at once
//! (the pool's hop would only add latency to a node that keeps up); the pool takes over
//! as soon as messages queue up.
//!
//! Bounds: the pool's queue holds [`QUEUE_PER_THREAD`] jobs per thread; when it is full
//! the actor does the work itself (so a flood slows intake, it never queues without
//! bound). Items waiting for their turn are capped by the caller ([`Ingest::is_full`]):
//! the actor stops reading the network while it is full.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, mpsc},
    thread,
};

use dex_network::{GossipIn, MessageId, PeerId};
use dex_protocol::{
    Decoded, EntryAhead, decode_ahead, recover_page_ahead,
    sync::{SyncRequest, SyncResponse},
};
use tokio::sync::oneshot;
use tracing::warn;

/// Jobs queued per verification thread before the actor does the work itself.
pub const QUEUE_PER_THREAD: usize = 16;
/// Gossip messages decoded by one job: enough to make a job's overhead negligible, few
/// enough that a burst is spread over every thread.
pub const GOSSIP_BATCH: usize = 8;
/// Entries of a page recovered by one job.
const PAGE_CHUNK: usize = 125;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads running jobs from a bounded queue. The threads live as long as
/// the process.
#[derive(Debug)]
struct Pool {
    jobs: mpsc::SyncSender<Job>,
}

/// The pools of this process by size: nodes in one process (tests, benchmarks, a devnet)
/// with the same `verify_threads` share one pool, so the process has one verification
/// thread per core, not one per core per node.
static POOLS: Mutex<Vec<(usize, Arc<Pool>)>> = Mutex::new(Vec::new());

impl Pool {
    /// The process's pool of `threads` threads, started on first use.
    fn shared(threads: usize) -> std::io::Result<Arc<Pool>> {
        let mut pools = POOLS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, pool)) = pools.iter().find(|(size, _)| *size == threads) {
            return Ok(pool.clone());
        }
        let pool = Arc::new(Pool::new(threads)?);
        pools.push((threads, pool.clone()));
        Ok(pool)
    }

    fn new(threads: usize) -> std::io::Result<Pool> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(threads * QUEUE_PER_THREAD);
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads {
            let queue = queue.clone();
            thread::Builder::new()
                .name(format!("dex-verify-{index}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take a job, not to run it.
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Pool { jobs })
    }

    /// Runs `work` on the pool, or here when the queue is full.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> oneshot::Receiver<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        if let Err(mpsc::TrySendError::Full(job) | mpsc::TrySendError::Disconnected(job)) =
            self.jobs.try_send(job)
        {
            job();
        }
        result
    }
}

/// A gossip message waiting for its turn: what the verdict is reported with.
#[derive(Debug)]
pub struct GossipMeta {
    /// The peer it came from.
    pub source: PeerId,
    /// Its gossipsub id.
    pub message_id: MessageId,
    /// Its topic.
    pub topic: String,
}

/// A sync page waiting for its turn.
#[derive(Debug)]
pub struct PageMeta {
    /// The peer that answered.
    pub peer: PeerId,
    /// What was asked.
    pub request: SyncRequest,
    /// The answer.
    pub response: SyncResponse,
}

/// Work whose turn has come, with what was done ahead.
#[derive(Debug)]
pub enum Ready {
    /// Gossip messages, decoded and their signers recovered, in arrival order; `None` for
    /// one whose work was lost (a verification thread panicked): it cannot be judged.
    Gossip(Vec<(GossipMeta, Option<Decoded>)>),
    /// A sync page with the signers of its entries recovered (one per entry; an entry
    /// without them is checked as usual).
    Page(Box<PageMeta>, Vec<EntryAhead>),
}

#[derive(Debug)]
enum Pending {
    Gossip(Vec<GossipMeta>, oneshot::Receiver<Vec<Decoded>>),
    Page(Box<PageMeta>, Vec<Chunk>),
}

/// A part of a page's work ahead: waiting, or done (kept, so that waiting for the next
/// part can be cancelled and resumed).
#[derive(Debug)]
enum Chunk {
    Waiting(oneshot::Receiver<Vec<EntryAhead>>, usize),
    Done(Vec<EntryAhead>),
}

/// The pool and the queue of items in arrival order.
#[derive(Debug)]
pub struct Ingest {
    /// `None`: everything is done on the caller's thread when it arrives.
    pool: Option<Arc<Pool>>,
    pending: VecDeque<Pending>,
    /// Gossip messages and pages waiting, at most.
    max_pending: usize,
    waiting: usize,
}

impl Ingest {
    /// The process's pool of `threads` verification threads (none: every item is worked on
    /// at once by the caller) and room for `max_pending` items waiting for their turn.
    pub fn new(threads: usize, max_pending: usize) -> Ingest {
        let pool = match threads {
            0 => None,
            threads => match Pool::shared(threads) {
                Ok(pool) => Some(pool),
                Err(err) => {
                    warn!(%err, "verification threads not started; verifying on the node's task");
                    None
                }
            },
        };
        Ingest {
            pool,
            pending: VecDeque::new(),
            max_pending: max_pending.max(1),
            waiting: 0,
        }
    }

    /// No room for more items: the caller waits for [`Ingest::next`] before reading more.
    pub fn is_full(&self) -> bool {
        self.waiting >= self.max_pending
    }

    /// Items waiting for their turn.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Room for `more` items.
    pub fn has_room_for(&self, more: usize) -> bool {
        self.waiting.saturating_add(more) <= self.max_pending
    }

    /// Queues gossip messages (in arrival order), decoded ahead in batches.
    pub fn gossip(&mut self, messages: Vec<GossipIn>) {
        let mut messages = messages.into_iter().peekable();
        while messages.peek().is_some() {
            let mut metas = Vec::with_capacity(GOSSIP_BATCH);
            let mut datas = Vec::with_capacity(GOSSIP_BATCH);
            for gossip in messages.by_ref().take(GOSSIP_BATCH) {
                metas.push(GossipMeta {
                    source: gossip.source,
                    message_id: gossip.message_id,
                    topic: gossip.topic,
                });
                datas.push(gossip.data);
            }
            let work = move || datas.iter().map(|data| decode_ahead(data)).collect();
            let result = self.run(work);
            self.waiting += metas.len();
            self.pending.push_back(Pending::Gossip(metas, result));
        }
    }

    /// Queues a sync page whose entries marked in `needed` get their signers recovered
    /// ahead (see [`dex_protocol::entry_needs_signatures`]).
    pub fn page(&mut self, page: PageMeta, needed: Vec<bool>) {
        let entries = match &page.response {
            SyncResponse::OrdersPage { orders, .. } => orders.clone(),
            _ => Vec::new(),
        };
        let mut chunks = Vec::new();
        for (index, chunk) in entries.chunks(PAGE_CHUNK).enumerate() {
            let start = index * PAGE_CHUNK;
            let mask: Vec<bool> = needed
                .get(start..start + chunk.len())
                .map_or_else(|| vec![false; chunk.len()], <[bool]>::to_vec);
            if !mask.contains(&true) {
                chunks.push(Chunk::Done(vec![EntryAhead::default(); chunk.len()]));
                continue;
            }
            let len = chunk.len();
            let chunk = chunk.to_vec();
            chunks.push(Chunk::Waiting(
                self.run(move || recover_page_ahead(&chunk, &mask)),
                len,
            ));
        }
        self.waiting += 1;
        self.pending
            .push_back(Pending::Page(Box::new(page), chunks));
    }

    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> oneshot::Receiver<T> {
        match &self.pool {
            Some(pool) => pool.run(work),
            None => {
                let (done, result) = oneshot::channel();
                let _ = done.send(work());
                result
            }
        }
    }

    /// The next item in arrival order once its work ahead is done; `None` at once when
    /// nothing waits. Cancel-safe: an item is removed only when it is returned.
    pub async fn next(&mut self) -> Option<Ready> {
        let ready = match self.pending.front_mut()? {
            Pending::Gossip(_, result) => {
                // A job that did not finish (a panicked thread) leaves its messages
                // undecoded; they are judged without work ahead.
                // Nothing is awaited between the answer and the removal below.
                let decoded = result.await.unwrap_or_default();
                let Some(Pending::Gossip(metas, _)) = self.pending.pop_front() else {
                    unreachable!("the front item was just matched as gossip")
                };
                let mut decoded = decoded.into_iter();
                Ready::Gossip(
                    metas
                        .into_iter()
                        .map(|meta| (meta, decoded.next()))
                        .collect(),
                )
            }
            Pending::Page(_, chunks) => {
                for chunk in chunks.iter_mut() {
                    if let Chunk::Waiting(result, len) = chunk {
                        // Lost work (a panicked thread): the entries are checked as usual.
                        let ahead = result
                            .await
                            .unwrap_or_else(|_| vec![EntryAhead::default(); *len]);
                        *chunk = Chunk::Done(ahead);
                    }
                }
                let Some(Pending::Page(page, chunks)) = self.pending.pop_front() else {
                    unreachable!("the front item was just matched as a page")
                };
                let ahead = chunks
                    .into_iter()
                    .flat_map(|chunk| match chunk {
                        Chunk::Done(ahead) => ahead,
                        Chunk::Waiting(_, len) => vec![EntryAhead::default(); len],
                    })
                    .collect();
                Ready::Page(page, ahead)
            }
        };
        self.waiting -= match &ready {
            Ready::Gossip(items) => items.len(),
            Ready::Page(..) => 1,
        };
        Some(ready)
    }
}
