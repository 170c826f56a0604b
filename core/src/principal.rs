//! Who is calling: the principal a verified credential stands for, and how its subject, kind,
//! tenants, roles and scopes are read from claims.
//!
//! Claim shapes (each `claim` is one member name, or an array naming nested members):
//! - `list`: an array of role names (`roles`, Keycloak `realm_access.roles`, `permissions`), or a
//!   single string;
//! - `space_separated`: one string of space-separated names (OAuth `scope`, `scp`), or an array
//!   of such strings (`scp` as an array);
//! - `role_keys`: an object whose member names are roles (Zitadel
//!   `urn:zitadel:iam:org:project:{projectId}:roles`, `{role: {orgId: domain}}`), held globally;
//! - `tenant_map`: `{"<tenant>": ["role", …]}`, roles per tenant;
//! - `role_tenant_map`: `{"<role>": {"<tenant>": …}}` (Zitadel `urn:zitadel:iam:org:project:roles`
//!   with tenants as the inner keys), roles per tenant.

use crate::document::{self, Fields, Read};
use crate::json::{Kind, Lookup, Value};
use crate::roles::{Bits, Names};

/// The kind of caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A person, through a session or access token.
    User,
    /// A machine identity.
    ServiceAccount,
    /// A person's long-lived token; its roles are the person's *current* roles.
    PersonalAccessToken,
}

impl PrincipalKind {
    /// Every kind.
    pub const ALL: [PrincipalKind; 3] = [
        PrincipalKind::User,
        PrincipalKind::ServiceAccount,
        PrincipalKind::PersonalAccessToken,
    ];

    /// Reads a kind from a policy document by its name.
    pub(crate) fn read(v: Value<'_>, at: &str) -> Read<PrincipalKind> {
        document::variant(v, at, &Self::ALL.map(|k| (k.name(), k)))
    }

    /// The `snake_case` name.
    pub fn name(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::ServiceAccount => "service_account",
            PrincipalKind::PersonalAccessToken => "personal_access_token",
        }
    }
}

/// A path to a claim: one member name, or several for nested members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimPath {
    /// A top-level member (names may contain dots, colons and slashes).
    Name(String),
    /// Nested members, outermost first.
    Path(Vec<String>),
}

impl ClaimPath {
    /// Reads a claim path from a policy document: a member name, or an array of them.
    pub(crate) fn read(v: Value<'_>, at: &str) -> Read<ClaimPath> {
        let expected = "a claim name or an array of claim names";
        document::one_or_many(v, at, expected, ClaimPath::Name, ClaimPath::Path)
    }

    /// Reads the claim from a claims set (or any object).
    pub fn get<'a>(&self, claims: &impl Lookup<'a>) -> Option<Value<'a>> {
        match self {
            ClaimPath::Name(n) => claims.member(n),
            ClaimPath::Path(p) => claims.path(p.iter().map(String::as_str)),
        }
    }

    pub(crate) fn is_valid(&self) -> bool {
        match self {
            ClaimPath::Name(n) => !n.is_empty(),
            ClaimPath::Path(p) => !p.is_empty() && p.iter().all(|s| !s.is_empty()),
        }
    }
}

impl core::fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClaimPath::Name(n) => f.write_str(n),
            ClaimPath::Path(p) => f.write_str(&p.join(".")),
        }
    }
}

/// How a claim holds names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An array of strings, or one string.
    List,
    /// One string, names separated by spaces.
    SpaceSeparated,
    /// An object whose member names are the names.
    RoleKeys,
    /// `{tenant: [roles]}`.
    TenantMap,
    /// `{role: {tenant: …}}`.
    RoleTenantMap,
}

impl Shape {
    /// Reads a shape from a policy document by its name.
    pub(crate) fn read(v: Value<'_>, at: &str) -> Read<Shape> {
        document::variant(
            v,
            at,
            &[
                ("list", Shape::List),
                ("space_separated", Shape::SpaceSeparated),
                ("role_keys", Shape::RoleKeys),
                ("tenant_map", Shape::TenantMap),
                ("role_tenant_map", Shape::RoleTenantMap),
            ],
        )
    }

    /// Whether this shape says which tenant a role belongs to.
    pub fn is_per_tenant(self) -> bool {
        matches!(self, Shape::TenantMap | Shape::RoleTenantMap)
    }
}

/// A claim that carries names, and its shape.
#[derive(Clone, Debug)]
pub struct NameSource {
    /// Where the claim is.
    pub claim: ClaimPath,
    /// How it holds names.
    pub shape: Shape,
}

/// Calls `f` with each name a `list`, `space_separated` or `role_keys` claim holds.
fn for_each_name<'a>(v: Value<'a>, shape: Shape, mut f: impl FnMut(&str)) {
    match (shape, v.kind()) {
        (Shape::List, Kind::String) | (Shape::SpaceSeparated, Kind::String) => {
            if let Some(s) = v.as_str() {
                let text = s.to_cow();
                if shape == Shape::SpaceSeparated {
                    text.split(' ').filter(|t| !t.is_empty()).for_each(&mut f);
                } else {
                    f(&text);
                }
            }
        }
        (Shape::List | Shape::SpaceSeparated, Kind::Array) => {
            for item in v.as_array().into_iter().flatten() {
                if let Some(s) = item.as_str() {
                    let text = s.to_cow();
                    if shape == Shape::SpaceSeparated {
                        text.split(' ').filter(|t| !t.is_empty()).for_each(&mut f);
                    } else {
                        f(&text);
                    }
                }
            }
        }
        (Shape::RoleKeys, Kind::Object) => {
            for (k, _) in v.as_object().into_iter().flat_map(|o| o.members()) {
                f(&k.to_cow());
            }
        }
        _ => {}
    }
}

