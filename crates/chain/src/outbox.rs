//! The client's own transactions in flight, by nonce: which nonce a new transaction takes,
//! which sent transactions are not mined yet and when each is due to be re-sent with higher
//! fees, and every version (hash) of each, so that a mined replacement is recognised.
//!
//! Pure bookkeeping: the client does the I/O (estimating, signing, broadcasting) and tells
//! the outbox what happened. One client per key per process: nonces are chosen from the
//! node's pending count and this record, so a second sender with the same key (another
//! process, another client) can take the same nonces, and its transactions would replace
//! or be replaced by this one's.

use std::collections::BTreeMap;

use alloy_primitives::B256;
use alloy_rpc_types_eth::TransactionRequest;
use tokio::time::{Duration, Instant};

/// Nodes (geth, reth, Nethermind, Erigon) accept a replacement at the same nonce only if
/// both its max fee and its priority fee are at least 10% above the pending version's.
pub(crate) const MIN_FEE_BUMP_PERCENT: u64 = 10;

/// How many mined nonces keep their hashes for lookups (bounded memory).
const SETTLED_KEPT: usize = 256;

/// The EIP-1559 fee fields of a transaction, in wei per gas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fees {
    /// `maxFeePerGas`.
    pub(crate) max_fee: u128,
    /// `maxPriorityFeePerGas`.
    pub(crate) tip: u128,
}

impl Fees {
    /// These fees with the max fee held to `cap` wei per gas, and the tip to the max fee.
    pub(crate) fn capped(self, cap: u128) -> Fees {
        let max_fee = self.max_fee.min(cap);
        Fees {
            max_fee,
            tip: self.tip.min(max_fee),
        }
    }
}

/// The fees of the next version of a transaction sent with `previous`: both fields raised by
/// `percent` (at least [`MIN_FEE_BUMP_PERCENT`], rounded up, at least 1 wei) and never below
/// the current market `estimate`, with the max fee covering the tip.
pub(crate) fn bumped(previous: Fees, estimate: Fees, percent: u64) -> Fees {
    let factor = 100 + u128::from(percent.max(MIN_FEE_BUMP_PERCENT));
    let raise = |fee: u128| {
        fee.saturating_mul(factor)
            .div_ceil(100)
            .max(fee.saturating_add(1))
    };
    let tip = raise(previous.tip).max(estimate.tip);
    let max_fee = raise(previous.max_fee).max(estimate.max_fee).max(tip);
    Fees { max_fee, tip }
}

/// One transaction sent and not yet seen mined.
#[derive(Debug)]
struct Pending {
    /// Fully specified (from, to, input, value, nonce, gas, chain id); fees are `fees`.
    request: TransactionRequest,
    /// What it does, for logs.
    what: String,
    /// Every version sent, oldest first.
    hashes: Vec<B256>,
    /// The fees of the newest version (or of a refused attempt above it).
    fees: Fees,
    /// When a version was last sent (or a re-send attempted).
    last_sent: Instant,
}

/// A transaction due for a re-send: the request to re-sign with higher fees.
#[derive(Debug)]
pub(crate) struct Due {
    pub(crate) nonce: u64,
    pub(crate) request: TransactionRequest,
    pub(crate) fees: Fees,
    pub(crate) what: String,
}

/// The record itself; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    pending: BTreeMap<u64, Pending>,
    /// Hashes of recently mined nonces (the outcome of a waiter that checks late).
    settled: BTreeMap<u64, Vec<B256>>,
}

impl Outbox {
    /// The nonce for a new transaction: after everything the node has pending and
    /// everything this client still tracks (the node may have dropped some of those; they
    /// are re-sent at their own nonces).
    pub(crate) fn next_nonce(&self, node_pending_nonce: u64) -> u64 {
        let after_tracked = self
            .pending
            .last_key_value()
            .map_or(0, |(nonce, _)| nonce + 1);
        node_pending_nonce.max(after_tracked)
    }

    /// Records a transaction just sent (or adopted after a restart) with its versions.
    pub(crate) fn track(
        &mut self,
        nonce: u64,
        request: TransactionRequest,
        what: &str,
        hashes: Vec<B256>,
        fees: Fees,
        now: Instant,
    ) {
        self.settled.remove(&nonce);
        self.pending.insert(
            nonce,
            Pending {
                request,
                what: what.to_owned(),
                hashes,
                fees,
                last_sent: now,
            },
        );
    }

    /// Whether `nonce` is tracked, pending or recently mined.
    pub(crate) fn knows(&self, nonce: u64) -> bool {
        self.pending.contains_key(&nonce) || self.settled.contains_key(&nonce)
    }

