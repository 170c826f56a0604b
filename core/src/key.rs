//! A verification key bound to exactly one algorithm, with the strength rules every key must pass
//! before it joins a key set.

use crate::alg::{Algorithm, KeyFamily};
use crate::crypto::{Backend, Material, VerifyingKey};
use crate::error::{Error, KeyErrorCode};

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3 requires 2048).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (ring's verifier limit).
pub const MAX_RSA_BITS: usize = 8192;
/// Longest `kid` accepted, in bytes.
pub const MAX_KID_LEN: usize = 256;

/// Refuses a `kid` longer than [`MAX_KID_LEN`]: no key set holds one, so no token could name it.
pub(crate) fn check_kid(kid: Option<&str>, label: &str) -> Result<(), Error> {
    match kid {
        Some(k) if k.len() > MAX_KID_LEN => Err(Error::key(
            KeyErrorCode::InvalidKey,
            label,
            format!("kid is longer than {MAX_KID_LEN} bytes"),
        )),
        _ => Ok(()),
    }
}

/// A key's public material, for a host that verifies signatures with its own crypto (a
/// runtime's WebCrypto; see [`crate::jws::SignatureInput`]). Validated when the key was built:
/// RSA sizes and exponent, EC points on their curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublicKey<'a> {
    /// RSA: big-endian modulus and public exponent, without leading zero bytes.
    Rsa {
        /// The modulus.
        n: &'a [u8],
        /// The public exponent.
        e: &'a [u8],
    },
    /// P-256 or P-384: the uncompressed SEC1 point `04 || x || y`.
    Ec {
        /// The point.
        point: &'a [u8],
    },
    /// Ed25519: the 32-byte public key.
    Ed25519 {
        /// The key.
        key: &'a [u8; 32],
    },
}

/// A public key or shared secret that verifies signatures of exactly one [`Algorithm`].
#[derive(Debug)]
pub struct Key {
    pub(crate) kid: Option<Box<str>>,
    pub(crate) alg: Algorithm,
    pub(crate) inner: VerifyingKey,
    material: Material,
    /// False for a JWK whose `key_ops` leave out `"sign"`: it never signs a re-issued token.
    pub(crate) may_sign: bool,
}

