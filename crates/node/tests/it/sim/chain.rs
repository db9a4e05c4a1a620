//! A simulated EVM chain carrying the p2pdex HTLC, and the scanner a node reads it with.
//!
//! Blocks are mined at a fixed block time as the simulated clock advances. Sent
//! transactions wait in a mempool (where anyone can read them, the secret of a claim
//! included) until the first block mined at or after their inclusion time. The HTLC follows
//! `contracts/Htlc.sol`: a lock id is [`LockParams::id`] with this chain's id and contract
//! (as `block.chainid` and `address(this)` are), a lock needs a timelock after the block's
//! time, a claim needs the secret strictly before the timelock, a refund is the sender's
//! from the timelock on, and nothing settles twice. A reorg replaces the last blocks with
//! empty ones; their transactions go back to the mempool or vanish.

use std::collections::BTreeMap;

use dex_chain::{BlockRef, ChainEvent, HtlcEvent, LockParams};
use dex_node::ChainBatch;
use dex_primitives::{Address, B256, U256};

/// A hash of a few numbers (sha256 through the swap's hashlock function): block and
/// transaction hashes that differ whenever their inputs do.
pub(crate) fn hash_of(words: &[u64]) -> B256 {
    let mut bytes = [0u8; 32];
    for (slot, word) in words.iter().take(4).enumerate() {
        bytes[slot * 8..slot * 8 + 8].copy_from_slice(&word.to_be_bytes());
    }
    dex_swap::Secret(B256::from(bytes)).hashlock()
}

/// What a transaction asks the HTLC.
#[derive(Debug, Clone)]
pub(crate) enum TxKind {
    /// `lock(...)`: the sender is the transaction's sender.
    Lock(LockParams),
    /// `claim(params, secret)`.
    Claim(LockParams, B256),
    /// `refund(params)`.
    Refund(LockParams),
}

/// A signed transaction.
#[derive(Debug, Clone)]
pub(crate) struct Tx {
    pub(crate) hash: B256,
    pub(crate) from: Address,
    pub(crate) kind: TxKind,
}

#[derive(Debug, Clone)]
struct Pending {
    tx: Tx,
    /// Local ms from which the next block includes it.
    include_at: u64,
}

/// A lock id's state in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    Locked,
    Claimed,
    Refunded,
}

/// Balances and HTLC slots after a block.
#[derive(Debug, Clone, Default)]
struct State {
    /// (owner, token) → amount; token `0x0` is the native coin.
    balances: BTreeMap<(Address, Address), U256>,
    slots: BTreeMap<B256, (Slot, LockParams)>,
}

#[derive(Debug, Clone)]
struct Block {
    number: u64,
    hash: B256,
    timestamp: u64,
    events: Vec<ChainEvent>,
    txs: Vec<Tx>,
}

impl Block {
    fn short_hash(&self) -> u64 {
        u64::from_be_bytes(self.hash.0[..8].try_into().expect("8 bytes"))
    }

    fn block_ref(&self) -> BlockRef {
        BlockRef {
            number: self.number,
            hash: self.hash,
            timestamp: self.timestamp,
        }
    }
}

/// One chain.
#[derive(Debug)]
pub(crate) struct SimChain {
    pub(crate) chain_id: u64,
    pub(crate) contract: Address,
    pub(crate) block_ms: u64,
    /// Local ms of the next block.
    pub(crate) next_block_at: u64,
    blocks: Vec<Block>,
    /// The state after each block (index = block number).
    states: Vec<State>,
    mempool: Vec<Pending>,
    forks: u64,
    txs_sent: u64,
    /// Transactions that reverted (for reports).
    pub(crate) reverts: u32,
}

impl SimChain {
    /// A chain whose genesis block is mined at `start_ms` with `balances`.
    pub(crate) fn new(
        chain_id: u64,
        contract: Address,
        block_ms: u64,
        start_ms: u64,
        balances: &[((Address, Address), U256)],
    ) -> SimChain {
        let genesis = Block {
            number: 0,
            hash: hash_of(&[chain_id, 0, 0]),
            timestamp: start_ms / 1000,
            events: Vec::new(),
            txs: Vec::new(),
        };
        let state = State {
            balances: balances.iter().cloned().collect(),
            slots: BTreeMap::new(),
        };
        SimChain {
            chain_id,
            contract,
            block_ms,
            next_block_at: start_ms + block_ms,
            blocks: vec![genesis],
            states: vec![state],
            mempool: Vec::new(),
            forks: 0,
            txs_sent: 0,
            reverts: 0,
        }
    }

