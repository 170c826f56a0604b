//! The key-set refresher and OpenID discovery (`core/src/refresh.rs`, `core/src/discovery.rs`),
//! driven with a fake clock: schedules from `Cache-Control`, rotation, outages with backoff,
//! floods of forged kids, staleness, skipped keys, and a refreshed set swapped into an engine.

use std::sync::Arc;

use tollgate::discovery;
use tollgate::refresh::{Poll, RefreshConfig, Refresher};
use tollgate::{keygen, Algorithm, Engine, ErrorCode, Request, Snapshot};

const T0: u64 = 1_767_225_600;

/// A public ES256 JWK with a fresh key (its kid is the RFC 7638 thumbprint).
fn es256_jwk() -> serde_json::Value {
    keygen::generate(Algorithm::ES256)
        .expect("keygen")
        .public_jwk
        .expect("public jwk")
}

fn kid(jwk: &serde_json::Value) -> String {
    jwk["kid"].as_str().expect("kid").to_owned()
}

fn jwks(keys: &[&serde_json::Value]) -> Vec<u8> {
    serde_json::json!({ "keys": keys }).to_string().into_bytes()
}

fn refresher() -> Refresher {
    Refresher::new(RefreshConfig::default()).expect("defaults are valid")
}

fn kids_at(r: &Refresher, now: u64) -> Vec<String> {
    let set = r.key_set(now).expect("a key set");
    let mut kids: Vec<String> = set
        .keys()
        .iter()
        .filter_map(|k| k.kid().map(str::to_owned))
        .collect();
    kids.sort();
    kids
}

#[test]
fn the_first_poll_fetches_and_nothing_is_served_before_a_good_fetch() {
    let mut r = refresher();
    assert_eq!(r.poll(T0), Poll::Fetch);
    let e = r.key_set(T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeySetFetchFailed);
    r.on_fetch_failed("connection refused", T0);
    let e = r.key_set(T0).unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeySetFetchFailed);
    assert!(e.to_string().contains("connection refused"), "{e}");
}

#[test]
fn cache_control_max_age_sets_the_schedule_within_bounds() {
    let key = es256_jwk();
    let body = jwks(&[&key]);
    for (headers, ttl) in [
        (vec![("Cache-Control", "public, max-age=600")], 600),
        (vec![("cache-control", "max-age=10")], 300),
        (vec![("CACHE-CONTROL", "max-age=999999999")], 86_400),
        (vec![("Cache-Control", "max-age=\"1200\"")], 1200),
        (vec![("Cache-Control", "no-cache")], 300),
        (vec![("Cache-Control", "no-store, max-age=3600")], 300),
        (vec![("Cache-Control", "max-age=abc")], 900),
        (
            vec![
                ("Cache-Control", "private"),
                ("Cache-Control", "max-age=7200"),
            ],
            7200,
        ),
        (vec![], 900),
    ] {
        let mut r = refresher();
        let fetched = r.on_fetched(200, &headers, &body, T0).expect("good fetch");
        assert_eq!(fetched.next_fetch, T0 + ttl, "{headers:?}");
        assert_eq!((fetched.keys, fetched.skipped), (1, 0));
        assert_eq!(r.poll(T0 + ttl - 1), Poll::Wait { until: T0 + ttl });
        assert_eq!(r.poll(T0 + ttl), Poll::Fetch);
    }
}

#[test]
fn rotation_serves_old_and_new_keys_while_both_are_published() {
    let (old, new) = (es256_jwk(), es256_jwk());
    let mut r = refresher();
    r.on_fetched(200, &[], &jwks(&[&old]), T0).unwrap();
    assert_eq!(kids_at(&r, T0), vec![kid(&old)]);
    // The provider publishes the next key ahead of using it.
    r.on_fetched(200, &[], &jwks(&[&old, &new]), T0 + 900)
        .unwrap();
    let mut both = vec![kid(&old), kid(&new)];
    both.sort();
    assert_eq!(kids_at(&r, T0 + 900), both);
    // Then retires the old one: gone at the first fetch that no longer has it.
    r.on_fetched(200, &[], &jwks(&[&new]), T0 + 1800).unwrap();
    assert_eq!(kids_at(&r, T0 + 1800), vec![kid(&new)]);
}

