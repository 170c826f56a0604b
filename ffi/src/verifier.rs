//! Plain JWT verification without a policy: `tg_verifier` and the verified `tg_token`.

use crate::ffi::{
    bytes, call, handle, into_handle, not_null, out_param, write_out, Failure, Span, Text,
};
use crate::panic::boundary;
use crate::status::Status;
use std::ffi::c_char;
use std::sync::Arc;
use tollgate_core::cache::CacheConfig;
use tollgate_core::document::{self as doc, Fields};
use tollgate_core::json::{self, JsonStr};
use tollgate_core::jws;
use tollgate_core::{KeySet, TokenBuffer, VerifierSettings};

/// A key set and the rules tokens must satisfy.
///
/// Made by `tg_verifier_new`, freed by `tg_verifier_free`. Immutable: any number of threads may
/// verify with one verifier at once. It must outlive every call that uses it.
pub struct Verifier {
    inner: tollgate_core::Verifier,
}

impl Verifier {
    /// The core verifier behind the handle, for Rust code that holds a `tg_verifier *` made by
    /// this library (the Python extension module in `ffi/python`).
    pub fn core(&self) -> &tollgate_core::Verifier {
        &self.inner
    }
}

/// A token whose signature (and, from `tg_verifier_verify`, claims) verified.
///
/// Made by `tg_verifier_verify` or `tg_verifier_verify_jws`, owned by the caller, freed by
/// `tg_token_free`; it owns its data (it outlives its verifier). String getters return pointers
/// into the token (NUL-terminated, valid until it is freed; NULL when absent; the length goes to
/// `len_out` when that is not NULL). Owned by one thread at a time; concurrent reads are safe.
#[derive(Debug, Default)]
pub struct Token {
    text: Text,
    header: Span,
    payload: Span,
    claims: Option<Span>,
    algorithm: Span,
    key_id: Option<Span>,
    subject: Option<Span>,
    issuer: Option<Span>,
    jwt_id: Option<Span>,
    expires_at: Option<f64>,
    issued_at: Option<f64>,
    not_before: Option<f64>,
}

/// The options document of `tg_verifier_new`.
#[derive(Debug, Default)]
struct Options {
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Option<u64>,
    typ: Option<String>,
    required: Option<Vec<String>>,
    max_lifetime: Option<u64>,
    reject_future_iat: Option<bool>,
    max_token_bytes: Option<usize>,
    max_json_depth: Option<usize>,
    alg: Option<String>,
    kid: Option<String>,
    backend: Option<String>,
    cache: Option<CacheOptions>,
}

/// The `"cache"` member of the options: every member optional.
#[derive(Debug, Default)]
struct CacheOptions {
    max_entries: Option<usize>,
    max_bytes: Option<usize>,
    ttl: Option<u64>,
}

fn options_error(reason: impl core::fmt::Display) -> Failure {
    Failure::new(Status::InvalidOptions, format!("invalid options: {reason}"))
}

/// Deepest nesting of an options document (`cache`'s members and the lists are level 2).
const OPTIONS_DEPTH: usize = 4;

/// Reads the options with the core's document reader: unknown members refused, and every fault
/// naming its member (`invalid options: cache.ttl: invalid type: …`).
fn parse_options(options: &[u8]) -> Result<Options, Failure> {
    if options.is_empty() {
        return Ok(Options::default());
    }
    doc::read_object(options, OPTIONS_DEPTH, Options::read).map_err(options_error)
}

impl Options {
    fn read(object: json::Object<'_>) -> doc::Read<Options> {
        let f = Fields::of(
            object,
            "",
            &[
                "issuers",
                "audiences",
                "leeway",
                "typ",
                "required",
                "max_lifetime",
                "reject_future_iat",
                "max_token_bytes",
                "max_json_depth",
                "alg",
                "kid",
                "backend",
                "cache",
            ],
        )?;
        Ok(Options {
            issuers: f.or_default("issuers", doc::allow_list)?,
            audiences: f.or_default("audiences", doc::strings)?,
            leeway: f.optional("leeway", doc::u64)?,
            typ: f.optional("typ", doc::string)?,
            required: f.optional("required", doc::strings)?,
            max_lifetime: f.optional("max_lifetime", doc::u64)?,
            reject_future_iat: f.optional("reject_future_iat", doc::boolean)?,
            max_token_bytes: f.optional("max_token_bytes", doc::usize)?,
            max_json_depth: f.optional("max_json_depth", doc::usize)?,
            alg: f.optional("alg", doc::string)?,
            kid: f.optional("kid", doc::string)?,
            backend: f.optional("backend", doc::string)?,
            cache: f.optional("cache", |v, at| {
                let c = Fields::new(v, at, &["max_entries", "max_bytes", "ttl"])?;
                Ok(CacheOptions {
                    max_entries: c.optional("max_entries", doc::usize)?,
                    max_bytes: c.optional("max_bytes", doc::usize)?,
                    ttl: c.optional("ttl", doc::u64)?,
                })
            })?,
        })
    }

