//! The request a gateway asks about: method, path, headers (names case-insensitive). Limits are
//! checked before anything else reads it.

use crate::error::{Error, ErrorCode};

/// Most headers a request may carry.
pub const MAX_HEADERS: usize = 128;
/// Longest header value, in bytes.
pub const MAX_HEADER_VALUE: usize = 16 * 1024;
/// Longest path (query included), in bytes.
pub const MAX_PATH: usize = 8 * 1024;
/// Longest method, in bytes (the longest registered method, `UPDATEREDIRECTREF`, has 17).
pub const MAX_METHOD: usize = 32;
/// Longest header name, in bytes.
pub const MAX_HEADER_NAME: usize = 256;
/// Headers through which frameworks let a client name another method than the request line's
/// (Express's method-override, Symfony, Laravel, Google's APIs). A request whose method could be
/// read two ways is refused, as a path that could is.
pub const METHOD_OVERRIDES: [&str; 3] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
];

/// Whether header `name` is `canonical` as an upstream that reads headers through CGI variables
/// sees it (CGI, FastCGI, Rack, gunicorn, PHP: `X_Project_ID` and `X-Project-ID` are both
/// `HTTP_X_PROJECT_ID`): equal ignoring ASCII case, with `_` and `-` the same.
pub fn same_header_for_cgi(name: &str, canonical: &str) -> bool {
    let fold = |b: u8| {
        if b == b'_' {
            b'-'
        } else {
            b.to_ascii_lowercase()
        }
    };
    name.len() == canonical.len()
        && name
            .bytes()
            .zip(canonical.bytes())
            .all(|(a, b)| fold(a) == fold(b))
}

/// A request: borrowed from the host, never copied. Its `Debug` shows the method, the path
/// without its query and the header names: header values and queries may carry credentials.
#[derive(Clone, Copy)]
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

impl core::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let (path, query) = match self.path.split_once('?') {
            Some((path, _)) => (path, "?…"),
            None => (self.path, ""),
        };
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &format_args!("{path}{query}"))
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .finish()
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

    /// For hosts that take a request as bytes (the C ABI, the Python module): its method and path,
    /// each already tried as UTF-8, as text; or, if they or the headers (`headers_utf8`: whether
    /// every name and value was) are not UTF-8, the reason for a 400 `invalid_request` decision,
    /// naming the first fault: the method, then the path, then the headers. Every such host
    /// names the same fault.
    pub fn parts_from_utf8<E>(
        method: Result<&'a str, E>,
        path: Result<&'a str, E>,
        headers_utf8: bool,
    ) -> Result<(&'a str, &'a str), &'static str> {
        match (method, path) {
            (Err(_), _) => Err("the method is not valid UTF-8"),
            (_, Err(_)) => Err("the path is not valid UTF-8"),
            (Ok(_), Ok(_)) if !headers_utf8 => Err("a header name or value is not valid UTF-8"),
            (Ok(method), Ok(path)) => Ok((method, path)),
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
    /// `/` and may not hold empty, `.` or `..` segments, encoded slashes and dots, encoded
    /// unreserved characters, a `;` or a `#`: a gateway and its upstream must not disagree about
    /// which route a path names.
    pub(crate) fn checked_path(&self) -> Result<&'a str, Error> {
        if self.headers.len() > MAX_HEADERS {
            return Err(bad(format!(
                "the request has {} headers, more than the limit of {MAX_HEADERS}",
                self.headers.len()
            )));
        }
        for (name, value) in self.headers {
            if name.len() > MAX_HEADER_NAME {
                return Err(bad(format!(
                    "a header name is {} bytes, more than the limit of {MAX_HEADER_NAME}",
                    name.len()
                )));
            }
            if value.len() > MAX_HEADER_VALUE {
                return Err(bad(format!(
                    "header {:?} is {} bytes, more than the limit of {MAX_HEADER_VALUE}",
                    crate::error::truncated(name, 64),
                    value.len()
                )));
            }
        }
        if self.path.len() > MAX_PATH {
            return Err(bad(format!(
                "the path is {} bytes, more than the limit of {MAX_PATH}",
                self.path.len()
            )));
        }
        if self.method.len() > MAX_METHOD {
            return Err(bad(format!(
                "the method is {} bytes, more than the limit of {MAX_METHOD}",
                self.method.len()
            )));
        }
        if self.method.is_empty() || !self.method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad("method must be uppercase letters"));
        }
        if let Some((name, _)) = self.headers.iter().find(|(n, v)| {
            METHOD_OVERRIDES.iter().any(|o| same_header_for_cgi(n, o))
                && !v
                    .trim_matches([' ', '\t'])
                    .eq_ignore_ascii_case(self.method)
        }) {
            return Err(bad(format!(
                "header {:?} names another method than {}: an upstream that honours it would run that one",
                crate::error::truncated(name, 64),
                self.method
            )));
        }
        let end = self
            .path
            .bytes()
            .position(|b| b == b'?')
            .unwrap_or(self.path.len());
        let path = self.path.get(..end).unwrap_or_default();
        if !path.starts_with('/') {
            return Err(bad("path must start with '/'"));
        }
        // One pass over the bytes; the kinds of fault are reported in this order.
        let problem = path_problems(path.as_bytes());
        if problem.bad_segment {
            return Err(bad("path has an empty, '.' or '..' segment"));
        }
        if problem.encoded_separator {
            return Err(bad("path has an encoded '/', '.' or '\\'"));
        }
        if problem.encoded_unreserved {
            return Err(bad(
                "path has an encoded letter, digit, '-', '_' or '~' (RFC 3986 §2.3: send them as they are)",
            ));
        }
        if problem.parameter {
            return Err(bad(
                "path has a ';' (a path parameter, which servlet containers drop before routing)",
            ));
        }
        if problem.control {
            return Err(bad("path has control characters, spaces or a '#'"));
        }
        Ok(path)
    }
}

