//! Runs one verification path `N` times, for `valgrind --tool=callgrind` (see
//! `benches/callgrind.sh`): `callgrind_paths <PATH> [N]`, where PATH is an algorithm (`hs256`,
//! `rs256`, `ps256`, `es256`, `es384`, `eddsa`: full Tollgate verification) optionally followed by
//! `_floor` (the raw ring floor), `_floor_json` (the floor plus serde_json and the claim checks) or
//! `_cached` (a repeat through the verified-token cache); or `engine_<deployment>`
//! (`Engine::check_into` of the example deployment's first allowed, authenticated case, one
//! `Decision` reused), `engine_<deployment>_proxied` (the same with the 16 headers a browser and a
//! proxy add) and `engine_<deployment>_verify` (its token through a bare verifier). CI runs
//! `hs256`, `hs256_floor`, `es256` and `es256_floor`. A third argument adds that many claims to
//! the verification paths' token (as `scaling/claims` does: `callgrind_paths hs256 200 9` has
//! Keycloak's 23 top-level claims).
//!
//! Setup (keys, token, verifier) and one warm-up call happen outside the `measure_*` functions;
//! the script collects instructions only inside them (`--toggle-collect='*measure_*'`), so the
//! count is N verifications and nothing else. Inputs are fixed (keys, claims, `now`), so the
//! counts repeat from run to run, except that ring signs ECDSA with a random nonce: ES256 and ES384
//! counts move by up to about 0.5% between runs.

use std::hint::black_box;
use std::process::ExitCode;
use tollgate::cache::CacheConfig;
use tollgate::{Decision, Engine, Request, TokenBuffer, Verifier};
use tollgate_callgrind::{
    realistic_claims, ring_floor, ring_floor_json, Fixture, FloorScratch, FIXED_NOW,
};

/// Full Tollgate verification (signature, issuer, audience, `exp`), `n` times.
#[inline(never)]
fn measure_tollgate(v: &Verifier, token: &[u8], now: u64, buf: &mut TokenBuffer, n: u64) -> u64 {
    let mut ok = 0;
    for _ in 0..n {
        if let Ok(t) = v.verify(black_box(token), now, buf) {
            black_box(t.claims().expires_at());
            ok += 1;
        }
    }
    ok
}

/// The ring floor (base64url-decode + HMAC or signature check), `n` times.
#[inline(never)]
fn measure_floor(fx: &Fixture, scratch: &mut FloorScratch, n: u64) -> u64 {
    let mut ok = 0;
    for _ in 0..n {
        if ring_floor(black_box(fx.token.as_bytes()), &fx.floor_key, scratch) {
            ok += 1;
        }
    }
    ok
}

/// The floor plus serde_json parsing and the claim checks, `n` times.
#[inline(never)]
fn measure_floor_json(fx: &Fixture, scratch: &mut FloorScratch, n: u64) -> u64 {
    let mut ok = 0;
    for _ in 0..n {
        if ring_floor_json(
            black_box(fx.token.as_bytes()),
            &fx.floor_key,
            scratch,
            fx.now,
        ) {
            ok += 1;
        }
    }
    ok
}

/// `Engine::check_into` with one reused decision, `n` times.
#[inline(never)]
fn measure_engine(
    engine: &Engine,
    request: &Request<'_>,
    now: u64,
    d: &mut Decision,
    n: u64,
) -> u64 {
    let mut ok = 0;
    for _ in 0..n {
        engine.check_into(black_box(request), now, d);
        if d.status == 200 {
            ok += 1;
        }
    }
    ok
}

/// What a browser and one proxy add to a request: the `_proxied` engine paths carry these beside
/// the case's own headers.
const PROXIED_HEADERS: &[(&str, &str)] = &[
    ("host", "api.example.com"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ),
    ("accept", "application/json, text/plain, */*"),
    ("accept-language", "en-GB,en;q=0.5"),
    ("accept-encoding", "gzip, deflate, br, zstd"),
    ("origin", "https://app.example.com"),
    ("referer", "https://app.example.com/projects"),
    ("sec-fetch-dest", "empty"),
    ("sec-fetch-mode", "cors"),
    ("sec-fetch-site", "same-site"),
    ("x-forwarded-for", "203.0.113.7, 10.0.0.2"),
    ("x-forwarded-proto", "https"),
    ("x-real-ip", "203.0.113.7"),
    ("x-request-id", "4bf92f3577b34da6a3ce929d0e0e4736"),
    (
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ),
    ("connection", "keep-alive"),
];

