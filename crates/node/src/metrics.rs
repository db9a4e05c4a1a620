//! Counters of the node actor: every verdict, drop and sync outcome is counted.
//!
//! prometheus-client counters and labelled families (atomics behind an `Arc`), shared with
//! the registry `/metrics` encodes ([`NodeMetrics::register`]) and read by tests.

use dex_chain::RpcWork;
use dex_network::Acceptance;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

/// Two labels with static values.
type PairLabels = [(&'static str, &'static str); 2];

/// The labels of `dex_chain_rpc_errors_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ChainErrorLabels {
    /// The chain id.
    chain: u64,
    /// What failed: `connect`, `scan`, `balance` or `transaction`.
    call: &'static str,
}

fn acceptance_label(acceptance: Acceptance) -> &'static str {
    match acceptance {
        Acceptance::Accept => "accept",
        Acceptance::Reject => "reject",
        Acceptance::Ignore => "ignore",
    }
}

/// Counters of one node, totals since start; read without asking the actor.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    /// Accepted orders the book refused (caps, book full).
    pub orders_refused: Counter,
    /// Orders that entered a book (gossip, sync or own).
    pub orders_inserted: Counter,
    /// Updates that lowered an order's remaining quantity.
    pub updates_applied: Counter,
    /// Heartbeats sent.
    pub alives_sent: Counter,
    /// Makers suspended for silence (per market).
    pub makers_suspended: Counter,
    /// Makers restored when heard again (per market).
    pub makers_restored: Counter,
    /// Sync pages received and applied.
    pub sync_pages: Counter,
    /// Orders learnt through sync.
    pub sync_orders: Counter,
    /// Sync requests that failed or returned a bad page.
    pub sync_failed: Counter,
    /// Syncs stopped at the page cap while the peer still offered a next page.
    pub sync_capped: Counter,
    /// Sync pages with a fault (a bad page, or an entry no correct peer sends: bad
    /// signature, broken rule); each costs the peer a strike.
    pub sync_faults: Counter,
    /// Peers banned from sync for repeated faults.
    pub peers_banned: Counter,
    /// Syncs started because an `alive` root differed from ours.
    pub root_syncs: Counter,
    /// Orders withdrawn because a complete sync of their maker's orders proved them closed
    /// where they were posted: their cancel or fill was missed here.
    pub orders_unlisted: Counter,
    /// Sync requests served to peers.
    pub sync_served: Counter,
    /// Take requests this node sent as taker.
    pub takes_sent: Counter,
    /// Take requests of this node refused, timed out or failed.
    pub takes_failed: Counter,
    /// Take requests this node accepted as maker.
    pub takes_accepted: Counter,
    /// Take requests this node refused as maker.
    pub takes_refused: Counter,
    /// Swaps started (either role).
    pub swaps_started: Counter,
    /// Swaps whose counterparty lock, already acted on, was removed by a reorg (each
    /// swap counted once per removal; an operator should look at them).
    pub swaps_reorged: Counter,
    /// Chain transactions that failed (the swaps retry them).
    pub chain_tx_failed: Counter,
    /// Database writes that failed.
    pub store_failed: Counter,
    /// Commits of placed orders (several orders placed together share one commit).
    pub place_commits: Counter,
    /// Orders stored by those commits (divided by `place_commits`: the mean batch size).
    pub place_committed_orders: Counter,
    /// Gossip verdicts by `verdict` and `reason`.
    gossip: Family<PairLabels, Counter>,
    /// Swaps that entered each phase.
    swap_phases: Family<[(&'static str, &'static str); 1], Counter>,
    /// Swaps that ended, by role and outcome.
    swap_outcomes: Family<PairLabels, Counter>,
    /// Failed chain RPC calls by chain and call.
    chain_errors: Family<ChainErrorLabels, Counter>,
}

impl NodeMetrics {
    /// Reads a counter.
    pub fn get(counter: &Counter) -> u64 {
        counter.get()
    }

    pub(crate) fn inc(counter: &Counter) {
        counter.inc();
    }

    pub(crate) fn add(counter: &Counter, value: u64) {
        counter.inc_by(value);
    }

    /// Counts a gossip verdict: `reason` is `accepted`, or the label of the protocol error
    /// that rejected or ignored the message (`bad_signature`, `duplicate`...), or a node's
    /// own reason (`book_refused`, `not_verified`).
    pub(crate) fn gossip_verdict(&self, acceptance: Acceptance, reason: &'static str) {
        self.gossip
            .get_or_create(&[
                ("verdict", acceptance_label(acceptance)),
                ("reason", reason),
            ])
            .inc();
    }

    /// Gossip verdicts counted with this verdict and reason.
    pub fn gossip_verdicts(&self, acceptance: Acceptance, reason: &'static str) -> u64 {
        self.gossip
            .get(&[
                ("verdict", acceptance_label(acceptance)),
                ("reason", reason),
            ])
            .map_or(0, |counter| counter.get())
    }

