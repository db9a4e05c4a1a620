//! The WebSocket stream `/v1/ws`: subscribe to `book:<market>`, and, with the token,
//! `trades:<market>`, `orders` and `swaps`; each subscription starts with a snapshot, then
//! deltas. The token comes on the upgrade request (`Authorization: Bearer`) or, from a
//! browser, which cannot set that header, in an `auth` message: never in the URL.
//!
//! # Trades, orders and swaps
//! Each such subscription follows the node's events in a task of its own. It subscribes to
//! the events *before* it reads the snapshot, so nothing falls between the two (a trade in
//! both is sent once; an order or swap change in both is sent again with the same state,
//! which is harmless: every message carries the whole state of its order or swap). A
//! subscription that lags behind the node's events gets a fresh snapshot instead of the lost
//! ones.
//!
//! # Book feeds
//! One feed task per market (started by its first subscriber) follows the node's book events
//! and, after each burst of them, asks the node for the market's depth and diffs it with the
//! previous one: deltas carry the changed levels with their new absolute values, so they are
//! exact whatever events a lagging broadcast lost, plus the order events behind them. The
//! feed is the only sender of its deltas and answers subscriptions itself, so a subscriber
//! gets the snapshot at `seq` and then exactly the deltas `seq + 1, …`. While a feed has no
//! subscriber it does not query the node.
//!
//! # Slow consumers
//! Each connection has a bounded outgoing queue; a client that lets it fill (or lags behind
//! a feed) is disconnected with close code 1008, never buffered without bound.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Mutex,
    time::Duration,
};

