//! Trader key files, as dexd and dexctl read and write them.
//!
//! A key file is a Web3 Secret Storage v3 keystore (JSON, see
//! [`TraderKey::to_keystore`]): what geth, Foundry's `cast wallet` and eth-account read and
//! write. A plain `0x`-hex key file is read or written only where the caller explicitly
//! allows it ([`PLAIN_KEY_FLAG`]): the devnet's well-known anvil keys, tests.
//!
//! The password of a keystore comes from [`PasswordSources`]: a password file, else the
//! [`PASSWORD_ENV`] environment variable, else a prompt on the terminal when stdin is one;
//! with none of them, a clear error instead of a hang.
//!
//! Key text, passwords and decoded keys are held in [`Zeroizing`] buffers, erased when
//! dropped. New files are created with mode 0600 and never replace an existing file.

use std::{
    fmt,
    fs::{self, OpenOptions},
    io::{self, IsTerminal, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use dex_primitives::{KdfStrength, TraderKey};
use zeroize::Zeroizing;

/// The environment variable a keystore password may be given in.
pub const PASSWORD_ENV: &str = "DEX_KEY_PASSWORD";

/// The command-line flag that allows plain (unencrypted) hex key files.
pub const PLAIN_KEY_FLAG: &str = "--insecure-plain-key";

/// What can go wrong with a key file or a password. Messages name the file and never hold
/// a key or a password. Each message includes its cause (the causes are fields, not
/// `source()`s, so that a chain printed with `{:#}` says it once).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or created.
    #[error("cannot {action} {}: {error}", path.display())]
    Io {
        /// What was being done (`read`, `create`, `read the password file`).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: io::Error,
    },
    /// The file holds a plain hex key where only keystores are accepted.
    #[error(
        "{} holds a plain (unencrypted) hex key, not an encrypted keystore: pass \
         {PLAIN_KEY_FLAG} to use it anyway (only for throwaway keys, such as a devnet's \
         well-known ones), or encrypt it with `dexctl key import --hex`",
        path.display()
    )]
    PlainKeyRefused {
        /// The file.
        path: PathBuf,
    },
    /// The file holds neither a keystore nor a hex key.
    #[error("{} holds neither a keystore (JSON) nor a 0x-hex private key", path.display())]
    NotAKey {
        /// The file.
        path: PathBuf,
    },
    /// The keystore could not be opened: wrong password, damaged or foreign file.
    #[error("cannot open the keystore {}: {error}", path.display())]
    Keystore {
        /// The file.
        path: PathBuf,
        /// Why ([`dex_primitives::Error::WrongPassword`], `KeystoreMalformed`, …).
        error: Box<dex_primitives::Error>,
    },
    /// A plain key file (allowed) does not hold a valid key.
    #[error("{} does not hold a private key: {error}", path.display())]
    PlainKey {
        /// The file.
        path: PathBuf,
        /// Why.
        error: Box<dex_primitives::Error>,
    },
    /// No password source is available.
    #[error(
        "no password {purpose}: give --password-file <file> (its first line), set \
         {PASSWORD_ENV}, or run on a terminal to be asked"
    )]
    NoPassword {
        /// What the password is for (`to open /data/trader.key`).
        purpose: String,
    },
    /// The password and its confirmation typed on the terminal differ.
    #[error("the two passwords typed differ")]
    PasswordsDiffer,
    /// An empty password for a new keystore.
    #[error(
        "an empty password protects nothing: choose one (or, for a throwaway key, \
         {PLAIN_KEY_FLAG})"
    )]
    EmptyPassword,
    /// Reading from the terminal failed.
    #[error("cannot read the password from the terminal: {error}")]
    Terminal {
        /// What the terminal said.
        error: io::Error,
    },
    /// Making a key or a keystore failed (no randomness).
    #[error(transparent)]
    Key(Box<dex_primitives::Error>),
}

impl From<dex_primitives::Error> for Error {
    fn from(error: dex_primitives::Error) -> Error {
        Error::Key(Box::new(error))
    }
}

/// Where a keystore password comes from, tried in this order: a password file (its first
/// line, without the line break, as geth's `--password` reads it), the [`PASSWORD_ENV`]
/// environment variable, a prompt on the terminal (only when stdin is one).
#[derive(Default)]
pub struct PasswordSources {
    file: Option<PathBuf>,
    env: Option<Zeroizing<String>>,
    terminal: bool,
}

impl fmt::Debug for PasswordSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password itself.
        f.debug_struct("PasswordSources")
            .field("file", &self.file)
            .field("env", &self.env.is_some())
            .field("terminal", &self.terminal)
            .finish()
    }
}

