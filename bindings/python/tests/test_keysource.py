"""tollgate.KeySource against the shared JWKS server (tests/keysource/jwks_server.py, started on a
free port of 127.0.0.1 for this module and killed after it). Time is a fake clock: nothing
sleeps except where a test waits for the background thread."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any, Dict, Iterator, List

import pytest

import tollgate
from conftest import REPO

FIXTURES = REPO / "tests" / "keysource"
T0 = 1_767_225_600
ISSUER = "https://issuer.test"
POLICY = {
    "version": 1,
    "name": "keysource",
    "credentials": [{"name": "bearer", "header": "Authorization", "scheme": "Bearer"}],
    "providers": [
        {
            "name": "idp",
            "credentials": ["bearer"],
            "issuers": [ISSUER],
            "audiences": ["api"],
            "algorithms": ["ES256"],
        }
    ],
    "routes": [{"method": "GET", "path": "/v1/me"}],
}


def token(name: str) -> str:
    return (FIXTURES / f"token-{name}.txt").read_text().strip()


def kid(name: str) -> str:
    return str(json.loads((FIXTURES / f"key-{name}.pub.jwk").read_text())["keys"][0]["kid"])


class Clock:
    """A settable clock: KeySource(clock=Clock()) reads `t`."""

    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return float(self.t)


class Server:
    def __init__(self, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.jwks = f"{self.base}/jwks"

    def _call(self, path: str, body: Any = None) -> Dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(urllib.request.Request(self.base + path, data=data), timeout=5) as r:
            result: Dict[str, Any] = json.loads(r.read())
            return result

    def control(self, **change: Any) -> None:
        self._call("/control", change)

    def hits(self) -> int:
        return int(self._call("/hits")["jwks"])

    def discovery_hits(self) -> int:
        return int(self._call("/hits")["discovery"])


@pytest.fixture(scope="module")
def jwks_server() -> Iterator[Server]:
    process = subprocess.Popen(
        [sys.executable, str(FIXTURES / "jwks_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening "), line
        yield Server(int(line.split()[1]))
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def server(jwks_server: Server) -> Server:
    jwks_server.control(keys=["a"], mode="ok", status=500, max_age=300, issuer=None, reset_hits=True)
    return jwks_server


def verify(source: tollgate.KeySource, name: str, now: int) -> str:
    """`ok` or the refusal's code."""
    try:
        with source.verifier(issuer=ISSUER, audience="api") as v:
            v.verify(token(name), now=now)
        return "ok"
    except tollgate.TollgateError as e:
        return e.code


def test_first_fetch_then_verify(server: Server) -> None:
    clock = Clock()
    with tollgate.KeySource(server.jwks, clock=clock) as source:
        assert source.due()
        with pytest.raises(tollgate.TollgateError) as e:
            source.verifier()
        assert (e.value.code, e.value.number) == ("key_set_fetch_failed", 508)
        assert source.refresh_if_due()
        assert not source.refresh_if_due(), "not due again until max-age"
        assert source.next_fetch() == T0 + 300
        v = source.verifier(issuer=ISSUER, audience="api")
        assert v.verify(token("a"), now=T0).claims["sub"] == "user-a"  # type: ignore[index]
        assert verify(source, "b", T0) == "unknown_kid"
        status = source.status()
        assert status["fetched_at"] == T0 and status["kids"] == [kid("a")]
        assert status["failures"] == 0 and status["last_error"] is None and not status["stale"]
    assert server.hits() == 1


def test_rotation_a_then_a_and_b_then_b(server: Server) -> None:
    clock = Clock()
    with tollgate.KeySource(server.jwks, clock=clock) as source:
        source.refresh()
        server.control(keys=["a", "b"])
        clock.t += 10
        assert verify(source, "b", clock.t) == "unknown_kid"
        assert source.on_unknown_kid(kid("b")), "a new kid asks an early fetch"
        assert source.refresh_if_due()
        assert verify(source, "a", clock.t) == "ok"
        assert verify(source, "b", clock.t) == "ok"
        server.control(keys=["b"])
        clock.t = source.next_fetch()
        assert source.refresh_if_due()
        assert verify(source, "a", clock.t) == "unknown_kid", "a is gone once the server drops it"
        assert verify(source, "b", clock.t) == "ok"
    assert server.hits() == 3


