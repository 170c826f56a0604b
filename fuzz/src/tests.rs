//! Replays, without libFuzzer, every input under `fuzz/regressions/<target>/` (what the fuzzers
//! found, kept as regression tests; fuzz/run.sh replays them under libFuzzer too). A few known
//! answers pin the harnesses.

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 15] = [
    ("jws_verify", crate::jws_verify),
    ("jwks_parse", crate::jwks_parse),
    ("claims_validate", crate::claims_validate),
    ("policy_load", crate::policy_load),
    ("engine_check", crate::engine_check),
    ("apikey_check", crate::apikey_check),
    ("webhook_verify", crate::webhook_verify),
    ("route_match", crate::route_match),
    ("ffi_entry", crate::ffi_entry),
    (
        "differential_jsonwebtoken",
        crate::differential_jsonwebtoken,
    ),
    ("key_source", crate::key_source),
    ("record_answer", crate::record_answer),
    ("key_import", crate::key_import),
    ("snapshot_load", crate::snapshot_load),
    ("json_strict", crate::json_strict),
];

fn replay(dir: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut n = 0;
    for (name, target) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("dir entry").path();
            let data = std::fs::read(&path).expect("input");
            eprintln!("{}", path.display());
            target(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn regressions_replay() {
    let n = replay("regressions");
    eprintln!("{n} regression inputs replayed");
    assert!(n > 0, "fuzz/regressions/ holds inputs: none were found");
}

#[test]
fn the_deployments_load_and_decide_their_tables() {
    // The first case of tenant-path: the public health route.
    let d = &crate::deployments()[3];
    let decision = d
        .engine
        .check(&tollgate::Request::new("GET", "/api/health", &[]), d.now);
    assert_eq!(decision.status, 200);
    assert!(crate::verifiers().len() >= 10, "example and RFC key sets");
}

#[test]
fn differential_known_answers() {
    use crate::differential::{
        explained, jsonwebtoken_verdict, tollgate_verdict, Direction, STRICTNESS_RULES,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = format!(r#"{{"sub":"a","exp":{}}}"#, now + 3600);
    let plain = crate::differential::sign(br#"{"alg":"HS256"}"#, claims.as_bytes());
    assert_eq!(tollgate_verdict(&plain, now), Ok(()));
    assert_eq!(jsonwebtoken_verdict(&plain), Ok(()));
    // A `crit` header: jsonwebtoken ignores it, Tollgate refuses it, and a rule says why.
    let header = br#"{"alg":"HS256","crit":["x"],"x":"1"}"#;
    let crit = crate::differential::sign(header, claims.as_bytes());
    assert!(tollgate_verdict(&crit, now).is_err());
    assert_eq!(jsonwebtoken_verdict(&crit), Ok(()));
    assert!(explained(
        Direction::Stricter,
        header,
        claims.as_bytes(),
        now
    ));
    // Duplicate members excuse Tollgate refusing a token, never Tollgate accepting one.
    let duplicated = br#"{"alg":"HS256","alg":"HS256"}"#;
    assert!(explained(
        Direction::Stricter,
        duplicated,
        claims.as_bytes(),
        now
    ));
    assert!(!explained(
        Direction::Laxer,
        duplicated,
        claims.as_bytes(),
        now
    ));
    assert_eq!(STRICTNESS_RULES.len(), 13);
    // Found by CI's 20 s run: Tollgate reads a negative nbf, jsonwebtoken refuses it.
    let negative = br#"{"iss":"joe","exp":4300819380,"nbf":-1300819100}"#;
    assert!(explained(Direction::Laxer, b"{}", negative, now));
    // Tollgate refuses 1e308 and above anywhere; serde_json reads up to f64::MAX.
    let huge = br#"{"sub":"a","exp":4300819380,"x":1.5e308}"#;
    assert!(explained(Direction::Stricter, b"{}", huge, now));
    assert!(!explained(Direction::Laxer, b"{}", huge, now));
    // Expired for both.
    let old = crate::differential::sign(br#"{"alg":"HS256"}"#, br#"{"exp":1000}"#);
    assert!(tollgate_verdict(&old, now).is_err());
    assert!(jsonwebtoken_verdict(&old).is_err());
    crate::differential_jsonwebtoken(claims.as_bytes());
}

#[test]
fn key_import_takes_its_signing_path_on_the_rfc_keys() {
    let rfc: serde_json::Value = serde_json::from_str(crate::RFC_JWS).unwrap();
    let mut imported = 0;
    for case in rfc.as_array().unwrap() {
        let private = &case["jwk"]["private"];
        let Some(alg) = case["alg"]
            .as_str()
            .and_then(|a| tollgate::Algorithm::from_name(a).ok())
        else {
            continue;
        };
        if !private.is_object() {
            continue;
        }
        let jwk = private.to_string();
        // The harness's own checks (sign, verify with the public half) run on a key that imports.
        if tollgate::SigningKey::from_jwk(jwk.as_bytes(), Some(alg)).is_ok() {
            let index = tollgate::Algorithm::ALL
                .iter()
                .position(|&a| a == alg)
                .unwrap();
            let mut input = vec![(3 * tollgate::Algorithm::ALL.len() + index) as u8];
            input.extend_from_slice(jwk.as_bytes());
            crate::key_import(&input);
            imported += 1;
        }
    }
    // HS256, RS256, ES256, EdDSA and PS384 (ES512's key is P-521, which Tollgate does not hold).
    assert!(imported >= 5, "{imported} RFC keys imported");
}

#[test]
fn snapshot_load_decides_each_table_as_written_after_its_own_snapshot() {
    for (i, (name, _, snapshot, _)) in crate::DEPLOYMENTS.iter().enumerate() {
        // The harness swaps the document into every deployment's engine (this thread's) that
        // takes it.
        crate::snapshot_load(snapshot);
        crate::with_snapshot_engines(|engines| {
            let (engine, table) = &engines[i];
            for case in &table.cases {
                let d = table.decide(engine, case);
                if let Err(why) = case.expect.check(&d) {
                    panic!("{name} {}: {why}", case.name);
                }
            }
        });
    }
}

#[test]
fn json_strict_agrees_with_its_reference_around_the_duplicate_checks_rooms() {
    // Objects past a nested object's 16 names and the top level's 64, with a name repeated
    // (plainly or escaped) or not, at the top and nested: the harness asserts that the reader
    // and the reference agree, and the known answer pins which way.
    for width in [17, 64, 65, 70] {
        let members: Vec<String> = (0..width).map(|i| format!("\"k{i}\":{i}")).collect();
        let plain = format!("{{{}}}", members.join(","));
        for (doc, accepted) in [
            (plain.clone(), true),
            (format!("{{\"x\":{plain}}}"), true),
            (plain.replace("}", ",\"k3\":0}"), false),
            (plain.replace("}", ",\"\\u006b3\":0}"), false),
            (
                format!("{{\"x\":{}}}", plain.replace("}", ",\"k0\":0}")),
                false,
            ),
        ] {
            crate::json_strict(doc.as_bytes());
            assert_eq!(
                tollgate::json::parse_object(doc.as_bytes(), 16).is_ok(),
                accepted,
                "{doc}"
            );
        }
    }
}
