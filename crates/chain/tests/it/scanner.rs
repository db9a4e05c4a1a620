//! The event scanner: bounded pages from a cursor, the secret of a claim, a restart from a
//! stored cursor that neither misses nor repeats events, the last block of each batch, and
//! what real chains and endpoints do to a scan: reorgs (made with `anvil_reorg`), logs that
//! lag the head, and logs of orphaned blocks (made with a misbehaving proxy).

use alloy_primitives::{Address, B256, U256, hex};
use alloy_sol_types::SolCall;
use dex_chain::{
    BlockRef, ChainClient, ChainError, ChainEvent, ClientConfig, Htlc, HtlcClient, HtlcEvent,
    LockParams, LockState, Reorg, ScanCursor,
};
use dex_test_utils::{anvil::Anvil, anvil_key};
use serde_json::{Value, json};

use crate::{
    proxy::{Mode, Proxy},
    support::{CHAIN_B, Chain, HOUR, secret, units},
};

/// Scans from `cursor` until caught up; returns the events, the final cursor, the number of
/// batches, and the last batch's last block. No batch may report a reorg.
async fn scan_all(
    htlc: &HtlcClient,
    mut cursor: ScanCursor,
) -> anyhow::Result<(Vec<ChainEvent>, ScanCursor, usize, Option<BlockRef>)> {
    let mut events = Vec::new();
    let mut pages = 0;
    loop {
        let batch = htlc.scan(&cursor).await?;
        pages += 1;
        assert_eq!(batch.reorg, None);
        assert!(batch.cursor.next_block() >= cursor.next_block());
        // Every event is at or below the batch's last block.
        if let Some(last) = batch.last_block {
            assert_eq!(last.number + 1, batch.cursor.next_block());
            assert!(batch.events.iter().all(|e| e.block_number <= last.number));
        }
        events.extend(batch.events);
        cursor = batch.cursor;
        if batch.caught_up {
            return Ok((events, cursor, pages, batch.last_block));
        }
    }
}

/// A client of the chain's HTLC for Bob through `endpoint`, as a fresh process would build
/// it.
async fn watcher_at(
    chain: &Chain,
    endpoint: &str,
    config: ClientConfig,
) -> anyhow::Result<HtlcClient> {
    let client =
        ChainClient::connect(endpoint, chain.anvil.chain_id(), &anvil_key(1), config).await?;
    Ok(client.htlc_at(chain.htlc()).await?)
}

/// A watcher with a small scan range.
async fn watcher(chain: &Chain, max_scan_range: u64) -> anyhow::Result<HtlcClient> {
    let config = ClientConfig {
        max_scan_range,
        ..ClientConfig::local()
    };
    watcher_at(chain, &chain.anvil.endpoint(), config).await
}

/// Block `number` as the node reports it.
fn block(anvil: &Anvil, number: u64) -> anyhow::Result<BlockRef> {
    let block = anvil.rpc(
        "eth_getBlockByNumber",
        json!([format!("{number:#x}"), false]),
    )?;
    let quantity = |value: &Value| -> anyhow::Result<u64> {
        let hex = value.as_str().unwrap_or_default().trim_start_matches("0x");
        Ok(u64::from_str_radix(hex, 16)?)
    };
    Ok(BlockRef {
        number: quantity(&block["number"])?,
        hash: block["hash"].as_str().unwrap_or_default().parse()?,
        timestamp: quantity(&block["timestamp"])?,
    })
}

/// Replaces the last `depth` blocks with as many new ones, holding `txs` (each a
/// transaction request and the index of the new block it goes in).
fn reorg(anvil: &Anvil, depth: u64, txs: Value) -> anyhow::Result<()> {
    let height = anvil.block_number()?;
    anvil.rpc("anvil_reorg", json!([depth, txs]))?;
    anyhow::ensure!(anvil.block_number()? == height, "a reorg keeps the height");
    Ok(())
}

