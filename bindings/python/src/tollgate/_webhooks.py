"""Standard Webhooks: verifying deliveries (v1 HMAC secrets, v1a Ed25519 keys), replay refusal, signing."""

from __future__ import annotations

import ctypes
import json
from typing import TYPE_CHECKING, Any, Dict, Iterable, Optional, Tuple, Union

from . import _ffi
from . import Headers, StoreUnavailable, TollgateError, _bytes, _fail, _Handle, _header_array, _now, _take_string

if TYPE_CHECKING:
    from ._store import ReplayStore

#: webhook_replayed (docs/errors.md).
_WEBHOOK_REPLAYED = 903

Body = Union[str, bytes, bytearray, memoryview]


def _body(body: Body) -> bytes:
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        return _bytes(body, "body")
    raise TypeError(f"body must be the raw bytes (or str), not {type(body).__name__}")


class ReplayGuard(_Handle):
    """Remembers verified deliveries (each by its id and body), so that a replay inside the window
    is refused (TollgateError `webhook_replayed`). Bounded: holding `capacity` deliveries (1 to 16777216; size it
    above the deliveries one window brings) still inside their `window` (seconds; 0: 300; at most
    86400; a verifier uses the larger of its tolerance and this), it refuses new deliveries
    (`webhook_replay_guard_full`, 503) rather than forget one. Thread-safe; give it to any number
    of WebhookVerifiers, and close it after them."""

    _free = staticmethod(_ffi.tg_replay_guard_free)

    def __init__(self, capacity: int, window: int = 0) -> None:
        super().__init__()
        if capacity < 0 or window < 0:
            raise ValueError("capacity and window must not be negative")
        out, err = ctypes.c_void_p(), ctypes.c_void_p()
        st = _ffi.tg_replay_guard_new(capacity, window, ctypes.byref(out), ctypes.byref(err))
        if st != 0:
            raise _fail(st, err)
        self._handle = out.value


class WebhookVerifier(_Handle):
    """Keys and rules for verifying webhook deliveries; immutable, share it across threads.

    `keys` carry their prefix (`whsec_…` secrets for v1, `whpk_…` public keys for v1a; a `whsk_`
    signing key is refused); `secrets` and `public_keys` may omit it. At most 8 keys in all.
    `tolerance` bounds |now - webhook-timestamp| (seconds; default 300, at most 86400);
    `max_body_bytes` defaults to 1 MiB. With `replay_guard`, every verified delivery is recorded
    by its id and body, and the same delivery again within the window is `webhook_replayed`. Raises TollgateError
    `invalid_webhook_secret`, or `invalid_options` (also when no key is given at all).
    """

    _free = staticmethod(_ffi.tg_webhook_verifier_free)

    def __init__(
        self,
        keys: Iterable[str] = (),
        *,
        secrets: Iterable[str] = (),
        public_keys: Iterable[str] = (),
        tolerance: Optional[int] = None,
        max_body_bytes: Optional[int] = None,
        replay_guard: Optional[ReplayGuard] = None,
    ) -> None:
        super().__init__()
        if isinstance(keys, str) or isinstance(secrets, str) or isinstance(public_keys, str):
            raise TypeError("keys, secrets and public_keys are lists of strings")
        config: Dict[str, Any] = {"keys": list(keys), "secrets": list(secrets), "public_keys": list(public_keys)}
        if tolerance is not None:
            config["tolerance"] = tolerance
        if max_body_bytes is not None:
            config["max_body_bytes"] = max_body_bytes
        data = json.dumps(config, separators=(",", ":")).encode()
        out, err = ctypes.c_void_p(), ctypes.c_void_p()
        st = _ffi.tg_webhook_verifier_new(data, len(data), ctypes.byref(out), ctypes.byref(err))
        if st != 0:
            raise _fail(st, err)
        self._handle = out.value
        self.replay_guard = replay_guard

    def verify(self, headers: Headers, body: Body, now: Optional[float] = None) -> None:
        """Verifies one delivery at `now` (Unix seconds; the clock when None). `headers`: the
        request's headers (a mapping or pairs; names case-insensitive; `webhook-id`,
        `webhook-timestamp` and `webhook-signature` once each); `body`: the raw body, byte for
        byte. Returns None when verified (and recorded by the replay guard); raises
        TollgateError `webhook_malformed`, `webhook_timestamp_out_of_tolerance`,
        `webhook_signature_invalid`, `webhook_body_too_large`, `webhook_replayed` or
        `webhook_replay_guard_full`."""
        b = _body(body)
        array, count, keep = _header_array(headers)
        t = _now(now)
        err = ctypes.c_void_p()
        guard = self.replay_guard
        handle = self._acquire()
        try:
            # A closed guard raises here rather than let deliveries through unrecorded.
            g = guard._acquire() if guard is not None else None
            try:
                st = _ffi.tg_webhook_verifier_verify(handle, g, array, count, b, len(b), t, ctypes.byref(err))
            finally:
                if guard is not None:
                    guard._release()
        finally:
            self._release()
        del keep
        if st != 0:
            raise _fail(st, err)

    def verify_for_store(
        self,
        headers: Headers,
        body: Body,
        store: "ReplayStore",
        now: Optional[float] = None,
        window: int = 0,
    ) -> None:
        """Verifies one delivery as `verify` does, with the replay guard in a shared store, so
        that a delivery accepted by one instance is refused by every other: once the delivery
        verifies, `store.claim(key, ttl)` (Redis: `SET tollgate:webhook:<hash> 1 NX EX <ttl>`)
        must newly claim the delivery (its id and body: senders sharing a store cannot claim
        each other's ids), or TollgateError `webhook_replayed` (409) is raised. `window`:
        the replay window in seconds (0: the tolerance; at most 86400, `invalid_options` past it;
        the claim lasts at least the tolerance). Only verified deliveries claim a key, so forgeries cannot block a genuine
        one. The verifier's own `replay_guard` is not used here.

        Returns None when verified and claimed; raises as `verify` does, `webhook_replayed`, or
        StoreUnavailable when the store does not answer (refuse the delivery; the sender
        retries)."""
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise ValueError(f"window must be seconds (an int >= 0), not {window!r}")
        b = _body(body)
        array, count, keep = _header_array(headers)
        t = _now(now)
        key, ttl, err = ctypes.c_void_p(), ctypes.c_uint64(), ctypes.c_void_p()
        handle = self._acquire()
        try:
            st = _ffi.tg_webhook_verifier_verify_for_store(
                handle, array, count, b, len(b), t, window, ctypes.byref(key), ctypes.byref(ttl), ctypes.byref(err)
            )
        finally:
            self._release()
        del keep
        if st != 0:
            raise _fail(st, err)
        claim_key = _take_string(key) or ""
        try:
            claimed = store.claim(claim_key, int(ttl.value))
        except OSError as e:  # a store raising the standard library's errors: not an answer either
            raise StoreUnavailable(f"claiming {claim_key}: {e}") from e
        if claimed is not True and claimed is not False:
            raise TypeError(f"store.claim must return a bool, not {type(claimed).__name__}")
        if not claimed:
            raise TollgateError(_WEBHOOK_REPLAYED, "webhook-id was already accepted (by this or another instance)")


