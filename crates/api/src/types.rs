//! The JSON the API speaks, shared with its clients (dexctl, dex-mm) without the server.
//!
//! Conventions: field names are camelCase; prices and quantities are decimal strings in
//! display units (`"2500.5"`, `"0.25"`), converted exactly by the market's tick and lot (a
//! value off the grid is refused, never rounded); ids and addresses are `0x` hex; times are
//! unix milliseconds. Errors are [`Problem`]s (RFC 7807, `application/problem+json`).

use dex_primitives::{Address, B256, MarketId, Order, OrderId, Signature};
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// Prefix of every problem `type`: the slug after it names the error (see
/// [`Problem::slug`]). A URN, so it is stable and does not pretend to be a web page.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:p2pdex:problem:";

/// An RFC 7807 problem: what every error answer carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Stable identifier of the error, `urn:p2pdex:problem:<slug>`; clients branch on it.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the error type (the same for every occurrence).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, with the values that matter.
    pub detail: String,
    /// The request path it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// For errors in a request body or query: the field at fault (`order.price`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    /// The slug of the `type` (`unknown-market`), or the whole `type` if it is not ours.
    pub fn slug(&self) -> &str {
        self.problem_type
            .strip_prefix(PROBLEM_TYPE_PREFIX)
            .unwrap_or(&self.problem_type)
    }
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok` while the node runs.
    pub status: String,
}

/// `GET /v1/info`: who this node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Info {
    /// Version of the node software.
    pub version: String,
    /// The node's libp2p peer id (base58): the `peer` its orders name.
    pub peer_id: String,
    /// Addresses the node's swarm listens on, each ending in `/p2p/<peer id>` so it can be
    /// given to another node as a bootstrap address.
    pub listen_addrs: Vec<String>,
    /// Trader addresses this node holds keys of (the makers of its orders).
    #[cfg_attr(feature = "server", schema(value_type = Vec<String>))]
    pub traders: Vec<Address>,
    /// Connected peers.
    pub peers: usize,
    /// Markets configured.
    pub markets: usize,
    /// True when the node settles trades (chains configured); false for a relay-only node,
    /// which replicates books but neither takes nor serves takes.
    pub settlement: bool,
    /// Chain ids that answer now (sorted); trading a market needs both of its chains.
    #[serde(default)]
    pub chains_up: Vec<u64>,
}

/// One asset of a market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AssetInfo {
    /// Display symbol (`ETH`).
    pub symbol: String,
    /// The chain it lives on.
    pub chain_id: u64,
    /// Token address; `0x000…0` for the chain's native coin.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub token: Address,
    /// Token decimals.
    pub decimals: u8,
}

/// `GET /v1/markets` items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MarketInfo {
    /// Market id (EIP-712 hashStruct of the market); usable wherever a market is named.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub id: MarketId,
    /// `BASE/QUOTE`, also usable wherever a market is named (URL-encode the `/`).
    pub symbol: String,
    /// The base asset.
    pub base: AssetInfo,
    /// The quote asset.
    pub quote: AssetInfo,
    /// One lot in base units (`"0.001"`): quantities are multiples of it.
    pub lot_size: String,
    /// One tick in quote per base (`"0.01"`): prices are multiples of it.
    pub tick_size: String,
    /// Base-asset base units in one lot (decimal integer string).
    pub base_per_lot: String,
    /// Quote base units for one lot at one tick (decimal integer string).
    pub quote_per_tick_lot: String,
    /// The smallest quantity an order may have: one lot.
    pub min_quantity: String,
    /// The lowest price an order may have: one tick.
    pub min_price: String,
    /// The smallest value (price × quantity, in quote) an order may have; absent: no such
    /// rule on this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_notional: Option<String>,
    /// The longest lifetime an order may have (`expiresIn`), in seconds.
    pub max_expires_in: u64,
}

/// `GET /v1/markets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Markets {
    /// Every configured market, by symbol.
    pub markets: Vec<MarketInfo>,
}

/// One aggregated price level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BookLevel {
    /// Price (quote per base).
    pub price: String,
    /// Quantity offered at this price (base); `"0"` in a stream delta means the level left.
    pub quantity: String,
    /// Orders resting at this price.
    pub orders: u32,
}

