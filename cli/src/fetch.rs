//! Key sets over HTTP(S) for `verify --jwks-url` and `--issuer-discovery`: the CLI is the IO half of
//! a [`Refresher`], which decides what a response means, exactly as in every other host.
//!
//! The client is the service's ([`tollgate_server::fetch`]): one deadline per request, no redirects,
//! the system's roots, bodies capped.

use crate::output::{note, Failure};
use std::sync::Arc;
use tollgate::refresh::{Poll, RefreshConfig, Refresher};
use tollgate::{discovery, Error, ErrorCode, KeySet};
use tollgate_server::fetch::Client;

/// One JWKS URL and its refresher.
pub struct KeySource {
    client: Client,
    url: String,
    refresher: Refresher,
}

impl KeySource {
    /// A key source for `url`, which must be https, or http to a loopback host: anything else is a
    /// configuration error (exit 2), refused before any request.
    pub fn for_url(url: &str, config: RefreshConfig) -> Result<KeySource, Failure> {
        discovery::check_url(url, "the JWKS URL").map_err(Failure::Config)?;
        Ok(KeySource {
            client: Client::new(),
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
        let client = Client::new();
        let response = client
            .get(&config_url, discovery::MAX_DISCOVERY_BYTES)
            .map_err(|e| fetch_failed(format!("fetching {config_url} failed: {e}")))?;
        if response.status != 200 {
            return Err(fetch_failed(format!(
                "{config_url} answered HTTP {}",
                response.status
            )));
        }
        let url = discovery::jwks_uri(&response.body, issuer).map_err(Failure::Rejected)?;
        Ok(KeySource {
            client,
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
        let outcome = match self.client.get(&self.url, limit) {
            Ok(response) => {
                let headers = response.headers();
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
