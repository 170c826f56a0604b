//! Engine behaviours beyond the scenario tables: policy load errors that name their place,
//! snapshot rules and atomic swaps, re-issuing, and properties over the example deployments.

use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;
use tollgate::scenario::Table;
use tollgate::{Engine, ErrorCode, Request};

fn example(name: &str, file: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .join(file);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn deployment(name: &str) -> (Engine, Table) {
    let engine = Engine::from_policy_json(&example(name, "policy.json")).unwrap();
    engine
        .swap_snapshot_json(&example(name, "snapshot.json"))
        .unwrap();
    (
        engine,
        Table::from_json(&example(name, "scenarios.json")).unwrap(),
    )
}

fn policy_error(policy: serde_json::Value) -> String {
    match Engine::from_policy_json(policy.to_string().as_bytes()) {
        Ok(_) => panic!("accepted: {policy}"),
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::InvalidPolicy);
            e.to_string()
        }
    }
}

/// Deployment `name`'s policy as JSON, to change before loading it.
fn policy_of(name: &str) -> serde_json::Value {
    serde_json::from_slice(&example(name, "policy.json")).unwrap()
}

fn base() -> serde_json::Value {
    policy_of("service-accounts")
}

#[test]
fn policy_errors_name_the_exact_place() {
    let mut p = base();
    p["routes"][3]["requires"][0] = "billing:wirte".into();
    assert_eq!(
        policy_error(p),
        r#"routes[3].requires[0]: unknown permission "billing:wirte""#
    );

    let mut p = base();
    p["routes"][4]["requires"][0][1] = "nope".into();
    assert_eq!(
        policy_error(p),
        r#"routes[4].requires[0][1]: unknown permission "nope""#
    );

    let mut p = base();
    p["roles"][1]["inherits"] = serde_json::json!(["billing-admin"]);
    assert_eq!(
        policy_error(p),
        "roles[0]: role hierarchy has a cycle: billing-admin -> billing-reader -> billing-admin"
    );

    let mut p = base();
    p["roles"][0]["inherits"] = serde_json::json!(["billing-owner"]);
    assert_eq!(
        policy_error(p),
        r#"roles[0]: inherits unknown role "billing-owner""#
    );

    let mut p = base();
    p["roles"][0]["grants"][1] = "webhook:manage".into();
    assert_eq!(
        policy_error(p),
        r#"roles[0].grants[1]: unknown permission "webhook:manage""#
    );

    let mut p = base();
    let dup = p["routes"][0].clone();
    p["routes"].as_array_mut().unwrap().push(dup);
    assert_eq!(
        policy_error(p),
        "routes[6].path: duplicate route: GET /v1/orgs/{org_id}/invoices"
    );

    let mut p = base();
    p["providers"][0]["credentials"][0] = "cookie".into();
    assert_eq!(
        policy_error(p),
        r#"providers[0].credentials[0]: unknown credential "cookie""#
    );

    let mut p = base();
    p["routes"][0]["path"] = "/v1/invoices".into();
    assert_eq!(
        policy_error(p),
        "routes[0].path: tenant-scoped route lacks the {org_id} path parameter"
    );

    let mut p = base();
    p["providers"][0]["algorithms"][0] = "none".into();
    assert_eq!(
        policy_error(p),
        "providers[0].algorithms[0]: unsecured token (alg none) rejected"
    );

    // Unknown members first, named at their object, with the members that object takes.
    let mut p = base();
    p["routes"][0]["requried"] = serde_json::json!([]);
    p["routes"][0]["public"] = "yes".into();
    assert_eq!(
        policy_error(p),
        "routes[0]: unknown field `requried`, expected one of `method`, `path`, `public`, \
         `requires`, `tenant`, `principals`, `providers`"
    );

    let mut p = base();
    p["routes"][0]["public"] = "yes".into();
    assert_eq!(
        policy_error(p),
        r#"routes[0].public: invalid type: string "yes", expected a boolean"#
    );

    let mut p = base();
    p["routes"][2]["method"] = 3.into();
    assert_eq!(
        policy_error(p),
        "routes[2].method: invalid type: integer `3`, expected a method or an array of methods"
    );

    let mut p = base();
    p["providers"][0]
        .as_object_mut()
        .unwrap()
        .remove("credentials");
    assert_eq!(policy_error(p), "providers[0]: missing field `credentials`");

    let mut p = base();
    p["providers"][0]["leeway"] = serde_json::json!(-5);
    assert_eq!(
        policy_error(p),
        "providers[0].leeway: invalid value: integer `-5`, expected u64"
    );

    let mut p = base();
    p["unknown_routes"] = "allow".into();
    assert_eq!(
        policy_error(p),
        "unknown_routes: unknown variant `allow`, expected one of `deny`, `authenticated`"
    );

    let mut p = base();
    p["typo"] = true.into();
    assert_eq!(
        policy_error(p).split(", expected").next(),
        Some("(document): unknown field `typo`")
    );

    let mut p = base();
    p["version"] = 2.into();
    assert_eq!(
        policy_error(p),
        "version: unsupported version 2; expected 1"
    );

    let mut p = base();
    p["routes"][5]["requires"] = serde_json::json!(["invoices:read"]);
    assert_eq!(
        policy_error(p),
        "routes[5].public: a public route cannot also require permissions, a tenant or a caller kind"
    );
}

