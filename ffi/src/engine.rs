//! The policy engine: `tg_engine`, `tg_snapshot`, and `tg_engine_check`.

use crate::decision::Decision;
use crate::ffi::{
    bytes, call, handle, handle_mut, into_handle, items, new_string, not_null, out_param,
    write_out, Failure, Span, Text,
};
use crate::panic::boundary;
use crate::status::Status;
use std::ffi::c_char;
use std::sync::Arc;
use tollgate_core::policy::CompiledPolicy;
use tollgate_core::Request;

/// A compiled policy and its current key snapshot.
///
/// Made by `tg_engine_new`, freed by `tg_engine_free`. Thread safety: an engine is shared by all
/// threads: any number of threads may call `tg_engine_check` on it at once, while another swaps
/// its snapshot (each check sees one whole snapshot, the old or the new). It must outlive every
/// call that uses it; free it once, after the last.
pub struct Engine {
    /// Shared, so that a Rust host holding the handle can keep the engine (the Python extension
    /// module in `ffi/python`): a snapshot swapped through the handle reaches it too.
    pub(crate) inner: Arc<tollgate_core::Engine>,
    /// The header names the policy forwards, each once, in `names`.
    forwarded: Vec<Span>,
    names: Text,
}

impl Engine {
    /// The core engine behind the handle, for Rust code that holds a `tg_engine *` made by this
    /// library (the Python extension module in `ffi/python`).
    pub fn core(&self) -> &Arc<tollgate_core::Engine> {
        &self.inner
    }
}

/// Key material built for one engine's policy (JSON keys, `jti` deny-list, user and API-key
/// records), validated and ready to swap in.
///
/// Made by `tg_snapshot_new`, moved into its engine by `tg_engine_swap_snapshot`, freed by
/// `tg_snapshot_free` (always, swapped or not). Used by one thread at a time.
pub struct Snapshot {
    /// The policy it was built for (to refuse another engine without spending the snapshot).
    policy: Arc<CompiledPolicy>,
    inner: Option<tollgate_core::Snapshot>,
}

/// One request header: name and value as pointer + length (not NUL-terminated; names are matched
/// case-insensitively). Also what `tg_decision_forward_header` writes, pointing into the decision.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Header {
    /// The name's bytes (may be NULL when `name_len` is 0).
    pub name: *const u8,
    /// The name's length in bytes.
    pub name_len: usize,
    /// The value's bytes (may be NULL when `value_len` is 0).
    pub value: *const u8,
    /// The value's length in bytes.
    pub value_len: usize,
}

/// Compiles a policy (JSON, see `docs/policy.md`) into an engine with an empty key snapshot (every
/// token then fails until a snapshot is swapped in).
///
/// `policy`/`policy_len`: the policy document (NULL allowed when the length is 0). On success
/// writes a new engine to `*engine_out` (free it with `tg_engine_free`). On failure returns the
/// reason (`TG_STATUS_INVALID_POLICY`, …) and, when `error_out` is not NULL, writes a message naming
/// the exact place to `*error_out` (free it with `tg_string_free`).
#[no_mangle]
pub extern "C" fn tg_engine_new(
    policy: *const u8,
    policy_len: usize,
    engine_out: *mut *mut Engine,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(engine_out)?;
        // SAFETY: the caller passes `policy_len` readable bytes at `policy` (or NULL and 0).
        let policy = unsafe { bytes(policy, policy_len) }?;
        let inner = tollgate_core::Engine::from_policy_json(policy)?;
        let mut names = Text::default();
        let forwarded = inner
            .policy()
            .forward
            .names()
            .into_iter()
            .map(|name| names.push_str(name))
            .collect();
        let engine = Engine {
            inner: Arc::new(inner),
            forwarded,
            names,
        };
        // SAFETY: `engine_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(engine_out, into_handle(engine)) };
        Ok(())
    })
}

/// How many header names the policy forwards (`forward_headers`), each counted once whatever
/// its case. 0 for a NULL engine.
///
/// A host that passes an allowed request on sets the decision's forwarded headers and removes
/// every other name counted here from the request: a decision sets only the headers it has
/// values for (no tenant on a route without one, no claim the token lacks), and what the client
/// sent under the others must not reach the upstream as if Tollgate had vouched for it.
#[no_mangle]
pub extern "C" fn tg_engine_forwarded_names_count(engine: *const Engine) -> usize {
    boundary(|| {
        // SAFETY: `engine` is NULL or a live engine (contract).
        unsafe { handle(engine) }.map_or(0, |e| e.forwarded.len())
    })
}

