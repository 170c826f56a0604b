//! Reload under load: while clients send requests without pause, the key file is swapped again
//! and again (picked up by the file watcher and by explicit reloads, as SIGHUP does), the policy
//! is replaced (a whole new engine), and a broken key file comes and goes. No request may fail for
//! the swaps themselves.

mod common;

use common::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use tollgate::{mint, Algorithm, SigningKey};
use tollgate_server::{Clock, Config, Listen};

const NOW: u64 = 1_767_225_600;

fn jwk(secret: &[u8], kid: &str) -> String {
    format!(
        r#"{{"kty":"oct","alg":"HS256","kid":"{kid}","k":"{}"}}"#,
        tollgate::base64url::encode(secret)
    )
}

fn snapshot(keys: &[(&[u8], &str)]) -> Vec<u8> {
    let keys: Vec<String> = keys.iter().map(|(s, k)| jwk(s, k)).collect();
    format!(r#"{{"keys": {{"app": {{"keys": [{}]}}}}}}"#, keys.join(",")).into_bytes()
}

fn token(secret: &[u8], kid: &str) -> String {
    let signer = SigningKey::hmac(Algorithm::HS256, secret, Some(kid)).unwrap();
    let claims = format!(
        r#"{{"iss":"https://app.example","sub":"alice","iat":{NOW},"exp":{},"tenants":{{"A":["Admin"]}}}}"#,
        NOW + 600
    );
    mint(&signer, claims.as_bytes(), None).unwrap()
}

/// The service on `policy` and `keys`, at `NOW`, its file watcher ticking every 20 ms.
fn watched(policy: &std::path::Path, keys: &std::path::Path) -> Service {
    let mut config = Config::new(
        Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        policy.to_owned(),
        keys.to_owned(),
    );
    config.clock = Clock::Fixed(NOW);
    config.watch_interval = Some(Duration::from_millis(20));
    Service::start(config)
}

#[test]
fn swapping_keys_and_policy_under_load_fails_no_request() {
    let k1 = [1u8; 32];
    let k2 = [2u8; 32];
    let a = snapshot(&[(&k1, "k1")]);
    let b = snapshot(&[(&k1, "k1"), (&k2, "k2")]);
    let dir = TempDir::new("reload");
    let policy = dir.path().join("policy.json");
    let keys = dir.path().join("snapshot.json");
    let policy_bytes = std::fs::read(root().join("examples/tenant-path/policy.json")).unwrap();
    std::fs::write(&policy, &policy_bytes).unwrap();
    std::fs::write(&keys, &a).unwrap();
    let service = watched(&policy, &keys);
    let addr = service.addr;

    let t1 = token(&k1, "k1");
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..3)
        .map(|i| {
            let (stop, sent, failures, t1) =
                (stop.clone(), sent.clone(), failures.clone(), t1.clone());
            thread::spawn(move || {
                // Two keep-alive clients and one that connects for every request.
                let mut conn = (i < 2).then(|| KeepAlive::connect(addr));
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    let reply = match conn.as_mut() {
                        Some(c) => c.send(
                            "GET",
                            "/auth/forward",
                            &[
                                ("X-Forwarded-Method", "POST"),
                                ("X-Forwarded-Uri", "/api/tenants/A/items"),
                                ("token", &t1),
                            ],
                        ),
                        None => send(
                            addr,
                            "GET",
                            "/auth/forward",
                            &[
                                ("X-Forwarded-Method".into(), "POST".into()),
                                ("X-Forwarded-Uri".into(), "/api/tenants/A/items".into()),
                                ("token".into(), t1.clone()),
                            ],
                        ),
                    };
                    sent.fetch_add(1, Ordering::Relaxed);
                    if reply.status != 200 || reply.header("x-auth-subject") != Some("alice") {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{} {}", reply.status, reply.body));
                    }
                }
            })
        })
        .collect();

    let mut swaps = 0;
    for i in 0..60 {
        write_atomic(&keys, if i % 2 == 0 { &b } else { &a });
        swaps += 1;
        if i % 3 == 0 {
            assert!(service.reload(), "reload {i}");
        }
        if i % 15 == 7 {
            // A new policy file (same content): a whole new engine is swapped in.
            write_atomic(&policy, &policy_bytes);
        }
        if i == 30 {
            // A broken key file: the reload fails and the engine in use stays.
            write_atomic(
                &keys,
                b"{\"keys\": {\"app\": {\"keys\": [{\"kty\": \"oct\"}]}}}",
            );
            assert!(!service.reload(), "a broken key file loaded");
            thread::sleep(Duration::from_millis(40));
        }
        thread::sleep(Duration::from_millis(25));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let failures = failures.lock().unwrap();
    let sent = sent.load(Ordering::Relaxed);
    println!(
        "reload under load: {sent} requests across {swaps} key swaps, {} failed",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(sent > 200, "only {sent} requests were sent");

    let metrics = send(addr, "GET", "/metrics", &[]).body;
    let count = |label: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(label))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        count("tollgate_key_refreshes_total{source=\"file\",result=\"ok\"}") >= 20,
        "{metrics}"
    );
    assert!(
        count("tollgate_key_refreshes_total{source=\"file\",result=\"error\"}") >= 1,
        "{metrics}"
    );
    assert!(
        count("tollgate_policy_reloads_total{result=\"ok\"}") >= 3,
        "{metrics}"
    );

    // The swaps took effect: k2 works under snapshot b and not under a.
    let t2 = token(&k2, "k2");
    let ask = |t: &str| {
        send(
            addr,
            "GET",
            "/auth/forward",
            &[
                ("X-Forwarded-Method".into(), "GET".into()),
                ("X-Forwarded-Uri".into(), "/api/tenants/A/items".into()),
                ("token".into(), t.to_owned()),
            ],
        )
    };
    write_atomic(&keys, &b);
    assert!(service.reload());
    assert_eq!(ask(&t2).status, 200);
    write_atomic(&keys, &a);
    assert!(service.reload());
    let r = ask(&t2);
    assert_eq!(
        (r.status, r.reason().as_deref()),
        (401, Some("unknown_kid"))
    );
}

