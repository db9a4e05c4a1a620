//! Per-peer token buckets. Pure: the caller passes the time in.

use std::{collections::HashMap, hash::Hash, time::Instant};

/// Rate and burst of a token bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens added per second (sustained messages per second).
    pub per_second: f64,
    /// Bucket size (messages allowed at once after a quiet period).
    pub burst: f64,
}

impl RateLimit {
    /// The design default: 100 messages per second, bursts of 500.
    pub const DEFAULT: RateLimit = RateLimit {
        per_second: 100.0,
        burst: 500.0,
    };
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::DEFAULT
    }
}

/// One token bucket: starts full, refills continuously, one token per message.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(limit: &RateLimit, now: Instant) -> Self {
        TokenBucket {
            tokens: limit.burst,
            updated: now,
        }
    }

    /// Takes one token if there is one; `false` means the message must be dropped.
    pub fn try_take(&mut self, limit: &RateLimit, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A bucket per key (peer), created full on first use and forgotten by [`PeerBuckets::remove`].
#[derive(Debug)]
pub struct PeerBuckets<K> {
    limit: RateLimit,
    buckets: HashMap<K, TokenBucket>,
}

impl<K: Eq + Hash> PeerBuckets<K> {
    /// Buckets that all share `limit`.
    pub fn new(limit: RateLimit) -> Self {
        PeerBuckets {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// Takes a token from `key`'s bucket; `false` means over the limit.
    pub fn try_take(&mut self, key: K, now: Instant) -> bool {
        let limit = self.limit;
        self.buckets
            .entry(key)
            .or_insert_with(|| TokenBucket::new(&limit, now))
            .try_take(&limit, now)
    }

    /// Forgets a key (the peer disconnected), so the map stays bounded by connected peers.
    pub fn remove(&mut self, key: &K) {
        self.buckets.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn burst_then_rate() {
        let limit = RateLimit {
            per_second: 100.0,
            burst: 500.0,
        };
        let start = Instant::now();
        let mut buckets = PeerBuckets::new(limit);
        let passed = (0..10_000).filter(|_| buckets.try_take(1u8, start)).count();
        assert_eq!(passed, 500);
        // A second later 100 more tokens have arrived, not more.
        let later = start + Duration::from_secs(1);
        let passed = (0..10_000).filter(|_| buckets.try_take(1u8, later)).count();
        assert_eq!(passed, 100);
        // Other peers have their own bucket.
        assert!(buckets.try_take(2u8, later));
        // Refill never exceeds the burst.
        let much_later = start + Duration::from_secs(3600);
        let passed = (0..10_000)
            .filter(|_| buckets.try_take(1u8, much_later))
            .count();
        assert_eq!(passed, 500);
    }
}
