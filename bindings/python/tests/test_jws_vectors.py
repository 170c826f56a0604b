"""The shared JWS vectors with the verdicts of tests/c/jws_vectors.c (and tests/jws_vectors.rs):

- rfc-jws.json (signature only): the key is jwk.public, else jwk.private, bound to the case's
  alg when Tollgate supports it (alg none gets a dummy HS256 key). Supported and "valid":
  verifies, with the signed payload and the alg; supported otherwise: invalid_signature; alg none:
  alg_none; other unsupported algorithms: unsupported_algorithm.
- jws-derived-cases.json (full JWT verification at the case's now): a JWKS of trusted_keys[].jwk,
  the policy's leeway (0 by default) and audience, no required claims when require_exp is false.
  A key set the library refuses counts as a rejection. Each case must end with the code
  tests/jws-derived-codes.json gives it (the table every harness shares), not only the verdict.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import pytest

import tollgate
from conftest import REPO, VECTORS

DUMMY_HS256_KEY = {"kty": "oct", "k": "A" * 43, "alg": "HS256"}

RFC: List[Dict[str, Any]] = json.loads((VECTORS / "rfc-jws.json").read_text())
DERIVED: List[Dict[str, Any]] = json.loads((VECTORS / "jws-derived-cases.json").read_text())["cases"]
DERIVED_CODES: Dict[str, str] = json.loads((REPO / "tests" / "jws-derived-codes.json").read_text())["codes"]


def rfc_verdict(c: Dict[str, Any]) -> str:
    supported = c["alg_supported_by_tollgate"]
    jwk = c["jwk"]
    keys = DUMMY_HS256_KEY if jwk is None else (jwk["public"] if jwk["public"] is not None else jwk["private"])
    alg: Optional[str] = c["alg"] if supported else None
    try:
        v = tollgate.Verifier(keys, alg=alg)
    except tollgate.TollgateError as e:
        if supported:
            return e.code
        # A key the library cannot hold (P-521): the header check refuses the token before any
        # key is used, so an empty key set gives the same verdict.
        v = tollgate.Verifier({"keys": []})
    with v:
        try:
            t = v.verify_jws(c["token"])
        except tollgate.TokenError as e:
            return e.code
    if c.get("payload") is not None and t.payload != c["payload"].encode():
        return "internal_error"
    if c.get("header") is not None and t.header != json.loads(c["header"]):
        return "internal_error"
    if t.algorithm != c["alg"] or t.claims is not None:
        return "internal_error"
    return "ok"


@pytest.mark.parametrize("case", RFC, ids=[c["name"] for c in RFC])
def test_rfc_example(case: Dict[str, Any]) -> None:
    if case["alg_supported_by_tollgate"]:
        want = "ok" if case["expected"] == "valid" else "invalid_signature"
    else:
        want = "alg_none" if case["alg"] == "none" else "unsupported_algorithm"
    assert rfc_verdict(case) == want


def derived_verdict(c: Dict[str, Any]) -> str:
    jwks = {"keys": [k["jwk"] for k in c["trusted_keys"]]}
    policy = c.get("policy") or {}
    audience = policy.get("expected_audience")
    required = [] if policy.get("require_exp") is False else None
    try:
        v = tollgate.Verifier(jwks, leeway=policy.get("leeway_s", 0), audience=audience, required=required)
    except tollgate.TollgateError as e:
        return e.code
    with v:
        try:
            v.verify(c["token"], now=c["now"])
        except tollgate.TokenError as e:
            assert e.message and e.code != "ok"
            return e.code
    return "ok"


@pytest.mark.parametrize("case", DERIVED, ids=[c["name"] for c in DERIVED])
def test_derived_case(case: Dict[str, Any]) -> None:
    want = DERIVED_CODES[case["name"]]
    assert (want == "ok") == (case["expected"] == "valid")
    assert derived_verdict(case) == want


def test_vector_counts() -> None:
    assert len(RFC) >= 11 and len(DERIVED) >= 54
