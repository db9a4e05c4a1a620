//! The supervisor with plain shell children: logs, readiness, unexpected exits, ordered
//! shutdown with escalation, restarts, and every lifeline.

use std::{fs, os::unix::process::ExitStatusExt, path::Path, time::Duration};

use crate::support::{is_running, lifeline, wait_until};
use dex_devnet::{ChildSpec, DevnetError, Lifeline, Supervisor, SupervisorConfig};

const READY: Duration = Duration::from_secs(10);

fn supervisor(dir: &Path, lifeline: Lifeline) -> Supervisor {
    Supervisor::new(SupervisorConfig {
        lifeline,
        poll_interval: Duration::from_millis(20),
        processes_file: Some(dir.join("processes.json")),
        ..SupervisorConfig::new(dir.join("logs"))
    })
    .expect("the supervisor starts")
}

/// `sh -c script`.
fn shell(name: &str, script: &str) -> ChildSpec {
    ChildSpec::new(name, "/bin/sh").arg("-c").arg(script)
}

/// Whether the log of `name` has the line `line` (whole lines: the header line that
/// quotes the command contains the words the command prints).
fn log_has(supervisor: &Supervisor, name: &str, line: &str) -> bool {
    fs::read_to_string(supervisor.log_path(name))
        .is_ok_and(|log| log.lines().any(|logged| logged == line))
}

/// Waits until no live process is left in the process group `pgid` (its members killed
/// with the leader may linger a moment as zombies until init reaps them).
async fn wait_group_gone(pgid: u32) {
    wait_until("the process group to be gone", READY, || async {
        !group_alive(pgid)
    })
    .await;
}

/// Whether a live (non-zombie) process is in process group `pgid`.
fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // After the parenthesised name: state, ppid, pgrp, …
        let Some(fields) = stat.rfind(')').map(|end| &stat[end + 1..]) else {
            return false;
        };
        let fields: Vec<&str> = fields.split_whitespace().collect();
        fields.len() > 2 && fields[2] == pgid.to_string() && !matches!(fields[0], "Z" | "X")
    })
}

#[tokio::test]
async fn output_goes_to_the_log_and_shutdown_stops_newest_first() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let order = dir.path().join("order");
    let mut supervisor = supervisor(dir.path(), lifeline());
    for name in ["first", "second"] {
        // A child that starts a grandchild (sleep) in its group, like a shell wrapper would.
        let script = format!(
            "trap 'echo {name} >> {order}; exit 0' TERM; echo {name} out; echo {name} err >&2; \
             while :; do sleep 0.05; done",
            order = order.display()
        );
        supervisor.spawn(shell(name, &script))?;
    }
    for name in ["first", "second"] {
        let log = supervisor.log_path(name);
        let err_line = format!("{name} err");
        supervisor
            .wait_ready(name, "its output", READY, async || {
                let log = fs::read_to_string(&log).ok()?;
                log.lines().any(|line| line == err_line).then_some(())
            })
            .await?;
        assert!(log_has(&supervisor, name, &format!("{name} out")));
        let header = fs::read_to_string(&log)?;
        assert!(
            header.starts_with("# dex-devnet started: /bin/sh -c trap"),
            "{header}"
        );
    }
    let pids: Vec<u32> = supervisor.children().iter().map(|c| c.pid).collect();
    assert!(pids.iter().all(|pid| is_running(*pid)));

    supervisor.shutdown().await;
    assert!(supervisor.children().is_empty());
    assert!(pids.iter().all(|pid| !is_running(*pid)));
    for pid in &pids {
        wait_group_gone(*pid).await;
    }
    assert_eq!(fs::read_to_string(&order)?, "second\nfirst\n");
    assert_eq!(
        fs::read_to_string(dir.path().join("processes.json"))?.trim(),
        "[]"
    );
    Ok(())
}

