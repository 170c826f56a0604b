//! The C ABI target: the `tg_` entry points called as a C host would (engine, verifier, API keys,
//! webhooks, key refresher, discovery), with arbitrary bytes and
//! lengths (not necessarily UTF-8). The first input byte picks the entry point; the fields are
//! separated by `0xFF` (a byte that is never UTF-8).
//!
//! Invariants: no call returns `TG_STATUS_PANIC` or `TG_STATUS_INTERNAL`; every returned status
//! has a name and a message; every handle and string the ABI hands out is freed (the sanitizers'
//! leak check sees the rest).
//!
//! This file holds the fuzz crate's only `unsafe`: calling the C ABI is what it tests.

use std::ffi::{c_char, CStr};
use std::ptr;
use std::sync::OnceLock;

use tollgate_ffi::decision::{self as d, Decision};
use tollgate_ffi::engine::{self as e, Engine, Header};
use tollgate_ffi::status::Status;
use tollgate_ffi::{apikey, refresh as r, verifier as v, webhook as w};

struct Shared {
    engine: *mut Engine,
    verifier: *mut v::Verifier,
    /// The refresher op swaps into this one (project-oidc), never into `engine`, whose decisions
    /// must not depend on earlier inputs.
    swap_engine: *mut Engine,
}

// SAFETY: the ABI documents engines and verifiers as shareable by any number of threads; the
// handles live for the whole process (never freed).
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

fn shared() -> &'static Shared {
    static CELL: OnceLock<Shared> = OnceLock::new();
    CELL.get_or_init(|| {
        let (_, policy, snapshot, _) = crate::DEPLOYMENTS[3];
        let mut engine = ptr::null_mut();
        let s = e::tg_engine_new(ptr_of(policy), policy.len(), &mut engine, ptr::null_mut());
        assert_eq!(s, Status::Ok);
        let s = e::tg_engine_swap_snapshot_json(
            engine,
            ptr_of(snapshot),
            snapshot.len(),
            ptr::null_mut(),
        );
        assert_eq!(s, Status::Ok);
        let keys = br#"{"keys":[{"kty":"oct","alg":"HS256","k":"2esYXeacPFOUvUBR3r5KbSVsR8uG6M50XyTGWfaD8wo"}]}"#;
        let options = br#"{"leeway": 600, "required": []}"#;
        let mut verifier = ptr::null_mut();
        let s = v::tg_verifier_new(
            ptr_of(keys),
            keys.len(),
            ptr_of(options),
            options.len(),
            &mut verifier,
            ptr::null_mut(),
        );
        assert_eq!(s, Status::Ok);
        let (_, policy, _, _) = crate::DEPLOYMENTS[0];
        let mut swap_engine = ptr::null_mut();
        let s = e::tg_engine_new(ptr_of(policy), policy.len(), &mut swap_engine, ptr::null_mut());
        assert_eq!(s, Status::Ok);
        Shared {
            engine,
            verifier,
            swap_engine,
        }
    })
}

fn checked(status: Status, message: *mut c_char) {
    assert!(
        !matches!(status, Status::Panic | Status::InternalError),
        "{status:?}"
    );
    let number = status as u32;
    // SAFETY: tg_error_name/message return static NUL-terminated strings for any number.
    unsafe {
        assert!(!CStr::from_ptr(tollgate_ffi::tg_error_name(number)).is_empty());
        assert!(!CStr::from_ptr(tollgate_ffi::tg_error_message(number)).is_empty());
    }
    if status == Status::Ok {
        assert!(message.is_null(), "a message on success");
    }
    tollgate_ffi::tg_string_free(message);
}

fn headers(fields: &[&[u8]]) -> Vec<Header> {
    fields
        .chunks(2)
        .map(|pair| {
            let name = pair.first().copied().unwrap_or_default();
            let value = pair.get(1).copied().unwrap_or_default();
            Header {
                name: ptr_of(name),
                name_len: name.len(),
                value: ptr_of(value),
                value_len: value.len(),
            }
        })
        .collect()
}

