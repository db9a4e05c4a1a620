#!/usr/bin/env bash
# Compiles crates/chain/contracts/**/*.sol with the pinned solcjs from .tools/ and writes
# one artifact (ABI + creation and runtime bytecode) per contract beside its source.
# The artifacts are committed; the dex-chain test `artifacts_match_sources` runs this script
# into a temporary directory and fails if the result differs from what is committed.
#
#   scripts/build-contracts.sh            regenerate the committed artifacts
#   scripts/build-contracts.sh OUT_DIR    write them under OUT_DIR instead (same layout)
set -euo pipefail
cd "$(dirname "$0")/.."

SOLC_JS=.tools/node_modules/solc
if [[ ! -f "$SOLC_JS/package.json" ]]; then
  echo "build-contracts.sh: solc is not installed in .tools/; run scripts/install-tools.sh" >&2
  exit 1
fi

# CONTRACTS_DIR: compile another copy of the sources (the drift test edits one).
CONTRACTS="${CONTRACTS_DIR:-crates/chain/contracts}"
OUT_DIR="${1:-$CONTRACTS}"
mkdir -p "$OUT_DIR"

node - "$SOLC_JS" "$CONTRACTS" "$OUT_DIR" <<'JS'
const fs = require("fs");
const path = require("path");
const [solcPath, contractsDir, outDir] = process.argv.slice(2);
const solc = require(path.resolve(solcPath));

// Every .sol file under contracts/, sorted so the compiler input is always the same.
function solFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return solFiles(file);
    return entry.name.endsWith(".sol") ? [file] : [];
  });
}
const files = solFiles(contractsDir).map((f) => path.relative(contractsDir, f)).sort();

const input = {
  language: "Solidity",
  sources: Object.fromEntries(
    files.map((f) => [f, { content: fs.readFileSync(path.join(contractsDir, f), "utf8") }]),
  ),
  settings: {
    // Cancun is supported by every EVM chain we target; nothing newer is needed.
    evmVersion: "cancun",
    // Runtime gas matters (every swap pays it twice), deployment happens once per chain.
    optimizer: { enabled: true, runs: 1000000 },
    // The IR pipeline saves 1-2% gas on every swap operation (measured: ~400-900 per call).
    viaIR: true,
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input)));
const problems = (output.errors || []).filter((e) => e.severity === "error" || e.type === "Warning");
for (const problem of problems) console.error(problem.formattedMessage);
if (problems.some((e) => e.severity === "error")) process.exit(1);
if (problems.length) {
  console.error("build-contracts.sh: warnings are errors");
  process.exit(1);
}

for (const source of Object.keys(output.contracts).sort()) {
  for (const [name, contract] of Object.entries(output.contracts[source]).sort()) {
    const artifact = {
      contractName: name,
      sourceName: source,
      compiler: `solc ${solc.version()}`,
      abi: contract.abi,
      bytecode: "0x" + contract.evm.bytecode.object,
      deployedBytecode: "0x" + contract.evm.deployedBytecode.object,
    };
    const file = path.join(outDir, path.dirname(source), `${name}.json`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(artifact, null, 2) + "\n");
    console.log(`${file}: ${contract.evm.deployedBytecode.object.length / 2} bytes runtime`);
  }
}
JS
