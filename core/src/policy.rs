//! The policy document (JSON) and its compilation into the immutable form the engine runs.
//!
//! The document is read with the core's typed reader (`document.rs`): unknown members are
//! refused everywhere, and every error, of form or of meaning, names its exact place:
//! `routes[3].public: invalid type: string "yes", expected a boolean`,
//! `routes[3].requires[0]: unknown permission "billing:wirte"`.

use crate::alg::Algorithm;
use crate::claims::Validation;
use crate::document::{self, Fields, Read};
use crate::error::Error;
use crate::json::{Object, Value};
use crate::principal::{ClaimPath, NameSource, PrincipalKind};
use crate::roles::{self, Bits, Names, RoleSpec, Roles};
use crate::routes::{Requirement, Route, Router};
use std::collections::BTreeMap;

/// Largest policy document accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 4 * 1024 * 1024;
/// Deepest JSON nesting of a policy document (the document itself is level 1).
pub const MAX_POLICY_DEPTH: usize = 32;

/// The policy document, as written.
#[derive(Debug)]
pub struct PolicyDocument {
    /// Format version; must be 1.
    pub version: u32,
    /// A name for logs.
    pub name: String,
    /// The `realm` of `WWW-Authenticate` challenges.
    pub realm: String,
    /// Where credentials are found.
    pub credentials: Vec<CredentialDoc>,
    /// Who issues them and how to read them.
    pub providers: Vec<ProviderDoc>,
    /// Where the tenant of tenant-scoped routes comes from.
    pub tenant: Option<TenantDoc>,
    /// Every permission name routes and roles may use.
    pub permissions: Vec<String>,
    /// The roles, their hierarchy and their permissions.
    pub roles: Vec<RoleDoc>,
    /// Method + path → requirement.
    pub routes: Vec<RouteDoc>,
    /// What happens to a request no route matches.
    pub unknown_routes: UnknownRoutes,
    /// Headers a gateway may forward upstream on success.
    pub forward_headers: ForwardDoc,
    /// A request header echoed back in the decision (e.g. `x-correlation-id`).
    pub correlation_header: Option<String>,
    /// The record cache of providers whose records live in a shared store (`"records": "store"`).
    pub store: StoreDoc,
}

/// The in-process cache of records fetched from a shared store (see [`crate::record_cache`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreDoc {
    /// Seconds a fetched record (or a store's "no such record") is used without asking again.
    pub cache_ttl: u64,
    /// Seconds past `cache_ttl` during which a cached record that *exists* may still be used when
    /// the store does not answer. 0 (the default): an unreachable store refuses every check that
    /// needs a record not fresh in the cache (`store_unavailable`, 503).
    pub grace: u64,
    /// Most records the cache holds (default 10,000: about 9 MB; see docs/scaling.md).
    pub cache_entries: usize,
}

/// Longest `store.cache_ttl`, in seconds.
pub const MAX_STORE_CACHE_TTL: u64 = 300;
/// Longest `store.grace`, in seconds.
pub const MAX_STORE_GRACE: u64 = 3600;
/// Most `store.cache_entries`.
pub const MAX_STORE_CACHE_ENTRIES: usize = 10_000_000;

fn default_cache_ttl() -> u64 {
    5
}

fn default_cache_entries() -> usize {
    10_000
}

impl Default for StoreDoc {
    fn default() -> StoreDoc {
        StoreDoc {
            cache_ttl: default_cache_ttl(),
            grace: 0,
            cache_entries: default_cache_entries(),
        }
    }
}

fn default_realm() -> String {
    "api".to_owned()
}

/// Where one credential is found.
#[derive(Debug)]
pub struct CredentialDoc {
    /// Its name, which providers refer to.
    pub name: String,
    /// A request header carrying it.
    pub header: Option<String>,
    /// The auth scheme inside that header (`Bearer` for `Authorization`); none: the whole value.
    pub scheme: Option<String>,
    /// A cookie carrying it.
    pub cookie: Option<String>,
}

/// How the principal's kind is told apart.
#[derive(Debug, Clone)]
pub struct KindDoc {
    /// The claim to read.
    pub claim: ClaimPath,
    /// Claim value → kind.
    pub values: BTreeMap<String, PrincipalKind>,
    /// The kind when the claim is absent or has another value.
    pub default: PrincipalKind,
}

fn default_kind() -> PrincipalKind {
    PrincipalKind::User
}

/// What a provider issues.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum ProviderType {
    /// Signed JWTs.
    #[default]
    Jwt,
    /// Opaque API keys (`<prefix>_<random><checksum>`), looked up by hash in the snapshot or the
    /// store.
    ApiKey,
    /// Opaque server-side session ids (a cookie such as `flow_session`), looked up by hash in the
    /// store; the session record names the user and their roles.
    Session,
}

/// Where a provider's records live: its API-key or session records, the user records of
/// `roles_from_record`, and the `jti` deny-list of its tokens.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum RecordsAt {
    /// In the in-process snapshot: a check never waits on a store.
    #[default]
    Snapshot,
    /// In a shared store (Redis) the host reads: a check may answer *pending* with the record it
    /// needs (see [`crate::pending`]). The snapshot's records still apply as well.
    Store,
}

/// How a provider's API keys are hashed for storage.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum KeyHashing {
    /// SHA-256 of the key.
    #[default]
    Sha256,
    /// HMAC-SHA256 under a pepper the snapshot holds.
    HmacSha256,
}

