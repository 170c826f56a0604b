//! Paired timing of Tollgate against its floors and its peers, for machines whose speed wanders.
//!
//! Criterion times one id for seconds and then the next, so on a shared machine a slow phase can
//! land on one side of a ratio (on this machine kind, round to round, one id's median has moved
//! 2× while its neighbour's did not). This times the two sides of each ratio back to back
//! instead: every round runs a short batch of one side and then of the other (the order
//! alternating), and the figure is the median over the rounds of each round's ratio (or, for the
//! engine, difference) — what the two cost on the same machine at the same moment. The criterion
//! tables stay the reference for absolute times; these are the ratios.
//!
//! `cargo run --release -p tollgate-benches --features aws-lc[,peers] --bin paired [-- ROUNDS]`
//! (default 301 rounds of about 2 × 0.2 ms per pair). Sides: `tollgate` (ring), `ring_floor`,
//! and with `aws-lc` `tollgate_aws_lc` and `aws_lc_floor`; with `peers`, each of tollgate's
//! backends against each peer.

use std::hint::black_box;
use std::time::Instant;
use tollgate::crypto::Backend;
use tollgate::{Decision, Request, TokenBuffer};
use tollgate_benches::{ring_floor, wall_clock_now, Fixture, FloorScratch, ALGORITHMS};

