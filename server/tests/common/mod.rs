//! Test support: temporary directories, the service on its own runtime, a raw HTTP client, an
//! upstream that echoes what it received, nginx and Caddy started from `examples/`, and the
//! example deployments with an engine that says what each case must come to.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use tollgate::scenario::{Case, Table};
use tollgate::{Decision, Engine};
use tollgate_server::{Clock, Config, Listen, Running};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "tollgate-server-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (bounded) until something accepts connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, child: Option<&mut Child>, what: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut child = child;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if let Some(c) = child.as_deref_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                eprintln!("{what} exited early: {status}");
                return false;
            }
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Writes `bytes` to `path` atomically (a new file renamed over the old one).
pub fn write_atomic(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The service on its own runtime, stopped on drop.
pub struct Service {
    pub runtime: tokio::runtime::Runtime,
    pub running: Option<Running>,
    pub addr: SocketAddr,
}

impl Service {
    pub fn start(config: Config) -> Service {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let running = runtime
            .block_on(tollgate_server::start(config))
            .expect("the service starts");
        let addr = running
            .local_addr()
            .unwrap_or_else(|| "127.0.0.1:9".parse().unwrap());
        Service {
            runtime,
            running: Some(running),
            addr,
        }
    }

    /// The service for an example deployment at its table's time.
    pub fn for_deployment(d: &Deployment) -> Service {
        let mut config = Config::new(
            Listen::Tcp("127.0.0.1:0".parse().unwrap()),
            d.dir.join("policy.json"),
            d.dir.join("snapshot.json"),
        );
        config.clock = Clock::Fixed(d.table.now);
        Service::start(config)
    }

    pub fn reload(&self) -> bool {
        self.runtime
            .block_on(self.running.as_ref().unwrap().reload())
    }

    pub fn shutdown(&mut self) {
        if let Some(r) = self.running.take() {
            self.runtime.block_on(r.shutdown());
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A response as a client saw it.
#[derive(Debug, Default, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// Every value of header `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of header `name`, if any (more than one is a test failure).
    pub fn header(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "{name} sent {} times: {all:?}", all.len());
        all.first().copied()
    }

    /// The body's JSON `reason`.
    pub fn reason(&self) -> Option<String> {
        serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()?
            .get("reason")?
            .as_str()
            .map(str::to_owned)
    }
}

fn read_head(reader: &mut impl BufRead) -> Option<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    if reader.read_line(&mut first).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':')?;
        headers.push((n.to_owned(), v.trim_matches([' ', '\t']).to_owned()));
    }
    Some((first.trim_end().to_owned(), headers))
}

fn read_body(reader: &mut impl BufRead, headers: &[(String, String)], to_eof: bool) -> Vec<u8> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).unwrap();
            chunk.truncate(n);
            body.extend(chunk);
            if n == 0 {
                break;
            }
        }
    } else if let Some(len) = get("content-length") {
        let mut b = vec![0; len.parse().unwrap()];
        reader.read_exact(&mut b).unwrap();
        body = b;
    } else if to_eof {
        reader.read_to_end(&mut body).unwrap();
    }
    body
}

/// Sends one request on a new connection (`Connection: close`) exactly as given: the target is
/// not normalised and repeated headers are kept.
pub fn send(addr: SocketAddr, method: &str, target: &str, headers: &[(String, String)]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    read_reply(&mut BufReader::new(stream), method == "HEAD")
}

