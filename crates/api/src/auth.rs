//! Bearer-token auth: mutations and reads of own data need `Authorization: Bearer <token>`,
//! compared in constant time.

use axum::{
    extract::{Request, State},
    http::{HeaderMap, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use subtle::ConstantTimeEq;

use crate::{ApiState, error::ApiError};

/// Checks the request's bearer token against the configured one.
pub(crate) fn check(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::MissingToken);
    };
    let value = value.as_bytes();
    let scheme = b"bearer ";
    if value.len() < scheme.len() || !value[..scheme.len()].eq_ignore_ascii_case(scheme) {
        return Err(ApiError::MissingToken);
    }
    if token_matches(value[scheme.len()..].trim_ascii(), token) {
        Ok(())
    } else {
        Err(ApiError::InvalidToken)
    }
}

/// Whether `given` is the token. Lengths are not secret (every token has the same length);
/// the bytes are compared in constant time.
pub(crate) fn token_matches(given: &[u8], token: &str) -> bool {
    bool::from(given.ct_eq(token.as_bytes())) && !token.is_empty()
}

/// Middleware of every route: refuses a request whose `Host` the API does not answer to
/// (see [`crate::ApiConfig::allowed_hosts`]).
pub(crate) async fn require_host(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.to_string())
        });
    if state.config().host_allowed(host.as_deref()) {
        next.run(request).await
    } else {
        ApiError::ForbiddenHost {
            host: host.unwrap_or_default().chars().take(100).collect(),
        }
        .into_response()
    }
}

/// Middleware of the protected routes.
pub(crate) async fn require_token(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    match check(request.headers(), &state.config().token) {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn tokens_are_checked() {
        assert!(check(&headers("Bearer secret"), "secret").is_ok());
        assert!(check(&headers("bearer secret"), "secret").is_ok());
        assert!(matches!(
            check(&headers("Bearer secreT"), "secret"),
            Err(ApiError::InvalidToken)
        ));
        assert!(matches!(
            check(&headers("Bearer secret2"), "secret"),
            Err(ApiError::InvalidToken)
        ));
        assert!(matches!(
            check(&headers("Basic c2VjcmV0"), "secret"),
            Err(ApiError::MissingToken)
        ));
        assert!(matches!(
            check(&HeaderMap::new(), "secret"),
            Err(ApiError::MissingToken)
        ));
        assert!(matches!(
            check(&headers("Bearer "), ""),
            Err(ApiError::InvalidToken)
        ));
    }
}
