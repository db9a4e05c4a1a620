//! What a complete sync of a maker's orders proves about the orders this node holds.
//!
//! A node syncs a maker's orders when the maker's `alive` root differs from its own. The
//! answer brings the orders it missed; it can also show that an order held here is closed
//! where it was posted, its cancel missed here (typically while this node was restarting,
//! or before it joined the gossip mesh). Such a ghost is offered here but never to be
//! taken: it is withdrawn ([`dex_book::Book::unlist`]) when the complete answer proves it:
//!
//! - **From the maker's own node** (the one its orders name, which its `alive` names): a
//!   node holds every order it posted open in its book until it is cancelled, filled or
//!   expires, and learns of its end first (it signs the cancel, commits the fill). So an
//!   order naming it that this node held when it asked, and that the answer left out, is
//!   closed there. (Only orders held before the request went out count: an order posted
//!   after the answer was made can reach this node by gossip before the last page does.)
//! - **From another peer**, only when the answer is exactly what the `alive` signed: the
//!   digest of the listed orders and remaining quantities equals its `ordersRoot`. Then an
//!   order naming the maker's node, held here, created no later than the `alive`, and not
//!   listed, was not open at the maker's node when it signed the `alive`.
//!
//! Orders naming another node are left alone: neither answer speaks for them. The
//! withdrawal leaves no tombstone, so an order withdrawn by mistake (a relay node that lost
//! an order of its own in a restart, and got it back; an order signed long before it was
//! posted) comes back with a later sync once the maker's node lists it again.
//!
//! Memory: one entry per maker sync in flight (bounded by
//! [`crate::SyncConfig::max_root_syncs`]), each with at most the maker's open orders (the
//! per-maker cap) held and listed.

use std::collections::HashMap;

use dex_book::orders_digest;
use dex_network::PeerId;
use dex_primitives::{Address, B256, Lots, MarketId, OrderId, UnixMillis};

/// The `alive` that made a node ask for its maker's orders.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AliveSeen {
    /// Its maker's node (the peer its `peer` names).
    pub(crate) maker_node: PeerId,
    /// Its `ordersRoot`.
    pub(crate) orders_root: B256,
    /// Its signed time.
    pub(crate) timestamp: UnixMillis,
}

/// One maker sync in flight.
#[derive(Debug)]
struct Asked {
    /// The peer asked.
    peer: PeerId,
    alive: AliveSeen,
    /// The maker's orders naming its node held here when the sync was asked, with their
    /// `createdAt`.
    held: HashMap<OrderId, UnixMillis>,
    /// What the pages listed so far: order and remaining quantity.
    listed: HashMap<OrderId, Lots>,
}

/// Maker syncs in flight, by market and maker.
#[derive(Debug, Default)]
pub(crate) struct Listings {
    asked: HashMap<(MarketId, Address), Asked>,
}

impl Listings {
    /// A sync of `maker`'s orders in `market` was asked of `peer` after `alive`; `held` are
    /// the maker's orders naming its node held here now, with their `createdAt`. Replaces
    /// any sync of the same maker and market still recorded.
    pub(crate) fn asked(
        &mut self,
        market: MarketId,
        maker: Address,
        peer: PeerId,
        alive: AliveSeen,
        held: HashMap<OrderId, UnixMillis>,
    ) {
        self.asked.insert(
            (market, maker),
            Asked {
                peer,
                alive,
                held,
                listed: HashMap::new(),
            },
        );
    }

    /// A page of that sync from `peer` listed these orders with these remaining quantities.
    pub(crate) fn page(
        &mut self,
        market: MarketId,
        maker: Address,
        peer: PeerId,
        listed: impl IntoIterator<Item = (OrderId, Lots)>,
    ) {
        if let Some(asked) = self.asked.get_mut(&(market, maker))
            && asked.peer == peer
        {
            asked.listed.extend(listed);
        }
    }

