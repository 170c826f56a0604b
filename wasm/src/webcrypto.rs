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
//! the synchronous path's either way. WebCrypto's rules match the core's for what reaches it:
//! the core has already checked the key (RSA size and exponent, EC point on its curve) and the
//! signature's length (exact for ECDSA and Ed25519; an RSA signature must be as long as the
//! modulus, checked here before WebCrypto, which would accept a shorter one). ECDSA signatures
//! are `r || s`, the IEEE P1363 form WebCrypto takes.
//!
//! Imported `CryptoKey`s are cached by algorithm and public material (never by `kid`, which a
//! rotation may reuse), up to [`KEY_CACHE_ENTRIES`] keys.

use js_sys::{Object, Promise, Reflect, Uint8Array};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use tollgate::{Algorithm, Error, PublicKey, SignatureInput};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// How many imported keys the cache holds before it starts afresh.
pub const KEY_CACHE_ENTRIES: usize = 64;

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

    /// The cache key: algorithm and public material.
    fn fingerprint(&self) -> Vec<u8> {
        let mut out = self.alg.name().as_bytes().to_vec();
        out.push(0);
        match &self.material {
            Material::Rsa { n, e } => {
                out.extend_from_slice(n);
                out.push(0);
                out.extend_from_slice(e);
            }
            Material::Ec(p) | Material::Ed25519(p) => out.extend_from_slice(p),
        }
        out
    }
}

#[wasm_bindgen]
extern "C" {
    /// `SubtleCrypto`, reached as `globalThis.crypto.subtle`.
    type Subtle;

    #[wasm_bindgen(method, catch, js_name = importKey)]
    fn import_key(
        this: &Subtle,
        format: &str,
        key_data: &JsValue,
        algorithm: &JsValue,
        extractable: bool,
        usages: &JsValue,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = verify)]
    fn verify_signature(
        this: &Subtle,
        algorithm: &JsValue,
        key: &JsValue,
        signature: &Uint8Array,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;
}

thread_local! {
    /// Imported keys with their verify parameters, by [`SignatureJob::fingerprint`].
    static KEYS: RefCell<HashMap<Vec<u8>, (JsValue, JsValue)>> = RefCell::new(HashMap::new());
    /// Which Ed25519 name the runtime took: 0 not yet known, 1 `Ed25519` (the standard name),
    /// 2 `NODE-ED25519` (older workerd).
    static ED25519_NAME: Cell<u8> = const { Cell::new(0) };
}

/// `globalThis.crypto.subtle`, if the runtime has it.
fn subtle() -> Option<Subtle> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
    if !crypto.is_object() {
        return None;
    }
    let subtle = Reflect::get(&crypto, &"subtle".into()).ok()?;
    subtle.is_object().then(|| subtle.unchecked_into())
}

/// A plain object from `(name, value)` members.
fn object(members: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (name, value) in members {
        // Defining a member on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &(*name).into(), value);
    }
    o.into()
}

fn hash_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS384 | Algorithm::PS384 | Algorithm::ES384 => "SHA-384",
        Algorithm::RS512 | Algorithm::PS512 => "SHA-512",
        _ => "SHA-256",
    }
}

/// The import and verify parameters for `alg` (Ed25519's name given separately).
fn parameters(alg: Algorithm, ed25519: &str) -> Option<(JsValue, JsValue)> {
    let hash = || JsValue::from(hash_name(alg));
    Some(match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => (
            object(&[("name", "RSASSA-PKCS1-v1_5".into()), ("hash", hash())]),
            object(&[("name", "RSASSA-PKCS1-v1_5".into())]),
        ),
        Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512 => {
            // RFC 7518 §3.5: the salt is as long as the hash output.
            let salt = match alg {
                Algorithm::PS384 => 48,
                Algorithm::PS512 => 64,
                _ => 32,
            };
            (
                object(&[("name", "RSA-PSS".into()), ("hash", hash())]),
                object(&[("name", "RSA-PSS".into()), ("saltLength", salt.into())]),
            )
        }
        Algorithm::ES256 | Algorithm::ES384 => {
            let curve = if alg == Algorithm::ES256 {
                "P-256"
            } else {
                "P-384"
            };
            (
                object(&[("name", "ECDSA".into()), ("namedCurve", curve.into())]),
                object(&[("name", "ECDSA".into()), ("hash", hash())]),
            )
        }
        Algorithm::EdDSA => (
            object(&[("name", ed25519.into()), ("namedCurve", ed25519.into())]),
            object(&[("name", ed25519.into())]),
        ),
        _ => return None,
    })
}

/// Imports the job's key: an RSA key as a JWK (`n`, `e`), an EC point or Ed25519 key raw.
async fn import(
    subtle: &Subtle,
    job: &SignatureJob,
    algorithm: &JsValue,
) -> Result<JsValue, JsValue> {
    let usages: JsValue = js_sys::Array::of1(&"verify".into()).into();
    let promise = match &job.material {
        Material::Rsa { n, e } => {
            let jwk = object(&[
                ("kty", "RSA".into()),
                ("n", tollgate::base64url::encode(n).into()),
                ("e", tollgate::base64url::encode(e).into()),
            ]);
            subtle.import_key("jwk", &jwk, algorithm, false, &usages)?
        }
        Material::Ec(raw) | Material::Ed25519(raw) => {
            let raw: JsValue = Uint8Array::from(raw.as_slice()).into();
            subtle.import_key("raw", &raw, algorithm, false, &usages)?
        }
    };
    JsFuture::from(promise).await
}

/// Imports (or takes from the cache) the job's key and the matching verify parameters.
async fn key_for(subtle: &Subtle, job: &SignatureJob) -> Option<(JsValue, JsValue)> {
    let fingerprint = job.fingerprint();
    if let Some(hit) = KEYS.with(|k| k.borrow().get(&fingerprint).cloned()) {
        return Some(hit);
    }
    let names: &[(u8, &str)] = if job.alg == Algorithm::EdDSA {
        match ED25519_NAME.with(Cell::get) {
            1 => &[(1, "Ed25519")],
            2 => &[(2, "NODE-ED25519")],
            _ => &[(1, "Ed25519"), (2, "NODE-ED25519")],
        }
    } else {
        &[(0, "")]
    };
    for &(id, name) in names {
        let (import_params, verify_params) = parameters(job.alg, name)?;
        if let Ok(key) = import(subtle, job, &import_params).await {
            if id != 0 {
                ED25519_NAME.with(|n| n.set(id));
            }
            KEYS.with(|k| {
                let mut keys = k.borrow_mut();
                if keys.len() >= KEY_CACHE_ENTRIES {
                    keys.clear();
                }
                keys.insert(fingerprint, (key.clone(), verify_params.clone()));
            });
            return Some((key, verify_params));
        }
    }
    None
}

/// WebCrypto's verdict on the job's signature; `None` when it cannot give one (the caller then
/// verifies in WebAssembly).
pub async fn verify(job: &SignatureJob) -> Option<bool> {
    if let Some(verdict) = job.precheck() {
        return Some(verdict);
    }
    let subtle = subtle()?;
    let (key, params) = key_for(&subtle, job).await?;
    // Copies: WebCrypto reads the bytes after this call returns, and a view into WebAssembly
    // memory would not survive the memory growing meanwhile.
    let signature = Uint8Array::from(job.signature.as_slice());
    let data = Uint8Array::from(job.signing_input.as_slice());
    let promise = subtle
        .verify_signature(&params, &key, &signature, &data)
        .ok()?;
    JsFuture::from(promise).await.ok()?.as_bool()
}
