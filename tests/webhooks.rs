//! Standard Webhooks: every case of `standard-webhooks.json` (the strict verdicts), its
//! `secret_parsing` table, signing known answers and the spec's header example; then hostile cases
//! (sizes, duplicate headers, timestamps, entry counts, tolerance edges), the replay guard, round
//! trips for both schemes and key rotation.

use std::sync::Arc;
use tollgate::webhook::{
    self, parse_signature_header, ReplayGuard, WebhookPublicKey, WebhookScheme, WebhookSecret,
    WebhookSigner, WebhookSigningKey, WebhookVerifier,
};
use tollgate::ErrorCode;
use tollgate_tests::{hex, load, Tally};

const FILE: &str = "standard-webhooks.json";

fn s<'a>(case: &'a serde_json::Value, field: &str) -> Option<&'a str> {
    case.get(field).and_then(|v| v.as_str())
}

/// The verifier a case describes: its secret, or its public key given as `public_key` (or as
/// `whpk_` + the raw form, when `raw` is set).
fn case_verifier(case: &serde_json::Value, raw: bool) -> Result<WebhookVerifier, tollgate::Error> {
    let mut v = WebhookVerifier::new().with_tolerance(case["tolerance_s"].as_u64().unwrap())?;
    if let Some(secret) = s(case, "secret") {
        v.add_secret(secret)?;
    }
    if raw {
        v.add_public_key(&format!("whpk_{}", s(case, "public_key_raw_b64").unwrap()))?;
    } else if let Some(pk) = s(case, "public_key") {
        v.add_public_key(pk)?;
    }
    Ok(v)
}

/// Verifies a case through `verify_headers`, leaving out the headers the case says are absent.
fn run_case(case: &serde_json::Value, raw: bool) -> Result<(), tollgate::Error> {
    let v = case_verifier(case, raw)?;
    let mut headers = Vec::new();
    for (name, field) in [
        ("webhook-id", "msg_id"),
        ("webhook-timestamp", "timestamp"),
        ("webhook-signature", "signature_header"),
    ] {
        if let Some(value) = s(case, field) {
            headers.push((name, value));
        }
    }
    let body = s(case, "payload").unwrap().as_bytes();
    v.verify_headers(&headers, body, case["now"].as_u64().unwrap())
}

#[test]
fn standard_webhooks_vectors() {
    let doc = load(FILE);
    let mut tally = Tally::new(FILE);
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(
        cases.len(),
        48,
        "the vector file changed: review the new cases"
    );
    for case in cases {
        let name = s(case, "name").unwrap();
        let want = case["valid"].as_bool().unwrap();
        let got = run_case(case, false);
        tally.check(name, got.is_ok() == want, || {
            format!("expected valid={want}, got {got:?} ({})", case["note"])
        });
        // The same case with the raw 32-byte form of the public key must agree.
        if s(case, "public_key_raw_b64").is_some() {
            let got = run_case(case, true);
            tally.check(format!("{name} (raw whpk_)"), got.is_ok() == want, || {
                format!("expected valid={want}, got {got:?}")
            });
        }
    }

    // Signing known answers: where the case gives the v1 signature its inputs produce.
    for case in cases {
        let (Some(expected), Some(secret), Some(id), Some(ts)) = (
            s(case, "expected_signature"),
            s(case, "secret"),
            s(case, "msg_id"),
            s(case, "timestamp"),
        ) else {
            continue;
        };
        if s(case, "scheme") != Some("v1") {
            continue;
        }
        let Ok(ts) = ts.parse::<u64>() else { continue };
        let signer = WebhookSigner::from_secret(WebhookSecret::parse(secret).unwrap());
        let got = signer.sign(id, ts, s(case, "payload").unwrap().as_bytes());
        tally.check(
            format!("sign {}", s(case, "name").unwrap()),
            got.as_deref() == Ok(expected),
            || format!("expected {expected}, got {got:?}"),
        );
    }

    for entry in doc["secret_parsing"].as_array().unwrap() {
        let secret = s(entry, "secret").unwrap();
        let want = entry["valid"].as_bool().unwrap();
        let got = WebhookSecret::parse(secret);
        let agrees = match (&got, want) {
            (Ok(key), true) => key.as_bytes() == hex(s(entry, "key_hex").unwrap()).as_slice(),
            (Err(e), false) => e.code() == ErrorCode::InvalidWebhookSecret,
            _ => false,
        };
        tally.check(format!("secret {secret:?}"), agrees, || {
            format!(
                "expected valid={want}, got {:?} ({})",
                got.map(|k| k.as_bytes().len()),
                entry["note"]
            )
        });
    }

    // The spec's example cannot be verified (its keys are unpublished) but must parse.
    let example = &doc["spec_example"];
    let parsed = parse_signature_header(s(example, "webhook-signature").unwrap());
    let agrees = parsed.as_ref().is_ok_and(|h| {
        h.unparsable == 0
            && h.entries.len() == 2
            && h.entries[0].scheme() == Some(WebhookScheme::V1)
            && h.entries[1].scheme() == Some(WebhookScheme::V1a)
    });
    tally.check("spec_example header", agrees, || format!("{parsed:?}"));
    // Checking it against a generated key pair must fail as a signature failure, not as malformed.
    let mut v = WebhookVerifier::new();
    v.add_key(&webhook::generate_secret().unwrap()).unwrap();
    v.add_key(&webhook::generate_key_pair().unwrap().1).unwrap();
    let got = v.verify(
        s(example, "webhook-id").unwrap(),
        s(example, "webhook-timestamp").unwrap(),
        s(example, "webhook-signature").unwrap(),
        s(example, "payload_minified").unwrap().as_bytes(),
        1674087231,
    );
    tally.check(
        "spec_example with other keys",
        got.as_ref()
            .is_err_and(|e| e.code() == ErrorCode::WebhookSignatureInvalid),
        || format!("{got:?}"),
    );
    tally.finish();
}