/// The forwarded header name at `index` (as the policy spells it; NUL-terminated, valid while
/// the engine lives), its length written to `*len_out` when that is not NULL. NULL when `index`
/// ≥ `tg_engine_forwarded_names_count` or the engine is NULL.
#[no_mangle]
pub extern "C" fn tg_engine_forwarded_name(
    engine: *const Engine,
    index: usize,
    len_out: *mut usize,
) -> *const c_char {
    boundary(|| {
        // SAFETY: `engine` is NULL or a live engine (contract).
        match unsafe { handle(engine) } {
            Ok(e) => e.names.get(e.forwarded.get(index).copied(), len_out),
            Err(_) => core::ptr::null(),
        }
    })
}

/// Frees an engine. NULL is a no-op. No other call may be using the engine, and it may not be
/// used afterwards; decisions made by it stay valid (they own their data).
#[no_mangle]
pub extern "C" fn tg_engine_free(engine: *mut Engine) {
    boundary(|| {
        // SAFETY: `engine` is NULL or a live engine from `tg_engine_new`, freed once, unused by
        // other threads (the documented contract).
        unsafe { crate::ffi::free_handle(engine) }
    })
}

/// Builds and validates a snapshot for `engine`'s policy from its JSON document (keys per
/// provider, `revoked_jti`, `users`, `api_keys`, `peppers`; see `core/src/snapshot.rs`).
///
/// This is the expensive part of a key rotation (keys are parsed and checked here); swapping it in
/// with `tg_engine_swap_snapshot` is then a pointer swap. On success writes a new snapshot to
/// `*snapshot_out` (free it with `tg_snapshot_free`). On failure returns the reason
/// (`TG_STATUS_INVALID_SNAPSHOT`, `TG_STATUS_WEAK_KEY`, …) and the optional message.
#[no_mangle]
pub extern "C" fn tg_snapshot_new(
    engine: *const Engine,
    snapshot: *const u8,
    snapshot_len: usize,
    snapshot_out: *mut *mut Snapshot,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[engine.cast::<u8>()])?;
        out_param(snapshot_out)?;
        // SAFETY: `engine` is a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: the caller passes `snapshot_len` readable bytes at `snapshot` (or NULL and 0).
        let document = unsafe { bytes(snapshot, snapshot_len) }?;
        let inner = engine.inner.snapshot_from_json(document)?;
        let made = into_handle(Snapshot {
            policy: engine.inner.policy().clone(),
            inner: Some(inner),
        });
        // SAFETY: `snapshot_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(snapshot_out, made) };
        Ok(())
    })
}

/// Frees a snapshot, swapped in or not. NULL is a no-op.
#[no_mangle]
pub extern "C" fn tg_snapshot_free(snapshot: *mut Snapshot) {
    boundary(|| {
        // SAFETY: `snapshot` is NULL or a live snapshot from `tg_snapshot_new`, freed once.
        unsafe { crate::ffi::free_handle(snapshot) }
    })
}

/// Swaps `snapshot` into `engine` atomically: checks already running finish on the old snapshot,
/// later ones see the new one. Safe while other threads check. A provider whose keys a refresher
/// swaps in (`tg_refresher_swap_into`) keeps them: the snapshot's keys for it are not used.
///
/// The snapshot's contents move into the engine: the handle stays valid (free it with
/// `tg_snapshot_free`) but is spent, and swapping it again fails with
/// `TG_STATUS_INVALID_SNAPSHOT`. A snapshot built for another engine fails the same way and is not
/// spent. To swap the same key material in again, build a new snapshot (or use
/// `tg_engine_swap_snapshot_json`).
#[no_mangle]
pub extern "C" fn tg_engine_swap_snapshot(
    engine: *const Engine,
    snapshot: *mut Snapshot,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[engine.cast::<u8>(), snapshot.cast_const().cast::<u8>()])?;
        // SAFETY: `engine` is a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: `snapshot` is a live snapshot used by this thread alone (contract).
        let snapshot = unsafe { handle_mut(snapshot) }?;
        if !Arc::ptr_eq(&snapshot.policy, engine.inner.policy()) {
            return Err(Failure::new(
                Status::InvalidSnapshot,
                "the snapshot was built for another engine's policy",
            ));
        }
        let inner = snapshot.inner.take().ok_or_else(|| {
            Failure::new(
                Status::InvalidSnapshot,
                "this snapshot was already swapped into an engine",
            )
        })?;
        engine.inner.swap_snapshot(inner)?;
        Ok(())
    })
}

