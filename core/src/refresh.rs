//! Key-set refreshing, as a state machine that does no IO: the host fetches a JWKS when told to and
//! reports what came back, with `now`; the refresher decides when to fetch next and which key set
//! is current.
//!
//! A host drives one [`Refresher`] per JWKS URL from one task (or behind a mutex):
//!
//! ```text
//! loop {
//!     match refresher.poll(now) {
//!         Poll::Fetch => match http_get(url) {
//!             Ok(response) => refresher.on_fetched(response.status, &response.headers, &response.body, now),
//!             Err(e) => refresher.on_fetch_failed(&e.to_string(), now),
//!         },
//!         Poll::Wait { until } => sleep_until(until), // or until on_unknown_kid says fetch
//!     }
//!     engine.swap_provider_keys(provider, refresher.key_set(now))
//! }
//! ```
//!
//! The rules, each tested in `tests/refresh.rs`:
//!
//! - **Schedule.** After a good fetch, the next one is due after the response's
//!   `Cache-Control: max-age`, clamped to [`RefreshConfig::min_ttl`]..=[`RefreshConfig::max_ttl`]
//!   (5 minutes to 24 hours by default); `no-cache` or `no-store` count as `max-age=0` (so
//!   `min_ttl`); without either, after [`RefreshConfig::default_ttl`] (15 minutes), clamped the
//!   same way.
//! - **Failures keep the last good set.** A network error, a status other than 200, or a body that
//!   is not a JWKS with at least one usable key is a failure: the current set stays, and the next
//!   attempt backs off exponentially from [`RefreshConfig::retry_initial`] (5 s) up to
//!   [`RefreshConfig::retry_max`] (5 minutes), doubling per consecutive failure.
//! - **Stale after.** A set not refreshed for [`RefreshConfig::stale_after`] (48 hours by default)
//!   is no longer served: [`Refresher::key_set`] then answers `key_set_stale`, and tokens are
//!   refused until a fetch succeeds. Keys an identity provider has not confirmed for that long may
//!   be revoked ones.
//! - **Unknown `kid`s.** [`Refresher::on_unknown_kid`] asks for an early fetch at most once per
//!   [`RefreshConfig::unknown_kid_interval`] (30 s) however many requests carry unknown kids, never
//!   inside a failure backoff, and never for a kid the current set has or one longer than
//!   [`crate::key::MAX_KID_LEN`].
//! - **Skipped keys.** Keys Tollgate cannot use (unsupported algorithm or key type, encryption
//!   keys, weak keys, HMAC secrets, every key of a repeated `kid`) are left out and reported
//!   ([`Refresher::skipped`]), not fatal to the set. Body size and key count are capped
//!   ([`crate::limits::MAX_KEY_SET_BYTES`], [`crate::limits::MAX_KEYS`]).
//! - **Clock.** A clock more than [`CLOCK_SLACK`] behind the set's fetch time (corrected back
//!   after running ahead) makes a fetch due at once, and the set counts as stale until it
//!   succeeds: its age is unknown. If that fetch fails, its backoff holds as any failure's. A schedule or an early fetch dated ahead of the clock does not
//!   hold off the next one.
//! - **Rotation.** The set is exactly what the server serves: old and new keys are both valid while
//!   both are served, and a key is gone at the first good fetch that no longer has it.

use std::sync::Arc;

use crate::alg::Algorithm;
use crate::error::{Error, ErrorCode};
use crate::jwk::SkippedKey;
use crate::keyset::KeySet;
use crate::{key, limits};

/// How far the clock may read behind a time the refresher recorded before it stops trusting
/// that record: threads that read the clock a moment apart stay within it, a clock corrected
/// back by minutes or years does not.
pub const CLOCK_SLACK: u64 = 60;

/// When a host should fetch next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Fetch the key set now, then report with [`Refresher::on_fetched`] or
    /// [`Refresher::on_fetch_failed`].
    Fetch,
    /// Nothing to do until `until` (Unix seconds), unless [`Refresher::on_unknown_kid`] says
    /// otherwise first.
    Wait {
        /// When to poll again.
        until: u64,
    },
}