// ---- hostile and behavioural cases -------------------------------------------------------

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: &str = "1614265330";
const T: u64 = 1614265330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn verifier() -> WebhookVerifier {
    let mut v = WebhookVerifier::new();
    v.add_secret(SECRET).unwrap();
    v
}

#[track_caller]
fn code(r: Result<(), tollgate::Error>) -> ErrorCode {
    r.expect_err("expected a rejection").code()
}

#[test]
fn body_limit_at_and_past() {
    let v = verifier().with_max_body_bytes(100).unwrap();
    let signer = WebhookSigner::new(SECRET).unwrap();
    let at = vec![b'x'; 100];
    let sig = signer.sign(ID, T, &at).unwrap();
    v.verify(ID, TS, &sig, &at, T).unwrap();
    let past = vec![b'x'; 101];
    let sig = signer.sign(ID, T, &past).unwrap();
    assert_eq!(
        code(v.verify(ID, TS, &sig, &past, T)),
        ErrorCode::WebhookBodyTooLarge
    );
    // The default limit is 1 MiB.
    let big = vec![b'y'; webhook::DEFAULT_MAX_BODY_BYTES + 1];
    let sig = signer.sign(ID, T, &big).unwrap();
    assert_eq!(
        code(verifier().verify(ID, TS, &sig, &big, T)),
        ErrorCode::WebhookBodyTooLarge
    );
    assert_eq!(ErrorCode::WebhookBodyTooLarge.http_status(), 413);
    // Limits out of range are configuration errors.
    assert!(WebhookVerifier::new().with_max_body_bytes(0).is_err());
    assert!(WebhookVerifier::new()
        .with_max_body_bytes(webhook::MAX_BODY_BYTES + 1)
        .is_err());
}

#[test]
fn id_limits_and_forbidden_characters() {
    let v = verifier();
    let signer = WebhookSigner::new(SECRET).unwrap();
    let at = "i".repeat(webhook::MAX_ID_BYTES);
    let sig = signer.sign(&at, T, BODY).unwrap();
    v.verify(&at, TS, &sig, BODY, T).unwrap();
    let past = "i".repeat(webhook::MAX_ID_BYTES + 1);
    assert_eq!(
        code(v.verify(&past, TS, SIG, BODY, T)),
        ErrorCode::WebhookMalformed
    );
    assert!(signer.sign(&past, T, BODY).is_err());
    for bad in [
        "",
        "msg.1",
        "msg 1",
        "msg\t1",
        "msg\r\n1",
        "msg\u{0}1",
        "msg\u{e9}",
    ] {
        assert_eq!(
            code(v.verify(bad, TS, SIG, BODY, T)),
            ErrorCode::WebhookMalformed,
            "{bad:?}"
        );
        assert_eq!(
            signer.sign(bad, T, BODY).unwrap_err().code(),
            ErrorCode::SigningFailed,
            "{bad:?}"
        );
    }
    // Why '.' is banned: with id "msg" and body "x", the content "msg.<T>.x" could otherwise be
    // re-split as id "msg.<T>" + timestamp... or a timestamp swallowing part of the body. Neither
    // an id nor a timestamp with a '.' is accepted, so the split is unique.
    let sig = signer.sign("msg", T, b"x").unwrap();
    let shifted = format!("{T}.x");
    assert_eq!(
        code(v.verify("msg", &shifted, &sig, b"", T)),
        ErrorCode::WebhookMalformed
    );
    assert_eq!(
        code(v.verify(&format!("msg.{T}"), "x", &sig, b"", T)),
        ErrorCode::WebhookMalformed
    );
}

