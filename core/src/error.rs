//! One error taxonomy for every layer.
//!
//! [`Error`] carries context for humans and logs; [`ErrorCode`] is the stable part that the C ABI, the
//! WASM layer, the language bindings and the CLI all share: a number, a `snake_case` name and the HTTP
//! status a gateway returns. Numbers are grouped by stage and never reused; `docs/errors.md` lists them
//! and a test keeps it in sync.

use core::fmt;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $num:literal, $name:literal, $status:literal, $summary:literal; )*) => {
        /// A stable error code: its number and name never change meaning.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant = $num, )*
        }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];

            /// The stable number (also the C ABI status value).
            pub const fn number(self) -> u32 {
                self as u32
            }

            /// The stable `snake_case` name.
            pub const fn name(self) -> &'static str {
                match self { $( ErrorCode::$variant => $name, )* }
            }

            /// The HTTP status a gateway returns for this failure.
            pub const fn http_status(self) -> u16 {
                match self { $( ErrorCode::$variant => $status, )* }
            }

            /// A one-line description, the same for every occurrence.
            pub const fn summary(self) -> &'static str {
                match self { $( ErrorCode::$variant => $summary, )* }
            }

            /// The code with this number, if there is one.
            pub fn from_number(number: u32) -> Option<ErrorCode> {
                ErrorCode::ALL.iter().copied().find(|c| c.number() == number)
            }

            /// The code with this name, if there is one.
            pub fn from_name(name: &str) -> Option<ErrorCode> {
                ErrorCode::ALL.iter().copied().find(|c| c.name() == name)
            }
        }
    };
}

