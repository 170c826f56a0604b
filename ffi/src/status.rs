//! `tg_status`: the one status type of the C ABI.
//!
//! Every number below 2000 is the number of the [`ErrorCode`] with the same name, so a status, a
//! decision's reason and every binding's error code agree; 2000 and above are codes only the C ABI
//! can produce (a NULL pointer, text that is not UTF-8, an index out of range, a caught panic).
//! Numbers never change meaning and retired numbers are never reused. A test checks this enum
//! against [`ErrorCode::ALL`] and against the generated header.

use std::ffi::CStr;
use std::sync::OnceLock;
use tollgate_core::ErrorCode;

/// The result of a call: `TG_STATUS_OK` (0), or why it failed.
///
/// The numbers below 2000 are Tollgate's stable error codes (see `docs/errors.md`); a decision's
/// reason (`tg_decision_reason`) is one of them too. 2000 and above are errors of the C ABI
/// itself. `tg_error_name` and `tg_error_message` describe any number.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success. As a decision's reason: the request may pass.
    Ok = 0,
    /// A bug in Tollgate: a state that should be impossible.
    InternalError = 1,

    /// The token is longer than the configured maximum.
    TokenTooLarge = 100,
    /// The token is not three base64url segments separated by dots.
    MalformedToken = 101,
    /// A segment is not strict, canonical, unpadded base64url.
    InvalidBase64 = 102,
    /// The header or the claims are not a strict JSON object.
    InvalidJson = 103,
    /// The header lacks `alg` or has a member of the wrong type.
    InvalidHeader = 104,
    /// The header names an algorithm Tollgate does not verify.
    UnsupportedAlgorithm = 105,
    /// The header says `alg: none` (in any letter case).
    AlgNone = 106,
    /// The header has `crit` (or `b64: false`) naming an extension Tollgate does not understand.
    UnsupportedCrit = 107,

    /// The header's `kid` is not in the key set: the host may refresh its keys and retry.
    UnknownKid = 200,
    /// The token has no `kid` and not exactly one key is bound to its algorithm.
    NoMatchingKey = 201,
    /// The key selected by `kid` is bound to a different algorithm than the header names.
    AlgorithmMismatch = 202,

    /// The signature does not verify.
    InvalidSignature = 300,

    /// `now` is at or past `exp` plus leeway.
    Expired = 400,
    /// `now` is before `nbf` minus leeway.
    NotYetValid = 401,
    /// `iat` is after `now` plus leeway.
    IssuedInFuture = 402,
    /// `iss` is not one of the accepted issuers.
    InvalidIssuer = 403,
    /// `aud` names none of the accepted audiences.
    InvalidAudience = 404,
    /// A required claim is absent.
    MissingClaim = 405,
    /// A registered claim has the wrong JSON type or an out-of-range value.
    InvalidClaim = 406,
    /// `exp - iat` exceeds the configured maximum lifetime.
    LifetimeTooLong = 407,
    /// The header's `typ` is not the required one.
    InvalidTyp = 408,

    /// An API key's form or checksum is wrong (a typo or a truncated paste): rejected before any lookup.
    MalformedApiKey = 450,
    /// No record has this API key's hash.
    UnknownApiKey = 451,
    /// The API key's record has expired.
    ApiKeyExpired = 452,
    /// The API key has been revoked.
    ApiKeyRevoked = 453,
    /// No session record has this session id's hash.
    UnknownSession = 454,
    /// The session record has expired.
    SessionExpired = 455,
    /// The session has been revoked (signed out).
    SessionRevoked = 456,

    /// A key cannot be used: malformed, wrong type for its algorithm, or private material in a public set.
    InvalidKey = 500,
    /// A key is too weak: RSA below 2048 bits, a short or empty HMAC secret, a known-weak RSA modulus,
    /// an Ed25519 key of small order.
    WeakKey = 501,
    /// Two keys in one set share a `kid`.
    DuplicateKid = 502,
    /// A key is marked for another use (`use: enc`, `key_ops` without `verify`).
    KeyNotForVerification = 503,
    /// A key set mixes shared secrets and public keys.
    MixedKeySet = 504,
    /// A JWKS or JWK document is not valid.
    InvalidKeySet = 505,
    /// Verification options are out of range (for example a leeway above the cap).
    InvalidOptions = 506,
    /// A key names an algorithm Tollgate cannot use with it.
    UnsupportedKeyAlgorithm = 507,
    /// Fetching a key set failed; the last good set, if any, stays in use.
    KeySetFetchFailed = 508,
    /// No key set was fetched within the stale-after limit (or the clock reads before the set's
    /// fetch, so its age is unknown): tokens are refused until one is.
    KeySetStale = 509,
    /// An OpenID Provider configuration document is invalid, or names another issuer.
    InvalidDiscovery = 510,
    /// The check needs a record from the shared store, and the store did not answer.
    StoreUnavailable = 511,

    /// Signing a token failed (bad claims document or signing key).
    SigningFailed = 600,
    /// Generating a key failed.
    KeyGenerationFailed = 601,

    /// The request itself is unusable (bad path, too many or too large headers).
    InvalidRequest = 700,
    /// No route matches and the policy denies unknown routes.
    RouteNotFound = 701,
    /// The route needs a credential and the request carries none.
    MissingCredentials = 702,
    /// The request carries more than one credential.
    AmbiguousCredentials = 703,
    /// No provider accepts this credential (for example an issuer no provider trusts).
    UnknownIssuer = 704,
    /// The token's `jti` is on the deny-list.
    TokenRevoked = 705,
    /// The principal has no record where the policy needs one (a personal access token's user).
    UnknownPrincipal = 706,
    /// The route does not accept this kind of principal or credential.
    PrincipalNotAllowed = 707,
    /// A tenant-scoped route was called without a tenant.
    MissingTenant = 708,
    /// The tenant is not well formed (for example not a UUID where one is required).
    InvalidTenant = 709,
    /// The caller is not a member of the tenant.
    TenantForbidden = 710,
    /// The caller is not a member of the tenant, and the policy hides the tenant's existence.
    NotFound = 711,
    /// The caller lacks a permission the route requires.
    InsufficientPermissions = 712,

    /// A policy document is invalid; the message names the exact place.
    InvalidPolicy = 800,
    /// A key snapshot does not fit the policy (unknown provider, keys for algorithms it does not allow).
    InvalidSnapshot = 801,
    /// A record from the shared store is not one this build can trust.
    InvalidRecord = 802,

    /// A webhook's `webhook-id`, `webhook-timestamp` or `webhook-signature` header is missing,
    /// malformed or oversized.
    WebhookMalformed = 900,
    /// The webhook's timestamp is outside the tolerance window.
    WebhookTimestampOutOfTolerance = 901,
    /// No signature in `webhook-signature` verifies.
    WebhookSignatureInvalid = 902,
    /// This delivery (its `webhook-id` and body) was already accepted within the tolerance window.
    WebhookReplayed = 903,
    /// The webhook body exceeds the size limit.
    WebhookBodyTooLarge = 904,
    /// A `whsec_`, `whsk_` or `whpk_` secret or key is malformed or of the wrong size.
    InvalidWebhookSecret = 905,
    /// The replay guard is full of ids still inside their window: the delivery is refused rather
    /// than an id forgotten early, and the sender should retry later.
    WebhookReplayGuardFull = 906,

    // Errors of the C ABI itself: 2000 and above.
    /// A required pointer argument is NULL (or a pointer is NULL while its length is not 0).
    NullParameter = 2000,
    /// A text argument is not valid UTF-8.
    InvalidUtf8 = 2001,
    /// An index or size argument is out of range.
    OutOfRange = 2002,
    /// Tollgate panicked inside the call (a bug); the panic was caught at the boundary and no
    /// output was written (but a decision reused by `tg_engine_check_into` is emptied). The
    /// handles passed in remain valid to free.
    Panic = 2003,
}

