//! What the bot holds. Without `[inventory]`, what the node reports for its trader
//! (`GET /v1/balances`: free, and locked by swaps or reserved by orders). With it, the bot's
//! own account: that capital at start, moved by the swaps of its own orders as they settle,
//! so that a bot given part of a wallet skews on its own position; what it may commit is
//! still never more than the node says is free.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    str::FromStr,
};

use dex_api::types::{BalanceView, SideName, SwapDetail, SwapView};
use dex_mm::{AssetBalance, Inventory};
use dex_primitives::{Address, B256, Decimal, Market, OrderId};
use serde_json::Value;

/// The node's view of `trader`'s two assets of `market`; an error says which is not known.
pub(crate) fn from_balances(
    balances: &[BalanceView],
    trader: Address,
    market: &Market,
) -> Result<Inventory, String> {
    let def = market.def();
    let asset = |chain_id: u64, token: Address, symbol: &str| -> Result<AssetBalance, String> {
        let view = balances
            .iter()
            .find(|view| view.trader == trader && view.chain_id == chain_id && view.token == token)
            .ok_or_else(|| format!("the node reports no {symbol} balance for {trader}"))?;
        if view.read_at.is_none() {
            return Err(format!(
                "the node has not read {trader}'s {symbol} balance on chain {chain_id} yet"
            ));
        }
        let amount = |name: &str, text: &str| {
            Decimal::from_str(text).map_err(|err| format!("{symbol} {name} {text:?}: {err}"))
        };
        let locked = amount("lockedInSwaps", &view.locked_in_swaps)?
            + amount("reservedByOrders", &view.reserved_by_orders)?;
        Ok(AssetBalance {
            free: amount("free", &view.free)?,
            locked,
        })
    };
    Ok(Inventory {
        base: asset(def.base_chain, def.base_token, &def.base_symbol)?,
        quote: asset(def.quote_chain, def.quote_token, &def.quote_symbol)?,
    })
}

/// The bot's own account, with what it may commit capped at what the node says is free.
pub(crate) fn within_node(own: Inventory, node: &Inventory) -> Inventory {
    let cap = |own: AssetBalance, node: AssetBalance| AssetBalance {
        free: own.free.min(node.free.max(Decimal::ZERO)),
        locked: own.locked,
    };
    Inventory {
        base: cap(own.base, node.base),
        quote: cap(own.quote, node.quote),
    }
}

/// How a finished swap ended, as its history says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Both legs went through: our asset left, the counterparty's arrived.
    Completed,
    /// Nothing moved in the end (refunded, or never locked).
    Undone,
    /// Our asset left and nothing arrived (the node needs an operator).
    Failed(String),
}

/// The outcome in a finished swap's history: the `finished` action the swap logged.
pub(crate) fn outcome(detail: &SwapDetail) -> Option<Outcome> {
    detail.events.iter().rev().find_map(|event| {
        let actions = event.actions.as_array()?;
        actions.iter().find_map(|action| {
            if action.get("action").and_then(Value::as_str) != Some("finished") {
                return None;
            }
            Some(match action.get("outcome").and_then(Value::as_str)? {
                "completed" => Outcome::Completed,
                "refunded" | "notLocked" => Outcome::Undone,
                other => Outcome::Failed(
                    action
                        .get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or(other)
                        .to_owned(),
                ),
            })
        })
    })
}

/// A swap of one of our orders, in display units.
#[derive(Debug, Clone, Copy)]
struct Trade {
    side: SideName,
    price: Decimal,
    quantity: Decimal,
    value: Decimal,
}

impl Trade {
    fn of(swap: &SwapView) -> Option<Trade> {
        let price = Decimal::from_str(&swap.price).ok()?;
        let quantity = Decimal::from_str(&swap.quantity).ok()?;
        Some(Trade {
            side: swap.side,
            price,
            quantity,
            value: price.checked_mul(quantity)?,
        })
    }
}

/// An open order's reservation: quote for a buy, base for a sell.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reservation {
    pub(crate) side: SideName,
    pub(crate) price: Decimal,
    pub(crate) remaining: Decimal,
}

/// The bot's holdings of the market's two assets.
#[derive(Debug)]
pub(crate) struct Ledger {
    base: Decimal,
    quote: Decimal,
    /// Swaps already counted (or found not to move anything), by id.
    settled: HashSet<B256>,
    /// Swaps of our orders still in flight: what they hold of our assets.
    in_flight: HashMap<B256, Trade>,
    /// Swaps in flight that finished, whose outcome is still to be read.
    finished: BTreeSet<B256>,
    /// Where the node's list of swap changes was read up to (its `cursor`).
    cursor: u64,
}

