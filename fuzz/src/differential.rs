//! The differential target: the same HS256 token, signed with the same key, verified by Tollgate
//! and by jsonwebtoken 10 under equivalent options. The fuzzer writes the header and the claims
//! (split at the first `0xFF` byte; without one, the input is the claims under a plain header),
//! and the harness signs them, so the verdicts differ only where the two libraries parse or
//! validate differently.
//!
//! Any disagreement fails the target unless one of [`STRICTNESS_RULES`] explains it, in the
//! direction it was seen: each is a documented place where Tollgate is deliberately stricter (or
//! accepts what RFC 7515/7519 allow and jsonwebtoken refuses), and each is recognised here from
//! the token itself, independently of Tollgate's own reasons.

use std::sync::{Arc, OnceLock};

use serde_json::Value;
use tollgate::{base64url, limits, ErrorCode, TokenBuffer, Validation, Verifier};

const SECRET: &[u8] = b"differential-fuzzing-hs256-secret-32b";
const LEEWAY: u64 = 60;
const PLAIN_HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"#;

/// Which way a rule lets the verdicts differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Tollgate refuses what jsonwebtoken accepts.
    Stricter,
    /// Tollgate accepts what jsonwebtoken refuses.
    Laxer,
    /// Either: the rule covers members each library refuses in some of their forms.
    Either,
}

