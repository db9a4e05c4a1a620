//! One side of the book: price levels kept in a slab (a level keeps its id while it exists,
//! so an order finds its level in O(1)), ordered by a sorted `Vec` of prices, best price
//! last, each level holding its orders' slots in a `Vec` in price-time priority.
//!
//! Contiguous vectors beat trees and linked lists here: the levels are few (orders cluster
//! near the mid) and nearly all activity is at the top, which is the end of the vector, so
//! inserting or removing a level moves few bytes; a level's queue is a short run of `u32`s,
//! so appending, finding and removing an order touch one or two cache lines instead of the
//! neighbouring orders. An order records its level's id, so a cancel, fill or reservation
//! goes straight to it; an insert finds its level in a window of ticks around the best
//! price, indexed directly (one load, where a search of a hundred levels is a chain of
//! seven), and searches the sorted prices only to create a level or outside the window.
//! Emptied levels keep their queue for reuse, so steady operation does not allocate.

use dex_primitives::Side;

/// Most emptied levels per side that keep their queue's capacity for reuse.
const SPARE_QUEUES: usize = 256;
/// Largest capacity of a queue kept for reuse.
const SPARE_QUEUE_CAPACITY: usize = 256;
/// Ticks covered by the direct index of levels (16 KiB of ids per side).
const WINDOW: usize = 4096;

/// One price level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Level {
    /// Price in ticks.
    pub(crate) price: u64,
    /// Sum of the orders' available (remaining minus reserved) quantities.
    pub(crate) available: u64,
    /// At least the latest `createdAt` in the level (not lowered on removal): a new order
    /// created after it goes last without reading any other order.
    pub(crate) newest: u64,
    /// The orders' slots, highest priority first.
    pub(crate) orders: Vec<u32>,
}

/// The levels of one side.
#[derive(Debug, Clone)]
pub(crate) struct Ladder {
    side: Side,
    /// Every level ever made and not dropped, live or free, addressed by id.
    levels: Vec<Level>,
    /// Ids of the free entries of `levels`, whose queues are empty.
    free: Vec<u32>,
    /// Free entries whose queue still holds its capacity.
    spare: usize,
    /// Live levels' ids, worst price first, best price last.
    ids: Vec<u32>,
    /// The live levels' prices, in the same order as `ids`: the search reads this dense
    /// copy (eight prices a cache line) instead of striding through the levels.
    prices: Vec<u64>,
    /// Level id + 1 of the live level at each price from `window_base` on, 0 for none:
    /// every live level priced in the window is here. Empty until the first level.
    window: Vec<u32>,
    /// The price of `window[0]`.
    window_base: u64,
}

impl Ladder {
    pub(crate) fn new(side: Side) -> Self {
        Ladder {
            side,
            levels: Vec::new(),
            free: Vec::new(),
            spare: 0,
            ids: Vec::new(),
            prices: Vec::new(),
            window: Vec::new(),
            window_base: 0,
        }
    }

    /// Where `price` is in the window, if it is.
    #[inline]
    fn window_index(&self, price: u64) -> Option<usize> {
        let offset = price.wrapping_sub(self.window_base);
        (offset < self.window.len() as u64).then_some(offset as usize)
    }

    /// Centres the window on `price` and indexes the live levels that fall in it. Called
    /// when a new best level is outside the window, so it follows the market; a rebuild
    /// costs a pass over the window and the levels.
    #[cold]
    fn recentre(&mut self, price: u64) {
        self.window.clear();
        self.window.resize(WINDOW, 0);
        // Offsets are taken modulo 2^64, so a window near either end of the range wraps
        // around; each price still has its own offset.
        self.window_base = price.saturating_sub(WINDOW as u64 / 2);
        for (position, &id) in self.ids.iter().enumerate() {
            if let Some(index) = self.window_index(self.prices[position]) {
                self.window[index] = id + 1;
            }
        }
    }

    /// The position (in `ids`) of the level at `price`, or where it would be inserted.
    #[inline]
    pub(crate) fn find(&self, price: u64) -> Result<usize, usize> {
        let prices = &self.prices;
        let Some(&best) = prices.last() else {
            return Err(0);
        };
        // Most activity is at the top of the book: try it before searching.
        if best == price {
            return Ok(prices.len() - 1);
        }
        // Ranks are prices for bids and inverted prices for asks (`!price == price ^ MAX`).
        let flip = match self.side {
            Side::Buy => 0,
            Side::Sell => u64::MAX,
        };
        let rank = price ^ flip;
        // Branch-free lower bound: the comparisons depend on prices the caller does not
        // control the order of, so a data-dependent branch would mispredict half the time
        // (measured: three mispredictions per search with `binary_search_by`).
        let mut base = 0;
        let mut size = prices.len();
        while size > 1 {
            let half = size / 2;
            let below = (prices[base + half] ^ flip) < rank;
            base = std::hint::select_unpredictable(below, base + half, base);
            size -= half;
        }
        // `base` is now the last level ranked below `price`, or 0: step to the first level
        // ranked at or above it.
        let first = base + usize::from((prices[base] ^ flip) < rank);
        match prices.get(first) {
            Some(&found) if found == price => Ok(first),
            _ => Err(first),
        }
    }

