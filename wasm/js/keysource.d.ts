// Types of `KeySource` (js/keysource.js), shipped beside tollgate.d.ts in pkg/node and pkg/web.
import type { Engine, Refresher, RefresherConfig, RefresherStatus, VerifiedToken, VerifyOptions } from './tollgate.js';

/** Options of `new KeySource` and `KeySource.fromIssuer` (all optional). */
export interface KeySourceOptions {
  /** The `fetch` to use (default: the global one). Pass `init` on whole: it asks for no
   *  redirects and no HTTP cache. An answer that came through a redirect fails the fetch. */
  fetch?: (url: string, init: {
    headers: Record<string, string>; signal: AbortSignal; cache: 'no-store'; redirect: 'manual';
  }) => Promise<Response>;
  /** The clock, in Unix seconds (default: `Date.now()`). Every decision about time uses it. */
  now?: () => number;
  /** Longest time one fetch (response and body) may take, in ms: a whole number from 1 to
   *  300000 (default 10000); else `invalid_options`. */
  timeoutMs?: number;
  /** The refresher's settings (`maxBodyBytes` also caps how much of a response is read). */
  config?: RefresherConfig;
  /** Keep `engine`'s keys for `provider` equal to this source's (as `swapInto`); the refresher
   *  then keeps only keys of the algorithms the provider allows. */
  engine?: Engine;
  provider?: string;
  /** Called, for logs, with what goes wrong in the background: each failed fetch's
   *  `key_set_fetch_failed` Error, a set an engine's provider refused (`invalid_snapshot`: its
   *  keys there are emptied), an engine that took no keys and was dropped (see `swapInto`), and
   *  a timer tick that could not schedule the next. */
  onError?: (error: Error & { code?: string }) => void;
}

/** Verifies tokens against a `KeySource`'s current set, following its rotations. */
export interface KeySourceVerifier {
  /** As `Verifier.verify` (the claims checked at `now`); throws `key_set_fetch_failed` before
   *  the first good fetch and `key_set_stale` once the set is stale, by the source's clock. An
   *  `unknown_kid` starts a (rate-limited) refresh in the background and is thrown. */
  verify(token: string, now?: number): VerifiedToken;
  /** As `Verifier.verifyAsync` (WebCrypto); on an `unknown_kid` that the source may fetch for,
   *  it awaits the fetch and tries the token once more. */
  verifyAsync(token: string, now?: number): Promise<VerifiedToken>;
  /** Frees the WebAssembly verifier it holds. */
  free(): void;
}

/**
 * A JWKS URL kept fresh with `fetch`, in Node and in Workers. The rules (schedule from
 * `Cache-Control`, backoff that keeps the last good set, staleness, one early fetch per interval
 * for unknown kids, skipped keys) are the core's `Refresher`'s; `KeySource` does the IO: `fetch`
 * with a timeout and a body cap, coalescing concurrent refreshes.
 *
 * ```js
 * const keys = new KeySource("https://idp.example/jwks", { engine, provider: "idp" });
 * keys.start();                                   // Node: refresh on a timer
 * // Worker (no timers there), per request: `if (!keys.status().usable) await keys.refresh();`,
 * // check the token, then `ctx.waitUntil(keys.refresh())`: it runs a due fetch and keeps one an
 * // unknown kid started alive past the response.
 * const v = keys.verifier({ issuers: ["https://idp.example"], audiences: ["api"] });
 * const { claims } = await v.verifyAsync(token);
 * ```
 */
export declare class KeySource {
  /** A source for `jwksUrl` (`https`, or `http` to a loopback host; else throws
   *  `invalid_discovery`). Nothing is fetched until `refresh` or `start`. */
  constructor(jwksUrl: string, options?: KeySourceOptions);
  /** A source for the `jwks_uri` of `issuer`'s OpenID configuration (fetched now). Throws
   *  `invalid_discovery` (issuer mismatch, bad `jwks_uri`, not JSON) or `key_set_fetch_failed`
   *  (no answer, not HTTP 200). */
  static fromIssuer(issuer: string, options?: KeySourceOptions): Promise<KeySource>;
  /** The key set URL. */
  readonly url: string;
  /** The refresher holding the rules and the current set. */
  readonly refresher: Refresher;
  /** The clock's time (Unix seconds). */
  now(): number;
  /** The refresher's state now. */
  status(): RefresherStatus;
  /** Fetches once if a fetch is due, joining one under way; `true` when a new set came in.
   *  Never rejects for a failed fetch (see `status().lastError`). */
  refresh(): Promise<boolean>;
  /** A token's kid the set lacks: `true` when that starts a background fetch (at most once per
   *  `unknownKidInterval`, never during a backoff); `refresh()` joins it. */
  onUnknownKid(kid: string): boolean;
  /** A verifier over the current set (options as `new Verifier`, without `alg`/`kid`). */
  verifier(options?: VerifyOptions): KeySourceVerifier;
  /** Keeps `engine`'s keys for `provider` equal to this source's set, now and after each
   *  refresh; while no set is served, the provider has no keys. Throws if the engine cannot
   *  take keys now; one that later cannot (freed) is reported to `onError` and dropped, and
   *  the other engines are still kept in step. */
  swapInto(engine: Engine, provider: string): this;
  /** Stops keeping `engine`'s keys (for `provider`, or for all its providers) in step, and
   *  releases them (`Engine.releaseProviderKeys`): none until `swapKeys` sets them. Call it
   *  before freeing such an engine, as when a new policy replaces it. */
  stopSwappingInto(engine: Engine, provider?: string): this;
  /** Node: refresh now and whenever due, on an unref'd timer. */
  start(): this;
  /** Stops the timer. */
  stop(): this;
}
