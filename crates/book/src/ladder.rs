//! One side of the book: price levels in a sorted `Vec`, best price last, each holding its
//! orders' slots in a `Vec` in price-time priority.
//!
//! Contiguous vectors beat trees and linked lists here: the levels are few (orders cluster
//! near the mid) and nearly all activity is at the top, which is the end of the vector, so
//! inserting or removing a level moves few bytes; a level's queue is a short run of `u32`s,
//! so appending, finding and removing an order touch one or two cache lines instead of the
//! neighbouring orders. Emptied queues are kept for reuse, so steady operation does not
//! allocate.

use dex_primitives::Side;

/// Most emptied queues kept for reuse per side.
const SPARE_QUEUES: usize = 256;
/// Largest capacity of a queue kept for reuse.
const SPARE_QUEUE_CAPACITY: usize = 256;

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

/// The levels of one side, worst price first, best price last.
#[derive(Debug, Clone)]
pub(crate) struct Ladder {
    side: Side,
    levels: Vec<Level>,
    /// The levels' prices, in the same order: the search reads this dense copy (eight
    /// prices a cache line) instead of striding through the levels.
    prices: Vec<u64>,
    /// Emptied queues, kept with their capacity.
    spare: Vec<Vec<u32>>,
}

impl Ladder {
    pub(crate) fn new(side: Side) -> Self {
        Ladder {
            side,
            levels: Vec::new(),
            prices: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// The index of the level at `price`, or where it would be inserted.
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

    /// The level at `price`, created empty if missing; returns its index.
    #[inline]
    pub(crate) fn find_or_insert(&mut self, price: u64) -> usize {
        match self.find(price) {
            Ok(index) => index,
            Err(index) => {
                let orders = self.spare.pop().unwrap_or_default();
                self.prices.insert(index, price);
                self.levels.insert(
                    index,
                    Level {
                        price,
                        available: 0,
                        newest: 0,
                        orders,
                    },
                );
                index
            }
        }
    }

    /// The index of the level at `price`, which must exist.
    #[inline]
    pub(crate) fn index_of(&self, price: u64) -> usize {
        self.find(price)
            .expect("a visible order's price level exists")
    }

    #[cfg(test)]
    pub(crate) fn at(&self, index: usize) -> &Level {
        &self.levels[index]
    }

    #[inline]
    pub(crate) fn at_mut(&mut self, index: usize) -> &mut Level {
        &mut self.levels[index]
    }

    /// Removes an emptied level, keeping its queue for reuse unless enough are kept or it
    /// grew large (reused queues must not hold the memory of every level that ever was).
    #[inline]
    pub(crate) fn remove_at(&mut self, index: usize) {
        self.prices.remove(index);
        let level = self.levels.remove(index);
        debug_assert!(level.orders.is_empty());
        if self.spare.len() < SPARE_QUEUES && level.orders.capacity() <= SPARE_QUEUE_CAPACITY {
            self.spare.push(level.orders);
        }
    }

    /// Emptied queues kept for reuse.
    pub(crate) fn spare_queues(&self) -> usize {
        self.spare.len()
    }

    /// Levels best first.
    #[inline]
    pub(crate) fn best_first(&self) -> impl Iterator<Item = &Level> + '_ {
        self.levels.iter().rev()
    }

    /// Levels worst first.
    #[inline]
    pub(crate) fn worst_first(&self) -> impl Iterator<Item = &Level> + '_ {
        self.levels.iter()
    }

    /// The best level, whatever its available quantity.
    #[inline]
    pub(crate) fn best(&self) -> Option<&Level> {
        self.levels.last()
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
            assert_eq!(bids.at(bids.index_of(price)).price, price);
            assert_eq!(asks.at(asks.index_of(price)).price, price);
        }
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
                let expected = bids
                    .levels
                    .binary_search_by(|level| level.price.cmp(&price));
                assert_eq!(bids.find(price), expected, "count {count} price {price}");
            }
        }
    }
}
