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

use crate::apikey;
use crate::cache::{CacheConfig, Origin, TokenCache};
use crate::claims::{Claims, IndexedClaims, ReadClaims};
use crate::decision::{Decision, Principal, RefreshHint};
use crate::error::{Error, ErrorCode};
use crate::json::MemberIndex;
use crate::jws::{self, ParseLimits, SignatureInput, TokenBuffer};
use crate::pending::{Reach, RecordSource};
use crate::policy::{
    CompiledPolicy, KeyHashing, Location, Provider, ProviderType, RecordsAt, UnknownRoutes,
};
use crate::principal::lists_tenant;
use crate::principal::PrincipalKind;
use crate::record::{Record, RecordKind, RecordLookup, MAX_SESSION_ID_LEN};
use crate::record_cache::RecordCache;
use crate::request::{cookie_values, Request};
use crate::roles::Bits;
use crate::routes::{Requirement, Route};
use crate::snapshot::{split_key_digest, Snapshot, UserRecord};
use crate::tenant::{self, TenantError};
use arc_swap::ArcSwap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// With the test-only `fault-injection` feature, a check of a request with this method panics
/// (after the decision's buffers were taken for the check), so that tests can show a panic never
/// crosses the C ABI or the WebAssembly boundary. No real method looks like it: methods are
/// uppercase letters only.
#[cfg(feature = "fault-injection")]
pub const FAULT_INJECTION_METHOD: &str = "TOLLGATE-FAULT-INJECTION";

/// The policy engine.
pub struct Engine {
    policy: Arc<CompiledPolicy>,
    snapshot: ArcSwap<Snapshot>,
    unknown_route: Route,
    cache: Option<TokenCache>,
    /// Records fetched from the shared store (see [`crate::pending`]).
    records: RecordCache,
    /// Held through every swap, so that one replacing a provider's keys reads and writes the
    /// snapshot as one step.
    swaps: Mutex<Swaps>,
}

/// What the swaps of one engine share.
#[derive(Debug)]
struct Swaps {
    /// The generation the next swapped-in snapshot gets (cache entries of older ones never hit).
    next_generation: u64,
    /// Per provider (by index): whether its keys were swapped on their own
    /// ([`Engine::swap_provider_keys`], a key source). A snapshot swap keeps such keys.
    sourced: Vec<bool>,
}

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("policy", &self.policy.name)
            .finish_non_exhaustive()
    }
}

/// Where membership and per-tenant roles come from.
#[allow(
    clippy::large_enum_variant,
    reason = "one lives on the stack for one check; boxing the claims would allocate"
)]
enum Membership<'a> {
    /// The token's claims ([`Authenticated::claims`]), read as this provider says.
    Claims(&'a Provider),
    /// A user record: the user's current roles.
    Record(&'a UserRecord),
    /// A record from the shared store: a user's roles, a session's, or an API key's tenant.
    Stored(Arc<Record>),
    /// An API key bound to one tenant (or to none).
    Key(Option<&'a str>),
}

/// A credential that verified: the roles it holds everywhere, its scopes, and where its tenant
/// memberships come from. (Who it stands for is written into the decision's principal.)
struct Authenticated<'a> {
    held: Bits,
    scopes: Bits,
    membership: Membership<'a>,
    /// What a key whose roles come from its owner's record was issued for, which bounds what
    /// the owner's roles give ([`KeyBounds`]).
    bounds: KeyBounds<'a>,
    /// A token's verified claims, kept for membership and the forwarded claim headers (`None`
    /// for API keys and sessions, whose claims are the principal's JSON text).
    claims: Option<IndexedClaims<'a>>,
}

/// The limits of an API key: one that names a tenant acts in that tenant only, and one whose
/// roles come from its owner's user record (a personal access token under `roles_from_record`)
/// never gives more than it was issued for, while the owner's current roles decide. Empty for
/// every other credential.
#[derive(Default)]
struct KeyBounds<'a> {
    /// The key names a tenant: outside tenant-scoped routes it holds no roles and no scopes (a
    /// platform admin's key for one project is no platform admin).
    tenant_only: bool,
    /// For a key whose roles are its owner's: the key's tenant, where the owner's membership
    /// counts only.
    tenant: Option<Membership<'a>>,
    /// For a key whose roles are its owner's: the permissions it was issued for (what its roles
    /// grant, what its scopes list, or both when it lists both), when it lists any; permissions
    /// beyond them are dropped.
    permissions: Option<Bits>,
}

/// The signature check a host supplies to [`Engine::check_with`]; `None` verifies in process.
type HostCheck<'c> = Option<&'c mut dyn FnMut(&SignatureInput<'_>) -> Result<(), Error>>;

/// A refusal on the way to a decision. Refusals may allocate (for their messages); the allowed
/// path does not.
struct Refusal {
    code: ErrorCode,
    message: String,
    scope: Option<String>,
    refresh: Option<RefreshHint>,
    /// Whether the decision reports the principal that was authenticated before the refusal.
    keep_principal: bool,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
            scope: None,
            refresh: None,
            keep_principal: false,
        }
    }

    fn with_principal(mut self) -> Refusal {
        self.keep_principal = true;
        self
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        Refusal::new(e.code(), e.to_string())
    }
}

/// The refusal for a record of another kind than the one asked for: `record::parse` checks the
/// kind, so this is a bug.
fn wrong_record(kind: RecordKind) -> Refusal {
    Refusal::new(ErrorCode::Internal, format!("a {kind} record was expected"))
}

impl Engine {
    /// Compiles a policy (JSON) into an engine with an empty key snapshot.
    pub fn from_policy_json(policy: &[u8]) -> Result<Engine, Error> {
        let policy = Arc::new(CompiledPolicy::from_json(policy)?);
        Ok(Engine {
            snapshot: ArcSwap::from_pointee(Snapshot::empty(policy.clone())),
            policy: policy.clone(),
            unknown_route: Route {
                index: usize::MAX,
                template: "(unknown route)".to_owned(),
                public: false,
                tenant: false,
                requirement: Requirement::default(),
                principals: None,
                providers: None,
            },
            cache: None,
            records: RecordCache::new(policy.store),
            swaps: Mutex::new(Swaps {
                next_generation: 1,
                sourced: vec![false; policy.providers.len()],
            }),
        })
    }

    /// Adds a verified-token cache (see [`crate::cache`]): a repeat of a JWT under the same key
    /// snapshot skips its signature check; every other step runs again. Every snapshot swap
    /// starts it afresh. Only snapshots this engine swapped in use it: a check on one it never
    /// did ([`Engine::check_with`] on a snapshot from [`Engine::snapshot_from_json`]) verifies
    /// every signature.
    pub fn with_cache(mut self, config: CacheConfig) -> Engine {
        self.cache = Some(TokenCache::new(config));
        self
    }

