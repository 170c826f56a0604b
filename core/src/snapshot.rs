//! Key material outside the policy: per-provider key sets, the `jti` deny-list and user records,
//! in one immutable snapshot the host replaces atomically (rotation, revocation) while checks run.
//!
//! ```json
//! {"keys": {"<provider>": <JWKS or JWK>},
//!  "revoked_jti": ["…"],
//!  "users": {"<subject>": {"roles": ["…"], "tenants": {"<tenant>": ["…"]}, "providers": ["…"]}},
//!  "api_keys": {"<provider>": [<ApiKeyRecord>, …]},
//!  "peppers": {"<provider>": "<base64url pepper>"}}
//! ```
//! Keys must be bound to one of their provider's algorithms (a provider with a single algorithm
//! binds keys that lack `alg` to it). User records give the *current* roles of principals whose
//! kinds the provider lists in `roles_from_record` (personal access tokens). A user record names
//! the `providers` whose subjects it is for, and must when several providers read user records:
//! subjects from different providers (different issuers) are different namespaces.

use crate::apikey::ApiKeyRecord;
use crate::document::{self, Fields, Read};
use crate::error::Error;
use crate::json::{Object, Value};
use crate::keyset::KeySet;
use crate::policy::CompiledPolicy;
use crate::record::UserRolesBody;
use crate::roles::Bits;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Largest snapshot document, in bytes.
pub const MAX_SNAPSHOT_BYTES: usize = 16 * 1024 * 1024;
/// Deepest JSON nesting of a snapshot document (the document itself is level 1).
pub const MAX_SNAPSHOT_DEPTH: usize = 16;

/// The document, read: key sets as their JSON (each parsed by [`KeySet`]), the rest typed.
struct SnapshotDoc<'a> {
    keys: BTreeMap<String, Value<'a>>,
    revoked_jti: Vec<String>,
    users: BTreeMap<String, UserRolesBody>,
    api_keys: BTreeMap<String, Vec<ApiKeyRecord>>,
    peppers: BTreeMap<String, String>,
}

impl<'a> SnapshotDoc<'a> {
    fn read(object: Object<'a>) -> Read<SnapshotDoc<'a>> {
        let f = Fields::of(
            object,
            "",
            &["keys", "revoked_jti", "users", "api_keys", "peppers"],
        )?;
        Ok(SnapshotDoc {
            keys: f.or_default("keys", |v, at| document::map(v, at, |v, _| Ok(v)))?,
            revoked_jti: f.or_default("revoked_jti", document::strings)?,
            users: f.or_default("users", |v, at| document::map(v, at, UserRolesBody::read))?,
            api_keys: f.or_default("api_keys", |v, at| {
                document::map(v, at, |v, at| document::list(v, at, ApiKeyRecord::read))
            })?,
            peppers: f.or_default("peppers", |v, at| document::map(v, at, document::string))?,
        })
    }
}

/// A user's current roles: held everywhere, and per tenant.
#[derive(Debug, Default, Clone)]
pub struct UserRecord {
    /// Roles held in every tenant.
    pub roles: Bits,
    /// Roles per tenant (membership).
    pub tenants: HashMap<String, Bits>,
    /// The providers (positions in the policy) whose principals it is for; empty: every provider
    /// that reads user records (a policy with one such provider).
    pub providers: Vec<usize>,
}

impl UserRecord {
    /// Whether the record is for principals of provider `provider` (its position).
    pub fn is_for(&self, provider: usize) -> bool {
        self.providers.is_empty() || self.providers.contains(&provider)
    }
}

/// A stored API key, compiled: names resolved to ids, the hash decoded.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// Its id.
    pub id: String,
    pub(crate) digest: [u8; 32],
    /// Its owner.
    pub owner: String,
    /// The owner's kind.
    pub kind: crate::principal::PrincipalKind,
    /// Its tenant.
    pub tenant: Option<String>,
    pub(crate) roles: Bits,
    pub(crate) scopes: Bits,
    /// Expiry.
    pub expires: Option<u64>,
    /// Revoked.
    pub revoked: bool,
    /// The record as the host wrote it, minus the hash (what a decision shows as claims).
    pub(crate) claims: String,
}