/// What is wrong with a path (without its query), found in one pass over its bytes.
#[derive(Debug, Default, PartialEq, Eq)]
struct PathProblems {
    /// An empty segment before the last (only a trailing slash may be empty), or `.` or `..`.
    bad_segment: bool,
    /// `%2f`, `%2e` or `%5c` (any case), or a `\`.
    encoded_separator: bool,
    /// An unreserved character (letter, digit, `-`, `_`, `~`) percent-encoded: an upstream that
    /// decodes it may route `/%61dmin` as `/admin`, which no route template here names.
    encoded_unreserved: bool,
    /// A `;`: servlet containers (Tomcat, Jetty, Spring on them) drop `;name=value` from each
    /// segment before routing, so `/items/export;x` is `/items/export` to them and `{id}` here,
    /// and `..;` is `..`.
    parameter: bool,
    /// A control character, a space or a `#` (a fragment is never part of a request target).
    control: bool,
}

/// Finds the [`PathProblems`] of `path`, which starts with `/`.
/// The bytes [`path_problems`] passes over: those above '/' but '\\', ';' and DEL.
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an index out of bounds would fail the build"
)]
const PATH_PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = b'/' as usize + 1;
    while b < 256 {
        plain[b] = b != b'\\' as usize && b != b';' as usize && b != 0x7f;
        b += 1;
    }
    plain
};

