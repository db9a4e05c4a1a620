#!/usr/bin/env bash
# Benchmarks of p2pdex (DESIGN §12). Release builds; each figure printed as `name value unit`.
#
#   scripts/bench.sh            every benchmark below
#   scripts/bench.sh gossip     gossip propagation (10 and 30 nodes, vs bare gossipsub) and ingest
#   scripts/bench.sh swap       swap wall time (median of 20) and memory per swap in flight
#   scripts/bench.sh sync       a joining node's sync from one peer holding 10k and 100k orders
#   scripts/bench.sh api        wrk against a release dexd: health (ceiling), book of 10k orders, placing orders
#   scripts/bench.sh scale      a release dexd holding 100k orders in one market, then 1M in ten: RSS, sync, book reads, placements
#   scripts/bench.sh memory     a node holding one market at its caps: bytes per order of each kind, total
#   scripts/bench.sh mm         market maker requote latency: price change to new quotes on another node (median of 20)
#   scripts/bench.sh net        30 release dexd on network-lab hosts vs bare gossipsub: propagation p50/p99, bytes per order (root)
#   scripts/bench.sh store      reading a node's swaps and own orders from its database: all, the newest page, changes since a cursor
#   scripts/bench.sh help       this list
#
# Adding a benchmark: write a `bench_<name>` function that runs it (a `cargo bench` target
# printing `name value unit` lines on stdout, diagnostics on stderr), add <name> to BENCHES.
# Extra arguments after the name are passed to the benchmark binary.
set -euo pipefail
cd "$(dirname "$0")/.."

BENCHES=(gossip sync swap mm api scale memory net store)

bench_gossip() {
    # One bench binary prints the seven gossip and ingest lines.
    cargo bench --quiet -p dex-node --bench gossip -- "$@"
}

bench_sync() {
    # Two in-process nodes on loopback; signs the orders first (on every core).
    cargo bench --quiet -p dex-node --bench sync -- "$@"
}

bench_swap() {
    # Needs anvil in .tools (scripts/install-tools.sh).
    scripts/install-tools.sh >/dev/null
    cargo bench --quiet -p dex-node --bench swap -- "$@"
}

bench_mm() {
    # Needs anvil in .tools (scripts/install-tools.sh); builds dexd in release beside dex-mm.
    scripts/install-tools.sh >/dev/null
    cargo bench --quiet -p dex-mm --bench requote -- "$@"
}

bench_scale() {
    # wrk from Debian's package; the devnet chains need anvil in .tools; signs a million
    # orders first (on every core).
    if ! command -v wrk >/dev/null; then
        echo "installing wrk (Debian package)" >&2
        apt-get update -qq >&2 && apt-get install -y -qq wrk >&2
    fi
    scripts/install-tools.sh >/dev/null
    cargo bench --quiet -p dexd --bench scale -- "$@"
}

bench_memory() {
    # Signs about 660,000 messages first (two threads), then ingests them on one.
    cargo bench --quiet -p dex-node --bench memory -- "$@"
}

bench_api() {
    # wrk from Debian's package; the devnet chains need anvil in .tools.
    if ! command -v wrk >/dev/null; then
        echo "installing wrk (Debian package)" >&2
        apt-get update -qq >&2 && apt-get install -y -qq wrk >&2
    fi
    scripts/install-tools.sh >/dev/null
    cargo bench --quiet -p dexd --bench api -- "$@"
}

bench_net() {
    # Network namespaces (crates/netlab): root, iproute2 and Debian's nftables.
    if [[ "$(id -u)" != 0 ]]; then
        echo "bench net: the network lab needs root (network namespaces); run it as root" >&2
        return 1
    fi
    if ! command -v nft >/dev/null; then
        echo "installing nftables (Debian package)" >&2
        apt-get install -y -qq nftables >&2 ||
            { apt-get update -qq >&2 && apt-get install -y -qq nftables >&2; }
    fi
    cargo bench --quiet -p dexd --bench net -- "$@"
}

bench_store() {
    # A file database of 10,000 swaps and 20,000 own orders (`--swaps N`, `--orders M`).
    cargo bench --quiet -p dex-store --bench reads -- "$@"
}

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    echo "benchmarks: ${BENCHES[*]}"
}

main() {
    local name="${1:-all}"
    [[ $# -gt 0 ]] && shift
    case "$name" in
        help | -h | --help) usage ;;
        all)
            for bench in "${BENCHES[@]}"; do
                "bench_$bench"
            done
            ;;
        *)
            if declare -F "bench_$name" >/dev/null; then
                "bench_$name" "$@"
            else
                echo "unknown benchmark: $name" >&2
                usage >&2
                exit 2
            fi
            ;;
    esac
}

main "$@"
