//! The API's WebSocket (`/v1/ws`): subscribe to channels, read typed messages.

use std::{net::TcpStream, time::Duration};

use dex_api::types::{WsMessage, WsOp, WsRequest};
use tungstenite::{
    Message, WebSocket,
    client::IntoClientRequest,
    http::{HeaderName, HeaderValue},
    stream::MaybeTlsStream,
};

use crate::{ClientError, RawResponse, refusal};

/// A WebSocket of a node's API. Blocking; every read waits at most the read timeout (the
/// client's per-call timeout unless [`WsClient::set_read_timeout`] changes it).
///
/// `Debug` shows the URL only.
pub struct WsClient {
    url: String,
    token: Option<String>,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    read_timeout: Duration,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient")
            .field("url", &self.url)
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl WsClient {
    pub(crate) fn connect(
        url: String,
        token: Option<&str>,
        headers: &[(&str, &str)],
        read_timeout: Duration,
    ) -> Result<WsClient, ClientError> {
        let failed = |reason: String| ClientError::WebSocket {
            url: url.clone(),
            reason,
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|err| failed(err.to_string()))?;
        let mut add = |name: &str, value: &str| -> Result<(), ClientError> {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|err| failed(format!("header {name}: {err}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|err| failed(format!("header {name}: {err}")))?;
            request.headers_mut().insert(name, value);
            Ok(())
        };
        if let Some(token) = token {
            add("Authorization", &format!("Bearer {token}"))?;
        }
        for (name, value) in headers {
            add(name, value)?;
        }
        let socket = match tungstenite::connect(request) {
            Ok((socket, _)) => socket,
            Err(tungstenite::Error::Http(response)) => {
                let content_type = crate::content_type(response.headers());
                let body = response
                    .body()
                    .as_deref()
                    .map(|body| String::from_utf8_lossy(body).into_owned())
                    .unwrap_or_default();
                return Err(refusal(RawResponse {
                    status: response.status().as_u16(),
                    content_type,
                    body,
                }));
            }
            Err(tungstenite::Error::Io(err)) => {
                return Err(ClientError::Unreachable {
                    url: url.clone(),
                    reason: err.to_string(),
                });
            }
            Err(err) => return Err(failed(err.to_string())),
        };
        let mut client = WsClient {
            url,
            token: token.map(str::to_owned),
            socket,
            read_timeout,
        };
        client.set_read_timeout(read_timeout)?;
        Ok(client)
    }

    /// The WebSocket URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Each read waits at most `timeout` for a message.
    pub fn set_read_timeout(&mut self, timeout: Duration) -> Result<(), ClientError> {
        if let MaybeTlsStream::Plain(stream) = self.socket.get_ref() {
            stream
                .set_read_timeout(Some(timeout))
                .map_err(|err| self.failed(err.to_string()))?;
        }
        self.read_timeout = timeout;
        Ok(())
    }

    /// Asks for `channel` (`book:ETH/USDC`, `trades:ETH/USDC`, `orders`, `swaps`): the node
    /// answers `subscribed`, then a snapshot, then changes.
    pub fn subscribe(&mut self, channel: &str) -> Result<(), ClientError> {
        self.request(WsOp::Subscribe, Some(channel), None)
    }

    /// Stops `channel`: the node answers `unsubscribed`.
    pub fn unsubscribe(&mut self, channel: &str) -> Result<(), ClientError> {
        self.request(WsOp::Unsubscribe, Some(channel), None)
    }

    /// Asks for a `pong`.
    pub fn ping(&mut self) -> Result<(), ClientError> {
        self.request(WsOp::Ping, None, None)
    }

    /// Presents the client's token by message (as browsers must, which cannot set headers
    /// on an upgrade): the node answers `authenticated`. Without a token: `MissingToken`.
    pub fn auth(&mut self) -> Result<(), ClientError> {
        let token = self
            .token
            .clone()
            .ok_or_else(|| ClientError::MissingToken {
                route: "the WebSocket's auth".into(),
            })?;
        self.request(WsOp::Auth, None, Some(token))
    }

    fn request(
        &mut self,
        op: WsOp,
        channel: Option<&str>,
        token: Option<String>,
    ) -> Result<(), ClientError> {
        let request = WsRequest {
            op,
            channel: channel.map(str::to_owned),
            token,
        };
        let text = serde_json::to_string(&request).expect("a WebSocket request serialises");
        self.send_text(&text)
    }

    /// Sends `text` as a text frame, as it is: for tests of what the node does with
    /// malformed requests.
    pub fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.socket
            .send(Message::text(text))
            .map_err(|err| self.failed(err.to_string()))
    }

    /// The next message of the node, typed. Control frames are skipped; a close frame,
    /// a broken connection or a text that is not a [`WsMessage`] is an error, and so is
    /// no message within the read timeout.
    // Not an `Iterator`: every read may fail or time out, and the stream has no end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<WsMessage, ClientError> {
        let text = self.next_text()?;
        serde_json::from_str(&text)
            .map_err(|err| self.failed(format!("not a message of the API ({err}): {text}")))
    }

    /// The next text message as JSON, untyped: for tests that compare whole messages.
    pub fn next_json(&mut self) -> Result<serde_json::Value, ClientError> {
        let text = self.next_text()?;
        serde_json::from_str(&text).map_err(|err| self.failed(format!("not JSON ({err}): {text}")))
    }

    /// The next text message as it came.
    pub fn next_text(&mut self) -> Result<String, ClientError> {
        loop {
            match self.socket.read() {
                Ok(Message::Text(text)) => return Ok(text.as_str().to_owned()),
                Ok(Message::Close(frame)) => {
                    return Err(self.failed(format!("closed by the node: {frame:?}")));
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(err))
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ClientError::WebSocketTimeout {
                        url: self.url.clone(),
                        timeout_ms: u64::try_from(self.read_timeout.as_millis())
                            .unwrap_or(u64::MAX),
                    });
                }
                Err(err) => return Err(self.failed(err.to_string())),
            }
        }
    }

    /// The socket itself, for tests that need raw frames.
    pub fn socket_mut(&mut self) -> &mut WebSocket<MaybeTlsStream<TcpStream>> {
        &mut self.socket
    }

    /// Closes the connection (a close frame, then the socket is done).
    pub fn close(mut self) -> Result<(), ClientError> {
        self.socket
            .close(None)
            .map_err(|err| self.failed(err.to_string()))
    }

    fn failed(&self, reason: String) -> ClientError {
        ClientError::WebSocket {
            url: self.url.clone(),
            reason,
        }
    }
}
