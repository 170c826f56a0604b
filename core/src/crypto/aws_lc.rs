//! The `aws-lc-rs` backend: verification with keys parsed once (`ParsedPublicKey`) and HMAC keys
//! expanded once. Only verification lives here; the rest of the crypto stays on `ring`.

use super::Material;
use crate::alg::{Algorithm, KeyFamily};
use aws_lc_rs::{hmac, signature};

/// A verification key prepared for aws-lc.
pub(crate) enum AwsLcKey {
    /// Boxed: aws-lc's HMAC context is over a kilobyte.
    Hmac(Box<hmac::Key>),
    Parsed(signature::ParsedPublicKey),
}

impl core::fmt::Debug for AwsLcKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AwsLcKey::Hmac(_) => "AwsLcKey::Hmac(..)",
            AwsLcKey::Parsed(_) => "AwsLcKey::Parsed(..)",
        })
    }
}

fn hmac_algorithm(alg: Algorithm) -> Option<hmac::Algorithm> {
    match alg {
        Algorithm::HS256 => Some(hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}

fn verification_algorithm(alg: Algorithm) -> Option<&'static dyn signature::VerificationAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
        _ => return None,
    })
}

impl AwsLcKey {
    pub(crate) fn prepare(alg: Algorithm, material: &Material) -> Result<AwsLcKey, &'static str> {
        if let Material::Hmac(secret) = material {
            return Ok(AwsLcKey::Hmac(Box::new(hmac::Key::new(
                hmac_algorithm(alg).ok_or("not an HMAC algorithm")?,
                secret,
            ))));
        }
        let verifier = verification_algorithm(alg).ok_or("not a public-key algorithm")?;
        let bytes = match (material, alg.key_family()) {
            (Material::Rsa { n, e }, KeyFamily::Rsa) => super::rsa_public_key_der(n, e),
            (Material::Ec(point), KeyFamily::P256 | KeyFamily::P384) => point.to_vec(),
            (Material::Ed25519(pk), KeyFamily::Ed25519) => pk.to_vec(),
            _ => return Err("key material does not fit the algorithm"),
        };
        let parsed = signature::ParsedPublicKey::new(verifier, bytes).map_err(|_| {
            match alg.key_family() {
                KeyFamily::P256 | KeyFamily::P384 => "point is not on the curve",
                _ => "public key is invalid",
            }
        })?;
        Ok(AwsLcKey::Parsed(parsed))
    }

    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), ()> {
        let ok = match self {
            AwsLcKey::Hmac(key) => hmac::verify(key, msg, sig).is_ok(),
            AwsLcKey::Parsed(key) => key.verify_sig(msg, sig).is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(())
        }
    }
}

/// Raw verification for the known-answer harnesses (public key as for `ring`'s raw path).
pub(crate) fn verify_raw(alg: Algorithm, public_key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    match hmac_algorithm(alg) {
        Some(a) => hmac::verify(&hmac::Key::new(a, public_key), msg, sig).is_ok(),
        None => match verification_algorithm(alg) {
            Some(v) => signature::UnparsedPublicKey::new(v, public_key)
                .verify(msg, sig)
                .is_ok(),
            None => false,
        },
    }
}
