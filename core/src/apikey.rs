//! Opaque API keys and personal access tokens: `<prefix>_<random><checksum>`.
//!
//! - `prefix` names the kind of key (`fln_live`, `fln_test`, `pat`): ASCII letters, digits and `_`.
//! - `random` is 32 base62 characters from the operating system's secure source (190 bits).
//! - `checksum` is the CRC32 of `<prefix>_<random>` in 6 base62 characters, so a typo or a
//!   truncated paste is refused (`malformed_api_key`) before any lookup.
//!
//! Only a hash of the whole key is stored — SHA-256, or HMAC-SHA256 under a host pepper — written
//! `sha256:<base64url>` / `hmac-sha256:<base64url>`. Lookup is by hash; the final comparison is
//! constant-time. The key string exists only in [`GeneratedApiKey`], once.

use crate::base64url;
use crate::crypto;
use crate::document::{self, Fields, Read};
use crate::error::{Error, ErrorCode};
use crate::json::Value;
use serde::Serialize;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Random characters in a generated key.
pub const RANDOM_CHARS: usize = 32;
/// Fewest random characters a key may have (≥ 178 bits).
pub const MIN_RANDOM_CHARS: usize = 30;
/// Checksum characters.
pub const CHECKSUM_CHARS: usize = 6;
/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 128;
/// Longest prefix accepted, in bytes.
pub const MAX_PREFIX_LEN: usize = 32;

fn malformed(reason: &str) -> Error {
    Error::Rejected {
        code: ErrorCode::MalformedApiKey,
        reason: reason.to_owned(),
    }
}

/// Whether `prefix` is a valid key prefix: 1–32 ASCII letters, digits or `_`, not ending in `_`.
pub fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= MAX_PREFIX_LEN
        && !prefix.ends_with('_')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// CRC-32 (IEEE 802.3, reflected, as in zlib).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

fn checksum(body: &[u8]) -> [u8; CHECKSUM_CHARS] {
    let mut n = crc32(body);
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62.get((n % 62) as usize).copied().unwrap_or(b'0');
        n /= 62;
    }
    out
}

/// A key whose form and checksum hold (no lookup has been made).
#[derive(Clone, Copy)]
pub struct ParsedApiKey<'a> {
    key: &'a str,
    prefix: &'a str,
}

impl core::fmt::Debug for ParsedApiKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ParsedApiKey")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<'a> ParsedApiKey<'a> {
    /// The key's prefix.
    pub fn prefix(&self) -> &'a str {
        self.prefix
    }

    /// The whole key.
    pub fn as_str(&self) -> &'a str {
        self.key
    }
}

/// Checks a key's form and checksum against the accepted `prefixes` (longest match wins; a
/// prefix that is not [`valid_prefix`] accepts nothing).
///
/// The checksum (CRC-32) catches typos and truncated pastes cheaply. It is no authentication:
/// anyone can compute it, so a well-formed key still has to be looked up.
pub fn parse<'a, P: AsRef<str>>(key: &'a str, prefixes: &[P]) -> Result<ParsedApiKey<'a>, Error> {
    if key.len() > MAX_KEY_LEN {
        return Err(malformed(&format!(
            "API key is {} bytes, more than the limit of {MAX_KEY_LEN}",
            key.len()
        )));
    }
    let prefix_len = prefixes
        .iter()
        .map(AsRef::as_ref)
        .filter(|p| {
            valid_prefix(p)
                && key.len() > p.len()
                && key.starts_with(*p)
                && key.as_bytes().get(p.len()) == Some(&b'_')
        })
        .map(str::len)
        .max()
        .ok_or_else(|| malformed("API key has no accepted prefix"))?;
    let prefix = key.get(..prefix_len).unwrap_or_default();
    let rest = key.get(prefix_len + 1..).unwrap_or_default();
    if rest.len() < MIN_RANDOM_CHARS + CHECKSUM_CHARS
        || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(malformed(
            "API key body must be at least 36 base62 characters",
        ));
    }
    let (body, sum) = key.split_at(key.len() - CHECKSUM_CHARS);
    if !crypto::constant_time_eq(&checksum(body.as_bytes()), sum.as_bytes()) {
        return Err(malformed(
            "API key checksum does not match (typo or truncated key?)",
        ));
    }
    Ok(ParsedApiKey { key, prefix })
}

/// How stored hashes are computed. Its `Debug` never shows the pepper.
#[derive(Clone)]
pub enum Hashing {
    /// SHA-256 of the key.
    Sha256,
    /// HMAC-SHA256 of the key under a host secret (the pepper).
    HmacSha256(Vec<u8>),
}

