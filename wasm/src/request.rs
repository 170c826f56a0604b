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

fn string_member(object: &JsValue, name: &str) -> Result<Option<String>, JsValue> {
    let value = Reflect::get(object, &name.into())
        .map_err(|_| invalid_request(&format!("cannot read the request's {name}")))?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value
        .as_string()
        .map(Some)
        .ok_or_else(|| invalid_request(&format!("the request's {name} must be a string")))
}

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
        let method = string_member(value, "method")?
            .ok_or_else(|| invalid_request("the request has no method"))?;
        let path = match string_member(value, "path")? {
            Some(path) => path,
            None => match string_member(value, "url")? {
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
    let name = pair.get(0).as_string().ok_or_else(bad)?;
    push_value(name, &pair.get(1), out)
}

fn push_value(
    name: String,
    value: &JsValue,
    out: &mut Vec<(String, String)>,
) -> Result<(), JsValue> {
    if let Some(v) = value.as_string() {
        out.push((name, v));
        return Ok(());
    }
    let Some(values) = value.dyn_ref::<Array>() else {
        return Err(invalid_request(&format!(
            "header {name:?} must be a string or an array of strings"
        )));
    };
    for v in values.iter() {
        let v = v.as_string().ok_or_else(|| {
            invalid_request(&format!(
                "header {name:?} must be a string or an array of strings"
            ))
        })?;
        out.push((name.clone(), v));
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
                let name = entry.get(0).as_string().unwrap_or_default();
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

/// A JSON document given as text, UTF-8 bytes, or an object (serialized with `JSON.stringify`).
/// Anything else fails with `code`.
///
/// `JSON.stringify` writes `NaN` and `±Infinity` as `null`, which every reader takes as a member
/// left out: `expires: NaN` (say, `Date.parse` of a bad date) would be a key that never expires.
/// A number that is not finite fails instead, naming its member; so does an object that
/// stringifies to nothing (a `toJSON` that returns `undefined`).
pub fn document(value: &JsValue, what: &str, code: ErrorCode) -> Result<Vec<u8>, JsValue> {
    if let Some(text) = value.as_string() {
        return Ok(text.into_bytes());
    }
    if let Some(bytes) = value.dyn_ref::<Uint8Array>() {
        return Ok(bytes.to_vec());
    }
    if value.is_object() {
        let finite = Closure::<dyn FnMut(JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
            |key: JsValue, value: JsValue| match value.as_f64() {
                // Named by hand: formatting an f64 would bring float printing into the module.
                Some(n) if !n.is_finite() => Err(JsValue::from_str(&format!(
                    "member {:?} is {}, not a finite number",
                    key.as_string().unwrap_or_default(),
                    if n.is_nan() {
                        "NaN"
                    } else if n > 0.0 {
                        "Infinity"
                    } else {
                        "-Infinity"
                    }
                ))),
                _ => Ok(value),
            },
        );
        let text = js_sys::JSON::stringify_with_replacer(value, finite.as_ref()).map_err(|e| {
            let reason = e.as_string().map(|r| format!(": {r}")).unwrap_or_default();
            js_error(
                code,
                &format!("the {what} object cannot be serialized as JSON{reason}"),
            )
        })?;
        return JsValue::from(text)
            .as_string()
            .map(String::into_bytes)
            .ok_or_else(|| {
                js_error(
                    code,
                    &format!("the {what} object serializes to nothing (a toJSON that returns undefined?)"),
                )
            });
    }
    Err(js_error(
        code,
        &format!("the {what} must be JSON text, its UTF-8 bytes (Uint8Array) or an object"),
    ))
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
