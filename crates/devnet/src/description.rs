//! The typed description of running devnet chains — what later code turns into node
//! configs — and its JSON file (`<data dir>/chains.json`).

use std::{
    fs,
    path::{Path, PathBuf},
};

use alloy_primitives::{Address, U256};
use dex_chain::{ChainClient, ClientConfig};
use dex_primitives::{MarketDef, TraderKey};
use serde::{Deserialize, Serialize};

use crate::{DevnetError, Mining};

/// File name of the description in the data directory.
pub const CHAINS_FILE: &str = "chains.json";

/// Everything a node, a bot or a test needs to use the devnet's chains: endpoints, contract
/// addresses, the market, and the funded accounts with their keys.
///
/// The keys are anvil's public development keys: they hold nothing anywhere but here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevnetChains {
    /// The base chain (31337 by default): ETH, the market's base asset.
    pub base: ChainInfo,
    /// The quote chain (31338 by default): the USDC test token, the market's quote asset.
    pub quote: ChainInfo,
    /// The test USDC on the quote chain.
    pub usdc: TokenInfo,
    /// The market ETH (base chain, native) / USDC (quote chain, ERC-20), lot 0.001 ETH,
    /// tick 0.01 USDC.
    pub market: MarketDef,
    /// How both chains mine blocks.
    pub mining: Mining,
    /// Confirmations the devnet's nodes wait for before they read a block
    /// (`scan_confirmations`): 1 reads a block as soon as it is mined; more behave like a
    /// real chain read safely behind its head.
    #[serde(default = "one")]
    pub confirmations: u64,
    /// Wei every anvil account held on each chain at genesis (the traders have spent none
    /// of it when the devnet is ready).
    #[serde(with = "u256_decimal")]
    pub eth_per_account: U256,
    /// The account that deployed the contracts and may mint USDC (anvil key 0). Not a
    /// trader: its balances move with every deployment and mint.
    pub deployer: DevnetAccount,
    /// The trading accounts (anvil keys 1, 2, …), each with anvil's ETH on both chains and
    /// [`TokenInfo::minted_per_trader`] USDC. Node `i` of a devnet trades as `traders[i]`.
    pub traders: Vec<DevnetAccount>,
}

fn one() -> u64 {
    1
}

/// One chain of the devnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChainInfo {
    /// The chain id.
    pub chain_id: u64,
    /// The JSON-RPC endpoint, `http://127.0.0.1:PORT`.
    pub rpc_url: String,
    /// The HTLC contract.
    pub htlc: Address,
    /// The block the HTLC was deployed in: where an event scanner starts.
    pub htlc_block: u64,
}

/// The test ERC-20 of the devnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenInfo {
    /// The chain it lives on.
    pub chain_id: u64,
    /// Its address.
    pub address: Address,
    /// Its name.
    pub name: String,
    /// Its symbol.
    pub symbol: String,
    /// Its decimals.
    pub decimals: u8,
    /// How many base units (10^-decimals) each trader was minted.
    #[serde(with = "u256_decimal")]
    pub minted_per_trader: U256,
}

/// A devnet account and its private key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevnetAccount {
    /// Its index among anvil's development keys.
    pub anvil_index: usize,
    /// Its address.
    pub address: Address,
    /// Its private key, `0x` and 64 hex digits.
    pub private_key: String,
}

impl std::fmt::Debug for DevnetAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Like TraderKey: the address identifies it, the key is never printed.
        f.debug_struct("DevnetAccount")
            .field("anvil_index", &self.anvil_index)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl DevnetAccount {
    /// The account of anvil development key `index`.
    pub fn anvil(index: usize) -> Result<DevnetAccount, DevnetError> {
        let private_key =
            dex_test_utils::ANVIL_KEYS
                .get(index)
                .ok_or_else(|| DevnetError::InvalidConfig {
                    reason: format!(
                        "anvil has {} development keys; there is no key {index}",
                        dex_test_utils::ANVIL_KEYS.len()
                    ),
                })?;
        let account = DevnetAccount {
            anvil_index: index,
            address: Address::ZERO,
            private_key: (*private_key).to_owned(),
        };
        let address = account.key()?.address();
        Ok(DevnetAccount { address, ..account })
    }

    /// The account's signing key.
    pub fn key(&self) -> Result<TraderKey, DevnetError> {
        self.private_key
            .parse()
            .map_err(|err| DevnetError::InvalidConfig {
                reason: format!("the key of account {}: {err}", self.address),
            })
    }
}

