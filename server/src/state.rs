//! What every connection shares: the engine in use (swapped whole, without a lock on the decision
//! path), the metrics, the clock, the files the engine is reloaded from, and the `--jwks` key
//! sources whose sets replace the file's keys for their providers.

use crate::jwks::{self, Source};
use crate::metrics::Metrics;
use crate::store::RedisStore;
use arc_swap::ArcSwap;
use hyper::header::HeaderName;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};
use tollgate::cache::CacheConfig;
use tollgate::policy::MAX_POLICY_BYTES;
use tollgate::snapshot::MAX_SNAPSHOT_BYTES;
use tollgate::Engine;

/// Where decisions take `now` from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    System,
    /// A fixed time (Unix seconds), for tests and demos whose tokens are dated.
    Fixed(u64),
}

impl Clock {
    /// The current time in Unix seconds.
    pub fn now(self) -> u64 {
        match self {
            Clock::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            Clock::Fixed(t) => t,
        }
    }
}

/// An engine with what the handlers need to know about its policy.
pub(crate) struct Loaded {
    /// The engine: compiled policy and its key snapshot.
    pub(crate) engine: Engine,
    /// Every header name the policy forwards, lowercase, in policy order: the names upstreams
    /// trust, which the service sets or clears on every allowed request.
    pub(crate) reserved: Vec<HeaderName>,
}

/// Why a policy and key pair could not be loaded.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// The policy file is unreadable or invalid.
    Policy(String),
    /// The key file is unreadable or does not fit the policy.
    Keys(String),
    /// A `--jwks` source does not fit the policy.
    Jwks(String),
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LoadError::Policy(m) => write!(f, "policy: {m}"),
            LoadError::Keys(m) => write!(f, "keys: {m}"),
            LoadError::Jwks(m) => f.write_str(m),
        }
    }
}

