//! `--jwks PROVIDER=URL` end to end: the service fetches a provider's keys from the shared JWKS
//! server (tests/keysource/jwks_server.py, python3), steered and counted per test: readiness waits
//! for the first good fetch, a rotation reaches the engine through one early fetch woken by the
//! new kid, an outage keeps the last good set, reloads keep fetched keys (and the key file's keys
//! for other providers), a reloaded policy that changes the provider's algorithms fetches again
//! under them, a flood of unknown kids costs one fetch, and a redirect is a failed fetch.

mod common;
#[path = "../../tests/keysource/harness.rs"]
mod harness;

use common::*;
use harness::{token, JwksServer};
use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};
use tollgate::{mint, Algorithm, SigningKey};
use tollgate_server::{Config, Listen};

const LOCAL_SECRET: [u8; 32] = [7; 32];

/// `idp` takes the shared fixtures' tokens (keys from --jwks); `local` HS256 tokens, whose key
/// is in the key file.
fn policy(name: &str) -> String {
    policy_with(name, "ES256")
}

/// [`policy`] with `idp` taking `algorithm` (the fixtures' keys are ES256).
fn policy_with(name: &str, algorithm: &str) -> String {
    format!(
        r#"{{"version":1,"name":"{name}",
        "credentials":[{{"name":"bearer","header":"Authorization","scheme":"Bearer"}}],
        "providers":[
          {{"name":"idp","credentials":["bearer"],"issuers":["https://issuer.test"],
            "audiences":["api"],"algorithms":["{algorithm}"]}},
          {{"name":"local","credentials":["bearer"],"issuers":["https://local.test"],
            "algorithms":["HS256"]}}],
        "routes":[{{"method":"GET","path":"/v1/me"}}]}}"#
    )
}

fn snapshot() -> String {
    format!(
        r#"{{"keys":{{"local":{{"keys":[{{"kty":"oct","alg":"HS256","kid":"l1","k":"{}"}}]}}}}}}"#,
        tollgate::base64url::encode(&LOCAL_SECRET)
    )
}

fn local_token() -> String {
    let signer = SigningKey::hmac(Algorithm::HS256, &LOCAL_SECRET, Some("l1")).unwrap();
    mint(
        &signer,
        br#"{"iss":"https://local.test","sub":"local-user","exp":4102444800}"#,
        None,
    )
    .unwrap()
}

/// Writes the policy and key file into `dir` and starts the service with `--jwks idp=<url>`.
fn service(dir: &Path, jwks: &JwksServer) -> Service {
    service_at(dir, &jwks.jwks_url())
}

/// [`service`] with `--jwks idp=<url>` for any `url`.
fn service_at(dir: &Path, url: &str) -> Service {
    std::fs::write(dir.join("policy.json"), policy("jwks")).unwrap();
    std::fs::write(dir.join("snapshot.json"), snapshot()).unwrap();
    let mut config = Config::new(
        Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        dir.join("policy.json"),
        dir.join("snapshot.json"),
    );
    config.watch_interval = Some(Duration::from_millis(50));
    config.jwks = vec![("idp".to_owned(), url.to_owned())];
    Service::start(config)
}

/// Asks the service about `GET /v1/me` with `token`, as Caddy would.
fn check(addr: SocketAddr, token: &str) -> Reply {
    let headers = [
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/v1/me"),
        ("X-Forwarded-Host", "api.test"),
        ("Authorization", &format!("Bearer {token}")),
    ]
    .map(|(n, v)| (n.to_owned(), v.to_owned()));
    send(addr, "GET", "/auth/forward", &headers)
}

fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, "GET", path, &[])
}

/// Waits (at most `secs`) for `what` to hold.
fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

fn metric(addr: SocketAddr, series: &str) -> Option<String> {
    get(addr, "/metrics")
        .body
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(str::to_owned))
}

