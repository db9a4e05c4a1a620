//! dex-swap tests: every path on simulated chains, and crash/restart at every step.

mod adversarial;
mod crash;
mod paths;
mod sim;
