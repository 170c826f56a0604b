//! `scaling/*`: how the cost of a check moves with the size of its inputs. HS256 throughout, so
//! that the signature does not hide the rest. Run with
//! `cargo bench -p tollgate-benches --bench scaling`.
//!
//! - `scaling/claims`: verify a token with 1 to 100 extra claims (`tollgate/N` beside
//!   `ring_floor/N` and `ring_floor_json/N`: the token and so the HMAC and base64 work grow too).
//! - `scaling/jwks`: verify against a key set of 1 to 1,000 keys (the token's `kid` is the last).
//! - `scaling/routes`: `Engine::check` of the tenant-path deployment's first allowed case with
//!   10 to 10,000 routes in the policy.
//! - `scaling/roles`: the same check with 4 to 1,000 roles in the policy.
//! - `scaling/tenants`: a token listing 1 to 1,000 tenants (`check/N`, the requested tenant
//!   last, beside `verify/N`: the same token through a bare verifier).

use criterion::{criterion_main, BenchmarkId, Criterion};
use serde_json::{json, Value};
use std::hint::black_box;
use std::sync::Arc;
use tollgate::{Algorithm, Engine, KeySet, Request, SigningKey, TokenBuffer, Verifier};
use tollgate_benches::{
    deployments, realistic_claims, ring_floor, ring_floor_json, Fixture, FloorScratch,
    OwnedRequest, FIXED_NOW, KID,
};

fn claims(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling/claims");
    for n in [1usize, 10, 30, 100] {
        let fx = Fixture::with_claims(Algorithm::HS256, FIXED_NOW, &realistic_claims(FIXED_NOW, n));
        let token = fx.token.as_bytes();
        eprintln!("scaling/claims/{n}: token of {} bytes", token.len());
        let v = fx.verifier();
        let mut buf = TokenBuffer::new();
        v.verify(token, fx.now, &mut buf).expect("verifies");
        let mut scratch = Box::<FloorScratch>::default();
        assert!(ring_floor_json(token, &fx.floor_key, &mut scratch, fx.now));
        g.bench_with_input(BenchmarkId::new("tollgate", n), &n, |b, _| {
            b.iter(|| {
                let t = v.verify(black_box(token), fx.now, &mut buf).expect("ok");
                black_box(t.claims().expires_at());
            })
        });
        g.bench_with_input(BenchmarkId::new("ring_floor", n), &n, |b, _| {
            b.iter(|| assert!(ring_floor(black_box(token), &fx.floor_key, &mut scratch)))
        });
        g.bench_with_input(BenchmarkId::new("ring_floor_json", n), &n, |b, _| {
            b.iter(|| {
                assert!(ring_floor_json(
                    black_box(token),
                    &fx.floor_key,
                    &mut scratch,
                    fx.now
                ))
            })
        });
    }
    g.finish();
}