#[test]
fn snapshot_errors_name_the_place_and_keys_must_fit_the_provider() {
    let (engine, _) = deployment("tenant-path");
    let err = engine
        .swap_snapshot_json(br#"{"keys": {"nobody": {"keys": []}}}"#)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidSnapshot);
    assert_eq!(
        err.to_string(),
        "snapshot keys.nobody: no provider has this name"
    );

    // An Ed25519 key offered to an HS256-only provider.
    let eddsa = tollgate::keygen::generate(tollgate::Algorithm::EdDSA)
        .unwrap()
        .public_jwk
        .unwrap();
    let doc = serde_json::json!({"keys": {"app": {"keys": [eddsa]}}}).to_string();
    let err = engine.swap_snapshot_json(doc.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("keys.app"), "{err}");

    let err = engine
        .swap_snapshot_json(br#"{"users": {"u": {"roles": ["Root"]}}}"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"snapshot users.u.roles[0]: unknown role "Root""#
    );

    // A snapshot built for another engine cannot be swapped in.
    let (other, _) = deployment("tenant-path");
    let snap = other
        .snapshot_from_json(&example("tenant-path", "snapshot.json"))
        .unwrap();
    assert_eq!(
        engine.swap_snapshot(snap).unwrap_err().code(),
        ErrorCode::InvalidSnapshot
    );
}

fn alice_request(table: &Table) -> (String, Vec<(String, String)>) {
    let case = table
        .cases
        .iter()
        .find(|c| c.name == "Admin in A writes items in A")
        .unwrap();
    (case.request.path.clone(), table.headers(case))
}

#[test]
fn a_valid_token_mints_a_new_one_for_the_same_subject() {
    let (engine, table) = deployment("tenant-path");
    let (path, headers) = alice_request(&table);
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let decision = engine.check(&Request::new("POST", &path, &pairs), table.now);
    assert!(decision.is_allowed());

    let later = table.now + 500;
    let fresh = engine.reissue(&decision, later).unwrap();
    let fresh_headers = [("token", fresh.as_str())];
    // The old token is near its end (it expires at now+540); the new one lives 600 s from `later`.
    let d = engine.check(&Request::new("POST", &path, &fresh_headers), later + 590);
    assert!(d.is_allowed(), "{}", d.message);
    let p = d.principal.unwrap();
    assert_eq!(p.subject, "alice");
    assert_eq!(p.expires_at, Some((later + 600) as f64));
    assert_eq!(p.roles().collect::<Vec<_>>(), ["Admin", "Viewer"]);
    let old = engine.check(&Request::new("POST", &path, &pairs), later + 590);
    assert_eq!(old.code, ErrorCode::Expired);

    // A refusal cannot be re-issued.
    let denied = engine.check(&Request::new("POST", &path, &[]), table.now);
    assert_eq!(
        engine.reissue(&denied, later).unwrap_err().code(),
        ErrorCode::SigningFailed
    );
}

/// What a test needs to mint variants of alice's token in tenant-path: the path of her allowed
/// request, her claims as verified, the snapshot document, and a signer of its HMAC key.
struct AliceMint {
    path: String,
    claims: serde_json::Value,
    snapshot: serde_json::Value,
    signer: tollgate::SigningKey,
}

impl AliceMint {
    fn new(engine: &Engine, table: &Table) -> AliceMint {
        let (path, headers) = alice_request(table);
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let allowed = engine.check(&Request::new("POST", &path, &pairs), table.now);
        let principal = allowed.principal.expect("alice is allowed");
        let snapshot: serde_json::Value =
            serde_json::from_slice(&example("tenant-path", "snapshot.json")).unwrap();
        let jwk = snapshot["keys"]["app"]["keys"][0].to_string();
        AliceMint {
            path,
            claims: serde_json::from_str(&principal.claims).unwrap(),
            snapshot,
            signer: tollgate::SigningKey::from_jwk(jwk.as_bytes(), None).unwrap(),
        }
    }

    /// Alice's token with `jti`.
    fn with_jti(&self, jti: &str) -> String {
        let mut claims = self.claims.clone();
        claims["jti"] = jti.into();
        tollgate::mint::mint(&self.signer, claims.to_string().as_bytes(), None).unwrap()
    }
}

#[test]
fn a_reissued_token_keeps_its_jti_and_a_revoked_or_expired_one_is_not_reissued() {
    let (engine, table) = deployment("tenant-path");
    let alice = AliceMint::new(&engine, &table);
    let (path, snapshot) = (&alice.path, &alice.snapshot);
    let token = alice.with_jti("t-1");
    let check =
        |token: &str, now| engine.check(&Request::new("POST", path, &[("token", token)]), now);
    let decision = check(&token, table.now);
    assert!(decision.is_allowed(), "{}", decision.message);

    let fresh = engine.reissue(&decision, table.now + 10).unwrap();
    let d = check(&fresh, table.now + 10);
    assert!(d.is_allowed(), "{}", d.message);
    let fresh_claims: serde_json::Value =
        serde_json::from_str(&d.principal.unwrap().claims).unwrap();
    assert_eq!(fresh_claims["jti"], "t-1");
    assert_eq!(fresh_claims["iat"], table.now + 10);

    // Past the old token's expiry there is nothing to re-issue.
    let expires = alice.claims["exp"].as_u64().unwrap();
    let late = engine.reissue(&decision, expires).unwrap_err();
    assert_eq!(late.code(), ErrorCode::SigningFailed);
    assert!(late.to_string().contains("has expired"), "{late}");

    // Revoking the jti revokes the re-issued token too, and re-issuing stops.
    let mut revoking = snapshot.clone();
    revoking["revoked_jti"] = serde_json::json!(["t-1"]);
    engine
        .swap_snapshot_json(revoking.to_string().as_bytes())
        .unwrap();
    assert_eq!(check(&fresh, table.now + 10).code, ErrorCode::TokenRevoked);
    let revoked = engine.reissue(&decision, table.now + 10).unwrap_err();
    assert_eq!(revoked.code(), ErrorCode::SigningFailed);
    assert!(revoked.to_string().contains("revoked"), "{revoked}");
}

/// A compact token's header, decoded.
fn header_of(token: &str) -> serde_json::Value {
    let h = token.split('.').next().unwrap();
    serde_json::from_slice(&tollgate::base64url::decode(h.as_bytes()).unwrap()).unwrap()
}

/// Re-issuing signs with the first key of the provider's *current* set: after a rotation by
/// `swap_provider_keys` (a key source), never with a secret the snapshot document named and the
/// rotation retired.
#[test]
fn a_reissued_token_is_signed_with_the_providers_current_key() {
    let (engine, table) = deployment("tenant-path");
    let alice = AliceMint::new(&engine, &table);
    let decision = engine.check(
        &Request::new("POST", &alice.path, &[("token", &alice.with_jti("t-2"))]),
        table.now,
    );
    assert!(decision.is_allowed(), "{}", decision.message);
    let retired = alice.snapshot["keys"]["app"]["keys"][0].clone();
    let mut current = retired.clone();
    current["kid"] = "k-next".into();
    current["k"] = tollgate::base64url::encode(&[0x42; 32]).into();
    engine
        .swap_provider_keys(
            "app",
            std::sync::Arc::new(
                tollgate::KeySet::from_jwks(
                    serde_json::json!({ "keys": [current] })
                        .to_string()
                        .as_bytes(),
                )
                .unwrap(),
            ),
        )
        .unwrap();
    let fresh = engine.reissue(&decision, table.now + 10).unwrap();
    assert_eq!(header_of(&fresh)["kid"], "k-next");
    let d = engine.check(
        &Request::new("POST", &alice.path, &[("token", &fresh)]),
        table.now + 10,
    );
    assert!(d.is_allowed(), "{}", d.message);
    // A snapshot swapped in later does not bring the retired secret back to the signer either.
    engine
        .swap_snapshot_json(alice.snapshot.to_string().as_bytes())
        .unwrap();
    let again = engine.reissue(&decision, table.now + 20).unwrap();
    let d = engine.check(
        &Request::new("POST", &alice.path, &[("token", &again)]),
        table.now + 20,
    );
    assert!(d.is_allowed(), "{}", d.message);
}

/// The signer is the first key that may sign, of any of the provider's algorithms: a first key
/// of HS512 on an `[HS256, HS512]` provider (which once refused the snapshot) signs HS512, and a
/// key whose `key_ops` leave out "sign" is passed over.
#[test]
fn a_reissued_token_is_signed_by_the_first_key_that_may_sign() {
    let (base, table) = deployment("tenant-path");
    let alice = AliceMint::new(&base, &table);
    let mut policy = policy_of("tenant-path");
    policy["providers"][0]["algorithms"] = serde_json::json!(["HS256", "HS512"]);
    let engine = Engine::from_policy_json(policy.to_string().as_bytes()).unwrap();
    let alices_key = alice.snapshot["keys"]["app"]["keys"][0].clone();
    let hs512 = serde_json::json!({"kty": "oct", "alg": "HS512", "kid": "k-512",
        "k": tollgate::base64url::encode(&[0x51; 64])});
    let mut verify_only = hs512.clone();
    verify_only["kid"] = "k-verify-only".into();
    verify_only["key_ops"] = serde_json::json!(["verify"]);
    let load = |keys: Vec<&serde_json::Value>| {
        let mut snapshot = alice.snapshot.clone();
        snapshot["keys"]["app"] = serde_json::json!({ "keys": keys });
        engine.swap_snapshot_json(snapshot.to_string().as_bytes())
    };
    let decide = |token: &str, now| {
        engine.check(&Request::new("POST", &alice.path, &[("token", token)]), now)
    };
    load(vec![&verify_only, &hs512, &alices_key]).unwrap();
    let decision = decide(&alice.with_jti("t-3"), table.now);
    assert!(decision.is_allowed(), "{}", decision.message);
    let fresh = engine.reissue(&decision, table.now + 10).unwrap();
    assert_eq!(header_of(&fresh)["kid"], "k-512");
    assert_eq!(header_of(&fresh)["alg"], "HS512");
    let d = decide(&fresh, table.now + 10);
    assert!(d.is_allowed(), "{}", d.message);
    // With the verify-only key first, alice's HS256 key signs; with none that may sign,
    // re-issuing is refused.
    load(vec![&verify_only, &alices_key]).unwrap();
    assert_eq!(
        header_of(&engine.reissue(&decision, table.now + 10).unwrap())["alg"],
        "HS256"
    );
    load(vec![&verify_only]).unwrap();
    let refused = engine.reissue(&decision, table.now + 10).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::SigningFailed);
    assert!(
        refused.to_string().contains("no HMAC key that may sign"),
        "{refused}"
    );
}

