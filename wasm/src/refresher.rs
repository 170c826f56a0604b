//! `Refresher` and discovery: the core's sans-IO JWKS refresher ([`tollgate::refresh`]) and OpenID
//! discovery ([`tollgate::discovery`]) for JS hosts, which do the fetching. The package's
//! `KeySource` (`js/keysource.js`) drives one with `fetch`; a host may drive one itself:
//!
//! ```js
//! const r = Refresher.forProvider(engine, "idp");        // or new Refresher({maxTtl: 3600})
//! if (r.poll(now).fetch) {
//!   try {
//!     const res = await fetch(jwksUrl);
//!     r.onFetched(res.status, res.headers, new Uint8Array(await res.arrayBuffer()), now);
//!   } catch (e) { if (!e.code) r.onFetchFailed(String(e), now); }  // key_set_fetch_failed: counted
//! }
//! engine.swapProviderKeys("idp", r, now);                 // or Verifier.fromRefresher(r, options)
//! ```

use crate::engine::Engine;
use crate::error::{from_core, guard, js_error, parse_json};
use crate::request::{document, now_arg, now_secs, over_limit_prefix, read_headers};
use js_sys::{Array, Object, Reflect};
use std::sync::Arc;
use tollgate::refresh::{self, Poll, RefreshConfig};
use tollgate::{discovery, Algorithm, Error, ErrorCode, KeySet};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn invalid_config(reason: &str) -> JsValue {
    js_error(
        ErrorCode::InvalidOptions,
        &format!("invalid refresher config: {reason}"),
    )
}

/// `base` with the members of the config object `value` (camelCase; unknown members are
/// refused); the result is checked by `Refresher::new`. Read member by member rather than with
/// serde, which costs the package kilobytes.
fn apply_config(value: &JsValue, mut base: RefreshConfig) -> Result<RefreshConfig, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(base);
    }
    if !value.is_object() || Array::is_array(value) {
        return Err(invalid_config("it must be an object"));
    }
    const NUMBERS: [&str; 8] = [
        "minTtl",
        "maxTtl",
        "defaultTtl",
        "unknownKidInterval",
        "retryInitial",
        "retryMax",
        "staleAfter",
        "maxBodyBytes",
    ];
    for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
        let name = key.as_string().unwrap_or_default();
        if name != "algorithms" && !NUMBERS.contains(&name.as_str()) {
            return Err(invalid_config(&format!(
                "unknown member {:?}",
                name.chars().take(64).collect::<String>()
            )));
        }
        // A getter that throws is an error, not a member left out.
        let member = Reflect::get(value, &key)
            .map_err(|_| invalid_config(&format!("{name} cannot be read")))?;
        if member.is_undefined() {
            continue;
        }
        if name == "algorithms" {
            let list = member
                .dyn_ref::<Array>()
                .ok_or_else(|| invalid_config("algorithms must be an array of names"))?;
            base.algorithms = list
                .iter()
                .map(|a| {
                    let a = a.as_string().unwrap_or_default();
                    Algorithm::from_name(&a)
                        .map_err(|e| invalid_config(&format!("algorithms: {e}")))
                })
                .collect::<Result<_, _>>()?;
            continue;
        }
        let number = member
            .as_f64()
            .filter(|n| n.fract() == 0.0)
            .and_then(crate::request::checked_now)
            .ok_or_else(|| invalid_config(&format!("{name} must be a whole number")))?;
        match name.as_str() {
            "minTtl" => base.min_ttl = number,
            "maxTtl" => base.max_ttl = number,
            "defaultTtl" => base.default_ttl = number,
            "unknownKidInterval" => base.unknown_kid_interval = number,
            "retryInitial" => base.retry_initial = number,
            "retryMax" => base.retry_max = number,
            "staleAfter" => base.stale_after = number,
            "maxBodyBytes" => {
                base.max_body_bytes = usize::try_from(number).unwrap_or(usize::MAX);
            }
            _ => return Err(invalid_config(&format!("unknown member {name:?}"))),
        }
    }
    Ok(base)
}

