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
use crate::document::{self, Fault, Fields, Read};
use crate::error::Error;
use crate::json::{Object, Value};
use crate::policy::{CompiledPolicy, ProviderType};
use crate::principal::PrincipalKind;
use crate::roles::Bits;
use crate::snapshot::{compile_key_record, compile_user, user_providers, KeyRecord, UserRecord};
use serde::Serialize;
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SessionRecord {
    /// Whose session it is.
    pub subject: String,
    /// What kind of principal (default `user`).
    pub kind: PrincipalKind,
    /// The session provider that issued it: only that provider accepts it. Required when the
    /// policy has several session providers (their sessions share one store and one hashing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// When it ends (Unix seconds): required, a session never lasts forever.
    pub expires: u64,
    /// When it began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    /// Roles held in every tenant.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Roles per tenant (membership).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, Vec<String>>,
    /// Signed out or revoked.
    pub revoked: bool,
}

impl SessionRecord {
    const MEMBERS: &'static [&'static str] = &[
        "subject", "kind", "provider", "expires", "created", "roles", "tenants", "revoked",
    ];

    fn from_fields(f: &Fields<'_>) -> Read<SessionRecord> {
        Ok(SessionRecord {
            subject: f.required("subject", document::string)?,
            kind: f.or("kind", PrincipalKind::User, PrincipalKind::read)?,
            provider: f.optional("provider", document::string)?,
            expires: f.required("expires", document::u64)?,
            created: f.optional("created", document::u64)?,
            roles: f.or_default("roles", document::strings)?,
            tenants: f.or_default("tenants", tenant_roles)?,
            revoked: f.or_default("revoked", document::boolean)?,
        })
    }
}

/// Roles per tenant: `{"<tenant>": ["role", …]}`.
fn tenant_roles(v: Value<'_>, at: &str) -> Read<BTreeMap<String, Vec<String>>> {
    document::map(v, at, document::strings)
}

/// A user's current roles, as stored: what `roles_from_record` reads for personal access tokens
/// (and sessions) when the provider's records live in the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserRolesRecord {
    /// The user.
    pub subject: String,
    /// Roles held in every tenant.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Roles per tenant (membership).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, Vec<String>>,
    /// The providers whose principals of this subject it is for (each must read user records:
    /// list kinds in `roles_from_record`). Required when the policy has several providers that
    /// read user records: a subject is unique only within its provider.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<String>,
}

impl UserRolesRecord {
    const MEMBERS: &'static [&'static str] = &["subject", "roles", "tenants", "providers"];

    fn from_fields(f: &Fields<'_>) -> Read<UserRolesRecord> {
        Ok(UserRolesRecord {
            subject: f.required("subject", document::string)?,
            roles: f.or_default("roles", document::strings)?,
            tenants: f.or_default("tenants", tenant_roles)?,
            providers: f.or_default("providers", document::strings)?,
        })
    }
}

/// A revoked token, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RevokedJtiRecord {
    /// The token's `jti`.
    pub jti: String,
    /// When the token expires anyway (the store may forget the record then).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
}

impl RevokedJtiRecord {
    const MEMBERS: &'static [&'static str] = &["jti", "expires"];

    fn from_fields(f: &Fields<'_>) -> Read<RevokedJtiRecord> {
        Ok(RevokedJtiRecord {
            jti: f.required("jti", document::string)?,
            expires: f.optional("expires", document::u64)?,
        })
    }
}

/// The members of a stored record's envelope: its format version and its kind.
const ENVELOPE: &[&str] = &["v", "record"];

/// A record ready to store: its key, its JSON, and when the store may drop it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Where it goes.
    pub lookup: RecordLookup,
    /// The record (versioned JSON).
    pub json: String,
    /// The record's own `expires` (Unix seconds); `None`: keep it. Not the store key's expiry:
    /// keep the record a day past it (docs/records.md), since a revoked token still verifies
    /// for its provider's leeway after its `exp`.
    pub expires: Option<u64>,
}

/// `bytes` checked as one strict JSON object within the records' depth limit; an error names
/// `what` ("session", "api_key record").
pub(crate) fn record_object<'a>(bytes: &'a [u8], what: &str) -> Result<Object<'a>, Error> {
    crate::json::parse_object(bytes, MAX_RECORD_DEPTH).map_err(|r| {
        invalid(format!(
            "the {what} is not a strict JSON object: {}",
            crate::json::describe(r, MAX_RECORD_DEPTH)
        ))
    })
}

