//! Every input limit, at the limit and one past it: at the limit the input is accepted (or at
//! least not refused for its size: it then fails, or passes, for the reason it would anyway); one
//! past it is refused with the limit's own error code and a message that names the limit.
//! docs/limits.md lists each limit with the test that proves it here.

use std::sync::Arc;
use tollgate::apikey;
use tollgate::jws::{self, ParseLimits};
use tollgate::key::MAX_KID_LEN;
use tollgate::webhook::{self, ReplayGuard, WebhookSecret, WebhookSigner, WebhookVerifier};
use tollgate::{
    base64url, limits, Algorithm, Decision, Engine, Error, ErrorCode, Key, KeySet, SigningKey,
    TokenBuffer, Validation, Verifier,
};

const SECRET: [u8; 32] = [7; 32];
const ISSUER: &str = "https://issuer.example";
const NOW: u64 = 1_700_000_000;

/// The policy the engine tests run: a JWT provider and an API-key provider on one bearer
/// credential, a tenant header, a public route, an authenticated route and a tenant route.
const POLICY: &str = r#"{
  "version": 1, "name": "limits", "realm": "limits",
  "credentials": [{"name": "bearer", "header": "Authorization", "scheme": "Bearer"}],
  "providers": [
    {"name": "app", "credentials": ["bearer"], "issuers": ["https://issuer.example"],
     "algorithms": ["HS256"], "roles": [{"claim": "tenants", "shape": "tenant_map"}]},
    {"name": "keys", "type": "api_key", "prefixes": ["fln_live"], "credentials": ["bearer"]}
  ],
  "tenant": {"header": "x-tenant"},
  "permissions": ["items:read"],
  "roles": [{"name": "Viewer", "grants": ["items:read"]}],
  "routes": [
    {"method": "GET", "path": "/health", "public": true},
    {"method": "GET", "path": "/me", "requires": []},
    {"method": "GET", "path": "/items", "tenant": true, "requires": ["items:read"]}
  ]
}"#;

fn jwk() -> serde_json::Value {
    serde_json::json!({"kty": "oct", "alg": "HS256", "kid": "k1", "k": base64url::encode(&SECRET)})
}

fn engine() -> Engine {
    let engine = Engine::from_policy_json(POLICY.as_bytes()).unwrap();
    let snapshot = serde_json::json!({"keys": {"app": {"keys": [jwk()]}}});
    engine
        .swap_snapshot_json(snapshot.to_string().as_bytes())
        .unwrap();
    engine
}

fn check(engine: &Engine, method: &str, path: &str, headers: &[(&str, &str)]) -> Decision {
    engine.check(&tollgate::Request::new(method, path, headers), NOW)
}

/// Asserts a refusal with `code` whose message contains `names` (the limit, in words).
fn assert_refused(d: &Decision, code: ErrorCode, names: &str) {
    assert_eq!(d.code, code, "{}", d.message);
    assert_eq!(d.status, code.http_status());
    assert!(
        d.message.contains(names),
        "message {:?} does not name the limit ({names:?})",
        d.message
    );
}

/// Asserts an error with `code` whose message contains `names`.
fn assert_error<T: std::fmt::Debug>(result: Result<T, Error>, code: ErrorCode, names: &str) {
    let e = result.unwrap_err();
    assert_eq!(e.code(), code, "{e}");
    let message = e.to_string();
    assert!(
        message.contains(names),
        "message {message:?} does not name the limit ({names:?})"
    );
}

