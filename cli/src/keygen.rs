//! `tollgate keygen`: generate a signing key and the JWK that verifies it.

use crate::io;
use crate::output::{self, Failure};
use crate::verify::parse_alg;
use clap::Args;
use serde_json::Value;
use std::path::PathBuf;
use tollgate::keygen::GeneratedKey;
use tollgate::Algorithm;

/// Arguments of `tollgate keygen`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without --out, the private key and the public JWK are printed, one after the other.
With --out PREFIX, the files are PREFIX.key (private, mode 0600) and PREFIX.pub.jwk (a JWKS to
publish); for HMAC, PREFIX.key and PREFIX.jwk (a JWKS holding the same secret, mode 0600).
Existing files are never overwritten. RSA keys cannot be generated here: the error says how to
make one with OpenSSL.

Examples:
  tollgate keygen --alg ES256 --out issuer
  tollgate keygen --alg EdDSA
  tollgate keygen --alg HS256 --out shared")]
pub struct KeygenArgs {
    /// The algorithm the key is for (HS256/384/512, ES256, ES384, EdDSA).
    #[arg(long, value_name = "ALG", value_parser = parse_alg)]
    pub alg: Algorithm,
    /// Write the key files under this path prefix instead of printing the keys.
    #[arg(long, value_name = "PREFIX")]
    pub out: Option<PathBuf>,
}

/// Runs `tollgate keygen`.
pub fn run(args: KeygenArgs) -> Result<(), Failure> {
    let key = tollgate::keygen::generate(args.alg).map_err(Failure::Config)?;
    match &args.out {
        None => print_keys(&key),
        Some(prefix) => write_keys(&key, prefix),
    }
}

fn pretty(value: &Value) -> Result<String, Failure> {
    serde_json::to_string_pretty(value)
        .map_err(|e| Failure::Other(format!("cannot serialize a JWK: {e}")))
}

fn jwks(jwk: Value) -> Result<String, Failure> {
    pretty(&serde_json::json!({ "keys": [jwk] })).map(|s| s + "\n")
}

/// The HMAC `oct` JWK as a JSON value.
fn secret_jwk(key: &GeneratedKey) -> Result<Value, Failure> {
    serde_json::from_str(&key.private)
        .map_err(|e| Failure::Other(format!("the generated JWK is not JSON: {e}")))
}

fn print_keys(key: &GeneratedKey) -> Result<(), Failure> {
    let text = match &key.public_jwk {
        Some(public) => format!(
            "# {alg} private key (PKCS#8 PEM), kid {kid}: keep it secret\n{private}\n\
             # {alg} public JWK: publish it in your JWKS\n{public}\n",
            alg = key.alg,
            kid = key.kid,
            private = key.private.trim_end(),
            public = pretty(public)?,
        ),
        None => format!(
            "# {alg} secret as an oct JWK, kid {kid}: keep it secret; it both signs and verifies\n{jwk}\n",
            alg = key.alg,
            kid = key.kid,
            jwk = pretty(&secret_jwk(key)?)?,
        ),
    };
    output::print(&text)
}

fn with_suffix(prefix: &std::path::Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn write_keys(key: &GeneratedKey, prefix: &std::path::Path) -> Result<(), Failure> {
    let private_path = with_suffix(prefix, ".key");
    let (verify_path, verify_doc, verify_secret) = match &key.public_jwk {
        Some(public) => (
            with_suffix(prefix, ".pub.jwk"),
            jwks(public.clone())?,
            false,
        ),
        None => (with_suffix(prefix, ".jwk"), jwks(secret_jwk(key)?)?, true),
    };
    let private = if key.public_jwk.is_some() {
        key.private.clone()
    } else {
        pretty(&secret_jwk(key)?)? + "\n"
    };
    // Check both names first, so that a clash leaves nothing half-written.
    for path in [&private_path, &verify_path] {
        if path.exists() {
            return Err(Failure::Other(format!(
                "{} exists; keys are never overwritten",
                path.display()
            )));
        }
    }
    io::write_new_file(&private_path, private.as_bytes(), true)?;
    io::write_new_file(&verify_path, verify_doc.as_bytes(), verify_secret)?;
    let what = if verify_secret {
        "key set (secret: share only with verifiers)"
    } else {
        "public key set (publish it)"
    };
    output::print(&format!(
        "{alg} key, kid {kid}\nprivate key: {private}\n{what}: {verify}\n",
        alg = key.alg,
        kid = key.kid,
        private = private_path.display(),
        verify = verify_path.display(),
    ))
}
