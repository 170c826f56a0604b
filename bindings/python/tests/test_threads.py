"""One engine and one verifier shared by many threads (ctypes releases the GIL during each call),
with key snapshots swapped in meanwhile, and closing while other threads still check."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import tollgate
from conftest import DEPLOYMENTS, REPO
from test_scenarios import differences, request_of

THREADS = 8
ROUNDS = 20


def test_shared_engine_with_swaps() -> None:
    for name in DEPLOYMENTS:
        base = REPO / "examples" / name
        snapshot = (base / "snapshot.json").read_text()
        table: Dict[str, Any] = json.loads((base / "scenarios.json").read_text())
        engine = tollgate.Engine((base / "policy.json").read_text(), snapshot)
        stop = threading.Event()
        swaps = [0]

        def swapper() -> None:
            while not stop.is_set():
                engine.swap_keys(snapshot)
                swaps[0] += 1

        def worker(_: int) -> List[str]:
            failures = []
            for _round in range(ROUNDS):
                for case in table["cases"]:
                    method, path, headers = request_of(case, table["tokens"])
                    d = engine.check(method, path, headers, now=table["now"])
                    why = differences(d, case["expect"])
                    if why:
                        failures.append(f"{case['name']}: {why}")
            return failures

        t = threading.Thread(target=swapper)
        t.start()
        try:
            with ThreadPoolExecutor(THREADS) as pool:
                failures = [f for fs in pool.map(worker, range(THREADS)) for f in fs]
        finally:
            stop.set()
            t.join()
        assert not failures, failures[:5]
        assert swaps[0] > 0
        engine.close()


def test_shared_verifier() -> None:
    vectors = json.loads((REPO.parent / "shared/vectors/jws-derived-cases.json").read_text())["cases"]
    case = next(c for c in vectors if c["name"] == "baseline-A.1-valid")
    v = tollgate.Verifier({"keys": [k["jwk"] for k in case["trusted_keys"]]}, leeway=0)

    def worker(_: int) -> int:
        ok = 0
        for _ in range(500):
            ok += v.verify(case["token"], now=case["now"]).claims["iss"] == "joe"
            try:
                v.verify(case["token"], now=case["now"] + 10_000)
            except tollgate.TokenError as e:
                ok += e.code == "expired"
        return ok

    with ThreadPoolExecutor(THREADS) as pool:
        assert sum(pool.map(worker, range(THREADS))) == THREADS * 1000
    v.close()


def test_close_while_checking() -> None:
    base = REPO / "examples" / "tenant-path"
    engine = tollgate.Engine((base / "policy.json").read_text(), (base / "snapshot.json").read_text())
    started = threading.Barrier(THREADS + 1)

    def worker(_: int) -> str:
        started.wait()
        try:
            while True:
                assert engine.check("GET", "/api/health").status == 200
        except tollgate.TollgateError as e:
            return e.code

    with ThreadPoolExecutor(THREADS) as pool:
        results = pool.map(worker, range(THREADS))
        started.wait()
        engine.close()
        assert set(results) == {"null_parameter"}
    assert engine._handle is None
