//! Checks that wait on a shared store: `Engine.checkStep`, `Pending`, `Engine.resume`, and
//! `recordsFromSnapshot`. The store is the host's: the package's `checkWithStore`
//! (`js/store.js`) drives these with any object whose `get(key)` resolves to the stored text (or
//! `null`), and `RedisStore` (Node) is one.
//!
//! ```js
//! let step = engine.checkStep(request, now);
//! while (step instanceof Pending) {
//!   const record = await redis.get(step.storeKey);     // your client; null when absent
//!   step = engine.resume(step, record, now);             // or engine.resumeUnavailable(step, now)
//! }
//! const decision = step;
//! ```

use crate::engine::{decision_js, Engine};
use crate::error::{from_core, guard, js_error, parse_json};
use crate::request::{
    document, now_arg, now_secs, over_limit_prefix, snapshot_document, OwnedRequest,
};
use js_sys::Uint8Array;
use tollgate::pending::Step;
use tollgate::ErrorCode;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A check waiting for one record from the shared store: read `storeKey` from the store, then
/// `engine.resume(pending, record)`. Resuming uses it up: a second resume throws
/// `invalid_request`.
#[wasm_bindgen]
pub struct Pending {
    inner: Option<tollgate::Pending>,
    key: String,
}

#[wasm_bindgen]
impl Pending {
    /// The store key to read: `tollgate:<kind>:<64 hex digits>` (the hash of what the caller
    /// presented, never the secret).
    #[wasm_bindgen(getter, js_name = storeKey)]
    pub fn store_key(&self) -> String {
        self.key.clone()
    }

    /// How many records this check has been given so far.
    #[wasm_bindgen(getter)]
    pub fn steps(&self) -> usize {
        self.inner.as_ref().map_or(0, tollgate::Pending::steps)
    }
}

/// A step's outcome as JS: the decision object, or a `Pending`.
fn step_js(step: Step) -> Result<JsValue, JsValue> {
    match step {
        Step::Decided(d) => decision_js(&d),
        Step::Pending(p) => {
            let key = p.lookup().store_key();
            Ok(Pending {
                inner: Some(p),
                key,
            }
            .into())
        }
    }
}

fn take(pending: &mut Pending) -> Result<tollgate::Pending, JsValue> {
    pending.inner.take().ok_or_else(|| {
        js_error(
            ErrorCode::InvalidRequest,
            "this pending check was already resumed",
        )
    })
}

#[wasm_bindgen]
impl Engine {
    /// Decides a request like `check`, or stops at the first record it needs from the shared
    /// store (a policy whose providers say `"records": "store"`): returns the decision, or a
    /// `Pending` whose `storeKey` to read.
    #[wasm_bindgen(js_name = checkStep, unchecked_return_type = "Decision | Pending")]
    pub fn check_step(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CheckRequest")] request: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        guard(|| {
            let request = OwnedRequest::from_js(&request)?;
            let now = now_secs(now_arg(&now)?)?;
            step_js(request.with(|r| self.core().check_step(r, now)))
        })
    }

    /// Goes on with `pending` given what the store holds under its `storeKey`: the record (text
    /// or UTF-8 bytes), or `null`/`undefined` when there is none. Returns the decision or the next
    /// `Pending`. A record that is not valid for its key decides 500 `invalid_record`.
    #[wasm_bindgen(unchecked_return_type = "Decision | Pending")]
    pub fn resume(
        &self,
        pending: &mut Pending,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | null | undefined")]
        record: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        guard(|| {
            let now = now_secs(now_arg(&now)?)?;
            let bytes = if record.is_null() || record.is_undefined() {
                None
            } else if let Some(prefix) =
                over_limit_prefix(&record, tollgate::record::MAX_RECORD_BYTES)
            {
                Some(prefix)
            } else if let Some(text) = record.as_string() {
                Some(text.into_bytes())
            } else if let Some(bytes) = record.dyn_ref::<Uint8Array>() {
                Some(bytes.to_vec())
            } else {
                return Err(js_error(
                    ErrorCode::InvalidRequest,
                    "a record is a string, a Uint8Array, or null when the store has none",
                ));
            };
            let p = take(pending)?;
            step_js(self.core().resume(p, bytes.as_deref(), now))
        })
    }

    /// Decides `pending` when the store did not answer: 503 `store_unavailable`, unless the
    /// policy's `store.grace` lets cached records that exist stand in.
    #[wasm_bindgen(js_name = resumeUnavailable, unchecked_return_type = "Decision")]
    pub fn resume_unavailable(
        &self,
        pending: &mut Pending,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        guard(|| {
            let now = now_secs(now_arg(&now)?)?;
            let p = take(pending)?;
            decision_js(&self.core().resume_unavailable(p, now))
        })
    }

    /// Drops the cached copy of the record a store key names (`tollgate:<kind>:<hash>`), or of
    /// every record for `*`: call it with each message of the store's `tollgate:invalidate`
    /// channel. Throws `invalid_request` for anything else.
    pub fn invalidate(&self, key: &str) -> Result<(), JsValue> {
        guard(|| {
            self.core()
                .invalidate_store_key(key)
                .map_err(|e| from_core(&e))
        })
    }
}

