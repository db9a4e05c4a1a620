//! The p2pdex libp2p swarm, run as an event loop that owns it, driven through a cloneable
//! [`NetworkHandle`].
//!
//! - Transports: TCP and QUIC, noise, yamux. Behaviours: connection limits, gossipsub,
//!   request-response (`/p2pdex/sync/1`), identify, Kademlia (bootstrap peers from config)
//!   and mDNS, each switchable where it makes sense ([`NetworkConfig`]).
//! - Gossipsub runs in `ValidationMode::Anonymous` with content-addressed message ids and
//!   `validate_messages()`: every received message is handed to the node as a
//!   [`NetworkEvent::Gossip`] and is forwarded only once the node reports its verdict with
//!   [`NetworkHandle::report`]. Rejects lower the sender's score; graylisted peers are ignored.
//! - Reachability: AutoNAT (v2) tells whether the node is publicly reachable; a node that
//!   is not reserves slots on the relays it is connected to (identify shows the relay
//!   protocol) and on configured ones, and is reached through their `/p2p-circuit`
//!   addresses; DCUtR upgrades relayed connections to direct ones ([`ReachabilityView`]).
//! - Limits: per-peer token buckets on gossip and on requests, message size limits, connection
//!   limits, and bounded channels that drop and count ([`NetworkMetrics`]) when full. The
//!   event loop never waits for the node: events go out with `try_send`.
//!
//! This crate knows no books: it moves bytes and verdicts.
//!
//! # Flow
//! Commands go in over a bounded mpsc, each with a `oneshot` for its answer
//! (`NetworkHandle` → `EventLoop`); events come out over a bounded mpsc
//! (`EventLoop` → the node). An inbound request arrives as [`NetworkEvent::Request`] with a
//! [`RequestId`]; the node answers with [`NetworkHandle::respond`]. An outbound request is
//! [`NetworkHandle::request`], which resolves with the peer's [`Response`].
//!
//! # Adding a request-response protocol (take, swap)
//! 1. In `dex-protocol`, define its request and response types and implement `WireMessage`.
//! 2. Add a variant to [`Request`] and to [`Response`].
//! 3. Add a `request_response::Behaviour<JsonCodec<Req, Resp>>` field to the behaviour
//!    (`behaviour.rs`), built like `sync` with its protocol name.
//! 4. In the event loop (`event_loop.rs`), route the new variant in `send_request` and
//!    `respond`, and handle the new behaviour's events with the shared
//!    `on_request_response` helper (it does rate limiting, bookkeeping and metrics).

mod behaviour;
pub mod codec;
mod config;
mod error;
mod event_loop;
mod metrics;
mod rate_limit;
mod reach;

use std::sync::Arc;

use dex_protocol::{
    Verdict,
    sync::{SyncRequest, SyncResponse},
    take::{SwapAck, SwapMessage, TakeAnswer, TakeMessage},
};
pub use libp2p::{Multiaddr, PeerId, gossipsub::MessageId, identity::Keypair};
use tokio::sync::{mpsc, oneshot};

pub use behaviour::message_id;
pub use config::{
    ConnectionLimitsConfig, GossipConfig, NetworkConfig, RelayServerConfig, ScoreConfig,
};
pub use error::Error;
pub use event_loop::{spawn, with_peer};
pub use metrics::{NetworkMetrics, OpenConnections};
/// The prometheus-client registry [`spawn`] adds its metric families to.
pub use prometheus_client::registry::Registry;
pub use rate_limit::{PeerBuckets, RateLimit, TokenBucket};
pub use reach::{Reachability, RelaySlot, SlotOrigin};

/// A gossip message received from a peer, waiting for the node's verdict.
#[derive(Debug, Clone)]
pub struct GossipIn {
    /// The peer it came from (not necessarily its author: messages are anonymous).
    pub source: PeerId,
    /// Its gossipsub id (sha256 of `data`), to report the verdict with.
    pub message_id: MessageId,
    /// The topic it arrived on.
    pub topic: String,
    /// The message bytes, as received.
    pub data: Vec<u8>,
}

/// A request, inbound or outbound, of any request-response protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// `/p2pdex/sync/1`.
    Sync(SyncRequest),
    /// `/p2pdex/take/1` (boxed: it carries a signed order, much larger than the others).
    Take(Box<TakeMessage>),
    /// `/p2pdex/swap/1`.
    Swap(SwapMessage),
}

