//! Standard Webhooks: sign, verify, a reusable verifier and a replay guard.

use crate::engine::Header;
use crate::ffi::{
    bytes, call, handle, into_handle, items, new_string, not_null, out_param, text, write_out,
    Failure,
};
use crate::panic::boundary;
use crate::status::Status;
use std::borrow::Cow;
use std::ffi::c_char;
use tollgate_core::document::{self as doc, Fields};
use tollgate_core::json;
use tollgate_core::webhook::{self, ReplayGuard as CoreGuard, WebhookSigner};

/// Keys and rules for verifying webhook deliveries: `whsec_` secrets (`v1`, HMAC-SHA256) and
/// `whpk_` public keys (`v1a`, Ed25519), a timestamp tolerance and a body limit.
///
/// Made by `tg_webhook_verifier_new`, freed by `tg_webhook_verifier_free`. Immutable: any number of
/// threads may verify with it at once.
pub struct WebhookVerifier {
    inner: webhook::WebhookVerifier,
}

/// Remembers accepted deliveries (each by its `webhook-id` and body) so that a replay inside the
/// window is refused (`TG_STATUS_WEBHOOK_REPLAYED`); verifiers of several senders may share one.
/// Bounded; when full of live entries it refuses new deliveries
/// (`TG_STATUS_WEBHOOK_REPLAY_GUARD_FULL`, 503) rather than forget one.
///
/// Made by `tg_replay_guard_new`, freed by `tg_replay_guard_free`. Thread-safe: shared by all
/// threads (it takes a short internal lock).
pub struct ReplayGuard {
    inner: CoreGuard,
}

/// The configuration document of `tg_webhook_verifier_new`.
#[derive(Debug, Default)]
struct Config {
    keys: Vec<String>,
    secrets: Vec<String>,
    public_keys: Vec<String>,
    tolerance: Option<u64>,
    max_body_bytes: Option<usize>,
}

/// Deepest nesting of a configuration document (the key lists are level 2).
const CONFIG_DEPTH: usize = 3;

impl Config {
    /// Reads the configuration with the core's document reader: unknown members refused, every
    /// fault naming its member, and no key list's text ever shown (it holds secrets).
    fn from_json(document: &[u8]) -> Result<Config, Failure> {
        doc::read_object(document, CONFIG_DEPTH, Config::read).map_err(|reason| {
            Failure::new(
                Status::InvalidOptions,
                format!("invalid webhook configuration: {reason}"),
            )
        })
    }

    fn read(object: json::Object<'_>) -> doc::Read<Config> {
        let f = Fields::of(
            object,
            "",
            &[
                "keys",
                "secrets",
                "public_keys",
                "tolerance",
                "max_body_bytes",
            ],
        )?;
        Ok(Config {
            keys: f.or_default("keys", secret_list)?,
            secrets: f.or_default("secrets", secret_list)?,
            public_keys: f.or_default("public_keys", secret_list)?,
            tolerance: f.optional("tolerance", doc::u64)?,
            max_body_bytes: f.optional("max_body_bytes", doc::usize)?,
        })
    }
}

/// A list of keys as strings; a value of the wrong type is named, never shown.
fn secret_list(v: json::Value<'_>, at: &str) -> doc::Read<Vec<String>> {
    let hidden = |at: &str, expected: &str| {
        doc::fault(
            at,
            format!("invalid type: expected {expected} (the value is not shown)"),
        )
    };
    if v.as_array().is_none() {
        return Err(hidden(at, "a sequence of strings"));
    }
    doc::list(v, at, |e, at| {
        e.as_str()
            .map(|s| s.to_cow().into_owned())
            .ok_or_else(|| hidden(at, "a string"))
    })
}

/// A header's name and value as text.
type TextHeader<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Reads request headers for the webhook checks. Text that is not UTF-8 is replaced (U+FFFD): the
/// three webhook headers must be ASCII, so such a value fails as malformed, never as another.
///
/// # Safety
///
/// Each header's name and value point to their lengths in readable memory (or NULL with 0).
unsafe fn header_pairs(headers: &[Header]) -> Result<Vec<TextHeader<'_>>, Failure> {
    headers
        .iter()
        .map(|h| {
            // SAFETY: forwarded contract.
            let (n, v) = unsafe { (bytes(h.name, h.name_len)?, bytes(h.value, h.value_len)?) };
            Ok((String::from_utf8_lossy(n), String::from_utf8_lossy(v)))
        })
        .collect()
}

/// A delivery given as pointer + length inputs: its headers as text pairs and its body, for `on`.
///
/// # Safety
///
/// `headers` and `body` point to their lengths in readable memory (or are NULL with 0), and so do
/// each header's name and value.
unsafe fn with_delivery<R>(
    headers: *const Header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
    on: impl FnOnce(&[(&str, &str)], &[u8]) -> Result<R, Failure>,
) -> Result<R, Failure> {
    // SAFETY: forwarded contract.
    let (headers, body) = unsafe { (items(headers, headers_len)?, bytes(body, body_len)?) };
    // SAFETY: forwarded contract.
    let owned = unsafe { header_pairs(headers) }?;
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (&**n, &**v)).collect();
    on(&pairs, body)
}

