//! The fuzz targets' bodies. Each target in `fuzz_targets/` is one line calling one function here,
//! so a crash reproduces with `cargo test` as well as under libFuzzer, and the fixtures (the four
//! example deployments, the RFC 7515 keys, the Standard Webhooks secrets) are built once per
//! process.
//!
//! Besides "no panic, no sanitizer report", each function asserts invariants that must hold for
//! every input: they are listed in its documentation.

use std::sync::{Arc, OnceLock};

use tollgate::{
    apikey, base64url, json, limits, webhook, Algorithm, Claims, Decision, Engine, ErrorCode, Key,
    KeySet, Request, TokenBuffer, Validation, Verifier,
};

mod differential;
mod ffi;

pub use differential::differential_jsonwebtoken;
pub use ffi::ffi_entry;

/// The clock of every example deployment's scenario table (2026-01-01T00:00:00Z).
pub const NOW: u64 = 1_767_225_600;

macro_rules! example {
    ($name:literal, $file:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/",
            $name,
            "/",
            $file
        ))
    };
}

macro_rules! deployment {
    ($name:literal) => {
        (
            $name,
            example!($name, "policy.json"),
            example!($name, "snapshot.json"),
            example!($name, "scenarios.json"),
        )
    };
}

/// An example deployment's files: name, policy, key snapshot, scenario table.
pub type DeploymentFiles = (&'static str, &'static [u8], &'static [u8], &'static [u8]);

/// The four example deployments.
pub const DEPLOYMENTS: [DeploymentFiles; 4] = [
    deployment!("project-oidc"),
    deployment!("workspace-api"),
    deployment!("service-accounts"),
    deployment!("tenant-path"),
];

/// RFC 7515's example keys and tokens (the shared vectors, read in place at build time).
pub(crate) const RFC_JWS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/vectors/rfc-jws.json"
));

/// One deployment's engine with its snapshot loaded, and its table's clock.
pub struct Deployment {
    /// The engine.
    pub engine: Engine,
    /// The scenario table's `now`.
    pub now: u64,
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("fixture is JSON")
}

/// The four deployments, built once.
pub fn deployments() -> &'static [Deployment] {
    static CELL: OnceLock<Vec<Deployment>> = OnceLock::new();
    CELL.get_or_init(|| {
        DEPLOYMENTS
            .iter()
            .map(|(name, policy, snapshot, table)| {
                let engine = Engine::from_policy_json(policy)
                    .unwrap_or_else(|e| panic!("{name}: policy: {e}"));
                engine
                    .swap_snapshot_json(snapshot)
                    .unwrap_or_else(|e| panic!("{name}: snapshot: {e}"));
                let now = json(table)["now"].as_u64().expect("table now");
                Deployment { engine, now }
            })
            .collect()
    })
}

/// Every key set the fixtures hold, each with a verifier: every provider of every example
/// deployment, and each RFC 7515 example key bound to its algorithm.
pub(crate) fn verifiers() -> &'static [Verifier] {
    static CELL: OnceLock<Vec<Verifier>> = OnceLock::new();
    CELL.get_or_init(|| {
        let mut documents = Vec::new();
        for (_, _, snapshot, _) in DEPLOYMENTS {
            if let Some(keys) = json(snapshot)["keys"].as_object() {
                documents.extend(keys.values().map(|jwks| jwks.to_string()));
            }
        }
        let rfc: serde_json::Value = serde_json::from_str(RFC_JWS).expect("rfc-jws.json");
        for case in rfc.as_array().into_iter().flatten() {
            let jwk = &case["jwk"];
            let mut key = if jwk["public"].is_object() {
                jwk["public"].clone()
            } else {
                jwk["private"].clone()
            };
            if let (Some(obj), Some(alg)) = (key.as_object_mut(), case["alg"].as_str()) {
                obj.insert("alg".into(), alg.into());
            }
            documents.push(serde_json::json!({ "keys": [key] }).to_string());
        }
        let validation = Validation::default()
            .with_required(Vec::<String>::new())
            .with_leeway(limits::MAX_LEEWAY_SECS);
        documents
            .iter()
            .filter_map(|doc| KeySet::from_jwks(doc.as_bytes()).ok())
            .map(|keys| Verifier::new(Arc::new(keys), validation.clone()).expect("verifier"))
            .collect()
    })
}

