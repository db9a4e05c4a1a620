//! A reference model of the book: the same rules written as plainly as possible over a
//! `Vec` of orders, sorted on demand. The property tests drive it and the real book with
//! the same operations and require identical answers, events and views.

use std::{collections::HashMap, sync::Arc};

use dex_book::{
    BookConfig, Cross, Depth, DepthLevel, Error, Event, OrderRef, OrderStatus, OrderView,
    PlannedFill, RemoveReason, Taker, orders_digest,
};
use dex_primitives::{
    Address, B256, Lots, MarketId, OrderId, Side, Ticks, UnixMillis, VerifiedOrder, VerifiedUpdate,
};

/// One open order of the model.
#[derive(Debug, Clone)]
pub(crate) struct ModelOrder {
    pub(crate) id: OrderId,
    pub(crate) maker: Address,
    pub(crate) side: Side,
    pub(crate) price: u64,
    pub(crate) quantity: u64,
    pub(crate) min_fill: u64,
    pub(crate) created_at: UnixMillis,
    pub(crate) expires_at: UnixMillis,
    pub(crate) remaining: u64,
    pub(crate) reserved: u64,
    pub(crate) committed: u64,
    /// Lots taken away by signed updates (for the conservation property).
    pub(crate) lowered_by_updates: u64,
    pub(crate) suspended: bool,
    pub(crate) proof: Option<VerifiedUpdate>,
}

impl ModelOrder {
    fn available(&self) -> u64 {
        self.remaining - self.reserved
    }

    fn key(&self) -> (UnixMillis, OrderId) {
        (self.created_at, self.id)
    }

    fn as_ref(&self) -> OrderRef {
        OrderRef {
            id: self.id,
            side: self.side,
            price: Ticks(self.price),
            remaining: Lots(self.remaining),
            available: Lots(self.available()),
            suspended: self.suspended,
        }
    }
}

/// The reference book.
#[derive(Debug)]
pub(crate) struct Model {
    market: MarketId,
    config: BookConfig,
    pub(crate) clock: UnixMillis,
    pub(crate) open: Vec<ModelOrder>,
    tombstones: HashMap<OrderId, UnixMillis>,
    /// The latest expiry of a tombstone forgotten under the cap.
    pub(crate) forgotten_until: UnixMillis,
    suspended_makers: Vec<Address>,
    pub(crate) events: Vec<Event>,
}

/// Sort key putting the best price first for `side`, then time priority.
fn book_order(side: Side, order: &ModelOrder) -> (i128, UnixMillis, OrderId) {
    let price = i128::from(order.price);
    let rank = match side {
        Side::Buy => -price,
        Side::Sell => price,
    };
    (rank, order.created_at, order.id)
}

fn crosses(taker_side: Side, limit: u64, price: u64) -> bool {
    match taker_side {
        Side::Buy => price <= limit,
        Side::Sell => price >= limit,
    }
}

impl Model {
    pub(crate) fn new(market: MarketId, config: BookConfig) -> Model {
        Model {
            market,
            config,
            clock: 0,
            open: Vec::new(),
            tombstones: HashMap::new(),
            forgotten_until: 0,
            suspended_makers: Vec::new(),
            events: Vec::new(),
        }
    }

    fn position(&self, id: &OrderId) -> Option<usize> {
        self.open.iter().position(|order| order.id == *id)
    }

    fn visible_count(&self) -> usize {
        self.open.iter().filter(|order| !order.suspended).count()
    }

    fn suspended_count(&self) -> usize {
        self.open.iter().filter(|order| order.suspended).count()
    }

    /// Visible orders of `side`, best first.
    fn side_sorted(&self, side: Side) -> Vec<&ModelOrder> {
        let mut orders: Vec<&ModelOrder> = self
            .open
            .iter()
            .filter(|order| order.side == side && !order.suspended)
            .collect();
        orders.sort_by_key(|order| book_order(side, order));
        orders
    }

    fn open_slot(&self, id: &OrderId) -> Result<usize, Error> {
        match self.position(id) {
            Some(index) => Ok(index),
            None if self.tombstones.contains_key(id) => Err(Error::Closed { id: *id }),
            None => Err(Error::UnknownOrder { id: *id }),
        }
    }

