//! The shell around [`NodeState`]: reads the clock, drives the core, performs its actions.

use std::{sync::Arc, time::Duration};

use dex_chain::{RpcWork, ScanCursor};
use dex_network::{Keypair, NetworkEvent, NetworkHandle, PeerId, Request, Response};
use dex_primitives::B256;
use dex_protocol::{
    sync::{SyncRequest, SyncResponse},
    take::{TakeAnswer, TakeMessage},
};
use dex_store::{OwnOrder, Store};
use tokio::sync::{Semaphore, broadcast, mpsc, watch};
use tracing::{Instrument, debug, debug_span, error, info, info_span, warn};

use crate::{
    Action, BookRevisions, ChainBatch, Clock, Command, Decision, Error, GOSSIP_BATCH, Ingest,
    NodeConfig, NodeEvent, NodeHandle, NodeMetrics, NodeState, PageMeta, PlaceOrder, Ready,
    Registry, Reply, SnapshotParts, StoreOp,
    chains::{ChainReport, Chains},
};

/// A take request received, with the taker's balance read from its chain, back to the
/// actor to be judged and answered.
#[derive(Debug)]
struct FundedTake {
    peer: PeerId,
    id: dex_network::RequestId,
    message: Box<TakeMessage>,
    balance: Option<dex_primitives::U256>,
}

/// Take requests whose taker balance is being read at once; more are judged unread (and
/// refused): a flood of requests cannot queue unbounded chain reads.
const MAX_TAKE_READS: usize = 32;

/// How long the read of a taker's balance may take before the request is refused.
const TAKE_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The answer to a take request this node sent, back to the actor.
#[derive(Debug)]
struct TakeResult {
    request_id: B256,
    result: Result<TakeAnswer, String>,
}

/// The most place commands whose new orders are stored by one commit.
const PLACE_BATCH: usize = 64;

/// Answers of sync requests, sent back to the actor by the request tasks.
#[derive(Debug)]
struct SyncAnswer {
    peer: PeerId,
    request: SyncRequest,
    result: Result<SyncResponse, dex_network::Error>,
}

/// The actor task's state.
struct Actor {
    state: NodeState,
    clock: Arc<dyn Clock>,
    network: NetworkHandle,
    network_events: mpsc::Receiver<NetworkEvent>,
    /// Received gossip and sync pages, worked on ahead by the verification pool and taken
    /// back in arrival order.
    ingest: Ingest,
    commands: mpsc::Receiver<Command>,
    answers_tx: mpsc::Sender<SyncAnswer>,
    answers: mpsc::Receiver<SyncAnswer>,
    events: broadcast::Sender<NodeEvent>,
    revisions: Arc<BookRevisions>,
    sync_slots: Arc<Semaphore>,
    metrics: Arc<NodeMetrics>,
    tick_interval: Duration,
    /// The node's database; `None` for a relay-only node.
    store: Option<Store>,
    /// The chains' event loops.
    chains: Chains,
    take_results_tx: mpsc::Sender<TakeResult>,
    take_results: mpsc::Receiver<TakeResult>,
    funded_takes_tx: mpsc::Sender<FundedTake>,
    funded_takes: mpsc::Receiver<FundedTake>,
    take_reads: Arc<Semaphore>,
    crash_after: Option<crate::CrashHook>,
    crashed: bool,
    /// Dropped when the actor stops (after the database): [`NodeHandle::shutdown`] waits
    /// for it.
    _stopped: watch::Sender<()>,
}

