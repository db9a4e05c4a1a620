//! The event scanner: bounded pages from a cursor, the secret of a claim, and a restart
//! from a stored cursor that neither misses nor repeats events.

use alloy_primitives::Address;
use dex_chain::{ChainEvent, ClientConfig, HtlcClient, HtlcEvent, ScanCursor};
use dex_test_utils::anvil_key;

use crate::support::{CHAIN_B, Chain, HOUR, secret, units};

/// Scans from `cursor` until caught up; returns the events and the final cursor.
async fn scan_all(
    htlc: &HtlcClient,
    mut cursor: ScanCursor,
) -> anyhow::Result<(Vec<ChainEvent>, ScanCursor, usize)> {
    let mut events = Vec::new();
    let mut pages = 0;
    loop {
        let batch = htlc.scan(cursor).await?;
        pages += 1;
        assert!(batch.cursor.next_block >= cursor.next_block);
        events.extend(batch.events);
        cursor = batch.cursor;
        if batch.caught_up {
            return Ok((events, cursor, pages));
        }
    }
}

/// A client of the chain's HTLC for Bob with a small scan range, as a fresh process would
/// build it.
async fn watcher(chain: &Chain, max_scan_range: u64) -> anyhow::Result<HtlcClient> {
    let config = ClientConfig {
        max_scan_range,
        ..ClientConfig::local()
    };
    let client = dex_chain::ChainClient::connect(
        &chain.anvil.endpoint(),
        chain.anvil.chain_id(),
        &anvil_key(1),
        config,
    )
    .await?;
    Ok(client.htlc_at(chain.htlc()).await?)
}

#[tokio::test]
async fn the_scanner_finds_the_secret_and_resumes_from_a_stored_cursor() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let secret = secret(31);
    let params = chain.params(Address::ZERO, units(1, 18), &secret).await?;
    let locked = chain.alice.lock(&params).await?;
    chain.anvil.mine(5)?; // some empty blocks between lock and claim
    let claimed = chain.bob.claim(&params, &secret).await?;

    let watcher = watcher(&chain, 2).await?;
    let start = ScanCursor::from_block(chain.deploy_block);
    let (events, cursor, pages) = scan_all(&watcher, start).await?;
    assert!(
        pages >= 4,
        "a 2-block range needs several pages, took {pages}"
    );
    let seen: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        seen,
        vec![
            HtlcEvent::Locked {
                id: locked.id,
                params: params.clone()
            },
            HtlcEvent::Claimed {
                id: locked.id,
                secret: secret.clone()
            },
        ]
    );
    assert_eq!(events[0].block_number, locked.lock.block_number);
    assert_eq!(events[1].block_number, claimed.block_number);
    assert_eq!(events[1].tx_hash, claimed.tx_hash);
    assert_eq!(cursor.next_block, chain.anvil.block_number()? + 1);

    // The cursor is stored (as a driver's store would), the watcher "restarts" ...
    let stored = serde_json::to_string(&cursor)?;
    drop(watcher);
    let again = chain.params(Address::ZERO, units(2, 18), &secret).await?;
    let relocked = chain.alice.lock(&again).await?;
    chain.anvil.advance(HOUR)?;
    chain.alice.refund(&again).await?;

    // ... and a new one resumes: only what happened since, nothing twice.
    let watcher = crate::scanner::watcher(&chain, 1_000).await?;
    let (events, _, _) = scan_all(&watcher, serde_json::from_str(&stored)?).await?;
    let seen: Vec<_> = events.into_iter().map(|e| e.event).collect();
    assert_eq!(
        seen,
        vec![
            HtlcEvent::Locked {
                id: relocked.id,
                params: again.clone()
            },
            HtlcEvent::Refunded { id: relocked.id },
        ]
    );

    // Nothing new: an empty, caught-up batch that keeps the cursor.
    let cursor = ScanCursor::from_block(chain.anvil.block_number()? + 1);
    let batch = watcher.scan(cursor).await?;
    assert!(batch.events.is_empty() && batch.caught_up);
    assert_eq!(batch.cursor, cursor);
    Ok(())
}

#[tokio::test]
async fn the_scanner_reads_only_confirmed_blocks() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let config = ClientConfig {
        scan_confirmations: 3,
        ..ClientConfig::local()
    };
    let watcher = dex_chain::ChainClient::connect(
        &chain.anvil.endpoint(),
        chain.anvil.chain_id(),
        &anvil_key(2),
        config,
    )
    .await?
    .htlc_at(chain.htlc())
    .await?;
    let params = chain
        .params(Address::ZERO, units(1, 18), &secret(32))
        .await?;
    let locked = chain.alice.lock(&params).await?;
    let cursor = ScanCursor::from_block(locked.lock.block_number);

    let batch = watcher.scan(cursor).await?;
    assert!(
        batch.events.is_empty(),
        "a block with 1 confirmation is not read yet"
    );
    assert_eq!(batch.cursor, cursor);
    chain.anvil.mine(2)?;
    let batch = watcher.scan(cursor).await?;
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.events[0].event.id(), locked.id);
    Ok(())
}
