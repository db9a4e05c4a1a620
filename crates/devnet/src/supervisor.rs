//! Supervision of the devnet's child processes (anvil, `dexd` and `dex-mm`): each
//! child gets its own process group and log file, is tied to the devnet's life, is watched
//! for unexpected exits, and is stopped in reverse start order.
//!
//! # What ends a child, and when
//!
//! | the devnet…                                    | its children                                           |
//! |------------------------------------------------|--------------------------------------------------------|
//! | calls [`Supervisor::shutdown`] (Ctrl-C, SIGTERM in the binary) | SIGTERM to each child's process group, newest first; SIGKILL after the child's grace period |
//! | drops the [`Supervisor`] (error, panic, cancelled future) | SIGKILL to each child's process group, then reaped |
//! | is killed (SIGKILL, abort, OOM) with a [`Lifeline`] | the kernel sends SIGKILL to each child (Linux parent-death signal) |
//! | is killed without a lifeline ([`Lifeline::None`]) | nothing: the children stay (their pids are in the data dir's `processes.json`) |
//!
//! Not covered: when the devnet is killed, a child's own descendants (anvil, `dexd` and
//! `dex-mm` have none) are not signalled, as the parent-death signal reaches only direct
//! children; a child that calls `setsid`/`setpgid` itself leaves its process group.
//!
//! Children run in their own process groups so that a Ctrl-C in the terminal (SIGINT to the
//! foreground group) reaches only the devnet, which then stops them in order (nodes before
//! the chains they use) instead of everything dying at once.

use std::{
    env,
    ffi::{CString, OsStr, OsString},
    fs::{self, File, OpenOptions},
    io::{self, Read, Seek, SeekFrom, Write},
    os::unix::{ffi::OsStrExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread::{self, JoinHandle},
    time::Duration,
};

use nix::{
    errno::Errno,
    sys::{
        prctl,
        signal::{Signal, killpg},
        wait::{Id, WaitPidFlag, WaitStatus, waitid},
    },
    unistd::{Pid, execvp, getppid},
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::{ChildExit, DevnetError};

/// The `dex-devnet` binary's hidden subcommand that runs a child under a parent-death
/// signal: `dex-devnet guard --parent PID -- PROGRAM ARGS…` (see [`exec_guarded`]).
pub const GUARD_SUBCOMMAND: &str = "guard";

/// How long a child may take to exit after SIGTERM before it gets SIGKILL, by default.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);

/// How often readiness probes run.
const READY_POLL: Duration = Duration::from_millis(25);
/// How often a stopping child is checked.
const STOP_POLL: Duration = Duration::from_millis(10);
/// Lines of a child's log quoted in error messages.
pub const LOG_TAIL_LINES: usize = 20;

/// What ties a child's life to the devnet's when the devnet dies without tearing down
/// (SIGKILL, abort): the Linux parent-death signal, armed in the child before it execs the
/// program. Orderly teardown and `Drop` do not depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lifeline {
    /// Start each child as `GUARD guard --parent PID -- PROGRAM ARGS…`, where `GUARD` is the
    /// `dex-devnet` binary: it arms the parent-death signal (SIGKILL), checks that the devnet
    /// is still its parent (closing the race of a devnet dying during the spawn), and execs
    /// the program, which keeps the pid.
    Guard(PathBuf),
    /// Start each child as `setpriv --pdeathsig KILL -- PROGRAM ARGS…` (util-linux). Like
    /// [`Lifeline::Guard`] without the parent check: a devnet killed during the few
    /// microseconds between fork and `prctl` leaves that child running.
    Setpriv(PathBuf),
    /// No parent-death signal: children outlive a devnet that is SIGKILLed.
    None,
}

impl Lifeline {
    /// The best lifeline available to this process: the guard of the running `dex-devnet`
    /// binary, else `setpriv` from `PATH`, else none. Tests and other binaries pass
    /// [`Lifeline::Guard`] with the path of a `dex-devnet` binary explicitly (integration
    /// tests of this crate have it as `env!("CARGO_BIN_EXE_dex-devnet")`).
    pub fn detect() -> Lifeline {
        if let Ok(exe) = env::current_exe()
            && exe.file_stem() == Some(OsStr::new("dex-devnet"))
        {
            return Lifeline::Guard(exe);
        }
        env::var_os("PATH")
            .iter()
            .flat_map(env::split_paths)
            .map(|dir| dir.join("setpriv"))
            .find(|path| path.is_file())
            .map_or(Lifeline::None, Lifeline::Setpriv)
    }

    /// The program and arguments that run `program args` under this lifeline.
    fn wrap(&self, program: &Path, args: &[OsString]) -> (PathBuf, Vec<OsString>) {
        let mut wrapped: Vec<OsString> = match self {
            Lifeline::Guard(_) => vec![
                GUARD_SUBCOMMAND.into(),
                "--parent".into(),
                std::process::id().to_string().into(),
                "--".into(),
            ],
            Lifeline::Setpriv(_) => vec!["--pdeathsig".into(), "KILL".into(), "--".into()],
            Lifeline::None => return (program.to_owned(), args.to_vec()),
        };
        wrapped.push(program.into());
        wrapped.extend(args.iter().cloned());
        match self {
            Lifeline::Guard(path) | Lifeline::Setpriv(path) => (path.clone(), wrapped),
            Lifeline::None => unreachable!("returned above"),
        }
    }
}

/// The guard's work, for the binary's [`GUARD_SUBCOMMAND`]: arms SIGKILL as this process's
/// parent-death signal, checks that `parent` is still its parent, and replaces this process
/// with `command` (program first, looked up in `PATH` if it has no slash). Returns only on
/// failure.
pub fn exec_guarded(parent: u32, command: &[OsString]) -> DevnetError {
    let Some(program) = command.first() else {
        return DevnetError::InvalidConfig {
            reason: "the guard needs a command to run".into(),
        };
    };
    if let Err(source) = prctl::set_pdeathsig(Signal::SIGKILL) {
        return DevnetError::Os {
            what: "arming the parent-death signal".into(),
            source,
        };
    }
    // The parent may have died between our fork and the prctl above: then the signal will
    // never come, and the child must not start at all.
    if u32::try_from(getppid().as_raw()).ok() != Some(parent) {
        return DevnetError::Os {
            what: format!("the devnet (pid {parent}) exited before its child started"),
            source: Errno::ESRCH,
        };
    }
    let argv: Result<Vec<CString>, _> = command
        .iter()
        .map(|arg| CString::new(arg.as_bytes()))
        .collect();
    let argv = match argv {
        Ok(argv) => argv,
        Err(_) => {
            return DevnetError::InvalidConfig {
                reason: "a command argument contains a NUL byte".into(),
            };
        }
    };
    match execvp(&argv[0], &argv) {
        Err(source) => DevnetError::Os {
            what: format!("exec {}", program.to_string_lossy()),
            source,
        },
        Ok(never) => match never {},
    }
}

/// A child to start: program, arguments, environment, and how long it may take to stop.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_removed: Vec<OsString>,
    current_dir: Option<PathBuf>,
    stop_grace: Duration,
}

