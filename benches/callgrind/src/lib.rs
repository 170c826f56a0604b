//! Benchmark fixtures that need nothing but Tollgate and `ring`: the realistic token every
//! benchmark times, its keys (fixed, test-only), a [`Verifier`] for it, and the raw `ring` floor
//! (base64url-decode the three segments, then ring's HMAC or signature check of the signing
//! input), which never goes through Tollgate.
//!
//! The criterion benches (`tollgate-benches`) and the CI instruction-count check
//! (`benches/callgrind.sh`, through the `callgrind_paths` binary) both use this crate, so the CI
//! figure measures exactly the paths the criterion tables report. It is kept free of the peer
//! libraries (jsonwebtoken, jwt-simple) so that building it never compiles aws-lc or BoringSSL.

pub mod deployments;

pub use deployments::{deployments, Deployment, OwnedRequest};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::{hmac, signature};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::sync::Arc;
use tollgate::crypto::Backend;
use tollgate::{Algorithm, KeySet, SigningKey, Validation, Verifier};

/// The issuer every benchmark token carries and every verifier requires.
pub const ISSUER: &str = "https://auth.example.com/realms/acme";
/// The audience every verifier requires (the token lists it among two).
pub const AUDIENCE: &str = "orders-api";
/// The `kid` of every benchmark key.
pub const KID: &str = "bench-2026-01";
/// The HS256 secret (32 bytes, test-only).
pub const HS256_SECRET: &[u8; 32] = b"tollgate-bench-hs256-secret-0001";
/// A fixed "now" for runs that must be reproducible (2026-01-01T00:00:00Z).
pub const FIXED_NOW: u64 = 1_767_225_600;
/// Lifetime of the benchmark tokens (`exp - iat`), in seconds.
pub const LIFETIME: u64 = 3600;
/// The clock leeway both Tollgate and the floor's checks allow, in seconds.
pub const LEEWAY: u64 = 60;

/// The algorithms the `verify` benchmark covers, in table order.
pub const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::HS256,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

// Test-only keys. RSA is the project-oidc example's key (ring cannot generate RSA keys); the
// others were made once with `tollgate keygen` and are fixed so runs are reproducible.
const RSA_PEM: &[u8] = include_bytes!("../../../examples/project-oidc/idp-rs256.key");
const ES256_PEM: &[u8] = include_bytes!("keys/es256.key");
const ES384_PEM: &[u8] = include_bytes!("keys/es384.key");
const EDDSA_PEM: &[u8] = include_bytes!("keys/eddsa.key");

/// The claims of a typical OIDC access token (Keycloak-style), issued at `now` for
/// [`LIFETIME`] seconds, plus `extra` synthetic string claims (`"x_001":"value-001-abcdefgh"`,
/// 29 bytes each) for the scaling benchmark.
pub fn realistic_claims(now: u64, extra: usize) -> String {
    let exp = now + LIFETIME;
    let mut s = format!(
        concat!(
            r#"{{"iss":"{iss}","sub":"f3c1a2b4-5d6e-4f70-8a9b-0c1d2e3f4a5b","#,
            r#""aud":["{aud}","account"],"exp":{exp},"iat":{now},"nbf":{now},"#,
            r#""jti":"0d9e8f7a-6b5c-4d3e-9f1a-2b3c4d5e6f70","azp":"web-frontend","#,
            r#""sid":"7c6b5a49-3827-4165-9a8b-7c6d5e4f3a2b","#,
            r#""scope":"openid profile email orders:read orders:write","#,
            r#""email":"alice.smith@example.com","email_verified":true,"#,
            r#""preferred_username":"alice","#,
            r#""realm_access":{{"roles":["offline_access","orders-viewer","orders-editor"]}}"#,
        ),
        iss = ISSUER,
        aud = AUDIENCE,
        exp = exp,
        now = now,
    );
    for i in 0..extra {
        s.push_str(&format!(r#","x_{i:03}":"value-{i:03}-abcdefgh""#));
    }
    s.push('}');
    s
}

/// The signing key for `alg` (one of [`ALGORITHMS`]), with `kid` [`KID`].
pub fn signing_key(alg: Algorithm) -> SigningKey {
    let key = match alg {
        Algorithm::HS256 => SigningKey::hmac(alg, HS256_SECRET, Some(KID)),
        Algorithm::RS256 | Algorithm::PS256 => SigningKey::from_pem_or_der(alg, RSA_PEM, Some(KID)),
        Algorithm::ES256 => SigningKey::from_pem_or_der(alg, ES256_PEM, Some(KID)),
        Algorithm::ES384 => SigningKey::from_pem_or_der(alg, ES384_PEM, Some(KID)),
        Algorithm::EdDSA => SigningKey::from_pem_or_der(alg, EDDSA_PEM, Some(KID)),
        other => panic!("no benchmark key for {other}"),
    };
    key.unwrap_or_else(|e| panic!("benchmark key for {alg}: {e}"))
}

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("JWK member is not base64url: {e}"))
}