    fn head(&self) -> &Block {
        self.blocks
            .last()
            .expect("the genesis block is never removed")
    }

    /// The head's number and time.
    pub(crate) fn head_ref(&self) -> BlockRef {
        self.head().block_ref()
    }

    fn block(&self, number: u64) -> Option<&Block> {
        self.blocks.get(usize::try_from(number).ok()?)
    }

    fn head_state(&self) -> &State {
        self.states.last().expect("a state per block")
    }

    /// `owner`'s balance of `token` at the head.
    pub(crate) fn balance(&self, owner: Address, token: Address) -> U256 {
        self.head_state()
            .balances
            .get(&(owner, token))
            .copied()
            .unwrap_or_default()
    }

    /// Locks at the head still open whose sender is `sender`.
    pub(crate) fn open_locks_of(&self, sender: Address) -> Vec<LockParams> {
        self.head_state()
            .slots
            .values()
            .filter(|(slot, params)| *slot == Slot::Locked && params.sender == sender)
            .map(|(_, params)| params.clone())
            .collect()
    }

    /// The block that holds the lock `sender` sent on this chain, if any is on the chain.
    pub(crate) fn lock_block_of(&self, sender: Address) -> Option<u64> {
        self.blocks.iter().find_map(|block| {
            block
                .events
                .iter()
                .any(|event| {
                    matches!(&event.event, HtlcEvent::Locked { params, .. } if params.sender == sender)
                })
                .then_some(block.number)
        })
    }

    /// The head's block number.
    pub(crate) fn height(&self) -> u64 {
        self.head().number
    }

    /// Every lock at the head, with its state.
    pub(crate) fn locks(&self) -> Vec<(Slot, LockParams)> {
        self.head_state().slots.values().cloned().collect()
    }

    /// The latest timelock of any lock on the chain (0 if none).
    pub(crate) fn latest_timelock(&self) -> u64 {
        self.head_state()
            .slots
            .values()
            .map(|(_, params)| params.timelock)
            .max()
            .unwrap_or(0)
    }

    /// Sends a transaction, mined by the first block from `include_at` on (`None`: it is
    /// dropped before any node holds it, and nobody ever sees it).
    pub(crate) fn submit(&mut self, from: Address, kind: TxKind, include_at: Option<u64>) {
        self.txs_sent += 1;
        let tx = Tx {
            hash: hash_of(&[self.chain_id, 1, self.txs_sent]),
            from,
            kind,
        };
        if let Some(include_at) = include_at {
            self.mempool.push(Pending { tx, include_at });
        }
    }

    /// Claims waiting in the mempool: the lock and the secret each reveals.
    pub(crate) fn pending_claims(&self) -> impl Iterator<Item = (&LockParams, B256)> {
        self.mempool
            .iter()
            .filter_map(|pending| match &pending.tx.kind {
                TxKind::Claim(params, secret) => Some((params, *secret)),
                _ => None,
            })
    }

    /// Whether a transaction is waiting.
    pub(crate) fn mempool_is_empty(&self) -> bool {
        self.mempool.is_empty()
    }

    /// Mines the blocks due at `now` (local ms).
    pub(crate) fn mine_due(&mut self, now: u64) {
        while self.next_block_at <= now {
            let at = self.next_block_at;
            self.next_block_at += self.block_ms;
            self.mine(at);
        }
    }

