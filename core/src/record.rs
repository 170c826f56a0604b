//! Records a shared store (Redis) holds for a fleet of gateways: sessions, API keys and personal
//! access tokens, users' current roles, revoked `jti`s. `docs/records.md` is their reference.
//!
//! A record is versioned JSON, stored under `tollgate:<kind>:<hash>`, where `<hash>` is 64
//! lowercase hex digits of a hash of what the caller presents ([`RecordLookup`]): the secret
//! itself (an API key, a session id) is never a key, never a record and never asked for.
//!
//! ```json
//! {"v": 1, "record": "session", "subject": "u-alice", "expires": 1767229200,
//!  "tenants": {"0b6f…": ["owner"]}}
//! ```
//! A record is trusted only when it is strict JSON (no duplicate members), at most
//! [`MAX_RECORD_BYTES`], of version [`RECORD_VERSION`] and of the kind asked for, without unknown
//! members, naming roles and permissions the policy has, and — where the record carries it — of
//! the very key it was stored under (an API-key record's `hash`, a user's `subject`, a revoked
//! token's `jti`). Anything else is `invalid_record` (500): never trusted, never cached.

use crate::apikey::{self, ApiKeyRecord};
use crate::crypto;
use crate::error::Error;
use crate::policy::CompiledPolicy;
use crate::principal::PrincipalKind;
use crate::roles::Bits;
use crate::snapshot::{compile_key_record, compile_user, KeyRecord, UserRecord};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The record format version this build reads and writes.
pub const RECORD_VERSION: u32 = 1;
/// Largest record accepted, in bytes.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Deepest JSON nesting of a record (the record itself is level 1).
pub const MAX_RECORD_DEPTH: usize = 4;
/// Longest session id accepted, in bytes.
pub const MAX_SESSION_ID_LEN: usize = 512;
/// The channel on which hosts announce changed records: each message is one store key
/// (`tollgate:<kind>:<hash>`), or `*` for all.
pub const INVALIDATE_CHANNEL: &str = "tollgate:invalidate";

/// What a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKind {
    /// A server-side session: whose it is, until when, and the user's roles.
    Session,
    /// An API key or a personal access token (an [`ApiKeyRecord`]).
    ApiKey,
    /// A user's current roles, everywhere and per tenant.
    User,
    /// A token whose `jti` is revoked: present means revoked.
    RevokedJti,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Session,
        RecordKind::ApiKey,
        RecordKind::User,
        RecordKind::RevokedJti,
    ];

    /// The `snake_case` name, as in store keys and in a record's `record` member.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Session => "session",
            RecordKind::ApiKey => "api_key",
            RecordKind::User => "user",
            RecordKind::RevokedJti => "revoked_jti",
        }
    }

    /// The kind of a name.
    pub fn from_name(name: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl core::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which record a check needs: its kind and the hash it is stored under.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordLookup {
    kind: RecordKind,
    hash: [u8; 32],
}

impl core::fmt::Debug for RecordLookup {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.store_key())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as lowercase hex digits, as in store keys.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(
            HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
        ));
        out.push(char::from(
            HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
        ));
    }
    out
}

impl RecordLookup {
    /// A lookup by kind and hash.
    pub fn new(kind: RecordKind, hash: [u8; 32]) -> RecordLookup {
        RecordLookup { kind, hash }
    }

    /// An API key's or personal access token's record: the key's digest, SHA-256 or
    /// HMAC-SHA256 under the provider's pepper (as its record's `hash` holds it).
    pub fn api_key(key: &str, pepper: Option<&[u8]>) -> RecordLookup {
        RecordLookup::new(RecordKind::ApiKey, apikey::digest(key, pepper))
    }

    /// The record of the API key whose stored hash is `hash` (`sha256:…` / `hmac-sha256:…`).
    pub fn of_api_key_hash(hash: &str) -> Option<RecordLookup> {
        apikey::decode_hash(hash).map(|(_, d)| RecordLookup::new(RecordKind::ApiKey, d))
    }

    /// A session's record: the session id's SHA-256, or HMAC-SHA256 under the provider's pepper.
    pub fn session(id: &str, pepper: Option<&[u8]>) -> RecordLookup {
        RecordLookup::new(RecordKind::Session, apikey::digest(id, pepper))
    }

