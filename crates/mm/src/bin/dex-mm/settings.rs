//! The bot's TOML configuration (`config/mm.toml` documents every key): where the node is,
//! which market, the price source, the capital, timing and safety limits, and the strategy's
//! `[strategy]` table. Unknown keys are errors that name the key; decimals are strings or
//! integers, never floats (see [`dex_mm::serde_decimal`]).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use dex_logging::LogFormat;
use dex_mm::StrategyConfig;
use dex_primitives::Decimal;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    /// The market quoted, `BASE/QUOTE` or its id.
    pub(crate) market: String,
    /// Time between two refreshes (price, orders, decision), in ms.
    #[serde(default = "defaults::refresh_interval_ms")]
    pub(crate) refresh_interval_ms: u64,
    /// Lifetime of each placed order, in seconds; orders are replaced before they expire.
    #[serde(default = "defaults::order_lifetime_s")]
    pub(crate) order_lifetime_s: u64,
    /// Refreshes in a row with a failed API call before everything is cancelled.
    #[serde(default = "defaults::max_api_errors")]
    pub(crate) max_api_errors: u32,
    /// Pause after such a halt before quoting again, in ms.
    #[serde(default = "defaults::api_error_cooldown_ms")]
    pub(crate) api_error_cooldown_ms: u64,
    /// How long the bot keeps trying to cancel its orders when it stops, in ms.
    #[serde(default = "defaults::shutdown_timeout_ms")]
    pub(crate) shutdown_timeout_ms: u64,
    /// The file listing the bot's open orders, relative to this file's directory. Default
    /// `<node data dir>/dex-mm/<market>.json`.
    #[serde(default)]
    pub(crate) state_file: Option<PathBuf>,
    /// The node's API.
    #[serde(default)]
    pub(crate) node: NodeSettings,
    /// The reference price.
    pub(crate) price: PriceSettings,
    /// The capital the bot trades with; absent: what the node reports for its trader.
    #[serde(default)]
    pub(crate) inventory: Option<InventorySettings>,
    /// The quoting strategy.
    pub(crate) strategy: StrategyConfig,
    /// Logging.
    #[serde(default)]
    pub(crate) log: LogSettings,
    /// The Prometheus endpoint.
    #[serde(default)]
    pub(crate) metrics: MetricsSettings,
}

mod defaults {
    pub(super) fn refresh_interval_ms() -> u64 {
        2_000
    }
    pub(super) fn order_lifetime_s() -> u64 {
        3_600
    }
    pub(super) fn max_api_errors() -> u32 {
        5
    }
    pub(super) fn api_error_cooldown_ms() -> u64 {
        30_000
    }
    pub(super) fn shutdown_timeout_ms() -> u64 {
        10_000
    }
    pub(super) fn request_timeout_ms() -> u64 {
        5_000
    }
    pub(super) fn price_timeout_ms() -> u64 {
        2_000
    }
    pub(super) fn log_level() -> String {
        "info".into()
    }
}

/// `[node]`: the API URL and token, given or read from the node's data dir.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeSettings {
    /// The node's data dir, for `api.url` and `api.token` (and the default state file).
    /// Relative to this file's directory. Default `~/.p2pdex`.
    #[serde(default)]
    pub(crate) data_dir: Option<PathBuf>,
    /// The API's URL; default `<data dir>/api.url`, else `http://127.0.0.1:7780`.
    #[serde(default)]
    pub(crate) url: Option<String>,
    /// The bearer token; default `<data dir>/api.token`.
    #[serde(default)]
    pub(crate) token: Option<String>,
    /// Longest wait for one API answer, in ms.
    #[serde(default = "defaults::request_timeout_ms")]
    pub(crate) request_timeout_ms: u64,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            data_dir: None,
            url: None,
            token: None,
            request_timeout_ms: defaults::request_timeout_ms(),
        }
    }
}

/// `[price]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceSettings {
    /// `static:<price>`, `http://host:port/path#/json/pointer` or `book-mid:<market>`.
    pub(crate) source: String,
    /// HTTP sources: a JSON pointer to the time the price was observed. Without it the
    /// price counts as observed when the request was sent.
    #[serde(default)]
    pub(crate) timestamp_pointer: Option<String>,
    /// Unit of that timestamp: `ms` or `s` since 1970.
    #[serde(default)]
    pub(crate) timestamp_unit: TimestampUnit,
    /// Longest wait for the price source's answer, in ms.
    #[serde(default = "defaults::price_timeout_ms")]
    pub(crate) timeout_ms: u64,
}

