//! In-process multi-node networks on loopback, for integration tests and benchmarks.
//!
//! Nodes listen on 127.0.0.1 with ephemeral ports, dial the topology a test chooses (no
//! mDNS, no Kademlia, so the topology is exactly what was dialed), use test-short liveness
//! timings, and are read through their handles. Every wait polls a condition with a
//! deadline; nothing sleeps a fixed time.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use dex_network::{
    Keypair, Multiaddr, NetworkConfig, NetworkEvent, NetworkHandle, PeerId, PeerView, with_peer,
};
use dex_node::{Clock, NodeConfig, NodeHandle, Registry, SystemClock};
use dex_primitives::{B256, MarketId, OrderId, TraderKey, UnixMillis};

use crate::{HOUR_MS, OrderBuilder, eth_usdc_id, markets, trader, wait_for};

/// The default deadline of waits.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The wall clock in unix ms (what the nodes' [`SystemClock`] reads).
pub fn now_ms() -> UnixMillis {
    SystemClock.now()
}

/// Which nodes dial which.
#[derive(Debug, Clone)]
pub enum Topology {
    /// Node i dials node i+1: each knows only its neighbours, messages hop n−1 times.
    Line,
    /// Every node dials every later node.
    Full,
    /// Nobody dials anybody; the test connects nodes itself.
    None,
    /// Node i dials node i−1 (so the graph is connected) and `dials − 1` other nodes chosen
    /// with a deterministic generator seeded by `seed`: a sparse mesh where messages hop.
    Sparse {
        /// Dials per node.
        dials: usize,
        /// Generator seed.
        seed: u64,
    },
    /// Exactly these dials `(from, to)`.
    Edges(Vec<(usize, usize)>),
}

impl Topology {
    /// The dials `(from, to)` of this topology for `n` nodes, without duplicates.
    pub fn edges(&self, n: usize) -> Vec<(usize, usize)> {
        let mut edges = BTreeSet::new();
        match self {
            Topology::Line => edges.extend((1..n).map(|i| (i - 1, i))),
            Topology::Full => {
                for i in 0..n {
                    edges.extend((i + 1..n).map(|j| (i, j)));
                }
            }
            Topology::None => {}
            Topology::Sparse { dials, seed } => {
                let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                let mut next = |bound: usize| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 33) as usize) % bound
                };
                for i in 1..n {
                    edges.insert((i, i - 1));
                    let mut made = 1;
                    let mut tries = 0;
                    while made < *dials && tries < 10 * dials {
                        tries += 1;
                        let j = next(n);
                        let pair = (i.min(j), i.max(j));
                        if j != i && !edges.contains(&(i, j)) && !edges.contains(&(j, i)) {
                            edges.insert((pair.1, pair.0));
                            made += 1;
                        }
                    }
                }
            }
            Topology::Edges(list) => edges.extend(list.iter().copied()),
        }
        edges.into_iter().collect()
    }
}

/// The test profile of a node: the test markets, one trader key (`trader(100 + index)`),
/// loopback networking, and short timings (heartbeat every 300 ms, silent after 2 s,
/// ticks every 50 ms, root syncs at most every 500 ms).
pub fn test_config(index: usize) -> NodeConfig {
    let mut config = NodeConfig::new(markets().clone(), vec![node_trader(index)]);
    config.network = NetworkConfig::loopback();
    config.liveness.alive_interval = Duration::from_millis(300);
    config.liveness.silent_after = Duration::from_secs(2);
    config.tick_interval = Duration::from_millis(50);
    config.sync.root_sync_cooldown = Duration::from_millis(500);
    config
}

/// The trader key of node `index` in test networks.
pub fn node_trader(index: usize) -> TraderKey {
    trader(100 + index as u64)
}

/// One node of a [`TestNetwork`].
#[derive(Debug)]
pub struct TestNode {
    /// Its handle, `None` while stopped.
    pub handle: Option<NodeHandle>,
    /// Its libp2p identity (kept across restarts).
    pub keypair: Keypair,
    /// Its peer id.
    pub peer_id: PeerId,
    /// Its configuration (kept across restarts).
    pub config: NodeConfig,
    /// Its trader key.
    pub trader: TraderKey,
    /// Its current listen address with `/p2p/<peer id>`.
    pub address: Multiaddr,
    /// The metric families of its current run (the node's, its network's and libp2p's),
    /// as dexd's `/metrics` serves them.
    pub registry: Arc<Registry>,
}

/// N nodes in one process.
#[derive(Debug)]
pub struct TestNetwork {
    /// The nodes, by index.
    pub nodes: Vec<TestNode>,
    /// The dials made at start (and repeated at restart).
    pub edges: Vec<(usize, usize)>,
}

