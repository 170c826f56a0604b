//! `tollgate verify --jwks-url` and `--issuer-discovery` end to end: the built binary against the
//! shared JWKS server (tests/keysource/jwks_server.py, python3), steered and counted per test.

use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[path = "../../tests/keysource/harness.rs"]
mod harness;

use harness::{keysource, kid, token, JwksServer};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

fn verify(args: &[&str], token: &str) -> Output {
    Command::new(BIN)
        .arg("verify")
        .args(args)
        .arg(token)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e})"))
}

#[track_caller]
fn assert_ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
}

/// Exit `exit` with exactly one stderr line, `error[<code>]: …`, that contains `needle`.
#[track_caller]
fn assert_one_error(o: &Output, exit: i32, code: &str, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(exit), "stderr: {err}");
    assert!(o.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("error[{code}]: ")), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

#[test]
fn jwks_url_verifies_a_token_of_a_served_key() {
    let server = JwksServer::start();
    let url = server.jwks_url();
    let out = verify(&["--jwks-url", &url, "--audience", "api"], &token("a"));
    assert_ok(&out);
    let v = json(&out);
    assert_eq!(v["claims"]["sub"], "user-a");
    assert_eq!(v["kid"], kid("a").as_str());
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    assert_eq!(server.hits(), (1, 0));

    // --alg keeps only that algorithm's keys: with none left, the set is unusable.
    server.step(serde_json::json!({}));
    let out = verify(
        &["--jwks-url", &url, "--audience", "api", "--alg", "ES384"],
        &token("a"),
    );
    assert_one_error(&out, 1, "key_set_fetch_failed", "no key Tollgate can use");
    assert_eq!(server.hits(), (1, 0));
}