/// One JWKS URL's refresh state: when to fetch, which key set is current, and how the last
/// fetches went. It does no IO: the host fetches when `poll` says so and reports the outcome.
///
/// The rules (the core's `tollgate::refresh`): after a good fetch the next is due after the
/// response's `Cache-Control: max-age`, clamped to `minTtl`..`maxTtl` (300 s..1 day), or after
/// `defaultTtl` (900 s) without one; a failure (no response, a status other than 200, a body that
/// is not a JWKS with a usable key) keeps the last good set and retries after `retryInitial`
/// (5 s) doubling up to `retryMax` (300 s); a set not refreshed for `staleAfter` (2 days) is no
/// longer served (`key_set_stale`); an unknown `kid` asks for an early fetch at most once per
/// `unknownKidInterval` (30 s), never inside a backoff. Keys Tollgate cannot use are skipped and
/// listed in `status().skipped`.
///
/// `config` (all optional, seconds): `minTtl`, `maxTtl`, `defaultTtl`, `unknownKidInterval`,
/// `retryInitial`, `retryMax`, `staleAfter`, `maxBodyBytes` (at most 1 MiB), `algorithms` (the
/// algorithms whose keys are kept; with exactly one, keys without `alg` are bound to it).
/// Every `now` is Unix seconds (default: the clock).
#[wasm_bindgen]
pub struct Refresher {
    inner: refresh::Refresher,
    version: u32,
}

impl Refresher {
    fn with(config: RefreshConfig) -> Result<Refresher, JsValue> {
        Ok(Refresher {
            inner: refresh::Refresher::new(config).map_err(|e| from_core(&e))?,
            version: 0,
        })
    }

    /// The set to serve at `now`, as the core says (`key_set_fetch_failed`, `key_set_stale`).
    pub(crate) fn key_set(&self, now: u64) -> Result<Arc<KeySet>, Error> {
        self.inner.key_set(now)
    }

    /// The core refresher.
    pub(crate) fn inner(&self) -> &refresh::Refresher {
        &self.inner
    }
}

/// An HTTP status code from a JS number: an integer 0..=999.
fn status_code(status: f64) -> Option<u16> {
    (status.fract() == 0.0 && (0.0..=999.0).contains(&status)).then_some(status as u16)
}

