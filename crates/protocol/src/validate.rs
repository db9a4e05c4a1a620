//! Validation of received bytes into a verdict, the way gossipsub wants it.
//!
//! Cheap checks run first and the signature recovery (≈50 µs, the cost of ingest) last:
//! size, then JSON, then the market and topic, then duplicates by id, then the trading
//! rules, then the signature. A replayed order therefore costs one EIP-712 hash, not a
//! recovery.
//!
//! A node with more than one core splits that work: [`decode_ahead`] and
//! [`recover_page_ahead`] decode and recover signers on any thread (they need no state),
//! and [`validate_decoded`] / [`validate_synced`] then run every check in the order above
//! on the thread that owns the state, using the recovered signer where the signature is
//! checked. The verdicts are the same as without the work ahead.

use dex_primitives::{
    Address, Lots, MarketId, Markets, Order, OrderId, RecoveredOrder, RecoveredSigner, SignedAlive,
    SignedOrder, SignedUpdate, UnixMillis, ValidationRules, VerifiedAlive, VerifiedOrder,
    VerifiedUpdate,
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
    validate_decoded(
        Decoded {
            message: GossipMessage::decode(bytes).map(Incoming::from),
            signer: None,
        },
        now,
        ctx,
    )
}

/// A received message on its way through the checks: an order as signed, or with its id
/// and signer computed ahead.
#[derive(Debug, Clone)]
enum Incoming {
    Order(SignedOrder),
    RecoveredOrder(RecoveredOrder),
    Update(SignedUpdate),
    Alive(SignedAlive),
}

impl From<GossipMessage> for Incoming {
    fn from(message: GossipMessage) -> Self {
        match message {
            GossipMessage::Order(signed) => Incoming::Order(signed),
            GossipMessage::Update(signed) => Incoming::Update(signed),
            GossipMessage::Alive(signed) => Incoming::Alive(signed),
        }
    }
}

/// Gossiped bytes decoded, with the signer of the message recovered: the stateless part
/// of validation, made by [`decode_ahead`] on any thread and judged by
/// [`validate_decoded`].
#[derive(Debug, Clone)]
pub struct Decoded {
    message: Result<Incoming, Error>,
    /// The signer of an update or heartbeat (an order carries its own).
    signer: Option<RecoveredSigner>,
}

/// Decodes gossiped bytes and recovers the signer of the message (order, update or
/// heartbeat): no state is read, so any thread may do it.
pub fn decode_ahead(bytes: &[u8]) -> Decoded {
    match GossipMessage::decode(bytes) {
        Ok(GossipMessage::Order(signed)) => Decoded {
            message: Ok(Incoming::RecoveredOrder(signed.recover())),
            signer: None,
        },
        Ok(GossipMessage::Update(signed)) => Decoded {
            signer: Some(signed.recover_ahead()),
            message: Ok(Incoming::Update(signed)),
        },
        Ok(GossipMessage::Alive(signed)) => Decoded {
            signer: Some(signed.recover_ahead()),
            message: Ok(Incoming::Alive(signed)),
        },
        Err(err) => Decoded {
            message: Err(err),
            signer: None,
        },
    }
}

/// Judges a message decoded ahead ([`decode_ahead`]) at `now`: exactly the verdict
/// [`validate`] gives for its bytes.
pub fn validate_decoded<S: SeenState + ?Sized>(
    decoded: Decoded,
    now: UnixMillis,
    ctx: &ValidationContext<'_, S>,
) -> Verdict {
    let Decoded { message, signer } = decoded;
    match message.and_then(|message| check_message(message, signer.as_ref(), now, ctx)) {
        Ok(message) => Verdict::Accept(message),
        Err(error) => classify(error),
    }
}

