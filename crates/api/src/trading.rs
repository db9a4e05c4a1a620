//! Trading routes: placing orders the node signs, own orders, cancel all, swaps, trades.
//! They need settlement (chains configured); a relay node answers `settlement-off`.

use std::str::FromStr;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use dex_node::{OwnOrder, OwnOrderEvent, OwnOrderStatus, Swap, SwapRecord};
use dex_primitives::{B256, Market, MarketId, U256};
use serde::Deserialize;

use crate::{
    ApiState,
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery},
    place::{check_client_order_id, parse_place_order},
    routes::{find_market, parse_order_id, price_string, quantity_string},
    timeline,
    types::{
        BalanceView, Balances, Counterparties, CounterpartyKind, CounterpartyView, FillView, Fills,
        OrderCancelled, OrdersCancelled, OwnOrderDetail, OwnOrderView, OwnOrders,
        PlaceOrderRequest, SwapDetail, SwapLogView, SwapView, Swaps, TradeView, Trades,
    },
};

type ApiResult<T> = Result<T, ApiError>;

fn market_of<'a>(state: &'a ApiState, id: &MarketId) -> ApiResult<&'a Market> {
    state
        .context()
        .markets
        .get(id)
        .ok_or_else(|| ApiError::Internal(format!("stored record of unconfigured market {id}")))
}

pub(crate) fn own_order_view(state: &ApiState, own: &OwnOrder) -> ApiResult<OwnOrderView> {
    let order = &own.signed.order;
    let market = market_of(state, &order.market)?;
    Ok(own_order_event_view(
        market,
        &OwnOrderEvent {
            id: own.id,
            market: order.market,
            side: order.side,
            price: order.price,
            quantity: order.quantity,
            min_fill: order.min_fill,
            remaining: own.remaining,
            status: own.status,
            maker: order.maker,
            created_at: order.created_at,
            expires_at: order.expires_at,
            updated_at: own.updated_at,
            client_order_id: own.client.as_ref().map(|client| client.id.clone()),
        },
    ))
}

/// The view of an own order as the node's events report it (the stored order's view goes
/// through it too, so both render alike).
pub(crate) fn own_order_event_view(market: &Market, order: &OwnOrderEvent) -> OwnOrderView {
    OwnOrderView {
        order_id: order.id,
        market: market.id(),
        symbol: market.symbol().to_owned(),
        side: order.side.into(),
        price: price_string(market, order.price),
        quantity: quantity_string(market, order.quantity),
        min_fill: quantity_string(market, order.min_fill),
        remaining: quantity_string(market, order.remaining),
        status: order.status.as_str().to_owned(),
        maker: order.maker,
        created_at: order.created_at,
        expires_at: order.expires_at,
        updated_at: order.updated_at,
        client_order_id: order.client_order_id.clone(),
    }
}

pub(crate) fn swap_view(state: &ApiState, record: &SwapRecord, swap: &Swap) -> ApiResult<SwapView> {
    let market = market_of(state, &record.market)?;
    let (outcome, outcome_reason) = timeline::outcome(swap);
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
        role: match swap.params().role {
            dex_swap::Role::Taker => "taker",
            dex_swap::Role::Maker => "maker",
        }
        .to_owned(),
        outcome,
        outcome_reason,
        refund: timeline::refund_clock(swap, unix_millis()),
    })
}

fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Places an order the node signs with its trader key: what crosses the book is taken
/// through swaps, the rest rests (GTC) or is cancelled (IOC).
#[utoipa::path(post, path = "/v1/orders", tag = "orders",
    request_body = PlaceOrderRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Placed; or, for a `clientOrderId` placed before with the same fields, that order as it is now", body = OwnOrderView),
        (status = 400, description = "`malformed-json`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-market`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`, `chain-not-configured`, `maker-order-cap`, `duplicate-client-order-id`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 413, description = "`body-too-large`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`insufficient-balance`, `insufficient-gas` (nothing changes), `invalid-decimal`, `negative-value`, `zero-value`, `too-many-digits`, `off-tick`, `off-lot`, `out-of-range`, `min-fill-above-quantity`, `invalid-client-order-id`, body shape errors", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`chain-unavailable`, `balance-unknown`, `store-unavailable`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn place_order(
    State(state): State<ApiState>,
    ApiJson(request): ApiJson<PlaceOrderRequest>,
) -> ApiResult<Response> {
    let order = parse_place_order(&state.context().markets, &request)?;
    // The node answers the order as placed: no second round trip, no database read.
    let own = state.node().place(order).await?;
    let view = own_order_view(&state, &own)?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// An amount of base units as an exact decimal string with `decimals` places, trailing
/// zeros removed (`1500000`, 6 → `"1.5"`).
pub(crate) fn units_string(amount: U256, decimals: u8) -> String {
    let scale = U256::from(10u8).pow(U256::from(decimals));
    let (whole, fraction) = amount.div_rem(scale);
    if fraction.is_zero() {
        return whole.to_string();
    }
    let digits = fraction.to_string();
    let padded = format!(
        "{}{digits}",
        "0".repeat(usize::from(decimals) - digits.len())
    );
    format!("{whole}.{}", padded.trim_end_matches('0'))
}

/// On-chain balances of the trader keys per asset of the configured markets, with what
/// swaps lock and open orders reserve, and what is free for new orders.
#[utoipa::path(get, path = "/v1/balances", tag = "orders",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Balances", body = Balances),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn balances(State(state): State<ApiState>) -> ApiResult<Json<Balances>> {
    let balances = state.node().balances().await?;
    let balances = balances
        .into_iter()
        .map(|balance| {
            // Assets come from the markets, so both are known; 18 is the EVM default.
            let decimals = balance.decimals.unwrap_or(18);
            let amount = |value: U256| units_string(value, decimals);
            BalanceView {
                trader: balance.trader,
                chain_id: balance.chain_id,
                token: balance.token,
                symbol: balance.symbol.clone().unwrap_or_default(),
                decimals,
                on_chain: amount(balance.on_chain),
                locked_in_swaps: amount(balance.locked_in_swaps),
                reserved_by_orders: amount(balance.reserved_by_orders),
                gas_reserve: amount(balance.gas_reserve),
                free: amount(balance.free),
                read_at: balance.read_at,
            }
        })
        .collect();
    Ok(Json(Balances { balances }))
}

/// Query of the own-orders routes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OrdersQuery {
    /// Only this market (id or BASE/QUOTE symbol).
    #[param(pattern = r"^((0x)?[0-9a-fA-F]{64}|[^/]+/[^/]+)$")]
    market: Option<String>,
    /// Only this status: open, filled, cancelled, expired.
    #[param(pattern = "^(open|filled|cancelled|expired)$")]
    status: Option<String>,
    /// Only orders placed after this `cursor` of an earlier answer, oldest first. Without
    /// it, the most recently placed first.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    after: Option<u64>,
    /// Most orders returned, 1 to 1,000; default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A cursor handed back by a client: a sequence number of the node's database, so at most
/// `i64::MAX`; or why it is refused.
fn cursor(name: &str, value: Option<u64>) -> ApiResult<Option<u64>> {
    match value {
        Some(value) if i64::try_from(value).is_err() => Err(ApiError::InvalidQuery {
            detail: format!("{name} must be at most {}, got {value}", i64::MAX),
        }),
        value => Ok(value),
    }
}

/// The most entries a list route answers (`limit` of own orders, swaps, fills, trades:
/// default 100, at most [`dex_node::PAGE`]), or why it is refused.
fn page_limit(limit: Option<u32>) -> ApiResult<u32> {
    let limit = limit.unwrap_or(100);
    if !(1..=dex_node::PAGE).contains(&limit) {
        return Err(ApiError::InvalidQuery {
            detail: format!(
                "limit must be between 1 and {}, got {limit}",
                dex_node::PAGE
            ),
        });
    }
    Ok(limit)
}

/// Query of cancel-all: the market only (a status filter would be meaningless, only open
/// orders can be cancelled, and is refused as an unknown parameter).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CancelAllQuery {
    /// Only this market (id or BASE/QUOTE symbol).
    #[param(pattern = r"^((0x)?[0-9a-fA-F]{64}|[^/]+/[^/]+)$")]
    market: Option<String>,
}

