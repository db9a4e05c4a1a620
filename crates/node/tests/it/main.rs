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
    Ok(dex_network::spawn(
        Keypair::generate_ed25519(),
        NetworkConfig::loopback(),
        &mut dex_network::Registry::default(),
    )
    .await?)
}

/// `registry` encoded as dexd's `/metrics` serves it, read back with an OpenMetrics parser.
pub(crate) fn scrape(registry: &dex_node::Registry) -> dex_test_utils::metrics::Scrape {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)
        .expect("encoding into a String cannot fail");
    dex_test_utils::metrics::Scrape::parse(&text).unwrap_or_else(|err| panic!("{err}"))
}
