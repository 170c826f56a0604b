//! Checks that wait on a shared store: `tg_engine_check_step`, `tg_pending`, `tg_engine_resume`.
//!
//! Where a policy keeps records in a store (`"records": "store"`, see `docs/records.md`), a check
//! may need a record first. The host reads the key `tg_pending_store_key` names from its store
//! (Redis: `GET`) and resumes the check with the bytes, or as absent; when the store does not
//! answer it calls `tg_engine_resume_unavailable`, which always decides (503 `store_unavailable`
//! unless the policy's `store.grace` allows a cached record). The core does no IO: any client
//! library works.
//!
//! ```c
//! tg_decision *d = NULL; tg_pending *p = NULL;
//! tg_status st = tg_engine_check_step(engine, m, ml, path, pl, hs, hn, now, &d, &p);
//! while (st == TG_STATUS_OK && p != NULL) {
//!     const char *key = tg_pending_store_key(p, NULL);
//!     reply = redis_get(key);                 /* your client */
//!     if (reply_failed)
//!         st = tg_engine_resume_unavailable(engine, p, now, &d), p = NULL;
//!     else
//!         st = tg_engine_resume(engine, p, reply_bytes, reply_len, reply_found, now, &d, &p);
//! }
//! ```

use crate::decision::Decision;
use crate::engine::{with_request, Engine, Header};
use crate::ffi::{
    bytes, call, handle, into_handle, new_string, not_null, out_param, text, write_out,
};
use crate::panic::boundary;
use crate::status::Status;
use std::ffi::{c_char, CString};
use tollgate_core::pending::Step;

/// A check waiting for one record from the shared store.
///
/// Made by `tg_engine_check_step` or `tg_engine_resume`; consumed by `tg_engine_resume` or
/// `tg_engine_resume_unavailable` (whatever they return), or freed unused by `tg_pending_free`.
/// Used by one thread at a time; it holds its own copy of the request.
pub struct Pending {
    inner: tollgate_core::Pending,
    key: CString,
}

impl Pending {
    fn new(inner: tollgate_core::Pending) -> Pending {
        // A store key is ASCII letters, digits, `_` and `:`: never a NUL.
        let key = CString::new(inner.lookup().store_key()).unwrap_or_default();
        Pending { inner, key }
    }
}

/// Writes a step's outcome: a decision to `*decision_out` (and NULL to `*pending_out`), or a
/// pending check to `*pending_out` (and NULL to `*decision_out`).
///
/// # Safety
///
/// Both out pointers are non-NULL and writable.
unsafe fn write_step(
    engine: &Engine,
    step: Step,
    decision_out: *mut *mut Decision,
    pending_out: *mut *mut Pending,
) {
    match step {
        Step::Decided(d) => {
            let decision = Decision::from_core(&engine.inner, d);
            // SAFETY: forwarded contract.
            unsafe {
                write_out(pending_out, core::ptr::null_mut());
                write_out(decision_out, into_handle(decision));
            }
        }
        Step::Pending(p) => {
            // SAFETY: forwarded contract.
            unsafe {
                write_out(decision_out, core::ptr::null_mut());
                write_out(pending_out, into_handle(Pending::new(p)));
            }
        }
    }
}

/// `tg_engine_check`, for a policy that keeps records in a shared store: decides, or stops at the
/// first record it needs. On `TG_STATUS_OK` exactly one of `*decision_out` and `*pending_out` is
/// set, the other NULL: a decision (free it with `tg_decision_free`), or a pending check (read
/// `tg_pending_store_key`, then `tg_engine_resume`). Without records in a store it always
/// decides. A method, path or header that is not UTF-8 decides 400 `invalid_request`.
#[no_mangle]
pub extern "C" fn tg_engine_check_step(
    engine: *const Engine,
    method: *const u8,
    method_len: usize,
    path: *const u8,
    path_len: usize,
    headers: *const Header,
    headers_len: usize,
    now: u64,
    decision_out: *mut *mut Decision,
    pending_out: *mut *mut Pending,
) -> Status {
    call(core::ptr::null_mut(), || {
        not_null(&[engine.cast::<u8>()])?;
        out_param(decision_out)?;
        out_param(pending_out)?;
        // SAFETY: `engine` is a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let step = unsafe {
            with_request(
                (method, method_len),
                (path, path_len),
                (headers, headers_len),
                |request| match request {
                    Ok(request) => engine.inner.check_step(request, now),
                    Err(reason) => Step::Decided(tollgate_core::Decision::invalid_request(reason)),
                },
            )
        }?;
        // SAFETY: both out pointers were checked non-NULL; the caller provides storage.
        unsafe { write_step(engine, step, decision_out, pending_out) };
        Ok(())
    })
}

