//! The four example deployments' scenario tables, replayed over HTTP through real nginx and Caddy
//! (Debian's packages, configured from `examples/nginx` and `examples/caddy`) in front of
//! `tollgate serve` and an upstream that echoes what it received.
//!
//! For every case: the client's status is the table's; its `WWW-Authenticate` and the reason in
//! the body are the decision's; an allowed request reaches the upstream with exactly the
//! decision's forward headers (and never a value the client sent under a forwarded name); a
//! refused one never reaches it.

mod common;

use common::*;
use std::collections::BTreeMap;

/// Which proxy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Proxy {
    Nginx,
    Caddy,
}

/// Sent under every forwarded name the policy does not read, to show the upstream never sees it.
const SPOOF: &str = "spoofed-by-client";

struct Tally {
    passed: usize,
    by_proxy_itself: Vec<String>,
    failures: Vec<String>,
}

/// Replays `d` through `proxy`. `all_names` are the forwarded names the proxy's configuration
/// lists: nginx runs the shipped file with the four deployments' names, Caddy a copy listing this
/// deployment's (Caddy 2.6 passes a name the service never sends on as its literal placeholder).
fn replay(proxy: Proxy, d: &Deployment, all_names: &[String]) -> Tally {
    let service = Service::for_deployment(d);
    let echo = Echo::start();
    let process = match proxy {
        Proxy::Nginx => nginx(service.addr, echo.addr),
        Proxy::Caddy => caddy(service.addr, echo.addr, &d.forward_names()),
    };
    let inputs = d.input_names();
    let spoofable: Vec<&String> = all_names.iter().filter(|n| !inputs.contains(n)).collect();
    let mut tally = Tally {
        passed: 0,
        by_proxy_itself: Vec::new(),
        failures: Vec::new(),
    };
    for case in &d.table.cases {
        let expected = d.expected(case);
        let mut headers = d.table.headers(case);
        for name in &spoofable {
            headers.push(((*name).clone(), SPOOF.to_owned()));
        }
        let before = echo.count();
        let reply = send(
            process.addr(),
            &case.request.method,
            &case.request.path,
            &headers,
        );
        let reached = echo.count() - before;
        let mut wrong = Vec::new();
        if reply.status != case.expect.status {
            wrong.push(format!(
                "status {} (want {}), body {:?}",
                reply.status, case.expect.status, reply.body
            ));
        }
        if expected.is_allowed() {
            if reached != 1 {
                wrong.push(format!(
                    "the upstream was reached {reached} times, not once"
                ));
            } else if let Some(seen) = echo.last() {
                if seen.method != case.request.method || seen.target != case.request.path {
                    wrong.push(format!("the upstream saw {} {}", seen.method, seen.target));
                }
                let want = forwarded(&expected);
                for name in all_names {
                    let got = seen.all(name);
                    // An empty value (no roles) is sent as none by nginx and as empty by Caddy.
                    match want.get(name).filter(|v| !v.is_empty()) {
                        Some(v) if got != [v.as_str()] => {
                            wrong.push(format!("upstream {name}: {got:?}, want [{v:?}]"))
                        }
                        // Absent, or empty where the proxy passes an empty value on (Caddy 2.6).
                        None if got.iter().any(|v| !v.is_empty()) => {
                            wrong.push(format!("upstream {name}: {got:?}, want none"))
                        }
                        _ => {}
                    }
                }
                if let Some(table) = &case.expect.forward_headers {
                    for (n, v) in table {
                        if seen.all(n) != [v.as_str()] {
                            wrong
                                .push(format!("upstream {n}: {:?}, table says {v:?}", seen.all(n)));
                        }
                    }
                }
            }
        } else {
            if reached != 0 {
                wrong.push(format!("a refusal reached the upstream {reached} times"));
            }
            let by_proxy = proxy == Proxy::Nginx
                && reply.status == 400
                && headers
                    .iter()
                    .filter(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                    .count()
                    > 1;
            if by_proxy && reply.reason().is_none() {
                // nginx refuses a second Authorization header itself (400, before any
                // subrequest): the same status, without Tollgate's challenge and body.
                tally.by_proxy_itself.push(case.name.clone());
            } else {
                if reply.header("www-authenticate") != expected.www_authenticate.as_deref() {
                    wrong.push(format!(
                        "WWW-Authenticate {:?}, want {:?}",
                        reply.all("www-authenticate"),
                        expected.www_authenticate
                    ));
                }
                if reply.reason().as_deref() != Some(case.expect.reason.as_str()) {
                    wrong.push(format!(
                        "body reason {:?}, want {:?} (body {:?})",
                        reply.reason(),
                        case.expect.reason,
                        reply.body
                    ));
                }
            }
        }
        if wrong.is_empty() {
            tally.passed += 1;
        } else {
            tally.failures.push(format!(
                "{:?} {} / {}: {}",
                proxy,
                d.name,
                case.name,
                wrong.join("; ")
            ));
        }
    }
    if !tally.failures.is_empty() {
        let log = match proxy {
            Proxy::Nginx => process.log("error.log"),
            Proxy::Caddy => process.log("caddy.log"),
        };
        eprintln!("{} log:\n{log}", process.name);
    }
    tally
}

fn replay_all(proxy: Proxy) {
    let deployments = Deployment::all();
    let names = all_forward_names(&deployments);
    let mut failures = Vec::new();
    let mut summary = BTreeMap::new();
    for d in &deployments {
        let names = match proxy {
            Proxy::Nginx => names.clone(),
            Proxy::Caddy => d.forward_names(),
        };
        let t = replay(proxy, d, &names);
        println!(
            "{proxy:?} {}: {}/{} cases{}",
            d.name,
            t.passed,
            d.table.cases.len(),
            if t.by_proxy_itself.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} refused by the proxy itself with the same status: {:?})",
                    t.by_proxy_itself.len(),
                    t.by_proxy_itself
                )
            }
        );
        summary.insert(d.name, (t.passed, d.table.cases.len()));
        failures.extend(t.failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (name, (passed, total)) in summary {
        assert_eq!(passed, total, "{name}");
    }
}

