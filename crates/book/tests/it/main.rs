//! Integration tests of dex-book (one test binary, see STYLE.md).

mod caps;
mod crosses;
mod model;
mod ops;
mod plan;
mod props;
mod support;
