//! ETH on chain 31337: lock, claim and refund move exactly the amounts (net of gas).

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use dex_chain::{Htlc, HtlcEvent, LockInfo, LockState};

use crate::support::{CHAIN_A, Chain, HOUR, ReentrantRecipient, fee, secret, units};

#[tokio::test]
async fn eth_lock_then_claim_pays_the_recipient_and_reveals_the_secret() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let secret = secret(1);
    let amount = units(3, 18) / U256::from(2); // 1.5 ETH
    let params = chain.params(Address::ZERO, amount, &secret).await?;
    let id = params.id();
    assert_eq!(chain.alice.lock_info(id).await?.state, LockState::Absent);

    let [alice0, bob0, htlc0] = chain.balances(Address::ZERO).await?;
    let locked = chain.alice.lock(&params).await?;
    assert_eq!(locked.id, id);
    assert_eq!(locked.approval, None);
    let [alice1, bob1, htlc1] = chain.balances(Address::ZERO).await?;
    assert_eq!(alice1, alice0 - amount - fee(&locked.lock));
    assert_eq!(bob1, bob0);
    assert_eq!(htlc1, htlc0 + amount);
    assert_eq!(
        chain.bob.lock_info(id).await?,
        LockInfo {
            state: LockState::Locked,
            timelock: params.timelock,
            lock_block: locked.lock.block_number,
            settle_block: None,
        }
    );
    // The counterparty recovers every parameter from the id alone.
    let seen = chain
        .bob
        .find_lock(id)
        .await?
        .expect("the lock is on chain");
    assert_eq!(
        seen.event,
        HtlcEvent::Locked {
            id,
            params: params.clone()
        }
    );
    assert_eq!(seen.tx_hash, locked.lock.tx_hash);
    assert_eq!(chain.bob.find_secret(id).await?, None);

    let claimed = chain.bob.claim(&params, &secret).await?;
    let [alice2, bob2, htlc2] = chain.balances(Address::ZERO).await?;
    assert_eq!(alice2, alice1);
    assert_eq!(bob2, bob1 + amount - fee(&claimed));
    assert_eq!(htlc2, htlc1 - amount);
    let info = chain.alice.lock_info(id).await?;
    assert_eq!(info.state, LockState::Claimed);
    assert_eq!(info.settle_block, Some(claimed.block_number));
    assert_eq!(chain.alice.find_secret(id).await?, Some(secret));
    Ok(())
}

#[tokio::test]
async fn eth_refund_after_the_timelock_returns_the_funds() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let secret = secret(2);
    let amount = units(2, 18);
    let params = chain.params(Address::ZERO, amount, &secret).await?;
    let locked = chain.alice.lock(&params).await?;
    let [alice1, bob1, htlc1] = chain.balances(Address::ZERO).await?;

    chain.anvil.advance(HOUR)?;
    let refunded = chain.alice.refund(&params).await?;
    let [alice2, bob2, htlc2] = chain.balances(Address::ZERO).await?;
    assert_eq!(alice2, alice1 + amount - fee(&refunded));
    assert_eq!(bob2, bob1);
    assert_eq!(htlc2, htlc1 - amount);
    let info = chain.bob.lock_info(locked.id).await?;
    assert_eq!(info.state, LockState::Refunded);
    assert_eq!(info.settle_block, Some(refunded.block_number));
    assert_eq!(chain.bob.find_secret(locked.id).await?, None);
    Ok(())
}

#[tokio::test]
async fn a_recipient_reentering_claim_gets_already_claimed() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let client = chain.carol.chain();
    let recipient = client
        .deploy(
            ReentrantRecipient::BYTECODE.clone(),
            "deploy reentrant recipient",
        )
        .await?
        .address;
    let secret = secret(3);
    let amount = units(1, 18);
    let mut params = chain.params(Address::ZERO, amount, &secret).await?;
    params.recipient = recipient;
    chain.alice.lock(&params).await?;
    // From inside the payout, the recipient claims the same lock again.
    let claim = Htlc::claimCall {
        params: params.to_sol(),
        secret: *secret.as_b256(),
    };
    client
        .send_call(
            recipient,
            ReentrantRecipient::armCall {
                target_: chain.htlc(),
                replay_: claim.abi_encode().into(),
            }
            .abi_encode(),
            U256::ZERO,
        )
        .await?;

    let htlc_before = client.native_balance(chain.htlc()).await?;
    chain.bob.claim(&params, &secret).await?;

    assert_eq!(client.native_balance(recipient).await?, amount);
    assert_eq!(
        client.native_balance(chain.htlc()).await?,
        htlc_before - amount
    );
    let reentered = call(client, recipient, ReentrantRecipient::reenteredCall {}).await?;
    assert!(!reentered);
    let error = call(client, recipient, ReentrantRecipient::reentryErrorCall {}).await?;
    assert_eq!(
        dex_chain::HtlcError::decode(&error),
        Some(dex_chain::HtlcError::AlreadyClaimed { id: params.id() })
    );
    Ok(())
}

/// A read-only call through the JSON-RPC endpoint of the chain, decoded.
async fn call<C: SolCall>(
    client: &dex_chain::ChainClient,
    to: Address,
    call: C,
) -> anyhow::Result<C::Return> {
    Ok(client.read(to, call).await?)
}
