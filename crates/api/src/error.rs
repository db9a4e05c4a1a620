//! Every error the API answers, and its one mapping to an RFC 7807 problem.
//!
//! Each failure has a [`ProblemKind`]: a stable slug (the `type` is
//! `urn:p2pdex:problem:<slug>`), a status and a title. [`PROBLEM_KINDS`] lists them all (the
//! OpenAPI document and the tests read it); [`ApiError`] says which one applies and the
//! `detail` with the values that matter.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use dex_primitives::OrderId;
use tracing::warn;

use crate::types::{PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_PREFIX, Problem};

/// One kind of error: what clients branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemKind {
    /// The stable name; the problem `type` is `urn:p2pdex:problem:<slug>`.
    pub slug: &'static str,
    /// The HTTP status it is answered with.
    pub status: u16,
    /// The summary, the same for every occurrence.
    pub title: &'static str,
}

macro_rules! kinds {
    ($($name:ident = ($slug:literal, $status:literal, $title:literal);)*) => {
        /// The problem kinds, by name.
        #[allow(missing_docs)]
        pub mod kind {
            use super::ProblemKind;
            $(pub const $name: ProblemKind = ProblemKind { slug: $slug, status: $status, title: $title };)*
        }
        /// Every problem kind the API answers with.
        pub const PROBLEM_KINDS: &[ProblemKind] = &[$(kind::$name),*];
    };
}

