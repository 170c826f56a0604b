"""Tollgate for Python: the policy engine and the JWT verifier of Tollgate's C ABI, through ctypes
(and, for `Engine.check` and `Verifier.verify`, the same library's extension module).

    engine = tollgate.Engine(policy_json)
    engine.swap_keys(snapshot_json)            # again whenever keys rotate
    d = engine.check("GET", "/api/tenants/A/items", {"authorization": "Bearer ..."})
    if d.status != 200: ...

    header, claims = tollgate.verify(token, jwks, issuer="https://idp", audience="api")

    source = tollgate.KeySource.from_issuer("https://idp").start()   # JWKS kept fresh
    verifier = source.verifier(issuer="https://idp", audience="api")

    webhooks = tollgate.WebhookVerifier([secret], replay_guard=tollgate.ReplayGuard(100_000))
    webhooks.verify(request_headers, raw_body)  # TollgateError `webhook_replayed`, …
    key = tollgate.generate_api_key("fln_live", "sa_billing")  # key.key once, key.record stored
    token, d = engine.reissue("POST", "/api/token", {"token": old})  # a valid token mints a new one

    store = tollgate.RedisStore("redis://127.0.0.1:6379")           # records in Redis: pip install 'tollgate[redis]'
    rest, records = tollgate.records_from_snapshot(snapshot_json)   # store.put(records); Engine(policy, rest)
    follower = store.follow_invalidations(engine)                   # a daemon thread; follower.stop()
    d = engine.check_with_store("GET", "/api/items", headers, store)  # reads the records the check needs
    store.store_session(sid, {"subject": "u-1", "expires": exp})   # a login service: put([session_record(…)])

Every failure raises TollgateError (a rejected token or API key: its subclass TokenError; a
shared store that does not answer: StoreUnavailable) with the stable `code` name and `number` of
docs/errors.md. Engines, verifiers, webhook verifiers and
replay guards are shared by any number of threads (the library releases the GIL while it works); their native handles are freed by
`close()` (or a `with` block), at the latest when the object is collected.
"""

from __future__ import annotations

import base64
import ctypes
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import _ffi

__all__ = [
    "Decision",
    "Engine",
    "GeneratedApiKey",
    "InvalidationFollower",
    "KeySource",
    "KeySourceVerifier",
    "RedisStore",
    "ReplayGuard",
    "ReplayStore",
    "Store",
    "StoreUnavailable",
    "StoredRecord",
    "TokenError",
    "TollgateError",
    "VerifiedToken",
    "Verifier",
    "WebhookVerifier",
    "backends",
    "check_api_key",
    "error_message",
    "error_name",
    "generate_api_key",
    "generate_webhook_key_pair",
    "generate_webhook_secret",
    "hash_api_key",
    "records_from_snapshot",
    "session_record",
    "sign_webhook",
    "verify",
    "verify_jws",
    "verify_webhook",
    "discover",
    "__version__",
]

#: A document the library reads: JSON text, its UTF-8 bytes, or a value json.dumps accepts.
Document = Union[str, bytes, bytearray, memoryview, Mapping[str, Any], Sequence[Any]]
#: Request headers: a mapping, or (name, value) pairs (a name may repeat); str or bytes.
Headers = Union[Mapping[Any, Any], Iterable[Tuple[Any, Any]]]

__version__: str = _ffi.tg_version().decode()


def backends() -> List[str]:
    """The signature backends in the loaded library, the one it prefers first: `["ring"]`, or
    `["aws-lc", "ring"]` for a package installed with `TOLLGATE_CARGO_FEATURES=aws-lc`. Keys are
    prepared for the preferred one unless a Verifier's `backend` says otherwise."""
    return _ffi.tg_backends().decode().split(",")


def error_name(number: int) -> str:
    """The stable snake_case name of an error number (`expired` for 400; `unknown` if none)."""
    return str(_ffi.tg_error_name(number).decode())


def error_message(number: int) -> str:
    """A one-line description of an error number."""
    return str(_ffi.tg_error_message(number).decode())