/// The refresher's settings. [`RefreshConfig::default`] gives the documented defaults;
/// [`Refresher::new`] checks them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshConfig {
    /// Shortest time between good fetches, whatever `max-age` says (default 300 s).
    pub min_ttl: u64,
    /// Longest time between good fetches (default 86,400 s).
    pub max_ttl: u64,
    /// Time to the next fetch when the response has no usable `max-age` (default 900 s).
    pub default_ttl: u64,
    /// Least time between two early fetches for unknown kids (default 30 s).
    pub unknown_kid_interval: u64,
    /// First retry delay after a failure (default 5 s); doubled per consecutive failure.
    pub retry_initial: u64,
    /// Longest retry delay (default 300 s).
    pub retry_max: u64,
    /// A set not refreshed for this long is no longer served (default 172,800 s: two days, so a
    /// provider that sends the longest `max-age` gets one more day of retries).
    pub stale_after: u64,
    /// Largest body accepted (default and most: [`limits::MAX_KEY_SET_BYTES`]).
    pub max_body_bytes: usize,
    /// The algorithms whose keys are kept (others are skipped); empty: any. With exactly one, keys
    /// without `alg` are bound to it; otherwise each key needs its own `alg` or a curve that names
    /// one (RSA keys without `alg` are then skipped). [`crate::Engine::refresh_config`] fills it
    /// from a provider's `algorithms`.
    pub algorithms: Vec<Algorithm>,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            min_ttl: 300,
            max_ttl: 86_400,
            default_ttl: 900,
            unknown_kid_interval: 30,
            retry_initial: 5,
            retry_max: 300,
            stale_after: 172_800,
            max_body_bytes: limits::MAX_KEY_SET_BYTES,
            algorithms: Vec::new(),
        }
    }
}

/// The most any of the refresher's durations may be: 30 days.
pub const MAX_REFRESH_SECS: u64 = 30 * 86_400;

impl RefreshConfig {
    /// Checks the settings: every duration in 1..=[`MAX_REFRESH_SECS`], `min_ttl <= default_ttl
    /// <= max_ttl`, `retry_initial <= retry_max`, `max_ttl < stale_after` (a set must be refreshed
    /// before it goes stale), a body cap in 1..=[`limits::MAX_KEY_SET_BYTES`].
    pub fn check(&self) -> Result<(), Error> {
        let bad = |reason: String| Err(Error::InvalidOptions { reason });
        for (name, value) in [
            ("min_ttl", self.min_ttl),
            ("max_ttl", self.max_ttl),
            ("default_ttl", self.default_ttl),
            ("unknown_kid_interval", self.unknown_kid_interval),
            ("retry_initial", self.retry_initial),
            ("retry_max", self.retry_max),
            ("stale_after", self.stale_after),
        ] {
            if value == 0 || value > MAX_REFRESH_SECS {
                return bad(format!(
                    "{name} is {value} s; it must be 1..={MAX_REFRESH_SECS}"
                ));
            }
        }
        if !(self.min_ttl <= self.default_ttl && self.default_ttl <= self.max_ttl) {
            return bad(format!(
                "min_ttl {} <= default_ttl {} <= max_ttl {} does not hold",
                self.min_ttl, self.default_ttl, self.max_ttl
            ));
        }
        if self.retry_initial > self.retry_max {
            return bad(format!(
                "retry_initial {} is above retry_max {}",
                self.retry_initial, self.retry_max
            ));
        }
        if self.stale_after <= self.max_ttl {
            return bad(format!(
                "stale_after {} must be above max_ttl {}: a set would go stale before its refresh",
                self.stale_after, self.max_ttl
            ));
        }
        if self.max_body_bytes == 0 || self.max_body_bytes > limits::MAX_KEY_SET_BYTES {
            return bad(format!(
                "max_body_bytes must be 1..={}",
                limits::MAX_KEY_SET_BYTES
            ));
        }
        Ok(())
    }
}

/// What a good fetch brought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// Usable keys in the new set.
    pub keys: usize,
    /// Keys left out (see [`Refresher::skipped`]).
    pub skipped: usize,
    /// When the next fetch is due.
    pub next_fetch: u64,
}

/// One JWKS URL's refresh state (see the module documentation).
#[derive(Debug)]
pub struct Refresher {
    config: RefreshConfig,
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<u64>,
    next_fetch: u64,
    failures: u32,
    last_kid_fetch: Option<u64>,
    skipped: Vec<SkippedKey>,
    last_error: Option<Error>,
    /// When the last fetch was reported, good or not.
    last_attempt: Option<u64>,
    /// How many good fetches there have been: a host holding something built from the set
    /// (a verifier) builds it again when this moves.
    generation: u64,
}