#[test]
fn failures_keep_the_last_good_set_and_back_off_exponentially() {
    let key = es256_jwk();
    let mut r = refresher();
    r.on_fetched(200, &[("Cache-Control", "max-age=300")], &jwks(&[&key]), T0)
        .unwrap();
    let mut now = T0 + 300;
    let mut delays = Vec::new();
    for attempt in 0..9 {
        assert_eq!(r.poll(now), Poll::Fetch, "attempt {attempt}");
        let result = match attempt % 3 {
            0 => r
                .on_fetched(500, &[], b"Internal Server Error", now)
                .map(|_| ()),
            1 => r
                .on_fetched(200, &[], b"<html>not json</html>", now)
                .map(|_| ()),
            _ => {
                r.on_fetch_failed("timed out", now);
                Err(r.last_error().cloned().unwrap())
            }
        };
        let e = result.unwrap_err();
        assert_eq!(e.code(), ErrorCode::KeySetFetchFailed, "{e}");
        assert_eq!(kids_at(&r, now), vec![kid(&key)], "the last good set stays");
        let Poll::Wait { until } = r.poll(now) else {
            panic!("a failure schedules a retry")
        };
        delays.push(until - now);
        now = until;
    }
    assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
    assert_eq!(r.failures(), 9);
    // Recovery: one good fetch resets the backoff and the schedule.
    let fetched = r.on_fetched(200, &[], &jwks(&[&key]), now).unwrap();
    assert_eq!(fetched.next_fetch, now + 900);
    assert_eq!(r.failures(), 0);
    assert!(r.last_error().is_none());
}

#[test]
fn bodies_without_a_usable_key_are_failures() {
    let key = es256_jwk();
    let mut r = refresher();
    r.on_fetched(200, &[], &jwks(&[&key]), T0).unwrap();
    for body in [
        &b""[..],
        b"{}",
        b"[]",
        br#"{"keys": []}"#,
        br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}"#,
        br#"{"keys": "nope"}"#,
        br#"{"keys": [], "keys": []}"#,
    ] {
        let e = r.on_fetched(200, &[], body, T0 + 1).unwrap_err();
        assert_eq!(e.code(), ErrorCode::KeySetFetchFailed, "{body:?}: {e}");
        assert_eq!(kids_at(&r, T0 + 1), vec![kid(&key)]);
    }
    // Over the body cap.
    let mut config = RefreshConfig::default();
    config.max_body_bytes = 100;
    let mut small = Refresher::new(config).unwrap();
    let e = small.on_fetched(200, &[], &jwks(&[&key]), T0).unwrap_err();
    assert!(e.to_string().contains("the limit is 100"), "{e}");
}

#[test]
fn unusable_keys_are_skipped_and_reported_not_fatal() {
    let good = es256_jwk();
    let mut enc = es256_jwk();
    enc["use"] = "enc".into();
    enc["kid"] = "enc-key".into();
    let mut es512 = es256_jwk();
    es512["alg"] = "ES512".into();
    es512["kid"] = "es512".into();
    let mut dup_a = es256_jwk();
    dup_a["kid"] = "dup".into();
    let mut dup_b = es256_jwk();
    dup_b["kid"] = "dup".into();
    let oct = serde_json::json!({"kty": "oct", "kid": "hmac", "alg": "HS256",
        "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2U"});
    let rsa_no_alg =
        serde_json::json!({"kty": "RSA", "kid": "rsa-no-alg", "n": "AQAB", "e": "AQAB"});
    let unknown_kty = serde_json::json!({"kty": "PQC", "kid": "future"});
    let body = jwks(&[
        &enc,
        &good,
        &es512,
        &dup_a,
        &oct,
        &dup_b,
        &rsa_no_alg,
        &unknown_kty,
    ]);
    let mut r = refresher();
    let fetched = r.on_fetched(200, &[], &body, T0).unwrap();
    assert_eq!((fetched.keys, fetched.skipped), (1, 7));
    assert_eq!(kids_at(&r, T0), vec![kid(&good)]);
    let skipped: Vec<(usize, Option<&str>, ErrorCode)> = r
        .skipped()
        .iter()
        .map(|s| (s.index, s.kid.as_deref(), s.code))
        .collect();
    assert_eq!(
        skipped,
        [
            (0, Some("enc-key"), ErrorCode::KeyNotForVerification),
            (2, Some("es512"), ErrorCode::UnsupportedKeyAlgorithm),
            (3, Some("dup"), ErrorCode::DuplicateKid),
            (4, Some("hmac"), ErrorCode::MixedKeySet),
            (5, Some("dup"), ErrorCode::DuplicateKid),
            (6, Some("rsa-no-alg"), ErrorCode::InvalidKey),
            (7, Some("future"), ErrorCode::InvalidKey),
        ]
    );
    // Keys of algorithms the provider does not allow are skipped too.
    let mut config = RefreshConfig::default();
    config.algorithms = vec![Algorithm::EdDSA];
    let mut eddsa_only = Refresher::new(config).unwrap();
    let e = eddsa_only
        .on_fetched(200, &[], &jwks(&[&good]), T0)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("no key Tollgate can use (1 skipped)"),
        "{e}"
    );
}

