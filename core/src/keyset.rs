//! A set of verification keys and the rule that picks one for a token.
//!
//! Selection: with a `kid`, the key with exactly that `kid` (byte-for-byte; never a path, prefix or
//! pattern), which must be bound to the header's `alg`; a `kid` the set lacks is `unknown_kid`, which
//! a host reads as "refresh the key set". Without a `kid`, the one key bound to the header's `alg`,
//! if there is exactly one. Header members that carry or point at keys (`jwk`, `jku`, `x5u`, `x5c`)
//! are never consulted.

use crate::alg::Algorithm;
use crate::error::{truncated, Error, KeyErrorCode};
use crate::json::JsonStr;
use crate::jwk;
use crate::key::{label, Key};
use crate::limits;
use std::collections::HashMap;

/// An immutable set of keys, each bound to one algorithm. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<Key>,
    by_kid: HashMap<Box<str>, usize>,
    /// Per algorithm (in [`Algorithm::ALL`] order): how many keys are bound to it, and the first.
    by_alg: [(usize, usize); Algorithm::ALL.len()],
}

/// Sets of up to this many keys are searched for a `kid` key by key, larger ones through a map.
const SCANNED_KEYS: usize = 8;

fn alg_index(alg: Algorithm) -> usize {
    Algorithm::ALL.iter().position(|a| *a == alg).unwrap_or(0)
}

impl KeySet {
    /// Builds a set from keys. Rejects duplicate `kid`s, sets that mix shared secrets with public
    /// keys (a token's algorithm must not decide which kind of key it meets), and oversized sets.
    pub fn from_keys(keys: Vec<Key>) -> Result<KeySet, Error> {
        if keys.len() > limits::MAX_KEYS {
            return Err(Error::InvalidKeySet {
                reason: format!("{} keys; the limit is {}", keys.len(), limits::MAX_KEYS),
            });
        }
        let symmetric = keys.iter().filter(|k| k.alg.is_symmetric()).count();
        if symmetric != 0 && symmetric != keys.len() {
            let first_public = keys.iter().position(|k| !k.alg.is_symmetric()).unwrap_or(0);
            let who = keys
                .get(first_public)
                .map(|k| label(k.kid(), Some(first_public)))
                .unwrap_or_default();
            return Err(Error::key(
                KeyErrorCode::MixedKeySet,
                &who,
                "the set holds both HMAC secrets and public keys; keep them in separate sets",
            ));
        }
        let mut by_kid = HashMap::with_capacity(keys.len());
        let mut by_alg = [(0usize, 0usize); Algorithm::ALL.len()];
        for (i, key) in keys.iter().enumerate() {
            if let Some(kid) = key.kid() {
                if by_kid.insert(Box::<str>::from(kid), i).is_some() {
                    return Err(Error::key(
                        KeyErrorCode::DuplicateKid,
                        &label(Some(kid), Some(i)),
                        "another key in the set has the same kid",
                    ));
                }
            }
            if let Some(slot) = by_alg.get_mut(alg_index(key.alg)) {
                if slot.0 == 0 {
                    slot.1 = i;
                }
                slot.0 += 1;
            }
        }
        Ok(KeySet {
            keys,
            by_kid,
            by_alg,
        })
    }

    /// A set with no keys (every token fails key selection).
    pub fn empty() -> KeySet {
        KeySet {
            keys: Vec::new(),
            by_kid: HashMap::new(),
            by_alg: [(0, 0); Algorithm::ALL.len()],
        }
    }

    /// Parses a JWKS or a single JWK; each key is bound to its own `alg` (or its curve's).
    pub fn from_jwks(document: &[u8]) -> Result<KeySet, Error> {
        KeySet::from_keys(jwk::parse_document(document, None)?)
    }

    /// Parses a JWKS or a single JWK, binding every key to `alg`: keys without `alg` take it, keys
    /// with another `alg` are rejected.
    pub fn from_jwks_bound(document: &[u8], alg: Algorithm) -> Result<KeySet, Error> {
        KeySet::from_keys(jwk::parse_document(document, Some(alg))?)
    }

    /// Parses a JWKS fetched from an identity provider, keeping the keys Tollgate can use and
    /// reporting the others instead of refusing the set: unsupported or weak keys, encryption keys,
    /// HMAC secrets, every key of a repeated `kid`, and keys whose algorithm is not in `allowed`
    /// (empty: any). With exactly one allowed algorithm, keys without `alg` are bound to it. The
    /// document itself must be a strict JWKS within the size and key-count limits.
    pub fn from_jwks_lenient(
        document: &[u8],
        allowed: &[Algorithm],
    ) -> Result<(KeySet, Vec<jwk::SkippedKey>), Error> {
        let bind = match allowed {
            [only] => Some(*only),
            _ => None,
        };
        let (keys, mut skipped) = jwk::parse_document_lenient(document, bind)?;
        let mut kept = Vec::with_capacity(keys.len());
        for (i, key) in keys {
            if allowed.is_empty() || allowed.contains(&key.alg) {
                kept.push(key);
            } else {
                skipped.push(jwk::SkippedKey {
                    index: i,
                    kid: key.kid().map(str::to_owned),
                    code: crate::error::ErrorCode::UnsupportedKeyAlgorithm,
                    reason: format!("{} is not among the algorithms allowed here", key.alg),
                });
            }
        }
        // Into index order (the parser reports in several passes) by binary insertion: at most
        // MAX_KEYS entries, and a library sort's code is kilobytes of the WebAssembly package.
        let mut ordered: Vec<jwk::SkippedKey> = Vec::with_capacity(skipped.len());
        for s in skipped {
            let at = ordered.partition_point(|o| o.index < s.index);
            ordered.insert(at, s);
        }
        let skipped = ordered;
        Ok((KeySet::from_keys(kept)?, skipped))
    }

