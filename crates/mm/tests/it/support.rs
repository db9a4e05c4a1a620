//! Fixtures for the strategy tests: inputs, a simulated node that carries decisions out, and
//! exact checks that do not use the strategy's own arithmetic.

use std::cmp::Ordering;

use alloy_primitives::ruint::aliases::U1024;
use dex_mm::{AssetBalance, Decision, Inventory, LiveOrder, Quote, ReferencePrice};
use dex_primitives::{
    B256, Decimal, Lots, Market, MarketDef, OrderId, Side, Ticks, U256, UnixMillis,
};
use dex_test_utils::{T0, eth_usdc};

/// The time of every decision in these tests.
pub(crate) const NOW: UnixMillis = T0;

pub(crate) fn dec(text: &str) -> Decimal {
    text.parse().expect("test decimals are valid")
}

/// ETH/USDC: tick 0.01 USDC, lot 0.001 ETH.
pub(crate) fn market() -> Market {
    Market::new(eth_usdc()).expect("the test market is valid")
}

pub(crate) fn order_id(n: u64) -> OrderId {
    OrderId(B256::left_padding_from(&n.to_be_bytes()))
}

/// A price observed right now.
pub(crate) fn price(text: &str) -> ReferencePrice {
    ReferencePrice {
        price: dec(text),
        observed_at: NOW,
    }
}

/// Free balances, nothing locked.
pub(crate) fn balances(base: &str, quote: &str) -> Inventory {
    Inventory {
        base: AssetBalance {
            free: dec(base),
            locked: Decimal::ZERO,
        },
        quote: AssetBalance {
            free: dec(quote),
            locked: Decimal::ZERO,
        },
    }
}

pub(crate) fn live(id: u64, side: Side, price: u64, remaining: u64) -> LiveOrder {
    LiveOrder {
        id: order_id(id),
        side,
        price: Ticks(price),
        remaining: Lots(remaining),
    }
}

/// `(side, price, quantity)` of quotes, for compact assertions.
pub(crate) fn levels(quotes: &[Quote]) -> Vec<(Side, u64, u64)> {
    quotes
        .iter()
        .map(|quote| (quote.side, quote.price.0, quote.quantity.0))
        .collect()
}

fn units_to_decimal(units: U256, decimals: u8) -> Decimal {
    let units = i128::try_from(units).expect("test amounts fit in i128");
    Decimal::try_from_i128_with_scale(units, decimals.into()).expect("test amounts fit a Decimal")
}

/// What an order reserves: quote for a buy, base for a sell, in display units.
pub(crate) fn reservation(market: &Market, side: Side, price: Ticks, lots: Lots) -> Decimal {
    let amounts = market
        .fill_amounts(price, lots)
        .expect("test amounts do not overflow");
    match side {
        Side::Buy => units_to_decimal(amounts.quote, market.def().quote_decimals),
        Side::Sell => units_to_decimal(amounts.base, market.def().base_decimals),
    }
}

/// A node that carries decisions out the way the real one will: a cancel releases the
/// order's reservation to the free balance, a place reserves from it.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) market: Market,
    pub(crate) live: Vec<LiveOrder>,
    pub(crate) inventory: Inventory,
    next_id: u64,
}

impl Node {
    pub(crate) fn new(market: Market, inventory: Inventory) -> Node {
        Node {
            market,
            live: Vec::new(),
            inventory,
            next_id: 1_000_000,
        }
    }

    fn balance(&mut self, side: Side) -> &mut AssetBalance {
        match side {
            Side::Buy => &mut self.inventory.quote,
            Side::Sell => &mut self.inventory.base,
        }
    }

    /// Removes an order (cancelled by someone else), releasing its reservation.
    pub(crate) fn remove(&mut self, id: OrderId) -> LiveOrder {
        let index = self
            .live
            .iter()
            .position(|order| order.id == id)
            .expect("the order is live");
        let order = self.live.remove(index);
        let amount = reservation(&self.market, order.side, order.price, order.remaining);
        let balance = self.balance(order.side);
        balance.free += amount;
        balance.locked -= amount;
        order
    }

    /// Adds an order, reserving for it.
    pub(crate) fn add(&mut self, order: LiveOrder) {
        let amount = reservation(&self.market, order.side, order.price, order.remaining);
        let balance = self.balance(order.side);
        balance.free -= amount;
        balance.locked += amount;
        self.live.push(order);
    }

    pub(crate) fn apply(&mut self, decision: &Decision) {
        for cancel in &decision.cancels {
            self.remove(cancel.order);
        }
        for quote in &decision.places {
            self.next_id += 1;
            self.add(LiveOrder {
                id: order_id(self.next_id),
                side: quote.side,
                price: quote.price,
                remaining: quote.quantity,
            });
        }
    }
}

/// An exact non-negative product of decimals and integers, compared by cross-multiplying
/// in 1024 bits: independent of the strategy's own arithmetic.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Product {
    num: U1024,
    scale: u32,
}

impl Product {
    pub(crate) fn one() -> Product {
        Product {
            num: U1024::from(1u8),
            scale: 0,
        }
    }

    pub(crate) fn dec(self, value: Decimal) -> Product {
        assert!(!value.is_sign_negative() || value.is_zero());
        Product {
            num: self.num * U1024::from(value.mantissa().unsigned_abs()),
            scale: self.scale + value.scale(),
        }
    }

    pub(crate) fn int(self, value: u64) -> Product {
        Product {
            num: self.num * U1024::from(value),
            scale: self.scale,
        }
    }

    pub(crate) fn big(self, value: U1024) -> Product {
        Product {
            num: self.num * value,
            scale: self.scale,
        }
    }

    pub(crate) fn cmp(self, other: Product) -> Ordering {
        let ten = U1024::from(10u8);
        let scale = self.scale.max(other.scale);
        let left = self.num * ten.pow(U1024::from(scale - self.scale));
        let right = other.num * ten.pow(U1024::from(scale - other.scale));
        left.cmp(&right)
    }
}

/// A market with the same assets as ETH/USDC and other lot and tick sizes.
pub(crate) fn market_with(base_per_lot: U256, quote_per_tick_lot: U256) -> Option<Market> {
    Market::new(MarketDef {
        base_per_lot,
        quote_per_tick_lot,
        ..eth_usdc()
    })
    .ok()
}