#[test]
fn a_flood_of_forged_kids_costs_one_fetch_per_interval() {
    let key = es256_jwk();
    let mut r = refresher();
    r.on_fetched(200, &[], &jwks(&[&key]), T0).unwrap();
    // A known kid never asks for a fetch; neither does an absurdly long one.
    assert!(!r.on_unknown_kid(&kid(&key), T0 + 10));
    assert!(!r.on_unknown_kid(&"k".repeat(300), T0 + 10));
    let mut fetches = 0;
    let mut served = 0;
    for second in 10..130u64 {
        for n in 0..1000 {
            if r.on_unknown_kid(&format!("forged-{second}-{n}"), T0 + second) {
                fetches += 1;
                assert_eq!(r.poll(T0 + second), Poll::Fetch);
                r.on_fetched(200, &[], &jwks(&[&key]), T0 + second).unwrap();
                served += 1;
            }
        }
    }
    // 120 seconds of 1,000 forged kids a second: one fetch per 30-second interval.
    assert_eq!((fetches, served), (4, 4));
}

#[test]
fn unknown_kids_do_not_cut_a_failure_backoff_short() {
    let key = es256_jwk();
    let mut r = refresher();
    r.on_fetched(200, &[], &jwks(&[&key]), T0).unwrap();
    assert!(r.on_unknown_kid("new-key", T0 + 100));
    r.on_fetch_failed("connection refused", T0 + 100); // retry at +105
    assert!(
        !r.on_unknown_kid("new-key", T0 + 104),
        "inside the backoff and the interval"
    );
    r.on_fetch_failed("connection refused", T0 + 105); // retry at +115
    r.on_fetch_failed("connection refused", T0 + 115); // retry at +135
    assert!(
        !r.on_unknown_kid("new-key", T0 + 131),
        "interval over, backoff not"
    );
    assert_eq!(r.poll(T0 + 131), Poll::Wait { until: T0 + 135 });
    assert!(
        r.on_unknown_kid("new-key", T0 + 135),
        "backoff over, interval over"
    );
}

#[test]
fn a_set_not_refreshed_within_stale_after_is_no_longer_served() {
    let key = es256_jwk();
    let mut r = refresher();
    r.on_fetched(200, &[], &jwks(&[&key]), T0).unwrap();
    let mut now = T0 + 900;
    while now < T0 + 172_800 {
        r.on_fetched(503, &[], b"", now).unwrap_err();
        assert!(r.key_set(now).is_ok(), "still within stale_after at {now}");
        now += 300;
    }
    let e = r.key_set(T0 + 172_800).unwrap_err();
    assert_eq!(e.code(), ErrorCode::KeySetStale);
    assert!(
        e.to_string().contains("HTTP 503"),
        "names the last failure: {e}"
    );
    r.on_fetched(200, &[], &jwks(&[&key]), T0 + 172_801)
        .unwrap();
    assert_eq!(kids_at(&r, T0 + 172_801), vec![kid(&key)]);
}

#[test]
fn settings_are_checked() {
    type Change = fn(&mut RefreshConfig);
    let cases: [(Change, &str); 6] = [
        (|c| c.min_ttl = 0, "min_ttl is 0"),
        (|c| c.default_ttl = 100, "min_ttl 300 <= default_ttl 100"),
        (
            |c| c.retry_initial = 400,
            "retry_initial 400 is above retry_max 300",
        ),
        (
            |c| c.stale_after = 86_400,
            "stale_after 86400 must be above max_ttl 86400",
        ),
        (|c| c.max_body_bytes = 0, "max_body_bytes"),
        (
            |c| c.unknown_kid_interval = 31 * 86_400,
            "unknown_kid_interval",
        ),
    ];
    for (change, message) in cases {
        let mut config = RefreshConfig::default();
        change(&mut config);
        let e = Refresher::new(config).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidOptions);
        assert!(e.to_string().contains(message), "{e} lacks {message:?}");
    }
}