/// Minimal DER for a PKCS#1 `RSAPublicKey` (`SEQUENCE { INTEGER n, INTEGER e }`), the form ring's
/// `UnparsedPublicKey` takes for RSA.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn push_len(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
    }
    fn integer(v: &[u8]) -> Vec<u8> {
        let v = &v[v.iter().take_while(|&&b| b == 0).count()..];
        let pad = v.first().is_some_and(|&b| b & 0x80 != 0);
        let mut out = vec![0x02];
        push_len(&mut out, v.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
        out
    }
    let body = [integer(n), integer(e)].concat();
    let mut out = vec![0x30];
    push_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// A verification key for the floor, prepared once, as a careful direct user of ring would.
pub enum FloorKey {
    /// An HMAC key (expanded once).
    Hmac(hmac::Key),
    /// A public key and its ring algorithm (RSA: PKCS#1 DER; EC: SEC1 point; Ed25519: 32 bytes).
    Public {
        /// The ring verification algorithm.
        alg: &'static dyn signature::VerificationAlgorithm,
        /// The public key bytes.
        key: Vec<u8>,
    },
}

impl core::fmt::Debug for FloorKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FloorKey::Hmac(_) => "FloorKey::Hmac(..)",
            FloorKey::Public { .. } => "FloorKey::Public(..)",
        })
    }
}

impl FloorKey {
    /// The floor key for `alg`, from the HMAC secret or the public JWK.
    pub fn new(alg: Algorithm, secret: Option<&[u8]>, jwk: Option<&serde_json::Value>) -> FloorKey {
        let member = |name: &str| -> Vec<u8> {
            let jwk = jwk.expect("a public JWK");
            b64(jwk[name].as_str().expect("JWK member"))
        };
        let public = |alg: &'static dyn signature::VerificationAlgorithm, key: Vec<u8>| {
            FloorKey::Public { alg, key }
        };
        match alg {
            Algorithm::HS256 => FloorKey::Hmac(hmac::Key::new(
                hmac::HMAC_SHA256,
                secret.expect("an HMAC secret"),
            )),
            Algorithm::RS256 => public(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                rsa_public_key_der(&member("n"), &member("e")),
            ),
            Algorithm::PS256 => public(
                &signature::RSA_PSS_2048_8192_SHA256,
                rsa_public_key_der(&member("n"), &member("e")),
            ),
            Algorithm::ES256 | Algorithm::ES384 => {
                let ring_alg: &'static dyn signature::VerificationAlgorithm =
                    if alg == Algorithm::ES256 {
                        &signature::ECDSA_P256_SHA256_FIXED
                    } else {
                        &signature::ECDSA_P384_SHA384_FIXED
                    };
                public(ring_alg, [vec![4], member("x"), member("y")].concat())
            }
            Algorithm::EdDSA => public(&signature::ED25519, member("x")),
            other => panic!("no floor for {other}"),
        }
    }
}

/// Everything one algorithm's benchmark needs: the token, the key set Tollgate verifies it with,
/// the public JWK or secret the peers build their keys from, and the floor's key.
#[derive(Debug)]
pub struct Fixture {
    /// The algorithm.
    pub alg: Algorithm,
    /// The compact token.
    pub token: String,
    /// The key set document (a JWKS with the one key).
    pub jwks: String,
    /// The public JWK (`None` for HMAC).
    pub public_jwk: Option<serde_json::Value>,
    /// The HMAC secret (`None` for public-key algorithms).
    pub secret: Option<Vec<u8>>,
    /// The floor's key.
    pub floor_key: FloorKey,
    /// The time the token was issued at; verify at this time.
    pub now: u64,
}

impl Fixture {
    /// The realistic token for `alg`, issued at `now`.
    pub fn new(alg: Algorithm, now: u64) -> Fixture {
        Fixture::with_claims(alg, now, &realistic_claims(now, 0))
    }

