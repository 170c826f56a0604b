//! Every size limit in one place. Each is checked before the input it bounds is decoded, and each
//! failure has its own clear error.

/// Default maximum token length in bytes ([`crate::ParseLimits::max_token_bytes`]).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The most a caller may raise the token limit to.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Default maximum JSON nesting depth of a header or claims set (the object itself is level 1).
pub const DEFAULT_MAX_JSON_DEPTH: usize = 16;
/// The most a caller may raise the nesting limit to.
pub const MAX_JSON_DEPTH: usize = 64;
/// Default clock leeway in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// The largest leeway a caller may configure, in seconds.
pub const MAX_LEEWAY_SECS: u64 = 600;
/// Largest signature accepted: an RSA-8192 signature (1024 bytes).
pub const MAX_SIGNATURE_BYTES: usize = 1024;
/// Largest JWKS or JWK document, in bytes.
pub const MAX_KEY_SET_BYTES: usize = 1024 * 1024;
/// Most keys in one key set.
pub const MAX_KEYS: usize = 1024;
/// Maximum nesting depth of a JWKS document.
pub const MAX_KEY_SET_DEPTH: usize = 8;
/// Largest NumericDate magnitude accepted (2^53: every integer up to it is exact in `f64`).
pub const MAX_NUMERIC_DATE: f64 = 9_007_199_254_740_992.0;
