//! Trader keys: secp256k1 private keys that sign orders, updates and protocol messages.

use std::{cell::RefCell, fmt, str::FromStr};

use alloy_primitives::{Address, B256, hex, keccak256};
#[cfg(test)]
use k256::ecdsa::RecoveryId;
use k256::ecdsa::SigningKey;
use sha3::{Digest, Keccak256};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, Signature};

/// A trader's secp256k1 private key. Its identity is the Ethereum [`Address`].
///
/// The secret is erased on drop (by `k256` for its copy, by [`Drop`] here for the
/// libsecp256k1 copy the signer uses) and never printed: `Debug` shows the address. The
/// copies this type hands out ([`TraderKey::to_hex_secret`], the bytes a keystore encrypts)
/// are [`Zeroizing`], erased when dropped too. On disk it is a keystore
/// ([`TraderKey::to_keystore`], [`TraderKey::from_keystore`]).
#[derive(Clone)]
pub struct TraderKey {
    signing_key: SigningKey,
    /// The same secret for libsecp256k1, made once instead of at every signature.
    secp_secret: secp256k1::SecretKey,
    address: Address,
}

impl Drop for TraderKey {
    fn drop(&mut self) {
        self.secp_secret.non_secure_erase();
    }
}

impl TraderKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<TraderKey, Error> {
        loop {
            let mut bytes = Zeroizing::new([0u8; 32]);
            getrandom::getrandom(&mut *bytes).map_err(|err| Error::Randomness {
                reason: err.to_string(),
            })?;
            // Fails only for 0 or ≥ n: probability ≈ 2^-128; draw again.
            if let Ok(key) = TraderKey::from_bytes(&bytes) {
                return Ok(key);
            }
        }
    }

    /// A key from its 32 big-endian bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<TraderKey, Error> {
        let signing_key = SigningKey::from_slice(bytes).map_err(|_| Error::InvalidKey)?;
        // Both libraries accept exactly the scalars 1..n-1.
        let secp_secret =
            secp256k1::SecretKey::from_byte_array(*bytes).map_err(|_| Error::InvalidKey)?;
        let encoded = signing_key.verifying_key().to_encoded_point(false);
        let address = Address::from_slice(&keccak256(&encoded.as_bytes()[1..])[12..]);
        Ok(TraderKey {
            signing_key,
            secp_secret,
            address,
        })
    }

    /// The Ethereum address of the key.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The secret as `0x`-prefixed hex, for a plain key file or a plain export: erased when
    /// dropped, but it is the key in clear. Prefer [`TraderKey::to_keystore`].
    pub fn to_hex_secret(&self) -> Zeroizing<String> {
        let secret = self.secret_bytes();
        let mut digits = Zeroizing::new([0u8; 64]);
        hex::encode_to_slice(secret.as_slice(), digits.as_mut_slice())
            .expect("64 hex digits hold 32 bytes exactly");
        let mut text = Zeroizing::new(String::with_capacity(66));
        text.push_str("0x");
        text.push_str(std::str::from_utf8(&*digits).expect("hex digits are ASCII"));
        text
    }

    /// The secret's 32 big-endian bytes, erased when dropped.
    pub(crate) fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut field = self.signing_key.to_bytes();
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&field);
        AsMut::<[u8]>::as_mut(&mut field).zeroize();
        bytes
    }

    /// The `k256` signing key, for signers of other libraries (the chain client's
    /// transaction signer). `k256` erases it on drop, clones included.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// Signs a 32-byte digest: RFC 6979 deterministic nonce, low-s, `v ∈ {27, 28}`.
    ///
    /// Signs with libsecp256k1 (through the `secp256k1` crate, like [`crate::recover_signer`]),
    /// which is faster than `k256` and produces the same bytes: both derive the nonce by
    /// RFC 6979 with SHA-256 and normalise `s` to the lower half (cross-checked in tests).
    pub fn sign_digest(&self, digest: &B256) -> Signature {
        let signature = SIGNER.with(|signer| signer.borrow_mut().sign(digest, &self.secp_secret));
        let (recovery_id, compact) = signature.serialize_compact();
        let mut bytes = [0u8; 65];
        bytes[..64].copy_from_slice(&compact);
        bytes[64] = 27 + u8::try_from(i32::from(recovery_id)).expect("a recovery id is 0 to 3");
        Signature(bytes)
    }

    /// [`TraderKey::sign_digest`] with `k256`: the reference the libsecp256k1 signer is
    /// checked against.
    #[cfg(test)]
    fn sign_digest_k256(&self, digest: &B256) -> Signature {
        let (signature, recovery_id) = self
            .signing_key
            .sign_prehash_recoverable(digest.as_slice())
            .expect("signing a 32-byte prehash with a valid key cannot fail");
        let (signature, recovery_id) = match signature.normalize_s() {
            Some(normalized) => (
                normalized,
                RecoveryId::from_byte(recovery_id.to_byte() ^ 1)
                    .expect("flipping the parity bit of a valid recovery id stays valid"),
            ),
            None => (signature, recovery_id),
        };
        let mut bytes = [0u8; 65];
        bytes[..64].copy_from_slice(&signature.to_bytes());
        bytes[64] = 27 + recovery_id.to_byte();
        Signature(bytes)
    }

    /// A 32-byte secret derived from this key and `context`:
    /// `keccak256("p2pdex derived secret" ‖ private key ‖ context)`. Deterministic, so a
    /// node that restarts derives the same value again (e.g. a swap's preimage from the ids
    /// of the orders it trades), and unpredictable to anyone without the key.
    pub fn derive_secret(&self, context: &[u8]) -> B256 {
        // Streamed into the hasher: no heap copy of the private key is left behind, the
        // stack copy is erased, and the hasher (whose state holds the key) erases itself on
        // drop (`sha3` with `zeroize`; same Keccak-256 as `alloy_primitives::keccak256`).
        let secret = self.secret_bytes();
        let mut hasher = Keccak256::new();
        hasher.update(b"p2pdex derived secret");
        hasher.update(secret.as_slice());
        hasher.update(context);
        B256::from_slice(&hasher.finalize())
    }

    /// The `k256` verifying key, for cross-checks.
    pub fn verifying_key(&self) -> &k256::ecdsa::VerifyingKey {
        self.signing_key.verifying_key()
    }
}