/// The documented reasons Tollgate may answer differently from jsonwebtoken (docs: SECURITY.md,
/// "Strictness rules"). Each entry: a name, the direction it excuses, and a test on the header
/// and claims text. A rule never excuses a disagreement the other way: a Tollgate that accepted
/// a token with duplicate members would fail the target, not be excused by the duplicates rule.
pub const STRICTNESS_RULES: &[(&str, Direction, Rule)] = &[
    (
        "duplicate member names in the header or claims (RFC 7515 §4, RFC 7519 §4: reject)",
        Direction::Stricter,
        |h, p, _| has_duplicates(h) || has_duplicates(p),
    ),
    (
        "a `crit` header member (no extension is understood, so RFC 7515 §4.1.11 says reject)",
        Direction::Stricter,
        |h, _, _| member(h, "crit").is_some(),
    ),
    (
        "nesting deeper than the default limit of 16 levels",
        Direction::Stricter,
        |h, p, _| depth(h) > limits::DEFAULT_MAX_JSON_DEPTH || depth(p) > limits::DEFAULT_MAX_JSON_DEPTH,
    ),
    (
        "an `iat` in the future beyond the leeway (Validation::reject_future_iat)",
        Direction::Stricter,
        |_, p, now| number(p, "iat").is_some_and(|iat| iat > (now + LEEWAY) as f64),
    ),
    (
        "a `kid` that names no key (the key set holds one key, without a kid)",
        Direction::Stricter,
        |h, _, _| member(h, "kid").is_some(),
    ),
    (
        "NumericDate claims (exp, nbf, iat) that are not numbers in 0..=2^53: Tollgate reads \
         -2^53..=2^53 (a negative date is before 1970, not an error) and jsonwebtoken 0..=2^64-1, \
         so either may refuse what the other takes",
        Direction::Either,
        |_, p, _| {
            ["exp", "nbf", "iat"].iter().any(|c| {
                member(p, c).is_some_and(|v| {
                    v.as_f64()
                        .is_none_or(|n| !(0.0..=limits::MAX_NUMERIC_DATE).contains(&n))
                })
            })
        },
    ),
    (
        "`exp` exactly at now - leeway: RFC 7519 §4.1.4 rejects on or after exp; jsonwebtoken accepts",
        Direction::Stricter,
        |_, p, now| number(p, "exp") == Some(now.saturating_sub(LEEWAY) as f64),
    ),
    (
        "non-integer NumericDates: RFC 7519 §2 allows them; jsonwebtoken's u64 dates reject them",
        Direction::Laxer,
        |_, p, _| {
            ["exp", "nbf", "iat"]
                .iter()
                .any(|c| number(p, c).is_some_and(|n| n.fract() != 0.0))
        },
    ),
    (
        "header members of the wrong JSON type (`typ`, `cty`, `kid` not strings; `b64`)",
        Direction::Either,
        |h, _, _| {
            ["typ", "cty", "kid"]
                .iter()
                .any(|m| member(h, m).is_some_and(|v| !v.is_string()))
                || member(h, "b64").is_some()
        },
    ),
    (
        "key-carrying header members (`jwk`, `jku`, `x5u`, `x5c`, `x5t`, `x5t#S256`) that \
         jsonwebtoken types strictly and Tollgate never reads: a `jwk` of any form, an `x5c` that \
         is not an array of strings, the others not strings",
        Direction::Laxer,
        |h, _, _| {
            member(h, "jwk").is_some()
                || member(h, "x5c").is_some_and(|v| {
                    v.as_array()
                        .is_none_or(|items| !items.iter().all(Value::is_string))
                })
                || ["jku", "x5u", "x5t", "x5t#S256"]
                    .iter()
                    .any(|m| member(h, m).is_some_and(|v| !v.is_string()))
        },
    ),
    (
        "registered claims of the wrong type (`iss`, `sub`, `jti` not strings, `aud` not a string \
         or an array of strings): RFC 7519 §4.1 defines their types; jsonwebtoken ignores an \
         ill-typed claim it was not asked to check",
        Direction::Stricter,
        |_, p, _| {
            let bad_aud = member(p, "aud").is_some_and(|v| match v {
                Value::String(_) => false,
                Value::Array(items) => !items.iter().all(Value::is_string),
                _ => true,
            });
            bad_aud
                || ["iss", "sub", "jti"]
                    .iter()
                    .any(|c| member(p, c).is_some_and(|v| !v.is_string()))
        },
    ),
    (
        "numbers of magnitude 1e308 or more that an f64 still holds: RFC 8259 §6 leaves the range \
         to implementations; Tollgate refuses such a number anywhere (just below f64's limit a \
         decimal text may round either way), serde_json only past f64::MAX",
        Direction::Stricter,
        |h, p, _| huge_number(h) || huge_number(p),
    ),
    (
        "unknown header members that are not strings: RFC 7515 §4 allows any JSON value; \
         jsonwebtoken 10 reads them as strings (Header::extras) and rejects the token",
        Direction::Laxer,
        |h, _, _| {
            parsed(h).and_then(|v| v.as_object().cloned()).is_some_and(|o| {
                o.iter().any(|(k, v)| !KNOWN_HEADER_MEMBERS.contains(&k.as_str()) && !v.is_string())
            })
        },
    ),
];

/// The header members jsonwebtoken 10's `Header` names (the rest go to its string-valued extras).
const KNOWN_HEADER_MEMBERS: [&str; 10] = [
    "alg", "typ", "cty", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256",
];

/// A strictness rule's test: header and claims as the fuzzer wrote them, and the clock.
pub type Rule = fn(&[u8], &[u8], u64) -> bool;

fn parsed(json: &[u8]) -> Option<Value> {
    serde_json::from_slice(json).ok()
}

fn member(json: &[u8], name: &str) -> Option<Value> {
    parsed(json)?.as_object()?.get(name).cloned()
}

fn number(json: &[u8], name: &str) -> Option<f64> {
    member(json, name)?.as_f64()
}

/// Whether serde_json refuses `json` only for a number out of its range.
/// Whether serde_json reads `json` and it holds a number of magnitude 1e308 or more.
fn huge_number(json: &[u8]) -> bool {
    fn any_huge(v: &Value) -> bool {
        match v {
            Value::Number(n) => n.as_f64().is_some_and(|f| f.abs() >= 1e308),
            Value::Array(items) => items.iter().any(any_huge),
            Value::Object(members) => members.values().any(any_huge),
            _ => false,
        }
    }
    parsed(json).is_some_and(|v| any_huge(&v))
}

