"""A panic inside the engine, under the native Engine.check: a TollgateError `panic`, never a
crash or a PanicException, and the engine keeps working. Needs a library no one ships (ffi/python
built with the test-only feature `fault-injection`, under which a check of the method
TOLLGATE-FAULT-INJECTION panics); scripts/test builds one and runs this file with
TOLLGATE_FAULT_INJECTION=1 and TOLLGATE_LIBRARY pointing at it. Skipped otherwise."""

from __future__ import annotations

import os

import pytest

import tollgate
from conftest import REPO
from test_scenarios import load, request_of

pytestmark = pytest.mark.skipif(
    os.environ.get("TOLLGATE_FAULT_INJECTION") != "1", reason="needs the fault-injection library (scripts/test)"
)


def test_a_panic_in_check_is_a_tollgate_error_and_the_engine_carries_on() -> None:
    base = REPO / "examples" / "tenant-path"
    engine = tollgate.Engine((base / "policy.json").read_text(), (base / "snapshot.json").read_text())
    table = load("tenant-path")
    for _ in range(3):
        with pytest.raises(tollgate.TollgateError) as e:
            engine.check("TOLLGATE-FAULT-INJECTION", "/api/health", now=table["now"])
        assert (e.value.code, e.value.number, e.value.status) == ("panic", 2003, 500)
        assert not isinstance(e.value, tollgate.TokenError)
        # The next check on the same engine decides as always.
        for case in table["cases"][:5]:
            method, path, headers = request_of(case, table["tokens"])
            assert engine.check(method, path, headers, now=table["now"]).status == case["expect"]["status"]
