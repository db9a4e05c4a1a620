#!/usr/bin/env bash
# The whole p2pdex test suite: formatting, lints, every test. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Pinned anvil and solc for the chain tests; a no-op when already installed.
step "chain tools"
scripts/install-tools.sh

# The network lab (crates/netlab) builds hosts from network namespaces and NATs them with
# nftables: root and Debian's nftables. Under CI the lab tests fail without them; elsewhere
# they are skipped with a message.
step "network lab tools"
if ! command -v nft >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq nftables >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq nftables >/dev/null; }
  else
    echo "nft missing and not root: the network lab tests will be skipped"
  fi
fi
command -v nft >/dev/null 2>&1 && nft --version

step "cargo fmt --check"
cargo fmt --all -- --check

# --locked on every cargo call: what is tested is exactly the committed Cargo.lock, and a
# dependency change that forgot its lock fails here instead of resolving something new.
step "cargo clippy (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

# The end-to-end tests (crates/devnet/tests/it) run the built dexd, dexctl, dex-mm and
# dex-devnet from target/debug/: build every test and binary first, with the features the
# test run uses, so that they are there and current when those tests start.
step "build tests and binaries"
cargo test --locked --workspace --no-run

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --workspace --no-fail-fast
else
  echo "cargo-nextest not found; using cargo test"
  cargo test --locked --workspace --no-fail-fast
fi

# Doc tests are not run by nextest.
step "doc tests"
cargo test --locked --workspace --doc

# The OpenAPI document is exact, clients are generated from it: schemathesis generates
# requests from the document of a running relay dexd (a bounded number per operation) and
# runs every check on every answer (no 5xx, documented status codes, content types and
# response schemas, schema-valid requests accepted, invalid ones rejected), with the
# settings of config/schemathesis.toml. scripts/client-tests.sh runs it against a trading
# node of a devnet. Pinned, installed into the git-ignored .venv; offline once installed.
source scripts/pins.sh
step "API fuzzing (schemathesis $SCHEMATHESIS_VERSION, every check, relay node)"
api_fuzz() {
  install_schemathesis
  cargo build --locked --quiet -p dexd
  local dir url token
  dir="$(mktemp -d)"
  FUZZ_DIR="$dir"
  # dexd stopped and its files removed however the script ends.
  trap 'if [[ -n "${FUZZ_PID:-}" ]]; then kill "$FUZZ_PID" 2>/dev/null; wait "$FUZZ_PID" 2>/dev/null; fi; rm -rf "${FUZZ_DIR:-}"' EXIT
  # plain_key: the relay's trader key is a throwaway, created at first start without a
  # password.
  cat >"$dir/dexd.toml" <<TOML
markets_file = "$PWD/config/markets.toml"
plain_key = true
[log]
level = "warn"
[p2p]
listen = ["/ip4/127.0.0.1/tcp/0"]
mdns = false
kad = false
TOML
  target/debug/dexd --config "$dir/dexd.toml" --data-dir "$dir/data" \
    --api-listen 127.0.0.1:0 2>"$dir/dexd.log" &
  FUZZ_PID=$!
  for _ in $(seq 300); do
    [[ -s "$dir/data/api.url" ]] && break
    kill -0 "$FUZZ_PID" 2>/dev/null || { cat "$dir/dexd.log" >&2; return 1; }
    sleep 0.1
  done
  [[ -s "$dir/data/api.url" ]] || { echo "dexd did not start within 30 s" >&2; return 1; }
  url="$(cat "$dir/data/api.url")"
  token="$(cat "$dir/data/api.token")"
  .venv/bin/schemathesis --config-file config/schemathesis.toml run "$url/v1/openapi.json" \
    --url "$url" --checks all --max-examples 25 --seed 8 \
    --header "Authorization: Bearer $token" \
    --request-timeout 10 --generation-database none --no-color
  # A graceful stop is part of the check.
  kill "$FUZZ_PID"
  wait "$FUZZ_PID" || { echo "dexd did not stop cleanly" >&2; cat "$dir/dexd.log" >&2; return 1; }
  FUZZ_PID=""
}
api_fuzz

# Keystores are exchanged with other tools: a keystore written by `dexctl key new` opens with
# eth-account's Account.decrypt to the same address, and one written by eth-account's
# Account.encrypt is accepted by `dexctl key import` with the same address
# (scripts/keystore-interop.py). Pinned, installed into the git-ignored .tools/eth-account
# venv; offline once installed.
step "keystores: dexctl and eth-account $ETH_ACCOUNT_VERSION open each other's"
keystore_interop() {
  local venv=.tools/eth-account
  local installed
  installed="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("eth-account"))' 2>/dev/null || true)"
  if [[ "$installed" != "$ETH_ACCOUNT_VERSION" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "eth-account==$ETH_ACCOUNT_VERSION"
  fi
  cargo build --locked --quiet -p dexctl
  local dir status=0
  dir="$(mktemp -d)"
  "$venv/bin/python" scripts/keystore-interop.py "${CARGO_TARGET_DIR:-target}/debug/dexctl" "$dir" || status=$?
  rm -rf "$dir"
  return "$status"
}
keystore_interop

# The Hummingbot connector's translation of the node's answers (clients/hummingbot), against
# answers recorded from a devnet: standard library only, nothing to install.
step "Hummingbot connector: translation tests against recorded answers"
python3 -m unittest discover -s clients/hummingbot/tests

# The trading page and CCXT as people use them (scripts/client-tests.sh), on a devnet of the
# debug binaries: Debian's Chromium driven by a pinned Playwright, and the ccxt_p2pdex class
# (clients/python) on a pinned ccxt (installed by the script; as root for apt-get). A sell
# and a buy through the pages' forms, then through CCXT; swaps followed to their end,
# balances checked exactly, no console error, no request elsewhere, every CCXT error mapped.
# Screenshots and figures go to target/test-artifacts/trading-page/.
step "trading page in Chromium, and CCXT (scripts/client-tests.sh)"
if command -v chromium >/dev/null 2>&1 || [[ "$(id -u)" == 0 ]]; then
  scripts/client-tests.sh
elif [[ "${CI:-}" == true ]]; then
  echo "the trading page test needs Chromium (or root to install it), and under CI it must run" >&2
  exit 1
else
  echo "skipped: no chromium, and not root to install it"
fi

# Two homes trading across NATs as people see it (scripts/netlab.sh): the debug binaries in a
# network lab, a trade between two traders behind NAT routers that knew only the relay.
# Needs root and nftables, as the lab tests do: under CI it must run.
step "network lab demo (scripts/netlab.sh --debug --demo-only)"
if [[ "$(id -u)" == 0 ]] && command -v nft >/dev/null 2>&1; then
  scripts/netlab.sh --debug --demo-only
  # It stops everything it started (and waits for it): no node, chain or lab of it is left.
  if pgrep -af "$PWD/netlab-data" >&2; then
    echo "scripts/netlab.sh left the processes above running" >&2
    exit 1
  fi
elif [[ "${CI:-}" == true ]]; then
  echo "the network lab demo needs root and nftables, and under CI it must run" >&2
  exit 1
else
  echo "skipped: the network lab needs root and nftables"
fi

step "all tests passed"
