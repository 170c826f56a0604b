//! `Engine::check`: one call tells a gateway who is calling, for which tenant, with which roles and
//! permissions, and which status to return.
//!
//! The order of checks is fixed:
//! 1. the request's limits and path (400 `invalid_request`);
//! 2. the route (404 `route_not_found` for unknown routes unless the policy lets authenticated
//!    callers through); a public route stops here with 200;
//! 3. exactly one credential (401 `missing_credentials`, 400 `ambiguous_credentials`);
//! 4. authentication: the provider is chosen by the credential's place and the token's `iss`,
//!    then the token is verified under that provider's keys and rules (401 with the token's
//!    reason; `unknown_kid` carries a key-refresh hint), its `jti` checked against the deny-list;
//!    the route's allowed principal kinds and providers (403 `principal_not_allowed`);
//! 5. the tenant, for tenant-scoped routes: present and well formed (400 `missing_tenant`,
//!    `invalid_tenant`);
//! 6. membership (403 `tenant_forbidden`, or 404 `not_found` where the policy hides tenants);
//! 7. permissions (403 `insufficient_permissions`, challenge `insufficient_scope`).
//!
//! The engine is immutable and `Send + Sync`; its key snapshot is swapped atomically, and one
//! check sees one snapshot from start to end.

use crate::apikey::{self, Hashing};
use crate::claims::Claims;
use crate::decision::{Decision, Principal, RefreshHint};
use crate::error::{Error, ErrorCode};
use crate::json::Object;
use crate::jws::{self, ParseLimits, TokenBuffer};
use crate::policy::{CompiledPolicy, KeyHashing, Location, Provider, ProviderType, UnknownRoutes};
use crate::principal::lists_tenant;
use crate::principal::PrincipalKind;
use crate::request::{cookie_value, Request};
use crate::roles::Bits;
use crate::routes::{Requirement, Route};
use crate::snapshot::{Snapshot, UserRecord};
use crate::tenant::{self, TenantError};
use arc_swap::ArcSwap;
use std::sync::Arc;

/// The policy engine.
pub struct Engine {
    policy: Arc<CompiledPolicy>,
    snapshot: ArcSwap<Snapshot>,
    unknown_route: Route,
}

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("policy", &self.policy.name)
            .finish_non_exhaustive()
    }
}

/// Where membership and per-tenant roles come from.
enum Membership<'a> {
    /// The token's claims, read as its provider says.
    Claims(&'a Provider, Object<'a>),
    /// A user record: the user's current roles.
    Record(&'a UserRecord),
    /// An API key bound to one tenant (or to none).
    Key(Option<&'a str>),
}

/// A credential that verified: who it stands for, the roles it holds everywhere, its scopes, and
/// where its tenant memberships come from.
struct Authenticated<'a> {
    principal: Principal,
    held: Bits,
    scopes: Bits,
    membership: Membership<'a>,
}

/// A refusal on the way to a decision.
struct Refusal {
    code: ErrorCode,
    message: String,
    scope: Option<String>,
    refresh: Option<RefreshHint>,
    principal: Option<Box<Principal>>,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            scope: None,
            refresh: None,
            principal: None,
        }
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        Refusal::new(e.code(), e.to_string())
    }
}

impl Engine {
    /// Compiles a policy (JSON) into an engine with an empty key snapshot.
    pub fn from_policy_json(policy: &[u8]) -> Result<Engine, Error> {
        let policy = Arc::new(CompiledPolicy::from_json(policy)?);
        Ok(Engine {
            snapshot: ArcSwap::from_pointee(Snapshot::empty(policy.clone())),
            policy,
            unknown_route: Route {
                index: usize::MAX,
                template: "(unknown route)".to_owned(),
                public: false,
                tenant: false,
                requirement: Requirement::default(),
                principals: None,
                providers: None,
            },
        })
    }

    /// The compiled policy.
    pub fn policy(&self) -> &Arc<CompiledPolicy> {
        &self.policy
    }

    /// Builds a snapshot for this engine's policy from its JSON document (see [`Snapshot`]).
    pub fn snapshot_from_json(&self, document: &[u8]) -> Result<Snapshot, Error> {
        Snapshot::from_json(self.policy.clone(), document)
    }

