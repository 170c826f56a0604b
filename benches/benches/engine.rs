//! `engine/<deployment>`: `Engine::check` on the first allowed, authenticated case of each example
//! deployment's scenario table (route + credential + tenant + roles): id `check` (a new
//! [`Decision`] each call), `check_into` (one [`Decision`] reused, the allocation-free steady
//! state), and `verify`: the same token through a bare `Verifier` with the provider's keys and
//! rules, so that `check_into - verify` is what the engine adds on top of verification. Then `engine/api-key` (an
//! allowed `fln_live_` key of the service-accounts deployment; `check` and `check_into`) and `engine/webhook` (Standard
//! Webhooks `v1` HMAC and `v1a` Ed25519 over a 1 KiB event). Run with
//! `cargo bench -p tollgate-benches --bench engine`.

use criterion::{criterion_main, Criterion};
use std::hint::black_box;
use tollgate::webhook::{WebhookSigner, WebhookVerifier};
use tollgate::{Decision, Request, TokenBuffer};
use tollgate_benches::{deployments, OwnedRequest};

fn engine(c: &mut Criterion) {
    let all = deployments();
    for d in &all {
        let ec = d.engine_case();
        let (req, now, token, verifier) = (&ec.request, ec.now, &ec.token, &ec.verifier);
        let pairs = req.pairs();
        let mut buf = TokenBuffer::new();
        eprintln!(
            "engine/{}: case {:?}, {} {}, {} token of {} bytes, provider {}",
            d.name,
            ec.name,
            req.method,
            req.path,
            verifier.keys().keys()[0].algorithm(),
            token.len(),
            ec.provider
        );

        let mut g = c.benchmark_group(format!("engine/{}", d.name));
        g.bench_function("check", |b| {
            b.iter(|| {
                let decision = d.engine.check(
                    &Request::new(&req.method, black_box(&req.path), &pairs),
                    now,
                );
                assert_eq!(decision.status, 200);
                black_box(decision)
            })
        });
        let mut reused = Decision::default();
        g.bench_function("check_into", |b| {
            b.iter(|| {
                d.engine.check_into(
                    &Request::new(&req.method, black_box(&req.path), &pairs),
                    now,
                    &mut reused,
                );
                assert_eq!(reused.status, 200);
                black_box(&reused);
            })
        });
        g.bench_function("verify", |b| {
            b.iter(|| {
                let t = verifier
                    .verify(black_box(token.as_bytes()), now, &mut buf)
                    .expect("verifies");
                black_box(t.claims().expires_at());
            })
        });
        g.finish();
    }

    // API key: the service-accounts deployment's first allowed fln_live_ key.
    let sa = all
        .iter()
        .find(|d| d.name == "service-accounts")
        .expect("service-accounts");
    let case = sa.first_api_key_case("fln_live_");
    let req = OwnedRequest::from_case(&sa.table, case);
    let pairs = req.pairs();
    let now = sa.table.now;
    let decision = sa
        .engine
        .check(&Request::new(&req.method, &req.path, &pairs), now);
    assert_eq!(decision.status, 200, "{}: {}", case.name, decision.message);
    eprintln!(
        "engine/api-key: case {:?}, {} {}",
        case.name, req.method, req.path
    );
    let mut g = c.benchmark_group("engine/api-key");
    let mut reused = Decision::default();
    g.bench_function("check_into", |b| {
        b.iter(|| {
            sa.engine.check_into(
                &Request::new(&req.method, black_box(&req.path), &pairs),
                now,
                &mut reused,
            );
            assert_eq!(reused.status, 200);
            black_box(&reused);
        })
    });
    g.bench_function("check", |b| {
        b.iter(|| {
            let decision = sa.engine.check(
                &Request::new(&req.method, black_box(&req.path), &pairs),
                now,
            );
            assert_eq!(decision.status, 200);
            black_box(decision)
        })
    });
    g.finish();

    // Webhooks: one delivery of a 1 KiB event, each scheme.
    let body = webhook_body();
    let id = "msg_2LJvKV4jjR4dYqXWhNPHxw6VZ2a";
    let ts = now;
    let ts_text = ts.to_string();
    let secret = tollgate::webhook::generate_secret().expect("secret");
    let (signing, public) = tollgate::webhook::generate_key_pair().expect("key pair");
    let mut g = c.benchmark_group("engine/webhook");
    for (bench_id, sign_with, verify_with) in [
        ("v1_hmac", secret.clone(), secret),
        ("v1a_ed25519", signing, public),
    ] {
        let signature = WebhookSigner::new(&sign_with)
            .expect("signer")
            .sign(id, ts, body.as_bytes())
            .expect("signature");
        let mut verifier = WebhookVerifier::new();
        verifier.add_key(&verify_with).expect("webhook key");
        verifier
            .verify(id, &ts_text, &signature, body.as_bytes(), now)
            .expect("the delivery verifies");
        g.bench_function(bench_id, |b| {
            b.iter(|| {
                verifier
                    .verify(
                        black_box(id),
                        &ts_text,
                        &signature,
                        black_box(body.as_bytes()),
                        now,
                    )
                    .expect("verifies")
            })
        });
    }
    g.finish();
}

/// A 1 KiB `invoice.paid` event, the size of a typical webhook delivery.
fn webhook_body() -> String {
    let mut body = String::from(
        r#"{"type":"invoice.paid","timestamp":"2026-01-01T00:00:00Z","data":{"id":"inv_7","org":"org_1","amount":12900,"currency":"EUR","lines":["#,
    );
    let mut i = 0;
    while body.len() < 1000 {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"sku":"plan-{i:02}","qty":1,"unit_amount":1290,"description":"Seat {i}"}}"#
        ));
        i += 1;
    }
    body.push_str("]}}");
    body
}

// criterion_group! makes a public, undocumented function: keep it in a private module.
mod group {
    use super::*;
    criterion::criterion_group!(benches, engine);
}
criterion_main!(group::benches);