/// The market an own-orders query names, if any.
fn market_filter(state: &ApiState, market: Option<&str>) -> ApiResult<Option<MarketId>> {
    market
        .map(|name| find_market(state, name).map(Market::id))
        .transpose()
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

/// Own orders in placement order, a page at a time: without `after`, the most recently
/// placed first; to read on, pass the answer's `cursor` as `after`: the orders placed since
/// come, oldest first (ask again at once while a page comes back full).
#[utoipa::path(get, path = "/v1/orders", tag = "orders",
    params(OrdersQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Own orders", body = OwnOrders),
        (status = 400, description = "`invalid-query`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-market`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_orders(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> ApiResult<Json<OwnOrders>> {
    let market = market_filter(&state, query.market.as_deref())?;
    let status = query.status.as_deref().map(parse_status).transpose()?;
    let limit = page_limit(query.limit)?;
    let page = state
        .node()
        .own_orders_page(market, status, cursor("after", query.after)?, limit)
        .await?;
    let orders = page
        .items
        .iter()
        .map(|own| own_order_view(&state, own))
        .collect::<ApiResult<_>>()?;
    Ok(Json(OwnOrders {
        orders,
        cursor: page.cursor,
    }))
}

/// Cancels every open own order, of one market or of all.
#[utoipa::path(delete, path = "/v1/orders", tag = "orders",
    params(CancelAllQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The orders cancelled", body = OrdersCancelled),
        (status = 400, description = "`invalid-query`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-market`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel_all(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<CancelAllQuery>,
) -> ApiResult<Json<OrdersCancelled>> {
    let market = market_filter(&state, query.market.as_deref())?;
    let cancelled = state.node().cancel_all(market).await?;
    Ok(Json(OrdersCancelled { cancelled }))
}

/// One own order with the swaps that traded it.
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "Order id (0x and 64 hex digits)", pattern = r"^(0x)?[0-9a-fA-F]{64}$")),
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
    order_detail(&state, &own, &swaps).map(Json)
}

fn order_detail(
    state: &ApiState,
    own: &OwnOrder,
    swaps: &[(SwapRecord, Swap)],
) -> ApiResult<OwnOrderDetail> {
    Ok(OwnOrderDetail {
        order: own_order_view(state, own)?,
        swaps: swaps
            .iter()
            .map(|(record, swap)| swap_view(state, record, swap))
            .collect::<ApiResult<_>>()?,
    })
}