    /// The core's settings (the same members and meaning in every binding), and the cache.
    fn split(self) -> (VerifierSettings, Option<CacheOptions>) {
        let settings = VerifierSettings {
            issuers: self.issuers,
            audiences: self.audiences,
            leeway: self.leeway,
            typ: self.typ,
            required: self.required,
            max_lifetime: self.max_lifetime,
            reject_future_iat: self.reject_future_iat,
            max_token_bytes: self.max_token_bytes,
            max_json_depth: self.max_json_depth,
            alg: self.alg,
            kid: self.kid,
            backend: self.backend,
        };
        (settings, self.cache)
    }
}

fn build(keys: &[u8], options: &[u8]) -> Result<tollgate_core::Verifier, Failure> {
    let (settings, cache) = parse_options(options)?.split();
    let set = settings.key_set(keys)?;
    with_rules(Arc::new(set), settings, cache)
}

/// A verifier over a key set already made (a refresher's), with the options of `tg_verifier_new`
/// except `"alg"`, `"kid"` and `"backend"`, which say how to read keys and are refused here: the
/// set's keys are already bound to their algorithms (by the refresher's `"algorithms"`) and
/// prepared for the library's preferred backend.
pub(crate) fn verifier_over(set: Arc<KeySet>, options: &[u8]) -> Result<Verifier, Failure> {
    let (settings, cache) = parse_options(options)?.split();
    if settings.alg.is_some() || settings.kid.is_some() || settings.backend.is_some() {
        return Err(options_error(
            "\"alg\", \"kid\" and \"backend\" say how to read keys; this key set is already \
             read (bind its algorithms with the refresher's \"algorithms\")",
        ));
    }
    Ok(Verifier {
        inner: with_rules(set, settings, cache)?,
    })
}

/// The verifier for `set` under the rules of `settings` and the optional cache.
fn with_rules(
    set: Arc<KeySet>,
    settings: VerifierSettings,
    cache: Option<CacheOptions>,
) -> Result<tollgate_core::Verifier, Failure> {
    let verifier = tollgate_core::Verifier::new(set, settings.validation())?;
    Ok(match cache {
        None => verifier,
        Some(c) => {
            let d = CacheConfig::default();
            verifier.with_cache(CacheConfig {
                max_entries: c.max_entries.unwrap_or(d.max_entries),
                max_bytes: c.max_bytes.unwrap_or(d.max_bytes),
                ttl_secs: c.ttl.unwrap_or(d.ttl_secs),
            })
        }
    })
}

/// Makes a verifier from keys and options.
///
/// `keys`: a JWKS (`{"keys":[…]}`) or a single JWK, each key bound to its own `alg` (or its
/// curve's); or a PEM / DER public key (SubjectPublicKeyInfo, or PKCS#1 `RSA PUBLIC KEY`), which
/// needs `"alg"` in the options.
///
/// `options`: JSON, or NULL / empty for the defaults. Members, all optional:
/// `"issuers": [..]` (exact match; left out accepts any, `[]` is refused), `"audiences": [..]`
/// (any match; empty means the token must carry no `aud`), `"leeway": 60` (seconds, at most 600), `"typ": "at+jwt"`,
/// `"required": ["exp"]` (the default; `[]` requires nothing), `"max_lifetime": 3600`,
/// `"reject_future_iat": true`, `"max_token_bytes": 8192` (at most 65536), `"max_json_depth": 16`,
/// `"alg": "RS256"` (binds every key: keys without `alg` take it, keys with another are refused),
/// `"kid": "…"` (names a PEM/DER key), `"backend": "ring"` or `"aws-lc"` (the signature backend
/// the keys are prepared for; by default the library's preferred one, see `tg_backends`; a backend
/// the library lacks is `TG_STATUS_INVALID_OPTIONS`), `"cache": {"max_entries": 10000, "max_bytes": 33554432,
/// "ttl": 300}` (a verified-token cache: a repeated token skips its signature check until the
/// earlier of its `exp` and the TTL, its claims still checked at every `now`; `{}` for the
/// defaults; no cache without it). Unknown members are refused.
///
/// On success writes a new verifier to `*verifier_out` (free it with `tg_verifier_free`). On
/// failure returns the reason (`TG_STATUS_INVALID_OPTIONS`, `TG_STATUS_WEAK_KEY`,
/// `TG_STATUS_INVALID_KEY_SET`, …) and the optional message.
#[no_mangle]
pub extern "C" fn tg_verifier_new(
    keys: *const u8,
    keys_len: usize,
    options: *const u8,
    options_len: usize,
    verifier_out: *mut *mut Verifier,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(verifier_out)?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let (keys, options) = unsafe { (bytes(keys, keys_len)?, bytes(options, options_len)?) };
        let inner = build(keys, options)?;
        // SAFETY: `verifier_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(verifier_out, into_handle(Verifier { inner })) };
        Ok(())
    })
}

