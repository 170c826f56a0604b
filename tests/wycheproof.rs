//! Every Wycheproof primitive file for Tollgate's algorithms, through one harness: the same
//! library calls the token path makes (`tollgate::crypto`), on every backend this build has
//! (ring, and aws-lc with `--features aws-lc`), against each vector's expected result.
//! Skips are only those `../shared/vectors/README.md` documents, each with its reason here.

use tollgate::crypto::{verify_raw, verify_rsa_raw, Backend};
use tollgate::{Algorithm, SigningKey};
use tollgate_tests::{hex, load, strip_zeros, Tally};

fn tests(group: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    group["tests"].as_array().expect("tests").iter()
}

/// `valid` must verify, `invalid` must not, `acceptable` may go either way.
fn expect(result: &str, verified: bool) -> bool {
    match result {
        "valid" => verified,
        "invalid" => !verified,
        "acceptable" => true,
        other => panic!("unknown result {other}"),
    }
}

fn s(v: &serde_json::Value) -> &str {
    v.as_str().expect("string")
}

#[test]
fn hmac() {
    for &backend in Backend::available() {
        for (file, alg, bits) in [
            ("hmac_sha256_test.json", Algorithm::HS256, 256),
            ("hmac_sha384_test.json", Algorithm::HS384, 384),
            ("hmac_sha512_test.json", Algorithm::HS512, 512),
        ] {
            let doc = load(&format!("wycheproof/{file}"));
            let mut tally = Tally::new(&format!("{file} [{backend}]"));
            for group in doc["testGroups"].as_array().unwrap() {
                let truncated = group["tagSize"].as_u64() != Some(bits);
                for t in tests(group) {
                    let id = t["tcId"].as_u64().unwrap();
                    if truncated {
                        // README: truncated HMAC tags do not exist in JWS.
                        tally.skip(id, "truncated tag");
                        continue;
                    }
                    let ok = verify_raw(
                        backend,
                        alg,
                        &hex(s(&t["key"])),
                        &hex(s(&t["msg"])),
                        &hex(s(&t["tag"])),
                    );
                    tally.check(id, expect(s(&t["result"]), ok), || {
                        format!("{} got {ok}", t["result"])
                    });
                }
            }
            tally.finish();
        }
    }
}

