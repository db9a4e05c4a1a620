//! Every rejection of the contract comes back as its own typed, decoded error, found by
//! gas estimation before anything is sent (so a rejected call costs nothing) or, when the
//! state changed after estimation, decoded from the mined failure.

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use dex_chain::{ChainError, Htlc, HtlcError, LockState};
use serde_json::json;

use crate::support::{CHAIN_A, CHAIN_B, Chain, FalseToken, HOUR, secret, units, wait_for_pending};

fn htlc_error(result: Result<impl std::fmt::Debug, ChainError>) -> HtlcError {
    match result {
        Err(ChainError::Htlc(error)) => error,
        other => panic!("expected an HTLC error, got {other:?}"),
    }
}

#[tokio::test]
async fn lock_rejections() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let client = chain.alice.chain();
    let secret = secret(21);
    let amount = units(1, 18);
    let params = chain.params(Address::ZERO, amount, &secret).await?;
    let nonce_before = chain.anvil.rpc(
        "eth_getTransactionCount",
        json!([client.account(), "latest"]),
    )?;

    let zero = dex_chain::LockParams {
        amount: U256::ZERO,
        ..params.clone()
    };
    assert_eq!(
        htlc_error(chain.alice.lock(&zero).await),
        HtlcError::ZeroAmount
    );

    let nobody = dex_chain::LockParams {
        recipient: Address::ZERO,
        ..params.clone()
    };
    assert_eq!(
        htlc_error(chain.alice.lock(&nobody).await),
        HtlcError::ZeroRecipient
    );

    let now = client.latest_block_timestamp().await?;
    let past = dex_chain::LockParams {
        timelock: now - 1,
        ..params.clone()
    };
    match htlc_error(chain.alice.lock(&past).await) {
        HtlcError::TimelockInPast {
            timelock,
            block_timestamp,
        } => {
            assert_eq!(timelock, now - 1);
            assert!(block_timestamp >= U256::from(now));
        }
        other => panic!("expected TimelockInPast, got {other:?}"),
    }

    // Rejections cost nothing: gas estimation caught them all, no transaction was sent.
    let nonce_after = chain.anvil.rpc(
        "eth_getTransactionCount",
        json!([client.account(), "latest"]),
    )?;
    assert_eq!(nonce_after, nonce_before);

    // Hand-made calls with the wrong value: ETH locks need msg.value == amount ...
    let call = lock_call(&params);
    assert_eq!(
        htlc_error(
            client
                .send_call(chain.htlc(), call.clone(), amount - U256::from(1))
                .await
        ),
        HtlcError::ValueMismatch {
            expected: amount,
            received: amount - U256::from(1)
        }
    );
    // ... and token locks need none.
    let token = client.deploy_test_token("T", "T", 18).await?.address;
    let token_params = dex_chain::LockParams {
        token,
        ..params.clone()
    };
    assert_eq!(
        htlc_error(
            client
                .send_call(chain.htlc(), lock_call(&token_params), U256::from(1))
                .await
        ),
        HtlcError::ValueMismatch {
            expected: U256::ZERO,
            received: U256::from(1)
        }
    );

    // The same parameters from the same sender cannot be locked twice.
    chain.alice.lock(&params).await?;
    assert_eq!(
        htlc_error(chain.alice.lock(&params).await),
        HtlcError::AlreadyLocked { id: params.id() }
    );
    Ok(())
}

fn lock_call(params: &dex_chain::LockParams) -> Vec<u8> {
    Htlc::lockCall {
        recipient: params.recipient,
        token: params.token,
        amount: params.amount,
        hashlock: params.hashlock,
        timelock: params.timelock,
    }
    .abi_encode()
}

#[tokio::test]
async fn failing_token_transfers_are_rejected() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_B).await?;
    let client = chain.alice.chain();
    let params = chain
        .params(Address::ZERO, U256::from(10), &secret(22))
        .await?;

    // A token that returns false (here: no allowance) instead of reverting.
    let false_token = client
        .deploy(FalseToken::BYTECODE.clone(), "deploy false token")
        .await?
        .address;
    client
        .send_call(
            false_token,
            FalseToken::mintCall {
                to: client.account(),
                amount: U256::from(10),
            }
            .abi_encode(),
            U256::ZERO,
        )
        .await?;
    let with_false = dex_chain::LockParams {
        token: false_token,
        ..params.clone()
    };
    assert_eq!(
        htlc_error(
            client
                .send_call(chain.htlc(), lock_call(&with_false), U256::ZERO)
                .await
        ),
        HtlcError::TokenTransferFailed { token: false_token }
    );

    // An address without code: the call "succeeds" with no data, and must not count.
    let no_code = Address::repeat_byte(0x42);
    let with_no_code = dex_chain::LockParams {
        token: no_code,
        ..params.clone()
    };
    assert_eq!(
        htlc_error(
            client
                .send_call(chain.htlc(), lock_call(&with_no_code), U256::ZERO)
                .await
        ),
        HtlcError::TokenTransferFailed { token: no_code }
    );
    Ok(())
}

