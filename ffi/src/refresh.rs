//! Key-set refreshing and OpenID discovery without IO (`core/src/refresh.rs`,
//! `core/src/discovery.rs`): `tg_refresher` says when to fetch a JWKS, the host fetches it and
//! reports what came back, and the refresher keeps the current key set, which the host swaps into
//! an engine or verifies with.

use crate::engine::{Engine, Header};
use crate::ffi::{
    bytes, call, handle, into_handle, items, new_string, not_null, out_param, text, write_out,
    Failure,
};
use crate::panic::boundary;
use crate::status::Status;
use crate::verifier::{verifier_over, Verifier};
use std::ffi::c_char;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tollgate_core::document::{self as doc, Fields};
use tollgate_core::refresh::{Poll, RefreshConfig};
use tollgate_core::{discovery, json, Algorithm, ErrorCode};

/// One JWKS URL's refresh state: when to fetch next, the last good key set, failures and backoff
/// (the rules are in `core/src/refresh.rs`).
///
/// Made by `tg_refresher_new` or `tg_refresher_new_for_provider`, freed by `tg_refresher_free`.
/// Thread safety: every call takes the refresher's lock, so any number of threads may use one
/// refresher at once (each call sees and leaves a whole state). Fetch with one thread at a time,
/// though: `tg_refresher_poll` tells every thread that asks to fetch, and the answer reported last
/// is the set, even an older one. It does no IO and reads no clock: the host fetches and passes
/// `now` (Unix seconds). It must outlive every call that uses it.
pub struct Refresher {
    inner: Mutex<tollgate_core::refresh::Refresher>,
}

impl Refresher {
    /// The state, even after a panic in another call: every method of the core's refresher leaves
    /// its fields consistent at each step (plain assignments), so a poisoned lock holds a usable
    /// state.
    fn lock(&self) -> MutexGuard<'_, tollgate_core::refresh::Refresher> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn config_error(reason: impl core::fmt::Display) -> Failure {
    Failure::new(
        Status::InvalidOptions,
        format!("invalid refresher config: {reason}"),
    )
}

/// Deepest nesting of a config document (`algorithms` is level 2).
const CONFIG_DEPTH: usize = 3;

/// `base` with the members `document` gives (NULL / empty: none; every member optional, unknown
/// ones refused), checked. Read with the core's document reader, so a fault names its member.
fn configure(mut base: RefreshConfig, document: &[u8]) -> Result<RefreshConfig, Failure> {
    if !document.is_empty() {
        doc::read_object(document, CONFIG_DEPTH, |o| read_config(o, &mut base))
            .map_err(config_error)?;
    }
    base.check()?;
    Ok(base)
}

fn read_config(object: json::Object<'_>, base: &mut RefreshConfig) -> doc::Read<()> {
    let f = Fields::of(
        object,
        "",
        &[
            "min_ttl",
            "max_ttl",
            "default_ttl",
            "unknown_kid_interval",
            "retry_initial",
            "retry_max",
            "stale_after",
            "max_body_bytes",
            "algorithms",
        ],
    )?;
    for (name, slot) in [
        ("min_ttl", &mut base.min_ttl),
        ("max_ttl", &mut base.max_ttl),
        ("default_ttl", &mut base.default_ttl),
        ("unknown_kid_interval", &mut base.unknown_kid_interval),
        ("retry_initial", &mut base.retry_initial),
        ("retry_max", &mut base.retry_max),
        ("stale_after", &mut base.stale_after),
    ] {
        if let Some(v) = f.optional(name, doc::u64)? {
            *slot = v;
        }
    }
    if let Some(max) = f.optional("max_body_bytes", doc::usize)? {
        base.max_body_bytes = max;
    }
    if let Some(algorithms) = f.optional("algorithms", |v, at| {
        doc::list(v, at, |a, at| {
            let name = doc::string(a, at)?;
            Algorithm::from_name(&name).map_err(|e| doc::fault(at, e.to_string()))
        })
    })? {
        base.algorithms = algorithms;
    }
    Ok(())
}

fn made(config: RefreshConfig, refresher_out: *mut *mut Refresher) -> Result<(), Failure> {
    let inner = tollgate_core::refresh::Refresher::new(config)?;
    let made = into_handle(Refresher {
        inner: Mutex::new(inner),
    });
    // SAFETY: the caller checked `refresher_out` non-NULL; it points to writable storage.
    unsafe { write_out(refresher_out, made) };
    Ok(())
}

