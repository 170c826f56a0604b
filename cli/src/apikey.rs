//! `tollgate apikey`: make API keys and personal access tokens, check their form, hash them.

use crate::io;
use crate::output::{self, Failure};
use crate::store::{put_all, StoreOptions};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use tollgate::apikey::{self, Hashing};
use tollgate::{PrincipalKind, RecordLookup, StoredRecord};
use tollgate_server::store::{block_on, RedisStore, StoreError};

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
  tollgate apikey hash --pepper-file pepper.bin \"$PAT\"
  printf '%s\\n' \"$PAT\" | tollgate apikey hash --pepper-file pepper.bin -")]
    Hash(HashArgs),
    /// Revoke a key whose record is in the shared store: its record is rewritten with
    /// "revoked": true and its key published on tollgate:invalidate, so every service refuses it
    /// at once (api_key_revoked).
    #[command(after_help = "\
Give the key itself, or the hash its record holds (sha256:… or hmac-sha256:…).

Examples:
  tollgate apikey revoke --store redis://127.0.0.1:6379 \"$KEY\"
  tollgate apikey revoke --store redis://127.0.0.1:6379 --hash sha256:aWVhqwE8aTICYAaO9nC66v2b8XPrKaZ_5Eo9Wzaz3l4")]
    Revoke(RevokeArgs),
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
    /// Also write the record to this shared store (see `tollgate store`).
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Arguments of `tollgate apikey revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The store holding the record.
    #[command(flatten)]
    pub store: StoreOptions,
    /// The record's hash (`sha256:…`, `hmac-sha256:…`) instead of the key.
    #[arg(long, value_name = "HASH", conflicts_with = "key")]
    pub hash: Option<String>,
    /// The key's pepper file, when its provider hashes with HMAC-SHA256.
    #[arg(long, value_name = "FILE", conflicts_with = "hash")]
    pub pepper_file: Option<PathBuf>,
    /// The key, or `-` to read it from standard input (kept out of the command line).
    #[arg(required_unless_present = "hash")]
    pub key: Option<String>,
}

/// Arguments of `tollgate apikey check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Accepted prefix (repeatable); default: the key's own, up to its last `_`.
    #[arg(long = "prefix")]
    pub prefixes: Vec<String>,
    /// The key, or `-` to read it from standard input (kept out of the command line).
    pub key: String,
}

/// Arguments of `tollgate apikey hash`.
#[derive(Debug, Args)]
pub struct HashArgs {
    /// Hash with HMAC-SHA256 under the pepper in this file (raw bytes, at least 16).
    #[arg(long, value_name = "FILE")]
    pub pepper_file: Option<PathBuf>,
    /// The key, or `-` to read it from standard input (kept out of the command line).
    pub key: String,
}

fn parse_kind(s: &str) -> Result<PrincipalKind, String> {
    PrincipalKind::ALL
        .into_iter()
        .find(|k| k.name() == s)
        .ok_or_else(|| format!("unknown kind {s:?} (service_account, user, personal_access_token)"))
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
        ApikeyCommand::Revoke(a) => revoke(a),
        ApikeyCommand::Hash(a) => {
            let hashing = hashing(a.pepper_file.as_ref())?;
            output::print(&format!("{}\n", hashing.hash(&io::key_arg(&a.key)?)))
        }
    }
}

fn new(a: NewArgs) -> Result<(), Failure> {
    let hashing = hashing(a.pepper_file.as_ref())?;
    let now = io::now(a.now)?;
    let mut g = apikey::generate(&a.prefix, &a.owner, &hashing, now).map_err(Failure::Config)?;
    g.record.kind = a.kind;
    g.record.tenant = a.tenant;
    g.record.roles = a.roles;
    g.record.scopes = a.scopes;
    g.record.expires = a.expires_in.map(|s| now.saturating_add(s));
    if let Some(store) = a.store.open()? {
        let stored = StoredRecord::api_key(&g.record).map_err(Failure::Config)?;
        put_all(&store, &[stored])?;
        eprintln!("stored the record of {} in {}", g.record.id, store.url());
    }
    if !a.json {
        return output::print(&format!("{}\n", g.key));
    }
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
    let key = io::key_arg(&a.key)?;
    let own_prefix;
    let prefixes: Vec<&str> = if a.prefixes.is_empty() {
        // The key's own prefix: everything before the last '_'.
        own_prefix = key
            .rsplit_once('_')
            .map(|(p, _)| p.to_owned())
            .unwrap_or_default();
        vec![own_prefix.as_str()]
    } else {
        a.prefixes.iter().map(String::as_str).collect()
    };
    let parsed = apikey::parse(&key, &prefixes).map_err(Failure::Rejected)?;
    output::print(&format!("ok: prefix {}, checksum valid\n", parsed.prefix()))
}

fn revoke(a: RevokeArgs) -> Result<(), Failure> {
    let store = a
        .store
        .open()?
        .ok_or_else(|| Failure::Other("--store URL is required".to_owned()))?;
    let lookup = match (&a.hash, &a.key) {
        (Some(hash), _) => RecordLookup::of_api_key_hash(hash).ok_or_else(|| {
            Failure::Other(format!(
                "{hash:?} is not sha256:<base64url> or hmac-sha256:<base64url> of 32 bytes"
            ))
        })?,
        (None, Some(key)) => {
            let key = io::key_arg(key)?;
            match hashing(a.pepper_file.as_ref())? {
                Hashing::Sha256 => RecordLookup::api_key(&key, None),
                Hashing::HmacSha256(pepper) => RecordLookup::api_key(&key, Some(&pepper)),
            }
        }
        (None, None) => return Err(Failure::Other("give the key or --hash".to_owned())),
    };
    let key = lookup.store_key();
    // One runtime for the read and the write: the store's connection lives on it.
    let id =
        block_on(mark_revoked(&store, lookup)).map_err(|e| Failure::Other(e.to_string()))??;
    output::print(&format!("revoked {id} ({key})\n"))
}

/// Reads the record under `lookup`, marks it revoked and writes it back: its id.
async fn mark_revoked(store: &RedisStore, lookup: RecordLookup) -> Result<String, Failure> {
    let key = lookup.store_key();
    let stored_error = |e: StoreError| Failure::Other(e.to_string());
    let found = store
        .get(&key)
        .await
        .map_err(stored_error)?
        .ok_or_else(|| Failure::Other(format!("{} holds no record under {key}", store.url())))?;
    let mut doc: serde_json::Value = serde_json::from_slice(&found)
        .map_err(|e| Failure::Other(format!("the record under {key} is not JSON: {e}")))?;
    if let Some(o) = doc.as_object_mut() {
        o.remove("v");
        o.remove("record");
    }
    let mut record = apikey::ApiKeyRecord::from_json(doc.to_string().as_bytes()).map_err(|e| {
        Failure::Other(format!(
            "the record under {key} is not an API-key record: {e}"
        ))
    })?;
    record.revoked = true;
    let stored = StoredRecord::api_key(&record).map_err(Failure::Config)?;
    if stored.lookup != lookup {
        return Err(Failure::Other(format!(
            "the record under {key} holds another key's hash; left as it is"
        )));
    }
    store.put(&stored).await.map_err(stored_error)?;
    Ok(record.id)
}
