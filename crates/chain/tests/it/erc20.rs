//! The test ERC-20 on chain 31338: lock, claim and refund move exactly the amounts in the
//! token, and cost the traders exactly their gas in ETH.

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use dex_chain::{ChainError, Htlc, HtlcError, LockState};

use crate::support::{
    CHAIN_B, Chain, FeeToken, HOUR, HookToken, NoReturnToken, fee, secret, units,
};

/// Deploys a 6-decimal test token (like USDC) and gives Alice 1,000,000 of it.
async fn usdc(chain: &Chain) -> anyhow::Result<Address> {
    let alice = chain.alice.chain();
    let token = alice
        .deploy_test_token("USD Coin (test)", "USDC", 6)
        .await?
        .address;
    alice
        .mint_test_token(token, alice.account(), units(1_000_000, 6))
        .await?;
    Ok(token)
}

#[tokio::test]
async fn token_lock_then_claim_moves_exact_amounts() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let token = usdc(&chain).await?;
    let secret = secret(11);
    let amount = units(2_500, 6) + U256::from(1); // 2,500.000001 USDC
    let params = chain.params(token, amount, &secret).await?;

    let [alice_eth0, bob_eth0, _] = chain.balances(Address::ZERO).await?;
    let [alice0, bob0, htlc0] = chain.balances(token).await?;
    let locked = chain.alice.lock(&params).await?;
    let approval = locked.approval.expect("the first lock approves the HTLC");
    let [alice1, bob1, htlc1] = chain.balances(token).await?;
    assert_eq!(alice1, alice0 - amount);
    assert_eq!(bob1, bob0);
    assert_eq!(htlc1, htlc0 + amount);
    let [alice_eth1, _, htlc_eth1] = chain.balances(Address::ZERO).await?;
    assert_eq!(alice_eth1, alice_eth0 - fee(&approval) - fee(&locked.lock));
    assert_eq!(htlc_eth1, U256::ZERO);

    let claimed = chain.bob.claim(&params, &secret).await?;
    let [alice2, bob2, htlc2] = chain.balances(token).await?;
    assert_eq!(alice2, alice1);
    assert_eq!(bob2, bob1 + amount);
    assert_eq!(htlc2, htlc1 - amount);
    let [_, bob_eth2, _] = chain.balances(Address::ZERO).await?;
    assert_eq!(bob_eth2, bob_eth0 - fee(&claimed));
    assert_eq!(chain.alice.find_secret(locked.id).await?, Some(secret));

    // The maximal approval serves the next lock too.
    let next = chain
        .params(token, amount, &crate::support::secret(12))
        .await?;
    assert_eq!(chain.alice.lock(&next).await?.approval, None);
    Ok(())
}

#[tokio::test]
async fn token_refund_after_the_timelock_returns_the_tokens() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let token = usdc(&chain).await?;
    let amount = units(7, 6);
    let params = chain.params(token, amount, &secret(13)).await?;
    chain.alice.lock(&params).await?;
    let [alice1, bob1, htlc1] = chain.balances(token).await?;
    let [alice_eth1, ..] = chain.balances(Address::ZERO).await?;

    chain.anvil.advance(HOUR)?;
    let refunded = chain.alice.refund(&params).await?;
    let [alice2, bob2, htlc2] = chain.balances(token).await?;
    assert_eq!(alice2, alice1 + amount);
    assert_eq!(bob2, bob1);
    assert_eq!(htlc2, htlc1 - amount);
    let [alice_eth2, ..] = chain.balances(Address::ZERO).await?;
    assert_eq!(alice_eth2, alice_eth1 - fee(&refunded));
    assert_eq!(
        chain.bob.lock_info(params.id()).await?.state,
        LockState::Refunded
    );
    Ok(())
}

#[tokio::test]
async fn a_token_that_returns_nothing_works_like_any_other() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let alice = chain.alice.chain();
    let token = alice
        .deploy(NoReturnToken::BYTECODE.clone(), "deploy no-return token")
        .await?
        .address;
    let amount = U256::from(1_000);
    alice
        .send_call(
            token,
            alloy_sol_types::SolCall::abi_encode(&NoReturnToken::mintCall {
                to: alice.account(),
                amount,
            }),
            U256::ZERO,
        )
        .await?;
    let secret = secret(14);
    let params = chain.params(token, amount, &secret).await?;
    chain.alice.lock(&params).await?;
    assert_eq!(
        chain.balances(token).await?,
        [U256::ZERO, U256::ZERO, amount]
    );
    chain.bob.claim(&params, &secret).await?;
    assert_eq!(
        chain.balances(token).await?,
        [U256::ZERO, amount, U256::ZERO]
    );
    Ok(())
}

#[tokio::test]
async fn a_fee_on_transfer_token_cannot_be_locked() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let alice = chain.alice.chain();
    let token = alice
        .deploy(FeeToken::BYTECODE.clone(), "deploy fee token")
        .await?
        .address;
    let amount = U256::from(10_000);
    alice
        .send_call(
            token,
            FeeToken::mintCall {
                to: alice.account(),
                amount,
            }
            .abi_encode(),
            U256::ZERO,
        )
        .await?;
    let params = chain.params(token, amount, &secret(15)).await?;

    // 1% is burnt on the way: the HTLC would hold 9,900 for a lock of 10,000, and the last
    // claim of the token could not be paid. The lock is refused instead.
    let refused = chain.alice.lock(&params).await;
    assert_eq!(
        refused.err(),
        Some(ChainError::Htlc(HtlcError::TokenShortfall {
            token,
            expected: amount,
            received: U256::from(9_900),
        }))
    );
    assert_eq!(
        chain.bob.lock_info(params.id()).await?.state,
        LockState::Absent
    );
    assert_eq!(
        chain.balances(token).await?,
        [amount, U256::ZERO, U256::ZERO]
    );
    Ok(())
}

#[tokio::test]
async fn a_token_hook_cannot_nest_a_lock_inside_a_lock() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let alice = chain.alice.chain();
    let token = alice
        .deploy(HookToken::BYTECODE.clone(), "deploy hook token")
        .await?
        .address;
    let amount = U256::from(1_000);
    alice
        .send_call(
            token,
            HookToken::mintCall {
                to: alice.account(),
                amount,
            }
            .abi_encode(),
            U256::ZERO,
        )
        .await?;
    let params = chain.params(token, amount, &secret(16)).await?;
    // From inside the pull of Alice's lock, the token locks its own tokens: were that
    // allowed, the outer lock's balance check would count the inner deposit as its own.
    let nested = Htlc::lockCall {
        recipient: chain.bob.chain().account(),
        token,
        amount,
        hashlock: secret(17).hashlock(),
        timelock: params.timelock,
    };
    alice
        .send_call(
            token,
            HookToken::armCall {
                target: chain.htlc(),
                data: nested.abi_encode().into(),
            }
            .abi_encode(),
            U256::ZERO,
        )
        .await?;

    chain.alice.lock(&params).await?;
    assert_eq!(
        chain.bob.lock_info(params.id()).await?.state,
        LockState::Locked
    );
    assert!(!alice.read(token, HookToken::hookSucceededCall {}).await?);
    let error = alice.read(token, HookToken::hookErrorCall {}).await?;
    assert_eq!(HtlcError::decode(&error), Some(HtlcError::Reentered));
    assert_eq!(
        chain.balances(token).await?,
        [U256::ZERO, U256::ZERO, amount]
    );
    Ok(())
}
