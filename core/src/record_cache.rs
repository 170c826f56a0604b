//! The record cache: records fetched from the shared store, kept for a short while in process.
//!
//! - Keyed by [`RecordLookup`] (kind + hash). An entry holds the compiled record, or the store's
//!   answer that there is none (a negative entry), and when it was fetched.
//! - Fresh for `store.cache_ttl` seconds (default 5): a check in that time uses it without asking
//!   the store. Positive entries are kept `store.grace` seconds longer (default 0), for the one
//!   use the policy may allow: a check whose store does not answer (see
//!   [`crate::Engine::resume_unavailable`]).
//! - Dropped on an invalidation ([`crate::Engine::invalidate_record`], fed by the host from the
//!   store's `tollgate:invalidate` channel), so a revocation reaches every instance at once rather
//!   than after the TTL.
//! - Bounded: `store.cache_entries` over 16 shards. A full shard first drops what is past its
//!   use, then an arbitrary entry: a record dropped early is only fetched again.
//! - Invalid records are never cached. One cache per engine, never shared across policies.
//! - An answer read before an invalidation and arriving after it is not cached: every
//!   invalidation bumps an epoch, and a pending check remembers the epoch it went pending at
//!   (`RecordCache::epoch`), so a revocation published while a `GET` is in flight cannot put
//!   the old record back for a whole TTL.

use crate::policy::StoreDoc;
use crate::record::{Record, RecordLookup};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

const SHARDS: usize = 16;

#[derive(Debug, Clone)]
struct Entry {
    record: Option<Arc<Record>>,
    fetched: u64,
}

/// What the cache knows of a record.
#[derive(Debug, Clone)]
pub(crate) enum Cached {
    /// Nothing usable: ask the store.
    Miss,
    /// The store said the record exists (`Some`) or does not (`None`).
    Fresh(Option<Arc<Record>>),
}

#[derive(Debug)]
pub(crate) struct RecordCache {
    settings: StoreDoc,
    per_shard: usize,
    shards: Vec<RwLock<HashMap<RecordLookup, Entry>>>,
    /// Bumped by every invalidation.
    epoch: AtomicU64,
}

impl RecordCache {
    pub(crate) fn new(settings: StoreDoc) -> RecordCache {
        RecordCache {
            settings,
            per_shard: settings.cache_entries.div_ceil(SHARDS).max(1),
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            epoch: AtomicU64::new(0),
        }
    }

    fn shard(&self, lookup: &RecordLookup) -> Option<&RwLock<HashMap<RecordLookup, Entry>>> {
        // The hash is SHA-256 output: its first byte spreads evenly.
        let first = lookup.hash().first().copied().unwrap_or(0);
        self.shards.get(usize::from(first) % SHARDS)
    }

    fn read(
        lock: &RwLock<HashMap<RecordLookup, Entry>>,
    ) -> RwLockReadGuard<'_, HashMap<RecordLookup, Entry>> {
        // A panic while holding the lock leaves a map that is still consistent (inserts and
        // removals are single calls), so a poisoned lock is used as it is.
        lock.read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(
        lock: &RwLock<HashMap<RecordLookup, Entry>>,
    ) -> RwLockWriteGuard<'_, HashMap<RecordLookup, Entry>> {
        lock.write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The entry for `lookup`, if fetched no more than `cache_ttl` seconds before `now`.
    pub(crate) fn get(&self, lookup: &RecordLookup, now: u64) -> Cached {
        let Some(shard) = self.shard(lookup) else {
            return Cached::Miss;
        };
        match Self::read(shard).get(lookup) {
            Some(e)
                if now.saturating_sub(e.fetched) < self.settings.cache_ttl && e.fetched <= now =>
            {
                Cached::Fresh(e.record.clone())
            }
            _ => Cached::Miss,
        }
    }

    /// A record that exists, fetched no more than `cache_ttl + grace` seconds before `now`: what
    /// a check may use when the store does not answer and the policy allows a grace period.
    pub(crate) fn get_within_grace(&self, lookup: &RecordLookup, now: u64) -> Option<Arc<Record>> {
        if self.settings.grace == 0 {
            return None;
        }
        let shard = self.shard(lookup)?;
        let limit = self.settings.cache_ttl.saturating_add(self.settings.grace);
        let map = Self::read(shard);
        let e = map.get(lookup)?;
        if e.fetched <= now && now - e.fetched < limit {
            e.record.clone()
        } else {
            None
        }
    }

    /// How many invalidations there have been: taken before a record is fetched, given back to
    /// [`RecordCache::insert`].
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Remembers the store's answer for `lookup`, fetched at `now` after [`RecordCache::epoch`]
    /// said `asked_at`; an answer that an invalidation has overtaken since is not remembered.
    pub(crate) fn insert(
        &self,
        lookup: RecordLookup,
        record: Option<Arc<Record>>,
        now: u64,
        asked_at: u64,
    ) {
        if self.settings.cache_ttl == 0 {
            return;
        }
        let Some(shard) = self.shard(&lookup) else {
            return;
        };
        #[cfg(test)]
        tests::before_insert_lock();
        let mut map = Self::write(shard);
        // Compared under the shard's lock: an invalidation bumps the epoch before it takes that
        // lock, so it either finds this entry to remove or has bumped the epoch before this
        // comparison. Compared before the lock, an invalidation could run between the two and
        // the overtaken answer would be cached for a whole TTL.
        if self.epoch() != asked_at {
            return;
        }
        if map.len() >= self.per_shard && !map.contains_key(&lookup) {
            let keep = self.settings.cache_ttl.saturating_add(self.settings.grace);
            map.retain(|_, e| e.fetched <= now && now - e.fetched < keep);
            if map.len() >= self.per_shard {
                if let Some(victim) = map.keys().next().copied() {
                    map.remove(&victim);
                }
            }
        }
        map.insert(
            lookup,
            Entry {
                record,
                fetched: now,
            },
        );
    }