#[test]
fn timestamps_must_be_plain_unix_seconds() {
    let v = verifier();
    for bad in [
        "",
        "-1614265330",
        "+1614265330",
        "1614265330.0",
        " 1614265330",
        "1614265330 ",
        "1614265330\n",
        "01614265330",
        "1.6e9",
        "１６１４２６５３３０",
        "99999999999999999999999999",
        "18446744073709551616",
    ] {
        assert_eq!(
            code(v.verify(ID, bad, SIG, BODY, T)),
            ErrorCode::WebhookMalformed,
            "{bad:?}"
        );
    }
    // Twelve digits is the cap: a well-formed but far-off timestamp is out of tolerance.
    assert_eq!(
        code(v.verify(ID, "999999999999", SIG, BODY, T)),
        ErrorCode::WebhookTimestamp
    );
    assert_eq!(
        code(v.verify(ID, "0", SIG, BODY, T)),
        ErrorCode::WebhookTimestamp
    );
    // now = 0 with a real timestamp: no underflow.
    assert_eq!(
        code(v.verify(ID, TS, SIG, BODY, 0)),
        ErrorCode::WebhookTimestamp
    );
    assert_eq!(
        code(v.verify(ID, TS, SIG, BODY, u64::MAX)),
        ErrorCode::WebhookTimestamp
    );
}

#[test]
fn tolerance_boundaries() {
    let v = verifier();
    v.verify(ID, TS, SIG, BODY, T + 300).unwrap();
    v.verify(ID, TS, SIG, BODY, T - 300).unwrap();
    assert_eq!(
        code(v.verify(ID, TS, SIG, BODY, T + 301)),
        ErrorCode::WebhookTimestamp
    );
    assert_eq!(
        code(v.verify(ID, TS, SIG, BODY, T - 301)),
        ErrorCode::WebhookTimestamp
    );
    let v = verifier().with_tolerance(0).unwrap();
    v.verify(ID, TS, SIG, BODY, T).unwrap();
    assert_eq!(
        code(v.verify(ID, TS, SIG, BODY, T + 1)),
        ErrorCode::WebhookTimestamp
    );
    let v = verifier()
        .with_tolerance(webhook::MAX_TOLERANCE_SECS)
        .unwrap();
    v.verify(ID, TS, SIG, BODY, T + 86_400).unwrap();
    assert_eq!(
        code(v.verify(ID, TS, SIG, BODY, T + 86_401)),
        ErrorCode::WebhookTimestamp
    );
    let err = WebhookVerifier::new()
        .with_tolerance(webhook::MAX_TOLERANCE_SECS + 1)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidOptions);
    // The timestamp is checked before any signature: a stale forgery is reported as stale.
    assert_eq!(
        code(verifier().verify(ID, TS, "v1,AAAA", BODY, T + 1000)),
        ErrorCode::WebhookTimestamp
    );
}

