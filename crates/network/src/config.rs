//! Configuration of the network layer. Every limit is a setting; the defaults are the
//! production values of DESIGN §5, and [`NetworkConfig::loopback`] is the in-process test
//! profile.

use std::{net::IpAddr, time::Duration};

use libp2p::Multiaddr;

use crate::RateLimit;

/// Everything the swarm needs besides its identity key.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Addresses to listen on (TCP `/ip4/…/tcp/…` and QUIC `/ip4/…/udp/…/quic-v1`).
    pub listen_addrs: Vec<Multiaddr>,
    /// Peers dialed at start and added to Kademlia, each with its `/p2p/<peer id>`.
    pub bootstrap: Vec<Multiaddr>,
    /// Find peers on the local network with mDNS.
    pub mdns: bool,
    /// Run Kademlia discovery (random walks from the bootstrap peers). Off only when a test
    /// wants exactly the topology it dialed.
    pub kad: bool,
    /// Gossipsub settings and peer scoring.
    pub gossip: GossipConfig,
    /// Token bucket of gossip messages per propagating peer.
    pub gossip_rate: RateLimit,
    /// Token bucket of inbound requests per peer.
    pub request_rate: RateLimit,
    /// Connection limits.
    pub connections: ConnectionLimitsConfig,
    /// Capacity of the command channel into the event loop.
    pub command_queue: usize,
    /// Capacity of the event channel out of the event loop; when full, events are dropped and
    /// counted (gossip is reported as Ignore, requests go unanswered).
    pub event_queue: usize,
    /// How long an outbound request may take.
    pub request_timeout: Duration,
    /// How long a connection without streams stays open.
    pub idle_connection_timeout: Duration,
    /// Concurrent request-response streams per connection.
    pub max_concurrent_streams: usize,
    /// Relays to reserve a slot on, each with its `/p2p/<peer id>`: the node listens on
    /// `<relay>/p2p-circuit`, so that peers that cannot dial it (it is behind a NAT) reach
    /// it through the relay. Needed only for relays the node does not otherwise connect to:
    /// connected relays are found by themselves (`max_auto_relays`).
    pub relays: Vec<Multiaddr>,
    /// Automatic relay slots: while AutoNAT has not confirmed the node public, it reserves a
    /// slot on connected peers whose identify shows the relay protocol, as long as it holds
    /// fewer slots than this (configured `relays` included). 0: only the configured relays.
    /// Relay servers make no automatic reservations. Default 2.
    pub max_auto_relays: usize,
    /// Run AutoNAT (v2): ask connected AutoNAT servers to dial this node back, to learn
    /// whether it is publicly reachable (confirmed addresses become external addresses that
    /// identify advertises, and a public node makes no automatic relay reservations); with
    /// `relay_server`, also serve such probes to others. Off in the loopback profile, where
    /// every address is reachable from every node.
    pub autonat: bool,
    /// Serve relay circuits to other nodes, within these limits (`None`: do not).
    pub relay_server: Option<RelayServerConfig>,
    /// Try to turn relayed connections into direct ones (DCUtR hole punching).
    pub hole_punching: bool,
}

/// Limits of a relay server, sized for p2pdex: take and swap messages are small, but a
/// swap's hints flow for minutes (libp2p's defaults, 2 min and 128 KiB per circuit, end a
/// relayed swap halfway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayServerConfig {
    /// Reservations held at once. Default 128.
    pub max_reservations: usize,
    /// Reservations one peer may hold. Default 2.
    pub max_reservations_per_peer: usize,
    /// How long a reservation lasts before it must be renewed. Default 1 h.
    pub reservation_duration: Duration,
    /// Circuits open at once. Default 256.
    pub max_circuits: usize,
    /// Circuits to or from one peer at once. Default 16.
    pub max_circuits_per_peer: usize,
    /// How long one circuit may stay open. Default 30 min.
    pub max_circuit_duration: Duration,
    /// Bytes one circuit may carry. Default 16 MiB.
    pub max_circuit_bytes: u64,
}

