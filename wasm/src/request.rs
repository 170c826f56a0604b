//! Reading JS arguments: the request object `check` decides, JSON documents (policy, snapshot,
//! keys, options) and `now`.
//!
//! A request is `{method, path, headers}`. `path` may carry a query string (ignored). Instead of
//! `path`, a `url` gives it: the path and query after the authority of an absolute URL (a fetch
//! `Request`'s), or a request target as it is (Node's `req.url`). Headers
//! are a fetch `Headers` (or anything iterable over `[name, value]` pairs, like a `Map`), an array
//! of `[name, value]` pairs, or an object of `name: value` (Node's `req.headers`, where a value may
//! be an array of strings, and `undefined` is a header left out). Names are case-insensitive;
//! limits are the core's.

use crate::error::js_error;
use js_sys::{Array, Reflect, Uint8Array};
use tollgate::{ErrorCode, Request};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A request copied out of JS, so that it can outlive the call that gave it (the async path
/// decides it twice, before and after the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

fn invalid_request(message: &str) -> JsValue {
    js_error(ErrorCode::InvalidRequest, message)
}

/// `value` as a string of at most `max` bytes (checked before it is copied), or `bad()`.
fn bounded_string(
    value: &JsValue,
    max: usize,
    what: &str,
    bad: impl FnOnce() -> JsValue,
) -> Result<String, JsValue> {
    match js_string_len(value) {
        Some(len) if len > max => Err(invalid_request(&format!(
            "{what} is {len} bytes or more, more than the limit of {max}"
        ))),
        Some(_) => Ok(value.as_string().unwrap_or_default()),
        None => Err(bad()),
    }
}

fn string_member(object: &JsValue, name: &str, max: usize) -> Result<Option<String>, JsValue> {
    let value = Reflect::get(object, &name.into())
        .map_err(|_| invalid_request(&format!("cannot read the request's {name}")))?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    bounded_string(&value, max, &format!("the request's {name}"), || {
        invalid_request(&format!("the request's {name} must be a string"))
    })
    .map(Some)
}

/// The core's limits, applied before a string is copied out of JS (the core checks them again,
/// with its own messages, on what is copied). A URL holds a scheme and an authority besides the
/// path.
const MAX_METHOD: usize = tollgate::request::MAX_METHOD;
const MAX_PATH: usize = tollgate::request::MAX_PATH;
const MAX_URL: usize = tollgate::request::MAX_PATH + 2048;
const MAX_NAME: usize = tollgate::request::MAX_HEADER_NAME;
const MAX_VALUE: usize = tollgate::request::MAX_HEADER_VALUE;
const MAX_HEADERS: usize = tollgate::request::MAX_HEADERS;

/// The path and query of an absolute URL (`https://host/p?q` → `/p?q`; `/` when it has none;
/// the fragment, which only a client holds, dropped). A URL is absolute only when it starts
/// with a scheme (`https:`); anything else is a request target already (Node's `req.url`) and is
/// the path as it is, whatever its query holds (`/a?next=https://x/health` is `/a`'s), with any
/// `#` left for the engine to refuse.
pub fn path_of_url(url: &str) -> &str {
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => rest,
        _ => return url,
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    match rest.find(['/', '?']) {
        Some(i) if rest.get(i..i + 1) == Some("/") => rest.get(i..).unwrap_or("/"),
        _ => "/",
    }
}

/// Whether `s` is a URL scheme (RFC 3986 §3.1): a letter, then letters, digits, `+`, `-`, `.`.
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

impl OwnedRequest {
    /// A request from its parts.
    pub fn new(method: &str, path: &str, headers: Vec<(String, String)>) -> OwnedRequest {
        OwnedRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            headers,
        }
    }

    /// Reads `{method, path | url, headers}`; a malformed object is `invalid_request`.
    pub fn from_js(value: &JsValue) -> Result<OwnedRequest, JsValue> {
        if !value.is_object() {
            return Err(invalid_request(
                "the request must be an object {method, path, headers}",
            ));
        }
        let method = string_member(value, "method", MAX_METHOD)?
            .ok_or_else(|| invalid_request("the request has no method"))?;
        let path = match string_member(value, "path", MAX_PATH)? {
            Some(path) => path,
            None => match string_member(value, "url", MAX_URL)? {
                Some(url) => path_of_url(&url).to_owned(),
                None => return Err(invalid_request("the request has neither path nor url")),
            },
        };
        let headers = Reflect::get(value, &"headers".into())
            .map_err(|_| invalid_request("cannot read the request's headers"))?;
        Ok(OwnedRequest {
            method,
            path,
            headers: read_headers(&headers)?,
        })
    }

    /// Runs `f` on the core's view of the request.
    pub fn with<R>(&self, f: impl FnOnce(&Request<'_>) -> R) -> R {
        let pairs: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        f(&Request::new(&self.method, &self.path, &pairs))
    }
}

/// One `[name, value]` pair (the value may be an array of strings: one header each).
fn push_pair(pair: &JsValue, out: &mut Vec<(String, String)>) -> Result<(), JsValue> {
    let bad = || invalid_request("each header must be a [name, value] pair of strings");
    let pair: &Array = pair.dyn_ref::<Array>().ok_or_else(bad)?;
    if pair.length() != 2 {
        return Err(bad());
    }
    let name = bounded_string(&pair.get(0), MAX_NAME, "a header name", bad)?;
    push_value(name, &pair.get(1), out)
}

fn push_value(
    name: String,
    value: &JsValue,
    out: &mut Vec<(String, String)>,
) -> Result<(), JsValue> {
    let shown: String = name.chars().take(64).collect();
    let bad = || {
        invalid_request(&format!(
            "header {shown:?} must be a string or an array of strings"
        ))
    };
    let what = format!("header {shown:?}");
    let push = |value: &JsValue, out: &mut Vec<(String, String)>| {
        if out.len() >= MAX_HEADERS {
            return Err(invalid_request(&format!(
                "the request has more than {MAX_HEADERS} headers, the limit"
            )));
        }
        let v = bounded_string(value, MAX_VALUE, &what, bad)?;
        out.push((name.clone(), v));
        Ok(())
    };
    if value.is_string() {
        return push(value, out);
    }
    let Some(values) = value.dyn_ref::<Array>() else {
        return Err(bad());
    };
    for v in values.iter() {
        push(&v, out)?;
    }
    Ok(())
}

/// Reads headers in any of the accepted shapes (see the module docs).
pub fn read_headers(headers: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    let mut out = Vec::new();
    if headers.is_undefined() || headers.is_null() {
        return Ok(out);
    }
    if let Some(list) = headers.dyn_ref::<Array>() {
        for pair in list.iter() {
            push_pair(&pair, &mut out)?;
        }
        return Ok(out);
    }
    if !headers.is_object() {
        return Err(invalid_request(
            "headers must be a Headers, an array of [name, value] pairs or an object",
        ));
    }
    let iterator = js_sys::try_iter(headers)
        .map_err(|_| invalid_request("cannot iterate over the headers"))?;
    match iterator {
        Some(items) => {
            for item in items {
                let item = item.map_err(|_| invalid_request("cannot iterate over the headers"))?;
                push_pair(&item, &mut out)?;
            }
        }
        None => {
            let object = headers.unchecked_ref::<js_sys::Object>();
            for entry in js_sys::Object::entries(object).iter() {
                let entry: Array = entry.unchecked_into();
                let name = bounded_string(&entry.get(0), MAX_NAME, "a header name", || {
                    invalid_request("a header name must be a string")
                })?;
                let value = entry.get(1);
                // An absent header, as Node types `req.headers` and as `{h: req.get(h)}` builds.
                if value.is_undefined() {
                    continue;
                }
                push_value(name, &value, &mut out)?;
            }
        }
    }
    Ok(out)
}

/// The length of a JS string in UTF-16 units, which is never more than its UTF-8 length: a
/// string longer than a byte limit this way is over it, and is refused before it is copied.
pub fn js_string_len(value: &JsValue) -> Option<usize> {
    value
        .dyn_ref::<js_sys::JsString>()
        .map(|s| usize::try_from(s.length()).unwrap_or(usize::MAX))
}

/// A JSON document given as text, UTF-8 bytes (`Uint8Array` or `ArrayBuffer`), or a plain object
/// (serialized with `JSON.stringify`). Anything else fails with `code`, and so does a document
/// longer than `max` bytes, before it is copied into the module.
///
/// Only plain objects (and arrays, and objects with a `toJSON`) are serialized: `JSON.stringify`
/// writes a `Map`, a class's getters or an `ArrayBuffer` as `{}`, and options given that way
/// would silently be no options. `JSON.stringify` also writes `NaN` and `±Infinity` as `null`,
/// which every reader takes as a member left out: `expires: NaN` (say, `Date.parse` of a bad
/// date) would be a key that never expires. A number that is not finite fails instead, naming
/// its member; so does an `issuers` member that is `undefined` (left out, it would accept any
/// issuer), and an object that stringifies to nothing (a `toJSON` that returns `undefined`).
pub fn document(
    value: &JsValue,
    what: &str,
    code: ErrorCode,
    max: usize,
) -> Result<Vec<u8>, JsValue> {
    let too_large = |len: usize| {
        js_error(
            code,
            &format!("the {what} is {len} bytes or more, more than the limit of {max}"),
        )
    };
    if let Some(len) = js_string_len(value) {
        if len > max {
            return Err(too_large(len));
        }
        return Ok(value.as_string().unwrap_or_default().into_bytes());
    }
    let bytes = match value.dyn_ref::<js_sys::ArrayBuffer>() {
        Some(buffer) => Some(Uint8Array::new(buffer)),
        None => value.dyn_ref::<Uint8Array>().cloned(),
    };
    if let Some(bytes) = bytes {
        let len = usize::try_from(bytes.length()).unwrap_or(usize::MAX);
        if len > max {
            return Err(too_large(len));
        }
        return Ok(bytes.to_vec());
    }
    if value.is_object() {
        if !plain_object(value) {
            return Err(js_error(
                code,
                &format!(
                    "the {what} must be a plain object (not a Map, a class instance or a typed \
                     array): JSON.stringify would drop what it holds"
                ),
            ));
        }
        let finite = Closure::<dyn FnMut(JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
            |key: JsValue, value: JsValue| {
                let name = key.as_string().unwrap_or_default();
                if value.is_undefined() && name == "issuers" {
                    return Err(JsValue::from_str(
                        "member \"issuers\" is undefined: leave it out to accept any issuer, \
                         or list the issuers",
                    ));
                }
                match value.as_f64() {
                    // Named by hand: formatting an f64 would bring float printing into the module.
                    Some(n) if !n.is_finite() => Err(JsValue::from_str(&format!(
                        "member {name:?} is {}, not a finite number",
                        if n.is_nan() {
                            "NaN"
                        } else if n > 0.0 {
                            "Infinity"
                        } else {
                            "-Infinity"
                        }
                    ))),
                    _ => Ok(value),
                }
            },
        );
        let text = js_sys::JSON::stringify_with_replacer(value, finite.as_ref()).map_err(|e| {
            let reason = e.as_string().map(|r| format!(": {r}")).unwrap_or_default();
            js_error(
                code,
                &format!("the {what} object cannot be serialized as JSON{reason}"),
            )
        })?;
        let text = JsValue::from(text);
        if let Some(len) = js_string_len(&text).filter(|len| *len > max) {
            return Err(too_large(len));
        }
        return text.as_string().map(String::into_bytes).ok_or_else(|| {
            js_error(
                code,
                &format!(
                    "the {what} object serializes to nothing (a toJSON that returns undefined?)"
                ),
            )
        });
    }
    Err(js_error(
        code,
        &format!("the {what} must be JSON text, its UTF-8 bytes (Uint8Array) or an object"),
    ))
}

/// For a string or bytes longer than `max`: their first `max + 1` characters or bytes, which are
/// over `max` bytes too. An answer the core must judge itself (a store's record, a fetched key
/// set, whose refusal it counts) is handed over this way, so that the core refuses it by its
/// length without the rest being copied into the module. `None` for anything else.
pub fn over_limit_prefix(value: &JsValue, max: usize) -> Option<Vec<u8>> {
    let keep = u32::try_from(max.saturating_add(1)).unwrap_or(u32::MAX);
    if let Some(s) = value.dyn_ref::<js_sys::JsString>() {
        return (s.length() > keep - 1).then(|| String::from(s.substring(0, keep)).into_bytes());
    }
    let bytes = match value.dyn_ref::<js_sys::ArrayBuffer>() {
        Some(buffer) => Uint8Array::new(buffer),
        None => value.dyn_ref::<Uint8Array>()?.clone(),
    };
    (bytes.length() > keep - 1).then(|| bytes.subarray(0, keep).to_vec())
}

/// A key snapshot document ([`document`] within the core's snapshot limit).
pub fn snapshot_document(value: &JsValue) -> Result<Vec<u8>, JsValue> {
    document(
        value,
        "snapshot",
        ErrorCode::InvalidSnapshot,
        tollgate::snapshot::MAX_SNAPSHOT_BYTES,
    )
}

/// Whether `JSON.stringify` writes what `value` holds: an array, an object whose prototype is
/// `Object.prototype` or `null`, or an object with its own `toJSON`.
fn plain_object(value: &JsValue) -> bool {
    if Array::is_array(value) {
        return true;
    }
    if Reflect::get(value, &"toJSON".into()).is_ok_and(|f| f.is_function()) {
        return true;
    }
    let prototype: JsValue = js_sys::Object::get_prototype_of(value).into();
    let plain: JsValue = js_sys::Object::get_prototype_of(&js_sys::Object::new().into()).into();
    prototype.is_null() || prototype == plain
}

/// Largest `now` accepted: 2^53 - 1, the largest integer a JS number holds exactly.
const MAX_NOW: f64 = 9_007_199_254_740_991.0;

/// `now` in whole Unix seconds: the given number (rounded down), or the clock (`Date.now()`)
/// when none is given. Negative, non-finite or too large values are `invalid_options`.
pub fn now_secs(now: Option<f64>) -> Result<u64, JsValue> {
    let t = match now {
        Some(t) => t,
        None => js_sys::Date::now() / 1000.0,
    };
    checked_now(t).ok_or_else(|| {
        js_error(
            ErrorCode::InvalidOptions,
            "now must be Unix seconds: a finite number from 0 to 2^53 - 1",
        )
    })
}

/// A `now` argument: a number, or `undefined`/`null` for the clock. Anything else is
/// `invalid_options`: JS would turn `""`, `false` or `[]` into 0 (the epoch, when every token
/// is still valid) and `"1700000000"` into a number.
pub fn now_arg(now: &JsValue) -> Result<Option<f64>, JsValue> {
    if now.is_undefined() || now.is_null() {
        return Ok(None);
    }
    now.as_f64().map(Some).ok_or_else(|| {
        js_error(
            ErrorCode::InvalidOptions,
            "now must be a number of Unix seconds (or left out for the clock)",
        )
    })
}

/// `t` rounded down to whole seconds, if it is a valid time.
pub fn checked_now(t: f64) -> Option<u64> {
    // The range check makes the conversion exact.
    (t.is_finite() && (0.0..=MAX_NOW).contains(&t)).then(|| t.floor() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_their_path_and_query() {
        assert_eq!(path_of_url("https://a.example/api/x?y=1#f"), "/api/x?y=1");
        assert_eq!(path_of_url("http://127.0.0.1:8787/"), "/");
        assert_eq!(path_of_url("http://127.0.0.1:8787"), "/");
        assert_eq!(path_of_url("http://h?q=1"), "/");
        // A request target is the path as it is: a URL in its query is not the request's.
        assert_eq!(
            path_of_url("/v1/docs?next=https://x.example/health"),
            "/v1/docs?next=https://x.example/health"
        );
        assert_eq!(path_of_url("/a/https://b/c"), "/a/https://b/c");
        assert_eq!(path_of_url("/already/a/path#x"), "/already/a/path#x");
        assert_eq!(path_of_url("1http://h/p"), "1http://h/p");
        assert_eq!(path_of_url("svn+ssh://h/p"), "/p");
    }

    #[test]
    fn now_is_checked() {
        assert_eq!(checked_now(1.9), Some(1));
        assert_eq!(checked_now(0.0), Some(0));
        assert_eq!(checked_now(MAX_NOW), Some(9_007_199_254_740_991));
        for bad in [-1.0, f64::NAN, f64::INFINITY, MAX_NOW * 2.0] {
            assert_eq!(checked_now(bad), None, "{bad}");
        }
    }

    #[test]
    fn owned_requests_reach_the_core_unchanged() {
        let r = OwnedRequest::new("GET", "/p", vec![("A".into(), "1".into())]);
        r.with(|req| {
            assert_eq!(req.method, "GET");
            assert_eq!(req.path, "/p");
            assert_eq!(req.header_values("a").collect::<Vec<_>>(), ["1"]);
        });
    }
}