/// Starts a node: its network (listening, bootstrap dialed), its topic subscriptions and
/// its actor task on the current tokio runtime. `hash_seed` seeds the books' hashers.
///
/// The node's counters and families ([`NodeMetrics::register`]) and its network's
/// ([`dex_network::spawn`]) are added to `registry`.
pub async fn spawn(
    config: NodeConfig,
    keypair: Keypair,
    clock: Arc<dyn Clock>,
    hash_seed: u64,
    registry: &mut Registry,
) -> Result<NodeHandle, Error> {
    // The database first: a node that cannot open it must not start trading blind.
    let store = match &config.settlement {
        Some(settlement) => Some(Store::open(&settlement.database)?),
        None => None,
    };
    let (network, network_events) =
        dex_network::spawn(keypair, config.network.clone(), registry).await?;
    let metrics = Arc::new(NodeMetrics::default());
    metrics.register(registry);
    let mut state = NodeState::new(&config, network.peer_id(), hash_seed, metrics.clone());
    for topic in state.topics() {
        network.subscribe(topic).await?;
    }
    state.heartbeat_soon();
    let revisions = Arc::new(BookRevisions::new(
        config.markets.iter().map(|market| market.id()),
    ));
    let (command_tx, commands) = mpsc::channel(config.command_queue.max(1));
    let (events, _) = broadcast::channel(config.event_capacity.max(1));
    // Answers are few (one per page in flight), bounded by the sync slots.
    let (answers_tx, answers) = mpsc::channel(config.sync.max_concurrent.max(1) * 2);
    let (take_results_tx, take_results) = mpsc::channel(256);
    let (funded_takes_tx, funded_takes) = mpsc::channel(MAX_TAKE_READS);
    let (stopped, stopped_rx) = watch::channel(());
    let mut chains = Chains::default();
    let mut restored = Decision::default();
    if let (Some(settlement), Some(store)) = (&config.settlement, &store) {
        let now = clock.now();
        state.restore_counterparties(store.finished_swaps()?);
        restored = state.restore(
            store.own_orders(None, Some(dex_store::OrderStatus::Open))?,
            store.unfinished_swaps()?,
            store.committed_swaps()?,
            store.hashlocks()?,
            now,
        );
        for chain in &settlement.chains {
            let cursor = store
                .chain_cursor(chain.chain_id)?
                .and_then(|(block, json)| match json {
                    Some(json) => serde_json::from_str::<ScanCursor>(&json).ok(),
                    None => Some(ScanCursor::from_block(block)),
                });
            // The assets of the configured markets on this chain, whose balances it reads,
            // and the native coin, which pays for the swaps' transactions there.
            let mut tokens: Vec<dex_primitives::Address> = config
                .markets
                .iter()
                .flat_map(|market| {
                    let def = market.def();
                    [
                        (def.base_chain, def.base_token),
                        (def.quote_chain, def.quote_token),
                    ]
                })
                .filter(|(chain_id, _)| *chain_id == chain.chain_id)
                .map(|(_, token)| token)
                .chain([dex_primitives::Address::ZERO])
                .collect();
            tokens.sort_unstable();
            tokens.dedup();
            chains.spawn(
                chain,
                config.traders.clone(),
                cursor,
                tokens,
                settlement.balance_refresh,
                clock.clone(),
            );
        }
    }
    let actor = Actor {
        state,
        clock,
        network: network.clone(),
        network_events,
        commands,
        answers_tx,
        answers,
        events: events.clone(),
        revisions: revisions.clone(),
        sync_slots: Arc::new(Semaphore::new(config.sync.max_concurrent.max(1))),
        ingest: Ingest::new(config.verify_threads, config.ingest_queue),
        metrics: metrics.clone(),
        tick_interval: config.tick_interval,
        store,
        chains,
        take_results_tx,
        take_results,
        funded_takes_tx,
        funded_takes,
        take_reads: Arc::new(Semaphore::new(MAX_TAKE_READS)),
        crash_after: config
            .settlement
            .as_ref()
            .and_then(|settlement| settlement.crash_after.clone()),
        crashed: false,
        _stopped: stopped,
    };
    let span = info_span!("node", peer = %network.peer_id());
    tokio::spawn(actor.start(restored).instrument(span));
    Ok(NodeHandle {
        commands: command_tx,
        revisions,
        events,
        network,
        metrics,
        stopped: stopped_rx,
    })
}

impl Actor {
    /// Performs what restoring the database asked (resumed swaps), then runs.
    async fn start(mut self, restored: Decision) {
        self.perform(restored).await;
        self.run().await;
    }