/// Unit of a price source's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub(crate) enum TimestampUnit {
    /// Milliseconds since 1970.
    #[default]
    #[serde(rename = "ms")]
    Millis,
    /// Seconds since 1970 (fractions allowed).
    #[serde(rename = "s")]
    Seconds,
}

/// `[inventory]`: the bot's own account, in display units: this capital at start, moved by
/// the swaps of its orders (and never more than the node says is free).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InventorySettings {
    /// Base asset at start (ETH in ETH/USDC).
    #[serde(with = "dex_mm::serde_decimal")]
    pub(crate) base: Decimal,
    /// Quote asset at start (USDC in ETH/USDC).
    #[serde(with = "dex_mm::serde_decimal")]
    pub(crate) quote: Decimal,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogSettings {
    /// `human` or `json`.
    #[serde(default)]
    pub(crate) format: LogFormat,
    /// A RUST_LOG-style filter; `RUST_LOG` overrides it.
    #[serde(default = "defaults::log_level")]
    pub(crate) level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Human,
            level: defaults::log_level(),
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsSettings {
    /// Where to serve Prometheus metrics (`GET /metrics`); off when absent. Port 0 picks
    /// one; the address is logged.
    #[serde(default)]
    pub(crate) listen: Option<SocketAddr>,
}

/// Parses a config text, naming the key at fault.
pub(crate) fn parse(text: &str) -> Result<Settings, String> {
    let deserializer = toml::de::Deserializer::parse(text).map_err(|err| err.to_string())?;
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        if path == "." || path.is_empty() {
            inner
        } else {
            format!("key `{path}`: {}", inner.trim_end())
        }
    })
}

impl Settings {
    /// Reads and checks `path`; relative paths in it become relative to its directory.
    pub(crate) fn load(path: &Path) -> Result<Settings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the config {}", path.display()))?;
        let mut settings =
            parse(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        settings.node.data_dir = settings.node.data_dir.map(|dir| base.join(dir));
        settings.state_file = settings.state_file.map(|file| base.join(file));
        settings
            .check()
            .with_context(|| format!("in {}", path.display()))?;
        Ok(settings)
    }

    /// Checks the values serde cannot (the strategy is checked against the market later).
    pub(crate) fn check(&self) -> Result<()> {
        if self.refresh_interval_ms == 0 {
            bail!("refresh_interval_ms must be at least 1");
        }
        if self.order_lifetime_s == 0 {
            bail!("order_lifetime_s must be at least 1");
        }
        // An order must outlive a few refreshes, or it would be replaced at every one.
        if self.order_lifetime_s.saturating_mul(1000) < self.refresh_interval_ms.saturating_mul(4) {
            bail!(
                "order_lifetime_s = {} is too short for refresh_interval_ms = {}: orders must \
                 live at least four refreshes",
                self.order_lifetime_s,
                self.refresh_interval_ms
            );
        }
        if self.max_api_errors == 0 {
            bail!("max_api_errors must be at least 1");
        }
        if let Some(inventory) = &self.inventory
            && (inventory.base < Decimal::ZERO || inventory.quote < Decimal::ZERO)
        {
            bail!("inventory.base and inventory.quote must not be negative");
        }
        if self.node.request_timeout_ms == 0 || self.price.timeout_ms == 0 {
            bail!("node.request_timeout_ms and price.timeout_ms must be at least 1");
        }
        Ok(())
    }

