//! Reachability: what AutoNAT found out about this node, and which relays it holds a slot on.
//!
//! Both parts are pure: the event loop feeds them what the swarm reports (probe results,
//! identify answers, listeners closing, peers leaving) and performs what they decide
//! (listen on a relay's circuit address, close a listener). They read no clock and do no I/O,
//! so every rule below is tested in milliseconds here.

use std::collections::{BTreeMap, BTreeSet};

use libp2p::{Multiaddr, PeerId, core::transport::ListenerId, multiaddr::Protocol};

use crate::with_peer;

/// Whether this node can be dialled from outside, as AutoNAT found out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Reachability {
    /// No probe has finished yet, or AutoNAT is off.
    #[default]
    Unknown,
    /// AutoNAT servers dialled these addresses back: peers can dial this node directly.
    Public {
        /// The confirmed addresses (also the swarm's external addresses, which identify
        /// advertises).
        addresses: Vec<Multiaddr>,
    },
    /// Every address tested failed: peers reach this node only through relays.
    Private,
}

impl Reachability {
    /// Whether AutoNAT confirmed at least one address.
    pub fn is_public(&self) -> bool {
        matches!(self, Reachability::Public { .. })
    }
}

/// The results of AutoNAT probes, summed up as a [`Reachability`].
#[derive(Debug, Default)]
pub(crate) struct ProbeResults {
    confirmed: BTreeSet<Multiaddr>,
    any_failed: bool,
}

impl ProbeResults {
    /// What the probes so far say.
    pub(crate) fn status(&self) -> Reachability {
        if !self.confirmed.is_empty() {
            Reachability::Public {
                addresses: self.confirmed.iter().cloned().collect(),
            }
        } else if self.any_failed {
            Reachability::Private
        } else {
            Reachability::Unknown
        }
    }

    /// A probe of `address` finished: a server dialled it back (`reachable`) or could not.
    /// Returns the new status if it changed.
    pub(crate) fn on_probe(&mut self, address: Multiaddr, reachable: bool) -> Option<Reachability> {
        let before = self.status();
        if reachable {
            self.confirmed.insert(address);
        } else {
            // A later failure of an address once confirmed does not unconfirm it: another
            // server's dial-back may fail for its own reasons (its limits, its network).
            self.any_failed = true;
        }
        let after = self.status();
        (after != before).then_some(after)
    }

    /// The swarm dropped an external address. Returns the new status if it changed.
    pub(crate) fn on_expired(&mut self, address: &Multiaddr) -> Option<Reachability> {
        if !self.confirmed.remove(address) {
            return None;
        }
        if self.confirmed.is_empty() {
            // No address left that anyone dialled: as good as a failed probe.
            self.any_failed = true;
        }
        Some(self.status())
    }
}

/// Why the node holds a slot on a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotOrigin {
    /// The relay is in `NetworkConfig::relays`.
    Configured,
    /// The node picked the relay itself: a connected peer whose identify showed the relay
    /// protocol.
    Automatic,
}

/// A relay this node holds, or is asking for, a slot on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySlot {
    /// The relay.
    pub relay: PeerId,
    /// Configured or picked automatically.
    pub origin: SlotOrigin,
    /// The relay accepted the reservation (until then it is only asked for).
    pub reserved: bool,
}

/// Listen on `address` (a relay's `/p2p-circuit` address) to ask `relay` for a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reserve {
    pub(crate) relay: PeerId,
    pub(crate) address: Multiaddr,
}

/// A slot that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ended {
    pub(crate) relay: PeerId,
    pub(crate) origin: SlotOrigin,
    /// It had been accepted (a reservation lost, not one refused).
    pub(crate) was_reserved: bool,
    /// Its listener, which the caller closes if it is still open.
    pub(crate) listener: ListenerId,
}

#[derive(Debug)]
struct Slot {
    listener: ListenerId,
    origin: SlotOrigin,
    reserved: bool,
}

