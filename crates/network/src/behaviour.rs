//! The composed libp2p behaviour and its construction from the config.

use std::time::Duration;

use dex_protocol::{
    sync::{SyncRequest, SyncResponse},
    take::{SwapAck, SwapMessage, TakeAnswer, TakeMessage},
};
use libp2p::{
    PeerId, StreamProtocol, autonat, connection_limits, dcutr, gossipsub, identify,
    identity::Keypair,
    kad, mdns, relay, request_response,
    swarm::{NetworkBehaviour, behaviour::toggle::Toggle},
};
use sha2::{Digest, Sha256};

use crate::{Error, NetworkConfig, codec::JsonCodec};

/// Identify protocol version: peers of other networks are told apart by it.
pub(crate) const IDENTIFY_PROTOCOL: &str = "/p2pdex/1.0.0";
/// Kademlia protocol name, separate from the public IPFS DHT.
pub(crate) const KAD_PROTOCOL: StreamProtocol = StreamProtocol::new("/p2pdex/kad/1");
/// Sync over request-response.
pub(crate) const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new(dex_protocol::SYNC_PROTOCOL);
/// Take requests and answers over request-response.
pub(crate) const TAKE_PROTOCOL: StreamProtocol = StreamProtocol::new(dex_protocol::TAKE_PROTOCOL);
/// Swap hints over request-response.
pub(crate) const SWAP_PROTOCOL: StreamProtocol = StreamProtocol::new(dex_protocol::SWAP_PROTOCOL);

/// Every behaviour of a p2pdex node. A new request-response protocol (take, swap) is one more
/// field here of type `request_response::Behaviour<JsonCodec<Req, Resp>>`.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Connection limits come first so that refused connections never reach the others.
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) sync: request_response::Behaviour<JsonCodec<SyncRequest, SyncResponse>>,
    pub(crate) take: request_response::Behaviour<JsonCodec<TakeMessage, TakeAnswer>>,
    pub(crate) swap: request_response::Behaviour<JsonCodec<SwapMessage, SwapAck>>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) kad: Toggle<kad::Behaviour<kad::store::MemoryStore>>,
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
    /// Reaching and being reached through relays.
    pub(crate) relay_client: relay::client::Behaviour,
    /// Serving circuits to others (`relay_server`).
    pub(crate) relay: Toggle<relay::Behaviour>,
    /// Upgrading relayed connections to direct ones (`hole_punching`).
    pub(crate) dcutr: Toggle<dcutr::Behaviour>,
    /// Learning whether this node is publicly reachable (`autonat`): addresses that an
    /// AutoNAT server dialled back become external addresses.
    pub(crate) autonat_client: Toggle<autonat::v2::client::Behaviour>,
    /// Dialling others back for their probes (`autonat` with `relay_server`).
    pub(crate) autonat_server: Toggle<autonat::v2::server::Behaviour>,
}

/// Gossipsub message id: sha256 of the data. Anonymous messages have no author or sequence
/// number, so the content is the identity, and the same order re-published by anyone is the
/// same message.
pub fn message_id(data: &[u8]) -> gossipsub::MessageId {
    gossipsub::MessageId::from(Sha256::digest(data).to_vec())
}

pub(crate) fn gossipsub_config(config: &NetworkConfig) -> Result<gossipsub::Config, Error> {
    let gossip = &config.gossip;
    gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .message_id_fn(|message: &gossipsub::Message| message_id(&message.data))
        // Nothing is forwarded before the node's verdict.
        .validate_messages()
        .heartbeat_interval(gossip.heartbeat_interval)
        .mesh_n(gossip.mesh_n)
        .mesh_n_low(gossip.mesh_n_low)
        .mesh_n_high(gossip.mesh_n_high)
        .mesh_outbound_min(gossip.mesh_n_low.min(gossip.mesh_n / 2))
        .max_transmit_size(gossip.max_transmit_size)
        .idontwant_message_size_threshold(gossip.idontwant_threshold)
        .duplicate_cache_time(Duration::from_secs(120))
        .build()
        .map_err(|err| Error::Setup {
            reason: format!("gossipsub config: {err}"),
        })
}

/// Score parameters of one topic: only invalid messages (P4) and first deliveries (P2) count.
/// Mesh delivery-rate penalties (P3) are off because a quiet market would punish honest peers.
pub(crate) fn topic_score_params(config: &NetworkConfig) -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.01,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 100.0,
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_decay: 0.9,
        first_message_deliveries_cap: 100.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: config.gossip.score.invalid_message_weight,
        invalid_message_deliveries_decay: 0.99,
        ..gossipsub::TopicScoreParams::default()
    }
}

