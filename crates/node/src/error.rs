use dex_primitives::{Address, MarketId, OrderId, U256};

/// Everything a node command can fail at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The node actor has stopped; the handle is useless now.
    #[error("the node is not running")]
    Stopped,
    /// The order or update breaks a rule (DESIGN §3), or the protocol refused it.
    #[error(transparent)]
    Protocol(#[from] dex_protocol::Error),
    /// The book refused the order or update (caps, closed, unknown...).
    #[error(transparent)]
    Book(#[from] dex_book::Error),
    /// The network layer failed.
    #[error(transparent)]
    Network(#[from] dex_network::Error),
    /// The market is not configured on this node.
    #[error("market {market} is not configured on this node")]
    UnknownMarket {
        /// The market.
        market: MarketId,
    },
    /// The node holds no key for the order's maker, so it cannot run its swaps or sign its
    /// updates.
    #[error("this node holds no key for maker {maker}")]
    NotOurMaker {
        /// The maker named by the order.
        maker: Address,
    },
    /// An own order must name this node's peer id, so takers reach it.
    #[error("order names peer {got}, this node is {expected}")]
    WrongPeer {
        /// The peer in the order.
        got: String,
        /// This node's peer id.
        expected: String,
    },
    /// A client order id already names another placement on this node.
    #[error(
        "client order id {client_order_id:?} already names order {order_id}, placed with \
         other parameters; use a new client order id for a new order"
    )]
    DuplicateClientOrderId {
        /// The client's id.
        client_order_id: String,
        /// The order it names.
        order_id: OrderId,
    },
    /// No own order has this client order id.
    #[error("no order of this node has the client order id {client_order_id:?}")]
    UnknownClientOrderId {
        /// The client's id.
        client_order_id: String,
    },
    /// The order is not open in any book of this node.
    #[error("order {id} is not open on this node")]
    UnknownOrder {
        /// The order.
        id: OrderId,
    },
    /// This node was started without settlement (no chains configured): it relays, but
    /// does not trade.
    #[error("this node does not trade: no chains are configured (settlement is off)")]
    SettlementOff,
    /// The node holds no trader key to make orders with.
    #[error("this node holds no trader key")]
    NoTraderKey,
    /// A market uses a chain this node has no configuration for.
    #[error("chain {chain_id} is not configured on this node")]
    ChainNotConfigured {
        /// The chain id.
        chain_id: u64,
    },
    /// A chain of the market does not answer now; trading on it is refused until it does.
    #[error("chain {chain_id} is unreachable now; trading on it is refused until it answers")]
    ChainUnavailable {
        /// The chain id.
        chain_id: u64,
    },
    /// The order would lock more than the trader's free balance of an asset: what is on
    /// chain (as last read) less what swaps are about to lock, what open orders reserve and,
    /// for a chain's native coin, the gas reserve.
    #[error(
        "insufficient balance on chain {chain_id} of token {token}: the order needs {needed} base units, {free} are free"
    )]
    InsufficientBalance {
        /// The chain.
        chain_id: u64,
        /// The token (`0x0…0`: the native coin).
        token: Address,
        /// Base units the order would lock.
        needed: U256,
        /// Base units free now.
        free: U256,
    },
    /// The trader cannot pay, on one of the market's chains, for the transactions a swap
    /// may need there (lock and refund, or claim) at current fees with the safety margin.
    #[error(
        "not enough native coin on chain {chain_id} for this trade's transactions there: \
         {needed} wei needed at current fees with the safety margin, {available} available"
    )]
    InsufficientGas {
        /// The chain.
        chain_id: u64,
        /// Native base units (wei) the transactions may cost.
        needed: U256,
        /// Native base units free for them.
        available: U256,
    },
    /// The balance of an asset has not been read yet, so an order locking it cannot be
    /// judged; it is read as soon as the chain answers.
    #[error("the balance of token {token} on chain {chain_id} is not known yet")]
    BalanceUnknown {
        /// The chain.
        chain_id: u64,
        /// The token.
        token: Address,
    },
    /// The own order is no longer open (filled, cancelled or expired).
    #[error("order {id} is not open")]
    OrderNotOpen {
        /// The order.
        id: OrderId,
    },
    /// No swap with this id on this node.
    #[error("no swap {swap_id} on this node")]
    UnknownSwap {
        /// The swap.
        swap_id: dex_swap::SwapId,
    },
    /// A write to the node's database failed, so the request was not carried out.
    #[error("the node's database refused a write; see the node's log")]
    StoreUnavailable,
    /// The node's database failed.
    #[error("database: {0}")]
    Store(#[from] dex_store::Error),
}
