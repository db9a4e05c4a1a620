//! The task that owns the swarm: one `select!` over swarm events and commands.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{
    Multiaddr, PeerId, Swarm, autonat,
    core::ConnectedPoint,
    gossipsub, identify,
    identity::Keypair,
    metrics::{Metrics as Libp2pMetrics, Recorder},
    multiaddr::Protocol,
    noise, relay, request_response,
    swarm::{ConnectionId, SwarmEvent, dial_opts::DialOpts},
    tcp, yamux,
};
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;
use tracing::{debug, info, info_span, warn};

use crate::{
    Acceptance, Command, Error, GossipIn, NetworkConfig, NetworkEvent, NetworkHandle,
    NetworkMetrics, OpenConnections, PeerBuckets, PeerView, Reachability, ReachabilityView,
    ReqProtocol, Request, RequestId, Response,
    behaviour::{Behaviour, BehaviourEvent, topic_score_params},
    reach::{Ended, ProbeResults, RelaySlots, Reserve, SlotOrigin},
};

/// Whether a relay server offers its listen address `address` to others: not a loopback
/// address of a node that listens on other interfaces too (`0.0.0.0` expands to
/// `127.0.0.1` as well, which would send a node holding a slot, and everyone dialling its
/// circuit address, to themselves).
fn serves_on(config: &NetworkConfig, address: &Multiaddr) -> bool {
    !is_loopback(address) || config.listen_addrs.iter().all(is_loopback)
}

