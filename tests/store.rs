//! Records in a shared store: `Engine::check_step` / `resume` driven by an in-memory store, against
//! the four deployments' tables, and the faults: a store that does not answer, bad records,
//! revocation and invalidation, the record cache.

use proptest::prelude::*;
use std::collections::HashMap;
use std::path::PathBuf;
use tollgate::pending::Step;
use tollgate::record::{self, SessionRecord, StoredRecord, UserRolesRecord};
use tollgate::scenario::Table;
use tollgate::{Decision, Engine, ErrorCode, RecordKind, RecordLookup, Request};

const DEPLOYMENTS: [&str; 4] = [
    "project-oidc",
    "workspace-api",
    "service-accounts",
    "tenant-path",
];

fn example(name: &str, file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A store in memory: what it holds, what it was asked, and whether it answers.
#[derive(Default)]
struct Store {
    records: HashMap<String, Vec<u8>>,
    asked: Vec<String>,
    down: bool,
}

impl Store {
    fn put(&mut self, r: &StoredRecord) {
        self.records
            .insert(r.lookup.store_key(), r.json.clone().into_bytes());
    }

    /// Runs a check to its decision, answering every pending step from this store.
    fn decide(&mut self, engine: &Engine, request: &Request<'_>, now: u64) -> Decision {
        let mut step = engine.check_step(request, now);
        loop {
            match step {
                Step::Decided(d) => return d,
                Step::Pending(p) => {
                    let key = p.lookup().store_key();
                    self.asked.push(key.clone());
                    if self.down {
                        return engine.resume_unavailable(p, now);
                    }
                    let answer = self.records.get(&key).cloned();
                    step = engine.resume(p, answer.as_deref(), now);
                }
            }
        }
    }
}

/// The policy with every provider's records in the store.
fn store_policy(policy: &[u8], extra: &[(&str, serde_json::Value)]) -> Vec<u8> {
    let mut doc: serde_json::Value = serde_json::from_slice(policy).unwrap();
    for p in doc["providers"].as_array_mut().unwrap() {
        p["records"] = "store".into();
    }
    for (k, v) in extra {
        doc[*k] = v.clone();
    }
    doc.to_string().into_bytes()
}

/// A deployment twice: as shipped (records in the snapshot), and with its records moved to a
/// store. Returns (snapshot engine, store engine, store, table).
fn deployment(name: &str, extra: &[(&str, serde_json::Value)]) -> (Engine, Engine, Store, Table) {
    let policy = example(name, "policy.json");
    let snapshot = example(name, "snapshot.json");
    let plain = Engine::from_policy_json(&policy).unwrap();
    plain.swap_snapshot_json(&snapshot).unwrap();
    let stored = Engine::from_policy_json(&store_policy(&policy, extra)).unwrap();
    let (rest, records) = record::split_snapshot(&snapshot).unwrap();
    stored.swap_snapshot_json(rest.as_bytes()).unwrap();
    let mut store = Store::default();
    for r in &records {
        store.put(r);
    }
    let table = Table::from_json(&example(name, "scenarios.json")).unwrap();
    (plain, stored, store, table)
}

fn with_request<T>(
    table: &Table,
    case: &tollgate::scenario::Case,
    f: impl FnOnce(&Request<'_>) -> T,
) -> T {
    let headers = table.headers(case);
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    f(&Request::new(
        &case.request.method,
        &case.request.path,
        &pairs,
    ))
}

#[test]
fn the_four_deployments_decide_the_same_with_their_records_in_a_store() {
    let mut lookups = 0;
    for name in DEPLOYMENTS {
        let (plain, stored, mut store, table) = deployment(name, &[]);
        for case in &table.cases {
            let (want, got) = with_request(&table, case, |r| {
                (
                    plain.check(r, table.now),
                    store.decide(&stored, r, table.now),
                )
            });
            case.expect
                .check(&got)
                .unwrap_or_else(|e| panic!("{name}: {}: {e}", case.name));
            assert_eq!(got.to_json(), want.to_json(), "{name}: {}", case.name);
        }
        // Every record was asked for by kind and hash, never by anything the caller sent.
        for key in &store.asked {
            assert!(RecordLookup::from_store_key(key).is_some(), "{key}");
        }
        lookups += store.asked.len();

        // Warm: within the cache TTL every case decides without the store, also through the
        // plain check, and the same way.
        let asked = store.asked.len();
        for case in &table.cases {
            with_request(&table, case, |r| {
                let step = stored.check_step(r, table.now + 4);
                let d = step
                    .decided()
                    .unwrap_or_else(|| panic!("{name}: {} went pending when warm", case.name));
                let again = stored.check(r, table.now + 4);
                assert_eq!(d.to_json(), again.to_json(), "{name}: {}", case.name);
            });
        }
        assert_eq!(store.asked.len(), asked);
    }
    // project-oidc's personal access tokens, revoked jti and service-accounts' keys need records.
    assert!(lookups >= 10, "{lookups}");
}

#[test]
fn with_every_record_in_the_snapshot_a_check_never_goes_pending() {
    for name in DEPLOYMENTS {
        let (plain, _, _, table) = deployment(name, &[]);
        for case in &table.cases {
            with_request(&table, case, |r| {
                let d = plain
                    .check_step(r, table.now)
                    .decided()
                    .unwrap_or_else(|| panic!("{name}: {} went pending", case.name));
                assert_eq!(d.to_json(), plain.check(r, table.now).to_json());
            });
        }
    }
}

#[test]
fn a_personal_access_token_asks_for_its_key_record_then_its_users_roles() {
    let (_, stored, mut store, table) = deployment("project-oidc", &[]);
    let case = table
        .cases
        .iter()
        .find(|c| {
            c.expect.status == 200 && c.expect.kind.as_deref() == Some("personal_access_token")
        })
        .expect("a PAT case that is allowed");
    let d = with_request(&table, case, |r| store.decide(&stored, r, table.now));
    assert_eq!(d.status, 200, "{}", d.message);
    let kinds: Vec<_> = store
        .asked
        .iter()
        .map(|k| RecordLookup::from_store_key(k).unwrap().kind())
        .collect();
    assert_eq!(kinds, [RecordKind::ApiKey, RecordKind::User]);
}

#[test]
fn without_a_host_a_record_not_in_the_cache_is_store_unavailable() {
    let (engine, _, table, i, _) = api_key_case(&[]);
    let d = with_request(&table, &table.cases[i], |r| engine.check(r, table.now));
    assert_eq!(
        (d.status, d.code),
        (503, ErrorCode::StoreUnavailable),
        "{}",
        d.message
    );
    assert!(d.message.contains("Engine::check_step"), "{}", d.message);
}

/// service-accounts' first allowed API-key case, its store key and the store engine.
fn api_key_case(extra: &[(&str, serde_json::Value)]) -> (Engine, Store, Table, usize, String) {
    let (_, stored, mut store, table) = deployment("service-accounts", extra);
    for (i, case) in table.cases.iter().enumerate() {
        if case.expect.status != 200 {
            continue;
        }
        store.asked.clear();
        with_request(&table, case, |r| store.decide(&stored, r, table.now));
        if let Some(key) = store
            .asked
            .iter()
            .find(|k| k.starts_with("tollgate:api_key:"))
            .cloned()
        {
            let fresh = Engine::from_policy_json(&store_policy(
                &example("service-accounts", "policy.json"),
                extra,
            ))
            .unwrap();
            let (rest, _) =
                record::split_snapshot(&example("service-accounts", "snapshot.json")).unwrap();
            fresh.swap_snapshot_json(rest.as_bytes()).unwrap();
            store.asked.clear();
            return (fresh, store, table, i, key);
        }
    }
    panic!("no allowed API-key case");
}

#[test]
fn a_store_that_does_not_answer_fails_closed_and_recovers_without_a_restart() {
    let (engine, mut store, table, i, _) = api_key_case(&[]);
    let case = &table.cases[i];
    store.down = true;
    let d = with_request(&table, case, |r| store.decide(&engine, r, table.now));
    assert_eq!(
        (d.status, d.code),
        (503, ErrorCode::StoreUnavailable),
        "{}",
        d.message
    );
    assert!(
        d.message.contains("the store did not answer"),
        "{}",
        d.message
    );
    store.down = false;
    let d = with_request(&table, case, |r| store.decide(&engine, r, table.now));
    assert_eq!(d.status, 200, "{}", d.message);
    // Cached for the TTL (5 s): the store is not asked, up or down.
    store.down = true;
    store.asked.clear();
    let d = with_request(&table, case, |r| store.decide(&engine, r, table.now + 4));
    assert_eq!(d.status, 200);
    assert!(store.asked.is_empty());
    // Past the TTL, without a grace period: 503 again.
    let d = with_request(&table, case, |r| store.decide(&engine, r, table.now + 5));
    assert_eq!(d.status, 503);
}

#[test]
fn a_grace_period_serves_records_that_exist_and_never_invents_one() {
    let grace = serde_json::json!({"cache_ttl": 5, "grace": 60});
    let (engine, mut store, table, i, _) = api_key_case(&[("store", grace)]);
    let case = &table.cases[i];
    assert_eq!(
        with_request(&table, case, |r| store.decide(&engine, r, table.now)).status,
        200
    );
    store.down = true;
    let d = with_request(&table, case, |r| store.decide(&engine, r, table.now + 30));
    assert_eq!(d.status, 200, "{}", d.message);
    let d = with_request(&table, case, |r| store.decide(&engine, r, table.now + 65));
    assert_eq!(d.status, 503, "{}", d.message);

    // A key the store said does not exist is not assumed to exist when the store goes down.
    store.down = false;
    let key = tollgate::apikey::generate("fln_live", "sa-x", &tollgate::apikey::Hashing::Sha256, 0)
        .unwrap();
    let headers = [("Authorization", format!("Bearer {}", key.key))];
    let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let req = Request::new(&case.request.method, &case.request.path, &pairs);
    let d = store.decide(&engine, &req, table.now);
    assert_eq!(d.code, ErrorCode::UnknownApiKey, "{}", d.message);
    store.down = true;
    let d = store.decide(&engine, &req, table.now + 30);
    assert_eq!(d.code, ErrorCode::StoreUnavailable, "{}", d.message);
}

#[test]
fn a_revocation_is_seen_after_the_invalidation_message() {
    let (engine, mut store, table, i, key) = api_key_case(&[]);
    let case = &table.cases[i];
    assert_eq!(
        with_request(&table, case, |r| store.decide(&engine, r, table.now)).status,
        200
    );
    // Revoke: overwrite the record, then announce its key.
    let mut doc: serde_json::Value = serde_json::from_slice(&store.records[&key]).unwrap();
    doc["revoked"] = true.into();
    store
        .records
        .insert(key.clone(), doc.to_string().into_bytes());
    // Until the message arrives the cached record stands (for at most the TTL)…
    assert_eq!(
        with_request(&table, case, |r| store.decide(&engine, r, table.now + 1)).status,
        200
    );
    // …and after it, the very next check reads the revoked record.
    engine.invalidate_store_key(&key).unwrap();
    let d = with_request(&table, case, |r| store.decide(&engine, r, table.now + 1));
    assert_eq!(d.code, ErrorCode::ApiKeyRevoked, "{}", d.message);
    // `*` drops everything: the next check asks the store again.
    let d = with_request(&table, case, |r| store.decide(&engine, r, table.now + 1));
    assert_eq!(d.code, ErrorCode::ApiKeyRevoked);
    store.asked.clear();
    engine.invalidate_store_key("*").unwrap();
    let d = with_request(&table, case, |r| store.decide(&engine, r, table.now + 1));
    assert_eq!(d.code, ErrorCode::ApiKeyRevoked);
    assert_eq!(
        store.asked,
        std::slice::from_ref(&key),
        "asked again after *"
    );
    // Anything else is refused with a clear message.
    let e = engine
        .invalidate_store_key("tollgate:api_key:xyz")
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    assert!(e.to_string().contains("not a store key"), "{e}");
}

#[test]
fn bad_records_are_refused_with_a_clear_reason_and_never_cached() {
    let (engine, mut store, table, i, key) = api_key_case(&[]);
    let case = &table.cases[i];
    let good: serde_json::Value = serde_json::from_slice(&store.records[&key]).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string().into_bytes()
    };
    let text = String::from_utf8(store.records[&key].clone()).unwrap();
    let other =
        tollgate::apikey::generate("fln_live", "sa-x", &tollgate::apikey::Hashing::Sha256, 0)
            .unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a newer version", edit(&|v| v["v"] = 2.into()), "version 2"),
        (
            "a version as a string",
            edit(&|v| v["v"] = "1".into()),
            "version \"1\"",
        ),
        (
            "no version",
            edit(&|v| {
                v.as_object_mut().unwrap().remove("v");
            }),
            "\"v\"",
        ),
        (
            "another kind",
            edit(&|v| v["record"] = "session".into()),
            "answered a \"session\" record",
        ),
        (
            "truncated",
            text.as_bytes()[..text.len() / 2].to_vec(),
            "not a strict JSON object",
        ),
        (
            "a duplicate member",
            text.replacen('{', "{\"owner\":\"root\",", 1).into_bytes(),
            "not a strict JSON object",
        ),
        (
            "an unknown member",
            edit(&|v| v["admin"] = true.into()),
            "unknown field `admin`",
        ),
        (
            "an unknown role",
            edit(&|v| v["roles"] = serde_json::json!(["superuser"])),
            "unknown role \"superuser\"",
        ),
        (
            "another key's record",
            edit(&|v| v["hash"] = other.record.hash.clone().into()),
            "not the key it was stored under",
        ),
        ("an array", b"[1]".to_vec(), "not a strict JSON object"),
        (
            "too large",
            edit(&|v| v["hint"] = "x".repeat(70_000).into()),
            "more than the limit of 65536",
        ),
    ];
    for (what, bytes, says) in cases {
        store.records.insert(key.clone(), bytes);
        store.asked.clear();
        let d = with_request(&table, case, |r| store.decide(&engine, r, table.now));
        assert_eq!(
            (d.status, d.code),
            (500, ErrorCode::InvalidRecord),
            "{what}: {}",
            d.message
        );
        assert!(d.message.contains(says), "{what}: {}", d.message);
        // Not cached: the next check asks again.
        store.asked.clear();
        with_request(&table, case, |r| store.decide(&engine, r, table.now));
        assert_eq!(store.asked, std::slice::from_ref(&key), "{what}");
    }
}