fn peer_score(
    config: &NetworkConfig,
) -> (gossipsub::PeerScoreParams, gossipsub::PeerScoreThresholds) {
    let score = &config.gossip.score;
    let params = gossipsub::PeerScoreParams {
        ip_colocation_factor_threshold: score.ip_colocation_threshold,
        ip_colocation_factor_whitelist: score.ip_colocation_whitelist.iter().copied().collect(),
        // Topics are added as they are subscribed.
        ..gossipsub::PeerScoreParams::default()
    };
    let thresholds = gossipsub::PeerScoreThresholds {
        gossip_threshold: score.gossip_threshold,
        publish_threshold: score.publish_threshold,
        graylist_threshold: score.graylist_threshold,
        ..gossipsub::PeerScoreThresholds::default()
    };
    (params, thresholds)
}

impl Behaviour {
    pub(crate) fn new(
        key: &Keypair,
        relay_client: relay::client::Behaviour,
        config: &NetworkConfig,
    ) -> Result<Self, Error> {
        let peer_id = PeerId::from(key.public());
        let setup = |what: &str, err: &dyn std::fmt::Display| Error::Setup {
            reason: format!("{what}: {err}"),
        };
        let mut gossipsub = gossipsub::Behaviour::new(
            gossipsub::MessageAuthenticity::Anonymous,
            gossipsub_config(config)?,
        )
        .map_err(|err| setup("gossipsub", &err))?;
        let (params, thresholds) = peer_score(config);
        gossipsub
            .with_peer_score(params, thresholds)
            .map_err(|err| setup("peer score", &err))?;

        let limits = &config.connections;
        let limits = connection_limits::Behaviour::new(
            connection_limits::ConnectionLimits::default()
                .with_max_established(Some(limits.max_established))
                .with_max_established_per_peer(Some(limits.max_established_per_peer))
                .with_max_pending_incoming(Some(limits.max_pending_incoming))
                .with_max_pending_outgoing(Some(limits.max_pending_outgoing)),
        );

        let request_config = || {
            request_response::Config::default()
                .with_request_timeout(config.request_timeout)
                .with_max_concurrent_streams(config.max_concurrent_streams)
        };
        let sync = request_response::Behaviour::new(
            [(SYNC_PROTOCOL, request_response::ProtocolSupport::Full)],
            request_config(),
        );
        let take = request_response::Behaviour::new(
            [(TAKE_PROTOCOL, request_response::ProtocolSupport::Full)],
            request_config(),
        );
        let swap = request_response::Behaviour::new(
            [(SWAP_PROTOCOL, request_response::ProtocolSupport::Full)],
            request_config(),
        );

        let identify = identify::Behaviour::new(identify::Config::new(
            IDENTIFY_PROTOCOL.to_owned(),
            key.public(),
        ));

        let kad = config.kad.then(|| {
            let mut kad = kad::Behaviour::with_config(
                peer_id,
                kad::store::MemoryStore::new(peer_id),
                kad::Config::new(KAD_PROTOCOL),
            );
            kad.set_mode(Some(kad::Mode::Server));
            kad
        });

        let mdns = if config.mdns {
            Some(
                mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)
                    .map_err(|err| setup("mdns", &err))?,
            )
        } else {
            None
        };

        let relay = config.relay_server.map(|limits| {
            let mut relay = relay::Behaviour::new(
                peer_id,
                relay::Config {
                    max_reservations: limits.max_reservations,
                    max_reservations_per_peer: limits.max_reservations_per_peer,
                    reservation_duration: limits.reservation_duration,
                    max_circuits: limits.max_circuits,
                    max_circuits_per_peer: limits.max_circuits_per_peer,
                    max_circuit_duration: limits.max_circuit_duration,
                    max_circuit_bytes: limits.max_circuit_bytes,
                    ..relay::Config::default()
                },
            );
            // Serve from the start, whatever addresses the node learns it has.
            relay.set_status(Some(relay::Status::Enable));
            relay
        });
        let dcutr = config.hole_punching.then(|| dcutr::Behaviour::new(peer_id));
        let autonat_client = config.autonat.then(autonat::v2::client::Behaviour::default);
        // Public relay nodes are the servers every node behind a NAT can ask.
        let autonat_server = (config.autonat && config.relay_server.is_some())
            .then(autonat::v2::server::Behaviour::default);

        Ok(Behaviour {
            limits,
            gossipsub,
            sync,
            take,
            swap,
            identify,
            kad: kad.into(),
            mdns: mdns.into(),
            relay_client,
            relay: relay.into(),
            dcutr: dcutr.into(),
            autonat_client: autonat_client.into(),
            autonat_server: autonat_server.into(),
        })
    }
}
