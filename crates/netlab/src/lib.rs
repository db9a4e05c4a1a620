//! A network lab for tests that must cross a real network: each host is a Linux network
//! namespace; public hosts sit on one shared switch (the "internet", a bridge in a
//! namespace of its own), and a home host sits behind a router namespace that NATs it with
//! nftables — port-preserving like most home routers ([`Nat::PortPreserving`], hole
//! punching works), or with random ports like a symmetric NAT ([`Nat::RandomPort`], it
//! does not). Links can be cut, healed and shaped (`tc tbf`). Programs run inside a host
//! with [`Lab::command`].
//!
//! Everything a lab made is deleted when it is dropped, and namespaces left by a lab whose
//! process died are deleted by the next lab. Traffic stays inside the namespaces: the
//! switch is not connected to the machine's own network.
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables); [`Lab::available`] says what is
//! missing. `scripts/test.sh` installs nftables.

use std::{
    fmt,
    net::Ipv4Addr,
    path::Path,
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
};

/// What went wrong building or driving a lab.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lab cannot run here (not root, a tool missing).
    #[error("the network lab cannot run here: {0}")]
    Unavailable(String),
    /// A command failed.
    #[error("`{command}` failed: {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// What it printed on stderr (or why it did not start).
        stderr: String,
    },
    /// More hosts than the lab's address plan has room for.
    #[error("the lab has room for at most 200 hosts")]
    Full,
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a home router maps its hosts' connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// Keeps the host's source port when it is free (endpoint-independent mapping, as most
    /// home routers do): hole punching works.
    PortPreserving,
    /// A random source port per connection, as symmetric NATs do: hole punching fails.
    RandomPort,
}

/// One host of the lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Its name, as given.
    pub name: String,
    /// Its network namespace.
    pub namespace: String,
    /// Its own address (a private one behind a NAT).
    pub ip: Ipv4Addr,
    /// The address the internet sees it as: its own, or its router's.
    pub public_ip: Ipv4Addr,
    /// The switch port of its link to the internet (its own, or its router's).
    uplink: String,
}

impl Host {
    /// A command that runs `program` inside this host (with `ip netns exec`, which execs
    /// `program`: the child's pid is the program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.namespace])
            .arg(program);
        command
    }

    /// Runs `work` on a thread of its own that has entered this host's network namespace,
    /// and returns what it returned: every socket it opens is the host's (its listeners,
    /// its `127.0.0.1`, its routes). A panic in `work` is resumed here.
    ///
    /// A child process spawned by `work` gets the host's network too, but dies with the
    /// thread if it arms a parent-death signal; start long-lived processes with
    /// [`Host::command`] or from a thread that lives as long as they do.
    pub fn within<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T> {
        let path = Path::new("/run/netns").join(&self.namespace);
        let namespace = std::fs::File::open(&path).map_err(|err| Error::Command {
            command: format!("open {}", path.display()),
            stderr: err.to_string(),
        })?;
        std::thread::scope(|scope| {
            let thread = scope.spawn(move || {
                nix::sched::setns(&namespace, nix::sched::CloneFlags::CLONE_NEWNET).map_err(
                    |err| Error::Command {
                        command: format!("setns {}", path.display()),
                        stderr: err.to_string(),
                    },
                )?;
                Ok(work())
            });
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.ip)
    }
}

/// Prefix of every namespace a lab makes; then the process id, so that a later lab can
/// tell which are left over from a dead process.
const PREFIX: &str = "dexlab";

/// The internet's /24: public hosts and routers get `10.77.0.x`.
const INTERNET: [u8; 3] = [10, 77, 0];

/// Labs made by this process (each gets its own namespaces).
static LABS: AtomicU32 = AtomicU32::new(0);

/// A lab: its switch and its hosts, deleted when dropped.
#[derive(Debug)]
pub struct Lab {
    /// `dexlab<pid>x<n>`: the start of every namespace name of this lab.
    tag: String,
    /// The namespace holding the switch.
    internet: String,
    /// Every namespace made, in order.
    namespaces: Vec<String>,
    /// Hosts and routers on the switch so far.
    attached: u8,
}

