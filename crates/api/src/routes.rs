//! The REST handlers. Each one converts at the edge (decimal strings ↔ ticks and lots, names
//! ↔ ids), asks the node through its handle, and answers JSON or a problem.

use std::{str::FromStr, sync::OnceLock};

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use dex_primitives::{Lots, Market, OrderId, SignedOrder, Ticks};
use serde::Deserialize;

use crate::{
    ApiState,
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery},
    types::{
        AssetInfo, Book, BookLevel, ConnectionKind, Health, Info, MarketInfo, Markets,
        OrderAccepted, OrderCancelled, PeerInfo, Peers, SignedOrderRequest,
    },
};

type ApiResult<T> = Result<T, ApiError>;

/// Finds a market by id or `BASE/QUOTE` symbol.
pub(crate) fn find_market<'a>(state: &'a ApiState, name: &str) -> ApiResult<&'a Market> {
    state.context().markets.find(name).map_err(ApiError::value)
}

/// A decimal display string: exact, without trailing zeros.
pub(crate) fn price_string(market: &Market, ticks: Ticks) -> String {
    market
        .ticks_to_price(ticks)
        .map(|price| price.normalize().to_string())
        .unwrap_or_else(|_| format!("{} ticks", ticks.0))
}

/// A decimal display string of a quantity.
pub(crate) fn quantity_string(market: &Market, lots: Lots) -> String {
    if lots.is_zero() {
        return "0".into();
    }
    market
        .lots_to_quantity(lots)
        .map(|quantity| quantity.normalize().to_string())
        .unwrap_or_else(|_| format!("{} lots", lots.0))
}

pub(crate) fn level(market: &Market, level: &dex_book::DepthLevel) -> BookLevel {
    BookLevel {
        price: price_string(market, level.price),
        quantity: quantity_string(market, level.quantity),
        orders: level.orders,
    }
}

/// Liveness: answers without asking the node (the cheapest route, the benchmarks' ceiling).
#[utoipa::path(get, path = "/v1/health", tag = "node",
    responses((status = 200, description = "The API is up", body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Who this node is: peer id, listen addresses, traders, version.
#[utoipa::path(get, path = "/v1/info", tag = "node",
    responses(
        (status = 200, description = "The node", body = Info),
        (status = 503, description = "`node-unavailable`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn info(State(state): State<ApiState>) -> ApiResult<Json<Info>> {
    let node = state.node();
    let peer_id = node.peer_id();
    let listen_addrs = node
        .network()
        .listen_addrs()
        .await?
        .into_iter()
        // A circuit address through a relay names this node already.
        .map(|address| dex_network::with_peer(address, peer_id).to_string())
        .collect();
    let peers = node.network().peers(None).await?.connected.len();
    let chains_up = node.chains_up().await?;
    let context = state.context();
    Ok(Json(Info {
        version: context.version.clone(),
        peer_id: peer_id.to_string(),
        listen_addrs,
        traders: context.traders.clone(),
        peers,
        markets: context.markets.len(),
        settlement: context.settlement,
        chains_up,
    }))
}

fn market_info(market: &Market, max_lifetime_secs: u64) -> MarketInfo {
    let def = market.def();
    MarketInfo {
        id: market.id(),
        symbol: market.symbol().to_owned(),
        base: AssetInfo {
            symbol: def.base_symbol.clone(),
            chain_id: def.base_chain,
            token: def.base_token,
            decimals: def.base_decimals,
        },
        quote: AssetInfo {
            symbol: def.quote_symbol.clone(),
            chain_id: def.quote_chain,
            token: def.quote_token,
            decimals: def.quote_decimals,
        },
        lot_size: market.lot_size().normalize().to_string(),
        tick_size: market.tick_size().normalize().to_string(),
        base_per_lot: def.base_per_lot.to_string(),
        quote_per_tick_lot: def.quote_per_tick_lot.to_string(),
        min_quantity: market.lot_size().normalize().to_string(),
        min_price: market.tick_size().normalize().to_string(),
        min_notional: None,
        max_expires_in: max_lifetime_secs,
    }
}

/// The configured markets with their symbols, tick and lot.
#[utoipa::path(get, path = "/v1/markets", tag = "markets",
    responses((status = 200, description = "Markets, by symbol", body = Markets)))]
pub(crate) async fn markets(State(state): State<ApiState>) -> Json<Markets> {
    let max_lifetime_secs = state.context().max_order_lifetime_ms / 1000;
    let mut markets: Vec<MarketInfo> = state
        .context()
        .markets
        .iter()
        .map(|market| market_info(market, max_lifetime_secs))
        .collect();
    markets.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    Json(Markets { markets })
}

/// Query of the book route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct BookQuery {
    /// Levels per side, 1 to the configured maximum (default 1,000); default 20.
    #[param(minimum = 1, maximum = 1000)]
    depth: Option<usize>,
}