/// Signatures a thread's signing context makes between two re-randomisations of it.
///
/// Re-randomising (blinding the context's precomputed multiples of the generator afresh)
/// costs as much as the scalar multiplication of a signature; doing it after every
/// signature, as `secp256k1` 0.33's global context does, doubles the cost of signing. It is
/// defence in depth against timing and power side channels on top of libsecp256k1's
/// constant-time code, so doing it every few dozen signatures keeps it for a fraction of
/// the cost. It never changes a signature (the nonce is RFC 6979's).
const RERANDOMISE_EVERY: u32 = 64;

thread_local! {
    /// Each thread's signing context (they are not shared: re-randomising needs `&mut`).
    static SIGNER: RefCell<Signer> = RefCell::new(Signer {
        context: secp256k1::Secp256k1::signing_only(),
        signatures: 0,
    });
}

/// A libsecp256k1 signing context and the signatures it made since it was re-randomised.
struct Signer {
    context: secp256k1::Secp256k1<secp256k1::SignOnly>,
    signatures: u32,
}

impl Signer {
    /// Signs `digest` with RFC 6979, re-randomising the context first when it is new or
    /// has made [`RERANDOMISE_EVERY`] signatures since it last was.
    fn sign(
        &mut self,
        digest: &B256,
        secret: &secp256k1::SecretKey,
    ) -> secp256k1::ecdsa::RecoverableSignature {
        if self.signatures.is_multiple_of(RERANDOMISE_EVERY) {
            // The operating system's randomness mixed with the secret and the digest (what
            // `secp256k1` seeds with when it has no randomness): unpredictable either way.
            let mut seed = Zeroizing::new(secret.secret_bytes());
            let mut random = [0u8; 32];
            // Without the OS's randomness the seed is still the secret and the digest.
            let _ = getrandom::getrandom(&mut random);
            for ((seed, digest), random) in seed.iter_mut().zip(digest.0).zip(random) {
                *seed ^= digest ^ random;
            }
            self.context.seeded_randomize(&seed);
        }
        self.signatures = self.signatures.wrapping_add(1);
        self.context
            .sign_ecdsa_recoverable(secp256k1::Message::from_digest(digest.0), secret)
    }
}

impl FromStr for TraderKey {
    type Err = Error;

