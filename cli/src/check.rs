//! `tollgate check`: ask the policy engine about one request, as a gateway would.

use crate::io;
use crate::output::{self, Failure};
use clap::Args;
use std::path::PathBuf;
use tollgate::{Engine, Request};

/// Arguments of `tollgate check`.
#[derive(Debug, Args)]
#[command(after_help = "\
--keys is a key snapshot: {\"keys\": {\"<provider>\": JWKS}, \"revoked_jti\": [...], \"users\": {...}}.
The decision (status, reason, principal, challenge, headers to forward) is printed as JSON.

Exit codes: 0 a decision was made, whatever its status; 2 usage error or unreadable or invalid
policy or snapshot.

Examples:
  tollgate check --policy policy.json --keys snapshot.json --path /api/health
  tollgate check --policy policy.json --keys snapshot.json --path /api/tenants/A/items \\
      -H \"Authorization: Bearer $TOKEN\"
  tollgate check --policy policy.json --keys snapshot.json --method POST \\
      --path /api/tenants/A/items -H \"token: $TOKEN\" --now 1767225600")]
pub struct CheckArgs {
    /// The policy document (JSON).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The key snapshot document (JSON): each provider's JWKS, revoked `jti`s and user records.
    #[arg(long, value_name = "FILE")]
    pub keys: PathBuf,
    /// The request's HTTP method.
    #[arg(long, value_name = "M", default_value = "GET")]
    pub method: String,
    /// The request's path, optionally with a query string.
    #[arg(long, value_name = "P")]
    pub path: String,
    /// A request header, `Name: value` (repeatable); the value is trimmed of surrounding spaces.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Decide at this time (Unix seconds) instead of the system clock.
    #[arg(long, value_name = "UNIX")]
    pub now: Option<u64>,
}

/// Parses a `Name: value` header for clap: split at the first `:`, the value trimmed of
/// surrounding spaces and tabs. The name must be non-empty and hold no whitespace or control
/// characters (it could never match a header the policy names).
pub fn parse_header(arg: &str) -> Result<(String, String), String> {
    let (name, value) = arg
        .split_once(':')
        .ok_or_else(|| "expected `Name: value` (no `:` found)".to_owned())?;
    if name.is_empty() {
        return Err("the header name is empty".to_owned());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "the header name {name:?} holds whitespace or control characters"
        ));
    }
    Ok((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()))
}

/// Runs `tollgate check`.
pub fn run(args: CheckArgs) -> Result<(), Failure> {
    // Configuration first: a bad policy or snapshot is exit 2 whatever the request is.
    let policy = io::read_file(&args.policy, "policy file")?;
    let engine = Engine::from_policy_json(&policy).map_err(Failure::Config)?;
    let snapshot = io::read_file(&args.keys, "snapshot file")?;
    engine
        .swap_snapshot_json(&snapshot)
        .map_err(Failure::Config)?;
    let now = io::now(args.now)?;

    let headers: Vec<(&str, &str)> = args
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let decision = engine.check(&Request::new(&args.method, &args.path, &headers), now);
    let text = serde_json::to_string_pretty(&decision.to_json())
        .map_err(|e| Failure::Other(format!("cannot format the decision: {e}")))?;
    output::print(&(text + "\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_split_at_the_first_colon() {
        assert_eq!(
            parse_header("Authorization:  Bearer a:b  "),
            Ok(("Authorization".to_owned(), "Bearer a:b".to_owned()))
        );
        assert_eq!(
            parse_header("x-empty:"),
            Ok(("x-empty".to_owned(), String::new()))
        );
        assert!(parse_header("token").is_err());
        assert!(parse_header(": value").is_err());
        assert!(parse_header("to ken: value").is_err());
    }
}