#[test]
fn signature_header_limits() {
    let v = verifier();
    // 16 entries, the valid one last: accepted. 17: malformed, even with a valid one among them.
    let mut entries = vec!["v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; 15];
    entries.push(SIG);
    v.verify(ID, TS, &entries.join(" "), BODY, T).unwrap();
    entries.insert(0, "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    assert_eq!(
        code(v.verify(ID, TS, &entries.join(" "), BODY, T)),
        ErrorCode::WebhookMalformed
    );
    // Unknown versions count toward the limit too.
    let mut junk = vec!["v9,x"; 16];
    junk.push(SIG);
    assert_eq!(
        code(v.verify(ID, TS, &junk.join(" "), BODY, T)),
        ErrorCode::WebhookMalformed
    );
    // Size cap: a header at 8 KiB parses; past it is malformed before anything else.
    let padded_entry = format!(
        "x{}",
        "y".repeat(webhook::MAX_SIGNATURE_HEADER_BYTES - SIG.len() - 2)
    );
    let at = format!("{padded_entry} {SIG}");
    assert_eq!(at.len(), webhook::MAX_SIGNATURE_HEADER_BYTES);
    v.verify(ID, TS, &at, BODY, T).unwrap();
    let past = format!("{padded_entry}z {SIG}");
    assert_eq!(
        code(v.verify(ID, TS, &past, BODY, T)),
        ErrorCode::WebhookMalformed
    );
    // Extra spaces between entries are tolerated; tabs, newlines and non-ASCII are not.
    v.verify(ID, TS, &format!("  v2,abc   {SIG}  "), BODY, T)
        .unwrap();
    for bad in [
        format!("v2,abc\t{SIG}"),
        format!("{SIG}\n"),
        format!("v2,é {SIG}"),
    ] {
        assert_eq!(
            code(v.verify(ID, TS, &bad, BODY, T)),
            ErrorCode::WebhookMalformed,
            "{bad:?}"
        );
    }
    // Empty and blank headers are malformed; a header with entries that do not verify is not.
    assert_eq!(
        code(v.verify(ID, TS, "", BODY, T)),
        ErrorCode::WebhookMalformed
    );
    assert_eq!(
        code(v.verify(ID, TS, "   ", BODY, T)),
        ErrorCode::WebhookMalformed
    );
    assert_eq!(
        code(v.verify(ID, TS, "v1,", BODY, T)),
        ErrorCode::WebhookSignatureInvalid
    );
    // Versions are exact: "V1" and "v1 " variants are unknown.
    let upper = SIG.replacen("v1", "V1", 1);
    assert_eq!(
        code(v.verify(ID, TS, &upper, BODY, T)),
        ErrorCode::WebhookSignatureInvalid
    );
    // Trailing data after the signature (a second comma) is not the signature.
    assert_eq!(
        code(v.verify(ID, TS, &format!("{SIG},"), BODY, T)),
        ErrorCode::WebhookSignatureInvalid
    );
}

#[test]
fn headers_by_name() {
    let v = verifier();
    let good = [
        ("Webhook-ID", ID),
        ("WEBHOOK-TIMESTAMP", TS),
        ("webhook-signature", SIG),
    ];
    v.verify_headers(&good, BODY, T).unwrap();
    // Other headers are ignored.
    let mut more = good.to_vec();
    more.push(("content-type", "application/json"));
    more.push(("webhook-something", "x"));
    v.verify_headers(&more, BODY, T).unwrap();
    // Each of the three given twice (even with the same value) is malformed.
    for i in 0..3 {
        let mut twice = good.to_vec();
        twice.push((good[i].0, good[i].1));
        let err = v.verify_headers(&twice, BODY, T).unwrap_err();
        assert_eq!(err.code(), ErrorCode::WebhookMalformed);
        assert!(err.to_string().contains("more than once"), "{err}");
    }
    // Missing ones are malformed, and named.
    for i in 0..3 {
        let mut missing = good.to_vec();
        missing.remove(i);
        let err = v.verify_headers(&missing, BODY, T).unwrap_err();
        assert_eq!(err.code(), ErrorCode::WebhookMalformed);
        assert!(err.to_string().contains("missing"), "{err}");
    }
    assert_eq!(ErrorCode::WebhookMalformed.http_status(), 400);
}

#[test]
fn errors_never_show_secrets() {
    let bad = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS";
    let err = WebhookSecret::parse(bad).unwrap_err();
    assert!(!err.to_string().contains("MfKQ9r8G"), "{err}");
    let v = verifier();
    let err = v
        .verify(
            ID,
            TS,
            "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            BODY,
            T,
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::WebhookSignatureInvalid);
    assert!(!err.to_string().contains("MfKQ9r8G"), "{err}");
    assert!(!format!("{v:?}").contains("MfKQ9r8G"));
    let signer = WebhookSigner::new(SECRET).unwrap();
    assert!(!format!("{signer:?}").contains("MfKQ9r8G"));
}

#[test]
fn round_trips_v1_and_v1a() {
    for key in [
        webhook::generate_secret().unwrap(),
        webhook::generate_key_pair().unwrap().0,
    ] {
        let signer = WebhookSigner::new(&key).unwrap();
        let mut v = WebhookVerifier::new();
        match signer.public_key() {
            Some(pk) => v.add_key(&pk.encode()).unwrap(),
            None => v.add_key(&key).unwrap(),
        }
        let body = b"\x00binary\xffbody\n";
        let sig = signer.sign("evt_1", T, body).unwrap();
        assert!(sig.starts_with(&format!("{},", signer.scheme().version())));
        v.verify("evt_1", TS, &sig, body, T).unwrap();
        // Any change to id, timestamp or body breaks it.
        assert_eq!(
            code(v.verify("evt_2", TS, &sig, body, T)),
            ErrorCode::WebhookSignatureInvalid
        );
        assert_eq!(
            code(v.verify("evt_1", "1614265331", &sig, body, T)),
            ErrorCode::WebhookSignatureInvalid
        );
        assert_eq!(
            code(v.verify("evt_1", TS, &sig, b"other", T)),
            ErrorCode::WebhookSignatureInvalid
        );
        // Non-canonical spellings of the same signature bytes never verify.
        let unpadded = sig.trim_end_matches('=');
        assert_eq!(
            code(v.verify("evt_1", TS, unpadded, body, T)),
            ErrorCode::WebhookSignatureInvalid
        );
        let url_safe = sig.replace('+', "-").replace('/', "_");
        if url_safe != sig {
            assert_eq!(
                code(v.verify("evt_1", TS, &url_safe, body, T)),
                ErrorCode::WebhookSignatureInvalid
            );
        }
    }
}

#[test]
fn v1a_public_key_forms() {
    let sk = WebhookSigningKey::generate().unwrap();
    let pk = sk.public_key();
    let mut spki = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    spki.extend_from_slice(pk.as_bytes());
    let spki_text = format!("whpk_{}", encode_standard(&spki));
    assert_eq!(WebhookPublicKey::parse(&spki_text).unwrap(), pk);
    // 44 bytes with another prefix, and other lengths, are refused.
    spki[4] ^= 1;
    assert!(WebhookPublicKey::parse(&format!("whpk_{}", encode_standard(&spki))).is_err());
    assert!(WebhookPublicKey::parse(&format!("whpk_{}", encode_standard(&[7u8; 31]))).is_err());
    assert!(WebhookPublicKey::parse(&format!("whpk_{}", encode_standard(&[7u8; 33]))).is_err());
    assert!(WebhookPublicKey::parse("whpk_").is_err());
}

/// Standard padded base64 (test-side, independent of the core).
fn encode_standard(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn schemes_never_cross() {
    // An HMAC secret whose bytes equal an Ed25519 public key: a v1a signature is not checked with
    // it as HMAC, and a v1 signature made with the public key's bytes does not pass a verifier
    // holding only the public key.
    let sk = WebhookSigningKey::generate().unwrap();
    let pk = sk.public_key();
    let as_secret = WebhookSecret::from_bytes(pk.as_bytes()).unwrap();
    let forged = WebhookSigner::from_secret(as_secret)
        .sign(ID, T, BODY)
        .unwrap();
    let mut only_pk = WebhookVerifier::new();
    only_pk.add_key(&pk.encode()).unwrap();
    assert_eq!(
        code(only_pk.verify(ID, TS, &forged, BODY, T)),
        ErrorCode::WebhookSignatureInvalid
    );
    let real = WebhookSigner::from_signing_key(sk)
        .sign(ID, T, BODY)
        .unwrap();
    only_pk.verify(ID, TS, &real, BODY, T).unwrap();
    // The v1a bytes relabelled v1 (and v1 bytes relabelled v1a) never verify.
    let relabelled = real.replacen("v1a,", "v1,", 1);
    assert_eq!(
        code(only_pk.verify(ID, TS, &relabelled, BODY, T)),
        ErrorCode::WebhookSignatureInvalid
    );
    let v = verifier();
    let relabelled = SIG.replacen("v1,", "v1a,", 1);
    assert_eq!(
        code(v.verify(ID, TS, &relabelled, BODY, T)),
        ErrorCode::WebhookSignatureInvalid
    );
}

#[test]
fn key_rotation() {
    let old = webhook::generate_secret().unwrap();
    let new = webhook::generate_secret().unwrap();
    let (sk, pk) = webhook::generate_key_pair().unwrap();
    let mut v = WebhookVerifier::new();
    v.add_key(&old).unwrap();
    v.add_key(&new).unwrap();
    v.add_key(&pk).unwrap();
    for key in [&old, &new, &sk] {
        let sig = WebhookSigner::new(key).unwrap().sign(ID, T, BODY).unwrap();
        v.verify(ID, TS, &sig, BODY, T).unwrap();
    }
    // A sender signing with both keys during rotation: either order, one stale entry.
    let other = webhook::generate_secret().unwrap();
    let stale = WebhookSigner::new(&other)
        .unwrap()
        .sign(ID, T, BODY)
        .unwrap();
    let current = WebhookSigner::new(&new).unwrap().sign(ID, T, BODY).unwrap();
    v.verify(ID, TS, &format!("{stale} {current}"), BODY, T)
        .unwrap();
    v.verify(ID, TS, &format!("{current} {stale}"), BODY, T)
        .unwrap();
    assert_eq!(
        code(v.verify(ID, TS, &stale, BODY, T)),
        ErrorCode::WebhookSignatureInvalid
    );
    // The key count is bounded.
    let mut full = WebhookVerifier::new();
    for _ in 0..webhook::MAX_VERIFIER_KEYS {
        full.add_key(&webhook::generate_secret().unwrap()).unwrap();
    }
    let err = full
        .add_key(&webhook::generate_secret().unwrap())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidWebhookSecret);
}

#[test]
fn replay_guard_rejects_second_delivery_and_forgets_after_the_window() {
    let v = verifier();
    let guard = ReplayGuard::new(100).unwrap();
    v.verify_and_record(&guard, ID, TS, SIG, BODY, T).unwrap();
    let err = v
        .verify_and_record(&guard, ID, TS, SIG, BODY, T + 1)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::WebhookReplayed);
    assert_eq!(err.code().http_status(), 409);
    // Still inside the window at its last second...
    assert_eq!(
        code(v.verify_and_record(&guard, ID, TS, SIG, BODY, T + 300)),
        ErrorCode::WebhookReplayed
    );
    // ...and after it the same signed delivery is stale, while a retry with a new timestamp passes.
    assert_eq!(
        code(v.verify_and_record(&guard, ID, TS, SIG, BODY, T + 301)),
        ErrorCode::WebhookTimestamp
    );
    let signer = WebhookSigner::new(SECRET).unwrap();
    let retry_ts = T + 301;
    let retry = signer.sign(ID, retry_ts, BODY).unwrap();
    v.verify_and_record(&guard, ID, &retry_ts.to_string(), &retry, BODY, retry_ts)
        .unwrap();
    assert_eq!(guard.len(), 1);
}

