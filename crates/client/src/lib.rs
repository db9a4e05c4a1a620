//! The typed client of a p2pdex node's `/v1` API (DESIGN §9), shared by dexctl, dex-mm, the
//! devnet and the tests: where the node is and its token ([`Client::discover`]), one method
//! per route returning the route's [`dex_api::types`], every refusal as a
//! [`ClientError::Problem`] whose slug callers can branch on, and the WebSocket stream
//! ([`Client::ws`]).
//!
//! Blocking and plain HTTP (no TLS: the API is local; put a TLS proxy in front for remote
//! use). One [`Client`] keeps its connections alive between calls; it is cheap to clone
//! and may be shared between threads.
//!
//! Tests of the API itself send what they like through [`Client::send_raw`], which only
//! joins the path to the base URL and reports the status, content type and body.

mod discover;
mod error;
mod ws;

use std::{fmt, path::Path, time::Duration};

use dex_api::types::{
    Balances, Book, Counterparties, Fills, Health, Info, Markets, OrderAccepted, OrderCancelled,
    OrdersCancelled, OwnOrderDetail, OwnOrderView, OwnOrders, Peers, PlaceOrderRequest, Problem,
    SignedOrderRequest, SwapDetail, Swaps, Trades, percent_encode,
};
use serde::{Serialize, de::DeserializeOwned};

pub use discover::{DEFAULT_URL, read_token, read_url};
pub use error::ClientError;
pub use ws::WsClient;

/// Longest one call may take, unless [`Client::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Most characters of an unexpected body kept in an error.
const BODY_EXCERPT: usize = 500;

/// Most own orders or swaps the node answers in one page.
pub const PAGE: u32 = 1_000;

/// A node's API. `Debug` shows the URL, never the token.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    timeout: Duration,
    agent: ureq::Agent,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Whether a route needs the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Public; the token is sent anyway when the client has one (some answers show more
    /// with it, `GET /v1/peers`).
    Optional,
    /// Refused without it: the client does not even ask.
    Required,
}

impl Client {
    /// A client of the API at `base_url` (`http://127.0.0.1:7780`; a trailing `/` is
    /// ignored), with the bearer `token` if given.
    pub fn new(base_url: impl Into<String>, token: Option<String>) -> Client {
        Client {
            base: base_url.into().trim_end_matches('/').to_owned(),
            token,
            timeout: DEFAULT_TIMEOUT,
            agent: agent(DEFAULT_TIMEOUT),
        }
    }

    /// The client a command line asks for: the URL from `url`, else `<data_dir>/api.url`,
    /// else [`DEFAULT_URL`]; the token from `token`, else `<data_dir>/api.token`, else
    /// none (public routes only). Fails only when a data-dir file exists but cannot be read.
    pub fn discover(
        url: Option<&str>,
        token: Option<&str>,
        data_dir: Option<&Path>,
    ) -> Result<Client, ClientError> {
        let base = discover::url(url, data_dir)?;
        let token = discover::token(token, data_dir)?;
        Ok(Client::new(base, token))
    }

