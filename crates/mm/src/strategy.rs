//! The quoting strategy: a reference price, the bot's live orders, its balances and `now`
//! in; a [`Decision`] out. No I/O, no clock, no async: the bot loop fetches the inputs,
//! calls [`Strategy::decide`] and carries the decision out.

use std::collections::HashSet;

use dex_primitives::{Decimal, Lots, Market, OrderId, Side, Ticks, UnixMillis};

use crate::{
    Error, StrategyConfig,
    config::BPS,
    decision::{
        Cancel, CancelReason, Context, Decision, DropReason, Kept, Limit, Note, Quote, Reason,
        outward_key,
    },
    exact::Exact,
};

/// The price the bot quotes around, in quote display units per base display unit (USDC per
/// ETH), and when it was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferencePrice {
    /// The price; it need not be on the tick grid.
    pub price: Decimal,
    /// When the price source produced it (unix ms), to tell a fresh price from a stale one.
    pub observed_at: UnixMillis,
}

/// One of the bot's own open orders, as the node reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOrder {
    /// The order id, used to cancel it.
    pub id: OrderId,
    /// Buy or sell.
    pub side: Side,
    /// Its price.
    pub price: Ticks,
    /// What is left of it; orders with nothing left are ignored (they are no longer open).
    pub remaining: Lots,
}

/// A balance of one asset, in display units (ETH, USDC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AssetBalance {
    /// Available for new orders now: on chain, not reserved by any open order and not
    /// locked in a swap.
    pub free: Decimal,
    /// Still the bot's but committed: reserved by open orders (its own and any others) or
    /// locked in swaps in flight.
    pub locked: Decimal,
}

/// What the bot holds of the market's two assets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Inventory {
    /// The base asset (ETH in ETH/USDC).
    pub base: AssetBalance,
    /// The quote asset (USDC in ETH/USDC).
    pub quote: AssetBalance,
}

/// A validated configuration bound to its market, ready to decide.
///
/// How a decision is made:
/// 1. **Halt checks.** A price older than `max_price_age_ms`, a price ≤ 0, a negative
///    balance or a repeated order id halts quoting: every live order is cancelled.
/// 2. **Inventory.** The base share of the portfolio's value (free + locked of both assets,
///    base valued at the reference price) gives the deviation from `inventory_target`,
///    scaled by `inventory_range` and clamped to [-1, 1].
/// 3. **Ladder.** Per side, level k sits at a distance of spread ± skew (never below
///    `min_spread_bps`) plus k × spacing from the reference price, rounded to a tick away
///    from it (bids down, asks up) and kept strictly on its side of it. Its size,
///    order_size + k × growth times the size skew, is rounded down to lots and capped at
///    `max_order_size`. Levels on the same tick merge into the inner one. Then, from the
///    reference price outwards, levels below `min_order_size` are dropped, and the balance
///    and exposure limits fill up; the first level a limit cuts is the last of its side.
/// 4. **Reconciliation.** A live order within `tolerance_bps` and `size_tolerance` of a
///    wanted quote (and still allowed by `min_spread_bps` and `max_order_size`) is kept in
///    its place. The pairing keeps as many live orders as possible, then the closest ones
///    (a minimum-cost assignment). If the kept orders together would break a limit or
///    share a tick, the ones that cause it are replaced after all. Every other live order
///    is cancelled and every unmatched wanted quote placed.
///
/// Everything is computed with exact fractions: the only rounding is to the tick and lot
/// grid, in the directions above. The result depends only on the inputs (not on the order
/// of the live orders).
#[derive(Debug, Clone)]
pub struct Strategy {
    config: StrategyConfig,
    market: Market,
    tick: Exact,
    lot: Exact,
    /// `min_order_size` in lots, rounded up, at least one.
    min_lots: u64,
    /// `max_order_size` in lots, rounded down; `u64::MAX` without a maximum.
    max_lots: u64,
}

/// The closest ticks each side may quote at: bids at most `bid`, asks at least `ask`.
/// `None` when no tick of that side is allowed.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    bid: Option<u64>,
    ask: Option<u64>,
}

impl Bounds {
    fn allows(&self, side: Side, price: Ticks) -> bool {
        match side {
            Side::Buy => self.bid.is_some_and(|bound| price.0 <= bound),
            Side::Sell => self.ask.is_some_and(|bound| price.0 >= bound),
        }
    }

    fn of(&self, side: Side) -> Option<Ticks> {
        match side {
            Side::Buy => self.bid,
            Side::Sell => self.ask,
        }
        .map(Ticks)
    }
}

