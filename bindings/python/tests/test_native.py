"""The native paths (ffi/python) of Verifier.verify and Engine.check: the claims they build as
Python objects are exactly what json.loads makes of the verified JSON, for generated claim sets in
many spellings; every decision of the four deployments' tables is field for field the one the C
ABI's getters read; the argument types they take; the clock they read when `now` is None; one
library loaded both ways."""

from __future__ import annotations

import base64
import ctypes
import hashlib
import hmac
import json
import dataclasses
import math
import random
import sys
import threading
import time
from typing import Any, List

import pytest

import tollgate
from conftest import DEPLOYMENTS, REPO
from tollgate import _ffi
from test_scenarios import load, request_of

SECRET = b"0123456789abcdef0123456789abcdef"
JWK = {"kty": "oct", "k": base64.urlsafe_b64encode(SECRET).rstrip(b"=").decode(), "alg": "HS256", "kid": "k1"}
HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"k1"}').rstrip(b"=")
EXP = 4_000_000_000  # every generated token expires long after NOW
NOW = 1_700_000_000


def sign(payload: bytes) -> bytes:
    p = base64.urlsafe_b64encode(payload).rstrip(b"=")
    sig = hmac.new(SECRET, HEADER + b"." + p, hashlib.sha256).digest()
    return HEADER + b"." + p + b"." + base64.urlsafe_b64encode(sig).rstrip(b"=")


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


# A generator of JSON text in many spellings: escapes of every kind (including surrogate pairs),
# raw UTF-8, numbers in every form json.loads reads (ints beyond 64 bits, exponents, -0, -0.0,
# overflow to infinity), whitespace between tokens, nesting.

CHARS = "aZ09 _-./:é€😀\"\\\n\t\x01\x1f\u2028"


