//! Subcommands that need no node: keys, market ids, signing and verifying.

use std::{
    fs,
    io::Read,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, anyhow, bail};
use dex_keyfile::PasswordSources;
use dex_primitives::{
    KdfStrength, MarketDef, MarketParams, Order, OrderId, Signature, SignedOrder, TraderKey, Update,
};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// How a command reads or writes key files.
#[derive(Debug)]
pub(crate) struct KeyAccess {
    /// Plain hex key files are allowed (`--insecure-plain-key`): read, and written instead
    /// of keystores.
    pub(crate) plain: bool,
    /// The scrypt cost of keystores written.
    pub(crate) strength: KdfStrength,
    /// Where passwords come from.
    pub(crate) passwords: PasswordSources,
}

/// Reads a file, or stdin for `-`.
pub(crate) fn read_input(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        return Ok(text);
    }
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Parses JSON from a file, naming the file in errors.
fn read_json<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<T> {
    let text = read_input(path)?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a valid {what}", path.display()))
}

/// Reads a file, or stdin for `-`, into a buffer erased when dropped: for key material.
fn read_secret_input(path: &Path) -> Result<Zeroizing<String>> {
    if path == Path::new("-") {
        let mut text = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading stdin")?;
        return Ok(text);
    }
    dex_keyfile::read_key_text(path).map_err(Into::into)
}

/// Reads a key file: a keystore (its password from `access`), or plain hex if
/// `access.plain`. Warns when others may read it.
fn read_key(path: &Path, access: &KeyAccess) -> Result<TraderKey> {
    let metadata =
        fs::metadata(path).with_context(|| format!("reading key file {}", path.display()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        eprintln!(
            "warning: key file {} is readable by other users; chmod 600 it",
            path.display()
        );
    }
    Ok(dex_keyfile::load_key(
        path,
        access.plain,
        &access.passwords,
    )?)
}

/// Writes `key` into the new file `out` (0600): a keystore with a new password, or plain
/// hex if `access.plain`. Returns whether it is encrypted.
fn write_key(key: &TraderKey, out: &Path, access: &KeyAccess) -> Result<bool> {
    if access.plain {
        dex_keyfile::write_plain_key(out, key)?;
        Ok(false)
    } else {
        dex_keyfile::write_keystore(out, key, access.strength, &access.passwords)?;
        Ok(true)
    }
}

/// Refuses an existing file before any password is asked.
fn check_absent(out: &Path, hint: &str) -> Result<()> {
    if out.exists() {
        bail!("{} exists; {hint}", out.display());
    }
    Ok(())
}

pub(crate) fn key_new(out: &Path, access: &KeyAccess) -> Result<Value> {
    check_absent(
        out,
        "a key file is never overwritten (it must not exist yet)",
    )?;
    let key = TraderKey::generate()?;
    let encrypted = write_key(&key, out, access)?;
    Ok(json!({
        "address": key.address().to_string(),
        "file": out.display().to_string(),
        "encrypted": encrypted,
    }))
}

/// Refuses while a dexd holds the data dir (its lock file is locked).
fn check_not_running(data_dir: &Path, what: &str) -> Result<()> {
    let lock_path = data_dir.join(dex_api::layout::LOCK);
    if lock_path.exists() {
        let lock = fs::File::open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        if let Err(fs::TryLockError::WouldBlock) = lock.try_lock() {
            bail!(
                "a dexd is running on {}; stop it before {what}",
                data_dir.display()
            );
        }
    }
    Ok(())
}

/// What `key import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImportFormat {
    /// A Web3 Secret Storage v3 keystore of another tool: opened to check it, then stored
    /// as it is.
    Keystore,
    /// A plain 0x-hex private key: stored encrypted with a new password.
    Hex,
}

