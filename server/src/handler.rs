//! One request to the service: route it, decide it, answer it. Everything here is synchronous:
//! a decision is pure CPU work, so it runs to the end on the worker that accepted it.

use crate::metrics::Outcome;
use crate::protocol::{self, Malformed, Original, Protocol};
use crate::state::{Loaded, Shared};
use crate::{FORWARD_PATH, NGINX_PATH, REASON_HEADER, STATUS_HEADER};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{HeaderMap, Method, Response, StatusCode};
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::time::Instant;
use tollgate::{Decision, ErrorCode, Request, Step};

/// The response type of every endpoint.
pub(crate) type Reply = Response<Full<Bytes>>;

const ENVOY_HEADERS_TO_REMOVE: HeaderName =
    HeaderName::from_static("x-envoy-auth-headers-to-remove");
const X_TOLLGATE_STATUS: HeaderName = HeaderName::from_static(STATUS_HEADER);
const X_TOLLGATE_REASON: HeaderName = HeaderName::from_static(REASON_HEADER);
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

thread_local! {
    /// One decision per worker thread, reused so that an allowed check allocates nothing in the
    /// engine. It is borrowed only while a request is decided, which never awaits.
    static DECISION: RefCell<Decision> = RefCell::new(Decision::default());
}

/// The parts of a request the handlers read.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) path_and_query: &'a str,
    pub(crate) headers: &'a HeaderMap,
}

/// Answers one request; a panic anywhere inside becomes a 500 and the service stays up.
pub(crate) fn handle(shared: &Shared, request: &Incoming<'_>) -> Reply {
    guarded(shared, || route(shared, request))
}

/// Answers one request whose engine may need records from the store: a check of a policy that
/// keeps records there runs step by step, awaiting the store between steps (each step guarded
/// like [`handle`]); everything else is [`handle`].
pub(crate) async fn handle_with_store(shared: &Shared, request: &Incoming<'_>) -> Reply {
    let protocol = match request.path {
        NGINX_PATH => Protocol::Nginx,
        FORWARD_PATH => Protocol::Forward,
        p if p.starts_with(shared.envoy_prefix.as_str()) => Protocol::Envoy,
        _ => return handle(shared, request),
    };
    let Some(store) = shared.store.as_ref() else {
        return handle(shared, request);
    };
    let loaded = shared.loaded.load_full();
    if !loaded.engine.policy().uses_store() {
        return handle(shared, request);
    }
    let started = Instant::now();
    let (original, headers) = match parse(protocol, shared, request) {
        Ok(ok) => ok,
        Err(malformed) => {
            return guarded(shared, || {
                refuse_malformed(shared, protocol, malformed, started)
            })
        }
    };
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_ref())).collect();
    let now = shared.clock.now();
    let req = Request::new(original.method, original.uri, &pairs);
    let Some(mut step) = caught(shared, || loaded.engine.check_step(&req, now)) else {
        return internal_error();
    };
    let decision = loop {
        let pending = match step {
            Step::Decided(d) => break d,
            Step::Pending(p) => p,
        };
        let answer = store.get(&pending.lookup().store_key()).await;
        shared
            .metrics
            .store_lookup(answer.as_ref().map(Option::is_some));
        let resumed = caught(shared, || match answer {
            Ok(record) => loaded.engine.resume(pending, record.as_deref(), now),
            Err(e) => {
                tracing::warn!(error = %e, "the store did not answer");
                Step::Decided(loaded.engine.resume_unavailable(pending, now))
            }
        });
        match resumed {
            Some(next) => step = next,
            None => return internal_error(),
        }
    };
    guarded(shared, || {
        finish(
            shared,
            protocol,
            &loaded,
            &original,
            request.headers,
            &decision,
            started,
        )
    })
}

/// Runs `f`; a panic becomes a counted, logged 500 (never a 2xx).
pub(crate) fn guarded(shared: &Shared, f: impl FnOnce() -> Reply) -> Reply {
    caught(shared, f).unwrap_or_else(internal_error)
}

/// The answer after a panic: 500 `internal_error`.
fn internal_error() -> Reply {
    refusal_body(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal.name(),
        None,
    )
}

