"""Benchmark (not a test): tollgate.verify against PyJWT's jwt.decode on the same tokens.

    pip install ./bindings/python pyjwt cryptography
    python bindings/python/bench.py [--seconds 1.0]

For HS256, RS256 (2048-bit) and ES256, one token with iss/aud/exp/iat is verified with issuer and
audience checks by: PyJWT (`jwt.decode`, key object loaded once), `tollgate.verify` (the
function: keys given as a JWKS dict on every call; it caches the verifier per keys and options),
a `tollgate.Verifier` built once, and one with `cache=True` (the verified-token cache: the
same token again skips its signature check, its claims still checked; a repeated-token workload). Prints verifications per second and the ratios to PyJWT.
Targets: tollgate.verify >= 10x PyJWT on HS256 and >= 2x on ES256.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from typing import Callable, Dict, List, Tuple

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, RSAAlgorithm

import tollgate

ISS, AUD = "https://idp.example", "api"
TARGETS = {"HS256": 10.0, "ES256": 2.0}


def rate(fn: Callable[[], object], seconds: float) -> float:
    fn()
    n, batch, start = 0, 64, time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed
        batch = min(batch * 2, 1 << 14)


def setups() -> List[Tuple[str, str, object, Dict[str, object]]]:
    out = []
    claims = {"sub": "alice", "iss": ISS, "aud": AUD, "iat": int(time.time()), "exp": int(time.time()) + 3600}
    secret = secrets.token_bytes(32)
    jwk = json.loads(HMACAlgorithm.to_jwk(secret))
    out.append(("HS256", jwt.encode(claims, secret, "HS256", headers={"kid": "h"}), secret, {**jwk, "alg": "HS256", "kid": "h"}))
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
    out.append(("RS256", jwt.encode(claims, rsa_key, "RS256", headers={"kid": "r"}), rsa_key.public_key(), {**jwk, "alg": "RS256", "kid": "r"}))
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(ECAlgorithm.to_jwk(ec_key.public_key()))
    out.append(("ES256", jwt.encode(claims, ec_key, "ES256", headers={"kid": "e"}), ec_key.public_key(), {**jwk, "alg": "ES256", "kid": "e"}))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement (default 1)")
    args = parser.parse_args()
    print(f"tollgate {tollgate.__version__}, PyJWT {jwt.__version__}; {args.seconds} s per measurement")
    print(f"{'alg':6} {'PyJWT/s':>10} {'verify/s':>10} {'Verifier/s':>11} {'verify÷PyJWT':>13} {'Verifier÷PyJWT':>15} {'cache=True÷PyJWT':>17}  target")
    missed = []
    for alg, token, pyjwt_key, jwk in setups():
        jwks = {"keys": [jwk]}
        jwks_text = json.dumps(jwks)  # a JWKS as fetched; a dict works too (serialised per call)
        verifier = tollgate.Verifier(jwks, issuer=ISS, audience=AUD)
        # Same verdict first.
        a = jwt.decode(token, pyjwt_key, algorithms=[alg], audience=AUD, issuer=ISS)
        b = tollgate.verify(token, jwks, issuer=ISS, audience=AUD).claims
        assert a == b == verifier.verify(token).claims, (a, b)
        p = rate(lambda: jwt.decode(token, pyjwt_key, algorithms=[alg], audience=AUD, issuer=ISS), args.seconds)
        f = rate(lambda: tollgate.verify(token, jwks_text, issuer=ISS, audience=AUD), args.seconds)
        v = rate(lambda: verifier.verify(token), args.seconds)
        cached = tollgate.Verifier(jwks, issuer=ISS, audience=AUD, cache=True)
        c = rate(lambda: cached.verify(token), args.seconds)
        cached.close()
        target = TARGETS.get(alg)
        verdict = "" if target is None else (f">= {target:g}x " + ("met" if f / p >= target else "MISSED"))
        if target is not None and f / p < target:
            missed.append(alg)
        print(f"{alg:6} {p:10.0f} {f:10.0f} {v:11.0f} {f / p:12.1f}x {v / p:14.1f}x {c / p:16.1f}x  {verdict}")
        verifier.close()
    if missed:
        print(f"targets missed: {', '.join(missed)} (a measurement, not a test: exit status 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
