//! The chain event loop on a real anvil chain: it reports the head and the confirmed
//! position, sends what it is asked and reports it mined, re-sends a stuck transaction with
//! higher fees, and reports an endpoint that fails once while it retries with a growing
//! delay.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use alloy_primitives::{Address, U256};
use dex_chain::{
    ChainError, ChainHandle, ChainLoopConfig, ChainLoopEvent, ClientConfig, HtlcEvent, LockState,
    TxRequest,
};
use dex_test_utils::anvil_key;
use serde_json::json;
use tokio::sync::mpsc;

use crate::{
    proxy::{Mode, Proxy},
    support::{CHAIN_A, Chain, secret, units, wait_for_pending},
};

type Events = mpsc::Receiver<ChainLoopEvent<u32>>;

/// The longest any condition here is waited for.
const DEADLINE: Duration = Duration::from_secs(30);

/// Starts a loop on `url` for the HTLC of `chain`, signing with the anvil keys `keys`,
/// reading their native balances, with `client` settings.
fn start(
    chain: &Chain,
    url: String,
    keys: &[usize],
    client: ClientConfig,
) -> (ChainHandle<u32>, Events, Arc<AtomicU64>) {
    let readings = Arc::new(AtomicU64::new(0));
    let clock = {
        let readings = readings.clone();
        // Counts the readings started: each is stamped with its number.
        Arc::new(move || readings.fetch_add(1, Ordering::SeqCst) + 1)
    };
    let config = ChainLoopConfig {
        client,
        balance_tokens: vec![Address::ZERO],
        // Only the first reading and those asked for.
        balance_interval: Duration::from_secs(3_600),
        ..ChainLoopConfig::new(CHAIN_A, url, chain.htlc(), chain.deploy_block)
    };
    let traders = keys.iter().map(|&index| anvil_key(index)).collect();
    let (handle, events) = dex_chain::spawn(config, traders, None, clock);
    (handle, events, readings)
}

/// The first event `pick` takes, skipping the others; fails after [`DEADLINE`].
async fn next<R>(
    events: &mut Events,
    what: &str,
    mut pick: impl FnMut(ChainLoopEvent<u32>) -> Option<R>,
) -> anyhow::Result<R> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| anyhow::anyhow!("no {what} in time"))?
            .ok_or_else(|| anyhow::anyhow!("the loop stopped before {what}"))?;
        if let Some(found) = pick(event) {
            return Ok(found);
        }
    }
}

/// Waits for the loop to connect: the balances come first, then `Connected`.
async fn connected(events: &mut Events) -> anyhow::Result<Vec<dex_chain::BalanceReading>> {
    let readings = next(events, "balances", |event| match event {
        ChainLoopEvent::Balances { readings, .. } => Some(readings),
        _ => None,
    })
    .await?;
    let event = events.recv().await;
    anyhow::ensure!(
        matches!(event, Some(ChainLoopEvent::Connected { chain_id: CHAIN_A })),
        "connected right after the balances, got {event:?}"
    );
    Ok(readings)
}

#[tokio::test]
async fn the_loop_reports_the_head_and_the_confirmed_position() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let client = ClientConfig {
        scan_confirmations: 3,
        ..ClientConfig::local()
    };
    // Carol's key: Alice's own client locks below.
    let (_handle, mut events, _) = start(&chain, chain.anvil.endpoint(), &[2], client);
    let readings = connected(&mut events).await?;
    let carol = chain.carol.chain().account();
    assert_eq!(readings.len(), 1);
    assert_eq!(readings[0].owner, carol);
    assert_eq!(
        readings[0].amount,
        chain.alice.chain().balance(Address::ZERO, carol).await?
    );

    let params = chain
        .params(Address::ZERO, units(1, 18), &secret(91))
        .await?;
    let locked_in = chain.alice.lock(&params).await?.lock.block_number;
    chain.anvil.mine(4)?;
    let head = chain.anvil.block_number()?;
    assert_eq!(head, locked_in + 4);

    // The lock is reported once its block has three confirmations, with the head.
    let (batch_last, batch_head) = next(&mut events, "the lock", |event| match event {
        ChainLoopEvent::Scanned { batch, .. }
            if batch.events.iter().any(
                |event| matches!(event.event, HtlcEvent::Locked { id, .. } if id == params.id()),
            ) =>
        {
            Some((batch.last_block, batch.head))
        }
        _ => None,
    })
    .await?;
    let (Some(last), Some(head_seen)) = (batch_last, batch_head) else {
        anyhow::bail!("a batch with events names its last block and the head");
    };
    assert!(last.number >= locked_in);
    assert_eq!(head_seen.number, last.number + 2, "confirmed = head - 2");

    // Caught up: the confirmed position stands two blocks under the head.
    let (last, head_seen) = next(&mut events, "the caught-up position", |event| match event {
        ChainLoopEvent::Scanned { batch, .. } if batch.caught_up => {
            Some((batch.last_block?.number, batch.head?))
        }
        _ => None,
    })
    .await?;
    assert_eq!(head_seen.number, head);
    assert_eq!(last, head - 2);
    assert_eq!(
        Some(head_seen.timestamp),
        chain
            .alice
            .chain()
            .block(head)
            .await?
            .map(|block| block.timestamp)
    );
    Ok(())
}

