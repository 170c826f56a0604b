//! End-to-end tests of the `tollgate` binary: exit codes, stderr contracts and JSON output.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

/// RFC 7515 appendix A.1: an HS256 token and its key.
const A1_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const A1_JWK: &str = r#"{"kty":"oct","alg":"HS256","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;

const NOW: &str = "1700000000";
const SECRET: &[u8; 32] = b"0123456789abcdef0123456789abcdef";

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "tollgate-cli-test-{name}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    fn write(&self, file: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.path(file);
        std::fs::write(&path, contents).unwrap();
        path_str(&path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn run_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", stdout(o)))
}

#[track_caller]
fn assert_ok(o: &Output) {
    assert_eq!(code(o), 0, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
}

#[track_caller]
fn assert_fails(o: &Output, exit: i32, stderr_prefix: &str) {
    assert_eq!(
        code(o),
        exit,
        "stdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    assert!(
        stderr(o).starts_with(stderr_prefix),
        "stderr should start with {stderr_prefix:?}: {}",
        stderr(o)
    );
}

/// Mints an HS256 token with the test secret; `extra` are more mint arguments.
fn mint_hs256(dir: &TempDir, extra: &[&str]) -> String {
    let secret = dir.write("secret.bin", SECRET);
    let mut args = vec!["mint", "--alg", "HS256", "--secret-file", &secret];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert_ok(&out);
    let token = stdout(&out);
    assert!(token.ends_with('\n'));
    token.trim_end().to_owned()
}

/// An `oct` JWKS for the test secret.
fn hs256_jwks(dir: &TempDir, kid: &str) -> String {
    let k = tollgate::base64url::encode(SECRET);
    dir.write(
        "hs.jwks",
        format!(r#"{{"keys":[{{"kty":"oct","alg":"HS256","kid":"{kid}","k":"{k}"}}]}}"#),
    )
}

#[test]
fn rfc7515_a1_token_verifies_and_expires() {
    let dir = TempDir::new("a1");
    let keys = dir.write("a1.jwk", A1_JWK);

    let out = run(&["verify", "--keys", &keys, "--now", "1300819000", A1_TOKEN]);
    assert_ok(&out);
    let v = json(&out);
    assert_eq!(v["claims"]["iss"], "joe");
    assert_eq!(v["claims"]["exp"], 1300819380);
    assert_eq!(v["claims"]["http://example.com/is_root"], true);
    assert_eq!(v["header"]["alg"], "HS256");
    assert_eq!(v["header"]["typ"], "JWT");
    assert!(v.get("kid").is_none(), "the key has no kid: {v}");
    assert!(stderr(&out).is_empty());

    // At exp itself the default 60 s leeway still accepts; without leeway it is expired.
    assert_ok(&run(&[
        "verify",
        "--keys",
        &keys,
        "--now",
        "1300819380",
        A1_TOKEN,
    ]));
    let out = run(&[
        "verify",
        "--keys",
        &keys,
        "--now",
        "1300819380",
        "--leeway",
        "0",
        A1_TOKEN,
    ]);
    assert_fails(&out, 1, "error[expired]: ");
    assert_eq!(stderr(&out).lines().count(), 1);
    assert!(out.stdout.is_empty());
    let out = run(&["verify", "--keys", &keys, "--now", "1300819440", A1_TOKEN]);
    assert_fails(&out, 1, "error[expired]: ");
    assert_ok(&run(&[
        "verify",
        "--keys",
        &keys,
        "--now",
        "1300819439",
        A1_TOKEN,
    ]));

    // Bound to another algorithm, the key refuses to load: a configuration error.
    let out = run(&["verify", "--keys", &keys, "--alg", "HS512", A1_TOKEN]);
    assert_fails(&out, 2, "error[invalid_key]: ");
}

#[test]
fn keygen_mint_verify_round_trip() {
    for alg in ["ES256", "ES384", "EdDSA", "HS256", "HS512"] {
        let dir = TempDir::new(&format!("roundtrip-{alg}"));
        let prefix = path_str(&dir.path("issuer"));
        let out = run(&["keygen", "--alg", alg, "--out", &prefix]);
        assert_ok(&out);
        let text = stdout(&out);
        let kid = text
            .lines()
            .next()
            .and_then(|l| l.split("kid ").nth(1))
            .unwrap_or_else(|| panic!("no kid in {text}"))
            .to_owned();
        let private = format!("{prefix}.key");
        let public = if alg.starts_with("HS") {
            assert!(!dir.path("issuer.pub.jwk").exists());
            format!("{prefix}.jwk")
        } else {
            assert!(!dir.path("issuer.jwk").exists());
            format!("{prefix}.pub.jwk")
        };
        assert!(text.contains(&private) && text.contains(&public), "{text}");
        let jwks: Value = serde_json::from_slice(&std::fs::read(&public).unwrap()).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], kid.as_str());
        assert_eq!(jwks["keys"][0]["alg"], alg);

        // Asymmetric keys are PEM without a kid: name it so the token carries it. `--kid=` form:
        // a thumbprint may start with '-', which clap would otherwise take for a flag.
        let kid_arg = format!("--kid={kid}");
        let out = run(&[
            "mint",
            "--alg",
            alg,
            "--key",
            &private,
            &kid_arg,
            "--claim",
            "sub=alice",
            "--ttl",
            "300",
            "--now",
            NOW,
        ]);
        assert_ok(&out);
        let token = stdout(&out).trim_end().to_owned();

        let out = run(&["verify", "--keys", &public, "--now", NOW, &token]);
        assert_ok(&out);
        let v = json(&out);
        assert_eq!(v["claims"]["sub"], "alice", "{alg}");
        assert_eq!(v["claims"]["iat"], 1700000000);
        assert_eq!(v["claims"]["exp"], 1700000300);
        assert_eq!(v["header"]["alg"], alg);
        assert_eq!(v["header"]["kid"], kid.as_str());
        assert_eq!(v["kid"], kid.as_str());

        // Also without a kid in the token: the one key bound to the algorithm is chosen.
        let out = run(&[
            "mint", "--alg", alg, "--key", &private, "--claim", "sub=bob", "--ttl", "300",
        ]);
        assert_ok(&out);
        let token = stdout(&out);
        let out = run_stdin(&["verify", "--keys", &public, "-"], token.as_bytes());
        assert_ok(&out);
        assert_eq!(json(&out)["claims"]["sub"], "bob");
    }
}

