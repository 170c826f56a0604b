//! The aws-lc floor (feature `aws-lc`): the same base64url decoding as the ring floor, then
//! aws-lc-rs's verification with a key prepared once, as a careful direct user of aws-lc-rs would
//! (`ParsedPublicKey`, an expanded `hmac::Key`). `tollgate_aws_lc` is measured against it.

use aws_lc_rs::{hmac, signature};
use tollgate::Algorithm;

use crate::{floor_decode, Fixture, FloorKey, FloorScratch};

/// A verification key for the aws-lc floor.
pub enum AwsLcFloorKey {
    /// An HMAC key (boxed: it is far larger than a parsed public key).
    Hmac(Box<hmac::Key>),
    /// A public key, parsed once.
    Parsed(signature::ParsedPublicKey),
}

impl AwsLcFloorKey {
    /// The aws-lc floor key for a fixture: its HMAC secret, or the public key bytes the ring floor
    /// uses (RSA PKCS#1 DER, SEC1 point, Ed25519 bytes), parsed for aws-lc.
    pub fn new(fx: &Fixture) -> AwsLcFloorKey {
        let verifier: &'static dyn signature::VerificationAlgorithm = match fx.alg {
            Algorithm::HS256 => {
                let secret = fx.secret.as_deref().expect("an HMAC secret");
                return AwsLcFloorKey::Hmac(Box::new(hmac::Key::new(hmac::HMAC_SHA256, secret)));
            }
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
            Algorithm::EdDSA => &signature::ED25519,
            other => panic!("no aws-lc floor for {other}"),
        };
        let FloorKey::Public { key, .. } = &fx.floor_key else {
            panic!(
                "{}: a public-key fixture without a public floor key",
                fx.alg
            )
        };
        AwsLcFloorKey::Parsed(
            signature::ParsedPublicKey::new(verifier, key).expect("aws-lc parses the key"),
        )
    }
}

/// The aws-lc floor: base64url-decode the three segments, then aws-lc-rs's HMAC or signature
/// verification of the signing input with the prepared key. `true` when the signature holds.
#[inline(never)]
pub fn aws_lc_floor(token: &[u8], key: &AwsLcFloorKey, scratch: &mut FloorScratch) -> bool {
    let Some((signing_input, signature)) = floor_decode(token, scratch) else {
        return false;
    };
    match key {
        AwsLcFloorKey::Hmac(k) => hmac::verify(k, signing_input, signature).is_ok(),
        AwsLcFloorKey::Parsed(k) => k.verify_sig(signing_input, signature).is_ok(),
    }
}
