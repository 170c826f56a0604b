// The asynchronous paths (`Engine.checkAsync`, `Verifier.verifyAsync`, `Verifier.verifyJwsAsync`,
// `verifyAsync`): RSA, ECDSA and Ed25519 signatures verified by the runtime's WebCrypto
// (`crypto.subtle.verify`), everything else in WebAssembly (build.sh inlines this file into
// pkg/node/index.js and pkg/web/index.js; src/webcrypto.rs is the Rust half).
//
// Each path is two synchronous calls into WebAssembly with the wait between them here, in JS: the
// first half (`checkAsyncBegin`, …) decides or stops at the signature with a `SignatureWait`;
// WebCrypto gives its verdict on `wait.job`; `wait.finish(verdict)` decides the rest. Both calls
// go through the hardened bindings, so a panic in either half rejects with `internal_error`, and
// a wait made by an instance that another call's panic replaced meanwhile is refused, never
// finished in the fresh instance's memory.
//
// The verdict is `true` or `false` from WebCrypto, or `undefined` when WebCrypto cannot give one
// (no `crypto.subtle`, an algorithm the runtime lacks, an import or verify that throws): the
// second half then verifies in WebAssembly, so the outcome is the synchronous path's either way.

/**
 * Adds the asynchronous methods to the hardened exports.
 * @param {Record<string, any>} api the hardened exports
 */
function addAsyncPaths(api) {
  // Imported CryptoKeys with their verify parameters, by the job's fingerprint (algorithm and
  // public material, never the kid, which a rotation may reuse); starts afresh when full.
  const KEY_CACHE_ENTRIES = 64;
  const keys = new Map();
  const { SignatureWait } = api;
  // The Ed25519 algorithm name the runtime took: 'Ed25519' (the standard's) or 'NODE-ED25519'
  // (older workerd); null until one import has worked.
  let ed25519Name = null;

  const subtle = () => {
    const crypto = globalThis.crypto;
    if (crypto === null || typeof crypto !== 'object') return null;
    const s = crypto.subtle;
    return s !== null && typeof s === 'object' ? s : null;
  };

  const hashOf = (alg) => {
    if (alg === 'RS384' || alg === 'PS384' || alg === 'ES384') return 'SHA-384';
    if (alg === 'RS512' || alg === 'PS512') return 'SHA-512';
    return 'SHA-256';
  };

  // The import and verify parameters for `alg` (Ed25519's name given), or null.
  const parameters = (alg, ed25519) => {
    const hash = hashOf(alg);
    switch (alg) {
      case 'RS256': case 'RS384': case 'RS512':
        return [{ name: 'RSASSA-PKCS1-v1_5', hash }, { name: 'RSASSA-PKCS1-v1_5' }];
      case 'PS256': case 'PS384': case 'PS512':
        // RFC 7518 §3.5: the salt is as long as the hash output.
        return [{ name: 'RSA-PSS', hash }, { name: 'RSA-PSS', saltLength: { PS256: 32, PS384: 48, PS512: 64 }[alg] }];
      case 'ES256': case 'ES384': {
        const namedCurve = alg === 'ES256' ? 'P-256' : 'P-384';
        return [{ name: 'ECDSA', namedCurve }, { name: 'ECDSA', hash }];
      }
      case 'EdDSA':
        return [{ name: ed25519, namedCurve: ed25519 }, { name: ed25519 }];
      default:
        return null;
    }
  };

  // An RSA key as a JWK (n, e), an EC point or Ed25519 key raw.
  const importKey = (s, job, algorithm) => (job.kty === 'RSA'
    ? s.importKey('jwk', { kty: 'RSA', n: job.n, e: job.e }, algorithm, false, ['verify'])
    : s.importKey('raw', job.raw, algorithm, false, ['verify']));

  // The job's key and verify parameters, imported or from the cache; null when none imports.
  const keyFor = async (s, job) => {
    const hit = keys.get(job.fingerprint);
    if (hit) return hit;
    const names = job.algorithm !== 'EdDSA' ? [''] : ed25519Name ? [ed25519Name] : ['Ed25519', 'NODE-ED25519'];
    for (const name of names) {
      const params = parameters(job.algorithm, name);
      if (params === null) return null;
      try {
        const entry = [await importKey(s, job, params[0]), params[1]];
        if (name !== '') ed25519Name = name;
        if (keys.size >= KEY_CACHE_ENTRIES) keys.clear();
        keys.set(job.fingerprint, entry);
        return entry;
      } catch {
        // The next name, or no verdict.
      }
    }
    return null;
  };

  // WebCrypto's verdict on the job's signature: true, false, or undefined (none).
  const verdict = async (job) => {
    const s = subtle();
    if (s === null) return undefined;
    try {
      const entry = await keyFor(s, job);
      if (entry === null) return undefined;
      const ok = await s.verify(entry[1], entry[0], job.signature, job.data);
      return typeof ok === 'boolean' ? ok : undefined;
    } catch {
      return undefined;
    }
  };

  // The first halves and the wait's members, kept here: a caller of the package never holds a
  // wait, so no one else can finish a check with a verdict of their own.
  const take = (object, name) => {
    const d = Object.getOwnPropertyDescriptor(object, name);
    delete object[name];
    return d.get ?? d.value;
  };
  const checkBegin = take(api.Engine.prototype, 'checkAsyncBegin');
  const verifyBegin = take(api.Verifier.prototype, 'verifyAsyncBegin');
  const verifyJwsBegin = take(api.Verifier.prototype, 'verifyJwsAsyncBegin');
  const verifyOnceBegin = take(api, 'verifyAsyncBegin');
  const jobOf = take(SignatureWait.prototype, 'job');
  const finishWait = take(SignatureWait.prototype, 'finish');
  const free = SignatureWait.prototype.free;
  delete api.SignatureWait;

  // The second half of a path whose first half returned `step`.
  const finish = async (step) => {
    if (!(step instanceof SignatureWait)) return step;
    try {
      return finishWait.call(step, await verdict(jobOf.call(step)));
    } finally {
      free.call(step);
    }
  };

  const method = (object, name, fn) => Object.defineProperty(object, name, {
    value: fn, writable: true, configurable: true,
  });
  method(api.Engine.prototype, 'checkAsync', async function checkAsync(request, now) {
    return finish(checkBegin.call(this, request, now));
  });
  method(api.Verifier.prototype, 'verifyAsync', async function verifyAsync(token, now) {
    return finish(verifyBegin.call(this, token, now));
  });
  method(api.Verifier.prototype, 'verifyJwsAsync', async function verifyJwsAsync(token) {
    return finish(verifyJwsBegin.call(this, token));
  });
  api.verifyAsync = async function verifyAsync(token, keySet, options) {
    return finish(verifyOnceBegin(token, keySet, options));
  };
}
