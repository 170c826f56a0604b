//! `tg_decision`: the answer to one request, and its getters.
//!
//! String getters return `const char *` pointers into the decision: NUL-terminated UTF-8, valid
//! until the decision is freed or checked into again, NULL when the value is absent. When
//! `len_out` is not NULL it receives the length in bytes (without the NUL); use it, because a
//! subject read from token claims may itself contain a NUL.

use crate::engine::Header;
use crate::ffi::{
    call, handle, into_handle, new_string, out_param, write_out, Failure, Span, Text,
};
use crate::panic::boundary;
use crate::status::Status;
use std::ffi::c_char;
use std::sync::Arc;
use tollgate_core::policy::CompiledPolicy;
use tollgate_core::{Engine, Request};

/// The decision on one request: HTTP status, reason, principal, challenge, headers to forward.
///
/// Made by `tg_engine_check` (or `tg_decision_new`), owned by the caller, freed by
/// `tg_decision_free`. It owns all its data: it stays valid after its engine is freed. Thread
/// safety: owned by one thread at a time; reading it from several threads at once is safe while
/// nobody checks into it or frees it.
#[derive(Debug, Default)]
pub struct Decision {
    inner: tollgate_core::Decision,
    /// The policy of the engine that made it (kept across checks; replaced only when another
    /// engine checks into it), so that only that engine re-issues its token.
    policy: Option<Arc<CompiledPolicy>>,
    text: Text,
    reason: Span,
    message: Span,
    route: Option<Span>,
    subject: Option<Span>,
    kind: Option<Span>,
    provider: Option<Span>,
    tenant: Option<Span>,
    claims: Option<Span>,
    www_authenticate: Option<Span>,
    correlation_id: Option<Span>,
    refresh_provider: Option<Span>,
    refresh_kid: Option<Span>,
    expires_at: Option<f64>,
    roles: Vec<Span>,
    permissions: Vec<Span>,
    forward_headers: Vec<(Span, Span)>,
}

impl Decision {
    /// Decides `request` into this decision, reusing its buffers.
    pub(crate) fn check(&mut self, engine: &Engine, request: &Request<'_>, now: u64) {
        if !self.made_by(engine) {
            self.policy = Some(engine.policy().clone());
        }
        engine.check_into(request, now, &mut self.inner);
        self.fill();
    }

    /// Whether `engine` made this decision.
    pub(crate) fn made_by(&self, engine: &Engine) -> bool {
        self.policy
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, engine.policy()))
    }

    /// A decision `engine` made outside this handle (a step of a check on a shared store).
    pub(crate) fn from_core(engine: &Engine, decision: tollgate_core::Decision) -> Decision {
        let mut d = Decision {
            policy: Some(engine.policy().clone()),
            ..Decision::default()
        };
        d.inner = decision;
        d.fill();
        d
    }

    /// A 400 `invalid_request` decision for a request the engine cannot even read.
    pub(crate) fn invalid_request(&mut self, reason: &str) {
        self.inner = tollgate_core::Decision::invalid_request(reason);
        self.fill();
    }

    /// Empties the decision: status 0, reason `internal_error`, no principal. A call that fails
    /// leaves a reused decision so, never with the previous check's verdict.
    pub(crate) fn empty(&mut self) {
        self.inner = tollgate_core::Decision::default();
        self.fill();
    }

    /// The core decision.
    pub(crate) fn inner(&self) -> &tollgate_core::Decision {
        &self.inner
    }

    /// Copies every string the getters hand out into the text arena, NUL-terminated.
    fn fill(&mut self) {
        let d = &self.inner;
        let t = &mut self.text;
        t.clear();
        self.roles.clear();
        self.permissions.clear();
        self.forward_headers.clear();
        self.reason = t.push_str(d.code.name());
        self.message = t.push_str(&d.message);
        self.route = d.route.as_deref().map(|s| t.push_str(s));
        self.www_authenticate = d.www_authenticate.as_deref().map(|s| t.push_str(s));
        self.correlation_id = d.correlation_id.as_deref().map(|s| t.push_str(s));
        self.refresh_provider = d.refresh_hint.as_ref().map(|h| t.push_str(&h.provider));
        self.refresh_kid = d.refresh_hint.as_ref().map(|h| t.push_str(&h.kid));
        for (name, value) in &d.forward_headers {
            let pair = (t.push_str(name), t.push_str(value));
            self.forward_headers.push(pair);
        }
        match &d.principal {
            Some(p) => {
                self.subject = Some(t.push_str(&p.subject));
                self.kind = Some(t.push_str(p.kind.name()));
                self.provider = Some(t.push_str(p.provider()));
                self.tenant = p.tenant.as_deref().map(|s| t.push_str(s));
                self.claims = Some(t.push_str(&p.claims));
                self.expires_at = p.expires_at;
                for role in p.roles() {
                    self.roles.push(t.push_str(role));
                }
                for permission in p.permissions() {
                    self.permissions.push(t.push_str(permission));
                }
            }
            None => {
                self.subject = None;
                self.kind = None;
                self.provider = None;
                self.tenant = None;
                self.claims = None;
                self.expires_at = None;
            }
        }
    }
}