fn canonical_base64url(segment: &[u8]) -> bool {
    base64url::decode(segment).is_ok_and(|bytes| base64url::encode(&bytes).as_bytes() == segment)
}

/// Compact JWS parse and verify under every fixture key set, at two clocks.
///
/// Invariants: a token that verifies has exactly three segments, each canonical base64url (a
/// re-encoded token never verifies), and verifying is deterministic.
pub fn jws_verify(data: &[u8]) {
    let mut buf = TokenBuffer::new();
    for verifier in verifiers() {
        for now in [NOW, 1_300_819_300] {
            let first = verifier.verify(data, now, &mut buf).map(|_| ());
            if first.is_ok() {
                let segments: Vec<&[u8]> = data.split(|&b| b == b'.').collect();
                assert_eq!(segments.len(), 3, "a verified token has three segments");
                for s in &segments {
                    assert!(canonical_base64url(s), "verified a non-canonical segment");
                }
            }
            let again = verifier.verify(data, now, &mut buf).map(|_| ());
            assert_eq!(
                first.map_err(|e| e.code()),
                again.map_err(|e| e.code()),
                "verify is deterministic"
            );
        }
    }
}

/// JWK Set parsing, unbound and bound to each algorithm family.
///
/// Invariants: a parsed set holds at most [`limits::MAX_KEYS`] keys; every key with a `kid` is
/// found again by its algorithm and `kid`; a set bound to an algorithm holds only keys of it.
pub fn jwks_parse(data: &[u8]) {
    if let Ok(set) = KeySet::from_jwks(data) {
        assert!(set.len() <= limits::MAX_KEYS);
        for key in set.keys() {
            if let Some(kid) = key.kid() {
                let found = set
                    .select(key.algorithm(), Some(kid))
                    .expect("a key is found by its own alg and kid");
                assert_eq!(found.kid(), Some(kid));
            }
        }
    }
    for alg in [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        if let Ok(set) = KeySet::from_jwks_bound(data, alg) {
            assert!(set.keys().iter().all(|k| k.algorithm() == alg));
        }
    }
}

/// A header for claims validation: `{"alg":"HS256","typ":"JWT"}` (the signature is never checked).
const HEADER_ONLY: &[u8] =
    b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Claims parsing and validation of the input as a claims set, at three clocks.
///
/// Invariants: widening the leeway never rejects more; a validation with more requirements (an
/// issuer, an audience, a maximum lifetime, more required claims) never accepts more.
pub fn claims_validate(data: &[u8]) {
    let Ok(claims) = Claims::parse(data, limits::DEFAULT_MAX_JSON_DEPTH) else {
        return;
    };
    // Every accessor on every parsed claims set.
    let _ = (claims.issuer(), claims.subject(), claims.jwt_id());
    let _ = (claims.expires_at(), claims.not_before(), claims.issued_at());
    let _ = claims.audiences().count();
    let mut buf = TokenBuffer::new();
    let jws = tollgate::jws::parse(HEADER_ONLY, Default::default(), &mut buf).expect("header");
    let header = jws.header();
    let loose = Validation::default().with_required(Vec::<String>::new());
    for now in [NOW, 0, u64::MAX] {
        let narrow = loose.clone().with_leeway(0).validate(header, &claims, now);
        let wide = loose
            .clone()
            .with_leeway(limits::MAX_LEEWAY_SECS)
            .validate(header, &claims, now);
        if narrow.is_ok() {
            assert!(wide.is_ok(), "widening the leeway rejected: {wide:?}");
        }
        let scoped = Validation::default()
            .with_issuer("https://issuer.example")
            .with_audience("api");
        let strict = scoped
            .clone()
            .with_max_lifetime(3600)
            .with_typ("JWT")
            .with_required(["exp", "iat", "sub", "jti"])
            .validate(header, &claims, now);
        if strict.is_ok() {
            assert!(scoped.validate(header, &claims, now).is_ok());
        }
    }
}

