//! Standard Webhooks (<https://www.standardwebhooks.com>, spec 1.0.0): signing and verifying the
//! `webhook-id`, `webhook-timestamp` and `webhook-signature` headers, and a bounded replay guard.
//!
//! The signed content is `<webhook-id>.<webhook-timestamp>.<body>`, the body byte for byte. Each
//! kind of key is bound to one scheme, and a signature entry is only ever checked with a key of its
//! own scheme:
//!
//! - `v1`: HMAC-SHA256 under a shared secret, `whsec_<base64>` (the prefix is optional), whose key
//!   is 24 to 64 bytes.
//! - `v1a`: Ed25519, signed with `whsk_<base64>` and verified with `whpk_<base64>`.
//!
//! `webhook-signature` is a space-separated list of `<version>,<base64>` entries. The delivery is
//! authentic if any entry verifies under any key of its scheme; entries of unknown versions, and
//! entries for a scheme the verifier holds no key for, are ignored.
//!
//! This module is stricter than some reference libraries, on purpose: base64 is the standard
//! alphabet, padded and canonical everywhere (signatures and keys), so each value has exactly one
//! spelling; a timestamp is ASCII digits only, without a leading zero; an id is 1 to 256 visible
//! ASCII characters without `.`.
//!
//! [`WebhookVerifier::verify`] checks in this fixed order, cheapest first, so that no cryptography
//! runs on a malformed, oversized or stale delivery: that the verifier holds a key, body size,
//! `webhook-id`, `webhook-timestamp` syntax, `webhook-signature` size and syntax (at most
//! [`MAX_V1A_ENTRIES`] `v1a` entries), timestamp tolerance, and last the signatures.
//!
//! ```
//! use tollgate::webhook::{ReplayGuard, WebhookSecret, WebhookSigner, WebhookVerifier};
//!
//! let secret = WebhookSecret::generate()?.encode(); // "whsec_…"
//! let signer = WebhookSigner::new(&secret)?;
//! let body = br#"{"type":"invoice.paid"}"#;
//! let signature = signer.sign("msg_1", 1_700_000_000, body)?; // "v1,…"
//!
//! let mut verifier = WebhookVerifier::new();
//! verifier.add_secret(&secret)?;
//! let guard = ReplayGuard::new(10_000)?;
//! let headers = [
//!     ("Webhook-Id", "msg_1"),
//!     ("Webhook-Timestamp", "1700000000"),
//!     ("Webhook-Signature", signature.as_str()),
//! ];
//! verifier.verify_headers_and_record(&guard, &headers, body, 1_700_000_010)?;
//! let again = verifier.verify_headers_and_record(&guard, &headers, body, 1_700_000_020);
//! assert_eq!(again.unwrap_err().code().name(), "webhook_replayed");
//! # Ok::<(), tollgate::Error>(())
//! ```

use crate::base64url;
use crate::crypto;
use crate::error::{Error, ErrorCode};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// Default timestamp tolerance: `|now - webhook-timestamp|` may be at most this, in seconds.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// The largest tolerance a verifier or replay guard may be configured with (one day).
pub const MAX_TOLERANCE_SECS: u64 = 86_400;
/// Default maximum body size, in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most a caller may raise the body limit to, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Longest `webhook-id`, in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Most digits in `webhook-timestamp` (12 digits reach the year 33658).
pub const MAX_TIMESTAMP_DIGITS: usize = 12;
/// Longest `webhook-signature` header, in bytes.
pub const MAX_SIGNATURE_HEADER_BYTES: usize = 8 * 1024;
/// Most space-separated entries in `webhook-signature`.
pub const MAX_SIGNATURE_ENTRIES: usize = 16;
/// Most `v1a` entries in `webhook-signature`. Each is an Ed25519 check per public key, and each
/// check hashes the whole body again (Ed25519 hashes the signature's `R` with the message), so
/// without this bound one unsigned request could cost 128 hashes of the body. A sender signs with
/// one or two keys (two while it rotates).
pub const MAX_V1A_ENTRIES: usize = 4;
/// Most secrets and public keys one verifier holds (rotation needs two or three). With
/// [`MAX_SIGNATURE_ENTRIES`] it bounds the signature checks one delivery can cost.
pub const MAX_VERIFIER_KEYS: usize = 8;
/// Shortest `whsec_` key, in bytes (the spec's minimum).
pub const MIN_SECRET_BYTES: usize = 24;
/// Longest `whsec_` key, in bytes (the spec's maximum).
pub const MAX_SECRET_BYTES: usize = 64;
/// Size of a generated `whsec_` key, in bytes.
pub const GENERATED_SECRET_BYTES: usize = 32;
/// Most ids a [`ReplayGuard`] may be configured to hold.
pub const MAX_REPLAY_CAPACITY: usize = 16 * 1024 * 1024;

/// Prefix of a serialized HMAC secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Prefix of a serialized Ed25519 public key.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";
/// Prefix of a serialized Ed25519 signing (private) key.
pub const SIGNING_KEY_PREFIX: &str = "whsk_";

/// Name of the id header.
pub const HEADER_ID: &str = "webhook-id";
/// Name of the timestamp header.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Name of the signature header.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), followed by the 32-byte key.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of an Ed25519 PKCS#8 v1 private key (RFC 8410), followed by the 32-byte seed.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// Base64 length of an HMAC-SHA256 tag (32 bytes, padded).
const V1_SIGNATURE_CHARS: usize = 44;
/// Base64 length of an Ed25519 signature (64 bytes, padded).
const V1A_SIGNATURE_CHARS: usize = 88;

fn rejected(code: ErrorCode, reason: impl Into<String>) -> Error {
    Error::Rejected {
        code,
        reason: reason.into(),
    }
}

fn malformed(reason: impl Into<String>) -> Error {
    rejected(ErrorCode::WebhookMalformed, reason)
}

fn bad_secret(reason: impl Into<String>) -> Error {
    rejected(ErrorCode::InvalidWebhookSecret, reason)
}

fn options(reason: impl Into<String>) -> Error {
    Error::InvalidOptions {
        reason: reason.into(),
    }
}

/// A signature scheme, named by its version identifier in `webhook-signature`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WebhookScheme {
    /// `v1`: HMAC-SHA256 with a `whsec_` secret.
    V1,
    /// `v1a`: Ed25519 with a `whsk_` / `whpk_` key pair.
    V1a,
}

impl WebhookScheme {
    /// The version identifier (`v1` or `v1a`).
    pub const fn version(self) -> &'static str {
        match self {
            WebhookScheme::V1 => "v1",
            WebhookScheme::V1a => "v1a",
        }
    }

    /// The scheme with this version identifier (exact, case-sensitive), if Tollgate knows it.
    pub fn from_version(version: &str) -> Option<WebhookScheme> {
        match version {
            "v1" => Some(WebhookScheme::V1),
            "v1a" => Some(WebhookScheme::V1a),
            _ => None,
        }
    }
}