/// A token issuer and how to read its tokens.
#[derive(Debug)]
pub struct ProviderDoc {
    /// Its name (the key snapshot names its keys by it).
    pub name: String,
    /// `jwt` (default) or `api_key`.
    pub provider_type: ProviderType,
    /// API keys: the accepted prefixes (`fln_live`, `pat`).
    pub prefixes: Vec<String>,
    /// API keys: how stored hashes are made (`sha256`, `hmac-sha256`).
    pub hashing: KeyHashing,
    /// Which credentials (by name) may carry its tokens.
    pub credentials: Vec<String>,
    /// Accepted `iss` values; empty: tokens that no other provider of the same credential claims.
    pub issuers: Vec<String>,
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// Algorithms its keys may be bound to (JWT providers).
    pub algorithms: Vec<Algorithm>,
    /// Required `typ`.
    pub typ: Option<String>,
    /// Clock leeway in seconds.
    pub leeway: Option<u64>,
    /// Maximum `exp - iat`.
    pub max_lifetime: Option<u64>,
    /// Claims that must be present (default `exp`).
    pub required_claims: Option<Vec<String>>,
    /// The subject claim (default `sub`).
    pub subject: Option<ClaimPath>,
    /// How the principal kind is read.
    pub kind: Option<KindDoc>,
    /// Claims that carry roles.
    pub roles: Vec<NameSource>,
    /// Claims that carry scopes or permissions (matched to permission names).
    pub scopes: Vec<NameSource>,
    /// A claim listing the tenants the principal may access (string or array).
    pub tenants: Option<ClaimPath>,
    /// Principal kinds whose roles come from the snapshot's user record at check time, not from
    /// the token (personal access tokens carry the user's *current* roles).
    pub roles_from_record: Vec<PrincipalKind>,
    /// Lifetime of re-issued tokens (HMAC providers only), in seconds.
    pub reissue_ttl: Option<u64>,
    /// Where its records live: `snapshot` (default) or `store`.
    pub records: RecordsAt,
}

/// Where the tenant comes from.
#[derive(Debug)]
pub struct TenantDoc {
    /// A request header (`X-Project-ID`).
    pub header: Option<String>,
    /// A parameter of the route's path template (`tenant_id` in `/api/tenants/{tenant_id}/…`).
    pub path_param: Option<String>,
    /// A format check.
    pub format: Option<TenantFormat>,
    /// Non-members get 404 instead of 403, so a tenant's existence does not leak.
    pub hide_non_members: bool,
}

/// Tenant formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantFormat {
    /// RFC 9562 textual UUID (8-4-4-4-12 hex digits).
    Uuid,
}

/// A role.
#[derive(Debug)]
pub struct RoleDoc {
    /// Its name, as tokens carry it.
    pub name: String,
    /// Roles it includes (`owner` includes `admin`).
    pub inherits: Vec<String>,
    /// Permissions it grants.
    pub grants: Vec<String>,
}

/// One required permission, or a group of which any one suffices.
#[derive(Debug)]
pub enum RequireDoc {
    /// This permission.
    All(String),
    /// Any of these.
    Any(Vec<String>),
}

/// Methods: one, several, or `*`.
#[derive(Debug)]
pub enum MethodsDoc {
    /// One method or `*`.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// A route.
#[derive(Debug)]
pub struct RouteDoc {
    /// HTTP method(s).
    pub method: MethodsDoc,
    /// Path template (`/api/tenants/{tenant_id}/items/{id}`, `/static/{*rest}`).
    pub path: String,
    /// No credential needed.
    pub public: bool,
    /// Permissions required (strings: all of; arrays: any of).
    pub requires: Vec<RequireDoc>,
    /// Tenant-scoped.
    pub tenant: bool,
    /// Whether the route says `tenant` at all (a path naming the tenant parameter must).
    pub tenant_given: bool,
    /// Principal kinds allowed (default: all).
    pub principals: Option<Vec<PrincipalKind>>,
    /// Providers allowed, by name (default: all).
    pub providers: Option<Vec<String>>,
}

/// What unknown routes get.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum UnknownRoutes {
    /// 404 `route_not_found`.
    #[default]
    Deny,
    /// Any authenticated caller passes (no tenant, no permissions).
    Authenticated,
}

/// Forwarded headers.
#[derive(Debug, Default)]
pub struct ForwardDoc {
    /// Header for the subject.
    pub subject: Option<String>,
    /// Header for the tenant.
    pub tenant: Option<String>,
    /// Header for the effective roles (comma-separated).
    pub roles: Option<String>,
    /// Header for the principal kind.
    pub kind: Option<String>,
    /// Header for the provider.
    pub provider: Option<String>,
    /// Claims copied to headers.
    pub claims: Vec<ClaimHeaderDoc>,
}

impl ForwardDoc {
    /// Every header name the policy forwards, each once whatever its letter case (as first
    /// spelled), in the order of the members: what a host replaces or removes on every allowed
    /// request, whether this decision sets it or not, so that a client cannot send one of its
    /// own.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for name in self.spelled() {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(name);
            }
        }
        names
    }

    /// Every header name as the policy spells it, in the order of the members, repeats included.
    fn spelled(&self) -> impl Iterator<Item = &str> {
        [
            &self.subject,
            &self.tenant,
            &self.roles,
            &self.kind,
            &self.provider,
        ]
        .into_iter()
        .filter_map(Option::as_deref)
        .chain(self.claims.iter().map(|c| c.header.as_str()))
    }
}

/// A claim copied to a header (like Envoy's `claim_to_headers`).
#[derive(Debug, Clone)]
pub struct ClaimHeaderDoc {
    /// The claim.
    pub claim: ClaimPath,
    /// The header.
    pub header: String,
}

// Reading the document (see `crate::document`): each type's members, in the order the type
// declares them; unknown members are refused before anything else.