/// An answer, inbound or outbound, of any request-response protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response {
    /// `/p2pdex/sync/1`.
    Sync(SyncResponse),
    /// `/p2pdex/take/1`.
    Take(TakeAnswer),
    /// `/p2pdex/swap/1`.
    Swap(SwapAck),
}

/// The request-response protocols, to tell their (independently numbered) request ids apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ReqProtocol {
    Sync,
    Take,
    Swap,
}

/// Identifies an inbound request until it is answered with [`NetworkHandle::respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(
    pub(crate) ReqProtocol,
    pub(crate) libp2p::request_response::InboundRequestId,
);

/// What the event loop tells the node.
#[derive(Debug)]
#[non_exhaustive]
pub enum NetworkEvent {
    /// A gossip message to judge; report the verdict with [`NetworkHandle::report`].
    Gossip(GossipIn),
    /// A peer's request; answer it with [`NetworkHandle::respond`].
    Request {
        /// Who asks.
        peer: PeerId,
        /// Which request, to answer.
        id: RequestId,
        /// The request, decoded and within size limits (semantic checks are the node's).
        request: Request,
    },
    /// A first connection to a peer was established.
    PeerConnected(PeerId),
    /// The last connection to a peer closed.
    PeerDisconnected(PeerId),
    /// A peer subscribed to a topic.
    Subscribed {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
}

/// The node's verdict on a gossip message, as gossipsub takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// Valid: deliver and forward.
    Accept,
    /// Invalid: drop and penalise the source.
    Reject,
    /// Useless: drop quietly.
    Ignore,
}

impl From<&Verdict> for Acceptance {
    fn from(verdict: &Verdict) -> Self {
        match verdict {
            Verdict::Accept(_) => Acceptance::Accept,
            Verdict::Reject(_) => Acceptance::Reject,
            Verdict::Ignore(_) => Acceptance::Ignore,
        }
    }
}

/// A snapshot of gossipsub's view of the peers, for tests and the API.
#[derive(Debug, Clone, Default)]
pub struct PeerView {
    /// Connected peers.
    pub connected: Vec<PeerId>,
    /// Those of them reached only through a relay (no direct connection).
    pub relayed: Vec<PeerId>,
    /// The peer's address on each open connection to it (a circuit address for a relayed
    /// one; the peer's ephemeral port for one it dialled).
    pub addresses: std::collections::HashMap<PeerId, Vec<Multiaddr>>,
    /// Peers known to be subscribed to the topic asked about.
    pub subscribed: Vec<PeerId>,
    /// Peers in our mesh for that topic.
    pub mesh: Vec<PeerId>,
}

/// What the node knows of its own reachability, for tests and the API.
#[derive(Debug, Clone, Default)]
pub struct ReachabilityView {
    /// AutoNAT's verdict.
    pub status: Reachability,
    /// The swarm's external addresses, which identify advertises: those AutoNAT confirmed,
    /// a relay server's listen addresses, the circuit addresses of accepted relay slots.
    pub external_addrs: Vec<Multiaddr>,
    /// The relays this node holds, or is asking for, a slot on.
    pub relay_slots: Vec<RelaySlot>,
    /// Connected relays (identify shows the relay protocol, reached on a connection this
    /// node dialled) that could be asked for a slot.
    pub relay_candidates: Vec<PeerId>,
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// Everything the handle can ask of the event loop.
#[derive(Debug)]
pub(crate) enum Command {
    Subscribe {
        topic: String,
        reply: Reply<bool>,
    },
    Publish {
        topic: String,
        data: Vec<u8>,
        /// `None`: nobody waits for the outcome (a failure is counted and logged).
        reply: Option<Reply<MessageId>>,
    },
    Report {
        message_id: MessageId,
        source: PeerId,
        acceptance: Acceptance,
    },
    Request {
        peer: PeerId,
        request: Request,
        reply: Reply<Response>,
    },
    Respond {
        id: RequestId,
        response: Response,
        reply: Reply<()>,
    },
    Dial {
        address: Multiaddr,
        reply: Reply<()>,
    },
    Disconnect {
        peer: PeerId,
        reply: Reply<bool>,
    },
    ListenAddrs {
        reply: Reply<Vec<Multiaddr>>,
    },
    Peers {
        topic: Option<String>,
        reply: Reply<PeerView>,
    },
    PeerScore {
        peer: PeerId,
        reply: Reply<Option<f64>>,
    },
    Reachability {
        reply: Reply<ReachabilityView>,
    },
    Shutdown,
}

/// A cloneable handle to the network event loop. Every method sends a command over a
/// bounded channel (waiting while it is full) and, where there is an answer, waits for it.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    peer_id: PeerId,
    metrics: Arc<NetworkMetrics>,
}