/// What both sides' ladders are computed from.
#[derive(Debug, Clone, Copy)]
struct Pricing {
    /// The reference price.
    mid: Exact,
    /// The inventory deviation, in [-1, 1].
    deviation: Exact,
    /// The closest allowed ticks.
    bounds: Bounds,
}

/// What reconciliation decides about the live orders and the desired quotes.
#[derive(Debug)]
struct Reconciled {
    kept: Vec<Kept>,
    cancels: Vec<Cancel>,
    places: Vec<Quote>,
}

/// A ladder level before limits are applied.
#[derive(Debug, Clone, Copy)]
struct Level {
    level: u32,
    price: u64,
    lots: u64,
}

fn exact(value: Decimal) -> Exact {
    Exact::from_decimal(value)
}

fn int(value: u64) -> Exact {
    Exact::from_int(value.into())
}

/// `floor(value)` for a non-negative value, saturating at `u64::MAX`; 0 for negatives.
fn floor_saturating(value: Exact) -> u64 {
    if value.is_negative() {
        0
    } else {
        value.floor_u64().unwrap_or(u64::MAX)
    }
}

/// How many whole lots of `per_lot` fit in `room`.
fn lots_within(room: Exact, per_lot: Exact) -> Result<u64, Error> {
    if !room.is_positive() {
        return Ok(0);
    }
    Ok(floor_saturating(room.div(per_lot)?))
}