/// Every status and its stable name, in numeric order.
pub(crate) const NAMES: &[(Status, &CStr)] = &[
    (Status::Ok, c"ok"),
    (Status::InternalError, c"internal_error"),
    (Status::TokenTooLarge, c"token_too_large"),
    (Status::MalformedToken, c"malformed_token"),
    (Status::InvalidBase64, c"invalid_base64"),
    (Status::InvalidJson, c"invalid_json"),
    (Status::InvalidHeader, c"invalid_header"),
    (Status::UnsupportedAlgorithm, c"unsupported_algorithm"),
    (Status::AlgNone, c"alg_none"),
    (Status::UnsupportedCrit, c"unsupported_crit"),
    (Status::UnknownKid, c"unknown_kid"),
    (Status::NoMatchingKey, c"no_matching_key"),
    (Status::AlgorithmMismatch, c"algorithm_mismatch"),
    (Status::InvalidSignature, c"invalid_signature"),
    (Status::Expired, c"expired"),
    (Status::NotYetValid, c"not_yet_valid"),
    (Status::IssuedInFuture, c"issued_in_future"),
    (Status::InvalidIssuer, c"invalid_issuer"),
    (Status::InvalidAudience, c"invalid_audience"),
    (Status::MissingClaim, c"missing_claim"),
    (Status::InvalidClaim, c"invalid_claim"),
    (Status::LifetimeTooLong, c"lifetime_too_long"),
    (Status::InvalidTyp, c"invalid_typ"),
    (Status::MalformedApiKey, c"malformed_api_key"),
    (Status::UnknownApiKey, c"unknown_api_key"),
    (Status::ApiKeyExpired, c"api_key_expired"),
    (Status::ApiKeyRevoked, c"api_key_revoked"),
    (Status::UnknownSession, c"unknown_session"),
    (Status::SessionExpired, c"session_expired"),
    (Status::SessionRevoked, c"session_revoked"),
    (Status::InvalidKey, c"invalid_key"),
    (Status::WeakKey, c"weak_key"),
    (Status::DuplicateKid, c"duplicate_kid"),
    (Status::KeyNotForVerification, c"key_not_for_verification"),
    (Status::MixedKeySet, c"mixed_key_set"),
    (Status::InvalidKeySet, c"invalid_key_set"),
    (Status::InvalidOptions, c"invalid_options"),
    (
        Status::UnsupportedKeyAlgorithm,
        c"unsupported_key_algorithm",
    ),
    (Status::KeySetFetchFailed, c"key_set_fetch_failed"),
    (Status::KeySetStale, c"key_set_stale"),
    (Status::InvalidDiscovery, c"invalid_discovery"),
    (Status::StoreUnavailable, c"store_unavailable"),
    (Status::SigningFailed, c"signing_failed"),
    (Status::KeyGenerationFailed, c"key_generation_failed"),
    (Status::InvalidRequest, c"invalid_request"),
    (Status::RouteNotFound, c"route_not_found"),
    (Status::MissingCredentials, c"missing_credentials"),
    (Status::AmbiguousCredentials, c"ambiguous_credentials"),
    (Status::UnknownIssuer, c"unknown_issuer"),
    (Status::TokenRevoked, c"token_revoked"),
    (Status::UnknownPrincipal, c"unknown_principal"),
    (Status::PrincipalNotAllowed, c"principal_not_allowed"),
    (Status::MissingTenant, c"missing_tenant"),
    (Status::InvalidTenant, c"invalid_tenant"),
    (Status::TenantForbidden, c"tenant_forbidden"),
    (Status::NotFound, c"not_found"),
    (Status::InsufficientPermissions, c"insufficient_permissions"),
    (Status::InvalidPolicy, c"invalid_policy"),
    (Status::InvalidSnapshot, c"invalid_snapshot"),
    (Status::InvalidRecord, c"invalid_record"),
    (Status::WebhookMalformed, c"webhook_malformed"),
    (
        Status::WebhookTimestampOutOfTolerance,
        c"webhook_timestamp_out_of_tolerance",
    ),
    (
        Status::WebhookSignatureInvalid,
        c"webhook_signature_invalid",
    ),
    (Status::WebhookReplayed, c"webhook_replayed"),
    (Status::WebhookBodyTooLarge, c"webhook_body_too_large"),
    (Status::InvalidWebhookSecret, c"invalid_webhook_secret"),
    (Status::WebhookReplayGuardFull, c"webhook_replay_guard_full"),
    (Status::NullParameter, c"null_parameter"),
    (Status::InvalidUtf8, c"invalid_utf8"),
    (Status::OutOfRange, c"out_of_range"),
    (Status::Panic, c"panic"),
];