/// Makes a refresher with no key set yet (its first `tg_refresher_poll` says fetch).
///
/// `config`: JSON, or NULL / empty for the defaults. Members, all optional (seconds unless said):
/// `"min_ttl": 300` and `"max_ttl": 86400` (bounds on the time between good fetches, whatever the
/// response's `Cache-Control: max-age` says), `"default_ttl": 900` (without `max-age`),
/// `"unknown_kid_interval": 30` (least time between two early fetches for unknown kids),
/// `"retry_initial": 5` and `"retry_max": 300` (backoff after failures, doubling),
/// `"stale_after": 172800` (a set not refreshed for this long is no longer served),
/// `"max_body_bytes": 1048576` (at most that), `"algorithms": ["ES256"]` (keep only keys of these
/// algorithms; with exactly one, keys without `alg` are bound to it; empty: any). Durations are
/// 1..=2592000 with `min_ttl <= default_ttl <= max_ttl < stale_after` and
/// `retry_initial <= retry_max`. Unknown members are refused.
///
/// On success writes a new refresher to `*refresher_out` (free it with `tg_refresher_free`). On
/// failure returns `TG_STATUS_INVALID_OPTIONS` (an unknown name in `"algorithms"` included) and
/// the optional message.
#[no_mangle]
pub extern "C" fn tg_refresher_new(
    config: *const u8,
    config_len: usize,
    refresher_out: *mut *mut Refresher,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(refresher_out)?;
        // SAFETY: the caller passes `config_len` readable bytes at `config` (or NULL and 0).
        let document = unsafe { bytes(config, config_len) }?;
        made(
            configure(RefreshConfig::default(), document)?,
            refresher_out,
        )
    })
}

/// `tg_refresher_new` for the JWKS of `engine`'s provider named `provider`: the refresher keeps
/// only keys of the algorithms the policy allows that provider; `config` (as for
/// `tg_refresher_new`) overrides any member, `"algorithms"` included. The engine is only read
/// here; swap the refresher's sets into it with `tg_refresher_swap_into`.
///
/// Fails with `TG_STATUS_INVALID_OPTIONS` when the policy has no provider by that name.
#[no_mangle]
pub extern "C" fn tg_refresher_new_for_provider(
    engine: *const Engine,
    provider: *const u8,
    provider_len: usize,
    config: *const u8,
    config_len: usize,
    refresher_out: *mut *mut Refresher,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[engine.cast::<u8>()])?;
        out_param(refresher_out)?;
        // SAFETY: `engine` is a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let (provider, document) = unsafe {
            (
                text(provider, provider_len, "the provider")?,
                bytes(config, config_len)?,
            )
        };
        let base = engine.inner.refresh_config(provider)?;
        made(configure(base, document)?, refresher_out)
    })
}

/// Frees a refresher. NULL is a no-op. No other call may be using it; verifiers it made stay
/// valid. Keys it swapped into engines stay too, and snapshot swaps keep them, until the host
/// calls `tg_engine_release_provider_keys` for each such engine: call it when refreshing stops.
#[no_mangle]
pub extern "C" fn tg_refresher_free(refresher: *mut Refresher) {
    boundary(|| {
        // SAFETY: `refresher` is NULL or a live refresher, freed once, used by no other thread.
        unsafe { crate::ffi::free_handle(refresher) }
    })
}

/// Whether to fetch the key set at `now`: true means fetch now, then report with
/// `tg_refresher_on_fetched` or `tg_refresher_on_fetch_failed`. False means wait: `*until_out`
/// (when `until_out` is not NULL) gets the Unix second to poll again, unless
/// `tg_refresher_on_unknown_kid` says fetch first. A NULL refresher gives false and writes
/// nothing.
#[no_mangle]
pub extern "C" fn tg_refresher_poll(
    refresher: *const Refresher,
    now: u64,
    until_out: *mut u64,
) -> bool {
    boundary(|| {
        // SAFETY: `refresher` is NULL or a live refresher (contract).
        let Ok(r) = (unsafe { handle(refresher) }) else {
            return false;
        };
        let poll = r.lock().poll(now);
        match poll {
            Poll::Fetch => true,
            Poll::Wait { until } => {
                if !until_out.is_null() {
                    // SAFETY: non-NULL; the caller provides a writable `uint64_t`.
                    unsafe { write_out(until_out, until) };
                }
                false
            }
        }
    })
}

/// Reports a response to a fetch, at `now`: its HTTP status, its headers (`headers_len`
/// `tg_header`s, NULL when 0; only `Cache-Control` is read, names case-insensitive, and a header
/// that is not UTF-8 is ignored) and its body.
///
/// Returns `TG_STATUS_OK` when the response brought a usable key set, which is now current; its
/// `Cache-Control: max-age` sets the next fetch. Any other response (a status other than 200, a
/// body over `max_body_bytes`, not a JWKS, no usable key) returns `TG_STATUS_KEY_SET_FETCH_FAILED`
/// and the message: the last good set stays and the next fetch backs off. Other statuses
/// (`TG_STATUS_NULL_PARAMETER`, …) mean nothing was reported.
#[no_mangle]
pub extern "C" fn tg_refresher_on_fetched(
    refresher: *const Refresher,
    status: u16,
    headers: *const Header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
    now: u64,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[refresher.cast::<u8>()])?;
        // SAFETY: `refresher` is a live refresher (contract); checked non-NULL above.
        let r = unsafe { handle(refresher) }?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let (headers, body) = unsafe { (items(headers, headers_len)?, bytes(body, body_len)?) };
        let mut pairs = Vec::with_capacity(headers.len());
        for h in headers {
            // SAFETY: the caller passes each header's name and value as pointer + length.
            let (name, value) =
                unsafe { (bytes(h.name, h.name_len)?, bytes(h.value, h.value_len)?) };
            if let (Ok(n), Ok(v)) = (core::str::from_utf8(name), core::str::from_utf8(value)) {
                pairs.push((n, v));
            }
        }
        r.lock().on_fetched(status, &pairs, body, now)?;
        Ok(())
    })
}