/// Whether `address` is on a loopback interface.
fn is_loopback(address: &Multiaddr) -> bool {
    address.iter().any(|protocol| match protocol {
        Protocol::Ip4(ip) => ip.is_loopback(),
        Protocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

/// How long [`spawn`] waits for the listeners to report their addresses.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);
/// Inbound requests the node may hold unanswered at once; more are dropped.
const MAX_PENDING_INBOUND: usize = 1024;

/// The response channel of an inbound request, by protocol.
enum InboundChannel {
    Sync(request_response::ResponseChannel<dex_protocol::sync::SyncResponse>),
    Take(request_response::ResponseChannel<dex_protocol::take::TakeAnswer>),
    Swap(request_response::ResponseChannel<dex_protocol::take::SwapAck>),
}

/// One open connection, as far as reachability needs to know it.
struct OpenConnection {
    /// It goes through a relay circuit.
    relayed: bool,
    /// The address we dialled, for direct connections this node opened: where the peer can
    /// be reached again (a listener-side remote address is only the peer's ephemeral port).
    dialed: Option<Multiaddr>,
    /// The peer's address on it (for a relayed one, the circuit through the relay).
    remote: Multiaddr,
}

/// Owns the swarm. Created and started by [`spawn`].
struct EventLoop {
    swarm: Swarm<Behaviour>,
    config: NetworkConfig,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetworkEvent>,
    metrics: Arc<NetworkMetrics>,
    /// libp2p's own families (swarm, gossipsub, identify, kad, relay, DCUtR), fed every
    /// swarm event.
    libp2p: Libp2pMetrics,
    gossip_buckets: PeerBuckets<PeerId>,
    request_buckets: PeerBuckets<PeerId>,
    /// Callers waiting for answers, by protocol and request id (ids are numbered per
    /// protocol, so the protocol is part of the key).
    outbound: HashMap<(ReqProtocol, request_response::OutboundRequestId), crate::Reply<Response>>,
    inbound: HashMap<RequestId, InboundChannel>,
    /// Open connections per peer.
    connections: HashMap<PeerId, HashMap<ConnectionId, OpenConnection>>,
    /// AutoNAT's probe results so far.
    probes: ProbeResults,
    /// The relays we hold slots on, and the choice of new ones.
    relay_slots: RelaySlots,
    /// Requests to peers not connected yet: the dial made for them, and the requests sent
    /// once any connection to the peer is up (or failed when that dial fails).
    awaiting_dial: HashMap<PeerId, AwaitingDial>,
}

/// Requests waiting for a connection to their peer.
struct AwaitingDial {
    /// The dial made for them.
    dial: ConnectionId,
    /// In the order they were asked.
    requests: Vec<(Request, crate::Reply<Response>)>,
}

/// Requests one peer may have waiting for a connection; more are refused at once.
const MAX_AWAITING_DIAL: usize = 64;

/// Builds the swarm, starts listening (waiting until the addresses are known, so ephemeral
/// ports can be read right away), dials the bootstrap peers and spawns the event loop on the
/// current tokio runtime. Returns the handle and the node's event receiver.
///
/// The network's counters and gauges ([`NetworkMetrics::register`]) and libp2p's own
/// families (`libp2p_*`: swarm, bandwidth, gossipsub, identify, kad, relay, DCUtR) are added
/// to `registry`.
pub async fn spawn(
    keypair: Keypair,
    config: NetworkConfig,
    registry: &mut Registry,
) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), Error> {
    let peer_id = PeerId::from(keypair.public());
    let setup = |err: &dyn std::fmt::Display| Error::Setup {
        reason: err.to_string(),
    };
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|err| setup(&err))?
        .with_quic()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|err| setup(&err))?
        .with_bandwidth_metrics(registry)
        .with_behaviour(|key, relay_client| {
            Behaviour::new(key, relay_client, &config).map_err(Box::from)
        })
        .map_err(|err| setup(&err))?
        .with_swarm_config(|swarm_config| {
            swarm_config.with_idle_connection_timeout(config.idle_connection_timeout)
        })
        .build();

    let mut listeners = 0;
    for address in &config.listen_addrs {
        swarm
            .listen_on(address.clone())
            .map_err(|err| Error::Listen {
                address: address.to_string(),
                reason: err.to_string(),
            })?;
        listeners += 1;
    }
    // Wait for every listener's first address, so callers can read ephemeral ports at once.
    let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
    let mut reported = 0;
    while reported < listeners {
        match tokio::time::timeout_at(deadline, swarm.select_next_some()).await {
            Ok(SwarmEvent::NewListenAddr { address, .. }) => {
                if config.relay_server.is_some() && serves_on(&config, &address) {
                    // A relay serves on the addresses it listens on: they are what it
                    // tells the nodes holding a slot to advertise.
                    swarm.add_external_address(address.clone());
                }
                info!(%peer_id, %address, "listening");
                reported += 1;
            }
            Ok(SwarmEvent::ListenerError { error, .. }) => {
                return Err(Error::Listen {
                    address: String::new(),
                    reason: error.to_string(),
                });
            }
            Ok(_) => {}
            Err(_) => {
                return Err(Error::Listen {
                    address: format!("{:?}", config.listen_addrs),
                    reason: "no address reported in time".into(),
                });
            }
        }
    }

    // A slot on each configured relay: peers that cannot dial us reach us through it.
    // Relay servers are public by their operator's word: they pick no relays themselves.
    // The slot is asked for once connected (`EventLoop::reserve_configured`).
    let relay_slots = RelaySlots::new(config.max_auto_relays, config.relay_server.is_none());
    for relay in &config.relays {
        let dial = match relay.iter().last() {
            Some(Protocol::P2p(peer)) => DialOpts::peer_id(peer)
                .addresses(vec![relay.clone()])
                .build(),
            _ => {
                warn!(address = %relay, "relay address without /p2p/<peer id>: not used");
                continue;
            }
        };
        if let Err(err) = swarm.dial(dial) {
            debug!(address = %relay, %err, "dial relay");
        }
    }
    for address in &config.bootstrap {
        let Some(Protocol::P2p(peer)) = address.iter().last() else {
            warn!(%address, "bootstrap address without /p2p/<peer id>; dialing blindly");
            let _ = swarm.dial(address.clone());
            continue;
        };
        if let Some(kad) = swarm.behaviour_mut().kad.as_mut() {
            kad.add_address(&peer, address.clone());
        }
        if let Err(err) = swarm.dial(address.clone()) {
            warn!(%address, %err, "cannot dial bootstrap peer");
        }
    }
    if !config.bootstrap.is_empty()
        && let Some(kad) = swarm.behaviour_mut().kad.as_mut()
    {
        // Fails only without known peers; the periodic bootstrap retries later.
        let _ = kad.bootstrap();
    }

    let (command_tx, command_rx) = mpsc::channel(config.command_queue.max(1));
    let (event_tx, event_rx) = mpsc::channel(config.event_queue.max(1));
    let metrics = Arc::new(NetworkMetrics::default());
    metrics.register(registry);
    let libp2p = Libp2pMetrics::new(registry);
    let event_loop = EventLoop {
        swarm,
        gossip_buckets: PeerBuckets::new(config.gossip_rate),
        request_buckets: PeerBuckets::new(config.request_rate),
        config,
        commands: command_rx,
        events: event_tx,
        metrics: metrics.clone(),
        libp2p,
        outbound: HashMap::new(),
        inbound: HashMap::new(),
        connections: HashMap::new(),
        probes: ProbeResults::default(),
        relay_slots,
        awaiting_dial: HashMap::new(),
    };
    tokio::spawn(event_loop.run());
    Ok((
        NetworkHandle {
            commands: command_tx,
            peer_id,
            metrics,
        },
        event_rx,
    ))
}

