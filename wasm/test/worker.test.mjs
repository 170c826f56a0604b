// A real edge runtime: workerd (through Miniflare), listening on 127.0.0.1, runs a Worker that
// imports the web package (fixtures/worker.mjs). The test sends every scenario request over
// HTTP, on both paths, and checks the status and reason of each answer.
//
// What the Worker sees is what the runtime gives it, and a runtime differs from a table in two
// places, both by the Fetch and URL standards: a fetch `Headers` joins repeated header lines
// into one value ("a, b"), and `request.url` has dot segments resolved. For the cases those
// touch, the expected decision is the Node package's decision on the request as the Worker
// receives it (and the test checks that it differs from the table only there).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { Miniflare } from 'miniflare';
import { readFileSync } from 'node:fs';
import { tollgate, wasmDir, deployments, deployment, caseHeaders, keysourceDir, startJwksServer } from './common.mjs';

let mf;
let origin;
let jwks;

before(async () => {
  jwks = await startJwksServer();
  const data = Object.fromEntries(deployments.map((name) => {
    const { policy, snapshot } = deployment(name);
    return [name, { policy, snapshot }];
  }));
  mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    modules: true,
    modulesRoot: wasmDir,
    scriptPath: path.join(wasmDir, 'fixtures/worker.mjs'),
    modulesRules: [
      { type: 'ESModule', include: ['pkg/web/**/*.js'] }, // pkg/web is an ES module package
      { type: 'CompiledWasm', include: ['**/*.wasm'] },
    ],
    compatibilityDate: '2026-04-01',
    bindings: { DEPLOYMENTS: data },
  });
  origin = (await mf.ready).origin;
});

after(async () => {
  await mf?.dispose();
  jwks?.stop();
});

/** Sends one request with node:http, which keeps the path and repeated headers as given. */
function send(method, target, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${origin}${target}`, { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The request as a Worker receives it: repeated headers joined, dot segments resolved. */
function asReceived(pathAndQuery, pairs) {
  const url = new URL(pathAndQuery, 'http://worker.invalid');
  const joined = new Map();
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    joined.set(key, joined.has(key) ? `${joined.get(key)}, ${value}` : value);
  }
  return { path: url.pathname + url.search, headers: [...joined] };
}

/** The Worker's counters: the package version it runs and its WebCrypto verifications. */
async function stats() {
  const res = await send('GET', '/__tollgate/stats', {});
  assert.equal(res.status, 200);
  return JSON.parse(res.body);
}

test('the Worker runs the web package in workerd', async () => {
  assert.equal((await stats()).version, tollgate.version());
});

for (const name of deployments) {
  test(`${name}: every case over HTTP, both paths`, async () => {
    const { policy, snapshot, table } = deployment(name);
    const local = tollgate.Engine.fromPolicy(policy);
    local.swapKeys(snapshot);
    let asTable = 0; let asReceivedByRuntime = 0;
    for (const c of table.cases) {
      const pairs = caseHeaders(table, c);
      const seen = asReceived(c.request.path, pairs);
      const altered = seen.path !== c.request.path || seen.headers.length !== pairs.length;
      let want = { status: c.expect.status, reason: c.expect.reason };
      if (altered) {
        const d = local.check({ method: c.request.method, ...seen }, table.now);
        want = { status: d.status, reason: d.reason };
        asReceivedByRuntime += 1;
        console.log(`${name}: ${c.name}: the table says ${c.expect.status} ${c.expect.reason}; as the runtime passes it on, ${d.status} ${d.reason}`);
      } else {
        asTable += 1;
      }
      const headers = {};
      for (const [n, v] of pairs) {
        const key = n.toLowerCase();
        headers[key] = key in headers ? [].concat(headers[key], v) : v;
      }
      for (const mode of ['sync', 'async']) {
        const res = await send(c.request.method, c.request.path, {
          ...headers,
          'x-tollgate-deployment': name,
          'x-tollgate-now': String(table.now),
          'x-tollgate-path': mode,
        });
        const got = { status: res.status, reason: JSON.parse(res.body).reason };
        assert.deepEqual(got, want, `${name}: ${c.name} (${mode}${altered ? ', as the runtime passes it on' : ''})`);
      }
    }
    local.free();
    console.log(`${name.padEnd(20)} ${String(table.cases.length).padStart(3)} cases over HTTP on both paths: ${asTable} as in the table, ${asReceivedByRuntime} as the runtime passes them on`);
  });
}

test("checkAsync verified the public-key signatures with workerd's WebCrypto", async () => {
  const { webcryptoVerify, answered } = await stats();
  console.log(`workerd WebCrypto: ${webcryptoVerify} signatures verified (${JSON.stringify(answered)})`);
  assert.ok(webcryptoVerify > 0);
  // RS256 (project-oidc) and EdDSA (workspace-api, service-accounts): verdicts from workerd's
  // WebCrypto, not a silent fallback to WebAssembly.
  for (const family of ['RSASSA-PKCS1-v1_5', 'Ed25519']) {
    assert.ok(answered[family] > 0, `no ${family} verdict from workerd's WebCrypto`);
  }
});

