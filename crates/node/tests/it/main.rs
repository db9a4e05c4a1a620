//! Integration tests of dex-node (one test binary, see STYLE.md): whole nodes in one process
//! on loopback, waiting on conditions with deadlines.

mod abuse;
mod counterparty;
mod liveness;
mod partition;
mod replication;
mod settlement;
mod sim;
mod state;
mod sync;
mod sync_limits;

use dex_network::{Keypair, NetworkConfig, NetworkEvent, NetworkHandle};
use tokio::sync::mpsc;

/// A bare network instance (no node behind it) that a test drives by hand, e.g. as an
/// attacker: it only publishes and never judges what it receives.
pub(crate) async fn raw_peer() -> anyhow::Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>)> {
    Ok(dex_network::spawn(Keypair::generate_ed25519(), NetworkConfig::loopback()).await?)
}
