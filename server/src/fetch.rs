//! The HTTP(S) client that fetches key sets and discovery documents, for `tollgate serve --jwks`
//! and the CLI's `verify --jwks-url` / `--issuer-discovery`: one client, one set of rules.
//!
//! ureq, blocking (a service runs it on Tokio's blocking pool; a fetch is rare), with TLS by
//! rustls on ring (already our crypto: no aws-lc in the default build) checked against the
//! system's roots, as curl would, so private CAs and inspecting proxies work. Each request has
//! one deadline, connection to last body byte; no redirect is followed (a redirect could lead
//! past [`tollgate::discovery::check_url`], so a 3xx is a failed fetch like any status but 200);
//! at most one byte past the body's cap is read, so an oversized body is reported as such
//! without being read whole.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

/// The most one request may take, from connecting to the last body byte.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A response, its body cut at the cap plus one byte.
#[derive(Clone, Debug)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Every `Cache-Control` value (all the refresher reads).
    pub cache_control: Vec<String>,
    /// The body, at most the cap plus one byte.
    pub body: Vec<u8>,
}

impl Response {
    /// The headers as [`tollgate::refresh::Refresher::on_fetched`] takes them.
    pub fn headers(&self) -> Vec<(&str, &str)> {
        self.cache_control
            .iter()
            .map(|v| ("cache-control", v.as_str()))
            .collect()
    }
}

/// A client; cheap to clone (connections are pooled and shared).
#[derive(Clone, Debug)]
pub struct Client {
    agent: ureq::Agent,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with [`TIMEOUT`], no redirects, the system's roots, statuses returned as they are.
    pub fn new() -> Client {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(TIMEOUT))
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { agent }
    }

    /// A GET of `url` reading at most `limit` + 1 body bytes. Errors are the reason no response
    /// came (connection, TLS, timeout, a broken body); any status is a response.
    pub fn get(&self, url: &str, limit: usize) -> Result<Response, String> {
        let response = self
            .agent
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
}
