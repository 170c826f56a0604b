//! `tollgate webhook`: sign and verify Standard Webhooks deliveries, and generate their keys.

use crate::io;
use crate::output::{self, Failure};
use crate::store::StoreOptions;
use clap::{Args, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::io::Read as _;
use std::path::PathBuf;
use tollgate::webhook::{self, WebhookSigner, WebhookVerifier};
use tollgate_server::store::block_on;

/// Arguments of `tollgate webhook`.
#[derive(Debug, Args)]
#[command(after_help = "\
The signed content is <webhook-id>.<webhook-timestamp>.<body>, the body byte for byte: a body
read from a file or standard input is used exactly, trailing newline included (use printf, not
echo, to write one).

Examples:
  tollgate webhook keygen
  tollgate webhook sign --secret \"$WHSEC\" --id msg_1 body.json
  tollgate webhook verify --secret \"$WHSEC\" --id msg_1 --timestamp 1700000000 --signature \"v1,…\" body.json")]
pub struct WebhookArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: WebhookCommand,
}

/// The `webhook` subcommands.
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Sign a body; print the webhook-id, webhook-timestamp and webhook-signature headers.
    Sign(SignArgs),
    /// Verify a delivery's headers and body.
    Verify(VerifyArgs),
    /// Generate a whsec_ secret (v1) or a whsk_/whpk_ key pair (v1a).
    Keygen(KeygenArgs),
}

/// Arguments of `tollgate webhook sign`.
#[derive(Debug, Args)]
#[command(after_help = "\
Prints three lines, `webhook-id: …`, `webhook-timestamp: …` and `webhook-signature: …`.

Examples:
  tollgate webhook sign --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --id msg_1 body.json
  tollgate webhook sign --secret \"$WHSK\" --id msg_2 --timestamp 1700000000 - < body.json
  tollgate webhook sign --secret-file whsec.txt --id msg_3 body.json")]
pub struct SignArgs {
    /// The signing key: `whsec_…` (HMAC, signs v1) or `whsk_…` (Ed25519, signs v1a).
    #[arg(
        long,
        value_name = "KEY",
        required_unless_present = "secret_file",
        conflicts_with = "secret_file"
    )]
    pub secret: Option<String>,
    /// A file holding the signing key (blank and `#` lines aside, such as `webhook keygen
    /// --scheme v1` prints): keeps it out of the command line.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// The webhook-id (1 to 256 visible ASCII characters, no `.`).
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// The webhook-timestamp in Unix seconds (default: the system clock).
    #[arg(long, value_name = "UNIX")]
    pub timestamp: Option<u64>,
    /// The body file, or `-` for standard input (used byte for byte).
    #[arg(value_name = "BODYFILE|-")]
    pub body: OsString,
}

/// Arguments of `tollgate webhook verify`.
#[derive(Debug, Args)]
#[command(after_help = "\
Exit codes: 0 valid, 1 rejected (`error[<code>]: <message>` on stderr), 2 usage or key error.

Examples:
  tollgate webhook verify --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --id msg_p5jXN8AQM9LWM0D4loKWxJek \\
    --timestamp 1614265330 --signature v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= --now 1614265330 body.json
  tollgate webhook verify --secret \"$OLD\" --secret \"$NEW\" --id msg_1 --timestamp \"$TS\" --signature \"$SIG\" - < body.json")]
pub struct VerifyArgs {
    /// A key to accept (repeatable, for rotation): `whsec_…` (HMAC, v1) or `whpk_…` (Ed25519
    /// public key, v1a). The prefix is required.
    #[arg(
        long = "secret",
        value_name = "KEY",
        required_unless_present = "secret_files"
    )]
    pub secrets: Vec<String>,
    /// A file holding a key to accept (repeatable; blank and `#` lines aside): keeps it out of
    /// the command line.
    #[arg(long = "secret-file", value_name = "FILE")]
    pub secret_files: Vec<PathBuf>,
    /// The webhook-id header value.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// The webhook-timestamp header value.
    #[arg(long, value_name = "UNIX")]
    pub timestamp: String,
    /// The webhook-signature header value (space-separated `version,base64` entries).
    #[arg(long, value_name = "SIG")]
    pub signature: String,
    /// Check at this time (Unix seconds) instead of the system clock.
    #[arg(long, value_name = "UNIX")]
    pub now: Option<u64>,
    /// Timestamp tolerance in seconds (default 300, at most 86400).
    #[arg(long, value_name = "SECONDS")]
    pub tolerance: Option<u64>,
    /// Refuse a replay (webhook_replayed) across every host sharing this store: a verified
    /// delivery claims its key there (the hash of its id and body) with SET NX for as long as it
    /// could pass the timestamp check.
    #[command(flatten)]
    pub store: StoreOptions,
    /// The body file, or `-` for standard input (used byte for byte).
    #[arg(value_name = "BODYFILE|-")]
    pub body: OsString,
}