/// Reads one response.
pub fn read_reply(reader: &mut impl BufRead, head_only: bool) -> Reply {
    let (status_line, headers) = read_head(reader).expect("a response");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let body = if head_only {
        Vec::new()
    } else {
        read_body(reader, &headers, true)
    };
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// A keep-alive connection that sends requests one after another.
pub struct KeepAlive {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> KeepAlive {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let _ = stream.set_nodelay(true);
        KeepAlive {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: tollgate\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.write(head.as_bytes());
        self.reply()
    }

    /// Sends `bytes` as they are (part of a request, say).
    pub fn write(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    /// Reads the next response.
    pub fn reply(&mut self) -> Reply {
        let (status_line, headers) = read_head(&mut self.reader).expect("a response");
        let body = read_body(&mut self.reader, &headers, false);
        Reply {
            status: status_line.split(' ').nth(1).unwrap().parse().unwrap(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}

/// One request the upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A tiny upstream: answers every request 200 with `x-echo: upstream` and records what it saw.
pub struct Echo {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Echo {
    pub fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let s = s.clone();
                        thread::spawn(move || Echo::connection(stream, &s));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Echo { addr, seen, stop }
    }

    fn connection(stream: TcpStream, seen: &Mutex<Vec<Seen>>) {
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        while let Some((line, headers)) = read_head(&mut reader) {
            let _ = read_body(&mut reader, &headers, false);
            let mut parts = line.split(' ');
            let method = parts.next().unwrap_or_default().to_owned();
            let target = parts.next().unwrap_or_default().to_owned();
            let close = line.ends_with("HTTP/1.0")
                || headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close")
                });
            let body = serde_json::to_string(&headers).unwrap();
            seen.lock().unwrap().push(Seen {
                method,
                target,
                headers,
            });
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Echo: upstream\r\nContent-Length: {}\r\n{}\r\n{body}",
                body.len(),
                if close { "Connection: close\r\n" } else { "" }
            );
            if writer.write_all(reply.as_bytes()).is_err() || close {
                break;
            }
        }
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn last(&self) -> Option<Seen> {
        self.seen.lock().unwrap().last().cloned()
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A proxy process, stopped on drop (SIGTERM, then SIGKILL).
pub struct Process {
    pub child: Child,
    pub port: u16,
    pub dir: TempDir,
    pub name: &'static str,
}

impl Process {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn log(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `program` is installed; when it is not, the proxy tests fail unless
/// `TOLLGATE_SKIP_PROXY_TESTS=1` says to skip them (`.ci/run` installs nginx and caddy).
pub fn have(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("TOLLGATE_SKIP_PROXY_TESTS").is_ok_and(|v| v == "1"),
            "{program} is not installed: run .ci/run (apt-get install nginx caddy), or set \
             TOLLGATE_SKIP_PROXY_TESTS=1 to skip the proxy tests"
        );
        eprintln!("skipped: {program} is not installed");
    }
    found
}

/// Replaces each `from` (which must occur exactly once) with `to`.
pub fn substitute(text: &str, pairs: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (from, to) in pairs {
        assert_eq!(
            out.matches(from).count(),
            1,
            "the example no longer holds {from:?} exactly once"
        );
        out = out.replace(from, to);
    }
    out
}

/// nginx from `examples/nginx/tollgate.conf`, in front of `service` and `upstream`.
pub fn nginx(service: SocketAddr, upstream: SocketAddr) -> Process {
    let example = std::fs::read_to_string(root().join("examples/nginx/tollgate.conf")).unwrap();
    for _ in 0..3 {
        let dir = TempDir::new("nginx");
        let d = dir.path().display().to_string();
        let port = free_port();
        let site = substitute(
            &example,
            &[
                ("server 127.0.0.1:9180;", format!("server {service};")),
                ("server 127.0.0.1:8081;", format!("server {upstream};")),
                ("listen 8080;", format!("listen 127.0.0.1:{port};")),
            ],
        );
        std::fs::write(dir.path().join("tollgate.conf"), site).unwrap();
        let main = format!(
            "worker_processes 1;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/client_body;\n  \
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  \
             scgi_temp_path {d}/scgi;\n  include {d}/tollgate.conf;\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
        let mut child = Command::new("nginx")
            .args([
                "-p",
                &d,
                "-c",
                &format!("{d}/nginx.conf"),
                "-e",
                &format!("{d}/error.log"),
            ])
            .args(["-g", &format!("daemon off; pid {d}/nginx.pid;")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if wait_for_port(addr, Some(&mut child), "nginx") {
            return Process {
                child,
                port,
                dir,
                name: "nginx",
            };
        }
        eprintln!(
            "nginx did not start: {}",
            std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
        );
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("nginx did not start in three tries");
}

/// Caddy from `examples/caddy/Caddyfile`, in front of `service` and `upstream`, copying the
/// headers `forward` names (the example lists the four deployments' names; a user keeps theirs).
pub fn caddy(service: SocketAddr, upstream: SocketAddr, forward: &[String]) -> Process {
    let example = std::fs::read_to_string(root().join("examples/caddy/Caddyfile")).unwrap();
    let copy = example
        .lines()
        .find(|l| l.trim_start().starts_with("copy_headers "))
        .expect("the Caddyfile has copy_headers")
        .trim_start()
        .to_owned();
    for _ in 0..3 {
        let dir = TempDir::new("caddy");
        let d = dir.path().display().to_string();
        let port = free_port();
        let site = substitute(
            &example,
            &[
                (":8080 {", format!(":{port} {{\n\tbind 127.0.0.1")),
                (
                    "forward_auth 127.0.0.1:9180",
                    format!("forward_auth {service}"),
                ),
                (
                    "reverse_proxy 127.0.0.1:8081",
                    format!("reverse_proxy {upstream}"),
                ),
                (copy.as_str(), format!("copy_headers {}", forward.join(" "))),
            ],
        );
        let file = format!(
            "{{\n\tadmin off\n\tauto_https off\n\tstorage file_system {d}/data\n}}\n\n{site}"
        );
        std::fs::write(dir.path().join("Caddyfile"), file).unwrap();
        let log = std::fs::File::create(dir.path().join("caddy.log")).unwrap();
        let mut child = Command::new("caddy")
            .args([
                "run",
                "--config",
                &format!("{d}/Caddyfile"),
                "--adapter",
                "caddyfile",
            ])
            .env("HOME", &d)
            .env("XDG_CONFIG_HOME", format!("{d}/config"))
            .env("XDG_DATA_HOME", format!("{d}/data"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("caddy starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if wait_for_port(addr, Some(&mut child), "caddy") {
            return Process {
                child,
                port,
                dir,
                name: "caddy",
            };
        }
        eprintln!(
            "caddy did not start: {}",
            std::fs::read_to_string(dir.path().join("caddy.log")).unwrap_or_default()
        );
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("caddy did not start in three tries");
}

/// An example deployment: its files, its scenario table, and an engine over the same files that
/// says what each case must come to.
pub struct Deployment {
    pub name: &'static str,
    pub dir: PathBuf,
    pub table: Table,
    pub engine: Engine,
    pub policy: serde_json::Value,
}

pub const DEPLOYMENTS: [&str; 4] = [
    "project-oidc",
    "workspace-api",
    "service-accounts",
    "tenant-path",
];

impl Deployment {
    pub fn load(name: &'static str) -> Deployment {
        let dir = root().join("examples").join(name);
        let policy = std::fs::read(dir.join("policy.json")).unwrap();
        let engine = Engine::from_policy_json(&policy).unwrap();
        engine
            .swap_snapshot_json(&std::fs::read(dir.join("snapshot.json")).unwrap())
            .unwrap();
        let table = Table::from_json(&std::fs::read(dir.join("scenarios.json")).unwrap()).unwrap();
        Deployment {
            name,
            dir,
            table,
            engine,
            policy: serde_json::from_slice(&policy).unwrap(),
        }
    }

    pub fn all() -> Vec<Deployment> {
        DEPLOYMENTS.iter().map(|n| Deployment::load(n)).collect()
    }

    /// The decision the case must come to (checked against the table's expectation first).
    pub fn expected(&self, case: &Case) -> Decision {
        let d = self.table.decide(&self.engine, case);
        case.expect.check(&d).unwrap_or_else(|e| {
            panic!(
                "{}: {}: the engine disagrees with the table: {e}",
                self.name, case.name
            )
        });
        d
    }

    /// The header names this policy forwards, lowercase.
    pub fn forward_names(&self) -> Vec<String> {
        let f = &self.policy["forward_headers"];
        let mut names: Vec<String> = ["subject", "tenant", "roles", "kind", "provider"]
            .iter()
            .filter_map(|k| f[k].as_str())
            .map(str::to_ascii_lowercase)
            .collect();
        for c in f["claims"].as_array().into_iter().flatten() {
            names.push(c["header"].as_str().unwrap().to_ascii_lowercase());
        }
        names.dedup();
        names
    }

    /// The request headers the engine reads under this policy, lowercase: credentials, the
    /// tenant header, the correlation header.
    pub fn input_names(&self) -> Vec<String> {
        let p = &self.policy;
        let mut names: Vec<String> = p["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["header"].as_str())
            .map(str::to_ascii_lowercase)
            .collect();
        names.push("cookie".into());
        for v in [&p["tenant"]["header"], &p["correlation_header"]] {
            if let Some(s) = v.as_str() {
                names.push(s.to_ascii_lowercase());
            }
        }
        names
    }
}

/// Every header name the four example deployments forward, in a stable order.
pub fn all_forward_names(deployments: &[Deployment]) -> Vec<String> {
    let mut names: Vec<String> = deployments
        .iter()
        .flat_map(Deployment::forward_names)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The forward headers of a decision, lowercase names.
pub fn forwarded(d: &Decision) -> BTreeMap<String, String> {
    d.forward_headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect()
}

#[path = "../../../tests/redis/harness.rs"]
mod redis_harness;
#[allow(unused_imports, reason = "only the store tests start redis-server")]
pub use redis_harness::Redis;

/// A deployment's policy with every provider's records in the store, and its snapshot without
/// them, written to `dir`; the records, ready to store. `extra` members are set on the policy.
pub fn store_files(
    d: &Deployment,
    dir: &Path,
    extra: &[(&str, serde_json::Value)],
) -> (PathBuf, PathBuf, Vec<tollgate::StoredRecord>) {
    let mut policy = d.policy.clone();
    for p in policy["providers"].as_array_mut().unwrap() {
        p["records"] = "store".into();
    }
    for (k, v) in extra {
        policy[*k] = v.clone();
    }
    let snapshot = std::fs::read(d.dir.join("snapshot.json")).unwrap();
    let (rest, records) = tollgate::record::split_snapshot(&snapshot).unwrap();
    let (p, k) = (dir.join("policy.json"), dir.join("keys.json"));
    std::fs::write(&p, policy.to_string()).unwrap();
    std::fs::write(&k, rest).unwrap();
    (p, k, records)
}

/// Writes `records` to the store at `url`, announcing each. Without their store expiry: the
/// tests' service runs at the table's fixed time, long before the real clock Redis expires keys
/// by, so a record still valid at the table's time may be past its expiry in Redis's eyes.
pub fn put_records(url: &str, records: &[tollgate::StoredRecord]) {
    let store = tollgate_server::store::RedisStore::new(url, Duration::from_secs(5)).unwrap();
    tollgate_server::store::block_on(async {
        for r in records {
            let undated = tollgate::StoredRecord {
                expires: None,
                ..r.clone()
            };
            store.put(&undated).await.unwrap();
        }
    })
    .unwrap();
}

/// The service for `d` with its records in the store at `url`.
pub fn store_service(d: &Deployment, policy: PathBuf, keys: PathBuf, url: &str) -> Service {
    let mut config = Config::new(Listen::Tcp("127.0.0.1:0".parse().unwrap()), policy, keys);
    config.clock = Clock::Fixed(d.table.now);
    config.store = Some(url.to_owned());
    Service::start(config)
}

/// A case as Caddy's forward_auth sends it to `/auth/forward`.
pub fn forward_case(d: &Deployment, case: &Case) -> Vec<(String, String)> {
    let mut headers = d.table.headers(case);
    headers.extend([
        ("X-Forwarded-Method".to_owned(), case.request.method.clone()),
        ("X-Forwarded-Uri".to_owned(), case.request.path.clone()),
        ("X-Forwarded-Host".to_owned(), "api.example".to_owned()),
    ]);
    headers
}
