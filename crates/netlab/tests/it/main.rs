//! The lab itself: what crosses its NATs and links, probed with small Python sockets run
//! inside its hosts. Skipped (with a message) where the lab cannot run, except under CI
//! (`CI=true`), where that fails.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddrV4,
    process::{Child, Stdio},
};

use dex_netlab::{Host, Lab, Nat};

/// A lab, or `None` (the test is skipped) where labs cannot run outside CI.
fn lab() -> Option<Lab> {
    Lab::for_test()
}

/// Accepts one connection on `port` of `host` and prints the peer's address.
const SERVE: &str = "import socket,sys
s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(('0.0.0.0',int(sys.argv[1])));s.listen()
print('listening',flush=True)
c,a=s.accept();print('%s:%d'%a,flush=True)";

/// Connects from local port `argv[3]` to `argv[1]:argv[2]` within 2 s; prints `ok` or the
/// error's name.
const CONNECT: &str = "import socket,sys
s=socket.socket();s.settimeout(2)
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',int(sys.argv[3])))
try:
  s.connect((sys.argv[1],int(sys.argv[2])));print('ok')
except Exception as e: print(type(e).__name__)";

/// A probe server, killed when dropped.
struct Server(Child, BufReader<std::process::ChildStdout>);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server on `host`, ready (listening) when this returns.
fn serve(lab: &Lab, host: &Host, port: u16) -> Server {
    let mut child = lab
        .command(host, "python3")
        .args(["-c", SERVE, &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    out.read_line(&mut line).expect("the server's first line");
    assert_eq!(line.trim(), "listening");
    Server(child, out)
}

/// Whom the server saw.
fn seen(mut server: Server) -> SocketAddrV4 {
    let mut line = String::new();
    server.1.read_line(&mut line).expect("the peer's address");
    line.trim().parse().expect("an address")
}

/// Tries to connect from `from` (local port `local`) to `to:port`: `ok` or an error name.
fn connect(lab: &Lab, from: &Host, to: &str, port: u16, local: u16) -> String {
    let output = lab
        .command(from, "python3")
        .args(["-c", CONNECT, to, &port.to_string(), &local.to_string()])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A home host behind a port-preserving NAT reaches a public host, which sees the
/// router's address and the host's own source port; nothing on the internet reaches the
/// home host, and two home hosts cannot reach each other directly.
#[test]
fn a_home_host_reaches_out_and_nothing_reaches_in() {
    let Some(mut lab) = lab() else { return };
    let public = lab.public_host("pub").unwrap();
    let home = lab.home_host("home", Nat::PortPreserving).unwrap();
    let other = lab.home_host("other", Nat::PortPreserving).unwrap();
    assert_ne!(home.public_ip, other.public_ip);

    let server = serve(&lab, &public, 9000);
    assert_eq!(
        connect(&lab, &home, &public.ip.to_string(), 9000, 40_001),
        "ok"
    );
    let peer = seen(server);
    assert_eq!(*peer.ip(), home.public_ip, "the router's address");
    assert_eq!(peer.port(), 40_001, "the host's port, kept");

    // Inbound: neither to the private address nor to the router's public one.
    let _server = serve(&lab, &home, 9001);
    for address in [home.ip, home.public_ip] {
        assert_ne!(
            connect(&lab, &public, &address.to_string(), 9001, 40_002),
            "ok"
        );
        assert_ne!(
            connect(&lab, &other, &address.to_string(), 9001, 40_003),
            "ok"
        );
    }
}

/// Behind a random-port NAT a host's source port is not kept (what defeats hole
/// punching).
#[test]
fn a_random_port_nat_does_not_keep_source_ports() {
    let Some(mut lab) = lab() else { return };
    let public = lab.public_host("pub").unwrap();
    let home = lab.home_host("home", Nat::RandomPort).unwrap();
    let mut ports = Vec::new();
    for local in [41_001, 41_002, 41_003] {
        let server = serve(&lab, &public, 9000);
        assert_eq!(
            connect(&lab, &home, &public.ip.to_string(), 9000, local),
            "ok"
        );
        let peer = seen(server);
        assert_eq!(*peer.ip(), home.public_ip);
        ports.push((local, peer.port()));
    }
    // Each is random: all three landing on their own port is a 1 in 2^45 chance.
    assert!(ports.iter().any(|(local, seen)| local != seen), "{ports:?}");
}

/// A cut link carries nothing until it is healed.
#[test]
fn a_cut_link_carries_nothing_until_healed() {
    let Some(mut lab) = lab() else { return };
    let a = lab.public_host("a").unwrap();
    let b = lab.public_host("b").unwrap();
    let _server = serve(&lab, &b, 9000);
    lab.cut(&b).unwrap();
    let cut = connect(&lab, &a, &b.ip.to_string(), 9000, 42_001);
    // Python names it `TimeoutError` (3.10 on) or `timeout`: no answer, not a refusal.
    assert!(matches!(cut.as_str(), "TimeoutError" | "timeout"), "{cut}");
    lab.heal(&b).unwrap();
    // The link is up at once, but `a` remembers b as unreachable (its neighbour entry
    // failed while the link was down) until it asks again: retried, within a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut local = 42_002;
    loop {
        let healed = connect(&lab, &a, &b.ip.to_string(), 9000, local);
        if healed == "ok" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {healed} 20 s after the heal"
        );
        local += 1;
    }
}

/// Namespaces are gone when the lab is dropped.
#[test]
fn a_dropped_lab_leaves_nothing() {
    let Some(mut lab) = lab() else { return };
    let host = lab.home_host("home", Nat::PortPreserving).unwrap();
    let namespace = host.namespace.clone();
    let exists = |name: &str| std::path::Path::new("/run/netns").join(name).exists();
    assert!(exists(&namespace));
    drop(lab);
    assert!(!exists(&namespace));
    assert!(!exists(&format!("{namespace}-gw")));
}

/// A shaped link still carries traffic (its rate is the kernel's business: `tc tbf`).
#[test]
fn a_shaped_link_still_carries_traffic() {
    let Some(mut lab) = lab() else { return };
    let a = lab.public_host("a").unwrap();
    let b = lab.public_host("b").unwrap();
    lab.shape(&b, 1_000).unwrap();
    let server = serve(&lab, &b, 9000);
    assert_eq!(connect(&lab, &a, &b.ip.to_string(), 9000, 43_001), "ok");
    assert_eq!(*seen(server).ip(), a.ip);
}

/// Work run `within` a host has the host's network: its address can be bound there and
/// not outside, and a panic inside comes back out.
#[test]
fn work_within_a_host_has_its_network() {
    let Some(mut lab) = lab() else { return };
    let host = lab.public_host("pub").unwrap();
    let bound = host
        .within(|| std::net::TcpListener::bind((host.ip, 0)).map(|l| l.local_addr().unwrap()))
        .unwrap()
        .expect("the host's address is bindable inside it");
    assert_eq!(bound.ip(), std::net::IpAddr::V4(host.ip));
    assert!(
        std::net::TcpListener::bind((host.ip, 0)).is_err(),
        "not outside"
    );
    let panicked = std::panic::catch_unwind(|| host.within(|| panic!("inside")));
    assert!(panicked.is_err());
}
