//! Signals, in a test process of their own: SIGHUP reloads the key file, SIGTERM stops the
//! service gracefully. (The service's handlers replace the default actions in this process.)

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};
use tollgate_server::{Clock, Config, Listen};

fn kill(signal: &str) {
    let status = Command::new("kill")
        .args([signal, &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sighup_reloads_and_sigterm_stops() {
    let d = Deployment::load("tenant-path");
    let dir = TempDir::new("signals");
    let keys = dir.path().join("snapshot.json");
    // Start with a snapshot that lacks the deployment's key: alice's token names an unknown kid.
    std::fs::write(&keys, br#"{"keys": {}}"#).unwrap();
    let mut config = Config::new(
        Listen::Tcp("127.0.0.1:0".parse().unwrap()),
        d.dir.join("policy.json"),
        keys.clone(),
    );
    config.clock = Clock::Fixed(d.table.now);
    config.watch_interval = None;
    config.signals = true;
    let mut service = Service::start(config);
    let addr = service.addr;
    let ask = || {
        send(
            addr,
            "GET",
            "/auth/forward",
            &[
                ("X-Forwarded-Method".into(), "GET".into()),
                ("X-Forwarded-Uri".into(), "/api/tenants/A/items".into()),
                ("token".into(), d.table.tokens["alice"].clone()),
            ],
        )
    };
    assert_eq!(ask().reason().as_deref(), Some("unknown_kid"));

    std::fs::copy(d.dir.join("snapshot.json"), &keys).unwrap();
    kill("-HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while ask().status != 200 {
        assert!(Instant::now() < deadline, "SIGHUP did not reload the keys");
        std::thread::sleep(Duration::from_millis(20));
    }

    kill("-TERM");
    let running = service.running.take().unwrap();
    let stopped = service
        .runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(15), running.wait()).await });
    assert!(stopped.is_ok(), "SIGTERM did not stop the service");
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}
