//! The JWT verifier: one key set, one [`Validation`], and the fixed order of checks.
//!
//! `verify` runs: [`jws::parse`] (size, segments, base64url, header JSON, `alg`, `crit`), key
//! selection ([`KeySet::select`]), the signature, then claims parsing and [`Validation::validate`].
//! Claims are parsed only after the signature holds.

use crate::cache::{CacheConfig, TokenCache};
use crate::claims::{Claims, Validation};
use crate::crypto::Backend;
use crate::error::Error;
use crate::jws::{self, Header, SignatureInput, TokenBuffer};
use crate::keyset::KeySet;
use std::sync::Arc;

/// A verifier's settings as the bindings' options documents carry them (the C ABI's JSON, the JS
/// options object): every member optional, each default that of [`Validation::default`]. Each
/// binding parses its own document, in its own spelling, into this; the meaning lives here once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifierSettings {
    /// Accepted issuers (empty accepts any).
    pub issuers: Vec<String>,
    /// Accepted audiences (empty: the token must carry no `aud`).
    pub audiences: Vec<String>,
    /// Leeway in seconds.
    pub leeway: Option<u64>,
    /// Required `typ`.
    pub typ: Option<String>,
    /// Required claims (replaces the default `["exp"]`).
    pub required: Option<Vec<String>>,
    /// Maximum `exp - iat`.
    pub max_lifetime: Option<u64>,
    /// Whether an `iat` in the future is refused.
    pub reject_future_iat: Option<bool>,
    /// Token size cap.
    pub max_token_bytes: Option<usize>,
    /// JSON nesting cap.
    pub max_json_depth: Option<usize>,
    /// The algorithm every key is bound to (a PEM or DER key needs one).
    pub alg: Option<String>,
    /// The `kid` of a PEM or DER key.
    pub kid: Option<String>,
    /// The signature backend the keys are prepared for (`ring`, or `aws-lc` in builds with that
    /// feature); the build's preferred one when unset.
    pub backend: Option<String>,
}

impl VerifierSettings {
    /// The key set `keys` holds: a JWKS or a single JWK (each key bound to its own `alg`, or to
    /// [`alg`](Self::alg) when set), or a PEM / DER public key, which needs `alg` and takes `kid`;
    /// prepared for [`backend`](Self::backend) when that is set.
    pub fn key_set(&self, keys: &[u8]) -> Result<KeySet, Error> {
        let backend = self
            .backend
            .as_deref()
            .map(Backend::available_named)
            .transpose()
            .map_err(|reason| Error::InvalidOptions {
                reason: format!("backend: {reason}"),
            })?;
        let set = self.read_keys(keys)?;
        match backend {
            Some(b) => set.with_backend(b),
            None => Ok(set),
        }
    }

    fn read_keys(&self, keys: &[u8]) -> Result<KeySet, Error> {
        let alg = self
            .alg
            .as_deref()
            .map(crate::Algorithm::from_name)
            .transpose()
            .map_err(|e| Error::InvalidOptions {
                reason: format!("alg: {e}"),
            })?;
        if keys.trim_ascii_start().first() == Some(&b'{') {
            match alg {
                Some(alg) => KeySet::from_jwks_bound(keys, alg),
                None => KeySet::from_jwks(keys),
            }
        } else {
            let alg = alg.ok_or_else(|| Error::InvalidOptions {
                reason: "a PEM or DER public key needs \"alg\" (JSON keys are a JWKS or JWK)"
                    .to_owned(),
            })?;
            KeySet::from_keys(vec![crate::Key::from_public_key(
                alg,
                keys,
                self.kid.as_deref(),
            )?])
        }
    }

    /// The rules: [`Validation::default`] with every member that is set. Range checks happen in
    /// [`Verifier::new`].
    pub fn validation(self) -> Validation {
        let d = Validation::default();
        Validation {
            issuers: self.issuers,
            audiences: self.audiences,
            required: self.required.unwrap_or(d.required),
            leeway: self.leeway.unwrap_or(d.leeway),
            max_lifetime: self.max_lifetime,
            typ: self.typ,
            reject_future_iat: self.reject_future_iat.unwrap_or(d.reject_future_iat),
            limits: crate::jws::ParseLimits {
                max_token_bytes: self.max_token_bytes.unwrap_or(d.limits.max_token_bytes),
                max_json_depth: self.max_json_depth.unwrap_or(d.limits.max_json_depth),
            },
        }
    }
}