/// Strictly decodes the base64 part of a serialized key, checking its length before decoding.
fn decode_key_text(text: &str, what: &str, max_bytes: usize) -> Result<Vec<u8>, Error> {
    if text.is_empty() {
        return Err(bad_secret(format!("{what} is empty")));
    }
    let max_chars = max_bytes.div_ceil(3).saturating_mul(4);
    if text.len() > max_chars {
        return Err(bad_secret(format!(
            "{what} is {} characters; at most {max_chars} are expected",
            text.len()
        )));
    }
    base64url::decode_standard(text.as_bytes()).map_err(|_| {
        bad_secret(format!(
            "{what} is not canonical padded base64 (standard alphabet)"
        ))
    })
}

/// The base64 body of a serialized key: `text` without its own `prefix` (which is optional), or an
/// error naming what the text is when it carries another kind's prefix.
fn key_body<'a>(text: &'a str, prefix: &str, expected: &str) -> Result<&'a str, Error> {
    if let Some(body) = text.strip_prefix(prefix) {
        return Ok(body);
    }
    for (prefix, kind) in [
        (SECRET_PREFIX, "an HMAC secret (v1)"),
        (PUBLIC_KEY_PREFIX, "an Ed25519 public key (v1a)"),
        (SIGNING_KEY_PREFIX, "an Ed25519 signing key (v1a)"),
    ] {
        if text.starts_with(prefix) {
            return Err(bad_secret(format!(
                "this {prefix} value is {kind}, not {expected}"
            )));
        }
    }
    Ok(text)
}

/// An HMAC-SHA256 secret for the `v1` scheme: 24 to 64 bytes.
#[derive(Clone)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl core::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "WebhookSecret({} bytes, redacted)", self.key.len())
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (the prefix is optional): canonical padded standard base64 of a
    /// 24- to 64-byte key.
    pub fn parse(text: &str) -> Result<WebhookSecret, Error> {
        let body = key_body(text, SECRET_PREFIX, "an HMAC secret (whsec_)")?;
        let key = decode_key_text(body, "the webhook secret", MAX_SECRET_BYTES)?;
        WebhookSecret::from_bytes(&key)
    }

    /// A secret from its raw key bytes (24 to 64 bytes).
    pub fn from_bytes(key: &[u8]) -> Result<WebhookSecret, Error> {
        if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&key.len()) {
            return Err(bad_secret(format!(
                "the webhook secret is {} bytes; it must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES}",
                key.len()
            )));
        }
        Ok(WebhookSecret { key: key.to_vec() })
    }

    /// A fresh secret of [`GENERATED_SECRET_BYTES`] random bytes from the operating system.
    pub fn generate() -> Result<WebhookSecret, Error> {
        let key = crypto::random_bytes(GENERATED_SECRET_BYTES).map_err(|reason| {
            Error::KeyGenerationFailed {
                reason: reason.to_owned(),
            }
        })?;
        Ok(WebhookSecret { key })
    }

    /// The raw key bytes (secret: do not log them).
    pub fn as_bytes(&self) -> &[u8] {
        &self.key
    }

    /// The serialized form, `whsec_<base64>` (secret: do not log it).
    pub fn encode(&self) -> String {
        format!("{SECRET_PREFIX}{}", base64url::encode_standard(&self.key))
    }
}

/// An Ed25519 public key for verifying `v1a` signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookPublicKey {
    key: [u8; 32],
}

impl WebhookPublicKey {
    /// Parses `whpk_<base64>` (the prefix is optional): canonical padded standard base64 of either
    /// the raw 32-byte key or its 44-byte DER SubjectPublicKeyInfo, told apart by length.
    pub fn parse(text: &str) -> Result<WebhookPublicKey, Error> {
        let body = key_body(text, PUBLIC_KEY_PREFIX, "an Ed25519 public key (whpk_)")?;
        let bytes = decode_key_text(body, "the webhook public key", 44)?;
        let raw = match bytes.len() {
            32 => bytes.as_slice(),
            44 => bytes
                .strip_prefix(SPKI_ED25519_PREFIX.as_slice())
                .ok_or_else(|| {
                    bad_secret("the 44-byte webhook public key is not an Ed25519 SubjectPublicKeyInfo")
                })?,
            n => {
                return Err(bad_secret(format!(
                "the webhook public key is {n} bytes; expected 32 (raw Ed25519) or 44 (DER SubjectPublicKeyInfo)"
            )))
            }
        };
        let key = <[u8; 32]>::try_from(raw)
            .map_err(|_| bad_secret("the webhook public key must hold 32 key bytes"))?;
        if crypto::ed25519_has_small_order(&key) {
            return Err(bad_secret(
                "the webhook public key is an Ed25519 point of small order: anyone can sign for it",
            ));
        }
        Ok(WebhookPublicKey { key })
    }

    /// A public key from its raw 32 bytes. One of small order (see [`parse`](Self::parse)) is
    /// kept but verifies no signature.
    pub fn from_bytes(key: [u8; 32]) -> WebhookPublicKey {
        WebhookPublicKey { key }
    }

    /// The raw 32-byte key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// The serialized form, `whpk_<base64 of the raw 32 bytes>`.
    pub fn encode(&self) -> String {
        format!(
            "{PUBLIC_KEY_PREFIX}{}",
            base64url::encode_standard(&self.key)
        )
    }
}

/// An Ed25519 signing key for the `v1a` scheme: its 32-byte seed and public half.
#[derive(Clone)]
pub struct WebhookSigningKey {
    seed: [u8; 32],
    public: [u8; 32],
}

impl core::fmt::Debug for WebhookSigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebhookSigningKey")
            .field("public", &self.public_key().encode())
            .finish_non_exhaustive()
    }
}