impl Loaded {
    /// Compiles `policy`, adds the cache if asked, and loads `keys` into it, with the `sources`'
    /// sets in place of the file's keys for their providers. A policy that keeps records in a
    /// shared store needs one (`has_store`).
    pub(crate) fn build(
        policy: &[u8],
        keys: &[u8],
        cache: bool,
        sources: &[Arc<Source>],
        has_store: bool,
    ) -> Result<Loaded, LoadError> {
        let engine = Engine::from_policy_json(policy)
            .map_err(|e| LoadError::Policy(format!("[{}] {e}", e.code().name())))?;
        if engine.policy().uses_store() && !has_store {
            return Err(LoadError::Policy(
                "the policy keeps records in a shared store (\"records\": \"store\"): start the service with --store redis://…".to_owned(),
            ));
        }
        let engine = if cache {
            engine.with_cache(CacheConfig::default())
        } else {
            engine
        };
        load_keys(&engine, keys, sources).map_err(LoadError::Keys)?;
        let reserved = engine
            .policy()
            .forward
            .names()
            .into_iter()
            .map(|name| {
                HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).map_err(|_| {
                    LoadError::Policy(format!("forward header {name:?} is not a header name"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Loaded { engine, reserved })
    }

    /// The policy's name, for logs and metrics.
    pub(crate) fn policy_name(&self) -> &str {
        &self.engine.policy().name
    }
}

/// Swaps the key document `keys` into `engine`, with each source's set (or no keys, before its
/// first good fetch) in place of the document's keys for the source's provider: one swap, so no
/// check ever sees the file's keys for a `--jwks` provider.
fn load_keys(engine: &Engine, keys: &[u8], sources: &[Arc<Source>]) -> Result<(), String> {
    let coded = |e: tollgate::Error| format!("[{}] {e}", e.code().name());
    let snapshot = engine.snapshot_from_json(keys).map_err(coded)?;
    let snapshot = jwks::overlay(sources, engine, &snapshot)
        .map_err(coded)?
        .unwrap_or(snapshot);
    engine.swap_snapshot(snapshot).map_err(coded)
}

/// What identifies one version of a file: a replaced file (a rename, a Kubernetes symlink swap)
/// has a new inode, an edited one a new size or modification time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let m = std::fs::metadata(path).ok()?;
    Some(Fingerprint {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    })
}

/// Reads at most `limit` bytes of `path` (a larger file is an error, not a truncation).
pub(crate) fn read_capped(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() > limit {
        return Err(format!("{} is larger than {limit} bytes", path.display()));
    }
    Ok(bytes)
}

/// The last versions of the files a reload attempted. Its mutex is also the swap lock: every
/// change to the engine's snapshot (a reload, a `--jwks` task's swap) is made holding it, so none
/// overwrites another.
#[derive(Default)]
pub(crate) struct Seen {
    policy: Option<Fingerprint>,
    keys: Option<Fingerprint>,
    /// The policy file seen last compiled, but the key file did not fit it: a change of the key
    /// file tries the two together again (they often change one after the other), rather than
    /// loading the new keys into the old policy and leaving the new policy untried.
    policy_waits_for_keys: bool,
}

/// What a reload did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReloadReport {
    /// The policy (with its keys) was recompiled: `Some(Ok)` swapped in, `Some(Err)` kept the old.
    pub(crate) policy: Option<Result<(), String>>,
    /// The keys alone were reloaded into the engine in use.
    pub(crate) keys: Option<Result<(), String>>,
}

/// State shared by every connection.
pub(crate) struct Shared {
    /// The engine in use. A reload stores a new one; a check loads it without a lock.
    pub(crate) loaded: ArcSwap<Loaded>,
    pub(crate) metrics: Metrics,
    pub(crate) clock: Clock,
    pub(crate) envoy_prefix: String,
    policy_path: PathBuf,
    keys_path: PathBuf,
    cache: bool,
    draining: AtomicBool,
    /// The `--jwks` key sources, in command-line order.
    pub(crate) sources: Vec<Arc<Source>>,
    /// The shared record store (`--store`), for policies that keep records there.
    pub(crate) store: Option<Arc<RedisStore>>,
    /// Serialises reloads and key swaps (never taken by a check).
    seen: Mutex<Seen>,
}

impl Shared {
    /// Loads the policy and keys for the first time, and makes a key source for each `jwks`
    /// (provider, URL): until its first good fetch, that provider has no keys.
    pub(crate) fn load(
        policy_path: PathBuf,
        keys_path: PathBuf,
        cache: bool,
        clock: Clock,
        envoy_prefix: String,
        jwks: &[(String, String)],
        store: Option<Arc<RedisStore>>,
    ) -> Result<Shared, LoadError> {
        let seen = Seen {
            policy: fingerprint(&policy_path),
            keys: fingerprint(&keys_path),
            policy_waits_for_keys: false,
        };
        let policy = read_capped(&policy_path, MAX_POLICY_BYTES).map_err(LoadError::Policy)?;
        let keys = read_capped(&keys_path, MAX_SNAPSHOT_BYTES).map_err(LoadError::Keys)?;
        let loaded = Loaded::build(&policy, &keys, cache, &[], store.is_some())?;
        let mut sources: Vec<Arc<Source>> = Vec::new();
        for (provider, url) in jwks {
            if sources.iter().any(|s| &s.provider == provider) {
                return Err(LoadError::Jwks(format!(
                    "--jwks names provider {provider:?} twice"
                )));
            }
            let source = Source::new(&loaded.engine, provider, url).map_err(LoadError::Jwks)?;
            sources.push(Arc::new(source));
        }
        if !sources.is_empty() {
            load_keys(&loaded.engine, &keys, &sources).map_err(LoadError::Keys)?;
        }
        let metrics = Metrics::new();
        metrics.policy_reload(true);
        metrics.key_refresh(true);
        metrics.set_ready(true);
        Ok(Shared {
            loaded: ArcSwap::from_pointee(loaded),
            metrics,
            clock,
            envoy_prefix,
            policy_path,
            keys_path,
            cache,
            draining: AtomicBool::new(false),
            sources,
            store,
            seen: Mutex::new(seen),
        })
    }

    /// Marks the service as shutting down: `/readyz` fails from now on.
    pub(crate) fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
        self.metrics.set_ready(false);
    }

    /// Whether shutdown has begun.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Whether the service is ready: keys loaded, a good fetch for every `--jwks` provider, and
    /// not draining.
    pub(crate) fn is_ready(&self) -> bool {
        self.metrics.is_ready()
            && !self.draining.load(Ordering::Relaxed)
            && self.sources.iter().all(|s| s.has_fetched())
    }

    /// The swap lock (see [`Seen`]).
    pub(crate) fn swap_lock(&self) -> MutexGuard<'_, Seen> {
        match self.seen.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A decision named `kid`, which provider `provider`'s keys lack: lets its key source, if it
    /// has one, fetch early.
    pub(crate) fn unknown_kid(&self, provider: &str, kid: &str) {
        if let Some(source) = self.sources.iter().find(|s| s.provider == provider) {
            source.unknown_kid(kid);
        }
    }

    /// Reloads what changed since the last attempt, or everything when `force` (`SIGHUP`). A
    /// changed policy is compiled with the current keys into a new engine that replaces the old
    /// one whole; changed keys alone are swapped into the engine in use. Anything that fails
    /// leaves the engine in use as it was, and says why; a new policy the keys do not fit waits
    /// for a change of the keys, which meanwhile go into the engine in use. The `--jwks`
    /// sources' sets replace the file's keys for their providers in what is swapped in: a reload
    /// never drops fetched keys.
    pub(crate) fn reload(&self, force: bool) -> ReloadReport {
        let mut seen = self.swap_lock();
        let mut report = ReloadReport::default();
        let policy_fp = fingerprint(&self.policy_path);
        let keys_fp = fingerprint(&self.keys_path);
        let mut keys_changed = force || keys_fp != seen.keys;
        let policy_changed =
            force || policy_fp != seen.policy || (keys_changed && seen.policy_waits_for_keys);
        // Whether the policy file holds another policy than the one in use (a forced reload
        // rebuilds the one in use too).
        let policy_is_new = policy_fp != seen.policy || seen.policy_waits_for_keys;
        if policy_changed {
            seen.policy = policy_fp;
            seen.policy_waits_for_keys = false;
            let built = read_capped(&self.policy_path, MAX_POLICY_BYTES)
                .map_err(LoadError::Policy)
                .and_then(|policy| {
                    let keys = read_capped(&self.keys_path, MAX_SNAPSHOT_BYTES)
                        .map_err(LoadError::Keys)?;
                    Loaded::build(
                        &policy,
                        &keys,
                        self.cache,
                        &self.sources,
                        self.store.is_some(),
                    )
                });
            match built {
                Ok(loaded) => {
                    let name = loaded.policy_name().to_owned();
                    let restarts: Vec<_> = self
                        .sources
                        .iter()
                        .filter_map(|s| Some((s, s.changed_config(&loaded.engine)?)))
                        .collect();
                    self.loaded.store(Arc::new(loaded));
                    for (source, config) in restarts {
                        if let Err(e) = source.restart(config) {
                            tracing::error!(provider = %source.provider, error = %e, "the provider's key source could not restart: its tokens are refused");
                        }
                    }
                    seen.keys = keys_fp;
                    keys_changed = false;
                    self.metrics.policy_reload(true);
                    self.metrics.key_refresh(true);
                    tracing::info!(policy = %name, file = %self.policy_path.display(), "policy and keys reloaded");
                    report.policy = Some(Ok(()));
                }
                Err(e @ LoadError::Policy(_)) => {
                    self.metrics.policy_reload(false);
                    tracing::error!(error = %e, file = %self.policy_path.display(), "policy reload failed; keeping the engine in use");
                    report.policy = Some(Err(e.to_string()));
                }
                Err(e @ (LoadError::Keys(_) | LoadError::Jwks(_))) if policy_is_new => {
                    // The new policy compiled but the keys do not fit it: keep the policy in
                    // use, and try the new one again when the keys change. New keys still go
                    // into the engine in use below if they fit it: a revocation must not wait
                    // for the policy to be mended.
                    seen.policy_waits_for_keys = true;
                    self.metrics.policy_reload(false);
                    tracing::error!(error = %e, policy = %self.policy_path.display(), keys = %self.keys_path.display(), "the new policy does not fit the keys; keeping the policy in use until the keys change");
                    report.policy = Some(Err(e.to_string()));
                }
                Err(LoadError::Keys(_) | LoadError::Jwks(_)) => {
                    // The policy in use, rebuilt (a forced reload), with keys that do not load:
                    // the keys are at fault, and the keys-only swap below says so.
                }
            }
        }
        if keys_changed {
            seen.keys = keys_fp;
            let current = self.loaded.load();
            let swapped = read_capped(&self.keys_path, MAX_SNAPSHOT_BYTES)
                .and_then(|keys| load_keys(&current.engine, &keys, &self.sources));
            match swapped {
                Ok(()) => {
                    self.metrics.key_refresh(true);
                    tracing::info!(file = %self.keys_path.display(), "keys reloaded");
                    report.keys = Some(Ok(()));
                }
                Err(e) => {
                    self.metrics.key_refresh(false);
                    tracing::error!(error = %e, file = %self.keys_path.display(), "key reload failed; keeping the keys in use");
                    report.keys = Some(Err(e));
                }
            }
        }
        report
    }
}
