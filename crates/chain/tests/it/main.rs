//! dex-chain integration tests, one binary: real anvil chains (ids 31337 and 31338) started
//! from the workspace's pinned `.tools/` on 127.0.0.1, the committed contract artifacts, and
//! the client. Time-dependent paths move chain time with `evm_increaseTime`, reorgs come from
//! `anvil_reorg`, fee spikes from `anvil_setNextBlockBaseFeePerGas`; nothing waits a fixed time.

mod artifacts;
mod client;
mod erc20;
mod eth;
mod event_loop;
mod gas;
mod ids;
mod nonces;
mod proxy;
mod rejections;
mod scanner;
mod support;