    /// Removes the order at `index`, emitting Removed, forgetting a maker left without orders.
    fn close(&mut self, index: usize, reason: RemoveReason, tombstone: bool) {
        let order = self.open.remove(index);
        self.events.push(Event::Removed {
            order: order.as_ref(),
            reason,
        });
        if tombstone {
            self.tombstones.insert(order.id, order.expires_at);
            // Past the cap, the earliest expiry becomes the watermark and every tombstone
            // expiring by then is forgotten.
            if self.tombstones.len() > self.config.max_tombstones {
                let first = *self
                    .tombstones
                    .values()
                    .min()
                    .expect("more tombstones than the cap, so at least one");
                self.forgotten_until = self.forgotten_until.max(first);
                let watermark = self.forgotten_until;
                self.tombstones.retain(|_, until| *until > watermark);
            }
        }
        if !self.open.iter().any(|other| other.maker == order.maker) {
            self.suspended_makers.retain(|maker| *maker != order.maker);
        }
    }

    fn advance(&mut self, now: UnixMillis) -> usize {
        self.clock = self.clock.max(now);
        let clock = self.clock;
        let mut due: Vec<(UnixMillis, OrderId)> = self
            .open
            .iter()
            .filter(|order| order.expires_at <= clock)
            .map(|order| (order.expires_at, order.id))
            .collect();
        due.sort();
        for (_, id) in &due {
            let index = self.position(id).expect("due orders are open");
            self.close(index, RemoveReason::Expired, false);
        }
        self.tombstones.retain(|_, until| *until > clock);
        due.len()
    }

    fn victim(&self, price: u64, key: (UnixMillis, OrderId)) -> Option<OrderId> {
        let bids = self.side_sorted(Side::Buy);
        let asks = self.side_sorted(Side::Sell);
        let twice_mid = match (bids.first(), asks.first()) {
            (Some(bid), Some(ask)) => u128::from(bid.price) + u128::from(ask.price),
            (Some(only), None) | (None, Some(only)) => 2 * u128::from(only.price),
            (None, None) => return None,
        };
        let distance = |price: u64| (2 * u128::from(price)).abs_diff(twice_mid);
        let mut best = (distance(price), key.0, key.1, None);
        for side in [bids, asks] {
            // Worst level first, lowest priority first, skipping reserved orders.
            if let Some(candidate) = side.iter().rev().find(|order| order.reserved == 0) {
                let candidate_key = (
                    distance(candidate.price),
                    candidate.created_at,
                    candidate.id,
                );
                if candidate_key > (best.0, best.1, best.2) {
                    best = (
                        candidate_key.0,
                        candidate_key.1,
                        candidate_key.2,
                        Some(candidate.id),
                    );
                }
            }
        }
        best.3
    }

    fn evict(&mut self, id: &OrderId) {
        let index = self.position(id).expect("victims are open");
        self.close(index, RemoveReason::Evicted, false);
    }

    fn emit_crosses(&mut self, id: &OrderId) {
        let index = self.position(id).expect("open");
        let new = self.open[index].clone();
        if new.available() == 0 {
            return;
        }
        let opposite = self.side_sorted(new.side.opposite());
        let mut taken: Option<&ModelOrder> = None;
        let mut later = Vec::new();
        for other in opposite {
            if !crosses(new.side, new.price, other.price) {
                break;
            }
            if other.maker == new.maker || other.available() == 0 {
                continue;
            }
            if other.key() < new.key() {
                taken.get_or_insert(other);
            } else {
                later.push(Event::Crossed(Cross {
                    taker: other.id,
                    taker_maker: other.maker,
                    maker_order: new.id,
                    maker: new.maker,
                    price: Ticks(new.price),
                }));
            }
        }
        if let Some(taken) = taken {
            self.events.push(Event::Crossed(Cross {
                taker: new.id,
                taker_maker: new.maker,
                maker_order: taken.id,
                maker: taken.maker,
                price: Ticks(taken.price),
            }));
        }
        self.events.extend(later);
    }