impl Strategy {
    /// Validates `config` for `market` (see [`StrategyConfig::validate`]).
    pub fn new(config: StrategyConfig, market: Market) -> Result<Strategy, Error> {
        config.validate(&market)?;
        let lot = exact(market.lot_size());
        let min_lots = exact(config.min_order_size)
            .div(lot)?
            .ceil_u64()
            .unwrap_or(u64::MAX)
            .max(1);
        let max_lots = match config.max_order_size {
            Some(max) => floor_saturating(exact(max).div(lot)?),
            None => u64::MAX,
        };
        Ok(Strategy {
            tick: exact(market.tick_size()),
            lot,
            min_lots,
            max_lots,
            config,
            market,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StrategyConfig {
        &self.config
    }

    /// The market quoted.
    pub fn market(&self) -> &Market {
        &self.market
    }

    /// Decides the quotes for this moment and the cancels and places that get there from
    /// `live_orders`. Never fails: inputs that make quoting unsafe give a halted decision
    /// that cancels every live order, with the reason.
    pub fn decide(
        &self,
        price: &ReferencePrice,
        live_orders: &[LiveOrder],
        inventory: &Inventory,
        now: UnixMillis,
    ) -> Decision {
        // A canonical order makes the decision independent of how the node listed them.
        let mut live: Vec<LiveOrder> = live_orders
            .iter()
            .filter(|order| !order.remaining.is_zero())
            .copied()
            .collect();
        live.sort_by_key(|order| {
            (
                outward_key(order.side, order.price),
                order.id,
                order.remaining,
            )
        });

        let result = self
            .check_inputs(price, &live, inventory, now)
            .and_then(|()| self.quote(price.price, &live, inventory));
        match result {
            Ok(decision) => decision,
            Err(error) => halt(error, &live),
        }
    }

    fn check_inputs(
        &self,
        price: &ReferencePrice,
        live: &[LiveOrder],
        inventory: &Inventory,
        now: UnixMillis,
    ) -> Result<(), Error> {
        // A price stamped in the future (clock skew with the source) counts as fresh.
        let age_ms = now.saturating_sub(price.observed_at);
        if age_ms > self.config.max_price_age_ms {
            return Err(Error::StalePrice {
                observed_at: price.observed_at,
                now,
                age_ms,
                max_age_ms: self.config.max_price_age_ms,
            });
        }
        if price.price <= Decimal::ZERO {
            return Err(Error::InvalidReferencePrice { price: price.price });
        }
        for (asset, balance) in [("base", inventory.base), ("quote", inventory.quote)] {
            for (field, value) in [("free", balance.free), ("locked", balance.locked)] {
                if value < Decimal::ZERO {
                    return Err(Error::NegativeBalance {
                        asset,
                        field,
                        value,
                    });
                }
            }
        }
        let mut seen = HashSet::new();
        if let Some(repeated) = live
            .iter()
            .filter(|order| !seen.insert(order.id))
            .map(|order| order.id)
            .min()
        {
            return Err(Error::DuplicateOrderId { id: repeated });
        }
        Ok(())
    }

    fn quote(
        &self,
        reference: Decimal,
        live: &[LiveOrder],
        inventory: &Inventory,
    ) -> Result<Decision, Error> {
        let config = &self.config;
        let mid = exact(reference);

        let base_total = exact(inventory.base.free).add(exact(inventory.base.locked))?;
        let quote_total = exact(inventory.quote.free).add(exact(inventory.quote.locked))?;
        let base_value = base_total.mul(mid)?;
        let total_value = base_value.add(quote_total)?;
        let (base_share, deviation) = if total_value.is_zero() {
            // Nothing to skew (and nothing to quote with).
            (None, Exact::ZERO)
        } else {
            let share = base_value.div(total_value)?;
            let deviation = share
                .sub(exact(config.inventory_target))?
                .div(exact(config.inventory_range))?
                .max(Exact::ONE.neg())
                .min(Exact::ONE);
            (Some(share), deviation)
        };

        let min_spread = exact(config.min_spread_bps);
        let skew = exact(config.inventory_skew_bps).mul(deviation)?;
        // More base than wanted (deviation > 0): bids further, asks closer.
        let bid_start = exact(config.bid_spread_bps).add(skew)?.max(min_spread);
        let ask_start = exact(config.ask_spread_bps).sub(skew)?.max(min_spread);

        let bounds = self.bounds(mid, min_spread)?;
        let (bid_budget, ask_budget) = self.budgets(live, inventory)?;

        let mut notes = Vec::new();
        let pricing = Pricing {
            mid,
            deviation,
            bounds,
        };
        let mut desired = self.ladder(Side::Buy, &pricing, bid_start, bid_budget, &mut notes)?;
        desired.extend(self.ladder(Side::Sell, &pricing, ask_start, ask_budget, &mut notes)?);

        let Reconciled {
            kept,
            cancels,
            places,
        } = self.reconcile(&desired, live, mid, bounds, (bid_budget, ask_budget))?;

        // Only for the log; a value too large for a Decimal shows as its maximum.
        let display = |value: Exact| value.to_display_decimal(4).unwrap_or(Decimal::MAX);
        Ok(Decision {
            reason: Reason::Quoting(Context {
                reference_price: reference,
                base_share: base_share.map(display),
                deviation: display(deviation),
                bid_offset_bps: display(bid_start),
                ask_offset_bps: display(ask_start),
            }),
            desired,
            kept,
            cancels,
            places,
            notes,
        })
    }

    /// The closest ticks allowed: strictly on each side of the reference price, and at
    /// least `min_spread_bps` away from it.
    fn bounds(&self, mid: Exact, min_spread: Exact) -> Result<Bounds, Error> {
        let bps = int(BPS.into());
        let mid_ticks = mid.div(self.tick)?;

        // The largest tick strictly below the reference (ceil ≥ 1 because mid > 0); beyond
        // u64 every tick is below it.
        let below_mid = mid_ticks
            .ceil_u64()
            .map_or(u64::MAX, |ceil| ceil.saturating_sub(1));
        let spread_bid = mid.mul(bps.sub(min_spread)?)?.div(bps)?.div(self.tick)?;
        let bid = below_mid.min(floor_saturating(spread_bid));

        let above_mid = mid_ticks.floor_u64().and_then(|floor| floor.checked_add(1));
        let spread_ask = mid
            .mul(bps.add(min_spread)?)?
            .div(bps)?
            .div(self.tick)?
            .ceil_u64();
        let ask = above_mid.zip(spread_ask).map(|(a, b)| a.max(b));

        Ok(Bounds {
            bid: (bid > 0).then_some(bid),
            ask,
        })
    }

    /// What each side may commit in total: the free balance plus what the bot's own live
    /// orders on that side reserve (they are either kept, and keep their reservation, or
    /// cancelled before anything is placed). Quote for bids, base for asks.
    fn budgets(&self, live: &[LiveOrder], inventory: &Inventory) -> Result<(Exact, Exact), Error> {
        let mut bids = exact(inventory.quote.free);
        let mut asks = exact(inventory.base.free);
        for order in live {
            match order.side {
                Side::Buy => bids = bids.add(self.value(order.price, order.remaining)?)?,
                Side::Sell => asks = asks.add(int(order.remaining.0).mul(self.lot)?)?,
            }
        }
        Ok((bids, asks))
    }

    /// Quote value of `lots` at `price`.
    fn value(&self, price: Ticks, lots: Lots) -> Result<Exact, Error> {
        self.per_lot_value(price)?.mul(int(lots.0))
    }

    /// Quote value of one lot at `price`.
    fn per_lot_value(&self, price: Ticks) -> Result<Exact, Error> {
        int(price.0).mul(self.tick)?.mul(self.lot)
    }

    /// One side's ladder: `start` is the first level's distance from the reference price
    /// in bps, `budget` what the side may commit (quote for bids, base for asks). What is
    /// merged, cut or dropped is added to `notes`.
    fn ladder(
        &self,
        side: Side,
        pricing: &Pricing,
        start: Exact,
        budget: Exact,
        notes: &mut Vec<Note>,
    ) -> Result<Vec<Quote>, Error> {
        let config = &self.config;
        let Pricing {
            mid,
            deviation,
            bounds,
        } = *pricing;
        let bps = int(BPS.into());
        let size_skew = exact(config.inventory_size_skew).mul(deviation)?;
        // More base than wanted: smaller bids, larger asks.
        let size_factor = match side {
            Side::Buy => Exact::ONE.sub(size_skew)?,
            Side::Sell => Exact::ONE.add(size_skew)?,
        };
        let drop =
            |notes: &mut Vec<Note>, level, why| notes.push(Note::Dropped { side, level, why });

        let mut levels: Vec<Level> = Vec::new();
        for level in 0..config.levels {
            let offset = exact(config.level_spacing_bps)
                .mul(int(level.into()))?
                .add(start)?;
            let price = match side {
                Side::Buy => {
                    let price = mid.mul(bps.sub(offset)?)?.div(bps)?;
                    // Round down, away from the reference price, and never above the bound.
                    let ticks = match bounds.bid {
                        Some(bound) if price.is_positive() => {
                            floor_saturating(price.div(self.tick)?).min(bound)
                        }
                        _ => 0,
                    };
                    if ticks == 0 {
                        drop(notes, level, DropReason::PriceNotPositive);
                        continue;
                    }
                    ticks
                }
                Side::Sell => {
                    let price = mid.mul(bps.add(offset)?)?.div(bps)?;
                    // Round up, away from the reference price, and never below the bound.
                    match (price.div(self.tick)?.ceil_u64(), bounds.ask) {
                        (Some(ticks), Some(bound)) => ticks.max(bound),
                        _ => {
                            drop(notes, level, DropReason::PriceOutOfRange);
                            continue;
                        }
                    }
                }
            };

            let size = exact(config.order_size_growth)
                .mul(int(level.into()))?
                .add(exact(config.order_size))?
                .mul(size_factor)?;
            // Round down: never quote more than asked for.
            let lots = floor_saturating(size.div(self.lot)?);
            if lots == 0 {
                drop(notes, level, DropReason::ZeroSize);
                continue;
            }
            let lots = self.cap_order_size(side, level, lots, notes);

            match levels.last_mut() {
                Some(inner) if inner.price == price => {
                    notes.push(Note::Merged {
                        side,
                        level,
                        into_level: inner.level,
                        price: Ticks(price),
                    });
                    let merged = inner.lots.saturating_add(lots);
                    inner.lots = self.cap_order_size(side, inner.level, merged, notes);
                }
                _ => levels.push(Level { level, price, lots }),
            }
        }

        // Limits fill from the reference price outwards.
        let mut used_base = Exact::ZERO;
        let mut used_quote = Exact::ZERO;
        let mut quotes = Vec::with_capacity(levels.len());
        let mut remaining_levels = levels.into_iter();
        while let Some(level) = remaining_levels.next() {
            if level.lots < self.min_lots {
                let why = DropReason::BelowMinSize {
                    quantity: Lots(level.lots),
                    min: Lots(self.min_lots),
                };
                drop(notes, level.level, why);
                continue;
            }
            let per_lot = self.per_lot_value(Ticks(level.price))?;
            let balance_room = match side {
                Side::Buy => lots_within(budget.sub(used_quote)?, per_lot)?,
                Side::Sell => lots_within(budget.sub(used_base)?, self.lot)?,
            };
            let mut tightest = (Limit::Balance, balance_room);
            if let Some(max) = config.max_exposure_base {
                let room = lots_within(exact(max).sub(used_base)?, self.lot)?;
                if room < tightest.1 {
                    tightest = (Limit::MaxExposureBase, room);
                }
            }
            if let Some(max) = config.max_exposure_quote {
                let room = lots_within(exact(max).sub(used_quote)?, per_lot)?;
                if room < tightest.1 {
                    tightest = (Limit::MaxExposureQuote, room);
                }
            }
            let (limit, room) = tightest;
            if room >= level.lots {
                used_base = used_base.add(int(level.lots).mul(self.lot)?)?;
                used_quote = used_quote.add(per_lot.mul(int(level.lots))?)?;
                quotes.push(Quote {
                    side,
                    level: level.level,
                    price: Ticks(level.price),
                    quantity: Lots(level.lots),
                });
                continue;
            }
            // The first level a limit cuts is the last of the side: no gaps in the ladder.
            if room >= self.min_lots {
                notes.push(Note::Cut {
                    side,
                    level: level.level,
                    from: Lots(level.lots),
                    to: Lots(room),
                    limit,
                });
                quotes.push(Quote {
                    side,
                    level: level.level,
                    price: Ticks(level.price),
                    quantity: Lots(room),
                });
            } else {
                drop(notes, level.level, DropReason::Limit(limit));
            }
            for deeper in remaining_levels.by_ref() {
                drop(notes, deeper.level, DropReason::Limit(limit));
            }
        }
        Ok(quotes)
    }

    fn cap_order_size(&self, side: Side, level: u32, lots: u64, notes: &mut Vec<Note>) -> u64 {
        if lots > self.max_lots {
            notes.push(Note::Cut {
                side,
                level,
                from: Lots(lots),
                to: Lots(self.max_lots),
                limit: Limit::MaxOrderSize,
            });
        }
        lots.min(self.max_lots)
    }

    /// Matches live orders with desired quotes: the smallest change that reaches the
    /// ladder. Returns the kept orders, the cancels and the places.
    fn reconcile(
        &self,
        desired: &[Quote],
        live: &[LiveOrder],
        mid: Exact,
        bounds: Bounds,
        budgets: (Exact, Exact),
    ) -> Result<Reconciled, Error> {
        let config = &self.config;
        let tolerance_ticks = exact(config.tolerance_bps)
            .mul(mid)?
            .div(int(BPS.into()))?
            .div(self.tick)?;
        let size_tolerance = exact(config.size_tolerance);

        let mut reasons: Vec<Option<CancelReason>> = vec![None; live.len()];
        let mut eligible = Vec::with_capacity(live.len());
        for (live_index, order) in live.iter().enumerate() {
            // A live order closer than the bound (the price moved towards it) must go even
            // if it is within tolerance of a wanted quote.
            if !bounds.allows(order.side, order.price) {
                reasons[live_index] = Some(CancelReason::InsideMinSpread {
                    bound: bounds.of(order.side),
                });
            } else if order.remaining.0 > self.max_lots {
                reasons[live_index] = Some(CancelReason::Limit(Limit::MaxOrderSize));
            } else {
                eligible.push(live_index);
            }
        }
        let mut live_match: Vec<Option<usize>> = vec![None; live.len()];
        let mut desired_match: Vec<Option<usize>> = vec![None; desired.len()];
        for side in [Side::Buy, Side::Sell] {
            let live_side: Vec<usize> = eligible
                .iter()
                .copied()
                .filter(|&live_index| live[live_index].side == side)
                .collect();
            let desired_side: Vec<usize> = (0..desired.len())
                .filter(|&desired_index| desired[desired_index].side == side)
                .collect();
            let tolerance = Tolerance {
                ticks: tolerance_ticks,
                size: size_tolerance,
            };
            for (live_index, desired_index) in
                best_matching(&live_side, &desired_side, live, desired, tolerance)?
            {
                live_match[live_index] = Some(desired_index);
                desired_match[desired_index] = Some(live_index);
            }
        }

        // Kept orders differ a little from the quotes they stand for. Together with the
        // placed quotes they must still share no tick and break no limit; when they do, the
        // kept order that causes it is replaced by its quote after all, and we look again.
        // This ends: every round replaces one order, and with none kept the ladder holds.
        while let Some((live_index, reason)) =
            self.first_conflict(desired, live, &live_match, &desired_match, budgets)?
        {
            if let Some(desired_index) = live_match[live_index].take() {
                desired_match[desired_index] = None;
            }
            reasons[live_index] = Some(reason);
        }

        let mut kept = Vec::new();
        let mut cancels = Vec::new();
        for (live_index, order) in live.iter().enumerate() {
            match live_match[live_index] {
                Some(desired_index) => kept.push(Kept {
                    order: order.id,
                    quote: Quote {
                        side: order.side,
                        level: desired[desired_index].level,
                        price: order.price,
                        quantity: order.remaining,
                    },
                }),
                None => cancels.push(Cancel {
                    order: order.id,
                    side: order.side,
                    price: order.price,
                    remaining: order.remaining,
                    reason: reasons[live_index].unwrap_or_else(|| CancelReason::OffTarget {
                        nearest: nearest(desired, order),
                    }),
                }),
            }
        }
        let mut places: Vec<Quote> = desired
            .iter()
            .zip(&desired_match)
            .filter(|(_, matched)| matched.is_none())
            .map(|(quote, _)| *quote)
            .collect();
        // Inner levels first: they matter most if the loop is interrupted half-way.
        places.sort_by_key(|quote| (quote.level, quote.side));
        Ok(Reconciled {
            kept,
            cancels,
            places,
        })
    }

    /// The first kept order (if any) that, with the other resulting quotes, shares a tick
    /// or breaks a limit, and why.
    fn first_conflict(
        &self,
        desired: &[Quote],
        live: &[LiveOrder],
        live_match: &[Option<usize>],
        desired_match: &[Option<usize>],
        (bid_budget, ask_budget): (Exact, Exact),
    ) -> Result<Option<(usize, CancelReason)>, Error> {
        for side in [Side::Buy, Side::Sell] {
            let placed = desired
                .iter()
                .zip(desired_match)
                .filter(|(quote, matched)| quote.side == side && matched.is_none())
                .map(|(quote, _)| (quote.price, quote.quantity));
            let kept: Vec<(usize, usize)> = live
                .iter()
                .enumerate()
                .filter(|(_, order)| order.side == side)
                .filter_map(|(live_index, _)| live_match[live_index].map(|d| (live_index, d)))
                .collect();

            let mut ticks: HashSet<Ticks> = placed.clone().map(|(price, _)| price).collect();
            for &(live_index, _) in &kept {
                if !ticks.insert(live[live_index].price) {
                    return Ok(Some((live_index, CancelReason::SameTick)));
                }
            }

            let resulting = placed.chain(
                kept.iter()
                    .map(|&(live_index, _)| (live[live_index].price, live[live_index].remaining)),
            );
            let mut base_total = Exact::ZERO;
            let mut quote_total = Exact::ZERO;
            for (price, lots) in resulting {
                base_total = base_total.add(int(lots.0).mul(self.lot)?)?;
                quote_total = quote_total.add(self.value(price, lots)?)?;
            }
            let balance = match side {
                Side::Buy => (Limit::Balance, false, Some(bid_budget)),
                Side::Sell => (Limit::Balance, true, Some(ask_budget)),
            };
            let config = &self.config;
            let limits = [
                balance,
                (
                    Limit::MaxExposureBase,
                    true,
                    config.max_exposure_base.map(exact),
                ),
                (
                    Limit::MaxExposureQuote,
                    false,
                    config.max_exposure_quote.map(exact),
                ),
            ];
            for (limit, in_base, max) in limits {
                let Some(max) = max else { continue };
                let total = if in_base { base_total } else { quote_total };
                if total <= max {
                    continue;
                }
                // Some kept order must weigh more than its quote (the ladder alone fits):
                // replace the one that weighs the most more.
                let measure = |price: Ticks, lots: Lots| {
                    if in_base {
                        int(lots.0).mul(self.lot)
                    } else {
                        self.value(price, lots)
                    }
                };
                let mut heaviest: Option<(Exact, usize)> = None;
                for &(live_index, desired_index) in &kept {
                    let order = &live[live_index];
                    let quote = &desired[desired_index];
                    let excess = measure(order.price, order.remaining)?
                        .sub(measure(quote.price, quote.quantity)?)?;
                    if heaviest.is_none_or(|(most, _)| excess > most) {
                        heaviest = Some((excess, live_index));
                    }
                }
                if let Some((_, live_index)) = heaviest {
                    return Ok(Some((live_index, CancelReason::Limit(limit))));
                }
            }
        }
        Ok(None)
    }
}

/// How far a live order may be from a desired quote and still stand for it.
#[derive(Debug, Clone, Copy)]
struct Tolerance {
    /// Price distance, in ticks.
    ticks: Exact,
    /// Size distance, as a fraction of the desired size.
    size: Exact,
}

/// The cost of a pairing in the assignment below, compared lexicographically: first how
/// many orders and quotes are left unmatched, then the total price gap, then the total
/// size gap. A group under componentwise addition, which is all the Hungarian method needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
struct Cost(i128, i128, i128);

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, other: Cost) -> Cost {
        Cost(self.0 + other.0, self.1 + other.1, self.2 + other.2)
    }
}

impl std::ops::Sub for Cost {
    type Output = Cost;
    fn sub(self, other: Cost) -> Cost {
        Cost(self.0 - other.0, self.1 - other.1, self.2 - other.2)
    }
}

/// The best matching of one side's live orders (`live_side`) with its desired quotes
/// (`desired_side`), as pairs of indexes into `live` and `desired`: the most live orders
/// kept, then the smallest total price gap, then the smallest total size gap.
///
/// It is a minimum-cost assignment (the Hungarian method, O(n³) for n = live + desired
/// orders of the side, a few hundred at most). Simpler pairings fall short: closest-first
/// can take the one quote an order could stand for, and an order-preserving (non-crossing)
/// pairing misses matchings that the size tolerance makes cross. Either would churn orders
/// that could have stayed.
fn best_matching(
    live_side: &[usize],
    desired_side: &[usize],
    live: &[LiveOrder],
    desired: &[Quote],
    tolerance: Tolerance,
) -> Result<Vec<(usize, usize)>, Error> {
    // The gaps of every pair within both tolerances.
    let mut pairs: Vec<(usize, usize, Cost)> = Vec::new();
    for (row, &live_index) in live_side.iter().enumerate() {
        let order = &live[live_index];
        for (column, &desired_index) in desired_side.iter().enumerate() {
            let quote = &desired[desired_index];
            let price_gap = order.price.0.abs_diff(quote.price.0);
            let size_gap = order.remaining.0.abs_diff(quote.quantity.0);
            if int(price_gap) <= tolerance.ticks
                && int(size_gap) <= tolerance.size.mul(int(quote.quantity.0))?
            {
                pairs.push((row, column, Cost(0, price_gap.into(), size_gap.into())));
            }
        }
    }
    // Orders and quotes without any such pair cannot be matched: leave them out, which
    // keeps the assignment small even with many stray live orders.
    let mut rows: Vec<usize> = pairs.iter().map(|&(row, ..)| row).collect();
    let mut columns: Vec<usize> = pairs.iter().map(|&(_, column, _)| column).collect();
    rows.sort_unstable();
    rows.dedup();
    columns.sort_unstable();
    columns.dedup();
    if pairs.is_empty() {
        return Ok(Vec::new());
    }

    // A square problem: rows are the live orders then one "unmatched" row per quote;
    // columns are the quotes then one "unmatched" column per live order. Leaving an order
    // or a quote unmatched costs 1 each, so a match (cost 0 plus its gaps) saves 2, and a
    // pair outside the tolerances (cost 3) is never worth taking.
    let (real_rows, real_columns) = (rows.len(), columns.len());
    let size = real_rows + real_columns;
    let unmatched = Cost(1, 0, 0);
    let forbidden = Cost(3, 0, 0);
    let mut cost = vec![Cost::default(); size * size];
    for row in 0..size {
        for column in 0..size {
            cost[row * size + column] = match (row < real_rows, column < real_columns) {
                (true, true) => forbidden,
                (true, false) | (false, true) => unmatched,
                (false, false) => Cost::default(),
            };
        }
    }
    for (row, column, gaps) in pairs {
        let row = rows
            .binary_search(&row)
            .expect("every pair put its row in the list");
        let column = columns
            .binary_search(&column)
            .expect("every pair put its column in the list");
        cost[row * size + column] = gaps;
    }
    let assignment = assign(&cost, size);
    Ok((0..real_rows)
        .filter_map(|row| {
            let column = assignment[row];
            (column < real_columns && cost[row * size + column] < unmatched)
                .then(|| (live_side[rows[row]], desired_side[columns[column]]))
        })
        .collect())
}

/// The Hungarian method with potentials on a `size` × `size` cost matrix (row-major):
/// the column assigned to each row, minimising the total cost. Deterministic.
fn assign(cost: &[Cost], size: usize) -> Vec<usize> {
    // Larger than any real total (at most 3 per row in the first component).
    let infinity = Cost(i128::from(u32::MAX), 0, 0);
    // 1-based with a virtual column 0, as in the classic formulation.
    let mut row_potential = vec![Cost::default(); size + 1];
    let mut column_potential = vec![Cost::default(); size + 1];
    let mut row_of_column = vec![0usize; size + 1];
    let mut way = vec![0usize; size + 1];
    for row in 1..=size {
        row_of_column[0] = row;
        let mut column = 0;
        let mut min_slack = vec![infinity; size + 1];
        let mut used = vec![false; size + 1];
        loop {
            used[column] = true;
            let current_row = row_of_column[column];
            let mut delta = infinity;
            let mut next_column = 0;
            for candidate in 1..=size {
                if used[candidate] {
                    continue;
                }
                let slack = cost[(current_row - 1) * size + candidate - 1]
                    - row_potential[current_row]
                    - column_potential[candidate];
                if slack < min_slack[candidate] {
                    min_slack[candidate] = slack;
                    way[candidate] = column;
                }
                if min_slack[candidate] < delta {
                    delta = min_slack[candidate];
                    next_column = candidate;
                }
            }
            for candidate in 0..=size {
                if used[candidate] {
                    row_potential[row_of_column[candidate]] =
                        row_potential[row_of_column[candidate]] + delta;
                    column_potential[candidate] = column_potential[candidate] - delta;
                } else {
                    min_slack[candidate] = min_slack[candidate] - delta;
                }
            }
            column = next_column;
            if row_of_column[column] == 0 {
                break;
            }
        }
        // Flip the augmenting path.
        loop {
            let previous = way[column];
            row_of_column[column] = row_of_column[previous];
            column = previous;
            if column == 0 {
                break;
            }
        }
    }
    let mut column_of_row = vec![0usize; size];
    for column in 1..=size {
        column_of_row[row_of_column[column] - 1] = column - 1;
    }
    column_of_row
}

/// The wanted quote on the order's side closest to it in price (the inner one on a tie).
fn nearest(desired: &[Quote], order: &LiveOrder) -> Option<Quote> {
    desired
        .iter()
        .filter(|quote| quote.side == order.side)
        .min_by_key(|quote| (quote.price.0.abs_diff(order.price.0), quote.level))
        .copied()
}

/// Cancels every live order (each id once), places nothing.
fn halt(reason: Error, live: &[LiveOrder]) -> Decision {
    let mut seen = HashSet::new();
    let cancels = live
        .iter()
        .filter(|order| seen.insert(order.id))
        .map(|order| Cancel {
            order: order.id,
            side: order.side,
            price: order.price,
            remaining: order.remaining,
            reason: CancelReason::Halted,
        })
        .collect();
    Decision {
        reason: Reason::Halted(reason),
        desired: Vec::new(),
        kept: Vec::new(),
        cancels,
        places: Vec::new(),
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The smallest total over every permutation, by brute force.
    fn brute_force(cost: &[Cost], size: usize) -> Cost {
        fn walk(cost: &[Cost], size: usize, row: usize, used: &mut Vec<bool>, total: Cost) -> Cost {
            if row == size {
                return total;
            }
            let mut best = None;
            for column in 0..size {
                if !used[column] {
                    used[column] = true;
                    let candidate =
                        walk(cost, size, row + 1, used, total + cost[row * size + column]);
                    used[column] = false;
                    best = Some(best.map_or(candidate, |best: Cost| best.min(candidate)));
                }
            }
            best.expect("size > 0")
        }
        walk(cost, size, 0, &mut vec![false; size], Cost::default())
    }

    fn order(id: u8, side: Side, price: u64, remaining: u64) -> LiveOrder {
        LiveOrder {
            id: OrderId(dex_primitives::B256::with_last_byte(id)),
            side,
            price: Ticks(price),
            remaining: Lots(remaining),
        }
    }

    fn quote(level: u32, side: Side, price: u64, quantity: u64) -> Quote {
        Quote {
            side,
            level,
            price: Ticks(price),
            quantity: Lots(quantity),
        }
    }

    fn tolerance(ticks: u64, size: &str) -> Tolerance {
        Tolerance {
            ticks: int(ticks),
            size: exact(size.parse().unwrap()),
        }
    }

    #[test]
    fn matching_keeps_every_order_even_when_the_pairs_cross() {
        // Found by the idempotence property: the order in the middle (481 lots) only fits
        // the outer quote's size, so keeping all three needs crossing pairs.
        let live = [
            order(1, Side::Sell, 22_032, 219),
            order(2, Side::Sell, 22_033, 481),
            order(3, Side::Sell, 22_034, 270),
        ];
        let desired = [
            quote(0, Side::Sell, 22_032, 219),
            quote(1, Side::Sell, 22_034, 270),
            quote(2, Side::Sell, 22_035, 320),
        ];
        let pairs =
            best_matching(&[0, 1, 2], &[0, 1, 2], &live, &desired, tolerance(5, "0.6")).unwrap();
        assert_eq!(pairs, [(0, 0), (1, 2), (2, 1)]);
    }

    #[test]
    fn matching_is_not_greedy() {
        // Closest first would pair 100 with the quote at 103 (gap 3) and leave 107 without
        // any (95 is 12 away); 100 with 95 and 107 with 103 keeps both.
        let live = [order(1, Side::Sell, 100, 10), order(2, Side::Sell, 107, 10)];
        let desired = [quote(0, Side::Sell, 95, 10), quote(1, Side::Sell, 103, 10)];
        let pairs = best_matching(&[0, 1], &[0, 1], &live, &desired, tolerance(5, "0")).unwrap();
        assert_eq!(pairs, [(0, 0), (1, 1)]);
    }

    proptest! {
        /// The assignment is a permutation with the minimum lexicographic total.
        #[test]
        fn assignment_is_optimal(
            size in 1usize..=6,
            entries in proptest::collection::vec((0i128..4, 0i128..5, 0i128..5), 36),
        ) {
            let cost: Vec<Cost> = entries[..size * size]
                .iter()
                .map(|&(a, b, c)| Cost(a, b, c))
                .collect();
            let columns = assign(&cost, size);
            let mut seen = columns.clone();
            seen.sort_unstable();
            seen.dedup();
            prop_assert_eq!(seen.len(), size);
            let total = columns
                .iter()
                .enumerate()
                .fold(Cost::default(), |total, (row, &column)| total + cost[row * size + column]);
            prop_assert_eq!(total, brute_force(&cost, size));
        }
    }
}
