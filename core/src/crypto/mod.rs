//! The only code that names a crypto library. Everything cryptographic goes through here: HMAC,
//! SHA-256, signature verification, signing, key generation and randomness.
//!
//! Two backends verify signatures: [`Backend::Ring`] (always compiled in; the only one on
//! `wasm32`) and [`Backend::AwsLc`] (cargo feature `aws-lc`, native targets), which parses a
//! public key once into a `ParsedPublicKey` where `ring` parses it again on every verification.
//! A key set is prepared for one backend when it is built ([`crate::KeySet::with_backend`]);
//! without a choice, the preferred backend is used: aws-lc when compiled in, else ring. Key-set
//! build errors are the same on both. Signing, key generation, hashing and randomness use `ring`.
//!
//! Keys are prepared when a key set is built and never per token: HMAC keys expanded once,
//! public keys validated (an EC point must be on its curve) and, on aws-lc, parsed. Failures say
//! only "invalid": the caller maps that to `invalid_signature` without detail.

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod ring;

use crate::alg::{Algorithm, KeyFamily};

pub(crate) use self::ring::{
    constant_time_eq, ed25519_sign_with_seed, ed25519_verify, generate_pkcs8, hmac_sha256,
    random_bytes, sha256, sha256_of_parts, RsaPrivateParts, SigningKey,
};

/// A signature-verification backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `ring`: always available.
    Ring,
    /// `aws-lc-rs` with keys parsed once (feature `aws-lc`).
    AwsLc,
}

impl Backend {
    /// The backend key sets use unless told otherwise: aws-lc when compiled in, else ring.
    pub const fn preferred() -> Backend {
        if cfg!(feature = "aws-lc") {
            Backend::AwsLc
        } else {
            Backend::Ring
        }
    }

    /// Every backend compiled into this build.
    pub const fn available() -> &'static [Backend] {
        if cfg!(feature = "aws-lc") {
            &[Backend::Ring, Backend::AwsLc]
        } else {
            &[Backend::Ring]
        }
    }

    /// Whether this build has the backend.
    pub fn is_available(self) -> bool {
        Backend::available().contains(&self)
    }

    /// Its name: `ring` or `aws-lc`.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Ring => "ring",
            Backend::AwsLc => "aws-lc",
        }
    }

    /// The backend with this name.
    pub fn from_name(name: &str) -> Option<Backend> {
        [Backend::Ring, Backend::AwsLc]
            .into_iter()
            .find(|b| b.name() == name)
    }

    /// The backend named `name`, if this build has it; else why not (for an options error or a
    /// command line's usage error).
    pub fn available_named(name: &str) -> Result<Backend, String> {
        match Backend::from_name(name) {
            Some(b) if b.is_available() => Ok(b),
            Some(b) => Err(format!(
                "this build has no {b} backend (build with the cargo feature aws-lc)"
            )),
            None => Err(format!(
                "unknown backend {:?} (ring, aws-lc)",
                crate::error::truncated(name, 32)
            )),
        }
    }
}

impl core::fmt::Display for Backend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A key's public material (or HMAC secret), kept so the key can be prepared for any backend.
#[derive(Clone)]
pub(crate) enum Material {
    Hmac(Box<[u8]>),
    Rsa {
        n: Box<[u8]>,
        e: Box<[u8]>,
    },
    /// Uncompressed SEC1 point.
    Ec(Box<[u8]>),
    Ed25519([u8; 32]),
}

impl core::fmt::Debug for Material {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material (HMAC keys are secrets).
        f.write_str(match self {
            Material::Hmac(_) => "Material::Hmac(..)",
            Material::Rsa { .. } => "Material::Rsa(..)",
            Material::Ec(_) => "Material::Ec(..)",
            Material::Ed25519(_) => "Material::Ed25519(..)",
        })
    }
}

/// A verification key, prepared once for one backend.
#[derive(Debug)]
pub(crate) enum VerifyingKey {
    Ring(self::ring::RingKey),
    #[cfg(feature = "aws-lc")]
    AwsLc(self::aws_lc::AwsLcKey),
}

impl VerifyingKey {
    /// Prepares `material` for `alg` on `backend`, validating it (an EC point must be on its curve).
    pub(crate) fn prepare(
        backend: Backend,
        alg: Algorithm,
        material: &Material,
    ) -> Result<VerifyingKey, &'static str> {
        match backend {
            Backend::Ring => Ok(VerifyingKey::Ring(match material {
                Material::Hmac(secret) => {
                    self::ring::RingKey::hmac(alg, secret).ok_or("not an HMAC algorithm")?
                }
                Material::Rsa { n, e } => self::ring::RingKey::rsa(n, e),
                Material::Ec(point) => self::ring::RingKey::ec(alg.key_family(), point)?,
                Material::Ed25519(pk) => self::ring::RingKey::ed25519(*pk),
            })),
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => Ok(VerifyingKey::AwsLc(self::aws_lc::AwsLcKey::prepare(
                alg, material,
            )?)),
            #[cfg(not(feature = "aws-lc"))]
            Backend::AwsLc => Err("this build has no aws-lc backend (cargo feature \"aws-lc\")"),
        }
    }

    /// Verifies `sig` over `msg`; the caller has checked that `alg` is the key's algorithm.
    pub(crate) fn verify(&self, alg: Algorithm, msg: &[u8], sig: &[u8]) -> Result<(), ()> {
        match self {
            VerifyingKey::Ring(k) => k.verify(alg, msg, sig),
            #[cfg(feature = "aws-lc")]
            VerifyingKey::AwsLc(k) => k.verify(msg, sig),
        }
    }

    /// The backend it was prepared for.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            VerifyingKey::Ring(_) => Backend::Ring,
            #[cfg(feature = "aws-lc")]
            VerifyingKey::AwsLc(_) => Backend::AwsLc,
        }
    }
}

