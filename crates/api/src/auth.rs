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

/// Why a request whose `Host` the API does not answer to is refused (see
/// [`crate::ApiConfig::allowed_hosts`]); `None` when it answers to it. Checked first by
/// [`crate::metrics::observe`], the middleware of every route.
pub(crate) fn refused_host(request: &Request, config: &crate::ApiConfig) -> Option<ApiError> {
    let header = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    // A request in absolute form may name its host only in its URI (rare: read on demand).
    let authority = || {
        request
            .uri()
            .authority()
            .map(|authority| authority.as_str())
    };
    let host = header.or_else(authority);
    if config.host_allowed(host) {
        return None;
    }
    Some(ApiError::ForbiddenHost {
        host: host.unwrap_or_default().chars().take(100).collect(),
    })
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
