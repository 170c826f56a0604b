//! `Verifier` and `verify`: plain JWT (and JWS) verification without a policy.
//!
//! ```js
//! const v = new Verifier(jwks, {issuers: ["https://idp.example"], audiences: ["api"]});
//! const {header, claims} = v.verify(token);            // throws Error{code: "expired", …}
//! const same = await v.verifyAsync(token);             // signature on WebCrypto
//! verify(token, jwks, {audiences: ["api"], now: 1700000000});   // one-off
//! ```

use crate::error::{from_core, guard, js_error, parse_json};
use crate::refresher::Refresher;
use crate::request::{document, js_string_len, now_arg, now_secs};
use crate::webcrypto::{SignatureJob, SignatureWait};
use js_sys::{Reflect, Uint8Array};
use std::sync::Arc;
use tollgate::document::{self as doc, Fields};
use tollgate::jws;
use tollgate::{
    Error, ErrorCode, KeySet, SignatureInput, TokenBuffer, VerifiedJws, VerifiedToken,
    VerifierSettings,
};
use wasm_bindgen::prelude::*;

/// The options object of `new Verifier` and `verify` (camelCase; unknown members are refused).
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
    /// Only for the one-off functions (`verify`, `verifyAsync`); a `Verifier` takes `now` per call.
    now: Option<f64>,
}

fn invalid_options(reason: impl core::fmt::Display) -> JsValue {
    js_error(
        ErrorCode::InvalidOptions,
        &format!("invalid options: {reason}"),
    )
}

/// Deepest nesting of an options object (its arrays are level 2).
const OPTIONS_DEPTH: usize = 4;

/// Largest options document, in bytes: room for hundreds of issuers and audiences.
const MAX_OPTIONS_BYTES: usize = 64 * 1024;

impl Options {
    fn from_js(value: &JsValue) -> Result<Options, JsValue> {
        if value.is_undefined() || value.is_null() {
            return Ok(Options::default());
        }
        let text = document(
            value,
            "options",
            ErrorCode::InvalidOptions,
            MAX_OPTIONS_BYTES,
        )?;
        Options::from_json(&text).map_err(invalid_options)
    }

    /// Reads the options from JSON text; an error names the member at fault.
    fn from_json(text: &[u8]) -> Result<Options, String> {
        doc::read_object(text, OPTIONS_DEPTH, Options::read)
    }

    fn read(object: tollgate::json::Object<'_>) -> doc::Read<Options> {
        let f = Fields::of(
            object,
            "",
            &[
                "issuers",
                "audiences",
                "leeway",
                "typ",
                "required",
                "maxLifetime",
                "rejectFutureIat",
                "maxTokenBytes",
                "maxJsonDepth",
                "alg",
                "kid",
                "now",
            ],
        )?;
        Ok(Options {
            issuers: f.or_default("issuers", doc::allow_list)?,
            audiences: f.or_default("audiences", doc::strings)?,
            leeway: f.optional("leeway", doc::u64)?,
            typ: f.optional("typ", doc::string)?,
            required: f.optional("required", doc::strings)?,
            max_lifetime: f.optional("maxLifetime", doc::u64)?,
            reject_future_iat: f.optional("rejectFutureIat", doc::boolean)?,
            max_token_bytes: f.optional("maxTokenBytes", doc::usize)?,
            max_json_depth: f.optional("maxJsonDepth", doc::usize)?,
            alg: f.optional("alg", doc::string)?,
            kid: f.optional("kid", doc::string)?,
            now: f.optional("now", doc::number)?,
        })
    }

    /// The core's settings (the same members and meaning as the C ABI's options), and `now`.
    fn split(self) -> (VerifierSettings, Option<f64>) {
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
            // The WebAssembly build has ring alone.
            backend: None,
        };
        (settings, self.now)
    }
}

/// A verifier over the key set `keys` holds, with `settings`' rules.
fn build(settings: VerifierSettings, keys: &[u8]) -> Result<tollgate::Verifier, JsValue> {
    let set = settings.key_set(keys).map_err(|e| from_core(&e))?;
    rules(settings, Arc::new(set))
}

/// A verifier over `set` with `settings`' rules.
fn rules(settings: VerifierSettings, set: Arc<KeySet>) -> Result<tollgate::Verifier, JsValue> {
    tollgate::Verifier::new(set, settings.validation()).map_err(|e| from_core(&e))
}