use axum::{
    extract::{
        State,
        ws::{
            CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade,
            rejection::WebSocketUpgradeRejection,
        },
    },
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use dex_book::{Depth, DepthLevel, Event};
use dex_node::{NodeEvent, NodeHandle, OwnOrderStatus, SwapRecord};
use dex_primitives::{B256, Market, MarketId};
use futures::{SinkExt, StreamExt};
use tokio::{
    sync::{broadcast, mpsc, oneshot},
    task::JoinHandle,
};
use tracing::debug;

use crate::{
    ApiState, auth,
    error::ApiError,
    extract::parse_json,
    routes::{level, price_string, quantity_string},
    trading::{own_order_event_view, own_order_view, swap_view, trade_view},
    types::{BookLevel, BookOrderEvent, SideName, WsMessage, WsOp, WsRequest},
};

/// Channel forms this node serves (in error messages).
const SERVED: &str = "book:<market>, trades:<market>, orders, swaps";
/// Trades in a `trades:<market>` snapshot.
const TRADES_SNAPSHOT: u32 = 100;
/// Swaps in a `swaps` snapshot: the most recently changed.
const SWAPS_SNAPSHOT: u32 = 100;
/// Deltas a feed keeps for subscribers that have not read them yet.
const FEED_CAPACITY: usize = 1024;
/// Order events one delta carries at most; beyond, only the levels tell.
const MAX_EVENTS_PER_DELTA: usize = 1000;
/// How long one frame may take to write before the client counts as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest client message.
const MAX_CLIENT_MESSAGE: usize = 16 * 1024;

type Subscription = (Utf8Bytes, broadcast::Receiver<Utf8Bytes>);

#[derive(Debug)]
struct Subscribe {
    reply: oneshot::Sender<Result<Subscription, ApiError>>,
}

/// The book feeds, one per market, started on demand.
#[derive(Debug)]
pub(crate) struct BookFeeds {
    node: NodeHandle,
    depth: usize,
    feeds: Mutex<HashMap<MarketId, mpsc::Sender<Subscribe>>>,
}

impl BookFeeds {
    pub(crate) fn new(node: NodeHandle, depth: usize) -> Self {
        BookFeeds {
            node,
            depth: depth.max(1),
            feeds: Mutex::new(HashMap::new()),
        }
    }

    /// The current snapshot of `market` and the deltas after it.
    async fn subscribe(&self, market: &Market) -> Result<Subscription, ApiError> {
        let sender = {
            let mut feeds = self
                .feeds
                .lock()
                .map_err(|_| ApiError::Internal("book feed registry poisoned".into()))?;
            feeds
                .entry(market.id())
                .and_modify(|sender| {
                    if sender.is_closed() {
                        *sender = spawn_feed(self.node.clone(), market.clone(), self.depth);
                    }
                })
                .or_insert_with(|| spawn_feed(self.node.clone(), market.clone(), self.depth))
                .clone()
        };
        let (reply, answer) = oneshot::channel();
        sender
            .send(Subscribe { reply })
            .await
            .map_err(|_| ApiError::from(dex_node::Error::Stopped))?;
        answer
            .await
            .map_err(|_| ApiError::from(dex_node::Error::Stopped))?
    }
}

fn spawn_feed(node: NodeHandle, market: Market, depth: usize) -> mpsc::Sender<Subscribe> {
    let (sender, commands) = mpsc::channel(64);
    let feed = Feed {
        events: node.subscribe(),
        node,
        channel: format!("book:{}", market.symbol()),
        market,
        depth,
        deltas: broadcast::channel(FEED_CAPACITY).0,
        current: None,
        seq: 0,
        pending: Vec::new(),
    };
    tokio::spawn(feed.run(commands));
    sender
}

struct Feed {
    node: NodeHandle,
    events: broadcast::Receiver<NodeEvent>,
    market: Market,
    channel: String,
    depth: usize,
    deltas: broadcast::Sender<Utf8Bytes>,
    /// The depth subscribers last saw; `None` while nobody listens (the feed does not follow).
    current: Option<Depth>,
    seq: u64,
    pending: Vec<BookOrderEvent>,
}

impl Feed {
    async fn run(mut self, mut commands: mpsc::Receiver<Subscribe>) {
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let Some(Subscribe { reply }) = command else { break };
                    let result = self.subscribe().await;
                    let _ = reply.send(result);
                }
                event = self.events.recv() => {
                    match event {
                        Ok(event) => self.on_event(event),
                        Err(broadcast::error::RecvError::Lagged(lost)) => {
                            debug!(lost, channel = %self.channel, "book feed lagged; levels stay exact");
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                    // Take the whole burst before asking for depth once.
                    loop {
                        match self.events.try_recv() {
                            Ok(event) => self.on_event(event),
                            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        }
                    }
                    if self.deltas.receiver_count() == 0 {
                        self.current = None;
                        self.pending.clear();
                    } else if self.publish_delta().await.is_err() {
                        break;
                    }
                }
            }
        }
    }

    fn on_event(&mut self, event: NodeEvent) {
        let NodeEvent::Book { market, event } = event else {
            return;
        };
        if market != self.market.id() || self.pending.len() >= MAX_EVENTS_PER_DELTA {
            return;
        }
        if let Some(event) = order_event(&self.market, &event) {
            self.pending.push(event);
        }
    }

    async fn subscribe(&mut self) -> Result<Subscription, ApiError> {
        if self.current.is_none() {
            let depth = self.node.depth(self.market.id(), self.depth).await?;
            self.seq += 1;
            self.pending.clear();
            self.current = Some(depth);
        }
        let depth = self.current.as_ref().expect("set above");
        let snapshot = WsMessage::Snapshot {
            channel: self.channel.clone(),
            seq: self.seq,
            bids: depth.bids.iter().map(|l| level(&self.market, l)).collect(),
            asks: depth.asks.iter().map(|l| level(&self.market, l)).collect(),
        };
        Ok((encode(&snapshot), self.deltas.subscribe()))
    }

    async fn publish_delta(&mut self) -> Result<(), dex_node::Error> {
        let depth = self.node.depth(self.market.id(), self.depth).await?;
        let previous = self.current.take().unwrap_or_default();
        let bids = diff(&self.market, &previous.bids, &depth.bids);
        let asks = diff(&self.market, &previous.asks, &depth.asks);
        self.current = Some(depth);
        let events = std::mem::take(&mut self.pending);
        if bids.is_empty() && asks.is_empty() && events.is_empty() {
            return Ok(());
        }
        self.seq += 1;
        let delta = WsMessage::Delta {
            channel: self.channel.clone(),
            seq: self.seq,
            bids,
            asks,
            events,
        };
        // No receiver left is fine: the next event finds none and stops following.
        let _ = self.deltas.send(encode(&delta));
        Ok(())
    }
}

