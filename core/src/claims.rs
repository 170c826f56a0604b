//! JWT claims (RFC 7519 §4.1): typed registered claims, raw access to every other claim, and the
//! checks a [`Validation`] applies against a caller-supplied `now`.
//!
//! Types are strict: `exp`, `nbf`, `iat` are JSON numbers (integer or fractional; strings,
//! booleans and `null` are rejected, and so is any magnitude above 2^53; a number no `f64` holds,
//! such as `1e400`, is refused by the JSON reader anywhere in the claims); `iss`, `sub`, `jti` are
//! strings; `aud` is a string or a non-empty array of strings.
//!
//! Checks run in this order: `typ`, required claims, `exp`, `nbf`, `iat` not in the future,
//! maximum lifetime, issuer, audience. `now >= exp + leeway` is expired; `now + leeway < nbf` is
//! not yet valid; `iat > now + leeway` is in the future.

use crate::error::Error;
use crate::json::{self, JsonStr, Kind};
use crate::jws::Header;
use crate::limits;
use std::borrow::Cow;

/// The claims of a verified token: registered claims typed, everything else raw.
#[derive(Clone, Copy, Debug)]
pub struct Claims<'a> {
    object: json::Object<'a>,
    registered: Registered<'a>,
}

/// A claims set with an index of where its top-level members are, for a reader of many claims
/// (the engine reads roles, scopes, tenants and more): a claim is then a lookup, not a walk of
/// the JSON. The index is recorded in the same pass as the claims ([`Claims::read`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct IndexedClaims<'a> {
    claims: Claims<'a>,
    index: &'a json::MemberIndex,
}

impl<'a> IndexedClaims<'a> {
    /// `claims` with the index [`Claims::read`] recorded for them.
    pub(crate) fn new(claims: Claims<'a>, index: &'a json::MemberIndex) -> IndexedClaims<'a> {
        IndexedClaims { claims, index }
    }

    /// The claims.
    pub fn claims(&self) -> &Claims<'a> {
        &self.claims
    }
}

impl<'a> json::Lookup<'a> for IndexedClaims<'a> {
    fn member(&self, name: &str) -> Option<json::Value<'a>> {
        self.index.get(&self.claims.object, name)
    }
}

/// A claims set as one pass over its JSON reads it: the claims, or why they are refused; and,
/// whenever the JSON is strict and `iss` a string (whatever the other claims hold), the issuer,
/// which chooses a provider before the signature is checked.
#[derive(Debug)]
pub(crate) struct ReadClaims<'a> {
    /// What [`Claims::parse`] returns.
    pub claims: Result<Claims<'a>, Error>,
    /// The issuer, unverified until the signature is.
    pub issuer: Option<JsonStr<'a>>,
}

fn numeric_date(v: json::Value<'_>, claim: &'static str) -> Result<f64, Error> {
    let Some(n) = v.as_f64() else {
        return Err(Error::InvalidClaim {
            claim,
            reason: "must be a JSON number (NumericDate)",
        });
    };
    if !n.is_finite() || n.abs() > limits::MAX_NUMERIC_DATE {
        return Err(Error::InvalidClaim {
            claim,
            reason: "NumericDate is not finite or beyond the limit of 2^53 (9007199254740992) in magnitude",
        });
    }
    Ok(n)
}

/// The registered claims, as one pass over the members finds them.
#[derive(Clone, Copy, Debug, Default)]
struct Registered<'a> {
    iss: Option<JsonStr<'a>>,
    sub: Option<JsonStr<'a>>,
    jti: Option<JsonStr<'a>>,
    aud: Option<json::Value<'a>>,
    exp: Option<f64>,
    nbf: Option<f64>,
    iat: Option<f64>,
}