#[test]
fn replay_guard_refuses_what_a_later_clock_has_already_forgotten() {
    // Two threads: one read the clock at T + 300 and is still verifying the replay of a
    // delivery when another records something at T + 301, which drops the original's entry
    // (its window ended at T + 300). The late replay must not be taken for a new delivery.
    let v = verifier();
    let guard = ReplayGuard::new(10).unwrap();
    v.verify_and_record(&guard, ID, TS, SIG, BODY, T).unwrap();
    assert_eq!(guard.purge(T + 301), 1);
    let late = v
        .verify_and_record(&guard, ID, TS, SIG, BODY, T + 300)
        .unwrap_err();
    assert_eq!(late.code(), ErrorCode::WebhookTimestamp);
    assert!(late.to_string().contains("ended at 1614265630"), "{late}");
    assert!(guard.is_empty());
    // The same holds for bare ids.
    assert_eq!(
        guard
            .check_and_record("msg_1", T, T + 300)
            .unwrap_err()
            .code(),
        ErrorCode::WebhookTimestamp
    );
    guard.check_and_record("msg_1", T + 1, T + 300).unwrap();
    // A delivery stamped in the future is remembered from its timestamp: no refusal there.
    guard.check_and_record("msg_2", T + 400, T + 301).unwrap();
}