/// Runs a verification over the request headers.
///
/// # Safety
///
/// As [`with_delivery`].
unsafe fn verify_delivery(
    verifier: &webhook::WebhookVerifier,
    guard: Option<&CoreGuard>,
    headers: *const Header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
    now: u64,
) -> Result<(), Failure> {
    // SAFETY: forwarded contract.
    unsafe {
        with_delivery(headers, headers_len, body, body_len, |pairs, body| {
            match guard {
                Some(g) => verifier.verify_headers_and_record(g, pairs, body, now)?,
                None => verifier.verify_headers(pairs, body, now)?,
            }
            Ok(())
        })
    }
}

/// Verifies a delivery for a replay guard in a shared store: the claim to settle there.
///
/// # Safety
///
/// As [`with_delivery`].
pub(crate) unsafe fn verify_for_store(
    verifier: &WebhookVerifier,
    headers: *const Header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
    now: u64,
    window: u64,
) -> Result<webhook::ReplayClaim, Failure> {
    // SAFETY: forwarded contract.
    unsafe {
        with_delivery(headers, headers_len, body, body_len, |pairs, body| {
            Ok(verifier
                .inner
                .verify_headers_for_store(pairs, body, now, window)?)
        })
    }
}

/// Makes a webhook verifier from a JSON configuration:
/// `{"keys": ["whsec_…", "whpk_…"], "secrets": ["…"], "public_keys": ["…"], "tolerance": 300,
/// "max_body_bytes": 1048576}`. `keys` must carry their prefix (`whsec_` or `whpk_`; a `whsk_`
/// signing key is refused), while `secrets` and `public_keys` may omit it. At most 8 keys in all;
/// `tolerance` (default 300 s, at most 86400) bounds `|now - webhook-timestamp|`.
///
/// On success writes the verifier to `*verifier_out` (free it with `tg_webhook_verifier_free`). On
/// failure: `TG_STATUS_INVALID_WEBHOOK_SECRET`, `TG_STATUS_INVALID_OPTIONS` (also for a
/// configuration with no key at all), and the optional message.
#[no_mangle]
pub extern "C" fn tg_webhook_verifier_new(
    config: *const u8,
    config_len: usize,
    verifier_out: *mut *mut WebhookVerifier,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(verifier_out)?;
        // SAFETY: the caller passes `config_len` readable bytes at `config`.
        let config = unsafe { bytes(config, config_len) }?;
        let c = Config::from_json(config)?;
        let mut v = webhook::WebhookVerifier::new();
        if let Some(t) = c.tolerance {
            v = v.with_tolerance(t)?;
        }
        if let Some(b) = c.max_body_bytes {
            v = v.with_max_body_bytes(b)?;
        }
        for k in &c.keys {
            v.add_key(k)?;
        }
        for s in &c.secrets {
            v.add_secret(s)?;
        }
        for k in &c.public_keys {
            v.add_public_key(k)?;
        }
        if v.key_count() == 0 {
            // A verifier without a key refuses every delivery: a configuration that lost its
            // secrets is an error now, not 500s later.
            return Err(Failure::new(
                Status::InvalidOptions,
                "invalid webhook configuration: no key (keys, secrets or public_keys)",
            ));
        }
        // SAFETY: `verifier_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(verifier_out, into_handle(WebhookVerifier { inner: v })) };
        Ok(())
    })
}

/// Frees a webhook verifier. NULL is a no-op. No other call may be using it.
#[no_mangle]
pub extern "C" fn tg_webhook_verifier_free(verifier: *mut WebhookVerifier) {
    boundary(|| {
        // SAFETY: `verifier` is NULL or a live webhook verifier, freed once, unused elsewhere.
        unsafe { crate::ffi::free_handle(verifier) }
    })
}

/// Verifies one delivery at time `now` (Unix seconds). `headers`: the request's headers (names
/// case-insensitive; `webhook-id`, `webhook-timestamp` and `webhook-signature` must each appear
/// exactly once; others are ignored). `body`: the raw body, byte for byte.
///
/// `guard`: NULL, or a replay guard in which a verified delivery is then recorded by its id and
/// body (one seen before within the window is `TG_STATUS_WEBHOOK_REPLAYED`). Only verified
/// deliveries are recorded.
///
/// Returns `TG_STATUS_OK`, or `TG_STATUS_WEBHOOK_MALFORMED`, `_TIMESTAMP_OUT_OF_TOLERANCE`,
/// `_SIGNATURE_INVALID`, `_BODY_TOO_LARGE`, `_REPLAYED`, `_REPLAY_GUARD_FULL`; with the optional
/// message.
#[no_mangle]
pub extern "C" fn tg_webhook_verifier_verify(
    verifier: *const WebhookVerifier,
    guard: *const ReplayGuard,
    headers: *const Header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
    now: u64,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        not_null(&[verifier.cast::<u8>()])?;
        // SAFETY: live handles (contract); `verifier` checked non-NULL, `guard` may be NULL.
        let verifier = unsafe { handle(verifier) }?;
        let guard = if guard.is_null() {
            None
        } else {
            // SAFETY: non-NULL, a live replay guard (contract).
            Some(&unsafe { handle(guard) }?.inner)
        };
        // SAFETY: the caller passes the documented pointer + length inputs.
        unsafe {
            verify_delivery(
                &verifier.inner,
                guard,
                headers,
                headers_len,
                body,
                body_len,
                now,
            )
        }
    })
}