/// Runs `f`; a panic is counted and logged, and gives `None` (answer [`internal_error`]).
fn caught<T>(shared: &Shared, f: impl FnOnce() -> T) -> Option<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Some(value),
        Err(panic) => {
            shared.metrics.panic();
            shared
                .metrics
                .record(Outcome::Internal, std::time::Duration::ZERO);
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "handler panicked; answered 500");
            // The decision buffer may be half written: start the next check from a fresh one.
            DECISION.with(|cell| {
                if let Ok(mut d) = cell.try_borrow_mut() {
                    *d = Decision::default();
                }
            });
            None
        }
    }
}

fn route(shared: &Shared, request: &Incoming<'_>) -> Reply {
    match request.path {
        NGINX_PATH => authorize(shared, Protocol::Nginx, request),
        FORWARD_PATH => authorize(shared, Protocol::Forward, request),
        "/healthz" => plain(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => {
            let ready = shared.is_ready();
            let status = if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let loaded = shared.loaded.load();
            let body = serde_json::json!({"ready": ready, "policy": loaded.policy_name()});
            plain(status, "application/json", format!("{body}\n"))
        }
        "/metrics" => {
            let loaded = shared.loaded.load();
            let mut text = shared
                .metrics
                .render(loaded.policy_name(), shared.is_ready());
            crate::jwks::render(&shared.sources, &mut text);
            plain(StatusCode::OK, "text/plain; version=0.0.4", text)
        }
        p if p.starts_with(shared.envoy_prefix.as_str()) => {
            authorize(shared, Protocol::Envoy, request)
        }
        _ => refusal_body(StatusCode::NOT_FOUND, "unknown_endpoint", None),
    }
}

fn plain(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    let mut reply = Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply.headers_mut().insert(CACHE_CONTROL, NO_STORE);
    reply
}

/// A refusal: `{"status":…,"reason":…}` (and the correlation id, when the request had one).
fn refusal_body(status: StatusCode, reason: &str, correlation_id: Option<&str>) -> Reply {
    let mut body = format!(
        "{{\"status\":{},\"reason\":{}",
        status.as_u16(),
        serde_json::Value::from(reason)
    );
    if let Some(id) = correlation_id {
        body.push_str(",\"correlation_id\":");
        body.push_str(&serde_json::Value::from(id).to_string());
    }
    body.push_str("}\n");
    plain(status, "application/json", body)
}

/// The status nginx's `auth_request` is given for a refusal: it understands only 401 and 403
/// (and treats anything else as its own error), so the other refusals travel as 403 with the
/// exact status in `X-Tollgate-Status`. Errors of the service stay 5xx: nginx then fails closed.
fn nginx_wire_status(status: StatusCode) -> StatusCode {
    match status.as_u16() {
        401 | 403 => status,
        s if s >= 500 => status,
        _ => StatusCode::FORBIDDEN,
    }
}

fn set_status_headers(reply: &mut Reply, status: StatusCode, reason: &'static str) {
    let headers = reply.headers_mut();
    headers.insert(X_TOLLGATE_STATUS, HeaderValue::from(status.as_u16()));
    headers.insert(X_TOLLGATE_REASON, HeaderValue::from_static(reason));
}

/// The original request a proxy forwarded, and the client's headers.
type Parsed<'a> = (Original<'a>, Vec<(&'a str, std::borrow::Cow<'a, str>)>);

fn parse<'a>(
    protocol: Protocol,
    shared: &Shared,
    request: &Incoming<'a>,
) -> Result<Parsed<'a>, Malformed> {
    let original = protocol::original(
        protocol,
        request.method.as_str(),
        request.path_and_query,
        request.headers,
        &shared.envoy_prefix,
    )?;
    Ok((
        original,
        protocol::client_headers(protocol, request.headers)?,
    ))
}