/// The strict JSON reader (`tollgate::json`) against the reference the `json` suite judges it by
/// (`tollgate_tests::strict_json`: serde_json's grammar, no member name twice in any object after
/// unescaping, the nesting limit, an object at the top).
///
/// Invariants: the reader accepts exactly what the reference accepts (where the reference has an
/// answer: it has none for a number serde_json refuses for its range alone); the members of an
/// accepted document are the ones the reader handed over while reading, in order, and each is
/// found by name and through the member index recorded in that pass.
pub fn json_strict(data: &[u8]) {
    let depth = limits::DEFAULT_MAX_JSON_DEPTH;
    let mut index = json::MemberIndex::default();
    let mut handed = Vec::new();
    let read = json::parse_object_with(data, depth, |member| {
        index.record(&member);
        handed.push((member.name, member.value));
    });
    if let Some(want) = tollgate_tests::strict_json::accepts(data, depth) {
        assert_eq!(
            read.is_ok(),
            want,
            "the reader says {:?}, the reference {want}",
            read.err()
        );
    }
    let Ok(object) = read else {
        return;
    };
    let members: Vec<_> = object.members().collect();
    assert_eq!(
        members, handed,
        "members walked and members handed over differ"
    );
    for (name, value) in members {
        let name = name.to_cow();
        assert_eq!(object.get(&name), Some(value), "{name:?} by name");
        assert_eq!(index.get(&object, &name), Some(value), "{name:?} by index");
    }
}

/// A few requests every policy is asked about once it loads.
const PROBES: [(&str, &str); 3] = [
    ("GET", "/"),
    ("GET", "/api/tenants/A/items"),
    ("POST", "/v1/orgs/org_1/invoices"),
];

fn assert_sane(d: &Decision) {
    assert_ne!(d.code, ErrorCode::Internal, "internal error: {}", d.message);
    assert!(
        matches!(d.status, 200 | 400 | 401 | 403 | 404 | 500 | 503),
        "unexpected status {} ({:?})",
        d.status,
        d.code
    );
    if d.status == 200 {
        assert_eq!(d.code, ErrorCode::Allowed);
    }
}

/// Policy loading.
///
/// Invariants: a policy that loads answers the probe requests with a sane decision (no internal
/// error, a status from the documented set), with and without a credential.
pub fn policy_load(data: &[u8]) {
    let Ok(engine) = Engine::from_policy_json(data) else {
        return;
    };
    for (method, path) in PROBES {
        for headers in [&[][..], &[("authorization", "Bearer x.y.z")][..]] {
            assert_sane(&engine.check(&Request::new(method, path, headers), NOW));
        }
    }
}

/// A request in the text form the seeds use: `METHOD PATH`, then one `name: value` per line.
pub struct TextRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// The path.
    pub path: &'a str,
    /// The headers.
    pub headers: Vec<(&'a str, &'a str)>,
}

/// Parses the seeds' request form (see [`TextRequest`]); `None` when it is not UTF-8.
pub fn text_request(data: &[u8]) -> Option<TextRequest<'_>> {
    let text = std::str::from_utf8(data).ok()?;
    let mut lines = text.split('\n');
    let first = lines.next().unwrap_or_default();
    let (method, path) = first.split_once(' ').unwrap_or((first, ""));
    let headers = lines
        .map(|line| line.split_once(": ").unwrap_or((line, "")))
        .collect();
    Some(TextRequest {
        method,
        path,
        headers,
    })
}

/// `Engine::check` on one of the four deployments (first byte) with an arbitrary request (the
/// rest, in [`TextRequest`] form).
///
/// Invariants: the decision is sane; the same request decides the same way again; changing the
/// case of header names changes nothing; a request allowed without a principal (a public route)
/// is allowed with no headers at all.
pub fn engine_check(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some(deployment) = deployments().get(usize::from(selector) % DEPLOYMENTS.len()) else {
        return;
    };
    let Some(req) = text_request(rest) else {
        return;
    };
    let check = |headers: &[(&str, &str)]| {
        deployment
            .engine
            .check(&Request::new(req.method, req.path, headers), deployment.now)
    };
    let decision = check(&req.headers);
    assert_sane(&decision);
    let again = check(&req.headers);
    assert_eq!((decision.status, decision.code), (again.status, again.code));
    let upper: Vec<String> = req.headers.iter().map(|(n, _)| n.to_uppercase()).collect();
    if upper
        .iter()
        .zip(&req.headers)
        .all(|(u, (n, _))| u.len() == n.len())
    {
        let shouted: Vec<(&str, &str)> = upper
            .iter()
            .zip(&req.headers)
            .map(|(u, (_, v))| (u.as_str(), *v))
            .collect();
        let d = check(&shouted);
        assert_eq!(
            (decision.status, decision.code),
            (d.status, d.code),
            "header name case changed the decision"
        );
    }
    if decision.is_allowed() && decision.principal.is_none() {
        assert!(
            check(&[]).is_allowed(),
            "allowed without a principal, but not without headers"
        );
    }
}

