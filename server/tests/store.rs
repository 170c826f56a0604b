//! The service with its records in a real `redis-server` (`--store`): the four deployments'
//! tables, an outage and the recovery, two instances agreeing on revocations and role changes,
//! webhook replays across hosts, and many concurrent checks that each read their own record.

mod common;

use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate::pending::Step;
use tollgate::scenario::Case;
use tollgate::{Engine, Request};
use tollgate_server::store::{block_on, RedisStore};

fn flush(redis: &Redis) {
    let _: () = redis::cmd("FLUSHALL").query(&mut redis.client()).unwrap();
}

fn ask(s: &Service, d: &Deployment, case: &Case) -> Reply {
    send(s.addr, "GET", "/auth/forward", &forward_case(d, case))
}

/// Whether `reply` is what `case` must come to: status, reason, forwarded headers.
fn matches(d: &Deployment, case: &Case, reply: &Reply) -> Result<(), String> {
    let want = d.expected(case);
    let reason = reply.reason().unwrap_or_else(|| "ok".to_owned());
    if reply.status != want.status || reason != want.code.name() {
        return Err(format!(
            "{} {reason}, want {} {}",
            reply.status,
            want.status,
            want.code.name()
        ));
    }
    for (name, value) in &want.forward_headers {
        if reply.all(name) != [value.as_str()] {
            return Err(format!("{name}: {:?}, want {value:?}", reply.all(name)));
        }
    }
    Ok(())
}

#[test]
fn the_four_deployments_decide_as_with_the_snapshot_with_their_records_in_redis() {
    let Some(redis) = Redis::start() else { return };
    for d in Deployment::all() {
        flush(&redis);
        let dir = TempDir::new("store");
        let (policy, keys, records) = store_files(&d, dir.path(), &[]);
        put_records(&redis.url(), &records);
        let s = store_service(&d, policy, keys, &redis.url());
        for case in &d.table.cases {
            matches(&d, case, &ask(&s, &d, case))
                .unwrap_or_else(|e| panic!("{}: {}: {e}", d.name, case.name));
        }
        let metrics = send(s.addr, "GET", "/metrics", &[]).body;
        if !records.is_empty() {
            assert!(
                metrics.contains("tollgate_store_lookups_total{result=\"found\"}"),
                "{metrics}"
            );
            assert!(
                !metrics.contains("tollgate_store_lookups_total{result=\"found\"} 0\n"),
                "{}: no record was read from the store",
                d.name
            );
        }
    }
}

/// service-accounts' allowed cases that carry an API key.
fn key_cases(d: &Deployment) -> Vec<&Case> {
    d.table
        .cases
        .iter()
        .filter(|c| c.expect.status == 200)
        .filter(|c| {
            d.table
                .headers(c)
                .iter()
                .any(|(_, v)| v.contains("fln_live_"))
        })
        .collect()
}

#[test]
fn an_unreachable_store_fails_closed_and_recovery_needs_no_restart() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let d = Deployment::load("service-accounts");
    let dir = TempDir::new("store");
    let (policy, keys, records) = store_files(&d, dir.path(), &[]);
    put_records(&redis.url(), &records);
    let s = store_service(&d, policy, keys, &redis.url());
    let cases = key_cases(&d);
    assert!(cases.len() >= 2, "two allowed API-key cases");
    assert_eq!(ask(&s, &d, cases[0]).status, 200);

    redis.stop();
    let started = Instant::now();
    let reply = ask(&s, &d, cases[1]);
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.reason().as_deref(), Some("store_unavailable"));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "failing closed took {:?}",
        started.elapsed()
    );

    redis.restart();
    put_records(&redis.url(), &records);
    let back = Instant::now();
    let mut status = 0;
    while back.elapsed() < Duration::from_secs(15) {
        status = ask(&s, &d, cases[1]).status;
        if status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, 200, "the service did not use the store again");
    eprintln!("recovered {:?} after the store came back", back.elapsed());
}