impl core::fmt::Debug for Hashing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Hashing::Sha256 => f.write_str("Sha256"),
            Hashing::HmacSha256(pepper) => write!(f, "HmacSha256(<{} bytes>)", pepper.len()),
        }
    }
}

impl Hashing {
    /// The stored form of `key`'s hash: `sha256:<b64url>` or `hmac-sha256:<b64url>`.
    pub fn hash(&self, key: &str) -> String {
        let (label, pepper) = match self {
            Hashing::Sha256 => ("sha256", None),
            Hashing::HmacSha256(pepper) => ("hmac-sha256", Some(pepper.as_slice())),
        };
        format!("{label}:{}", base64url::encode(&digest(key, pepper)))
    }
}

/// The raw 32-byte digest of `key`: SHA-256, or HMAC-SHA256 under `pepper`.
pub(crate) fn digest(key: &str, pepper: Option<&[u8]>) -> [u8; 32] {
    match pepper {
        None => crypto::sha256(key.as_bytes()),
        Some(p) => crypto::hmac_sha256(p, key.as_bytes()),
    }
}

/// A stored hash, parsed.
pub(crate) fn decode_hash(stored: &str) -> Option<(bool, [u8; 32])> {
    let (label, b64) = stored.split_once(':')?;
    let peppered = match label {
        "sha256" => false,
        "hmac-sha256" => true,
        _ => return None,
    };
    base64url::decode(b64.as_bytes())
        .ok()?
        .try_into()
        .ok()
        .map(|d| (peppered, d))
}

/// What a host stores for one key. The key itself is never part of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKeyRecord {
    /// A stable id for management and logs.
    pub id: String,
    /// `sha256:<b64url>` or `hmac-sha256:<b64url>` of the whole key.
    pub hash: String,
    /// The owner: a service account or a user.
    pub owner: String,
    /// The owner's kind (`service_account`, the default; `user`; `personal_access_token`).
    pub kind: crate::principal::PrincipalKind,
    /// The tenant the key belongs to, if it is tenant-bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Roles the key holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Scopes (permission names) the key holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Creation time (Unix seconds).
    pub created: u64,
    /// Expiry (Unix seconds); none: no expiry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// Revoked keys are refused with `api_key_revoked`.
    pub revoked: bool,
    /// The last four characters, for display ("…Xy9Q").
    pub hint: String,
}

impl ApiKeyRecord {
    /// The members of a record.
    pub(crate) const MEMBERS: &'static [&'static str] = &[
        "id", "hash", "owner", "kind", "tenant", "roles", "scopes", "created", "expires",
        "revoked", "hint",
    ];

    /// Reads a record as JSON (no other members; the key-snapshot and store forms both hold
    /// this). Errors with `invalid_record`, naming the member at fault.
    pub fn from_json(json: &[u8]) -> Result<ApiKeyRecord, Error> {
        let object = crate::record::record_object(json, "api_key record")?;
        Fields::of(object, "", Self::MEMBERS)
            .and_then(|f| Self::from_fields(&f))
            .map_err(|f| crate::record::invalid(format!("the api_key record: {}", f.describe())))
    }

    /// Reads a record at `at` in a document.
    pub(crate) fn read(v: Value<'_>, at: &str) -> Read<ApiKeyRecord> {
        Self::from_fields(&Fields::new(v, at, Self::MEMBERS)?)
    }

    /// Reads a record from an object's members (which [`Self::MEMBERS`] lists).
    pub(crate) fn from_fields(f: &Fields<'_>) -> Read<ApiKeyRecord> {
        Ok(ApiKeyRecord {
            id: f.required("id", document::string)?,
            hash: f.required("hash", document::string)?,
            owner: f.required("owner", document::string)?,
            kind: f.or(
                "kind",
                default_kind(),
                crate::principal::PrincipalKind::read,
            )?,
            tenant: f.optional("tenant", document::string)?,
            roles: f.or_default("roles", document::strings)?,
            scopes: f.or_default("scopes", document::strings)?,
            created: f.required("created", document::u64)?,
            expires: f.optional("expires", document::u64)?,
            revoked: f.or_default("revoked", document::boolean)?,
            hint: f.required("hint", document::string)?,
        })
    }
}

fn default_kind() -> crate::principal::PrincipalKind {
    crate::principal::PrincipalKind::ServiceAccount
}

