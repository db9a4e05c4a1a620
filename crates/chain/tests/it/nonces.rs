//! The client's own transactions: one stuck under a fee spike is re-sent at its nonce with
//! higher fees (and so stops blocking the ones behind it), a wait that runs out says which
//! transaction it waited for, and a restarted process can tell whether it, or a
//! replacement, was mined, and resume it.
//!
//! Mining is switched to manual (`evm_setAutomine false`) so that the tests decide when
//! blocks come. A fee spike is made with `anvil_setNextBlockBaseFeePerGas`: a block whose
//! base fee exceeds a pending transaction's max fee leaves it out, and anvil drops it.

use std::time::Duration;

use alloy_primitives::{Address, B256};
use dex_chain::{ChainError, ClientConfig, HtlcClient, LockState, SentTx, TxStatus};
use dex_test_utils::anvil::Anvil;
use serde_json::json;

use crate::support::{
    CHAIN_A, Chain, connect_with, pending_count, secret, units, wait_for_pending,
};

/// 100 gwei, far above what the tests' transactions offer at anvil's 1 gwei base fee.
const SPIKE: &str = "0x174876e800";

async fn alice_with(chain: &Chain, config: ClientConfig) -> anyhow::Result<HtlcClient> {
    Ok(connect_with(&chain.anvil, 0, config)
        .await?
        .htlc_at(chain.htlc())
        .await?)
}

fn manual_mining(anvil: &Anvil) -> anyhow::Result<()> {
    anvil.rpc("evm_setAutomine", json!([false]))?;
    Ok(())
}

/// Mines one block whose base fee is the spike: pending transactions below it are dropped.
fn mine_through_a_fee_spike(anvil: &Anvil) -> anyhow::Result<()> {
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", json!([SPIKE]))?;
    anvil.mine_one()?;
    Ok(())
}

/// The hash of the version of `sender`'s transaction with `nonce` in the node's pool.
fn pooled_hash(anvil: &Anvil, sender: Address, nonce: u64) -> anyhow::Result<Option<B256>> {
    let content = anvil.rpc("txpool_content", json!([]))?;
    let sender = sender.to_string().to_lowercase();
    Ok(content["pending"][&sender][nonce.to_string()]["hash"]
        .as_str()
        .map(str::parse)
        .transpose()?)
}

