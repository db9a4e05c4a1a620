//! Trader keys in Web3 Secret Storage v3 keystores: the encrypted JSON files geth, Foundry
//! (`cast wallet`), ethers and eth-account read and write.
//!
//! A keystore holds the private key encrypted with AES-128-CTR under the first 16 bytes of a
//! key derived from the password (scrypt, or PBKDF2-HMAC-SHA256 when reading files of other
//! tools), and a MAC, `keccak256(derived[16..32] ‖ ciphertext)`, that tells a wrong password
//! from a right one. The primitives are RustCrypto's (`scrypt`, `pbkdf2`, `aes`, `ctr`,
//! `sha3`); this module only lays out the format around them, as the specification does:
//! <https://ethereum.org/en/developers/docs/data-structures-and-encoding/web3-secret-storage/>.
//!
//! Every copy of secret material made here (derived keys, the decrypted key) is erased when
//! dropped. Pure: the caller reads and writes the files and finds the password.

use aes::Aes128;
use alloy_primitives::{Address, hex};
use ctr::{
    Ctr128BE,
    cipher::{KeyIvInit, StreamCipher},
};
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::{Error, TraderKey};

/// How costly the scrypt key derivation of a new keystore is: what an attacker who has the
/// file pays per password guess, and what opening it costs the node once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KdfStrength {
    /// geth's standard parameters, what `geth account new` and eth-account write:
    /// n = 2^18, r = 8, p = 1 — 256 MiB of memory and about a second per attempt.
    #[default]
    Standard,
    /// geth's `--lightkdf`: n = 2^12, r = 8, p = 6 — 4 MiB, some milliseconds. Far cheaper
    /// to attack; for tests and for machines that cannot spare 256 MiB.
    Light,
}

impl KdfStrength {
    /// `(log2 n, r, p)`.
    fn scrypt_params(self) -> (u8, u32, u32) {
        match self {
            KdfStrength::Standard => (18, 8, 1),
            KdfStrength::Light => (12, 8, 6),
        }
    }
}

/// The largest scrypt memory (`128 · r · n` bytes) a keystore may ask for: four times the
/// standard parameters. A file asking for more is refused instead of exhausting memory.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// The largest scrypt work (`128 · r · n · p`, memory passes in bytes): 16 times standard.
const MAX_SCRYPT_WORK: u64 = 1 << 32;
/// The most PBKDF2 iterations read (eth-account writes 1,000,000).
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;
/// Derived key lengths read: the format needs 32 bytes (cipher key and MAC key).
const DERIVED_KEY_LENGTHS: std::ops::RangeInclusive<u32> = 32..=128;

/// The JSON of a keystore, as written. Field order follows geth's files.
#[derive(Serialize)]
struct KeystoreOut<'a> {
    address: String,
    crypto: CryptoOut<'a>,
    id: String,
    version: u8,
}

#[derive(Serialize)]
struct CryptoOut<'a> {
    cipher: &'a str,
    ciphertext: String,
    cipherparams: CipherParamsJson,
    kdf: &'a str,
    kdfparams: ScryptOut,
    mac: String,
}

#[derive(Serialize)]
struct ScryptOut {
    dklen: u32,
    n: u64,
    p: u32,
    r: u32,
    salt: String,
}

/// The JSON of a keystore, as read: the fields the format needs; others (`id`, `name`,
/// `meta`, `x-ethers`, …) are ignored.
#[derive(Deserialize)]
struct KeystoreIn {
    version: u64,
    /// geth writes `crypto`; some older tools `Crypto`.
    #[serde(alias = "Crypto")]
    crypto: CryptoIn,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Deserialize)]
struct CryptoIn {
    cipher: String,
    ciphertext: String,
    cipherparams: CipherParamsJson,
    kdf: String,
    kdfparams: serde_json::Value,
    mac: String,
}

#[derive(Serialize, Deserialize)]
struct CipherParamsJson {
    iv: String,
}

#[derive(Deserialize)]
struct ScryptIn {
    dklen: u32,
    n: u64,
    r: u32,
    p: u32,
    salt: String,
}

#[derive(Deserialize)]
struct Pbkdf2In {
    dklen: u32,
    c: u32,
    prf: String,
    salt: String,
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::KeystoreMalformed {
        reason: reason.into(),
    }
}

fn unsupported(reason: impl Into<String>) -> Error {
    Error::KeystoreUnsupported {
        reason: reason.into(),
    }
}

