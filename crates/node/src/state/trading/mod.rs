//! Settlement in the pure core (DESIGN §6–8): own orders and what happens to them, the take
//! protocol on both sides, and the swaps it starts. Given decoded messages, chain batches
//! and `now`, it decides ([`Decision`]): the shell writes what it must persist, and only
//! then does what it decided.
//!
//! One component per concern, each owning its state, each in its module with the handlers
//! of its events:
//! - [`OwnOrders`] (`own_orders`): placing, reserving, committing fills, cancelling;
//! - [`OutgoingTakes`] (`outgoing`): the taker side of the take protocol;
//! - [`IncomingTakes`] (`incoming`): the maker side, with `check_take`, which judges a
//!   request without changing anything, apart from the reservation that follows it;
//! - [`Swaps`] (`swaps`): the swap machines, their steps persisted before their actions;
//! - [`ChainView`] (`chain_view`): each chain's clocks and events routed to swaps;
//! - [`Counterparties`] (`counterparties`): how swaps with each peer and trader ended;
//! - `restore`: all of it read back after a restart.

use dex_chain::{BlockRef, ChainEvent};
use dex_primitives::{Address, Lots, MarketId, OrderId, Side, Ticks, UnixMillis};
use dex_swap::{Event as SwapEvent, Leg, LockTerms, Swap, SwapId, Timing};
use tracing::info;

use super::{Decision, Ledger, NodeState, millis};
use crate::{Error, SettlementConfig};

mod chain_view;
mod counterparties;
mod incoming;
mod outgoing;
mod own_orders;
mod restore;
mod swaps;

use chain_view::ChainView;
use counterparties::Counterparties;
#[cfg(test)]
use counterparties::Verdict;
pub use counterparties::{Counterparty, CounterpartyRecord};
use incoming::IncomingTakes;
pub use incoming::TakerFundsQuery;
use outgoing::OutgoingTakes;
pub(crate) use own_orders::{Own, OwnOrders};
pub(crate) use swaps::{SwapEntry, Swaps};

/// Rounds of re-planning after refused takes, per order: bounds the work a crowd of
/// refusing makers can cause.
const MAX_TAKE_ROUNDS: u32 = 4;

/// Take requests in flight to one maker node at once; more fills wait for answers. A sweep
/// of many levels of one maker must not open more streams than the connection allows.
const MAX_TAKES_PER_PEER: usize = 16;

/// How long an order stays valid when the request names no expiry: one day.
pub const DEFAULT_EXPIRY_MS: u64 = 24 * 60 * 60 * 1000;

/// Whether an order rests after its takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimeInForce {
    /// Good till cancelled: what is not filled rests in the book.
    #[default]
    Gtc,
    /// Immediate or cancel: what the takes do not fill is cancelled.
    Ioc,
}

/// An order to place, in market units (the API converts decimal strings exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOrder {
    /// The market.
    pub market: MarketId,
    /// Buy or sell base.
    pub side: Side,
    /// Limit price.
    pub price: Ticks,
    /// Quantity.
    pub quantity: Lots,
    /// Smallest fill accepted; default one lot.
    pub min_fill: Option<Lots>,
    /// GTC (default) or IOC.
    pub time_in_force: TimeInForce,
    /// Lifetime; default [`DEFAULT_EXPIRY_MS`].
    pub expires_in_ms: Option<u64>,
    /// Which of the node's trader keys makes it; default the first.
    pub maker: Option<Address>,
    /// The client's own id of the order, unique on this node (see
    /// [`PlaceOrder::client_request`]).
    pub client_order_id: Option<String>,
}

impl PlaceOrder {
    /// The placement in a canonical form, kept with its client order id: the same
    /// placement (whatever its client order id) gives the same text, so a placement sent
    /// again under the same id is recognised, and a different one under it is refused.
    pub fn client_request(&self) -> String {
        let min_fill = self.min_fill.map(|lots| lots.0);
        let maker = self.maker.map(|maker| maker.to_string());
        format!(
            "market={};side={};price={};quantity={};min_fill={min_fill:?};tif={:?};\
             expires_in_ms={:?};maker={maker:?}",
            self.market,
            self.side.as_u8(),
            self.price.0,
            self.quantity.0,
            self.time_in_force,
            self.expires_in_ms,
        )
    }
}