/// Summaries of the codes only the C ABI produces.
const FFI_SUMMARIES: &[(Status, &CStr)] = &[
    (Status::NullParameter, c"a required pointer is NULL"),
    (Status::InvalidUtf8, c"text is not valid UTF-8"),
    (Status::OutOfRange, c"an index or size is out of range"),
    (Status::Panic, c"internal panic caught at the C boundary"),
];

impl Status {
    /// The stable number.
    pub const fn number(self) -> u32 {
        self as u32
    }

    /// The status with this number, if there is one.
    pub fn from_number(number: u32) -> Option<Status> {
        NAMES
            .iter()
            .find(|(s, _)| s.number() == number)
            .map(|(s, _)| *s)
    }

    /// The status for a core error code. Every code has one (a test checks it); a code newer than
    /// this table would read as an internal error.
    pub fn from_code(code: ErrorCode) -> Status {
        Status::from_number(code.number()).unwrap_or(Status::InternalError)
    }

    /// The stable `snake_case` name.
    pub fn name(self) -> &'static CStr {
        NAMES
            .iter()
            .find(|(s, _)| *s == self)
            .map_or(c"unknown", |(_, n)| *n)
    }

    /// A one-line description: the core's summary, or the C ABI's own.
    pub fn summary(self) -> &'static CStr {
        if let Some((_, text)) = FFI_SUMMARIES.iter().find(|(s, _)| *s == self) {
            return text;
        }
        static SUMMARIES: OnceLock<Vec<(u32, std::ffi::CString)>> = OnceLock::new();
        let table = SUMMARIES.get_or_init(|| {
            ErrorCode::ALL
                .iter()
                .map(|c| {
                    let text = std::ffi::CString::new(c.summary()).unwrap_or_default();
                    (c.number(), text)
                })
                .collect()
        });
        table
            .iter()
            .find(|(n, _)| *n == self.number())
            .map_or(c"unknown status", |(_, t)| t.as_c_str())
    }

    /// The HTTP status a gateway answers with for this status (500 for the C ABI's own codes).
    pub fn http_status(self) -> u16 {
        match ErrorCode::from_number(self.number()) {
            Some(code) => code.http_status(),
            None => 500,
        }
    }
}

