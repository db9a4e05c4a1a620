//! dexd black-box tests: real `dexd` processes on loopback with temp data dirs and
//! ephemeral ports, driven over HTTP and WebSocket like any client.

mod api;
mod client_orders;
mod harness;
mod lab;
mod lab_churn;
mod prometheus;
mod propagation;
mod settlement;
mod startup;
