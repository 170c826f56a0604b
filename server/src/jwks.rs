//! `--jwks PROVIDER=URL`: one [`Refresher`] per provider, driven by one task each. The task fetches
//! when the refresher says so, or sooner when a decision names a `kid` the provider's keys lack
//! and the refresher allows an early fetch (at most one per `unknown_kid_interval`, so a flood of
//! forged kids costs one fetch), and swaps the refresher's set into the engine in use.
//!
//! A `--jwks` provider's keys come from its URL only: the key file's keys for it are replaced at
//! every load and reload by the refresher's set, or by no keys before the first good fetch and
//! once the set has gone stale (fail closed). Every snapshot change (a task's swap, a reload)
//! happens under the reload lock, so none overwrites another.
//!
//! A reloaded policy that changes a provider's refresh settings (its `algorithms`) starts that
//! source over: a new refresher under the new settings reads the provider's last JWKS again (as
//! of when it was fetched, so it goes stale as it would have), the new engine gets what that
//! gives, and a fetch is due at once. Keys of an algorithm the new policy dropped are never
//! served under it; keys it still allows are served without a gap, even while the identity
//! provider cannot be reached. When the last response holds no key the new settings allow, the
//! provider's tokens are refused and `/readyz` answers 503 until a fetch brings one.
//!
//! The schedule runs on the system clock, even with `--now` (which fixes decision time only).

use crate::fetch::Client;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tollgate::refresh::{Poll, RefreshConfig, Refresher};
use tollgate::{discovery, Engine, Error, KeySet, Snapshot};

/// One `--jwks` provider: its URL, its refresher and what the metrics report.
pub(crate) struct Source {
    pub(crate) provider: String,
    pub(crate) url: String,
    refresher: Mutex<Refresher>,
    wake: tokio::sync::Notify,
    fetches_ok: AtomicU64,
    fetches_failed: AtomicU64,
    /// When the current set was fetched (Unix seconds); 0 before the first good fetch.
    fetched_at: AtomicU64,
    /// The last JWKS the provider answered and when it came (kept even when these settings found
    /// no key in it): what a restarted refresher reads again.
    last_good: Mutex<Option<(Vec<u8>, u64)>>,
    /// Fetch at the next turn of the task, whatever the schedule says (set by a restart).
    fetch_now: AtomicBool,
}

/// The system clock in Unix seconds.
pub(crate) fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Parses `PROVIDER=URL` (the URL checked as [`discovery::check_url`] does).
pub(crate) fn parse_arg(text: &str) -> Result<(String, String), String> {
    let (provider, url) = text
        .split_once('=')
        .filter(|(p, u)| !p.is_empty() && !u.is_empty())
        .ok_or_else(|| format!("{text:?} is not PROVIDER=URL"))?;
    discovery::check_url(url, "the JWKS URL").map_err(|e| e.to_string())?;
    Ok((provider.to_owned(), url.to_owned()))
}

impl Source {
    /// A source for `provider` of `engine`'s policy, with the provider's refresh settings.
    pub(crate) fn new(engine: &Engine, provider: &str, url: &str) -> Result<Source, String> {
        discovery::check_url(url, "the JWKS URL").map_err(|e| format!("--jwks {provider}: {e}"))?;
        let refresher = engine
            .refresh_config(provider)
            .and_then(Refresher::new)
            .map_err(|e| format!("--jwks {provider}: {e}"))?;
        Ok(Source {
            provider: provider.to_owned(),
            url: url.to_owned(),
            refresher: Mutex::new(refresher),
            wake: tokio::sync::Notify::new(),
            fetches_ok: AtomicU64::new(0),
            fetches_failed: AtomicU64::new(0),
            fetched_at: AtomicU64::new(0),
            last_good: Mutex::new(None),
            fetch_now: AtomicBool::new(false),
        })
    }

    fn refresher(&self) -> MutexGuard<'_, Refresher> {
        match self.refresher.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Whether a good fetch has happened.
    pub(crate) fn has_fetched(&self) -> bool {
        self.fetched_at.load(Ordering::Relaxed) != 0
    }

    /// A decision named `kid`, which this provider's keys lack: wakes the task if the refresher
    /// allows an early fetch.
    pub(crate) fn unknown_kid(&self, kid: &str) {
        if self.refresher().on_unknown_kid(kid, system_now()) {
            tracing::info!(provider = %self.provider, kid, "unknown kid: fetching the key set early");
            self.wake.notify_one();
        }
    }

