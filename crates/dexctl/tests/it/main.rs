//! dexctl integration tests: run the binary as a user would.

mod lifecycle;
mod offline;
mod online;
