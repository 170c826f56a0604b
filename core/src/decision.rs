//! The answer to a gateway: status, reason, principal, challenge, headers to forward.

use crate::error::ErrorCode;
use crate::jws::TokenBuffer;
use crate::policy::CompiledPolicy;
use crate::principal::PrincipalKind;
use crate::roles::Bits;
use std::sync::Arc;

/// Who is calling, once authenticated.
#[derive(Clone, Debug)]
pub struct Principal {
    pub(crate) policy: Arc<CompiledPolicy>,
    /// The subject.
    pub subject: String,
    /// What kind of caller.
    pub kind: PrincipalKind,
    /// The provider that vouched for it (its index in the policy).
    pub(crate) provider: usize,
    /// The tenant of the request, for tenant-scoped routes.
    pub tenant: Option<String>,
    pub(crate) roles: Bits,
    pub(crate) permissions: Bits,
    /// The credential's expiry (`exp`), if it has one.
    pub expires_at: Option<f64>,
    /// The verified claims, as JSON text.
    pub claims: String,
    /// A tenant buffer kept for reuse while `tenant` is `None`.
    spare_tenant: Option<String>,
}

impl Principal {
    /// An empty principal whose buffers a check fills.
    pub(crate) fn new(policy: Arc<CompiledPolicy>) -> Principal {
        Principal {
            policy,
            subject: String::new(),
            kind: PrincipalKind::User,
            provider: 0,
            tenant: None,
            roles: Bits::default(),
            permissions: Bits::default(),
            expires_at: None,
            claims: String::new(),
            spare_tenant: None,
        }
    }

    /// Clears every field for reuse, keeping the buffers.
    pub(crate) fn reset(&mut self, policy: &Arc<CompiledPolicy>) {
        if !Arc::ptr_eq(&self.policy, policy) {
            self.policy = policy.clone();
        }
        self.subject.clear();
        self.kind = PrincipalKind::User;
        self.provider = 0;
        if let Some(t) = self.tenant.take() {
            self.spare_tenant = Some(t);
        }
        self.roles = Bits::default();
        self.permissions = Bits::default();
        self.expires_at = None;
        self.claims.clear();
    }

    /// Sets the tenant, reusing the buffer of a previous one.
    pub(crate) fn set_tenant(&mut self, tenant: &str) {
        let mut t = self
            .tenant
            .take()
            .or_else(|| self.spare_tenant.take())
            .unwrap_or_default();
        t.clear();
        t.push_str(tenant);
        self.tenant = Some(t);
    }

    /// The provider's name.
    pub fn provider(&self) -> &str {
        self.policy
            .providers
            .get(self.provider)
            .map_or("", |p| p.name.as_str())
    }

    /// Effective roles (the closure over the hierarchy), in policy order.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.policy.roles.names.names_of(&self.roles)
    }

    /// Effective permissions, in policy order.
    pub fn permissions(&self) -> impl Iterator<Item = &str> {
        self.policy.permissions.names_of(&self.permissions)
    }

    /// Whether the principal holds `permission`.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.policy
            .permissions
            .id(permission)
            .is_some_and(|id| self.permissions.contains(id))
    }

    /// The verified claims as a JSON value.
    pub fn claims_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.claims).unwrap_or(serde_json::Value::Null)
    }
}

/// What the gateway must do with a request.
///
/// A decision can be reused: [`crate::Engine::check_into`] overwrites one in place, keeping its
/// buffers, so a steady stream of checks allocates nothing.
#[derive(Clone, Debug)]
pub struct Decision {
    /// HTTP status to return: 200 lets the request through; 400, 401, 403 or 404 refuses it.
    pub status: u16,
    /// Why (`ok` when allowed).
    pub code: ErrorCode,
    /// A human-readable reason for logs (never secrets).
    pub message: String,
    /// The path template of the matched route.
    pub route: Option<String>,
    /// The caller, when authenticated.
    pub principal: Option<Principal>,
    /// The `WWW-Authenticate` value to send with a 401 or 403 (RFC 6750).
    pub www_authenticate: Option<String>,
    /// Headers a gateway may forward upstream when it lets the request through.
    pub forward_headers: Vec<(String, String)>,
    /// The request's correlation id, echoed.
    pub correlation_id: Option<String>,
    /// A `kid` the provider's key set lacks: the host may refresh that provider's keys (rate
    /// limited on its side) and retry.
    pub refresh_hint: Option<RefreshHint>,
    /// Decoding space for the credential, reused by the next check.
    pub(crate) scratch: TokenBuffer,
    /// A principal kept for its buffers while `principal` is `None`.
    pub(crate) spare_principal: Option<Principal>,
    /// Strings kept for reuse (route, correlation id, challenge, forwarded headers).
    pub(crate) spare_strings: Vec<String>,
}

