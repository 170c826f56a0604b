"""API keys: generation (the key shown once and the record stored), form and checksum checks, hashes."""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Optional, Union

from . import _ffi
from . import TollgateError, _bytes, _fail, _now, _take_string

Pepper = Union[str, bytes, bytearray, memoryview, None]


def _pepper(pepper: Pepper) -> bytes:
    return b"" if pepper is None else _bytes(pepper, "pepper")


@dataclass(frozen=True)
class GeneratedApiKey:
    """A new API key (or personal access token) and the record a host stores for it."""

    key: str
    """`<prefix>_<32 base62><6 base62 checksum>`: show it once; it is stored nowhere."""
    record: Dict[str, Any]
    """The record to store in the snapshot's `api_keys` under the provider's name: `id`, `hash`,
    `owner`, `kind` (`service_account`), `created`, `hint`; change `kind` or add `tenant`,
    `roles`, `scopes`, `expires` as needed. It never holds the key."""

    @property
    def hash(self) -> str:
        """The record's hash (`sha256:…` or `hmac-sha256:…`): what `hash_api_key` gives for the key."""
        return str(self.record["hash"])

    def __repr__(self) -> str:  # never print the key
        return f"GeneratedApiKey(key='…{self.key[-4:]}', record={self.record!r})"


def generate_api_key(prefix: str, owner: str, pepper: Pepper = None, now: Optional[float] = None) -> GeneratedApiKey:
    """Makes a key with `prefix` (1–32 ASCII letters, digits or `_`, not ending in `_`: `fln_live`,
    `pat`) from the operating system's secure random source, and its record for `owner` created
    at `now` (Unix seconds; the clock when None). `pepper` (at least 16 bytes) hashes with
    HMAC-SHA256, None with plain SHA-256: it must match the policy provider's `hashing`. Raises
    TollgateError `key_generation_failed` for a bad prefix, `invalid_options` for a short pepper."""
    p = _bytes(prefix, "prefix")
    o = _bytes(owner, "owner")
    k = _pepper(pepper)
    key, record, err = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
    st = _ffi.tg_apikey_generate(
        p, len(p), o, len(o), k or None, len(k), _now(now), ctypes.byref(key), ctypes.byref(record), ctypes.byref(err)
    )
    if st != 0:
        raise _fail(st, err)
    key_text = _take_string(key) or ""
    return GeneratedApiKey(key=key_text, record=json.loads(_take_string(record) or "{}"))


def check_api_key(key: Union[str, bytes], prefixes: Union[str, Iterable[str], None] = None) -> None:
    """Checks a key's form and checksum, without any lookup; raises TokenError
    `malformed_api_key` for a typo, a truncated paste or a prefix not among `prefixes` (one or
    several; the longest match wins; None accepts the key's own prefix). Run it before looking a
    key up, to refuse typos and junk without a store round trip; it is no authentication (anyone
    can compute the checksum). An empty list, or an empty or spaced prefix, is a ValueError: it
    would accept every prefix. A prefix Tollgate could not generate (other than ASCII letters,
    digits and `_`, or over 32 bytes) is TollgateError `invalid_options`."""
    k = _bytes(key, "key")
    if prefixes is None:
        ps = b""
    else:
        listed = [prefixes] if isinstance(prefixes, str) else list(prefixes)
        if not listed or any(not isinstance(p, str) or not p or p.split() != [p] for p in listed):
            raise ValueError(
                f"prefixes must be one or more prefixes without spaces, not {prefixes!r} "
                "(None accepts the key's own prefix)"
            )
        ps = " ".join(listed).encode()
    st = _ffi.tg_apikey_check(k, len(k), ps or None, len(ps))
    if st != 0:
        raise _fail(st, ctypes.c_void_p())


def hash_api_key(key: Union[str, bytes], pepper: Pepper = None) -> str:
    """The stored form of a key's hash: `sha256:<base64url>`, or `hmac-sha256:<base64url>` under
    `pepper` (at least 16 bytes). The key's form is not checked (`check_api_key` does that)."""
    k = _bytes(key, "key")
    pp = _pepper(pepper)
    out = ctypes.c_void_p()
    st = _ffi.tg_apikey_hash(k, len(k), pp or None, len(pp), ctypes.byref(out))
    if st != 0:
        raise _fail(st, ctypes.c_void_p())
    result = _take_string(out)
    if result is None:
        raise TollgateError(1, "tg_apikey_hash wrote no hash")
    return result