    /// A token for `alg` over `claims` (a JSON object valid at `now`).
    pub fn with_claims(alg: Algorithm, now: u64, claims: &str) -> Fixture {
        let key = signing_key(alg);
        let token = tollgate::mint(&key, claims.as_bytes(), None)
            .unwrap_or_else(|e| panic!("minting the {alg} benchmark token: {e}"));
        let (jwk, secret) = match key.public_jwk() {
            Some(jwk) => (jwk, None),
            None => (
                serde_json::json!({
                    "kty": "oct", "alg": alg.name(), "use": "sig", "kid": KID,
                    "k": URL_SAFE_NO_PAD.encode(HS256_SECRET),
                }),
                Some(HS256_SECRET.to_vec()),
            ),
        };
        let jwks = serde_json::json!({ "keys": [jwk] }).to_string();
        let floor_key = FloorKey::new(alg, secret.as_deref(), Some(&jwk));
        Fixture {
            alg,
            token,
            jwks,
            public_jwk: secret.is_none().then_some(jwk),
            secret,
            floor_key,
            now,
        }
    }

    /// The validation every Tollgate verifier in the benchmarks uses: issuer and audience
    /// required, `exp` required, default leeway (60 s), `iat` not in the future.
    pub fn validation() -> Validation {
        Validation::default()
            .with_issuer(ISSUER)
            .with_audience(AUDIENCE)
    }

    /// A Tollgate verifier for this fixture's key set, on the `ring` backend (the floor's
    /// library), whatever backends this build has.
    pub fn verifier(&self) -> Verifier {
        self.verifier_on(Backend::Ring)
    }

    /// A Tollgate verifier for this fixture's key set on `backend`.
    pub fn verifier_on(&self, backend: Backend) -> Verifier {
        let keys = KeySet::from_jwks(self.jwks.as_bytes())
            .and_then(|k| k.with_backend(backend))
            .expect("benchmark key set");
        Verifier::new(Arc::new(keys), Fixture::validation()).expect("benchmark verifier")
    }
}

/// Scratch space for the floor's decoded segments, allocated once and reused (as Tollgate's
/// `TokenBuffer` is): 512 bytes of header, 6 KiB of payload, 1 KiB of signature.
#[derive(Debug)]
pub struct FloorScratch {
    header: [u8; 512],
    payload: [u8; 6144],
    signature: [u8; 1024],
}

impl Default for FloorScratch {
    fn default() -> Self {
        FloorScratch {
            header: [0; 512],
            payload: [0; 6144],
            signature: [0; 1024],
        }
    }
}

/// The three decoded segments and the signing input.
struct Decoded<'t, 's> {
    signing_input: &'t [u8],
    header: &'s [u8],
    payload: &'s [u8],
    signature: &'s [u8],
}

#[inline(always)]
fn decode<'t, 's>(token: &'t [u8], scratch: &'s mut FloorScratch) -> Option<Decoded<'t, 's>> {
    // memchr reads the token a word or a vector at a time, as Tollgate's own split does: a
    // byte-at-a-time search would make the floor slower than the work it stands for.
    let d1 = memchr::memchr(b'.', token)?;
    let d2 = d1 + 1 + memchr::memchr(b'.', &token[d1 + 1..])?;
    let n = URL_SAFE_NO_PAD
        .decode_slice(&token[..d1], &mut scratch.header)
        .ok()?;
    let header = &scratch.header[..n];
    let n = URL_SAFE_NO_PAD
        .decode_slice(&token[d1 + 1..d2], &mut scratch.payload)
        .ok()?;
    let payload = &scratch.payload[..n];
    let n = URL_SAFE_NO_PAD
        .decode_slice(&token[d2 + 1..], &mut scratch.signature)
        .ok()?;
    Some(Decoded {
        signing_input: &token[..d2],
        header,
        payload,
        signature: &scratch.signature[..n],
    })
}

#[inline(always)]
fn check_signature(key: &FloorKey, msg: &[u8], sig: &[u8]) -> bool {
    match key {
        FloorKey::Hmac(k) => hmac::verify(k, msg, sig).is_ok(),
        FloorKey::Public { alg, key } => signature::UnparsedPublicKey::new(*alg, key)
            .verify(msg, sig)
            .is_ok(),
    }
}

/// The floor's decoding step, shared by the floors on each crypto library: base64url-decodes the
/// three segments into `scratch` (header and payload too, though no floor reads them) and returns
/// the signing input and the signature.
#[inline(always)]
pub fn floor_decode<'t, 's>(
    token: &'t [u8],
    scratch: &'s mut FloorScratch,
) -> Option<(&'t [u8], &'s [u8])> {
    let d = decode(token, scratch)?;
    core::hint::black_box(d.header);
    core::hint::black_box(d.payload);
    Some((d.signing_input, d.signature))
}

/// The floor: base64url-decode the three segments, then ring's HMAC or signature verification of
/// the signing input. No JSON, no claims. `true` when the signature holds.
#[inline(never)]
pub fn ring_floor(token: &[u8], key: &FloorKey, scratch: &mut FloorScratch) -> bool {
    match floor_decode(token, scratch) {
        Some((signing_input, signature)) => check_signature(key, signing_input, signature),
        None => false,
    }
}

