//! Subcommands that need no node: keys, market ids, signing and verifying.

use std::{
    fs,
    io::{Read, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

use anyhow::{Context, Result, bail};
use dex_primitives::{
    MarketDef, MarketParams, Order, OrderId, Signature, SignedOrder, TraderKey, Update,
};
use serde::Deserialize;
use serde_json::{Value, json};

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

/// Reads a 0x-hex private key file, warning when others may read it.
fn read_key(path: &Path) -> Result<TraderKey> {
    let metadata =
        fs::metadata(path).with_context(|| format!("reading key file {}", path.display()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        eprintln!(
            "warning: key file {} is readable by other users; chmod 600 it",
            path.display()
        );
    }
    let text =
        fs::read_to_string(path).with_context(|| format!("reading key file {}", path.display()))?;
    // The key's text never goes into an error message.
    text.parse()
        .with_context(|| format!("key file {} does not hold a private key", path.display()))
}

pub(crate) fn key_new(out: &Path) -> Result<Value> {
    let key = TraderKey::generate()?;
    write_new_key(&key, out, || {
        format!(
            "creating key file {} (it must not exist yet)",
            out.display()
        )
    })?;
    Ok(json!({ "address": key.address().to_string() }))
}

/// Writes `key` into a new file `out` (mode 0600), never over an existing one; `cannot_create`
/// says why creating it failed.
fn write_new_key(
    key: &TraderKey,
    out: &Path,
    cannot_create: impl FnOnce() -> String,
) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(cannot_create)?;
    writeln!(file, "{}", key.to_hex_secret().as_str())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing key file {}", out.display()))
}

/// Writes a trader key (read from a file or stdin, never from the command line) into a data
/// dir as `trader.key` (mode 0600). Refuses to overwrite a key, and refuses while a dexd
/// holds the data dir.
pub(crate) fn key_import(input: &Path, data_dir: &Path) -> Result<Value> {
    let text = read_input(input)?;
    // The key's text never goes into an error message.
    let key: TraderKey = text
        .parse()
        .map_err(|_| anyhow::anyhow!("{} does not hold a 0x-hex private key", input.display()))?;
    fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let lock_path = data_dir.join(dex_api::layout::LOCK);
    if lock_path.exists() {
        let lock = fs::File::open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        if let Err(fs::TryLockError::WouldBlock) = lock.try_lock() {
            bail!(
                "a dexd is running on {}; stop it before importing a key",
                data_dir.display()
            );
        }
    }
    let out = data_dir.join(dex_api::layout::TRADER_KEY);
    write_new_key(&key, &out, || {
        format!(
            "cannot create {} (a data dir keeps its key: move the old one away first)",
            out.display()
        )
    })?;
    Ok(json!({ "address": key.address().to_string(), "file": out.display().to_string() }))
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

pub(crate) fn order_sign(path: &Path, key_file: &Path, any_signer: bool) -> Result<Value> {
    let order: Order = read_json(path, "order")?;
    let key = read_key(key_file)?;
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

pub(crate) fn update_sign(path: &Path, key_file: &Path) -> Result<Value> {
    let update: Update = read_json(path, "update")?;
    let key = read_key(key_file)?;
    let digest = update.digest();
    let signed = update.sign(&key);
    Ok(json!({ "update": signed.update, "signature": signed.signature, "digest": digest }))
}