/// The store key the pending check needs: `tollgate:<kind>:<64 hex digits>`, NUL-terminated,
/// owned by `pending` (valid until it is resumed or freed). Writes its length to `*len_out` when
/// `len_out` is not NULL. NULL for a NULL `pending`.
#[no_mangle]
pub extern "C" fn tg_pending_store_key(
    pending: *const Pending,
    len_out: *mut usize,
) -> *const c_char {
    boundary(|| {
        if pending.is_null() {
            return core::ptr::null();
        }
        // SAFETY: non-NULL, a live pending check (contract).
        let Ok(p) = (unsafe { handle(pending) }) else {
            return core::ptr::null();
        };
        if !len_out.is_null() {
            // SAFETY: non-NULL, writable (contract).
            unsafe { write_out(len_out, p.key.as_bytes().len()) };
        }
        p.key.as_ptr()
    })
}

/// How many records the pending check has been given so far (0 after `tg_engine_check_step`).
/// 0 for a NULL `pending`.
#[no_mangle]
pub extern "C" fn tg_pending_steps(pending: *const Pending) -> usize {
    boundary(|| {
        if pending.is_null() {
            return 0;
        }
        // SAFETY: non-NULL, a live pending check (contract).
        unsafe { handle(pending) }.map_or(0, |p| p.inner.steps())
    })
}

/// Frees a pending check that will not be resumed. NULL is a no-op.
#[no_mangle]
pub extern "C" fn tg_pending_free(pending: *mut Pending) {
    boundary(|| {
        // SAFETY: `pending` is NULL or a live pending check, freed once (contract).
        unsafe { crate::ffi::free_handle(pending) }
    });
}

/// Takes ownership of `pending` (non-NULL, live).
///
/// # Safety
///
/// `pending` came from this library and is used by no one else afterwards.
unsafe fn take(pending: *mut Pending) -> Box<Pending> {
    // SAFETY: forwarded contract.
    unsafe { Box::from_raw(pending) }
}

/// Goes on with `pending` given the store's answer for its key: `found` true and the record's
/// `record_len` bytes at `record`, or `found` false when the store has no such key. Consumes
/// `pending` whatever it returns (do not use or free it afterwards), and writes NULL to a
/// non-NULL `pending_out` before anything else, so that a loop passing `&p` for both never
/// keeps the consumed pointer, even on a failure. On `TG_STATUS_OK`, exactly
/// one of `*decision_out` and `*pending_out` is set, as from `tg_engine_check_step`. A record that
/// is not valid for its key decides 500 `invalid_record`. `engine` must be the one that made
/// `pending`: another engine decides 500 `internal_error` and caches nothing.
#[no_mangle]
pub extern "C" fn tg_engine_resume(
    engine: *const Engine,
    pending: *mut Pending,
    record: *const u8,
    record_len: usize,
    found: bool,
    now: u64,
    decision_out: *mut *mut Decision,
    pending_out: *mut *mut Pending,
) -> Status {
    call(core::ptr::null_mut(), || {
        not_null(&[pending.cast_const().cast::<u8>()])?;
        // SAFETY: non-NULL, a live pending check handed over to this call (contract).
        let p = unsafe { take(pending) };
        if !pending_out.is_null() {
            // SAFETY: a non-NULL `pending_out` is writable storage for a pointer (contract).
            unsafe { write_out(pending_out, core::ptr::null_mut()) };
        }
        not_null(&[engine.cast::<u8>()])?;
        out_param(decision_out)?;
        out_param(pending_out)?;
        // SAFETY: `engine` is a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: the caller passes `record_len` readable bytes at `record` (or NULL and 0).
        let record = unsafe { bytes(record, record_len) }?;
        let step = engine.inner.resume(p.inner, found.then_some(record), now);
        // SAFETY: both out pointers were checked non-NULL; the caller provides storage.
        unsafe { write_step(engine, step, decision_out, pending_out) };
        Ok(())
    })
}

/// Decides `pending` when the store did not answer (unreachable, timed out): 503
/// `store_unavailable`, unless the policy's `store.grace` lets cached records that exist stand
/// in. Consumes `pending` whatever it returns. On `TG_STATUS_OK` writes the decision to
/// `*decision_out`.
#[no_mangle]
pub extern "C" fn tg_engine_resume_unavailable(
    engine: *const Engine,
    pending: *mut Pending,
    now: u64,
    decision_out: *mut *mut Decision,
) -> Status {
    call(core::ptr::null_mut(), || {
        not_null(&[pending.cast_const().cast::<u8>()])?;
        // SAFETY: non-NULL, a live pending check handed over to this call (contract).
        let p = unsafe { take(pending) };
        not_null(&[engine.cast::<u8>()])?;
        out_param(decision_out)?;
        // SAFETY: `engine` is a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        let d = engine.inner.resume_unavailable(p.inner, now);
        let decision = Decision::from_core(&engine.inner, d);
        // SAFETY: `decision_out` was checked non-NULL; the caller provides storage.
        unsafe { write_out(decision_out, into_handle(decision)) };
        Ok(())
    })
}

/// Drops the engine's cached copy of the record a store key names (`tollgate:<kind>:<hash>`), or
/// every cached record for `*`: call it with each message of the store's `tollgate:invalidate`
/// channel, and with `*` whenever the subscription was lost. Fails with
/// `TG_STATUS_INVALID_REQUEST` (and the optional message) for anything else.
#[no_mangle]
pub extern "C" fn tg_engine_invalidate(
    engine: *const Engine,
    key: *const u8,
    key_len: usize,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[engine.cast::<u8>()])?;
        // SAFETY: `engine` is a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: the caller passes `key_len` readable bytes at `key`.
        let key = unsafe { text(key, key_len, "key") }?;
        engine.inner.invalidate_store_key(key)?;
        Ok(())
    })
}

