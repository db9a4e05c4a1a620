//! The committed artifacts must be exactly what the pinned solc makes of the sources.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `*.json` artifact under `dir`, relative to it, sorted.
fn artifacts(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).expect("a readable directory") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "json") {
                found.push(path.strip_prefix(dir).expect("under dir").to_path_buf());
            }
        }
    }
    found.sort();
    found
}

/// Compiles `contracts_dir`'s sources with the pinned solc into a temporary directory and
/// lists how the result differs from the artifacts committed in `contracts_dir`.
pub(crate) fn drift(contracts_dir: &Path) -> anyhow::Result<Vec<String>> {
    let root = workspace_root();
    let out = tempfile::tempdir()?;
    let status = Command::new(root.join("scripts/build-contracts.sh"))
        .arg(out.path())
        .env("CONTRACTS_DIR", contracts_dir)
        .output()?;
    anyhow::ensure!(
        status.status.success(),
        "scripts/build-contracts.sh failed (run scripts/install-tools.sh if solc is \
         missing):\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let committed = artifacts(contracts_dir);
    let built = artifacts(out.path());
    let mut differences = Vec::new();
    for name in built.iter().filter(|name| !committed.contains(name)) {
        differences.push(format!("{} is not committed", name.display()));
    }
    for name in committed.iter().filter(|name| !built.contains(name)) {
        differences.push(format!("{} has no source any more", name.display()));
    }
    for name in built.iter().filter(|name| committed.contains(name)) {
        if fs::read(out.path().join(name))? != fs::read(contracts_dir.join(name))? {
            differences.push(format!("{} differs from its source", name.display()));
        }
    }
    Ok(differences)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let path = entry?.path();
        let target = to.join(path.file_name().expect("entries have names"));
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

#[test]
fn artifacts_match_sources() -> anyhow::Result<()> {
    let differences = drift(&Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts"))?;
    assert!(
        differences.is_empty(),
        "contract artifacts are stale: run scripts/build-contracts.sh and commit the result:\n{}",
        differences.join("\n")
    );
    Ok(())
}

#[test]
fn an_edited_source_without_rebuild_is_caught() -> anyhow::Result<()> {
    // A copy of contracts/ whose Htlc.sol gains one line, artifacts untouched.
    let copy = tempfile::tempdir()?;
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("contracts"),
        copy.path(),
    )?;
    let htlc = copy.path().join("Htlc.sol");
    let edited = fs::read_to_string(&htlc)?.replace(
        "error ZeroAmount();",
        "error ZeroAmount();\n    error AddedWithoutRebuild();",
    );
    fs::write(&htlc, edited)?;

    assert_eq!(
        drift(copy.path())?,
        vec!["Htlc.json differs from its source"]
    );
    Ok(())
}