def test_outages_keep_the_last_good_set_and_back_off(server: Server) -> None:
    clock = Clock()
    with tollgate.KeySource(server.jwks, clock=clock) as source:
        source.refresh()
        clock.t = source.next_fetch()
        delay = 5
        for i, change in enumerate([{"mode": "down"}, {"mode": "error", "status": 500}, {"mode": "garbage"}]):
            server.control(**change)
            before = server.hits()
            assert source.refresh_if_due()
            assert server.hits() == before + 1
            assert source.next_fetch() == clock.t + delay, change
            clock.t += delay - 1
            assert not source.refresh_if_due(), "backing off"
            assert not source.on_unknown_kid(kid("c")), "no early fetch inside a backoff"
            assert server.hits() == before + 1
            assert verify(source, "a", clock.t) == "ok", "the last good set keeps verifying"
            status = source.status()
            assert status["failures"] == i + 1 and status["last_error"]["code"] == "key_set_fetch_failed"
            clock.t += 1
            delay *= 2
        assert "HTTP 500" not in source.status()["last_error"]["message"]  # the garbage came last
        with pytest.raises(tollgate.TollgateError) as e:
            source.refresh()
        assert e.value.code == "key_set_fetch_failed" and "not a usable JWKS" in e.value.message
        server.control(mode="ok")
        source.refresh()
        assert source.status()["failures"] == 0
    # 1 good + 3 scheduled failures + refresh() in garbage mode + the recovery.
    assert server.hits() == 6


def test_stale_after_the_limit_refuses(server: Server) -> None:
    clock = Clock()
    config = {"min_ttl": 60, "default_ttl": 600, "max_ttl": 600, "stale_after": 1000}
    engine = tollgate.Engine(POLICY)
    with tollgate.KeySource(server.jwks, config=config, clock=clock) as source:
        source.refresh()
        server.control(mode="down")
        clock.t += 999
        assert verify(source, "a", clock.t) == "ok"
        clock.t += 1
        for call in (source.verifier, lambda: source.swap_into(engine, "idp")):
            with pytest.raises(tollgate.TollgateError) as e:
                call()
            assert (e.value.code, e.value.number) == ("key_set_stale", 509)
        assert source.status()["stale"] is True
        server.control(mode="ok")
        source.refresh()
        assert verify(source, "a", clock.t) == "ok"
    engine.close()


def test_forged_kids_cost_at_most_one_fetch_per_interval(server: Server) -> None:
    clock = Clock()
    with tollgate.KeySource(server.jwks, clock=clock) as source:
        source.refresh()
        server.control(reset_hits=True)
        forged = kid("c")
        early: List[int] = []
        for i in range(1000):
            clock.t = T0 + i // 10  # 1000 tokens over 100 s
            assert verify(source, "c", clock.t) == "unknown_kid"
            if source.on_unknown_kid(forged):
                early.append(clock.t)
                assert source.refresh_if_due()
        # The first unknown kid fetches at once, then one per unknown_kid_interval (30 s).
        assert early == [T0, T0 + 30, T0 + 60, T0 + 90], early
        assert server.hits() == len(early)
        print(f"forged-kid flood: 1000 tokens over 100 s, {server.hits()} JWKS hits")


def test_discovery_and_an_issuer_mismatch(server: Server) -> None:
    clock = Clock()
    with tollgate.KeySource.from_issuer(server.base, clock=clock) as source:
        assert source.jwks_uri == server.jwks
        source.refresh()
        assert verify(source, "a", clock.t) == "ok"
    assert server.discovery_hits() == 1
    server.control(issuer="https://evil.test")
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.KeySource.from_issuer(server.base)
    assert (e.value.code, e.value.number) == ("invalid_discovery", 510)
    assert "evil.test" in e.value.message
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.discover("http://idp.example")
    assert e.value.code == "invalid_discovery"