    /// The node's data dir: `node.data_dir`, else `~/.p2pdex`.
    pub(crate) fn data_dir(&self) -> Option<PathBuf> {
        self.node
            .data_dir
            .clone()
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".p2pdex")))
    }

    /// The state file: `state_file`, else `<data dir>/dex-mm/<market>.json`.
    pub(crate) fn state_file(&self) -> Result<PathBuf> {
        if let Some(path) = &self.state_file {
            return Ok(path.clone());
        }
        let Some(dir) = self.data_dir() else {
            bail!("set state_file (or node.data_dir): there is no home directory");
        };
        let name: String = self
            .market
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        Ok(dir.join("dex-mm").join(format!("{name}.json")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
market = "ETH/USDC"
[price]
source = "static:2500"
[inventory]
base = "1"
quote = 2500
[strategy]
order_size = "0.01"
"#;

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let settings = parse(MINIMAL).unwrap();
        settings.check().unwrap();
        assert_eq!(settings.refresh_interval_ms, 2_000);
        assert_eq!(settings.order_lifetime_s, 3_600);
        assert_eq!(settings.max_api_errors, 5);
        assert_eq!(settings.api_error_cooldown_ms, 30_000);
        assert_eq!(settings.shutdown_timeout_ms, 10_000);
        assert_eq!(settings.node.request_timeout_ms, 5_000);
        assert_eq!(settings.price.timeout_ms, 2_000);
        assert_eq!(settings.price.timestamp_unit, TimestampUnit::Millis);
        assert_eq!(settings.log.format, LogFormat::Human);
        assert_eq!(settings.log.level, "info");
        assert_eq!(settings.metrics.listen, None);
        assert_eq!(
            settings.inventory.as_ref().map(|inventory| inventory.quote),
            Some(Decimal::from(2500))
        );
        let without =
            parse(&MINIMAL.replace("[inventory]\nbase = \"1\"\nquote = 2500\n", "")).unwrap();
        assert!(without.inventory.is_none());
        assert_eq!(
            settings.strategy,
            StrategyConfig::new("0.01".parse().unwrap())
        );
    }

    #[test]
    fn errors_name_the_key() {
        let typo = parse(&MINIMAL.replace("[price]", "[price]\nsorce = 1")).unwrap_err();
        assert!(typo.contains("sorce"), "{typo}");
        let float = parse(&MINIMAL.replace("base = \"1\"", "base = 1.5")).unwrap_err();
        assert!(
            float.contains("inventory.base") && float.contains("string"),
            "{float}"
        );
        let strategy =
            parse(&MINIMAL.replace("[strategy]", "[strategy]\nlevels = \"x\"")).unwrap_err();
        assert!(strategy.contains("strategy.levels"), "{strategy}");
        let short = parse(&format!("order_lifetime_s = 1\n{MINIMAL}")).unwrap();
        assert!(short.check().unwrap_err().to_string().contains("four"));
    }

    #[test]
    fn the_state_file_defaults_into_the_data_dir() {
        let mut settings = parse(MINIMAL).unwrap();
        settings.node.data_dir = Some("/srv/node".into());
        assert_eq!(
            settings.state_file().unwrap(),
            PathBuf::from("/srv/node/dex-mm/ETH-USDC.json")
        );
    }

    #[test]
    fn the_documented_config_is_valid_and_states_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/mm.toml");
        let settings = Settings::load(&path).unwrap();
        let defaults = parse(MINIMAL).unwrap();
        assert_eq!(settings.refresh_interval_ms, defaults.refresh_interval_ms);
        assert_eq!(settings.order_lifetime_s, defaults.order_lifetime_s);
        assert_eq!(settings.max_api_errors, defaults.max_api_errors);
        assert_eq!(
            settings.api_error_cooldown_ms,
            defaults.api_error_cooldown_ms
        );
        assert_eq!(settings.shutdown_timeout_ms, defaults.shutdown_timeout_ms);
        assert_eq!(
            settings.node.request_timeout_ms,
            defaults.node.request_timeout_ms
        );
        assert_eq!(settings.price.timeout_ms, defaults.price.timeout_ms);
        assert_eq!(settings.log.level, defaults.log.level);
        // Every strategy key is written out, with its default unless the file says why not.
        let text = std::fs::read_to_string(&path).unwrap();
        for key in [
            "bid_spread_bps",
            "ask_spread_bps",
            "levels",
            "level_spacing_bps",
            "order_size",
            "order_size_growth",
            "inventory_target",
            "inventory_range",
            "inventory_skew_bps",
            "inventory_size_skew",
            "min_order_size",
            "max_order_size",
            "max_exposure_base",
            "max_exposure_quote",
            "min_spread_bps",
            "tolerance_bps",
            "size_tolerance",
            "max_price_age_ms",
            "timestamp_pointer",
            "timestamp_unit",
            "state_file",
            "data_dir",
            "url",
            "token",
            "listen",
            "format",
        ] {
            assert!(
                text.contains(&format!("\n{key} =")) || text.contains(&format!("\n# {key} =")),
                "config/mm.toml does not document {key}"
            );
        }
    }
}
