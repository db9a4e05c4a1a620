//! A trade through the whole stack, step by step: orders placed through the nodes' REST
//! API, the swap followed in the nodes' swap histories (`GET /v1/swaps/{id}`), and the
//! balances on both chains checked to the base unit, fees read from the receipts.
//!
//! The `dex-devnet demo` command runs these steps in order and prints them; the end-to-end
//! tests run them with a crash in the middle.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, U256};
use dex_api::types::{
    BookLevel, OwnOrderView, PlaceOrderRequest, SideName, SwapLogView, SwapView, TimeInForce,
};
use dex_primitives::Market;
use serde_json::Value;
use tokio::time::Instant;

use crate::{Balances, DevnetChains, DevnetError, NodeClient, format_units};

/// How often the demo polls the nodes.
const POLL: Duration = Duration::from_millis(100);

/// Local unix time in milliseconds (the nodes' swap histories use it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// The devnet market, validated.
pub fn market(chains: &DevnetChains) -> Result<Market, DevnetError> {
    Market::new(chains.market.clone()).map_err(|err| DevnetError::InvalidConfig {
        reason: format!("the devnet market is invalid: {err}"),
    })
}

/// An order request for the devnet market.
pub fn order_request(
    chains: &DevnetChains,
    side: SideName,
    price: &str,
    quantity: &str,
    time_in_force: TimeInForce,
) -> Result<PlaceOrderRequest, DevnetError> {
    Ok(PlaceOrderRequest {
        market: market(chains)?.id().to_string(),
        side,
        price: price.to_owned(),
        quantity: quantity.to_owned(),
        min_fill: None,
        time_in_force,
        expires_in: None,
        client_order_id: None,
    })
}

/// Places an order (`POST /v1/orders`). A node that has not connected to a chain yet
/// refuses with `chain-unavailable`: that is retried until `deadline`, anything else fails.
pub async fn place_order(
    client: &NodeClient,
    request: &PlaceOrderRequest,
    deadline: Duration,
) -> Result<OwnOrderView, DevnetError> {
    let give_up = Instant::now() + deadline;
    loop {
        match client.place_order(request).await {
            Err(DevnetError::Api { failure, .. })
                if failure.slug() == Some("chain-unavailable") && Instant::now() < give_up =>
            {
                tokio::time::sleep(POLL).await;
            }
            other => return other,
        }
    }
}

