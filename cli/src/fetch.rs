//! Key sets over HTTP(S) for `verify --jwks-url` and `--issuer-discovery`: the CLI is the IO half of
//! a [`Refresher`], which decides what a response means, exactly as in every other host.
//!
//! The client (ureq; rustls on ring, with the system's roots) has one deadline per request, connection to
//! last body byte, follows no redirect (a redirect could lead past [`discovery::check_url`]; a 3xx
//! is a failed fetch like any status but 200), and reads at most one byte past each body's cap, so
//! an oversized body is reported as such without being read whole.

use crate::output::{note, Failure};
use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;
use tollgate::refresh::{Poll, RefreshConfig, Refresher};
use tollgate::{discovery, Error, ErrorCode, KeySet};

/// The most one request may take, from connecting to the last body byte.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A response, its body cut at the cap plus one byte.
struct Response {
    status: u16,
    cache_control: Vec<String>,
    body: Vec<u8>,
}

/// An HTTP(S) GET with [`TIMEOUT`], no redirects and statuses returned as they are.
fn get(agent: &ureq::Agent, url: &str, limit: usize) -> Result<Response, String> {
    let response = agent
        .get(url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let cache_control = response
        .headers()
        .get_all("cache-control")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let mut body = Vec::new();
    response
        .into_body()
        .into_with_config()
        .reader()
        .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the body: {e}"))?;
    Ok(Response {
        status,
        cache_control,
        body,
    })
}

fn agent() -> ureq::Agent {
    // The system's roots, as curl would use (private CAs, inspecting proxies), on ring.
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(TIMEOUT))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// One JWKS URL and its refresher.
pub struct KeySource {
    agent: ureq::Agent,
    url: String,
    refresher: Refresher,
}

impl KeySource {
    /// A key source for `url`, which must be https, or http to a loopback host: anything else is a
    /// configuration error (exit 2), refused before any request.
    pub fn for_url(url: &str, config: RefreshConfig) -> Result<KeySource, Failure> {
        discovery::check_url(url, "the JWKS URL").map_err(Failure::Config)?;
        Ok(KeySource {
            agent: agent(),
            url: url.to_owned(),
            refresher: Refresher::new(config).map_err(Failure::Config)?,
        })
    }

    /// OpenID Connect Discovery: fetches `issuer`'s configuration and makes a key source for the
    /// `jwks_uri` it names. A bad `issuer` is a configuration error (exit 2); a configuration that
    /// cannot be fetched is `key_set_fetch_failed`, one that does not qualify (another issuer, a
    /// `jwks_uri` that is plain http off loopback, not JSON) `invalid_discovery` (both exit 1).
    pub fn discover(issuer: &str, config: RefreshConfig) -> Result<KeySource, Failure> {
        let config_url = discovery::configuration_url(issuer).map_err(Failure::Config)?;
        let agent = agent();
        let response = get(&agent, &config_url, discovery::MAX_DISCOVERY_BYTES)
            .map_err(|e| fetch_failed(format!("fetching {config_url} failed: {e}")))?;
        if response.status != 200 {
            return Err(fetch_failed(format!(
                "{config_url} answered HTTP {}",
                response.status
            )));
        }
        let url = discovery::jwks_uri(&response.body, issuer).map_err(Failure::Rejected)?;
        Ok(KeySource {
            agent,
            url,
            refresher: Refresher::new(config).map_err(Failure::Config)?,
        })
    }

    /// Fetches the key set if the refresher says a fetch is due, reports the keys it skipped on
    /// stderr, and returns the current set: `key_set_fetch_failed` if no fetch has succeeded;
    /// after a good one, a failed fetch leaves that set (and is noted on stderr).
    pub fn refresh(&mut self, now: u64) -> Result<Arc<KeySet>, Error> {
        if !matches!(self.refresher.poll(now), Poll::Fetch) {
            return self.refresher.key_set(now);
        }
        let limit = self.refresher.config().max_body_bytes;
        let outcome = match get(&self.agent, &self.url, limit) {
            Ok(response) => {
                let headers: Vec<(&str, &str)> = response
                    .cache_control
                    .iter()
                    .map(|v| ("cache-control", v.as_str()))
                    .collect();
                self.refresher
                    .on_fetched(response.status, &headers, &response.body, now)
                    .map(|_| ())
            }
            Err(reason) => {
                self.refresher.on_fetch_failed(&reason, now);
                Err(self
                    .refresher
                    .last_error()
                    .cloned()
                    .unwrap_or(Error::KeySource {
                        code: ErrorCode::KeySetFetchFailed,
                        reason,
                    }))
            }
        };
        match outcome {
            Ok(()) => {
                for skipped in self.refresher.skipped() {
                    let which = skipped
                        .kid
                        .clone()
                        .unwrap_or_else(|| format!("#{}", skipped.index));
                    note(&format!("skipped key {which}: {}", skipped.reason));
                }
            }
            Err(e) if self.refresher.fetched_at().is_some() => {
                note(&format!("note: fetching the key set again failed: {e}"));
            }
            Err(_) => {}
        }
        // The core's reasons do not name the URL; a person reading the CLI's error wants it.
        self.refresher.key_set(now).map_err(|e| match e {
            Error::KeySource { code, reason } => Error::KeySource {
                code,
                reason: format!("{reason} ({})", self.url),
            },
            other => other,
        })
    }

    /// A token named `kid`, which the current set lacks: whether the refresher allows fetching
    /// again now (then [`KeySource::refresh`] fetches).
    pub fn on_unknown_kid(&mut self, kid: &str, now: u64) -> bool {
        self.refresher.on_unknown_kid(kid, now)
    }
}

fn fetch_failed(reason: String) -> Failure {
    Failure::Rejected(Error::KeySource {
        code: ErrorCode::KeySetFetchFailed,
        reason,
    })
}
