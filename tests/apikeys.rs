//! API keys: known answers computed independently (Python `zlib.crc32`, `hashlib`, `hmac`),
//! properties of the format, and revocation through a snapshot swap.

use proptest::prelude::*;
use std::path::PathBuf;
use tollgate::apikey::{self, ApiKeyRecord, Hashing};
use tollgate::scenario::Table;
use tollgate::{Engine, ErrorCode, Request};

/// A key built by hand: prefix, 30 base62 characters, and the checksum Python computes as
/// base62(zlib.crc32(b"fln_live_0123456789abcdefghijABCDEFGHIJ")).
const KNOWN: &str = "fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBz";

#[test]
fn known_answers_from_an_independent_implementation() {
    let parsed = apikey::parse(KNOWN, &["fln_live", "fln"]).unwrap();
    assert_eq!(
        parsed.prefix(),
        "fln_live",
        "the longest matching prefix wins"
    );
    assert_eq!(
        Hashing::Sha256.hash(KNOWN),
        "sha256:TprC_RyjdnqddB9d5lsKcvVEQG9hsgyzek7UT-pr1so"
    );
    assert_eq!(
        Hashing::HmacSha256(b"pepper-pepper-16".to_vec()).hash(KNOWN),
        "hmac-sha256:zyb-Al2CgV2wiB__aXS2I2TnY9RaiqudN4l70W8gAFU"
    );
}

#[test]
fn malformed_keys_say_so_before_any_lookup() {
    for bad in [
        "",
        "fln_live_",
        "fln_live",
        "fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBZ", // checksum case changed
        "fln_live_0123456789abcdefghijABCDEFGHIJ4C9YB",  // truncated
        "fln_live_0123456789abcdefghijABCDEFGHI4C9YBz",  // a character dropped
        "fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBz ", // trailing space
        "fln_live_0123456789-abcdefghijABCDEFGHIJ4C9YBz",
        "FLN_LIVE_0123456789abcdefghijABCDEFGHIJ4C9YBz",
    ] {
        let err = apikey::parse(bad, &["fln_live"]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::MalformedApiKey, "{bad:?}");
    }
    // A prefix no key can carry (not letters, digits and `_`) accepts nothing, though this
    // key's checksum is right (zlib.crc32 in base62).
    let spaced = "x y_0123456789abcdefghijABCDEFGHIJKL0fwyNp";
    assert_eq!(
        apikey::parse(spaced, &["x y"]).unwrap_err().code(),
        ErrorCode::MalformedApiKey
    );
    let long = format!("fln_live_{}", "a".repeat(200));
    assert_eq!(
        apikey::parse(&long, &["fln_live"]).unwrap_err().code(),
        ErrorCode::MalformedApiKey
    );
}