    /// Whether `nonce` is tracked and not known to be mined.
    pub(crate) fn is_pending(&self, nonce: u64) -> bool {
        self.pending.contains_key(&nonce)
    }

    /// Every version sent at `nonce`, oldest first, if tracked.
    pub(crate) fn hashes(&self, nonce: u64) -> Option<&[B256]> {
        self.pending
            .get(&nonce)
            .map(|pending| pending.hashes.as_slice())
            .or_else(|| self.settled.get(&nonce).map(Vec::as_slice))
    }

    /// Marks every nonce below `mined_nonce` (the account's nonce at the latest block) as
    /// mined: nothing is re-sent at those any more.
    pub(crate) fn settle_below(&mut self, mined_nonce: u64) {
        let still_pending = self.pending.split_off(&mined_nonce);
        let mined = std::mem::replace(&mut self.pending, still_pending);
        for (nonce, pending) in mined {
            self.settled.insert(nonce, pending.hashes);
        }
        self.trim_settled();
    }

    /// Stops tracking `nonce` (its outcome is known), keeping its hashes for lookups.
    pub(crate) fn finish(&mut self, nonce: u64) {
        if let Some(pending) = self.pending.remove(&nonce) {
            self.settled.insert(nonce, pending.hashes);
        }
        self.trim_settled();
    }

    /// Keeps the hashes of the [`SETTLED_KEPT`] newest mined nonces only.
    fn trim_settled(&mut self) {
        while self.settled.len() > SETTLED_KEPT {
            self.settled.pop_first();
        }
    }

    /// The transactions at or below `up_to` not re-sent for `interval`, marked as re-sent
    /// now so that concurrent waiters do not bump the same one twice.
    pub(crate) fn take_due(&mut self, up_to: u64, now: Instant, interval: Duration) -> Vec<Due> {
        self.pending
            .range_mut(..=up_to)
            .filter(|(_, pending)| now.saturating_duration_since(pending.last_sent) >= interval)
            .map(|(&nonce, pending)| {
                pending.last_sent = now;
                Due {
                    nonce,
                    request: pending.request.clone(),
                    fees: pending.fees,
                    what: pending.what.clone(),
                }
            })
            .collect()
    }

    /// A new version of `nonce` was sent with `fees`.
    pub(crate) fn record_version(&mut self, nonce: u64, hash: B256, fees: Fees) {
        if let Some(pending) = self.pending.get_mut(&nonce) {
            pending.hashes.push(hash);
            pending.fees = fees;
        }
    }

