//! `tollgate demo`: a self-contained walkthrough. It mints sample tokens with built-in keys, verifies
//! them, shows the attacks and mistakes the core rejects, and checks every outcome.

use crate::output::{self, Failure};
use clap::Args;
use serde_json::{json, Value};
use std::sync::Arc;
use tollgate::{Algorithm, Key, KeySet, SigningKey, TokenBuffer, Validation, Verifier};

/// Arguments of `tollgate demo` (none yet).
#[derive(Debug, Args)]
#[command(after_help = "\
Uses a fixed HS256 secret and freshly generated ES256 and EdDSA keys, and checks tokens at the fixed
time 1700000000, so only the generated kids change from run to run. Exits 1 if any case does not
behave as expected.

Examples:
  tollgate demo")]
pub struct DemoArgs {}

/// The fixed time every case is checked at.
const NOW: u64 = 1_700_000_000;
/// The issuer the demo verifiers accept.
const ISSUER: &str = "https://idp.example";
/// The audience the demo verifiers accept.
const AUDIENCE: &str = "api";
/// The built-in HS256 secret (32 bytes: exactly the minimum for HS256). A demo value, public.
const HS256_SECRET: &[u8; 32] = b"tollgate-demo-secret-32-bytes!!!";
/// The `kid` of the built-in HS256 secret.
const HS256_KID: &str = "demo-hs256";

/// One demo case: a token, the verifier it meets, and what must happen.
struct Case<'v> {
    name: &'static str,
    verifier: &'v Verifier,
    token: String,
    /// `None`: must be accepted; `Some(code)`: must be rejected with this error code name.
    expect: Option<&'static str>,
}

fn config(err: tollgate::Error) -> Failure {
    Failure::Config(err)
}

/// The standard claims of a valid token for `sub`, with `changes` applied (`null` removes).
fn claims(sub: &str, changes: Value) -> Vec<u8> {
    let mut claims = json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "iat": NOW - 60,
        "exp": NOW + 300,
    });
    if let (Some(map), Value::Object(changes)) = (claims.as_object_mut(), changes) {
        for (name, value) in changes {
            if value.is_null() {
                map.remove(&name);
            } else {
                map.insert(name, value);
            }
        }
    }
    claims.to_string().into_bytes()
}

/// The three segments of a compact token.
fn segments(token: &str) -> Result<(&str, &str, &str), Failure> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        _ => Err(Failure::Other(
            "a minted token is not three segments".to_owned(),
        )),
    }
}

/// A generated asymmetric key: its signer and its public JWK.
fn generated(alg: Algorithm) -> Result<(SigningKey, Value, String), Failure> {
    let key = tollgate::keygen::generate(alg).map_err(config)?;
    let signer =
        SigningKey::from_pem_or_der(alg, key.private.as_bytes(), Some(&key.kid)).map_err(config)?;
    let public = key
        .public_jwk
        .ok_or_else(|| Failure::Other(format!("no public JWK for {alg}")))?;
    Ok((signer, public, key.kid))
}