#[test]
fn fetched_keys_gate_readiness_rotate_and_survive_outages_and_reloads() {
    let jwks = JwksServer::start();
    jwks.control(serde_json::json!({"mode":"error","status":503}));
    let dir = TempDir::new("jwks");
    let service = service(dir.path(), &jwks);
    let addr = service.addr;

    // The first fetch fails: not ready, the provider has no keys (the key file's other provider
    // is served all along). Wait for the service to take the failure in, not just for the
    // server's hit: a token checked before that would spend the early fetch the rotation needs.
    eventually(10, "the first fetch to fail", || {
        metric(
            addr,
            "tollgate_jwks_fetches_total{provider=\"idp\",result=\"failed\"}",
        )
        .is_some_and(|n| n != "0")
    });
    let ready = get(addr, "/readyz");
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(check(addr, &token("a")).status, 401);
    assert_eq!(check(addr, &local_token()).status, 200);
    assert_eq!(metric(addr, "tollgate_ready").as_deref(), Some("0"));

    // The server recovers: the retry (after the 5 s backoff) makes the service ready.
    jwks.control(serde_json::json!({"mode":"ok","keys":["a"]}));
    eventually(20, "readiness after a good fetch", || {
        get(addr, "/readyz").status == 200
    });
    assert_eq!(check(addr, &token("a")).status, 200);
    assert_eq!(jwks.hits().0, 2, "one failed fetch, one good one");
    assert_eq!(
        metric(
            addr,
            "tollgate_jwks_fetches_total{provider=\"idp\",result=\"ok\"}"
        )
        .as_deref(),
        Some("1")
    );
    assert!(metric(addr, "tollgate_jwks_age_seconds{provider=\"idp\"}").is_some());
    assert_eq!(metric(addr, "tollgate_ready").as_deref(), Some("1"));

    // Reloads (SIGHUP's, and a new policy from the file watcher) keep the fetched keys.
    assert!(service.reload());
    assert_eq!(check(addr, &token("a")).status, 200);
    write_atomic(&dir.path().join("policy.json"), policy("jwks-2").as_bytes());
    eventually(10, "the new policy", || {
        get(addr, "/metrics").body.contains("policy=\"jwks-2\"")
    });
    assert_eq!(check(addr, &token("a")).status, 200);
    assert_eq!(check(addr, &local_token()).status, 200);
    write_atomic(&dir.path().join("snapshot.json"), snapshot().as_bytes());
    assert!(service.reload());
    assert_eq!(check(addr, &token("a")).status, 200);
    assert_eq!(jwks.hits().0, 2, "reloads fetch nothing");

    // Rotation: b's kid is unknown, which wakes one early fetch; a is gone with it.
    jwks.step(serde_json::json!({"keys":["b"]}));
    let first = check(addr, &token("b"));
    assert_eq!(first.status, 401, "{}", first.body);
    eventually(10, "token-b allowed", || {
        check(addr, &token("b")).status == 200
    });
    assert_eq!(jwks.hits().0, 1, "one early fetch for the new kid");
    assert_eq!(check(addr, &token("a")).status, 401);

    // The server goes down: the last good set stays.
    jwks.control(serde_json::json!({"mode":"down"}));
    for _ in 0..5 {
        assert_eq!(check(addr, &token("b")).status, 200);
    }
    assert_eq!(check(addr, &local_token()).status, 200);
    assert_eq!(get(addr, "/readyz").status, 200);
    assert_eq!(
        metric(
            addr,
            "tollgate_jwks_fetches_total{provider=\"idp\",result=\"ok\"}"
        )
        .as_deref(),
        Some("2")
    );
    assert_eq!(jwks.hits().0, 1);
}

/// A key set URL that answers with a redirect is a failed fetch. The service follows no redirect
/// (one could lead past the URL rules, from https to plain http or to another host), so the
/// provider never gets keys from where the redirect points, and the service never becomes ready.
#[test]
fn a_redirect_is_a_failed_fetch_and_is_not_followed() {
    let jwks = JwksServer::start();
    jwks.control(serde_json::json!({"mode":"ok","keys":["a"]}));
    let dir = TempDir::new("jwks-redirect");
    let service = service_at(dir.path(), &format!("{}/moved", jwks.base()));
    let addr = service.addr;
    let failed = "tollgate_jwks_fetches_total{provider=\"idp\",result=\"failed\"}";
    eventually(10, "the first fetch to fail", || {
        metric(addr, failed).is_some_and(|n| n != "0")
    });
    assert_eq!(get(addr, "/readyz").status, 503);
    assert_eq!(check(addr, &token("a")).status, 401);
    assert_eq!(check(addr, &local_token()).status, 200);
    assert_eq!(jwks.hits().0, 0, "the redirect's target was fetched");
    let ok = "tollgate_jwks_fetches_total{provider=\"idp\",result=\"ok\"}";
    assert!(metric(addr, ok).is_none_or(|n| n == "0"));
}

#[test]
fn a_flood_of_unknown_kids_costs_one_fetch() {
    let jwks = JwksServer::start();
    let dir = TempDir::new("jwks-flood");
    let service = service(dir.path(), &jwks);
    let addr = service.addr;
    eventually(10, "readiness", || get(addr, "/readyz").status == 200);
    assert_eq!(jwks.hits().0, 1);
    jwks.step(serde_json::json!({}));

    // token-c's kid is never published: 200 checks from 4 clients at once.
    let c = token("c");
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            thread::spawn(move || (0..50).filter(|_| check(addr, &c).status == 401).count())
        })
        .collect();
    let refused: usize = clients.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(refused, 200);
    eventually(10, "the one early fetch", || jwks.hits().0 >= 1);
    thread::sleep(Duration::from_millis(500));
    let hits = jwks.hits().0;
    eprintln!("200 unknown-kid requests: {hits} fetch(es)");
    assert_eq!(hits, 1, "a flood of unknown kids costs one fetch");
    assert_eq!(check(addr, &token("a")).status, 200);
    let hints = metric(addr, "tollgate_key_refresh_hints_total").unwrap();
    assert_eq!(hints, "200");
}

