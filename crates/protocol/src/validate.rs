//! Validation of received bytes into a verdict, the way gossipsub wants it.
//!
//! Cheap checks run first and the signature recovery (≈50 µs, the cost of ingest) last:
//! size, then JSON, then the market and topic, then duplicates by id, then the trading
//! rules, then the signature. A replayed order therefore costs one EIP-712 hash, not a
//! recovery.

use dex_primitives::{
    Address, Lots, MarketId, Markets, Order, OrderId, UnixMillis, ValidationRules, VerifiedAlive,
    VerifiedOrder, VerifiedUpdate,
};

use crate::{
    ALIVE_TOPIC, Error, GossipMessage, WireMessage, market_of_topic, market_topic, sync::PageEntry,
};

/// What the receiving node already knows, consulted before any signature work.
///
/// Implemented by the node over its books; tests implement it over a map.
pub trait SeenState {
    /// A cheap pre-check before the order id is computed: `false` promises the order was
    /// never seen (so its id need not be computed to look for it), `true` means "maybe".
    /// Computing an EIP-712 id costs a few microseconds, a noticeable share of ingest, and
    /// new orders are the common case. The default always answers "maybe".
    fn may_contain(&self, order: &Order) -> bool {
        let _ = order;
        true
    }
    /// True when the order was seen before: open in a book, or removed (cancelled, filled,
    /// expired) but remembered so a replay does not bring it back.
    fn contains_order(&self, id: &OrderId) -> bool;
    /// The open order an update refers to, with its current remaining quantity.
    fn known_order(&self, id: &OrderId) -> Option<KnownOrder<'_>>;
    /// The newest `alive` timestamp seen from `maker` in `market`.
    fn newest_alive(&self, maker: &Address, market: &MarketId) -> Option<UnixMillis>;
}

/// An open order as known to the node.
#[derive(Debug, Clone, Copy)]
pub struct KnownOrder<'a> {
    /// The verified order.
    pub order: &'a VerifiedOrder,
    /// Its remaining quantity now.
    pub remaining: Lots,
}

/// Everything validation needs besides the bytes and the time.
#[derive(Debug, Clone, Copy)]
pub struct ValidationContext<'a, S: ?Sized> {
    /// The markets this node trades.
    pub markets: &'a Markets,
    /// Trading rules (clock skew, maximum lifetime).
    pub rules: &'a ValidationRules,
    /// What the node already knows.
    pub seen: &'a S,
    /// The gossip topic the message arrived on; `None` when it did not come from gossip.
    pub topic: Option<&'a str>,
    /// `alive` heartbeats older than this (relative to `now`) are stale: their maker is
    /// already considered silent.
    pub alive_max_age_ms: u64,
}

/// A message that passed every check, ready for the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedMessage {
    /// A new order.
    Order(VerifiedOrder),
    /// A lower remaining quantity for a known order.
    Update(VerifiedUpdate),
    /// A maker's heartbeat.
    Alive(VerifiedAlive),
}

/// The node's judgement of a received message, mapped one to one onto gossipsub's
/// `MessageAcceptance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Valid and new: apply it and forward it.
    Accept(VerifiedMessage),
    /// The sender misbehaved (malformed, oversized, bad signature, broken rule): drop it and
    /// lower the sender's score.
    Reject(Error),
    /// Not useful (duplicate, stale, expired, unknown market or order): drop it quietly.
    Ignore(Error),
}

impl Verdict {
    /// `accept`, `reject` or `ignore`, for counters.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Accept(_) => "accept",
            Verdict::Reject(_) => "reject",
            Verdict::Ignore(_) => "ignore",
        }
    }
}

/// Turns a failure into `Reject` (the sender's fault) or `Ignore` (anything else).
pub fn classify(error: Error) -> Verdict {
    if error.is_fault() {
        Verdict::Reject(error)
    } else {
        Verdict::Ignore(error)
    }
}

/// Judges gossiped bytes received at `now` (unix ms).
pub fn validate<S: SeenState + ?Sized>(
    bytes: &[u8],
    now: UnixMillis,
    ctx: &ValidationContext<'_, S>,
) -> Verdict {
    match GossipMessage::decode(bytes).and_then(|message| check_message(message, now, ctx)) {
        Ok(message) => Verdict::Accept(message),
        Err(error) => classify(error),
    }
}