/// Builds a snapshot from its JSON document and swaps it in, in one call (see `tg_snapshot_new`
/// and `tg_engine_swap_snapshot`). On failure the engine keeps its current snapshot.
#[no_mangle]
pub extern "C" fn tg_engine_swap_snapshot_json(
    engine: *const Engine,
    snapshot: *const u8,
    snapshot_len: usize,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[engine.cast::<u8>()])?;
        // SAFETY: `engine` is a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: the caller passes `snapshot_len` readable bytes at `snapshot` (or NULL and 0).
        let document = unsafe { bytes(snapshot, snapshot_len) }?;
        engine.inner.swap_snapshot_json(document)?;
        Ok(())
    })
}

/// Headers converted on the stack up to this many (more go to the heap; the engine refuses more
/// than 128 anyway).
const STACK_HEADERS: usize = 32;

/// The request a host handed over as pointer + length inputs, as `&str`s: `on` gets it, or the
/// reason (for a 400 `invalid_request` decision) it cannot be one: the method, then the path,
/// then a header that is not UTF-8. Up to `STACK_HEADERS` headers are held on the stack, so a
/// check allocates nothing here.
///
/// # Safety
///
/// `method`, `path` and `headers` (and each header's name and value) point to their lengths in
/// readable memory (or are NULL with length 0) for the duration of the call.
pub(crate) unsafe fn with_request<R>(
    method: (*const u8, usize),
    path: (*const u8, usize),
    headers: (*const Header, usize),
    on: impl FnOnce(Result<&Request<'_>, &'static str>) -> R,
) -> Result<R, Failure> {
    // SAFETY: forwarded contract for every pointer below.
    let (method, path, headers) = unsafe {
        (
            bytes(method.0, method.1)?,
            bytes(path.0, path.1)?,
            items(headers.0, headers.1)?,
        )
    };
    let mut stack = [("", ""); STACK_HEADERS];
    let mut heap = Vec::new();
    let pairs: &mut [(&str, &str)] = match stack.get_mut(..headers.len()) {
        Some(s) => s,
        None => {
            heap.resize(headers.len(), ("", ""));
            &mut heap
        }
    };
    let mut headers_utf8 = true;
    for (slot, h) in pairs.iter_mut().zip(headers) {
        // SAFETY: forwarded contract: each header's name and value are readable for their lengths.
        let (name, value) = unsafe { (bytes(h.name, h.name_len)?, bytes(h.value, h.value_len)?) };
        match (core::str::from_utf8(name), core::str::from_utf8(value)) {
            (Ok(n), Ok(v)) => *slot = (n, v),
            _ => headers_utf8 = false,
        }
    }
    let parts = Request::parts_from_utf8(
        core::str::from_utf8(method),
        core::str::from_utf8(path),
        headers_utf8,
    );
    Ok(match parts {
        Ok((method, path)) => on(Ok(&Request::new(method, path, pairs))),
        Err(reason) => on(Err(reason)),
    })
}

/// Runs one check into `decision`: the shared body of `tg_engine_check` and `tg_engine_check_into`
/// (a request that is not UTF-8 decides 400 `invalid_request`).
///
/// # Safety
///
/// As [`with_request`].
unsafe fn check_into(
    engine: &Engine,
    method: *const u8,
    method_len: usize,
    path: *const u8,
    path_len: usize,
    headers: *const Header,
    headers_len: usize,
    now: u64,
    decision: &mut Decision,
) -> Result<(), Failure> {
    // SAFETY: forwarded contract.
    unsafe {
        with_request(
            (method, method_len),
            (path, path_len),
            (headers, headers_len),
            |request| match request {
                Ok(request) => decision.check(&engine.inner, request, now),
                Err(reason) => decision.invalid_request(reason),
            },
        )
    }
}

