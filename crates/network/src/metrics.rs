//! Counters of the network layer: every drop and rejection is counted.
//!
//! prometheus-client counters and gauges (atomics behind an `Arc`), written only by the
//! event loop and read by anyone: the registry that `/metrics` encodes (see
//! [`NetworkMetrics::register`]) and the tests. Reading them never waits for the event loop.

use prometheus_client::{
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::Registry,
};

/// Counters of one network instance (totals since start), and a few gauges of its state now
/// ([`NetworkMetrics::open_connections`], [`NetworkMetrics::is_reachable`]).
#[derive(Debug, Default)]
pub struct NetworkMetrics {
    /// Gossip messages delivered by gossipsub (new to this node, before any verdict).
    pub gossip_received: Counter,
    /// Gossip messages dropped because their propagation source exceeded its token bucket.
    pub gossip_rate_limited: Counter,
    /// Gossip messages dropped because the event queue to the node was full.
    pub gossip_queue_full: Counter,
    /// Verdicts reported as Accept.
    pub gossip_accepted: Counter,
    /// Verdicts reported as Reject (sender penalised).
    pub gossip_rejected: Counter,
    /// Verdicts reported as Ignore (including rate-limited and queue-full drops).
    pub gossip_ignored: Counter,
    /// Verdicts that arrived after gossipsub had forgotten the message.
    pub gossip_verdict_late: Counter,
    /// Messages published by this node.
    pub gossip_published: Counter,
    /// Publish attempts gossipsub refused.
    pub gossip_publish_failed: Counter,
    /// Gossip data (published or forwarded messages, IHAVE/IWANT) that gossipsub dropped
    /// instead of sending to a peer that did not take it in time: the peer's send queue was
    /// full, or the message waited past its send deadline. The peer misses those messages
    /// unless another peer sends them; heartbeat roots and sync repair the book later.
    pub gossip_send_dropped: Counter,
    /// Gossip control messages (GRAFT, PRUNE, IDONTWANT) dropped for the same reason.
    pub gossip_control_dropped: Counter,
    /// Slow-peer reports: one per peer and gossipsub heartbeat in which it dropped
    /// anything for that peer.
    pub gossip_slow_peers: Counter,
    /// Inbound requests handed to the node.
    pub requests_received: Counter,
    /// Inbound requests dropped because the peer exceeded its token bucket.
    pub requests_rate_limited: Counter,
    /// Inbound requests dropped because the event queue to the node was full.
    pub requests_queue_full: Counter,
    /// Inbound requests that failed (decode error, timeout, connection closed).
    pub requests_inbound_failed: Counter,
    /// Outbound requests that failed.
    pub requests_outbound_failed: Counter,
    /// Other events dropped because the event queue to the node was full.
    pub events_dropped: Counter,
    /// Commands that could not be queued because the command channel was full.
    pub commands_dropped: Counter,
    /// Connections established.
    pub connections_established: Counter,
    /// Connections closed.
    pub connections_closed: Counter,
    /// Connections established through a relay circuit (counted in `connections_established`
    /// too).
    pub connections_relayed: Counter,
    /// Hole punching attempts that ended (each DCUtR outcome, success or failure).
    pub hole_punch_attempts: Counter,
    /// Relayed connections upgraded to direct ones by hole punching.
    pub hole_punch_succeeded: Counter,
    /// Hole punching attempts that failed (the connection stays relayed).
    pub hole_punch_failed: Counter,
    /// Incoming connections refused or failed (limits, handshake errors).
    pub incoming_connection_errors: Counter,
    /// Identify answers received from peers (their protocols, and how they see us).
    pub identify_received: Counter,
    /// Relay slots asked for automatically (a connected relay, the node not public).
    pub auto_relay_requests: Counter,
    /// Of those, reservations the relay accepted (renewals not counted).
    pub auto_relay_reservations: Counter,
    /// Accepted automatic reservations lost (the listener closed or the relay left).
    pub auto_relay_reservations_lost: Counter,
    /// Gauge: open connections by kind (`direct`, `relayed`).
    open: Family<[(&'static str, &'static str); 1], Gauge>,
    /// Gauge: 1 when AutoNAT confirmed at least one address of this node.
    reachable: Gauge,
}

/// Connections open now, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenConnections {
    /// Not through a relay (dialled, accepted, or hole-punched).
    pub direct: u64,
    /// Through a relay circuit.
    pub relayed: u64,
}