/// The prefixes the service-accounts deployment accepts.
const KEY_PREFIXES: [&str; 3] = ["fln_live", "fln_test", "tg"];

/// API-key form and checksum, hashing, and the lookup of the service-accounts deployment.
///
/// Invariants: a key that parses is at most [`apikey::MAX_KEY_LEN`] bytes and starts with an
/// accepted prefix and `_`; its two hashes are the documented forms; a key that does not parse
/// (once the surrounding whitespace HTTP ignores is gone) is never let through by the engine.
pub fn apikey_check(data: &[u8]) {
    let Ok(key) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = apikey::parse(key, &KEY_PREFIXES);
    if let Ok(p) = &parsed {
        assert!(key.len() <= apikey::MAX_KEY_LEN);
        assert!(KEY_PREFIXES.contains(&p.prefix()));
        assert_eq!(key.as_bytes().get(p.prefix().len()), Some(&b'_'));
        assert!(apikey::Hashing::Sha256.hash(key).starts_with("sha256:"));
        let pepper = apikey::Hashing::HmacSha256(vec![7; 32]);
        assert!(pepper.hash(key).starts_with("hmac-sha256:"));
    }
    let Some(deployment) = deployments().get(2) else {
        return;
    };
    let bearer = format!("Bearer {key}");
    let headers = [("Authorization", bearer.as_str())];
    let d = deployment.engine.check(
        &Request::new("GET", "/v1/orgs/org_1/invoices", &headers),
        deployment.now,
    );
    assert_sane(&d);
    if d.is_allowed() {
        // The engine reads the credential as HTTP does: without surrounding spaces and tabs.
        let credential = key.trim_matches([' ', '\t']);
        assert!(
            apikey::parse(credential, &KEY_PREFIXES).is_ok()
                || credential.matches('.').count() == 2,
            "let an unparsable API key through"
        );
    }
}

/// service-accounts with its records in a store, and its `key-reader` API key: the engine,
/// the request, the key's store key and its record's `hash`.
struct StoreFixture {
    engine: Engine,
    now: u64,
    bearer: String,
    store_key: String,
    hash: String,
}

fn store_fixture() -> &'static StoreFixture {
    static CELL: OnceLock<StoreFixture> = OnceLock::new();
    CELL.get_or_init(|| {
        let (_, policy, snapshot, table) = DEPLOYMENTS[2];
        let mut policy = json(policy);
        for p in policy["providers"].as_array_mut().expect("providers") {
            p["records"] = "store".into();
        }
        let engine = Engine::from_policy_json(policy.to_string().as_bytes()).expect("policy");
        let (rest, records) = tollgate::record::split_snapshot(snapshot).expect("snapshot");
        engine
            .swap_snapshot_json(rest.as_bytes())
            .expect("snapshot without records");
        let table = json(table);
        let key = table["tokens"]["key-reader"].as_str().expect("key-reader");
        let lookup = tollgate::RecordLookup::api_key(key, None);
        let record = records
            .iter()
            .find(|r| r.lookup == lookup)
            .expect("key-reader's record");
        let hash = json(record.json.as_bytes())["hash"]
            .as_str()
            .expect("hash")
            .to_owned();
        StoreFixture {
            engine,
            now: table["now"].as_u64().expect("now"),
            bearer: format!("Bearer {key}"),
            store_key: lookup.store_key(),
            hash,
        }
    })
}