    /// The id of the level at `price`, created empty if missing.
    #[inline]
    pub(crate) fn find_or_insert(&mut self, price: u64) -> u32 {
        let in_window = self.window_index(price);
        if let Some(index) = in_window {
            match self.window[index] {
                0 => {}
                id => return id - 1,
            }
        }
        self.find_or_insert_slow(price, in_window)
    }

    #[inline(never)]
    fn find_or_insert_slow(&mut self, price: u64, in_window: Option<usize>) -> u32 {
        match self.find(price) {
            Ok(position) => self.ids[position],
            Err(position) => {
                let id = match self.free.pop() {
                    Some(id) => {
                        let level = &mut self.levels[id as usize];
                        if level.orders.capacity() > 0 {
                            self.spare -= 1;
                        }
                        level.price = price;
                        level.available = 0;
                        level.newest = 0;
                        id
                    }
                    None => {
                        self.levels.push(Level {
                            price,
                            available: 0,
                            newest: 0,
                            orders: Vec::new(),
                        });
                        u32::try_from(self.levels.len() - 1).expect("fewer than 2^32 levels")
                    }
                };
                self.prices.insert(position, price);
                self.ids.insert(position, id);
                match in_window {
                    Some(index) => self.window[index] = id + 1,
                    // A new best level outside the window: move the window to it.
                    None if position + 1 == self.ids.len() => self.recentre(price),
                    None => {}
                }
                id
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn level(&self, id: u32) -> &Level {
        &self.levels[id as usize]
    }

    /// The live levels as (id, price), worst first.
    #[cfg(test)]
    pub(crate) fn live(&self) -> Vec<(u32, u64)> {
        assert_eq!(self.ids.len(), self.prices.len());
        self.ids
            .iter()
            .copied()
            .zip(self.prices.iter().copied())
            .collect()
    }

    /// Checks that the window indexes exactly the live levels priced in it.
    #[cfg(test)]
    pub(crate) fn check_window(&self, live: &[(u32, u64)]) {
        let mut expected = vec![0u32; self.window.len()];
        for (id, price) in live {
            assert_eq!(self.levels[*id as usize].price, *price);
            assert!(!self.free.contains(id), "a live level is not free");
            if let Some(index) = self.window_index(*price) {
                expected[index] = id + 1;
            }
        }
        assert_eq!(
            self.window, expected,
            "the window indexes the live levels in it"
        );
    }

    #[inline]
    pub(crate) fn level_mut(&mut self, id: u32) -> &mut Level {
        &mut self.levels[id as usize]
    }

    /// Drops an emptied level, keeping its queue's capacity for reuse unless enough are
    /// kept or it grew large (reused queues must not hold the memory of every level that
    /// ever was).
    #[inline]
    pub(crate) fn remove(&mut self, id: u32) {
        let position = self
            .find(self.levels[id as usize].price)
            .expect("a live level is in the price index");
        let price = self.prices.remove(position);
        self.ids.remove(position);
        if let Some(index) = self.window_index(price) {
            self.window[index] = 0;
        }
        let level = &mut self.levels[id as usize];
        debug_assert!(level.orders.is_empty());
        if self.spare < SPARE_QUEUES && level.orders.capacity() <= SPARE_QUEUE_CAPACITY {
            if level.orders.capacity() > 0 {
                self.spare += 1;
            }
        } else {
            level.orders = Vec::new();
        }
        self.free.push(id);
    }

    /// Emptied levels whose queue is kept for reuse.
    pub(crate) fn spare_queues(&self) -> usize {
        self.spare
    }

    /// Levels best first.
    #[inline]
    pub(crate) fn best_first(&self) -> impl Iterator<Item = &Level> + '_ {
        self.ids.iter().rev().map(|id| &self.levels[*id as usize])
    }

    /// Levels worst first.
    #[inline]
    pub(crate) fn worst_first(&self) -> impl Iterator<Item = &Level> + '_ {
        self.ids.iter().map(|id| &self.levels[*id as usize])
    }

    /// The best level, whatever its available quantity.
    #[inline]
    pub(crate) fn best(&self) -> Option<&Level> {
        self.ids.last().map(|id| &self.levels[*id as usize])
    }

    /// True when an order of the other side at `other_price` crosses this side's level at
    /// `level_price`.
    #[inline]
    pub(crate) fn crosses(&self, level_price: u64, other_price: u64) -> bool {
        match self.side {
            // Bids cross an ask priced at or below them.
            Side::Buy => level_price >= other_price,
            // Asks cross a bid priced at or above them.
            Side::Sell => level_price <= other_price,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_kept_best_last_on_both_sides() {
        let mut bids = Ladder::new(Side::Buy);
        let mut asks = Ladder::new(Side::Sell);
        for price in [5, 1, 9, 3, 7] {
            bids.find_or_insert(price);
            asks.find_or_insert(price);
        }
        let bid_prices: Vec<u64> = bids.best_first().map(|level| level.price).collect();
        let ask_prices: Vec<u64> = asks.best_first().map(|level| level.price).collect();
        assert_eq!(bid_prices, vec![9, 7, 5, 3, 1]);
        assert_eq!(ask_prices, vec![1, 3, 5, 7, 9]);
        assert_eq!(bids.find(5), Ok(2));
        assert_eq!(bids.find(0), Err(0));
        assert_eq!(bids.find(10), Err(5));
        assert_eq!(asks.find(4), Err(3));
        assert_eq!(asks.find(10), Err(0));
        assert_eq!(asks.find(0), Err(5));
        for price in [1, 3, 5, 7, 9] {
            let (bid, ask) = (bids.find_or_insert(price), asks.find_or_insert(price));
            assert_eq!(bids.level(bid).price, price);
            assert_eq!(asks.level(ask).price, price);
        }
        // An emptied level leaves the order and its id is reused.
        let five = bids.find_or_insert(5);
        bids.remove(five);
        assert_eq!(bids.find(5), Err(2));
        assert_eq!(bids.find_or_insert(6), five);
        assert_eq!(bids.level(five).price, 6);
        let bid_prices: Vec<u64> = bids.best_first().map(|level| level.price).collect();
        assert_eq!(bid_prices, vec![9, 7, 6, 3, 1]);
        assert!(bids.crosses(5, 5) && !bids.crosses(4, 5));
        assert!(asks.crosses(5, 5) && !asks.crosses(6, 5));
    }

    #[test]
    fn find_agrees_with_a_plain_search_for_every_size() {
        for count in 0..20u64 {
            let mut bids = Ladder::new(Side::Buy);
            for price in 0..count {
                bids.find_or_insert(price * 2 + 1);
            }
            for price in 0..count * 2 + 3 {
                let expected = bids.prices.binary_search(&price);
                assert_eq!(bids.find(price), expected, "count {count} price {price}");
            }
        }
    }

    #[test]
    fn the_window_follows_the_best_price_and_agrees_with_the_search() {
        use std::collections::BTreeMap;
        for side in [Side::Buy, Side::Sell] {
            let mut ladder = Ladder::new(side);
            let mut model: BTreeMap<u64, u32> = BTreeMap::new();
            let mut state = 0x2545_f491_4f6c_dd1d_u64;
            for step in 0..20_000u64 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Prices drift over a range far wider than the window, with jumps.
                let centre = 1_000_000 + (step / 50) * 97 % 40_000;
                let price = centre + state % 6_000 - 3_000;
                if state.is_multiple_of(3) {
                    if let Some(&id) = model.get(&price) {
                        ladder.remove(id);
                        model.remove(&price);
                    }
                } else {
                    let id = ladder.find_or_insert(price);
                    assert_eq!(*model.entry(price).or_insert(id), id, "step {step}");
                    assert_eq!(ladder.level(id).price, price);
                }
            }
            let best_first: Vec<u64> = ladder.best_first().map(|level| level.price).collect();
            let mut expected: Vec<u64> = model.keys().copied().collect();
            if side == Side::Buy {
                expected.reverse();
            }
            assert_eq!(best_first, expected);
            for (price, id) in &model {
                assert_eq!(ladder.find_or_insert(*price), *id);
            }
        }
    }

    #[test]
    fn prices_at_the_ends_of_the_range_do_not_alias() {
        for side in [Side::Buy, Side::Sell] {
            let mut ladder = Ladder::new(side);
            let high = ladder.find_or_insert(u64::MAX - 3);
            let low = ladder.find_or_insert(5);
            assert_ne!(high, low);
            assert_eq!(ladder.level(low).price, 5);
            assert_eq!(ladder.find_or_insert(u64::MAX - 3), high);
            assert_eq!(ladder.find_or_insert(5), low);
            let top = ladder.find_or_insert(u64::MAX);
            assert_eq!(ladder.level(top).price, u64::MAX);
            assert_eq!(ladder.find_or_insert(0), ladder.find_or_insert(0));
            let prices: Vec<u64> = ladder.worst_first().map(|level| level.price).collect();
            assert_eq!(prices.len(), 4);
        }
    }
}
