//! Extractors whose failures are [`ApiError`]s, so every bad request is a precise problem:
//! a JSON body (media type, size limit, syntax, unknown/missing/mistyped fields with the
//! field's path), query strings and path segments.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, Query, Request},
    http::{StatusCode, header, request::Parts},
};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::{
    ApiState,
    error::{ApiError, kind},
};

/// A JSON body, parsed strictly (types deny unknown fields) with precise problems.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<ApiState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        if !content_type.as_deref().is_some_and(is_json) {
            return Err(ApiError::UnsupportedMediaType {
                got: content_type
                    .map(|value| value.chars().take(100).collect())
                    .unwrap_or_else(|| "none".into()),
            });
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge {
                    limit: state.config().body_limit,
                }
            } else {
                ApiError::MalformedJson {
                    detail: format!("the body could not be read: {}", rejection.body_text()),
                }
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON document, naming the field at fault on failure.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        // A shape error in a document that is not JSON at all is a syntax error: checked
        // only on this path, so valid bodies are parsed once.
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return ApiError::MalformedJson {
                detail: format!("invalid JSON: {syntax}"),
            };
        }
        let path = err.path().to_string();
        let inner = err.into_inner();
        classify(&path, inner)
    })?;
    deserializer.end().map_err(|err| ApiError::MalformedJson {
        detail: format!("invalid JSON: {err}"),
    })?;
    Ok(value)
}

fn classify(path: &str, err: serde_json::Error) -> ApiError {
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::MalformedJson {
            detail: format!("invalid JSON: {err}"),
        },
        Category::Data => {
            let message = err.to_string();
            let base = (path != ".").then(|| path.to_owned());
            let named = backticked(&message);
            let join = |name: &str| match &base {
                Some(base) => format!("{base}.{name}"),
                None => name.to_owned(),
            };
            let (kind, field) = if message.starts_with("unknown field") {
                // The path already ends at the unknown key.
                (kind::UNKNOWN_FIELD, base.or(named.map(str::to_owned)))
            } else if message.starts_with("missing field") {
                (kind::MISSING_FIELD, named.map(join).or(base))
            } else {
                (kind::INVALID_FIELD, base)
            };
            let detail = match &field {
                Some(field) => format!("{field}: {message}"),
                None => message,
            };
            ApiError::Body {
                kind,
                field,
                detail,
            }
        }
    }
}

/// The first `` `name` `` in a serde message.
fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// A query string, with an [`ApiError::InvalidQuery`] on failure.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::InvalidQuery {
                detail: rejection.body_text(),
            })
    }
}

/// Path parameters, with an [`ApiError::InvalidQuery`] on failure (only bad percent-encoding
/// can fail for string segments).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection| ApiError::InvalidQuery {
                detail: rejection.body_text(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SignedOrderRequest;

    fn slug(bytes: &str) -> &'static str {
        parse_json::<SignedOrderRequest>(bytes.as_bytes())
            .map(|_| "ok")
            .unwrap_or_else(|err| err.kind().slug)
    }

    #[test]
    fn body_errors_are_classified() {
        assert_eq!(slug("{"), "malformed-json");
        assert_eq!(slug("{} x"), "malformed-json");
        assert_eq!(slug("{}"), "missing-field");
        assert_eq!(slug(r#"{"bogus":1}"#), "unknown-field");
        assert_eq!(slug(r#"{"order":1}"#), "invalid-field");
        let err = parse_json::<SignedOrderRequest>(br#"{"order":{"bogus":1}}"#).unwrap_err();
        assert_eq!(err.problem().field.as_deref(), Some("order.bogus"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/plain"));
    }
}
