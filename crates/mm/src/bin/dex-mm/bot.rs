//! The bot loop: every refresh it fetches the price, reads its open orders and swaps from the
//! node, asks the strategy, logs the decision with its reason, and carries it out — cancels
//! first, then places (the strategy's contract). It stops quoting (cancels everything) when
//! the price is too old, when API calls keep failing, and before it exits.

use std::{
    collections::{HashMap, HashSet},
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::{Receiver, RecvTimeoutError},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use dex_api::types::{MarketInfo, OwnOrderView, PlaceOrderRequest, SideName, TimeInForce};
use dex_mm::{Decision, Inventory, LiveOrder, Quote, Reason, ReferencePrice, Strategy};
use dex_primitives::{Address, Decimal, Lots, Market, MarketDef, OrderId, Ticks, U256, UnixMillis};
use tracing::{debug, error, info, warn};

use crate::{
    ledger::{self, Ledger, Reservation},
    metrics::{Halt, Metrics},
    node::{self, ApiError, Cancelled, NodeClient},
    price::PriceSource,
    settings::Settings,
    state::{Intent, OwnedOrders, StateFile},
};

/// Unix milliseconds now.
pub(crate) fn now_ms() -> UnixMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The market as the node describes it, checked against its id.
pub(crate) fn market_of(info: &MarketInfo) -> anyhow::Result<Market> {
    let integer = |what: &str, text: &str| {
        U256::from_str_radix(text, 10)
            .map_err(|err| anyhow::anyhow!("market {}: {what} {text:?}: {err}", info.symbol))
    };
    let def = MarketDef {
        base_chain: info.base.chain_id,
        base_token: info.base.token,
        quote_chain: info.quote.chain_id,
        quote_token: info.quote.token,
        base_per_lot: integer("basePerLot", &info.base_per_lot)?,
        quote_per_tick_lot: integer("quotePerTickLot", &info.quote_per_tick_lot)?,
        base_symbol: info.base.symbol.clone(),
        quote_symbol: info.quote.symbol.clone(),
        base_decimals: info.base.decimals,
        quote_decimals: info.quote.decimals,
    };
    let market = Market::new(def)?;
    if market.id() != info.id {
        anyhow::bail!(
            "market {}: the node's id {} is not the id of its parameters {}",
            info.symbol,
            info.id,
            market.id()
        );
    }
    Ok(market)
}

/// Bids and asks live once `decision` is carried out.
fn count_sides(decision: &Decision) -> (u64, u64) {
    let quotes = decision.resulting_quotes();
    let bids = quotes
        .iter()
        .filter(|quote| quote.side == dex_primitives::Side::Buy)
        .count() as u64;
    (bids, quotes.len() as u64 - bids)
}

/// Why the bot is not quoting.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    /// No refresh has decided anything yet.
    Starting,
    /// Quoting normally.
    Quoting,
    /// The strategy halted (stale or bad price, bad inputs), or there is no price yet.
    Halted(String),
    /// Too many API errors: paused until this time.
    Cooldown(UnixMillis),
}

/// One refresh's API failures.
#[derive(Debug, Default)]
struct Failures {
    count: u32,
    unreachable: bool,
}

/// The running bot.
#[derive(Debug)]
pub(crate) struct Bot {
    node: NodeClient,
    source: PriceSource,
    strategy: Strategy,
    /// The market as the API names it (its symbol).
    market_name: String,
    refresh: Duration,
    order_lifetime_s: u64,
    max_api_errors: u32,
    api_error_cooldown_ms: u64,
    shutdown_timeout: Duration,
    state_file: StateFile,
    /// The bot's orders that may be open, and placements in flight: what the state file says.
    owned: OwnedOrders,
    /// Orders placed in this run that may still start swaps (open, or not yet seen
    /// closed), for counting their swaps. Pruned after each read of the swap changes.
    placed: HashSet<OrderId>,
    /// The remaining quantity last seen of each open order, to notice partial fills.
    remaining: HashMap<OrderId, String>,
    /// The trader whose balances count (the one the node places orders with).
    trader: Address,
    /// The bot's own account, with `[inventory]`.
    ledger: Option<Ledger>,
    last_price: Option<ReferencePrice>,
    mode: Mode,
    error_streak: u32,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
}

