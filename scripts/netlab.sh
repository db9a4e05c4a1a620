#!/usr/bin/env bash
# p2pdex across NATs on one machine: a network lab of Linux network namespaces (crates/netlab)
# with two public hosts on a shared switch, `relay` (a dexd relay and bootstrap node) and
# `chain` (the devnet's two anvil chains), and two traders at home, `alice` and `bob`, each
# behind its own NAT router. Only the relay's address is given to the traders. Then a trade:
# alice sells ETH, bob sees it and buys it, the swap settles on both chains; how bob reaches
# alice (direct after hole punching, or relayed) is printed. Then it keeps running and prints
# how to use the nodes, until Ctrl-C, which tears everything down.
#
#   scripts/netlab.sh                 routers keep source ports: hole punching makes the
#                                     traders' connection direct
#   scripts/netlab.sh --random-port   routers map random ports (symmetric NATs): the trade
#                                     goes over the relay
#   scripts/netlab.sh --demo-only     the trade, then stop: exit 0 if the swap settled
#   scripts/netlab.sh --debug ...     debug binaries instead of a release build (what
#                                     scripts/test.sh runs, with --demo-only)
#
# Needs root (namespaces, nftables); installs nftables (Debian) and the chain tools itself.
# Everything lives in netlab-data/, replaced at each start. Nothing leaves the machine: the
# lab's switch is not connected to any network.
set -euo pipefail
cd "$(dirname "$0")/.."

demo_only=false
nat=""
profile=release
for arg in "$@"; do
  case "$arg" in
    --demo-only) demo_only=true ;;
    --debug) profile=debug ;;
    --random-port) nat=":random" ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "netlab.sh: unknown argument $arg (see --help)" >&2
      exit 2
      ;;
  esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
fail() {
  printf 'netlab.sh: %s\n' "$*" >&2
  exit 1
}

[[ "$(id -u)" == 0 ]] || fail "the lab needs root (network namespaces, nftables)"
if ! command -v nft >/dev/null 2>&1; then
  step "nftables (Debian package)"
  apt-get install -y -qq nftables >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq nftables >/dev/null; } ||
    fail "cannot install nftables"
fi

step "chain tools: anvil and solc into .tools/ (scripts/install-tools.sh)"
scripts/install-tools.sh || fail "installing the chain tools failed (see above)"

step "$profile build of dexd, dexctl, dex-devnet and dex-netlab (the first build takes several minutes)"
build=(cargo build --locked -p dexd -p dexctl -p dex-devnet -p dex-netlab)
[[ "$profile" == release ]] && build+=(--release)
"${build[@]}" || fail "the $profile build failed (see above)"

