#!/usr/bin/env bash
# The whole p2pdex test suite: formatting, lints, every test. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Pinned anvil and solc for the chain tests; a no-op when already installed.
step "chain tools"
scripts/install-tools.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  echo "cargo-nextest not found; using cargo test"
  cargo test --workspace --no-fail-fast
fi

# Doc tests are not run by nextest.
step "doc tests"
cargo test --workspace --doc

step "all tests passed"
