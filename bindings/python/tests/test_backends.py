"""Signature backends: `tollgate.backends()` lists what the loaded library has (TOLLGATE_EXPECT_BACKENDS,
when set, says what that must be: scripts/test loads an aws-lc build too), and every listed backend
verifies the RFC examples this package supports with their known payloads and refuses them
tampered; a backend the library lacks, or none at all, is `invalid_options`."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List

import pytest

import tollgate
from conftest import VECTORS

RFC: List[Dict[str, Any]] = [
    c
    for c in json.loads((VECTORS / "rfc-jws.json").read_text())
    if c["alg_supported_by_tollgate"] and c["expected"] == "valid"
]


def test_backends_are_listed_preferred_first() -> None:
    listed = tollgate.backends()
    assert ",".join(listed) in ("ring", "aws-lc,ring")
    expected = os.environ.get("TOLLGATE_EXPECT_BACKENDS")
    if expected:
        assert ",".join(listed) == expected


@pytest.mark.parametrize("backend", tollgate.backends())
@pytest.mark.parametrize("case", RFC, ids=[c["name"] for c in RFC])
def test_every_backend_verifies_the_rfc_examples(backend: str, case: Dict[str, Any]) -> None:
    jwk = case["jwk"]
    keys = jwk["public"] if jwk["public"] is not None else jwk["private"]
    v = tollgate.Verifier(keys, alg=case["alg"], backend=backend)
    token = case["token"]
    assert v.verify_jws(token).payload == case["payload"].encode()
    # One character of the signature changed ('A' <-> 'B' keeps it canonical base64url).
    i = len(token) - 5
    tampered = token[:i] + ("B" if token[i] == "A" else "A") + token[i + 1 :]
    with pytest.raises(tollgate.TokenError) as e:
        v.verify_jws(tampered)
    assert e.value.code == "invalid_signature"


@pytest.mark.parametrize("name", ["aws-lc", "openssl"])
def test_a_backend_the_library_lacks_is_an_options_error(name: str) -> None:
    if name in tollgate.backends():
        pytest.skip(f"this library has {name}")
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.Verifier({"kty": "oct", "k": "A" * 43, "alg": "HS256"}, backend=name)
    assert e.value.code == "invalid_options"
    assert name in str(e.value)
