//! Counters of the network layer: every drop and rejection is counted.
//!
//! Plain atomics behind an `Arc`, written only by the event loop and read by anyone (API
//! `/metrics`, tests); reading them never waits for the event loop.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Counters of one network instance (totals since start), and a few gauges of its state now
/// ([`NetworkMetrics::open_connections`], [`NetworkMetrics::is_reachable`]).
#[derive(Debug, Default)]
pub struct NetworkMetrics {
    /// Gossip messages delivered by gossipsub (new to this node, before any verdict).
    pub gossip_received: AtomicU64,
    /// Gossip messages dropped because their propagation source exceeded its token bucket.
    pub gossip_rate_limited: AtomicU64,
    /// Gossip messages dropped because the event queue to the node was full.
    pub gossip_queue_full: AtomicU64,
    /// Verdicts reported as Accept.
    pub gossip_accepted: AtomicU64,
    /// Verdicts reported as Reject (sender penalised).
    pub gossip_rejected: AtomicU64,
    /// Verdicts reported as Ignore (including rate-limited and queue-full drops).
    pub gossip_ignored: AtomicU64,
    /// Verdicts that arrived after gossipsub had forgotten the message.
    pub gossip_verdict_late: AtomicU64,
    /// Messages published by this node.
    pub gossip_published: AtomicU64,
    /// Publish attempts gossipsub refused.
    pub gossip_publish_failed: AtomicU64,
    /// Gossip data (published or forwarded messages, IHAVE/IWANT) that gossipsub dropped
    /// instead of sending to a peer that did not take it in time: the peer's send queue was
    /// full, or the message waited past its send deadline. The peer misses those messages
    /// unless another peer sends them; heartbeat roots and sync repair the book later.
    pub gossip_send_dropped: AtomicU64,
    /// Gossip control messages (GRAFT, PRUNE, IDONTWANT) dropped for the same reason.
    pub gossip_control_dropped: AtomicU64,
    /// Slow-peer reports: one per peer and gossipsub heartbeat in which it dropped
    /// anything for that peer.
    pub gossip_slow_peers: AtomicU64,
    /// Inbound requests handed to the node.
    pub requests_received: AtomicU64,
    /// Inbound requests dropped because the peer exceeded its token bucket.
    pub requests_rate_limited: AtomicU64,
    /// Inbound requests dropped because the event queue to the node was full.
    pub requests_queue_full: AtomicU64,
    /// Inbound requests that failed (decode error, timeout, connection closed).
    pub requests_inbound_failed: AtomicU64,
    /// Outbound requests that failed.
    pub requests_outbound_failed: AtomicU64,
    /// Other events dropped because the event queue to the node was full.
    pub events_dropped: AtomicU64,
    /// Commands that could not be queued because the command channel was full.
    pub commands_dropped: AtomicU64,
    /// Connections established.
    pub connections_established: AtomicU64,
    /// Connections closed.
    pub connections_closed: AtomicU64,
    /// Connections established through a relay circuit (counted in `connections_established`
    /// too).
    pub connections_relayed: AtomicU64,
    /// Hole punching attempts that ended (each DCUtR outcome, success or failure).
    pub hole_punch_attempts: AtomicU64,
    /// Relayed connections upgraded to direct ones by hole punching.
    pub hole_punch_succeeded: AtomicU64,
    /// Hole punching attempts that failed (the connection stays relayed).
    pub hole_punch_failed: AtomicU64,
    /// Incoming connections refused or failed (limits, handshake errors).
    pub incoming_connection_errors: AtomicU64,
    /// Identify answers received from peers (their protocols, and how they see us).
    pub identify_received: AtomicU64,
    /// Relay slots asked for automatically (a connected relay, the node not public).
    pub auto_relay_requests: AtomicU64,
    /// Of those, reservations the relay accepted (renewals not counted).
    pub auto_relay_reservations: AtomicU64,
    /// Accepted automatic reservations lost (the listener closed or the relay left).
    pub auto_relay_reservations_lost: AtomicU64,
    /// Gauge: open connections that do not go through a relay.
    open_direct: AtomicU64,
    /// Gauge: open connections through a relay circuit.
    open_relayed: AtomicU64,
    /// Gauge: AutoNAT confirmed at least one address of this node.
    reachable: AtomicBool,
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
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    /// Connections open now, by kind.
    pub fn open_connections(&self) -> OpenConnections {
        OpenConnections {
            direct: self.open_direct.load(Ordering::Relaxed),
            relayed: self.open_relayed.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn set_open_connections(&self, open: OpenConnections) {
        self.open_direct.store(open.direct, Ordering::Relaxed);
        self.open_relayed.store(open.relayed, Ordering::Relaxed);
    }

    /// Whether AutoNAT confirmed this node publicly reachable (see
    /// [`crate::NetworkHandle::reachability`] for the addresses).
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    pub(crate) fn set_reachable(&self, reachable: bool) {
        self.reachable.store(reachable, Ordering::Relaxed);
    }

    /// Every counter (not the gauges) as `(name, value)`, for exposition.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let get = Self::get;
        vec![
            ("gossip_received", get(&self.gossip_received)),
            ("gossip_rate_limited", get(&self.gossip_rate_limited)),
            ("gossip_queue_full", get(&self.gossip_queue_full)),
            ("gossip_accepted", get(&self.gossip_accepted)),
            ("gossip_rejected", get(&self.gossip_rejected)),
            ("gossip_ignored", get(&self.gossip_ignored)),
            ("gossip_verdict_late", get(&self.gossip_verdict_late)),
            ("gossip_published", get(&self.gossip_published)),
            ("gossip_publish_failed", get(&self.gossip_publish_failed)),
            ("gossip_send_dropped", get(&self.gossip_send_dropped)),
            ("gossip_control_dropped", get(&self.gossip_control_dropped)),
            ("gossip_slow_peers", get(&self.gossip_slow_peers)),
            ("requests_received", get(&self.requests_received)),
            ("requests_rate_limited", get(&self.requests_rate_limited)),
            ("requests_queue_full", get(&self.requests_queue_full)),
            (
                "requests_inbound_failed",
                get(&self.requests_inbound_failed),
            ),
            (
                "requests_outbound_failed",
                get(&self.requests_outbound_failed),
            ),
            ("events_dropped", get(&self.events_dropped)),
            ("commands_dropped", get(&self.commands_dropped)),
            (
                "connections_established",
                get(&self.connections_established),
            ),
            ("connections_closed", get(&self.connections_closed)),
            ("connections_relayed", get(&self.connections_relayed)),
            ("hole_punch_attempts", get(&self.hole_punch_attempts)),
            ("hole_punch_succeeded", get(&self.hole_punch_succeeded)),
            ("hole_punch_failed", get(&self.hole_punch_failed)),
            (
                "incoming_connection_errors",
                get(&self.incoming_connection_errors),
            ),
            ("identify_received", get(&self.identify_received)),
            ("auto_relay_requests", get(&self.auto_relay_requests)),
            (
                "auto_relay_reservations",
                get(&self.auto_relay_reservations),
            ),
            (
                "auto_relay_reservations_lost",
                get(&self.auto_relay_reservations_lost),
            ),
        ]
    }
}