#[test]
fn replay_guard_records_only_verified_deliveries() {
    let v = verifier();
    let guard = ReplayGuard::new(1).unwrap();
    let forged = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    assert_eq!(
        code(v.verify_and_record(&guard, ID, TS, forged, BODY, T)),
        ErrorCode::WebhookSignatureInvalid
    );
    assert!(guard.is_empty());
    // The genuine delivery of that id still passes, once.
    v.verify_and_record(&guard, ID, TS, SIG, BODY, T).unwrap();
    assert_eq!(
        code(v.verify_and_record(&guard, ID, TS, SIG, BODY, T)),
        ErrorCode::WebhookReplayed
    );
}

#[test]
fn replay_guard_uses_the_future_timestamp_for_expiry() {
    // A delivery stamped 300 s in the future stays acceptable until ts + 300: remembered as long.
    let v = verifier();
    let guard = ReplayGuard::new(10).unwrap();
    v.verify_and_record(&guard, ID, TS, SIG, BODY, T - 300)
        .unwrap();
    assert_eq!(
        code(v.verify_and_record(&guard, ID, TS, SIG, BODY, T + 300)),
        ErrorCode::WebhookReplayed
    );
    // A guard window shorter than the verifier's tolerance is widened to it.
    let short = ReplayGuard::new(10).unwrap().with_window(5).unwrap();
    v.verify_and_record(&short, ID, TS, SIG, BODY, T).unwrap();
    assert_eq!(
        code(v.verify_and_record(&short, ID, TS, SIG, BODY, T + 299)),
        ErrorCode::WebhookReplayed
    );
}

