//! The OpenAPI document describes what the router serves, with the constraints it enforces.

use serde_json::json;

use axum::http::Method;

use crate::support::{Api, JSON, TOKEN, get, request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_served_routes() {
    let node = Api::start().await;
    let answer = node.send(get("/v1/openapi.json")).await;
    assert_eq!(answer.status, 200);
    let document = answer.json;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/health",
        "/v1/info",
        "/v1/markets",
        "/v1/markets/{market}/book",
        "/v1/orders/signed",
        "/v1/orders/{id}",
        "/v1/orders",
        "/v1/swaps",
        "/v1/swaps/{id}",
        "/v1/markets/{market}/trades",
        "/v1/peers",
        "/v1/ws",
        "/v1/balances",
        "/v1/counterparties",
        "/metrics",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    // Parameters carry the constraints the API enforces, so that clients and fuzzers
    // generated from the document send what the API accepts.
    let parameter = |path: &str, method: &str, name: &str| {
        document["paths"][path][method]["parameters"]
            .as_array()
            .and_then(|parameters| parameters.iter().find(|p| p["name"] == name))
            .map(|p| p["schema"].clone())
            .unwrap_or_else(|| panic!("{method} {path}: no parameter {name}"))
    };
    let hex = "^(0x)?[0-9a-fA-F]{64}$";
    assert_eq!(parameter("/v1/orders/{id}", "get", "id")["pattern"], hex);
    assert_eq!(parameter("/v1/orders/{id}", "delete", "id")["pattern"], hex);
    assert_eq!(parameter("/v1/swaps/{id}", "get", "id")["pattern"], hex);
    assert_eq!(
        parameter("/v1/orders", "get", "status")["pattern"],
        "^(open|filled|cancelled|expired)$"
    );
    let limit = parameter("/v1/markets/{market}/trades", "get", "limit");
    assert_eq!(
        (limit["minimum"].as_u64(), limit["maximum"].as_u64()),
        (Some(1), Some(1000))
    );
    assert_eq!(
        parameter("/v1/markets/{market}/book", "get", "depth")["minimum"].as_u64(),
        Some(1)
    );
    assert!(
        parameter("/v1/markets/{market}/book", "get", "market")["pattern"]
            .as_str()
            .is_some_and(|pattern| pattern.contains("[^/]+/[^/]+"))
    );
    // The book's digest: required, and exactly the `0x` and 64 lowercase hex digits that
    // a B256 serializes as.
    let book = &document["components"]["schemas"]["Book"];
    assert_eq!(book["properties"]["digest"]["type"], "string");
    assert_eq!(book["properties"]["digest"]["pattern"], "^0x[0-9a-f]{64}$");
    assert!(
        book["required"]
            .as_array()
            .is_some_and(|required| required.contains(&json!("digest")))
    );
    assert!(
        document["paths"]["/v1/orders"]["post"]["responses"]["422"]["description"]
            .as_str()
            .unwrap()
            .contains("insufficient-balance")
    );
    // A relay node: settlement off, no chains.
    let info = node.send(get("/v1/info")).await.json;
    assert_eq!(info["chainsUp"], json!([]));
    assert_eq!(info["settlement"], json!(false));
    let markets = node.send(get("/v1/markets")).await.json;
    let eth_usdc = markets["markets"]
        .as_array()
        .and_then(|markets| markets.iter().find(|market| market["symbol"] == "ETH/USDC"))
        .unwrap_or_else(|| panic!("no ETH/USDC in {markets}"));
    assert_eq!(eth_usdc["lotSize"], "0.001");
    assert_eq!(eth_usdc["tickSize"], "0.01");
    assert_eq!(eth_usdc["quotePerTickLot"], "10");
}

/// Conformance of the document and the router both ways: every documented operation is
/// routed (not the `not-found` or `method-not-allowed` fallbacks), and every route the
/// API counts in its metrics is documented (the page's files aside).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served_and_every_route_documented() {
    let node = Api::start().await;
    let document = node.send(get("/v1/openapi.json")).await.json;
    let paths = document["paths"].as_object().expect("paths");
    let id = format!("0x{}", "22".repeat(32));
    let mut operations = 0;
    for (template, item) in paths {
        let path = template
            .replace("{market}", "ETH%2FUSDC")
            .replace("{id}", &id)
            .replace("{clientOrderId}", "mine-1");
        for method in ["get", "post", "delete"] {
            if !item[method].is_object() {
                continue;
            }
            operations += 1;
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = node
                .send(request(
                    method.clone(),
                    &path,
                    "{}",
                    Some(TOKEN),
                    Some(JSON),
                ))
                .await;
            if answer.content_type == "application/problem+json" {
                let slug = answer.problem().slug().to_owned();
                assert!(
                    slug != "not-found" && slug != "method-not-allowed",
                    "{method} {template} is documented but not routed: {}",
                    answer.text
                );
            }
        }
    }
    assert!(operations >= 20, "only {operations} operations documented");
    for route in dex_api::metrics::ROUTES {
        if *route == "/" || route.starts_with("/ui/") {
            continue;
        }
        assert!(
            paths.contains_key(*route),
            "{route} is served but not documented"
        );
    }
}
