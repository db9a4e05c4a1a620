//! Fixtures and builders shared by the tests of the p2pdex crates.
//!
//! Everything here is deterministic: keys are derived from small integers, times are fixed
//! constants, so a failing test reproduces exactly.

use std::sync::LazyLock;

#[cfg(feature = "anvil")]
pub mod anvil;
#[cfg(feature = "harness")]
pub mod harness;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod process;
pub mod wait;

pub use wait::{WaitError, wait_for, wait_for_blocking};

use dex_primitives::{
    Address, Lots, MarketDef, MarketId, Markets, Order, Side, SignedOrder, Ticks, TraderKey, U256,
    UnixMillis, Update, ValidationRules, VerifiedOrder, VerifiedUpdate,
};

/// anvil's well-known development keys (public; they hold no real funds anywhere).
pub const ANVIL_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// A plausible base58 libp2p peer id for orders built in tests.
pub const TEST_PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

/// A fixed "now" for tests that do not care about time: 2025-11-26T07:33:20Z.
pub const T0: UnixMillis = 1_764_142_400_000;

/// One hour in milliseconds.
pub const HOUR_MS: u64 = 60 * 60 * 1000;

/// The anvil development key number `index` (0..10).
pub fn anvil_key(index: usize) -> TraderKey {
    ANVIL_KEYS[index]
        .parse()
        .expect("the anvil development keys are valid")
}

/// A deterministic trader key for any `index` (secret = index + 1, big-endian).
pub fn trader(index: u64) -> TraderKey {
    let mut bytes = [0u8; 32];
    bytes[24..].copy_from_slice(&(index + 1).to_be_bytes());
    TraderKey::from_bytes(&bytes).expect("small non-zero scalars are valid keys")
}

/// The devnet's ETH/USDC market: ETH native on chain 31337, USDC (6 decimals) on 31338,
/// lot 0.001 ETH, tick 0.01 USDC.
pub fn eth_usdc() -> MarketDef {
    MarketDef {
        base_chain: 31337,
        base_token: Address::ZERO,
        quote_chain: 31338,
        quote_token: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
            .parse()
            .expect("a valid address literal"),
        base_per_lot: U256::from(10u64.pow(15)),
        quote_per_tick_lot: U256::from(10u64),
        base_symbol: "ETH".into(),
        quote_symbol: "USDC".into(),
        base_decimals: 18,
        quote_decimals: 6,
    }
}

/// A second market, native coin on both chains (lot 0.01, tick 0.0001).
pub fn eth_eth2() -> MarketDef {
    MarketDef {
        base_chain: 31337,
        base_token: Address::ZERO,
        quote_chain: 31338,
        quote_token: Address::ZERO,
        base_per_lot: U256::from(10u64.pow(16)),
        quote_per_tick_lot: U256::from(10u64.pow(12)),
        base_symbol: "ETH".into(),
        quote_symbol: "ETH2".into(),
        base_decimals: 18,
        quote_decimals: 18,
    }
}

static MARKETS: LazyLock<Markets> =
    LazyLock::new(|| Markets::new([eth_usdc(), eth_eth2()]).expect("the test markets are valid"));

/// The test markets: [`eth_usdc`] and [`eth_eth2`].
pub fn markets() -> &'static Markets {
    &MARKETS
}

/// The id of [`eth_usdc`].
pub fn eth_usdc_id() -> MarketId {
    eth_usdc().params().id()
}

/// Builds orders with sensible defaults: a sell of 10 lots at 100 ticks in ETH/USDC by
/// trader 0, created at [`T0`], valid for one hour.
#[derive(Debug, Clone)]
pub struct OrderBuilder {
    order: Order,
    key: TraderKey,
}

impl Default for OrderBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderBuilder {
    /// The defaults described on the type.
    pub fn new() -> Self {
        let key = trader(0);
        OrderBuilder {
            order: Order {
                market: eth_usdc_id(),
                side: Side::Sell,
                price: Ticks(100),
                quantity: Lots(10),
                min_fill: Lots(1),
                maker: key.address(),
                peer: TEST_PEER.into(),
                nonce: 0,
                created_at: T0,
                expires_at: T0 + HOUR_MS,
            },
            key,
        }
    }

