//! Rust test support for the shared key-source fixtures: the fixture files, and the JWKS server
//! (`jwks_server.py`, python3) started per test, steered and counted. Included by path from the
//! test crates that drive it (`cli/tests/keysource.rs`, `server/tests/jwks.rs`), each one level
//! below the repository root.

// Each test crate uses a part of it.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A file of `tests/keysource/`.
pub fn keysource(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/keysource")
        .join(file)
}

/// `token-<name>.txt`, without its newline.
pub fn token(name: &str) -> String {
    std::fs::read_to_string(keysource(&format!("token-{name}.txt")))
        .unwrap()
        .trim()
        .to_owned()
}

/// The `kid` of `key-<name>.pub.jwk`.
pub fn kid(name: &str) -> String {
    let jwk: Value =
        serde_json::from_slice(&std::fs::read(keysource(&format!("key-{name}.pub.jwk"))).unwrap())
            .unwrap();
    jwk["keys"][0]["kid"].as_str().unwrap().to_owned()
}

/// A plain HTTP/1.1 exchange with `Connection: close`: the status and the body.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).unwrap().parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// The shared JWKS server, killed on drop.
pub struct JwksServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl JwksServer {
    /// Starts it on a free port and waits until it listens.
    pub fn start() -> JwksServer {
        let mut child = Command::new("python3")
            .arg(keysource("jwks_server.py"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs tests/keysource/jwks_server.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("jwks_server.py said {line:?}"));
        JwksServer { child, port }
    }

    /// `http://127.0.0.1:<port>` (also the issuer its OpenID configuration names by default).
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The key set's URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base())
    }

    /// POST /control with `change` as it is (see `jwks_server.py`).
    pub fn control(&self, change: Value) {
        let (status, body) = http(self.port, "POST", "/control", &change.to_string());
        assert_eq!(status, 200, "control {change}: {body}");
    }

    /// POST /control with `change` and `reset_hits`, so that the step's hits count from zero.
    pub fn step(&self, change: Value) {
        let mut change = change;
        change["reset_hits"] = Value::Bool(true);
        self.control(change);
    }

    /// (JWKS hits, discovery hits) since the start or the last reset.
    pub fn hits(&self) -> (u64, u64) {
        let (status, body) = http(self.port, "GET", "/hits", "");
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        (
            v["jwks"].as_u64().unwrap(),
            v["discovery"].as_u64().unwrap(),
        )
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
