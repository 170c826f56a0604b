// KeySource against a real JWKS server: tests/keysource/jwks_server.py (shared by every host's
// key-source tests), spawned on 127.0.0.1 and steered over HTTP: it rotates keys (a → a+b → b),
// goes down, answers 500s and garbage, and counts its hits, which the tests assert. Time is the
// injected clock (`now: () => t`); nothing sleeps. Keys and tokens are the shared fixtures:
// token-{a,b,c} signed by key-{a,b,c} (iss https://issuer.test, aud api); c is never published.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { tollgate, keysourceDir as fixtures, startJwksServer, outcome, outcomeAsync, webcrypto } from './common.mjs';

const { KeySource, Refresher, Verifier, Engine, discoveryConfigurationUrl, discoveryJwksUri } = tollgate;
const token = Object.fromEntries(['a', 'b', 'c'].map((k) => [k, readFileSync(path.join(fixtures, `token-${k}.txt`), 'utf8').trim()]));
const T0 = 1_767_225_600;
const rules = { issuers: ['https://issuer.test'], audiences: ['api'] };

let server;
let base;
before(async () => {
  server = await startJwksServer();
  base = server.base;
});
after(() => server?.stop());
const control = (change) => server.control(change);
const hits = () => server.hits();

/** A fresh server state and a source on a clock the test moves. */
async function fresh(options = {}) {
  await control({ keys: ['a'], mode: 'ok', status: 500, max_age: 300, issuer: null, reset_hits: true });
  const clock = { t: T0 };
  const source = new KeySource(`${base}/jwks`, { now: () => clock.t, ...options });
  return { clock, source };
}

/** A policy with one provider for the fixtures' tokens, for the engine path. */
const policy = {
  version: 1,
  name: 'keysource-test',
  credentials: [{ name: 'bearer', header: 'Authorization', scheme: 'Bearer' }],
  providers: [{ name: 'idp', credentials: ['bearer'], issuers: ['https://issuer.test'], audiences: ['api'], algorithms: ['ES256'] }],
  routes: [{ method: 'GET', path: '/v1/me' }],
};
const request = (t) => ({ method: 'GET', path: '/v1/me', headers: { authorization: `Bearer ${t}` } });

/** The token's header re-encoded with another kid (a forged token: the signature no longer
 *  matters, the kid is looked up first). */
function withKid(t, kid) {
  const [h, ...rest] = t.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  header.kid = kid;
  return [Buffer.from(JSON.stringify(header)).toString('base64url'), ...rest].join('.');
}

test('first fetch: nothing is served before it; then token-a verifies on both paths, after one fetch', async () => {
  const { clock, source } = await fresh();
  const v = source.verifier(rules);
  assert.equal(outcome(() => v.verify(token.a)).code, 'key_set_fetch_failed');
  assert.equal(source.status().usable, false);
  assert.equal(await source.refresh(), true);
  assert.equal(v.verify(token.a).claims.sub, 'user-a');
  const before = webcrypto.verify;
  assert.equal((await v.verifyAsync(token.a)).claims.sub, 'user-a');
  assert.ok(webcrypto.verify > before, 'verifyAsync used WebCrypto');
  const status = source.status();
  assert.equal(status.usable, true);
  assert.equal(status.keyIds.length, 1);
  assert.equal(status.nextFetch, T0 + 300, 'Cache-Control: max-age=300');
  // Not due again until max-age has passed: refresh() does nothing, however often it is called.
  clock.t = T0 + 299;
  assert.deepEqual(await Promise.all([source.refresh(), source.refresh()]), [false, false]);
  assert.deepEqual(await hits(), { jwks: 1, discovery: 0 });
  clock.t = T0 + 300;
  // Concurrent refreshes when due share one fetch.
  assert.deepEqual(await Promise.all([source.refresh(), source.refresh(), source.refresh()]), [true, true, true]);
  assert.deepEqual(await hits(), { jwks: 2, discovery: 0 });
  v.free();
});