pub(crate) fn invalid(reason: impl Into<String>) -> Error {
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
        let fault = |f: Fault| place(&f.at, &f.reason);
        if name.eq_str("users") {
            let users = document::map(value, "users", UserRolesBody::read).map_err(fault)?;
            for (subject, u) in users {
                out.push(StoredRecord::user(&UserRolesRecord {
                    subject,
                    roles: u.roles,
                    tenants: u.tenants,
                    providers: u.providers,
                })?);
            }
        } else if name.eq_str("api_keys") {
            let keys = document::map(value, "api_keys", |v, at| {
                document::list(v, at, ApiKeyRecord::read)
            })
            .map_err(fault)?;
            for record in keys.values().flatten() {
                out.push(StoredRecord::api_key(record)?);
            }
        } else if name.eq_str("revoked_jti") {
            let jtis = document::strings(value, "revoked_jti").map_err(fault)?;
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
    let object = record_object(session, "session")?;
    let record = Fields::of(object, "", SessionRecord::MEMBERS)
        .and_then(|f| SessionRecord::from_fields(&f))
        .map_err(|f| invalid(format!("the session: {}", f.describe())))?;
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
pub(crate) struct UserRolesBody {
    pub(crate) roles: Vec<String>,
    pub(crate) tenants: BTreeMap<String, Vec<String>>,
    pub(crate) providers: Vec<String>,
}

impl UserRolesBody {
    /// Reads a snapshot's user entry at `at`.
    pub(crate) fn read(v: Value<'_>, at: &str) -> Read<UserRolesBody> {
        let f = Fields::new(v, at, &["roles", "tenants", "providers"])?;
        Ok(UserRolesBody {
            roles: f.or_default("roles", document::strings)?,
            tenants: f.or_default("tenants", tenant_roles)?,
            providers: f.or_default("providers", document::strings)?,
        })
    }
}

/// A session, compiled against the policy.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) subject: String,
    pub(crate) kind: PrincipalKind,
    pub(crate) expires: u64,
    pub(crate) revoked: bool,
    /// The provider it names (its position in the policy), when it names one.
    pub(crate) provider: Option<usize>,
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
    let object = record_object(bytes, &format!("{kind} record"))?;
    // The envelope, then the record's own members beside it.
    let version = object.get("v").map(|v| v.as_raw());
    let tag = object.get("record").map(|v| v.as_raw());
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
    let body_error = |f: Fault| invalid(format!("the {kind} record: {}", f.describe()));
    let fields = |members: &[&str]| Fields::enveloped(object, ENVELOPE, members);
    let place =
        |(at, reason): (String, String)| invalid(format!("the {kind} record: {at}: {reason}"));
    match kind {
        RecordKind::ApiKey => {
            let r = fields(ApiKeyRecord::MEMBERS)
                .and_then(|f| ApiKeyRecord::from_fields(&f))
                .map_err(body_error)?;
            let compiled = compile_key_record(policy, r).map_err(place)?;
            if !crypto::constant_time_eq(&compiled.digest, lookup.hash()) {
                return Err(invalid(
                    "the api_key record's hash is not the key it was stored under",
                ));
            }
            Ok(Record::ApiKey(compiled))
        }
        RecordKind::User => {
            let r = fields(UserRolesRecord::MEMBERS)
                .and_then(|f| UserRolesRecord::from_fields(&f))
                .map_err(body_error)?;
            if RecordLookup::user(&r.subject) != *lookup {
                return Err(invalid(
                    "the user record's subject is not the one it was stored under",
                ));
            }
            let mut user = compile_user(policy, &r.roles, &r.tenants).map_err(place)?;
            user.providers = user_providers(policy, &r.providers).map_err(place)?;
            Ok(Record::User(user))
        }
        RecordKind::RevokedJti => {
            let r = fields(RevokedJtiRecord::MEMBERS)
                .and_then(|f| RevokedJtiRecord::from_fields(&f))
                .map_err(body_error)?;
            if RecordLookup::revoked_jti(&r.jti) != *lookup {
                return Err(invalid(
                    "the revoked_jti record's jti is not the one it was stored under",
                ));
            }
            Ok(Record::RevokedJti)
        }
        RecordKind::Session => {
            let r = fields(SessionRecord::MEMBERS)
                .and_then(|f| SessionRecord::from_fields(&f))
                .map_err(body_error)?;
            let user = compile_user(policy, &r.roles, &r.tenants).map_err(place)?;
            let provider = session_provider(policy, r.provider.as_deref())
                .map_err(|reason| invalid(format!("the session record: {reason}")))?;
            let claims = serde_json::to_string(&r).map_err(|e| invalid(e.to_string()))?;
            Ok(Record::Session(Session {
                subject: r.subject,
                kind: r.kind,
                expires: r.expires,
                revoked: r.revoked,
                provider,
                user,
                claims,
            }))
        }
    }
}

/// The session provider a session record names (its position in the policy). A policy with
/// several session providers needs the name: their sessions live under one key scheme, so a
/// session one of them issued would otherwise pass for the other's (and for its routes).
fn session_provider(policy: &CompiledPolicy, named: Option<&str>) -> Result<Option<usize>, String> {
    let mut sessions = policy
        .providers
        .iter()
        .enumerate()
        .filter(|(_, p)| p.provider_type == ProviderType::Session);
    match named {
        Some(name) => match sessions.find(|(_, p)| p.name == name) {
            Some((i, _)) => Ok(Some(i)),
            None => Err(format!(
                "provider: the policy has no session provider {:?}",
                crate::error::truncated(name, 64)
            )),
        },
        None if sessions.count() > 1 => Err(
            "names no provider, and the policy has several session providers: say which one issued it (\"provider\")"
                .to_owned(),
        ),
        None => Ok(None),
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