const SESSION_POLICY: &str = r#"{
  "version": 1,
  "credentials": [{"name": "session", "cookie": "flow_session"}],
  "providers": [
    {"name": "flow", "type": "session", "credentials": ["session"], "records": "store"},
    {"name": "flow-live", "type": "session", "credentials": ["live"], "records": "store",
     "roles_from_record": ["user"]}
  ],
  "tenant": {"header": "X-Project-ID"},
  "permissions": ["read", "write"],
  "roles": [{"name": "viewer", "grants": ["read"]},
            {"name": "editor", "inherits": ["viewer"], "grants": ["write"]}],
  "routes": [{"method": "GET", "path": "/projects/items", "tenant": true, "requires": ["read"]},
             {"method": "POST", "path": "/projects/items", "tenant": true, "requires": ["write"]}]
}"#;

fn session_engine() -> Engine {
    let mut doc: serde_json::Value = serde_json::from_str(SESSION_POLICY).unwrap();
    doc["credentials"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "live", "cookie": "flow_live"}));
    Engine::from_policy_json(doc.to_string().as_bytes()).unwrap()
}

fn session_request<'a>(method: &'a str, headers: &'a [(&'a str, &'a str)]) -> Request<'a> {
    Request::new(method, "/projects/items", headers)
}

#[test]
fn sessions_come_from_a_cookie_and_their_record_in_the_store() {
    let engine = session_engine();
    let mut store = Store::default();
    let now = 1_000_000;
    let session = |expires, revoked| SessionRecord {
        subject: "u-alice".into(),
        kind: tollgate::PrincipalKind::User,
        provider: Some("flow".into()),
        expires,
        created: Some(now - 60),
        roles: vec![],
        tenants: [
            ("A".to_owned(), vec!["editor".to_owned()]),
            ("B".to_owned(), vec!["viewer".to_owned()]),
        ]
        .into(),
        revoked,
    };
    for (id, record) in [
        ("s-live", session(now + 3600, false)),
        ("s-old", session(now, false)),
        ("s-out", session(now + 3600, true)),
    ] {
        store.put(&StoredRecord::session(id, None, &record).unwrap());
    }
    let check = |store: &mut Store, method: &str, id: &str, tenant: &str| {
        let cookie = format!("theme=dark; flow_session={id}");
        let headers = [("Cookie", cookie.as_str()), ("X-Project-ID", tenant)];
        store.decide(&engine, &session_request(method, &headers), now)
    };
    let d = check(&mut store, "POST", "s-live", "A");
    assert_eq!(d.status, 200, "{}", d.message);
    let p = d.principal.as_ref().unwrap();
    assert_eq!(
        (p.subject.as_str(), p.kind.name(), p.provider()),
        ("u-alice", "user", "flow")
    );
    assert_eq!(p.roles().collect::<Vec<_>>(), ["viewer", "editor"]);
    assert_eq!(p.expires_at, Some((now + 3600) as f64));
    assert_eq!(check(&mut store, "GET", "s-live", "B").status, 200);
    let d = check(&mut store, "POST", "s-live", "B");
    assert_eq!(d.code, ErrorCode::InsufficientPermissions);
    assert_eq!(
        check(&mut store, "GET", "s-live", "C").code,
        ErrorCode::TenantForbidden
    );
    assert_eq!(
        check(&mut store, "GET", "s-old", "A").code,
        ErrorCode::SessionExpired
    );
    assert_eq!(
        check(&mut store, "GET", "s-out", "A").code,
        ErrorCode::SessionRevoked
    );
    assert_eq!(
        check(&mut store, "GET", "s-none", "A").code,
        ErrorCode::UnknownSession
    );
    let long = "x".repeat(record::MAX_SESSION_ID_LEN + 1);
    let d = check(&mut store, "GET", &long, "A");
    assert_eq!(d.code, ErrorCode::UnknownSession);
    assert!(
        d.message.contains("more than the limit of 512"),
        "{}",
        d.message
    );
    // A session names the provider that issued it: under another provider's cookie it is
    // unknown. Without a name (this policy has two session providers), or with a name the
    // policy does not know, the record is invalid.
    let d = store.decide(
        &engine,
        &session_request(
            "GET",
            &[("Cookie", "flow_live=s-live"), ("X-Project-ID", "A")],
        ),
        now,
    );
    assert_eq!(d.code, ErrorCode::UnknownSession, "{}", d.message);
    assert_eq!(d.message, "the session was issued by another provider");
    for (id, provider, says) in [
        (
            "s-anon",
            None,
            "names no provider, and the policy has several session providers",
        ),
        (
            "s-other",
            Some("flow-test"),
            r#"provider: the policy has no session provider "flow-test""#,
        ),
    ] {
        let mut record = session(now + 3600, false);
        record.provider = provider.map(str::to_owned);
        store.put(&StoredRecord::session(id, None, &record).unwrap());
        let d = check(&mut store, "GET", id, "A");
        assert_eq!((d.status, d.code), (500, ErrorCode::InvalidRecord), "{id}");
        assert!(d.message.contains(says), "{id}: {}", d.message);
    }
    // A session cookie given twice is two credentials, in one header as in two.
    for headers in [
        &[(
            "Cookie",
            "flow_session=s-out; theme=dark; flow_session=s-live",
        )][..],
        &[
            ("Cookie", "flow_session=s-out"),
            ("Cookie", "flow_session=s-live"),
        ],
    ] {
        let mut headers = headers.to_vec();
        headers.push(("X-Project-ID", "A"));
        let d = store.decide(&engine, &session_request("GET", &headers), now);
        assert_eq!(d.code, ErrorCode::AmbiguousCredentials, "{headers:?}");
        assert_eq!(d.status, 400);
    }
    // The session id itself was never a store key: only its SHA-256.
    assert!(store.asked.iter().all(|k| !k.contains("s-live")));
    assert!(store
        .asked
        .contains(&RecordLookup::session("s-live", None).store_key()));
}

