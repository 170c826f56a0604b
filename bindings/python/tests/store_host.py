"""A second host process for test_store.py: its own Engine, RedisStore and invalidation follower
on the test's redis-server, answering one JSON command per line on stdin with one JSON line on
stdout (so that the tests see what another process decides, not another object in theirs).

    python store_host.py <policy.json> <snapshot.json> <redis url>

First line out: {"ready": <whether the subscription is up>}. Commands:
    {"op": "check", "method": …, "path": …, "headers": [[name, value], …], "now": …}
        -> {"status": …, "reason": …, "roles": […]}
    {"op": "webhook", "secrets": […], "headers": [[name, value], …], "body": "…", "now": …}
        -> {"ok": true} or {"ok": false, "code": "<error name>"}
    {"op": "quit"}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict

import tollgate


def main() -> None:
    policy, snapshot, url = sys.argv[1:4]
    engine = tollgate.Engine(Path(policy).read_text(), Path(snapshot).read_text())
    store = tollgate.RedisStore(url, timeout=2.0)
    follower = store.follow_invalidations(engine)
    print(json.dumps({"ready": follower.wait_subscribed(10)}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        out: Dict[str, Any]
        if command["op"] == "check":
            d = engine.check_with_store(command["method"], command["path"], command["headers"], store, now=command["now"])
            out = {"status": d.status, "reason": d.reason, "roles": list(d.roles)}
        elif command["op"] == "webhook":
            with tollgate.WebhookVerifier(secrets=command["secrets"]) as verifier:
                try:
                    verifier.verify_for_store(command["headers"], command["body"].encode(), store, now=command["now"])
                    out = {"ok": True}
                except tollgate.TollgateError as e:
                    out = {"ok": False, "code": e.code}
        elif command["op"] == "quit":
            break
        else:
            out = {"error": f"unknown op {command['op']!r}"}
        print(json.dumps(out), flush=True)
    follower.stop()
    store.close()
    engine.close()


if __name__ == "__main__":
    main()