/// Reports a fetch that got no response (connection refused, timeout, TLS error…) at `now`, with
/// a reason for logs (bytes that are not UTF-8 become U+FFFD: the failure is always recorded).
/// The last good set stays; the next fetch backs off. Returns `TG_STATUS_OK` once recorded.
#[no_mangle]
pub extern "C" fn tg_refresher_on_fetch_failed(
    refresher: *const Refresher,
    reason: *const u8,
    reason_len: usize,
    now: u64,
) -> Status {
    call(core::ptr::null_mut(), || {
        not_null(&[refresher.cast::<u8>()])?;
        // SAFETY: `refresher` is a live refresher (contract); checked non-NULL above.
        let r = unsafe { handle(refresher) }?;
        // SAFETY: the caller passes `reason_len` readable bytes at `reason` (or NULL and 0).
        let reason = String::from_utf8_lossy(unsafe { bytes(reason, reason_len) }?);
        r.lock().on_fetch_failed(&reason, now);
        Ok(())
    })
}

/// A token named `kid` and verification said `TG_STATUS_UNKNOWN_KID` (or a decision's refresh
/// hint named it): true when the host should fetch now (then `tg_refresher_poll` says so too).
/// At most once per `unknown_kid_interval` however many tokens carry unknown kids, never inside a
/// failure backoff, never for a kid the current set has (nor one that is not UTF-8, or longer
/// than any kid a set may hold). A NULL refresher gives false.
#[no_mangle]
pub extern "C" fn tg_refresher_on_unknown_kid(
    refresher: *const Refresher,
    kid: *const u8,
    kid_len: usize,
    now: u64,
) -> bool {
    boundary(|| {
        // SAFETY: `refresher` is NULL or a live refresher (contract).
        let Ok(r) = (unsafe { handle(refresher) }) else {
            return false;
        };
        // SAFETY: the caller passes `kid_len` readable bytes at `kid` (or NULL and 0).
        match unsafe { text(kid, kid_len, "the kid") } {
            Ok(kid) => r.lock().on_unknown_kid(kid, now),
            Err(_) => false,
        }
    })
}

/// Swaps the refresher's current key set into `engine` as the keys of its provider named
/// `provider` (the rest of the engine's snapshot stays), atomically: checks already running
/// finish on the old keys. Safe while other threads check or use the refresher.
///
/// When the refresher has no set to serve — `TG_STATUS_KEY_SET_FETCH_FAILED` before any good
/// fetch, `TG_STATUS_KEY_SET_STALE` once the set is older than `stale_after` at `now` (or `now`
/// is more than a minute before the set's fetch: its age is unknown) — the
/// provider's keys are emptied (its tokens are refused: fail closed) and that status returned;
/// call this after every poll, good fetch or not, so that staleness reaches the engine. Fails
/// with `TG_STATUS_INVALID_SNAPSHOT`, leaving the engine as it was, when the policy has no such
/// provider or it does not take keys.
#[no_mangle]
pub extern "C" fn tg_refresher_swap_into(
    refresher: *const Refresher,
    engine: *const Engine,
    provider: *const u8,
    provider_len: usize,
    now: u64,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[refresher.cast::<u8>(), engine.cast::<u8>()])?;
        // SAFETY: live handles (contract); checked non-NULL above.
        let (r, engine) = unsafe { (handle(refresher)?, handle(engine)?) };
        // SAFETY: the caller passes `provider_len` readable bytes at `provider`.
        let provider = unsafe { text(provider, provider_len, "the provider") }?;
        engine
            .inner
            .swap_provider_keys_from(provider, &r.lock(), now)?;
        Ok(())
    })
}

/// Releases `engine`'s provider `provider` from the refresher that swapped keys into it
/// (`tg_refresher_swap_into`): call it when the host stops refreshing, before freeing the
/// refresher. Until then snapshot swaps keep the provider's keys; after it, the provider has no
/// keys (nothing keeps them fresh, or makes them stale) until a snapshot swap sets them. Does
/// nothing for a provider no refresher swapped into. Fails with `TG_STATUS_INVALID_OPTIONS` when
/// the policy has no such provider.
#[no_mangle]
pub extern "C" fn tg_engine_release_provider_keys(
    engine: *const Engine,
    provider: *const u8,
    provider_len: usize,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[engine.cast::<u8>()])?;
        // SAFETY: a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: the caller passes `provider_len` readable bytes at `provider`.
        let provider = unsafe { text(provider, provider_len, "the provider") }?;
        engine.inner.release_provider_keys(provider)?;
        Ok(())
    })
}

