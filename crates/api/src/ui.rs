//! The trading page (DESIGN §9): a single page served at `/` from files compiled into the
//! binary (`crates/api/ui/`), with nothing fetched from anywhere else. The page is public
//! (it holds no data); what it shows of the node's own orders, swaps and balances needs the
//! token, which the page keeps in the browser and sends only in headers and in the
//! WebSocket's `auth` message.
//!
//! Every answer carries a content security policy that allows the page's own files and
//! requests to this node only (no inline script, no other origin, no framing), so that
//! even a mistake in the page cannot send the token elsewhere.

use axum::{
    extract::{Path, Request},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::error::ApiError;

/// A file of the page.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    body: include_str!("../ui/index.html"),
};

/// The files under `/ui/`.
const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../ui/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../ui/app.css"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../ui/favicon.svg"),
    },
];

/// `GET /`: the page.
pub(crate) async fn index(request: Request) -> Response {
    serve(&INDEX, request.headers())
}

/// `GET /ui/{file}`: its script, style sheet and icon.
pub(crate) async fn asset(Path(name): Path<String>, request: Request) -> Response {
    match ASSETS.iter().find(|asset| asset.name == name) {
        Some(asset) => serve(asset, request.headers()),
        None => ApiError::NotFound {
            method: "GET".into(),
            path: format!("/ui/{}", name.chars().take(100).collect::<String>()),
        }
        .into_response(),
    }
}

fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let etag = etag(asset.body);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|value| value.as_bytes() == etag.as_bytes());
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    // Checked again at every load (an ETag makes that a 304): a new node version serves
    // its own page at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Only this node: its files, its API and its WebSocket (`'self'` covers `ws:` to the same
/// host and port); nothing inline, no frames, no forms posted elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// A strong validator of a file's bytes (FNV-1a, 64 bits: they only change with the
/// binary).
fn etag(body: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in body.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{hash:016x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_refers_only_to_its_own_files() {
        let html = INDEX.body;
        for asset in ASSETS {
            assert!(
                html.contains(&format!("/ui/{}", asset.name)),
                "index.html loads /ui/{}",
                asset.name
            );
        }
        for text in std::iter::once(INDEX.body).chain(ASSETS.iter().map(|asset| asset.body)) {
            for foreign in ["https://", "src=\"http", "href=\"http", "url(http", "//cdn"] {
                assert!(!text.contains(foreign), "no third-party address: {foreign}");
            }
            assert!(
                !text.contains("<script>"),
                "no inline script (the policy refuses it)"
            );
        }
    }

    #[test]
    fn etags_follow_the_bytes() {
        assert_eq!(etag("a"), etag("a"));
        assert_ne!(etag("a"), etag("b"));
        assert_eq!(etag("").len(), 18);
    }
}
