//! Zero heap allocations in the steady state: a counting global allocator proves that a token
//! verify (HS256, ES256, EdDSA) and an allowed `Engine::check_into` allocate nothing once their
//! buffers are warm. A behaviour test (a count), not a timing.
//!
//! RSA is the exception the crypto library imposes: `ring` allocates inside every RSA
//! verification. For RS256 the test proves Tollgate adds nothing to what bare `ring` allocates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::Arc;
use tollgate::crypto::Backend;
use tollgate::scenario::Table;
use tollgate::{
    keygen, mint, Algorithm, Decision, Engine, KeySet, Request, SigningKey, TokenBuffer,
    Validation, Verifier,
};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: delegates to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(mut f: impl FnMut()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const NOW: u64 = 1_767_225_600;

fn claims() -> Vec<u8> {
    serde_json::json!({
        "iss": "https://idp.example", "aud": ["api", "other"], "sub": "user-123", "exp": NOW + 600,
        "iat": NOW - 10, "jti": "b4f0c1", "scope": "items:read items:write",
        "roles": ["viewer", "editor"], "tenants": {"A": ["Admin"]}, "email": "user@example.com"
    })
    .to_string()
    .into_bytes()
}

fn verifier_for(alg: Algorithm) -> (Verifier, String) {
    verifier_with_claims(alg, &claims())
}

fn verifier_with_claims(alg: Algorithm, claims: &[u8]) -> (Verifier, String) {
    let (signer, jwks) = if alg.is_symmetric() {
        let secret = [7u8; 64];
        let jwk = serde_json::json!({"kty": "oct", "alg": alg.name(), "kid": "k1",
            "k": tollgate::base64url::encode(&secret)});
        (SigningKey::hmac(alg, &secret, Some("k1")).unwrap(), jwk)
    } else {
        let g = keygen::generate(alg).unwrap();
        let signer = SigningKey::from_pem_or_der(alg, g.private.as_bytes(), Some("k1")).unwrap();
        (signer.with_kid(Some("k1")), g.public_jwk.unwrap())
    };
    let mut jwk = jwks;
    jwk["kid"] = "k1".into();
    let keys = KeySet::from_jwks(jwk.to_string().as_bytes()).unwrap();
    let validation = Validation::default()
        .with_issuer("https://idp.example")
        .with_audience("api");
    let token = mint(&signer, claims, None).unwrap();
    (Verifier::new(Arc::new(keys), validation).unwrap(), token)
}

#[test]
fn steady_state_paths_allocate_nothing() {
    for alg in [Algorithm::HS256, Algorithm::ES256, Algorithm::EdDSA] {
        let (verifier, token) = verifier_for(alg);
        let mut buf = TokenBuffer::new();
        let n = verify_allocations(&verifier, &token, &mut buf);
        assert_eq!(n, 0, "{alg}: {n} allocations in 100 verifies");

        // Through the verified-token cache: hits allocate nothing either.
        let cached = verifier.with_cache(tollgate::cache::CacheConfig::default());
        let n = verify_allocations(&cached, &token, &mut buf);
        assert_eq!(n, 0, "{alg}: {n} allocations in 100 cache hits");
    }

    // RS256: on ring, exactly what bare ring allocates for the same signature, nothing more;
    // on aws-lc (parsed keys), nothing at all.
    let rsa_per_verify = rsa_allocations_per_verify();
    if Backend::preferred() == Backend::AwsLc {
        assert_eq!(rsa_per_verify, 0, "RS256 on aws-lc allocates");
    }

    // An allowed check in each deployment, through reused decision buffers.
    let mut counts: Vec<(&str, String, usize)> = Vec::new();
    for name in [
        "project-oidc",
        "workspace-api",
        "service-accounts",
        "tenant-path",
    ] {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(name);
        let engine =
            Engine::from_policy_json(&std::fs::read(dir.join("policy.json")).unwrap()).unwrap();
        engine
            .swap_snapshot_json(&std::fs::read(dir.join("snapshot.json")).unwrap())
            .unwrap();
        let table = Table::from_json(&std::fs::read(dir.join("scenarios.json")).unwrap()).unwrap();
        let case = table
            .cases
            .iter()
            .find(|c| c.expect.status == 200 && c.expect.tenant.is_some())
            .unwrap();
        counts.push((
            name,
            case.name.clone(),
            check_allocations(&engine, &table, case),
        ));
    }
    // A policy where a path's folded spelling must be looked up on every check (a template with
    // capitals, and a static segment beside a parameter, which the router backtracks over): the
    // folded lookup allocates nothing either.
    {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/tenant-path");
        let text = std::fs::read_to_string(dir.join("policy.json"))
            .unwrap()
            .replace("tenant_id", "tenantId");
        let mut policy: serde_json::Value = serde_json::from_str(&text).unwrap();
        policy["routes"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "method": "GET", "path": "/api/tenants/export", "requires": ["items:write"]
            }));
        let engine = Engine::from_policy_json(policy.to_string().as_bytes()).unwrap();
        engine
            .swap_snapshot_json(&std::fs::read(dir.join("snapshot.json")).unwrap())
            .unwrap();
        let table = Table::from_json(&std::fs::read(dir.join("scenarios.json")).unwrap()).unwrap();
        let case = table
            .cases
            .iter()
            .find(|c| c.name == "Admin in A writes items in A")
            .unwrap();
        let n = check_allocations(&engine, &table, case);
        counts.push(("tenant-path, folded lookups", case.name.clone(), n));
    }
    for (name, case, n) in &counts {
        // project-oidc verifies RS256 access tokens.
        let expected = if *name == "project-oidc" {
            100 * rsa_per_verify
        } else {
            0
        };
        assert_eq!(
            *n, expected,
            "{name} ({case}): {n} allocations in 100 checks; all: {counts:?}"
        );
    }
}

