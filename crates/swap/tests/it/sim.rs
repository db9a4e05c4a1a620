//! A small simulated world: two HTLC chains with block time, the taker's and the maker's
//! swap machines, and a driver that performs their actions and reports what the chains
//! show — with knobs to make a party misbehave, go offline, drop hints or crash.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, U256, keccak256};
use dex_swap::{
    Action, Event, Hint, Leg, LockInfo, LockTerms, Outcome, Role, ScanLag, Secret, Swap,
    SwapParams, Timing,
};

pub(crate) const TAKER: Address = Address::repeat_byte(0x7a);
pub(crate) const MAKER: Address = Address::repeat_byte(0x3a);
pub(crate) const CONTRACT_X: Address = Address::repeat_byte(0xc1);
pub(crate) const CONTRACT_Y: Address = Address::repeat_byte(0xc2);
pub(crate) const TOKEN_Y: Address = Address::repeat_byte(0xe2);
pub(crate) const CHAIN_X: u64 = 31337;
pub(crate) const CHAIN_Y: u64 = 31338;
/// Chain start time (unix seconds) and local start time (unix ms), deliberately unrelated:
/// the machines must never compare local time with chain time.
pub(crate) const CHAIN_START: u64 = 1_800_000_000;
pub(crate) const LOCAL_START: u64 = 1_764_000_000_000;
pub(crate) const TAKER_AMOUNT: u64 = 625_125_000; // quote units the taker pays
pub(crate) const MAKER_AMOUNT: u64 = 250_000_000_000_000_000; // base units the maker sells
pub(crate) const START_BALANCE: u64 = 1_000_000_000_000_000_000;

pub(crate) fn secret() -> Secret {
    Secret(B256::repeat_byte(0x5e))
}

pub(crate) fn timing() -> Timing {
    Timing {
        taker_lock_secs: 1200,
        maker_lock_secs: 600,
        margin_secs: 300,
        min_claim_secs: 60,
        taker_leg_confirmations: 2,
        maker_leg_confirmations: 2,
        retry_ms: 5_000,
    }
}