impl PolicyDocument {
    /// Reads a checked policy document.
    fn read(object: Object<'_>) -> Read<PolicyDocument> {
        let f = Fields::of(
            object,
            "",
            &[
                "version",
                "name",
                "realm",
                "credentials",
                "providers",
                "tenant",
                "permissions",
                "roles",
                "routes",
                "unknown_routes",
                "forward_headers",
                "correlation_header",
                "store",
            ],
        )?;
        Ok(PolicyDocument {
            version: f.required("version", document::u32)?,
            name: f.or_default("name", document::string)?,
            realm: f.or("realm", default_realm(), document::string)?,
            credentials: f.required("credentials", |v, at| {
                document::list(v, at, CredentialDoc::read)
            })?,
            providers: f.required("providers", |v, at| {
                document::list(v, at, ProviderDoc::read)
            })?,
            tenant: f.optional("tenant", TenantDoc::read)?,
            permissions: f.or_default("permissions", document::strings)?,
            roles: f.or_default("roles", |v, at| document::list(v, at, RoleDoc::read))?,
            routes: f.required("routes", |v, at| document::list(v, at, RouteDoc::read))?,
            unknown_routes: f.or_default("unknown_routes", |v, at| {
                document::variant(
                    v,
                    at,
                    &[
                        ("deny", UnknownRoutes::Deny),
                        ("authenticated", UnknownRoutes::Authenticated),
                    ],
                )
            })?,
            forward_headers: f.or_default("forward_headers", ForwardDoc::read)?,
            correlation_header: f.optional("correlation_header", document::string)?,
            store: f.or_default("store", StoreDoc::read)?,
        })
    }
}

impl StoreDoc {
    fn read(v: Value<'_>, at: &str) -> Read<StoreDoc> {
        let f = Fields::new(v, at, &["cache_ttl", "grace", "cache_entries"])?;
        Ok(StoreDoc {
            cache_ttl: f.or("cache_ttl", default_cache_ttl(), document::u64)?,
            grace: f.or_default("grace", document::u64)?,
            cache_entries: f.or("cache_entries", default_cache_entries(), document::usize)?,
        })
    }
}

impl CredentialDoc {
    fn read(v: Value<'_>, at: &str) -> Read<CredentialDoc> {
        let f = Fields::new(v, at, &["name", "header", "scheme", "cookie"])?;
        Ok(CredentialDoc {
            name: f.required("name", document::string)?,
            header: f.optional("header", document::string)?,
            scheme: f.optional("scheme", document::string)?,
            cookie: f.optional("cookie", document::string)?,
        })
    }
}

impl KindDoc {
    fn read(v: Value<'_>, at: &str) -> Read<KindDoc> {
        let f = Fields::new(v, at, &["claim", "values", "default"])?;
        Ok(KindDoc {
            claim: f.required("claim", ClaimPath::read)?,
            values: f.required("values", |v, at| document::map(v, at, PrincipalKind::read))?,
            default: f.or("default", default_kind(), PrincipalKind::read)?,
        })
    }
}

impl ProviderDoc {
    fn read(v: Value<'_>, at: &str) -> Read<ProviderDoc> {
        let f = Fields::new(
            v,
            at,
            &[
                "name",
                "type",
                "prefixes",
                "hashing",
                "credentials",
                "issuers",
                "audiences",
                "algorithms",
                "typ",
                "leeway",
                "max_lifetime",
                "required_claims",
                "subject",
                "kind",
                "roles",
                "scopes",
                "tenants",
                "roles_from_record",
                "reissue_ttl",
                "records",
            ],
        )?;
        let name_sources = |v, at: &str| document::list(v, at, NameSource::read);
        Ok(ProviderDoc {
            name: f.required("name", document::string)?,
            provider_type: f.or_default("type", |v, at| {
                document::variant(
                    v,
                    at,
                    &[
                        ("jwt", ProviderType::Jwt),
                        ("api_key", ProviderType::ApiKey),
                        ("session", ProviderType::Session),
                    ],
                )
            })?,
            prefixes: f.or_default("prefixes", document::strings)?,
            hashing: f.or_default("hashing", |v, at| {
                document::variant(
                    v,
                    at,
                    &[
                        ("sha256", KeyHashing::Sha256),
                        ("hmac-sha256", KeyHashing::HmacSha256),
                    ],
                )
            })?,
            credentials: f.required("credentials", document::strings)?,
            issuers: f.or_default("issuers", document::strings)?,
            audiences: f.or_default("audiences", document::strings)?,
            algorithms: f.or_default("algorithms", |v, at| {
                document::list(v, at, |v, at| {
                    let name = document::string(v, at)?;
                    Algorithm::from_name(&name).map_err(|e| document::fault(at, e.to_string()))
                })
            })?,
            typ: f.optional("typ", document::string)?,
            leeway: f.optional("leeway", document::u64)?,
            max_lifetime: f.optional("max_lifetime", document::u64)?,
            required_claims: f.optional("required_claims", document::strings)?,
            subject: f.optional("subject", ClaimPath::read)?,
            kind: f.optional("kind", KindDoc::read)?,
            roles: f.or_default("roles", name_sources)?,
            scopes: f.or_default("scopes", name_sources)?,
            tenants: f.optional("tenants", ClaimPath::read)?,
            roles_from_record: f.or_default("roles_from_record", |v, at| {
                document::list(v, at, PrincipalKind::read)
            })?,
            reissue_ttl: f.optional("reissue_ttl", document::u64)?,
            records: f.or_default("records", |v, at| {
                document::variant(
                    v,
                    at,
                    &[
                        ("snapshot", RecordsAt::Snapshot),
                        ("store", RecordsAt::Store),
                    ],
                )
            })?,
        })
    }
}

impl TenantDoc {
    fn read(v: Value<'_>, at: &str) -> Read<TenantDoc> {
        let f = Fields::new(
            v,
            at,
            &["header", "path_param", "format", "hide_non_members"],
        )?;
        Ok(TenantDoc {
            header: f.optional("header", document::string)?,
            path_param: f.optional("path_param", document::string)?,
            format: f.optional("format", |v, at| {
                document::variant(v, at, &[("uuid", TenantFormat::Uuid)])
            })?,
            hide_non_members: f.or_default("hide_non_members", document::boolean)?,
        })
    }
}