/// A freshly generated key: the only time the key string exists outside the caller's hands.
pub struct GeneratedApiKey {
    /// The key, to show once.
    pub key: String,
    /// The record to store (holds the hash, never the key).
    pub record: ApiKeyRecord,
}

impl core::fmt::Debug for GeneratedApiKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GeneratedApiKey")
            .field("key", &"<redacted>")
            .field("record", &self.record)
            .finish()
    }
}

fn random_base62(n: usize) -> Result<String, Error> {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let bytes = crypto::random_bytes(n * 2).map_err(|r| Error::KeyGenerationFailed {
            reason: r.to_owned(),
        })?;
        // Rejection sampling: 248 = 4 × 62, so bytes below it map to base62 without bias.
        for b in bytes.into_iter().filter(|b| *b < 248) {
            if out.len() == n {
                break;
            }
            out.push(char::from(
                BASE62.get(usize::from(b % 62)).copied().unwrap_or(b'0'),
            ));
        }
    }
    Ok(out)
}

/// Generates a key with `prefix` and the record to store for it, owned by `owner`, created `now`.
pub fn generate(
    prefix: &str,
    owner: &str,
    hashing: &Hashing,
    now: u64,
) -> Result<GeneratedApiKey, Error> {
    if !valid_prefix(prefix) {
        return Err(Error::KeyGenerationFailed {
            reason: format!("invalid prefix {prefix:?}: use 1-32 ASCII letters, digits or '_'"),
        });
    }
    let mut key = format!("{prefix}_{}", random_base62(RANDOM_CHARS)?);
    let sum = checksum(key.as_bytes());
    key.push_str(core::str::from_utf8(&sum).unwrap_or_default());
    let hint = key.get(key.len() - 4..).unwrap_or_default().to_owned();
    Ok(GeneratedApiKey {
        record: ApiKeyRecord {
            id: format!("key_{}", random_base62(16)?),
            hash: hashing.hash(&key),
            owner: owner.to_owned(),
            kind: default_kind(),
            tenant: None,
            roles: Vec::new(),
            scopes: Vec::new(),
            created: now,
            expires: None,
            revoked: false,
            hint: format!("…{hint}"),
        },
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_answers() {
        // The standard check value, and zlib's crc32 of "The quick brown fox…".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(crc32(b""), 0);
        // 0xCBF43926 in base62 digits is [3, 45, 35, 27, 22, 14]: "3jZRME".
        assert_eq!(&checksum(b"123456789"), b"3jZRME");
    }

    #[test]
    fn generated_keys_parse_and_every_typo_is_caught() {
        let g = generate("fln_live", "sa_1", &Hashing::Sha256, 100).unwrap();
        assert!(g.key.starts_with("fln_live_"));
        assert_eq!(
            g.key.len(),
            "fln_live_".len() + RANDOM_CHARS + CHECKSUM_CHARS
        );
        let parsed = parse(&g.key, &["fln_live", "fln_test"]).unwrap();
        assert_eq!(parsed.prefix(), "fln_live");
        assert!(g.record.hash.starts_with("sha256:"));
        assert_eq!(g.record.hash, Hashing::Sha256.hash(&g.key));
        assert!(!format!("{g:?}").contains(&g.key));
        // Any single-character substitution breaks the checksum (CRC32 catches all of them).
        let bytes = g.key.as_bytes();
        for i in "fln_live_".len()..bytes.len() {
            let mut k = bytes.to_vec();
            k[i] = if k[i] == b'a' { b'b' } else { b'a' };
            let k = String::from_utf8(k).unwrap();
            assert_eq!(
                parse(&k, &["fln_live"]).unwrap_err().code(),
                ErrorCode::MalformedApiKey,
                "{i}"
            );
        }
        let truncated = &g.key[..g.key.len() - 1];
        assert!(parse(truncated, &["fln_live"]).is_err());
        assert!(parse(&g.key, &["fln_test"]).is_err());
        assert!(parse(&g.key.replace("fln_live", "fln_test"), &["fln_test"]).is_err());
    }

    #[test]
    fn peppered_hashes_differ_and_decode() {
        let g = generate("pat", "u", &Hashing::HmacSha256(b"pepper".to_vec()), 0).unwrap();
        assert!(g.record.hash.starts_with("hmac-sha256:"));
        assert_ne!(g.record.hash, Hashing::Sha256.hash(&g.key));
        assert_eq!(decode_hash(&g.record.hash).map(|(p, _)| p), Some(true));
        assert_eq!(decode_hash("md5:abc"), None);
        assert!(!valid_prefix("bad-prefix") && !valid_prefix("x_") && valid_prefix("fln_live"));
    }
}