/// What a refresh learned about the swaps.
#[derive(Debug, Default)]
pub(crate) struct SwapNews {
    /// Swaps that completed since the last refresh: (swap id, side, quantity, price).
    pub(crate) completed: Vec<(B256, SideName, String, String)>,
    /// Swaps that failed with our asset gone.
    pub(crate) failed: Vec<(B256, String)>,
}

impl Ledger {
    /// Starts from the configured capital.
    pub(crate) fn new(base: Decimal, quote: Decimal) -> Ledger {
        Ledger {
            base,
            quote,
            settled: HashSet::new(),
            in_flight: HashMap::new(),
            finished: BTreeSet::new(),
            cursor: 0,
        }
    }

    /// Where the node's swap changes were read up to: the next read asks for what changed
    /// after it.
    pub(crate) fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Totals held (free and committed), base then quote.
    pub(crate) fn totals(&self) -> (Decimal, Decimal) {
        (self.base, self.quote)
    }

    /// Takes in swaps that changed (a page of the node's changes, read up to `cursor`):
    /// swaps of `ours` are in flight until they finish (whether or not their order is still
    /// in `ours` then), then counted once (their outcome read with `outcome_of`). A finished
    /// swap whose outcome cannot be read yet stays in flight and is asked about again at the
    /// next call, whatever changed then; an error from `outcome_of` leaves it so too.
    pub(crate) fn observe<E>(
        &mut self,
        changed: &[SwapView],
        cursor: u64,
        ours: &HashSet<OrderId>,
        mut outcome_of: impl FnMut(B256) -> Result<Option<Outcome>, E>,
    ) -> Result<SwapNews, E> {
        for swap in changed {
            // A swap in flight is followed to its end even once its order has left `ours`.
            let followed =
                ours.contains(&swap.own_order_id) || self.in_flight.contains_key(&swap.swap_id);
            if !followed || self.settled.contains(&swap.swap_id) {
                continue;
            }
            let Some(trade) = Trade::of(swap) else {
                continue;
            };
            self.in_flight.insert(swap.swap_id, trade);
            if swap.phase == "finished" {
                self.finished.insert(swap.swap_id);
            }
        }
        self.cursor = self.cursor.max(cursor);
        let mut news = SwapNews::default();
        for swap_id in self.finished.clone() {
            let Some(outcome) = outcome_of(swap_id)? else {
                continue;
            };
            self.finished.remove(&swap_id);
            self.settled.insert(swap_id);
            let Some(trade) = self.in_flight.remove(&swap_id) else {
                continue;
            };
            match outcome {
                Outcome::Completed => {
                    self.apply(trade, true);
                    news.completed.push((
                        swap_id,
                        trade.side,
                        trade.quantity.to_string(),
                        trade.price.to_string(),
                    ));
                }
                Outcome::Undone => {}
                Outcome::Failed(reason) => {
                    self.apply(trade, false);
                    news.failed.push((swap_id, reason));
                }
            }
        }
        Ok(news)
    }

    /// Our asset leaves; the counterparty's arrives if `received`.
    fn apply(&mut self, trade: Trade, received: bool) {
        match trade.side {
            SideName::Buy => {
                self.quote -= trade.value;
                if received {
                    self.base += trade.quantity;
                }
            }
            SideName::Sell => {
                self.base -= trade.quantity;
                if received {
                    self.quote += trade.value;
                }
            }
        }
    }

    /// The strategy's view: what our open orders reserve and our swaps in flight hold is
    /// committed, the rest is free. An order in a swap still shows its whole remaining
    /// until the swap commits it, so the committed part is capped at the total.
    pub(crate) fn inventory(&self, open: &[Reservation]) -> Inventory {
        let mut base_committed = Decimal::ZERO;
        let mut quote_committed = Decimal::ZERO;
        let reserved = open.iter().map(|order| Trade {
            side: order.side,
            price: order.price,
            quantity: order.remaining,
            value: order.price * order.remaining,
        });
        for trade in reserved.chain(self.in_flight.values().copied()) {
            match trade.side {
                SideName::Buy => quote_committed += trade.value,
                SideName::Sell => base_committed += trade.quantity,
            }
        }
        let split = |total: Decimal, committed: Decimal| {
            // A negative total is passed on as it is: the strategy halts on it.
            let locked = committed.min(total.max(Decimal::ZERO));
            AssetBalance {
                free: total - locked,
                locked,
            }
        };
        Inventory {
            base: split(self.base, base_committed),
            quote: split(self.quote, quote_committed),
        }
    }
}

