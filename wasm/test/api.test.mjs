// The JS API of the built package beyond the shared tables: failures as Errors with stable codes,
// the accepted argument shapes, the clock default, the async path's pinned snapshot and its
// fallback without WebCrypto, and the abort guard of the entry point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { tollgate, wasmDir, deployment, caseHeaders, webcrypto } from './common.mjs';

const { Engine, Verifier, verify, verifyAsync, errorCodes, version } = tollgate;

/** Asserts that `f` throws an Error with `code` (and the code's number and status). */
function throwsCode(f, code) {
  assert.throws(f, (e) => {
    assert.ok(e instanceof Error, 'an Error');
    assert.equal(e.code, code, e.message);
    const info = errorCodes().find((c) => c.name === code);
    assert.equal(e.number, info.number);
    assert.equal(e.status, info.status);
    return true;
  });
}

async function rejectsCode(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof Error);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

function tenantPath() {
  const { policy, snapshot, table } = deployment('tenant-path');
  const engine = Engine.fromPolicy(policy);
  engine.swapKeys(snapshot);
  const byName = (name) => table.cases.find((c) => c.name === name);
  return { engine, table, snapshot, byName };
}

test('failures are Errors with a stable code, number and status', async () => {
  throwsCode(() => Engine.fromPolicy('{'), 'invalid_policy');
  throwsCode(() => Engine.fromPolicy(42), 'invalid_policy');
  throwsCode(() => Engine.fromPolicy({ version: 1 }), 'invalid_policy');
  const { engine } = tenantPath();
  throwsCode(() => engine.swapKeys('{"keys": {"nobody": {"keys": []}}}'), 'invalid_snapshot');
  throwsCode(() => engine.swapKeys(null), 'invalid_snapshot');
  throwsCode(() => engine.check(null), 'invalid_request');
  throwsCode(() => engine.check({ method: 'GET' }), 'invalid_request');
  throwsCode(() => engine.check({ method: 'GET', path: '/', headers: [['a']] }), 'invalid_request');
  throwsCode(() => engine.check({ method: 'GET', path: '/', headers: 'a: b' }), 'invalid_request');
  throwsCode(() => engine.check({ method: 'GET', path: '/api/health' }, -1), 'invalid_options');
  throwsCode(() => engine.check({ method: 'GET', path: '/api/health' }, Number.NaN), 'invalid_options');
  await rejectsCode(engine.checkAsync(null), 'invalid_request');
  await rejectsCode(engine.checkAsync({ method: 'GET', path: '/' }, Infinity), 'invalid_options');
  throwsCode(() => new Verifier({ keys: [] }, { issuer: 'x' }), 'invalid_options');
  throwsCode(() => new Verifier({ keys: [] }, { now: 1 }), 'invalid_options');
  // An empty issuer list (a configuration left empty) is refused, not "any issuer".
  throwsCode(() => new Verifier({ keys: [] }, { issuers: [] }), 'invalid_options');
  throwsCode(() => new Verifier('-----BEGIN PUBLIC KEY-----'), 'invalid_options');
  throwsCode(() => new Verifier({ kty: 'oct', k: 'AAAA', alg: 'HS256' }), 'weak_key');
  throwsCode(() => new Verifier({ keys: [] }).verify(7), 'malformed_token');
  throwsCode(() => new Verifier({ keys: [] }).verify('a.b'), 'malformed_token');
  engine.free();
});

