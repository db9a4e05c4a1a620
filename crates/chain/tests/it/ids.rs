//! Lock ids name one lock on one chain's HTLC: the two legs of a swap may have the same
//! terms, and the devnet deploys the HTLC at the same address on both chains, yet an id
//! from one chain never names a lock on the other.

use alloy_primitives::{Address, U256};
use dex_chain::{ChainError, HtlcClient, LockParams, LockState};

use crate::support::{CHAIN_A, CHAIN_B, Chain, HOUR, secret, units};

/// The same terms (sender, recipient, asset, amount, hashlock, timelock) on `htlc`.
fn same_terms(htlc: &HtlcClient, template: &LockParams) -> LockParams {
    LockParams {
        chain_id: htlc.chain().chain_id(),
        contract: htlc.address(),
        ..template.clone()
    }
}

#[tokio::test]
async fn identical_terms_on_two_chains_have_different_ids() -> anyhow::Result<()> {
    let (a, b) = tokio::try_join!(Chain::start(CHAIN_A), Chain::start(CHAIN_B))?;
    // Same deployer, same nonce: the HTLC has the same address on both chains.
    assert_eq!(a.htlc(), b.htlc());

    let secret = secret(61);
    let now_a = a.alice.chain().latest_block_timestamp().await?;
    let now_b = b.alice.chain().latest_block_timestamp().await?;
    let template = a.alice.lock_params(
        a.bob.chain().account(),
        Address::ZERO,
        units(1, 18),
        secret.hashlock(),
        now_a.max(now_b) + HOUR,
    );
    let on_a = same_terms(&a.alice, &template);
    let on_b = same_terms(&b.alice, &template);
    assert_eq!(
        on_a.to_sol(),
        on_b.to_sol(),
        "the contract sees the same terms"
    );

    let locked_a = a.alice.lock(&on_a).await?;
    let locked_b = b.alice.lock(&on_b).await?;
    assert_ne!(locked_a.id, locked_b.id);
    // Each is what the client computes offline for its chain, and what the chain stores.
    assert_eq!(locked_a.id, on_a.id());
    assert_eq!(locked_b.id, on_b.id());
    assert_eq!(a.bob.lock_info(locked_a.id).await?.state, LockState::Locked);
    assert_eq!(b.bob.lock_info(locked_b.id).await?.state, LockState::Locked);
    // Neither chain knows the other's id: a Locked event, message or stored id of one leg
    // cannot be taken for the other.
    assert_eq!(b.bob.lock_info(locked_a.id).await?.state, LockState::Absent);
    assert_eq!(a.bob.lock_info(locked_b.id).await?.state, LockState::Absent);
    assert_eq!(b.bob.find_lock(locked_a.id).await?, None);

    // The events say where they come from.
    let event = a.bob.find_lock(locked_a.id).await?.expect("locked on A");
    assert_eq!(
        event.event,
        dex_chain::HtlcEvent::Locked {
            id: locked_a.id,
            params: on_a.clone()
        }
    );

    // Parameters of one chain are refused by the client of the other, before anything is
    // sent.
    assert_eq!(
        b.bob.claim(&on_a, &secret).await.err(),
        Some(ChainError::WrongHtlc {
            chain_id: CHAIN_A,
            contract: a.htlc(),
            client_chain_id: CHAIN_B,
            client_contract: b.htlc(),
        })
    );
    assert!(matches!(
        b.alice.lock(&on_a).await,
        Err(ChainError::WrongHtlc { .. })
    ));

    // Both claims work on their own chain.
    a.bob.claim(&on_a, &secret).await?;
    b.bob.claim(&on_b, &secret).await?;
    assert_eq!(
        a.bob.lock_info(locked_a.id).await?.state,
        LockState::Claimed
    );
    assert_eq!(
        b.bob.lock_info(locked_b.id).await?.state,
        LockState::Claimed
    );
    Ok(())
}

#[tokio::test]
async fn two_htlcs_on_one_chain_give_the_same_terms_different_ids() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let (second, _) = chain.carol.chain().deploy_htlc().await?;
    let alice_on_second = chain.alice.chain().htlc_at(second.address()).await?;
    assert_ne!(second.address(), chain.htlc());

    let params = chain
        .params(Address::ZERO, U256::from(1_000), &secret(62))
        .await?;
    let elsewhere = same_terms(&alice_on_second, &params);
    let first_id = chain.alice.lock(&params).await?.id;
    let second_id = alice_on_second.lock(&elsewhere).await?.id;
    assert_ne!(first_id, second_id);
    assert_eq!(second_id, elsewhere.id());
    assert_eq!(
        alice_on_second.lock_info(first_id).await?.state,
        LockState::Absent
    );
    Ok(())
}
