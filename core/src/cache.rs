//! The verified-token cache: a token seen again skips its signature check.
//!
//! - Keyed by the full token bytes: a SipHash of the signature segment (keyed per cache, so an
//!   attacker cannot aim collisions) picks the slot, and the whole token is compared before a hit
//!   counts. No SHA on the hot path.
//! - An entry holds the decoded header and claims; a hit copies them into the caller's buffer and
//!   parses them again, and the claims are validated again at the current `now`, so a hit yields
//!   exactly what a fresh verify would. An entry lives until the earlier of the token's `exp` and
//!   the cache's TTL.
//! - Bounded in entries and bytes. Sharded read-write locks: many threads read at once, and a
//!   miss takes a write lock only to insert, after its own verification, so misses never block
//!   hits for the length of a signature check.
//! - Never shared: a [`crate::Verifier`] owns its cache (its keys never change), and the engine
//!   keeps one per key snapshot, so every snapshot swap (rotation, revocation, `jti` deny-list
//!   change) starts from an empty cache.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::RwLock;

const SHARDS: usize = 16;

/// Cache bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Most entries.
    pub max_entries: usize,
    /// Most bytes held (tokens plus decoded header and claims).
    pub max_bytes: usize,
    /// Longest an entry lives, in seconds (it also never outlives the token's `exp`).
    pub ttl_secs: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: 10_000,
            max_bytes: 32 * 1024 * 1024,
            ttl_secs: 300,
        }
    }
}

/// One cached verification.
pub(crate) struct Entry {
    token: Box<[u8]>,
    /// Decoded header, then decoded payload.
    pub(crate) decoded: Box<[u8]>,
    pub(crate) header_len: usize,
    /// Where it was verified.
    pub(crate) origin: Origin,
    valid_until: u64,
}

/// Where a cached verification was made: for the engine, the credential's place, the provider
/// that place and the token's issuer chose, and the snapshot generation (all zero for a plain
/// verifier). The same token from the same place under the same snapshot is verified the same way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Origin {
    /// The credential source's index in the policy.
    pub(crate) source: usize,
    /// The provider's index in the policy.
    pub(crate) provider: usize,
    /// The key snapshot's generation.
    pub(crate) generation: u64,
}

/// Lengths and place only: the token is a live credential, and the decoded bytes are it again.
impl core::fmt::Debug for Entry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Entry")
            .field("token_len", &self.token.len())
            .field("origin", &self.origin)
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
}

impl Entry {
    fn size(&self) -> usize {
        self.token.len() + self.decoded.len() + 64
    }
}

/// The cache.
pub(crate) struct TokenCache {
    config: CacheConfig,
    hasher: RandomState,
    shards: Vec<RwLock<Shard>>,
    /// Most entries and bytes per shard: the shards together hold at most the configured bounds.
    shard_entries: usize,
    shard_bytes: usize,
}

/// One shard's entries and the bytes they hold (kept as they change, so an insert never sums the
/// shard under its write lock).
#[derive(Default)]
struct Shard {
    map: HashMap<u64, Entry>,
    bytes: usize,
}

impl Shard {
    fn remove(&mut self, h: u64) {
        if let Some(old) = self.map.remove(&h) {
            self.bytes = self.bytes.saturating_sub(old.size());
        }
    }
}

/// Bounds and occupancy only: the entries are live credentials.
impl core::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let entries: usize = self
            .shards
            .iter()
            .filter_map(|s| s.read().ok().map(|s| s.map.len()))
            .sum();
        f.debug_struct("TokenCache")
            .field("config", &self.config)
            .field("entries", &entries)
            .finish_non_exhaustive()
    }
}

/// The part of a token that picks its slot: its signature segment (unique per signed content).
fn slot_key(token: &[u8]) -> &[u8] {
    match token.iter().rposition(|&b| b == b'.') {
        Some(i) => token.get(i..).unwrap_or(token),
        None => token,
    }
}