#[tokio::test]
async fn a_child_ignoring_sigterm_is_killed_after_its_grace() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut supervisor = supervisor(dir.path(), lifeline());
    let spec = shell(
        "stubborn",
        "trap '' TERM; echo ready; while :; do sleep 0.05; done",
    )
    .stop_grace(Duration::from_millis(200));
    let pid = supervisor.spawn(spec)?.pid;
    let log = supervisor.log_path("stubborn");
    supervisor
        .wait_ready("stubborn", "ready", READY, async || {
            let text = fs::read_to_string(&log).ok()?;
            text.lines().any(|line| line == "ready").then_some(())
        })
        .await?;

    let status = supervisor.stop("stubborn").await?;
    assert_eq!(status.signal(), Some(9), "{status}");
    assert!(!is_running(pid));
    wait_group_gone(pid).await;
    Ok(())
}

#[tokio::test]
async fn an_unexpected_exit_names_the_child_and_its_log() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut supervisor = supervisor(dir.path(), lifeline());
    supervisor.spawn(shell("steady", "exec sleep 600"))?;
    let steady = supervisor.child("steady").unwrap().pid;
    let dying = supervisor.spawn(shell("dying", "echo about to fail; exit 3"))?;

    let exit = tokio::time::timeout(READY, supervisor.wait_for_exit()).await?;
    assert_eq!(exit.name, "dying");
    assert_eq!(exit.pid, dying.pid);
    assert_eq!(exit.status.code(), Some(3));
    assert_eq!(exit.log, dir.path().join("logs/dying.log"));
    assert_eq!(
        exit.log_tail.last().map(String::as_str),
        Some("about to fail")
    );
    let message = exit.to_string();
    assert!(
        message.contains("dying") && message.contains("logs/dying.log"),
        "{message}"
    );

    // Reported once, and no longer supervised; the other one still runs.
    let names: Vec<String> = supervisor.children().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["steady"]);
    assert!(supervisor.try_exit().is_none());
    assert!(is_running(steady));
    drop(supervisor);
    assert!(!is_running(steady));
    Ok(())
}

#[tokio::test]
async fn waiting_for_readiness_fails_on_exit_and_at_the_deadline() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut supervisor = supervisor(dir.path(), lifeline());

    supervisor.spawn(shell("never-ready", "exec sleep 600"))?;
    let error = supervisor
        .wait_ready(
            "never-ready",
            "a miracle",
            Duration::from_millis(200),
            async || None::<()>,
        )
        .await
        .unwrap_err();
    let DevnetError::NotReady {
        name,
        waiting_for,
        log,
        ..
    } = &error
    else {
        panic!("expected NotReady, got {error:?}");
    };
    assert_eq!(
        (name.as_str(), waiting_for.as_str()),
        ("never-ready", "a miracle")
    );
    assert_eq!(log, &dir.path().join("logs/never-ready.log"));

    supervisor.spawn(shell("crashing", "echo no config >&2; exit 2"))?;
    let error = supervisor
        .wait_ready("crashing", "its API", READY, async || None::<()>)
        .await
        .unwrap_err();
    let DevnetError::ChildExited(exit) = &error else {
        panic!("expected ChildExited, got {error:?}");
    };
    assert_eq!(exit.name, "crashing");
    assert_eq!(exit.log_tail.last().map(String::as_str), Some("no config"));

    let error = supervisor
        .wait_ready("nobody", "anything", READY, async || Some(()))
        .await
        .unwrap_err();
    assert!(matches!(error, DevnetError::UnknownChild { .. }));
    Ok(())
}

#[tokio::test]
async fn a_killed_child_restarts_under_its_name_and_its_log_goes_on() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut supervisor = supervisor(dir.path(), lifeline());
    let first = supervisor.spawn(shell("node-1", "echo run; exec sleep 600"))?;
    let log = supervisor.log_path("node-1");
    let runs = |count: usize| {
        let log = log.clone();
        async move || {
            let text = fs::read_to_string(&log).ok()?;
            (text.lines().filter(|line| *line == "run").count() == count).then_some(())
        }
    };
    supervisor
        .wait_ready("node-1", "its first run", READY, runs(1))
        .await?;
    assert!(matches!(
        supervisor.spawn(shell("node-1", "true")),
        Err(DevnetError::DuplicateChild { .. })
    ));

    let status = supervisor.kill("node-1")?;
    assert_eq!(status.signal(), Some(9));
    assert!(!is_running(first.pid));
    // Killed on purpose: not an unexpected exit.
    assert!(supervisor.try_exit().is_none());

    let second = supervisor.spawn(shell("node-1", "echo run; exec sleep 600"))?;
    assert_ne!(second.pid, first.pid);
    supervisor
        .wait_ready("node-1", "its second run", READY, runs(2))
        .await?;
    assert_eq!(
        fs::read_to_string(&log)?
            .matches("# dex-devnet started")
            .count(),
        2
    );
    supervisor.shutdown().await;
    assert!(!is_running(second.pid));
    Ok(())
}

