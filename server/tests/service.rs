//! The service's own behaviour: it fails closed on malformed and oversize forwarded requests,
//! reports health, readiness and metrics, listens on a Unix socket, keeps the engine in use when a
//! file does not load, and stops gracefully.

mod common;

use common::*;
use std::io::{BufReader, Write as _};
use std::net::TcpStream;
use std::time::Duration;
use tollgate_server::{Config, Listen};

fn tenant_path() -> (Deployment, Service) {
    let d = Deployment::load("tenant-path");
    let s = Service::for_deployment(&d);
    (d, s)
}

fn alice(d: &Deployment) -> String {
    d.table.tokens["alice"].clone()
}

fn forward(uri: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h = vec![
        ("X-Forwarded-Method".to_owned(), "GET".to_owned()),
        ("X-Forwarded-Uri".to_owned(), uri.to_owned()),
    ];
    h.extend(
        extra
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    h
}

#[test]
fn malformed_forwarded_requests_are_400_never_2xx() {
    let (d, s) = tenant_path();
    let token = alice(&d);
    let ok = send(
        s.addr,
        "GET",
        "/auth/forward",
        &forward("/api/tenants/A/items", &[("token", &token)]),
    );
    assert_eq!(ok.status, 200);

    // No X-Forwarded-Uri: the request to decide is unknown.
    let r = send(
        s.addr,
        "GET",
        "/auth/forward",
        &[
            ("X-Forwarded-Method".into(), "GET".into()),
            ("token".into(), token.clone()),
        ],
    );
    assert_eq!(
        (r.status, r.reason().as_deref()),
        (400, Some("invalid_request"))
    );
    // Two of them: which one would the upstream see?
    let mut two = forward("/api/tenants/A/items", &[("token", &token)]);
    two.push(("X-Forwarded-Uri".into(), "/api/tenants/B/items".into()));
    assert_eq!(send(s.addr, "GET", "/auth/forward", &two).status, 400);
    // nginx: no X-Original-Method; the exact status travels in X-Tollgate-Status.
    let r = send(
        s.addr,
        "GET",
        "/auth/nginx",
        &[
            ("X-Original-URI".into(), "/api/tenants/A/items".into()),
            ("token".into(), token.clone()),
        ],
    );
    assert_eq!(
        (r.status, r.header("x-tollgate-status")),
        (403, Some("400"))
    );
    // Envoy: nothing after the prefix.
    assert_eq!(send(s.addr, "GET", "/ext_authz", &[]).status, 400);
    assert_eq!(
        send(s.addr, "GET", "/ext_authzz/api/health", &[]).status,
        400
    );
    // Paths the engine refuses (the API could read them another way).
    for uri in [
        "/api/tenants/C/../A/items",
        "/api//tenants/A/items",
        "/api/tenants/A%2Fitems",
        "api/health",
        "http://evil/api/health",
    ] {
        let r = send(
            s.addr,
            "GET",
            "/auth/forward",
            &forward(uri, &[("token", &token)]),
        );
        assert_eq!(
            (r.status, r.reason().as_deref()),
            (400, Some("invalid_request")),
            "{uri}"
        );
    }
    // A lowercase method is not a method.
    let mut lower = forward("/api/health", &[]);
    lower[0].1 = "get".into();
    assert_eq!(send(s.addr, "GET", "/auth/forward", &lower).status, 400);
    // Not an endpoint.
    let r = send(s.addr, "GET", "/", &[]);
    assert_eq!(
        (r.status, r.reason().as_deref()),
        (404, Some("unknown_endpoint"))
    );
    // Not HTTP.
    let mut raw = TcpStream::connect(s.addr).unwrap();
    raw.write_all(b"\x16\x03\x01 hello\r\n\r\n").unwrap();
    let reply = read_reply(&mut BufReader::new(raw), false);
    assert_eq!(reply.status, 400);
}

#[test]
fn oversize_forwarded_requests_are_431() {
    let (d, s) = tenant_path();
    let token = alice(&d);
    // More headers than a request may carry (the engine's limit, under hyper's).
    let mut many = forward("/api/tenants/A/items", &[("token", &token)]);
    for i in 0..140 {
        many.push((format!("x-filler-{i}"), "v".into()));
    }
    let r = send(s.addr, "GET", "/auth/forward", &many);
    assert_eq!(
        (r.status, r.reason().as_deref()),
        (431, Some("invalid_request"))
    );
    // Far more: hyper refuses them before the handler.
    for i in 140..400 {
        many.push((format!("x-filler-{i}"), "v".into()));
    }
    assert_eq!(send(s.addr, "GET", "/auth/forward", &many).status, 431);
    // One header value above the engine's limit.
    let big = "a".repeat(tollgate::request::MAX_HEADER_VALUE + 1);
    let r = send(
        s.addr,
        "GET",
        "/auth/forward",
        &forward(
            "/api/tenants/A/items",
            &[("token", &token), ("x-big", &big)],
        ),
    );
    assert_eq!(r.status, 431);
    // A head larger than hyper buffers.
    let huge = "a".repeat(1024 * 1024);
    let r = send(
        s.addr,
        "GET",
        "/auth/forward",
        &forward("/api/tenants/A/items", &[("x-huge", &huge)]),
    );
    assert_eq!(r.status, 431);
    // nginx gets 403 with the exact status.
    let mut nginx = vec![
        ("X-Original-Method".to_owned(), "GET".to_owned()),
        ("X-Original-URI".to_owned(), "/api/health".to_owned()),
    ];
    for i in 0..140 {
        nginx.push((format!("x-filler-{i}"), "v".into()));
    }
    let r = send(s.addr, "GET", "/auth/nginx", &nginx);
    assert_eq!(
        (r.status, r.header("x-tollgate-status")),
        (403, Some("431"))
    );
    // The service is still up and deciding.
    let ok = send(
        s.addr,
        "GET",
        "/auth/forward",
        &forward("/api/tenants/A/items", &[("token", &token)]),
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn health_readiness_and_metrics() {
    let (d, s) = tenant_path();
    assert_eq!(send(s.addr, "GET", "/healthz", &[]).status, 200);
    let ready = send(s.addr, "GET", "/readyz", &[]);
    assert_eq!(ready.status, 200);
    assert!(ready.body.contains("\"ready\":true"), "{}", ready.body);
    let token = alice(&d);
    send(
        s.addr,
        "GET",
        "/auth/forward",
        &forward("/api/tenants/A/items", &[("token", &token)]),
    );
    send(
        s.addr,
        "GET",
        "/auth/forward",
        &forward("/api/tenants/C/items", &[("token", &token)]),
    );
    send(
        s.addr,
        "GET",
        "/auth/forward",
        &forward("/api/tenants/A/items", &[]),
    );
    let m = send(s.addr, "GET", "/metrics", &[]);
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    for line in [
        "tollgate_decisions_total{status=\"200\",reason=\"ok\"} 1",
        "tollgate_decisions_total{status=\"404\",reason=\"not_found\"} 1",
        "tollgate_decisions_total{status=\"401\",reason=\"missing_credentials\"} 1",
        "tollgate_decision_duration_seconds_count 3",
        "tollgate_policy_reloads_total{result=\"ok\"} 1",
        "tollgate_key_refreshes_total{source=\"file\",result=\"ok\"} 1",
        "tollgate_ready 1",
        "policy=\"tenant-in-the-path\"",
    ] {
        assert!(m.body.contains(line), "{line} not in\n{}", m.body);
    }
}

#[test]
fn a_file_that_does_not_load_keeps_the_engine_in_use() {
    let d = Deployment::load("tenant-path");
    let dir = TempDir::new("keep");
    let policy = dir.path().join("policy.json");
    let keys = dir.path().join("snapshot.json");
    std::fs::copy(d.dir.join("policy.json"), &policy).unwrap();
    std::fs::copy(d.dir.join("snapshot.json"), &keys).unwrap();
    let mut config = Config::new(
        Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        policy.clone(),
        keys.clone(),
    );
    config.clock = tollgate_server::Clock::Fixed(d.table.now);
    config.watch_interval = None;
    let s = Service::start(config);
    let token = alice(&d);
    let ask = || {
        send(
            s.addr,
            "GET",
            "/auth/forward",
            &forward("/api/tenants/A/items", &[("token", &token)]),
        )
        .status
    };
    assert_eq!(ask(), 200);

    write_atomic(&keys, b"{\"keys\": {\"nobody\": {}}}");
    assert!(!s.reload());
    assert_eq!(ask(), 200);
    write_atomic(&policy, b"{\"version\": 1, \"oops\": true}");
    assert!(!s.reload());
    assert_eq!(ask(), 200);
    let m = send(s.addr, "GET", "/metrics", &[]).body;
    assert!(
        m.contains("tollgate_policy_reloads_total{result=\"error\"} 1"),
        "{m}"
    );
    assert!(
        m.contains("tollgate_key_refreshes_total{source=\"file\",result=\"error\"} 2"),
        "{m}"
    );
    assert!(send(s.addr, "GET", "/readyz", &[]).status == 200);

    // Both good again: reloaded.
    std::fs::copy(d.dir.join("policy.json"), &policy).unwrap();
    std::fs::copy(d.dir.join("snapshot.json"), &keys).unwrap();
    assert!(s.reload());
    assert_eq!(ask(), 200);
}

#[test]
fn unusable_files_and_options_stop_the_start() {
    let d = Deployment::load("tenant-path");
    let dir = TempDir::new("bad");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let any = || Listen::Tcp("127.0.0.1:0".parse().unwrap());
    for (policy, keys) in [
        (bad.clone(), d.dir.join("snapshot.json")),
        (d.dir.join("policy.json"), bad.clone()),
        (d.dir.join("policy.json"), dir.path().join("missing.json")),
        // Keys of another deployment do not fit the policy.
        (
            d.dir.join("policy.json"),
            root().join("examples/project-oidc/snapshot.json"),
        ),
    ] {
        let err = rt
            .block_on(tollgate_server::start(Config::new(
                any(),
                policy.clone(),
                keys.clone(),
            )))
            .unwrap_err();
        assert!(matches!(err, tollgate_server::ServeError::Load(_)), "{err}");
    }
    let mut config = Config::new(
        any(),
        d.dir.join("policy.json"),
        d.dir.join("snapshot.json"),
    );
    config.envoy_prefix = "/auth".into();
    assert!(rt.block_on(tollgate_server::start(config)).is_err());
}

#[test]
fn serves_a_unix_socket_and_removes_it_on_shutdown() {
    use std::os::unix::net::UnixStream;
    let d = Deployment::load("tenant-path");
    let dir = TempDir::new("unix");
    let path = dir.path().join("tollgate.sock");
    let mut config = Config::new(
        Listen::Unix(path.clone()),
        d.dir.join("policy.json"),
        d.dir.join("snapshot.json"),
    );
    config.clock = tollgate_server::Clock::Fixed(d.table.now);
    let mut s = Service::start(config);
    let mut stream = UnixStream::connect(&path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /auth/forward HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-Method: GET\r\n\
         X-Forwarded-Uri: /api/tenants/A/items\r\ntoken: {}\r\n\r\n",
        alice(&d)
    )
    .unwrap();
    let reply = read_reply(&mut BufReader::new(stream), false);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-auth-subject"), Some("alice"));

    // A second instance on the same path while the first serves: refused, the socket untouched.
    let mut second = Config::new(
        Listen::Unix(path.clone()),
        d.dir.join("policy.json"),
        d.dir.join("snapshot.json"),
    );
    second.clock = tollgate_server::Clock::Fixed(d.table.now);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let refused = rt.block_on(tollgate_server::start(second.clone())).err();
    assert!(
        refused.is_some_and(|e| e.to_string().contains("another process is listening")),
        "a live socket was taken over"
    );
    assert!(UnixStream::connect(&path).is_ok(), "the first still serves");

    // The first stops, and meanwhile (an overlapping restart) the path is another socket: the
    // first's shutdown leaves it alone.
    std::fs::remove_file(&path).unwrap();
    let other = std::os::unix::net::UnixListener::bind(&path).unwrap();
    s.shutdown();
    assert!(
        path.exists(),
        "the shutdown removed a socket it did not bind"
    );
    drop(other);
    // A socket nobody listens on (a run that did not stop cleanly) is replaced.
    let mut third = Service::start(second);
    assert!(UnixStream::connect(&path).is_ok());
    third.shutdown();
    assert!(!path.exists());
}

/// A request that is still arriving when shutdown begins (its head half sent) is answered, with
/// `Connection: close`, while new connections are refused. (Without the service's short linger
/// before hyper's graceful shutdown, that connection was closed with the request unanswered.)
#[test]
fn a_request_arriving_when_shutdown_begins_is_answered() {
    let (d, mut s) = tenant_path();
    let addr = s.addr;
    let token = alice(&d);
    let mut conn = KeepAlive::connect(addr);
    // A first request, so that the connection is being served, not waiting in the backlog.
    let headers = [
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/api/tenants/A/items"),
        ("token", token.as_str()),
    ];
    assert_eq!(conn.send("GET", "/auth/forward", &headers).status, 200);
    conn.write(b"GET /auth/forward HTTP/1.1\r\nHost: tollgate\r\nX-Forwarded-Method: GET\r\n");
    let stopping = std::thread::spawn(move || s.shutdown());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "shutdown did not begin"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    conn.write(
        format!("X-Forwarded-Uri: /api/tenants/A/items\r\ntoken: {token}\r\n\r\n").as_bytes(),
    );
    let reply = conn.reply();
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The last answer on the connection says so.
    assert_eq!(reply.header("connection"), Some("close"));
    stopping.join().unwrap();
}

#[test]
fn shutdown_lets_an_open_connection_finish_then_refuses_new_ones() {
    let (d, mut s) = tenant_path();
    let addr = s.addr;
    let mut conn = KeepAlive::connect(addr);
    let token = alice(&d);
    let headers = [
        ("X-Forwarded-Method", "GET"),
        ("X-Forwarded-Uri", "/api/tenants/A/items"),
        ("token", token.as_str()),
    ];
    assert_eq!(conn.send("GET", "/auth/forward", &headers).status, 200);
    s.shutdown();
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}