    /// Replaces the key snapshot atomically. Checks already running finish on the old one.
    pub fn swap_snapshot(&self, snapshot: Snapshot) -> Result<(), Error> {
        if !Arc::ptr_eq(&snapshot.policy, &self.policy) {
            return Err(Error::InvalidSnapshot {
                at: "(snapshot)".to_owned(),
                reason: "built for another engine's policy".to_owned(),
            });
        }
        self.snapshot.store(Arc::new(snapshot));
        Ok(())
    }

    /// Parses a snapshot document and swaps it in.
    pub fn swap_snapshot_json(&self, document: &[u8]) -> Result<(), Error> {
        self.swap_snapshot(self.snapshot_from_json(document)?)
    }

    /// Decides `request` at time `now` (Unix seconds).
    pub fn check(&self, request: &Request<'_>, now: u64) -> Decision {
        let snapshot = self.snapshot.load();
        let correlation_id = self.correlation_id(request);
        let mut route_template = None;
        let outcome = self.decide(request, now, &snapshot, &mut route_template);
        let realm = &self.policy.realm;
        match outcome {
            Ok(principal) => {
                let forward_headers = principal
                    .as_ref()
                    .map(|p| self.forward_headers(p))
                    .unwrap_or_default();
                Decision {
                    status: 200,
                    code: ErrorCode::Allowed,
                    message: "allowed".to_owned(),
                    route: route_template,
                    principal,
                    www_authenticate: None,
                    forward_headers,
                    correlation_id,
                    refresh_hint: None,
                }
            }
            Err(r) => {
                let status = r.code.http_status();
                let www_authenticate = match (status, r.code) {
                    (401, ErrorCode::MissingCredentials) => Some(format!("Bearer realm=\"{realm}\"")),
                    (401, code) => Some(format!(
                        "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{}\"",
                        code.name()
                    )),
                    (403, ErrorCode::InsufficientPermissions) => Some(format!(
                        "Bearer realm=\"{realm}\", error=\"insufficient_scope\", scope=\"{}\"",
                        r.scope.unwrap_or_default()
                    )),
                    (400, ErrorCode::AmbiguousCredentials) => {
                        Some(format!("Bearer realm=\"{realm}\", error=\"invalid_request\""))
                    }
                    _ => None,
                };
                Decision {
                    status,
                    code: r.code,
                    message: r.message,
                    route: route_template,
                    principal: r.principal.map(|p| *p),
                    www_authenticate,
                    forward_headers: Vec::new(),
                    correlation_id,
                    refresh_hint: r.refresh,
                }
            }
        }
    }

    fn correlation_id(&self, request: &Request<'_>) -> Option<String> {
        let name = self.policy.correlation_header.as_deref()?;
        let value = request.header_values(name).next()?;
        (value.len() <= 256 && value.bytes().all(|b| b.is_ascii_graphic()))
            .then(|| value.to_owned())
    }

