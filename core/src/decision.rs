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

    /// Returns a string taken with [`Decision::string`] to the pool.
    pub(crate) fn give_back(&mut self, s: String) {
        self.spare_strings.push(s);
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

    /// The decision as JSON text: the document of [`Decision::to_json`], members in the same
    /// order, written without building a value tree, with the principal's claims as they were
    /// verified (the same values; numbers and escapes spelled as the token spelled them). For
    /// hosts that hand the text on (the WebAssembly package).
    pub fn to_json_text(&self) -> String {
        use crate::json::push_string;
        let mut out =
            String::with_capacity(256 + self.principal.as_ref().map_or(0, |p| p.claims.len()));
        let opt_string = |out: &mut String, s: Option<&str>| match s {
            Some(s) => push_string(out, s),
            None => out.push_str("null"),
        };
        let names = |out: &mut String, names: &mut dyn Iterator<Item = &str>| {
            out.push('[');
            for (i, n) in names.enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_string(out, n);
            }
            out.push(']');
        };
        out.push_str("{\"code\":");
        out.push_str(&self.code.number().to_string());
        out.push_str(",\"correlation_id\":");
        opt_string(&mut out, self.correlation_id.as_deref());
        out.push_str(",\"forward_headers\":{");
        let mut headers: Vec<&(String, String)> = self.forward_headers.iter().collect();
        // As a map holds them: sorted by name, and of a name given twice, the last value.
        headers.sort_by(|a, b| a.0.cmp(&b.0));
        headers.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                core::mem::swap(later, kept);
            }
            same
        });
        for (i, (name, value)) in headers.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_string(&mut out, name);
            out.push(':');
            push_string(&mut out, value);
        }
        out.push_str("},\"message\":");
        push_string(&mut out, &self.message);
        out.push_str(",\"principal\":");
        match &self.principal {
            None => out.push_str("null"),
            Some(p) => {
                out.push_str("{\"claims\":");
                if crate::json::parse_object(p.claims.as_bytes(), crate::limits::MAX_JSON_DEPTH)
                    .is_ok()
                {
                    out.push_str(&p.claims);
                } else {
                    out.push_str("null");
                }
                out.push_str(",\"expires_at\":");
                match p.expires_at {
                    Some(t) => push_float(&mut out, t),
                    None => out.push_str("null"),
                }
                out.push_str(",\"kind\":");
                push_string(&mut out, p.kind.name());
                out.push_str(",\"permissions\":");
                names(&mut out, &mut p.permissions());
                out.push_str(",\"provider\":");
                push_string(&mut out, p.provider());
                out.push_str(",\"roles\":");
                names(&mut out, &mut p.roles());
                out.push_str(",\"subject\":");
                push_string(&mut out, &p.subject);
                out.push_str(",\"tenant\":");
                opt_string(&mut out, p.tenant.as_deref());
                out.push('}');
            }
        }
        out.push_str(",\"reason\":");
        push_string(&mut out, self.code.name());
        out.push_str(",\"refresh_hint\":");
        match &self.refresh_hint {
            None => out.push_str("null"),
            Some(h) => {
                out.push_str("{\"kid\":");
                push_string(&mut out, &h.kid);
                out.push_str(",\"provider\":");
                push_string(&mut out, &h.provider);
                out.push('}');
            }
        }
        out.push_str(",\"route\":");
        opt_string(&mut out, self.route.as_deref());
        out.push_str(",\"status\":");
        out.push_str(&self.status.to_string());
        out.push_str(",\"www_authenticate\":");
        opt_string(&mut out, self.www_authenticate.as_deref());
        out.push('}');
        out
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

/// Appends a finite number as serde_json writes an `f64` (a whole one with `.0`), `null`
/// otherwise (as serde_json does for NaN and the infinities).
fn push_float(out: &mut String, t: f64) {
    use core::fmt::Write as _;
    if !t.is_finite() {
        out.push_str("null");
    } else if t.fract() == 0.0 && t.abs() < 9_007_199_254_740_992.0 {
        let _ = write!(out, "{}.0", t as i64);
    } else if let Some(n) = serde_json::Number::from_f64(t) {
        let _ = write!(out, "{n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_is_the_value_form() {
        let policy = Arc::new(
            CompiledPolicy::from_json(
                br#"{"version": 1, "credentials": [{"name": "t", "header": "t"}],
                     "providers": [{"name": "p", "credentials": ["t"], "algorithms": ["HS256"]}],
                     "permissions": ["a:b"], "roles": [{"name": "R", "grants": ["a:b"]}],
                     "routes": [{"method": "GET", "path": "/", "public": true}]}"#,
            )
            .unwrap(),
        );
        let same = |d: &Decision| {
            let text: serde_json::Value = serde_json::from_str(&d.to_json_text()).unwrap();
            assert_eq!(text, d.to_json(), "{}", d.to_json_text());
        };
        let mut d = Decision::refused(ErrorCode::MissingCredentials, "no \"token\"\n");
        d.www_authenticate = Some("Bearer realm=\"api\"".to_owned());
        d.refresh_hint = Some(RefreshHint {
            provider: "p".to_owned(),
            kid: "k\u{1}".to_owned(),
        });
        same(&d);
        let mut p = Principal::new(policy);
        p.subject = "Ren\u{e9}e".to_owned();
        p.tenant = Some("t".to_owned());
        p.roles.insert(0);
        p.permissions.insert(0);
        p.claims = r#"{"n": 3.50, "s": "a\u0041", "big": 12345678901234567890}"#.to_owned();
        for expires in [
            None,
            Some(1_700_000_000.0),
            Some(1_700_000_000.25),
            Some(1e300),
        ] {
            p.expires_at = expires;
            let mut d = Decision {
                status: 200,
                code: ErrorCode::Allowed,
                principal: Some(p.clone()),
                route: Some("/".to_owned()),
                correlation_id: Some("c".to_owned()),
                ..Decision::default()
            };
            // Header names as a map holds them: sorted, each once, the last value of a name
            // given twice (a policy may forward two things under one name).
            d.forward_headers = vec![
                ("x-b".to_owned(), "2".to_owned()),
                ("x-a".to_owned(), "0".to_owned()),
                ("x-c".to_owned(), "3".to_owned()),
                ("x-a".to_owned(), "1".to_owned()),
                ("x-a".to_owned(), "4".to_owned()),
            ];
            same(&d);
        }
        // Claims that are not JSON text (never from a check) are null, as in the value form.
        p.claims = "{".to_owned();
        same(&Decision {
            principal: Some(p),
            ..Decision::default()
        });
    }
}