/// One own order, by the client order id it was placed with, with the swaps that traded it.
#[utoipa::path(get, path = "/v1/orders/by-client-id/{clientOrderId}", tag = "orders",
    params(("clientOrderId" = String, Path, description = "The client order id given at placement", pattern = r"^[A-Za-z0-9._:-]{1,64}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order and its swaps", body = OwnOrderDetail),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-client-order-id`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid-client-order-id`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn show_order_by_client_id(
    State(state): State<ApiState>,
    ApiPath(client_order_id): ApiPath<String>,
) -> ApiResult<Json<OwnOrderDetail>> {
    let client_order_id = check_client_order_id(&client_order_id)?.to_owned();
    let (own, swaps) = state.node().own_order_by_client_id(client_order_id).await?;
    order_detail(&state, &own, &swaps).map(Json)
}

/// Cancels an own open order named by its client order id, like `DELETE /v1/orders/{id}`.
#[utoipa::path(delete, path = "/v1/orders/by-client-id/{clientOrderId}", tag = "orders",
    params(("clientOrderId" = String, Path, description = "The client order id given at placement", pattern = r"^[A-Za-z0-9._:-]{1,64}$")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Cancelled", body = OrderCancelled),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-client-order-id`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`order-closed`, `settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid-client-order-id`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel_order_by_client_id(
    State(state): State<ApiState>,
    ApiPath(client_order_id): ApiPath<String>,
) -> ApiResult<Json<OrderCancelled>> {
    let client_order_id = check_client_order_id(&client_order_id)?.to_owned();
    let (own, _) = state.node().own_order_by_client_id(client_order_id).await?;
    state.node().cancel_own_order(own.id).await?;
    Ok(Json(OrderCancelled {
        order_id: own.id,
        status: "cancelled".into(),
    }))
}

/// Query of the fills route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct FillsQuery {
    /// Only this market (id or `BASE/QUOTE` symbol).
    market: Option<String>,
    /// Most fills returned, 1 to 1,000; default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Fills of own orders, newest first: each a trade whose swap completed. What a swap still
/// under way moves is not a fill: balances show it reserved or locked.
#[utoipa::path(get, path = "/v1/fills", tag = "orders",
    params(FillsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Fills", body = Fills),
        (status = 400, description = "`invalid-query`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-market`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn fills(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<FillsQuery>,
) -> ApiResult<Json<Fills>> {
    let market = match &query.market {
        Some(market) => Some(find_market(&state, market)?.id()),
        None => None,
    };
    let limit = page_limit(query.limit)?;
    let fills = state.node().fills(market, limit).await?;
    let fills = fills
        .iter()
        .map(|fill| fill_view(&state, fill))
        .collect::<ApiResult<_>>()?;
    Ok(Json(Fills { fills }))
}

fn fill_view(state: &ApiState, fill: &dex_node::Fill) -> ApiResult<FillView> {
    let trade = &fill.trade;
    let market = market_of(state, &trade.market)?;
    let cost = market
        .fill_amounts(trade.price, trade.quantity)
        .map_err(|err| ApiError::Internal(format!("stored fill: {err}")))?
        .quote;
    Ok(FillView {
        fill_id: trade.swap_id.unwrap_or_default(),
        order_id: fill.order_id,
        client_order_id: fill.client_order_id.clone(),
        market: market.id(),
        symbol: market.symbol().to_owned(),
        side: fill.side.into(),
        // The taker's order is the one on the trade's taker side.
        role: if fill.side == trade.taker_side {
            "taker"
        } else {
            "maker"
        }
        .to_owned(),
        price: price_string(market, trade.price),
        quantity: quantity_string(market, trade.quantity),
        cost: units_string(cost, market.def().quote_decimals),
        at: trade.at,
    })
}

/// Query of the swaps route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct SwapsQuery {
    /// Only swaps that changed after this `cursor` of an earlier answer, oldest change
    /// first. Without it, the most recently changed swaps first.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    changed_after: Option<u64>,
    /// Most swaps returned, 1 to 1,000; default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Swaps of this node by their latest change, a page at a time. Without `changedAfter`, the
/// most recently changed first; to follow the swaps, pass the answer's `cursor` as
/// `changedAfter` next time: only the swaps that changed since come, oldest change first,
/// each at its current state (ask again at once while a page comes back full).
#[utoipa::path(get, path = "/v1/swaps", tag = "swaps",
    params(SwapsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Swaps", body = Swaps),
        (status = 400, description = "`invalid-query`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_swaps(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<SwapsQuery>,
) -> ApiResult<Json<Swaps>> {
    let limit = page_limit(query.limit)?;
    let page = state
        .node()
        .swaps_changed(cursor("changedAfter", query.changed_after)?, limit)
        .await?;
    let swaps = page
        .items
        .iter()
        .map(|(record, swap)| swap_view(&state, record, swap))
        .collect::<ApiResult<_>>()?;
    Ok(Json(Swaps {
        swaps,
        cursor: page.cursor,
    }))
}

/// One swap with its event history.
#[utoipa::path(get, path = "/v1/swaps/{id}", tag = "swaps",
    params(("id" = String, Path, description = "Swap id (0x and 64 hex digits)", pattern = r"^(0x)?[0-9a-fA-F]{64}$")),
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
            entry: redacted(serde_json::to_value(&row.entry).unwrap_or_default()),
            actions: redacted(serde_json::to_value(&row.actions).unwrap_or_default()),
            phase: row.phase.clone(),
        })
        .collect();
    Ok(Json(SwapDetail {
        swap: swap_view(&state, &record, &swap)?,
        steps: timeline::steps(&swap, &log),
        events,
    }))
}

