//! The OpenAPI 3.1 document, generated from the handlers' and types' annotations.

use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
};

use crate::{routes, trading, types, ws};

/// The EIP-712 `Order` message as JSON (documentation only; the wire type is
/// `dex_primitives::Order`).
#[derive(Debug, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct OrderMessage {
    /// Market id (0x, 32 bytes).
    market: String,
    /// 0 = buy base, 1 = sell base.
    side: u8,
    /// Limit price in ticks.
    price: u64,
    /// Quantity in lots.
    quantity: u64,
    /// Smallest fill in lots.
    min_fill: u64,
    /// The maker's address; must be the signer and a key this node holds.
    maker: String,
    /// This node's peer id (base58), from `/v1/info`.
    peer: String,
    /// Any number that makes the order unique.
    nonce: u64,
    /// Unix ms.
    created_at: u64,
    /// Unix ms.
    expires_at: u64,
}

/// The API description.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "p2pdex node API",
        description = "The local API of a p2pdex node. Prices and quantities are decimal strings, converted exactly by the market's tick and lot. Errors are RFC 7807 problems (application/problem+json) whose `type` is `urn:p2pdex:problem:<slug>`. Mutations and own data need `Authorization: Bearer <token>` (the token is in <data dir>/api.token).",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        routes::health,
        routes::info,
        routes::markets,
        routes::book,
        routes::peers,
        routes::post_signed_order,
        routes::cancel_order,
        trading::place_order,
        trading::list_orders,
        trading::cancel_all,
        trading::show_order,
        trading::show_order_by_client_id,
        trading::cancel_order_by_client_id,
        trading::fills,
        trading::list_swaps,
        trading::show_swap,
        trading::trades,
        trading::balances,
        trading::counterparties,
        routes::openapi,
        routes::metrics,
        ws::upgrade,
    ),
    components(schemas(
        types::Problem,
        types::WsRequest,
        types::WsMessage,
        types::PlaceOrderRequest,
        OrderMessage,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "node", description = "The node itself"),
        (name = "markets", description = "Public market data"),
        (name = "orders", description = "Own orders (token required)"),
        (name = "swaps", description = "Own swaps (token required)"),
        (name = "stream", description = "WebSocket stream"),
    ),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// The document as JSON.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document always serializes")
}
