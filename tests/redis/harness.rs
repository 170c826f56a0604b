//! A `redis-server` for tests: started on 127.0.0.1 on a free port with persistence off, in a
//! directory of its own, stopped (SIGTERM, then SIGKILL) on drop. Included by the service's and
//! the CLI's tests (`#[path]`), so both run against the same real server from apt.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped, between [`Redis::stop`] and [`Redis::restart`]) redis-server.
pub struct Redis {
    child: Option<Child>,
    dir: PathBuf,
    pub port: u16,
}

impl Redis {
    /// Starts one. When redis-server is not installed the test fails, unless
    /// `TOLLGATE_SKIP_PROXY_TESTS=1` says to skip tests that need servers from apt (then `None`).
    pub fn start() -> Option<Redis> {
        let installed = Command::new("sh")
            .args(["-c", "command -v redis-server"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var("TOLLGATE_SKIP_PROXY_TESTS").is_ok_and(|v| v == "1"),
                "redis-server is not installed: run .ci/run (apt-get install redis-server), or set \
                 TOLLGATE_SKIP_PROXY_TESTS=1 to skip the tests that need it"
            );
            eprintln!("skipped: redis-server is not installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir =
            std::env::temp_dir().join(format!("tollgate-redis-{}-{port}", std::process::id()));
        let mut r = Redis {
            child: None,
            dir,
            port,
        };
        r.restart();
        Some(r)
    }

    /// Starts the server (again) on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        std::fs::create_dir_all(&self.dir).expect("redis directory");
        let mut child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("redis-server exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    /// Stops the server.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A blocking connection, for the test's own reads and writes.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(5)))
            .expect("a connection to the test's redis-server")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