    /// The set to serve for this provider now: the refresher's, or none (fail closed).
    fn current(&self, now: u64) -> Result<Arc<KeySet>, Error> {
        self.refresher().key_set(now)
    }

    /// The refresh settings `engine`'s policy gives this provider, when they differ from the
    /// refresher's: a reload to that engine starts the source over ([`Source::restart`]). The
    /// order the policy lists the algorithms in means nothing, so it is not a difference.
    pub(crate) fn changed_config(&self, engine: &Engine) -> Option<RefreshConfig> {
        let config = engine.refresh_config(&self.provider).ok()?;
        let unordered = |c: &RefreshConfig| {
            let mut c = c.clone();
            c.algorithms.sort_unstable();
            c
        };
        (unordered(&config) != unordered(self.refresher().config())).then_some(config)
    }

    /// A refresher under `config` that has read the provider's last JWKS again, as of when it
    /// came (none before the first).
    fn replay(&self, config: RefreshConfig) -> Result<Refresher, Error> {
        let mut fresh = Refresher::new(config)?;
        let last = self
            .last_good
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((body, at)) = last.as_ref() {
            // A body the new settings find no key in is a failure the refresher records; the
            // provider then has no keys until a fetch brings one.
            let _ = fresh.on_fetched(200, &[], body, *at);
        }
        Ok(fresh)
    }

    /// The set this provider would serve under `engine` now: what [`Source::replay`] gives
    /// when `engine` changes the refresh settings, else the current set; none when there is
    /// none to serve (fail closed).
    fn set_for(&self, engine: &Engine, now: u64) -> Arc<KeySet> {
        let set = match self.changed_config(engine) {
            Some(config) => self.replay(config).and_then(|r| r.key_set(now)),
            None => self.current(now),
        };
        set.unwrap_or_else(|_| Arc::new(KeySet::empty()))
    }

    /// Starts over under `config` ([`Source::replay`]), with a fetch due at once (the task is
    /// woken). Called under the swap lock, once the engine with the new settings is in use.
    pub(crate) fn restart(&self, config: RefreshConfig) -> Result<(), Error> {
        let fresh = self.replay(config)?;
        self.fetched_at
            .store(fresh.fetched_at().unwrap_or(0), Ordering::Relaxed);
        *self.refresher() = fresh;
        tracing::info!(provider = %self.provider, url = %self.url, "the reloaded policy changed the provider's refresh settings: reading its last key set again, and fetching");
        self.fetch_now.store(true, Ordering::Relaxed);
        self.wake.notify_one();
        Ok(())
    }

    /// Fetches once, reports to the refresher and swaps the result into the engine in use. The
    /// network is awaited without a lock; the report and the swap happen under `swap_lock`.
    async fn fetch(&self, client: &Client, shared: &crate::state::Shared) {
        let limit = self.refresher().config().max_body_bytes;
        let (c, url) = (client.clone(), self.url.clone());
        let got = tokio::task::spawn_blocking(move || c.get(&url, limit))
            .await
            .unwrap_or_else(|e| Err(format!("the fetch task failed: {e}")));
        let _swapping = shared.swap_lock();
        let now = system_now();
        let mut refresher = self.refresher();
        let outcome = match got {
            Ok(response) => {
                let fetched = refresher
                    .on_fetched(response.status, &response.headers(), &response.body, now)
                    .map(|f| (f.keys, f.next_fetch));
                // What the provider publishes now, for a restart to read again: every JWKS it
                // answers, also one without a key these settings allow (other settings may
                // allow some, and the keys it no longer has must not come back).
                if fetched.is_ok()
                    || (response.status == 200
                        && KeySet::from_jwks_lenient(&response.body, &[]).is_ok())
                {
                    *self
                        .last_good
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some((response.body, now));
                }
                fetched
            }
            Err(reason) => {
                refresher.on_fetch_failed(&reason, now);
                Err(refresher.last_error().cloned().unwrap_or(Error::KeySource {
                    code: tollgate::ErrorCode::KeySetFetchFailed,
                    reason,
                }))
            }
        };
        match outcome {
            Ok((keys, next_fetch)) => {
                self.fetches_ok.fetch_add(1, Ordering::Relaxed);
                self.fetched_at.store(now.max(1), Ordering::Relaxed);
                tracing::info!(provider = %self.provider, url = %self.url, keys, skipped = refresher.skipped().len(), next_fetch, "key set fetched");
                for s in refresher.skipped() {
                    tracing::warn!(provider = %self.provider, url = %self.url, kid = s.kid.as_deref().unwrap_or(""), index = s.index, reason = %s.reason, "key skipped");
                }
            }
            Err(e) => {
                self.fetches_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(provider = %self.provider, url = %self.url, error = %e, failures = refresher.failures(), retry_at = refresher.next_fetch(), serving_last_good = refresher.fetched_at().is_some(), "key set fetch failed");
            }
        }
        let loaded = shared.loaded.load();
        if let Err(e) = loaded
            .engine
            .swap_provider_keys_from(&self.provider, &refresher, now)
        {
            tracing::error!(provider = %self.provider, url = %self.url, error = %e, "no key set to serve: the provider's tokens are refused");
        }
    }