impl Default for RelayServerConfig {
    fn default() -> Self {
        RelayServerConfig {
            max_reservations: 128,
            max_reservations_per_peer: 2,
            reservation_duration: Duration::from_secs(3600),
            max_circuits: 256,
            max_circuits_per_peer: 16,
            max_circuit_duration: Duration::from_secs(30 * 60),
            max_circuit_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Gossipsub settings.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// Mesh maintenance interval.
    pub heartbeat_interval: Duration,
    /// Target mesh degree.
    pub mesh_n: usize,
    /// Below this, graft more peers.
    pub mesh_n_low: usize,
    /// Above this, prune peers.
    pub mesh_n_high: usize,
    /// Largest gossipsub frame read or written. Larger than the protocol's own 64 KiB limit
    /// so that slightly oversized messages reach the validator and are rejected with a
    /// penalty, while huge ones are cut off by the transport.
    pub max_transmit_size: usize,
    /// Messages larger than this make the receiver tell its mesh peers "don't send me this
    /// one" (IDONTWANT), saving their duplicate copies. The default is libp2p's 1,000 bytes,
    /// above an order message (~750 bytes): for messages this small an IDONTWANT is one more
    /// frame (encryption, a muxer header, a write) per mesh peer, as dear as the duplicate it
    /// saves, and announcing orders made 30 in-process nodes at 200 orders/s use ≈ 45% more
    /// CPU in all (`scripts/bench.sh gossip`: 12.3–12.9 against 8.2–8.8 CPU-seconds).
    pub idontwant_threshold: usize,
    /// Peer scoring.
    pub score: ScoreConfig,
}

/// Gossipsub peer scoring: invalid messages cost score; peers below the thresholds lose
/// gossip, then publishing, then are ignored entirely (graylisted).
#[derive(Debug, Clone)]
pub struct ScoreConfig {
    /// Weight of each topic's invalid-message counter (applied squared, so it is negative
    /// and grows fast with repeated offences).
    pub invalid_message_weight: f64,
    /// Below this score no gossip (IHAVE/IWANT) is exchanged with the peer.
    pub gossip_threshold: f64,
    /// Below this score our messages are not published to the peer.
    pub publish_threshold: f64,
    /// Below this score everything from the peer is ignored.
    pub graylist_threshold: f64,
    /// How many peers may share one IP before the colocation penalty applies.
    pub ip_colocation_threshold: f64,
    /// Addresses exempt from the IP-colocation penalty. Empty in production (the penalty
    /// defends against one host posing as many peers); loopback in in-process test networks,
    /// where 30 nodes on 127.0.0.1 would otherwise graylist each other.
    pub ip_colocation_whitelist: Vec<IpAddr>,
}

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimitsConfig {
    /// Established connections in total.
    pub max_established: u32,
    /// Established connections per peer.
    pub max_established_per_peer: u32,
    /// Incoming connections still in handshake.
    pub max_pending_incoming: u32,
    /// Outgoing connections still in handshake.
    pub max_pending_outgoing: u32,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            listen_addrs: vec![
                "/ip4/0.0.0.0/tcp/7781"
                    .parse()
                    .expect("a valid multiaddr literal"),
                "/ip4/0.0.0.0/udp/7781/quic-v1"
                    .parse()
                    .expect("a valid multiaddr literal"),
            ],
            bootstrap: Vec::new(),
            mdns: true,
            kad: true,
            gossip: GossipConfig::default(),
            gossip_rate: RateLimit::DEFAULT,
            request_rate: RateLimit::DEFAULT,
            connections: ConnectionLimitsConfig::default(),
            command_queue: 1024,
            event_queue: 4096,
            request_timeout: Duration::from_secs(10),
            idle_connection_timeout: Duration::from_secs(60),
            max_concurrent_streams: 64,
            relays: Vec::new(),
            max_auto_relays: 2,
            autonat: true,
            relay_server: None,
            hole_punching: true,
        }
    }
}

impl NetworkConfig {
    /// The in-process test profile: TCP on 127.0.0.1 with an ephemeral port, no mDNS, no
    /// Kademlia (tests dial the topology they want), no AutoNAT (on loopback every node
    /// would be confirmed public, and so would make no automatic relay reservations), a fast
    /// heartbeat, and loopback exempt from the IP-colocation penalty. Limits and scoring stay
    /// as in production.
    pub fn loopback() -> Self {
        let mut config = NetworkConfig {
            listen_addrs: vec![
                "/ip4/127.0.0.1/tcp/0"
                    .parse()
                    .expect("a valid multiaddr literal"),
            ],
            mdns: false,
            kad: false,
            autonat: false,
            ..NetworkConfig::default()
        };
        config.gossip.heartbeat_interval = Duration::from_millis(200);
        config.gossip.score.ip_colocation_whitelist = vec![IpAddr::from([127, 0, 0, 1])];
        config
    }
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            heartbeat_interval: Duration::from_secs(1),
            mesh_n: 6,
            mesh_n_low: 4,
            mesh_n_high: 12,
            max_transmit_size: 2 * dex_protocol::MAX_GOSSIP_SIZE,
            idontwant_threshold: 1_000,
            score: ScoreConfig::default(),
        }
    }
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            invalid_message_weight: -100.0,
            gossip_threshold: -500.0,
            publish_threshold: -1000.0,
            graylist_threshold: -2500.0,
            ip_colocation_threshold: 10.0,
            ip_colocation_whitelist: Vec::new(),
        }
    }
}

impl Default for ConnectionLimitsConfig {
    fn default() -> Self {
        ConnectionLimitsConfig {
            max_established: 256,
            max_established_per_peer: 2,
            max_pending_incoming: 64,
            max_pending_outgoing: 64,
        }
    }
}
