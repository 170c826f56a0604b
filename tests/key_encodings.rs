//! Key encodings against known answers. Every Wycheproof group for Tollgate's public-key
//! algorithms gives its key twice over: as raw material (point, modulus and exponent, Ed25519
//! bytes) and encoded (DER SubjectPublicKeyInfo, PEM, JWK, and for RSA the PKCS#1
//! `RSAPublicKey`). Each encoding must import to exactly the raw material (`Key::public_key`). The
//! `rsa_pkcs1_*_sig_gen` groups do the same for private keys (PKCS#8 DER, PKCS#1 PEM).
//!
//! Then the refusals of `core/src/spki.rs`, on mutations of a known-good SubjectPublicKeyInfo:
//! every truncation, trailing bytes, non-minimal lengths, a wrong tag, unused bits, and keys for
//! another algorithm.

use tollgate::key::PublicKey;
use tollgate::{pem, Algorithm, ErrorCode, Key, KeySet, SigningKey};
use tollgate_tests::{hex, load, strip_zeros};

fn s(v: &serde_json::Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// The material `key` verifies with, as owned bytes: (n, e) for RSA, else (point or key, empty).
fn material(key: &Key) -> (Vec<u8>, Vec<u8>) {
    match key.public_key().expect("a public key") {
        PublicKey::Rsa { n, e } => (n.to_vec(), e.to_vec()),
        PublicKey::Ec { point } => (point.to_vec(), Vec::new()),
        PublicKey::Ed25519 { key } => (key.to_vec(), Vec::new()),
        other => panic!("unexpected key kind {other:?}"),
    }
}

/// Imports `group`'s key from each encoding it gives and checks each against `want`. Returns how
/// many encodings were checked.
fn check_group(
    file: &str,
    group: &serde_json::Value,
    alg: Algorithm,
    want: &(Vec<u8>, Vec<u8>),
) -> usize {
    let mut checked = 0;
    let mut agree = |how: &str, imported: Result<Key, tollgate::Error>| {
        let key = imported.unwrap_or_else(|e| panic!("{file} {alg} {how}: refused: {e}"));
        assert_eq!(key.algorithm(), alg, "{file} {how}");
        assert_eq!(
            &material(&key),
            want,
            "{file} {alg} {how}: different material"
        );
        checked += 1;
    };
    if let Some(der) = group["publicKeyDer"].as_str().or(group["keyDer"].as_str()) {
        agree("DER SPKI", Key::from_public_key(alg, &hex(der), None));
    }
    if let Some(text) = group["publicKeyPem"].as_str().or(group["keyPem"].as_str()) {
        agree("PEM SPKI", Key::from_public_key(alg, text.as_bytes(), None));
    }
    if let Some(asn) = group["publicKeyAsn"].as_str().or(group["keyAsn"].as_str()) {
        let text = pem::encode("RSA PUBLIC KEY", &hex(asn));
        agree(
            "PEM PKCS#1",
            Key::from_public_key(alg, text.as_bytes(), None),
        );
    }
    let jwk = group.get("publicKeyJwk").or(group.get("keyJwk"));
    if let Some(jwk) = jwk.filter(|j| !j.is_null()) {
        let set = KeySet::from_jwks_bound(jwk.to_string().as_bytes(), alg)
            .unwrap_or_else(|e| panic!("{file} {alg} JWK: refused: {e}"));
        assert_eq!(set.len(), 1);
        assert_eq!(
            &material(&set.keys()[0]),
            want,
            "{file} {alg} JWK: different material"
        );
        checked += 1;
    }
    checked
}

#[test]
fn ec_and_ed25519_public_keys_import_the_same_from_every_encoding() {
    for (file, alg) in [
        ("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::ES256),
        ("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::ES384),
        ("ed25519_test.json", Algorithm::EdDSA),
    ] {
        let doc = load(&format!("wycheproof/{file}"));
        let (mut groups, mut checked) = (0, 0);
        for group in doc["testGroups"].as_array().unwrap() {
            let raw = if alg == Algorithm::EdDSA {
                let pk = hex(s(&group["publicKey"]["pk"]));
                assert_eq!(material(&Key::ed25519(&pk, None).unwrap()).0, pk);
                pk
            } else {
                let point = hex(s(&group["publicKey"]["uncompressed"]));
                assert_eq!(
                    material(&Key::ec_point(alg, &point, None).unwrap()).0,
                    point
                );
                point
            };
            checked += check_group(file, group, alg, &(raw, Vec::new()));
            groups += 1;
        }
        println!("{file}: {groups} keys, {checked} encodings agree");
        // DER and PEM for every group, and JWK for most (the files leave a few out).
        assert!(
            checked >= 2 * groups + groups / 2 && groups > 0,
            "{file}: {checked} for {groups} keys"
        );
    }
}

#[test]
fn rsa_public_keys_import_the_same_from_every_encoding() {
    let mut files = Vec::new();
    for bits in ["2048", "3072", "4096"] {
        for (sha, alg) in [
            ("sha256", Algorithm::RS256),
            ("sha384", Algorithm::RS384),
            ("sha512", Algorithm::RS512),
        ] {
            files.push((format!("rsa_signature_{bits}_{sha}_test.json"), alg));
        }
    }
    for (f, alg) in [
        ("rsa_pss_2048_sha256_mgf1_32_test.json", Algorithm::PS256),
        ("rsa_pss_3072_sha256_mgf1_32_test.json", Algorithm::PS256),
        ("rsa_pss_4096_sha512_mgf1_64_test.json", Algorithm::PS512),
    ] {
        files.push((f.to_owned(), alg));
    }
    for (file, alg) in files {
        let doc = load(&format!("wycheproof/{file}"));
        let (mut groups, mut checked) = (0, 0);
        for group in doc["testGroups"].as_array().unwrap() {
            let n = hex(s(&group["publicKey"]["modulus"]));
            let e = hex(s(&group["publicKey"]["publicExponent"]));
            let want = (strip_zeros(&n).to_vec(), strip_zeros(&e).to_vec());
            assert_eq!(material(&Key::rsa(alg, &n, &e, None).unwrap()), want);
            checked += check_group(&file, group, alg, &want);
            groups += 1;
        }
        println!("{file}: {groups} keys, {checked} encodings agree");
        // DER, PEM, PKCS#1 and (where the file gives one) JWK.
        assert!(
            checked >= 3 * groups && groups > 0,
            "{file}: {checked} for {groups} keys"
        );
    }
}

#[test]
fn rsa_private_keys_import_the_same_from_pkcs8_and_pkcs1() {
    for file in [
        "rsa_pkcs1_2048_sig_gen_test.json",
        "rsa_pkcs1_3072_sig_gen_test.json",
        "rsa_pkcs1_4096_sig_gen_test.json",
    ] {
        let doc = load(&format!("wycheproof/{file}"));
        let (mut checked, mut refused_small_e) = (0, 0);
        for group in doc["testGroups"].as_array().unwrap() {
            let private = &group["privateKey"];
            let n = hex(s(&private["modulus"]));
            let e = hex(s(&private["publicExponent"]));
            let want = serde_json::json!({
                "n": tollgate::base64url::encode(strip_zeros(&n)),
                "e": tollgate::base64url::encode(strip_zeros(&e)),
            });
            // Import does not depend on the hash: every group's key is an RS256 key here.
            let pkcs8 = hex(s(&group["privateKeyPkcs8"]));
            let pkcs8_pem = pem::encode("PRIVATE KEY", &pkcs8);
            // ring signs only with the public exponent 65537 (these files also hold e = 3 keys):
            // those may be refused, as an invalid key, and are checked like the rest if not.
            let signer_takes_it = strip_zeros(&e) == [0x01, 0x00, 0x01];
            for (how, bytes) in [
                ("PKCS#8 DER", &pkcs8[..]),
                ("PKCS#8 PEM", pkcs8_pem.as_bytes()),
                ("PKCS#1 PEM", s(&group["privateKeyPem"]).as_bytes()),
            ] {
                let key = match SigningKey::from_pem_or_der(Algorithm::RS256, bytes, None) {
                    Ok(key) => key,
                    Err(err) if !signer_takes_it => {
                        assert_eq!(err.code(), ErrorCode::InvalidKey, "{file} {how}");
                        refused_small_e += 1;
                        continue;
                    }
                    Err(err) => panic!("{file} {how}: refused: {err}"),
                };
                let jwk = key.public_jwk().unwrap();
                assert_eq!(
                    (&jwk["n"], &jwk["e"]),
                    (&want["n"], &want["e"]),
                    "{file} {how}"
                );
                assert_eq!(jwk["alg"], "RS256");
                checked += 1;
            }
            // The private key is not a public key, and an EC algorithm does not take it.
            let code = |r: Result<Key, tollgate::Error>| r.map(|_| ()).unwrap_err().code();
            assert_eq!(
                code(Key::from_public_key(Algorithm::RS256, &pkcs8, None)),
                ErrorCode::InvalidKey
            );
            assert_eq!(
                SigningKey::from_pem_or_der(Algorithm::ES256, &pkcs8, None)
                    .map(|_| ())
                    .unwrap_err()
                    .code(),
                ErrorCode::InvalidKey
            );
        }
        println!("{file}: {checked} private-key encodings agree, {refused_small_e} with e = 3 refused by the signer");
        assert!(checked >= 9, "{file}: {checked}");
    }
}

/// A known-good SubjectPublicKeyInfo from the vectors: the first group's key of `file`.
fn first_spki(file: &str) -> Vec<u8> {
    let doc = load(&format!("wycheproof/{file}"));
    hex(s(&doc["testGroups"][0]["publicKeyDer"]))
}

fn refused(alg: Algorithm, der: &[u8]) -> bool {
    match Key::from_public_key(alg, der, None) {
        Ok(_) => false,
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::InvalidKey, "{alg}: {e}");
            true
        }
    }
}

#[test]
fn spki_mutations_are_refused() {
    let p256 = first_spki("ecdsa_secp256r1_sha256_p1363_test.json");
    let p384 = first_spki("ecdsa_secp384r1_sha384_p1363_test.json");
    let ed = first_spki("ed25519_test.json");
    let rsa = first_spki("rsa_signature_2048_sha256_test.json");
    for (alg, der) in [
        (Algorithm::ES256, &p256),
        (Algorithm::ES384, &p384),
        (Algorithm::EdDSA, &ed),
        (Algorithm::RS256, &rsa),
    ] {
        assert!(!refused(alg, der), "{alg}: the vector's own key");
        for len in 0..der.len() {
            assert!(refused(alg, &der[..len]), "{alg}: truncated to {len} bytes");
        }
        let mut longer = der.clone();
        longer.push(0);
        assert!(refused(alg, &longer), "{alg}: a trailing byte");
        let mut tag = der.clone();
        tag[0] = 0x31; // SET, not SEQUENCE
        assert!(refused(alg, &tag), "{alg}: outer tag");
        // Another algorithm's key, with the right encoding.
        for other in [
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::PS256,
            Algorithm::HS256,
        ] {
            if other.key_family() != alg.key_family() {
                assert!(refused(other, der), "{alg} key imported for {other}");
            }
        }
    }

    // P-256's SPKI is 91 bytes: a short-form outer length (0x59). The same length in long
    // form (0x81 0x59) is BER, not DER.
    assert_eq!(&p256[..2], &[0x30, 0x59]);
    let mut long_form = vec![0x30, 0x81, 0x59];
    long_form.extend_from_slice(&p256[2..]);
    assert!(refused(Algorithm::ES256, &long_form), "non-minimal length");
    // The BIT STRING's unused-bits byte (just before the point's 0x04) must be zero.
    let point_at = p256.len() - 65;
    assert_eq!(&p256[point_at - 3..=point_at], &[0x03, 0x42, 0x00, 0x04]);
    let mut unused = p256.clone();
    unused[point_at - 1] = 1;
    assert!(refused(Algorithm::ES256, &unused), "unused bits");
    // P-256's curve OID (…03 01 07) changed to the next arc: not the key ES256 needs.
    let curve = p256
        .windows(8)
        .position(|w| w == [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07])
        .unwrap();
    let mut other_curve = p256.clone();
    other_curve[curve + 7] = 0x08;
    assert!(
        refused(Algorithm::ES256, &other_curve),
        "another curve's OID"
    );
    // A point off the curve, well encoded.
    let mut off_curve = p256.clone();
    *off_curve.last_mut().unwrap() ^= 1;
    assert!(
        refused(Algorithm::ES256, &off_curve),
        "a point off the curve"
    );

    // RSA: the algorithm parameters are NULL (05 00) or absent; anything else is refused.
    let null_at = rsa.windows(2).position(|w| w == [0x05, 0x00]).unwrap();
    let mut params = rsa.clone();
    params[null_at] = 0x04; // an empty OCTET STRING
    assert!(
        refused(Algorithm::RS256, &params),
        "RSA parameters that are not NULL"
    );
}

#[test]
fn pem_armor_is_checked() {
    let p256 = first_spki("ecdsa_secp256r1_sha256_p1363_test.json");
    let good = pem::encode("PUBLIC KEY", &p256);
    assert_eq!(pem::decode(good.as_bytes()).unwrap().der, p256);
    // Text after the block is ignored (RFC 7468 §2). Text before it is not: a key file must
    // start with its BEGIN line (after whitespace), or it is read as DER.
    let after = format!("\n {good}trailer\n");
    assert!(!refused(Algorithm::ES256, after.as_bytes()));
    assert!(refused(
        Algorithm::ES256,
        format!("a comment\n{good}").as_bytes()
    ));
    for (why, text) in [
        (
            "the END line names another label",
            good.replace("END PUBLIC KEY", "END PRIVATE KEY"),
        ),
        (
            "no END line",
            good.replace("-----END PUBLIC KEY-----\n", ""),
        ),
        ("a body that is not base64", good.replacen('M', "*", 1)),
        (
            "a private key's label",
            good.replace("PUBLIC KEY", "PRIVATE KEY"),
        ),
        (
            "a certificate's label",
            good.replace("PUBLIC KEY", "CERTIFICATE"),
        ),
        (
            "PKCS#1 label on an EC key",
            good.replace("PUBLIC KEY", "RSA PUBLIC KEY"),
        ),
    ] {
        assert!(refused(Algorithm::ES256, text.as_bytes()), "{why}");
    }
    let huge = format!("{good}{}", " ".repeat(pem::MAX_PEM_BYTES));
    assert!(
        refused(Algorithm::ES256, huge.as_bytes()),
        "over the size limit"
    );
}

/// (offset, length) of the contents of each top-level INTEGER in a DER SEQUENCE (PKCS#1
/// `RSAPrivateKey`: version, n, e, d, p, q, dP, dQ, qInv).
fn der_integers(der: &[u8]) -> Vec<(usize, usize)> {
    fn length(der: &[u8], at: usize) -> (usize, usize) {
        match der[at] {
            n @ 0..=0x7f => (usize::from(n), 1),
            0x81 => (usize::from(der[at + 1]), 2),
            0x82 => (usize::from(der[at + 1]) << 8 | usize::from(der[at + 2]), 3),
            other => panic!("length form {other:#x}"),
        }
    }
    assert_eq!(der[0], 0x30);
    let (_, skip) = length(der, 1);
    let mut at = 1 + skip;
    let mut out = Vec::new();
    while at < der.len() {
        assert_eq!(der[at], 0x02, "an INTEGER at {at}");
        let (len, skip) = length(der, at + 1);
        out.push((at + 1 + skip, len));
        at += 1 + skip + len;
    }
    out
}

#[test]
fn a_private_key_that_cannot_make_a_valid_signature_is_refused() {
    let doc = load("wycheproof/rsa_pkcs1_2048_sig_gen_test.json");
    let group = &doc["testGroups"][2];
    let pkcs1 = pem::decode(s(&group["privateKeyPem"]).as_bytes()).unwrap();
    assert_eq!(pkcs1.label, "RSA PRIVATE KEY");
    let integers = der_integers(&pkcs1.der);
    assert_eq!(integers.len(), 9, "version, n, e, d, p, q, dP, dQ, qInv");
    let import = |der: &[u8]| {
        let text = pem::encode("RSA PRIVATE KEY", der);
        SigningKey::from_pem_or_der(Algorithm::RS256, text.as_bytes(), None).map(|_| ())
    };
    import(&pkcs1.der).expect("the vector's own key");
    // dP changed by one bit: ring takes the key (it does not check dP against d), and every
    // signature it makes fails ring's own check of its result. Found by the key_import fuzz
    // target; now the test signature made at import refuses it.
    let (dp_at, dp_len) = integers[6];
    let mut bad_dp = pkcs1.der.clone();
    bad_dp[dp_at + dp_len - 1] ^= 0x02;
    let err = import(&bad_dp).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidKey);
    assert!(err.to_string().contains("test signature"), "{err}");
    // The same for dQ.
    let (dq_at, dq_len) = integers[7];
    let mut bad_dq = pkcs1.der.clone();
    bad_dq[dq_at + dq_len - 1] ^= 0x02;
    assert_eq!(import(&bad_dq).unwrap_err().code(), ErrorCode::InvalidKey);
}