#[test]
fn a_pending_check_shows_neither_the_credential_nor_a_secret() {
    let engine = session_engine();
    let headers = [
        ("Cookie", "flow_session=s-live-secret"),
        ("X-Project-ID", "A"),
    ];
    let step = engine.check_step(&session_request("GET", &headers), 1_000_000);
    let Step::Pending(pending) = &step else {
        panic!("decided at once")
    };
    let shown = format!("{step:?}");
    assert!(!shown.contains("s-live-secret"), "{shown}");
    assert!(
        shown.contains("Cookie") && shown.contains("/projects/items"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("{:?}", pending.lookup())),
        "{shown}"
    );
    // The snapshot pinned with it is left out (its peppers, its HMAC keys).
    assert!(!shown.contains("Snapshot"), "{shown}");
    // The borrowed request shows the same, and no query.
    let query = [("Cookie", "flow_session=s-live-secret")];
    let request = Request::new("GET", "/projects/items?api_key=q-secret", &query);
    let shown = format!("{request:?}");
    assert!(
        !shown.contains("secret")
            && shown.contains("/projects/items?…")
            && shown.contains("Cookie"),
        "{shown}"
    );
}

#[test]
fn a_pending_check_goes_on_only_with_the_engine_that_made_it() {
    // Two engines of the same policy text: the second's providers may order and key differently
    // in general, so a pending check of the first (its snapshot pinned) is refused, and the
    // answer is not cached by the second.
    let (first, second) = (session_engine(), session_engine());
    let headers = [("Cookie", "flow_session=s-live"), ("X-Project-ID", "A")];
    let request = session_request("GET", &headers);
    let pending = || match first.check_step(&request, 1_000_000) {
        Step::Pending(p) => p,
        Step::Decided(d) => panic!("decided at once: {}", d.message),
    };
    let record = StoredRecord::session(
        "s-live",
        None,
        &SessionRecord {
            subject: "u-alice".into(),
            kind: tollgate::PrincipalKind::User,
            provider: Some("flow".into()),
            expires: 1_000_600,
            created: None,
            roles: vec![],
            tenants: [("A".to_owned(), vec!["viewer".to_owned()])].into(),
            revoked: false,
        },
    )
    .unwrap();
    let decided = |step| match step {
        Step::Decided(d) => d,
        Step::Pending(p) => panic!("still pending on {:?}", p.lookup()),
    };
    for d in [
        decided(second.resume(pending(), Some(record.json.as_bytes()), 1_000_000)),
        second.resume_unavailable(pending(), 1_000_000),
    ] {
        assert_eq!((d.status, d.code), (500, ErrorCode::Internal));
        assert_eq!(d.message, "the pending check was made by another engine");
    }
    assert!(matches!(
        second.check_step(&request, 1_000_000),
        Step::Pending(_)
    ));
    // The engine that made it goes on as usual.
    let d = decided(first.resume(pending(), Some(record.json.as_bytes()), 1_000_000));
    assert_eq!(d.status, 200, "{}", d.message);
}