/// The policy file changes first and fails against the old keys; the key file follows on a later
/// tick of the watcher (two ConfigMaps, say). The new policy is tried again with the new keys,
/// not left behind while the new keys go into the old policy.
#[test]
fn a_policy_that_waited_for_its_keys_loads_when_they_come() {
    let k1 = [1u8; 32];
    let dir = TempDir::new("reload-pair");
    let policy = dir.path().join("policy.json");
    let keys = dir.path().join("snapshot.json");
    let mut p1: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("examples/tenant-path/policy.json")).unwrap(),
    )
    .unwrap();
    let mut old = p1["providers"][0].clone();
    old["name"] = "old".into();
    old["credentials"] = serde_json::json!(["old-token"]);
    old["issuers"] = serde_json::json!(["https://old.example"]);
    p1["providers"].as_array_mut().unwrap().push(old);
    p1["credentials"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "old-token", "header": "old-token"}));
    p1["name"] = "p1".into();
    let mut p2: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root().join("examples/tenant-path/policy.json")).unwrap(),
    )
    .unwrap();
    p2["name"] = "p2".into();
    let k_app = jwk(&k1, "k1");
    let with_old =
        format!(r#"{{"keys": {{"app": {{"keys": [{k_app}]}}, "old": {{"keys": []}}}}}}"#);
    std::fs::write(&policy, p1.to_string()).unwrap();
    std::fs::write(&keys, &with_old).unwrap();
    let service = watched(&policy, &keys);
    let ready = || send(service.addr, "GET", "/readyz", &[]).body;
    let wait_for = |want: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready().contains(want) {
            assert!(Instant::now() < deadline, "never {want}: {}", ready());
            thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(r#""policy":"p1""#);
    write_atomic(&policy, p2.to_string().as_bytes());
    // Give the watcher a few ticks: p2 fails against keys naming "old".
    thread::sleep(Duration::from_millis(200));
    assert!(ready().contains(r#""policy":"p1""#), "{}", ready());
    // Meanwhile the app key k1 is revoked (k2 replaces it) in a key file that still names "old":
    // p2 keeps waiting, and the revocation reaches p1 at once.
    let k2 = [2u8; 32];
    let k_app2 = jwk(&k2, "k2");
    let revoked =
        format!(r#"{{"keys": {{"app": {{"keys": [{k_app2}]}}, "old": {{"keys": []}}}}}}"#);
    let check = |t: &str| {
        send(
            service.addr,
            "GET",
            "/auth/forward",
            &[
                ("X-Forwarded-Method".into(), "POST".into()),
                ("X-Forwarded-Uri".into(), "/api/tenants/A/items".into()),
                ("token".into(), t.to_owned()),
            ],
        )
        .status
    };
    let (t1, t2) = (token(&k1, "k1"), token(&k2, "k2"));
    assert_eq!(check(&t1), 200);
    write_atomic(&keys, revoked.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(10);
    while check(&t1) != 401 {
        assert!(Instant::now() < deadline, "the revocation never reached p1");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(check(&t2), 200);
    assert!(ready().contains(r#""policy":"p1""#), "{}", ready());

    let without_old = format!(r#"{{"keys": {{"app": {{"keys": [{k_app2}]}}}}}}"#);
    write_atomic(&keys, without_old.as_bytes());
    wait_for(r#""policy":"p2""#);
    assert_eq!(check(&t2), 200);
}
