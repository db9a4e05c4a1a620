//! Shared helpers: the lifeline of the tests, process liveness by pid, polling with a
//! deadline.

use std::{
    future::Future,
    path::{Path, PathBuf},
    time::Duration,
};

use dex_devnet::{ChainsConfig, Lifeline};

/// The guard of this crate's binary, which cargo builds for its integration tests.
pub(crate) fn lifeline() -> Lifeline {
    Lifeline::Guard(PathBuf::from(env!("CARGO_BIN_EXE_dex-devnet")))
}

/// Chains for a test in `dir`: ephemeral ports, instant mining, the guard.
pub(crate) fn config(dir: &Path) -> ChainsConfig {
    ChainsConfig {
        lifeline: lifeline(),
        ..ChainsConfig::for_tests(dir)
    }
}

/// Whether `pid` is a live process: it exists and is not a zombie (a zombie has exited; it
/// only waits for its parent, possibly a container's init that never reaps, to collect it).
pub(crate) fn is_running(pid: u32) -> bool {
    let fields = dex_test_utils::process::stat_fields(pid);
    let state = fields.as_ref().and_then(|fields| fields.first());
    !matches!(state.map(String::as_str), Some("Z" | "X") | None)
}

/// Polls `condition` until it holds; panics with `what` after `timeout`.
pub(crate) async fn wait_until<F, Fut>(what: &str, timeout: Duration, condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    dex_test_utils::wait_for(what, timeout, condition)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
}

/// Waits until none of `pids` runs.
pub(crate) async fn wait_all_gone(pids: &[u32], timeout: Duration) {
    wait_until("the processes to be gone", timeout, || async {
        pids.iter().all(|pid| !is_running(*pid))
    })
    .await;
}