test('rotation a → a+b → b: both verify while both are published; token-a is refused once a is gone (verifier and engine)', async () => {
  const { clock, source } = await fresh();
  const engine = Engine.fromPolicy(policy);
  source.swapInto(engine, 'idp');
  assert.equal(engine.check(request(token.a), T0).status, 401, 'no keys before the first fetch');
  await source.refresh();
  const v = source.verifier(rules);
  const verdicts = async () => {
    const got = {
      a: outcome(() => v.verify(token.a)).code ?? 'ok',
      b: outcome(() => v.verify(token.b)).code ?? 'ok',
      aAsync: (await outcomeAsync(() => v.verifyAsync(token.a))).code ?? 'ok',
      engineA: engine.check(request(token.a), clock.t).reason,
      engineB: (await engine.checkAsync(request(token.b), clock.t)).reason,
    };
    await source.refresh(); // settles the early fetch an unknown kid may have started
    return got;
  };
  assert.deepEqual(await verdicts(), { a: 'ok', b: 'unknown_kid', aAsync: 'ok', engineA: 'ok', engineB: 'unknown_kid' });

  await control({ keys: ['a', 'b'] });
  clock.t += 300;
  assert.equal(await source.refresh(), true);
  assert.equal(source.status().keyIds.length, 2);
  assert.deepEqual(await verdicts(), { a: 'ok', b: 'ok', aAsync: 'ok', engineA: 'ok', engineB: 'ok' });

  await control({ keys: ['b'] });
  clock.t += 300;
  assert.equal(await source.refresh(), true);
  assert.deepEqual(await verdicts(), { a: 'unknown_kid', b: 'ok', aAsync: 'unknown_kid', engineA: 'unknown_kid', engineB: 'ok' });
  // Three scheduled fetches (T0, +300, +600) and two early ones: token-b's unknown kid at T0
  // and token-a's at +600 (one per 30 s interval, however many calls saw it).
  const h = await hits();
  assert.equal(h.jwks, 5);
  console.log(`rotation: ${h.jwks} fetches of /jwks (3 scheduled, 2 for unknown kids)`);
  v.free();
  engine.free();
});

test('outage (down, 500, garbage) keeps the last good set and backs off 5, 10, 20, 40 s; recovery resets', async () => {
  const errors = [];
  const { clock, source } = await fresh({ onError: (e) => errors.push(e.code) });
  await source.refresh();
  const v = source.verifier(rules);
  const t1 = T0 + 300;
  const steps = [
    // [server mode, seconds after t1, fetches expected so far, what lastError says]
    [{ mode: 'down' }, 0, 2, /fetching the key set failed/],
    [{ mode: 'error', status: 500 }, 5, 3, /HTTP 500/],
    [{ mode: 'error', status: 503 }, 15, 4, /HTTP 503/],
    [{ mode: 'garbage' }, 35, 5, /not a usable JWKS/],
  ];
  for (const [change, offset, fetches, reason] of steps) {
    await control(change);
    // One second before the retry is due: no fetch.
    if (offset > 0) {
      clock.t = t1 + offset - 1;
      assert.equal(await source.refresh(), false);
      assert.equal((await hits()).jwks, fetches - 1, `no fetch before ${offset} s`);
    }
    clock.t = t1 + offset;
    assert.equal(await source.refresh(), false);
    assert.equal((await hits()).jwks, fetches, `${JSON.stringify(change)} at +${offset}`);
    const status = source.status();
    assert.match(status.lastError.message, reason);
    assert.equal(status.lastError.code, 'key_set_fetch_failed');
    assert.equal(status.usable, true, 'the last good set stays');
    assert.equal(v.verify(token.a).claims.sub, 'user-a');
  }
  assert.equal(source.status().failures, 4);
  assert.equal(source.status().nextFetch, t1 + 35 + 40, 'the fifth retry waits 40 s');
  assert.deepEqual(errors, ['key_set_fetch_failed', 'key_set_fetch_failed', 'key_set_fetch_failed', 'key_set_fetch_failed']);
  // Recovery at the next retry: back to the max-age schedule.
  await control({ mode: 'ok', keys: ['a', 'b'] });
  clock.t = t1 + 75;
  assert.equal(await source.refresh(), true);
  const status = source.status();
  assert.deepEqual([status.failures, status.lastError, status.nextFetch], [0, null, t1 + 75 + 300]);
  assert.equal(v.verify(token.b).claims.sub, 'user-b');
  const h = await hits();
  assert.equal(h.jwks, 6);
  console.log(`outage: ${h.jwks} fetches of /jwks (1 good, 4 failed at +0, +5, +15, +35 s, 1 good at +75 s)`);
  v.free();
});

