// One worker thread of store.test.mjs's load test: its own engine and Redis client, `n` checks
// cycling through the cases, each compared with its expectation.
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { createClient } from 'redis';

const { url, policy, snapshot, cases, now, t, n, pkg } = workerData;
const tollgate = createRequire(import.meta.url)(pkg);
const engine = tollgate.Engine.fromPolicy(policy);
engine.swapKeys(tollgate.recordsFromSnapshot(snapshot).snapshot);
const client = createClient({ url });
await client.connect();
const store = new tollgate.RedisStore(client, { timeoutMs: 2000 });
let lookups = 0;
const counting = { get: (key) => { lookups += 1; return store.get(key); } };
const wrong = [];
for (let i = 0; i < n; i++) {
  const c = cases[(t + i) % cases.length];
  const d = await tollgate.checkWithStore(engine, c.request, counting, now);
  if (d.status !== c.expect.status || d.reason !== c.expect.reason
    || ('subject' in c.expect && d.principal?.subject !== c.expect.subject)) {
    wrong.push(`${i}: ${c.name}: ${d.status} ${d.reason}`);
    if (wrong.length > 5) break;
  }
}
await client.quit();
parentPort.postMessage({ t, lookups, wrong });
