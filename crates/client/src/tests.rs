//! Discovery, URLs and answers against a one-shot loopback server that records what it was
//! sent (the crates that run real nodes exercise the client against dexd).

use std::{
    io::{BufRead, BufReader, Write},
    net::TcpListener,
    path::Path,
    sync::mpsc,
    thread,
};

use super::*;

/// A server that answers one request with `status`, `content_type` and `body`; the
/// receiver yields the request's head (request line and headers).
fn serve_once(status: &str, content_type: &str, body: &str) -> (Client, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let (stream, _) = listener.accept().expect("a connection");
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("a request line") == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        reader
            .get_mut()
            .write_all(response.as_bytes())
            .expect("the answer is written");
        let _ = sender.send(head);
    });
    (Client::new(url, Some("secret-token".into())), receiver)
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("a data-dir file");
}

#[test]
fn the_url_comes_from_the_argument_then_the_data_dir_then_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    write(dir.path(), "api.url", "http://127.0.0.1:4242/\n");
    let given = Client::discover(Some("http://10.0.0.1:1"), None, Some(dir.path())).unwrap();
    assert_eq!(given.base_url(), "http://10.0.0.1:1");
    let from_dir = Client::discover(None, None, Some(dir.path())).unwrap();
    assert_eq!(from_dir.base_url(), "http://127.0.0.1:4242");
    let default = Client::discover(None, None, Some(empty.path())).unwrap();
    assert_eq!(default.base_url(), DEFAULT_URL);
    let nowhere = Client::discover(None, None, None).unwrap();
    assert_eq!(nowhere.base_url(), DEFAULT_URL);
}

#[test]
fn the_token_comes_from_the_argument_then_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    write(dir.path(), "api.token", "from-file\n");
    let given = Client::discover(None, Some("given"), Some(dir.path())).unwrap();
    assert_eq!(given.token(), Some("given"));
    let from_dir = Client::discover(None, None, Some(dir.path())).unwrap();
    assert_eq!(from_dir.token(), Some("from-file"));
    assert_eq!(
        Client::discover(None, None, Some(empty.path()))
            .unwrap()
            .token(),
        None
    );
    assert_eq!(read_token(empty.path()).unwrap(), None);
    assert_eq!(read_url(dir.path()).unwrap(), None);
}

#[test]
fn an_unreadable_data_dir_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the token file should be: it exists, but cannot be read as one.
    std::fs::create_dir(dir.path().join("api.token")).unwrap();
    let err = Client::discover(None, None, Some(dir.path())).unwrap_err();
    match &err {
        ClientError::DataDir { path, .. } => assert_eq!(path, &dir.path().join("api.token")),
        other => panic!("not a data-dir error: {other:?}"),
    }
    assert!(err.to_string().starts_with("cannot read "), "{err}");
}

