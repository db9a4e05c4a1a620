//! Counters of the node actor: every verdict, drop and sync outcome is counted.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one node, totals since start; read without asking the actor.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    /// Gossip messages accepted (applied and forwarded).
    pub gossip_accepted: AtomicU64,
    /// Gossip messages rejected (the sender is penalised).
    pub gossip_rejected: AtomicU64,
    /// Gossip messages ignored (duplicate, stale, expired, unknown, caps).
    pub gossip_ignored: AtomicU64,
    /// Of the ignored: duplicates dropped by id before any signature work.
    pub gossip_duplicates: AtomicU64,
    /// Accepted orders the book refused (caps, book full).
    pub orders_refused: AtomicU64,
    /// Orders that entered a book (gossip, sync or own).
    pub orders_inserted: AtomicU64,
    /// Updates that lowered an order's remaining quantity.
    pub updates_applied: AtomicU64,
    /// Heartbeats sent.
    pub alives_sent: AtomicU64,
    /// Publications the network refused (no peers yet, queue full).
    pub publish_failed: AtomicU64,
    /// Makers suspended for silence (per market).
    pub makers_suspended: AtomicU64,
    /// Makers restored when heard again (per market).
    pub makers_restored: AtomicU64,
    /// Sync pages received and applied.
    pub sync_pages: AtomicU64,
    /// Orders learnt through sync.
    pub sync_orders: AtomicU64,
    /// Sync requests that failed or returned a bad page.
    pub sync_failed: AtomicU64,
    /// Syncs stopped at the page cap while the peer still offered a next page.
    pub sync_capped: AtomicU64,
    /// Sync pages with a fault (a bad page, or an entry no correct peer sends: bad
    /// signature, broken rule); each costs the peer a strike.
    pub sync_faults: AtomicU64,
    /// Peers banned from sync for repeated faults.
    pub peers_banned: AtomicU64,
    /// Syncs started because an `alive` root differed from ours.
    pub root_syncs: AtomicU64,
    /// Orders withdrawn because a complete sync of their maker's orders proved them closed
    /// where they were posted: their cancel or fill was missed here.
    pub orders_unlisted: AtomicU64,
    /// Sync requests served to peers.
    pub sync_served: AtomicU64,
    /// Take requests this node sent as taker.
    pub takes_sent: AtomicU64,
    /// Take requests of this node refused, timed out or failed.
    pub takes_failed: AtomicU64,
    /// Take requests this node accepted as maker.
    pub takes_accepted: AtomicU64,
    /// Take requests this node refused as maker.
    pub takes_refused: AtomicU64,
    /// Swaps started (either role).
    pub swaps_started: AtomicU64,
    /// Swaps completed with a trade.
    pub swaps_completed: AtomicU64,
    /// Swaps that ended without a trade (refunded or never locked).
    pub swaps_unwound: AtomicU64,
    /// Swaps that failed and need an operator.
    pub swaps_failed: AtomicU64,
    /// Swaps whose counterparty lock, already acted on, was removed by a reorg (each
    /// swap counted once per removal; an operator should look at them).
    pub swaps_reorged: AtomicU64,
    /// Chain transactions that failed (the swaps retry them).
    pub chain_tx_failed: AtomicU64,
    /// Database writes that failed.
    pub store_failed: AtomicU64,
    /// Commits of placed orders (several orders placed together share one commit).
    pub place_commits: AtomicU64,
    /// Orders stored by those commits (divided by `place_commits`: the mean batch size).
    pub place_committed_orders: AtomicU64,
}

impl NodeMetrics {
    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn inc(counter: &AtomicU64) {
        Self::add(counter, 1);
    }

    pub(crate) fn add(counter: &AtomicU64, value: u64) {
        counter.fetch_add(value, Ordering::Relaxed);
    }

    /// Every counter as `(name, value)`, for exposition (`/metrics`).
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let get = Self::get;
        vec![
            ("gossip_accepted", get(&self.gossip_accepted)),
            ("gossip_rejected", get(&self.gossip_rejected)),
            ("gossip_ignored", get(&self.gossip_ignored)),
            ("gossip_duplicates", get(&self.gossip_duplicates)),
            ("orders_refused", get(&self.orders_refused)),
            ("orders_inserted", get(&self.orders_inserted)),
            ("updates_applied", get(&self.updates_applied)),
            ("alives_sent", get(&self.alives_sent)),
            ("publish_failed", get(&self.publish_failed)),
            ("makers_suspended", get(&self.makers_suspended)),
            ("makers_restored", get(&self.makers_restored)),
            ("sync_pages", get(&self.sync_pages)),
            ("sync_orders", get(&self.sync_orders)),
            ("sync_failed", get(&self.sync_failed)),
            ("sync_capped", get(&self.sync_capped)),
            ("sync_faults", get(&self.sync_faults)),
            ("peers_banned", get(&self.peers_banned)),
            ("root_syncs", get(&self.root_syncs)),
            ("orders_unlisted", get(&self.orders_unlisted)),
            ("sync_served", get(&self.sync_served)),
            ("takes_sent", get(&self.takes_sent)),
            ("takes_failed", get(&self.takes_failed)),
            ("takes_accepted", get(&self.takes_accepted)),
            ("takes_refused", get(&self.takes_refused)),
            ("swaps_started", get(&self.swaps_started)),
            ("swaps_completed", get(&self.swaps_completed)),
            ("swaps_unwound", get(&self.swaps_unwound)),
            ("swaps_failed", get(&self.swaps_failed)),
            ("swaps_reorged", get(&self.swaps_reorged)),
            ("chain_tx_failed", get(&self.chain_tx_failed)),
            ("store_failed", get(&self.store_failed)),
            ("place_commits", get(&self.place_commits)),
            ("place_committed_orders", get(&self.place_committed_orders)),
        ]
    }
}