/// `GET /v1/markets/{market}/book`: aggregated depth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Book {
    /// Market id.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub market: MarketId,
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// Digest of the whole visible book, whatever `depth` was asked for: keccak256 over
    /// every offered order's id (32 bytes) and remaining lots (8 bytes, big-endian), sorted
    /// by id. Nodes that offer the same orders with the same remaining quantities answer the
    /// same digest, so comparing it tells whether two books agree.
    #[cfg_attr(feature = "server", schema(value_type = String, pattern = "^0x[0-9a-f]{64}$"))]
    pub digest: B256,
    /// Buy levels, best (highest) first.
    pub bids: Vec<BookLevel>,
    /// Sell levels, best (lowest) first.
    pub asks: Vec<BookLevel>,
}

/// `POST /v1/orders/signed`: an order signed elsewhere (wallet, bot, `dexctl order sign`) by
/// a trader key this node holds, naming this node's peer id. The JSON of `dexctl order sign`
/// is accepted as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedOrderRequest {
    /// The EIP-712 `Order` message (prices in ticks, quantities in lots).
    #[cfg_attr(feature = "server", schema(value_type = crate::openapi::OrderMessage))]
    pub order: Order,
    /// `r ‖ s ‖ v`, 65 bytes as `0x` hex, low-s, `v` 27 or 28.
    #[cfg_attr(feature = "server", schema(value_type = String, pattern = r"^0x[0-9a-fA-F]{130}$"))]
    pub signature: Signature,
    /// Optional: the order id the signer computed; refused if it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", schema(value_type = Option<String>, pattern = r"^0x[0-9a-fA-F]{64}$"))]
    pub order_id: Option<OrderId>,
}

/// Buy or sell the base asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SideName {
    /// Buy base, pay quote.
    Buy,
    /// Sell base, receive quote.
    Sell,
}

impl From<dex_primitives::Side> for SideName {
    fn from(side: dex_primitives::Side) -> Self {
        match side {
            dex_primitives::Side::Buy => SideName::Buy,
            dex_primitives::Side::Sell => SideName::Sell,
        }
    }
}

impl From<SideName> for dex_primitives::Side {
    fn from(side: SideName) -> Self {
        match side {
            SideName::Buy => dex_primitives::Side::Buy,
            SideName::Sell => dex_primitives::Side::Sell,
        }
    }
}

impl SideName {
    /// `buy` or `sell`.
    pub fn as_str(self) -> &'static str {
        match self {
            SideName::Buy => "buy",
            SideName::Sell => "sell",
        }
    }
}

/// `201` answer to an order accepted into the node's book and gossiped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderAccepted {
    /// The order id (its EIP-712 signing digest).
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub order_id: OrderId,
    /// Market id.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub market: MarketId,
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// Side.
    pub side: SideName,
    /// Limit price.
    pub price: String,
    /// Quantity.
    pub quantity: String,
    /// The maker (signer).
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub maker: Address,
    /// Expiry, unix ms.
    pub expires_at: u64,
}

/// Answer to a cancel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelled {
    /// The cancelled order.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub order_id: OrderId,
    /// Always `cancelled`.
    pub status: String,
}

/// Time in force of a placed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub enum TimeInForce {
    /// Good till cancelled (or until `expiresIn`): what is not filled at once rests.
    #[default]
    #[serde(rename = "GTC")]
    Gtc,
    /// Immediate or cancel: what is not filled at once is cancelled.
    #[serde(rename = "IOC")]
    Ioc,
}