/// A token whose `alg` its provider does not list is refused as `algorithm_mismatch` before any
/// key is looked up, whatever its signature: tenant-path's provider accepts HS256 only.
#[test]
fn a_token_of_an_algorithm_its_provider_does_not_list_is_algorithm_mismatch() {
    let (engine, table) = deployment("tenant-path");
    let alice = AliceMint::new(&engine, &table);
    for (alg, secret_len) in [
        (tollgate::Algorithm::HS384, 48),
        (tollgate::Algorithm::HS512, 64),
    ] {
        let signer = tollgate::SigningKey::hmac(alg, &vec![7; secret_len], Some("k")).unwrap();
        let token =
            tollgate::mint::mint(&signer, alice.claims.to_string().as_bytes(), None).unwrap();
        let d = engine.check(
            &Request::new("POST", &alice.path, &[("token", &token)]),
            table.now,
        );
        assert_eq!(
            (d.status, d.code),
            (401, ErrorCode::AlgorithmMismatch),
            "{alg}: {}",
            d.message
        );
        assert!(
            d.message
                .contains(&format!("provider \"app\" does not accept {alg}")),
            "{}",
            d.message
        );
    }
}

/// A re-issued token passes its provider's own checks: the `typ` it requires, a required `nbf`,
/// and a `max_lifetime` that `reissue_ttl` may not exceed.
#[test]
fn a_reissued_token_meets_its_providers_typ_nbf_and_lifetime() {
    let (base, table) = deployment("tenant-path");
    let alice = AliceMint::new(&base, &table);
    let mut policy = policy_of("tenant-path");
    policy["providers"][0]["typ"] = "at+jwt".into();
    policy["providers"][0]["required_claims"] = serde_json::json!(["exp", "iat", "sub", "nbf"]);
    let engine = Engine::from_policy_json(policy.to_string().as_bytes()).unwrap();
    engine
        .swap_snapshot_json(alice.snapshot.to_string().as_bytes())
        .unwrap();
    let mut claims = alice.claims.clone();
    claims["nbf"] = table.now.into();
    let token =
        tollgate::mint::mint(&alice.signer, claims.to_string().as_bytes(), Some("at+jwt")).unwrap();
    let check = |token: &str, now| {
        engine.check(&Request::new("POST", &alice.path, &[("token", token)]), now)
    };
    let decision = check(&token, table.now);
    assert!(decision.is_allowed(), "{}", decision.message);
    let fresh = engine.reissue(&decision, table.now + 10).unwrap();
    let d = check(&fresh, table.now + 10);
    assert!(d.is_allowed(), "{}", d.message);
    let claims: serde_json::Value = serde_json::from_str(&d.principal.unwrap().claims).unwrap();
    assert_eq!(claims["nbf"], table.now + 10);

    // A lifetime the provider refuses is refused when the policy is loaded.
    policy["providers"][0]["reissue_ttl"] = 601.into();
    assert_eq!(
        policy_error(policy),
        "providers[0].reissue_ttl: 601s is longer than max_lifetime (600s): \
         the provider would refuse every token it re-issues"
    );
}