fn check_message<S: SeenState + ?Sized>(
    message: Incoming,
    ahead: Option<&RecoveredSigner>,
    now: UnixMillis,
    ctx: &ValidationContext<'_, S>,
) -> Result<VerifiedMessage, Error> {
    match message {
        Incoming::Order(signed) => {
            check_new_order(&signed.order, || signed.order.id(), ctx)?;
            signed
                .verify_with(ctx.markets, ctx.rules, now, ahead)
                .map(VerifiedMessage::Order)
                .map_err(|source| Error::Invalid {
                    what: "order",
                    source,
                })
        }
        Incoming::RecoveredOrder(recovered) => {
            check_new_order(recovered.order(), || recovered.id(), ctx)?;
            recovered
                .verify(ctx.markets, ctx.rules, now)
                .map(VerifiedMessage::Order)
                .map_err(|source| Error::Invalid {
                    what: "order",
                    source,
                })
        }
        Incoming::Update(signed) => {
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
                .verify_with(known.order, ctx.rules, now, ahead)
                .map(VerifiedMessage::Update)
                .map_err(|source| Error::Invalid {
                    what: "update",
                    source,
                })
        }
        Incoming::Alive(signed) => {
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
                .verify_with(ctx.rules, now, ahead)
                .map(VerifiedMessage::Alive)
                .map_err(|source| Error::Invalid {
                    what: "alive",
                    source,
                })
        }
    }
}

/// The checks of a gossiped order before its rules and signature: a known market, its
/// topic, and not seen before (`id` is computed only when the cheap filter says "maybe").
fn check_new_order<S: SeenState + ?Sized>(
    order: &Order,
    id: impl FnOnce() -> OrderId,
    ctx: &ValidationContext<'_, S>,
) -> Result<(), Error> {
    let market = order.market;
    if ctx.markets.get(&market).is_none() {
        return Err(Error::UnknownMarket { market });
    }
    check_market_topic(ctx.topic, &market)?;
    if ctx.seen.may_contain(order) {
        let id = id();
        if ctx.seen.contains_order(&id) {
            return Err(Error::DuplicateOrder { id });
        }
    }
    Ok(())
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

/// The signers of a page entry's order and update, recovered ahead
/// ([`recover_page_ahead`]); the default is none (recovered when needed).
#[derive(Debug, Clone, Default)]
pub struct EntryAhead {
    order: Option<RecoveredSigner>,
    update: Option<RecoveredSigner>,
}

/// Recovers, on any thread, the signers of the entries of a page that `needed` marks (the
/// ones whose checks will need them: see [`entry_needs_signatures`]); the others get none.
pub fn recover_page_ahead(entries: &[PageEntry], needed: &[bool]) -> Vec<EntryAhead> {
    entries
        .iter()
        .zip(needed.iter().copied().chain(std::iter::repeat(false)))
        .map(|(entry, needed)| {
            if needed {
                EntryAhead {
                    order: Some(entry.order.recover_ahead()),
                    update: entry.update.as_ref().map(|update| update.recover_ahead()),
                }
            } else {
                EntryAhead::default()
            }
        })
        .collect()
}

/// Whether [`validate_synced`] would check a signature of this entry with what is known
/// now: its order is new, or its update lowers a known order's remaining quantity.
pub fn entry_needs_signatures<S: SeenState + ?Sized>(
    entry: &PageEntry,
    id: &OrderId,
    seen: &S,
) -> bool {
    match seen.known_order(id) {
        Some(known) => entry
            .update
            .is_some_and(|update| update.update.remaining < known.remaining),
        None => !seen.contains_order(id),
    }
}

/// Verifies one entry of a sync page, given its order id as returned by
/// [`crate::sync::SyncResponse::check_page`] (so the order is hashed once) and the signers
/// recovered ahead, if any. Returns the order when it is new (`None` when already known,
/// without any signature work) and the update when it lowers the remaining quantity (or
/// the order is new).
pub fn validate_synced<S: SeenState + ?Sized>(
    entry: PageEntry,
    id: OrderId,
    ahead: &EntryAhead,
    now: UnixMillis,
    ctx: &ValidationContext<'_, S>,
) -> Result<(Option<VerifiedOrder>, Option<VerifiedUpdate>), Error> {
    let verify_update = |update: dex_primitives::SignedUpdate, order: &VerifiedOrder| {
        update
            .verify_with(order, ctx.rules, now, ahead.update.as_ref())
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
        .verify_with(ctx.markets, ctx.rules, now, ahead.order.as_ref())
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
