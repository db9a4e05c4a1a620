//! Integration tests of dex-primitives (one test binary, see STYLE.md).

mod props;
mod rules;
mod vectors;