    /// A user's roles: SHA-256 of the subject.
    pub fn user(subject: &str) -> RecordLookup {
        RecordLookup::new(RecordKind::User, crypto::sha256(subject.as_bytes()))
    }

    /// A revoked token's record: SHA-256 of its `jti`.
    pub fn revoked_jti(jti: &str) -> RecordLookup {
        RecordLookup::new(RecordKind::RevokedJti, crypto::sha256(jti.as_bytes()))
    }

    /// The kind.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The hash.
    pub fn hash(&self) -> &[u8; 32] {
        &self.hash
    }

    /// The hash as 64 lowercase hex digits.
    pub fn hash_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for b in self.hash {
            out.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            out.push(char::from(
                HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
            ));
        }
        out
    }

    /// The store key: `tollgate:<kind>:<hash hex>`.
    pub fn store_key(&self) -> String {
        format!("tollgate:{}:{}", self.kind.name(), self.hash_hex())
    }

    /// The lookup a store key names (as sent on [`INVALIDATE_CHANNEL`]); `None` if it is not
    /// exactly `tollgate:<kind>:<64 lowercase hex digits>`.
    pub fn from_store_key(key: &str) -> Option<RecordLookup> {
        let rest = key.strip_prefix("tollgate:")?;
        let (kind, hex) = rest.split_once(':')?;
        let kind = RecordKind::from_name(kind)?;
        if hex.len() != 64 {
            return None;
        }
        let mut hash = [0u8; 32];
        for (slot, pair) in hash.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let digit = |c: u8| HEX.iter().position(|h| *h == c);
            let (hi, lo) = (digit(*pair.first()?)?, digit(*pair.get(1)?)?);
            *slot = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(RecordLookup::new(kind, hash))
    }
}

/// A server-side session, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRecord {
    /// Whose session it is.
    pub subject: String,
    /// What kind of principal (default `user`).
    #[serde(default = "user_kind")]
    pub kind: PrincipalKind,
    /// When it ends (Unix seconds): required, a session never lasts forever.
    pub expires: u64,
    /// When it began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    /// Roles held in every tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Roles per tenant (membership).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, Vec<String>>,
    /// Signed out or revoked.
    #[serde(default)]
    pub revoked: bool,
}

fn user_kind() -> PrincipalKind {
    PrincipalKind::User
}

/// A user's current roles, as stored: what `roles_from_record` reads for personal access tokens
/// (and sessions) when the provider's records live in the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRolesRecord {
    /// The user.
    pub subject: String,
    /// Roles held in every tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Roles per tenant (membership).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, Vec<String>>,
}

/// A revoked token, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedJtiRecord {
    /// The token's `jti`.
    pub jti: String,
    /// When the token expires anyway (the store may forget the record then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
}

/// A record ready to store: its key, its JSON, and when the store may drop it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Where it goes.
    pub lookup: RecordLookup,
    /// The record (versioned JSON).
    pub json: String,
    /// Unix seconds after which it is of no use (the store key's expiry); `None`: keep it.
    pub expires: Option<u64>,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidRecord {
        reason: reason.into(),
    }
}

fn encode<T: Serialize>(kind: RecordKind, body: &T) -> Result<String, Error> {
    let body = serde_json::to_string(body).map_err(|e| invalid(e.to_string()))?;
    let members = body
        .strip_prefix('{')
        .ok_or_else(|| invalid("a record is a JSON object"))?;
    let separator = if members == "}" { "" } else { "," };
    let json = format!(
        "{{\"v\":{RECORD_VERSION},\"record\":\"{}\"{separator}{members}",
        kind.name()
    );
    if json.len() > MAX_RECORD_BYTES {
        return Err(invalid(format!(
            "the record is {} bytes, more than the limit of {MAX_RECORD_BYTES}",
            json.len()
        )));
    }
    Ok(json)
}

impl StoredRecord {
    /// An API key's or personal access token's record, stored under its `hash`.
    pub fn api_key(record: &ApiKeyRecord) -> Result<StoredRecord, Error> {
        let lookup = RecordLookup::of_api_key_hash(&record.hash).ok_or_else(|| {
            invalid("hash must be sha256:<b64url> or hmac-sha256:<b64url> of 32 bytes")
        })?;
        Ok(StoredRecord {
            lookup,
            json: encode(RecordKind::ApiKey, record)?,
            expires: record.expires,
        })
    }