def test_an_engine_binding_swaps_every_good_fetch(server: Server) -> None:
    clock = Clock()
    engine = tollgate.Engine(POLICY)
    with tollgate.KeySource(server.jwks, engine=engine, provider="idp", clock=clock) as source:
        headers = {"authorization": f"Bearer {token('b')}"}
        assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 401
        server.control(keys=["a", "b"])
        source.refresh()
        assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 200
        with pytest.raises(tollgate.TollgateError) as e:
            source.swap_into(engine, "nobody")
        assert e.value.code == "invalid_snapshot"
        # An outage: the last good set stays in the engine until it goes stale (two days), then
        # the provider's keys are emptied and its tokens refused, until a fetch succeeds again.
        server.control(mode="error", status=503)
        clock.t += 86_400
        assert source.refresh_if_due()
        assert source.status()["failures"] == 1
        assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 200
        clock.t = T0 + 172_800
        assert source.refresh_if_due()
        assert source.status()["stale"]
        assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 401
        server.control(mode="ok")
        clock.t += 400
        assert source.refresh_if_due()
        assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 200
        # A snapshot swapped for its other contents keeps the source's keys.
        engine.swap_keys({"revoked_jti": ["x"]})
        assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 200
    # Closed, the source releases them: none until a snapshot sets them.
    assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 401
    engine.swap_keys({"keys": {"idp": json.loads((FIXTURES / "key-b.pub.jwk").read_text())}})
    assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 200
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.KeySource(server.jwks, engine=engine, provider="nobody")
    assert e.value.code == "invalid_options"
    engine.close()


def test_a_set_that_goes_stale_inside_a_backoff_leaves_the_engine_on_time(server: Server) -> None:
    # A failure at T0+300 backs off 900 s, past the set's staleness at T0+1000: the set must
    # leave the engine at T0+1000, not at the next fetch (T0+1200).
    clock = Clock()
    config = {"min_ttl": 60, "default_ttl": 300, "max_ttl": 600, "stale_after": 1000,
              "retry_initial": 900, "retry_max": 900}
    engine = tollgate.Engine(POLICY)
    with tollgate.KeySource(server.jwks, config=config, engine=engine, provider="idp", clock=clock) as source:
        headers = {"authorization": f"Bearer {token('a')}"}
        source.refresh()
        server.control(mode="down")
        clock.t = T0 + 300
        assert source.refresh_if_due()
        assert source.next_fetch() == T0 + 1200
        assert source.status()["stale_at"] == T0 + 1000
        clock.t = T0 + 999
        assert not source.refresh_if_due()
        assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 200
        clock.t = T0 + 1000
        assert not source.refresh_if_due(), "no fetch is due"
        assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 401
        server.control(mode="ok")
        clock.t = T0 + 1200
        assert source.refresh_if_due()
        assert engine.check("GET", "/v1/me", headers, now=clock.t).status == 200
    engine.close()


def test_config_is_checked(server: Server) -> None:
    for config in ({"min_tll": 1}, {"retry_initial": 600}, {"algorithms": ["ES999"]}):
        with pytest.raises(tollgate.TollgateError) as e:
            tollgate.KeySource(server.jwks, config=config)
        assert e.value.code == "invalid_options", config
    with pytest.raises(TypeError):
        tollgate.KeySource(server.jwks, provider="idp")


def test_only_urls_the_library_fetches_from_and_no_redirects(server: Server) -> None:
    for url in ("http://issuer.test/jwks", "https://user:pw@issuer.test/jwks", "file:///etc/passwd"):
        with pytest.raises(tollgate.TollgateError) as e:
            tollgate.KeySource(url)
        assert e.value.code == "invalid_discovery", url
    # A redirect (here to the same server's /jwks) is a failed fetch, never followed.
    with tollgate.KeySource(f"{server.base}/moved", clock=Clock()) as source:
        with pytest.raises(tollgate.TollgateError) as e:
            source.refresh()
        assert e.value.code == "key_set_fetch_failed" and "HTTP 302" in e.value.message
    assert server.hits() == 0