#[test]
fn the_service_refuses_a_store_policy_without_a_store() {
    let d = Deployment::load("service-accounts");
    let dir = TempDir::new("store");
    let (policy, keys, _) = store_files(&d, dir.path(), &[]);
    let config = tollgate_server::Config::new(
        tollgate_server::Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        policy,
        keys,
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let e = runtime
        .block_on(tollgate_server::start(config))
        .unwrap_err();
    assert!(
        e.to_string().contains("start the service with --store"),
        "{e}"
    );
}

/// Asks `case` of each service until every answer has `status`; the time that took.
fn until_all(services: &[&Service], d: &Deployment, case: &Case, status: u16) -> Duration {
    let started = Instant::now();
    for s in services {
        loop {
            if ask(s, d, case).status == status {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{}: still not {status} after 5 s",
                case.name
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    started.elapsed()
}

#[test]
fn two_instances_on_one_store_agree_on_a_revocation_within_a_second() {
    let Some(redis) = Redis::start() else { return };
    let d = Deployment::load("service-accounts");
    let dir = TempDir::new("store");
    let (policy, keys, records) = store_files(&d, dir.path(), &[]);
    put_records(&redis.url(), &records);
    let a = store_service(&d, policy.clone(), keys.clone(), &redis.url());
    let b = store_service(&d, policy, keys, &redis.url());
    let case = key_cases(&d)[0];
    // Both have the record cached (and the service's clock is fixed, so only an invalidation
    // can make them read it again).
    assert_eq!(ask(&a, &d, case).status, 200);
    assert_eq!(ask(&b, &d, case).status, 200);
    std::thread::sleep(Duration::from_millis(300)); // both subscriptions are up

    let key = d
        .table
        .headers(case)
        .iter()
        .find_map(|(_, v)| v.strip_prefix("Bearer ").map(str::to_owned))
        .unwrap();
    let lookup = tollgate::RecordLookup::api_key(&key, None);
    let mut record = records.iter().find(|r| r.lookup == lookup).unwrap().clone();
    let mut doc: serde_json::Value = serde_json::from_str(&record.json).unwrap();
    doc["revoked"] = true.into();
    record.json = doc.to_string();
    // Revoked through A's store (what `tollgate apikey revoke` does): write, then publish.
    put_records(&redis.url(), std::slice::from_ref(&record));
    let took = until_all(&[&a, &b], &d, case, 401);
    eprintln!("revocation propagation: {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(
        ask(&b, &d, case).reason().as_deref(),
        Some("api_key_revoked")
    );
}

#[test]
fn a_role_removed_from_a_user_restricts_their_personal_access_token_on_both_instances() {
    let Some(redis) = Redis::start() else { return };
    let d = Deployment::load("project-oidc");
    let dir = TempDir::new("store");
    let (policy, keys, records) = store_files(&d, dir.path(), &[]);
    put_records(&redis.url(), &records);
    let a = store_service(&d, policy.clone(), keys.clone(), &redis.url());
    let b = store_service(&d, policy, keys, &redis.url());
    let case = d
        .table
        .cases
        .iter()
        .find(|c| {
            c.expect.status == 200 && c.expect.kind.as_deref() == Some("personal_access_token")
        })
        .expect("an allowed PAT case");
    assert_eq!(ask(&a, &d, case).status, 200);
    assert_eq!(ask(&b, &d, case).status, 200);
    std::thread::sleep(Duration::from_millis(300));

    let subject = case
        .expect
        .subject
        .clone()
        .expect("the case names its subject");
    let owner = tollgate::RecordLookup::user(&subject);
    let user = records.iter().find(|r| r.lookup == owner).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&user.json).unwrap();
    doc["roles"] = serde_json::json!([]);
    doc["tenants"] = serde_json::json!({});
    let demoted = tollgate::StoredRecord {
        json: doc.to_string(),
        ..user.clone()
    };
    put_records(&redis.url(), &[demoted]);
    let refused = d.expected(case).status; // computed from the snapshot: 200
    assert_eq!(refused, 200);
    let took = until_all(&[&a, &b], &d, case, 403);
    eprintln!("role change propagation: {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(
        ask(&a, &d, case).reason().as_deref(),
        Some("tenant_forbidden")
    );
    // Given back, the role works again on both.
    put_records(&redis.url(), std::slice::from_ref(user));
    until_all(&[&a, &b], &d, case, 200);
}

#[test]
fn a_webhook_accepted_by_one_host_is_refused_as_a_replay_by_another() {
    let Some(redis) = Redis::start() else { return };
    let (a, b) = (
        RedisStore::new(&redis.url(), Duration::from_secs(2)).unwrap(),
        RedisStore::new(&redis.url(), Duration::from_secs(2)).unwrap(),
    );
    let mut verifier = tollgate::webhook::WebhookVerifier::new();
    verifier
        .add_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap();
    let deliver = |store: &RedisStore| {
        let claim = verifier
            .verify_for_store(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                br#"{"test": 2432232314}"#,
                1614265330,
                0,
            )
            .unwrap();
        let ttl = claim.ttl_secs();
        let claimed = block_on(store.claim(claim.store_key(), ttl))
            .unwrap()
            .unwrap();
        claim.settle(claimed)
    };
    deliver(&a).unwrap();
    let replay = deliver(&b).unwrap_err();
    assert_eq!(replay.code().name(), "webhook_replayed");
    // The claim expires with the tolerance window (300 s, through its last second).
    let ttl: i64 = redis::cmd("TTL")
        .arg("tollgate:webhook:bcda2c50c55350fde15cb6a403311daac6f7adf9e5d5b836363f31d1b908edb1")
        .query(&mut redis.client())
        .unwrap();
    assert!((296..=301).contains(&ttl), "{ttl}");
}

/// A case's headers, the case, and the decision it must come to.
type KeyCase = (Vec<(String, String)>, Case, tollgate::Decision);

#[test]
fn eight_threads_of_ten_thousand_checks_each_read_their_own_record() {
    let Some(redis) = Redis::start() else { return };
    let d = Deployment::load("service-accounts");
    let dir = TempDir::new("store");
    // No record cache: every check reads the store.
    let (policy, keys, records) = store_files(
        &d,
        dir.path(),
        &[("store", serde_json::json!({"cache_ttl": 0}))],
    );
    put_records(&redis.url(), &records);
    let engine = Engine::from_policy_json(&std::fs::read(policy).unwrap()).unwrap();
    engine
        .swap_snapshot_json(&std::fs::read(keys).unwrap())
        .unwrap();
    let engine = Arc::new(engine);
    let store = Arc::new(RedisStore::new(&redis.url(), Duration::from_secs(5)).unwrap());
    // Every API-key case of the table, with what the snapshot engine says of it.
    let cases: Vec<KeyCase> = d
        .table
        .cases
        .iter()
        .filter(|c| d.table.headers(c).iter().any(|(_, v)| v.contains("fln_")))
        .map(|c| (d.table.headers(c), c.clone(), d.expected(c)))
        .collect();
    assert!(cases.len() >= 5, "{}", cases.len());
    let cases = Arc::new(cases);
    let now = d.table.now;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(8)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let lookups = runtime.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..8usize {
            let (engine, store, cases) = (engine.clone(), store.clone(), cases.clone());
            tasks.push(tokio::spawn(async move {
                let mut lookups = 0usize;
                for i in 0..10_000usize {
                    let (headers, case, want) = &cases[(t + i) % cases.len()];
                    let pairs: Vec<(&str, &str)> = headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect();
                    let req = Request::new(&case.request.method, &case.request.path, &pairs);
                    let mut step = engine.check_step(&req, now);
                    let got = loop {
                        match step {
                            Step::Decided(d) => break d,
                            Step::Pending(p) => {
                                lookups += 1;
                                let answer = store.get(&p.lookup().store_key()).await.unwrap();
                                step = engine.resume(p, answer.as_deref(), now);
                            }
                        }
                    };
                    assert_eq!(
                        got.to_json(),
                        want.to_json(),
                        "task {t}, check {i}: {}",
                        case.name
                    );
                }
                lookups
            }));
        }
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    });
    let elapsed = started.elapsed();
    eprintln!(
        "80,000 checks, {lookups} store lookups in {elapsed:?} ({:.0} checks/s)",
        80_000.0 / elapsed.as_secs_f64()
    );
    assert!(lookups >= 60_000, "{lookups}");
}

#[test]
fn a_session_cookie_is_checked_against_its_record_in_redis() {
    let Some(redis) = Redis::start() else { return };
    let dir = TempDir::new("store");
    let policy = dir.path().join("policy.json");
    let keys = dir.path().join("keys.json");
    std::fs::write(
        &policy,
        r#"{"version": 1, "credentials": [{"name": "s", "cookie": "flow_session"}],
            "providers": [{"name": "flow", "type": "session", "credentials": ["s"], "records": "store"}],
            "tenant": {"header": "X-Project-ID"}, "permissions": ["read"],
            "roles": [{"name": "viewer", "grants": ["read"]}],
            "routes": [{"method": "GET", "path": "/items", "tenant": true, "requires": ["read"]}]}"#,
    )
    .unwrap();
    std::fs::write(&keys, "{}").unwrap();
    let session = |revoked: bool| {
        let record = tollgate::record::SessionRecord {
            subject: "u-alice".into(),
            kind: tollgate::PrincipalKind::User,
            provider: None,
            expires: 2_000_000_000,
            created: None,
            roles: vec![],
            tenants: [("A".to_owned(), vec!["viewer".to_owned()])].into(),
            revoked,
        };
        tollgate::StoredRecord::session("s-123", None, &record).unwrap()
    };
    put_records(&redis.url(), &[session(false)]);
    let mut config = tollgate_server::Config::new(
        tollgate_server::Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        policy,
        keys,
    );
    config.clock = tollgate_server::Clock::Fixed(1_900_000_000);
    config.store = Some(redis.url());
    let s = Service::start(config);
    let ask = |id: &str| {
        let headers = [
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", "/items"),
            ("Cookie", &format!("flow_session={id}")),
            ("X-Project-ID", "A"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()));
        send(s.addr, "GET", "/auth/forward", &headers)
    };
    assert_eq!(ask("s-123").status, 200);
    assert_eq!(ask("s-999").reason().as_deref(), Some("unknown_session"));
    std::thread::sleep(Duration::from_millis(300)); // the subscription is up
    put_records(&redis.url(), &[session(true)]);
    let started = Instant::now();
    while ask("s-123").status != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still allowed after 1 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(ask("s-123").reason().as_deref(), Some("session_revoked"));
}