test('stale after the limit: key_set_stale on both paths and in the engine, until a fetch succeeds', async () => {
  const config = { minTtl: 60, defaultTtl: 60, maxTtl: 600, retryMax: 600, staleAfter: 3600 };
  const { clock, source } = await fresh({ config });
  const engine = Engine.fromPolicy(policy);
  source.swapInto(engine, 'idp');
  await source.refresh();
  const v = source.verifier(rules);
  await control({ mode: 'down' });
  clock.t = T0 + 3599;
  await source.refresh();
  assert.equal(source.status().staleAt, T0 + 3600, 'fetchedAt + staleAfter');
  assert.equal(v.verify(token.a).claims.sub, 'user-a', 'one second before stale');
  assert.equal(engine.check(request(token.a), clock.t).reason, 'ok');
  clock.t = T0 + 3600;
  assert.equal(outcome(() => v.verify(token.a)).code, 'key_set_stale');
  assert.equal((await outcomeAsync(() => v.verifyAsync(token.a))).code, 'key_set_stale');
  await source.refresh(); // still down; the engine's provider loses its keys
  const status = source.status();
  assert.equal(status.usable, false);
  assert.equal(status.lastError.code, 'key_set_stale');
  assert.match(status.lastError.message, /last failure: fetching the key set failed/);
  assert.equal(engine.check(request(token.a), clock.t).status, 401);
  // A Refresher on its own says the same.
  const r = new Refresher(config);
  r.onFetched(200, { 'cache-control': 'max-age=60' }, readFileSync(path.join(fixtures, 'key-a.pub.jwk')), T0);
  assert.equal(outcome(() => r.version(T0 + 3600)).code, 'key_set_stale');
  assert.equal(outcome(() => Verifier.fromRefresher(r, rules, T0 + 3600)).code, 'key_set_stale');
  r.free();
  // Back up: the next fetch restores everything.
  await control({ mode: 'ok' });
  clock.t = T0 + 3600 + 600;
  assert.equal(await source.refresh(), true);
  assert.equal(v.verify(token.a).claims.sub, 'user-a');
  assert.equal(engine.check(request(token.a), clock.t).reason, 'ok');
  v.free();
  engine.free();
});

test('1000 forged-kid tokens cost at most one fetch per 30 s interval (verifier, verifyAsync and engine)', async () => {
  const { clock, source } = await fresh();
  await source.refresh();
  const v = source.verifier(rules);
  const engine = Engine.fromPolicy(policy);
  source.swapInto(engine, 'idp');
  const flood = async (label) => {
    const start = (await hits()).jwks;
    for (let i = 0; i < 1000; i += 1) {
      const forged = i % 2 ? token.c : withKid(token.c, `forged-${label}-${i}`);
      const e = outcome(() => v.verify(forged));
      assert.equal(e.code, 'unknown_kid');
      if (i % 100 === 0) {
        const d = engine.check(request(forged), clock.t);
        assert.equal(d.reason, 'unknown_kid');
        source.onUnknownKid(d.refresh_hint.kid);
      }
    }
    assert.equal((await outcomeAsync(() => v.verifyAsync(token.c))).code, 'unknown_kid');
    await source.refresh(); // joins the fetch the flood started, if any
    return (await hits()).jwks - start;
  };
  clock.t = T0 + 10;
  assert.equal(await flood('first'), 1, 'the first unknown kid fetches once');
  clock.t = T0 + 39;
  assert.equal(await flood('inside'), 0, 'nothing more inside the interval');
  clock.t = T0 + 40;
  assert.equal(await flood('next'), 1, 'one more in the next interval');
  // A kid the set has never asks for a fetch.
  const kid = source.status().keyIds[0];
  clock.t = T0 + 100;
  assert.equal(source.onUnknownKid(kid), false);
  const h = await hits();
  assert.equal(h.jwks, 3);
  console.log(`forged kids: 3000 forged tokens (plus engine checks and verifyAsync) over 30 s: ${h.jwks} fetches of /jwks in all (1 first, 2 for the flood)`);
  v.free();
  engine.free();
});