impl WebhookSigningKey {
    /// Parses `whsk_<base64>` (the prefix is optional): canonical padded standard base64 of the
    /// 32-byte seed, of 64 bytes `seed || public key` (the public half must match the seed), or of
    /// the 48-byte DER PKCS#8 v1 document.
    pub fn parse(text: &str) -> Result<WebhookSigningKey, Error> {
        let body = key_body(text, SIGNING_KEY_PREFIX, "an Ed25519 signing key (whsk_)")?;
        let bytes = decode_key_text(body, "the webhook signing key", 64)?;
        let (seed, public) = match bytes.len() {
            32 => (bytes.as_slice(), None),
            48 => (
                bytes
                    .strip_prefix(PKCS8_ED25519_PREFIX.as_slice())
                    .ok_or_else(|| {
                        bad_secret("the 48-byte webhook signing key is not an Ed25519 PKCS#8 document")
                    })?,
                None,
            ),
            64 => {
                let (seed, public) = bytes.split_at(32);
                (seed, Some(public))
            }
            n => {
                return Err(bad_secret(format!(
                "the webhook signing key is {n} bytes; expected a 32-byte seed, 64 bytes (seed and public key) or a 48-byte PKCS#8 document"
            )))
            }
        };
        let key = WebhookSigningKey::from_seed(seed)?;
        if let Some(public) = public {
            if public != key.public.as_slice() {
                return Err(bad_secret(
                    "the webhook signing key's public half does not match its seed",
                ));
            }
        }
        Ok(key)
    }

    fn from_seed(seed: &[u8]) -> Result<WebhookSigningKey, Error> {
        let (_, public) = crypto::ed25519_sign_with_seed(seed, b"")
            .map_err(|reason| bad_secret(format!("the webhook signing key: {reason}")))?;
        let seed = <[u8; 32]>::try_from(seed)
            .map_err(|_| bad_secret("the webhook signing key seed must be 32 bytes"))?;
        Ok(WebhookSigningKey { seed, public })
    }

    /// A fresh key pair from the operating system's secure random source.
    pub fn generate() -> Result<WebhookSigningKey, Error> {
        let seed = crypto::random_bytes(32).map_err(|reason| Error::KeyGenerationFailed {
            reason: reason.to_owned(),
        })?;
        WebhookSigningKey::from_seed(&seed)
    }

    /// The public half, to give to receivers.
    pub fn public_key(&self) -> WebhookPublicKey {
        WebhookPublicKey { key: self.public }
    }

    /// The serialized form, `whsk_<base64 of the 32-byte seed>` (secret: do not log it).
    pub fn encode(&self) -> String {
        format!(
            "{SIGNING_KEY_PREFIX}{}",
            base64url::encode_standard(&self.seed)
        )
    }
}

/// A fresh `whsec_` secret (32 random bytes).
pub fn generate_secret() -> Result<String, Error> {
    Ok(WebhookSecret::generate()?.encode())
}

/// A fresh Ed25519 pair: `(whsk_ signing key, whpk_ public key)`.
pub fn generate_key_pair() -> Result<(String, String), Error> {
    let key = WebhookSigningKey::generate()?;
    Ok((key.encode(), key.public_key().encode()))
}

/// `<id>.<timestamp>.<body>`.
fn signed_content(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(
        id.len()
            .saturating_add(timestamp.len())
            .saturating_add(body.len())
            .saturating_add(2),
    );
    msg.extend_from_slice(id.as_bytes());
    msg.push(b'.');
    msg.extend_from_slice(timestamp.as_bytes());
    msg.push(b'.');
    msg.extend_from_slice(body);
    msg
}

/// Checks a `webhook-id`: 1 to [`MAX_ID_BYTES`] visible ASCII characters, no `.`.
fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("webhook-id is empty".to_owned());
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!(
            "webhook-id is {} bytes, more than the limit of {MAX_ID_BYTES}",
            id.len()
        ));
    }
    if id.contains('.') {
        return Err(
            "webhook-id contains '.', which would make the signed content ambiguous".to_owned(),
        );
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "webhook-id may contain only visible ASCII characters (no spaces, control characters or non-ASCII)"
                .to_owned(),
        );
    }
    Ok(())
}

/// Parses `webhook-timestamp`: decimal Unix seconds, digits only, no leading zero.
fn parse_timestamp(ts: &str) -> Result<u64, Error> {
    if ts.is_empty() {
        return Err(malformed("webhook-timestamp is empty"));
    }
    if ts.len() > MAX_TIMESTAMP_DIGITS {
        return Err(malformed(format!(
            "webhook-timestamp is {} bytes; it is Unix seconds of at most {MAX_TIMESTAMP_DIGITS} digits",
            ts.len()
        )));
    }
    if !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(
            "webhook-timestamp must be integer Unix seconds: ASCII digits only (no sign, fraction or whitespace)",
        ));
    }
    if ts.len() > 1 && ts.starts_with('0') {
        return Err(malformed("webhook-timestamp has a leading zero"));
    }
    ts.parse::<u64>()
        .map_err(|_| malformed("webhook-timestamp is not a valid integer"))
}

/// One `<version>,<signature>` entry of a `webhook-signature` header, not yet checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureEntry<'a> {
    /// The version identifier (`v1`, `v1a`, or one Tollgate does not know).
    pub version: &'a str,
    /// The base64 signature text, exactly as sent.
    pub signature: &'a str,
}

impl SignatureEntry<'_> {
    /// The entry's scheme, if Tollgate knows its version.
    pub fn scheme(&self) -> Option<WebhookScheme> {
        WebhookScheme::from_version(self.version)
    }
}

/// The parsed `webhook-signature` header.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureHeader<'a> {
    /// The `<version>,<signature>` entries, in header order.
    pub entries: Vec<SignatureEntry<'a>>,
    /// Space-separated items without a `,` or with an empty version: never checked.
    pub unparsable: usize,
}

/// Parses a `webhook-signature` header without checking any signature.
///
/// Fails ([`ErrorCode::WebhookMalformed`]) if the header is longer than
/// [`MAX_SIGNATURE_HEADER_BYTES`], contains anything but visible ASCII and spaces, has no item, or
/// has more than [`MAX_SIGNATURE_ENTRIES`] items or more than [`MAX_V1A_ENTRIES`] `v1a` entries.
/// Items are separated by one or more spaces; an item
/// without a `,` (or with nothing before it) is counted in `unparsable` and otherwise ignored.
pub fn parse_signature_header(header: &str) -> Result<SignatureHeader<'_>, Error> {
    if header.len() > MAX_SIGNATURE_HEADER_BYTES {
        return Err(malformed(format!(
            "webhook-signature is {} bytes, more than the limit of {MAX_SIGNATURE_HEADER_BYTES}",
            header.len()
        )));
    }
    if !header.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return Err(malformed(
            "webhook-signature may contain only visible ASCII characters and spaces",
        ));
    }
    let mut parsed = SignatureHeader {
        entries: Vec::new(),
        unparsable: 0,
    };
    let mut items = 0usize;
    for item in header.split(' ').filter(|item| !item.is_empty()) {
        items = items.saturating_add(1);
        if items > MAX_SIGNATURE_ENTRIES {
            return Err(malformed(format!(
                "webhook-signature has more than {MAX_SIGNATURE_ENTRIES} entries"
            )));
        }
        match item.split_once(',') {
            Some((version, signature)) if !version.is_empty() => {
                parsed.entries.push(SignatureEntry { version, signature });
            }
            _ => parsed.unparsable = parsed.unparsable.saturating_add(1),
        }
    }
    if items == 0 {
        return Err(malformed("webhook-signature is empty"));
    }
    let v1a = parsed
        .entries
        .iter()
        .filter(|e| e.scheme() == Some(WebhookScheme::V1a))
        .count();
    if v1a > MAX_V1A_ENTRIES {
        return Err(malformed(format!(
            "webhook-signature has {v1a} v1a entries, more than the limit of {MAX_V1A_ENTRIES}"
        )));
    }
    Ok(parsed)
}

