// Shared helpers for the package tests: they load the built package (pkg/node), never Rust
// internals, and read the shared data in place: the JWS vectors from ../../shared/vectors (beside
// the repository) and the deployments' tables from ../examples.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The wasm/ directory. */
export const wasmDir = path.resolve(here, '..');
/** The shared vectors, read in place (`../../shared/vectors` from wasm/). */
export const vectorsDir = path.resolve(wasmDir, '../../shared/vectors');
/** The four seed deployments, in the order the Rust suite runs them. */
export const deployments = ['project-oidc', 'workspace-api', 'service-accounts', 'tenant-path'];

/** The built Node package (pkg/node), as a user would `require` it. */
export const tollgate = createRequire(import.meta.url)(path.join(wasmDir, 'pkg/node'));

/** Reads a JSON vector file (path relative to the vectors directory). */
export function vector(name) {
  return JSON.parse(readFileSync(path.join(vectorsDir, name), 'utf8'));
}

/** A deployment's policy and snapshot (text) and scenario table (parsed). */
export function deployment(name) {
  const dir = path.resolve(wasmDir, '../examples', name);
  return {
    policy: readFileSync(path.join(dir, 'policy.json'), 'utf8'),
    snapshot: readFileSync(path.join(dir, 'snapshot.json'), 'utf8'),
    table: JSON.parse(readFileSync(path.join(dir, 'scenarios.json'), 'utf8')),
  };
}

/** A case's headers with `{{token}}` references replaced (as `Table::headers` does). */
export function caseHeaders(table, c) {
  return c.request.headers.map(([name, value]) => {
    let v = value;
    for (const [token, text] of Object.entries(table.tokens)) {
      v = v.split(`{{${token}}}`).join(text);
    }
    return [name, v];
  });
}

/** Compares a decision with a case's expectation (as `Expect::check` does): the differences. */
export function differences(expect, d) {
  const diffs = [];
  const diff = (what, want, got) => diffs.push(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  const p = d.principal;
  if (d.status !== expect.status) diff('status', expect.status, d.status);
  if (d.reason !== expect.reason) diff('reason', expect.reason, d.reason);
  if ('subject' in expect && p?.subject !== expect.subject) diff('subject', expect.subject, p?.subject);
  if ('kind' in expect && p?.kind !== expect.kind) diff('kind', expect.kind, p?.kind);
  if ('tenant' in expect && p?.tenant !== expect.tenant) diff('tenant', expect.tenant, p?.tenant);
  if ('roles' in expect && JSON.stringify(p?.roles ?? []) !== JSON.stringify(expect.roles)) diff('roles', expect.roles, p?.roles);
  if ('www_authenticate' in expect && d.www_authenticate !== expect.www_authenticate) diff('www_authenticate', expect.www_authenticate, d.www_authenticate);
  if ('forward_headers' in expect) {
    const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).sort()));
    if (sorted(d.forward_headers) !== sorted(expect.forward_headers)) diff('forward_headers', expect.forward_headers, d.forward_headers);
  }
  if ('correlation_id' in expect && d.correlation_id !== expect.correlation_id) diff('correlation_id', expect.correlation_id, d.correlation_id);
  if ('refresh_kid' in expect && d.refresh_hint?.kid !== expect.refresh_kid) diff('refresh_kid', expect.refresh_kid, d.refresh_hint?.kid);
  return diffs;
}

/** Runs `f`, giving `{ok: true, value}` or `{ok: false, code}` (the thrown Error's code). */
export function outcome(f) {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    return { ok: false, code: e.code ?? `(no code) ${e}` };
  }
}

/** The asynchronous form of `outcome`. */
export async function outcomeAsync(f) {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, code: e.code ?? `(no code) ${e}` };
  }
}

/** Prints a per-file tally, in the Rust suites' format. */
export function tally(file, agree, skipped, disagree) {
  console.log(`${file.padEnd(48)} ${String(agree).padStart(5)} agree, ${String(skipped).padStart(3)} skipped, ${disagree} disagree`);
}

/**
 * Counts the WebCrypto calls the async paths make (`importKey`, `verify`), so the tests can
 * show that public-key signatures really go to WebCrypto, and the verdicts WebCrypto gave per
 * algorithm (`answered`: a `verify` that resolved to true or false). A call that threw counts
 * in `verify` but not in `answered`: the async path then verifies in WebAssembly, and both
 * paths would still agree, so only `answered` shows WebCrypto did the work.
 */
export const webcrypto = { importKey: 0, verify: 0, answered: {} };
{
  const subtle = globalThis.crypto.subtle;
  for (const name of ['importKey', 'verify']) {
    const original = subtle[name].bind(subtle);
    Object.defineProperty(subtle, name, {
      configurable: true,
      value: (...args) => {
        webcrypto[name] += 1;
        const result = original(...args);
        if (name !== 'verify') return result;
        const algorithm = typeof args[0] === 'string' ? args[0] : args[0].name;
        return result.then((verdict) => {
          if (typeof verdict === 'boolean') {
            webcrypto.answered[algorithm] = (webcrypto.answered[algorithm] ?? 0) + 1;
          }
          return verdict;
        });
      },
    });
  }
}

/** The shared key-source fixtures (tests/keysource): keys a, b, c and their tokens. */
export const keysourceDir = path.resolve(wasmDir, '../tests/keysource');

/**
 * Starts the shared JWKS server (tests/keysource/jwks_server.py) on 127.0.0.1: `{base, control,
 * hits, stop}`. `control(change)` steers it (POST /control), `hits()` reads its counts.
 */
export async function startJwksServer() {
  const child = spawn('python3', [path.join(keysourceDir, 'jwks_server.py')], { stdio: ['ignore', 'pipe', 'ignore'] });
  const first = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`jwks_server.py exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  const port = /^listening (\d+)$/.exec(first)?.[1];
  if (!port) throw new Error(`jwks_server.py said ${first}`);
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    async control(change) {
      const res = await fetch(`${base}/control`, { method: 'POST', body: JSON.stringify(change) });
      if (res.status !== 200) throw new Error(`POST /control answered ${res.status}`);
    },
    async hits() {
      return (await fetch(`${base}/hits`)).json();
    },
    stop() {
      child.kill();
    },
  };
}