/// A transaction request for `anvil_reorg` that locks `params` (sent by Alice, whose key
/// anvil holds).
fn lock_tx(chain: &Chain, params: &LockParams) -> Value {
    let call = Htlc::lockCall {
        recipient: params.recipient,
        token: params.token,
        amount: params.amount,
        hashlock: params.hashlock,
        timelock: params.timelock,
    };
    json!({
        "from": params.sender,
        "to": chain.htlc(),
        "value": format!("{:#x}", params.amount),
        "data": hex::encode_prefixed(call.abi_encode()),
        "gas": "0x30000",
    })
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
    let (events, cursor, pages, last) = scan_all(&watcher, start).await?;
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
    assert_eq!(
        events[0].block_hash,
        block(&chain.anvil, locked.lock.block_number)?.hash
    );
    assert_eq!(events[1].block_number, claimed.block_number);
    assert_eq!(events[1].tx_hash, claimed.tx_hash);
    // The last batch ends at the head, with its number, hash and time.
    let head = chain.anvil.block_number()?;
    assert_eq!(cursor.next_block(), head + 1);
    assert_eq!(last, Some(block(&chain.anvil, head)?));
    assert_eq!(
        cursor.last_scanned(),
        Some((head, block(&chain.anvil, head)?.hash))
    );

    // The cursor is stored (as a driver's store would), the watcher "restarts" ...
    let stored = serde_json::to_string(&cursor)?;
    drop(watcher);
    let again = chain.params(Address::ZERO, units(2, 18), &secret).await?;
    let relocked = chain.alice.lock(&again).await?;
    chain.anvil.advance(HOUR)?;
    chain.alice.refund(&again).await?;

    // ... and a new one resumes: only what happened since, nothing twice.
    let watcher = crate::scanner::watcher(&chain, 1_000).await?;
    let (events, cursor, _, _) = scan_all(&watcher, serde_json::from_str(&stored)?).await?;
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

    // Nothing new: an empty, caught-up batch that keeps the cursor and reports the same
    // last block (with the time after the hour that passed).
    let batch = watcher.scan(&cursor).await?;
    assert!(batch.events.is_empty() && batch.caught_up);
    assert_eq!(batch.cursor, cursor);
    let head = block(&chain.anvil, chain.anvil.block_number()?)?;
    assert_eq!(batch.last_block, Some(head));
    assert!(head.timestamp >= chain.anvil.latest_timestamp()?);
    // A fresh cursor past the head has scanned nothing yet.
    let fresh = watcher
        .scan(&ScanCursor::from_block(head.number + 1))
        .await?;
    assert_eq!((fresh.last_block, fresh.caught_up), (None, true));
    Ok(())
}

#[tokio::test]
async fn the_scanner_reads_only_confirmed_blocks() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let config = ClientConfig {
        scan_confirmations: 3,
        ..ClientConfig::local()
    };
    let watcher = watcher_at(&chain, &chain.anvil.endpoint(), config).await?;
    let params = chain
        .params(Address::ZERO, units(1, 18), &secret(32))
        .await?;
    let locked = chain.alice.lock(&params).await?;
    let cursor = ScanCursor::from_block(locked.lock.block_number);

    let batch = watcher.scan(&cursor).await?;
    assert!(
        batch.events.is_empty(),
        "a block with 1 confirmation is not read yet"
    );
    assert_eq!(batch.cursor, cursor);
    // The head is reported all the same: it is the chain's clock for deadlines.
    let head = batch.head.expect("the head is reported");
    assert_eq!(head.number, locked.lock.block_number);
    assert_eq!(Some(head), watcher.chain().block(head.number).await?);
    chain.anvil.mine(2)?;
    let batch = watcher.scan(&cursor).await?;
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.events[0].event.id(), locked.id);
    assert_eq!(
        batch.last_block.map(|b| b.number),
        Some(locked.lock.block_number)
    );
    // Two blocks newer than the last one read, with its own hash and time.
    let head = batch.head.expect("the head is reported");
    assert_eq!(head.number, locked.lock.block_number + 2);
    assert_eq!(Some(head), watcher.chain().block(head.number).await?);
    Ok(())
}