/// A token's text: a string (anything else is `malformed_token`).
/// Whether the token is a string no longer than any verifier reads (checked before it is
/// copied; the verifier's own limit comes after).
fn check_token(token: &JsValue) -> Result<(), JsValue> {
    match js_string_len(token) {
        Some(len) if len > tollgate::limits::MAX_TOKEN_BYTES => Err(js_error(
            ErrorCode::TokenTooLarge,
            &format!(
                "the token is {len} bytes or more, more than the limit of {}",
                tollgate::limits::MAX_TOKEN_BYTES
            ),
        )),
        Some(_) => Ok(()),
        None => Err(js_error(
            ErrorCode::MalformedToken,
            "the token must be a string",
        )),
    }
}

/// The token's text, once [`check_token`] passes.
fn token_text(token: &JsValue) -> Result<String, JsValue> {
    check_token(token)?;
    Ok(token.as_string().unwrap_or_default())
}

/// `{"keyId": …}` as JSON text.
fn key_id_json(kid: Option<&str>) -> String {
    kid.and_then(|k| serde_json::to_string(k).ok())
        .unwrap_or_else(|| "null".to_owned())
}

/// A verified JWT as `{header, claims, algorithm, keyId}`.
fn token_js(t: &VerifiedToken<'_>) -> Result<JsValue, JsValue> {
    parse_json(&format!(
        r#"{{"header":{},"claims":{},"algorithm":"{}","keyId":{}}}"#,
        t.header().object().as_str(),
        t.claims().object().as_str(),
        t.header().alg().name(),
        key_id_json(t.key_id()),
    ))
}

/// A verified JWS as `{header, payload, algorithm, keyId}` (`payload` a `Uint8Array`).
fn jws_js(j: &VerifiedJws<'_>) -> Result<JsValue, JsValue> {
    let value = parse_json(&format!(
        r#"{{"header":{},"algorithm":"{}","keyId":{}}}"#,
        j.header().object().as_str(),
        j.header().alg().name(),
        key_id_json(j.key_id()),
    ))?;
    let payload = Uint8Array::from(j.payload());
    Reflect::set(&value, &"payload".into(), &payload)
        .map_err(|_| js_error(ErrorCode::Internal, "internal error: cannot set payload"))?;
    Ok(value)
}

/// What is verified: a JWT (signature and claims) or a JWS (signature only).
#[derive(Clone, Copy)]
enum Mode {
    Jwt,
    Jws,
}

