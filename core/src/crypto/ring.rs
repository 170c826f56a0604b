//! The `ring` backend: verification keys prepared as far as `ring` allows (an HMAC key expanded
//! once; public-key bytes validated at build time, since `ring` has no parsed-key type and parses
//! them again on every verification), and everything else cryptographic: signing, key
//! generation, SHA-256, HMAC for API keys and webhooks, randomness.

use crate::alg::{Algorithm, KeyFamily};
use ::ring::{agreement, digest, hmac, rand, signature};

/// A verification key, prepared for `ring`.
pub(crate) enum RingKey {
    Hmac(hmac::Key),
    Rsa { n: Box<[u8]>, e: Box<[u8]> },
    Ec(Box<[u8]>),
    Ed25519([u8; 32]),
}

impl core::fmt::Debug for RingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material (HMAC keys are secrets).
        f.write_str(match self {
            RingKey::Hmac(_) => "RingKey::Hmac(..)",
            RingKey::Rsa { .. } => "RingKey::Rsa(..)",
            RingKey::Ec(_) => "RingKey::Ec(..)",
            RingKey::Ed25519(_) => "RingKey::Ed25519(..)",
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

fn verification_algorithm(alg: Algorithm) -> &'static dyn signature::VerificationAlgorithm {
    match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        // HMAC never reaches here; EdDSA is the remaining case.
        _ => &signature::ED25519,
    }
}

impl RingKey {
    /// An HMAC key for `alg` (length policy is the caller's).
    pub(crate) fn hmac(alg: Algorithm, secret: &[u8]) -> Option<RingKey> {
        Some(RingKey::Hmac(hmac::Key::new(hmac_algorithm(alg)?, secret)))
    }

    /// An RSA key from big-endian `n` and `e` without leading zeros (size policy is the caller's).
    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> RingKey {
        RingKey::Rsa {
            n: n.into(),
            e: e.into(),
        }
    }

    /// An EC key from an uncompressed SEC1 point, checked to be on the curve.
    pub(crate) fn ec(family: KeyFamily, point: &[u8]) -> Result<RingKey, &'static str> {
        let agreement_alg = match family {
            KeyFamily::P256 => &agreement::ECDH_P256,
            KeyFamily::P384 => &agreement::ECDH_P384,
            _ => return Err("not an EC curve"),
        };
        // ring has no public "validate this point" call; an ECDH agreement with a throwaway
        // ephemeral key performs exactly the public-key validation (on-curve, not infinity). The
        // shared secret is discarded unread.
        let rng = rand::SystemRandom::new();
        let ephemeral = agreement::EphemeralPrivateKey::generate(agreement_alg, &rng)
            .map_err(|_| "no randomness for point validation")?;
        let peer = agreement::UnparsedPublicKey::new(agreement_alg, point);
        agreement::agree_ephemeral(ephemeral, &peer, |_| ())
            .map_err(|_| "point is not on the curve")?;
        Ok(RingKey::Ec(point.into()))
    }

    /// An Ed25519 public key (32 bytes).
    pub(crate) fn ed25519(key: [u8; 32]) -> RingKey {
        RingKey::Ed25519(key)
    }

    /// Verifies `sig` over `msg`. The caller has already checked that `alg` is the key's algorithm.
    pub(crate) fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), ()> {
        let ok = match self {
            RingKey::Hmac(key) => hmac::verify(key, msg, sig).is_ok(),
            RingKey::Rsa { n, e } => signature::RsaPublicKeyComponents { n, e }
                .verify(rsa_params(alg).ok_or(())?, msg, sig)
                .is_ok(),
            RingKey::Ec(point) => {
                signature::UnparsedPublicKey::new(verification_algorithm(alg), point)
                    .verify(msg, sig)
                    .is_ok()
            }
            RingKey::Ed25519(pk) => signature::UnparsedPublicKey::new(&signature::ED25519, pk)
                .verify(msg, sig)
                .is_ok(),
        };
        if ok {
            Ok(())
        } else {
            Err(())
        }
    }
}

fn rsa_params(alg: Algorithm) -> Option<&'static signature::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

/// Raw primitive verification for the known-answer harnesses.
pub(crate) fn verify_raw(alg: Algorithm, public_key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    match alg.key_family() {
        KeyFamily::Hmac => match hmac_algorithm(alg) {
            Some(a) => hmac::verify(&hmac::Key::new(a, public_key), msg, sig).is_ok(),
            None => false,
        },
        _ => signature::UnparsedPublicKey::new(verification_algorithm(alg), public_key)
            .verify(msg, sig)
            .is_ok(),
    }
}

