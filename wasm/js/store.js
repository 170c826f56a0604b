// Checks that wait on a shared store, and `RedisStore` (build.sh inlines this file into
// pkg/node/index.js and pkg/web/index.js after harden.js; types in store.d.ts).
//
// The rules are the core's (docs/records.md): a check of a policy whose providers say
// `"records": "store"` may stop at a record it needs (`Engine.checkStep` returns a `Pending`
// with the `storeKey` to read); this file only does the IO. `checkWithStore` works with any
// store whose `get(key)` resolves to the stored text (or null); `RedisStore` is one over a
// connected node-redis client (npm `redis`, v4 or later), which also writes records, claims
// webhook ids and follows the `tollgate:invalidate` channel.

/**
 * @param {Record<string, any>} api the hardened exports (Engine, Pending, errorCodes…)
 * @returns {{checkWithStore: Function, RedisStore: Function}}
 */
function makeStore(api) {
  const CHANNEL = 'tollgate:invalidate';
  // A record is kept a day past its `expires`, so a late caller hears why (api_key_expired).
  const EXPIRED_RECORDS_KEPT_SECS = 86400;
  /** An Error with a stable code, shaped as the package's own. */
  const coded = codedErrors(api);

  /** Decides `request`, reading the records it needs from `store` (see store.d.ts). */
  async function checkWithStore(engine, request, store, now) {
    let step = engine.checkStep(request, now);
    while (step instanceof api.Pending) {
      let record;
      try {
        record = await store.get(step.storeKey);
      } catch (error) {
        if (typeof store.onError === 'function') store.onError(error);
        return engine.resumeUnavailable(step, now);
      }
      step = engine.resume(step, record ?? null, now);
    }
    return step;
  }

  /** `tollgate:api_key:<hex>` for a record's `hash` (`sha256:<b64url>`, `hmac-sha256:<b64url>`). */
  function apiKeyStoreKey(hash) {
    const m = /^(sha256|hmac-sha256):([A-Za-z0-9_-]{43})$/.exec(hash);
    if (!m) throw coded('invalid_request', `${JSON.stringify(hash)} is not sha256:<base64url> or hmac-sha256:<base64url> of 32 bytes`);
    const bytes = atob(m[2].replace(/-/g, '+').replace(/_/g, '/') + '=');
    let hex = '';
    for (let i = 0; i < bytes.length; i++) hex += bytes.charCodeAt(i).toString(16).padStart(2, '0');
    return `tollgate:api_key:${hex}`;
  }

  class RedisStore {
    /**
     * @param {any} client a connected node-redis client (`createClient(...).connect()`)
     * @param {{timeoutMs?: number}} [options]
     */
    constructor(client, options = {}) {
      if (!client || typeof client.get !== 'function') {
        throw coded('invalid_options', 'RedisStore needs a connected node-redis client');
      }
      this.client = client;
      this.timeoutMs = options.timeoutMs ?? 250;
      if (!(this.timeoutMs > 0)) throw coded('invalid_options', 'timeoutMs must be above 0');
    }

    /** Runs `op` within the timeout; any failure is a `store_unavailable` Error. */
    async timed(what, op) {
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took more than ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      try {
        return await Promise.race([op(), timeout]);
      } catch (error) {
        throw coded('store_unavailable', `the store did not answer ${what}: ${error.message}`, error);
      } finally {
        clearTimeout(timer);
      }
    }

    /** The record stored under `key`, or null. */
    async get(key) {
      return this.timed('GET', () => {
        if (!this.client.isReady) throw new Error('the client is not connected');
        return this.client.get(key);
      });
    }

    /** Writes `records` (`recordsFromSnapshot(...).records`) and announces each key. */
    async put(records) {
      for (const r of records) {
        const options = r.expires == null ? undefined : { EXAT: r.expires + EXPIRED_RECORDS_KEPT_SECS };
        await this.timed('SET', () => this.client.set(r.key, r.value, options));
        await this.timed('PUBLISH', () => this.client.publish(CHANNEL, r.key));
      }
    }

    /** Claims a webhook delivery's key (`SET key 1 NX EX ttl`; the key hashes its id and body):
     *  whether this delivery is its first. */
    async claim(key, ttlSecs) {
      const set = await this.timed('SET NX', () => this.client.set(key, '1', { NX: true, EX: Math.max(1, ttlSecs) }));
      return set === 'OK';
    }

    /** Marks the API key whose record holds `hash` revoked, and announces it. */
    async revokeApiKey(hash) {
      const key = apiKeyStoreKey(hash);
      const text = await this.get(key);
      if (text == null) throw coded('unknown_api_key', `the store holds no record under ${key}`);
      const record = JSON.parse(text);
      delete record.v;
      delete record.record;
      record.revoked = true;
      const stored = api.recordsFromSnapshot({ api_keys: { revoked: [record] } }).records;
      if (stored.length !== 1 || stored[0].key !== key) {
        throw coded('invalid_record', `the record under ${key} holds another key's hash; left as it is`);
      }
      await this.put(stored);
    }

    /**
     * Follows `tollgate:invalidate` on a duplicate of the client: each message drops `engine`'s
     * cached copy, and every (re)subscription drops them all (messages may have been missed).
     * Resolves once subscribed, to a handle whose `stop()` unsubscribes.
     */
    async followInvalidations(engine) {
      const subscriber = this.client.duplicate();
      subscriber.on('error', () => {}); // reconnects by itself; checks fail closed meanwhile
      subscriber.on('ready', () => engine.invalidate('*'));
      await subscriber.connect();
      await subscriber.subscribe(CHANNEL, (key) => {
        try {
          engine.invalidate(key);
        } catch {
          // Not a store key: ignored, as every host does.
        }
      });
      engine.invalidate('*');
      return {
        stop: async () => {
          await subscriber.unsubscribe(CHANNEL).catch(() => {});
          await subscriber.quit().catch(() => {});
        },
      };
    }
  }

  return { checkWithStore, RedisStore };
}