def wait_for(predicate: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for the background thread"
        time.sleep(0.01)


def test_the_thread_fetches_at_start_and_when_an_unknown_kid_wakes_it(server: Server) -> None:
    clock = Clock()
    source = tollgate.KeySource(server.jwks, clock=clock).start()
    try:
        wait_for(lambda: source.status()["fetched_at"] == T0)
        server.control(keys=["a", "b"])
        clock.t += 31
        assert source.on_unknown_kid(kid("b"))
        wait_for(lambda: source.status()["fetched_at"] == T0 + 31)
        assert verify(source, "b", clock.t) == "ok"
    finally:
        source.close()
    assert server.hits() == 2
    with pytest.raises(tollgate.TollgateError):
        source.verifier()


def test_threads_verify_while_the_source_refreshes(server: Server) -> None:
    server.control(keys=["a", "b"], max_age=None)
    source = tollgate.KeySource(server.jwks).start()
    try:
        wait_for(lambda: source.status()["fetched_at"] is not None)
        stop = threading.Event()
        failures: List[str] = []

        def worker() -> None:
            while not stop.is_set():
                for name in ("a", "b"):
                    result = verify(source, name, T0)
                    if result != "ok":
                        failures.append(f"{name}: {result}")
                if source.on_unknown_kid(kid("c")):
                    pass  # the thread fetches; a+b still served

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        refreshes = 0
        try:
            for _ in range(30):
                server.control(keys=["b", "a"] if refreshes % 2 else ["a", "b"])
                source.refresh()
                refreshes += 1
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not failures, failures[:5]
        assert source.status()["failures"] == 0
    finally:
        source.close()


def test_a_body_that_drips_is_given_up_at_the_timeout() -> None:
    """urllib's timeout bounds each socket read: a server sending a byte at a time would hold a
    fetch (and a key set past its staleness) for as long as it liked. The whole fetch is bounded."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def drip() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
                for _ in range(100):
                    if stop.wait(0.1):
                        break
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        break

    threading.Thread(target=drip, daemon=True).start()
    try:
        source = tollgate.KeySource(f"http://127.0.0.1:{port}/jwks", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(tollgate.TollgateError) as e:
            source.refresh()
        took = time.monotonic() - started
        assert e.value.code == "key_set_fetch_failed"
        assert "TimeoutError" in str(e.value), str(e.value)
        assert took < 2.0, took  # the server would drip for 10 s
        source.close()
    finally:
        stop.set()
        listener.close()


def test_a_verifier_kept_for_good_follows_rotations_and_goes_stale(server: Server) -> None:
    """A host makes one verifier at start and keeps it: a rotation reaches it at once, a key the
    server drops is gone from it, and once the set is stale it refuses."""
    clock = Clock()
    config = {"min_ttl": 60, "default_ttl": 600, "max_ttl": 600, "stale_after": 1000}
    with tollgate.KeySource(server.jwks, config=config, clock=clock) as source:
        source.refresh()
        kept = source.verifier(issuer=ISSUER, audience="api")
        assert isinstance(kept, tollgate.KeySourceVerifier)
        assert kept.verify(token("a"), now=clock.t).claims["sub"] == "user-a"  # type: ignore[index]
        server.control(keys=["b"])
        clock.t += 600
        source.refresh()
        assert kept.verify(token("b"), now=clock.t).claims["sub"] == "user-b"  # type: ignore[index]
        with pytest.raises(tollgate.TokenError) as e:
            kept.verify(token("a"), now=clock.t)
        assert e.value.code == "unknown_kid", "a is gone once the server drops it"
        server.control(mode="down")
        clock.t += 1000
        with pytest.raises(tollgate.TollgateError) as e2:
            kept.verify(token("b"), now=clock.t)
        assert e2.value.code == "key_set_stale"
        kept.close()