impl Lab {
    /// Whether a lab can run here: root, `ip` and `nft`.
    pub fn available() -> Result<()> {
        let uid = run("id", &["-u"])?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err(Error::Unavailable("it needs root".into()));
        }
        for (tool, package) in [("ip", "iproute2"), ("nft", "nftables"), ("tc", "iproute2")] {
            if run(tool, &["-V"]).is_err() && run(tool, &["--version"]).is_err() {
                return Err(Error::Unavailable(format!(
                    "`{tool}` is missing (Debian package {package})"
                )));
            }
        }
        Ok(())
    }

    /// A lab for a test, or `None` when labs cannot run here and the test is to be skipped
    /// (it says why on stderr). Under CI (`CI=true`) the lab tests must run: there a lab
    /// that cannot be made panics.
    pub fn for_test() -> Option<Lab> {
        match Lab::available() {
            Ok(()) => Some(Lab::new().expect("a lab where labs are available")),
            Err(err) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("{err}; under CI the lab tests must run")
            }
            Err(err) => {
                eprintln!("lab test skipped: {err}");
                None
            }
        }
    }

    /// A new lab with an empty switch. Deletes first what labs of dead processes left.
    pub fn new() -> Result<Lab> {
        Lab::available()?;
        remove_leftovers();
        let tag = format!(
            "{PREFIX}{}x{}",
            std::process::id(),
            LABS.fetch_add(1, Ordering::Relaxed)
        );
        let mut lab = Lab {
            internet: format!("{tag}-net"),
            tag,
            namespaces: Vec::new(),
            attached: 0,
        };
        let internet = lab.internet.clone();
        lab.add_namespace(&internet)?;
        lab.exec(&internet, "ip", &["link", "add", "sw", "type", "bridge"])?;
        lab.exec(&internet, "ip", &["link", "set", "sw", "up"])?;
        Ok(lab)
    }

    /// A host with a public address on the switch.
    pub fn public_host(&mut self, name: &str) -> Result<Host> {
        let namespace = format!("{}-{name}", self.tag);
        self.add_namespace(&namespace)?;
        let (ip, uplink) = self.attach(&namespace)?;
        Ok(Host {
            name: name.to_owned(),
            namespace,
            ip,
            public_ip: ip,
            uplink,
        })
    }

    /// A host on a home network of its own, behind a router that NATs it as `nat` says.
    /// Nothing on the internet can open a connection to it; it can to anyone.
    pub fn home_host(&mut self, name: &str, nat: Nat) -> Result<Host> {
        let router = format!("{}-{name}-gw", self.tag);
        let namespace = format!("{}-{name}", self.tag);
        self.add_namespace(&router)?;
        self.add_namespace(&namespace)?;
        let (public_ip, uplink) = self.attach(&router)?;
        let lan = Ipv4Addr::new(192, 168, 1, 1);
        let ip = Ipv4Addr::new(192, 168, 1, 2);
        self.exec(
            &router,
            "ip",
            &[
                "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", &namespace,
            ],
        )?;
        self.exec(
            &router,
            "ip",
            &["addr", "add", &format!("{lan}/24"), "dev", "lan"],
        )?;
        self.exec(&router, "ip", &["link", "set", "lan", "up"])?;
        self.exec(
            &namespace,
            "ip",
            &["addr", "add", &format!("{ip}/24"), "dev", "eth0"],
        )?;
        self.exec(&namespace, "ip", &["link", "set", "eth0", "up"])?;
        self.exec(
            &namespace,
            "ip",
            &["route", "add", "default", "via", &lan.to_string()],
        )?;
        self.exec(&router, "sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
        // Like a home router: what comes from the internet unasked is dropped without an
        // answer (no RST), so a hole-punching SYN that arrives before the host's own went
        // out is retried by TCP rather than refused.
        let masquerade = match nat {
            Nat::PortPreserving => "masquerade",
            Nat::RandomPort => "masquerade random",
        };
        let rules = format!(
            "table ip nat {{\n  chain postrouting {{ type nat hook postrouting priority srcnat; \
             oifname \"wan\" {masquerade}; }}\n}}\n\
             table ip filter {{\n  chain forward {{ type filter hook forward priority filter; \
             policy drop;\n    ct state established,related accept\n    \
             iifname \"lan\" oifname \"wan\" accept\n  }}\n  \
             chain input {{ type filter hook input priority filter; policy accept;\n    \
             iifname \"wan\" ct state established,related accept\n    \
             iifname \"wan\" drop\n  }}\n}}\n"
        );
        self.exec_stdin(&router, "nft", &["-f", "-"], &rules)?;
        Ok(Host {
            name: name.to_owned(),
            namespace,
            ip,
            public_ip,
            uplink,
        })
    }

    /// A command that runs `program` inside `host` (with `ip netns exec`).
    pub fn command(&self, host: &Host, program: impl AsRef<std::ffi::OsStr>) -> Command {
        host.command(program)
    }

    /// Cuts `host` (with its router, for a home host) off the internet.
    pub fn cut(&self, host: &Host) -> Result<()> {
        self.exec(&self.internet, "ip", &["link", "set", &host.uplink, "down"])
            .map(drop)
    }

    /// Connects a cut host again.
    pub fn heal(&self, host: &Host) -> Result<()> {
        self.exec(&self.internet, "ip", &["link", "set", &host.uplink, "up"])
            .map(drop)
    }

    /// Limits what the internet sends to `host` to `kbit` kbit/s (a token bucket filter on
    /// its switch port, with a queue of 100 ms at that rate).
    pub fn shape(&self, host: &Host, kbit: u32) -> Result<()> {
        let burst = (kbit / 8).max(2); // KiB: 1 s of traffic at most, 2 KiB at least
        self.exec(
            &self.internet,
            "tc",
            &[
                "qdisc",
                "replace",
                "dev",
                &host.uplink,
                "root",
                "tbf",
                "rate",
                &format!("{kbit}kbit"),
                "burst",
                &format!("{burst}kb"),
                "latency",
                "100ms",
            ],
        )
        .map(drop)
    }

    /// Gives `namespace` a link to the switch: its address and the switch-side port.
    fn attach(&mut self, namespace: &str) -> Result<(Ipv4Addr, String)> {
        if self.attached >= 200 {
            return Err(Error::Full);
        }
        self.attached += 1;
        let ip = Ipv4Addr::new(INTERNET[0], INTERNET[1], INTERNET[2], self.attached);
        let uplink = format!("p{}", self.attached);
        self.exec(
            &self.internet,
            "ip",
            &[
                "link", "add", &uplink, "type", "veth", "peer", "name", "wan", "netns", namespace,
            ],
        )?;
        self.exec(
            &self.internet,
            "ip",
            &["link", "set", &uplink, "master", "sw"],
        )?;
        self.exec(&self.internet, "ip", &["link", "set", &uplink, "up"])?;
        self.exec(
            namespace,
            "ip",
            &["addr", "add", &format!("{ip}/24"), "dev", "wan"],
        )?;
        self.exec(namespace, "ip", &["link", "set", "wan", "up"])?;
        Ok((ip, uplink))
    }

    fn add_namespace(&mut self, namespace: &str) -> Result<()> {
        run_checked("ip", &["netns", "add", namespace])?;
        self.namespaces.push(namespace.to_owned());
        self.exec(namespace, "ip", &["link", "set", "lo", "up"])?;
        Ok(())
    }

    fn exec(&self, namespace: &str, program: &str, args: &[&str]) -> Result<Output> {
        let mut full = vec!["netns", "exec", namespace, program];
        full.extend_from_slice(args);
        run_checked("ip", &full)
    }

    fn exec_stdin(&self, namespace: &str, program: &str, args: &[&str], input: &str) -> Result<()> {
        use std::io::Write;
        let mut full = vec!["netns", "exec", namespace, program];
        full.extend_from_slice(args);
        let describe = || format!("ip {}", full.join(" "));
        let mut child = Command::new("ip")
            .args(&full)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| Error::Command {
                command: describe(),
                stderr: err.to_string(),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .map_err(|err| Error::Command {
                    command: describe(),
                    stderr: err.to_string(),
                })?;
        }
        let output = child.wait_with_output().map_err(|err| Error::Command {
            command: describe(),
            stderr: err.to_string(),
        })?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Error::Command {
                command: describe(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes its links (and their peers) with it.
        for namespace in self.namespaces.iter().rev() {
            let _ = run("ip", &["netns", "delete", namespace]);
        }
    }
}

/// Deletes the namespaces of labs whose process is gone.
fn remove_leftovers() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if pid.is_empty() || Path::new("/proc").join(&pid).exists() {
            continue;
        }
        let _ = run("ip", &["netns", "delete", &name]);
    }
}

fn run(program: &str, args: &[&str]) -> Result<Output> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| Error::Command {
            command: format!("{program} {}", args.join(" ")),
            stderr: err.to_string(),
        })
}

fn run_checked(program: &str, args: &[&str]) -> Result<Output> {
    let output = run(program, args)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(Error::Command {
            command: format!("{program} {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}