#[test]
fn rotation_refetches_exactly_once_for_an_unknown_kid() {
    let server = JwksServer::start();
    let url = server.jwks_url();
    let args = ["--jwks-url", url.as_str(), "--audience", "api"];

    // Key a is retired: the first set lacks its kid, the one refetch too.
    server.step(serde_json::json!({"keys": ["b"]}));
    let out = verify(&args, &token("a"));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("error[unknown_kid]: "), "{err}");
    assert_eq!(
        lines[1],
        format!(
            "note: the key set was fetched again and still has no kid \"{}\"",
            kid("a")
        )
    );
    assert_eq!(server.hits(), (2, 0));

    // Key b's token passes on the first fetch.
    server.step(serde_json::json!({}));
    let out = verify(&args, &token("b"));
    assert_ok(&out);
    assert_eq!(json(&out)["kid"], kid("b").as_str());
    assert_eq!(server.hits(), (1, 0));

    // While both are served, both pass; c, never published, costs one refetch and fails.
    server.step(serde_json::json!({"keys": ["a", "b"]}));
    assert_ok(&verify(&args, &token("a")));
    assert_ok(&verify(&args, &token("b")));
    assert_eq!(server.hits(), (2, 0));
    server.step(serde_json::json!({}));
    let out = verify(&args, &token("c"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error[unknown_kid]: "));
    assert_eq!(server.hits(), (2, 0));
}

#[test]
fn unusable_responses_are_key_set_fetch_failed() {
    let server = JwksServer::start();
    let url = server.jwks_url();
    let args = ["--jwks-url", url.as_str(), "--audience", "api"];
    for (change, needle) in [
        (
            serde_json::json!({"mode": "error", "status": 500}),
            "answered HTTP 500",
        ),
        (
            serde_json::json!({"mode": "error", "status": 404}),
            "answered HTTP 404",
        ),
        (
            serde_json::json!({"mode": "garbage"}),
            "the body is not a usable JWKS",
        ),
        (
            serde_json::json!({"mode": "down"}),
            "fetching the key set failed",
        ),
    ] {
        server.step(change.clone());
        let out = verify(&args, &token("a"));
        assert_one_error(&out, 1, "key_set_fetch_failed", needle);
        assert!(stderr(&out).contains(&url), "{}", stderr(&out));
        // One attempt: a host's refresher backs off after a failure, it does not retry at once.
        assert_eq!(server.hits(), (1, 0), "{change}");
    }

    // Nobody listening.
    let port = server.port;
    drop(server);
    let out = verify(
        &[
            "--jwks-url",
            &format!("http://127.0.0.1:{port}/jwks"),
            "--audience",
            "api",
        ],
        &token("a"),
    );
    assert_one_error(
        &out,
        1,
        "key_set_fetch_failed",
        "fetching the key set failed",
    );
}

#[test]
fn issuer_discovery_finds_the_jwks_of_that_issuer_only() {
    let server = JwksServer::start();
    let issuer = server.base();

    // The tokens' iss is https://issuer.test, not the server's: --issuer accepts it instead.
    let out = verify(
        &[
            "--issuer-discovery",
            &issuer,
            "--issuer",
            "https://issuer.test",
            "--audience",
            "api",
        ],
        &token("a"),
    );
    assert_ok(&out);
    assert_eq!(json(&out)["claims"]["sub"], "user-a");
    assert_eq!(server.hits(), (1, 1));

    // Without --issuer, only the discovered issuer's tokens are accepted.
    server.step(serde_json::json!({}));
    let disc = ["--issuer-discovery", issuer.as_str(), "--audience", "api"];
    let out = verify(&disc, &token("a"));
    assert_one_error(&out, 1, "invalid_issuer", "issuer");
    assert_eq!(server.hits(), (1, 1));

    // A configuration for another issuer is refused, and its jwks_uri never fetched.
    server.step(serde_json::json!({"issuer": "https://issuer.test"}));
    let out = verify(&disc, &token("a"));
    assert_one_error(&out, 1, "invalid_discovery", "not \"http://127.0.0.1:");
    assert_eq!(server.hits(), (0, 1));
    server.step(serde_json::json!({"issuer": format!("{issuer}/")}));
    assert_one_error(
        &verify(&disc, &token("a")),
        1,
        "invalid_discovery",
        "the configuration is for issuer",
    );

    // A configuration that cannot be fetched, or is not JSON.
    server.step(serde_json::json!({"issuer": null, "mode": "error", "status": 503}));
    let out = verify(&disc, &token("a"));
    assert_one_error(&out, 1, "key_set_fetch_failed", "answered HTTP 503");
    server.step(serde_json::json!({"mode": "garbage"}));
    let out = verify(&disc, &token("a"));
    assert_one_error(&out, 1, "invalid_discovery", "not a strict JSON object");
    assert_eq!(server.hits(), (0, 1));
}

#[test]
fn urls_that_may_not_be_fetched_are_refused_without_a_request() {
    // 127.0.0.2 is loopback to the kernel but not to discovery::check_url, which accepts plain
    // http only to 127.0.0.1, [::1] and localhost: a listener there sees whether anything came.
    let listener = TcpListener::bind("127.0.0.2:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    for args in [
        [
            "--jwks-url".to_owned(),
            format!("http://127.0.0.2:{port}/jwks"),
        ],
        [
            "--issuer-discovery".to_owned(),
            format!("http://127.0.0.2:{port}"),
        ],
        [
            "--jwks-url".to_owned(),
            "http://idp.example/jwks".to_owned(),
        ],
        ["--jwks-url".to_owned(), "ftp://idp.example/jwks".to_owned()],
        [
            "--jwks-url".to_owned(),
            "https://user@idp.example/jwks".to_owned(),
        ],
        [
            "--issuer-discovery".to_owned(),
            "http://idp.example".to_owned(),
        ],
    ] {
        let started = Instant::now();
        let out = verify(&[&args[0], &args[1]], &token("a"));
        assert_one_error(&out, 2, "invalid_discovery", &args[1]);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "a refused URL was connected to"
    );

    // Exactly one key source.
    let out = verify(
        &["--jwks-url", "https://idp.example/jwks", "--keys", "k.json"],
        "t",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(verify(&[], "t").status.code(), Some(2));
}

/// Serves one canned HTTP response on 127.0.0.1, to the first connection only.
fn serve_once(response: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/jwks",
        listener.local_addr().unwrap().port()
    );
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
            request.push(byte[0]);
        }
        let _ = stream.write_all(&response);
    });
    (url, handle)
}

fn response(status: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

#[test]
fn skipped_keys_redirects_and_oversized_bodies() {
    // An HMAC secret in a provider's JWKS is left out, and said so; key a still verifies.
    let jwk: Value =
        serde_json::from_slice(&std::fs::read(keysource("key-a.pub.jwk")).unwrap()).unwrap();
    let jwks = serde_json::json!({"keys": [
        {"kty": "oct", "kid": "shared", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},
        jwk["keys"][0],
    ]});
    let (url, server) = serve_once(response("200 OK", "", jwks.to_string().as_bytes()));
    let out = verify(&["--jwks-url", &url, "--audience", "api"], &token("a"));
    server.join().unwrap();
    assert_ok(&out);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("skipped key shared: "), "{err}");

    // A redirect is not followed: it could lead to a URL check_url refuses.
    let (url, server) = serve_once(response(
        "302 Found",
        "Location: http://idp.example/jwks\r\n",
        b"",
    ));
    let out = verify(&["--jwks-url", &url], &token("a"));
    server.join().unwrap();
    assert_one_error(&out, 1, "key_set_fetch_failed", "answered HTTP 302");

    // More than the refresher's 1 MiB cap: refused without reading it all.
    let mut body = b"{\"keys\":[],\"pad\":\"".to_vec();
    body.resize(3 << 20, b'x');
    let (url, server) = serve_once(response("200 OK", "", &body));
    let out = verify(&["--jwks-url", &url], &token("a"));
    let _ = server.join();
    assert_one_error(&out, 1, "key_set_fetch_failed", "the limit is 1048576");
}