/// Checks Standard Webhooks deliveries against a set of `whsec_` secrets and `whpk_` public keys.
///
/// Holding several keys is how rotation works: a delivery passes if any entry of its
/// `webhook-signature` verifies under any key of the entry's scheme. A verifier is immutable once
/// built and can be shared between threads.
///
/// Cost: at most [`MAX_VERIFIER_KEYS`] HMACs over the signed content, plus, for `v1a`, one Ed25519
/// check per (`v1a` entry, public key) pair: at most [`MAX_V1A_ENTRIES`] × [`MAX_VERIFIER_KEYS`],
/// each hashing the body.
#[derive(Clone)]
pub struct WebhookVerifier {
    secrets: Vec<WebhookSecret>,
    public_keys: Vec<WebhookPublicKey>,
    tolerance: u64,
    max_body_bytes: usize,
}

impl core::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secrets", &self.secrets.len())
            .field("public_keys", &self.public_keys)
            .field("tolerance", &self.tolerance)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl Default for WebhookVerifier {
    fn default() -> Self {
        WebhookVerifier::new()
    }
}

impl WebhookVerifier {
    /// A verifier with no keys yet, the default tolerance ([`DEFAULT_TOLERANCE_SECS`]) and body
    /// limit ([`DEFAULT_MAX_BODY_BYTES`]).
    pub fn new() -> WebhookVerifier {
        WebhookVerifier {
            secrets: Vec::new(),
            public_keys: Vec::new(),
            tolerance: DEFAULT_TOLERANCE_SECS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Sets the timestamp tolerance in seconds (at most [`MAX_TOLERANCE_SECS`]): a delivery is
    /// accepted iff `|now - webhook-timestamp| <= tolerance`.
    pub fn with_tolerance(mut self, seconds: u64) -> Result<WebhookVerifier, Error> {
        if seconds > MAX_TOLERANCE_SECS {
            return Err(options(format!(
                "webhook tolerance {seconds}s is more than the maximum of {MAX_TOLERANCE_SECS}s"
            )));
        }
        self.tolerance = seconds;
        Ok(self)
    }

    /// Sets the largest body accepted, in bytes (1 to [`MAX_BODY_BYTES`]).
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Result<WebhookVerifier, Error> {
        if bytes == 0 || bytes > MAX_BODY_BYTES {
            return Err(options(format!(
                "webhook body limit {bytes} must be between 1 and {MAX_BODY_BYTES} bytes"
            )));
        }
        self.max_body_bytes = bytes;
        Ok(self)
    }

    /// The timestamp tolerance, in seconds.
    pub fn tolerance(&self) -> u64 {
        self.tolerance
    }

    /// The largest body accepted, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// How many secrets and public keys the verifier holds.
    pub fn key_count(&self) -> usize {
        self.secrets.len().saturating_add(self.public_keys.len())
    }

    fn check_room(&self) -> Result<(), Error> {
        if self.key_count() >= MAX_VERIFIER_KEYS {
            return Err(bad_secret(format!(
                "a webhook verifier holds at most {MAX_VERIFIER_KEYS} secrets and public keys"
            )));
        }
        Ok(())
    }

    /// Adds an HMAC secret for `v1` entries: `whsec_<base64>`, the prefix optional.
    pub fn add_secret(&mut self, secret: &str) -> Result<(), Error> {
        self.check_room()?;
        self.secrets.push(WebhookSecret::parse(secret)?);
        Ok(())
    }

    /// Adds an Ed25519 public key for `v1a` entries: `whpk_<base64>`, the prefix optional.
    pub fn add_public_key(&mut self, key: &str) -> Result<(), Error> {
        self.check_room()?;
        self.public_keys.push(WebhookPublicKey::parse(key)?);
        Ok(())
    }

    /// Adds a key whose prefix says what it is: `whsec_…` (a secret) or `whpk_…` (a public key).
    ///
    /// Unlike [`add_secret`](Self::add_secret) the prefix is required: a bare base64 public key must
    /// never be mistaken for an HMAC secret, because anyone who knows it could then forge `v1`
    /// signatures. A `whsk_` signing key is refused: receivers need only its `whpk_` half.
    pub fn add_key(&mut self, key: &str) -> Result<(), Error> {
        if key.starts_with(SECRET_PREFIX) {
            self.add_secret(key)
        } else if key.starts_with(PUBLIC_KEY_PREFIX) {
            self.add_public_key(key)
        } else if key.starts_with(SIGNING_KEY_PREFIX) {
            Err(bad_secret(
                "a whsk_ signing key is private; give the verifier its whpk_ public key",
            ))
        } else {
            Err(bad_secret(
                "a webhook key must start with whsec_ (HMAC secret) or whpk_ (Ed25519 public key)",
            ))
        }
    }

    /// Adds an already-parsed secret.
    pub fn add_parsed_secret(&mut self, secret: WebhookSecret) -> Result<(), Error> {
        self.check_room()?;
        self.secrets.push(secret);
        Ok(())
    }

    /// Adds an already-parsed public key.
    pub fn add_parsed_public_key(&mut self, key: WebhookPublicKey) -> Result<(), Error> {
        self.check_room()?;
        self.public_keys.push(key);
        Ok(())
    }

    /// Verifies one delivery at time `now` (Unix seconds): `id`, `timestamp` and
    /// `signature_header` are the three header values exactly as received, `body` the raw body.
    ///
    /// Errors: [`ErrorCode::WebhookBodyTooLarge`], [`ErrorCode::WebhookMalformed`],
    /// [`ErrorCode::WebhookTimestamp`], [`ErrorCode::WebhookSignatureInvalid`], and
    /// [`ErrorCode::InvalidWebhookSecret`] if the verifier holds no key. This does not detect
    /// replays: see [`verify_and_record`](Self::verify_and_record).
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signature_header: &str,
        body: &[u8],
        now: u64,
    ) -> Result<(), Error> {
        self.check(id, timestamp, signature_header, body, now)
            .map(|_| ())
    }

    /// [`verify`](Self::verify), taking the three headers from a list of `(name, value)` pairs.
    /// Names are compared case-insensitively; other headers are ignored; a missing header, or one
    /// of the three given more than once, is [`ErrorCode::WebhookMalformed`].
    pub fn verify_headers(
        &self,
        headers: &[(&str, &str)],
        body: &[u8],
        now: u64,
    ) -> Result<(), Error> {
        let (id, timestamp, signature) = find_headers(headers)?;
        self.verify(id, timestamp, signature, body, now)
    }

    /// Verifies the delivery, then records it in `guard` by its id and body; a verified delivery
    /// already recorded is [`ErrorCode::WebhookReplayed`]. A sender's retries of one message
    /// repeat both; another sender's message under the same id (verifiers for several senders
    /// may share a guard) is not a replay of it.
    ///
    /// Only deliveries whose signature verified are recorded, so forged requests cannot fill the
    /// guard or block a genuine id. The delivery is remembered until `max(timestamp, now)` plus
    /// the larger of this verifier's tolerance and the guard's window: as long as the same signed
    /// delivery could pass the timestamp check. A delivery whose window had ended by the latest
    /// `now` the guard was given (by another thread that read the clock later) is refused with
    /// [`ErrorCode::WebhookTimestamp`]: its earlier copy may have been dropped.
    pub fn verify_and_record(
        &self,
        guard: &ReplayGuard,
        id: &str,
        timestamp: &str,
        signature_header: &str,
        body: &[u8],
        now: u64,
    ) -> Result<(), Error> {
        let ts = self.check(id, timestamp, signature_header, body, now)?;
        let window = self.tolerance.max(guard.window);
        guard.record(&delivery_key(id, body), ts, window, now)
    }

    /// [`verify_and_record`](Self::verify_and_record) with the headers as in
    /// [`verify_headers`](Self::verify_headers).
    pub fn verify_headers_and_record(
        &self,
        guard: &ReplayGuard,
        headers: &[(&str, &str)],
        body: &[u8],
        now: u64,
    ) -> Result<(), Error> {
        let (id, timestamp, signature) = find_headers(headers)?;
        self.verify_and_record(guard, id, timestamp, signature, body, now)
    }

    /// Verifies the delivery for a host whose replay guard is a shared store (Redis), so that a
    /// delivery replayed to another instance is refused there too. The answer is the pending
    /// step "is this delivery new?": the host claims [`ReplayClaim::store_key`] atomically for
    /// [`ReplayClaim::ttl_secs`] (`SET <key> 1 NX EX <ttl>`) and settles the claim with whether
    /// it was set; `false` is [`ErrorCode::WebhookReplayed`]. A host whose store does not answer
    /// must refuse the delivery (the sender retries). As with
    /// [`verify_and_record`](Self::verify_and_record), only verified deliveries claim a key, and
    /// `window` is the guard's window, at most [`MAX_TOLERANCE_SECS`] (the claim lasts through
    /// the second `max(timestamp, now)` plus the larger of it and this verifier's tolerance: `now`
    /// is whole seconds, so the TTL counts the second the claim is made in).
    pub fn verify_for_store(
        &self,
        id: &str,
        timestamp: &str,
        signature_header: &str,
        body: &[u8],
        now: u64,
        window: u64,
    ) -> Result<ReplayClaim, Error> {
        if window > MAX_TOLERANCE_SECS {
            return Err(options(format!(
                "replay window {window}s is more than the maximum of {MAX_TOLERANCE_SECS}s"
            )));
        }
        let ts = self.check(id, timestamp, signature_header, body, now)?;
        let until = ts.max(now).saturating_add(self.tolerance.max(window));
        // The delivery passes the timestamp check while `now <= until`, that is until the wall
        // clock reaches `until + 1`; the claim is made some fraction past `now`.
        Ok(ReplayClaim {
            key: format!("tollgate:webhook:{}", delivery_hash(id, body)),
            ttl_secs: until.saturating_sub(now).saturating_add(1),
        })
    }

    /// [`verify_for_store`](Self::verify_for_store) with the headers as in
    /// [`verify_headers`](Self::verify_headers).
    pub fn verify_headers_for_store(
        &self,
        headers: &[(&str, &str)],
        body: &[u8],
        now: u64,
        window: u64,
    ) -> Result<ReplayClaim, Error> {
        let (id, timestamp, signature) = find_headers(headers)?;
        self.verify_for_store(id, timestamp, signature, body, now, window)
    }

    /// All checks, in the documented order; returns the parsed timestamp.
    fn check(
        &self,
        id: &str,
        timestamp: &str,
        signature_header: &str,
        body: &[u8],
        now: u64,
    ) -> Result<u64, Error> {
        if self.key_count() == 0 {
            return Err(bad_secret(
                "the webhook verifier holds no secret or public key",
            ));
        }
        if body.len() > self.max_body_bytes {
            return Err(rejected(
                ErrorCode::WebhookBodyTooLarge,
                format!(
                    "webhook body is {} bytes, more than the limit of {}",
                    body.len(),
                    self.max_body_bytes
                ),
            ));
        }
        check_id(id).map_err(malformed)?;
        let ts = parse_timestamp(timestamp)?;
        let header = parse_signature_header(signature_header)?;

        let skew = now.abs_diff(ts);
        if skew > self.tolerance {
            let (dir, delta) = if ts < now {
                ("before", now.saturating_sub(ts))
            } else {
                ("after", ts.saturating_sub(now))
            };
            return Err(rejected(
                ErrorCode::WebhookTimestamp,
                format!(
                    "webhook timestamp {ts} is {delta}s {dir} now ({now}); the tolerance is {}s",
                    self.tolerance
                ),
            ));
        }

        let msg = signed_content(id, timestamp, body);
        if self.any_entry_verifies(&header, &msg) {
            return Ok(ts);
        }
        let count = |s: WebhookScheme| {
            header
                .entries
                .iter()
                .filter(|e| e.scheme() == Some(s))
                .count()
        };
        Err(rejected(
            ErrorCode::WebhookSignatureInvalid,
            format!(
                "no webhook signature verifies ({} v1 entries for {} secret(s), {} v1a entries for {} public key(s), {} other)",
                count(WebhookScheme::V1),
                self.secrets.len(),
                count(WebhookScheme::V1a),
                self.public_keys.len(),
                header
                    .entries
                    .len()
                    .saturating_add(header.unparsable)
                    .saturating_sub(count(WebhookScheme::V1))
                    .saturating_sub(count(WebhookScheme::V1a)),
            ),
        ))
    }

    fn any_entry_verifies(&self, header: &SignatureHeader<'_>, msg: &[u8]) -> bool {
        // One HMAC per secret, computed only if some v1 entry could match, then compared with each
        // entry in constant time.
        let mut tags: Option<Vec<[u8; 32]>> = None;
        for entry in &header.entries {
            match entry.scheme() {
                Some(WebhookScheme::V1) if !self.secrets.is_empty() => {
                    if entry.signature.len() != V1_SIGNATURE_CHARS {
                        continue;
                    }
                    let Ok(sig) = base64url::decode_standard(entry.signature.as_bytes()) else {
                        continue;
                    };
                    let tags = tags.get_or_insert_with(|| {
                        self.secrets
                            .iter()
                            .map(|s| crypto::hmac_sha256(s.as_bytes(), msg))
                            .collect()
                    });
                    if tags.iter().any(|tag| crypto::constant_time_eq(tag, &sig)) {
                        return true;
                    }
                }
                Some(WebhookScheme::V1a) if !self.public_keys.is_empty() => {
                    if entry.signature.len() != V1A_SIGNATURE_CHARS {
                        continue;
                    }
                    let Ok(sig) = base64url::decode_standard(entry.signature.as_bytes()) else {
                        continue;
                    };
                    if self
                        .public_keys
                        .iter()
                        .any(|pk| crypto::ed25519_verify(pk.as_bytes(), msg, &sig))
                    {
                        return true;
                    }
                }
                // Unknown versions, and schemes this verifier holds no key for.
                _ => {}
            }
        }
        false
    }
}

/// Finds the three webhook headers (case-insensitive names), refusing missing or repeated ones.
fn find_headers<'h>(headers: &[(&str, &'h str)]) -> Result<(&'h str, &'h str, &'h str), Error> {
    let mut found: [Option<&'h str>; 3] = [None, None, None];
    let names = [HEADER_ID, HEADER_TIMESTAMP, HEADER_SIGNATURE];
    for (name, value) in headers {
        for (slot, wanted) in found.iter_mut().zip(names) {
            if name.eq_ignore_ascii_case(wanted) {
                if slot.is_some() {
                    return Err(malformed(format!(
                        "the {wanted} header appears more than once"
                    )));
                }
                *slot = Some(value);
            }
        }
    }
    let take = |slot: Option<&'h str>, name: &str| {
        slot.ok_or_else(|| malformed(format!("the {name} header is missing")))
    };
    let [id, timestamp, signature] = found;
    Ok((
        take(id, HEADER_ID)?,
        take(timestamp, HEADER_TIMESTAMP)?,
        take(signature, HEADER_SIGNATURE)?,
    ))
}