/// Verifies one delivery with a single key (`whsec_…` or `whpk_…`, prefix required) and the
/// default tolerance (300 s), without replay detection: `tg_webhook_verifier_verify` with a
/// one-key verifier. Statuses as there, plus `TG_STATUS_INVALID_WEBHOOK_SECRET` for a bad key.
#[no_mangle]
pub extern "C" fn tg_webhook_verify(
    key: *const u8,
    key_len: usize,
    headers: *const Header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
    now: u64,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        // SAFETY: the caller passes `key_len` readable bytes at `key`.
        let key = unsafe { text(key, key_len, "key") }?;
        let mut v = webhook::WebhookVerifier::new();
        v.add_key(key)?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        unsafe { verify_delivery(&v, None, headers, headers_len, body, body_len, now) }
    })
}

/// Signs a delivery: the `webhook-signature` value (`v1,<base64>` with a `whsec_` secret,
/// `v1a,<base64>` with a `whsk_` signing key; prefix required) for `id` (1–256 visible ASCII
/// characters, no `.`), `timestamp` (Unix seconds; send it as `webhook-timestamp`) and the raw
/// `body`.
///
/// On success writes the signature to `*signature_out`; free it with `tg_string_free`. Fails with
/// `TG_STATUS_INVALID_WEBHOOK_SECRET` or `TG_STATUS_SIGNING_FAILED`, and the optional message.
#[no_mangle]
pub extern "C" fn tg_webhook_sign(
    key: *const u8,
    key_len: usize,
    id: *const u8,
    id_len: usize,
    timestamp: u64,
    body: *const u8,
    body_len: usize,
    signature_out: *mut *mut c_char,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(signature_out)?;
        // SAFETY: the caller passes the documented pointer + length inputs.
        let (key, id, body) = unsafe {
            (
                text(key, key_len, "key")?,
                text(id, id_len, "id")?,
                bytes(body, body_len)?,
            )
        };
        let signature = WebhookSigner::new(key)?.sign(id, timestamp, body)?;
        // SAFETY: `signature_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(signature_out, new_string(signature)) };
        Ok(())
    })
}

/// Generates a `whsec_` secret (32 random bytes from the operating system) for `v1` signatures.
/// On success writes it to `*secret_out`; free it with `tg_string_free`.
#[no_mangle]
pub extern "C" fn tg_webhook_secret_generate(secret_out: *mut *mut c_char) -> Status {
    call(core::ptr::null_mut(), || {
        out_param(secret_out)?;
        let secret = webhook::generate_secret()?;
        // SAFETY: `secret_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(secret_out, new_string(secret)) };
        Ok(())
    })
}

/// Generates an Ed25519 pair for `v1a` signatures: the `whsk_` signing key (keep it secret) and
/// its `whpk_` public key (give it to receivers). On success writes both; free each with
/// `tg_string_free`.
#[no_mangle]
pub extern "C" fn tg_webhook_key_pair_generate(
    signing_key_out: *mut *mut c_char,
    public_key_out: *mut *mut c_char,
) -> Status {
    call(core::ptr::null_mut(), || {
        out_param(signing_key_out)?;
        out_param(public_key_out)?;
        let (signing, public) = webhook::generate_key_pair()?;
        // SAFETY: both were checked non-NULL; the caller provides writable storage.
        unsafe {
            write_out(signing_key_out, new_string(signing));
            write_out(public_key_out, new_string(public));
        }
        Ok(())
    })
}

/// Makes a replay guard holding at most `capacity` ids (1 to 16777216), each remembered for
/// `window_seconds` (0 for the default, 300; at most 86400; the verifier uses the larger of its
/// tolerance and this window). Size the capacity above the deliveries one window can bring.
/// On success writes it to `*guard_out`; free it with `tg_replay_guard_free`.
#[no_mangle]
pub extern "C" fn tg_replay_guard_new(
    capacity: usize,
    window_seconds: u64,
    guard_out: *mut *mut ReplayGuard,
    error_out: *mut *mut c_char,
) -> Status {
    call(error_out, || {
        out_param(guard_out)?;
        let mut inner = CoreGuard::new(capacity)?;
        if window_seconds != 0 {
            inner = inner.with_window(window_seconds)?;
        }
        // SAFETY: `guard_out` was checked non-NULL; the caller provides writable storage.
        unsafe { write_out(guard_out, into_handle(ReplayGuard { inner })) };
        Ok(())
    })
}

/// Frees a replay guard. NULL is a no-op. No other call may be using it.
#[no_mangle]
pub extern "C" fn tg_replay_guard_free(guard: *mut ReplayGuard) {
    boundary(|| {
        // SAFETY: `guard` is NULL or a live replay guard, freed once, used by no other thread.
        unsafe { crate::ffi::free_handle(guard) }
    })
}