impl NameSource {
    /// Reads a claim and its shape from a policy document.
    pub(crate) fn read(v: Value<'_>, at: &str) -> Read<NameSource> {
        let f = Fields::new(v, at, &["claim", "shape"])?;
        Ok(NameSource {
            claim: f.required("claim", ClaimPath::read)?,
            shape: f.required("shape", Shape::read)?,
        })
    }

    /// Adds the ids of the names this (tenant-independent) source holds.
    pub fn collect<'a>(&self, claims: &impl Lookup<'a>, names: &Names, out: &mut Bits) {
        if let Some(v) = self.claim.get(claims) {
            for_each_name(v, self.shape, |n| {
                if let Some(id) = names.id(n) {
                    out.insert(id);
                }
            });
        }
    }

    /// For a per-tenant source: adds the roles held in `tenant`; says whether the claim lists the
    /// tenant at all (membership).
    pub fn collect_for_tenant<'a>(
        &self,
        claims: &impl Lookup<'a>,
        tenant: &str,
        names: &Names,
        out: &mut Bits,
    ) -> bool {
        let Some(obj) = self.claim.get(claims).and_then(|v| v.as_object()) else {
            return false;
        };
        match self.shape {
            Shape::TenantMap => match obj.get(tenant) {
                Some(roles) => {
                    for_each_name(roles, Shape::List, |n| {
                        if let Some(id) = names.id(n) {
                            out.insert(id);
                        }
                    });
                    true
                }
                None => false,
            },
            Shape::RoleTenantMap => {
                let mut member = false;
                for (role, tenants) in obj.members() {
                    let in_tenant = tenants.as_object().is_some_and(|t| t.get(tenant).is_some());
                    if in_tenant {
                        member = true;
                        if let Some(id) = names.id(&role.to_cow()) {
                            out.insert(id);
                        }
                    }
                }
                member
            }
            _ => false,
        }
    }
}

/// A claim listing the tenants a principal may access (a string or an array of strings).
pub fn lists_tenant<'a>(claims: &impl Lookup<'a>, path: &ClaimPath, tenant: &str) -> bool {
    let Some(v) = path.get(claims) else {
        return false;
    };
    let mut found = false;
    for_each_name(v, Shape::List, |t| found |= t == tenant);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::Claims;

    fn names(list: &[&str]) -> Names {
        let mut n = Names::default();
        for x in list {
            n.add(x);
        }
        n
    }

    #[test]
    fn every_claim_shape_reads_as_documented() {
        let doc = br#"{
            "roles": ["admin", "unknown"],
            "scope": "items:read  items:write",
            "realm_access": {"roles": ["viewer"]},
            "urn:zitadel:iam:org:project:roles": {"owner": {"t-1": "acme.example"}, "viewer": {"t-2": "x"}},
            "urn:zitadel:iam:org:project:42:roles": {"admin": {"1": "x"}},
            "tenants": {"A": ["admin"], "B": ["viewer"]}
        }"#;
        let claims = Claims::parse(doc, 16).unwrap();
        let n = names(&["admin", "viewer", "owner", "items:read", "items:write"]);
        let read = |claim: ClaimPath, shape: Shape| {
            let mut b = Bits::default();
            NameSource { claim, shape }.collect(&claims, &n, &mut b);
            n.names_of(&b).map(str::to_owned).collect::<Vec<_>>()
        };
        assert_eq!(
            read(ClaimPath::Name("roles".into()), Shape::List),
            ["admin"]
        );
        assert_eq!(
            read(ClaimPath::Name("scope".into()), Shape::SpaceSeparated),
            ["items:read", "items:write"]
        );
        assert_eq!(
            read(
                ClaimPath::Path(vec!["realm_access".into(), "roles".into()]),
                Shape::List
            ),
            ["viewer"]
        );
        assert_eq!(
            read(
                ClaimPath::Name("urn:zitadel:iam:org:project:42:roles".into()),
                Shape::RoleKeys
            ),
            ["admin"]
        );

        let per_tenant = |claim: &str, shape: Shape, tenant: &str| {
            let mut b = Bits::default();
            let member = NameSource {
                claim: ClaimPath::Name(claim.into()),
                shape,
            }
            .collect_for_tenant(&claims, tenant, &n, &mut b);
            (
                member,
                n.names_of(&b).map(str::to_owned).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            per_tenant("tenants", Shape::TenantMap, "A"),
            (true, vec!["admin".to_owned()])
        );
        assert_eq!(
            per_tenant("tenants", Shape::TenantMap, "C"),
            (false, vec![])
        );
        assert_eq!(
            per_tenant(
                "urn:zitadel:iam:org:project:roles",
                Shape::RoleTenantMap,
                "t-1"
            ),
            (true, vec!["owner".to_owned()])
        );
        assert_eq!(
            per_tenant(
                "urn:zitadel:iam:org:project:roles",
                Shape::RoleTenantMap,
                "t-3"
            ),
            (false, vec![])
        );
        assert!(lists_tenant(
            &Claims::parse(br#"{"ws":"w1"}"#, 4).unwrap(),
            &ClaimPath::Name("ws".into()),
            "w1"
        ));
        assert!(!lists_tenant(
            &Claims::parse(br#"{"ws":["w1"]}"#, 4).unwrap(),
            &ClaimPath::Name("ws".into()),
            "w2"
        ));
    }
}