#[derive(Deserialize)]
struct FloorHeader<'a> {
    #[serde(borrow)]
    alg: &'a str,
    #[serde(borrow, default)]
    #[allow(dead_code)]
    kid: Option<&'a str>,
    #[serde(borrow, default)]
    #[allow(dead_code)]
    typ: Option<&'a str>,
}

/// Whether `aud` (a string or an array of strings) names [`AUDIENCE`], read without allocating.
struct AudienceMatches(bool);

impl<'de> Deserialize<'de> for AudienceMatches {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AudienceMatches;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AudienceMatches, E> {
                Ok(AudienceMatches(v == AUDIENCE))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AudienceMatches, A::Error> {
                let mut found = false;
                while let Some(a) = seq.next_element::<&'de str>()? {
                    found |= a == AUDIENCE;
                }
                Ok(AudienceMatches(found))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct FloorClaims<'a> {
    #[serde(borrow)]
    iss: &'a str,
    aud: AudienceMatches,
    exp: f64,
    #[serde(default)]
    iat: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
}

/// The floor plus JSON: [`ring_floor`], then serde_json parses the header and the claims into
/// borrowed structs (no allocation) and the same claim checks run (`exp`, `nbf`, `iat` with
/// [`LEEWAY`], issuer, audience). `true` when all of it holds.
#[inline(never)]
pub fn ring_floor_json(token: &[u8], key: &FloorKey, scratch: &mut FloorScratch, now: u64) -> bool {
    let Some(d) = decode(token, scratch) else {
        return false;
    };
    let Ok(header) = serde_json::from_slice::<FloorHeader<'_>>(d.header) else {
        return false;
    };
    if header.alg.is_empty() || !check_signature(key, d.signing_input, d.signature) {
        return false;
    }
    let Ok(c) = serde_json::from_slice::<FloorClaims<'_>>(d.payload) else {
        return false;
    };
    let (now, leeway) = (now as f64, LEEWAY as f64);
    now < c.exp + leeway
        && c.nbf.is_none_or(|nbf| now + leeway >= nbf)
        && c.iat.is_none_or(|iat| iat <= now + leeway)
        && c.iss == ISSUER
        && c.aud.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate::TokenBuffer;

    #[test]
    fn every_fixture_verifies_through_tollgate_and_the_floor() {
        for alg in ALGORITHMS {
            let fx = Fixture::new(alg, FIXED_NOW);
            let v = fx.verifier();
            let mut buf = TokenBuffer::new();
            v.verify(fx.token.as_bytes(), fx.now, &mut buf)
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            let mut scratch = FloorScratch::default();
            assert!(
                ring_floor(fx.token.as_bytes(), &fx.floor_key, &mut scratch),
                "{alg}"
            );
            assert!(
                ring_floor_json(fx.token.as_bytes(), &fx.floor_key, &mut scratch, fx.now),
                "{alg}"
            );
            // A token with a changed signature fails both.
            let mut bad = fx.token.clone().into_bytes();
            let last = bad.len() - 2;
            bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
            assert!(!ring_floor(&bad, &fx.floor_key, &mut scratch), "{alg}");
            assert!(v.verify(&bad, fx.now, &mut buf).is_err(), "{alg}");
        }
    }

    #[test]
    fn floor_json_applies_the_claim_checks() {
        let fx = Fixture::new(Algorithm::HS256, FIXED_NOW);
        let mut scratch = FloorScratch::default();
        let t = fx.token.as_bytes();
        assert!(!ring_floor_json(
            t,
            &fx.floor_key,
            &mut scratch,
            FIXED_NOW + LIFETIME + LEEWAY
        ));
        assert!(!ring_floor_json(
            t,
            &fx.floor_key,
            &mut scratch,
            FIXED_NOW - LEEWAY - 1
        ));
        let other = Fixture::with_claims(
            Algorithm::HS256,
            FIXED_NOW,
            &realistic_claims(FIXED_NOW, 0).replace(AUDIENCE, "other-api"),
        );
        assert!(!ring_floor_json(
            other.token.as_bytes(),
            &other.floor_key,
            &mut scratch,
            FIXED_NOW
        ));
    }

    #[test]
    fn rsa_der_matches_ring() {
        let fx = Fixture::new(Algorithm::RS256, FIXED_NOW);
        let FloorKey::Public { key, .. } = &fx.floor_key else {
            panic!("RSA floor key");
        };
        assert_eq!(key[0], 0x30);
    }
}