/// The relay slots this node holds, and the choice of new ones.
///
/// A connected peer whose identify shows the relay hop protocol, and that this node dialled
/// directly, is a candidate. While the node is not confirmed public, is not itself a relay
/// server, and holds fewer slots than the bound (configured ones included), it asks a
/// candidate it holds no slot on for one. A slot that ends (listener closed, relay gone) is
/// forgotten, and its relay stops being a candidate until it identifies itself again (on its
/// next connection or identify round), so a relay that refuses is not asked again in a loop;
/// another candidate is asked instead.
#[derive(Debug)]
pub(crate) struct RelaySlots {
    /// Automatic reservations are made only while fewer slots than this are held.
    max_slots: usize,
    /// Off for relay servers (public by their operator's word) and when the bound is 0.
    automatic: bool,
    /// AutoNAT confirmed the node public: no new automatic reservations.
    public: bool,
    slots: BTreeMap<PeerId, Slot>,
    /// Relays identified on a direct connection, with the address we dialled them at.
    candidates: BTreeMap<PeerId, Multiaddr>,
}

impl RelaySlots {
    /// `max_slots`: the bound on slots held for automatic reservations to be made;
    /// `automatic`: whether to make any.
    pub(crate) fn new(max_slots: usize, automatic: bool) -> Self {
        RelaySlots {
            max_slots,
            automatic: automatic && max_slots > 0,
            public: false,
            slots: BTreeMap::new(),
            candidates: BTreeMap::new(),
        }
    }

    /// The node listens through a configured relay with `listener`.
    pub(crate) fn configured(&mut self, relay: PeerId, listener: ListenerId) {
        self.slots.insert(
            relay,
            Slot {
                listener,
                origin: SlotOrigin::Configured,
                reserved: false,
            },
        );
    }

    /// A connected peer's identify answer: `hop`: it serves relay circuits; `dialed`: an
    /// address we reached it at on a direct connection we dialled (none if we only have
    /// inbound or relayed connections to it). Returns the reservation to make, if any.
    pub(crate) fn on_identified(
        &mut self,
        peer: PeerId,
        hop: bool,
        dialed: Option<Multiaddr>,
    ) -> Option<Reserve> {
        match dialed {
            Some(address) if hop && !address.iter().any(|p| p == Protocol::P2pCircuit) => {
                self.candidates.insert(peer, address);
            }
            _ => {
                self.candidates.remove(&peer);
            }
        }
        self.next_reservation()
    }

    /// The reservation to make now, if any: the first candidate without a slot, while the
    /// node is not public and below the bound.
    pub(crate) fn next_reservation(&self) -> Option<Reserve> {
        if !self.automatic || self.public || self.slots.len() >= self.max_slots {
            return None;
        }
        let (relay, address) = self
            .candidates
            .iter()
            .find(|(relay, _)| !self.slots.contains_key(relay))?;
        Some(Reserve {
            relay: *relay,
            address: with_peer(address.clone(), *relay).with(Protocol::P2pCircuit),
        })
    }

    /// The node listens on `reserve`'s address with `listener`.
    pub(crate) fn requested(&mut self, reserve: &Reserve, listener: ListenerId) {
        self.slots.insert(
            reserve.relay,
            Slot {
                listener,
                origin: SlotOrigin::Automatic,
                reserved: false,
            },
        );
    }

    /// Listening on `reserve`'s address failed at once: the relay is no candidate any more.
    pub(crate) fn request_failed(&mut self, reserve: &Reserve) {
        self.candidates.remove(&reserve.relay);
    }

    /// `relay` accepted a reservation. Returns the slot's origin the first time (not on
    /// renewals, nor for a relay we hold no slot on).
    pub(crate) fn on_reserved(&mut self, relay: PeerId) -> Option<SlotOrigin> {
        let slot = self.slots.get_mut(&relay)?;
        if slot.reserved {
            return None;
        }
        slot.reserved = true;
        Some(slot.origin)
    }

    /// A listener closed: if it held a slot, the slot is forgotten.
    pub(crate) fn on_listener_closed(&mut self, listener: ListenerId) -> Option<Ended> {
        let relay = self
            .slots
            .iter()
            .find(|(_, slot)| slot.listener == listener)
            .map(|(relay, _)| *relay)?;
        self.end(relay)
    }

    /// The last connection to `peer` closed: it is no candidate, and a slot on it is
    /// forgotten (the caller closes its listener).
    pub(crate) fn on_disconnected(&mut self, peer: PeerId) -> Option<Ended> {
        self.candidates.remove(&peer);
        self.end(peer)
    }

    fn end(&mut self, relay: PeerId) -> Option<Ended> {
        let slot = self.slots.remove(&relay)?;
        self.candidates.remove(&relay);
        Some(Ended {
            relay,
            origin: slot.origin,
            was_reserved: slot.reserved,
            listener: slot.listener,
        })
    }

