//! Trading routes: placing orders the node signs, own orders, cancel all, swaps, trades.
//! They need settlement (chains configured); a relay node answers `settlement-off`.

use std::str::FromStr;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use dex_node::{OwnOrder, OwnOrderStatus, Swap, SwapRecord};
use dex_primitives::{B256, Market};
use serde::Deserialize;

use crate::{
    ApiState,
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery},
    place::parse_place_order,
    routes::{find_market, parse_order_id, price_string, quantity_string},
    types::{
        OrdersCancelled, OwnOrderDetail, OwnOrderView, OwnOrders, PlaceOrderRequest, SwapDetail,
        SwapLogView, SwapView, Swaps, TradeView, Trades,
    },
};

type ApiResult<T> = Result<T, ApiError>;

fn market_of<'a>(state: &'a ApiState, id: &dex_primitives::MarketId) -> ApiResult<&'a Market> {
    state
        .context()
        .markets
        .get(id)
        .ok_or_else(|| ApiError::Internal(format!("stored record of unconfigured market {id}")))
}

fn own_order_view(state: &ApiState, own: &OwnOrder) -> ApiResult<OwnOrderView> {
    let order = &own.signed.order;
    let market = market_of(state, &order.market)?;
    Ok(OwnOrderView {
        order_id: own.id,
        market: market.id(),
        symbol: market.symbol().to_owned(),
        side: order.side.into(),
        price: price_string(market, order.price),
        quantity: quantity_string(market, order.quantity),
        min_fill: quantity_string(market, order.min_fill),
        remaining: quantity_string(market, own.remaining),
        status: own.status.as_str().to_owned(),
        maker: order.maker,
        created_at: order.created_at,
        expires_at: order.expires_at,
        updated_at: own.updated_at,
    })
}

fn swap_view(state: &ApiState, record: &SwapRecord, swap: &Swap) -> ApiResult<SwapView> {
    let market = market_of(state, &record.market)?;
    Ok(SwapView {
        swap_id: record.swap_id,
        market: market.id(),
        symbol: market.symbol().to_owned(),
        side: record.side.into(),
        price: price_string(market, record.price),
        quantity: quantity_string(market, record.quantity),
        own_order_id: record.own_order_id,
        counter_order_id: record.counter_order_id,
        peer: record.peer.clone(),
        phase: dex_node::phase_name(swap).to_owned(),
        created_at: record.created_at,
    })
}

/// Places an order the node signs with its trader key: what crosses the book is taken
/// through swaps, the rest rests (GTC) or is cancelled (IOC).
#[utoipa::path(post, path = "/v1/orders", tag = "orders",
    request_body = PlaceOrderRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Placed", body = OwnOrderView),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-market`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`, `chain-not-configured`, `maker-order-cap`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid-decimal`, `negative-value`, `zero-value`, `too-many-digits`, `off-tick`, `off-lot`, `out-of-range`, `min-fill-above-quantity`, body shape errors", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`chain-unavailable`, `store-unavailable`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn place_order(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<PlaceOrderRequest>,
) -> ApiResult<Response> {
    let order = parse_place_order(&state.context().markets, &request)?;
    let node = state.node();
    let id = node.place_order(order).await?;
    let (own, _) = node.own_order(id).await?;
    let view = own_order_view(&state, &own)?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// Query of the own-orders routes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OrdersQuery {
    /// Only this market (id or BASE/QUOTE symbol).
    market: Option<String>,
    /// Only this status: open, filled, cancelled, expired (list only).
    status: Option<String>,
}

fn parse_status(text: &str) -> ApiResult<OwnOrderStatus> {
    match text {
        "open" => Ok(OwnOrderStatus::Open),
        "filled" => Ok(OwnOrderStatus::Filled),
        "cancelled" => Ok(OwnOrderStatus::Cancelled),
        "expired" => Ok(OwnOrderStatus::Expired),
        other => Err(ApiError::InvalidQuery {
            detail: format!(
                "status {:?} is not one of open, filled, cancelled, expired",
                other.chars().take(50).collect::<String>()
            ),
        }),
    }
}