impl PasswordSources {
    /// The sources of this process: `file` (`--password-file`), the [`PASSWORD_ENV`]
    /// variable, the terminal if stdin is one.
    pub fn new(file: Option<PathBuf>) -> PasswordSources {
        PasswordSources {
            file,
            env: std::env::var(PASSWORD_ENV).ok().map(Zeroizing::new),
            terminal: io::stdin().is_terminal(),
        }
    }

    /// Explicit sources: a file, a password (as the environment would give it), and
    /// whether to prompt on the terminal.
    pub fn explicit(
        file: Option<PathBuf>,
        env: Option<Zeroizing<String>>,
        terminal: bool,
    ) -> PasswordSources {
        PasswordSources {
            file,
            env,
            terminal,
        }
    }

    /// Whether a password would come from the environment variable (no file given).
    pub fn has_env(&self) -> bool {
        self.env.is_some()
    }

    /// The password `purpose` names (`to open /data/trader.key`): from the first source
    /// that has one. A file that cannot be read is an error, not a fall-through.
    pub fn password(&self, purpose: &str) -> Result<Zeroizing<String>, Error> {
        if let Some(file) = &self.file {
            return first_line(file);
        }
        if let Some(password) = &self.env {
            return Ok(password.clone());
        }
        if self.terminal {
            return prompt(&format!("Password {purpose}: "));
        }
        Err(Error::NoPassword {
            purpose: purpose.to_owned(),
        })
    }

    /// A password for a new keystore: typed twice on the terminal, never empty.
    pub fn new_password(&self, purpose: &str) -> Result<Zeroizing<String>, Error> {
        let password = if self.file.is_none() && self.env.is_none() && self.terminal {
            let first = prompt(&format!("New password {purpose}: "))?;
            let again = prompt("The same password again: ")?;
            if first != again {
                return Err(Error::PasswordsDiffer);
            }
            first
        } else {
            self.password(purpose)?
        };
        if password.is_empty() {
            return Err(Error::EmptyPassword);
        }
        Ok(password)
    }
}

fn prompt(text: &str) -> Result<Zeroizing<String>, Error> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|error| Error::Terminal { error })
}

/// The first line of a password file, without its line break.
fn first_line(path: &Path) -> Result<Zeroizing<String>, Error> {
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|error| Error::Io {
        action: "read the password file",
        path: path.to_owned(),
        error,
    })?);
    let line = text.split('\n').next().unwrap_or_default();
    Ok(Zeroizing::new(
        line.strip_suffix('\r').unwrap_or(line).to_owned(),
    ))
}

/// Whether key file text is a keystore (a JSON object) rather than a plain hex key.
pub fn is_keystore(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

/// Reads a key file's text into a buffer erased when dropped.
pub fn read_key_text(path: &Path) -> Result<Zeroizing<String>, Error> {
    fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|error| Error::Io {
            action: "read",
            path: path.to_owned(),
            error,
        })
}

/// The key in `text`, read from `path`: a keystore, opened with a password from
/// `passwords` (asked for only then), or, if `allow_plain`, a `0x`-hex key. A plain key
/// without `allow_plain` is [`Error::PlainKeyRefused`], whose message names
/// [`PLAIN_KEY_FLAG`].
pub fn open_key(
    path: &Path,
    text: &str,
    allow_plain: bool,
    passwords: &PasswordSources,
) -> Result<TraderKey, Error> {
    if is_keystore(text) {
        let password = passwords.password(&format!("to open {}", path.display()))?;
        return TraderKey::from_keystore(text, password.as_bytes()).map_err(|error| {
            Error::Keystore {
                path: path.to_owned(),
                error: Box::new(error),
            }
        });
    }
    if !allow_plain {
        return Err(if text.trim_start().starts_with("0x") {
            Error::PlainKeyRefused {
                path: path.to_owned(),
            }
        } else {
            Error::NotAKey {
                path: path.to_owned(),
            }
        });
    }
    text.parse().map_err(|error| Error::PlainKey {
        path: path.to_owned(),
        error: Box::new(error),
    })
}

/// Reads and opens the key file `path` (see [`open_key`]).
pub fn load_key(
    path: &Path,
    allow_plain: bool,
    passwords: &PasswordSources,
) -> Result<TraderKey, Error> {
    let text = read_key_text(path)?;
    open_key(path, &text, allow_plain, passwords)
}

/// Creates `path` with `parts` written one after the other, readable only by its owner
/// (mode 0600) and synced to disk. Never replaces an existing file.
pub fn write_private_file(path: &Path, parts: &[&[u8]]) -> Result<(), Error> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| Error::Io {
            action: "create",
            path: path.to_owned(),
            error,
        })?;
    parts
        .iter()
        .try_for_each(|part| file.write_all(part))
        .and_then(|()| file.sync_all())
        .map_err(|error| Error::Io {
            action: "write",
            path: path.to_owned(),
            error,
        })
}