/// A token signed with [`SECRET`] from the exact header and payload JSON texts.
fn sign(header: &str, payload: &str) -> String {
    let key = SigningKey::hmac(Algorithm::HS256, &SECRET, Some("k1")).unwrap();
    let input = format!(
        "{}.{}",
        base64url::encode(header.as_bytes()),
        base64url::encode(payload.as_bytes())
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", base64url::encode(&signature))
}

fn claims(extra: &str) -> String {
    format!(
        r#"{{"iss":"{ISSUER}","sub":"alice","exp":{},"tenants":{{"t1":["Viewer"]}}{extra}}}"#,
        NOW + 600
    )
}

/// A valid token of exactly `len` bytes (padded in a claim and, for the length's remainder, in a
/// header member).
fn token_of_len(len: usize) -> String {
    for h in 0..4 {
        let header = format!(r#"{{"alg":"HS256","kid":"k1","x":"{}"}}"#, "h".repeat(h));
        let bare = sign(&header, &claims(r#","pad":"""#)).len();
        for p in 0..4 {
            let fill = (len.saturating_sub(bare) * 3 / 4).saturating_sub(2) + p;
            let token = sign(
                &header,
                &claims(&format!(r#","pad":"{}""#, "p".repeat(fill))),
            );
            if token.len() == len {
                return token;
            }
        }
    }
    panic!("no token of {len} bytes");
}

/// `depth` levels of nested objects in one member (`,"n":{"n":…{}}`), for a JSON object that is
/// itself level 1: the whole object then has `depth + 1` levels.
fn nested(depth: usize) -> String {
    format!(
        r#","n":{}{}"#,
        r#"{"n":"#.repeat(depth - 1) + "{}",
        "}".repeat(depth - 1)
    )
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

// ---- Requests -----------------------------------------------------------------------------

#[test]
fn limit_request_header_count_at_and_past() {
    let e = engine();
    let names: Vec<String> = (0..=tollgate::request::MAX_HEADERS)
        .map(|i| format!("x-h{i}"))
        .collect();
    let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
    let at = &headers[..tollgate::request::MAX_HEADERS];
    assert_eq!(check(&e, "GET", "/health", at).status, 200);
    assert_refused(
        &check(&e, "GET", "/health", &headers),
        ErrorCode::InvalidRequest,
        "129 headers, more than the limit of 128",
    );
}

#[test]
fn limit_request_header_value_at_and_past() {
    let e = engine();
    let at = "v".repeat(tollgate::request::MAX_HEADER_VALUE);
    assert_eq!(check(&e, "GET", "/health", &[("x-pad", &at)]).status, 200);
    let past = format!("{at}v");
    assert_refused(
        &check(&e, "GET", "/health", &[("x-pad", &past)]),
        ErrorCode::InvalidRequest,
        r#"header "x-pad" is 16385 bytes, more than the limit of 16384"#,
    );
}

#[test]
fn limit_request_header_name_at_and_past() {
    let e = engine();
    let at = "x".repeat(tollgate::request::MAX_HEADER_NAME);
    assert_eq!(check(&e, "GET", "/health", &[(&at, "v")]).status, 200);
    assert_refused(
        &check(&e, "GET", "/health", &[(&format!("{at}x"), "v")]),
        ErrorCode::InvalidRequest,
        "a header name is 257 bytes, more than the limit of 256",
    );
}

#[test]
fn limit_request_method_at_and_past() {
    let e = engine();
    let at = "A".repeat(tollgate::request::MAX_METHOD);
    assert_ne!(
        check(&e, &at, "/health", &[]).code,
        ErrorCode::InvalidRequest
    );
    assert_refused(
        &check(&e, &format!("{at}A"), "/health", &[]),
        ErrorCode::InvalidRequest,
        "the method is 33 bytes, more than the limit of 32",
    );
}

#[test]
fn limit_request_path_at_and_past() {
    let e = engine();
    let at = format!("/health?{}", "q".repeat(tollgate::request::MAX_PATH - 8));
    assert_eq!(at.len(), tollgate::request::MAX_PATH);
    assert_eq!(check(&e, "GET", &at, &[]).status, 200);
    assert_refused(
        &check(&e, "GET", &format!("{at}q"), &[]),
        ErrorCode::InvalidRequest,
        "the path is 8193 bytes, more than the limit of 8192",
    );
}

// ---- Tokens -------------------------------------------------------------------------------

#[test]
fn limit_token_bytes_default_at_and_past() {
    let e = engine();
    let at = token_of_len(limits::DEFAULT_MAX_TOKEN_BYTES);
    let d = check(&e, "GET", "/me", &[("authorization", &bearer(&at))]);
    assert_eq!(d.status, 200, "{}", d.message);
    let past = token_of_len(limits::DEFAULT_MAX_TOKEN_BYTES + 1);
    assert_refused(
        &check(&e, "GET", "/me", &[("authorization", &bearer(&past))]),
        ErrorCode::TokenTooLarge,
        "token is 8193 bytes, more than the limit of 8192",
    );
}

fn verifier(validation: Validation) -> Result<Verifier, Error> {
    let keys = KeySet::from_keys(vec![Key::hmac(Algorithm::HS256, &SECRET, Some("k1"))?])?;
    Verifier::new(Arc::new(keys), validation.with_issuer(ISSUER))
}

#[test]
fn limit_token_bytes_configurable_maximum_at_and_past() {
    let mut validation = Validation::default();
    validation.limits.max_token_bytes = limits::MAX_TOKEN_BYTES;
    let v = verifier(validation.clone()).unwrap();
    let at = token_of_len(limits::MAX_TOKEN_BYTES);
    v.verify(at.as_bytes(), NOW, &mut TokenBuffer::new())
        .unwrap();
    let past = token_of_len(limits::MAX_TOKEN_BYTES + 1);
    assert_error(
        v.verify(past.as_bytes(), NOW, &mut TokenBuffer::new()),
        ErrorCode::TokenTooLarge,
        "token is 65537 bytes, more than the limit of 65536",
    );
    validation.limits.max_token_bytes = limits::MAX_TOKEN_BYTES + 1;
    assert_error(
        verifier(validation),
        ErrorCode::InvalidOptions,
        "max token size must be 1..=65536 bytes",
    );
}

#[test]
fn limit_header_json_depth_at_and_past() {
    let e = engine();
    let depth = limits::DEFAULT_MAX_JSON_DEPTH;
    let header = |levels: usize| format!(r#"{{"alg":"HS256","kid":"k1"{}}}"#, nested(levels - 1));
    let at = sign(&header(depth), &claims(""));
    let d = check(&e, "GET", "/me", &[("authorization", &bearer(&at))]);
    assert_eq!(d.status, 200, "{}", d.message);
    let past = sign(&header(depth + 1), &claims(""));
    assert_refused(
        &check(&e, "GET", "/me", &[("authorization", &bearer(&past))]),
        ErrorCode::InvalidJson,
        "header is not valid: nesting is deeper than the limit of 16 levels",
    );
}

#[test]
fn limit_claims_json_depth_at_and_past() {
    let e = engine();
    let depth = limits::DEFAULT_MAX_JSON_DEPTH;
    let header = r#"{"alg":"HS256","kid":"k1"}"#;
    let at = sign(header, &claims(&nested(depth - 1)));
    let d = check(&e, "GET", "/me", &[("authorization", &bearer(&at))]);
    assert_eq!(d.status, 200, "{}", d.message);
    let past = sign(header, &claims(&nested(depth)));
    assert_refused(
        &check(&e, "GET", "/me", &[("authorization", &bearer(&past))]),
        ErrorCode::InvalidJson,
        "claims is not valid: nesting is deeper than the limit of 16 levels",
    );
}

#[test]
fn limit_json_depth_configurable_maximum_at_and_past() {
    let mut validation = Validation::default();
    validation.limits.max_json_depth = limits::MAX_JSON_DEPTH;
    let v = verifier(validation.clone()).unwrap();
    let header = r#"{"alg":"HS256","kid":"k1"}"#;
    let at = sign(header, &claims(&nested(limits::MAX_JSON_DEPTH - 1)));
    v.verify(at.as_bytes(), NOW, &mut TokenBuffer::new())
        .unwrap();
    let past = sign(header, &claims(&nested(limits::MAX_JSON_DEPTH)));
    assert_error(
        v.verify(past.as_bytes(), NOW, &mut TokenBuffer::new()),
        ErrorCode::InvalidJson,
        "claims is not valid: nesting is deeper than the limit of 64 levels",
    );
    validation.limits.max_json_depth = limits::MAX_JSON_DEPTH + 1;
    assert_error(
        verifier(validation),
        ErrorCode::InvalidOptions,
        "max JSON depth must be 1..=64",
    );
}

#[test]
fn limit_signature_bytes_at_and_past() {
    // An RS256 signature has no fixed length: only the cap bounds it. Parsing stops before any
    // key is needed, so the cap is seen alone.
    let header = base64url::encode(br#"{"alg":"RS256"}"#);
    let payload = base64url::encode(b"{}");
    let token = |bytes: usize| {
        let signature = base64url::encode(&vec![1u8; bytes]);
        format!("{header}.{payload}.{signature}")
    };
    let validation = ParseLimits {
        max_token_bytes: limits::MAX_TOKEN_BYTES,
        ..ParseLimits::default()
    };
    let at = token(limits::MAX_SIGNATURE_BYTES);
    jws::parse(at.as_bytes(), validation, &mut TokenBuffer::new()).unwrap();
    let past = token(limits::MAX_SIGNATURE_BYTES + 1);
    assert_error(
        jws::parse(past.as_bytes(), validation, &mut TokenBuffer::new()),
        ErrorCode::InvalidSignature,
        "its segment is 1367 characters, more than a 1024-byte signature (the limit) takes",
    );
}

#[test]
fn limit_numeric_date_at_and_past() {
    let v = verifier(Validation::default()).unwrap();
    let header = r#"{"alg":"HS256","kid":"k1"}"#;
    let with_exp = |exp: &str| {
        sign(
            header,
            &format!(r#"{{"iss":"{ISSUER}","sub":"alice","exp":{exp}}}"#),
        )
    };
    // 2^53 is the largest magnitude accepted; 2^53 + 2 is the next number f64 holds.
    let at = with_exp("9007199254740992");
    v.verify(at.as_bytes(), NOW, &mut TokenBuffer::new())
        .unwrap();
    let past = with_exp("9007199254740994");
    assert_error(
        v.verify(past.as_bytes(), NOW, &mut TokenBuffer::new()),
        ErrorCode::InvalidClaim,
        "beyond the limit of 2^53 (9007199254740992)",
    );
}

#[test]
fn limit_header_kid_at_and_past() {
    let e = engine();
    // The header's kid is bounded as JSON text: MAX_KID_LEN bytes, each possibly a \u escape.
    let kid = |len: usize| {
        sign(
            &format!(r#"{{"alg":"HS256","kid":"{}"}}"#, "k".repeat(len)),
            &claims(""),
        )
    };
    let at = kid(MAX_KID_LEN * 6);
    let d = check(&e, "GET", "/me", &[("authorization", &bearer(&at))]);
    assert_eq!(d.code, ErrorCode::UnknownKid, "not refused for its size");
    assert_refused(
        &check(
            &e,
            "GET",
            "/me",
            &[("authorization", &bearer(&kid(MAX_KID_LEN * 6 + 1)))],
        ),
        ErrorCode::InvalidHeader,
        "kid is longer than the limit of 1536 bytes of JSON text",
    );
}

#[test]
fn limit_tenant_length_at_and_past() {
    let e = engine();
    let token = sign(r#"{"alg":"HS256","kid":"k1"}"#, &claims(""));
    let auth = bearer(&token);
    let at = "t".repeat(tollgate::tenant::MAX_TENANT_LEN);
    let d = check(
        &e,
        "GET",
        "/items",
        &[("authorization", &auth), ("x-tenant", &at)],
    );
    assert_eq!(d.code, ErrorCode::TenantForbidden, "{}", d.message);
    let past = format!("{at}t");
    assert_refused(
        &check(
            &e,
            "GET",
            "/items",
            &[("authorization", &auth), ("x-tenant", &past)],
        ),
        ErrorCode::InvalidTenant,
        "the tenant is 257 bytes, more than the limit of 256",
    );
}

// ---- API keys -----------------------------------------------------------------------------

/// A 128-byte key with a valid checksum: base62(zlib.crc32(body)) computed in Python.
const KEY_AT_LIMIT: &str = "fln_live_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO2whYhs";

#[test]
fn limit_api_key_length_at_and_past() {
    assert_eq!(KEY_AT_LIMIT.len(), apikey::MAX_KEY_LEN);
    apikey::parse(KEY_AT_LIMIT, &["fln_live"]).unwrap();
    let e = engine();
    let d = check(
        &e,
        "GET",
        "/me",
        &[("authorization", &bearer(KEY_AT_LIMIT))],
    );
    assert_eq!(d.code, ErrorCode::UnknownApiKey, "{}", d.message);
    let past = format!("{KEY_AT_LIMIT}x");
    assert_refused(
        &check(&e, "GET", "/me", &[("authorization", &bearer(&past))]),
        ErrorCode::MalformedApiKey,
        "API key is 129 bytes, more than the limit of 128",
    );
}

#[test]
fn limit_api_key_prefix_at_and_past() {
    let with_prefix = |prefix: &str| {
        let mut p: serde_json::Value = serde_json::from_str(POLICY).unwrap();
        p["providers"][1]["prefixes"][0] = prefix.into();
        Engine::from_policy_json(p.to_string().as_bytes())
    };
    let at = "p".repeat(apikey::MAX_PREFIX_LEN);
    with_prefix(&at).unwrap();
    apikey::generate(&at, "owner", &apikey::Hashing::Sha256, NOW).unwrap();
    assert_error(
        with_prefix(&format!("{at}p")),
        ErrorCode::InvalidPolicy,
        "providers[1].prefixes[0]: prefix is 33 bytes, more than the limit of 32",
    );
}

// ---- Keys ---------------------------------------------------------------------------------

fn jwks(keys: Vec<serde_json::Value>) -> String {
    serde_json::json!({ "keys": keys }).to_string()
}

#[test]
fn limit_key_set_bytes_at_and_past() {
    let doc = jwks(vec![jwk()]);
    let at = format!("{doc}{}", " ".repeat(limits::MAX_KEY_SET_BYTES - doc.len()));
    assert_eq!(KeySet::from_jwks(at.as_bytes()).unwrap().len(), 1);
    let past = format!("{at} ");
    assert_error(
        KeySet::from_jwks(past.as_bytes()),
        ErrorCode::InvalidKeySet,
        "document is 1048577 bytes; the limit is 1048576",
    );
}

#[test]
fn limit_key_count_at_and_past() {
    let key = |i: usize| {
        let mut k = jwk();
        k["kid"] = format!("k{i}").into();
        k
    };
    let at: Vec<_> = (0..limits::MAX_KEYS).map(key).collect();
    assert_eq!(
        KeySet::from_jwks(jwks(at).as_bytes()).unwrap().len(),
        limits::MAX_KEYS
    );
    let past: Vec<_> = (0..=limits::MAX_KEYS).map(key).collect();
    assert_error(
        KeySet::from_jwks(jwks(past).as_bytes()),
        ErrorCode::InvalidKeySet,
        "1025 keys; the limit is 1024",
    );
    // The same limit when keys are built one by one.
    let keys = |n: usize| -> Vec<Key> {
        (0..n)
            .map(|i| Key::hmac(Algorithm::HS256, &SECRET, Some(&format!("k{i}"))).unwrap())
            .collect()
    };
    KeySet::from_keys(keys(limits::MAX_KEYS)).unwrap();
    assert_error(
        KeySet::from_keys(keys(limits::MAX_KEYS + 1)),
        ErrorCode::InvalidKeySet,
        "1025 keys; the limit is 1024",
    );
}

#[test]
fn limit_key_set_depth_at_and_past() {
    // The document is level 1, "keys" 2, the key 3: an extra member nests the rest.
    let with_depth = |depth: usize| {
        let mut k = jwk().to_string();
        k.pop();
        // ("n" is an RSA member: the nesting goes in "z".)
        let z = nested(depth - 3).replacen(r#""n":"#, r#""z":"#, 1);
        format!(r#"{{"keys":[{k}{z}}}]}}"#)
    };
    KeySet::from_jwks(with_depth(limits::MAX_KEY_SET_DEPTH).as_bytes()).unwrap();
    assert_error(
        KeySet::from_jwks(with_depth(limits::MAX_KEY_SET_DEPTH + 1).as_bytes()),
        ErrorCode::InvalidKeySet,
        "nesting is deeper than the limit of 8 levels",
    );
}

#[test]
fn limit_kid_length_at_and_past() {
    let at = "k".repeat(MAX_KID_LEN);
    Key::hmac(Algorithm::HS256, &SECRET, Some(&at)).unwrap();
    let past = format!("{at}k");
    assert_error(
        Key::hmac(Algorithm::HS256, &SECRET, Some(&past)),
        ErrorCode::InvalidKey,
        "kid is longer than 256 bytes",
    );
    let mut k = jwk();
    k["kid"] = at.as_str().into();
    KeySet::from_jwks(jwks(vec![k.clone()]).as_bytes()).unwrap();
    k["kid"] = past.as_str().into();
    assert_error(
        KeySet::from_jwks(jwks(vec![k]).as_bytes()),
        ErrorCode::InvalidKey,
        "kid is longer than 256 bytes",
    );
    // Signing keys too: a token naming such a kid could never find its key.
    let pem = tollgate::keygen::generate(Algorithm::EdDSA)
        .unwrap()
        .private;
    let signer = |kid: &str| {
        tollgate::SigningKey::from_pem_or_der(Algorithm::EdDSA, pem.as_bytes(), Some(kid))
    };
    signer(&at).unwrap();
    assert_error(
        signer(&past),
        ErrorCode::InvalidKey,
        "kid is longer than 256 bytes",
    );
    let renamed = signer("k1").unwrap().with_kid(Some(&past));
    assert_error(
        tollgate::mint::mint(&renamed, b"{}", None),
        ErrorCode::InvalidKey,
        "kid is longer than 256 bytes",
    );
}

#[test]
fn limit_rsa_modulus_bits_at_and_past() {
    // Odd moduli of exactly 8192 and 8193 bits (the size check comes before any other use).
    let modulus = |bits: usize| {
        let mut n = vec![0u8; bits.div_ceil(8)];
        n[0] = 1 << ((bits - 1) % 8);
        *n.last_mut().unwrap() |= 1;
        n
    };
    let e = [1, 0, 1];
    let at = Key::rsa(
        Algorithm::RS256,
        &modulus(tollgate::key::MAX_RSA_BITS),
        &e,
        None,
    );
    if let Err(err) = &at {
        assert!(!err.to_string().contains("bits"), "refused for size: {err}");
    }
    assert_error(
        Key::rsa(
            Algorithm::RS256,
            &modulus(tollgate::key::MAX_RSA_BITS + 1),
            &e,
            None,
        ),
        ErrorCode::InvalidKey,
        "RSA modulus is 8193 bits; at most 8192 are supported",
    );
}

#[test]
fn limit_pem_bytes_at_and_past() {
    let generated = tollgate::keygen::generate(Algorithm::EdDSA).unwrap();
    let x = generated.public_jwk.unwrap()["x"]
        .as_str()
        .unwrap()
        .to_owned();
    // SubjectPublicKeyInfo for Ed25519 (RFC 8410): a fixed prefix, then the 32-byte key.
    let mut der = vec![
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    der.extend(base64url::decode(x.as_bytes()).unwrap());
    let public = tollgate::pem::encode("PUBLIC KEY", &der);
    let max = tollgate::pem::MAX_PEM_BYTES;
    // Text after the block is allowed (RFC 7468) and counts toward the size.
    let at = format!("{public}{}", "\n".repeat(max - public.len()));
    Key::from_public_key(Algorithm::EdDSA, at.as_bytes(), None).unwrap();
    let past = format!("{at}\n");
    assert_error(
        Key::from_public_key(Algorithm::EdDSA, past.as_bytes(), None),
        ErrorCode::InvalidKey,
        "PEM document is larger than the limit of 65536 bytes",
    );
}

#[test]
fn limit_der_bytes_at_and_past() {
    // A DER document of the limit's size is read (and refused as no key); one byte more is
    // refused for its size, public and private.
    let at = vec![0u8; tollgate::pem::MAX_PEM_BYTES];
    let past = vec![0u8; tollgate::pem::MAX_PEM_BYTES + 1];
    let too_large = "DER key is larger than the limit of 65536 bytes";
    let public = |der: &[u8]| Key::from_public_key(Algorithm::ES256, der, None);
    let private = |der: &[u8]| tollgate::SigningKey::from_pem_or_der(Algorithm::ES256, der, None);
    for result in [public(&at).map(|_| ()), private(&at).map(|_| ())] {
        let err = result.unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidKey);
        assert!(!err.to_string().contains(too_large), "{err}");
    }
    assert_error(public(&past), ErrorCode::InvalidKey, too_large);
    assert_error(private(&past), ErrorCode::InvalidKey, too_large);
}

// ---- Policies and snapshots ---------------------------------------------------------------

#[test]
fn limit_policy_bytes_at_and_past() {
    let max = tollgate::policy::MAX_POLICY_BYTES;
    let at = format!("{POLICY}{}", " ".repeat(max - POLICY.len()));
    Engine::from_policy_json(at.as_bytes()).unwrap();
    assert_error(
        Engine::from_policy_json(format!("{at} ").as_bytes()),
        ErrorCode::InvalidPolicy,
        "(document): 4194305 bytes; the limit is 4194304",
    );
}

#[test]
fn limit_policy_depth_at_and_past() {
    // No member of a policy nests this deep, so at the limit the document fails on its unknown
    // member, not on its depth.
    let max = tollgate::policy::MAX_POLICY_DEPTH;
    let with_depth =
        |depth: usize| format!("{}{}}}", &POLICY[..POLICY.len() - 1], nested(depth - 1));
    let at = Engine::from_policy_json(with_depth(max).as_bytes()).unwrap_err();
    assert!(at.to_string().contains("unknown field `n`"), "{at}");
    assert_error(
        Engine::from_policy_json(with_depth(max + 1).as_bytes()),
        ErrorCode::InvalidPolicy,
        "(document): not a strict JSON object: nesting is deeper than the limit of 32 levels",
    );
}

fn policy_with(permissions: usize, roles: usize) -> Result<Engine, Error> {
    let mut p: serde_json::Value = serde_json::from_str(POLICY).unwrap();
    let mut names: Vec<String> = vec!["items:read".to_owned()];
    names.extend((1..permissions).map(|i| format!("p{i}")));
    p["permissions"] = names.into();
    let mut r = vec![serde_json::json!({"name": "Viewer", "grants": ["items:read"]})];
    r.extend(
        (1..roles).map(|i| serde_json::json!({"name": format!("r{i}"), "inherits": ["Viewer"]})),
    );
    p["roles"] = r.into();
    Engine::from_policy_json(p.to_string().as_bytes())
}

#[test]
fn limit_permission_count_at_and_past() {
    policy_with(tollgate::roles::MAX_BITS, 1).unwrap();
    assert_error(
        policy_with(tollgate::roles::MAX_BITS + 1, 1),
        ErrorCode::InvalidPolicy,
        "permissions[1024]: more than the limit of 1024 permissions",
    );
}

#[test]
fn limit_role_count_at_and_past() {
    policy_with(1, tollgate::roles::MAX_BITS).unwrap();
    assert_error(
        policy_with(1, tollgate::roles::MAX_BITS + 1),
        ErrorCode::InvalidPolicy,
        "roles[1024]: more than the limit of 1024 roles",
    );
}

#[test]
fn limit_route_parameters_at_and_past() {
    let with_params = |n: usize| {
        let mut p: serde_json::Value = serde_json::from_str(POLICY).unwrap();
        let path: String = (0..n).map(|i| format!("/{{p{i}}}")).collect();
        p["routes"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"method": "GET", "path": format!("/many{path}")}));
        (Engine::from_policy_json(p.to_string().as_bytes()), path)
    };
    let max = tollgate::routes::MAX_PARAMS;
    with_params(max).0.unwrap();
    let (past, path) = with_params(max + 1);
    let e = past.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidPolicy);
    assert!(
        e.to_string().contains(&format!(
            r#"path "/many{path}" has more than the limit of 16 parameters"#
        )),
        "{e}"
    );
}

#[test]
fn limit_snapshot_bytes_at_and_past() {
    let e = engine();
    let doc = serde_json::json!({"keys": {"app": {"keys": [jwk()]}}}).to_string();
    let max = tollgate::snapshot::MAX_SNAPSHOT_BYTES;
    let at = format!("{doc}{}", " ".repeat(max - doc.len()));
    e.swap_snapshot_json(at.as_bytes()).unwrap();
    assert_error(
        e.swap_snapshot_json(format!("{at} ").as_bytes()),
        ErrorCode::InvalidSnapshot,
        "snapshot (document): 16777217 bytes; the limit is 16777216",
    );
}

#[test]
fn limit_snapshot_depth_at_and_past() {
    // As for policies: at the limit the document fails on its unknown member, not its depth.
    let e = engine();
    let max = tollgate::snapshot::MAX_SNAPSHOT_DEPTH;
    let with_depth = |depth: usize| format!(r#"{{"revoked_jti":[]{}}}"#, nested(depth - 1));
    let at = e
        .swap_snapshot_json(with_depth(max).as_bytes())
        .unwrap_err();
    assert!(at.to_string().contains("unknown field `n`"), "{at}");
    assert_error(
        e.swap_snapshot_json(with_depth(max + 1).as_bytes()),
        ErrorCode::InvalidSnapshot,
        "not a strict JSON object: nesting is deeper than the limit of 16 levels",
    );
}

// ---- Webhooks -----------------------------------------------------------------------------

const WH_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const WH_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const WH_TS: u64 = 1_614_265_330;

fn wh_verifier() -> WebhookVerifier {
    let mut v = WebhookVerifier::new();
    v.add_secret(WH_SECRET).unwrap();
    v
}

fn wh_sign(id: &str, body: &[u8]) -> String {
    WebhookSigner::new(WH_SECRET)
        .unwrap()
        .sign(id, WH_TS, body)
        .unwrap()
}

#[test]
fn limit_webhook_body_default_at_and_past() {
    let v = wh_verifier();
    let at = vec![b'x'; webhook::DEFAULT_MAX_BODY_BYTES];
    v.verify(WH_ID, &WH_TS.to_string(), &wh_sign(WH_ID, &at), &at, WH_TS)
        .unwrap();
    let past = vec![b'x'; webhook::DEFAULT_MAX_BODY_BYTES + 1];
    assert_error(
        v.verify(
            WH_ID,
            &WH_TS.to_string(),
            &wh_sign(WH_ID, &past),
            &past,
            WH_TS,
        ),
        ErrorCode::WebhookBodyTooLarge,
        "webhook body is 1048577 bytes, more than the limit of 1048576",
    );
}

#[test]
fn limit_webhook_body_configurable_maximum_at_and_past() {
    let v = WebhookVerifier::new()
        .with_max_body_bytes(webhook::MAX_BODY_BYTES)
        .unwrap();
    assert_eq!(v.max_body_bytes(), webhook::MAX_BODY_BYTES);
    assert_error(
        WebhookVerifier::new().with_max_body_bytes(webhook::MAX_BODY_BYTES + 1),
        ErrorCode::InvalidOptions,
        "must be between 1 and 67108864 bytes",
    );
}

#[test]
fn limit_webhook_id_at_and_past() {
    let v = wh_verifier();
    let at = "i".repeat(webhook::MAX_ID_BYTES);
    v.verify(&at, &WH_TS.to_string(), &wh_sign(&at, b"{}"), b"{}", WH_TS)
        .unwrap();
    let past = format!("{at}i");
    assert_error(
        v.verify(
            &past,
            &WH_TS.to_string(),
            &wh_sign(WH_ID, b"{}"),
            b"{}",
            WH_TS,
        ),
        ErrorCode::WebhookMalformed,
        "webhook-id is 257 bytes, more than the limit of 256",
    );
}

#[test]
fn limit_webhook_timestamp_digits_at_and_past() {
    let v = wh_verifier();
    let sig = wh_sign(WH_ID, b"{}");
    // Twelve digits parse (and are then far outside the tolerance); thirteen are malformed.
    assert_error(
        v.verify(WH_ID, "999999999999", &sig, b"{}", WH_TS),
        ErrorCode::WebhookTimestamp,
        "",
    );
    assert_error(
        v.verify(WH_ID, "1000000000000", &sig, b"{}", WH_TS),
        ErrorCode::WebhookMalformed,
        "webhook-timestamp is 13 bytes; it is Unix seconds of at most 12 digits",
    );
}

#[test]
fn limit_webhook_signature_header_bytes_at_and_past() {
    let v = wh_verifier();
    let sig = wh_sign(WH_ID, b"{}");
    let filler = |len: usize| format!("v9,{}", "y".repeat(len - 3));
    let max = webhook::MAX_SIGNATURE_HEADER_BYTES;
    let at = format!("{} {sig}", filler(max - sig.len() - 1));
    assert_eq!(at.len(), max);
    v.verify(WH_ID, &WH_TS.to_string(), &at, b"{}", WH_TS)
        .unwrap();
    let past = format!("{} {sig}", filler(max - sig.len()));
    assert_error(
        v.verify(WH_ID, &WH_TS.to_string(), &past, b"{}", WH_TS),
        ErrorCode::WebhookMalformed,
        "webhook-signature is 8193 bytes, more than the limit of 8192",
    );
}

#[test]
fn limit_webhook_signature_entries_at_and_past() {
    let v = wh_verifier();
    let sig = wh_sign(WH_ID, b"{}");
    let with = |n: usize| {
        let mut entries = vec!["v9,x".to_owned(); n - 1];
        entries.push(sig.clone());
        entries.join(" ")
    };
    v.verify(
        WH_ID,
        &WH_TS.to_string(),
        &with(webhook::MAX_SIGNATURE_ENTRIES),
        b"{}",
        WH_TS,
    )
    .unwrap();
    assert_error(
        v.verify(
            WH_ID,
            &WH_TS.to_string(),
            &with(webhook::MAX_SIGNATURE_ENTRIES + 1),
            b"{}",
            WH_TS,
        ),
        ErrorCode::WebhookMalformed,
        "webhook-signature has more than 16 entries",
    );
}

#[test]
fn limit_webhook_v1a_entries_at_and_past() {
    // Counted while the header is parsed, before any signature is checked, even by a verifier
    // that holds no v1a key.
    let v = wh_verifier();
    let sig = wh_sign(WH_ID, b"{}");
    let v1a = format!("v1a,{}==", "A".repeat(86));
    let with = |n: usize| {
        let mut entries = vec![v1a.clone(); n];
        entries.push(sig.clone());
        entries.join(" ")
    };
    let ts = WH_TS.to_string();
    v.verify(WH_ID, &ts, &with(webhook::MAX_V1A_ENTRIES), b"{}", WH_TS)
        .unwrap();
    assert_error(
        v.verify(
            WH_ID,
            &ts,
            &with(webhook::MAX_V1A_ENTRIES + 1),
            b"{}",
            WH_TS,
        ),
        ErrorCode::WebhookMalformed,
        "webhook-signature has 5 v1a entries, more than the limit of 4",
    );
}

#[test]
fn limit_webhook_verifier_keys_at_and_past() {
    let mut v = WebhookVerifier::new();
    for _ in 0..webhook::MAX_VERIFIER_KEYS {
        v.add_key(&webhook::generate_secret().unwrap()).unwrap();
    }
    assert_eq!(v.key_count(), webhook::MAX_VERIFIER_KEYS);
    assert_error(
        v.add_key(&webhook::generate_secret().unwrap()),
        ErrorCode::InvalidWebhookSecret,
        "a webhook verifier holds at most 8 secrets and public keys",
    );
}

#[test]
fn limit_webhook_secret_bytes_at_and_past() {
    let at = vec![5u8; webhook::MAX_SECRET_BYTES];
    WebhookSecret::from_bytes(&at).unwrap();
    // Padded standard base64, from the URL alphabet.
    let text = |key: &[u8]| {
        let mut b64 = base64url::encode(key).replace('-', "+").replace('_', "/");
        while !b64.len().is_multiple_of(4) {
            b64.push('=');
        }
        format!("whsec_{b64}")
    };
    WebhookSecret::parse(&text(&at)).unwrap();
    let past = vec![5u8; webhook::MAX_SECRET_BYTES + 1];
    for result in [
        WebhookSecret::from_bytes(&past),
        WebhookSecret::parse(&text(&past)),
    ] {
        assert_error(
            result,
            ErrorCode::InvalidWebhookSecret,
            "the webhook secret is 65 bytes; it must be 24 to 64",
        );
    }
}

#[test]
fn limit_webhook_tolerance_and_replay_capacity_at_and_past() {
    WebhookVerifier::new()
        .with_tolerance(webhook::MAX_TOLERANCE_SECS)
        .unwrap();
    assert_error(
        WebhookVerifier::new().with_tolerance(webhook::MAX_TOLERANCE_SECS + 1),
        ErrorCode::InvalidOptions,
        "more than the maximum of 86400s",
    );
    ReplayGuard::new(webhook::MAX_REPLAY_CAPACITY).unwrap();
    assert_error(
        ReplayGuard::new(webhook::MAX_REPLAY_CAPACITY + 1),
        ErrorCode::InvalidOptions,
        "must be between 1 and 16777216",
    );
    // The replay window: a guard's, and a shared store's claim (through its last second).
    ReplayGuard::new(1)
        .unwrap()
        .with_window(webhook::MAX_TOLERANCE_SECS)
        .unwrap();
    assert_error(
        ReplayGuard::new(1)
            .unwrap()
            .with_window(webhook::MAX_TOLERANCE_SECS + 1),
        ErrorCode::InvalidOptions,
        "replay window 86401s is more than the maximum of 86400s",
    );
    let v = wh_verifier();
    let (ts, sig) = (WH_TS.to_string(), wh_sign(WH_ID, b"{}"));
    let claim = v
        .verify_for_store(WH_ID, &ts, &sig, b"{}", WH_TS, webhook::MAX_TOLERANCE_SECS)
        .unwrap();
    assert_eq!(claim.ttl_secs(), webhook::MAX_TOLERANCE_SECS + 1);
    assert_error(
        v.verify_for_store(
            WH_ID,
            &ts,
            &sig,
            b"{}",
            WH_TS,
            webhook::MAX_TOLERANCE_SECS + 1,
        ),
        ErrorCode::InvalidOptions,
        "replay window 86401s is more than the maximum of 86400s",
    );
}

#[test]
fn limit_leeway_at_and_past() {
    verifier(Validation::default().with_leeway(limits::MAX_LEEWAY_SECS)).unwrap();
    assert_error(
        verifier(Validation::default().with_leeway(limits::MAX_LEEWAY_SECS + 1)),
        ErrorCode::InvalidOptions,
        "leeway 601s exceeds the cap of 600s",
    );
}