#[tokio::test]
async fn a_restarted_child_keeps_its_place_in_the_stop_order() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut supervisor = supervisor(dir.path(), lifeline());
    // Each records, when asked to stop, which of the others still ran. A child is waited
    // for until its trap is set (it says so), or a SIGTERM could beat the trap.
    let order = dir.path().join("order");
    let child = |name: &str| {
        shell(
            name,
            &format!(
                "trap 'echo {name} >> {}; exit 0' TERM; echo trapped; while :; do sleep 0.05; done",
                order.display()
            ),
        )
    };
    async fn trapped(supervisor: &mut Supervisor, name: &str, runs: usize) -> anyhow::Result<()> {
        let log = supervisor.log_path(name);
        supervisor
            .wait_ready(name, "its trap", READY, async || {
                let text = fs::read_to_string(&log).ok()?;
                (text.lines().filter(|line| *line == "trapped").count() >= runs).then_some(())
            })
            .await?;
        Ok(())
    }
    for name in ["chain", "node", "bot"] {
        supervisor.spawn(child(name))?;
        trapped(&mut supervisor, name, 1).await?;
    }
    supervisor.kill("node")?;
    supervisor.spawn(child("node"))?;
    // The restarted node's log goes on from the first run's.
    trapped(&mut supervisor, "node", 2).await?;
    let names: Vec<String> = supervisor.children().into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["chain", "node", "bot"]);
    supervisor.shutdown().await;
    // The bot stops before the node it uses, although the node was started last.
    assert_eq!(fs::read_to_string(&order)?, "bot\nnode\nchain\n");
    Ok(())
}

#[tokio::test]
async fn every_lifeline_runs_the_program_with_its_arguments() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let setpriv = match Lifeline::detect() {
        Lifeline::Setpriv(path) => Some(Lifeline::Setpriv(path)),
        _ => None,
    };
    let lifelines = [Some(lifeline()), setpriv, Some(Lifeline::None)];
    for (i, lifeline) in lifelines.into_iter().flatten().enumerate() {
        let mut supervisor = supervisor(&dir.path().join(i.to_string()), lifeline.clone());
        // The wrapper is invisible: same pid (it execs), arguments and environment intact.
        // (That the guard's parent-death signal works is shown by SIGKILLing the binary.)
        let spec = ChildSpec::new("echo", "/bin/sh")
            .args([
                "-c",
                "echo \"$0|$1|$DEVNET_TEST\"; exec sleep 600",
                "a b",
                "--c",
            ])
            .env("DEVNET_TEST", "set");
        let pid = supervisor.spawn(spec)?.pid;
        let log = supervisor.log_path("echo");
        supervisor
            .wait_ready("echo", "its output", READY, async || {
                let text = fs::read_to_string(&log).ok()?;
                text.lines().any(|line| line == "a b|--c|set").then_some(())
            })
            .await?;
        // The shell prints, then execs sleep: while the exec is under way the pid's
        // command line reads empty or still the shell's, so wait for the exec to land.
        let cmdline = format!("/proc/{pid}/cmdline");
        wait_until("the shell to exec sleep", READY, || async {
            fs::read_to_string(&cmdline).is_ok_and(|command| command.starts_with("sleep\x00"))
        })
        .await;
        let command = fs::read_to_string(&cmdline)?;
        assert_eq!(command, "sleep\x00600\x00", "{lifeline:?}");
        drop(supervisor);
        assert!(!is_running(pid));
    }
    Ok(())
}
