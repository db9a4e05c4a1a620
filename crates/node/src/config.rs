//! Node configuration. Defaults are the production values of DESIGN §5; tests shorten the
//! timings.

use std::time::Duration;

use dex_network::NetworkConfig;
use dex_primitives::{Markets, TraderKey, ValidationRules};

/// Everything a node needs besides its libp2p identity.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The markets this node trades: one book and one gossip topic each.
    pub markets: Markets,
    /// Order validation rules (clock skew, maximum lifetime).
    pub rules: ValidationRules,
    /// Trader keys this node holds: it posts, updates and heartbeats orders of these makers.
    pub traders: Vec<TraderKey>,
    /// The swarm.
    pub network: NetworkConfig,
    /// Heartbeats and silence.
    pub liveness: LivenessConfig,
    /// Catching up from peers.
    pub sync: SyncConfig,
    /// Order caps.
    pub caps: CapsConfig,
    /// How often expiry, liveness and heartbeats are checked.
    pub tick_interval: Duration,
    /// Capacity of the command channel into the actor.
    pub command_queue: usize,
    /// Capacity of the node event broadcast; slow subscribers lose the oldest events
    /// (and are told how many).
    pub event_capacity: usize,
}

/// Liveness of makers (DESIGN §5).
#[derive(Debug, Clone, Copy)]
pub struct LivenessConfig {
    /// How often an `alive` is sent per own maker and market with open orders. Default 30 s.
    pub alive_interval: Duration,
    /// A maker not heard from for this long has its orders suspended in every book (no ghost
    /// orders); they are restored when it is heard again. Default 90 s.
    pub silent_after: Duration,
}

/// Sync from peers (`/p2pdex/sync/1`).
#[derive(Debug, Clone, Copy)]
pub struct SyncConfig {
    /// How many peers a starting node syncs each market from. Default 3.
    pub start_peers: usize,
    /// Page size asked for (at most 1,000).
    pub page_limit: u32,
    /// Least time between two root-triggered syncs of one maker and market.
    pub root_sync_cooldown: Duration,
    /// Syncs running at once; more wait for a slot.
    pub max_concurrent: usize,
}

/// Caps that bound memory whatever peers send.
#[derive(Debug, Clone, Copy)]
pub struct CapsConfig {
    /// Open orders per maker per market. Default 1,000.
    pub orders_per_maker: usize,
    /// Open orders per market; beyond it the order furthest from the mid is evicted.
    pub orders_per_market: usize,
}

impl NodeConfig {
    /// Production defaults for `markets`, with the given trader keys.
    pub fn new(markets: Markets, traders: Vec<TraderKey>) -> Self {
        NodeConfig {
            markets,
            rules: ValidationRules::default(),
            traders,
            network: NetworkConfig::default(),
            liveness: LivenessConfig::default(),
            sync: SyncConfig::default(),
            caps: CapsConfig::default(),
            tick_interval: Duration::from_secs(1),
            command_queue: 1024,
            event_capacity: 16 * 1024,
        }
    }
}

impl Default for LivenessConfig {
    fn default() -> Self {
        LivenessConfig {
            alive_interval: Duration::from_secs(30),
            silent_after: Duration::from_secs(90),
        }
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            start_peers: 3,
            page_limit: dex_protocol::sync::MAX_PAGE_LIMIT,
            root_sync_cooldown: Duration::from_secs(30),
            max_concurrent: 8,
        }
    }
}

impl Default for CapsConfig {
    fn default() -> Self {
        CapsConfig {
            orders_per_maker: 1000,
            orders_per_market: 100_000,
        }
    }
}