/// One immutable snapshot of key material, built against one policy. Its `Debug` counts what it
/// holds and shows no secret (peppers, HMAC keys, digests).
pub struct Snapshot {
    pub(crate) policy: Arc<CompiledPolicy>,
    pub(crate) keys: Vec<Arc<KeySet>>,
    pub(crate) revoked_jti: HashSet<String>,
    pub(crate) users: HashMap<String, UserRecord>,
    /// Per provider, API-key records by the lookup id of their digests ([`split_key_digest`]).
    pub(crate) api_keys: Vec<HashMap<[u8; KEY_LOOKUP_ID_LEN], KeyRecord>>,
    pub(crate) peppers: Vec<Option<Vec<u8>>>,
    /// Set by the engine when the snapshot is swapped in (from 1; 0 until then); cache entries
    /// carry it.
    pub(crate) generation: u64,
}

impl core::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Snapshot")
            .field("policy", &self.policy.name)
            .field("generation", &self.generation)
            .field(
                "keys",
                &self.keys.iter().map(|k| k.len()).collect::<Vec<_>>(),
            )
            .field("revoked_jti", &self.revoked_jti.len())
            .field("users", &self.users.len())
            .field(
                "api_keys",
                &self.api_keys.iter().map(HashMap::len).collect::<Vec<_>>(),
            )
            .field(
                "peppers",
                &self.peppers.iter().map(Option::is_some).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// How many leading bytes of an API key's digest pick its record. A hash-map lookup compares them
/// with ordinary, early-exit equality, so timing may reveal them; the other 16 bytes decide the
/// match and are compared in constant time (`Engine::authenticate_key`). Knowing part of a stored
/// digest yields no key: the digest is SHA-256 or HMAC-SHA256 of a key of about 190 random bits.
pub(crate) const KEY_LOOKUP_ID_LEN: usize = 16;

/// Splits an API key's digest into its lookup id and the rest, which is compared in constant time.
pub(crate) fn split_key_digest(digest: &[u8; 32]) -> ([u8; KEY_LOOKUP_ID_LEN], &[u8]) {
    let (id, rest) = digest.split_at(KEY_LOOKUP_ID_LEN);
    (
        <[u8; KEY_LOOKUP_ID_LEN]>::try_from(id).unwrap_or_default(),
        rest,
    )
}

/// Role names → bits; an error names the member (`roles[1]`) and the unknown role.
fn role_bits(
    policy: &CompiledPolicy,
    at: &str,
    names: &[String],
) -> Result<Bits, (String, String)> {
    let mut b = Bits::default();
    for (i, n) in names.iter().enumerate() {
        b.insert(
            policy
                .roles
                .names
                .id(n)
                .ok_or_else(|| (format!("{at}[{i}]"), format!("unknown role {n:?}")))?,
        );
    }
    Ok(b)
}

/// Compiles a user's roles, everywhere and per tenant. An error names the member
/// (`tenants.A[0]`) and what is wrong.
pub(crate) fn compile_user(
    policy: &CompiledPolicy,
    roles: &[String],
    tenants: &BTreeMap<String, Vec<String>>,
) -> Result<UserRecord, (String, String)> {
    let mut record = UserRecord {
        roles: role_bits(policy, "roles", roles)?,
        tenants: HashMap::with_capacity(tenants.len()),
        providers: Vec::new(),
    };
    for (tenant, names) in tenants {
        record.tenants.insert(
            tenant.clone(),
            role_bits(policy, &format!("tenants.{tenant}"), names)?,
        );
    }
    Ok(record)
}

/// The providers a user record names, as positions in the policy: each must read user records
/// (`roles_from_record`). A record may name none only when at most one provider reads user
/// records: a subject is unique only within its provider (its issuer), so with several, a record
/// that named none would give one provider's user's roles to another's principal of the same
/// subject. An error names the member and what is wrong.
pub(crate) fn user_providers(
    policy: &CompiledPolicy,
    names: &[String],
) -> Result<Vec<usize>, (String, String)> {
    let readers = || {
        policy
            .providers
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.roles_from_record.is_empty())
    };
    if names.is_empty() && readers().nth(1).is_some() {
        return Err((
            "providers".to_owned(),
            "names no providers, and the policy has several that read user records \
             (roles_from_record): say whose subject this is"
                .to_owned(),
        ));
    }
    let mut ids = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let (id, _) = readers().find(|(_, p)| p.name == *name).ok_or_else(|| {
            (
                format!("providers[{i}]"),
                format!(
                    "the policy has no provider {:?} that reads user records",
                    crate::error::truncated(name, 64)
                ),
            )
        })?;
        ids.push(id);
    }
    Ok(ids)
}