    /// Counts a swap entering `phase` (the phase names of the API: `takerLocking`,
    /// `makerClaiming`...).
    pub(crate) fn swap_phase(&self, phase: &'static str) {
        self.swap_phases.get_or_create(&[("phase", phase)]).inc();
    }

    /// Swaps that entered `phase`.
    pub fn swap_phases(&self, phase: &'static str) -> u64 {
        self.swap_phases
            .get(&[("phase", phase)])
            .map_or(0, |counter| counter.get())
    }

    /// Counts a finished swap.
    pub(crate) fn swap_outcome(&self, role: &'static str, outcome: &'static str) {
        self.swap_outcomes
            .get_or_create(&[("role", role), ("outcome", outcome)])
            .inc();
    }

    /// Swaps of `role` (`taker`, `maker`) that ended with `outcome` (`completed`,
    /// `refunded`, `notLocked`, `failed`).
    pub fn swap_outcomes(&self, role: &'static str, outcome: &'static str) -> u64 {
        self.swap_outcomes
            .get(&[("role", role), ("outcome", outcome)])
            .map_or(0, |counter| counter.get())
    }

    /// Counts a failed RPC call to chain `chain_id`.
    pub(crate) fn chain_error(&self, chain_id: u64, call: RpcWork) {
        self.chain_errors
            .get_or_create(&ChainErrorLabels {
                chain: chain_id,
                call: call.label(),
            })
            .inc();
    }

    /// Failed RPC calls of this kind to chain `chain_id`.
    pub fn chain_errors(&self, chain_id: u64, call: RpcWork) -> u64 {
        self.chain_errors
            .get(&ChainErrorLabels {
                chain: chain_id,
                call: call.label(),
            })
            .map_or(0, |counter| counter.get())
    }

    /// Every plain counter as `(name, counter)`: registered as `dex_node_<name>_total`.
    fn counters(&self) -> Vec<(&'static str, &Counter)> {
        vec![
            ("orders_refused", &self.orders_refused),
            ("orders_inserted", &self.orders_inserted),
            ("updates_applied", &self.updates_applied),
            ("alives_sent", &self.alives_sent),
            ("makers_suspended", &self.makers_suspended),
            ("makers_restored", &self.makers_restored),
            ("sync_pages", &self.sync_pages),
            ("sync_orders", &self.sync_orders),
            ("sync_failed", &self.sync_failed),
            ("sync_capped", &self.sync_capped),
            ("sync_faults", &self.sync_faults),
            ("peers_banned", &self.peers_banned),
            ("root_syncs", &self.root_syncs),
            ("orders_unlisted", &self.orders_unlisted),
            ("sync_served", &self.sync_served),
            ("takes_sent", &self.takes_sent),
            ("takes_failed", &self.takes_failed),
            ("takes_accepted", &self.takes_accepted),
            ("takes_refused", &self.takes_refused),
            ("swaps_started", &self.swaps_started),
            ("swaps_reorged", &self.swaps_reorged),
            ("chain_tx_failed", &self.chain_tx_failed),
            ("store_failed", &self.store_failed),
            ("place_commits", &self.place_commits),
            ("place_committed_orders", &self.place_committed_orders),
        ]
    }

    /// Adds these counters and families to `registry` (they stay shared with this
    /// instance): `dex_node_<counter>_total`, `dex_node_gossip_verdicts_total{verdict,
    /// reason}`, `dex_node_swap_phases_total{phase}`, `dex_node_swap_outcomes_total{role,
    /// outcome}` and `dex_chain_rpc_errors_total{chain, call}`.
    pub fn register(&self, registry: &mut Registry) {
        for (name, counter) in self.counters() {
            registry.register(
                format!("dex_node_{name}"),
                format!("Node counter {name}, since start."),
                counter.clone(),
            );
        }
        registry.register(
            "dex_node_gossip_verdicts",
            "Gossip messages judged, by verdict (accept, reject: the sender is penalised, \
             ignore) and reason (accepted, or what rejected or ignored it).",
            self.gossip.clone(),
        );
        registry.register(
            "dex_node_swap_phases",
            "Swaps that entered each phase (the phases /v1/swaps shows: takerStart, \
             takerLocking, takerLocked, takerClaiming, makerWaiting, makerLocking, makerLocked, \
             makerClaiming, reorged).",
            self.swap_phases.clone(),
        );
        registry.register(
            "dex_node_swap_outcomes",
            "Swaps that ended, by role and outcome (completed, refunded, notLocked, failed).",
            self.swap_outcomes.clone(),
        );
        registry.register(
            "dex_chain_rpc_errors",
            "Failed chain RPC calls, by chain id and call (connect, scan, balance, \
             transaction).",
            self.chain_errors.clone(),
        );
    }
}