/// A store's answer to a check: the input is the bytes the store returns for an API key's
/// record (service-accounts' `key-reader`, records in the store).
///
/// Invariants: the check asks for exactly that key; an answer lets the request through only if
/// it is a strict JSON object of version 1 and kind `api_key` whose `hash` is the key's; an
/// answer that is not a strict JSON object is `invalid_record`; the same answer decides the same
/// way twice.
pub fn record_answer(data: &[u8]) {
    let f = store_fixture();
    let headers = [("Authorization", f.bearer.as_str())];
    let request = Request::new("GET", "/v1/orgs/org_1/invoices", &headers);
    let decide = || {
        f.engine.invalidate_all_records();
        let pending = match f.engine.check_step(&request, f.now) {
            tollgate::Step::Pending(p) => p,
            tollgate::Step::Decided(d) => panic!("decided without the store: {}", d.message),
        };
        assert_eq!(pending.lookup().store_key(), f.store_key);
        match f.engine.resume(pending, Some(data), f.now) {
            tollgate::Step::Decided(d) => d,
            tollgate::Step::Pending(p) => panic!("asked again: {:?}", p.lookup()),
        }
    };
    let d = decide();
    assert_sane(&d);
    let parsed: Option<serde_json::Value> = serde_json::from_slice(data).ok();
    let object = parsed.as_ref().and_then(|v| v.as_object());
    if d.is_allowed() {
        let o = object.expect("allowed on an answer that is not a JSON object");
        assert_eq!(o.get("v"), Some(&serde_json::Value::from(1)));
        assert_eq!(o.get("record").and_then(|v| v.as_str()), Some("api_key"));
        assert_eq!(
            o.get("hash").and_then(|v| v.as_str()),
            Some(f.hash.as_str())
        );
    }
    if object.is_none() {
        assert_eq!(d.code, ErrorCode::InvalidRecord, "{}", d.message);
    }
    assert_eq!(decide().to_json(), d.to_json());
}

/// Standard Webhooks verification. Input lines: key (`whsec_…` or `whpk_…`), `now`, id,
/// timestamp, signature header; the rest is the body.
///
/// Invariants: a delivery that verifies under a `whsec_` secret carries, among its signatures,
/// exactly the one Tollgate's signer makes for it; verifying twice gives the same answer; the
/// replay guard accepts a verified delivery once and then reports it replayed.
pub fn webhook_verify(data: &[u8]) {
    let mut parts = data.splitn(6, |&b| b == b'\n');
    let mut next = || parts.next().and_then(|p| std::str::from_utf8(p).ok());
    let (Some(key), Some(now), Some(id), Some(ts), Some(sig)) =
        (next(), next(), next(), next(), next())
    else {
        return;
    };
    let body = data.splitn(6, |&b| b == b'\n').nth(5).unwrap_or_default();
    let now = now.parse::<u64>().unwrap_or(NOW);
    let mut verifier = webhook::WebhookVerifier::new();
    if verifier.add_key(key).is_err() {
        return;
    }
    let result = verifier.verify(id, ts, sig, body, now);
    let again = verifier.verify(id, ts, sig, body, now);
    assert_eq!(
        result.as_ref().map_err(|e| e.code()),
        again.as_ref().map_err(|e| e.code())
    );
    if result.is_ok() {
        if key.starts_with("whsec_") {
            let timestamp: u64 = ts.parse().expect("a verified timestamp is a number");
            let signed = webhook::WebhookSigner::new(key)
                .expect("a verifying secret signs")
                .sign(id, timestamp, body)
                .expect("sign");
            assert!(
                sig.split(' ').any(|s| s == signed),
                "verified, yet none of {sig:?} is {signed:?}"
            );
        }
        let guard = webhook::ReplayGuard::new(16).expect("guard");
        assert!(verifier
            .verify_and_record(&guard, id, ts, sig, body, now)
            .is_ok());
        assert_eq!(
            verifier
                .verify_and_record(&guard, id, ts, sig, body, now)
                .map_err(|e| e.code()),
            Err(ErrorCode::WebhookReplayed)
        );
    }
}

/// Path-template routing. Input lines: `METHOD TEMPLATE` for each public route, then the request
/// `METHOD PATH` last. The routes become a policy, so templates go through the policy's checks.
///
/// Invariants: when the policy loads, the decision is sane, and a request whose path equals a
/// parameter-free template of its method is allowed (the route is public).
pub fn route_match(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines: Vec<&str> = text.split('\n').collect();
    let Some(request) = lines.pop() else {
        return;
    };
    let routes: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| l.split_once(' ').unwrap_or((l, "")))
        .collect();
    let policy = serde_json::json!({
        "version": 1,
        "name": "fuzz",
        "credentials": [],
        "providers": [],
        "permissions": [],
        "roles": [],
        "routes": routes
            .iter()
            .map(|(m, p)| serde_json::json!({"method": m, "path": p, "public": true}))
            .collect::<Vec<_>>(),
    });
    let Ok(engine) = Engine::from_policy_json(policy.to_string().as_bytes()) else {
        return;
    };
    let (method, path) = request.split_once(' ').unwrap_or((request, ""));
    let d = engine.check(&Request::new(method, path, &[]), NOW);
    assert_sane(&d);
    let literal = routes
        .iter()
        .any(|(m, p)| *m == method && *p == path && !p.contains(['{', '}', '*']));
    if literal {
        assert!(
            d.is_allowed(),
            "{method} {path} names a public route: {d:?}"
        );
    }
}