kinds! {
    // Request shape.
    MALFORMED_JSON = ("malformed-json", 400, "The body is not valid JSON");
    UNKNOWN_FIELD = ("unknown-field", 422, "The body has a field this endpoint does not know");
    MISSING_FIELD = ("missing-field", 422, "The body lacks a required field");
    INVALID_FIELD = ("invalid-field", 422, "A field of the body has the wrong type or form");
    UNSUPPORTED_MEDIA_TYPE = ("unsupported-media-type", 415, "The body must be application/json");
    BODY_TOO_LARGE = ("body-too-large", 413, "The body exceeds the size limit");
    INVALID_QUERY = ("invalid-query", 400, "A query parameter is invalid");
    INVALID_ORDER_ID = ("invalid-order-id", 400, "The order id is not 32 bytes of 0x hex");
    ORDER_ID_MISMATCH = ("order-id-mismatch", 422, "The orderId given is not the order's id");
    NOT_FOUND = ("not-found", 404, "No such endpoint");
    METHOD_NOT_ALLOWED = ("method-not-allowed", 405, "The endpoint does not take this method");
    WEBSOCKET_REQUIRED = ("websocket-required", 426, "This endpoint needs a WebSocket upgrade");
    UNKNOWN_CHANNEL = ("unknown-channel", 400, "No such stream channel on this node");
    SUBSCRIPTION_REFUSED = ("subscription-refused", 409, "The subscription cannot be made");
    // Auth.
    MISSING_TOKEN = ("missing-token", 401, "This endpoint needs the API token");
    INVALID_TOKEN = ("invalid-token", 401, "The API token is wrong");
    FORBIDDEN_HOST = ("forbidden-host", 403, "The request names a host this API does not answer to");
    FORBIDDEN_ORIGIN = ("forbidden-origin", 403, "WebSocket connections from this page's origin are refused");
    // Decimal values at the edge.
    INVALID_DECIMAL = ("invalid-decimal", 422, "The value is not a decimal number");
    TOO_MANY_DIGITS = ("too-many-digits", 422, "The value has more digits than can be represented exactly");
    NEGATIVE_VALUE = ("negative-value", 422, "The value must not be negative");
    ZERO_VALUE = ("zero-value", 422, "The value must be greater than zero");
    OFF_TICK = ("off-tick", 422, "The price is not a multiple of the market's tick");
    OFF_LOT = ("off-lot", 422, "The quantity is not a multiple of the market's lot");
    OUT_OF_RANGE = ("out-of-range", 422, "The value is too large");
    AMOUNT_OVERFLOW = ("amount-overflow", 422, "The order's amounts overflow 256 bits");
    // Markets and orders.
    UNKNOWN_MARKET = ("unknown-market", 404, "The market is not configured on this node");
    UNKNOWN_ORDER = ("unknown-order", 404, "The order is not open on this node");
    INVALID_CLIENT_ORDER_ID = ("invalid-client-order-id", 422, "The client order id is not 1 to 64 characters of A-Z a-z 0-9 . _ - :");
    DUPLICATE_CLIENT_ORDER_ID = ("duplicate-client-order-id", 409, "The client order id already names an order placed with other fields");
    UNKNOWN_CLIENT_ORDER_ID = ("unknown-client-order-id", 404, "No order of this node has this client order id");
    INVALID_SIGNATURE = ("invalid-signature", 422, "The signature is malformed or not low-s");
    SIGNER_MISMATCH = ("signer-mismatch", 422, "The order is not signed by its maker (tampered or signed by another key)");
    MAKER_NOT_HELD = ("maker-not-held", 403, "This node holds no key for the order's maker");
    WRONG_PEER = ("wrong-peer", 422, "The order names another node's peer id");
    INVALID_PEER = ("invalid-peer", 422, "The order's peer is not a base58 peer id");
    INVALID_SIDE = ("invalid-side", 422, "The side is neither buy (0) nor sell (1)");
    ZERO_QUANTITY = ("zero-quantity", 422, "The order quantity is zero");
    ZERO_PRICE = ("zero-price", 422, "The order price is zero");
    ZERO_MIN_FILL = ("zero-min-fill", 422, "The order's minFill is zero");
    MIN_FILL_ABOVE_QUANTITY = ("min-fill-above-quantity", 422, "The order's minFill exceeds its quantity");
    CREATED_IN_FUTURE = ("created-in-future", 422, "The order's createdAt is too far in the future");
    ORDER_EXPIRED = ("order-expired", 422, "The order has expired");
    EXPIRES_BEFORE_CREATED = ("expires-before-created", 422, "The order's expiresAt is not after its createdAt");
    LIFETIME_TOO_LONG = ("lifetime-too-long", 422, "The order lives longer than this node allows");
    INVALID_ORDER = ("invalid-order", 422, "The order breaks a trading rule");
    DUPLICATE_ORDER = ("duplicate-order", 409, "The order is already known");
    ORDER_CLOSED = ("order-closed", 409, "The order is already cancelled, filled or dropped");
    MAKER_ORDER_CAP = ("maker-order-cap", 409, "The maker has too many open orders in this market");
    BOOK_FULL = ("book-full", 409, "The book is full and the order is the furthest from the mid");
    BOOK_REFUSED = ("book-refused", 409, "The book refused the change");
    // Trading.
    SETTLEMENT_OFF = ("settlement-off", 409, "This node does not trade: no chains are configured");
    NO_TRADER_KEY = ("no-trader-key", 409, "This node holds no trader key");
    CHAIN_NOT_CONFIGURED = ("chain-not-configured", 409, "A chain of the market is not configured on this node");
    CHAIN_UNAVAILABLE = ("chain-unavailable", 503, "A chain of the market does not answer; trading on it is refused until it does");
    UNKNOWN_SWAP = ("unknown-swap", 404, "No such swap on this node");
    INVALID_SWAP_ID = ("invalid-swap-id", 400, "The swap id is not 32 bytes of 0x hex");
    STORE_UNAVAILABLE = ("store-unavailable", 503, "The node's database refused a write");
    INSUFFICIENT_BALANCE = ("insufficient-balance", 422, "The order would lock more than the free balance");
    INSUFFICIENT_GAS = ("insufficient-gas", 422, "Not enough native coin to pay for the swap's transactions");
    BALANCE_UNKNOWN = ("balance-unknown", 503, "The balance the order needs has not been read from its chain yet");
    // The node.
    NODE_UNAVAILABLE = ("node-unavailable", 503, "The node is not running");
    TIMEOUT = ("timeout", 503, "The request took too long");
    INTERNAL = ("internal", 500, "Internal error");
}

