// The sentinels, written from include/tollgate.h's tg_status numbers (TG_STATUS_OK excepted);
// TestSentinelsMatchLibrary checks each name against tg_error_name and that none is missing.

package tollgate

// Sentinel errors, one per Tollgate status (docs/errors.md), for errors.Is:
//
//	if errors.Is(err, tollgate.ErrExpired) { … }
//
// A *Error matches a sentinel when their Numbers are equal; use errors.As to read the
// details (Code, Number, HTTPStatus, Message) of the error you got.
var (
	ErrInternalError                  = sentinel(1, "internal_error")
	ErrTokenTooLarge                  = sentinel(100, "token_too_large")
	ErrMalformedToken                 = sentinel(101, "malformed_token")
	ErrInvalidBase64                  = sentinel(102, "invalid_base64")
	ErrInvalidJSON                    = sentinel(103, "invalid_json")
	ErrInvalidHeader                  = sentinel(104, "invalid_header")
	ErrUnsupportedAlgorithm           = sentinel(105, "unsupported_algorithm")
	ErrAlgNone                        = sentinel(106, "alg_none")
	ErrUnsupportedCrit                = sentinel(107, "unsupported_crit")
	ErrUnknownKID                     = sentinel(200, "unknown_kid")
	ErrNoMatchingKey                  = sentinel(201, "no_matching_key")
	ErrAlgorithmMismatch              = sentinel(202, "algorithm_mismatch")
	ErrInvalidSignature               = sentinel(300, "invalid_signature")
	ErrExpired                        = sentinel(400, "expired")
	ErrNotYetValid                    = sentinel(401, "not_yet_valid")
	ErrIssuedInFuture                 = sentinel(402, "issued_in_future")
	ErrInvalidIssuer                  = sentinel(403, "invalid_issuer")
	ErrInvalidAudience                = sentinel(404, "invalid_audience")
	ErrMissingClaim                   = sentinel(405, "missing_claim")
	ErrInvalidClaim                   = sentinel(406, "invalid_claim")
	ErrLifetimeTooLong                = sentinel(407, "lifetime_too_long")
	ErrInvalidTyp                     = sentinel(408, "invalid_typ")
	ErrMalformedAPIKey                = sentinel(450, "malformed_api_key")
	ErrUnknownAPIKey                  = sentinel(451, "unknown_api_key")
	ErrAPIKeyExpired                  = sentinel(452, "api_key_expired")
	ErrAPIKeyRevoked                  = sentinel(453, "api_key_revoked")
	ErrUnknownSession                 = sentinel(454, "unknown_session")
	ErrSessionExpired                 = sentinel(455, "session_expired")
	ErrSessionRevoked                 = sentinel(456, "session_revoked")
	ErrInvalidKey                     = sentinel(500, "invalid_key")
	ErrWeakKey                        = sentinel(501, "weak_key")
	ErrDuplicateKID                   = sentinel(502, "duplicate_kid")
	ErrKeyNotForVerification          = sentinel(503, "key_not_for_verification")
	ErrMixedKeySet                    = sentinel(504, "mixed_key_set")
	ErrInvalidKeySet                  = sentinel(505, "invalid_key_set")
	ErrInvalidOptions                 = sentinel(506, "invalid_options")
	ErrUnsupportedKeyAlgorithm        = sentinel(507, "unsupported_key_algorithm")
	ErrKeySetFetchFailed              = sentinel(508, "key_set_fetch_failed")
	ErrKeySetStale                    = sentinel(509, "key_set_stale")
	ErrInvalidDiscovery               = sentinel(510, "invalid_discovery")
	ErrStoreUnavailable               = sentinel(511, "store_unavailable")
	ErrSigningFailed                  = sentinel(600, "signing_failed")
	ErrKeyGenerationFailed            = sentinel(601, "key_generation_failed")
	ErrInvalidRequest                 = sentinel(700, "invalid_request")
	ErrRouteNotFound                  = sentinel(701, "route_not_found")
	ErrMissingCredentials             = sentinel(702, "missing_credentials")
	ErrAmbiguousCredentials           = sentinel(703, "ambiguous_credentials")
	ErrUnknownIssuer                  = sentinel(704, "unknown_issuer")
	ErrTokenRevoked                   = sentinel(705, "token_revoked")
	ErrUnknownPrincipal               = sentinel(706, "unknown_principal")
	ErrPrincipalNotAllowed            = sentinel(707, "principal_not_allowed")
	ErrMissingTenant                  = sentinel(708, "missing_tenant")
	ErrInvalidTenant                  = sentinel(709, "invalid_tenant")
	ErrTenantForbidden                = sentinel(710, "tenant_forbidden")
	ErrNotFound                       = sentinel(711, "not_found")
	ErrInsufficientPermissions        = sentinel(712, "insufficient_permissions")
	ErrInvalidPolicy                  = sentinel(800, "invalid_policy")
	ErrInvalidSnapshot                = sentinel(801, "invalid_snapshot")
	ErrInvalidRecord                  = sentinel(802, "invalid_record")
	ErrWebhookMalformed               = sentinel(900, "webhook_malformed")
	ErrWebhookTimestampOutOfTolerance = sentinel(901, "webhook_timestamp_out_of_tolerance")
	ErrWebhookSignatureInvalid        = sentinel(902, "webhook_signature_invalid")
	ErrWebhookReplayed                = sentinel(903, "webhook_replayed")
	ErrWebhookBodyTooLarge            = sentinel(904, "webhook_body_too_large")
	ErrInvalidWebhookSecret           = sentinel(905, "invalid_webhook_secret")
	ErrWebhookReplayGuardFull         = sentinel(906, "webhook_replay_guard_full")
	ErrNullParameter                  = sentinel(2000, "null_parameter")
	ErrInvalidUTF8                    = sentinel(2001, "invalid_utf8")
	ErrOutOfRange                     = sentinel(2002, "out_of_range")
	ErrPanic                          = sentinel(2003, "panic")
)

