// Types of `checkWithStore` and `RedisStore` (js/store.js), shipped beside tollgate.d.ts.
import type { CheckRequest, Decision, Engine } from './tollgate.js';

/** Anything that reads records: `get` resolves to the text stored under `key`, or null. A
 *  rejection means the store did not answer (the check is then decided without it). */
export interface RecordStore {
  get(key: string): Promise<string | Uint8Array | null | undefined>;
  /** Told of each failed read (for logs). */
  onError?(error: unknown): void;
}

/** Decides `request` with `engine`, reading each record it needs from `store` (a policy whose
 *  providers say `"records": "store"`; docs/records.md). A store that fails decides 503
 *  `store_unavailable` (or what the policy's `store.grace` allows), never 200 for a record it
 *  could not read. */
export function checkWithStore(engine: Engine, request: CheckRequest, store: RecordStore, now?: number): Promise<Decision>;

/** A record store on Redis, over a connected node-redis client (npm `redis`, v4 or later). */
export class RedisStore implements RecordStore {
  constructor(client: unknown, options?: { timeoutMs?: number });
  /** Throws `store_unavailable` when Redis does not answer within `timeoutMs` (default 250). */
  get(key: string): Promise<string | null>;
  /** Writes records (`recordsFromSnapshot(...).records`), each expiring a day after its
   *  `expires`, and publishes each key on `tollgate:invalidate`. */
  put(records: Array<{ key: string; value: string; expires: number | null }>): Promise<void>;
  /** `SET key 1 NX EX ttl`: true when this call claimed the key (a webhook delivery's first). */
  claim(key: string, ttlSecs: number): Promise<boolean>;
  /** Marks the API key whose record holds `hash` (`sha256:…`) revoked and announces it. */
  revokeApiKey(hash: string): Promise<void>;
  /** Follows `tollgate:invalidate`, dropping `engine`'s cached records as they change. */
  followInvalidations(engine: Engine): Promise<{ stop(): Promise<void> }>;
}
