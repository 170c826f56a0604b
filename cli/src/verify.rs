//! `tollgate verify`: check a token's signature and claims against a key set.

use crate::fetch::KeySource;
use crate::io;
use crate::keys::VerificationKeys;
use crate::output::{self, Failure};
use clap::Args;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use tollgate::crypto::Backend;
use tollgate::refresh::RefreshConfig;
use tollgate::{Algorithm, TokenBuffer, Validation, VerifiedToken, Verifier};

/// Arguments of `tollgate verify`.
#[derive(Debug, Args)]
#[command(after_help = "\
A PEM or DER public key has no kid: it verifies any token whose alg is the one given with --alg.

--jwks-url fetches the key set over https (plain http only to 127.0.0.1, [::1] or localhost), \
within 10 s, following no redirect, reading at most 1 MiB; keys Tollgate cannot use are left out \
with a line `skipped key <kid>: <reason>` on stderr. If the token names a kid the set lacks, the \
set is fetched once more and the token checked again. --issuer-discovery ISSUER first reads \
ISSUER/.well-known/openid-configuration, whose issuer must be ISSUER exactly, and fetches its \
jwks_uri; tokens must then come from ISSUER, unless --issuer names others.

Exit codes: 0 valid (header and claims printed as JSON), 1 rejected, or the key set could not be \
fetched or used (error[key_set_fetch_failed], error[invalid_discovery]), 2 configuration error \
(including a URL or issuer that may not be fetched).

Examples:
  tollgate verify --keys jwks.json --issuer https://idp.example --audience api \"$TOKEN\"
  tollgate verify --keys rsa.pub.pem --alg RS256 --leeway 30 - < token.jwt
  tollgate verify --keys hmac.jwk --require exp --require sub --now 1700000000 \"$TOKEN\"
  tollgate verify --jwks-url https://idp.example/.well-known/jwks.json --audience api \"$TOKEN\"
  tollgate verify --issuer-discovery https://idp.example --audience api - < token.jwt")]
#[command(group(clap::ArgGroup::new("key_source").required(true).args(["keys", "jwks_url", "issuer_discovery"])))]
pub struct VerifyArgs {
    /// A JWKS or a single JWK (HMAC secrets as `kty: oct`); with --alg, also a PEM or DER public key.
    #[arg(long, value_name = "FILE")]
    pub keys: Option<PathBuf>,
    /// Fetch the key set (a JWKS) from this URL instead.
    #[arg(long, value_name = "URL")]
    pub jwks_url: Option<String>,
    /// Find the key set by OpenID Connect Discovery of this issuer, and accept only its tokens
    /// (unless --issuer says otherwise).
    #[arg(long, value_name = "ISSUER")]
    pub issuer_discovery: Option<String>,
    /// Bind every key to this algorithm (keys naming another `alg` are refused; from a URL, keys
    /// of other algorithms are skipped).
    #[arg(long, value_name = "ALG", value_parser = parse_alg)]
    pub alg: Option<Algorithm>,
    /// Accept tokens from this issuer (repeatable; default: any issuer, or with --issuer-discovery
    /// the discovered one).
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
    #[arg(long, value_name = "BACKEND", value_parser = Backend::available_named)]
    pub backend: Option<Backend>,
    /// The token, or `-` to read it from standard input (one trailing newline is removed).
    #[arg(value_name = "TOKEN|-")]
    pub token: OsString,
}

/// Parses an algorithm name for clap (case-sensitive, `none` refused).
pub fn parse_alg(name: &str) -> Result<Algorithm, String> {
    Algorithm::from_name(name).map_err(|e| e.to_string())
}

/// Runs `tollgate verify`.
pub fn run(args: VerifyArgs) -> Result<(), Failure> {
    let mut validation = Validation::default();
    let mut issuers = args.issuers;
    if issuers.is_empty() {
        // A discovered key set speaks for its issuer only.
        issuers.extend(args.issuer_discovery.clone());
    }
    for issuer in issuers {
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
    // Configuration first: bad options, keys or URLs are exit 2 whatever the token is.
    validation.check().map_err(Failure::Config)?;
    let mut config = RefreshConfig::default();
    config.algorithms.extend(args.alg);
    let source = match (args.keys, args.jwks_url, args.issuer_discovery) {
        (Some(path), _, _) => Source::File(VerificationKeys::load(&path, args.alg)?),
        (None, Some(url), _) => Source::Url(Box::new(KeySource::for_url(&url, config)?)),
        (None, None, Some(issuer)) => Source::Discovery(issuer, config),
        (None, None, None) => {
            return Err(Failure::Other(
                "give one of --keys, --jwks-url and --issuer-discovery".to_owned(),
            ))
        }
    };
    let now = io::now(args.now)?;
    let token = io::token_bytes(&args.token)?;
    let backend = args.backend.unwrap_or(Backend::preferred());

    let keys = match source {
        Source::File(keys) => keys,
        Source::Url(source) => {
            return verify_fetched(*source, validation, args.backend, &token, now)
        }
        Source::Discovery(issuer, config) => {
            let source = KeySource::discover(&issuer, config)?;
            return verify_fetched(source, validation, args.backend, &token, now);
        }
    };
    let report_kid = keys.has_own_kids();
    let keys = keys
        .key_set_for(&token)?
        .with_backend(backend)
        .map_err(Failure::Config)?;
    let verifier = Verifier::new(Arc::new(keys), validation).map_err(Failure::Config)?;
    let mut buf = TokenBuffer::new();
    let verified = verifier
        .verify(&token, now, &mut buf)
        .map_err(Failure::Rejected)?;
    print_verified(&verified, report_kid)
}

/// Where the keys come from.
enum Source {
    File(VerificationKeys),
    Url(Box<KeySource>),
    /// Discovered once the token is read (a bad issuer is refused before).
    Discovery(String, RefreshConfig),
}

/// Verifies `token` against a fetched key set, as a host would: a `kid` the set lacks gets one
/// more fetch, if the refresher allows it, and one more try.
fn verify_fetched(
    mut source: KeySource,
    validation: Validation,
    backend: Option<Backend>,
    token: &[u8],
    now: u64,
) -> Result<(), Failure> {
    let mut keys = source.refresh(now).map_err(Failure::Rejected)?;
    let mut refetched = false;
    loop {
        // A fetched set is shared with the refresher, so its keys cannot be rebuilt for another
        // backend here; it is parsed for the build's preferred one.
        if let Some(asked) = backend.filter(|b| *b != keys.backend()) {
            return Err(Failure::Other(format!(
                "--backend {asked} works with --keys only; a fetched key set uses {}",
                keys.backend()
            )));
        }
        let verifier =
            Verifier::new(Arc::clone(&keys), validation.clone()).map_err(Failure::Config)?;
        let mut buf = TokenBuffer::new();
        let err = match verifier.verify(token, now, &mut buf) {
            Ok(verified) => return print_verified(&verified, true),
            Err(err) => err,
        };
        match err.refresh_hint() {
            Some(_) if refetched => return Err(Failure::RejectedAfterRefetch(err)),
            Some(kid) if source.on_unknown_kid(kid, now) => {
                refetched = true;
                keys = source.refresh(now).map_err(Failure::Rejected)?;
            }
            _ => return Err(Failure::Rejected(err)),
        }
    }
}

fn print_verified(verified: &VerifiedToken<'_>, report_kid: bool) -> Result<(), Failure> {
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