    /// The compiled policy.
    pub fn policy(&self) -> &Arc<CompiledPolicy> {
        &self.policy
    }

    /// The cache of records fetched from the shared store.
    pub(crate) fn record_cache(&self) -> &RecordCache {
        &self.records
    }

    /// Builds a snapshot for this engine's policy from its JSON document (see [`Snapshot`]).
    pub fn snapshot_from_json(&self, document: &[u8]) -> Result<Snapshot, Error> {
        Snapshot::from_json(self.policy.clone(), document)
    }

    /// Replaces the key snapshot atomically. Checks already running finish on the old one.
    /// Swaps from several threads are taken one at a time.
    ///
    /// A provider whose keys were swapped on their own (by
    /// [`swap_provider_keys`](Self::swap_provider_keys): a key source bound to this engine)
    /// keeps its current keys, and the snapshot's keys for it are not used, until the host
    /// releases it ([`release_provider_keys`](Self::release_provider_keys)) when it stops the
    /// source. So a snapshot swapped in for its other contents (revoked `jti`s, API keys, an
    /// HMAC rotation) can neither empty a key source's set nor bring back keys the identity
    /// provider has since dropped.
    pub fn swap_snapshot(&self, mut snapshot: Snapshot) -> Result<(), Error> {
        if !Arc::ptr_eq(&snapshot.policy, &self.policy) {
            return Err(Error::InvalidSnapshot {
                at: "(snapshot)".to_owned(),
                reason: "built for another engine's policy".to_owned(),
            });
        }
        let mut swaps = self.swapping();
        let current = self.snapshot.load();
        for ((slot, kept), sourced) in snapshot
            .keys
            .iter_mut()
            .zip(&current.keys)
            .zip(&swaps.sourced)
        {
            if *sourced {
                *slot = Arc::clone(kept);
            }
        }
        self.install(&mut swaps, snapshot);
        Ok(())
    }

    /// The right to swap: held by one swap at a time. No swap panics half-way (a store, a
    /// counter step and flags set after the store), so a poisoned lock holds usable state.
    fn swapping(&self) -> MutexGuard<'_, Swaps> {
        self.swaps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Swaps `snapshot` in, under the swap lock `swaps` is from.
    fn install(&self, swaps: &mut MutexGuard<'_, Swaps>, mut snapshot: Snapshot) {
        snapshot.generation = swaps.next_generation;
        swaps.next_generation += 1;
        self.snapshot.store(Arc::new(snapshot));
        if let Some(cache) = &self.cache {
            cache.clear();
        }
    }

    /// Replaces provider `provider`'s key set in the current snapshot (a refreshed JWKS, see
    /// [`crate::refresh`]), keeping every other key set and record. Like any swap it drops the
    /// verified-token cache. The read of the current snapshot and the write of the new one are
    /// one step: a swap from another thread (a host's new snapshot, another provider's keys)
    /// comes wholly before or wholly after it, never lost in between.
    ///
    /// From then on the provider's keys are this call's to set: a later
    /// [`swap_snapshot`](Self::swap_snapshot) keeps them, until
    /// [`release_provider_keys`](Self::release_provider_keys).
    pub fn swap_provider_keys(
        &self,
        provider: &str,
        keys: Arc<crate::KeySet>,
    ) -> Result<(), Error> {
        let mut swaps = self.swapping();
        let current = self.snapshot.load_full();
        let snapshot = current.with_provider_keys(provider, keys)?;
        self.install(&mut swaps, snapshot);
        if let Ok((id, _)) = self.provider_named(provider) {
            if let Some(sourced) = swaps.sourced.get_mut(id) {
                *sourced = true;
            }
        }
        Ok(())
    }

