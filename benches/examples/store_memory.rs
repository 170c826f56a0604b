//! What records cost in memory, for docs/scaling.md: `cargo run --release -p tollgate-benches
//! --example store_memory [-- N]` (default N = 100,000).
//!
//! - In Redis: N API-key records written through the service's `RedisStore` into a fresh
//!   `redis-server` (started here, persistence off); `used_memory` before and after, per record
//!   and per million.
//! - In a gateway: the engine's record cache filled with the same N records (a check of each key,
//!   answered from memory): the growth of the process's resident memory (VmRSS), per entry.

#[path = "../../tests/redis/harness.rs"]
#[allow(dead_code, reason = "only start, url and client are used")]
mod redis_harness;

use std::collections::HashMap;
use tollgate::apikey::{self, Hashing};
use tollgate::pending::Step;
use tollgate::{Engine, Request, StoredRecord};

/// This process's resident memory (VmRSS), in bytes.
fn resident() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<i64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

const POLICY: &str = r#"{"version": 1, "credentials": [{"name": "bearer", "header": "Authorization", "scheme": "Bearer"}],
  "providers": [{"name": "keys", "type": "api_key", "prefixes": ["fln_live"], "credentials": ["bearer"], "records": "store"}],
  "tenant": {"header": "X-Org"}, "permissions": ["invoices:read"],
  "roles": [{"name": "reader", "grants": ["invoices:read"]}],
  "routes": [{"method": "GET", "path": "/invoices", "tenant": true, "requires": ["invoices:read"]}],
  "store": {"cache_ttl": 300, "cache_entries": 10000000}}"#;

fn used_memory(c: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("memory").query(c).expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory")
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let mut keys = Vec::with_capacity(n);
    let mut records = Vec::with_capacity(n);
    for i in 0..n {
        let mut g = apikey::generate(
            "fln_live",
            &format!("sa_{i}"),
            &Hashing::Sha256,
            1_767_225_600,
        )
        .expect("key");
        g.record.tenant = Some(format!("org_{}", i % 1000));
        g.record.roles = vec!["reader".to_owned()];
        records.push(StoredRecord::api_key(&g.record).expect("record"));
        keys.push(g.key);
    }
    let typical = records.first().map_or(0, |r| r.json.len());

    let redis = redis_harness::Redis::start().expect("redis-server");
    let mut conn = redis.client();
    let before = used_memory(&mut conn);
    let mut pipe = redis::pipe();
    for r in &records {
        pipe.cmd("SET")
            .arg(r.lookup.store_key())
            .arg(&r.json)
            .ignore();
    }
    let _: () = pipe.query(&mut conn).expect("SET");
    let after = used_memory(&mut conn);
    let per_record = (after - before) as f64 / n as f64;
    println!("records: {n} API keys, a typical record {typical} bytes of JSON");
    println!(
        "redis: used_memory {before} -> {after}: {per_record:.0} bytes a record, {per_record:.0} MB a million"
    );

    let engine = Engine::from_policy_json(POLICY.as_bytes()).expect("policy");
    let store: HashMap<String, Vec<u8>> = records
        .iter()
        .map(|r| (r.lookup.store_key(), r.json.clone().into_bytes()))
        .collect();
    let start = resident();
    for (i, key) in keys.iter().enumerate() {
        let bearer = format!("Bearer {key}");
        let org = format!("org_{}", i % 1000);
        let headers = [("Authorization", bearer.as_str()), ("X-Org", org.as_str())];
        let mut step =
            engine.check_step(&Request::new("GET", "/invoices", &headers), 1_767_225_600);
        loop {
            match step {
                Step::Decided(d) => {
                    assert_eq!(d.status, 200, "{}", d.message);
                    break;
                }
                Step::Pending(p) => {
                    let answer = store.get(&p.lookup().store_key()).cloned();
                    step = engine.resume(p, answer.as_deref(), 1_767_225_600);
                }
            }
        }
    }
    let cache = resident() - start;
    println!(
        "record cache: resident memory grew {cache} bytes for {n} entries: {:.0} bytes an entry, {:.0} MB a million",
        cache as f64 / n as f64,
        cache as f64 / n as f64
    );
    drop(redis);
}
