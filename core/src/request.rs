//! The request a gateway asks about: method, path, headers (names case-insensitive). Limits are
//! checked before anything else reads it.

use crate::error::{Error, ErrorCode};

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 128;
/// Longest header value, in bytes.
pub const MAX_HEADER_VALUE: usize = 16 * 1024;
/// Longest path (query included), in bytes.
pub const MAX_PATH: usize = 8 * 1024;

/// A request: borrowed from the host, never copied.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The HTTP method, uppercase (`GET`).
    pub method: &'a str,
    /// The path, optionally with a query string (ignored).
    pub path: &'a str,
    /// Header name/value pairs, in any order and case.
    pub headers: &'a [(&'a str, &'a str)],
}

fn bad(reason: impl Into<String>) -> Error {
    Error::Denied {
        code: ErrorCode::InvalidRequest,
        reason: reason.into(),
    }
}

impl<'a> Request<'a> {
    /// A request.
    pub fn new(method: &'a str, path: &'a str, headers: &'a [(&'a str, &'a str)]) -> Request<'a> {
        Request {
            method,
            path,
            headers,
        }
    }

    /// Every value of header `name` (compared case-insensitively).
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Checks the limits and returns the path without its query string. Paths must start with
    /// `/` and may not hold empty, `.` or `..` segments or encoded slashes and dots: a gateway
    /// and its upstream must not disagree about which route a path names.
    pub(crate) fn checked_path(&self) -> Result<&'a str, Error> {
        if self.headers.len() > MAX_HEADERS {
            return Err(bad(format!(
                "the request has {} headers, more than the limit of {MAX_HEADERS}",
                self.headers.len()
            )));
        }
        if let Some((name, value)) = self
            .headers
            .iter()
            .find(|(_, v)| v.len() > MAX_HEADER_VALUE)
        {
            return Err(bad(format!(
                "header {:?} is {} bytes, more than the limit of {MAX_HEADER_VALUE}",
                crate::error::truncated(name, 64),
                value.len()
            )));
        }
        if self.path.len() > MAX_PATH {
            return Err(bad(format!(
                "the path is {} bytes, more than the limit of {MAX_PATH}",
                self.path.len()
            )));
        }
        if self.method.is_empty() || !self.method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad("method must be uppercase letters"));
        }
        let path = self.path.split(['?', '#']).next().unwrap_or_default();
        if !path.starts_with('/') {
            return Err(bad("path must start with '/'"));
        }
        // Empty segments are allowed only at the end (a trailing slash).
        let rest = path.get(1..).unwrap_or_default();
        let mut segments = rest.split('/').peekable();
        while let Some(segment) = segments.next() {
            let last = segments.peek().is_none();
            if (segment.is_empty() && !last && !rest.is_empty())
                || segment == "."
                || segment == ".."
            {
                return Err(bad("path has an empty, '.' or '..' segment"));
            }
        }
        let bytes = path.as_bytes();
        let encoded_separator = bytes.windows(3).any(|w| {
            w.first() == Some(&b'%')
                && matches!(
                    (
                        w.get(1).map(u8::to_ascii_lowercase),
                        w.get(2).map(u8::to_ascii_lowercase)
                    ),
                    (Some(b'2'), Some(b'f' | b'e')) | (Some(b'5'), Some(b'c'))
                )
        });
        if encoded_separator || path.contains('\\') {
            return Err(bad("path has an encoded '/', '.' or '\\'"));
        }
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(bad("path has control characters or spaces"));
        }
        Ok(path)
    }
}

/// The value of cookie `name` in one `Cookie` header, if present.
pub(crate) fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim_start_matches(' ').split_once('=')?;
        (k == name).then(|| v.trim_end_matches(' '))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Result<&str, ErrorCode> {
        Request::new("GET", p, &[])
            .checked_path()
            .map_err(|e| e.code())
    }

    #[test]
    fn paths_that_could_be_read_two_ways_are_refused() {
        assert_eq!(path("/a/b?x=1"), Ok("/a/b"));
        assert_eq!(path("/a/b/"), Ok("/a/b/"));
        assert_eq!(path("/"), Ok("/"));
        for bad in [
            "a/b",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/a/%2e%2e/b",
            "/a%2Fb",
            "/a\\b",
            "/a b",
        ] {
            assert_eq!(path(bad), Err(ErrorCode::InvalidRequest), "{bad}");
        }
        assert!(Request::new("get", "/", &[]).checked_path().is_err());
    }

    #[test]
    fn cookies_are_split_exactly() {
        let h = "a=1; flow_session=abc.def; b=2";
        assert_eq!(cookie_value(h, "flow_session"), Some("abc.def"));
        assert_eq!(cookie_value(h, "flow"), None);
        assert_eq!(cookie_value("x=1", "x"), Some("1"));
    }
}