/// Aggregated depth of a market: the best `depth` levels of each side, and the digest of
/// the whole visible book (equal on nodes that hold the same orders).
#[utoipa::path(get, path = "/v1/markets/{market}/book", tag = "markets",
    params(("market" = String, Path, description = "Market id or BASE/QUOTE symbol (URL-encode the '/')", pattern = r"^((0x)?[0-9a-fA-F]{64}|[^/]+/[^/]+)$"), BookQuery),
    responses(
        (status = 200, description = "Depth", body = Book),
        (status = 400, description = "`invalid-query`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-market`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn book(
    State(state): State<ApiState>,
    ApiPath(market): ApiPath<String>,
    ApiQuery(query): ApiQuery<BookQuery>,
) -> ApiResult<Response> {
    let market = find_market(&state, &market)?;
    let max = state.config().max_book_depth;
    let depth = query.depth.unwrap_or(20);
    if depth == 0 || depth > max {
        return Err(ApiError::InvalidQuery {
            detail: format!("depth must be between 1 and {max}, got {depth}"),
        });
    }
    // A quiet book is answered from the bytes kept for its revision, without asking the
    // node (see `book_cache` for why that is as fresh as asking). Of the reads that miss
    // together, one asks and the others take its answer.
    let books = state.books();
    let body = match books.get(state.node(), market.id(), depth) {
        Some(body) => body,
        None => {
            let _turn = books.fill_turn(market.id()).await;
            match books.get(state.node(), market.id(), depth) {
                Some(body) => body,
                None => fill_book(&state, market, depth).await?,
            }
        }
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Asks the node for `depth` levels of `market`'s book with its digest, and keeps the
/// answer for the book's revision.
async fn fill_book(state: &ApiState, market: &Market, depth: usize) -> ApiResult<Bytes> {
    state.metrics().book_fills.inc();
    let snapshot = state.node().snapshot(market.id(), depth).await?;
    let book = Book {
        market: market.id(),
        symbol: market.symbol().to_owned(),
        digest: snapshot.digest,
        bids: snapshot
            .depth
            .bids
            .iter()
            .map(|l| level(market, l))
            .collect(),
        asks: snapshot
            .depth
            .asks
            .iter()
            .map(|l| level(market, l))
            .collect(),
    };
    let body = Bytes::from(serde_json::to_vec(&book).expect("a book always serializes"));
    state
        .books()
        .put(market.id(), snapshot.revision, depth, body.clone());
    Ok(body)
}

/// Connected peers with their gossip scores; with the token, also how this node's swaps
/// with each ended (its counterparty record).
#[utoipa::path(get, path = "/v1/peers", tag = "node",
    responses((status = 200, description = "Connected peers", body = Peers)))]
pub(crate) async fn peers(
    State(state): State<ApiState>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Json<Peers>> {
    let network = state.node().network();
    let view = network.peers(None).await?;
    // Own trading history: only for the token, and only on a trading node.
    let records = if crate::auth::check(&headers, &state.config().token).is_ok() {
        state.node().counterparties().await.unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut peers = Vec::with_capacity(view.connected.len());
    for peer in view.connected {
        let score = network.peer_score(peer).await.ok().flatten();
        let record = records.iter().find_map(|(party, record)| {
            (*party == dex_node::Counterparty::Peer(peer))
                .then(|| crate::trading::counterparty_view(*party, record))
        });
        let connection = if view.relayed.contains(&peer) {
            ConnectionKind::Relayed
        } else {
            ConnectionKind::Direct
        };
        let addresses = view
            .addresses
            .get(&peer)
            .map(|addresses| addresses.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        peers.push(PeerInfo {
            peer_id: peer.to_string(),
            connection,
            addresses,
            score,
            record,
        });
    }
    peers.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
    Ok(Json(Peers { peers }))
}

/// Posts an order signed elsewhere by a trader key this node holds. On a trading node it is
/// an own order like one `POST /v1/orders` places (GTC): verified (market, rules,
/// signature), judged against the free balance and gas, stored, booked, gossiped, listed,
/// committed with signed updates as it fills. On a relay it is verified, booked and gossiped.
#[utoipa::path(post, path = "/v1/orders/signed", tag = "orders",
    request_body = SignedOrderRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Accepted, in the book and gossiped", body = OrderAccepted),
        (status = 400, description = "`malformed-json`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`maker-not-held`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-market`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`duplicate-order`, `maker-order-cap`, `book-full`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body-too-large`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown-field`, `missing-field`, `invalid-field`, `signer-mismatch`, `invalid-signature`, `wrong-peer`, `order-id-mismatch`, `insufficient-balance`, `insufficient-gas` and the trading rules (`order-expired`, `zero-quantity`...)", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`chain-unavailable`, `balance-unknown`, `store-unavailable`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn post_signed_order(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<SignedOrderRequest>,
) -> ApiResult<Response> {
    let actual = request.order.id();
    if let Some(claimed) = request.order_id
        && claimed != actual
    {
        return Err(ApiError::OrderIdMismatch { claimed, actual });
    }
    let market = state
        .context()
        .markets
        .get(&request.order.market)
        .ok_or_else(|| {
            ApiError::field(
                "order.market",
                dex_primitives::Error::UnknownMarket {
                    market: request.order.market.to_string(),
                },
            )
        })?;
    let order = request.order;
    let accepted = OrderAccepted {
        order_id: actual,
        market: market.id(),
        symbol: market.symbol().to_owned(),
        side: order.side.into(),
        price: price_string(market, order.price),
        quantity: quantity_string(market, order.quantity),
        maker: order.maker,
        expires_at: order.expires_at,
    };
    let id = state
        .node()
        .post_order(SignedOrder {
            order,
            signature: request.signature,
        })
        .await?;
    debug_assert_eq!(id, actual);
    Ok((StatusCode::CREATED, Json(accepted)).into_response())
}

/// Parses an order id path segment.
pub(crate) fn parse_order_id(text: &str) -> ApiResult<OrderId> {
    // With or without its 0x, as the documented pattern says (and as swap ids are read).
    let prefixed;
    let text = if text.starts_with("0x") {
        text
    } else {
        prefixed = format!("0x{text}");
        &prefixed
    };
    OrderId::from_str(text).map_err(|_| ApiError::InvalidOrderId {
        id: text.chars().take(100).collect(),
    })
}

/// Cancels an own open order (resting, or an IOC order still taking): the node signs an
/// update to zero and gossips it. Swaps already started go on.
#[utoipa::path(delete, path = "/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "Order id (0x and 64 hex digits)", pattern = r"^(0x)?[0-9a-fA-F]{64}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled", body = OrderCancelled),
        (status = 400, description = "`invalid-order-id`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`maker-not-held`: not an own order", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-order`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`order-closed`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel_order(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OrderCancelled>> {
    let id = parse_order_id(&id)?;
    state.node().cancel_own_order(id).await?;
    Ok(Json(OrderCancelled {
        order_id: id,
        status: "cancelled".into(),
    }))
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "node",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn openapi() -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let document = DOCUMENT.get_or_init(crate::openapi::document);
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.as_str(),
    )
        .into_response()
}

/// Prometheus metrics (OpenMetrics text format 1.0.0).
#[utoipa::path(get, path = "/metrics", tag = "node",
    responses((status = 200, description = "OpenMetrics text exposition", content_type = "application/openmetrics-text")))]
pub(crate) async fn metrics(State(state): State<ApiState>) -> Response {
    let body = crate::metrics::render(&state).await;
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response()
}

pub(crate) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound {
        method: method.to_string(),
        path: uri.path().chars().take(200).collect(),
    }
}

pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().chars().take(200).collect(),
    }
}