#[test]
fn a_reloaded_policy_that_changes_a_providers_algorithms_fetches_again_under_them() {
    let jwks = JwksServer::start();
    let dir = TempDir::new("jwks-algs");
    let service = service(dir.path(), &jwks);
    let addr = service.addr;
    eventually(10, "readiness", || get(addr, "/readyz").status == 200);
    assert_eq!(check(addr, &token("a")).status, 200);
    jwks.step(serde_json::json!({}));

    // Narrowed to ES384, as the provider rotates from a to b: the ES256 set is not served under
    // the new policy. The source fetches again at once, under ES384, and finds no key it may use:
    // the provider's tokens are refused and the service is not ready (the key file's provider is
    // served all along).
    jwks.control(serde_json::json!({"keys":["b"]}));
    write_atomic(
        &dir.path().join("policy.json"),
        policy_with("jwks-es384", "ES384").as_bytes(),
    );
    eventually(10, "the narrowed policy", || {
        get(addr, "/metrics").body.contains("policy=\"jwks-es384\"")
    });
    assert_eq!(check(addr, &token("a")).status, 401);
    eventually(10, "the fetch under ES384", || jwks.hits().0 >= 1);
    eventually(10, "the failed fetch taken in", || {
        metric(
            addr,
            "tollgate_jwks_fetches_total{provider=\"idp\",result=\"failed\"}",
        )
        .is_some_and(|n| n != "0")
    });
    assert_eq!(get(addr, "/readyz").status, 503);
    assert_eq!(check(addr, &token("b")).status, 401);
    assert_eq!(check(addr, &local_token()).status, 200);

    // Back to ES256 while the provider is down, with no restart: the last set the provider
    // published (b, fetched under ES384, which could use none of it) is read again at once, so b
    // passes, a (which the provider dropped) does not come back, and the service is ready.
    jwks.control(serde_json::json!({"mode":"down"}));
    write_atomic(
        &dir.path().join("policy.json"),
        policy_with("jwks-es256", "ES256").as_bytes(),
    );
    eventually(10, "the ES256 set under the new policy", || {
        check(addr, &token("b")).status == 200
    });
    assert_eq!(check(addr, &token("a")).status, 401);
    eventually(10, "readiness", || get(addr, "/readyz").status == 200);
    assert!(get(addr, "/metrics").body.contains("policy=\"jwks-es256\""));

    // Broadened to ES256 and ES384, the provider still down: the keys the new policy still
    // allows are served without a gap, and the service stays ready.
    eventually(10, "the fetch after the change", || jwks.hits().0 >= 2);
    jwks.step(serde_json::json!({}));
    write_atomic(
        &dir.path().join("policy.json"),
        policy_with("jwks-two", "ES256\",\"ES384").as_bytes(),
    );
    eventually(10, "the policy with two algorithms", || {
        get(addr, "/metrics").body.contains("policy=\"jwks-two\"")
    });
    assert_eq!(check(addr, &token("b")).status, 200);
    assert_eq!(get(addr, "/readyz").status, 200);
    eventually(10, "the fetch the change asked for", || jwks.hits().0 >= 1);
    assert_eq!(check(addr, &token("b")).status, 200);
    assert_eq!(get(addr, "/readyz").status, 200);

    // The same two algorithms in the other order: nothing restarts, nothing is fetched. (First
    // the server comes back and the retry after the failure succeeds, so that nothing is due.)
    let good = || {
        metric(
            addr,
            "tollgate_jwks_fetches_total{provider=\"idp\",result=\"ok\"}",
        )
        .unwrap_or_default()
    };
    let before = good();
    jwks.control(serde_json::json!({"mode":"ok","keys":["b"]}));
    eventually(20, "the retry after the outage", || good() != before);
    jwks.step(serde_json::json!({}));
    write_atomic(
        &dir.path().join("policy.json"),
        policy_with("jwks-two-reordered", "ES384\",\"ES256").as_bytes(),
    );
    eventually(10, "the reordered policy", || {
        get(addr, "/metrics")
            .body
            .contains("policy=\"jwks-two-reordered\"")
    });
    assert_eq!(check(addr, &token("b")).status, 200);
    assert_eq!(get(addr, "/readyz").status, 200);
    assert_eq!(
        jwks.hits().0,
        0,
        "reordering the algorithms fetches nothing"
    );
}

#[test]
fn a_jwks_provider_the_policy_lacks_stops_the_start() {
    let dir = TempDir::new("jwks-bad");
    std::fs::write(dir.path().join("policy.json"), policy("jwks")).unwrap();
    std::fs::write(dir.path().join("snapshot.json"), snapshot()).unwrap();
    let mut config = Config::new(
        Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        dir.path().join("policy.json"),
        dir.path().join("snapshot.json"),
    );
    for (provider, url) in [
        ("nope", "http://127.0.0.1:9/jwks"),
        ("idp", "http://example.com/jwks"),
    ] {
        config.jwks = vec![(provider.to_owned(), url.to_owned())];
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = runtime
            .block_on(tollgate_server::start(config.clone()))
            .unwrap_err();
        eprintln!("--jwks {provider}={url}: {err}");
    }
}
