#!/usr/bin/env bash
# The p2pdex devnet in one command: installs the chain tools, builds the release binaries,
# starts two anvil chains (31337: ETH, 31338: USDC) with the HTLC and a test USDC deployed,
# three dexd nodes connected to each other (node i trades as anvil key i) and the dex-mm
# market maker on node 1; then node 2 buys ETH from node 1 through REST, and every swap step
# and the balances before and after on both chains are printed. Then it keeps running and
# prints how to use it, until Ctrl-C, which stops everything it started.
#
#   scripts/devnet.sh               the demo, then keep running
#   scripts/devnet.sh --demo-only   the demo, then stop: exit 0 if the swap settled and every
#                                   balance moved by exactly the traded amounts, else 1
# Other arguments go to `dex-devnet demo` (see target/release/dex-devnet demo --help), e.g.
# --quantity 0.2, --no-market-maker, or other ports; and chains that behave like real ones:
#   scripts/devnet.sh --demo-only --block-time 1 --interval-only --confirmations 3
# (a block every second and transactions wait for it; nodes read 3 confirmations behind).
#
# Fixed ports on 127.0.0.1: chains 8545 and 8546, node APIs 7781-7783, libp2p 7791-7793.
# Everything lives in devnet-data/ (node data dirs with their API token, chains.json, logs/),
# replaced at each start.
set -euo pipefail
cd "$(dirname "$0")/.."

demo_only=false
args=()
for arg in "$@"; do
  case "$arg" in
    --demo-only) demo_only=true ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *) args+=("$arg") ;;
  esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
fail() {
  printf 'devnet.sh: %s\n' "$*" >&2
  exit 1
}

step "chain tools: anvil and solc into .tools/ (scripts/install-tools.sh)"
scripts/install-tools.sh || fail "installing the chain tools failed (see above)"

step "release build of dexd, dexctl, dex-mm and dex-devnet (the first build takes several minutes)"
cargo build --release -p dexd -p dexctl -p dex-mm -p dex-devnet ||
  fail "the release build failed (see above)"

mode=(demo --keep-running)
if $demo_only; then
  mode=(demo)
fi
step "the devnet: 2 chains, 3 nodes, the market maker on node 1, then a trade from node 2"
echo "progress goes to stderr, each process logs to devnet-data/logs/; Ctrl-C stops everything" >&2
# exec: Ctrl-C reaches dex-devnet itself, which stops the market maker, the nodes and the
# chains in that order and leaves nothing running.
exec target/release/dex-devnet "${mode[@]}" --data-dir devnet-data "${args[@]}"