#[wasm_bindgen]
impl Refresher {
    /// A refresher with no key set yet (its first `poll` says fetch). Throws `invalid_options`
    /// for a config the core refuses (e.g. `minTtl` above `defaultTtl`, `staleAfter` not above
    /// `maxTtl`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "RefresherConfig")] config: JsValue,
    ) -> Result<Refresher, JsValue> {
        guard(|| Refresher::with(apply_config(&config, RefreshConfig::default())?))
    }

    /// A refresher for the policy provider `provider` of `engine`: it keeps only keys of the
    /// algorithms the provider allows; `config` may change the rest. Throws `invalid_options` if
    /// the policy has no such provider.
    #[wasm_bindgen(js_name = forProvider)]
    pub fn for_provider(
        engine: &Engine,
        provider: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "RefresherConfig")] config: JsValue,
    ) -> Result<Refresher, JsValue> {
        guard(|| {
            let base = engine
                .core()
                .refresh_config(provider)
                .map_err(|e| from_core(&e))?;
            Refresher::with(apply_config(&config, base)?)
        })
    }

    /// Whether to fetch now (`{fetch: true}`) or until when to wait (`{fetch: false, until}`,
    /// Unix seconds).
    #[wasm_bindgen(unchecked_return_type = "{ fetch: true } | { fetch: false; until: number }")]
    pub fn poll(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        guard(|| {
            parse_json(&match self.inner.poll(now_secs(now_arg(&now)?)?) {
                Poll::Fetch => r#"{"fetch":true}"#.to_owned(),
                Poll::Wait { until } => format!(r#"{{"fetch":false,"until":{until}}}"#),
            })
        })
    }

    /// Reports a response: its HTTP `status`, its `headers` (a fetch `Headers`, `[name, value]`
    /// pairs or an object; only `Cache-Control` is read) and its `body` (text or bytes). A good
    /// response replaces the key set: returns `{keys, skipped, nextFetch}`. Anything else is a
    /// failure that keeps the last good set and backs off: throws `key_set_fetch_failed` saying
    /// why.
    #[wasm_bindgen(js_name = onFetched, unchecked_return_type = "FetchedKeys")]
    pub fn on_fetched(
        &mut self,
        status: f64,
        #[wasm_bindgen(
            unchecked_param_type = "Headers | Iterable<[string, string]> | Record<string, string>"
        )]
        headers: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] body: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        guard(|| {
            let now = now_secs(now_arg(&now)?)?;
            let status = status_code(status).ok_or_else(|| {
                js_error(
                    ErrorCode::InvalidOptions,
                    "status must be an HTTP status code (an integer 0..=999)",
                )
            })?;
            let headers = read_headers(&headers)?;
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            // A body over the limit is not copied whole: the refresher counts it as a failed
            // fetch (and backs off) by its length.
            let max = self.inner.config().max_body_bytes;
            let body = match over_limit_prefix(&body, max) {
                Some(prefix) => prefix,
                None => document(&body, "body", ErrorCode::KeySetFetchFailed, usize::MAX)?,
            };
            let fetched = self
                .inner
                .on_fetched(status, &pairs, &body, now)
                .map_err(|e| from_core(&e))?;
            self.version = self.version.wrapping_add(1);
            parse_json(&format!(
                r#"{{"keys":{},"skipped":{},"nextFetch":{}}}"#,
                fetched.keys, fetched.skipped, fetched.next_fetch
            ))
        })
    }

    /// Reports a fetch that got no response (network error, timeout, refused connection): the
    /// last good set stays, the next attempt backs off.
    #[wasm_bindgen(js_name = onFetchFailed)]
    pub fn on_fetch_failed(
        &mut self,
        reason: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<(), JsValue> {
        guard(|| {
            self.inner
                .on_fetch_failed(reason, now_secs(now_arg(&now)?)?);
            Ok(())
        })
    }

    /// A token named `kid` and the current set lacks it: `true` when the host should fetch now
    /// (then `poll` says so too); at most once per `unknownKidInterval`, never during a backoff,
    /// never for a kid the set has.
    #[wasm_bindgen(js_name = onUnknownKid)]
    pub fn on_unknown_kid(
        &mut self,
        kid: &str,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<bool, JsValue> {
        guard(|| Ok(self.inner.on_unknown_kid(kid, now_secs(now_arg(&now)?)?)))
    }

    /// A number that changes with each good fetch (a new key set), for hosts that cache what they
    /// build from the set. Throws `key_set_fetch_failed` before the first good fetch and
    /// `key_set_stale` once the set is older than `staleAfter`.
    pub fn version(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<u32, JsValue> {
        guard(|| {
            self.key_set(now_secs(now_arg(&now)?)?)
                .map(|_| self.version)
                .map_err(|e| from_core(&e))
        })
    }

    /// The largest body `onFetched` accepts, in bytes (`maxBodyBytes`): a host stops reading a
    /// response past it.
    #[wasm_bindgen(getter, js_name = maxBodyBytes)]
    pub fn max_body_bytes(&self) -> usize {
        self.inner.config().max_body_bytes
    }

    /// The state at `now`: `usable` (a set is served), `keyIds` (its kids, `null` when none is
    /// served), `fetchedAt`, `nextFetch`, `failures` (consecutive), `lastError` (`{code, message}`
    /// until a fetch succeeds; when nothing is served, why), and `skipped` (the keys the last good
    /// fetch left out: `{index, kid, code, reason}`).
    #[wasm_bindgen(unchecked_return_type = "RefresherStatus")]
    pub fn status(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        guard(|| {
            let now = now_secs(now_arg(&now)?)?;
            let text = |t: &str| serde_json::to_string(t).unwrap_or_default();
            let error = |e: &Error| {
                format!(
                    r#"{{"code":"{}","message":{}}}"#,
                    e.code().name(),
                    text(&e.to_string())
                )
            };
            let served = self.inner.key_set(now);
            let key_ids = match &served {
                Ok(set) => format!(
                    "[{}]",
                    set.keys()
                        .iter()
                        .map(|k| text(k.kid().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                Err(_) => "null".to_owned(),
            };
            let last_error = match &served {
                Err(e) => Some(error(e)),
                Ok(_) => self.inner.last_error().map(error),
            };
            let skipped: Vec<String> = self
                .inner
                .skipped()
                .iter()
                .map(|s| {
                    format!(
                        r#"{{"index":{},"kid":{},"code":"{}","reason":{}}}"#,
                        s.index,
                        s.kid.as_deref().map_or_else(|| "null".to_owned(), text),
                        s.code.name(),
                        text(&s.reason)
                    )
                })
                .collect();
            let or_null = |v: Option<String>| v.unwrap_or_else(|| "null".to_owned());
            parse_json(&format!(
                r#"{{"usable":{},"keyIds":{key_ids},"fetchedAt":{},"staleAt":{},"nextFetch":{},"failures":{},"lastError":{},"skipped":[{}]}}"#,
                served.is_ok(),
                or_null(self.inner.fetched_at().map(|t| t.to_string())),
                or_null(self.inner.fetched_at().map(|t| {
                    t.saturating_add(self.inner.config().stale_after)
                        .to_string()
                })),
                self.inner.next_fetch(),
                self.inner.failures(),
                or_null(last_error),
                skipped.join(",")
            ))
        })
    }
}

/// OpenID Connect Discovery: where `issuer`'s configuration lives (the issuer without a trailing
/// `/`, then `/.well-known/openid-configuration`). Throws `invalid_discovery` for an issuer that
/// is not `https` (or `http` to a loopback host), or carries credentials, a query or a fragment.
#[wasm_bindgen(js_name = discoveryConfigurationUrl)]
pub fn discovery_configuration_url(issuer: &str) -> Result<String, JsValue> {
    guard(|| discovery::configuration_url(issuer).map_err(|e| from_core(&e)))
}

/// The `jwks_uri` of a configuration `document` (text or bytes) fetched for `issuer`. Throws
/// `invalid_discovery` unless the document's `issuer` equals `issuer` exactly and its `jwks_uri`
/// is an `https` URL (or `http` to a loopback host).
#[wasm_bindgen(js_name = discoveryJwksUri)]
pub fn discovery_jwks_uri(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array")] configuration: JsValue,
    issuer: &str,
) -> Result<String, JsValue> {
    guard(|| {
        let bytes = document(
            &configuration,
            "configuration",
            ErrorCode::InvalidDiscovery,
            tollgate::discovery::MAX_DISCOVERY_BYTES,
        )?;
        discovery::jwks_uri(&bytes, issuer).map_err(|e| from_core(&e))
    })
}

/// Checks that a key set `url` may be fetched, by discovery's rules (`https`, or `http` to a
/// loopback host; no credentials, no fragment); throws `invalid_discovery` otherwise.
#[wasm_bindgen(js_name = discoveryCheckUrl)]
pub fn discovery_check_url(url: &str) -> Result<(), JsValue> {
    guard(|| discovery::check_url(url, "the key set URL").map_err(|e| from_core(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_integers() {
        assert_eq!(status_code(200.0), Some(200));
        assert_eq!(status_code(200.5), None);
        assert_eq!(status_code(65_736.0), None);
        assert_eq!(status_code(-1.0), None);
        assert_eq!(status_code(f64::NAN), None);
    }
}