def verify_webhook(key: str, headers: Headers, body: Body, now: Optional[float] = None) -> None:
    """Verifies one delivery with a single key (`whsec_…` or `whpk_…`, prefix required), the
    default tolerance (300 s) and no replay detection; errors as WebhookVerifier.verify, plus
    `invalid_webhook_secret` for a bad key. Keep a WebhookVerifier to verify many (the key is
    then parsed once)."""
    k = _bytes(key, "key")
    b = _body(body)
    array, count, keep = _header_array(headers)
    err = ctypes.c_void_p()
    st = _ffi.tg_webhook_verify(k, len(k), array, count, b, len(b), _now(now), ctypes.byref(err))
    del keep
    if st != 0:
        raise _fail(st, err)


def sign_webhook(key: str, msg_id: str, timestamp: int, body: Body) -> str:
    """The `webhook-signature` value for a delivery: `v1,<base64>` with a `whsec_` secret,
    `v1a,<base64>` with a `whsk_` signing key (prefix required), for `msg_id` (1–256 visible
    ASCII characters, no `.`), `timestamp` (Unix seconds; send it as `webhook-timestamp`) and the
    raw `body`. Raises TollgateError `invalid_webhook_secret` or `signing_failed`."""
    k = _bytes(key, "key")
    i = _bytes(msg_id, "msg_id")
    b = _body(body)
    out, err = ctypes.c_void_p(), ctypes.c_void_p()
    st = _ffi.tg_webhook_sign(k, len(k), i, len(i), _now(timestamp), b, len(b), ctypes.byref(out), ctypes.byref(err))
    if st != 0:
        raise _fail(st, err)
    return _take_string(out) or ""


def generate_webhook_secret() -> str:
    """A `whsec_` secret (32 random bytes from the operating system) for v1 signatures."""
    out = ctypes.c_void_p()
    st = _ffi.tg_webhook_secret_generate(ctypes.byref(out))
    if st != 0:
        raise TollgateError(st)
    return _take_string(out) or ""


def generate_webhook_key_pair() -> Tuple[str, str]:
    """An Ed25519 pair for v1a signatures: `(signing_key, public_key)`, the `whsk_` key the sender
    keeps secret and the `whpk_` key receivers verify with."""
    sk, pk = ctypes.c_void_p(), ctypes.c_void_p()
    st = _ffi.tg_webhook_key_pair_generate(ctypes.byref(sk), ctypes.byref(pk))
    if st != 0:
        raise TollgateError(st)
    return _take_string(sk) or "", _take_string(pk) or ""