#[test]
fn keygen_files_are_private_and_never_overwritten() {
    let dir = TempDir::new("keygen-files");
    let prefix = path_str(&dir.path("k"));
    assert_ok(&run(&["keygen", "--alg", "EdDSA", "--out", &prefix]));
    let pem = std::fs::read_to_string(dir.path("k.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path("k.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = run(&["keygen", "--alg", "EdDSA", "--out", &prefix]);
    assert_fails(&out, 2, "error: ");
    assert!(stderr(&out).contains("never overwritten"));
    assert_eq!(std::fs::read_to_string(dir.path("k.key")).unwrap(), pem);
}

#[test]
fn keygen_prints_private_then_public_without_out() {
    let out = run(&["keygen", "--alg", "ES256"]);
    assert_ok(&out);
    let text = stdout(&out);
    let begin = text.find("-----BEGIN PRIVATE KEY-----").unwrap();
    let end = text.find("-----END PRIVATE KEY-----").unwrap();
    let jwk_start = text[end..].find('{').unwrap() + end;
    assert!(begin < end);
    let jwk: Value = serde_json::from_str(&text[jwk_start..]).unwrap();
    assert_eq!(jwk["kty"], "EC");
    assert!(jwk.get("d").is_none(), "the public JWK must not hold d");

    let out = run(&["keygen", "--alg", "HS384"]);
    assert_ok(&out);
    let text = stdout(&out);
    let jwk: Value = serde_json::from_str(&text[text.find('{').unwrap()..]).unwrap();
    assert_eq!(jwk["kty"], "oct");
    assert_eq!(jwk["alg"], "HS384");
}

#[test]
fn keygen_rsa_is_refused_with_openssl_instructions() {
    for alg in ["RS256", "PS512"] {
        let out = run(&["keygen", "--alg", alg]);
        assert_fails(&out, 2, "error[key_generation_failed]: ");
        assert!(stderr(&out).contains("openssl genpkey"), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn stdin_token_loses_exactly_one_trailing_newline() {
    let dir = TempDir::new("stdin");
    let keys = dir.write("a1.jwk", A1_JWK);
    let verify = ["verify", "--keys", &keys, "--now", "1300819000", "-"];
    for ending in ["", "\n", "\r\n"] {
        let out = run_stdin(&verify, format!("{A1_TOKEN}{ending}").as_bytes());
        assert_ok(&out);
        assert_eq!(json(&out)["claims"]["iss"], "joe");
    }
    for ending in ["\n\n", "\r\n\n", " \n", "\n "] {
        let out = run_stdin(&verify, format!("{A1_TOKEN}{ending}").as_bytes());
        assert_fails(&out, 1, "error[");
    }
    // A newline inside the token is never removed.
    let (head, tail) = A1_TOKEN.split_at(60);
    let out = run_stdin(&verify, format!("{head}\n{tail}\n").as_bytes());
    assert_fails(&out, 1, "error[invalid_base64]: ");
    // A token given as an argument is used byte-for-byte.
    let with_newline = format!("{A1_TOKEN}\n");
    let out = run(&[
        "verify",
        "--keys",
        &keys,
        "--now",
        "1300819000",
        &with_newline,
    ]);
    assert_fails(&out, 1, "error[invalid_base64]: ");
}

#[test]
fn configuration_errors_exit_2() {
    let dir = TempDir::new("config");
    let keys = dir.write("a1.jwk", A1_JWK);
    let missing = path_str(&dir.path("missing.jwk"));

    let out = run(&["verify", "--keys", &missing, A1_TOKEN]);
    assert_fails(&out, 2, "error: cannot read key file ");

    let bad = dir.write("bad.jwk", r#"{"keys":3}"#);
    assert_fails(
        &run(&["verify", "--keys", &bad, A1_TOKEN]),
        2,
        "error[invalid_key_set]: ",
    );
    let dup = dir.write("dup.jwk", r#"{"kty":"oct","kty":"oct"}"#);
    assert_fails(
        &run(&["verify", "--keys", &dup, A1_TOKEN]),
        2,
        "error[invalid_key_set]: ",
    );
    let weak = dir.write("weak.jwk", r#"{"kty":"oct","alg":"HS256","k":"c2hvcnQ"}"#);
    assert_fails(
        &run(&["verify", "--keys", &weak, A1_TOKEN]),
        2,
        "error[weak_key]: ",
    );
    let garbage = dir.write(
        "garbage.pem",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    );
    assert_fails(
        &run(&["verify", "--keys", &garbage, A1_TOKEN]),
        2,
        "error: ",
    );
    assert_fails(
        &run(&["verify", "--keys", &garbage, "--alg", "ES256", A1_TOKEN]),
        2,
        "error[invalid_key]: ",
    );

    let out = run(&["verify", "--keys", &keys, "--leeway", "601", A1_TOKEN]);
    assert_fails(&out, 2, "error[invalid_options]: ");
    assert_fails(
        &run(&["verify", "--keys", &keys, "--issuer", "", A1_TOKEN]),
        2,
        "error[invalid_options]: ",
    );
    // Usage errors (clap).
    assert_eq!(
        code(&run(&[
            "verify", "--keys", &keys, "--alg", "none", A1_TOKEN
        ])),
        2
    );
    assert_eq!(
        code(&run(&[
            "verify", "--keys", &keys, "--alg", "hs256", A1_TOKEN
        ])),
        2
    );
    assert_eq!(code(&run(&["verify", "--keys", &keys])), 2);
    assert_eq!(code(&run(&["verify", A1_TOKEN])), 2);
    assert_eq!(
        code(&run(&[
            "verify", "--keys", &keys, "--leeway", "-1", A1_TOKEN
        ])),
        2
    );
    assert_eq!(code(&run(&["frobnicate"])), 2);
    assert_eq!(code(&run(&[])), 2);
}

#[test]
fn unknown_kid_gets_a_refresh_hint() {
    let dir = TempDir::new("kid");
    let keys = hs256_jwks(&dir, "current");
    let token = mint_hs256(&dir, &["--kid", "retired", "--ttl", "60", "--now", NOW]);
    let out = run(&["verify", "--keys", &keys, "--now", NOW, &token]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("error[unknown_kid]: "), "{err}");
    assert_eq!(
        lines[1],
        r#"hint: the key set has no kid "retired"; refresh it and retry"#
    );

    let token = mint_hs256(&dir, &["--kid", "current", "--ttl", "60", "--now", NOW]);
    let out = run(&["verify", "--keys", &keys, "--now", NOW, &token]);
    assert_ok(&out);
    assert_eq!(json(&out)["kid"], "current");
}

#[test]
fn claim_rules_follow_the_options() {
    let dir = TempDir::new("rules");
    let keys = hs256_jwks(&dir, "k1");
    let verify = |token: &str, extra: &[&str]| {
        let mut args = vec!["verify", "--keys", keys.as_str(), "--now", NOW];
        args.extend_from_slice(extra);
        args.push(token);
        run(&args)
    };

    // --require replaces the default (exp).
    let no_exp = mint_hs256(&dir, &["--kid", "k1", "--claim", "sub=alice"]);
    assert_fails(&verify(&no_exp, &[]), 1, "error[missing_claim]: ");
    assert_ok(&verify(&no_exp, &["--require", "sub"]));
    let out = verify(&no_exp, &["--require", "sub", "--require", "jti"]);
    assert_fails(&out, 1, "error[missing_claim]: ");
    assert!(stderr(&out).contains("jti"));

    let token = mint_hs256(
        &dir,
        &[
            "--kid",
            "k1",
            "--claim",
            "iss=https://idp.example",
            "--claim",
            "aud=api",
            "--typ",
            "at+jwt",
            "--ttl",
            "3600",
            "--now",
            NOW,
        ],
    );
    assert_fails(&verify(&token, &[]), 1, "error[invalid_audience]: ");
    let good = ["--issuer", "https://idp.example", "--audience", "api"];
    assert_ok(&verify(&token, &good));
    assert_ok(&verify(
        &token,
        &["--audience", "other", "--audience", "api"],
    ));
    assert_fails(
        &verify(
            &token,
            &["--issuer", "https://evil.example", "--audience", "api"],
        ),
        1,
        "error[invalid_issuer]: ",
    );
    assert_fails(
        &verify(&token, &["--audience", "billing"]),
        1,
        "error[invalid_audience]: ",
    );
    assert_ok(&verify(
        &token,
        &["--audience", "api", "--typ", "application/at+jwt"],
    ));
    assert_fails(
        &verify(&token, &["--audience", "api", "--typ", "JWT"]),
        1,
        "error[invalid_typ]: ",
    );
    assert_fails(
        &verify(&token, &["--audience", "api", "--max-lifetime", "600"]),
        1,
        "error[lifetime_too_long]: ",
    );
    assert_ok(&verify(
        &token,
        &["--audience", "api", "--max-lifetime", "3600"],
    ));

    // Without --now the system clock is used: a token minted now for an hour is valid now.
    let fresh = mint_hs256(&dir, &["--kid", "k1", "--ttl", "3600"]);
    let out = run(&["verify", "--keys", &keys, &fresh]);
    assert_ok(&out);
}

#[test]
fn tampered_and_forged_tokens_are_rejected() {
    let dir = TempDir::new("tamper");
    let keys = hs256_jwks(&dir, "k1");
    let token = mint_hs256(&dir, &["--kid", "k1", "--ttl", "60", "--now", NOW]);
    let parts: Vec<&str> = token.split('.').collect();
    let payload = parts[1];
    let flipped = if payload.starts_with('A') { "B" } else { "A" };
    let tampered = format!("{}.{flipped}{}.{}", parts[0], &payload[1..], parts[2]);
    let out = run(&["verify", "--keys", &keys, "--now", NOW, &tampered]);
    assert_fails(&out, 1, "error[invalid_signature]: ");

    let none = format!("eyJhbGciOiJub25lIn0.{payload}.");
    assert_fails(
        &run(&["verify", "--keys", &keys, &none]),
        1,
        "error[alg_none]: ",
    );
    let out = run(&["verify", "--keys", &keys, &"a".repeat(9000)]);
    assert_fails(&out, 1, "error[token_too_large]: ");
}

#[test]
fn pem_and_der_public_keys_need_alg() {
    let dir = TempDir::new("pem");
    let prefix = path_str(&dir.path("ed"));
    let out = run(&["keygen", "--alg", "EdDSA", "--out", &prefix]);
    assert_ok(&out);
    let jwks: Value =
        serde_json::from_slice(&std::fs::read(format!("{prefix}.pub.jwk")).unwrap()).unwrap();
    let x = tollgate::base64url::decode(jwks["keys"][0]["x"].as_str().unwrap().as_bytes()).unwrap();
    // SubjectPublicKeyInfo for Ed25519 (RFC 8410): a fixed 12-byte prefix, then the key.
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend_from_slice(&x);
    let pem = dir.write("ed.pub.pem", tollgate::pem::encode("PUBLIC KEY", &der));
    let der = dir.write("ed.pub.der", &der);

    let key = format!("{prefix}.key");
    let with_kid = run(&[
        "mint", "--alg", "EdDSA", "--key", &key, "--kid", "some-kid", "--claim", "sub=dana",
        "--ttl", "60", "--now", NOW,
    ]);
    assert_ok(&with_kid);
    let without_kid = run(&[
        "mint", "--alg", "EdDSA", "--key", &key, "--ttl", "60", "--now", NOW,
    ]);
    assert_ok(&without_kid);
    for token in [stdout(&with_kid), stdout(&without_kid)] {
        let token = token.trim_end();
        for file in [&pem, &der] {
            let out = run(&[
                "verify", "--keys", file, "--alg", "EdDSA", "--now", NOW, token,
            ]);
            assert_ok(&out);
            let v = json(&out);
            assert!(
                v.get("kid").is_none(),
                "a PEM key has no kid to report: {v}"
            );
        }
        assert_fails(
            &run(&["verify", "--keys", &pem, "--now", NOW, token]),
            2,
            "error: ",
        );
        assert_fails(
            &run(&[
                "verify", "--keys", &pem, "--alg", "ES256", "--now", NOW, token,
            ]),
            2,
            "error[invalid_key]: ",
        );
    }
    // Another key's token does not verify.
    let other = TempDir::new("pem-other");
    let other_prefix = path_str(&other.path("o"));
    assert_ok(&run(&["keygen", "--alg", "EdDSA", "--out", &other_prefix]));
    let out = run(&[
        "mint",
        "--alg",
        "EdDSA",
        "--key",
        &format!("{other_prefix}.key"),
        "--ttl",
        "60",
        "--now",
        NOW,
    ]);
    let out = run(&[
        "verify",
        "--keys",
        &pem,
        "--alg",
        "EdDSA",
        "--now",
        NOW,
        stdout(&out).trim_end(),
    ]);
    assert_fails(&out, 1, "error[invalid_signature]: ");
}

#[test]
fn decode_shows_unverified_header_and_payload() {
    let out = run(&["decode", A1_TOKEN]);
    assert_ok(&out);
    assert_eq!(
        stderr(&out).trim_end(),
        "UNVERIFIED: the signature was not checked; do not trust these claims"
    );
    let v = json(&out);
    assert_eq!(v["header"]["alg"], "HS256");
    assert_eq!(v["payload"]["iss"], "joe");
    assert_eq!(v["payload"]["exp"], 1300819380);

    let out = run_stdin(&["decode", "-"], format!("{A1_TOKEN}\r\n").as_bytes());
    assert_ok(&out);
    assert_eq!(json(&out)["payload"]["iss"], "joe");

    // A payload that is not JSON is shown as a string.
    let text = format!(
        "eyJhbGciOiJIUzI1NiJ9.{}.{}",
        tollgate::base64url::encode(b"hello"),
        tollgate::base64url::encode(&[0u8; 32])
    );
    let out = run(&["decode", &text]);
    assert_ok(&out);
    assert_eq!(json(&out)["payload"], "hello");

    assert_fails(
        &run(&["decode", "not-a-token"]),
        1,
        "error[malformed_token]: ",
    );
    let none = "eyJhbGciOiJub25lIn0.e30.";
    let out = run(&["decode", none]);
    assert_fails(&out, 1, "error[alg_none]: ");
    assert!(!stderr(&out).contains("UNVERIFIED"));
}

#[test]
fn mint_types_claim_values() {
    let dir = TempDir::new("mint");
    let token = mint_hs256(
        &dir,
        &[
            "--claims",
            r#"{"sub":"x","exp":5,"nested":{"a":[1]}}"#,
            "--claim",
            "n=5",
            "--claim",
            "s=alice",
            "--claim",
            r#"q="5""#,
            "--claim",
            "b=true",
            "--claim",
            r#"roles=["a","b"]"#,
            "--claim",
            "url=https://a.example/?x=1",
            "--claim",
            "sub=y",
            "--ttl",
            "300",
            "--now",
            NOW,
            "--typ",
            "at+jwt",
        ],
    );
    let out = run(&["decode", &token]);
    assert_ok(&out);
    let v = json(&out);
    let c = &v["payload"];
    assert_eq!(c["n"], 5);
    assert!(c["n"].is_number());
    assert_eq!(c["s"], "alice");
    assert_eq!(c["q"], "5");
    assert!(c["q"].is_string());
    assert_eq!(c["b"], true);
    assert_eq!(c["roles"], serde_json::json!(["a", "b"]));
    assert_eq!(c["url"], "https://a.example/?x=1");
    assert_eq!(c["sub"], "y", "--claim overrides --claims");
    assert_eq!(c["nested"]["a"][0], 1);
    assert_eq!(c["exp"], 5, "--ttl keeps an explicit exp");
    assert_eq!(c["iat"], 1700000000);
    assert_eq!(v["header"]["typ"], "at+jwt");
    assert!(v["header"].get("kid").is_none());
}

#[test]
fn mint_refuses_bad_keys_and_claims() {
    let dir = TempDir::new("mint-bad");
    let secret = dir.write("secret.bin", SECRET);
    let short = dir.write("short.bin", b"too short");
    let base = ["mint", "--alg", "HS256", "--secret-file", secret.as_str()];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        run(&args)
    };
    assert_fails(&with(&["--claims", "[1]"]), 2, "error: ");
    assert_fails(&with(&["--claims", "{"]), 2, "error: ");
    assert_fails(&with(&["--claims", r#"{"a":1,"a":2}"#]), 2, "error: ");
    assert_fails(&with(&["--claim", "novalue"]), 2, "error: ");
    assert_fails(&with(&["--claim", "=1"]), 2, "error: ");
    assert_fails(
        &run(&["mint", "--alg", "HS256", "--secret-file", &short]),
        2,
        "error[weak_key]: ",
    );
    assert_fails(
        &run(&["mint", "--alg", "ES256", "--secret-file", &secret]),
        2,
        "error[invalid_key]: ",
    );
    assert_fails(
        &run(&["mint", "--alg", "ES256", "--key", &secret]),
        2,
        "error[invalid_key]: ",
    );
    let missing = path_str(&dir.path("missing.pem"));
    assert_fails(
        &run(&["mint", "--alg", "ES256", "--key", &missing]),
        2,
        "error: ",
    );
    // Exactly one of --key and --secret-file (clap).
    assert_eq!(code(&run(&["mint", "--alg", "HS256"])), 2);
    assert_eq!(
        code(&run(&[
            "mint",
            "--alg",
            "HS256",
            "--key",
            &secret,
            "--secret-file",
            &secret
        ])),
        2
    );
    assert_eq!(
        code(&run(&["mint", "--alg", "none", "--secret-file", &secret])),
        2
    );

    // A private JWK must match --alg.
    let hs = TempDir::new("mint-jwk");
    let prefix = path_str(&hs.path("h"));
    assert_ok(&run(&["keygen", "--alg", "HS256", "--out", &prefix]));
    let key = format!("{prefix}.key");
    assert_ok(&run(&["mint", "--alg", "HS256", "--key", &key]));
    assert_fails(
        &run(&["mint", "--alg", "HS384", "--key", &key]),
        2,
        "error[invalid_key]: ",
    );
}

#[test]
fn demo_replays_every_deployment() {
    let out = run(&["demo"]);
    assert_ok(&out);
    let text = stdout(&out);
    let last = text.lines().last().unwrap();
    let (count, rest) = last.split_once(" requests across ").unwrap();
    let count: usize = count.parse().unwrap();
    assert!(
        rest.contains(" deployment") && rest.contains(", all as expected"),
        "{last}"
    );
    // The header, one line per request, a blank line, the summary.
    assert_eq!(text.lines().count(), count + 3, "{text}");
    assert!(text
        .lines()
        .any(|l| l.starts_with("tenant-path ") && l.contains(" 404 ") && l.ends_with("not_found")));
    assert!(!text.contains("MISMATCH"));
    // Tokens are named, never printed.
    let table = tenant_path_table();
    assert!(text.contains("[token: alice]"), "{text}");
    for token in table["tokens"].as_object().unwrap().values() {
        assert!(!text.contains(token.as_str().unwrap()));
    }
}

fn example(deployment: &str, file: &str) -> String {
    format!(
        "{}/../examples/{deployment}/{file}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn tenant_path_table() -> Value {
    let text = std::fs::read(example("tenant-path", "scenarios.json")).unwrap();
    serde_json::from_slice(&text).unwrap()
}

#[test]
fn check_prints_the_decision_whatever_its_status() {
    let table = tenant_path_table();
    let alice = format!("token: {}", table["tokens"]["alice"].as_str().unwrap());
    let now = table["now"].as_u64().unwrap().to_string();
    let policy = example("tenant-path", "policy.json");
    let keys = example("tenant-path", "snapshot.json");
    let check = |path: &str, header: Option<&str>| {
        let mut args = vec![
            "check", "--policy", &policy, "--keys", &keys, "--path", path, "--now", &now,
        ];
        if let Some(h) = header {
            args.extend(["-H", h]);
        }
        let out = run(&args);
        assert_ok(&out);
        json(&out)
    };

    let allowed = check("/api/tenants/A/items", Some(&alice));
    assert_eq!(allowed["status"], 200, "{allowed}");
    assert_eq!(allowed["reason"], "ok");
    assert_eq!(allowed["principal"]["subject"], "alice");
    assert_eq!(allowed["principal"]["tenant"], "A");

    let hidden = check("/api/tenants/C/items", Some(&alice));
    assert_eq!(hidden["status"], 404, "{hidden}");
    assert_eq!(hidden["reason"], "not_found");

    let anonymous = check("/api/tenants/A/items", None);
    assert_eq!(anonymous["status"], 401, "{anonymous}");
    assert_eq!(anonymous["reason"], "missing_credentials");

    // --method, and the header value trimmed of surrounding spaces.
    let spaced = format!("token:   {}  ", table["tokens"]["alice"].as_str().unwrap());
    let out = run(&[
        "check",
        "--policy",
        &policy,
        "--keys",
        &keys,
        "--method",
        "PUT",
        "--path",
        "/api/tenants/A/settings",
        "-H",
        &spaced,
        "--now",
        &now,
    ]);
    assert_ok(&out);
    assert_eq!(json(&out)["status"], 200, "{}", stdout(&out));
}

#[test]
fn check_refuses_bad_input() {
    let dir = TempDir::new("check");
    let policy = example("tenant-path", "policy.json");
    let keys = example("tenant-path", "snapshot.json");
    let bad_policy = dir.write("policy.json", r#"{"version": 1, "routes": 7}"#);
    assert_fails(
        &run(&[
            "check",
            "--policy",
            &bad_policy,
            "--keys",
            &keys,
            "--path",
            "/api/health",
        ]),
        2,
        "error[invalid_policy]",
    );
    let bad_keys = dir.write("snapshot.json", r#"{"keys": {"nobody": {"keys": []}}}"#);
    assert_fails(
        &run(&[
            "check",
            "--policy",
            &policy,
            "--keys",
            &bad_keys,
            "--path",
            "/api/health",
        ]),
        2,
        "error[invalid_snapshot]",
    );
    let missing = path_str(&dir.path("missing.json"));
    assert_fails(
        &run(&[
            "check",
            "--policy",
            &missing,
            "--keys",
            &keys,
            "--path",
            "/api/health",
        ]),
        2,
        "error: cannot read policy file",
    );
    let out = run(&[
        "check",
        "--policy",
        &policy,
        "--keys",
        &keys,
        "--path",
        "/api/health",
        "-H",
        "token",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn every_subcommand_help_has_examples() {
    for cmd in ["verify", "decode", "mint", "keygen", "check", "demo"] {
        let out = run(&[cmd, "--help"]);
        assert_ok(&out);
        let help = stdout(&out);
        assert!(help.contains("Examples:"), "{cmd}: {help}");
        assert!(
            help.contains(&format!("tollgate {cmd} "))
                || help.contains(&format!("tollgate {cmd}\n")),
            "{cmd}: {help}"
        );
    }
    let out = run(&["--help"]);
    assert_ok(&out);
    assert!(stdout(&out).contains("Exit codes"));
    assert_ok(&run(&["--version"]));
}

// ---- tollgate webhook ----------------------------------------------------------------------

const WH_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WH_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const WH_TS: &str = "1614265330";
const WH_BODY: &str = r#"{"test": 2432232314}"#;
const WH_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

/// The three header values printed by `webhook sign`.
fn signed_headers(out: &Output) -> (String, String, String) {
    assert_ok(out);
    let text = stdout(out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let value = |line: &str, name: &str| {
        line.strip_prefix(&format!("{name}: "))
            .unwrap_or_else(|| panic!("{line:?} is not {name}"))
            .to_owned()
    };
    (
        value(lines[0], "webhook-id"),
        value(lines[1], "webhook-timestamp"),
        value(lines[2], "webhook-signature"),
    )
}

#[test]
fn webhook_official_known_answer_verifies() {
    let dir = TempDir::new("wh-kat");
    let body = dir.write("body.json", WH_BODY);
    let out = run(&[
        "webhook",
        "verify",
        "--secret",
        WH_SECRET,
        "--id",
        WH_ID,
        "--timestamp",
        WH_TS,
        "--signature",
        WH_SIG,
        "--now",
        WH_TS,
        &body,
    ]);
    assert_ok(&out);
    // Signing the same inputs reproduces the known answer, from a file or standard input.
    let out = run(&[
        "webhook",
        "sign",
        "--secret",
        WH_SECRET,
        "--id",
        WH_ID,
        "--timestamp",
        WH_TS,
        &body,
    ]);
    assert_eq!(
        signed_headers(&out),
        (WH_ID.into(), WH_TS.into(), WH_SIG.into())
    );
    let out = run_stdin(
        &[
            "webhook",
            "sign",
            "--secret",
            WH_SECRET,
            "--id",
            WH_ID,
            "--timestamp",
            WH_TS,
            "-",
        ],
        WH_BODY.as_bytes(),
    );
    assert_eq!(signed_headers(&out).2, WH_SIG);
    // The body is byte-exact: a trailing newline changes it.
    let out = run_stdin(
        &[
            "webhook",
            "verify",
            "--secret",
            WH_SECRET,
            "--id",
            WH_ID,
            "--timestamp",
            WH_TS,
            "--signature",
            WH_SIG,
            "--now",
            WH_TS,
            "-",
        ],
        format!("{WH_BODY}\n").as_bytes(),
    );
    assert_fails(&out, 1, "error[webhook_signature_invalid]: ");
}

#[test]
fn webhook_sign_then_verify_round_trips() {
    let dir = TempDir::new("wh-round");
    let body = dir.write("body.bin", b"\x00\x01 any bytes\n");
    // v1 with a generated secret, then v1a with a generated pair; the timestamp from the clock.
    let out = run(&["webhook", "keygen"]);
    assert_ok(&out);
    let secret = stdout(&out)
        .lines()
        .find(|l| l.starts_with("whsec_"))
        .unwrap()
        .to_owned();
    let out = run(&["webhook", "keygen", "--scheme", "v1a"]);
    assert_ok(&out);
    let text = stdout(&out);
    let sk = text
        .lines()
        .find(|l| l.starts_with("whsk_"))
        .unwrap()
        .to_owned();
    let pk = text
        .lines()
        .find(|l| l.starts_with("whpk_"))
        .unwrap()
        .to_owned();
    for (sign_key, verify_key) in [(&secret, &secret), (&sk, &pk)] {
        let (id, ts, sig) = signed_headers(&run(&[
            "webhook", "sign", "--secret", sign_key, "--id", "evt_1", &body,
        ]));
        let out = run(&[
            "webhook",
            "verify",
            "--secret",
            verify_key,
            "--id",
            &id,
            "--timestamp",
            &ts,
            "--signature",
            &sig,
            &body,
        ]);
        assert_ok(&out);
        assert_eq!(stdout(&out), "valid\n");
    }
    // Rotation: two --secret, the signature made with the second.
    let (id, ts, sig) = signed_headers(&run(&[
        "webhook", "sign", "--secret", &sk, "--id", "evt_2", &body,
    ]));
    let out = run(&[
        "webhook",
        "verify",
        "--secret",
        &secret,
        "--secret",
        &pk,
        "--id",
        &id,
        "--timestamp",
        &ts,
        "--signature",
        &sig,
        &body,
    ]);
    assert_ok(&out);
}

#[test]
fn webhook_verify_rejections_exit_1() {
    let dir = TempDir::new("wh-reject");
    let body = dir.write("body.json", WH_BODY);
    let verify = |extra: &[&str]| {
        let mut args = vec!["webhook", "verify", "--secret", WH_SECRET, "--id", WH_ID];
        args.extend_from_slice(extra);
        args.push(&body);
        run(&args)
    };
    // Stale: now = ts + 301 with the default tolerance.
    let out = verify(&[
        "--timestamp",
        WH_TS,
        "--signature",
        WH_SIG,
        "--now",
        "1614265631",
    ]);
    assert_fails(&out, 1, "error[webhook_timestamp_out_of_tolerance]: ");
    assert!(out.stdout.is_empty());
    // ...accepted with a wider tolerance.
    let out = verify(&[
        "--timestamp",
        WH_TS,
        "--signature",
        WH_SIG,
        "--now",
        "1614265631",
        "--tolerance",
        "301",
    ]);
    assert_ok(&out);
    // Tampered signature, malformed timestamp and id.
    let bad_sig = WH_SIG.replace("1OE=", "1OA=");
    let out = verify(&[
        "--timestamp",
        WH_TS,
        "--signature",
        &bad_sig,
        "--now",
        WH_TS,
    ]);
    assert_fails(&out, 1, "error[webhook_signature_invalid]: ");
    let out = verify(&[
        "--timestamp",
        "1614265330.0",
        "--signature",
        WH_SIG,
        "--now",
        WH_TS,
    ]);
    assert_fails(&out, 1, "error[webhook_malformed]: ");
    let out = run(&[
        "webhook",
        "verify",
        "--secret",
        WH_SECRET,
        "--id",
        "a.b",
        "--timestamp",
        WH_TS,
        "--signature",
        WH_SIG,
        "--now",
        WH_TS,
        &body,
    ]);
    assert_fails(&out, 1, "error[webhook_malformed]: ");
}

#[test]
fn webhook_usage_errors_exit_2() {
    let dir = TempDir::new("wh-usage");
    let body = dir.write("body.json", WH_BODY);
    let verify_with = |secret: &str| {
        run(&[
            "webhook",
            "verify",
            "--secret",
            secret,
            "--id",
            WH_ID,
            "--timestamp",
            WH_TS,
            "--signature",
            WH_SIG,
            "--now",
            WH_TS,
            &body,
        ])
    };
    // Too short (16 bytes), non-canonical, a private key, no prefix.
    for secret in [
        "whsec_AQEBAQEBAQEBAQEBAQEBAQ==",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
        "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        let out = verify_with(secret);
        assert_fails(&out, 2, "error[invalid_webhook_secret]: ");
        assert!(!stderr(&out).contains("MfKQ9r8G"), "{}", stderr(&out));
    }
    let out = run(&[
        "webhook", "sign", "--secret", "whsec_", "--id", WH_ID, &body,
    ]);
    assert_fails(&out, 2, "error[invalid_webhook_secret]: ");
    let out = run(&[
        "webhook", "sign", "--secret", WH_SECRET, "--id", "a.b", &body,
    ]);
    assert_fails(&out, 2, "error[signing_failed]: ");
    let out = run(&[
        "webhook",
        "verify",
        "--secret",
        WH_SECRET,
        "--id",
        WH_ID,
        "--timestamp",
        WH_TS,
        "--signature",
        WH_SIG,
        "--tolerance",
        "86401",
        &body,
    ]);
    assert_fails(&out, 2, "error[invalid_options]: ");
    let out = run(&[
        "webhook",
        "verify",
        "--secret",
        WH_SECRET,
        "--id",
        WH_ID,
        "--timestamp",
        WH_TS,
        "--signature",
        WH_SIG,
        &dir.path("missing.json").to_string_lossy(),
    ]);
    assert_fails(&out, 2, "error: cannot read the body file");
    // clap: --secret is required.
    let out = run(&[
        "webhook",
        "verify",
        "--id",
        WH_ID,
        "--timestamp",
        WH_TS,
        "--signature",
        WH_SIG,
        &body,
    ]);
    assert_eq!(code(&out), 2);
}

#[test]
fn webhook_help_has_examples() {
    for cmd in [
        &["webhook"][..],
        &["webhook", "sign"],
        &["webhook", "verify"],
        &["webhook", "keygen"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = run(&args);
        assert_ok(&out);
        let help = stdout(&out);
        assert!(help.contains("Examples:"), "{cmd:?}: {help}");
        assert!(
            help.contains(&format!("tollgate {} ", cmd.join(" "))),
            "{cmd:?}: {help}"
        );
    }
}

// ---- tollgate apikey -----------------------------------------------------------------------

/// A key built by hand, its checksum computed by Python's zlib.crc32 (see tests/apikeys.rs).
const KNOWN_KEY: &str = "fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBz";

#[test]
fn apikey_new_prints_a_key_that_checks_and_hashes_to_its_record() {
    let out = run(&["apikey", "new", "--prefix", "fln_live"]);
    assert_ok(&out);
    let key = stdout(&out).trim_end().to_owned();
    assert!(
        key.starts_with("fln_live_") && key.len() == "fln_live_".len() + 38,
        "{key}"
    );
    assert_ok(&run(&["apikey", "check", &key]));

    let out = run(&[
        "apikey",
        "new",
        "--prefix",
        "fln_live",
        "--json",
        "--owner",
        "sa_billing",
        "--tenant",
        "org_1",
        "--scope",
        "invoices:read",
        "--expires-in",
        "3600",
        "--now",
        "1767225600",
    ]);
    assert_ok(&out);
    let v = json(&out);
    let key = v["key"].as_str().unwrap();
    assert_eq!(v["record"]["owner"], "sa_billing");
    assert_eq!(v["record"]["tenant"], "org_1");
    assert_eq!(v["record"]["scopes"], serde_json::json!(["invoices:read"]));
    assert_eq!(v["record"]["expires"], 1767229200);
    assert_eq!(v["record"]["hash"], v["hash"]);
    assert!(
        !v["record"].to_string().contains(key),
        "the record must not hold the key"
    );
    let hashed = run(&["apikey", "hash", key]);
    assert_ok(&hashed);
    assert_eq!(stdout(&hashed).trim_end(), v["hash"].as_str().unwrap());
}

#[test]
fn apikey_check_and_hash_known_answers() {
    let out = run(&["apikey", "check", KNOWN_KEY]);
    assert_ok(&out);
    assert!(stdout(&out).contains("prefix fln_live"));
    let typo = KNOWN_KEY.replace("abc", "abd");
    assert_fails(
        &run(&["apikey", "check", &typo]),
        1,
        "error[malformed_api_key]: ",
    );
    assert_fails(
        &run(&["apikey", "check", "--prefix", "pat", KNOWN_KEY]),
        1,
        "error[malformed_api_key]: ",
    );
    let out = run(&["apikey", "hash", KNOWN_KEY]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "sha256:TprC_RyjdnqddB9d5lsKcvVEQG9hsgyzek7UT-pr1so\n"
    );

    let dir = TempDir::new("apikey-pepper");
    let pepper = dir.write("pepper", b"pepper-pepper-16");
    let out = run(&["apikey", "hash", "--pepper-file", &pepper, KNOWN_KEY]);
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "hmac-sha256:zyb-Al2CgV2wiB__aXS2I2TnY9RaiqudN4l70W8gAFU\n"
    );
    let short = dir.write("short", b"too-short");
    assert_fails(
        &run(&["apikey", "hash", "--pepper-file", &short, KNOWN_KEY]),
        2,
        "error: ",
    );
    assert_fails(
        &run(&["apikey", "new", "--prefix", "bad-prefix"]),
        2,
        "error[key_generation_failed]: ",
    );
    for sub in ["new", "check", "hash"] {
        let out = run(&["apikey", sub, "--help"]);
        assert_ok(&out);
        assert!(stdout(&out).contains("Examples:"), "{sub}");
    }
}

// ---- backends ------------------------------------------------------------------------------

#[test]
fn verify_runs_on_the_backend_asked_for() {
    let dir = TempDir::new("backend");
    let keys = dir.write("a1.jwk", A1_JWK);
    let base = ["verify", "--keys", &keys, "--now", "1300819000"];
    let with = |backend: &str| {
        let mut args = base.to_vec();
        args.extend(["--backend", backend, A1_TOKEN]);
        run(&args)
    };
    let out = with("ring");
    assert_ok(&out);
    assert_eq!(json(&out)["claims"]["iss"], "joe");
    let out = with("aws-lc");
    if cfg!(feature = "aws-lc") {
        assert_ok(&out);
        assert_eq!(json(&out)["claims"]["iss"], "joe");
    } else {
        assert_eq!(code(&out), 2);
        assert!(
            stderr(&out).contains("no aws-lc backend"),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(code(&with("openssl")), 2);
}

// ---- secrets kept out of the command line ---------------------------------------------------

/// `webhook verify` of `signed` (id, timestamp, signature) at its timestamp, with the key
/// arguments `keys` (`--secret …`, `--secret-file …`).
fn verify_with(keys: &[&str], signed: &(String, String, String), body: &str) -> Output {
    let mut args = vec!["webhook", "verify"];
    args.extend_from_slice(keys);
    args.extend_from_slice(&[
        "--id",
        &signed.0,
        "--timestamp",
        &signed.1,
        "--signature",
        &signed.2,
        "--now",
        &signed.1,
        body,
    ]);
    run(&args)
}

/// Webhook keys from files, API keys from standard input and the store's URL from a file: the
/// same answers as on the command line, which `ps` and shell history see.
#[test]
fn secrets_can_stay_out_of_the_command_line() {
    let dir = TempDir::new("secrets");
    let body = dir.write("body.json", WH_BODY);
    let secret = dir.write("whsec.txt", format!("{WH_SECRET}\n"));
    let out = run(&[
        "webhook",
        "sign",
        "--secret-file",
        &secret,
        "--id",
        WH_ID,
        "--timestamp",
        WH_TS,
        &body,
    ]);
    assert_eq!(
        signed_headers(&out),
        (WH_ID.into(), WH_TS.into(), WH_SIG.into())
    );
    let known = (WH_ID.to_owned(), WH_TS.to_owned(), WH_SIG.to_owned());
    let verify = |keys: &[&str]| verify_with(keys, &known, &body);
    assert_ok(&verify(&["--secret-file", &secret]));
    let other = dir.write("other.txt", "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n");
    assert_fails(
        &verify(&["--secret-file", &other]),
        1,
        "error[webhook_signature_invalid]",
    );
    assert_ok(&verify(&["--secret-file", &other, "--secret", WH_SECRET]));
    assert_fails(
        &run(&["webhook", "sign", "--id", WH_ID, &body]),
        2,
        "error:",
    );
    // What `webhook keygen` prints will do as a secret file (its comment line aside); a file
    // with two keys is refused without showing them.
    let keygen = run(&["webhook", "keygen"]);
    assert_ok(&keygen);
    let made = dir.write("made.txt", stdout(&keygen));
    let signed = signed_headers(&run(&[
        "webhook",
        "sign",
        "--secret-file",
        &made,
        "--id",
        WH_ID,
        &body,
    ]));
    assert_ok(&verify_with(&["--secret-file", &made], &signed, &body));
    let pair = run(&["webhook", "keygen", "--scheme", "v1a"]);
    let two = dir.write("two.txt", stdout(&pair));
    let out = run(&[
        "webhook",
        "sign",
        "--secret-file",
        &two,
        "--id",
        WH_ID,
        &body,
    ]);
    assert_fails(&out, 2, "error:");
    assert!(!stderr(&out).contains("whsk_"), "{}", stderr(&out));

    // An API key on standard input: the same hash and check as given as an argument.
    let direct = run(&["apikey", "hash", KNOWN_KEY]);
    assert_ok(&direct);
    let piped = run_stdin(
        &["apikey", "hash", "-"],
        format!("{KNOWN_KEY}\n").as_bytes(),
    );
    assert_eq!(stdout(&piped), stdout(&direct));
    assert_ok(&run_stdin(&["apikey", "check", "-"], KNOWN_KEY.as_bytes()));

    // The store's URL from a file (unreachable here): named without its password.
    let url = dir.write("store.url", "redis://:S3cret@127.0.0.1:1\n");
    let out = run(&[
        "apikey",
        "revoke",
        "--store-file",
        &url,
        "--store-timeout-ms",
        "200",
        "--hash",
        "sha256:aWVhqwE8aTICYAaO9nC66v2b8XPrKaZ_5Eo9Wzaz3l4",
    ]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("127.0.0.1:1"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("S3cret"), "{}", stderr(&out));
}
