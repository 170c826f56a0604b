//! Property tests for the parser and the verifier's invariants.

use proptest::prelude::*;
use std::sync::{Arc, OnceLock};
use tollgate::alg::KeyFamily;
use tollgate::{
    keygen, mint, Algorithm, ErrorCode, Key, KeySet, SigningKey, TokenBuffer, Validation, Verifier,
};
use tollgate_tests::load;

const NOW: u64 = 1_700_000_000;

/// A signer and the key set that verifies it, for every algorithm.
struct Fixture {
    alg: Algorithm,
    signer: SigningKey,
    /// The same keys, prepared for each backend this build has.
    keys: Vec<Arc<KeySet>>,
}

fn rsa_private_jwk() -> serde_json::Value {
    // The 2048-bit RSA key of Wycheproof's JWS tests, unbound so it can serve RS* and PS*.
    let doc = load("wycheproof/json_web_signature_test.json");
    let group = doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["private"]["kid"] == "kid-rsa-sign")
        .unwrap();
    let mut jwk = group["private"].clone();
    jwk.as_object_mut().unwrap().remove("alg");
    jwk
}

fn fixtures() -> &'static [Fixture] {
    static F: OnceLock<Vec<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        let rsa = rsa_private_jwk();
        Algorithm::ALL
            .iter()
            .map(|&alg| {
                let keys = if alg.is_symmetric() {
                    let secret = [0x5au8; 64];
                    let signer = SigningKey::hmac(alg, &secret, Some("k")).unwrap();
                    let build =
                        move || KeySet::from_keys(vec![Key::hmac(alg, &secret, Some("k"))?]);
                    (signer, per_backend(build))
                } else {
                    let signer = match alg.key_family() {
                        KeyFamily::Rsa => {
                            SigningKey::from_jwk(rsa.to_string().as_bytes(), Some(alg)).unwrap()
                        }
                        _ => {
                            let generated = keygen::generate(alg).unwrap();
                            SigningKey::from_pem_or_der(alg, generated.private.as_bytes(), None)
                                .unwrap()
                        }
                    }
                    .with_kid(Some("k"));
                    // Verifiers get the public JWK, as a host would publish it.
                    let jwk = signer.public_jwk().unwrap();
                    assert_eq!(jwk["kid"], "k");
                    let doc = jwk.to_string();
                    (
                        signer,
                        per_backend(move || KeySet::from_jwks(doc.as_bytes())),
                    )
                };
                Fixture {
                    alg,
                    signer: keys.0,
                    keys: keys.1,
                }
            })
            .collect()
    })
}

fn fixture(alg: Algorithm) -> &'static Fixture {
    fixtures().iter().find(|f| f.alg == alg).unwrap()
}

/// Verifies on every backend; they must agree on the verdict, the reason and the claims.
fn verify(
    f: &Fixture,
    token: &[u8],
    validation: Validation,
    now: u64,
) -> Result<serde_json::Value, ErrorCode> {
    let mut results = f.keys.iter().map(|keys| {
        let v = Verifier::new(keys.clone(), validation.clone()).unwrap();
        let mut buf = TokenBuffer::new();
        v.verify(token, now, &mut buf)
            .map(|t| {
                serde_json::from_str::<serde_json::Value>(t.claims().object().as_str()).unwrap()
            })
            .map_err(|e| e.code())
    });
    let first = results.next().unwrap();
    for other in results {
        assert_eq!(other, first, "backends disagree");
    }
    first
}

/// The key set built once per backend this build has.
fn per_backend(build: impl Fn() -> Result<KeySet, tollgate::Error>) -> Vec<Arc<KeySet>> {
    tollgate::crypto::Backend::available()
        .iter()
        .map(|&b| Arc::new(build().unwrap().with_backend(b).unwrap()))
        .collect()
}

