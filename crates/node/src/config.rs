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
    /// Threads that decode received gossip and sync pages and recover their signers ahead
    /// of the actor (see [`crate::Ingest`]); 0 does it on the actor. Default: one per core.
    pub verify_threads: usize,
    /// Received gossip messages and sync pages waiting for their turn at most; while that
    /// many wait, the actor reads no more network events (the network's queue then drops
    /// and counts). Default 4,096.
    pub ingest_queue: usize,
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
    /// maker sees the lock in time: at least the lock's block, its confirmations and the
    /// scan lag on the taker's chain (see [`SettlementConfig::timing_problems`]). Default 15 s.
    pub lock_margin: Duration,
    /// How far apart the taker's and the maker's clocks may be. The reservation deadline is
    /// the maker's local time, which the taker reads on its own clock: it stops locking this
    /// much earlier on top of `lock_margin`, so a skewed clock cannot make it lock after the
    /// maker gave up. Default 30 s, the skew allowed on orders' `createdAt`.
    pub max_clock_skew: Duration,
    /// Re-post, as a new order, the quantity of a resting (GTC) own order committed to a
    /// swap that did not complete (remaining quantity only goes down, so it cannot be given
    /// back to the old order). An immediate-or-cancel order's is never re-posted (it would
    /// rest), nor a cancelled order's (the cancel took down all of it). Default on.
    pub repost_failed: bool,
    /// Takes accepted from one taker address per minute (the taker holds a free option on
    /// each swap, so takes are rate limited). Default 30.
    pub takes_per_minute: u32,
    /// Take requests answered per peer per minute, accepted or not; more are refused
    /// before any signature is checked (one peer may sign with any number of fresh keys).
    /// Default 60.
    pub take_requests_per_peer_minute: u32,
    /// Swaps one taker (address or peer) may hold open with this node at once: each holds
    /// some of its quantity, or its lock. Default 16.
    pub max_open_swaps_per_taker: usize,
    /// Failures in a row (swaps refunded, takes never locked, swaps failed) after which a
    /// counterparty — its peer id and its trader address — is refused: its takes are not
    /// accepted and its orders not taken. 0: never. Default 3.
    pub refuse_after_failures: u32,
    /// How long a counterparty that failed repeatedly is refused. Default 1 h.
    pub refuse_period: Duration,
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
    /// Before an order is placed or a take accepted, the trader must hold, on each chain of
    /// the market, the native coin for every transaction the swap may need there (lock and
    /// refund where it gives, claim where it gets) at the chain's current fee times this
    /// percentage: fees may rise while a swap runs. Default 200 (twice today's fees).
    pub gas_safety_percent: u64,
    /// For crash tests only: asked after every database write; when it answers true the
    /// node stops at once, as if killed right after that write (nothing after it runs, no
    /// graceful shutdown). `None` in production.
    pub crash_after: Option<CrashHook>,
}

/// A settlement timing that cannot work on the configured chains: which values, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimingProblem {
    /// The setting to change (dexd's name for it).
    pub setting: &'static str,
    /// What is wrong, with the values that make it so.
    pub reason: String,
}

impl std::fmt::Display for TimingProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.setting, self.reason)
    }
}

/// Whole seconds, rounded up, of a duration (timing rules compare in chain seconds).
fn secs_up(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis().div_ceil(1000)).unwrap_or(u64::MAX)
}

