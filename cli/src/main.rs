//! `tollgate`: verify, decode and mint JWTs, generate keys, and ask the policy engine about
//! requests from the command line.
//!
//! The command-line tool is a host for the `tollgate` core: it reads files, standard input, the
//! system clock and (for `verify --jwks-url`) the network, and hands bytes and times to the core,
//! which does no IO.
//!
//! Exit codes: 0 success (for `check`: a decision was made, whatever its status); 1 the token was
//! rejected (or a demo request did not get its expected decision); 2 usage or configuration error
//! (bad options, unreadable or invalid key, policy or snapshot files, bad claims).

mod apikey;
mod check;
mod decode;
mod demo;
mod fetch;
mod io;
mod keygen;
mod keys;
mod mint;
mod output;
mod serve;
mod store;
mod verify;
mod webhook;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Verify, decode and mint JWTs with keys bound to one algorithm, and decide requests \
against a policy",
    after_help = "Exit codes: 0 success (check: a decision was made), 1 token rejected or demo \
mismatch, 2 usage or configuration error.\n\n\
Examples:\n  tollgate keygen --alg ES256 --out issuer\n  \
tollgate mint --alg ES256 --key issuer.key --claim sub=alice --ttl 300 > token.jwt\n  \
tollgate verify --keys issuer.pub.jwk - < token.jwt\n  \
tollgate verify --issuer-discovery https://idp.example --audience api \"$TOKEN\"\n  \
tollgate check --policy policy.json --keys snapshot.json --path /api/items -H \"token: $TOKEN\"\n  \
tollgate demo"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a token's signature and claims; print its header and claims as JSON.
    Verify(verify::VerifyArgs),
    /// Decode a token WITHOUT verifying it, for debugging.
    Decode(decode::DecodeArgs),
    /// Sign a claims set into a token.
    Mint(mint::MintArgs),
    /// Generate a signing key and its public JWK.
    Keygen(keygen::KeygenArgs),
    /// Decide one request against a policy and key snapshot; print the decision as JSON.
    Check(check::CheckArgs),
    /// Replay the example deployments' requests on built-in sample keys.
    Demo(demo::DemoArgs),
    /// Sign and verify Standard Webhooks deliveries (v1 HMAC, v1a Ed25519).
    Webhook(webhook::WebhookArgs),
    /// Make API keys and personal access tokens, check their form, hash them.
    Apikey(apikey::ApikeyArgs),
    /// Run the forward-auth service for nginx, Caddy, Traefik and Envoy.
    Serve(serve::ServeArgs),
    /// Move a key snapshot's records into the shared store (Redis).
    Store(store::StoreArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(args) => verify::run(args),
        Command::Decode(args) => decode::run(args),
        Command::Mint(args) => mint::run(args),
        Command::Keygen(args) => keygen::run(args),
        Command::Check(args) => check::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Webhook(args) => webhook::run(args),
        Command::Apikey(args) => apikey::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Store(args) => store::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            ExitCode::from(failure.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
    }
}