    /// The same client with calls limited to `timeout` each (default
    /// [`DEFAULT_TIMEOUT`]).
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self.agent = agent(timeout);
        self
    }

    /// The same node without the token: what an anonymous caller gets.
    pub fn without_token(&self) -> Client {
        Client {
            token: None,
            ..self.clone()
        }
    }

    /// The API's base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The bearer token, if the client has one. Keep it out of logs.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref().filter(|token| !token.is_empty())
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The node's trading page with the token in the URL fragment (`#token=…`), which
    /// browsers keep to themselves: the page takes it and drops it from the address bar.
    pub fn page_link(&self) -> Result<String, ClientError> {
        let token = self.token().ok_or_else(|| ClientError::MissingToken {
            route: "the trading page".into(),
        })?;
        Ok(format!("{}/#token={}", self.base, percent_encode(token)))
    }

    /// `GET /v1/health`: the API is up.
    pub fn health(&self) -> Result<Health, ClientError> {
        self.get("/v1/health", Auth::Optional)
    }

    /// `GET /v1/info`: who the node is.
    pub fn info(&self) -> Result<Info, ClientError> {
        self.get("/v1/info", Auth::Optional)
    }

    /// `GET /v1/markets`: the node's markets.
    pub fn markets(&self) -> Result<Markets, ClientError> {
        self.get("/v1/markets", Auth::Optional)
    }

    /// `GET /v1/markets/{market}/book?depth=`: the best `depth` levels of each side of
    /// `market` (symbol `ETH/USDC` or id).
    pub fn book(&self, market: &str, depth: usize) -> Result<Book, ClientError> {
        let path = format!("/v1/markets/{}/book?depth={depth}", percent_encode(market));
        self.get(&path, Auth::Optional)
    }

    /// `GET /v1/peers`: connected peers (with the token, with this node's record of each).
    pub fn peers(&self) -> Result<Peers, ClientError> {
        self.get("/v1/peers", Auth::Optional)
    }

    /// `POST /v1/orders`: places an order the node signs with its trader key.
    pub fn place_order(&self, request: &PlaceOrderRequest) -> Result<OwnOrderView, ClientError> {
        self.post("/v1/orders", &json_body(request))
    }

    /// `POST /v1/orders/signed`: an order signed elsewhere by a trader key the node holds.
    pub fn post_signed_order(
        &self,
        request: &SignedOrderRequest,
    ) -> Result<OrderAccepted, ClientError> {
        self.post_signed_order_json(&json_body(request))
    }

    /// `POST /v1/orders/signed` with a body as given (a file of `dexctl order sign`): the
    /// node, not the client, judges it.
    pub fn post_signed_order_json(&self, body: &str) -> Result<OrderAccepted, ClientError> {
        self.post("/v1/orders/signed", body)
    }

    /// `GET /v1/orders?market=&status=`: the 100 most recently placed own orders, of
    /// `market` and in `status` (`open`, `filled`, `cancelled`, `expired`) when given.
    pub fn orders(
        &self,
        market: Option<&str>,
        status: Option<&str>,
    ) -> Result<OwnOrders, ClientError> {
        self.orders_page(market, status, None, None)
    }

    /// `GET /v1/orders?market=&status=&after=&limit=`: with `after` (the `cursor` of an
    /// earlier answer), the own orders placed since, oldest first; without, the most
    /// recently placed first. At most `limit` (1 to 1,000; the node's default is 100).
    pub fn orders_page(
        &self,
        market: Option<&str>,
        status: Option<&str>,
        after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<OwnOrders, ClientError> {
        let (after, limit) = (
            after.map(|after| after.to_string()),
            limit.map(|limit| limit.to_string()),
        );
        let query = query(&[
            ("market", market),
            ("status", status),
            ("after", after.as_deref()),
            ("limit", limit.as_deref()),
        ]);
        self.get(&format!("/v1/orders{query}"), Auth::Required)
    }

    /// Every own order of `market` and `status` (when given), oldest first, read a page of
    /// 1,000 at a time.
    pub fn all_orders(
        &self,
        market: Option<&str>,
        status: Option<&str>,
    ) -> Result<Vec<OwnOrderView>, ClientError> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = self.orders_page(market, status, Some(after), Some(PAGE))?;
            let full = page.orders.len() == PAGE as usize;
            all.extend(page.orders);
            after = page.cursor;
            if !full {
                return Ok(all);
            }
        }
    }

    /// `GET /v1/orders/{id}`: one own order with its fills and swaps.
    pub fn order(&self, id: impl fmt::Display) -> Result<OwnOrderDetail, ClientError> {
        let path = format!("/v1/orders/{}", percent_encode(&id.to_string()));
        self.get(&path, Auth::Required)
    }

    /// `DELETE /v1/orders/{id}`: cancels one own order.
    pub fn cancel_order(&self, id: impl fmt::Display) -> Result<OrderCancelled, ClientError> {
        let path = format!("/v1/orders/{}", percent_encode(&id.to_string()));
        self.call("DELETE", &path, None, Auth::Required)
    }

    /// `DELETE /v1/orders?market=`: cancels every own open order (of `market` only, if
    /// given).
    pub fn cancel_all(&self, market: Option<&str>) -> Result<OrdersCancelled, ClientError> {
        let path = format!("/v1/orders{}", query(&[("market", market)]));
        self.call("DELETE", &path, None, Auth::Required)
    }

    /// `GET /v1/orders/by-client-id/{clientOrderId}`: the own order placed with this client
    /// order id, with its swaps.
    pub fn order_by_client_id(&self, client_order_id: &str) -> Result<OwnOrderDetail, ClientError> {
        let path = format!(
            "/v1/orders/by-client-id/{}",
            percent_encode(client_order_id)
        );
        self.get(&path, Auth::Required)
    }

    /// `DELETE /v1/orders/by-client-id/{clientOrderId}`: cancels the own order placed with
    /// this client order id.
    pub fn cancel_by_client_id(
        &self,
        client_order_id: &str,
    ) -> Result<OrderCancelled, ClientError> {
        let path = format!(
            "/v1/orders/by-client-id/{}",
            percent_encode(client_order_id)
        );
        self.call("DELETE", &path, None, Auth::Required)
    }

    /// `GET /v1/fills?market=&limit=`: fills of own orders (completed swaps), newest first.
    pub fn fills(&self, market: Option<&str>, limit: Option<u32>) -> Result<Fills, ClientError> {
        let limit = limit.map(|limit| limit.to_string());
        let path = format!(
            "/v1/fills{}",
            query(&[("market", market), ("limit", limit.as_deref())])
        );
        self.get(&path, Auth::Required)
    }

    /// `GET /v1/swaps`: this node's 100 most recently changed swaps, most recent first.
    pub fn swaps(&self) -> Result<Swaps, ClientError> {
        self.swaps_changed(None, None)
    }

    /// `GET /v1/swaps?changedAfter=&limit=`: with `changed_after` (the `cursor` of an
    /// earlier answer), the swaps that changed since, oldest change first; without, the most
    /// recently changed first. At most `limit` (1 to 1,000; the node's default is 100).
    pub fn swaps_changed(
        &self,
        changed_after: Option<u64>,
        limit: Option<u32>,
    ) -> Result<Swaps, ClientError> {
        let (after, limit) = (
            changed_after.map(|after| after.to_string()),
            limit.map(|limit| limit.to_string()),
        );
        let path = format!(
            "/v1/swaps{}",
            query(&[
                ("changedAfter", after.as_deref()),
                ("limit", limit.as_deref())
            ])
        );
        self.get(&path, Auth::Required)
    }

    /// `GET /v1/swaps/{id}`: one swap with its steps and history.
    pub fn swap(&self, id: impl fmt::Display) -> Result<SwapDetail, ClientError> {
        let path = format!("/v1/swaps/{}", percent_encode(&id.to_string()));
        self.get(&path, Auth::Required)
    }

    /// `GET /v1/balances`: per trader key and asset, on chain, locked, reserved and free.
    pub fn balances(&self) -> Result<Balances, ClientError> {
        self.get("/v1/balances", Auth::Required)
    }

    /// `GET /v1/counterparties`: how this node's swaps with each peer and trader ended.
    pub fn counterparties(&self) -> Result<Counterparties, ClientError> {
        self.get("/v1/counterparties", Auth::Required)
    }

    /// `GET /v1/markets/{market}/trades?limit=`: this node's recent trades of `market`,
    /// newest first (the node's default count without `limit`).
    pub fn trades(&self, market: &str, limit: Option<u32>) -> Result<Trades, ClientError> {
        let limit = limit.map(|limit| limit.to_string());
        let path = format!(
            "/v1/markets/{}/trades{}",
            percent_encode(market),
            query(&[("limit", limit.as_deref())])
        );
        self.get(&path, Auth::Required)
    }

    /// `GET /metrics`: the node's Prometheus text.
    pub fn metrics(&self) -> Result<String, ClientError> {
        let request = RawRequest::get("/metrics");
        let response = self.send_raw(&request)?;
        if (200..300).contains(&response.status) {
            Ok(response.body)
        } else {
            Err(refusal(response))
        }
    }

    /// `GET /v1/openapi.json`: the API's OpenAPI 3.1 document.
    pub fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        self.get("/v1/openapi.json", Auth::Optional)
    }

    /// Sends `request` as it is (nothing added but what it asks for) and returns the
    /// answer uninterpreted, whatever its status: for tests of the API itself (bad
    /// bodies, content types, tokens). Fails only when the node does not answer.
    pub fn send_raw(&self, request: &RawRequest) -> Result<RawResponse, ClientError> {
        let mut builder = ureq::http::Request::builder()
            .method(request.method.as_str())
            .uri(format!("{}{}", self.base, request.path));
        if request.authorized
            && let Some(token) = self.token()
        {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let unreachable = |reason: String| ClientError::Unreachable {
            url: self.base.clone(),
            reason,
        };
        let result = match &request.body {
            Some(body) => builder
                .body(body.clone())
                .map_err(|err| unreachable(format!("not a request: {err}")))
                .map(|built| self.agent.run(built)),
            None => builder
                .body(())
                .map_err(|err| unreachable(format!("not a request: {err}")))
                .map(|built| self.agent.run(built)),
        }?;
        let mut response = result.map_err(|err| unreachable(err.to_string()))?;
        let status = response.status().as_u16();
        let content_type = content_type(response.headers());
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|err| unreachable(format!("reading the answer: {err}")))?;
        Ok(RawResponse {
            status,
            content_type,
            body,
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str, auth: Auth) -> Result<T, ClientError> {
        self.call("GET", path, None, auth)
    }

    fn post<T: DeserializeOwned>(&self, path: &str, body: &str) -> Result<T, ClientError> {
        self.call("POST", path, Some(body), Auth::Required)
    }

    /// One call of a route whose answer is `T` as JSON.
    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        auth: Auth,
    ) -> Result<T, ClientError> {
        if auth == Auth::Required && self.token().is_none() {
            return Err(ClientError::MissingToken {
                route: format!("{method} {}", route_of(path)),
            });
        }
        let mut request = RawRequest::new(method, path).authorized();
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = self.send_raw(&request)?;
        if !(200..300).contains(&response.status) {
            return Err(refusal(response));
        }
        serde_json::from_str(&response.body).map_err(|err| ClientError::UnexpectedAnswer {
            request: format!("{method} {}", route_of(path)),
            status: response.status,
            reason: format!("{err}; body: {}", excerpt(&response.body)),
        })
    }

    /// The WebSocket (`/v1/ws`), authorised with the token on the upgrade when the client
    /// has one (then the `orders`, `swaps` and `trades:` channels may be subscribed).
    pub fn ws(&self) -> Result<WsClient, ClientError> {
        self.ws_with_headers(&[])
    }

    /// [`Client::ws`] with more headers on the upgrade request (`Origin`, for tests of the
    /// API's origin check). A refused upgrade is the node's problem.
    pub fn ws_with_headers(&self, headers: &[(&str, &str)]) -> Result<WsClient, ClientError> {
        let url = match self.base.strip_prefix("http://") {
            Some(rest) => format!("ws://{rest}/v1/ws"),
            None => format!("{}/v1/ws", self.base),
        };
        WsClient::connect(url, self.token(), headers, self.timeout)
    }
}

