//! Read-only views: single orders, depth, top of book, crosses and digests.

use std::sync::Arc;

use alloy_primitives::{B256, Keccak256};
use dex_primitives::{
    Address, Lots, OrderId, Side, Ticks, UnixMillis, VerifiedOrder, VerifiedUpdate,
};

use crate::{Book, book::Slot, event::Cross, ladder::Ladder};

/// An open order as the book holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderView {
    /// The order.
    pub id: OrderId,
    /// Its maker.
    pub maker: Address,
    /// Its side.
    pub side: Side,
    /// Its limit price.
    pub price: Ticks,
    /// Its signed quantity.
    pub quantity: Lots,
    /// Its signed `minFill`.
    pub min_fill: Lots,
    /// Open quantity as last signed or committed; includes `reserved`.
    pub remaining: Lots,
    /// Part of `remaining` reserved for takes in progress.
    pub reserved: Lots,
    /// Lots committed to swaps through this book ([`Book::commit`]).
    pub committed: Lots,
    /// Its signed `createdAt`.
    pub created_at: UnixMillis,
    /// Its signed `expiresAt`.
    pub expires_at: UnixMillis,
    /// True while its maker is suspended.
    pub suspended: bool,
}

impl OrderView {
    /// What the book offers: remaining minus reserved.
    pub fn available(&self) -> Lots {
        Lots(self.remaining.0 - self.reserved.0)
    }
}

/// What the book knows of an order id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Open and offered.
    Open,
    /// Open, but its maker is suspended.
    Suspended,
    /// Cancelled, filled or dropped; remembered until its expiry (or until forgotten under
    /// the tombstone cap, after which it is `Unknown` but cannot be inserted again).
    Closed,
    /// Never seen, expired, evicted, or a forgotten tombstone.
    Unknown,
}

/// One aggregated price level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DepthLevel {
    /// Price in ticks.
    pub price: Ticks,
    /// Available (offered) lots at this price.
    pub quantity: Lots,
    /// Orders resting at this price (some may be wholly reserved).
    pub orders: u32,
}

/// Aggregated depth, best levels first. Levels whose whole quantity is reserved are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Depth {
    /// Buy levels, highest price first.
    pub bids: Vec<DepthLevel>,
    /// Sell levels, lowest price first.
    pub asks: Vec<DepthLevel>,
}

/// The best level of each side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Top {
    /// Best bid.
    pub bid: Option<DepthLevel>,
    /// Best ask.
    pub ask: Option<DepthLevel>,
}

/// The digest of a set of `(order id, remaining)` pairs: keccak256 over the pairs sorted by
/// id, each as the 32 id bytes followed by `remaining` as 8 big-endian bytes. It is the
/// book's [`Book::digest`] and a maker's `ordersRoot` ([`Book::maker_root`]), so anyone can
/// recompute it from the orders.
pub fn orders_digest(pairs: impl IntoIterator<Item = (OrderId, Lots)>) -> B256 {
    let mut pairs: Vec<(OrderId, Lots)> = pairs.into_iter().collect();
    pairs.sort_unstable_by_key(|pair| pair.0);
    let mut hasher = Keccak256::new();
    for (id, remaining) in pairs {
        hasher.update(id.0);
        hasher.update(remaining.0.to_be_bytes());
    }
    hasher.finalize()
}

impl Book {
    fn view(&self, slot: &Slot) -> OrderView {
        OrderView {
            id: slot.id,
            maker: self.core.makers[slot.maker as usize].address,
            side: slot.side,
            price: Ticks(slot.price),
            quantity: Lots(slot.quantity()),
            min_fill: Lots(slot.min_fill),
            remaining: Lots(slot.remaining),
            reserved: Lots(slot.reserved),
            committed: Lots(slot.committed),
            created_at: slot.created_at,
            expires_at: slot.expires_at,
            suspended: slot.suspended,
        }
    }

