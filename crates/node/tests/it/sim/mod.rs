//! A deterministic settlement simulator at node level: two real [`NodeState`]s (a maker and
//! a taker) trade through a whole swap while everything around them is simulated and driven
//! by a simulated `now` only — two HTLC chains with block times, mempools, inclusion delays,
//! drops and reorgs ([`chain`]), the scanners the nodes read them with, balance readings, a
//! message bus with delay and loss, a database per node that a crash cuts off after any
//! write (restart rebuilds the node from it with [`NodeState::restore`]), and counterparty
//! behaviours from honest to hostile ([`Hostility`]).
//!
//! The invariant ([`Outcome::check`]), per asset and fees aside (the simulated chains
//! charge no gas): an honest party ends with either the agreed trade or its own funds back,
//! never less, and nothing of it stays locked once every timelock has passed.

mod cases;
pub(crate) mod chain;
mod props;

use std::{collections::VecDeque, path::PathBuf, sync::Arc, time::Duration};

use chain::{Scanner, SimChain, Slot, TxKind};
use dex_chain::{ClientConfig, LockParams};
use dex_network::{Keypair, PeerId};
use dex_node::{
    Action, BalanceReading, ChainConfig, Decision, NodeConfig, NodeMetrics, NodeState, PlaceOrder,
    SettlementConfig, StoreOp, TimeInForce,
};
use dex_primitives::{Address, B256, Lots, Side, Ticks, U256};
use dex_protocol::take::{SwapMessage, TakeAnswer, TakeMessage};
use dex_store::Store;
use dex_swap::Timing;
use dex_test_utils::{eth_usdc, eth_usdc_id, harness::node_trader};

/// Local start time (unix ms).
pub(crate) const START_MS: u64 = 1_800_000_000_000;
/// The HTLC's address on both chains (as on the devnet).
pub(crate) const HTLC: Address = Address::repeat_byte(0x11);
/// The traded price (2,500 USDC per ETH) and quantity (0.01 ETH).
pub(crate) const PRICE: Ticks = Ticks(250_000);
pub(crate) const QUANTITY: Lots = Lots(10);
/// What each trader holds at the start: native coin on both chains, USDC on the quote chain.
const NATIVE: u128 = 100 * 10u128.pow(18);
/// The fee per gas both chains quote (the simulated chains charge no gas).
const MAX_FEE_PER_GAS: u128 = 1_000_000_000;
/// Re-sends of a transaction not seen on chain.
const RETRY_MS: u64 = 5_000;
const USDC: u128 = 1_000_000 * 10u128.pow(6);
/// How often the scanners poll (ClientConfig::poll_interval).
const POLL_MS: u64 = 1_000;
/// How often the shell ticks and reads balances.
const TICK_MS: u64 = 1_000;
const BALANCE_MS: u64 = 5_000;
/// A request that got no answer fails after this long.
const REQUEST_TIMEOUT_MS: u64 = 10_000;

/// The maker (index 0) or the taker (index 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Party {
    Maker,
    Taker,
}

impl Party {
    fn index(self) -> usize {
        match self {
            Party::Maker => 0,
            Party::Taker => 1,
        }
    }
}

/// How the hostile party departs from its node's decisions. It runs a real node whose
/// actions are altered on their way out, plus scripted moves on the chains.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hostility {
    /// Never sends its lock.
    pub(crate) never_locks: bool,
    /// Sends its lock this much later than its node decides.
    pub(crate) lock_delay_ms: u64,
    /// Locks with this timelock instead, relative to the chain's head time when it sends:
    /// head + `timelock_base` + this (see [`World::hostile_timelock`]).
    pub(crate) timelock_offset: Option<i64>,
    /// Locks one base unit less than agreed.
    pub(crate) wrong_amount: bool,
    /// Locks under another hashlock.
    pub(crate) wrong_hashlock: bool,
    /// Reads claims in the mempool of its own lock's chain and claims the other leg with
    /// their secret at once (maker only).
    pub(crate) mempool_racer: bool,
    /// Sends no swap hints.
    pub(crate) withholds_hints: bool,
    /// Sends every message twice (the copy later).
    pub(crate) replays: bool,
    /// Disappears for good after this many database writes (0: never starts trading).
    pub(crate) vanishes_after_writes: Option<u32>,
}

/// A planned reorg.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReorgPlan {
    /// 0: the base chain, 1: the quote chain.
    pub(crate) chain: usize,
    /// Local ms after the start.
    pub(crate) after_ms: u64,
    pub(crate) depth: u64,
    /// Whether the replaced blocks' transactions return to the mempool (else they vanish).
    pub(crate) keep_txs: bool,
    /// Instead of `after_ms` and `depth`: as soon as the maker's lock is mined, replace
    /// every block of this chain from the one holding the taker's lock.
    pub(crate) when_maker_locked: bool,
}