/// `POST /v1/orders`: an order the node signs with its trader key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(example = json!({
    "market": "ETH/USDC", "side": "sell", "price": "2600", "quantity": "0.01",
    "timeInForce": "GTC", "clientOrderId": "example-1"
})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceOrderRequest {
    /// Market id or `BASE/QUOTE` symbol.
    pub market: String,
    /// Side.
    pub side: SideName,
    /// Limit price, a multiple of the market's tick.
    pub price: String,
    /// Quantity, a multiple of the market's lot.
    pub quantity: String,
    /// Smallest fill accepted, a multiple of the lot; default one lot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_fill: Option<String>,
    /// `GTC` (default) or `IOC`.
    #[serde(default)]
    pub time_in_force: TimeInForce,
    /// Lifetime in seconds; default the node's (one day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// Your own id of the order: 1 to 64 characters of `A-Z a-z 0-9 . _ - :`, unique on
    /// this node. Placing again with the same id and the same fields answers the order
    /// placed the first time (safe to retry after a lost answer); the same id with other
    /// fields is refused (`duplicate-client-order-id`). The order can be read and
    /// cancelled by it (`/v1/orders/by-client-id/{clientOrderId}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", schema(pattern = r"^[A-Za-z0-9._:-]{1,64}$"))]
    pub client_order_id: Option<String>,
}

/// An own order as the node's database holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OwnOrderView {
    /// The order id.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub order_id: OrderId,
    /// Market id.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub market: MarketId,
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// Side.
    pub side: SideName,
    /// Limit price.
    pub price: String,
    /// Quantity.
    pub quantity: String,
    /// Smallest fill.
    pub min_fill: String,
    /// Open quantity (0 once filled, cancelled or expired).
    pub remaining: String,
    /// `open`, `filled`, `cancelled` or `expired`.
    pub status: String,
    /// The maker.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub maker: Address,
    /// Signed creation time, unix ms.
    pub created_at: u64,
    /// Expiry, unix ms.
    pub expires_at: u64,
    /// Last change, local unix ms.
    pub updated_at: u64,
    /// The client's own id of the order, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
}

/// `GET /v1/orders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OwnOrders {
    /// Own orders in placement order: the most recent first, or, asked with `after`, the
    /// oldest first.
    pub orders: Vec<OwnOrderView>,
    /// The latest placed among them (the `after` asked with, or 0, when there are none):
    /// pass it as `after` to get the orders placed since.
    pub cursor: u64,
}

/// A swap of this node, without secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SwapView {
    /// Swap id.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub swap_id: dex_primitives::B256,
    /// Market id.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub market: MarketId,
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// Our side of the trade.
    pub side: SideName,
    /// Trade price.
    pub price: String,
    /// Trade quantity.
    pub quantity: String,
    /// Our order in the trade.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub own_order_id: OrderId,
    /// The counterparty's order.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub counter_order_id: OrderId,
    /// The counterparty's peer id.
    pub peer: String,
    /// Where the swap is (`takerLocking`, `completed`, `refunded`...). `reorged`: the
    /// counterparty's lock that this swap acted on was removed by a chain reorg; the swap
    /// waits for it to be mined again, refunds at its timelock otherwise, and an operator
    /// should look at it.
    pub phase: String,
    /// Local creation time, unix ms.
    pub created_at: u64,
    /// This node's role: `taker` (locks first, holds the secret) or `maker`.
    pub role: String,
    /// Once finished: `completed`, `refunded`, `notLocked` or `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Why a `failed` swap failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_reason: Option<String>,
    /// While our asset is (or is being) locked: when it can only come back by a refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<RefundClock>,
}

/// The timelock of this node's own lock in a swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RefundClock {
    /// The chain of our lock.
    pub chain_id: u64,
    /// Its timelock, unix seconds of that chain's block time: from then on the lock can
    /// only be refunded to us, and the counterparty can no longer claim it.
    pub timelock: u64,
    /// Seconds of chain time left until then when this answer was made (0: passed);
    /// absent while the node has not read that chain's time yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_left: Option<u64>,
}

/// One step of a swap's settlement on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SwapStep {
    /// `takerLock`, `makerLock`, `takerClaim` (of the maker's lock), `makerClaim` (of the
    /// taker's lock), `takerRefund` or `makerRefund`.
    pub step: String,
    /// The chain it happens on.
    pub chain_id: u64,
    /// `sent`: this node sent the transaction and has not seen it on chain yet; `mined`:
    /// the node read it from the chain.
    pub state: String,
    /// The transaction, once read from the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", schema(value_type = Option<String>))]
    pub tx_hash: Option<dex_primitives::B256>,
    /// Its block, once read from the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
    /// Local time of the step's latest state, unix ms.
    pub at: u64,
}