impl TokenCache {
    pub(crate) fn new(config: CacheConfig) -> TokenCache {
        // Fewer shards than entries allowed, so that each holds at least one and together they
        // hold no more than `max_entries` (a cache of 0 entries has one shard and caches nothing).
        let shards = config.max_entries.clamp(1, SHARDS);
        TokenCache {
            config,
            hasher: RandomState::new(),
            shards: (0..shards).map(|_| RwLock::new(Shard::default())).collect(),
            shard_entries: config.max_entries / shards,
            shard_bytes: config.max_bytes / shards,
        }
    }

    fn locate(&self, token: &[u8]) -> (u64, Option<&RwLock<Shard>>) {
        let h = self.hasher.hash_one(slot_key(token));
        let shard = usize::try_from(h % self.shards.len() as u64).unwrap_or(0);
        (h, self.shards.get(shard))
    }

    /// Calls `f` with the entry for `token` if there is a live one at `now`.
    pub(crate) fn with_hit<R>(
        &self,
        token: &[u8],
        now: u64,
        f: impl FnOnce(&Entry) -> R,
    ) -> Option<R> {
        let (h, shard) = self.locate(token);
        let shard = shard?.read().ok()?;
        let entry = shard.map.get(&h)?;
        if entry.valid_until <= now || *entry.token != *token {
            return None;
        }
        Some(f(entry))
    }

    /// Remembers a verification done at `now` of a token expiring at `exp`.
    pub(crate) fn insert(
        &self,
        token: &[u8],
        header: &[u8],
        payload: &[u8],
        origin: Origin,
        exp: Option<f64>,
        now: u64,
    ) {
        let ttl_end = now.saturating_add(self.config.ttl_secs);
        let valid_until = match exp {
            // exp bounds the entry; `now >= exp` is expired, so the entry ends at floor-ish exp.
            Some(e) if e.is_finite() && e >= 0.0 => {
                let e = e.floor();
                if e < ttl_end as f64 {
                    e as u64
                } else {
                    ttl_end
                }
            }
            Some(_) => return,
            None => ttl_end,
        };
        if valid_until <= now {
            return;
        }
        let mut decoded = Vec::with_capacity(header.len() + payload.len());
        decoded.extend_from_slice(header);
        decoded.extend_from_slice(payload);
        let entry = Entry {
            token: token.into(),
            decoded: decoded.into_boxed_slice(),
            header_len: header.len(),
            origin,
            valid_until,
        };
        let size = entry.size();
        if size > self.shard_bytes || self.shard_entries == 0 {
            return;
        }
        let (h, shard) = self.locate(token);
        let Some(shard) = shard else { return };
        let Ok(mut shard) = shard.write() else { return };
        // The slot's previous entry (another token with the same hash, or this one) gives way.
        shard.remove(h);
        if shard.map.len() >= self.shard_entries || shard.bytes + size > self.shard_bytes {
            // Make room in one pass: drop expired entries, and arbitrary ones until the shard is
            // down to seven eighths of its bounds with this entry in, so that the next inserts
            // find room without another pass.
            let keep_entries = self.shard_entries - (self.shard_entries / 8).max(1);
            let keep_bytes = (self.shard_bytes - self.shard_bytes / 8).saturating_sub(size);
            let (mut len, mut bytes) = (shard.map.len(), shard.bytes);
            shard.map.retain(|_, e| {
                let drop = e.valid_until <= now || len > keep_entries || bytes > keep_bytes;
                if drop {
                    len -= 1;
                    bytes = bytes.saturating_sub(e.size());
                }
                !drop
            });
            shard.bytes = bytes;
        }
        shard.bytes += size;
        shard.map.insert(h, entry);
    }

