"""API keys: the known answers tests/apikeys.rs pins (checked again with hashlib and hmac), a
generate → check round trip, every single-character change caught."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

import tollgate

KNOWN = "fln_live_0123456789abcdefghijABCDEFGHIJ4C9YBz"
SHA256 = "sha256:TprC_RyjdnqddB9d5lsKcvVEQG9hsgyzek7UT-pr1so"
PEPPER = b"pepper-pepper-16"
HMAC_SHA256 = "hmac-sha256:zyb-Al2CgV2wiB__aXS2I2TnY9RaiqudN4l70W8gAFU"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_known_hashes() -> None:
    assert tollgate.hash_api_key(KNOWN) == SHA256 == "sha256:" + b64(hashlib.sha256(KNOWN.encode()).digest())
    expected = "hmac-sha256:" + b64(hmac.new(PEPPER, KNOWN.encode(), hashlib.sha256).digest())
    assert tollgate.hash_api_key(KNOWN, PEPPER) == HMAC_SHA256 == expected
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.hash_api_key(KNOWN, b"short")
    assert e.value.code == "invalid_options"


def test_known_key_and_malformed_ones() -> None:
    tollgate.check_api_key(KNOWN, ["fln_live", "fln"])
    tollgate.check_api_key(KNOWN, "fln_live")
    tollgate.check_api_key(KNOWN)  # its own prefix
    # An allow-list that lists nothing accepts nothing, never everything.
    for nothing in ([], "", [""], " ", ["fln_live", ""], ["fln_live fln"], ()):
        with pytest.raises(ValueError):
            tollgate.check_api_key(KNOWN, nothing)
    for bad in (
        "",
        KNOWN[:-1] + "Z",  # checksum case changed
        KNOWN[:-1],  # truncated
        KNOWN.replace("J4C9", "4C9"),  # a character dropped
        KNOWN + " ",
    ):
        with pytest.raises(tollgate.TokenError) as e:
            tollgate.check_api_key(bad, "fln_live")
        assert (e.value.code, e.value.number) == ("malformed_api_key", 450), bad
    with pytest.raises(tollgate.TokenError):
        tollgate.check_api_key(KNOWN, "pat")


def test_generate_then_check_and_every_change_is_caught() -> None:
    g = tollgate.generate_api_key("fln_live", "sa_billing", PEPPER, now=1_767_225_600)
    assert g.key.startswith("fln_live_") and len(g.key) == len("fln_live_") + 38
    tollgate.check_api_key(g.key, "fln_live")
    assert g.hash == g.record["hash"] == tollgate.hash_api_key(g.key, PEPPER)
    assert g.hash.startswith("hmac-sha256:")
    r = g.record
    assert (r["owner"], r["kind"], r["created"], r["hint"]) == ("sa_billing", "service_account", 1_767_225_600, "…" + g.key[-4:])
    assert g.key not in repr(g) and g.key not in str(r)
    for i in range(len("fln_live_"), len(g.key)):
        c = ALPHABET[(ALPHABET.index(g.key[i]) + 1 + i) % len(ALPHABET)]
        with pytest.raises(tollgate.TokenError) as e:
            tollgate.check_api_key(g.key[:i] + c + g.key[i + 1 :], "fln_live")
        assert e.value.code == "malformed_api_key"
    plain = tollgate.generate_api_key("pat", "u")
    assert plain.key != g.key and plain.hash == "sha256:" + b64(hashlib.sha256(plain.key.encode()).digest())
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.generate_api_key("bad_", "u")
    assert e.value.code == "key_generation_failed"
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.generate_api_key("pat", "u", b"short")
    assert e.value.code == "invalid_options"