impl From<ErrorCode> for Status {
    fn from(code: ErrorCode) -> Status {
        Status::from_code(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every core code has a status with the same number and name, and every status below 2000 is
    /// a core code.
    #[test]
    fn statuses_mirror_the_error_codes() {
        for code in ErrorCode::ALL {
            let status = Status::from_number(code.number())
                .unwrap_or_else(|| panic!("no tg_status for {} ({})", code.name(), code.number()));
            assert_eq!(status.name().to_str().unwrap(), code.name(), "{code:?}");
            assert_eq!(Status::from_code(*code), status);
            assert_eq!(status.summary().to_str().unwrap(), code.summary());
            assert_eq!(status.http_status(), code.http_status());
        }
        for (status, name) in NAMES {
            let n = status.number();
            if n < 2000 {
                let code = ErrorCode::from_number(n)
                    .unwrap_or_else(|| panic!("tg_status {name:?} ({n}) is not a core code"));
                assert_eq!(name.to_str().unwrap(), code.name());
            } else {
                assert!(FFI_SUMMARIES.iter().any(|(s, _)| s == status), "{name:?}");
            }
        }
        assert_eq!(NAMES.len(), ErrorCode::ALL.len() + FFI_SUMMARIES.len());
        assert!(NAMES.windows(2).all(|w| w[0].0.number() < w[1].0.number()));
    }

    /// The generated header spells each status `TG_STATUS_<NAME> = <number>`, so C code can
    /// switch on the same names every binding uses.
    #[test]
    fn the_header_spells_every_status() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../include/tollgate.h");
        let header = std::fs::read_to_string(path).expect("include/tollgate.h");
        for (status, name) in NAMES {
            let line = format!(
                "TG_STATUS_{} = {},",
                name.to_str().unwrap().to_ascii_uppercase(),
                status.number()
            );
            assert!(header.contains(&line), "the header lacks {line:?}");
        }
    }
}