#[test]
fn nginx_replays_every_deployment() {
    if have("nginx") {
        replay_all(Proxy::Nginx);
    }
}

#[test]
fn caddy_replays_every_deployment() {
    if have("caddy") {
        replay_all(Proxy::Caddy);
    }
}

/// With the service gone, each proxy refuses (5xx) and nothing reaches the upstream.
#[test]
fn proxies_fail_closed_when_the_service_is_down() {
    let d = Deployment::load("tenant-path");
    let case = d
        .table
        .cases
        .iter()
        .find(|c| c.expect.status == 200 && !c.request.headers.is_empty())
        .unwrap();
    for proxy in [Proxy::Nginx, Proxy::Caddy] {
        if !have(if proxy == Proxy::Nginx {
            "nginx"
        } else {
            "caddy"
        }) {
            continue;
        }
        let mut service = Service::for_deployment(&d);
        let echo = Echo::start();
        let process = match proxy {
            Proxy::Nginx => nginx(service.addr, echo.addr),
            Proxy::Caddy => caddy(service.addr, echo.addr, &d.forward_names()),
        };
        let ask = || {
            send(
                process.addr(),
                &case.request.method,
                &case.request.path,
                &d.table.headers(case),
            )
        };
        assert_eq!(ask().status, 200, "{proxy:?}");
        service.shutdown();
        let reply = ask();
        assert!(reply.status >= 500, "{proxy:?}: {}", reply.status);
        assert_eq!(
            echo.count(),
            1,
            "{proxy:?}: the upstream was reached without the service"
        );
    }
}

/// The shipped proxy configurations name exactly the headers the example deployments forward.
#[test]
fn example_configurations_forward_the_deployments_headers() {
    let names = all_forward_names(&Deployment::all());
    let file = |p: &str| {
        std::fs::read_to_string(root().join(p))
            .unwrap()
            .to_ascii_lowercase()
    };
    let nginx = file("examples/nginx/tollgate.conf");
    let caddy = file("examples/caddy/Caddyfile");
    let traefik = file("examples/traefik/dynamic.yml");
    let envoy = file("examples/envoy/envoy.yaml");
    for n in &names {
        assert!(
            nginx.contains(&format!(
                "proxy_set_header {n} $tollgate_{}",
                n.replace('-', "_")
            )),
            "nginx: {n}"
        );
        assert!(
            nginx.contains(&format!("$upstream_http_{}", n.replace('-', "_"))),
            "nginx: {n}"
        );
        let copy = caddy
            .lines()
            .find(|l| l.trim_start().starts_with("copy_headers"))
            .unwrap();
        assert!(copy.split_whitespace().any(|w| w == n), "caddy: {n}");
        assert!(traefik.contains(&format!("- {n}\n")), "traefik: {n}");
        assert!(envoy.contains(&format!("exact: {n}\n")), "envoy: {n}");
    }
    assert_eq!(
        nginx.matches("proxy_set_header x-").count() - 2,
        names.len(),
        "nginx lists another name"
    );
    // Headers spelled with underscores (X_Project_ID for X-Project-ID) never reach an upstream
    // unseen: Envoy's ext_authz sends the service only the allowed headers, so Envoy must refuse
    // them itself; nginx drops them unless told otherwise.
    assert!(envoy.contains("headers_with_underscores_action: reject_request"));
    assert!(!nginx.contains("underscores_in_headers on"));
}