impl ChildSpec {
    /// A child called `name` (unique in its supervisor; its log is `<log dir>/<name>.log`)
    /// that runs `program`.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> ChildSpec {
        ChildSpec {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_removed: Vec::new(),
            current_dir: None,
            stop_grace: DEFAULT_STOP_GRACE,
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> ChildSpec {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> ChildSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the child (it inherits the rest).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> ChildSpec {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes an environment variable the child would otherwise inherit (applied before
    /// [`ChildSpec::env`], which can set it again).
    pub fn env_remove(mut self, key: impl Into<OsString>) -> ChildSpec {
        self.env_removed.push(key.into());
        self
    }

    /// Runs the child in `dir`.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> ChildSpec {
        self.current_dir = Some(dir.into());
        self
    }

    /// How long the child may take to exit after SIGTERM before it is killed
    /// ([`DEFAULT_STOP_GRACE`] unless set): a node flushing its store needs a moment.
    pub fn stop_grace(mut self, grace: Duration) -> ChildSpec {
        self.stop_grace = grace;
        self
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The command line as a person would type it (for logs and messages).
    pub fn command_line(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A started child, as reported to people and written to `processes.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChildInfo {
    /// The child's name.
    pub name: String,
    /// Its process id, which is also its process group id.
    pub pid: u32,
    /// Its log file: stdout and stderr, appended to across restarts of the same name.
    pub log: PathBuf,
    /// The command it runs (without the lifeline wrapper).
    pub command: String,
}

/// Where a supervisor keeps logs and how it ties children to its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorConfig {
    /// Directory of the children's log files (created if missing).
    pub log_dir: PathBuf,
    /// How children die with the devnet if it is killed; see [`Lifeline`].
    pub lifeline: Lifeline,
    /// How often [`Supervisor::wait_for_exit`] checks the children.
    pub poll_interval: Duration,
    /// If set, the supervised children ([`ChildInfo`]s as a JSON array) are written here
    /// after every start and stop, so a person or a script can see which pids are the
    /// devnet's.
    pub processes_file: Option<PathBuf>,
}

impl SupervisorConfig {
    /// Logs in `log_dir`, the [detected](Lifeline::detect) lifeline, checks every 100 ms.
    pub fn new(log_dir: impl Into<PathBuf>) -> SupervisorConfig {
        SupervisorConfig {
            log_dir: log_dir.into(),
            lifeline: Lifeline::detect(),
            poll_interval: Duration::from_millis(100),
            processes_file: None,
        }
    }
}

/// Owns the devnet's child processes. See the [module docs](self) for what ends them.
///
/// Start children with [`Supervisor::spawn`], wait for each to be usable with
/// [`Supervisor::wait_ready`], watch them with [`Supervisor::wait_for_exit`], and stop them
/// with [`Supervisor::shutdown`]; dropping the supervisor kills whatever still runs.
#[derive(Debug)]
pub struct Supervisor {
    config: SupervisorConfig,
    children: Vec<Supervised>,
    /// Names ever started, in the order they were first started: a restarted child appends
    /// to its log instead of truncating it, and keeps its place in the stop order.
    started: Vec<String>,
    spawner: Spawner,
}

#[derive(Debug)]
struct Supervised {
    info: ChildInfo,
    child: Child,
    stop_grace: Duration,
}

impl Supervisor {
    /// Creates the log directory and the thread children are started from.
    pub fn new(config: SupervisorConfig) -> Result<Supervisor, DevnetError> {
        fs::create_dir_all(&config.log_dir).map_err(|source| {
            DevnetError::io("creating the log directory", &config.log_dir, source)
        })?;
        let spawner = Spawner::start().map_err(|source| {
            DevnetError::io("starting the spawner thread", &config.log_dir, source)
        })?;
        Ok(Supervisor {
            config,
            children: Vec::new(),
            started: Vec::new(),
            spawner,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SupervisorConfig {
        &self.config
    }

    /// Where the child called `name` logs (whether or not it was started).
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.config.log_dir.join(format!("{name}.log"))
    }

    /// Starts a child in its own process group, with stdin from `/dev/null` and stdout and
    /// stderr into its log file, under the configured [`Lifeline`].
    pub fn spawn(&mut self, spec: ChildSpec) -> Result<ChildInfo, DevnetError> {
        if self.children.iter().any(|c| c.info.name == spec.name) {
            return Err(DevnetError::DuplicateChild { name: spec.name });
        }
        let log = self.log_path(&spec.name);
        let restarted = self.started.contains(&spec.name);
        if !restarted {
            self.started.push(spec.name.clone());
        }
        let mut log_file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(restarted)
            .truncate(!restarted)
            .open(&log)
            .map_err(|source| DevnetError::io("creating the log file", &log, source))?;
        let command_line = spec.command_line();
        writeln!(log_file, "# dex-devnet started: {command_line}")
            .map_err(|source| DevnetError::io("writing the log file", &log, source))?;
        let stderr = log_file
            .try_clone()
            .map_err(|source| DevnetError::io("opening the log file", &log, source))?;

        let (program, args) = self.config.lifeline.wrap(&spec.program, &spec.args);
        let mut command = Command::new(&program);
        for key in &spec.env_removed {
            command.env_remove(key);
        }
        command
            .args(&args)
            .envs(spec.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(stderr)
            .process_group(0);
        if let Some(dir) = &spec.current_dir {
            command.current_dir(dir);
        }
        let child = self
            .spawner
            .spawn(command)
            .map_err(|source| DevnetError::Spawn {
                name: spec.name.clone(),
                program: program.display().to_string(),
                source,
            })?;
        let info = ChildInfo {
            name: spec.name.clone(),
            pid: child.id(),
            log,
            command: command_line,
        };
        info!(name = %info.name, pid = info.pid, log = %info.log.display(), "started");
        // Children stop newest first, by first start: a node restarted after the bot that
        // uses it still stops after that bot, and before the chains it uses.
        let rank = |name: &str| self.started.iter().position(|started| started == name);
        let own_rank = rank(&spec.name);
        let position = self
            .children
            .iter()
            .position(|child| rank(&child.info.name) > own_rank)
            .unwrap_or(self.children.len());
        self.children.insert(
            position,
            Supervised {
                info: info.clone(),
                child,
                stop_grace: spec.stop_grace,
            },
        );
        self.record();
        Ok(info)
    }

    /// The children still supervised, in start order (a restarted child where it was first
    /// started).
    pub fn children(&self) -> Vec<ChildInfo> {
        self.children.iter().map(|c| c.info.clone()).collect()
    }

    /// The supervised child called `name`.
    pub fn child(&self, name: &str) -> Option<&ChildInfo> {
        self.children
            .iter()
            .find(|c| c.info.name == name)
            .map(|c| &c.info)
    }

    /// Reports (and stops supervising) the first child found to have exited, if any,
    /// without waiting.
    pub fn try_exit(&mut self) -> Option<ChildExit> {
        let index = self.children.iter().position(Supervised::has_exited)?;
        let mut exited = self.children.remove(index);
        let status = exited.reap();
        let exit = exited.exit(status);
        self.record();
        warn!(name = %exit.name, pid = exit.pid, status = %exit.status, log = %exit.log.display(), "child exited unexpectedly");
        Some(exit)
    }

    /// Fails with [`DevnetError::ChildExited`] if a child has exited.
    pub fn check(&mut self) -> Result<(), DevnetError> {
        match self.try_exit() {
            Some(exit) => Err(exit.into()),
            None => Ok(()),
        }
    }

    /// Waits until some child exits and reports which, how, and where its log is. Never
    /// returns while every child keeps running (or when there are none): select it against
    /// the shutdown signal.
    pub async fn wait_for_exit(&mut self) -> ChildExit {
        loop {
            if let Some(exit) = self.try_exit() {
                return exit;
            }
            tokio::time::sleep(self.config.poll_interval).await;
        }
    }

    /// Runs `probe` until it returns a value, for at most `timeout`; fails early if any
    /// child exits meanwhile, and with [`DevnetError::NotReady`] (naming `waiting_for` and
    /// the log of `name`) at the deadline.
    pub async fn wait_ready<T>(
        &mut self,
        name: &str,
        waiting_for: &str,
        timeout: Duration,
        mut probe: impl AsyncFnMut() -> Option<T>,
    ) -> Result<T, DevnetError> {
        let pid = self
            .child(name)
            .ok_or_else(|| DevnetError::UnknownChild { name: name.into() })?
            .pid;
        info!(name, pid, "waiting for {waiting_for}");
        let deadline = Instant::now() + timeout;
        loop {
            self.check()?;
            if let Some(ready) = probe().await {
                debug!(name, "ready: {waiting_for}");
                return Ok(ready);
            }
            if Instant::now() >= deadline {
                return Err(DevnetError::NotReady {
                    name: name.into(),
                    pid,
                    waiting_for: waiting_for.into(),
                    after: timeout,
                    log: self.log_path(name),
                });
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// Stops the child called `name` as [`Supervisor::shutdown`] would (SIGTERM, SIGKILL
    /// after its grace period) and stops supervising it. A later [`Supervisor::spawn`] of
    /// the same name appends to its log.
    pub async fn stop(&mut self, name: &str) -> Result<ExitStatus, DevnetError> {
        let mut child = self.take(name)?;
        let status = child.stop().await;
        self.record();
        Ok(status)
    }

    /// Kills the child called `name` with SIGKILL now (a crash, for tests of recovery) and
    /// stops supervising it.
    pub fn kill(&mut self, name: &str) -> Result<ExitStatus, DevnetError> {
        let mut child = self.take(name)?;
        child.signal(Signal::SIGKILL);
        let status = child.reap();
        self.record();
        Ok(status)
    }

    /// Stops every child, newest first (by first start: a restarted child keeps its place),
    /// each with SIGTERM and then SIGKILL after its grace
    /// period, and reaps them: when this returns, none of them runs.
    pub async fn shutdown(&mut self) {
        while let Some(mut child) = self.children.pop() {
            let status = child.stop().await;
            info!(name = %child.info.name, pid = child.info.pid, %status, "stopped");
            self.record();
        }
    }

    /// Writes the processes file, if configured. Best effort: it informs people, nothing
    /// depends on it.
    fn record(&self) {
        let Some(path) = &self.config.processes_file else {
            return;
        };
        let json = serde_json::to_vec_pretty(&self.children()).expect("ChildInfo serialises");
        if let Err(err) = crate::description::write_atomically(path, &json) {
            warn!(%err, "could not record the supervised processes");
        }
    }

    fn take(&mut self, name: &str) -> Result<Supervised, DevnetError> {
        let index = self
            .children
            .iter()
            .position(|c| c.info.name == name)
            .ok_or_else(|| DevnetError::UnknownChild { name: name.into() })?;
        Ok(self.children.remove(index))
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Signal all first, then reap: they die in parallel.
        for child in &self.children {
            child.signal(Signal::SIGKILL);
        }
        for mut child in self.children.drain(..) {
            let status = child.reap();
            debug!(name = %child.info.name, pid = child.info.pid, %status, "killed on drop");
        }
        self.record();
    }
}

impl Supervised {
    fn pgid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.info.pid).expect("Linux pids fit in i32"))
    }

    /// Whether the child has exited, without reaping it: while it is an unreaped zombie its
    /// pid, and so its process group id, cannot be reused, so signalling the group stays
    /// safe until [`Supervised::reap`].
    fn has_exited(&self) -> bool {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(self.pgid()), flags) {
            Ok(WaitStatus::StillAlive) => false,
            Ok(_) => true,
            // Not our child any more (already reaped): it certainly does not run.
            Err(Errno::ECHILD) => true,
            Err(_) => false,
        }
    }

    /// Sends `signal` to the child's process group (the child and anything it started).
    fn signal(&self, signal: Signal) {
        match killpg(self.pgid(), signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(err) => {
                warn!(name = %self.info.name, pid = self.info.pid, %err, "could not send {signal}")
            }
        }
    }

    /// Kills what is left of the process group and reaps the child.
    fn reap(&mut self) -> ExitStatus {
        self.signal(Signal::SIGKILL);
        loop {
            match self.child.wait() {
                Ok(status) => return status,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    // Only ECHILD is possible here, and only if someone else reaped it.
                    warn!(name = %self.info.name, %err, "could not reap");
                    return std::os::unix::process::ExitStatusExt::from_raw(0);
                }
            }
        }
    }

    async fn stop(&mut self) -> ExitStatus {
        if !self.has_exited() {
            self.signal(Signal::SIGTERM);
            let deadline = Instant::now() + self.stop_grace;
            while !self.has_exited() {
                if Instant::now() >= deadline {
                    warn!(name = %self.info.name, pid = self.info.pid, grace = ?self.stop_grace, "did not exit after SIGTERM; killing it");
                    break;
                }
                tokio::time::sleep(STOP_POLL).await;
            }
        }
        self.reap()
    }

    fn exit(&self, status: ExitStatus) -> ChildExit {
        ChildExit {
            name: self.info.name.clone(),
            pid: self.info.pid,
            status,
            log: self.info.log.clone(),
            log_tail: log_tail(&self.info.log, LOG_TAIL_LINES),
        }
    }
}

/// The last `lines` lines of a log file (empty if it cannot be read).
pub fn log_tail(path: &Path, lines: usize) -> Vec<String> {
    const WINDOW: u64 = 16 * 1024;
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(WINDOW)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let Ok(text) = read() else {
        return Vec::new();
    };
    let all: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| (*line).to_owned())
        .collect()
}

/// A thread that lives as long as the supervisor and starts every child. The parent-death
/// signal fires when the *thread* that forked a child exits, not the process: spawning from
/// whatever runtime worker happens to run the caller would kill children when that worker
/// retires.
#[derive(Debug)]
struct Spawner {
    requests: Option<mpsc::Sender<SpawnRequest>>,
    thread: Option<JoinHandle<()>>,
}

type SpawnRequest = (Command, mpsc::SyncSender<io::Result<Child>>);

impl Spawner {
    fn start() -> io::Result<Spawner> {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        let thread = thread::Builder::new()
            .name("devnet-spawner".into())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
            })?;
        Ok(Spawner {
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    fn spawn(&self, command: Command) -> io::Result<Child> {
        let (reply, answer) = mpsc::sync_channel(1);
        let gone = || io::Error::other("the spawner thread has stopped");
        self.requests
            .as_ref()
            .ok_or_else(gone)?
            .send((command, reply))
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
