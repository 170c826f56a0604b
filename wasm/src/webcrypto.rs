//! The asynchronous paths' signature check: RSA (PKCS#1 v1.5 and PSS), ECDSA and Ed25519
//! signatures verified by the runtime's WebCrypto (`crypto.subtle.verify`), which is native
//! code and about ten times faster than the same arithmetic in WebAssembly. HMAC stays in
//! WebAssembly (it is fast there, and its key is a secret this layer does not hand out).
//!
//! The core decides everything else, in its fixed order: the first half of a check stops at the
//! signature and records a [`SignatureJob`] (the key it selected, the signed bytes, the
//! signature); WebCrypto's verdict then finishes the check ([`SignatureJob::finish`]). Where
//! WebCrypto cannot decide — no `crypto.subtle`, an algorithm the runtime lacks, an import or
//! verify call that throws — the signature is verified in WebAssembly instead, so the verdict is
//! the synchronous path's either way.
//!
//! The waiting happens in JS, not in Rust: the first half returns a [`SignatureWait`], the
//! package's entry point (`js/webcrypto.js`) asks WebCrypto and then calls
//! [`SignatureWait::finish`]. Every call into WebAssembly is thus a synchronous call the entry
//! point guards, the second half included: a panic there is an `internal_error` rejection like
//! any other, and a wait whose instance was replaced meanwhile (another call's panic) is refused
//! instead of finishing in the fresh instance's memory. WebCrypto's rules match the core's for what reaches it:
//! the core has already checked the key (RSA size and exponent, EC point on its curve) and the
//! signature's length (exact for ECDSA and Ed25519; an RSA signature must be as long as the
//! modulus, checked here before WebCrypto, which would accept a shorter one). ECDSA signatures
//! are `r || s`, the IEEE P1363 form WebCrypto takes.
//!
//! The entry point caches imported `CryptoKey`s by [`SignatureJob::fingerprint`] (algorithm and
//! public material, never the `kid`, which a rotation may reuse).

use crate::error::{guard, js_error};
use js_sys::{Object, Reflect, Uint8Array};
use tollgate::{Algorithm, Error, ErrorCode, PublicKey, SignatureInput};
use wasm_bindgen::prelude::*;

/// A key's public material, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// The one public-key signature a check needs, copied out of the core so that it can be
/// verified asynchronously.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureJob {
    alg: Algorithm,
    material: Material,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl SignatureJob {
    /// The job for `input`, or `None` for an HMAC key (no public material: verified in place).
    pub fn capture(input: &SignatureInput<'_>) -> Option<SignatureJob> {
        let material = match input.key.public_key()? {
            PublicKey::Rsa { n, e } => Material::Rsa {
                n: n.to_vec(),
                e: e.to_vec(),
            },
            PublicKey::Ec { point } => Material::Ec(point.to_vec()),
            PublicKey::Ed25519 { key } => Material::Ed25519(key.to_vec()),
            // A key kind this layer does not know: verified in WebAssembly.
            _ => return None,
        };
        Some(SignatureJob {
            alg: input.alg,
            material,
            signing_input: input.signing_input.to_vec(),
            signature: input.signature.to_vec(),
        })
    }

    /// The first half's signature check: HMAC (and any key without a job) is verified in
    /// place; a public-key signature is recorded in `job` and the check stops there.
    pub fn defer(input: &SignatureInput<'_>, job: &mut Option<SignatureJob>) -> Result<(), Error> {
        match SignatureJob::capture(input) {
            None => input.verify(),
            Some(j) => {
                *job = Some(j);
                Err(Error::Internal {
                    reason: "signature deferred to WebCrypto",
                })
            }
        }
    }

    /// The second half's signature check: `verdict` for this job's signature (`None`: verify in
    /// WebAssembly); any other signature, which a deterministic check does not reach, is
    /// verified in WebAssembly too.
    pub fn finish(&self, input: &SignatureInput<'_>, verdict: Option<bool>) -> Result<(), Error> {
        if SignatureJob::capture(input).as_ref() != Some(self) {
            return input.verify();
        }
        match verdict {
            Some(true) => Ok(()),
            Some(false) => Err(Error::InvalidSignature),
            None => input.verify(),
        }
    }

    /// A verdict that needs no WebCrypto: an RSA signature must be exactly as long as the
    /// modulus (as `ring` requires; WebCrypto implementations accept shorter ones).
    fn precheck(&self) -> Option<bool> {
        match &self.material {
            Material::Rsa { n, .. } if self.signature.len() != n.len() => Some(false),
            _ => None,
        }
    }

    /// The key cache's name for this job's key: algorithm and public material
    /// (`RS256.<n>.<e>`, `ES256.<point>`; base64url).
    fn fingerprint(&self) -> String {
        let mut out = self.alg.name().to_owned();
        let parts: [&[u8]; 2] = match &self.material {
            Material::Rsa { n, e } => [n, e],
            Material::Ec(p) | Material::Ed25519(p) => [p, &[]],
        };
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            out.push('.');
            out.push_str(&tollgate::base64url::encode(part));
        }
        out
    }

    /// The job as the entry point reads it: `{algorithm, fingerprint, kty, n, e | raw,
    /// signature, data}` (`n`, `e` base64url text, as a JWK has them; the rest bytes, copied:
    /// WebCrypto reads them after this call returns, and a view into WebAssembly memory would
    /// not survive the memory growing meanwhile).
    fn to_js(&self) -> JsValue {
        let bytes = |b: &[u8]| JsValue::from(Uint8Array::from(b));
        let mut members = vec![
            ("algorithm", JsValue::from(self.alg.name())),
            ("fingerprint", self.fingerprint().into()),
            ("signature", bytes(&self.signature)),
            ("data", bytes(&self.signing_input)),
        ];
        match &self.material {
            Material::Rsa { n, e } => members.extend([
                ("kty", "RSA".into()),
                ("n", tollgate::base64url::encode(n).into()),
                ("e", tollgate::base64url::encode(e).into()),
            ]),
            Material::Ec(raw) => members.extend([("kty", "EC".into()), ("raw", bytes(raw))]),
            Material::Ed25519(raw) => members.extend([("kty", "OKP".into()), ("raw", bytes(raw))]),
        }
        let o = Object::new();
        for (name, value) in members {
            // Defining a member on a fresh plain object cannot fail.
            let _ = Reflect::set(&o, &name.into(), &value);
        }
        o.into()
    }
}

