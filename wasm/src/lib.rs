//! Tollgate for JavaScript: the policy engine and the JWT verifier as WebAssembly, built with
//! wasm-bindgen for Node (`pkg/node`) and for edge runtimes and Deno (`pkg/web`).
//!
//! One module per JS concept: [`engine`] (`Engine`: `fromPolicy`, `swapKeys`, `check`,
//! `swapProviderKeys`, and `checkAsync`'s first half), [`verifier`] (`Verifier`, `verify`, and
//! `verifyAsync`'s first half), [`pending`] (`checkStep`, `Pending`, `resume`: checks that wait
//! on a shared store), [`refresher`] (`Refresher`, the JWKS refresher a host drives with `fetch`, and OpenID
//! discovery; `js/keysource.js` builds the package's `KeySource` on it), [`request`] (how a JS
//! request object is read), [`error`] (the `Error` every failure throws, with its stable `code`),
//! [`webcrypto`] (the asynchronous paths' signature check on the runtime's `crypto.subtle`: the
//! first halves stop at a `SignatureWait`, and `js/webcrypto.js` awaits WebCrypto and finishes).
//!
//! The core does the work and no IO; this layer only converts values, reads the clock when the
//! caller gives no `now`, and hands public-key signatures to WebCrypto on the async paths. Both
//! paths run the core's one order of checks; see [`tollgate::Engine::check_with`].
//!
//! Every exported function runs inside [`error::guard`] (but for getters that only read a field
//! and cannot fail): a failure is a thrown `Error` with a `code`, never a panic. (On `wasm32-unknown-unknown`, stable Rust's `std` aborts on panic, so
//! the guard's `catch_unwind` takes effect on host builds; on wasm the JS entry point turns an
//! abort into an `internal_error` and refuses further calls into the aborted instance. No Rust
//! code runs outside such a call: the asynchronous paths wait in JS, between two guarded
//! synchronous calls, so no future is polled from a microtask the entry point cannot see. The code
//! itself is written not to panic: `unwrap`, `expect`, indexing and `panic!` are denied.)
//!
//! Cargo feature `fault-injection` (tests only, never in `pkg/node` or `pkg/web`): forwards the
//! core's feature of that name, under which a check of the method `TOLLGATE-FAULT-INJECTION`
//! panics inside the engine, and adds `armFinishFault()`, after which the next second half of an
//! asynchronous path panics. `build.sh --faults` builds it into `pkg-faults/node` for
//! `test/panic.test.mjs`.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod engine;
pub mod error;
pub mod pending;
pub mod refresher;
pub mod request;
pub mod verifier;
pub mod webcrypto;

mod types;

use wasm_bindgen::prelude::*;

/// The library version (the `tollgate` crate's).
#[wasm_bindgen]
pub fn version() -> Result<String, JsValue> {
    error::guard(|| Ok(tollgate::VERSION.to_owned()))
}

/// Every error code: its stable `name` (the `code` of a thrown `Error` and a decision's
/// `reason`), `number` and HTTP `status`, and a one-line `summary`.
#[wasm_bindgen(js_name = errorCodes, unchecked_return_type = "ErrorCodeInfo[]")]
pub fn error_codes() -> Result<JsValue, JsValue> {
    error::guard(|| {
        let list: Vec<serde_json::Value> = tollgate::ErrorCode::ALL
            .iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name(),
                    "number": c.number(),
                    "status": c.http_status(),
                    "summary": c.summary(),
                })
            })
            .collect();
        error::parse_json(&serde_json::Value::Array(list).to_string())
    })
}
