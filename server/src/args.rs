//! The command line of `tollgate serve`.

use crate::server::{Config, Listen};
use crate::state::Clock;
use crate::DEFAULT_ENVOY_PREFIX;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `tollgate serve`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Endpoints (point the proxy at one; see examples/nginx, caddy, traefik and envoy):
  /auth/nginx      nginx auth_request: X-Original-Method, X-Original-URI. Refusals other than 401
                   and 403 travel as 403 with the exact status in X-Tollgate-Status.
  /auth/forward    Caddy forward_auth, Traefik ForwardAuth: X-Forwarded-Method, -Uri, -Host.
  /ext_authz/...   Envoy ext_authz HTTP service: the original path after the prefix.
  /healthz /readyz /metrics

The policy and key files are reloaded on SIGHUP and when they change (checked every
--watch-interval seconds); a file that does not load keeps the engine in use, and the log says
why. SIGTERM or SIGINT stops accepting connections and lets open requests finish.

--jwks PROVIDER=URL fetches that provider's keys from a JWKS URL, in place of the key file's:
at start, then when the response's Cache-Control max-age runs out (clamped to 5 minutes..24
hours; 15 minutes without one), and early when a token names a kid the keys lack (at most once
per 30 seconds, so a flood of unknown kids costs one fetch). A failed fetch keeps the last good
set and retries with backoff (5 seconds doubling to 5 minutes); a set not refreshed for 48 hours
is dropped and the provider's tokens are refused. A reload of the files keeps the fetched sets:
for a --jwks provider the fetched set always wins over the key file. A reloaded policy that
changes the provider's algorithms reads the last fetched set again under them (keys of a dropped
algorithm are gone at once) and fetches again. /readyz answers 503 until every --jwks provider
has had a good fetch. The schedule runs on the system clock, even with
--now.

--store redis://HOST:PORT reads the records of providers with \"records\": \"store\" (API keys,
users' roles, sessions, revoked jti; docs/records.md) from Redis: connecting and each GET
take --store-timeout-ms (250) at most, a check reads up to 4 records (size a proxy's timeout
above their sum), each cached for the policy's store.cache_ttl, and dropped at once
when its key is published on tollgate:invalidate (which the service follows). A store that does
not answer refuses with 503 store_unavailable, never 200. A policy with records in a store needs
--store.

Never expose the service to clients directly: the headers that carry the original request are
trusted, so only the proxy may reach it.

Exit codes: 0 stopped by a signal; 2 unusable options, policy or key file, or address.

Examples:
  tollgate serve --policy policy.json --keys snapshot.json
  tollgate serve --listen unix:/run/tollgate.sock --policy policy.json --keys snapshot.json
  tollgate serve --policy policy.json --keys snapshot.json \\
      --jwks app=https://login.example.com/.well-known/jwks.json
  tollgate serve --policy examples/tenant-path/policy.json \\
      --keys examples/tenant-path/snapshot.json --now 1767225600
  tollgate serve --policy policy.json --keys keys.json --store redis://127.0.0.1:6379")]
pub struct ServeArgs {
    /// Where to listen: `HOST:PORT`, or `unix:PATH` for a Unix socket.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9180", value_parser = Listen::parse)]
    pub listen: Listen,
    /// The policy document (JSON).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The key snapshot document (JSON): each provider's JWKS, API-key records, user records.
    #[arg(long, value_name = "FILE")]
    pub keys: PathBuf,
    /// Decide every request at this time (Unix seconds) instead of the system clock. For tests
    /// and demos whose tokens are dated; never in production.
    #[arg(long, value_name = "UNIX")]
    pub now: Option<u64>,
    /// Verify every token in full, without the verified-token cache.
    #[arg(long)]
    pub no_cache: bool,
    /// The path prefix of the Envoy ext_authz endpoint (Envoy's `path_prefix`).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_ENVOY_PREFIX)]
    pub envoy_prefix: String,
    /// How often to look for changed policy and key files, in seconds (0: only on SIGHUP).
    #[arg(long, value_name = "SECS", default_value_t = 2)]
    pub watch_interval: u64,
    /// How long open requests may run after SIGTERM, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub shutdown_grace: u64,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Fetch provider PROVIDER's keys from URL (a JWKS; https, or http to 127.0.0.1, [::1] or
    /// localhost) instead of the key file. Repeatable, one per provider.
    #[arg(long, value_name = "PROVIDER=URL", value_parser = crate::jwks::parse_arg)]
    pub jwks: Vec<(String, String)>,
    /// The shared record store, for a policy whose providers keep records there ("records":
    /// "store"): `redis://[:PASSWORD@]HOST:PORT[/DB]` or `redis+unix:///PATH`.
    #[arg(long, value_name = "URL", conflicts_with = "store_file")]
    pub store: Option<String>,
    /// A file holding the --store URL (one trailing newline is ignored): keeps a password out of
    /// the command line.
    #[arg(long, value_name = "FILE")]
    pub store_file: Option<PathBuf>,
    /// How long one store operation may take, in milliseconds, before the check is decided
    /// without it (store_unavailable, 503, unless the policy's store.grace allows a cached record).
    #[arg(long, value_name = "MS", default_value_t = crate::DEFAULT_STORE_TIMEOUT_MS)]
    pub store_timeout_ms: u64,
    /// The lowest level logged: error, warn, info or debug (debug logs every allowed request).
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    pub log_level: tracing::Level,
}

impl ServeArgs {
    /// The service configuration these arguments describe; fails only when --store-file cannot
    /// be read.
    pub fn config(&self) -> Result<Config, String> {
        let store = match (&self.store, &self.store_file) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(path)) => Some(crate::store::url_from_file(path)?),
            (None, None) => None,
        };
        Ok(Config {
            listen: self.listen.clone(),
            policy: self.policy.clone(),
            keys: self.keys.clone(),
            clock: self.now.map_or(Clock::System, Clock::Fixed),
            cache: !self.no_cache,
            envoy_prefix: self.envoy_prefix.clone(),
            watch_interval: (self.watch_interval > 0)
                .then(|| Duration::from_secs(self.watch_interval)),
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            signals: true,
            jwks: self.jwks.clone(),
            store,
            store_timeout: Duration::from_millis(self.store_timeout_ms),
        })
    }
}