/// Decides a forwarded request and answers it the way `protocol` expects.
fn authorize(shared: &Shared, protocol: Protocol, request: &Incoming<'_>) -> Reply {
    let started = Instant::now();
    let (original, headers) = match parse(protocol, shared, request) {
        Ok(ok) => ok,
        Err(malformed) => return refuse_malformed(shared, protocol, malformed, started),
    };
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_ref())).collect();
    let loaded = shared.loaded.load();
    let now = shared.clock.now();
    DECISION.with(|cell| {
        let mut fresh;
        let mut borrowed;
        let decision: &mut Decision = match cell.try_borrow_mut() {
            Ok(d) => {
                borrowed = d;
                &mut borrowed
            }
            Err(_) => {
                fresh = Decision::default();
                &mut fresh
            }
        };
        let req = Request::new(original.method, original.uri, &pairs);
        loaded.engine.check_into(&req, now, decision);
        finish(
            shared,
            protocol,
            &loaded,
            &original,
            request.headers,
            decision,
            started,
        )
    })
}

/// Answers a decision, counts it, passes on its key-refresh hint and logs it.
fn finish(
    shared: &Shared,
    protocol: Protocol,
    loaded: &Loaded,
    original: &Original<'_>,
    headers: &HeaderMap,
    decision: &Decision,
    started: Instant,
) -> Reply {
    let (reply, outcome) = respond(protocol, loaded, decision);
    let elapsed = started.elapsed();
    shared.metrics.record(outcome, elapsed);
    if let Some(hint) = &decision.refresh_hint {
        shared.metrics.refresh_hint();
        shared.unknown_kid(&hint.provider, &hint.kid);
    }
    log_decision(protocol, original, headers, decision, &reply, elapsed);
    reply
}

fn refuse_malformed(
    shared: &Shared,
    protocol: Protocol,
    malformed: Malformed,
    started: Instant,
) -> Reply {
    let (status, outcome, message) = match malformed {
        Malformed::BadRequest(m) => (StatusCode::BAD_REQUEST, Outcome::Malformed, m),
        Malformed::TooLarge(m) => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Outcome::TooLarge,
            m,
        ),
    };
    let reason = ErrorCode::InvalidRequest.name();
    let mut reply = refusal_body(status, reason, None);
    if protocol == Protocol::Nginx {
        *reply.status_mut() = nginx_wire_status(status);
        set_status_headers(&mut reply, status, reason);
    }
    shared.metrics.record(outcome, started.elapsed());
    tracing::info!(
        protocol = protocol.name(),
        status = status.as_u16(),
        reason,
        detail = %message,
        "malformed forwarded request"
    );
    reply
}

/// The answer to a decision, and how to count it. An allowed decision whose forward headers
/// cannot be sent becomes a 500: the service never lets a request through half-described.
fn respond(protocol: Protocol, loaded: &Loaded, d: &Decision) -> (Reply, Outcome) {
    if d.is_allowed() && d.code == ErrorCode::Allowed {
        match allowed(protocol, loaded, d) {
            Some(reply) => (reply, Outcome::Engine(ErrorCode::Allowed)),
            None => (
                refusal_body(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorCode::Internal.name(),
                    d.correlation_id.as_deref(),
                ),
                Outcome::Internal,
            ),
        }
    } else {
        (refused(protocol, d), Outcome::Engine(d.code))
    }
}

fn allowed(protocol: Protocol, loaded: &Loaded, d: &Decision) -> Option<Reply> {
    let mut reply = Response::new(Full::new(Bytes::new()));
    let headers = reply.headers_mut();
    for (name, value) in &d.forward_headers {
        let header = loaded
            .reserved
            .iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(name))?
            .clone();
        let value = HeaderValue::from_bytes(value.as_bytes()).ok()?;
        headers.append(header, value);
    }
    let unset = loaded.reserved.iter().filter(|r| {
        !d.forward_headers
            .iter()
            .any(|(n, _)| r.as_str().eq_ignore_ascii_case(n))
    });
    match protocol {
        // Proxies that copy a fixed list of names (Caddy's copy_headers, Traefik's
        // authResponseHeaders, nginx's auth_request_set) get every reserved name, empty when
        // this decision sets none, so that what the client sent under it is replaced.
        Protocol::Nginx | Protocol::Forward => {
            for name in unset {
                headers.append(name.clone(), HeaderValue::from_static(""));
            }
        }
        // Envoy copies only what is present, and removes what it is told to.
        Protocol::Envoy => {
            let names: Vec<&str> = unset.map(HeaderName::as_str).collect();
            if !names.is_empty() {
                headers.insert(
                    ENVOY_HEADERS_TO_REMOVE,
                    HeaderValue::from_str(&names.join(", ")).ok()?,
                );
            }
        }
    }
    if protocol == Protocol::Nginx {
        set_status_headers(&mut reply, StatusCode::OK, ErrorCode::Allowed.name());
    }
    Some(reply)
}

