//! The node's REST API, the bot's only way to the exchange, through dex-client (plain HTTP,
//! the bearer token, blocking, one kept-alive connection). What is the bot's own: the node
//! is found again after a restart ([`NodeClient::reload`]), a token is required from the
//! start, and a cancel of an order already gone counts as done. Errors keep the problem's
//! `type` so the bot can tell "this order is already gone" from a failure.

use std::{path::PathBuf, time::Duration};

use dex_api::{
    layout,
    types::{
        BalanceView, Book, Info, MarketInfo, OwnOrderView, PlaceOrderRequest, SwapDetail, Swaps,
    },
};
pub(crate) use dex_client::PAGE;
use dex_client::{Client, DEFAULT_URL};
use dex_primitives::{B256, OrderId};

/// A failed API call: the node unreachable, its problem, or an unexpected answer.
pub(crate) use dex_client::ClientError as ApiError;

/// How a cancel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// Cancelled now.
    Now,
    /// Already closed (filled, cancelled or expired) or unknown: nothing to do.
    AlreadyGone,
}

/// Where the node's URL and token come from.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The URL given in the config, if any.
    pub(crate) url: Option<String>,
    /// The token given in the config, if any.
    pub(crate) token: Option<String>,
    /// The data dir holding `api.url` and `api.token`.
    pub(crate) data_dir: Option<PathBuf>,
}

/// A client of one node's API.
#[derive(Debug)]
pub(crate) struct NodeClient {
    endpoint: Endpoint,
    timeout: Duration,
    client: Client,
}

impl NodeClient {
    /// A client for `endpoint`: the configured URL and token, else the data dir's
    /// `api.url` (else the default URL) and `api.token`.
    pub(crate) fn new(endpoint: Endpoint, timeout: Duration) -> anyhow::Result<NodeClient> {
        let client = Self::connect(&endpoint, None, timeout)?;
        Ok(NodeClient {
            endpoint,
            timeout,
            client,
        })
    }

    /// Reads the URL and token again: a restarted node may listen on another port (its
    /// `api.url` says which).
    pub(crate) fn reload(&mut self) -> anyhow::Result<()> {
        self.client = Self::connect(&self.endpoint, Some(self.client.base_url()), self.timeout)?;
        Ok(())
    }

    /// The client `endpoint` gives now; `last` is the URL in use, kept while a stopped node
    /// has removed its `api.url`.
    fn connect(
        endpoint: &Endpoint,
        last: Option<&str>,
        timeout: Duration,
    ) -> anyhow::Result<Client> {
        let dir = endpoint.data_dir.as_deref();
        let from_dir = |read: fn(&std::path::Path) -> Result<Option<String>, ApiError>| {
            dir.map(read).transpose().map(Option::flatten)
        };
        let base = match (&endpoint.url, from_dir(dex_client::read_url)?) {
            (Some(url), _) => url.clone(),
            (None, Some(url)) => url,
            // A stopped node removes its api.url: keep the address it had until it is back.
            (None, None) => last.unwrap_or(DEFAULT_URL).to_owned(),
        };
        let token = match &endpoint.token {
            Some(token) => token.clone(),
            None => from_dir(dex_client::read_token)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "no API token: set node.token, or node.data_dir to a node's data dir \
                     (its {} is read)",
                    layout::API_TOKEN
                )
            })?,
        };
        if !base.starts_with("http://") {
            anyhow::bail!("the node's URL {base:?} must start with http:// (no TLS)");
        }
        Ok(Client::new(base, Some(token)).with_timeout(timeout))
    }

    /// The base URL in use.
    pub(crate) fn base(&self) -> &str {
        self.client.base_url()
    }

    /// Who the node is: its traders, the chains that answer.
    pub(crate) fn info(&self) -> Result<Info, ApiError> {
        self.client.info()
    }

    /// The on-chain balances of the node's traders, with what swaps lock and orders reserve.
    pub(crate) fn balances(&self) -> Result<Vec<BalanceView>, ApiError> {
        Ok(self.client.balances()?.balances)
    }

    /// One own order.
    pub(crate) fn order(&self, id: OrderId) -> Result<OwnOrderView, ApiError> {
        Ok(self.client.order(id)?.order)
    }

    /// The node's markets.
    pub(crate) fn markets(&self) -> Result<Vec<MarketInfo>, ApiError> {
        Ok(self.client.markets()?.markets)
    }

    /// The best `depth` levels of each side of `market`.
    pub(crate) fn book(&self, market: &str, depth: usize) -> Result<Book, ApiError> {
        self.client.book(market, depth)
    }

    /// The node's open own orders, of `market` or of all markets.
    pub(crate) fn open_orders(&self, market: Option<&str>) -> Result<Vec<OwnOrderView>, ApiError> {
        self.client.all_orders(market, Some("open"))
    }

    /// Places an order the node signs.
    pub(crate) fn place(&self, request: &PlaceOrderRequest) -> Result<OwnOrderView, ApiError> {
        self.client.place_order(request)
    }

    /// Cancels an own order; an order already closed or unknown counts as gone.
    pub(crate) fn cancel(&self, id: OrderId) -> Result<Cancelled, ApiError> {
        match self.client.cancel_order(id) {
            Ok(_) => Ok(Cancelled::Now),
            Err(err) if matches!(err.slug(), Some("order-closed" | "unknown-order")) => {
                Ok(Cancelled::AlreadyGone)
            }
            Err(err) => Err(err),
        }
    }

    /// Up to [`PAGE`] swaps that changed after `cursor` (a `cursor` the node gave
    /// before, or 0), oldest change first, with the cursor to ask with next.
    pub(crate) fn swaps_changed(&self, cursor: u64) -> Result<Swaps, ApiError> {
        self.client.swaps_changed(Some(cursor), Some(PAGE))
    }

    /// One swap with its history.
    pub(crate) fn swap(&self, id: B256) -> Result<SwapDetail, ApiError> {
        self.client.swap(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_and_token_come_from_the_data_dir_unless_given() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("api.url"), "http://127.0.0.1:4242/\n").unwrap();
        std::fs::write(dir.path().join("api.token"), "secret\n").unwrap();
        let endpoint = Endpoint {
            url: None,
            token: None,
            data_dir: Some(dir.path().to_owned()),
        };
        let client = NodeClient::new(endpoint.clone(), Duration::from_secs(1)).unwrap();
        assert_eq!(client.base(), "http://127.0.0.1:4242");
        assert_eq!(client.client.token(), Some("secret"));
        // A stopped node removes api.url; the last address stays until a new one is written.
        let mut client = client;
        std::fs::remove_file(dir.path().join("api.url")).unwrap();
        client.reload().unwrap();
        assert_eq!(client.base(), "http://127.0.0.1:4242");
        std::fs::write(dir.path().join("api.url"), "http://127.0.0.1:4343\n").unwrap();
        client.reload().unwrap();
        assert_eq!(client.base(), "http://127.0.0.1:4343");
        let given = NodeClient::new(
            Endpoint {
                url: Some("http://10.0.0.1:1".into()),
                token: Some("t".into()),
                ..endpoint
            },
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            (given.base(), given.client.token()),
            ("http://10.0.0.1:1", Some("t"))
        );
        let tls = NodeClient::new(
            Endpoint {
                url: Some("https://node".into()),
                token: Some("t".into()),
                data_dir: None,
            },
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(tls.to_string().contains("no TLS"), "{tls}");
        let no_token = NodeClient::new(
            Endpoint {
                url: None,
                token: None,
                data_dir: Some(dir.path().join("missing")),
            },
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(no_token.to_string().contains("no API token"), "{no_token}");
    }
}