impl EventLoop {
    async fn run(mut self) {
        let peer_id = *self.swarm.local_peer_id();
        let span = info_span!("network", %peer_id);
        let _entered = span.enter();
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
            }
        }
        info!("network stopped");
    }

    fn emit(&mut self, event: NetworkEvent) -> bool {
        match self.events.try_send(event) {
            Ok(()) => true,
            Err(_) => {
                NetworkMetrics::inc(&self.metrics.events_dropped);
                false
            }
        }
    }

    /// A request to `peer`: sent at once over an open connection; otherwise kept until a
    /// dial made for it connects. That dial tries every address the swarm knows for the
    /// peer (Kademlia's) and a circuit through every connected relay, so that a node behind
    /// a NAT, whose order names only its peer id, is reached through the relay it holds a
    /// slot on. Other dials to the peer failing (a stale address) do not fail the request.
    fn request(&mut self, peer: PeerId, request: Request, reply: crate::Reply<Response>) {
        if self.swarm.is_connected(&peer) {
            self.send_request(peer, request, reply);
            return;
        }
        if let Some(waiting) = self.awaiting_dial.get_mut(&peer) {
            if waiting.requests.len() >= MAX_AWAITING_DIAL {
                let _ = reply.send(Err(Error::Request {
                    peer,
                    reason: "too many requests waiting for a connection to this peer".into(),
                }));
            } else {
                waiting.requests.push((request, reply));
            }
            return;
        }
        let circuits: Vec<Multiaddr> = self
            .relay_slots
            .relays()
            .filter(|(relay, _)| *relay != peer)
            .map(|(relay, address)| {
                with_peer(address.clone(), relay)
                    .with(Protocol::P2pCircuit)
                    .with(Protocol::P2p(peer))
            })
            .collect();
        let mut addresses = self.known_addresses(peer);
        addresses.retain(|address| !self.is_own_address(address));
        addresses.extend(circuits);
        if addresses.is_empty() {
            // Nothing to dial here: the protocol's own dial waits for a dial already under
            // way (a peer just dialled) or fails the request.
            self.send_request(peer, request, reply);
            return;
        }
        let dial = DialOpts::peer_id(peer)
            .condition(libp2p::swarm::dial_opts::PeerCondition::Always)
            .addresses(addresses)
            .build();
        let id = dial.connection_id();
        match self.swarm.dial(dial) {
            Ok(()) => {
                debug!(%peer, "dialing for a request");
                self.awaiting_dial.insert(
                    peer,
                    AwaitingDial {
                        dial: id,
                        requests: vec![(request, reply)],
                    },
                );
            }
            Err(err) => {
                NetworkMetrics::inc(&self.metrics.requests_outbound_failed);
                let _ = reply.send(Err(Error::Request {
                    peer,
                    reason: format!("cannot dial the peer: {err}"),
                }));
            }
        }
    }

    /// Hands a request to its protocol's behaviour (which opens a stream on a connection).
    fn send_request(&mut self, peer: PeerId, request: Request, reply: crate::Reply<Response>) {
        let behaviour = self.swarm.behaviour_mut();
        let id = match request {
            Request::Sync(request) => (
                ReqProtocol::Sync,
                behaviour.sync.send_request(&peer, request),
            ),
            Request::Take(request) => (
                ReqProtocol::Take,
                behaviour.take.send_request(&peer, *request),
            ),
            Request::Swap(request) => (
                ReqProtocol::Swap,
                behaviour.swap.send_request(&peer, request),
            ),
        };
        self.outbound.insert(id, reply);
    }

    /// Asks `peer` for a slot, if it is a configured relay and no slot is held or asked
    /// for. Done on each direct connection to it, not at start: a slot asked for while
    /// another dial to the relay is under way (the same node as bootstrap) is dropped by
    /// the swarm, and a slot lost with the connection is asked for again on reconnect.
    fn reserve_configured(&mut self, peer: PeerId) {
        if self.relay_slots.has_slot(peer) {
            return;
        }
        let Some(relay) = self
            .config
            .relays
            .iter()
            .find(|relay| relay.iter().last() == Some(Protocol::P2p(peer)))
        else {
            return;
        };
        let circuit = relay.clone().with(Protocol::P2pCircuit);
        match self.swarm.listen_on(circuit.clone()) {
            Ok(listener) => {
                debug!(address = %circuit, "asking a configured relay for a slot");
                self.relay_slots.configured(peer, listener);
            }
            Err(err) => warn!(address = %circuit, %err, "cannot listen through relay"),
        }
    }

    /// Whether `address` is one this node listens on (a peer's address that is ours too,
    /// such as the same private address at another home, reaches this node itself).
    fn is_own_address(&self, address: &Multiaddr) -> bool {
        let key = |address: &Multiaddr| -> Vec<Protocol<'static>> {
            address
                .iter()
                .filter(|protocol| !matches!(protocol, Protocol::P2p(_)))
                .map(|protocol| protocol.acquire())
                .collect()
        };
        let wanted = key(address);
        self.swarm.listeners().any(|own| key(own) == wanted)
    }

    /// What Kademlia knows of `peer`'s addresses.
    fn known_addresses(&mut self, peer: PeerId) -> Vec<Multiaddr> {
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            return Vec::new();
        };
        kad.kbucket(peer)
            .and_then(|bucket| {
                bucket
                    .iter()
                    .find(|entry| *entry.node.key.preimage() == peer)
                    .map(|entry| entry.node.value.iter().cloned().collect())
            })
            .unwrap_or_default()
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Subscribe { topic, reply } => {
                let gossip_topic = gossipsub::IdentTopic::new(topic.clone());
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .subscribe(&gossip_topic)
                    .map_err(|err| Error::Subscribe {
                        topic: topic.clone(),
                        reason: err.to_string(),
                    })
                    .and_then(|new| {
                        self.swarm
                            .behaviour_mut()
                            .gossipsub
                            .set_topic_params(gossip_topic, topic_score_params(&self.config))
                            .map_err(|reason| Error::Subscribe {
                                topic,
                                reason: reason.to_owned(),
                            })?;
                        Ok(new)
                    });
                let _ = reply.send(result);
            }
            Command::Publish { topic, data, reply } => {
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(gossipsub::IdentTopic::new(topic.clone()), data);
                let result = match result {
                    Ok(id) => {
                        NetworkMetrics::inc(&self.metrics.gossip_published);
                        Ok(id)
                    }
                    Err(err) => {
                        NetworkMetrics::inc(&self.metrics.gossip_publish_failed);
                        Err(Error::Publish {
                            topic,
                            reason: err.to_string(),
                        })
                    }
                };
                match reply {
                    Some(reply) => {
                        let _ = reply.send(result);
                    }
                    // Usually no peer yet: the caller's repair (heartbeats, sync) covers it.
                    None => {
                        if let Err(err) = result {
                            debug!(%err, "publish failed");
                        }
                    }
                }
            }
            Command::Report {
                message_id,
                source,
                acceptance,
            } => self.report(&message_id, &source, acceptance),
            Command::Request {
                peer,
                request,
                reply,
            } => self.request(peer, request, reply),
            Command::Respond {
                id,
                response,
                reply,
            } => {
                let behaviour = self.swarm.behaviour_mut();
                fn gone<T>(_: T) -> Error {
                    Error::Respond {
                        reason: "the requester is gone or the request timed out".into(),
                    }
                }
                let result = match (self.inbound.remove(&id), response) {
                    (Some(InboundChannel::Sync(channel)), Response::Sync(response)) => behaviour
                        .sync
                        .send_response(channel, response)
                        .map_err(gone),
                    (Some(InboundChannel::Take(channel)), Response::Take(response)) => behaviour
                        .take
                        .send_response(channel, response)
                        .map_err(gone),
                    (Some(InboundChannel::Swap(channel)), Response::Swap(response)) => behaviour
                        .swap
                        .send_response(channel, response)
                        .map_err(gone),
                    (Some(_), _) => Err(Error::Respond {
                        reason: "the answer is of another protocol than the request".into(),
                    }),
                    (None, _) => Err(Error::Respond {
                        reason: "unknown or expired request id".into(),
                    }),
                };
                let _ = reply.send(result);
            }
            Command::Dial { address, reply } => {
                let opts = match address.iter().last() {
                    Some(Protocol::P2p(peer)) => DialOpts::peer_id(peer)
                        .addresses(vec![address.clone()])
                        .build(),
                    _ => DialOpts::unknown_peer_id().address(address.clone()).build(),
                };
                let result = self.swarm.dial(opts).map_err(|err| Error::Dial {
                    address: address.to_string(),
                    reason: err.to_string(),
                });
                let _ = reply.send(result);
            }
            Command::Disconnect { peer, reply } => {
                let _ = reply.send(Ok(self.swarm.disconnect_peer_id(peer).is_ok()));
            }
            Command::ListenAddrs { reply } => {
                let _ = reply.send(Ok(self.swarm.listeners().cloned().collect()));
            }
            Command::Peers { topic, reply } => {
                let gossipsub = &self.swarm.behaviour().gossipsub;
                let mut view = PeerView {
                    connected: self.swarm.connected_peers().copied().collect(),
                    relayed: self
                        .connections
                        .iter()
                        .filter(|(_, open)| {
                            !open.is_empty() && open.values().all(|connection| connection.relayed)
                        })
                        .map(|(peer, _)| *peer)
                        .collect(),
                    addresses: self
                        .connections
                        .iter()
                        .map(|(peer, open)| {
                            let mut addresses: Vec<Multiaddr> =
                                open.values().map(|c| c.remote.clone()).collect();
                            addresses.sort();
                            addresses.dedup();
                            (*peer, addresses)
                        })
                        .collect(),
                    ..PeerView::default()
                };
                if let Some(topic) = topic {
                    let hash = gossipsub::IdentTopic::new(topic).hash();
                    view.subscribed = gossipsub
                        .all_peers()
                        .filter(|(_, topics)| topics.contains(&&hash))
                        .map(|(peer, _)| *peer)
                        .collect();
                    view.mesh = gossipsub.mesh_peers(&hash).copied().collect();
                }
                let _ = reply.send(Ok(view));
            }
            Command::PeerScore { peer, reply } => {
                let _ = reply.send(Ok(self.swarm.behaviour().gossipsub.peer_score(&peer)));
            }
            Command::Reachability { reply } => {
                let _ = reply.send(Ok(ReachabilityView {
                    status: self.probes.status(),
                    external_addrs: self.swarm.external_addresses().cloned().collect(),
                    relay_slots: self.relay_slots.slots(),
                    relay_candidates: self.relay_slots.candidates(),
                }));
            }
            Command::Shutdown => {}
        }
    }

    fn report(
        &mut self,
        message_id: &gossipsub::MessageId,
        source: &PeerId,
        acceptance: Acceptance,
    ) {
        let counter = match acceptance {
            Acceptance::Accept => &self.metrics.gossip_accepted,
            Acceptance::Reject => &self.metrics.gossip_rejected,
            Acceptance::Ignore => &self.metrics.gossip_ignored,
        };
        NetworkMetrics::inc(counter);
        let acceptance = match acceptance {
            Acceptance::Accept => gossipsub::MessageAcceptance::Accept,
            Acceptance::Reject => gossipsub::MessageAcceptance::Reject,
            Acceptance::Ignore => gossipsub::MessageAcceptance::Ignore,
        };
        let known = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(message_id, source, acceptance);
        if !known {
            NetworkMetrics::inc(&self.metrics.gossip_verdict_late);
        }
    }

    /// Feeds libp2p-metrics: the swarm's events, and the events of the behaviours it has
    /// recorders for.
    fn record(&self, event: &SwarmEvent<BehaviourEvent>) {
        self.libp2p.record(event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.libp2p.record(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => self.libp2p.record(event),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.libp2p.record(event),
            SwarmEvent::Behaviour(BehaviourEvent::Relay(event)) => self.libp2p.record(event),
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(event)) => self.libp2p.record(event),
            _ => {}
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.record(&event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossipsub(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => {
                self.on_request_response(
                    ReqProtocol::Sync,
                    event,
                    Response::Sync,
                    |request, channel| (Request::Sync(request), InboundChannel::Sync(channel)),
                );
            }
            SwarmEvent::Behaviour(BehaviourEvent::Take(event)) => {
                self.on_request_response(
                    ReqProtocol::Take,
                    event,
                    Response::Take,
                    |request, channel| {
                        (
                            Request::Take(Box::new(request)),
                            InboundChannel::Take(channel),
                        )
                    },
                );
            }
            SwarmEvent::Behaviour(BehaviourEvent::Swap(event)) => {
                self.on_request_response(
                    ReqProtocol::Swap,
                    event,
                    Response::Swap,
                    |request, channel| (Request::Swap(request), InboundChannel::Swap(channel)),
                );
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                connection_id,
                peer_id,
                info,
            })) => {
                NetworkMetrics::inc(&self.metrics.identify_received);
                let hop = info.protocols.contains(&relay::HOP_PROTOCOL_NAME);
                let dialed = self.dialed_address(&peer_id, connection_id);
                let next = self.relay_slots.on_identified(peer_id, hop, dialed);
                self.reserve(next);
                // A peer's loopback addresses reach it only from its own machine: kept
                // only when it is reached over loopback (nodes on one machine).
                let local_peer = self
                    .connections
                    .get(&peer_id)
                    .and_then(|open| open.get(&connection_id))
                    .is_some_and(|open| is_loopback(&open.remote));
                if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                    for address in info.listen_addrs {
                        if local_peer || !is_loopback(&address) {
                            kad.add_address(&peer_id, address);
                        }
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(libp2p::mdns::Event::Discovered(found))) => {
                for (peer, address) in found {
                    debug!(%peer, %address, "mdns discovered");
                    if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                        kad.add_address(&peer, address.clone());
                    }
                    if !self.swarm.is_connected(&peer) {
                        let _ = self
                            .swarm
                            .dial(DialOpts::peer_id(peer).addresses(vec![address]).build());
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(event)) => {
                NetworkMetrics::inc(&self.metrics.hole_punch_attempts);
                match event.result {
                    Ok(_) => {
                        NetworkMetrics::inc(&self.metrics.hole_punch_succeeded);
                        info!(peer = %event.remote_peer_id, "hole punched: direct connection");
                    }
                    Err(err) => {
                        NetworkMetrics::inc(&self.metrics.hole_punch_failed);
                        debug!(peer = %event.remote_peer_id, %err, "hole punching failed; staying relayed");
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(
                relay::client::Event::ReservationReqAccepted { relay_peer_id, .. },
            )) => match self.relay_slots.on_reserved(relay_peer_id) {
                Some(origin) => {
                    if origin == SlotOrigin::Automatic {
                        NetworkMetrics::inc(&self.metrics.auto_relay_reservations);
                    }
                    info!(relay = %relay_peer_id, ?origin, "relay slot reserved");
                }
                None => debug!(relay = %relay_peer_id, "relay slot renewed"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::AutonatClient(event)) => {
                let autonat::v2::client::Event {
                    tested_addr,
                    server,
                    result,
                    ..
                } = event;
                debug!(address = %tested_addr, %server, ?result, "AutoNAT probe finished");
                if let Some(status) = self.probes.on_probe(tested_addr, result.is_ok()) {
                    self.on_reachability(status);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::AutonatServer(event)) => {
                debug!(client = %event.client, address = %event.tested_addr, result = ?event.result, "AutoNAT probe served");
            }
            SwarmEvent::Behaviour(_) => {}
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                num_established,
                endpoint,
                ..
            } => {
                NetworkMetrics::inc(&self.metrics.connections_established);
                let relayed = endpoint.is_relayed();
                if !relayed {
                    self.reserve_configured(peer_id);
                }
                if relayed {
                    NetworkMetrics::inc(&self.metrics.connections_relayed);
                }
                let dialed = match &endpoint {
                    ConnectedPoint::Dialer { address, .. } if !relayed => Some(address.clone()),
                    _ => None,
                };
                self.connections.entry(peer_id).or_default().insert(
                    connection_id,
                    OpenConnection {
                        relayed,
                        dialed,
                        remote: endpoint.get_remote_address().clone(),
                    },
                );
                self.count_open_connections();
                if let Some(waiting) = self.awaiting_dial.remove(&peer_id) {
                    for (request, reply) in waiting.requests {
                        self.send_request(peer_id, request, reply);
                    }
                }
                if num_established.get() == 1 {
                    info!(peer = %peer_id, address = %endpoint.get_remote_address(), "peer connected");
                    self.emit(NetworkEvent::PeerConnected(peer_id));
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                ..
            } => {
                NetworkMetrics::inc(&self.metrics.connections_closed);
                if let Some(open) = self.connections.get_mut(&peer_id) {
                    open.remove(&connection_id);
                    if open.is_empty() {
                        self.connections.remove(&peer_id);
                    }
                }
                self.count_open_connections();
                if num_established == 0 {
                    info!(peer = %peer_id, "peer disconnected");
                    if let Some(ended) = self.relay_slots.on_disconnected(peer_id) {
                        // Its listener closes with the connection anyway; make sure.
                        self.swarm.remove_listener(ended.listener);
                        self.on_slot_ended(&ended);
                    }
                    self.gossip_buckets.remove(&peer_id);
                    self.request_buckets.remove(&peer_id);
                    self.emit(NetworkEvent::PeerDisconnected(peer_id));
                }
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                NetworkMetrics::inc(&self.metrics.incoming_connection_errors);
                debug!(%error, "incoming connection failed");
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id,
                error,
                connection_id,
            } => {
                debug!(peer = ?peer_id, %error, "outgoing connection failed");
                if let Some(peer) = peer_id
                    && self
                        .awaiting_dial
                        .get(&peer)
                        .is_some_and(|waiting| waiting.dial == connection_id)
                    && let Some(waiting) = self.awaiting_dial.remove(&peer)
                {
                    for (_, reply) in waiting.requests {
                        NetworkMetrics::inc(&self.metrics.requests_outbound_failed);
                        let _ = reply.send(Err(Error::Request {
                            peer,
                            reason: format!("cannot reach the peer: {error}"),
                        }));
                    }
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                if self.config.relay_server.is_some()
                    && !address.iter().any(|p| p == Protocol::P2pCircuit)
                    && serves_on(&self.config, &address)
                {
                    self.swarm.add_external_address(address.clone());
                }
                info!(%address, "listening");
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                if let Some(ended) = self.relay_slots.on_listener_closed(listener_id) {
                    debug!(relay = %ended.relay, ?reason, "relay listener closed");
                    self.on_slot_ended(&ended);
                }
            }
            SwarmEvent::ExternalAddrExpired { address } => {
                if let Some(status) = self.probes.on_expired(&address) {
                    self.on_reachability(status);
                }
            }
            _ => {}
        }
    }

    /// An address we dialled `peer` at directly, preferably the one of `connection`.
    fn dialed_address(&self, peer: &PeerId, connection: ConnectionId) -> Option<Multiaddr> {
        let open = self.connections.get(peer)?;
        open.get(&connection)
            .and_then(|connection| connection.dialed.clone())
            .or_else(|| {
                open.values()
                    .find_map(|connection| connection.dialed.clone())
            })
    }

    fn count_open_connections(&self) {
        let mut open = OpenConnections::default();
        for connection in self.connections.values().flat_map(HashMap::values) {
            if connection.relayed {
                open.relayed += 1;
            } else {
                open.direct += 1;
            }
        }
        self.metrics.set_open_connections(open);
    }

    /// Asks for `next` and whatever [`RelaySlots`] wants after it, until it wants nothing
    /// (each round adds a slot or drops a candidate, so this ends).
    fn reserve(&mut self, mut next: Option<Reserve>) {
        while let Some(reserve) = next {
            match self.swarm.listen_on(reserve.address.clone()) {
                Ok(listener) => {
                    NetworkMetrics::inc(&self.metrics.auto_relay_requests);
                    info!(relay = %reserve.relay, address = %reserve.address, "asking a connected relay for a slot");
                    self.relay_slots.requested(&reserve, listener);
                }
                Err(err) => {
                    warn!(address = %reserve.address, %err, "cannot listen through relay");
                    self.relay_slots.request_failed(&reserve);
                }
            }
            next = self.relay_slots.next_reservation();
        }
    }

    /// A relay slot ended: count and log it, and ask another relay if one is wanted.
    fn on_slot_ended(&mut self, ended: &Ended) {
        if ended.origin == SlotOrigin::Automatic && ended.was_reserved {
            NetworkMetrics::inc(&self.metrics.auto_relay_reservations_lost);
        }
        if ended.was_reserved {
            info!(relay = %ended.relay, origin = ?ended.origin, "relay slot lost");
        } else {
            info!(relay = %ended.relay, origin = ?ended.origin, "relay slot not granted");
        }
        let next = self.relay_slots.next_reservation();
        self.reserve(next);
    }

    /// AutoNAT's verdict changed.
    fn on_reachability(&mut self, status: Reachability) {
        match &status {
            // The client already made the confirmed addresses external addresses of the
            // swarm (`ToSwarm::ExternalAddrConfirmed`), so identify advertises them.
            Reachability::Public { addresses } => {
                info!(
                    ?addresses,
                    "reachability: public (AutoNAT servers dialled us back)"
                );
            }
            Reachability::Private => {
                info!("reachability: not reachable from outside; peers reach us through relays");
            }
            Reachability::Unknown => debug!("reachability: unknown"),
        }
        self.metrics.set_reachable(status.is_public());
        let next = self.relay_slots.set_public(status.is_public());
        self.reserve(next);
    }

    fn on_gossipsub(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                NetworkMetrics::inc(&self.metrics.gossip_received);
                if !self
                    .gossip_buckets
                    .try_take(propagation_source, Instant::now())
                {
                    NetworkMetrics::inc(&self.metrics.gossip_rate_limited);
                    debug!(peer = %propagation_source, "gossip rate limit exceeded; dropped");
                    self.report(&message_id, &propagation_source, Acceptance::Ignore);
                    return;
                }
                let gossip = GossipIn {
                    source: propagation_source,
                    message_id: message_id.clone(),
                    topic: message.topic.into_string(),
                    data: message.data,
                };
                if self.events.try_send(NetworkEvent::Gossip(gossip)).is_err() {
                    NetworkMetrics::inc(&self.metrics.gossip_queue_full);
                    self.report(&message_id, &propagation_source, Acceptance::Ignore);
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic, .. } => {
                self.emit(NetworkEvent::Subscribed {
                    peer: peer_id,
                    topic: topic.into_string(),
                });
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                // What gossipsub could not send to this peer since its last heartbeat: it
                // is gone for that peer, so it is counted here (the peer's book is repaired
                // by heartbeat roots and sync, not by gossipsub).
                NetworkMetrics::inc(&self.metrics.gossip_slow_peers);
                NetworkMetrics::add(
                    &self.metrics.gossip_send_dropped,
                    failed_messages.non_priority as u64,
                );
                NetworkMetrics::add(
                    &self.metrics.gossip_control_dropped,
                    failed_messages.priority as u64,
                );
                debug!(
                    peer = %peer_id,
                    data = failed_messages.non_priority,
                    control = failed_messages.priority,
                    "slow gossip peer: messages to it dropped"
                );
            }
            _ => {}
        }
    }

    /// Shared handling of any request-response protocol's events: answers go to the waiting
    /// `request` callers (`wrap` makes them a [`Response`]), failures are counted, and
    /// inbound requests that pass the peer's token bucket are queued for the node (`inbound`
    /// makes them a [`Request`] and keeps their response channel).
    fn on_request_response<Req, Resp>(
        &mut self,
        protocol: ReqProtocol,
        event: request_response::Event<Req, Resp>,
        wrap: impl FnOnce(Resp) -> Response,
        inbound: impl FnOnce(Req, request_response::ResponseChannel<Resp>) -> (Request, InboundChannel),
    ) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request_id,
                    request,
                    channel,
                } => {
                    if !self.request_buckets.try_take(peer, Instant::now()) {
                        NetworkMetrics::inc(&self.metrics.requests_rate_limited);
                        debug!(%peer, "request rate limit exceeded; dropped");
                        return;
                    }
                    if self.inbound.len() >= MAX_PENDING_INBOUND {
                        NetworkMetrics::inc(&self.metrics.requests_queue_full);
                        return;
                    }
                    let (request, channel) = inbound(request, channel);
                    self.accept_inbound(peer, RequestId(protocol, request_id), request, channel);
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.outbound.remove(&(protocol, request_id)) {
                        let _ = reply.send(Ok(wrap(response)));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                NetworkMetrics::inc(&self.metrics.requests_outbound_failed);
                if let Some(reply) = self.outbound.remove(&(protocol, request_id)) {
                    let _ = reply.send(Err(Error::Request {
                        peer,
                        reason: error.to_string(),
                    }));
                }
            }
            request_response::Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                NetworkMetrics::inc(&self.metrics.requests_inbound_failed);
                debug!(%peer, %error, "inbound request failed");
                self.inbound.remove(&RequestId(protocol, request_id));
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn accept_inbound(
        &mut self,
        peer: PeerId,
        id: RequestId,
        request: Request,
        channel: InboundChannel,
    ) {
        NetworkMetrics::inc(&self.metrics.requests_received);
        self.inbound.insert(id, channel);
        let event = NetworkEvent::Request { peer, id, request };
        if self.events.try_send(event).is_err() {
            // Dropping the channel closes the stream: the requester sees a failure at once.
            self.inbound.remove(&id);
            NetworkMetrics::inc(&self.metrics.requests_queue_full);
        }
    }
}

/// Appends `/p2p/<peer>` to an address unless it already names a peer.
pub fn with_peer(address: Multiaddr, peer: PeerId) -> Multiaddr {
    match address.iter().last() {
        Some(Protocol::P2p(_)) => address,
        _ => address.with(Protocol::P2p(peer)),
    }
}