    /// The sync from `peer` ended with its last page: the held orders it proves closed.
    pub(crate) fn complete(
        &mut self,
        market: MarketId,
        maker: Address,
        peer: PeerId,
    ) -> Vec<OrderId> {
        let Some(asked) = self.asked.remove(&(market, maker)) else {
            return Vec::new();
        };
        if asked.peer != peer {
            // A late page of an older sync: the one recorded still waits for its own.
            self.asked.insert((market, maker), asked);
            return Vec::new();
        }
        let from_maker_node = asked.peer == asked.alive.maker_node;
        let exact = || {
            orders_digest(asked.listed.iter().map(|(id, remaining)| (*id, *remaining)))
                == asked.alive.orders_root
        };
        let mut unlisted: Vec<OrderId> = if from_maker_node {
            asked
                .held
                .keys()
                .filter(|id| !asked.listed.contains_key(id))
                .copied()
                .collect()
        } else if exact() {
            asked
                .held
                .iter()
                .filter(|(id, created_at)| {
                    **created_at <= asked.alive.timestamp && !asked.listed.contains_key(id)
                })
                .map(|(id, _)| *id)
                .collect()
        } else {
            Vec::new()
        };
        unlisted.sort();
        unlisted
    }

    /// The sync of `maker`'s orders in `market` failed or stopped early: it proves nothing.
    pub(crate) fn abandon(&mut self, market: MarketId, maker: Address) {
        self.asked.remove(&(market, maker));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> OrderId {
        OrderId(B256::repeat_byte(byte))
    }

    const MARKET: MarketId = MarketId(B256::repeat_byte(9));
    const MAKER: Address = Address::repeat_byte(1);
    const ALIVE_AT: UnixMillis = 1_000;

    fn alive(maker_node: PeerId, open: &[(OrderId, Lots)]) -> AliveSeen {
        AliveSeen {
            maker_node,
            orders_root: orders_digest(open.iter().copied()),
            timestamp: ALIVE_AT,
        }
    }

    #[test]
    fn the_maker_nodes_complete_answer_proves_the_held_orders_it_left_out_closed() {
        let (maker_node, other) = (PeerId::random(), PeerId::random());
        let mut listings = Listings::default();
        let held = [(id(1), ALIVE_AT), (id(2), ALIVE_AT), (id(3), ALIVE_AT + 5)];
        listings.asked(
            MARKET,
            MAKER,
            maker_node,
            alive(maker_node, &[]),
            held.into(),
        );
        listings.page(
            MARKET,
            MAKER,
            maker_node,
            [(id(1), Lots(4)), (id(7), Lots(1))],
        );
        // Another peer's page proves nothing about this sync.
        listings.page(MARKET, MAKER, other, [(id(2), Lots(1))]);
        assert!(listings.complete(MARKET, MAKER, other).is_empty());
        // Whatever its root and the orders' times: the maker's node speaks for its own.
        assert_eq!(
            listings.complete(MARKET, MAKER, maker_node),
            vec![id(2), id(3)]
        );
        // Done: a second completion changes nothing.
        assert!(listings.complete(MARKET, MAKER, maker_node).is_empty());
    }

    #[test]
    fn another_peers_answer_counts_only_when_it_is_what_the_alive_signed() {
        let (maker_node, relay) = (PeerId::random(), PeerId::random());
        let open = [(id(1), Lots(4)), (id(7), Lots(1))];
        let held = [
            (id(1), ALIVE_AT),
            (id(2), ALIVE_AT - 1),
            (id(3), ALIVE_AT + 1),
        ];
        let mut listings = Listings::default();
        listings.asked(MARKET, MAKER, relay, alive(maker_node, &open), held.into());
        listings.page(MARKET, MAKER, relay, open);
        // Order 3 is newer than the alive: it may have been posted since.
        assert_eq!(listings.complete(MARKET, MAKER, relay), vec![id(2)]);

        // An answer that is not the alive's set (the relay is behind, or the maker moved
        // on): nothing is proved.
        listings.asked(MARKET, MAKER, relay, alive(maker_node, &open), held.into());
        listings.page(MARKET, MAKER, relay, [(id(1), Lots(4))]);
        assert!(listings.complete(MARKET, MAKER, relay).is_empty());
        listings.asked(MARKET, MAKER, relay, alive(maker_node, &open), held.into());
        listings.page(MARKET, MAKER, relay, [(id(1), Lots(3)), (id(7), Lots(1))]);
        assert!(listings.complete(MARKET, MAKER, relay).is_empty());
    }

    #[test]
    fn an_abandoned_sync_proves_nothing() {
        let peer = PeerId::random();
        let mut listings = Listings::default();
        listings.asked(
            MARKET,
            MAKER,
            peer,
            alive(peer, &[]),
            [(id(1), ALIVE_AT)].into(),
        );
        listings.abandon(MARKET, MAKER);
        assert!(listings.complete(MARKET, MAKER, peer).is_empty());
    }
}
