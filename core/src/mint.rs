//! The issuing side: sign a claims set into a compact JWS. Hosts that issue tokens (and the CLI)
//! need it; a valid token may be used to mint a new one.

use crate::alg::{Algorithm, KeyFamily};
use crate::base64url;
use crate::claims::Claims;
use crate::crypto::{self, RsaPrivateParts};
use crate::error::{Error, KeyErrorCode};
use crate::json;
use crate::jwk::{self, Jwk};
use crate::key::{label, Key};
use crate::pem;

/// A private key (or HMAC secret) bound to one algorithm, for signing.
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<String>,
    inner: crypto::SigningKey,
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn bad(who: &str, reason: impl Into<String>) -> Error {
    Error::key(KeyErrorCode::InvalidKey, who, reason)
}

impl SigningKey {
    /// An HMAC secret, at least as long as the hash output.
    pub fn hmac(alg: Algorithm, secret: &[u8], kid: Option<&str>) -> Result<SigningKey, Error> {
        // The same strength rule as verification keys.
        crate::key::Key::hmac(alg, secret, kid)?;
        let inner = crypto::SigningKey::hmac(alg, secret).map_err(|r| bad(&label(kid, None), r))?;
        Ok(SigningKey {
            alg,
            kid: kid.map(str::to_owned),
            inner,
        })
    }

    /// A private key in PEM (`PRIVATE KEY`: PKCS#8; `RSA PRIVATE KEY`: PKCS#1) or DER, for `alg`.
    ///
    /// Its public half must be a key verifiers accept (else `weak_key` or `invalid_key`), and a
    /// test signature must verify under it (else `invalid_key`: the key is inconsistent).
    pub fn from_pem_or_der(
        alg: Algorithm,
        bytes: &[u8],
        kid: Option<&str>,
    ) -> Result<SigningKey, Error> {
        let who = label(kid, None);
        crate::key::check_kid(kid, &who)?;
        let der = if pem::is_pem(bytes) {
            let block = pem::decode(bytes).map_err(|r| bad(&who, r))?;
            match block.label.as_str() {
                "PRIVATE KEY" => block.der,
                "RSA PRIVATE KEY" if alg.key_family() == KeyFamily::Rsa => block.der,
                "EC PRIVATE KEY" => return Err(bad(
                    &who,
                    "SEC1 EC keys are not supported; convert with `openssl pkcs8 -topk8 -nocrypt`",
                )),
                other => {
                    return Err(bad(
                        &who,
                        format!(
                            "PEM label {:?} is not a private key",
                            crate::error::truncated(other, 32)
                        ),
                    ))
                }
            }
        } else {
            pem::check_der_size(bytes).map_err(|r| bad(&who, r))?;
            bytes.to_vec()
        };
        let inner = crypto::SigningKey::from_der(alg, &der).map_err(|r| bad(&who, r))?;
        SigningKey::checked(alg, kid, inner, &who)
    }

