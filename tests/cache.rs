//! The verified-token cache: hits give exactly what a fresh verify gives, expiry and revocation
//! still apply on a hit, a swap empties it, and only the whole token can hit.

use std::path::PathBuf;
use std::sync::Arc;
use tollgate::cache::CacheConfig;
use tollgate::scenario::Table;
use tollgate::{
    keygen, mint, Algorithm, Engine, ErrorCode, KeySet, Request, SigningKey, TokenBuffer,
    Validation, Verifier,
};

const NOW: u64 = 1_767_225_600;

fn es256() -> (SigningKey, KeySet) {
    let g = keygen::generate(Algorithm::ES256).unwrap();
    let signer = SigningKey::from_pem_or_der(Algorithm::ES256, g.private.as_bytes(), Some("k1"))
        .unwrap()
        .with_kid(Some("k1"));
    let mut jwk = g.public_jwk.unwrap();
    jwk["kid"] = "k1".into();
    (
        signer,
        KeySet::from_jwks(jwk.to_string().as_bytes()).unwrap(),
    )
}

/// The cache and the token buffer hold live credentials: their `Debug` shows sizes, not tokens.
#[test]
fn debug_output_never_shows_a_cached_token() {
    let (signer, keys) = es256();
    let cached = Verifier::new(Arc::new(keys), Validation::default())
        .unwrap()
        .with_cache(CacheConfig::default());
    let claims = serde_json::json!({"sub": "alice-the-caller", "exp": NOW + 100});
    let token = mint(&signer, claims.to_string().as_bytes(), None).unwrap();
    let mut buf = TokenBuffer::new();
    cached.verify(token.as_bytes(), NOW, &mut buf).unwrap();
    let signature = token.rsplit('.').next().unwrap();
    for shown in [format!("{cached:?}"), format!("{buf:?}")] {
        assert!(!shown.contains(signature), "{shown}");
        assert!(!shown.contains("alice-the-caller"), "{shown}");
    }
    assert!(format!("{cached:?}").contains("entries: 1"));
}

#[test]
fn verifier_hits_match_fresh_verifies_and_still_validate() {
    let (signer, keys) = es256();
    let keys = Arc::new(keys);
    let validation = Validation::default()
        .with_issuer("https://idp")
        .with_leeway(0);
    let cached = Verifier::new(keys.clone(), validation.clone())
        .unwrap()
        .with_cache(CacheConfig::default());
    let fresh = Verifier::new(keys, validation).unwrap();
    let claims = serde_json::json!({"iss": "https://idp", "sub": "alice", "exp": NOW + 100, "nbf": NOW - 5, "roles": ["a"]});
    let token = mint(&signer, claims.to_string().as_bytes(), None).unwrap();

    for now in [NOW, NOW + 1, NOW + 50] {
        let (mut b1, mut b2) = (TokenBuffer::new(), TokenBuffer::new());
        let a = cached.verify(token.as_bytes(), now, &mut b1).unwrap();
        let b = fresh.verify(token.as_bytes(), now, &mut b2).unwrap();
        assert_eq!(a.claims().object().as_str(), b.claims().object().as_str());
        assert_eq!(a.header().object().as_str(), b.header().object().as_str());
        assert_eq!(a.key_id(), Some("k1"));
        assert_eq!(a.key_id(), b.key_id());
    }
    // A hit is validated at its own `now`: expiry still applies.
    let mut buf = TokenBuffer::new();
    assert_eq!(
        cached
            .verify(token.as_bytes(), NOW + 100, &mut buf)
            .unwrap_err()
            .code(),
        ErrorCode::Expired
    );
    // Before nbf (time going backwards for the host) a hit is refused as a fresh verify would be.
    let mut buf = TokenBuffer::new();
    assert_eq!(
        cached
            .verify(token.as_bytes(), NOW - 10, &mut buf)
            .unwrap_err()
            .code(),
        ErrorCode::NotYetValid
    );

    // Same signature segment, different claims: never a hit.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] =
        tollgate::base64url::encode(br#"{"iss":"https://idp","sub":"mallory","exp":9999999999}"#);
    let forged = parts.join(".");
    let mut buf = TokenBuffer::new();
    assert_eq!(
        cached
            .verify(forged.as_bytes(), NOW, &mut buf)
            .unwrap_err()
            .code(),
        ErrorCode::InvalidSignature
    );
}

fn example(name: &str, file: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(name)
            .join(file),
    )
    .unwrap()
}

/// An example deployment's engine, with a token cache and the example's snapshot, and its table.
fn cached_deployment(name: &str) -> (Engine, Table) {
    let engine = Engine::from_policy_json(&example(name, "policy.json"))
        .unwrap()
        .with_cache(CacheConfig::default());
    engine
        .swap_snapshot_json(&example(name, "snapshot.json"))
        .unwrap();
    (
        engine,
        Table::from_json(&example(name, "scenarios.json")).unwrap(),
    )
}

#[test]
fn cached_engines_decide_every_table_case_the_same_twice() {
    for name in [
        "project-oidc",
        "workspace-api",
        "service-accounts",
        "tenant-path",
    ] {
        let (engine, table) = cached_deployment(name);
        for round in 0..2 {
            for case in &table.cases {
                let d = table.decide(&engine, case);
                assert!(
                    case.expect.check(&d).is_ok(),
                    "{name} round {round}: {}: {:?}",
                    case.name,
                    case.expect.check(&d)
                );
            }
        }
    }
}