/// Signs deliveries with a `whsec_` secret (`v1`) or a `whsk_` signing key (`v1a`).
#[derive(Clone, Debug)]
pub struct WebhookSigner {
    key: SignerKey,
}

#[derive(Clone, Debug)]
enum SignerKey {
    Hmac(WebhookSecret),
    Ed25519(WebhookSigningKey),
}

impl WebhookSigner {
    /// A signer from a key whose prefix says its scheme: `whsec_…` signs `v1`, `whsk_…` signs
    /// `v1a`. The prefix is required here; use [`from_secret`](Self::from_secret) for a bare secret.
    pub fn new(key: &str) -> Result<WebhookSigner, Error> {
        if key.starts_with(SECRET_PREFIX) {
            Ok(WebhookSigner::from_secret(WebhookSecret::parse(key)?))
        } else if key.starts_with(SIGNING_KEY_PREFIX) {
            Ok(WebhookSigner::from_signing_key(WebhookSigningKey::parse(
                key,
            )?))
        } else if key.starts_with(PUBLIC_KEY_PREFIX) {
            Err(bad_secret(
                "a whpk_ public key cannot sign; use its whsk_ signing key",
            ))
        } else {
            Err(bad_secret(
                "a webhook signing key must start with whsec_ (HMAC secret) or whsk_ (Ed25519 signing key)",
            ))
        }
    }

