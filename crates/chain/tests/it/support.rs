//! Shared set-up: a chain with the HTLC deployed and three funded traders.

use alloy_primitives::{Address, B256, U256};
use dex_chain::{ChainClient, ClientConfig, HtlcClient, LockParams, Secret, TxOutcome};
use dex_test_utils::{anvil::Anvil, anvil_key};

/// Chain id of the first test chain (the devnet's base chain).
pub(crate) const CHAIN_A: u64 = 31_337;
/// Chain id of the second test chain (the devnet's quote chain).
pub(crate) const CHAIN_B: u64 = 31_338;
/// One hour, the timelock distance used by the tests.
pub(crate) const HOUR: u64 = 3_600;

// Test contracts that misbehave like some real ones.
alloy_sol_types::sol!(
    #[derive(Debug)]
    NoReturnToken,
    "contracts/test/NoReturnToken.json"
);
alloy_sol_types::sol!(
    #[derive(Debug)]
    FalseToken,
    "contracts/test/FalseToken.json"
);
alloy_sol_types::sol!(
    #[derive(Debug)]
    ReentrantRecipient,
    "contracts/test/ReentrantRecipient.json"
);
alloy_sol_types::sol!(
    #[derive(Debug)]
    FeeToken,
    "contracts/test/FeeToken.json"
);
alloy_sol_types::sol!(
    #[derive(Debug)]
    HookToken,
    "contracts/test/HookToken.json"
);

/// A running chain with the HTLC deployed by Alice, and a client per trader:
/// Alice (anvil key 0) locks, Bob (key 1) receives, Carol (key 2) is a bystander.
pub(crate) struct Chain {
    pub(crate) anvil: Anvil,
    pub(crate) alice: HtlcClient,
    pub(crate) bob: HtlcClient,
    pub(crate) carol: HtlcClient,
    pub(crate) deploy_block: u64,
}

impl Chain {
    /// Starts anvil with `chain_id` and deploys the HTLC.
    pub(crate) async fn start(chain_id: u64) -> anyhow::Result<Chain> {
        let anvil = Anvil::start(chain_id)?;
        let alice = connect(&anvil, 0).await?;
        let (alice, deployment) = alice.deploy_htlc().await?;
        let bob = connect(&anvil, 1).await?.htlc_at(alice.address()).await?;
        let carol = connect(&anvil, 2).await?.htlc_at(alice.address()).await?;
        Ok(Chain {
            anvil,
            alice,
            bob,
            carol,
            deploy_block: deployment.outcome.block_number,
        })
    }

    /// The HTLC's address.
    pub(crate) fn htlc(&self) -> Address {
        self.alice.address()
    }

    /// Lock parameters from Alice to Bob of `amount` of `token`, an hour from chain time.
    pub(crate) async fn params(
        &self,
        token: Address,
        amount: U256,
        secret: &Secret,
    ) -> anyhow::Result<LockParams> {
        let now = self.alice.chain().latest_block_timestamp().await?;
        Ok(self.alice.lock_params(
            self.bob.chain().account(),
            token,
            amount,
            secret.hashlock(),
            now + HOUR,
        ))
    }

    /// Balances of Alice, Bob and the HTLC in `asset`.
    pub(crate) async fn balances(&self, asset: Address) -> anyhow::Result<[U256; 3]> {
        let chain = self.alice.chain();
        Ok([
            chain.balance(asset, self.alice.chain().account()).await?,
            chain.balance(asset, self.bob.chain().account()).await?,
            chain.balance(asset, self.htlc()).await?,
        ])
    }
}

/// A client of `anvil` signing with anvil key `index`.
pub(crate) async fn connect(anvil: &Anvil, index: usize) -> anyhow::Result<ChainClient> {
    connect_with(anvil, index, ClientConfig::local()).await
}

/// A client of `anvil` signing with anvil key `index`, configured by `config`.
pub(crate) async fn connect_with(
    anvil: &Anvil,
    index: usize,
    config: ClientConfig,
) -> anyhow::Result<ChainClient> {
    Ok(ChainClient::connect(
        &anvil.endpoint(),
        anvil.chain_id(),
        &anvil_key(index),
        config,
    )
    .await?)
}

/// Waits (with a deadline) until the node holds at least `count` pending transactions.
pub(crate) async fn wait_for_pending(anvil: &Anvil, count: u64) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if pending_count(anvil)? >= count {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{count} pending transactions never came"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// How many transactions the node's pool holds as pending.
pub(crate) fn pending_count(anvil: &Anvil) -> anyhow::Result<u64> {
    let status = anvil.rpc("txpool_status", serde_json::json!([]))?;
    let pending = status["pending"].as_str().unwrap_or("0x0");
    Ok(u64::from_str_radix(pending.trim_start_matches("0x"), 16)?)
}

/// A fixed secret per test number, so failures reproduce.
pub(crate) fn secret(n: u8) -> Secret {
    Secret::from_bytes(B256::repeat_byte(n))
}

/// Whole units of an asset with `decimals`.
pub(crate) fn units(amount: u64, decimals: u8) -> U256 {
    U256::from(amount) * U256::from(10).pow(U256::from(decimals))
}

/// The fee of a transaction as a U256 (for balance arithmetic).
pub(crate) fn fee(outcome: &TxOutcome) -> U256 {
    outcome.fee()
}