    /// A private JWK (`oct` with `k`, `RSA` with all CRT members, `EC`/`OKP` with `d`), bound to
    /// its `alg` (or `bind`, as for verification keys). Checked as
    /// [`from_pem_or_der`](Self::from_pem_or_der) checks a key.
    pub fn from_jwk(document: &[u8], bind: Option<Algorithm>) -> Result<SigningKey, Error> {
        let object =
            json::parse_object(document, crate::limits::MAX_KEY_SET_DEPTH).map_err(|r| {
                Error::InvalidKeySet {
                    reason: format!("not a strict JSON object: {r}"),
                }
            })?;
        let jwk = Jwk::read(json::Value::of_object(object)).map_err(|e| bad("(jwk)", e))?;
        let who = label(jwk.kid.as_deref(), None);
        if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(Error::key(
                KeyErrorCode::NotForVerification,
                &who,
                "\"use\" is not \"sig\"",
            ));
        }
        if let Some(ops) = &jwk.key_ops {
            if !ops.iter().any(|o| o == "sign") {
                return Err(Error::key(
                    KeyErrorCode::NotForVerification,
                    &who,
                    "\"key_ops\" does not include \"sign\"",
                ));
            }
        }
        let alg = jwk::bound_algorithm(&jwk, &who, bind)?;
        let kid = jwk.kid.as_deref();
        crate::key::check_kid(kid, &who)?;
        let m = |v: &Option<String>, name: &str| jwk::member(v.as_ref(), name, &who);
        let inner = match alg.key_family() {
            KeyFamily::Hmac => return SigningKey::hmac(alg, &m(&jwk.k, "k")?, kid),
            KeyFamily::Rsa => {
                let (n, e, d) = (m(&jwk.n, "n")?, m(&jwk.e, "e")?, m(&jwk.d, "d")?);
                let (p, q) = (m(&jwk.p, "p")?, m(&jwk.q, "q")?);
                let (dp, dq, qi) = (m(&jwk.dp, "dp")?, m(&jwk.dq, "dq")?, m(&jwk.qi, "qi")?);
                crypto::SigningKey::rsa_from_parts(&RsaPrivateParts {
                    n: &n,
                    e: &e,
                    d: &d,
                    p: &p,
                    q: &q,
                    dp: &dp,
                    dq: &dq,
                    qi: &qi,
                })
            }
            KeyFamily::P256 | KeyFamily::P384 => {
                let mut point = vec![4u8];
                point.extend(m(&jwk.x, "x")?);
                point.extend(m(&jwk.y, "y")?);
                crypto::SigningKey::ec_from_parts(alg, &m(&jwk.d, "d")?, &point)
            }
            KeyFamily::Ed25519 => {
                crypto::SigningKey::ed25519_from_parts(&m(&jwk.d, "d")?, &m(&jwk.x, "x")?)
            }
        }
        .map_err(|r| bad(&who, r))?;
        SigningKey::checked(alg, kid, inner, &who)
    }

    /// A private key is used only if its public half is a key Tollgate verifies with (the checks
    /// of [`Key::rsa`], [`Key::ec_point`] and [`Key::ed25519`]: RSA size, exponent and ROCA, the
    /// curve), so it never signs tokens no verifier here accepts, and a test signature verifies
    /// under that half. ring does not check an RSA key's `dP` and `dQ` against `d`: such a key
    /// imported, then failed every signature.
    fn checked(
        alg: Algorithm,
        kid: Option<&str>,
        inner: crypto::SigningKey,
        who: &str,
    ) -> Result<SigningKey, Error> {
        const PROBE: &[u8] = b"tollgate: a private key's own signature";
        if let Some((a, b)) = inner.public_parts() {
            let public = match alg.key_family() {
                KeyFamily::Rsa => Key::rsa(alg, &a, &b, kid)?,
                KeyFamily::P256 | KeyFamily::P384 => Key::ec_point(alg, &a, kid)?,
                KeyFamily::Ed25519 => Key::ed25519(&a, kid)?,
                KeyFamily::Hmac => return Err(bad(who, "an HMAC key has no public half")),
            };
            // ECDSA and RSA-PSS draw randomness to sign, so importing such a key does too.
            let sig = inner.sign(alg, PROBE).map_err(|r| {
                bad(
                    who,
                    format!("the private key failed its test signature: {r}"),
                )
            })?;
            if public.inner.verify(alg, PROBE, &sig).is_err() {
                return Err(bad(
                    who,
                    "the private key is inconsistent: its test signature does not verify \
                     under its own public key",
                ));
            }
        }
        Ok(SigningKey {
            alg,
            kid: kid.map(str::to_owned),
            inner,
        })
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` put in minted headers.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Sets the `kid` put in minted headers.
    pub fn with_kid(mut self, kid: Option<&str>) -> SigningKey {
        self.kid = kid.map(str::to_owned);
        self
    }

    /// Signs raw bytes with this key's algorithm (a JWS signature over `msg`).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, Error> {
        self.inner
            .sign(self.alg, msg)
            .map_err(|r| Error::SigningFailed {
                reason: r.to_owned(),
            })
    }

    /// The public JWK for verifiers (`None` for HMAC secrets, which have no public half).
    pub fn public_jwk(&self) -> Option<serde_json::Value> {
        let (a, b) = self.inner.public_parts()?;
        jwk::public_jwk(self.alg, &a, &b, self.kid.as_deref())
    }
}

/// Signs `claims` (a JSON object, checked as strictly as a verifier would: duplicate members,
/// and the registered claims' types) into a compact JWS with header `{"alg", "kid"?, "typ"}`;
/// `typ` defaults to `JWT`. A token longer than any verifier may be set to read
/// ([`crate::limits::MAX_TOKEN_BYTES`]), or a `kid` no key set could hold, is refused.
pub fn mint(key: &SigningKey, claims: &[u8], typ: Option<&str>) -> Result<String, Error> {
    Claims::parse(claims, crate::limits::DEFAULT_MAX_JSON_DEPTH).map_err(|e| {
        Error::SigningFailed {
            reason: format!("a verifier would refuse these claims: {e}"),
        }
    })?;
    crate::key::check_kid(key.kid.as_deref(), &label(key.kid.as_deref(), None))?;
    if !key.inner.fits(key.alg) {
        return Err(Error::Internal {
            reason: "signing key family",
        });
    }
    let mut header = serde_json::Map::new();
    header.insert("alg".into(), key.alg.name().into());
    if let Some(kid) = &key.kid {
        header.insert("kid".into(), kid.as_str().into());
    }
    header.insert("typ".into(), typ.unwrap_or("JWT").into());
    let header = serde_json::Value::Object(header).to_string();
    let mut token = base64url::encode(header.as_bytes());
    token.push('.');
    base64url::encode_to(claims, &mut token);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    base64url::encode_to(&signature, &mut token);
    if token.len() > crate::limits::MAX_TOKEN_BYTES {
        return Err(Error::SigningFailed {
            reason: format!(
                "the token is {} bytes, more than any verifier reads ({})",
                token.len(),
                crate::limits::MAX_TOKEN_BYTES
            ),
        });
    }
    Ok(token)
}
