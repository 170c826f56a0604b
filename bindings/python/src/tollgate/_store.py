"""Records in a shared store (docs/records.md): records in store form (`records_from_snapshot`,
over tg_store_records_from_snapshot, and `session_record`, over tg_store_session_record), and
RedisStore, the store `Engine.check_with_store` and
`WebhookVerifier.verify_for_store` read and write, on Redis through redis-py.

redis-py is imported when a RedisStore is made, so the rest of the package works without it
(`pip install 'tollgate[redis]'`). Any object with `get(key) -> bytes | None` (and
`claim(key, ttl) -> bool` for webhooks) serves as a store; RedisStore follows the reference host
(server/src/store.rs): single-key commands only (`GET`, `SET … EXAT`, `SET … NX EX`,
`PUBLISH`), so a Redis Cluster behind a proxy serves unchanged.
"""

from __future__ import annotations

import base64
import ctypes
import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Protocol, Tuple, Union

from . import _ffi
from . import Document, StoreUnavailable, TollgateError, _bytes, _fail, _take_string
from ._apikeys import GeneratedApiKey, Pepper, _pepper, hash_api_key

if TYPE_CHECKING:
    from . import Engine

#: The channel writers publish changed store keys on, and every host follows.
INVALIDATE_CHANNEL = "tollgate:invalidate"
#: How long the store keeps a record past its `expires`, in seconds: until then a caller still
#: hears why (`api_key_expired`, `session_expired`), not `unknown_api_key`.
EXPIRED_RECORDS_KEPT_SECONDS = 86_400
#: The longest answer worth reading: the engine refuses records above 64 KiB anyway.
MAX_ANSWER_BYTES = 64 * 1024 + 1
#: Redis refuses an `EXAT` whose milliseconds overflow a signed 64-bit integer.
_MAX_EXAT = 2**53

_BASE64URL_32 = re.compile(r"^[A-Za-z0-9_-]{43}$")

_UNKNOWN_API_KEY = 451
_INVALID_RECORD = 802

_log = logging.getLogger("tollgate.store")


class Store(Protocol):
    """What `Engine.check_with_store` needs of a store (RedisStore, or a dict of bytes in tests).
    A store that does not answer raises StoreUnavailable (or an OSError)."""

    def get(self, key: str) -> Optional[bytes]:
        """The record stored under `key` (`tollgate:<kind>:<hash>`), or None."""
        ...


class ReplayStore(Protocol):
    """What `WebhookVerifier.verify_for_store` needs of a store (RedisStore). A store that does
    not answer raises StoreUnavailable (or an OSError)."""

    def claim(self, key: str, ttl: int) -> bool:
        """`SET key <token> NX EX ttl`: whether this call newly set the key."""
        ...


@dataclass(frozen=True)
class StoredRecord:
    """A record ready to write to the store: `value` under `key`, expiring a day after `expires`
    (Unix seconds) when it has one."""

    key: str
    """`tollgate:<kind>:<64 hex digits>`."""
    value: str
    """The record, JSON text (with `"v": 1` and `"record": "<kind>"`)."""
    expires: Optional[int] = None
    """The record's own `expires` (sessions, keys, revoked tokens); None for users' roles."""

    @property
    def kind(self) -> str:
        """`session`, `api_key`, `user` or `revoked_jti`."""
        return self.key.split(":")[1]


def records_from_snapshot(document: Document) -> Tuple[Dict[str, Any], List[StoredRecord]]:
    """Moves a key snapshot's records into store form: returns `(rest, records)`, where `rest` is
    the snapshot without `users`, `api_keys` and `revoked_jti` (keys, peppers: what an engine
    whose policy keeps records in the store loads) and `records` what to write to the store
    (`RedisStore.put`). A one-record document (`{"api_keys": {"p": [record]}}`, `{"users": {…}}`,
    `{"revoked_jti": ["…"]}`) gives one record: what a key's issuer or a revocation writes.
    Raises TollgateError `invalid_snapshot` or `invalid_record`."""
    data = _bytes(document, "snapshot")
    out, err = ctypes.c_void_p(), ctypes.c_void_p()
    st = _ffi.tg_store_records_from_snapshot(data, len(data), ctypes.byref(out), ctypes.byref(err))
    if st != 0:
        raise _fail(st, err)
    doc = json.loads(_take_string(out) or "{}")
    records = [StoredRecord(r["key"], r["value"], r.get("expires")) for r in doc["records"]]
    return doc["snapshot"], records


#: A session as JSON (docs/records.md): a dict, its JSON text or UTF-8 bytes.
Session = Union[Mapping[str, Any], str, bytes, bytearray, memoryview]


