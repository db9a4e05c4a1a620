//! Match planning: what an order would take from the book, computed without changing it.

use dex_primitives::{Address, Lots, OrderId, Side, Ticks, UnixMillis, VerifiedOrder};

use crate::{Book, Error};

/// The order that takes: an incoming order, or a resting one that must take after a cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taker {
    /// The taker order's id (with `created_at`, its time priority).
    pub id: OrderId,
    /// Its maker: orders of the same maker are never taken (self-trade prevention).
    pub maker: Address,
    /// Its side; it takes from the other side.
    pub side: Side,
    /// Its limit price: it takes orders priced at or better than this.
    pub limit: Ticks,
    /// How much it wants to fill now.
    pub quantity: Lots,
    /// The smallest fill it accepts, except its last remainder.
    pub min_fill: Lots,
    /// Its signed `createdAt`: it only takes orders with time priority over it.
    pub created_at: UnixMillis,
}

impl Taker {
    /// The taker for a whole verified order.
    pub fn from_order(order: &VerifiedOrder) -> Taker {
        let fields = order.order();
        Taker {
            id: order.id(),
            maker: fields.maker,
            side: fields.side,
            limit: fields.price,
            quantity: fields.quantity,
            min_fill: fields.min_fill,
            created_at: fields.created_at,
        }
    }

    /// The same taker wanting `quantity` (for instance its remaining after earlier fills).
    pub fn with_quantity(self, quantity: Lots) -> Taker {
        Taker { quantity, ..self }
    }

    #[inline]
    fn crosses(&self, price: u64) -> bool {
        match self.side {
            Side::Buy => price <= self.limit.0,
            Side::Sell => price >= self.limit.0,
        }
    }
}

/// One fill of a plan: take `quantity` from `maker_order` at its price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PlannedFill {
    /// The resting order taken from.
    pub maker_order: OrderId,
    /// Its maker, whose node the take request goes to.
    pub maker: Address,
    /// The resting order's price: fills are at the maker's price.
    pub price: Ticks,
    /// Lots taken.
    pub quantity: Lots,
}

/// The fills an order would get, in the order to request them (price-time priority).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The fills, best first.
    pub fills: Vec<PlannedFill>,
}

impl Plan {
    /// Total lots of the fills.
    pub fn quantity(&self) -> Lots {
        Lots(self.fills.iter().map(|fill| fill.quantity.0).sum())
    }

    /// True when nothing can be taken.
    pub fn is_empty(&self) -> bool {
        self.fills.is_empty()
    }
}

impl Book {
    /// Plans the fills `taker` would get, without changing the book: resting orders of the
    /// other side at prices crossing its limit, best price first, then by time priority,
    /// each at its own price. Skipped: orders of the taker's maker (self-trade prevention),
    /// orders without time priority over the taker (they must take it instead, see
    /// [`crate::Cross`]), suspended or reserved quantity, orders expired at `now`, and fills
    /// that would break either side's `minFill` — a fill below an order's `minFill` is
    /// allowed only as that order's whole remainder (for the taker: its whole remaining
    /// want).
    pub fn plan(&self, taker: &Taker, now: UnixMillis) -> Plan {
        let mut fills = Vec::new();
        self.plan_into(taker, now, &mut fills);
        Plan { fills }
    }

