//! Checks that need a record from a shared store: **pending** and **resume**, with no IO.
//!
//! Where a provider's records live in the store (`"records": "store"` in the policy), a check
//! may need one the engine does not hold: a session, an API key or personal access token, a
//! user's current roles, whether a `jti` is revoked. [`Engine::check_step`] then answers
//! [`Step::Pending`] with the record it needs ([`Pending::lookup`]: kind + hash, never the
//! secret). The host reads that key from its store and calls [`Engine::resume`] with the bytes,
//! or `None` when there is no such record; the check runs again with every answer so far and
//! either decides or asks once more (a personal access token asks for its record, then for its
//! user's roles). A check asks at most [`MAX_STEPS`] times. A host whose store fails calls
//! [`Engine::resume_unavailable`], which decides: `store_unavailable` (503), or — only when the
//! policy sets a `store.grace` period — the request as decided with cached records that exist.
//!
//! ```
//! # use tollgate::{Engine, Request};
//! # use tollgate::pending::Step;
//! # fn fetch(key: &str) -> Result<Option<Vec<u8>>, ()> { Ok(None) }
//! # fn run(engine: &Engine, request: &Request<'_>, now: u64) -> tollgate::Decision {
//! let mut step = engine.check_step(request, now);
//! loop {
//!     match step {
//!         Step::Decided(decision) => return decision,
//!         Step::Pending(pending) => {
//!             step = match fetch(&pending.lookup().store_key()) {
//!                 Ok(record) => engine.resume(pending, record.as_deref(), now),
//!                 Err(()) => Step::Decided(engine.resume_unavailable(pending, now)),
//!             }
//!         }
//!     }
//! }
//! # }
//! ```
//!
//! Answers go into the engine's record cache ([`crate::record_cache`]), so a record fetched for
//! one request serves the next ones for `store.cache_ttl` seconds. A pending check holds the key
//! snapshot it began with, so every step of one check sees the same keys. With every record in
//! the snapshot, `check_step` never answers pending; [`Engine::check`] on a policy with records
//! in the store decides from the cache alone and refuses a miss as `store_unavailable`.

use crate::decision::Decision;
use crate::engine::Engine;
use crate::error::{Error, ErrorCode};
use crate::record::{self, Record, RecordLookup};
use crate::record_cache::{Cached, RecordCache};
use crate::request::Request;
use crate::snapshot::Snapshot;
use std::sync::Arc;

/// Most records one check may ask for. Today's longest chain is two (a personal access token,
/// then its user's roles; a token's revoked `jti`, then its user's roles).
pub const MAX_STEPS: usize = 4;

/// What a step of a check came to.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "a step is returned and matched once, never stored; boxing the decision would allocate on every check"
)]
pub enum Step {
    /// The decision.
    Decided(Decision),
    /// A record is needed first: fetch it and [`Engine::resume`].
    Pending(Pending),
}

impl Step {
    /// The decision, if the check has decided.
    pub fn decided(self) -> Option<Decision> {
        match self {
            Step::Decided(d) => Some(d),
            Step::Pending(_) => None,
        }
    }
}

/// The host's answer for one record.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// The record, checked.
    Found(Arc<Record>),
    /// The store has no such record.
    Absent,
    /// The store's bytes are not a record this build trusts.
    Invalid(Error),
}

/// A copy of the request, so that a check can run again after the host's answer.
#[derive(Clone)]
struct OwnedRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

/// As [`Request`]'s: header values and the query may carry the credential.
impl core::fmt::Debug for OwnedRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let names: Vec<(&str, &str)> = self.headers.iter().map(|(n, _)| (n.as_str(), "")).collect();
        Request::new(&self.method, &self.path, &names).fmt(f)
    }
}

/// A check waiting for a record. Its `Debug` shows what it waits for, never the request's
/// credential or the snapshot's secrets.
pub struct Pending {
    request: OwnedRequest,
    snapshot: Arc<Snapshot>,
    answers: Vec<(RecordLookup, Answer)>,
    wanted: RecordLookup,
    /// The record cache's epoch when `wanted` was asked for.
    asked_at: u64,
}

