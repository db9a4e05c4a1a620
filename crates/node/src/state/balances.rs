//! Balances in the pure core: what each trader key holds on chain (as the shell last read
//! it), what its swaps are about to lock or have locked, and what its open orders reserve;
//! from these, what a new order may still lock.
//!
//! # Staleness
//! On-chain balances are read by the shell every `balance_refresh` (and right after each
//! own transaction or chain event), never while an order waits. An order is judged against
//! the latest reading, so the judgement is as old as that reading:
//! - funds that arrived since (a claim, a refund, a deposit) are not counted yet: the check
//!   is conservative there;
//! - a lock of ours stays counted as "about to lock" until a reading started after the
//!   node saw the lock on chain, so a lock is never missing from both the balance and the
//!   swaps (it may be in both for a moment: conservative again);
//! - funds that left the account by other means (a transfer from another wallet using the
//!   same key) are only known at the next reading: an order placed meanwhile may be
//!   accepted, and its swap's lock then fails on chain and the swap unwinds.

use std::collections::HashMap;

use dex_primitives::{Address, Lots, Order, OrderId, Side, U256, UnixMillis, VerifiedOrder};
use dex_store::OrderStatus as StoredStatus;
use dex_swap::{Leg, Role, SwapId};

use super::NodeState;
use crate::{Error, SettlementConfig};

/// One asset of one trader: (trader, chain id, token; `0x0…0` is the native coin).
pub(crate) type AssetKey = (Address, u64, Address);

/// An on-chain balance read by a chain's event loop (or by a simulator driving the core).
pub use dex_chain::BalanceReading;

/// The balance of one asset of one trader key, as [`crate::NodeHandle::balances`] reports
/// it. Amounts are in the asset's base units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    /// The trader key's address.
    pub trader: Address,
    /// The chain.
    pub chain_id: u64,
    /// The token; `0x0…0` is the chain's native coin.
    pub token: Address,
    /// Display symbol from the market config.
    pub symbol: Option<String>,
    /// Decimals from the market config.
    pub decimals: Option<u8>,
    /// Held on chain, as last read (0 before the first reading).
    pub on_chain: U256,
    /// Locked or about to be locked by this trader's swaps in progress (its own leg).
    pub locked_in_swaps: U256,
    /// Reserved by this trader's open orders (remaining quantity at the limit price).
    pub reserved_by_orders: U256,
    /// Kept back for gas (native coins only).
    pub gas_reserve: U256,
    /// What a new order may lock: on chain, less what swaps are about to lock (not yet on
    /// chain), what orders reserve and the gas reserve; never below 0.
    pub free: U256,
    /// When the on-chain amount was read (local unix ms); `None`: not read yet.
    pub read_at: Option<UnixMillis>,
}

/// The balance book-keeping of the trading state.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Latest reading per asset: amount and when its read started.
    on_chain: HashMap<AssetKey, (U256, UnixMillis)>,
    /// Sum of what open own orders reserve, per asset (kept up to date incrementally, so a
    /// placement costs the same with 10 or 100,000 open orders).
    reserved: HashMap<AssetKey, U256>,
    /// When this node first saw its own lock of a swap on chain.
    locks_seen: HashMap<SwapId, UnixMillis>,
    /// Gas reserve per chain.
    gas_reserves: HashMap<u64, U256>,
    /// Latest fee per gas a transaction would offer, per chain (wei).
    max_fees: HashMap<u64, u128>,
    /// See [`SettlementConfig::gas_safety_percent`].
    gas_safety_percent: u64,
}

impl Ledger {
    pub(crate) fn new(config: &SettlementConfig) -> Ledger {
        Ledger {
            gas_reserves: config
                .chains
                .iter()
                .map(|chain| (chain.chain_id, config.gas_reserve(chain.chain_id)))
                .collect(),
            gas_safety_percent: config.gas_safety_percent,
            ..Ledger::default()
        }
    }

    fn gas_reserve(&self, chain_id: u64, token: Address) -> U256 {
        if token != Address::ZERO {
            return U256::ZERO;
        }
        self.gas_reserves
            .get(&chain_id)
            .copied()
            .unwrap_or(crate::config::DEFAULT_GAS_RESERVE)
    }

