use dex_network::{NetworkConfig, NetworkEvent, Request, Response};
use dex_protocol::sync::{SyncRequest, SyncResponse};
use dex_test_utils::eth_usdc_id;

use crate::{DEADLINE, connect, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_request_gets_its_answer() -> anyhow::Result<()> {
    let (a, _a_events) = start(NetworkConfig::loopback()).await?;
    let (b, mut b_events) = start(NetworkConfig::loopback()).await?;
    connect(&a, &b).await?;
    let request = SyncRequest::GetOrders {
        market: eth_usdc_id(),
        cursor: None,
        limit: 10,
        maker: None,
    };
    let server = tokio::spawn({
        let b = b.clone();
        async move {
            loop {
                match b_events.recv().await {
                    Some(NetworkEvent::Request { id, request, .. }) => {
                        assert!(matches!(
                            request,
                            Request::Sync(SyncRequest::GetOrders { .. })
                        ));
                        let page = SyncResponse::OrdersPage {
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
    let response =
        tokio::time::timeout(DEADLINE, a.request(b.peer_id(), Request::Sync(request))).await??;
    assert!(matches!(
        response,
        Response::Sync(SyncResponse::OrdersPage { ref orders, .. }) if orders.is_empty()
    ));
    server.await??;
    Ok(())
}
