//! `tollgate verify`: check a token's signature and claims against a key set.

use crate::io;
use crate::keys::VerificationKeys;
use crate::output::{self, Failure};
use clap::Args;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use tollgate::crypto::Backend;
use tollgate::{Algorithm, TokenBuffer, Validation, Verifier};

/// Arguments of `tollgate verify`.
#[derive(Debug, Args)]
#[command(after_help = "\
A PEM or DER public key has no kid: it verifies any token whose alg is the one given with --alg.

Exit codes: 0 valid (header and claims printed as JSON), 1 rejected, 2 configuration error.

Examples:
  tollgate verify --keys jwks.json --issuer https://idp.example --audience api \"$TOKEN\"
  tollgate verify --keys rsa.pub.pem --alg RS256 --leeway 30 - < token.jwt
  tollgate verify --keys hmac.jwk --require exp --require sub --now 1700000000 \"$TOKEN\"")]
pub struct VerifyArgs {
    /// A JWKS or a single JWK (HMAC secrets as `kty: oct`); with --alg, also a PEM or DER public key.
    #[arg(long, value_name = "FILE")]
    pub keys: PathBuf,
    /// Bind every key to this algorithm (keys naming another `alg` are refused).
    #[arg(long, value_name = "ALG", value_parser = parse_alg)]
    pub alg: Option<Algorithm>,
    /// Accept tokens from this issuer (repeatable; default: any issuer).
    #[arg(long = "issuer", value_name = "S")]
    pub issuers: Vec<String>,
    /// Accept tokens for this audience (repeatable; default: the token must carry no `aud`).
    #[arg(long = "audience", value_name = "S")]
    pub audiences: Vec<String>,
    /// Require this `typ` header (compared as RFC 7515 says: `application/` optional).
    #[arg(long, value_name = "S")]
    pub typ: Option<String>,
    /// Clock leeway in seconds (default 60, at most 600).
    #[arg(long, value_name = "SECONDS")]
    pub leeway: Option<u64>,
    /// Maximum token lifetime (`exp - iat`) in seconds; makes `exp` and `iat` required.
    #[arg(long, value_name = "SECONDS")]
    pub max_lifetime: Option<u64>,
    /// Require this claim (repeatable); replaces the default required set, which is just `exp`.
    #[arg(long = "require", value_name = "CLAIM")]
    pub required: Vec<String>,
    /// Check the token at this time (Unix seconds) instead of the system clock.
    #[arg(long, value_name = "UNIX")]
    pub now: Option<u64>,
    /// The signature backend: `ring`, or `aws-lc` in builds with the `aws-lc` feature
    /// (default: aws-lc when built in, else ring).
    #[arg(long, value_name = "BACKEND", value_parser = parse_backend)]
    pub backend: Option<Backend>,
    /// The token, or `-` to read it from standard input (one trailing newline is removed).
    #[arg(value_name = "TOKEN|-")]
    pub token: OsString,
}

/// Parses a backend name for clap, refusing one this build lacks.
fn parse_backend(name: &str) -> Result<Backend, String> {
    match Backend::from_name(name) {
        Some(b) if b.is_available() => Ok(b),
        Some(b) => Err(format!(
            "this build has no {b} backend (build with --features aws-lc)"
        )),
        None => Err(format!("unknown backend {name:?} (ring, aws-lc)")),
    }
}

/// Parses an algorithm name for clap (case-sensitive, `none` refused).
pub fn parse_alg(name: &str) -> Result<Algorithm, String> {
    Algorithm::from_name(name).map_err(|e| e.to_string())
}

/// Runs `tollgate verify`.
pub fn run(args: VerifyArgs) -> Result<(), Failure> {
    let mut validation = Validation::default();
    for issuer in args.issuers {
        validation = validation.with_issuer(issuer);
    }
    for audience in args.audiences {
        validation = validation.with_audience(audience);
    }
    if let Some(typ) = args.typ {
        validation = validation.with_typ(typ);
    }
    if let Some(leeway) = args.leeway {
        validation = validation.with_leeway(leeway);
    }
    if let Some(max) = args.max_lifetime {
        validation = validation.with_max_lifetime(max);
    }
    if !args.required.is_empty() {
        validation = validation.with_required(args.required);
    }
    // Configuration first: bad options or keys are exit 2 whatever the token is.
    validation.check().map_err(Failure::Config)?;
    let keys = VerificationKeys::load(&args.keys, args.alg)?;
    let report_kid = keys.has_own_kids();
    let now = io::now(args.now)?;
    let token = io::token_bytes(&args.token)?;

    let keys = keys
        .key_set_for(&token)?
        .with_backend(args.backend.unwrap_or(Backend::preferred()))
        .map_err(Failure::Config)?;
    let verifier = Verifier::new(Arc::new(keys), validation).map_err(Failure::Config)?;
    let mut buf = TokenBuffer::new();
    let verified = verifier
        .verify(&token, now, &mut buf)
        .map_err(Failure::Rejected)?;

    let kid = verified
        .key_id()
        .filter(|_| report_kid)
        .map(output::json_string);
    let mut members = vec![
        ("header", verified.header().object().as_str()),
        ("claims", verified.claims().object().as_str()),
    ];
    if let Some(kid) = &kid {
        members.push(("kid", kid.as_str()));
    }
    output::print(&(output::object(&members) + "\n"))
}