#[test]
fn swaps_from_two_threads_never_undo_each_other() {
    // One thread swaps in a provider's keys again and again (a key refresher); another swaps in
    // whole snapshots, each revoking a new jti (the host). A provider-key swap that read the
    // snapshot before a host's swap and wrote after it would bring a revoked token back.
    let (engine, table) = deployment("tenant-path");
    let alice = AliceMint::new(&engine, &table);
    let (path, snapshot) = (&alice.path, &alice.snapshot);
    let keys = engine.current_snapshot().keys_of("app").unwrap().clone();
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut lost = Vec::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                engine.swap_provider_keys("app", keys.clone()).unwrap();
            }
        });
        for i in 0..400 {
            let jti = format!("jti-{i}");
            let mut document = snapshot.clone();
            document["revoked_jti"] = serde_json::json!([jti]);
            engine
                .swap_snapshot_json(document.to_string().as_bytes())
                .unwrap();
            let token = alice.with_jti(&jti);
            let d = engine.check(
                &Request::new("POST", path, &[("token", token.as_str())]),
                table.now,
            );
            if d.code != ErrorCode::TokenRevoked {
                lost.push((i, d.code));
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert!(
        lost.is_empty(),
        "revocations undone by a key swap: {lost:?}"
    );
}

#[test]
fn key_rotation_by_snapshot_swap_under_concurrent_checks() {
    let (engine, table) = deployment("tenant-path");
    let engine = Arc::new(engine);
    let (path, headers) = alice_request(&table);
    let with_key = example("tenant-path", "snapshot.json");
    let without_key = br#"{"keys": {}}"#.to_vec();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (engine, path, headers, stop) =
            (engine.clone(), path.clone(), headers.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let (mut allowed, mut refused) = (0, 0);
            while allowed + refused < 200 || !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let d = engine.check(&Request::new("POST", &path, &pairs), table.now);
                // Each check sees one snapshot: the key is there (200) or not (unknown kid).
                match d.code {
                    ErrorCode::Allowed => allowed += 1,
                    ErrorCode::UnknownKid => refused += 1,
                    other => panic!("decision from neither snapshot: {other}"),
                }
            }
            (allowed, refused)
        }));
    }
    for i in 0..200 {
        let doc = if i % 2 == 0 { &without_key } else { &with_key };
        engine.swap_snapshot_json(doc).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for w in workers {
        let (a, r) = w.join().unwrap();
        total += a + r;
    }
    assert!(total >= 800);
    // After the last swap (with the key) the token passes at once.
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert!(engine
        .check(&Request::new("POST", &path, &pairs), table.now)
        .is_allowed());
}

#[test]
fn unknown_routes_may_admit_any_authenticated_caller() {
    let mut p = policy_of("tenant-path");
    p["unknown_routes"] = "authenticated".into();
    let engine = Engine::from_policy_json(p.to_string().as_bytes()).unwrap();
    engine
        .swap_snapshot_json(&example("tenant-path", "snapshot.json"))
        .unwrap();
    let table = Table::from_json(&example("tenant-path", "scenarios.json")).unwrap();
    let token = &table.tokens["alice"];
    let d = engine.check(
        &Request::new("GET", "/anything/else", &[("token", token)]),
        table.now,
    );
    assert!(d.is_allowed());
    assert_eq!(d.route.as_deref(), Some("(unknown route)"));
    let d = engine.check(&Request::new("GET", "/anything/else", &[]), table.now);
    assert_eq!(d.code, ErrorCode::MissingCredentials);
    // A path a route names is not an unknown route under another method: bob, no member of A,
    // does not reach A's items with HEAD (served by the GET handler in many frameworks).
    for method in ["HEAD", "PATCH", "OPTIONS"] {
        let d = engine.check(
            &Request::new(
                method,
                "/api/tenants/A/items",
                &[("token", &table.tokens["bob"])],
            ),
            table.now,
        );
        assert_eq!(d.code, ErrorCode::RouteNotFound, "{method}: {}", d.message);
    }
}

fn all_cases() -> Vec<(&'static str, usize)> {
    [
        "project-oidc",
        "workspace-api",
        "service-accounts",
        "tenant-path",
    ]
    .iter()
    .flat_map(|d| {
        let n = Table::from_json(&example(d, "scenarios.json"))
            .unwrap()
            .cases
            .len();
        (0..n).map(move |i| (*d, i))
    })
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(64) })]

    /// Renaming headers to any letter case and reordering them never changes a decision.
    #[test]
    fn header_case_and_order_never_change_a_decision(
        pick in proptest::sample::select(all_cases()),
        flips in proptest::collection::vec(any::<bool>(), 64),
        rotate in 0usize..8,
    ) {
        let (name, i) = pick;
        let (engine, table) = deployment(name);
        let case = &table.cases[i];
        let headers = table.headers(case);
        let original = table.decide(&engine, case);
        let mut changed: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| {
                let name: String = n.chars().enumerate().map(|(j, c)| if flips[j % flips.len()] { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect();
                (name, v.clone())
            })
            .collect();
        if !changed.is_empty() {
            let k = rotate % changed.len();
            changed.rotate_left(k);
        }
        let pairs: Vec<(&str, &str)> = changed.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let again = engine.check(&Request::new(&case.request.method, &case.request.path, &pairs), table.now);
        prop_assert_eq!(again.status, original.status);
        prop_assert_eq!(again.code, original.code);
        prop_assert_eq!(again.principal.as_ref().map(|p| p.roles().map(str::to_owned).collect::<Vec<_>>()),
                        original.principal.as_ref().map(|p| p.roles().map(str::to_owned).collect::<Vec<_>>()));
    }

    /// A decision never says 200 without a principal unless the route is public, and never
    /// carries a principal whose permissions miss what the route requires.
    #[test]
    fn no_200_without_a_principal_off_public_routes(pick in proptest::sample::select(all_cases()), drop_header in any::<prop::sample::Index>()) {
        let (name, i) = pick;
        let (engine, table) = deployment(name);
        let case = &table.cases[i];
        let mut headers = table.headers(case);
        if !headers.is_empty() {
            headers.remove(drop_header.index(headers.len()));
        }
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let d = engine.check(&Request::new(&case.request.method, &case.request.path, &pairs), table.now);
        let public = engine.policy().router.at(&case.request.method, case.request.path.split('?').next().unwrap()).is_some_and(|m| m.route.public);
        if d.is_allowed() && !public {
            prop_assert!(d.principal.is_some());
        }
        if !d.is_allowed() {
            prop_assert!(d.forward_headers.is_empty());
        }
    }

    /// Adding a role to a user never removes a permission (nor turns an allow into a deny).
    #[test]
    fn adding_a_role_never_removes_a_permission(extra in proptest::sample::select(vec!["owner", "admin", "member", "viewer", "platform-admin"])) {
        let (engine, table) = deployment("project-oidc");
        let base: serde_json::Value = serde_json::from_slice(&example("project-oidc", "snapshot.json")).unwrap();
        let tenant = "6f1c2a7e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
        for case in table.cases.iter().filter(|c| c.name.starts_with("PAT")) {
            engine.swap_snapshot_json(base.to_string().as_bytes()).unwrap();
            let before = table.decide(&engine, case);
            let mut more = base.clone();
            for user in ["u-alice", "u-carol"] {
                more["users"][user]["tenants"][tenant].as_array_mut().unwrap().push(extra.into());
            }
            engine.swap_snapshot_json(more.to_string().as_bytes()).unwrap();
            let after = table.decide(&engine, case);
            if let (Some(b), Some(a)) = (&before.principal, &after.principal) {
                for perm in b.permissions() {
                    prop_assert!(a.has_permission(perm), "{} lost {perm} after gaining {extra}", case.name);
                }
            }
            if before.is_allowed() {
                prop_assert!(after.is_allowed(), "{} denied after gaining {extra}", case.name);
            }
        }
    }
}