/// Deepest nesting of objects and arrays, counted on the raw text outside strings.
fn depth(json: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Whether any object in `json` names a member twice (serde_json keeps the last silently).
fn has_duplicates(json: &[u8]) -> bool {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    struct Dup<'a>(&'a mut bool);
    impl<'de> DeserializeSeed<'de> for Dup<'_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for Dup<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key) {
                    *self.0 = true;
                }
                map.next_value_seed(Dup(&mut *self.0))?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Dup(&mut *self.0))?.is_some() {}
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    let mut found = false;
    let mut de = serde_json::Deserializer::from_slice(json);
    let _ = Dup(&mut found).deserialize(&mut de);
    found
}

struct Peers {
    tollgate: Verifier,
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

fn peers() -> &'static Peers {
    static CELL: OnceLock<Peers> = OnceLock::new();
    CELL.get_or_init(|| {
        let tollgate = Verifier::new(
            Arc::new(crate::hs256_keys(SECRET)),
            Validation::default().with_leeway(LEEWAY),
        )
        .expect("verifier");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.leeway = LEEWAY;
        validation.validate_nbf = true;
        Peers {
            tollgate,
            key: jsonwebtoken::DecodingKey::from_secret(SECRET),
            validation,
        }
    })
}

pub(crate) fn sign(header: &[u8], payload: &[u8]) -> String {
    let mut token = base64url::encode(header);
    token.push('.');
    token.push_str(&base64url::encode(payload));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
    let tag = ring::hmac::sign(&key, token.as_bytes());
    token.push('.');
    token.push_str(&base64url::encode(tag.as_ref()));
    token
}

/// Tollgate's verdict on a token at `now` (the reason code when it rejects).
pub fn tollgate_verdict(token: &str, now: u64) -> Result<(), ErrorCode> {
    let mut buf = TokenBuffer::new();
    peers()
        .tollgate
        .verify(token.as_bytes(), now, &mut buf)
        .map(|_| ())
        .map_err(|e| e.code())
}

/// jsonwebtoken's verdict on a token (its error when it rejects), at the system clock.
pub fn jsonwebtoken_verdict(token: &str) -> Result<(), String> {
    let p = peers();
    jsonwebtoken::decode::<Value>(token, &p.key, &p.validation)
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// The differential target (see the module documentation).
pub fn differential_jsonwebtoken(data: &[u8]) {
    let (header, claims) = match data.iter().position(|&b| b == 0xFF) {
        Some(i) => (
            data.get(..i).unwrap_or_default(),
            data.get(i + 1..).unwrap_or_default(),
        ),
        None => (PLAIN_HEADER, data),
    };
    // jsonwebtoken reads the system clock and takes no other: Tollgate is given the same time.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let token = sign(header, claims);
    let ours = tollgate_verdict(&token, now);
    let theirs = jsonwebtoken_verdict(&token);
    if ours.is_ok() == theirs.is_ok() {
        return;
    }
    let observed = if ours.is_ok() {
        Direction::Laxer
    } else {
        Direction::Stricter
    };
    assert!(
        explained(observed, header, claims, now),
        "Tollgate {ours:?}, jsonwebtoken {theirs:?}, no strictness rule explains it\n  header: {}\n  claims: {}",
        String::from_utf8_lossy(header),
        String::from_utf8_lossy(claims),
    );
}

/// Whether a rule explains a disagreement seen in direction `observed` on this header and claims.
pub fn explained(observed: Direction, header: &[u8], claims: &[u8], now: u64) -> bool {
    STRICTNESS_RULES.iter().any(|(_, direction, rule)| {
        (*direction == observed || *direction == Direction::Either) && rule(header, claims, now)
    })
}