impl core::fmt::Debug for Pending {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pending")
            .field("request", &self.request)
            .field("wanted", &self.wanted)
            .field("answers", &self.answers.len())
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// The record needed: its kind and hash, and the store key (`tollgate:<kind>:<hash>`).
    pub fn lookup(&self) -> &RecordLookup {
        &self.wanted
    }

    /// How many records this check has been given so far.
    pub fn steps(&self) -> usize {
        self.answers.len()
    }
}

/// How a check reaches records that are not in its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// A host drives the check: a miss makes it pending.
    Host,
    /// Nobody will fetch: a miss is `store_unavailable` ([`Engine::check`]).
    CacheOnly,
    /// The store failed: a miss is `store_unavailable`, and cached records that exist may be used
    /// within the policy's grace period.
    Unavailable,
}

/// The records one run of a check may use: the host's answers so far, then the cache.
pub(crate) struct RecordSource<'a> {
    answers: &'a [(RecordLookup, Answer)],
    cache: &'a RecordCache,
    now: u64,
    reach: Reach,
    /// The record the check stopped for, when it went pending.
    pub(crate) wanted: Option<RecordLookup>,
}

impl<'a> RecordSource<'a> {
    pub(crate) fn new(
        answers: &'a [(RecordLookup, Answer)],
        cache: &'a RecordCache,
        now: u64,
        reach: Reach,
    ) -> RecordSource<'a> {
        RecordSource {
            answers,
            cache,
            now,
            reach,
            wanted: None,
        }
    }

    /// The record for `lookup` (`None`: there is none), or the refusal that stops the check:
    /// `invalid_record`, or `store_unavailable` — which, for a host-driven check, means pending.
    pub(crate) fn get(&mut self, lookup: RecordLookup) -> Result<Option<Arc<Record>>, Error> {
        if let Some((_, answer)) = self.answers.iter().find(|(l, _)| *l == lookup) {
            return match answer {
                Answer::Found(r) => Ok(Some(r.clone())),
                Answer::Absent => Ok(None),
                Answer::Invalid(e) => Err(e.clone()),
            };
        }
        if let Cached::Fresh(r) = self.cache.get(&lookup, self.now) {
            return Ok(r);
        }
        let reason = match self.reach {
            Reach::Host => {
                self.wanted = Some(lookup);
                "the check is pending on the store"
            }
            Reach::CacheOnly => {
                "the record is not in the cache and this check cannot wait for the store; drive it with Engine::check_step"
            }
            Reach::Unavailable => match self.cache.get_within_grace(&lookup, self.now) {
                Some(r) => return Ok(Some(r)),
                None => "the store did not answer",
            },
        };
        Err(Error::Denied {
            code: ErrorCode::StoreUnavailable,
            reason: format!("{reason} ({} record {})", lookup.kind(), lookup.store_key()),
        })
    }
}

impl Engine {
    /// Decides `request` at `now`, or answers which record it needs first (see the module
    /// documentation). Without records in a store, this is [`Engine::check`].
    pub fn check_step(&self, request: &Request<'_>, now: u64) -> Step {
        // The request is copied, and the snapshot pinned, only when the check goes pending.
        let snapshot = self.current_snapshot();
        let mut source = RecordSource::new(&[], self.record_cache(), now, Reach::Host);
        let mut decision = Decision::default();
        self.run_with_records(request, now, &snapshot, &mut decision, &mut source);
        match source.wanted {
            None => Step::Decided(decision),
            Some(wanted) => Step::Pending(Pending {
                request: OwnedRequest {
                    method: request.method.to_owned(),
                    path: request.path.to_owned(),
                    headers: request
                        .headers
                        .iter()
                        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                        .collect(),
                },
                snapshot,
                answers: Vec::new(),
                wanted,
                asked_at: self.record_cache().epoch(),
            }),
        }
    }

