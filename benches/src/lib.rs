//! Shared setup for the criterion benchmarks in `benches/benches/`.
//!
//! The token, keys, Tollgate verifier and the raw `ring` floor come from [`tollgate_callgrind`]
//! (re-exported here), so the criterion tables and the CI instruction counts
//! (`benches/callgrind.sh`) measure the same paths; so do the example deployments the engine
//! benchmarks load. This crate adds the peer libraries (feature `peers`) and the aws-lc floor
//! (feature `aws-lc`).

pub use tollgate_callgrind::*;

#[cfg(feature = "aws-lc")]
mod aws_lc_floor;
#[cfg(feature = "aws-lc")]
pub use aws_lc_floor::{aws_lc_floor, AwsLcFloorKey};

use std::time::{SystemTime, UNIX_EPOCH};

/// The wall-clock time in Unix seconds. The peers read the clock themselves, so the tokens of the
/// `verify` benchmark are issued at the real "now".
pub fn wall_clock_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Peer libraries, each used the way its documentation shows, with validation equivalent to
/// Tollgate's: signature, issuer, audience, `exp` required, `nbf` and `iat` checked, 60 s of
/// leeway. Keys are built once, outside the timed loop (which favours the peers: Tollgate also
/// looks the key up by `kid` on every call).
#[cfg(feature = "peers")]
pub mod peers {
    use super::{Fixture, AUDIENCE, ISSUER, LEEWAY};
    use jwt_simple::claims::JWTClaims;
    use serde::Deserialize;
    use tollgate::Algorithm;

    /// The claims a service reads from an access token, as the peers deserialize them (both
    /// need an owned, `DeserializeOwned` type).
    #[derive(Debug, Deserialize)]
    pub struct AccessClaims {
        /// Subject.
        pub sub: String,
        /// Issuer.
        pub iss: String,
        /// Expiry.
        pub exp: u64,
        /// Issued at.
        pub iat: u64,
        /// OAuth scopes.
        pub scope: String,
        /// Authorized party.
        pub azp: String,
    }

    /// jwt-simple's standard claims (`sub`, `iss`, `aud`, `exp`, `iat`, `nbf`, `jti`) are built
    /// in; these are the rest.
    #[derive(Debug, Deserialize, serde::Serialize)]
    pub struct CustomClaims {
        /// OAuth scopes.
        pub scope: String,
        /// Authorized party.
        pub azp: String,
    }

    fn jwk_member(fx: &Fixture, name: &str) -> String {
        fx.public_jwk.as_ref().expect("public JWK")[name]
            .as_str()
            .expect("JWK member")
            .to_owned()
    }

    macro_rules! jsonwebtoken_peer {
        ($krate:ident, $name:ident, $doc:literal) => {
            #[doc = $doc]
            pub struct $name {
                key: $krate::DecodingKey,
                validation: $krate::Validation,
            }

            impl $name {
                /// Builds the key and validation for `fx`.
                pub fn new(fx: &Fixture) -> $name {
                    use $krate::{Algorithm as A, DecodingKey};
                    let alg = match fx.alg {
                        Algorithm::HS256 => A::HS256,
                        Algorithm::RS256 => A::RS256,
                        Algorithm::PS256 => A::PS256,
                        Algorithm::ES256 => A::ES256,
                        Algorithm::ES384 => A::ES384,
                        Algorithm::EdDSA => A::EdDSA,
                        other => panic!("no peer setup for {other}"),
                    };
                    let key = match &fx.public_jwk {
                        None => DecodingKey::from_secret(fx.secret.as_deref().expect("secret")),
                        Some(jwk) => {
                            let jwk: $krate::jwk::Jwk =
                                serde_json::from_value(jwk.clone()).expect("jsonwebtoken JWK");
                            DecodingKey::from_jwk(&jwk).expect("jsonwebtoken key")
                        }
                    };
                    let mut validation = $krate::Validation::new(alg);
                    validation.set_issuer(&[ISSUER]);
                    validation.set_audience(&[AUDIENCE]);
                    validation.validate_nbf = true;
                    validation.leeway = LEEWAY;
                    $name { key, validation }
                }

                /// Verifies and decodes `token`.
                pub fn verify(&self, token: &str) -> Result<AccessClaims, String> {
                    $krate::decode::<AccessClaims>(token, &self.key, &self.validation)
                        .map(|t| t.claims)
                        .map_err(|e| e.to_string())
                }
            }
        };
    }

