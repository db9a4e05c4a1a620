#!/usr/bin/env bash
# What people and their tools see of a node, on one devnet of the debug binaries (two
# chains, three nodes, no market maker):
# - the trading page in a real browser (scripts/trading-page-test.py): Debian's Chromium
#   driven by Playwright; node 3's page sells, node 2's page buys, both follow the swap to
#   the end and show the balances moved exactly;
# - CCXT (scripts/ccxt-test.py): the ccxt_p2pdex exchange class (clients/python) on node 3
#   sells, on node 2 buys; trades, orders, balances and every mapped error;
# - schemathesis against trading node 1 (config/schemathesis.toml): every check, stateful
#   runs along the OpenAPI document's links.
# scripts/test.sh runs it.
#
# Installs what it needs: Debian's chromium (as root, with apt-get), and Playwright, ccxt
# (pinned, from PyPI) and clients/python into the git-ignored .tools/clients venv
# (Playwright's own browser download is not used). Screenshots and the page's figures
# (results.json) go to $DEX_TEST_ARTIFACTS/trading-page (default
# target/test-artifacts/trading-page), and the devnet's logs beside them when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/pins.sh
artifacts="${DEX_TEST_ARTIFACTS:-$PWD/target/test-artifacts}/trading-page"
target="${CARGO_TARGET_DIR:-target}"

if ! command -v chromium >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium"
    apt-get install -y -qq chromium >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null; }
  else
    echo "chromium is missing and cannot be installed (needs root and apt-get)" >&2
    exit 1
  fi
fi
chromium="$(command -v chromium)"
"$chromium" --version 2>/dev/null

venv=.tools/clients
installed() { "$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true; }
if [[ "$(installed playwright)" != "$PLAYWRIGHT_VERSION" || "$(installed ccxt)" != "$CCXT_VERSION" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "playwright==$PLAYWRIGHT_VERSION" "ccxt==$CCXT_VERSION"
fi
# The exchange class as users install it (its dependency, ccxt, is the pinned one above).
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --force-reinstall ./clients/python

cargo build --locked --quiet -p dexd -p dexctl -p dex-devnet

dir="$(mktemp -d)"
devnet_pid=""
finish() {
  local status=$?
  if [[ -n "$devnet_pid" ]]; then
    # dex-devnet stops its nodes and chains on SIGINT and waits for them.
    kill -INT "$devnet_pid" 2>/dev/null || true
    wait "$devnet_pid" 2>/dev/null || true
  fi
  if [[ "$status" != 0 && -d "$dir/logs" ]]; then
    mkdir -p "$artifacts"
    cp -r "$dir/logs" "$artifacts/devnet-logs"
    echo "the devnet's logs: $artifacts/devnet-logs" >&2
  fi
  rm -rf "$dir"
}
trap finish EXIT

# Free ports everywhere: nothing collides with a devnet a developer has running.
"$target/debug/dex-devnet" up --data-dir "$dir" --nodes 3 --no-market-maker \
  --base-port 0 --quote-port 0 --api-port 0 --p2p-port 0 >"$dir/devnet.out" 2>&1 &
devnet_pid=$!
for _ in $(seq 1200); do
  grep -q "the devnet is running" "$dir/devnet.out" 2>/dev/null && break
  kill -0 "$devnet_pid" 2>/dev/null || { cat "$dir/devnet.out" >&2; exit 1; }
  sleep 0.1
done
grep -q "the devnet is running" "$dir/devnet.out" ||
  { cat "$dir/devnet.out" >&2; echo "the devnet did not start within 120 s" >&2; exit 1; }

rm -rf "$artifacts"
echo "== the trading page in Chromium"
"$venv/bin/python" scripts/trading-page-test.py "$dir" "$artifacts" "$target/debug/dexctl" "$chromium"
echo "== CCXT"
"$venv/bin/python" scripts/ccxt-test.py "$dir"
# The OpenAPI document against a trading node, after the trades above (orders, swaps, fills
# to read): every check, and stateful runs along the document's links.
echo "== schemathesis, every check, against trading node 1"
install_schemathesis
.venv/bin/schemathesis --config-file config/schemathesis.toml run "$(cat "$dir/node-1/api.url")/v1/openapi.json" \
  --url "$(cat "$dir/node-1/api.url")" --checks all --max-examples 25 --seed 8 \
  --header "Authorization: Bearer $(cat "$dir/node-1/api.token")" \
  --request-timeout 10 --generation-database none --no-color