/// `base` with `extra` more top-level members, `"claim_1": "value 1"` and so on. serde_json keeps
/// members in name order, so these come before `exp`, `iat`, `iss`, `sub` and `tenants`.
fn with_extra_claims(mut base: serde_json::Value, extra: usize) -> serde_json::Value {
    let members = base.as_object_mut().unwrap();
    for i in 1..=extra {
        members.insert(format!("claim_{i}"), format!("value {i}").into());
    }
    base
}

/// Real tokens carry more claims than the example tables (Keycloak's and Azure AD's access tokens
/// have over 20 top-level claims by default). Up to 64 top-level claims, a verify and an allowed
/// engine check still allocate nothing: the duplicate-name check keeps that many names on the
/// stack. The claim the engine reads (`tenants`) comes last, past the first 16.
#[test]
fn tokens_with_many_claims_allocate_nothing() {
    for total in [23, 40, 64] {
        let claims = with_extra_claims(
            serde_json::from_slice(&claims()).unwrap(),
            total - claims_count(&claims()),
        );
        assert_eq!(claims.as_object().unwrap().len(), total);
        let (verifier, token) =
            verifier_with_claims(Algorithm::HS256, claims.to_string().as_bytes());
        let n = verify_allocations(&verifier, &token, &mut TokenBuffer::new());
        assert_eq!(n, 0, "{total} claims: {n} allocations in 100 verifies");

        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/tenant-path");
        let engine =
            Engine::from_policy_json(&std::fs::read(dir.join("policy.json")).unwrap()).unwrap();
        let snapshot: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("snapshot.json")).unwrap()).unwrap();
        engine
            .swap_snapshot_json(snapshot.to_string().as_bytes())
            .unwrap();
        let jwk = &snapshot["keys"]["app"]["keys"][0];
        let secret = tollgate::base64url::decode(jwk["k"].as_str().unwrap().as_bytes()).unwrap();
        let signer = SigningKey::hmac(Algorithm::HS256, &secret, jwk["kid"].as_str()).unwrap();
        let alice = serde_json::json!({"iss": "https://app.example", "sub": "alice",
            "iat": NOW - 60, "exp": NOW + 540, "tenants": {"A": ["Admin"]}});
        let alice = with_extra_claims(alice, total - 5);
        let token = mint(&signer, alice.to_string().as_bytes(), None).unwrap();
        let headers = [("token", token.as_str())];
        let request = Request::new("POST", "/api/tenants/A/items", &headers);
        let n = request_allocations(&engine, &request, NOW, &format!("{total} claims"));
        assert_eq!(n, 0, "{total} claims: {n} allocations in 100 checks");
    }
}