#[test]
fn records_round_trip_and_never_hold_the_key() {
    let g = apikey::generate("fln_live", "sa_billing", &Hashing::Sha256, 1_767_225_600).unwrap();
    let json = serde_json::to_string(&g.record).unwrap();
    assert!(!json.contains(&g.key));
    let back = ApiKeyRecord::from_json(json.as_bytes()).unwrap();
    assert_eq!(back, g.record);
    assert_eq!(g.record.hint, format!("…{}", &g.key[g.key.len() - 4..]));
    assert!(!format!("{g:?}").contains(&g.key));
    // Defaults, and a member no record has.
    let minimal = r#"{"id":"k","hash":"sha256:x","owner":"o","created":0,"hint":""}"#;
    let r = ApiKeyRecord::from_json(minimal.as_bytes()).unwrap();
    assert_eq!(r.kind, tollgate::PrincipalKind::ServiceAccount);
    assert_eq!((r.tenant, r.expires, r.revoked), (None, None, false));
    assert!(r.roles.is_empty() && r.scopes.is_empty());
    let extra = minimal.replace("}", r#","secret":"x"}"#);
    assert_eq!(
        ApiKeyRecord::from_json(extra.as_bytes())
            .unwrap_err()
            .to_string(),
        "invalid stored record: the api_key record: unknown field `secret`, expected one of \
         `id`, `hash`, `owner`, `kind`, `tenant`, `roles`, `scopes`, `created`, `expires`, \
         `revoked`, `hint`"
    );
    let negative = minimal.replace(r#""created":0"#, r#""created":-1"#);
    assert_eq!(
        ApiKeyRecord::from_json(negative.as_bytes())
            .unwrap_err()
            .to_string(),
        "invalid stored record: the api_key record: created: invalid value: integer `-1`, \
         expected u64"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(128) })]

    /// Every generated key parses, and every single-character change of it fails the checksum.
    #[test]
    fn every_single_character_change_is_caught(pos in any::<prop::sample::Index>(), c in "[0-9A-Za-z]") {
        let g = apikey::generate("pat", "u", &Hashing::Sha256, 0).unwrap();
        prop_assert!(apikey::parse(&g.key, &["pat"]).is_ok());
        let body_start = "pat_".len();
        let i = body_start + pos.index(g.key.len() - body_start);
        let mut changed = g.key.clone().into_bytes();
        prop_assume!(changed[i] != c.as_bytes()[0]);
        changed[i] = c.as_bytes()[0];
        let changed = String::from_utf8(changed).unwrap();
        prop_assert_eq!(apikey::parse(&changed, &["pat"]).unwrap_err().code(), ErrorCode::MalformedApiKey);
    }

    /// Arbitrary text never panics the parser and is refused (a random 6-character checksum
    /// matches with probability 62^-6, about 2e-11).
    #[test]
    fn arbitrary_text_is_refused(s in "\\PC{0,80}") {
        let candidate = format!("fln_live_{s}");
        prop_assert!(apikey::parse(&candidate, &["fln_live"]).is_err());
    }
}

fn example(file: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/service-accounts")
            .join(file),
    )
    .unwrap()
}

/// Revoking a key is a snapshot swap: the next check refuses it, the other live keys still pass.
#[test]
fn revocation_takes_effect_at_the_next_swap() {
    let engine = Engine::from_policy_json(&example("policy.json")).unwrap();
    let mut snapshot: serde_json::Value =
        serde_json::from_slice(&example("snapshot.json")).unwrap();
    engine
        .swap_snapshot_json(snapshot.to_string().as_bytes())
        .unwrap();
    let table = Table::from_json(&example("scenarios.json")).unwrap();
    let check = |name: &str| {
        let header = format!("Bearer {}", table.tokens[name]);
        engine
            .check(
                &Request::new(
                    "POST",
                    "/v1/orgs/org_1/invoices",
                    &[("Authorization", &header)],
                ),
                table.now,
            )
            .code
    };
    assert_eq!(check("key-billing-old"), ErrorCode::Allowed);
    assert_eq!(check("key-billing-new"), ErrorCode::Allowed);
    for r in snapshot["api_keys"]["api-keys"].as_array_mut().unwrap() {
        if r["id"] == "key_billing01" {
            r["revoked"] = true.into();
        }
    }
    engine
        .swap_snapshot_json(snapshot.to_string().as_bytes())
        .unwrap();
    assert_eq!(check("key-billing-old"), ErrorCode::ApiKeyRevoked);
    assert_eq!(check("key-billing-new"), ErrorCode::Allowed);
}

/// `expires` is the first second a key no longer works (as a JWT's `exp`).
#[test]
fn a_key_expires_at_its_expires_second() {
    let engine = Engine::from_policy_json(&example("policy.json")).unwrap();
    let mut snapshot: serde_json::Value =
        serde_json::from_slice(&example("snapshot.json")).unwrap();
    let table = Table::from_json(&example("scenarios.json")).unwrap();
    for r in snapshot["api_keys"]["api-keys"].as_array_mut().unwrap() {
        if r["id"] == "key_billing02" {
            r["expires"] = (table.now + 10).into();
        }
    }
    engine
        .swap_snapshot_json(snapshot.to_string().as_bytes())
        .unwrap();
    let header = format!("Bearer {}", table.tokens["key-billing-new"]);
    let headers = [("Authorization", header.as_str())];
    let request = Request::new("GET", "/v1/orgs/org_1/invoices", &headers);
    assert_eq!(
        engine.check(&request, table.now + 9).code,
        ErrorCode::Allowed
    );
    let d = engine.check(&request, table.now + 10);
    assert_eq!((d.status, d.code), (401, ErrorCode::ApiKeyExpired));
    assert_eq!(d.message, "API key key_billing02 has expired");
}

