//! The JWS algorithms Tollgate verifies and signs (RFC 7518 §3, RFC 8037).

use crate::error::{truncated, Error};
use core::fmt;

/// A JWS signature algorithm. A key is bound to exactly one of these.
///
/// ES512 (P-521) is not here: `ring` has no P-521, so such tokens fail with `unsupported_algorithm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32.
    PS256,
    /// RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48.
    PS384,
    /// RSASSA-PSS with SHA-512, MGF1-SHA-512, salt 64.
    PS512,
    /// ECDSA on P-256 with SHA-256, signature `r || s` (64 bytes).
    ES256,
    /// ECDSA on P-384 with SHA-384, signature `r || s` (96 bytes).
    ES384,
    /// EdDSA with Ed25519.
    EdDSA,
}

/// The family of a key: which JWK `kty` (and curve) an algorithm needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFamily {
    /// A shared secret (`kty: oct`).
    Hmac,
    /// An RSA public key.
    Rsa,
    /// A P-256 point.
    P256,
    /// A P-384 point.
    P384,
    /// An Ed25519 public key.
    Ed25519,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The registered name, as in a JOSE header.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses a header `alg` exactly (names are case-sensitive, RFC 7515 §4.1.1).
    ///
    /// `none` in any letter case gives [`Error::AlgNone`]; anything else unknown gives
    /// [`Error::UnsupportedAlgorithm`].
    pub fn from_name(name: &str) -> Result<Algorithm, Error> {
        if let Some(alg) = Algorithm::ALL.iter().find(|a| a.name() == name) {
            return Ok(*alg);
        }
        if name.eq_ignore_ascii_case("none") {
            return Err(Error::AlgNone);
        }
        Err(Error::UnsupportedAlgorithm {
            alg: truncated(name, 32),
        })
    }

    /// Which kind of key this algorithm needs.
    pub const fn key_family(self) -> KeyFamily {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => KeyFamily::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyFamily::Rsa,
            Algorithm::ES256 => KeyFamily::P256,
            Algorithm::ES384 => KeyFamily::P384,
            Algorithm::EdDSA => KeyFamily::Ed25519,
        }
    }

    /// The exact signature length for algorithms where it is fixed (all but RSA, where it is the
    /// modulus length).
    pub const fn fixed_signature_len(self) -> Option<usize> {
        match self {
            Algorithm::HS256 => Some(32),
            Algorithm::HS384 => Some(48),
            Algorithm::HS512 => Some(64),
            Algorithm::ES256 => Some(64),
            Algorithm::ES384 => Some(96),
            Algorithm::EdDSA => Some(64),
            _ => None,
        }
    }

    /// Whether this is an HMAC algorithm.
    pub const fn is_symmetric(self) -> bool {
        matches!(self.key_family(), KeyFamily::Hmac)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Algorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Ok(alg));
            let lower = alg.name().to_ascii_lowercase();
            assert_eq!(
                Algorithm::from_name(&lower).map_err(|e| e.code()),
                Err(ErrorCode::UnsupportedAlgorithm)
            );
        }
    }

    #[test]
    fn none_in_any_case_and_es512_are_rejected_distinctly() {
        for n in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(Algorithm::from_name(n), Err(Error::AlgNone));
        }
        assert_eq!(
            Algorithm::from_name("ES512").map_err(|e| e.code()),
            Err(ErrorCode::UnsupportedAlgorithm)
        );
    }
}