fn sample_token(alg: Algorithm) -> String {
    let claims = serde_json::json!({"sub": "alice", "iss": "https://idp", "exp": NOW + 600, "roles": ["admin"]});
    mint(&fixture(alg).signer, claims.to_string().as_bytes(), None).unwrap()
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    proptest::sample::select(Algorithm::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(48) })]

    /// Whatever the claims, what is signed verifies and reads back unchanged.
    #[test]
    fn sign_then_verify_round_trips(
        alg in algorithm(),
        sub in "\\PC{0,40}",
        n in any::<i64>(),
        scopes in proptest::collection::vec("[a-z:]{1,12}", 0..5),
        ttl in 1u64..1_000_000,
    ) {
        let claims = serde_json::json!({"sub": sub, "n": n, "scp": scopes, "exp": NOW + ttl});
        let token = mint(&fixture(alg).signer, claims.to_string().as_bytes(), None).unwrap();
        let got = verify(fixture(alg), token.as_bytes(), Validation::default(), NOW);
        prop_assert_eq!(got, Ok(claims));
    }

    /// Changing any one byte of a valid token makes it invalid.
    #[test]
    fn any_single_byte_change_is_rejected(alg in algorithm(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let token = sample_token(alg).into_bytes();
        let i = pos.index(token.len());
        prop_assume!(token[i] != byte);
        let mut changed = token.clone();
        changed[i] = byte;
        prop_assert!(verify(fixture(alg), &changed, Validation::default(), NOW).is_err());
    }

    /// A token re-encoded in any non-canonical way (padding, the standard alphabet, stray bits,
    /// whitespace) never verifies, though it decodes to the same bytes in a lax decoder.
    #[test]
    fn non_canonical_encodings_are_rejected(alg in algorithm(), segment in 0usize..3, how in 0usize..5) {
        let token = sample_token(alg);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let part = &mut parts[segment];
        let changed = match how {
            0 => { part.push('='); true }
            1 => { let p = part.replace('-', "+").replace('_', "/"); let c = p != *part; *part = p; c }
            2 => {
                // Set the unused low bits of the last character, when it has any.
                let rem = part.len() % 4;
                if rem == 0 { false } else {
                    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                    let last = part.pop().unwrap();
                    let v = alphabet.iter().position(|&c| c == last as u8).unwrap();
                    let unused = if rem == 2 { 0b1111 } else { 0b11 };
                    part.push(alphabet[v | unused] as char);
                    v | unused != v
                }
            }
            3 => { part.insert(part.len() / 2, ' '); true }
            _ => { part.push('\n'); true }
        };
        prop_assume!(changed);
        // A header or payload spelled another way is signed again, so that only the decoder
        // can refuse it (not the signature, which would refuse any change).
        if segment < 2 {
            let input = format!("{}.{}", parts[0], parts[1]);
            let signature = fixture(alg).signer.sign(input.as_bytes()).unwrap();
            parts[2] = tollgate::base64url::encode(&signature);
        }
        let bad = parts.join(".");
        let got = verify(fixture(alg), bad.as_bytes(), Validation::default(), NOW);
        prop_assert!(
            matches!(got, Err(ErrorCode::InvalidBase64 | ErrorCode::MalformedToken)),
            "segment {} how {}: {:?}", segment, how, got
        );
    }

    /// Acceptance follows the documented rule exactly, so widening the leeway never rejects more.
    #[test]
    fn leeway_rule_is_exact_and_monotone(
        exp in -1000i64..1000, nbf in -1000i64..1000, iat in -1000i64..1000,
        l1 in 0u64..=600, extra in 0u64..=600,
    ) {
        let l2 = (l1 + extra).min(600);
        let at = |d: i64| NOW as i64 + d;
        let claims = serde_json::json!({"exp": at(exp), "nbf": at(nbf), "iat": at(iat)});
        let token = mint(&fixture(Algorithm::HS256).signer, claims.to_string().as_bytes(), None).unwrap();
        let accepted = |l: u64| verify(fixture(Algorithm::HS256), token.as_bytes(), Validation::default().with_leeway(l), NOW).is_ok();
        let model = |l: u64| { let l = l as i64; 0 < exp + l && nbf <= l && iat <= l };
        prop_assert_eq!(accepted(l1), model(l1));
        prop_assert_eq!(accepted(l2), model(l2));
        prop_assert!(!accepted(l1) || accepted(l2));
    }

    /// What mint signs, a verifier reads: registered claims of any JSON type either make mint
    /// refuse, or give a token whose claims verify (only the times may still refuse it).
    #[test]
    fn mint_signs_only_claims_a_verifier_reads(
        values in proptest::collection::vec(
            proptest::sample::select(vec![
                serde_json::json!(NOW + 60), serde_json::json!(-1), serde_json::json!(1.5),
                serde_json::json!(1e300), serde_json::json!("1767225600"), serde_json::json!(null),
                serde_json::json!([]), serde_json::json!(["a"]), serde_json::json!([1]),
                serde_json::json!({}), serde_json::json!(true), serde_json::json!("https://idp"),
            ]),
            7,
        ),
    ) {
        let names = ["exp", "nbf", "iat", "iss", "sub", "aud", "jti"];
        let claims: serde_json::Map<String, serde_json::Value> =
            names.iter().map(|n| n.to_string()).zip(values).collect();
        let text = serde_json::Value::Object(claims).to_string();
        let f = fixture(Algorithm::HS256);
        match mint(&f.signer, text.as_bytes(), None) {
            Ok(token) => {
                let verdict = verify(f, token.as_bytes(), Validation::default(), NOW);
                prop_assert!(
                    matches!(verdict, Ok(_) | Err(ErrorCode::Expired | ErrorCode::NotYetValid | ErrorCode::IssuedInFuture | ErrorCode::InvalidAudience)),
                    "{text}: {verdict:?}"
                );
            }
            Err(e) => {
                prop_assert_eq!(e.code(), ErrorCode::SigningFailed);
                prop_assert!(e.to_string().contains("a verifier would refuse these claims"), "{}", e);
            }
        }
    }

    /// Arbitrary bytes never panic and never verify.
    #[test]
    fn arbitrary_bytes_are_rejected_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(verify(fixture(Algorithm::HS256), &bytes, Validation::default(), NOW).is_err());
        let _ = tollgate::json::parse_object(&bytes, 16);
    }

    /// Three well-formed base64url segments of arbitrary content never panic and never verify.
    #[test]
    fn arbitrary_segments_are_rejected_without_panic(
        h in proptest::collection::vec(any::<u8>(), 0..200),
        p in proptest::collection::vec(any::<u8>(), 0..200),
        s in proptest::collection::vec(any::<u8>(), 0..80),
        header_json in "\\{\"alg\":\"(HS256|ES256|none|RS256)\"(,\"kid\":\"[a-z]{0,3}\")?(,\"crit\":\\[\\])?\\}",
    ) {
        let enc = tollgate::base64url::encode;
        for header in [enc(&h), enc(header_json.as_bytes())] {
            let token = format!("{}.{}.{}", header, enc(&p), enc(&s));
            for alg in [Algorithm::HS256, Algorithm::ES256, Algorithm::RS256] {
                prop_assert!(verify(fixture(alg), token.as_bytes(), Validation::default(), NOW).is_err());
            }
        }
    }
}

/// Every position of every algorithm's token, changed to a different base64url character, a dot
/// and a high byte: the exhaustive version of the property above.
#[test]
fn every_position_of_every_algorithm_is_covered() {
    for &alg in &Algorithm::ALL {
        let token = sample_token(alg).into_bytes();
        assert!(
            verify(fixture(alg), &token, Validation::default(), NOW).is_ok(),
            "{alg} baseline"
        );
        for i in 0..token.len() {
            for replacement in [if token[i] == b'A' { b'B' } else { b'A' }, b'.', 0xff] {
                if token[i] == replacement {
                    continue;
                }
                let mut changed = token.clone();
                changed[i] = replacement;
                assert!(
                    verify(fixture(alg), &changed, Validation::default(), NOW).is_err(),
                    "{alg}: byte {i} -> {replacement:#x} accepted"
                );
            }
        }
    }
}