/// A key snapshot's records in store form: `{snapshot, records: [{key, value, expires}]}`, where
/// `snapshot` is the document without its `users`, `api_keys` and `revoked_jti`, and each record
/// is the JSON text to write under `key` (expiring a day after `expires`, when it has one).
/// Throws `invalid_snapshot` or `invalid_record`.
#[wasm_bindgen(js_name = recordsFromSnapshot, unchecked_return_type = "StoreRecords")]
pub fn records_from_snapshot(
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | object")] snapshot: JsValue,
) -> Result<JsValue, JsValue> {
    guard(|| {
        let bytes = snapshot_document(&snapshot)?;
        let out = tollgate::record::split_snapshot_json(&bytes).map_err(|e| from_core(&e))?;
        parse_json(&out)
    })
}

/// A session's record, for a login service that stores the sessions gateways check:
/// `{key, value, expires}` from the session id (the cookie's value), the session
/// (`{subject, kind?, expires, roles?, tenants?, revoked?}`, JSON text or an object) and the
/// provider's pepper when it hashes with HMAC-SHA256: its bytes, as a `Uint8Array` (the
/// snapshot's `peppers` entry is their base64url text: decode it first). Store `value` under
/// `key` (`RedisStore.put` also announces it); to sign out, store it again with
/// `revoked: true`. Throws `invalid_record`, or `invalid_options` for a pepper that is not a
/// `Uint8Array`.
#[wasm_bindgen(js_name = sessionRecord, unchecked_return_type = "StoreRecord")]
pub fn session_record(
    id: &str,
    #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | object")] session: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array | null")] pepper: JsValue,
) -> Result<JsValue, JsValue> {
    guard(|| {
        // Not a bare `Vec<u8>` parameter: its glue copies a string or a plain array byte by
        // byte, so a base64url string would become a pepper of zero bytes.
        let pepper = if pepper.is_undefined() || pepper.is_null() {
            None
        } else {
            let bytes = pepper.dyn_ref::<Uint8Array>().ok_or_else(|| {
                js_error(
                    ErrorCode::InvalidOptions,
                    "the pepper must be a Uint8Array of its bytes (the snapshot's base64url text decoded)",
                )
            })?;
            Some(bytes.to_vec())
        };
        let bytes = document(
            &session,
            "session",
            ErrorCode::InvalidRecord,
            tollgate::record::MAX_RECORD_BYTES,
        )?;
        let out = tollgate::record::session_record_json(id, pepper.as_deref(), &bytes)
            .map_err(|e| from_core(&e))?;
        parse_json(&out)
    })
}