/// A service account's key issued for one organisation acts in it only: on a route that is not
/// tenant-scoped it holds none of its roles or scopes, though it still authenticates.
#[test]
fn a_key_issued_for_a_tenant_holds_nothing_outside_tenant_routes() {
    let mut policy: serde_json::Value = serde_json::from_slice(&example("policy.json")).unwrap();
    let routes = policy["routes"].as_array_mut().unwrap();
    routes.push(serde_json::json!({"method": "POST", "path": "/v1/reindex", "requires": ["invoices:write"]}));
    routes.push(serde_json::json!({"method": "GET", "path": "/v1/whoami"}));
    let engine = Engine::from_policy_json(policy.to_string().as_bytes()).unwrap();
    engine
        .swap_snapshot_json(&example("snapshot.json"))
        .unwrap();
    let table = Table::from_json(&example("scenarios.json")).unwrap();
    let check = |method: &str, path: &str| {
        let header = format!("Bearer {}", table.tokens["key-billing-new"]);
        let d = engine.check(
            &Request::new(method, path, &[("Authorization", &header)]),
            table.now,
        );
        (d.status, d.code)
    };
    assert_eq!(
        check("POST", "/v1/orgs/org_1/invoices"),
        (200, ErrorCode::Allowed)
    );
    assert_eq!(
        check("POST", "/v1/reindex"),
        (403, ErrorCode::InsufficientPermissions)
    );
    assert_eq!(check("GET", "/v1/whoami"), (200, ErrorCode::Allowed));
}

/// Providers whose prefixes nest (`fln` before `fln_live`): a key goes to the provider of the
/// longest prefix it carries, wherever the providers are listed.
#[test]
fn the_longest_prefix_picks_the_provider() {
    let mut policy: serde_json::Value = serde_json::from_slice(&example("policy.json")).unwrap();
    let providers = policy["providers"].as_array_mut().unwrap();
    let short = serde_json::json!({
        "name": "short", "type": "api_key", "prefixes": ["fln"], "credentials": ["bearer"]
    });
    providers.insert(1, short);
    let engine = Engine::from_policy_json(policy.to_string().as_bytes()).unwrap();
    let snapshot: serde_json::Value = serde_json::from_slice(&example("snapshot.json")).unwrap();
    let mut snapshot_doc = snapshot.clone();
    snapshot_doc["api_keys"]["short"] = serde_json::json!([]);
    engine
        .swap_snapshot_json(snapshot_doc.to_string().as_bytes())
        .unwrap();
    let table = Table::from_json(&example("scenarios.json")).unwrap();
    let header = format!("Bearer {}", table.tokens["key-billing-new"]);
    let d = engine.check(
        &Request::new(
            "POST",
            "/v1/orgs/org_1/invoices",
            &[("Authorization", &header)],
        ),
        table.now,
    );
    assert_eq!(d.code, ErrorCode::Allowed, "{}", d.message);
    assert_eq!(d.principal.unwrap().provider(), "api-keys");
    // A key of the short prefix goes to its own provider (which has no record of it).
    let g = apikey::generate("fln", "sa_x", &Hashing::Sha256, table.now).unwrap();
    let header = format!("Bearer {}", g.key);
    let d = engine.check(
        &Request::new(
            "GET",
            "/v1/orgs/org_1/invoices",
            &[("Authorization", &header)],
        ),
        table.now,
    );
    assert_eq!(d.code, ErrorCode::UnknownApiKey, "{}", d.message);
}