/// Reads a string field of a decision: NULL for a NULL decision or an absent value.
fn string_field(
    decision: *const Decision,
    len_out: *mut usize,
    pick: impl FnOnce(&Decision) -> Option<Span>,
) -> *const c_char {
    boundary(|| {
        // SAFETY: `decision` is NULL or a live decision not being written (contract).
        match unsafe { handle(decision) } {
            Ok(d) => d.text.get(pick(d), len_out),
            Err(_) => core::ptr::null(),
        }
    })
}

/// Reads a non-string field of a decision: `none` for a NULL decision.
fn field<R: crate::panic::OnPanic>(
    decision: *const Decision,
    none: R,
    pick: impl FnOnce(&Decision) -> R,
) -> R {
    boundary(|| {
        // SAFETY: `decision` is NULL or a live decision not being written (contract).
        match unsafe { handle(decision) } {
            Ok(d) => pick(d),
            Err(_) => none,
        }
    })
}

/// Makes an empty decision (status 0, reason `internal_error`) to pass to `tg_engine_check_into`.
/// On success writes it to `*decision_out`; free it with `tg_decision_free`.
#[no_mangle]
pub extern "C" fn tg_decision_new(decision_out: *mut *mut Decision) -> Status {
    call(core::ptr::null_mut(), || {
        out_param(decision_out)?;
        let mut d = Decision::default();
        d.empty();
        // SAFETY: `decision_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(decision_out, into_handle(d)) };
        Ok(())
    })
}

/// Frees a decision. NULL is a no-op. Every pointer read from it becomes invalid.
#[no_mangle]
pub extern "C" fn tg_decision_free(decision: *mut Decision) {
    boundary(|| {
        // SAFETY: `decision` is NULL or a live decision, freed once, used by no other thread.
        unsafe { crate::ffi::free_handle(decision) }
    })
}

/// The HTTP status to answer with: 200 lets the request through; 400, 401, 403 or 404 refuse it.
/// 0 for a NULL decision (or a fresh one from `tg_decision_new`).
#[no_mangle]
pub extern "C" fn tg_decision_status(decision: *const Decision) -> u16 {
    field(decision, 0, |d| d.inner.status)
}

/// The reason as its stable number: 0 (`TG_STATUS_OK`) when allowed, otherwise one of the
/// `TG_STATUS_*` error numbers below 2000 (e.g. `TG_STATUS_EXPIRED`). `TG_STATUS_NULL_PARAMETER`
/// for a NULL decision.
#[no_mangle]
pub extern "C" fn tg_decision_reason(decision: *const Decision) -> u32 {
    let reason = boundary(|| {
        // SAFETY: `decision` is NULL or a live decision not being written (contract).
        let number = match unsafe { handle(decision) } {
            Ok(d) => d.inner.code.number(),
            Err(_) => Status::NullParameter.number(),
        };
        Some(number)
    });
    // A caught panic must not read as 0 (`ok`).
    reason.unwrap_or(Status::Panic.number())
}

/// The reason's stable name (`ok`, `expired`, `not_found`, …).
#[no_mangle]
pub extern "C" fn tg_decision_reason_name(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| Some(d.reason))
}

/// A human-readable reason for logs (`allowed` when allowed; never holds secrets).
#[no_mangle]
pub extern "C" fn tg_decision_message(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| Some(d.message))
}

/// The path template of the matched route (`/api/tenants/{tenant_id}/items`); NULL when no
/// route matched.
#[no_mangle]
pub extern "C" fn tg_decision_route(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.route)
}

/// The principal's subject; NULL when the decision has no principal (no credential, or a refusal
/// before authentication). A refusal after authentication (403, or 404 for a hidden tenant) keeps
/// the principal.
#[no_mangle]
pub extern "C" fn tg_decision_subject(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.subject)
}

/// The principal's kind: `user`, `service_account` or `personal_access_token`; NULL without a
/// principal.
#[no_mangle]
pub extern "C" fn tg_decision_kind(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.kind)
}

/// The name of the policy provider that vouched for the principal; NULL without a principal.
#[no_mangle]
pub extern "C" fn tg_decision_provider(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.provider)
}

/// The request's tenant, for tenant-scoped routes; NULL otherwise or without a principal.
#[no_mangle]
pub extern "C" fn tg_decision_tenant(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.tenant)
}

/// How many effective roles the principal holds (the closure over the role hierarchy); 0 without
/// a principal.
#[no_mangle]
pub extern "C" fn tg_decision_roles_count(decision: *const Decision) -> usize {
    field(decision, 0, |d| d.roles.len())
}

/// The effective role at `index` (0 ≤ index < `tg_decision_roles_count`), in policy order; NULL
/// when out of range.
#[no_mangle]
pub extern "C" fn tg_decision_role(
    decision: *const Decision,
    index: usize,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.roles.get(index).copied())
}

/// How many effective permissions the principal holds (from its roles and scopes); 0 without a
/// principal.
#[no_mangle]
pub extern "C" fn tg_decision_permissions_count(decision: *const Decision) -> usize {
    field(decision, 0, |d| d.permissions.len())
}

