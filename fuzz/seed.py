#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/corpus/<target>/ from the shared vectors
(../shared/vectors, read in place) and the four example deployments (examples/*/). Nothing it
writes is committed: the corpora are regenerated on every run, so they follow the vectors.

Usage: fuzz/seed.py [corpus-dir]   (default: fuzz/corpus)
"""

import base64
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VECTORS = os.path.join(ROOT, "..", "shared", "vectors")
DEPLOYMENTS = ["project-oidc", "workspace-api", "service-accounts", "tenant-path"]
SEP = b"\xff"


def load(path):
    with open(path, "rb") as f:
        return json.load(f)


def b64url_decode(segment):
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class Corpus:
    def __init__(self, root):
        self.root = root
        self.counts = {}

    def add(self, target, data):
        if isinstance(data, str):
            data = data.encode()
        directory = os.path.join(self.root, target)
        os.makedirs(directory, exist_ok=True)
        name = hashlib.sha1(data).hexdigest()
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.counts[target] = self.counts.get(target, 0) + 1


def tokens_and_keys():
    """Every token in the vectors and tables, and every key document."""
    tokens, jwks = [], []
    for case in load(os.path.join(VECTORS, "rfc-jws.json")):
        tokens.append(case["token"])
        jwk = (case.get("jwk") or {}).get("public") or (case.get("jwk") or {}).get("private")
        if jwk:
            jwks.append({"keys": [dict(jwk, alg=case["alg"])]})
    for case in load(os.path.join(VECTORS, "jws-derived-cases.json"))["cases"]:
        tokens.append(case["token"])
        jwks.append({"keys": [k["jwk"] for k in case.get("trusted_keys", [])]})
    for name in ("json_web_signature_test.json", "json_web_key_test.json"):
        doc = load(os.path.join(VECTORS, "wycheproof", name))
        for group in doc["testGroups"]:
            for key in ("public", "private"):
                if isinstance(group.get(key), dict):
                    jwks.append({"keys": [group[key]]})
            for test in group["tests"]:
                if isinstance(test.get("jws"), str):
                    tokens.append(test["jws"])
                if isinstance(test.get("public"), dict):
                    jwks.append({"keys": [test["public"]]})
    for d in DEPLOYMENTS:
        table = load(os.path.join(ROOT, "examples", d, "scenarios.json"))
        tokens.extend(t for t in table["tokens"].values() if t.count(".") == 2)
        snapshot = load(os.path.join(ROOT, "examples", d, "snapshot.json"))
        jwks.extend(snapshot.get("keys", {}).values())
    return tokens, jwks


def segments(token):
    try:
        h, p, _ = token.split(".")
        return b64url_decode(h), b64url_decode(p)
    except (ValueError, TypeError):
        return None


def requests():
    """(deployment index, table, case) for every scenario case."""
    for i, d in enumerate(DEPLOYMENTS):
        table = load(os.path.join(ROOT, "examples", d, "scenarios.json"))
        for case in table["cases"]:
            yield i, table, case


def text_request(table, case):
    lines = [f'{case["request"]["method"]} {case["request"]["path"]}']
    for name, value in case["request"]["headers"]:
        for token_name, token in table["tokens"].items():
            value = value.replace("{{" + token_name + "}}", token)
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    c = Corpus(root)
    tokens, jwks = tokens_and_keys()
    now = int(time.time())

    for t in tokens:
        c.add("jws_verify", t)
        c.add("ffi_entry", b"\x01" + t.encode())
        parts = segments(t)
        if parts:
            header, payload = parts
            c.add("claims_validate", payload)
            c.add("json_strict", payload)
            c.add("json_strict", header)
            c.add("differential_jsonwebtoken", payload)
            c.add("differential_jsonwebtoken", header + SEP + payload)
    for doc in jwks:
        text = json.dumps(doc)
        c.add("jwks_parse", text)
        c.add("key_source", "public, max-age=600\n" + text)
        c.add("ffi_entry", b"\x00" + text.encode() + SEP + b'{"leeway": 600}' + SEP + tokens[0].encode())

    # Fresh claims (the differential target runs at the real clock), around every boundary.
    for claims in [
        {"sub": "a", "exp": now + 3600},
        {"sub": "a", "exp": now + 3600, "iat": now - 60, "nbf": now - 60},
        {"sub": "a", "exp": now - 30, "iat": now + 30},
        {"sub": "a", "exp": now + 3600, "nbf": now + 120, "aud": "api"},
        {"sub": "a", "exp": now + 3600.5, "iat": now, "jti": "x", "iss": "https://issuer.example"},
    ]:
        payload = json.dumps(claims).encode()
        c.add("differential_jsonwebtoken", payload)
        c.add("differential_jsonwebtoken", b'{"alg":"HS256","kid":"k","crit":["exp"]}' + SEP + payload)
        c.add("claims_validate", payload)

    for d in DEPLOYMENTS:
        with open(os.path.join(ROOT, "examples", d, "policy.json"), "rb") as f:
            policy = f.read()
        with open(os.path.join(ROOT, "examples", d, "snapshot.json"), "rb") as f:
            snapshot = f.read()
        c.add("policy_load", policy)
        c.add("json_strict", policy)
        c.add("json_strict", snapshot)
        c.add("ffi_entry", b"\x03" + policy + SEP + snapshot)
        routes = [f'{r.get("method", "*")} {r["path"]}' for r in json.loads(policy)["routes"]]
        for r in routes:
            c.add("route_match", "\n".join(routes + [r]))

    for i, table, case in requests():
        text = text_request(table, case)
        c.add("engine_check", bytes([i]) + text.encode())
        if i == 3:
            method, _, rest = text.partition(" ")
            path, *headers = rest.split("\n")
            fields = [method.encode(), path.encode()]
            for h in headers:
                name, _, value = h.partition(": ")
                fields += [name.encode(), value.encode()]
            c.add("ffi_entry", b"\x02" + SEP.join(fields))
        for name, token in table["tokens"].items():
            if token.count(".") != 2:
                c.add("apikey_check", token)
                c.add("ffi_entry", b"\x04" + token.encode() + SEP + b"fln_live fln_test")

    # A store's answers for service-accounts' key-reader: its record as stored, and edits of it.
    with open(os.path.join(ROOT, "examples", "service-accounts", "snapshot.json"), "rb") as f:
        for record in json.loads(f.read())["api_keys"]["api-keys"]:
            stored = dict(record, v=1, record="api_key")
            c.add("record_answer", json.dumps(stored))
            c.add("record_answer", json.dumps(dict(stored, revoked=True)))
            c.add("record_answer", json.dumps(dict(stored, v=2)))
            c.add("record_answer", json.dumps(dict(stored, record="session")))

    for name in ("key-a", "key-b"):
        with open(os.path.join(ROOT, "tests", "keysource", name + ".pub.jwk"), "rb") as f:
            c.add("key_source", b"max-age=3600\n" + f.read())
    c.add("key_source", json.dumps({"issuer": "https://issuer.example",
                                    "jwks_uri": "https://issuer.example/jwks"}))

    # The C ABI's key refresher (op 6: config, status, body, headers) and discovery (op 7).
    for name in ("key-a", "key-b"):
        with open(os.path.join(ROOT, "tests", "keysource", name + ".pub.jwk"), "rb") as f:
            body = f.read()
        c.add("ffi_entry", b"\x06" + b'{"algorithms": ["ES256"]}' + SEP + b"\xc8\x00" + SEP + body
              + SEP + b"Cache-Control" + SEP + b"max-age=600")
        c.add("ffi_entry", b"\x06" + SEP + b"\xf4\x01" + SEP + body)
    c.add("ffi_entry", b"\x07https://issuer.example" + SEP
          + b'{"issuer": "https://issuer.example", "jwks_uri": "https://issuer.example/jwks"}')

    hooks = load(os.path.join(VECTORS, "standard-webhooks.json"))
    for case in hooks["cases"]:
        key = case.get("secret") or case.get("public_key")
        if not key or not all(isinstance(case.get(f), str) for f in ("msg_id", "signature_header")):
            continue
        payload = case["payload"].encode() if isinstance(case["payload"], str) else b""
        fields = [key, str(case["now"]), case["msg_id"], str(case["timestamp"]), case["signature_header"]]
        c.add("webhook_verify", "\n".join(fields).encode() + b"\n" + payload)
        headers = [b"webhook-id", case["msg_id"].encode(), b"webhook-timestamp",
                   str(case["timestamp"]).encode(), b"webhook-signature", case["signature_header"].encode()]
        c.add("ffi_entry", b"\x05" + key.encode() + SEP + payload + SEP + SEP.join(headers))

    # Key import: the selector byte is form * 12 + the algorithm's index (tollgate::Algorithm::ALL);
    # forms: 0 public PEM/DER, 1 private PEM/DER, 2 private JWK, 3 private JWK bound to the alg.
    algs = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
            "ES256", "ES384", "EdDSA"]

    def key_seed(form, alg, data):
        c.add("key_import", bytes([form * 12 + algs.index(alg)]) + (data.encode() if isinstance(data, str) else data))

    for name, alg in (("ecdsa_secp256r1_sha256_p1363_test.json", "ES256"),
                      ("ecdsa_secp384r1_sha384_p1363_test.json", "ES384"),
                      ("ed25519_test.json", "EdDSA"),
                      ("rsa_signature_2048_sha256_test.json", "RS256"),
                      ("rsa_pss_2048_sha256_mgf1_32_test.json", "PS256")):
        for group in load(os.path.join(VECTORS, "wycheproof", name))["testGroups"][:3]:
            key_seed(0, alg, bytes.fromhex(group["publicKeyDer"]))
            key_seed(0, alg, group["publicKeyPem"])
    for group in load(os.path.join(VECTORS, "wycheproof", "rsa_pkcs1_2048_sig_gen_test.json"))["testGroups"][:2]:
        key_seed(1, "RS256", bytes.fromhex(group["privateKeyPkcs8"]))
        key_seed(1, "RS256", group["privateKeyPem"])
    for case in load(os.path.join(VECTORS, "rfc-jws.json")):
        private = (case.get("jwk") or {}).get("private")
        if private and case["alg"] in algs:
            key_seed(2, case["alg"], json.dumps(private))
            key_seed(3, case["alg"], json.dumps(private))

    # Key snapshots: the deployments' own, and each without one of its parts.
    for d in DEPLOYMENTS:
        snapshot = load(os.path.join(ROOT, "examples", d, "snapshot.json"))
        c.add("snapshot_load", json.dumps(snapshot))
        for part in snapshot:
            c.add("snapshot_load", json.dumps({k: v for k, v in snapshot.items() if k != part}))

    for target in sorted(c.counts):
        print(f"{target}: {c.counts[target]} new seeds")


if __name__ == "__main__":
    main()