    /// Runs until aborted: fetch when due, else sleep until due or woken by an unknown kid.
    pub(crate) async fn run(self: Arc<Self>, shared: Arc<crate::state::Shared>) {
        let client = Client::new();
        // The staleness moment whose swap has been made: each set leaves the engine once when it
        // goes stale, not at every wake after (each swap clears the engine's token cache).
        let mut swapped_stale: Option<u64> = None;
        loop {
            let now = system_now();
            let poll = if self.fetch_now.swap(false, Ordering::Relaxed) {
                Poll::Fetch
            } else {
                self.refresher().poll(now)
            };
            match poll {
                Poll::Fetch => self.fetch(&client, &shared).await,
                Poll::Wait { until } => {
                    // Also wake at staleness, so an expired set leaves the engine on time.
                    let stale = {
                        let r = self.refresher();
                        r.fetched_at()
                            .map(|at| at.saturating_add(r.config().stale_after))
                    }
                    .filter(|s| swapped_stale != Some(*s));
                    let until = stale.map_or(until, |s| until.min(s));
                    let wait = Duration::from_secs(until.saturating_sub(now).max(1));
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = self.wake.notified() => {}
                    }
                    if let Some(s) = stale.filter(|s| system_now() >= *s) {
                        swapped_stale = Some(s);
                        let _swapping = shared.swap_lock();
                        let refresher = self.refresher();
                        if let Err(e) = shared.loaded.load().engine.swap_provider_keys_from(
                            &self.provider,
                            &refresher,
                            system_now(),
                        ) {
                            tracing::error!(provider = %self.provider, url = %self.url, error = %e, "no key set to serve: the provider's tokens are refused");
                        }
                    }
                }
            }
        }
    }
}

/// `snapshot` (for `engine`) with each source's provider keys replaced by the set it serves
/// under `engine` ([`Source::set_for`]; the source is restarted once `engine` is in use, when
/// `engine` changes its settings), or by none before a good fetch and once stale. `None` without
/// sources.
pub(crate) fn overlay(
    sources: &[Arc<Source>],
    engine: &Engine,
    snapshot: &Snapshot,
) -> Result<Option<Snapshot>, Error> {
    let now = system_now();
    let mut out: Option<Snapshot> = None;
    for s in sources {
        let set = s.set_for(engine, now);
        let next = out
            .as_ref()
            .unwrap_or(snapshot)
            .with_provider_keys(&s.provider, set)?;
        out = Some(next);
    }
    Ok(out)
}

/// The key-source metrics, in the Prometheus text format.
pub(crate) fn render(sources: &[Arc<Source>], out: &mut String) {
    if sources.is_empty() {
        return;
    }
    let label = crate::metrics::escape_label;
    out.push_str(
        "# HELP tollgate_jwks_fetches_total JWKS fetches (--jwks), by provider and result.\n\
         # TYPE tollgate_jwks_fetches_total counter\n",
    );
    for s in sources {
        let p = label(&s.provider);
        let _ = writeln!(
            out,
            "tollgate_jwks_fetches_total{{provider=\"{p}\",result=\"ok\"}} {}\n\
             tollgate_jwks_fetches_total{{provider=\"{p}\",result=\"failed\"}} {}",
            s.fetches_ok.load(Ordering::Relaxed),
            s.fetches_failed.load(Ordering::Relaxed),
        );
    }
    out.push_str(
        "# HELP tollgate_jwks_age_seconds Time since the provider's key set was last fetched \
         (absent before the first good fetch).\n\
         # TYPE tollgate_jwks_age_seconds gauge\n",
    );
    let now = system_now();
    for s in sources {
        let at = s.fetched_at.load(Ordering::Relaxed);
        if at != 0 {
            let _ = writeln!(
                out,
                "tollgate_jwks_age_seconds{{provider=\"{}\"}} {}",
                label(&s.provider),
                now.saturating_sub(at)
            );
        }
    }
}