impl DevnetChains {
    /// The chain with `chain_id`, if it is one of the two.
    pub fn chain(&self, chain_id: u64) -> Option<&ChainInfo> {
        [&self.base, &self.quote]
            .into_iter()
            .find(|chain| chain.chain_id == chain_id)
    }

    /// Writes the description as pretty JSON to `path`, atomically (a reader never sees
    /// half a file).
    pub fn write(&self, path: &Path) -> Result<(), DevnetError> {
        let json = serde_json::to_string_pretty(self).map_err(|err| DevnetError::Description {
            path: path.to_owned(),
            reason: err.to_string(),
        })?;
        write_atomically(path, json.as_bytes())
    }

    /// Reads a description written by [`DevnetChains::write`].
    pub fn read(path: &Path) -> Result<DevnetChains, DevnetError> {
        let text = fs::read_to_string(path)
            .map_err(|source| DevnetError::io("reading the devnet description", path, source))?;
        serde_json::from_str(&text).map_err(|err| DevnetError::Description {
            path: path.to_owned(),
            reason: err.to_string(),
        })
    }
}

impl ChainInfo {
    /// A client of this chain signing with `account`'s key, with timing for a local chain.
    pub async fn client(&self, account: &DevnetAccount) -> Result<ChainClient, DevnetError> {
        ChainClient::connect(
            &self.rpc_url,
            self.chain_id,
            &account.key()?,
            ClientConfig::local(),
        )
        .await
        .map_err(|source| DevnetError::chain("connecting", self.chain_id, source))
    }

    /// Moves the chain's time forward by `seconds` and mines a block, so the latest block
    /// (what timelocks are checked against) shows it. For tests: a refund becomes possible
    /// without waiting.
    pub async fn advance_time(&self, seconds: u64) -> Result<(), DevnetError> {
        self.anvil_request("evm_increaseTime", serde_json::json!([seconds]))
            .await?;
        self.mine().await
    }

    /// Mines one block now.
    pub async fn mine(&self) -> Result<(), DevnetError> {
        self.anvil_request("evm_mine", serde_json::json!([])).await
    }

    /// Turns anvil's automatic mining on or off. Off, transactions wait in the pool until
    /// [`ChainInfo::mine`] or until it is turned on again (which does not mine the waiting
    /// ones by itself: call [`ChainInfo::mine`]). For tests that hold a swap mid-way.
    pub async fn set_automine(&self, on: bool) -> Result<(), DevnetError> {
        self.rpc("evm_setAutomine", serde_json::json!([on]))
            .await
            .map(drop)
    }

    /// The number of the latest block.
    pub async fn block_number(&self) -> Result<u64, DevnetError> {
        let value = self.rpc("eth_blockNumber", serde_json::json!([])).await?;
        let number = self.quantity("eth_blockNumber", &value)?;
        u64::try_from(number).map_err(|_| self.invalid("eth_blockNumber", &value))
    }

    /// The transaction count of `account` at `block` (`"latest"` or `"pending"`): with
    /// `"pending"` larger than `"latest"`, transactions of the account wait in the pool.
    pub async fn nonce(&self, account: Address, block: &str) -> Result<u64, DevnetError> {
        let value = self
            .rpc(
                "eth_getTransactionCount",
                serde_json::json!([account.to_string(), block]),
            )
            .await?;
        let count = self.quantity("eth_getTransactionCount", &value)?;
        u64::try_from(count).map_err(|_| self.invalid("eth_getTransactionCount", &value))
    }

