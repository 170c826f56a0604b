//! OpenID Connect Discovery (OpenID Connect Discovery 1.0 §4), without IO: where an issuer's
//! configuration lives, and the `jwks_uri` it names, checked against the issuer the host was
//! configured with. The host fetches the document, then runs a [`crate::refresh::Refresher`] on
//! the `jwks_uri`.
//!
//! URLs must be `https`, except `http` to a loopback host (`127.0.0.1`, `[::1]`, `localhost`) for
//! tests and sidecars; they may not carry credentials (`user@`) or a fragment.

use crate::error::{Error, ErrorCode};
use crate::json;

/// Largest configuration document accepted, in bytes.
pub const MAX_DISCOVERY_BYTES: usize = 64 * 1024;
/// Longest issuer or `jwks_uri`, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

fn invalid(reason: String) -> Error {
    Error::KeySource {
        code: ErrorCode::InvalidDiscovery,
        reason,
    }
}

/// Checks that `url` may be fetched: `https://host…`, or `http://` to a loopback host; no
/// credentials, no fragment, no whitespace or control characters, at most [`MAX_URL_BYTES`].
pub fn check_url(url: &str, what: &str) -> Result<(), Error> {
    if url.len() > MAX_URL_BYTES {
        return Err(invalid(format!(
            "{what} is {} bytes; the limit is {MAX_URL_BYTES}",
            url.len()
        )));
    }
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(invalid(format!(
            "{what} {url:?} holds whitespace or control characters"
        )));
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| invalid(format!("{what} {url:?} is not an absolute URL")))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(invalid(format!("{what} {url:?} has no host")));
    }
    if authority.contains('@') {
        return Err(invalid(format!("{what} {url:?} carries credentials")));
    }
    if url.contains('#') {
        return Err(invalid(format!("{what} {url:?} has a fragment")));
    }
    let host = if authority.starts_with('[') {
        authority.split(']').next().map(|h| format!("{h}]"))
    } else {
        authority.split(':').next().map(str::to_owned)
    }
    .unwrap_or_default();
    let loopback = matches!(
        host.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "[::1]" | "localhost"
    );
    match scheme {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(invalid(format!(
            "{what} {url:?} is plain http to a host that is not loopback; use https"
        ))),
        _ => Err(invalid(format!("{what} {url:?} is not an http(s) URL"))),
    }
}

/// Where `issuer`'s configuration lives: the issuer without a trailing `/`, then
/// `/.well-known/openid-configuration`.
pub fn configuration_url(issuer: &str) -> Result<String, Error> {
    check_url(issuer, "the issuer")?;
    if issuer.contains('?') {
        return Err(invalid(format!("the issuer {issuer:?} has a query")));
    }
    Ok(format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    ))
}

/// The `jwks_uri` of a configuration document fetched for `issuer`. The document's `issuer` must
/// equal the configured one exactly (§4.3: no normalisation, so a trailing `/` matters), and its
/// `jwks_uri` must be a URL [`check_url`] accepts.
pub fn jwks_uri(document: &[u8], issuer: &str) -> Result<String, Error> {
    if document.len() > MAX_DISCOVERY_BYTES {
        return Err(invalid(format!(
            "the configuration is {} bytes; the limit is {MAX_DISCOVERY_BYTES}",
            document.len()
        )));
    }
    let object = json::parse_object(document, 16).map_err(|r| {
        invalid(format!(
            "the configuration is not a strict JSON object: {}",
            json::describe(r, 16)
        ))
    })?;
    let text = |name: &str| -> Result<String, Error> {
        let value = object
            .get(name)
            .ok_or_else(|| invalid(format!("the configuration has no \"{name}\"")))?;
        value
            .as_str()
            .map(|s| s.to_cow().into_owned())
            .ok_or_else(|| invalid(format!("\"{name}\" is not a string")))
    };
    let served = text("issuer")?;
    if served != issuer {
        return Err(invalid(format!(
            "the configuration is for issuer {served:?}, not {issuer:?}"
        )));
    }
    let uri = text("jwks_uri")?;
    check_url(&uri, "jwks_uri")?;
    Ok(uri)
}