#[test]
fn replay_guard_capacity() {
    let guard = ReplayGuard::new(3).unwrap().with_window(10).unwrap();
    for id in ["a", "b", "c"] {
        guard.check_and_record(id, 1000, 1000).unwrap();
    }
    // Full of live ids: a new id is refused (not an old one forgotten), a known one is a replay.
    let err = guard.check_and_record("d", 1005, 1005).unwrap_err();
    assert_eq!(err.code(), ErrorCode::WebhookReplayGuardFull);
    assert_eq!(err.code().http_status(), 503);
    assert_eq!(
        guard.check_and_record("a", 1005, 1005).unwrap_err().code(),
        ErrorCode::WebhookReplayed
    );
    assert_eq!(guard.len(), 3);
    // Once their window has passed, room is made by expiring them.
    guard.check_and_record("d", 1011, 1011).unwrap();
    assert_eq!(guard.len(), 1);
    // An explicit purge.
    assert_eq!(guard.purge(1022), 1);
    assert!(guard.is_empty());
    // Bad configuration and ids.
    assert_eq!(
        ReplayGuard::new(0).unwrap_err().code(),
        ErrorCode::InvalidOptions
    );
    assert!(ReplayGuard::new(webhook::MAX_REPLAY_CAPACITY + 1).is_err());
    assert!(ReplayGuard::new(1).unwrap().with_window(86_401).is_err());
    assert_eq!(
        guard.check_and_record("a.b", 1, 1).unwrap_err().code(),
        ErrorCode::WebhookMalformed
    );
}

