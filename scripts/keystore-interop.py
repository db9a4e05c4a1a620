"""Keystores made by dexctl open in eth-account, and eth-account's open in dexctl.

Run by scripts/test.sh with the pinned eth-account of its venv:
    python keystore-interop.py <dexctl binary> <empty temp dir>

1. `dexctl key new` (geth's standard scrypt parameters, and --light-kdf) writes a keystore
   that eth-account's `Account.decrypt` opens to the address dexctl printed.
2. `Account.encrypt` (its default scrypt, and PBKDF2) writes a keystore that
   `dexctl key import` accepts, printing the address eth-account gives the key.
Exits non-zero with a message on the first mismatch.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from eth_account import Account


def dexctl(binary, *args):
    """Runs dexctl without a terminal or a password in the environment; returns its JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEX_")}
    result = subprocess.run(
        [binary, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"dexctl {' '.join(args)} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def check(what, ours, theirs):
    if ours.lower() != theirs.lower():
        sys.exit(f"{what}: dexctl says {ours}, eth-account says {theirs}")
    print(f"ok: {what}: {theirs}")


def main():
    binary, workdir = sys.argv[1], Path(sys.argv[2])
    password = "p2pdex interop " + secrets.token_hex(4)
    password_file = workdir / "password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)

    # dexctl writes, eth-account reads.
    for name, extra in [("standard", []), ("light", ["--light-kdf"])]:
        out = workdir / f"dexctl-{name}.json"
        printed = dexctl(
            binary, "key", "new", "--out", str(out), "--password-file", str(password_file), *extra
        )
        keystore = json.loads(out.read_text())
        params = keystore["crypto"]["kdfparams"]
        key = Account.decrypt(keystore, password)
        check(
            f"dexctl key new ({name}: n={params['n']} r={params['r']} p={params['p']}) "
            "opened by Account.decrypt",
            printed["address"],
            Account.from_key(key).address,
        )

    # eth-account writes, dexctl imports.
    for kdf in ["scrypt", "pbkdf2"]:
        account = Account.create()
        keystore = Account.encrypt(account.key, password, kdf=kdf)
        source = workdir / f"eth-account-{kdf}.json"
        source.write_text(json.dumps(keystore))
        data_dir = workdir / f"data-{kdf}"
        printed = dexctl(
            binary,
            "--data-dir",
            str(data_dir),
            "key",
            "import",
            str(source),
            "--password-file",
            str(password_file),
        )
        check(
            f"Account.encrypt ({kdf}) imported by dexctl key import",
            printed["address"],
            account.address,
        )
        if json.loads((data_dir / "trader.key").read_text()) != keystore:
            sys.exit(f"dexctl key import did not store the {kdf} keystore as it was")


if __name__ == "__main__":
    main()