#[tokio::test]
async fn a_submitted_claim_is_reported_mined() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let amount = units(1, 18);
    let params = chain.params(Address::ZERO, amount, &secret(92)).await?;
    chain.alice.lock(&params).await?;
    // Bob's key claims: the lock pays him, and his is the account whose gas was judged,
    // whichever other keys the loop holds. Alice's is not the loop's.
    let (handle, mut events, readings) = start(
        &chain,
        chain.anvil.endpoint(),
        &[2, 3, 4, 1, 5, 6, 7, 8, 9],
        ClientConfig::local(),
    );
    connected(&mut events).await?;
    let bob = chain.bob.chain().account();
    let before = chain.alice.chain().balance(Address::ZERO, bob).await?;

    let claim = TxRequest::Claim {
        params: params.clone(),
        secret: secret(92),
    };
    assert!(handle.submit(7, claim.clone()).await?);
    // The same tag while it is on its way sends nothing.
    assert!(!handle.submit(7, claim).await?);
    // A lock by a key the loop does not hold is refused.
    assert_eq!(
        handle.submit(8, TxRequest::Lock(params.clone())).await,
        Err(ChainError::NoSigner {
            chain_id: CHAIN_A,
            account: params.sender
        })
    );

    let sent = next(&mut events, "the claim sent", |event| match event {
        ChainLoopEvent::TxSent {
            tag: 7, what, sent, ..
        } => Some((what, sent)),
        _ => None,
    })
    .await?;
    assert_eq!(sent.0, "claim");
    assert_eq!(sent.1.from, bob);
    let outcome = next(&mut events, "the claim mined", |event| match event {
        ChainLoopEvent::TxDone { tag: 7, result, .. } => Some(result),
        _ => None,
    })
    .await??;
    assert_eq!(outcome.tx_hash, sent.1.tx_hashes[0]);
    assert_eq!(
        chain.bob.lock_info(params.id()).await?.state,
        LockState::Claimed
    );
    let after = chain.alice.chain().balance(Address::ZERO, bob).await?;
    assert_eq!(after, before + amount - outcome.fee());

    // Asked balances come from a fresh reading that sees the claim.
    let started = readings.load(Ordering::SeqCst);
    handle.refresh_balances();
    let reading = next(&mut events, "fresh balances", |event| match event {
        ChainLoopEvent::Balances { readings, .. } => {
            readings.into_iter().find(|reading| reading.owner == bob)
        }
        _ => None,
    })
    .await?;
    assert!(reading.started_at > started);
    assert_eq!(reading.amount, after);
    assert_eq!(handle.balance(Address::ZERO, bob).await?, after);

    // The tag is free again: a second claim is sent, and refused by the HTLC.
    let again = TxRequest::Claim {
        params: params.clone(),
        secret: secret(92),
    };
    assert!(handle.submit(7, again).await?);
    let refused = next(&mut events, "the second claim's end", |event| match event {
        ChainLoopEvent::TxDone { tag: 7, result, .. } => Some(result),
        _ => None,
    })
    .await?;
    assert!(
        matches!(refused, Err(ChainError::Htlc(_))),
        "a claim of a claimed lock is refused: {refused:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_stuck_transaction_is_resent_with_higher_fees() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let params = chain
        .params(Address::ZERO, units(1, 18), &secret(93))
        .await?;
    let client = ClientConfig {
        resend_interval: Duration::from_millis(200),
        ..ClientConfig::local()
    };
    // Alice's key locks through the loop only.
    let (handle, mut events, _) = start(&chain, chain.anvil.endpoint(), &[0], client);
    connected(&mut events).await?;
    chain.anvil.rpc("evm_setAutomine", json!([false]))?;

    assert!(handle.submit(1, TxRequest::Lock(params.clone())).await?);
    let first = next(&mut events, "the lock sent", |event| match event {
        ChainLoopEvent::TxSent { tag: 1, sent, .. } => Some(sent),
        _ => None,
    })
    .await?;
    assert_eq!(first.tx_hashes.len(), 1);
    wait_for_pending(&chain.anvil, 1).await?;
    // A block whose base fee (100 gwei) is above the lock's max fee: anvil drops it.
    chain
        .anvil
        .rpc("anvil_setNextBlockBaseFeePerGas", json!(["0x174876e800"]))?;
    chain.anvil.mine_one()?;

    let resent = next(&mut events, "the lock re-sent", |event| match event {
        ChainLoopEvent::TxSent { tag: 1, sent, .. } if sent.tx_hashes.len() > 1 => Some(sent),
        _ => None,
    })
    .await?;
    assert_eq!(resent.nonce, first.nonce);
    assert_eq!(resent.tx_hashes[0], first.tx_hashes[0]);
    wait_for_pending(&chain.anvil, 1).await?;
    chain.anvil.mine_one()?;

    let outcome = next(&mut events, "the lock mined", |event| match event {
        ChainLoopEvent::TxDone { tag: 1, result, .. } => Some(result),
        _ => None,
    })
    .await??;
    assert_ne!(
        outcome.tx_hash, first.tx_hashes[0],
        "a re-sent version was mined"
    );
    assert!(resent.tx_hashes.contains(&outcome.tx_hash));
    // It paid at least the base fee after the spike (87.5 gwei).
    assert!(outcome.effective_gas_price >= 87_500_000_000);
    assert_eq!(
        chain.bob.lock_info(params.id()).await?.state,
        LockState::Locked
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_endpoint_is_reported_and_retried_with_a_growing_delay() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let proxy = Proxy::start(chain.anvil.addr())?;
    proxy.set(Mode::Down);
    let (handle, mut events, _) = start(&chain, proxy.endpoint(), &[2], ClientConfig::local());

    // Connecting fails: every attempt is reported, each waiting twice as long as the last.
    let mut delays = Vec::new();
    while delays.len() < 3 {
        let (error, retry_in) = next(&mut events, "unreachable", |event| match event {
            ChainLoopEvent::Unreachable {
                error, retry_in, ..
            } => Some((error, retry_in)),
            _ => None,
        })
        .await?;
        assert!(error.contains("backend down"), "{error}");
        delays.push(retry_in);
    }
    assert_eq!(
        delays,
        [100, 200, 400].map(Duration::from_millis).to_vec(),
        "the delay doubles from 100 ms"
    );
    assert_eq!(
        handle.balance(Address::ZERO, Address::ZERO).await,
        Err(ChainError::NotConnected { chain_id: CHAIN_A })
    );
    proxy.set(Mode::Honest);
    connected(&mut events).await?;
    next(&mut events, "a scan", |event| {
        matches!(event, ChainLoopEvent::Scanned { .. }).then_some(())
    })
    .await?;

    // A scan failure is reported once while the scans are retried.
    proxy.set(Mode::Down);
    let retry_in = next(&mut events, "unreachable", |event| match event {
        ChainLoopEvent::Unreachable { retry_in, .. } => Some(retry_in),
        _ => None,
    })
    .await?;
    assert_eq!(retry_in, Duration::from_millis(500));
    let refused = proxy.refused();
    let deadline = tokio::time::Instant::now() + DEADLINE;
    // Two more scans fail (each makes at least one call).
    while proxy.refused() < refused + 2 {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "no retry");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    proxy.set(Mode::Honest);
    next(
        &mut events,
        "a scan after the failures",
        |event| match event {
            ChainLoopEvent::Unreachable { .. } => {
                Some(Err(anyhow::anyhow!("a failing scan is reported only once")))
            }
            ChainLoopEvent::Scanned { .. } => Some(Ok(())),
            _ => None,
        },
    )
    .await??;
    Ok(())
}

#[tokio::test]
async fn handles_fail_once_the_loop_stopped() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let (handle, mut events, _) =
        start(&chain, chain.anvil.endpoint(), &[2], ClientConfig::local());
    connected(&mut events).await?;
    handle.shutdown().await;
    // The loop drops its sender: the receiver ends after what was queued.
    while events.recv().await.is_some() {}
    assert_eq!(
        handle.balance(Address::ZERO, Address::ZERO).await,
        Err(ChainError::Stopped)
    );
    assert_eq!(
        handle
            .submit(
                1,
                TxRequest::Refund(chain.alice.lock_params(
                    Address::ZERO,
                    Address::ZERO,
                    U256::from(1),
                    secret(94).hashlock(),
                    1
                ))
            )
            .await,
        Err(ChainError::Stopped)
    );
    Ok(())
}