#[cfg(test)]
mod tests {
    use dex_api::types::SwapLogView;
    use dex_primitives::MarketId;
    use serde_json::json;

    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn swap(n: u8, order: u8, side: SideName, phase: &str) -> SwapView {
        SwapView {
            swap_id: B256::repeat_byte(n),
            market: MarketId::default(),
            symbol: "ETH/USDC".into(),
            side,
            price: "2500".into(),
            quantity: "0.1".into(),
            own_order_id: OrderId(B256::repeat_byte(order)),
            counter_order_id: OrderId(B256::ZERO),
            peer: "peer".into(),
            phase: phase.into(),
            created_at: 0,
            role: "maker".into(),
            outcome: None,
            outcome_reason: None,
            refund: None,
        }
    }

    #[test]
    fn the_outcome_is_read_from_the_finished_action() {
        let detail = |actions: Value| SwapDetail {
            swap: swap(1, 1, SideName::Buy, "finished"),
            steps: Vec::new(),
            events: vec![SwapLogView {
                seq: 1,
                at: 0,
                entry: json!({}),
                actions,
                phase: "finished".into(),
            }],
        };
        assert_eq!(
            outcome(&detail(
                json!([{"action": "finished", "outcome": "completed"}])
            )),
            Some(Outcome::Completed)
        );
        assert_eq!(
            outcome(&detail(
                json!([{"action": "finished", "outcome": "refunded"}])
            )),
            Some(Outcome::Undone)
        );
        assert_eq!(
            outcome(&detail(
                json!([{"action": "finished", "outcome": "failed", "reason": "claimed"}])
            )),
            Some(Outcome::Failed("claimed".into()))
        );
        assert_eq!(outcome(&detail(json!([{"action": "lock"}]))), None);
    }

    #[test]
    fn completed_swaps_of_our_orders_move_the_totals_once() {
        let mut ledger = Ledger::new(dec("1"), dec("1000"));
        let ours: HashSet<OrderId> = [OrderId(B256::repeat_byte(7))].into();
        let swaps = vec![
            swap(1, 7, SideName::Sell, "finished"),
            swap(2, 7, SideName::Buy, "makerLocked"),
            swap(3, 9, SideName::Sell, "finished"),
            swap(4, 7, SideName::Buy, "finished"),
        ];
        let mut asked = Vec::new();
        let outcome_of = |id: B256| -> Result<Option<Outcome>, ()> {
            Ok(Some(if id == B256::repeat_byte(4) {
                Outcome::Undone
            } else {
                Outcome::Completed
            }))
        };
        let news = ledger
            .observe(&swaps, 8, &ours, |id| {
                asked.push(id);
                outcome_of(id)
            })
            .unwrap();
        assert_eq!(news.completed.len(), 1);
        assert_eq!(ledger.totals(), (dec("0.9"), dec("1250")));
        assert_eq!(ledger.cursor(), 8);
        // Swap 3 is not ours; 2 is in flight: neither is asked about.
        assert_eq!(asked, vec![B256::repeat_byte(1), B256::repeat_byte(4)]);
        // Counted once, however often the same swaps are seen.
        ledger.observe(&swaps, 8, &ours, outcome_of).unwrap();
        assert_eq!(ledger.totals(), (dec("0.9"), dec("1250")));

        // The buy in flight holds 250 USDC, an open sell of 0.5 holds base.
        let inventory = ledger.inventory(&[Reservation {
            side: SideName::Sell,
            price: dec("2600"),
            remaining: dec("0.5"),
        }]);
        assert_eq!(inventory.quote.locked, dec("250"));
        assert_eq!(inventory.quote.free, dec("1000"));
        assert_eq!(inventory.base.locked, dec("0.5"));
        assert_eq!(inventory.base.free, dec("0.4"));
        // Committed beyond the total (an order still showing quantity in a swap) is capped.
        let capped = ledger.inventory(&[Reservation {
            side: SideName::Sell,
            price: dec("2600"),
            remaining: dec("5"),
        }]);
        assert_eq!(capped.base.locked, dec("0.9"));
        assert_eq!(capped.base.free, dec("0"));
    }

