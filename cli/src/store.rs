//! `tollgate store`: move a key snapshot's records into the shared store (Redis), and the store
//! options the API-key commands share.

use crate::io;
use crate::output::{self, Failure};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use tollgate::snapshot::MAX_SNAPSHOT_BYTES;
use tollgate::StoredRecord;
use tollgate_server::store::{block_on, RedisStore};

/// Arguments of `tollgate store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// `tollgate store` subcommands.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Write a key snapshot's records (users, api_keys, revoked_jti) to the store, and print the
    /// snapshot without them: what `serve --store` loads for a policy whose providers say
    /// "records": "store".
    #[command(after_help = "\
Each record is written under tollgate:<kind>:<hash> (docs/records.md), expiring with its
\"expires\", and its key is published on tollgate:invalidate so running services drop a cached
copy. The rest of the snapshot (keys, peppers) goes to --out (a new file, mode 0600), or to
stdout.

Example:
  tollgate store import --store redis://127.0.0.1:6379 --keys snapshot.json --out keys.json")]
    Import(ImportArgs),
}

/// Where the store is.
#[derive(Debug, Args)]
pub struct StoreOptions {
    /// The store: `redis://[:PASSWORD@]HOST:PORT[/DB]` or `redis+unix:///PATH`.
    #[arg(long = "store", value_name = "URL", conflicts_with = "url_file")]
    pub url: Option<String>,
    /// A file holding the --store URL (one trailing newline is ignored): keeps a password out of
    /// the command line.
    #[arg(long = "store-file", value_name = "FILE")]
    pub url_file: Option<PathBuf>,
    /// How long one store operation may take, in milliseconds.
    #[arg(long = "store-timeout-ms", value_name = "MS", default_value_t = 2000)]
    pub timeout_ms: u64,
}

impl StoreOptions {
    /// The store, if `--store` or `--store-file` was given.
    pub fn open(&self) -> Result<Option<RedisStore>, Failure> {
        let url = match (&self.url, &self.url_file) {
            (Some(url), _) => url.clone(),
            (None, Some(path)) => {
                tollgate_server::store::url_from_file(path).map_err(Failure::Other)?
            }
            (None, None) => return Ok(None),
        };
        RedisStore::new(&url, Duration::from_millis(self.timeout_ms))
            .map(Some)
            .map_err(|e| Failure::Other(e.to_string()))
    }
}

/// Arguments of `tollgate store import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The store.
    #[command(flatten)]
    pub store: StoreOptions,
    /// The key snapshot (JSON).
    #[arg(long, value_name = "FILE")]
    pub keys: PathBuf,
    /// Where to write the snapshot without its records (default: stdout). Must not exist.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Writes `records` to `store`, in order.
pub fn put_all(store: &RedisStore, records: &[StoredRecord]) -> Result<(), Failure> {
    block_on(async {
        for r in records {
            store.put(r).await?;
        }
        Ok(())
    })
    .and_then(|r| r)
    .map_err(|e: tollgate_server::store::StoreError| Failure::Other(e.to_string()))
}

/// Runs `tollgate store`.
pub fn run(args: StoreArgs) -> Result<(), Failure> {
    match args.command {
        StoreCommand::Import(a) => import(a),
    }
}

fn import(a: ImportArgs) -> Result<(), Failure> {
    let store = a
        .store
        .open()?
        .ok_or_else(|| Failure::Other("--store URL is required".to_owned()))?;
    let bytes = io::read_file(&a.keys, "key snapshot")?;
    if bytes.len() > MAX_SNAPSHOT_BYTES {
        return Err(Failure::Other(format!(
            "{} is larger than {MAX_SNAPSHOT_BYTES} bytes",
            a.keys.display()
        )));
    }
    let (rest, records) = tollgate::record::split_snapshot(&bytes).map_err(Failure::Config)?;
    let text = rest + "\n";
    put_all(&store, &records)?;
    let mut counts = std::collections::BTreeMap::new();
    for r in &records {
        *counts.entry(r.lookup.kind().name()).or_insert(0usize) += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    eprintln!(
        "wrote {} records to {} ({})",
        records.len(),
        store.url(),
        if summary.is_empty() {
            "none".to_owned()
        } else {
            summary.join(", ")
        }
    );
    match a.out {
        // The rest of the snapshot holds its keys and peppers: readable by its owner only.
        Some(path) => io::write_new_file(&path, text.as_bytes(), true),
        None => output::print(&text),
    }
}