test('objects with numbers JSON cannot hold are refused, not read as members left out', () => {
  // JSON.stringify writes NaN and Infinity as null, which reads as "absent": an API key whose
  // expiry is NaN (Date.parse of a bad date) would never expire.
  const { policy, snapshot } = deployment('service-accounts');
  const engine = Engine.fromPolicy(policy);
  const doc = JSON.parse(snapshot);
  doc.api_keys['api-keys'][0].expires = Date.parse('not a date') / 1000;
  assert.throws(() => engine.swapKeys(doc), (e) => {
    assert.equal(e.code, 'invalid_snapshot', e.message);
    assert.match(e.message, /member "expires" is NaN, not a finite number/);
    return true;
  });
  throwsCode(() => new Verifier({ keys: [] }, { maxLifetime: Infinity }), 'invalid_options');
  throwsCode(() => new Verifier({ keys: [] }, { leeway: -Infinity }), 'invalid_options');
  throwsCode(() => engine.swapKeys({ toJSON() { return undefined; } }), 'invalid_snapshot');
  throwsCode(() => engine.swapKeys({ n: 10n }), 'invalid_snapshot');
  // Finite numbers, and the same document as text, are read as before.
  doc.api_keys['api-keys'][0].expires = 1798761600;
  engine.swapKeys(doc);
  engine.free();
});

test('arguments JS would coerce or drop are refused, not read as something else', async () => {
  const { engine, table, byName } = tenantPath();
  const c = byName('Admin in A writes items in A');
  const request = { ...c.request, headers: caseHeaders(table, c) };
  // `now` of another type: "" or false would be 0 (when every token is still valid), a numeric
  // string a time, a Date milliseconds.
  for (const now of ['', false, [], '1767225600', new Date(), {}]) {
    throwsCode(() => engine.check(request, now), 'invalid_options');
    await rejectsCode(engine.checkAsync(request, now), 'invalid_options');
  }
  assert.equal(engine.check(request, null).reason, 'expired'); // null: the clock
  const { snapshot: oidc, table: oidcTable } = deployment('project-oidc');
  const jwks = JSON.parse(oidc).keys.zitadel;
  const v = new Verifier(jwks);
  throwsCode(() => v.verify('a.b.c', '1767225600'), 'invalid_options');
  // Options and documents that JSON.stringify would write as {}: no options at all, so any
  // issuer. A Map, a class's getters, an issuers member that is undefined.
  throwsCode(() => new Verifier(jwks, new Map([['issuers', ['https://idp']]])), 'invalid_options');
  class Options { get issuers() { return ['https://idp']; } }
  throwsCode(() => new Verifier(jwks, new Options()), 'invalid_options');
  assert.throws(() => new Verifier(jwks, { issuers: undefined }), (e) => {
    assert.equal(e.code, 'invalid_options');
    assert.match(e.message, /member "issuers" is undefined/);
    return true;
  });
  throwsCode(() => engine.swapKeys(new Map()), 'invalid_snapshot');
  // Bytes may come as an ArrayBuffer too (a fetch's arrayBuffer()).
  const { snapshot } = deployment('tenant-path');
  engine.swapKeys(new TextEncoder().encode(snapshot).buffer);
  assert.equal(engine.check(request, table.now).status, 200);
  // An object with its own toJSON, and one without a prototype, are serialized as before.
  engine.swapKeys({ toJSON: () => JSON.parse(snapshot) });
  engine.swapKeys(Object.assign(Object.create(null), JSON.parse(snapshot)));
  assert.equal(engine.check(request, table.now).status, 200);
  // The one-off verify and verifyAsync refuse a bad call the same way: the token first.
  throwsCode(() => verify(42, 'x'), 'malformed_token');
  await rejectsCode(verifyAsync(42, 'x'), 'malformed_token');
  void oidcTable;
  v.free();
  engine.free();
});