/// An input's pointer as a C host may pass it: NULL for an empty input (the ABI allows it).
fn ptr_of(bytes: &[u8]) -> *const u8 {
    if bytes.is_empty() {
        ptr::null()
    } else {
        bytes.as_ptr()
    }
}

fn field<'a>(fields: &[&'a [u8]], i: usize) -> &'a [u8] {
    fields.get(i).copied().unwrap_or_default()
}

fn read_decision(decision: *mut Decision) {
    let status = d::tg_decision_status(decision);
    assert!(matches!(status, 200 | 400 | 401 | 403 | 404 | 500 | 503));
    let mut len = 0;
    for getter in [
        d::tg_decision_reason_name,
        d::tg_decision_message,
        d::tg_decision_route,
        d::tg_decision_subject,
        d::tg_decision_tenant,
        d::tg_decision_www_authenticate,
    ] {
        let s = getter(decision, &mut len);
        if !s.is_null() {
            // SAFETY: a non-NULL getter result is `len` bytes plus a NUL, valid until the
            // decision is next written or freed.
            let bytes = unsafe { std::slice::from_raw_parts(s.cast::<u8>(), len + 1) };
            assert_eq!(bytes.last(), Some(&0));
            assert!(std::str::from_utf8(&bytes[..len]).is_ok());
        }
    }
    for i in 0..d::tg_decision_roles_count(decision) {
        assert!(!d::tg_decision_role(decision, i, &mut len).is_null());
    }
    let mut json = ptr::null_mut();
    checked(d::tg_decision_to_json(decision, &mut json), ptr::null_mut());
    tollgate_ffi::tg_string_free(json);
}

/// The C ABI target (see the module documentation).
pub fn ffi_entry(data: &[u8]) {
    let Some((&op, rest)) = data.split_first() else {
        return;
    };
    let fields: Vec<&[u8]> = rest.split(|&b| b == 0xFF).collect();
    let f = |i| field(&fields, i);
    let mut message = ptr::null_mut();
    match op % 8 {
        0 => {
            let (keys, options, token) = (f(0), f(1), f(2));
            let mut verifier = ptr::null_mut();
            let s = v::tg_verifier_new(
                ptr_of(keys),
                keys.len(),
                ptr_of(options),
                options.len(),
                &mut verifier,
                &mut message,
            );
            checked(s, message);
            if s == Status::Ok {
                verify(verifier, token);
                v::tg_verifier_free(verifier);
            }
        }
        1 => verify(shared().verifier, f(0)),
        2 => {
            let (method, path) = (f(0), f(1));
            let hs = headers(fields.get(2..).unwrap_or_default());
            let mut decision = ptr::null_mut();
            let s = e::tg_engine_check(
                shared().engine,
                ptr_of(method),
                method.len(),
                ptr_of(path),
                path.len(),
                if hs.is_empty() {
                    ptr::null()
                } else {
                    hs.as_ptr()
                },
                hs.len(),
                crate::NOW,
                &mut decision,
            );
            checked(s, ptr::null_mut());
            if s == Status::Ok {
                read_decision(decision);
            }
            d::tg_decision_free(decision);
        }
        3 => {
            let (policy, snapshot) = (f(0), f(1));
            let mut engine = ptr::null_mut();
            let s = e::tg_engine_new(ptr_of(policy), policy.len(), &mut engine, &mut message);
            checked(s, message);
            if s == Status::Ok {
                let mut message = ptr::null_mut();
                let s = e::tg_engine_swap_snapshot_json(
                    engine,
                    ptr_of(snapshot),
                    snapshot.len(),
                    &mut message,
                );
                checked(s, message);
            }
            e::tg_engine_free(engine);
        }
        4 => {
            let (key, prefixes) = (f(0), f(1));
            checked(
                apikey::tg_apikey_check(ptr_of(key), key.len(), ptr_of(prefixes), prefixes.len()),
                ptr::null_mut(),
            );
            let mut hash = ptr::null_mut();
            let s = apikey::tg_apikey_hash(
                ptr_of(key),
                key.len(),
                ptr_of(prefixes),
                prefixes.len(),
                &mut hash,
            );
            checked(s, ptr::null_mut());
            tollgate_ffi::tg_string_free(hash);
        }
        6 => refresh(&fields),
        7 => {
            let (issuer, document) = (f(0), f(1));
            let mut url = ptr::null_mut();
            let s = r::tg_discovery_configuration_url(
                ptr_of(issuer),
                issuer.len(),
                &mut url,
                &mut message,
            );
            checked(s, message);
            tollgate_ffi::tg_string_free(url);
            let (mut uri, mut message) = (ptr::null_mut(), ptr::null_mut());
            let s = r::tg_discovery_jwks_uri(
                ptr_of(document),
                document.len(),
                ptr_of(issuer),
                issuer.len(),
                &mut uri,
                &mut message,
            );
            checked(s, message);
            tollgate_ffi::tg_string_free(uri);
        }
        _ => {
            let (key, body) = (f(0), f(1));
            let hs = headers(fields.get(2..).unwrap_or_default());
            let s = w::tg_webhook_verify(
                ptr_of(key),
                key.len(),
                if hs.is_empty() {
                    ptr::null()
                } else {
                    hs.as_ptr()
                },
                hs.len(),
                ptr_of(body),
                body.len(),
                crate::NOW,
                &mut message,
            );
            checked(s, message);
        }
    }
}

