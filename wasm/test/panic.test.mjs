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

test('the shipped package has no fault injection', () => {
  const shipped = createRequire(import.meta.url)(path.join(wasmDir, 'pkg/node'));
  const { policy } = deployment('tenant-path');
  const d = shipped.Engine.fromPolicy(policy).check(FAULT);
  assert.equal(d.status, 400);
  assert.equal(d.reason, 'invalid_request');
});