impl NetworkHandle {
    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The counters of this network instance.
    pub fn metrics(&self) -> &Arc<NetworkMetrics> {
        &self.metrics
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| Error::Stopped)?;
        answer.await.map_err(|_| Error::Stopped)?
    }

    /// Subscribes to a topic (with its peer-score parameters). `Ok(false)` if already subscribed.
    pub async fn subscribe(&self, topic: impl Into<String>) -> Result<bool, Error> {
        let topic = topic.into();
        self.ask(|reply| Command::Subscribe { topic, reply }).await
    }

    /// Publishes bytes on a topic. Fails when no peer is subscribed, on a duplicate, or when
    /// gossipsub's queues are full; the caller decides whether that matters.
    pub async fn publish(
        &self,
        topic: impl Into<String>,
        data: Vec<u8>,
    ) -> Result<MessageId, Error> {
        let topic = topic.into();
        self.ask(|reply| Command::Publish {
            topic,
            data,
            reply: Some(reply),
        })
        .await
    }

    /// Publishes bytes on a topic without waiting for the outcome: it waits only for room
    /// in the event loop's queue. A failure (see [`NetworkHandle::publish`]) is counted in
    /// `dex_network_gossip_publish_failed_total` and logged at debug level. For a caller
    /// that publishes one message after another and would do nothing with the error (a
    /// node gossiping its placements), the reply's round trip through the event loop
    /// would only serialise them.
    pub async fn publish_detached(
        &self,
        topic: impl Into<String>,
        data: Vec<u8>,
    ) -> Result<(), Error> {
        self.commands
            .send(Command::Publish {
                topic: topic.into(),
                data,
                reply: None,
            })
            .await
            .map_err(|_| Error::Stopped)
    }

    /// Reports the verdict on a [`GossipIn`]: only accepted messages are forwarded.
    pub async fn report(
        &self,
        message_id: MessageId,
        source: PeerId,
        acceptance: Acceptance,
    ) -> Result<(), Error> {
        self.commands
            .send(Command::Report {
                message_id,
                source,
                acceptance,
            })
            .await
            .map_err(|_| Error::Stopped)
    }

    /// Sends a request and waits for the answer (or the configured timeout).
    pub async fn request(&self, peer: PeerId, request: Request) -> Result<Response, Error> {
        self.ask(|reply| Command::Request {
            peer,
            request,
            reply,
        })
        .await
    }

    /// Answers an inbound request. The response must be of the request's protocol.
    pub async fn respond(&self, id: RequestId, response: Response) -> Result<(), Error> {
        self.ask(|reply| Command::Respond {
            id,
            response,
            reply,
        })
        .await
    }

    /// Dials an address (with `/p2p/<peer id>` to check whom we reach).
    pub async fn dial(&self, address: Multiaddr) -> Result<(), Error> {
        self.ask(|reply| Command::Dial { address, reply }).await
    }

    /// Closes every connection to `peer`. `Ok(false)` if it was not connected. Nothing in
    /// this crate redials by itself unless Kademlia or mDNS finds the peer again.
    pub async fn disconnect(&self, peer: PeerId) -> Result<bool, Error> {
        self.ask(|reply| Command::Disconnect { peer, reply }).await
    }

    /// The addresses the swarm listens on (ephemeral ports resolved).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, Error> {
        self.ask(|reply| Command::ListenAddrs { reply }).await
    }

    /// Connected peers, and the subscribers and mesh of `topic` if given.
    pub async fn peers(&self, topic: Option<String>) -> Result<PeerView, Error> {
        self.ask(|reply| Command::Peers { topic, reply }).await
    }

    /// Gossipsub's current score of a peer.
    pub async fn peer_score(&self, peer: PeerId) -> Result<Option<f64>, Error> {
        self.ask(|reply| Command::PeerScore { peer, reply }).await
    }

    /// AutoNAT's verdict, the external addresses and the relay slots.
    pub async fn reachability(&self) -> Result<ReachabilityView, Error> {
        self.ask(|reply| Command::Reachability { reply }).await
    }

    /// Stops the event loop; connections close. Other handles then get [`Error::Stopped`].
    pub async fn shutdown(&self) {
        // If it is already stopped there is nothing to do.
        let _ = self.commands.send(Command::Shutdown).await;
    }
}