/// A refresher fed a config (field 0), then a response: status (first two bytes of field 1), body
/// (field 2), headers (the rest, in pairs); then an unknown kid, the engine swap and the status.
fn refresh(fields: &[&[u8]]) {
    let f = |i| field(fields, i);
    let (config, status, body) = (f(0), f(1), f(2));
    let mut refresher = ptr::null_mut();
    let mut message = ptr::null_mut();
    let s = r::tg_refresher_new(ptr_of(config), config.len(), &mut refresher, &mut message);
    checked(s, message);
    if s != Status::Ok {
        return;
    }
    let status = u16::from_le_bytes([
        status.first().copied().unwrap_or(200),
        status.get(1).copied().unwrap_or(0),
    ]);
    let hs = headers(fields.get(3..).unwrap_or_default());
    let now = crate::NOW;
    let mut until = 0;
    assert!(
        r::tg_refresher_poll(refresher, now, &mut until),
        "a new refresher fetches"
    );
    let mut message = ptr::null_mut();
    let s = r::tg_refresher_on_fetched(
        refresher,
        status,
        if hs.is_empty() {
            ptr::null()
        } else {
            hs.as_ptr()
        },
        hs.len(),
        ptr_of(body),
        body.len(),
        now,
        &mut message,
    );
    checked(s, message);
    assert!(matches!(s, Status::Ok | Status::KeySetFetchFailed), "{s:?}");
    if !r::tg_refresher_poll(refresher, now, &mut until) {
        assert!(until > now);
    }
    let kid = f(1);
    r::tg_refresher_on_unknown_kid(refresher, ptr_of(kid), kid.len(), now);
    let (mut message, provider) = (ptr::null_mut(), b"zitadel");
    let s = r::tg_refresher_swap_into(
        refresher,
        shared().swap_engine,
        provider.as_ptr(),
        provider.len(),
        now,
        &mut message,
    );
    checked(s, message);
    let mut json = ptr::null_mut();
    checked(
        r::tg_refresher_status_json(refresher, now, &mut json),
        ptr::null_mut(),
    );
    tollgate_ffi::tg_string_free(json);
    let reason = b"fuzz";
    checked(
        r::tg_refresher_on_fetch_failed(refresher, reason.as_ptr(), reason.len(), now + 1),
        ptr::null_mut(),
    );
    r::tg_refresher_free(refresher);
}

fn verify(verifier: *const v::Verifier, token: &[u8]) {
    let mut out = ptr::null_mut();
    let mut message = ptr::null_mut();
    let s = v::tg_verifier_verify(
        verifier,
        ptr_of(token),
        token.len(),
        crate::NOW,
        &mut out,
        &mut message,
    );
    checked(s, message);
    if s == Status::Ok {
        let mut len = 0;
        let claims = v::tg_token_claims_json(out, &mut len);
        assert!(!claims.is_null());
    }
    v::tg_token_free(out);
}