def session_record(session_id: Union[str, bytes], session: Session, pepper: Pepper = None) -> StoredRecord:
    """A server-side session's record, for a login service that writes the sessions gateways
    check (docs/records.md): `session_id` is the session id (the cookie's value, 1–512 bytes),
    `session` the session (`{"subject", "kind", "provider", "expires", "created", "roles",
    "tenants", "revoked"}`; `subject` and `expires`, Unix seconds, are required, and `provider`
    too when the policy has several session providers), `pepper` the provider's
    pepper (its bytes, not the snapshot's base64url) when it has `"hashing": "hmac-sha256"`, None
    for plain SHA-256. Returns the record under `tollgate:session:<hash of the id>`, with the
    session's `expires`: write it with `RedisStore.put` (or `store_session`); signing out is the
    same with `"revoked": true`. Raises TollgateError `invalid_record` for a session or id the
    library refuses (missing or unknown members, an id of 0 or over 512 bytes)."""
    i = _bytes(session_id, "session id")
    k = _pepper(pepper)
    data = _bytes(session, "session")
    out, err = ctypes.c_void_p(), ctypes.c_void_p()
    st = _ffi.tg_store_session_record(i, len(i), k or None, len(k), data, len(data), ctypes.byref(out), ctypes.byref(err))
    if st != 0:
        raise _fail(st, err)
    doc = json.loads(_take_string(out) or "{}")
    return StoredRecord(doc["key"], doc["value"], doc.get("expires"))


def _api_key_record(record: Mapping[str, Any]) -> StoredRecord:
    """The one StoredRecord of an API-key record (as `generate_api_key` returns it)."""
    _, records = records_from_snapshot({"api_keys": {"_": [dict(record)]}})
    if len(records) != 1:
        raise TollgateError(_INVALID_RECORD, f"expected one record, got {len(records)}")
    return records[0]


def _api_key_store_key(digest: str) -> str:
    """The store key of an API key's hash (`sha256:<base64url>` or `hmac-sha256:<base64url>` of 32
    bytes, strict unpadded base64url as the library writes it): `tollgate:api_key:<hex>`."""
    label, _, b64 = digest.partition(":")
    raw = b""
    if label in ("sha256", "hmac-sha256") and _BASE64URL_32.match(b64):
        raw = base64.urlsafe_b64decode(b64 + "=")
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != b64:  # not canonical
            raw = b""
    if len(raw) != 32:
        raise ValueError(f"{digest!r} is not sha256:<base64url> or hmac-sha256:<base64url> of 32 bytes")
    return f"tollgate:api_key:{raw.hex()}"


