//! dex-swap tests: every path on simulated chains, and crash/restart at every step.

mod adversarial;
mod chains;
mod crash;
mod paths;
mod sim;
