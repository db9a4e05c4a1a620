//! Node configuration. Defaults are the production values of DESIGN §5; tests shorten the
//! timings.

use std::{collections::HashMap, path::PathBuf, time::Duration};

use dex_network::NetworkConfig;
use dex_primitives::{Address, Markets, TraderKey, U256, ValidationRules};

/// Native coin kept back for gas on a chain with no entry in
/// [`SettlementConfig::gas_reserves`]: 0.01 of an 18-decimals coin.
pub const DEFAULT_GAS_RESERVE: U256 = U256::from_limbs([10_000_000_000_000_000, 0, 0, 0]);

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
    /// Trading through atomic swaps. `None`: the node replicates books and relays, but
    /// neither takes nor serves takes (and keeps no database).
    pub settlement: Option<SettlementConfig>,
}

/// Settlement (DESIGN §6–8): the take protocol, swaps on the chains, the node's database.
#[derive(Debug, Clone)]
pub struct SettlementConfig {
    /// The SQLite database of own orders, swaps and chain cursors.
    pub database: PathBuf,
    /// Every chain a configured market uses.
    pub chains: Vec<ChainConfig>,
    /// Swap timelocks, margins and confirmations (DESIGN §7). Defaults suit the devnet;
    /// a real chain needs minutes-long locks (see [`dex_swap::Timing`]).
    pub timing: dex_swap::Timing,
    /// How long a maker holds quantity for a taker that was accepted but has not locked yet.
    /// Default 60 s.
    pub reservation: Duration,
    /// A taker does not lock later than this before the maker's reservation ends, so the
    /// maker sees the lock in time. Default 15 s.
    pub lock_margin: Duration,
    /// Re-post, as a new order, the quantity of an own order committed to a swap that did
    /// not complete (remaining quantity only goes down, so it cannot be given back to the
    /// old order). Default on.
    pub repost_failed: bool,
    /// Takes accepted from one taker address per minute (the taker holds a free option on
    /// each swap, so takes are rate limited). Default 30.
    pub takes_per_minute: u32,
    /// How long a take request waits for the maker's answer. Default 10 s.
    pub take_timeout: Duration,
    /// How often the on-chain balances of the trader keys are read (per chain, in a task of
    /// their own; also right after each own transaction and each chain event seen). Orders
    /// are judged against the latest reading, so it may be this old (or older while a chain
    /// does not answer). Default 5 s.
    pub balance_refresh: Duration,
    /// Native coin kept back for gas per chain id (base units): an order may not lock it.
    /// Chains not listed keep [`DEFAULT_GAS_RESERVE`].
    pub gas_reserves: HashMap<u64, U256>,
    /// For crash tests only: asked after every database write; when it answers true the
    /// node stops at once, as if killed right after that write (nothing after it runs, no
    /// graceful shutdown). `None` in production.
    pub crash_after: Option<CrashHook>,
}

impl SettlementConfig {
    /// The gas reserve of `chain_id`.
    pub fn gas_reserve(&self, chain_id: u64) -> U256 {
        self.gas_reserves
            .get(&chain_id)
            .copied()
            .unwrap_or(DEFAULT_GAS_RESERVE)
    }
}

/// A test hook deciding, after each database write, whether the node crashes there.
#[derive(Clone)]
pub struct CrashHook(pub std::sync::Arc<dyn Fn(&crate::StoreOp) -> bool + Send + Sync>);

impl std::fmt::Debug for CrashHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CrashHook")
    }
}

/// One chain the node settles on.
#[derive(Debug, Clone)]
pub struct ChainConfig {
    /// Its chain id (checked against the RPC endpoint at start).
    pub chain_id: u64,
    /// JSON-RPC endpoint (plain HTTP; a local node or a trusted provider: the node believes
    /// what it answers about locks and claims).
    pub rpc_url: String,
    /// The p2pdex HTLC contract on it (checked to be exactly our contract at start).
    pub htlc: Address,
    /// First block to scan for HTLC events when the database has no cursor yet (the
    /// contract's deployment block; later blocks are fine for a fresh node).
    pub start_block: u64,
    /// RPC timeouts, scan range, confirmations, fee bumping.
    pub client: dex_chain::ClientConfig,
}

impl SettlementConfig {
    /// Devnet defaults with the database at `database` and the given chains.
    pub fn new(database: PathBuf, chains: Vec<ChainConfig>) -> Self {
        SettlementConfig {
            database,
            chains,
            timing: dex_swap::Timing::DEVNET,
            reservation: Duration::from_secs(60),
            lock_margin: Duration::from_secs(15),
            repost_failed: true,
            takes_per_minute: 30,
            take_timeout: Duration::from_secs(10),
            balance_refresh: Duration::from_secs(5),
            gas_reserves: HashMap::new(),
            crash_after: None,
        }
    }
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
    /// Orders each market's book has room for from the start (at most `orders_per_market`):
    /// the memory, about 0.3 KB an order, is reserved and written when the node starts, so
    /// the first this-many orders never grow a table. Growing one copies all of it at once,
    /// a pause in the middle of a burst of gossip. Default 10,000; 0 grows on demand.
    pub preallocated_orders: usize,
}

impl CapsConfig {
    /// [`CapsConfig::preallocated_orders`], capped at the market cap.
    pub fn preallocated(&self) -> usize {
        self.preallocated_orders.min(self.orders_per_market)
    }
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
            settlement: None,
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
            preallocated_orders: 10_000,
        }
    }
}