    /// Swaps come as changes: one in flight stays so while nothing about it changes, and a
    /// finished one whose outcome cannot be read yet is asked about again at each call,
    /// though it does not come again.
    #[test]
    fn swap_changes_are_taken_in_as_they_come() {
        let mut ledger = Ledger::new(dec("1"), dec("1000"));
        let ours: HashSet<OrderId> = [OrderId(B256::repeat_byte(7))].into();
        let never = |_: B256| -> Result<Option<Outcome>, ()> { panic!("nothing finished") };
        ledger
            .observe(
                &[swap(1, 7, SideName::Buy, "takerLocking")],
                3,
                &ours,
                never,
            )
            .unwrap();
        // The order closed (the bot forgets it): its swap is still followed to its end.
        let ours = HashSet::new();
        // Nothing changed: the buy still holds 250 USDC.
        ledger.observe(&[], 3, &ours, never).unwrap();
        assert_eq!(ledger.inventory(&[]).quote.locked, dec("250"));
        assert_eq!(ledger.cursor(), 3);

        // It finished; the node cannot tell how yet (an error, then no outcome).
        let finished = [swap(1, 7, SideName::Buy, "finished")];
        let failed = ledger.observe(&finished, 5, &ours, |_| Err("node down"));
        assert_eq!(failed.unwrap_err(), "node down");
        assert_eq!(ledger.cursor(), 5, "the change was taken in");
        ledger
            .observe(&[], 5, &ours, |_| Ok::<_, ()>(None))
            .unwrap();
        assert_eq!(ledger.inventory(&[]).quote.locked, dec("250"));
        assert_eq!(ledger.totals(), (dec("1"), dec("1000")));

        // Asked again with no new change, it is counted, once.
        let news = ledger
            .observe(&[], 5, &ours, |_| Ok::<_, ()>(Some(Outcome::Completed)))
            .unwrap();
        assert_eq!(news.completed.len(), 1);
        assert_eq!(ledger.totals(), (dec("1.1"), dec("750")));
        assert_eq!(ledger.inventory(&[]).quote.locked, dec("0"));
        ledger.observe(&finished, 6, &ours, never).unwrap();
        assert_eq!(ledger.totals(), (dec("1.1"), dec("750")));
        assert_eq!(ledger.cursor(), 6);
    }

    fn view(token: u8, free: &str, read: bool) -> BalanceView {
        BalanceView {
            trader: Address::repeat_byte(1),
            chain_id: if token == 0 { 31337 } else { 31338 },
            token: if token == 0 {
                Address::ZERO
            } else {
                dex_test_utils::eth_usdc().quote_token
            },
            symbol: String::new(),
            decimals: 18,
            on_chain: "100".into(),
            locked_in_swaps: "1".into(),
            reserved_by_orders: "2.5".into(),
            gas_reserve: "0.1".into(),
            free: free.into(),
            read_at: read.then_some(1),
        }
    }

    #[test]
    fn the_node_view_takes_the_traders_assets_of_the_market() {
        let market = Market::new(dex_test_utils::eth_usdc()).unwrap();
        let trader = Address::repeat_byte(1);
        let balances = vec![view(0, "96.4", true), view(1, "500", true)];
        let inventory = from_balances(&balances, trader, &market).unwrap();
        assert_eq!(inventory.base.free, dec("96.4"));
        assert_eq!(inventory.base.locked, dec("3.5"));
        assert_eq!(inventory.quote.free, dec("500"));
        let other = from_balances(&balances, Address::repeat_byte(2), &market).unwrap_err();
        assert!(other.contains("no ETH balance"), "{other}");
        let unread = vec![view(0, "96.4", true), view(1, "500", false)];
        let unread = from_balances(&unread, trader, &market).unwrap_err();
        assert!(unread.contains("not read"), "{unread}");

        // The own account commits no more than the node has free.
        let own = Ledger::new(dec("200"), dec("100")).inventory(&[]);
        let capped = within_node(own, &inventory);
        assert_eq!(capped.base.free, dec("96.4"));
        assert_eq!(capped.quote.free, dec("100"));
        assert_eq!(capped.base.locked, dec("0"));
    }

    #[test]
    fn an_unreadable_outcome_stays_in_flight() {
        let mut ledger = Ledger::new(dec("1"), dec("1000"));
        let ours: HashSet<OrderId> = [OrderId(B256::repeat_byte(7))].into();
        let swaps = vec![swap(1, 7, SideName::Sell, "finished")];
        ledger
            .observe(&swaps, 2, &ours, |_| Ok::<_, ()>(None))
            .unwrap();
        assert_eq!(ledger.totals(), (dec("1"), dec("1000")));
        assert_eq!(ledger.inventory(&[]).base.locked, dec("0.1"));
        // Read again though nothing changed since.
        ledger
            .observe(&[], 2, &ours, |_| {
                Ok::<_, ()>(Some(Outcome::Failed("x".into())))
            })
            .unwrap();
        assert_eq!(ledger.totals(), (dec("0.9"), dec("1000")));
        assert_eq!(ledger.inventory(&[]).base.locked, dec("0"));
    }
}