/// A fetched JWKS and an OpenID configuration, as the key-source hosts see them. Input: the
/// `Cache-Control` value on the first line, the body after it.
///
/// Invariants: a good fetch serves exactly the keys it reports, schedules the next fetch within
/// the configured bounds and reports skipped keys once each, in document order; a bad one keeps
/// the previous set and backs off; a `jwks_uri` taken from a configuration is itself fetchable.
pub fn key_source(data: &[u8]) {
    let (cache_control, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (
            std::str::from_utf8(data.get(..i).unwrap_or_default()).unwrap_or(""),
            data.get(i + 1..).unwrap_or_default(),
        ),
        None => ("", data),
    };
    let config = tollgate::refresh::RefreshConfig::default();
    let (min, max) = (config.min_ttl, config.max_ttl);
    let mut r = tollgate::refresh::Refresher::new(config).expect("defaults");
    let headers = [("Cache-Control", cache_control)];
    match r.on_fetched(200, &headers, body, NOW) {
        Ok(fetched) => {
            let set = r.key_set(NOW).expect("a good fetch serves its set");
            assert_eq!(set.len(), fetched.keys);
            assert!(fetched.keys > 0);
            assert!((NOW + min..=NOW + max).contains(&fetched.next_fetch));
            let indices: Vec<usize> = r.skipped().iter().map(|s| s.index).collect();
            assert!(indices.windows(2).all(|w| w[0] < w[1]), "{indices:?}");
            assert_eq!(fetched.skipped, indices.len());
            // A later bad fetch keeps the set.
            assert!(r.on_fetched(500, &[], b"", NOW + max).is_err());
            assert_eq!(r.key_set(NOW + max).expect("kept").len(), fetched.keys);
        }
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::KeySetFetchFailed);
            assert!(r.key_set(NOW).is_err());
            assert_eq!(
                r.poll(NOW),
                tollgate::refresh::Poll::Wait { until: NOW + 5 }
            );
        }
    }
    let issuer = "https://issuer.example";
    if let Ok(uri) = tollgate::discovery::jwks_uri(body, issuer) {
        assert!(tollgate::discovery::check_url(&uri, "jwks_uri").is_ok());
    }
}

/// Key import: the first byte picks one of the twelve algorithms and a form, the rest is the key:
/// a public key in PEM or DER (SubjectPublicKeyInfo, PKCS#1 `RSA PUBLIC KEY`), a private key in
/// PEM or DER (PKCS#8, PKCS#1), or a private JWK, unbound or bound to the algorithm.
///
/// Invariants: a key imports for exactly the algorithm asked for (an unbound JWK: for its own
/// `alg`); a refusal is a key error, never an internal one; an imported private key signs, and
/// (for the public-key algorithms) its public JWK imports and verifies that signature; a PEM
/// block that decodes re-encodes to one that decodes the same.
pub fn key_import(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let alg = Algorithm::ALL[usize::from(selector) % Algorithm::ALL.len()];
    let form = usize::from(selector) / Algorithm::ALL.len() % 4;
    let refused = |e: tollgate::Error| {
        assert_ne!(e.code(), ErrorCode::Internal, "{e}");
        assert!(
            e.code().http_status() == 500,
            "{:?} for a key: {e}",
            e.code()
        );
    };
    if form == 0 {
        match Key::from_public_key(alg, bytes, None) {
            Ok(key) => {
                assert_eq!(key.algorithm(), alg);
                assert!(
                    key.public_key().is_some(),
                    "a public key with no public material"
                );
            }
            Err(e) => refused(e),
        }
    } else {
        let imported = match form {
            1 => tollgate::SigningKey::from_pem_or_der(alg, bytes, None),
            2 => tollgate::SigningKey::from_jwk(bytes, None),
            _ => tollgate::SigningKey::from_jwk(bytes, Some(alg)),
        };
        match imported {
            Ok(key) => {
                if form != 2 {
                    assert_eq!(key.algorithm(), alg);
                }
                signs_and_verifies(&key);
            }
            Err(e) => refused(e),
        }
    }
    if let Ok(block) = tollgate::pem::decode(bytes) {
        if block
            .label
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b' ')
        {
            let again = tollgate::pem::encode(&block.label, &block.der);
            assert_eq!(tollgate::pem::decode(again.as_bytes()).as_ref(), Ok(&block));
        }
    }
}