#[tokio::test]
async fn a_reorg_of_scanned_blocks_is_reported_and_what_replaced_them_is_scanned()
-> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let watcher = watcher(&chain, 1_000).await?;
    let first = chain
        .params(Address::ZERO, units(1, 18), &secret(33))
        .await?;
    let locked = chain.alice.lock(&first).await?;
    chain.anvil.mine(2)?;
    let (events, cursor, _, _) =
        scan_all(&watcher, ScanCursor::from_block(chain.deploy_block)).await?;
    assert_eq!(events.len(), 1);
    let last = chain.anvil.block_number()?;
    assert_eq!(last, locked.lock.block_number + 2);

    // The three blocks from the lock on are replaced: the lock is gone, and another lock
    // (another secret) lands in the middle one.
    let second = chain
        .params(Address::ZERO, units(2, 18), &secret(34))
        .await?;
    reorg(&chain.anvil, 3, json!([[lock_tx(&chain, &second), 1]]))?;
    assert_eq!(
        chain.bob.lock_info(first.id()).await?.state,
        LockState::Absent
    );
    assert_eq!(
        chain.bob.lock_info(second.id()).await?.state,
        LockState::Locked
    );

    // The scanner notices, says from which block on what it delivered may be gone, and
    // resumes there.
    let batch = watcher.scan(&cursor).await?;
    assert_eq!(
        batch.reorg,
        Some(Reorg {
            first_changed_block: locked.lock.block_number,
            previous_last_block: last,
        })
    );
    assert!(batch.events.is_empty() && !batch.caught_up);
    assert_eq!(batch.cursor.next_block(), locked.lock.block_number);
    assert_eq!(
        batch.last_block,
        Some(block(&chain.anvil, locked.lock.block_number - 1)?)
    );
    // The new lock, in a block the scan had passed, is not missed.
    let (events, cursor, _, last_block) = scan_all(&watcher, batch.cursor).await?;
    let seen: Vec<_> = events.iter().map(|e| e.event.clone()).collect();
    assert_eq!(
        seen,
        vec![HtlcEvent::Locked {
            id: second.id(),
            params: second.clone()
        }]
    );
    assert_eq!(events[0].block_number, locked.lock.block_number + 1);
    assert_eq!(last_block, Some(block(&chain.anvil, last)?));
    assert_eq!(cursor.next_block(), last + 1);
    Ok(())
}

#[tokio::test]
async fn a_reorg_deeper_than_the_kept_hashes_is_an_error() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let config = ClientConfig {
        max_scan_range: 2,
        max_reorg_depth: 3,
        ..ClientConfig::local()
    };
    let watcher = watcher_at(&chain, &chain.anvil.endpoint(), config).await?;
    chain.anvil.mine(10)?;
    let (_, cursor, _, _) = scan_all(&watcher, ScanCursor::from_block(chain.deploy_block)).await?;
    let last = chain.anvil.block_number()?;

    // Within the depth: rewinds exactly to the first replaced block.
    reorg(&chain.anvil, 2, json!([]))?;
    let batch = watcher.scan(&cursor).await?;
    assert_eq!(
        batch.reorg,
        Some(Reorg {
            first_changed_block: last - 1,
            previous_last_block: last,
        })
    );
    let (_, cursor, _, _) = scan_all(&watcher, batch.cursor).await?;
    assert_eq!(cursor.next_block(), last + 1);

    // Deeper than the three hashes the cursor keeps: it cannot tell where the chains part.
    reorg(&chain.anvil, 5, json!([]))?;
    assert_eq!(
        watcher.scan(&cursor).await.err(),
        Some(ChainError::ReorgTooDeep {
            oldest_checked: last - 2,
            last_scanned: last,
            max_depth: 3,
        })
    );
    Ok(())
}

