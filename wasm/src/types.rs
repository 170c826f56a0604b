//! TypeScript declarations for the plain objects the API takes and returns (the generated
//! `.d.ts` gets the classes and functions from their doc comments).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &'static str = r#"
/** A request to decide. `path` may carry a query string (ignored); instead of `path`, a `url`
 *  gives it: absolute (a fetch `Request`'s, `https://host/p?q`), or a request target as it is
 *  (Node's `req.url`, `/p?q`). Header names are case-insensitive. */
export interface CheckRequest {
  method: string;
  path?: string;
  url?: string;
  headers?: Headers | Iterable<[string, string]> | Array<[string, string]>
    | Record<string, string | string[] | undefined>;
}

/** One record ready to store: its key, its JSON text, and when it expires (Unix seconds). */
export interface StoreRecord {
  key: string;
  value: string;
  expires: number | null;
}

/** A key snapshot's records in store form (`recordsFromSnapshot`). */
export interface StoreRecords {
  /** The snapshot without its records: what `swapKeys` loads. */
  snapshot: Record<string, unknown>;
  /** Each record, ready to store. */
  records: StoreRecord[];
}

/** Who is calling, once authenticated. */
export interface Principal {
  subject: string;
  /** `user`, `service`, `personal_access_token`, … */
  kind: string;
  /** The policy provider that vouched for it. */
  provider: string;
  tenant: string | null;
  /** Effective roles (the closure over the hierarchy), in policy order. */
  roles: string[];
  /** Effective permissions, in policy order. */
  permissions: string[];
  expires_at: number | null;
  /** The verified claims (for an API key: its record, minus the hash). */
  claims: Record<string, unknown> | null;
}

/** What the gateway must do: the shared JSON shape of every Tollgate binding. */
export interface Decision {
  /** 200 lets the request through; 400, 401, 403 or 404 refuses it; 500 (`internal_error`,
   * `invalid_record`) and 503 (`store_unavailable`) are the engine's or the store's fault. */
  status: number;
  /** The stable reason: `ok`, or an `ErrorCode` name such as `expired`. */
  reason: string;
  /** The reason's number. */
  code: number;
  /** For logs (never secrets). */
  message: string;
  /** The path template of the matched route. */
  route: string | null;
  principal: Principal | null;
  /** The `WWW-Authenticate` value to send with a 401 or 403 (RFC 6750). */
  www_authenticate: string | null;
  /** Headers a gateway may forward upstream when it lets the request through. */
  forward_headers: Record<string, string>;
  correlation_id: string | null;
  /** A `kid` the provider's keys lack: refresh that provider's JWKS (rate limited) and retry. */
  refresh_hint: { provider: string; kid: string } | null;
}

/** Options of `new Verifier` and `verify`. */
export interface VerifyOptions {
  /** Accepted issuers (exact match); left out accepts any, `[]` is refused (`invalid_options`). */
  issuers?: string[];
  /** Accepted audiences (any match); empty means the token must carry no `aud`. */
  audiences?: string[];
  /** Clock leeway in seconds (default 60, at most 600). */
  leeway?: number;
  /** Required `typ` (compared as RFC 7515 says), e.g. `at+jwt`. */
  typ?: string;
  /** Claims that must be present (default `["exp"]`). */
  required?: string[];
  /** Maximum `exp - iat` in seconds. */
  maxLifetime?: number;
  /** Reject an `iat` in the future (default true). */
  rejectFutureIat?: boolean;
  /** Largest token in bytes (default 8192, at most 65536). */
  maxTokenBytes?: number;
  /** Deepest JSON nesting (default 16). */
  maxJsonDepth?: number;
  /** Binds every key to this algorithm; needed for PEM/DER keys and RSA or `oct` keys without `alg`. */
  alg?: string;
  /** The `kid` of a PEM/DER key. */
  kid?: string;
}

/** A verified JWT. */
export interface VerifiedToken {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  algorithm: string;
  keyId: string | null;
}

/** A JWS whose signature verified (its payload need not be JWT claims). */
export interface VerifiedJws {
  header: Record<string, unknown>;
  payload: Uint8Array;
  algorithm: string;
  keyId: string | null;
}

/** Every failure is thrown (or rejected) as an `Error` with these members. */
export interface TollgateError extends Error {
  /** The stable `ErrorCode` name: `expired`, `invalid_policy`, `internal_error`, … */
  code: string;
  /** The code's number. */
  number: number;
  /** The HTTP status the code maps to. */
  status: number;
  /** For `unknown_kid`: the token's kid (hand it to `KeySource.onUnknownKid`). */
  kid?: string;
}

/** Config of `new Refresher` and `Refresher.forProvider` (all optional; durations in seconds). */
export interface RefresherConfig {
  /** Shortest time between good fetches, whatever `max-age` says (default 300). */
  minTtl?: number;
  /** Longest time between good fetches (default 86400). */
  maxTtl?: number;
  /** Time to the next fetch when the response has no `max-age` (default 900). */
  defaultTtl?: number;
  /** Least time between two early fetches for unknown kids (default 30). */
  unknownKidInterval?: number;
  /** First retry delay after a failure, doubled per consecutive failure (default 5). */
  retryInitial?: number;
  /** Longest retry delay (default 300). */
  retryMax?: number;
  /** A set not refreshed for this long is no longer served (default 172800; above `maxTtl`). */
  staleAfter?: number;
  /** Largest key set body in bytes (default and most 1048576). */
  maxBodyBytes?: number;
  /** The algorithms whose keys are kept (others are skipped); empty or absent: any. */
  algorithms?: string[];
}

/** What a good fetch brought. */
export interface FetchedKeys {
  /** Usable keys in the new set. */
  keys: number;
  /** Keys left out (see `RefresherStatus.skipped`). */
  skipped: number;
  /** When the next fetch is due (Unix seconds). */
  nextFetch: number;
}

/** A refresher's state at a time. */
export interface RefresherStatus {
  /** Whether a key set is served (fetched, and not stale). */
  usable: boolean;
  /** The served set's kids (`""` for a key without one); `null` when none is served. */
  keyIds: string[] | null;
  /** When the current set was fetched (Unix seconds), if ever. */
  fetchedAt: number | null;
  /** When that set stops being served (`fetchedAt` + `staleAfter`): a host that swaps it into an
   *  engine swaps again then, fetch due or not. */
  staleAt: number | null;
  /** When the next fetch is due (Unix seconds; 0 before the first). */
  nextFetch: number;
  /** Consecutive failures since the last good fetch. */
  failures: number;
  /** The last failure until a fetch succeeds; when nothing is served, why
   *  (`key_set_fetch_failed`, `key_set_stale`). */
  lastError: { code: string; message: string } | null;
  /** Keys the last good fetch left out, and why. */
  skipped: Array<{ index: number; kid: string | null; code: string; reason: string }>;
}

/** One entry of `errorCodes()`. */
export interface ErrorCodeInfo {
  name: string;
  number: number;
  status: number;
  summary: string;
}
"#;
