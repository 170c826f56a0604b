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
//! - Bounded: `store.cache_entries` records over 16 shards, and as many "no such record" answers,
//!   kept apart. A full shard first drops the records past their use, then an arbitrary one: a
//!   record dropped early is only fetched again. "No such record" answers go oldest first, at
//!   their TTL or when over the bound: anyone can make lookups miss, and a flood of them must
//!   only push out other such answers, never the records real callers need.
//! - Invalid records are never cached. One cache per engine, never shared across policies.
//! - An answer read before an invalidation and arriving after it is not cached: every
//!   invalidation bumps an epoch, and a pending check remembers the epoch it went pending at
//!   (`RecordCache::epoch`), so a revocation published while a `GET` is in flight cannot put
//!   the old record back for a whole TTL.

use crate::policy::StoreDoc;
use crate::record::{Record, RecordLookup};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

const SHARDS: usize = 16;

/// A record the store holds, and when it was fetched.
#[derive(Debug, Clone)]
struct Entry {
    record: Arc<Record>,
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

/// One shard. Records and "no such record" answers are kept apart, each within the bound: anyone
/// can make lookups miss (any key of the right form, any session id), and such answers must
/// never push out the records that callers with real credentials need.
#[derive(Debug, Default)]
struct Shard {
    records: HashMap<RecordLookup, Entry>,
    /// The store's "no such record" answers: when each was fetched.
    absent: HashMap<RecordLookup, u64>,
    /// The same answers as they came, oldest first, so the oldest goes first in O(1). It may
    /// hold answers since replaced or dropped (told apart by their time); at most twice the
    /// bound.
    absent_order: VecDeque<(RecordLookup, u64)>,
}

#[derive(Debug)]
pub(crate) struct RecordCache {
    settings: StoreDoc,
    per_shard: usize,
    shards: Vec<RwLock<Shard>>,
    /// Bumped by every invalidation.
    epoch: AtomicU64,
}

impl RecordCache {
    pub(crate) fn new(settings: StoreDoc) -> RecordCache {
        RecordCache {
            settings,
            per_shard: (settings.cache_entries / SHARDS).max(1),
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            epoch: AtomicU64::new(0),
        }
    }

    fn shard(&self, lookup: &RecordLookup) -> Option<&RwLock<Shard>> {
        // The hash is SHA-256 output: its first byte spreads evenly.
        let first = lookup.hash().first().copied().unwrap_or(0);
        self.shards.get(usize::from(first) % SHARDS)
    }

    fn read(lock: &RwLock<Shard>) -> RwLockReadGuard<'_, Shard> {
        // A panic while holding the lock leaves a shard that is still consistent (inserts and
        // removals are single calls), so a poisoned lock is used as it is.
        lock.read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(lock: &RwLock<Shard>) -> RwLockWriteGuard<'_, Shard> {
        lock.write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether something fetched at `fetched` is still fresh at `now`.
    fn fresh(&self, fetched: u64, now: u64) -> bool {
        fetched <= now && now - fetched < self.settings.cache_ttl
    }

    /// The entry for `lookup`, if fetched no more than `cache_ttl` seconds before `now`.
    pub(crate) fn get(&self, lookup: &RecordLookup, now: u64) -> Cached {
        let Some(shard) = self.shard(lookup) else {
            return Cached::Miss;
        };
        let shard = Self::read(shard);
        if let Some(e) = shard.records.get(lookup) {
            if self.fresh(e.fetched, now) {
                return Cached::Fresh(Some(e.record.clone()));
            }
        } else if let Some(&fetched) = shard.absent.get(lookup) {
            if self.fresh(fetched, now) {
                return Cached::Fresh(None);
            }
        }
        Cached::Miss
    }

