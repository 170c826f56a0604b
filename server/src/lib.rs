//! `tollgate serve`: a forward-auth service that answers "may this request pass?" for nginx
//! (`auth_request`), Caddy (`forward_auth`), Traefik (ForwardAuth) and Envoy (`ext_authz`, HTTP
//! service), from one policy engine shared by every connection.
//!
//! The service is a host for the `tollgate` core: it reads the policy and key files, the clock
//! and the network, and hands the core bytes and a time. Each endpoint takes the original request
//! the way its proxy documents it:
//!
//! | endpoint | proxy | original method | original URI | original host |
//! | --- | --- | --- | --- | --- |
//! | `/auth/nginx` | nginx `auth_request` | `X-Original-Method` | `X-Original-URI` | `Host` |
//! | `/auth/forward` | Caddy `forward_auth`, Traefik ForwardAuth | `X-Forwarded-Method` | `X-Forwarded-Uri` | `X-Forwarded-Host` |
//! | `/ext_authz/…` (`--envoy-prefix`) | Envoy `ext_authz` HTTP service | the request's own | the path after the prefix | `Host` |
//!
//! The client's headers come along as the request's own. An allowed request gets 200 with the
//! decision's forward headers; a refused one gets the decision's status, its `WWW-Authenticate`
//! and a small JSON body with the reason code. nginx understands only 2xx, 401 and 403 from an
//! auth subrequest, so `/auth/nginx` answers 403 for the other refusals and carries the exact
//! status in `X-Tollgate-Status`, which the shipped nginx configuration maps back.
//!
//! The service fails closed: none of its own errors is a 2xx. A malformed forwarded request is
//! 400, one with too many or too large headers 431, and a panic in a handler 500 (the service
//! stays up).
//!
//! Operations: the policy and key files are reloaded on `SIGHUP` and when they change, atomically
//! (a bad file keeps the engine in use and logs why); `/healthz`, `/readyz` and `/metrics`
//! (Prometheus text); JSON logs on stderr; graceful shutdown on `SIGTERM` and `SIGINT`.
//!
//! Key sets over HTTP(S) (`--jwks PROVIDER=URL`): one task per provider drives a
//! [`tollgate::refresh::Refresher`] with the [`fetch`] client, fetching when its schedule says so
//! or early when a token names a `kid` the keys lack (rate-limited), and swaps the set into the
//! engine in use; the fetched set replaces the key file's keys for that provider, across reloads.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod args;
pub mod fetch;
mod handler;
mod jwks;
mod logging;
mod metrics;
mod protocol;
mod server;
mod state;
pub mod store;

pub use args::ServeArgs;
pub use server::{run, start, Config, Listen, Running, ServeError};
pub use state::Clock;

/// How long one store operation may take by default, in milliseconds.
pub const DEFAULT_STORE_TIMEOUT_MS: u64 = 250;

/// The path of the nginx `auth_request` endpoint.
pub const NGINX_PATH: &str = "/auth/nginx";
/// The path of the Caddy `forward_auth` and Traefik ForwardAuth endpoint.
pub const FORWARD_PATH: &str = "/auth/forward";
/// The default path prefix of the Envoy `ext_authz` endpoint.
pub const DEFAULT_ENVOY_PREFIX: &str = "/ext_authz";
/// The header that carries a refusal's exact status on the nginx endpoint.
pub const STATUS_HEADER: &str = "x-tollgate-status";
/// The header that carries the reason code on the nginx endpoint.
pub const REASON_HEADER: &str = "x-tollgate-reason";
