//! JSON Web Keys (RFC 7517, RFC 7518 §6, RFC 8037): a JWKS or a single JWK into [`Key`]s.
//!
//! Each key is bound to exactly one algorithm: its `alg`; or the algorithm the caller names (which a
//! present `alg` must then equal); or, for EC and OKP keys only, the one algorithm its curve allows
//! (P-256 → ES256, P-384 → ES384, Ed25519 → EdDSA). RSA and `oct` keys without `alg` need the caller
//! to name one. Keys for encryption (`use: enc`, `key_ops` without `verify`) and public keys that
//! carry private members are rejected, with an error that names the key.

use crate::alg::{Algorithm, KeyFamily};
use crate::base64url;
use crate::document::{self, Fields};
use crate::error::{Error, KeyErrorCode};
use crate::key::{label, Key};
use crate::{json, limits};

/// The members of a JWK that Tollgate reads. Others (`x5c`, `x5t`, …) are ignored, never trusted.
/// Its `Debug` names the key, never its material.
pub(crate) struct Jwk {
    pub kty: String,
    pub alg: Option<String>,
    pub use_: Option<String>,
    pub key_ops: Option<Vec<String>>,
    pub kid: Option<String>,
    pub crv: Option<String>,
    pub k: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    pub d: Option<String>,
    pub p: Option<String>,
    pub q: Option<String>,
    pub dp: Option<String>,
    pub dq: Option<String>,
    pub qi: Option<String>,
}

impl core::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("crv", &self.crv)
            .finish_non_exhaustive()
    }
}

impl Jwk {
    /// Reads a JWK object; a fault names the member (`kid: invalid type: …`).
    pub(crate) fn read(v: json::Value<'_>) -> Result<Jwk, String> {
        Jwk::members(v).map_err(|f| f.describe())
    }

    fn members(v: json::Value<'_>) -> document::Read<Jwk> {
        let f = Fields::open(v, "")?;
        let text = |name| f.optional(name, document::string);
        // A secret member of the wrong type is named, its value never shown.
        let secret = |name| {
            f.optional(name, |v, at| {
                v.as_str().map(|s| s.to_cow().into_owned()).ok_or_else(|| {
                    document::fault(
                        at,
                        "invalid type: expected a string (the value is not shown)",
                    )
                })
            })
        };
        Ok(Jwk {
            kty: f.required("kty", document::string)?,
            alg: text("alg")?,
            use_: text("use")?,
            key_ops: f.optional("key_ops", document::strings)?,
            kid: text("kid")?,
            crv: text("crv")?,
            k: secret("k")?,
            n: text("n")?,
            e: text("e")?,
            x: text("x")?,
            y: text("y")?,
            d: secret("d")?,
            p: secret("p")?,
            q: secret("q")?,
            dp: secret("dp")?,
            dq: secret("dq")?,
            qi: secret("qi")?,
        })
    }
}

/// Parses a JWKS (`{"keys":[…]}`) or a single JWK into keys. `bind` is the algorithm the caller
/// names for every key (`None`: each key's own `alg`, or its curve's).
pub(crate) fn parse_document(doc: &[u8], bind: Option<Algorithm>) -> Result<Vec<Key>, Error> {
    parse(doc, bind, Strictness::WholeSet)
        .map(|(keys, _)| keys.into_iter().map(|(_, k)| k).collect())
}

/// A key left out of a fetched key set, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedKey {
    /// Its position in `keys`.
    pub index: usize,
    /// Its `kid`, if it has a readable one.
    pub kid: Option<String>,
    /// Why, as a stable code (`unsupported_key_algorithm`, `weak_key`, `duplicate_kid`, …).
    pub code: crate::error::ErrorCode,
    /// Why, for logs.
    pub reason: String,
}

/// Parses a JWKS served by an identity provider: keys Tollgate cannot use (an unsupported
/// algorithm or key type, encryption keys, weak or malformed keys, HMAC secrets, every key of a
/// `kid` given twice) are left out and reported, not fatal to the set. The document itself must
/// still be a strict JWKS within the size and key-count limits. Each key comes with its position.
pub(crate) fn parse_document_lenient(doc: &[u8], bind: Option<Algorithm>) -> Result<Parsed, Error> {
    parse(doc, bind, Strictness::EachKey)
}