/// Verifies `token` in `mode`, with `check` deciding the signature. The outer error is the
/// core's refusal, still a Rust value (the async path's first half discards it unconverted:
/// making a JS `Error` captures a stack, which costs microseconds).
fn run(
    verifier: &tollgate::Verifier,
    mode: Mode,
    token: &str,
    now: u64,
    check: impl FnOnce(&SignatureInput<'_>) -> Result<(), Error>,
) -> Result<Result<JsValue, JsValue>, Error> {
    let mut buf = TokenBuffer::new();
    Ok(match mode {
        Mode::Jwt => token_js(&verifier.verify_with(token.as_bytes(), now, &mut buf, check)?),
        Mode::Jws => {
            let limits = verifier.validation().limits;
            let j = jws::parse(token.as_bytes(), limits, &mut buf)?
                .verify_with(verifier.keys(), check)?;
            jws_js(&j)
        }
    })
}

/// [`run`] with its refusal as a JS `Error`.
fn run_js(
    verifier: &tollgate::Verifier,
    mode: Mode,
    token: &str,
    now: u64,
    check: impl FnOnce(&SignatureInput<'_>) -> Result<(), Error>,
) -> Result<JsValue, JsValue> {
    run(verifier, mode, token, now, check).unwrap_or_else(|e| Err(from_core(&e)))
}

/// The first half of an asynchronous verification: the result (or refusal) when it needs no
/// WebCrypto, or a `SignatureWait` whose `finish` gives it.
fn begin_async(
    verifier: Arc<tollgate::Verifier>,
    mode: Mode,
    token: &JsValue,
    now: Option<f64>,
) -> Result<JsValue, JsValue> {
    let token = token_text(token)?;
    let now = now_secs(now)?;
    let mut job = None;
    let first = run(&verifier, mode, &token, now, |s| {
        SignatureJob::defer(s, &mut job)
    });
    let Some(job) = job else {
        return first.unwrap_or_else(|e| Err(from_core(&e)));
    };
    SignatureWait::start(
        job,
        Box::new(move |job, verdict| {
            run_js(&verifier, mode, &token, now, |s| job.finish(s, verdict))
        }),
    )
}

/// A key set and the rules tokens must satisfy, built once for many tokens.
///
/// `keys`: a JWKS (`{"keys": [...]}`) or a single JWK (text, bytes or object), each key bound to
/// its own `alg` (or its curve's); or a PEM / DER public key, which needs `alg`.
///
/// `options` (all optional): `issuers` (exact match; left out accepts any, `[]` is refused),
/// `audiences` (any match; empty means the token must carry no `aud`), `leeway` (seconds, default 60, at most 600),
/// `typ` (e.g. `"at+jwt"`), `required` (default `["exp"]`), `maxLifetime`, `rejectFutureIat`
/// (default true), `maxTokenBytes` (default 8192, at most 65536), `maxJsonDepth`, `alg` (binds
/// every key), `kid` (names a PEM/DER key). Unknown members are refused (`invalid_options`).
#[wasm_bindgen]
pub struct Verifier {
    inner: Arc<tollgate::Verifier>,
}

#[wasm_bindgen]
impl Verifier {
    /// Builds a verifier; throws `invalid_options`, `invalid_key_set`, `weak_key`, … when the
    /// keys or options are not usable.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | object")] keys: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "VerifyOptions")] options: JsValue,
    ) -> Result<Verifier, JsValue> {
        guard(|| {
            let (settings, now) = Options::from_js(&options)?.split();
            if now.is_some() {
                return Err(invalid_options(
                    "now is given to verify() and verifyAsync(), not to the Verifier",
                ));
            }
            let keys = document(
                &keys,
                "keys",
                ErrorCode::InvalidKeySet,
                tollgate::limits::MAX_KEY_SET_BYTES,
            )?;
            Ok(Verifier {
                inner: Arc::new(build(settings, &keys)?),
            })
        })
    }

    /// A verifier over the key set `refresher` serves at `now` (Unix seconds; default: the
    /// clock), with `options` as for `new Verifier` (but not `alg` or `kid`: the refresher's
    /// config binds its keys). The verifier keeps that set: make a new one when
    /// `refresher.version(now)` changes (the package's `KeySource` does). Throws
    /// `key_set_fetch_failed` before the first good fetch, `key_set_stale` once the set is stale.
    #[wasm_bindgen(js_name = fromRefresher)]
    pub fn from_refresher(
        refresher: &Refresher,
        #[wasm_bindgen(unchecked_param_type = "VerifyOptions | null | undefined")] options: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<Verifier, JsValue> {
        guard(|| {
            let (settings, at) = Options::from_js(&options)?.split();
            if at.is_some() || settings.alg.is_some() || settings.kid.is_some() {
                return Err(invalid_options(
                    "a verifier over a refresher takes no now, alg or kid (the refresher's config binds its keys)",
                ));
            }
            let set = refresher
                .key_set(now_secs(now_arg(&now)?)?)
                .map_err(|e| from_core(&e))?;
            Ok(Verifier {
                inner: Arc::new(rules(settings, set)?),
            })
        })
    }

    /// Verifies a JWT at `now` (Unix seconds; default: the clock), signature in WebAssembly:
    /// returns `{header, claims, algorithm, keyId}`, or throws an `Error` whose `code` says why
    /// (`expired`, `invalid_signature`, `unknown_kid`, …).
    #[wasm_bindgen(unchecked_return_type = "VerifiedToken")]
    pub fn verify(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        guard(|| {
            let token = token_text(&token)?;
            run_js(
                &self.inner,
                Mode::Jwt,
                &token,
                now_secs(now_arg(&now)?)?,
                |s| s.verify(),
            )
        })
    }

    /// The first half of `verifyAsync` (the entry point's, `js/webcrypto.js`).
    #[wasm_bindgen(js_name = verifyAsyncBegin, skip_typescript)]
    pub fn verify_async_begin(&self, token: JsValue, now: JsValue) -> Result<JsValue, JsValue> {
        guard(|| begin_async(self.inner.clone(), Mode::Jwt, &token, now_arg(&now)?))
    }

    /// Verifies a JWS's signature only (its payload need not be JWT claims): returns `{header,
    /// payload, algorithm, keyId}` with the payload as bytes.
    #[wasm_bindgen(js_name = verifyJws, unchecked_return_type = "VerifiedJws")]
    pub fn verify_jws(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
    ) -> Result<JsValue, JsValue> {
        guard(|| {
            let token = token_text(&token)?;
            run_js(&self.inner, Mode::Jws, &token, 0, |s| s.verify())
        })
    }

    /// The first half of `verifyJwsAsync` (the entry point's, `js/webcrypto.js`).
    #[wasm_bindgen(js_name = verifyJwsAsyncBegin, skip_typescript)]
    pub fn verify_jws_async_begin(&self, token: JsValue) -> Result<JsValue, JsValue> {
        guard(|| begin_async(self.inner.clone(), Mode::Jws, &token, None))
    }
}

/// Builds a one-off verifier from `keys` and `options` (as `new Verifier`, plus `options.now`).
fn one_off(
    keys: &JsValue,
    options: &JsValue,
) -> Result<(Arc<tollgate::Verifier>, Option<f64>), JsValue> {
    let (settings, now) = Options::from_js(options)?.split();
    let keys = document(
        keys,
        "keys",
        ErrorCode::InvalidKeySet,
        tollgate::limits::MAX_KEY_SET_BYTES,
    )?;
    Ok((Arc::new(build(settings, &keys)?), now))
}

/// Verifies one JWT against `keys` under `options` (those of `new Verifier`, plus `now`):
/// `{header, claims, algorithm, keyId}`, or a thrown `Error` with a `code`. Builds the key set
/// each time: for many tokens, make a `Verifier` once.
#[wasm_bindgen(unchecked_return_type = "VerifiedToken")]
pub fn verify(
    #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | object")] keys: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "VerifyOptions & { now?: number }")]
    options: JsValue,
) -> Result<JsValue, JsValue> {
    guard(|| {
        let token = token_text(&token)?;
        let (verifier, now) = one_off(&keys, &options)?;
        run_js(&verifier, Mode::Jwt, &token, now_secs(now)?, |s| s.verify())
    })
}

/// The first half of the one-off `verifyAsync` (the entry point's, `js/webcrypto.js`).
#[wasm_bindgen(js_name = verifyAsyncBegin, skip_typescript)]
pub fn verify_async_begin(
    token: JsValue,
    keys: JsValue,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    guard(|| {
        // The token first, as `verify` reads it: both paths refuse a bad call the same way.
        check_token(&token)?;
        let (verifier, now) = one_off(&keys, &options)?;
        begin_async(verifier, Mode::Jwt, &token, now)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_camel_case_and_strict() {
        let o = Options::from_json(
            br#"{"issuers":["i"],"audiences":["a"],"leeway":0,"maxLifetime":600,"rejectFutureIat":false,"maxTokenBytes":100,"maxJsonDepth":4,"required":[],"typ":"JWT","alg":"HS256","kid":"k","now":5}"#,
        )
        .unwrap();
        assert_eq!(o.max_lifetime, Some(600));
        assert_eq!(o.reject_future_iat, Some(false));
        assert_eq!(o.now, Some(5.0));
        assert_eq!(
            (o.issuers, o.audiences),
            (vec!["i".to_owned()], vec!["a".to_owned()])
        );
        assert_eq!(Options::from_json(br#"{"now":null}"#).unwrap().now, None);
        let e = Options::from_json(br#"{"max_lifetime":1}"#).unwrap_err();
        assert!(
            e.starts_with("unknown field `max_lifetime`, expected one of `issuers`"),
            "{e}"
        );
        assert!(Options::from_json(br#"{"issuer":"i"}"#).is_err());
        assert_eq!(
            Options::from_json(br#"{"leeway":-1}"#).unwrap_err(),
            "leeway: invalid value: integer `-1`, expected u64"
        );
        assert_eq!(
            Options::from_json(br#"{"now":1e400}"#).unwrap_err(),
            "number out of range"
        );
        assert_eq!(Options::from_json(b"[]").unwrap_err(), "not a JSON object");
    }

    #[test]
    fn key_ids_are_json() {
        assert_eq!(key_id_json(None), "null");
        assert_eq!(key_id_json(Some("a\"b")), r#""a\"b""#);
    }
}
