//! The four example deployments (`examples/`), loaded for the engine benchmarks.

use std::sync::Arc;
use tollgate::scenario::{Case, Table};
use tollgate::{Engine, KeySet, Request, TokenBuffer, Verifier};

/// An allowed, authenticated request of a deployment, and what verifying its token alone takes.
#[derive(Debug)]
pub struct EngineCase {
    /// The scenario case's name.
    pub name: String,
    /// The request.
    pub request: OwnedRequest,
    /// The time to check it at.
    pub now: u64,
    /// The credential (a JWT).
    pub token: String,
    /// The provider that authenticates it.
    pub provider: String,
    /// A bare verifier with the provider's keys and rules: `check - verify` is what the engine
    /// adds on top of verification.
    pub verifier: Verifier,
}

/// One example deployment (`examples/<name>/`): its engine and scenario table.
#[derive(Debug)]
pub struct Deployment {
    /// The directory name.
    pub name: &'static str,
    /// The engine, with the deployment's snapshot swapped in.
    pub engine: Engine,
    /// The scenario table.
    pub table: Table,
    /// The policy document.
    pub policy: serde_json::Value,
    /// The snapshot document.
    pub snapshot: serde_json::Value,
}

macro_rules! example {
    ($name:literal) => {
        Deployment::load(
            $name,
            include_bytes!(concat!("../../../examples/", $name, "/policy.json")),
            include_bytes!(concat!("../../../examples/", $name, "/snapshot.json")),
            include_bytes!(concat!("../../../examples/", $name, "/scenarios.json")),
        )
    };
}

/// The four example deployments, in the README's order.
pub fn deployments() -> Vec<Deployment> {
    vec![
        example!("project-oidc"),
        example!("workspace-api"),
        example!("service-accounts"),
        example!("tenant-path"),
    ]
}

impl Deployment {
    fn load(name: &'static str, policy: &[u8], snapshot: &[u8], scenarios: &[u8]) -> Deployment {
        let engine =
            Engine::from_policy_json(policy).unwrap_or_else(|e| panic!("{name} policy: {e}"));
        engine
            .swap_snapshot_json(snapshot)
            .unwrap_or_else(|e| panic!("{name} snapshot: {e}"));
        Deployment {
            name,
            engine,
            table: Table::from_json(scenarios).unwrap_or_else(|e| panic!("{name} scenarios: {e}")),
            policy: serde_json::from_slice(policy).expect("policy JSON"),
            snapshot: serde_json::from_slice(snapshot).expect("snapshot JSON"),
        }
    }
}

/// A request from a scenario table with its `{{token}}` references filled in, owned so a
/// benchmark can borrow a [`tollgate::Request`] from it on every iteration.
#[derive(Debug, Clone)]
pub struct OwnedRequest {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
}

impl OwnedRequest {
    /// The request of `case`.
    pub fn from_case(table: &Table, case: &Case) -> OwnedRequest {
        OwnedRequest {
            method: case.request.method.clone(),
            path: case.request.path.clone(),
            headers: table.headers(case),
        }
    }

    /// The headers as borrowed pairs, for [`tollgate::Request::new`].
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    /// The credential the request carries: the value of its `Authorization` header without the
    /// scheme, or of its `token` header.
    pub fn credential(&self) -> Option<&str> {
        self.headers.iter().find_map(|(n, v)| {
            if n.eq_ignore_ascii_case("authorization") {
                v.split_once(' ').map(|(_, t)| t)
            } else if n.eq_ignore_ascii_case("token") {
                Some(v.as_str())
            } else {
                None
            }
        })
    }
}

impl Deployment {
    /// The first case the table expects to be allowed (200) that carries a credential: a route,
    /// a credential, and (where the deployment has them) a tenant and roles.
    pub fn first_authenticated_case(&self) -> &Case {
        self.table
            .cases
            .iter()
            .find(|c| {
                c.expect.status == 200 && c.request.headers.iter().any(|(_, v)| v.contains("{{"))
            })
            .unwrap_or_else(|| panic!("{}: no allowed case with a credential", self.name))
    }

    /// The first allowed case whose credential is an API key with `prefix` (e.g. `fln_live_`).
    pub fn first_api_key_case(&self, prefix: &str) -> &Case {
        self.table
            .cases
            .iter()
            .find(|c| {
                c.expect.status == 200
                    && OwnedRequest::from_case(&self.table, c)
                        .credential()
                        .is_some_and(|t| t.starts_with(prefix))
            })
            .unwrap_or_else(|| panic!("{}: no allowed API-key case", self.name))
    }

    /// The first authenticated case, checked once (it must be allowed), with a bare verifier for
    /// its token.
    pub fn engine_case(&self) -> EngineCase {
        let case = self.first_authenticated_case();
        let request = OwnedRequest::from_case(&self.table, case);
        let now = self.table.now;
        let pairs = request.pairs();
        let decision = self
            .engine
            .check(&Request::new(&request.method, &request.path, &pairs), now);
        assert_eq!(
            decision.status, 200,
            "{}: {:?} is not allowed: {}",
            self.name, case.name, decision.message
        );
        let provider_name = decision
            .principal
            .as_ref()
            .expect("an authenticated case")
            .provider()
            .to_owned();
        let provider = self
            .engine
            .policy()
            .providers
            .iter()
            .find(|p| p.name == provider_name)
            .expect("the decision's provider");
        let jwks = self.provider_jwks(&provider_name);
        let keys = match provider.algorithms.as_slice() {
            [one] => KeySet::from_jwks_bound(jwks.as_bytes(), *one),
            _ => KeySet::from_jwks(jwks.as_bytes()),
        }
        .and_then(|k| k.with_backend(tollgate::crypto::Backend::preferred()))
        .expect("provider keys");
        let verifier =
            Verifier::new(Arc::new(keys), provider.validation.clone()).expect("provider rules");
        let token = request.credential().expect("a credential").to_owned();
        verifier
            .verify(token.as_bytes(), now, &mut TokenBuffer::new())
            .unwrap_or_else(|e| panic!("{}: the bare verifier rejects the token: {e}", self.name));
        EngineCase {
            name: case.name.clone(),
            request: request.clone(),
            now,
            token,
            provider: provider_name,
            verifier,
        }
    }

    /// The JWKS the snapshot holds for provider `name`.
    pub fn provider_jwks(&self, name: &str) -> String {
        self.snapshot["keys"][name].to_string()
    }
}
