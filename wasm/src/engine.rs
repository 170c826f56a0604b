//! `Engine`: a compiled policy and its key snapshot; `check` decides a request.
//!
//! ```js
//! const engine = Engine.fromPolicy(policyJson);
//! engine.swapKeys(snapshotJson);                 // again whenever keys rotate
//! const d = engine.check({method: "GET", path: "/api/tenants/A/items", headers: {token}});
//! const d2 = await engine.checkAsync(request);   // signatures on WebCrypto
//! if (d.status !== 200) return new Response(JSON.stringify(d), {status: d.status});
//! ```

use crate::error::{from_core, guard, parse_json};
use crate::refresher::Refresher;
use crate::request::{document, now_arg, now_secs, snapshot_document, OwnedRequest};
use crate::webcrypto::{SignatureJob, SignatureWait};
use std::sync::Arc;
use tollgate::{Decision, ErrorCode};
use wasm_bindgen::prelude::*;

/// The policy engine: a policy compiled once, and a key snapshot (keys, `jti` deny-list, user
/// and API-key records) replaced whole by `swapKeys`, except the keys a key source swaps in
/// (`swapProviderKeys`), which stay until `releaseProviderKeys`.
///
/// `check` and `checkAsync` never throw for a refused request: the decision says why (`status`,
/// `reason`). They throw only for arguments that are not a request or a time.
#[wasm_bindgen]
pub struct Engine {
    inner: Arc<tollgate::Engine>,
}

/// The decision as the shared JSON shape (the CLI's and every binding's).
pub(crate) fn decision_js(decision: &Decision) -> Result<JsValue, JsValue> {
    parse_json(&decision.to_json_text())
}

impl Engine {
    /// The core engine.
    pub(crate) fn core(&self) -> &tollgate::Engine {
        &self.inner
    }
}

#[wasm_bindgen]
impl Engine {
    /// Compiles a policy (JSON text, its UTF-8 bytes, or an object) into an engine with an empty
    /// key snapshot. Throws `invalid_policy`, with the place in the document, when it is not
    /// valid.
    #[wasm_bindgen(js_name = fromPolicy)]
    pub fn from_policy(
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | object")] policy: JsValue,
    ) -> Result<Engine, JsValue> {
        guard(|| {
            let bytes = document(
                &policy,
                "policy",
                ErrorCode::InvalidPolicy,
                tollgate::policy::MAX_POLICY_BYTES,
            )?;
            let inner = tollgate::Engine::from_policy_json(&bytes).map_err(|e| from_core(&e))?;
            Ok(Engine {
                inner: Arc::new(inner),
            })
        })
    }

    /// Replaces the key snapshot atomically: `{"keys": {"<provider>": JWKS}, "revoked_jti": [..],
    /// "users": {..}, "api_keys": {..}, "peppers": {..}}` (JSON text, bytes, or an object).
    /// Checks already under way (an awaited `checkAsync`) finish on the snapshot they started
    /// with. Throws `invalid_snapshot` (the old snapshot then stays). A provider a key source
    /// swaps keys into (`swapProviderKeys`, `KeySource.swapInto`) keeps the source's keys: the
    /// snapshot's keys for it are not used.
    ///
    /// In Cloudflare Workers, call it while handling a request, not at module load: building a
    /// snapshot with EC keys draws randomness, which Workers refuse outside a request.
    #[wasm_bindgen(js_name = swapKeys)]
    pub fn swap_keys(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | object")] snapshot: JsValue,
    ) -> Result<(), JsValue> {
        guard(|| {
            let bytes = snapshot_document(&snapshot)?;
            self.inner
                .swap_snapshot_json(&bytes)
                .map_err(|e| from_core(&e))
        })
    }

    /// Replaces the keys of the policy provider `provider` with the key set `refresher` serves at
    /// `now` (Unix seconds; default: the clock), keeping the rest of the snapshot. When the
    /// refresher has no set to serve (none fetched yet, or the last is stale), the provider's keys
    /// are emptied, so its tokens are refused, and the call throws `key_set_fetch_failed` or
    /// `key_set_stale`. Throws `invalid_snapshot` for a provider the policy lacks.
    #[wasm_bindgen(js_name = swapProviderKeys)]
    pub fn swap_provider_keys(
        &self,
        provider: &str,
        refresher: &Refresher,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<(), JsValue> {
        guard(|| {
            self.inner
                .swap_provider_keys_from(provider, refresher.inner(), now_secs(now_arg(&now)?)?)
                .map_err(|e| from_core(&e))
        })
    }

    /// Ends what `swapProviderKeys` began for `provider`, when the host stops refreshing it:
    /// until then `swapKeys` keeps the provider's keys; after, it has none (nothing keeps them
    /// fresh, or makes them stale) until `swapKeys` sets them. `KeySource.stopSwappingInto` does
    /// it. A provider no refresher swapped into is left as it is; one the policy lacks throws
    /// `invalid_options`.
    #[wasm_bindgen(js_name = releaseProviderKeys)]
    pub fn release_provider_keys(&self, provider: &str) -> Result<(), JsValue> {
        guard(|| {
            self.inner
                .release_provider_keys(provider)
                .map_err(|e| from_core(&e))
        })
    }

    /// Decides a request `{method, path | url, headers}` at `now` (Unix seconds; default: the
    /// clock), verifying signatures in WebAssembly. Returns the decision: `status` (200 lets the
    /// request through; 400, 401, 403 or 404 refuses it), `reason`, the `principal`, the
    /// `www_authenticate` challenge, `forward_headers`, `correlation_id` and `refresh_hint`.
    #[wasm_bindgen(unchecked_return_type = "Decision")]
    pub fn check(
        &self,
        #[wasm_bindgen(unchecked_param_type = "CheckRequest")] request: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        guard(|| {
            let request = OwnedRequest::from_js(&request)?;
            let now = now_secs(now_arg(&now)?)?;
            let decision = request.with(|r| self.inner.check(r, now));
            decision_js(&decision)
        })
    }

    /// The first half of `checkAsync` (the entry point's, `js/webcrypto.js`): the decision, or
    /// a `SignatureWait` when the check stopped at a public-key signature. The second half runs
    /// on the snapshot this half took, whatever `swapKeys` does meanwhile.
    #[wasm_bindgen(js_name = checkAsyncBegin, skip_typescript)]
    pub fn check_async_begin(
        &self,
        request: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "number | null")] now: JsValue,
    ) -> Result<JsValue, JsValue> {
        guard(|| {
            let request = OwnedRequest::from_js(&request)?;
            let now = now_secs(now_arg(&now)?)?;
            let snapshot = self.inner.current_snapshot();
            let mut job = None;
            let decision = request.with(|r| {
                self.inner
                    .check_with(&snapshot, r, now, &mut |s| SignatureJob::defer(s, &mut job))
            });
            let Some(job) = job else {
                return decision_js(&decision);
            };
            let engine = self.inner.clone();
            SignatureWait::start(
                job,
                Box::new(move |job, verdict| {
                    let decision = request.with(|r| {
                        engine.check_with(&snapshot, r, now, &mut |s| job.finish(s, verdict))
                    });
                    decision_js(&decision)
                }),
            )
        })
    }

    /// The policy's name.
    #[wasm_bindgen(getter, js_name = policyName)]
    pub fn policy_name(&self) -> Result<String, JsValue> {
        guard(|| Ok(self.inner.policy().name.clone()))
    }
}