    /// A session's record, stored under the hash of its id (see [`RecordLookup::session`]).
    pub fn session(
        id: &str,
        pepper: Option<&[u8]>,
        record: &SessionRecord,
    ) -> Result<StoredRecord, Error> {
        Ok(StoredRecord {
            lookup: RecordLookup::session(id, pepper),
            json: encode(RecordKind::Session, record)?,
            expires: Some(record.expires),
        })
    }

    /// A user's roles, stored under the hash of the subject.
    pub fn user(record: &UserRolesRecord) -> Result<StoredRecord, Error> {
        Ok(StoredRecord {
            lookup: RecordLookup::user(&record.subject),
            json: encode(RecordKind::User, record)?,
            expires: None,
        })
    }

    /// A revoked token, stored under the hash of its `jti`.
    pub fn revoked_jti(record: &RevokedJtiRecord) -> Result<StoredRecord, Error> {
        Ok(StoredRecord {
            lookup: RecordLookup::revoked_jti(&record.jti),
            json: encode(RecordKind::RevokedJti, record)?,
            expires: record.expires,
        })
    }
}

/// Moves the records of a key-snapshot document into the store: the document without its `users`,
/// `api_keys` and `revoked_jti` (JSON text), and those records ready to store. With the policy's
/// providers set to `"records": "store"`, an engine on the rest of the document and a host
/// holding the records decides as an engine on the whole document. Errors name the place, as
/// [`crate::Snapshot::from_json`] does.
pub fn split_snapshot(document: &[u8]) -> Result<(String, Vec<StoredRecord>), Error> {
    let place = |at: &str, e: &dyn core::fmt::Display| Error::InvalidSnapshot {
        at: at.to_owned(),
        reason: e.to_string(),
    };
    if document.len() > crate::snapshot::MAX_SNAPSHOT_BYTES {
        return Err(place(
            "(document)",
            &format!("more than {} bytes", crate::snapshot::MAX_SNAPSHOT_BYTES),
        ));
    }
    let object =
        crate::json::parse_object(document, crate::snapshot::MAX_SNAPSHOT_DEPTH).map_err(|r| {
            place(
                "(document)",
                &format!(
                    "not a strict JSON object: {}",
                    crate::json::describe(r, crate::snapshot::MAX_SNAPSHOT_DEPTH)
                ),
            )
        })?;
    let mut rest = String::with_capacity(document.len());
    rest.push('{');
    let mut out = Vec::new();
    for (name, value) in object.members() {
        let raw = value.as_raw().as_bytes();
        if name.eq_str("users") {
            let users: BTreeMap<String, UserRolesBody> =
                serde_json::from_slice(raw).map_err(|e| place("users", &e))?;
            for (subject, u) in users {
                out.push(StoredRecord::user(&UserRolesRecord {
                    subject,
                    roles: u.roles,
                    tenants: u.tenants,
                })?);
            }
        } else if name.eq_str("api_keys") {
            let keys: BTreeMap<String, Vec<ApiKeyRecord>> =
                serde_json::from_slice(raw).map_err(|e| place("api_keys", &e))?;
            for record in keys.values().flatten() {
                out.push(StoredRecord::api_key(record)?);
            }
        } else if name.eq_str("revoked_jti") {
            let jtis: Vec<String> =
                serde_json::from_slice(raw).map_err(|e| place("revoked_jti", &e))?;
            for jti in jtis {
                out.push(StoredRecord::revoked_jti(&RevokedJtiRecord {
                    jti,
                    expires: None,
                })?);
            }
        } else {
            if rest.len() > 1 {
                rest.push(',');
            }
            rest.push('"');
            rest.push_str(name.raw());
            rest.push_str("\":");
            rest.push_str(value.as_raw());
        }
    }
    rest.push('}');
    Ok((rest, out))
}