error_codes! {
    /// Not an error: the request may pass (a decision's reason when it allows).
    Allowed = 0, "ok", 200, "allowed";
    /// A bug in Tollgate: a state that should be impossible.
    Internal = 1, "internal_error", 500, "internal error";

    /// The token is longer than the configured maximum.
    TokenTooLarge = 100, "token_too_large", 401, "token exceeds the size limit";
    /// The token is not three base64url segments separated by dots.
    MalformedToken = 101, "malformed_token", 401, "token is not in JWS compact form";
    /// A segment is not strict, canonical, unpadded base64url.
    InvalidBase64 = 102, "invalid_base64", 401, "segment is not canonical base64url";
    /// The header or the claims are not a strict JSON object.
    InvalidJson = 103, "invalid_json", 401, "header or claims are not a strict JSON object";
    /// The header lacks `alg` or has a member of the wrong type.
    InvalidHeader = 104, "invalid_header", 401, "JOSE header is invalid";
    /// The header names an algorithm Tollgate does not verify.
    UnsupportedAlgorithm = 105, "unsupported_algorithm", 401, "algorithm is not supported";
    /// The header says `alg: none` (in any letter case).
    AlgNone = 106, "alg_none", 401, "unsecured tokens (alg none) are never accepted";
    /// The header has `crit` (or `b64: false`) naming an extension Tollgate does not understand.
    UnsupportedCritical = 107, "unsupported_crit", 401, "critical header extension not understood";

    /// The header's `kid` is not in the key set: the host may refresh its keys and retry.
    UnknownKid = 200, "unknown_kid", 401, "no key with this kid";
    /// The token has no `kid` and not exactly one key is bound to its algorithm.
    NoMatchingKey = 201, "no_matching_key", 401, "no single key for this algorithm";
    /// The key selected by `kid` is bound to a different algorithm than the header names.
    AlgorithmMismatch = 202, "algorithm_mismatch", 401, "key is bound to another algorithm";

    /// The signature does not verify.
    InvalidSignature = 300, "invalid_signature", 401, "signature is invalid";

    /// `now` is at or past `exp` plus leeway.
    Expired = 400, "expired", 401, "token has expired";
    /// `now` is before `nbf` minus leeway.
    NotYetValid = 401, "not_yet_valid", 401, "token is not yet valid";
    /// `iat` is after `now` plus leeway.
    IssuedInFuture = 402, "issued_in_future", 401, "token was issued in the future";
    /// `iss` is not one of the accepted issuers.
    InvalidIssuer = 403, "invalid_issuer", 401, "issuer is not accepted";
    /// `aud` names none of the accepted audiences.
    InvalidAudience = 404, "invalid_audience", 401, "audience is not accepted";
    /// A required claim is absent.
    MissingClaim = 405, "missing_claim", 401, "required claim is missing";
    /// A registered claim has the wrong JSON type or an out-of-range value.
    InvalidClaim = 406, "invalid_claim", 401, "claim has an invalid type or value";
    /// `exp - iat` exceeds the configured maximum lifetime.
    LifetimeTooLong = 407, "lifetime_too_long", 401, "token lifetime exceeds the maximum";
    /// The header's `typ` is not the required one.
    InvalidType = 408, "invalid_typ", 401, "token type (typ) is not accepted";

    /// An API key's form or checksum is wrong (a typo or a truncated paste): rejected before any lookup.
    MalformedApiKey = 450, "malformed_api_key", 401, "API key is malformed";
    /// No record has this API key's hash.
    UnknownApiKey = 451, "unknown_api_key", 401, "API key is not known";
    /// The API key's record has expired.
    ApiKeyExpired = 452, "api_key_expired", 401, "API key has expired";
    /// The API key has been revoked.
    ApiKeyRevoked = 453, "api_key_revoked", 401, "API key has been revoked";
    /// No session record has this session id's hash.
    UnknownSession = 454, "unknown_session", 401, "session is not known";
    /// The session record has expired.
    SessionExpired = 455, "session_expired", 401, "session has expired";
    /// The session has been revoked (signed out).
    SessionRevoked = 456, "session_revoked", 401, "session has been revoked";

    /// A key cannot be used: malformed, wrong type for its algorithm, or private material in a public set.
    InvalidKey = 500, "invalid_key", 500, "key is invalid";
    /// A key is too weak: RSA below 2048 bits, a short or empty HMAC secret, a known-weak RSA modulus,
    /// an Ed25519 key of small order.
    WeakKey = 501, "weak_key", 500, "key is too weak";
    /// Two keys in one set share a `kid`.
    DuplicateKid = 502, "duplicate_kid", 500, "two keys share a kid";
    /// A key is marked for another use (`use: enc`, `key_ops` without `verify`).
    KeyNotForVerification = 503, "key_not_for_verification", 500, "key is not meant for signature verification";
    /// A key set mixes shared secrets and public keys.
    MixedKeySet = 504, "mixed_key_set", 500, "key set mixes secret and public keys";
    /// A JWKS or JWK document is not valid.
    InvalidKeySet = 505, "invalid_key_set", 500, "key set document is invalid";
    /// Verification options are out of range (for example a leeway above the cap).
    InvalidOptions = 506, "invalid_options", 500, "verification options are invalid";
    /// A key names an algorithm Tollgate cannot use with it.
    UnsupportedKeyAlgorithm = 507, "unsupported_key_algorithm", 500, "key algorithm is not supported";
    /// Fetching a key set failed (a network error, a status other than 200, a body that is not a
    /// usable JWKS); the last good set, if any, stays in use.
    KeySetFetchFailed = 508, "key_set_fetch_failed", 503, "key set could not be fetched";
    /// No key set has been fetched successfully within the stale-after limit (or the clock reads
    /// more than a minute before the set's fetch, so its age is unknown): tokens are refused until
    /// a fetch succeeds.
    KeySetStale = 509, "key_set_stale", 503, "key set is stale";
    /// An OpenID Provider configuration document is invalid, or names another issuer.
    InvalidDiscovery = 510, "invalid_discovery", 500, "OpenID discovery document is invalid";
    /// The check needs a record from the shared store, and the store did not answer (or the host
    /// did not ask it): an outage, never a reason to let the request through.
    StoreUnavailable = 511, "store_unavailable", 503, "record store is unavailable";

    /// Signing a token failed (bad claims document or signing key).
    SigningFailed = 600, "signing_failed", 500, "token could not be signed";
    /// Generating a key failed.
    KeyGenerationFailed = 601, "key_generation_failed", 500, "key could not be generated";

    /// The request itself is unusable (bad path, too many or too large headers).
    InvalidRequest = 700, "invalid_request", 400, "request is malformed";
    /// No route matches and the policy denies unknown routes.
    RouteNotFound = 701, "route_not_found", 404, "no route matches";
    /// The route needs a credential and the request carries none.
    MissingCredentials = 702, "missing_credentials", 401, "no credential presented";
    /// The request carries more than one credential.
    AmbiguousCredentials = 703, "ambiguous_credentials", 400, "more than one credential presented";
    /// No provider accepts this credential (for example an issuer no provider trusts).
    UnknownIssuer = 704, "unknown_issuer", 401, "no provider accepts this credential";
    /// The token's `jti` is on the deny-list.
    TokenRevoked = 705, "token_revoked", 401, "token has been revoked";
    /// The principal has no record where the policy needs one (a personal access token's user).
    UnknownPrincipal = 706, "unknown_principal", 401, "principal is unknown";
    /// The route does not accept this kind of principal or credential.
    PrincipalNotAllowed = 707, "principal_not_allowed", 403, "this kind of caller may not use this route";
    /// A tenant-scoped route was called without a tenant.
    MissingTenant = 708, "missing_tenant", 400, "tenant is missing";
    /// The tenant is not well formed (for example not a UUID where one is required).
    InvalidTenant = 709, "invalid_tenant", 400, "tenant is malformed";
    /// The caller is not a member of the tenant.
    TenantForbidden = 710, "tenant_forbidden", 403, "caller is not a member of this tenant";
    /// The caller is not a member of the tenant, and the policy hides the tenant's existence.
    NotFound = 711, "not_found", 404, "not found";
    /// The caller lacks a permission the route requires.
    InsufficientPermissions = 712, "insufficient_permissions", 403, "caller lacks a required permission";

    /// A policy document is invalid; the message names the exact place.
    InvalidPolicy = 800, "invalid_policy", 500, "policy is invalid";
    /// A key snapshot does not fit the policy (unknown provider, keys for algorithms it does not allow).
    InvalidSnapshot = 801, "invalid_snapshot", 500, "key snapshot is invalid";
    /// A record from the shared store is not one this build can trust: not strict JSON, another
    /// version or kind, or not the record of the key it was stored under.
    InvalidRecord = 802, "invalid_record", 500, "stored record is invalid";

    /// A webhook's `webhook-id`, `webhook-timestamp` or `webhook-signature` header is missing,
    /// malformed or oversized.
    WebhookMalformed = 900, "webhook_malformed", 400, "webhook headers are missing or malformed";
    /// The webhook's timestamp is outside the tolerance window.
    WebhookTimestamp = 901, "webhook_timestamp_out_of_tolerance", 401, "webhook timestamp is too old or too new";
    /// No signature in `webhook-signature` verifies.
    WebhookSignatureInvalid = 902, "webhook_signature_invalid", 401, "webhook signature is invalid";
    /// This delivery (its `webhook-id` and body) was already accepted within the tolerance window.
    WebhookReplayed = 903, "webhook_replayed", 409, "webhook was already delivered";
    /// The webhook body exceeds the size limit.
    WebhookBodyTooLarge = 904, "webhook_body_too_large", 413, "webhook body is too large";
    /// A `whsec_`, `whsk_` or `whpk_` secret or key is malformed or of the wrong size.
    InvalidWebhookSecret = 905, "invalid_webhook_secret", 500, "webhook secret or key is invalid";
    /// The replay guard is full of ids still inside their window: the delivery is refused rather
    /// than an id forgotten early, and the sender should retry later.
    WebhookReplayGuardFull = 906, "webhook_replay_guard_full", 503, "replay guard is full; retry later";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What went wrong, with the context a human needs. [`Error::code`] gives the stable code.
///
/// A failed signature says only that it failed: never which byte, which step or why.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The token is longer than the limit.
    TokenTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The token does not have exactly three segments.
    MalformedToken {
        /// How many dot-separated segments it has.
        segments: usize,
    },
    /// A segment is not canonical base64url.
    InvalidBase64 {
        /// `header`, `payload` or `signature`.
        segment: &'static str,
    },
    /// Strict JSON parsing failed.
    InvalidJson {
        /// `header` or `claims`.
        part: &'static str,
        /// What the parser found.
        reason: &'static str,
    },
    /// The header or the claims nest deeper than the configured limit.
    JsonTooDeep {
        /// `header` or `claims`.
        part: &'static str,
        /// The limit, in levels (the object itself is level 1).
        max: usize,
    },
    /// A header member is missing or has the wrong type.
    InvalidHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// The algorithm is not supported (ES512, unknown names).
    UnsupportedAlgorithm {
        /// The name as found (truncated to 32 bytes).
        alg: String,
    },
    /// `alg: none`.
    AlgNone,
    /// `crit` or `b64` asks for an extension Tollgate does not understand.
    UnsupportedCritical {
        /// What was found.
        reason: String,
    },
    /// No key has this `kid`.
    UnknownKid {
        /// The `kid` from the header (cut at `MAX_KID_LEN`, 256 bytes: no set holds a longer one).
        kid: String,
    },
    /// No `kid`, and not exactly one key for the header's algorithm.
    NoMatchingKey {
        /// The header's algorithm.
        alg: &'static str,
        /// How many keys are bound to it (0 or more than 1).
        candidates: usize,
    },
    /// The selected key is bound to another algorithm.
    AlgorithmMismatch {
        /// The algorithm the key is bound to.
        key_alg: &'static str,
        /// The algorithm the header names.
        header_alg: &'static str,
    },
    /// The signature does not verify.
    InvalidSignature,
    /// The signature segment is longer than any supported signature: it cannot verify, and is
    /// refused before it is decoded.
    SignatureTooLarge {
        /// Its length in base64url characters.
        chars: usize,
        /// The largest signature accepted, in bytes.
        max: usize,
    },
    /// The token has expired.
    Expired {
        /// Its `exp`.
        exp: f64,
        /// The time it was checked against.
        now: u64,
        /// The leeway applied.
        leeway: u64,
    },
    /// The token is not valid yet.
    NotYetValid {
        /// Its `nbf`.
        nbf: f64,
        /// The time it was checked against.
        now: u64,
        /// The leeway applied.
        leeway: u64,
    },
    /// `iat` is in the future.
    IssuedInFuture {
        /// Its `iat`.
        iat: f64,
        /// The time it was checked against.
        now: u64,
        /// The leeway applied.
        leeway: u64,
    },
    /// The issuer is not accepted.
    InvalidIssuer,
    /// No accepted audience is named, or the token names an audience where none is configured.
    InvalidAudience {
        /// What is wrong.
        reason: &'static str,
    },
    /// A required claim is absent.
    MissingClaim {
        /// Its name.
        claim: String,
    },
    /// A registered claim has a wrong type or value.
    InvalidClaim {
        /// Its name.
        claim: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `exp - iat` is longer than allowed.
    LifetimeTooLong {
        /// `exp - iat` in seconds.
        lifetime: f64,
        /// The maximum.
        max: u64,
    },
    /// `typ` is not the required one.
    InvalidType {
        /// The required type.
        expected: String,
    },
    /// A key problem found while building a key set.
    Key {
        /// Which code.
        code: KeyErrorCode,
        /// Which key: its `kid`, or its position in the set.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The key set document itself is invalid.
    InvalidKeySet {
        /// What is wrong.
        reason: String,
    },
    /// A key-source failure (fetching, staleness, discovery), with its code (508–510).
    KeySource {
        /// The code.
        code: ErrorCode,
        /// What happened.
        reason: String,
    },
    /// Options are out of range.
    InvalidOptions {
        /// What is wrong.
        reason: String,
    },
    /// Signing failed.
    SigningFailed {
        /// What is wrong.
        reason: String,
    },
    /// Key generation failed.
    KeyGenerationFailed {
        /// What is wrong.
        reason: String,
    },
    /// A request-level refusal from the policy engine, with the stable code it maps to.
    Denied {
        /// The code (one of the 7xx codes).
        code: ErrorCode,
        /// What happened, for logs.
        reason: String,
    },
    /// An API key or webhook failure, with its code (4xx codes of those families, 9xx).
    Rejected {
        /// The code.
        code: ErrorCode,
        /// What happened (never a secret).
        reason: String,
    },
    /// A policy document is invalid.
    InvalidPolicy {
        /// Where, as a path into the document (`routes[3].requires[0]`).
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// A snapshot is invalid.
    InvalidSnapshot {
        /// Where, as a path into the document.
        at: String,
        /// What is wrong.
        reason: String,
    },
    /// A record from the shared store is invalid.
    InvalidRecord {
        /// What is wrong.
        reason: String,
    },
    /// An impossible state: a bug.
    Internal {
        /// Where.
        reason: &'static str,
    },
}

/// The codes a key-set build can fail with; a subset of [`ErrorCode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyErrorCode {
    /// See [`ErrorCode::InvalidKey`].
    InvalidKey,
    /// See [`ErrorCode::WeakKey`].
    WeakKey,
    /// See [`ErrorCode::DuplicateKid`].
    DuplicateKid,
    /// See [`ErrorCode::KeyNotForVerification`].
    NotForVerification,
    /// See [`ErrorCode::MixedKeySet`].
    MixedKeySet,
    /// See [`ErrorCode::UnsupportedKeyAlgorithm`].
    UnsupportedAlgorithm,
}

impl Error {
    /// The error for a token's `part` (`"header"`, `"claims"`) that is not strict JSON: the
    /// depth limit by name when that was the failure.
    pub(crate) fn json(part: &'static str, reason: &'static str, max_depth: usize) -> Error {
        if reason == crate::json::TOO_DEEP {
            Error::JsonTooDeep {
                part,
                max: max_depth,
            }
        } else {
            Error::InvalidJson { part, reason }
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::TokenTooLarge { .. } => ErrorCode::TokenTooLarge,
            Error::MalformedToken { .. } => ErrorCode::MalformedToken,
            Error::InvalidBase64 { .. } => ErrorCode::InvalidBase64,
            Error::InvalidJson { .. } | Error::JsonTooDeep { .. } => ErrorCode::InvalidJson,
            Error::InvalidHeader { .. } => ErrorCode::InvalidHeader,
            Error::UnsupportedAlgorithm { .. } => ErrorCode::UnsupportedAlgorithm,
            Error::AlgNone => ErrorCode::AlgNone,
            Error::UnsupportedCritical { .. } => ErrorCode::UnsupportedCritical,
            Error::UnknownKid { .. } => ErrorCode::UnknownKid,
            Error::NoMatchingKey { .. } => ErrorCode::NoMatchingKey,
            Error::AlgorithmMismatch { .. } => ErrorCode::AlgorithmMismatch,
            Error::InvalidSignature | Error::SignatureTooLarge { .. } => {
                ErrorCode::InvalidSignature
            }
            Error::Expired { .. } => ErrorCode::Expired,
            Error::NotYetValid { .. } => ErrorCode::NotYetValid,
            Error::IssuedInFuture { .. } => ErrorCode::IssuedInFuture,
            Error::InvalidIssuer => ErrorCode::InvalidIssuer,
            Error::InvalidAudience { .. } => ErrorCode::InvalidAudience,
            Error::MissingClaim { .. } => ErrorCode::MissingClaim,
            Error::InvalidClaim { .. } => ErrorCode::InvalidClaim,
            Error::LifetimeTooLong { .. } => ErrorCode::LifetimeTooLong,
            Error::InvalidType { .. } => ErrorCode::InvalidType,
            Error::Key { code, .. } => match code {
                KeyErrorCode::InvalidKey => ErrorCode::InvalidKey,
                KeyErrorCode::WeakKey => ErrorCode::WeakKey,
                KeyErrorCode::DuplicateKid => ErrorCode::DuplicateKid,
                KeyErrorCode::NotForVerification => ErrorCode::KeyNotForVerification,
                KeyErrorCode::MixedKeySet => ErrorCode::MixedKeySet,
                KeyErrorCode::UnsupportedAlgorithm => ErrorCode::UnsupportedKeyAlgorithm,
            },
            Error::InvalidKeySet { .. } => ErrorCode::InvalidKeySet,
            Error::KeySource { code, .. } => *code,
            Error::InvalidOptions { .. } => ErrorCode::InvalidOptions,
            Error::SigningFailed { .. } => ErrorCode::SigningFailed,
            Error::KeyGenerationFailed { .. } => ErrorCode::KeyGenerationFailed,
            Error::Internal { .. } => ErrorCode::Internal,
            Error::Denied { code, .. } | Error::Rejected { code, .. } => *code,
            Error::InvalidPolicy { .. } => ErrorCode::InvalidPolicy,
            Error::InvalidSnapshot { .. } => ErrorCode::InvalidSnapshot,
            Error::InvalidRecord { .. } => ErrorCode::InvalidRecord,
        }
    }

    /// The `kid` a host should refresh its key set for, when this error says the kid is unknown.
    pub fn refresh_hint(&self) -> Option<&str> {
        match self {
            Error::UnknownKid { kid } => Some(kid),
            _ => None,
        }
    }

    pub(crate) fn key(code: KeyErrorCode, key: &str, reason: impl Into<String>) -> Error {
        Error::Key {
            code,
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::TokenTooLarge { len, max } => {
                write!(f, "token is {len} bytes, more than the limit of {max}")
            }
            Error::MalformedToken { segments } => write!(
                f,
                "token has {segments} segment(s); a JWS compact token has exactly 3"
            ),
            Error::InvalidBase64 { segment } => {
                write!(f, "{segment} is not canonical unpadded base64url")
            }
            Error::InvalidJson { part, reason } => write!(f, "{part} is not valid: {reason}"),
            Error::JsonTooDeep { part, max } => write!(
                f,
                "{part} is not valid: nesting is deeper than the limit of {max} levels"
            ),
            Error::InvalidHeader { reason } => write!(f, "invalid header: {reason}"),
            Error::UnsupportedAlgorithm { alg } => write!(
                f,
                "algorithm {alg:?} is not supported (supported: HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384, EdDSA)"
            ),
            Error::AlgNone => f.write_str("unsecured token (alg none) rejected"),
            Error::UnsupportedCritical { reason } => {
                write!(f, "unsupported critical extension: {reason}")
            }
            Error::UnknownKid { kid } => write!(f, "no key with kid {kid:?} in the key set"),
            Error::NoMatchingKey { alg, candidates: 0 } => {
                write!(f, "token has no kid and no key is bound to {alg}")
            }
            Error::NoMatchingKey { alg, candidates } => write!(
                f,
                "token has no kid and {candidates} keys are bound to {alg}; a kid is needed to choose"
            ),
            Error::AlgorithmMismatch {
                key_alg,
                header_alg,
            } => write!(
                f,
                "header says {header_alg} but the key is bound to {key_alg}"
            ),
            Error::InvalidSignature => f.write_str("signature is invalid"),
            Error::SignatureTooLarge { chars, max } => write!(
                f,
                "signature is invalid: its segment is {chars} characters, more than a {max}-byte signature (the limit) takes"
            ),
            Error::Expired { exp, now, leeway } => write!(
                f,
                "token expired: exp {} <= now {now} - leeway {leeway}s",
                Seconds(*exp)
            ),
            Error::NotYetValid { nbf, now, leeway } => write!(
                f,
                "token not yet valid: nbf {} > now {now} + leeway {leeway}s",
                Seconds(*nbf)
            ),
            Error::IssuedInFuture { iat, now, leeway } => write!(
                f,
                "token issued in the future: iat {} > now {now} + leeway {leeway}s",
                Seconds(*iat)
            ),
            Error::InvalidIssuer => f.write_str("issuer is not one of the accepted issuers"),
            Error::InvalidAudience { reason } => write!(f, "audience rejected: {reason}"),
            Error::MissingClaim { claim } => write!(f, "required claim {claim:?} is missing"),
            Error::InvalidClaim { claim, reason } => write!(f, "claim {claim:?}: {reason}"),
            Error::LifetimeTooLong { lifetime, max } => write!(
                f,
                "token lifetime {}s (exp - iat) exceeds the maximum of {max}s",
                Seconds(*lifetime)
            ),
            Error::InvalidType { expected } => write!(f, "typ must be {expected:?}"),
            Error::Key { key, reason, .. } => write!(f, "key {key}: {reason}"),
            Error::InvalidKeySet { reason } => write!(f, "invalid key set: {reason}"),
            Error::KeySource { reason, .. } => f.write_str(reason),
            Error::InvalidOptions { reason } => write!(f, "invalid options: {reason}"),
            Error::SigningFailed { reason } => write!(f, "signing failed: {reason}"),
            Error::KeyGenerationFailed { reason } => write!(f, "key generation failed: {reason}"),
            Error::Internal { reason } => write!(f, "internal error: {reason}"),
            Error::Denied { reason, .. } | Error::Rejected { reason, .. } => f.write_str(reason),
            Error::InvalidPolicy { at, reason } => write!(f, "{at}: {reason}"),
            Error::InvalidRecord { reason } => write!(f, "invalid stored record: {reason}"),
            Error::InvalidSnapshot { at, reason } => write!(f, "snapshot {at}: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

/// A time in seconds as a message shows it: whole numbers as integers (every NumericDate in
/// practice), others as serde_json writes them, without `core::fmt`'s float formatting (about
/// 15 KB of the WebAssembly module).
struct Seconds(f64);

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        if t.fract() == 0.0 && t.abs() < 9_007_199_254_740_992.0 {
            write!(f, "{}", t as i64)
        } else {
            match serde_json::Number::from_f64(t) {
                Some(n) => write!(f, "{n}"),
                None => f.write_str(if t.is_nan() {
                    "NaN"
                } else if t > 0.0 {
                    "inf"
                } else {
                    "-inf"
                }),
            }
        }
    }
}

/// Truncates untrusted text for an error message, on a character boundary.
pub(crate) fn truncated(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_as_the_claim_was_written() {
        let shown = |t: f64| Seconds(t).to_string();
        assert_eq!(shown(1_700_000_000.0), "1700000000");
        assert_eq!(shown(-3.0), "-3");
        assert_eq!(shown(1_700_000_000.25), "1700000000.25");
        assert_eq!(shown(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(shown(1e300), "1e+300");
        assert_eq!(shown(f64::INFINITY), "inf");
        let e = Error::Expired {
            exp: 1_700_000_000.0,
            now: 1_700_000_100,
            leeway: 60,
        };
        assert_eq!(
            e.to_string(),
            "token expired: exp 1700000000 <= now 1700000100 - leeway 60s"
        );
    }

    #[test]
    fn numbers_and_names_are_unique() {
        for (i, a) in ErrorCode::ALL.iter().enumerate() {
            for b in ErrorCode::ALL.iter().skip(i + 1) {
                assert_ne!(a.number(), b.number());
                assert_ne!(a.name(), b.name());
            }
            assert_eq!(ErrorCode::from_number(a.number()), Some(*a));
            assert_eq!(ErrorCode::from_name(a.name()), Some(*a));
        }
    }

    #[test]
    fn token_failures_are_401_and_configuration_failures_500() {
        for c in ErrorCode::ALL {
            let n = c.number();
            if (100..500).contains(&n) {
                assert_eq!(c.http_status(), 401, "{c}");
            }
            // A key set that cannot be fetched, or has gone stale, is an outage: 503.
            let unavailable = matches!(
                c,
                ErrorCode::KeySetFetchFailed | ErrorCode::KeySetStale | ErrorCode::StoreUnavailable
            );
            if (500..700).contains(&n) || (800..900).contains(&n) || n == 1 {
                assert_eq!(c.http_status(), if unavailable { 503 } else { 500 }, "{c}");
            }
        }
        assert_eq!(ErrorCode::Allowed.http_status(), 200);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncated("héllo", 2), "h");
        assert_eq!(truncated("abc", 10), "abc");
    }
}
