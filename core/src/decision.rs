//! The answer to a gateway: status, reason, principal, challenge, headers to forward.

use crate::error::ErrorCode;
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
}

impl Principal {
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