/// A session's record for a login service, from the session id (the cookie's value), the
/// provider's pepper when it hashes with one, and the session as JSON ([`SessionRecord`]): as
/// JSON `{"key": "tollgate:session:<hash>", "value": "<the record, JSON text>", "expires": <Unix
/// seconds>}`, for hosts in other languages. Errors with `invalid_record` for a session that is
/// not a [`SessionRecord`] or an id longer than [`MAX_SESSION_ID_LEN`].
pub fn session_record_json(
    id: &str,
    pepper: Option<&[u8]>,
    session: &[u8],
) -> Result<String, Error> {
    if id.is_empty() || id.len() > MAX_SESSION_ID_LEN {
        return Err(invalid(format!(
            "a session id is 1 to {MAX_SESSION_ID_LEN} bytes; this one is {}",
            id.len()
        )));
    }
    if session.len() > MAX_RECORD_BYTES {
        return Err(invalid(format!(
            "the session is {} bytes, more than the limit of {MAX_RECORD_BYTES}",
            session.len()
        )));
    }
    let record: SessionRecord =
        serde_json::from_slice(session).map_err(|e| invalid(format!("the session: {e}")))?;
    let stored = StoredRecord::session(id, pepper, &record)?;
    stored_json(&stored)
}

/// One stored record as `{"key", "value", "expires"}` JSON.
fn stored_json(r: &StoredRecord) -> Result<String, Error> {
    let value = serde_json::to_string(&r.json).map_err(|e| invalid(e.to_string()))?;
    let expires = r
        .expires
        .map_or_else(|| "null".to_owned(), |e| e.to_string());
    Ok(format!(
        "{{\"key\":\"{}\",\"value\":{value},\"expires\":{expires}}}",
        r.lookup.store_key()
    ))
}

/// [`split_snapshot`] as one JSON document, for hosts in other languages (the C ABI, WebAssembly):
/// `{"snapshot": {…the rest…}, "records": [{"key": "tollgate:<kind>:<hash>", "value": "<the
/// record, JSON text>", "expires": <Unix seconds> | null}, …]}`.
pub fn split_snapshot_json(document: &[u8]) -> Result<String, Error> {
    let (rest, records) = split_snapshot(document)?;
    let mut out = String::with_capacity(rest.len() + records.len() * 256);
    out.push_str("{\"snapshot\":");
    out.push_str(&rest);
    out.push_str(",\"records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let value = serde_json::to_string(&r.json).map_err(|e| invalid(e.to_string()))?;
        let expires = r
            .expires
            .map_or_else(|| "null".to_owned(), |e| e.to_string());
        out.push_str(&format!(
            "{{\"key\":\"{}\",\"value\":{value},\"expires\":{expires}}}",
            r.lookup.store_key()
        ));
    }
    out.push_str("]}");
    Ok(out)
}

/// A snapshot's user entry (its subject is the map key).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRolesBody {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    tenants: BTreeMap<String, Vec<String>>,
}

/// A session, compiled against the policy.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) subject: String,
    pub(crate) kind: PrincipalKind,
    pub(crate) expires: u64,
    pub(crate) revoked: bool,
    pub(crate) user: UserRecord,
    /// The record as the host wrote it (what a decision shows as claims).
    pub(crate) claims: String,
}

/// A record, checked and compiled against the policy (role and permission names resolved).
#[derive(Debug)]
pub(crate) enum Record {
    Session(Session),
    ApiKey(KeyRecord),
    User(UserRecord),
    RevokedJti,
}