    /// Parses a `0x`-prefixed 64-digit hex private key (surrounding whitespace ignored, so a
    /// key file with a trailing newline reads fine). The decoded bytes are erased after use.
    fn from_str(text: &str) -> Result<TraderKey, Error> {
        const WHAT: &str = "private key";
        let digits = text
            .trim()
            .strip_prefix("0x")
            .ok_or_else(|| Error::MalformedHex {
                what: WHAT,
                reason: "missing 0x prefix".into(),
            })?;
        // The reasons name a position or a length, never the text.
        hex::check(digits).map_err(|err| Error::MalformedHex {
            what: WHAT,
            reason: err.to_string(),
        })?;
        if digits.len() != 64 {
            return Err(Error::WrongLength {
                what: WHAT,
                expected: 32,
                actual: digits.len() / 2,
            });
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(digits, &mut *bytes).map_err(|err| Error::MalformedHex {
            what: WHAT,
            reason: err.to_string(),
        })?;
        TraderKey::from_bytes(&bytes)
    }
}

impl fmt::Debug for TraderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraderKey")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Anvil's first well-known development key (public; never use it for real funds).
    const ANVIL_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn known_key_has_known_address() {
        let key: TraderKey = ANVIL_KEY_0.parse().unwrap();
        assert_eq!(
            key.address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
        assert_eq!(*key.to_hex_secret(), ANVIL_KEY_0);
        assert!(!format!("{key:?}").contains("ac0974"));
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(matches!(
            "ac09".parse::<TraderKey>(),
            Err(Error::MalformedHex { .. })
        ));
        assert!(matches!(
            "0xac09".parse::<TraderKey>(),
            Err(Error::WrongLength { actual: 2, .. })
        ));
        assert_eq!(
            format!("0x{}", "00".repeat(32)).parse::<TraderKey>().err(),
            Some(Error::InvalidKey)
        );
        assert_eq!(
            format!("0x{}", "ff".repeat(32)).parse::<TraderKey>().err(),
            Some(Error::InvalidKey)
        );
    }

    #[test]
    fn derived_secrets_depend_on_key_and_context() {
        let a: TraderKey = ANVIL_KEY_0.parse().unwrap();
        let b = TraderKey::generate().unwrap();
        assert_eq!(a.derive_secret(b"x"), a.derive_secret(b"x"));
        assert_ne!(a.derive_secret(b"x"), a.derive_secret(b"y"));
        assert_ne!(a.derive_secret(b"x"), b.derive_secret(b"x"));
    }

    /// A derived secret is a swap's preimage, derived again after a restart: the value for
    /// a given key and context never changes (computed independently with Python's
    /// `eth_utils.keccak`).
    #[test]
    fn derived_secret_is_pinned() {
        let key: TraderKey = ANVIL_KEY_0.parse().unwrap();
        assert_eq!(
            key.derive_secret(b"x").to_string(),
            "0xa9b3f1ac3398a170ad389b2b0c75b9fc0246476fd31fea80997bf8ef548efe55"
        );
    }

    proptest::proptest! {
        /// libsecp256k1 and k256 sign every digest with every key to the same 65 bytes
        /// (RFC 6979 nonce, low s, v 27/28), and the signature recovers to the key's address.
        #[test]
        fn libsecp256k1_signs_like_k256(
            secret in proptest::array::uniform32(proptest::num::u8::ANY),
            digest in proptest::array::uniform32(proptest::num::u8::ANY),
        ) {
            let Ok(key) = TraderKey::from_bytes(&secret) else {
                return Ok(());
            };
            let digest = B256::from(digest);
            let signature = key.sign_digest(&digest);
            proptest::prop_assert_eq!(signature, key.sign_digest_k256(&digest));
            proptest::prop_assert!(signature.v() == 27 || signature.v() == 28);
            proptest::prop_assert_eq!(
                crate::recover_signer(&digest, &signature).unwrap(),
                key.address()
            );
        }
    }

    /// Signatures made across re-randomisations of the thread's signing context are the
    /// same bytes, k256's.
    #[test]
    fn rerandomising_the_signer_changes_no_signature() {
        let key: TraderKey = ANVIL_KEY_0.parse().unwrap();
        let digest = B256::repeat_byte(0x42);
        let expected = key.sign_digest_k256(&digest);
        for _ in 0..3 * RERANDOMISE_EVERY {
            assert_eq!(key.sign_digest(&digest), expected);
        }
        let other = B256::repeat_byte(0x43);
        assert_ne!(key.sign_digest(&other), expected);
        assert_eq!(key.sign_digest(&other), key.sign_digest_k256(&other));
    }

    #[test]
    fn generated_keys_differ() {
        let a = TraderKey::generate().unwrap();
        let b = TraderKey::generate().unwrap();
        assert_ne!(a.address(), b.address());
    }
}