/// Runs an `engine_<deployment>[_proxied][_verify]` path.
fn engine_path(path: &str, name: &str, n: u64) -> ExitCode {
    let (name, verify_only) = match name.strip_suffix("_verify") {
        Some(d) => (d, true),
        None => (name, false),
    };
    let (name, proxied) = match name.strip_suffix("_proxied") {
        Some(d) => (d, true),
        None => (name, false),
    };
    let Some(d) = tollgate_callgrind::deployments()
        .into_iter()
        .find(|d| d.name == name)
    else {
        eprintln!("{path}: no such deployment (project-oidc, workspace-api, service-accounts, tenant-path)");
        return ExitCode::from(2);
    };
    let ec = d.engine_case();
    let ok = if verify_only {
        let mut buf = TokenBuffer::new();
        let _ = ec.verifier.verify(ec.token.as_bytes(), ec.now, &mut buf);
        measure_tollgate(&ec.verifier, ec.token.as_bytes(), ec.now, &mut buf, n)
    } else {
        let mut pairs = ec.request.pairs();
        if proxied {
            pairs.extend_from_slice(PROXIED_HEADERS);
        }
        let request = Request::new(&ec.request.method, &ec.request.path, &pairs);
        let mut decision = Decision::default();
        d.engine.check_into(&request, ec.now, &mut decision);
        measure_engine(&d.engine, &request, ec.now, &mut decision, n)
    };
    if ok != n {
        eprintln!("{path}: {ok} of {n} checks succeeded");
        return ExitCode::FAILURE;
    }
    println!("{path}: {n} checks of {:?}", ec.name);
    ExitCode::SUCCESS
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Tollgate,
    Cached,
    Floor,
    FloorJson,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_default();
    let n: u64 = match args.next().map(|s| s.parse()) {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("N must be a number");
            return ExitCode::from(2);
        }
    };
    let extra: usize = match args.next().map(|s| s.parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            eprintln!("EXTRA_CLAIMS must be a number");
            return ExitCode::from(2);
        }
    };
    if let Some(name) = path.strip_prefix("engine_") {
        return engine_path(&path, name, n);
    }
    let (name, mode) = if let Some(a) = path.strip_suffix("_floor_json") {
        (a, Mode::FloorJson)
    } else if let Some(a) = path.strip_suffix("_floor") {
        (a, Mode::Floor)
    } else if let Some(a) = path.strip_suffix("_cached") {
        (a, Mode::Cached)
    } else {
        (path.as_str(), Mode::Tollgate)
    };
    let Some(alg) = tollgate_callgrind::ALGORITHMS
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(name))
    else {
        eprintln!(
            "usage: callgrind_paths <hs256|rs256|ps256|es256|es384|eddsa>[_floor|_floor_json|_cached] \
             [N [EXTRA_CLAIMS]]"
        );
        return ExitCode::from(2);
    };
    let fx = Fixture::with_claims(alg, FIXED_NOW, &realistic_claims(FIXED_NOW, extra));
    let ok = match mode {
        Mode::Floor | Mode::FloorJson => {
            let mut scratch = Box::<FloorScratch>::default();
            // Warm-up outside the measured function.
            assert!(ring_floor_json(
                fx.token.as_bytes(),
                &fx.floor_key,
                &mut scratch,
                fx.now
            ));
            if mode == Mode::Floor {
                measure_floor(&fx, &mut scratch, n)
            } else {
                measure_floor_json(&fx, &mut scratch, n)
            }
        }
        Mode::Tollgate | Mode::Cached => {
            let mut v = fx.verifier();
            if mode == Mode::Cached {
                v = v.with_cache(CacheConfig::default());
            }
            let mut buf = TokenBuffer::new();
            // Warm-up outside the measured function: the buffer grows to the token's size once
            // (and the cache, if any, is filled).
            if let Err(e) = v.verify(fx.token.as_bytes(), fx.now, &mut buf) {
                eprintln!("{path}: the benchmark token does not verify: {e}");
                return ExitCode::FAILURE;
            }
            measure_tollgate(&v, fx.token.as_bytes(), fx.now, &mut buf, n)
        }
    };
    if ok != n {
        eprintln!("{path}: {ok} of {n} verifications succeeded");
        return ExitCode::FAILURE;
    }
    println!(
        "{path}: {n} verifications of a {}-byte token",
        fx.token.len()
    );
    ExitCode::SUCCESS
}
