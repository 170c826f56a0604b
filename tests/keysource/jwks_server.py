#!/usr/bin/env python3
"""A JWKS server for the key-source tests of every host (C, Go, Python, JS, CLI): it serves a key
set and an OpenID configuration on 127.0.0.1, and the test steers it (rotate keys, go down, answer
500s or garbage) and reads how often it was hit.

    python3 tests/keysource/jwks_server.py [--port 0]

prints `listening <port>` on its first line once it accepts connections, then serves until killed
(or until POST /control {"mode": "exit"}).

Endpoints:
  GET  /jwks                               the key set (what "mode" says; counted)
  GET  /.well-known/openid-configuration   {"issuer", "jwks_uri"} (counted)
  GET  /hits                               {"jwks": n, "discovery": n}
  GET  /moved                              302 to /jwks (key sources follow no redirect)
  POST /control  JSON, any of:
        "keys":    ["a", "b"]   which of tests/keysource/key-{a,b,c}.pub.jwk to serve (default ["a"])
        "mode":    "ok" | "error" (HTTP "status", default 500) | "garbage" (200, not JSON)
                   | "down" (close the connection without answering) | "exit"
        "max_age": seconds for Cache-Control (default 300; null: no Cache-Control)
        "issuer":  the issuer the configuration names (default http://127.0.0.1:<port>)
        "reset_hits": true
"""

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


def public_key(name):
    with open(os.path.join(HERE, f"key-{name}.pub.jwk")) as f:
        return json.load(f)["keys"][0]


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.keys = ["a"]
        self.mode = "ok"
        self.status = 500
        self.max_age = 300
        self.issuer = None
        self.hits = {"jwks": 0, "discovery": 0}


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, content_type="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def serve_counted(self, kind, body_fn):
        with STATE.lock:
            STATE.hits[kind] += 1
            mode, status, max_age = STATE.mode, STATE.status, STATE.max_age
            body = body_fn()
        if mode == "down":
            self.close_connection = True
            self.connection.close()
            return
        if mode == "error":
            self.send(status, b'{"error": "unavailable"}')
            return
        if mode == "garbage":
            self.send(200, b"<html>502 Bad Gateway</html>", "text/html")
            return
        headers = [] if max_age is None else [("Cache-Control", f"public, max-age={max_age}")]
        self.send(200, json.dumps(body).encode(), headers=headers)

    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/jwks":
            self.serve_counted("jwks", lambda: {"keys": [public_key(k) for k in STATE.keys]})
        elif self.path == "/.well-known/openid-configuration":
            self.serve_counted(
                "discovery",
                lambda: {
                    "issuer": STATE.issuer or f"http://127.0.0.1:{port}",
                    "jwks_uri": f"http://127.0.0.1:{port}/jwks",
                    "response_types_supported": ["code"],
                },
            )
        elif self.path == "/moved":
            self.send(302, b"", headers=[("Location", f"http://127.0.0.1:{port}/jwks")])
        elif self.path == "/hits":
            with STATE.lock:
                self.send(200, json.dumps(STATE.hits).encode())
        else:
            self.send(404, b'{"error": "not found"}')

    def do_POST(self):
        if self.path != "/control":
            self.send(404, b'{"error": "not found"}')
            return
        length = int(self.headers.get("Content-Length", "0"))
        try:
            change = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self.send(400, b'{"error": "not json"}')
            return
        with STATE.lock:
            if "keys" in change:
                STATE.keys = list(change["keys"])
            if "mode" in change:
                STATE.mode = change["mode"]
            if "status" in change:
                STATE.status = int(change["status"])
            if "max_age" in change:
                STATE.max_age = change["max_age"]
            if "issuer" in change:
                STATE.issuer = change["issuer"]
            if change.get("reset_hits"):
                STATE.hits = {"jwks": 0, "discovery": 0}
            exiting = STATE.mode == "exit"
        self.send(200, b'{"ok": true}')
        if exiting:
            threading.Thread(target=self.server.shutdown, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