/// Settlement state of the node, one component per concern, each owning its state. Lives
/// inside [`NodeState`].
#[derive(Debug)]
pub(crate) struct Trading {
    timing: Timing,
    lock_margin_ms: u64,
    repost_failed: bool,
    /// What the node sees of each chain.
    chains: ChainView,
    /// Own orders beyond the book.
    pub(crate) own: OwnOrders,
    /// Take requests sent, waiting for answers.
    outgoing: OutgoingTakes,
    /// Admission of takers' requests.
    incoming: IncomingTakes,
    /// How swaps with each peer and trader ended; who is refused for a while.
    counterparties: Counterparties,
    /// Swaps in progress and what every swap left behind (hashlocks, commits).
    pub(crate) swaps: Swaps,
    /// Balances: on chain, reserved by orders, locks seen.
    pub(crate) ledger: Ledger,
}

impl Trading {
    pub(crate) fn new(config: &SettlementConfig) -> Trading {
        Trading {
            timing: config.timing,
            // The taker reads the maker's deadline on its own clock: the skew allowed
            // between the two comes off the time it has to lock.
            lock_margin_ms: millis(config.lock_margin)
                .saturating_add(millis(config.max_clock_skew)),
            repost_failed: config.repost_failed,
            chains: ChainView::new(config),
            own: OwnOrders::default(),
            outgoing: OutgoingTakes::new(millis(config.take_timeout)),
            incoming: IncomingTakes::new(config),
            counterparties: Counterparties::new(
                config.refuse_after_failures,
                millis(config.refuse_period),
            ),
            swaps: Swaps::default(),
            ledger: Ledger::new(config),
        }
    }
}

/// A swap with a leg on some chain: its id, its legs there, and the lock it waits to see.
type OnChain = (SwapId, Vec<Leg>, Option<(Leg, u64)>);

/// One scan step of a chain, as the node core takes it.
#[derive(Debug, Clone, Default)]
pub struct ChainBatch {
    /// HTLC events in chain order.
    pub events: Vec<ChainEvent>,
    /// The last block scanned: every event up to it was reported.
    pub last_block: Option<BlockRef>,
    /// The chain's head when the step read it.
    pub head: Option<BlockRef>,
    /// Set when the step found blocks it had read replaced: the first block that changed.
    /// What was reported from it on may be gone (the scan reads it again).
    pub reorg: Option<u64>,
    /// Where the scan stands now (next block, cursor JSON), to persist after the events.
    pub cursor: Option<(u64, String)>,
}

/// The two legs of a trade at `price` × `quantity` in `market`, for a taker on `taker_side`.
struct Legs {
    taker_leg: LockTerms,
    maker_leg: LockTerms,
}

impl NodeState {
    fn trading_mut(&mut self) -> Result<&mut Trading, Error> {
        self.trading.as_mut().ok_or(Error::SettlementOff)
    }

    /// The lock terms of both legs of a trade.
    fn legs(
        &self,
        market: &MarketId,
        taker_side: Side,
        price: Ticks,
        quantity: Lots,
        taker: Address,
        maker: Address,
    ) -> Result<Legs, Error> {
        let trading = self.trading.as_ref().ok_or(Error::SettlementOff)?;
        let market = self
            .markets
            .get(market)
            .ok_or(Error::UnknownMarket { market: *market })?;
        let def = market.def();
        let amounts = market.fill_amounts(price, quantity).map_err(|source| {
            dex_protocol::Error::Invalid {
                what: "order",
                source,
            }
        })?;
        let htlc = |chain_id: u64| {
            trading
                .chains
                .htlc(chain_id)
                .ok_or(Error::ChainNotConfigured { chain_id })
        };
        let base = (def.base_chain, def.base_token, amounts.base);
        let quote = (def.quote_chain, def.quote_token, amounts.quote);
        // The taker gives quote when it buys base, base when it sells.
        let (gives, gets) = match taker_side {
            Side::Buy => (quote, base),
            Side::Sell => (base, quote),
        };
        Ok(Legs {
            taker_leg: LockTerms {
                chain_id: gives.0,
                contract: htlc(gives.0)?,
                token: gives.1,
                amount: gives.2,
                sender: taker,
                recipient: maker,
            },
            maker_leg: LockTerms {
                chain_id: gets.0,
                contract: htlc(gets.0)?,
                token: gets.1,
                amount: gets.2,
                sender: maker,
                recipient: taker,
            },
        })
    }