    /// Forgets `lookup`.
    pub(crate) fn invalidate(&self, lookup: &RecordLookup) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(shard) = self.shard(lookup) {
            Self::write(shard).remove(lookup);
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in &self.shards {
            Self::write(shard).clear();
        }
    }

    /// How many entries it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| Self::read(s).len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordKind;

    fn settings(ttl: u64, grace: u64, entries: usize) -> StoreDoc {
        StoreDoc {
            cache_ttl: ttl,
            grace,
            cache_entries: entries,
        }
    }

    thread_local! {
        /// Runs in `insert` just before it takes the shard's lock, on the inserting thread.
        static BEFORE_INSERT_LOCK: core::cell::RefCell<Option<Box<dyn FnMut()>>> =
            const { core::cell::RefCell::new(None) };
    }

    pub(super) fn before_insert_lock() {
        BEFORE_INSERT_LOCK.with(|hook| {
            if let Some(f) = hook.borrow_mut().as_mut() {
                f();
            }
        });
    }

    fn positive() -> Option<Arc<Record>> {
        Some(Arc::new(Record::RevokedJti))
    }

    #[test]
    fn entries_are_fresh_for_the_ttl_then_missed() {
        let c = RecordCache::new(settings(5, 0, 100));
        let l = RecordLookup::revoked_jti("a");
        c.insert(l, positive(), 100, 0);
        assert!(matches!(c.get(&l, 100), Cached::Fresh(Some(_))));
        assert!(matches!(c.get(&l, 104), Cached::Fresh(Some(_))));
        assert!(matches!(c.get(&l, 105), Cached::Miss));
        // A clock that went back does not make an entry fresh for longer.
        assert!(matches!(c.get(&l, 99), Cached::Miss));
        let n = RecordLookup::revoked_jti("b");
        c.insert(n, None, 100, 0);
        assert!(matches!(c.get(&n, 101), Cached::Fresh(None)));
        c.invalidate(&n);
        assert!(matches!(c.get(&n, 101), Cached::Miss));
    }

    #[test]
    fn grace_serves_only_records_that_exist_and_only_when_allowed() {
        let c = RecordCache::new(settings(5, 60, 100));
        let (p, n) = (RecordLookup::user("p"), RecordLookup::user("n"));
        c.insert(p, positive(), 100, 0);
        c.insert(n, None, 100, 0);
        assert!(c.get_within_grace(&p, 164).is_some());
        assert!(c.get_within_grace(&p, 165).is_none());
        assert!(c.get_within_grace(&n, 101).is_none());
        let strict = RecordCache::new(settings(5, 0, 100));
        strict.insert(p, positive(), 100, 0);
        assert!(strict.get_within_grace(&p, 101).is_none());
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let c = RecordCache::new(settings(5, 0, 32));
        for i in 0..10_000u32 {
            c.insert(
                RecordLookup::new(RecordKind::User, crate::crypto::sha256(&i.to_be_bytes())),
                None,
                100,
                0,
            );
        }
        assert!(c.len() <= 32, "{}", c.len());
        c.clear();
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn an_answer_overtaken_by_an_invalidation_is_not_cached() {
        let c = RecordCache::new(settings(5, 0, 100));
        let l = RecordLookup::user("x");
        let asked_at = c.epoch();
        c.invalidate(&RecordLookup::user("someone else"));
        c.insert(l, positive(), 100, asked_at);
        assert!(matches!(c.get(&l, 100), Cached::Miss));
        c.insert(l, positive(), 100, c.epoch());
        assert!(matches!(c.get(&l, 100), Cached::Fresh(Some(_))));
    }

    #[test]
    fn an_invalidation_racing_an_insert_is_not_undone() {
        // The interleaving that used to cache a revoked record: the answer was asked for before
        // the invalidation, which runs after `insert` has begun but before it holds the lock.
        let c = Arc::new(RecordCache::new(settings(5, 0, 100)));
        let l = RecordLookup::user("x");
        let asked_at = c.epoch();
        let other = c.clone();
        BEFORE_INSERT_LOCK
            .with(|hook| *hook.borrow_mut() = Some(Box::new(move || other.invalidate(&l))));
        c.insert(l, positive(), 100, asked_at);
        BEFORE_INSERT_LOCK.with(|hook| *hook.borrow_mut() = None);
        assert!(matches!(c.get(&l, 100), Cached::Miss));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let c = RecordCache::new(settings(0, 0, 32));
        let l = RecordLookup::user("x");
        c.insert(l, positive(), 100, 0);
        assert_eq!(c.len(), 0);
        assert!(matches!(c.get(&l, 100), Cached::Miss));
    }
}