/// Which kind of key `tollgate webhook keygen` makes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KeygenScheme {
    /// A shared HMAC secret (`whsec_`).
    V1,
    /// An Ed25519 key pair (`whsk_` to sign, `whpk_` to verify).
    V1a,
}

/// Arguments of `tollgate webhook keygen`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  tollgate webhook keygen
  tollgate webhook keygen --scheme v1a")]
pub struct KeygenArgs {
    /// `v1` for a shared HMAC secret, `v1a` for an Ed25519 key pair.
    #[arg(long, value_enum, default_value = "v1")]
    pub scheme: KeygenScheme,
}

/// Runs `tollgate webhook …`.
pub fn run(args: WebhookArgs) -> Result<(), Failure> {
    match args.command {
        WebhookCommand::Sign(args) => sign(args),
        WebhookCommand::Verify(args) => verify(args),
        WebhookCommand::Keygen(args) => keygen(args),
    }
}

/// Reads the body from a file or standard input, at most `limit` bytes plus one (so that the core
/// can report an oversized body with its own error).
fn read_body(arg: &OsString, limit: usize) -> Result<Vec<u8>, Failure> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::new();
    if arg == "-" {
        std::io::stdin()
            .lock()
            .take(cap)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Failure::Other(format!("cannot read the body from standard input: {e}"))
            })?;
    } else {
        let path = std::path::Path::new(arg);
        let cannot = |e: std::io::Error| {
            Failure::Other(format!("cannot read the body file {}: {e}", path.display()))
        };
        std::fs::File::open(path)
            .map_err(cannot)?
            .take(cap)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
    }
    Ok(bytes)
}

fn sign(args: SignArgs) -> Result<(), Failure> {
    let secret = match (&args.secret, &args.secret_file) {
        (Some(secret), _) => secret.clone(),
        (None, Some(path)) => io::secret_file(path, "secret file")?,
        (None, None) => return Err(Failure::Other("give --secret or --secret-file".to_owned())),
    };
    let signer = WebhookSigner::new(&secret).map_err(Failure::Config)?;
    let timestamp = io::now(args.timestamp)?;
    let body = read_body(&args.body, webhook::MAX_BODY_BYTES)?;
    if body.len() > webhook::MAX_BODY_BYTES {
        return Err(Failure::Other(format!(
            "the body is larger than {} bytes",
            webhook::MAX_BODY_BYTES
        )));
    }
    let signature = signer
        .sign(&args.id, timestamp, &body)
        .map_err(Failure::Config)?;
    output::print(&format!(
        "{}: {}\n{}: {timestamp}\n{}: {signature}\n",
        webhook::HEADER_ID,
        args.id,
        webhook::HEADER_TIMESTAMP,
        webhook::HEADER_SIGNATURE
    ))
}

fn verify(args: VerifyArgs) -> Result<(), Failure> {
    // Configuration first: bad options or keys are exit 2 whatever the delivery is.
    let mut verifier = WebhookVerifier::new();
    if let Some(tolerance) = args.tolerance {
        verifier = verifier
            .with_tolerance(tolerance)
            .map_err(Failure::Config)?;
    }
    for key in &args.secrets {
        verifier.add_key(key).map_err(Failure::Config)?;
    }
    for path in &args.secret_files {
        let key = io::secret_file(path, "secret file")?;
        verifier.add_key(&key).map_err(Failure::Config)?;
    }
    let now = io::now(args.now)?;
    let body = read_body(&args.body, verifier.max_body_bytes())?;
    match args.store.open()? {
        None => verifier
            .verify(&args.id, &args.timestamp, &args.signature, &body, now)
            .map_err(Failure::Rejected)?,
        Some(store) => {
            let claim = verifier
                .verify_for_store(&args.id, &args.timestamp, &args.signature, &body, now, 0)
                .map_err(Failure::Rejected)?;
            let claimed = block_on(store.claim(claim.store_key(), claim.ttl_secs()))
                .and_then(|r| r)
                .map_err(|e| Failure::Other(format!("the replay check failed: {e}")))?;
            claim.settle(claimed).map_err(Failure::Rejected)?;
        }
    }
    output::print("valid\n")
}

fn keygen(args: KeygenArgs) -> Result<(), Failure> {
    let text = match args.scheme {
        KeygenScheme::V1 => format!(
            "# v1 HMAC secret: keep it secret; it both signs and verifies\n{}\n",
            webhook::generate_secret().map_err(Failure::Config)?
        ),
        KeygenScheme::V1a => {
            let (signing, public) = webhook::generate_key_pair().map_err(Failure::Config)?;
            format!(
                "# v1a Ed25519 signing key: keep it secret\n{signing}\n\
                 # v1a public key: give it to receivers\n{public}\n"
            )
        }
    };
    output::print(&text)
}