/// Decodes a hex field (an optional `0x` is accepted, as some tools write it).
fn hex_field(field: &'static str, text: &str) -> Result<Vec<u8>, Error> {
    hex::decode(text).map_err(|err| malformed(format!("`{field}` is not hex: {err}")))
}

/// Decodes a hex field of exactly `N` bytes.
fn hex_array<const N: usize>(field: &'static str, text: &str) -> Result<[u8; N], Error> {
    let bytes = hex_field(field, text)?;
    bytes.as_slice().try_into().map_err(|_| {
        malformed(format!(
            "`{field}` must be {N} bytes, it has {}",
            bytes.len()
        ))
    })
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|err| Error::Randomness {
        reason: err.to_string(),
    })?;
    Ok(bytes)
}

/// A random (version 4) UUID, the keystore's `id`.
fn uuid_v4() -> Result<String, Error> {
    let mut bytes: [u8; 16] = random()?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let digits = hex::encode(bytes);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &digits[..8],
        &digits[8..12],
        &digits[12..16],
        &digits[16..20],
        &digits[20..]
    ))
}

/// `keccak256(derived[16..32] ‖ ciphertext)`, with a hasher that erases its state on drop
/// (it holds half of the derived key).
fn mac(derived: &[u8], ciphertext: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(&derived[16..32]);
    hasher.update(ciphertext);
    hasher.finalize().into()
}

/// AES-128-CTR with the first 16 bytes of `derived` as key, in place (encrypts and
/// decrypts). The cipher erases its round keys on drop.
fn aes_128_ctr(derived: &[u8], iv: &[u8; 16], data: &mut [u8]) {
    let mut cipher = Ctr128BE::<Aes128>::new_from_slices(&derived[..16], iv)
        .expect("a 16-byte key and a 16-byte IV are AES-128-CTR's sizes");
    cipher.apply_keystream(data);
}

/// scrypt with checked parameters, into a derived key erased on drop.
fn scrypt_key(
    password: &[u8],
    salt: &[u8],
    n: u64,
    r: u32,
    p: u32,
    dklen: u32,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if n < 2 || !n.is_power_of_two() {
        return Err(malformed(format!(
            "scrypt n = {n} is not a power of two above 1"
        )));
    }
    if r == 0 || p == 0 {
        return Err(malformed(format!(
            "scrypt r = {r}, p = {p}: both must be > 0"
        )));
    }
    let memory = 128u64.saturating_mul(u64::from(r)).saturating_mul(n);
    if memory > MAX_SCRYPT_MEMORY || memory.saturating_mul(u64::from(p)) > MAX_SCRYPT_WORK {
        return Err(unsupported(format!(
            "scrypt n = {n}, r = {r}, p = {p} need {} MiB and {}x the work of the standard \
             parameters; at most {} MiB and 16x are read",
            memory >> 20,
            memory.saturating_mul(u64::from(p)) >> 28,
            MAX_SCRYPT_MEMORY >> 20
        )));
    }
    let log_n = u8::try_from(n.trailing_zeros()).expect("a u64 has at most 63 trailing zeros");
    let params = scrypt::Params::new(log_n, r, p)
        .map_err(|_| unsupported(format!("scrypt n = {n}, r = {r}, p = {p} are not valid")))?;
    let mut derived = Zeroizing::new(vec![0u8; dklen as usize]);
    scrypt::scrypt(password, salt, &params, &mut derived)
        .map_err(|_| malformed(format!("scrypt cannot derive {dklen} bytes")))?;
    Ok(derived)
}