/// Keys with their positions in the document, and the keys left out.
pub(crate) type Parsed = (Vec<(usize, Key)>, Vec<SkippedKey>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strictness {
    /// Any unusable key rejects the whole document (keys the host configured).
    WholeSet,
    /// Unusable keys are skipped and reported (keys fetched from an identity provider).
    EachKey,
}

fn parse(doc: &[u8], bind: Option<Algorithm>, strictness: Strictness) -> Result<Parsed, Error> {
    let jwks = |reason: String| Error::InvalidKeySet { reason };
    if doc.len() > limits::MAX_KEY_SET_BYTES {
        return Err(jwks(format!(
            "document is {} bytes; the limit is {}",
            doc.len(),
            limits::MAX_KEY_SET_BYTES
        )));
    }
    let object = json::parse_object(doc, limits::MAX_KEY_SET_DEPTH).map_err(|r| {
        jwks(format!(
            "not a strict JSON object: {}",
            json::describe(r, limits::MAX_KEY_SET_DEPTH)
        ))
    })?;
    if object.get("keys").is_none() {
        if strictness == Strictness::EachKey || object.get("kty").is_none() {
            let what = if strictness == Strictness::EachKey {
                "not a JWKS (no \"keys\")"
            } else {
                "neither a JWKS (no \"keys\") nor a JWK (no \"kty\")"
            };
            return Err(jwks(what.to_owned()));
        }
        let jwk = Jwk::read(json::Value::of_object(object))
            .map_err(|e| Error::key(KeyErrorCode::InvalidKey, "(jwk)", e))?;
        return Ok((vec![(0, jwk_to_key(&jwk, None, bind)?)], Vec::new()));
    }
    // Only "keys" is read; a JWKS may carry other members.
    let keys = object
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or_else(|| jwks("\"keys\" must be an array of JWK objects".to_owned()))?;
    let count = keys.clone().count();
    if count > limits::MAX_KEYS {
        return Err(jwks(format!(
            "{count} keys; the limit is {}",
            limits::MAX_KEYS
        )));
    }
    let mut skipped = Vec::new();
    let mut skip = |index: usize, kid: Option<&str>, e: Error| -> Result<(), Error> {
        match strictness {
            Strictness::WholeSet => Err(e),
            Strictness::EachKey => {
                skipped.push(SkippedKey {
                    index,
                    kid: kid.map(str::to_owned),
                    code: e.code(),
                    reason: e.to_string(),
                });
                Ok(())
            }
        }
    };
    let mut parsed = Vec::with_capacity(count);
    for (i, v) in keys.enumerate() {
        match Jwk::read(v) {
            Ok(jwk) => parsed.push((i, jwk)),
            Err(e) => {
                let kid = v
                    .as_object()
                    .and_then(|o| o.get("kid"))
                    .and_then(|k| k.as_str())
                    .map(|k| k.to_cow());
                skip(
                    i,
                    kid.as_deref(),
                    Error::key(KeyErrorCode::InvalidKey, &format!("keys[{i}]"), e),
                )?
            }
        }
    }
    // Duplicate kids first: the clearest error, before any key material is decoded. Skipping,
    // every key of a repeated kid goes: which of them the issuer signs with is unknowable.
    let mut seen = std::collections::HashMap::new();
    let mut repeated = std::collections::HashSet::new();
    for (i, jwk) in &parsed {
        if let Some(kid) = jwk.kid.as_deref() {
            if seen.insert(kid, *i).is_some() {
                if strictness == Strictness::WholeSet {
                    return Err(Error::key(
                        KeyErrorCode::DuplicateKid,
                        &label(Some(kid), Some(*i)),
                        "another key in the set has the same kid",
                    ));
                }
                repeated.insert(kid);
            }
        }
    }
    let mut keys = Vec::with_capacity(parsed.len());
    for (i, jwk) in &parsed {
        let kid = jwk.kid.as_deref();
        if kid.is_some_and(|k| repeated.contains(k)) {
            skip(
                *i,
                kid,
                Error::key(
                    KeyErrorCode::DuplicateKid,
                    &label(kid, Some(*i)),
                    "another key in the set has the same kid",
                ),
            )?;
            continue;
        }
        if strictness == Strictness::EachKey && jwk.kty == "oct" {
            skip(
                *i,
                kid,
                Error::key(
                    KeyErrorCode::MixedKeySet,
                    &label(kid, Some(*i)),
                    "a fetched key set holds public keys only; an HMAC secret is never served",
                ),
            )?;
            continue;
        }
        match jwk_to_key(jwk, Some(*i), bind) {
            Ok(key) => keys.push((*i, key)),
            Err(e) => skip(*i, kid, e)?,
        }
    }
    Ok((keys, skipped))
}

/// Decodes a base64url JWK member.
pub(crate) fn member(value: Option<&String>, name: &str, key: &str) -> Result<Vec<u8>, Error> {
    let v = value.ok_or_else(|| {
        Error::key(
            KeyErrorCode::InvalidKey,
            key,
            format!("missing member \"{name}\""),
        )
    })?;
    base64url::decode(v.as_bytes()).map_err(|_| {
        Error::key(
            KeyErrorCode::InvalidKey,
            key,
            format!("member \"{name}\" is not canonical base64url"),
        )
    })
}

/// The algorithm a JWK is bound to, checked against its type and curve.
pub(crate) fn bound_algorithm(
    jwk: &Jwk,
    who: &str,
    bind: Option<Algorithm>,
) -> Result<Algorithm, Error> {
    let declared = match jwk.alg.as_deref() {
        Some(name) => Some(Algorithm::from_name(name).map_err(|_| {
            Error::key(
                KeyErrorCode::UnsupportedAlgorithm,
                who,
                format!(
                    "alg {:?} is not a supported signature algorithm",
                    crate::error::truncated(name, 32)
                ),
            )
        })?),
        None => None,
    };
    let alg = match (declared, bind) {
        (Some(d), Some(b)) if d != b => {
            return Err(Error::key(
                KeyErrorCode::InvalidKey,
                who,
                format!("key says alg {d} but the caller bound it to {b}"),
            ))
        }
        (Some(d), _) => d,
        (None, Some(b)) => b,
        (None, None) => match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("EC", Some("P-256")) => Algorithm::ES256,
            ("EC", Some("P-384")) => Algorithm::ES384,
            ("OKP", Some("Ed25519")) => Algorithm::EdDSA,
            _ => {
                return Err(Error::key(
                    KeyErrorCode::InvalidKey,
                    who,
                    format!(
                        "a {} key without \"alg\" could serve several algorithms; name one",
                        jwk.kty
                    ),
                ))
            }
        },
    };
    let fits = matches!(
        (alg.key_family(), jwk.kty.as_str(), jwk.crv.as_deref()),
        (KeyFamily::Hmac, "oct", None)
            | (KeyFamily::Rsa, "RSA", None)
            | (KeyFamily::P256, "EC", Some("P-256"))
            | (KeyFamily::P384, "EC", Some("P-384"))
            | (KeyFamily::Ed25519, "OKP", Some("Ed25519"))
    );
    if !fits {
        return Err(Error::key(
            KeyErrorCode::InvalidKey,
            who,
            format!(
                "kty {:?}{} cannot be used with {alg}",
                crate::error::truncated(&jwk.kty, 16),
                jwk.crv
                    .as_deref()
                    .map(|c| format!(" crv {:?}", crate::error::truncated(c, 16)))
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(alg)
}

fn jwk_to_key(jwk: &Jwk, index: Option<usize>, bind: Option<Algorithm>) -> Result<Key, Error> {
    let who = label(jwk.kid.as_deref(), index);
    if let Some(u) = jwk.use_.as_deref() {
        if u != "sig" {
            return Err(Error::key(
                KeyErrorCode::NotForVerification,
                &who,
                format!(
                    "\"use\" is {:?}, not \"sig\"",
                    crate::error::truncated(u, 16)
                ),
            ));
        }
    }
    if let Some(ops) = &jwk.key_ops {
        if !ops.iter().any(|o| o == "verify") {
            return Err(Error::key(
                KeyErrorCode::NotForVerification,
                &who,
                "\"key_ops\" does not include \"verify\"",
            ));
        }
    }
    let alg = bound_algorithm(jwk, &who, bind)?;
    let private = [&jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi]
        .iter()
        .any(|m| m.is_some());
    if private {
        return Err(Error::key(
            KeyErrorCode::InvalidKey,
            &who,
            "public key carries private members (d, p, q, …): publish only the public half",
        ));
    }
    let kid = jwk.kid.as_deref();
    let key = match alg.key_family() {
        KeyFamily::Hmac => Key::hmac(alg, &member(jwk.k.as_ref(), "k", &who)?, kid),
        KeyFamily::Rsa => Key::rsa(
            alg,
            &member(jwk.n.as_ref(), "n", &who)?,
            &member(jwk.e.as_ref(), "e", &who)?,
            kid,
        ),
        KeyFamily::P256 | KeyFamily::P384 => Key::ec(
            alg,
            &member(jwk.x.as_ref(), "x", &who)?,
            &member(jwk.y.as_ref(), "y", &who)?,
            kid,
        ),
        KeyFamily::Ed25519 => Key::ed25519(&member(jwk.x.as_ref(), "x", &who)?, kid),
    };
    // Errors from the constructors name the key by kid; add the index when there is no kid.
    let mut key = key.map_err(|e| match e {
        Error::Key { code, reason, .. } => Error::Key {
            code,
            key: who.clone(),
            reason,
        },
        other => other,
    })?;
    key.may_sign = jwk
        .key_ops
        .as_ref()
        .is_none_or(|ops| ops.iter().any(|o| o == "sign"));
    Ok(key)
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 over its required members, in lexicographic
/// order with no whitespace, base64url-encoded. `members` are `(name, value)` pairs already sorted.
pub fn thumbprint(members: &[(&str, &str)]) -> String {
    let mut canonical = String::from("{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        json::push_string(&mut canonical, name);
        canonical.push(':');
        json::push_string(&mut canonical, value);
    }
    canonical.push('}');
    base64url::encode(&crate::crypto::sha256(canonical.as_bytes()))
}

/// The public JWK (with `alg`, `use: sig` and a thumbprint `kid` unless one is given) for raw
/// public parts: `(n, e)` for RSA, the SEC1 point for EC, the key for Ed25519.
pub(crate) fn public_jwk(
    alg: Algorithm,
    a: &[u8],
    b: &[u8],
    kid: Option<&str>,
) -> Option<serde_json::Value> {
    let enc = base64url::encode;
    let mut members: Vec<(&str, String)> = match alg.key_family() {
        KeyFamily::Hmac => return None,
        KeyFamily::Rsa => vec![("e", enc(b)), ("kty", "RSA".into()), ("n", enc(a))],
        KeyFamily::P256 | KeyFamily::P384 => {
            let coords = a.get(1..)?;
            let (x, y) = coords.split_at(coords.len() / 2);
            let crv = if alg.key_family() == KeyFamily::P256 {
                "P-256"
            } else {
                "P-384"
            };
            vec![
                ("crv", crv.into()),
                ("kty", "EC".into()),
                ("x", enc(x)),
                ("y", enc(y)),
            ]
        }
        KeyFamily::Ed25519 => vec![
            ("crv", "Ed25519".into()),
            ("kty", "OKP".into()),
            ("x", enc(a)),
        ],
    };
    let pairs: Vec<(&str, &str)> = members.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let kid = kid.map_or_else(|| thumbprint(&pairs), str::to_owned);
    members.push(("alg", alg.name().into()));
    members.push(("use", "sig".into()));
    members.push(("kid", kid));
    Some(serde_json::Value::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(text: &str) -> Result<Jwk, String> {
        Jwk::read(json::Value::of_object(
            json::parse_object(text.as_bytes(), 8).unwrap(),
        ))
    }

    #[test]
    fn faults_name_the_member_and_never_show_a_secret() {
        assert_eq!(
            jwk(r#"{"kty":"oct","kid":5}"#).unwrap_err(),
            "kid: invalid type: integer `5`, expected a string"
        );
        for secret in ["k", "d", "p", "q", "dp", "dq", "qi"] {
            let e = jwk(&format!(r#"{{"kty":"RSA","{secret}":1234567890}}"#)).unwrap_err();
            assert_eq!(
                e,
                format!("{secret}: invalid type: expected a string (the value is not shown)")
            );
        }
        assert_eq!(jwk(r#"{"kid":"a"}"#).unwrap_err(), "missing field `kty`");
        // Members Tollgate does not read are ignored, never trusted.
        let ok = jwk(r#"{"kty":"RSA","n":"AQAB","e":"AQAB","x5c":["x"],"use":"sig"}"#).unwrap();
        assert_eq!((ok.kty.as_str(), ok.use_.as_deref()), ("RSA", Some("sig")));
        assert_eq!(ok.d, None);
        // Debug names the key and shows none of its material.
        let oct = jwk(r#"{"kty":"oct","kid":"k1","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQ"}"#).unwrap();
        let shown = format!("{oct:?}");
        assert!(shown.contains("k1") && shown.contains("oct"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
    }

    #[test]
    fn thumbprints_are_rfc_7638_section_3_1() {
        // RFC 7638 §3.1: the example RSA key's thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(&[("e", "AQAB"), ("kty", "RSA"), ("n", n)]),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