    /// Goes on with `pending` given the store's answer for [`Pending::lookup`]: the record's
    /// bytes, or `None` when the store has no such record. The answer is checked (a record that
    /// is not valid for this key decides `invalid_record`, 500) and cached.
    pub fn resume(&self, mut pending: Pending, record: Option<&[u8]>, now: u64) -> Step {
        if let Some(refused) = self.foreign(&pending) {
            return Step::Decided(refused);
        }
        let lookup = pending.wanted;
        let answer = match record {
            None => {
                self.record_cache()
                    .insert(lookup, None, now, pending.asked_at);
                Answer::Absent
            }
            Some(bytes) => match record::parse(self.policy(), &lookup, bytes) {
                Ok(r) => {
                    let r = Arc::new(r);
                    self.record_cache()
                        .insert(lookup, Some(r.clone()), now, pending.asked_at);
                    Answer::Found(r)
                }
                Err(e) => Answer::Invalid(e),
            },
        };
        pending.answers.push((lookup, answer));
        self.step(pending, now, Reach::Host)
    }

    /// Decides `pending` when the store did not answer (unreachable, timed out): the check is
    /// refused with `store_unavailable` (503) — unless the policy sets `store.grace` and every
    /// record the check needs is cached and exists, fetched within `cache_ttl + grace` seconds.
    /// A record the cache says does not exist is never assumed to exist.
    pub fn resume_unavailable(&self, pending: Pending, now: u64) -> Decision {
        if let Some(refused) = self.foreign(&pending) {
            return refused;
        }
        match self.step(pending, now, Reach::Unavailable) {
            Step::Decided(d) => d,
            Step::Pending(_) => Decision::refused(
                ErrorCode::Internal,
                "a check with an unavailable store asked for another record",
            ),
        }
    }

    /// Drops the cached record for `lookup`, so the next check asks the store. Call it for every
    /// message on [`record::INVALIDATE_CHANNEL`].
    pub fn invalidate_record(&self, lookup: &RecordLookup) {
        self.record_cache().invalidate(lookup);
    }

    /// Drops the cached record a store key names (`tollgate:<kind>:<hash>`), or every cached
    /// record for `*`: what a message on [`record::INVALIDATE_CHANNEL`] holds. Errors with
    /// `invalid_request` when the message is neither.
    pub fn invalidate_store_key(&self, key: &str) -> Result<(), Error> {
        if key == "*" {
            self.record_cache().clear();
            return Ok(());
        }
        let lookup = RecordLookup::from_store_key(key).ok_or_else(|| Error::Rejected {
            code: ErrorCode::InvalidRequest,
            reason: format!(
                "{:?} is not a store key (tollgate:<kind>:<64 hex digits>) or *",
                crate::error::truncated(key, 100)
            ),
        })?;
        self.record_cache().invalidate(&lookup);
        Ok(())
    }

    /// Drops every cached record (after the host lost its invalidation channel, for instance).
    pub fn invalidate_all_records(&self) {
        self.record_cache().clear();
    }

    /// The `internal_error` decision for `pending` when another engine made it: its snapshot
    /// holds that engine's keys, in the order of that engine's providers, and its records must
    /// not reach this engine's cache.
    fn foreign(&self, pending: &Pending) -> Option<Decision> {
        (!Arc::ptr_eq(&pending.snapshot.policy, self.policy())).then(|| {
            Decision::refused(
                ErrorCode::Internal,
                "the pending check was made by another engine",
            )
        })
    }

    /// Runs the check again on the pending copy of its request, with every answer so far.
    fn step(&self, mut pending: Pending, now: u64, reach: Reach) -> Step {
        let headers: Vec<(&str, &str)> = pending
            .request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let request = Request::new(&pending.request.method, &pending.request.path, &headers);
        let mut source = RecordSource::new(&pending.answers, self.record_cache(), now, reach);
        let mut decision = Decision::default();
        self.run_with_records(&request, now, &pending.snapshot, &mut decision, &mut source);
        match source.wanted {
            None => Step::Decided(decision),
            // It has asked MAX_STEPS times already: no check needs more.
            Some(_) if pending.answers.len() >= MAX_STEPS => Step::Decided(Decision::refused(
                ErrorCode::Internal,
                "the check asked for more records than any check needs",
            )),
            Some(wanted) => {
                pending.wanted = wanted;
                pending.asked_at = self.record_cache().epoch();
                Step::Pending(pending)
            }
        }
    }
}