/// Raw RSA verification from components.
pub(crate) fn verify_rsa_raw(alg: Algorithm, n: &[u8], e: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    match rsa_params(alg) {
        Some(p) => signature::RsaPublicKeyComponents { n, e }
            .verify(p, msg, sig)
            .is_ok(),
        None => false,
    }
}

/// A signing key, parsed once.
pub(crate) enum SigningKey {
    Hmac(hmac::Key),
    Rsa(signature::RsaKeyPair),
    Ecdsa(signature::EcdsaKeyPair),
    Ed25519(signature::Ed25519KeyPair),
}

fn ecdsa_signing(alg: Algorithm) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    match alg {
        Algorithm::ES256 => Some(&signature::ECDSA_P256_SHA256_FIXED_SIGNING),
        Algorithm::ES384 => Some(&signature::ECDSA_P384_SHA384_FIXED_SIGNING),
        _ => None,
    }
}

fn rsa_encoding(alg: Algorithm) -> Option<&'static dyn signature::RsaEncoding> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_SHA512,
        _ => return None,
    })
}

/// RSA private components from a JWK, big-endian.
pub(crate) struct RsaPrivateParts<'a> {
    pub n: &'a [u8],
    pub e: &'a [u8],
    pub d: &'a [u8],
    pub p: &'a [u8],
    pub q: &'a [u8],
    pub dp: &'a [u8],
    pub dq: &'a [u8],
    pub qi: &'a [u8],
}

impl SigningKey {
    pub(crate) fn hmac(alg: Algorithm, secret: &[u8]) -> Result<SigningKey, &'static str> {
        Ok(SigningKey::Hmac(hmac::Key::new(
            hmac_algorithm(alg).ok_or("not an HMAC algorithm")?,
            secret,
        )))
    }

    /// From PKCS#8 DER (any family; `alg` chooses the parser). RSA also accepts PKCS#1 DER.
    pub(crate) fn from_der(alg: Algorithm, der: &[u8]) -> Result<SigningKey, &'static str> {
        match alg.key_family() {
            KeyFamily::Hmac => Err("HMAC keys are secrets, not PKCS#8 documents"),
            KeyFamily::Rsa => signature::RsaKeyPair::from_pkcs8(der)
                .or_else(|_| signature::RsaKeyPair::from_der(der))
                .map(SigningKey::Rsa)
                .map_err(|_| "not an RSA private key (PKCS#8 or PKCS#1 DER), or too small"),
            KeyFamily::P256 | KeyFamily::P384 => {
                let a = ecdsa_signing(alg).ok_or("not an ECDSA algorithm")?;
                signature::EcdsaKeyPair::from_pkcs8(a, der, &rand::SystemRandom::new())
                    .map(SigningKey::Ecdsa)
                    .map_err(|_| "not a PKCS#8 EC private key on the algorithm's curve")
            }
            KeyFamily::Ed25519 => signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(SigningKey::Ed25519)
                .map_err(|_| "not a PKCS#8 Ed25519 private key"),
        }
    }

    pub(crate) fn rsa_from_parts(parts: &RsaPrivateParts<'_>) -> Result<SigningKey, &'static str> {
        signature::RsaKeyPair::from_components(&::ring::rsa::KeyPairComponents {
            public_key: ::ring::rsa::PublicKeyComponents {
                n: parts.n,
                e: parts.e,
            },
            d: parts.d,
            p: parts.p,
            q: parts.q,
            dP: parts.dp,
            dQ: parts.dq,
            qInv: parts.qi,
        })
        .map(SigningKey::Rsa)
        .map_err(|_| "RSA private components are inconsistent or the key is too small")
    }

    pub(crate) fn ec_from_parts(
        alg: Algorithm,
        d: &[u8],
        point: &[u8],
    ) -> Result<SigningKey, &'static str> {
        let a = ecdsa_signing(alg).ok_or("not an ECDSA algorithm")?;
        signature::EcdsaKeyPair::from_private_key_and_public_key(
            a,
            d,
            point,
            &rand::SystemRandom::new(),
        )
        .map(SigningKey::Ecdsa)
        .map_err(|_| "EC private key does not match its public point")
    }

    pub(crate) fn ed25519_from_parts(
        seed: &[u8],
        public: &[u8],
    ) -> Result<SigningKey, &'static str> {
        signature::Ed25519KeyPair::from_seed_and_public_key(seed, public)
            .map(SigningKey::Ed25519)
            .map_err(|_| "Ed25519 private key does not match its public key")
    }

    /// Whether this key can sign with `alg`.
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        matches!(
            (self, alg.key_family()),
            (SigningKey::Hmac(_), KeyFamily::Hmac)
                | (SigningKey::Rsa(_), KeyFamily::Rsa)
                | (SigningKey::Ecdsa(_), KeyFamily::P256 | KeyFamily::P384)
                | (SigningKey::Ed25519(_), KeyFamily::Ed25519)
        )
    }

    pub(crate) fn sign(&self, alg: Algorithm, msg: &[u8]) -> Result<Vec<u8>, &'static str> {
        let rng = rand::SystemRandom::new();
        match self {
            SigningKey::Hmac(key) => Ok(hmac::sign(key, msg).as_ref().to_vec()),
            SigningKey::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(
                    rsa_encoding(alg).ok_or("not an RSA algorithm")?,
                    &rng,
                    msg,
                    &mut sig,
                )
                .map_err(|_| "RSA signing failed")?;
                Ok(sig)
            }
            SigningKey::Ecdsa(pair) => pair
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| "ECDSA signing failed"),
            SigningKey::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
        }
    }

    /// The public half, as the bytes a JWK carries: `(n, e)` for RSA, the SEC1 point for EC, the
    /// 32-byte key for Ed25519; `None` for HMAC.
    pub(crate) fn public_parts(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        use signature::KeyPair as _;
        match self {
            SigningKey::Hmac(_) => None,
            SigningKey::Rsa(pair) => {
                let c: ::ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
                Some((c.n, c.e))
            }
            SigningKey::Ecdsa(pair) => Some((pair.public_key().as_ref().to_vec(), Vec::new())),
            SigningKey::Ed25519(pair) => Some((pair.public_key().as_ref().to_vec(), Vec::new())),
        }
    }
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    sha256_of_parts(&[data])
}

