// Records in a real redis-server (from apt), read through the package's RedisStore over a
// node-redis client: the four deployments' tables, an outage and the recovery, a second host
// process agreeing on a revocation and a role change within a second, webhook ids claimed once
// across hosts, 8 worker threads × 10,000 checks each reading their own record, bad records.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { tollgate, deployments, deployment, caseHeaders, differences, wasmDir } from './common.mjs';

const { Engine, RedisStore, checkWithStore, recordsFromSnapshot } = tollgate;
const here = path.dirname(fileURLToPath(import.meta.url));

const installed = spawnSync('sh', ['-c', 'command -v redis-server']).status === 0;
const skip = !installed && process.env.TOLLGATE_SKIP_PROXY_TESTS === '1';
if (!installed && !skip) {
  throw new Error('redis-server is not installed: run .ci/run (apt-get install redis-server), or set TOLLGATE_SKIP_PROXY_TESTS=1');
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server on 127.0.0.1, persistence off; `stop()` and `start()` again on the same port. */
class Redis {
  constructor(port) {
    this.port = port;
    this.dir = mkdtempSync(path.join(tmpdir(), 'tollgate-redis-'));
    this.url = `redis://127.0.0.1:${port}`;
  }

  async start() {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1',
      '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    const deadline = Date.now() + 15000;
    for (;;) {
      const up = await new Promise((resolve) => {
        const c = connect(this.port, '127.0.0.1', () => { c.end(); resolve(true); });
        c.on('error', () => resolve(false));
      });
      if (up) return;
      if (Date.now() > deadline) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop() {
    if (!this.child) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
    this.child = null;
  }
}

let redis;
let client;
before(async () => {
  if (skip) return;
  redis = new Redis(await freePort());
  await redis.start();
  client = createClient({ url: redis.url, socket: { reconnectStrategy: () => 50 } });
  client.on('error', () => {});
  await client.connect();
});
after(async () => {
  if (skip) return;
  await client.quit().catch(() => {});
  await redis.stop();
  rmSync(redis.dir, { recursive: true, force: true });
});

/** The deployment's policy with every provider's records in the store; `extra` policy members. */
function storePolicy(policy, extra = {}) {
  const doc = JSON.parse(policy);
  for (const p of doc.providers) p.records = 'store';
  return { ...doc, ...extra };
}

/** Writes records without their expiry: the tables run at a fixed time long before Redis's clock. */
async function putUndated(store, records) {
  await store.put(records.map((r) => ({ ...r, expires: null })));
}

/** A store engine for `name`, its records written to Redis. */
async function storeEngine(name, extra = {}) {
  const d = deployment(name);
  const engine = Engine.fromPolicy(storePolicy(d.policy, extra));
  const { snapshot, records } = recordsFromSnapshot(d.snapshot);
  engine.swapKeys(snapshot);
  const store = new RedisStore(client, { timeoutMs: 500 });
  await putUndated(store, records);
  return { d, engine, store, records };
}

function request(table, c) {
  return { method: c.request.method, path: c.request.path, headers: caseHeaders(table, c) };
}

test('the four deployments decide the same with their records in Redis', { skip }, async () => {
  for (const name of deployments) {
    await client.flushAll();
    const { d, engine, store } = await storeEngine(name);
    const plain = Engine.fromPolicy(d.policy);
    plain.swapKeys(d.snapshot);
    let lookups = 0;
    const counting = { get: (key) => { lookups += 1; return store.get(key); } };
    for (const c of d.table.cases) {
      const got = await checkWithStore(engine, request(d.table, c), counting, d.table.now);
      assert.deepEqual(differences(c.expect, got), [], `${name}: ${c.name}`);
      assert.deepEqual(got, plain.check(request(d.table, c), d.table.now), `${name}: ${c.name}`);
    }
    if (name === 'project-oidc' || name === 'service-accounts') assert.ok(lookups > 0, `${name}: no lookups`);
  }
});

/** service-accounts' allowed cases that send an API key. */
function keyCases(table) {
  return table.cases.filter((c) => c.expect.status === 200 && caseHeaders(table, c).some(([, v]) => v.includes('fln_live_')));
}

test('an unreachable store fails closed, and the recovery needs no restart', { skip }, async () => {
  const { d, engine, store, records } = await storeEngine('service-accounts');
  const [c] = keyCases(d.table);
  await redis.stop();
  const down = await checkWithStore(engine, request(d.table, c), store, d.table.now);
  assert.equal(down.status, 503);
  assert.equal(down.reason, 'store_unavailable');
  await redis.start();
  const started = Date.now();
  let status = 0;
  while (Date.now() - started < 10000) {
    try {
      await putUndated(store, records);
      status = (await checkWithStore(engine, request(d.table, c), store, d.table.now)).status;
      if (status === 200) break;
    } catch {
      // not reconnected yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(status, 200, 'the same engine uses the store again');
  console.log(`recovered ${Date.now() - started} ms after the store came back`);
});

test('bad records are refused with a clear reason', { skip }, async () => {
  const { d, engine, store } = await storeEngine('service-accounts');
  const [c] = keyCases(d.table);
  const step = engine.checkStep(request(d.table, c), d.table.now);
  assert.ok(step instanceof tollgate.Pending, 'pending on its record');
  const key = step.storeKey;
  assert.match(key, /^tollgate:api_key:[0-9a-f]{64}$/);
  const good = JSON.parse(await client.get(key));
  for (const [what, text, says] of [
    ['a newer version', JSON.stringify({ ...good, v: 2 }), 'version 2'],
    ['truncated', JSON.stringify(good).slice(0, 40), 'not a strict JSON object'],
    ['another kind', JSON.stringify({ ...good, record: 'session' }), 'answered a "session" record'],
  ]) {
    await client.set(key, text);
    engine.invalidate(key);
    const got = await checkWithStore(engine, request(d.table, c), store, d.table.now);
    assert.equal(got.status, 500, what);
    assert.equal(got.reason, 'invalid_record', what);
    assert.ok(got.message.includes(says), `${what}: ${got.message}`);
  }
  assert.throws(() => engine.invalidate('tollgate:nope'), (e) => e.code === 'invalid_request');
  // A record far over the limit is refused by its length, as bytes or as text, without being
  // copied whole into WebAssembly.
  for (const huge of [new Uint8Array(50e6), 'x'.repeat(50e6)]) {
    const pending = engine.checkStep(request(d.table, c), d.table.now);
    const got = engine.resume(pending, huge, d.table.now);
    assert.equal(got.reason, 'invalid_record');
    assert.match(got.message, /more than the limit of 65536/);
  }
  const used = engine.checkStep(request(d.table, c), d.table.now);
  engine.resume(used, null, d.table.now);
  assert.throws(() => engine.resume(used, null, d.table.now), (e) => e.code === 'invalid_request');
});

/** A second host: a child process with its own engine, store and invalidation subscription. */
function secondHost(name) {
  const child = fork(path.join(here, 'store-host.mjs'), [redis.url, name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let next = 0;
  const waiting = new Map();
  child.on('message', (m) => { waiting.get(m.id)?.(m); waiting.delete(m.id); });
  const ask = (message) => new Promise((resolve) => {
    const id = next++;
    waiting.set(id, resolve);
    child.send({ id, ...message });
  });
  return { child, ask, stop: () => { child.kill(); } };
}

/** Asks `check` until it gives `status`: the time that took (fails after 5 s). */
async function until(check, status) {
  const started = Date.now();
  for (;;) {
    if ((await check()).status === status) return Date.now() - started;
    assert.ok(Date.now() - started < 5000, `still not ${status} after 5 s`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('a second host process sees a revocation within a second, and refuses a claimed webhook id', { skip }, async () => {
  await client.flushAll();
  const a = await storeEngine('service-accounts');
  const following = await a.store.followInvalidations(a.engine);
  const b = secondHost('service-accounts');
  try {
    assert.equal((await b.ask({ op: 'ready' })).ok, true);
    const [c] = keyCases(a.d.table);
    const req = request(a.d.table, c);
    assert.equal((await checkWithStore(a.engine, req, a.store, a.d.table.now)).status, 200);
    assert.equal((await b.ask({ op: 'check', request: req, now: a.d.table.now })).decision.status, 200);
    // The key's record, found the way a check finds it: by the store key of a pending step.
    a.engine.invalidate('*');
    const step = a.engine.checkStep(req, a.d.table.now);
    assert.ok(step instanceof tollgate.Pending);
    const record = JSON.parse(await client.get(step.storeKey));
    step.free();
    await a.store.revokeApiKey(record.hash);
    const tookA = await until(() => checkWithStore(a.engine, req, a.store, a.d.table.now), 401);
    const tookB = await until(async () => (await b.ask({ op: 'check', request: req, now: a.d.table.now })).decision, 401);
    console.log(`revocation propagation: this process ${tookA} ms, the other ${tookB} ms`);
    assert.ok(tookB < 1000, `${tookB} ms`);
    assert.equal((await b.ask({ op: 'check', request: req, now: a.d.table.now })).decision.reason, 'api_key_revoked');

    // Webhook ids: whoever claims first accepts; the other host refuses the replay.
    const claimKey = 'tollgate:webhook:bcda2c50c55350fde15cb6a403311daac6f7adf9e5d5b836363f31d1b908edb1';
    assert.equal(await a.store.claim(claimKey, 300), true);
    assert.equal((await b.ask({ op: 'claim', key: claimKey, ttl: 300 })).claimed, false);
  } finally {
    b.stop();
    await following.stop();
  }
});

test('a role removed from a user restricts their personal access token on both hosts', { skip }, async () => {
  await client.flushAll();
  const a = await storeEngine('project-oidc');
  const following = await a.store.followInvalidations(a.engine);
  const b = secondHost('project-oidc');
  try {
    assert.equal((await b.ask({ op: 'ready' })).ok, true);
    const c = a.d.table.cases.find((x) => x.expect.status === 200 && x.expect.kind === 'personal_access_token');
    const req = request(a.d.table, c);
    assert.equal((await checkWithStore(a.engine, req, a.store, a.d.table.now)).status, 200);
    assert.equal((await b.ask({ op: 'check', request: req, now: a.d.table.now })).decision.status, 200);
    const user = recordsFromSnapshot({ users: { [c.expect.subject]: { roles: [], tenants: {} } } }).records;
    await a.store.put(user);
    const tookA = await until(() => checkWithStore(a.engine, req, a.store, a.d.table.now), 403);
    const tookB = await until(async () => (await b.ask({ op: 'check', request: req, now: a.d.table.now })).decision, 403);
    console.log(`role change propagation: this process ${tookA} ms, the other ${tookB} ms`);
    assert.ok(tookB < 1000, `${tookB} ms`);
  } finally {
    b.stop();
    await following.stop();
  }
});

test('8 worker threads × 10,000 checks each read their own record', { skip }, async () => {
  await client.flushAll();
  const { d, records } = await storeEngine('service-accounts');
  const cases = d.table.cases
    .filter((c) => caseHeaders(d.table, c).some(([, v]) => v.includes('fln_')))
    .map((c) => ({ request: request(d.table, c), expect: c.expect, name: c.name }));
  assert.ok(cases.length >= 5 && records.length > 0);
  const started = Date.now();
  const results = await Promise.all([...Array(8).keys()].map((t) => new Promise((resolve, reject) => {
    const w = new Worker(path.join(here, 'store-worker.mjs'), {
      workerData: { url: redis.url, policy: JSON.stringify(storePolicy(d.policy, { store: { cache_ttl: 0 } })), snapshot: d.snapshot, cases, now: d.table.now, t, n: 10000, pkg: path.join(wasmDir, 'pkg/node') },
    });
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const elapsed = (Date.now() - started) / 1000;
  const lookups = results.reduce((n, r) => n + r.lookups, 0);
  for (const r of results) assert.deepEqual(r.wrong, [], `worker ${r.t}`);
  console.log(`80,000 checks, ${lookups} store lookups in ${elapsed.toFixed(1)} s (${Math.round(80000 / elapsed)} checks/s)`);
  assert.ok(lookups >= 60000, `${lookups}`);
});

test('a session a login service stores lets its cookie through until it is signed out', { skip }, async () => {
  await client.flushAll();
  const engine = Engine.fromPolicy({
    version: 1,
    credentials: [{ name: 's', cookie: 'flow_session' }],
    providers: [{ name: 'flow', type: 'session', credentials: ['s'], records: 'store' }],
    tenant: { header: 'X-Project-ID' },
    permissions: ['read'],
    roles: [{ name: 'viewer', grants: ['read'] }],
    routes: [{ method: 'GET', path: '/items', tenant: true, requires: ['read'] }],
  });
  const store = new RedisStore(client, { timeoutMs: 500 });
  const following = await store.followInvalidations(engine);
  try {
    const now = Math.floor(Date.now() / 1000);
    const session = { subject: 'u-alice', expires: now + 3600, tenants: { A: ['viewer'] } };
    const record = tollgate.sessionRecord('s-123', session);
    assert.match(record.key, /^tollgate:session:[0-9a-f]{64}$/);
    assert.equal(record.expires, now + 3600);
    await store.put([record]);
    const req = (id) => ({ method: 'GET', path: '/items', headers: { cookie: `theme=dark; flow_session=${id}`, 'x-project-id': 'A' } });
    const d = await checkWithStore(engine, req('s-123'), store, now);
    assert.equal(d.status, 200, d.message);
    assert.equal(d.principal.subject, 'u-alice');
    assert.equal((await checkWithStore(engine, req('s-999'), store, now)).reason, 'unknown_session');
    await store.put([tollgate.sessionRecord('s-123', { ...session, revoked: true })]);
    await until(() => checkWithStore(engine, req('s-123'), store, now), 401);
    assert.equal((await checkWithStore(engine, req('s-123'), store, now)).reason, 'session_revoked');
    assert.equal((await checkWithStore(engine, req('s-123'), store, now + 3600)).reason, 'session_revoked');
    assert.throws(() => tollgate.sessionRecord('s-1', { subject: 1 }), (e) => e.code === 'invalid_record');
  } finally {
    await following.stop();
  }
});