/// Compiles an API-key record: its hash decoded, role and permission names resolved. An error
/// names the member (`scopes[1]`) and what is wrong.
pub(crate) fn compile_key_record(
    policy: &CompiledPolicy,
    r: ApiKeyRecord,
) -> Result<KeyRecord, (String, String)> {
    let (_, digest) = crate::apikey::decode_hash(&r.hash).ok_or_else(|| {
        (
            "hash".to_owned(),
            "hash must be sha256:<b64url> or hmac-sha256:<b64url> of 32 bytes".to_owned(),
        )
    })?;
    let mut scopes = Bits::default();
    for (j, s) in r.scopes.iter().enumerate() {
        scopes.insert(
            policy
                .permissions
                .id(s)
                .ok_or_else(|| (format!("scopes[{j}]"), format!("unknown permission {s:?}")))?,
        );
    }
    let mut public =
        serde_json::to_value(&r).map_err(|e| ("(record)".to_owned(), e.to_string()))?;
    if let Some(o) = public.as_object_mut() {
        o.remove("hash");
    }
    Ok(KeyRecord {
        roles: role_bits(policy, "roles", &r.roles)?,
        id: r.id,
        digest,
        owner: r.owner,
        kind: r.kind,
        tenant: r.tenant,
        scopes,
        expires: r.expires,
        revoked: r.revoked,
        claims: public.to_string(),
    })
}

fn invalid(at: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidSnapshot {
        at: at.into(),
        reason: reason.into(),
    }
}

impl Snapshot {
    /// An empty snapshot: no keys, no records.
    pub fn empty(policy: Arc<CompiledPolicy>) -> Snapshot {
        let n = policy.providers.len();
        let empty = Arc::new(KeySet::empty());
        Snapshot {
            policy,
            keys: vec![empty; n],
            revoked_jti: HashSet::new(),
            users: HashMap::new(),
            api_keys: (0..n).map(|_| HashMap::new()).collect(),
            peppers: vec![None; n],
            generation: 0,
        }
    }