// allErrors lists every sentinel, in number order.
var allErrors = []*Error{
	ErrInternalError,
	ErrTokenTooLarge,
	ErrMalformedToken,
	ErrInvalidBase64,
	ErrInvalidJSON,
	ErrInvalidHeader,
	ErrUnsupportedAlgorithm,
	ErrAlgNone,
	ErrUnsupportedCrit,
	ErrUnknownKID,
	ErrNoMatchingKey,
	ErrAlgorithmMismatch,
	ErrInvalidSignature,
	ErrExpired,
	ErrNotYetValid,
	ErrIssuedInFuture,
	ErrInvalidIssuer,
	ErrInvalidAudience,
	ErrMissingClaim,
	ErrInvalidClaim,
	ErrLifetimeTooLong,
	ErrInvalidTyp,
	ErrMalformedAPIKey,
	ErrUnknownAPIKey,
	ErrAPIKeyExpired,
	ErrAPIKeyRevoked,
	ErrUnknownSession,
	ErrSessionExpired,
	ErrSessionRevoked,
	ErrInvalidKey,
	ErrWeakKey,
	ErrDuplicateKID,
	ErrKeyNotForVerification,
	ErrMixedKeySet,
	ErrInvalidKeySet,
	ErrInvalidOptions,
	ErrUnsupportedKeyAlgorithm,
	ErrKeySetFetchFailed,
	ErrKeySetStale,
	ErrInvalidDiscovery,
	ErrStoreUnavailable,
	ErrSigningFailed,
	ErrKeyGenerationFailed,
	ErrInvalidRequest,
	ErrRouteNotFound,
	ErrMissingCredentials,
	ErrAmbiguousCredentials,
	ErrUnknownIssuer,
	ErrTokenRevoked,
	ErrUnknownPrincipal,
	ErrPrincipalNotAllowed,
	ErrMissingTenant,
	ErrInvalidTenant,
	ErrTenantForbidden,
	ErrNotFound,
	ErrInsufficientPermissions,
	ErrInvalidPolicy,
	ErrInvalidSnapshot,
	ErrInvalidRecord,
	ErrWebhookMalformed,
	ErrWebhookTimestampOutOfTolerance,
	ErrWebhookSignatureInvalid,
	ErrWebhookReplayed,
	ErrWebhookBodyTooLarge,
	ErrInvalidWebhookSecret,
	ErrWebhookReplayGuardFull,
	ErrNullParameter,
	ErrInvalidUTF8,
	ErrOutOfRange,
	ErrPanic,
}