impl RoleDoc {
    fn read(v: Value<'_>, at: &str) -> Read<RoleDoc> {
        let f = Fields::new(v, at, &["name", "inherits", "grants"])?;
        Ok(RoleDoc {
            name: f.required("name", document::string)?,
            inherits: f.or_default("inherits", document::strings)?,
            grants: f.or_default("grants", document::strings)?,
        })
    }
}

impl RequireDoc {
    fn read(v: Value<'_>, at: &str) -> Read<RequireDoc> {
        let expected = "a permission or an array of permissions";
        document::one_or_many(v, at, expected, RequireDoc::All, RequireDoc::Any)
    }
}

impl MethodsDoc {
    fn read(v: Value<'_>, at: &str) -> Read<MethodsDoc> {
        let expected = "a method or an array of methods";
        document::one_or_many(v, at, expected, MethodsDoc::One, MethodsDoc::Many)
    }
}

impl RouteDoc {
    fn read(v: Value<'_>, at: &str) -> Read<RouteDoc> {
        let f = Fields::new(
            v,
            at,
            &[
                "method",
                "path",
                "public",
                "requires",
                "tenant",
                "principals",
                "providers",
            ],
        )?;
        let tenant = f.optional("tenant", document::boolean)?;
        Ok(RouteDoc {
            method: f.required("method", MethodsDoc::read)?,
            path: f.required("path", document::string)?,
            public: f.or_default("public", document::boolean)?,
            requires: f.or_default("requires", |v, at| document::list(v, at, RequireDoc::read))?,
            tenant: tenant.unwrap_or(false),
            tenant_given: tenant.is_some(),
            principals: f.optional("principals", |v, at| {
                document::list(v, at, PrincipalKind::read)
            })?,
            providers: f.optional("providers", document::strings)?,
        })
    }
}

impl ForwardDoc {
    fn read(v: Value<'_>, at: &str) -> Read<ForwardDoc> {
        let f = Fields::new(
            v,
            at,
            &["subject", "tenant", "roles", "kind", "provider", "claims"],
        )?;
        Ok(ForwardDoc {
            subject: f.optional("subject", document::string)?,
            tenant: f.optional("tenant", document::string)?,
            roles: f.optional("roles", document::string)?,
            kind: f.optional("kind", document::string)?,
            provider: f.optional("provider", document::string)?,
            claims: f.or_default("claims", |v, at| {
                document::list(v, at, ClaimHeaderDoc::read)
            })?,
        })
    }
}

impl ClaimHeaderDoc {
    fn read(v: Value<'_>, at: &str) -> Read<ClaimHeaderDoc> {
        let f = Fields::new(v, at, &["claim", "header"])?;
        Ok(ClaimHeaderDoc {
            claim: f.required("claim", ClaimPath::read)?,
            header: f.required("header", document::string)?,
        })
    }
}

/// Where a credential is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A header (name lowercased), optionally with an auth scheme prefix.
    Header {
        /// Lowercase header name.
        name: String,
        /// Scheme (`Bearer`), matched case-insensitively.
        scheme: Option<String>,
    },
    /// A cookie.
    Cookie {
        /// Cookie name (case-sensitive).
        name: String,
    },
}

impl Location {
    /// Whether a request value could be read by both: the same cookie, or the same header where
    /// either has no scheme or both the same one (schemes are matched case-insensitively).
    fn overlaps(&self, other: &Location) -> bool {
        match (self, other) {
            (Location::Cookie { name: a }, Location::Cookie { name: b }) => a == b,
            (Location::Header { name: a, scheme: x }, Location::Header { name: b, scheme: y }) => {
                a == b
                    && match (x, y) {
                        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
                        _ => true,
                    }
            }
            _ => false,
        }
    }
}

/// A compiled credential source.
#[derive(Debug, Clone)]
pub struct CredentialSource {
    /// Its name.
    pub name: String,
    /// Where it is.
    pub location: Location,
}

/// A compiled provider.
#[derive(Debug)]
pub struct Provider {
    /// Its name.
    pub name: String,
    /// JWT or API key.
    pub provider_type: ProviderType,
    /// API-key prefixes.
    pub prefixes: Vec<String>,
    /// API-key hashing.
    pub hashing: KeyHashing,
    /// Credential source ids it accepts.
    pub credentials: Vec<usize>,
    /// Accepted issuers (empty: catch-all for its credentials).
    pub issuers: Vec<String>,
    /// Allowed algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Token checks.
    pub validation: Validation,
    /// Subject claim.
    pub subject: ClaimPath,
    /// Kind rule.
    pub kind: Option<KindDoc>,
    /// Role claims that hold roles for every tenant.
    pub global_roles: Vec<NameSource>,
    /// Role claims that hold roles per tenant.
    pub tenant_roles: Vec<NameSource>,
    /// Scope / permission claims.
    pub scopes: Vec<NameSource>,
    /// Tenant list claim.
    pub tenants: Option<ClaimPath>,
    /// Kinds whose roles come from the user record.
    pub roles_from_record: Vec<PrincipalKind>,
    /// Re-issue lifetime.
    pub reissue_ttl: Option<u64>,
    /// Where its records live.
    pub records: RecordsAt,
}

impl Provider {
    /// The principal kind of a claims set.
    pub fn kind_of<'a>(&self, claims: &impl crate::json::Lookup<'a>) -> PrincipalKind {
        let Some(rule) = &self.kind else {
            return PrincipalKind::User;
        };
        rule.claim
            .get(claims)
            .and_then(|v| v.as_str())
            .and_then(|s| rule.values.get(&*s.to_cow()).copied())
            .unwrap_or(rule.default)
    }
}

/// A compiled tenant rule.
#[derive(Debug, Clone)]
pub struct TenantRule {
    /// Lowercase header name, if from a header.
    pub header: Option<String>,
    /// Path parameter, if from the path.
    pub path_param: Option<String>,
    /// Format check.
    pub format: Option<TenantFormat>,
    /// 404 for non-members.
    pub hide_non_members: bool,
}

