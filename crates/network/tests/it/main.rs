//! Integration tests of dex-network (one test binary, see STYLE.md): real swarms on loopback.

mod discovery;
mod gossip;
mod limits;
mod relay;
mod sync;

use std::time::Duration;

use dex_network::{
    Keypair, Multiaddr, NetworkConfig, NetworkEvent, NetworkHandle, Request, Response, with_peer,
};
use dex_protocol::sync::{SyncRequest, SyncResponse};
use dex_test_utils::eth_usdc_id;
use tokio::sync::mpsc;

pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

pub(crate) async fn start(
    config: NetworkConfig,
) -> anyhow::Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>)> {
    Ok(dex_network::spawn(
        Keypair::generate_ed25519(),
        config,
        &mut dex_network::Registry::default(),
    )
    .await?)
}

/// `node`'s first listen address, with its `/p2p/<peer id>`.
pub(crate) async fn address_of(node: &NetworkHandle) -> anyhow::Result<Multiaddr> {
    let address = node
        .listen_addrs()
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no listen address"))?;
    Ok(with_peer(address, node.peer_id()))
}

/// Dials `to` from `from` by its first listen address.
pub(crate) async fn connect(from: &NetworkHandle, to: &NetworkHandle) -> anyhow::Result<()> {
    from.dial(address_of(to).await?).await?;
    Ok(())
}

/// Polls `condition` until it holds; fails after [`DEADLINE`].
pub(crate) async fn wait_for<F, Fut>(what: &str, condition: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    Ok(dex_test_utils::wait_for(what, DEADLINE, condition).await?)
}

/// `a` asks `b` for a page of ETH/USDC orders; `b` (reading `events`) sees a `GetOrders`
/// and answers one empty page, which `a` gets.
pub(crate) async fn request_answered(
    a: &NetworkHandle,
    b: &NetworkHandle,
    mut events: mpsc::Receiver<NetworkEvent>,
) -> anyhow::Result<()> {
    let server = tokio::spawn({
        let b = b.clone();
        async move {
            loop {
                match events.recv().await {
                    Some(NetworkEvent::Request { id, request, .. }) => {
                        assert!(matches!(
                            request,
                            Request::Sync(SyncRequest::GetOrders { .. })
                        ));
                        let page = SyncResponse::OrdersPage {
                            alives: Vec::new(),
                            market: eth_usdc_id(),
                            orders: Vec::new(),
                            next_cursor: None,
                        };
                        b.respond(id, Response::Sync(page)).await?;
                        return anyhow::Ok(());
                    }
                    Some(_) => continue,
                    None => anyhow::bail!("closed"),
                }
            }
        }
    });
    let request = Request::Sync(SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: None,
        limit: 10,
        maker: None,
    });
    let response = tokio::time::timeout(DEADLINE, a.request(b.peer_id(), request)).await??;
    assert!(matches!(
        response,
        Response::Sync(SyncResponse::OrdersPage { ref orders, .. }) if orders.is_empty()
    ));
    server.await?
}