/// Waits until `client`'s node shows an ask at `price` or below with at least `quantity`
/// on offer at the best price, and returns the best ask; with `price` `None`, any ask.
pub async fn wait_for_ask(
    client: &NodeClient,
    chains: &DevnetChains,
    at_most: Option<&str>,
    quantity: Option<&str>,
    deadline: Duration,
) -> Result<BookLevel, DevnetError> {
    let market = market(chains)?;
    let parse_price = |text: &str| {
        market.parse_price(text).map_err(|err| {
            DevnetError::Check(format!("price {text:?} is not on the market's grid: {err}"))
        })
    };
    let parse_quantity = |text: &str| {
        market.parse_quantity(text).map_err(|err| {
            DevnetError::Check(format!(
                "quantity {text:?} is not on the market's grid: {err}"
            ))
        })
    };
    let limit = at_most.map(parse_price).transpose()?;
    let wanted = quantity.map(parse_quantity).transpose()?;
    let give_up = Instant::now() + deadline;
    loop {
        if let Ok(book) = client.book(&market.id().to_string(), 5).await
            && let Some(best) = book.asks.first()
        {
            let price = parse_price(&best.price)?;
            let offered = parse_quantity(&best.quantity)?;
            if limit.is_none_or(|limit| price <= limit) && wanted.is_none_or(|q| offered >= q) {
                return Ok(best.clone());
            }
        }
        if Instant::now() >= give_up {
            return Err(DevnetError::Check(format!(
                "no ask{}{} in the book of {} after {deadline:?}",
                at_most
                    .map(|p| format!(" at {p} or below"))
                    .unwrap_or_default(),
                quantity.map(|q| format!(" for {q}")).unwrap_or_default(),
                client.url()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the own order `order_id` of `client`'s node has stopped taking (it rests,
/// or is filled or cancelled) and has at least one swap, and returns its swaps.
pub async fn wait_for_swaps(
    client: &NodeClient,
    order_id: &str,
    deadline: Duration,
) -> Result<Vec<SwapView>, DevnetError> {
    let give_up = Instant::now() + deadline;
    loop {
        let detail = client.order(order_id).await?;
        if !detail.swaps.is_empty() {
            return Ok(detail.swaps);
        }
        if detail.order.status != "open" {
            return Err(DevnetError::Check(format!(
                "order {order_id} is {} without any swap: nothing was taken",
                detail.order.status
            )));
        }
        if Instant::now() >= give_up {
            return Err(DevnetError::Check(format!(
                "order {order_id} has no swap after {deadline:?}"
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// One side of a swap being followed: the node's label for the printout and its client.
#[derive(Debug, Clone)]
pub struct Party {
    /// `node 2 (taker)`.
    pub label: String,
    /// Its API.
    pub client: NodeClient,
}

/// How a swap ended on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapEnd {
    /// The node's label.
    pub label: String,
    /// The swap as the node shows it at the end.
    pub swap: SwapView,
    /// The outcome of its `finished` action: `completed`, `refunded`, `notLocked`,
    /// `failed`.
    pub outcome: String,
}

/// Follows `swap_ids` on every party until each has finished them, calling `step` with a
/// line for each step as it appears in the histories (times relative to `since`, unix ms).
/// A node that does not answer for a while (restarting) is waited for.
pub async fn follow_swaps(
    chains: &DevnetChains,
    parties: &[Party],
    swap_ids: &[String],
    since: u64,
    deadline: Duration,
    step: &mut dyn FnMut(String),
) -> Result<Vec<SwapEnd>, DevnetError> {
    let give_up = Instant::now() + deadline;
    let mut seen: HashMap<(usize, &str), u64> = HashMap::new();
    let mut phases: HashMap<(usize, &str), String> = HashMap::new();
    let mut ends: BTreeMap<(usize, &str), SwapEnd> = BTreeMap::new();
    let total = parties.len() * swap_ids.len();
    while ends.len() < total {
        let mut rows: Vec<(u64, usize, String)> = Vec::new();
        for (party_index, party) in parties.iter().enumerate() {
            for swap_id in swap_ids {
                let key = (party_index, swap_id.as_str());
                if ends.contains_key(&key) {
                    continue;
                }
                // Unknown yet (the maker learns of it a moment later) or restarting.
                let Ok(detail) = party.client.swap(swap_id).await else {
                    continue;
                };
                let last = seen.get(&key).copied();
                for row in detail
                    .events
                    .iter()
                    .filter(|row| last.is_none_or(|last| row.seq > last))
                {
                    let before = phases.get(&key).cloned();
                    phases.insert(key, row.phase.clone());
                    if let Some(text) = describe_row(chains, row, before.as_deref()) {
                        let short = swap_id.get(..10).unwrap_or(swap_id);
                        rows.push((
                            row.at,
                            party_index,
                            format!(
                                "{:>7}  {:<15} swap {short}…  {text}",
                                elapsed(since, row.at),
                                party.label
                            ),
                        ));
                    }
                }
                if let Some(row) = detail.events.last() {
                    seen.insert(key, row.seq);
                }
                if detail.swap.phase == "finished" {
                    let outcome = detail
                        .events
                        .iter()
                        .flat_map(|row| actions(&row.actions))
                        .find(|action| action["action"] == "finished")
                        .and_then(|action| action["outcome"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| "unknown".into());
                    ends.insert(
                        key,
                        SwapEnd {
                            label: party.label.clone(),
                            swap: detail.swap,
                            outcome,
                        },
                    );
                }
            }
        }
        // Stable: one party's steps of the same millisecond stay in their log order.
        rows.sort_by_key(|(at, party_index, _)| (*at, *party_index));
        for (_, _, line) in rows {
            step(line);
        }
        if ends.len() == total {
            break;
        }
        if Instant::now() >= give_up {
            let waiting: Vec<String> = parties
                .iter()
                .enumerate()
                .flat_map(|(party_index, party)| {
                    let phases = &phases;
                    swap_ids.iter().filter_map(move |id| {
                        phases
                            .get(&(party_index, id.as_str()))
                            .map(|phase| format!("{} is at {phase} in swap {id}", party.label))
                    })
                })
                .collect();
            return Err(DevnetError::Check(format!(
                "the swap did not finish within {deadline:?} ({})",
                if waiting.is_empty() {
                    "no node reported it".to_owned()
                } else {
                    waiting.join("; ")
                }
            )));
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(ends.into_values().collect())
}

fn elapsed(since: u64, at: u64) -> String {
    let millis = at.saturating_sub(since);
    format!("+{}.{}s", millis / 1000, (millis % 1000) / 100)
}

fn actions(value: &Value) -> Vec<&Value> {
    value
        .as_array()
        .map(|actions| actions.iter().collect())
        .unwrap_or_default()
}

/// A line for a history row worth showing (something was decided or the phase changed),
/// or `None` for the rest (chain times, ticks).
fn describe_row(chains: &DevnetChains, row: &SwapLogView, before: Option<&str>) -> Option<String> {
    let done: Vec<String> = actions(&row.actions)
        .into_iter()
        .filter_map(|action| describe_action(chains, action))
        .collect();
    let changed = before != Some(row.phase.as_str());
    let kind = row.entry["kind"].as_str().unwrap_or_default();
    if done.is_empty() && !changed && kind == "event" {
        return None;
    }
    let cause = describe_entry(chains, &row.entry);
    let mut line = cause;
    if !done.is_empty() {
        line.push_str(" → ");
        line.push_str(&done.join("; "));
    }
    if changed {
        line.push_str(&format!("  [{}]", row.phase));
    }
    Some(line)
}

fn describe_entry(chains: &DevnetChains, entry: &Value) -> String {
    match entry["kind"].as_str() {
        Some("created") => "take accepted, swap created".into(),
        Some("resumed") => "node restarted: swap resumed from its database".into(),
        Some("event") => {
            let event = &entry["event"];
            let leg = event["leg"].as_str().unwrap_or("?");
            match event["event"].as_str() {
                Some("chainTime") => format!("new block on the {leg} leg's chain"),
                Some("lockSeen") => format!(
                    "sees the {leg} lock on chain: {}",
                    describe_lock(chains, &event["lock"])
                ),
                Some("lockAbsent") => "its own lock is not on chain".into(),
                Some("claimSeen") => {
                    format!("sees the {leg} lock claimed (the secret is now public)")
                }
                Some("refundSeen") => format!("sees the {leg} lock refunded"),
                Some("secretLearned") => "receives the secret from the peer".into(),
                Some("peerAborted") => "the peer gave up".into(),
                Some("tick") => "time passes".into(),
                other => format!("event {}", other.unwrap_or("?")),
            }
        }
        other => format!("entry {}", other.unwrap_or("?")),
    }
}

fn describe_action(chains: &DevnetChains, action: &Value) -> Option<String> {
    Some(match action["action"].as_str()? {
        "lock" => format!("locks {}", describe_lock(chains, &action["terms"])),
        "claim" => format!("claims {}", describe_lock(chains, &action["lock"])),
        "refund" => format!("refunds {}", describe_lock(chains, &action["lock"])),
        "send" => match action["hint"].as_str() {
            Some("locked") => "tells the peer its lock is on chain".into(),
            Some("secret") => "sends the peer the secret".into(),
            Some("abort") => "tells the peer it gives up".into(),
            _ => "sends the peer a hint".into(),
        },
        "commitReservation" => "commits the reserved quantity of its order".into(),
        "releaseReservation" => "offers the reserved quantity again".into(),
        "finished" => format!(
            "FINISHED: {}",
            action["outcome"].as_str().unwrap_or("unknown outcome")
        ),
        // Notices explain ignored observations; the log has them.
        _ => return None,
    })
}

/// `250 USDC on chain 31338` from a lock or lock terms.
fn describe_lock(chains: &DevnetChains, lock: &Value) -> String {
    let amount = lock["amount"]
        .as_str()
        .and_then(|text| {
            text.strip_prefix("0x").map_or_else(
                || text.parse().ok(),
                |hex| U256::from_str_radix(hex, 16).ok(),
            )
        })
        .unwrap_or_default();
    let token: Address = lock["token"]
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_default();
    let (symbol, decimals) = if token == chains.usdc.address {
        (chains.usdc.symbol.as_str(), chains.usdc.decimals)
    } else {
        ("ETH", 18)
    };
    format!(
        "{} {symbol} on chain {}",
        format_units(amount, decimals),
        lock["chainId"]
    )
}

/// Balances of some accounts and the latest blocks, at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The latest block of the base chain.
    pub base_block: u64,
    /// The latest block of the quote chain.
    pub quote_block: u64,
    /// The balances of each account.
    pub balances: Vec<(Address, Balances)>,
}

impl Snapshot {
    /// Reads the blocks and the balances of `accounts` now.
    pub async fn take(
        chains: &DevnetChains,
        accounts: &[Address],
    ) -> Result<Snapshot, DevnetError> {
        let base_block = chains.base.block_number().await?;
        let quote_block = chains.quote.block_number().await?;
        let mut balances = Vec::new();
        for account in accounts {
            balances.push((*account, chains.balances(*account).await?));
        }
        Ok(Snapshot {
            base_block,
            quote_block,
            balances,
        })
    }

    fn of(&self, account: Address) -> Result<Balances, DevnetError> {
        self.balances
            .iter()
            .find(|(owner, _)| *owner == account)
            .map(|(_, balances)| *balances)
            .ok_or_else(|| DevnetError::Check(format!("no balances of {account} were taken")))
    }
}

/// One balance of one account: before, after, and what it had to become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceLine {
    /// `trader 2`.
    pub who: String,
    /// `ETH on 31337`.
    pub asset: String,
    /// Decimals of the asset.
    pub decimals: u8,
    /// Before the trade.
    pub before: U256,
    /// After it.
    pub after: U256,
    /// What it must be: before ± the traded amount − the fees paid.
    pub expected: U256,
    /// Fees paid in this asset (native coins only).
    pub fees: U256,
}

impl BalanceLine {
    /// Whether the balance moved exactly as the trade says.
    pub fn exact(&self) -> bool {
        self.after == self.expected
    }
}

/// What the trade moved, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceCheck {
    /// Base units of the base asset traded (all swaps).
    pub base_amount: U256,
    /// Base units of the quote asset traded.
    pub quote_amount: U256,
    /// Every balance of both traders.
    pub lines: Vec<BalanceLine>,
}

impl BalanceCheck {
    /// Compares `before` and `after` for a taker (`taker`, whose view of the swaps is
    /// `taker_swaps`) and its maker, with the fees each paid in between from the receipts.
    pub async fn new(
        chains: &DevnetChains,
        taker: (&str, Address),
        maker: (&str, Address),
        taker_swaps: &[SwapView],
        before: &Snapshot,
        after: &Snapshot,
    ) -> Result<BalanceCheck, DevnetError> {
        let market = market(chains)?;
        let mut base_amount = U256::ZERO;
        let mut quote_amount = U256::ZERO;
        let mut taker_buys = None;
        for swap in taker_swaps {
            let invalid = |err: dex_primitives::Error| {
                DevnetError::Check(format!(
                    "swap {} has a price or quantity off the grid: {err}",
                    swap.swap_id
                ))
            };
            let price = market.parse_price(&swap.price).map_err(invalid)?;
            let quantity = market.parse_quantity(&swap.quantity).map_err(invalid)?;
            let amounts = market.fill_amounts(price, quantity).map_err(invalid)?;
            base_amount += amounts.base;
            quote_amount += amounts.quote;
            let buys = swap.side == SideName::Buy;
            if taker_buys.is_some_and(|earlier| earlier != buys) {
                return Err(DevnetError::Check(
                    "the taker's swaps are on both sides".into(),
                ));
            }
            taker_buys = Some(buys);
        }
        let taker_buys = taker_buys.ok_or_else(|| DevnetError::Check("no swap to check".into()))?;
        let mut lines = Vec::new();
        for ((who, account), buys) in [(taker, taker_buys), (maker, !taker_buys)] {
            let (was, now) = (before.of(account)?, after.of(account)?);
            let base_fees = chains
                .base
                .fees_paid(account, before.base_block + 1, after.base_block)
                .await?;
            let quote_fees = chains
                .quote
                .fees_paid(account, before.quote_block + 1, after.quote_block)
                .await?;
            // A buyer receives base and pays quote; a seller the other way round. Nobody
            // may come out short of what the chains allow: underflow is a failed check.
            let moved = |start: U256, gain: bool, amount: U256, fees: U256| {
                if gain {
                    (start + amount).checked_sub(fees)
                } else {
                    start.checked_sub(amount + fees)
                }
                .unwrap_or(U256::MAX)
            };
            lines.push(BalanceLine {
                who: who.to_owned(),
                asset: format!("ETH on {}", chains.base.chain_id),
                decimals: 18,
                before: was.base_eth,
                after: now.base_eth,
                expected: moved(was.base_eth, buys, base_amount, base_fees),
                fees: base_fees,
            });
            lines.push(BalanceLine {
                who: who.to_owned(),
                asset: format!("{} on {}", chains.usdc.symbol, chains.quote.chain_id),
                decimals: chains.usdc.decimals,
                before: was.usdc,
                after: now.usdc,
                expected: moved(was.usdc, !buys, quote_amount, U256::ZERO),
                fees: U256::ZERO,
            });
            lines.push(BalanceLine {
                who: who.to_owned(),
                asset: format!("ETH on {}", chains.quote.chain_id),
                decimals: 18,
                before: was.quote_eth,
                after: now.quote_eth,
                expected: moved(was.quote_eth, true, U256::ZERO, quote_fees),
                fees: quote_fees,
            });
        }
        Ok(BalanceCheck {
            base_amount,
            quote_amount,
            lines,
        })
    }

    /// Whether every balance moved exactly as the trade says.
    pub fn exact(&self) -> bool {
        self.lines.iter().all(BalanceLine::exact)
    }

    /// The check as a table for people.
    pub fn table(&self) -> Vec<String> {
        let mut rows = vec![format!(
            "  {:<10} {:<14} {:>26} {:>26} {:>22}  {}",
            "account", "asset", "before", "after", "change", "check"
        )];
        for line in &self.lines {
            let change = if line.after >= line.before {
                format!("+{}", format_units(line.after - line.before, line.decimals))
            } else {
                format!("-{}", format_units(line.before - line.after, line.decimals))
            };
            let check = if line.exact() {
                if line.fees.is_zero() {
                    "exact".to_owned()
                } else {
                    format!("exact (gas {} ETH)", format_units(line.fees, 18))
                }
            } else {
                format!(
                    "WRONG: expected {}",
                    format_units(line.expected, line.decimals)
                )
            };
            rows.push(format!(
                "  {:<10} {:<14} {:>26} {:>26} {:>22}  {check}",
                line.who,
                line.asset,
                format_units(line.before, line.decimals),
                format_units(line.after, line.decimals),
                change,
            ));
        }
        rows
    }
}