class TollgateError(Exception):
    """Any failure reported by the library.

    `code` is the stable name (`invalid_policy`, `weak_key`, …), `number` its stable number,
    `status` the HTTP status that goes with it, `message` the library's message for logs.
    """

    #: The refused Decision, for an error from `Engine.reissue`; None otherwise.
    decision: "Optional[Decision]" = None

    def __init__(self, number: int, message: Optional[str] = None) -> None:
        self.number: int = number
        self.code: str = error_name(number)
        self.status: int = int(_ffi.tg_error_http_status(number))
        self.message: str = message or error_message(number)
        super().__init__(f"{self.code}: {self.message}")


class TokenError(TollgateError):
    """A token was rejected (malformed, bad signature, expired, wrong issuer, unknown kid, …)."""


#: store_unavailable (docs/errors.md): the shared record store did not answer.
_STORE_UNAVAILABLE = 511


class StoreUnavailable(TollgateError):
    """The shared record store did not answer (connection refused, timed out, …): code
    `store_unavailable` (511, HTTP 503). A store's `get` raises it and `Engine.check_with_store`
    then decides 503 `store_unavailable` (or what the policy's `store.grace` allows); from
    `claim`, `put` and the rest it reaches the caller: never take it for success."""

    def __init__(self, message: Optional[str] = None) -> None:
        super().__init__(_STORE_UNAVAILABLE, message)


def _error_class(number: int) -> "type[TollgateError]":
    return TokenError if 100 <= number < 500 else TollgateError


def _failure(number: int, message: str) -> TollgateError:
    """The exception for a failure the extension module (`_ffi.native`) reports."""
    return _error_class(number)(number, message)


# The extension module's halves of Engine and Verifier (ffi/python).
_NativeEngine = _ffi.native.Engine
_NativeVerifier = _ffi.native.Verifier


def _bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, separators=(",", ":")).encode("utf-8")
    raise TypeError(f"{what} must be str, bytes or a JSON-compatible mapping/sequence, not {type(value).__name__}")


def _now(now: Optional[float]) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise TypeError(f"now must be Unix seconds (int), not {type(now).__name__}")
    if now < 0 or now >= 2**64:
        raise ValueError(f"now out of range: {now}")
    return int(now)


def _take_string(ptr: ctypes.c_void_p) -> Optional[str]:
    """Reads and frees a `char *` the library wrote."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8", "replace")
    finally:
        _ffi.tg_string_free(ptr.value)


def _fail(status: int, error: ctypes.c_void_p) -> TollgateError:
    return _error_class(status)(status, _take_string(error))


def _get(getter: Callable[..., Any], handle: int) -> Optional[str]:
    n = ctypes.c_size_t(0)
    p = getter(handle, ctypes.byref(n))
    if not p:
        return None
    return ctypes.string_at(p, n.value).decode("utf-8")


class _Handle:
    """An owned native handle: freed once, after the last call using it returns."""

    _free: Callable[[int], None]

    def __init__(self) -> None:
        self._handle: Optional[int] = None
        self._lock = threading.Lock()
        self._active = 0
        self._closing = False

    def _acquire(self) -> int:
        with self._lock:
            if self._handle is None or self._closing:
                raise TollgateError(2000, f"{type(self).__name__} is closed")
            self._active += 1
            return self._handle

    def _release(self) -> None:
        with self._lock:
            self._active -= 1
            if self._closing and self._active == 0:
                self._free_now()

    def _free_now(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            type(self)._free(handle)

    def close(self) -> None:
        """Frees the native handle (once the calls running on other threads return)."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            self._closing = True
            if self._active == 0:
                self._free_now()

    @property
    def closed(self) -> bool:
        return self._closing

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