    /// A re-send with `fees` was refused as underpriced (the pending version pays more than
    /// this record knew): the next bump starts from these fees.
    pub(crate) fn record_refused_fees(&mut self, nonce: u64, fees: Fees) {
        if let Some(pending) = self.pending.get_mut(&nonce) {
            pending.fees = fees;
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::Address;

    use super::*;

    fn fees(max_fee: u128, tip: u128) -> Fees {
        Fees { max_fee, tip }
    }

    #[test]
    fn a_bump_raises_both_fees_by_at_least_ten_percent() {
        let previous = fees(30_000_000_000, 1_000_000_000);
        let low = fees(1, 1);
        // 20%: both fields.
        assert_eq!(
            bumped(previous, low, 20),
            fees(36_000_000_000, 1_200_000_000)
        );
        // Below the nodes' minimum counts as the minimum.
        for percent in [0, 5, 10] {
            assert_eq!(
                bumped(previous, low, percent),
                fees(33_000_000_000, 1_100_000_000)
            );
        }
        // Rounded up, and tiny fees still move (geth compares with integer arithmetic).
        assert_eq!(bumped(fees(101, 1), low, 10), fees(112, 2));
        assert_eq!(bumped(fees(0, 0), fees(0, 0), 10), fees(1, 1));
        // The cap holds the max fee, and the tip under it.
        assert_eq!(bumped(fees(101, 1), low, 10).capped(110), fees(110, 2));
        assert_eq!(fees(500, 400).capped(300), fees(300, 300));
        assert_eq!(fees(500, 400).capped(u128::MAX), fees(500, 400));
        // No overflow at the top.
        assert_eq!(
            bumped(fees(u128::MAX, u128::MAX), low, 10),
            fees(u128::MAX, u128::MAX)
        );
    }

    #[test]
    fn a_bump_follows_the_market_when_it_moved_more() {
        let previous = fees(2_000, 100);
        let market = fees(50_000, 5_000);
        assert_eq!(bumped(previous, market, 20), market);
        // The max fee always covers the tip.
        let tip_heavy = bumped(fees(100, 90), fees(0, 1_000), 10);
        assert_eq!(tip_heavy, fees(1_000, 1_000));
        // Property over a grid: both at least +10% (rounded up), both at least the estimate.
        for max_fee in [1u128, 7, 100, 12_345, 10u128.pow(12)] {
            for tip in [0u128, 1, 3, 999, 10u128.pow(10)] {
                let previous = fees(max_fee.max(tip), tip);
                for estimate in [fees(0, 0), fees(10u128.pow(11), 10u128.pow(9))] {
                    let next = bumped(previous, estimate, 10);
                    assert!(next.tip * 10 >= previous.tip * 11, "{previous:?} {next:?}");
                    assert!(
                        next.max_fee * 10 >= previous.max_fee * 11,
                        "{previous:?} {next:?}"
                    );
                    assert!(next.tip > previous.tip && next.max_fee > previous.max_fee);
                    assert!(next.tip >= estimate.tip && next.max_fee >= estimate.max_fee);
                    assert!(next.max_fee >= next.tip);
                }
            }
        }
    }

    fn request(nonce: u64) -> TransactionRequest {
        TransactionRequest::default()
            .from(Address::repeat_byte(1))
            .to(Address::repeat_byte(2))
            .nonce(nonce)
    }

    #[test]
    fn nonces_follow_the_node_and_what_is_tracked() {
        let mut outbox = Outbox::default();
        let now = Instant::now();
        assert_eq!(outbox.next_nonce(5), 5);
        outbox.track(
            5,
            request(5),
            "a",
            vec![B256::repeat_byte(5)],
            fees(2, 1),
            now,
        );
        // The node dropped nonce 5 (its pending count fell back): 5 is still ours.
        assert_eq!(outbox.next_nonce(5), 6);
        assert_eq!(outbox.next_nonce(9), 9);
        outbox.track(
            6,
            request(6),
            "b",
            vec![B256::repeat_byte(6)],
            fees(2, 1),
            now,
        );

        // Nonce 5 was mined: it keeps its hashes for lookups, and is no longer re-sent.
        outbox.settle_below(6);
        assert!(outbox.knows(5) && !outbox.is_pending(5));
        assert_eq!(outbox.hashes(5), Some(&[B256::repeat_byte(5)][..]));
        assert!(outbox.is_pending(6));
        assert_eq!(outbox.next_nonce(6), 7);
        outbox.finish(6);
        assert_eq!(outbox.next_nonce(7), 7);
        assert!(outbox.knows(6) && !outbox.knows(7));
    }

    #[test]
    fn each_due_transaction_is_handed_out_once_per_interval() {
        let mut outbox = Outbox::default();
        let start = Instant::now();
        let interval = Duration::from_secs(30);
        for nonce in [3, 4, 5] {
            outbox.track(
                nonce,
                request(nonce),
                "t",
                vec![B256::repeat_byte(nonce as u8)],
                fees(10, 1),
                start,
            );
        }
        assert!(outbox.take_due(5, start, interval).is_empty());
        let later = start + interval;
        // A waiter on nonce 4 keeps 3 and 4 moving, not 5 (which cannot be mined first).
        let due: Vec<u64> = outbox
            .take_due(4, later, interval)
            .iter()
            .map(|due| due.nonce)
            .collect();
        assert_eq!(due, vec![3, 4]);
        // Another waiter right after gets only what the first did not take.
        let due: Vec<u64> = outbox
            .take_due(5, later, interval)
            .iter()
            .map(|due| due.nonce)
            .collect();
        assert_eq!(due, vec![5]);

        outbox.record_version(3, B256::repeat_byte(33), fees(12, 2));
        assert_eq!(
            outbox.hashes(3),
            Some(&[B256::repeat_byte(3), B256::repeat_byte(33)][..])
        );
        outbox.record_refused_fees(4, fees(50, 5));
        let due = outbox.take_due(4, later + interval, interval);
        assert_eq!(due[0].fees, fees(12, 2));
        assert_eq!(due[1].fees, fees(50, 5));
    }

    #[test]
    fn settled_hashes_are_bounded() {
        let mut outbox = Outbox::default();
        let now = Instant::now();
        for nonce in 0..(SETTLED_KEPT as u64 + 10) {
            outbox.track(
                nonce,
                request(nonce),
                "t",
                vec![B256::ZERO],
                fees(1, 1),
                now,
            );
            outbox.finish(nonce);
        }
        assert_eq!(outbox.settled.len(), SETTLED_KEPT);
        assert!(!outbox.knows(0) && outbox.knows(SETTLED_KEPT as u64 + 9));
    }
}
