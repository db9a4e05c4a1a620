//! dexctl integration tests: run the binary as a user would.

mod offline;
mod online;