fn claims_count(claims: &[u8]) -> usize {
    serde_json::from_slice::<serde_json::Value>(claims)
        .unwrap()
        .as_object()
        .unwrap()
        .len()
}

/// The allocations of 100 allowed checks of `case` through one reused decision, after 50 to
/// warm its buffers.
fn check_allocations(engine: &Engine, table: &Table, case: &tollgate::scenario::Case) -> usize {
    let headers = table.headers(case);
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = Request::new(&case.request.method, &case.request.path, &pairs);
    request_allocations(engine, &request, table.now, &case.name)
}

/// The allocations of 100 allowed checks of `request` (`what`, for messages) through one reused
/// decision, after 50 to warm its buffers.
fn request_allocations(engine: &Engine, request: &Request<'_>, now: u64, what: &str) -> usize {
    let mut decision = Decision::default();
    for _ in 0..50 {
        engine.check_into(request, now, &mut decision);
        assert!(decision.is_allowed(), "{what}: {}", decision.message);
    }
    let n = allocations_during(|| {
        for _ in 0..100 {
            engine.check_into(request, now, &mut decision);
        }
    });
    assert!(decision.is_allowed());
    n
}

/// The allocations of 100 verifies of `token` through `buf`, after 3 to warm it.
fn verify_allocations(verifier: &Verifier, token: &str, buf: &mut TokenBuffer) -> usize {
    for _ in 0..3 {
        assert!(verifier.verify(token.as_bytes(), NOW, buf).is_ok());
    }
    allocations_during(|| {
        for _ in 0..100 {
            let t = verifier.verify(token.as_bytes(), NOW, buf).unwrap();
            assert!(t.claims().subject().is_some());
        }
    })
}

/// Proves that a full RS256 token verify on ring allocates exactly what one bare `ring`
/// verification does, and returns what one RS256 verify allocates on the preferred backend.
fn rsa_allocations_per_verify() -> usize {
    let pem = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/project-oidc/idp-rs256.key"),
    )
    .unwrap();
    let signer = SigningKey::from_pem_or_der(Algorithm::RS256, &pem, Some("k1")).unwrap();
    let jwk = signer.public_jwk().unwrap();
    let n = tollgate::base64url::decode(jwk["n"].as_str().unwrap().as_bytes()).unwrap();
    let e = tollgate::base64url::decode(jwk["e"].as_str().unwrap().as_bytes()).unwrap();
    let token = mint(&signer, &claims(), None).unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = tollgate::base64url::decode(sig.as_bytes()).unwrap();
    let raw = allocations_during(|| {
        for _ in 0..10 {
            assert!(tollgate::crypto::verify_rsa_raw(
                tollgate::crypto::Backend::Ring,
                Algorithm::RS256,
                &n,
                &e,
                input.as_bytes(),
                &sig
            ));
        }
    }) / 10;
    let verify_on = |backend: Backend| {
        let keys = KeySet::from_jwks(jwk.to_string().as_bytes())
            .unwrap()
            .with_backend(backend)
            .unwrap();
        let validation = Validation::default()
            .with_issuer("https://idp.example")
            .with_audience("api");
        let verifier = Verifier::new(Arc::new(keys), validation).unwrap();
        let mut buf = TokenBuffer::new();
        for _ in 0..3 {
            assert!(verifier.verify(token.as_bytes(), NOW, &mut buf).is_ok());
        }
        allocations_during(|| {
            for _ in 0..10 {
                assert!(verifier.verify(token.as_bytes(), NOW, &mut buf).is_ok());
            }
        }) / 10
    };
    assert_eq!(
        verify_on(Backend::Ring),
        raw,
        "RS256 verify allocates more than ring itself"
    );
    // What the engine's keys (on the preferred backend) allocate per RS256 verification: ring
    // allocates inside RSA; aws-lc's parsed keys do not.
    verify_on(Backend::preferred())
}