impl Bot {
    /// A bot for the market `info` of the node behind `node`.
    pub(crate) fn new(
        settings: &Settings,
        node: NodeClient,
        source: PriceSource,
        info: &MarketInfo,
        trader: Address,
        metrics: Arc<Metrics>,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Bot> {
        let market = market_of(info)?;
        let strategy = Strategy::new(settings.strategy.clone(), market)
            .map_err(|err| anyhow::anyhow!("[strategy] for {}: {err}", info.symbol))?;
        Ok(Bot {
            node,
            source,
            strategy,
            market_name: info.symbol.clone(),
            refresh: settings.refresh_interval,
            order_lifetime_s: settings.order_lifetime.as_secs(),
            max_api_errors: settings.max_api_errors,
            api_error_cooldown_ms: dex_config::duration::whole_millis(settings.api_error_cooldown),
            shutdown_timeout: settings.shutdown_timeout,
            state_file: StateFile::new(settings.state_file()?),
            owned: OwnedOrders::default(),
            placed: HashSet::new(),
            remaining: HashMap::new(),
            trader,
            ledger: settings
                .inventory
                .as_ref()
                .map(|inventory| Ledger::new(inventory.base, inventory.quote)),
            last_price: None,
            mode: Mode::Starting,
            error_streak: 0,
            metrics,
            stop,
        })
    }

    fn market(&self) -> &Market {
        self.strategy.market()
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Cancels the orders a previous run left open (listed in the state file, or matching a
    /// placement it had not recorded yet). Retries every refresh until it succeeds; returns
    /// false if asked to stop first.
    pub(crate) fn cancel_leftovers(&mut self, signals: &Receiver<()>) -> anyhow::Result<bool> {
        let previous = self.state_file.load()?;
        if previous == OwnedOrders::default() {
            info!(state_file = %self.state_file.path().display(), "no orders left by a previous run");
            return Ok(true);
        }
        self.owned = previous;
        loop {
            match self.try_cancel_leftovers() {
                Ok(()) => return Ok(true),
                Err(err) => {
                    warn!("cannot cancel the previous run's orders yet: {err:#}");
                    let _ = self.node.reload();
                }
            }
            match signals.recv_timeout(self.refresh) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(false),
            }
        }
    }

    fn try_cancel_leftovers(&mut self) -> anyhow::Result<()> {
        let open = self.node.open_orders(None)?;
        let leftovers: Vec<OrderId> = self
            .owned
            .leftovers(&open)
            .iter()
            .map(|order| order.order_id)
            .collect();
        // From here the file lists exactly the leftovers, so a failure part-way loses none.
        self.owned.orders = leftovers.iter().copied().collect();
        self.owned.pending.clear();
        self.state_file.save(&self.owned)?;
        info!(
            count = leftovers.len(),
            state_file = %self.state_file.path().display(),
            "cancelling the orders a previous run left open"
        );
        for id in leftovers {
            let outcome = self.node.cancel(id)?;
            self.owned.orders.remove(&id);
            self.state_file.save(&self.owned)?;
            info!(order = %id, ?outcome, "cancelled a leftover order");
        }
        Ok(())
    }

    /// Refreshes every `refresh_interval` until a signal arrives, then cancels every order
    /// it has. Returns true when none is left open.
    pub(crate) fn run(&mut self, signals: &Receiver<()>) -> bool {
        info!(
            market = %self.market_name,
            source = %self.source.describe(),
            node = %self.node.base(),
            refresh_ms = self.refresh.as_millis() as u64,
            "quoting"
        );
        while !self.stopping() {
            let wait = self.refresh_once();
            match signals.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.shutdown()
    }

    /// Cancels everything, retrying until `shutdown_timeout`.
    fn shutdown(&mut self) -> bool {
        info!(
            orders = self.owned.orders.len(),
            "stopping: cancelling the bot's orders"
        );
        let deadline = Instant::now() + self.shutdown_timeout;
        loop {
            let mut failures = Failures::default();
            if self.cancel_all(&mut failures) {
                info!("every order of the bot is cancelled");
                return true;
            }
            if Instant::now() >= deadline {
                error!(
                    orders = ?self.owned.orders,
                    state_file = %self.state_file.path().display(),
                    "could not cancel every order before exit; the next start cancels them"
                );
                return false;
            }
            let _ = self.node.reload();
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// One refresh; returns how long to wait before the next.
    fn refresh_once(&mut self) -> Duration {
        let started = Instant::now();
        let mut failures = Failures::default();
        self.cycle(&mut failures);
        self.count_failures(&failures);
        let elapsed = started.elapsed();
        self.metrics.refreshed(elapsed.as_secs_f64());
        let mut wait = self.refresh.saturating_sub(elapsed);
        // While the source fails, wake when the last price goes stale, not a refresh later.
        if let Some(price) = self.last_price {
            let stale_at = price
                .observed_at
                .saturating_add(self.strategy.config().max_price_age_ms)
                .saturating_add(1);
            let until_stale = Duration::from_millis(stale_at.saturating_sub(now_ms()));
            if self.mode == Mode::Quoting && until_stale < wait {
                wait = until_stale;
            }
        }
        wait
    }

    fn api_failed(&self, failures: &mut Failures, what: &str, err: &ApiError) {
        failures.count += 1;
        failures.unreachable |= matches!(err, ApiError::Unreachable { .. });
        self.metrics.api_errors.inc();
        warn!("{what}: {err}");
    }

    fn count_failures(&mut self, failures: &Failures) {
        if failures.unreachable {
            // A restarted node may listen elsewhere; its data dir says where.
            if let Err(err) = self.node.reload() {
                warn!("cannot read the node's URL and token again: {err:#}");
            }
        }
        if failures.count == 0 {
            self.error_streak = 0;
            return;
        }
        self.error_streak += 1;
        if self.error_streak < self.max_api_errors || matches!(self.mode, Mode::Cooldown(_)) {
            return;
        }
        let until = now_ms().saturating_add(self.api_error_cooldown_ms);
        error!(
            refreshes = self.error_streak,
            cooldown_ms = self.api_error_cooldown_ms,
            "API calls failed in {} refreshes in a row: cancelling every quote and pausing",
            self.error_streak
        );
        self.mode = Mode::Cooldown(until);
        self.error_streak = 0;
        self.metrics.halted(Halt::Api);
        self.metrics.set_quoting(false);
        let mut ignored = Failures::default();
        self.cancel_all(&mut ignored);
    }

    /// Cancels every order the bot may have open. True when none is left.
    fn cancel_all(&mut self, failures: &mut Failures) -> bool {
        let ids: Vec<OrderId> = self.owned.orders.iter().copied().collect();
        for id in ids {
            match self.node.cancel(id) {
                Ok(outcome) => {
                    self.forget(id);
                    if outcome == Cancelled::Now {
                        self.metrics.orders_cancelled.inc();
                        info!(order = %id, "cancelled");
                    }
                }
                Err(err) => {
                    self.api_failed(failures, &format!("cancelling {id}"), &err);
                    if matches!(err, ApiError::Unreachable { .. }) {
                        // The others would fail the same way.
                        break;
                    }
                }
            }
        }
        self.save_state();
        self.owned.orders.is_empty()
    }

    fn forget(&mut self, id: OrderId) {
        self.owned.orders.remove(&id);
        self.remaining.remove(&id);
    }

    fn save_state(&self) -> bool {
        match self.state_file.save(&self.owned) {
            Ok(()) => true,
            Err(err) => {
                error!("{err:#}");
                false
            }
        }
    }

    /// Logs and counts changes between quoting and halted (a halt's reason changes at
    /// every refresh, a stale price's age for one: only the change of mode is news).
    fn set_mode(&mut self, mode: Mode) {
        if std::mem::discriminant(&mode) != std::mem::discriminant(&self.mode) {
            match &mode {
                Mode::Quoting if self.mode == Mode::Starting => {
                    info!(market = %self.market_name, "quoting");
                }
                Mode::Quoting => info!(market = %self.market_name, "quoting again"),
                Mode::Halted(reason) => {
                    warn!(market = %self.market_name, %reason, "halted: cancelling every quote");
                    self.metrics.halted(Halt::Inputs);
                }
                Mode::Starting | Mode::Cooldown(_) => {}
            }
        }
        self.metrics.set_quoting(mode == Mode::Quoting);
        self.mode = mode;
    }

    fn cycle(&mut self, failures: &mut Failures) {
        match self.source.fetch(&self.node, now_ms) {
            Ok(price) => {
                self.last_price = Some(price);
                self.metrics
                    .set_reference_price(price.price.to_string().parse().unwrap_or(f64::NAN));
            }
            Err(err) => {
                self.metrics.price_failures.inc();
                let age = self
                    .last_price
                    .map(|price| now_ms().saturating_sub(price.observed_at));
                warn!(
                    last_price_age_ms = age,
                    max_price_age_ms = self.strategy.config().max_price_age_ms,
                    "price source failed: {err}"
                );
            }
        }
        let now = now_ms();
        if let Some(price) = self.last_price {
            let age = now.saturating_sub(price.observed_at) as f64 / 1000.0;
            self.metrics.set_price_age(age);
        }

        if let Mode::Cooldown(until) = self.mode {
            // The halt cancels everything: quoting resumes from no orders at all, once the
            // pause is over and the node has confirmed every cancel.
            if !self.owned.orders.is_empty() {
                self.cancel_all(failures);
            }
            if now < until || !self.owned.orders.is_empty() {
                return;
            }
            info!("pause after API errors is over");
            self.mode = Mode::Halted("resuming after API errors".into());
        }

        let open = match self.node.open_orders(Some(&self.market_name)) {
            Ok(open) => open,
            Err(err) => return self.api_failed(failures, "reading the bot's orders", &err),
        };
        self.track(&open, now);
        let margin_ms = self.refresh.as_millis() as u64 * 2 + 1_000;
        let mut live = Vec::new();
        let mut reservations = Vec::new();
        let mut expiring: Vec<LiveOrder> = Vec::new();
        for order in open
            .iter()
            .filter(|order| self.owned.orders.contains(&order.order_id))
        {
            let Some((live_order, reservation)) = self.live_order(order) else {
                continue;
            };
            if order.expires_at <= now.saturating_add(margin_ms) {
                expiring.push(live_order);
                continue;
            }
            live.push(live_order);
            reservations.push(reservation);
        }

        let inventory = match self.inventory(&reservations, failures) {
            Ok(inventory) => inventory,
            Err(reason) => {
                self.stand_down(reason, &live, expiring, failures);
                return;
            }
        };
        let Some(price) = self.last_price else {
            self.stand_down("no reference price yet".into(), &live, expiring, failures);
            return;
        };
        let decision = self.strategy.decide(&price, &live, &inventory, now);
        match &decision.reason {
            Reason::Quoting(_) => self.set_mode(Mode::Quoting),
            Reason::Halted(error) => self.set_mode(Mode::Halted(error.to_string())),
        }
        self.log(&decision, &expiring);
        self.execute(&expiring, Some(&decision), failures);
        let (bids, asks) = count_sides(&decision);
        self.metrics.set_live_orders(bids, asks);
    }

    /// Updates the record from the open orders: closed orders are forgotten, and placements
    /// whose answer was lost are adopted by their intent.
    fn track(&mut self, open: &[OwnOrderView], now: UnixMillis) {
        let before = self.owned.clone();
        let open_ids: HashSet<OrderId> = open.iter().map(|order| order.order_id).collect();
        let vanished: Vec<OrderId> = self
            .owned
            .orders
            .iter()
            .filter(|id| !open_ids.contains(id))
            .copied()
            .collect();
        self.owned.orders.retain(|id| open_ids.contains(id));
        for id in vanished {
            self.report_closed(id);
        }
        for order in open
            .iter()
            .filter(|order| self.owned.orders.contains(&order.order_id))
        {
            let remaining = order.remaining.clone();
            let before = self.remaining.insert(order.order_id, remaining.clone());
            if before.is_some_and(|before| before != remaining) {
                info!(order = %order.order_id, side = order.side.as_str(), price = %order.price, %remaining, "a quote was partly filled");
            }
        }
        if !self.owned.pending.is_empty() {
            let pending = OwnedOrders {
                orders: Default::default(),
                pending: std::mem::take(&mut self.owned.pending),
            };
            for order in pending.leftovers(open) {
                if self.owned.orders.insert(order.order_id) {
                    self.placed.insert(order.order_id);
                    info!(order = %order.order_id, "adopted an order whose placement answer was lost");
                }
            }
            // An intent not matched within a few refreshes was not placed.
            let horizon = self.refresh.as_millis() as u64 * 3 + 30_000;
            self.owned.pending = pending
                .pending
                .into_iter()
                .filter(|intent| intent.at.saturating_add(horizon) > now)
                .collect();
        }
        if self.owned != before {
            self.save_state();
        }
    }

    /// Says how an order of the bot that left the open list ended (filled, expired, or
    /// cancelled by someone else).
    fn report_closed(&mut self, id: OrderId) {
        self.remaining.remove(&id);
        match self.node.order(id) {
            Ok(order) if order.status == "filled" => {
                self.metrics.fills.inc();
                info!(order = %id, side = order.side.as_str(), price = %order.price, quantity = %order.quantity, "a quote was filled");
            }
            Ok(order) => {
                info!(order = %id, status = %order.status, "a quote left the book");
            }
            Err(err) => debug!(order = %id, "a quote left the book: {err}"),
        }
    }

    /// What the strategy is told the bot holds; an error says why quoting cannot go on.
    fn inventory(
        &mut self,
        reservations: &[Reservation],
        failures: &mut Failures,
    ) -> Result<Inventory, String> {
        let balances = match self.node.balances() {
            Ok(balances) => balances,
            Err(err) => {
                self.api_failed(failures, "reading the balances", &err);
                return Err(format!("cannot read the balances: {err}"));
            }
        };
        let node = ledger::from_balances(&balances, self.trader, self.strategy.market())?;
        if self.ledger.is_some() {
            self.observe_swaps(failures)?;
        }
        let Some(ledger) = &self.ledger else {
            let total = |asset: dex_mm::AssetBalance| {
                (asset.free + asset.locked)
                    .to_string()
                    .parse()
                    .unwrap_or(f64::NAN)
            };
            self.metrics
                .set_inventory(total(node.base), total(node.quote));
            return Ok(node);
        };
        let (base, quote) = ledger.totals();
        let own = ledger.inventory(reservations);
        self.metrics.set_inventory(
            base.to_string().parse().unwrap_or(f64::NAN),
            quote.to_string().parse().unwrap_or(f64::NAN),
        );
        Ok(ledger::within_node(own, &node))
    }

    /// Moves the bot's own account by the swaps of its orders that completed.
    fn observe_swaps(&mut self, failures: &mut Failures) -> Result<(), String> {
        let Some(ledger) = &mut self.ledger else {
            return Ok(());
        };
        // Only what changed since the last read, so a refresh costs the node the same
        // however many swaps it ever made (the first read of a run goes through them all
        // once, a page at a time). A full page means more changes are waiting.
        loop {
            let page = match self.node.swaps_changed(ledger.cursor()) {
                Ok(page) => page,
                Err(err) => {
                    self.api_failed(failures, "reading the swaps", &err);
                    return Err(format!("cannot read the swaps: {err}"));
                }
            };
            let client = &self.node;
            let news = ledger.observe(&page.swaps, page.cursor, &self.placed, |id| {
                client.swap(id).map(|detail| ledger::outcome(&detail))
            });
            let news = match news {
                Ok(news) => news,
                Err(err) => {
                    self.api_failed(failures, "reading a swap", &err);
                    return Err(format!("cannot read a swap: {err}"));
                }
            };
            for (swap, side, quantity, price) in &news.completed {
                info!(%swap, side = side.as_str(), %quantity, %price, "a swap of the bot completed");
            }
            for (swap, reason) in &news.failed {
                error!(%swap, %reason, "a swap of the bot failed with its asset gone");
            }
            if page.swaps.len() < node::PAGE as usize {
                break;
            }
        }
        // An order no longer open starts no swap: any swap of it began while it was open,
        // before this refresh read the open orders, so the changes just read hold it (the
        // ledger follows it from there). Without this, the set would grow with every order
        // of the run.
        let owned = &self.owned.orders;
        self.placed.retain(|id| owned.contains(id));
        Ok(())
    }

    /// Quoting cannot go on (no price, no balances): cancels every live quote (and the
    /// expiring ones) and places nothing.
    fn stand_down(
        &mut self,
        reason: String,
        live: &[LiveOrder],
        mut expiring: Vec<LiveOrder>,
        failures: &mut Failures,
    ) {
        expiring.extend_from_slice(live);
        self.set_mode(Mode::Halted(reason));
        self.execute(&expiring, None, failures);
        self.metrics.set_live_orders(0, 0);
    }

    fn live_order(&self, view: &OwnOrderView) -> Option<(LiveOrder, Reservation)> {
        let market = self.market();
        let price = market.parse_price(&view.price).ok()?;
        let remaining_decimal = Decimal::from_str(&view.remaining).ok()?;
        let remaining = if remaining_decimal.is_zero() {
            Lots(0)
        } else {
            market.quantity_to_lots(remaining_decimal).ok()?
        };
        let price_decimal = Decimal::from_str(&view.price).ok()?;
        Some((
            LiveOrder {
                id: view.order_id,
                side: view.side.into(),
                price,
                remaining,
            },
            Reservation {
                side: view.side,
                price: price_decimal,
                remaining: remaining_decimal,
            },
        ))
    }

    fn log(&self, decision: &Decision, expiring: &[LiveOrder]) {
        if decision.is_noop() && expiring.is_empty() {
            debug!(market = %self.market_name, reason = %decision.reason, kept = decision.kept.len(), "nothing to change");
            return;
        }
        info!(
            market = %self.market_name,
            reason = %decision.reason,
            keep = decision.kept.len(),
            cancel = decision.cancels.len() + expiring.len(),
            place = decision.places.len(),
            "decision"
        );
        for note in &decision.notes {
            info!(market = %self.market_name, "{note}");
        }
        for order in expiring {
            let (price, quantity) = self.display(order.price, order.remaining);
            info!(order = %order.id, side = %order.side, %price, %quantity, "cancel: it expires soon");
        }
        for cancel in &decision.cancels {
            let (price, quantity) = self.display(cancel.price, cancel.remaining);
            info!(order = %cancel.order, side = %cancel.side, %price, %quantity, "cancel: {}", cancel.reason);
        }
        for quote in &decision.places {
            let (price, quantity) = self.display(quote.price, quote.quantity);
            info!(side = %quote.side, level = quote.level, %price, %quantity, "place");
        }
    }

    /// A price and a quantity in display units, for logs.
    fn display(&self, price: Ticks, quantity: Lots) -> (String, String) {
        let market = self.market();
        (
            market.ticks_to_price(price).map_or_else(
                |_| format!("{} ticks", price.0),
                |p| p.normalize().to_string(),
            ),
            market.lots_to_quantity(quantity).map_or_else(
                |_| format!("{} lots", quantity.0),
                |q| q.normalize().to_string(),
            ),
        )
    }

    /// Cancels `expiring` and the decision's cancels, then (if every cancel went through)
    /// places the decision's quotes.
    fn execute(
        &mut self,
        expiring: &[LiveOrder],
        decision: Option<&Decision>,
        failures: &mut Failures,
    ) {
        let cancels: Vec<OrderId> = expiring
            .iter()
            .map(|order| order.id)
            .chain(
                decision
                    .iter()
                    .flat_map(|d| d.cancels.iter().map(|c| c.order)),
            )
            .collect();
        let mut all_cancelled = true;
        let any_cancel = !cancels.is_empty();
        for id in cancels {
            if self.stopping() {
                return;
            }
            match self.node.cancel(id) {
                Ok(outcome) => {
                    self.forget(id);
                    if outcome == Cancelled::Now {
                        self.metrics.orders_cancelled.inc();
                    }
                }
                Err(err) => {
                    all_cancelled = false;
                    self.api_failed(failures, &format!("cancelling {id}"), &err);
                    if matches!(err, ApiError::Unreachable { .. }) {
                        break;
                    }
                }
            }
        }
        if any_cancel {
            self.save_state();
        }
        let Some(decision) = decision else { return };
        if decision.places.is_empty() || self.stopping() {
            return;
        }
        if !all_cancelled {
            warn!("not placing: a cancel failed, and places may need what it would release");
            return;
        }
        let requests: Vec<PlaceOrderRequest> = decision
            .places
            .iter()
            .map(|quote| self.request(quote))
            .collect();
        let at = now_ms();
        let intents: Vec<Intent> = requests
            .iter()
            .map(|request| Intent {
                market: request.market.clone(),
                side: request.side,
                price: request.price.clone(),
                quantity: request.quantity.clone(),
                at,
            })
            .collect();
        // Written before the requests: a crash between a request and the record of its
        // answer leaves an intent that the next run (or refresh) finds the order by.
        self.owned.pending = intents.clone();
        if !self.save_state() {
            failures.count += 1;
            self.owned.pending.clear();
            return;
        }
        let mut unanswered = None;
        for (request, intent) in requests.iter().zip(intents) {
            if self.stopping() {
                break;
            }
            match self.node.place(request) {
                Ok(view) => {
                    self.owned.orders.insert(view.order_id);
                    self.placed.insert(view.order_id);
                    self.metrics.orders_placed.inc();
                    debug!(order = %view.order_id, side = request.side.as_str(), price = %request.price, quantity = %request.quantity, status = %view.status, "placed");
                }
                Err(err) => {
                    // Without an answer the order may exist; a refusal placed nothing.
                    if matches!(err, ApiError::Unreachable { .. }) {
                        unanswered = Some(intent);
                    }
                    let what = format!(
                        "placing {} {} at {}",
                        request.side.as_str(),
                        request.quantity,
                        request.price
                    );
                    self.api_failed(failures, &what, &err);
                    break;
                }
            }
        }
        self.owned.pending = unanswered.into_iter().collect();
        self.save_state();
    }

    fn request(&self, quote: &Quote) -> PlaceOrderRequest {
        let market = self.market();
        let price = market
            .ticks_to_price(quote.price)
            .expect("the strategy's prices are on the market's grid");
        let quantity = market
            .lots_to_quantity(quote.quantity)
            .expect("the strategy's sizes are on the market's grid");
        PlaceOrderRequest {
            market: self.market_name.clone(),
            side: SideName::from(quote.side),
            price: price.normalize().to_string(),
            quantity: quantity.normalize().to_string(),
            min_fill: None,
            time_in_force: TimeInForce::Gtc,
            expires_in: Some(self.order_lifetime_s),
            client_order_id: None,
        }
    }
}