    /// What `account` paid in fees (gas used × effective gas price) for the transactions it
    /// sent in blocks `from..=to`, from their receipts.
    pub async fn fees_paid(
        &self,
        account: Address,
        from: u64,
        to: u64,
    ) -> Result<U256, DevnetError> {
        let mut total = U256::ZERO;
        for number in from..=to {
            let block = self
                .rpc(
                    "eth_getBlockByNumber",
                    serde_json::json!([format!("0x{number:x}"), true]),
                )
                .await?;
            let transactions = block["transactions"]
                .as_array()
                .ok_or_else(|| self.invalid("eth_getBlockByNumber", &block))?;
            for transaction in transactions {
                let sender = transaction["from"]
                    .as_str()
                    .and_then(|text| text.parse::<Address>().ok())
                    .ok_or_else(|| self.invalid("eth_getBlockByNumber", transaction))?;
                if sender != account {
                    continue;
                }
                let receipt = self
                    .rpc(
                        "eth_getTransactionReceipt",
                        serde_json::json!([transaction["hash"]]),
                    )
                    .await?;
                total += self.quantity("eth_getTransactionReceipt", &receipt["gasUsed"])?
                    * self.quantity("eth_getTransactionReceipt", &receipt["effectiveGasPrice"])?;
            }
        }
        Ok(total)
    }

    /// One JSON-RPC call to this chain.
    pub async fn rpc(
        &self,
        method: &'static str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, DevnetError> {
        use alloy_provider::{Provider, RootProvider};
        let failed = |reason: String| {
            DevnetError::chain(
                method,
                self.chain_id,
                dex_chain::ChainError::Rpc { message: reason },
            )
        };
        let provider = <RootProvider>::connect(&self.rpc_url)
            .await
            .map_err(|err| failed(err.to_string()))?;
        provider
            .raw_request::<_, serde_json::Value>(method.into(), params)
            .await
            .map_err(|err| failed(err.to_string()))
    }

    async fn anvil_request(
        &self,
        method: &'static str,
        params: serde_json::Value,
    ) -> Result<(), DevnetError> {
        self.rpc(method, params).await.map(drop)
    }

    fn quantity(
        &self,
        method: &'static str,
        value: &serde_json::Value,
    ) -> Result<U256, DevnetError> {
        value
            .as_str()
            .and_then(|text| text.strip_prefix("0x"))
            .and_then(|digits| U256::from_str_radix(digits, 16).ok())
            .ok_or_else(|| self.invalid(method, value))
    }

    fn invalid(&self, method: &'static str, value: &serde_json::Value) -> DevnetError {
        DevnetError::chain(
            method,
            self.chain_id,
            dex_chain::ChainError::Rpc {
                message: format!("unexpected answer: {value}"),
            },
        )
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DevnetError> {
    let mut temporary = PathBuf::from(path);
    temporary.as_mut_os_string().push(".tmp");
    fs::write(&temporary, bytes)
        .map_err(|source| DevnetError::io("writing", &temporary, source))?;
    fs::rename(&temporary, path).map_err(|source| DevnetError::io("replacing", path, source))
}

/// Formats `amount` base units of an asset with `decimals` as a decimal number, without
/// trailing zeros (`1500000` with 6 decimals is `1.5`).
pub fn format_units(amount: U256, decimals: u8) -> String {
    let digits = amount.to_string();
    let decimals = usize::from(decimals);
    if decimals == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = decimals + 1);
    let (whole, fraction) = padded.split_at(padded.len() - decimals);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        whole.to_owned()
    } else {
        format!("{whole}.{fraction}")
    }
}

/// `U256` as a decimal string in JSON (hex is unreadable for amounts).
mod u256_decimal {
    use alloy_primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&value.to_string())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<U256, D::Error> {
        let text = String::deserialize(deserializer)?;
        U256::from_str_radix(&text, 10).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_units_exactly() {
        assert_eq!(format_units(U256::from(1_500_000u64), 6), "1.5");
        assert_eq!(format_units(U256::from(1u64), 6), "0.000001");
        assert_eq!(format_units(U256::ZERO, 18), "0");
        assert_eq!(
            format_units(U256::from(10u64).pow(U256::from(22u64)), 18),
            "10000"
        );
        assert_eq!(format_units(U256::from(42u64), 0), "42");
    }

    #[test]
    fn anvil_accounts_have_their_well_known_addresses() {
        let account = DevnetAccount::anvil(0).unwrap();
        assert_eq!(
            account.address,
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
                .parse::<Address>()
                .unwrap()
        );
        assert!(!format!("{account:?}").contains(&account.private_key[2..]));
        assert!(DevnetAccount::anvil(10).is_err());
    }
}
