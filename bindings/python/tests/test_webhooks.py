"""Webhooks: every case of the shared standard-webhooks.json (the strict verdicts tests/webhooks.rs
asserts), the v1 signing known answers, the replay guard, round trips and errors."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

import pytest

import tollgate
from conftest import VECTORS

DOC = json.loads((VECTORS / "standard-webhooks.json").read_text())
CASES: List[Dict[str, Any]] = DOC["cases"]
WEBHOOK_ERRORS = range(900, 907)


def test_the_vector_file_is_the_one_reviewed() -> None:
    assert len(CASES) == 48, "the vector file changed: review the new cases"


def headers(case: Dict[str, Any]) -> List[Tuple[str, str]]:
    """The case's delivery headers, leaving out those the case says are absent."""
    return [
        (name, case[field])
        for name, field in (("webhook-id", "msg_id"), ("webhook-timestamp", "timestamp"), ("webhook-signature", "signature_header"))
        if case.get(field) is not None
    ]


def assert_verdict(case: Dict[str, Any], verify: Any) -> None:
    if case["valid"]:
        verify()
    else:
        with pytest.raises(tollgate.TollgateError) as e:
            verify()
        assert e.value.number in WEBHOOK_ERRORS, (e.value.code, case["note"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_standard_webhooks_case(case: Dict[str, Any]) -> None:
    body = case["payload"].encode()
    secrets = [case["secret"]] if case.get("secret") is not None else []
    public_keys = [case["public_key"]] if case.get("public_key") else []
    with tollgate.WebhookVerifier(secrets=secrets, public_keys=public_keys, tolerance=case["tolerance_s"]) as v:
        assert_verdict(case, lambda: v.verify(headers(case), body, now=case["now"]))
    if case.get("public_key_raw_b64"):
        raw = ["whpk_" + case["public_key_raw_b64"]]
        with tollgate.WebhookVerifier(secrets=secrets, public_keys=raw, tolerance=case["tolerance_s"]) as v:
            assert_verdict(case, lambda: v.verify(headers(case), body, now=case["now"]))
    key = None
    if secrets and not public_keys and secrets[0].startswith("whsec_"):
        key = secrets[0]
    elif public_keys and not secrets:
        key = public_keys[0]
    if key is not None and case["tolerance_s"] == 300:
        assert_verdict(case, lambda: tollgate.verify_webhook(key, headers(case), body, now=case["now"]))


SIGNING = [
    c
    for c in CASES
    if c["scheme"] == "v1" and c.get("expected_signature") and c.get("secret") and c.get("msg_id") and str(c.get("timestamp", "")).isdigit()
]


def test_there_are_signing_known_answers() -> None:
    assert len(SIGNING) >= 30


@pytest.mark.parametrize("case", SIGNING, ids=[c["name"] for c in SIGNING])
def test_signing_known_answer(case: Dict[str, Any]) -> None:
    secret = case["secret"] if case["secret"].startswith("whsec_") else "whsec_" + case["secret"]
    got = tollgate.sign_webhook(secret, case["msg_id"], int(case["timestamp"]), case["payload"].encode())
    assert got == case["expected_signature"]


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = b'{"test": 2432232314}'
SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def delivery(msg_id: str, ts: int, sig: str) -> Dict[str, str]:
    return {"Webhook-Id": msg_id, "Webhook-Timestamp": str(ts), "Webhook-Signature": sig}


def test_the_replay_guard_refuses_a_second_delivery() -> None:
    guard = tollgate.ReplayGuard(16)
    v = tollgate.WebhookVerifier([SECRET], replay_guard=guard)
    v.verify(delivery(ID, TS, SIG), BODY, now=TS)
    with pytest.raises(tollgate.TollgateError) as e:
        v.verify(delivery(ID, TS, SIG), BODY, now=TS + 1)
    assert (e.value.code, e.value.number) == ("webhook_replayed", 903)
    # A forged delivery is not recorded: its genuine twin still passes.
    with pytest.raises(tollgate.TollgateError) as e:
        v.verify(delivery("msg_other", TS, "v1," + "A" * 43 + "="), BODY, now=TS)
    assert e.value.code == "webhook_signature_invalid"
    v.verify(delivery("msg_other", TS, tollgate.sign_webhook(SECRET, "msg_other", TS, BODY)), BODY, now=TS)
    # Without a guard the same delivery verifies again.
    tollgate.verify_webhook(SECRET, delivery(ID, TS, SIG), BODY, now=TS)
    # A closed guard fails the verifier rather than skip replay detection.
    guard.close()
    with pytest.raises(tollgate.TollgateError) as e:
        v.verify(delivery("msg_third", TS, SIG), BODY, now=TS)
    assert e.value.code == "null_parameter"
    v.close()


def test_round_trips_for_both_schemes_and_errors() -> None:
    now = 1_767_225_600
    body = b'{"type":"invoice.paid"}'
    secret = tollgate.generate_webhook_secret()
    sk, pk = tollgate.generate_webhook_key_pair()
    assert secret.startswith("whsec_") and sk.startswith("whsk_") and pk.startswith("whpk_")
    with tollgate.WebhookVerifier([secret, pk], tolerance=60) as v:
        for key, scheme in ((secret, "v1"), (sk, "v1a")):
            sig = tollgate.sign_webhook(key, "msg_1", now, body)
            assert sig.split(",")[0] == scheme
            v.verify(delivery("msg_1", now, sig), body, now=now)
            v.verify(list(delivery("msg_1", now, sig).items()), body.decode(), now=now)
            for changed, when, code in (
                (body + b" ", now, "webhook_signature_invalid"),
                (body, now + 61, "webhook_timestamp_out_of_tolerance"),
            ):
                with pytest.raises(tollgate.TollgateError) as e:
                    v.verify(delivery("msg_1", now, sig), changed, now=when)
                assert e.value.code == code
        with pytest.raises(tollgate.TollgateError) as e:
            v.verify({}, body, now=now)
        assert e.value.code == "webhook_malformed"
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.WebhookVerifier([sk])
    assert e.value.code == "invalid_webhook_secret"
    # A configuration that lost its keys is refused when it is read, not by 500s later.
    for no_key in ({}, {"keys": []}, {"secrets": [], "public_keys": []}):
        with pytest.raises(tollgate.TollgateError) as e:
            tollgate.WebhookVerifier(**no_key)
        assert (e.value.code, e.value.message) == ("invalid_options", "invalid webhook configuration: no key (keys, secrets or public_keys)")
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.sign_webhook("whsec_AQEBAQEBAQEBAQEBAQEBAQ==", "msg_1", now, body)
    assert e.value.code == "invalid_webhook_secret"
    with tollgate.WebhookVerifier([secret], max_body_bytes=4) as small:
        with pytest.raises(tollgate.TollgateError) as e:
            small.verify(delivery("msg_1", now, tollgate.sign_webhook(secret, "msg_1", now, body)), body, now=now)
        assert e.value.code == "webhook_body_too_large"
    with pytest.raises(tollgate.TollgateError):
        tollgate.ReplayGuard(0)
