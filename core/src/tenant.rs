//! The tenant of a tenant-scoped request: from a header or a path parameter, format-checked.

use crate::policy::{TenantFormat, TenantRule};
use crate::request::Request;

/// Longest tenant id accepted, in bytes.
pub const MAX_TENANT_LEN: usize = 256;

/// Why no tenant could be taken.
#[derive(Debug, PartialEq, Eq)]
pub enum TenantError {
    /// Absent or empty.
    Missing,
    /// Present but malformed, or given twice in headers (the gateway and the upstream could
    /// each read another copy).
    Invalid,
    /// Longer than [`MAX_TENANT_LEN`]: its length in bytes.
    TooLong(usize),
}

/// Reads the tenant for `request` under `rule`, given the route's path parameters.
pub fn extract<'a>(
    rule: &TenantRule,
    request: &Request<'a>,
    params: &matchit::Params<'_, 'a>,
) -> Result<&'a str, TenantError> {
    let value = match (&rule.header, &rule.path_param) {
        (Some(h), _) => {
            let mut values = request.header_values(h);
            let first = values.next().ok_or(TenantError::Missing)?;
            if values.next().is_some() {
                return Err(TenantError::Invalid);
            }
            trim_blanks(first)
        }
        // Still percent-encoded here, where an upstream decodes it (`a%20b` is `a b` there): a
        // tenant read two ways is refused.
        (None, Some(p)) => {
            let value = params.get(p).ok_or(TenantError::Missing)?;
            if value.contains('%') {
                return Err(TenantError::Invalid);
            }
            value
        }
        (None, None) => return Err(TenantError::Missing),
    };
    if value.is_empty() {
        return Err(TenantError::Missing);
    }
    if value.len() > MAX_TENANT_LEN {
        return Err(TenantError::TooLong(value.len()));
    }
    // A UUID is visible ASCII by its form, so one check serves.
    let valid = match rule.format {
        Some(TenantFormat::Uuid) => is_uuid(value),
        None => value.bytes().all(|b| b.is_ascii_graphic()),
    };
    if valid {
        Ok(value)
    } else {
        Err(TenantError::Invalid)
    }
}

/// `s` without the spaces and tabs around it.
fn trim_blanks(s: &str) -> &str {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let bytes = s.as_bytes();
    let start = bytes.iter().position(|b| !blank(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// Textual UUID: 8-4-4-4-12 hex digits.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_around_a_header_value_are_trimmed_and_only_those() {
        assert_eq!(trim_blanks(" \t a b\t "), "a b");
        assert_eq!(trim_blanks("ab"), "ab");
        assert_eq!(trim_blanks(" \t "), "");
        assert_eq!(trim_blanks(""), "");
        assert_eq!(trim_blanks("\u{a0}a\n"), "\u{a0}a\n");
    }

    #[test]
    fn uuid_format() {
        assert!(is_uuid("0b8f7c2e-6a59-4c1e-9a37-2f1d7e3c9b10"));
        assert!(is_uuid("0B8F7C2E-6A59-4C1E-9A37-2F1D7E3C9B10"));
        assert!(!is_uuid("0b8f7c2e6a594c1e9a372f1d7e3c9b10"));
        assert!(!is_uuid("0b8f7c2e-6a59-4c1e-9a37-2f1d7e3c9b1"));
        assert!(!is_uuid("0b8f7c2e-6a59-4c1e-9a37-2f1d7e3c9b1g"));
    }
}