impl TraderKey {
    /// This key as a Web3 Secret Storage v3 keystore (JSON text) encrypted with `password`:
    /// scrypt with `strength`'s parameters, a random 32-byte salt and IV, AES-128-CTR, the
    /// Keccak-256 MAC, the address (lowercase hex, as geth writes it) and a random id. The
    /// text holds nothing secret without the password.
    pub fn to_keystore(&self, password: &[u8], strength: KdfStrength) -> Result<String, Error> {
        let (log_n, r, p) = strength.scrypt_params();
        let salt: [u8; 32] = random()?;
        let iv: [u8; 16] = random()?;
        let derived = scrypt_key(password, &salt, 1u64 << log_n, r, p, 32)?;
        let mut ciphertext = self.secret_bytes();
        aes_128_ctr(&derived, &iv, &mut *ciphertext);
        let mac = mac(&derived, &*ciphertext);
        let keystore = KeystoreOut {
            address: hex::encode(self.address()),
            crypto: CryptoOut {
                cipher: "aes-128-ctr",
                ciphertext: hex::encode(*ciphertext),
                cipherparams: CipherParamsJson {
                    iv: hex::encode(iv),
                },
                kdf: "scrypt",
                kdfparams: ScryptOut {
                    dklen: 32,
                    n: 1u64 << log_n,
                    p,
                    r,
                    salt: hex::encode(salt),
                },
                mac: hex::encode(mac),
            },
            id: uuid_v4()?,
            version: 3,
        };
        Ok(serde_json::to_string_pretty(&keystore).expect("a keystore serializes to JSON"))
    }

    /// Opens a Web3 Secret Storage v3 keystore (JSON text) with `password`: scrypt or
    /// PBKDF2-HMAC-SHA256, AES-128-CTR. A wrong password is [`Error::WrongPassword`]; a file
    /// that is not a keystore is [`Error::KeystoreMalformed`], one of another version,
    /// cipher or KDF (or with parameters beyond 1 GiB of memory) is
    /// [`Error::KeystoreUnsupported`]; an `address` that is not the key's is
    /// [`Error::KeystoreAddressMismatch`]. Never panics on any input.
    pub fn from_keystore(json: &str, password: &[u8]) -> Result<TraderKey, Error> {
        let keystore: KeystoreIn =
            serde_json::from_str(json).map_err(|err| malformed(err.to_string()))?;
        if keystore.version != 3 {
            return Err(unsupported(format!(
                "version {} (only version 3 is read)",
                keystore.version
            )));
        }
        let crypto = keystore.crypto;
        if !crypto.cipher.eq_ignore_ascii_case("aes-128-ctr") {
            return Err(unsupported(format!(
                "cipher {:?} (only aes-128-ctr is read)",
                crypto.cipher
            )));
        }
        let iv: [u8; 16] = hex_array("cipherparams.iv", &crypto.cipherparams.iv)?;
        let ciphertext: [u8; 32] = hex_array("ciphertext", &crypto.ciphertext)?;
        let expected_mac: [u8; 32] = hex_array("mac", &crypto.mac)?;
        let derived = match crypto.kdf.to_ascii_lowercase().as_str() {
            "scrypt" => {
                let params: ScryptIn = serde_json::from_value(crypto.kdfparams)
                    .map_err(|err| malformed(format!("kdfparams: {err}")))?;
                check_dklen(params.dklen)?;
                let salt = hex_field("kdfparams.salt", &params.salt)?;
                scrypt_key(password, &salt, params.n, params.r, params.p, params.dklen)?
            }
            "pbkdf2" => {
                let params: Pbkdf2In = serde_json::from_value(crypto.kdfparams)
                    .map_err(|err| malformed(format!("kdfparams: {err}")))?;
                check_dklen(params.dklen)?;
                if params.prf != "hmac-sha256" {
                    return Err(unsupported(format!(
                        "PBKDF2 with {:?} (only hmac-sha256 is read)",
                        params.prf
                    )));
                }
                if params.c == 0 || params.c > MAX_PBKDF2_ROUNDS {
                    return Err(unsupported(format!(
                        "PBKDF2 with {} rounds (1 to {MAX_PBKDF2_ROUNDS} are read)",
                        params.c
                    )));
                }
                let salt = hex_field("kdfparams.salt", &params.salt)?;
                let mut derived = Zeroizing::new(vec![0u8; params.dklen as usize]);
                pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha256>(
                    password,
                    &salt,
                    params.c,
                    &mut derived,
                );
                derived
            }
            other => {
                return Err(unsupported(format!(
                    "key derivation {other:?} (scrypt and pbkdf2 are read)"
                )));
            }
        };
        // Constant time: how much of the MAC matched says nothing about the password.
        if !bool::from(mac(&derived, &ciphertext).ct_eq(&expected_mac)) {
            return Err(Error::WrongPassword);
        }
        let mut secret = Zeroizing::new(ciphertext);
        aes_128_ctr(&derived, &iv, &mut *secret);
        let key = TraderKey::from_bytes(&secret)?;
        if let Some(stated) = keystore.address.as_deref().filter(|text| !text.is_empty()) {
            let stated = Address::from(hex_array::<20>("address", stated)?);
            if stated != key.address() {
                return Err(Error::KeystoreAddressMismatch {
                    stated,
                    actual: key.address(),
                });
            }
        }
        Ok(key)
    }
}