/// The immutable, compiled policy.
#[derive(Debug)]
pub struct CompiledPolicy {
    /// Name for logs.
    pub name: String,
    /// Challenge realm.
    pub realm: String,
    /// Credential sources.
    pub credentials: Vec<CredentialSource>,
    /// Providers.
    pub providers: Vec<Provider>,
    /// Tenant rule.
    pub tenant: Option<TenantRule>,
    /// Permission names.
    pub permissions: Names,
    /// Role hierarchy.
    pub roles: Roles,
    /// The router.
    pub router: Router,
    /// Unknown-route rule.
    pub unknown_routes: UnknownRoutes,
    /// Forwarded headers.
    pub forward: ForwardDoc,
    /// Lowercase correlation header.
    pub correlation_header: Option<String>,
    /// The deepest claims nesting any JWT provider allows: claims are read once at this depth,
    /// before the issuer chooses the provider.
    pub deepest_claims: usize,
    /// The record cache's settings.
    pub store: StoreDoc,
    /// The headers the engine reads or a host writes from the decision (credentials, tenant,
    /// correlation id, forwarded headers), lowercase, as the policy spells them: another
    /// spelling of one with `_` for `-` is refused ([`CompiledPolicy::cgi_alias`]).
    pub guarded_headers: Vec<String>,
    /// Whether a guarded header's name holds `_` itself (then any request header may spell it).
    guarded_underscore: bool,
}

impl CompiledPolicy {
    /// The first request header that is not one of [`CompiledPolicy::guarded_headers`] but that
    /// an upstream reading headers through CGI variables would take for one (`X_Project_ID` for
    /// `X-Project-ID`): `(its name, the guarded name)`.
    pub fn cgi_alias<'r>(&self, headers: &[(&'r str, &str)]) -> Option<(&'r str, &str)> {
        // Without `_` on either side a name is either the same header or another one.
        headers
            .iter()
            .filter(|(n, _)| {
                self.guarded_underscore || crate::scan::contains_byte(n.as_bytes(), b'_')
            })
            .find_map(|(n, _)| {
                self.guarded_headers
                    .iter()
                    .find(|g| {
                        crate::request::same_header_for_cgi(n, g) && !n.eq_ignore_ascii_case(g)
                    })
                    .map(|g| (*n, g.as_str()))
            })
    }
}

fn invalid(at: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidPolicy {
        at: at.into(),
        reason: reason.into(),
    }
}