/// A pepper is a secret: neither the hashing, nor the snapshot holding it, nor a refusal of a
/// snapshot that holds it in the wrong place shows it.
#[test]
fn debug_output_never_shows_a_pepper() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/project-oidc");
    let engine =
        Engine::from_policy_json(&std::fs::read(examples.join("policy.json")).unwrap()).unwrap();
    let snapshot: serde_json::Value =
        serde_json::from_slice(&std::fs::read(examples.join("snapshot.json")).unwrap()).unwrap();
    engine
        .swap_snapshot_json(snapshot.to_string().as_bytes())
        .unwrap();
    let encoded = snapshot["peppers"]["pat"].as_str().unwrap();
    let pepper = tollgate::base64url::decode(encoded.as_bytes()).unwrap();
    let raw = format!("{pepper:?}");
    let raw = &raw[1..raw.len() - 1]; // "1, 2, 3" as a derived Debug of the bytes shows them
    let hashing = format!("{:?}", Hashing::HmacSha256(pepper.clone()));
    assert_eq!(hashing, format!("HmacSha256(<{} bytes>)", pepper.len()));
    let shown = format!("{:?}", engine.current_snapshot());
    assert!(
        shown.contains("peppers: [") && shown.contains("true"),
        "{shown}"
    );
    // The refusal of this snapshot with `peppers` replaced.
    let refusal = |peppers: serde_json::Value| {
        let mut doc = snapshot.clone();
        doc["peppers"] = peppers;
        engine
            .swap_snapshot_json(doc.to_string().as_bytes())
            .unwrap_err()
            .to_string()
    };
    // Written where a map belongs, the snapshot is refused without the pepper in the reason.
    let refused = refusal(encoded.into());
    assert!(
        refused.contains("peppers: invalid type: string of"),
        "{refused}"
    );
    // Or as the key of its entry, where a provider's name belongs.
    let unnamed = refusal(serde_json::json!({ encoded: "pat" }));
    assert!(
        unnamed.contains("no provider has the name of a pepper entry"),
        "{unnamed}"
    );
    for text in [&hashing, &shown, &refused, &unnamed] {
        assert!(!text.contains(raw) && !text.contains(encoded), "{text}");
    }
}

