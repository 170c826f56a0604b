//! `verify/<ALG>`: one realistic OIDC access token per algorithm, verified with issuer, audience
//! and `exp` checks by Tollgate, by the raw `ring` floor and (feature `peers`) by jsonwebtoken and
//! jwt-simple. Run with `cargo bench -p tollgate-benches --features peers,aws-lc --bench verify`.
//!
//! Ids: `tollgate` (full verify on the `ring` backend, the [`TokenBuffer`] reused as a host
//! would), `tollgate_aws_lc` (the same on the aws-lc backend; feature `aws-lc`), `aws_lc_floor`
//! (the floor on aws-lc-rs with a prepared key; feature `aws-lc`), `tollgate_cached`
//! (the same token again through a verifier with the verified-token cache: a hit), `ring_floor`
//! (base64url-decode the segments + ring's HMAC/signature check), `ring_floor_json` (the floor
//! plus serde_json parsing of header and claims into borrowed structs and the same claim checks),
//! and with `peers`: `jsonwebtoken_aws_lc_rs`, `jsonwebtoken_rust_crypto`, `jwt_simple`.

use criterion::{criterion_main, Criterion};
use std::hint::black_box;
use tollgate::cache::CacheConfig;
use tollgate::crypto::Backend;
use tollgate::{TokenBuffer, Verifier};
use tollgate_benches::{
    ring_floor, ring_floor_json, wall_clock_now, Fixture, FloorScratch, ALGORITHMS,
};

/// The verifier behind `tollgate_cached`: the same key set and rules plus the verified-token
/// cache with its default bounds.
fn with_cache(v: Verifier) -> Verifier {
    v.with_cache(CacheConfig::default())
}

fn verify(c: &mut Criterion) {
    // The peers read the wall clock, so the tokens are issued now (valid for an hour).
    let now = wall_clock_now();
    for alg in ALGORITHMS {
        let fx = Fixture::new(alg, now);
        let token = fx.token.as_str();
        eprintln!("verify/{alg}: token of {} bytes", token.len());
        let verifier = fx.verifier();
        let mut buf = TokenBuffer::new();
        verifier
            .verify(token.as_bytes(), now, &mut buf)
            .unwrap_or_else(|e| panic!("{alg}: tollgate rejects the benchmark token: {e}"));
        let cached = with_cache(fx.verifier());
        // The first verify fills the cache; every one after it is a hit.
        cached
            .verify(token.as_bytes(), now, &mut buf)
            .unwrap_or_else(|e| panic!("{alg}: the cached verifier rejects the token: {e}"));
        let mut scratch = Box::<FloorScratch>::default();
        assert!(ring_floor(token.as_bytes(), &fx.floor_key, &mut scratch));
        assert!(ring_floor_json(
            token.as_bytes(),
            &fx.floor_key,
            &mut scratch,
            now
        ));

        let mut g = c.benchmark_group(format!("verify/{alg}"));
        g.bench_function("tollgate", |b| {
            b.iter(|| {
                let t = verifier
                    .verify(black_box(token.as_bytes()), now, &mut buf)
                    .expect("verifies");
                black_box(t.claims().expires_at());
            })
        });
        if Backend::AwsLc.is_available() {
            let aws = fx.verifier_on(Backend::AwsLc);
            aws.verify(token.as_bytes(), now, &mut buf)
                .unwrap_or_else(|e| panic!("{alg}: tollgate on aws-lc rejects the token: {e}"));
            g.bench_function("tollgate_aws_lc", |b| {
                b.iter(|| {
                    let t = aws
                        .verify(black_box(token.as_bytes()), now, &mut buf)
                        .expect("verifies");
                    black_box(t.claims().expires_at());
                })
            });
        }
        #[cfg(feature = "aws-lc")]
        {
            let key = tollgate_benches::AwsLcFloorKey::new(&fx);
            assert!(tollgate_benches::aws_lc_floor(
                token.as_bytes(),
                &key,
                &mut scratch
            ));
            let mut bad = token.as_bytes().to_vec();
            let last = bad.len() - 2;
            bad[last] ^= 1;
            assert!(!tollgate_benches::aws_lc_floor(&bad, &key, &mut scratch));
            g.bench_function("aws_lc_floor", |b| {
                b.iter(|| {
                    assert!(tollgate_benches::aws_lc_floor(
                        black_box(token.as_bytes()),
                        &key,
                        &mut scratch
                    ))
                })
            });
        }
        g.bench_function("tollgate_cached", |b| {
            b.iter(|| {
                let t = cached
                    .verify(black_box(token.as_bytes()), now, &mut buf)
                    .expect("verifies");
                black_box(t.claims().expires_at());
            })
        });
        g.bench_function("ring_floor", |b| {
            b.iter(|| {
                assert!(ring_floor(
                    black_box(token.as_bytes()),
                    &fx.floor_key,
                    &mut scratch
                ))
            })
        });
        g.bench_function("ring_floor_json", |b| {
            b.iter(|| {
                assert!(ring_floor_json(
                    black_box(token.as_bytes()),
                    &fx.floor_key,
                    &mut scratch,
                    now
                ))
            })
        });
        #[cfg(feature = "peers")]
        {
            use tollgate_benches::peers::{JsonwebtokenAwsLc, JsonwebtokenRustCrypto, JwtSimple};
            let aws = JsonwebtokenAwsLc::new(&fx);
            let rc = JsonwebtokenRustCrypto::new(&fx);
            let js = JwtSimple::new(&fx);
            aws.verify(token)
                .unwrap_or_else(|e| panic!("{alg}: jsonwebtoken (aws-lc-rs): {e}"));
            rc.verify(token)
                .unwrap_or_else(|e| panic!("{alg}: jsonwebtoken (RustCrypto): {e}"));
            js.verify(token)
                .unwrap_or_else(|e| panic!("{alg}: jwt-simple: {e}"));
            g.bench_function("jsonwebtoken_aws_lc_rs", |b| {
                b.iter(|| black_box(aws.verify(black_box(token)).expect("verifies")))
            });
            g.bench_function("jsonwebtoken_rust_crypto", |b| {
                b.iter(|| black_box(rc.verify(black_box(token)).expect("verifies")))
            });
            g.bench_function("jwt_simple", |b| {
                b.iter(|| js.verify(black_box(token)).expect("verifies"))
            });
        }
        g.finish();
    }
}

// criterion_group! makes a public, undocumented function: keep it in a private module.
mod group {
    use super::*;
    criterion::criterion_group!(benches, verify);
}
criterion_main!(group::benches);