    /// An open (visible or suspended) order.
    pub fn get(&self, id: &OrderId) -> Option<OrderView> {
        self.open_slot_of(id)
            .map(|slot| self.view(&self.core.slots[slot as usize]))
    }

    fn open_slot_of(&self, id: &OrderId) -> Option<u32> {
        self.index.get(id).and_then(|entry| entry.get().ok())
    }

    /// The signed order of an open order, to forward or serve to a syncing peer.
    pub fn order(&self, id: &OrderId) -> Option<&Arc<VerifiedOrder>> {
        self.open_slot_of(id)
            .and_then(|slot| self.core.slots[slot as usize].order.as_ref())
    }

    /// The lowest signed update applied to an open order: the proof of its remaining
    /// quantity for peers (it may be above `remaining` after a commit, until the maker's
    /// next update is applied).
    pub fn latest_update(&self, id: &OrderId) -> Option<&VerifiedUpdate> {
        self.open_slot_of(id)
            .and_then(|slot| self.core.slots[slot as usize].proof.as_deref())
    }

    /// What the book knows of `id`.
    pub fn status(&self, id: &OrderId) -> OrderStatus {
        match self.index.get(id).map(|entry| entry.get()) {
            Some(Ok(slot)) if self.core.slots[slot as usize].suspended => OrderStatus::Suspended,
            Some(Ok(_)) => OrderStatus::Open,
            Some(Err(_)) => OrderStatus::Closed,
            None => OrderStatus::Unknown,
        }
    }