/// Frees a verifier. NULL is a no-op. No other call may be using it; tokens it verified stay
/// valid.
#[no_mangle]
pub extern "C" fn tg_verifier_free(verifier: *mut Verifier) {
    boundary(|| {
        // SAFETY: `verifier` is NULL or a live verifier, freed once, used by no other thread.
        unsafe { crate::ffi::free_handle(verifier) }
    })
}

fn push_json_str(text: &mut Text, s: Option<JsonStr<'_>>) -> Option<Span> {
    s.map(|s| text.push_chars(s.chars()))
}

/// Verifies a JWT at time `now` (Unix seconds): size, form, header, key selection, signature,
/// then the claims against the verifier's rules (README: "Order of checks").
///
/// On success writes a new token to `*token_out` (free it with `tg_token_free`). On failure
/// returns the token's reason (`TG_STATUS_EXPIRED`, `TG_STATUS_INVALID_SIGNATURE`,
/// `TG_STATUS_UNKNOWN_KID` — the host may refresh its keys and retry —, …) and the optional message
/// (which names the `kid`, the times compared, …; never key material).
#[no_mangle]
pub extern "C" fn tg_verifier_verify(
    verifier: *const Verifier,
    token: *const u8,
    token_len: usize,
    now: u64,
    token_out: *mut *mut Token,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[verifier.cast::<u8>()])?;
        out_param(token_out)?;
        // SAFETY: live verifier (contract), checked non-NULL above.
        let verifier = unsafe { handle(verifier) }?;
        // SAFETY: the caller passes `token_len` readable bytes at `token`.
        let token = unsafe { bytes(token, token_len) }?;
        let mut buf = TokenBuffer::new();
        let verified = verifier.inner.verify(token, now, &mut buf)?;
        let mut t = Token::default();
        let text = &mut t.text;
        t.header = text.push_str(verified.header().object().as_str());
        let claims = verified.claims();
        t.payload = text.push_str(claims.object().as_str());
        t.claims = Some(t.payload);
        t.algorithm = text.push_str(verified.header().alg().name());
        t.key_id = verified.key_id().map(|k| text.push_str(k));
        t.subject = push_json_str(text, claims.subject());
        t.issuer = push_json_str(text, claims.issuer());
        t.jwt_id = push_json_str(text, claims.jwt_id());
        t.expires_at = claims.expires_at();
        t.issued_at = claims.issued_at();
        t.not_before = claims.not_before();
        // SAFETY: `token_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(token_out, into_handle(t)) };
        Ok(())
    })
}

/// Verifies only a JWS's form, header and signature, under the verifier's keys and size limits:
/// no claims are parsed or checked (no `now`), and the payload may be any bytes. For JWS that are
/// not JWTs (RFC 7515 examples, signed documents); a JWT should go through `tg_verifier_verify`.
///
/// On success writes a new token to `*token_out` whose `tg_token_payload` is the verified payload
/// and whose claim getters return NULL. Failure as for `tg_verifier_verify`.
#[no_mangle]
pub extern "C" fn tg_verifier_verify_jws(
    verifier: *const Verifier,
    token: *const u8,
    token_len: usize,
    token_out: *mut *mut Token,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[verifier.cast::<u8>()])?;
        out_param(token_out)?;
        // SAFETY: live verifier (contract), checked non-NULL above.
        let verifier = unsafe { handle(verifier) }?;
        // SAFETY: the caller passes `token_len` readable bytes at `token`.
        let token = unsafe { bytes(token, token_len) }?;
        let mut buf = TokenBuffer::new();
        let limits = verifier.inner.validation().limits;
        let verified = jws::parse(token, limits, &mut buf)?.verify(verifier.inner.keys())?;
        let mut t = Token::default();
        let text = &mut t.text;
        t.header = text.push_str(verified.header().object().as_str());
        t.payload = text.push(verified.payload());
        t.algorithm = text.push_str(verified.header().alg().name());
        t.key_id = verified.key_id().map(|k| text.push_str(k));
        // SAFETY: `token_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(token_out, into_handle(t)) };
        Ok(())
    })
}

