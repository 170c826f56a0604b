//! The CLI's writes to the shared store, against a real `redis-server`: `store import`,
//! `apikey new --store`, `apikey revoke`, `webhook verify --store`.

#[path = "../../tests/redis/harness.rs"]
mod redis_harness;

use redis_harness::Redis;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn example(name: &str, file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .join(file)
        .to_str()
        .unwrap()
        .to_owned()
}

fn get(redis: &Redis, key: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(key)
        .query(&mut redis.client())
        .unwrap()
}

/// `tollgate store import` of an example deployment's snapshot into `redis`, the rest of the
/// snapshot written to `out`; it must succeed.
fn import(redis: &Redis, deployment: &str, out: &std::path::Path) -> Output {
    let o = run(&[
        "store",
        "import",
        "--store",
        &redis.url(),
        "--keys",
        &example(deployment, "snapshot.json"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    o
}

#[test]
fn import_moves_a_snapshots_records_into_the_store() {
    let Some(redis) = Redis::start() else { return };
    let out = std::env::temp_dir().join(format!("tollgate-import-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let o = import(&redis, "project-oidc", &out);
    let err = text(&o.stderr);
    assert!(
        err.contains("1 revoked_jti") && err.contains("2 user") && err.contains("api_key"),
        "{err}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the rest holds keys and peppers");
    }
    let rest: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    for gone in ["users", "api_keys", "revoked_jti"] {
        assert!(rest.get(gone).is_none(), "{gone} left in the snapshot");
    }
    assert!(rest["keys"]["zitadel"].is_object() && rest["peppers"]["pat"].is_string());
    let alice = get(&redis, &tollgate::RecordLookup::user("u-alice").store_key())
        .expect("u-alice's record");
    let alice: serde_json::Value = serde_json::from_str(&alice).unwrap();
    assert_eq!(
        (alice["v"].as_u64(), alice["record"].as_str()),
        (Some(1), Some("user"))
    );
    assert_eq!(alice["subject"], "u-alice");
    assert!(get(
        &redis,
        &tollgate::RecordLookup::revoked_jti("jti-revoked-1").store_key()
    )
    .is_some());
}

#[test]
fn a_key_made_with_store_is_stored_then_revoked_for_every_instance() {
    let Some(redis) = Redis::start() else { return };
    let mut pubsub = redis.client();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut pubsub = pubsub.as_pubsub();
    pubsub.subscribe("tollgate:invalidate").unwrap();

    let o = run(&[
        "apikey",
        "new",
        "--prefix",
        "fln_live",
        "--json",
        "--owner",
        "sa_x",
        "--scope",
        "invoices:read",
        "--expires-in",
        "3600",
        "--store",
        &redis.url(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let made: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let key = made["key"].as_str().unwrap();
    let lookup = tollgate::RecordLookup::api_key(key, None);
    let store_key = lookup.store_key();
    let stored: serde_json::Value =
        serde_json::from_str(&get(&redis, &store_key).unwrap()).unwrap();
    assert_eq!(stored["hash"], made["hash"]);
    assert_eq!(
        (stored["record"].as_str(), stored["revoked"].as_bool()),
        (Some("api_key"), Some(false))
    );
    // Kept a day past its expiry, so a late caller still hears api_key_expired.
    let ttl: i64 = redis::cmd("TTL")
        .arg(&store_key)
        .query(&mut redis.client())
        .unwrap();
    assert!((86_400 + 3_500..=86_400 + 3_600).contains(&ttl), "{ttl}");
    let announced: String = pubsub.get_message().unwrap().get_payload().unwrap();
    assert_eq!(announced, store_key);

    let o = run(&["apikey", "revoke", "--store", &redis.url(), key]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with(&format!("revoked {}", made["id"].as_str().unwrap())));
    let stored: serde_json::Value =
        serde_json::from_str(&get(&redis, &store_key).unwrap()).unwrap();
    assert_eq!(stored["revoked"], true);
    assert_eq!(stored["owner"], "sa_x");
    let announced: String = pubsub.get_message().unwrap().get_payload().unwrap();
    assert_eq!(announced, store_key);

    // By hash too; a key with no record is an error that says where it looked.
    let o = run(&[
        "apikey",
        "revoke",
        "--store",
        &redis.url(),
        "--hash",
        made["hash"].as_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let other = "fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBz";
    let o = run(&["apikey", "revoke", "--store", &redis.url(), other]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("holds no record under tollgate:api_key:"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn an_unreachable_store_is_an_error_never_a_success() {
    let o = run(&[
        "apikey",
        "revoke",
        "--store",
        "redis://127.0.0.1:1",
        "--store-timeout-ms",
        "300",
        "fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBz",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("127.0.0.1:1"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_webhook_verified_twice_through_the_store_is_a_replay() {
    let Some(redis) = Redis::start() else { return };
    let body = std::env::temp_dir().join(format!("tollgate-webhook-{}.json", std::process::id()));
    std::fs::write(&body, br#"{"test": 2432232314}"#).unwrap();
    let verify = || {
        run(&[
            "webhook",
            "verify",
            "--secret",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "--id",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "--timestamp",
            "1614265330",
            "--signature",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "--now",
            "1614265330",
            "--store",
            &redis.url(),
            body.to_str().unwrap(),
        ])
    };
    let first = verify();
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout), "valid\n");
    let again = verify();
    let _ = std::fs::remove_file(&body);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).starts_with("error[webhook_replayed]"),
        "{}",
        text(&again.stderr)
    );
}

/// A `tollgate serve` process on a free port of 127.0.0.1, killed on drop.
struct Serve {
    child: std::process::Child,
    port: u16,
}

impl Serve {
    fn start(policy: &str, keys: &str, store: &str, now: &str) -> Serve {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--policy",
                policy,
            ])
            .args([
                "--keys",
                keys,
                "--store",
                store,
                "--now",
                now,
                "--log-level",
                "error",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "tollgate serve did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Serve { child, port }
    }

    /// The status and body of a Caddy-style forward_auth request.
    fn ask(&self, path: &str, authorization: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "GET /auth/forward HTTP/1.1\r\nHost: auth\r\nX-Forwarded-Method: GET\r\n\
             X-Forwarded-Uri: {path}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        let status = reply
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, reply)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tollgate apikey new --store`: a key for service-accounts' invoices in org_1, as JSON.
fn reader_key(redis: &Redis) -> serde_json::Value {
    let o = run(&[
        "apikey",
        "new",
        "--prefix",
        "fln_live",
        "--json",
        "--owner",
        "sa_reports",
        "--tenant",
        "org_1",
        "--scope",
        "invoices:read",
        "--store",
        &redis.url(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn two_serve_processes_refuse_a_key_revoked_through_the_cli_within_a_second() {
    let Some(redis) = Redis::start() else { return };
    let dir = std::env::temp_dir().join(format!("tollgate-serve-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // service-accounts with every provider's records in the store.
    let mut policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example("service-accounts", "policy.json")).unwrap())
            .unwrap();
    for p in policy["providers"].as_array_mut().unwrap() {
        p["records"] = "store".into();
    }
    let policy_path = dir.join("policy.json");
    std::fs::write(&policy_path, policy.to_string()).unwrap();
    let keys = dir.join("keys.json");
    import(&redis, "service-accounts", &keys);
    // A key made for this test, stored with no expiry by the real clock to trip over.
    let made = reader_key(&redis);
    let bearer = format!("Bearer {}", made["key"].as_str().unwrap());

    let p = policy_path.to_str().unwrap();
    let k = keys.to_str().unwrap();
    let now = "1767225600";
    let (a, b) = (
        Serve::start(p, k, &redis.url(), now),
        Serve::start(p, k, &redis.url(), now),
    );
    let path = "/v1/orgs/org_1/invoices";
    for s in [&a, &b] {
        let (status, reply) = s.ask(path, &bearer);
        assert_eq!(status, 200, "{reply}");
    }
    std::thread::sleep(Duration::from_millis(300)); // both subscriptions are up
    let o = run(&[
        "apikey",
        "revoke",
        "--store",
        &redis.url(),
        made["key"].as_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let started = std::time::Instant::now();
    for s in [&a, &b] {
        loop {
            let (status, reply) = s.ask(path, &bearer);
            if status == 401 {
                assert!(reply.contains("api_key_revoked"), "{reply}");
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "still {status} after 1 s"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    eprintln!(
        "revocation through the CLI refused by both serve processes after {:?}",
        started.elapsed()
    );

    // Redis stopped: both refuse with 503, never 200, for a key they have not cached.
    let other = reader_key(&redis);
    drop(redis);
    let (status, reply) = a.ask(path, &format!("Bearer {}", other["key"].as_str().unwrap()));
    assert_eq!(status, 503, "{reply}");
    assert!(reply.contains("store_unavailable"), "{reply}");
    let _ = std::fs::remove_dir_all(&dir);
}
