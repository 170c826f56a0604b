//! The four seed deployments (`examples/*/`): each policy with its scenario table.
//!
//! The tables hold literal tokens, so every binding can replay the same bytes. This test
//! regenerates them from `signing.json` (test-only keys) and `tokens.json` (claims, with `$now±N`
//! times; opaque keys as `{"literal": …}`), and fails if the committed `snapshot.json` keys or `scenarios.json` tokens differ (all
//! the algorithms used are deterministic). Regenerate with
//! `TOLLGATE_BLESS=1 cargo test -p tollgate-tests --test scenarios`.
//! Then it replays every case through `Engine::check` and compares the decision.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tollgate::scenario::Table;
use tollgate::{mint, Algorithm, Engine, SigningKey};

pub const DEPLOYMENTS: [&str; 4] = [
    "project-oidc",
    "workspace-api",
    "service-accounts",
    "tenant-path",
];

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bless() -> bool {
    std::env::var_os("TOLLGATE_BLESS").is_some()
}

struct Signer {
    key: SigningKey,
    public_jwk: serde_json::Value,
}

fn signers(d: &Path) -> BTreeMap<String, Signer> {
    let spec = json(&d.join("signing.json"));
    let mut out = BTreeMap::new();
    for (provider, s) in spec.as_object().unwrap() {
        if provider.starts_with('_') {
            continue;
        }
        let alg = Algorithm::from_name(s["alg"].as_str().unwrap()).unwrap();
        let bytes = read(&d.join(s["key"].as_str().unwrap()));
        let kid = s.get("kid").and_then(|k| k.as_str());
        let (key, public_jwk) = if alg.is_symmetric() {
            let mut jwk: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            if let Some(kid) = kid {
                jwk["kid"] = kid.into();
            }
            (
                SigningKey::from_jwk(jwk.to_string().as_bytes(), Some(alg)).unwrap(),
                jwk,
            )
        } else {
            let key = if bytes.trim_ascii_start().starts_with(b"{") {
                SigningKey::from_jwk(&bytes, Some(alg))
                    .unwrap()
                    .with_kid(kid)
            } else {
                SigningKey::from_pem_or_der(alg, &bytes, kid).unwrap()
            };
            let jwk = key.public_jwk().unwrap();
            let kid = jwk["kid"].as_str().unwrap().to_owned();
            (key.with_kid(Some(&kid)), jwk)
        };
        out.insert(provider.clone(), Signer { key, public_jwk });
    }
    out
}

/// Replaces `"$now"`, `"$now+N"`, `"$now-N"` strings with numbers.
fn times(v: &serde_json::Value, now: i64) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) if s.starts_with("$now") => {
            let rest = &s[4..];
            let delta: i64 = if rest.is_empty() {
                0
            } else {
                rest.trim_start_matches('+').parse().unwrap()
            };
            (now + delta).into()
        }
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), times(v, now)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        serde_json::Value::Array(a) => a.iter().map(|v| times(v, now)).collect::<Vec<_>>().into(),
        other => other.clone(),
    }
}

fn tokens(d: &Path, signers: &BTreeMap<String, Signer>, now: u64) -> BTreeMap<String, String> {
    let spec = json(&d.join("tokens.json"));
    let mut out = BTreeMap::new();
    for (name, t) in spec.as_object().unwrap() {
        // Opaque credentials (API keys, personal access tokens) are written as they are.
        if let Some(literal) = t.get("literal").and_then(|l| l.as_str()) {
            out.insert(name.clone(), literal.to_owned());
            continue;
        }
        let signer = &signers[t["provider"].as_str().unwrap()];
        let mut key_kid = signer.key.kid().map(str::to_owned);
        if let Some(kid) = t.get("kid") {
            key_kid = kid.as_str().map(str::to_owned);
        }
        let claims = times(&t["claims"], now as i64).to_string();
        let token = mint_with_kid(&signer.key, claims.as_bytes(), key_kid.as_deref());
        let token = if t.get("tamper") == Some(&serde_json::Value::Bool(true)) {
            // Same header and signature, claims changed: the signature no longer covers them.
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            let mut c: serde_json::Value = serde_json::from_str(&claims).unwrap();
            c["tampered"] = true.into();
            parts[1] = tollgate::base64url::encode(c.to_string().as_bytes());
            parts.join(".")
        } else {
            token
        };
        out.insert(name.clone(), token);
    }
    out
}

/// Mints with a header `kid` that may differ from the key's own (for unknown-kid cases).
fn mint_with_kid(key: &SigningKey, claims: &[u8], kid: Option<&str>) -> String {
    if kid == key.kid() {
        return mint(key, claims, None).unwrap();
    }
    let mut header = serde_json::Map::new();
    header.insert("alg".into(), key.algorithm().name().into());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    header.insert("typ".into(), "JWT".into());
    let input = format!(
        "{}.{}",
        tollgate::base64url::encode(serde_json::Value::Object(header).to_string().as_bytes()),
        tollgate::base64url::encode(claims)
    );
    format!(
        "{input}.{}",
        tollgate::base64url::encode(&key.sign(input.as_bytes()).unwrap())
    )
}

#[test]
fn deployments_replay_their_tables() {
    let mut failures = Vec::new();
    for name in DEPLOYMENTS {
        let d = dir(name);
        let signers = signers(&d);

        // snapshot.json keys are the public halves of signing.json.
        let snapshot_path = d.join("snapshot.json");
        let mut snapshot = json(&snapshot_path);
        let keys: serde_json::Map<String, serde_json::Value> = signers
            .iter()
            .map(|(p, s)| (p.clone(), serde_json::json!({"keys": [s.public_jwk]})))
            .collect();
        let keys = serde_json::Value::Object(keys);
        if snapshot["keys"] != keys {
            assert!(
                bless(),
                "{name}/snapshot.json keys are stale; rerun with TOLLGATE_BLESS=1"
            );
            snapshot["keys"] = keys;
            std::fs::write(
                &snapshot_path,
                serde_json::to_string_pretty(&snapshot).unwrap() + "\n",
            )
            .unwrap();
        }

        // scenarios.json tokens are minted from tokens.json.
        let table_path = d.join("scenarios.json");
        let mut table = Table::from_json(&read(&table_path)).unwrap();
        assert_eq!(table.deployment, name);
        let fresh = tokens(&d, &signers, table.now);
        if table.tokens != fresh {
            assert!(
                bless(),
                "{name}/scenarios.json tokens are stale; rerun with TOLLGATE_BLESS=1"
            );
            table.tokens = fresh;
            std::fs::write(
                &table_path,
                serde_json::to_string_pretty(&table).unwrap() + "\n",
            )
            .unwrap();
        }

        let engine = Engine::from_policy_json(&read(&d.join("policy.json")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        engine
            .swap_snapshot_json(&read(&snapshot_path))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut passed = 0;
        for case in &table.cases {
            let decision = table.decide(&engine, case);
            // The text form (the WebAssembly package's) is the same document as the value.
            let text: serde_json::Value = serde_json::from_str(&decision.to_json_text())
                .unwrap_or_else(|e| panic!("{name}: {}: {e}", case.name));
            if text != decision.to_json() {
                failures.push(format!("{name}: {}: to_json_text differs", case.name));
            }
            match case.expect.check(&decision) {
                Ok(()) => passed += 1,
                Err(diff) => failures.push(format!(
                    "{name}: {}: {diff} ({})",
                    case.name, decision.message
                )),
            }
        }
        println!(
            "{name:<20} {passed:>3} of {:>3} cases as expected",
            table.cases.len()
        );
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