/// A personal access token takes its owner's *current* roles from the user record, and never
/// gives more than it was issued for: the tenant it names bounds the owner's membership, and
/// the scopes it lists bound the owner's permissions (they add nothing).
#[test]
fn a_personal_access_token_never_gives_more_than_its_owner_has_or_it_was_issued_for() {
    const P1: &str = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
    const P2: &str = "0b6f1a4e-3c5d-4e8f-9a1b-2c3d4e5f6a7b";
    let read = |file: &str| {
        std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/project-oidc")
                .join(file),
        )
        .unwrap()
    };
    let engine = Engine::from_policy_json(&read("policy.json")).unwrap();
    let mut snapshot: serde_json::Value = serde_json::from_slice(&read("snapshot.json")).unwrap();
    let pepper =
        tollgate::base64url::decode(snapshot["peppers"]["pat"].as_str().unwrap().as_bytes())
            .unwrap();
    // Alice is a platform admin and an admin in both projects; carol a viewer in P1.
    snapshot["users"]["u-alice"] = serde_json::json!({
        "roles": ["platform-admin"],
        "tenants": {P1: ["admin"], P2: ["admin"]}
    });
    let now = 1_767_225_600;
    let mut pat = |owner: &str, tenant: Option<&str>, roles: &[&str], scopes: &[&str]| {
        let mut g =
            apikey::generate("pat", owner, &Hashing::HmacSha256(pepper.clone()), now).unwrap();
        g.record.kind = tollgate::PrincipalKind::PersonalAccessToken;
        g.record.tenant = tenant.map(str::to_owned);
        g.record.roles = roles.iter().map(|s| s.to_string()).collect();
        g.record.scopes = scopes.iter().map(|s| s.to_string()).collect();
        snapshot["api_keys"]["pat"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::to_value(&g.record).unwrap());
        format!("Bearer {}", g.key)
    };
    let carol_delete = pat("u-carol", None, &[], &["project:delete"]);
    let carol_admin = pat("u-carol", None, &["admin"], &[]);
    let alice_p1 = pat("u-alice", Some(P1), &[], &[]);
    let alice_read = pat("u-alice", None, &[], &["project:read"]);
    let alice_viewer = pat("u-alice", None, &["viewer"], &[]);
    let alice_admin_rw = pat(
        "u-alice",
        None,
        &["admin"],
        &["project:read", "project:write"],
    );
    let alice = pat("u-alice", None, &[], &[]);
    engine
        .swap_snapshot_json(snapshot.to_string().as_bytes())
        .unwrap();
    let check = |method: &str, path: &str, auth: &str, project: &str| {
        let headers = [("Authorization", auth), ("X-Project-ID", project)];
        let d = engine.check(&Request::new(method, path, &headers), now);
        (d.status, d.code)
    };
    let allowed = (200, ErrorCode::Allowed);
    let lacking = (403, ErrorCode::InsufficientPermissions);

    // A scope the owner's roles do not grant is not granted by the token either.
    assert_eq!(check("DELETE", "/v1/project", &carol_delete, P1), lacking);
    assert_eq!(check("GET", "/v1/items", &carol_delete, P1), lacking);
    // Scopes bound an admin's token to what they list.
    assert_eq!(check("GET", "/v1/items", &alice_read, P1), allowed);
    assert_eq!(check("POST", "/v1/items", &alice_read, P1), lacking);
    // So do roles: an admin's token issued as a viewer is a viewer. Issued with both, it gets
    // what both allow: admin's permissions within its scopes.
    assert_eq!(check("GET", "/v1/items", &alice_viewer, P1), allowed);
    assert_eq!(check("POST", "/v1/items", &alice_viewer, P1), lacking);
    assert_eq!(check("POST", "/v1/members", &alice_viewer, P1), lacking);
    assert_eq!(check("POST", "/v1/items", &alice_admin_rw, P1), allowed);
    assert_eq!(check("POST", "/v1/members", &alice_admin_rw, P1), lacking);
    // A role the owner does not hold is not granted by the token.
    assert_eq!(check("GET", "/v1/items", &carol_admin, P1), allowed);
    assert_eq!(check("POST", "/v1/items", &carol_admin, P1), lacking);
    // A token issued for P1 is a member of P1 only, though its owner is a member of both.
    assert_eq!(check("POST", "/v1/items", &alice_p1, P1), allowed);
    assert_eq!(
        check("POST", "/v1/items", &alice_p1, P2),
        (403, ErrorCode::TenantForbidden)
    );
    // Without either, the owner's current roles decide, in every project of theirs.
    assert_eq!(check("POST", "/v1/items", &alice, P1), allowed);
    assert_eq!(check("POST", "/v1/members", &alice, P2), allowed);

    // Outside tenant-scoped routes a key issued for P1 holds none of its owner's roles: it is no
    // platform admin, though its owner is one (and her unbounded token is).
    assert_eq!(check("GET", "/admin/users", &alice, P1), allowed);
    assert_eq!(check("GET", "/admin/users", &alice_p1, P1), lacking);
    assert_eq!(check("GET", "/v1/me", &alice_p1, P1), allowed);

    // The principal (what a host forwards upstream as the caller's roles) names only the roles
    // the key carries in full: for project:read, viewer, not admin or member.
    let roles = |auth: &str| {
        let headers = [("Authorization", auth), ("X-Project-ID", P1)];
        let d = engine.check(&Request::new("GET", "/v1/items", &headers), now);
        assert_eq!(d.status, 200, "{}", d.message);
        let p = d.principal.expect("a principal");
        (
            p.roles().map(str::to_owned).collect::<Vec<_>>(),
            p.permissions().map(str::to_owned).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        roles(&alice_read),
        (vec!["viewer".to_owned()], vec!["project:read".to_owned()])
    );
    assert_eq!(roles(&alice_viewer), roles(&alice_read));
    let (all, _) = roles(&alice);
    assert_eq!(all, ["admin", "member", "viewer", "platform-admin"]);
}