    /// A `v1` signer.
    pub fn from_secret(secret: WebhookSecret) -> WebhookSigner {
        WebhookSigner {
            key: SignerKey::Hmac(secret),
        }
    }

    /// A `v1a` signer.
    pub fn from_signing_key(key: WebhookSigningKey) -> WebhookSigner {
        WebhookSigner {
            key: SignerKey::Ed25519(key),
        }
    }

    /// The scheme this signer produces.
    pub fn scheme(&self) -> WebhookScheme {
        match self.key {
            SignerKey::Hmac(_) => WebhookScheme::V1,
            SignerKey::Ed25519(_) => WebhookScheme::V1a,
        }
    }

    /// The public key receivers verify `v1a` signatures with (`None` for `v1`).
    pub fn public_key(&self) -> Option<WebhookPublicKey> {
        match &self.key {
            SignerKey::Hmac(_) => None,
            SignerKey::Ed25519(key) => Some(key.public_key()),
        }
    }

    /// The `webhook-signature` value (`v1,<base64>` or `v1a,<base64>`) for a delivery. `id` must
    /// satisfy the same rules the verifier enforces ([`ErrorCode::SigningFailed`] otherwise).
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> Result<String, Error> {
        check_id(id).map_err(|reason| Error::SigningFailed { reason })?;
        let msg = signed_content(id, &timestamp.to_string(), body);
        let (scheme, sig) = match &self.key {
            SignerKey::Hmac(secret) => (
                WebhookScheme::V1,
                crypto::hmac_sha256(secret.as_bytes(), &msg).to_vec(),
            ),
            SignerKey::Ed25519(key) => {
                let (sig, _) =
                    crypto::ed25519_sign_with_seed(&key.seed, &msg).map_err(|reason| {
                        Error::SigningFailed {
                            reason: reason.to_owned(),
                        }
                    })?;
                (WebhookScheme::V1a, sig.to_vec())
            }
        };
        Ok(format!(
            "{},{}",
            scheme.version(),
            base64url::encode_standard(&sig)
        ))
    }
}

/// A verified webhook delivery whose id must still be claimed in a shared store (see
/// [`WebhookVerifier::verify_for_store`]): the pending step "is this id new?".
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a delivery is accepted only once its claim is settled"]
pub struct ReplayClaim {
    key: String,
    ttl_secs: u64,
}

impl ReplayClaim {
    /// The key to claim: `tollgate:webhook:<SHA-256 of "<webhook-id>.<body>", hex>`.
    ///
    /// The body is in the key because one store serves every sender: with the id alone, a
    /// sender whose deliveries a verifier sharing the store accepts could claim another
    /// sender's (often predictable) ids first and get its deliveries refused as replays. A
    /// sender's retries of a message repeat its id and body, so they are still refused after
    /// one was accepted; a delivery with the same id and another body is not a replay of it.
    pub fn store_key(&self) -> &str {
        &self.key
    }