bin="$(cd "${CARGO_TARGET_DIR:-target}/$profile" && pwd)"
data="$PWD/netlab-data"
rm -rf "$data"
mkdir -p "$data"
children=()
cleanup() {
  # Nodes and chains first, then the lab (dex-netlab deletes its namespaces on SIGTERM).
  for ((i = ${#children[@]} - 1; i >= 0; i--)); do
    kill "${children[$i]}" 2>/dev/null || true
    wait "${children[$i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "the lab: public hosts relay and chain, alice and bob at home behind NAT routers${nat:+ (random ports)}"
"$bin/dex-netlab" up --public chain --public relay --home "alice$nat" --home "bob$nat" \
  >"$data/lab.txt" 2>"$data/lab.log" &
children+=($!)
for _ in $(seq 100); do
  grep -qx ready "$data/lab.txt" 2>/dev/null && break
  kill -0 "${children[0]}" 2>/dev/null || fail "the lab did not start: $(cat "$data/lab.log")"
  sleep 0.1
done
grep -qx ready "$data/lab.txt" || fail "the lab did not start in time"
declare -A ns ip public
while read -r kind name namespace address public_address; do
  [[ "$kind" == host ]] || continue
  ns[$name]=$namespace
  ip[$name]=$address
  public[$name]=$public_address
done <"$data/lab.txt"
cat "$data/lab.txt" >&2
in_host() {
  local host=$1
  shift
  ip netns exec "${ns[$host]}" "$@"
}

step "the chains on ${ip[chain]} (host chain)"
# Started with ip netns exec itself, not through in_host: a function run with & is a
# subshell, whose pid is not the program's (killing it would leave the program running).
ip netns exec "${ns[chain]}" "$bin/dex-devnet" chains --data-dir "$data/chains" --rpc-host "${ip[chain]}" \
  >"$data/chains.log" 2>&1 &
children+=($!)
for _ in $(seq 600); do
  [[ -s "$data/chains/chains.json" ]] && break
  kill -0 "${children[-1]}" 2>/dev/null || fail "the chains did not start: $(tail -20 "$data/chains.log")"
  sleep 0.1
done
[[ -s "$data/chains/chains.json" ]] || fail "the chains did not start in time"

# dexd's config: listens on every address of its host, finds peers with Kademlia from its
# bootstrap node, trades on the lab's chains (traders only).
node_config() {
  local trader=$1
  cat <<EOF
# Written by scripts/netlab.sh.
markets_file = "$PWD/config/markets.toml"
plain_key = true
[log]
level = "info"
[api]
listen = "127.0.0.1:7780"
[p2p]
listen = ["/ip4/0.0.0.0/tcp/7781", "/ip4/0.0.0.0/udp/7781/quic-v1"]
mdns = false
kad = true
[node]
tick_interval = "250ms"
EOF
  [[ "$trader" == yes ]] || return 0
  python3 - "$data/chains/chains.json" <<'EOF'
import json, sys
chains = json.load(open(sys.argv[1]))
for leg in ("base", "quote"):
    chain = chains[leg]
    print(f"""[[settlement.chains]]
chain_id = {chain["chainId"]}
rpc_url = "{chain["rpcUrl"]}"
htlc = "{chain["htlc"]}"
start_block = 0
scan_confirmations = {chains["confirmations"]}""")
EOF
}

start_node() {
  local host=$1 trader=$2
  shift 2
  local dir="$data/$host"
  mkdir -p "$dir/data"
  chmod 700 "$dir/data"
  node_config "$trader" >"$dir/dexd.toml"
  ip netns exec "${ns[$host]}" "$bin/dexd" --config "$dir/dexd.toml" --data-dir "$dir/data" "$@" \
    >"$dir/dexd.log" 2>&1 &
  children+=($!)
  for _ in $(seq 300); do
    [[ -s "$dir/data/api.url" ]] && return 0
    kill -0 "${children[-1]}" 2>/dev/null || fail "dexd on $host exited: $(tail -20 "$dir/dexd.log")"
    sleep 0.1
  done
  fail "dexd on $host did not start in time"
}

# dexctl inside a host, on that host's node.
dexctl() {
  local host=$1
  shift
  in_host "$host" "$bin/dexctl" --data-dir "$data/$host/data" "$@"
}

trader_key() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["traders"][int(sys.argv[2])]["privateKey"])' \
    "$data/chains/chains.json" "$1"
}

step "a relay and bootstrap node on ${ip[relay]} (host relay)"
start_node relay no --relay-server
relay_peer=$(dexctl relay --json info | python3 -c 'import json,sys; print(json.load(sys.stdin)["peerId"])')
relay_addr="/ip4/${ip[relay]}/tcp/7781/p2p/$relay_peer"
echo "relay: $relay_addr" >&2

for pair in alice:0 bob:1; do
  host=${pair%%:*}
  step "$host at home (${ip[$host]} behind ${public[$host]}), trader $((${pair##*:} + 1)), bootstrap: the relay only"
  mkdir -p "$data/$host/data"
  chmod 700 "$data/$host/data"
  (umask 077 && trader_key "${pair##*:}" >"$data/$host/data/trader.key")
  start_node "$host" yes --bootstrap "$relay_addr"
done

# Waits until `dexctl HOST ARGS` prints JSON for which the Python expression CHECK (on `j`)
# is true, for at most SECS seconds.
wait_json() {
  local what=$1 secs=$2 check=$3 host=$4
  shift 4
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    if dexctl "$host" --json "$@" 2>/dev/null |
      python3 -c "import json,sys; j=json.load(sys.stdin); sys.exit(0 if ($check) else 1)" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  fail "timed out waiting for $what"
}

step "both traders read their balances on both chains"
for host in alice bob; do
  wait_json "$host's balances" 120 \
    'j["balances"] and all(b.get("readAt") is not None for b in j["balances"])' "$host" balances
done

step "alice sells 0.1 ETH at 2500"
dexctl alice order place --market ETH/USDC --side sell --price 2500 --quantity 0.1
wait_json "alice's ask in bob's book" 60 'any(l["price"] == "2500" for l in j["asks"])' \
  bob book ETH/USDC
echo "bob's book has it (it came through the relay)" >&2

step "bob buys it"
dexctl bob order place --market ETH/USDC --side buy --price 2500 --quantity 0.1
for host in bob alice; do
  wait_json "$host's swap to finish" 180 \
    'len(j["swaps"]) == 1 and j["swaps"][0]["phase"] == "finished"' "$host" swaps
  echo "$host: swap finished" >&2
done
dexctl bob swaps

step "how bob reaches alice"
alice_peer=$(dexctl alice --json info | python3 -c 'import json,sys; print(json.load(sys.stdin)["peerId"])')
dexctl bob --json peers | python3 -c '
import json, sys
for peer in json.load(sys.stdin)["peers"]:
    if peer["peerId"] == sys.argv[1]:
        print("alice: " + peer["connection"])' "$alice_peer"

if $demo_only; then
  echo "the swap settled" >&2
  exit 0
fi

cat >&2 <<EOF

The lab is running (Ctrl-C stops it). Each node's API listens on 127.0.0.1:7780 inside its
host; run commands there with ip netns exec, e.g.:
  ip netns exec ${ns[bob]} $bin/dexctl --data-dir $data/bob/data peers
  ip netns exec ${ns[alice]} $bin/dexctl --data-dir $data/alice/data balances
Hosts: $(tr '\n' ' ' <"$data/lab.txt")
Logs: $data/<host>/dexd.log, $data/chains.log
EOF
while true; do sleep 3600; done