/// Own orders, oldest first.
#[utoipa::path(get, path = "/v1/orders", tag = "orders",
    params(OrdersQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Own orders", body = OwnOrders),
        (status = 400, description = "`invalid-query`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_orders(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> ApiResult<Json<OwnOrders>> {
    let market = match &query.market {
        Some(name) => Some(find_market(&state, name)?.id()),
        None => None,
    };
    let status = query.status.as_deref().map(parse_status).transpose()?;
    let orders = state.node().own_orders(market, status).await?;
    let orders = orders
        .iter()
        .map(|own| own_order_view(&state, own))
        .collect::<ApiResult<_>>()?;
    Ok(Json(OwnOrders { orders }))
}

/// Cancels every open own order, of one market or of all.
#[utoipa::path(delete, path = "/v1/orders", tag = "orders",
    params(OrdersQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The orders cancelled", body = OrdersCancelled),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-market`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel_all(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> ApiResult<Json<OrdersCancelled>> {
    if query.status.is_some() {
        return Err(ApiError::InvalidQuery {
            detail: "cancel all takes only `market`".into(),
        });
    }
    let market = match &query.market {
        Some(name) => Some(find_market(&state, name)?.id()),
        None => None,
    };
    let cancelled = state.node().cancel_all(market).await?;
    Ok(Json(OrdersCancelled { cancelled }))
}

/// One own order with the swaps that traded it.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "Order id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order and its swaps", body = OwnOrderDetail),
        (status = 400, description = "`invalid-order-id`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-order`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn show_order(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OwnOrderDetail>> {
    let id = parse_order_id(&id)?;
    let (own, swaps) = state.node().own_order(id).await?;
    let order = own_order_view(&state, &own)?;
    let swaps = swaps
        .iter()
        .map(|(record, swap)| swap_view(&state, record, swap))
        .collect::<ApiResult<_>>()?;
    Ok(Json(OwnOrderDetail { order, swaps }))
}

/// Every swap of this node, newest first.
#[utoipa::path(get, path = "/v1/swaps", tag = "swaps",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Swaps", body = Swaps),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_swaps(State(state): State<ApiState>) -> ApiResult<Json<Swaps>> {
    let swaps = state.node().swaps().await?;
    let swaps = swaps
        .iter()
        .map(|(record, swap)| swap_view(&state, record, swap))
        .collect::<ApiResult<_>>()?;
    Ok(Json(Swaps { swaps }))
}

/// One swap with its event history.
#[utoipa::path(get, path = "/v1/swaps/{id}", tag = "swaps",
    params(("id" = String, Path, description = "Swap id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The swap and its history", body = SwapDetail),
        (status = 400, description = "`invalid-swap-id`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-swap`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn show_swap(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SwapDetail>> {
    let swap_id = B256::from_str(&id).map_err(|_| ApiError::InvalidSwapId {
        id: id.chars().take(100).collect(),
    })?;
    let (record, swap, log) = state.node().swap(swap_id).await?;
    let events = log
        .iter()
        .map(|row| SwapLogView {
            seq: row.seq,
            at: row.at,
            entry: serde_json::to_value(&row.entry).unwrap_or_default(),
            actions: serde_json::to_value(&row.actions).unwrap_or_default(),
            phase: row.phase.clone(),
        })
        .collect();
    Ok(Json(SwapDetail {
        swap: swap_view(&state, &record, &swap)?,
        events,
    }))
}

/// Query of the trades route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct TradesQuery {
    /// Most trades returned, 1 to 1,000; default 100.
    limit: Option<u32>,
}

/// Recent trades of a market this node took part in, newest first.
#[utoipa::path(get, path = "/v1/markets/{market}/trades", tag = "markets",
    params(("market" = String, Path, description = "Market id or BASE/QUOTE symbol"), TradesQuery),
    responses(
        (status = 200, description = "Trades", body = Trades),
        (status = 400, description = "`invalid-query`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-market`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn trades(
    State(state): State<ApiState>,
    ApiPath(market): ApiPath<String>,
    ApiQuery(query): ApiQuery<TradesQuery>,
) -> ApiResult<Json<Trades>> {
    let market = find_market(&state, &market)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::InvalidQuery {
            detail: format!("limit must be between 1 and 1000, got {limit}"),
        });
    }
    let trades = state.node().trades(market.id(), limit).await?;
    let trades = trades
        .iter()
        .map(|trade| TradeView {
            price: price_string(market, trade.price),
            quantity: quantity_string(market, trade.quantity),
            taker_side: trade.taker_side.into(),
            swap_id: trade.swap_id,
            at: trade.at,
        })
        .collect();
    Ok(Json(Trades {
        symbol: market.symbol().to_owned(),
        trades,
    }))
}
