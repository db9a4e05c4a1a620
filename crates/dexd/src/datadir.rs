//! The data directory: a lock so two dexd never share it, the trader key (an encrypted
//! keystore, or plain hex only when the config says so) and the libp2p key (mode 0600,
//! created on first start), the API token (0600, created on first start, like bitcoind's
//! cookie), the API URL of the running node, and the database.

use std::{
    fs::{self, File, OpenOptions, TryLockError},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, anyhow, bail};
use dex_api::layout;
use dex_keyfile::PasswordSources;
use dex_network::Keypair;
use dex_primitives::{KdfStrength, TraderKey};
use zeroize::Zeroizing;

/// How the trader key is kept.
#[derive(Debug)]
pub(crate) struct TraderKeyAccess {
    /// A plain hex `trader.key` is accepted, and a new one is written plain
    /// (`--insecure-plain-key`, `plain_key = true`).
    pub(crate) allow_plain: bool,
    /// Where the keystore's password comes from.
    pub(crate) passwords: PasswordSources,
}

/// How the trader key was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyOrigin {
    /// Read from `trader.key`.
    Opened,
    /// Created now, encrypted.
    CreatedEncrypted,
    /// Created now, plain hex.
    CreatedPlain,
}

/// An open, locked data directory. The lock is released when this is dropped (or the
/// process dies).
#[derive(Debug)]
pub(crate) struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the directory if needed (mode 0700) and takes its lock.
    pub(crate) fn open(path: &Path) -> Result<DataDir> {
        if !path.exists() {
            fs::create_dir_all(path)
                .with_context(|| format!("cannot create the data dir {}", path.display()))?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        }
        let lock_path = path.join(layout::LOCK);
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("cannot open the lock file {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => bail!(
                "the data dir {} is in use by another dexd (it holds {}); stop it or use \
                 another --data-dir",
                path.display(),
                lock_path.display()
            ),
            Err(TryLockError::Error(err)) => {
                return Err(err).with_context(|| format!("cannot lock {}", lock_path.display()));
            }
        }
        // The pid, for operators; the lock, not the content, is what counts.
        let _ = lock
            .set_len(0)
            .and_then(|()| writeln!(lock, "{}", std::process::id()));
        Ok(DataDir {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The trader key: `trader.key` opened with its password (a plain hex file only if
    /// `access.allow_plain`), or, on first start, a new key written encrypted with a new
    /// password (scrypt at geth's standard parameters), plain only if allowed. Refuses a key
    /// file others can read.
    pub(crate) fn trader_key(&self, access: &TraderKeyAccess) -> Result<(TraderKey, KeyOrigin)> {
        let path = self.path.join(layout::TRADER_KEY);
        if path.exists() {
            check_private(&path)?;
            let key = dex_keyfile::load_key(&path, access.allow_plain, &access.passwords).map_err(
                |err| match err {
                    dex_keyfile::Error::PlainKeyRefused { path } => anyhow!(
                        "{} holds a plain (unencrypted) hex key, not an encrypted keystore: \
                         start with --insecure-plain-key (or set plain_key = true in the \
                         config) to use it anyway, only for throwaway keys such as a \
                         devnet's; or encrypt it with `dexctl key import --hex`",
                        path.display()
                    ),
                    err => anyhow!(err),
                },
            )?;
            return Ok((key, KeyOrigin::Opened));
        }
        let key = TraderKey::generate()?;
        if access.allow_plain {
            dex_keyfile::write_plain_key(&path, &key)?;
            return Ok((key, KeyOrigin::CreatedPlain));
        }
        dex_keyfile::write_keystore(&path, &key, KdfStrength::Standard, &access.passwords)
            .with_context(|| {
                format!(
                    "no trader key in {} yet: a new one is written encrypted, with a \
                     password (or import a key first: dexctl key import)",
                    self.path.display()
                )
            })?;
        Ok((key, KeyOrigin::CreatedEncrypted))
    }

    /// The libp2p identity (ed25519), created on first start.
    pub(crate) fn p2p_key(&self) -> Result<Keypair> {
        let path = self.path.join(layout::P2P_KEY);
        if path.exists() {
            check_private(&path)?;
            let bytes =
                fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            return Keypair::from_protobuf_encoding(&bytes)
                .with_context(|| format!("{} is not a libp2p key", path.display()));
        }
        let keypair = Keypair::generate_ed25519();
        let bytes = keypair
            .to_protobuf_encoding()
            .context("cannot encode the libp2p key")?;
        write_secret(&path, &bytes)?;
        Ok(keypair)
    }

    /// The API token, created on first start: 32 random bytes as hex.
    pub(crate) fn api_token(&self) -> Result<String> {
        let path = self.path.join(layout::API_TOKEN);
        if path.exists() {
            let token = read_secret(&path)?.trim().to_owned();
            if token.len() < 16 {
                bail!(
                    "{} holds a token of {} characters; at least 16 are needed (delete the \
                     file to get a new one)",
                    path.display(),
                    token.len()
                );
            }
            return Ok(token);
        }
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes).context("no randomness for the API token")?;
        let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        write_secret(&path, format!("{token}\n").as_bytes())?;
        Ok(token)
    }

    /// Writes the URL clients reach the API at (atomically).
    pub(crate) fn write_api_url(&self, url: &str) -> Result<()> {
        let path = self.path.join(layout::API_URL);
        let temporary = self.path.join(format!("{}.tmp", layout::API_URL));
        fs::write(&temporary, format!("{url}\n"))
            .and_then(|()| fs::rename(&temporary, &path))
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Removes the API URL at shutdown.
    pub(crate) fn remove_api_url(&self) {
        let _ = fs::remove_file(self.path.join(layout::API_URL));
    }
}

fn check_private(path: &Path) -> Result<()> {
    let mode = fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by other users (mode {:o}); run: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    Ok(())
}

fn read_secret(path: &Path) -> Result<Zeroizing<String>> {
    check_private(path)?;
    fs::read_to_string(path)
        .map(Zeroizing::new)
        .with_context(|| format!("cannot read {}", path.display()))
}

/// Creates a file only its owner can read, failing if it exists.
fn write_secret(path: &Path, contents: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> TraderKeyAccess {
        TraderKeyAccess {
            allow_plain: true,
            passwords: PasswordSources::default(),
        }
    }

    fn password(password: &str) -> TraderKeyAccess {
        TraderKeyAccess {
            allow_plain: false,
            passwords: PasswordSources::explicit(
                None,
                Some(Zeroizing::new(password.to_owned())),
                false,
            ),
        }
    }

    #[test]
    fn files_are_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(&dir.path().join("node")).unwrap();
        let (key, origin) = data.trader_key(&plain()).unwrap();
        assert_eq!(origin, KeyOrigin::CreatedPlain);
        let token = data.api_token().unwrap();
        let p2p = data.p2p_key().unwrap();
        for name in [layout::TRADER_KEY, layout::API_TOKEN, layout::P2P_KEY] {
            let mode = fs::metadata(data.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let (again, origin) = data.trader_key(&plain()).unwrap();
        assert_eq!(
            (again.address(), origin),
            (key.address(), KeyOrigin::Opened)
        );
        assert_eq!(data.api_token().unwrap(), token);
        assert_eq!(data.p2p_key().unwrap().public(), p2p.public());
        // A second opener is refused while the first holds the lock.
        let err = DataDir::open(data.path()).unwrap_err().to_string();
        assert!(err.contains("in use by another dexd"), "{err}");
        drop(data);
        assert!(DataDir::open(&dir.path().join("node")).is_ok());
    }

    #[test]
    fn readable_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        data.trader_key(&plain()).unwrap();
        let path = dir.path().join(layout::TRADER_KEY);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = data.trader_key(&plain()).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn a_plain_key_without_the_flag_is_refused_naming_flag_and_config() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        data.trader_key(&plain()).unwrap();
        let err = data.trader_key(&password("pw")).unwrap_err().to_string();
        assert!(
            err.contains("plain (unencrypted) hex key")
                && err.contains("--insecure-plain-key")
                && err.contains("plain_key = true"),
            "{err}"
        );
    }

    #[test]
    fn a_keystore_opens_with_its_password_only() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let key = TraderKey::generate().unwrap();
        let path = dir.path().join(layout::TRADER_KEY);
        dex_keyfile::write_keystore(&path, &key, KdfStrength::Light, &password("pw").passwords)
            .unwrap();
        let (opened, origin) = data.trader_key(&password("pw")).unwrap();
        assert_eq!(
            (opened.address(), origin),
            (key.address(), KeyOrigin::Opened)
        );
        let err = format!("{:#}", data.trader_key(&password("nope")).unwrap_err());
        assert!(err.contains("wrong password"), "{err}");
        // The flag allows plain keys; it does not skip the password of a keystore.
        let err = format!("{:#}", data.trader_key(&plain()).unwrap_err());
        assert!(
            err.contains("no password") && err.contains("DEX_KEY_PASSWORD"),
            "{err}"
        );
    }

    #[test]
    fn without_a_password_no_key_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap();
        let none = TraderKeyAccess {
            allow_plain: false,
            passwords: PasswordSources::default(),
        };
        let err = format!("{:#}", data.trader_key(&none).unwrap_err());
        assert!(
            err.contains("no trader key in")
                && err.contains("dexctl key import")
                && err.contains("--password-file"),
            "{err}"
        );
        assert!(!dir.path().join(layout::TRADER_KEY).exists());
    }
}
