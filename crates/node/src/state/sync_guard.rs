//! What syncing from peers may cost this node: pages per sync, and the standing of the
//! peers that serve them.
//!
//! A sync is a chain of pages from one peer, each request naming the previous page's last
//! id. The serving peer decides whether there is a next page, so the node counts: a chain
//! is followed for at most a fixed number of pages (enough for a peer holding as many
//! orders as this node may), then dropped. Entries are checked one by one (a signature
//! recovery each), so a page with an entry no correct peer sends (a bad signature, a broken
//! rule, a page out of cursor order) ends the chain at once, and costs its peer a strike;
//! [`STRIKES_TO_BAN`] strikes within [`STRIKE_MEMORY`] ban the peer from sync for
//! [`SYNC_BAN`]: no chain is started with it and its pages are dropped unread. So the
//! signature work one peer can cause per ban period is bounded by a few pages.
//!
//! Standings are kept for at most [`TRACKED_PEERS`] peers; past that the one with the
//! fewest strikes (then the oldest) is forgotten, a banned peer only if every tracked peer
//! is banned (its ban then ends early: the table must stay bounded whatever peers do).

use std::{collections::HashMap, time::Duration};

use dex_network::PeerId;
use dex_primitives::{Address, MarketId, UnixMillis};

use super::millis;

/// Strikes that ban a peer from sync.
pub const STRIKES_TO_BAN: u32 = 3;
/// How long a banned peer is kept out of sync.
pub const SYNC_BAN: Duration = Duration::from_secs(60 * 60);
/// How long a strike counts.
pub const STRIKE_MEMORY: Duration = Duration::from_secs(60 * 60);
/// Peers whose standing is tracked at once.
pub(crate) const TRACKED_PEERS: usize = 1024;
/// A chain without a page for this long is forgotten (its request failed or timed out; the
/// shell reports failures without the peer): a late page of it is applied but not followed.
const CHAIN_IDLE: Duration = Duration::from_secs(5 * 60);

/// A serving peer's standing with this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerStanding {
    /// Faulty pages it served within [`STRIKE_MEMORY`] (reset when a ban ends).
    pub strikes: u32,
    /// Until when it is banned from sync (unix ms), if it is.
    pub banned_until: Option<UnixMillis>,
}

#[derive(Debug, Clone, Copy)]
struct Tracked {
    standing: PeerStanding,
    last_strike_at: UnixMillis,
}

/// One chain of pages: from whom, of which market, of which maker (all when `None`).
pub(crate) type ChainKey = (PeerId, MarketId, Option<Address>);

#[derive(Debug, Clone, Copy)]
struct Chain {
    pages: u32,
    last_page_at: UnixMillis,
}

/// What to do with a page's next cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Follow {
    /// Ask for the next page.
    Yes,
    /// The chain has had as many pages as it may.
    Capped,
    /// Not a chain this node is following (it was dropped): do not continue it.
    Unknown,
}

/// Page counts of the chains in flight and the standing of serving peers.
#[derive(Debug)]
pub(crate) struct SyncGuard {
    max_market_pages: u32,
    max_maker_pages: u32,
    chains: HashMap<ChainKey, Chain>,
    peers: HashMap<PeerId, Tracked>,
}

impl SyncGuard {
    /// A guard following at most `max_market_pages` pages of a whole market and
    /// `max_maker_pages` of one maker's orders.
    pub(crate) fn new(max_market_pages: u32, max_maker_pages: u32) -> Self {
        SyncGuard {
            max_market_pages,
            max_maker_pages,
            chains: HashMap::new(),
            peers: HashMap::new(),
        }
    }

    /// Counts a page of chain `key` received at `now` (`first` when it answers a request
    /// without cursor, which starts a chain).
    pub(crate) fn page(&mut self, key: ChainKey, first: bool, now: UnixMillis) {
        if first {
            self.chains.insert(
                key,
                Chain {
                    pages: 1,
                    last_page_at: now,
                },
            );
        } else if let Some(chain) = self.chains.get_mut(&key) {
            chain.pages = chain.pages.saturating_add(1);
            chain.last_page_at = now;
        }
    }

    /// Whether chain `key` may ask for one more page.
    pub(crate) fn follow(&self, key: &ChainKey) -> Follow {
        let cap = match key.2 {
            Some(_) => self.max_maker_pages,
            None => self.max_market_pages,
        };
        match self.chains.get(key) {
            Some(chain) if chain.pages < cap => Follow::Yes,
            Some(_) => Follow::Capped,
            None => Follow::Unknown,
        }
    }

    /// Chain `key` is over (last page, cap, fault or failure).
    pub(crate) fn end(&mut self, key: &ChainKey) {
        self.chains.remove(key);
    }

    /// A strike against `peer` at `now`. Returns true when it bans the peer.
    pub(crate) fn strike(&mut self, peer: PeerId, now: UnixMillis) -> bool {
        if !self.peers.contains_key(&peer) && self.peers.len() >= TRACKED_PEERS {
            self.forget_one(now);
        }
        let tracked = self.peers.entry(peer).or_insert(Tracked {
            standing: PeerStanding::default(),
            last_strike_at: now,
        });
        let banned = tracked.standing.banned_until.map(|until| until > now);
        let forgotten = match banned {
            Some(still) => !still,
            None => now.saturating_sub(tracked.last_strike_at) > millis(STRIKE_MEMORY),
        };
        if forgotten {
            tracked.standing = PeerStanding::default();
        }
        tracked.standing.strikes = tracked.standing.strikes.saturating_add(1);
        tracked.last_strike_at = now;
        let ban =
            tracked.standing.strikes >= STRIKES_TO_BAN && tracked.standing.banned_until.is_none();
        if ban {
            tracked.standing.banned_until = Some(now.saturating_add(millis(SYNC_BAN)));
            // Its chains end: none of its pages is read while banned.
            self.chains.retain(|key, _| key.0 != peer);
        }
        ban
    }