impl Refresher {
    /// A refresher with no key set yet: the first [`poll`](Self::poll) says fetch.
    pub fn new(config: RefreshConfig) -> Result<Refresher, Error> {
        config.check()?;
        Ok(Refresher {
            config,
            keys: None,
            fetched_at: None,
            next_fetch: 0,
            failures: 0,
            last_kid_fetch: None,
            skipped: Vec::new(),
            last_error: None,
            last_attempt: None,
            generation: 0,
        })
    }

    /// The settings.
    pub fn config(&self) -> &RefreshConfig {
        &self.config
    }

    /// Whether to fetch now, or until when to wait. A clock gone back (see [`CLOCK_SLACK`])
    /// makes a fetch due at once, unless one was tried since by the clock as it reads now (then
    /// its backoff holds): a schedule dated by the clock's wrong time would otherwise wait until
    /// that time comes again.
    pub fn poll(&self, now: u64) -> Poll {
        let furthest = self.config.max_ttl.max(self.config.retry_max);
        let tried_since = self
            .last_attempt
            .is_some_and(|at| at <= now.saturating_add(CLOCK_SLACK));
        if now >= self.next_fetch
            || (self.clock_went_back(now) && !tried_since)
            || self.next_fetch > now.saturating_add(furthest).saturating_add(CLOCK_SLACK)
        {
            Poll::Fetch
        } else {
            Poll::Wait {
                until: self.next_fetch,
            }
        }
    }

    /// Whether `now` is more than [`CLOCK_SLACK`] before the current set's fetch: the clock went
    /// back (or was ahead when it was fetched), and the set's age is unknown.
    fn clock_went_back(&self, now: u64) -> bool {
        self.fetched_at
            .is_some_and(|at| at > now.saturating_add(CLOCK_SLACK))
    }

    /// When the next fetch is due (Unix seconds; 0 before the first).
    pub fn next_fetch(&self) -> u64 {
        self.next_fetch
    }

    /// Reports a response: its HTTP status, its headers (only `Cache-Control` is read; names
    /// case-insensitive) and its body. A good response replaces the key set and returns what it
    /// brought; anything else is a failure (the last good set stays) and returns why.
    pub fn on_fetched(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        now: u64,
    ) -> Result<Fetched, Error> {
        self.last_attempt = Some(now);
        let parsed = if status != 200 {
            Err(fetch_failed(format!(
                "the key set URL answered HTTP {status}"
            )))
        } else if body.len() > self.config.max_body_bytes {
            Err(fetch_failed(format!(
                "the key set is {} bytes; the limit is {}",
                body.len(),
                self.config.max_body_bytes
            )))
        } else {
            KeySet::from_jwks_lenient(body, &self.config.algorithms)
                .map_err(|e| fetch_failed(format!("the body is not a usable JWKS: {e}")))
                .and_then(|(set, skipped)| {
                    if set.is_empty() {
                        let why = skipped
                            .first()
                            .map_or_else(|| "it holds no keys".to_owned(), |s| s.reason.clone());
                        Err(fetch_failed(format!(
                            "the JWKS has no key Tollgate can use ({} skipped): {why}",
                            skipped.len()
                        )))
                    } else {
                        Ok((set, skipped))
                    }
                })
        };
        match parsed {
            Ok((set, skipped)) => {
                let ttl = max_age(headers)
                    .unwrap_or(self.config.default_ttl)
                    .clamp(self.config.min_ttl, self.config.max_ttl);
                let fetched = Fetched {
                    keys: set.len(),
                    skipped: skipped.len(),
                    next_fetch: now.saturating_add(ttl),
                };
                self.keys = Some(Arc::new(set));
                self.skipped = skipped;
                self.fetched_at = Some(now);
                self.generation = self.generation.wrapping_add(1);
                self.next_fetch = fetched.next_fetch;
                self.failures = 0;
                self.last_error = None;
                Ok(fetched)
            }
            Err(e) => {
                self.fail(e.clone(), now);
                Err(e)
            }
        }
    }

    /// Reports a fetch that got no response (connection refused, timeout, TLS error…). The last
    /// good set stays; the next attempt backs off.
    pub fn on_fetch_failed(&mut self, reason: &str, now: u64) {
        self.last_attempt = Some(now);
        self.fail(
            fetch_failed(format!("fetching the key set failed: {reason}")),
            now,
        );
    }