def _redacted(url: str) -> str:
    """`url` without its password, for messages: no user info, and no query (redis-py takes
    `?password=…` there). A password may hold any character when the URL is not encoded as it
    should be (`?`, `/`, `@`), so where it ends is not always knowable: then nothing is shown."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, colon, rest = url.partition(":")
        return f"{scheme}:…" if colon and ("@" in rest or "?" in rest) else url
    if "@" in rest and "?" in rest:
        return f"{scheme}://…"
    if "@" in rest:
        return f"{scheme}://…@{rest.rsplit('@', 1)[1]}"
    if "?" in rest:
        return f"{scheme}://{rest.partition('?')[0]}?…"
    return url


def _redis() -> Any:
    try:
        import redis
    except ImportError as e:
        raise ImportError(
            "tollgate.RedisStore needs redis-py: pip install 'tollgate[redis]' (or pip install 'redis>=5')"
        ) from e
    return redis


class RedisStore:
    """A Redis store (`redis://[:password@]host:port[/db]`, `rediss://…`, `unix:///path`) for
    `Engine.check_with_store` and `WebhookVerifier.verify_for_store`; thread-safe (a pool of
    connections), share one across threads.

    `timeout` (seconds, above 0) bounds each connection attempt and each reply; a failed
    operation is tried once more on a new connection (a restarted server is used again at
    once), so one takes at most about twice that (a webhook claim that finds its key set reads it
    back: about four times). Nothing is connected until the first
    operation: a host starts while the store is down and uses it once it is up. Every failure to
    talk to Redis (refused, timed out, an error reply) raises StoreUnavailable.
    """

    def __init__(self, url: str, timeout: float = 0.25) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout must be seconds above 0, not {timeout!r}")
        redis = _redis()
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url: str = _redacted(url)
        """The store's address, without a password."""
        self.timeout: float = float(timeout)
        self._raw_url = url
        self._redis = redis
        self._errors: Tuple[type, ...] = (redis.exceptions.RedisError, OSError)
        try:
            self._client = redis.Redis.from_url(
                url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError:
            # Not redis-py's text: for a password with a '/' it quotes part of it ("Port could
            # not be cast to integer value as 'pa'").
            raise ValueError(
                f"{self.url} is not a Redis URL redis-py reads (percent-encode the password's reserved characters)"
            ) from None

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, timeout={self.timeout!r})"

    def _unavailable(self, what: str, e: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"{what} on {self.url}: {e}")

    def get(self, key: str) -> Optional[bytes]:
        """The record stored under `key`, or None (`GET`)."""
        try:
            value = self._client.get(key)
        except self._errors as e:
            raise self._unavailable("GET", e) from e
        if value is not None and len(value) > MAX_ANSWER_BYTES:
            return bytes(value[:MAX_ANSWER_BYTES])
        return value  # type: ignore[no-any-return]

    def claim(self, key: str, ttl: int) -> bool:
        """Claims `key` for `ttl` seconds (at least 1) if nobody holds it (`SET key <token> NX EX
        ttl`, the token random per call): whether this call set it.

        The client tries a command once more after a connection failure; a SET NX that ran but
        whose reply was lost then finds the key set. The token tells that from another claim:
        otherwise a genuine delivery would be refused as a replay."""
        token = secrets.token_hex(16)
        try:
            if self._client.set(key, token, nx=True, ex=max(int(ttl), 1)):
                return True
            held = self._client.get(key)  # bytes, or str with decode_responses
            return held in (token, token.encode())
        except self._errors as e:
            raise self._unavailable("SET NX", e) from e

    def put(self, records: Iterable[StoredRecord]) -> None:
        """Writes each record under its key (`SET key value [EXAT expires + 86400]`) and publishes
        the key on `tollgate:invalidate`, so that every host following it drops its cached copy
        at once. In batches of one pipeline round trip each; a failure raises StoreUnavailable
        (the records before it may be written: writing them again is harmless)."""
        batch = self._client.pipeline(transaction=False)
        pending = 0
        try:
            for r in records:
                if r.expires is None:
                    batch.set(r.key, r.value)
                else:
                    batch.set(r.key, r.value, exat=min(int(r.expires) + EXPIRED_RECORDS_KEPT_SECONDS, _MAX_EXAT))
                batch.publish(INVALIDATE_CHANNEL, r.key)
                pending += 1
                if pending == 500:
                    batch.execute()
                    pending = 0
            if pending:
                batch.execute()
        except self._errors as e:
            raise self._unavailable("SET", e) from e
        finally:
            batch.reset()

    def store_api_key(self, record: Union[Mapping[str, Any], GeneratedApiKey]) -> StoredRecord:
        """Stores an API key's (or personal access token's) record: a dict as `generate_api_key`
        returns it in `.record` (with `kind`, `tenant`, `roles`, `scopes`, `expires` set as
        needed), or the GeneratedApiKey itself. Returns what was written. Raises TollgateError
        `invalid_record`/`invalid_snapshot` for a record the library refuses."""
        if isinstance(record, GeneratedApiKey):
            record = record.record
        stored = _api_key_record(record)
        self.put([stored])
        return stored

    def store_session(self, session_id: Union[str, bytes], session: Session, pepper: Pepper = None) -> StoredRecord:
        """Stores a server-side session's record (`session_record`: the session id, the session,
        the provider's pepper when it hashes with one) and publishes its key, so that every host
        following invalidations uses it at once. Signing out: the same session with
        `"revoked": true` (`session_revoked` everywhere as soon as they hear). Returns what was
        written. Raises TollgateError `invalid_record` for a session the library refuses,
        StoreUnavailable."""
        stored = session_record(session_id, session, pepper)
        self.put([stored])
        return stored

    def revoke_api_key(
        self,
        key: Optional[str] = None,
        *,
        hash: Optional[str] = None,
        pepper: Pepper = None,
    ) -> str:
        """Revokes an API key in the store, as `tollgate apikey revoke --store` does: reads its
        record, sets `"revoked": true`, writes it back and publishes its key (every host refuses
        the key with `api_key_revoked` as soon as it hears). Give the key (hashed with `pepper`
        when the provider hashes with HMAC-SHA256) or its record's `hash`. Returns the record's
        id. Raises TollgateError `unknown_api_key` when the store holds no record for it,
        `invalid_record` when what it holds is not that key's record, StoreUnavailable."""
        if (key is None) == (hash is None):
            raise TypeError("give the key or hash=, not both")
        digest = hash if hash is not None else hash_api_key(key, pepper)  # type: ignore[arg-type]
        store_key = _api_key_store_key(digest)
        found = self.get(store_key)
        if found is None:
            raise TollgateError(_UNKNOWN_API_KEY, f"{self.url} holds no record under {store_key}")
        try:
            doc = json.loads(found)
        except ValueError as e:
            raise TollgateError(_INVALID_RECORD, f"the record under {store_key} is not JSON: {e}") from None
        if not isinstance(doc, dict):
            raise TollgateError(_INVALID_RECORD, f"the record under {store_key} is not a JSON object")
        doc.pop("v", None)
        doc.pop("record", None)
        doc["revoked"] = True
        try:
            stored = _api_key_record(doc)
        except TollgateError as e:
            raise TollgateError(
                _INVALID_RECORD, f"the record under {store_key} is not an API-key record: {e.message}"
            ) from None
        if stored.key != store_key:
            raise TollgateError(_INVALID_RECORD, f"the record under {store_key} holds another key's hash; left as it is")
        self.put([stored])
        return str(doc.get("id", ""))

    def follow_invalidations(self, engine: "Engine") -> "InvalidationFollower":
        """Starts a daemon thread following `tollgate:invalidate`: each message (a store key, or
        `*`) is passed to `engine.invalidate`, and `*` each time the subscription is (re)made,
        since messages may have been missed meanwhile. A lost subscription is made again after
        0.5 s, doubling up to 5 s. Returns the follower; `stop()` ends it (closing the engine
        does too)."""
        return InvalidationFollower(self, engine)

    def close(self) -> None:
        """Closes the store's connections (a later operation opens new ones)."""
        self._client.close()

    def __enter__(self) -> "RedisStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InvalidationFollower:
    """A daemon thread passing the messages of `tollgate:invalidate` to an engine (made by
    `RedisStore.follow_invalidations`). `stop()` (or a `with` block) ends it."""

    #: Backoff before subscribing again: 0.5 s, doubling, at most 5 s (as server/src/store.rs).
    BACKOFF_INITIAL = 0.5
    BACKOFF_MAX = 5.0
    #: How often the thread looks at its stop flag while no message comes.
    POLL_SECONDS = 0.1

    def __init__(self, store: RedisStore, engine: "Engine") -> None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.store = store
        self.engine = engine
        # A client of its own, without retries: a broken subscription is noticed (and followed by
        # "*") here rather than silently re-made by redis-py.
        self._client = store._redis.Redis.from_url(
            store._raw_url,
            socket_timeout=max(store.timeout, 1.0),
            socket_connect_timeout=store.timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        #: How many times a subscription was made (each followed by `invalidate("*")`).
        self.subscriptions = 0
        self._thread = threading.Thread(target=self._run, name=f"tollgate-invalidations {store.url}", daemon=True)
        self._thread.start()

    @property
    def subscribed(self) -> bool:
        """Whether the subscription is up now."""
        return self._subscribed.is_set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait_subscribed(self, timeout: Optional[float] = None) -> bool:
        """Waits until the subscription is up (and the engine's cache was dropped once): whether
        it is, after at most `timeout` seconds."""
        return self._subscribed.wait(timeout)

    def _run(self) -> None:
        backoff = self.BACKOFF_INITIAL
        errors = self.store._errors
        while not self._stop.is_set():
            pubsub = self._client.pubsub()
            try:
                pubsub.subscribe(INVALIDATE_CHANNEL)
                while not self._stop.is_set():
                    if self.engine.closed:
                        return
                    message = pubsub.get_message(timeout=self.POLL_SECONDS)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        # Subscribed first, then everything dropped: no change is missed.
                        self.engine.invalidate("*")
                        self.subscriptions += 1
                        self._subscribed.set()
                        backoff = self.BACKOFF_INITIAL
                    elif message["type"] == "message":
                        self._invalidate(message["data"])
            except errors as e:
                if self._subscribed.is_set() or backoff == self.BACKOFF_INITIAL:
                    _log.warning("tollgate: following %s on %s: %s; retrying in %.1f s", INVALIDATE_CHANNEL, self.store.url, e, backoff)
            except TollgateError:  # the engine was closed: nothing left to follow for
                return
            finally:
                self._subscribed.clear()
                try:
                    pubsub.close()
                except errors:
                    pass
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self.BACKOFF_MAX)

    def _invalidate(self, data: Any) -> None:
        key = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else str(data)
        try:
            self.engine.invalidate(key)
        except TollgateError as e:
            if self.engine.closed:
                raise
            _log.warning("tollgate: ignored a message on %s: %s", INVALIDATE_CHANNEL, e)

    def stop(self, timeout: Optional[float] = 5.0) -> None:
        """Ends the thread (within about 0.1 s) and closes its connection."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        try:
            self._client.close()
        except self.store._errors:
            pass

    def __enter__(self) -> "InvalidationFollower":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
