//! Evidence that Tollgate compares secrets in constant time, for `valgrind --tool=callgrind` (see
//! `benches/constant_time.sh`): `constant_time <CASE> [N]` refuses one wrong credential `N` times.
//!
//! Each secret comparison gets two wrong inputs of the right length that differ from the right
//! value in one byte only: the first compared byte (`_first`) or the last (`_last`). An early-exit
//! comparison returns sooner for `_first`, so it runs fewer instructions; a constant-time one runs
//! the same number for both. Everything else (lengths, keys, error messages) is equal, so the
//! script requires identical totals for each pair.
//!
//! - `hs256_*`: [`Verifier::verify`] of an HS256 token whose 32-byte MAC is wrong (ring's
//!   `hmac::verify` compares it).
//! - `apikey_*`: [`Engine::check`] of the right API key against a record whose stored SHA-256 is
//!   wrong in the part the engine compares (bytes 16..32; bytes 0..16 are the lookup id that
//!   finds the record, see `core/src/snapshot.rs`).
//! - `webhook_*`: [`WebhookVerifier::verify`] of a Standard Webhooks `v1` signature whose 32-byte
//!   HMAC is wrong.
//! - `naive_*`: the control: an early-exit byte loop over 32 bytes, which must differ, so a
//!   harness that cannot see a difference fails instead of passing.
//!
//! Setup, and one call that checks the right value is accepted, happen outside the `measure_*`
//! functions; the script collects instructions only inside them.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use std::hint::black_box;
use std::process::ExitCode;
use tollgate::webhook::{WebhookSigner, WebhookVerifier};
use tollgate::{Algorithm, Engine, ErrorCode, Request, TokenBuffer, Verifier};
use tollgate_callgrind::{Fixture, FIXED_NOW};

/// Which byte of the compared secret the wrong value changes.
#[derive(Clone, Copy)]
enum Flip {
    First,
    Last,
}

impl Flip {
    /// `bytes` with byte `first` (for [`Flip::First`]) or its last byte changed.
    fn apply(self, bytes: &[u8], first: usize) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = match self {
            Flip::First => first,
            Flip::Last => out.len() - 1,
        };
        out[at] ^= 0x5a;
        out
    }
}

/// `n` refusals of a wrong HS256 MAC; returns how many were refused.
#[inline(never)]
fn measure_hs256(v: &Verifier, token: &[u8], buf: &mut TokenBuffer, n: u64) -> u64 {
    let mut refused = 0;
    for _ in 0..n {
        if v.verify(black_box(token), FIXED_NOW, buf).is_err() {
            refused += 1;
        }
    }
    refused
}

/// `n` refusals of an API key whose stored hash does not match.
#[inline(never)]
fn measure_apikey(engine: &Engine, request: &Request<'_>, now: u64, n: u64) -> u64 {
    let mut refused = 0;
    for _ in 0..n {
        if engine.check(black_box(request), now).code == ErrorCode::UnknownApiKey {
            refused += 1;
        }
    }
    refused
}

/// `n` refusals of a wrong webhook `v1` signature.
#[inline(never)]
fn measure_webhook(v: &WebhookVerifier, msg: &WebhookMessage, n: u64) -> u64 {
    let mut refused = 0;
    for _ in 0..n {
        let r = v.verify(
            black_box(WEBHOOK_ID),
            black_box(&msg.timestamp),
            black_box(&msg.signature),
            black_box(WEBHOOK_BODY),
            FIXED_NOW,
        );
        if r.is_err() {
            refused += 1;
        }
    }
    refused
}

/// The control: an early-exit comparison.
#[inline(never)]
fn naive_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    for (x, y) in a.iter().zip(b) {
        if black_box(x) != black_box(y) {
            return false;
        }
    }
    true
}

/// `n` refusals of the control comparison.
#[inline(never)]
fn measure_naive(right: &[u8], wrong: &[u8], n: u64) -> u64 {
    let mut refused = 0;
    for _ in 0..n {
        if !naive_eq(black_box(right), black_box(wrong)) {
            refused += 1;
        }
    }
    refused
}

fn hs256(flip: Flip, n: u64) -> u64 {
    let fx = Fixture::new(Algorithm::HS256, FIXED_NOW);
    let v = fx.verifier();
    let mut buf = TokenBuffer::new();
    assert!(
        v.verify(fx.token.as_bytes(), FIXED_NOW, &mut buf).is_ok(),
        "the right HS256 token must verify"
    );
    let (signing_input, mac) = fx.token.rsplit_once('.').expect("a JWS");
    let mac = URL_SAFE_NO_PAD.decode(mac).expect("base64url MAC");
    assert_eq!(mac.len(), 32);
    let wrong = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(flip.apply(&mac, 0))
    );
    assert_eq!(wrong.len(), fx.token.len());
    measure_hs256(&v, wrong.as_bytes(), &mut buf, n)
}