    /// The same keys, prepared for `backend` (see [`crate::crypto`]).
    pub fn with_backend(self, backend: crate::crypto::Backend) -> Result<KeySet, Error> {
        let keys = self
            .keys
            .into_iter()
            .map(|k| k.with_backend(backend))
            .collect::<Result<Vec<Key>, Error>>()?;
        Ok(KeySet { keys, ..self })
    }

    /// The backend the keys verify with (the preferred one for an empty set).
    pub fn backend(&self) -> crate::crypto::Backend {
        self.keys
            .first()
            .map_or(crate::crypto::Backend::preferred(), Key::backend)
    }

    /// The keys, in the order given.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set has no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Picks the key for a token whose header names `alg` and, optionally, `kid`.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&Key, Error> {
        match kid {
            Some(kid) => {
                // A few keys are compared directly: cheaper than hashing the kid.
                let key = if self.keys.len() <= SCANNED_KEYS {
                    self.keys.iter().find(|k| k.kid() == Some(kid))
                } else {
                    self.by_kid.get(kid).and_then(|&i| self.keys.get(i))
                };
                let key = key.ok_or_else(|| Error::UnknownKid {
                    kid: truncated(kid, crate::key::MAX_KID_LEN),
                })?;
                if key.alg != alg {
                    return Err(Error::AlgorithmMismatch {
                        key_alg: key.alg.name(),
                        header_alg: alg.name(),
                    });
                }
                Ok(key)
            }
            None => {
                let (count, first) = self.by_alg.get(alg_index(alg)).copied().unwrap_or((0, 0));
                if count != 1 {
                    return Err(Error::NoMatchingKey {
                        alg: alg.name(),
                        candidates: count,
                    });
                }
                self.keys.get(first).ok_or(Error::Internal {
                    reason: "key index",
                })
            }
        }
    }

    pub(crate) fn select_json(
        &self,
        alg: Algorithm,
        kid: Option<JsonStr<'_>>,
    ) -> Result<&Key, Error> {
        match kid {
            None => self.select(alg, None),
            Some(k) => match k.as_borrowed() {
                Some(s) => self.select(alg, Some(s)),
                None => self.select(alg, Some(&k.to_cow())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` HMAC keys with kids `k0`… alternating HS256 and HS384.
    fn set(n: usize) -> KeySet {
        let keys = (0..n)
            .map(|i| {
                let alg = if i % 2 == 0 {
                    Algorithm::HS256
                } else {
                    Algorithm::HS384
                };
                let secret = [u8::try_from(i % 251).unwrap_or(0); 48];
                Key::hmac(alg, &secret, Some(&format!("k{i}"))).unwrap()
            })
            .collect();
        KeySet::from_keys(keys).unwrap()
    }

    /// Small sets are searched key by key and larger ones through the map: both find every key
    /// by its kid, and answer an unknown kid and a kid of another algorithm alike.
    #[test]
    fn a_kid_selects_the_same_way_in_small_and_large_sets() {
        for n in [1, SCANNED_KEYS - 1, SCANNED_KEYS, SCANNED_KEYS + 1, 100] {
            let keys = set(n);
            for i in 0..n {
                let kid = format!("k{i}");
                let alg = if i % 2 == 0 {
                    Algorithm::HS256
                } else {
                    Algorithm::HS384
                };
                assert_eq!(keys.select(alg, Some(&kid)).unwrap().kid(), Some(&*kid));
                let other = if alg == Algorithm::HS256 {
                    Algorithm::HS384
                } else {
                    Algorithm::HS256
                };
                assert_eq!(
                    keys.select(other, Some(&kid)).unwrap_err().code(),
                    crate::ErrorCode::AlgorithmMismatch,
                    "{n} keys, {kid}"
                );
            }
            for unknown in [
                format!("k{n}"),
                "k".to_owned(),
                String::new(),
                "K0".to_owned(),
            ] {
                assert_eq!(
                    keys.select(Algorithm::HS256, Some(&unknown))
                        .unwrap_err()
                        .code(),
                    crate::ErrorCode::UnknownKid,
                    "{n} keys, {unknown:?}"
                );
            }
        }
    }
}