#[tokio::test]
async fn a_reorg_back_to_where_the_scan_started_rescans_from_there() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let watcher = watcher(&chain, 1_000).await?;
    let start = chain.anvil.block_number()? + 1;
    chain.anvil.mine(2)?;
    let (_, cursor, _, _) = scan_all(&watcher, ScanCursor::from_block(start)).await?;
    // Every block since the start, and the one before, are replaced.
    reorg(&chain.anvil, 3, json!([]))?;
    let batch = watcher.scan(&cursor).await?;
    assert_eq!(
        batch.reorg,
        Some(Reorg {
            first_changed_block: start,
            previous_last_block: start + 1,
        })
    );
    assert_eq!(batch.cursor, ScanCursor::from_block(start));
    assert_eq!(batch.last_block, None);
    Ok(())
}

#[tokio::test]
async fn logs_that_lag_the_head_are_refused_not_skipped() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let proxy = Proxy::start(chain.anvil.addr())?;
    let watcher = watcher_at(&chain, &proxy.endpoint(), ClientConfig::local()).await?;
    let (_, cursor, _, _) = scan_all(&watcher, ScanCursor::from_block(chain.deploy_block)).await?;

    let params = chain
        .params(Address::ZERO, units(1, 18), &secret(35))
        .await?;
    let locked = chain.alice.lock(&params).await?;
    chain.anvil.mine(1)?;
    // The endpoint's logs are two blocks behind its head: the lock's block is in the range
    // asked, but not in what its logs cover. Taking the empty answer would skip the lock
    // for good; the scan fails instead, and its cursor stays.
    proxy.set(Mode::LogsLag(2));
    for _ in 0..2 {
        match watcher.scan(&cursor).await {
            Err(ChainError::Inconsistent { reason }) => assert!(reason.contains("lag"), "{reason}"),
            other => panic!("expected Inconsistent, got {other:?}"),
        }
    }
    // Once the endpoint has caught up, the lock is there.
    proxy.set(Mode::Honest);
    let (events, _, _, _) = scan_all(&watcher, cursor).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event.id(), locked.id);
    Ok(())
}

#[tokio::test]
async fn logs_of_an_orphaned_block_are_refused() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let proxy = Proxy::start(chain.anvil.addr())?;
    let watcher = watcher_at(&chain, &proxy.endpoint(), ClientConfig::local()).await?;
    let params = chain
        .params(Address::ZERO, units(1, 18), &secret(36))
        .await?;
    let locked = chain.alice.lock(&params).await?;
    let block_hex = format!("{:#x}", locked.lock.block_number);
    let logs = chain.anvil.rpc(
        "eth_getLogs",
        json!([{"address": chain.htlc(), "fromBlock": block_hex, "toBlock": block_hex}]),
    )?;
    let logs = logs.as_array().cloned().unwrap_or_default();
    assert_eq!(logs.len(), 1);

    // The lock's block is replaced by an empty one; a stale backend still serves its log.
    reorg(&chain.anvil, 1, json!([]))?;
    assert_eq!(
        chain.bob.lock_info(locked.id).await?.state,
        LockState::Absent
    );
    proxy.set(Mode::StaleLogs(logs));
    let cursor = ScanCursor::from_block(chain.deploy_block);
    match watcher.scan(&cursor).await {
        Err(ChainError::Inconsistent { reason }) => {
            assert!(reason.contains("moved"), "{reason}");
        }
        other => panic!("a lock that is not on chain must not be delivered: {other:?}"),
    }
    proxy.set(Mode::Honest);
    let (events, _, _, _) = scan_all(&watcher, cursor).await?;
    assert!(events.is_empty(), "{events:?}");
    Ok(())
}

/// Events carry the hash of the block that holds them.
#[tokio::test]
async fn events_name_their_block_by_hash() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let params = chain
        .params(Address::ZERO, U256::from(7), &secret(37))
        .await?;
    let locked = chain.alice.lock(&params).await?;
    let event = chain.bob.find_lock(locked.id).await?.expect("locked");
    let expected = block(&chain.anvil, locked.lock.block_number)?.hash;
    assert_eq!(event.block_hash, expected);
    assert_ne!(event.block_hash, B256::ZERO);
    Ok(())
}
