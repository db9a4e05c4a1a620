//! The p2pdex atomic swap (DESIGN §7) as a sans-IO state machine.
//!
//! Two chains, two HTLCs, one secret. The taker holds the secret and locks first on its
//! chain with the longer timelock T1; the maker locks on its chain with T2 < T1 − margin
//! once it sees the taker's lock on chain; the taker claims the maker's lock, revealing the
//! secret; the maker claims the taker's lock with it. Either side refunds after its own
//! timelock if the swap stalls.
//!
//! [`Swap::handle`] takes an [`Event`] (what a chain showed, what a peer said, or a tick)
//! and the local time, and returns [`Action`]s for the shell to perform. Decisions rest on
//! chain observations only; a peer's message can at most deliver the secret, which proves
//! itself against the hashlock. Timelocks are set and judged in each chain's block time.
//! The shell persists each event before performing the actions it produced; on restart,
//! [`Swap::resume`] re-issues whatever may have been in flight.

mod error;
mod machine;
mod types;

pub use error::Error;
pub use machine::{
    Action, Event, Hint, MAX_CHAIN_TIME_JUMP_SECS, Notice, Outcome, Phase, Reservation, Swap,
};
pub use types::{
    Leg, LockInfo, LockTerms, Mismatch, Role, ScanLag, Secret, SwapId, SwapParams, Timing,
};