#[test]
fn debug_never_shows_the_token() {
    let client = Client::new("http://127.0.0.1:1/", Some("hunter2-secret".into()));
    let shown = format!(
        "{client:?} {:?}",
        client.clone().with_timeout(DEFAULT_TIMEOUT)
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(shown.contains("http://127.0.0.1:1"), "{shown}");
    assert_eq!(client.base_url(), "http://127.0.0.1:1");
    assert!(!format!("{:?}", client.without_token()).contains("redacted"));
}

#[test]
fn market_names_are_percent_encoded_in_paths_and_queries() {
    let (client, head) = serve_once("404 Not Found", "application/problem+json", "{}");
    let _ = client.book("ETH/USDC", 7);
    let head = head.recv().unwrap();
    assert!(
        head.starts_with("GET /v1/markets/ETH%2FUSDC/book?depth=7 HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head.contains("Bearer secret-token"), "{head}");

    let (client, head) = serve_once("200 OK", "application/json", r#"{"orders":[],"cursor":0}"#);
    let orders = client.orders(Some("ETH/USDC"), Some("open")).unwrap();
    assert!(orders.orders.is_empty());
    let head = head.recv().unwrap();
    assert!(
        head.starts_with("GET /v1/orders?market=ETH%2FUSDC&status=open HTTP/1.1\r\n"),
        "{head}"
    );
    let (client, head) = serve_once("200 OK", "application/json", r#"{"orders":[],"cursor":7}"#);
    let page = client
        .orders_page(Some("ETH/USDC"), None, Some(7), Some(1000))
        .unwrap();
    assert_eq!(page.cursor, 7);
    let head = head.recv().unwrap();
    assert!(
        head.starts_with("GET /v1/orders?market=ETH%2FUSDC&after=7&limit=1000 HTTP/1.1\r\n"),
        "{head}"
    );

    let (client, head) = serve_once("200 OK", "application/json", r#"{"cancelled":[]}"#);
    client.cancel_all(Some("WBTC/USDC")).unwrap();
    let head = head.recv().unwrap();
    assert!(
        head.starts_with("DELETE /v1/orders?market=WBTC%2FUSDC HTTP/1.1\r\n"),
        "{head}"
    );

    let (client, head) = serve_once(
        "200 OK",
        "application/json",
        r#"{"symbol":"ETH/USDC","trades":[]}"#,
    );
    client.trades("ETH/USDC", Some(5)).unwrap();
    let head = head.recv().unwrap();
    assert!(
        head.starts_with("GET /v1/markets/ETH%2FUSDC/trades?limit=5 HTTP/1.1\r\n"),
        "{head}"
    );
}

#[test]
fn a_problem_answer_is_the_typed_error() {
    let body = r#"{"type":"urn:p2pdex:problem:unknown-order","title":"Unknown order","status":404,"detail":"no own order 0x12","instance":"/v1/orders/0x12"}"#;
    let (client, _head) = serve_once("404 Not Found", "application/problem+json", body);
    let err = client.cancel_order("0x12").unwrap_err();
    assert_eq!(err.slug(), Some("unknown-order"));
    let problem = err.problem().expect("a problem");
    assert_eq!(problem.status, 404);
    assert_eq!(problem.instance.as_deref(), Some("/v1/orders/0x12"));
    assert_eq!(
        err.to_string(),
        "Unknown order: no own order 0x12 (unknown-order, HTTP 404)"
    );
    assert!(!err.is_unreachable());
}

#[test]
fn an_error_that_is_not_a_problem_is_readable() {
    let (client, _head) = serve_once("502 Bad Gateway", "text/html", "<h1>upstream down</h1>");
    let err = client.info().unwrap_err();
    match &err {
        ClientError::Http { status, body } => {
            assert_eq!(*status, 502);
            assert_eq!(body, "<h1>upstream down</h1>");
        }
        other => panic!("not an HTTP error: {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "HTTP 502 Bad Gateway: <h1>upstream down</h1>"
    );
    assert_eq!(err.slug(), None);
}

#[test]
fn a_success_that_is_not_the_expected_json_names_the_route() {
    let (client, _head) = serve_once("200 OK", "application/json", r#"{"status":7}"#);
    let err = client.health().unwrap_err();
    assert!(
        matches!(err, ClientError::UnexpectedAnswer { status: 200, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("unexpected answer to GET /v1/health (HTTP 200): "),
        "{err}"
    );
}

#[test]
fn routes_that_need_the_token_are_not_called_without_one() {
    let client = Client::new("http://127.0.0.1:1", None);
    let err = client.balances().unwrap_err();
    assert!(
        matches!(&err, ClientError::MissingToken { route } if route == "GET /v1/balances"),
        "{err:?}"
    );
    assert!(client.page_link().is_err());
    let with = Client::new("http://127.0.0.1:7780", Some("a b".into()));
    assert_eq!(
        with.page_link().unwrap(),
        "http://127.0.0.1:7780/#token=a%20b"
    );
}

#[test]
fn a_node_that_does_not_listen_is_unreachable_with_a_hint() {
    // A port that was free a moment ago: nothing listens there now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(format!("http://127.0.0.1:{port}"), None);
    let err = client.health().unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot reach the node at http://127.0.0.1:{port}: "
        )),
        "{text}"
    );
    assert!(
        text.ends_with("(is dexd running? see --url and --data-dir)"),
        "{text}"
    );
}

#[test]
fn raw_requests_are_sent_as_given_and_answered_uninterpreted() {
    let (client, head) = serve_once(
        "415 Unsupported Media Type",
        "application/problem+json",
        r#"{"type":"urn:p2pdex:problem:unsupported-media-type","title":"t","status":415,"detail":"d"}"#,
    );
    let answer = client
        .send_raw(
            &RawRequest::post("/v1/orders", "{}")
                .header("Content-Type", "text/plain")
                .header("Authorization", "Bearer wrong"),
        )
        .unwrap();
    assert_eq!(answer.status, 415);
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(
        answer.problem().map(|problem| problem.slug().to_owned()),
        Some("unsupported-media-type".to_owned())
    );
    let head = head.recv().unwrap();
    assert!(head.starts_with("POST /v1/orders HTTP/1.1\r\n"), "{head}");
    let lower = head.to_lowercase();
    assert!(lower.contains("content-type: text/plain"), "{head}");
    assert!(lower.contains("authorization: bearer wrong"), "{head}");
    assert!(!head.contains("secret-token"), "{head}");
}