/// Hostile policies: cycles of any length in the role hierarchy, routes that two entries claim
/// (the same method twice, overlapping method lists, the same path under other parameter
/// names), permissions nobody declared and names declared twice are all refused at load, and
/// the error says exactly where.
#[test]
fn hostile_policies_are_refused_at_load_with_the_exact_place() {
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "a role that inherits itself",
            Box::new(|p| p["roles"][1]["inherits"] = serde_json::json!(["billing-reader"])),
            r#"roles[1]: role hierarchy has a cycle: billing-reader -> billing-reader"#,
        ),
        (
            "a cycle through three roles",
            Box::new(|p| {
                p["roles"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({"name": "auditor", "inherits": ["billing-admin"]}));
                p["roles"][1]["inherits"] = serde_json::json!(["auditor"]);
            }),
            r#"roles[0]: role hierarchy has a cycle: billing-admin -> billing-reader -> auditor -> billing-admin"#,
        ),
        (
            "a role defined twice",
            Box::new(|p| {
                let dup = p["roles"][1].clone();
                p["roles"].as_array_mut().unwrap().push(dup);
            }),
            r#"roles[2]: role "billing-reader" is defined twice"#,
        ),
        (
            "a permission declared twice",
            Box::new(|p| {
                p["permissions"]
                    .as_array_mut()
                    .unwrap()
                    .push("invoices:read".into())
            }),
            r#"permissions[4]: permission "invoices:read" is declared twice"#,
        ),
        (
            "the same method twice in one route",
            Box::new(|p| p["routes"][3]["method"] = serde_json::json!(["POST", "POST"])),
            r#"routes[3].path: duplicate route: POST /v1/orgs/{org_id}/webhooks"#,
        ),
        (
            "overlapping method lists",
            Box::new(|p| {
                p["routes"].as_array_mut().unwrap().push(serde_json::json!({
                    "method": ["GET", "DELETE"], "path": "/v1/orgs/{org_id}/webhooks",
                    "tenant": true, "requires": ["webhooks:manage"]
                }))
            }),
            r#"routes[6].path: duplicate route: DELETE /v1/orgs/{org_id}/webhooks"#,
        ),
        (
            "the same path under another parameter name",
            Box::new(|p| {
                p["routes"].as_array_mut().unwrap().push(serde_json::json!({
                    "method": "PUT", "path": "/v1/orgs/{org}/invoices", "requires": []
                }))
            }),
            r#"routes[6].path: path "/v1/orgs/{org}/invoices": Insertion failed due to conflict with previously registered route: /v1/orgs/{org_id}/invoices"#,
        ),
        (
            "an auth scheme with a space in it (it could never match)",
            Box::new(|p| p["credentials"][0]["scheme"] = "Bearer x".into()),
            r#"credentials[0]: scheme "Bearer x" is not an auth scheme (a token: no spaces)"#,
        ),
        (
            "the same header and scheme in another case (every request would be ambiguous)",
            Box::new(|p| {
                p["credentials"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({
                        "name": "again", "header": "authorization", "scheme": "bearer"
                    }))
            }),
            r#"credentials[1]: another credential reads the same place"#,
        ),
        (
            "a header read with and without a scheme",
            Box::new(|p| {
                p["credentials"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({
                        "name": "raw", "header": "Authorization"
                    }))
            }),
            r#"credentials[1]: another credential reads the same place"#,
        ),
        (
            "a cookie name no Cookie header can carry",
            Box::new(|p| {
                p["credentials"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({
                        "name": "session", "cookie": "flow session"
                    }))
            }),
            r#"credentials[1]: cookie name "flow session" is not a token (no spaces, '=' or ';')"#,
        ),
        (
            "a parameter named twice in one path",
            Box::new(|p| {
                p["routes"].as_array_mut().unwrap().push(serde_json::json!({
                    "method": "PUT", "path": "/v1/copy/{org_id}/to/{org_id}", "requires": []
                }))
            }),
            r#"routes[6].path: path "/v1/copy/{org_id}/to/{org_id}" names the parameter {org_id} twice"#,
        ),
        (
            "a route naming the tenant parameter that does not say whether it is tenant-scoped",
            Box::new(|p| {
                p["routes"].as_array_mut().unwrap().push(serde_json::json!({
                    "method": "GET", "path": "/v1/orgs/{org_id}/summary", "requires": ["invoices:read"]
                }))
            }),
            r#"routes[6].tenant: the path names the tenant parameter {org_id}: say whether the route is tenant-scoped ("tenant": true, members only) or not ("tenant": false, any caller with the permissions, in every tenant)"#,
        ),
        (
            "a realm that would end its quoted string early",
            Box::new(|p| p["realm"] = "api\", error=\"x".into()),
            r#"realm: a realm is printable ASCII without '"' or '\' (it is quoted in WWW-Authenticate)"#,
        ),
        (
            "a permission that is no scope token",
            Box::new(|p| p["permissions"][0] = "invoices:\"read".into()),
            r#"permissions[0]: invalid permission name "invoices:\"read": a scope token (visible ASCII without spaces, '"' or '\')"#,
        ),
        (
            "a role name with a comma",
            Box::new(|p| p["roles"][0]["name"] = "reader,admin".into()),
            r#"roles[0].name: invalid role name "reader,admin": printable ASCII without ',' (roles are forwarded as a comma-separated list)"#,
        ),
        (
            "a header forwarded twice",
            Box::new(|p| {
                p["forward_headers"]["claims"] = serde_json::json!([
                    {"claim": "sub", "header": "X-Service_Account"}
                ])
            }),
            r#"forward_headers: "X-Service_Account" is forwarded twice (as "x-service-account" too)"#,
        ),
        (
            "an undeclared permission in an any-of group",
            Box::new(|p| p["routes"][4]["requires"][0][0] = "keys:manage-all".into()),
            r#"routes[4].requires[0][0]: unknown permission "keys:manage-all""#,
        ),
        (
            "an undeclared route provider",
            Box::new(|p| p["routes"][0]["providers"] = serde_json::json!(["sa-jwt", "oidc"])),
            r#"routes[0].providers[1]: unknown provider "oidc""#,
        ),
        (
            "a forwarded claim under a name that is no header name",
            Box::new(|p| {
                p["forward_headers"]["claims"] = serde_json::json!([
                    {"claim": "sub", "header": "x-sub"},
                    {"claim": "email", "header": "x-email\r\nx-admin: yes"}
                ])
            }),
            r#"forward_headers.claims[1].header: invalid header name"#,
        ),
    ];
    for (what, edit, want) in &cases {
        let mut p = base();
        edit(&mut p);
        assert_eq!(policy_error(p), *want, "{what}");
    }
    // Said either way, such a route loads.
    for tenant in [true, false] {
        let mut p = base();
        p["routes"].as_array_mut().unwrap().push(serde_json::json!({
            "method": "GET", "path": "/v1/orgs/{org_id}/summary", "tenant": tenant,
            "requires": ["invoices:read"]
        }));
        Engine::from_policy_json(p.to_string().as_bytes()).unwrap();
    }
    // The router panics past 26 parameters in a path: the limit comes first.
    let mut p = base();
    let path: String = (0..27).map(|i| format!("/{{p{i}}}")).collect();
    p["routes"].as_array_mut().unwrap().push(serde_json::json!({
        "method": "PUT", "path": format!("/many{path}"), "requires": []
    }));
    assert_eq!(
        policy_error(p),
        format!(
            r#"routes[6].path: path "/many{path}" has more than the limit of {} parameters"#,
            tollgate::routes::MAX_PARAMS
        )
    );
}

