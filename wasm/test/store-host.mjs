// A second host process for store.test.mjs: its own engine (the deployment with its records in
// the store), RedisStore and invalidation subscription, answering the parent over IPC.
import { createClient } from 'redis';
import { tollgate, deployment } from './common.mjs';

const [url, name] = process.argv.slice(2);
const { Engine, RedisStore, checkWithStore, recordsFromSnapshot } = tollgate;
const d = deployment(name);
const policy = JSON.parse(d.policy);
for (const p of policy.providers) p.records = 'store';
const engine = Engine.fromPolicy(policy);
engine.swapKeys(recordsFromSnapshot(d.snapshot).snapshot);
const client = createClient({ url, socket: { reconnectStrategy: () => 50 } });
client.on('error', () => {});
await client.connect();
const store = new RedisStore(client, { timeoutMs: 500 });
await store.followInvalidations(engine);

process.on('message', async (m) => {
  if (m.op === 'ready') process.send({ id: m.id, ok: true });
  if (m.op === 'check') process.send({ id: m.id, decision: await checkWithStore(engine, m.request, store, m.now) });
  if (m.op === 'claim') process.send({ id: m.id, claimed: await store.claim(m.key, m.ttl) });
});
process.on('disconnect', () => process.exit(0));