#[test]
fn discovery_checks_the_issuer_exactly_and_takes_jwks_uri() {
    let issuer = "https://id.example.com/realms/main";
    assert_eq!(
        discovery::configuration_url(issuer).unwrap(),
        "https://id.example.com/realms/main/.well-known/openid-configuration"
    );
    assert_eq!(
        discovery::configuration_url("https://id.example.com/").unwrap(),
        "https://id.example.com/.well-known/openid-configuration"
    );
    let doc = |iss: &str, uri: &str| {
        serde_json::json!({"issuer": iss, "jwks_uri": uri, "response_types_supported": ["code"]})
            .to_string()
    };
    let uri = "https://id.example.com/realms/main/certs";
    assert_eq!(
        discovery::jwks_uri(doc(issuer, uri).as_bytes(), issuer).unwrap(),
        uri
    );
    for (document, message) in [
        (
            doc("https://id.example.com/realms/main/", uri),
            "not \"https://id.example.com/realms/main\"",
        ),
        (
            doc("https://evil.example", uri),
            "for issuer \"https://evil.example\"",
        ),
        (doc(issuer, "http://id.example.com/certs"), "plain http"),
        (
            doc(issuer, "https://user:pw@id.example.com/certs"),
            "carries credentials",
        ),
        (doc(issuer, "/certs"), "not an absolute URL"),
        (r#"{"issuer": "x"}"#.replace('x', issuer), "no \"jwks_uri\""),
        (r#"{"jwks_uri": 5}"#.to_owned(), "no \"issuer\""),
        ("not json".to_owned(), "not a strict JSON object"),
        (
            format!("{{\"issuer\":\"{issuer}\",\"issuer\":\"{issuer}\"}}"),
            "not a strict JSON object",
        ),
    ] {
        let e = discovery::jwks_uri(document.as_bytes(), issuer).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidDiscovery);
        assert!(e.to_string().contains(message), "{e} lacks {message:?}");
    }
    // Plain http only to loopback hosts (tests, sidecars).
    assert!(discovery::check_url("http://127.0.0.1:8080/jwks", "url").is_ok());
    assert!(discovery::check_url("http://localhost/jwks", "url").is_ok());
    assert!(discovery::check_url("http://[::1]:9/jwks", "url").is_ok());
    assert!(discovery::check_url("http://127.0.0.1.evil.example/jwks", "url").is_err());
    assert!(discovery::check_url("ftp://id.example.com/jwks", "url").is_err());
    assert!(discovery::check_url("https://id.example.com/jwks#x", "url").is_err());
}

/// project-oidc's engine (no snapshot yet), its table's `now`, its snapshot document and the
/// `Authorization` value of its viewer, allowed on `GET /v1/items` in the project `PROJECT`.
fn project_oidc() -> (Engine, u64, serde_json::Value, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/project-oidc");
    let read = |f: &str| std::fs::read(root.join(f)).expect("example file");
    let engine = Engine::from_policy_json(&read("policy.json")).expect("policy");
    let table: serde_json::Value = serde_json::from_slice(&read("scenarios.json")).unwrap();
    let snapshot: serde_json::Value = serde_json::from_slice(&read("snapshot.json")).unwrap();
    let token = format!("Bearer {}", table["tokens"]["viewer"].as_str().unwrap());
    (engine, table["now"].as_u64().unwrap(), snapshot, token)
}

const PROJECT: &str = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";

/// The kids of the keys project-oidc's engine holds for zitadel now.
fn zitadel_keys(engine: &Engine) -> Vec<String> {
    let snapshot = engine.current_snapshot();
    let set = snapshot.keys_of("zitadel").expect("zitadel is a provider");
    set.keys()
        .iter()
        .map(|k| k.kid().unwrap_or_default().to_owned())
        .collect()
}

/// The token named `name` in project-oidc's scenario table.
fn table_token(name: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/project-oidc");
    let table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("scenarios.json")).unwrap()).unwrap();
    table["tokens"][name].as_str().unwrap().to_owned()
}