/// The names a host clears on every allowed request, in the order of the members. A name given
/// twice, in any case (or with `_` for `-`), is refused when the policy loads.
#[test]
fn forwarded_names_come_once_each() {
    let mut p = base();
    p["forward_headers"]["claims"] = serde_json::json!([
        {"claim": "email", "header": "x-email"},
        {"claim": "org", "header": "X-ORG-NAME"}
    ]);
    let engine = Engine::from_policy_json(p.to_string().as_bytes()).unwrap();
    assert_eq!(
        engine.policy().forward.names(),
        ["x-service-account", "x-org-id", "x-email", "X-ORG-NAME"]
    );
    p["forward_headers"]["claims"][1]["header"] = "X-ORG-ID".into();
    assert_eq!(
        policy_error(p),
        r#"forward_headers: "X-ORG-ID" is forwarded twice (as "x-org-id" too)"#
    );
}

/// The request of the named scenario case, as owned (name, value) pairs, and its path.
fn case_request(table: &Table, name: &str) -> (String, String, Vec<(String, String)>) {
    let case = table.cases.iter().find(|c| c.name == name).unwrap();
    (
        case.request.method.clone(),
        case.request.path.clone(),
        table.headers(case),
    )
}

#[test]
fn a_tenant_header_given_twice_is_refused_whichever_value_comes_first() {
    // Tenant confusion: a gateway or backend that reads the other copy of the header must not
    // see a different tenant than the one Tollgate authorised.
    let (engine, table) = deployment("project-oidc");
    let (method, path, headers) = case_request(&table, "viewer reads items in their project");
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert!(engine
        .check(&Request::new(&method, &path, &pairs), table.now)
        .is_allowed());
    let (_, project) = pairs
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-project-id"))
        .copied()
        .unwrap();
    let other = "00000000-0000-4000-8000-000000000000";
    for doubled in [[project, other], [other, project], [project, project]] {
        let mut with_two = pairs.clone();
        with_two.retain(|(n, _)| !n.eq_ignore_ascii_case("x-project-id"));
        with_two.push(("X-Project-ID", doubled[0]));
        with_two.push(("x-project-id", doubled[1]));
        let d = engine.check(&Request::new(&method, &path, &with_two), table.now);
        assert!(!d.is_allowed(), "{doubled:?}: {}", d.message);
        assert_eq!(
            (d.status, d.code),
            (400, ErrorCode::InvalidTenant),
            "{doubled:?}: {}",
            d.message
        );
    }
}

#[test]
fn a_path_tenant_is_never_taken_from_a_header_or_the_token() {
    // Tenant in the URL: alice is Admin in A only. A header naming A, or a claim, must not lend
    // her A's roles on B's or C's path.
    let (engine, table) = deployment("tenant-path");
    let (path, headers) = alice_request(&table);
    assert!(path.contains("/tenants/A/"), "{path}");
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    for tenant in ["C", "a", "A%2F..", "A/../C"] {
        let other = path.replacen("/tenants/A/", &format!("/tenants/{tenant}/"), 1);
        let mut with_header = pairs.clone();
        with_header.push(("X-Tenant-ID", "A"));
        with_header.push(("X-Project-ID", "A"));
        let d = engine.check(&Request::new("POST", &other, &with_header), table.now);
        assert!(!d.is_allowed(), "{other}: {}", d.message);
    }
    // A path tenant still percent-encoded (an upstream decodes `A%20B` to `A B`, and `%41` to
    // `A`) is refused, whatever the memberships: 400 invalid_tenant.
    for tenant in ["A%20B", "%41", "A%00"] {
        let other = path.replacen("/tenants/A/", &format!("/tenants/{tenant}/"), 1);
        let d = engine.check(&Request::new("POST", &other, &pairs), table.now);
        assert!(
            d.code == ErrorCode::InvalidTenant || d.code == ErrorCode::InvalidRequest,
            "{other}: {:?} {}",
            d.code,
            d.message
        );
        assert_eq!(d.status, 400, "{other}");
    }
}

/// The headers a decision forwards, as a map.
fn forwarded(d: &tollgate::Decision) -> std::collections::BTreeMap<String, String> {
    d.forward_headers.iter().cloned().collect()
}

/// Deployment `name`'s engine with its snapshot, its policy forwarding `claims` as headers.
fn forwarding_claims(name: &str, claims: serde_json::Value) -> Engine {
    let mut policy = policy_of(name);
    policy["forward_headers"]["claims"] = claims;
    let engine = Engine::from_policy_json(policy.to_string().as_bytes()).unwrap();
    engine
        .swap_snapshot_json(&example(name, "snapshot.json"))
        .unwrap();
    engine
}

