//! Failures as JS values: every failure is thrown as an `Error` whose `code` is the stable
//! `ErrorCode` name (`"expired"`, `"invalid_policy"`, …), with its `number` and HTTP `status`,
//! so JS can branch on `err.code` and never has to parse a message.

use js_sys::Reflect;
use tollgate::{Error, ErrorCode};
use wasm_bindgen::prelude::*;

/// A JS `Error` with `message`, and `code`, `number` and `status` from `code`.
pub fn js_error(code: ErrorCode, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    // Setting a property on a fresh Error cannot fail; if it did, the Error still carries the
    // message.
    let _ = Reflect::set(&error, &"code".into(), &code.name().into());
    let _ = Reflect::set(&error, &"number".into(), &code.number().into());
    let _ = Reflect::set(&error, &"status".into(), &code.http_status().into());
    error.into()
}

/// A core error as a JS `Error` (its message and code; for `unknown_kid`, also the `kid`, which
/// a host hands to its key source's `onUnknownKid`).
pub fn from_core(error: &Error) -> JsValue {
    let value = js_error(error.code(), &error.to_string());
    if let Some(kid) = error.refresh_hint() {
        let _ = Reflect::set(&value, &"kid".into(), &kid.into());
    }
    value
}

/// Runs an exported function's body behind the panic boundary: a panic becomes a thrown `Error`
/// with code `internal_error` instead of unwinding into JS. (Effective wherever Rust unwinds:
/// host builds and tests. `wasm32-unknown-unknown` on stable Rust aborts instead; the package's
/// JS entry point turns that abort into the same `internal_error`.)
pub fn guard<T>(body: impl FnOnce() -> Result<T, JsValue>) -> Result<T, JsValue> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|_| {
        Err(js_error(
            ErrorCode::Internal,
            "internal error: a panic was caught at the WebAssembly boundary (a bug in Tollgate)",
        ))
    })
}

/// Parses JSON text the core produced into a JS value.
pub fn parse_json(text: &str) -> Result<JsValue, JsValue> {
    js_sys::JSON::parse(text).map_err(|_| {
        js_error(
            ErrorCode::Internal,
            "internal error: the core produced JSON that JS cannot parse",
        )
    })
}
