//! The p2pdex market maker's quoting strategy. The `dex-mm` binary of this package runs it
//! against a node's REST API (`dex-mm --config config/mm.toml`; the config documents every
//! parameter).
//!
//! [`Strategy::decide`] takes the reference price (with when it was observed), the bot's
//! live orders, its balances and `now`, and returns a [`Decision`]: the quotes it wants,
//! which live orders to keep, which to cancel and what to place, each with a reason. It does
//! no I/O and reads no clock, so the bot loop around it stays thin:
//!
//! ```text
//! every refresh:
//!     price     = price source (or a failure → a stale price halts quoting)
//!     live      = GET /v1/orders?market=…   (the bot's own open orders)
//!     inventory = GET /v1/balances
//!     decision  = strategy.decide(&price, &live, &inventory, now)
//!     log decision (its reason, notes and each cancel's reason)
//!     DELETE each of decision.cancels, then POST each of decision.places
//! ```
//!
//! The parameters are a [`StrategyConfig`], validated against the market by
//! [`Strategy::new`]. Prices are whole [`Ticks`](dex_primitives::Ticks) and sizes whole
//! [`Lots`](dex_primitives::Lots); every intermediate value is an exact fraction, so the
//! only rounding is the documented rounding to that grid, away from the reference price
//! for prices and down for sizes.

mod config;
mod decision;
mod error;
mod exact;
pub mod serde_decimal;
mod strategy;

pub use config::{MAX_LEVELS, StrategyConfig};
pub use decision::{
    Cancel, CancelReason, Context, Decision, DropReason, Kept, Limit, Note, Quote, Reason,
};
pub use error::Error;
pub use strategy::{AssetBalance, Inventory, LiveOrder, ReferencePrice, Strategy};