/// Raw primitive verification for the known-answer harnesses (Wycheproof): the same library calls
/// the token path makes on `backend`, without the JWS layer. `public_key` is the HMAC key, the
/// uncompressed EC point, the Ed25519 key, or a DER `RSAPublicKey`.
#[doc(hidden)]
pub fn verify_raw(
    backend: Backend,
    alg: Algorithm,
    public_key: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> bool {
    match backend {
        Backend::Ring => self::ring::verify_raw(alg, public_key, msg, sig),
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc => self::aws_lc::verify_raw(alg, public_key, msg, sig),
        #[cfg(not(feature = "aws-lc"))]
        Backend::AwsLc => false,
    }
}

/// Raw RSA verification from big-endian components (Wycheproof RSA files give `n` and `e`).
#[doc(hidden)]
pub fn verify_rsa_raw(
    backend: Backend,
    alg: Algorithm,
    n: &[u8],
    e: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> bool {
    if alg.key_family() != KeyFamily::Rsa {
        return false;
    }
    match backend {
        Backend::Ring => self::ring::verify_rsa_raw(alg, n, e, msg, sig),
        #[cfg(feature = "aws-lc")]
        Backend::AwsLc => self::aws_lc::verify_raw(alg, &rsa_public_key_der(n, e), msg, sig),
        #[cfg(not(feature = "aws-lc"))]
        Backend::AwsLc => false,
    }
}

/// DER `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` from big-endian
/// unsigned components.
#[cfg_attr(not(feature = "aws-lc"), allow(dead_code))]
pub(crate) fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn push_len(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(u8::try_from(len).unwrap_or(0));
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            let significant = bytes.get(skip..).unwrap_or_default();
            out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
            out.extend_from_slice(significant);
        }
    }
    fn integer(out: &mut Vec<u8>, v: &[u8]) {
        let start = v
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(v.len().saturating_sub(1));
        let v = v.get(start..).unwrap_or_default();
        let pad = v.first().is_none_or(|b| b & 0x80 != 0);
        out.push(0x02);
        push_len(out, v.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
    }
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    integer(&mut body, n);
    integer(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    push_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// The encodings of Ed25519's points of small order (1, 2, 4 or 8), their sign bit cleared: the
/// neutral point, (0, -1), the two points with y = 0, and the four of order 8 (whose y are the
/// two below and `p -` them), with the non-canonical y = p and y = p + 1 of 0 and 1 (libsodium's
/// list). Under such a public key `[S]B - [h]A` no longer depends on the message for most `h`,
/// so a signature can be forged without the private key. Their own y decides; the sign of x
/// (the top bit) does not.
const ED25519_SMALL_ORDER: [[u8; 32]; 7] = {
    let mut p_minus_1 = [0xff; 32];
    p_minus_1[0] = 0xec;
    p_minus_1[31] = 0x7f;
    let mut p = p_minus_1;
    p[0] = 0xed;
    let mut p_plus_1 = p_minus_1;
    p_plus_1[0] = 0xee;
    let mut one = [0; 32];
    one[0] = 1;
    [
        [0; 32],
        one,
        [
            0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef,
            0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88,
            0x6d, 0x53, 0xfc, 0x05,
        ],
        [
            0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10,
            0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77,
            0x92, 0xac, 0x03, 0x7a,
        ],
        p_minus_1,
        p,
        p_plus_1,
    ]
};

/// Whether the 32-byte Ed25519 public key `pk` is a point of small order (see
/// [`ED25519_SMALL_ORDER`]). Not secret: a public key.
pub(crate) fn ed25519_has_small_order(pk: &[u8; 32]) -> bool {
    let mut y = *pk;
    y[31] &= 0x7f;
    ED25519_SMALL_ORDER.contains(&y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_order_ed25519_keys_are_known_whatever_the_sign_bit() {
        for k in ED25519_SMALL_ORDER {
            assert!(ed25519_has_small_order(&k));
            let mut signed = k;
            signed[31] |= 0x80;
            assert!(ed25519_has_small_order(&signed));
        }
        // RFC 8032 section 7.1, test 1's public key.
        let rfc = [
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
            0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
            0xf7, 0x07, 0x51, 0x1a,
        ];
        assert!(!ed25519_has_small_order(&rfc));
    }

    #[test]
    fn rsa_der_encoding_known_answer() {
        // n = 0x80 0x01 needs a sign byte; e = 65537.
        assert_eq!(
            rsa_public_key_der(&[0x80, 0x01], &[1, 0, 1]),
            [0x30, 0x0a, 0x02, 0x03, 0x00, 0x80, 0x01, 0x02, 0x03, 0x01, 0x00, 0x01]
        );
        let big = vec![0x7f; 256];
        let der = rsa_public_key_der(&big, &[3]);
        assert_eq!(&der[..4], &[0x30, 0x82, 0x01, 0x07]);
        assert_eq!(&der[4..8], &[0x02, 0x82, 0x01, 0x00]);
    }

    #[test]
    fn backend_names() {
        for b in [Backend::Ring, Backend::AwsLc] {
            assert_eq!(Backend::from_name(b.name()), Some(b));
        }
        assert!(Backend::Ring.is_available());
        assert!(Backend::available().contains(&Backend::preferred()));
    }
}