    fn decide(
        &self,
        request: &Request<'_>,
        now: u64,
        snapshot: &Snapshot,
        route_template: &mut Option<String>,
    ) -> Result<Option<Principal>, Refusal> {
        let path = request.checked_path()?;
        let matched = self.policy.router.at(request.method, path);
        let (route, params) = match &matched {
            Some(m) => (m.route, Some(&m.params)),
            None => match self.policy.unknown_routes {
                UnknownRoutes::Deny => {
                    return Err(Refusal::new(
                        ErrorCode::RouteNotFound,
                        format!("no route for {} {path}", request.method),
                    ))
                }
                UnknownRoutes::Authenticated => (&self.unknown_route, None),
            },
        };
        *route_template = Some(route.template.clone());
        if route.public {
            return Ok(None);
        }

        // One credential, then who it stands for.
        let (source, token) = self.credential(request)?;
        let mut buf = TokenBuffer::new();
        let mut authn = match self.key_provider_for(source, token) {
            Some(id) => self.authenticate_key(id, token, now, snapshot)?,
            None => self.authenticate_jwt(source, token, now, snapshot, &mut buf)?,
        };
        let kind = authn.principal.kind;
        if route
            .principals
            .as_ref()
            .is_some_and(|ks| !ks.contains(&kind))
            || route
                .providers
                .as_ref()
                .is_some_and(|ps| !ps.contains(&authn.principal.provider))
        {
            let message = format!(
                "a {} from {:?} may not use this route",
                kind.name(),
                authn.principal.provider()
            );
            return Err(Refusal {
                principal: Some(Box::new(authn.principal)),
                ..Refusal::new(ErrorCode::PrincipalNotAllowed, message)
            });
        }

        // Tenant and membership.
        if route.tenant {
            let rule = self.policy.tenant.as_ref().ok_or_else(|| {
                Refusal::new(
                    ErrorCode::Internal,
                    "tenant-scoped route without a tenant rule",
                )
            })?;
            let empty = matchit::Params::new();
            let tenant =
                tenant::extract(rule, request, params.unwrap_or(&empty)).map_err(|e| match e {
                    TenantError::Missing => Refusal::new(
                        ErrorCode::MissingTenant,
                        "the route is tenant-scoped and no tenant was given",
                    ),
                    TenantError::Invalid => {
                        Refusal::new(ErrorCode::InvalidTenant, "the tenant is malformed")
                    }
                })?;
            let member = self.member(&authn.membership, tenant, &mut authn.held);
            authn.principal.tenant = Some(tenant.to_owned());
            if !member {
                let code = if rule.hide_non_members {
                    ErrorCode::NotFound
                } else {
                    ErrorCode::TenantForbidden
                };
                return Err(Refusal {
                    principal: Some(Box::new(authn.principal)),
                    ..Refusal::new(code, "the caller is not a member of the tenant")
                });
            }
        }

        // Permissions.
        let (roles, mut perms) = self.policy.roles.effective(&authn.held);
        perms.union_with(&authn.scopes);
        let mut principal = authn.principal;
        principal.roles = roles;
        principal.permissions = perms;
        if !route.requirement.satisfied_by(&perms) {
            let missing = route.requirement.missing(&perms);
            let scope = self
                .policy
                .permissions
                .names_of(&missing)
                .collect::<Vec<_>>()
                .join(" ");
            return Err(Refusal {
                message: format!("missing permission(s): {scope}"),
                scope: Some(scope),
                principal: Some(Box::new(principal)),
                ..Refusal::new(ErrorCode::InsufficientPermissions, "")
            });
        }
        Ok(Some(principal))
    }

    fn principal(
        &self,
        provider: usize,
        subject: String,
        kind: PrincipalKind,
        expires_at: Option<f64>,
        claims: String,
    ) -> Principal {
        Principal {
            policy: self.policy.clone(),
            subject,
            kind,
            provider,
            tenant: None,
            roles: Bits::default(),
            permissions: Bits::default(),
            expires_at,
            claims,
        }
    }

