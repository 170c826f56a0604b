// `KeySource`: a JWKS kept fresh with `fetch`, for Node and for Workers (build.sh inlines this
// file into pkg/node/index.js and pkg/web/index.js after harden.js; types in keysource.d.ts).
//
// All the rules (when to fetch, backoff, staleness, unknown-kid rate limit, which keys are
// usable) are the core's, through the hardened `Refresher`; this file only does the IO: `fetch`
// with a timeout (AbortSignal) and a body cap, a coalesced refresh, an optional timer for Node,
// and rebuilding verifiers and engine keys when the set changes. Time comes from `now()` (Unix
// seconds), so tests drive it without sleeping.

/**
 * @param {Record<string, any>} api the hardened exports (Refresher, Verifier, discovery…)
 * @returns {Function} the KeySource class
 */
function makeKeySource(api) {
  const DISCOVERY_MAX_BYTES = 64 * 1024;
  /** An Error with a stable code, shaped as the package's own. */
  const coded = codedErrors(api);
  const systemNow = () => Math.floor(Date.now() / 1000);
  const defaultFetch = (...args) => globalThis.fetch(...args);

  /** A response's body, read up to `cap` bytes; past it the stream is cancelled. */
  async function readCapped(response, cap) {
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > cap) {
      await response.body?.cancel().catch(() => {});
      throw new RangeError(`the body is ${declared} bytes; the limit is ${cap}`);
    }
    if (!response.body) return new Uint8Array(0);
    const reader = response.body.getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > cap) {
        await reader.cancel().catch(() => {});
        throw new RangeError(`the body is over ${cap} bytes, the limit`);
      }
      chunks.push(value);
    }
    const body = new Uint8Array(total);
    let at = 0;
    for (const chunk of chunks) {
      body.set(chunk, at);
      at += chunk.byteLength;
    }
    return body;
  }

  /**
   * GET `url` within `timeoutMs`: `{status, headers, body}` (the body only for a 200). Never from
   * an HTTP cache (`no-store`): the refresher schedules by the response's `Cache-Control` itself,
   * and a fetch it asks for early (an unknown kid: the provider rotated) must see the provider's
   * set, not a copy a runtime or proxy cache keeps for `max-age`. Redirects are not followed
   * (`manual`: a 3xx, or a browser's opaque redirect with status 0, is a failed fetch): one could
   * lead where the key source would not fetch from (plain http to another host, say). A `fetch`
   * option that followed one anyway (`response.redirected`) fails the fetch too.
   */
  async function get(fetchFn, url, cap, timeoutMs) {
    const signal = AbortSignal.timeout(timeoutMs);
    const response = await fetchFn(url, {
      headers: { accept: 'application/json' }, signal, cache: 'no-store', redirect: 'manual',
    });
    if (response.redirected) {
      await response.body?.cancel().catch(() => {});
      throw new Error(`the answer came through a redirect (to ${response.url || 'an unknown URL'}), which a key source does not follow`);
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      return { status: response.status, headers: response.headers, body: new Uint8Array(0) };
    }
    return { status: 200, headers: response.headers, body: await readCapped(response, cap) };
  }

  const MAX_TIMEOUT_MS = 300_000;
  const options = (o) => {
    const timeoutMs = o.timeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      throw coded('invalid_options', `timeoutMs must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`);
    }
    for (const name of ['fetch', 'now', 'onError']) {
      if (o[name] != null && typeof o[name] !== 'function') throw coded('invalid_options', `${name} must be a function`);
    }
    return { fetch: o.fetch ?? defaultFetch, now: o.now ?? systemNow, timeoutMs, onError: o.onError ?? null };
  };

  /** Verifies tokens with the source's current set; rebuilt when the set changes. */
  class KeySourceVerifier {
    #source;
    #options;
    #version = null;
    #verifier = null;

    constructor(source, verifyOptions) {
      this.#source = source;
      this.#options = verifyOptions ?? {};
      // Refuse bad options now, not at the first token.
      if (source.status().usable) this.#current(source.now());
    }

    #current(now) {
      const version = this.#source.refresher.version(now); // throws key_set_fetch_failed / _stale
      if (version !== this.#version || !this.#verifier) {
        const next = api.Verifier.fromRefresher(this.#source.refresher, this.#options, now);
        this.#verifier?.free();
        this.#verifier = next;
        this.#version = version;
      }
      return this.#verifier;
    }

    /** Verifies `token` in WebAssembly, its claims at `now`; the set's freshness is judged by
     *  the source's clock. An unknown kid starts a refresh (rate limited) and throws
     *  `unknown_kid`. */
    verify(token, now = this.#source.now()) {
      try {
        return this.#current(this.#source.now()).verify(token, now);
      } catch (e) {
        if (e?.code === 'unknown_kid' && typeof e.kid === 'string') this.#source.onUnknownKid(e.kid);
        throw e;
      }
    }

    /** Verifies with the signature on WebCrypto; an unknown kid that the source may fetch for is
     *  fetched and the token tried once more. */
    async verifyAsync(token, now) {
      const at = () => now ?? this.#source.now();
      try {
        return await this.#current(this.#source.now()).verifyAsync(token, at());
      } catch (e) {
        if (e?.code !== 'unknown_kid' || typeof e.kid !== 'string' || !this.#source.onUnknownKid(e.kid)) throw e;
        await this.#source.refresh();
        return this.#current(this.#source.now()).verifyAsync(token, at());
      }
    }

    /** Frees the WebAssembly verifier (a later call makes a new one). */
    free() {
      this.#verifier?.free();
      this.#verifier = null;
    }
  }

  /**
   * A JWKS URL kept fresh with `fetch`: see keysource.d.ts for the API.
   */
  class KeySource {
    #url;
    #io;
    #inflight = null;
    #inflightSince = 0;
    /** Fetches started, and the newest of them whose answer the refresher has. */
    #started = 0;
    #landed = 0;
    #timer = null;
    #running = false;
    #targets = [];

    constructor(jwksUrl, sourceOptions = {}) {
      api.discoveryCheckUrl(jwksUrl);
      this.#url = jwksUrl;
      this.#io = options(sourceOptions);
      /** The `Refresher` holding the rules and the current set. */
      this.refresher = sourceOptions.refresher
        ?? (sourceOptions.engine
          ? api.Refresher.forProvider(sourceOptions.engine, sourceOptions.provider, sourceOptions.config)
          : new api.Refresher(sourceOptions.config));
      if (sourceOptions.engine) this.swapInto(sourceOptions.engine, sourceOptions.provider);
    }

    /** A source for `issuer`'s `jwks_uri`, found by OpenID discovery (one fetch, now). */
    static async fromIssuer(issuer, sourceOptions = {}) {
      const io = options(sourceOptions);
      const url = api.discoveryConfigurationUrl(issuer);
      let response;
      try {
        response = await get(io.fetch, url, DISCOVERY_MAX_BYTES, io.timeoutMs);
      } catch (e) {
        throw coded('key_set_fetch_failed', `fetching ${url} failed: ${e?.message ?? e}`, e);
      }
      if (response.status !== 200) {
        throw coded('key_set_fetch_failed', `${url} answered HTTP ${response.status}`);
      }
      return new KeySource(api.discoveryJwksUri(response.body, issuer), sourceOptions);
    }

    /** The key set URL. */
    get url() { return this.#url; }

    /** The injected clock's time (Unix seconds). */
    now() { return this.#io.now(); }

    /** The refresher's state now (see `RefresherStatus`). */
    status() { return this.refresher.status(this.now()); }

    /**
     * Fetches once if a fetch is due (first use, schedule, backoff over, or an unknown kid asked
     * for one); a refresh already under way is joined, not repeated. Resolves to `true` when a
     * new set came in. Never rejects for a failed fetch: the failure is in `status().lastError`
     * (and goes to `onError`), and the last good set stays.
     */
    refresh() {
      // A fetch under way is joined, unless it has outlived its timeout: a Worker cancels a
      // request's unfinished IO when the request ends (unless it was given to waitUntil), and
      // its promise then never settles. (Real time, not `now()`: this is about the IO.)
      if (this.#inflight && Date.now() - this.#inflightSince <= this.#io.timeoutMs + 1000) {
        return this.#inflight;
      }
      const now = this.now();
      if (!this.refresher.poll(now).fetch) {
        this.#sync(now);
        return Promise.resolve(false);
      }
      const inflight = this.#fetchOnce().finally(() => {
        if (this.#inflight === inflight) this.#inflight = null;
      });
      this.#inflight = inflight;
      this.#inflightSince = Date.now();
      return inflight;
    }

    async #fetchOnce() {
      // The answer is the provider's set as of the request: the refresher dates it then, not when
      // the body has arrived. (In a Worker, a body can finish arriving during a later request, so
      // long after; dated on arrival, an old set would pass for a new one and cancel the fetch a
      // newer unknown kid asked for.) An answer older than one already applied is dropped.
      const asked = this.now();
      const fetch = ++this.#started;
      let fetched = false;
      let response = null;
      try {
        response = await get(this.#io.fetch, this.#url, this.refresher.maxBodyBytes, this.#io.timeoutMs);
      } catch (e) {
        if (fetch > this.#landed) {
          this.refresher.onFetchFailed(String(e?.message ?? e), this.now());
          this.#report(this.status().lastError);
        }
      }
      if (response && fetch < this.#landed) response = null;
      if (response) {
        this.#landed = fetch;
        try {
          this.refresher.onFetched(response.status, response.headers, response.body, asked);
          fetched = true;
        } catch (e) {
          if (e?.code !== 'key_set_fetch_failed') throw e;
          this.#report(e);
        }
      }
      this.#sync(this.now());
      return fetched;
    }

    #report(error) {
      if (this.#io.onError && error) {
        try { this.#io.onError(error); } catch { /* a logger's failure is not the source's */ }
      }
    }

    /**
     * The host saw a token whose kid the set lacks (a `unknown_kid` Error's `kid`, or a
     * decision's `refresh_hint.kid`). Returns `true` when that starts a fetch: at most once per
     * `unknownKidInterval`, never during a backoff, so a flood of forged kids costs one fetch per
     * interval. The fetch runs in the background; `refresh()` joins it (in a Worker, end the
     * request with `ctx.waitUntil(source.refresh())` so that it outlives the response).
     */
    onUnknownKid(kid) {
      if (!this.refresher.onUnknownKid(String(kid), this.now())) return false;
      this.refresh().catch((e) => this.#report(e));
      return true;
    }

    /** A verifier (`verify`, `verifyAsync`) over the current set with `verifyOptions` (as for
     *  `new Verifier`, without `alg`/`kid`), following rotations. */
    verifier(verifyOptions) {
      return new KeySourceVerifier(this, verifyOptions);
    }

    /**
     * Keeps `engine`'s keys for `provider` equal to this source's set: now, and after every
     * refresh. While the source has no set to serve (before the first good fetch, or stale) the
     * provider's keys are empty and its tokens refused. Throws if `engine` cannot take the keys
     * now (no such provider, a freed engine); later, an engine that cannot is reported to
     * `onError` and dropped, and the other engines are still kept in step.
     */
    swapInto(engine, provider) {
      const target = { engine, provider, version: undefined };
      const failed = this.#swap(target, this.now());
      if (failed) {
        // Not followed: the provider's keys are the engine's snapshot's again.
        try { engine.releaseProviderKeys(provider); } catch { /* the error below says it */ }
        throw failed;
      }
      this.#targets.push(target);
      return this;
    }

    /** Stops keeping `engine`'s keys (for `provider`, or for every provider) in step, and
     *  releases them (`Engine.releaseProviderKeys`): the provider has no keys until `swapKeys`
     *  sets them. Call it before freeing an engine the source swaps into, as when a new policy
     *  replaces it. */
    stopSwappingInto(engine, provider) {
      const stopped = this.#targets.filter(
        (t) => t.engine === engine && (provider === undefined || t.provider === provider));
      this.#targets = this.#targets.filter((t) => !stopped.includes(t));
      for (const t of stopped) {
        try {
          t.engine.releaseProviderKeys(t.provider);
        } catch (e) {
          this.#report(e);
        }
      }
      return this;
    }

    /** Swaps the current set into one target if it changed; returns null, or the engine's
     *  error. A set the provider refuses (`invalid_snapshot`) has emptied the provider's keys in
     *  the engine, and is not tried again until the set changes. */
    #swap(target, now) {
      let version;
      try {
        version = this.refresher.version(now);
      } catch (e) {
        version = e?.code ?? 'unusable';
      }
      if (version === target.version) return null;
      try {
        target.engine.swapProviderKeys(target.provider, this.refresher, now);
      } catch (e) {
        const code = e?.code;
        if (code !== 'key_set_fetch_failed' && code !== 'key_set_stale') {
          if (code === 'invalid_snapshot') target.version = version;
          return e;
        }
      }
      target.version = version;
      return null;
    }

    /** Swaps into every target. A refused set is reported; a target that can take no keys
     *  (freed, from an aborted instance) is reported and dropped. Neither keeps the others from
     *  their keys. */
    #sync(now) {
      const failed = new Set();
      for (const target of this.#targets) {
        const e = this.#swap(target, now);
        if (e?.code === 'invalid_snapshot') {
          this.#report(e);
        } else if (e) {
          this.#report(coded(e?.code ?? 'internal_error', `the engine for provider ${JSON.stringify(target.provider)} took no keys and no longer follows this source: ${e?.message ?? e}`, e));
          failed.add(target);
        }
      }
      if (failed.size > 0) this.#targets = this.#targets.filter((t) => !failed.has(t));
    }

    /**
     * Node (or any runtime with timers outside requests): refreshes now and then whenever the
     * schedule says, on a timer that does not keep the process alive. In a Worker, call
     * `refresh()` per request instead: awaited while `status().usable` is false, otherwise in
     * `ctx.waitUntil` after the token is checked.
     */
    start() {
      if (this.#running) return this;
      this.#running = true;
      // Nothing in a tick may reject: an unhandled rejection ends a Node process. A tick that
      // cannot schedule (a refresher from an aborted instance, a clock that throws) reports why
      // and tries again in a minute.
      const next = () => {
        const now = this.now();
        const poll = this.refresher.poll(now);
        let until = poll.fetch ? now : poll.until;
        // With engines to keep in step, also wake when the set goes stale: refresh() then takes
        // it out of them, fetch due or not.
        const { usable, staleAt } = this.refresher.status(now);
        if (this.#targets.length > 0 && usable && staleAt !== null) until = Math.min(until, staleAt);
        return Math.min(Math.max(1, until - now), 86_400);
      };
      const tick = async () => {
        this.#timer = null;
        try {
          await this.refresh();
        } catch (e) {
          this.#report(e);
        }
        if (!this.#running) return;
        let wait = 60;
        try {
          wait = next();
        } catch (e) {
          this.#report(e);
        }
        this.#timer = setTimeout(tick, wait * 1000);
        this.#timer.unref?.();
      };
      tick();
      return this;
    }

    /** Stops the timer `start` set. */
    stop() {
      this.#running = false;
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
      return this;
    }
  }

  return KeySource;
}