#[test]
fn a_session_can_carry_its_users_current_roles_from_the_user_record() {
    let engine = session_engine();
    let mut store = Store::default();
    let now = 1_000_000;
    let session = SessionRecord {
        subject: "u-bob".into(),
        kind: tollgate::PrincipalKind::User,
        provider: Some("flow-live".into()),
        expires: now + 60,
        created: None,
        roles: vec!["editor".into()],
        tenants: Default::default(),
        revoked: false,
    };
    store.put(&StoredRecord::session("s-bob", None, &session).unwrap());
    let user = |roles: &[&str]| UserRolesRecord {
        subject: "u-bob".into(),
        roles: vec![],
        tenants: [(
            "A".to_owned(),
            roles.iter().map(|r| r.to_string()).collect(),
        )]
        .into(),
        providers: vec![],
    };
    store.put(&StoredRecord::user(&user(&["editor"])).unwrap());
    let headers = [("Cookie", "flow_live=s-bob"), ("X-Project-ID", "A")];
    let d = store.decide(&engine, &session_request("POST", &headers), now);
    assert_eq!(d.status, 200, "{}", d.message);
    let kinds: Vec<_> = store
        .asked
        .iter()
        .map(|k| RecordLookup::from_store_key(k).unwrap().kind())
        .collect();
    assert_eq!(kinds, [RecordKind::Session, RecordKind::User]);
    // A role taken away restricts the session at once, once the change is announced.
    let demoted = StoredRecord::user(&user(&["viewer"])).unwrap();
    store.put(&demoted);
    engine.invalidate_record(&demoted.lookup);
    let d = store.decide(&engine, &session_request("POST", &headers), now);
    assert_eq!(d.code, ErrorCode::InsufficientPermissions, "{}", d.message);
    assert_eq!(
        store
            .decide(&engine, &session_request("GET", &headers), now)
            .status,
        200
    );
}