/// Everything a run depends on.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    /// Seeds every random choice of the run (transaction fates, delays, losses).
    pub(crate) seed: u64,
    /// Block time per chain: [base 31337, quote 31338].
    pub(crate) block_ms: [u64; 2],
    /// Scan confirmations per node and chain: [maker, taker][base, quote].
    pub(crate) scan_confirmations: [[u64; 2]; 2],
    /// Confirmations of the taker's and the maker's lock before the other side acts.
    pub(crate) leg_confirmations: [u64; 2],
    /// Honest transactions are included within this long after they are sent.
    pub(crate) tx_delay_ms: u64,
    /// Per mille of honest transactions dropped before anyone sees them (never a maker's
    /// claim, see `World::chain_action`).
    pub(crate) tx_drop_per_mille: u32,
    /// Messages are delivered within this long.
    pub(crate) msg_delay_ms: u64,
    /// Per mille of take requests, answers and hints lost.
    pub(crate) msg_loss_per_mille: u32,
    /// Per node: crash right after this database write, restart `restart_ms` later.
    pub(crate) crash_after_writes: [Option<u32>; 2],
    pub(crate) restart_ms: u64,
    pub(crate) reorg: Option<ReorgPlan>,
    /// The taker buys base (pays USDC on the quote chain) or sells it.
    pub(crate) taker_buys: bool,
    /// The misbehaving party, if any.
    pub(crate) hostile: Option<(Party, Hostility)>,
    /// Every claim the taker sends is dropped (no gas): it never mines.
    pub(crate) taker_claims_dropped: bool,
    /// The taker's first this-many claims are dropped before any node holds them; later
    /// ones go through.
    pub(crate) taker_claims_lost_first: u32,
    /// Extra seconds on every timelock setting over the least the chains need.
    pub(crate) timing_slack_secs: u64,
}

impl Schedule {
    /// Both honest, 2 s and 3 s blocks, 1 confirmation, no faults.
    pub(crate) fn calm(seed: u64) -> Schedule {
        Schedule {
            seed,
            block_ms: [2_000, 3_000],
            scan_confirmations: [[1, 1], [1, 1]],
            leg_confirmations: [1, 1],
            tx_delay_ms: 0,
            tx_drop_per_mille: 0,
            msg_delay_ms: 200,
            msg_loss_per_mille: 0,
            crash_after_writes: [None, None],
            restart_ms: 5_000,
            reorg: None,
            taker_buys: true,
            hostile: None,
            taker_claims_dropped: false,
            taker_claims_lost_first: 0,
            timing_slack_secs: 0,
        }
    }