fn check_dklen(dklen: u32) -> Result<(), Error> {
    if DERIVED_KEY_LENGTHS.contains(&dklen) {
        Ok(())
    } else {
        Err(malformed(format!(
            "kdfparams.dklen = {dklen}; the format needs 32 (at most 128 are read)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Anvil's first development key (public).
    const ANVIL_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    /// The two test vectors of the Web3 Secret Storage definition (password
    /// `testpassword`), checked with eth-account's `Account.decrypt` too. The scrypt one has
    /// r = 1 with n = 2^18, which scrypt before 0.12 refused.
    const SPEC_SCRYPT: &str = r#"{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"83dbcc02d8ccb40e466191a123791e0e"},"ciphertext":"d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c","kdf":"scrypt","kdfparams":{"dklen":32,"n":262144,"p":8,"r":1,"salt":"ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19"},"mac":"2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097"},"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}"#;
    const SPEC_PBKDF2: &str = r#"{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"6087dab2f9fdbbfaddc31a909735c1e6"},"ciphertext":"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46","kdf":"pbkdf2","kdfparams":{"c":262144,"dklen":32,"prf":"hmac-sha256","salt":"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},"mac":"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"},"id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}"#;
    const SPEC_KEY: &str = "0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";

    fn anvil() -> TraderKey {
        ANVIL_KEY_0.parse().unwrap()
    }

    fn light_keystore(password: &str) -> serde_json::Value {
        serde_json::from_str(
            &anvil()
                .to_keystore(password.as_bytes(), KdfStrength::Light)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_new_keystore_opens_to_the_same_key() {
        let key = TraderKey::generate().unwrap();
        let json = key
            .to_keystore(b"correct horse", KdfStrength::Light)
            .unwrap();
        let opened = TraderKey::from_keystore(&json, b"correct horse").unwrap();
        assert_eq!(opened.address(), key.address());
        assert_eq!(*opened.to_hex_secret(), *key.to_hex_secret());
        // Nothing of the secret in the file.
        assert!(!json.contains(&key.to_hex_secret()[2..]));
    }

    #[test]
    fn a_wrong_password_is_a_typed_error() {
        let json = anvil().to_keystore(b"right", KdfStrength::Light).unwrap();
        assert_eq!(
            TraderKey::from_keystore(&json, b"wrong").err(),
            Some(Error::WrongPassword)
        );
        assert_eq!(
            TraderKey::from_keystore(&json, b"").err(),
            Some(Error::WrongPassword)
        );
    }

    #[test]
    fn new_keystores_have_geths_layout_and_parameters() {
        let json = light_keystore("pw");
        assert_eq!(json["version"], 3);
        assert_eq!(json["address"], "f39fd6e51aad88f6f4ce6ab8827279cfffb92266");
        assert_eq!(json["crypto"]["cipher"], "aes-128-ctr");
        assert_eq!(json["crypto"]["kdf"], "scrypt");
        let params = &json["crypto"]["kdfparams"];
        assert_eq!(
            (&params["n"], &params["r"], &params["p"], &params["dklen"]),
            (&4096.into(), &8.into(), &6.into(), &32.into())
        );
        assert_eq!(params["salt"].as_str().unwrap().len(), 64);
        assert_eq!(
            json["crypto"]["cipherparams"]["iv"].as_str().unwrap().len(),
            32
        );
        let id = json["id"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "a version 4 UUID: {id}");
        // Fresh salt, IV and id every time.
        let again = light_keystore("pw");
        assert_ne!(json["crypto"]["ciphertext"], again["crypto"]["ciphertext"]);
        assert_ne!(json["id"], again["id"]);
        assert_eq!(KdfStrength::default().scrypt_params(), (18, 8, 1));
    }

    #[test]
    fn the_specification_vectors_open() {
        for vector in [SPEC_SCRYPT, SPEC_PBKDF2] {
            let key = TraderKey::from_keystore(vector, b"testpassword").unwrap();
            assert_eq!(*key.to_hex_secret(), SPEC_KEY);
            assert_eq!(
                TraderKey::from_keystore(vector, b"testpassword!").err(),
                Some(Error::WrongPassword)
            );
        }
    }

    fn error_of(json: &serde_json::Value) -> Error {
        TraderKey::from_keystore(&json.to_string(), b"pw").unwrap_err()
    }

    /// The error for a good keystore changed by `edit`.
    fn damaged(edit: impl FnOnce(&mut serde_json::Value)) -> Error {
        let mut json = light_keystore("pw");
        edit(&mut json);
        error_of(&json)
    }

    fn malformed_naming(err: &Error, field: &str) -> bool {
        matches!(err, Error::KeystoreMalformed { reason } if reason.contains(field))
    }

    fn unsupported_naming(err: &Error, what: &str) -> bool {
        matches!(err, Error::KeystoreUnsupported { reason } if reason.contains(what))
    }

    #[test]
    fn damaged_and_foreign_files_are_typed_errors_not_panics() {
        for text in ["{", "0xac09", "[]", ""] {
            assert!(
                matches!(
                    TraderKey::from_keystore(text, b"pw"),
                    Err(Error::KeystoreMalformed { .. })
                ),
                "{text:?}"
            );
        }
        let err = damaged(|json| json["version"] = 4.into());
        assert!(unsupported_naming(&err, "version 4"), "{err:?}");
        // Lengths that index into buffers in other implementations (a 16-byte IV, a 32-byte
        // derived key) are checked, not trusted.
        let err = damaged(|json| json["crypto"]["cipherparams"]["iv"] = "00ff".into());
        assert!(malformed_naming(&err, "cipherparams.iv"), "{err:?}");
        let err = damaged(|json| json["crypto"]["ciphertext"] = "00".into());
        assert!(malformed_naming(&err, "ciphertext"), "{err:?}");
        let err = damaged(|json| json["crypto"]["kdfparams"]["dklen"] = 16.into());
        assert!(malformed_naming(&err, "dklen"), "{err:?}");
        let err = damaged(|json| json["crypto"]["kdfparams"]["n"] = 1000.into());
        assert!(malformed_naming(&err, "power of two"), "{err:?}");
        // A file asking for 128 TiB is refused before any allocation.
        let err = damaged(|json| json["crypto"]["kdfparams"]["n"] = (1u64 << 40).into());
        assert!(unsupported_naming(&err, "MiB"), "{err:?}");
        let err = damaged(|json| json["crypto"]["cipher"] = "aes-128-cbc".into());
        assert!(unsupported_naming(&err, "aes-128-cbc"), "{err:?}");
        let err = damaged(|json| json["crypto"]["kdf"] = "argon2".into());
        assert!(unsupported_naming(&err, "argon2"), "{err:?}");
        let err = damaged(|json| json["crypto"]["mac"] = "zz".into());
        assert!(malformed_naming(&err, "mac"), "{err:?}");
        // A damaged ciphertext of the right length fails the MAC like a wrong password.
        let err = damaged(|json| {
            let text = json["crypto"]["ciphertext"].as_str().unwrap();
            let flipped = if text.starts_with('0') { "1" } else { "0" };
            json["crypto"]["ciphertext"] = format!("{flipped}{}", &text[1..]).into();
        });
        assert_eq!(err, Error::WrongPassword);
        // A missing field names it.
        let err = damaged(|json| {
            json["crypto"].as_object_mut().unwrap().remove("kdfparams");
        });
        assert!(malformed_naming(&err, "kdfparams"), "{err:?}");
    }

    #[test]
    fn an_address_that_is_not_the_keys_is_refused() {
        let mut json = light_keystore("pw");
        json["address"] = "70997970c51812dc3a010c7d01b50e0d17dc79c8".into();
        assert!(matches!(
            error_of(&json),
            Error::KeystoreAddressMismatch { actual, .. } if actual == anvil().address()
        ));
        // Checksummed, 0x-prefixed, "Crypto" (older tools) and no address at all are read.
        let mut json = light_keystore("pw");
        json["address"] = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".into();
        let crypto = json.as_object_mut().unwrap().remove("crypto").unwrap();
        json["Crypto"] = crypto;
        assert_eq!(
            TraderKey::from_keystore(&json.to_string(), b"pw")
                .unwrap()
                .address(),
            anvil().address()
        );
        json.as_object_mut().unwrap().remove("address");
        assert!(TraderKey::from_keystore(&json.to_string(), b"pw").is_ok());
    }
}
