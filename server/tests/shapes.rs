//! Traefik and Envoy cannot be installed here: the four deployments' tables are replayed against
//! the service in the request shapes those proxies send, and the answers are checked the way
//! those proxies read them. The nginx endpoint's status mapping is checked the same way.

mod common;

use common::*;

/// What Traefik's ForwardAuth sends: a GET to the configured address with the client's headers
/// and X-Forwarded-Method, -Proto, -Host, -Uri and -For (trustForwardHeader: false overwrites any
/// the client sent).
fn traefik_request(d: &Deployment, case: &tollgate::scenario::Case) -> Vec<(String, String)> {
    let mut headers = d.table.headers(case);
    headers.extend([
        ("X-Forwarded-Method".to_owned(), case.request.method.clone()),
        ("X-Forwarded-Proto".to_owned(), "http".to_owned()),
        ("X-Forwarded-Host".to_owned(), "api.example".to_owned()),
        ("X-Forwarded-Uri".to_owned(), case.request.path.clone()),
        ("X-Forwarded-For".to_owned(), "203.0.113.7".to_owned()),
    ]);
    headers
}

/// Checks one answer against the decision the case must come to. `reserved` is how the proxy
/// learns which forwarded names to clear: Traefik deletes the names in authResponseHeaders and
/// copies those present, so every name comes (empty when unset); Envoy removes the names listed
/// in x-envoy-auth-headers-to-remove.
fn check(
    d: &Deployment,
    case: &tollgate::scenario::Case,
    reply: &Reply,
    envoy: bool,
) -> Result<(), String> {
    let expected = d.expected(case);
    let mut wrong = Vec::new();
    if reply.status != case.expect.status {
        wrong.push(format!(
            "status {} (want {})",
            reply.status, case.expect.status
        ));
    }
    if expected.is_allowed() {
        let want = forwarded(&expected);
        let names = d.forward_names();
        let removed: Vec<String> = reply
            .header("x-envoy-auth-headers-to-remove")
            .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default();
        for name in &names {
            let got = reply.all(name);
            match (want.get(name), envoy) {
                (Some(v), _) if got != [v.as_str()] => {
                    wrong.push(format!("{name}: {got:?}, want [{v:?}]"))
                }
                (Some(_), true) if removed.contains(name) => {
                    wrong.push(format!("{name} is set and also listed for removal"))
                }
                (None, false) if got != [""] => {
                    wrong.push(format!("{name}: {got:?}, want it present and empty"))
                }
                (None, true) if !got.is_empty() || !removed.contains(name) => wrong.push(format!(
                    "{name}: {got:?}, want it absent and listed for removal ({removed:?})"
                )),
                _ => {}
            }
        }
        if !envoy && !removed.is_empty() {
            wrong.push("x-envoy-auth-headers-to-remove outside Envoy".to_owned());
        }
        if let Some(table) = &case.expect.forward_headers {
            for (n, v) in table {
                if reply.all(n) != [v.as_str()] {
                    wrong.push(format!("{n}: {:?}, table says {v:?}", reply.all(n)));
                }
            }
        }
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
                "body {:?}, want reason {}",
                reply.body, case.expect.reason
            ));
        }
        if reply.header("content-type") != Some("application/json") {
            wrong.push("the refusal is not JSON".to_owned());
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("{} / {}: {}", d.name, case.name, wrong.join("; ")))
    }
}

#[test]
fn traefik_forward_auth_shape_replays_every_deployment() {
    let mut failures = Vec::new();
    for d in Deployment::all() {
        let service = Service::for_deployment(&d);
        let mut passed = 0;
        for case in &d.table.cases {
            let reply = send(
                service.addr,
                "GET",
                "/auth/forward",
                &traefik_request(&d, case),
            );
            match check(&d, case, &reply, false) {
                Ok(()) => passed += 1,
                Err(e) => failures.push(format!("Traefik shape {e}")),
            }
        }
        println!(
            "Traefik shape {}: {passed}/{} cases",
            d.name,
            d.table.cases.len()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn envoy_ext_authz_shape_replays_every_deployment() {
    let mut failures = Vec::new();
    for d in Deployment::all() {
        let service = Service::for_deployment(&d);
        let mut passed = 0;
        for case in &d.table.cases {
            // Envoy's HTTP ext_authz request: the original method, path_prefix + the original
            // path, the allowed headers (the example config allows every header the policies read).
            let target = format!("/ext_authz{}", case.request.path);
            let reply = send(
                service.addr,
                &case.request.method,
                &target,
                &d.table.headers(case),
            );
            match check(&d, case, &reply, true) {
                Ok(()) => passed += 1,
                Err(e) => failures.push(format!("Envoy shape {e}")),
            }
        }
        println!(
            "Envoy shape {}: {passed}/{} cases",
            d.name,
            d.table.cases.len()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn nginx_endpoint_maps_statuses_auth_request_cannot_read() {
    let mut failures = Vec::new();
    for d in Deployment::all() {
        let service = Service::for_deployment(&d);
        for case in &d.table.cases {
            let mut headers = d.table.headers(case);
            headers.push(("X-Original-Method".into(), case.request.method.clone()));
            headers.push(("X-Original-URI".into(), case.request.path.clone()));
            let reply = send(service.addr, "GET", "/auth/nginx", &headers);
            let want = case.expect.status;
            let wire = match want {
                200 | 401 | 403 => want,
                _ => 403,
            };
            let exact = reply.header("x-tollgate-status").map(str::to_owned);
            let reason = reply.header("x-tollgate-reason").map(str::to_owned);
            if reply.status != wire
                || exact.as_deref() != Some(want.to_string().as_str())
                || reason.as_deref() != Some(case.expect.reason.as_str())
            {
                failures.push(format!(
                    "{} / {}: {} {exact:?} {reason:?}, want {wire} {want} {}",
                    d.name, case.name, reply.status, case.expect.reason
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