    pub(crate) fn insert(
        &mut self,
        order: &Arc<VerifiedOrder>,
        now: UnixMillis,
    ) -> Result<(), Error> {
        let id = order.id();
        let fields = order.order();
        if fields.market != self.market {
            return Err(Error::WrongMarket {
                expected: self.market,
                got: fields.market,
            });
        }
        self.advance(now);
        if fields.expires_at <= self.clock {
            return Err(Error::Expired {
                id,
                expires_at: fields.expires_at,
                now: self.clock,
            });
        }
        if self.position(&id).is_some() {
            return Err(Error::AlreadyOpen { id });
        }
        if self.tombstones.contains_key(&id) {
            return Err(Error::Closed { id });
        }
        if fields.expires_at <= self.forgotten_until {
            return Err(Error::PossiblyClosed {
                id,
                expires_at: fields.expires_at,
                forgotten_until: self.forgotten_until,
            });
        }
        let open = self
            .open
            .iter()
            .filter(|other| other.maker == fields.maker)
            .count();
        if open >= self.config.max_orders_per_maker {
            return Err(Error::MakerCapReached {
                maker: fields.maker,
                cap: self.config.max_orders_per_maker,
            });
        }
        let suspended = self.suspended_makers.contains(&fields.maker);
        if suspended && self.suspended_count() >= self.config.max_suspended {
            return Err(Error::SuspendedFull {
                id,
                cap: self.config.max_suspended,
            });
        }
        if !suspended && self.visible_count() >= self.config.max_orders {
            match self.victim(fields.price.0, (fields.created_at, id)) {
                None => {
                    return Err(Error::BookFull {
                        id,
                        cap: self.config.max_orders,
                    });
                }
                Some(victim) => self.evict(&victim),
            }
        }
        let model_order = ModelOrder {
            id,
            maker: fields.maker,
            side: fields.side,
            price: fields.price.0,
            quantity: fields.quantity.0,
            min_fill: fields.min_fill.0,
            created_at: fields.created_at,
            expires_at: fields.expires_at,
            remaining: fields.quantity.0,
            reserved: 0,
            committed: 0,
            lowered_by_updates: 0,
            suspended,
            proof: None,
        };
        let inserted = model_order.as_ref();
        self.open.push(model_order);
        self.events.push(Event::Inserted(inserted));
        if suspended {
            self.events.push(Event::Suspended(inserted));
        } else {
            self.emit_crosses(&id);
        }
        Ok(())
    }

    pub(crate) fn apply_update(&mut self, update: &VerifiedUpdate) -> Result<(), Error> {
        let id = update.order_id();
        let index = self.open_slot(&id)?;
        let new = update.remaining().0;
        let order = &mut self.open[index];
        if new > order.remaining {
            return Err(Error::RemainingWouldRise {
                id,
                current: Lots(order.remaining),
                update: Lots(new),
            });
        }
        order.lowered_by_updates += order.remaining - new;
        if new == 0 {
            self.close(index, RemoveReason::Cancelled, true);
            return Ok(());
        }
        if order.proof.is_none_or(|proof| proof.remaining().0 > new) {
            order.proof = Some(*update);
        }
        if new < order.remaining {
            let previous = order.remaining;
            order.remaining = new;
            order.reserved = order.reserved.min(new);
            let reduced = order.as_ref();
            self.events.push(Event::Reduced {
                order: reduced,
                previous: Lots(previous),
            });
        }
        Ok(())
    }

    pub(crate) fn remove(&mut self, id: OrderId) -> Result<(), Error> {
        let index = self.open_slot(&id)?;
        self.close(index, RemoveReason::Dropped, true);
        Ok(())
    }

    pub(crate) fn expire(&mut self, now: UnixMillis) -> usize {
        self.advance(now)
    }

    pub(crate) fn suspend_maker(&mut self, maker: Address) -> usize {
        if !self.open.iter().any(|order| order.maker == maker) {
            return 0;
        }
        if !self.suspended_makers.contains(&maker) {
            self.suspended_makers.push(maker);
        }
        let mut keys: Vec<(UnixMillis, OrderId)> = self
            .open
            .iter()
            .filter(|order| order.maker == maker && !order.suspended)
            .map(ModelOrder::key)
            .collect();
        keys.sort();
        // Suspended in priority order while there is room under the cap; the rest evicted.
        let room = self
            .config
            .max_suspended
            .saturating_sub(self.suspended_count());
        let kept = room.min(keys.len());
        for (_, id) in &keys[..kept] {
            let index = self.position(id).expect("open");
            self.open[index].suspended = true;
            let order = self.open[index].as_ref();
            self.events.push(Event::Suspended(order));
        }
        for (_, id) in &keys[kept..] {
            self.evict(id);
        }
        kept
    }