pub(crate) fn params(role: Role) -> SwapParams {
    SwapParams {
        swap_id: B256::repeat_byte(0x51),
        role,
        hashlock: secret().hashlock(),
        taker_leg: LockTerms {
            chain_id: CHAIN_X,
            contract: CONTRACT_X,
            token: Address::ZERO,
            amount: U256::from(TAKER_AMOUNT),
            sender: TAKER,
            recipient: MAKER,
        },
        maker_leg: LockTerms {
            chain_id: CHAIN_Y,
            contract: CONTRACT_Y,
            token: TOKEN_Y,
            amount: U256::from(MAKER_AMOUNT),
            sender: MAKER,
            recipient: TAKER,
        },
        reserved_until: LOCAL_START + 60_000,
        lock_margin_ms: 10_000,
        timing: timing(),
        scan_lag_secs: ScanLag::default(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LockState {
    Open,
    Claimed(Secret),
    Refunded,
}

#[derive(Debug, Clone)]
pub(crate) struct SimLock {
    pub(crate) info: LockInfo,
    pub(crate) block: u64,
    pub(crate) state: LockState,
    /// The block of its claim or refund (0 while open).
    pub(crate) settled_block: u64,
}

/// An HTLC chain: block height and time, balances, locks. Every transaction mines a block.
#[derive(Debug, Clone)]
pub(crate) struct SimChain {
    pub(crate) chain_id: u64,
    pub(crate) contract: Address,
    pub(crate) height: u64,
    pub(crate) time: u64,
    pub(crate) balances: BTreeMap<Address, u64>,
    pub(crate) locks: BTreeMap<B256, SimLock>,
    pub(crate) reverts: u32,
    /// Timestamp of each block mined (a test may also move `time` without mining).
    pub(crate) block_times: BTreeMap<u64, u64>,
}

impl SimChain {
    fn new(chain_id: u64, contract: Address) -> SimChain {
        SimChain {
            chain_id,
            contract,
            height: 1,
            time: CHAIN_START,
            balances: [(TAKER, START_BALANCE), (MAKER, START_BALANCE)].into(),
            locks: BTreeMap::new(),
            reverts: 0,
            block_times: [(1, CHAIN_START)].into(),
        }
    }

    pub(crate) fn balance(&self, who: Address) -> u64 {
        self.balances.get(&who).copied().unwrap_or(0)
    }

    fn mine(&mut self) {
        self.height += 1;
        self.time += 1;
        self.block_times.insert(self.height, self.time);
    }

    /// The time of block `number` (the current time for the head).
    fn time_of(&self, number: u64) -> u64 {
        if number >= self.height {
            return self.time;
        }
        self.block_times
            .range(..=number)
            .next_back()
            .map_or(CHAIN_START, |(_, time)| *time)
    }

    /// The contract's rules: no zero amount, no past timelock, no duplicate id.
    pub(crate) fn lock(&mut self, terms: &LockTerms, hashlock: B256, timelock: u64) -> bool {
        let amount = terms.amount.to::<u64>();
        let id = lock_id(terms, hashlock, timelock);
        let funded = self.balance(terms.sender) >= amount;
        if amount == 0 || timelock <= self.time || self.locks.contains_key(&id) || !funded {
            self.reverts += 1;
            return false;
        }
        self.mine();
        *self.balances.entry(terms.sender).or_default() -= amount;
        *self.balances.entry(self.contract).or_default() += amount;
        let info = LockInfo {
            id,
            chain_id: self.chain_id,
            contract: self.contract,
            sender: terms.sender,
            recipient: terms.recipient,
            token: terms.token,
            amount: terms.amount,
            hashlock,
            timelock,
        };
        self.locks.insert(
            id,
            SimLock {
                info,
                block: self.height,
                state: LockState::Open,
                settled_block: 0,
            },
        );
        true
    }

    pub(crate) fn claim(&mut self, id: B256, secret: Secret) -> bool {
        let time = self.time;
        let Some(lock) = self.locks.get_mut(&id) else {
            self.reverts += 1;
            return false;
        };
        if lock.state != LockState::Open
            || time >= lock.info.timelock
            || secret.hashlock() != lock.info.hashlock
        {
            self.reverts += 1;
            return false;
        }
        lock.state = LockState::Claimed(secret);
        lock.settled_block = self.height + 1;
        let (recipient, amount) = (lock.info.recipient, lock.info.amount.to::<u64>());
        self.mine();
        *self.balances.entry(self.contract).or_default() -= amount;
        *self.balances.entry(recipient).or_default() += amount;
        true
    }

    pub(crate) fn refund(&mut self, id: B256) -> bool {
        let time = self.time;
        let Some(lock) = self.locks.get_mut(&id) else {
            self.reverts += 1;
            return false;
        };
        if lock.state != LockState::Open || time < lock.info.timelock {
            self.reverts += 1;
            return false;
        }
        lock.state = LockState::Refunded;
        lock.settled_block = self.height + 1;
        let (sender, amount) = (lock.info.sender, lock.info.amount.to::<u64>());
        self.mine();
        *self.balances.entry(self.contract).or_default() -= amount;
        *self.balances.entry(sender).or_default() += amount;
        true
    }

    /// Replaces the last `depth` blocks with empty ones: what they mined (locks, claims,
    /// refunds) is undone and not mined again. Returns the first block that changed.
    pub(crate) fn reorg(&mut self, depth: u64) -> u64 {
        let first_changed = self.height + 1 - depth;
        let contract = self.contract;
        let mut undone: Vec<B256> = Vec::new();
        for lock in self.locks.values_mut() {
            let amount = lock.info.amount.to::<u64>();
            if lock.settled_block >= first_changed {
                let to = match lock.state {
                    LockState::Claimed(_) => lock.info.recipient,
                    _ => lock.info.sender,
                };
                *self.balances.entry(to).or_default() -= amount;
                *self.balances.entry(contract).or_default() += amount;
                lock.state = LockState::Open;
                lock.settled_block = 0;
            }
            if lock.block >= first_changed {
                *self.balances.entry(contract).or_default() -= amount;
                *self.balances.entry(lock.info.sender).or_default() += amount;
                undone.push(lock.info.id);
            }
        }
        for id in undone {
            self.locks.remove(&id);
        }
        // As many new blocks, with the times the old ones had.
        first_changed
    }

    /// The newest block a watcher `watcher` reads: `lag` blocks behind the head.
    pub(crate) fn visible(&self, watcher: &Watcher) -> u64 {
        self.height.saturating_sub(watcher.lag).max(1)
    }

    /// What a watcher reports for `hashlock`, as the node's scanner does: locks (with
    /// confirmations counted to the last block read), claims and refunds of the blocks it
    /// reads — every block up to `lag` behind the head, or with `after` only the blocks
    /// after that one — then the time of the last block read, then the head.
    pub(crate) fn observe(
        &self,
        leg: Leg,
        hashlock: B256,
        watcher: &Watcher,
        after: u64,
    ) -> Vec<Event> {
        let visible = self.visible(watcher);
        let read = |block: u64| block <= visible && (!watcher.incremental || block > after);
        let mut events = Vec::new();
        for lock in self
            .locks
            .values()
            .filter(|lock| lock.info.hashlock == hashlock)
        {
            if read(lock.block) {
                events.push(Event::LockSeen {
                    leg,
                    lock: lock.info.clone(),
                    confirmations: visible - lock.block + 1,
                    block: if watcher.reports_head { lock.block } else { 0 },
                    chain_time: self.time_of(visible),
                });
            }
            if lock.settled_block == 0 || !read(lock.settled_block) {
                continue;
            }
            match lock.state {
                LockState::Claimed(secret) => events.push(Event::ClaimSeen {
                    leg,
                    lock_id: lock.info.id,
                    secret,
                }),
                LockState::Refunded => events.push(Event::RefundSeen {
                    leg,
                    lock_id: lock.info.id,
                }),
                LockState::Open => {}
            }
        }
        events.push(Event::ChainTime {
            leg,
            time: self.time_of(visible),
        });
        if watcher.reports_head {
            events.push(Event::ChainHead {
                leg,
                number: self.height,
                time: self.time,
            });
        }
        events
    }
}

/// How a party's node reads the chains.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watcher {
    /// Blocks behind the head it reads (its scan confirmations less one).
    pub(crate) lag: u64,
    /// Reports each event once, from the block after the last one it read (as the node's
    /// scanner does), instead of everything each round.
    pub(crate) incremental: bool,
    /// Reports the head of each chain ([`Event::ChainHead`]) and the block of each lock.
    pub(crate) reports_head: bool,
    /// Reports reorgs ([`Event::Reorged`]).
    pub(crate) reports_reorgs: bool,
}

impl Default for Watcher {
    fn default() -> Self {
        Watcher {
            lag: 0,
            incremental: false,
            reports_head: true,
            reports_reorgs: true,
        }
    }
}

pub(crate) fn lock_id(terms: &LockTerms, hashlock: B256, timelock: u64) -> B256 {
    let mut data = Vec::new();
    data.extend_from_slice(terms.sender.as_slice());
    data.extend_from_slice(terms.recipient.as_slice());
    data.extend_from_slice(terms.token.as_slice());
    data.extend_from_slice(&terms.amount.to_be_bytes::<32>());
    data.extend_from_slice(hashlock.as_slice());
    data.extend_from_slice(&timelock.to_be_bytes());
    keccak256(data)
}

/// How a party behaves.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Behaviour {
    /// Skips its `Lock` actions.
    pub(crate) never_locks: bool,
    /// Skips its `Claim` actions.
    pub(crate) never_claims: bool,
    /// Processes nothing (its node is down).
    pub(crate) offline: bool,
    /// Drops the hints it would send.
    pub(crate) mute: bool,
    /// Hostile maker: locks (once) with T2 = the head time + this, whatever its machine
    /// chose, and from then on claims the taker's lock with any secret it sees in the
    /// mempool and refunds its own lock as soon as the chain lets it.
    pub(crate) hostile_t2_secs: Option<u64>,
}

/// Both parties, both chains, local time.
#[derive(Debug, Clone)]
pub(crate) struct World {
    pub(crate) chains: [SimChain; 2],
    pub(crate) taker: Swap,
    pub(crate) maker: Swap,
    pub(crate) now: u64,
    pub(crate) behaviour: [Behaviour; 2],
    pub(crate) inbox: [Vec<Hint>; 2],
    pub(crate) log: Vec<(Role, Action)>,
    pub(crate) watchers: [Watcher; 2],
    /// Per party, the last block of each chain its watcher read: [X, Y].
    pub(crate) scanned: [[u64; 2]; 2],
    /// Secrets seen in claim transactions sent (a mempool anyone can read).
    pub(crate) mempool_secrets: Vec<Secret>,
}

fn slot(role: Role) -> usize {
    match role {
        Role::Taker => 0,
        Role::Maker => 1,
    }
}

fn chain_slot(leg: Leg) -> usize {
    match leg {
        Leg::Taker => 0,
        Leg::Maker => 1,
    }
}

impl World {
    pub(crate) fn new() -> World {
        World {
            chains: [
                SimChain::new(CHAIN_X, CONTRACT_X),
                SimChain::new(CHAIN_Y, CONTRACT_Y),
            ],
            taker: Swap::taker(params(Role::Taker), secret()).unwrap(),
            maker: Swap::maker(params(Role::Maker)).unwrap(),
            now: LOCAL_START,
            behaviour: [Behaviour::default(); 2],
            inbox: [Vec::new(), Vec::new()],
            log: Vec::new(),
            watchers: [Watcher::default(); 2],
            scanned: [[0; 2]; 2],
            mempool_secrets: Vec::new(),
        }
    }

    /// Both parties read the chains `lag` blocks behind the head (each event once if
    /// `incremental`), and both know it (their swaps' scan lag is `lag` seconds plus one for the poll: blocks come
    /// every second). With `reports_head` false the shell reports no heads, as before
    /// p2pdex tracked them.
    pub(crate) fn lagging(lag: u64, reports_head: bool, incremental: bool) -> World {
        let mut world = World::new();
        let watcher = Watcher {
            lag,
            incremental,
            reports_head,
            reports_reorgs: true,
        };
        world.watchers = [watcher; 2];
        let scan_lag = if reports_head { lag + 1 } else { 0 };
        let lags = ScanLag {
            taker_leg: scan_lag,
            maker_leg: scan_lag,
        };
        // The maker sees the taker's lock `lag` blocks late: its reservation allows for it.
        let reserved_until = LOCAL_START + (60 + 2 * lag) * 1000;
        let mut taker = params(Role::Taker);
        taker.scan_lag_secs = lags;
        taker.reserved_until = reserved_until;
        let mut maker = params(Role::Maker);
        maker.scan_lag_secs = lags;
        maker.reserved_until = reserved_until;
        world.taker = Swap::taker(taker, secret()).unwrap();
        world.maker = Swap::maker(maker).unwrap();
        world
    }

    pub(crate) fn chain(&self, leg: Leg) -> &SimChain {
        &self.chains[chain_slot(leg)]
    }

    pub(crate) fn swap(&self, role: Role) -> &Swap {
        match role {
            Role::Taker => &self.taker,
            Role::Maker => &self.maker,
        }
    }

    pub(crate) fn swap_mut(&mut self, role: Role) -> &mut Swap {
        match role {
            Role::Taker => &mut self.taker,
            Role::Maker => &mut self.maker,
        }
    }

    /// Feeds one event to a party and performs what it asks.
    pub(crate) fn feed(&mut self, role: Role, event: Event) -> Vec<Action> {
        let now = self.now;
        let actions = self.swap_mut(role).handle(event, now);
        self.perform(role, &actions);
        actions
    }

    pub(crate) fn perform(&mut self, role: Role, actions: &[Action]) {
        let behaviour = self.behaviour[slot(role)];
        for action in actions {
            self.log.push((role, action.clone()));
            match action {
                Action::Lock {
                    leg,
                    terms,
                    hashlock,
                    timelock,
                } if !behaviour.never_locks => {
                    let chain = &mut self.chains[chain_slot(*leg)];
                    match behaviour.hostile_t2_secs {
                        Some(secs) if chain.locks.is_empty() => {
                            let t2 = chain.time + secs;
                            chain.lock(terms, *hashlock, t2);
                        }
                        Some(_) => {}
                        None => {
                            chain.lock(terms, *hashlock, *timelock);
                        }
                    }
                }
                Action::Claim { leg, lock, secret } => {
                    // Sent: anyone reading the mempool now knows the secret.
                    self.mempool_secrets.push(*secret);
                    if !behaviour.never_claims {
                        self.chains[chain_slot(*leg)].claim(lock.id, *secret);
                    }
                    self.hostile_acts();
                }
                Action::Refund { leg, lock } => {
                    self.chains[chain_slot(*leg)].refund(lock.id);
                }
                Action::Send(hint) if !behaviour.mute => {
                    self.inbox[1 - slot(role)].push(hint.clone());
                }
                _ => {}
            }
        }
    }

    /// A hostile maker's own moves: claim the taker's locks with any secret it has seen,
    /// refund its own locks once their timelock passed.
    pub(crate) fn hostile_acts(&mut self) {
        if self.behaviour[1].hostile_t2_secs.is_none() {
            return;
        }
        let [x, y] = &mut self.chains;
        for secret in self.mempool_secrets.clone() {
            let ids: Vec<B256> = x
                .locks
                .values()
                .filter(|lock| {
                    lock.state == LockState::Open && lock.info.hashlock == secret.hashlock()
                })
                .map(|lock| lock.info.id)
                .collect();
            for id in ids {
                x.claim(id, secret);
            }
        }
        let expired: Vec<B256> = y
            .locks
            .values()
            .filter(|lock| lock.state == LockState::Open && y.time >= lock.info.timelock)
            .map(|lock| lock.info.id)
            .collect();
        for id in expired {
            y.refund(id);
        }
    }

    /// One round for a party: its hints, then what both chains show, then a tick.
    pub(crate) fn round(&mut self, role: Role) {
        if role == Role::Maker {
            self.hostile_acts();
        }
        if self.behaviour[slot(role)].offline {
            return;
        }
        for hint in std::mem::take(&mut self.inbox[slot(role)]) {
            let event = match hint {
                Hint::Secret { secret } => Event::SecretLearned { secret },
                Hint::Abort => Event::PeerAborted,
                // A lock hint only makes the node look at the chain, which it does anyway.
                Hint::Locked { .. } => Event::Tick,
            };
            self.feed(role, event);
        }
        // What this round reads; blocks its own actions mine are read next round.
        let watcher = self.watchers[slot(role)];
        let read = [0, 1].map(|chain| self.chains[chain].visible(&watcher));
        for event in self.observations(role) {
            self.feed(role, event);
        }
        self.scanned[slot(role)] = read;
        self.feed(role, Event::Tick);
    }

    /// What a party's watcher reports: both chains' events and times, and whether its own
    /// intended lock is absent.
    pub(crate) fn observations(&self, role: Role) -> Vec<Event> {
        let swap = self.swap(role);
        let hashlock = swap.params().hashlock;
        let watcher = self.watchers[slot(role)];
        let mut events = Vec::new();
        for leg in [Leg::Taker, Leg::Maker] {
            let after = self.scanned[slot(role)][chain_slot(leg)];
            events.extend(self.chain(leg).observe(leg, hashlock, &watcher, after));
        }
        if let Some((leg, timelock)) = swap.own_lock_intent() {
            let chain = self.chain(leg);
            let id = lock_id(swap.params().leg(leg), hashlock, timelock);
            let visible = chain.visible(&watcher);
            if chain.locks.get(&id).is_none_or(|lock| lock.block > visible) {
                events.push(Event::LockAbsent {
                    leg,
                    chain_time: chain.time_of(visible),
                });
            }
        }
        events
    }

    /// A reorg of `depth` blocks on `leg`'s chain; each party that had read past its first
    /// changed block is told (as the node's scanner rewinds) and reads from there again.
    pub(crate) fn reorg(&mut self, leg: Leg, depth: u64) {
        let chain = chain_slot(leg);
        let first_changed = self.chains[chain].reorg(depth);
        for role in [Role::Taker, Role::Maker] {
            let party = slot(role);
            if self.scanned[party][chain] >= first_changed || !self.watchers[party].incremental {
                self.scanned[party][chain] = first_changed - 1;
                if !self.behaviour[party].offline && self.watchers[party].reports_reorgs {
                    self.feed(
                        role,
                        Event::Reorged {
                            leg,
                            from_block: first_changed,
                        },
                    );
                }
            }
        }
    }

    /// Advances local time and both chains' block time (empty blocks, as a live chain does).
    pub(crate) fn wait(&mut self, secs: u64) {
        self.now += secs * 1000;
        for chain in &mut self.chains {
            chain.time += secs;
            chain.height += 1;
            chain.block_times.insert(chain.height, chain.time);
        }
    }

    /// Runs rounds (each one second apart) until both parties finished or `max_secs` pass.
    pub(crate) fn run(&mut self, max_secs: u64) {
        for _ in 0..max_secs {
            if self.taker.is_finished() && self.maker.is_finished() {
                return;
            }
            self.round(Role::Taker);
            self.round(Role::Maker);
            self.wait(1);
        }
    }

    pub(crate) fn outcome(&self, role: Role) -> Option<Outcome> {
        self.swap(role).outcome().cloned()
    }

    /// Balance changes on each chain relative to the start: [taker, maker].
    pub(crate) fn deltas(&self, leg: Leg) -> [i128; 2] {
        let chain = self.chain(leg);
        [TAKER, MAKER].map(|who| i128::from(chain.balance(who)) - i128::from(START_BALANCE))
    }

    pub(crate) fn actions_of(&self, role: Role) -> Vec<&Action> {
        self.log
            .iter()
            .filter(|(r, _)| *r == role)
            .map(|(_, a)| a)
            .collect()
    }
}