/// Verifies JWTs against one key set and one set of rules. Immutable and `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Arc<KeySet>,
    validation: Validation,
    cache: Option<Arc<TokenCache>>,
}

/// A token whose signature and claims were verified. Borrows from the [`TokenBuffer`].
#[derive(Clone, Copy, Debug)]
pub struct VerifiedToken<'b> {
    header: Header<'b>,
    claims: Claims<'b>,
    key_id: Option<&'b str>,
}

impl<'b> VerifiedToken<'b> {
    /// The verified header.
    pub fn header(&self) -> &Header<'b> {
        &self.header
    }

    /// The verified claims.
    pub fn claims(&self) -> &Claims<'b> {
        &self.claims
    }

    /// The `kid` of the key that verified it.
    pub fn key_id(&self) -> Option<&'b str> {
        self.key_id
    }
}

impl Verifier {
    /// A verifier for `keys` under `validation`; fails if the options are out of range.
    pub fn new(keys: Arc<KeySet>, validation: Validation) -> Result<Verifier, Error> {
        validation.check()?;
        Ok(Verifier {
            keys,
            validation,
            cache: None,
        })
    }

    /// Adds a verified-token cache (see [`crate::cache`]): a repeat of a token skips its
    /// signature check until the earlier of its `exp` and the cache's TTL; its header and claims
    /// are parsed and validated again at every `now`.
    pub fn with_cache(mut self, config: CacheConfig) -> Verifier {
        self.cache = Some(Arc::new(TokenCache::new(config)));
        self
    }

    /// The key set.
    pub fn keys(&self) -> &Arc<KeySet> {
        &self.keys
    }

    /// The rules.
    pub fn validation(&self) -> &Validation {
        &self.validation
    }

    /// Verifies `token` at time `now` (Unix seconds), decoding into `buf`.
    pub fn verify<'b>(
        &'b self,
        token: &[u8],
        now: u64,
        buf: &'b mut TokenBuffer,
    ) -> Result<VerifiedToken<'b>, Error> {
        let depth = self.validation.limits.max_json_depth;
        let hit = self.cache.as_ref().and_then(|cache| {
            cache.with_hit(token, now, |e| {
                buf.load(&e.decoded);
                (e.decoded.len(), e.header_len)
            })
        });
        let jws = match hit {
            Some((len, header_len)) => jws::restore(buf, len, header_len, depth, &self.keys)?,
            None => jws::parse(token, self.validation.limits, buf)?.verify(&self.keys)?,
        };
        let claims = Claims::parse(jws.payload(), depth)?;
        self.validation.validate(jws.header(), &claims, now)?;
        if hit.is_none() {
            if let Some(cache) = &self.cache {
                cache.insert(
                    token,
                    jws.header_bytes(),
                    jws.payload(),
                    crate::cache::Origin::default(),
                    claims.expires_at(),
                    now,
                );
            }
        }
        Ok(VerifiedToken {
            header: *jws.header(),
            claims,
            key_id: jws.key_id(),
        })
    }

    /// Verifies `token` like [`Verifier::verify`], in the same order, except that `check`
    /// decides the signature (see [`jws::UnverifiedJws::verify_with`]): for hosts that verify
    /// signatures with their own crypto, such as a runtime's WebCrypto. The cache is not used.
    pub fn verify_with<'b>(
        &'b self,
        token: &[u8],
        now: u64,
        buf: &'b mut TokenBuffer,
        check: impl FnOnce(&SignatureInput<'_>) -> Result<(), Error>,
    ) -> Result<VerifiedToken<'b>, Error> {
        let jws = jws::parse(token, self.validation.limits, buf)?.verify_with(&self.keys, check)?;
        let claims = Claims::parse(jws.payload(), self.validation.limits.max_json_depth)?;
        self.validation.validate(jws.header(), &claims, now)?;
        Ok(VerifiedToken {
            header: *jws.header(),
            claims,
            key_id: jws.key_id(),
        })
    }
}