    fn mine(&mut self, at: u64) {
        let parent = self.head();
        let number = parent.number + 1;
        let timestamp = (at / 1000).max(parent.timestamp + 1);
        let hash = hash_of(&[self.chain_id, 2, number, self.forks]);
        let mut state = self.head_state().clone();
        let (due, waiting): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.mempool)
            .into_iter()
            .partition(|pending| pending.include_at <= at);
        self.mempool = waiting;
        let mut events = Vec::new();
        let mut txs = Vec::new();
        for pending in due {
            match self.execute(&mut state, &pending.tx, timestamp) {
                Some(event) => events.push(ChainEvent {
                    block_number: number,
                    block_hash: hash,
                    tx_hash: pending.tx.hash,
                    log_index: events.len() as u64,
                    event,
                }),
                None => self.reverts += 1,
            }
            txs.push(pending.tx);
        }
        self.blocks.push(Block {
            number,
            hash,
            timestamp,
            events,
            txs,
        });
        self.states.push(state);
    }

    /// The parameters as this chain's contract sees them: its own chain id and address.
    fn here(&self, params: &LockParams) -> LockParams {
        LockParams {
            chain_id: self.chain_id,
            contract: self.contract,
            ..params.clone()
        }
    }

    /// Runs one transaction against `state` as the contract would; `None` if it reverts.
    fn execute(&self, state: &mut State, tx: &Tx, timestamp: u64) -> Option<HtlcEvent> {
        match &tx.kind {
            TxKind::Lock(params) => {
                let params = LockParams {
                    sender: tx.from,
                    ..self.here(params)
                };
                let id = params.id().0;
                if params.amount.is_zero()
                    || params.recipient == Address::ZERO
                    || params.timelock <= timestamp
                    || state.slots.contains_key(&id)
                {
                    return None;
                }
                let from = state.balances.entry((tx.from, params.token)).or_default();
                if *from < params.amount {
                    return None;
                }
                *from -= params.amount;
                *state
                    .balances
                    .entry((self.contract, params.token))
                    .or_default() += params.amount;
                state.slots.insert(id, (Slot::Locked, params.clone()));
                Some(HtlcEvent::Locked {
                    id: dex_chain::LockId(id),
                    params,
                })
            }
            TxKind::Claim(params, secret) => {
                // The id is recomputed from the calldata, on this chain and contract.
                let params = self.here(params);
                let id = params.id().0;
                let (slot, _) = state.slots.get(&id)?;
                if *slot != Slot::Locked
                    || timestamp >= params.timelock
                    || dex_swap::Secret(*secret).hashlock() != params.hashlock
                {
                    return None;
                }
                self.pay(state, &params, params.recipient);
                state.slots.insert(id, (Slot::Claimed, params));
                Some(HtlcEvent::Claimed {
                    id: dex_chain::LockId(id),
                    secret: dex_chain::Secret::from_bytes(*secret),
                })
            }
            TxKind::Refund(params) => {
                let params = self.here(params);
                let id = params.id().0;
                let (slot, _) = state.slots.get(&id)?;
                if *slot != Slot::Locked || tx.from != params.sender || timestamp < params.timelock
                {
                    return None;
                }
                self.pay(state, &params, params.sender);
                state.slots.insert(id, (Slot::Refunded, params));
                Some(HtlcEvent::Refunded {
                    id: dex_chain::LockId(id),
                })
            }
        }
    }

    fn pay(&self, state: &mut State, params: &LockParams, to: Address) {
        let held = state
            .balances
            .entry((self.contract, params.token))
            .or_default();
        *held -= params.amount;
        *state.balances.entry((to, params.token)).or_default() += params.amount;
    }

    /// Replaces the last `depth` blocks (never the genesis) with empty blocks of the same
    /// times: their transactions go back to the mempool, included from `now` on, when
    /// `keep` is set, and vanish otherwise.
    pub(crate) fn reorg(&mut self, depth: u64, keep: bool, now: u64) {
        let depth = usize::try_from(depth)
            .unwrap_or(usize::MAX)
            .min(self.blocks.len() - 1);
        if depth == 0 {
            return;
        }
        self.forks += 1;
        let keep_from = self.blocks.len() - depth;
        let removed: Vec<Block> = self.blocks.drain(keep_from..).collect();
        self.states.truncate(keep_from);
        let mut returned = Vec::new();
        for block in &removed {
            returned.extend(block.txs.iter().cloned());
        }
        if keep {
            // Ahead of what waits: they were sent first.
            let mut mempool: Vec<Pending> = returned
                .into_iter()
                .map(|tx| Pending {
                    tx,
                    include_at: now,
                })
                .collect();
            mempool.append(&mut self.mempool);
            self.mempool = mempool;
        }
        for block in removed {
            let state = self.head_state().clone();
            self.blocks.push(Block {
                number: block.number,
                hash: hash_of(&[self.chain_id, 2, block.number, self.forks]),
                timestamp: block.timestamp,
                events: Vec::new(),
                txs: Vec::new(),
            });
            self.states.push(state);
        }
    }
}