impl<'a> Registered<'a> {
    /// Takes one member: a registered claim is type-checked and kept, any other is left alone.
    fn read(&mut self, member: &json::Member<'a>) -> Result<(), Error> {
        let value = member.value;
        let string = |claim: &'static str| match member.value_str() {
            Some(s) => Ok(s),
            None => Err(Error::InvalidClaim {
                claim,
                reason: "must be a string",
            }),
        };
        let unescaped: Cow<'_, str> = match member.name.as_borrowed() {
            // Every registered name is three letters: longer names need no comparison.
            Some(n) if n.len() != 3 => return Ok(()),
            Some(n) => Cow::Borrowed(n),
            None => member.name.to_cow(),
        };
        match &*unescaped {
            "iss" => self.iss = Some(string("iss")?),
            "sub" => self.sub = Some(string("sub")?),
            "jti" => self.jti = Some(string("jti")?),
            "exp" => self.exp = Some(numeric_date(value, "exp")?),
            "nbf" => self.nbf = Some(numeric_date(value, "nbf")?),
            "iat" => self.iat = Some(numeric_date(value, "iat")?),
            "aud" => {
                let ok = match value.kind() {
                    Kind::String => true,
                    Kind::Array => member.value_is_strings(),
                    _ => false,
                };
                if !ok {
                    return Err(Error::InvalidClaim {
                        claim: "aud",
                        reason: "must be a string or a non-empty array of strings",
                    });
                }
                self.aud = Some(value);
            }
            _ => {}
        }
        Ok(())
    }
}

impl<'a> Claims<'a> {
    /// Parses and type-checks a claims set, in one pass over the JSON.
    pub fn parse(payload: &'a [u8], max_depth: usize) -> Result<Claims<'a>, Error> {
        Claims::read(payload, max_depth, None).claims
    }

    /// [`Claims::parse`], keeping the issuer even where another claim is refused, and recording
    /// the members into `index` when given.
    pub(crate) fn read(
        payload: &'a [u8],
        max_depth: usize,
        mut index: Option<&mut json::MemberIndex>,
    ) -> ReadClaims<'a> {
        let mut registered = Registered::default();
        // The first member of the wrong type, reported only once the whole document is known
        // to be strict JSON (a syntax error anywhere wins, as it would in two passes).
        let mut wrong_type = None;
        let parsed = json::parse_object_with(payload, max_depth, |member| {
            if let Some(index) = index.as_deref_mut() {
                index.record(&member);
            }
            if let Err(e) = registered.read(&member) {
                wrong_type.get_or_insert(e);
            }
        });
        let object = match parsed {
            Ok(object) => object,
            Err(reason) => {
                return ReadClaims {
                    claims: Err(Error::json("claims", reason, max_depth)),
                    issuer: None,
                };
            }
        };
        ReadClaims {
            issuer: registered.iss,
            claims: match wrong_type {
                Some(e) => Err(e),
                None => Ok(Claims { object, registered }),
            },
        }
    }

    /// `iss`, if present.
    pub fn issuer(&self) -> Option<JsonStr<'a>> {
        self.registered.iss
    }

    /// `sub`, if present.
    pub fn subject(&self) -> Option<JsonStr<'a>> {
        self.registered.sub
    }

    /// `jti`, if present.
    pub fn jwt_id(&self) -> Option<JsonStr<'a>> {
        self.registered.jti
    }

    /// `exp`, if present.
    pub fn expires_at(&self) -> Option<f64> {
        self.registered.exp
    }

    /// `nbf`, if present.
    pub fn not_before(&self) -> Option<f64> {
        self.registered.nbf
    }

    /// `iat`, if present.
    pub fn issued_at(&self) -> Option<f64> {
        self.registered.iat
    }

    /// The audiences (`aud` as a string is one audience).
    pub fn audiences(&self) -> impl Iterator<Item = JsonStr<'a>> + 'a {
        let single = self.registered.aud.and_then(|v| v.as_str());
        let many = self.registered.aud.and_then(|v| v.string_elements());
        single.into_iter().chain(many.into_iter().flatten())
    }

    /// Any claim by name, raw (roles, tenants, scopes: for the policy to read).
    pub fn get(&self, name: &str) -> Option<json::Value<'a>> {
        self.object.get(name)
    }

    /// The whole claims object.
    pub fn object(&self) -> json::Object<'a> {
        self.object
    }

    fn has(&self, name: &str) -> bool {
        match name {
            "iss" => self.registered.iss.is_some(),
            "sub" => self.registered.sub.is_some(),
            "jti" => self.registered.jti.is_some(),
            "aud" => self.registered.aud.is_some(),
            "exp" => self.registered.exp.is_some(),
            "nbf" => self.registered.nbf.is_some(),
            "iat" => self.registered.iat.is_some(),
            // A claim given as `null` is not given: JSON has no other way to say "none here".
            other => self
                .get(other)
                .is_some_and(|v| v.kind() != json::Kind::Null),
        }
    }
}