    /// The policy's provider named `name`, and its index; `invalid_options` when there is none.
    fn provider_named(&self, name: &str) -> Result<(usize, &Provider), Error> {
        self.policy
            .providers
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == name)
            .ok_or_else(|| Error::InvalidOptions {
                reason: format!("the policy has no provider {name:?}"),
            })
    }

    /// Ends what [`swap_provider_keys`](Self::swap_provider_keys) began for `provider`, when the
    /// host stops the key source bound to it: its keys are emptied (no source keeps them fresh,
    /// so they would never go stale) and snapshot swaps set them again. Does nothing for a
    /// provider whose keys no source swapped. Errors if the policy has no such provider.
    pub fn release_provider_keys(&self, provider: &str) -> Result<(), Error> {
        let (id, _) = self.provider_named(provider)?;
        let mut swaps = self.swapping();
        if !swaps.sourced.get(id).copied().unwrap_or(false) {
            return Ok(());
        }
        let current = self.snapshot.load_full();
        let snapshot = current.with_provider_keys(provider, Arc::new(crate::KeySet::empty()))?;
        self.install(&mut swaps, snapshot);
        if let Some(sourced) = swaps.sourced.get_mut(id) {
            *sourced = false;
        }
        Ok(())
    }

    /// Swaps `refresher`'s current key set in as provider `provider`'s keys (see
    /// [`swap_provider_keys`](Self::swap_provider_keys)). When the refresher has no set to serve
    /// at `now` — none fetched yet, or the last one gone stale — the provider's keys are emptied,
    /// so its tokens are refused (fail closed), and the refresher's error is returned
    /// (`key_set_fetch_failed` or `key_set_stale`). A host bound to a refresher calls this after
    /// every poll, good fetch or not, so that staleness reaches the engine.
    ///
    /// A set the provider cannot take (a key of an algorithm it does not allow, from a refresher
    /// not made with [`refresh_config`](Self::refresh_config)) empties its keys too, and the
    /// refusal is returned: keeping the previous set would keep trusting a key the identity
    /// provider has since dropped, for as long as it serves the new set, which never goes stale.
    pub fn swap_provider_keys_from(
        &self,
        provider: &str,
        refresher: &crate::refresh::Refresher,
        now: u64,
    ) -> Result<(), Error> {
        let refused = match refresher.key_set(now) {
            Ok(set) => match self.swap_provider_keys(provider, set) {
                Err(e @ Error::InvalidSnapshot { .. }) => e,
                done => return done,
            },
            Err(e) => e,
        };
        self.swap_provider_keys(provider, Arc::new(crate::KeySet::empty()))?;
        Err(refused)
    }

    /// Refresh settings for provider `provider`'s JWKS: the defaults, keeping only keys of the
    /// algorithms the provider allows. Errors if the policy has no provider by that name.
    pub fn refresh_config(&self, provider: &str) -> Result<crate::refresh::RefreshConfig, Error> {
        let (_, p) = self.provider_named(provider)?;
        Ok(crate::refresh::RefreshConfig {
            algorithms: p.algorithms.clone(),
            ..Default::default()
        })
    }

    /// Parses a snapshot document and swaps it in.
    pub fn swap_snapshot_json(&self, document: &[u8]) -> Result<(), Error> {
        self.swap_snapshot(self.snapshot_from_json(document)?)
    }

    /// Decides `request` at time `now` (Unix seconds).
    pub fn check(&self, request: &Request<'_>, now: u64) -> Decision {
        let mut decision = Decision::default();
        self.check_into(request, now, &mut decision);
        decision
    }

    /// Decides `request` at time `now`, overwriting `decision` in place. Reusing one decision per
    /// thread keeps its buffers warm: an allowed check then allocates nothing.
    pub fn check_into(&self, request: &Request<'_>, now: u64, decision: &mut Decision) {
        let snapshot = self.snapshot.load();
        let mut records = RecordSource::new(&[], &self.records, now, Reach::CacheOnly);
        self.run(request, now, &snapshot, decision, None, &mut records);
    }

    /// The snapshot checks run against now. Pinning it lets a host run one check in two halves
    /// on the same keys (see [`Engine::check_with`]) while swaps go on.
    pub fn current_snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Decides `request` like [`Engine::check`], in the same order, against `snapshot` (from
    /// [`Engine::current_snapshot`]), with each JWT signature decided by `check` (see
    /// [`jws::UnverifiedJws::verify_with`]; `|s| s.verify()` is the in-process check).
    ///
    /// For hosts that verify signatures with their own crypto, such as a runtime's WebCrypto,
    /// which is asynchronous: a first call whose `check` records the [`SignatureInput`] and fails
    /// stops at the signature; once the host has its verdict, a second call on the same snapshot
    /// whose `check` returns that verdict for that input finishes the check. The check is a pure
    /// function of the request, `now` and the snapshot, so both calls reach the same signature.
    /// A snapshot built for another engine gives an `internal_error` decision.
    ///
    /// A token `check` approved is not added to the engine's verified-token cache: only the
    /// engine's own verification vouches for later checks (a hit made by one still skips
    /// `check`, as it skips the engine's own).
    pub fn check_with(
        &self,
        snapshot: &Snapshot,
        request: &Request<'_>,
        now: u64,
        check: &mut dyn FnMut(&SignatureInput<'_>) -> Result<(), Error>,
    ) -> Decision {
        let mut decision = Decision::default();
        if !Arc::ptr_eq(&snapshot.policy, &self.policy) {
            decision.status = ErrorCode::Internal.http_status();
            decision
                .message
                .push_str("the snapshot was built for another engine");
            return decision;
        }
        let mut records = RecordSource::new(&[], &self.records, now, Reach::CacheOnly);
        self.run(
            request,
            now,
            snapshot,
            &mut decision,
            Some(check),
            &mut records,
        );
        decision
    }

    /// One run of a check that may read records from `records` (see [`crate::pending`]).
    pub(crate) fn run_with_records(
        &self,
        request: &Request<'_>,
        now: u64,
        snapshot: &Snapshot,
        decision: &mut Decision,
        records: &mut RecordSource<'_>,
    ) {
        self.run(request, now, snapshot, decision, None, records);
    }

    /// The body of every check: `signature` decides JWT signatures, or `None` for the
    /// in-process check.
    fn run(
        &self,
        request: &Request<'_>,
        now: u64,
        snapshot: &Snapshot,
        decision: &mut Decision,
        signature: HostCheck<'_>,
        records: &mut RecordSource<'_>,
    ) {
        use core::fmt::Write as _;
        decision.reset();
        if let Some(name) = self.policy.correlation_header.as_deref() {
            if let Some(value) = request.header_values(name).next() {
                if value.len() <= 256 && value.bytes().all(|b| b.is_ascii_graphic()) {
                    decision.correlation_id = Some(decision.copy(value));
                }
            }
        }
        let mut principal = decision
            .spare_principal
            .take()
            .unwrap_or_else(|| Principal::new(self.policy.clone()));
        principal.reset(&self.policy);
        let mut scratch = core::mem::take(&mut decision.scratch);
        let outcome = self.decide(
            request,
            now,
            snapshot,
            decision,
            &mut principal,
            &mut scratch,
            signature,
            records,
        );
        decision.scratch = scratch;
        let realm = &self.policy.realm;
        match outcome {
            Ok(authenticated) => {
                decision.status = 200;
                decision.code = ErrorCode::Allowed;
                decision.message.push_str("allowed");
                if authenticated {
                    decision.principal = Some(principal);
                } else {
                    decision.spare_principal = Some(principal);
                }
            }
            Err(r) => {
                let status = r.code.http_status();
                let challenge = match (status, r.code) {
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
                decision.status = status;
                decision.code = r.code;
                let _ = write!(decision.message, "{}", r.message);
                decision.www_authenticate = challenge;
                decision.refresh_hint = r.refresh;
                if r.keep_principal {
                    decision.principal = Some(principal);
                } else {
                    decision.spare_principal = Some(principal);
                }
            }
        }
    }

    /// Runs the checks; fills `principal` as it goes. `Ok(true)`: allowed with a principal;
    /// `Ok(false)`: allowed without one (a public route).
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        request: &Request<'_>,
        now: u64,
        snapshot: &Snapshot,
        decision: &mut Decision,
        principal: &mut Principal,
        scratch: &mut TokenBuffer,
        signature: HostCheck<'_>,
        records: &mut RecordSource<'_>,
    ) -> Result<bool, Refusal> {
        #[cfg(feature = "fault-injection")]
        if request.method == FAULT_INJECTION_METHOD {
            #[allow(
                clippy::panic,
                reason = "the test-only fault-injection feature exists to panic here, mid-check"
            )]
            {
                panic!("fault injection: a test asked the engine to panic");
            }
        }
        let path = request.checked_path()?;
        if let Some((name, guarded)) = self.policy.cgi_alias(request.headers) {
            return Err(Refusal::new(
                ErrorCode::InvalidRequest,
                format!(
                    "header {:?} is {guarded:?} spelled with underscores: an upstream that reads \
                     headers as CGI variables would take it for that one",
                    crate::error::truncated(name, 64)
                ),
            ));
        }
        let matched = self.policy.router.at(request.method, path);
        let lenient = self.policy.unknown_routes == UnknownRoutes::Authenticated;
        // The template the path names as written, whatever the method (looked up for an
        // unmatched method only where an unknown route could pass).
        let exact = match &matched {
            Some(m) => Some(m.template),
            None if lenient => self.policy.router.template_at(path),
            None => None,
        };
        // The path must not be another spelling of another protected route: an upstream that
        // folds letter case and a trailing slash would serve that one. (A path no route names
        // goes no further under `unknown_routes: "deny"`.)
        if matched.is_some() || lenient {
            let mut folded = decision.string();
            let other =
                self.policy
                    .router
                    .folded_elsewhere(request.method, path, exact, &mut folded);
            decision.give_back(folded);
            if let Some(other) = other {
                return Err(Refusal::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "the path is {} spelled in another letter case or with a trailing \
                         slash: an upstream that folds paths would serve that route",
                        other.template
                    ),
                ));
            }
        }
        let (route, params) = match &matched {
            Some(m) => (m.route, Some(&m.params)),
            // A path some route names is never an unknown route, whatever the method: `HEAD`
            // on a `GET` route is served by the `GET` handler in many frameworks, and must not
            // pass without that route's tenant and permission checks.
            None if lenient && exact.is_none() => (&self.unknown_route, None),
            None => {
                return Err(Refusal::new(
                    ErrorCode::RouteNotFound,
                    format!("no route for {} {path}", request.method),
                ))
            }
        };
        decision.route = Some(decision.copy(&route.template));
        if route.public {
            return Ok(false);
        }

        // One credential, then who it stands for.
        let (source, token) = self.credential(request)?;
        // Where a token's top-level claims are (see `IndexedClaims`), kept here for the check.
        let mut index = MemberIndex::default();
        let mut authn = if let Some(id) = self.session_provider_for(source) {
            self.authenticate_session(id, token, now, snapshot, records, principal)?
        } else if let Some(id) = self.key_provider_for(source, token) {
            self.authenticate_key(id, token, now, snapshot, records, principal)?
        } else {
            self.authenticate_jwt(
                source, token, now, snapshot, scratch, &mut index, principal, signature, records,
            )?
        };
        let kind = principal.kind;
        if route
            .principals
            .as_ref()
            .is_some_and(|ks| !ks.contains(&kind))
            || route
                .providers
                .as_ref()
                .is_some_and(|ps| !ps.contains(&principal.provider))
        {
            let message = format!(
                "a {} from {:?} may not use this route",
                kind.name(),
                principal.provider()
            );
            return Err(Refusal::new(ErrorCode::PrincipalNotAllowed, message).with_principal());
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
                    TenantError::TooLong(len) => Refusal::new(
                        ErrorCode::InvalidTenant,
                        format!(
                            "the tenant is {len} bytes, more than the limit of {}",
                            tenant::MAX_TENANT_LEN
                        ),
                    ),
                })?;
            let member = self.member(
                &authn.membership,
                authn.claims.as_ref(),
                tenant,
                &mut authn.held,
            ) && authn
                .bounds
                .tenant
                .as_ref()
                .is_none_or(|key| self.member(key, None, tenant, &mut Bits::default()));
            principal.set_tenant(tenant);
            if !member {
                let code = if rule.hide_non_members {
                    ErrorCode::NotFound
                } else {
                    ErrorCode::TenantForbidden
                };
                return Err(
                    Refusal::new(code, "the caller is not a member of the tenant").with_principal(),
                );
            }
        } else if authn.bounds.tenant_only {
            // A key issued for one tenant acts in that tenant only: outside tenant-scoped routes
            // it holds none of its roles or scopes, nor its owner's.
            authn.held = Bits::default();
            authn.scopes = Bits::default();
        }

        // Permissions.
        let (mut roles, mut perms) = self.policy.roles.effective(&authn.held);
        perms.union_with(&authn.scopes);
        if let Some(bound) = &authn.bounds.permissions {
            perms.intersect_with(bound);
            // The principal (and the roles forwarded upstream) names only the roles the key
            // carries in full: an admin's key for `project:read` is no admin to the upstream.
            roles = self.policy.roles.within(&roles, &perms);
        }
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
                ..Refusal::new(ErrorCode::InsufficientPermissions, "")
            }
            .with_principal());
        }
        self.forward_headers(principal, authn.claims.as_ref(), decision);
        Ok(true)
    }

    /// The roles held everywhere and the membership of a principal of `kind` whose roles come
    /// from its user's record, when the provider says so (`roles_from_record`): the snapshot's
    /// record, else the store's when the provider's records live there. `Ok(None)` when roles
    /// come from the credential itself.
    ///
    /// A record is for the providers it names (every reader when it names none, which a policy
    /// allows only with one reader): one for other providers counts as none, so the store is
    /// still asked, and without a record for this provider the answer is `unknown_principal`.
    fn user_record<'s>(
        &self,
        provider_id: usize,
        provider: &Provider,
        kind: PrincipalKind,
        subject: &str,
        snapshot: &'s Snapshot,
        records: &mut RecordSource<'_>,
    ) -> Result<Option<(Bits, Membership<'s>)>, Refusal> {
        if !provider.roles_from_record.contains(&kind) {
            return Ok(None);
        }
        let unknown = |why: &str| {
            Err(Refusal::new(
                ErrorCode::UnknownPrincipal,
                format!("{why} for the {}'s subject", kind.name()),
            ))
        };
        let in_snapshot = snapshot.users.get(subject);
        if let Some(u) = in_snapshot.filter(|u| u.is_for(provider_id)) {
            return Ok(Some((u.roles, Membership::Record(u))));
        }
        if provider.records == RecordsAt::Store {
            if let Some(r) = records.get(RecordLookup::user(subject))? {
                let Record::User(u) = &*r else {
                    return Err(wrong_record(RecordKind::User));
                };
                if !u.is_for(provider_id) {
                    return unknown("the user record is for other providers");
                }
                return Ok(Some((u.roles, Membership::Stored(r.clone()))));
            }
        }
        match in_snapshot {
            Some(_) => unknown("the user record is for other providers"),
            None => unknown("no user record"),
        }
    }

    /// The policy's provider `id`.
    fn provider(&self, id: usize) -> Result<&Provider, Refusal> {
        self.policy
            .providers
            .get(id)
            .ok_or_else(|| Refusal::new(ErrorCode::Internal, "provider index"))
    }

    /// The pepper API keys or session ids of `provider` are hashed under, if it hashes with one.
    fn pepper<'s>(
        &self,
        provider_id: usize,
        provider: &Provider,
        snapshot: &'s Snapshot,
        code: ErrorCode,
    ) -> Result<Option<&'s [u8]>, Refusal> {
        match provider.hashing {
            KeyHashing::Sha256 => Ok(None),
            KeyHashing::HmacSha256 => {
                match snapshot.peppers.get(provider_id).and_then(Option::as_ref) {
                    Some(p) => Ok(Some(p.as_slice())),
                    None => Err(Refusal::new(code, "no pepper loaded for the provider")),
                }
            }
        }
    }

    /// The session provider reading credential `source`, if any (a session provider's
    /// credentials are read by no other provider).
    fn session_provider_for(&self, source: usize) -> Option<usize> {
        self.policy.providers.iter().position(|p| {
            p.provider_type == ProviderType::Session && p.credentials.contains(&source)
        })
    }

    /// Looks a session id's hash up in the store and applies its record, filling `principal`.
    fn authenticate_session<'s>(
        &'s self,
        provider_id: usize,
        id: &str,
        now: u64,
        snapshot: &'s Snapshot,
        records: &mut RecordSource<'_>,
        principal: &mut Principal,
    ) -> Result<Authenticated<'s>, Refusal> {
        let provider = self.provider(provider_id)?;
        if id.len() > MAX_SESSION_ID_LEN {
            return Err(Refusal::new(
                ErrorCode::UnknownSession,
                format!(
                    "the session id is {} bytes, more than the limit of {MAX_SESSION_ID_LEN}",
                    id.len()
                ),
            ));
        }
        let pepper = self.pepper(provider_id, provider, snapshot, ErrorCode::UnknownSession)?;
        let stored = records
            .get(RecordLookup::session(id, pepper))?
            .ok_or_else(|| Refusal::new(ErrorCode::UnknownSession, "no session has this id"))?;
        let Record::Session(session) = &*stored else {
            return Err(wrong_record(RecordKind::Session));
        };
        if session.provider.is_some_and(|p| p != provider_id) {
            return Err(Refusal::new(
                ErrorCode::UnknownSession,
                "the session was issued by another provider",
            ));
        }
        if session.revoked {
            return Err(Refusal::new(
                ErrorCode::SessionRevoked,
                "the session has been revoked",
            ));
        }
        if now >= session.expires {
            return Err(Refusal::new(
                ErrorCode::SessionExpired,
                "the session has expired",
            ));
        }
        principal.subject.push_str(&session.subject);
        principal.kind = session.kind;
        principal.provider = provider_id;
        principal.expires_at = Some(session.expires as f64);
        principal.claims.push_str(&session.claims);
        let (held, membership) = match self.user_record(
            provider_id,
            provider,
            session.kind,
            &session.subject,
            snapshot,
            records,
        )? {
            Some(user) => user,
            None => (session.user.roles, Membership::Stored(stored.clone())),
        };
        Ok(Authenticated {
            held,
            scopes: Bits::default(),
            membership,
            bounds: KeyBounds::default(),
            claims: None,
        })
    }

    /// Verifies a JWT under the provider its credential place and issuer choose, filling
    /// `principal` (subject, kind, provider, expiry, claims) and `index` (where the claims'
    /// top-level members are). `signature` decides the signature instead of the in-process check
    /// when given (see [`Engine::check_with`]).
    #[allow(clippy::too_many_arguments)]
    fn authenticate_jwt<'s>(
        &'s self,
        source: usize,
        token: &str,
        now: u64,
        snapshot: &'s Snapshot,
        buf: &'s mut TokenBuffer,
        index: &'s mut MemberIndex,
        principal: &mut Principal,
        signature: HostCheck<'_>,
        records: &mut RecordSource<'_>,
    ) -> Result<Authenticated<'s>, Refusal> {
        // A token verified before, from the same place and under this snapshot (so through the
        // same provider), skips its signature (see `crate::cache`); everything after the
        // signature runs again. Only a snapshot this engine swapped in has a generation of its
        // own: one it never did (built and handed straight to `check_with`) has 0, like every
        // other such snapshot, whatever its keys, so it neither reads nor fills the cache.
        let cache = self.cache.as_ref().filter(|_| snapshot.generation != 0);
        // Only the engine's own verification fills the cache (see `check_with`).
        let fills_cache = signature.is_none();
        let hit = cache.and_then(|cache| {
            cache
                .with_hit(token.as_bytes(), now, |e| {
                    (e.origin.generation == snapshot.generation && e.origin.source == source).then(
                        || {
                            buf.load(&e.decoded);
                            (e.decoded.len(), e.header_len, e.origin.provider)
                        },
                    )
                })
                .flatten()
        });
        // The claims are read once, before the signature is checked (their issuer chooses the
        // provider; nothing in them is trusted until the signature holds), at the deepest
        // nesting any provider allows.
        let deepest = self.policy.deepest_claims;
        let (provider_id, provider, verified, read) = match hit {
            Some((len, header_len, provider_id)) => {
                let provider = self.provider(provider_id)?;
                let keys = snapshot.keys.get(provider_id).ok_or_else(|| {
                    Refusal::new(
                        ErrorCode::Internal,
                        "snapshot has no entry for the provider",
                    )
                })?;
                // The header as a fresh check parses it (below: the engine's limits, which a
                // policy cannot change), so a hit decides as the miss that filled it did.
                let depth = ParseLimits::default().max_json_depth;
                let verified = jws::restore(buf, len, header_len, depth, keys)?;
                let read = Claims::read(verified.payload(), deepest, Some(&mut *index));
                (provider_id, provider, verified, read)
            }
            None => {
                let parsed = jws::parse(token.as_bytes(), ParseLimits::default(), buf)?;
                let read = Claims::read(parsed.unverified_payload(), deepest, Some(&mut *index));
                let (provider_id, provider) =
                    self.provider_for(source, &read, parsed.unverified_payload())?;
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
                let verified = match signature {
                    None => parsed.verify(keys),
                    Some(check) => parsed.verify_with(keys, |input| check(input)),
                };
                let verified = verified.map_err(|e| {
                    let mut r = Refusal::from(e.clone());
                    if let Some(kid) = e.refresh_hint() {
                        r.refresh = Some(RefreshHint {
                            provider: provider.name.clone(),
                            kid: kid.to_owned(),
                        });
                    }
                    r
                })?;
                (provider_id, provider, verified, read)
            }
        };
        // Read at the provider's own nesting limit, the claims are what was read already, or
        // (a provider allowing less than another) read again at that limit.
        let depth = provider.validation.limits.max_json_depth;
        let claims = if depth == deepest {
            read.claims?
        } else {
            *index = MemberIndex::default();
            Claims::read(verified.payload(), depth, Some(&mut *index)).claims?
        };
        provider
            .validation
            .validate(verified.header(), &claims, now)?;
        if hit.is_none() && fills_cache {
            if let Some(cache) = cache {
                let origin = Origin {
                    source,
                    provider: provider_id,
                    generation: snapshot.generation,
                };
                cache.insert(
                    token.as_bytes(),
                    verified.header_bytes(),
                    verified.payload(),
                    origin,
                    claims.expires_at(),
                    now,
                );
            }
        }
        if let Some(jti) = claims.jwt_id() {
            let jti = jti.to_cow();
            if snapshot.revoked_jti.contains(&*jti)
                || (provider.records == RecordsAt::Store
                    && records.get(RecordLookup::revoked_jti(&jti))?.is_some())
            {
                return Err(Refusal::new(
                    ErrorCode::TokenRevoked,
                    "the token's jti is on the deny-list",
                ));
            }
        }
        let claims = IndexedClaims::new(claims, index);
        let subject = provider
            .subject
            .get(&claims)
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                Refusal::new(
                    ErrorCode::MissingClaim,
                    format!(
                        "subject claim {} is missing or not a string",
                        provider.subject
                    ),
                )
            })?;
        subject.push_to(&mut principal.subject);
        principal.kind = provider.kind_of(&claims);
        principal.provider = provider_id;
        principal.expires_at = claims.claims().expires_at();
        principal.claims.push_str(claims.claims().object().as_str());
        let record = self.user_record(
            provider_id,
            provider,
            principal.kind,
            &principal.subject,
            snapshot,
            records,
        )?;
        let mut held = Bits::default();
        let membership = match record {
            Some((roles, membership)) => {
                held = roles;
                membership
            }
            None => {
                for source in &provider.global_roles {
                    source.collect(&claims, &self.policy.roles.names, &mut held);
                }
                Membership::Claims(provider)
            }
        };
        let mut scopes = Bits::default();
        for source in &provider.scopes {
            source.collect(&claims, &self.policy.permissions, &mut scopes);
        }
        Ok(Authenticated {
            held,
            scopes,
            membership,
            bounds: KeyBounds::default(),
            claims: Some(claims),
        })
    }

    /// The API-key provider for this credential: the one reading this place whose prefix the key
    /// carries; or, for a credential without the dots of a JWT, the first API-key provider reading
    /// this place (which then refuses it as `malformed_api_key`, not `malformed_token`).
    fn key_provider_for(&self, source: usize, token: &str) -> Option<usize> {
        let mut readers = self.policy.providers.iter().enumerate().filter(|(_, p)| {
            p.provider_type == ProviderType::ApiKey && p.credentials.contains(&source)
        });
        // The longest prefix the token carries picks the provider, as it picks the prefix
        // within one: `fln_live_…` is `fln_live`'s, not `fln`'s (a key's random part holds no
        // `_`, so it cannot be both). Prefixes are unique across providers.
        let prefixed = readers
            .clone()
            .filter_map(|(i, p)| {
                p.prefixes
                    .iter()
                    .filter(|prefix| {
                        token.len() > prefix.len()
                            && token.starts_with(prefix.as_str())
                            && token.as_bytes().get(prefix.len()) == Some(&b'_')
                    })
                    .map(String::len)
                    .max()
                    .map(|len| (len, i))
            })
            .max_by_key(|&(len, _)| len);
        match prefixed {
            Some((_, i)) => Some(i),
            // The token is looked at for a dot only where a key reader could take it.
            None => readers
                .next()
                .filter(|_| !token.contains('.'))
                .map(|(i, _)| i),
        }
    }

    /// Checks an API key's form, looks its hash up (in the snapshot, then in the store when the
    /// provider's records live there) and applies its record, filling `principal`.
    fn authenticate_key<'s>(
        &'s self,
        provider_id: usize,
        token: &str,
        now: u64,
        snapshot: &'s Snapshot,
        records: &mut RecordSource<'_>,
        principal: &mut Principal,
    ) -> Result<Authenticated<'s>, Refusal> {
        let provider = self.provider(provider_id)?;
        let key = apikey::parse(token, &provider.prefixes)?;
        let pepper = self.pepper(provider_id, provider, snapshot, ErrorCode::UnknownApiKey)?;
        let digest = apikey::digest(key.as_str(), pepper);
        // The map finds the record by the digest's first 16 bytes with early-exit equality; the
        // other 16 decide, in constant time (benches/constant_time.sh measures it). A stored
        // record is checked against the whole digest, in constant time, when it is read
        // (`record::parse`).
        let (lookup_id, rest) = split_key_digest(&digest);
        let in_snapshot = snapshot
            .api_keys
            .get(provider_id)
            .and_then(|m| m.get(&lookup_id))
            .filter(|r| crate::crypto::constant_time_eq(split_key_digest(&r.digest).1, rest));
        let stored = match in_snapshot {
            Some(_) => None,
            None if provider.records == RecordsAt::Store => {
                records.get(RecordLookup::new(RecordKind::ApiKey, digest))?
            }
            None => None,
        };
        let record = match (in_snapshot, stored.as_deref()) {
            (Some(r), _) => r,
            (None, Some(Record::ApiKey(r))) => r,
            (None, Some(_)) => return Err(wrong_record(RecordKind::ApiKey)),
            (None, None) => {
                return Err(Refusal::new(
                    ErrorCode::UnknownApiKey,
                    "no record for this API key",
                ))
            }
        };
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
        principal.subject.push_str(&record.owner);
        principal.kind = record.kind;
        principal.provider = provider_id;
        principal.expires_at = record.expires.map(|e| e as f64);
        principal.claims.push_str(&record.claims);
        let (roles, scopes) = (record.roles, record.scopes);
        let user = self.user_record(
            provider_id,
            provider,
            record.kind,
            &record.owner,
            snapshot,
            records,
        )?;
        // The key's own membership: its tenant.
        let own = match (in_snapshot, &stored) {
            (Some(r), _) => Membership::Key(r.tenant.as_deref()),
            (None, Some(r)) => Membership::Stored(r.clone()),
            (None, None) => return Err(wrong_record(RecordKind::ApiKey)),
        };
        let tenant_only = record.tenant.is_some();
        Ok(match user {
            // The owner's current roles, within what the key was issued for: the permissions its
            // own roles and scopes give.
            Some((held, membership)) => Authenticated {
                held,
                scopes: Bits::default(),
                membership,
                bounds: KeyBounds {
                    tenant_only,
                    tenant: tenant_only.then_some(own),
                    // Issued as roles, as scopes, or both (then within both).
                    permissions: match (roles.is_empty(), scopes.is_empty()) {
                        (true, true) => None,
                        (true, false) => Some(scopes),
                        (false, only_roles) => {
                            let (_, mut issued) = self.policy.roles.effective(&roles);
                            if !only_roles {
                                issued.intersect_with(&scopes);
                            }
                            Some(issued)
                        }
                    },
                },
                claims: None,
            },
            None => Authenticated {
                held: roles,
                scopes,
                membership: own,
                bounds: KeyBounds {
                    tenant_only,
                    ..KeyBounds::default()
                },
                claims: None,
            },
        })
    }

    /// Whether the principal is a member of `tenant`; adds the roles it holds there. `claims` are
    /// the token's, for [`Membership::Claims`].
    fn member(
        &self,
        membership: &Membership<'_>,
        claims: Option<&IndexedClaims<'_>>,
        tenant: &str,
        held: &mut Bits,
    ) -> bool {
        match membership {
            Membership::Record(r) => match r.tenants.get(tenant) {
                Some(roles) => {
                    held.union_with(roles);
                    true
                }
                None => false,
            },
            Membership::Claims(provider) => {
                claims.is_some_and(|c| self.token_membership(provider, c, tenant, held))
            }
            Membership::Key(t) => *t == Some(tenant),
            Membership::Stored(r) => match (r.tenant_roles(), &**r) {
                (Some(tenants), _) => match tenants.get(tenant) {
                    Some(roles) => {
                        held.union_with(roles);
                        true
                    }
                    None => false,
                },
                (None, Record::ApiKey(k)) => k.tenant.as_deref() == Some(tenant),
                (None, _) => false,
            },
        }
    }

    /// Membership from the token: a per-tenant role claim that lists the tenant, or a tenant-list
    /// claim that names it (roles held everywhere then apply).
    fn token_membership(
        &self,
        provider: &Provider,
        claims: &IndexedClaims<'_>,
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
            let mut take = |v: &'r str| {
                if !v.is_empty() {
                    count += 1;
                    found = Some((id, v));
                }
            };
            match &source.location {
                Location::Header { name, scheme } => {
                    for v in request.header_values(name) {
                        match scheme {
                            None => take(v.trim_matches([' ', '\t'])),
                            // The scheme ends at any space or tab, as upstream parsers read it
                            // (`/^Bearer\s+/i`): `Bearer\t<token>` is a credential too, and with
                            // another one beside it, two.
                            Some(s) => {
                                if let Some((given, rest)) =
                                    v.trim_start_matches([' ', '\t']).split_once([' ', '\t'])
                                {
                                    if given.eq_ignore_ascii_case(s) {
                                        take(rest.trim_matches([' ', '\t']));
                                    }
                                }
                            }
                        }
                    }
                }
                Location::Cookie { name } => {
                    for h in request.header_values("cookie") {
                        cookie_values(h, name).for_each(&mut take);
                    }
                }
            }
        }
        match (count, found) {
            (1, Some(f)) => Ok(f),
            (0, _) | (_, None) => Err(Refusal::new(
                ErrorCode::MissingCredentials,
                "no credential presented",
            )),
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
        read: &ReadClaims<'_>,
        payload: &[u8],
    ) -> Result<(usize, &Provider), Refusal> {
        // A payload deeper than the claims were read at still names its issuer: the provider that
        // chooses then refuses it with its own limit in the message, not as a token without one.
        let deeper;
        let iss = match &read.claims {
            Err(Error::JsonTooDeep { .. }) => {
                deeper = Claims::read(payload, crate::limits::MAX_JSON_DEPTH, None);
                deeper.issuer
            }
            _ => read.issuer,
        };
        let mut fallback = None;
        for (i, p) in self.policy.providers.iter().enumerate() {
            if p.provider_type != ProviderType::Jwt || !p.credentials.contains(&source) {
                continue;
            }
            if let Some(iss) = iss {
                if p.issuers.iter().any(|x| iss.eq_str(x)) {
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
                    Some(_) => "no provider trusts the token's issuer",
                    None => "the token has no issuer and no provider accepts tokens without one",
                },
            )
        })
    }

    /// Adds the policy's forwarded headers for `p` to the decision, in pooled strings. `claims`
    /// are the token's, already read; without them (API keys, sessions) the claim headers come
    /// from the principal's claims text.
    fn forward_headers(
        &self,
        p: &Principal,
        claims: Option<&IndexedClaims<'_>>,
        decision: &mut Decision,
    ) {
        let f = &self.policy.forward;
        push_header(decision, f.subject.as_deref(), &mut |v| {
            v.push_str(&p.subject);
            true
        });
        if let Some(t) = &p.tenant {
            push_header(decision, f.tenant.as_deref(), &mut |v| {
                v.push_str(t);
                true
            });
        }
        push_header(decision, f.roles.as_deref(), &mut |v| {
            for (i, r) in p.roles().enumerate() {
                if i > 0 {
                    v.push(',');
                }
                v.push_str(r);
            }
            true
        });
        push_header(decision, f.kind.as_deref(), &mut |v| {
            v.push_str(p.kind.name());
            true
        });
        push_header(decision, f.provider.as_deref(), &mut |v| {
            v.push_str(p.provider());
            true
        });
        if f.claims.is_empty() {
            return;
        }
        match claims {
            Some(claims) => self.forward_claims(claims, decision),
            None => {
                if let Ok(claims) = crate::json::parse_object(p.claims.as_bytes(), 64) {
                    self.forward_claims(&claims, decision);
                }
            }
        }
    }

    /// Adds the policy's forwarded claim headers, read from `claims`.
    fn forward_claims<'a>(&self, claims: &impl crate::json::Lookup<'a>, decision: &mut Decision) {
        use core::fmt::Write as _;
        for ch in &self.policy.forward.claims {
            if let Some(value) = ch.claim.get(claims) {
                push_header(
                    decision,
                    Some(ch.header.as_str()),
                    &mut |v| match value.as_str() {
                        Some(s) => {
                            s.push_to(v);
                            true
                        }
                        None => match value.as_array() {
                            // An item with a comma of its own could not be told from two items
                            // (`["eng,admin"]` against `["eng", "admin"]`), and an item that is
                            // no string would be left out unseen (`["eng", 5]`): such an array is
                            // not forwarded.
                            Some(items) => {
                                for (i, item) in items.enumerate() {
                                    let Some(s) = item.as_str() else {
                                        return false;
                                    };
                                    if i > 0 {
                                        v.push(',');
                                    }
                                    let start = v.len();
                                    s.push_to(v);
                                    if v.get(start..).is_some_and(|item| item.contains(',')) {
                                        return false;
                                    }
                                }
                                true
                            }
                            None => {
                                let _ = write!(v, "{}", value.as_raw());
                                true
                            }
                        },
                    },
                );
            }
        }
    }

    /// Re-issues the token behind an allowed decision: the same claims with `iat = now` and
    /// `exp = now + reissue_ttl`, signed with the first key of the provider's current key set
    /// that may sign (a JWK whose `key_ops` leave out `"sign"` may not), with its `kid`, whether
    /// a snapshot or the host ([`Self::swap_provider_keys`]) set it last. For deployments where a valid token may mint a new one for the same subject.
    ///
    /// The new token keeps the old one's `jti`, so revoking that `jti` revokes every token
    /// re-issued from it. Refused (`signing_failed`) when the old token has expired by `now` or
    /// its `jti` is on the current snapshot's deny-list; a deny-list kept in the shared store is
    /// the check's to consult, so re-issue right after the check that allowed it.
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
        // The first key of the provider's current set that may sign, whoever set it last (a
        // snapshot, or a host through `swap_provider_keys`): a secret a rotation retired never
        // signs again, and one whose JWK `key_ops` leave out "sign" never signs.
        let (key, secret) = snapshot
            .keys
            .get(principal.provider)
            .and_then(|set| {
                set.keys()
                    .iter()
                    .find_map(|k| k.signing_secret().map(|secret| (k, secret)))
            })
            .ok_or_else(|| fail("the provider has no HMAC key that may sign"))?;
        let signer = crate::mint::SigningKey::hmac(key.algorithm(), secret, key.kid())?;
        if principal.expires_at.is_some_and(|exp| now as f64 >= exp) {
            return Err(fail("the token behind the decision has expired"));
        }
        let mut claims: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&principal.claims)
                .map_err(|_| fail("claims are not an object"))?;
        if let Some(jti) = claims.get("jti").and_then(serde_json::Value::as_str) {
            if snapshot.revoked_jti.contains(jti) {
                return Err(fail("the token's jti has been revoked"));
            }
        }
        // The new token must pass this provider's own checks: a `nbf` the policy may require is
        // kept (as `now`), and the header carries the `typ` it requires.
        let had_nbf = claims.remove("nbf").is_some();
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), now.saturating_add(ttl).into());
        if had_nbf {
            claims.insert("nbf".into(), now.into());
        }
        let body = serde_json::Value::Object(claims).to_string();
        crate::mint::mint(&signer, body.as_bytes(), provider.validation.typ.as_deref())
    }

    /// The principal kinds a provider knows, for tooling.
    pub fn provider_names(&self) -> impl Iterator<Item = &str> {
        self.policy.providers.iter().map(|p| p.name.as_str())
    }
}