/// Levels of `after` that differ from `before`, and levels of `before` gone from `after`
/// (with quantity 0).
fn diff(market: &Market, before: &[DepthLevel], after: &[DepthLevel]) -> Vec<BookLevel> {
    let old: BTreeMap<u64, &DepthLevel> = before.iter().map(|l| (l.price.0, l)).collect();
    let new: BTreeMap<u64, &DepthLevel> = after.iter().map(|l| (l.price.0, l)).collect();
    let mut changed = Vec::new();
    for level_after in after {
        if old.get(&level_after.price.0) != Some(&level_after) {
            changed.push(level(market, level_after));
        }
    }
    for level_before in before {
        if !new.contains_key(&level_before.price.0) {
            changed.push(BookLevel {
                price: price_string(market, level_before.price),
                quantity: "0".into(),
                orders: 0,
            });
        }
    }
    changed
}

fn order_event(market: &Market, event: &Event) -> Option<BookOrderEvent> {
    let (name, order, reason) = match event {
        Event::Inserted(order) => ("inserted", order, None),
        Event::Reduced { order, .. } => ("reduced", order, None),
        Event::Reserved { order, .. } => ("reserved", order, None),
        Event::Released { order, .. } => ("released", order, None),
        Event::Removed { order, reason } => ("removed", order, Some(reason.as_str().to_owned())),
        Event::Suspended(order) => ("suspended", order, None),
        Event::Restored(order) => ("restored", order, None),
        _ => return None,
    };
    let offered = matches!(
        name,
        "inserted" | "reduced" | "reserved" | "released" | "restored"
    ) && !order.suspended;
    Some(BookOrderEvent {
        event: name.to_owned(),
        order_id: order.id,
        side: SideName::from(order.side),
        price: price_string(market, order.price),
        remaining: quantity_string(market, order.remaining),
        available: quantity_string(
            market,
            if offered {
                order.available
            } else {
                dex_primitives::Lots::ZERO
            },
        ),
        reason,
    })
}

fn encode(message: &WsMessage) -> Utf8Bytes {
    serde_json::to_string(message)
        .expect("stream messages always serialize")
        .into()
}

/// What a channel name refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Channel {
    Book(MarketId),
    Trades(MarketId),
    Orders,
    Swaps,
}

fn parse_channel(
    state: &ApiState,
    name: &str,
    authorized: bool,
) -> Result<(Channel, String), ApiError> {
    let unknown = || ApiError::UnknownChannel {
        channel: name.chars().take(100).collect(),
        served: SERVED,
    };
    let (kind, argument) = name.split_once(':').unwrap_or((name, ""));
    match kind {
        // This node's own trades need the token, like its orders and swaps.
        "trades" if !authorized => Err(ApiError::MissingToken),
        "book" | "trades" => {
            let market = state
                .context()
                .markets
                .find(argument)
                .map_err(|source| ApiError::field("channel", source))?;
            let channel = if kind == "book" {
                Channel::Book(market.id())
            } else {
                Channel::Trades(market.id())
            };
            Ok((channel, format!("{kind}:{}", market.symbol())))
        }
        // Own orders and swaps need the token.
        "orders" | "swaps" if !authorized => Err(ApiError::MissingToken),
        "orders" if argument.is_empty() => Ok((Channel::Orders, "orders".into())),
        "swaps" if argument.is_empty() => Ok((Channel::Swaps, "swaps".into())),
        _ => Err(unknown()),
    }
}