impl<'a> json::Lookup<'a> for Claims<'a> {
    fn member(&self, name: &str) -> Option<json::Value<'a>> {
        self.get(name)
    }
}

/// What a token must satisfy beyond its signature. Build with [`Validation::default`] and the
/// `with_*` methods, or set the fields; [`Validation::check`] rejects out-of-range settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Validation {
    /// Accepted issuers (exact match); empty accepts any issuer.
    pub issuers: Vec<String>,
    /// Accepted audiences (any match); empty means the token must not carry `aud` (RFC 7519
    /// §4.1.3: a recipient that does not identify itself with the audience must reject).
    pub audiences: Vec<String>,
    /// Claims that must be present (default: `exp`).
    pub required: Vec<String>,
    /// Clock leeway in seconds (default 60, at most [`limits::MAX_LEEWAY_SECS`]).
    pub leeway: u64,
    /// Maximum `exp - iat` in seconds; when set, `exp` and `iat` are required.
    pub max_lifetime: Option<u64>,
    /// Required `typ` header, compared as RFC 7515 §4.1.9 says (case-insensitive, `application/`
    /// optional). `None` accepts any `typ` or none.
    pub typ: Option<String>,
    /// Reject tokens whose `iat` is after `now + leeway` (default true).
    pub reject_future_iat: bool,
    /// Token size cap and JSON nesting cap.
    pub limits: crate::jws::ParseLimits,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            issuers: Vec::new(),
            audiences: Vec::new(),
            required: vec!["exp".to_owned()],
            leeway: limits::DEFAULT_LEEWAY_SECS,
            max_lifetime: None,
            typ: None,
            reject_future_iat: true,
            limits: crate::jws::ParseLimits::default(),
        }
    }
}

fn mime_type(t: &str) -> &str {
    match (t.get(..12), t.get(12..)) {
        (Some(prefix), Some(rest))
            if prefix.eq_ignore_ascii_case("application/") && !rest.contains('/') =>
        {
            rest
        }
        _ => t,
    }
}

