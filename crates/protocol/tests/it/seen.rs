//! A map-backed [`SeenState`] for the tests.

use std::collections::HashMap;

use dex_primitives::{Address, Lots, MarketId, OrderId, UnixMillis, VerifiedOrder};
use dex_protocol::{KnownOrder, SeenState};

#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub(crate) open: HashMap<OrderId, (VerifiedOrder, Lots)>,
    pub(crate) removed: Vec<OrderId>,
    pub(crate) alive: HashMap<(Address, MarketId), UnixMillis>,
}

impl Seen {
    pub(crate) fn with_open(order: VerifiedOrder) -> Self {
        let mut seen = Seen::default();
        let remaining = order.order().quantity;
        seen.open.insert(order.id(), (order, remaining));
        seen
    }
}

impl SeenState for Seen {
    fn contains_order(&self, id: &OrderId) -> bool {
        self.open.contains_key(id) || self.removed.contains(id)
    }

    fn known_order(&self, id: &OrderId) -> Option<KnownOrder<'_>> {
        self.open.get(id).map(|(order, remaining)| KnownOrder {
            order,
            remaining: *remaining,
        })
    }

    fn newest_alive(&self, maker: &Address, market: &MarketId) -> Option<UnixMillis> {
        self.alive.get(&(*maker, *market)).copied()
    }
}
