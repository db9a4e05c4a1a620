//! Books under churn and over a thin link, in the network lab (crates/netlab): real dexd
//! relay nodes (no chains: they verify, book and gossip), each on a public host of its own
//! with real sockets between hosts, driven over their HTTP APIs like any client. Skipped
//! where labs cannot run, except under CI (`CI=true`), where that fails.
//!
//! Both tests compare books by the digest the book route answers (`digest`, the
//! `orders_digest` of the visible orders) with the digest of the orders the test knows to
//! be live, computed here from the signed orders.

use std::{
    collections::VecDeque,
    process::Command,
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::{Duration, Instant},
};

use dex_netlab::{Host, Lab};
use dex_primitives::{B256, Side, SignedOrder, TraderKey};
use dex_test_utils::{HOUR_MS, OrderBuilder};

use crate::{
    harness::{Dexd, node_config, now_ms},
    lab::{address, lab_p2p},
};

/// What these nodes log: info (debug from twenty nodes under load is a lot of disk).
const LOG: &str = "info";

/// The settings of these nodes: the lab's `[p2p]`; heartbeats every 3 s instead of 30 s,
/// and a sync of a maker's orders at most every 2.5 s instead of 30 s when its heartbeat's
/// root differs (`node_config` ends with its `[node]` section, so these lines land there).
/// A node that starts holds the orders it synced suspended until it hears their maker, and
/// repairs what gossip did not bring it (orders, cancels) by those syncs, one heartbeat
/// after another (a node just restarted is out of most gossip meshes for a while: its
/// peers' prune backoff outlives it, so some heartbeats miss it). With the defaults a
/// repair can take up to a minute, twice the convergence deadline.
fn config() -> String {
    node_config(&lab_p2p(""), LOG) + "alive_interval = \"3s\"\nroot_sync_cooldown = \"2500ms\"\n"
}

/// SplitMix64: a small seeded generator, so that a run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..high`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

/// An unsigned environment variable, or `default`.
fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|value| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{name} is not a number: {value:?}"))
        })
        .unwrap_or(default)
}