impl SettlementConfig {
    /// Checks the timing against every configured chain's block time, confirmations and
    /// scan lag, and the clock skew allowed between nodes: each rule that fails is one
    /// [`TimingProblem`], in the order below. The rules hold for any
    /// pair of the chains, whichever is the taker's:
    /// 1. the taker's lock must be seen by the maker before the reservation ends: the
    ///    taker stops locking `lock_margin` before it (less the clock skew, since it reads
    ///    the maker's deadline on its own clock), so `lock_margin` covers the lock's block,
    ///    its confirmations and the scan lag;
    /// 2. the reservation leaves the taker time to lock at all after the margin and skew;
    /// 3. a claim started `min_claim` before a timelock is mined before it (3 blocks), even
    ///    if it has to be sent again once (retry and scan lag);
    /// 4. the maker's T2 leaves the taker, who sees the lock a scan lag and its
    ///    confirmations late, `min_claim` to claim;
    /// 5. the margin T1 − T2 lets the maker see a claim that lands just before T2 and
    ///    claim in turn, with one re-send of its claim (`retry`), within `min_claim`;
    /// 6. T1 leaves the maker, who sees the taker's lock late too, room for T2 and margin,
    ///    and is at least what makers accept (`maker_lock + margin + min_claim`).
    pub fn timing_problems(&self) -> Vec<TimingProblem> {
        let timing = &self.timing;
        let mut problems = Vec::new();
        let mut problem = |setting: &'static str, reason: String| {
            problems.push(TimingProblem { setting, reason })
        };
        let skew = self.max_clock_skew;
        let worst = |f: &dyn Fn(&ChainConfig) -> Duration| {
            self.chains
                .iter()
                .map(|chain| (f(chain), chain.chain_id))
                .max()
        };
        let seen_after = |chain: &ChainConfig, confirmations: u64| {
            let blocks = confirmations.max(chain.client.scan_confirmations).max(1);
            chain
                .client
                .block_time
                .saturating_mul(u32::try_from(blocks).unwrap_or(u32::MAX))
                .saturating_add(chain.client.poll_interval)
        };
        let lock_seen = worst(&|chain| seen_after(chain, timing.taker_leg_confirmations));
        if let Some((needed, chain_id)) = lock_seen
            && self.lock_margin < needed
        {
            problem(
                "settlement.lock_margin",
                format!(
                    "{:?} is too short: on chain {chain_id} a lock is seen only {needed:?} after \
                     it is sent (max(scan_confirmations, \
                     taker_leg_confirmations) blocks, its own first, and a poll); raise it to at least \
                     {needed:?}",
                    self.lock_margin
                ),
            );
        }
        // Judged with the lock margin the chains need, if the configured one is short.
        let margin = lock_seen.map_or(self.lock_margin, |(needed, _)| needed.max(self.lock_margin));
        let lock_window = self.reservation.saturating_sub(margin + skew);
        if lock_window < Duration::from_secs(5) {
            problem(
                "settlement.reservation",
                format!(
                    "{:?} leaves the taker {lock_window:?} to lock: it must exceed the lock \
                     margin ({margin:?}) plus the allowed clock skew ({skew:?}) by at least 5s; \
                     raise it to at least {:?}",
                    self.reservation,
                    margin + skew + Duration::from_secs(5)
                ),
            );
        }
        // A claim must be mined within min_claim, and a dropped one sent again in time: 3
        // blocks, plus the re-send after the retry interval and the scan lag (the claim
        // is public from its first broadcast, so a second chance must fit too).
        let retry = secs_up(Duration::from_millis(timing.retry_ms));
        if let Some((needed, chain_id)) = self
            .chains
            .iter()
            .map(|chain| {
                let blocks = secs_up(chain.client.block_time.saturating_mul(3));
                let lag = secs_up(chain.client.scan_lag());
                (
                    blocks.saturating_add(retry).saturating_add(lag),
                    chain.chain_id,
                )
            })
            .max()
            && timing.min_claim_secs < needed
        {
            problem(
                "settlement.timing.min_claim",
                format!(
                    "{}s is too short: on chain {chain_id} a claim must be mined within it \
                     (3 blocks), and one that is dropped sent again after the retry ({retry}s) \
                     and the scan lag; raise it to at least {needed}s",
                    timing.min_claim_secs
                ),
            );
        }
        if let Some((seen, chain_id)) =
            worst(&|chain| seen_after(chain, timing.maker_leg_confirmations))
        {
            let needed = secs_up(seen).saturating_add(timing.min_claim_secs);
            if timing.maker_lock_secs < needed {
                problem(
                    "settlement.timing.maker_lock",
                    format!(
                        "{}s is too short: on chain {chain_id} the taker sees the maker's lock \
                         {seen:?} late and then needs min_claim ({}s); raise it to at least \
                         {needed}s",
                        timing.maker_lock_secs, timing.min_claim_secs
                    ),
                );
            }
        }
        if let Some((lag, chain_id)) = worst(&|chain| chain.client.scan_lag()) {
            // Seen a lag late; a claim that is not seen mined is sent again after the retry
            // interval and another lag; then it needs min_claim to be mined.
            let retry = secs_up(Duration::from_millis(timing.retry_ms));
            let needed = secs_up(lag)
                .saturating_mul(2)
                .saturating_add(retry)
                .saturating_add(timing.min_claim_secs);
            if timing.margin_secs < needed {
                problem(
                    "settlement.timing.margin",
                    format!(
                        "{}s is too short: the maker sees a claim on chain {chain_id} {lag:?} \
                         late, may have to send its own claim again (retry {retry}s after \
                         another {lag:?}) and then needs min_claim ({}s) for it to be mined; \
                         raise it to at least {needed}s",
                        timing.margin_secs, timing.min_claim_secs
                    ),
                );
            }
        }
        if let Some((seen, chain_id)) =
            worst(&|chain| seen_after(chain, timing.taker_leg_confirmations))
        {
            // Makers accept a take only with T1 ≥ maker_lock + margin + min_claim (the
            // least that leaves the taker time to claim); the maker also sees the lock late.
            let needed = timing
                .maker_lock_secs
                .saturating_add(timing.margin_secs)
                .saturating_add(secs_up(seen).max(timing.min_claim_secs));
            if timing.taker_lock_secs < needed {
                problem(
                    "settlement.timing.taker_lock",
                    format!(
                        "{}s is too short: on chain {chain_id} the maker sees the taker's lock \
                         {seen:?} late and then needs maker_lock ({}s) plus margin ({}s), and \
                         makers accept no T1 under maker_lock + margin + min_claim ({}s); \
                         raise it to at least {needed}s",
                        timing.taker_lock_secs,
                        timing.maker_lock_secs,
                        timing.margin_secs,
                        timing.min_claim_secs
                    ),
                );
            }
        }
        problems
    }

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
            max_clock_skew: Duration::from_secs(30),
            repost_failed: true,
            takes_per_minute: 30,
            take_requests_per_peer_minute: 60,
            max_open_swaps_per_taker: 16,
            refuse_after_failures: 3,
            refuse_period: Duration::from_secs(3600),
            take_timeout: Duration::from_secs(10),
            balance_refresh: Duration::from_secs(5),
            gas_reserves: HashMap::new(),
            gas_safety_percent: 200,
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

