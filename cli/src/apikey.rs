//! `tollgate apikey`: make API keys and personal access tokens, check their form, hash them.

use crate::io;
use crate::output::{self, Failure};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tollgate::apikey::{self, Hashing};
use tollgate::PrincipalKind;

/// Arguments of `tollgate apikey`.
#[derive(Debug, Args)]
pub struct ApikeyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ApikeyCommand,
}

/// `tollgate apikey` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApikeyCommand {
    /// Generate a key. The key is printed once and stored nowhere: keep it or lose it.
    #[command(after_help = "\
Without --json, only the key is printed (stdout). With --json: the key, its id, its hash and the
record to store in a snapshot's \"api_keys\" (the record holds the hash, never the key).

Examples:
  tollgate apikey new --prefix fln_live
  tollgate apikey new --prefix fln_live --json --owner sa_billing --tenant org_1 --scope invoices:read
  tollgate apikey new --prefix pat --json --owner u-alice --kind personal_access_token --pepper-file pepper.bin")]
    New(NewArgs),
    /// Check a key's form and checksum (no lookup): exit 0 when they hold, 1 when not.
    #[command(after_help = "\
Examples:
  tollgate apikey check fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBz
  tollgate apikey check --prefix pat \"$PAT\"")]
    Check(CheckArgs),
    /// Print the stored form of a key's hash (`sha256:…`, or `hmac-sha256:…` with a pepper).
    #[command(after_help = "\
Examples:
  tollgate apikey hash fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBz
  tollgate apikey hash --pepper-file pepper.bin \"$PAT\"")]
    Hash(HashArgs),
}

/// Arguments of `tollgate apikey new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The key's prefix (`fln_live`, `fln_test`, `pat`).
    #[arg(long)]
    pub prefix: String,
    /// Print the key, id, hash and record as JSON.
    #[arg(long)]
    pub json: bool,
    /// The owner recorded (a service account or user id).
    #[arg(long, default_value = "unassigned")]
    pub owner: String,
    /// The owner's kind: service_account, user or personal_access_token.
    #[arg(long, default_value = "service_account", value_parser = parse_kind)]
    pub kind: PrincipalKind,
    /// The tenant the key is bound to.
    #[arg(long)]
    pub tenant: Option<String>,
    /// A role the key holds (repeatable).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// A scope the key holds (repeatable).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// Expire the key this many seconds after now.
    #[arg(long, value_name = "SECONDS")]
    pub expires_in: Option<u64>,
    /// Hash with HMAC-SHA256 under the pepper in this file (raw bytes, at least 16).
    #[arg(long, value_name = "FILE")]
    pub pepper_file: Option<PathBuf>,
    /// Creation time (Unix seconds) instead of the system clock.
    #[arg(long, value_name = "UNIX")]
    pub now: Option<u64>,
}

/// Arguments of `tollgate apikey check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Accepted prefix (repeatable); default: the key's own, up to its last `_`.
    #[arg(long = "prefix")]
    pub prefixes: Vec<String>,
    /// The key.
    pub key: String,
}

/// Arguments of `tollgate apikey hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// Hash with HMAC-SHA256 under the pepper in this file (raw bytes, at least 16).
    #[arg(long, value_name = "FILE")]
    pub pepper_file: Option<PathBuf>,
    /// The key.
    pub key: String,
}

fn parse_kind(s: &str) -> Result<PrincipalKind, String> {
    serde_json::from_value(serde_json::Value::from(s))
        .map_err(|_| format!("unknown kind {s:?} (service_account, user, personal_access_token)"))
}

fn hashing(pepper_file: Option<&PathBuf>) -> Result<Hashing, Failure> {
    match pepper_file {
        None => Ok(Hashing::Sha256),
        Some(path) => {
            let pepper = io::read_file(path, "pepper file")?;
            if pepper.len() < 16 {
                return Err(Failure::Other(format!(
                    "the pepper in {} is {} bytes; use at least 16",
                    path.display(),
                    pepper.len()
                )));
            }
            Ok(Hashing::HmacSha256(pepper))
        }
    }
}

/// Runs `tollgate apikey`.
pub fn run(args: ApikeyArgs) -> Result<(), Failure> {
    match args.command {
        ApikeyCommand::New(a) => new(a),
        ApikeyCommand::Check(a) => check(a),
        ApikeyCommand::Hash(a) => {
            let hashing = hashing(a.pepper_file.as_ref())?;
            output::print(&format!("{}\n", hashing.hash(&a.key)))
        }
    }
}

fn new(a: NewArgs) -> Result<(), Failure> {
    let hashing = hashing(a.pepper_file.as_ref())?;
    let now = io::now(a.now)?;
    let mut g = apikey::generate(&a.prefix, &a.owner, &hashing, now).map_err(Failure::Config)?;
    if !a.json {
        return output::print(&format!("{}\n", g.key));
    }
    g.record.kind = a.kind;
    g.record.tenant = a.tenant;
    g.record.roles = a.roles;
    g.record.scopes = a.scopes;
    g.record.expires = a.expires_in.map(|s| now.saturating_add(s));
    let out = serde_json::json!({
        "key": g.key,
        "id": g.record.id,
        "hash": g.record.hash,
        "record": g.record,
    });
    let text = serde_json::to_string_pretty(&out)
        .map_err(|e| Failure::Other(format!("cannot serialize the record: {e}")))?;
    output::print(&(text + "\n"))
}

fn check(a: CheckArgs) -> Result<(), Failure> {
    let own_prefix;
    let prefixes: Vec<&str> = if a.prefixes.is_empty() {
        // The key's own prefix: everything before the last '_'.
        own_prefix = a
            .key
            .rsplit_once('_')
            .map(|(p, _)| p.to_owned())
            .unwrap_or_default();
        vec![own_prefix.as_str()]
    } else {
        a.prefixes.iter().map(String::as_str).collect()
    };
    let parsed = apikey::parse(&a.key, &prefixes).map_err(Failure::Rejected)?;
    output::print(&format!("ok: prefix {}, checksum valid\n", parsed.prefix()))
}
