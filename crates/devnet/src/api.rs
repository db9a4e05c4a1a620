//! The nodes' REST API for the devnet's async code: dex-client's blocking client, each call
//! on tokio's blocking pool so it can be awaited from any runtime.

use std::time::Duration;

use dex_api::types::{
    Book, Info, OwnOrderDetail, OwnOrderView, OwnOrders, Peers, PlaceOrderRequest, SwapDetail,
};
use dex_client::{Client, ClientError};

use crate::DevnetError;

/// Longest one API call may take (a local node answers in milliseconds; the node's own
/// request timeout is 10 s by default).
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Calls one node's API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NodeClient {
    client: Client,
}

impl NodeClient {
    /// A client of the API at `url` (`http://127.0.0.1:PORT`) with the node's bearer
    /// `token`.
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> NodeClient {
        NodeClient {
            client: Client::new(url, Some(token.into())).with_timeout(CALL_TIMEOUT),
        }
    }

    /// The API's base URL.
    pub fn url(&self) -> &str {
        self.client.base_url()
    }

    /// The blocking client, for calls this type has no method for.
    pub fn blocking(&self) -> &Client {
        &self.client
    }

    /// Runs `call` on the blocking client off the async threads; `what` names it in
    /// errors (`GET info`).
    pub async fn call<T, F>(&self, what: &str, call: F) -> Result<T, DevnetError>
    where
        T: Send + 'static,
        F: FnOnce(&Client) -> Result<T, ClientError> + Send + 'static,
    {
        let client = self.client.clone();
        let answer = tokio::task::spawn_blocking(move || call(&client))
            .await
            .unwrap_or_else(|err| {
                Err(ClientError::Unreachable {
                    url: self.url().to_owned(),
                    reason: format!("the call's thread failed: {err}"),
                })
            });
        answer.map_err(|failure| DevnetError::Api {
            request: format!("{what} at {}", self.url()),
            failure,
        })
    }

    /// Who the node is.
    pub async fn info(&self) -> Result<Info, DevnetError> {
        self.call("GET info", |client| client.info()).await
    }

    /// Its connected peers.
    pub async fn peers(&self) -> Result<Peers, DevnetError> {
        self.call("GET peers", |client| client.peers()).await
    }

    /// The best `depth` levels of each side of `market`.
    pub async fn book(&self, market: &str, depth: usize) -> Result<Book, DevnetError> {
        let market = market.to_owned();
        self.call("GET book", move |client| client.book(&market, depth))
            .await
    }

    /// Places an order the node signs.
    pub async fn place_order(
        &self,
        request: &PlaceOrderRequest,
    ) -> Result<OwnOrderView, DevnetError> {
        let request = request.clone();
        self.call("POST order", move |client| client.place_order(&request))
            .await
    }

    /// Own orders, of `status` only if given.
    pub async fn orders(&self, status: Option<&str>) -> Result<OwnOrders, DevnetError> {
        let status = status.map(str::to_owned);
        self.call("GET orders", move |client| {
            client.orders(None, status.as_deref())
        })
        .await
    }

    /// One own order with its swaps.
    pub async fn order(&self, id: &str) -> Result<OwnOrderDetail, DevnetError> {
        let id = id.to_owned();
        self.call("GET order", move |client| client.order(&id))
            .await
    }

    /// One swap with its history.
    pub async fn swap(&self, id: &str) -> Result<SwapDetail, DevnetError> {
        let id = id.to_owned();
        self.call("GET swap", move |client| client.swap(&id)).await
    }
}
