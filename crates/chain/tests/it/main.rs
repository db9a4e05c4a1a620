//! dex-chain integration tests, one binary: real anvil chains (ids 31337 and 31338) started
//! from the workspace's pinned `.tools/` on 127.0.0.1, the committed contract artifacts, and
//! the client. Time-dependent paths move chain time with `evm_increaseTime`; nothing waits.

mod artifacts;
mod client;
mod erc20;
mod eth;
mod gas;
mod rejections;
mod scanner;
mod support;
