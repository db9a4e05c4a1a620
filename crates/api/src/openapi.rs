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
    #[schema(pattern = r"^0x[0-9a-fA-F]{64}$")]
    market: String,
    /// 0 = buy base, 1 = sell base.
    #[schema(maximum = 1)]
    side: u8,
    /// Limit price in ticks.
    price: u64,
    /// Quantity in lots.
    quantity: u64,
    /// Smallest fill in lots.
    min_fill: u64,
    /// The maker's address; must be the signer and a key this node holds.
    #[schema(pattern = r"^0x[0-9a-fA-F]{40}$")]
    maker: String,
    /// This node's peer id (base58), from `/v1/info`.
    #[schema(pattern = r"^[1-9A-HJ-NP-Za-km-z]{46,60}$")]
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

/// The document as JSON, with the links between operations (what one answers, another
/// takes), which clients and stateful testing follow.
pub fn document() -> String {
    let mut document =
        serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document always serializes");
    add_links(&mut document);
    serde_json::to_string_pretty(&document).expect("JSON always serializes")
}

/// `(operation, status, link name, target operation, parameter, runtime expression)`.
const LINKS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "/v1/orders post",
        "201",
        "GetOrder",
        "/v1/orders/{id} get",
        "id",
        "$response.body#/orderId",
    ),
    (
        "/v1/orders post",
        "201",
        "CancelOrder",
        "/v1/orders/{id} delete",
        "id",
        "$response.body#/orderId",
    ),
    (
        "/v1/orders post",
        "201",
        "GetOrderByClientId",
        "/v1/orders/by-client-id/{clientOrderId} get",
        "clientOrderId",
        "$response.body#/clientOrderId",
    ),
    (
        "/v1/orders post",
        "201",
        "CancelOrderByClientId",
        "/v1/orders/by-client-id/{clientOrderId} delete",
        "clientOrderId",
        "$response.body#/clientOrderId",
    ),
    (
        "/v1/orders/signed post",
        "201",
        "GetOrder",
        "/v1/orders/{id} get",
        "id",
        "$response.body#/orderId",
    ),
    (
        "/v1/orders/signed post",
        "201",
        "CancelOrder",
        "/v1/orders/{id} delete",
        "id",
        "$response.body#/orderId",
    ),
    (
        "/v1/orders get",
        "200",
        "GetFirstOrder",
        "/v1/orders/{id} get",
        "id",
        "$response.body#/orders/0/orderId",
    ),
    (
        "/v1/swaps get",
        "200",
        "GetFirstSwap",
        "/v1/swaps/{id} get",
        "id",
        "$response.body#/swaps/0/swapId",
    ),
    (
        "/v1/markets get",
        "200",
        "GetFirstBook",
        "/v1/markets/{market}/book get",
        "market",
        "$response.body#/markets/0/symbol",
    ),
];

fn add_links(document: &mut serde_json::Value) {
    // A JSON pointer to an operation: `/` in the path is `~1`.
    let reference = |operation: &str| {
        let (path, method) = operation.split_once(' ').expect("path and method");
        format!(
            "#/paths/{}/{method}",
            path.replace('~', "~0").replace('/', "~1")
        )
    };
    for (operation, status, name, target, parameter, expression) in LINKS {
        let (path, method) = operation.split_once(' ').expect("path and method");
        let Some(response) = document
            .pointer_mut(&format!(
                "{}/responses/{status}",
                &reference(operation)[1..]
            ))
            .and_then(serde_json::Value::as_object_mut)
        else {
            debug_assert!(false, "no {status} answer of {path} {method}");
            continue;
        };
        let links = response
            .entry("links")
            .or_insert_with(|| serde_json::json!({}));
        links[*name] = serde_json::json!({
            "operationRef": reference(target),
            "parameters": { *parameter: expression },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_joins_two_documented_operations() {
        let document: serde_json::Value = serde_json::from_str(&document()).unwrap();
        let mut links = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    for (name, link) in response["links"].as_object().into_iter().flatten() {
                        let target = link["operationRef"].as_str().unwrap();
                        let operation = document.pointer(&target[1..]);
                        assert!(
                            operation.is_some(),
                            "{path} {method} {status} {name}: {target}"
                        );
                        let (parameter, _) = link["parameters"]
                            .as_object()
                            .unwrap()
                            .iter()
                            .next()
                            .unwrap();
                        let named = operation.unwrap()["parameters"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|p| p["name"] == parameter.as_str());
                        assert!(named, "{target} takes no parameter {parameter}");
                        links += 1;
                    }
                }
            }
        }
        assert_eq!(links, LINKS.len());
    }
}