def string(rng: random.Random) -> str:
    out = ['"']
    for _ in range(rng.randrange(0, 12)):
        c = rng.choice(CHARS)
        form = rng.randrange(4)
        if c in '"\\' or ord(c) < 0x20:
            form = max(form, 1)
        if form == 0:
            out.append(c)
        elif form == 1 and c in '"\\\n\t':
            out.append({'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}[c])
        elif ord(c) > 0xFFFF:
            hi, lo = divmod(ord(c) - 0x10000, 0x400)
            out.append(f"\\u{0xD800 + hi:04x}\\u{0xDC00 + lo:04X}")
        else:
            out.append(f"\\u{ord(c):04x}" if rng.random() < 0.5 else f"\\u{ord(c):04X}")
    if rng.random() < 0.2:
        out.append("\\/")
    out.append('"')
    return "".join(out)


NUMBERS = ["0", "-0", "-0.0", "0.5", "1e3", "1E+3", "2.5e-3", "-17", "1e307", "-1e-400", "9007199254740993",
           str(2**63 - 1), str(2**63), str(-(2**63)), str(-(2**63) - 1), str(2**70), "123456789.123456789e-5"]


def value(rng: random.Random, depth: int) -> str:
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return string(rng)
    if kind == 1:
        return rng.choice(NUMBERS) if rng.random() < 0.5 else str(rng.randrange(-(10**6), 10**6))
    if kind == 2:
        return rng.choice(["true", "false", "null"])
    if kind in (3, 4):
        return repr(rng.uniform(-1e6, 1e6)) if rng.random() < 0.5 else str(rng.randrange(10**20))
    if kind == 5:
        return "[" + ",".join(ws(rng) + value(rng, depth + 1) + ws(rng) for _ in range(rng.randrange(4))) + "]"
    return obj(rng, depth + 1, [])


def ws(rng: random.Random) -> str:
    return rng.choice(["", "", " ", "\n\t", "\r\n  "])


def obj(rng: random.Random, depth: int, fixed: List[str]) -> str:
    members = list(fixed)
    names = set()
    for i in range(rng.randrange(0, 6)):
        name = string(rng)
        if json.loads(name) in names or json.loads(name) in ("exp", "nbf", "iat", "iss", "aud", "sub", "jti"):
            continue
        names.add(json.loads(name))
        members.append(f"{name}{ws(rng)}:{ws(rng)}{value(rng, depth)}")
    rng.shuffle(members)
    return "{" + ws(rng) + ",".join(members) + ws(rng) + "}"


def generated(count: int, seed: int) -> List[bytes]:
    rng = random.Random(seed)
    return [obj(rng, 0, [f'"exp":{EXP}', '"sub":' + string(rng)]).encode() for _ in range(count)]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_claims_are_what_json_loads_reads(seed: int) -> None:
    verifier = tollgate.Verifier(JWK)
    for payload in generated(200, seed):
        expected = json.loads(payload)
        t = verifier.verify(sign(payload), now=NOW)
        assert same(t.claims, expected), payload
        assert t.payload == payload and t.key_id == "k1" and t.algorithm == "HS256"
        assert t.header == {"alg": "HS256", "kid": "k1"}


def test_numbers_exactly() -> None:
    payload = b'{"exp":4000000000,"n":[0,-0,-0.0,1e307,-1e-400,18446744073709551616,-9223372036854775809,0.1,1E2]}'
    n = tollgate.Verifier(JWK).verify(sign(payload), now=NOW).claims["n"]
    assert same(n, json.loads(payload)["n"])
    assert same(n, [0, 0, -0.0, 1e307, -0.0, 2**64, -(2**63) - 1, 0.1, 100.0])


def test_a_number_no_double_holds_is_refused_though_json_loads_reads_infinity() -> None:
    # serde_json (the C ABI's decision JSON, re-issued tokens) refuses 1e400; one token must not
    # read as claims in one host and as none in another.
    payload = b'{"exp":4000000000,"n":1e400}'
    assert json.loads(payload)["n"] == math.inf
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.Verifier(JWK).verify(sign(payload), now=NOW)
    assert e.value.code == "invalid_json"


def test_an_int_too_long_for_python_fails_as_json_loads_does() -> None:
    # Refused before Python sees it: past f64's range, it is no number serde_json reads either.
    payload = b'{"exp":4000000000,"n":' + b"7" * 5000 + b"}"
    with pytest.raises(ValueError):
        json.loads(payload)
    with pytest.raises(tollgate.TokenError) as e:
        tollgate.Verifier(JWK).verify(sign(payload), now=NOW)
    assert e.value.code == "invalid_json"


def test_token_types() -> None:
    verifier = tollgate.Verifier(JWK)
    token = sign(b'{"exp":4000000000,"sub":"alice"}')
    for t in (token, token.decode(), bytearray(token), memoryview(token)):
        assert verifier.verify(t, now=NOW).claims == {"exp": EXP, "sub": "alice"}
    with pytest.raises(TypeError):
        verifier.verify(42, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):
        verifier.verify("\udc80." + token.decode(), now=NOW)
    with pytest.raises(tollgate.TokenError) as e:
        verifier.verify(token.decode() + "é", now=NOW)
    assert e.value.code == "invalid_base64"


def test_failures_are_token_errors_with_the_library_message() -> None:
    verifier = tollgate.Verifier(JWK, leeway=0)
    with pytest.raises(tollgate.TokenError) as e:
        verifier.verify(sign(b'{"exp":1000}'), now=2000)
    assert (e.value.code, e.value.number, e.value.status) == ("expired", 400, 401)
    assert "1000" in e.value.message  # the core's own message, not the generic summary


def test_now_defaults_to_the_clock() -> None:
    verifier = tollgate.Verifier(JWK, leeway=0)
    clock = int(time.time())
    assert verifier.verify(sign(b'{"exp":%d}' % (clock + 120))).claims["exp"] == clock + 120
    with pytest.raises(tollgate.TokenError) as e:
        verifier.verify(sign(b'{"exp":%d}' % (clock - 120)))
    assert e.value.code == "expired"
    with pytest.raises(tollgate.TokenError) as e:
        verifier.verify(sign(b'{"exp":%d,"nbf":%d}' % (clock + 7200, clock + 3600)))
    assert e.value.code == "not_yet_valid"
    assert verifier.verify(sign(b'{"exp":%d,"nbf":%d}' % (clock + 7200, clock + 3600)), now=clock + 3600)


def test_one_library_loaded_both_ways() -> None:
    native = sys.modules["tollgate._native"]
    assert native is _ffi.native
    assert _ffi.lib._name == _ffi.path and native.__file__ == _ffi.path
    with pytest.raises(ValueError):
        native.Verifier(0)


def test_close_while_other_threads_verify() -> None:
    token = sign(b'{"exp":4000000000,"sub":"alice"}')
    verifier = tollgate.Verifier(JWK)
    results: List[List[str]] = [[] for _ in range(4)]

    def work(out: List[str]) -> None:
        for _ in range(1_000_000):
            try:
                out.append(verifier.verify(token, now=NOW).claims["sub"])
            except tollgate.TollgateError as e:
                out.append(e.code)
                return

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for t in threads:
        t.start()
    while sum(map(len, results)) < 2000:
        time.sleep(0.001)
    verifier.close()
    for t in threads:
        t.join()
    # Every call before the close verified; every thread then saw the closed verifier.
    for out in results:
        assert out[-1] == "null_parameter" and set(out[:-1]) <= {"alice"}


def through_the_c_abi(engine: tollgate.Engine, method: Any, path: Any, headers: Any, now: int) -> tollgate.Decision:
    """The decision as tg_engine_check makes it and the tg_decision_* getters read it."""
    m, p = tollgate._bytes(method, "method"), tollgate._bytes(path, "path")
    array, count, keep = tollgate._header_array(headers)
    out = ctypes.c_void_p()
    assert _ffi.tg_engine_check(engine._handle, m, len(m), p, len(p), array, count, now, ctypes.byref(out)) == 0
    del keep
    try:
        return tollgate.Decision._read(out.value)  # type: ignore[arg-type]
    finally:
        _ffi.tg_decision_free(out.value)


@pytest.mark.parametrize("deployment", DEPLOYMENTS)
def test_every_table_decision_is_the_c_abis(deployment: str) -> None:
    base = REPO / "examples" / deployment
    engine = tollgate.Engine((base / "policy.json").read_text(), (base / "snapshot.json").read_text())
    table = load(deployment)
    allowed = 0
    for case in table["cases"]:
        method, path, headers = request_of(case, table["tokens"])
        for now in (table["now"], table["now"] + 10**7):  # and once with everything expired
            native = engine.check(method, path, headers, now=now)
            reference = through_the_c_abi(engine, method, path, headers, now)
            for field in dataclasses.fields(tollgate.Decision):
                a, b = getattr(native, field.name), getattr(reference, field.name)
                assert same(a, b) if field.name == "claims" else (type(a) is type(b) and a == b), (case["name"], field.name, a, b)
            allowed += native.status == 200
    assert allowed > 0


def test_engine_check_argument_shapes() -> None:
    base = REPO / "examples" / "tenant-path"
    engine = tollgate.Engine((base / "policy.json").read_text(), (base / "snapshot.json").read_text())
    table = load("tenant-path")
    token = table["tokens"]["alice"]
    now = table["now"]
    expected = engine.check("POST", "/api/tenants/A/items", {"token": token}, now=now)
    assert expected.status == 200 and expected.roles == ("Admin", "Viewer")
    shapes = [
        ("POST", "/api/tenants/A/items", [("token", token)]),
        (b"POST", b"/api/tenants/A/items", ((b"token", token.encode()),)),
        ("POST", "/api/tenants/A/items", [["token", token]]),  # pairs as lists
        ("POST", bytearray(b"/api/tenants/A/items"), iter([("token", memoryview(token.encode()))])),
        ("POST", "/api/tenants/A/items", (pair for pair in [("token", token)])),
    ]
    for method, path, headers in shapes:
        assert engine.check(method, path, headers, now=now) == expected, (method, path, headers)
    for bad, error in (([("token",)], ValueError), ([("token", 5)], TypeError), (7, TypeError)):
        with pytest.raises(error):
            engine.check("GET", "/api/health", bad, now=now)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        engine.check(5, "/api/health", now=now)  # type: ignore[arg-type]
    # Bytes that are not UTF-8: a 400 decision, as tg_engine_check gives.
    for method, path, headers in [(b"\xff", "/", []), ("GET", b"/\xff", []), ("GET", "/", [(b"token", b"\xff")])]:
        d = engine.check(method, path, headers, now=now)
        assert (d.status, d.reason) == (400, "invalid_request")
        assert d == through_the_c_abi(engine, method, path, headers, now)
    # Several faults at once: the method is named first, then the path, then a header (as in C).
    for method, path, headers, message in [
        (b"G\x80T", b"/\xff", [(b"token", b"\xff")], "the method is not valid UTF-8"),
        ("GET", b"/\xff", [(b"token", b"\xff")], "the path is not valid UTF-8"),
        ("GET", "/", [(b"token", b"\xff")], "a header name or value is not valid UTF-8"),
    ]:
        d = engine.check(method, path, headers, now=now)
        assert (d.status, d.message) == (400, message)
        assert d == through_the_c_abi(engine, method, path, headers, now)
    # now=None is the clock: alice's token (issued for the table's `now`) is long expired by it.
    assert engine.check("POST", "/api/tenants/A/items", {"token": token}).reason == "expired"


def test_a_swap_through_the_handle_reaches_the_native_engine() -> None:
    base = REPO / "examples" / "tenant-path"
    engine = tollgate.Engine((base / "policy.json").read_text())
    table = load("tenant-path")
    request = ("POST", "/api/tenants/A/items", {"token": table["tokens"]["alice"]})
    assert engine.check(*request, now=table["now"]).status == 401  # no keys yet
    engine.swap_keys((base / "snapshot.json").read_text())
    assert engine.check(*request, now=table["now"]).status == 200