test('discovery: the jwks_uri of the issuer configuration; an issuer mismatch is invalid_discovery', async () => {
  const { clock } = await fresh();
  const now = () => clock.t;
  const source = await KeySource.fromIssuer(base, { now });
  assert.equal(source.url, `${base}/jwks`);
  await source.refresh();
  assert.equal(source.verifier(rules).verify(token.a).claims.sub, 'user-a');
  assert.deepEqual(await hits(), { jwks: 1, discovery: 1 });

  await control({ issuer: 'https://evil.example' });
  const mismatch = await outcomeAsync(() => KeySource.fromIssuer(base, { now }));
  assert.equal(mismatch.code, 'invalid_discovery');
  await control({ issuer: `${base}/` }); // a trailing slash is another issuer (no normalisation)
  assert.equal((await outcomeAsync(() => KeySource.fromIssuer(base, { now }))).code, 'invalid_discovery');
  await control({ mode: 'garbage' });
  assert.equal((await outcomeAsync(() => KeySource.fromIssuer(base, { now }))).code, 'invalid_discovery');
  await control({ mode: 'error', status: 404 });
  assert.equal((await outcomeAsync(() => KeySource.fromIssuer(base, { now }))).code, 'key_set_fetch_failed');
  assert.deepEqual(await hits(), { jwks: 1, discovery: 5 });

  // The functions underneath.
  assert.equal(discoveryConfigurationUrl('https://id.example/realms/x/'), 'https://id.example/realms/x/.well-known/openid-configuration');
  assert.equal(outcome(() => discoveryConfigurationUrl('http://id.example')).code, 'invalid_discovery');
  const doc = JSON.stringify({ issuer: 'https://id.example', jwks_uri: 'https://id.example/keys' });
  assert.equal(discoveryJwksUri(doc, 'https://id.example'), 'https://id.example/keys');
  assert.equal(outcome(() => discoveryJwksUri(doc, 'https://other.example')).code, 'invalid_discovery');
  assert.equal(outcome(() => new KeySource('http://idp.example/jwks')).code, 'invalid_discovery');
});

test('a redirect is a failed fetch, never followed', async () => {
  await fresh();
  const source = new KeySource(`${base}/moved`, { now: () => T0 });
  assert.equal(await source.refresh(), false);
  assert.match(source.status().lastError.message, /HTTP 302/);
  assert.deepEqual(await hits(), { jwks: 0, discovery: 0 });
});

test('an injected fetch that follows a redirect anyway fails the fetch; a bad timeoutMs is invalid_options', async () => {
  await fresh();
  const following = (url, init) => fetch(url, { ...init, redirect: 'follow' });
  const source = new KeySource(`${base}/moved`, { now: () => T0, fetch: following });
  assert.equal(await source.refresh(), false);
  assert.match(source.status().lastError.message, /through a redirect/);
  assert.equal(source.status().usable, false);
  for (const timeoutMs of [0, -1, 1.5, NaN, Infinity, 300_001, '10']) {
    assert.equal(outcome(() => new KeySource(`${base}/jwks`, { timeoutMs })).code, 'invalid_options', String(timeoutMs));
  }
  assert.equal(outcome(() => new KeySource(`${base}/jwks`, { now: 5 })).code, 'invalid_options');
});

