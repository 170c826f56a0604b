"""Engine.reissue in the tenant-path deployment, as tests/engine.rs's re-issue test."""

from __future__ import annotations

import json

import pytest

import tollgate
from conftest import REPO

EXAMPLE = REPO / "examples" / "tenant-path"


def test_a_valid_token_mints_a_new_one() -> None:
    table = json.loads((EXAMPLE / "scenarios.json").read_text())
    now = table["now"]
    alice = table["tokens"]["alice"]
    path = "/api/tenants/A/items"
    with tollgate.Engine((EXAMPLE / "policy.json").read_bytes(), (EXAMPLE / "snapshot.json").read_bytes()) as engine:
        later = now + 500  # alice's token expires at now+540
        token, d = engine.reissue("POST", path, {"token": alice}, now=later)
        assert d.allowed and d.subject == "alice" and token.count(".") == 2
        fresh = engine.check("POST", path, {"token": token}, now=later + 590)
        assert fresh.allowed, fresh.message
        assert (fresh.subject, fresh.tenant, fresh.roles, fresh.expires_at) == ("alice", "A", ("Admin", "Viewer"), later + 600)
        assert engine.check("POST", path, {"token": alice}, now=later + 590).reason == "expired"

        # A refusal is not re-issued; its decision comes with the error.
        with pytest.raises(tollgate.TollgateError) as e:
            engine.reissue("POST", path, {}, now=later)
        assert (e.value.code, e.value.number) == ("signing_failed", 600)
        assert e.value.decision is not None and e.value.decision.reason == "missing_credentials"
    with pytest.raises(tollgate.TollgateError) as e:
        engine.reissue("POST", path, {"token": alice}, now=later)
    assert e.value.code == "null_parameter"