/// Polls `check` every 200 ms until it returns `Ok`, or answers its last `Err` after
/// `deadline`.
fn within<T, E>(deadline: Duration, mut check: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let start = Instant::now();
    loop {
        match check() {
            Ok(value) => return Ok(value),
            Err(err) if start.elapsed() >= deadline => return Err(err),
            Err(_) => thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// The digest of a set of signed, never updated orders: each at its full quantity.
fn digest_of<'a>(orders: impl IntoIterator<Item = &'a SignedOrder>) -> B256 {
    dex_book::orders_digest(
        orders
            .into_iter()
            .map(|order| (order.order.id(), order.order.quantity)),
    )
}

/// Posts `order` on `node` (its own trader's order), which must accept it.
fn post(node: &Dexd, order: &SignedOrder) {
    let body = serde_json::to_string(order).expect("an order serializes");
    let accepted = node
        .within(|client| client.post_signed_order_json(&body))
        .unwrap_or_else(|err| panic!("posting an order: {err}"));
    assert_eq!(accepted.order_id, order.order.id());
}

/// A node's trader, to sign orders for it without asking the node each time.
struct Trader {
    key: TraderKey,
    peer: String,
}

impl Trader {
    fn of(node: &Dexd) -> Trader {
        Trader {
            key: node.trader_key(),
            peer: node.info().peer_id,
        }
    }

    /// An order of this trader on its node, created now, valid for an hour.
    fn order(&self, side: Side, price: u64, quantity: u64, nonce: u64) -> SignedOrder {
        let now = now_ms();
        OrderBuilder::new()
            .maker(&self.key)
            .peer(&self.peer)
            .side(side)
            .price(price)
            .quantity(quantity)
            .nonce(nonce)
            .created_at(now)
            .expires_at(now + HOUR_MS)
            .sign()
    }
}

/// The resident memory of a running process, in KiB (`VmRSS` in /proc/<pid>/status).
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("its status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

// --- churn ---------------------------------------------------------------------------

/// Hosts of the churn test, each running a node.
const CHURN_HOSTS: usize = 20;
/// Nodes 0 and 1 are the bootstrap nodes; they are never restarted.
const BOOTSTRAPS: usize = 2;
/// Nodes 2..2+QUOTERS carry the market maker's quotes; they are not restarted either (see
/// the test's doc).
const QUOTERS: usize = 3;
/// Open quotes per quoting node; each round adds one and cancels the oldest beyond these.
const QUOTES_PER_NODE: usize = 4;
/// One quoting round (a new order and a cancel) on each quoting node this often.
const QUOTE_EVERY: Duration = Duration::from_millis(200);
/// Every node must hold the live quotes this soon after the churn stops.
const CONVERGENCE: Duration = Duration::from_secs(30);

/// How a node is stopped before it starts again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGKILL: nothing flushed, connections cut without a word.
    Kill,
    /// SIGTERM: dexd's graceful shutdown; it must exit with 0.
    Term,
}

/// One planned restart: at `at` after the churn starts, node `node` is stopped `how`, stays
/// down for `down`, and starts again on its data dir.
#[derive(Debug, Clone, Copy)]
struct Restart {
    at: Duration,
    node: usize,
    how: Stop,
    down: Duration,
}

/// The restarts of a churn of `length`, from `seed`: one every 2 to 5 s, of a node among
/// `restartable` not among the last three picked (so that its previous restart, at least
/// 6 s earlier, is normally over), half of them with SIGKILL, each down for up to 3 s.
fn plan(seed: u64, length: Duration, restartable: &[usize]) -> Vec<Restart> {
    let mut rng = Rng(seed);
    let mut plan: Vec<Restart> = Vec::new();
    let mut at = Duration::ZERO;
    loop {
        at += Duration::from_millis(rng.range(2_000, 5_000));
        if at >= length {
            return plan;
        }
        let recent: Vec<usize> = plan.iter().rev().take(3).map(|r| r.node).collect();
        let candidates: Vec<usize> = restartable
            .iter()
            .copied()
            .filter(|node| !recent.contains(node))
            .collect();
        let node = candidates[rng.range(0, candidates.len() as u64) as usize];
        let how = if rng.range(0, 2) == 0 {
            Stop::Kill
        } else {
            Stop::Term
        };
        let down = Duration::from_millis(rng.range(0, 3_000));
        plan.push(Restart {
            at,
            node,
            how,
            down,
        });
    }
}

/// Stops `node` as `restart` says and starts it again on its data dir after `restart.down`.
fn restart(mut node: Dexd, restart: Restart, bootstrap: &[String]) -> Dexd {
    if restart.how == Stop::Term {
        let sent = Command::new("kill")
            .args(["-TERM", &node.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM sent to dexd {}", node.pid());
        assert_eq!(node.wait_exit(), Some(0), "dexd exits with 0 on SIGTERM");
    }
    // (SIGKILL: `restart_with` kills it.) Down for a while: gossip goes on without it.
    thread::sleep(restart.down);
    node.restart_with(bootstrap)
}

/// Sets its flag when dropped, also while unwinding from a panic.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A market maker's quotes on one node: each round one new order (bids and asks in turn,
/// far apart so that nothing crosses) and a cancel of the oldest beyond
/// [`QUOTES_PER_NODE`]. It knows exactly which of its orders are live: those posted (201)
/// and not cancelled (200).
struct Quoter {
    trader: Trader,
    live: VecDeque<SignedOrder>,
    rng: Rng,
    nonce: u64,
    posted: u64,
    cancelled: u64,
}

impl Quoter {
    fn new(node: &Dexd, seed: u64) -> Quoter {
        Quoter {
            trader: Trader::of(node),
            live: VecDeque::new(),
            rng: Rng(seed),
            nonce: 0,
            posted: 0,
            cancelled: 0,
        }
    }

    fn round(&mut self, node: &Dexd) {
        self.nonce += 1;
        let (side, price) = if self.nonce.is_multiple_of(2) {
            (Side::Buy, self.rng.range(240_000, 245_000))
        } else {
            (Side::Sell, self.rng.range(255_000, 260_000))
        };
        let quantity = self.rng.range(1, 1_000);
        let order = self.trader.order(side, price, quantity, self.nonce);
        post(node, &order);
        self.posted += 1;
        self.live.push_back(order);
        if self.live.len() > QUOTES_PER_NODE {
            let oldest = self.live.pop_front().expect("more than one quote");
            let id = oldest.order.id();
            let cancelled = node
                .within(|client| client.cancel_order(id))
                .unwrap_or_else(|err| panic!("cancelling a quote: {err}"));
            assert_eq!(cancelled.order_id, id);
            self.cancelled += 1;
        }
    }

    /// Rounds every [`QUOTE_EVERY`] (or as fast as the node answers) until `stop`.
    fn run(&mut self, node: &Dexd, stop: &AtomicBool) {
        let start = Instant::now();
        let mut rounds = 0u32;
        while !stop.load(Ordering::Relaxed) {
            self.round(node);
            rounds += 1;
            if let Some(wait) = (QUOTE_EVERY * rounds).checked_sub(start.elapsed()) {
                thread::sleep(wait);
            }
        }
    }
}

/// A node of the churn, up or being restarted.
enum Slot {
    Up(Box<Dexd>),
    Restarting(thread::JoinHandle<Dexd>),
    /// Only while being moved between the two.
    Moving,
}

impl Slot {
    /// Waits for a restart to finish; the node, up.
    fn settle(&mut self) -> &Dexd {
        if let Slot::Restarting(_) = self {
            let Slot::Restarting(handle) = std::mem::replace(self, Slot::Moving) else {
                unreachable!("matched above");
            };
            let node = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            *self = Slot::Up(Box::new(node));
        }
        match self {
            Slot::Up(node) => node,
            _ => unreachable!("settled above"),
        }
    }
}

/// Every node of the churn test, in host order, once up.
fn every_node<'a>(
    bootstraps: &'a [Dexd],
    quoting: &'a [Dexd],
    slots: &'a mut [Slot],
) -> Vec<&'a Dexd> {
    bootstraps
        .iter()
        .chain(quoting)
        .chain(slots.iter_mut().map(Slot::settle))
        .collect()
}

/// The indexes of `nodes` whose book digest is not `expected`, all asked at once (one by
/// one, twenty answers on a loaded machine take seconds).
fn behind(nodes: &[&Dexd], expected: B256) -> Vec<usize> {
    thread::scope(|scope| {
        let digests: Vec<_> = nodes
            .iter()
            .map(|node| scope.spawn(move || node.digest()))
            .collect();
        digests
            .into_iter()
            .enumerate()
            .filter_map(|(index, digest)| {
                (digest.join().expect("a digest") != expected).then_some(index)
            })
            .collect()
    })
}

/// Twenty public hosts, each running a relay dexd; two bootstrap nodes that every node is
/// given, and Kademlia to find the rest. A market maker quotes on three nodes, every 200 ms
/// on each a new order and a cancel, while for `DEX_CHURN_SECS` (default 120 s) the other
/// fifteen are restarted on their data dirs, one every 2 to 5 s, by SIGKILL or by SIGTERM
/// (which must exit cleanly), down for up to 3 s: which node, when, how and for how long
/// come from `DEX_CHURN_SEED` (a fixed default) and are printed. Once the last restarted
/// node is back the quoting stops, and within 30 s every node's book digest is the digest
/// of the quotes the maker knows to be live, and every node offers exactly those orders.
///
/// A restarted node misses orders and cancels (gossip while it was down or out of the
/// mesh); heartbeats every 3 s (see [`config`]) and the syncs they cause repair both. The
/// test takes about `DEX_CHURN_SECS` plus a minute; the quoting rate reached is printed
/// (a loaded machine answers fewer rounds).
///
/// The quoting and bootstrap nodes are not restarted: a relay node keeps its own orders in
/// memory only, so a quote posted or cancelled just before a SIGKILL may not have left the
/// node, and the test could no longer know which book every node must reach.
#[test]
fn after_churn_under_quoting_load_every_book_converges_to_the_live_quotes() {
    let Some(mut lab) = Lab::for_test() else {
        return;
    };
    let churn = Duration::from_secs(env_u64("DEX_CHURN_SECS", 120));
    let seed = env_u64("DEX_CHURN_SEED", 0x00c0_ffee);
    let first_churned = BOOTSTRAPS + QUOTERS;
    let plan = plan(
        seed,
        churn,
        &(first_churned..CHURN_HOSTS).collect::<Vec<_>>(),
    );
    eprintln!(
        "churn: {} s, seed {seed:#x}, {} restarts planned",
        churn.as_secs(),
        plan.len()
    );
    for restart in &plan {
        eprintln!(
            "  at {:>6.1} s node {:>2} {:?}, down {:.1} s",
            restart.at.as_secs_f64(),
            restart.node,
            restart.how,
            restart.down.as_secs_f64()
        );
    }

    let hosts: Vec<Host> = (0..CHURN_HOSTS)
        .map(|index| lab.public_host(&format!("n{index}")).expect("a lab host"))
        .collect();
    let config = config();
    let first = Dexd::start_on(&hosts[0], &config, None, &[], &[]);
    let mut bootstrap = vec![address(&hosts[0], &first)];
    let second = Dexd::start_on(&hosts[1], &config, None, &bootstrap, &[]);
    bootstrap.push(address(&hosts[1], &second));
    let bootstraps = [first, second];
    // The others start at once (each waits for its API on a thread of its own).
    let mut others: Vec<Dexd> = thread::scope(|scope| {
        let starting: Vec<_> = hosts[BOOTSTRAPS..]
            .iter()
            .map(|host| scope.spawn(|| Dexd::start_on(host, &config, None, &bootstrap, &[])))
            .collect();
        starting
            .into_iter()
            .map(|start| start.join().expect("a node starts"))
            .collect()
    });
    let mut slots: Vec<Slot> = others
        .split_off(QUOTERS)
        .into_iter()
        .map(|node| Slot::Up(Box::new(node)))
        .collect();
    let quoting = others;
    let mut quoters: Vec<Quoter> = quoting
        .iter()
        .enumerate()
        .map(|(index, node)| Quoter::new(node, seed ^ (index as u64 + 1)))
        .collect();
    let expected = |quoters: &[Quoter]| digest_of(quoters.iter().flat_map(|q| &q.live));

    // A first quote on each quoting node reaches every node before the churn starts.
    for (quoter, node) in quoters.iter_mut().zip(&quoting) {
        quoter.round(node);
    }
    let first_quotes = expected(&quoters);
    if let Err(late) = within(Duration::from_secs(60), || {
        let late = behind(&every_node(&bootstraps, &quoting, &mut slots), first_quotes);
        if late.is_empty() { Ok(()) } else { Err(late) }
    }) {
        panic!("nodes {late:?} never got the first quotes");
    }

    // The churn: the quoters on threads of their own, each restart on a thread of its own,
    // this thread following the plan.
    let stop = AtomicBool::new(false);
    let start = Instant::now();
    let mut restarts = [0usize; 2];
    thread::scope(|scope| {
        let running: Vec<_> = quoters
            .iter_mut()
            .zip(&quoting)
            .map(|(quoter, node)| {
                let stop = &stop;
                scope.spawn(move || quoter.run(node, stop))
            })
            .collect();
        // A restart that fails (a node not exiting on SIGTERM, not starting) panics on this
        // thread; the scope then waits for the quoters, which must stop, or the test hangs
        // instead of failing.
        let _stop_quoters = StopOnDrop(&stop);
        for planned in &plan {
            if let Some(wait) = planned.at.checked_sub(start.elapsed()) {
                thread::sleep(wait);
            }
            let slot = &mut slots[planned.node - first_churned];
            // Its previous restart is normally over (the plan spaces them); if not, this
            // waits for it.
            slot.settle();
            let Slot::Up(node) = std::mem::replace(slot, Slot::Moving) else {
                unreachable!("settled above");
            };
            let (planned, bootstrap) = (*planned, bootstrap.clone());
            restarts[usize::from(planned.how == Stop::Term)] += 1;
            *slot = Slot::Restarting(thread::spawn(move || restart(*node, planned, &bootstrap)));
        }
        if let Some(wait) = churn.checked_sub(start.elapsed()) {
            thread::sleep(wait);
        }
        // The churn is over when every restarted node is back; the quoting stops then.
        for slot in &mut slots {
            slot.settle();
        }
        stop.store(true, Ordering::Relaxed);
        for quoter in running {
            quoter
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
    let live: usize = quoters.iter().map(|quoter| quoter.live.len()).sum();
    eprintln!(
        "churn over after {:.1} s: {} SIGKILL and {} SIGTERM restarts; {} quotes posted, {} \
         cancelled, {live} live",
        start.elapsed().as_secs_f64(),
        restarts[0],
        restarts[1],
        quoters.iter().map(|quoter| quoter.posted).sum::<u64>(),
        quoters.iter().map(|quoter| quoter.cancelled).sum::<u64>(),
    );
    assert_eq!(restarts.iter().sum::<usize>(), plan.len());
    assert_eq!(live, QUOTERS * QUOTES_PER_NODE);

    let expected = expected(&quoters);
    let settled = Instant::now();
    let mut last_late = Vec::new();
    let converged = within(CONVERGENCE, || {
        let late = behind(&every_node(&bootstraps, &quoting, &mut slots), expected);
        if late != last_late {
            eprintln!(
                "{:>5.1} s after the churn, behind: {late:?}",
                settled.elapsed().as_secs_f64()
            );
            last_late = late.clone();
        }
        if late.is_empty() { Ok(()) } else { Err(late) }
    });
    if let Err(late) = converged {
        let nodes = every_node(&bootstraps, &quoting, &mut slots);
        let quoting_peers: Vec<String> = quoting.iter().map(|node| node.info().peer_id).collect();
        for index in &late {
            let node = nodes[*index];
            let peers = format!("{:?}", node.within(|client| client.peers()));
            eprintln!(
                "node {index}: digest {}, {} visible, {} suspended, {} root syncs, {} orders \
                 unlisted, {} peers, connected to the quoting nodes: {:?}",
                node.digest(),
                node.metric("dex_book_orders", r#"state="visible""#),
                node.metric("dex_book_orders", r#"state="suspended""#),
                node.metric("dex_node_root_syncs_total", ""),
                node.metric("dex_node_orders_unlisted_total", ""),
                node.metric("dex_peers", ""),
                quoting_peers
                    .iter()
                    .map(|peer| peers.contains(peer.as_str()))
                    .collect::<Vec<_>>(),
            );
        }
        panic!(
            "nodes {late:?} do not hold the live quotes (digest {expected}) {} s after the churn",
            CONVERGENCE.as_secs()
        );
    }
    eprintln!(
        "every book holds the live quotes {:.1} s after the churn",
        settled.elapsed().as_secs_f64()
    );
    let nodes = every_node(&bootstraps, &quoting, &mut slots);
    eprintln!(
        "orders unlisted (ghosts of missed cancels withdrawn) per node: {:?}; peers per node: \
         {:?}",
        nodes
            .iter()
            .map(|node| node.metric("dex_node_orders_unlisted_total", ""))
            .collect::<Vec<_>>(),
        nodes
            .iter()
            .map(|node| node.metric("dex_peers", ""))
            .collect::<Vec<_>>(),
    );
    // Real values: each node offers exactly the live quotes.
    for node in every_node(&bootstraps, &quoting, &mut slots) {
        assert_eq!(
            node.metric("dex_book_orders", r#"state="visible""#),
            live as f64
        );
    }
}

// --- thin link -----------------------------------------------------------------------

/// Orders per second published in the thin-link test, in all.
const THIN_RATE: u64 = 100;
/// For this long.
const THIN_SECS: u64 = 20;
/// What the internet sends to the thin host, in kbit/s.
const THIN_KBIT: u32 = 1_000;
/// Nodes publishing (each its own maker), the thin node not among them.
const PUBLISHERS: usize = 4;
/// Threads posting for each publishing node: an answer may take a while on a loaded
/// machine, and the rate must not depend on it.
const POSTERS_PER_NODE: usize = 5;
/// The thin node's resident memory must stay under this (KiB) throughout: about four times
/// what it peaks at (57 MiB, a debug build), far below what a backlog without bound would
/// take.
const THIN_RSS_BOUND_KIB: u64 = 256 * 1024;
/// A node that keeps up holds every order this soon after the publishing stops. All the
/// gossip of the test, every order from each of the four peers, is about 6.4 MB: through
/// 1 Mbit/s, 51 s from the first order, 31 s after the last. Whatever has not arrived by
/// then was dropped on the way.
const KEEP_UP: Duration = Duration::from_secs(60);

/// Bytes a host has received from the internet so far (its `wan` link's counter).
fn received_bytes(host: &Host) -> u64 {
    let output = host
        .command("cat")
        .arg("/sys/class/net/wan/statistics/rx_bytes")
        .output()
        .expect("cat runs");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no rx_bytes: {output:?}"))
}

/// Drop counters of a node: what it or its gossipsub dropped, by name.
fn drops(node: &Dexd) -> Vec<(&'static str, f64)> {
    [
        "dex_network_gossip_send_dropped_total",
        "dex_network_gossip_control_dropped_total",
        "dex_network_gossip_slow_peers_total",
        "dex_network_gossip_rate_limited_total",
        "dex_network_gossip_queue_full_total",
        "dex_network_events_dropped_total",
    ]
    .into_iter()
    .map(|name| (name, node.metric(name, "")))
    .collect()
}

/// A host whose link from the internet is shaped to 1 Mbit/s (tc tbf), among four public
/// nodes that publish 100 orders/s in all for 20 s (2,000 orders, signed beforehand, posted
/// on schedule by several threads per node). Throughout, the thin node's resident memory
/// (`VmRSS`) stays under a fixed bound. Then either it keeps up (within 60 s of the end its
/// book digest is that of all 2,000 orders, like every other node's), or it fell behind,
/// and the drops are counted: gossipsub messages its peers could not send it
/// (`dex_network_gossip_send_dropped_total`, from gossipsub's slow-peer reports) or that it
/// dropped itself. The test prints which happened, the rate reached, the memory and the
/// counters.
#[test]
fn a_node_behind_a_thin_link_keeps_up_or_falls_behind_counted_and_bounded() {
    let Some(mut lab) = Lab::for_test() else {
        return;
    };
    let config = config();
    let hosts: Vec<Host> = (0..PUBLISHERS)
        .map(|index| lab.public_host(&format!("p{index}")).expect("a lab host"))
        .collect();
    let thin_host = lab.public_host("thin").expect("a lab host");
    // Each node is given every node started before it: they all connect to each other
    // (Kademlia would find them too, but not by a time the test can rely on).
    let mut bootstrap = Vec::new();
    let mut publishers = Vec::new();
    for host in &hosts {
        let node = Dexd::start_on(host, &config, None, &bootstrap, &[]);
        bootstrap.push(address(host, &node));
        publishers.push(node);
    }
    let thin = Dexd::start_on(&thin_host, &config, None, &bootstrap, &[]);
    lab.shape(&thin_host, THIN_KBIT).expect("the link shaped");
    crate::harness::wait_for("every node connected to the others", || {
        publishers
            .iter()
            .chain([&thin])
            .all(|node| node.metric("dex_peers", "") >= PUBLISHERS as f64)
            .then_some(())
    });

    // Every order signed beforehand: order `g` is due at `g` × 10 ms, on node `g % 4`.
    let total = THIN_RATE * THIN_SECS;
    let traders: Vec<Trader> = publishers.iter().map(Trader::of).collect();
    let mut rng = Rng(0x7417);
    let orders: Vec<SignedOrder> = (0..total)
        .map(|number| {
            let (side, price) = if rng.range(0, 2) == 0 {
                (Side::Buy, rng.range(200_000, 250_000))
            } else {
                (Side::Sell, rng.range(250_000, 300_000))
            };
            let trader = &traders[number as usize % PUBLISHERS];
            trader.order(side, price, rng.range(1, 1_000), number)
        })
        .collect();
    let expected = digest_of(&orders);
    let every = Duration::from_secs(1) / THIN_RATE as u32;

    let done = AtomicBool::new(false);
    let received_before = received_bytes(&thin_host);
    let start = Instant::now();
    let (max_rss_kib, published) = thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut max = 0;
            while !done.load(Ordering::Relaxed) {
                max = max.max(resident_kib(thin.pid()));
                thread::sleep(Duration::from_millis(250));
            }
            max
        });
        let posters: Vec<_> = (0..PUBLISHERS * POSTERS_PER_NODE)
            .map(|poster| {
                let (node, orders) = (&publishers[poster % PUBLISHERS], &orders);
                scope.spawn(move || {
                    for number in (poster..orders.len()).step_by(PUBLISHERS * POSTERS_PER_NODE) {
                        if let Some(wait) = (every * number as u32).checked_sub(start.elapsed()) {
                            thread::sleep(wait);
                        }
                        post(node, &orders[number]);
                    }
                })
            })
            .collect();
        for poster in posters {
            poster
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
        let published = start.elapsed();
        let ended = Instant::now();
        // Memory is watched through the catching up too.
        let caught_up = within(KEEP_UP, || {
            if thin.digest() == expected {
                Ok(ended.elapsed())
            } else {
                Err(())
            }
        });
        done.store(true, Ordering::Relaxed);
        let max = sampler.join().expect("the sampler");
        (max, (published, caught_up))
    });
    let (published, caught_up) = published;
    let received_kbit = (received_bytes(&thin_host) - received_before) as f64 * 8.0 / 1000.0;
    let link_kbit_s = received_kbit / start.elapsed().as_secs_f64();
    let rate = total as f64 / published.as_secs_f64();
    eprintln!(
        "thin link: {total} orders published in {:.1} s ({rate:.0}/s); the thin host \
         received {:.0} kbit in {:.1} s ({link_kbit_s:.0} kbit/s); the thin node's resident \
         memory peaked at {:.1} MiB",
        published.as_secs_f64(),
        received_kbit,
        start.elapsed().as_secs_f64(),
        max_rss_kib as f64 / 1024.0
    );
    // The shaper holds: nothing beyond its rate (and one burst) came in.
    assert!(
        link_kbit_s < f64::from(THIN_KBIT) * 1.1,
        "the thin host received {link_kbit_s:.0} kbit/s through a {THIN_KBIT} kbit/s link"
    );
    assert!(
        max_rss_kib < THIN_RSS_BOUND_KIB,
        "the thin node's memory went to {max_rss_kib} KiB"
    );
    // The other nodes, on fast links, have every order.
    for (index, node) in publishers.iter().enumerate() {
        crate::harness::wait_for(&format!("publisher {index} to hold every order"), || {
            (node.digest() == expected).then_some(())
        });
    }
    let thin_drops = drops(&thin);
    let peer_drops: Vec<_> = publishers.iter().map(drops).collect();
    eprintln!("thin node counters: {thin_drops:?}");
    for (index, counters) in peer_drops.iter().enumerate() {
        eprintln!("publisher {index} counters: {counters:?}");
    }
    match caught_up {
        Ok(after) => eprintln!(
            "the thin node kept up: every order {:.1} s after the publishing ended",
            after.as_secs_f64()
        ),
        Err(()) => {
            let held = thin.metric("dex_book_orders", r#"state="visible""#);
            eprintln!(
                "the thin node fell behind: {held} of {total} orders {} s after the \
                 publishing ended",
                KEEP_UP.as_secs()
            );
            // What it missed is counted: sent to it, or received by it.
            let counted: f64 = thin_drops
                .iter()
                .chain(peer_drops.iter().flatten())
                .filter(|(name, _)| *name != "dex_network_gossip_slow_peers_total")
                .map(|(_, value)| value)
                .sum();
            assert!(
                counted > 0.0,
                "the thin node fell behind with nothing counted"
            );
        }
    }
}
