"""KeySource: one JWKS URL kept fresh by the library's refresher (tg_refresher), fetched with the
standard library. The schedule, backoff, staleness and unknown-kid rate limit are the library's
(core/src/refresh.rs); this module only does the HTTP and the thread."""

from __future__ import annotations

import ctypes
import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _ffi
from . import Document, Engine, TollgateError, VerifiedToken, Verifier, _bytes, _fail, _Handle, _header_array, _options, _take_string

#: The library's largest (and default) JWKS body, limits::MAX_KEY_SET_BYTES.
DEFAULT_MAX_BODY_BYTES = 1 << 20
#: The largest OpenID configuration the library reads (discovery::MAX_DISCOVERY_BYTES).
MAX_DISCOVERY_BYTES = 64 << 10
#: The longest the background thread sleeps at once, so that a clock jump is noticed.
MAX_SLEEP_SECONDS = 60.0

_log = logging.getLogger("tollgate.keysource")

_KEY_SET_FETCH_FAILED = 508


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Follows no redirect: the 3xx is the answer (a failed fetch). A redirect could lead where
    the library would not fetch from (plain http to another host, say)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


# Only http(s): no file://, ftp:// or data: handlers, whatever URL reaches the opener.
_opener = urllib.request.OpenerDirector()
for _handler in (
    urllib.request.ProxyHandler(),
    urllib.request.HTTPHandler(),
    urllib.request.HTTPSHandler(),
    urllib.request.HTTPDefaultErrorHandler(),
    urllib.request.HTTPErrorProcessor(),
    urllib.request.UnknownHandler(),
    _NoRedirects(),
):
    _opener.add_handler(_handler)


def _check_url(url: str) -> None:
    """Raises TollgateError `invalid_discovery` for a URL the library would not fetch keys from:
    https, or http to a loopback host; no credentials or fragment."""
    u = url.encode("utf-8")
    err = ctypes.c_void_p()
    st = _ffi.tg_discovery_check_url(u, len(u), ctypes.byref(err))
    if st != 0:
        raise _fail(st, err)


def _get(url: str, timeout: float, cap: int) -> Tuple[int, List[Tuple[str, str]], bytes]:
    """GETs `url`: (status, headers, at most cap + 1 bytes of body). Raises OSError (URLError,
    timeouts) when no response came back.

    The whole fetch takes at most `timeout` seconds: urllib's own timeout bounds each socket
    operation, not the fetch, so a server sending its body a byte at a time (or a name that does
    not resolve) could hold it for hours, and a key set past its staleness with it. The fetch
    runs on a thread of its own; past the deadline it is given up (TimeoutError), and the thread
    stops reading at that deadline too."""
    deadline = time.monotonic() + timeout
    outcome: Dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["ok"] = _get_until(url, timeout, cap, deadline)
        except BaseException as e:  # handed to the caller as it is
            outcome["error"] = e

    worker = threading.Thread(target=run, name=f"tollgate-fetch {url}", daemon=True)
    worker.start()
    worker.join(timeout)
    if "ok" in outcome:
        return outcome["ok"]  # type: ignore[no-any-return]
    if "error" in outcome:
        raise outcome["error"]
    raise TimeoutError(f"no complete answer within {timeout} s")


def _get_until(url: str, timeout: float, cap: int, deadline: float) -> Tuple[int, List[Tuple[str, str]], bytes]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _opener.open(request, timeout=timeout) as response:
            return int(response.status), list(response.headers.items()), _read_until(response, cap + 1, deadline)
    except urllib.error.HTTPError as e:
        # Only the status counts: a refusal's body is not read.
        e.close()
        return int(e.code), list(e.headers.items()) if e.headers else [], b""