    pub(crate) fn restore_maker(&mut self, maker: Address) -> usize {
        if !self.open.iter().any(|order| order.maker == maker) {
            return 0;
        }
        self.suspended_makers.retain(|other| *other != maker);
        let mut ids: Vec<(UnixMillis, OrderId)> = self
            .open
            .iter()
            .filter(|order| order.maker == maker && order.suspended)
            .map(ModelOrder::key)
            .collect();
        ids.sort();
        let mut restored = 0;
        for (created_at, id) in ids {
            if self.visible_count() >= self.config.max_orders {
                let price = self.open[self.position(&id).expect("open")].price;
                match self.victim(price, (created_at, id)) {
                    None => {
                        self.evict(&id);
                        continue;
                    }
                    Some(victim) => self.evict(&victim),
                }
            }
            let index = self.position(&id).expect("open");
            self.open[index].suspended = false;
            let order = self.open[index].as_ref();
            self.events.push(Event::Restored(order));
            self.emit_crosses(&id);
            restored += 1;
        }
        restored
    }

    pub(crate) fn reserve(&mut self, id: OrderId, quantity: Lots) -> Result<(), Error> {
        let index = self.open_slot(&id)?;
        if quantity.0 == 0 {
            return Err(Error::ZeroQuantity);
        }
        let order = &mut self.open[index];
        if order.suspended {
            return Err(Error::Suspended { id });
        }
        if quantity.0 > order.available() {
            return Err(Error::InsufficientAvailable {
                id,
                requested: quantity,
                available: Lots(order.available()),
            });
        }
        order.reserved += quantity.0;
        let reserved = order.as_ref();
        self.events.push(Event::Reserved {
            order: reserved,
            quantity,
        });
        Ok(())
    }

    pub(crate) fn release(&mut self, id: OrderId, quantity: Lots) -> Result<(), Error> {
        let index = self.open_slot(&id)?;
        if quantity.0 == 0 {
            return Err(Error::ZeroQuantity);
        }
        let order = &mut self.open[index];
        if quantity.0 > order.reserved {
            return Err(Error::ReleaseAboveReserved {
                id,
                requested: quantity,
                reserved: Lots(order.reserved),
            });
        }
        let was_unavailable = order.available() == 0;
        order.reserved -= quantity.0;
        let released = order.as_ref();
        self.events.push(Event::Released {
            order: released,
            quantity,
        });
        if was_unavailable && !released.suspended {
            self.emit_crosses(&id);
        }
        Ok(())
    }

    pub(crate) fn commit(&mut self, id: OrderId, quantity: Lots) -> Result<Lots, Error> {
        let index = self.open_slot(&id)?;
        if quantity.0 == 0 {
            return Err(Error::ZeroQuantity);
        }
        let order = &mut self.open[index];
        if quantity.0 > order.reserved {
            return Err(Error::CommitAboveReserved {
                id,
                requested: quantity,
                reserved: Lots(order.reserved),
            });
        }
        order.committed += quantity.0;
        let remaining = order.remaining - quantity.0;
        if remaining == 0 {
            self.close(index, RemoveReason::Filled, true);
        } else {
            let previous = order.remaining;
            order.reserved -= quantity.0;
            order.remaining = remaining;
            let reduced = order.as_ref();
            self.events.push(Event::Reduced {
                order: reduced,
                previous: Lots(previous),
            });
        }
        Ok(Lots(remaining))
    }

    pub(crate) fn plan(&self, taker: &Taker, now: UnixMillis) -> Vec<PlannedFill> {
        let mut fills = Vec::new();
        let mut wanted = taker.quantity.0;
        for order in self.side_sorted(taker.side.opposite()) {
            if wanted == 0 || !crosses(taker.side, taker.limit.0, order.price) {
                break;
            }
            if order.key() >= (taker.created_at, taker.id)
                || order.maker == taker.maker
                || order.expires_at <= now
                || order.available() == 0
            {
                continue;
            }
            let quantity = wanted.min(order.available());
            if quantity < order.min_fill && quantity != order.remaining {
                continue;
            }
            if quantity < taker.min_fill.0 && quantity != wanted {
                continue;
            }
            fills.push(PlannedFill {
                maker_order: order.id,
                maker: order.maker,
                price: Ticks(order.price),
                quantity: Lots(quantity),
            });
            wanted -= quantity;
        }
        fills
    }