    /// Refuses trading on a market whose chains are not both reachable.
    fn check_chains_up(&self, market: &MarketId) -> Result<(), Error> {
        let trading = self.trading.as_ref().ok_or(Error::SettlementOff)?;
        let def = self
            .markets
            .get(market)
            .ok_or(Error::UnknownMarket { market: *market })?
            .def();
        for chain_id in [def.base_chain, def.quote_chain] {
            if trading.chains.htlc(chain_id).is_none() {
                return Err(Error::ChainNotConfigured { chain_id });
            }
            if !trading.chains.is_up(chain_id) {
                return Err(Error::ChainUnavailable { chain_id });
            }
        }
        Ok(())
    }

    /// Periodic settlement work: take answers that never came, and every swap's deadlines
    /// and retries.
    pub fn trading_tick(&mut self, now: UnixMillis) -> Decision {
        let mut decision = Decision::default();
        let Some(trading) = self.trading.as_mut() else {
            return decision;
        };
        trading.incoming.prune(now);
        for id in trading.own.take_expired() {
            self.expire_own(id, now, &mut decision);
        }
        let Some(trading) = self.trading.as_mut() else {
            return decision;
        };
        for request_id in trading.outgoing.overdue(now) {
            if let Some(take) = self
                .trading
                .as_mut()
                .and_then(|t| t.outgoing.remove(&request_id))
            {
                info!(maker_order = %take.request.maker_order_id, "take answer timed out");
                self.take_failed(take, true, now, &mut decision);
            }
        }
        let swaps: Vec<SwapId> = self
            .trading
            .as_ref()
            .map(|trading| trading.swaps.ids())
            .unwrap_or_default();
        for swap_id in swaps {
            self.drive(swap_id, SwapEvent::Tick, now, &mut decision);
        }
        // A resting own order that is the later of a cross must take (every node agrees it
        // is the taker): an order that arrived late, or ours after a refused take.
        let mut takers: Vec<OrderId> = self
            .books
            .values()
            .flat_map(|state| state.book.pending_crosses())
            .filter(|cross| self.traders.contains_key(&cross.taker_maker))
            .map(|cross| cross.taker)
            .collect();
        takers.sort_unstable();
        takers.dedup();
        for id in takers {
            let resting = self
                .trading
                .as_ref()
                .and_then(|trading| trading.own.get(&id))
                .is_some_and(|own| own.in_book);
            if resting {
                self.take_for(id, now, false, &mut decision);
            }
        }
        decision
    }
}

/// The phase of a swap as a stable name (`takerLocking`, `makerLocked`, `finished`...);
/// `reorged` while the counterparty's lock it acted on is gone after a reorg.
pub fn phase_name(swap: &Swap) -> &'static str {
    use dex_swap::Phase;
    if swap.counter_lock_reorged() {
        return "reorged";
    }
    match swap.phase() {
        Phase::TakerStart => "takerStart",
        Phase::TakerLocking { .. } => "takerLocking",
        Phase::TakerLocked {
            claim_sent_at: Some(_),
            ..
        } => "takerClaiming",
        Phase::TakerLocked { .. } => "takerLocked",
        Phase::MakerWaiting => "makerWaiting",
        Phase::MakerLocking { .. } => "makerLocking",
        Phase::MakerLocked {
            claim_sent_at: Some(_),
            ..
        } => "makerClaiming",
        Phase::MakerLocked { .. } => "makerLocked",
        Phase::Finished { .. } => "finished",
    }
}
