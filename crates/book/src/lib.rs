//! The deterministic order book of p2pdex (DESIGN §4).
//!
//! Every node keeps a [`Book`] per market holding every signed order it has seen, and every
//! node must reach the same book from the same orders and updates whatever order they arrive
//! in. The book is pure: it is given [`dex_primitives::VerifiedOrder`]s,
//! [`dex_primitives::VerifiedUpdate`]s and a `now`, and it answers with results and
//! [`Event`]s. It has no clock, does no I/O, and never matches by itself: a match is a swap
//! between two nodes, so the book *plans* matches ([`Book::plan`]), keeps the maker side's
//! reservations ([`Book::reserve`], [`Book::release`], [`Book::commit`]), and reports resting
//! orders of different makers that cross ([`Event::Crossed`], [`Book::pending_crosses`]) with
//! the taker every node agrees on.
//!
//! # Rules
//! - Price-time priority; time is the signed `createdAt`, ties broken by order id.
//! - Remaining only goes down: the minimum seen is kept; zero removes the order.
//! - A cancelled, filled or dropped order leaves a tombstone until its expiry, so a
//!   re-gossiped copy cannot bring it back (no ghost orders). Past the tombstone cap the
//!   soonest-expiring tombstone is forgotten and orders expiring no later than it are
//!   refused from then on ([`Book::forgotten_until`]), so a forgotten one cannot come back
//!   either.
//! - Every table is capped: visible, suspended and closed orders per market, open orders per
//!   maker ([`BookConfig`]; `book.rs` states what each cap does when it binds).
//! - Time is the largest `now` given; calls that take one expire what is due first, and an
//!   order already expired at the book's time is refused.
//! - Quantities of an open order: `remaining` (as signed or committed) = `reserved` (promised
//!   to takes in progress, never offered) + available (offered, summed in depth). Each
//!   order's quantity = committed + lowered by updates + remaining.
//!
//! # Performance
//! `benches/compare.rs` runs the same operation stream through this book, `lobster` and
//! `orderbook-rs`; `benches/memory.rs` reports heap bytes per resting order. The layout
//! choices (arena of slots, levels addressed by id with a direct window of ticks,
//! contiguous level queues, append-mostly expiry queues, a seeded two-word hasher for
//! digests) are explained in `book.rs` and `ladder.rs`.
//!
//! # Use
//! ```
//! # use std::sync::Arc;
//! # use dex_book::{Book, BookConfig, Event, Taker};
//! # use dex_primitives::{Lots, Side};
//! # use dex_test_utils::{OrderBuilder, T0, eth_usdc_id, trader};
//! let mut book = Book::new(eth_usdc_id(), BookConfig::default());
//! let ask = OrderBuilder::new().maker(&trader(1)).side(Side::Sell).price(100).quantity(5).verified();
//! book.insert(Arc::new(ask.clone()), T0).unwrap();
//! assert!(matches!(book.drain_events().next(), Some(Event::Inserted(_))));
//!
//! let bid = OrderBuilder::new().maker(&trader(2)).side(Side::Buy).price(101).quantity(3)
//!     .created_at(T0 + 1).verified();
//! let plan = book.plan(&Taker::from_order(&bid), T0 + 1);
//! assert_eq!(plan.fills[0].maker_order, ask.id());
//! assert_eq!(plan.quantity(), Lots(3));
//! ```

mod book;
mod due;
mod error;
mod event;
mod hash;
#[cfg(test)]
mod invariants;
mod ladder;
mod plan;
mod view;

pub use book::{Book, BookConfig, Footprint};
pub use error::Error;
pub use event::{Cross, Event, OrderRef, RemoveReason};
pub use plan::{Plan, PlannedFill, Taker};
pub use view::{Depth, DepthLevel, OrderStatus, OrderView, Top, orders_digest};
