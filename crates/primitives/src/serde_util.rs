//! Strict encodings shared by the types of this crate.

use alloy_primitives::{B256, U256};
use serde::{Deserialize, Deserializer, Serializer};

use crate::Error;

/// Decodes `0x`-prefixed hex, naming `what` in the error.
pub(crate) fn decode_hex(what: &'static str, text: &str) -> Result<Vec<u8>, Error> {
    let digits = text.strip_prefix("0x").ok_or_else(|| Error::MalformedHex {
        what,
        reason: "missing 0x prefix".into(),
    })?;
    alloy_primitives::hex::decode(digits).map_err(|err| Error::MalformedHex {
        what,
        reason: err.to_string(),
    })
}

/// Decodes a `0x`-prefixed 32-byte hex string.
pub(crate) fn decode_b256(what: &'static str, text: &str) -> Result<B256, Error> {
    let bytes = decode_hex(what, text)?;
    if bytes.len() != 32 {
        return Err(Error::WrongLength {
            what,
            expected: 32,
            actual: bytes.len(),
        });
    }
    Ok(B256::from_slice(&bytes))
}

/// Defines a 32-byte identifier newtype with strict `0x`-hex serde, `FromStr` and `Display`.
macro_rules! b256_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub alloy_primitives::B256);

        impl $name {
            /// The 32 bytes.
            pub fn as_b256(&self) -> &alloy_primitives::B256 {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;

            fn from_str(text: &str) -> Result<Self, $crate::Error> {
                $crate::serde_util::decode_b256($what, text).map($name)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use b256_id;

/// Serde for `uint256` values: written as a decimal string, read from a decimal string or a
/// JSON integer.
pub(crate) mod u256_decimal {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr<'a> {
        Number(u64),
        #[serde(borrow)]
        Text(std::borrow::Cow<'a, str>),
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<U256, D::Error> {
        match Repr::deserialize(deserializer)? {
            Repr::Number(number) => Ok(U256::from(number)),
            Repr::Text(text) => {
                if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
                    return Err(serde::de::Error::custom(format!(
                        "{text:?} is not a decimal uint256 (digits only)"
                    )));
                }
                U256::from_str_radix(&text, 10).map_err(|_| {
                    serde::de::Error::custom(format!("{text} does not fit in uint256"))
                })
            }
        }
    }
}