/// Forwarded claim headers, hand-computed: strings unescaped as they are, arrays of strings
/// comma-separated (an array with an item that is no string, or that holds a comma of its own,
/// even escaped, is left out: it could not be told from other items), other JSON as its text, nested
/// paths followed, missing claims and values with control characters left out. A token's claims are forwarded from the
/// read the check already made; an API key's from its record's text: both give the same.
#[test]
fn forwarded_claim_headers_are_hand_computed_values() {
    let engine = forwarding_claims(
        "tenant-path",
        serde_json::json!([
            {"claim": "name", "header": "x-name"},
            {"claim": "groups", "header": "x-groups"},
            {"claim": "mixed", "header": "x-mixed"},
            {"claim": "level", "header": "x-level"},
            {"claim": ["org", "id"], "header": "x-org"},
            {"claim": "org", "header": "x-org-json"},
            {"claim": "note", "header": "x-note"},
            {"claim": "absent", "header": "x-absent"},
            {"claim": "teams", "header": "x-teams"},
            {"claim": "teams_escaped", "header": "x-teams-escaped"},
        ]),
    );
    let snapshot: serde_json::Value =
        serde_json::from_slice(&example("tenant-path", "snapshot.json")).unwrap();
    let jwk = &snapshot["keys"]["app"]["keys"][0];
    let secret = tollgate::base64url::decode(jwk["k"].as_str().unwrap().as_bytes()).unwrap();
    let key = tollgate::SigningKey::hmac(
        tollgate::Algorithm::HS256,
        &secret,
        Some(jwk["kid"].as_str().unwrap()),
    )
    .unwrap();
    let now = 1_767_225_600u64;
    // Written by hand so that the escapes reach the engine as they are.
    let claims = format!(
        r#"{{"iss":"https://app.example","sub":"alice","iat":{now},"exp":{},"tenants":{{"A":["Viewer"]}},"name":"Ren\u00e9e \"R\"","groups":["a\/b","c","d"],"mixed":["a",7],"level":3.50,"org":{{"id":"o_1","tier":null}},"note":"line\nbreak","teams":["eng,admin"],"teams_escaped":["eng","ops\u002cadmin"]}}"#,
        now + 60
    );
    let token = tollgate::mint(&key, claims.as_bytes(), Some("JWT")).unwrap();
    let d = engine.check(
        &Request::new("GET", "/api/tenants/A/items", &[("token", &token)]),
        now,
    );
    assert!(d.is_allowed(), "{}", d.message);
    let want: std::collections::BTreeMap<String, String> = [
        ("x-auth-subject", "alice"),
        ("x-auth-tenant", "A"),
        ("x-auth-roles", "Viewer"),
        ("x-name", "Renée \"R\""),
        ("x-groups", "a/b,c,d"),
        ("x-level", "3.50"),
        ("x-org", "o_1"),
        ("x-org-json", r#"{"id":"o_1","tier":null}"#),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(forwarded(&d), want);

    // An API key: its record's members (the record minus its hash) are its claims.
    let engine = forwarding_claims(
        "service-accounts",
        serde_json::json!([
            {"claim": "owner", "header": "x-owner"},
            {"claim": "scopes", "header": "x-scopes"},
            {"claim": "hash", "header": "x-hash"},
        ]),
    );
    let table = Table::from_json(&example("service-accounts", "scenarios.json")).unwrap();
    let key = table.tokens["key-reader"].clone();
    let bearer = format!("Bearer {key}");
    let d = engine.check(
        &Request::new(
            "GET",
            "/v1/orgs/org_1/invoices",
            &[("Authorization", &bearer)],
        ),
        table.now,
    );
    assert!(d.is_allowed(), "{}", d.message);
    let got = forwarded(&d);
    assert_eq!(got.get("x-owner").map(String::as_str), Some("sa_reports"));
    assert_eq!(
        got.get("x-scopes").map(String::as_str),
        Some("invoices:read")
    );
    assert_eq!(got.get("x-hash"), None, "a record's hash is never a claim");
}

#[test]
fn a_header_spelled_with_underscores_for_one_the_policy_reads_or_forwards_is_refused() {
    // CGI, FastCGI, Rack and gunicorn read `X_Project_ID` and `X-Project-ID` as one variable
    // (`HTTP_X_PROJECT_ID`); Envoy, Caddy and Traefik pass both on. Tollgate reads only the
    // dashed one, so the upstream could see another tenant, user or credential than the one
    // Tollgate checked.
    let (engine, table) = deployment("project-oidc");
    let (method, path, headers) = case_request(&table, "viewer reads items in their project");
    let check = |extra: (&str, &str)| {
        let mut h: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        h.push(extra);
        let d = engine.check(&Request::new(&method, &path, &h), table.now);
        (d.code, d.message)
    };
    for (name, guarded) in [
        ("X_Project_ID", "x-project-id"), // the tenant header
        ("x_user_id", "x-user-id"),       // a forwarded header
        ("X-User_Email", "x-user-email"), // a forwarded claim header
    ] {
        let (code, message) = check((name, "0b6f1a4e-3c5d-4e8f-9a1b-2c3d4e5f6a7b"));
        assert_eq!(code, ErrorCode::InvalidRequest, "{name}: {message}");
        assert_eq!(
            message,
            format!(
                "header {name:?} is {guarded:?} spelled with underscores: an upstream that reads \
                 headers as CGI variables would take it for that one"
            )
        );
    }
    // Headers the policy neither reads nor forwards may have underscores.
    assert_eq!(check(("x_trace", "1")).0, ErrorCode::Allowed);
}

/// Express (by default), Spring before 6 and ASP.NET route `/items/` and `/Items` as `/items`. A
/// spelling that Tollgate would match to a public route, or to none under `unknown_routes:
/// "authenticated"`, or to another protected route, must not reach such an upstream as the
/// protected route it folds to.
#[test]
fn another_spelling_of_a_protected_route_is_refused() {
    let (_, table) = deployment("tenant-path");
    let (_, path, headers) = case_request(&table, "Admin in A writes items in A");
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut p = policy_of("tenant-path");
        edit(&mut p);
        let e = Engine::from_policy_json(p.to_string().as_bytes()).unwrap();
        e.swap_snapshot_json(&example("tenant-path", "snapshot.json"))
            .unwrap();
        e
    };
    let decide = |e: &Engine, method: &str, path: &str, h: &[(&str, &str)]| {
        let d = e.check(&Request::new(method, path, h), table.now);
        (d.code, d.message)
    };
    let folded = |template: &str| {
        (
            ErrorCode::InvalidRequest,
            format!(
                "the path is {template} spelled in another letter case or with a trailing \
                 slash: an upstream that folds paths would serve that route"
            ),
        )
    };
    let items = "/api/tenants/{tenant_id}/items";
    // A public catch-all (a single-page app's assets) beside the API.
    let spa = with(&|p| {
        p["routes"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"method": "GET", "path": "/{*asset}", "public": true}));
    });
    assert_eq!(
        decide(&spa, "GET", &path, &[]).0,
        ErrorCode::MissingCredentials
    );
    for spelled in [format!("{path}/"), path.replace("items", "Items")] {
        assert_eq!(
            decide(&spa, "GET", &spelled, &[]),
            folded(items),
            "{spelled}"
        );
    }
    assert_eq!(
        decide(&spa, "GET", "/favicon.ico", &[]).0,
        ErrorCode::Allowed
    );
    assert_eq!(decide(&spa, "GET", "/Logo.PNG", &[]).0, ErrorCode::Allowed);
    // Unknown routes admitted for any authenticated caller: no tenant check there.
    let lenient = with(&|p| p["unknown_routes"] = "authenticated".into());
    assert_eq!(
        decide(&lenient, "GET", &path, &headers).0,
        ErrorCode::Allowed
    );
    assert_eq!(
        decide(&lenient, "GET", &format!("{path}/"), &headers),
        folded(items)
    );
    // HEAD, which the template has no route for and many frameworks serve as GET.
    assert_eq!(
        decide(&lenient, "HEAD", &path.replace("items", "Items"), &headers),
        folded(items)
    );
    // A static route beside a parameter: `/EXPORT` is a setting here and the export folded.
    let export = with(&|p| {
        p["routes"].as_array_mut().unwrap().push(serde_json::json!({
            "method": "GET", "path": "/api/tenants/{tenant_id}/export", "tenant": true,
            "requires": ["items:write"]
        }));
        p["routes"].as_array_mut().unwrap().push(serde_json::json!({
            "method": "GET", "path": "/api/tenants/{tenant_id}/{section}", "tenant": true,
            "requires": ["items:read"]
        }));
    });
    let upper = path.replace("items", "EXPORT");
    assert_eq!(
        decide(&export, "GET", &upper, &headers),
        folded("/api/tenants/{tenant_id}/export")
    );
    assert_eq!(
        decide(&export, "GET", &path.replace("items", "export"), &headers).0,
        ErrorCode::Allowed
    );
    // A path already folded may still name a template that folds to it: a trailing-slash
    // protected route beside a public catch-all, or `/admin` against `/Admin/Users`.
    let slash = with(&|p| {
        let routes = p["routes"].as_array_mut().unwrap();
        routes.push(serde_json::json!({"method": "GET", "path": "/{*asset}", "public": true}));
        routes.push(serde_json::json!({"method": "GET", "path": "/api/reports/", "requires": ["items:read"]}));
        routes.push(serde_json::json!({"method": "GET", "path": "/Admin/Users", "requires": ["items:write"]}));
    });
    assert_eq!(
        decide(&slash, "GET", "/api/reports", &[]),
        folded("/api/reports/")
    );
    assert_eq!(
        decide(&slash, "GET", "/admin/users", &[]),
        folded("/Admin/Users")
    );
    // Text around a parameter: `/avatars/bob.JSON` is the public avatar here and the protected
    // `.json` folded.
    let suffix = with(&|p| {
        let routes = p["routes"].as_array_mut().unwrap();
        routes
            .push(serde_json::json!({"method": "GET", "path": "/avatars/{user}", "public": true}));
        routes.push(serde_json::json!({"method": "GET", "path": "/avatars/{user}.json", "requires": ["items:read"]}));
    });
    assert_eq!(
        decide(&suffix, "GET", "/avatars/bob", &[]).0,
        ErrorCode::Allowed
    );
    assert_eq!(
        decide(&suffix, "GET", "/avatars/bob.JSON", &[]),
        folded("/avatars/{user}.json")
    );
    // A method the folded template has no route for is not refused (but HEAD, run as GET).
    assert_eq!(
        decide(&suffix, "POST", "/avatars/bob.JSON", &[]).0,
        ErrorCode::RouteNotFound
    );
    // Two routes that differ only by letter case or a trailing slash are refused when loaded.
    for (first, second) in [("/v1/Docs", "/v1/docs"), ("/v1/docs/", "/v1/docs")] {
        let mut p = base();
        let routes = p["routes"].as_array_mut().unwrap();
        routes.push(serde_json::json!({"method": "GET", "path": first, "public": true}));
        routes.push(
            serde_json::json!({"method": "POST", "path": second, "requires": ["invoices:write"]}),
        );
        let message = policy_error(p);
        assert!(
            message.contains(&format!(
                "path {second:?} is another route's once letters are lowercased and a trailing \
                 slash dropped"
            )),
            "{message}"
        );
    }
}

