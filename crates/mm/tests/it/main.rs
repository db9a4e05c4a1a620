//! Tests of dex-mm (one test binary, see STYLE.md): the quoting strategy through its public
//! API, and the `dex-mm` bot as a black box against real `dexd` nodes on two anvil chains.

mod bot;
mod harness;
mod props;
mod scenarios;
mod support;