/// Signs a fixed message with `key`; for a public-key algorithm, checks that the key's public JWK
/// imports as a verification key that accepts the signature (and not a changed one).
fn signs_and_verifies(key: &tollgate::SigningKey) {
    const MSG: &[u8] = b"eyJhbGciOiJub25lIn0.e30";
    let sig = key.sign(MSG).expect("an imported key signs");
    let Some(jwk) = key.public_jwk() else {
        assert_eq!(key.algorithm().key_family(), tollgate::alg::KeyFamily::Hmac);
        return;
    };
    let set = KeySet::from_jwks(jwk.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("the public half of an imported key is refused: {e}"));
    let public = set.keys().first().expect("one key");
    assert_eq!(public.algorithm(), key.algorithm());
    let alg = key.algorithm();
    let backend = public.backend();
    let verifies = |sig: &[u8]| match public.public_key().expect("public material") {
        tollgate::key::PublicKey::Rsa { n, e } => {
            tollgate::crypto::verify_rsa_raw(backend, alg, n, e, MSG, sig)
        }
        tollgate::key::PublicKey::Ec { point } => {
            tollgate::crypto::verify_raw(backend, alg, point, MSG, sig)
        }
        tollgate::key::PublicKey::Ed25519 { key } => {
            tollgate::crypto::verify_raw(backend, alg, key, MSG, sig)
        }
        other => panic!("unexpected public key {other:?}"),
    };
    assert!(
        verifies(&sig),
        "{alg}: the public half does not verify the signature"
    );
    let mut changed = sig.clone();
    if let Some(b) = changed.last_mut() {
        *b ^= 1;
    }
    assert!(!verifies(&changed), "{alg}: a changed signature verifies");
}

/// The example deployments' engines for [`snapshot_load`], apart from [`deployments`] (whose
/// snapshots other targets rely on), with their scenario tables: one set per thread, since each
/// input swaps its own snapshots in (`cargo test` replays inputs on several threads at once).
pub(crate) fn with_snapshot_engines<R>(
    f: impl FnOnce(&[(Engine, tollgate::scenario::Table)]) -> R,
) -> R {
    thread_local! {
        static ENGINES: Vec<(Engine, tollgate::scenario::Table)> = DEPLOYMENTS
            .iter()
            .map(|(name, policy, _, table)| {
                let engine = Engine::from_policy_json(policy)
                    .unwrap_or_else(|e| panic!("{name}: policy: {e}"));
                let table = tollgate::scenario::Table::from_json(table).expect("table");
                (engine, table)
            })
            .collect();
    }
    ENGINES.with(|engines| f(engines))
}

/// A key snapshot document (keys, API keys, users, revoked `jti`s, peppers) for each example
/// deployment's policy.
///
/// Invariants: a refusal is a configuration error, never an internal one; a snapshot that loads
/// swaps into its engine; every request of the deployment's table is then decided sanely, and
/// the same way twice.
pub fn snapshot_load(data: &[u8]) {
    with_snapshot_engines(|engines| snapshot_load_into(engines, data));
}

fn snapshot_load_into(engines: &[(Engine, tollgate::scenario::Table)], data: &[u8]) {
    for (engine, table) in engines {
        let snapshot = match engine.snapshot_from_json(data) {
            Ok(s) => s,
            Err(e) => {
                assert_ne!(e.code(), ErrorCode::Internal, "{e}");
                assert_eq!(e.code().http_status(), 500, "{:?}: {e}", e.code());
                continue;
            }
        };
        engine
            .swap_snapshot(snapshot)
            .expect("a snapshot built for this engine swaps in");
        for case in &table.cases {
            let d = table.decide(engine, case);
            assert_sane(&d);
            assert_eq!(
                table.decide(engine, case).to_json(),
                d.to_json(),
                "{}",
                case.name
            );
        }
    }
}

/// Builds one HMAC key set (used by the differential target and the C ABI target).
pub fn hs256_keys(secret: &[u8]) -> KeySet {
    KeySet::from_keys(vec![Key::hmac(Algorithm::HS256, secret, None).expect("key")])
        .expect("key set")
}

#[cfg(test)]
mod tests;