/// An HTTP token (RFC 9110 `tchar`s): a header name, an auth scheme, a cookie name.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl CompiledPolicy {
    /// Whether any provider keeps its records in a shared store: a host must then drive checks
    /// with [`crate::Engine::check_step`] and a store client.
    pub fn uses_store(&self) -> bool {
        self.providers.iter().any(|p| p.records == RecordsAt::Store)
    }

    /// Parses and compiles a policy document.
    pub fn from_json(bytes: &[u8]) -> Result<CompiledPolicy, Error> {
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(invalid(
                "(document)",
                format!("{} bytes; the limit is {MAX_POLICY_BYTES}", bytes.len()),
            ));
        }
        let object = crate::json::parse_object(bytes, MAX_POLICY_DEPTH).map_err(|r| {
            invalid(
                "(document)",
                format!(
                    "not a strict JSON object: {}",
                    crate::json::describe(r, MAX_POLICY_DEPTH)
                ),
            )
        })?;
        let doc = PolicyDocument::read(object).map_err(|f| invalid(f.at, f.reason))?;
        CompiledPolicy::compile(doc)
    }

    /// Compiles a parsed document.
    pub fn compile(doc: PolicyDocument) -> Result<CompiledPolicy, Error> {
        if doc.version != 1 {
            return Err(invalid(
                "version",
                format!("unsupported version {}; expected 1", doc.version),
            ));
        }
        // The realm is a quoted string in every challenge.
        if doc.realm.is_empty()
            || !doc
                .realm
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            return Err(invalid(
                "realm",
                "a realm is printable ASCII without '\"' or '\\' (it is quoted in \
                 WWW-Authenticate)",
            ));
        }
        // Permissions.
        let mut permissions = Names::default();
        for (i, p) in doc.permissions.iter().enumerate() {
            // RFC 6750 scope-token characters: they are named in `scope="…"` challenges.
            if p.is_empty()
                || !p
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
            {
                return Err(invalid(
                    format!("permissions[{i}]"),
                    format!(
                        "invalid permission name {:?}: a scope token (visible ASCII without \
                         spaces, '\"' or '\\')",
                        crate::error::truncated(p, 64)
                    ),
                ));
            }
            if !permissions.add(p) {
                return Err(invalid(
                    format!("permissions[{i}]"),
                    format!("permission {p:?} is declared twice"),
                ));
            }
            if permissions.len() > roles::MAX_BITS {
                return Err(invalid(
                    format!("permissions[{i}]"),
                    format!("more than the limit of {} permissions", roles::MAX_BITS),
                ));
            }
        }
        let perm = |at: String, name: &str| -> Result<usize, Error> {
            permissions
                .id(name)
                .ok_or_else(|| invalid(at, format!("unknown permission {name:?}")))
        };

        // Roles.
        let mut specs = Vec::with_capacity(doc.roles.len());
        for (i, r) in doc.roles.iter().enumerate() {
            // Forwarded upstream as a comma-separated list.
            if r.name.is_empty()
                || !r
                    .name
                    .bytes()
                    .all(|b| (b' '..=b'~').contains(&b) && b != b',')
            {
                return Err(invalid(
                    format!("roles[{i}].name"),
                    format!(
                        "invalid role name {:?}: printable ASCII without ',' (roles are \
                         forwarded as a comma-separated list)",
                        crate::error::truncated(&r.name, 64)
                    ),
                ));
            }
            let mut grants = Bits::default();
            for (j, g) in r.grants.iter().enumerate() {
                grants.insert(perm(format!("roles[{i}].grants[{j}]"), g)?);
            }
            specs.push(RoleSpec {
                name: &r.name,
                inherits: r.inherits.iter().map(String::as_str).collect(),
                grants,
            });
        }
        let roles =
            roles::compile(&specs).map_err(|(i, msg)| invalid(format!("roles[{i}]"), msg))?;

        // Credentials.
        let mut credentials: Vec<CredentialSource> = Vec::new();
        for (i, c) in doc.credentials.iter().enumerate() {
            let at = format!("credentials[{i}]");
            if credentials.iter().any(|x| x.name == c.name) {
                return Err(invalid(
                    at,
                    format!("credential {:?} is defined twice", c.name),
                ));
            }
            let location = match (&c.header, &c.cookie) {
                (Some(h), None) => {
                    if !is_token(h) {
                        return Err(invalid(at, format!("invalid header name {h:?}")));
                    }
                    if let Some(s) = c.scheme.as_deref().filter(|s| !is_token(s)) {
                        return Err(invalid(
                            at,
                            format!("scheme {s:?} is not an auth scheme (a token: no spaces)"),
                        ));
                    }
                    Location::Header {
                        name: h.to_ascii_lowercase(),
                        scheme: c.scheme.clone(),
                    }
                }
                (None, Some(name)) if c.scheme.is_none() && !name.is_empty() => {
                    if !is_token(name) {
                        return Err(invalid(
                            at,
                            format!("cookie name {name:?} is not a token (no spaces, '=' or ';')"),
                        ));
                    }
                    Location::Cookie { name: name.clone() }
                }
                _ => {
                    return Err(invalid(
                        at,
                        "give exactly one of \"header\" (optionally with \"scheme\") or \"cookie\"",
                    ))
                }
            };
            if credentials.iter().any(|x| x.location.overlaps(&location)) {
                return Err(invalid(at, "another credential reads the same place"));
            }
            credentials.push(CredentialSource {
                name: c.name.clone(),
                location,
            });
        }

        // Providers.
        let mut providers: Vec<Provider> = Vec::new();
        for (i, p) in doc.providers.into_iter().enumerate() {
            let at = |f: &str| format!("providers[{i}].{f}");
            if providers.iter().any(|x| x.name == p.name) || p.name.is_empty() {
                return Err(invalid(
                    at("name"),
                    format!("provider name {:?} is empty or used twice", p.name),
                ));
            }
            let mut creds = Vec::new();
            for (j, c) in p.credentials.iter().enumerate() {
                creds.push(
                    credentials
                        .iter()
                        .position(|x| &x.name == c)
                        .ok_or_else(|| {
                            invalid(
                                at(&format!("credentials[{j}]")),
                                format!("unknown credential {c:?}"),
                            )
                        })?,
                );
            }
            if creds.is_empty() {
                return Err(invalid(
                    at("credentials"),
                    "a provider needs at least one credential",
                ));
            }
            match p.provider_type {
                ProviderType::Jwt => {
                    if p.algorithms.is_empty() {
                        return Err(invalid(
                            at("algorithms"),
                            "a JWT provider needs at least one algorithm",
                        ));
                    }
                    if !p.prefixes.is_empty() {
                        return Err(invalid(
                            at("prefixes"),
                            "only API-key providers have prefixes",
                        ));
                    }
                }
                ProviderType::ApiKey => {
                    if !p.algorithms.is_empty()
                        || !p.issuers.is_empty()
                        || !p.audiences.is_empty()
                        || p.reissue_ttl.is_some()
                    {
                        return Err(invalid(
                            at("type"),
                            "an API-key provider has prefixes, not algorithms, issuers, audiences or re-issuing",
                        ));
                    }
                    if p.prefixes.is_empty() {
                        return Err(invalid(
                            at("prefixes"),
                            "an API-key provider needs at least one prefix",
                        ));
                    }
                    for (j, prefix) in p.prefixes.iter().enumerate() {
                        if prefix.len() > crate::apikey::MAX_PREFIX_LEN {
                            return Err(invalid(
                                at(&format!("prefixes[{j}]")),
                                format!(
                                    "prefix is {} bytes, more than the limit of {}",
                                    prefix.len(),
                                    crate::apikey::MAX_PREFIX_LEN
                                ),
                            ));
                        }
                        if !crate::apikey::valid_prefix(prefix) {
                            return Err(invalid(
                                at(&format!("prefixes[{j}]")),
                                format!("invalid prefix {prefix:?}"),
                            ));
                        }
                        if providers.iter().any(|x| x.prefixes.contains(prefix)) {
                            return Err(invalid(
                                at(&format!("prefixes[{j}]")),
                                format!("prefix {prefix:?} belongs to another provider"),
                            ));
                        }
                    }
                }
                // Checked below, with the fields every type shares.
                ProviderType::Session => {}
            }
            if p.provider_type == ProviderType::Session {
                if !p.algorithms.is_empty()
                    || !p.issuers.is_empty()
                    || !p.audiences.is_empty()
                    || !p.prefixes.is_empty()
                    || p.reissue_ttl.is_some()
                {
                    return Err(invalid(
                        at("type"),
                        "a session provider has no algorithms, issuers, audiences, prefixes or re-issuing",
                    ));
                }
                if p.records != RecordsAt::Store {
                    return Err(invalid(
                        at("records"),
                        "session records live in the shared store: set \"records\": \"store\"",
                    ));
                }
            }
            let mut validation = Validation {
                issuers: p.issuers.clone(),
                audiences: p.audiences,
                typ: p.typ,
                ..Validation::default()
            };
            if let Some(l) = p.leeway {
                validation.leeway = l;
            }
            validation.max_lifetime = p.max_lifetime;
            if let Some(r) = p.required_claims {
                validation.required = r;
            }
            validation
                .check()
                .map_err(|e| invalid(at("leeway"), e.to_string()))?;
            for (j, s) in p.roles.iter().chain(p.scopes.iter()).enumerate() {
                if !s.claim.is_valid() {
                    return Err(invalid(
                        at(&format!("roles/scopes[{j}].claim")),
                        "empty claim path",
                    ));
                }
            }
            for (j, s) in p.scopes.iter().enumerate() {
                if s.shape.is_per_tenant() || s.shape == crate::principal::Shape::RoleKeys {
                    return Err(invalid(
                        at(&format!("scopes[{j}].shape")),
                        "scopes are a list or a space-separated string",
                    ));
                }
            }
            if p.provider_type == ProviderType::Jwt
                && !p.roles_from_record.is_empty()
                && p.issuers.len() != 1
            {
                // User records are keyed by subject, and `sub` is unique only per issuer.
                return Err(invalid(
                    at("roles_from_record"),
                    "a JWT provider that reads user records needs exactly one issuer: a \
                     subject is unique only within its issuer",
                ));
            }
            if p.reissue_ttl.is_some() && !p.algorithms.iter().all(|a| a.is_symmetric()) {
                return Err(invalid(
                    at("reissue_ttl"),
                    "only HMAC providers can re-issue tokens",
                ));
            }
            if let (Some(ttl), Some(max)) = (p.reissue_ttl, p.max_lifetime) {
                if ttl > max {
                    return Err(invalid(
                        at("reissue_ttl"),
                        format!(
                            "{ttl}s is longer than max_lifetime ({max}s): the provider would \
                             refuse every token it re-issues"
                        ),
                    ));
                }
            }
            let (tenant_roles, global_roles) =
                p.roles.into_iter().partition(|s| s.shape.is_per_tenant());
            providers.push(Provider {
                name: p.name,
                provider_type: p.provider_type,
                prefixes: p.prefixes,
                hashing: p.hashing,
                credentials: creds,
                issuers: p.issuers,
                algorithms: p.algorithms,
                validation,
                subject: p
                    .subject
                    .unwrap_or_else(|| ClaimPath::Name("sub".to_owned())),
                kind: p.kind,
                global_roles,
                tenant_roles,
                scopes: p.scopes,
                tenants: p.tenants,
                roles_from_record: p.roles_from_record,
                reissue_ttl: p.reissue_ttl,
                records: p.records,
            });
        }
        if providers.is_empty() {
            return Err(invalid("providers", "at least one provider is needed"));
        }
        // Issuers decide the provider: no two providers of one credential may claim one issuer,
        // and at most one may be the catch-all.
        for (i, a) in providers.iter().enumerate() {
            for b in providers.iter().skip(i + 1) {
                if a.provider_type != ProviderType::Jwt || b.provider_type != ProviderType::Jwt {
                    continue;
                }
                let shared = a.credentials.iter().any(|c| b.credentials.contains(c));
                let overlap = a.issuers.iter().any(|x| b.issuers.contains(x))
                    || (a.issuers.is_empty() && b.issuers.is_empty());
                if shared && overlap {
                    return Err(invalid(
                        format!("providers[{}]", providers.iter().position(|p| p.name == b.name).unwrap_or(0)),
                        format!("providers {:?} and {:?} read the same credential and issuer; the issuer must decide", a.name, b.name),
                    ));
                }
            }
        }

        // A session id is an opaque string: the credential carrying it is read by nothing else.
        for (i, p) in providers.iter().enumerate() {
            if p.provider_type != ProviderType::Session {
                continue;
            }
            let shared = providers
                .iter()
                .enumerate()
                .any(|(j, q)| j != i && q.credentials.iter().any(|c| p.credentials.contains(c)));
            if shared {
                return Err(invalid(
                    format!("providers[{i}].credentials"),
                    "a session provider's credentials may not be read by another provider",
                ));
            }
        }
        let store = doc.store;
        if store.cache_ttl > MAX_STORE_CACHE_TTL {
            return Err(invalid(
                "store.cache_ttl",
                format!(
                    "{}s is more than the limit of {MAX_STORE_CACHE_TTL}s",
                    store.cache_ttl
                ),
            ));
        }
        if store.grace > MAX_STORE_GRACE {
            return Err(invalid(
                "store.grace",
                format!(
                    "{}s is more than the limit of {MAX_STORE_GRACE}s",
                    store.grace
                ),
            ));
        }
        if !(1..=MAX_STORE_CACHE_ENTRIES).contains(&store.cache_entries) {
            return Err(invalid(
                "store.cache_entries",
                format!("must be between 1 and {MAX_STORE_CACHE_ENTRIES}"),
            ));
        }

        // Tenant.
        let tenant = match doc.tenant {
            None => None,
            Some(t) => {
                if t.header.is_some() == t.path_param.is_some() {
                    return Err(invalid(
                        "tenant",
                        "give exactly one of \"header\" or \"path_param\"",
                    ));
                }
                if let Some(h) = &t.header {
                    if !is_token(h) {
                        return Err(invalid(
                            "tenant.header",
                            format!("invalid header name {h:?}"),
                        ));
                    }
                }
                Some(TenantRule {
                    header: t.header.map(|h| h.to_ascii_lowercase()),
                    path_param: t.path_param,
                    format: t.format,
                    hide_non_members: t.hide_non_members,
                })
            }
        };

        // Routes.
        let mut router = Router::default();
        for (i, r) in doc.routes.iter().enumerate() {
            let at = |f: &str| format!("routes[{i}].{f}");
            let mut requirement = Requirement::default();
            for (j, req) in r.requires.iter().enumerate() {
                match req {
                    RequireDoc::All(p) => requirement
                        .all
                        .insert(perm(at(&format!("requires[{j}]")), p)?),
                    RequireDoc::Any(group) => {
                        if group.is_empty() {
                            return Err(invalid(
                                at(&format!("requires[{j}]")),
                                "an any-of group must not be empty",
                            ));
                        }
                        let mut bits = Bits::default();
                        for (k, p) in group.iter().enumerate() {
                            bits.insert(perm(at(&format!("requires[{j}][{k}]")), p)?);
                        }
                        requirement.any.push(bits);
                    }
                }
            }
            if r.public
                && (!r.requires.is_empty()
                    || r.tenant
                    || r.principals.is_some()
                    || r.providers.is_some())
            {
                return Err(invalid(
                    at("public"),
                    "a public route cannot also require permissions, a tenant or a caller kind",
                ));
            }
            if r.tenant {
                match &tenant {
                    None => {
                        return Err(invalid(
                            at("tenant"),
                            "the route is tenant-scoped but the policy has no \"tenant\" rule",
                        ))
                    }
                    Some(TenantRule {
                        path_param: Some(param),
                        ..
                    }) if !r.path.contains(&format!("{{{param}}}")) => {
                        return Err(invalid(
                            at("path"),
                            format!("tenant-scoped route lacks the {{{param}}} path parameter"),
                        ))
                    }
                    _ => {}
                }
            }
            let mut allowed_providers = None;
            if let Some(names) = &r.providers {
                let mut ids = Vec::new();
                for (j, n) in names.iter().enumerate() {
                    ids.push(providers.iter().position(|p| &p.name == n).ok_or_else(|| {
                        invalid(
                            at(&format!("providers[{j}]")),
                            format!("unknown provider {n:?}"),
                        )
                    })?);
                }
                allowed_providers = Some(ids);
            }
            let methods: Vec<String> = match &r.method {
                MethodsDoc::One(m) => vec![m.clone()],
                MethodsDoc::Many(ms) => ms.clone(),
            };
            for (j, m) in methods.iter().enumerate() {
                if m != "*" && (m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase())) {
                    return Err(invalid(
                        at(&format!("method[{j}]")),
                        format!("invalid method {m:?} (uppercase, or *)"),
                    ));
                }
            }
            let route = Route {
                index: i,
                template: r.path.clone(),
                public: r.public,
                tenant: r.tenant,
                requirement,
                principals: r.principals.clone(),
                providers: allowed_providers,
            };
            router
                .insert(&r.path, &methods, route)
                .map_err(|reason| invalid(at("path"), reason))?;
            if let Some(TenantRule {
                path_param: Some(param),
                ..
            }) = &tenant
            {
                let names_tenant = crate::routes::param_names(&r.path)
                    .is_ok_and(|names| names.contains(&param.as_str()));
                if !r.public && !r.tenant_given && names_tenant {
                    return Err(invalid(
                        at("tenant"),
                        format!(
                            "the path names the tenant parameter {{{param}}}: say whether the \
                             route is tenant-scoped (\"tenant\": true, members only) or not \
                             (\"tenant\": false, any caller with the permissions, in every tenant)"
                        ),
                    ));
                }
            }
        }

        if let Some(c) = &doc.correlation_header {
            if !is_token(c) {
                return Err(invalid(
                    "correlation_header",
                    format!("invalid header name {c:?}"),
                ));
            }
        }
        for (name, h) in [
            ("subject", &doc.forward_headers.subject),
            ("tenant", &doc.forward_headers.tenant),
            ("roles", &doc.forward_headers.roles),
            ("kind", &doc.forward_headers.kind),
            ("provider", &doc.forward_headers.provider),
        ] {
            if h.as_deref().is_some_and(|h| !is_token(h)) {
                return Err(invalid(
                    format!("forward_headers.{name}"),
                    "invalid header name",
                ));
            }
        }
        for (i, c) in doc.forward_headers.claims.iter().enumerate() {
            if !is_token(&c.header) {
                return Err(invalid(
                    format!("forward_headers.claims[{i}].header"),
                    "invalid header name",
                ));
            }
        }
        // Each forwarded header once, however spelled: two values under one name (or two names
        // a CGI upstream reads as one) would be read differently by different hosts.
        let forwarded: Vec<&str> = doc.forward_headers.spelled().collect();
        for (i, name) in forwarded.iter().enumerate() {
            if let Some(first) = forwarded
                .iter()
                .take(i)
                .find(|f| crate::request::same_header_for_cgi(name, f))
            {
                return Err(invalid(
                    "forward_headers",
                    format!("{name:?} is forwarded twice (as {first:?} too)"),
                ));
            }
        }
        let guarded_headers = {
            let mut names: Vec<String> = credentials
                .iter()
                .map(|c| match &c.location {
                    Location::Header { name, .. } => name.clone(),
                    Location::Cookie { .. } => "cookie".to_owned(),
                })
                .chain(tenant.as_ref().and_then(|t| t.header.clone()))
                .chain(
                    doc.correlation_header
                        .as_ref()
                        .map(|c| c.to_ascii_lowercase()),
                )
                .chain(
                    doc.forward_headers
                        .names()
                        .into_iter()
                        .map(str::to_ascii_lowercase),
                )
                .collect();
            names.sort();
            names.dedup();
            names
        };
        let deepest_claims = providers
            .iter()
            .filter(|p| p.provider_type == ProviderType::Jwt)
            .map(|p| p.validation.limits.max_json_depth)
            .max()
            .unwrap_or(crate::limits::DEFAULT_MAX_JSON_DEPTH);
        Ok(CompiledPolicy {
            deepest_claims,
            name: doc.name,
            realm: doc.realm,
            credentials,
            providers,
            tenant,
            permissions,
            roles,
            router,
            unknown_routes: doc.unknown_routes,
            forward: doc.forward_headers,
            correlation_header: doc.correlation_header.map(|c| c.to_ascii_lowercase()),
            store,
            guarded_underscore: guarded_headers.iter().any(|g| g.contains('_')),
            guarded_headers,
        })
    }
}