test('a call from inside another call (a toJSON it reads) is refused; the outer call goes on', () => {
  const { engine, table, byName } = tenantPath();
  const { policy } = deployment('tenant-path');
  let nested = null;
  const sneaky = {
    toJSON() {
      try {
        engine.check({ method: 'GET', path: '/api/health' }, table.now);
      } catch (e) {
        nested = e;
      }
      return JSON.parse(policy);
    },
  };
  const other = Engine.fromPolicy(sneaky);
  assert.equal(nested?.code, 'invalid_options', String(nested));
  assert.match(nested.message, /from inside another call/);
  // Constructors too, both ways: a call inside one, and one inside a call.
  const { snapshot: oidc } = deployment('project-oidc');
  const jwks = JSON.parse(oidc).keys.zitadel;
  nested = null;
  const v = new Verifier(jwks, {
    toJSON() {
      try { engine.check({ method: 'GET', path: '/api/health' }, table.now); } catch (e) { nested = e; }
      return {};
    },
  });
  assert.equal(nested?.code, 'invalid_options', String(nested));
  nested = null;
  engine.swapKeys({
    toJSON() {
      try { new Verifier(jwks); } catch (e) { nested = e; }
      return JSON.parse(deployment('tenant-path').snapshot);
    },
  });
  assert.equal(nested?.code, 'invalid_options', String(nested));
  v.free();
  // Both engines work as before.
  const c = byName('Admin in A writes items in A');
  const request = { ...c.request, headers: caseHeaders(table, c) };
  assert.equal(engine.check(request, table.now).status, 200);
  other.free();
  engine.free();
});

test('inputs over a limit are refused before they are copied into WebAssembly', async () => {
  const { engine, table, byName } = tenantPath();
  const c = byName('Admin in A writes items in A');
  const headers = caseHeaders(table, c);
  const check = (request) => engine.check(request, table.now);
  const limited = (f, code, pattern) => assert.throws(f, (e) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message, pattern);
    return true;
  });
  // A token of 100 million characters: refused by its length, not copied (which would grow the
  // module's memory by up to 300 MB for good).
  const huge = 'é'.repeat(1e8);
  const { snapshot: oidc } = deployment('project-oidc');
  const v = new Verifier(JSON.parse(oidc).keys.zitadel);
  limited(() => v.verify(huge, table.now), 'token_too_large', /the token is 100000000 bytes or more, more than the limit of 65536/);
  await assert.rejects(v.verifyAsync(huge, table.now), (e) => e.code === 'token_too_large');
  limited(() => check({ method: 'A'.repeat(1e6), path: '/api/health' }), 'invalid_request', /method is 1000000 bytes or more, more than the limit of 32/);
  limited(() => check({ method: 'GET', path: `/${'a'.repeat(1e6)}` }), 'invalid_request', /path is 1000001 bytes or more, more than the limit of 8192/);
  limited(() => check({ method: 'GET', path: '/', headers: [['x'.repeat(1e6), 'v']] }), 'invalid_request', /a header name is 1000000 bytes or more/);
  limited(() => check({ method: 'GET', path: '/', headers: { 'x-pad': 'v'.repeat(1e6) } }), 'invalid_request', /header "x-pad" is 1000000 bytes or more, more than the limit of 16384/);
  const many = Array.from({ length: 1000 }, (_, i) => [`x-${i}`, 'v']);
  limited(() => check({ method: 'GET', path: '/', headers: many }), 'invalid_request', /more than 128 headers/);
  limited(() => engine.swapKeys(new Uint8Array(17 * 1024 * 1024)), 'invalid_snapshot', /more than the limit of 16777216/);
  // At the limits, the core's own checks decide as before.
  assert.equal(check({ method: 'GET', path: '/api/health', headers: [...headers, ['x'.repeat(256), 'v']] }).status, 200);
  v.free();
  engine.free();
});

test('a refused snapshot leaves the old one in place', () => {
  const { engine, table, byName } = tenantPath();
  const c = byName('Admin in A writes items in A');
  const request = { ...c.request, headers: caseHeaders(table, c) };
  throwsCode(() => engine.swapKeys('{"keys": {"app": {"keys": [{"kty": "oct", "k": "AA"}]}}}'), 'invalid_snapshot');
  assert.equal(engine.check(request, table.now).status, 200);
  engine.swapKeys({});
  assert.equal(engine.check(request, table.now).reason, 'unknown_kid');
  engine.free();
});