    /// This node sees its own lock of a swap on chain (at `now`, the first time counts):
    /// remembered for the staleness rule.
    pub(crate) fn locks_seen_once(&mut self, swap_id: SwapId, now: UnixMillis) {
        self.locks_seen.entry(swap_id).or_insert(now);
    }

    /// A swap of ours ended: its lock no longer matters here.
    pub(crate) fn forget_swap(&mut self, swap_id: &SwapId) {
        self.locks_seen.remove(swap_id);
    }
}

/// What the swaps of one asset hold: (locked or about to be, not yet in the balance read).
#[derive(Debug, Default, Clone, Copy)]
struct SwapHold {
    total: U256,
    unread: U256,
}

impl SwapHold {
    /// What a new order may still lock of the asset: `on_chain`, less what these swaps are
    /// about to lock, what orders reserve and the gas reserve; never below 0.
    fn free(self, on_chain: U256, reserved: U256, gas_reserve: U256) -> U256 {
        on_chain
            .saturating_sub(self.unread)
            .saturating_sub(reserved)
            .saturating_sub(gas_reserve)
    }
}

impl NodeState {
    /// The asset an order locks when it trades `lots`, and how much of it.
    pub(crate) fn order_asset(&self, order: &Order, lots: Lots) -> Option<(AssetKey, U256)> {
        let market = self.markets.get(&order.market)?;
        let def = market.def();
        let amounts = market.fill_amounts(order.price, lots).ok()?;
        Some(match order.side {
            Side::Sell => ((order.maker, def.base_chain, def.base_token), amounts.base),
            Side::Buy => (
                (order.maker, def.quote_chain, def.quote_token),
                amounts.quote,
            ),
        })
    }

    /// Recomputes what own order `id` reserves (after any change to it) and keeps the
    /// per-asset sums in step.
    pub(crate) fn account_own(&mut self, id: OrderId) {
        let Some(own) = self.trading.as_ref().and_then(|t| t.own.get(&id)) else {
            return;
        };
        let order = own.order.order();
        let lots = if own.status != StoredStatus::Open {
            Lots::ZERO
        } else if own.in_book {
            self.books
                .get(&order.market)
                .and_then(|state| state.book.get(&id))
                .map_or(Lots::ZERO, |view| view.remaining)
        } else {
            own.remaining
        };
        let Some((key, amount)) = self.order_asset(order, lots) else {
            return;
        };
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        let Some(own) = trading.own.get_mut(&id) else {
            return;
        };
        let previous = std::mem::replace(&mut own.reserving, amount);
        if previous == amount {
            return;
        }
        let sum = trading.ledger.reserved.entry(key).or_default();
        *sum = sum.saturating_sub(previous).saturating_add(amount);
    }

    /// The shell read balances of chain `chain_id`.
    pub fn set_balances(&mut self, chain_id: u64, readings: Vec<BalanceReading>) {
        let Some(trading) = self.trading.as_mut() else {
            return;
        };
        for reading in readings {
            let key = (reading.owner, chain_id, reading.token);
            let slot = trading
                .ledger
                .on_chain
                .entry(key)
                .or_insert((reading.amount, reading.started_at));
            // Readings may arrive out of order after a retry: keep the latest started.
            if reading.started_at >= slot.1 {
                *slot = (reading.amount, reading.started_at);
            }
        }
    }

    /// The shell read what a transaction on `chain_id` would offer per gas now (wei).
    pub fn set_max_fee_per_gas(&mut self, chain_id: u64, fee: u128) {
        if let Some(trading) = self.trading.as_mut() {
            trading.ledger.max_fees.insert(chain_id, fee);
        }
    }

