//! The devnet's market maker: `dex-mm` quoting the devnet market on one node, from a
//! config written to `<data dir>/dex-mm.toml` (every key is explained in `config/mm.toml`).

use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use tracing::info;

use crate::{ChildSpec, Devnet, DevnetError, DevnetNode, NodeClient};

/// The market maker's name in the supervisor and its log's name.
pub const MARKET_MAKER: &str = "dex-mm";
/// Its config file in the data dir.
pub const MARKET_MAKER_CONFIG: &str = "dex-mm.toml";

/// How [`Devnet::start_market_maker`] runs `dex-mm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketMakerConfig {
    /// The `dex-mm` binary.
    pub dex_mm: PathBuf,
    /// The node it quotes on (from 1); it trades with that node's trader.
    pub node: usize,
    /// Its reference price in USDC (a `static:` price source).
    pub price: String,
    /// Size of each order in ETH, a whole number of lots.
    pub order_size: String,
    /// Orders per side.
    pub levels: u32,
    /// The capital it quotes with: ETH and USDC (well within what the trader holds).
    pub inventory: (String, String),
    /// How long it may take until its quotes are in its node's book.
    pub startup_timeout: Duration,
}

impl MarketMakerConfig {
    /// On node 1 around 2500 USDC: three levels of 0.1 ETH a side, from 10 bps away.
    pub fn new(dex_mm: impl Into<PathBuf>) -> MarketMakerConfig {
        MarketMakerConfig {
            dex_mm: dex_mm.into(),
            node: 1,
            price: "2500".into(),
            order_size: "0.1".into(),
            levels: 3,
            inventory: ("5".into(), "12500".into()),
            startup_timeout: Duration::from_secs(60),
        }
    }
}

/// The `dex-mm` config for `config`, with the node's data dir given relative to the config
/// file's directory (the devnet's data dir).
pub fn market_maker_config(config: &MarketMakerConfig, node_dir: &Path) -> String {
    format!(
        r#"# dex-mm config of the devnet, written by dex-devnet (crates/devnet): quotes ETH/USDC on
# node {node} around a fixed price. Every key and its default: config/mm.toml.
market = "ETH/USDC"
refresh_interval = "1s"

[node]
# api.url and api.token of the node are read from its data dir.
data_dir = "{data_dir}"

[price]
source = "static:{price}"

[inventory]
base = "{base}"
quote = "{quote}"

[strategy]
bid_spread_bps = 10
ask_spread_bps = 10
levels = {levels}
level_spacing_bps = 10
order_size = "{order_size}"

[log]
format = "human"
level = "info"
"#,
        node = config.node,
        data_dir = node_dir.display(),
        price = config.price,
        base = config.inventory.0,
        quote = config.inventory.1,
        levels = config.levels,
        order_size = config.order_size,
    )
}

impl Devnet {
    /// Starts `dex-mm` on node `config.node` and waits until it has quotes on both sides in
    /// the node's own orders. It is stopped before the nodes (children stop newest first),
    /// so it cancels its quotes while its node still runs.
    pub async fn start_market_maker(
        &mut self,
        config: MarketMakerConfig,
    ) -> Result<(), DevnetError> {
        if !config.dex_mm.is_file() {
            return Err(DevnetError::BinaryMissing {
                name: MARKET_MAKER,
                path: config.dex_mm.clone(),
            });
        }
        let node = self.node(config.node)?.clone();
        let relative = node
            .data_dir
            .strip_prefix(self.data_dir())
            .map_or_else(|_| node.data_dir.clone(), Path::to_owned);
        let path = self.data_dir().join(MARKET_MAKER_CONFIG);
        fs::write(&path, market_maker_config(&config, &relative)).map_err(|source| {
            DevnetError::io("writing the market maker's config", &path, source)
        })?;
        let mut spec = ChildSpec::new(MARKET_MAKER, &config.dex_mm)
            .arg("--config")
            .arg(&path)
            // It cancels its quotes on SIGTERM (for up to 10 s by default).
            .stop_grace(Duration::from_secs(15));
        for key in std::env::vars_os().map(|(key, _)| key).filter(|key| {
            key.to_str()
                .is_some_and(|key| key.starts_with("DEX_") || key == "RUST_LOG")
        }) {
            spec = spec.env_remove(key);
        }
        info!("starting the market maker on {}", node.name);
        self.supervisor().spawn(spec)?;
        wait_quoting(self, &node, config.startup_timeout).await
    }
}

/// Waits until `node` holds open buy and sell orders (the market maker's quotes).
async fn wait_quoting(
    devnet: &mut Devnet,
    node: &DevnetNode,
    timeout: Duration,
) -> Result<(), DevnetError> {
    let client: NodeClient = node.client();
    devnet
        .supervisor()
        .wait_ready(
            MARKET_MAKER,
            &format!(
                "the market maker to quote both sides on {} (GET {}/v1/orders?status=open)",
                node.name, node.api_url
            ),
            timeout,
            async || {
                let orders = client.orders(Some("open")).await.ok()?;
                let side = |side: dex_api::types::SideName| {
                    orders.orders.iter().any(|order| order.side == side)
                };
                (side(dex_api::types::SideName::Buy) && side(dex_api::types::SideName::Sell))
                    .then_some(())
            },
        )
        .await
}