/// The effective permission at `index` (0 ≤ index < `tg_decision_permissions_count`), in policy
/// order; NULL when out of range.
#[no_mangle]
pub extern "C" fn tg_decision_permission(
    decision: *const Decision,
    index: usize,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.permissions.get(index).copied())
}

/// Whether the principal holds `permission` (pointer + length). False without a principal, for a
/// permission the policy does not name, or for NULL arguments.
#[no_mangle]
pub extern "C" fn tg_decision_has_permission(
    decision: *const Decision,
    permission: *const u8,
    permission_len: usize,
) -> bool {
    field(decision, false, |d| {
        // SAFETY: the caller passes `permission_len` readable bytes at `permission`.
        let Ok(name) = (unsafe { crate::ffi::text(permission, permission_len, "permission") })
        else {
            return false;
        };
        d.inner
            .principal
            .as_ref()
            .is_some_and(|p| p.has_permission(name))
    })
}

/// The credential's expiry (`exp`, Unix seconds, possibly fractional). Returns true and writes
/// `*expires_at_out` when the principal has one; false (writing nothing) otherwise.
#[no_mangle]
pub extern "C" fn tg_decision_expires_at(
    decision: *const Decision,
    expires_at_out: *mut f64,
) -> bool {
    field(decision, false, |d| match d.expires_at {
        Some(exp) if !expires_at_out.is_null() => {
            // SAFETY: non-NULL; the caller provides a writable `double`.
            unsafe { write_out(expires_at_out, exp) };
            true
        }
        _ => false,
    })
}

/// The verified claims as JSON text (for an API key: its record without the hash); NULL without
/// a principal.
#[no_mangle]
pub extern "C" fn tg_decision_claims_json(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.claims)
}

/// The `WWW-Authenticate` value to send with a 401 or 403 (RFC 6750); NULL when there is none.
#[no_mangle]
pub extern "C" fn tg_decision_www_authenticate(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.www_authenticate)
}

/// How many headers the policy asks the gateway to forward upstream (only when allowed).
#[no_mangle]
pub extern "C" fn tg_decision_forward_headers_count(decision: *const Decision) -> usize {
    field(decision, 0, |d| d.forward_headers.len())
}

/// Writes the forwarded header at `index` to `*header_out`: its name and value point into the
/// decision (NUL-terminated too; valid until the decision is freed or checked into again).
/// `TG_STATUS_OUT_OF_RANGE` when `index` ≥ `tg_decision_forward_headers_count`.
#[no_mangle]
pub extern "C" fn tg_decision_forward_header(
    decision: *const Decision,
    index: usize,
    header_out: *mut Header,
) -> Status {
    call(core::ptr::null_mut(), || {
        out_param(header_out)?;
        // SAFETY: `decision` is NULL or a live decision not being written (contract).
        let d = unsafe { handle(decision) }?;
        let (name, value) =
            d.forward_headers.get(index).copied().ok_or_else(|| {
                Failure::new(Status::OutOfRange, "no forwarded header at this index")
            })?;
        let (mut name_len, mut value_len) = (0usize, 0usize);
        let header = Header {
            name: d.text.get(Some(name), &mut name_len).cast(),
            name_len,
            value: d.text.get(Some(value), &mut value_len).cast(),
            value_len,
        };
        // SAFETY: `header_out` was checked non-NULL; the caller provides a writable `tg_header`.
        unsafe { write_out(header_out, header) };
        Ok(())
    })
}

/// The request's correlation id, echoed (when the policy names a correlation header and the
/// request carried a well-formed one); NULL otherwise.
#[no_mangle]
pub extern "C" fn tg_decision_correlation_id(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.correlation_id)
}

/// Key-refresh hint: the provider whose key set lacks the token's `kid` (`unknown_kid`). The host
/// may refetch that provider's keys (rate-limited on its side), swap a new snapshot and retry.
/// NULL when there is no hint.
#[no_mangle]
pub extern "C" fn tg_decision_refresh_provider(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.refresh_provider)
}

/// Key-refresh hint: the `kid` the token named; NULL when there is no hint.
#[no_mangle]
pub extern "C" fn tg_decision_refresh_kid(
    decision: *const Decision,
    len_out: *mut usize,
) -> *const c_char {
    string_field(decision, len_out, |d| d.refresh_kid)
}

/// The whole decision as JSON (the CLI's and every binding's shared shape: `status`, `reason`,
/// `code`, `message`, `route`, `principal`, `www_authenticate`, `forward_headers`,
/// `correlation_id`, `refresh_hint`). On success writes a new string to `*json_out`; free it with
/// `tg_string_free`.
#[no_mangle]
pub extern "C" fn tg_decision_to_json(
    decision: *const Decision,
    json_out: *mut *mut c_char,
) -> Status {
    call(core::ptr::null_mut(), || {
        out_param(json_out)?;
        // SAFETY: `decision` is NULL or a live decision not being written (contract).
        let d = unsafe { handle(decision) }?;
        let json = d.inner.to_json().to_string();
        // SAFETY: `json_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(json_out, new_string(json)) };
        Ok(())
    })
}