    /// True while `peer` is banned: from the strike that bans it until the first tick after
    /// the ban ends (callers without a `now`, such as a new connection, ask this).
    pub(crate) fn is_banned(&self, peer: &PeerId) -> bool {
        self.peers
            .get(peer)
            .is_some_and(|tracked| tracked.standing.banned_until.is_some())
    }

    /// `peer`'s standing at `now`.
    pub(crate) fn standing(&self, peer: &PeerId, now: UnixMillis) -> PeerStanding {
        match self.peers.get(peer) {
            Some(tracked)
                if tracked
                    .standing
                    .banned_until
                    .is_some_and(|until| until > now) =>
            {
                tracked.standing
            }
            Some(tracked)
                if tracked.standing.banned_until.is_none()
                    && now.saturating_sub(tracked.last_strike_at) <= millis(STRIKE_MEMORY) =>
            {
                tracked.standing
            }
            _ => PeerStanding::default(),
        }
    }

    /// Forgets ended bans, old strikes and idle chains.
    pub(crate) fn tick(&mut self, now: UnixMillis) {
        self.peers
            .retain(|_, tracked| match tracked.standing.banned_until {
                Some(until) => until > now,
                None => now.saturating_sub(tracked.last_strike_at) <= millis(STRIKE_MEMORY),
            });
        self.chains
            .retain(|_, chain| now.saturating_sub(chain.last_page_at) <= millis(CHAIN_IDLE));
    }

    /// Makes room for one more tracked peer: the fewest strikes, then the oldest strike,
    /// among peers not banned; if all are banned, the ban that ends first.
    fn forget_one(&mut self, now: UnixMillis) {
        let victim = self
            .peers
            .iter()
            .min_by_key(|(peer, tracked)| {
                let banned = tracked
                    .standing
                    .banned_until
                    .is_some_and(|until| until > now);
                (
                    banned,
                    tracked.standing.banned_until.unwrap_or(0),
                    tracked.standing.strikes,
                    tracked.last_strike_at,
                    **peer,
                )
            })
            .map(|(peer, _)| *peer);
        if let Some(peer) = victim {
            self.peers.remove(&peer);
        }
    }

    /// Chains in flight and peers tracked, for tests.
    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        (self.chains.len(), self.peers.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = 1_800_000_000_000;

    fn key(peer: PeerId) -> ChainKey {
        (peer, MarketId::default(), None)
    }

    #[test]
    fn a_chain_is_followed_up_to_its_cap_and_a_makers_chain_to_its_own() {
        let mut guard = SyncGuard::new(3, 1);
        let peer = PeerId::random();
        guard.page(key(peer), true, NOW);
        assert_eq!(guard.follow(&key(peer)), Follow::Yes);
        guard.page(key(peer), false, NOW);
        assert_eq!(guard.follow(&key(peer)), Follow::Yes);
        guard.page(key(peer), false, NOW);
        assert_eq!(guard.follow(&key(peer)), Follow::Capped);
        // A new chain starts counting again.
        guard.page(key(peer), true, NOW);
        assert_eq!(guard.follow(&key(peer)), Follow::Yes);

        let maker = (peer, MarketId::default(), Some(Address::ZERO));
        guard.page(maker, true, NOW);
        assert_eq!(guard.follow(&maker), Follow::Capped);
        // A continuation of a chain it does not follow is not followed.
        let other = key(PeerId::random());
        guard.page(other, false, NOW);
        assert_eq!(guard.follow(&other), Follow::Unknown);
    }

    #[test]
    fn three_strikes_ban_for_an_hour_and_old_strikes_are_forgotten() {
        let mut guard = SyncGuard::new(10, 10);
        let peer = PeerId::random();
        guard.page(key(peer), true, NOW);
        assert!(!guard.strike(peer, NOW));
        // A strike older than the memory does not count.
        let later = NOW + millis(STRIKE_MEMORY) + 1;
        assert!(!guard.strike(peer, later));
        assert_eq!(guard.standing(&peer, later).strikes, 1);
        assert!(!guard.strike(peer, later));
        assert!(guard.strike(peer, later), "the third strike bans");
        assert!(guard.is_banned(&peer));
        assert_eq!(guard.follow(&key(peer)), Follow::Unknown, "its chains end");
        let end = later + millis(SYNC_BAN);
        assert!(guard.standing(&peer, end - 1).banned_until.is_some());
        assert_eq!(guard.standing(&peer, end), PeerStanding::default());
        guard.tick(end - 1);
        assert!(guard.is_banned(&peer));
        guard.tick(end);
        assert!(!guard.is_banned(&peer));
        assert_eq!(guard.standing(&peer, end), PeerStanding::default());
        assert_eq!(guard.sizes(), (0, 0));
    }

    #[test]
    fn the_tables_stay_bounded_and_bans_outlive_light_offenders() {
        let mut guard = SyncGuard::new(10, 10);
        let banned = PeerId::random();
        for _ in 0..STRIKES_TO_BAN {
            guard.strike(banned, NOW);
        }
        for k in 0..(2 * TRACKED_PEERS) as u64 {
            guard.strike(PeerId::random(), NOW + k);
        }
        assert_eq!(guard.sizes().1, TRACKED_PEERS);
        assert!(guard.is_banned(&banned));
        // Idle chains go.
        guard.page(key(banned), true, NOW);
        guard.tick(NOW + millis(CHAIN_IDLE) + 1);
        assert_eq!(guard.sizes().0, 0);
    }
}