#[tokio::test]
async fn a_stuck_transaction_is_resent_with_higher_fees_and_unblocks_those_behind_it()
-> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let alice = alice_with(
        &chain,
        ClientConfig {
            resend_interval: Duration::from_millis(200),
            ..ClientConfig::local()
        },
    )
    .await?;
    let first = chain
        .params(Address::ZERO, units(1, 18), &secret(71))
        .await?;
    let second = chain
        .params(Address::ZERO, units(2, 18), &secret(72))
        .await?;
    manual_mining(&chain.anvil)?;

    let stuck = alice.submit_lock(&first).await?;
    wait_for_pending(&chain.anvil, 1).await?;
    mine_through_a_fee_spike(&chain.anvil)?;
    assert_eq!(pending_count(&chain.anvil)?, 0, "the node dropped the lock");
    // The client still holds it: it is pending as far as a driver is concerned.
    assert_eq!(alice.chain().tx_status(&stuck).await?, TxStatus::Pending);

    // The next lock takes the next nonce; waiting for it keeps the stuck one moving.
    let behind = alice.submit_lock(&second).await?;
    assert_eq!(behind.nonce, stuck.nonce + 1);
    let waiter = {
        let (alice, behind) = (alice.clone(), behind.clone());
        tokio::spawn(async move { alice.chain().wait_for_tx(&behind).await })
    };
    // Both get into the pool (the stuck one re-sent, priced for the spike), one block
    // mines both.
    wait_for_pending(&chain.anvil, 2).await?;
    chain.anvil.mine_one()?;
    let behind_outcome = waiter.await??;
    assert_eq!(
        alice.chain().tx_status(&behind).await?,
        TxStatus::Mined {
            outcome: behind_outcome,
            succeeded: true
        }
    );

    let TxStatus::Mined { outcome, succeeded } = alice.chain().tx_status(&stuck).await? else {
        panic!("the stuck lock was mined");
    };
    assert!(succeeded);
    assert_ne!(
        outcome.tx_hash, stuck.tx_hashes[0],
        "a re-sent version was mined"
    );
    assert_eq!(outcome.block_number, behind_outcome.block_number);
    // It paid more than the first version offered: at least the spike's base fee.
    assert!(outcome.effective_gas_price >= 87_500_000_000);
    assert_eq!(alice.chain().wait_for_tx(&stuck).await?, outcome);
    for params in [&first, &second] {
        assert_eq!(
            chain.bob.lock_info(params.id()).await?.state,
            LockState::Locked
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_wait_that_runs_out_returns_the_transaction_which_a_restart_can_follow()
-> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let params = chain
        .params(Address::ZERO, units(1, 18), &secret(73))
        .await?;
    manual_mining(&chain.anvil)?;

    let before_restart = alice_with(
        &chain,
        ClientConfig {
            tx_timeout: Duration::from_millis(300),
            resend_interval: Duration::from_secs(3_600),
            ..ClientConfig::local()
        },
    )
    .await?;
    let sent = match before_restart.lock(&params).await {
        Err(ChainError::NotMined { what, sent, after }) => {
            assert_eq!((what.as_str(), after), ("lock", Duration::from_millis(300)));
            sent
        }
        other => panic!("expected NotMined, got {other:?}"),
    };
    assert_eq!(sent.from, chain.alice.chain().account());
    assert_eq!(sent.tx_hashes.len(), 1);
    assert_eq!(
        pooled_hash(&chain.anvil, sent.from, sent.nonce)?,
        Some(sent.tx_hashes[0])
    );
    assert_eq!(
        before_restart.chain().tx_status(&sent).await?,
        TxStatus::Pending
    );
    // The driver stored `sent` (JSON, as its database would) and the process stops.
    let stored = serde_json::to_string(&sent)?;
    drop(before_restart);

    // After the restart: the node still holds it; waiting on it adopts it and bumps its fees.
    let sent: SentTx = serde_json::from_str(&stored)?;
    let restarted = alice_with(
        &chain,
        ClientConfig {
            resend_interval: Duration::from_millis(100),
            ..ClientConfig::local()
        },
    )
    .await?;
    assert_eq!(restarted.chain().tx_status(&sent).await?, TxStatus::Pending);
    let waiter = {
        let (restarted, sent) = (restarted.clone(), sent.clone());
        tokio::spawn(async move { restarted.chain().wait_for_tx(&sent).await })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while pooled_hash(&chain.anvil, sent.from, sent.nonce)? == Some(sent.tx_hashes[0]) {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "never fee-bumped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    chain.anvil.mine_one()?;
    let outcome = waiter.await??;
    assert_ne!(outcome.tx_hash, sent.tx_hashes[0]);
    assert_eq!(
        chain.bob.lock_info(params.id()).await?.state,
        LockState::Locked
    );

    // This process knows the replacement; a process that only has the stored hashes knows
    // its nonce was used by a version it never saw.
    assert_eq!(
        restarted.chain().tx_status(&sent).await?,
        TxStatus::Mined {
            outcome,
            succeeded: true
        }
    );
    let another = alice_with(&chain, ClientConfig::local()).await?;
    assert_eq!(
        another.chain().tx_status(&sent).await?,
        TxStatus::Superseded
    );
    Ok(())
}

#[tokio::test]
async fn a_transaction_dropped_while_nobody_followed_it_is_reported_dropped() -> anyhow::Result<()>
{
    let chain = Chain::start(CHAIN_A).await?;
    let params = chain
        .params(Address::ZERO, units(1, 18), &secret(74))
        .await?;
    manual_mining(&chain.anvil)?;
    let before_restart = alice_with(
        &chain,
        ClientConfig {
            tx_timeout: Duration::from_millis(200),
            ..ClientConfig::local()
        },
    )
    .await?;
    let Err(ChainError::NotMined { sent, .. }) = before_restart.lock(&params).await else {
        panic!("nothing mines");
    };
    drop(before_restart);
    mine_through_a_fee_spike(&chain.anvil)?;

    let restarted = alice_with(&chain, ClientConfig::local()).await?;
    assert_eq!(restarted.chain().tx_status(&sent).await?, TxStatus::Dropped);
    assert_eq!(
        restarted.chain().wait_for_tx(&sent).await.err(),
        Some(ChainError::TxGone {
            sent: sent.clone(),
            nonce_used: false
        })
    );
    // Another account's client cannot follow it.
    assert_eq!(
        chain.bob.chain().tx_status(&sent).await.err(),
        Some(ChainError::NotOurTx {
            from: sent.from,
            account: chain.bob.chain().account()
        })
    );
    assert_eq!(
        chain.bob.lock_info(params.id()).await?.state,
        LockState::Absent
    );
    Ok(())
}