/// Everything a request can fail at. Answered as `application/problem+json`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The body is not JSON.
    #[error("{detail}")]
    MalformedJson {
        /// What the parser said, with line and column.
        detail: String,
    },
    /// JSON of the wrong shape: unknown, missing or mistyped field.
    #[error("{detail}")]
    Body {
        /// Which of [`kind::UNKNOWN_FIELD`], [`kind::MISSING_FIELD`], [`kind::INVALID_FIELD`].
        kind: ProblemKind,
        /// The path of the field at fault (`order.side`), when known.
        field: Option<String>,
        /// What the parser said.
        detail: String,
    },
    /// No `Content-Type: application/json`.
    #[error("the body must be sent with Content-Type: application/json (got {got})")]
    UnsupportedMediaType {
        /// The content type given, or `none`.
        got: String,
    },
    /// The body is larger than the limit.
    #[error("the body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A query parameter is invalid.
    #[error("{detail}")]
    InvalidQuery {
        /// What is wrong.
        detail: String,
    },
    /// A path swap id is not a swap id.
    #[error("{id:?} is not a swap id (0x and 64 hex digits)")]
    InvalidSwapId {
        /// As given (truncated).
        id: String,
    },
    /// A path order id is not an order id.
    #[error("{id:?} is not an order id (0x and 64 hex digits)")]
    InvalidOrderId {
        /// As given (truncated).
        id: String,
    },
    /// A client order id of the wrong form.
    #[error("clientOrderId {id:?} must be 1 to 64 characters of A-Z a-z 0-9 . _ - :")]
    InvalidClientOrderId {
        /// As given (truncated).
        id: String,
    },
    /// The `orderId` sent along a signed order is not its id.
    #[error("orderId {claimed} does not match the order, whose id is {actual}")]
    OrderIdMismatch {
        /// The id sent.
        claimed: OrderId,
        /// The order's id.
        actual: OrderId,
    },
    /// A value or order failed a rule of `dex-primitives`; `field` names where.
    #[error("{}{source}", field.as_ref().map(|field| format!("{field}: ")).unwrap_or_default())]
    Value {
        /// The field at fault, when it is one of the request's fields.
        field: Option<String>,
        /// The precise failure.
        #[source]
        source: Box<dex_primitives::Error>,
    },
    /// The node refused or failed.
    #[error(transparent)]
    Node(Box<dex_node::Error>),
    /// No `Authorization: Bearer` header on a protected endpoint.
    #[error("send the API token as 'Authorization: Bearer <token>'; it is in <data dir>/api.token")]
    MissingToken,
    /// The token does not match.
    #[error("the API token does not match <data dir>/api.token")]
    InvalidToken,
    /// The `Host` header names a host this API does not answer to.
    #[error(
        "this API does not answer to host '{host}'; add it to [api] hosts if clients reach \
         the node by that name"
    )]
    ForbiddenHost {
        /// The host asked for.
        host: String,
    },
    /// A WebSocket upgrade from a browser page of another origin.
    #[error(
        "WebSocket connections from pages of origin '{origin}' are refused; add it to \
         [api] cors_origins to allow it"
    )]
    ForbiddenOrigin {
        /// The page's origin.
        origin: String,
    },
    /// No route.
    #[error("no endpoint {method} {path}; see /v1/openapi.json")]
    NotFound {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// The route exists with other methods.
    #[error("{path} does not take {method}; see /v1/openapi.json")]
    MethodNotAllowed {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// A plain HTTP request to the WebSocket endpoint.
    #[error("connect with a WebSocket client (Upgrade: websocket): {detail}")]
    WebSocketRequired {
        /// What was wrong with the upgrade request.
        detail: String,
    },
    /// A stream channel that does not exist (or is not served by this node yet).
    #[error("unknown channel {channel:?}; this node serves {served}")]
    UnknownChannel {
        /// As given (truncated).
        channel: String,
        /// The channel forms served.
        served: &'static str,
    },
    /// Already subscribed, too many subscriptions, or not subscribed (unsubscribe).
    #[error("{detail}")]
    SubscriptionRefused {
        /// Why.
        detail: String,
    },
    /// The request ran out of time.
    #[error("the request did not complete within {millis} ms")]
    Timeout {
        /// The limit.
        millis: u128,
    },
    /// A bug or an unexpected failure.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A value error in a named request field.
    pub fn field(field: impl Into<String>, source: dex_primitives::Error) -> Self {
        ApiError::Value {
            field: Some(field.into()),
            source: Box::new(source),
        }
    }

    /// A value error not tied to a request field (a path segment, a channel name).
    pub fn value(source: dex_primitives::Error) -> Self {
        ApiError::Value {
            field: None,
            source: Box::new(source),
        }
    }

    /// Which kind of problem this is.
    pub fn kind(&self) -> ProblemKind {
        match self {
            ApiError::MalformedJson { .. } => kind::MALFORMED_JSON,
            ApiError::Body { kind, .. } => *kind,
            ApiError::UnsupportedMediaType { .. } => kind::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BodyTooLarge { .. } => kind::BODY_TOO_LARGE,
            ApiError::InvalidQuery { .. } => kind::INVALID_QUERY,
            ApiError::InvalidOrderId { .. } => kind::INVALID_ORDER_ID,
            ApiError::InvalidSwapId { .. } => kind::INVALID_SWAP_ID,
            ApiError::OrderIdMismatch { .. } => kind::ORDER_ID_MISMATCH,
            ApiError::InvalidClientOrderId { .. } => kind::INVALID_CLIENT_ORDER_ID,
            ApiError::Value { source, .. } => primitive_kind(source),
            ApiError::Node(err) => node_kind(err),
            ApiError::MissingToken => kind::MISSING_TOKEN,
            ApiError::InvalidToken => kind::INVALID_TOKEN,
            ApiError::ForbiddenHost { .. } => kind::FORBIDDEN_HOST,
            ApiError::ForbiddenOrigin { .. } => kind::FORBIDDEN_ORIGIN,
            ApiError::NotFound { .. } => kind::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => kind::METHOD_NOT_ALLOWED,
            ApiError::WebSocketRequired { .. } => kind::WEBSOCKET_REQUIRED,
            ApiError::UnknownChannel { .. } => kind::UNKNOWN_CHANNEL,
            ApiError::SubscriptionRefused { .. } => kind::SUBSCRIPTION_REFUSED,
            ApiError::Timeout { .. } => kind::TIMEOUT,
            ApiError::Internal(_) => kind::INTERNAL,
        }
    }

    /// The problem body.
    pub fn problem(&self) -> Problem {
        let kind = self.kind();
        let field = match self {
            ApiError::Body { field, .. } | ApiError::Value { field, .. } => field.clone(),
            _ => None,
        };
        Problem {
            problem_type: format!("{PROBLEM_TYPE_PREFIX}{}", kind.slug),
            title: kind.title.to_owned(),
            status: kind.status,
            detail: self.to_string(),
            instance: None,
            field,
        }
    }
}

impl From<dex_node::Error> for ApiError {
    fn from(err: dex_node::Error) -> Self {
        ApiError::Node(Box::new(err))
    }
}

/// The network handle's failures are the node's ([`dex_node::Error::Network`]).
impl From<dex_network::Error> for ApiError {
    fn from(err: dex_network::Error) -> Self {
        dex_node::Error::Network(err).into()
    }
}

/// The kind of a `dex-primitives` failure.
fn primitive_kind(error: &dex_primitives::Error) -> ProblemKind {
    use dex_primitives::Error as P;
    match error {
        P::InvalidDecimal { .. } => kind::INVALID_DECIMAL,
        P::TooManyDigits { .. } => kind::TOO_MANY_DIGITS,
        P::NegativeValue { .. } => kind::NEGATIVE_VALUE,
        P::ZeroValue { .. } => kind::ZERO_VALUE,
        P::OffGrid { what: "price", .. } => kind::OFF_TICK,
        P::OffGrid { .. } => kind::OFF_LOT,
        P::OutOfRange { .. } => kind::OUT_OF_RANGE,
        P::AmountOverflow { .. } => kind::AMOUNT_OVERFLOW,
        P::UnknownMarket { .. } => kind::UNKNOWN_MARKET,
        P::MalformedHex { .. } | P::WrongLength { .. } => kind::INVALID_FIELD,
        P::InvalidRecoveryId { .. } | P::HighS | P::InvalidSignature => kind::INVALID_SIGNATURE,
        P::SignerMismatch { .. } => kind::SIGNER_MISMATCH,
        P::InvalidSide { .. } => kind::INVALID_SIDE,
        P::ZeroQuantity => kind::ZERO_QUANTITY,
        P::ZeroPrice => kind::ZERO_PRICE,
        P::ZeroMinFill => kind::ZERO_MIN_FILL,
        P::MinFillAboveQuantity { .. } => kind::MIN_FILL_ABOVE_QUANTITY,
        P::CreatedInFuture { .. } => kind::CREATED_IN_FUTURE,
        P::Expired { .. } => kind::ORDER_EXPIRED,
        P::ExpiresBeforeCreated { .. } => kind::EXPIRES_BEFORE_CREATED,
        P::LifetimeTooLong { .. } => kind::LIFETIME_TOO_LONG,
        P::InvalidPeer { .. } => kind::INVALID_PEER,
        P::Randomness { .. } => kind::INTERNAL,
        _ => kind::INVALID_ORDER,
    }
}

/// The kind of a node failure.
fn node_kind(error: &dex_node::Error) -> ProblemKind {
    use dex_node::Error as N;
    match error {
        N::Stopped => kind::NODE_UNAVAILABLE,
        N::Protocol(err) => protocol_kind(err),
        N::Book(err) => book_kind(err),
        N::UnknownMarket { .. } => kind::UNKNOWN_MARKET,
        N::NotOurMaker { .. } => kind::MAKER_NOT_HELD,
        N::WrongPeer { .. } => kind::WRONG_PEER,
        N::UnknownOrder { .. } => kind::UNKNOWN_ORDER,
        N::DuplicateClientOrderId { .. } => kind::DUPLICATE_CLIENT_ORDER_ID,
        N::UnknownClientOrderId { .. } => kind::UNKNOWN_CLIENT_ORDER_ID,
        N::SettlementOff => kind::SETTLEMENT_OFF,
        N::NoTraderKey => kind::NO_TRADER_KEY,
        N::ChainNotConfigured { .. } => kind::CHAIN_NOT_CONFIGURED,
        N::ChainUnavailable { .. } => kind::CHAIN_UNAVAILABLE,
        N::OrderNotOpen { .. } => kind::ORDER_CLOSED,
        N::UnknownSwap { .. } => kind::UNKNOWN_SWAP,
        N::StoreUnavailable => kind::STORE_UNAVAILABLE,
        N::InsufficientBalance { .. } => kind::INSUFFICIENT_BALANCE,
        N::InsufficientGas { .. } => kind::INSUFFICIENT_GAS,
        N::BalanceUnknown { .. } => kind::BALANCE_UNKNOWN,
        _ => kind::INTERNAL,
    }
}

fn protocol_kind(error: &dex_protocol::Error) -> ProblemKind {
    use dex_protocol::Error as E;
    match error {
        E::Invalid { source, .. } => primitive_kind(source),
        E::DuplicateOrder { .. } => kind::DUPLICATE_ORDER,
        E::UnknownOrder { .. } => kind::UNKNOWN_ORDER,
        E::UnknownMarket { .. } => kind::UNKNOWN_MARKET,
        E::StaleUpdate { .. } => kind::BOOK_REFUSED,
        _ => kind::INTERNAL,
    }
}

fn book_kind(error: &dex_book::Error) -> ProblemKind {
    use dex_book::Error as B;
    match error {
        B::AlreadyOpen { .. } => kind::DUPLICATE_ORDER,
        B::Closed { .. } => kind::ORDER_CLOSED,
        B::UnknownOrder { .. } => kind::UNKNOWN_ORDER,
        B::Expired { .. } => kind::ORDER_EXPIRED,
        B::MakerCapReached { .. } => kind::MAKER_ORDER_CAP,
        B::BookFull { .. } => kind::BOOK_FULL,
        _ => kind::BOOK_REFUSED,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        if problem.status >= 500 {
            warn!(kind = problem.slug(), detail = %problem.detail, "request failed");
        }
        problem_response(&problem)
    }
}

/// A problem as an HTTP response.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"p2pdex\""),
        );
    }
    response
}