#[test]
fn a_snapshot_swap_empties_the_cache_at_once() {
    let (engine, table) = cached_deployment("tenant-path");
    let token = table.tokens["alice"].clone();
    let check = || {
        engine
            .check(
                &Request::new("GET", "/api/tenants/A/items", &[("token", &token)]),
                table.now,
            )
            .code
    };
    assert_eq!(check(), ErrorCode::Allowed);
    assert_eq!(check(), ErrorCode::Allowed);
    // The key is rotated away: the cached verification must not outlive it.
    engine.swap_snapshot_json(br#"{"keys": {}}"#).unwrap();
    assert_eq!(check(), ErrorCode::UnknownKid);
    engine
        .swap_snapshot_json(&example("tenant-path", "snapshot.json"))
        .unwrap();
    assert_eq!(check(), ErrorCode::Allowed);
}

#[test]
fn snapshots_never_swapped_in_do_not_share_cache_entries() {
    // Two snapshots built for the engine and handed straight to `check_with`, the same kid with
    // two different secrets: a token signed with the first must not pass under the second on the
    // strength of a cache entry the first made.
    let engine = Engine::from_policy_json(&example("tenant-path", "policy.json"))
        .unwrap()
        .with_cache(CacheConfig::default());
    let table = Table::from_json(&example("tenant-path", "scenarios.json")).unwrap();
    let token = table.tokens["alice"].clone();
    let first = engine
        .snapshot_from_json(&example("tenant-path", "snapshot.json"))
        .unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_slice(&example("tenant-path", "snapshot.json")).unwrap();
    doc["keys"]["app"]["keys"][0]["k"] = "c2Vjb25kLXNlY3JldC1vZi0zMi1ieXRlcy1sb25nLi4".into();
    let second = engine
        .snapshot_from_json(doc.to_string().as_bytes())
        .unwrap();
    let check = |snapshot: &tollgate::Snapshot| {
        let headers = [("token", token.as_str())];
        let request = Request::new("GET", "/api/tenants/A/items", &headers);
        engine
            .check_with(snapshot, &request, table.now, &mut |s| s.verify())
            .code
    };
    for _ in 0..2 {
        assert_eq!(check(&first), ErrorCode::Allowed);
        assert_eq!(check(&second), ErrorCode::InvalidSignature);
    }
    // The engine's own snapshots still use it: swapped in, a repeat is a hit.
    engine.swap_snapshot(first).unwrap();
    let current = engine.current_snapshot();
    assert_eq!(check(&current), ErrorCode::Allowed);
    assert_eq!(check(&current), ErrorCode::Allowed);
    assert_eq!(check(&second), ErrorCode::InvalidSignature);
}

#[test]
fn a_hosts_signature_verdict_never_fills_the_cache() {
    // A host's check approved a token whose signature is wrong (a bug in its crypto, say): the
    // engine's own checks must not take that verdict from the cache.
    let (engine, table) = cached_deployment("tenant-path");
    let token = &table.tokens["alice"];
    let forged = format!("{}AAAA", &token[..token.len() - 4]);
    let headers = [("token", forged.as_str())];
    let request = Request::new("GET", "/api/tenants/A/items", &headers);
    let snapshot = engine.current_snapshot();
    let approved = engine.check_with(&snapshot, &request, table.now, &mut |_| Ok(()));
    assert_eq!(approved.code, ErrorCode::Allowed);
    assert_eq!(
        engine.check(&request, table.now).code,
        ErrorCode::InvalidSignature
    );
}

/// A hit can be seen: `check_with` asks the host to check a signature unless the engine's own
/// verification has cached the token, and asks again once a swap has emptied the cache. (Equal
/// decisions alone cannot tell a hit from a second verification.)
#[test]
fn a_cached_token_skips_the_signature_check_until_a_swap() {
    let (engine, table) = cached_deployment("tenant-path");
    let token = table.tokens["alice"].clone();
    let headers = [("token", token.as_str())];
    let request = Request::new("GET", "/api/tenants/A/items", &headers);
    let asked = std::cell::Cell::new(0);
    let host_check = || {
        let snapshot = engine.current_snapshot();
        engine
            .check_with(&snapshot, &request, table.now, &mut |s| {
                asked.set(asked.get() + 1);
                s.verify()
            })
            .code
    };
    // Nothing cached: the host checks the signature, and its verdict is not cached.
    assert_eq!(host_check(), ErrorCode::Allowed);
    assert_eq!(host_check(), ErrorCode::Allowed);
    assert_eq!(asked.get(), 2);
    // The engine's own verification caches the token: a hit skips the host's check.
    assert_eq!(engine.check(&request, table.now).code, ErrorCode::Allowed);
    assert_eq!(host_check(), ErrorCode::Allowed);
    assert_eq!(asked.get(), 2, "a hit asked the host");
    // Another token is not a hit.
    let bob = table.tokens["bob"].clone();
    let bob_headers = [("token", bob.as_str())];
    let snapshot = engine.current_snapshot();
    let d = engine.check_with(
        &snapshot,
        &Request::new("GET", "/api/tenants/B/items", &bob_headers),
        table.now,
        &mut |s| {
            asked.set(asked.get() + 1);
            s.verify()
        },
    );
    assert_eq!(d.code, ErrorCode::Allowed, "{}", d.message);
    assert_eq!(asked.get(), 3);
    // A swap empties the cache: the host is asked again.
    engine
        .swap_snapshot_json(&example("tenant-path", "snapshot.json"))
        .unwrap();
    assert_eq!(host_check(), ErrorCode::Allowed);
    assert_eq!(asked.get(), 4);
}
