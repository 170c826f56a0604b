// The four deployments' scenario tables through both paths of the built package: each case is
// decided by `check` (signatures in WebAssembly) and `checkAsync` (public-key signatures on
// WebCrypto); both must match the table (as tests/scenarios.rs checks it) and each other exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tollgate, deployments, deployment, caseHeaders, differences, webcrypto } from './common.mjs';

let total = 0;
for (const name of deployments) {
  test(`${name}: every case, both paths`, async () => {
    const { policy, snapshot, table } = deployment(name);
    assert.equal(table.deployment, name);
    const engine = tollgate.Engine.fromPolicy(policy);
    engine.swapKeys(snapshot);
    const failures = [];
    for (const c of table.cases) {
      const request = { method: c.request.method, path: c.request.path, headers: caseHeaders(table, c) };
      const sync = engine.check(request, table.now);
      const async_ = await engine.checkAsync(request, table.now);
      assert.deepEqual(async_, sync, `${name}: ${c.name}: the paths decide differently`);
      const diffs = differences(c.expect, sync);
      if (diffs.length) failures.push(`${c.name}: ${diffs.join('; ')} (${sync.message})`);
    }
    engine.free();
    console.log(`${name.padEnd(20)} ${String(table.cases.length - failures.length).padStart(3)} of ${String(table.cases.length).padStart(3)} cases as expected, on both paths`);
    total += table.cases.length;
    assert.deepEqual(failures, []);
  });
}

test('public-key tokens were verified with WebCrypto', () => {
  console.log(`${total} cases; WebCrypto: ${webcrypto.verify} signatures verified, ${webcrypto.importKey} keys imported`);
  assert.ok(webcrypto.verify > 0);
  // RS256 (project-oidc) and EdDSA (workspace-api, service-accounts) verdicts from WebCrypto.
  for (const family of ['RSASSA-PKCS1-v1_5', 'Ed25519']) {
    assert.ok(webcrypto.answered[family] > 0, `no ${family} verdict from WebCrypto: ${JSON.stringify(webcrypto.answered)}`);
  }
});
