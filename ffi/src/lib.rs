//! Tollgate's C ABI: `libtollgate.so`, `libtollgate.a` and `include/tollgate.h` (generated from
//! this crate by cbindgen; the conventions below are repeated at the top of the header).
//!
//! - Names are `tg_<object>_<verb>`; types are `tg_<object>`.
//! - Every function body runs inside one panic boundary (`panic::boundary`): a panic never
//!   unwinds into C; it becomes `TG_STATUS_PANIC` (or NULL / 0 / false from a getter).
//! - Fallible functions return a [`status::Status`] (`tg_status`), whose numbers are the core's
//!   `ErrorCode` numbers plus the ABI's own codes from 2000. There is no thread-local "last
//!   error": where a message helps, an optional `char **error_out` receives it.
//! - Inputs are pointer + length; NULL is allowed only with length 0. Text inputs must be UTF-8.
//!   Required pointers are checked first (`TG_STATUS_NULL_PARAMETER`).
//! - Outputs come last and are written only on success (`error_out` only on failure), except
//!   where a function says otherwise (`tg_engine_check_into` empties its reused decision on a
//!   failure; `tg_engine_resume` clears `*pending_out` first).
//! - Handles are opaque and owned by the caller; every one has a NULL-safe `_free`.
//! - Strings a function makes are `char *` the caller frees with `tg_string_free`; strings a getter
//!   returns are `const char *` borrowed from the handle.
//!
//! `unsafe` is confined to this crate; every block states why it is sound, relying on the
//! documented pointer contract of the function it is in.
//!
//! Cargo feature `fault-injection` (tests only, never in a shipped library): forwards the core's
//! feature of that name, under which `tg_engine_check` of the method `TOLLGATE-FAULT-INJECTION`
//! panics inside the engine; `tests/c/panic.c` shows the panic comes back as `TG_STATUS_PANIC`
//! and the engine keeps working.

// The `extern "C"` functions take raw pointers from C and dereference them under the contract
// their documentation states (the header's conventions): C has no notion of Rust's `unsafe fn`,
// and the rlib is not meant to be called from Rust.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
// C functions take the arguments C needs: one pointer + length pair per input.
#![allow(clippy::too_many_arguments)]

pub mod apikey;
pub mod decision;
pub mod engine;
mod ffi;
mod panic;
pub mod pending;
pub mod refresh;
pub mod status;
pub mod verifier;
pub mod webhook;

use crate::panic::boundary;
use crate::status::Status;
use std::ffi::{c_char, CString};

/// The library version (`0.1.0`), NUL-terminated and static.
#[no_mangle]
pub extern "C" fn tg_version() -> *const c_char {
    boundary(|| {
        const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
            concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
        ) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
        VERSION.as_ptr()
    })
}

/// The signature backends compiled into the library, comma-separated, the one it prefers first:
/// `ring`, or `aws-lc,ring` in a library built with the `aws-lc` feature. Every key the library
/// reads is prepared for the preferred backend, unless a verifier's `"backend"` option names the
/// other. NUL-terminated and static.
#[no_mangle]
pub extern "C" fn tg_backends() -> *const c_char {
    boundary(|| match tollgate_core::crypto::Backend::preferred() {
        tollgate_core::crypto::Backend::AwsLc => c"aws-lc,ring".as_ptr(),
        tollgate_core::crypto::Backend::Ring => c"ring".as_ptr(),
    })
}

/// The stable `snake_case` name of a status or decision reason (`ok`, `expired`,
/// `null_parameter`, …); `unknown` for a number no status has. Static: never free it.
#[no_mangle]
pub extern "C" fn tg_error_name(status: u32) -> *const c_char {
    boundary(|| match Status::from_number(status) {
        Some(s) => s.name().as_ptr(),
        None => c"unknown".as_ptr(),
    })
}

/// A one-line description of a status (`token has expired`); `unknown status` for a number no
/// status has. Static: never free it.
#[no_mangle]
pub extern "C" fn tg_error_message(status: u32) -> *const c_char {
    boundary(|| match Status::from_number(status) {
        Some(s) => s.summary().as_ptr(),
        None => c"unknown status".as_ptr(),
    })
}

/// The HTTP status that goes with a status (`TG_STATUS_EXPIRED` → 401, `TG_STATUS_OK` → 200; the
/// ABI's own codes → 500); 0 for a number no status has.
#[no_mangle]
pub extern "C" fn tg_error_http_status(status: u32) -> u16 {
    boundary(|| Status::from_number(status).map_or(0, Status::http_status))
}

/// Frees a string this library made (every `char *` written to a `*_out` parameter). NULL is a
/// no-op. Never pass a `const char *` from a getter.
#[no_mangle]
pub extern "C" fn tg_string_free(string: *mut c_char) {
    boundary(|| {
        if !string.is_null() {
            // SAFETY: by contract `string` was made by `CString::into_raw` in this library (it
            // holds no interior NUL, so the length `from_raw` recomputes is exact) and is freed
            // once.
            drop(unsafe { CString::from_raw(string) });
        }
    })
}

#[cfg(test)]
mod tests;
