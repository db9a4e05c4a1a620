//! 65-byte `r ‖ s ‖ v` signatures: parsing, and signer recovery with libsecp256k1.

use std::{fmt, str::FromStr};

use alloy_primitives::{Address, B256, keccak256};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, serde_util::decode_hex};

/// Half the secp256k1 group order, big-endian: the largest `s` a canonical signature may have.
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// An Ethereum-style recoverable ECDSA signature, `r ‖ s ‖ v` with `v ∈ {27, 28}`.
///
/// Parsing only checks the encoding (hex, 65 bytes); [`recover_signer`] checks `v`, low-s and
/// the curve maths, each with its own error.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(pub [u8; 65]);

impl Signature {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 65] {
        &self.0
    }

    /// The recovery byte.
    pub fn v(&self) -> u8 {
        self.0[64]
    }

    /// The `s` scalar, big-endian.
    pub fn s(&self) -> &[u8] {
        &self.0[32..64]
    }

    /// `0x`-prefixed lowercase hex.
    pub fn to_hex(&self) -> String {
        format!("0x{}", alloy_primitives::hex::encode(self.0))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for Signature {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bytes = decode_hex("signature", text)?;
        let array: [u8; 65] = bytes
            .try_into()
            .map_err(|bytes: Vec<u8>| Error::WrongLength {
                what: "signature",
                expected: 65,
                actual: bytes.len(),
            })?;
        Ok(Signature(array))
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The libsecp256k1 context of [`recover_signer`]: recovery handles no secret, so one shared,
/// never re-randomised context serves every thread.
static VERIFIER: std::sync::LazyLock<secp256k1::Secp256k1<secp256k1::VerifyOnly>> =
    std::sync::LazyLock::new(secp256k1::Secp256k1::verification_only);

/// Recovers the address that signed `digest`.
///
/// Rejects, each with its own error: `v` other than 27/28, high-s (malleable) signatures,
/// and signatures from which no key can be recovered. Uses libsecp256k1 (through the
/// `secp256k1` crate), which is several times faster than `k256` at recovery; the two are
/// cross-checked in tests.
pub fn recover_signer(digest: &B256, signature: &Signature) -> Result<Address, Error> {
    let v = signature.v();
    let recovery_id = match v {
        27 => secp256k1::ecdsa::RecoveryId::Zero,
        28 => secp256k1::ecdsa::RecoveryId::One,
        v => return Err(Error::InvalidRecoveryId { v }),
    };
    // Big-endian byte strings of equal length compare like the numbers they encode.
    if signature.s() > HALF_ORDER.as_slice() {
        return Err(Error::HighS);
    }
    let recoverable =
        secp256k1::ecdsa::RecoverableSignature::from_compact(&signature.0[..64], recovery_id)
            .map_err(|_| Error::InvalidSignature)?;
    let public_key = VERIFIER
        .recover_ecdsa(secp256k1::Message::from_digest(digest.0), &recoverable)
        .map_err(|_| Error::InvalidSignature)?;
    let uncompressed = public_key.serialize_uncompressed();
    Ok(Address::from_slice(&keccak256(&uncompressed[1..])[12..]))
}

/// The signer of a signature over a digest, recovered ahead of a message's other checks:
/// the costly, stateless part of verification, done on any thread (a node's verification
/// pool) so that the thread judging messages in order only compares addresses.
///
/// It carries the digest and signature it was made from; a `verify_with` that is handed
/// one for another message (or signature) ignores it and recovers again, so a stale or
/// mismatched value can cost time, never let a wrong signer through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredSigner {
    digest: B256,
    signature: Signature,
    signer: Result<Address, Error>,
}

impl RecoveredSigner {
    /// Recovers the signer of `signature` over `digest` ([`recover_signer`]).
    pub fn recover(digest: B256, signature: Signature) -> Self {
        RecoveredSigner {
            digest,
            signature,
            signer: recover_signer(&digest, &signature),
        }
    }

    /// The signer of `signature` over `digest`: the one recovered ahead when it was made
    /// from these, else recovered now.
    pub(crate) fn signer_of(
        ahead: Option<&RecoveredSigner>,
        digest: &B256,
        signature: &Signature,
    ) -> Result<Address, Error> {
        match ahead {
            Some(ahead) if ahead.digest == *digest && ahead.signature == *signature => {
                ahead.signer.clone()
            }
            _ => recover_signer(digest, signature),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_order_is_n_over_two() {
        // n = FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFE BAAEDCE6 AF48A03B BFD25E8C D0364141
        let n = alloy_primitives::U256::from_str_radix(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
            16,
        )
        .unwrap();
        assert_eq!(
            alloy_primitives::U256::from_be_bytes(HALF_ORDER),
            n >> 1usize
        );
    }

    #[test]
    fn parse_errors_are_specific() {
        assert!(matches!(
            "zz".parse::<Signature>(),
            Err(Error::MalformedHex { .. })
        ));
        assert!(matches!(
            "0x1234".parse::<Signature>(),
            Err(Error::WrongLength {
                expected: 65,
                actual: 2,
                ..
            })
        ));
    }
}