    /// Signs with `key` and names its address as maker.
    pub fn maker(mut self, key: &TraderKey) -> Self {
        self.order.maker = key.address();
        self.key = key.clone();
        self
    }

    /// Sets the market.
    pub fn market(mut self, market: MarketId) -> Self {
        self.order.market = market;
        self
    }

    /// Sets the side.
    pub fn side(mut self, side: Side) -> Self {
        self.order.side = side;
        self
    }

    /// Sets the price in ticks.
    pub fn price(mut self, ticks: u64) -> Self {
        self.order.price = Ticks(ticks);
        self
    }

    /// Sets the quantity in lots (and lowers `minFill` to it if needed).
    pub fn quantity(mut self, lots: u64) -> Self {
        self.order.quantity = Lots(lots);
        self.order.min_fill = self.order.min_fill.min(Lots(lots));
        self
    }

    /// Sets `minFill` in lots.
    pub fn min_fill(mut self, lots: u64) -> Self {
        self.order.min_fill = Lots(lots);
        self
    }

    /// Sets the nonce.
    pub fn nonce(mut self, nonce: u64) -> Self {
        self.order.nonce = nonce;
        self
    }

    /// Sets the peer id string.
    pub fn peer(mut self, peer: &str) -> Self {
        self.order.peer = peer.into();
        self
    }

    /// Sets `createdAt`.
    pub fn created_at(mut self, at: UnixMillis) -> Self {
        self.order.created_at = at;
        self
    }

    /// Sets `expiresAt`.
    pub fn expires_at(mut self, at: UnixMillis) -> Self {
        self.order.expires_at = at;
        self
    }

    /// The unsigned order.
    pub fn order(&self) -> Order {
        self.order.clone()
    }

    /// The order signed by the builder's key.
    pub fn sign(&self) -> SignedOrder {
        self.order.clone().sign(&self.key)
    }

    /// The order signed and verified against [`markets`] with default rules at `createdAt`.
    ///
    /// Panics if the order breaks a rule: use [`OrderBuilder::sign`] to test rejections.
    pub fn verified(&self) -> VerifiedOrder {
        self.sign()
            .verify(
                markets(),
                &ValidationRules::default(),
                self.order.created_at,
            )
            .expect("builder orders are valid unless a test makes them otherwise")
    }
}

/// An update of `order` to `remaining` lots, signed by `key` (the order's maker) at the
/// order's `createdAt` and verified against the order at that time.
///
/// Panics if the update is invalid (another key, remaining above the quantity): sign an
/// [`Update`] directly to test rejections.
pub fn verified_update(key: &TraderKey, order: &VerifiedOrder, remaining: u64) -> VerifiedUpdate {
    let timestamp = order.order().created_at;
    Update {
        order_id: order.id(),
        remaining: Lots(remaining),
        timestamp,
    }
    .sign(key)
    .verify(order, &ValidationRules::default(), timestamp)
    .expect("test updates are valid unless a test makes them otherwise")
}

/// `count` resting orders of `market` for benchmarks, signed on every core: `per_maker` by
/// each of `makers` in turn, buys at 1,000–1,499 ticks and sells at 2,000–2,499 (none
/// crossing), one lot ×10 each (the builder's quantity), naming `peer`, created a second
/// before `now` and valid an hour.
pub fn signed_resting_orders(
    market: MarketId,
    count: usize,
    per_maker: usize,
    makers: &[TraderKey],
    peer: &str,
    now: UnixMillis,
) -> Vec<SignedOrder> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per_thread = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let range = (t * per_thread).min(count)..((t + 1) * per_thread).min(count);
                    range
                        .map(|k| {
                            let side = if k % 2 == 0 { Side::Buy } else { Side::Sell };
                            let base = if side == Side::Buy { 1_000 } else { 2_000 };
                            OrderBuilder::new()
                                .market(market)
                                .maker(&makers[(k / per_maker.max(1)) % makers.len()])
                                .peer(peer)
                                .side(side)
                                .price(base + (k % 500) as u64)
                                .nonce(k as u64)
                                .created_at(now.saturating_sub(1_000))
                                .expires_at(now + HOUR_MS)
                                .sign()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("signing threads do not panic"))
            .collect()
    })
}