test('a relative url is the request target as it is, whatever its query holds', () => {
  // Node's req.url is relative: a URL in its query must not be taken for the request's own.
  const { policy, snapshot, table } = deployment('workspace-api');
  const engine = Engine.fromPolicy(policy);
  engine.swapKeys(snapshot);
  for (const url of ['/v1/docs/d-42?next=https://x.example/health', '/v1/docs?cb=http://x/v1/public/templates']) {
    const d = engine.check({ method: 'GET', url, headers: {} }, table.now);
    assert.equal(d.status, 401, `${url}: ${d.reason}`);
  }
  assert.equal(engine.check({ method: 'GET', url: '/health?x=1', headers: {} }, table.now).status, 200);
  assert.equal(engine.check({ method: 'GET', url: '/health#/../v1/docs', headers: {} }, table.now).reason, 'invalid_request');
  engine.free();
});

test('every request shape decides the same', () => {
  const { engine, table, byName } = tenantPath();
  const c = byName('Admin in A writes items in A');
  const [[name, value]] = caseHeaders(table, c);
  const shapes = [
    { method: c.request.method, path: c.request.path, headers: [[name, value]] },
    { method: c.request.method, path: c.request.path, headers: { [name.toUpperCase()]: value } },
    { method: c.request.method, path: c.request.path, headers: { [name]: [value] } },
    // Node's req.headers types an absent header as undefined: it is left out.
    { method: c.request.method, path: c.request.path, headers: { [name]: value, 'x-absent': undefined } },
    { method: c.request.method, path: c.request.path, headers: new Headers({ [name]: value }) },
    { method: c.request.method, path: c.request.path, headers: new Map([[name, value]]) },
    { method: c.request.method, url: `https://gw.example${c.request.path}?q=1#f`, headers: [[name, value]] },
    new Request(`https://gw.example${c.request.path}`, { method: c.request.method, headers: { [name]: value } }),
  ];
  const want = engine.check(shapes[0], table.now);
  assert.equal(want.status, 200);
  for (const shape of shapes) assert.deepEqual(engine.check(shape, table.now), want);
  assert.equal(engine.check({ method: 'GET', path: '/api/health' }, table.now).status, 200);
  // With the credential absent (undefined), a decision (401), not a thrown error.
  const absent = engine.check({ method: c.request.method, path: c.request.path, headers: { [name]: undefined } }, table.now);
  assert.equal(absent.status, 401);
  assert.equal(engine.policyName, 'tenant-in-the-path');
  engine.free();
});

test('now defaults to the clock', async () => {
  const { engine, table, byName } = tenantPath();
  const c = byName('Admin in A writes items in A');
  const request = { ...c.request, headers: caseHeaders(table, c) };
  assert.ok(Date.now() / 1000 > table.now + 3600, 'the table is in the past');
  assert.equal(engine.check(request, table.now).status, 200);
  assert.equal(engine.check(request).reason, 'expired');
  assert.equal((await engine.checkAsync(request)).reason, 'expired');
  engine.free();
});

test('checkAsync finishes on the snapshot it started with', async () => {
  const { policy, snapshot, table } = deployment('project-oidc');
  const engine = Engine.fromPolicy(policy);
  engine.swapKeys(snapshot);
  const c = table.cases.find((x) => x.expect.status === 200 && caseHeaders(table, x).some(([n]) => n.toLowerCase() === 'authorization'));
  const request = { ...c.request, headers: caseHeaders(table, c) };
  const before = webcrypto.verify;
  const pending = engine.checkAsync(request, table.now);
  engine.swapKeys({}); // rotation while the signature is on WebCrypto
  const decision = await pending;
  assert.equal(decision.status, 200, decision.message);
  assert.ok(webcrypto.verify > before, 'the signature went to WebCrypto');
  assert.equal(engine.check(request, table.now).status, 401);
  engine.free();
});