impl Validation {
    /// Accepts tokens from this issuer (may be called more than once).
    pub fn with_issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuers.push(iss.into());
        self
    }

    /// Accepts tokens for this audience (may be called more than once).
    pub fn with_audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Sets the leeway in seconds.
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Requires a `typ`.
    pub fn with_typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Sets the maximum lifetime (`exp - iat`).
    pub fn with_max_lifetime(mut self, secs: u64) -> Self {
        self.max_lifetime = Some(secs);
        self
    }

    /// Replaces the required claims. A claim given as `null` counts as missing.
    pub fn with_required<I: IntoIterator<Item = S>, S: Into<String>>(mut self, claims: I) -> Self {
        self.required = claims.into_iter().map(Into::into).collect();
        self
    }

    /// Checks the settings themselves.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |reason: String| Err(Error::InvalidOptions { reason });
        if self.leeway > limits::MAX_LEEWAY_SECS {
            return bad(format!(
                "leeway {}s exceeds the cap of {}s",
                self.leeway,
                limits::MAX_LEEWAY_SECS
            ));
        }
        if self.limits.max_token_bytes == 0 || self.limits.max_token_bytes > limits::MAX_TOKEN_BYTES
        {
            return bad(format!(
                "max token size must be 1..={} bytes",
                limits::MAX_TOKEN_BYTES
            ));
        }
        if self.limits.max_json_depth == 0 || self.limits.max_json_depth > limits::MAX_JSON_DEPTH {
            return bad(format!(
                "max JSON depth must be 1..={}",
                limits::MAX_JSON_DEPTH
            ));
        }
        if self
            .issuers
            .iter()
            .chain(&self.audiences)
            .any(String::is_empty)
        {
            return bad("an empty issuer or audience would match nothing useful".to_owned());
        }
        Ok(())
    }

    /// Applies every check to a verified header and claims at time `now` (Unix seconds).
    pub fn validate(
        &self,
        header: &Header<'_>,
        claims: &Claims<'_>,
        now: u64,
    ) -> Result<(), Error> {
        if let Some(expected) = &self.typ {
            let ok = header
                .typ()
                .is_some_and(|t| mime_type(&t.to_cow()).eq_ignore_ascii_case(mime_type(expected)));
            if !ok {
                return Err(Error::InvalidType {
                    expected: expected.clone(),
                });
            }
        }
        for name in &self.required {
            if !claims.has(name) {
                return Err(Error::MissingClaim {
                    claim: crate::error::truncated(name, 64),
                });
            }
        }
        if self.max_lifetime.is_some() {
            for name in ["exp", "iat"] {
                if !claims.has(name) {
                    return Err(Error::MissingClaim {
                        claim: name.to_owned(),
                    });
                }
            }
        }
        // Realistic times are far below 2^53, where u64 -> f64 is exact.
        let now_f = now as f64;
        let leeway = self.leeway as f64;
        if let Some(exp) = claims.registered.exp {
            if now_f >= exp + leeway {
                return Err(Error::Expired {
                    exp,
                    now,
                    leeway: self.leeway,
                });
            }
        }
        if let Some(nbf) = claims.registered.nbf {
            if now_f + leeway < nbf {
                return Err(Error::NotYetValid {
                    nbf,
                    now,
                    leeway: self.leeway,
                });
            }
        }
        if let Some(iat) = claims.registered.iat {
            if self.reject_future_iat && iat > now_f + leeway {
                return Err(Error::IssuedInFuture {
                    iat,
                    now,
                    leeway: self.leeway,
                });
            }
        }
        if let (Some(max), Some(exp), Some(iat)) = (
            self.max_lifetime,
            claims.registered.exp,
            claims.registered.iat,
        ) {
            let lifetime = exp - iat;
            if lifetime > max as f64 {
                return Err(Error::LifetimeTooLong { lifetime, max });
            }
        }
        if !self.issuers.is_empty() {
            let ok = claims
                .registered
                .iss
                .is_some_and(|iss| self.issuers.iter().any(|i| iss.eq_str(i)));
            if !ok {
                return Err(if claims.registered.iss.is_none() {
                    Error::MissingClaim {
                        claim: "iss".to_owned(),
                    }
                } else {
                    Error::InvalidIssuer
                });
            }
        }
        match (self.audiences.is_empty(), claims.registered.aud.is_some()) {
            (true, true) => {
                return Err(Error::InvalidAudience {
                    reason: "token names an audience but none is configured",
                })
            }
            (false, false) => {
                return Err(Error::MissingClaim {
                    claim: "aud".to_owned(),
                })
            }
            (false, true) => {
                let ok = claims
                    .audiences()
                    .any(|a| self.audiences.iter().any(|want| a.eq_str(want)));
                if !ok {
                    return Err(Error::InvalidAudience {
                        reason: "none of the token's audiences is accepted",
                    });
                }
            }
            (true, false) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn typ_comparison_follows_rfc7515() {
        assert_eq!(mime_type("application/at+jwt"), "at+jwt");
        assert_eq!(mime_type("APPLICATION/at+jwt"), "at+jwt");
        assert_eq!(mime_type("at+jwt"), "at+jwt");
        assert_eq!(mime_type("application/foo/bar"), "application/foo/bar");
    }

    fn claims(s: &str) -> Result<Claims<'_>, ErrorCode> {
        Claims::parse(s.as_bytes(), 16).map_err(|e| e.code())
    }

    #[test]
    fn registered_claim_types_are_strict() {
        for bad in [
            r#"{"exp":"1"}"#,
            r#"{"exp":true}"#,
            r#"{"exp":null}"#,
            r#"{"iat":1e16}"#,
            r#"{"iss":1}"#,
            r#"{"sub":null}"#,
            r#"{"jti":[]}"#,
            r#"{"aud":[]}"#,
            r#"{"aud":["a",1]}"#,
            r#"{"aud":{"a":1}}"#,
            r#"{"aud":[["a"]]}"#,
            r#"{"aud":["a",["b"]]}"#,
            r#"{"aud":[{"a":["b"]}]}"#,
            r#"{"aud":["a",null]}"#,
        ] {
            assert_eq!(claims(bad).unwrap_err(), ErrorCode::InvalidClaim, "{bad}");
        }
        // A number no f64 holds is no JSON the reader takes, wherever it is.
        assert_eq!(
            claims(r#"{"nbf":1e400}"#).unwrap_err(),
            ErrorCode::InvalidJson
        );
        let c = claims(r#"{"exp":10.5,"aud":["a","b"],"x":{"y":[1]}}"#).unwrap();
        assert_eq!(c.expires_at(), Some(10.5));
        assert_eq!(
            c.audiences()
                .map(|a| a.to_cow().into_owned())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(c.get("x").is_some());
    }

    #[test]
    fn leeway_boundaries_are_exact() {
        let v = Validation::default().with_leeway(10);
        let header_bytes = br#"{"alg":"HS256"}"#;
        let h = Header::parse_for_tests(header_bytes);
        let c = claims(r#"{"exp":100}"#).unwrap();
        assert!(v.validate(&h, &c, 109).is_ok());
        assert_eq!(
            v.validate(&h, &c, 110).unwrap_err().code(),
            ErrorCode::Expired
        );
        let c = claims(r#"{"exp":1000,"nbf":100}"#).unwrap();
        assert!(v.validate(&h, &c, 90).is_ok());
        assert_eq!(
            v.validate(&h, &c, 89).unwrap_err().code(),
            ErrorCode::NotYetValid
        );
        let c = claims(r#"{"exp":1000,"iat":100}"#).unwrap();
        assert!(v.validate(&h, &c, 90).is_ok());
        assert_eq!(
            v.validate(&h, &c, 89).unwrap_err().code(),
            ErrorCode::IssuedInFuture
        );
    }

    #[test]
    fn issuer_audience_lifetime_and_required() {
        let h = Header::parse_for_tests(br#"{"alg":"HS256","typ":"at+jwt"}"#);
        let c = claims(r#"{"exp":1000,"iat":100,"iss":"https://idp","aud":"api"}"#).unwrap();
        let base = Validation::default();
        assert_eq!(
            base.validate(&h, &c, 150).unwrap_err().code(),
            ErrorCode::InvalidAudience
        );
        let v = base.clone().with_audience("api").with_issuer("https://idp");
        assert!(v.validate(&h, &c, 150).is_ok());
        assert_eq!(
            v.clone()
                .with_typ("application/AT+JWT")
                .validate(&h, &c, 150)
                .map_err(|e| e.code()),
            Ok(())
        );
        assert_eq!(
            v.clone()
                .with_typ("JWT")
                .validate(&h, &c, 150)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidType
        );
        assert_eq!(
            v.clone()
                .with_max_lifetime(899)
                .validate(&h, &c, 150)
                .unwrap_err()
                .code(),
            ErrorCode::LifetimeTooLong
        );
        assert!(v
            .clone()
            .with_max_lifetime(900)
            .validate(&h, &c, 150)
            .is_ok());
        assert_eq!(
            base.clone()
                .with_audience("api")
                .with_issuer("https://idp/")
                .validate(&h, &c, 150)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidIssuer
        );
        assert_eq!(
            base.clone()
                .with_audience("other")
                .validate(&h, &c, 150)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidAudience
        );
        assert_eq!(
            v.clone()
                .with_required(["tenant"])
                .validate(&h, &c, 150)
                .unwrap_err()
                .code(),
            ErrorCode::MissingClaim
        );
        // Present but null is missing too.
        let null_tenant =
            claims(r#"{"aud":"api","iss":"https://idp","exp":200,"tenant":null}"#).unwrap();
        assert_eq!(
            v.clone()
                .with_required(["tenant"])
                .validate(&h, &null_tenant, 150)
                .unwrap_err()
                .code(),
            ErrorCode::MissingClaim
        );
        let given =
            claims(r#"{"aud":"api","iss":"https://idp","exp":200,"tenant":false}"#).unwrap();
        assert!(v
            .clone()
            .with_required(["tenant"])
            .validate(&h, &given, 150)
            .is_ok());
        let no_exp = claims(r#"{"aud":"api","iss":"https://idp"}"#).unwrap();
        assert_eq!(
            v.validate(&h, &no_exp, 150).unwrap_err().code(),
            ErrorCode::MissingClaim
        );
    }

    #[test]
    fn options_are_range_checked() {
        assert!(Validation::default().check().is_ok());
        assert_eq!(
            Validation::default()
                .with_leeway(601)
                .check()
                .unwrap_err()
                .code(),
            ErrorCode::InvalidOptions
        );
        assert_eq!(
            Validation::default()
                .with_issuer("")
                .check()
                .unwrap_err()
                .code(),
            ErrorCode::InvalidOptions
        );
    }
}