    /// A record that exists, fetched no more than `cache_ttl + grace` seconds before `now`: what
    /// a check may use when the store does not answer and the policy allows a grace period.
    pub(crate) fn get_within_grace(&self, lookup: &RecordLookup, now: u64) -> Option<Arc<Record>> {
        if self.settings.grace == 0 {
            return None;
        }
        let shard = self.shard(lookup)?;
        let limit = self.settings.cache_ttl.saturating_add(self.settings.grace);
        let shard = Self::read(shard);
        let e = shard.records.get(lookup)?;
        (e.fetched <= now && now - e.fetched < limit).then(|| e.record.clone())
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
        let mut shard = Self::write(shard);
        // Compared under the shard's lock: an invalidation bumps the epoch before it takes that
        // lock, so it either finds this entry to remove or has bumped the epoch before this
        // comparison. Compared before the lock, an invalidation could run between the two and
        // the overtaken answer would be cached for a whole TTL.
        if self.epoch() != asked_at {
            return;
        }
        match record {
            Some(record) => {
                shard.absent.remove(&lookup);
                let records = &mut shard.records;
                if records.len() >= self.per_shard && !records.contains_key(&lookup) {
                    let keep = self.settings.cache_ttl.saturating_add(self.settings.grace);
                    records.retain(|_, e| e.fetched <= now && now - e.fetched < keep);
                    if records.len() >= self.per_shard {
                        if let Some(victim) = records.keys().next().copied() {
                            records.remove(&victim);
                        }
                    }
                }
                records.insert(
                    lookup,
                    Entry {
                        record,
                        fetched: now,
                    },
                );
            }
            None => {
                shard.records.remove(&lookup);
                shard.absent.insert(lookup, now);
                shard.absent_order.push_back((lookup, now));
                // The oldest answers go first: past their TTL (nothing reads them then), over
                // the bound, or when the queue holds too many replaced ones.
                let ttl = self.settings.cache_ttl;
                while let Some(&(oldest, fetched)) = shard.absent_order.front() {
                    let over = shard.absent.len() > self.per_shard
                        || shard.absent_order.len() > 2 * self.per_shard;
                    if !over && fetched <= now && now - fetched < ttl {
                        break;
                    }
                    shard.absent_order.pop_front();
                    if shard.absent.get(&oldest) == Some(&fetched) {
                        shard.absent.remove(&oldest);
                    }
                }
            }
        }
    }

    /// Forgets `lookup`.
    pub(crate) fn invalidate(&self, lookup: &RecordLookup) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(shard) = self.shard(lookup) {
            let mut shard = Self::write(shard);
            shard.records.remove(lookup);
            shard.absent.remove(lookup);
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        for shard in &self.shards {
            *Self::write(shard) = Shard::default();
        }
    }

    /// How many entries it holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                let s = Self::read(s);
                s.records.len() + s.absent.len()
            })
            .sum()
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
    fn a_flood_of_lookups_that_miss_never_pushes_out_a_record() {
        // 16 records in a cache of 16 entries, then 100,000 lookups of keys that do not exist
        // (anyone can send those), all at once and later: every record is still there.
        let c = RecordCache::new(settings(5, 60, 16));
        let records: Vec<_> = (0..16u32)
            .map(|i| {
                // One record per shard, so each shard is full.
                let mut hash = crate::crypto::sha256(&i.to_be_bytes());
                hash[0] = u8::try_from(i).unwrap();
                RecordLookup::new(RecordKind::User, hash)
            })
            .collect();
        for l in &records {
            c.insert(*l, positive(), 100, 0);
        }
        for i in 0..100_000u32 {
            let miss =
                RecordLookup::new(RecordKind::ApiKey, crate::crypto::sha256(&i.to_le_bytes()));
            c.insert(miss, None, 100 + u64::from(i % 4), 0);
        }
        for l in &records {
            assert!(matches!(c.get(l, 104), Cached::Fresh(Some(_))));
            assert!(c.get_within_grace(l, 150).is_some());
        }
        // The answers are bounded as the records are, and go at their TTL.
        assert!(c.len() <= 32, "{}", c.len());
        let last = RecordLookup::new(RecordKind::ApiKey, crate::crypto::sha256(b"last"));
        c.insert(last, None, 200, 0);
        assert!(matches!(c.get(&last, 200), Cached::Fresh(None)));
        assert!(matches!(c.get(&last, 205), Cached::Miss));
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