    /// [`Book::plan`] into a caller's buffer (cleared first), to plan without allocating.
    /// Returns the total planned quantity.
    pub fn plan_into(&self, taker: &Taker, now: UnixMillis, fills: &mut Vec<PlannedFill>) -> Lots {
        fills.clear();
        let core = &self.core;
        let own_maker = core.maker_index.get(&taker.maker).copied();
        let opposite = core.ladder(taker.side.opposite());
        let mut wanted = taker.quantity.0;
        let taker_key = (taker.created_at, &taker.id);
        for level in opposite.best_first() {
            if wanted == 0 || !taker.crosses(level.price) {
                break;
            }
            if level.available == 0 {
                continue;
            }
            for &slot in &level.orders {
                if wanted == 0 {
                    break;
                }
                let held = &core.slots[slot as usize];
                if held.priority() >= taker_key {
                    // The level is in priority order: the rest of it is later too.
                    break;
                }
                if Some(held.maker) == own_maker || held.expires_at <= now {
                    continue;
                }
                let available = held.available();
                if available == 0 {
                    continue;
                }
                let quantity = wanted.min(available);
                if quantity < held.min_fill && quantity != held.remaining {
                    continue;
                }
                if quantity < taker.min_fill.0 && quantity != wanted {
                    continue;
                }
                fills.push(PlannedFill {
                    maker_order: held.id,
                    maker: core.makers[held.maker as usize].address,
                    price: Ticks(held.price),
                    quantity: Lots(quantity),
                });
                wanted -= quantity;
            }
        }
        Lots(taker.quantity.0 - wanted)
    }

    /// Plans the take a resting order must make after a [`crate::Cross`]: [`Book::plan`]
    /// for its available quantity. Its maker's node runs this when the order is its own.
    pub fn plan_resting(&self, id: OrderId, now: UnixMillis) -> Result<Plan, Error> {
        let slot = self.open_slot(id)?;
        let held = &self.core.slots[slot as usize];
        if held.suspended {
            return Err(Error::Suspended { id });
        }
        let taker = Taker {
            id,
            maker: self.core.makers[held.maker as usize].address,
            side: held.side,
            limit: Ticks(held.price),
            quantity: Lots(held.available()),
            min_fill: Lots(held.min_fill),
            created_at: held.created_at,
        };
        Ok(self.plan(&taker, now))
    }

    /// Checks a take request on the maker side before reserving: the maker order is open,
    /// offered and unexpired at `now`; the taker is of the other side, another maker, later
    /// by `(createdAt, id)`, and its limit crosses the order's price; `quantity` is at most
    /// the available quantity and the taker's quantity, and at least the order's `minFill`
    /// unless it is the order's whole remainder. Returns the fill price (the maker order's).
    pub fn check_take(
        &self,
        maker_order: OrderId,
        taker: &Taker,
        quantity: Lots,
        now: UnixMillis,
    ) -> Result<Ticks, Error> {
        let id = maker_order;
        let slot = self.open_slot(id)?;
        let held = &self.core.slots[slot as usize];
        if held.suspended {
            return Err(Error::Suspended { id });
        }
        if held.expires_at <= now.max(self.clock) {
            return Err(Error::Expired {
                id,
                expires_at: held.expires_at,
                now,
            });
        }
        if held.side == taker.side {
            return Err(Error::SameSide {
                id,
                side: held.side,
            });
        }
        let maker = self.core.makers[held.maker as usize].address;
        if maker == taker.maker {
            return Err(Error::SameMaker { id, maker });
        }
        if !taker.crosses(held.price) {
            return Err(Error::PriceDoesNotCross {
                id,
                price: Ticks(held.price),
                limit: taker.limit,
            });
        }
        if held.priority() >= (taker.created_at, &taker.id) {
            return Err(Error::TakerNotLater {
                id,
                taker: taker.id,
            });
        }
        if quantity.is_zero() {
            return Err(Error::ZeroQuantity);
        }
        if quantity > taker.quantity {
            return Err(Error::TakeExceedsTaker {
                requested: quantity,
                quantity: taker.quantity,
            });
        }
        if quantity.0 > held.available() {
            return Err(Error::InsufficientAvailable {
                id,
                requested: quantity,
                available: Lots(held.available()),
            });
        }
        if quantity.0 < held.min_fill && quantity.0 != held.remaining {
            return Err(Error::BelowMinFill {
                id,
                requested: quantity,
                min_fill: Lots(held.min_fill),
            });
        }
        Ok(Ticks(held.price))
    }
}