/// The rest of a check or verification once the signature's verdict is known.
type Rest = Box<dyn FnOnce(&SignatureJob, Option<bool>) -> Result<JsValue, JsValue>>;

/// An asynchronous check stopped at its public-key signature: the entry point hands
/// [`job`](SignatureWait::job) to WebCrypto, then calls [`finish`](SignatureWait::finish) once
/// with the verdict. Internal to the package (its entry point's `checkAsync`, `verifyAsync`,
/// `verifyJwsAsync`): no TypeScript type.
#[wasm_bindgen(skip_typescript)]
pub struct SignatureWait {
    job: SignatureJob,
    rest: Option<Rest>,
}

impl SignatureWait {
    /// The first half's result when it stopped at `job`: a wait for the entry point, or, when
    /// the verdict needs no WebCrypto, the finished result at once.
    pub fn start(job: SignatureJob, rest: Rest) -> Result<JsValue, JsValue> {
        match job.precheck() {
            Some(verdict) => rest(&job, Some(verdict)),
            None => Ok(SignatureWait {
                job,
                rest: Some(rest),
            }
            .into()),
        }
    }
}

#[cfg(feature = "fault-injection")]
thread_local! {
    /// Armed by `armFinishFault`: the next `finish` panics.
    static FINISH_FAULT: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Tests only (cargo feature `fault-injection`): the next [`SignatureWait::finish`] panics, as a
/// bug in the second half of an asynchronous check would.
#[cfg(feature = "fault-injection")]
#[wasm_bindgen(js_name = armFinishFault, skip_typescript)]
pub fn arm_finish_fault() {
    FINISH_FAULT.with(|f| f.set(true));
}

#[wasm_bindgen]
impl SignatureWait {
    /// What WebCrypto is asked to verify (see [`SignatureJob::to_js`]).
    #[wasm_bindgen(getter)]
    pub fn job(&self) -> Result<JsValue, JsValue> {
        guard(|| Ok(self.job.to_js()))
    }

    /// Finishes the check with WebCrypto's `verdict` (`undefined`: it gave none, so the
    /// signature is verified in WebAssembly). Returns what the synchronous path would, or throws
    /// as it would; a second call throws `internal_error`.
    pub fn finish(&mut self, verdict: Option<bool>) -> Result<JsValue, JsValue> {
        guard(|| {
            #[cfg(feature = "fault-injection")]
            if FINISH_FAULT.with(|f| f.replace(false)) {
                #[allow(
                    clippy::panic,
                    reason = "the test-only fault-injection feature exists to panic here"
                )]
                {
                    panic!("fault injection: a test asked the second half to panic");
                }
            }
            let rest = self.rest.take().ok_or_else(|| {
                js_error(
                    ErrorCode::Internal,
                    "internal error: this asynchronous check has finished already",
                )
            })?;
            rest(&self.job, verdict)
        })
    }
}

/// The asynchronous methods, defined by the entry point (`js/webcrypto.js`) over the `…Begin`
/// first halves and [`SignatureWait`]; their types merge into the classes'.
#[wasm_bindgen(typescript_custom_section)]
const ASYNC_TYPES: &'static str = r#"
export interface Engine {
  /**
   * Decides like `check`, with the same verdicts, but verifies RSA, ECDSA and Ed25519
   * signatures with the runtime's WebCrypto (`crypto.subtle`), which is much faster than
   * WebAssembly. Everything else (parsing, claims, policy) runs in WebAssembly, in the same
   * order; HMAC stays there too. Without WebCrypto it verifies in WebAssembly. Resolves to the
   * decision, made on the key snapshot of the moment of the call; rejects only where `check`
   * would throw.
   */
  checkAsync(request: CheckRequest, now?: number | null): Promise<Decision>;
}

export interface Verifier {
  /**
   * Verifies like `verify`, with the same verdicts, but checks RSA, ECDSA and Ed25519
   * signatures with the runtime's WebCrypto.
   */
  verifyAsync(token: string, now?: number | null): Promise<VerifiedToken>;
  /** Verifies like `verifyJws`, with the signature on WebCrypto. */
  verifyJwsAsync(token: string): Promise<VerifiedJws>;
}

/** Verifies like `verify`, with the signature on WebCrypto. */
export function verifyAsync(token: string, keys: string | Uint8Array | object, options?: VerifyOptions & { now?: number }): Promise<VerifiedToken>;
"#;