/// Imports a trader key (read from a file or stdin, never from the command line) into a
/// data dir as `trader.key` (mode 0600). Refuses to overwrite a key, and refuses while a
/// dexd holds the data dir.
pub(crate) fn key_import(
    input: &Path,
    format: ImportFormat,
    data_dir: &Path,
    access: &KeyAccess,
) -> Result<Value> {
    let out = data_dir.join(dex_api::layout::TRADER_KEY);
    check_not_running(data_dir, "importing a key")?;
    check_absent(
        &out,
        "a data dir keeps its key: move the old one away first",
    )?;
    let text = read_secret_input(input)?;
    let key = match format {
        ImportFormat::Keystore => {
            if !dex_keyfile::is_keystore(&text) {
                bail!(
                    "{} is not a keystore (JSON); for a 0x-hex private key pass --hex",
                    input.display()
                );
            }
            dex_keyfile::open_key(input, &text, false, &access.passwords)?
        }
        // The key's text never goes into an error message.
        ImportFormat::Hex => text.parse().map_err(|err| {
            anyhow!(
                "{} does not hold a 0x-hex private key: {err}",
                input.display()
            )
        })?,
    };
    if !data_dir.exists() {
        fs::create_dir_all(data_dir)
            .and_then(|()| fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700)))
            .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    }
    let encrypted = match format {
        // Stored as written by the other tool: dexd opens it with the same password.
        ImportFormat::Keystore if !access.plain => {
            dex_keyfile::write_private_file(&out, &[text.as_bytes()])?;
            true
        }
        _ => write_key(&key, &out, access)?,
    };
    Ok(json!({
        "address": key.address().to_string(),
        "file": out.display().to_string(),
        "encrypted": encrypted,
    }))
}

/// Exports the data dir's trader key into the new file `out` (0600): the keystore as it is
/// (opened first, so a wrong password is found now), a plain key encrypted with a new
/// password, or, with `plain_hex`, the key in clear.
pub(crate) fn key_export(
    data_dir: &Path,
    out: &Path,
    plain_hex: bool,
    access: &KeyAccess,
) -> Result<Value> {
    check_absent(out, "an export never overwrites a file")?;
    let path: PathBuf = data_dir.join(dex_api::layout::TRADER_KEY);
    let text = dex_keyfile::read_key_text(&path)?;
    let key = dex_keyfile::open_key(&path, &text, access.plain, &access.passwords)?;
    if plain_hex {
        dex_keyfile::write_plain_key(out, &key)?;
    } else if dex_keyfile::is_keystore(&text) {
        dex_keyfile::write_private_file(out, &[text.as_bytes()])?;
    } else {
        dex_keyfile::write_keystore(out, &key, access.strength, &access.passwords)?;
    }
    Ok(json!({
        "address": key.address().to_string(),
        "file": out.display().to_string(),
        "encrypted": !plain_hex,
    }))
}

pub(crate) fn market_id(path: &Path) -> Result<Value> {
    let text = read_input(path)?;
    // A full definition (with symbols and decimals) is accepted too; the error reported is
    // the one for the plain EIP-712 fields, which is what the command documents.
    let params = match serde_json::from_str::<MarketDef>(&text) {
        Ok(def) => def.params(),
        Err(_) => serde_json::from_str::<MarketParams>(&text)
            .with_context(|| format!("{} is not a valid market", path.display()))?,
    };
    Ok(json!({ "marketId": params.id() }))
}

pub(crate) fn order_sign(
    path: &Path,
    key_file: &Path,
    access: &KeyAccess,
    any_signer: bool,
) -> Result<Value> {
    let order: Order = read_json(path, "order")?;
    let key = read_key(key_file, access)?;
    if key.address() != order.maker && !any_signer {
        bail!(
            "the key's address {} is not the order's maker {}: the signature would not verify \
             (pass --any-signer to sign anyway)",
            key.address(),
            order.maker
        );
    }
    let order_id = order.id();
    let signed = order.sign(&key);
    Ok(json!({ "order": signed.order, "signature": signed.signature, "orderId": order_id }))
}

/// A signed order as `dexctl order sign` prints it: the order id is optional and, when
/// present, must match.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SignedOrderFile {
    order: Order,
    signature: Signature,
    order_id: Option<OrderId>,
}

pub(crate) fn order_verify(path: &Path) -> Result<Value> {
    let file: SignedOrderFile = read_json(path, "signed order")?;
    let signed = SignedOrder {
        order: file.order,
        signature: file.signature,
    };
    let order_id = signed
        .verify_signature()
        .context("signature verification failed")?;
    if let Some(claimed) = file.order_id
        && claimed != order_id
    {
        bail!("orderId {claimed} does not match the order, whose id is {order_id}");
    }
    Ok(json!({ "signer": signed.order.maker.to_string(), "orderId": order_id }))
}

pub(crate) fn update_sign(path: &Path, key_file: &Path, access: &KeyAccess) -> Result<Value> {
    let update: Update = read_json(path, "update")?;
    let key = read_key(key_file, access)?;
    let digest = update.digest();
    let signed = update.sign(&key);
    Ok(json!({ "update": signed.update, "signature": signed.signature, "digest": digest }))
}