@dataclass(frozen=True)
class Decision:
    """The decision on one request (the fields of the shared decision JSON, flattened)."""

    status: int
    """HTTP status to answer with: 200 lets the request through."""
    reason: str
    """Stable reason name (`ok`, `expired`, `not_found`, …)."""
    code: int
    """The reason's stable number (0 when allowed)."""
    message: str
    route: Optional[str] = None
    subject: Optional[str] = None
    kind: Optional[str] = None
    provider: Optional[str] = None
    tenant: Optional[str] = None
    roles: Tuple[str, ...] = ()
    permissions: Tuple[str, ...] = ()
    expires_at: Optional[float] = None
    claims: Optional[Dict[str, Any]] = None
    www_authenticate: Optional[str] = None
    forward_headers: Dict[str, str] = field(default_factory=dict)
    correlation_id: Optional[str] = None
    refresh_provider: Optional[str] = None
    refresh_kid: Optional[str] = None

    @property
    def allowed(self) -> bool:
        return self.status == 200

    def has_permission(self, permission: str) -> bool:
        return permission in self.permissions

    @classmethod
    def _read(cls, d: int) -> "Decision":
        f = _ffi
        roles = tuple(
            ctypes.string_at(p, n.value).decode()
            for i in range(f.tg_decision_roles_count(d))
            for n in [ctypes.c_size_t()]
            for p in [f.tg_decision_role(d, i, ctypes.byref(n))]
            if p
        )
        permissions = tuple(
            ctypes.string_at(p, n.value).decode()
            for i in range(f.tg_decision_permissions_count(d))
            for n in [ctypes.c_size_t()]
            for p in [f.tg_decision_permission(d, i, ctypes.byref(n))]
            if p
        )
        forward: Dict[str, str] = {}
        h = _ffi.Header()
        for i in range(f.tg_decision_forward_headers_count(d)):
            if f.tg_decision_forward_header(d, i, ctypes.byref(h)) == 0:
                forward[ctypes.string_at(h.name, h.name_len).decode()] = ctypes.string_at(
                    h.value, h.value_len
                ).decode()
        exp = ctypes.c_double()
        claims_json = _get(f.tg_decision_claims_json, d)
        return cls(
            status=int(f.tg_decision_status(d)),
            reason=_get(f.tg_decision_reason_name, d) or "",
            code=int(f.tg_decision_reason(d)),
            message=_get(f.tg_decision_message, d) or "",
            route=_get(f.tg_decision_route, d),
            subject=_get(f.tg_decision_subject, d),
            kind=_get(f.tg_decision_kind, d),
            provider=_get(f.tg_decision_provider, d),
            tenant=_get(f.tg_decision_tenant, d),
            roles=roles,
            permissions=permissions,
            expires_at=exp.value if f.tg_decision_expires_at(d, ctypes.byref(exp)) else None,
            claims=json.loads(claims_json) if claims_json is not None else None,
            www_authenticate=_get(f.tg_decision_www_authenticate, d),
            forward_headers=forward,
            correlation_id=_get(f.tg_decision_correlation_id, d),
            refresh_provider=_get(f.tg_decision_refresh_provider, d),
            refresh_kid=_get(f.tg_decision_refresh_kid, d),
        )


def _take_decision(d: int) -> Decision:
    """The Decision of a `tg_decision` the library made; frees the handle."""
    try:
        return Decision._read(d)
    finally:
        _ffi.tg_decision_free(d)