#[test]
fn a_refreshed_key_set_swapped_into_an_engine_lets_its_tokens_in() {
    let (engine, now, snapshot, token) = project_oidc();
    let headers = [("Authorization", token.as_str()), ("X-Project-ID", PROJECT)];
    let request = Request::new("GET", "/v1/items", &headers);
    // Before any fetch: the provider has no keys, and the decision hints at a refresh.
    engine
        .swap_snapshot(Snapshot::empty(Arc::clone(engine.policy())))
        .unwrap();
    let before = engine.check(&request, now);
    assert_eq!(before.status, 401);
    let hint = before.refresh_hint.expect("a refresh hint");
    assert_eq!(hint.provider, "zitadel");

    let config = engine.refresh_config("zitadel").unwrap();
    assert_eq!(config.algorithms, [Algorithm::RS256]);
    let mut r = Refresher::new(config).unwrap();
    assert!(r.on_unknown_kid(&hint.kid, now));
    let body = snapshot["keys"]["zitadel"].to_string();
    r.on_fetched(
        200,
        &[("Cache-Control", "max-age=3600")],
        body.as_bytes(),
        now,
    )
    .unwrap();
    engine
        .swap_provider_keys("zitadel", r.key_set(now).unwrap())
        .unwrap();
    let after = engine.check(&request, now);
    assert_eq!(
        (after.status, after.code),
        (200, ErrorCode::Allowed),
        "{}",
        after.message
    );

    let e = engine
        .swap_provider_keys("nobody", r.key_set(now).unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("no provider has this name"), "{e}");
    assert!(engine.refresh_config("nobody").is_err());
}

#[test]
fn a_set_the_provider_cannot_take_empties_its_keys_rather_than_keep_the_old_ones() {
    // project-oidc's zitadel allows RS256 alone. A refresher made without the provider's config
    // keeps every algorithm: once the identity provider drops the old key and publishes an
    // ES256 one beside the new RS256 key, the old key must not stay trusted.
    let (engine, now, snapshot, token) = project_oidc();
    let headers = [("Authorization", token.as_str()), ("X-Project-ID", PROJECT)];
    let request = Request::new("GET", "/v1/items", &headers);
    let old_keys = snapshot["keys"]["zitadel"].to_string();
    let mut r = refresher();
    r.on_fetched(200, &[], old_keys.as_bytes(), now).unwrap();
    engine.swap_provider_keys_from("zitadel", &r, now).unwrap();
    assert_eq!(engine.check(&request, now).code, ErrorCode::Allowed);

    let rotated = jwks(&[&es256_jwk()]);
    r.on_fetched(200, &[], &rotated, now + 1).unwrap();
    let e = engine
        .swap_provider_keys_from("zitadel", &r, now + 1)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidSnapshot);
    assert!(e.to_string().contains("does not allow"), "{e}");
    let d = engine.check(&request, now + 1);
    assert_eq!(d.code, ErrorCode::UnknownKid, "{}", d.message);
    assert!(zitadel_keys(&engine).is_empty());
}

