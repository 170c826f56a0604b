"""Records in a real redis-server (docs/records.md), through Engine.check_with_store and
tollgate.RedisStore: the four deployments' tables with every provider's records in Redis, an
outage and the recovery, two host processes agreeing on a revocation, a webhook replay and a role
change, many threads each reading their own record, bad records. As server/tests/store.rs and
tests/store.rs do for the service and the core.

redis-server (apt) and redis-py (pip install redis) are needed: without them these tests fail,
unless TOLLGATE_SKIP_PROXY_TESTS=1 says to skip the tests that need servers from apt.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import tollgate
from conftest import DEPLOYMENTS, REPO
from test_scenarios import differences, load, request_of

STORE_KEY = re.compile(r"^tollgate:(session|api_key|user|revoked_jti):[0-9a-f]{64}$")
HOST = Path(__file__).with_name("store_host.py")


def _needs(what: str) -> None:
    if os.environ.get("TOLLGATE_SKIP_PROXY_TESTS") == "1":
        pytest.skip(f"skipped: {what}")
    pytest.fail(f"{what}: install it (.ci/run does), or set TOLLGATE_SKIP_PROXY_TESTS=1 to skip the tests that need it")


class RedisServer:
    """A redis-server on 127.0.0.1 on a free port, persistence off, in a directory of its own
    (tests/redis/harness.rs's, for Python): `stop()` and `restart()` (the same port, empty)."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port: int = s.getsockname()[1]
        self.dir = directory
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.restart()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def restart(self) -> None:
        self.stop()
        self.dir.mkdir(parents=True, exist_ok=True)
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    pytest.fail(f"redis-server exited early: {self.process.returncode}")
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start on port {self.port}")
                time.sleep(0.02)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def client(self) -> Any:
        """A redis-py client, for the test's own reads and writes."""
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        _needs("redis-server is not installed (apt-get install redis-server)")
    try:
        import redis  # noqa: F401
    except ImportError:
        _needs("redis-py is not installed (pip install redis)")
    server = RedisServer(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


# -- the deployments, with their records moved to the store


@dataclasses.dataclass
class Deployment:
    name: str
    table: Dict[str, Any]
    plain: tollgate.Engine
    """The deployment as shipped: records in the snapshot."""
    policy: Dict[str, Any]
    """Its policy with every provider's records in the store."""
    snapshot: Dict[str, Any]
    """Its snapshot without the records."""
    records: List[tollgate.StoredRecord]

    def engine(self) -> tollgate.Engine:
        """A new engine of the policy with records in the store."""
        return tollgate.Engine(self.policy, self.snapshot)

    def request(self, case: Dict[str, Any]) -> Tuple[str, str, List[Tuple[str, str]]]:
        return request_of(case, self.table["tokens"])

    def expected(self, case: Dict[str, Any]) -> tollgate.Decision:
        """What the snapshot engine decides (checked against the table first)."""
        method, path, headers = self.request(case)
        d = self.plain.check(method, path, headers, now=self.table["now"])
        assert not differences(d, case["expect"]), (self.name, case["name"], differences(d, case["expect"]))
        return d

    def files(self, directory: Path) -> Tuple[Path, Path]:
        """The store policy and the snapshot without records, written to `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        policy, snapshot = directory / "policy.json", directory / "snapshot.json"
        policy.write_text(json.dumps(self.policy))
        snapshot.write_text(json.dumps(self.snapshot))
        return policy, snapshot


def deployment(name: str, **extra: Any) -> Deployment:
    base = REPO / "examples" / name
    policy = json.loads((base / "policy.json").read_text())
    snapshot = (base / "snapshot.json").read_text()
    stored = json.loads(json.dumps(policy))
    for provider in stored["providers"]:
        provider["records"] = "store"
    stored.update(extra)
    rest, records = tollgate.records_from_snapshot(snapshot)
    return Deployment(name, load(name), tollgate.Engine(policy, snapshot), stored, rest, records)


def put_records(store: tollgate.RedisStore, records: List[tollgate.StoredRecord]) -> None:
    """Writes `records` (publishing each key) WITHOUT their store expiry: the tables run at a fixed
    time long before the real clock Redis expires keys by (server/tests/common/mod.rs)."""
    store.put([dataclasses.replace(r, expires=None) for r in records])


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Prints a measured figure past pytest's capture (scripts/test shows it)."""
    with capsys.disabled():
        print(f"\n  {line}", flush=True)


class Counting:
    """A store that counts what it is asked, answering from another."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked: List[str] = []

    def get(self, key: str) -> Optional[bytes]:
        self.asked.append(key)
        return self.inner.get(key)  # type: ignore[no-any-return]

    def claim(self, key: str, ttl: int) -> bool:
        return self.inner.claim(key, ttl)  # type: ignore[no-any-return]


class Unasked:
    """A store that must not be asked."""

    def get(self, key: str) -> Optional[bytes]:
        raise AssertionError(f"the store was asked for {key}")


def bearer(headers: List[Tuple[str, str]]) -> str:
    return next(v[len("Bearer ") :] for n, v in headers if n.lower() == "authorization" and v.startswith("Bearer "))


def api_key_cases(d: Deployment) -> List[Dict[str, Any]]:
    """The allowed cases that carry an API key, one per key, keys without an expiry first."""
    seen, cases = set(), []
    for case in d.table["cases"]:
        if case["expect"]["status"] != 200:
            continue
        headers = d.request(case)[2]
        if not any("fln_live_" in v for _, v in headers):
            continue
        key = bearer(headers)
        if key not in seen:
            seen.add(key)
            cases.append(case)
    return sorted(cases, key=lambda c: record_of_key(d, bearer(d.request(c)[2])).expires is not None)


def record_of_key(d: Deployment, key: str) -> tollgate.StoredRecord:
    digest = tollgate.hash_api_key(key)
    return next(r for r in d.records if r.kind == "api_key" and json.loads(r.value)["hash"] == digest)


def check(engine: tollgate.Engine, d: Deployment, case: Dict[str, Any], store: Any) -> tollgate.Decision:
    method, path, headers = d.request(case)
    return engine.check_with_store(method, path, headers, store, now=d.table["now"])


# -- the tables


@pytest.mark.parametrize("name", DEPLOYMENTS)
def test_a_deployment_decides_as_with_its_snapshot_with_its_records_in_redis(redis_server: RedisServer, name: str) -> None:
    d = deployment(name)
    store = tollgate.RedisStore(redis_server.url)
    put_records(store, d.records)
    engine = d.engine()
    counting = Counting(store)
    for case in d.table["cases"]:
        got = check(engine, d, case, counting)
        assert not differences(got, case["expect"]), (case["name"], differences(got, case["expect"]), got.message)
        # Every field, claims included, as the snapshot engine decides it.
        assert got == d.expected(case), case["name"]
    # Records were asked for by kind and hash, and those the snapshot held were found.
    assert all(STORE_KEY.match(k) for k in counting.asked), counting.asked
    if d.records:
        assert set(counting.asked) & {r.key for r in d.records}, f"{name}: no record was read from Redis"
    # Warm: within the cache TTL (5 s) every case decides without the store, the same way.
    for case in d.table["cases"]:
        method, path, headers = d.request(case)
        warm = engine.check_with_store(method, path, headers, Unasked(), now=d.table["now"] + 4)
        assert warm == engine.check(method, path, headers, now=d.table["now"] + 4), case["name"]


def test_a_store_url_is_shown_without_its_password() -> None:
    for url, shown in [
        ("redis://user:S3cret@127.0.0.1:1/0", "redis://…@127.0.0.1:1/0"),
        ("redis://127.0.0.1:1/0?password=S3cret", "redis://127.0.0.1:1/0?…"),
        ("unix:///run/redis.sock?db=0&password=S3cret", "unix:///run/redis.sock?…"),
        ("redis://127.0.0.1:1", "redis://127.0.0.1:1"),
    ]:
        store = tollgate.RedisStore(url)
        assert store.url == shown
        assert "S3cret" not in repr(store)
    # URLs that do not encode their password: where it ends is not knowable, so nothing is shown.
    from tollgate._store import _redacted

    for url, shown in [
        ("redis://:S3?cret@127.0.0.1:1", "redis://…"),
        ("redis://u:p@h:1/0?pass=S3@cret", "redis://…"),
        ("redis://:S3/cret@127.0.0.1:1", "redis://…@127.0.0.1:1"),
        ("redis:user:S3cret@127.0.0.1", "redis:…"),
    ]:
        assert _redacted(url) == shown, url
    # A URL redis-py cannot read: its message (which quotes part of the password) is not passed on.
    with pytest.raises(ValueError) as e:
        tollgate.RedisStore("redis://:S3/cret@127.0.0.1:6379")
    assert "S3" not in str(e.value) and "cret" not in str(e.value), str(e.value)


def test_the_tables_need_records_from_the_store() -> None:
    """project-oidc's personal access tokens, users and revoked jti and service-accounts' keys
    are records: without a host to read them a check is 503 store_unavailable."""
    kinds = {r.kind for name in DEPLOYMENTS for r in deployment(name).records}
    assert kinds == {"api_key", "user", "revoked_jti"}, kinds
    d = deployment("service-accounts")
    case = api_key_cases(d)[0]
    method, path, headers = d.request(case)
    got = d.engine().check(method, path, headers, now=d.table["now"])
    assert (got.status, got.reason) == (503, "store_unavailable"), got.message


# -- an outage


def test_an_unreachable_redis_fails_closed_and_the_same_engine_recovers(redis_server: RedisServer, capsys: pytest.CaptureFixture[str]) -> None:
    d = deployment("service-accounts")
    store = tollgate.RedisStore(redis_server.url)
    put_records(store, d.records)
    engine = d.engine()
    cases = api_key_cases(d)
    assert len(cases) >= 2, "two allowed API-key cases with different keys"
    assert check(engine, d, cases[0], store).status == 200

    redis_server.stop()
    for case in cases[1:]:  # none of their records is cached
        started = time.monotonic()
        got = check(engine, d, case, store)
        took = time.monotonic() - started
        assert (got.status, got.reason, got.code) == (503, "store_unavailable", 511), (case["name"], got.message)
        assert took < 2, f"failing closed took {took:.2f} s"
    # The store's own operations say so too, never success.
    with pytest.raises(tollgate.StoreUnavailable) as e:
        store.get(cases[1]["name"])
    assert (e.value.code, e.value.number, e.value.status) == ("store_unavailable", 511, 503)
    assert isinstance(e.value, tollgate.TollgateError) and str(redis_server.port) in e.value.message
    with pytest.raises(tollgate.StoreUnavailable):
        store.put(d.records)

    redis_server.restart()  # the same port, empty
    put_records(store, d.records)
    back = time.monotonic()
    while True:
        got = check(engine, d, cases[1], store)
        if got.status == 200 or time.monotonic() - back > 15:
            break
        time.sleep(0.1)
    assert got.status == 200, f"the engine did not use the store again: {got.reason} {got.message}"
    report(capsys, f"store: recovered {time.monotonic() - back:.3f} s after Redis came back, same engine")


# -- two host processes on one redis-server


class Host:
    """store_host.py in a process of its own."""

    def __init__(self, d: Deployment, directory: Path, url: str) -> None:
        policy, snapshot = d.files(directory)
        self.process = subprocess.Popen(
            [sys.executable, str(HOST), str(policy), str(snapshot), url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        ready = self._read()
        assert ready == {"ready": True}, ready

    def _read(self) -> Dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"store_host.py exited: {self.process.poll()}"
        return json.loads(line)  # type: ignore[no-any-return]

    def ask(self, command: Dict[str, Any]) -> Dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def check(self, d: Deployment, case: Dict[str, Any]) -> Dict[str, Any]:
        method, path, headers = d.request(case)
        return self.ask({"op": "check", "method": method, "path": path, "headers": headers, "now": d.table["now"]})

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.ask({"op": "quit"})
            except (AssertionError, OSError, ValueError):  # it answers nothing to quit
                pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def hosts(redis_server: RedisServer, tmp_path: Path) -> Iterator[Any]:
    """Makes host processes (B) on the test's redis-server; stops them at the end."""
    made: List[Host] = []

    def make(d: Deployment) -> Host:
        h = Host(d, tmp_path / f"host{len(made)}", redis_server.url)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def until_both(a: Any, b: Host, d: Deployment, case: Dict[str, Any], status: int) -> float:
    """Asks `case` of A (a function) and B until both answer `status`: the seconds that took."""
    started = time.perf_counter()
    pending = {"A", "B"}
    while pending:
        if "A" in pending and a(case).status == status:
            pending.discard("A")
        if "B" in pending and b.check(d, case)["status"] == status:
            pending.discard("B")
        assert time.perf_counter() - started < 5, f"{case['name']}: {sorted(pending)} still not {status} after 5 s"
        if pending:
            time.sleep(0.002)
    return time.perf_counter() - started


def test_a_key_revoked_through_one_host_is_refused_by_another_within_a_second(
    redis_server: RedisServer, hosts: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployment("service-accounts")
    store = tollgate.RedisStore(redis_server.url)
    put_records(store, d.records)
    engine = d.engine()
    with store.follow_invalidations(engine) as follower:
        assert follower.wait_subscribed(10)
        b = hosts(d)
        case = api_key_cases(d)[0]
        key = bearer(d.request(case)[2])
        assert record_of_key(d, key).expires is None  # so Redis keeps the revoked record whatever the clock
        # Both have the record cached (their clock is the table's, so only an invalidation makes
        # them read it again).
        assert check(engine, d, case, store).status == 200
        assert b.check(d, case)["status"] == 200

        started = time.perf_counter()
        assert store.revoke_api_key(key) == json.loads(record_of_key(d, key).value)["id"]
        until_both(lambda c: check(engine, d, c, store), b, d, case, 401)
        took = time.perf_counter() - started
        report(capsys, f"store: revocation propagation (revoke_api_key through A until A and B refuse): {took * 1000:.1f} ms")
        assert took < 1, f"{took:.3f} s"
        assert b.check(d, case)["reason"] == "api_key_revoked"
        assert check(engine, d, case, store).reason == "api_key_revoked"
        stored = json.loads(store.get(record_of_key(d, key).key) or b"{}")
        assert stored["revoked"] is True and stored["v"] == 1 and stored["record"] == "api_key"
        # By hash, and a key the store does not hold.
        assert store.revoke_api_key(hash=tollgate.hash_api_key(key))
        unknown = tollgate.generate_api_key("fln_live", "sa_nobody")
        with pytest.raises(tollgate.TollgateError) as e:
            store.revoke_api_key(unknown.key)
        assert e.value.code == "unknown_api_key" and "holds no record" in e.value.message
        with pytest.raises(ValueError):
            store.revoke_api_key(hash="sha256:short")


def test_a_key_stored_by_its_issuer_works_at_once_and_its_revocation_is_followed(redis_server: RedisServer) -> None:
    d = deployment("service-accounts")
    store = tollgate.RedisStore(redis_server.url)
    put_records(store, d.records)
    engine = d.engine()
    case = next(c for c in api_key_cases(d) if c["expect"].get("roles"))  # a key with a role
    template = json.loads(record_of_key(d, bearer(d.request(case)[2])).value)
    g = tollgate.generate_api_key("fln_live", template["owner"], now=d.table["now"] - 60)
    g.record.update({k: template[k] for k in ("kind", "tenant", "roles", "scopes") if k in template})
    stored = store.store_api_key(g)
    assert stored.kind == "api_key" and stored.expires is None and json.loads(stored.value)["hash"] == g.hash
    method, path, _ = d.request(case)
    headers = [("Authorization", f"Bearer {g.key}")]
    with store.follow_invalidations(engine) as follower:
        assert follower.wait_subscribed(10)
        got = engine.check_with_store(method, path, headers, store, now=d.table["now"])
        assert (got.status, got.subject, got.roles) == (200, template["owner"], d.expected(case).roles), got.message
        store.revoke_api_key(g.key)
        deadline = time.monotonic() + 5
        while got.status == 200 and time.monotonic() < deadline:
            time.sleep(0.005)
            got = engine.check_with_store(method, path, headers, store, now=d.table["now"])
        assert (got.status, got.reason) == (401, "api_key_revoked")


def test_a_webhook_accepted_by_one_host_is_refused_as_a_replay_by_another(redis_server: RedisServer, hosts: Any) -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    now = 1614265330
    delivery = [
        ["webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"],
        ["webhook-timestamp", str(now)],
        ["webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="],
    ]
    store = tollgate.RedisStore(redis_server.url)
    b = hosts(deployment("service-accounts"))
    with tollgate.WebhookVerifier(secrets=[secret]) as a:
        # A forgery claims nothing: the genuine delivery is accepted afterwards.
        forged = [delivery[0], delivery[1], ["webhook-signature", "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]]
        with pytest.raises(tollgate.TollgateError) as e:
            a.verify_for_store(forged, body, store, now=now)
        assert e.value.code == "webhook_signature_invalid"
        assert redis_server.client().keys("tollgate:webhook:*") == []

        assert a.verify_for_store(delivery, body, store, now=now) is None
        assert b.ask({"op": "webhook", "secrets": [secret], "headers": delivery, "body": body, "now": now}) == {
            "ok": False,
            "code": "webhook_replayed",
        }
        with pytest.raises(tollgate.TollgateError) as e:
            a.verify_for_store(delivery, body, store, now=now)
        assert (e.value.code, e.value.number, e.value.status) == ("webhook_replayed", 903, 409)
        # The claim lasts as long as the signed delivery could pass the timestamp check (300 s,
        # through its last second).
        ttl = redis_server.client().ttl("tollgate:webhook:bcda2c50c55350fde15cb6a403311daac6f7adf9e5d5b836363f31d1b908edb1")
        assert 296 <= ttl <= 301, ttl
        # Another delivery is accepted by B; a store that does not answer accepts nothing.
        other = [["webhook-id", "msg_other"], ["webhook-timestamp", str(now)], ["webhook-signature", tollgate.sign_webhook(secret, "msg_other", now, body)]]
        assert b.ask({"op": "webhook", "secrets": [secret], "headers": other, "body": body, "now": now}) == {"ok": True}
        redis_server.stop()
        late = [["webhook-id", "msg_late"], ["webhook-timestamp", str(now)], ["webhook-signature", tollgate.sign_webhook(secret, "msg_late", now, body)]]
        with pytest.raises(tollgate.StoreUnavailable):
            a.verify_for_store(late, body, store, now=now)


def test_a_role_removed_from_a_user_restricts_their_token_on_both_hosts_within_a_second(
    redis_server: RedisServer, hosts: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployment("project-oidc")
    store = tollgate.RedisStore(redis_server.url)
    put_records(store, d.records)
    engine = d.engine()
    case = next(
        c for c in d.table["cases"] if c["expect"]["status"] == 200 and c["expect"].get("kind") == "personal_access_token"
    )
    user = next(r for r in d.records if r.kind == "user" and json.loads(r.value)["subject"] == case["expect"]["subject"])
    with store.follow_invalidations(engine) as follower:
        assert follower.wait_subscribed(10)
        b = hosts(d)
        a = lambda c: check(engine, d, c, store)  # noqa: E731
        assert a(case).status == 200 and b.check(d, case)["status"] == 200

        demoted = json.loads(user.value)
        demoted.update(roles=[], tenants={})
        started = time.perf_counter()
        store.put([tollgate.StoredRecord(user.key, json.dumps(demoted))])  # overwrite, then publish
        until_both(a, b, d, case, 403)
        took = time.perf_counter() - started
        report(capsys, f"store: role change propagation (put through A until A and B restrict): {took * 1000:.1f} ms")
        assert took < 1, f"{took:.3f} s"
        assert a(case).reason == "tenant_forbidden" and b.check(d, case)["reason"] == "tenant_forbidden"
        # Given back, the role works again on both.
        store.put([user])
        until_both(a, b, d, case, 200)
        assert b.check(d, case)["roles"] == case["expect"]["roles"]


def test_a_lost_subscription_drops_every_cached_record_when_it_is_back(redis_server: RedisServer) -> None:
    d = deployment("service-accounts")
    store = tollgate.RedisStore(redis_server.url)
    put_records(store, d.records)
    engine = d.engine()
    case = api_key_cases(d)[0]
    with store.follow_invalidations(engine) as follower:
        assert follower.wait_subscribed(10) and follower.subscriptions == 1
        assert check(engine, d, case, store).status == 200
        # Revoked while the follower is away: the message is lost with the old server.
        redis_server.restart()
        revoked = json.loads(record_of_key(d, bearer(d.request(case)[2])).value)
        revoked["revoked"] = True
        key = record_of_key(d, bearer(d.request(case)[2])).key
        redis_server.client().set(key, json.dumps(revoked))  # written without a message
        deadline = time.monotonic() + 10
        while follower.subscriptions < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert follower.wait_subscribed(1) and follower.subscriptions == 2
        assert check(engine, d, case, store).reason == "api_key_revoked"  # "*" dropped the cached copy
    assert not follower.running
    with pytest.raises(tollgate.TollgateError) as e:
        engine.invalidate("tollgate:api_key:xyz")
    assert e.value.code == "invalid_request" and "not a store key" in e.value.message


# -- many threads


def test_eight_threads_of_ten_thousand_checks_each_read_their_own_record(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployment("service-accounts", store={"cache_ttl": 0})  # no record cache: every check reads Redis
    store = tollgate.RedisStore(redis_server.url, timeout=5.0)
    put_records(store, d.records)
    engine = d.engine()
    cases = [
        (d.request(c), c["name"], d.expected(c))
        for c in d.table["cases"]
        if any("fln_" in v for _, v in d.request(c)[2])
    ]
    assert len(cases) >= 5, len(cases)
    now = d.table["now"]
    threads, per_thread = 8, 10_000
    lookups = [0] * threads
    wrong: List[str] = []

    def run(t: int) -> None:
        counting = Counting(store)
        for i in range(per_thread):
            (method, path, headers), name, want = cases[(t + i) % len(cases)]
            got = engine.check_with_store(method, path, headers, counting, now=now)
            if got != want:
                wrong.append(f"thread {t}, check {i}: {name}: {got.status} {got.reason} {got.message}")
                return
        lookups[t] = len(counting.asked)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    report(
        capsys,
        f"store: {threads * per_thread:,} checks, {sum(lookups):,} Redis lookups in {elapsed:.1f} s "
        f"({threads * per_thread / elapsed:,.0f} checks/s, {threads} threads)",
    )
    assert not wrong, wrong[:5]
    assert sum(lookups) >= 60_000, lookups


# -- bad records


def test_bad_records_are_refused_with_a_clear_reason_and_never_cached(redis_server: RedisServer) -> None:
    d = deployment("service-accounts")
    store = tollgate.RedisStore(redis_server.url)
    engine = d.engine()
    case = api_key_cases(d)[0]
    record = record_of_key(d, bearer(d.request(case)[2]))
    good = json.loads(record.value)
    other = tollgate.generate_api_key("fln_live", "sa_x")

    def edit(**changes: Any) -> bytes:
        return json.dumps({**good, **changes}).encode()

    bad = [
        ("a newer version", edit(v=2), "version 2"),
        ("a version as a string", edit(v="1"), 'version "1"'),
        ("another kind", edit(record="session"), 'answered a "session" record'),
        ("truncated JSON", record.value.encode()[: len(record.value) // 2], "not a strict JSON object"),
        ("an unknown member", edit(admin=True), "unknown field `admin`"),
        ("another key's record", edit(hash=other.hash), "not the key it was stored under"),
    ]
    raw = redis_server.client()
    for what, value, says in bad:
        raw.set(record.key, value)
        counting = Counting(store)
        got = check(engine, d, case, counting)
        assert (got.status, got.reason, got.code) == (500, "invalid_record", 802), (what, got.message)
        assert says in got.message, (what, got.message)
        # Not cached: the next check asks the store again.
        counting.asked.clear()
        assert check(engine, d, case, counting).reason == "invalid_record"
        assert counting.asked == [record.key], what
    raw.set(record.key, record.value)
    assert check(engine, d, case, store).status == 200


# -- sessions a login service writes


def session_policy(**provider: Any) -> Dict[str, Any]:
    """A cookie session provider with its records in the store, a tenant header, one role and
    one tenant-scoped route (tests/c/store.c's)."""
    return {
        "version": 1,
        "credentials": [{"name": "s", "cookie": "flow_session"}],
        "providers": [{"name": "flow", "type": "session", "credentials": ["s"], "records": "store", **provider}],
        "tenant": {"header": "X-Project-ID"},
        "permissions": ["items:read"],
        "roles": [{"name": "viewer", "grants": ["items:read"]}],
        "routes": [{"method": "GET", "path": "/items", "tenant": True, "requires": ["items:read"]}],
    }


def session_check(engine: tollgate.Engine, session_id: str, store: Any, now: Optional[float] = None) -> tollgate.Decision:
    headers = [("Cookie", f"theme=dark; flow_session={session_id}"), ("X-Project-ID", "A")]
    return engine.check_with_store("GET", "/items", headers, store, now=now)


def test_a_session_written_by_a_login_service_is_checked_and_its_sign_out_followed_within_a_second(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tollgate.RedisStore(redis_server.url)
    engine = tollgate.Engine(session_policy())
    expires = int(time.time()) + 3600  # by the real clock: Redis keeps it a day past that
    session = {"subject": "u-alice", "expires": expires, "created": expires - 3600, "tenants": {"A": ["viewer"]}}
    record = tollgate.session_record("s-123", session)
    assert STORE_KEY.match(record.key) and record.kind == "session" and record.expires == expires
    value = json.loads(record.value)
    assert (value["v"], value["record"], value["subject"], value["revoked"]) == (1, "session", "u-alice", False)
    with store.follow_invalidations(engine) as follower:
        assert follower.wait_subscribed(10)
        store.put([record])
        assert redis_server.client().ttl(record.key) > 86_400 + 3_500  # EXAT expires + a day
        got = session_check(engine, "s-123", store)
        assert (got.status, got.subject, got.kind, got.provider, got.tenant) == (200, "u-alice", "user", "flow", "A"), got.message
        assert got.roles == ("viewer",) and got.permissions == ("items:read",)

        started = time.perf_counter()
        store.put([tollgate.session_record("s-123", {**session, "revoked": True})])  # signing out
        while got.status == 200 and time.perf_counter() - started < 5:
            time.sleep(0.002)
            got = session_check(engine, "s-123", store)
        took = time.perf_counter() - started
        report(capsys, f"store: sign-out propagation (put of the revoked session until refused): {took * 1000:.1f} ms")
        assert (got.status, got.reason) == (401, "session_revoked"), got.message
        assert took < 1, f"{took:.3f} s"

        # store_session: the same, in one call; the next sign-in works at once.
        again = {**session, "created": expires - 60}
        stored = store.store_session("s-456", again)
        assert stored == tollgate.session_record("s-456", again)
        assert json.loads(redis_server.client().get(stored.key)) == json.loads(stored.value)
        got = session_check(engine, "s-456", store)
        assert (got.status, got.subject, got.roles) == (200, "u-alice", ("viewer",)), got.message

    got = session_check(engine, "s-unknown", store)
    assert (got.status, got.reason) == (401, "unknown_session"), got.message
    # Another tenant's session: a member of B only.
    store.store_session("s-b", {**session, "tenants": {"B": ["viewer"]}})
    assert session_check(engine, "s-b", store).reason == "tenant_forbidden"


def test_an_expired_session_is_session_expired(redis_server: RedisServer) -> None:
    store = tollgate.RedisStore(redis_server.url)
    engine = tollgate.Engine(session_policy())
    now = int(time.time())
    # Ended a minute ago by the real clock: Redis still holds it (a day past `expires`), so the
    # caller hears why.
    ended = store.store_session("s-ended", {"subject": "u-bob", "expires": now - 60, "tenants": {"A": ["viewer"]}})
    assert redis_server.client().get(ended.key) is not None
    got = session_check(engine, "s-ended", store)
    assert (got.status, got.reason, got.code) == (401, "session_expired", 455), got.message
    # Valid until `expires`, refused at it and after (a check's `now`).
    store.store_session("s-later", {"subject": "u-bob", "expires": now + 600, "tenants": {"A": ["viewer"]}})
    assert session_check(engine, "s-later", store, now=now + 599).status == 200
    for at in (now + 600, now + 601):
        engine.invalidate("*")
        got = session_check(engine, "s-later", store, now=at)
        assert (got.status, got.reason) == (401, "session_expired"), (at, got.message)


def test_session_record_hashes_the_id_and_refuses_bad_sessions() -> None:
    session = {"subject": "u-alice", "expires": 2000, "tenants": {"A": ["viewer"]}}
    # SHA-256 of the id, or HMAC-SHA256 under the provider's pepper (docs/records.md).
    plain = tollgate.session_record("abc", session)
    assert plain.key == "tollgate:session:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert tollgate.session_record(b"abc", json.dumps(session)) == plain == tollgate.session_record("abc", json.dumps(session).encode())
    pepper = bytes(range(32))
    peppered = tollgate.session_record("abc", session, pepper=pepper)
    assert peppered.key == "tollgate:session:" + hmac.new(pepper, b"abc", hashlib.sha256).hexdigest()
    assert peppered.value == plain.value and peppered.expires == 2000
    assert json.loads(plain.value) == {"v": 1, "record": "session", "subject": "u-alice", "kind": "user", "expires": 2000,
                                       "tenants": {"A": ["viewer"]}, "revoked": False}

    bad: List[Tuple[str, Any, str]] = [
        ("no subject", {"expires": 2000}, "subject"),
        ("no expires", {"subject": "u-alice"}, "expires"),
        ("a subject not a string", {"subject": 1, "expires": 2000}, "the session"),
        ("an unknown member", {**session, "admin": True}, "admin"),
        ("an unknown kind", {**session, "kind": "robot"}, "the session"),
        ("a store record's own members", {**session, "v": 1, "record": "session"}, "the session"),
        ("not JSON", "{subject", "the session"),
        ("not an object", "[]", "the session"),
    ]
    for what, value, says in bad:
        with pytest.raises(tollgate.TollgateError) as e:
            tollgate.session_record("s-1", value)
        assert (e.value.code, e.value.number) == ("invalid_record", 802), what
        assert not isinstance(e.value, tollgate.TokenError), what
        assert says in e.value.message, (what, e.value.message)
    for sid in ("", "x" * 513):
        with pytest.raises(tollgate.TollgateError) as e:
            tollgate.session_record(sid, session)
        assert e.value.code == "invalid_record" and "1 to 512 bytes" in e.value.message, e.value.message
    assert tollgate.session_record("x" * 512, session).kind == "session"
    with pytest.raises(TypeError):
        tollgate.session_record("s-1", 1)  # type: ignore[arg-type]


def test_a_peppered_session_is_found_under_its_hmac() -> None:
    pepper = bytes(range(100, 132))
    snapshot = {"peppers": {"flow": base64.urlsafe_b64encode(pepper).rstrip(b"=").decode()}}
    engine = tollgate.Engine(session_policy(hashing="hmac-sha256"), snapshot)
    session = {"subject": "u-carol", "expires": 2000, "tenants": {"A": ["viewer"]}}
    peppered = tollgate.session_record("s-789", session, pepper=pepper)
    got = session_check(engine, "s-789", {peppered.key: peppered.value}, now=1000)
    assert (got.status, got.subject) == (200, "u-carol"), got.message
    # Hashed without the pepper, the record is under another key: the engine does not find it.
    plain = tollgate.session_record("s-789", session)
    got = session_check(tollgate.Engine(session_policy(hashing="hmac-sha256"), snapshot), "s-789", {plain.key: plain.value}, now=1000)
    assert (got.status, got.reason) == (401, "unknown_session"), got.message


# -- without Redis


def test_records_from_snapshot_gives_the_rest_and_one_record_per_entry() -> None:
    snapshot = json.loads((REPO / "examples" / "project-oidc" / "snapshot.json").read_text())
    rest, records = tollgate.records_from_snapshot(snapshot)
    assert set(rest) == set(snapshot) - {"users", "api_keys", "revoked_jti"}
    assert len(records) == len(snapshot["users"]) + sum(map(len, snapshot["api_keys"].values())) + len(snapshot["revoked_jti"])
    for r in records:
        assert STORE_KEY.match(r.key), r.key
        value = json.loads(r.value)
        assert (value["v"], value["record"]) == (1, r.kind)
    (jti,) = tollgate.records_from_snapshot(b'{"revoked_jti": ["abc"]}')[1]
    assert jti.key == "tollgate:revoked_jti:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(dataclasses.FrozenInstanceError):
        jti.key = "x"  # type: ignore[misc]
    with pytest.raises(tollgate.TollgateError) as e:
        tollgate.records_from_snapshot('{"users": 1}')
    assert e.value.code == "invalid_snapshot"


def test_a_store_that_raises_decides_store_unavailable_and_other_errors_reach_the_caller() -> None:
    d = deployment("service-accounts")
    engine = d.engine()
    case = api_key_cases(d)[0]

    class Down:
        def __init__(self, error: BaseException) -> None:
            self.error = error

        def get(self, key: str) -> Optional[bytes]:
            raise self.error

    for error in (tollgate.StoreUnavailable("down"), ConnectionRefusedError(), TimeoutError()):
        got = check(engine, d, case, Down(error))
        assert (got.status, got.reason) == (503, "store_unavailable"), got.message
    with pytest.raises(KeyError):
        check(engine, d, case, Down(KeyError("a bug in the store")))
    with pytest.raises(TypeError):
        check(engine, d, case, {record.key: 1 for record in d.records})
    # Any mapping serves (a str answer is taken as its UTF-8); an absent record is an answer.
    got = check(engine, d, case, {record.key: record.value for record in d.records})
    assert got == d.expected(case)
    got = check(d.engine(), d, case, {})
    assert (got.status, got.reason) == (401, "unknown_api_key")


def test_without_redis_py_the_package_works_and_redis_store_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis raises ImportError
    with pytest.raises(ImportError) as e:
        tollgate.RedisStore("redis://127.0.0.1:1")
    assert "pip install 'tollgate[redis]'" in str(e.value)
    assert tollgate.records_from_snapshot("{}") == ({}, [])


def test_a_claim_whose_reply_was_lost_is_still_this_calls() -> None:
    """redis-py sends a command once more after a connection failure. A SET NX that ran but
    whose reply was lost then finds the key set: the claim's token tells it from another's, so a
    genuine delivery is not refused as a replay."""

    class Retried:
        """The retry's view: the key holds what the first attempt wrote, and SET NX answers None."""

        def __init__(self, holder: Optional[bytes] = None) -> None:
            self.holder = holder

        def set(self, key: str, value: str, nx: bool, ex: int) -> None:
            assert nx and ex == 60
            if self.holder is None:
                self.holder = value.encode()
            return None

        def get(self, key: str) -> Optional[bytes]:
            return self.holder

    store = tollgate.RedisStore("redis://127.0.0.1:1")
    store._client = Retried()
    assert store.claim("tollgate:webhook:x", 60) is True
    store._client = Retried(holder=b"another call's token")
    assert store.claim("tollgate:webhook:x", 60) is False
