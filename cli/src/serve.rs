//! `tollgate serve`: the forward-auth service (crate `tollgate-server`) for nginx, Caddy,
//! Traefik and Envoy.

use crate::output::Failure;

pub use tollgate_server::ServeArgs;

/// Runs `tollgate serve` until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> Result<(), Failure> {
    tollgate_server::run(&args).map_err(|e| Failure::Other(e.to_string()))
}
