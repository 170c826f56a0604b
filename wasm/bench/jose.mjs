// Benchmark (not a test): Tollgate's WebAssembly package against `jose` in Node, on the same
// tokens: HS256 and ES256, Tollgate's synchronous path (signatures in WebAssembly) and its
// asynchronous path (public-key signatures on WebCrypto; HMAC stays in WebAssembly), against
// jose's `jwtVerify` (WebCrypto). Each verifies the signature and the same claims (issuer,
// audience, expiry). Run: `npm run bench` in wasm/ after ./build.sh (BENCH_ROUNDS, BENCH_SECONDS
// set the rounds and the seconds per measurement). Prints ops/s and the ratio Tollgate / jose
// (above 1: Tollgate is faster).
import { createRequire } from 'node:module';
import * as jose from 'jose';

const tollgate = createRequire(import.meta.url)('../pkg/node');
const seconds = Number(process.env.BENCH_SECONDS ?? 1);

async function measure(run, isAsync) {
  // Warm up, then run for `seconds`, in batches so the clock is read rarely.
  const batch = 64;
  for (let i = 0; i < batch * 4; i += 1) await run();
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < end) {
    if (isAsync) {
      for (let i = 0; i < batch; i += 1) await run();
    } else {
      for (let i = 0; i < batch; i += 1) run();
    }
    n += batch;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

const now = Math.floor(Date.now() / 1000);
const claims = { sub: 'alice', iss: 'https://idp.example', aud: 'api', iat: now, exp: now + 600 };
const rules = { issuer: 'https://idp.example', audience: 'api' };

const cases = [];
{
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const jwk = { kty: 'oct', k: Buffer.from(secret).toString('base64url'), alg: 'HS256', kid: 'h1' };
  const token = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'h1' }).sign(secret);
  cases.push({ alg: 'HS256', token, jwk, joseKey: secret });
}
{
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await jose.exportJWK(publicKey)), alg: 'ES256', kid: 'e1' };
  const token = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'e1' }).sign(privateKey);
  cases.push({ alg: 'ES256', token, jwk, joseKey: publicKey });
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`Node ${process.version}, tollgate ${tollgate.version()}, jose (WebCrypto); ${rounds} interleaved rounds of ${seconds}s per line, medians`);
const ratios = [];
for (const c of cases) {
  const verifier = new tollgate.Verifier({ keys: [c.jwk] }, { issuers: [rules.issuer], audiences: [rules.audience] });
  // Both must accept the token before anything is timed.
  verifier.verify(c.token, now);
  await verifier.verifyAsync(c.token, now);
  await jose.jwtVerify(c.token, c.joseKey, { ...rules, algorithms: [c.alg], currentDate: new Date(now * 1000) });

  const contenders = [
    ['tollgate Verifier.verify (sync)', () => verifier.verify(c.token, now), false],
    ['tollgate Verifier.verifyAsync', () => verifier.verifyAsync(c.token, now), true],
    ['jose jwtVerify', () => jose.jwtVerify(c.token, c.joseKey, { ...rules, algorithms: [c.alg] }), true],
  ];
  // Rounds interleave the contenders, so that load from elsewhere on the machine falls on all of
  // them alike; each ratio is taken within a round, and the medians are reported.
  const ops = contenders.map(() => []);
  const perRound = [[], []];
  for (let r = 0; r < rounds; r += 1) {
    const got = [];
    for (const [i, [, run, isAsync]] of contenders.entries()) {
      got[i] = await measure(run, isAsync);
      ops[i].push(got[i]);
    }
    perRound[0].push(got[0] / got[2]);
    perRound[1].push(got[1] / got[2]);
  }
  console.log(c.alg);
  for (const [i, [label]] of contenders.entries()) {
    const m = median(ops[i]);
    console.log(`  ${label.padEnd(36)} ${m.toFixed(0).padStart(9)} ops/s  ${(1e6 / m).toFixed(1).padStart(8)} µs/op`);
  }
  ratios.push([`${c.alg} sync / jose`, median(perRound[0])], [`${c.alg} async / jose`, median(perRound[1])]);
  verifier.free();
}
console.log('Ratio (tollgate ops/s ÷ jose ops/s, median over rounds; above 1 is faster than jose)');
for (const [label, r] of ratios) console.log(`  ${label.padEnd(22)} ${r.toFixed(2)}×`);