    /// Builds a snapshot for `policy` from its JSON document.
    pub fn from_json(policy: Arc<CompiledPolicy>, bytes: &[u8]) -> Result<Snapshot, Error> {
        if bytes.len() > MAX_SNAPSHOT_BYTES {
            return Err(invalid(
                "(document)",
                format!("{} bytes; the limit is {MAX_SNAPSHOT_BYTES}", bytes.len()),
            ));
        }
        let object = crate::json::parse_object(bytes, MAX_SNAPSHOT_DEPTH).map_err(|r| {
            invalid(
                "(document)",
                format!(
                    "not a strict JSON object: {}",
                    crate::json::describe(r, MAX_SNAPSHOT_DEPTH)
                ),
            )
        })?;
        let doc = SnapshotDoc::read(object).map_err(|f| invalid(f.at, f.reason))?;
        let mut snap = Snapshot::empty(policy.clone());
        let provider_id = |at: &str, name: &str| {
            policy
                .providers
                .iter()
                .position(|p| p.name == name)
                .ok_or_else(|| invalid(at, "no provider has this name"))
        };
        for (name, jwks) in &doc.keys {
            let at = format!("keys.{name}");
            let id = policy
                .providers
                .iter()
                .position(|p| &p.name == name)
                .ok_or_else(|| invalid(&at, "no provider has this name"))?;
            let provider = policy
                .providers
                .get(id)
                .ok_or_else(|| invalid(&at, "provider index"))?;
            let text = jwks.as_raw().as_bytes();
            let set = match provider.algorithms.as_slice() {
                [only] => KeySet::from_jwks_bound(text, *only),
                _ => KeySet::from_jwks(text),
            }
            .map_err(|e| invalid(&at, e.to_string()))?;
            for (i, key) in set.keys().iter().enumerate() {
                if !provider.algorithms.contains(&key.algorithm()) {
                    return Err(invalid(
                        format!("{at}[{i}]"),
                        format!(
                            "key is bound to {}, which provider {name:?} does not allow",
                            key.algorithm()
                        ),
                    ));
                }
            }
            if let Some(slot) = snap.keys.get_mut(id) {
                *slot = Arc::new(set);
            }
        }
        snap.revoked_jti = doc.revoked_jti.into_iter().collect();
        for (name, pepper) in &doc.peppers {
            let at = format!("peppers.{name}");
            // A name that is no provider's may be a pepper written as the key of its entry: the
            // reason gives its length, not its text.
            let id = provider_id(&at, name).map_err(|_| {
                invalid(
                    "peppers",
                    format!(
                        "no provider has the name of a pepper entry ({} bytes)",
                        name.len()
                    ),
                )
            })?;
            let bytes = crate::base64url::decode(pepper.as_bytes())
                .map_err(|_| invalid(&at, "not canonical base64url"))?;
            if bytes.len() < 16 {
                return Err(invalid(&at, "a pepper needs at least 16 bytes"));
            }
            if let Some(slot) = snap.peppers.get_mut(id) {
                *slot = Some(bytes);
            }
        }
        for (name, records) in doc.api_keys {
            let at = format!("api_keys.{name}");
            let id = provider_id(&at, &name)?;
            let provider = policy
                .providers
                .get(id)
                .ok_or_else(|| invalid(&at, "provider index"))?;
            if provider.provider_type != crate::policy::ProviderType::ApiKey {
                return Err(invalid(&at, "not an API-key provider"));
            }
            let peppered = provider.hashing == crate::policy::KeyHashing::HmacSha256;
            if peppered && snap.peppers.get(id).is_none_or(Option::is_none) {
                return Err(invalid(
                    &at,
                    "the provider hashes with hmac-sha256 but the snapshot has no pepper for it",
                ));
            }
            let mut map = HashMap::with_capacity(records.len());
            for (i, r) in records.into_iter().enumerate() {
                let at = format!("{at}[{i}]");
                let (is_peppered, _) = crate::apikey::decode_hash(&r.hash).ok_or_else(|| {
                    invalid(
                        &at,
                        "hash must be sha256:<b64url> or hmac-sha256:<b64url> of 32 bytes",
                    )
                })?;
                if is_peppered != peppered {
                    return Err(invalid(
                        &at,
                        format!(
                            "hash kind does not match the provider's {:?} hashing",
                            provider.hashing
                        ),
                    ));
                }
                let record = compile_key_record(&policy, r)
                    .map_err(|(sub, reason)| invalid(format!("{at}.{sub}"), reason))?;
                if map
                    .insert(split_key_digest(&record.digest).0, record)
                    .is_some()
                {
                    return Err(invalid(
                        &at,
                        "two records share a hash (or its first 16 bytes, the lookup id)",
                    ));
                }
            }
            if let Some(slot) = snap.api_keys.get_mut(id) {
                *slot = map;
            }
        }
        for (subject, u) in doc.users {
            let record = compile_user(&policy, &u.roles, &u.tenants)
                .and_then(|mut r| {
                    r.providers = user_providers(&policy, &u.providers)?;
                    Ok(r)
                })
                .map_err(|(sub, reason)| invalid(format!("users.{subject}.{sub}"), reason))?;
            snap.users.insert(subject, record);
        }
        Ok(snap)
    }

    /// This snapshot with provider `name`'s key set replaced by `keys` (a refreshed JWKS); every
    /// other key set and record is shared or copied. Errors: no provider by that name, or a key
    /// bound to an algorithm the provider does not allow.
    pub fn with_provider_keys(&self, name: &str, keys: Arc<KeySet>) -> Result<Snapshot, Error> {
        let at = format!("keys.{name}");
        let id = self
            .policy
            .providers
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| invalid(&at, "no provider has this name"))?;
        let provider = self
            .policy
            .providers
            .get(id)
            .ok_or_else(|| invalid(&at, "provider index"))?;
        if let Some((i, key)) = keys
            .keys()
            .iter()
            .enumerate()
            .find(|(_, k)| !provider.algorithms.contains(&k.algorithm()))
        {
            return Err(invalid(
                format!("{at}[{i}]"),
                format!(
                    "key is bound to {}, which provider {name:?} does not allow",
                    key.algorithm()
                ),
            ));
        }
        let mut all = self.keys.clone();
        if let Some(slot) = all.get_mut(id) {
            *slot = keys;
        }
        Ok(Snapshot {
            policy: Arc::clone(&self.policy),
            keys: all,
            revoked_jti: self.revoked_jti.clone(),
            users: self.users.clone(),
            api_keys: self.api_keys.clone(),
            peppers: self.peppers.clone(),
            generation: 0,
        })
    }

    /// The key set of provider `name`, if the policy has one by that name.
    pub fn keys_of(&self, name: &str) -> Option<&Arc<KeySet>> {
        let id = self.policy.providers.iter().position(|p| p.name == name)?;
        self.keys.get(id)
    }
}