fn refused(protocol: Protocol, d: &Decision) -> Reply {
    let status = StatusCode::from_u16(d.status)
        .ok()
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut reply = refusal_body(status, d.code.name(), d.correlation_id.as_deref());
    if let Some(challenge) = d
        .www_authenticate
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        reply.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    if protocol == Protocol::Nginx {
        *reply.status_mut() = nginx_wire_status(status);
        set_status_headers(&mut reply, status, d.code.name());
    }
    reply
}

fn log_decision(
    protocol: Protocol,
    original: &Original<'_>,
    headers: &HeaderMap,
    d: &Decision,
    reply: &Reply,
    elapsed: std::time::Duration,
) {
    // Allowed requests are logged at debug: skip the work when that level is off.
    if reply.status().is_success() && !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let path = original.uri.split('?').next().unwrap_or_default();
    let correlation_id = d.correlation_id.as_deref().or_else(|| {
        headers
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 256)
    });
    let principal = d.principal.as_ref();
    let subject = principal.map(|p| p.subject.as_str());
    let tenant = principal.and_then(|p| p.tenant.as_deref());
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let status = if protocol == Protocol::Nginx {
        d.status
    } else {
        reply.status().as_u16()
    };
    let reason = d.code.name();
    if reply.status().is_success() {
        tracing::debug!(
            protocol = protocol.name(),
            method = original.method,
            path,
            host = original.host,
            status,
            reason,
            subject,
            tenant,
            correlation_id,
            latency_us,
            "allowed"
        );
    } else if reply.status().is_server_error() {
        tracing::error!(
            protocol = protocol.name(),
            method = original.method,
            path,
            host = original.host,
            status,
            reason,
            detail = d.message.as_str(),
            correlation_id,
            latency_us,
            "failed"
        );
    } else {
        let refresh_kid = d.refresh_hint.as_ref().map(|h| h.kid.as_str());
        tracing::info!(
            protocol = protocol.name(),
            method = original.method,
            path,
            host = original.host,
            status,
            reason,
            detail = d.message.as_str(),
            subject,
            tenant,
            refresh_kid,
            correlation_id,
            latency_us,
            "refused"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Clock;

    fn shared() -> Shared {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tenant-path");
        Shared::load(
            dir.join("policy.json"),
            dir.join("snapshot.json"),
            true,
            Clock::Fixed(1_767_225_600),
            crate::DEFAULT_ENVOY_PREFIX.to_owned(),
            &[],
            None,
        )
        .unwrap()
    }

    #[test]
    fn a_panic_is_a_counted_500_and_the_next_request_is_served() {
        let shared = shared();
        let reply = guarded(&shared, || panic!("boom"));
        assert_eq!(reply.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(shared
            .metrics
            .render("", true)
            .contains("tollgate_handler_panics_total 1"));
        let headers = HeaderMap::new();
        let method = Method::GET;
        let ok = handle(
            &shared,
            &Incoming {
                method: &method,
                path: "/ext_authz/api/health",
                path_and_query: "/ext_authz/api/health",
                headers: &headers,
            },
        );
        assert_eq!(ok.status(), StatusCode::OK);
    }

    #[test]
    fn nginx_gets_401_403_or_403_with_the_exact_status() {
        for (exact, wire) in [
            (400, 403),
            (401, 401),
            (403, 403),
            (404, 403),
            (431, 403),
            (500, 500),
        ] {
            let s = StatusCode::from_u16(exact).unwrap();
            assert_eq!(nginx_wire_status(s).as_u16(), wire, "{exact}");
        }
    }
}