/// Frees a token. NULL is a no-op. Every pointer read from it becomes invalid.
#[no_mangle]
pub extern "C" fn tg_token_free(token: *mut Token) {
    boundary(|| {
        // SAFETY: `token` is NULL or a live token, freed once, used by no other thread.
        unsafe { crate::ffi::free_handle(token) }
    })
}

/// Reads a string field of a token: NULL for a NULL token or an absent value.
fn string_field(
    token: *const Token,
    len_out: *mut usize,
    pick: impl FnOnce(&Token) -> Option<Span>,
) -> *const c_char {
    boundary(|| {
        // SAFETY: `token` is NULL or a live token (contract).
        match unsafe { handle(token) } {
            Ok(t) => t.text.get(pick(t), len_out),
            Err(_) => core::ptr::null(),
        }
    })
}

/// Reads a NumericDate of a token: true and `*out` written when present.
fn date_field(
    token: *const Token,
    out: *mut f64,
    pick: impl FnOnce(&Token) -> Option<f64>,
) -> bool {
    boundary(|| {
        // SAFETY: `token` is NULL or a live token (contract).
        let Ok(t) = (unsafe { handle(token) }) else {
            return false;
        };
        match pick(t) {
            Some(v) if !out.is_null() => {
                // SAFETY: non-NULL; the caller provides a writable `double`.
                unsafe { write_out(out, v) };
                true
            }
            _ => false,
        }
    })
}

/// The verified protected header, as the JSON text that was signed.
#[no_mangle]
pub extern "C" fn tg_token_header_json(token: *const Token, len_out: *mut usize) -> *const c_char {
    string_field(token, len_out, |t| Some(t.header))
}

/// The verified claims as JSON text; NULL for a token from `tg_verifier_verify_jws`.
#[no_mangle]
pub extern "C" fn tg_token_claims_json(token: *const Token, len_out: *mut usize) -> *const c_char {
    string_field(token, len_out, |t| t.claims)
}

/// The verified payload bytes (for a JWT, its claims JSON). Followed by a NUL, but may contain
/// NULs itself when from `tg_verifier_verify_jws`: use `len_out`.
#[no_mangle]
pub extern "C" fn tg_token_payload(token: *const Token, len_out: *mut usize) -> *const u8 {
    string_field(token, len_out, |t| Some(t.payload)).cast()
}

/// The algorithm that verified the token (`RS256`, `EdDSA`, …).
#[no_mangle]
pub extern "C" fn tg_token_algorithm(token: *const Token, len_out: *mut usize) -> *const c_char {
    string_field(token, len_out, |t| Some(t.algorithm))
}

/// The `kid` of the key that verified the token; NULL when that key has none.
#[no_mangle]
pub extern "C" fn tg_token_key_id(token: *const Token, len_out: *mut usize) -> *const c_char {
    string_field(token, len_out, |t| t.key_id)
}

/// The `sub` claim (unescaped); NULL when absent.
#[no_mangle]
pub extern "C" fn tg_token_subject(token: *const Token, len_out: *mut usize) -> *const c_char {
    string_field(token, len_out, |t| t.subject)
}

/// The `iss` claim (unescaped); NULL when absent.
#[no_mangle]
pub extern "C" fn tg_token_issuer(token: *const Token, len_out: *mut usize) -> *const c_char {
    string_field(token, len_out, |t| t.issuer)
}

/// The `jti` claim (unescaped); NULL when absent.
#[no_mangle]
pub extern "C" fn tg_token_jwt_id(token: *const Token, len_out: *mut usize) -> *const c_char {
    string_field(token, len_out, |t| t.jwt_id)
}

/// The `exp` claim (Unix seconds, possibly fractional): true and `*expires_at_out` written when
/// present.
#[no_mangle]
pub extern "C" fn tg_token_expires_at(token: *const Token, expires_at_out: *mut f64) -> bool {
    date_field(token, expires_at_out, |t| t.expires_at)
}

/// The `iat` claim: true and `*issued_at_out` written when present.
#[no_mangle]
pub extern "C" fn tg_token_issued_at(token: *const Token, issued_at_out: *mut f64) -> bool {
    date_field(token, issued_at_out, |t| t.issued_at)
}

/// The `nbf` claim: true and `*not_before_out` written when present.
#[no_mangle]
pub extern "C" fn tg_token_not_before(token: *const Token, not_before_out: *mut f64) -> bool {
    date_field(token, not_before_out, |t| t.not_before)
}