fn jwks(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling/jwks");
    let claims = realistic_claims(FIXED_NOW, 0);
    for n in [1usize, 10, 100, 1000] {
        let secret = |i: usize| format!("bench-secret-{i:04}-0123456789abcdef").into_bytes();
        let kid = |i: usize| format!("{KID}-{i:04}");
        let keys: Vec<Value> = (0..n)
            .map(|i| {
                json!({"kty": "oct", "alg": "HS256", "kid": kid(i),
                       "k": base64url(&secret(i))})
            })
            .collect();
        let set = KeySet::from_jwks(json!({ "keys": keys }).to_string().as_bytes()).expect("set");
        let v = Verifier::new(Arc::new(set), Fixture::validation()).expect("verifier");
        let signer =
            SigningKey::hmac(Algorithm::HS256, &secret(n - 1), Some(&kid(n - 1))).expect("key");
        let token = tollgate::mint(&signer, claims.as_bytes(), None).expect("token");
        let mut buf = TokenBuffer::new();
        v.verify(token.as_bytes(), FIXED_NOW, &mut buf)
            .expect("verifies");
        g.bench_with_input(BenchmarkId::new("tollgate", n), &n, |b, _| {
            b.iter(|| {
                let t = v
                    .verify(black_box(token.as_bytes()), FIXED_NOW, &mut buf)
                    .expect("ok");
                black_box(t.claims().expires_at());
            })
        });
    }
    g.finish();
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The tenant-path deployment: its policy, snapshot and first allowed authenticated request.
struct TenantPath {
    policy: Value,
    snapshot: Vec<u8>,
    request: OwnedRequest,
    now: u64,
}

fn tenant_path() -> TenantPath {
    let d = deployments()
        .into_iter()
        .find(|d| d.name == "tenant-path")
        .expect("tenant-path");
    let case = d.first_authenticated_case();
    TenantPath {
        request: OwnedRequest::from_case(&d.table, case),
        policy: d.policy.clone(),
        snapshot: d.snapshot.to_string().into_bytes(),
        now: d.table.now,
    }
}

fn engine_for(policy: &Value, snapshot: &[u8]) -> Engine {
    let engine = Engine::from_policy_json(policy.to_string().as_bytes()).expect("policy");
    engine.swap_snapshot_json(snapshot).expect("snapshot");
    engine
}

fn bench_check(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: BenchmarkId,
    engine: &Engine,
    req: &OwnedRequest,
    now: u64,
) {
    let pairs = req.pairs();
    let d = engine.check(&Request::new(&req.method, &req.path, &pairs), now);
    assert_eq!(d.status, 200, "{}", d.message);
    g.bench_function(id, |b| {
        b.iter(|| {
            let d = engine.check(
                &Request::new(&req.method, black_box(&req.path), &pairs),
                now,
            );
            assert_eq!(d.status, 200);
            black_box(d)
        })
    });
}

fn routes(c: &mut Criterion) {
    let tp = tenant_path();
    let mut g = c.benchmark_group("scaling/routes");
    let base = tp.policy["routes"].as_array().expect("routes").clone();
    for n in [10usize, 100, 1000, 10_000] {
        let mut routes = base.clone();
        let mut i = 0;
        while routes.len() < n {
            routes.push(
                json!({"method": "GET", "path": format!("/api/r{i}/items/{{item_id}}"),
                               "requires": ["items:read"]}),
            );
            i += 1;
        }
        let mut policy = tp.policy.clone();
        policy["routes"] = Value::Array(routes);
        let engine = engine_for(&policy, &tp.snapshot);
        bench_check(
            &mut g,
            BenchmarkId::new("check", n),
            &engine,
            &tp.request,
            tp.now,
        );
    }
    g.finish();
}

fn roles(c: &mut Criterion) {
    let tp = tenant_path();
    let mut g = c.benchmark_group("scaling/roles");
    let base = tp.policy["roles"].as_array().expect("roles").clone();
    for n in [4usize, 10, 100, 1000] {
        let mut roles = base.clone();
        let mut i = 0;
        while roles.len() < n {
            // Each filler role sits in the hierarchy (inherits Viewer) and grants a permission.
            roles.push(
                json!({"name": format!("role-{i:04}"), "inherits": ["Viewer"],
                              "grants": ["items:read"]}),
            );
            i += 1;
        }
        let mut policy = tp.policy.clone();
        policy["roles"] = Value::Array(roles);
        let engine = engine_for(&policy, &tp.snapshot);
        bench_check(
            &mut g,
            BenchmarkId::new("check", n),
            &engine,
            &tp.request,
            tp.now,
        );
    }
    g.finish();
}

/// Two-character tenant ids (`a0`, `a1`, …), so a thousand of them fit the engine's 8 KiB token
/// limit.
fn tenant_id(i: usize) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let (hi, lo) = (i / A.len(), i % A.len());
    String::from_utf8(vec![A[hi], A[lo]]).expect("ascii")
}

fn tenants(c: &mut Criterion) {
    let tp = tenant_path();
    // The tenant-path policy with membership from a list claim and roles from a flat claim.
    let mut policy = tp.policy.clone();
    policy["providers"][0]["roles"] = json!([{"claim": "roles", "shape": "list"}]);
    policy["providers"][0]["tenants"] = json!("tenants");
    let engine = engine_for(&policy, &tp.snapshot);
    let provider = &engine.policy().providers[0];
    let keys = KeySet::from_jwks_bound(
        serde_json::from_slice::<Value>(&tp.snapshot).expect("snapshot")["keys"]["app"]
            .to_string()
            .as_bytes(),
        Algorithm::HS256,
    )
    .expect("keys");
    let verifier = Verifier::new(Arc::new(keys), provider.validation.clone()).expect("verifier");
    let signer = SigningKey::from_jwk(
        include_bytes!("../../examples/tenant-path/app-hs256.key"),
        Some(Algorithm::HS256),
    )
    .expect("tenant-path key");

    let mut g = c.benchmark_group("scaling/tenants");
    for n in [1usize, 10, 100, 1000] {
        let list: Vec<String> = (0..n).map(tenant_id).collect();
        let claims = json!({"iss": "https://app.example", "sub": "alice", "iat": tp.now - 60,
                            "exp": tp.now + 540, "roles": ["Admin"], "tenants": list});
        let token = tollgate::mint(&signer, claims.to_string().as_bytes(), None).expect("token");
        eprintln!("scaling/tenants/{n}: token of {} bytes", token.len());
        let req = OwnedRequest {
            method: "GET".to_owned(),
            path: format!("/api/tenants/{}/items", tenant_id(n - 1)),
            headers: vec![("token".to_owned(), token.clone())],
        };
        bench_check(&mut g, BenchmarkId::new("check", n), &engine, &req, tp.now);
        let mut buf = TokenBuffer::new();
        verifier
            .verify(token.as_bytes(), tp.now, &mut buf)
            .expect("verifies");
        g.bench_with_input(BenchmarkId::new("verify", n), &n, |b, _| {
            b.iter(|| {
                let t = verifier
                    .verify(black_box(token.as_bytes()), tp.now, &mut buf)
                    .expect("ok");
                black_box(t.claims().expires_at());
            })
        });
    }
    g.finish();
}

// criterion_group! makes a public, undocumented function: keep it in a private module.
mod group {
    use super::*;
    criterion::criterion_group!(benches, claims, jwks, routes, roles, tenants);
}
criterion_main!(group::benches);