    fn honest(&self, party: Party) -> bool {
        !matches!(&self.hostile, Some((hostile, _)) if *hostile == party)
    }
}

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..=max`.
    pub(crate) fn upto(&mut self, max: u64) -> u64 {
        if max == 0 { 0 } else { self.next() % (max + 1) }
    }

    /// True with `per_mille` / 1000.
    pub(crate) fn chance(&mut self, per_mille: u32) -> bool {
        self.next() % 1000 < u64::from(per_mille)
    }
}

/// The least settlement timing the chains of both nodes need (the rules of
/// [`SettlementConfig::timing_problems`]), plus `slack` seconds on each timelock.
pub(crate) fn timing_for(schedule: &Schedule) -> (Timing, Duration, Duration) {
    let secs = |ms: u64| ms.div_ceil(1000);
    let poll = secs(POLL_MS);
    let [taker_confs, maker_confs] = schedule.leg_confirmations;
    let mut seen_taker_leg = 0;
    let mut seen_maker_leg = 0;
    let mut lag = 0;
    let mut block = 0;
    for node in 0..2 {
        for chain in 0..2 {
            let b = secs(schedule.block_ms[chain]);
            let c = schedule.scan_confirmations[node][chain].max(1);
            seen_taker_leg = seen_taker_leg.max(b * taker_confs.max(c) + poll);
            seen_maker_leg = seen_maker_leg.max(b * maker_confs.max(c) + poll);
            lag = lag.max(b * (c - 1) + poll);
            block = block.max(b);
        }
    }
    let slack = schedule.timing_slack_secs;
    let min_claim = (3 * block + secs(RETRY_MS) + lag).max(10) + slack;
    let maker_lock = (seen_maker_leg + min_claim).max(min_claim + 1) + slack;
    // Seen a lag late, one re-send of the maker's claim (retry and another lag), min_claim.
    let margin = (2 * lag + secs(RETRY_MS) + min_claim).max(2 * min_claim) + slack;
    // `timing_problems` asks for maker_lock + margin + the time to see the taker's lock;
    // a maker refuses any take under maker_lock + margin + min_claim (`accept_take`), so
    // both must hold or every take is refused.
    let taker_lock = maker_lock + margin + seen_taker_leg.max(min_claim) + slack;
    let lock_margin = Duration::from_secs(seen_taker_leg.max(seen_maker_leg) + 1);
    let reservation = lock_margin + Duration::from_secs(30 + 5 + 10 + slack);
    let timing = Timing {
        taker_lock_secs: taker_lock,
        maker_lock_secs: maker_lock,
        margin_secs: margin,
        min_claim_secs: min_claim,
        taker_leg_confirmations: taker_confs,
        maker_leg_confirmations: maker_confs,
        retry_ms: RETRY_MS,
    };
    (timing, lock_margin, reservation)
}

/// The configuration of node `party` under `schedule`; its timing passes
/// [`SettlementConfig::timing_problems`].
pub(crate) fn node_config(schedule: &Schedule, party: Party) -> NodeConfig {
    let index = party.index();
    let def = eth_usdc();
    let mut config = NodeConfig::new(dex_test_utils::markets().clone(), vec![node_trader(index)]);
    config.caps.preallocated_orders = 16;
    let chains = [def.base_chain, def.quote_chain]
        .into_iter()
        .enumerate()
        .map(|(chain, chain_id)| ChainConfig {
            chain_id,
            rpc_url: "http://127.0.0.1:1".into(),
            htlc: HTLC,
            start_block: 0,
            client: ClientConfig {
                poll_interval: Duration::from_millis(POLL_MS),
                scan_confirmations: schedule.scan_confirmations[index][chain],
                block_time: Duration::from_millis(schedule.block_ms[chain]),
                ..ClientConfig::default()
            },
        })
        .collect();
    let mut settlement = SettlementConfig::new(PathBuf::from("unused.sqlite"), chains);
    let (timing, lock_margin, reservation) = timing_for(schedule);
    settlement.timing = timing;
    settlement.lock_margin = lock_margin;
    settlement.reservation = reservation;
    // One swap per run: a refunded quantity is not offered again.
    settlement.repost_failed = false;
    settlement.balance_refresh = Duration::from_millis(BALANCE_MS);
    let problems = settlement.timing_problems();
    assert!(problems.is_empty(), "incoherent sim timing: {problems:?}");
    config.settlement = Some(settlement);
    config
}

/// A message on its way.
#[derive(Debug, Clone)]
enum Payload {
    Gossip {
        topic: String,
        data: Vec<u8>,
    },
    Take {
        request_id: B256,
        message: Box<TakeMessage>,
    },
    Answer {
        request_id: B256,
        result: Result<TakeAnswer, String>,
    },
    Note(SwapMessage),
}

#[derive(Debug, Clone)]
struct Envelope {
    at: u64,
    seq: u64,
    to: usize,
    payload: Payload,
}

/// One node, its database and its view of the chains.
struct SimNode {
    party: Party,
    config: NodeConfig,
    peer: PeerId,
    trader: Address,
    /// `None` while down.
    state: Option<NodeState>,
    store: Store,
    writes: u32,
    crash_after: Option<u32>,
    restart_at: Option<u64>,
    scanners: [Scanner; 2],
    next_poll: u64,
    next_tick: u64,
    next_balances: u64,
    hostility: Option<Hostility>,
    /// Gone for good (a hostile party that vanished).
    gone: bool,
    crashes: u32,
}

impl std::fmt::Debug for SimNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNode")
            .field("party", &self.party)
            .field("up", &self.state.is_some())
            .field("writes", &self.writes)
            .finish()
    }
}

/// What a run ended with, per party: balance changes per asset (base, quote) and what was
/// left unfinished.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) schedule: Schedule,
    /// Per party: (base change, quote change), signed, in base units.
    pub(crate) deltas: [(i128, i128); 2],
    /// Per party: the trade it agreed to, as (base change, quote change).
    pub(crate) trade: [(i128, i128); 2],
    /// Per party: swaps its database still holds unfinished.
    pub(crate) unfinished: [usize; 2],
    /// Per party: its locks still open on either chain.
    pub(crate) open_locks: [usize; 2],
    /// Per party: swaps completed (trades it recorded).
    pub(crate) completed: [bool; 2],
    /// Whether a swap was started at all (the maker accepted a take).
    pub(crate) swap_started: bool,
    /// Every lock on the chains at the end: (chain, state, params).
    pub(crate) locks: Vec<(u64, Slot, LockParams)>,
    /// Simulated ms the run took, and transactions that reverted: for failure reports.
    #[allow(dead_code, reason = "read through Debug in failure reports")]
    pub(crate) end_ms: u64,
    #[allow(dead_code, reason = "read through Debug in failure reports")]
    pub(crate) reverts: u32,
}

impl Outcome {
    /// Whether `party` ended with the trade.
    pub(crate) fn traded(&self, party: Party) -> bool {
        self.deltas[party.index()] == self.trade[party.index()]
    }

    /// Whether `party` ended with exactly what it had.
    pub(crate) fn whole(&self, party: Party) -> bool {
        self.deltas[party.index()] == (0, 0)
    }

    /// The invariant for every honest party; panics with the run's details if it fails.
    pub(crate) fn check(&self) {
        for party in [Party::Maker, Party::Taker] {
            if !self.schedule.honest(party) {
                continue;
            }
            let index = party.index();
            // At least the trade, or at least its own funds, asset by asset (more is the
            // hostile party's loss, e.g. a lock it could not claim back in time).
            let (base, quote) = self.deltas[index];
            let at_least = |(b, q): (i128, i128)| base >= b && quote >= q;
            assert!(
                at_least(self.trade[index]) || at_least((0, 0)),
                "{party:?} ended with {:?}, less than the trade {:?} and less than its own funds\n{self:#?}",
                self.deltas[index],
                self.trade[index]
            );
            assert_eq!(
                (self.unfinished[index], self.open_locks[index]),
                (0, 0),
                "{party:?} did not end: swaps unfinished, locks open\n{self:#?}"
            );
        }
    }
}

/// The simulated world.
pub(crate) struct World {
    now: u64,
    schedule: Schedule,
    rng: Rng,
    chains: [SimChain; 2],
    nodes: [SimNode; 2],
    bus: VecDeque<Envelope>,
    seq: u64,
    initial: [(U256, U256); 2],
    reorg_done: bool,
    swap_started: bool,
    end_ms: u64,
    timing: Timing,
    /// Taker claims dropped so far under `taker_claims_lost_first`.
    taker_claims_lost: u32,
}

fn asset_tokens() -> [Address; 2] {
    let def = eth_usdc();
    [def.base_token, def.quote_token]
}

impl World {
    pub(crate) fn new(schedule: Schedule) -> World {
        let def = eth_usdc();
        let traders = [node_trader(0).address(), node_trader(1).address()];
        let mut balances_base = Vec::new();
        let mut balances_quote = Vec::new();
        for trader in traders {
            balances_base.push(((trader, Address::ZERO), U256::from(NATIVE)));
            balances_quote.push(((trader, Address::ZERO), U256::from(NATIVE)));
            balances_quote.push(((trader, def.quote_token), U256::from(USDC)));
        }
        let chains = [
            SimChain::new(
                def.base_chain,
                HTLC,
                schedule.block_ms[0],
                START_MS,
                &balances_base,
            ),
            SimChain::new(
                def.quote_chain,
                HTLC,
                schedule.block_ms[1],
                START_MS,
                &balances_quote,
            ),
        ];
        let nodes = [Party::Maker, Party::Taker].map(|party| {
            let index = party.index();
            let config = node_config(&schedule, party);
            let mut seed = [0u8; 32];
            seed[0] = 7;
            seed[1] = index as u8;
            let keypair = Keypair::ed25519_from_bytes(seed).expect("32 bytes make a key");
            let hostility = schedule
                .hostile
                .as_ref()
                .filter(|(hostile, _)| *hostile == party)
                .map(|(_, hostility)| hostility.clone());
            let crash_after = match &hostility {
                Some(Hostility {
                    vanishes_after_writes: Some(writes),
                    ..
                }) => Some(*writes),
                _ => schedule.crash_after_writes[index],
            };
            SimNode {
                party,
                peer: keypair.public().to_peer_id(),
                trader: traders[index],
                state: None,
                store: Store::open_in_memory().expect("an in-memory database"),
                writes: 0,
                crash_after,
                restart_at: None,
                scanners: [0, 1]
                    .map(|chain| Scanner::new(schedule.scan_confirmations[index][chain])),
                next_poll: START_MS + 100 * (index as u64 + 1),
                next_tick: START_MS + 10 * (index as u64 + 1),
                next_balances: START_MS + BALANCE_MS,
                hostility,
                gone: false,
                crashes: 0,
                config,
            }
        });
        let (timing, _, reservation) = timing_for(&schedule);
        // Long enough for the reservation, both timelocks, the scan lags and refunds.
        let end_ms = START_MS
            + u64::try_from(reservation.as_millis()).unwrap_or(u64::MAX)
            + 1000 * (2 * timing.taker_lock_secs + 600)
            + 2 * schedule.restart_ms;
        let mut world = World {
            now: START_MS,
            rng: Rng::new(schedule.seed),
            chains,
            nodes,
            bus: VecDeque::new(),
            seq: 0,
            initial: [(U256::ZERO, U256::ZERO); 2],
            reorg_done: false,
            swap_started: false,
            end_ms,
            timing,
            taker_claims_lost: 0,
            schedule,
        };
        world.initial = [0, 1].map(|index| world.holdings(index));
        for index in 0..2 {
            world.start_node(index);
        }
        world
    }

    /// (base, quote) held by node `index`'s trader at the chain heads.
    fn holdings(&self, index: usize) -> (U256, U256) {
        let trader = self.nodes[index].trader;
        let [base_token, quote_token] = asset_tokens();
        (
            self.chains[0].balance(trader, base_token),
            self.chains[1].balance(trader, quote_token),
        )
    }

    /// Builds node `index`'s core and resumes it from its database (a first start finds it
    /// empty).
    fn start_node(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        let mut state = NodeState::new(
            &node.config,
            node.peer,
            0x5eed,
            Arc::new(NodeMetrics::default()),
        );
        let chain_ids = [self.chains[0].chain_id, self.chains[1].chain_id];
        for chain_id in chain_ids {
            state.set_chain_up(chain_id, true);
        }
        state.heartbeat_soon();
        for (chain, chain_id) in chain_ids.into_iter().enumerate() {
            let stored = node
                .store
                .chain_cursor(chain_id)
                .expect("the database answers");
            node.scanners[chain] = Scanner::from_cursor(
                node.config.settlement.as_ref().expect("settles").chains[chain]
                    .client
                    .scan_confirmations,
                stored.as_ref().and_then(|(_, json)| json.as_deref()),
            );
        }
        let store = &node.store;
        let actions = state.restore(
            store
                .own_orders(None, Some(dex_store::OrderStatus::Open))
                .expect("the database answers"),
            store.unfinished_swaps().expect("the database answers"),
            store.committed_swaps().expect("the database answers"),
            store.hashlocks().expect("the database answers"),
            self.now,
        );
        node.state = Some(state);
        node.restart_at = None;
        self.read_balances(index);
        self.perform(index, actions);
    }

    fn read_balances(&mut self, index: usize) {
        let now = self.now;
        let def = eth_usdc();
        let trader = self.nodes[index].trader;
        let readings: Vec<(u64, Vec<BalanceReading>)> = self
            .chains
            .iter()
            .map(|chain| {
                let mut tokens = vec![Address::ZERO];
                if chain.chain_id == def.quote_chain {
                    tokens.push(def.quote_token);
                }
                let readings = tokens
                    .into_iter()
                    .map(|token| BalanceReading {
                        owner: trader,
                        token,
                        amount: chain.balance(trader, token),
                        started_at: now,
                    })
                    .collect();
                (chain.chain_id, readings)
            })
            .collect();
        if let Some(state) = self.nodes[index].state.as_mut() {
            for (chain_id, readings) in readings {
                state.set_balances(chain_id, readings);
                state.set_max_fee_per_gas(chain_id, MAX_FEE_PER_GAS);
            }
        }
    }

    /// Node `index` stops right after a write: nothing after it runs.
    fn crash(&mut self, index: usize) {
        let restart_ms = self.schedule.restart_ms;
        let node = &mut self.nodes[index];
        node.state = None;
        node.crashes += 1;
        let vanish = node
            .hostility
            .as_ref()
            .is_some_and(|h| h.vanishes_after_writes.is_some());
        if vanish {
            node.gone = true;
        } else {
            node.restart_at = Some(self.now + restart_ms);
        }
    }

    /// Writes a decision's operations in one transaction, as the actor does.
    fn store(&mut self, index: usize, ops: &[StoreOp]) {
        if index == Party::Maker.index()
            && ops
                .iter()
                .any(|op| matches!(op, StoreOp::CreateSwap { .. }))
        {
            self.swap_started = true;
        }
        self.nodes[index]
            .store
            .apply(ops, self.now)
            .expect("the in-memory database takes every write");
    }

    fn send(&mut self, from: usize, payload: Payload, lossy: bool) {
        let to = 1 - from;
        let copies = if self.nodes[from]
            .hostility
            .as_ref()
            .is_some_and(|h| h.replays)
        {
            2
        } else {
            1
        };
        for copy in 0..copies {
            let lost = lossy && self.rng.chance(self.schedule.msg_loss_per_mille);
            let delay = self.rng.upto(self.schedule.msg_delay_ms) + 1 + copy * 3_000;
            let payload = if lost {
                match &payload {
                    // The sender learns that its request failed.
                    Payload::Take { request_id, .. } => {
                        self.push(Envelope {
                            at: self.now + REQUEST_TIMEOUT_MS,
                            seq: 0,
                            to: from,
                            payload: Payload::Answer {
                                request_id: *request_id,
                                result: Err("request timed out".into()),
                            },
                        });
                        continue;
                    }
                    _ => continue,
                }
            } else {
                payload.clone()
            };
            self.push(Envelope {
                at: self.now + delay,
                seq: 0,
                to,
                payload,
            });
        }
    }

    fn push(&mut self, mut envelope: Envelope) {
        self.seq += 1;
        envelope.seq = self.seq;
        let position = self
            .bus
            .iter()
            .position(|queued| (queued.at, queued.seq) > (envelope.at, envelope.seq))
            .unwrap_or(self.bus.len());
        self.bus.insert(position, envelope);
    }

    /// The timelock a hostile party locks with instead of its node's: the head's time plus
    /// the least the honest side accepts (its scan lag and confirmations included), plus
    /// `offset` (negative: past the bound).
    fn hostile_timelock(&self, party: Party, chain: usize, offset: i64) -> u64 {
        let head = self.chains[chain].head_ref().timestamp;
        let honest = 1 - party.index();
        let block = self.schedule.block_ms[chain].div_ceil(1000);
        let confirmations = self.schedule.scan_confirmations[honest][chain].max(1);
        let lag = block * (confirmations - 1) + POLL_MS / 1000;
        let timing = &self.timing;
        let base = match party {
            // The taker accepts T2 with min_claim + lag left when it sees the lock.
            Party::Maker => timing.min_claim_secs + 2 * lag + 2 * block,
            // The maker accepts T1 with margin + min_claim left.
            Party::Taker => timing.margin_secs + timing.min_claim_secs + lag + 2 * block,
        };
        head.saturating_add_signed(i64::try_from(base).unwrap_or(i64::MAX) + offset)
    }

    fn chain_index(&self, chain_id: u64) -> usize {
        usize::from(self.chains[1].chain_id == chain_id)
    }

    /// Sends a swap's transaction for node `index`, altered if the node is hostile.
    fn chain_action(&mut self, index: usize, action: dex_swap::Action) {
        let from = self.nodes[index].trader;
        let party = self.nodes[index].party;
        let hostility = self.nodes[index].hostility.clone();
        let mut delay = self.rng.upto(self.schedule.tx_delay_ms);
        let (chain, kind) = match action {
            dex_swap::Action::Lock {
                terms,
                hashlock,
                timelock,
                ..
            } => {
                let chain = self.chain_index(terms.chain_id);
                let mut params = dex_node::intended_lock_params(&terms, hashlock, timelock);
                if let Some(h) = &hostility {
                    if h.never_locks {
                        return;
                    }
                    delay += h.lock_delay_ms;
                    if let Some(offset) = h.timelock_offset {
                        params.timelock = self.hostile_timelock(party, chain, offset);
                    }
                    if h.wrong_amount {
                        params.amount -= U256::from(1);
                    }
                    if h.wrong_hashlock {
                        params.hashlock = B256::repeat_byte(0x66);
                    }
                }
                (chain, TxKind::Lock(params))
            }
            dex_swap::Action::Claim { lock, secret, .. } => {
                let chain = self.chain_index(lock.chain_id);
                let lose = party == Party::Taker
                    && self.taker_claims_lost < self.schedule.taker_claims_lost_first;
                if lose {
                    self.taker_claims_lost += 1;
                }
                if party == Party::Taker && (self.schedule.taker_claims_dropped || lose) {
                    self.chains[chain].submit(
                        from,
                        TxKind::Claim(dex_node::lock_params(&lock), secret.0),
                        None,
                    );
                    return;
                }
                (chain, TxKind::Claim(dex_node::lock_params(&lock), secret.0))
            }
            dex_swap::Action::Refund { lock, .. } => (
                self.chain_index(lock.chain_id),
                TxKind::Refund(dex_node::lock_params(&lock)),
            ),
            _ => return,
        };
        // Honest locks, refunds and taker claims may be dropped (and are sent again); a
        // maker's claim may not: it is sent with the secret already public and must mine
        // before T1 (DESIGN §7, "priced to be mined now"), which no retry can promise.
        let droppable =
            hostility.is_none() && !(party == Party::Maker && matches!(kind, TxKind::Claim(..)));
        let include_at = if droppable && self.rng.chance(self.schedule.tx_drop_per_mille) {
            None
        } else {
            Some(self.now + delay)
        };
        self.chains[chain].submit(from, kind, include_at);
    }

    /// Performs node `index`'s decision as the actor does: its writes in one transaction,
    /// then its actions in order; a crash point right after the writes cuts the actions
    /// off. Returns whether everything was performed.
    fn perform(&mut self, index: usize, decision: Decision) -> bool {
        if self.nodes[index].state.is_none() {
            return false;
        }
        if !decision.persist.is_empty() {
            self.store(index, &decision.persist);
            let node = &mut self.nodes[index];
            node.writes += 1;
            if node.crash_after == Some(node.writes) {
                self.crash(index);
                return false;
            }
        }
        for action in decision.then {
            if self.nodes[index].state.is_none() {
                return false;
            }
            match action {
                Action::Publish { topic, data } => {
                    self.send(index, Payload::Gossip { topic, data }, false);
                }
                Action::Take {
                    request_id,
                    message,
                    ..
                } => self.send(
                    index,
                    Payload::Take {
                        request_id,
                        message,
                    },
                    true,
                ),
                Action::Note { message, .. } => {
                    let withheld = self.nodes[index]
                        .hostility
                        .as_ref()
                        .is_some_and(|h| h.withholds_hints);
                    if !withheld {
                        self.send(index, Payload::Note(message), true);
                    }
                }
                Action::Chain { action, .. } => self.chain_action(index, action),
                Action::Sync { .. } | Action::Disconnect { .. } => {}
            }
        }
        true
    }

    fn deliver(&mut self, envelope: Envelope) {
        let to = envelope.to;
        let from = 1 - to;
        let now = self.now;
        let peer = self.nodes[from].peer;
        let Some(state) = self.nodes[to].state.as_mut() else {
            if let Payload::Take { request_id, .. } = envelope.payload {
                self.push(Envelope {
                    at: now + REQUEST_TIMEOUT_MS,
                    seq: 0,
                    to: from,
                    payload: Payload::Answer {
                        request_id,
                        result: Err("peer unreachable".into()),
                    },
                });
            }
            return;
        };
        match envelope.payload {
            Payload::Gossip { topic, data } => {
                let (_, actions) = state.on_gossip(peer, &topic, &data, now);
                self.perform(to, actions);
            }
            Payload::Take {
                request_id,
                message,
            } => {
                // The maker reads the taker's balance on its chain first, as the actor does.
                let balance = state.take_funds_query(&message).and_then(|query| {
                    self.chains
                        .iter()
                        .find(|chain| chain.chain_id == query.chain_id)
                        .map(|chain| chain.balance(query.owner, query.token))
                });
                let (answer, actions) = state.on_take_request(peer, *message, balance, now);
                let result = if self.perform(to, actions) {
                    Ok(answer)
                } else {
                    Err("take not answered".into())
                };
                let lost = result.is_err();
                let payload = Payload::Answer { request_id, result };
                if lost {
                    self.push(Envelope {
                        at: now + REQUEST_TIMEOUT_MS,
                        seq: 0,
                        to: from,
                        payload,
                    });
                } else {
                    // A lost answer reaches the taker as a failed request.
                    if self.rng.chance(self.schedule.msg_loss_per_mille) {
                        self.push(Envelope {
                            at: now + REQUEST_TIMEOUT_MS,
                            seq: 0,
                            to: from,
                            payload: Payload::Answer {
                                request_id,
                                result: Err("answer lost".into()),
                            },
                        });
                    } else {
                        self.send(to, payload, false);
                    }
                }
            }
            Payload::Answer { request_id, result } => {
                let actions = state.on_take_answer(request_id, result, now);
                self.perform(to, actions);
            }
            Payload::Note(message) => {
                let (_, actions) = state.on_swap_message(peer, message, now);
                self.perform(to, actions);
            }
        }
    }

    /// The hostile maker's mempool watch: a claim of its lock reveals the secret, with
    /// which it claims the taker's lock at once.
    fn race(&mut self) {
        let Some((Party::Maker, hostility)) = &self.schedule.hostile else {
            return;
        };
        if !hostility.mempool_racer {
            return;
        }
        let maker = self.nodes[0].trader;
        let mut claims = Vec::new();
        for chain in &self.chains {
            for (params, secret) in chain.pending_claims() {
                if params.sender == maker {
                    claims.push((params.hashlock, secret));
                }
            }
        }
        for (hashlock, secret) in claims {
            for chain in 0..2 {
                let targets: Vec<LockParams> = self.chains[chain]
                    .locks()
                    .into_iter()
                    .filter(|(slot, params)| {
                        *slot == Slot::Locked
                            && params.recipient == maker
                            && params.hashlock == hashlock
                    })
                    .map(|(_, params)| params)
                    .collect();
                for params in targets {
                    let already = self.chains[chain]
                        .pending_claims()
                        .any(|(pending, _)| pending.id() == params.id());
                    if !already {
                        self.chains[chain].submit(
                            maker,
                            TxKind::Claim(params, secret),
                            Some(self.now),
                        );
                    }
                }
            }
        }
    }

    fn next_event(&self) -> u64 {
        let mut next = self.chains[0]
            .next_block_at
            .min(self.chains[1].next_block_at);
        if let Some(envelope) = self.bus.front() {
            next = next.min(envelope.at);
        }
        for node in &self.nodes {
            if node.state.is_some() {
                next = next
                    .min(node.next_poll)
                    .min(node.next_tick)
                    .min(node.next_balances);
            }
            if let Some(at) = node.restart_at {
                next = next.min(at);
            }
        }
        if let Some(plan) = self.schedule.reorg
            && !self.reorg_done
            && !plan.when_maker_locked
        {
            next = next.min(START_MS + plan.after_ms);
        }
        next.max(self.now)
    }

    /// Places the maker's order, then the taker's crossing IOC order once the gossip is in.
    fn place_orders(&mut self) {
        let taker_side = if self.schedule.taker_buys {
            Side::Buy
        } else {
            Side::Sell
        };
        let order = |side, tif| PlaceOrder {
            market: eth_usdc_id(),
            side,
            price: PRICE,
            quantity: QUANTITY,
            min_fill: None,
            time_in_force: tif,
            expires_in_ms: Some(3_600_000),
            maker: None,
            client_order_id: None,
        };
        let now = self.now;
        if let Some(state) = self.nodes[0].state.as_mut() {
            let (_, actions) = state
                .place_order(order(taker_side.opposite(), TimeInForce::Gtc), now)
                .expect("the maker's order is placed");
            self.perform(0, actions);
        }
        self.run_until(now + self.schedule.msg_delay_ms + 1_000);
        let now = self.now;
        if let Some(state) = self.nodes[1].state.as_mut() {
            let (_, actions) = state
                .place_order(order(taker_side, TimeInForce::Ioc), now)
                .expect("the taker's order is placed");
            self.perform(1, actions);
        }
    }

    /// Advances the world to `until` (local ms), event by event.
    fn run_until(&mut self, until: u64) {
        loop {
            let next = self.next_event();
            if next > until {
                self.now = until;
                return;
            }
            self.now = next;
            self.step();
        }
    }

    fn step(&mut self) {
        let now = self.now;
        for chain in &mut self.chains {
            chain.mine_due(now);
        }
        if let Some(plan) = self.schedule.reorg
            && !self.reorg_done
        {
            if plan.when_maker_locked {
                let (maker, taker) = (self.nodes[0].trader, self.nodes[1].trader);
                let maker_locked = self
                    .chains
                    .iter()
                    .any(|chain| chain.lock_block_of(maker).is_some());
                let chain = &mut self.chains[plan.chain];
                if maker_locked && let Some(block) = chain.lock_block_of(taker) {
                    self.reorg_done = true;
                    let depth = chain.height() + 1 - block;
                    chain.reorg(depth, plan.keep_txs, now);
                }
            } else if now >= START_MS + plan.after_ms {
                self.reorg_done = true;
                self.chains[plan.chain].reorg(plan.depth, plan.keep_txs, now);
            }
        }
        self.race();
        while self.bus.front().is_some_and(|envelope| envelope.at <= now) {
            let envelope = self.bus.pop_front().expect("checked");
            self.deliver(envelope);
        }
        for index in 0..2 {
            if self.nodes[index].restart_at.is_some_and(|at| at <= now) {
                self.start_node(index);
            }
            if self.nodes[index].state.is_none() {
                continue;
            }
            if self.nodes[index].next_poll <= now {
                self.nodes[index].next_poll += POLL_MS;
                for chain in 0..2 {
                    let batch = self.nodes[index].scanners[chain].poll(&self.chains[chain]);
                    let chain_id = self.chains[chain].chain_id;
                    if let Some(batch) = batch {
                        let had_events = !batch.events.is_empty();
                        let Some(state) = self.nodes[index].state.as_mut() else {
                            break;
                        };
                        let actions = state.on_chain_batch(chain_id, batch, now);
                        if !self.perform(index, actions) {
                            break;
                        }
                        if had_events {
                            self.read_balances(index);
                        }
                    }
                }
            }
            if self.nodes[index].next_tick <= now {
                self.nodes[index].next_tick += TICK_MS;
                if let Some(state) = self.nodes[index].state.as_mut() {
                    let mut decision = state.tick(now);
                    let trading = state.trading_tick(now);
                    decision.persist.extend(trading.persist);
                    decision.then.extend(trading.then);
                    self.perform(index, decision);
                }
            }
            if self.nodes[index].next_balances <= now {
                self.nodes[index].next_balances += BALANCE_MS;
                self.read_balances(index);
            }
        }
    }

    /// Whether every honest party is done: up, nothing unfinished in its database, none of
    /// its locks open, and nothing of it waiting in a mempool.
    fn settled(&self) -> bool {
        let mempools_empty = self.chains.iter().all(SimChain::mempool_is_empty);
        mempools_empty
            && self.bus.is_empty()
            && [Party::Maker, Party::Taker].into_iter().all(|party| {
                if !self.schedule.honest(party) {
                    return true;
                }
                let node = &self.nodes[party.index()];
                node.state.is_some()
                    && node
                        .store
                        .unfinished_swaps()
                        .expect("the database answers")
                        .is_empty()
                    && self
                        .chains
                        .iter()
                        .all(|chain| chain.open_locks_of(node.trader).is_empty())
            })
    }

    /// Runs the whole trade and reports how it ended.
    pub(crate) fn run(mut self) -> Outcome {
        self.run_until(START_MS + 2_000);
        self.place_orders();
        // Past the take protocol, then until settled (checked every 10 s) or the end.
        let earliest = self.now + REQUEST_TIMEOUT_MS * 2;
        while self.now < self.end_ms {
            let until = (self.now + 10_000).min(self.end_ms);
            self.run_until(until);
            if self.now >= earliest && self.settled() {
                break;
            }
        }
        self.outcome()
    }

    fn outcome(&self) -> Outcome {
        let def = eth_usdc();
        let amounts = dex_test_utils::markets()
            .get(&eth_usdc_id())
            .expect("the test market")
            .fill_amounts(PRICE, QUANTITY)
            .expect("small amounts");
        let base = i128::try_from(amounts.base).expect("small");
        let quote = i128::try_from(amounts.quote).expect("small");
        let taker_trade = if self.schedule.taker_buys {
            (base, -quote)
        } else {
            (-base, quote)
        };
        let trade = [(-taker_trade.0, -taker_trade.1), taker_trade];
        let signed = |now: U256, before: U256| -> i128 {
            if now >= before {
                i128::try_from(now - before).expect("small")
            } else {
                -i128::try_from(before - now).expect("small")
            }
        };
        let deltas = [0, 1].map(|index| {
            let (base_now, quote_now) = self.holdings(index);
            let (base_before, quote_before) = self.initial[index];
            (
                signed(base_now, base_before),
                signed(quote_now, quote_before),
            )
        });
        let _ = def;
        let unfinished = [0, 1].map(|index| {
            self.nodes[index]
                .store
                .unfinished_swaps()
                .expect("the database answers")
                .len()
        });
        let open_locks = [0, 1].map(|index| {
            self.chains
                .iter()
                .map(|chain| chain.open_locks_of(self.nodes[index].trader).len())
                .sum()
        });
        let completed = [0, 1].map(|index| {
            !self.nodes[index]
                .store
                .recent_trades(&eth_usdc_id(), 10)
                .expect("the database answers")
                .is_empty()
        });
        let locks = self
            .chains
            .iter()
            .flat_map(|chain| {
                chain
                    .locks()
                    .into_iter()
                    .map(|(slot, params)| (chain.chain_id, slot, params))
            })
            .collect();
        Outcome {
            schedule: self.schedule.clone(),
            deltas,
            trade,
            unfinished,
            open_locks,
            completed,
            swap_started: self.swap_started,
            locks,
            end_ms: self.now - START_MS,
            reverts: self.chains[0].reverts + self.chains[1].reverts,
        }
    }

    /// The latest timelock on either chain (for reports).
    #[allow(dead_code)]
    pub(crate) fn latest_timelock(&self) -> u64 {
        self.chains[0]
            .latest_timelock()
            .max(self.chains[1].latest_timelock())
    }
}

/// Runs `schedule` to the end and checks the invariant.
pub(crate) fn run(schedule: Schedule) -> Outcome {
    let outcome = World::new(schedule).run();
    outcome.check();
    outcome
}