    /// AutoNAT's verdict changed. Returns the reservation to make, if the node is no
    /// longer public.
    pub(crate) fn set_public(&mut self, public: bool) -> Option<Reserve> {
        self.public = public;
        self.next_reservation()
    }

    /// The slots held or asked for.
    pub(crate) fn slots(&self) -> Vec<RelaySlot> {
        self.slots
            .iter()
            .map(|(relay, slot)| RelaySlot {
                relay: *relay,
                origin: slot.origin,
                reserved: slot.reserved,
            })
            .collect()
    }

    /// Whether a slot on `relay` is held or asked for.
    pub(crate) fn has_slot(&self, relay: PeerId) -> bool {
        self.slots.contains_key(&relay)
    }

    /// Connected relay servers (identify lists the hop protocol) with the address we
    /// dialled each at: a peer behind a NAT may be reached through any of them.
    pub(crate) fn relays(&self) -> impl Iterator<Item = (PeerId, &Multiaddr)> {
        self.candidates
            .iter()
            .map(|(relay, address)| (*relay, address))
    }

    /// The relays that could be asked for a slot.
    pub(crate) fn candidates(&self) -> Vec<PeerId> {
        self.candidates.keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(port: u16) -> Multiaddr {
        format!("/ip4/203.0.113.7/tcp/{port}")
            .parse()
            .expect("a valid multiaddr literal")
    }

    /// Asks for what `next` says and records it as requested, as the event loop does.
    fn request(slots: &mut RelaySlots, next: Option<Reserve>) -> Reserve {
        let reserve = next.expect("a reservation to make");
        slots.requested(&reserve, ListenerId::next());
        reserve
    }

    #[test]
    fn a_relay_identified_on_a_dialled_connection_is_asked_at_its_circuit_address() {
        let mut slots = RelaySlots::new(2, true);
        let relay = PeerId::random();
        let reserve = slots
            .on_identified(relay, true, Some(address(4001)))
            .expect("a reservation");
        assert_eq!(reserve.relay, relay);
        assert_eq!(
            reserve.address,
            address(4001)
                .with(Protocol::P2p(relay))
                .with(Protocol::P2pCircuit)
        );
    }

    #[test]
    fn a_peer_without_the_hop_protocol_is_never_asked() {
        let mut slots = RelaySlots::new(2, true);
        assert_eq!(
            slots.on_identified(PeerId::random(), false, Some(address(1))),
            None
        );
        assert!(slots.candidates().is_empty());
    }

    #[test]
    fn a_relay_not_dialled_directly_or_known_by_a_circuit_address_is_not_asked() {
        let mut slots = RelaySlots::new(2, true);
        assert_eq!(slots.on_identified(PeerId::random(), true, None), None);
        let circuit = address(1)
            .with(Protocol::P2p(PeerId::random()))
            .with(Protocol::P2pCircuit);
        assert_eq!(
            slots.on_identified(PeerId::random(), true, Some(circuit)),
            None
        );
        assert!(slots.candidates().is_empty());
    }

    #[test]
    fn a_relay_is_not_asked_twice() {
        let mut slots = RelaySlots::new(2, true);
        let relay = PeerId::random();
        let next = slots.on_identified(relay, true, Some(address(1)));
        request(&mut slots, next);
        // Identify comes again (a second connection, a periodic round).
        assert_eq!(slots.on_identified(relay, true, Some(address(1))), None);
        assert_eq!(slots.slots().len(), 1);
    }

    #[test]
    fn a_configured_relay_is_not_asked_again_and_counts_towards_the_bound() {
        let mut slots = RelaySlots::new(2, true);
        let configured = PeerId::random();
        slots.configured(configured, ListenerId::next());
        assert_eq!(
            slots.on_identified(configured, true, Some(address(1))),
            None
        );
        let next = slots.on_identified(PeerId::random(), true, Some(address(2)));
        request(&mut slots, next);
        // Two slots held: the bound.
        assert_eq!(
            slots.on_identified(PeerId::random(), true, Some(address(3))),
            None
        );
    }

    #[test]
    fn automatic_reservations_stop_at_the_bound() {
        let mut slots = RelaySlots::new(1, true);
        let next = slots.on_identified(PeerId::random(), true, Some(address(1)));
        request(&mut slots, next);
        assert_eq!(
            slots.on_identified(PeerId::random(), true, Some(address(2))),
            None
        );
        assert_eq!(slots.slots().len(), 1);
        assert_eq!(slots.candidates().len(), 2);
    }

    #[test]
    fn a_public_node_makes_no_new_reservations_but_keeps_its_slots() {
        let mut slots = RelaySlots::new(2, true);
        let first = PeerId::random();
        let next = slots.on_identified(first, true, Some(address(1)));
        request(&mut slots, next);
        assert_eq!(slots.set_public(true), None);
        let second = PeerId::random();
        assert_eq!(slots.on_identified(second, true, Some(address(2))), None);
        assert_eq!(slots.slots().len(), 1, "the existing slot stays");
        // Private again: the waiting candidate is asked.
        let reserve = slots.set_public(false).expect("a reservation");
        assert_eq!(reserve.relay, second);
    }

    #[test]
    fn relay_servers_and_a_zero_bound_make_no_automatic_reservations() {
        for mut slots in [RelaySlots::new(2, false), RelaySlots::new(0, true)] {
            assert_eq!(
                slots.on_identified(PeerId::random(), true, Some(address(1))),
                None
            );
        }
    }

    #[test]
    fn a_lost_slot_is_forgotten_and_another_relay_is_asked() {
        let mut slots = RelaySlots::new(1, true);
        let (first, second) = (PeerId::random(), PeerId::random());
        let reserve = slots
            .on_identified(first, true, Some(address(1)))
            .expect("a reservation");
        let listener = ListenerId::next();
        slots.requested(&reserve, listener);
        assert_eq!(slots.on_identified(second, true, Some(address(2))), None);
        assert_eq!(slots.on_reserved(first), Some(SlotOrigin::Automatic));
        assert_eq!(slots.on_reserved(first), None, "a renewal is not new");

        let ended = slots.on_listener_closed(listener).expect("the slot ended");
        assert_eq!(ended.relay, first);
        assert!(ended.was_reserved);
        assert_eq!(ended.origin, SlotOrigin::Automatic);
        assert_eq!(slots.on_listener_closed(listener), None, "forgotten once");
        // The same relay is not asked again until it identifies itself again.
        assert_eq!(slots.next_reservation().map(|r| r.relay), Some(second));
        assert!(!slots.candidates().contains(&first));
    }

    #[test]
    fn a_relay_that_disconnects_is_forgotten_and_asked_again_on_reconnect() {
        let mut slots = RelaySlots::new(2, true);
        let relay = PeerId::random();
        let reserve = slots
            .on_identified(relay, true, Some(address(1)))
            .expect("a reservation");
        let listener = ListenerId::next();
        slots.requested(&reserve, listener);
        let ended = slots.on_disconnected(relay).expect("the slot ended");
        assert_eq!(ended.listener, listener);
        assert!(!ended.was_reserved, "never accepted");
        assert!(slots.slots().is_empty());
        assert_eq!(slots.next_reservation(), None);
        // Reconnected and identified again.
        assert_eq!(
            slots
                .on_identified(relay, true, Some(address(1)))
                .map(|r| r.relay),
            Some(relay)
        );
    }

    #[test]
    fn a_failed_request_drops_the_candidate() {
        let mut slots = RelaySlots::new(2, true);
        let reserve = slots
            .on_identified(PeerId::random(), true, Some(address(1)))
            .expect("a reservation");
        slots.request_failed(&reserve);
        assert_eq!(slots.next_reservation(), None);
    }

    #[test]
    fn reachability_follows_the_probes() {
        let mut probes = ProbeResults::default();
        assert_eq!(probes.status(), Reachability::Unknown);
        assert_eq!(
            probes.on_probe(address(1), false),
            Some(Reachability::Private)
        );
        assert_eq!(probes.on_probe(address(2), false), None, "no change");
        let public = Reachability::Public {
            addresses: vec![address(3)],
        };
        assert_eq!(probes.on_probe(address(3), true), Some(public.clone()));
        // A later failure elsewhere does not undo a confirmation.
        assert_eq!(probes.on_probe(address(4), false), None);
        assert_eq!(probes.status(), public);
        assert_eq!(probes.on_expired(&address(1)), None, "never confirmed");
        assert_eq!(probes.on_expired(&address(3)), Some(Reachability::Private));
    }
}