fn check_message<S: SeenState + ?Sized>(
    message: GossipMessage,
    now: UnixMillis,
    ctx: &ValidationContext<'_, S>,
) -> Result<VerifiedMessage, Error> {
    match message {
        GossipMessage::Order(signed) => {
            let market = signed.order.market;
            if ctx.markets.get(&market).is_none() {
                return Err(Error::UnknownMarket { market });
            }
            check_market_topic(ctx.topic, &market)?;
            if ctx.seen.may_contain(&signed.order) {
                let id = signed.order.id();
                if ctx.seen.contains_order(&id) {
                    return Err(Error::DuplicateOrder { id });
                }
            }
            signed
                .verify(ctx.markets, ctx.rules, now)
                .map(VerifiedMessage::Order)
                .map_err(|source| Error::Invalid {
                    what: "order",
                    source,
                })
        }
        GossipMessage::Update(signed) => {
            let id = signed.update.order_id;
            let known = ctx
                .seen
                .known_order(&id)
                .ok_or(Error::UnknownOrder { id })?;
            check_market_topic(ctx.topic, &known.order.market())?;
            if signed.update.remaining >= known.remaining {
                return Err(Error::StaleUpdate {
                    id,
                    remaining: signed.update.remaining.0,
                    known: known.remaining.0,
                });
            }
            signed
                .verify(known.order, ctx.rules, now)
                .map(VerifiedMessage::Update)
                .map_err(|source| Error::Invalid {
                    what: "update",
                    source,
                })
        }
        GossipMessage::Alive(signed) => {
            let alive = &signed.alive;
            if ctx.markets.get(&alive.market).is_none() {
                return Err(Error::UnknownMarket {
                    market: alive.market,
                });
            }
            check_topic(ctx.topic, || ALIVE_TOPIC.to_owned())?;
            let oldest = now.saturating_sub(ctx.alive_max_age_ms);
            let newest_known = ctx.seen.newest_alive(&alive.maker, &alive.market);
            if alive.timestamp < oldest || newest_known.is_some_and(|n| alive.timestamp <= n) {
                return Err(Error::StaleAlive {
                    maker: alive.maker,
                    market: alive.market,
                    timestamp: alive.timestamp,
                    newest: newest_known.unwrap_or(oldest).max(oldest),
                });
            }
            signed
                .verify(ctx.rules, now)
                .map(VerifiedMessage::Alive)
                .map_err(|source| Error::Invalid {
                    what: "alive",
                    source,
                })
        }
    }
}

/// [`check_topic`] for a market topic without building the expected string: this runs for
/// every order and update received.
fn check_market_topic(got: Option<&str>, market: &MarketId) -> Result<(), Error> {
    match got {
        Some(topic) if market_of_topic(topic).as_ref() == Some(market) => Ok(()),
        None => Ok(()),
        Some(_) => check_topic(got, || market_topic(market)),
    }
}

fn check_topic(got: Option<&str>, expected: impl FnOnce() -> String) -> Result<(), Error> {
    let Some(got) = got else {
        return Ok(());
    };
    let expected = expected();
    if got == expected {
        Ok(())
    } else {
        Err(Error::WrongTopic {
            expected,
            got: got.chars().take(100).collect(),
        })
    }
}

/// Verifies one entry of a sync page, given its order id as returned by
/// [`crate::sync::SyncResponse::check_page`] (so the order is hashed once). Returns the order
/// when it is new (`None` when already known, without any signature work) and the update
/// when it lowers the remaining quantity (or the order is new).
pub fn validate_synced<S: SeenState + ?Sized>(
    entry: PageEntry,
    id: OrderId,
    now: UnixMillis,
    ctx: &ValidationContext<'_, S>,
) -> Result<(Option<VerifiedOrder>, Option<VerifiedUpdate>), Error> {
    let verify_update = |update: dex_primitives::SignedUpdate, order: &VerifiedOrder| {
        update
            .verify(order, ctx.rules, now)
            .map_err(|source| Error::Invalid {
                what: "update",
                source,
            })
    };
    if let Some(known) = ctx.seen.known_order(&id) {
        let update = match entry.update {
            Some(update) if update.update.remaining < known.remaining => {
                Some(verify_update(update, known.order)?)
            }
            _ => None,
        };
        return Ok((None, update));
    }
    if ctx.seen.contains_order(&id) {
        // Seen and removed: a page must not resurrect it.
        return Err(Error::DuplicateOrder { id });
    }
    let order = entry
        .order
        .verify(ctx.markets, ctx.rules, now)
        .map_err(|source| Error::Invalid {
            what: "order",
            source,
        })?;
    let update = entry
        .update
        .map(|update| verify_update(update, &order))
        .transpose()?;
    Ok((Some(order), update))
}