test('KeySource in the Worker: fetch to the JWKS server, refreshed per request without timers, through a rotation', async () => {
  const token = (k) => readFileSync(path.join(keysourceDir, `token-${k}.txt`), 'utf8').trim();
  const T0 = 1_767_225_600;
  const target = `/__tollgate/keysource?jwks=${encodeURIComponent(`${jwks.base}/jwks`)}`;
  const askFor = async (k, now, mode) => {
    const res = await send('GET', target, { authorization: `Bearer ${token(k)}`, 'x-tollgate-now': String(now), 'x-tollgate-path': mode });
    return JSON.parse(res.body);
  };
  const ask = async (k, now, mode) => {
    const body = await askFor(k, now, mode);
    return body.sub ?? body.code;
  };
  await jwks.control({ keys: ['a'], mode: 'ok', max_age: 300, reset_hits: true });
  for (const mode of ['sync', 'async']) {
    assert.equal(await ask('a', T0, mode), 'user-a', mode);
    assert.equal(await ask('b', T0, mode), 'unknown_kid', mode);
  }
  // One scheduled fetch, and one early fetch for b's unknown kid (then rate limited).
  assert.deepEqual(await jwks.hits(), { jwks: 2, discovery: 0 });
  await jwks.control({ keys: ['b'] });
  // Due at +300: this request is answered with the set it has, and its waitUntil refresh brings
  // b in for the requests after it (which may arrive before that fetch is done: ask again).
  assert.equal(await ask('b', T0 + 300, 'sync'), 'unknown_kid');
  // Patience by the clock, not by a count of tries: on a loaded machine the fetch may take
  // seconds to land. A fetch that fails backs off in the source's clock, which moves only when
  // the requests move it: a failure the Worker reports moves that clock past the backoff (so the
  // source fetches again), and is printed and counted.
  let tries = 1;
  let at = T0 + 301;
  const failures = [];
  const deadline = Date.now() + 15_000;
  for (;;) {
    const body = await askFor('b', at, 'sync');
    if (body.sub === 'user-b' || Date.now() >= deadline) break;
    if (body.lastError) {
      failures.push(`at +${at - T0}: ${JSON.stringify(body.lastError)}`);
      at += 60;
    }
    tries += 1;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (failures.length > 0) console.log(`workerd KeySource: fetches failed, retried: ${failures.join('; ')}`);
  for (const mode of ['sync', 'async']) {
    assert.equal(await ask('b', at, mode), 'user-b', `${mode} (failed fetches: ${failures.join('; ') || 'none'})`);
    assert.equal(await ask('a', at, mode), 'unknown_kid', mode);
  }
  // Three fetches: T0's first, b's unknown kid at T0, and +300, when the schedule and b's unknown
  // kid (the 30 s interval over) share one; a's unknown kid at +301 is inside b's interval. A
  // failed fetch and its retries add to them.
  const hits = await jwks.hits();
  console.log(`workerd KeySource: ${hits.jwks} fetches of /jwks through a rotation (b arrived after ${tries} request(s) at +${at - T0})`);
  if (failures.length === 0) {
    assert.deepEqual(hits, { jwks: 3, discovery: 0 });
  } else {
    assert.ok(hits.jwks >= 3 && hits.discovery === 0, JSON.stringify(hits));
  }
});