/// Runs `tollgate demo`.
pub fn run(_args: DemoArgs) -> Result<(), Failure> {
    // Keys: one HMAC set and one public set (the core refuses sets that mix the two).
    let hs = SigningKey::hmac(Algorithm::HS256, HS256_SECRET, Some(HS256_KID)).map_err(config)?;
    let hs_keys = KeySet::from_keys(vec![Key::hmac(
        Algorithm::HS256,
        HS256_SECRET,
        Some(HS256_KID),
    )
    .map_err(config)?])
    .map_err(config)?;
    let (es, es_public, es_kid) = generated(Algorithm::ES256)?;
    let (ed, ed_public, ed_kid) = generated(Algorithm::EdDSA)?;
    let jwks = json!({ "keys": [es_public.clone(), ed_public] }).to_string();
    let public_keys = KeySet::from_jwks(jwks.as_bytes()).map_err(config)?;

    let validation = Validation::default()
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE);
    let hs_verifier = Verifier::new(Arc::new(hs_keys), validation.clone()).map_err(config)?;
    let public_verifier = Verifier::new(Arc::new(public_keys), validation).map_err(config)?;

    let mint = |key: &SigningKey, claims: &[u8]| tollgate::mint(key, claims, None).map_err(config);
    let valid_hs = mint(&hs, &claims("alice", json!({})))?;
    let (hs_header, hs_payload, hs_signature) = segments(&valid_hs)?;

    // Tampered: change the first payload character (still canonical base64url, other bytes).
    let tampered = {
        let swapped = if hs_payload.starts_with('A') {
            "B"
        } else {
            "A"
        };
        let rest = hs_payload.get(1..).unwrap_or_default();
        format!("{hs_header}.{swapped}{rest}.{hs_signature}")
    };
    // Algorithm confusion: an HS256 token whose "secret" is the ES256 public key, which an
    // attacker knows, sent with the ES256 key's kid. The kid's key is bound to ES256.
    let confusion = {
        let public_bytes = es_public.to_string();
        let forged = SigningKey::hmac(Algorithm::HS256, public_bytes.as_bytes(), Some(&es_kid))
            .map_err(config)?;
        mint(&forged, &claims("mallory", json!({})))?
    };
    // Two `alg` members: parsers that keep the first or the last would disagree. The core has no
    // API to sign an arbitrary header, so the signature is the valid token's; the strict JSON
    // reader rejects the header before any signature is looked at.
    let duplicate = format!(
        "{}.{hs_payload}.{hs_signature}",
        tollgate::base64url::encode(br#"{"alg":"HS256","alg":"none"}"#)
    );
    let unknown_kid = {
        let retired = SigningKey::hmac(Algorithm::HS256, HS256_SECRET, Some("retired-2023"))
            .map_err(config)?;
        mint(&retired, &claims("alice", json!({})))?
    };
    let oversized = mint(&hs, &claims("alice", json!({ "pad": "x".repeat(9000) })))?;

    let cases = vec![
        Case {
            name: "HS256 valid token",
            verifier: &hs_verifier,
            token: valid_hs.clone(),
            expect: None,
        },
        Case {
            name: "ES256 valid token",
            verifier: &public_verifier,
            token: mint(&es, &claims("bob", json!({})))?,
            expect: None,
        },
        Case {
            name: "EdDSA valid token",
            verifier: &public_verifier,
            token: mint(&ed, &claims("carol", json!({})))?,
            expect: None,
        },
        Case {
            name: "expired token",
            verifier: &hs_verifier,
            token: mint(
                &hs,
                &claims("alice", json!({ "iat": NOW - 3600, "exp": NOW - 120 })),
            )?,
            expect: Some("expired"),
        },
        Case {
            name: "not yet valid token",
            verifier: &hs_verifier,
            token: mint(&hs, &claims("alice", json!({ "nbf": NOW + 3600 })))?,
            expect: Some("not_yet_valid"),
        },
        Case {
            name: "wrong issuer",
            verifier: &hs_verifier,
            token: mint(
                &hs,
                &claims("alice", json!({ "iss": "https://evil.example" })),
            )?,
            expect: Some("invalid_issuer"),
        },
        Case {
            name: "wrong audience",
            verifier: &hs_verifier,
            token: mint(&hs, &claims("alice", json!({ "aud": "billing" })))?,
            expect: Some("invalid_audience"),
        },
        Case {
            name: "tampered payload",
            verifier: &hs_verifier,
            token: tampered,
            expect: Some("invalid_signature"),
        },
        Case {
            name: "alg none",
            verifier: &hs_verifier,
            token: format!("eyJhbGciOiJub25lIn0.{hs_payload}."),
            expect: Some("alg_none"),
        },
        Case {
            name: "alg confusion (HS256 with ES256 key)",
            verifier: &public_verifier,
            token: confusion,
            expect: Some("algorithm_mismatch"),
        },
        Case {
            name: "unknown kid",
            verifier: &hs_verifier,
            token: unknown_kid,
            expect: Some("unknown_kid"),
        },
        Case {
            name: "oversized token",
            verifier: &hs_verifier,
            token: oversized,
            expect: Some("token_too_large"),
        },
        Case {
            name: "duplicate header member",
            verifier: &hs_verifier,
            token: duplicate,
            expect: Some("invalid_json"),
        },
    ];

    let mut text = format!(
        "Tollgate demo: tokens checked at now={NOW}, issuer {ISSUER}, audience {AUDIENCE}\n\
         keys: HS256 secret (kid {HS256_KID}), ES256 (kid {es_kid}), EdDSA (kid {ed_kid})\n\n"
    );
    let width = cases.iter().map(|c| c.name.len()).max().unwrap_or(0);
    text.push_str(&format!("{:width$}  {:8}  result\n", "case", "expected"));
    let mut unexpected = 0usize;
    for case in &cases {
        let (ok, result) = outcome(case);
        let expected = if case.expect.is_some() {
            "reject"
        } else {
            "accept"
        };
        let mut line = format!("{:width$}  {expected:8}  {result}", case.name);
        if !ok {
            unexpected += 1;
            line.push_str(&format!(
                "  <-- UNEXPECTED: wanted {}",
                case.expect.unwrap_or("ok")
            ));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.push('\n');
    if unexpected == 0 {
        text.push_str(&format!("{} cases, all as expected\n", cases.len()));
        output::print(&text)
    } else {
        text.push_str(&format!(
            "{} cases, {unexpected} not as expected\n",
            cases.len()
        ));
        output::print(&text)?;
        Err(Failure::Unexpected(format!(
            "{unexpected} of {} demo cases did not behave as expected",
            cases.len()
        )))
    }
}

/// Verifies a case: whether it came out as expected, and the result text.
fn outcome(case: &Case<'_>) -> (bool, String) {
    let mut buf = TokenBuffer::new();
    match case.verifier.verify(case.token.as_bytes(), NOW, &mut buf) {
        Ok(verified) => {
            let sub = verified
                .claims()
                .subject()
                .map(|s| s.to_cow().into_owned())
                .unwrap_or_else(|| "-".to_owned());
            (case.expect.is_none(), format!("ok (sub={sub})"))
        }
        Err(err) => {
            let code = err.code().name();
            (case.expect == Some(code), code.to_owned())
        }
    }
}
