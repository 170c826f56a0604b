//! Key generation: HMAC secrets, Ed25519, P-256 and P-384. The one place (with signing, and the
//! test signature that checks an imported private key) where the core asks the operating system
//! for randomness, because the caller asked for a secret.
//!
//! `ring` cannot generate RSA keys. Make one with OpenSSL and use its PKCS#8 PEM directly:
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem`, and its public half
//! with `openssl pkey -in rsa.pem -pubout`.

use crate::alg::{Algorithm, KeyFamily};
use crate::base64url;
use crate::crypto;
use crate::error::Error;
use crate::jwk;
use crate::mint::SigningKey;
use crate::pem;

/// A freshly generated key. Its `Debug` leaves the secret out.
#[non_exhaustive]
pub struct GeneratedKey {
    /// The algorithm it is bound to.
    pub alg: Algorithm,
    /// Its key id (the RFC 7638 thumbprint).
    pub kid: String,
    /// The secret: a PKCS#8 PEM for asymmetric keys, an `oct` JWK (JSON text) for HMAC.
    pub private: String,
    /// The public JWK to publish (`None` for HMAC).
    pub public_jwk: Option<serde_json::Value>,
}

impl core::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("public_jwk", &self.public_jwk)
            .finish_non_exhaustive()
    }
}

/// Generates a key for `alg`. RSA is refused with instructions (see the module docs).
pub fn generate(alg: Algorithm) -> Result<GeneratedKey, Error> {
    let fail = |reason: &str| Error::KeyGenerationFailed {
        reason: reason.to_owned(),
    };
    match alg.key_family() {
        KeyFamily::Hmac => {
            let len = alg.fixed_signature_len().unwrap_or(64);
            let secret = crypto::random_bytes(len).map_err(fail)?;
            let k = base64url::encode(&secret);
            let kid = jwk::thumbprint(&[("k", &k), ("kty", "oct")]);
            let private = serde_json::json!({
                "kty": "oct", "alg": alg.name(), "use": "sig", "kid": kid, "k": k,
            })
            .to_string();
            Ok(GeneratedKey {
                alg,
                kid,
                private,
                public_jwk: None,
            })
        }
        KeyFamily::Rsa => Err(fail(
            "ring cannot generate RSA keys; run `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem` and use rsa.pem",
        )),
        _ => {
            let der = crypto::generate_pkcs8(alg).map_err(fail)?;
            let key = SigningKey::from_pem_or_der(alg, &der, None)?;
            let public_jwk = key.public_jwk().ok_or_else(|| fail("no public half"))?;
            let kid = public_jwk
                .get("kid")
                .and_then(|k| k.as_str())
                .unwrap_or_default()
                .to_owned();
            Ok(GeneratedKey {
                alg,
                kid,
                private: pem::encode("PRIVATE KEY", &der),
                public_jwk: Some(public_jwk),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_the_secret_out() {
        for alg in [Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA] {
            let g = generate(alg).unwrap();
            let shown = format!("{g:?}");
            assert!(shown.contains(&g.kid), "{shown}");
            // The PEM's body, or the oct JWK's `k`.
            let secret = g.private.lines().nth(1).unwrap_or(&g.private);
            assert!(!shown.contains(secret), "{shown}");
            assert!(
                !shown.contains("PRIVATE") && !shown.contains("\"k\""),
                "{shown}"
            );
        }
    }
}