fn path_problems(path: &[u8]) -> PathProblems {
    let mut found = PathProblems::default();
    let rest = path.get(1..).unwrap_or_default();
    let bad_segment = |segment: &[u8]| segment == b"." || segment == b"..";
    let mut segment_start = 0;
    for (i, &b) in rest.iter().enumerate() {
        // Letters, digits and most punctuation need no look.
        if PATH_PLAIN.get(usize::from(b)) == Some(&true) {
            continue;
        }
        match b {
            b'/' => {
                // Not the last segment: it may not be empty either.
                let segment = rest.get(segment_start..i).unwrap_or_default();
                found.bad_segment |= segment.is_empty() || bad_segment(segment);
                segment_start = i + 1;
            }
            b'\\' => found.encoded_separator = true,
            b';' => found.parameter = true,
            b'%' => {
                let pair = (
                    rest.get(i + 1).map(u8::to_ascii_lowercase),
                    rest.get(i + 2).map(u8::to_ascii_lowercase),
                );
                match pair {
                    (Some(b'2'), Some(b'f' | b'e')) | (Some(b'5'), Some(b'c')) => {
                        found.encoded_separator = true
                    }
                    (Some(hi), Some(lo)) => found.encoded_unreserved |= encodes_unreserved(hi, lo),
                    _ => {}
                }
            }
            c if c.is_ascii_control() || c == b' ' || c == b'#' => found.control = true,
            _ => {}
        }
    }
    found.bad_segment |= bad_segment(rest.get(segment_start..).unwrap_or_default());
    found
}

/// Whether `%` + the hex digits `hi`, `lo` encodes an unreserved character other than `.`
/// (RFC 3986 §2.3: letters, digits, `-`, `_`, `~`).
fn encodes_unreserved(hi: u8, lo: u8) -> bool {
    match (char::from(hi).to_digit(16), char::from(lo).to_digit(16)) {
        (Some(h), Some(l)) => char::from_u32(h << 4 | l)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~')),
        _ => false,
    }
}