/// Adds header `name` (when the policy forwards it) with the value `fill` writes, in pooled
/// strings; a value `fill` refuses (returns false for) or with control characters is dropped.
fn push_header(
    decision: &mut Decision,
    name: Option<&str>,
    fill: &mut dyn FnMut(&mut String) -> bool,
) {
    if let Some(n) = name {
        let mut value = decision.string();
        if fill(&mut value) && !crate::scan::has_ascii_control(value.as_bytes()) {
            let name = decision.copy(n);
            decision.forward_headers.push((name, value));
        } else {
            decision.spare_strings.push(value);
        }
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

    /// A signature a first `check_with` pass stopped at.
    #[derive(Debug, PartialEq)]
    struct Deferred {
        alg: crate::Algorithm,
        signing_input: Vec<u8>,
        signature: Vec<u8>,
        public: bool,
    }

    /// Every case of the four deployments, checked in two halves as a WebCrypto host does (stop
    /// at a public-key signature, verify it, finish with the verdict), decides exactly as
    /// `check`; a false verdict gives `invalid_signature`; a swap between the halves changes
    /// nothing for the pinned snapshot.
    #[test]
    fn checks_in_two_halves_decide_as_check() {
        let deployments: [(&[u8], &[u8], &[u8]); 4] = [
            (
                include_bytes!("../../examples/project-oidc/policy.json"),
                include_bytes!("../../examples/project-oidc/snapshot.json"),
                include_bytes!("../../examples/project-oidc/scenarios.json"),
            ),
            (
                include_bytes!("../../examples/workspace-api/policy.json"),
                include_bytes!("../../examples/workspace-api/snapshot.json"),
                include_bytes!("../../examples/workspace-api/scenarios.json"),
            ),
            (
                include_bytes!("../../examples/service-accounts/policy.json"),
                include_bytes!("../../examples/service-accounts/snapshot.json"),
                include_bytes!("../../examples/service-accounts/scenarios.json"),
            ),
            (
                include_bytes!("../../examples/tenant-path/policy.json"),
                include_bytes!("../../examples/tenant-path/snapshot.json"),
                include_bytes!("../../examples/tenant-path/scenarios.json"),
            ),
        ];
        let mut deferred_count = 0;
        for (policy, snapshot, table) in deployments {
            let engine = Engine::from_policy_json(policy).unwrap();
            engine.swap_snapshot_json(snapshot).unwrap();
            let table = crate::scenario::Table::from_json(table).unwrap();
            for case in &table.cases {
                let headers = table.headers(case);
                let pairs: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let request = Request::new(&case.request.method, &case.request.path, &pairs);
                let want = engine.check(&request, table.now).to_json();

                let pinned = engine.current_snapshot();
                let mut seen = None;
                let first = engine.check_with(&pinned, &request, table.now, &mut |s| {
                    if s.key.public_key().is_none() {
                        return s.verify();
                    }
                    seen = Some(Deferred {
                        alg: s.alg,
                        signing_input: s.signing_input.to_vec(),
                        signature: s.signature.to_vec(),
                        public: true,
                    });
                    Err(Error::Internal { reason: "deferred" })
                });
                let Some(job) = seen else {
                    assert_eq!(first.to_json(), want, "{}", case.name);
                    continue;
                };
                deferred_count += 1;
                // The host's verdict: here ring's, through the same input.
                let finish = |ok: Option<bool>| {
                    engine.check_with(&pinned, &request, table.now, &mut |s| {
                        let again = Deferred {
                            alg: s.alg,
                            signing_input: s.signing_input.to_vec(),
                            signature: s.signature.to_vec(),
                            public: s.key.public_key().is_some(),
                        };
                        assert_eq!(
                            again, job,
                            "{}: the second half reached another signature",
                            case.name
                        );
                        if ok.unwrap_or_else(|| s.verify().is_ok()) {
                            Ok(())
                        } else {
                            Err(Error::InvalidSignature)
                        }
                    })
                };
                // A swap between the halves does not reach the pinned snapshot.
                engine
                    .swap_snapshot(Snapshot::empty(engine.policy().clone()))
                    .unwrap();
                assert_eq!(finish(None).to_json(), want, "{}", case.name);
                let refused = finish(Some(false));
                assert_eq!(
                    (refused.status, refused.code),
                    (401, ErrorCode::InvalidSignature),
                    "{}",
                    case.name
                );
                engine.swap_snapshot_json(snapshot).unwrap();
            }
        }
        assert!(
            deferred_count > 20,
            "only {deferred_count} cases reached a public-key signature"
        );
    }

    #[test]
    fn a_snapshot_of_another_engine_is_refused() {
        let policy = include_bytes!("../../examples/tenant-path/policy.json");
        let a = Engine::from_policy_json(policy).unwrap();
        let b = Engine::from_policy_json(policy).unwrap();
        let d = a.check_with(
            &b.current_snapshot(),
            &Request::new("GET", "/api/health", &[]),
            0,
            &mut |s| s.verify(),
        );
        assert_eq!((d.status, d.code), (500, ErrorCode::Internal));
        let d = a.check_with(
            &a.current_snapshot(),
            &Request::new("GET", "/api/health", &[]),
            0,
            &mut |s| s.verify(),
        );
        assert_eq!((d.status, d.code), (200, ErrorCode::Allowed));
    }
}