/// Decides a request at time `now` (Unix seconds): who is calling, for which tenant, and which
/// HTTP status to answer (see the README's order of checks).
///
/// `method` (uppercase, e.g. `GET`), `path` (optionally with a query string) and each header's
/// name and value are pointer + length; `headers` is an array of `headers_len` `tg_header`s (NULL
/// when `headers_len` is 0). Nothing is kept after the call returns.
///
/// Returns `TG_STATUS_OK` whenever a decision was made, whatever it says: read it with the
/// `tg_decision_*` getters (200 lets the request through). A method, path or header that is not
/// UTF-8 gets a decision too: 400 `invalid_request`, as any unusable request does. Other statuses
/// (`TG_STATUS_NULL_PARAMETER`, `TG_STATUS_PANIC`) mean no decision was written.
///
/// On success writes a new decision to `*decision_out`, owned by the caller (free it with
/// `tg_decision_free`, or reuse it with `tg_engine_check_into`). Thread safety: any number of
/// threads may check with one engine at once.
#[no_mangle]
pub extern "C" fn tg_engine_check(
    engine: *const Engine,
    method: *const u8,
    method_len: usize,
    path: *const u8,
    path_len: usize,
    headers: *const Header,
    headers_len: usize,
    now: u64,
    decision_out: *mut *mut Decision,
) -> Status {
    call(core::ptr::null_mut(), || {
        not_null(&[engine.cast::<u8>()])?;
        out_param(decision_out)?;
        // SAFETY: `engine` is a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        let mut decision = Decision::default();
        // SAFETY: the caller passes the documented pointer + length inputs.
        unsafe {
            check_into(
                engine,
                method,
                method_len,
                path,
                path_len,
                headers,
                headers_len,
                now,
                &mut decision,
            )
        }?;
        // SAFETY: `decision_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(decision_out, into_handle(decision)) };
        Ok(())
    })
}

/// `tg_engine_check`, overwriting an existing decision instead of making a new one: a thread
/// that reuses one decision keeps its buffers warm, so a steady stream of checks allocates
/// (almost) nothing. Every pointer earlier read from `decision` becomes invalid.
///
/// `decision` comes from `tg_engine_check` or `tg_decision_new` (any engine's), is used by this
/// thread alone, and stays owned by the caller. On a status other than `TG_STATUS_OK` (an argument
/// refused, a panic) it is emptied as `tg_decision_new` makes it: status 0, reason
/// `internal_error`, no principal. It never keeps the previous check's verdict.
#[no_mangle]
pub extern "C" fn tg_engine_check_into(
    engine: *const Engine,
    method: *const u8,
    method_len: usize,
    path: *const u8,
    path_len: usize,
    headers: *const Header,
    headers_len: usize,
    now: u64,
    decision: *mut Decision,
) -> Status {
    call(core::ptr::null_mut(), || {
        not_null(&[decision.cast_const().cast::<u8>()])?;
        // SAFETY: `decision` is a live decision used by this thread alone (contract).
        let decision = unsafe { handle_mut(decision) }?;
        let mut out = EmptyOnFailure {
            decision,
            done: false,
        };
        not_null(&[engine.cast::<u8>()])?;
        // SAFETY: `engine` is a live engine (contract); checked non-NULL above.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let result = unsafe {
            check_into(
                engine,
                method,
                method_len,
                path,
                path_len,
                headers,
                headers_len,
                now,
                out.decision,
            )
        };
        out.done = result.is_ok();
        result
    })
}

/// Empties a reused decision when dropped before its check is done: on an argument refused, and
/// while a panic unwinds through the call. A host that reads it without looking at the status
/// must not find the previous caller's 200 there.
struct EmptyOnFailure<'a> {
    decision: &'a mut Decision,
    done: bool,
}

impl Drop for EmptyOnFailure<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.decision.empty();
        }
    }
}

/// Re-issues the token behind an allowed decision: the same claims with `iat = now` and
/// `exp = now + reissue_ttl`, signed with the first key of the provider's current key set
/// (for deployments where a valid token may mint a new one, like the tenant-path example). The
/// new token keeps the old one's `jti`, so revoking it revokes both.
///
/// On success writes the new token to `*token_out` (free it with `tg_string_free`). Fails with
/// `TG_STATUS_SIGNING_FAILED` when the decision is not an allowed, authenticated one made by this
/// engine, or its provider does not re-issue.
#[no_mangle]
pub extern "C" fn tg_engine_reissue(
    engine: *const Engine,
    decision: *const Decision,
    now: u64,
    token_out: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[engine.cast::<u8>(), decision.cast::<u8>()])?;
        out_param(token_out)?;
        // SAFETY: live handles (contract); checked non-NULL above.
        let (engine, decision) = unsafe { (handle(engine)?, handle(decision)?) };
        if !decision.made_by(&engine.inner) {
            return Err(Failure::new(
                Status::SigningFailed,
                "the decision was made by another engine",
            ));
        }
        let token = engine.inner.reissue(decision.inner(), now)?;
        // SAFETY: `token_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(token_out, new_string(token)) };
        Ok(())
    })
}