#[test]
fn replay_guard_is_shared_between_threads() {
    let guard = Arc::new(ReplayGuard::new(10_000).unwrap());
    let v = Arc::new(verifier());
    let signer = Arc::new(WebhookSigner::new(SECRET).unwrap());
    // Eight threads deliver the same 50 ids: each id is accepted exactly once overall.
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (guard, v, signer) = (Arc::clone(&guard), Arc::clone(&v), Arc::clone(&signer));
            std::thread::spawn(move || {
                let mut accepted = 0;
                for i in 0..50 {
                    let id = format!("msg_{i}");
                    let sig = signer.sign(&id, T, BODY).unwrap();
                    match v.verify_and_record(&guard, &id, TS, &sig, BODY, T) {
                        Ok(()) => accepted += 1,
                        Err(e) => assert_eq!(e.code(), ErrorCode::WebhookReplayed),
                    }
                }
                accepted
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 50);
    assert_eq!(guard.len(), 50);
}

/// SHA-256 of `<ID>.<BODY>`, computed with Python's hashlib.
const CLAIM_HASH: &str = "bcda2c50c55350fde15cb6a403311daac6f7adf9e5d5b836363f31d1b908edb1";

#[test]
fn a_shared_store_claims_each_verified_id_once() {
    let v = verifier();
    // Verified at the vector's own time, with a window of 600 s beyond the 300 s tolerance.
    let claim = v.verify_for_store(ID, TS, SIG, BODY, T + 10, 600).unwrap();
    assert_eq!(claim.store_key(), format!("tollgate:webhook:{CLAIM_HASH}"));
    // Through the second max(timestamp, now) + max(tolerance, window) = T + 10 + 600: the
    // delivery passes the timestamp check at now = T + 610, which lasts until the clock reads
    // T + 611, 601 s from the start of `now`.
    assert_eq!(claim.ttl_secs(), 601);
    claim.clone().settle(true).unwrap();
    assert_eq!(code(claim.settle(false)), ErrorCode::WebhookReplayed);
    // A forged delivery never reaches the store: no claim, the signature's error.
    let forged = v
        .verify_for_store(ID, TS, "v1,AAAA", BODY, T, 600)
        .unwrap_err();
    assert_eq!(forged.code(), ErrorCode::WebhookSignatureInvalid);
    let headers = [
        ("webhook-id", ID),
        ("webhook-timestamp", TS),
        ("webhook-signature", SIG),
    ];
    let by_headers = v.verify_headers_for_store(&headers, BODY, T, 0).unwrap();
    assert_eq!(
        by_headers.store_key(),
        format!("tollgate:webhook:{CLAIM_HASH}")
    );
    // The tolerance (300 s, through its last second) is the floor of the claim's life.
    assert_eq!(by_headers.ttl_secs(), 301);
}

#[test]
fn a_shared_store_claim_is_the_delivery_not_the_id_alone() {
    // Two verifiers share one store: the vector's sender, and another sender whose ids may
    // collide with it (predictable ids such as `msg_1`).
    let ours = verifier();
    let other_secret = webhook::generate_secret().unwrap();
    let mut theirs = WebhookVerifier::new();
    theirs.add_secret(&other_secret).unwrap();
    let genuine = ours.verify_for_store(ID, TS, SIG, BODY, T, 0).unwrap();

    // The other sender delivers its own message under the same id first: its claim is another
    // key, so it cannot get the genuine delivery refused as a replay.
    let their_body = br#"{"test": 1}"#;
    let their_sig = WebhookSigner::new(&other_secret)
        .unwrap()
        .sign(ID, T, their_body)
        .unwrap();
    let squatted = theirs
        .verify_for_store(ID, TS, &their_sig, their_body, T, 0)
        .unwrap();
    // SHA-256 of `msg_p5jXN8AQM9LWM0D4loKWxJek.{"test": 1}`, computed with Python's hashlib.
    assert_eq!(
        squatted.store_key(),
        "tollgate:webhook:ec660774a635cbe5eb44e3e2189a3d606659fedca82a24f187ddaf4201891065"
    );
    assert_ne!(squatted.store_key(), genuine.store_key());

    // A retry of the genuine message (same id and body, a new timestamp and signature) claims the
    // same key, so it is refused once the first delivery was accepted.
    let retry_ts = T + 60;
    let retry_sig = WebhookSigner::new(SECRET)
        .unwrap()
        .sign(ID, retry_ts, BODY)
        .unwrap();
    let retry = ours
        .verify_for_store(ID, &retry_ts.to_string(), &retry_sig, BODY, retry_ts, 0)
        .unwrap();
    assert_eq!(retry.store_key(), genuine.store_key());
}

#[test]
fn an_ed25519_key_of_small_order_verifies_nothing() {
    // Under the neutral point A, [S]B - [h]A = [S]B for every message: with S = 0 the signature
    // (R = the neutral point's encoding, S = 0) verifies any delivery.
    let mut neutral = [0u8; 32];
    neutral[0] = 1;
    let mut forged = [0u8; 64];
    forged[0] = 1;
    let forged = format!("v1a,{}", encode_standard(&forged));
    let text = format!("whpk_{}", encode_standard(&neutral));
    let err = WebhookPublicKey::parse(&text).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidWebhookSecret);
    assert!(err.to_string().contains("small order"), "{err}");
    // Taken from raw bytes, such a key is kept but verifies no signature.
    let mut v = WebhookVerifier::new();
    v.add_parsed_public_key(WebhookPublicKey::from_bytes(neutral))
        .unwrap();
    for body in [BODY, b"anything at all".as_slice()] {
        assert_eq!(
            code(v.verify(ID, TS, &forged, body, T)),
            ErrorCode::WebhookSignatureInvalid
        );
    }
}

#[test]
fn verifiers_of_two_senders_may_share_one_replay_guard() {
    // The in-process guard, as the store: another sender's delivery under the same (predictable)
    // id, recorded first, does not get the genuine one refused. A replay of either still is.
    let guard = ReplayGuard::new(10).unwrap();
    let ours = verifier();
    let other_secret = webhook::generate_secret().unwrap();
    let mut theirs = WebhookVerifier::new();
    theirs.add_secret(&other_secret).unwrap();
    let their_body = br#"{"test": 1}"#;
    let their_sig = WebhookSigner::new(&other_secret)
        .unwrap()
        .sign(ID, T, their_body)
        .unwrap();
    theirs
        .verify_and_record(&guard, ID, TS, &their_sig, their_body, T)
        .unwrap();
    ours.verify_and_record(&guard, ID, TS, SIG, BODY, T)
        .unwrap();
    assert_eq!(
        code(ours.verify_and_record(&guard, ID, TS, SIG, BODY, T + 1)),
        ErrorCode::WebhookReplayed
    );
    assert_eq!(
        code(theirs.verify_and_record(&guard, ID, TS, &their_sig, their_body, T + 1)),
        ErrorCode::WebhookReplayed
    );
    // A host that records ids itself still records ids, apart from deliveries.
    guard.check_and_record(ID, T, T).unwrap();
    assert_eq!(
        code(guard.check_and_record(ID, T, T)),
        ErrorCode::WebhookReplayed
    );
}