    /// How long to hold the claim, in seconds (at least 1): as long as the same signed delivery
    /// could pass the timestamp check.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// The delivery's verdict, given whether the atomic claim set the key (`SET NX` answered OK):
    /// `false` means another delivery of this id got there first — [`ErrorCode::WebhookReplayed`].
    pub fn settle(self, newly_claimed: bool) -> Result<(), Error> {
        if newly_claimed {
            Ok(())
        } else {
            Err(rejected(
                ErrorCode::WebhookReplayed,
                "webhook-id was already accepted (by this or another instance)".to_owned(),
            ))
        }
    }
}

/// What identifies a delivery for replay detection: the SHA-256 of `<id>.<body>` (the id holds
/// no '.'), hex. Not the id alone: one guard or store may serve several senders, and one could
/// otherwise claim another's (often predictable) ids first. A sender's retries repeat id and body.
fn delivery_hash(id: &str, body: &[u8]) -> String {
    crate::record::hex(&crypto::sha256_of_parts(&[id.as_bytes(), b".", body]))
}

/// The key [`WebhookVerifier::verify_and_record`] records in a [`ReplayGuard`]: the id, a space
/// (which no id holds, so it cannot meet a key of [`ReplayGuard::check_and_record`]) and
/// [`delivery_hash`].
fn delivery_key(id: &str, body: &[u8]) -> String {
    format!("{id} {}", delivery_hash(id, body))
}

/// Remembers accepted deliveries so that a second delivery of one inside the tolerance window is
/// refused ([`ErrorCode::WebhookReplayed`]). [`WebhookVerifier::verify_and_record`] records each
/// by its id and body, so verifiers for several senders may share one guard;
/// [`check_and_record`](Self::check_and_record) records a bare id. The host passes `now`; it
/// reads no clock.
///
/// Bounded: it holds at most `capacity` ids. Expired ids are dropped as time passes; when the
/// guard is full of ids still inside their window, a new delivery is refused with
/// [`ErrorCode::WebhookReplayGuardFull`] (503, the sender retries later) rather than forgetting an
/// id early, which would reopen the replay window. Size the capacity above the deliveries one
/// window can bring.
///
/// Thread-safe: every method takes `&self` and a short internal lock. Record only verified
/// deliveries (see [`WebhookVerifier::verify_and_record`]). Each verified delivery takes a place
/// until its window ends, so a sender can fill a guard it shares with others: give senders that
/// do not trust each other a guard each.
#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    window: u64,
    state: Mutex<ReplayState>,
}

#[derive(Debug, Default)]
struct ReplayState {
    /// id → the last second it is remembered.
    by_id: HashMap<Arc<str>, u64>,
    /// The same entries, ordered by expiry, to drop expired ones cheaply.
    by_expiry: BTreeSet<(u64, Arc<str>)>,
    /// The latest `now` the guard has purged at: ids whose last second is before it are gone,
    /// so a delivery whose window ended before it can no longer be told from a replay.
    latest: u64,
}

impl ReplayState {
    /// Drops every id whose expiry is before `now`; returns how many.
    fn purge(&mut self, now: u64) -> usize {
        self.latest = self.latest.max(now);
        let mut dropped = 0usize;
        while let Some((expiry, _)) = self.by_expiry.first() {
            if *expiry >= now {
                break;
            }
            if let Some((_, id)) = self.by_expiry.pop_first() {
                self.by_id.remove(&id);
                dropped = dropped.saturating_add(1);
            }
        }
        dropped
    }
}

impl ReplayGuard {
    /// A guard holding at most `capacity` ids (1 to [`MAX_REPLAY_CAPACITY`]), remembering each for
    /// [`DEFAULT_TOLERANCE_SECS`] past its delivery.
    pub fn new(capacity: usize) -> Result<ReplayGuard, Error> {
        if capacity == 0 || capacity > MAX_REPLAY_CAPACITY {
            return Err(options(format!(
                "replay guard capacity {capacity} must be between 1 and {MAX_REPLAY_CAPACITY}"
            )));
        }
        Ok(ReplayGuard {
            capacity,
            window: DEFAULT_TOLERANCE_SECS,
            state: Mutex::new(ReplayState::default()),
        })
    }

    /// Sets the window in seconds (at most [`MAX_TOLERANCE_SECS`]). Use at least the verifier's
    /// tolerance; [`WebhookVerifier::verify_and_record`] uses the larger of the two anyway.
    pub fn with_window(mut self, seconds: u64) -> Result<ReplayGuard, Error> {
        if seconds > MAX_TOLERANCE_SECS {
            return Err(options(format!(
                "replay window {seconds}s is more than the maximum of {MAX_TOLERANCE_SECS}s"
            )));
        }
        self.window = seconds;
        Ok(self)
    }