impl Key {
    /// The key's id, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key's public material; `None` for an HMAC secret, which is not public.
    pub fn public_key(&self) -> Option<PublicKey<'_>> {
        match &self.material {
            Material::Hmac(_) => None,
            Material::Rsa { n, e } => Some(PublicKey::Rsa { n, e }),
            Material::Ec(point) => Some(PublicKey::Ec { point }),
            Material::Ed25519(key) => Some(PublicKey::Ed25519 { key }),
        }
    }

    /// The secret re-issuing may sign with: an HMAC key's, unless its JWK's `key_ops` leave out
    /// `"sign"` (`None` for a public key).
    pub(crate) fn signing_secret(&self) -> Option<&[u8]> {
        match &self.material {
            Material::Hmac(secret) if self.may_sign => Some(secret),
            _ => None,
        }
    }

    /// An HMAC secret for `alg`. It must be at least as long as the hash output (RFC 7518 §3.2).
    pub fn hmac(alg: Algorithm, secret: &[u8], kid: Option<&str>) -> Result<Key, Error> {
        let label = label(kid, None);
        if alg.key_family() != KeyFamily::Hmac {
            return Err(Error::key(
                KeyErrorCode::InvalidKey,
                &label,
                format!("a shared secret cannot verify {alg}"),
            ));
        }
        let min = alg.fixed_signature_len().unwrap_or(64);
        if secret.is_empty() {
            return Err(Error::key(
                KeyErrorCode::WeakKey,
                &label,
                "HMAC secret is empty",
            ));
        }
        if secret.len() < min {
            return Err(Error::key(
                KeyErrorCode::WeakKey,
                &label,
                format!(
                    "HMAC secret is {} bytes; {alg} needs at least {min}",
                    secret.len()
                ),
            ));
        }
        Key::new(kid, alg, Material::Hmac(secret.into()), &label)
    }

    /// An RSA public key from big-endian modulus and exponent (leading zero bytes are ignored).
    pub fn rsa(alg: Algorithm, n: &[u8], e: &[u8], kid: Option<&str>) -> Result<Key, Error> {
        let label = label(kid, None);
        if alg.key_family() != KeyFamily::Rsa {
            return Err(Error::key(
                KeyErrorCode::InvalidKey,
                &label,
                format!("an RSA key cannot verify {alg}"),
            ));
        }
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_len(n);
        if bits < MIN_RSA_BITS {
            return Err(Error::key(
                KeyErrorCode::WeakKey,
                &label,
                format!("RSA modulus is {bits} bits; at least {MIN_RSA_BITS} are required"),
            ));
        }
        if bits > MAX_RSA_BITS {
            return Err(Error::key(
                KeyErrorCode::InvalidKey,
                &label,
                format!("RSA modulus is {bits} bits; at most {MAX_RSA_BITS} are supported"),
            ));
        }
        if n.last().is_none_or(|b| b % 2 == 0) {
            return Err(Error::key(
                KeyErrorCode::InvalidKey,
                &label,
                "RSA modulus is even",
            ));
        }
        let e_bits = bit_len(e);
        if e_bits > 33 || e.last().is_none_or(|b| b % 2 == 0) {
            return Err(Error::key(
                KeyErrorCode::InvalidKey,
                &label,
                "RSA public exponent must be odd and at most 33 bits",
            ));
        }
        if e_bits < 2 {
            return Err(Error::key(
                KeyErrorCode::WeakKey,
                &label,
                "RSA public exponent is 1: every signature is the message",
            ));
        }
        if is_roca_modulus(n) {
            return Err(Error::key(
                KeyErrorCode::WeakKey,
                &label,
                "RSA modulus has the ROCA fingerprint (CVE-2017-15361): it can be factored",
            ));
        }
        Key::new(
            kid,
            alg,
            Material::Rsa {
                n: n.into(),
                e: e.into(),
            },
            &label,
        )
    }

    /// An EC public key from its affine coordinates (each exactly the field size) for ES256 or
    /// ES384. The point must be on the curve.
    pub fn ec(alg: Algorithm, x: &[u8], y: &[u8], kid: Option<&str>) -> Result<Key, Error> {
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(4);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        let size = match alg.key_family() {
            KeyFamily::P256 => 32,
            KeyFamily::P384 => 48,
            _ => {
                return Err(Error::key(
                    KeyErrorCode::InvalidKey,
                    &label(kid, None),
                    format!("an EC key cannot verify {alg}"),
                ))
            }
        };
        if x.len() != size || y.len() != size {
            return Err(Error::key(
                KeyErrorCode::InvalidKey,
                &label(kid, None),
                format!("EC coordinates must be {size} bytes each for {alg}"),
            ));
        }
        Key::ec_point(alg, &point, kid)
    }

    /// An EC public key from an uncompressed SEC1 point (`04 || x || y`).
    pub fn ec_point(alg: Algorithm, point: &[u8], kid: Option<&str>) -> Result<Key, Error> {
        let label = label(kid, None);
        let size = match alg.key_family() {
            KeyFamily::P256 => 32,
            KeyFamily::P384 => 48,
            _ => {
                return Err(Error::key(
                    KeyErrorCode::InvalidKey,
                    &label,
                    format!("an EC key cannot verify {alg}"),
                ))
            }
        };
        if point.len() != 1 + 2 * size || point.first() != Some(&4) {
            return Err(Error::key(
                KeyErrorCode::InvalidKey,
                &label,
                format!(
                    "EC point must be uncompressed and {} bytes for {alg}",
                    1 + 2 * size
                ),
            ));
        }
        Key::new(kid, alg, Material::Ec(point.into()), &label)
    }

    /// An Ed25519 public key (32 bytes) for EdDSA.
    pub fn ed25519(public: &[u8], kid: Option<&str>) -> Result<Key, Error> {
        let label = label(kid, None);
        let bytes: [u8; 32] = public.try_into().map_err(|_| {
            Error::key(
                KeyErrorCode::InvalidKey,
                &label,
                "Ed25519 public key must be 32 bytes",
            )
        })?;
        if crate::crypto::ed25519_has_small_order(&bytes) {
            return Err(Error::key(
                KeyErrorCode::WeakKey,
                &label,
                "Ed25519 public key is a point of small order: anyone can sign for it",
            ));
        }
        Key::new(kid, Algorithm::EdDSA, Material::Ed25519(bytes), &label)
    }

    /// Prepares the key for the preferred backend (validating it there).
    fn new(
        kid: Option<&str>,
        alg: Algorithm,
        material: Material,
        label: &str,
    ) -> Result<Key, Error> {
        check_kid(kid, label)?;
        let inner = VerifyingKey::prepare(Backend::preferred(), alg, &material)
            .map_err(|reason| Error::key(KeyErrorCode::InvalidKey, label, reason))?;
        Ok(Key {
            kid: kid.map(Into::into),
            alg,
            inner,
            material,
            may_sign: true,
        })
    }

    /// The backend this key verifies with.
    pub fn backend(&self) -> Backend {
        self.inner.backend()
    }

    /// The same key, prepared for `backend` (an error if this build lacks it).
    pub fn with_backend(self, backend: Backend) -> Result<Key, Error> {
        if self.inner.backend() == backend {
            return Ok(self);
        }
        let inner = VerifyingKey::prepare(backend, self.alg, &self.material).map_err(|reason| {
            Error::key(KeyErrorCode::InvalidKey, &label(self.kid(), None), reason)
        })?;
        Ok(Key { inner, ..self })
    }

    /// Gives the key a (new) id.
    pub fn with_kid(mut self, kid: Option<&str>) -> Result<Key, Error> {
        check_kid(kid, &label(kid, None))?;
        self.kid = kid.map(Into::into);
        Ok(self)
    }
}