async fn start_node(
    keypair: Keypair,
    config: NodeConfig,
) -> anyhow::Result<(NodeHandle, Multiaddr, Arc<Registry>)> {
    let seed = now_ms();
    let mut registry = Registry::default();
    let handle =
        dex_node::spawn(config, keypair, Arc::new(SystemClock), seed, &mut registry).await?;
    let address = handle
        .network()
        .listen_addrs()
        .await?
        .into_iter()
        .next()
        .context("node has no listen address")?;
    let address = with_peer(address, handle.peer_id());
    Ok((handle, address, Arc::new(registry)))
}

impl TestNetwork {
    /// Starts `n` nodes with [`test_config`] and dials `topology`, then waits until every
    /// dialed pair is connected and subscribed to each other's topics.
    pub async fn start(n: usize, topology: Topology) -> anyhow::Result<TestNetwork> {
        Self::start_with(n, topology, |_, _| {}).await
    }

    /// Like [`TestNetwork::start`], with `tweak` applied to each node's config first.
    pub async fn start_with(
        n: usize,
        topology: Topology,
        tweak: impl Fn(usize, &mut NodeConfig),
    ) -> anyhow::Result<TestNetwork> {
        let mut nodes = Vec::with_capacity(n);
        for index in 0..n {
            let mut config = test_config(index);
            tweak(index, &mut config);
            let trader = config
                .traders
                .first()
                .cloned()
                .context("test nodes have a trader key")?;
            let keypair = Keypair::generate_ed25519();
            let (handle, address, registry) = start_node(keypair.clone(), config.clone()).await?;
            nodes.push(TestNode {
                peer_id: handle.peer_id(),
                handle: Some(handle),
                keypair,
                config,
                trader,
                address,
                registry,
            });
        }
        let edges = topology.edges(n);
        let network = TestNetwork { nodes, edges };
        for &(from, to) in &network.edges {
            network.dial(from, to).await?;
        }
        network.wait_linked(&network.edges.clone()).await?;
        Ok(network)
    }

    /// The number of nodes (running or not).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The handle of a running node.
    pub fn node(&self, index: usize) -> anyhow::Result<&NodeHandle> {
        self.nodes
            .get(index)
            .and_then(|node| node.handle.as_ref())
            .with_context(|| format!("node {index} is not running"))
    }

    /// Handles of the running nodes.
    pub fn running(&self) -> impl Iterator<Item = &NodeHandle> {
        self.nodes.iter().filter_map(|node| node.handle.as_ref())
    }

    /// Node `from` dials node `to`.
    pub async fn dial(&self, from: usize, to: usize) -> anyhow::Result<()> {
        let address = self.nodes.get(to).context("no such node")?.address.clone();
        self.node(from)?.network().dial(address).await?;
        Ok(())
    }

    /// Waits until every pair is connected and each side sees the other subscribed to the
    /// first market's topic and in its mesh there (or its mesh is full).
    pub async fn wait_linked(&self, edges: &[(usize, usize)]) -> anyhow::Result<()> {
        let topic = dex_protocol::market_topic(&eth_usdc_id());
        for &(a, b) in edges {
            for (me, other) in [(a, b), (b, a)] {
                let handle = self.node(me)?.clone();
                let other_peer = self.nodes[other].peer_id;
                let topic = topic.clone();
                wait_for(
                    &format!("node {me} linked to node {other}"),
                    DEADLINE,
                    || {
                        let handle = handle.clone();
                        let topic = topic.clone();
                        async move {
                            handle
                                .network()
                                .peers(Some(topic))
                                .await
                                .is_ok_and(|view| linked(&view, &other_peer))
                        }
                    },
                )
                .await?;
            }
        }
        Ok(())
    }

    /// An order builder for node `index`: its trader as maker, its peer id, created now,
    /// valid for an hour.
    pub fn order(&self, index: usize) -> OrderBuilder {
        let node = &self.nodes[index];
        let now = now_ms();
        OrderBuilder::new()
            .maker(&node.trader)
            .peer(&node.peer_id.to_base58())
            .created_at(now)
            .expires_at(now + HOUR_MS)
    }

    /// Posts an order built by `builder` at node `index`.
    pub async fn post(&self, index: usize, builder: &OrderBuilder) -> anyhow::Result<OrderId> {
        Ok(self.node(index)?.post_order(builder.sign()).await?)
    }

    /// The book digests of `market` on every running node.
    pub async fn digests(&self, market: MarketId) -> anyhow::Result<Vec<B256>> {
        let mut digests = Vec::new();
        for handle in self.running() {
            digests.push(handle.digest(market).await?);
        }
        Ok(digests)
    }