    pub(crate) fn check_take(
        &self,
        id: OrderId,
        taker: &Taker,
        quantity: Lots,
        now: UnixMillis,
    ) -> Result<Ticks, Error> {
        let order = &self.open[self.open_slot(&id)?];
        if order.suspended {
            return Err(Error::Suspended { id });
        }
        if order.expires_at <= now.max(self.clock) {
            return Err(Error::Expired {
                id,
                expires_at: order.expires_at,
                now,
            });
        }
        if order.side == taker.side {
            return Err(Error::SameSide {
                id,
                side: order.side,
            });
        }
        if order.maker == taker.maker {
            return Err(Error::SameMaker {
                id,
                maker: order.maker,
            });
        }
        if !crosses(taker.side, taker.limit.0, order.price) {
            return Err(Error::PriceDoesNotCross {
                id,
                price: Ticks(order.price),
                limit: taker.limit,
            });
        }
        if order.key() >= (taker.created_at, taker.id) {
            return Err(Error::TakerNotLater {
                id,
                taker: taker.id,
            });
        }
        if quantity.0 == 0 {
            return Err(Error::ZeroQuantity);
        }
        if quantity > taker.quantity {
            return Err(Error::TakeExceedsTaker {
                requested: quantity,
                quantity: taker.quantity,
            });
        }
        if quantity.0 > order.available() {
            return Err(Error::InsufficientAvailable {
                id,
                requested: quantity,
                available: Lots(order.available()),
            });
        }
        if quantity.0 < order.min_fill && quantity.0 != order.remaining {
            return Err(Error::BelowMinFill {
                id,
                requested: quantity,
                min_fill: Lots(order.min_fill),
            });
        }
        Ok(Ticks(order.price))
    }

    pub(crate) fn depth(&self) -> Depth {
        let side_depth = |side: Side| {
            let mut levels: Vec<DepthLevel> = Vec::new();
            for order in self.side_sorted(side) {
                match levels.last_mut() {
                    Some(level) if level.price.0 == order.price => {
                        level.quantity.0 += order.available();
                        level.orders += 1;
                    }
                    _ => levels.push(DepthLevel {
                        price: Ticks(order.price),
                        quantity: Lots(order.available()),
                        orders: 1,
                    }),
                }
            }
            levels.retain(|level| level.quantity.0 > 0);
            levels
        };
        Depth {
            bids: side_depth(Side::Buy),
            asks: side_depth(Side::Sell),
        }
    }

    pub(crate) fn digest(&self) -> B256 {
        orders_digest(
            self.open
                .iter()
                .filter(|order| !order.suspended)
                .map(|order| (order.id, Lots(order.remaining))),
        )
    }

    pub(crate) fn pending_crosses(&self) -> Vec<Cross> {
        let mut crosses = Vec::new();
        let asks = self.side_sorted(Side::Sell);
        for bid in self.side_sorted(Side::Buy) {
            if bid.available() == 0 {
                continue;
            }
            for ask in &asks {
                if ask.price > bid.price {
                    break;
                }
                if ask.available() == 0 || ask.maker == bid.maker {
                    continue;
                }
                let (taker, maker) = if bid.key() > ask.key() {
                    (bid, *ask)
                } else {
                    (*ask, bid)
                };
                crosses.push(Cross {
                    taker: taker.id,
                    taker_maker: taker.maker,
                    maker_order: maker.id,
                    maker: maker.maker,
                    price: Ticks(maker.price),
                });
            }
        }
        crosses
    }

    pub(crate) fn view(&self, id: &OrderId) -> Option<OrderView> {
        self.position(id).map(|index| {
            let order = &self.open[index];
            OrderView {
                id: order.id,
                maker: order.maker,
                side: order.side,
                price: Ticks(order.price),
                quantity: Lots(order.quantity),
                min_fill: Lots(order.min_fill),
                remaining: Lots(order.remaining),
                reserved: Lots(order.reserved),
                committed: Lots(order.committed),
                created_at: order.created_at,
                expires_at: order.expires_at,
                suspended: order.suspended,
            }
        })
    }

    pub(crate) fn proof(&self, id: &OrderId) -> Option<VerifiedUpdate> {
        self.position(id).and_then(|index| self.open[index].proof)
    }

    pub(crate) fn status(&self, id: &OrderId) -> OrderStatus {
        match self.position(id) {
            Some(index) if self.open[index].suspended => OrderStatus::Suspended,
            Some(_) => OrderStatus::Open,
            None if self.tombstones.contains_key(id) => OrderStatus::Closed,
            None => OrderStatus::Unknown,
        }
    }

    pub(crate) fn tombstone_count(&self) -> usize {
        self.tombstones.len()
    }
}