/// `GET /v1/orders/{id}`: an own order with the swaps that traded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OwnOrderDetail {
    /// The order.
    pub order: OwnOrderView,
    /// Its fills, one swap each.
    pub swaps: Vec<SwapView>,
}

/// A fill of an own order: a trade whose swap completed (quantity in a swap still under
/// way is not filled; balances show it reserved or locked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FillView {
    /// The fill's id: the id of the swap that settled it.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub fill_id: dex_primitives::B256,
    /// The own order filled.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub order_id: OrderId,
    /// That order's client order id, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_order_id: Option<String>,
    /// Market id.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub market: MarketId,
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// The order's side.
    pub side: SideName,
    /// `maker` (the order rested and was taken) or `taker`.
    pub role: String,
    /// Price (the maker's).
    pub price: String,
    /// Quantity, in base.
    pub quantity: String,
    /// Price × quantity, in quote, exactly.
    pub cost: String,
    /// When the swap completed, local unix ms.
    pub at: u64,
}

/// `GET /v1/fills`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Fills {
    /// Newest first.
    pub fills: Vec<FillView>,
}

/// `GET /v1/swaps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Swaps {
    /// Swaps by their latest change: the most recent first, or, asked with `changedAfter`,
    /// the oldest change first.
    pub swaps: Vec<SwapView>,
    /// The latest change among them (the `changedAfter` asked with, or 0, when there are
    /// none): pass it as `changedAfter` to get only what changed since.
    pub cursor: u64,
}

/// One entry of a swap's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SwapLogView {
    /// Position in the node's swap log.
    pub seq: u64,
    /// Local time, unix ms.
    pub at: u64,
    /// What happened (created, an event, resumed), as the node logs it.
    #[cfg_attr(feature = "server", schema(value_type = Object))]
    pub entry: serde_json::Value,
    /// What the swap decided to do.
    #[cfg_attr(feature = "server", schema(value_type = Object))]
    pub actions: serde_json::Value,
    /// The phase after it.
    pub phase: String,
}

/// `GET /v1/swaps/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SwapDetail {
    /// The swap.
    pub swap: SwapView,
    /// Its steps on chain so far, in the order a swap takes them (locks, claims, refunds).
    pub steps: Vec<SwapStep>,
    /// Its history, oldest first.
    pub events: Vec<SwapLogView>,
}

/// A trade this node took part in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TradeView {
    /// Price.
    pub price: String,
    /// Quantity.
    pub quantity: String,
    /// The taker's side.
    pub taker_side: SideName,
    /// The swap that settles it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", schema(value_type = Option<String>))]
    pub swap_id: Option<dex_primitives::B256>,
    /// Local time, unix ms.
    pub at: u64,
}

/// `GET /v1/markets/{market}/trades`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Trades {
    /// `BASE/QUOTE`.
    pub symbol: String,
    /// Newest first.
    pub trades: Vec<TradeView>,
}

/// One asset of one trader key, `GET /v1/balances` items. Amounts are decimal strings in
/// the asset's display units (its decimals from the market config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BalanceView {
    /// The trader key's address.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub trader: Address,
    /// The chain.
    pub chain_id: u64,
    /// Token address; `0x000…0` for the chain's native coin.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub token: Address,
    /// Display symbol (`ETH`).
    pub symbol: String,
    /// Decimals of the amounts' base units.
    pub decimals: u8,
    /// Held on chain, as last read by the node.
    pub on_chain: String,
    /// Locked, or about to be locked, by swaps in progress.
    pub locked_in_swaps: String,
    /// Reserved by open own orders (remaining quantity at the limit price).
    pub reserved_by_orders: String,
    /// Kept back for gas (native coins).
    pub gas_reserve: String,
    /// What a new order may lock: on chain less what swaps are about to lock, what orders
    /// reserve and the gas reserve.
    pub free: String,
    /// When the on-chain amount was read (unix ms); absent: not read yet. Readings are at
    /// most the node's `balance_refresh` old while the chain answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<u64>,
}

/// `GET /v1/balances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Balances {
    /// Per trader key and asset of the configured markets.
    pub balances: Vec<BalanceView>,
}