test('an engine that can no longer take keys is dropped and reported; the others still follow the source', async () => {
  const errors = [];
  const { clock, source } = await fresh({ onError: (e) => errors.push(e) });
  const old = Engine.fromPolicy(policy);
  const current = Engine.fromPolicy(policy);
  source.swapInto(old, 'idp').swapInto(current, 'idp');
  await source.refresh();
  assert.equal(current.check(request(token.a), clock.t).reason, 'ok');
  // A policy reload frees the old engine without telling the source.
  old.free();
  await control({ keys: ['b'] });
  clock.t += 300;
  assert.equal(await source.refresh(), true);
  assert.equal(current.check(request(token.a), clock.t).reason, 'unknown_kid', 'a, dropped by the IdP, is gone');
  assert.equal(current.check(request(token.b), clock.t).reason, 'ok');
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /provider "idp" took no keys/);
  // Dropped: the next change reaches `current` and reports nothing more.
  await control({ keys: ['a'] });
  clock.t += 300;
  assert.equal(await source.refresh(), true);
  assert.equal(current.check(request(token.a), clock.t).reason, 'ok');
  assert.equal(errors.length, 1);
  // swapKeys for a snapshot's other contents keeps the source's keys.
  current.swapKeys({ revoked_jti: ['x'] });
  assert.equal(current.check(request(token.a), clock.t).reason, 'ok');
  // stopSwappingInto: the engine follows no more and its provider has no keys (nothing would
  // keep them fresh, or make them stale) until swapKeys sets them.
  source.stopSwappingInto(current);
  await control({ keys: ['b'] });
  clock.t += 300;
  assert.equal(await source.refresh(), true);
  assert.equal(current.check(request(token.a), clock.t).reason, 'unknown_kid');
  current.swapKeys({ keys: { idp: JSON.parse(readFileSync(path.join(fixtures, 'key-a.pub.jwk'), 'utf8')) } });
  assert.equal(current.check(request(token.a), clock.t).reason, 'ok');
  // Binding an engine that cannot take keys fails at once.
  assert.equal(outcome(() => source.swapInto(old, 'idp')).code, 'invalid_options');
  assert.equal(outcome(() => source.swapInto(current, 'nobody')).code, 'invalid_snapshot');
  current.free();
});

test('start(): a tick that cannot schedule reports and carries on, without an unhandled rejection', async () => {
  const errors = [];
  let broken = false;
  const { source } = await fresh({
    now: () => { if (broken) throw new Error('clock broke'); return T0; },
    onError: (e) => errors.push(e),
  });
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    broken = true;
    source.start();
    await new Promise((resolve) => setTimeout(resolve, 50));
    source.stop();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(unhandled, []);
  assert.ok(errors.some((e) => /clock broke/.test(e.message)), errors.map((e) => e.message).join('; '));
});