#[test]
fn a_second_bearer_token_behind_a_tab_is_a_second_credential() {
    // An upstream reading `/^Bearer\s+/i` from the first Authorization header would take the
    // forged token; Tollgate must count it, not verify the other one and allow.
    let (engine, table) = deployment("project-oidc");
    let (method, path, headers) = case_request(&table, "viewer reads items in their project");
    let token = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.strip_prefix("Bearer ").unwrap().to_owned())
        .unwrap();
    let others: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("authorization"))
        .cloned()
        .collect();
    let check = |auth: &[String]| {
        let mut h: Vec<(&str, &str)> = others
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        h.extend(auth.iter().map(|v| ("Authorization", v.as_str())));
        engine
            .check(&Request::new(&method, &path, &h), table.now)
            .code
    };
    // One credential, whatever the spaces or tabs after the scheme and its case.
    for spelled in [
        format!("Bearer {token}"),
        format!("bearer\t{token}"),
        format!("BEARER \t {token}"),
    ] {
        assert_eq!(
            check(std::slice::from_ref(&spelled)),
            ErrorCode::Allowed,
            "{spelled:?}"
        );
    }
    // Two, however the first is spelled.
    for forged in [
        "Bearer\tforged.token.value",
        "bearer  forged",
        "Bearer \tforged",
    ] {
        assert_eq!(
            check(&[forged.to_owned(), format!("Bearer {token}")]),
            ErrorCode::AmbiguousCredentials,
            "{forged:?}"
        );
    }
}