test('without WebCrypto, checkAsync verifies in WebAssembly with the same verdicts', async () => {
  const { policy, snapshot, table } = deployment('project-oidc');
  const engine = Engine.fromPolicy(policy);
  engine.swapKeys(snapshot);
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  const counted = webcrypto.verify;
  Object.defineProperty(globalThis, 'crypto', { configurable: true, value: undefined });
  try {
    for (const c of table.cases) {
      const request = { ...c.request, headers: caseHeaders(table, c) };
      assert.deepEqual(await engine.checkAsync(request, table.now), engine.check(request, table.now), c.name);
    }
  } finally {
    Object.defineProperty(globalThis, 'crypto', descriptor);
  }
  assert.equal(webcrypto.verify, counted);
  engine.free();
});

test('verify and Verifier', async () => {
  const { snapshot, table } = deployment('project-oidc');
  const jwks = JSON.parse(snapshot).keys.zitadel;
  const c = table.cases.find((x) => x.expect.status === 200 && x.expect.kind === 'user');
  const [, auth] = caseHeaders(table, c).find(([n]) => n.toLowerCase() === 'authorization');
  const token = auth.slice('Bearer '.length);
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
  const options = { audiences: [].concat(claims.aud ?? []), now: table.now };
  const one = verify(token, jwks, options);
  assert.deepEqual(Object.keys(one).sort(), ['algorithm', 'claims', 'header', 'keyId']);
  assert.equal(one.algorithm, 'RS256');
  assert.deepEqual(one.claims, claims);
  assert.equal(one.keyId, jwks.keys[0].kid);
  assert.deepEqual(await verifyAsync(token, jwks, options), one);
  const { now, ...rest } = options;
  const v = new Verifier(JSON.stringify(jwks), rest);
  assert.ok(v instanceof Verifier);
  assert.deepEqual(v.verify(token, now), one);
  assert.deepEqual(await v.verifyAsync(token, now), one);
  throwsCode(() => v.verify(token, claims.exp + 3600), 'expired');
  await rejectsCode(v.verifyAsync(token, claims.exp + 3600), 'expired');
  const tampered = `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
  throwsCode(() => v.verify(tampered, now), 'invalid_signature');
  await rejectsCode(v.verifyAsync(tampered, now), 'invalid_signature');
  v.free();
});

test('errorCodes, version and the TypeScript types', () => {
  const codes = errorCodes();
  assert.ok(codes.length > 50);
  assert.deepEqual(codes.find((c) => c.name === 'expired'), { name: 'expired', number: 400, status: 401, summary: 'token has expired' });
  assert.match(version(), /^\d+\.\d+\.\d+/);
  for (const target of ['node', 'web']) {
    const types = readFileSync(path.join(wasmDir, `pkg/${target}/tollgate.d.ts`), 'utf8');
    for (const signature of [
      'static fromPolicy(policy: string | Uint8Array | object): Engine;',
      'checkAsync(request: CheckRequest, now?: number | null): Promise<Decision>;',
      'check(request: CheckRequest, now?: number | null): Decision;',
      'swapKeys(snapshot: string | Uint8Array | object): void;',
      'export interface Decision {',
      'export function verify(token: string, keys: string | Uint8Array | object, options?: VerifyOptions & { now?: number }): VerifiedToken;',
    ]) {
      assert.ok(types.includes(signature), `${target}: ${signature}`);
    }
    assert.match(types, /Decides like `check`, with the same verdicts/);
  }
});

test('the async paths keep their first halves to themselves: no caller can supply a verdict', () => {
  const { policy } = deployment('project-oidc');
  const engine = Engine.fromPolicy(policy);
  for (const [object, name] of [
    [engine, 'checkAsyncBegin'],
    [Verifier.prototype, 'verifyAsyncBegin'],
    [Verifier.prototype, 'verifyJwsAsyncBegin'],
    [tollgate, 'verifyAsyncBegin'],
    [tollgate, 'SignatureWait'],
  ]) {
    assert.equal(object[name], undefined, name);
  }
  for (const name of ['checkAsync']) assert.equal(typeof engine[name], 'function', name);
  for (const name of ['verifyAsync', 'verifyJwsAsync']) assert.equal(typeof Verifier.prototype[name], 'function', name);
  assert.equal(typeof tollgate.verifyAsync, 'function');
  engine.free();
});

test('the entry point turns a WebAssembly abort into internal_error and refuses later calls', async () => {
  const source = readFileSync(path.join(wasmDir, 'js/harden.js'), 'utf8');
  for (const target of ['node', 'web']) {
    assert.ok(readFileSync(path.join(wasmDir, `pkg/${target}/index.js`), 'utf8').includes(source), target);
  }
  const harden = new Function(`${source}; return harden;`)();
  class Thing {
    constructor(fail) { if (fail) throw new WebAssembly.RuntimeError('unreachable'); }
    ok() { return 1; }
    boom() { throw new WebAssembly.RuntimeError('unreachable'); }
    refuse() { const e = new Error('no'); e.code = 'expired'; throw e; }
    later() { return Promise.reject(new WebAssembly.RuntimeError('unreachable')); }
  }
  let api = harden({ Thing, plain: () => 2 });
  const t = new api.Thing(false);
  assert.ok(t instanceof api.Thing);
  assert.equal(t.ok(), 1);
  assert.equal(api.plain(), 2);
  throwsLike(() => t.refuse(), 'expired');
  throwsLike(() => t.boom(), 'internal_error');
  throwsLike(() => t.ok(), 'internal_error');
  throwsLike(() => api.plain(), 'internal_error');
  api = harden({ Other: class { ok() { return 1; } later() { return Promise.reject(new WebAssembly.RuntimeError('x')); } } });
  await assert.rejects(new api.Other().later(), (e) => e.code === 'internal_error' && e.cause instanceof WebAssembly.RuntimeError);

  function throwsLike(f, code) {
    assert.throws(f, (e) => e.code === code);
  }
});

test('sessionRecord keys by SHA-256, or HMAC-SHA256 with the pepper\'s bytes; a pepper that is not bytes is refused', async () => {
  const { createHash, createHmac } = await import('node:crypto');
  const session = { subject: 'u-alice', expires: 1_767_229_200 };
  const pepper = new Uint8Array(32).map((_, i) => i + 1);
  assert.equal(tollgate.sessionRecord('s-123', session).key,
    `tollgate:session:${createHash('sha256').update('s-123').digest('hex')}`);
  assert.equal(tollgate.sessionRecord('s-123', session, pepper).key,
    `tollgate:session:${createHmac('sha256', pepper).update('s-123').digest('hex')}`);
  // The snapshot's base64url text of the pepper, passed as is, used to become zero bytes.
  const text = Buffer.from(pepper).toString('base64url');
  throwsCode(() => tollgate.sessionRecord('s-123', session, text), 'invalid_options');
  throwsCode(() => tollgate.sessionRecord('s-123', session, [1, 2, 3]), 'invalid_options');
  assert.equal(tollgate.sessionRecord('s-123', session, null).key, tollgate.sessionRecord('s-123', session).key);
});

test('misuse the bindings catch has a code too: a freed object, an object of the wrong class', () => {
  const { engine: e } = tenantPath();
  const v = new Verifier({ kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url'), alg: 'HS256' }, { issuers: ['x'], audiences: ['y'] });
  assert.throws(() => Engine.prototype.check.call(v, { method: 'GET', path: '/' }), (err) => err.code === 'invalid_options' && err.number === 506);
  e.free();
  throwsCode(() => e.check({ method: 'GET', path: '/api/health' }), 'invalid_options');
  v.free();
});
