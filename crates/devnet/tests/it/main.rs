//! dex-devnet integration tests: one binary (compiles and links once).
//!
//! Everything runs on loopback with ephemeral ports and instant mining; processes are
//! checked by pid, so a test fails if anything it started outlives it.

mod binary;
mod chains;
mod e2e;
mod supervisor;
mod support;
mod up;
