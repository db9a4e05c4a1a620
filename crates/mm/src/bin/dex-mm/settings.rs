//! The bot's TOML configuration (`config/mm.toml` documents every key): where the node is,
//! which market, the price source, the capital, timing and safety limits, and the strategy's
//! `[strategy]` table. Loaded by [`dex_config::Loader`]: `DEX_MM_<SECTION>__<KEY>`
//! environment variables override the file (`DEX_MM_STRATEGY__LEVELS=3`), the flags
//! override both. Unknown keys are errors that name the key; the `_ms`/`_s` integer keys
//! of earlier versions are errors that name their duration key (`refresh_interval_ms` →
//! `refresh_interval = "2s"`). Durations are written with units (`"250ms"`, `"1m 30s"`);
//! decimals are strings or integers, never floats (see [`dex_mm::serde_decimal`]).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use dex_config::{Loader, Renamed};
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
    /// Time between two refreshes (price, orders, decision).
    #[serde(default = "defaults::refresh_interval", with = "dex_config::duration")]
    pub(crate) refresh_interval: Duration,
    /// Lifetime of each placed order, whole seconds; orders are replaced before they expire.
    #[serde(default = "defaults::order_lifetime", with = "dex_config::duration")]
    pub(crate) order_lifetime: Duration,
    /// Refreshes in a row with a failed API call before everything is cancelled.
    #[serde(default = "defaults::max_api_errors")]
    pub(crate) max_api_errors: u32,
    /// Pause after such a halt before quoting again.
    #[serde(
        default = "defaults::api_error_cooldown",
        with = "dex_config::duration"
    )]
    pub(crate) api_error_cooldown: Duration,
    /// How long the bot keeps trying to cancel its orders when it stops.
    #[serde(default = "defaults::shutdown_timeout", with = "dex_config::duration")]
    pub(crate) shutdown_timeout: Duration,
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
    use std::time::Duration;

    pub(super) fn refresh_interval() -> Duration {
        Duration::from_secs(2)
    }
    pub(super) fn order_lifetime() -> Duration {
        Duration::from_secs(3_600)
    }
    pub(super) fn max_api_errors() -> u32 {
        5
    }
    pub(super) fn api_error_cooldown() -> Duration {
        Duration::from_secs(30)
    }
    pub(super) fn shutdown_timeout() -> Duration {
        Duration::from_secs(10)
    }
    pub(super) fn request_timeout() -> Duration {
        Duration::from_secs(5)
    }
    pub(super) fn price_timeout() -> Duration {
        Duration::from_secs(2)
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
    /// Longest wait for one API answer.
    #[serde(default = "defaults::request_timeout", with = "dex_config::duration")]
    pub(crate) request_timeout: Duration,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            data_dir: None,
            url: None,
            token: None,
            request_timeout: defaults::request_timeout(),
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
    /// Longest wait for the price source's answer.
    #[serde(default = "defaults::price_timeout", with = "dex_config::duration")]
    pub(crate) timeout: Duration,
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

/// The `_ms` and `_s` integer keys of earlier versions, now durations with units.
pub(crate) const RENAMED: &[Renamed] = &[
    Renamed::millis("refresh_interval_ms", "refresh_interval"),
    Renamed::seconds("order_lifetime_s", "order_lifetime"),
    Renamed::millis("api_error_cooldown_ms", "api_error_cooldown"),
    Renamed::millis("shutdown_timeout_ms", "shutdown_timeout"),
    Renamed::millis("node.request_timeout_ms", "node.request_timeout"),
    Renamed::millis("price.timeout_ms", "price.timeout"),
    Renamed::millis("strategy.max_price_age_ms", "strategy.max_price_age"),
];

/// Variables of dex-mm's flags (clap reads them): never config keys.
const FLAG_VARS: &[&str] = &["DEX_MM_CONFIG", "DEX_MM_LOG_FORMAT", "DEX_MM_LOG_LEVEL"];

/// The loader of dex-mm's config: `path`, then `DEX_MM_<SECTION>__<KEY>` variables, then
/// the flags the caller adds.
pub(crate) fn loader(path: &Path) -> Loader {
    Loader::new("DEX_MM_")
        .file(Some(path))
        .ignore_env(FLAG_VARS)
        .renamed(RENAMED)
}

impl Settings {
    /// Reads and checks the config of `loader` (from [`loader`]`(path)`); relative paths in
    /// it become relative to `path`'s directory.
    pub(crate) fn load(loader: &Loader, path: &Path) -> Result<Settings> {
        let mut settings: Settings = loader.load()?;
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
        if self.refresh_interval < Duration::from_millis(1) {
            bail!("refresh_interval must be at least 1ms");
        }
        // The API takes an order's lifetime in seconds.
        if self.order_lifetime < Duration::from_secs(1) || self.order_lifetime.subsec_nanos() != 0 {
            bail!(
                "order_lifetime = \"{}\" must be a whole number of seconds, at least 1s",
                dex_config::duration::format(self.order_lifetime)
            );
        }
        // An order must outlive a few refreshes, or it would be replaced at every one.
        if self.order_lifetime < self.refresh_interval.saturating_mul(4) {
            bail!(
                "order_lifetime = \"{}\" is too short for refresh_interval = \"{}\": orders \
                 must live at least four refreshes",
                dex_config::duration::format(self.order_lifetime),
                dex_config::duration::format(self.refresh_interval)
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
        if self.node.request_timeout < Duration::from_millis(1)
            || self.price.timeout < Duration::from_millis(1)
        {
            bail!("node.request_timeout and price.timeout must be at least 1ms");
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

    /// `text` as `mm.toml` in a temp dir, loaded with the environment `env` and the flag
    /// `log.level` when given.
    fn load_with(
        text: &str,
        env: &[(&str, &str)],
        log_level_flag: Option<&str>,
    ) -> Result<Settings> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("mm.toml");
        std::fs::write(&path, text)?;
        let mut loader =
            loader(&path).env(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        if let Some(level) = log_level_flag {
            loader = loader.flag("log.level", "--log-level", level);
        }
        Settings::load(&loader, &path)
    }

    fn load_text(text: &str) -> Result<Settings> {
        load_with(text, &[], None)
    }

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let settings = load_text(MINIMAL).unwrap();
        assert_eq!(settings.refresh_interval, Duration::from_secs(2));
        assert_eq!(settings.order_lifetime, Duration::from_secs(3_600));
        assert_eq!(settings.max_api_errors, 5);
        assert_eq!(settings.api_error_cooldown, Duration::from_secs(30));
        assert_eq!(settings.shutdown_timeout, Duration::from_secs(10));
        assert_eq!(settings.node.request_timeout, Duration::from_secs(5));
        assert_eq!(settings.price.timeout, Duration::from_secs(2));
        assert_eq!(settings.price.timestamp_unit, TimestampUnit::Millis);
        assert_eq!(settings.log.format, LogFormat::Human);
        assert_eq!(settings.log.level, "info");
        assert_eq!(settings.metrics.listen, None);
        assert_eq!(
            settings.inventory.as_ref().map(|inventory| inventory.quote),
            Some(Decimal::from(2500))
        );
        let without =
            load_text(&MINIMAL.replace("[inventory]\nbase = \"1\"\nquote = 2500\n", "")).unwrap();
        assert!(without.inventory.is_none());
        assert_eq!(
            settings.strategy,
            StrategyConfig::new("0.01".parse().unwrap())
        );
    }

    #[test]
    fn the_environment_overrides_the_file_and_a_flag_both() {
        let file = format!("refresh_interval = \"1s\"\n{MINIMAL}\n[log]\nlevel = \"warn\"\n");
        // The file alone.
        let settings = load_with(&file, &[], None).unwrap();
        assert_eq!(settings.refresh_interval, Duration::from_secs(1));
        assert_eq!(settings.log.level, "warn");
        // The environment over the file, in a section too.
        let env = [
            ("DEX_MM_REFRESH_INTERVAL", "250ms"),
            ("DEX_MM_LOG__LEVEL", "debug"),
            ("DEX_MM_STRATEGY__LEVELS", "3"),
            // The flags' own variables (read by clap) and dexd's are not keys.
            ("DEX_MM_LOG_LEVEL", "trace"),
            ("DEX_API__BODY_LIMIT", "1"),
        ];
        let settings = load_with(&file, &env, None).unwrap();
        assert_eq!(settings.refresh_interval, Duration::from_millis(250));
        assert_eq!(settings.log.level, "debug");
        assert_eq!(settings.strategy.levels, 3);
        // A flag over both.
        let settings = load_with(&file, &env, Some("error")).unwrap();
        assert_eq!(settings.log.level, "error");
        assert_eq!(settings.refresh_interval, Duration::from_millis(250));
    }

    #[test]
    fn errors_name_the_key() {
        let typo = load_text(&MINIMAL.replace("[price]", "[price]\nsorce = 1")).unwrap_err();
        assert!(
            typo.to_string()
                .starts_with("unknown key `price.sorce` in ")
                && typo.to_string().contains("mm.toml line 4"),
            "{typo}"
        );
        let float = load_text(&MINIMAL.replace("base = \"1\"", "base = 1.5"))
            .unwrap_err()
            .to_string();
        assert!(
            float.contains("inventory.base") && float.contains("string"),
            "{float}"
        );
        let strategy = load_text(&MINIMAL.replace("[strategy]", "[strategy]\nlevels = \"x\""))
            .unwrap_err()
            .to_string();
        assert!(strategy.contains("strategy.levels"), "{strategy}");
        let age = load_text(&MINIMAL.replace("[strategy]", "[strategy]\nmax_price_age = 10"))
            .unwrap_err()
            .to_string();
        assert!(
            age.contains("strategy.max_price_age") && age.contains("\"10s\""),
            "{age}"
        );
        let short = load_text(&format!("order_lifetime = \"1s\"\n{MINIMAL}")).unwrap_err();
        assert!(format!("{short:#}").contains("four"), "{short:#}");
        let fraction = load_text(&format!("order_lifetime = \"90.5s\"\n{MINIMAL}")).unwrap_err();
        assert!(
            format!("{fraction:#}").contains("whole number of seconds"),
            "{fraction:#}"
        );
        let missing = load_text(&MINIMAL.replace("order_size = \"0.01\"", "")).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("missing key `strategy.order_size`"),
            "{missing}"
        );
    }

    #[test]
    fn the_old_integer_keys_name_their_duration_keys() {
        // `line` added to `[table]` of the minimal file.
        let in_table = |table: &str, line: &str| {
            MINIMAL.replace(&format!("[{table}]"), &format!("[{table}]\n{line}"))
        };
        for (key, text, replacement) in [
            (
                "refresh_interval_ms",
                format!("refresh_interval_ms = 250\n{MINIMAL}"),
                "use refresh_interval = \"250ms\"",
            ),
            (
                "order_lifetime_s",
                format!("order_lifetime_s = 3600\n{MINIMAL}"),
                "use order_lifetime = \"1h\"",
            ),
            (
                "api_error_cooldown_ms",
                format!("api_error_cooldown_ms = 30000\n{MINIMAL}"),
                "use api_error_cooldown = \"30s\"",
            ),
            (
                "shutdown_timeout_ms",
                format!("shutdown_timeout_ms = 90000\n{MINIMAL}"),
                "use shutdown_timeout = \"1m 30s\"",
            ),
            (
                "node.request_timeout_ms",
                format!("{MINIMAL}[node]\nrequest_timeout_ms = 5000\n"),
                "use request_timeout = \"5s\"",
            ),
            (
                "price.timeout_ms",
                in_table("price", "timeout_ms = 2000"),
                "use timeout = \"2s\"",
            ),
            (
                "strategy.max_price_age_ms",
                in_table("strategy", "max_price_age_ms = 10000"),
                "use max_price_age = \"10s\"",
            ),
        ] {
            let err = load_text(&text).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("key `{key}` in "))
                    && err.ends_with(&format!("was renamed: {replacement}")),
                "{key}: {err}"
            );
        }
        // From the environment too.
        let err = load_with(MINIMAL, &[("DEX_MM_REFRESH_INTERVAL_MS", "500")], None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "key `refresh_interval_ms` in environment variable DEX_MM_REFRESH_INTERVAL_MS was \
             renamed: use refresh_interval = \"500ms\""
        );
    }

    #[test]
    fn the_state_file_defaults_into_the_data_dir() {
        let mut settings = load_text(MINIMAL).unwrap();
        settings.node.data_dir = Some("/srv/node".into());
        assert_eq!(
            settings.state_file().unwrap(),
            PathBuf::from("/srv/node/dex-mm/ETH-USDC.json")
        );
    }

    /// config/mm.toml (dexd's configs are loaded by dexd's tests).
    #[test]
    fn the_documented_config_is_valid_and_states_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/mm.toml");
        let settings = Settings::load(&loader(&path), &path).unwrap();
        let defaults = load_text(MINIMAL).unwrap();
        assert_eq!(settings.refresh_interval, defaults.refresh_interval);
        assert_eq!(settings.order_lifetime, defaults.order_lifetime);
        assert_eq!(settings.max_api_errors, defaults.max_api_errors);
        assert_eq!(settings.api_error_cooldown, defaults.api_error_cooldown);
        assert_eq!(settings.shutdown_timeout, defaults.shutdown_timeout);
        assert_eq!(settings.node.request_timeout, defaults.node.request_timeout);
        assert_eq!(settings.price.timeout, defaults.price.timeout);
        assert_eq!(
            settings.strategy.max_price_age_ms,
            defaults.strategy.max_price_age_ms
        );
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
            "max_price_age",
            "refresh_interval",
            "order_lifetime",
            "api_error_cooldown",
            "shutdown_timeout",
            "request_timeout",
            "timeout",
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
