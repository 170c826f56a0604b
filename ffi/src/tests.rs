//! The ABI driven from Rust, as C drives it: raw pointers in, statuses and handles out. The C
//! programs under `tests/c/` replay the full tables; these keep `cargo test` meaningful alone.

use crate::apikey::*;
use crate::decision::*;
use crate::engine::*;
use crate::status::Status;
use crate::verifier::*;
use crate::webhook::*;
use crate::*;
use std::ffi::{c_char, CStr};
use std::ptr::{null, null_mut};

fn example(deployment: &str, file: &str) -> Vec<u8> {
    let path = format!(
        "{}/../examples/{deployment}/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn borrowed(p: *const c_char, len: usize) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: getters return NUL-terminated strings of `len` bytes that live as long as the
    // handle, which the caller still holds.
    let s = unsafe { CStr::from_ptr(p) };
    assert_eq!(s.to_bytes().len(), len);
    Some(s.to_str().unwrap().to_owned())
}

fn owned(p: *mut c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: a string made by this library, read then freed once.
    let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
    tg_string_free(p);
    s
}

fn header(name: &'static str, value: &str) -> Header {
    Header {
        name: name.as_ptr(),
        name_len: name.len(),
        value: value.as_ptr(),
        value_len: value.len(),
    }
}

fn engine_for(deployment: &str) -> *mut Engine {
    let policy = example(deployment, "policy.json");
    let snapshot = example(deployment, "snapshot.json");
    let mut engine = null_mut();
    let mut error = null_mut();
    let st = tg_engine_new(policy.as_ptr(), policy.len(), &mut engine, &mut error);
    assert_eq!(st, Status::Ok);
    assert!(error.is_null());
    let st = tg_engine_swap_snapshot_json(engine, snapshot.as_ptr(), snapshot.len(), null_mut());
    assert_eq!(st, Status::Ok);
    engine
}

fn check(engine: *const Engine, method: &str, path: &str, headers: &[Header]) -> *mut Decision {
    let mut d = null_mut();
    let st = tg_engine_check(
        engine,
        method.as_ptr(),
        method.len(),
        path.as_ptr(),
        path.len(),
        headers.as_ptr(),
        headers.len(),
        1_767_225_600,
        &mut d,
    );
    assert_eq!(st, Status::Ok);
    d
}

fn tenant_path_token(name: &str) -> String {
    let table: serde_json::Value =
        serde_json::from_slice(&example("tenant-path", "scenarios.json")).unwrap();
    table["tokens"][name].as_str().unwrap().to_owned()
}

#[test]
fn handles_cross_threads_as_documented() {
    fn shared<T: Send + Sync>() {}
    fn owned_by_one<T: Send>() {}
    shared::<Engine>();
    shared::<Verifier>();
    shared::<WebhookVerifier>();
    shared::<ReplayGuard>();
    owned_by_one::<Decision>();
    owned_by_one::<Token>();
    owned_by_one::<Snapshot>();
}

#[test]
fn a_decision_reads_back_through_the_getters() {
    let engine = engine_for("tenant-path");
    let alice = tenant_path_token("alice");
    let d = check(
        engine,
        "POST",
        "/api/tenants/A/items",
        &[header("token", &alice)],
    );
    let mut len = 0;
    assert_eq!(tg_decision_status(d), 200);
    assert_eq!(tg_decision_reason(d), 0);
    assert_eq!(
        borrowed(tg_decision_reason_name(d, &mut len), len).as_deref(),
        Some("ok")
    );
    assert_eq!(
        borrowed(tg_decision_subject(d, &mut len), len).as_deref(),
        Some("alice")
    );
    assert_eq!(
        borrowed(tg_decision_tenant(d, &mut len), len).as_deref(),
        Some("A")
    );
    let roles: Vec<String> = (0..tg_decision_roles_count(d))
        .map(|i| borrowed(tg_decision_role(d, i, &mut len), len).unwrap())
        .collect();
    assert_eq!(roles, ["Admin", "Viewer"]);
    assert!(tg_decision_role(d, 2, null_mut()).is_null());
    let perm = "items:write";
    assert!(tg_decision_has_permission(d, perm.as_ptr(), perm.len()));
    let mut exp = 0.0;
    assert!(tg_decision_expires_at(d, &mut exp));
    assert!(exp > 1_767_225_600.0);
    let mut h = header("", "");
    let n = tg_decision_forward_headers_count(d);
    assert_eq!(n, 3);
    assert_eq!(tg_decision_forward_header(d, 0, &mut h), Status::Ok);
    assert_eq!(tg_decision_forward_header(d, n, &mut h), Status::OutOfRange);
    let mut json = null_mut();
    assert_eq!(tg_decision_to_json(d, &mut json), Status::Ok);
    let json: serde_json::Value = serde_json::from_str(&owned(json)).unwrap();
    assert_eq!(json["principal"]["subject"], "alice");

    // Re-issue, then reuse the decision for a refusal: its pointers are refreshed.
    let mut token = null_mut();
    assert_eq!(
        tg_engine_reissue(engine, d, 1_767_225_600, &mut token, null_mut()),
        Status::Ok
    );
    let token = owned(token);
    let other = engine_for("tenant-path");
    let mut refused = null_mut();
    assert_eq!(
        tg_engine_reissue(other, d, 1_767_225_600, &mut refused, null_mut()),
        Status::SigningFailed,
        "only the engine that made a decision re-issues its token"
    );
    assert!(refused.is_null());
    tg_engine_free(other);
    let st = tg_engine_check_into(
        engine,
        "GET".as_ptr(),
        3,
        "/api/tenants/C/items".as_ptr(),
        20,
        [header("token", &token)].as_ptr(),
        1,
        1_767_225_600,
        d,
    );
    assert_eq!(st, Status::Ok);
    assert_eq!(tg_decision_status(d), 404);
    assert_eq!(
        borrowed(tg_decision_reason_name(d, &mut len), len).as_deref(),
        Some("not_found")
    );

    // A call that fails empties the reused decision: alice's 200 must not stay readable.
    let allowed = [header("token", &alice)];
    let check_a = |headers: *const Header| {
        tg_engine_check_into(
            engine,
            "POST".as_ptr(),
            4,
            "/api/tenants/A/items".as_ptr(),
            20,
            headers,
            1,
            1_767_225_600,
            d,
        )
    };
    assert_eq!(check_a(allowed.as_ptr()), Status::Ok);
    assert_eq!(tg_decision_status(d), 200);
    assert_eq!(check_a(core::ptr::null()), Status::NullParameter);
    assert_eq!(tg_decision_status(d), 0);
    // A NULL engine too.
    assert_eq!(check_a(allowed.as_ptr()), Status::Ok);
    let no_engine = tg_engine_check_into(
        core::ptr::null(),
        "POST".as_ptr(),
        4,
        "/api/tenants/A/items".as_ptr(),
        20,
        allowed.as_ptr(),
        1,
        1_767_225_600,
        d,
    );
    assert_eq!(no_engine, Status::NullParameter);
    assert_eq!(tg_decision_status(d), 0);
    assert_eq!(tg_decision_reason(d), 1);
    assert_eq!(
        borrowed(tg_decision_reason_name(d, &mut len), len).as_deref(),
        Some("internal_error")
    );
    assert!(tg_decision_subject(d, &mut len).is_null());
    assert_eq!(tg_decision_forward_headers_count(d), 0);
    tg_decision_free(d);
    tg_engine_free(engine);
}

#[test]
fn snapshots_swap_once_and_only_into_their_engine() {
    let a = engine_for("tenant-path");
    let b = engine_for("tenant-path");
    let doc = example("tenant-path", "snapshot.json");
    let mut snap = null_mut();
    assert_eq!(
        tg_snapshot_new(a, doc.as_ptr(), doc.len(), &mut snap, null_mut()),
        Status::Ok
    );
    let mut error = null_mut();
    assert_eq!(
        tg_engine_swap_snapshot(b, snap, &mut error),
        Status::InvalidSnapshot
    );
    assert!(owned(error).contains("another engine"));
    assert_eq!(tg_engine_swap_snapshot(a, snap, null_mut()), Status::Ok);
    assert_eq!(
        tg_engine_swap_snapshot(a, snap, null_mut()),
        Status::InvalidSnapshot
    );
    tg_snapshot_free(snap);
    tg_engine_free(a);
    tg_engine_free(b);
}

#[test]
fn requests_that_are_not_utf8_get_a_400_decision() {
    let engine = engine_for("tenant-path");
    let mut d = null_mut();
    let path = b"/api/\xff";
    let st = tg_engine_check(
        engine,
        "GET".as_ptr(),
        3,
        path.as_ptr(),
        path.len(),
        null(),
        0,
        0,
        &mut d,
    );
    assert_eq!(st, Status::Ok);
    assert_eq!(tg_decision_status(d), 400);
    assert_eq!(tg_decision_reason(d), Status::InvalidRequest.number());
    tg_decision_free(d);
    let st = tg_engine_check(engine, null(), 3, null(), 0, null(), 0, 0, &mut d);
    assert_eq!(st, Status::NullParameter);
    tg_engine_free(engine);
}

#[test]
fn plain_verification_and_signature_only_verification() {
    let snapshot: serde_json::Value =
        serde_json::from_slice(&example("tenant-path", "snapshot.json")).unwrap();
    let keys = snapshot["keys"]["app"].to_string();
    let options = r#"{"issuers":["https://app.example"],"leeway":0,"max_lifetime":600}"#;
    let mut v = null_mut();
    let st = tg_verifier_new(
        keys.as_ptr(),
        keys.len(),
        options.as_ptr(),
        options.len(),
        &mut v,
        null_mut(),
    );
    assert_eq!(st, Status::Ok);
    let alice = tenant_path_token("alice");
    let mut t = null_mut();
    let st = tg_verifier_verify(
        v,
        alice.as_ptr(),
        alice.len(),
        1_767_225_600,
        &mut t,
        null_mut(),
    );
    assert_eq!(st, Status::Ok);
    let mut len = 0;
    assert_eq!(
        borrowed(tg_token_subject(t, &mut len), len).as_deref(),
        Some("alice")
    );
    assert_eq!(
        borrowed(tg_token_algorithm(t, &mut len), len).as_deref(),
        Some("HS256")
    );
    tg_token_free(t);
    let mut error = null_mut();
    let st = tg_verifier_verify(
        v,
        alice.as_ptr(),
        alice.len(),
        4_000_000_000,
        &mut t,
        &mut error,
    );
    assert_eq!(st, Status::Expired);
    assert!(owned(error).contains("expired"));
    let st = tg_verifier_verify_jws(v, alice.as_ptr(), alice.len(), &mut t, null_mut());
    assert_eq!(st, Status::Ok);
    assert!(tg_token_claims_json(t, null_mut()).is_null());
    assert!(!tg_token_payload(t, null_mut()).is_null());
    tg_token_free(t);
    tg_verifier_free(v);

    // With a cache, a repeat is served from it and still gets its claims checked.
    let cached = r#"{"issuers":["https://app.example"],"leeway":0,"cache":{"ttl":60}}"#;
    let st = tg_verifier_new(
        keys.as_ptr(),
        keys.len(),
        cached.as_ptr(),
        cached.len(),
        &mut v,
        null_mut(),
    );
    assert_eq!(st, Status::Ok);
    for (now, want) in [
        (1_767_225_600, Status::Ok),
        (1_767_225_601, Status::Ok),
        (4_000_000_000, Status::Expired),
    ] {
        let st = tg_verifier_verify(v, alice.as_ptr(), alice.len(), now, &mut t, null_mut());
        assert_eq!(st, want);
        tg_token_free(t);
        t = null_mut();
    }
    tg_verifier_free(v);

    // Refused options: the message names the member at fault.
    for (bad, says) in [
        (r#"{"leeway":601}"#, "leeway"),
        (
            r#"{"cache":{"ttl":"soon"}}"#,
            "invalid options: cache.ttl: invalid type: string \"soon\", expected u64",
        ),
        (
            r#"{"issuers":["https://app.example",7]}"#,
            "invalid options: issuers[1]: invalid type: integer `7`, expected a string",
        ),
        (r#"{"leway":60}"#, "invalid options: unknown field `leway`"),
        // An empty allow-list (a configuration left empty) is not "any issuer".
        (
            r#"{"issuers":[]}"#,
            "invalid options: issuers: an empty list would accept anything",
        ),
        (r#"{"typ":"JWT","typ":"JWT"}"#, "duplicate"),
        (r#"[]"#, "invalid options"),
    ] {
        let (mut v, mut e) = (null_mut(), null_mut());
        let st = tg_verifier_new(
            keys.as_ptr(),
            keys.len(),
            bad.as_ptr(),
            bad.len(),
            &mut v,
            &mut e,
        );
        assert_eq!(st, Status::InvalidOptions, "{bad}");
        assert!(v.is_null());
        let message = owned(e);
        assert!(message.contains(says), "{bad}: {message}");
    }
}

/// `tg_backends` lists what the build has, preferred first; a verifier's `"backend"` picks one of
/// them, and a backend the build lacks (or no backend at all) is an options error.
#[test]
fn backends_are_listed_and_chosen_per_verifier() {
    // SAFETY: tg_backends returns a static NUL-terminated string.
    let listed = unsafe { CStr::from_ptr(tg_backends()) }
        .to_str()
        .unwrap()
        .to_owned();
    // The core's feature decides (cargo unifies it across the workspace's crates).
    let expected = if tollgate_core::crypto::Backend::AwsLc.is_available() {
        "aws-lc,ring"
    } else {
        "ring"
    };
    assert_eq!(listed, expected);
    let snapshot: serde_json::Value =
        serde_json::from_slice(&example("tenant-path", "snapshot.json")).unwrap();
    let keys = snapshot["keys"]["app"].to_string();
    let alice = tenant_path_token("alice");
    for (backend, want, says) in [
        ("ring", Status::Ok, ""),
        (
            "aws-lc",
            if listed.contains("aws-lc") {
                Status::Ok
            } else {
                Status::InvalidOptions
            },
            "this build has no aws-lc backend",
        ),
        (
            "openssl",
            Status::InvalidOptions,
            "unknown backend \"openssl\"",
        ),
    ] {
        let options = format!(r#"{{"issuers":["https://app.example"],"backend":"{backend}"}}"#);
        let (mut v, mut e) = (null_mut(), null_mut());
        let st = tg_verifier_new(
            keys.as_ptr(),
            keys.len(),
            options.as_ptr(),
            options.len(),
            &mut v,
            &mut e,
        );
        assert_eq!(st, want, "{backend}");
        if want != Status::Ok {
            assert!(owned(e).contains(says), "{backend}");
            assert!(v.is_null());
            continue;
        }
        let mut t = null_mut();
        let st = tg_verifier_verify(
            v,
            alice.as_ptr(),
            alice.len(),
            1_767_225_600,
            &mut t,
            null_mut(),
        );
        assert_eq!(st, Status::Ok, "{backend}");
        tg_token_free(t);
        tg_verifier_free(v);
    }
}

#[test]
fn api_keys_round_trip() {
    let (prefix, owner, pepper) = ("fln_live", "sa_billing", [7u8; 16]);
    let (mut key, mut record) = (null_mut(), null_mut());
    let st = tg_apikey_generate(
        prefix.as_ptr(),
        prefix.len(),
        owner.as_ptr(),
        owner.len(),
        pepper.as_ptr(),
        pepper.len(),
        100,
        &mut key,
        &mut record,
        null_mut(),
    );
    assert_eq!(st, Status::Ok);
    let (key, record) = (owned(key), owned(record));
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(
        tg_apikey_check(key.as_ptr(), key.len(), null(), 0),
        Status::Ok
    );
    let typo = key.replacen("fln_live_", "fln_live_x", 1);
    assert_eq!(
        tg_apikey_check(typo.as_ptr(), typo.len(), prefix.as_ptr(), prefix.len()),
        Status::MalformedApiKey
    );
    // A list of nothing but spaces is no list: refused, not "any prefix".
    let other = key.replacen("fln_live_", "evil_", 1);
    assert_eq!(
        tg_apikey_check(other.as_ptr(), other.len(), "fln_live".as_ptr(), 8),
        Status::MalformedApiKey
    );
    assert_eq!(
        tg_apikey_check(other.as_ptr(), other.len(), "  ".as_ptr(), 2),
        Status::InvalidOptions
    );
    // The key's own prefix must be one Tollgate could generate: this one's checksum is right
    // (zlib.crc32 in base62), its prefix is not.
    let spaced = "x y_0123456789abcdefghijABCDEFGHIJKL0fwyNp";
    assert_eq!(
        tg_apikey_check(spaced.as_ptr(), spaced.len(), null(), 0),
        Status::MalformedApiKey
    );
    // A listed prefix no key can carry is a configuration mistake.
    assert_eq!(
        tg_apikey_check(key.as_ptr(), key.len(), "fln-live".as_ptr(), 8),
        Status::InvalidOptions
    );
    let mut hash = null_mut();
    let st = tg_apikey_hash(
        key.as_ptr(),
        key.len(),
        pepper.as_ptr(),
        pepper.len(),
        &mut hash,
    );
    assert_eq!(st, Status::Ok);
    assert_eq!(record["hash"], owned(hash));
    let st = tg_apikey_hash(key.as_ptr(), key.len(), pepper.as_ptr(), 8, &mut hash);
    assert_eq!(st, Status::InvalidOptions);
}

#[test]
fn webhooks_sign_verify_and_refuse_replays() {
    let mut secret = null_mut();
    assert_eq!(tg_webhook_secret_generate(&mut secret), Status::Ok);
    let secret = owned(secret);
    let (id, body) = ("msg_1", br#"{"type":"invoice.paid"}"#);
    let mut sig = null_mut();
    let st = tg_webhook_sign(
        secret.as_ptr(),
        secret.len(),
        id.as_ptr(),
        id.len(),
        1_700_000_000,
        body.as_ptr(),
        body.len(),
        &mut sig,
        null_mut(),
    );
    assert_eq!(st, Status::Ok);
    let sig = owned(sig);
    let headers = [
        header("Webhook-Id", id),
        header("Webhook-Timestamp", "1700000000"),
        header("Webhook-Signature", &sig),
    ];
    let config = serde_json::json!({ "keys": [secret] }).to_string();
    let (mut v, mut g) = (null_mut(), null_mut());
    assert_eq!(
        tg_webhook_verifier_new(config.as_ptr(), config.len(), &mut v, null_mut()),
        Status::Ok
    );
    assert_eq!(tg_replay_guard_new(100, 0, &mut g, null_mut()), Status::Ok);
    let verify = |now| {
        tg_webhook_verifier_verify(
            v,
            g,
            headers.as_ptr(),
            3,
            body.as_ptr(),
            body.len(),
            now,
            null_mut(),
        )
    };
    assert_eq!(verify(1_700_000_010), Status::Ok);
    assert_eq!(verify(1_700_000_020), Status::WebhookReplayed);
    assert_eq!(
        tg_webhook_verify(
            secret.as_ptr(),
            secret.len(),
            headers.as_ptr(),
            3,
            body.as_ptr(),
            body.len(),
            1_700_001_000,
            null_mut()
        ),
        Status::WebhookTimestampOutOfTolerance
    );
    tg_replay_guard_free(g);
    tg_webhook_verifier_free(v);
}

#[test]
fn static_strings_and_null_safe_frees() {
    // SAFETY: static NUL-terminated strings.
    let text = |p: *const c_char| unsafe { CStr::from_ptr(p) }.to_str().unwrap();
    assert_eq!(text(tg_version()), env!("CARGO_PKG_VERSION"));
    assert_eq!(text(tg_error_name(400)), "expired");
    assert_eq!(text(tg_error_name(2000)), "null_parameter");
    assert_eq!(text(tg_error_name(12345)), "unknown");
    assert_eq!(text(tg_error_message(400)), "token has expired");
    assert_eq!(tg_error_http_status(711), 404);
    tg_engine_free(null_mut());
    tg_snapshot_free(null_mut());
    tg_decision_free(null_mut());
    tg_verifier_free(null_mut());
    tg_token_free(null_mut());
    tg_webhook_verifier_free(null_mut());
    tg_replay_guard_free(null_mut());
    tg_string_free(null_mut());
    assert_eq!(tg_decision_status(null()), 0);
    assert_eq!(tg_decision_reason(null()), Status::NullParameter.number());
    assert!(tg_decision_subject(null(), null_mut()).is_null());
}

/// A refused webhook configuration names the member at fault and never shows a key list's text.
#[test]
fn webhook_configurations_are_read_strictly_and_keep_secrets_out_of_messages() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    for (config, says) in [
        (
            format!(r#"{{"secrets":"{secret}"}}"#),
            "invalid webhook configuration: secrets: invalid type: expected a sequence of strings (the value is not shown)",
        ),
        (
            format!(r#"{{"keys":["{secret}",{{"k":"{secret}"}}]}}"#),
            "invalid webhook configuration: keys[1]: invalid type: expected a string (the value is not shown)",
        ),
        (
            r#"{"tolerance":"300"}"#.to_owned(),
            "invalid webhook configuration: tolerance: invalid type: string \"300\", expected u64",
        ),
        (
            r#"{"secret":[]}"#.to_owned(),
            "invalid webhook configuration: unknown field `secret`",
        ),
        (
            r#"{"tolerance":1,"tolerance":2}"#.to_owned(),
            "duplicate",
        ),
        (
            r#"{"keys":[],"tolerance":60}"#.to_owned(),
            "invalid webhook configuration: no key (keys, secrets or public_keys)",
        ),
        ("{}".to_owned(), "no key"),
    ] {
        let (mut v, mut e) = (null_mut(), null_mut());
        let st = tg_webhook_verifier_new(config.as_ptr(), config.len(), &mut v, &mut e);
        assert_eq!(st, Status::InvalidOptions, "{config}");
        assert!(v.is_null());
        let message = owned(e);
        assert!(message.contains(says), "{config}: {message}");
        assert!(!message.contains("MfKQ9r8"), "{config}: {message}");
    }
}
