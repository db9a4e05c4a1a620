//! The test ERC-20 (`TestToken`): deployed and minted by tests and the devnet, built only
//! with the `test-token` feature.

use alloy_primitives::{Address, U256};
use alloy_sol_types::{SolCall, SolConstructor};

use super::ChainClient;
use crate::{ChainError, Deployment, TxOutcome, contracts::TestToken};

impl ChainClient {
    /// Deploys the test ERC-20 (`TestToken`, mintable by this account) with `decimals`.
    pub async fn deploy_test_token(
        &self,
        name: &str,
        symbol: &str,
        decimals: u8,
    ) -> Result<Deployment, ChainError> {
        let args = TestToken::constructorCall {
            name_: name.to_owned(),
            symbol_: symbol.to_owned(),
            decimals_: decimals,
        }
        .abi_encode();
        let code = [TestToken::BYTECODE.as_ref(), &args].concat();
        self.deploy(code.into(), "deploy test token").await
    }

    /// Mints `amount` of the test token at `token` to `to` (this account must have deployed it).
    pub async fn mint_test_token(
        &self,
        token: Address,
        to: Address,
        amount: U256,
    ) -> Result<TxOutcome, ChainError> {
        self.send_call(
            token,
            TestToken::mintCall { to, amount }.abi_encode(),
            U256::ZERO,
        )
        .await
    }
}