impl SyncConfig {
    /// Pages one sync of a whole market follows at most: enough for a peer holding as many
    /// open orders as this node may (`orders_per_market + suspended_per_market`), plus two.
    /// A peer whose cursor goes on is cut off there (it may be honest with larger caps:
    /// this node could not hold more anyway).
    pub fn max_market_pages(&self, caps: &CapsConfig) -> u32 {
        pages_for(
            caps.orders_per_market
                .saturating_add(caps.suspended_per_market),
            self.page_limit,
        )
    }

    /// Pages one sync of one maker's orders follows at most: `orders_per_maker`, plus two.
    pub fn max_maker_pages(&self, caps: &CapsConfig) -> u32 {
        pages_for(caps.orders_per_maker, self.page_limit)
    }

    /// Syncs of one maker's orders (asked when its heartbeat's `ordersRoot` differs) in
    /// flight at most: four times `max_concurrent`. More heartbeats wait for the next
    /// round instead of queueing requests without bound.
    pub fn max_root_syncs(&self) -> usize {
        self.max_concurrent.max(1).saturating_mul(4)
    }
}

/// Pages of `page_limit` needed for `orders`, plus two.
fn pages_for(orders: usize, page_limit: u32) -> u32 {
    let page = u64::from(page_limit.max(1));
    let pages = (orders as u64).div_ceil(page).saturating_add(2);
    u32::try_from(pages).unwrap_or(u32::MAX)
}