/// Nanoseconds per call of `f`, over `n` calls.
fn per_call(n: u32, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// Calls per batch so that one batch of `f` takes about 0.2 ms.
fn batch_size(f: &mut dyn FnMut()) -> u32 {
    let one = per_call(16, f).max(1.0);
    ((200_000.0 / one) as u32).clamp(1, 100_000)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Per round: (ns per call of `a`, ns per call of `b`), `rounds` rounds, sides alternating first.
fn rounds(rounds: usize, a: &mut dyn FnMut(), b: &mut dyn FnMut()) -> Vec<(f64, f64)> {
    let (na, nb) = (batch_size(a), batch_size(b));
    (0..rounds)
        .map(|r| {
            if r % 2 == 0 {
                let ta = per_call(na, a);
                (ta, per_call(nb, b))
            } else {
                let tb = per_call(nb, b);
                (per_call(na, a), tb)
            }
        })
        .collect()
}

/// One side of a pair: a name and one verification of the benchmark token.
type Side = (&'static str, Box<dyn FnMut()>);

/// Every side for the fixture's token (each owns its buffers).
fn sides(fx: &'static Fixture, now: u64) -> Vec<Side> {
    let token = fx.token.as_bytes();
    let mut sides: Vec<Side> = Vec::new();
    let ring = fx.verifier_on(Backend::Ring);
    let mut buf = TokenBuffer::new();
    sides.push((
        "tollgate",
        Box::new(move || {
            let t = ring.verify(black_box(token), now, &mut buf);
            black_box(t.map(|t| t.claims().expires_at()).expect("verifies"));
        }),
    ));
    let mut scratch = Box::<FloorScratch>::default();
    sides.push((
        "ring_floor",
        Box::new(move || assert!(ring_floor(black_box(token), &fx.floor_key, &mut scratch))),
    ));
    #[cfg(feature = "aws-lc")]
    {
        let aws = fx.verifier_on(Backend::AwsLc);
        let mut buf = TokenBuffer::new();
        sides.push((
            "tollgate_aws_lc",
            Box::new(move || {
                let t = aws.verify(black_box(token), now, &mut buf);
                black_box(t.map(|t| t.claims().expires_at()).expect("verifies"));
            }),
        ));
        let key = tollgate_benches::AwsLcFloorKey::new(fx);
        let mut scratch = Box::<FloorScratch>::default();
        sides.push((
            "aws_lc_floor",
            Box::new(move || {
                assert!(tollgate_benches::aws_lc_floor(
                    black_box(token),
                    &key,
                    &mut scratch
                ))
            }),
        ));
    }
    #[cfg(feature = "peers")]
    {
        use tollgate_benches::peers::{JsonwebtokenAwsLc, JsonwebtokenRustCrypto, JwtSimple};
        let text = fx.token.as_str();
        let aws = JsonwebtokenAwsLc::new(fx);
        let rc = JsonwebtokenRustCrypto::new(fx);
        let js = JwtSimple::new(fx);
        sides.push((
            "jsonwebtoken_aws_lc_rs",
            Box::new(move || {
                black_box(aws.verify(black_box(text)).expect("verifies"));
            }),
        ));
        sides.push((
            "jsonwebtoken_rust_crypto",
            Box::new(move || {
                black_box(rc.verify(black_box(text)).expect("verifies"));
            }),
        ));
        sides.push((
            "jwt_simple",
            Box::new(move || {
                black_box(js.verify(black_box(text)).expect("verifies"));
            }),
        ));
    }
    sides
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(301);
    // The peers read the wall clock: the tokens are issued now (valid for an hour).
    let now = wall_clock_now();
    println!("paired timing, {n} rounds per pair: medians of per-round figures");
    println!(
        "{:<7} {:<42} {:>11} {:>11} {:>8}",
        "alg", "left / right", "left", "right", "ratio"
    );
    for alg in ALGORITHMS {
        let fx: &'static Fixture = Box::leak(Box::new(Fixture::new(alg, now)));
        let mut sides = sides(fx, now);
        let names: Vec<&str> = sides.iter().map(|s| s.0).collect();
        let mut pairs = vec![
            ("tollgate", "ring_floor"),
            ("tollgate_aws_lc", "aws_lc_floor"),
        ];
        for peer in [
            "jsonwebtoken_aws_lc_rs",
            "jsonwebtoken_rust_crypto",
            "jwt_simple",
        ] {
            pairs.push(("tollgate", peer));
            pairs.push(("tollgate_aws_lc", peer));
        }
        for (left, right) in pairs {
            let (Some(l), Some(r)) = (
                names.iter().position(|n| *n == left),
                names.iter().position(|n| *n == right),
            ) else {
                continue;
            };
            // Two sides of one vector, borrowed mutably at once.
            let (a, b) = if l < r {
                let (x, y) = sides.split_at_mut(r);
                (&mut x[l].1, &mut y[0].1)
            } else {
                let (x, y) = sides.split_at_mut(l);
                (&mut y[0].1, &mut x[r].1)
            };
            let r = rounds(n, a.as_mut(), b.as_mut());
            println!(
                "{:<7} {:<42} {:>9.0}ns {:>9.0}ns {:>8.3}",
                alg.name(),
                format!("{left} / {right}"),
                median(r.iter().map(|p| p.0).collect()),
                median(r.iter().map(|p| p.1).collect()),
                median(r.iter().map(|p| p.0 / p.1).collect()),
            );
        }
    }

    println!();
    println!(
        "{:<17} {:>12} {:>12} {:>14}",
        "deployment", "check_into", "verify", "engine on top"
    );
    for d in tollgate_benches::deployments() {
        let ec = d.engine_case();
        let pairs = ec.request.pairs();
        let request = Request::new(&ec.request.method, &ec.request.path, &pairs);
        let mut decision = Decision::default();
        let mut buf = TokenBuffer::new();
        let mut check = || {
            d.engine
                .check_into(black_box(&request), ec.now, &mut decision);
            assert_eq!(decision.status, 200);
        };
        let mut verify = || {
            let t = ec
                .verifier
                .verify(black_box(ec.token.as_bytes()), ec.now, &mut buf);
            black_box(t.map(|t| t.claims().expires_at()).expect("verifies"));
        };
        let r = rounds(n, &mut check, &mut verify);
        println!(
            "{:<17} {:>10.0}ns {:>10.0}ns {:>12.0}ns",
            d.name,
            median(r.iter().map(|p| p.0).collect()),
            median(r.iter().map(|p| p.1).collect()),
            median(r.iter().map(|p| p.0 - p.1).collect()),
        );
    }
}
