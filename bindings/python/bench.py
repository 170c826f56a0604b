"""Benchmark (not a test): tollgate.verify against PyJWT's jwt.decode on the same tokens.

    pip install ./bindings/python pyjwt cryptography
    python bindings/python/bench.py [--rounds 15] [--round-seconds 0.1]

For HS256, RS256 (2048-bit) and ES256, one token with iss/aud/exp/iat is verified with issuer and
audience checks, and its claims returned as a dict, by: PyJWT (`jwt.decode`, key object loaded
once), `tollgate.verify` (the function: keys given as JWKS text on every call; it caches the
verifier per keys and options), a `tollgate.Verifier` built once, and one with `cache=True` (the
verified-token cache: the same token again skips its signature check, its claims still checked;
a repeated-token workload). `signature only` is PyJWT's own signature primitive alone
(`cryptography`, i.e. OpenSSL, on the same signing input and signature): PyJWT ÷ that is the most
any library whose signature check costs what OpenSSL's does could gain over PyJWT.

Ratios are paired: each round times every contender back to back for --round-seconds each, the
ratio is taken within the round, and the median of the rounds (and their range) is printed, so a
machine that changes speed between rounds moves both sides of a ratio together.
Targets: tollgate.verify >= 10x PyJWT on HS256 and >= 2x on ES256.
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import statistics
import time
from typing import Callable, Dict, List, Tuple

import cryptography
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, RSAAlgorithm

import tollgate

ISS, AUD = "https://idp.example", "api"
TARGETS = {"HS256": 10.0, "ES256": 2.0}


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn` over about `seconds`."""
    n, batch, start = 0, 16, time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed
        batch = min(batch * 2, 1 << 12)


def paired(contenders: Dict[str, Callable[[], object]], rounds: int, seconds: float) -> Dict[str, List[float]]:
    """Per round, the rate of each contender, measured back to back."""
    for fn in contenders.values():
        fn()  # warm
    rates: Dict[str, List[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            rates[name].append(rate(fn, seconds))
    return rates


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
    parser.add_argument("--rounds", type=int, default=15, help="paired rounds (default 15)")
    parser.add_argument("--round-seconds", type=float, default=0.1, help="time per contender per round (default 0.1)")
    args = parser.parse_args()
    print(f"tollgate {tollgate.__version__} (backends {','.join(tollgate.backends())}), PyJWT {jwt.__version__}, "
          f"cryptography {cryptography.__version__}; {args.rounds} paired rounds of {args.round_seconds} s")
    print("ratios to PyJWT: median of the rounds [lowest-highest]")
    print(f"{'alg':6} {'PyJWT/s':>9} {'verify':>20} {'Verifier':>20} {'cache=True':>20} {'signature only':>20}  target")
    missed = []
    for alg, token, pyjwt_key, jwk in setups():
        jwks = {"keys": [jwk]}
        jwks_text = json.dumps(jwks)  # a JWKS as fetched; a dict works too (serialised per call)
        verifier = tollgate.Verifier(jwks, issuer=ISS, audience=AUD)
        cached = tollgate.Verifier(jwks, issuer=ISS, audience=AUD, cache=True)
        # Same verdict first.
        a = jwt.decode(token, pyjwt_key, algorithms=[alg], audience=AUD, issuer=ISS)
        b = tollgate.verify(token, jwks_text, issuer=ISS, audience=AUD).claims
        assert a == b == verifier.verify(token).claims == cached.verify(token).claims, (a, b)
        rates = paired(
            {
                "pyjwt": lambda: jwt.decode(token, pyjwt_key, algorithms=[alg], audience=AUD, issuer=ISS),
                "verify": lambda: tollgate.verify(token, jwks_text, issuer=ISS, audience=AUD),
                "verifier": lambda: verifier.verify(token),
                "cached": lambda: cached.verify(token),
                "signature": signature_only(alg, token, pyjwt_key),
            },
            args.rounds,
            args.round_seconds,
        )
        cached.close()
        verifier.close()
        ratios = {
            name: sorted(r / p for r, p in zip(rates[name], rates["pyjwt"])) for name in rates if name != "pyjwt"
        }

        def cell(values: List[float]) -> str:
            return f"{statistics.median(values):.1f}x [{values[0]:.1f}-{values[-1]:.1f}]"

        target = TARGETS.get(alg)
        met = target is not None and statistics.median(ratios["verify"]) >= target
        verdict = "" if target is None else (f">= {target:g}x " + ("met" if met else "MISSED"))
        if target is not None and not met:
            missed.append(alg)
        print(
            f"{alg:6} {statistics.median(rates['pyjwt']):9.0f} {cell(ratios['verify']):>20} {cell(ratios['verifier']):>20} "
            f"{cell(ratios['cached']):>20} {cell(ratios['signature']):>20}  {verdict}"
        )
    print("signature only: PyJWT ÷ its own signature check (OpenSSL through cryptography), the most a")
    print("library with a signature check as fast as OpenSSL's could reach")
    if missed:
        print(f"targets missed: {', '.join(missed)} (a measurement, not a test: exit status 0)")
    return 0


def signature_only(alg: str, token: str, key: object) -> Callable[[], object]:
    """PyJWT's signature primitive alone, on the token's signing input and signature."""
    signing_input, _, signature = token.encode().rpartition(b".")
    sig = base64.urlsafe_b64decode(signature + b"=" * (-len(signature) % 4))
    algorithm = jwt.get_algorithm_by_name(alg)
    prepared = algorithm.prepare_key(key)  # type: ignore[arg-type]
    assert algorithm.verify(signing_input, prepared, sig)
    return lambda: algorithm.verify(signing_input, prepared, sig)


if __name__ == "__main__":
    raise SystemExit(main())