/// Caps that bound memory whatever peers send. Each market's book holds at most
/// `orders_per_market + suspended_per_market + tombstones_per_market` order ids; what happens
/// when each cap binds is stated in `dex-book`'s `book.rs` (and on [`dex_book::BookConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct CapsConfig {
    /// Open orders (offered or suspended) per maker per market; the maker's next order is
    /// refused. Default 1,000.
    pub orders_per_maker: usize,
    /// Offered orders per market; beyond it the order furthest from the mid is evicted.
    /// Default 100,000.
    pub orders_per_market: usize,
    /// Orders per market held while their maker is silent; beyond it an order that would be
    /// suspended is dropped instead (it comes back by sync once its maker is heard). Synced
    /// orders are held suspended until their maker's heartbeat arrives, so keep it at least
    /// `orders_per_market`. Default 100,000.
    pub suspended_per_market: usize,
    /// Cancelled, filled and dropped orders remembered per market until they expire, so that
    /// a replay cannot bring them back. Beyond it the ones expiring first are forgotten, and
    /// orders expiring no later than they do are refused from then on (they could be one of
    /// them). Size
    /// it above the cancels and fills a market sees within a typical order lifetime.
    /// Default 200,000.
    pub tombstones_per_market: usize,
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
            verify_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ingest_queue: 4096,
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
            suspended_per_market: 100_000,
            tombstones_per_market: 200_000,
            preallocated_orders: 10_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A settlement on one chain with `client`, timing otherwise the defaults.
    fn on_chain(client: dex_chain::ClientConfig) -> SettlementConfig {
        SettlementConfig::new(
            PathBuf::from("db.sqlite"),
            vec![ChainConfig {
                chain_id: 7,
                rpc_url: "http://127.0.0.1:1".into(),
                htlc: Address::ZERO,
                start_block: 0,
                client,
            }],
        )
    }

    fn settings(config: &SettlementConfig) -> Vec<&'static str> {
        config
            .timing_problems()
            .iter()
            .map(|problem| problem.setting)
            .collect()
    }

    /// Five-second blocks, read 3 confirmations behind (lag 11 s with a 1 s poll), timing
    /// that fits it.
    fn fitting() -> SettlementConfig {
        let mut config = on_chain(dex_chain::ClientConfig {
            block_time: Duration::from_secs(5),
            scan_confirmations: 3,
            ..dex_chain::ClientConfig::default()
        });
        config.lock_margin = Duration::from_secs(16);
        config.reservation = Duration::from_secs(60);
        config
    }

    #[test]
    fn the_devnet_defaults_fit_a_local_chain_and_a_fitting_timing_passes() {
        assert!(
            on_chain(dex_chain::ClientConfig::local())
                .timing_problems()
                .is_empty()
        );
        assert!(fitting().timing_problems().is_empty());
        // Interval mining with 3 confirmations, as `dex-devnet --confirmations 3` runs.
        let devnet = on_chain(dex_chain::ClientConfig {
            scan_confirmations: 3,
            ..dex_chain::ClientConfig::local()
        });
        assert!(devnet.timing_problems().is_empty());
    }

    /// Finding 4 of the swap-safety review: dexd took a mainnet-like chain (12
    /// confirmations of 12 s blocks) with the 60 s reservation and 15 s lock margin, so the
    /// maker never saw a taker's lock in time: every swap failed, the taker's funds locked
    /// until T1.
    #[test]
    fn a_reservation_shorter_than_the_scan_lag_is_refused_with_the_values_to_change() {
        let config = on_chain(dex_chain::ClientConfig::default());
        let problems = config.timing_problems();
        assert_eq!(
            settings(&config),
            [
                "settlement.lock_margin",
                "settlement.reservation",
                "settlement.timing.min_claim",
                "settlement.timing.margin"
            ]
        );
        // 12 blocks of 12 s and a 1 s poll.
        assert!(
            problems[0].reason.contains("at least 145s"),
            "{}",
            problems[0]
        );
        // The lock margin it needs (145 s) + skew 30 s + 5 s.
        assert!(
            problems[1].reason.contains("at least 180s"),
            "{}",
            problems[1]
        );
    }

    #[test]
    fn lock_margin_must_cover_the_lock_its_confirmations_and_the_scan() {
        let mut config = fitting();
        config.lock_margin = Duration::from_secs(15);
        assert_eq!(settings(&config), ["settlement.lock_margin"]);
        // More leg confirmations than scan confirmations count too.
        let mut config = fitting();
        config.timing.taker_leg_confirmations = 4;
        assert_eq!(settings(&config), ["settlement.lock_margin"]);
    }

    #[test]
    fn the_reservation_leaves_time_to_lock_after_margin_and_clock_skew() {
        let mut config = fitting();
        config.reservation = Duration::from_secs(50);
        assert_eq!(settings(&config), ["settlement.reservation"]);
        config.max_clock_skew = Duration::from_secs(29);
        assert!(config.timing_problems().is_empty());
    }

    #[test]
    fn min_claim_covers_three_blocks_and_a_resent_claim() {
        let mut config = fitting();
        // 3 blocks of 5 s, a 5 s retry and the 11 s scan lag.
        config.timing.min_claim_secs = 30;
        assert_eq!(settings(&config), ["settlement.timing.min_claim"]);
        config.timing.min_claim_secs = 31;
        assert!(config.timing_problems().is_empty());
    }

    #[test]
    fn maker_lock_leaves_the_taker_time_to_see_the_lock_and_claim() {
        let mut config = fitting();
        // Seen 16 s late, then 60 s to claim.
        config.timing.maker_lock_secs = 75;
        config.timing.margin_secs = 300;
        assert_eq!(settings(&config), ["settlement.timing.maker_lock"]);
        config.timing.maker_lock_secs = 76;
        assert!(config.timing_problems().is_empty());
    }

    #[test]
    fn margin_lets_the_maker_see_a_late_claim_and_claim_in_turn() {
        let mut config = on_chain(dex_chain::ClientConfig {
            block_time: Duration::from_secs(12),
            scan_confirmations: 30,
            ..dex_chain::ClientConfig::default()
        });
        config.lock_margin = Duration::from_secs(400);
        config.reservation = Duration::from_secs(500);
        // 3 blocks, a retry and the lag (29 × 12 + 1 = 349 s).
        config.timing.min_claim_secs = 390;
        config.timing.maker_lock_secs = 800;
        config.timing.taker_lock_secs = 3000;
        // 2 × 349 + 5 (a retry) + 390.
        config.timing.margin_secs = 1092;
        assert_eq!(settings(&config), ["settlement.timing.margin"]);
        config.timing.margin_secs = 1093;
        assert!(config.timing_problems().is_empty());
    }

    /// Fast blocks: the maker sees the lock sooner than min_claim, and it is what makers
    /// accept that bounds T1 (a timing that passed before had every take refused).
    #[test]
    fn taker_lock_is_at_least_what_makers_accept() {
        let mut config = on_chain(dex_chain::ClientConfig::local());
        config.timing.taker_lock_secs = 959;
        assert_eq!(settings(&config), ["settlement.timing.taker_lock"]);
        config.timing.taker_lock_secs = 960;
        assert!(config.timing_problems().is_empty());
    }

    #[test]
    fn taker_lock_leaves_the_maker_room_after_it_sees_the_lock() {
        // 30 s blocks read 3 confirmations behind, the taker's lock counted after 20: it is
        // seen 601 s after it is sent, more than min_claim (3 blocks, a retry, the lag).
        let mut config = on_chain(dex_chain::ClientConfig {
            block_time: Duration::from_secs(30),
            scan_confirmations: 3,
            ..dex_chain::ClientConfig::default()
        });
        config.timing.taker_leg_confirmations = 20;
        config.lock_margin = Duration::from_secs(601);
        config.reservation = Duration::from_secs(640);
        config.timing.min_claim_secs = 156;
        // 600 + 300 + 601 s.
        config.timing.taker_lock_secs = 1500;
        assert_eq!(settings(&config), ["settlement.timing.taker_lock"]);
        config.timing.taker_lock_secs = 1501;
        assert!(config.timing_problems().is_empty());
    }
}
