# Versions of the tools the scripts install from PyPI, in one place (sourced by
# scripts/test.sh and scripts/client-tests.sh).
SCHEMATHESIS_VERSION="4.32.5"
ETH_ACCOUNT_VERSION="0.14.0"
PLAYWRIGHT_VERSION="1.65.3"
CCXT_VERSION="4.5.90"

# Installs the pinned schemathesis into the git-ignored .venv (a no-op when it is there).
install_schemathesis() {
  if [[ "$(.venv/bin/schemathesis --version 2>/dev/null)" != *"version $SCHEMATHESIS_VERSION" ]]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
}