    /// Every open order (visible and suspended), in no particular order.
    pub fn orders(&self) -> impl Iterator<Item = OrderView> + '_ {
        self.core
            .slots
            .iter()
            .filter(|slot| slot.order.is_some())
            .map(|slot| self.view(slot))
    }

    /// Visible orders (open, maker not suspended).
    pub fn len(&self) -> usize {
        self.core.visible
    }

    /// True when no order is visible.
    pub fn is_empty(&self) -> bool {
        self.core.visible == 0
    }

    /// Open orders held suspended.
    pub fn suspended_len(&self) -> usize {
        self.index.len() - self.tombstones - self.core.visible
    }

    /// Tombstones held (closed orders not yet expired nor forgotten).
    pub fn tombstones(&self) -> usize {
        self.tombstones
    }

    /// Open orders of `maker` (visible and suspended).
    pub fn maker_open_orders(&self, maker: &Address) -> usize {
        self.core
            .maker_index
            .get(maker)
            .map_or(0, |index| self.core.makers[*index as usize].orders.len())
    }

    /// Open orders of `maker` (visible and suspended), in no particular order.
    pub fn maker_orders(&self, maker: &Address) -> impl Iterator<Item = OrderView> + '_ {
        self.core
            .maker_index
            .get(maker)
            .into_iter()
            .flat_map(|index| &self.core.makers[*index as usize].orders)
            .map(|slot| self.view(&self.core.slots[*slot as usize]))
    }

    /// True while `maker` is suspended (and has open orders here).
    pub fn is_suspended(&self, maker: &Address) -> bool {
        self.core
            .maker_index
            .get(maker)
            .is_some_and(|index| self.core.makers[*index as usize].suspended)
    }

    /// Up to `levels` aggregated levels of each side, best first. O(levels) unless whole
    /// levels are reserved.
    pub fn depth(&self, levels: usize) -> Depth {
        Depth {
            bids: offered_levels(&self.core.bids).take(levels).collect(),
            asks: offered_levels(&self.core.asks).take(levels).collect(),
        }
    }

    /// The best bid and ask with available quantity.
    pub fn top(&self) -> Top {
        Top {
            bid: offered_levels(&self.core.bids).next(),
            ask: offered_levels(&self.core.asks).next(),
        }
    }

    /// The digest of the visible book: [`orders_digest`] over every visible order's id and
    /// remaining quantity. Equal books (whatever the order their contents arrived in) have
    /// equal digests. Reservations are local and not included.
    pub fn digest(&self) -> B256 {
        orders_digest(self.visible_orders())
    }

    /// Every visible order's id and remaining quantity, in no particular order: what
    /// [`Book::digest`] is computed from. Read in one pass over the order slots (the
    /// digest sorts them anyway), so a caller can hash them elsewhere: the sort and the
    /// hashing are most of the digest's cost.
    pub fn visible_orders(&self) -> Vec<(OrderId, Lots)> {
        let mut pairs = Vec::with_capacity(self.core.visible);
        pairs.extend(
            self.core
                .slots
                .iter()
                .filter(|slot| slot.order.is_some() && !slot.suspended)
                .map(|slot| (slot.id, Lots(slot.remaining))),
        );
        debug_assert_eq!(pairs.len(), self.core.visible);
        pairs
    }

    /// The ids of a maker's open orders here (visible and suspended), in no particular
    /// order: at most the per-maker cap, read from the maker's own list.
    pub fn maker_order_ids(&self, maker: &Address) -> Vec<OrderId> {
        self.core
            .maker_index
            .get(maker)
            .map(|index| {
                self.core.makers[*index as usize]
                    .orders
                    .iter()
                    .map(|slot| self.core.slots[*slot as usize].id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A maker's open orders here (visible and suspended) as `(count, ordersRoot)`, the
    /// values its `Alive` heartbeat should carry if this book has all of its orders.
    pub fn maker_root(&self, maker: &Address) -> (u32, B256) {
        let mut pairs = Vec::new();
        if let Some(index) = self.core.maker_index.get(maker) {
            for slot in &self.core.makers[*index as usize].orders {
                let slot = &self.core.slots[*slot as usize];
                pairs.push((slot.id, Lots(slot.remaining)));
            }
        }
        let count = u32::try_from(pairs.len()).expect("a maker's orders are capped far below 2^32");
        (count, orders_digest(pairs))
    }

    /// True when the best bid reaches the best ask (any makers, any availability).
    pub fn is_crossed(&self) -> bool {
        match (self.core.bids.best(), self.core.asks.best()) {
            (Some(bid), Some(ask)) => bid.price >= ask.price,
            _ => false,
        }
    }

    /// Every pair of visible orders of different makers, both with available quantity, whose
    /// prices cross, with the taker each node agrees on (the later by `(createdAt, id)`).
    /// Bids best first, then asks best first. Empty in an uncrossed book, found in O(1).
    pub fn pending_crosses(&self) -> Vec<Cross> {
        let mut crosses = Vec::new();
        let core = &self.core;
        let Some(best_ask) = core.asks.best().map(|level| level.price) else {
            return crosses;
        };
        for bid_level in core.bids.best_first() {
            if bid_level.price < best_ask {
                break;
            }
            for bid_slot in &bid_level.orders {
                let bid = &core.slots[*bid_slot as usize];
                if bid.available() == 0 {
                    continue;
                }
                for ask_level in core.asks.best_first() {
                    if ask_level.price > bid.price {
                        break;
                    }
                    for ask_slot in &ask_level.orders {
                        let ask = &core.slots[*ask_slot as usize];
                        if ask.available() == 0 || ask.maker == bid.maker {
                            continue;
                        }
                        let (taker, maker) = if bid.priority() > ask.priority() {
                            (bid, ask)
                        } else {
                            (ask, bid)
                        };
                        crosses.push(Cross::between(&core.makers, taker, maker));
                    }
                }
            }
        }
        crosses
    }
}

/// The levels of a side with available quantity, best first.
fn offered_levels(ladder: &Ladder) -> impl Iterator<Item = DepthLevel> + '_ {
    ladder
        .best_first()
        .filter(|level| level.available > 0)
        .map(|level| DepthLevel {
            price: Ticks(level.price),
            quantity: Lots(level.available),
            orders: level.orders.len() as u32,
        })
}
