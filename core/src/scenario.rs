//! Scenario tables: the shared "request → expected decision" format that the Rust tests, the CLI
//! demo and every binding replay, so all of them check the same bytes.
//!
//! ```json
//! {"deployment": "tenant-path", "now": 1767225600,
//!  "tokens": {"alice": "eyJ…"},
//!  "cases": [{"name": "…",
//!             "request": {"method": "GET", "path": "/api/tenants/A/items",
//!                         "headers": [["token", "{{alice}}"]]},
//!             "expect": {"status": 200, "reason": "ok", "subject": "alice", "tenant": "A",
//!                        "roles": ["Admin", "Viewer"]}}]}
//! ```
//! Header values may name a token as `{{name}}`. Expectations other than `status` and `reason`
//! are checked only when present.

use crate::decision::Decision;
use crate::engine::Engine;
use crate::request::Request;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A table of cases for one deployment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The deployment's name (its directory under `examples/`).
    pub deployment: String,
    /// The time every case is checked at.
    pub now: u64,
    /// Tokens the cases refer to by name.
    #[serde(default)]
    pub tokens: BTreeMap<String, String>,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One request and what must come of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What it shows.
    pub name: String,
    /// The request.
    pub request: CaseRequest,
    /// The expected decision.
    pub expect: Expect,
}

/// A request as written in a table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Headers as `[name, value]` pairs.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

/// The expected decision.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// HTTP status.
    pub status: u16,
    /// Reason code name.
    pub reason: String,
    /// Principal subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Principal kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Effective roles, in policy order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// `WWW-Authenticate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub www_authenticate: Option<String>,
    /// Forwarded headers (exactly these).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_headers: Option<BTreeMap<String, String>>,
    /// Echoed correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The `kid` of a key-refresh hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_kid: Option<String>,
}

impl Table {
    /// Parses a table.
    pub fn from_json(bytes: &[u8]) -> Result<Table, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// A case's headers with `{{token}}` references replaced.
    pub fn headers(&self, case: &Case) -> Vec<(String, String)> {
        case.request
            .headers
            .iter()
            .map(|(n, v)| {
                let mut value = v.clone();
                for (name, token) in &self.tokens {
                    value = value.replace(&format!("{{{{{name}}}}}"), token);
                }
                (n.clone(), value)
            })
            .collect()
    }

    /// Runs one case through `engine`.
    pub fn decide(&self, engine: &Engine, case: &Case) -> Decision {
        let headers = self.headers(case);
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        engine.check(
            &Request::new(&case.request.method, &case.request.path, &pairs),
            self.now,
        )
    }
}

impl Expect {
    /// Compares a decision with the expectation; the error lists every difference.
    pub fn check(&self, d: &Decision) -> Result<(), String> {
        let mut diffs = Vec::new();
        let mut diff = |what: &str, want: &dyn core::fmt::Debug, got: &dyn core::fmt::Debug| {
            diffs.push(format!("{what}: expected {want:?}, got {got:?}"));
        };
        if d.status != self.status {
            diff("status", &self.status, &d.status);
        }
        if d.code.name() != self.reason {
            diff("reason", &self.reason, &d.code.name());
        }
        let p = d.principal.as_ref();
        if let Some(want) = &self.subject {
            let got = p.map(|p| p.subject.as_str());
            if got != Some(want.as_str()) {
                diff("subject", want, &got);
            }
        }
        if let Some(want) = &self.kind {
            let got = p.map(|p| p.kind.name());
            if got != Some(want.as_str()) {
                diff("kind", want, &got);
            }
        }
        if let Some(want) = &self.tenant {
            let got = p.and_then(|p| p.tenant.as_deref());
            if got != Some(want.as_str()) {
                diff("tenant", want, &got);
            }
        }
        if let Some(want) = &self.roles {
            let got: Vec<&str> = p.map(|p| p.roles().collect()).unwrap_or_default();
            if got != *want {
                diff("roles", want, &got);
            }
        }
        if let Some(want) = &self.www_authenticate {
            if d.www_authenticate.as_ref() != Some(want) {
                diff("www_authenticate", want, &d.www_authenticate);
            }
        }
        if let Some(want) = &self.forward_headers {
            let got: BTreeMap<String, String> = d.forward_headers.iter().cloned().collect();
            if got != *want {
                diff("forward_headers", want, &got);
            }
        }
        if let Some(want) = &self.correlation_id {
            if d.correlation_id.as_ref() != Some(want) {
                diff("correlation_id", want, &d.correlation_id);
            }
        }
        if let Some(want) = &self.refresh_kid {
            let got = d.refresh_hint.as_ref().map(|h| h.kid.as_str());
            if got != Some(want.as_str()) {
                diff("refresh_kid", want, &got);
            }
        }
        if diffs.is_empty() {
            Ok(())
        } else {
            Err(diffs.join("; "))
        }
    }
}
