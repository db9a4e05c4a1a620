//! Integration tests of dex-protocol (one test binary, see STYLE.md).

mod codec;
mod seen;
mod sync;
mod validate;
