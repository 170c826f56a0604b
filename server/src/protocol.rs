//! How each proxy passes the original request, and how the service reads it back.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use std::borrow::Cow;
use tollgate::request::{MAX_HEADERS, MAX_HEADER_VALUE};

/// A forward-auth protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// nginx `auth_request`: `X-Original-Method` and `X-Original-URI`, set by the shipped
    /// configuration; the client's headers come along.
    Nginx,
    /// Caddy `forward_auth` and Traefik ForwardAuth: `X-Forwarded-Method`, `X-Forwarded-Uri` and
    /// `X-Forwarded-Host`, set by the proxy; the client's headers come along.
    Forward,
    /// Envoy `ext_authz` (HTTP service): the original method, the original path after the
    /// configured prefix, the client's headers (those `allowed_headers` lets through).
    Envoy,
}

const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

impl Protocol {
    /// Its name in logs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Protocol::Nginx => "nginx",
            Protocol::Forward => "forward",
            Protocol::Envoy => "envoy",
        }
    }

    /// The headers that carry the original request, which are not the client's own.
    fn control_headers(self) -> &'static [HeaderName] {
        static NGINX: [HeaderName; 2] = [X_ORIGINAL_METHOD, X_ORIGINAL_URI];
        static FORWARD: [HeaderName; 2] = [X_FORWARDED_METHOD, X_FORWARDED_URI];
        match self {
            Protocol::Nginx => &NGINX,
            Protocol::Forward => &FORWARD,
            Protocol::Envoy => &[],
        }
    }
}

/// Why a forwarded request cannot be decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// 400: a header the protocol needs is missing, repeated or unreadable.
    BadRequest(String),
    /// 431: more headers, or a longer header value, than a request may carry.
    TooLarge(String),
}

/// The original request, borrowed from the forwarded one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Original<'a> {
    pub(crate) method: &'a str,
    /// Path and query, as the client sent them.
    pub(crate) uri: &'a str,
    pub(crate) host: Option<&'a str>,
}

/// The one value of header `name`: missing, repeated or not UTF-8 is a bad request. UTF-8, not
/// visible ASCII: nginx passes a path's raw UTF-8 in `$request_uri` (`/café`) where other
/// proxies percent-encode it, and the core's request checks (control characters, the method's
/// token) decide on it as on any other.
fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<&'a str, Malformed> {
    let mut values = headers.get_all(name).iter();
    let value = values
        .next()
        .ok_or_else(|| Malformed::BadRequest(format!("no {name} header")))?;
    if values.next().is_some() {
        return Err(Malformed::BadRequest(format!(
            "more than one {name} header"
        )));
    }
    core::str::from_utf8(value.as_bytes())
        .map_err(|_| Malformed::BadRequest(format!("{name} is not UTF-8")))
}

fn optional<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads the original request out of a forwarded one. `path_and_query` is the forwarded
/// request's own target; `envoy_prefix` the configured Envoy prefix.
pub(crate) fn original<'a>(
    protocol: Protocol,
    method: &'a str,
    path_and_query: &'a str,
    headers: &'a HeaderMap,
    envoy_prefix: &str,
) -> Result<Original<'a>, Malformed> {
    match protocol {
        Protocol::Nginx => Ok(Original {
            method: single(headers, &X_ORIGINAL_METHOD)?,
            uri: single(headers, &X_ORIGINAL_URI)?,
            host: optional(headers, &hyper::header::HOST),
        }),
        Protocol::Forward => Ok(Original {
            method: single(headers, &X_FORWARDED_METHOD)?,
            uri: single(headers, &X_FORWARDED_URI)?,
            host: optional(headers, &X_FORWARDED_HOST)
                .or_else(|| optional(headers, &hyper::header::HOST)),
        }),
        Protocol::Envoy => {
            let uri = path_and_query
                .strip_prefix(envoy_prefix)
                .filter(|rest| rest.starts_with('/'))
                .ok_or_else(|| {
                    Malformed::BadRequest(format!(
                        "the path does not continue the prefix {envoy_prefix} with '/'"
                    ))
                })?;
            Ok(Original {
                method,
                uri,
                host: optional(headers, &hyper::header::HOST),
            })
        }
    }
}

/// A header value as text: UTF-8 as it is, anything else with replacement characters (so a
/// header the engine counts, such as a second credential, is never dropped).
fn text(value: &HeaderValue) -> Cow<'_, str> {
    String::from_utf8_lossy(value.as_bytes())
}