/// The values of cookie `name` in one `Cookie` header, each time it appears. A name given twice
/// is two credentials (a cookie set for a narrower path or a sibling domain comes first), as it
/// is across two `Cookie` headers. Spaces and tabs around a name are not part of it, as the
/// parsers of most upstreams read it (`flow_session =x` is that cookie too).
pub(crate) fn cookie_values<'a, 'n>(
    header: &'a str,
    name: &'n str,
) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
    header.split(';').filter_map(move |pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim_matches([' ', '\t']) == name).then(|| v.trim_matches([' ', '\t']))
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
        // Escapes of reserved or non-ASCII bytes read one way only; a query may hold anything.
        assert_eq!(path("/a/%20b/%C3%A9/%3B/%25"), Ok("/a/%20b/%C3%A9/%3B/%25"));
        assert_eq!(path("/a?x=1;y=2"), Ok("/a"));
        assert_eq!(path("/a?x=#/../b"), Ok("/a"));
        for bad in [
            "a/b",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/a/%2e%2e/b",
            "/a%2Fb",
            "/a\\b",
            "/a b",
            "/a/..;/b",
            "/a/..;x=1/b",
            "/a/.;/b",
            "/a/;/b",
            "/a/..;",
            "/items/export;x=1",
            "/a/b;jsessionid=1",
            "/a#/../b",
            "/a/b#",
            "/%61dmin",
            "/a/%2D",
            "/a/%5f",
            "/a/%7E",
            "/a/%30",
        ] {
            assert_eq!(path(bad), Err(ErrorCode::InvalidRequest), "{bad}");
        }
        assert!(Request::new("get", "/", &[]).checked_path().is_err());
    }

    /// The path rules as first written (split on `/`, then separate scans): the reference the
    /// one-pass [`path_problems`] must match.
    fn reference_problems(path: &str) -> PathProblems {
        let rest = path.get(1..).unwrap_or_default();
        let mut segments = rest.split('/').peekable();
        let mut bad_segment = false;
        while let Some(segment) = segments.next() {
            let last = segments.peek().is_none();
            bad_segment |= (segment.is_empty() && !last && !rest.is_empty())
                || segment == "."
                || segment == "..";
        }
        let escapes = || {
            path.as_bytes().windows(3).filter_map(|w| match w {
                [b'%', hi, lo] => Some((hi.to_ascii_lowercase(), lo.to_ascii_lowercase())),
                _ => None,
            })
        };
        let encoded_separator = escapes().any(|e| matches!(e, (b'2', b'f' | b'e') | (b'5', b'c')))
            || path.contains('\\');
        let encoded_unreserved = escapes().any(|(hi, lo)| {
            let text = [hi, lo];
            let byte = std::str::from_utf8(&text)
                .ok()
                .and_then(|t| u8::from_str_radix(t, 16).ok());
            byte.is_some_and(|c| c.is_ascii_alphanumeric() || "-_~".contains(c as char))
        });
        let control = path
            .bytes()
            .any(|b| b.is_ascii_control() || b == b' ' || b == b'#');
        PathProblems {
            bad_segment,
            encoded_separator,
            encoded_unreserved,
            parameter: path.contains(';'),
            control,
        }
    }

    proptest::proptest! {
        /// Over paths built from the characters that matter (separators, dots, percent
        /// escapes, controls), the one pass finds exactly what the separate scans find.
        #[test]
        fn one_pass_path_rules_match_the_reference(
            path in "/[/.%2efFcC5;#41_~ a\\x00\\x7f]{0,24}"
        ) {
            proptest::prop_assert_eq!(path_problems(path.as_bytes()), reference_problems(&path));
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_named_method_then_path_then_headers() {
        let ok: Result<&str, ()> = Ok("GET");
        let path: Result<&str, ()> = Ok("/a");
        assert_eq!(Request::parts_from_utf8(ok, path, true), Ok(("GET", "/a")));
        let method = "the method is not valid UTF-8";
        let path_fault = "the path is not valid UTF-8";
        let header = "a header name or value is not valid UTF-8";
        for (m, p, h, want) in [
            (false, false, false, method),
            (false, true, true, method),
            (true, false, false, path_fault),
            (true, false, true, path_fault),
            (true, true, false, header),
        ] {
            let m: Result<&str, ()> = if m { Ok("GET") } else { Err(()) };
            let p: Result<&str, ()> = if p { Ok("/a") } else { Err(()) };
            assert_eq!(Request::parts_from_utf8(m, p, h), Err(want));
        }
    }

    #[test]
    fn cookies_are_split_exactly() {
        let values = |h, name| cookie_values(h, name).collect::<Vec<_>>();
        let h = "a=1; flow_session=abc.def; b=2";
        assert_eq!(values(h, "flow_session"), ["abc.def"]);
        assert_eq!(values(h, "flow"), [""; 0]);
        assert_eq!(values("x=1", "x"), ["1"]);
        assert_eq!(values("x=1; y=2; x=3", "x"), ["1", "3"]);
        // A name with spaces or tabs around it is that cookie, as upstream parsers read it: the
        // second one here is a second credential, not nothing.
        assert_eq!(
            values("flow_session =EVIL; flow_session=GOOD", "flow_session"),
            ["EVIL", "GOOD"]
        );
        assert_eq!(values("\tx\t=\t1\t", "x"), ["1"]);
    }

    #[test]
    fn a_method_override_naming_another_method_is_refused() {
        let check = |name, value| {
            let headers = [(name, value)];
            Request::new("POST", "/v1/docs", &headers)
                .checked_path()
                .map(str::to_owned)
                .map_err(|e| e.code())
        };
        // Underscores too: Symfony reads `X_HTTP_Method_Override` from `$_SERVER`, where it is
        // `HTTP_X_HTTP_METHOD_OVERRIDE` as the dashed spelling is.
        for name in [
            "X-HTTP-Method-Override",
            "x-http-method",
            "X-Method-Override",
            "X_HTTP_Method_Override",
            "x-http_method",
        ] {
            assert_eq!(
                check(name, "DELETE"),
                Err(ErrorCode::InvalidRequest),
                "{name}"
            );
            assert_eq!(
                check(name, "post"),
                Ok("/v1/docs".to_owned()),
                "{name}: the same method"
            );
        }
        assert_eq!(check("X-Other", "DELETE"), Ok("/v1/docs".to_owned()));
    }
}
