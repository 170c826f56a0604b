//! Tollgate: an embedded token-validation engine.
//!
//! This crate is the pure core: it parses and verifies JWS-compact JWTs with keys that are each
//! bound to one algorithm, and checks claims against a time the caller passes in. It does no IO:
//! no network, files, clock or environment (clippy enforces it), and draws randomness only when
//! asked to generate a key, to sign, or to import a private key (which it checks with a test
//! signature).
//!
//! ```
//! use std::sync::Arc;
//! use tollgate::{mint, Algorithm, KeySet, SigningKey, TokenBuffer, Validation, Verifier};
//!
//! let secret = [7u8; 32];
//! let signer = SigningKey::hmac(Algorithm::HS256, &secret, Some("k1"))?;
//! let token = mint(&signer, br#"{"sub":"alice","iss":"https://idp","exp":2000}"#, None)?;
//!
//! let keys = KeySet::from_keys(vec![tollgate::Key::hmac(Algorithm::HS256, &secret, Some("k1"))?])?;
//! let verifier = Verifier::new(Arc::new(keys), Validation::default().with_issuer("https://idp"))?;
//! let mut buf = TokenBuffer::new();
//! let verified = verifier.verify(token.as_bytes(), 1000, &mut buf)?;
//! assert!(verified.claims().subject().unwrap().eq_str("alice"));
//!
//! let mut buf = TokenBuffer::new();
//! let err = verifier.verify(token.as_bytes(), 2060, &mut buf).unwrap_err();
//! assert_eq!(err.code().name(), "expired");
//! # Ok::<(), tollgate::Error>(())
//! ```
//!
//! # Cargo features
//!
//! - `aws-lc`: a second signature backend (see [`crypto`]).
//! - `fault-injection`: **for tests only, never in a shipped build.** [`Engine::check`] (and every
//!   other check) panics when the request's method is exactly
//!   `engine::FAULT_INJECTION_METHOD` (`TOLLGATE-FAULT-INJECTION`), so the C ABI's and the
//!   WebAssembly layer's tests can prove that a panic inside the engine never crosses their
//!   boundary. `tollgate-ffi` and `tollgate-wasm` forward it under the same name.

#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod alg;
pub mod apikey;
pub mod base64url;
pub mod cache;
pub mod claims;
pub mod crypto;
pub mod decision;
pub mod discovery;
pub mod document;
pub mod engine;
pub mod error;
pub mod json;
pub mod jwk;
pub mod jws;
pub mod key;
pub mod keygen;
pub mod keyset;
pub mod limits;
pub mod mint;
pub mod pem;
pub mod pending;
pub mod policy;
pub mod principal;
pub mod record;
pub mod record_cache;
pub mod refresh;
pub mod request;
pub mod roles;
pub mod routes;
mod scan;
pub mod scenario;
pub mod snapshot;
pub mod spki;
pub mod tenant;
pub mod verifier;
pub mod webhook;

pub use alg::Algorithm;
pub use claims::{Claims, Validation};
pub use decision::{Decision, Principal, RefreshHint};
pub use engine::Engine;
pub use error::{Error, ErrorCode};
pub use jws::{Header, ParseLimits, SignatureInput, TokenBuffer, UnverifiedJws, VerifiedJws};
pub use key::{Key, PublicKey};
pub use keyset::KeySet;
pub use mint::{mint, SigningKey};
pub use pending::{Pending, Step};
pub use principal::PrincipalKind;
pub use record::{RecordKind, RecordLookup, StoredRecord};
pub use request::Request;
pub use snapshot::Snapshot;
pub use verifier::{VerifiedToken, Verifier, VerifierSettings};

/// The library version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
