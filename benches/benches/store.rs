//! `store/api-key`: `Engine::check` of the service-accounts deployment's first allowed `fln_live_`
//! key with its record in four places, side by side in one run:
//! - `snapshot`: in the in-process snapshot (`check_into`, the embedded default);
//! - `store_warm`: in the shared store, already in the engine's record cache (`check_step`
//!   decides at once: the steady state within `store.cache_ttl`);
//! - `store_cold_memory`: in a store that is a `HashMap` (every check misses the cache and is
//!   resumed with the record: what pending/resume costs the engine, without a network);
//! - `store_cold_redis`: in a real `redis-server` on 127.0.0.1 (every check misses the cache:
//!   `check_step`, a `GET` through the service's `RedisStore`, `resume`).
//!
//! Starts redis-server itself (from apt), on a free port, persistence off. Run with
//! `cargo bench -p tollgate-benches --bench store`; benches/README.md has the latest ratios.

#[path = "../../tests/redis/harness.rs"]
#[allow(
    dead_code,
    reason = "the bench reads and writes through RedisStore, not the harness client"
)]
mod redis_harness;

use criterion::{criterion_main, Criterion};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;
use tollgate::pending::Step;
use tollgate::{Decision, Engine, Request};
use tollgate_benches::{deployments, OwnedRequest};
use tollgate_server::store::RedisStore;

/// The deployment's engine with every provider's records in the store; `ttl` the cache's.
fn store_engine(
    policy: &serde_json::Value,
    snapshot: &[u8],
    ttl: u64,
) -> (Engine, Vec<tollgate::StoredRecord>) {
    let mut policy = policy.clone();
    for p in policy["providers"].as_array_mut().expect("providers") {
        p["records"] = "store".into();
    }
    policy["store"] = serde_json::json!({ "cache_ttl": ttl });
    let engine = Engine::from_policy_json(policy.to_string().as_bytes()).expect("policy");
    let (rest, records) = tollgate::record::split_snapshot(snapshot).expect("snapshot");
    engine.swap_snapshot_json(rest.as_bytes()).expect("keys");
    (engine, records)
}

fn store(c: &mut Criterion) {
    let all = deployments();
    let sa = all
        .iter()
        .find(|d| d.name == "service-accounts")
        .expect("service-accounts");
    let case = sa.first_api_key_case("fln_live_");
    let req = OwnedRequest::from_case(&sa.table, case);
    let pairs = req.pairs();
    let now = sa.table.now;
    let snapshot = sa.snapshot.to_string();
    let (warm, records) = store_engine(&sa.policy, snapshot.as_bytes(), 300);
    let (cold, _) = store_engine(&sa.policy, snapshot.as_bytes(), 0);
    let memory: HashMap<String, Vec<u8>> = records
        .iter()
        .map(|r| (r.lookup.store_key(), r.json.clone().into_bytes()))
        .collect();

    let decide = |engine: &Engine, get: &mut dyn FnMut(&str) -> Option<Vec<u8>>| -> Decision {
        let mut step = engine.check_step(
            &Request::new(&req.method, black_box(&req.path), &pairs),
            now,
        );
        loop {
            match step {
                Step::Decided(d) => return d,
                Step::Pending(p) => {
                    let answer = get(&p.lookup().store_key());
                    step = engine.resume(p, answer.as_deref(), now);
                }
            }
        }
    };
    // Warm the cache once; the cold engine caches nothing.
    assert_eq!(decide(&warm, &mut |k| memory.get(k).cloned()).status, 200);

    let mut g = c.benchmark_group("store/api-key");
    let mut reused = Decision::default();
    g.bench_function("snapshot", |b| {
        b.iter(|| {
            sa.engine.check_into(
                &Request::new(&req.method, black_box(&req.path), &pairs),
                now,
                &mut reused,
            );
            assert_eq!(reused.status, 200);
        })
    });
    g.bench_function("store_warm", |b| {
        b.iter(|| {
            let d = decide(&warm, &mut |_| unreachable!("a warm cache asks nothing"));
            assert_eq!(d.status, 200);
            black_box(d)
        })
    });
    g.bench_function("store_cold_memory", |b| {
        b.iter(|| {
            let d = decide(&cold, &mut |k| memory.get(k).cloned());
            assert_eq!(d.status, 200);
            black_box(d)
        })
    });

    let Some(redis) = redis_harness::Redis::start() else {
        g.finish();
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client = RedisStore::new(&redis.url(), Duration::from_secs(2)).expect("store");
    runtime.block_on(async {
        for r in &records {
            let undated = tollgate::StoredRecord {
                expires: None,
                ..r.clone()
            };
            client.put(&undated).await.expect("put");
        }
    });
    g.bench_function("store_cold_redis", |b| {
        b.iter(|| {
            let d = decide(&cold, &mut |k| {
                runtime.block_on(client.get(k)).expect("GET")
            });
            assert_eq!(d.status, 200);
            black_box(d)
        })
    });
    g.finish();
}

fn benches() {
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    store(&mut c);
}

criterion_main!(benches);