    /// Drops every entry (a snapshot swap frees the memory of the old generation at once).
    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            if let Ok(mut shard) = shard.write() {
                *shard = Shard::default();
            }
        }
    }

    /// Entries held now.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .filter_map(|s| s.read().ok().map(|s| s.map.len()))
            .sum()
    }

    /// Bytes held now, as the shards count them.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.shards
            .iter()
            .filter_map(|s| s.read().ok().map(|s| s.bytes))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_need_the_whole_token_and_a_live_entry() {
        let cache = TokenCache::new(CacheConfig {
            ttl_secs: 100,
            ..CacheConfig::default()
        });
        let origin = Origin {
            source: 1,
            provider: 3,
            generation: 7,
        };
        cache.insert(b"h.p.sig", b"{\"a\":1}", b"{}", origin, Some(150.0), 10);
        assert_eq!(
            cache.with_hit(b"h.p.sig", 50, |e| (e.origin, e.header_len)),
            Some((origin, 7))
        );
        // Same signature segment, other content: a miss, not a hit.
        assert!(cache.with_hit(b"x.p.sig", 50, |_| ()).is_none());
        // The TTL (10 + 100) ends the entry before exp (150).
        assert!(cache.with_hit(b"h.p.sig", 110, |_| ()).is_none());
        cache.insert(b"a.b.c", b"{}", b"{}", Origin::default(), Some(30.0), 10);
        assert!(cache.with_hit(b"a.b.c", 29, |_| ()).is_some());
        assert!(cache.with_hit(b"a.b.c", 30, |_| ()).is_none());
        // Already expired or unbounded-negative: never cached.
        cache.insert(b"d.e.f", b"{}", b"{}", Origin::default(), Some(5.0), 10);
        assert!(cache.with_hit(b"d.e.f", 10, |_| ()).is_none());
    }

    #[test]
    fn bounded_in_entries() {
        let cache = TokenCache::new(CacheConfig {
            max_entries: 32,
            max_bytes: 1 << 20,
            ttl_secs: 100,
        });
        for i in 0..1000u32 {
            let token = format!("h.p.{i}");
            cache.insert(token.as_bytes(), b"{}", b"{}", Origin::default(), None, 0);
        }
        assert!(cache.len() <= 32, "{}", cache.len());
        assert!(cache.len() >= 16);
        cache.clear();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn small_bounds_hold_exactly() {
        for max_entries in [0, 1, 3, 15, 16, 17] {
            let cache = TokenCache::new(CacheConfig {
                max_entries,
                max_bytes: 1 << 20,
                ttl_secs: 100,
            });
            for i in 0..200u32 {
                let token = format!("h.p.{i}");
                cache.insert(token.as_bytes(), b"{}", b"{}", Origin::default(), None, 0);
                assert!(cache.len() <= max_entries, "{max_entries}: {}", cache.len());
            }
            // The last token in is always held, unless nothing may be.
            assert_eq!(
                cache.with_hit(b"h.p.199", 1, |_| ()).is_some(),
                max_entries > 0
            );
        }
    }

    #[test]
    fn bounded_in_bytes_by_a_running_total() {
        // Entries of 4 + 2 + 2 + 64 = 72 bytes; 16 shards of 720 bytes hold at most 10 each.
        let cache = TokenCache::new(CacheConfig {
            max_entries: 100_000,
            max_bytes: 16 * 720,
            ttl_secs: 100,
        });
        for i in 0..5000u32 {
            let token = format!("t{:03}", i % 1000);
            cache.insert(token.as_bytes(), b"{}", b"{}", Origin::default(), None, 0);
            assert_eq!(cache.bytes(), cache.len() * 72);
            assert!(cache.bytes() <= 16 * 720);
        }
        assert!(cache.len() >= 16 * 5, "{}", cache.len());
        // Expired entries are dropped first: after the TTL every old entry gives way.
        for i in 0..2000u32 {
            let token = format!("u{:03}", i % 1000);
            cache.insert(token.as_bytes(), b"{}", b"{}", Origin::default(), None, 200);
        }
        assert!(cache.shards.iter().all(|s| s
            .read()
            .unwrap()
            .map
            .values()
            .all(|e| e.valid_until > 200)));
    }

    #[test]
    fn debug_shows_no_token() {
        let cache = TokenCache::new(CacheConfig::default());
        cache.insert(b"eyJh.eyJz.c2ln", b"{}", b"{}", Origin::default(), None, 0);
        let shown = format!("{cache:?}");
        assert!(shown.contains("entries: 1"), "{shown}");
        assert!(!shown.contains("eyJ") && !shown.contains("c2ln"), "{shown}");
    }
}
