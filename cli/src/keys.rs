//! Loading key files: verification key sets (JWKS, JWK, or a PEM/DER public key) and signing keys
//! (private JWK, PKCS#8/PKCS#1 PEM or DER, or a raw HMAC secret).

use crate::io::read_file;
use crate::output::Failure;
use std::path::Path;
use tollgate::{Algorithm, Key, KeySet, SigningKey};

/// Whether `bytes` look like a JSON object (first non-whitespace byte `{`).
pub fn looks_like_json(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().first() == Some(&b'{')
}

/// A verification key file, read and classified.
#[derive(Debug)]
pub enum VerificationKeys {
    /// A JWKS or single JWK: a complete key set, with its own `kid`s.
    Jwks(Box<KeySet>),
    /// A PEM or DER public key for the algorithm given with `--alg`. It has no `kid` of its own;
    /// [`VerificationKeys::key_set_for`] names it after the token's `kid`.
    PublicKey {
        /// The algorithm the key is bound to.
        alg: Algorithm,
        /// The file contents.
        bytes: Vec<u8>,
    },
}

impl VerificationKeys {
    /// Reads `path`: JSON is a JWKS or JWK (bound to `alg` if given); anything else is a PEM or DER
    /// public key, which needs `alg`.
    pub fn load(path: &Path, alg: Option<Algorithm>) -> Result<VerificationKeys, Failure> {
        let bytes = read_file(path, "key file")?;
        if looks_like_json(&bytes) {
            let set = match alg {
                Some(alg) => KeySet::from_jwks_bound(&bytes, alg),
                None => KeySet::from_jwks(&bytes),
            }
            .map_err(Failure::Config)?;
            return Ok(VerificationKeys::Jwks(Box::new(set)));
        }
        let Some(alg) = alg else {
            let kind = if tollgate::pem::is_pem(&bytes) {
                "a PEM"
            } else {
                "not JSON, so taken as a DER"
            };
            return Err(Failure::Other(format!(
                "key file {} is {kind} public key; name its algorithm with --alg",
                path.display()
            )));
        };
        // Check the key now, so that a bad key is a configuration error whatever the token holds.
        Key::from_public_key(alg, &bytes, None).map_err(Failure::Config)?;
        Ok(VerificationKeys::PublicKey { alg, bytes })
    }

    /// Whether the key set came from a JWKS or JWK (whose `kid`s are worth reporting).
    pub fn has_own_kids(&self) -> bool {
        matches!(self, VerificationKeys::Jwks(_))
    }

    /// The key set to verify `token` with. A PEM or DER key has no `kid`, and the core selects by
    /// `kid` exactly, so the single key takes the `kid` the token names (if any): the key is still
    /// the only one, bound to the one algorithm given with `--alg`.
    pub fn key_set_for(self, token: &[u8]) -> Result<KeySet, Failure> {
        match self {
            VerificationKeys::Jwks(set) => Ok(*set),
            VerificationKeys::PublicKey { alg, bytes } => {
                let kid = token_kid(token);
                let key = match Key::from_public_key(alg, &bytes, kid.as_deref()) {
                    Ok(key) => key,
                    // A kid the key cannot carry (too long): leave it unnamed; the core then
                    // rejects the token as naming an unknown kid.
                    Err(_) => Key::from_public_key(alg, &bytes, None).map_err(Failure::Config)?,
                };
                KeySet::from_keys(vec![key]).map_err(Failure::Config)
            }
        }
    }
}

/// The `kid` in a token's header, if the token parses that far.
fn token_kid(token: &[u8]) -> Option<String> {
    let mut buf = tollgate::TokenBuffer::new();
    let jws = tollgate::jws::parse(token, tollgate::ParseLimits::default(), &mut buf).ok()?;
    let kid = jws.header().kid()?;
    Some(kid.to_cow().into_owned())
}

/// Loads a signing key for `alg`: `key_file` holds a private JWK (JSON) or a PKCS#8/PKCS#1 PEM
/// or DER private key; `secret_file` holds raw HMAC secret bytes. `kid`, when given, is put in
/// minted headers (replacing a JWK's own `kid`).
pub fn load_signing_key(
    alg: Algorithm,
    key_file: Option<&Path>,
    secret_file: Option<&Path>,
    kid: Option<&str>,
) -> Result<SigningKey, Failure> {
    let key = match (key_file, secret_file) {
        (Some(path), None) => {
            let bytes = read_file(path, "key file")?;
            if looks_like_json(&bytes) {
                let key = SigningKey::from_jwk(&bytes, Some(alg)).map_err(Failure::Config)?;
                match kid {
                    Some(kid) => key.with_kid(Some(kid)),
                    None => key,
                }
            } else {
                SigningKey::from_pem_or_der(alg, &bytes, kid).map_err(Failure::Config)?
            }
        }
        (None, Some(path)) => {
            let secret = read_file(path, "secret file")?;
            SigningKey::hmac(alg, &secret, kid).map_err(Failure::Config)?
        }
        _ => {
            return Err(Failure::Other(
                "give exactly one of --key and --secret-file".to_owned(),
            ))
        }
    };
    if key.algorithm() != alg {
        return Err(Failure::Other(format!(
            "the key is bound to {}, not {alg}",
            key.algorithm()
        )));
    }
    Ok(key)
}