#[test]
fn policies_with_sessions_are_checked_when_loaded() {
    let bad = [
        (
            r#"{"name":"s","type":"session","credentials":["c"]}"#,
            "providers[0].records",
        ),
        (
            r#"{"name":"s","type":"session","credentials":["c"],"records":"store","algorithms":["HS256"]}"#,
            "providers[0].type",
        ),
    ];
    for (provider, at) in bad {
        let policy = format!(
            r#"{{"version":1,"credentials":[{{"name":"c","cookie":"sid"}}],"providers":[{provider}],"routes":[]}}"#
        );
        let e = Engine::from_policy_json(policy.as_bytes()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidPolicy);
        assert!(e.to_string().contains(at), "{e}");
    }
    let shared = r#"{"version":1,"credentials":[{"name":"c","cookie":"sid"}],
      "providers":[{"name":"s","type":"session","credentials":["c"],"records":"store"},
                   {"name":"k","type":"api_key","prefixes":["k"],"credentials":["c"]}],"routes":[]}"#;
    let e = Engine::from_policy_json(shared.as_bytes()).unwrap_err();
    assert!(
        e.to_string()
            .contains("may not be read by another provider"),
        "{e}"
    );
    for (store, says) in [
        (r#"{"cache_ttl": 301}"#, "store.cache_ttl"),
        (r#"{"grace": 3601}"#, "store.grace"),
        (r#"{"cache_entries": 0}"#, "store.cache_entries"),
    ] {
        let policy = format!(
            r#"{{"version":1,"credentials":[{{"name":"c","cookie":"sid"}}],
              "providers":[{{"name":"s","type":"session","credentials":["c"],"records":"store"}}],
              "routes":[],"store":{store}}}"#
        );
        let e = Engine::from_policy_json(policy.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    }
}

#[test]
fn a_revoked_jti_in_the_store_refuses_the_token() {
    let (_, stored, mut store, table) = deployment("project-oidc", &[]);
    let case = table
        .cases
        .iter()
        .find(|c| c.expect.reason == "token_revoked")
        .expect("a revoked-jti case");
    let d = with_request(&table, case, |r| store.decide(&stored, r, table.now));
    assert_eq!(d.code, ErrorCode::TokenRevoked);
    assert!(store
        .asked
        .iter()
        .any(|k| k.starts_with("tollgate:revoked_jti:")));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn store_keys_round_trip(kind in 0usize..4, hash in proptest::array::uniform32(any::<u8>())) {
        let l = RecordLookup::new(RecordKind::ALL[kind], hash);
        prop_assert_eq!(RecordLookup::from_store_key(&l.store_key()), Some(l));
    }

    /// A store key parses exactly when it is `tollgate:<kind>:<64 lowercase hex digits>`.
    #[test]
    fn only_exact_store_keys_parse(
        kind in prop_oneof![
            proptest::sample::select(RecordKind::ALL.map(RecordKind::name).to_vec()).prop_map(str::to_owned),
            "[a-z_]{0,12}",
        ],
        hash in prop_oneof!["[0-9a-f]{64}", "[0-9a-f]{63}[A-F]", "[0-9a-fA-F]{62,66}"],
    ) {
        let s = format!("tollgate:{kind}:{hash}");
        let exact = RecordKind::from_name(&kind).is_some()
            && hash.len() == 64
            && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let parsed = RecordLookup::from_store_key(&s);
        prop_assert_eq!(parsed.is_some(), exact, "{}", s);
        if let Some(l) = parsed {
            prop_assert_eq!(l.store_key(), s);
        }
    }

    /// Bytes that are not a valid record for the key never let the request through.
    #[test]
    fn arbitrary_answers_never_allow(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (engine, mut store, table, i, key) = fixture();
        store.records.insert(key, bytes);
        let d = with_request(&table, &table.cases[i], |r| store.decide(&engine, r, table.now));
        prop_assert_eq!(d.code, ErrorCode::InvalidRecord, "{}", d.message);
    }
}

fn fixture() -> (Engine, Store, Table, usize, String) {
    api_key_case(&[])
}

/// Two identity providers whose users' roles come from user records. `sub` is unique only per
/// issuer: a record is for the providers it names, and with two such providers it must name them.
fn two_idps(records: [&str; 2]) -> Engine {
    let provider = |name: &str, records: &str| {
        serde_json::json!({"name": name, "credentials": ["bearer"],
            "issuers": [format!("https://{name}.example")], "algorithms": ["HS256"],
            "roles_from_record": ["user"], "records": records})
    };
    let policy = serde_json::json!({
        "version": 1,
        "credentials": [{"name": "bearer", "header": "Authorization", "scheme": "Bearer"}],
        "providers": [provider("corp", records[0]), provider("partner", records[1])],
        "permissions": ["read", "write"],
        "roles": [{"name": "viewer", "grants": ["read"]},
                  {"name": "admin", "inherits": ["viewer"], "grants": ["write"]}],
        "routes": [{"method": "POST", "path": "/items", "requires": ["write"]}]
    });
    Engine::from_policy_json(policy.to_string().as_bytes()).unwrap()
}

const IDP_SECRETS: [(&str, [u8; 32]); 2] = [("corp", [1; 32]), ("partner", [2; 32])];

/// A snapshot with the two providers' keys and `users`.
fn two_idps_snapshot(users: serde_json::Value) -> String {
    let keys: serde_json::Map<String, serde_json::Value> = IDP_SECRETS
        .iter()
        .map(|(name, secret)| {
            let jwk = serde_json::json!({"kty": "oct", "alg": "HS256", "kid": name,
                "k": tollgate::base64url::encode(secret)});
            ((*name).to_owned(), serde_json::json!({"keys": [jwk]}))
        })
        .collect();
    serde_json::json!({"keys": keys, "users": users}).to_string()
}

/// A bearer token from provider `idp` for subject `sub`.
fn idp_token(idp: &str, sub: &str, now: u64) -> String {
    let (_, secret) = IDP_SECRETS.iter().find(|(n, _)| *n == idp).unwrap();
    let key = tollgate::SigningKey::hmac(tollgate::Algorithm::HS256, secret, Some(idp)).unwrap();
    let claims = format!(
        r#"{{"iss":"https://{idp}.example","sub":"{sub}","exp":{}}}"#,
        now + 60
    );
    format!(
        "Bearer {}",
        tollgate::mint(&key, claims.as_bytes(), None).unwrap()
    )
}

#[test]
fn a_user_record_is_for_the_providers_it_names_since_subjects_are_unique_per_issuer() {
    let now = 1_000_000;
    let post = |engine: &Engine, store: &mut Store, idp: &str| {
        let auth = idp_token(idp, "u-1", now);
        let headers = [("Authorization", auth.as_str())];
        store.decide(engine, &Request::new("POST", "/items", &headers), now)
    };

    // In the snapshot: corp's u-1 is an admin; partner's u-1, another person, is not.
    let engine = two_idps(["snapshot", "snapshot"]);
    engine
        .swap_snapshot_json(
            two_idps_snapshot(
                serde_json::json!({"u-1": {"roles": ["admin"], "providers": ["corp"]}}),
            )
            .as_bytes(),
        )
        .unwrap();
    let mut store = Store::default();
    let d = post(&engine, &mut store, "corp");
    assert_eq!(d.status, 200, "{}", d.message);
    let d = post(&engine, &mut store, "partner");
    assert_eq!(
        (d.status, d.code),
        (401, ErrorCode::UnknownPrincipal),
        "{}",
        d.message
    );
    assert!(d.message.contains("for other providers"), "{}", d.message);

    // Naming both says the subjects are one namespace (the host's own ids, say).
    engine
        .swap_snapshot_json(
            two_idps_snapshot(
                serde_json::json!({"u-1": {"roles": ["admin"], "providers": ["corp", "partner"]}}),
            )
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(post(&engine, &mut store, "partner").status, 200);

    // Naming none, or a provider that reads no user records, is refused when loaded.
    for (users, at) in [
        (
            serde_json::json!({"u-1": {"roles": ["admin"]}}),
            "users.u-1.providers",
        ),
        (
            serde_json::json!({"u-1": {"roles": ["admin"], "providers": ["corp", "nope"]}}),
            "users.u-1.providers[1]",
        ),
    ] {
        let e = engine
            .swap_snapshot_json(two_idps_snapshot(users).as_bytes())
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidSnapshot, "{e}");
        assert!(e.to_string().contains(at), "{e}");
    }

    // In the store: the same rules, and a record that names no provider is invalid_record.
    let engine = two_idps(["store", "store"]);
    engine
        .swap_snapshot_json(two_idps_snapshot(serde_json::json!({})).as_bytes())
        .unwrap();
    let user = |providers: &[&str]| UserRolesRecord {
        subject: "u-1".into(),
        roles: vec!["admin".into()],
        tenants: Default::default(),
        providers: providers.iter().map(|p| p.to_string()).collect(),
    };
    let mut store = Store::default();
    store.put(&StoredRecord::user(&user(&["corp"])).unwrap());
    assert_eq!(post(&engine, &mut store, "corp").status, 200);
    let d = post(&engine, &mut store, "partner");
    assert_eq!(d.code, ErrorCode::UnknownPrincipal, "{}", d.message);
    // (The engine caches records: the one it holds is replaced, and the change announced.)
    let mut store = Store::default();
    let unnamed = StoredRecord::user(&user(&[])).unwrap();
    store.put(&unnamed);
    engine.invalidate_record(&unnamed.lookup);
    let d = post(&engine, &mut store, "corp");
    assert_eq!(
        (d.status, d.code),
        (500, ErrorCode::InvalidRecord),
        "{}",
        d.message
    );
    assert!(d.message.contains("providers"), "{}", d.message);

    // A snapshot record for other providers counts as none: the store is still asked.
    let engine = two_idps(["snapshot", "store"]);
    engine
        .swap_snapshot_json(
            two_idps_snapshot(
                serde_json::json!({"u-1": {"roles": ["viewer"], "providers": ["corp"]}}),
            )
            .as_bytes(),
        )
        .unwrap();
    let mut store = Store::default();
    store.put(&StoredRecord::user(&user(&["partner"])).unwrap());
    let d = post(&engine, &mut store, "corp");
    assert_eq!(d.code, ErrorCode::InsufficientPermissions, "{}", d.message);
    let d = post(&engine, &mut store, "partner");
    assert_eq!(d.status, 200, "{}", d.message);
    // The store's record deleted (and the deletion announced): only the snapshot's is left.
    let mut store = Store::default();
    engine.invalidate_record(&RecordLookup::user("u-1"));
    let d = post(&engine, &mut store, "partner");
    assert_eq!(d.code, ErrorCode::UnknownPrincipal, "{}", d.message);
    assert!(d.message.contains("for other providers"), "{}", d.message);
}

#[test]
fn a_jwt_provider_that_reads_user_records_needs_exactly_one_issuer() {
    let engine = |issuers: serde_json::Value| {
        let policy = serde_json::json!({
            "version": 1,
            "credentials": [{"name": "bearer", "header": "Authorization", "scheme": "Bearer"}],
            "providers": [{"name": "idp", "credentials": ["bearer"], "issuers": issuers,
                "algorithms": ["HS256"], "roles_from_record": ["user"]}],
            "permissions": ["read"],
            "roles": [{"name": "viewer", "grants": ["read"]}],
            "routes": [{"method": "GET", "path": "/items", "requires": ["read"]}]
        });
        Engine::from_policy_json(policy.to_string().as_bytes())
    };
    assert!(engine(serde_json::json!(["https://idp.example"])).is_ok());
    for issuers in [
        serde_json::json!([]),
        serde_json::json!(["https://a.example", "https://b.example"]),
    ] {
        let e = engine(issuers.clone()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidPolicy, "{issuers}: {e}");
        assert!(
            e.to_string()
                .contains("providers[0].roles_from_record: a JWT provider that reads user records needs exactly one issuer"),
            "{issuers}: {e}"
        );
    }
}

// ---- Limits (docs/limits.md): at each limit and one past it ---------------------------------

/// A live session of `u-alice`, a viewer in tenant A, for the `flow` provider of
/// [`session_engine`].
fn alice_session(now: u64) -> SessionRecord {
    SessionRecord {
        subject: "u-alice".into(),
        kind: tollgate::PrincipalKind::User,
        provider: Some("flow".into()),
        expires: now + 3600,
        created: Some(now - 60),
        roles: vec![],
        tenants: [("A".to_owned(), vec!["viewer".to_owned()])].into(),
        revoked: false,
    }
}

#[test]
fn limit_session_id_at_and_past() {
    let engine = session_engine();
    let mut store = Store::default();
    let now = 1_000_000;
    let session = alice_session(now);
    let at = "s".repeat(record::MAX_SESSION_ID_LEN);
    store.put(&StoredRecord::session(&at, None, &session).unwrap());
    let ask = |store: &mut Store, id: &str| {
        let cookie = format!("flow_session={id}");
        let headers = [("Cookie", cookie.as_str()), ("X-Project-ID", "A")];
        store.decide(&engine, &session_request("GET", &headers), now)
    };
    let d = ask(&mut store, &at);
    assert_eq!(d.status, 200, "{}", d.message);
    store.asked.clear();
    let past = format!("{at}s");
    let d = ask(&mut store, &past);
    assert_eq!(d.code, ErrorCode::UnknownSession, "{}", d.message);
    assert!(
        d.message.contains("513 bytes, more than the limit of 512"),
        "{}",
        d.message
    );
    assert!(
        store.asked.is_empty(),
        "the store is not asked: {:?}",
        store.asked
    );
}

/// A key that fails its checksum (a typo, a truncation, a guess) is refused before the store is
/// asked: enumerating keys costs the attacker no store lookups (SECURITY.md).
#[test]
fn a_malformed_api_key_never_reaches_the_store() {
    let (engine, mut store, table, i, _) = api_key_case(&[]);
    let case = &table.cases[i];
    let good = table.headers(case);
    assert!(good.iter().any(|(_, v)| v.contains("fln_live_")));
    for change in [
        |v: &str| {
            format!(
                "{}{}",
                &v[..v.len() - 1],
                if v.ends_with('A') { 'B' } else { 'A' }
            )
        },
        |v: &str| v[..v.len() - 1].to_owned(),
    ] {
        let headers: Vec<(String, String)> = good
            .iter()
            .map(|(n, v)| {
                (
                    n.clone(),
                    if v.contains("fln_live_") {
                        change(v)
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        store.asked.clear();
        let d = store.decide(
            &engine,
            &Request::new(&case.request.method, &case.request.path, &pairs),
            table.now,
        );
        assert_eq!(d.code, ErrorCode::MalformedApiKey, "{}", d.message);
        assert!(store.asked.is_empty(), "asked {:?}", store.asked);
    }
}

/// A user or revoked-`jti` record must name what it was stored under, as an API key's record must
/// carry its hash: a record copied to another subject's or token's key is `invalid_record`.
/// The table case whose principal kind or refusal reason is `case_is`, and the store key of
/// the `kind` record deciding it asks for.
fn case_asking_for<'t>(
    table: &'t Table,
    engine: &Engine,
    store: &mut Store,
    case_is: &str,
    kind: RecordKind,
) -> (&'t tollgate::scenario::Case, String) {
    let case = table
        .cases
        .iter()
        .find(|c| c.expect.kind.as_deref() == Some(case_is) || c.expect.reason == case_is)
        .unwrap();
    engine.invalidate_all_records();
    store.asked.clear();
    with_request(table, case, |r| store.decide(engine, r, table.now));
    let key = store
        .asked
        .iter()
        .find(|k| RecordLookup::from_store_key(k).unwrap().kind() == kind)
        .unwrap_or_else(|| panic!("{case_is}: no {kind:?} lookup"))
        .clone();
    (case, key)
}

#[test]
fn user_and_revoked_jti_records_must_name_their_own_key() {
    let (_, stored, mut store, table) = deployment("project-oidc", &[]);
    for (case_is, kind, member, says) in [
        (
            "personal_access_token",
            RecordKind::User,
            "subject",
            "the user record's subject is not the one it was stored under",
        ),
        (
            "token_revoked",
            RecordKind::RevokedJti,
            "jti",
            "the revoked_jti record's jti is not the one it was stored under",
        ),
    ] {
        let (case, key) = case_asking_for(&table, &stored, &mut store, case_is, kind);
        let mut record: serde_json::Value = serde_json::from_slice(&store.records[&key]).unwrap();
        let original = store.records[&key].clone();
        record[member] = "someone-else".into();
        store
            .records
            .insert(key.clone(), record.to_string().into_bytes());
        stored.invalidate_all_records();
        let d = with_request(&table, case, |r| store.decide(&stored, r, table.now));
        assert_eq!(d.code, ErrorCode::InvalidRecord, "{case_is}: {}", d.message);
        assert!(d.message.contains(says), "{case_is}: {}", d.message);
        store.records.insert(key, original);
    }
}

/// The record limits, for every kind the engine asks a store for: a record of 64 KiB is read as
/// before, one byte more is refused naming the kind, and so is nesting past the limit.
#[test]
fn limit_record_bytes_and_depth_at_and_past() {
    let (engine, mut store, table, i, key) = api_key_case(&[]);
    let case = &table.cases[i];
    assert_record_limits(&mut store, &key, "api_key", |store| {
        engine.invalidate_all_records();
        with_request(&table, case, |r| store.decide(&engine, r, table.now))
    });

    let (_, stored, mut store, table) = deployment("project-oidc", &[]);
    for (case_is, kind, name) in [
        ("personal_access_token", RecordKind::User, "user"),
        ("token_revoked", RecordKind::RevokedJti, "revoked_jti"),
    ] {
        let (case, key) = case_asking_for(&table, &stored, &mut store, case_is, kind);
        assert_record_limits(&mut store, &key, name, |store| {
            stored.invalidate_all_records();
            with_request(&table, case, |r| store.decide(&stored, r, table.now))
        });
    }

    let engine = session_engine();
    let mut store = Store::default();
    let now = 1_000_000;
    let session = alice_session(now);
    let record = StoredRecord::session("s-1", None, &session).unwrap();
    store.put(&record);
    assert_record_limits(&mut store, &record.lookup.store_key(), "session", |store| {
        engine.invalidate_all_records();
        let headers = [("Cookie", "flow_session=s-1"), ("X-Project-ID", "A")];
        store.decide(&engine, &session_request("GET", &headers), now)
    });
}

/// Replaces the record under `key` with itself padded to 64 KiB, one byte more, and nested to
/// the depth limit and one more, deciding each time with `decide`; puts it back after.
fn assert_record_limits(
    store: &mut Store,
    key: &str,
    name: &str,
    mut decide: impl FnMut(&mut Store) -> Decision,
) {
    let original = store.records[key].clone();
    let fresh = decide(store);
    let padded = |len: usize| {
        let mut r = original[..original.len() - 1].to_vec();
        r.resize(len - 1, b' ');
        r.push(b'}');
        r
    };
    let good: serde_json::Value = serde_json::from_slice(&original).unwrap();
    let nested = |depth: usize| {
        let mut v = good.clone();
        v["extra"] = (2..depth).fold(serde_json::json!([]), |inner, _| serde_json::json!([inner]));
        v.to_string().into_bytes()
    };
    let mut decide_with = |record: Vec<u8>| {
        store.records.insert(key.to_owned(), record);
        decide(store)
    };
    let at = decide_with(padded(record::MAX_RECORD_BYTES));
    assert_eq!(
        (at.status, at.code),
        (fresh.status, fresh.code),
        "{name}: {}",
        at.message
    );
    let past = decide_with(padded(record::MAX_RECORD_BYTES + 1));
    assert_eq!(
        past.code,
        ErrorCode::InvalidRecord,
        "{name}: {}",
        past.message
    );
    let says = format!("the {name} record is 65537 bytes, more than the limit of 65536");
    assert!(past.message.contains(&says), "{name}: {}", past.message);
    // At the depth limit the record is read, and refused for the member it should not have.
    let at = decide_with(nested(record::MAX_RECORD_DEPTH));
    assert_eq!(at.code, ErrorCode::InvalidRecord, "{name}: {}", at.message);
    assert!(
        at.message.contains("extra") && !at.message.contains("nesting"),
        "{name}: {}",
        at.message
    );
    let past = decide_with(nested(record::MAX_RECORD_DEPTH + 1));
    assert_eq!(
        past.code,
        ErrorCode::InvalidRecord,
        "{name}: {}",
        past.message
    );
    assert!(
        past.message
            .contains("nesting is deeper than the limit of 4 levels"),
        "{name}: {}",
        past.message
    );
    store.records.insert(key.to_owned(), original);
}