    /// The user record that gives a principal of `kind` its current roles, when the provider
    /// says so (`roles_from_record`): `Ok(None)` when roles come from the credential itself.
    fn user_record<'s>(
        &self,
        provider: &Provider,
        kind: PrincipalKind,
        subject: &str,
        snapshot: &'s Snapshot,
    ) -> Result<Option<&'s UserRecord>, Refusal> {
        if !provider.roles_from_record.contains(&kind) {
            return Ok(None);
        }
        snapshot.users.get(subject).map(Some).ok_or_else(|| {
            Refusal::new(
                ErrorCode::UnknownPrincipal,
                format!("no user record for the {}'s subject", kind.name()),
            )
        })
    }

    /// Verifies a JWT under the provider its credential place and issuer choose.
    fn authenticate_jwt<'s>(
        &'s self,
        source: usize,
        token: &str,
        now: u64,
        snapshot: &'s Snapshot,
        buf: &'s mut TokenBuffer,
    ) -> Result<Authenticated<'s>, Refusal> {
        let parsed = jws::parse(token.as_bytes(), ParseLimits::default(), buf)?;
        let (provider_id, provider) = self.provider_for(source, parsed.unverified_payload())?;
        let keys = snapshot.keys.get(provider_id).ok_or_else(|| {
            Refusal::new(
                ErrorCode::Internal,
                "snapshot has no entry for the provider",
            )
        })?;
        if !provider.algorithms.contains(&parsed.header().alg()) {
            return Err(Refusal::new(
                ErrorCode::AlgorithmMismatch,
                format!(
                    "provider {:?} does not accept {}",
                    provider.name,
                    parsed.header().alg()
                ),
            ));
        }
        let verified = parsed.verify(keys).map_err(|e| {
            let mut r = Refusal::from(e.clone());
            if let Some(kid) = e.refresh_hint() {
                r.refresh = Some(RefreshHint {
                    provider: provider.name.clone(),
                    kid: kid.to_owned(),
                });
            }
            r
        })?;
        let claims = Claims::parse(
            verified.payload(),
            provider.validation.limits.max_json_depth,
        )?;
        provider
            .validation
            .validate(verified.header(), &claims, now)?;
        if let Some(jti) = claims.jwt_id() {
            if snapshot.revoked_jti.contains(&*jti.to_cow()) {
                return Err(Refusal::new(
                    ErrorCode::TokenRevoked,
                    "the token's jti is on the deny-list",
                ));
            }
        }
        let object = claims.object();
        let subject = provider
            .subject
            .get(&object)
            .and_then(|v| v.as_str())
            .map(|s| s.to_cow().into_owned())
            .ok_or_else(|| {
                Refusal::new(
                    ErrorCode::MissingClaim,
                    format!(
                        "subject claim {} is missing or not a string",
                        provider.subject
                    ),
                )
            })?;
        let kind = provider.kind_of(&object);
        let record = self.user_record(provider, kind, &subject, snapshot)?;
        let mut held = Bits::default();
        let membership = match record {
            Some(r) => {
                held = r.roles;
                Membership::Record(r)
            }
            None => {
                for source in &provider.global_roles {
                    source.collect(&object, &self.policy.roles.names, &mut held);
                }
                Membership::Claims(provider, object)
            }
        };
        let mut scopes = Bits::default();
        for source in &provider.scopes {
            source.collect(&object, &self.policy.permissions, &mut scopes);
        }
        Ok(Authenticated {
            principal: self.principal(
                provider_id,
                subject,
                kind,
                claims.expires_at(),
                object.as_str().to_owned(),
            ),
            held,
            scopes,
            membership,
        })
    }

    /// The API-key provider for this credential: the one reading this place whose prefix the key
    /// carries; or, for a credential without the dots of a JWT, the first API-key provider reading
    /// this place (which then refuses it as `malformed_api_key`, not `malformed_token`).
    fn key_provider_for(&self, source: usize, token: &str) -> Option<usize> {
        let mut readers = self.policy.providers.iter().enumerate().filter(|(_, p)| {
            p.provider_type == ProviderType::ApiKey && p.credentials.contains(&source)
        });
        let prefixed = readers.clone().find(|(_, p)| {
            p.prefixes.iter().any(|prefix| {
                token.len() > prefix.len()
                    && token.starts_with(prefix.as_str())
                    && token.as_bytes().get(prefix.len()) == Some(&b'_')
            })
        });
        match prefixed {
            Some((i, _)) => Some(i),
            None if !token.contains('.') => readers.next().map(|(i, _)| i),
            None => None,
        }
    }

    /// Checks an API key's form, looks its hash up and applies its record.
    fn authenticate_key<'s>(
        &'s self,
        provider_id: usize,
        token: &str,
        now: u64,
        snapshot: &'s Snapshot,
    ) -> Result<Authenticated<'s>, Refusal> {
        let provider = self
            .policy
            .providers
            .get(provider_id)
            .ok_or_else(|| Refusal::new(ErrorCode::Internal, "provider index"))?;
        let prefixes: Vec<&str> = provider.prefixes.iter().map(String::as_str).collect();
        let key = apikey::parse(token, &prefixes)?;
        let hashing = match provider.hashing {
            KeyHashing::Sha256 => Hashing::Sha256,
            KeyHashing::HmacSha256 => {
                match snapshot.peppers.get(provider_id).and_then(Option::as_ref) {
                    Some(p) => Hashing::HmacSha256(p.clone()),
                    None => {
                        return Err(Refusal::new(
                            ErrorCode::UnknownApiKey,
                            "no pepper loaded for the provider",
                        ))
                    }
                }
            }
        };
        let (_, digest) = apikey::decode_hash(&hashing.hash(key.as_str()))
            .ok_or_else(|| Refusal::new(ErrorCode::Internal, "hash encoding"))?;
        let record = snapshot
            .api_keys
            .get(provider_id)
            .and_then(|m| m.get(&digest))
            .filter(|r| crate::crypto::constant_time_eq(&r.digest, &digest))
            .ok_or_else(|| Refusal::new(ErrorCode::UnknownApiKey, "no record for this API key"))?;
        if record.revoked {
            return Err(Refusal::new(
                ErrorCode::ApiKeyRevoked,
                format!("API key {} is revoked", record.id),
            ));
        }
        if record.expires.is_some_and(|e| now >= e) {
            return Err(Refusal::new(
                ErrorCode::ApiKeyExpired,
                format!("API key {} has expired", record.id),
            ));
        }
        let user = self.user_record(provider, record.kind, &record.owner, snapshot)?;
        let (held, membership) = match user {
            Some(u) => (u.roles, Membership::Record(u)),
            None => (record.roles, Membership::Key(record.tenant.as_deref())),
        };
        Ok(Authenticated {
            principal: self.principal(
                provider_id,
                record.owner.clone(),
                record.kind,
                record.expires.map(|e| e as f64),
                record.claims.clone(),
            ),
            held,
            scopes: record.scopes,
            membership,
        })
    }

    /// Whether the principal is a member of `tenant`; adds the roles it holds there.
    fn member(&self, membership: &Membership<'_>, tenant: &str, held: &mut Bits) -> bool {
        match membership {
            Membership::Record(r) => match r.tenants.get(tenant) {
                Some(roles) => {
                    held.union_with(roles);
                    true
                }
                None => false,
            },
            Membership::Claims(provider, object) => {
                self.token_membership(provider, object, tenant, held)
            }
            Membership::Key(t) => *t == Some(tenant),
        }
    }

    /// Membership from the token: a per-tenant role claim that lists the tenant, or a tenant-list
    /// claim that names it (roles held everywhere then apply).
    fn token_membership(
        &self,
        provider: &Provider,
        claims: &Object<'_>,
        tenant: &str,
        held: &mut Bits,
    ) -> bool {
        let mut member = false;
        for source in &provider.tenant_roles {
            member |= source.collect_for_tenant(claims, tenant, &self.policy.roles.names, held);
        }
        if let Some(path) = &provider.tenants {
            member |= lists_tenant(claims, path, tenant);
        }
        member
    }

    /// Finds the one credential the request carries: `(source id, token)`.
    fn credential<'r>(&self, request: &Request<'r>) -> Result<(usize, &'r str), Refusal> {
        let mut found: Option<(usize, &'r str)> = None;
        let mut count = 0usize;
        for (id, source) in self.policy.credentials.iter().enumerate() {
            let values: Vec<&'r str> = match &source.location {
                Location::Header { name, scheme } => request
                    .header_values(name)
                    .filter_map(|v| match scheme {
                        None => Some(v.trim_matches([' ', '\t'])),
                        Some(s) => {
                            let (given, rest) = v.trim_start_matches(' ').split_once(' ')?;
                            given
                                .eq_ignore_ascii_case(s)
                                .then(|| rest.trim_matches([' ', '\t']))
                        }
                    })
                    .filter(|v| !v.is_empty())
                    .collect(),
                Location::Cookie { name } => request
                    .header_values("cookie")
                    .filter_map(|h| cookie_value(h, name))
                    .filter(|v| !v.is_empty())
                    .collect(),
            };
            for v in values {
                count += 1;
                found = Some((id, v));
            }
        }
        match (count, found) {
            (0, _) | (_, None) => Err(Refusal::new(
                ErrorCode::MissingCredentials,
                "no credential presented",
            )),
            (1, Some(f)) => Ok(f),
            _ => Err(Refusal::new(
                ErrorCode::AmbiguousCredentials,
                format!("{count} credentials presented; send exactly one"),
            )),
        }
    }

    /// Chooses the provider: among those reading this credential, the one whose issuers list the
    /// token's (unverified) `iss`, else the one without issuers. The choice only picks which keys
    /// and rules verify the token; nothing unverified is trusted.
    fn provider_for(
        &self,
        source: usize,
        unverified_payload: &[u8],
    ) -> Result<(usize, &Provider), Refusal> {
        let iss = crate::json::parse_object(unverified_payload, 16)
            .ok()
            .and_then(|o| o.get("iss"))
            .and_then(|v| v.as_str().map(|s| s.to_cow().into_owned()));
        let candidates = self
            .policy
            .providers
            .iter()
            .enumerate()
            .filter(|(_, p)| p.credentials.contains(&source));
        let mut fallback = None;
        for (i, p) in candidates {
            if let Some(iss) = &iss {
                if p.issuers.iter().any(|x| x == iss) {
                    return Ok((i, p));
                }
            }
            if p.issuers.is_empty() {
                fallback = Some((i, p));
            }
        }
        fallback.ok_or_else(|| {
            Refusal::new(
                ErrorCode::UnknownIssuer,
                match iss {
                    Some(_) => "no provider trusts the token's issuer".to_owned(),
                    None => "the token has no issuer and no provider accepts tokens without one"
                        .to_owned(),
                },
            )
        })
    }

    fn forward_headers(&self, p: &Principal) -> Vec<(String, String)> {
        let f = &self.policy.forward;
        let mut out = Vec::new();
        let mut push = |name: &Option<String>, value: String| {
            if let Some(n) = name {
                if value.bytes().all(|b| !b.is_ascii_control()) {
                    out.push((n.clone(), value));
                }
            }
        };
        push(&f.subject, p.subject.clone());
        if let Some(t) = &p.tenant {
            push(&f.tenant, t.clone());
        }
        push(&f.roles, p.roles().collect::<Vec<_>>().join(","));
        push(&f.kind, p.kind.name().to_owned());
        push(&f.provider, p.provider().to_owned());
        if !f.claims.is_empty() {
            if let Ok(claims) = crate::json::parse_object(p.claims.as_bytes(), 64) {
                for ch in &f.claims {
                    if let Some(v) = ch.claim.get(&claims) {
                        let value = match v.as_str() {
                            Some(s) => s.to_cow().into_owned(),
                            None => match v.as_array() {
                                Some(items) => items
                                    .filter_map(|i| i.as_str().map(|s| s.to_cow().into_owned()))
                                    .collect::<Vec<_>>()
                                    .join(","),
                                None => v.as_raw().to_owned(),
                            },
                        };
                        push(&Some(ch.header.clone()), value);
                    }
                }
            }
        }
        out
    }

    /// Re-issues the token behind an allowed decision: the same claims with `iat = now` and
    /// `exp = now + reissue_ttl`, signed with the provider's HMAC secret from the snapshot. For
    /// deployments where a valid token may mint a new one for the same subject.
    pub fn reissue(&self, decision: &Decision, now: u64) -> Result<String, Error> {
        let fail = |reason: &str| Error::SigningFailed {
            reason: reason.to_owned(),
        };
        let principal = decision
            .principal
            .as_ref()
            .filter(|_| decision.is_allowed())
            .ok_or_else(|| fail("only an allowed, authenticated decision can be re-issued"))?;
        let provider = self
            .policy
            .providers
            .get(principal.provider)
            .ok_or_else(|| fail("unknown provider"))?;
        let ttl = provider
            .reissue_ttl
            .ok_or_else(|| fail("the provider does not re-issue tokens"))?;
        let snapshot = self.snapshot.load();
        let signer = snapshot
            .signers
            .get(principal.provider)
            .and_then(Option::as_ref)
            .ok_or_else(|| fail("the snapshot has no signing secret for the provider"))?;
        let mut claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&principal.claims)
                .map_err(|_| fail("claims are not an object"))?;
        for k in ["iat", "exp", "nbf", "jti"] {
            claims.remove(k);
        }
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), now.saturating_add(ttl).into());
        let body = serde_json::Value::Object(claims).to_string();
        crate::mint::mint(signer, body.as_bytes(), None)
    }

    /// The principal kinds a provider knows, for tooling.
    pub fn provider_names(&self) -> impl Iterator<Item = &str> {
        self.policy.providers.iter().map(|p| p.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_and_decisions_cross_threads() {
        fn is<T: Send + Sync>() {}
        is::<Engine>();
        is::<Decision>();
        is::<crate::principal::PrincipalKind>();
    }
}
