//! The API against an in-process node: the axum router called with tower's `oneshot`, no
//! socket and no process. What needs a process (start-up, signals, the listen address,
//! WebSocket upgrades) is tested by spawning dexd (crates/dexd/tests/it).

mod access;
mod book;
mod limits;
mod openapi;
mod problems;
mod support;