    fn fail(&mut self, error: Error, now: u64) {
        self.failures = self.failures.saturating_add(1);
        let exponent = self.failures.saturating_sub(1).min(32);
        let delay = self
            .config
            .retry_initial
            .saturating_mul(1u64 << exponent)
            .min(self.config.retry_max);
        self.next_fetch = now.saturating_add(delay);
        self.last_error = Some(error);
    }

    /// A token named `kid` and the current set lacks it. Returns `true` when the host should fetch
    /// now (then [`poll`](Self::poll) says so too): at most once per
    /// [`RefreshConfig::unknown_kid_interval`], and never while a failure backoff runs, so a flood
    /// of forged kids costs at most one fetch per interval.
    pub fn on_unknown_kid(&mut self, kid: &str, now: u64) -> bool {
        if kid.len() > key::MAX_KID_LEN
            || self
                .keys
                .as_ref()
                .is_some_and(|set| set.keys().iter().any(|k| k.kid() == Some(kid)))
        {
            return false;
        }
        if self.failures > 0 && now < self.next_fetch {
            return false;
        }
        if let Some(last) = self.last_kid_fetch {
            // An early fetch dated ahead of the clock (it went back) does not hold off the next.
            if last <= now.saturating_add(CLOCK_SLACK)
                && now < last.saturating_add(self.config.unknown_kid_interval)
            {
                return false;
            }
        }
        self.last_kid_fetch = Some(now);
        self.next_fetch = self.next_fetch.min(now);
        true
    }

    /// The current key set: the last good fetch's, unless it is older than
    /// [`RefreshConfig::stale_after`]. Errors: `key_set_fetch_failed` before any good fetch (with
    /// the last failure's reason), `key_set_stale` once the set has gone stale.
    pub fn key_set(&self, now: u64) -> Result<Arc<KeySet>, Error> {
        match (&self.keys, self.fetched_at) {
            (Some(set), Some(at)) => {
                if self.clock_went_back(now) {
                    Err(Error::KeySource {
                        code: ErrorCode::KeySetStale,
                        reason: format!(
                            "the key set was fetched at {at}, after now ({now}): the clock went \
                             back, so its age is unknown until the next fetch"
                        ),
                    })
                } else if now >= at.saturating_add(self.config.stale_after) {
                    Err(Error::KeySource {
                        code: ErrorCode::KeySetStale,
                        reason: format!(
                            "the key set was last fetched at {at}, more than {} s before {now}{}",
                            self.config.stale_after,
                            self.last_error
                                .as_ref()
                                .map_or_else(String::new, |e| format!("; last failure: {e}"))
                        ),
                    })
                } else {
                    Ok(Arc::clone(set))
                }
            }
            _ => Err(self
                .last_error
                .clone()
                .unwrap_or_else(|| fetch_failed("no key set has been fetched yet".to_owned()))),
        }
    }

    /// How many good fetches there have been (0 before the first): what was built from
    /// [`key_set`](Self::key_set) is out of date once this has moved.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// When the current set was fetched (Unix seconds), if ever.
    pub fn fetched_at(&self) -> Option<u64> {
        self.fetched_at
    }

    /// Consecutive failures since the last good fetch.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The last failure, until a fetch succeeds.
    pub fn last_error(&self) -> Option<&Error> {
        self.last_error.as_ref()
    }

    /// The keys the last good fetch left out, and why.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }
}

fn fetch_failed(reason: String) -> Error {
    Error::KeySource {
        code: ErrorCode::KeySetFetchFailed,
        reason,
    }
}

/// The `max-age` of the `Cache-Control` headers, in seconds; `Some(0)` for `no-cache` or
/// `no-store` (the caller's lower bound then applies); `None` without either.
pub fn max_age(headers: &[(&str, &str)]) -> Option<u64> {
    let mut age = None;
    for (_, value) in headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cache-control"))
    {
        for directive in value.split(',').map(str::trim) {
            let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
            let name = name.trim();
            if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
                return Some(0);
            }
            if name.eq_ignore_ascii_case("max-age") {
                let digits = arg.trim().trim_matches('"');
                if !digits.is_empty()
                    && digits.len() <= 12
                    && digits.bytes().all(|b| b.is_ascii_digit())
                {
                    age = digits.parse().ok().or(age);
                }
            }
        }
    }
    age
}
