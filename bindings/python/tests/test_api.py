"""The Python API: errors and their codes, argument shapes, the clock default, handle lifetime."""

from __future__ import annotations

import base64
import gc
import hashlib
import hmac
import json
import time
from typing import Any, Dict, List

import pytest

import tollgate
from conftest import REPO

SECRET = b"0123456789abcdef0123456789abcdef"
HS_JWK = {"kty": "oct", "k": base64.urlsafe_b64encode(SECRET).rstrip(b"=").decode(), "alg": "HS256", "kid": "k1"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(claims: Dict[str, Any], header: Dict[str, Any] | None = None) -> str:
    h = b64(json.dumps(header or {"alg": "HS256", "kid": "k1"}).encode())
    p = b64(json.dumps(claims).encode())
    sig = hmac.new(SECRET, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64(sig)}"


def deployment(name: str) -> tollgate.Engine:
    base = REPO / "examples" / name
    return tollgate.Engine((base / "policy.json").read_text(), (base / "snapshot.json").read_text())


def test_version_and_names() -> None:
    assert tollgate.__version__ == "0.1.0"
    assert tollgate.error_name(400) == "expired"
    assert tollgate.error_name(12345) == "unknown"
    assert tollgate.error_message(400)


def test_verify_returns_header_and_claims() -> None:
    now = int(time.time())
    token = hs256({"sub": "alice", "iss": "https://idp", "aud": "api", "exp": now + 60})
    header, claims = tollgate.verify(token, {"keys": [HS_JWK]}, issuer="https://idp", audience="api")
    assert header == {"alg": "HS256", "kid": "k1"}
    assert claims["sub"] == "alice"
    t = tollgate.verify(token.encode(), HS_JWK, issuer=["x", "https://idp"], audience=["api"], now=now)
    assert t.algorithm == "HS256" and t.key_id == "k1" and json.loads(t.payload) == t.claims


@pytest.mark.parametrize(
    "claims,kwargs,code,number",
    [
        ({"exp": 1000}, {"now": 1000, "leeway": 0}, "expired", 400),
        ({"exp": 1000}, {"now": 1060}, "expired", 400),  # the default leeway is 60 s
        ({"exp": 1000}, {"now": 1005, "leeway": 10}, None, 0),
        ({"exp": 2000, "nbf": 1500}, {"now": 1000}, "not_yet_valid", 401),
        ({"exp": 2000, "iss": "evil"}, {"now": 1000, "issuer": "https://idp"}, "invalid_issuer", 403),
        ({"exp": 2000, "aud": "other"}, {"now": 1000, "audience": "api"}, "invalid_audience", 404),
        ({"sub": "x"}, {"now": 1000}, "missing_claim", 405),
        ({"sub": "x"}, {"now": 1000, "required": []}, None, 0),
    ],
)
def test_claim_errors(claims: Dict[str, Any], kwargs: Dict[str, Any], code: str | None, number: int) -> None:
    token = hs256(claims)
    if code is None:
        assert tollgate.verify(token, HS_JWK, **kwargs).claims == claims
        return
    with pytest.raises(tollgate.TokenError) as e:
        tollgate.verify(token, HS_JWK, **kwargs)
    assert e.value.code == code and e.value.number == number
    assert isinstance(e.value, tollgate.TollgateError)
    assert e.value.status in (401, 403)
    assert code in str(e.value)


def test_token_errors() -> None:
    cases = [
        ("not-a-token", "malformed_token"),
        (hs256({"exp": 2000})[:-2] + "AA", "invalid_signature"),
        (hs256({"exp": 2000}, {"alg": "HS256", "kid": "nope"}), "unknown_kid"),
        (hs256({"exp": 2000}, {"alg": "none"}), "alg_none"),
        ("", "malformed_token"),
    ]
    for token, code in cases:
        with pytest.raises(tollgate.TokenError) as e:
            tollgate.verify(token, HS_JWK, now=1000)
        assert e.value.code == code, token


def test_key_and_option_errors_are_not_token_errors() -> None:
    for keys, kwargs, code in [
        ({"kty": "oct", "k": "AAAA", "alg": "HS256"}, {}, "weak_key"),
        ("{not json", {}, "invalid_key_set"),
        (HS_JWK, {"leeway": 100000}, "invalid_options"),
        # An empty issuer list (a configuration left empty) is refused, not "any issuer".
        (HS_JWK, {"issuer": []}, "invalid_options"),
    ]:
        with pytest.raises(tollgate.TollgateError) as e:
            tollgate.verify(hs256({"exp": 2000}), keys, now=1000, **kwargs)
        assert not isinstance(e.value, tollgate.TokenError)
        assert e.value.code == code
        assert e.value.number == {"weak_key": 501, "invalid_key_set": 505, "invalid_options": 506}[code]


def test_bad_policy_and_snapshot() -> None:
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.Engine('{"routes": 7}')
    assert e.value.code == "invalid_policy" and e.value.number == 800 and e.value.message
    with pytest.raises(tollgate.TollgateError):
        tollgate.Engine(b"\xff\xfe")
    engine = deployment("tenant-path")
    with pytest.raises(tollgate.TollgateError) as e:
        engine.swap_keys('{"providers": {"no-such-provider": {}}}')
    assert not isinstance(e.value, tollgate.TokenError)
    # The engine keeps its keys after a failed swap.
    table = json.loads((REPO / "examples/tenant-path/scenarios.json").read_text())
    d = engine.check("GET", "/api/tenants/A/items", {"token": table["tokens"]["alice"]}, now=table["now"])
    assert d.status == 200 and d.subject == "alice"
    engine.close()


def test_argument_shapes() -> None:
    base = REPO / "examples" / "tenant-path"
    policy = json.loads((base / "policy.json").read_text())
    engine = tollgate.Engine(policy, json.loads((base / "snapshot.json").read_text()))
    table = json.loads((base / "scenarios.json").read_text())
    token = table["tokens"]["alice"]
    for headers in ({"token": token}, [("token", token)], [(b"token", token.encode())]):
        d = engine.check(b"POST", b"/api/tenants/A/items", headers, now=table["now"])
        assert d.status == 200 and d.has_permission("items:write")
    # A header that is not UTF-8 is an unusable request: a 400 decision, not an exception.
    d = engine.check("GET", "/api/tenants/A/items", [(b"token", b"\xff")], now=table["now"])
    assert (d.status, d.reason) == (400, "invalid_request")
    # Without now, the clock: the table's tokens have long expired.
    d = engine.check("GET", "/api/tenants/A/items", {"token": token})
    assert d.reason == "expired" and d.code == 400 and d.www_authenticate
    with pytest.raises(TypeError):
        engine.check("GET", "/", {"token": 5})
    with pytest.raises(ValueError):
        engine.check("GET", "/", now=-1)
    with pytest.raises(TypeError):
        tollgate.Engine(42)  # type: ignore[arg-type]


def test_close_and_context_manager() -> None:
    with deployment("tenant-path") as engine:
        assert engine.check("GET", "/api/health").status == 200
    assert engine.closed
    with pytest.raises(tollgate.TollgateError) as e:
        engine.check("GET", "/api/health")
    assert e.value.code == "null_parameter"
    engine.close()  # twice is fine
    v = tollgate.Verifier(HS_JWK)
    v.close()
    with pytest.raises(tollgate.TollgateError):
        v.verify(hs256({"exp": 2000}), now=1000)


def test_handles_freed_once_on_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    freed: List[int] = []
    original = tollgate.Engine._free

    def record(handle: int) -> None:
        freed.append(handle)
        original(handle)

    monkeypatch.setattr(tollgate.Engine, "_free", staticmethod(record))
    engine = deployment("tenant-path")
    handle = engine._handle
    del engine
    gc.collect()
    assert freed == [handle]
    engine = deployment("tenant-path")
    engine.close()
    del engine
    gc.collect()
    assert len(freed) == 2