    /// Refuses a trade of `order` whose transactions its maker could not pay for: on the
    /// chain of the asset it gives, an approval (ERC-20), a lock and a refund; on the chain
    /// of the asset it gets, a claim ([`dex_chain::HTLC_GAS`]), at the chain's latest fee
    /// per gas times the safety percentage, out of the native coin not locked by swaps nor
    /// reserved by orders. `reserved` says whether the order's own reservation is counted
    /// already (a resting order); a new one's comes off too when it locks the native coin.
    pub(crate) fn check_gas(&self, order: &Order, reserved: bool) -> Result<(), Error> {
        let (Some(market), Some(trading)) =
            (self.markets.get(&order.market), self.trading.as_ref())
        else {
            return Ok(());
        };
        let def = market.def();
        let (give_chain, give_token, get_chain) = match order.side {
            Side::Sell => (def.base_chain, def.base_token, def.quote_chain),
            Side::Buy => (def.quote_chain, def.quote_token, def.base_chain),
        };
        let gas = dex_chain::HTLC_GAS;
        let approve = if give_token == Address::ZERO {
            0
        } else {
            gas.approve
        };
        let mut needs = vec![(give_chain, approve + gas.lock + gas.refund)];
        if get_chain == give_chain {
            needs[0].1 += gas.claim;
        } else {
            needs.push((get_chain, gas.claim));
        }
        let ledger = &trading.ledger;
        for (chain_id, units) in needs {
            let key = (order.maker, chain_id, Address::ZERO);
            let (Some(fee), true) = (
                ledger.max_fees.get(&chain_id),
                ledger.on_chain.contains_key(&key),
            ) else {
                return Err(Error::BalanceUnknown {
                    chain_id,
                    token: Address::ZERO,
                });
            };
            let needed = U256::from(units)
                .saturating_mul(U256::from(*fee))
                .saturating_mul(U256::from(ledger.gas_safety_percent))
                / U256::from(100u64);
            let hold = self
                .swap_holds(Some(key))
                .get(&key)
                .copied()
                .unwrap_or_default();
            // Free for gas: on chain, less what swaps are about to lock and orders reserve
            // (the gas reserve, which orders may not lock, is for gas).
            let on_chain = ledger
                .on_chain
                .get(&key)
                .map_or(U256::ZERO, |(amount, _)| *amount);
            let reserved_by_orders = ledger.reserved.get(&key).copied().unwrap_or_default();
            let mut available = hold.free(on_chain, reserved_by_orders, U256::ZERO);
            if !reserved
                && let Some((own_key, amount)) = self.order_asset(order, order.quantity)
                && own_key == key
            {
                available = available.saturating_sub(amount);
            }
            if needed > available {
                return Err(Error::InsufficientGas {
                    chain_id,
                    needed,
                    available,
                });
            }
        }
        Ok(())
    }

    /// Whether own order `id` reserves its asset now with its remaining quantity in the book
    /// (what `account_own` counts for a resting order).
    fn order_reserves(&self, id: &OrderId) -> bool {
        let Some(own) = self.trading.as_ref().and_then(|t| t.own.get(id)) else {
            return false;
        };
        own.rests_open()
            && self
                .books
                .get(&own.order.market())
                .is_some_and(|state| state.book.get(id).is_some())
    }

    /// What this node's swaps in progress hold of each asset (of `only`, if given).
    fn swap_holds(&self, only: Option<AssetKey>) -> HashMap<AssetKey, SwapHold> {
        let mut holds: HashMap<AssetKey, SwapHold> = HashMap::new();
        let Some(trading) = self.trading.as_ref() else {
            return holds;
        };
        for (swap_id, entry) in trading.swaps.iter() {
            let params = entry.swap.params();
            let leg = Leg::of(params.role);
            // A maker's quantity is its order's until the reservation is committed, while
            // its order still reserves it (open in the book, the reservation inside its
            // remaining). Once the order is gone (cancelled or expired with the take still
            // reserved) the swap holds it: it is owed to the taker who locks. A taker's is
            // the swap's from the start.
            let committed = params.role == Role::Taker
                || trading.swaps.is_committed(swap_id)
                || entry.swap.lock(leg).is_some()
                || !self.order_reserves(&entry.record.own_order_id);
            if !committed {
                continue;
            }
            let terms = params.leg(leg);
            let key = (terms.sender, terms.chain_id, terms.token);
            if only.is_some_and(|only| only != key) {
                continue;
            }
            let hold = holds.entry(key).or_default();
            hold.total = hold.total.saturating_add(terms.amount);
            let read_after_lock = match (
                trading.ledger.locks_seen.get(swap_id),
                trading.ledger.on_chain.get(&key),
            ) {
                (Some(seen), Some((_, started))) => *started > *seen,
                _ => false,
            };
            if entry.swap.lock(leg).is_none() || !read_after_lock {
                hold.unread = hold.unread.saturating_add(terms.amount);
            }
        }
        holds
    }