/// `GET /v1/ws`: upgrades to a WebSocket. Send `Authorization: Bearer <token>` with the
/// upgrade request, or `{"op":"auth","token":"…"}` after it, to subscribe to own orders,
/// swaps and trades.
#[utoipa::path(get, path = "/v1/ws", tag = "stream",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; then `WsRequest` messages in, `WsMessage` messages out"),
        (status = 403, description = "`forbidden-origin`: a browser page of an origin that is not the node's nor in `cors_origins`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 426, description = "`websocket-required`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn upgrade(
    State(state): State<ApiState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            return ApiError::WebSocketRequired {
                detail: rejection.body_text(),
            }
            .into_response();
        }
    };
    // A browser sends the page's origin; another site's page may not read this node's
    // streams (tools that are not browsers send none).
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !state.config().origin_allowed(origin) {
            return ApiError::ForbiddenOrigin {
                origin: origin.chars().take(100).collect(),
            }
            .into_response();
        }
    }
    let authorized = auth::check(&headers, &state.config().token).is_ok();
    upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| connection(state, socket, authorized))
}

/// Keeps the open-connections gauge right however the connection ends.
struct Open(ApiState);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.metrics().ws_connections.dec();
    }
}

async fn connection(state: ApiState, socket: WebSocket, authorized: bool) {
    state.metrics().ws_connections.inc();
    let _open = Open(state.clone());
    let (mut sink, mut stream) = socket.split();
    let (out, mut queued) = mpsc::channel::<Utf8Bytes>(state.config().ws_queue.max(1));
    let (slow_tx, mut slow) = mpsc::channel::<()>(1);
    let mut subscriptions: HashMap<String, JoinHandle<()>> = HashMap::new();
    let mut session = Session {
        state: &state,
        out: &out,
        slow: &slow_tx,
        subscriptions: &mut subscriptions,
        authorized,
    };
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if !session.on_request(text.as_bytes()).await {
                        break;
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    if !session.on_request(&bytes).await {
                        break;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
            },
            Some(text) = queued.recv() => {
                let sent = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Text(text))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    break;
                }
            }
            Some(()) = slow.recv() => {
                state.metrics().ws_slow_dropped.inc();
                let close = Message::Close(Some(CloseFrame {
                    code: 1008,
                    reason: "too slow: messages piled up unread".into(),
                }));
                let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(close)).await;
                break;
            }
        }
    }
    for (_, task) in subscriptions {
        task.abort();
    }
}

struct Session<'a> {
    state: &'a ApiState,
    out: &'a mpsc::Sender<Utf8Bytes>,
    slow: &'a mpsc::Sender<()>,
    subscriptions: &'a mut HashMap<String, JoinHandle<()>>,
    authorized: bool,
}