/// The client's headers as the engine reads them: every header but the protocol's own, each
/// repeated value kept. Too many headers, or too long a value, is [`Malformed::TooLarge`].
pub(crate) fn client_headers(
    protocol: Protocol,
    headers: &HeaderMap,
) -> Result<Vec<(&str, Cow<'_, str>)>, Malformed> {
    let control = protocol.control_headers();
    let mut out = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        if control.contains(name) {
            continue;
        }
        if value.len() > MAX_HEADER_VALUE {
            return Err(Malformed::TooLarge(format!(
                "header {name} is longer than {MAX_HEADER_VALUE} bytes"
            )));
        }
        if out.len() == MAX_HEADERS {
            return Err(Malformed::TooLarge(format!(
                "more than {MAX_HEADERS} headers"
            )));
        }
        out.push((name.as_str(), text(value)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn each_protocol_reads_its_own_headers() {
        let h = headers(&[
            ("x-original-method", "POST"),
            ("x-original-uri", "/a?b=1"),
            ("x-forwarded-method", "PUT"),
            ("x-forwarded-uri", "/c"),
            ("x-forwarded-host", "api.example"),
            ("host", "auth:9180"),
        ]);
        let o = original(Protocol::Nginx, "GET", "/auth/nginx", &h, "/x").unwrap();
        assert_eq!(
            (o.method, o.uri, o.host),
            ("POST", "/a?b=1", Some("auth:9180"))
        );
        let o = original(Protocol::Forward, "GET", "/auth/forward?z", &h, "/x").unwrap();
        assert_eq!(
            (o.method, o.uri, o.host),
            ("PUT", "/c", Some("api.example"))
        );
        let o = original(Protocol::Envoy, "DELETE", "/x/d/e?f", &h, "/x").unwrap();
        assert_eq!((o.method, o.uri), ("DELETE", "/d/e?f"));
    }

    #[test]
    fn missing_repeated_or_misplaced_originals_are_bad_requests() {
        let bad = |p, h: &HeaderMap, target| {
            matches!(
                original(p, "GET", target, h, "/ext_authz"),
                Err(Malformed::BadRequest(_))
            )
        };
        assert!(bad(
            Protocol::Nginx,
            &headers(&[("x-original-method", "GET")]),
            "/"
        ));
        assert!(bad(
            Protocol::Forward,
            &headers(&[
                ("x-forwarded-method", "GET"),
                ("x-forwarded-uri", "/a"),
                ("x-forwarded-uri", "/b"),
            ]),
            "/"
        ));
        assert!(bad(Protocol::Envoy, &HeaderMap::new(), "/ext_authz"));
        assert!(bad(Protocol::Envoy, &HeaderMap::new(), "/ext_authzx/a"));
        let mut h = headers(&[("x-original-method", "GET")]);
        h.append("x-original-uri", HeaderValue::from_bytes(b"/\xff").unwrap());
        assert!(bad(Protocol::Nginx, &h, "/"));
    }

    #[test]
    fn a_raw_utf8_path_is_read_as_nginx_passes_it() {
        let mut h = headers(&[("x-original-method", "GET")]);
        h.append(
            "x-original-uri",
            HeaderValue::from_bytes("/café?q=ü".as_bytes()).unwrap(),
        );
        let o = original(Protocol::Nginx, "GET", "/auth/nginx", &h, "/x").unwrap();
        assert_eq!(o.uri, "/café?q=ü");
    }

    #[test]
    fn client_headers_keep_repeats_and_drop_control_headers() {
        let mut h = headers(&[("token", "a"), ("token", "b"), ("x-original-uri", "/")]);
        h.append("x-latin", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let got = client_headers(Protocol::Nginx, &h).unwrap();
        let got: Vec<(&str, &str)> = got.iter().map(|(n, v)| (*n, v.as_ref())).collect();
        assert_eq!(
            got,
            [("token", "a"), ("token", "b"), ("x-latin", "caf\u{fffd}")]
        );
    }

    #[test]
    fn limits_are_431() {
        let mut h = HeaderMap::new();
        for i in 0..=MAX_HEADERS {
            h.append(
                HeaderName::from_bytes(format!("x-h{i}").as_bytes()).unwrap(),
                HeaderValue::from_static("v"),
            );
        }
        assert!(matches!(
            client_headers(Protocol::Envoy, &h),
            Err(Malformed::TooLarge(_))
        ));
        let mut h = HeaderMap::new();
        h.append(
            "x-big",
            HeaderValue::from_str(&"a".repeat(MAX_HEADER_VALUE + 1)).unwrap(),
        );
        assert!(matches!(
            client_headers(Protocol::Envoy, &h),
            Err(Malformed::TooLarge(_))
        ));
    }
}