/// What a counterparty record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum CounterpartyKind {
    /// A node, by its peer id.
    Peer,
    /// A trader, by its address.
    Trader,
}

/// `GET /v1/counterparties` items: how this node's swaps with one peer or trader ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CounterpartyView {
    /// A peer or a trader.
    pub kind: CounterpartyKind,
    /// The peer id, or the trader's address.
    pub id: String,
    /// Swaps that completed.
    pub completed: u32,
    /// Swaps that ended with locks refunded because the counterparty did not go on.
    pub refunded: u32,
    /// Takes it was granted and never locked for.
    pub never_locked: u32,
    /// Swaps that ended with this node's asset claimed and the counterparty's not received.
    pub failed: u32,
    /// Failures since its last completed swap.
    pub failing_in_a_row: u32,
    /// While it is refused (its takes not accepted, its orders not taken): until when, in
    /// unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_until: Option<u64>,
    /// When its last swap ended, in unix ms.
    pub last_swap_at: u64,
}

/// `GET /v1/counterparties`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Counterparties {
    /// Per peer and per trader address this node had swaps with.
    pub counterparties: Vec<CounterpartyView>,
}

/// `DELETE /v1/orders`: the orders cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OrdersCancelled {
    /// Their ids.
    #[cfg_attr(feature = "server", schema(value_type = Vec<String>))]
    pub cancelled: Vec<OrderId>,
}

/// How a peer is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ConnectionKind {
    /// At least one direct connection (dialled, or hole-punched).
    Direct,
    /// Only through a relay circuit.
    Relayed,
}

/// `GET /v1/peers` items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    /// The peer's libp2p id.
    pub peer_id: String,
    /// How it is reached: `direct`, or `relayed` (only through a relay circuit).
    pub connection: ConnectionKind,
    /// Its address on each open connection (multiaddrs; a `/p2p-circuit` one goes through
    /// a relay, and for a connection the peer opened the port is its outgoing one).
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Its gossipsub score, when known (negative: it sent invalid messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// How this node's swaps with it ended (see `GET /v1/counterparties`): only for a
    /// request with the token (it is this node's trading history), and only if it had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<CounterpartyView>,
}

/// `GET /v1/peers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Peers {
    /// Connected peers.
    pub peers: Vec<PeerInfo>,
}

/// What a WebSocket client sends: `{"op":"subscribe","channel":"book:ETH/USDC"}`.
/// `Debug` leaves the token out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WsRequest {
    /// `subscribe`, `unsubscribe`, `auth` or `ping`.
    pub op: WsOp,
    /// `book:<market>`, `trades:<market>`, `orders` or `swaps` (for `subscribe` and
    /// `unsubscribe`); `trades:`, `orders` and `swaps` need the token, on the upgrade
    /// request or by `auth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The API token, for `auth`: browsers cannot set headers on a WebSocket upgrade, and
    /// the token must stay out of URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for WsRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsRequest")
            .field("op", &self.op)
            .field("channel", &self.channel)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// WebSocket operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum WsOp {
    /// Start a channel: a snapshot follows, then deltas.
    Subscribe,
    /// Stop a channel.
    Unsubscribe,
    /// Answered with `pong`.
    Ping,
    /// Present the API token (`token`): answered with `authenticated`, after which the
    /// channels that need it may be subscribed.
    Auth,
}

