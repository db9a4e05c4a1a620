#!/usr/bin/env bash
# Installs the pinned chain tools into .tools/ (git-ignored): anvil, the local EVM node the
# tests and the devnet start, and solcjs, the Solidity compiler that builds the HTLC
# artifacts and checks them against their sources. Both come from the npm registry by exact
# version, so every machine runs the same binaries; once installed nothing here touches
# the network again, and a second run only compares versions and exits.
set -euo pipefail
cd "$(dirname "$0")/.."

# Changing a pin changes what the contracts compile to: run scripts/build-contracts.sh after.
ANVIL_PACKAGE="@foundry-rs/anvil-linux-amd64"
ANVIL_VERSION="1.7.1"
SOLC_VERSION="0.8.30"

TOOLS=.tools

installed_version() {
  # Prints the version of an installed npm package, or nothing.
  local manifest="$TOOLS/node_modules/$1/package.json"
  [[ -f "$manifest" ]] && sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$manifest" | head -n1
}

up_to_date() {
  [[ "$(installed_version "$ANVIL_PACKAGE")" == "$ANVIL_VERSION" ]] &&
    [[ "$(installed_version solc)" == "$SOLC_VERSION" ]] &&
    [[ -x "$TOOLS/bin/anvil" && -x "$TOOLS/bin/solcjs" ]]
}

if up_to_date; then
  echo "chain tools up to date in $TOOLS/ (anvil $ANVIL_VERSION, solc $SOLC_VERSION)"
  exit 0
fi

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "install-tools.sh: only linux x86_64 is supported (the anvil package is $ANVIL_PACKAGE)" >&2
  exit 1
fi
for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    echo "install-tools.sh: '$tool' is required (Node.js >= 20) to install anvil and solc" >&2
    exit 1
  fi
done

echo "installing anvil $ANVIL_VERSION and solc $SOLC_VERSION into $TOOLS/"
mkdir -p "$TOOLS/bin"
# A manifest with exact versions, so npm resolves nothing by range.
cat >"$TOOLS/package.json" <<JSON
{
  "private": true,
  "description": "p2pdex chain tools, written by scripts/install-tools.sh",
  "dependencies": {
    "$ANVIL_PACKAGE": "$ANVIL_VERSION",
    "solc": "$SOLC_VERSION"
  }
}
JSON
# --ignore-scripts: neither package needs an install script, and none should run.
(cd "$TOOLS" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error)

ln -sf "../node_modules/$ANVIL_PACKAGE/bin/anvil" "$TOOLS/bin/anvil"
cat >"$TOOLS/bin/solcjs" <<'SH'
#!/usr/bin/env bash
exec node "$(dirname "$0")/../node_modules/solc/solc.js" "$@"
SH
chmod +x "$TOOLS/bin/anvil" "$TOOLS/node_modules/$ANVIL_PACKAGE/bin/anvil" "$TOOLS/bin/solcjs"

# Prove both run before declaring success.
"$TOOLS/bin/anvil" --version | grep -q "$ANVIL_VERSION" ||
  { echo "install-tools.sh: $TOOLS/bin/anvil does not report version $ANVIL_VERSION" >&2; exit 1; }
"$TOOLS/bin/solcjs" --version | grep -q "^$SOLC_VERSION+" ||
  { echo "install-tools.sh: $TOOLS/bin/solcjs does not report version $SOLC_VERSION" >&2; exit 1; }
up_to_date
echo "installed anvil $ANVIL_VERSION and solc $SOLC_VERSION into $TOOLS/"