/// Verifies a webhook delivery for a host whose replay guard is a shared store: on
/// `TG_STATUS_OK` writes the key to claim to `*claim_key_out` (`tollgate:webhook:<hash of id and body>`; free it
/// with `tg_string_free`) and how long to hold it, in seconds, to `*ttl_out`. The host then runs
/// `SET <key> 1 NX EX <ttl>`: if the key was not set, the delivery is a replay
/// (`TG_STATUS_WEBHOOK_REPLAYED`); if the store does not answer, refuse the delivery. `window`:
/// the replay window in seconds, at most 86,400 (`TG_STATUS_INVALID_OPTIONS` past it; the claim
/// lasts at least the verifier's tolerance, through its last second). Statuses otherwise as
/// `tg_webhook_verifier_verify`.
#[no_mangle]
pub extern "C" fn tg_webhook_verifier_verify_for_store(
    verifier: *const crate::webhook::WebhookVerifier,
    headers: *const Header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
    now: u64,
    window: u64,
    claim_key_out: *mut *mut c_char,
    ttl_out: *mut u64,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[verifier.cast::<u8>()])?;
        out_param(claim_key_out)?;
        out_param(ttl_out)?;
        // SAFETY: `verifier` is a live verifier (contract); checked non-NULL above.
        let verifier = unsafe { handle(verifier) }?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let claim = unsafe {
            crate::webhook::verify_for_store(
                verifier,
                headers,
                headers_len,
                body,
                body_len,
                now,
                window,
            )
        }?;
        // SAFETY: both out pointers were checked non-NULL; the caller provides storage.
        unsafe {
            write_out(ttl_out, claim.ttl_secs());
            write_out(claim_key_out, new_string(claim.store_key()));
        }
        Ok(())
    })
}

/// Moves a key snapshot's records into store form, for a host that writes them to its store:
/// `users`, `api_keys` and `revoked_jti` become records, and the rest of the document (keys,
/// peppers) is what the engine loads. On success writes to `*out_json` (free it with
/// `tg_string_free`) `{"snapshot": {…the rest…}, "records": [{"key": "tollgate:<kind>:<hash>",
/// "value": "<the record, JSON text>", "expires": <Unix seconds> | null}, …]}`. Write each `value`
/// under its `key` (expiring a day after `expires`, when it has one), then publish the key on
/// `tollgate:invalidate`. A one-record document (`{"api_keys": {"p": [<record>]}}`,
/// `{"users": {…}}`, `{"revoked_jti": ["…"]}`) gives one record: what an API key's issuer or a
/// revocation writes. Fails with `TG_STATUS_INVALID_SNAPSHOT` or `TG_STATUS_INVALID_RECORD`.
#[no_mangle]
pub extern "C" fn tg_store_records_from_snapshot(
    snapshot: *const u8,
    snapshot_len: usize,
    out_json: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(out_json)?;
        // SAFETY: the caller passes `snapshot_len` readable bytes at `snapshot` (or NULL and 0).
        let document = unsafe { bytes(snapshot, snapshot_len) }?;
        let out = tollgate_core::record::split_snapshot_json(document)?;
        // SAFETY: `out_json` was checked non-NULL; the caller provides storage.
        unsafe { write_out(out_json, new_string(out)) };
        Ok(())
    })
}

/// A session's record, for a login service that stores the sessions gateways check: `id` is the
/// session id (the cookie's value, 1–512 bytes), `pepper` the provider's pepper when it hashes
/// with HMAC-SHA256 (NULL and 0 otherwise), `session` the session as JSON (`{"subject", "kind",
/// "provider", "expires", "roles", "tenants", "revoked"}`, docs/records.md; `provider` is
/// required when the policy has several session providers). On success writes
/// `{"key": "tollgate:session:<hash>", "value": "<the record>", "expires": <Unix seconds>}` to
/// `*out_json` (free it with `tg_string_free`): store `value` under `key`, then publish `key` on
/// `tollgate:invalidate` (signing out: the same with `"revoked": true`). Fails with
/// `TG_STATUS_INVALID_RECORD`.
#[no_mangle]
pub extern "C" fn tg_store_session_record(
    id: *const u8,
    id_len: usize,
    pepper: *const u8,
    pepper_len: usize,
    session: *const u8,
    session_len: usize,
    out_json: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(out_json)?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let (id, pepper, session) = unsafe {
            (
                text(id, id_len, "session id")?,
                bytes(pepper, pepper_len)?,
                bytes(session, session_len)?,
            )
        };
        let pepper = (!pepper.is_empty()).then_some(pepper);
        let out = tollgate_core::record::session_record_json(id, pepper, session)?;
        // SAFETY: `out_json` was checked non-NULL; the caller provides storage.
        unsafe { write_out(out_json, new_string(out)) };
        Ok(())
    })
}