/// Checks and compiles the record the host fetched for `lookup`.
pub(crate) fn parse(
    policy: &CompiledPolicy,
    lookup: &RecordLookup,
    bytes: &[u8],
) -> Result<Record, Error> {
    let kind = lookup.kind();
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(invalid(format!(
            "the {kind} record is {} bytes, more than the limit of {MAX_RECORD_BYTES}",
            bytes.len()
        )));
    }
    let object = crate::json::parse_object(bytes, MAX_RECORD_DEPTH).map_err(|r| {
        invalid(format!(
            "the {kind} record is not a strict JSON object: {}",
            crate::json::describe(r, MAX_RECORD_DEPTH)
        ))
    })?;
    // The envelope, read with the core's reader; the body, the other members in their order,
    // goes to serde as a document of its own (no JSON value tree: it is large in WebAssembly).
    let (mut version, mut tag) = (None, None);
    let mut body = String::with_capacity(bytes.len());
    body.push('{');
    for (name, value) in object.members() {
        if name.eq_str("v") {
            version = Some(value.as_raw());
        } else if name.eq_str("record") {
            tag = Some(value.as_raw());
        } else {
            if body.len() > 1 {
                body.push(',');
            }
            body.push('"');
            body.push_str(name.raw());
            body.push_str("\":");
            body.push_str(value.as_raw());
        }
    }
    body.push('}');
    let (Some(version), Some(tag)) = (version, tag) else {
        return Err(invalid(format!(
            "the {kind} record lacks its \"v\" and \"record\" members"
        )));
    };
    if version != "1" {
        return Err(invalid(format!(
            "the {kind} record has version {version}; this build reads version {RECORD_VERSION}"
        )));
    }
    if tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) != Some(kind.name()) {
        return Err(invalid(format!(
            "a {kind} record was asked for, and the store answered a {tag} record"
        )));
    }
    let body_error = |e: serde_json::Error| invalid(format!("the {kind} record: {e}"));
    let place =
        |(at, reason): (String, String)| invalid(format!("the {kind} record: {at}: {reason}"));
    match kind {
        RecordKind::ApiKey => {
            let r: ApiKeyRecord = serde_json::from_slice(body.as_bytes()).map_err(body_error)?;
            let compiled = compile_key_record(policy, r).map_err(place)?;
            if !crypto::constant_time_eq(&compiled.digest, lookup.hash()) {
                return Err(invalid(
                    "the api_key record's hash is not the key it was stored under",
                ));
            }
            Ok(Record::ApiKey(compiled))
        }
        RecordKind::User => {
            let r: UserRolesRecord = serde_json::from_slice(body.as_bytes()).map_err(body_error)?;
            if RecordLookup::user(&r.subject) != *lookup {
                return Err(invalid(
                    "the user record's subject is not the one it was stored under",
                ));
            }
            Ok(Record::User(
                compile_user(policy, &r.roles, &r.tenants).map_err(place)?,
            ))
        }
        RecordKind::RevokedJti => {
            let r: RevokedJtiRecord =
                serde_json::from_slice(body.as_bytes()).map_err(body_error)?;
            if RecordLookup::revoked_jti(&r.jti) != *lookup {
                return Err(invalid(
                    "the revoked_jti record's jti is not the one it was stored under",
                ));
            }
            Ok(Record::RevokedJti)
        }
        RecordKind::Session => {
            let r: SessionRecord = serde_json::from_slice(body.as_bytes()).map_err(body_error)?;
            let user = compile_user(policy, &r.roles, &r.tenants).map_err(place)?;
            let claims = serde_json::to_string(&r).map_err(|e| invalid(e.to_string()))?;
            Ok(Record::Session(Session {
                subject: r.subject,
                kind: r.kind,
                expires: r.expires,
                revoked: r.revoked,
                user,
                claims,
            }))
        }
    }
}

impl Record {
    /// Roles per tenant, where the record holds them.
    pub(crate) fn tenant_roles(&self) -> Option<&HashMap<String, Bits>> {
        match self {
            Record::Session(s) => Some(&s.user.tenants),
            Record::User(u) => Some(&u.tenants),
            Record::ApiKey(_) | Record::RevokedJti => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keys_round_trip_and_reject_near_misses() {
        let l = RecordLookup::user("u-alice");
        let key = l.store_key();
        assert!(key.starts_with("tollgate:user:"));
        assert_eq!(key.len(), "tollgate:user:".len() + 64);
        assert_eq!(RecordLookup::from_store_key(&key), Some(l));
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            RecordLookup::revoked_jti("abc").hash_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        for bad in [
            "tollgate:user:",
            "tollgate:users:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "tollgate:user:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
            "tollgate:user:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
            "tollgate:user:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adx",
            "tg:user:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ] {
            assert_eq!(RecordLookup::from_store_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn kinds_have_stable_names() {
        let names: Vec<_> = RecordKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["session", "api_key", "user", "revoked_jti"]);
        for k in RecordKind::ALL {
            assert_eq!(RecordKind::from_name(k.name()), Some(k));
        }
    }
}