    jsonwebtoken_peer!(
        jsonwebtoken,
        JsonwebtokenAwsLc,
        "jsonwebtoken 11 on its aws-lc-rs backend."
    );
    jsonwebtoken_peer!(
        jsonwebtoken_10,
        JsonwebtokenRustCrypto,
        "jsonwebtoken 10 on its RustCrypto backend (a second major version, because one copy of \
         the crate holds one process-wide backend)."
    );

    /// jwt-simple's key for one algorithm.
    enum JwtSimpleKey {
        Hs256(jwt_simple::prelude::HS256Key),
        Rs256(jwt_simple::prelude::RS256PublicKey),
        Ps256(jwt_simple::prelude::PS256PublicKey),
        Es256(jwt_simple::prelude::ES256PublicKey),
        Es384(jwt_simple::prelude::ES384PublicKey),
        Ed25519(jwt_simple::prelude::Ed25519PublicKey),
    }

    /// jwt-simple (default features: BoringSSL for RSA).
    pub struct JwtSimple {
        key: JwtSimpleKey,
        options: jwt_simple::prelude::VerificationOptions,
    }

    impl JwtSimple {
        /// Builds the key and options for `fx`.
        pub fn new(fx: &Fixture) -> JwtSimple {
            use jwt_simple::prelude::*;
            let m = |name: &str| {
                use base64::Engine as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(jwk_member(fx, name))
                    .expect("base64url")
            };
            let ec_point = || [vec![4u8], m("x"), m("y")].concat();
            let key = match fx.alg {
                Algorithm::HS256 => {
                    JwtSimpleKey::Hs256(HS256Key::from_bytes(fx.secret.as_deref().expect("secret")))
                }
                Algorithm::RS256 => JwtSimpleKey::Rs256(
                    RS256PublicKey::from_components(&m("n"), &m("e")).expect("RS256 key"),
                ),
                Algorithm::PS256 => JwtSimpleKey::Ps256(
                    PS256PublicKey::from_components(&m("n"), &m("e")).expect("PS256 key"),
                ),
                Algorithm::ES256 => {
                    JwtSimpleKey::Es256(ES256PublicKey::from_bytes(&ec_point()).expect("ES256 key"))
                }
                Algorithm::ES384 => {
                    JwtSimpleKey::Es384(ES384PublicKey::from_bytes(&ec_point()).expect("ES384 key"))
                }
                Algorithm::EdDSA => JwtSimpleKey::Ed25519(
                    Ed25519PublicKey::from_bytes(&m("x")).expect("Ed25519 key"),
                ),
                other => panic!("no jwt-simple setup for {other}"),
            };
            let options = VerificationOptions {
                allowed_issuers: Some(HashSet::from([ISSUER.to_owned()])),
                allowed_audiences: Some(HashSet::from([AUDIENCE.to_owned()])),
                time_tolerance: Some(Duration::from_secs(LEEWAY)),
                ..Default::default()
            };
            JwtSimple { key, options }
        }

        /// Verifies `token`. jwt-simple takes its options by value, so each call clones them.
        pub fn verify(&self, token: &str) -> Result<JWTClaims<CustomClaims>, String> {
            use jwt_simple::prelude::*;
            let o = Some(self.options.clone());
            match &self.key {
                JwtSimpleKey::Hs256(k) => k.verify_token::<CustomClaims>(token, o),
                JwtSimpleKey::Rs256(k) => k.verify_token::<CustomClaims>(token, o),
                JwtSimpleKey::Ps256(k) => k.verify_token::<CustomClaims>(token, o),
                JwtSimpleKey::Es256(k) => k.verify_token::<CustomClaims>(token, o),
                JwtSimpleKey::Es384(k) => k.verify_token::<CustomClaims>(token, o),
                JwtSimpleKey::Ed25519(k) => k.verify_token::<CustomClaims>(token, o),
            }
            .map_err(|e| e.to_string())
        }
    }
}
