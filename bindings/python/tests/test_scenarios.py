"""Replays the four example deployments' scenario tables (examples/<deployment>/scenarios.json)
through tollgate.Engine, with the comparison of tests/c/scenario.h and core/src/scenario.rs:
status and reason always; subject, kind, tenant, roles, challenge, forwarded headers, correlation
id and refresh hint where the table names them."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Tuple

import pytest

import tollgate
from conftest import DEPLOYMENTS, REPO


def load(deployment: str) -> Dict[str, Any]:
    return json.loads((REPO / "examples" / deployment / "scenarios.json").read_text())


def substitute(value: str, tokens: Dict[str, str]) -> str:
    return re.sub(
        r"\{\{(.*?)\}\}", lambda m: tokens.get(m.group(1), m.group(0)) if isinstance(tokens.get(m.group(1)), str) else m.group(0), value
    )


def request_of(case: Dict[str, Any], tokens: Dict[str, str]) -> Tuple[str, str, List[Tuple[str, str]]]:
    r = case["request"]
    return r["method"], r["path"], [(n, substitute(v, tokens)) for n, v in r["headers"]]


def differences(d: tollgate.Decision, expect: Dict[str, Any]) -> List[str]:
    why = []
    if d.status != expect["status"]:
        why.append(f"status: expected {expect['status']}, got {d.status}")
    if "reason" in expect and d.reason != expect["reason"]:
        why.append(f"reason: expected {expect['reason']}, got {d.reason}")
    if tollgate.error_name(d.code) != d.reason:
        why.append(f"reason number {d.code} names {tollgate.error_name(d.code)}, not {d.reason}")
    for name in ("subject", "kind", "tenant", "www_authenticate", "correlation_id", "refresh_kid"):
        if name in expect and getattr(d, name) != expect[name]:
            why.append(f"{name}: expected {expect[name]!r}, got {getattr(d, name)!r}")
    if "roles" in expect and list(d.roles) != expect["roles"]:
        why.append(f"roles: expected {expect['roles']}, got {list(d.roles)}")
    if "forward_headers" in expect and d.forward_headers != expect["forward_headers"]:
        why.append(f"forward_headers: expected {expect['forward_headers']}, got {d.forward_headers}")
    return why


CASES = [
    pytest.param(deployment, i, id=f"{deployment}/{case['name']}")
    for deployment in DEPLOYMENTS
    for i, case in enumerate(load(deployment)["cases"])
]

_engines: Dict[str, tollgate.Engine] = {}


def engine_for(deployment: str) -> tollgate.Engine:
    if deployment not in _engines:
        base = REPO / "examples" / deployment
        # Both ways in: the snapshot at construction (text), or swap_keys afterwards (bytes).
        if DEPLOYMENTS.index(deployment) % 2 == 0:
            e = tollgate.Engine((base / "policy.json").read_text(), (base / "snapshot.json").read_text())
        else:
            e = tollgate.Engine((base / "policy.json").read_bytes())
            e.swap_keys((base / "snapshot.json").read_bytes())
        _engines[deployment] = e
    return _engines[deployment]


@pytest.mark.parametrize("deployment,index", CASES)
def test_case(deployment: str, index: int) -> None:
    table = load(deployment)
    case = table["cases"][index]
    method, path, headers = request_of(case, table["tokens"])
    d = engine_for(deployment).check(method, path, headers, now=table["now"])
    assert not differences(d, case["expect"]), "; ".join(differences(d, case["expect"]))
    assert d.allowed == (d.status == 200)
    if d.subject is not None:
        assert isinstance(d.claims, dict) and d.kind is not None and d.provider is not None


def test_every_table_is_replayed() -> None:
    counts = {d: len(load(d)["cases"]) for d in DEPLOYMENTS}
    assert all(n > 0 for n in counts.values()), counts
    assert len(CASES) == sum(counts.values())