impl Session<'_> {
    /// Handles one client message; false when the connection must close (queue full).
    async fn on_request(&mut self, bytes: &[u8]) -> bool {
        let reply = match parse_json::<WsRequest>(bytes) {
            Ok(request) => self.handle(request).await,
            Err(err) => Err(err),
        };
        let message = match reply {
            Ok(Some(message)) => message,
            Ok(None) => return true,
            Err(err) => WsMessage::Error {
                problem: err.problem(),
            },
        };
        self.send(encode(&message))
    }

    fn send(&self, text: Utf8Bytes) -> bool {
        if self.out.try_send(text).is_ok() {
            return true;
        }
        let _ = self.slow.try_send(());
        false
    }

    async fn handle(&mut self, request: WsRequest) -> Result<Option<WsMessage>, ApiError> {
        let channel_name = || {
            request.channel.clone().ok_or_else(|| ApiError::Body {
                kind: crate::error::kind::MISSING_FIELD,
                field: Some("channel".into()),
                detail: "channel: missing field `channel`".into(),
            })
        };
        match request.op {
            WsOp::Ping => Ok(Some(WsMessage::Pong)),
            WsOp::Auth => {
                let Some(token) = request.token.as_deref() else {
                    return Err(ApiError::Body {
                        kind: crate::error::kind::MISSING_FIELD,
                        field: Some("token".into()),
                        detail: "token: missing field `token`".into(),
                    });
                };
                if !auth::token_matches(token.as_bytes(), &self.state.config().token) {
                    return Err(ApiError::InvalidToken);
                }
                self.authorized = true;
                Ok(Some(WsMessage::Authenticated))
            }
            WsOp::Unsubscribe => {
                let name = channel_name()?;
                let (_, name) = parse_channel(self.state, &name, self.authorized)?;
                let task = self.subscriptions.remove(&name).ok_or_else(|| {
                    ApiError::SubscriptionRefused {
                        detail: format!("not subscribed to {name}"),
                    }
                })?;
                task.abort();
                Ok(Some(WsMessage::Unsubscribed { channel: name }))
            }
            WsOp::Subscribe => {
                let name = channel_name()?;
                let (channel, name) = parse_channel(self.state, &name, self.authorized)?;
                if self.subscriptions.contains_key(&name) {
                    return Err(ApiError::SubscriptionRefused {
                        detail: format!("already subscribed to {name}"),
                    });
                }
                let max = self.state.config().ws_max_subscriptions;
                if self.subscriptions.len() >= max {
                    return Err(ApiError::SubscriptionRefused {
                        detail: format!("at most {max} subscriptions per connection"),
                    });
                }
                let task = match channel {
                    Channel::Book(market) => {
                        let market = self
                            .state
                            .context()
                            .markets
                            .get(&market)
                            .expect("parse_channel found it")
                            .clone();
                        let (snapshot, deltas) = self.state.feeds().subscribe(&market).await?;
                        if !self.send(encode(&WsMessage::Subscribed {
                            channel: name.clone(),
                        })) || !self.send(snapshot)
                        {
                            return Ok(None);
                        }
                        tokio::spawn(forward(deltas, self.out.clone(), self.slow.clone()))
                    }
                    channel => {
                        // Events first, then the snapshot: nothing falls in between.
                        let events = self.state.node().subscribe();
                        let mut follower = Follower {
                            state: self.state.clone(),
                            channel,
                            name: name.clone(),
                            trades_sent: HashSet::new(),
                            swaps: HashMap::new(),
                        };
                        let snapshot = follower.snapshot().await?;
                        if !self.send(encode(&WsMessage::Subscribed {
                            channel: name.clone(),
                        })) || !self.send(encode(&snapshot))
                        {
                            return Ok(None);
                        }
                        tokio::spawn(follower.run(events, self.out.clone(), self.slow.clone()))
                    }
                };
                self.subscriptions.insert(name, task);
                Ok(None)
            }
        }
    }
}