/// The history as shown, without the secret: the taker's claim action carries it before the
/// claim is mined, and whatever reads the API (a page, a bot, a terminal, their logs) has no
/// use for it. The node keeps it in its own database only.
fn redacted(mut value: serde_json::Value) -> serde_json::Value {
    match &mut value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                *field = if name == "secret" {
                    serde_json::Value::String("<redacted>".into())
                } else {
                    redacted(field.take())
                };
            }
        }
        serde_json::Value::Array(items) => {
            for item in items.iter_mut() {
                *item = redacted(item.take());
            }
        }
        _ => {}
    }
    value
}

/// Query of the trades route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct TradesQuery {
    /// Most trades returned, 1 to 1,000; default 100.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Recent trades of a market this node took part in, newest first.
#[utoipa::path(get, path = "/v1/markets/{market}/trades", tag = "markets",
    params(("market" = String, Path, description = "Market id or BASE/QUOTE symbol", pattern = r"^((0x)?[0-9a-fA-F]{64}|[^/]+/[^/]+)$"), TradesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Trades", body = Trades),
        (status = 400, description = "`invalid-query`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown-market`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn trades(
    State(state): State<ApiState>,
    ApiPath(market): ApiPath<String>,
    ApiQuery(query): ApiQuery<TradesQuery>,
) -> ApiResult<Json<Trades>> {
    let market = find_market(&state, &market)?;
    let limit = page_limit(query.limit)?;
    let trades = state.node().trades(market.id(), limit).await?;
    let trades = trades
        .iter()
        .map(|trade| trade_view(market, trade))
        .collect();
    Ok(Json(Trades {
        symbol: market.symbol().to_owned(),
        trades,
    }))
}

pub(crate) fn trade_view(market: &Market, trade: &dex_node::TradeRecord) -> TradeView {
    TradeView {
        price: price_string(market, trade.price),
        quantity: quantity_string(market, trade.quantity),
        taker_side: trade.taker_side.into(),
        swap_id: trade.swap_id,
        at: trade.at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_units_print_exactly() {
        let units = |value: u128, decimals| units_string(U256::from(value), decimals);
        assert_eq!(units(1_500_000, 6), "1.5");
        assert_eq!(units(1_000_000, 6), "1");
        assert_eq!(units(0, 6), "0");
        assert_eq!(units(1, 6), "0.000001");
        assert_eq!(units(10_000_000_000_000_000, 18), "0.01");
        assert_eq!(units(12_345, 0), "12345");
    }
}

/// How this node's swaps with each peer and trader address ended — completed, refunded,
/// never locked, failed — and who is refused for a while after failing repeatedly
/// (`[settlement] refuse_after_failures`, `refuse_period`). Own trading history: needs the
/// token.
#[utoipa::path(get, path = "/v1/counterparties", tag = "orders",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Counterparty records", body = Counterparties),
        (status = 401, description = "`missing-token`, `invalid-token`", body = crate::types::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`settlement-off`", body = crate::types::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn counterparties(
    State(state): State<ApiState>,
) -> ApiResult<Json<Counterparties>> {
    let records = state.node().counterparties().await?;
    let counterparties = records
        .into_iter()
        .map(|(party, record)| counterparty_view(party, &record))
        .collect();
    Ok(Json(Counterparties { counterparties }))
}

/// A counterparty record as the API shows it.
pub(crate) fn counterparty_view(
    party: dex_node::Counterparty,
    record: &dex_node::CounterpartyRecord,
) -> CounterpartyView {
    let (kind, id) = match party {
        dex_node::Counterparty::Peer(peer) => (CounterpartyKind::Peer, peer.to_string()),
        dex_node::Counterparty::Trader(address) => (CounterpartyKind::Trader, address.to_string()),
    };
    CounterpartyView {
        kind,
        id,
        completed: record.completed,
        refunded: record.refunded,
        never_locked: record.never_locked,
        failed: record.failed,
        failing_in_a_row: record.failing_in_a_row,
        refused_until: record.refused_until,
        last_swap_at: record.last_swap_at,
    }
}