/// A change to one order, as a book stream reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BookOrderEvent {
    /// `inserted`, `reduced`, `reserved`, `released`, `removed`, `suspended` or `restored`.
    pub event: String,
    /// The order.
    #[cfg_attr(feature = "server", schema(value_type = String))]
    pub order_id: OrderId,
    /// Its side.
    pub side: SideName,
    /// Its price.
    pub price: String,
    /// Its remaining quantity after the change.
    pub remaining: String,
    /// What it offers after the change (remaining minus reserved; 0 when suspended/removed).
    pub available: String,
    /// Why it left, for `removed`: `cancelled`, `filled`, `expired`, `evicted`, `dropped`,
    /// `unlisted` (closed where it was posted, its end missed here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What the server sends on a WebSocket, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum WsMessage {
    /// A channel started.
    Subscribed {
        /// The channel, as normalised by the server (market by symbol).
        channel: String,
    },
    /// A channel stopped.
    Unsubscribed {
        /// The channel.
        channel: String,
    },
    /// The state of a book channel at `seq`: the top levels of each side.
    Snapshot {
        /// The channel.
        channel: String,
        /// Sequence number of the book feed; the next delta has `seq + 1`.
        seq: u64,
        /// Buy levels, best first.
        bids: Vec<BookLevel>,
        /// Sell levels, best first.
        asks: Vec<BookLevel>,
    },
    /// Changes after the previous message of the channel: each changed level with its new
    /// absolute values (`quantity` `"0"`: the level is gone from the view), and the order
    /// events behind them.
    Delta {
        /// The channel.
        channel: String,
        /// Sequence number, one more than the previous snapshot or delta.
        seq: u64,
        /// Changed buy levels.
        bids: Vec<BookLevel>,
        /// Changed sell levels.
        asks: Vec<BookLevel>,
        /// Order events, oldest first (best effort: under load some may be summarised away,
        /// the levels are always exact).
        events: Vec<BookOrderEvent>,
    },
    /// The recent trades of a `trades:<market>` channel, newest first; `trade` messages
    /// follow, one per trade after it.
    TradesSnapshot {
        /// The channel.
        channel: String,
        /// Newest first.
        trades: Vec<TradeView>,
    },
    /// A trade of a `trades:<market>` channel (this node took part in it).
    Trade {
        /// The channel.
        channel: String,
        /// The trade.
        trade: TradeView,
    },
    /// The open own orders of the `orders` channel, oldest first; `order` messages follow,
    /// one per change.
    OrdersSnapshot {
        /// The channel.
        channel: String,
        /// Open own orders.
        orders: Vec<OwnOrderView>,
    },
    /// An own order was placed or changed (filled, cancelled, done): its state now.
    Order {
        /// The channel.
        channel: String,
        /// The order.
        order: OwnOrderView,
    },
    /// The 100 most recently changed swaps, most recent first; `swap` messages follow, one
    /// per phase change of any swap.
    SwapsSnapshot {
        /// The channel.
        channel: String,
        /// Swaps.
        swaps: Vec<SwapView>,
    },
    /// A swap moved on (its `phase` is the new one; `finished` when it ended).
    Swap {
        /// The channel.
        channel: String,
        /// The swap.
        swap: SwapView,
    },
    /// Answer to `ping`.
    Pong,
    /// Answer to an `auth` with the right token.
    Authenticated,
    /// A request failed; the connection stays open.
    Error {
        /// What went wrong.
        problem: Problem,
    },
}

/// Percent-encodes a path segment or query value for the API's URLs (`ETH/USDC` →
/// `ETH%2FUSDC`): everything but RFC 3986's unreserved characters.
pub fn percent_encode(segment: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The files of a node's data directory, shared by dexd (which creates them) and its
/// clients (which read the URL and the token).
pub mod layout {
    /// The trader's secp256k1 key (mode 0600): a Web3 Secret Storage v3 keystore (JSON), or
    /// `0x` hex where plain keys are explicitly allowed (devnets).
    pub const TRADER_KEY: &str = "trader.key";
    /// The libp2p identity key, protobuf-encoded ed25519 (mode 0600).
    pub const P2P_KEY: &str = "p2p.key";
    /// The API bearer token (mode 0600), created at first start.
    pub const API_TOKEN: &str = "api.token";
    /// The API's URL (`http://127.0.0.1:7780`), written at each start once the API listens.
    pub const API_URL: &str = "api.url";
    /// Held locked by the running dexd, so two never share a data dir.
    pub const LOCK: &str = "dexd.lock";
    /// The SQLite database (default name; `settlement.database` may change it).
    pub const DATABASE: &str = "dex.sqlite";
}

#[cfg(test)]
mod tests {
    use super::percent_encode;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(percent_encode("ETH/USDC"), "ETH%2FUSDC");
        assert_eq!(percent_encode("0xab-_.~"), "0xab-_.~");
        assert_eq!(percent_encode("a b&c=é"), "a%20b%26c%3D%C3%A9");
    }
}
