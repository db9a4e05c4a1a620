//! Connection checks, balances, confirmations and the typed infrastructure errors.

use std::time::Duration;

use alloy_primitives::{Address, U256};
use dex_chain::{ChainClient, ChainError, ClientConfig, LockParams};
use dex_primitives::TraderKey;
use dex_test_utils::{anvil::Anvil, anvil_key};

use crate::support::{CHAIN_A, CHAIN_B, Chain, HOUR, connect, secret, units};

#[tokio::test]
async fn connect_checks_the_chain_id() -> anyhow::Result<()> {
    let anvil = Anvil::start(CHAIN_B)?;
    let result = ChainClient::connect(
        &anvil.endpoint(),
        CHAIN_A,
        &anvil_key(0),
        ClientConfig::local(),
    )
    .await;
    assert_eq!(
        result.err(),
        Some(ChainError::WrongChain {
            url: anvil.endpoint(),
            expected: CHAIN_A,
            actual: CHAIN_B,
        })
    );
    let client = connect(&anvil, 0).await?;
    assert_eq!(client.chain_id(), CHAIN_B);
    assert_eq!(client.account(), anvil_key(0).address());
    Ok(())
}

#[tokio::test]
async fn an_endpoint_nobody_listens_on_is_unreachable() -> anyhow::Result<()> {
    // A port that was just free: anvil exited, nothing listens there any more.
    let url = {
        let anvil = Anvil::start(CHAIN_A)?;
        anvil.endpoint()
    };
    let result = ChainClient::connect(&url, CHAIN_A, &anvil_key(0), ClientConfig::local()).await;
    match result {
        Err(ChainError::Unreachable { url: reported, .. }) => assert_eq!(reported, url),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(matches!(
        ChainClient::connect("not a url", CHAIN_A, &anvil_key(0), ClientConfig::local()).await,
        Err(ChainError::Invalid {
            what: "RPC URL",
            ..
        })
    ));
    Ok(())
}

#[tokio::test]
async fn only_the_htlc_of_this_build_is_accepted() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let client = chain.alice.chain();
    let token = client.deploy_test_token("T", "T", 18).await?.address;
    for address in [token, Address::repeat_byte(7)] {
        assert_eq!(
            client.htlc_at(address).await.err(),
            Some(ChainError::NotOurHtlc { address })
        );
    }
    assert_eq!(client.htlc_at(chain.htlc()).await?.address(), chain.htlc());
    Ok(())
}

#[tokio::test]
async fn chain_time_follows_evm_increase_time() -> anyhow::Result<()> {
    let anvil = Anvil::start(CHAIN_A)?;
    let client = connect(&anvil, 0).await?;
    let before = client.latest_block_timestamp().await?;
    anvil.advance(10 * HOUR)?;
    let after = client.latest_block_timestamp().await?;
    assert!(after >= before + 10 * HOUR && after < before + 10 * HOUR + 60);
    assert_eq!(client.block_number().await?, anvil.block_number()?);
    Ok(())
}

#[tokio::test]
async fn waiting_for_confirmations_counts_blocks_and_times_out() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let params = chain
        .params(Address::ZERO, units(1, 18), &secret(41))
        .await?;
    let locked = chain.alice.lock(&params).await?;
    let client = chain.bob.chain().clone();
    let tx = locked.lock.tx_hash;

    // Mined = one confirmation.
    assert_eq!(
        client.wait_for_confirmations(tx, 1, Duration::ZERO).await?,
        locked.lock
    );
    // Three need two more blocks: none come, so it times out.
    assert!(matches!(
        client
            .wait_for_confirmations(tx, 3, Duration::from_millis(50))
            .await,
        Err(ChainError::Timeout { .. })
    ));
    // It returns as soon as they are mined.
    let waiter = tokio::spawn(async move {
        client
            .wait_for_confirmations(tx, 3, Duration::from_secs(20))
            .await
    });
    chain.anvil.mine(2)?;
    assert_eq!(waiter.await??, locked.lock);
    assert_eq!(chain.bob.chain().receipt(tx).await?, Some(locked.lock));
    Ok(())
}

#[tokio::test]
async fn shortfalls_are_insufficient_funds() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    // A trader with no ETH at all, then one with too little for the gas.
    let poor = TraderKey::from_bytes(&[0x11; 32])?;
    let client = ChainClient::connect(
        &chain.anvil.endpoint(),
        CHAIN_A,
        &poor,
        ClientConfig::local(),
    )
    .await?;
    let htlc = client.htlc_at(chain.htlc()).await?;
    let now = client.latest_block_timestamp().await?;
    let params = LockParams {
        chain_id: CHAIN_A,
        contract: chain.htlc(),
        sender: poor.address(),
        recipient: chain.bob.chain().account(),
        token: Address::ZERO,
        amount: U256::from(1_000),
        hashlock: secret(42).hashlock(),
        timelock: now + HOUR,
    };
    assert_eq!(
        htlc.lock(&params).await.err(),
        Some(ChainError::InsufficientFunds {
            account: poor.address(),
            asset: Address::ZERO,
            needed: Some(U256::from(1_000)),
            available: U256::ZERO,
        })
    );

    chain
        .alice
        .chain()
        .send_call(poor.address(), Vec::new(), U256::from(5_000))
        .await?;
    assert_eq!(
        htlc.lock(&params).await.err(),
        Some(ChainError::InsufficientFunds {
            account: poor.address(),
            asset: Address::ZERO,
            needed: None,
            available: U256::from(5_000),
        })
    );

    // Locking for someone else is refused before anything is sent.
    let not_mine = LockParams {
        sender: chain.alice.chain().account(),
        ..params
    };
    assert!(matches!(
        htlc.lock(&not_mine).await,
        Err(ChainError::SenderMismatch { .. })
    ));
    Ok(())
}
