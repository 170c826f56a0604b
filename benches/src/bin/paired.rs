//! Paired timing of Tollgate against its floors, for machines whose speed wanders.
//!
//! Criterion times one id for seconds and then the next, so on a shared machine a slow phase can
//! land on one side of a ratio (here, round to round, one id's median has moved 2× while its
//! neighbour's did not). This times the two sides of each ratio back to back instead: every round
//! runs a short batch of one side and then of the other (the order alternating), and the figure is
//! the median over the rounds of each round's ratio (or, for the engine, difference) — what the
//! two cost on the same machine at the same moment. The criterion tables stay the reference for
//! absolute times; these are the ratios.
//!
//! `cargo run --release -p tollgate-benches --features aws-lc --bin paired [-- ROUNDS]`
//! (default 301 rounds of about 2 × 0.2 ms each per pair).

use std::hint::black_box;
use std::time::Instant;
use tollgate::crypto::Backend;
use tollgate::{Decision, Request, TokenBuffer};
use tollgate_benches::{ring_floor, Fixture, FloorScratch, ALGORITHMS, FIXED_NOW};

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

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(301);
    println!("paired timing, {n} rounds per pair: medians of per-round figures");
    println!(
        "{:<7} {:<34} {:>10} {:>10} {:>8}",
        "alg", "pair", "left", "right", "ratio"
    );
    for alg in ALGORITHMS {
        let fx = Fixture::new(alg, FIXED_NOW);
        let token = fx.token.as_bytes();
        let mut scratch = Box::<FloorScratch>::default();
        let mut buf = TokenBuffer::new();
        let mut pairs: Vec<(&str, Vec<(f64, f64)>)> = Vec::new();

        let ring = fx.verifier_on(Backend::Ring);
        let mut tollgate = || {
            let t = ring.verify(black_box(token), FIXED_NOW, &mut buf);
            black_box(t.map(|t| t.claims().expires_at()).expect("verifies"));
        };
        let mut floor = || assert!(ring_floor(black_box(token), &fx.floor_key, &mut scratch));
        pairs.push((
            "tollgate / ring_floor",
            rounds(n, &mut tollgate, &mut floor),
        ));

        #[cfg(feature = "aws-lc")]
        {
            let aws = fx.verifier_on(Backend::AwsLc);
            let key = tollgate_benches::AwsLcFloorKey::new(&fx);
            let mut buf = TokenBuffer::new();
            let mut scratch = Box::<FloorScratch>::default();
            let mut tollgate = || {
                let t = aws.verify(black_box(token), FIXED_NOW, &mut buf);
                black_box(t.map(|t| t.claims().expires_at()).expect("verifies"));
            };
            let mut floor = || {
                assert!(tollgate_benches::aws_lc_floor(
                    black_box(token),
                    &key,
                    &mut scratch
                ))
            };
            pairs.push((
                "tollgate_aws_lc / aws_lc_floor",
                rounds(n, &mut tollgate, &mut floor),
            ));
        }

        for (name, r) in pairs {
            let left = median(r.iter().map(|p| p.0).collect());
            let right = median(r.iter().map(|p| p.1).collect());
            let ratio = median(r.iter().map(|p| p.0 / p.1).collect());
            println!(
                "{:<7} {name:<34} {:>8.0}ns {:>8.0}ns {ratio:>8.3}",
                alg.name(),
                left,
                right
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