    async fn run(mut self) {
        if self.crashed {
            self.stop().await;
            return;
        }
        let mut ticker = tokio::time::interval(self.tick_interval.max(Duration::from_millis(1)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(Command::PlaceOrder { request, reply }) => {
                        // The batch ends at the first other command, handled right after.
                        match self.on_place_orders(request, reply).await {
                            Some(Command::Shutdown) => break,
                            Some(command) => self.on_command(command).await,
                            None => {}
                        }
                    }
                    Some(command) => self.on_command(command).await,
                },
                Some(ready) = self.ingest.next() => self.on_ready(ready).await,
                event = self.network_events.recv(), if !self.ingest.is_full() => match event {
                    Some(event) => self.on_network_event(event).await,
                    None => {
                        warn!("network stopped; node stopping");
                        break;
                    }
                },
                Some(answer) = self.answers.recv() => self.on_sync_answer(answer).await,
                Some(report) = self.chains.next() => self.on_chain_report(report).await,
                Some(funded) = self.funded_takes.recv() => self.on_funded_take(funded).await,
                Some(result) = self.take_results.recv() => {
                    let decision = self.state.on_take_answer(result.request_id, result.result, self.clock.now());
                    self.perform(decision).await;
                }
                _ = ticker.tick() => {
                    let now = self.clock.now();
                    let mut decision = self.state.tick(now);
                    decision.merge(self.state.trading_tick(now));
                    self.perform(decision).await;
                }
            }
            self.publish_events();
            if self.crashed {
                warn!("node crashed on purpose (crash test hook)");
                self.stop().await;
                return;
            }
        }
        self.stop().await;
        info!("node stopped");
    }

    /// Closes the database (every write is done: they are synchronous), then the network.
    /// The `stopped` sender goes when the actor is dropped right after.
    async fn stop(&mut self) {
        drop(self.store.take());
        self.network.shutdown().await;
    }

    /// Asks every chain's balance reader for a fresh reading (after own transactions and
    /// chain events, which move balances).
    fn refresh_balances(&self) {
        self.chains.refresh_balances();
    }

    fn publish_events(&mut self) {
        self.revisions.publish(&self.state);
        for event in self.state.drain_events() {
            // No subscriber is fine: events are for whoever listens.
            let _ = self.events.send(event);
        }
    }

    async fn on_command(&mut self, command: Command) {
        let now = self.clock.now();
        match command {
            Command::PostOrder { order, reply } => {
                let posted = self.state.post_order(order, now);
                // A trading node places it as an own order: stored before anything else,
                // withdrawn if that write fails.
                let result = if self.store.is_some() {
                    self.carry_out_place(posted, now)
                        .await
                        .map(|record| record.id)
                } else {
                    self.performed(posted).await
                };
                self.answer(reply, result);
            }
            Command::UpdateOrder {
                id,
                remaining,
                reply,
            } => {
                let updated = self.state.update_order(id, remaining, now);
                let result = self.performed(updated.map(|decision| ((), decision))).await;
                self.answer(reply, result);
            }
            Command::Digest { market, reply } => {
                let _ = reply.send(
                    self.state
                        .book(&market)
                        .map(|book| book.visible_orders())
                        .ok_or(Error::UnknownMarket { market }),
                );
            }
            Command::Stats { market, reply } => {
                let _ = reply.send(
                    self.state
                        .stats(&market)
                        .ok_or(Error::UnknownMarket { market }),
                );
            }
            Command::Depth {
                market,
                levels,
                reply,
            } => {
                let _ = reply.send(
                    self.state
                        .book(&market)
                        .map(|book| book.depth(levels))
                        .ok_or(Error::UnknownMarket { market }),
                );
            }
            Command::Snapshot {
                market,
                levels,
                reply,
            } => {
                let _ = reply.send(
                    self.state
                        .book(&market)
                        .map(|book| SnapshotParts {
                            revision: book.revision(),
                            depth: book.depth(levels),
                            orders: book.visible_orders(),
                        })
                        .ok_or(Error::UnknownMarket { market }),
                );
            }
            Command::ChainsUp { reply } => {
                let _ = reply.send(Ok(self.state.chains_up()));
            }
            Command::Counterparties { reply } => {
                let _ = reply.send(if self.store.is_some() {
                    Ok(self.state.counterparties(self.clock.now()))
                } else {
                    Err(Error::SettlementOff)
                });
            }
            Command::Status { id, reply } => {
                let _ = reply.send(Ok(self.state.order_status(&id)));
            }
            Command::PlaceOrder { request, reply } => {
                if let Some(known) = self.placed_before(&request) {
                    self.answer(reply, known);
                    return;
                }
                let placed = self.state.place_order(request, now);
                let result = self.carry_out_place(placed, now).await;
                self.answer(reply, result);
            }
            Command::Balances { reply } => {
                let _ = reply.send(if self.store.is_some() {
                    Ok(self.state.balances())
                } else {
                    Err(Error::SettlementOff)
                });
            }
            Command::CancelOwn { id, reply } => {
                let cancelled = self.state.cancel_own(id, now);
                let result = self
                    .performed(cancelled.map(|decision| ((), decision)))
                    .await;
                self.answer(reply, result);
            }
            Command::CancelAll { market, reply } => {
                let mut cancelled = Vec::new();
                let open = match &self.store {
                    Some(store) => {
                        store.own_orders(market.as_ref(), Some(dex_store::OrderStatus::Open))
                    }
                    None => Ok(Vec::new()),
                };
                let result = match open {
                    Ok(orders) => {
                        for order in orders {
                            if let Ok(decision) = self.state.cancel_own(order.id, now)
                                && self.perform(decision).await
                            {
                                cancelled.push(order.id);
                            }
                        }
                        Ok(cancelled)
                    }
                    Err(err) => Err(Error::Store(err)),
                };
                self.answer(reply, result);
            }
            Command::OwnOrders {
                market,
                status,
                after,
                limit,
                reply,
            } => {
                let _ = reply.send(self.read_store(|store| {
                    Ok(store.own_orders_page(market.as_ref(), status, after, limit)?)
                }));
            }
            Command::OwnOrder { id, reply } => {
                let _ = reply.send(self.read_store(|store| {
                    let order = store.own_order(&id)?.ok_or(Error::UnknownOrder { id })?;
                    let swaps = store.swaps_of_order(&id)?;
                    Ok((order, swaps))
                }));
            }
            Command::OwnOrderByClientId {
                client_order_id,
                reply,
            } => {
                let _ = reply.send(self.read_store(|store| {
                    let order = store
                        .own_order_by_client_id(&client_order_id)?
                        .ok_or(Error::UnknownClientOrderId { client_order_id })?;
                    let swaps = store.swaps_of_order(&order.id)?;
                    Ok((order, swaps))
                }));
            }
            Command::Fills {
                market,
                limit,
                reply,
            } => {
                let _ =
                    reply.send(self.read_store(|store| Ok(store.fills(market.as_ref(), limit)?)));
            }
            Command::Swaps {
                after,
                limit,
                reply,
            } => {
                let _ = reply.send(self.read_store(|store| Ok(store.swaps_changed(after, limit)?)));
            }
            Command::SwapDetail { swap_id, reply } => {
                let _ = reply.send(self.read_store(|store| {
                    let (record, swap) = store
                        .swap(&swap_id)?
                        .ok_or(Error::UnknownSwap { swap_id })?;
                    let history = store.swap_history(&swap_id)?;
                    Ok((record, swap, history))
                }));
            }
            Command::Trades {
                market,
                limit,
                reply,
            } => {
                let _ =
                    reply.send(self.read_store(|store| Ok(store.recent_trades(&market, limit)?)));
            }
            Command::Shutdown => {}
        }
    }

    /// Answers a command that may have changed a book: the books' revisions are published
    /// first, so the caller's next book read (which may not ask the actor) includes it.
    fn answer<T>(&self, reply: Reply<T>, result: Result<T, Error>) {
        self.revisions.publish(&self.state);
        let _ = reply.send(result);
    }

    /// Performs a decision of the core and returns its value, or why it was refused or
    /// could not be persisted (then nothing of it was done).
    async fn performed<T>(&mut self, decided: Result<(T, Decision), Error>) -> Result<T, Error> {
        let (value, decision) = decided?;
        if self.perform(decision).await {
            Ok(value)
        } else {
            Err(Error::StoreUnavailable)
        }
    }

    /// Reads the database, or refuses on a relay-only node (it has none).
    fn read_store<T>(&self, read: impl FnOnce(&Store) -> Result<T, Error>) -> Result<T, Error> {
        match &self.store {
            Some(store) => read(store),
            None => Err(Error::SettlementOff),
        }
    }

    /// A placement under a client order id this node has stored: the order it names, as
    /// stored now, when the placement is the same (a client sending again what it may not
    /// have seen answered); a refusal when it is another. `None`: a new placement.
    fn placed_before(&self, request: &PlaceOrder) -> Option<Result<OwnOrder, Error>> {
        let client_order_id = request.client_order_id.as_deref()?;
        let stored = match self.store.as_ref()?.own_order_by_client_id(client_order_id) {
            Ok(stored) => stored?,
            Err(err) => return Some(Err(Error::Store(err))),
        };
        let same = stored
            .client
            .as_ref()
            .is_some_and(|client| client.request == request.client_request());
        Some(if same {
            Ok(stored)
        } else {
            Err(Error::DuplicateClientOrderId {
                client_order_id: client_order_id.to_owned(),
                order_id: stored.id,
            })
        })
    }

    /// Places the order of `request` and those of the place commands queued right behind
    /// it (at most [`PLACE_BATCH`] in all), and stores the new orders in one transaction:
    /// one commit instead of one per order (group commit). Each is answered, gossiped and
    /// followed by its other actions only after that commit; if it fails, every order's
    /// actions are performed one by one as usual. Returns the other command that ended the
    /// batch, if any, for the caller to handle next.
    async fn on_place_orders(
        &mut self,
        request: PlaceOrder,
        reply: Reply<OwnOrder>,
    ) -> Option<Command> {
        let mut requests = vec![(request, reply)];
        let mut next = None;
        // The crash hook must see every write on its own: no batches under it.
        let batch = self.store.is_some() && self.crash_after.is_none();
        while batch && requests.len() < PLACE_BATCH {
            match self.commands.try_recv() {
                // A client order id already in the batch ends it: the second placement
                // must find the first one stored.
                Ok(Command::PlaceOrder { request, reply })
                    if request.client_order_id.is_some()
                        && requests.iter().any(|(queued, _)| {
                            queued.client_order_id == request.client_order_id
                        }) =>
                {
                    next = Some(Command::PlaceOrder { request, reply });
                    break;
                }
                Ok(Command::PlaceOrder { request, reply }) => requests.push((request, reply)),
                Ok(command) => {
                    next = Some(command);
                    break;
                }
                Err(_) => break,
            }
        }
        let mut placed = Vec::with_capacity(requests.len());
        for (request, reply) in requests {
            if let Some(known) = self.placed_before(&request) {
                self.answer(reply, known);
                continue;
            }
            let now = self.clock.now();
            placed.push((self.state.place_order(request, now), reply, now));
        }
        let committed = batch && {
            let writes: Vec<&StoreOp> = placed
                .iter()
                .filter_map(|(result, _, _)| result.as_ref().ok())
                .flat_map(|(_, decision)| &decision.persist)
                .collect();
            self.store_placements(&writes)
        };
        for (mut result, reply, now) in placed {
            if let Ok((_, decision)) = &mut result
                && committed
            {
                decision.persist.clear();
            }
            let result = self.carry_out_place(result, now).await;
            self.answer(reply, result);
        }
        next
    }

    /// Performs a placement's decision and returns the order's record, or why it was not
    /// placed.
    ///
    /// Its writes (the order, unless a group commit made them already) come first: if they
    /// fail, the order is withdrawn before anything of it leaves the node, and the client
    /// is told it was not placed.
    async fn carry_out_place(
        &mut self,
        placed: Result<(dex_primitives::OrderId, Decision), Error>,
        now: dex_primitives::UnixMillis,
    ) -> Result<OwnOrder, Error> {
        let (id, decision) = placed?;
        if !self.perform(decision).await {
            if !self.crashed {
                self.state.abandon_own(id, now);
            }
            return Err(Error::StoreUnavailable);
        }
        self.state
            .own_record(&id, now)
            .ok_or(Error::UnknownOrder { id })
    }

    /// Stores the writes of placements made together in one transaction (group commit).
    /// False if it failed (logged; the caller stores each placement's on its own, which
    /// counts each failure).
    fn store_placements(&mut self, writes: &[&StoreOp]) -> bool {
        let Some(store) = self.store.as_mut() else {
            return false;
        };
        let orders = writes
            .iter()
            .filter(|op| matches!(op, StoreOp::InsertOrder(_)))
            .count();
        match store.apply(writes.iter().copied(), self.clock.now()) {
            Ok(()) => {
                NodeMetrics::inc(&self.metrics.place_commits);
                NodeMetrics::add(&self.metrics.place_committed_orders, orders as u64);
                true
            }
            Err(err) => {
                warn!(%err, orders, "placed orders not stored together; storing them one by one");
                false
            }
        }
    }

    /// A network event. Gossip goes to the verification pool, with the gossip that follows
    /// it in the queue (a batch), and is judged when its turn comes ([`Actor::on_ready`]).
    async fn on_network_event(&mut self, event: NetworkEvent) {
        let NetworkEvent::Gossip(first) = event else {
            return self.on_other_network_event(event).await;
        };
        let mut batch = vec![first];
        let mut other = None;
        while batch.len() < GOSSIP_BATCH * 4 && self.ingest.has_room_for(batch.len() + 1) {
            match self.network_events.try_recv() {
                Ok(NetworkEvent::Gossip(gossip)) => batch.push(gossip),
                Ok(event) => {
                    other = Some(event);
                    break;
                }
                Err(_) => break,
            }
        }
        if batch.len() == 1 && self.ingest.waiting() == 0 {
            // One message and nothing queued (a node that keeps up): judged here at once,
            // quicker than a trip through the pool and back.
            if let Some(gossip) = batch.pop() {
                let now = self.clock.now();
                let (acceptance, decision) = {
                    let _span = debug_span!("gossip", peer = %gossip.source).entered();
                    self.state
                        .on_gossip(gossip.source, &gossip.topic, &gossip.data, now)
                };
                self.judged(gossip.message_id, gossip.source, acceptance, decision)
                    .await;
            }
        } else {
            self.ingest.gossip(batch);
        }
        if let Some(event) = other {
            self.on_other_network_event(event).await;
        }
    }

    /// Reports a gossip verdict to gossipsub, then carries out what the message decided.
    /// False when the network is gone.
    async fn judged(
        &mut self,
        message_id: dex_network::MessageId,
        source: PeerId,
        acceptance: dex_network::Acceptance,
        decision: Decision,
    ) -> bool {
        if self
            .network
            .report(message_id, source, acceptance)
            .await
            .is_err()
        {
            return false;
        }
        self.perform(decision).await;
        true
    }

    /// Gossip and a sync page whose turn came, with the work done ahead: judged and applied
    /// in arrival order; each gossip verdict goes to gossipsub (which forwards nothing
    /// before it).
    async fn on_ready(&mut self, ready: Ready) {
        match ready {
            Ready::Gossip(items) => {
                for (meta, decoded) in items {
                    let now = self.clock.now();
                    let (acceptance, decision) = {
                        let _span = debug_span!("gossip", peer = %meta.source).entered();
                        self.state
                            .on_gossip_decoded(meta.source, &meta.topic, decoded, now)
                    };
                    if !self
                        .judged(meta.message_id, meta.source, acceptance, decision)
                        .await
                    {
                        return;
                    }
                }
            }
            Ready::Page(page, ahead) => {
                let now = self.clock.now();
                let PageMeta {
                    peer,
                    request,
                    response,
                } = *page;
                let actions = self
                    .state
                    .on_page_ahead(peer, &request, response, &ahead, now);
                self.perform(Decision::acting(actions)).await;
            }
        }
    }

    async fn on_other_network_event(&mut self, event: NetworkEvent) {
        match event {
            NetworkEvent::Gossip(gossip) => self.ingest.gossip(vec![gossip]),
            NetworkEvent::Request { peer, id, request } => {
                let now = self.clock.now();
                let response = match request {
                    Request::Sync(request) => {
                        Response::Sync(self.state.serve(&request, self.clock.now()))
                    }
                    Request::Take(message) => {
                        // Judged once the taker's balance is read (answered then).
                        self.read_taker_funds(peer, id, message);
                        return;
                    }
                    Request::Swap(message) => {
                        let (ack, decision) = self.state.on_swap_message(peer, message, now);
                        self.perform(decision).await;
                        Response::Swap(ack)
                    }
                    other => {
                        debug!(%peer, ?other, "request of a protocol this node does not serve");
                        return;
                    }
                };
                if let Err(err) = self.network.respond(id, response).await {
                    debug!(%peer, %err, "answer not sent");
                }
            }
            NetworkEvent::PeerConnected(peer) => {
                let actions = self.state.on_peer_connected(peer);
                self.perform(Decision::acting(actions)).await;
            }
            NetworkEvent::PeerDisconnected(peer) => self.state.on_peer_disconnected(peer),
            _ => {}
        }
    }

    /// Reads what the taker of a take request holds of what it must lock, in a task of its
    /// own, and hands the request back with it. Unread (and so refused) when the chain is
    /// not connected, too many reads are in flight, or the read fails or takes too long.
    fn read_taker_funds(
        &mut self,
        peer: PeerId,
        id: dex_network::RequestId,
        message: Box<TakeMessage>,
    ) {
        let query = self.state.take_funds_query(&message);
        let client = query.and_then(|query| self.chains.handle(query.chain_id));
        let permit = self.take_reads.clone().try_acquire_owned().ok();
        let funded = self.funded_takes_tx.clone();
        tokio::spawn(async move {
            let balance = match (query, client, permit) {
                (Some(query), Some(client), Some(_permit)) => {
                    match tokio::time::timeout(
                        TAKE_READ_TIMEOUT,
                        client.balance(query.token, query.owner),
                    )
                    .await
                    {
                        Ok(Ok(balance)) => Some(balance),
                        Ok(Err(err)) => {
                            debug!(%peer, %err, "taker balance not read");
                            None
                        }
                        Err(_) => {
                            debug!(%peer, "taker balance read timed out");
                            None
                        }
                    }
                }
                (_, _, None) => {
                    debug!(%peer, "too many taker balances being read; take judged unread");
                    None
                }
                _ => None,
            };
            let _ = funded
                .send(FundedTake {
                    peer,
                    id,
                    message,
                    balance,
                })
                .await;
        });
    }

    /// Judges a take request with the taker's balance read, persists what it decides, and
    /// answers: the reservation and the swap are on disk before the maker answers.
    async fn on_funded_take(&mut self, funded: FundedTake) {
        let FundedTake {
            peer,
            id,
            message,
            balance,
        } = funded;
        let now = self.clock.now();
        let (answer, decision) = {
            let _span = debug_span!("take", %peer).entered();
            self.state.on_take_request(peer, *message, balance, now)
        };
        if !self.perform(decision).await {
            warn!(%peer, "take not answered: it could not be persisted");
            return;
        }
        if let Err(err) = self.network.respond(id, Response::Take(answer)).await {
            debug!(%peer, %err, "answer not sent");
        }
    }

    /// A sync answer: a page goes to the verification pool and is applied when its turn
    /// comes ([`Actor::on_ready`]).
    async fn on_sync_answer(&mut self, answer: SyncAnswer) {
        match answer.result {
            Ok(response) => {
                let needed = self.state.page_needs_signatures(&response);
                self.ingest.page(
                    PageMeta {
                        peer: answer.peer,
                        request: answer.request,
                        response,
                    },
                    needed,
                );
            }
            Err(err) => {
                self.state.on_sync_failed(&answer.request);
                debug!(peer = %answer.peer, %err, "sync request failed");
            }
        }
    }

    async fn on_chain_report(&mut self, report: ChainReport) {
        let now = self.clock.now();
        match report {
            ChainReport::Connected { chain_id } => {
                self.state.set_chain_up(chain_id, true);
            }
            ChainReport::Unreachable {
                chain_id, error, ..
            } => {
                debug!(chain_id, %error, "chain unreachable");
                self.state.set_chain_up(chain_id, false);
            }
            ChainReport::Balances {
                chain_id,
                readings,
                max_fee_per_gas,
            } => {
                self.state.set_balances(chain_id, readings);
                if let Some(fee) = max_fee_per_gas {
                    self.state.set_max_fee_per_gas(chain_id, fee);
                }
            }
            ChainReport::Scanned { chain_id, batch } => {
                if !batch.events.is_empty() {
                    self.refresh_balances();
                }
                if let Some(reorg) = &batch.reorg {
                    warn!(
                        chain_id,
                        first_changed_block = reorg.first_changed_block,
                        "chain reorganised; rescanning from the first changed block"
                    );
                }
                let cursor = serde_json::to_string(&batch.cursor)
                    .ok()
                    .map(|json| (batch.cursor.next_block(), json));
                let decision = self.state.on_chain_batch(
                    chain_id,
                    ChainBatch {
                        events: batch.events,
                        last_block: batch.last_block,
                        head: batch.head,
                        reorg: batch.reorg.map(|reorg| reorg.first_changed_block),
                        cursor,
                    },
                    now,
                );
                self.perform(decision).await;
            }
            ChainReport::RpcFailed { chain_id, work } => {
                self.metrics.chain_error(chain_id, work);
            }
            ChainReport::TxSent { tag, sent, .. } => {
                debug!(swap_id = %tag.0, what = tag.1, tx = ?sent.tx_hashes, "transaction sent");
            }
            ChainReport::TxDone {
                chain_id, result, ..
            } => {
                // The chain loop logged it (mined, or failed: the swap decides whether to
                // retry).
                if result.is_err() {
                    NodeMetrics::inc(&self.metrics.chain_tx_failed);
                    self.metrics.chain_error(chain_id, RpcWork::Transaction);
                }
                self.refresh_balances();
                // The swap learns the effect from the chain scan; a failure is retried by it.
            }
            _ => {}
        }
    }

    /// Writes a decision's operations in one transaction. False if it failed (logged and
    /// counted) or a crash hook stops the node after it.
    fn store(&mut self, ops: &[StoreOp]) -> bool {
        if ops.is_empty() {
            return true;
        }
        let Some(store) = self.store.as_mut() else {
            return true;
        };
        let now = self.clock.now();
        match store.apply(ops, now) {
            Ok(()) => {
                // Every write is shown to the hook (it may count them): no short circuit.
                let crash = self
                    .crash_after
                    .as_ref()
                    .is_some_and(|hook| ops.iter().filter(|op| (hook.0)(op)).count() > 0);
                if crash {
                    // Nothing after this write runs: the test restarts the node from its data.
                    self.crashed = true;
                    return false;
                }
                true
            }
            Err(err) => {
                NodeMetrics::inc(&self.metrics.store_failed);
                error!(%err, writes = ops.len(), "database write failed; nothing of the decision is done");
                false
            }
        }
    }

    /// Performs a decision: its writes in one transaction, then, once they are on disk,
    /// its actions in order. A failed write stops it whole (nothing acts on a decision
    /// that is not on disk); returns whether everything was performed.
    async fn perform(&mut self, decision: Decision) -> bool {
        let Decision {
            persist,
            then: actions,
        } = decision;
        if !self.store(&persist) {
            return false;
        }
        // What the actions send (answers to peers, gossip) may reach a client before this
        // turn's events do.
        if !actions.is_empty() {
            self.revisions.publish(&self.state);
        }
        for action in actions {
            match action {
                Action::Take {
                    peer,
                    request_id,
                    message,
                } => {
                    let network = self.network.clone();
                    let results = self.take_results_tx.clone();
                    tokio::spawn(async move {
                        let result = match network.request(peer, Request::Take(message)).await {
                            Ok(Response::Take(answer)) => Ok(answer),
                            Ok(other) => Err(format!("unexpected answer {other:?}")),
                            Err(err) => Err(err.to_string()),
                        };
                        let _ = results.send(TakeResult { request_id, result }).await;
                    });
                }
                Action::Note { peer, message } => {
                    let network = self.network.clone();
                    tokio::spawn(async move {
                        // A hint: if it is lost, the chain tells the same a little later.
                        if let Err(err) = network.request(peer, Request::Swap(message)).await {
                            debug!(%peer, %err, "swap hint not delivered");
                        }
                    });
                }
                Action::Disconnect { peer } => {
                    if let Err(err) = self.network.disconnect(peer).await {
                        debug!(%peer, %err, "disconnect failed");
                    }
                }
                Action::Chain { swap_id, action } => {
                    self.chains.send(swap_id, &action).await;
                }
                Action::Publish { topic, data } => {
                    // Not waiting for the outcome: a failure (usually no peer yet, which
                    // the alive root and sync repair later) is counted by the network as
                    // `dex_network_gossip_publish_failed_total`.
                    if self.network.publish_detached(topic, data).await.is_err() {
                        debug!("network stopped; publication dropped");
                    }
                }
                Action::Sync { peer, request } => {
                    let network = self.network.clone();
                    let answers = self.answers_tx.clone();
                    let slots = self.sync_slots.clone();
                    tokio::spawn(async move {
                        // Closed only when the actor is gone.
                        let Ok(_slot) = slots.acquire_owned().await else {
                            return;
                        };
                        let result = network
                            .request(peer, Request::Sync(request.clone()))
                            .await
                            .and_then(|response| match response {
                                Response::Sync(response) => Ok(response),
                                other => Err(dex_network::Error::Request {
                                    peer,
                                    reason: format!("unexpected answer {other:?}"),
                                }),
                            });
                        let _ = answers
                            .send(SyncAnswer {
                                peer,
                                request,
                                result,
                            })
                            .await;
                    });
                }
            }
        }
        true
    }
}