impl Default for Decision {
    fn default() -> Decision {
        Decision {
            status: 0,
            code: ErrorCode::Internal,
            message: String::new(),
            route: None,
            principal: None,
            www_authenticate: None,
            forward_headers: Vec::new(),
            correlation_id: None,
            refresh_hint: None,
            scratch: TokenBuffer::new(),
            spare_principal: None,
            spare_strings: Vec::new(),
        }
    }
}

/// A key-refresh hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshHint {
    /// The provider whose keys to refresh.
    pub provider: String,
    /// The `kid` the token named.
    pub kid: String,
}

impl Decision {
    /// Clears the decision for reuse, keeping every buffer.
    pub(crate) fn reset(&mut self) {
        self.status = 0;
        self.code = ErrorCode::Internal;
        self.message.clear();
        for s in [
            self.route.take(),
            self.www_authenticate.take(),
            self.correlation_id.take(),
        ]
        .into_iter()
        .flatten()
        {
            self.spare_strings.push(s);
        }
        for (n, v) in self.forward_headers.drain(..) {
            self.spare_strings.push(n);
            self.spare_strings.push(v);
        }
        if let Some(p) = self.principal.take() {
            self.spare_principal = Some(p);
        }
        self.refresh_hint = None;
    }

    /// A cleared string from the pool (or a new one).
    pub(crate) fn string(&mut self) -> String {
        let mut s = self.spare_strings.pop().unwrap_or_default();
        s.clear();
        s
    }

    /// A copy of `text` in a pooled string.
    pub(crate) fn copy(&mut self, text: &str) -> String {
        let mut s = self.string();
        s.push_str(text);
        s
    }

    /// The 400 `invalid_request` decision for a request a host cannot even hand over (a method,
    /// path or header that is not UTF-8), with `reason` as its message.
    pub fn invalid_request(reason: &str) -> Decision {
        Decision::refused(ErrorCode::InvalidRequest, reason)
    }

    /// A decision that refuses with `code` (and its HTTP status) before any check ran.
    pub(crate) fn refused(code: ErrorCode, reason: &str) -> Decision {
        Decision {
            status: code.http_status(),
            code,
            message: reason.to_owned(),
            ..Decision::default()
        }
    }

    /// Whether the request may pass.
    pub fn is_allowed(&self) -> bool {
        self.status == 200
    }

    /// The decision as JSON (the CLI's and the bindings' shared shape).
    pub fn to_json(&self) -> serde_json::Value {
        let principal = self.principal.as_ref().map(|p| {
            serde_json::json!({
                "subject": p.subject,
                "kind": p.kind.name(),
                "provider": p.provider(),
                "tenant": p.tenant,
                "roles": p.roles().collect::<Vec<_>>(),
                "permissions": p.permissions().collect::<Vec<_>>(),
                "expires_at": p.expires_at,
                "claims": p.claims_json(),
            })
        });
        let headers: serde_json::Map<String, serde_json::Value> = self
            .forward_headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::json!({
            "status": self.status,
            "reason": self.code.name(),
            "code": self.code.number(),
            "message": self.message,
            "route": self.route,
            "principal": principal,
            "www_authenticate": self.www_authenticate,
            "forward_headers": headers,
            "correlation_id": self.correlation_id,
            "refresh_hint": self.refresh_hint.as_ref().map(|h| serde_json::json!({"provider": h.provider, "kid": h.kid})),
        })
    }
}
