//! The data directory: a lock so two dexd never share it, the trader key and the libp2p key
//! (mode 0600, created on first start), the API token (0600, created on first start, like
//! bitcoind's cookie), the API URL of the running node, and the database.

use std::{
    fs::{self, File, OpenOptions, TryLockError},
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, bail};
use dex_api::layout;
use dex_network::Keypair;
use dex_primitives::TraderKey;

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

    /// The trader key, created on first start. Refuses a key file others can read.
    pub(crate) fn trader_key(&self) -> Result<(TraderKey, bool)> {
        let path = self.path.join(layout::TRADER_KEY);
        if path.exists() {
            let text = read_secret(&path)?;
            let key = text
                .parse()
                .with_context(|| format!("{} does not hold a private key", path.display()))?;
            return Ok((key, false));
        }
        let key = TraderKey::generate()?;
        write_secret(&path, &[key.to_hex_secret().as_bytes(), b"\n"].concat())?;
        Ok((key, true))
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

fn read_secret(path: &Path) -> Result<String> {
    check_private(path)?;
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
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

    #[test]
    fn files_are_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(&dir.path().join("node")).unwrap();
        let (key, created) = data.trader_key().unwrap();
        assert!(created);
        let token = data.api_token().unwrap();
        let p2p = data.p2p_key().unwrap();
        for name in [layout::TRADER_KEY, layout::API_TOKEN, layout::P2P_KEY] {
            let mode = fs::metadata(data.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        assert_eq!(data.trader_key().unwrap().0.address(), key.address());
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
        data.trader_key().unwrap();
        let path = dir.path().join(layout::TRADER_KEY);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = data.trader_key().unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