#[test]
fn ecdsa_p1363() {
    for &backend in Backend::available() {
        for (file, alg) in [
            ("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::ES256),
            ("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::ES384),
        ] {
            let doc = load(&format!("wycheproof/{file}"));
            let mut tally = Tally::new(&format!("{file} [{backend}]"));
            for group in doc["testGroups"].as_array().unwrap() {
                let point = hex(s(&group["publicKey"]["uncompressed"]));
                for t in tests(group) {
                    let ok =
                        verify_raw(backend, alg, &point, &hex(s(&t["msg"])), &hex(s(&t["sig"])));
                    tally.check(
                        t["tcId"].as_u64().unwrap(),
                        expect(s(&t["result"]), ok),
                        || format!("{} ({}) got {ok}", t["result"], t["comment"]),
                    );
                }
            }
            tally.finish();
        }
    }
}

#[test]
fn ed25519() {
    for &backend in Backend::available() {
        let file = "ed25519_test.json";
        let doc = load(&format!("wycheproof/{file}"));
        let mut tally = Tally::new(&format!("{file} [{backend}]"));
        for group in doc["testGroups"].as_array().unwrap() {
            let pk = hex(s(&group["publicKey"]["pk"]));
            for t in tests(group) {
                let ok = verify_raw(
                    backend,
                    Algorithm::EdDSA,
                    &pk,
                    &hex(s(&t["msg"])),
                    &hex(s(&t["sig"])),
                );
                tally.check(
                    t["tcId"].as_u64().unwrap(),
                    expect(s(&t["result"]), ok),
                    || format!("{} ({}) got {ok}", t["result"], t["comment"]),
                );
            }
        }
        tally.finish();
    }
}

fn sha_to_alg(sha: &str, pss: bool) -> Option<Algorithm> {
    Some(match (sha, pss) {
        ("SHA-256", false) => Algorithm::RS256,
        ("SHA-384", false) => Algorithm::RS384,
        ("SHA-512", false) => Algorithm::RS512,
        ("SHA-256", true) => Algorithm::PS256,
        ("SHA-384", true) => Algorithm::PS384,
        ("SHA-512", true) => Algorithm::PS512,
        _ => return None,
    })
}

fn hash_len(sha: &str) -> u64 {
    match sha {
        "SHA-256" => 32,
        "SHA-384" => 48,
        "SHA-512" => 64,
        _ => 0,
    }
}

#[test]
fn rsa_pkcs1_and_pss_verify() {
    for &backend in Backend::available() {
        let mut files: Vec<(String, bool)> = Vec::new();
        for bits in ["2048", "3072", "4096"] {
            for sha in ["sha256", "sha384", "sha512"] {
                files.push((format!("rsa_signature_{bits}_{sha}_test.json"), false));
            }
        }
        for f in [
            "rsa_pss_2048_sha256_mgf1_32_test.json",
            "rsa_pss_2048_sha384_mgf1_48_test.json",
            "rsa_pss_3072_sha256_mgf1_32_test.json",
            "rsa_pss_4096_sha256_mgf1_32_test.json",
            "rsa_pss_4096_sha384_mgf1_48_test.json",
            "rsa_pss_4096_sha512_mgf1_64_test.json",
            "rsa_pss_misc_test.json",
        ] {
            files.push((f.to_owned(), true));
        }
        for (file, pss) in files {
            let doc = load(&format!("wycheproof/{file}"));
            let mut tally = Tally::new(&format!("{file} [{backend}]"));
            for group in doc["testGroups"].as_array().unwrap() {
                let sha = s(&group["sha"]);
                let applicable = !pss
                    || (group["mgfSha"].as_str() == Some(sha)
                        && group["sLen"].as_u64() == Some(hash_len(sha)));
                let alg = sha_to_alg(sha, pss).filter(|_| applicable);
                let n = hex(s(&group["publicKey"]["modulus"]));
                let e = hex(s(&group["publicKey"]["publicExponent"]));
                for t in tests(group) {
                    let id = t["tcId"].as_u64().unwrap();
                    let Some(alg) = alg else {
                        // README: JWS fixes PSS's MGF1 hash and salt length to the message hash.
                        assert!(
                            file == "rsa_pss_misc_test.json",
                            "{file}: inapplicable group"
                        );
                        tally.skip(id, "PSS parameters outside RFC 7518");
                        continue;
                    };
                    let ok = verify_rsa_raw(
                        backend,
                        alg,
                        strip_zeros(&n),
                        strip_zeros(&e),
                        &hex(s(&t["msg"])),
                        &hex(s(&t["sig"])),
                    );
                    tally.check(id, expect(s(&t["result"]), ok), || {
                        format!("{} ({}) got {ok}", t["result"], t["comment"])
                    });
                }
            }
            tally.finish();
        }
    }
}

/// PKCS#1 v1.5 signing is deterministic: minting with these private keys must reproduce the
/// known signatures byte for byte, and they must verify.
#[test]
fn rsa_pkcs1_signing_known_answers() {
    for &backend in Backend::available() {
        for file in [
            "rsa_pkcs1_2048_sig_gen_test.json",
            "rsa_pkcs1_3072_sig_gen_test.json",
            "rsa_pkcs1_4096_sig_gen_test.json",
        ] {
            let doc = load(&format!("wycheproof/{file}"));
            let mut tally = Tally::new(&format!("{file} [{backend}]"));
            for group in doc["testGroups"].as_array().unwrap() {
                let sha = s(&group["sha"]);
                let Some(alg) = sha_to_alg(sha, false) else {
                    for t in tests(group) {
                        tally.skip(t["tcId"].as_u64().unwrap(), "hash is not a JWS algorithm's");
                    }
                    continue;
                };
                let key =
                    SigningKey::from_pem_or_der(alg, &hex(s(&group["privateKeyPkcs8"])), None);
                let n = hex(s(&group["privateKey"]["modulus"]));
                let e = hex(s(&group["privateKey"]["publicExponent"]));
                for t in tests(group) {
                    let id = t["tcId"].as_u64().unwrap();
                    let msg = hex(s(&t["msg"]));
                    let want = hex(s(&t["sig"]));
                    let signed = key.as_ref().ok().and_then(|k| k.sign(&msg).ok());
                    let ok = match s(&t["result"]) {
                        "valid" => signed.as_deref() == Some(&want[..]),
                        _ => signed.as_ref().is_none_or(|sig| *sig == want),
                    };
                    let verifies =
                        verify_rsa_raw(backend, alg, strip_zeros(&n), strip_zeros(&e), &msg, &want);
                    tally.check(id, ok && expect(s(&t["result"]), verifies), || {
                        format!("signature mismatch or verify={verifies} ({})", t["comment"])
                    });
                }
            }
            tally.finish();
        }
    }
}