/// How errors name a key: `kid "abc"`, or its position in a set.
pub(crate) fn label(kid: Option<&str>, index: Option<usize>) -> String {
    match (kid, index) {
        (Some(k), _) => format!("kid {:?}", crate::error::truncated(k, 64)),
        (None, Some(i)) => format!("keys[{i}]"),
        (None, None) => "(no kid)".to_owned(),
    }
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

fn bit_len(b: &[u8]) -> usize {
    match b.first() {
        None => 0,
        Some(&first) => {
            let lead = usize::try_from(first.leading_zeros()).unwrap_or(8);
            b.len().saturating_mul(8).saturating_sub(lead)
        }
    }
}

/// The ROCA fingerprint (Nemec et al., CCS 2017): moduli from the vulnerable Infineon library are
/// products of primes of the form `k·M + (65537^a mod M)`, so `n mod r` lies in the subgroup that
/// 65537 generates modulo every small prime `r` dividing `M`. A random modulus passes all 38
/// residue tests with negligible probability.
fn is_roca_modulus(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&r| {
        let residue = n
            .iter()
            .fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % r);
        let g = 65537 % r;
        let mut x = 1u32;
        loop {
            if x == residue {
                return true;
            }
            x = x * g % r;
            if x == 1 {
                return false;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn hmac_secrets_must_cover_the_hash_output() {
        assert_eq!(
            Key::hmac(Algorithm::HS256, &[], None).unwrap_err().code(),
            ErrorCode::WeakKey
        );
        assert_eq!(
            Key::hmac(Algorithm::HS256, &[7; 31], None)
                .unwrap_err()
                .code(),
            ErrorCode::WeakKey
        );
        assert!(Key::hmac(Algorithm::HS256, &[7; 32], None).is_ok());
        assert_eq!(
            Key::hmac(Algorithm::HS512, &[7; 63], None)
                .unwrap_err()
                .code(),
            ErrorCode::WeakKey
        );
        assert_eq!(
            Key::hmac(Algorithm::RS256, &[7; 64], None)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidKey
        );
    }

    #[test]
    fn rsa_rules() {
        let mut n = vec![0xc5u8; 256];
        n[255] = 0xc7;
        assert!(Key::rsa(Algorithm::RS256, &n, &[1, 0, 1], Some("a")).is_ok());
        // A leading zero byte does not change the size.
        let mut padded = vec![0u8];
        padded.extend_from_slice(&n);
        assert!(Key::rsa(Algorithm::PS256, &padded, &[1, 0, 1], None).is_ok());
        assert_eq!(
            Key::rsa(Algorithm::RS256, &n[1..], &[1, 0, 1], None)
                .unwrap_err()
                .code(),
            ErrorCode::WeakKey
        );
        assert_eq!(
            Key::rsa(Algorithm::RS256, &n, &[1], None)
                .unwrap_err()
                .code(),
            ErrorCode::WeakKey
        );
        assert_eq!(
            Key::rsa(Algorithm::RS256, &n, &[1, 0, 0], None)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidKey
        );
        let mut even = n.clone();
        even[255] = 0xc6;
        assert_eq!(
            Key::rsa(Algorithm::RS256, &even, &[3], None)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidKey
        );
        assert_eq!(
            Key::rsa(Algorithm::ES256, &n, &[3], None)
                .unwrap_err()
                .code(),
            ErrorCode::InvalidKey
        );
    }

    #[test]
    fn roca_residue_test_matches_hand_computed_cases() {
        // 65537 ≡ 2 (mod 3) generates {1, 2}: every n coprime to 3 passes that prime; the test is
        // the conjunction over all 38 primes, which 1 (= 65537^0) passes and 0 does not.
        assert!(is_roca_modulus(&[1]));
        assert!(!is_roca_modulus(&[0]));
        // 2 is not in <65537 mod 5> = <2> = {1,2,4,3}? It is; but mod 7, 65537 ≡ 5 generates all
        // units, and mod 11, 65537 ≡ 10 generates {1, 10}: 2 fails there.
        assert!(!is_roca_modulus(&[2]));
    }

    #[test]
    fn kid_length_is_capped() {
        let long = "k".repeat(MAX_KID_LEN + 1);
        assert_eq!(
            Key::hmac(Algorithm::HS256, &[1; 32], Some(&long))
                .unwrap_err()
                .code(),
            ErrorCode::InvalidKey
        );
    }
}
