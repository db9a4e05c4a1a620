//! The bot's state file: which of the node's orders are the bot's, so that a new run cancels
//! what a previous one left (after a crash, a SIGKILL, a lost connection at shutdown) and
//! leaves the operator's own orders on the same node alone.
//!
//! The node signs the orders and only then tells their ids, so each placement is written
//! down twice: as an intent (side, price, quantity, time) before the request, and as an id
//! after the answer. A run that died between the two finds its order by the intent: an open
//! own order of the same side, price and quantity created from the intent's time on.
//!
//! The file is replaced atomically (written beside, then renamed), so it is always one
//! complete version.

use std::{
    collections::BTreeSet,
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use dex_api::types::{OwnOrderView, SideName};
use dex_primitives::{OrderId, UnixMillis};
use serde::{Deserialize, Serialize};

/// How far before an intent's time the node's `createdAt` may be and still match it: the
/// node stamps orders with its own clock (and may stamp a taking order a little earlier or
/// later, see dex-node), normally the same machine's.
const INTENT_CLOCK_SLACK_MS: u64 = 30_000;

/// An order about to be placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Intent {
    /// The market, as the bot names it.
    pub(crate) market: String,
    /// Side.
    pub(crate) side: SideName,
    /// Price, a decimal string.
    pub(crate) price: String,
    /// Quantity, a decimal string.
    pub(crate) quantity: String,
    /// Local time just before the request, unix ms.
    pub(crate) at: UnixMillis,
}

impl Intent {
    fn matches(&self, order: &OwnOrderView) -> bool {
        let same_number = |a: &str, b: &str| match (
            a.parse::<dex_primitives::Decimal>(),
            b.parse::<dex_primitives::Decimal>(),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        (order.symbol.eq_ignore_ascii_case(&self.market)
            || order.market.to_string().eq_ignore_ascii_case(&self.market))
            && order.side == self.side
            && same_number(&order.price, &self.price)
            && same_number(&order.quantity, &self.quantity)
            && order.created_at.saturating_add(INTENT_CLOCK_SLACK_MS) >= self.at
    }
}

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OwnedOrders {
    /// Ids of the bot's orders that may still be open.
    pub(crate) orders: BTreeSet<OrderId>,
    /// Placements sent whose answer has not been recorded.
    pub(crate) pending: Vec<Intent>,
}

impl OwnedOrders {
    /// The orders among `open` that are the bot's: listed, or matching an intent.
    pub(crate) fn leftovers<'a>(&self, open: &'a [OwnOrderView]) -> Vec<&'a OwnOrderView> {
        open.iter()
            .filter(|order| {
                self.orders.contains(&order.order_id)
                    || self.pending.iter().any(|intent| intent.matches(order))
            })
            .collect()
    }
}

/// The state file.
#[derive(Debug)]
pub(crate) struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// The file at `path` (its directory is created when first written).
    pub(crate) fn new(path: PathBuf) -> StateFile {
        StateFile { path }
    }

    /// Its path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What the file says; empty if there is none.
    pub(crate) fn load(&self) -> Result<OwnedOrders> {
        match fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "the state file {} is not valid; if no bot uses it, cancel the bot's \
                     orders by hand and remove it",
                    self.path.display()
                )
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(OwnedOrders::default()),
            Err(err) => Err(err).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }

    /// Replaces the file with `state`, atomically and durably.
    pub(crate) fn save(&self, state: &OwnedOrders) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let temp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(state).expect("the state serialises");
        let write = || -> std::io::Result<()> {
            let mut file = fs::File::create(&temp)?;
            file.write_all(&text)?;
            file.sync_all()?;
            fs::rename(&temp, &self.path)
        };
        write().with_context(|| format!("cannot write {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use dex_primitives::{Address, B256, MarketId};

    use super::*;

    fn view(n: u8, side: SideName, price: &str, quantity: &str, created_at: u64) -> OwnOrderView {
        OwnOrderView {
            order_id: OrderId(B256::repeat_byte(n)),
            market: MarketId::default(),
            symbol: "ETH/USDC".into(),
            side,
            price: price.into(),
            quantity: quantity.into(),
            min_fill: "0.001".into(),
            remaining: quantity.into(),
            status: "open".into(),
            maker: Address::ZERO,
            created_at,
            expires_at: created_at + 1000,
            updated_at: created_at,
            client_order_id: None,
        }
    }

    #[test]
    fn leftovers_are_listed_ids_and_orders_matching_an_intent() {
        let state = OwnedOrders {
            orders: [OrderId(B256::repeat_byte(1))].into(),
            pending: vec![Intent {
                market: "eth/usdc".into(),
                side: SideName::Sell,
                price: "2502.50".into(),
                quantity: "0.01".into(),
                at: 100_000,
            }],
        };
        let open = vec![
            view(1, SideName::Buy, "2497.5", "0.01", 1),
            // The operator's order: not listed, matches no intent.
            view(2, SideName::Buy, "2000", "1", 100_000),
            // The intent's order, created after it.
            view(3, SideName::Sell, "2502.5", "0.010", 100_005),
            // Same price and size but long before the intent: the operator's.
            view(4, SideName::Sell, "2502.5", "0.01", 10_000),
            // Same time, other side.
            view(5, SideName::Buy, "2502.5", "0.01", 100_005),
        ];
        let found: Vec<u8> = state
            .leftovers(&open)
            .iter()
            .map(|order| order.order_id.0[0])
            .collect();
        assert_eq!(found, vec![1, 3]);
    }

    #[test]
    fn the_file_round_trips_and_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path().join("sub/state.json"));
        assert_eq!(file.load().unwrap(), OwnedOrders::default());
        let state = OwnedOrders {
            orders: [OrderId(B256::repeat_byte(9))].into(),
            pending: Vec::new(),
        };
        file.save(&state).unwrap();
        assert_eq!(file.load().unwrap(), state);
        fs::write(file.path(), "{").unwrap();
        assert!(file.load().unwrap_err().to_string().contains("not valid"));
    }
}
