//! The shell around [`NodeState`]: reads the clock, drives the core, performs its actions.

use std::{sync::Arc, time::Duration};

use dex_network::{Keypair, NetworkEvent, NetworkHandle, PeerId, Request, Response};
use dex_protocol::sync::{SyncRequest, SyncResponse};
use tokio::sync::{Semaphore, broadcast, mpsc};
use tracing::{Instrument, debug, debug_span, info, info_span, warn};

use crate::{
    Action, Clock, Command, Error, NodeConfig, NodeEvent, NodeHandle, NodeMetrics, NodeState,
};

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
    commands: mpsc::Receiver<Command>,
    answers_tx: mpsc::Sender<SyncAnswer>,
    answers: mpsc::Receiver<SyncAnswer>,
    events: broadcast::Sender<NodeEvent>,
    sync_slots: Arc<Semaphore>,
    metrics: Arc<NodeMetrics>,
    tick_interval: Duration,
}

/// Starts a node: its network (listening, bootstrap dialed), its topic subscriptions and
/// its actor task on the current tokio runtime. `hash_seed` seeds the books' hashers.
pub async fn spawn(
    config: NodeConfig,
    keypair: Keypair,
    clock: Arc<dyn Clock>,
    hash_seed: u64,
) -> Result<NodeHandle, Error> {
    let (network, network_events) = dex_network::spawn(keypair, config.network.clone()).await?;
    let metrics = Arc::new(NodeMetrics::default());
    let mut state = NodeState::new(&config, network.peer_id(), hash_seed, metrics.clone());
    for topic in state.topics() {
        network.subscribe(topic).await?;
    }
    state.heartbeat_soon();
    let (command_tx, commands) = mpsc::channel(config.command_queue.max(1));
    let (events, _) = broadcast::channel(config.event_capacity.max(1));
    // Answers are few (one per page in flight), bounded by the sync slots.
    let (answers_tx, answers) = mpsc::channel(config.sync.max_concurrent.max(1) * 2);
    let actor = Actor {
        state,
        clock,
        network: network.clone(),
        network_events,
        commands,
        answers_tx,
        answers,
        events: events.clone(),
        sync_slots: Arc::new(Semaphore::new(config.sync.max_concurrent.max(1))),
        metrics: metrics.clone(),
        tick_interval: config.tick_interval,
    };
    let span = info_span!("node", peer = %network.peer_id());
    tokio::spawn(actor.run().instrument(span));
    Ok(NodeHandle {
        commands: command_tx,
        events,
        network,
        metrics,
    })
}

impl Actor {
    async fn run(mut self) {
        let mut ticker = tokio::time::interval(self.tick_interval.max(Duration::from_millis(1)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command).await,
                },
                event = self.network_events.recv() => match event {
                    Some(event) => self.on_network_event(event).await,
                    None => {
                        warn!("network stopped; node stopping");
                        break;
                    }
                },
                Some(answer) = self.answers.recv() => self.on_sync_answer(answer).await,
                _ = ticker.tick() => {
                    let actions = self.state.tick(self.clock.now());
                    self.perform(actions).await;
                }
            }
            self.publish_events();
        }
        self.network.shutdown().await;
        info!("node stopped");
    }

    fn publish_events(&mut self) {
        for event in self.state.drain_events() {
            // No subscriber is fine: events are for whoever listens.
            let _ = self.events.send(event);
        }
    }

    async fn on_command(&mut self, command: Command) {
        let now = self.clock.now();
        match command {
            Command::PostOrder { order, reply } => {
                let result = self.state.post_order(order, now);
                let result = match result {
                    Ok((id, actions)) => {
                        self.perform(actions).await;
                        Ok(id)
                    }
                    Err(err) => Err(err),
                };
                let _ = reply.send(result);
            }
            Command::UpdateOrder {
                id,
                remaining,
                reply,
            } => {
                let result = match self.state.update_order(id, remaining, now) {
                    Ok(actions) => {
                        self.perform(actions).await;
                        Ok(())
                    }
                    Err(err) => Err(err),
                };
                let _ = reply.send(result);
            }
            Command::Digest { market, reply } => {
                let _ = reply.send(
                    self.state
                        .digest(&market)
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
            Command::Status { id, reply } => {
                let _ = reply.send(Ok(self.state.order_status(&id)));
            }
            Command::Shutdown => {}
        }
    }

    async fn on_network_event(&mut self, event: NetworkEvent) {
        match event {
            NetworkEvent::Gossip(gossip) => {
                let now = self.clock.now();
                let (acceptance, actions) = {
                    let _span = debug_span!("gossip", peer = %gossip.source).entered();
                    self.state
                        .on_gossip(gossip.source, &gossip.topic, &gossip.data, now)
                };
                if self
                    .network
                    .report(gossip.message_id, gossip.source, acceptance)
                    .await
                    .is_err()
                {
                    return;
                }
                self.perform(actions).await;
            }
            NetworkEvent::Request { peer, id, request } => {
                let response = match request {
                    Request::Sync(request) => Response::Sync(self.state.serve(&request)),
                    other => {
                        debug!(%peer, ?other, "request of a protocol this node does not serve");
                        return;
                    }
                };
                if let Err(err) = self.network.respond(id, response).await {
                    debug!(%peer, %err, "sync answer not sent");
                }
            }
            NetworkEvent::PeerConnected(peer) => {
                let actions = self.state.on_peer_connected(peer);
                self.perform(actions).await;
            }
            NetworkEvent::PeerDisconnected(peer) => self.state.on_peer_disconnected(peer),
            _ => {}
        }
    }

    async fn on_sync_answer(&mut self, answer: SyncAnswer) {
        let now = self.clock.now();
        match answer.result {
            Ok(response) => {
                let actions = self
                    .state
                    .on_page(answer.peer, &answer.request, response, now);
                self.perform(actions).await;
            }
            Err(err) => {
                self.state.on_sync_failed(&answer.request);
                debug!(peer = %answer.peer, %err, "sync request failed");
            }
        }
    }

    async fn perform(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Publish { topic, data } => {
                    if let Err(err) = self.network.publish(topic, data).await {
                        // Usually no peer yet: the alive root and sync repair it later.
                        NodeMetrics::inc(&self.metrics.publish_failed);
                        debug!(%err, "publish failed");
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
    }
}
