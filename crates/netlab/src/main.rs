//! `dex-netlab up`: builds a network lab from the command line and holds it until SIGINT or
//! SIGTERM, then tears it down (scripts/netlab.sh runs p2pdex in it).
//!
//! ```text
//! dex-netlab up --public relay --public chain --home alice --home bob:random --shape bob:1000
//! ```
//!
//! Prints one line per host, `host NAME NAMESPACE IP PUBLIC_IP`, then `ready`; programs run
//! in a host with `ip netns exec NAMESPACE PROGRAM`. Needs root, iproute2 and nftables.

use std::{io::Write, process::ExitCode};

use dex_netlab::{Host, Lab, Nat};
use nix::sys::signal::{SigSet, Signal};

const USAGE: &str = "usage: dex-netlab up [--public NAME]... [--home NAME[:random]]... \
                     [--shape NAME:KBIT]...

Builds a network lab of Linux network namespaces and holds it until SIGINT or SIGTERM:
  --public NAME         a host with a public address on the lab's switch (10.77.0.x)
  --home NAME           a host at home (192.168.1.2) behind a NAT router that keeps source
                        ports (hole punching works); NAME:random maps random ports instead
                        (as symmetric NATs do: hole punching fails)
  --shape NAME:KBIT     limits what the internet sends to NAME to KBIT kbit/s (tc tbf)
Prints `host NAME NAMESPACE IP PUBLIC_IP` per host, then `ready`.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("up") => match up(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("dex-netlab: {message}");
                ExitCode::FAILURE
            }
        },
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn up(args: &[String]) -> Result<(), String> {
    // Blocked before the lab exists, so a signal during the build is not lost and the lab
    // is always dropped (torn down) on the way out.
    let mut signals = SigSet::empty();
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        signals.add(signal);
    }
    signals
        .thread_block()
        .map_err(|err| format!("blocking signals: {err}"))?;

    let mut lab = Lab::new().map_err(|err| err.to_string())?;
    let mut hosts: Vec<Host> = Vec::new();
    let mut shapes = Vec::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--public" => hosts.push(lab.public_host(value).map_err(|err| err.to_string())?),
            "--home" => {
                let (name, nat) = match value.split_once(':') {
                    None => (value.as_str(), Nat::PortPreserving),
                    Some((name, "random")) => (name, Nat::RandomPort),
                    Some((_, other)) => {
                        return Err(format!("--home {value}: unknown NAT kind {other:?}"));
                    }
                };
                hosts.push(lab.home_host(name, nat).map_err(|err| err.to_string())?);
            }
            "--shape" => {
                let (name, kbit) = value
                    .split_once(':')
                    .and_then(|(name, kbit)| Some((name.to_owned(), kbit.parse::<u32>().ok()?)))
                    .ok_or_else(|| format!("--shape {value}: expected NAME:KBIT"))?;
                shapes.push((name, kbit));
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    for (name, kbit) in shapes {
        let host = hosts
            .iter()
            .find(|host| host.name == name)
            .ok_or_else(|| format!("--shape {name}: no such host"))?;
        lab.shape(host, kbit).map_err(|err| err.to_string())?;
    }
    let mut out = std::io::stdout().lock();
    for host in &hosts {
        writeln!(
            out,
            "host {} {} {} {}",
            host.name, host.namespace, host.ip, host.public_ip
        )
        .map_err(|err| err.to_string())?;
    }
    writeln!(out, "ready").map_err(|err| err.to_string())?;
    out.flush().map_err(|err| err.to_string())?;
    drop(out);

    let signal = signals.wait().map_err(|err| format!("waiting: {err}"))?;
    eprintln!("dex-netlab: {signal}: tearing the lab down");
    drop(lab);
    Ok(())
}
