use dex_network::NetworkConfig;
use dex_protocol::sync::{SyncRequest, SyncResponse};
use dex_test_utils::eth_usdc_id;

use crate::{connect, request_answered, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_request_gets_its_answer() -> anyhow::Result<()> {
    let (a, _a_events) = start(NetworkConfig::loopback()).await?;
    let (b, b_events) = start(NetworkConfig::loopback()).await?;
    connect(&a, &b).await?;
    request_answered(&a, &b, b_events).await
}

/// The codec reads at most `MAX_RESPONSE_SIZE` bytes of a sync answer: a page one byte
/// longer is refused before it is parsed, however valid its JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_answers_over_the_size_limit_are_refused_by_the_codec() -> anyhow::Result<()> {
    use dex_network::codec::JsonCodec;
    use dex_protocol::{MAX_RESPONSE_SIZE, WireMessage};
    use libp2p::{StreamProtocol, request_response::Codec};

    let page = SyncResponse::OrdersPage {
        alives: Vec::new(),
        market: eth_usdc_id(),
        orders: Vec::new(),
        next_cursor: None,
    }
    .encode()?;
    let padded = |size: usize| {
        let mut bytes = page.clone();
        bytes.resize(size, b' ');
        futures::io::Cursor::new(bytes)
    };
    let protocol = StreamProtocol::new(dex_protocol::SYNC_PROTOCOL);
    let mut codec = JsonCodec::<SyncRequest, SyncResponse>::default();
    let at_limit = codec
        .read_response(&protocol, &mut padded(MAX_RESPONSE_SIZE))
        .await?;
    assert!(matches!(at_limit, SyncResponse::OrdersPage { .. }));
    let over = codec
        .read_response(&protocol, &mut padded(MAX_RESPONSE_SIZE + 1))
        .await;
    let err = over.expect_err("one byte over the limit");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    Ok(())
}