/// Makes a plain verifier over the refresher's current key set at `now`. Later fetches do not
/// change it and it never goes stale: a host keeping one asks `tg_refresher_generation` before
/// each use, makes a new one when it moved, and stops when it fails. `options` as for `tg_verifier_new`, except
/// `"alg"`, `"kid"` and `"backend"` (they say how to read keys, and these are read already, for
/// the library's preferred backend: `TG_STATUS_INVALID_OPTIONS`).
///
/// On success writes a new verifier to `*verifier_out` (free it with `tg_verifier_free`). Fails
/// with `TG_STATUS_KEY_SET_FETCH_FAILED` before any good fetch, `TG_STATUS_KEY_SET_STALE` once
/// the set is stale, or the options' reason.
#[no_mangle]
pub extern "C" fn tg_refresher_verifier(
    refresher: *const Refresher,
    options: *const u8,
    options_len: usize,
    now: u64,
    verifier_out: *mut *mut Verifier,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[refresher.cast::<u8>()])?;
        out_param(verifier_out)?;
        // SAFETY: `refresher` is a live refresher (contract); checked non-NULL above.
        let r = unsafe { handle(refresher) }?;
        // SAFETY: the caller passes `options_len` readable bytes at `options` (or NULL and 0).
        let options = unsafe { bytes(options, options_len) }?;
        let set = r.lock().key_set(now)?;
        let verifier = verifier_over(set, options)?;
        // SAFETY: `verifier_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(verifier_out, into_handle(verifier)) };
        Ok(())
    })
}

/// The generation of the set the refresher serves at `now` (how many good fetches there have
/// been): a host holding a verifier made by `tg_refresher_verifier` makes a new one when it
/// moves, and stops verifying when this fails. Cheap: no copy, no allocation.
///
/// On success writes it to `*generation_out`. Fails with `TG_STATUS_KEY_SET_FETCH_FAILED` before
/// any good fetch and `TG_STATUS_KEY_SET_STALE` once the set is stale (with the optional message).
#[no_mangle]
pub extern "C" fn tg_refresher_generation(
    refresher: *const Refresher,
    now: u64,
    generation_out: *mut u64,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[refresher.cast::<u8>()])?;
        out_param(generation_out)?;
        // SAFETY: `refresher` is a live refresher (contract); checked non-NULL above.
        let r = unsafe { handle(refresher) }?;
        let generation = {
            let r = r.lock();
            r.key_set(now)?;
            r.generation()
        };
        // SAFETY: `generation_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(generation_out, generation) };
        Ok(())
    })
}

/// The refresher's state at `now` as JSON, for health checks and logs:
/// `{"fetched_at": u64 | null, "next_fetch": u64, "failures": u32, "stale": bool,
/// "stale_at": u64 | null, "last_error": {"code": "…", "message": "…"} | null, "kids": ["…"],
/// "skipped": [{"index": 0, "kid": "…" | null, "code": "…", "reason": "…"}]}`.
/// `stale_at` is when the last good set stops being served (`fetched_at` + `stale_after`): a host
/// that swaps the set into an engine swaps again then, fetch due or not, so that the engine
/// stops using it on time. `kids` are the kids of the last good set (stale or not; keys without
/// a kid are not listed), `skipped` the keys its fetch left out; `last_error` is the last failure
/// since then.
///
/// On success writes the document to `*json_out` (free it with `tg_string_free`).
#[no_mangle]
pub extern "C" fn tg_refresher_status_json(
    refresher: *const Refresher,
    now: u64,
    json_out: *mut *mut c_char,
) -> Status {
    call(core::ptr::null_mut(), || {
        not_null(&[refresher.cast::<u8>()])?;
        out_param(json_out)?;
        // SAFETY: `refresher` is a live refresher (contract); checked non-NULL above.
        let r = unsafe { handle(refresher) }?;
        let document = {
            let r = r.lock();
            let stale = r
                .key_set(now)
                .is_err_and(|e| e.code() == ErrorCode::KeySetStale);
            // The last good set, stale or not: asked for at the time it was fetched, when it is
            // served whatever `now` is.
            let kids: Vec<String> = match r.fetched_at().map(|at| r.key_set(at)) {
                Some(Ok(set)) => set
                    .keys()
                    .iter()
                    .filter_map(|k| k.kid())
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            };
            serde_json::json!({
                "fetched_at": r.fetched_at(),
                "next_fetch": r.next_fetch(),
                "failures": r.failures(),
                "stale": stale,
                "stale_at": r.fetched_at().map(|at| at.saturating_add(r.config().stale_after)),
                "last_error": r.last_error().map(|e| serde_json::json!({
                    "code": e.code().name(),
                    "message": e.to_string(),
                })),
                "kids": kids,
                "skipped": r.skipped().iter().map(|s| serde_json::json!({
                    "index": s.index,
                    "kid": s.kid,
                    "code": s.code.name(),
                    "reason": s.reason,
                })).collect::<Vec<_>>(),
            })
            .to_string()
        };
        // SAFETY: `json_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(json_out, new_string(document)) };
        Ok(())
    })
}

/// Checks that `url` may be fetched for keys or an OpenID configuration: `https`, or `http` to a
/// loopback host (`127.0.0.1`, `[::1]`, `localhost`); no credentials, fragment, whitespace or
/// control characters; at most 2,048 bytes. A host's key source checks its JWKS URL with this
/// before its first fetch (and follows no redirects: a redirect could lead where this would
/// refuse). `TG_STATUS_OK`, or `TG_STATUS_INVALID_DISCOVERY` and the optional message.
#[no_mangle]
pub extern "C" fn tg_discovery_check_url(
    url: *const u8,
    url_len: usize,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        // SAFETY: the caller passes `url_len` readable bytes at `url`.
        let url = unsafe { text(url, url_len, "the URL") }?;
        discovery::check_url(url, "the URL")?;
        Ok(())
    })
}