/// Refuses a path that exists, before a password is asked and a key derived for nothing.
fn check_absent(path: &Path) -> Result<(), Error> {
    if path.exists() {
        return Err(Error::Io {
            action: "create",
            path: path.to_owned(),
            error: io::Error::from(io::ErrorKind::AlreadyExists),
        });
    }
    Ok(())
}

/// Writes `key` into the new file `path` as a keystore encrypted with a new password from
/// `passwords` (typed twice on a terminal), scrypt at `strength`.
pub fn write_keystore(
    path: &Path,
    key: &TraderKey,
    strength: KdfStrength,
    passwords: &PasswordSources,
) -> Result<(), Error> {
    check_absent(path)?;
    let password = passwords.new_password(&format!("for {}", path.display()))?;
    let json = key.to_keystore(password.as_bytes(), strength)?;
    write_private_file(path, &[json.as_bytes(), b"\n"])
}

/// Writes `key` into the new file `path` as plain `0x` hex: anyone who can read the file
/// has the key. Only where the plain-key flag was given.
pub fn write_plain_key(path: &Path, key: &TraderKey) -> Result<(), Error> {
    check_absent(path)?;
    write_private_file(path, &[key.to_hex_secret().as_bytes(), b"\n"])
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const ANVIL_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    fn env(password: &str) -> PasswordSources {
        PasswordSources::explicit(None, Some(Zeroizing::new(password.to_owned())), false)
    }

    fn keystore(dir: &Path, password: &str) -> (PathBuf, TraderKey) {
        let key: TraderKey = ANVIL_KEY_0.parse().unwrap();
        let path = dir.join("trader.key");
        write_keystore(&path, &key, KdfStrength::Light, &env(password)).unwrap();
        (path, key)
    }

    #[test]
    fn a_written_keystore_loads_back_private() {
        let dir = tempfile::tempdir().unwrap();
        let (path, key) = keystore(dir.path(), "pw");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            load_key(&path, false, &env("pw")).unwrap().address(),
            key.address()
        );
        let text = fs::read_to_string(&path).unwrap();
        assert!(is_keystore(&text) && !text.contains(&ANVIL_KEY_0[2..]));
        // Never over an existing file, and before any password is asked.
        let err = write_keystore(&path, &key, KdfStrength::Light, &PasswordSources::default())
            .unwrap_err();
        assert!(
            matches!(&err, Error::Io { error, .. } if error.kind() == io::ErrorKind::AlreadyExists),
            "{err}"
        );
    }

    #[test]
    fn a_wrong_password_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = keystore(dir.path(), "pw");
        let err = load_key(&path, false, &env("nope")).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::Keystore { error, .. } if **error == dex_primitives::Error::WrongPassword
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&path.display().to_string()) && message.contains("wrong password"),
            "{message}"
        );
    }

    #[test]
    fn plain_keys_need_the_flag_and_the_message_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plain.key");
        let key: TraderKey = ANVIL_KEY_0.parse().unwrap();
        write_plain_key(&path, &key).unwrap();
        let err = load_key(&path, false, &env("pw")).unwrap_err();
        assert!(matches!(err, Error::PlainKeyRefused { .. }), "{err:?}");
        assert!(err.to_string().contains(PLAIN_KEY_FLAG), "{err}");
        assert_eq!(
            load_key(&path, true, &PasswordSources::default())
                .unwrap()
                .address(),
            key.address()
        );
        // Garbage is neither.
        fs::write(dir.path().join("junk"), "hello").unwrap();
        let err = load_key(&dir.path().join("junk"), false, &env("pw")).unwrap_err();
        assert!(matches!(err, Error::NotAKey { .. }), "{err:?}");
    }

    #[test]
    fn passwords_come_from_the_file_then_the_environment_and_never_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        fs::write(&file, "from file\r\nsecond line\n").unwrap();
        let both =
            PasswordSources::explicit(Some(file), Some(Zeroizing::new("from env".into())), false);
        assert_eq!(*both.password("to test").unwrap(), "from file");
        assert_eq!(*env("from env").password("to test").unwrap(), "from env");
        let err = PasswordSources::default()
            .password("to open x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("to open x")
                && err.contains("--password-file")
                && err.contains(PASSWORD_ENV),
            "{err}"
        );
        let missing = PasswordSources::explicit(Some(dir.path().join("missing")), None, false);
        let err = missing.password("to test").unwrap_err().to_string();
        assert!(err.contains("cannot read the password file"), "{err}");
        assert!(matches!(
            env("").new_password("for x"),
            Err(Error::EmptyPassword)
        ));
        assert!(!format!("{:?}", env("hunter2")).contains("hunter2"));
    }
}