test('an answer is dated when it was asked for: one that lands late does not pass for a newer one', async () => {
  // A fetch whose answer is held back after it arrived, as a Worker may finish reading a body
  // only during a later request.
  let release = null;
  const held = { promise: null };
  const { clock, source } = await fresh({
    fetch: async (...args) => {
      const response = await fetch(...args);
      if (held.promise) await held.promise;
      return response;
    },
  });
  assert.equal(await source.refresh(), true);
  const v = source.verifier(rules);
  // token-b's unknown kid at T0 asks for a fetch (the verifier reports it to the source); its
  // answer, the set still holding only a, is held back.
  held.promise = new Promise((resolve) => { release = resolve; });
  assert.equal(outcome(() => v.verify(token.b)).code, 'unknown_kid');
  assert.equal(source.status().nextFetch, T0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(await hits(), { jwks: 2, discovery: 0 });
  await control({ keys: ['b'] });
  // The provider has rotated; the held answer of T0 lands at +301.
  clock.t = T0 + 301;
  held.promise = null;
  release();
  assert.equal(await source.refresh(), true);
  // Dated T0, when it was asked for: the schedule (T0 + 300) is due at +301, so the next refresh
  // fetches the rotated set instead of taking the late answer for a fresh one.
  assert.equal(source.status().fetchedAt, T0);
  assert.equal(await source.refresh(), true);
  assert.equal(v.verify(token.b).claims.sub, 'user-b');
  assert.deepEqual(await hits(), { jwks: 3, discovery: 0 });
});

test('a body over the cap and a fetch past the timeout are failures that keep the backoff', async () => {
  const small = await fresh({ config: { maxBodyBytes: 64 } });
  assert.equal(await small.source.refresh(), false);
  assert.match(small.source.status().lastError.message, /limit is 64|over 64 bytes/);
  // A server that never answers: the AbortSignal ends the fetch.
  let aborted = null;
  const hanging = (url, init) => new Promise((_, reject) => {
    init.signal.addEventListener('abort', () => { aborted = init.signal.reason; reject(init.signal.reason); });
  });
  const slow = await fresh({ fetch: hanging, timeoutMs: 20 });
  assert.equal(await slow.source.refresh(), false);
  assert.ok(aborted, 'the fetch was aborted');
  assert.match(slow.source.status().lastError.message, /fetching the key set failed/);
  assert.equal(slow.source.status().nextFetch, T0 + 5);
});

test('an injected fetch, Refresher.forProvider and bad arguments', async () => {
  let calls = 0;
  const counting = (url, init) => { calls += 1; return fetch(url, init); };
  const { source } = await fresh({ fetch: counting });
  await source.refresh();
  assert.equal(calls, 1);
  // forProvider keeps only keys of the provider's algorithms: an RS256-only provider skips ES256.
  const engine = Engine.fromPolicy({ ...policy, providers: [{ ...policy.providers[0], algorithms: ['RS256'] }] });
  const r = Refresher.forProvider(engine, 'idp');
  assert.equal(outcome(() => r.onFetched(200, [], readFileSync(path.join(fixtures, 'key-a.pub.jwk')), T0)).code, 'key_set_fetch_failed');
  assert.equal(r.status(T0).failures, 1);
  assert.equal(outcome(() => Refresher.forProvider(engine, 'nobody')).code, 'invalid_options');
  assert.equal(outcome(() => new Refresher({ minTtl: 10, defaultTtl: 5 })).code, 'invalid_options');
  assert.equal(outcome(() => new Refresher({ min_ttl: 10 })).code, 'invalid_options');
  // Strict as the message says: no fraction, the member's name before its value, and a getter
  // that throws is an error rather than a member left out.
  for (const [config, message] of [
    [{ minTtl: 1.5 }, /minTtl must be a whole number/],
    [{ ttl: 'x' }, /unknown member "ttl"/],
    [{ get minTtl() { throw new Error('no'); } }, /minTtl cannot be read/],
  ]) {
    assert.throws(() => new Refresher(config), (e) => e.code === 'invalid_options' && message.test(e.message));
  }
  assert.equal(outcome(() => new Refresher({ algorithms: ['none'] })).code, 'invalid_options');
  assert.equal(outcome(() => r.onFetched(200.5, [], '{}', T0)).code, 'invalid_options');
  // A body over maxBodyBytes is a failed fetch, judged by its length, not copied whole.
  const big = new Refresher();
  assert.throws(() => big.onFetched(200, [], new Uint8Array(50e6), T0), (e) => e.code === 'key_set_fetch_failed' && /limit/.test(e.message));
  assert.equal(big.status(T0).failures, 1);
  big.free();
  assert.equal(outcome(() => Verifier.fromRefresher(r, { alg: 'ES256' }, T0)).code, 'invalid_options');
  assert.deepEqual(r.poll(T0 + 4), { fetch: false, until: T0 + 5 });
  // Skipped keys are listed in index order, whichever check skipped them.
  const a = JSON.parse(readFileSync(path.join(fixtures, 'key-a.pub.jwk'), 'utf8')).keys[0];
  const b = JSON.parse(readFileSync(path.join(fixtures, 'key-b.pub.jwk'), 'utf8')).keys[0];
  const mixed = new Refresher();
  const body = { keys: [{ ...b, kid: 'dup' }, { kty: 'PQC', kid: 'future' }, { ...b, kid: 'dup' }, a, { ...b, use: 'enc' }] };
  assert.deepEqual(mixed.onFetched(200, [], JSON.stringify(body), T0), { keys: 1, skipped: 4, nextFetch: T0 + 900 });
  assert.deepEqual(mixed.status(T0).skipped.map((k) => [k.index, k.code]), [
    [0, 'duplicate_kid'], [1, 'invalid_key'], [2, 'duplicate_kid'], [4, 'key_not_for_verification'],
  ]);
  mixed.free();
  assert.deepEqual(r.poll(T0 + 5), { fetch: true });
  r.free();
  engine.free();
});

test('start() fetches at once and then on a timer that does not hold the process; stop() ends it', async () => {
  const { source } = await fresh();
  source.start();
  for (let i = 0; i < 100 && !source.status().usable; i += 1) await new Promise((r) => setTimeout(r, 10));
  assert.equal(source.status().usable, true);
  source.stop();
  assert.deepEqual(await hits(), { jwks: 1, discovery: 0 });
});