/// Where `issuer`'s OpenID configuration lives: the issuer without a trailing `/`, then
/// `/.well-known/openid-configuration`. The issuer must be an `https` URL (or `http` to a
/// loopback host) without credentials, query or fragment.
///
/// On success writes the URL to `*url_out` (free it with `tg_string_free`). On failure returns
/// `TG_STATUS_INVALID_DISCOVERY` and the optional message.
#[no_mangle]
pub extern "C" fn tg_discovery_configuration_url(
    issuer: *const u8,
    issuer_len: usize,
    url_out: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(url_out)?;
        // SAFETY: the caller passes `issuer_len` readable bytes at `issuer`.
        let issuer = unsafe { text(issuer, issuer_len, "the issuer") }?;
        let url = discovery::configuration_url(issuer)?;
        // SAFETY: `url_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(url_out, new_string(url)) };
        Ok(())
    })
}

/// The `jwks_uri` of an OpenID configuration `document` fetched for `issuer`: the document's
/// `issuer` must equal `issuer` exactly (no normalisation: a trailing `/` matters), and its
/// `jwks_uri` must be an `https` URL (or `http` to a loopback host). Documents over 64 KiB are
/// refused.
///
/// On success writes the URI to `*uri_out` (free it with `tg_string_free`). On failure returns
/// `TG_STATUS_INVALID_DISCOVERY` and the optional message.
#[no_mangle]
pub extern "C" fn tg_discovery_jwks_uri(
    document: *const u8,
    document_len: usize,
    issuer: *const u8,
    issuer_len: usize,
    uri_out: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(uri_out)?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let (document, issuer) = unsafe {
            (
                bytes(document, document_len)?,
                text(issuer, issuer_len, "the issuer")?,
            )
        };
        let uri = discovery::jwks_uri(document, issuer)?;
        // SAFETY: `uri_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(uri_out, new_string(uri)) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{tg_engine_check, tg_engine_free, tg_engine_new};
    use crate::verifier::{tg_token_free, tg_verifier_free, tg_verifier_verify};
    use crate::{decision::tg_decision_free, decision::tg_decision_status, tg_string_free};
    use std::ffi::CStr;
    use std::ptr::{null, null_mut};

    const NOW: u64 = 1_767_225_600;
    const POLICY: &str = r#"{"version":1,"name":"keysource","credentials":[{"name":"bearer","header":"Authorization","scheme":"Bearer"}],"providers":[{"name":"idp","credentials":["bearer"],"issuers":["https://issuer.test"],"audiences":["api"],"algorithms":["ES256"]}],"routes":[{"method":"GET","path":"/v1/me"}]}"#;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../tests/keysource/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A JWKS of the fixture keys `names` (`a`, `b`, `c`).
    fn jwks(names: &[&str]) -> Vec<u8> {
        let keys: Vec<serde_json::Value> = names
            .iter()
            .map(|n| {
                let doc: serde_json::Value =
                    serde_json::from_slice(&fixture(&format!("key-{n}.pub.jwk"))).unwrap();
                doc["keys"][0].clone()
            })
            .collect();
        serde_json::json!({ "keys": keys }).to_string().into_bytes()
    }

    fn token(name: &str) -> Vec<u8> {
        fixture(&format!("token-{name}.txt")).trim_ascii().to_vec()
    }

    fn owned(p: *mut c_char) -> String {
        assert!(!p.is_null());
        // SAFETY: a string made by this library, read then freed once.
        let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
        tg_string_free(p);
        s
    }

    fn new(config: &str) -> Result<*mut Refresher, (Status, String)> {
        let (mut r, mut e) = (null_mut(), null_mut());
        match tg_refresher_new(config.as_ptr(), config.len(), &mut r, &mut e) {
            Status::Ok => {
                assert!(e.is_null());
                Ok(r)
            }
            st => {
                assert!(r.is_null(), "no output on failure");
                Err((st, owned(e)))
            }
        }
    }

    fn fetched(r: *const Refresher, status: u16, max_age: &str, body: &[u8], now: u64) -> Status {
        let value = format!("public, max-age={max_age}");
        let headers = [Header {
            name: "Cache-Control".as_ptr(),
            name_len: 13,
            value: value.as_ptr(),
            value_len: value.len(),
        }];
        tg_refresher_on_fetched(
            r,
            status,
            headers.as_ptr(),
            1,
            body.as_ptr(),
            body.len(),
            now,
            null_mut(),
        )
    }

    fn verify(r: *const Refresher, token: &[u8], now: u64) -> Status {
        let options = r#"{"issuers":["https://issuer.test"],"audiences":["api"]}"#;
        let mut v = null_mut();
        let st = tg_refresher_verifier(r, options.as_ptr(), options.len(), now, &mut v, null_mut());
        if st != Status::Ok {
            return st;
        }
        let mut t = null_mut();
        let st = tg_verifier_verify(v, token.as_ptr(), token.len(), now, &mut t, null_mut());
        tg_token_free(t);
        tg_verifier_free(v);
        st
    }

    fn status(r: *const Refresher, now: u64) -> serde_json::Value {
        let mut out = null_mut();
        assert_eq!(tg_refresher_status_json(r, now, &mut out), Status::Ok);
        serde_json::from_str(&owned(out)).unwrap()
    }

    #[test]
    fn null_arguments_are_refused_before_anything_is_read() {
        let mut r = null_mut();
        let mut e = null_mut();
        assert_eq!(
            tg_refresher_new(null(), 0, null_mut(), &mut e),
            Status::NullParameter
        );
        tg_string_free(e);
        assert_eq!(
            tg_refresher_new(null(), 5, &mut r, null_mut()),
            Status::NullParameter
        );
        assert!(r.is_null());
        let mut until = 7u64;
        assert!(!tg_refresher_poll(null(), NOW, &mut until));
        assert_eq!(until, 7, "nothing written for a NULL refresher");
        assert!(!tg_refresher_on_unknown_kid(null(), b"k".as_ptr(), 1, NOW));
        assert_eq!(
            tg_refresher_on_fetch_failed(null(), null(), 0, NOW),
            Status::NullParameter
        );
        assert_eq!(
            tg_refresher_on_fetched(null(), 200, null(), 0, null(), 0, NOW, null_mut()),
            Status::NullParameter
        );
        let mut json = null_mut();
        assert_eq!(
            tg_refresher_status_json(null(), NOW, &mut json),
            Status::NullParameter
        );
        assert!(json.is_null());
        let mut v = null_mut();
        assert_eq!(
            tg_refresher_verifier(null(), null(), 0, NOW, &mut v, null_mut()),
            Status::NullParameter
        );
        assert_eq!(
            tg_refresher_swap_into(null(), null(), null(), 0, NOW, null_mut()),
            Status::NullParameter
        );
        let mut url = null_mut();
        assert_eq!(
            tg_discovery_configuration_url(b"https://x".as_ptr(), 9, null_mut(), null_mut()),
            Status::NullParameter
        );
        assert_eq!(
            tg_discovery_jwks_uri(null(), 3, null(), 0, &mut url, null_mut()),
            Status::NullParameter
        );
        assert!(url.is_null());
        tg_refresher_free(null_mut());

        let r = new("").unwrap();
        assert_eq!(
            tg_refresher_on_fetched(r, 200, null(), 2, null(), 0, NOW, null_mut()),
            Status::NullParameter,
            "a NULL header array with a count"
        );
        assert_eq!(
            tg_refresher_status_json(r, NOW, null_mut()),
            Status::NullParameter
        );
        assert_eq!(
            tg_refresher_verifier(r, null(), 0, NOW, null_mut(), null_mut()),
            Status::NullParameter
        );
        assert_eq!(status(r, NOW)["failures"], 0, "nothing was reported");
        tg_refresher_free(r);
    }

    #[test]
    fn configs_are_checked() {
        let r = new(r#"{"min_ttl":60,"max_ttl":600,"default_ttl":120,"unknown_kid_interval":10,"retry_initial":1,"retry_max":60,"stale_after":3600,"max_body_bytes":4096,"algorithms":["ES256"]}"#).unwrap();
        tg_refresher_free(r);
        for (config, status, says) in [
            (r#"{"min_tll":60}"#, Status::InvalidOptions, "unknown field"),
            (r#"{"min_ttl":0}"#, Status::InvalidOptions, "min_ttl"),
            (
                r#"{"max_ttl":200000}"#,
                Status::InvalidOptions,
                "stale_after",
            ),
            (
                r#"{"retry_initial":600}"#,
                Status::InvalidOptions,
                "retry_max",
            ),
            (
                r#"{"max_body_bytes":0}"#,
                Status::InvalidOptions,
                "max_body_bytes",
            ),
            (
                r#"{"algorithms":["ES999"]}"#,
                Status::InvalidOptions,
                "ES999",
            ),
            (r#"[1]"#, Status::InvalidOptions, "invalid refresher config"),
            (
                r#"{"algorithms":["ES256",7]}"#,
                Status::InvalidOptions,
                "invalid refresher config: algorithms[1]: invalid type: integer `7`, expected a string",
            ),
            (
                r#"{"stale_after":-1}"#,
                Status::InvalidOptions,
                "invalid refresher config: stale_after: ",
            ),
            (
                r#"{"min_ttl":60,"min_ttl":61}"#,
                Status::InvalidOptions,
                "duplicate",
            ),
        ] {
            let (st, message) = new(config).unwrap_err();
            assert_eq!(st, status, "{config}: {message}");
            assert!(message.contains(says), "{config}: {message}");
        }
    }

    #[test]
    fn fetch_rotate_fail_and_go_stale() {
        let r = new(r#"{"stale_after":100000}"#).unwrap();
        let mut until = 0;
        assert!(tg_refresher_poll(r, NOW, &mut until));
        assert_eq!(verify(r, &token("a"), NOW), Status::KeySetFetchFailed);
        assert_eq!(fetched(r, 200, "600", &jwks(&["a"]), NOW), Status::Ok);
        assert!(!tg_refresher_poll(r, NOW, &mut until));
        assert_eq!(until, NOW + 600);
        assert!(
            !tg_refresher_poll(r, NOW, null_mut()),
            "until_out may be NULL"
        );
        assert_eq!(verify(r, &token("a"), NOW), Status::Ok);
        assert_eq!(verify(r, &token("b"), NOW), Status::UnknownKid);

        // Rotation: a + b, then b alone.
        assert_eq!(
            fetched(r, 200, "600", &jwks(&["a", "b"]), NOW + 600),
            Status::Ok
        );
        assert_eq!(verify(r, &token("b"), NOW + 600), Status::Ok);
        assert_eq!(
            fetched(r, 200, "600", &jwks(&["b"]), NOW + 1200),
            Status::Ok
        );
        assert_eq!(verify(r, &token("a"), NOW + 1200), Status::UnknownKid);
        assert_eq!(verify(r, &token("b"), NOW + 1200), Status::Ok);

        // Failures keep the last good set and back off: 5 s, then 10 s.
        let mut e = null_mut();
        let garbage = b"<html>";
        let st = tg_refresher_on_fetched(
            r,
            200,
            null(),
            0,
            garbage.as_ptr(),
            garbage.len(),
            NOW + 1800,
            &mut e,
        );
        assert_eq!(st, Status::KeySetFetchFailed);
        assert!(owned(e).contains("not a usable JWKS"));
        assert_eq!(
            fetched(r, 500, "600", b"{}", NOW + 1805),
            Status::KeySetFetchFailed
        );
        let reason = b"connection refused \xff";
        assert_eq!(
            tg_refresher_on_fetch_failed(r, reason.as_ptr(), reason.len(), NOW + 1815),
            Status::Ok
        );
        assert!(!tg_refresher_poll(r, NOW + 1815, &mut until));
        assert_eq!(until, NOW + 1815 + 20);
        assert_eq!(verify(r, &token("b"), NOW + 1815), Status::Ok);
        let s = status(r, NOW + 1815);
        assert_eq!(s["failures"], 3);
        assert_eq!(s["fetched_at"], NOW + 1200);
        assert_eq!(s["stale"], false);
        assert_eq!(
            s["stale_at"],
            NOW + 1200 + 100_000,
            "fetched_at + stale_after"
        );
        assert_eq!(s["kids"].as_array().unwrap().len(), 1);
        assert_eq!(s["last_error"]["code"], "key_set_fetch_failed");
        let message = s["last_error"]["message"].as_str().unwrap();
        assert!(message.contains("connection refused \u{FFFD}"), "{message}");

        // Stale: refused with key_set_stale, reported as such, kids still listed.
        let late = NOW + 1200 + 100_000;
        assert_eq!(verify(r, &token("b"), late - 1), Status::Ok);
        assert_eq!(verify(r, &token("b"), late), Status::KeySetStale);
        let s = status(r, late);
        assert_eq!(s["stale"], true);
        assert_eq!(s["kids"].as_array().unwrap().len(), 1);
        tg_refresher_free(r);
    }

    #[test]
    fn unknown_kids_fetch_at_most_once_per_interval() {
        let r = new("").unwrap();
        assert_eq!(fetched(r, 200, "600", &jwks(&["a"]), NOW), Status::Ok);
        let s = status(r, NOW);
        let known = s["kids"][0].as_str().unwrap().to_owned();
        let kid = "not-a-published-kid";
        let fetches = (0..1000)
            .filter(|i| tg_refresher_on_unknown_kid(r, kid.as_ptr(), kid.len(), NOW + 1 + i / 100))
            .count();
        assert_eq!(fetches, 1, "10 s of a flood, 30 s interval");
        assert!(tg_refresher_poll(r, NOW + 1, null_mut()));
        assert!(!tg_refresher_on_unknown_kid(
            r,
            known.as_ptr(),
            known.len(),
            NOW + 100
        ));
        assert!(!tg_refresher_on_unknown_kid(
            r,
            b"\xff".as_ptr(),
            1,
            NOW + 100
        ));
        assert!(tg_refresher_on_unknown_kid(
            r,
            kid.as_ptr(),
            kid.len(),
            NOW + 100
        ));
        tg_refresher_free(r);
    }

    #[test]
    fn skipped_keys_are_reported() {
        let r = new(r#"{"algorithms":["ES256"]}"#).unwrap();
        let mut doc: serde_json::Value = serde_json::from_slice(&jwks(&["a"])).unwrap();
        doc["keys"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"kty":"oct","kid":"hmac","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}));
        let body = doc.to_string();
        assert_eq!(fetched(r, 200, "600", body.as_bytes(), NOW), Status::Ok);
        let s = status(r, NOW);
        assert_eq!(s["skipped"][0]["index"], 1);
        assert_eq!(s["skipped"][0]["kid"], "hmac");
        assert!(s["skipped"][0]["code"].is_string());
        assert_eq!(s["last_error"], serde_json::Value::Null);
        tg_refresher_free(r);
    }

    #[test]
    fn verifier_options_are_those_of_tg_verifier_new_but_alg_kid_and_backend() {
        let r = new("").unwrap();
        assert_eq!(fetched(r, 200, "600", &jwks(&["a"]), NOW), Status::Ok);
        for (options, says) in [
            (r#"{"alg":"ES256"}"#, "already read"),
            (r#"{"kid":"x"}"#, "already read"),
            (r#"{"backend":"ring"}"#, "already read"),
            (r#"{"leway":1}"#, "unknown field"),
        ] {
            let (mut v, mut e) = (null_mut(), null_mut());
            let st = tg_refresher_verifier(r, options.as_ptr(), options.len(), NOW, &mut v, &mut e);
            assert_eq!(st, Status::InvalidOptions);
            assert!(v.is_null());
            assert!(owned(e).contains(says), "{options}");
        }
        let options = r#"{"audiences":["other"]}"#;
        let mut v = null_mut();
        let st = tg_refresher_verifier(r, options.as_ptr(), options.len(), NOW, &mut v, null_mut());
        assert_eq!(st, Status::Ok);
        let (t, mut out) = (token("a"), null_mut());
        let st = tg_verifier_verify(v, t.as_ptr(), t.len(), NOW, &mut out, null_mut());
        assert_eq!(st, Status::InvalidAudience);
        tg_verifier_free(v);
        tg_refresher_free(r);
    }

    #[test]
    fn a_refreshed_set_swapped_into_an_engine() {
        let (mut engine, mut e) = (null_mut(), null_mut());
        let st = tg_engine_new(POLICY.as_ptr(), POLICY.len(), &mut engine, &mut e);
        assert_eq!(
            st,
            Status::Ok,
            "{}",
            if e.is_null() { String::new() } else { owned(e) }
        );
        let check = |token: &[u8]| -> u16 {
            let bearer = [b"Bearer ".as_slice(), token].concat();
            let h = [Header {
                name: "Authorization".as_ptr(),
                name_len: 13,
                value: bearer.as_ptr(),
                value_len: bearer.len(),
            }];
            let mut d = null_mut();
            let st = tg_engine_check(
                engine,
                b"GET".as_ptr(),
                3,
                b"/v1/me".as_ptr(),
                6,
                h.as_ptr(),
                1,
                NOW,
                &mut d,
            );
            assert_eq!(st, Status::Ok);
            let status = tg_decision_status(d);
            tg_decision_free(d);
            status
        };
        let (mut r, mut e) = (null_mut(), null_mut());
        let st =
            tg_refresher_new_for_provider(engine, b"idp".as_ptr(), 3, null(), 0, &mut r, &mut e);
        assert_eq!(st, Status::Ok);
        let st = tg_refresher_new_for_provider(
            engine,
            b"nobody".as_ptr(),
            6,
            null(),
            0,
            &mut null_mut(),
            &mut e,
        );
        assert_eq!(st, Status::InvalidOptions);
        assert!(owned(e).contains("no provider"));

        let mut e = null_mut();
        let st = tg_refresher_swap_into(r, engine, b"idp".as_ptr(), 3, NOW, &mut e);
        assert_eq!(st, Status::KeySetFetchFailed);
        tg_string_free(e);
        assert_eq!(fetched(r, 200, "600", &jwks(&["a"]), NOW), Status::Ok);
        assert_eq!(check(&token("a")), 401);
        let st = tg_refresher_swap_into(r, engine, b"idp".as_ptr(), 3, NOW, null_mut());
        assert_eq!(st, Status::Ok);
        assert_eq!(check(&token("a")), 200);
        assert_eq!(check(&token("b")), 401);
        let mut e = null_mut();
        let st = tg_refresher_swap_into(r, engine, b"nobody".as_ptr(), 6, NOW, &mut e);
        assert_eq!(st, Status::InvalidSnapshot);
        assert!(owned(e).contains("no provider"));
        tg_refresher_free(r);
        assert_eq!(check(&token("a")), 200, "the engine keeps the set");
        tg_engine_free(engine);
    }

    #[test]
    fn discovery_urls() {
        let issuer = "http://127.0.0.1:8080/";
        let mut url = null_mut();
        let st =
            tg_discovery_configuration_url(issuer.as_ptr(), issuer.len(), &mut url, null_mut());
        assert_eq!(st, Status::Ok);
        assert_eq!(
            owned(url),
            "http://127.0.0.1:8080/.well-known/openid-configuration"
        );
        let (mut url, mut e) = (null_mut(), null_mut());
        let bad = "http://issuer.test";
        let st = tg_discovery_configuration_url(bad.as_ptr(), bad.len(), &mut url, &mut e);
        assert_eq!(st, Status::InvalidDiscovery);
        assert!(url.is_null());
        assert!(owned(e).contains("plain http"));

        let doc = r#"{"issuer":"https://issuer.test","jwks_uri":"https://issuer.test/jwks"}"#;
        let issuer = "https://issuer.test";
        let mut uri = null_mut();
        let st = tg_discovery_jwks_uri(
            doc.as_ptr(),
            doc.len(),
            issuer.as_ptr(),
            issuer.len(),
            &mut uri,
            null_mut(),
        );
        assert_eq!(st, Status::Ok);
        assert_eq!(owned(uri), "https://issuer.test/jwks");
        let other = "https://issuer.test/";
        let (mut uri, mut e) = (null_mut(), null_mut());
        let st = tg_discovery_jwks_uri(
            doc.as_ptr(),
            doc.len(),
            other.as_ptr(),
            other.len(),
            &mut uri,
            &mut e,
        );
        assert_eq!(st, Status::InvalidDiscovery);
        assert!(uri.is_null());
        assert!(owned(e).contains("not \"https://issuer.test/\""));
        let st = tg_discovery_jwks_uri(
            doc.as_ptr(),
            doc.len(),
            b"\xff".as_ptr(),
            1,
            &mut uri,
            null_mut(),
        );
        assert_eq!(st, Status::InvalidUtf8);
    }
}
