// No panic crosses the WebAssembly boundary. pkg-faults/node (`build.sh --faults`, never shipped)
// is the Node package built with the test-only cargo feature `fault-injection`, under which a
// check of the method TOLLGATE-FAULT-INJECTION panics inside the engine. On wasm32 the panic
// aborts the instance (a WebAssembly.RuntimeError); the entry point must turn it into an Error
// with code internal_error, keep the process alive, replace the aborted instance, and refuse
// calls on objects the aborted instance made; functions and new engines then work as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { wasmDir, deployment, caseHeaders } from './common.mjs';

const faults = createRequire(import.meta.url)(path.join(wasmDir, 'pkg-faults/node'));
const FAULT = { method: 'TOLLGATE-FAULT-INJECTION', path: '/api/health', headers: {} };

function tenantPath() {
  const { policy, snapshot, table } = deployment('tenant-path');
  const engine = faults.Engine.fromPolicy(policy);
  engine.swapKeys(snapshot);
  return { engine, table };
}

/** Every case of the tenant-path table decides as the table says. */
function assertTable(engine, table) {
  for (const c of table.cases) {
    const d = engine.check({ method: c.request.method, path: c.request.path, headers: caseHeaders(table, c) }, table.now);
    assert.equal(d.status, c.expect.status, c.name);
    assert.equal(d.reason, c.expect.reason, c.name);
  }
}

function isInternalError(e) {
  assert.ok(e instanceof Error, 'an Error');
  assert.equal(e.code, 'internal_error', e.message);
  assert.equal(e.number, 1);
  assert.equal(e.status, 500);
  return true;
}

test('a panic in check is an internal_error Error; the process and a fresh engine carry on', () => {
  const { engine, table } = tenantPath();
  assertTable(engine, table);

  assert.throws(() => engine.check(FAULT), (e) => {
    isInternalError(e);
    assert.ok(e.cause instanceof WebAssembly.RuntimeError, 'the abort is the cause');
    return true;
  });

  // The engine lived in the aborted instance's memory: it refuses, and freeing it is harmless.
  assert.throws(() => engine.check({ method: 'GET', path: '/api/health', headers: {} }), isInternalError);
  assert.throws(() => engine.policyName, isInternalError);
  // So does a call that is given it as an argument.
  assert.throws(() => faults.Refresher.forProvider(engine, 'app'), isInternalError);
  engine.free();

  // Functions and new objects run in a fresh instance, as before the panic.
  assert.equal(typeof faults.version(), 'string');
  const again = tenantPath();
  assertTable(again.engine, again.table);
  assert.equal(again.engine.check({ method: 'GET', path: '/api/health', headers: {} }).status, 200);
  again.engine.free();
});

test('a panic in checkAsync rejects with internal_error, and later checks still work', async () => {
  const { engine, table } = tenantPath();
  await assert.rejects(async () => engine.checkAsync(FAULT), isInternalError);
  const again = tenantPath();
  const c = table.cases[0];
  const d = await again.engine.checkAsync({ method: c.request.method, path: c.request.path, headers: caseHeaders(table, c) }, table.now);
  assert.equal(d.status, c.expect.status);
  assert.equal(d.reason, c.expect.reason);
});

/** project-oidc's engine and its first allowed case (an RS256 token: checkAsync waits on WebCrypto). */
function projectOidc() {
  const { policy, snapshot, table } = deployment('project-oidc');
  const engine = faults.Engine.fromPolicy(policy);
  engine.swapKeys(snapshot);
  const c = table.cases.find((x) => x.expect.status === 200 && x.request.headers.length > 0);
  const request = { method: c.request.method, path: c.request.path, headers: caseHeaders(table, c) };
  return { engine, request, now: table.now, expect: c.expect };
}

test('a panic in the second half of checkAsync (after WebCrypto) rejects with internal_error', async () => {
  const { engine, request, now, expect } = projectOidc();
  assert.equal((await engine.checkAsync(request, now)).status, expect.status);

  faults.armFinishFault();
  await assert.rejects(engine.checkAsync(request, now), (e) => {
    isInternalError(e);
    assert.ok(e.cause instanceof WebAssembly.RuntimeError, 'the abort is the cause');
    return true;
  });
  // The engine went with the aborted instance; a new one decides as before, on both paths.
  await assert.rejects(engine.checkAsync(request, now), isInternalError);
  const again = projectOidc();
  assert.equal((await again.engine.checkAsync(request, now)).status, expect.status);
  assert.equal(again.engine.check(request, now).status, expect.status);
  again.engine.free();
});

test('a panic in the second half of verifyAsync rejects with internal_error', async () => {
  const { snapshot, request, now } = { ...projectOidc(), snapshot: JSON.parse(deployment('project-oidc').snapshot) };
  const jwks = Object.values(snapshot.keys)[0];
  const token = (request.headers.find(([n]) => n.toLowerCase() === 'authorization')[1]).replace(/^Bearer /, '');
  const { aud } = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
  const options = { audiences: [aud].flat() };
  const v = new faults.Verifier(jwks, options);
  const ok = await v.verifyAsync(token, now);
  assert.equal(ok.algorithm, 'RS256');
  faults.armFinishFault();
  await assert.rejects(v.verifyAsync(token, now), isInternalError);
  faults.armFinishFault();
  await assert.rejects(faults.verifyAsync(token, jwks, { ...options, now }), isInternalError);
  assert.deepEqual(await new faults.Verifier(jwks, options).verifyAsync(token, now), ok);
});

test('a check waiting on WebCrypto when another call aborts the instance is refused, not finished', async () => {
  const { engine, request, now } = projectOidc();
  const waiting = engine.checkAsync(request, now);
  const other = tenantPath();
  // This panic replaces the instance while the first check waits for WebCrypto: the wait lived in
  // the old instance's memory, so finishing it in the new one must be refused.
  assert.throws(() => other.engine.check(FAULT), isInternalError);
  await assert.rejects(waiting, (e) => {
    isInternalError(e);
    assert.match(e.message, /instance that aborted/);
    return true;
  });
  const again = projectOidc();
  assert.equal((await again.engine.checkAsync(again.request, again.now)).status, again.expect.status);
});

test('the shipped package has no fault injection', () => {
  const shipped = createRequire(import.meta.url)(path.join(wasmDir, 'pkg/node'));
  const { policy } = deployment('tenant-path');
  const d = shipped.Engine.fromPolicy(policy).check(FAULT);
  assert.equal(d.status, 400);
  assert.equal(d.reason, 'invalid_request');
  assert.equal(shipped.armFinishFault, undefined);
});