    fn balance_of(&self, key: AssetKey, holds: &HashMap<AssetKey, SwapHold>) -> Balance {
        let (trader, chain_id, token) = key;
        let (symbol, decimals) = self
            .markets
            .iter()
            .find_map(|market| {
                let def = market.def();
                if def.base_chain == chain_id && def.base_token == token {
                    Some((def.base_symbol.clone(), def.base_decimals))
                } else if def.quote_chain == chain_id && def.quote_token == token {
                    Some((def.quote_symbol.clone(), def.quote_decimals))
                } else {
                    None
                }
            })
            .unzip();
        // A chain's native coin that no market trades: 18 decimals, as every EVM chain's.
        let (symbol, decimals) = match (symbol, decimals) {
            (None, None) if token == Address::ZERO => (Some("native".to_owned()), Some(18)),
            known => known,
        };
        let (ledger, reading) = match self.trading.as_ref() {
            Some(trading) => (
                Some(&trading.ledger),
                trading.ledger.on_chain.get(&key).copied(),
            ),
            None => (None, None),
        };
        let hold = holds.get(&key).copied().unwrap_or_default();
        let reserved = ledger
            .and_then(|ledger| ledger.reserved.get(&key).copied())
            .unwrap_or_default();
        let gas_reserve = ledger.map_or(U256::ZERO, |ledger| ledger.gas_reserve(chain_id, token));
        let on_chain = reading.map_or(U256::ZERO, |(amount, _)| amount);
        let free = hold.free(on_chain, reserved, gas_reserve);
        Balance {
            trader,
            chain_id,
            token,
            symbol,
            decimals,
            on_chain,
            locked_in_swaps: hold.total,
            reserved_by_orders: reserved,
            gas_reserve,
            free,
            read_at: reading.map(|(_, at)| at),
        }
    }

    /// The assets of the configured markets, and the native coin of each of their chains
    /// (it pays for the swaps' transactions there), per trader key, sorted.
    pub(crate) fn assets(&self) -> Vec<AssetKey> {
        let mut assets = Vec::new();
        for trader in self.traders.keys() {
            for market in self.markets.iter() {
                let def = market.def();
                assets.push((*trader, def.base_chain, def.base_token));
                assets.push((*trader, def.quote_chain, def.quote_token));
                assets.push((*trader, def.base_chain, Address::ZERO));
                assets.push((*trader, def.quote_chain, Address::ZERO));
            }
        }
        assets.sort_unstable();
        assets.dedup();
        assets
    }

    /// Every trader key's balance of every asset of the configured markets. Empty for a
    /// relay node.
    pub fn balances(&self) -> Vec<Balance> {
        if self.trading.is_none() {
            return Vec::new();
        }
        let holds = self.swap_holds(None);
        self.assets()
            .into_iter()
            .map(|key| self.balance_of(key, &holds))
            .collect()
    }

    /// Refuses a take of `quantity` of own order `order` when the maker's balance no longer
    /// covers it together with the order's takes in flight (the balance may have dropped
    /// since the order was placed: spent elsewhere, or locked by another client).
    pub(crate) fn check_maker_funds(
        &self,
        order: &VerifiedOrder,
        quantity: Lots,
    ) -> Result<(), Error> {
        let id = order.id();
        let in_flight = self
            .books
            .get(&order.market())
            .and_then(|state| state.book.get(&id))
            .map_or(Lots::ZERO, |view| {
                view.remaining.saturating_sub(view.available())
            });
        let lots = in_flight.checked_add(quantity).unwrap_or(Lots(u64::MAX));
        // What other orders reserve stays theirs; this order's own reservation is what
        // the take draws on.
        let own = self
            .trading
            .as_ref()
            .and_then(|trading| trading.own.get(&id))
            .map_or(U256::ZERO, |own| own.reserving);
        self.check_free(order.order(), lots, own)
    }

