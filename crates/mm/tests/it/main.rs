//! Tests of the dex-mm quoting strategy through its public API (one test binary, see
//! STYLE.md).

mod props;
mod scenarios;
mod support;
