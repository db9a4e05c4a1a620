//! A min-queue of `(time, order id)` entries for the book's expiries and tombstones.
//!
//! Entries nearly always arrive in time order (orders expire a fixed lifetime after they are
//! made, and cancels and fills follow the clock), so the queue keeps a `VecDeque` of entries
//! pushed in nondecreasing time, to which a push appends and from whose front a pop takes,
//! and a binary heap only for entries that arrive earlier than the latest one queued. A
//! push in order touches the deque's tail alone, where a heap push always reads the parent
//! entry, a cache line half the heap away.

use std::{
    cmp::{Ordering, Reverse},
    collections::{BinaryHeap, VecDeque},
};

use dex_primitives::{OrderId, UnixMillis};

/// An entry: `id` is due at `at`. Ordered by time alone, so pushing the many entries that
/// share a time costs no comparison of ids; the book sorts entries due together by id
/// before it acts on them, so the order of events stays deterministic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Due {
    pub(crate) at: UnixMillis,
    pub(crate) id: OrderId,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.cmp(&other.at)
    }
}

/// The min-queue: the earliest entry first (ties in any order).
#[derive(Debug, Default)]
pub(crate) struct DueQueue {
    /// Entries in nondecreasing time.
    sorted: VecDeque<Due>,
    /// Entries that arrived earlier than the latest of `sorted` at the time.
    heap: BinaryHeap<Reverse<Due>>,
}

impl DueQueue {
    /// An empty queue with room for `entries` in-order entries.
    pub(crate) fn with_capacity(entries: usize) -> DueQueue {
        DueQueue {
            sorted: VecDeque::with_capacity(entries),
            heap: BinaryHeap::new(),
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.sorted.len() + self.heap.len()
    }

    #[inline]
    pub(crate) fn push(&mut self, due: Due) {
        match self.sorted.back() {
            Some(last) if last.at > due.at => self.heap.push(Reverse(due)),
            _ => self.sorted.push_back(due),
        }
    }

    /// The earliest entry.
    #[inline]
    pub(crate) fn peek(&self) -> Option<Due> {
        match (self.sorted.front(), self.heap.peek()) {
            (Some(sorted), Some(Reverse(heap))) => {
                Some(if heap.at < sorted.at { *heap } else { *sorted })
            }
            (Some(sorted), None) => Some(*sorted),
            (None, Some(Reverse(heap))) => Some(*heap),
            (None, None) => None,
        }
    }

    /// Removes and returns the earliest entry.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Due> {
        let from_heap = match (self.sorted.front(), self.heap.peek()) {
            (Some(sorted), Some(Reverse(heap))) => heap.at < sorted.at,
            (None, Some(_)) => true,
            _ => false,
        };
        if from_heap {
            self.heap.pop().map(|Reverse(due)| due)
        } else {
            self.sorted.pop_front()
        }
    }

    /// Removes and returns the earliest entry if it is due at or before `time`.
    #[inline]
    pub(crate) fn pop_due(&mut self, time: UnixMillis) -> Option<Due> {
        match self.peek() {
            Some(due) if due.at <= time => self.pop(),
            _ => None,
        }
    }

    /// Keeps the entries for which `keep` is true (each visited once, earliest first
    /// within each part).
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Due) -> bool) {
        self.sorted.retain(&mut keep);
        self.heap.retain(|Reverse(due)| keep(due));
    }

    pub(crate) fn clear(&mut self) {
        self.sorted.clear();
        self.heap.clear();
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.sorted.shrink_to_fit();
        self.heap.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> OrderId {
        OrderId([byte; 32].into())
    }

    #[test]
    fn pops_in_time_order_whatever_the_push_order() {
        let mut queue = DueQueue::default();
        let times = [5, 5, 7, 3, 9, 1, 7, 8, 2, 10, 4];
        for (number, at) in times.iter().enumerate() {
            queue.push(Due {
                at: *at,
                id: id(number as u8),
            });
        }
        assert_eq!(queue.len(), times.len());
        assert_eq!(queue.pop_due(0).map(|due| due.at), None);
        let mut popped = Vec::new();
        while let Some(due) = queue.pop() {
            popped.push(due.at);
        }
        let mut expected = times.to_vec();
        expected.sort_unstable();
        assert_eq!(popped, expected);
    }

    #[test]
    fn retain_keeps_both_parts_ordered() {
        let mut queue = DueQueue::with_capacity(4);
        for at in [4, 6, 2, 8, 1, 9] {
            queue.push(Due {
                at,
                id: id(at as u8),
            });
        }
        queue.retain(|due| due.at % 2 == 0);
        let mut popped = Vec::new();
        while let Some(due) = queue.pop_due(100) {
            popped.push(due.at);
        }
        assert_eq!(popped, vec![2, 4, 6, 8]);
    }

    proptest::proptest! {
        /// Whatever the pushes, pops and retains, the queue pops what a sorted list would.
        #[test]
        fn agrees_with_a_sorted_list(
            ops in proptest::collection::vec((0u8..4, 0u64..50), 0..300),
        ) {
            let mut queue = DueQueue::default();
            let mut model: Vec<u64> = Vec::new();
            for (number, (kind, at)) in ops.into_iter().enumerate() {
                match kind {
                    0 | 1 => {
                        queue.push(Due { at, id: id(number as u8) });
                        model.push(at);
                    }
                    2 => {
                        model.sort_unstable();
                        let expected = (!model.is_empty() && model[0] <= at).then(|| model.remove(0));
                        proptest::prop_assert_eq!(queue.pop_due(at).map(|due| due.at), expected);
                    }
                    _ => {
                        queue.retain(|due| due.at % 3 != at % 3);
                        model.retain(|time| time % 3 != at % 3);
                    }
                }
                proptest::prop_assert_eq!(queue.len(), model.len());
                proptest::prop_assert_eq!(queue.peek().map(|due| due.at), model.iter().min().copied());
            }
        }
    }
}