impl NetworkMetrics {
    /// Reads a counter.
    pub fn get(counter: &Counter) -> u64 {
        counter.get()
    }

    pub(crate) fn inc(counter: &Counter) {
        counter.inc();
    }

    pub(crate) fn add(counter: &Counter, amount: u64) {
        counter.inc_by(amount);
    }

    fn open_gauge(&self, kind: &'static str) -> i64 {
        self.open.get_or_create(&[("kind", kind)]).get()
    }

    /// Connections open now, by kind.
    pub fn open_connections(&self) -> OpenConnections {
        OpenConnections {
            direct: u64::try_from(self.open_gauge("direct")).unwrap_or(0),
            relayed: u64::try_from(self.open_gauge("relayed")).unwrap_or(0),
        }
    }

    pub(crate) fn set_open_connections(&self, open: OpenConnections) {
        for (kind, value) in [("direct", open.direct), ("relayed", open.relayed)] {
            self.open
                .get_or_create(&[("kind", kind)])
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    /// Whether AutoNAT confirmed this node publicly reachable (see
    /// [`crate::NetworkHandle::reachability`] for the addresses).
    pub fn is_reachable(&self) -> bool {
        self.reachable.get() > 0
    }

    pub(crate) fn set_reachable(&self, reachable: bool) {
        self.reachable.set(i64::from(reachable));
    }

    /// Every counter (not the gauges) as `(name, counter)`: registered as
    /// `dex_network_<name>_total`.
    fn counters(&self) -> [(&'static str, &Counter); 30] {
        [
            ("gossip_received", &self.gossip_received),
            ("gossip_rate_limited", &self.gossip_rate_limited),
            ("gossip_queue_full", &self.gossip_queue_full),
            ("gossip_accepted", &self.gossip_accepted),
            ("gossip_rejected", &self.gossip_rejected),
            ("gossip_ignored", &self.gossip_ignored),
            ("gossip_verdict_late", &self.gossip_verdict_late),
            ("gossip_published", &self.gossip_published),
            ("gossip_publish_failed", &self.gossip_publish_failed),
            ("gossip_send_dropped", &self.gossip_send_dropped),
            ("gossip_control_dropped", &self.gossip_control_dropped),
            ("gossip_slow_peers", &self.gossip_slow_peers),
            ("requests_received", &self.requests_received),
            ("requests_rate_limited", &self.requests_rate_limited),
            ("requests_queue_full", &self.requests_queue_full),
            ("requests_inbound_failed", &self.requests_inbound_failed),
            ("requests_outbound_failed", &self.requests_outbound_failed),
            ("events_dropped", &self.events_dropped),
            ("commands_dropped", &self.commands_dropped),
            ("connections_established", &self.connections_established),
            ("connections_closed", &self.connections_closed),
            ("connections_relayed", &self.connections_relayed),
            ("hole_punch_attempts", &self.hole_punch_attempts),
            ("hole_punch_succeeded", &self.hole_punch_succeeded),
            ("hole_punch_failed", &self.hole_punch_failed),
            (
                "incoming_connection_errors",
                &self.incoming_connection_errors,
            ),
            ("identify_received", &self.identify_received),
            ("auto_relay_requests", &self.auto_relay_requests),
            ("auto_relay_reservations", &self.auto_relay_reservations),
            (
                "auto_relay_reservations_lost",
                &self.auto_relay_reservations_lost,
            ),
        ]
    }

    /// Adds these counters and gauges to `registry` (they stay shared with this instance):
    /// `dex_network_<counter>_total`, `dex_network_reachable` and
    /// `dex_connections{kind="direct"|"relayed"}`.
    pub fn register(&self, registry: &mut Registry) {
        for (name, counter) in self.counters() {
            registry.register(
                format!("dex_network_{name}"),
                format!("Network counter {name}, since start."),
                counter.clone(),
            );
        }
        registry.register(
            "dex_network_reachable",
            "1 if AutoNAT confirmed this node publicly reachable, else 0 (reached through relays, or not known yet).",
            self.reachable.clone(),
        );
        // Both kinds shown from the start, at zero.
        self.set_open_connections(self.open_connections());
        registry.register(
            "dex_connections",
            "Open connections by kind: direct, or relayed through a circuit.",
            self.open.clone(),
        );
    }
}