    /// The most ids held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The window, in seconds.
    pub fn window(&self) -> u64 {
        self.window
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ReplayState> {
        // The state stays consistent even if a holder panicked (nothing under the lock can leave
        // it half-updated in a way that matters), so a poisoned lock is used as is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many ids are held (expired ones included until the next call that purges).
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the ids whose window ended before `now`; returns how many.
    pub fn purge(&self, now: u64) -> usize {
        self.lock().purge(now)
    }

    /// Records `id` for a delivery with timestamp `timestamp`, accepted at `now`, remembering it
    /// until `max(timestamp, now) + window`. Fails with [`ErrorCode::WebhookReplayed`] if it is
    /// already held, [`ErrorCode::WebhookReplayGuardFull`] if the guard is full,
    /// [`ErrorCode::WebhookMalformed`] for an id the verifier would refuse, and
    /// [`ErrorCode::WebhookTimestamp`] if the guard was already given a `now` past
    /// `timestamp + window` (another thread's later clock read: an earlier copy of this delivery
    /// may have been dropped at it).
    ///
    /// Call it only after the delivery's signature verified.
    pub fn check_and_record(&self, id: &str, timestamp: u64, now: u64) -> Result<(), Error> {
        check_id(id).map_err(malformed)?;
        self.record(id, timestamp, self.window, now)
    }

    /// Records `id` (an id, or a [`delivery_key`]) of a delivery stamped `timestamp`, accepted at
    /// `now`, until `max(timestamp, now) + window`.
    fn record(&self, id: &str, timestamp: u64, window: u64, now: u64) -> Result<(), Error> {
        let expires = timestamp.max(now).saturating_add(window);
        let mut state = self.lock();
        state.purge(now);
        // An earlier copy of this delivery was remembered until at least `timestamp + window`.
        // A caller whose clock read came later (or ran ahead) may have dropped it since: by that
        // clock the delivery is stale, and it cannot be told from a replay.
        let forgotten_after = timestamp.saturating_add(window);
        if forgotten_after < state.latest {
            return Err(rejected(
                ErrorCode::WebhookTimestamp,
                format!(
                    "the delivery's replay window ended at {forgotten_after}, before {} (the \
                     latest time the replay guard was given)",
                    state.latest
                ),
            ));
        }
        if let Some(until) = state.by_id.get(id) {
            return Err(rejected(
                ErrorCode::WebhookReplayed,
                format!("webhook-id was already accepted; it is remembered until {until}"),
            ));
        }
        if state.by_id.len() >= self.capacity {
            return Err(rejected(
                ErrorCode::WebhookReplayGuardFull,
                format!(
                    "the replay guard holds {} ids, all inside their window; retry later",
                    self.capacity
                ),
            ));
        }
        let id: Arc<str> = Arc::from(id);
        state.by_id.insert(Arc::clone(&id), expires);
        state.by_expiry.insert((expires, id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KAT_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const KAT_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const KAT_TS: u64 = 1614265330;
    const KAT_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const KAT_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn kat_verifier() -> WebhookVerifier {
        let mut v = WebhookVerifier::new();
        v.add_secret(KAT_SECRET).unwrap();
        v
    }

    #[test]
    fn official_known_answer() {
        let signer = WebhookSigner::new(KAT_SECRET).unwrap();
        assert_eq!(signer.sign(KAT_ID, KAT_TS, KAT_BODY).unwrap(), KAT_SIG);
        kat_verifier()
            .verify(KAT_ID, "1614265330", KAT_SIG, KAT_BODY, KAT_TS)
            .unwrap();
    }

    #[test]
    fn timestamp_syntax_is_strict() {
        for bad in [
            "",
            "+1614265330",
            "-1",
            "1614265330.0",
            " 1614265330",
            "1614265330 ",
            "01614265330",
            "1e9",
            "0x10",
            "1234567890123",
        ] {
            let err = parse_timestamp(bad).unwrap_err();
            assert_eq!(err.code(), ErrorCode::WebhookMalformed, "{bad:?}");
        }
        assert_eq!(parse_timestamp("0").unwrap(), 0);
        assert_eq!(parse_timestamp("999999999999").unwrap(), 999_999_999_999);
    }

    #[test]
    fn id_rules() {
        assert!(check_id("msg_1").is_ok());
        assert!(check_id(&"a".repeat(MAX_ID_BYTES)).is_ok());
        for bad in ["", "a.b", "a b", "a\tb", "a\u{7f}", "é", "a\nb"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
        assert!(check_id(&"a".repeat(MAX_ID_BYTES + 1)).is_err());
    }

    #[test]
    fn header_parsing() {
        let h = parse_signature_header("v1,a  v2,b x ,c v1a,d").unwrap();
        assert_eq!(h.entries.len(), 3);
        assert_eq!(h.unparsable, 2);
        assert_eq!(h.entries[2].scheme(), Some(WebhookScheme::V1a));
        assert!(parse_signature_header(" ").is_err());
        assert!(parse_signature_header("").is_err());
        assert!(parse_signature_header("v1,a\tv1,b").is_err());
        let many = vec!["v1,a"; MAX_SIGNATURE_ENTRIES + 1].join(" ");
        assert!(parse_signature_header(&many).is_err());
        let enough = vec!["v1,a"; MAX_SIGNATURE_ENTRIES].join(" ");
        assert!(parse_signature_header(&enough).is_ok());
    }

    #[test]
    fn keys_round_trip_and_debug_redacts() {
        let secret = WebhookSecret::generate().unwrap();
        assert_eq!(
            WebhookSecret::parse(&secret.encode()).unwrap().as_bytes(),
            secret.as_bytes()
        );
        assert!(!format!("{secret:?}").contains(&secret.encode()[6..]));
        let key = WebhookSigningKey::generate().unwrap();
        let parsed = WebhookSigningKey::parse(&key.encode()).unwrap();
        assert_eq!(parsed.public_key(), key.public_key());
        assert!(!format!("{key:?}").contains(&key.encode()[5..]));
        assert_eq!(
            WebhookPublicKey::parse(&key.public_key().encode()).unwrap(),
            key.public_key()
        );
    }

    #[test]
    fn signing_key_forms() {
        let key = WebhookSigningKey::generate().unwrap();
        let mut both = key.seed.to_vec();
        both.extend_from_slice(&key.public);
        let text = format!("whsk_{}", base64url::encode_standard(&both));
        assert_eq!(WebhookSigningKey::parse(&text).unwrap().public, key.public);
        both[63] ^= 1;
        let text = format!("whsk_{}", base64url::encode_standard(&both));
        assert_eq!(
            WebhookSigningKey::parse(&text).unwrap_err().code(),
            ErrorCode::InvalidWebhookSecret
        );
        let mut pkcs8 = PKCS8_ED25519_PREFIX.to_vec();
        pkcs8.extend_from_slice(&key.seed);
        let text = format!("whsk_{}", base64url::encode_standard(&pkcs8));
        assert_eq!(WebhookSigningKey::parse(&text).unwrap().public, key.public);
    }

    #[test]
    fn prefixes_are_not_confused() {
        let (sk, pk) = generate_key_pair().unwrap();
        let mut v = WebhookVerifier::new();
        assert!(v.add_key(&sk).is_err());
        assert!(v.add_secret(&pk).is_err());
        assert!(v.add_key(&pk[5..]).is_err(), "a bare key needs a prefix");
        assert!(WebhookSigner::new(&pk).is_err());
        assert!(WebhookSecret::parse(&sk).is_err());
        v.add_key(&pk).unwrap();
        v.add_key(&generate_secret().unwrap()).unwrap();
        assert_eq!(v.key_count(), 2);
    }

    #[test]
    fn empty_verifier_is_a_configuration_error() {
        let err = WebhookVerifier::new()
            .verify(KAT_ID, "1614265330", KAT_SIG, KAT_BODY, KAT_TS)
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidWebhookSecret);
    }

    #[test]
    fn replay_guard_expiry_boundary() {
        let guard = ReplayGuard::new(4).unwrap().with_window(10).unwrap();
        guard.check_and_record("a", 100, 100).unwrap();
        let err = guard.check_and_record("a", 100, 110).unwrap_err();
        assert_eq!(err.code(), ErrorCode::WebhookReplayed);
        guard.check_and_record("a", 111, 111).unwrap();
        assert_eq!(guard.len(), 1);
    }
}
