//! `tollgate decode`: show a token's header and payload without checking anything but syntax.

use crate::io;
use crate::output::{self, Failure};
use clap::Args;
use std::ffi::OsString;
use tollgate::{ParseLimits, TokenBuffer};

/// Printed on stderr by every successful decode.
pub const UNVERIFIED: &str = "UNVERIFIED: the signature was not checked; do not trust these claims";

/// Arguments of `tollgate decode`.
#[derive(Debug, Args)]
#[command(after_help = "\
The token is parsed as strictly as `verify` parses it (size, segments, base64url, header JSON, alg),
but the signature and the claims are NOT checked.

Examples:
  tollgate decode \"$TOKEN\"
  tollgate decode - < token.jwt")]
pub struct DecodeArgs {
    /// The token, or `-` to read it from standard input (one trailing newline is removed).
    #[arg(value_name = "TOKEN|-")]
    pub token: OsString,
}

/// Runs `tollgate decode`.
pub fn run(args: DecodeArgs) -> Result<(), Failure> {
    let token = io::token_bytes(&args.token)?;
    let mut buf = TokenBuffer::new();
    let jws = tollgate::jws::parse(&token, ParseLimits::default(), &mut buf)
        .map_err(Failure::Rejected)?;
    let payload = payload_json(jws.unverified_payload());
    let out = output::object(&[
        ("header", jws.header().object().as_str()),
        ("payload", &payload),
    ]);
    output::note(UNVERIFIED);
    output::print(&(out + "\n"))
}

/// The payload as JSON text: itself if it is one strict JSON value (no duplicate members, valid
/// UTF-8), otherwise a JSON string holding it (invalid UTF-8 replaced).
fn payload_json(payload: &[u8]) -> String {
    // The core's strict reader takes objects only: wrap the payload as the one member of one.
    let mut wrapped = Vec::with_capacity(payload.len() + 6);
    wrapped.extend_from_slice(b"{\"p\":");
    wrapped.extend_from_slice(payload);
    wrapped.push(b'}');
    if let Ok(object) = tollgate::json::parse_object(&wrapped, tollgate::limits::MAX_JSON_DEPTH) {
        // `1,"q":2` would also parse: require exactly the one member.
        if object.members().count() == 1 {
            if let Some(value) = object.get("p") {
                return value.as_raw().to_owned();
            }
        }
    }
    output::json_string(&String::from_utf8_lossy(payload))
}

#[cfg(test)]
mod tests {
    use super::payload_json;

    #[test]
    fn payload_is_json_only_when_it_is_one_strict_value() {
        assert_eq!(payload_json(b" {\"a\":1} "), "{\"a\":1}");
        assert_eq!(payload_json(b"[1,2]"), "[1,2]");
        assert_eq!(payload_json(b"42"), "42");
        assert_eq!(payload_json(b"hello"), "\"hello\"");
        assert_eq!(payload_json(b"1,\"q\":2"), "\"1,\\\"q\\\":2\"");
        assert_eq!(
            payload_json(b"{\"a\":1,\"a\":2}"),
            "\"{\\\"a\\\":1,\\\"a\\\":2}\""
        );
        assert_eq!(payload_json(b"1},{\"x\":1"), "\"1},{\\\"x\\\":1\"");
        assert_eq!(payload_json(b""), "\"\"");
        assert_eq!(payload_json(b"\xff"), "\"\u{fffd}\"");
    }
}