/// Moves a feed's deltas into the connection's queue; a full queue or a lag ends the
/// connection (the client would otherwise miss deltas or make us buffer without bound).
async fn forward(
    mut deltas: broadcast::Receiver<Utf8Bytes>,
    out: mpsc::Sender<Utf8Bytes>,
    slow: mpsc::Sender<()>,
) {
    loop {
        match deltas.recv().await {
            Ok(text) => {
                if out.try_send(text).is_err() {
                    let _ = slow.try_send(());
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let _ = slow.try_send(());
                return;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// One `trades:<market>`, `orders` or `swaps` subscription: turns node events into its
/// messages.
struct Follower {
    state: ApiState,
    channel: Channel,
    name: String,
    /// Trades of the last snapshot: not sent again when their event follows.
    trades_sent: HashSet<B256>,
    /// Records of the swaps seen, so a change costs no database read (the event carries
    /// the swap's state).
    swaps: HashMap<B256, SwapRecord>,
}

impl Follower {
    fn market(&self, id: &MarketId) -> Result<&Market, ApiError> {
        self.state
            .context()
            .markets
            .get(id)
            .ok_or_else(|| ApiError::Internal(format!("event of unconfigured market {id}")))
    }

    /// The channel's current state.
    async fn snapshot(&mut self) -> Result<WsMessage, ApiError> {
        let node = self.state.node();
        let channel = self.name.clone();
        Ok(match &self.channel {
            Channel::Trades(market) => {
                let market = self.market(market)?.clone();
                let trades = node.trades(market.id(), TRADES_SNAPSHOT).await?;
                self.trades_sent = trades.iter().filter_map(|trade| trade.swap_id).collect();
                WsMessage::TradesSnapshot {
                    channel,
                    trades: trades
                        .iter()
                        .map(|trade| trade_view(&market, trade))
                        .collect(),
                }
            }
            Channel::Orders => {
                let orders = node.own_orders(None, Some(OwnOrderStatus::Open)).await?;
                WsMessage::OrdersSnapshot {
                    channel,
                    orders: orders
                        .iter()
                        .map(|own| own_order_view(&self.state, own))
                        .collect::<Result<_, _>>()?,
                }
            }
            Channel::Swaps | Channel::Book(_) => {
                // The most recent only: a node's history can be long, and each `swap`
                // message after it carries the swap's whole state anyway.
                let recent = node.swaps_changed(None, SWAPS_SNAPSHOT).await?.items;
                let swaps = recent
                    .iter()
                    .map(|(record, swap)| swap_view(&self.state, record, swap))
                    .collect::<Result<Vec<_>, _>>()?;
                self.swaps = recent
                    .into_iter()
                    .map(|(record, _)| (record.swap_id, record))
                    .collect();
                WsMessage::SwapsSnapshot { channel, swaps }
            }
        })
    }

    /// The message an event makes on this channel, if any.
    async fn message(&mut self, event: NodeEvent) -> Result<Option<WsMessage>, ApiError> {
        let channel = self.name.clone();
        Ok(match (&self.channel, event) {
            (
                Channel::Trades(wanted),
                NodeEvent::Trade {
                    market,
                    price,
                    quantity,
                    taker_side,
                    swap_id,
                    at,
                },
            ) if *wanted == market => {
                if self.trades_sent.remove(&swap_id) {
                    return Ok(None);
                }
                let market = self.market(&market)?;
                let trade = trade_view(
                    market,
                    &dex_node::TradeRecord {
                        market: market.id(),
                        price,
                        quantity,
                        taker_side,
                        swap_id: Some(swap_id),
                        at,
                    },
                );
                Some(WsMessage::Trade { channel, trade })
            }
            (Channel::Orders, NodeEvent::OwnOrder(order)) => {
                let market = self.market(&order.market)?;
                Some(WsMessage::Order {
                    channel,
                    order: own_order_event_view(market, &order),
                })
            }
            (
                Channel::Swaps,
                NodeEvent::Swap {
                    swap_id,
                    phase,
                    swap,
                },
            ) => {
                let record = match self.swaps.remove(&swap_id) {
                    Some(record) => record,
                    None => self.state.node().swap(swap_id).await?.0,
                };
                let view = swap_view(&self.state, &record, &swap)?;
                if phase != "finished" {
                    self.swaps.insert(swap_id, record);
                }
                Some(WsMessage::Swap {
                    channel,
                    swap: view,
                })
            }
            _ => None,
        })
    }

    /// Forwards messages until the connection or the node goes; a full queue drops the
    /// connection (slow consumer), a lag sends a fresh snapshot.
    async fn run(
        mut self,
        mut events: broadcast::Receiver<NodeEvent>,
        out: mpsc::Sender<Utf8Bytes>,
        slow: mpsc::Sender<()>,
    ) {
        loop {
            let message = match events.recv().await {
                Ok(event) => self.message(event).await,
                Err(broadcast::error::RecvError::Lagged(lost)) => {
                    debug!(lost, channel = %self.name, "stream lagged; sending a fresh snapshot");
                    self.snapshot().await.map(Some)
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let message = match message {
                Ok(Some(message)) => message,
                Ok(None) => continue,
                Err(err) => WsMessage::Error {
                    problem: err.problem(),
                },
            };
            if out.try_send(encode(&message)).is_err() {
                let _ = slow.try_send(());
                return;
            }
        }
    }
}