def _read_until(response: Any, limit: int, deadline: float) -> bytes:
    """At most `limit` bytes of `response`'s body (an http.client.HTTPResponse), read as they
    arrive until `deadline`."""
    chunks: List[bytes] = []
    total = 0
    while total < limit:
        if time.monotonic() > deadline:
            raise TimeoutError("the body did not arrive in time")
        chunk = response.read1(min(64 * 1024, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _now(clock: Callable[[], float]) -> int:
    return max(0, int(clock()))


def discover(issuer: str, *, timeout: float = 10.0) -> str:
    """OpenID Connect discovery: fetches `issuer`'s configuration and returns its `jwks_uri`.

    The configuration's `issuer` must equal `issuer` exactly and `jwks_uri` must be https (or
    http to a loopback host): otherwise TollgateError `invalid_discovery`. A fetch that fails
    raises TollgateError `key_set_fetch_failed`."""
    i = issuer.encode("utf-8")
    out = ctypes.c_void_p()
    err = ctypes.c_void_p()
    st = _ffi.tg_discovery_configuration_url(i, len(i), ctypes.byref(out), ctypes.byref(err))
    if st != 0:
        raise _fail(st, err)
    url = _take_string(out) or ""
    try:
        status, _headers, body = _get(url, timeout, MAX_DISCOVERY_BYTES)
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise TollgateError(_KEY_SET_FETCH_FAILED, f"fetching the OpenID configuration {url} failed: {e}") from e
    if status != 200:
        raise TollgateError(_KEY_SET_FETCH_FAILED, f"the OpenID configuration {url} answered HTTP {status}")
    out = ctypes.c_void_p()
    err = ctypes.c_void_p()
    st = _ffi.tg_discovery_jwks_uri(body, len(body), i, len(i), ctypes.byref(out), ctypes.byref(err))
    if st != 0:
        raise _fail(st, err)
    return _take_string(out) or ""


class KeySource(_Handle):
    """One JWKS URL's key set, kept fresh: thread-safe, share it across threads.

        source = tollgate.KeySource("https://idp.example/jwks")   # or KeySource.from_issuer(...)
        source.refresh()                                          # the first fetch, now
        source.start()                                            # a background refresher
        verifier = source.verifier(issuer="https://idp.example", audience="api")  # follows it

    The library decides when to fetch (the response's `Cache-Control: max-age` within `min_ttl`..
    `max_ttl`; exponential backoff after failures, the last good set kept meanwhile; a set not
    refreshed for `stale_after` is no longer served: `key_set_stale`) and whether an unknown `kid`
    justifies an early fetch (at most once per `unknown_kid_interval`, however many tokens carry
    them). `config` takes tg_refresher_new's members: `min_ttl`, `max_ttl`, `default_ttl`,
    `unknown_kid_interval`, `retry_initial`, `retry_max`, `stale_after` (seconds),
    `max_body_bytes`, `algorithms` (e.g. `["ES256"]`).

    `engine` and `provider` (together): the refresher keeps only the keys the engine's policy
    allows that provider, and every good fetch is swapped into the engine as its keys; after a
    failed fetch the last good set stays there until it goes stale, then the provider's keys are
    emptied and its tokens refused until a fetch succeeds (fail closed). `clock`
    returns Unix seconds (default `time.time`; tests pass a fake one). `timeout` bounds each fetch,
    whole (connecting, the response and its body), in seconds. Nothing is fetched until `refresh()`, `refresh_if_due()` or `start()`.

    `close()` (or a `with` block) stops the thread, frees the native refresher and releases a
    bound engine's provider (see `close`); its verifiers then raise TollgateError 2000
    (`null_parameter`: closed). Raises TollgateError `invalid_options` for a bad config or unknown provider,
    `invalid_discovery` for a URL it may not fetch (https, or http to a loopback host). It follows
    no redirect: a 3xx is a failed fetch.
    """

    _free = staticmethod(_ffi.tg_refresher_free)

    def __init__(
        self,
        jwks_uri: str,
        *,
        config: Optional[Mapping[str, Any]] = None,
        engine: Optional[Engine] = None,
        provider: Optional[str] = None,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        super().__init__()
        if (engine is None) != (provider is None):
            raise TypeError("engine and provider go together")
        _check_url(jwks_uri)
        self.jwks_uri: str = jwks_uri
        self._engine = engine
        self._provider = provider.encode("utf-8") if provider is not None else None
        self._clock = clock
        self._timeout = timeout
        cfg = dict(config or {})
        cap = cfg.get("max_body_bytes")
        # A bad value is the library's to refuse; until then read at most its largest body.
        self._cap = cap if isinstance(cap, int) and 0 < cap <= DEFAULT_MAX_BODY_BYTES else DEFAULT_MAX_BODY_BYTES
        document = json.dumps(cfg, separators=(",", ":")).encode() if cfg else b""
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        if engine is not None and self._provider is not None:
            handle = engine._acquire()
            try:
                st = _ffi.tg_refresher_new_for_provider(
                    handle,
                    self._provider,
                    len(self._provider),
                    document or None,
                    len(document),
                    ctypes.byref(out),
                    ctypes.byref(err),
                )
            finally:
                engine._release()
        else:
            st = _ffi.tg_refresher_new(document or None, len(document), ctypes.byref(out), ctypes.byref(err))
        if st != 0:
            raise _fail(st, err)
        self._handle = out.value
        # One fetch at a time (the background thread and refresh() callers); the native
        # refresher has its own lock for its state.
        self._fetching = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Whether the last swap into the bound engine took a stale set out of it (so that a stale
        # set is swapped out once, not at every refresh_if_due).
        self._stale_served = False
        self._thread: Optional[threading.Thread] = None

    @classmethod
    def from_issuer(cls, issuer: str, **kwargs: Any) -> "KeySource":
        """A KeySource for the `jwks_uri` of `issuer`'s OpenID configuration (see `discover`);
        `kwargs` as for KeySource. Raises TollgateError `invalid_discovery` when the
        configuration names another issuer or an unacceptable `jwks_uri`."""
        return cls(discover(issuer, timeout=float(kwargs.get("timeout", 10.0))), **kwargs)

    # -- fetching

    def _now(self) -> int:
        return _now(self._clock)

    def _fetch(self) -> None:
        """Fetches once and reports it (the caller holds `_fetching`); raises TollgateError for a
        failed fetch, after recording it."""
        try:
            status, headers, body = _get(self.jwks_uri, self._timeout, self._cap)
        except (OSError, ValueError, http.client.HTTPException) as e:
            reason = f"{type(e).__name__}: {e}".encode("utf-8", "replace")
            now = self._now()
            handle = self._acquire()
            try:
                _ffi.tg_refresher_on_fetch_failed(handle, reason, len(reason), now)
            finally:
                self._release()
            self._swap_after_failure()
            raise TollgateError(_KEY_SET_FETCH_FAILED, f"fetching the key set failed: {reason.decode()}") from e
        array, count, keep = _header_array([(n, v) for n, v in headers if n.lower() == "cache-control"])
        err = ctypes.c_void_p()
        now = self._now()
        handle = self._acquire()
        try:
            st = _ffi.tg_refresher_on_fetched(handle, status, array, count, body, len(body), now, ctypes.byref(err))
        finally:
            self._release()
        del keep
        if st != 0:
            failure = _fail(st, err)
            self._swap_after_failure()
            raise failure
        if self._engine is not None:
            self._swap_bound()

    def _swap_after_failure(self) -> None:
        """Brings a failed fetch's consequence to the bound engine: the last good set while it is
        fresh, no keys once it is stale (fail closed). The fetch's own error is what the caller
        sees; this swap's error adds nothing to it."""
        if self._engine is not None:
            try:
                self._swap_bound()
            except TollgateError:
                pass

    def _swap_bound(self) -> None:
        """Swaps into the bound engine and records whether that took a stale set out of it."""
        assert self._engine is not None
        try:
            self.swap_into(self._engine, self._provider or b"")
        except TollgateError as e:
            self._stale_served = e.code == "key_set_stale"
            raise
        self._stale_served = False

    def refresh(self) -> None:
        """Fetches now, whatever the schedule says, and reports it (swapping into the bound engine
        on success). Raises TollgateError `key_set_fetch_failed` when the fetch failed (the last
        good set stays; the next scheduled attempt backs off)."""
        with self._fetching:
            self._fetch()

    def refresh_if_due(self) -> bool:
        """Fetches when the schedule (or an unknown kid) says so; True when it fetched. A failed
        fetch is recorded (see `status()`), not raised. With a bound engine, a set that has gone
        stale since the last fetch leaves the engine here too (fail closed), fetch due or not:
        call it again at `status()["stale_at"]` (the background thread does)."""
        with self._fetching:
            if not self.due():
                self._swap_if_newly_stale()
                return False
            try:
                self._fetch()
            except TollgateError:
                pass
            return True

    def _swap_if_newly_stale(self) -> None:
        """Empties the bound engine's keys for this source once its set has gone stale between
        fetches (the caller holds `_fetching`); once, not at every call."""
        if self._engine is None or self._stale_served:
            return
        if self.status().get("stale"):
            self._swap_after_failure()

    def due(self) -> bool:
        """Whether a fetch is due at the clock's now."""
        handle = self._acquire()
        try:
            return bool(_ffi.tg_refresher_poll(handle, self._now(), None))
        finally:
            self._release()

    def next_fetch(self) -> int:
        """When the next fetch is due (Unix seconds; the clock's now when due already)."""
        until = ctypes.c_uint64(0)
        now = self._now()
        handle = self._acquire()
        try:
            due = _ffi.tg_refresher_poll(handle, now, ctypes.byref(until))
        finally:
            self._release()
        return now if due else int(until.value)

    def on_unknown_kid(self, kid: Union[str, bytes]) -> bool:
        """Call when a token's `kid` was `unknown_kid`: True when a fetch is now due (at most once
        per `unknown_kid_interval`; never inside a failure backoff, nor for a kid the set has).
        Wakes the background thread when there is one; without one, call `refresh_if_due()`."""
        k = kid.encode("utf-8") if isinstance(kid, str) else bytes(kid)
        handle = self._acquire()
        try:
            fetch = bool(_ffi.tg_refresher_on_unknown_kid(handle, k, len(k), self._now()))
        finally:
            self._release()
        if fetch:
            self._wake.set()
        return fetch

    # -- using the set

    def verifier(
        self,
        options: Optional[Document] = None,
        *,
        issuer: Union[str, Sequence[str], None] = None,
        audience: Union[str, Sequence[str], None] = None,
        leeway: Optional[int] = None,
        typ: Optional[str] = None,
        required: Optional[Sequence[str]] = None,
        max_lifetime: Optional[int] = None,
        cache: Union[bool, Mapping[str, int], None] = None,
    ) -> "KeySourceVerifier":
        """A verifier over the source's key set that follows it: each `verify` uses the set of
        the last good fetch (a rotation reaches it at once) and raises `key_set_stale` once that
        set is stale, so a verifier kept for the life of a process never trusts keys the
        identity provider has dropped. `options` is tg_verifier_new's JSON (without
        `alg`/`kid`), or use the keywords of Verifier. Raises TollgateError
        `key_set_fetch_failed` before any good fetch and `key_set_stale` once the set is stale,
        here and in `verify`."""
        if options is not None:
            o = _bytes(options, "options")
        else:
            o = _options(issuer, audience, leeway, typ, required, max_lifetime, None, None, cache)
        return KeySourceVerifier(self, o)

    def _generation(self, now: int) -> int:
        """The generation of the set served at `now` (tg_refresher_generation)."""
        out = ctypes.c_uint64(0)
        err = ctypes.c_void_p()
        handle = self._acquire()
        try:
            st = _ffi.tg_refresher_generation(handle, now, ctypes.byref(out), ctypes.byref(err))
        finally:
            self._release()
        if st != 0:
            raise _fail(st, err)
        return int(out.value)

    def _verifier_now(self, o: bytes, now: int) -> Verifier:
        """A Verifier over the set served at `now`, with the options document `o`."""
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        handle = self._acquire()
        try:
            st = _ffi.tg_refresher_verifier(handle, o or None, len(o), now, ctypes.byref(out), ctypes.byref(err))
        finally:
            self._release()
        if st != 0:
            raise _fail(st, err)
        return Verifier._adopt(out.value)  # type: ignore[arg-type]

    def swap_into(self, engine: Engine, provider: Union[str, bytes]) -> None:
        """Swaps the current set into `engine` as `provider`'s keys (atomically; the rest of its
        snapshot stays). With no set to serve it empties them and raises TollgateError
        `key_set_fetch_failed` / `key_set_stale`; `invalid_snapshot` for no such provider. From
        then on `engine.swap_keys` keeps the provider's keys, until
        `engine.release_provider_keys(provider)`: call it when you stop swapping."""
        p = provider.encode("utf-8") if isinstance(provider, str) else bytes(provider)
        err = ctypes.c_void_p()
        now = self._now()
        handle = self._acquire()
        try:
            engine_handle = engine._acquire()
            try:
                st = _ffi.tg_refresher_swap_into(handle, engine_handle, p, len(p), now, ctypes.byref(err))
            finally:
                engine._release()
        finally:
            self._release()
        if st != 0:
            raise _fail(st, err)

    def status(self) -> Dict[str, Any]:
        """The refresher's state at the clock's now: `fetched_at`, `next_fetch`, `failures`,
        `stale`, `last_error` ({`code`, `message`} or None), `kids`, `skipped`."""
        out = ctypes.c_void_p()
        now = self._now()
        handle = self._acquire()
        try:
            st = _ffi.tg_refresher_status_json(handle, now, ctypes.byref(out))
        finally:
            self._release()
        if st != 0:
            raise TollgateError(st)
        result: Dict[str, Any] = json.loads(_take_string(out) or "{}")
        return result

    # -- the background thread

    def start(self) -> "KeySource":
        """Starts a daemon thread that fetches whenever the schedule or `on_unknown_kid` says so
        (once at once: the first poll is due). Returns self. Idempotent."""
        with self._lock:
            if self._closing:
                raise TollgateError(2000, "KeySource is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"tollgate-keysource {self.jwks_uri}", daemon=True)
                self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            delay = MAX_SLEEP_SECONDS
            try:
                self.refresh_if_due()
                wake_at = self.next_fetch()
                if self._engine is not None:
                    # Also wake when the set goes stale, so that it leaves the engine on time.
                    status = self.status()
                    if not status.get("stale") and status.get("stale_at") is not None:
                        wake_at = min(wake_at, int(status["stale_at"]))
                delay = float(wake_at - self._clock())
            except TollgateError:
                if self._stop.is_set():  # closed meanwhile
                    return
                _log.warning("tollgate: key source %s: a refresh step failed; retrying", self.jwks_uri, exc_info=True)
            except Exception:  # the thread outlives any one failure (a clock that raised, say)
                _log.warning("tollgate: key source %s: a refresh step failed; retrying", self.jwks_uri, exc_info=True)
            self._wake.wait(min(max(delay, 0.0), MAX_SLEEP_SECONDS))

    def close(self) -> None:
        """Stops the background thread (waiting for a fetch under way) and frees the refresher.
        A bound engine is released (`Engine.release_provider_keys`): its provider has no keys
        until `swap_keys` sets them, since nothing would keep the last set fresh, or make it
        stale."""
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
            self._wake.set()
            thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join()
        was_open = not self.closed
        super().close()
        engine = getattr(self, "_engine", None)
        if was_open and engine is not None and self._provider is not None:
            try:
                engine.release_provider_keys(self._provider)
            except TollgateError:
                pass  # a closed engine needs nothing


class KeySourceVerifier:
    """Verifies tokens against a KeySource's current set, following it (`KeySource.verifier`):
    thread-safe. Each call asks the source which set it serves (one cheap native call); when a
    good fetch has brought another set it verifies with that one, and once the set is stale it
    raises `key_set_stale` (a verifier kept for the life of a process never trusts keys the
    identity provider has dropped). `close()` (or a `with` block) frees the native verifier it
    holds; a later call makes a new one."""

    def __init__(self, source: KeySource, options: bytes) -> None:
        self._source = source
        self._options = options
        self._lock = threading.Lock()
        self._held: Optional[Tuple[int, Verifier]] = None
        self._current(source._now())  # the options are checked, and the set asked for, now

    def _current(self, now: int) -> Verifier:
        generation = self._source._generation(now)  # raises key_set_fetch_failed / _stale
        held = self._held
        if held is not None and held[0] == generation:
            return held[1]
        with self._lock:
            held = self._held
            if held is None or held[0] != generation:
                # The one it replaces is left to the garbage collector: a thread may be verifying
                # with it right now.
                held = (generation, self._source._verifier_now(self._options, now))
                self._held = held
            return held[1]

    def verify(self, token: Union[str, bytes], now: Optional[float] = None) -> VerifiedToken:
        """As Verifier.verify (`now` is the time the claims are checked at), with the set the
        source serves at its own clock's time; also raises TollgateError `key_set_fetch_failed` /
        `key_set_stale` when it serves none."""
        return self._current(self._source._now()).verify(token, now)

    def verify_jws(self, token: Union[str, bytes]) -> VerifiedToken:
        """As Verifier.verify_jws, with the source's current set."""
        return self._current(self._source._now()).verify_jws(token)

    def close(self) -> None:
        """Frees the native verifier it holds (a later call makes a new one)."""
        with self._lock:
            held, self._held = self._held, None
        if held is not None:
            held[1].close()

    def __enter__(self) -> "KeySourceVerifier":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