def _header_pairs(headers: Headers) -> List[Tuple[bytes, bytes]]:
    """Headers as (name, value) byte pairs: a mapping or pairs, each side str or bytes (or what
    `_bytes` takes)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return [
        (
            name if isinstance(name, bytes) else _bytes(name, "header name"),
            value if isinstance(value, bytes) else _bytes(value, "header value"),
        )
        for name, value in items
    ]


def _header_array(headers: Headers) -> Tuple[Any, int, List[Tuple[bytes, bytes]]]:
    """Headers as a `tg_header` array, its length, and the byte strings it points into (keep them
    alive until the call returns)."""
    pairs = _header_pairs(headers)
    if not pairs:
        return None, 0, pairs
    array = (_ffi.Header * len(pairs))()
    for i, (n, v) in enumerate(pairs):
        array[i].name = ctypes.cast(n, ctypes.c_void_p).value  # type: ignore[arg-type]
        array[i].name_len = len(n)
        array[i].value = ctypes.cast(v, ctypes.c_void_p).value  # type: ignore[arg-type]
        array[i].value_len = len(v)
    return array, len(pairs), pairs


class Engine(_Handle):
    """A compiled policy and its current key snapshot; share one across threads.

    `policy` is the policy document (docs/policy.md); `snapshot`, if given, is swapped in at once
    (otherwise every token fails until `swap_keys`). Raises TollgateError (`invalid_policy`, …).
    """

    _free = staticmethod(_ffi.tg_engine_free)

    def __init__(self, policy: Document, snapshot: Optional[Document] = None) -> None:
        super().__init__()
        data = _bytes(policy, "policy")
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        st = _ffi.tg_engine_new(data, len(data), ctypes.byref(out), ctypes.byref(err))
        if st != 0:
            raise _fail(st, err)
        self._handle = out.value
        # Shares the handle's engine (a snapshot swapped through the handle is the one it checks
        # with) and lives on its own, so `check` needs no acquisition of the handle.
        self._fast: Optional[Any] = _NativeEngine(out.value)
        if snapshot is not None:
            self.swap_keys(snapshot)

    def swap_keys(self, snapshot: Document) -> None:
        """Builds a key snapshot (keys per provider, revoked jti, users, API keys) and swaps it in
        atomically; checks running on other threads finish on the old one. On failure
        (`invalid_snapshot`, `weak_key`, …) the engine keeps its current keys. A provider a
        KeySource swaps keys into keeps the source's keys: the document's keys for it are not
        used, until the source is closed (see `release_provider_keys`)."""
        data = _bytes(snapshot, "snapshot")
        err = ctypes.c_void_p()
        handle = self._acquire()
        try:
            st = _ffi.tg_engine_swap_snapshot_json(handle, data, len(data), ctypes.byref(err))
        finally:
            self._release()
        if st != 0:
            raise _fail(st, err)

    def release_provider_keys(self, provider: Union[str, bytes]) -> None:
        """Ends what a KeySource began for `provider`: `swap_keys` sets its keys again, and until
        it does the provider has none (nothing keeps them fresh, or makes them stale).
        `KeySource.close()` does it for its bound engine; call it yourself after `swap_into` when
        you stop refreshing. A provider no key source swapped into is left as it is; one the
        policy lacks raises TollgateError `invalid_options`."""
        p = provider.encode("utf-8") if isinstance(provider, str) else bytes(provider)
        err = ctypes.c_void_p()
        handle = self._acquire()
        try:
            st = _ffi.tg_engine_release_provider_keys(handle, p, len(p), ctypes.byref(err))
        finally:
            self._release()
        if st != 0:
            raise _fail(st, err)

    def check(
        self,
        method: Union[str, bytes],
        path: Union[str, bytes],
        headers: Headers = (),
        now: Optional[float] = None,
    ) -> Decision:
        """Decides a request at `now` (Unix seconds; the clock when None). Always returns a
        Decision (refusals included); raises only for a misuse (closed engine, bad types)."""
        fast = self._fast  # this reference keeps it alive through a concurrent close()
        if fast is None:
            raise TollgateError(2000, "Engine is closed")
        if now is not None:
            now = _now(now)
        if isinstance(headers, Mapping):
            items: Any = headers.items()
        elif isinstance(headers, (list, tuple)):
            items = headers
        else:
            items = headers = list(headers)  # an iterator: read once, maybe used twice below
        try:
            # One call: the check with the GIL released, the decision's fields as Python objects.
            fields = fast.check(method, path, items, now, _failure)
        except TypeError:
            # Pairs as lists, bytearray or memoryview sides, …: as bytes (or the TypeError of a
            # value no header can be).
            fields = fast.check(_bytes(method, "method"), _bytes(path, "path"), _header_pairs(headers), now, _failure)
        return Decision(*fields)

    def close(self) -> None:
        """Frees the native handle (once the calls running on other threads return)."""
        self._fast = None
        super().close()

    def check_with_store(
        self,
        method: Union[str, bytes],
        path: Union[str, bytes],
        headers: Headers,
        store: "Store",
        now: Optional[float] = None,
    ) -> Decision:
        """Decides a request as `check` does, for a policy whose providers keep their records in a
        shared store (`"records": "store"`, docs/records.md): each record the check needs and
        has not cached is read with `store.get(key)` (`key` is `tollgate:<kind>:<hash>`; it
        returns the record's bytes, or None when there is no such record) and the check goes
        on. A store that does not answer (`get` raises StoreUnavailable, or an OSError such as
        ConnectionError or TimeoutError) decides 503 `store_unavailable`, unless the policy's
        `store.grace` lets cached records stand in; a record that is not valid for its key
        decides 500 `invalid_record`. Without records in a store it decides as `check`.

        Always returns a Decision; raises only for a misuse (closed engine, bad types, an answer
        that is not bytes or None) or what `get` raises besides the errors above. Runs on the
        calling thread: `store.get` is called on it, at most once per record the check needs."""
        m = _bytes(method, "method")
        p = _bytes(path, "path")
        array, count, keep = _header_array(headers)
        t = _now(now)
        decision = ctypes.c_void_p()
        pending = ctypes.c_void_p()
        handle = self._acquire()  # held until the check decides: a pending check needs its engine
        try:
            st = _ffi.tg_engine_check_step(
                handle, m, len(m), p, len(p), array, count, t, ctypes.byref(decision), ctypes.byref(pending)
            )
            while st == 0 and pending.value:
                waiting, pending.value = pending.value, None  # owned here until resumed or freed
                key = _get(_ffi.tg_pending_store_key, waiting)
                try:
                    answer = store.get(key)  # type: ignore[arg-type]
                    if answer is not None and not isinstance(answer, bytes):
                        if not isinstance(answer, (bytearray, memoryview, str)):
                            raise TypeError(f"store.get must return bytes or None, not {type(answer).__name__}")
                        answer = _bytes(answer, "record")
                except (StoreUnavailable, OSError):
                    st = _ffi.tg_engine_resume_unavailable(handle, waiting, t, ctypes.byref(decision))
                    break
                except BaseException:
                    _ffi.tg_pending_free(waiting)
                    raise
                st = _ffi.tg_engine_resume(
                    handle,
                    waiting,
                    answer,
                    len(answer) if answer is not None else 0,
                    answer is not None,
                    t,
                    ctypes.byref(decision),
                    ctypes.byref(pending),
                )
        finally:
            self._release()
        del keep
        if st != 0:
            raise TollgateError(st)
        return _take_decision(decision.value)  # type: ignore[arg-type]

    def invalidate(self, key: Union[str, bytes]) -> None:
        """Drops the cached copy of the record a store key names (`tollgate:<kind>:<hash>`), or
        every cached record for `"*"`: the next check needing it reads the store again. Call it
        with each message of the store's `tollgate:invalidate` channel and with `"*"` whenever
        the subscription was lost (`RedisStore.follow_invalidations` does both). Raises
        TollgateError `invalid_request` for anything else."""
        k = _bytes(key, "key")
        err = ctypes.c_void_p()
        handle = self._acquire()
        try:
            st = _ffi.tg_engine_invalidate(handle, k, len(k), ctypes.byref(err))
        finally:
            self._release()
        if st != 0:
            raise _fail(st, err)

    def reissue(
        self,
        method: Union[str, bytes],
        path: Union[str, bytes],
        headers: Headers = (),
        now: Optional[float] = None,
    ) -> Tuple[str, Decision]:
        """Decides a request as `check` does and, when it is allowed, re-issues the token it
        carried: the same claims (`jti` too) with `iat = now` and `exp = now + reissue_ttl`,
        signed with the first key of the provider's current key set (deployments where a
        valid token may mint a new one, like examples/tenant-path). Returns `(token, decision)`.

        A Decision keeps no native handle, so the check and the re-issue happen in this one call,
        at one `now`. A refusal, or a provider that does not re-issue, raises TollgateError
        `signing_failed` whose `decision` attribute is the Decision (answer the refusal with it).
        """
        m = _bytes(method, "method")
        p = _bytes(path, "path")
        array, count, keep = _header_array(headers)
        t = _now(now)
        out = ctypes.c_void_p()
        token = ctypes.c_void_p()
        err = ctypes.c_void_p()
        rst = 0
        handle = self._acquire()
        try:
            st = _ffi.tg_engine_check(handle, m, len(m), p, len(p), array, count, t, ctypes.byref(out))
            if st == 0:
                # Under the same acquisition: the decision must be re-issued by this engine.
                rst = _ffi.tg_engine_reissue(handle, out.value, t, ctypes.byref(token), ctypes.byref(err))
        finally:
            self._release()
        del keep
        if st != 0:
            raise TollgateError(st)
        d = _take_decision(out.value)  # type: ignore[arg-type]
        if rst != 0:
            e = _fail(rst, err)
            e.decision = d
            raise e
        reissued = _take_string(token)
        assert reissued is not None
        return reissued, d


class VerifiedToken:
    """A token whose signature (and claims, from `verify`) verified. Unpacks as (header, claims).

    `header` and `claims` are the verified JSON objects as dicts (`claims` is None from
    `verify_jws`; `header` is decoded on first use), `algorithm` the algorithm that verified it,
    `key_id` the verifying key's `kid`, `payload` the verified payload bytes."""

    __slots__ = ("_header", "_header_b64", "claims", "key_id", "payload", "_algorithm")

    claims: Optional[Dict[str, Any]]
    key_id: Optional[str]
    payload: bytes

    def __init__(
        self,
        header_b64: bytes,
        claims: Optional[Dict[str, Any]],
        algorithm: Optional[str],
        key_id: Optional[str],
        payload: bytes,
    ) -> None:
        self._header: Optional[Dict[str, Any]] = None
        self._header_b64 = header_b64
        self.claims = claims
        self._algorithm = algorithm
        self.key_id = key_id
        self.payload = payload

    @property
    def header(self) -> Dict[str, Any]:
        """The protected header (the signed bytes of the token's first segment, as a dict)."""
        if self._header is None:
            raw = self._header_b64
            self._header = _loads(base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4)))
        return self._header

    @property
    def algorithm(self) -> str:
        """The algorithm that verified the token (`RS256`, `EdDSA`, …)."""
        if self._algorithm is None:
            # A key is only ever used with the algorithm it is bound to: the header's.
            self._algorithm = str(self.header["alg"])
        return self._algorithm

    def __iter__(self) -> Iterator[Any]:
        yield self.header
        yield self.claims

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifiedToken):
            return NotImplemented
        return (self.header, self.claims, self.algorithm, self.key_id, self.payload) == (
            other.header,
            other.claims,
            other.algorithm,
            other.key_id,
            other.payload,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"VerifiedToken(header={self.header!r}, claims={self.claims!r}, algorithm={self.algorithm!r}, key_id={self.key_id!r})"


def _options(
    issuer: Union[str, Sequence[str], None],
    audience: Union[str, Sequence[str], None],
    leeway: Optional[int],
    typ: Optional[str],
    required: Optional[Sequence[str]],
    max_lifetime: Optional[int],
    alg: Optional[str],
    kid: Optional[str],
    cache: Union[bool, Mapping[str, int], None],
    backend: Optional[str] = None,
) -> bytes:
    o: Dict[str, Any] = {}
    if issuer is not None:
        o["issuers"] = [issuer] if isinstance(issuer, str) else list(issuer)
    if audience is not None:
        o["audiences"] = [audience] if isinstance(audience, str) else list(audience)
    if leeway is not None:
        o["leeway"] = leeway
    if typ is not None:
        o["typ"] = typ
    if required is not None:
        o["required"] = list(required)
    if max_lifetime is not None:
        o["max_lifetime"] = max_lifetime
    if alg is not None:
        o["alg"] = alg
    if kid is not None:
        o["kid"] = kid
    if backend is not None:
        o["backend"] = backend
    if cache:
        o["cache"] = {} if cache is True else dict(cache)
    return json.dumps(o, separators=(",", ":"), sort_keys=True).encode() if o else b""


class Verifier(_Handle):
    """A key set and the rules tokens must satisfy; immutable, share it across threads.

    `keys`: a JWKS, a single JWK, or a PEM/DER public key (then `alg` is needed). `issuer` and
    `audience`: one value or several (a token with `aud` needs `audience`); `leeway` in seconds
    (at most 600); `required` claims (default `["exp"]`); `cache=True` keeps a verified-token cache;
    `backend` prepares the keys for `"ring"` or `"aws-lc"` (see `backends()`; by default the
    library's preferred one).
    Raises TollgateError (`invalid_key_set`, `weak_key`, `invalid_options`, …).
    """

    _free = staticmethod(_ffi.tg_verifier_free)

    def __init__(
        self,
        keys: Document,
        *,
        issuer: Union[str, Sequence[str], None] = None,
        audience: Union[str, Sequence[str], None] = None,
        leeway: Optional[int] = None,
        typ: Optional[str] = None,
        required: Optional[Sequence[str]] = None,
        max_lifetime: Optional[int] = None,
        alg: Optional[str] = None,
        kid: Optional[str] = None,
        cache: Union[bool, Mapping[str, int], None] = None,
        backend: Optional[str] = None,
    ) -> None:
        super().__init__()
        k = _bytes(keys, "keys")
        o = _options(issuer, audience, leeway, typ, required, max_lifetime, alg, kid, cache, backend)
        self._init(k, o)

    def _init(self, keys: bytes, options: bytes) -> None:
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        st = _ffi.tg_verifier_new(keys, len(keys), options or None, len(options), ctypes.byref(out), ctypes.byref(err))
        if st != 0:
            raise _fail(st, err)
        self._own(out.value)  # type: ignore[arg-type]

    def _own(self, handle: int) -> None:
        """Takes ownership of a new `tg_verifier` handle, and makes its fast path."""
        self._handle = handle
        # Shares the handle's keys, rules and cache; lives on its own, so `verify` needs no
        # acquisition of the handle (see close).
        self._fast: Optional[Any] = _NativeVerifier(handle)

    @classmethod
    def _from_bytes(cls, keys: bytes, options: bytes) -> "Verifier":
        v = cls.__new__(cls)
        _Handle.__init__(v)
        v._init(keys, options)
        return v

    @classmethod
    def _adopt(cls, handle: int) -> "Verifier":
        """A Verifier owning `handle`, a new `tg_verifier` (from a KeySource)."""
        v = cls.__new__(cls)
        _Handle.__init__(v)
        v._own(handle)
        return v

    def close(self) -> None:
        """Frees the native handle (once the calls running on other threads return)."""
        self._fast = None
        super().close()

    def verify(self, token: Union[str, bytes], now: Optional[float] = None) -> VerifiedToken:
        """Verifies a JWT at `now` (the clock when None): form, header, key, signature, claims.
        Raises TokenError (`expired`, `invalid_signature`, `unknown_kid`, …)."""
        fast = self._fast  # this reference keeps it alive through a concurrent close()
        if fast is None:
            raise TollgateError(2000, "Verifier is closed")
        if now is not None:
            now = _now(now)
        if token.__class__ is not str and token.__class__ is not bytes:
            token = _bytes(token, "token")
        # One call: the clock read, the token verified with the GIL released, the claims built.
        return VerifiedToken(*fast.verify(token, now, _failure))

    def verify_jws(self, token: Union[str, bytes]) -> VerifiedToken:
        """Verifies only a JWS's form, header and signature (no claims; any payload bytes)."""
        t = _bytes(token, "token")
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        handle = self._acquire()
        try:
            st = _ffi.tg_verifier_verify_jws(handle, t, len(t), ctypes.byref(out), ctypes.byref(err))
        finally:
            self._release()
        if st != 0:
            raise _fail(st, err)
        return _read_token(out.value, t)  # type: ignore[arg-type]


_string_at = ctypes.string_at
_byref = ctypes.byref
_size_t = ctypes.c_size_t
_loads = json.loads


def _raw(getter: Callable[..., Any], handle: int) -> Optional[bytes]:
    n = _size_t()
    p = getter(handle, _byref(n))
    return _string_at(p, n.value) if p else None


def _read_token(t: int, token: bytes) -> VerifiedToken:
    """A VerifiedToken from a verified JWS (no claims) the C ABI wrote; frees the handle."""
    try:
        f = _ffi
        kid = _raw(f.tg_token_key_id, t)
        payload = _raw(f.tg_token_payload, t) or b""
        algorithm = (_raw(f.tg_token_algorithm, t) or b"").decode()
        header_b64 = token[: token.index(b".")]
        return VerifiedToken(header_b64, None, algorithm, kid.decode() if kid is not None else None, payload)
    finally:
        _ffi.tg_token_free(t)


# verify() and verify_jws() build a verifier (parsing keys is the expensive part) once per keys
# and options, and keep the last _CACHE_SIZE built (the oldest goes first). The cache is keyed by the call's own arguments when
# they are hashable (keys as str or bytes, options as str or tuples): a hit serialises nothing.
# Otherwise (a mapping, lists) by the serialised documents. Lookups take no lock (a dict lookup is
# atomic under the GIL); an evicted verifier is freed when no thread still holds it.
_CACHE_SIZE = 32
_cache: Dict[Any, Verifier] = {}
_cache_lock = threading.Lock()


def _cached_verifier(key: Any, keys: bytes, options: bytes) -> Verifier:
    v = _cache.get(key)
    if v is None:
        v = Verifier._from_bytes(keys, options)
        with _cache_lock:
            v = _cache.setdefault(key, v)
            while len(_cache) > _CACHE_SIZE:
                del _cache[next(iter(_cache))]  # the oldest
    return v


def verify(
    token: Union[str, bytes],
    keys: Document,
    *,
    issuer: Union[str, Sequence[str], None] = None,
    audience: Union[str, Sequence[str], None] = None,
    leeway: Optional[int] = None,
    now: Optional[float] = None,
    typ: Optional[str] = None,
    required: Optional[Sequence[str]] = None,
    max_lifetime: Optional[int] = None,
    alg: Optional[str] = None,
) -> VerifiedToken:
    """Verifies a JWT with `keys` (see Verifier); returns its header and claims
    (`header, claims = verify(...)`). Raises TokenError for a rejected token and TollgateError
    for unusable keys or options. Verifiers are cached per (keys, options)."""
    key: Any = ("jwt", keys, issuer, audience, leeway, typ, required, max_lifetime, alg)
    try:
        v = _cache.get(key)
    except TypeError:  # a mapping or a list among the arguments: keyed by the documents
        key, v = None, None
    if v is None:
        k = _bytes(keys, "keys")
        o = _options(issuer, audience, leeway, typ, required, max_lifetime, alg, None, None)
        v = _cached_verifier(key or ("jwt", k, o), k, o)
    return v.verify(token, now)


def verify_jws(token: Union[str, bytes], keys: Document, *, alg: Optional[str] = None) -> VerifiedToken:
    """Verifies a JWS's signature only (no claims are read); see Verifier.verify_jws."""
    k = _bytes(keys, "keys")
    o = _options(None, None, None, None, None, None, alg, None, None)
    return _cached_verifier(("jws", k, o), k, o).verify_jws(token)


# After everything it builds on: the key source uses Engine, Verifier and the helpers above.
from ._keysource import KeySource, KeySourceVerifier, discover  # noqa: E402
from ._apikeys import GeneratedApiKey, check_api_key, generate_api_key, hash_api_key  # noqa: E402
from ._store import (  # noqa: E402
    InvalidationFollower,
    RedisStore,
    ReplayStore,
    Store,
    StoredRecord,
    records_from_snapshot,
    session_record,
)
from ._webhooks import (  # noqa: E402
    ReplayGuard,
    WebhookVerifier,
    generate_webhook_key_pair,
    generate_webhook_secret,
    sign_webhook,
    verify_webhook,
)
