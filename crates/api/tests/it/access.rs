//! Who may call what: the token on every private route, the Host check, CORS.

use axum::http::{Method, header};
use dex_primitives::B256;

use crate::support::{Api, JSON, TOKEN, get, request};

/// Every route that needs the token, with a request that would otherwise be well formed.
fn private_routes() -> Vec<(Method, String, &'static str)> {
    let id = B256::repeat_byte(0x11);
    let place = r#"{"market":"ETH/USDC","side":"buy","price":"2500","quantity":"0.25"}"#;
    vec![
        (Method::POST, "/v1/orders".into(), place),
        (Method::GET, "/v1/orders".into(), ""),
        (Method::DELETE, "/v1/orders".into(), ""),
        (Method::POST, "/v1/orders/signed".into(), "{}"),
        (Method::GET, format!("/v1/orders/{id}"), ""),
        (Method::DELETE, format!("/v1/orders/{id}"), ""),
        (Method::GET, "/v1/orders/by-client-id/mine-1".into(), ""),
        (Method::DELETE, "/v1/orders/by-client-id/mine-1".into(), ""),
        (Method::GET, "/v1/fills".into(), ""),
        (Method::GET, "/v1/swaps".into(), ""),
        (Method::GET, format!("/v1/swaps/{id}"), ""),
        (Method::GET, "/v1/balances".into(), ""),
        (Method::GET, "/v1/counterparties".into(), ""),
        (Method::GET, "/v1/markets/ETH%2FUSDC/trades".into(), ""),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_private_route_wants_the_token_and_only_it() {
    let api = Api::start().await;
    let wrong = "f".repeat(TOKEN.len());
    for (method, path, body) in private_routes() {
        let without = api
            .send(request(method.clone(), &path, body, None, Some(JSON)))
            .await;
        assert_eq!(
            (without.status, without.problem().slug().to_owned()),
            (401, "missing-token".to_owned()),
            "{method} {path} without a token"
        );
        for token in [wrong.as_str(), &TOKEN[..TOKEN.len() - 1], "", "Bearer"] {
            let answer = api
                .send(request(
                    method.clone(),
                    &path,
                    body,
                    Some(token),
                    Some(JSON),
                ))
                .await;
            assert_eq!(
                answer.status, 401,
                "{method} {path} with {token:?}: {}",
                answer.text
            );
            assert!(
                ["invalid-token", "missing-token"].contains(&answer.problem().slug()),
                "{method} {path} with {token:?}: {}",
                answer.text
            );
        }
        // Another scheme carrying the right token is not a bearer token.
        let basic = api
            .send(
                axum::http::Request::builder()
                    .method(method.clone())
                    .uri(&path)
                    .header(header::AUTHORIZATION, format!("Basic {TOKEN}"))
                    .header(header::CONTENT_TYPE, JSON)
                    .body(axum::body::Body::from(body))
                    .unwrap(),
            )
            .await;
        assert_eq!(
            basic.status, 401,
            "{method} {path} with Basic: {}",
            basic.text
        );
        // With the token the request passes auth: whatever it answers, it is not a 401
        // (a relay node refuses trading with `settlement-off`, unknown ids are 404).
        let with = api
            .send(request(
                method.clone(),
                &path,
                body,
                Some(TOKEN),
                Some(JSON),
            ))
            .await;
        assert_ne!(
            with.status, 401,
            "{method} {path} with the token: {}",
            with.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_routes_answer_without_a_token() {
    let api = Api::start().await;
    for path in [
        "/v1/health",
        "/v1/info",
        "/v1/markets",
        "/v1/markets/ETH%2FUSDC/book",
        "/v1/peers",
        "/v1/openapi.json",
        "/metrics",
        "/",
    ] {
        let answer = api.send(get(path)).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
    }
    let health = api.send(get("/v1/health")).await;
    assert_eq!(health.json["status"], "ok", "{}", health.text);
}

/// A GET of `/v1/health` with this `Host` header (none for `None`).
fn with_host(host: Option<&str>) -> axum::http::Request<axum::body::Body> {
    let mut request = axum::http::Request::builder().uri("/v1/health");
    if let Some(host) = host {
        request = request.header(header::HOST, host);
    }
    request.body(axum::body::Body::empty()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_allowed_hosts_are_answered() {
    let api = Api::start_with(|config| {
        config.allowed_hosts = vec!["127.0.0.1:9000".into(), "localhost:9000".into()];
    })
    .await;
    for host in ["127.0.0.1:9000", "localhost:9000", "LocalHost:9000"] {
        let answer = api.send(with_host(Some(host))).await;
        assert_eq!(answer.status, 200, "{host}: {}", answer.text);
    }
    // A page that rebinds its own name to 127.0.0.1 sends its own name; a request without
    // a Host (HTTP/1.0) is not known to be ours either.
    for host in [
        Some("attacker.example"),
        Some("attacker.example:9000"),
        Some("127.0.0.1:9001"),
        Some("127.0.0.1"),
        None,
    ] {
        let answer = api.send(with_host(host)).await;
        assert_eq!(answer.status, 403, "{host:?}: {}", answer.text);
        assert_eq!(answer.problem().slug(), "forbidden-host");
    }

    let any = Api::start_with(|config| config.allowed_hosts = vec!["*".into()]).await;
    assert_eq!(
        any.send(with_host(Some("attacker.example"))).await.status,
        200
    );
    let unset = Api::start().await;
    assert_eq!(
        unset.send(with_host(Some("attacker.example"))).await.status,
        200
    );
}

/// A CORS preflight of `POST /v1/orders` from `origin`.
fn preflight(origin: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/orders")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type",
        )
        .body(axum::body::Body::empty())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_the_configured_origins_only() {
    let api =
        Api::start_with(|config| config.cors_origins = vec!["http://app.example".into()]).await;
    let router = api.router();
    let allowed = tower::ServiceExt::oneshot(router.clone(), preflight("http://app.example"))
        .await
        .unwrap();
    let header = |response: &axum::response::Response, name| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    assert_eq!(
        header(&allowed, header::ACCESS_CONTROL_ALLOW_ORIGIN).as_deref(),
        Some("http://app.example")
    );
    let methods = header(&allowed, header::ACCESS_CONTROL_ALLOW_METHODS).unwrap_or_default();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let foreign = tower::ServiceExt::oneshot(router, preflight("http://evil.example"))
        .await
        .unwrap();
    assert_eq!(header(&foreign, header::ACCESS_CONTROL_ALLOW_ORIGIN), None);

    // CORS off (the default): no page of another origin is allowed.
    let off = Api::start().await;
    let answer = tower::ServiceExt::oneshot(off.router(), preflight("http://app.example"))
        .await
        .unwrap();
    assert_eq!(header(&answer, header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
}