/// The agent every call goes through: error statuses are answers, not transport errors.
fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

/// A request body of the API's own types.
fn json_body(request: &impl Serialize) -> String {
    serde_json::to_string(request).expect("the API's request types serialise to JSON")
}

/// `?a=x&b=y` of the given parameters, values percent-encoded; empty without any.
/// The `Content-Type` of an answer (empty when there is none).
pub(crate) fn content_type(headers: &ureq::http::HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn query(parameters: &[(&str, Option<&str>)]) -> String {
    let pairs: Vec<String> = parameters
        .iter()
        .filter_map(|(name, value)| value.map(|value| format!("{name}={}", percent_encode(value))))
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// The path without its query, for messages.
fn route_of(path: &str) -> &str {
    path.split_once('?').map_or(path, |(route, _)| route)
}

fn excerpt(text: &str) -> String {
    text.chars().take(BODY_EXCERPT).collect()
}

/// The error an error status carries: the problem, or the start of whatever else it is.
fn refusal(response: RawResponse) -> ClientError {
    match parse_problem(&response) {
        Some(problem) => ClientError::Problem {
            problem: Box::new(problem),
        },
        None => ClientError::Http {
            status: response.status,
            body: excerpt(&response.body),
        },
    }
}

/// The problem in an answer, if its body is one (the content type is not required: a
/// proxy may have changed it, the body says what it is).
fn parse_problem(response: &RawResponse) -> Option<Problem> {
    serde_json::from_str(&response.body).ok()
}

/// A request sent as it is by [`Client::send_raw`].
#[derive(Debug, Clone)]
pub struct RawRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    authorized: bool,
}

impl RawRequest {
    /// `method path` (`path` starts with `/`, with its query if any, already encoded), no
    /// header, no body, no token.
    pub fn new(method: &str, path: &str) -> RawRequest {
        RawRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            authorized: false,
        }
    }

    /// `GET path`.
    pub fn get(path: &str) -> RawRequest {
        RawRequest::new("GET", path)
    }

    /// `POST path` with `body` (no content type unless [`RawRequest::header`] adds one).
    pub fn post(path: &str, body: &str) -> RawRequest {
        RawRequest::new("POST", path).body(body)
    }

    /// `DELETE path`.
    pub fn delete(path: &str) -> RawRequest {
        RawRequest::new("DELETE", path)
    }

    /// With the client's token as `Authorization: Bearer` (nothing if it has none).
    pub fn authorized(mut self) -> RawRequest {
        self.authorized = true;
        self
    }

    /// With one more header.
    pub fn header(mut self, name: &str, value: &str) -> RawRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// With `body`.
    pub fn body(mut self, body: &str) -> RawRequest {
        self.body = Some(body.to_owned());
        self
    }
}

/// The answer to a [`RawRequest`], uninterpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type` header; empty without one.
    pub content_type: String,
    /// The body as text.
    pub body: String,
}

impl RawResponse {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The problem in the body, if it is one.
    pub fn problem(&self) -> Option<Problem> {
        parse_problem(self)
    }
}

#[cfg(test)]
mod tests;