/// SHA-256 of the concatenation of `parts`, without copying them into one buffer.
pub(crate) fn sha256_of_parts(parts: &[&[u8]]) -> [u8; 32] {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// `len` bytes from the operating system's secure random source.
pub(crate) fn random_bytes(len: usize) -> Result<Vec<u8>, &'static str> {
    use rand::SecureRandom as _;
    let mut out = vec![0u8; len];
    rand::SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| "the system random source failed")?;
    Ok(out)
}

/// A fresh PKCS#8 document for `alg`'s key family (EC or Ed25519).
pub(crate) fn generate_pkcs8(alg: Algorithm) -> Result<Vec<u8>, &'static str> {
    let rng = rand::SystemRandom::new();
    match alg.key_family() {
        KeyFamily::P256 | KeyFamily::P384 => {
            let a = ecdsa_signing(alg).ok_or("not an ECDSA algorithm")?;
            signature::EcdsaKeyPair::generate_pkcs8(a, &rng)
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| "EC key generation failed")
        }
        KeyFamily::Ed25519 => signature::Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| "Ed25519 key generation failed"),
        KeyFamily::Rsa => Err("ring cannot generate RSA keys"),
        KeyFamily::Hmac => Err("HMAC keys are random bytes, not PKCS#8"),
    }
}

/// HMAC-SHA256 of `msg` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Whether two byte strings are equal, in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // ring's comparison is constant-time for equal lengths; lengths are not secret here.
    #[allow(deprecated)]
    let equal = ::ring::constant_time::verify_slices_are_equal(a, b).is_ok();
    equal
}

/// Whether `sig` is an Ed25519 signature of `msg` under the 32-byte public key `pk`. A key of
/// small order verifies nothing: anyone could sign for it.
pub(crate) fn ed25519_verify(pk: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    if <&[u8; 32]>::try_from(pk).map_or(true, super::ed25519_has_small_order) {
        return false;
    }
    signature::UnparsedPublicKey::new(&signature::ED25519, pk)
        .verify(msg, sig)
        .is_ok()
}

/// An Ed25519 signature of `msg` with the key whose 32-byte seed is `seed`, and that key's public
/// half.
pub(crate) fn ed25519_sign_with_seed(
    seed: &[u8],
    msg: &[u8],
) -> Result<([u8; 64], [u8; 32]), &'static str> {
    use signature::KeyPair as _;
    let pair = signature::Ed25519KeyPair::from_seed_unchecked(seed)
        .map_err(|_| "Ed25519 seed must be 32 bytes")?;
    let mut sig = [0u8; 64];
    sig.copy_from_slice(pair.sign(msg).as_ref());
    let mut pk = [0u8; 32];
    pk.copy_from_slice(pair.public_key().as_ref());
    Ok((sig, pk))
}