fn apikey(flip: Flip, n: u64) -> u64 {
    let d = tollgate_callgrind::deployments()
        .into_iter()
        .find(|d| d.name == "service-accounts")
        .expect("the service-accounts deployment");
    let key = d.table.tokens["key-reader"].clone();
    let header = format!("Bearer {key}");
    let headers = [("Authorization", header.as_str())];
    let request = Request::new("GET", "/v1/orgs/org_1/invoices", &headers);
    let now = d.table.now;
    assert_eq!(
        d.engine.check(&request, now).status,
        200,
        "the right API key must be allowed"
    );
    // A snapshot holding only the reader's record, so the hash-map lookup finds exactly it.
    let mut snapshot = d.snapshot.clone();
    let records = snapshot["api_keys"]["api-keys"]
        .as_array_mut()
        .expect("api_keys.api-keys");
    records.retain(|r| r["id"] == "key_reader01");
    let record = records.first_mut().expect("key_reader01");
    let stored = record["hash"].as_str().expect("hash").to_owned();
    let digest = URL_SAFE_NO_PAD
        .decode(stored.strip_prefix("sha256:").expect("a sha256: hash"))
        .expect("base64url digest");
    assert_eq!(digest.len(), 32);
    record["hash"] = format!("sha256:{}", URL_SAFE_NO_PAD.encode(flip.apply(&digest, 16))).into();
    d.engine
        .swap_snapshot_json(snapshot.to_string().as_bytes())
        .expect("the altered snapshot");
    measure_apikey(&d.engine, &request, now, n)
}

const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WEBHOOK_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const WEBHOOK_BODY: &[u8] = br#"{"type":"invoice.paid","data":{"id":"inv_1"}}"#;

struct WebhookMessage {
    timestamp: String,
    signature: String,
}

fn webhook(flip: Flip, n: u64) -> u64 {
    let mut v = WebhookVerifier::new();
    v.add_secret(WEBHOOK_SECRET).expect("the webhook secret");
    let signer = WebhookSigner::new(WEBHOOK_SECRET).expect("the webhook secret");
    let timestamp = FIXED_NOW.to_string();
    let right = signer
        .sign(WEBHOOK_ID, FIXED_NOW, WEBHOOK_BODY)
        .expect("a signature");
    assert!(
        v.verify(WEBHOOK_ID, &timestamp, &right, WEBHOOK_BODY, FIXED_NOW)
            .is_ok(),
        "the right webhook signature must verify"
    );
    let mac = STANDARD
        .decode(right.strip_prefix("v1,").expect("a v1 signature"))
        .expect("base64 MAC");
    assert_eq!(mac.len(), 32);
    let signature = format!("v1,{}", STANDARD.encode(flip.apply(&mac, 0)));
    assert_eq!(signature.len(), right.len());
    measure_webhook(
        &v,
        &WebhookMessage {
            timestamp,
            signature,
        },
        n,
    )
}

fn naive(flip: Flip, n: u64) -> u64 {
    let right = [0x42u8; 32];
    measure_naive(&right, &flip.apply(&right, 0), n)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(case) = args.get(1) else {
        eprintln!("usage: constant_time <hs256|apikey|webhook|naive>_<first|last> [N]");
        return ExitCode::from(2);
    };
    let n: u64 = match args.get(2).map(|s| s.parse()) {
        None => 20,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("N must be a positive number");
            return ExitCode::from(2);
        }
    };
    let (what, flip) = match case.rsplit_once('_') {
        Some((w, "first")) => (w, Flip::First),
        Some((w, "last")) => (w, Flip::Last),
        _ => {
            eprintln!("{case}: the case must end in _first or _last");
            return ExitCode::from(2);
        }
    };
    let refused = match what {
        "hs256" => hs256(flip, n),
        "apikey" => apikey(flip, n),
        "webhook" => webhook(flip, n),
        "naive" => naive(flip, n),
        _ => {
            eprintln!("{case}: no such case (hs256, apikey, webhook, naive)");
            return ExitCode::from(2);
        }
    };
    if refused != n {
        eprintln!("{case}: only {refused} of {n} wrong values were refused");
        return ExitCode::FAILURE;
    }
    println!("{case}: {n} wrong values refused");
    ExitCode::SUCCESS
}