    /// Refuses an order that would lock more than the free balance of its asset.
    pub(crate) fn check_balance(&self, order: &Order) -> Result<(), Error> {
        self.check_free(order, order.quantity, U256::ZERO)
    }

    /// Refuses `lots` of `order` when they would lock more of its asset than is free: on
    /// chain, less what swaps are about to lock, what orders reserve apart from `own` (what
    /// this order reserves already), and the gas reserve.
    fn check_free(&self, order: &Order, lots: Lots, own: U256) -> Result<(), Error> {
        let Some((key, needed)) = self.order_asset(order, lots) else {
            // An amount that overflows is refused by the order's own checks.
            return Ok(());
        };
        let (_, chain_id, token) = key;
        let Some(trading) = self.trading.as_ref() else {
            return Ok(());
        };
        let ledger = &trading.ledger;
        let Some(&(on_chain, _)) = ledger.on_chain.get(&key) else {
            return Err(Error::BalanceUnknown { chain_id, token });
        };
        let reserved = ledger.reserved.get(&key).copied().unwrap_or_default();
        let hold = self
            .swap_holds(Some(key))
            .get(&key)
            .copied()
            .unwrap_or_default();
        let free = hold.free(
            on_chain,
            reserved.saturating_sub(own),
            ledger.gas_reserve(chain_id, token),
        );
        if needed > free {
            return Err(Error::InsufficientBalance {
                chain_id,
                token,
                needed,
                free,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    use dex_network::PeerId;
    use dex_primitives::U256;
    use dex_test_utils::{eth_usdc, eth_usdc_id};

    use super::*;
    use crate::NodeEvent;
    use crate::state::testing::{
        ETH, GWEI, NOW, USDC, fund, fund_with_gas, node, order, read_balances, reading,
    };
    use dex_protocol::WireMessage;

    /// The balance of the ETH/USDC market's base (on its chain) or quote asset.
    fn balance(state: &NodeState, chain_id: u64) -> Balance {
        let def = eth_usdc();
        let token = if chain_id == def.base_chain {
            def.base_token
        } else {
            def.quote_token
        };
        state
            .balances()
            .into_iter()
            .find(|balance| balance.chain_id == chain_id && balance.token == token)
            .expect("an asset of the market")
    }

    #[test]
    fn orders_are_refused_beyond_the_free_balance_and_reserve_what_they_may_lock() {
        let (mut state, trader) = node();
        let def = eth_usdc();
        // Nothing read yet: no order is judged blind.
        assert!(matches!(
            state.place_order(order(Side::Sell, 300_000, 100), NOW),
            Err(Error::BalanceUnknown { chain_id, .. }) if chain_id == def.base_chain
        ));
        fund(&mut state, trader);
        let eth = balance(&state, def.base_chain);
        assert_eq!(eth.symbol.as_deref(), Some("ETH"));
        assert_eq!(eth.on_chain, U256::from(ETH));
        assert_eq!(eth.gas_reserve, crate::DEFAULT_GAS_RESERVE);
        assert_eq!(eth.free, U256::from(ETH) - crate::DEFAULT_GAS_RESERVE);
        assert_eq!(eth.read_at, Some(NOW));
        assert_eq!(balance(&state, def.quote_chain).gas_reserve, U256::ZERO);

        // Sell 0.5 ETH: reserved; free 0.49 ETH (the gas reserve stays).
        let (sell, _) = state
            .place_order(order(Side::Sell, 300_000, 500), NOW)
            .unwrap();
        assert!(state.drain_events().any(|event| matches!(
            event,
            NodeEvent::OwnOrder(own) if own.id == sell && own.status == StoredStatus::Open
        )));
        let eth = balance(&state, def.base_chain);
        assert_eq!(eth.reserved_by_orders, U256::from(ETH / 2));
        assert_eq!(eth.free, U256::from(ETH / 2 - ETH / 100));

        // Another 0.5 ETH is more than is free: refused, and nothing changes.
        let refused = state.place_order(order(Side::Sell, 310_000, 500), NOW);
        match refused {
            Err(Error::InsufficientBalance {
                chain_id,
                token,
                needed,
                free,
            }) => {
                assert_eq!((chain_id, token), (def.base_chain, def.base_token));
                assert_eq!(needed, U256::from(ETH / 2));
                assert_eq!(free, U256::from(ETH / 2 - ETH / 100));
            }
            other => panic!("expected insufficient-balance, got {other:?}"),
        }
        assert_eq!(balance(&state, def.base_chain), eth);
        assert_eq!(state.own_order_ids(), vec![sell]);
        assert_eq!(state.drain_events().count(), 0);

        // A buy locks quote: 0.1 ETH at 2500 is 250 USDC; 1000 USDC is the most.
        let _ = state
            .place_order(order(Side::Buy, 250_000, 100), NOW)
            .unwrap();
        let usdc = balance(&state, def.quote_chain);
        assert_eq!(usdc.reserved_by_orders, U256::from(250 * USDC));
        assert_eq!(usdc.free, U256::from(750 * USDC));
        assert!(matches!(
            state.place_order(order(Side::Buy, 250_000, 301), NOW),
            Err(Error::InsufficientBalance { .. })
        ));

        // Cancelling gives the reservation back.
        let _ = state.cancel_own(sell, NOW).unwrap();
        let eth = balance(&state, def.base_chain);
        assert_eq!(eth.reserved_by_orders, U256::ZERO);
        assert_eq!(eth.free, U256::from(ETH) - crate::DEFAULT_GAS_RESERVE);
        let _ = state
            .place_order(order(Side::Sell, 310_000, 500), NOW)
            .unwrap();

        // A later reading replaces the amount; an older one (a retry) does not.
        state.set_balances(
            def.base_chain,
            vec![reading(trader, def.base_token, 2 * ETH, NOW + 10)],
        );
        state.set_balances(
            def.base_chain,
            vec![reading(trader, def.base_token, 3 * ETH, NOW + 5)],
        );
        assert_eq!(
            balance(&state, def.base_chain).on_chain,
            U256::from(2 * ETH)
        );
    }

    /// Balances read for `trader`: 1 ETH and 1,000 USDC, and 0.01 of the quote chain's
    /// native coin for gas; fees of 1 gwei on both chains.
    /// A trader who sells ETH claims USDC on the quote chain: with no native coin there to
    /// pay for that claim, the order is refused before anything is reserved or signed, and
    /// says which chain and how much (gas of a claim, at twice the current fee).
    #[test]
    fn an_order_whose_claim_its_maker_cannot_pay_for_is_refused_and_nothing_changes() {
        let (mut state, trader) = node();
        let def = eth_usdc();
        fund_with_gas(&mut state, trader, 0);
        state.drain_events().for_each(drop);
        let claim_cost = U256::from(dex_chain::HTLC_GAS.claim) * U256::from(GWEI * 2);
        match state.place_order(order(Side::Sell, 300_000, 100), NOW) {
            Err(Error::InsufficientGas {
                chain_id,
                needed,
                available,
            }) => {
                assert_eq!(chain_id, def.quote_chain);
                assert_eq!(needed, claim_cost);
                assert_eq!(available, U256::ZERO);
            }
            other => panic!("expected insufficient-gas, got {other:?}"),
        }
        assert!(state.own_order_ids().is_empty());
        assert_eq!(state.drain_events().count(), 0);
        assert_eq!(
            balance(&state, def.base_chain).reserved_by_orders,
            U256::ZERO
        );
        // One wei short of the claim is still refused; the claim's cost is enough.
        fund_with_gas(&mut state, trader, 0);
        state.set_balances(
            def.quote_chain,
            vec![reading(
                trader,
                Address::ZERO,
                claim_cost.to::<u128>() - 1,
                NOW + 1,
            )],
        );
        assert!(matches!(
            state.place_order(order(Side::Sell, 300_000, 100), NOW),
            Err(Error::InsufficientGas { .. })
        ));
        state.set_balances(
            def.quote_chain,
            vec![reading(
                trader,
                Address::ZERO,
                claim_cost.to::<u128>(),
                NOW + 2,
            )],
        );
        let _ = state
            .place_order(order(Side::Sell, 300_000, 100), NOW)
            .unwrap();
    }

    /// The native coin of every chain of a market is listed: it pays for the swaps there.
    #[test]
    fn the_gas_coin_of_each_chain_is_listed() {
        let (mut state, trader) = node();
        let def = eth_usdc();
        fund_with_gas(&mut state, trader, ETH / 100);
        let native = state
            .balances()
            .into_iter()
            .find(|balance| balance.chain_id == def.quote_chain && balance.token == Address::ZERO)
            .expect("the quote chain's native coin is listed");
        // The test markets trade it too (ETH2/…); a chain's coin no market names reads
        // "native".
        assert_eq!(native.symbol.as_deref(), Some("ETH2"));
        assert_eq!(native.decimals, Some(18));
        assert_eq!(native.on_chain, U256::from(ETH / 100));
        // The base chain's native coin is the market's ETH: listed once, as ETH.
        let base: Vec<_> = state
            .balances()
            .into_iter()
            .filter(|balance| balance.chain_id == def.base_chain && balance.token == Address::ZERO)
            .collect();
        assert_eq!(base.len(), 1);
        assert_eq!(base[0].symbol.as_deref(), Some("ETH"));
    }

    /// Selling the native coin: what the order locks comes off what is left for the lock's
    /// and the refund's gas on that chain.
    #[test]
    fn a_native_coin_order_leaves_room_for_its_own_gas() {
        let (mut state, trader) = funded_node();
        let def = eth_usdc();
        // Lock and refund on the base chain at 2 gwei (1 gwei, doubled).
        let gas = U256::from(dex_chain::HTLC_GAS.lock + dex_chain::HTLC_GAS.refund)
            * U256::from(GWEI * 2);
        // 0.99 ETH may be locked (the 0.01 ETH gas reserve stays); it leaves exactly the
        // reserve for gas, which covers lock and refund.
        assert!(U256::from(ETH / 100) >= gas);
        let _ = state
            .place_order(order(Side::Sell, 300_000, 990), NOW)
            .unwrap();
        // With fees a thousand times higher, the same order no longer fits its gas.
        let (mut state, trader2) = funded_node();
        assert_eq!(trader, trader2);
        state.set_max_fee_per_gas(def.base_chain, GWEI * 1000);
        assert!(matches!(
            state.place_order(order(Side::Sell, 300_000, 990), NOW),
            Err(Error::InsufficientGas { chain_id, .. }) if chain_id == def.base_chain
        ));
        // Until the chain's fee is known, nothing is judged.
        let (mut state, trader) = node();
        read_balances(&mut state, trader, ETH);
        assert!(matches!(
            state.place_order(order(Side::Sell, 300_000, 100), NOW),
            Err(Error::BalanceUnknown { token, .. }) if token == Address::ZERO
        ));
    }

    /// A node holding 1 ETH and 1,000 USDC.
    fn funded_node() -> (NodeState, Address) {
        let (mut state, trader) = node();
        fund(&mut state, trader);
        (state, trader)
    }

    #[test]
    fn an_order_that_could_not_be_stored_is_withdrawn_without_a_trace() {
        let (mut state, _) = funded_node();
        let def = eth_usdc();
        // Another maker's ask, which the buy below can take.
        let ask = dex_test_utils::OrderBuilder::new()
            .maker(&dex_test_utils::trader(7))
            .peer(&PeerId::random().to_base58())
            .side(Side::Sell)
            .price(240_000)
            .quantity(50)
            .created_at(NOW - 1_000)
            .expires_at(NOW + 3_600_000)
            .sign();
        let ask_id = ask.order.id();
        let data = dex_protocol::GossipMessage::Order(ask).encode().unwrap();
        let topic = dex_protocol::market_topic(&eth_usdc_id());
        let (acceptance, _) = state.on_gossip(PeerId::random(), &topic, &data, NOW);
        assert_eq!(acceptance, dex_network::Acceptance::Accept);
        let digest_before = state.digest(&eth_usdc_id());
        state.drain_events().for_each(drop);

        // A buy that rests (and takes part of the ask): its write failed, so it is withdrawn.
        let (buy, actions) = state
            .place_order(order(Side::Buy, 250_000, 100), NOW)
            .unwrap();
        assert!(matches!(
            actions.persist.as_slice(),
            [crate::StoreOp::InsertOrder(_)]
        ));
        assert_eq!(state.pending_takes(), 1, "the buy asked to take the ask");
        assert_eq!(
            balance(&state, def.quote_chain).reserved_by_orders,
            U256::from(250 * USDC)
        );
        state.drain_events().for_each(drop);
        state.abandon_own(buy, NOW);

        assert!(state.own_order_ids().is_empty());
        assert_eq!(state.pending_takes(), 0);
        assert_eq!(
            balance(&state, def.quote_chain).reserved_by_orders,
            U256::ZERO
        );
        let book = state.book(&eth_usdc_id()).unwrap();
        assert!(book.get(&buy).is_none(), "not in the book");
        assert_eq!(book.get(&ask_id).map(|view| view.remaining), Some(Lots(50)));
        assert_eq!(state.digest(&eth_usdc_id()), digest_before);
        let events: Vec<NodeEvent> = state.drain_events().collect();
        assert!(events.iter().any(|event| matches!(
            event,
            NodeEvent::OwnOrder(own) if own.id == buy && own.status == StoredStatus::Cancelled
        )));
        // Withdrawing it again, or an order never placed, changes nothing.
        state.abandon_own(buy, NOW);
        assert_eq!(state.drain_events().count(), 0);
    }

    #[test]
    fn take_refusals_are_signed_only_by_the_orders_maker() {
        let (mut state, trader) = funded_node();
        let taker_key = dex_test_utils::trader(9);
        let bid = dex_test_utils::OrderBuilder::new()
            .maker(&taker_key)
            .peer(&PeerId::random().to_base58())
            .side(Side::Buy)
            .price(300_000)
            .quantity(10)
            .created_at(NOW)
            .expires_at(NOW + 3_600_000)
            .sign();
        let take = |maker_order| {
            let request = dex_protocol::take::TakeRequest {
                maker_order_id: maker_order,
                taker_order_id: bid.order.id(),
                quantity: 10,
                hashlock: dex_primitives::B256::repeat_byte(3),
                taker_htlc: Address::repeat_byte(0x11),
                maker_htlc: Address::repeat_byte(0x11),
                taker_lock_secs: 7_200,
                timestamp: NOW,
            };
            (
                request.id(),
                dex_protocol::take::sign_take(request, bid.clone(), &taker_key),
            )
        };

        // An order this node never held: refused, and not signed by any key of ours.
        let stranger = dex_primitives::OrderId(dex_primitives::B256::repeat_byte(0x42));
        let (request_id, message) = take(stranger);
        let (answer, actions) = state.on_take_request(PeerId::random(), message, None, NOW);
        assert!(actions.is_empty());
        let dex_protocol::take::TakeAnswer::Rejected { signature, .. } = &answer else {
            panic!("expected a refusal, got {answer:?}");
        };
        assert_eq!(signature.0, [0; 65]);
        assert!(answer.verify(&request_id, trader).is_err());

        // Our order, cancelled: refused under its maker's key, which the taker can check.
        let (sell, _) = state
            .place_order(order(Side::Sell, 300_000, 10), NOW)
            .unwrap();
        let _ = state.cancel_own(sell, NOW).unwrap();
        let (request_id, message) = take(sell);
        let (answer, _) = state.on_take_request(PeerId::random(), message, None, NOW + 1);
        assert!(matches!(
            answer,
            dex_protocol::take::TakeAnswer::Rejected { .. }
        ));
        answer.verify(&request_id, trader).unwrap();
    }
}