/// One DER TLV (definite, minimal length).
fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend([0x81, len as u8]),
        _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(contents);
    out
}

#[test]
fn rsa_integers_have_one_encoding() {
    let doc = load("wycheproof/rsa_signature_2048_sha256_test.json");
    let key = &doc["testGroups"][0]["publicKey"];
    let n = hex(s(&key["modulus"])); // with the 00 its high bit needs
    let e = hex(s(&key["publicExponent"]));
    assert_eq!((n[0], n[1] & 0x80), (0, 0x80));
    let pkcs1 = |n: &[u8], e: &[u8]| {
        let der = tlv(0x30, &[tlv(0x02, n), tlv(0x02, e)].concat());
        Key::from_public_key(
            Algorithm::RS256,
            pem::encode("RSA PUBLIC KEY", &der).as_bytes(),
            None,
        )
        .map(|_| ())
        .map_err(|e| (e.code(), e.to_string()))
    };
    assert_eq!(pkcs1(&n, &e), Ok(()));
    for (why, n, e, reason) in [
        (
            "a second leading zero",
            [&[0][..], &n].concat(),
            e.clone(),
            "non-minimal DER INTEGER",
        ),
        (
            "no sign byte: a negative modulus",
            n[1..].to_vec(),
            e.clone(),
            "negative DER INTEGER",
        ),
        (
            "an exponent with a leading zero",
            n.clone(),
            [&[0][..], &e].concat(),
            "non-minimal DER INTEGER",
        ),
        (
            "an empty exponent",
            n.clone(),
            Vec::new(),
            "empty DER INTEGER",
        ),
    ] {
        let (code, message) = pkcs1(&n, &e).unwrap_err();
        assert_eq!(code, ErrorCode::InvalidKey, "{why}");
        assert!(message.contains(reason), "{why}: {message}");
    }
}