#[tokio::test]
async fn claim_rejections() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let secret = secret(23);
    let amount = units(1, 18);
    let params = chain.params(Address::ZERO, amount, &secret).await?;
    let id = params.id();

    assert_eq!(
        htlc_error(chain.bob.claim(&params, &secret).await),
        HtlcError::NotLocked { id }
    );
    chain.alice.lock(&params).await?;
    assert_eq!(
        htlc_error(chain.bob.claim(&params, &crate::support::secret(99)).await),
        HtlcError::WrongSecret { id }
    );
    // Parameters that differ from the lock's are simply not a lock.
    let other = dex_chain::LockParams {
        amount: amount * U256::from(2),
        ..params.clone()
    };
    assert_eq!(
        htlc_error(chain.bob.claim(&other, &secret).await),
        HtlcError::NotLocked { id: other.id() }
    );
    // Anyone may claim (the funds go to the recipient); twice is once too many.
    chain.carol.claim(&params, &secret).await?;
    assert_eq!(
        htlc_error(chain.bob.claim(&params, &secret).await),
        HtlcError::AlreadyClaimed { id }
    );

    // After the timelock a claim is refused, even with the right secret.
    let late = chain
        .params(Address::ZERO, amount + U256::from(1), &secret)
        .await?;
    chain.alice.lock(&late).await?;
    chain.anvil.advance(HOUR)?;
    assert_eq!(
        htlc_error(chain.bob.claim(&late, &secret).await),
        HtlcError::TimelockExpired {
            id: late.id(),
            timelock: late.timelock
        }
    );
    chain.alice.refund(&late).await?;
    assert_eq!(
        htlc_error(chain.bob.claim(&late, &secret).await),
        HtlcError::AlreadyRefunded { id: late.id() }
    );

    // A recipient that refuses ETH cannot be paid (the funds stay refundable).
    let refuser = chain
        .alice
        .chain()
        .deploy_test_token("no receive()", "X", 0)
        .await?
        .address;
    let mut refused = chain
        .params(Address::ZERO, amount + U256::from(2), &secret)
        .await?;
    refused.recipient = refuser;
    chain.alice.lock(&refused).await?;
    assert_eq!(
        htlc_error(chain.bob.claim(&refused, &secret).await),
        HtlcError::EthTransferFailed { to: refuser }
    );
    assert_eq!(
        chain.bob.lock_info(refused.id()).await?.state,
        LockState::Locked
    );
    Ok(())
}

#[tokio::test]
async fn refund_rejections() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let secret = secret(24);
    let amount = units(1, 18);
    let params = chain.params(Address::ZERO, amount, &secret).await?;
    let id = params.id();

    assert_eq!(
        htlc_error(chain.alice.refund(&params).await),
        HtlcError::NotLocked { id }
    );
    chain.alice.lock(&params).await?;
    assert_eq!(
        htlc_error(chain.alice.refund(&params).await),
        HtlcError::TimelockNotExpired {
            id,
            timelock: params.timelock
        }
    );
    chain.anvil.advance(HOUR)?;
    let carol = chain.carol.chain().account();
    assert_eq!(
        htlc_error(chain.carol.refund(&params).await),
        HtlcError::NotSender { id, caller: carol }
    );
    assert_eq!(
        htlc_error(chain.bob.refund(&params).await),
        HtlcError::NotSender {
            id,
            caller: chain.bob.chain().account()
        }
    );
    chain.alice.refund(&params).await?;
    assert_eq!(
        htlc_error(chain.alice.refund(&params).await),
        HtlcError::AlreadyRefunded { id }
    );

    let claimed = chain
        .params(Address::ZERO, amount + U256::from(1), &secret)
        .await?;
    chain.alice.lock(&claimed).await?;
    chain.bob.claim(&claimed, &secret).await?;
    chain.anvil.advance(HOUR)?;
    assert_eq!(
        htlc_error(chain.alice.refund(&claimed).await),
        HtlcError::AlreadyClaimed { id: claimed.id() }
    );
    Ok(())
}

#[tokio::test]
async fn a_claim_that_loses_a_race_is_decoded_from_the_mined_failure() -> anyhow::Result<()> {
    let chain = Chain::start(CHAIN_A).await?;
    let secret = secret(25);
    let params = chain.params(Address::ZERO, units(1, 18), &secret).await?;
    chain.alice.lock(&params).await?;

    // Bob's claim passes estimation and waits in the pool; Carol's competing claim, with a
    // higher tip, is mined first in the same block, so Bob's fails on chain.
    chain.anvil.rpc("evm_setAutomine", json!([false]))?;
    let bob = chain.bob.clone();
    let (bob_params, bob_secret) = (params.clone(), secret.clone());
    let bobs_claim = tokio::spawn(async move { bob.claim(&bob_params, &bob_secret).await });
    wait_for_pending(&chain.anvil, 1).await?;
    let claim = Htlc::claimCall {
        params: params.to_sol(),
        secret: *secret.as_b256(),
    };
    chain.anvil.rpc(
        "eth_sendTransaction",
        json!([{
            "from": chain.carol.chain().account(),
            "to": chain.htlc(),
            "data": alloy_primitives::hex::encode_prefixed(claim.abi_encode()),
            "gas": "0x30000",
            "maxFeePerGas": "0x174876e800",
            "maxPriorityFeePerGas": "0x174876e800",
        }]),
    )?;
    wait_for_pending(&chain.anvil, 2).await?;
    chain.anvil.mine_one()?;

    assert_eq!(
        htlc_error(bobs_claim.await?),
        HtlcError::AlreadyClaimed { id: params.id() }
    );
    assert_eq!(
        chain.bob.lock_info(params.id()).await?.state,
        LockState::Claimed
    );
    Ok(())
}
