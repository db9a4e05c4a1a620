//! The API's bounds: body size and book depth, each its own problem, configurable.

use crate::support::{Api, get, post};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_refused_before_it_is_read() {
    let api = Api::start_with(|config| config.body_limit = 1024).await;
    let padded = |size: usize| format!("{{\"pad\":\"{}\"}}", "x".repeat(size));
    let over = api.send(post("/v1/orders/signed", &padded(2000))).await;
    assert_eq!(
        (over.status, over.problem().slug()),
        (413, "body-too-large"),
        "{}",
        over.text
    );
    // Under the limit the same body is read, and refused for what it says.
    let under = api.send(post("/v1/orders/signed", &padded(900))).await;
    assert_eq!(under.status, 422, "{}", under.text);
    assert_eq!(under.problem().slug(), "unknown-field");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_book_deeper_than_the_limit_is_an_invalid_query() {
    let api = Api::start_with(|config| config.max_book_depth = 5).await;
    let at = api.send(get("/v1/markets/ETH%2FUSDC/book?depth=5")).await;
    assert_eq!(at.status, 200, "{}", at.text);
    let over = api.send(get("/v1/markets/ETH%2FUSDC/book?depth=6")).await;
    assert_eq!(
        (over.status, over.problem().slug()),
        (400, "invalid-query"),
        "{}",
        over.text
    );
    assert!(over.problem().detail.contains('5'), "{}", over.text);
}