/// A node's view of one chain, read like `dex_chain`'s scanner: blocks with
/// `confirmations` behind the head, every event once, a rewind (a batch with `reorg` and
/// nothing else) when blocks it read were replaced.
#[derive(Debug, Clone)]
pub(crate) struct Scanner {
    confirmations: u64,
    next_block: u64,
    /// The blocks read (the last 24): number → the first 8 bytes of its hash, enough to
    /// tell a replaced block here and cheap to store in the cursor every batch.
    read: BTreeMap<u64, u64>,
    /// What the last batch handed out reported (last block, head): a poll that would
    /// report the same again is skipped (it changes nothing in the node but log rows).
    reported: Option<(Option<u64>, u64)>,
}

impl Scanner {
    pub(crate) fn new(confirmations: u64) -> Scanner {
        Scanner {
            confirmations: confirmations.max(1),
            next_block: 0,
            read: BTreeMap::new(),
            reported: None,
        }
    }

    /// The scanner resumed from a stored cursor (see [`Scanner::cursor`]).
    pub(crate) fn from_cursor(confirmations: u64, cursor: Option<&str>) -> Scanner {
        let mut scanner = Scanner::new(confirmations);
        if let Some(json) = cursor
            && let Ok((next_block, read)) = serde_json::from_str::<(u64, Vec<(u64, u64)>)>(json)
        {
            scanner.next_block = next_block;
            scanner.read = read.into_iter().collect();
        }
        scanner
    }

    fn cursor(&self) -> (u64, String) {
        let read: Vec<(u64, u64)> = self.read.iter().map(|(n, h)| (*n, *h)).collect();
        let json = serde_json::to_string(&(self.next_block, read)).expect("plain values");
        (self.next_block, json)
    }

    /// One poll: the batch to hand the node, if it would tell it anything new.
    pub(crate) fn poll(&mut self, chain: &SimChain) -> Option<ChainBatch> {
        if let Some((&number, &hash)) = self.read.last_key_value()
            && chain.block(number).map(Block::short_hash) != Some(hash)
        {
            // Rewind to the newest block read that the chain still has.
            let still = self
                .read
                .iter()
                .rev()
                .find(|(n, h)| chain.block(**n).map(Block::short_hash) == Some(**h))
                .map(|(n, _)| *n);
            let first_changed = still.map_or(0, |n| n + 1);
            self.read.retain(|n, _| *n < first_changed);
            self.next_block = first_changed;
            self.reported = None;
            return Some(ChainBatch {
                events: Vec::new(),
                last_block: still.and_then(|n| chain.block(n)).map(Block::block_ref),
                head: None,
                reorg: Some(first_changed),
                cursor: Some(self.cursor()),
            });
        }
        let head = chain.head();
        let newest = head.number.checked_sub(self.confirmations - 1);
        let mut events = Vec::new();
        if let Some(newest) = newest
            && newest >= self.next_block
        {
            for number in self.next_block..=newest {
                let block = chain.block(number).expect("below the head");
                events.extend(block.events.iter().cloned());
                self.read.insert(number, block.short_hash());
            }
            self.next_block = newest + 1;
            while self.read.len() > 24 {
                self.read.pop_first();
            }
        }
        let last = self.next_block.checked_sub(1);
        let report = (last, head.number);
        if events.is_empty() && self.reported == Some(report) {
            return None;
        }
        self.reported = Some(report);
        Some(ChainBatch {
            events,
            last_block: last.and_then(|n| chain.block(n)).map(Block::block_ref),
            head: Some(head.block_ref()),
            reorg: None,
            cursor: Some(self.cursor()),
        })
    }
}
