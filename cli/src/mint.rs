//! `tollgate mint`: sign a claims set into a compact JWS.

use crate::io;
use crate::keys;
use crate::output::{self, Failure};
use crate::verify::parse_alg;
use clap::{ArgGroup, Args};
use serde_json::{Map, Value};
use std::path::PathBuf;
use tollgate::Algorithm;

/// Arguments of `tollgate mint`.
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("signing_key").required(true).args(["key", "secret_file"])),
    after_help = "\
Claims start from --claims (default {}); each --claim NAME=VALUE then sets NAME to VALUE read as
JSON if it is JSON (5, true, [\"a\"], \"5\"), else as a string. --ttl sets iat and exp unless they are
already set. A PEM or DER key has no kid: pass --kid (keygen prints it) so that verifiers holding
several keys can pick this one.

Examples:
  tollgate mint --alg ES256 --key issuer.key --claim sub=alice --claim iss=https://idp.example --ttl 300
  tollgate mint --alg HS256 --secret-file secret.bin --kid k1 --claims '{\"sub\":\"bob\",\"admin\":true}' --ttl 60
  tollgate mint --alg EdDSA --key ed.jwk --typ at+jwt --claim 'roles=[\"reader\"]' --ttl 600 --now 1700000000"
)]
pub struct MintArgs {
    /// The algorithm to sign with.
    #[arg(long, value_name = "ALG", value_parser = parse_alg)]
    pub alg: Algorithm,
    /// A private key: a private JWK, or a PKCS#8 (or, for RSA, PKCS#1) PEM or DER file.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// A file holding the raw bytes of an HMAC secret (at least as long as the hash output).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// The `kid` to put in the header (replaces a JWK's own `kid`).
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,
    /// The claims set as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub claims: Option<String>,
    /// Set one claim (repeatable): VALUE is parsed as JSON if it parses, else taken as a string.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub claim: Vec<String>,
    /// Set `iat` to now and `exp` to now + SECONDS (unless they are already set).
    #[arg(long, value_name = "SECONDS")]
    pub ttl: Option<u64>,
    /// The time for --ttl (Unix seconds) instead of the system clock.
    #[arg(long, value_name = "UNIX")]
    pub now: Option<u64>,
    /// The `typ` header (default `JWT`).
    #[arg(long, value_name = "TYP")]
    pub typ: Option<String>,
}

/// Runs `tollgate mint`.
pub fn run(args: MintArgs) -> Result<(), Failure> {
    let claims = build_claims(&args)?;
    let key = keys::load_signing_key(
        args.alg,
        args.key.as_deref(),
        args.secret_file.as_deref(),
        args.kid.as_deref(),
    )?;
    let claims = serde_json::to_vec(&Value::Object(claims))
        .map_err(|e| Failure::Other(format!("cannot serialize the claims: {e}")))?;
    let token = tollgate::mint(&key, &claims, args.typ.as_deref()).map_err(Failure::Config)?;
    output::print(&(token + "\n"))
}

/// The claims set from --claims, --claim and --ttl.
fn build_claims(args: &MintArgs) -> Result<Map<String, Value>, Failure> {
    let mut claims = match &args.claims {
        None => Map::new(),
        Some(text) => {
            // The strict reader first: it refuses duplicate members, which serde_json would merge.
            tollgate::json::parse_object(text.as_bytes(), tollgate::limits::DEFAULT_MAX_JSON_DEPTH)
                .map_err(|r| {
                    Failure::Other(format!("--claims is not a strict JSON object: {r}"))
                })?;
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => map,
                Ok(_) => return Err(Failure::Other("--claims must be a JSON object".to_owned())),
                Err(e) => return Err(Failure::Other(format!("--claims: {e}"))),
            }
        }
    };
    for item in &args.claim {
        let (name, value) = parse_claim(item)?;
        claims.insert(name, value);
    }
    if let Some(ttl) = args.ttl {
        let now = io::now(args.now)?;
        let exp = now
            .checked_add(ttl)
            .ok_or_else(|| Failure::Other("--now + --ttl overflows".to_owned()))?;
        claims.entry("iat").or_insert_with(|| Value::from(now));
        claims.entry("exp").or_insert_with(|| Value::from(exp));
    }
    Ok(claims)
}

/// Parses `NAME=VALUE`: VALUE as JSON if it is JSON, else as a string.
fn parse_claim(item: &str) -> Result<(String, Value), Failure> {
    let (name, value) = item
        .split_once('=')
        .ok_or_else(|| Failure::Other(format!("--claim {item:?} is not NAME=VALUE")))?;
    if name.is_empty() {
        return Err(Failure::Other(format!(
            "--claim {item:?} has an empty name"
        )));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::from(value));
    Ok((name.to_owned(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_values_are_typed() {
        let typed = |s: &str| parse_claim(s).map(|(_, v)| v).unwrap();
        assert_eq!(typed("n=5"), Value::from(5));
        assert_eq!(typed("b=true"), Value::from(true));
        assert_eq!(typed("s=alice"), Value::from("alice"));
        assert_eq!(typed("s=\"5\""), Value::from("5"));
        assert_eq!(typed("url=https://a=b"), Value::from("https://a=b"));
        assert_eq!(typed("e="), Value::from(""));
        assert_eq!(typed("r=[\"a\"]"), serde_json::json!(["a"]));
        assert!(parse_claim("novalue").is_err());
        assert!(parse_claim("=1").is_err());
    }
}