#[test]
fn a_snapshot_swap_keeps_the_keys_a_key_source_swapped_in() {
    // A host binds a key source to zitadel, then swaps snapshots for their other contents (a
    // revoked jti, API keys). Those snapshots must not set zitadel's keys: one without them
    // would refuse every token until the next fetch, one with an old JWKS would trust keys the
    // identity provider has dropped.
    let (engine, now, snapshot, token) = project_oidc();
    let headers = [("Authorization", token.as_str()), ("X-Project-ID", PROJECT)];
    let request = Request::new("GET", "/v1/items", &headers);
    let mut without_keys = snapshot.clone();
    without_keys["keys"] = serde_json::json!({});
    let without_keys = without_keys.to_string();

    // Before a key source: the snapshot decides zitadel's keys.
    engine
        .swap_snapshot_json(snapshot.to_string().as_bytes())
        .unwrap();
    assert_eq!(engine.check(&request, now).code, ErrorCode::Allowed);
    engine.swap_snapshot_json(without_keys.as_bytes()).unwrap();
    assert_eq!(engine.check(&request, now).code, ErrorCode::UnknownKid);

    // A key source swaps in the identity provider's set; a snapshot without keys keeps it.
    let mut r = Refresher::new(engine.refresh_config("zitadel").unwrap()).unwrap();
    let published = snapshot["keys"]["zitadel"].to_string();
    r.on_fetched(200, &[], published.as_bytes(), now).unwrap();
    engine.swap_provider_keys_from("zitadel", &r, now).unwrap();
    engine.swap_snapshot_json(without_keys.as_bytes()).unwrap();
    let d = engine.check(&request, now);
    assert_eq!(d.code, ErrorCode::Allowed, "{}", d.message);
    // The snapshot's other contents did arrive: its revoked jti is refused.
    let revoked = format!("Bearer {}", table_token("revoked"));
    let headers = [
        ("Authorization", revoked.as_str()),
        ("X-Project-ID", PROJECT),
    ];
    let d = engine.check(&Request::new("GET", "/v1/items", &headers), now);
    assert_eq!(d.code, ErrorCode::TokenRevoked, "{}", d.message);

    // The identity provider drops the key (here: publishes it under another kid): a snapshot
    // carrying the old set does not bring it back.
    let mut rotated = snapshot["keys"]["zitadel"]["keys"][0].clone();
    rotated["kid"] = "idp-2026-02".into();
    r.on_fetched(200, &[], &jwks(&[&rotated]), now + 1).unwrap();
    engine
        .swap_provider_keys_from("zitadel", &r, now + 1)
        .unwrap();
    engine
        .swap_snapshot_json(snapshot.to_string().as_bytes())
        .unwrap();
    assert_eq!(engine.check(&request, now + 1).code, ErrorCode::UnknownKid);

    // The host stops the source: its keys go (nothing would keep them fresh, or stale), and
    // snapshots set the provider's keys again.
    engine.release_provider_keys("zitadel").unwrap();
    assert!(zitadel_keys(&engine).is_empty());
    engine
        .swap_snapshot_json(snapshot.to_string().as_bytes())
        .unwrap();
    assert_eq!(engine.check(&request, now + 1).code, ErrorCode::Allowed);
    // Releasing what no source holds changes nothing; an unknown provider is an error.
    engine.release_provider_keys("zitadel").unwrap();
    assert_eq!(engine.check(&request, now + 1).code, ErrorCode::Allowed);
    assert!(engine.release_provider_keys("nobody").is_err());
}

#[test]
fn a_clock_corrected_back_does_not_freeze_the_schedule() {
    // The clock read four years ahead for one fetch (and an early one for an unknown kid), then
    // NTP set it right. Dated by the wrong time, the schedule would wait four years and the set
    // would never go stale; its age is unknown instead: a fetch is due, and the set is stale
    // until it succeeds.
    let key = es256_jwk();
    let ahead = T0 + 4 * 365 * 86_400;
    let mut r = refresher();
    let hour = [("Cache-Control", "max-age=3600")];
    r.on_fetched(200, &hour, &jwks(&[&key]), ahead).unwrap();
    assert!(r.on_unknown_kid("rotated", ahead));
    r.on_fetched(200, &hour, &jwks(&[&key]), ahead).unwrap();
    assert_eq!(r.poll(T0), Poll::Fetch);
    assert_eq!(
        r.key_set(T0).unwrap_err().code(),
        ErrorCode::KeySetStale,
        "a set dated in the future has an unknown age"
    );
    // The early fetch dated ahead does not hold off one for a new kid now.
    assert!(r.on_unknown_kid("rotated-again", T0));
    // A moment's difference between threads reading the clock is no jump.
    assert!(r.key_set(ahead - 60).is_ok());
    // A fetch that fails then (the IdP is down too) backs off as any failure does: no loop of
    // fetches, and the set stays stale.
    r.on_fetch_failed("down", T0);
    assert_eq!(r.poll(T0 + 1), Poll::Wait { until: T0 + 5 });
    assert_eq!(r.poll(T0 + 5), Poll::Fetch);
    assert_eq!(
        r.key_set(T0 + 1).unwrap_err().code(),
        ErrorCode::KeySetStale
    );
    // The next good fetch dates everything by the right clock again.
    r.on_fetched(
        200,
        &[("Cache-Control", "max-age=3600")],
        &jwks(&[&key]),
        T0,
    )
    .unwrap();
    assert_eq!(r.poll(T0 + 1), Poll::Wait { until: T0 + 3600 });
    assert_eq!(kids_at(&r, T0 + 1), vec![kid(&key)]);
}