    /// Waits until every running node has the same digest of `market`, and returns it.
    pub async fn wait_converged(
        &self,
        market: MarketId,
        deadline: Duration,
    ) -> anyhow::Result<B256> {
        wait_for("equal digests", deadline, || async {
            self.digests(market)
                .await
                .is_ok_and(|digests| digests.windows(2).all(|pair| pair[0] == pair[1]))
        })
        .await?;
        let digests = self.digests(market).await?;
        digests.first().copied().context("no running node")
    }

    /// Stops node `index` (its identity and config are kept for [`TestNetwork::restart`]).
    pub async fn stop(&mut self, index: usize) -> anyhow::Result<()> {
        let handle = self.nodes[index]
            .handle
            .take()
            .with_context(|| format!("node {index} is not running"))?;
        handle.shutdown().await;
        Ok(())
    }

    /// Starts node `index` again with the same identity and config, and dials its
    /// neighbours of the start topology.
    pub async fn restart(&mut self, index: usize) -> anyhow::Result<()> {
        let node = &self.nodes[index];
        if node.handle.is_some() {
            bail!("node {index} is running");
        }
        let (handle, address, registry) =
            start_node(node.keypair.clone(), node.config.clone()).await?;
        self.nodes[index].handle = Some(handle);
        self.nodes[index].address = address;
        self.nodes[index].registry = registry;
        let edges: Vec<(usize, usize)> = self
            .edges
            .iter()
            .filter(|(a, b)| *a == index || *b == index)
            .filter(|(a, b)| self.nodes[*a].handle.is_some() && self.nodes[*b].handle.is_some())
            .map(|&(a, b)| if a == index { (a, b) } else { (b, a) })
            .collect();
        for &(from, to) in &edges {
            self.dial(from, to).await?;
        }
        self.wait_linked(&edges).await
    }

    /// Stops every node.
    pub async fn shutdown(&mut self) {
        for node in &mut self.nodes {
            if let Some(handle) = node.handle.take() {
                handle.shutdown().await;
            }
        }
    }
}

/// Whether `view` (of one topic) shows `other` subscribed and in the mesh (or the mesh full).
fn linked(view: &PeerView, other: &PeerId) -> bool {
    view.subscribed.contains(other) && (view.mesh.contains(other) || view.mesh.len() >= 4)
}

/// Bare network instances (no node behind them) in a topology: the baseline of benchmarks
/// and the raw material of attack tests. Whoever holds the event receivers judges the
/// messages (or nobody does, and gossipsub drops them unvalidated).
#[derive(Debug)]
pub struct RawNetwork {
    /// The handles, by index.
    pub handles: Vec<NetworkHandle>,
    /// Their event receivers, to be taken by the test.
    pub events: Vec<Option<tokio::sync::mpsc::Receiver<NetworkEvent>>>,
    /// Their listen addresses with `/p2p/<peer id>`.
    pub addresses: Vec<Multiaddr>,
}

impl RawNetwork {
    /// Starts `n` instances with `config`, subscribes each to `topics`, dials `topology`
    /// and waits until every dialed pair sees the other subscribed to the first topic.
    pub async fn start(
        n: usize,
        topology: &Topology,
        config: &NetworkConfig,
        topics: &[String],
    ) -> anyhow::Result<RawNetwork> {
        let mut network = RawNetwork {
            handles: Vec::new(),
            events: Vec::new(),
            addresses: Vec::new(),
        };
        for _ in 0..n {
            let (handle, events) = dex_network::spawn(
                Keypair::generate_ed25519(),
                config.clone(),
                &mut dex_network::Registry::default(),
            )
            .await?;
            for topic in topics {
                handle.subscribe(topic.clone()).await?;
            }
            let address = handle
                .listen_addrs()
                .await?
                .into_iter()
                .next()
                .context("no listen address")?;
            network.addresses.push(with_peer(address, handle.peer_id()));
            network.handles.push(handle);
            network.events.push(Some(events));
        }
        let edges = topology.edges(n);
        for &(from, to) in &edges {
            network.handles[from]
                .dial(network.addresses[to].clone())
                .await?;
        }
        let Some(topic) = topics.first() else {
            return Ok(network);
        };
        for &(a, b) in &edges {
            for (me, other) in [(a, b), (b, a)] {
                let handle = network.handles[me].clone();
                let other_peer = network.handles[other].peer_id();
                wait_for(&format!("raw {me} linked to raw {other}"), DEADLINE, || {
                    let handle = handle.clone();
                    let topic = topic.clone();
                    async move {
                        handle
                            .peers(Some(topic))
                            .await
                            .is_ok_and(|view| linked(&view, &other_peer))
                    }
                })
                .await?;
            }
        }
        Ok(network)
    }

    /// Stops every instance.
    pub async fn shutdown(&self) {
        for handle in &self.handles {
            handle.shutdown().await;
        }
    }
}
