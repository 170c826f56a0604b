"""The native library: ctypes declarations of include/tollgate.h (the subset this package uses),
and the same file as the extension module `tollgate._native` (ffi/python: the fast path of
`Verifier.verify`).

The package ships one library, `_native.abi3.so` (built from ffi/python: tollgate-ffi's C ABI
plus `PyInit__native`). It is loaded twice from the one path, with ctypes and as an extension
module, so the loader maps it once and the handles of one are the handles of the other.
`TOLLGATE_LIBRARY=<path>` loads another build of ffi/python instead (tests/aws-lc.sh does).
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import importlib.util
import os
import sys
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_double,
    c_size_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path


class Header(Structure):
    """tg_header: name and value as pointer + length."""

    _fields_ = [
        ("name", c_void_p),
        ("name_len", c_size_t),
        ("value", c_void_p),
        ("value_len", c_size_t),
    ]


LIBRARY = "_native.abi3.so"
path = os.environ.get("TOLLGATE_LIBRARY") or str(Path(__file__).with_name(LIBRARY))
lib = ctypes.CDLL(path)


def _load_native(path: str):  # type: ignore[no-untyped-def]
    name = __name__.rsplit(".", 1)[0] + "._native"
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:
        raise ImportError(f"cannot load {path} as {name}")
    try:
        module = importlib.util.module_from_spec(spec)
    except ImportError as e:
        raise ImportError(
            f"{path} is not Tollgate's Python library ({e}); it is built from ffi/python "
            "(cargo build --release -p tollgate-python), as pip install ./bindings/python does"
        ) from None
    loader.exec_module(module)
    sys.modules[name] = module
    return module


native = _load_native(path)

_P = c_void_p  # opaque handles
_OUT = POINTER(c_void_p)  # handle_out
_STR_OUT = POINTER(c_void_p)  # char **: kept as void* so it can be freed with tg_string_free
_LEN = POINTER(c_size_t)


def _fn(name: str, restype, *argtypes):  # type: ignore[no-untyped-def]
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


tg_version = _fn("tg_version", c_char_p)
tg_backends = _fn("tg_backends", c_char_p)
tg_error_name = _fn("tg_error_name", c_char_p, c_uint32)
tg_error_message = _fn("tg_error_message", c_char_p, c_uint32)
tg_error_http_status = _fn("tg_error_http_status", c_uint16, c_uint32)
tg_string_free = _fn("tg_string_free", None, c_void_p)

tg_decision_free = _fn("tg_decision_free", None, _P)
tg_decision_status = _fn("tg_decision_status", c_uint16, _P)
tg_decision_reason = _fn("tg_decision_reason", c_uint32, _P)
_STRING_GETTER = (c_void_p, _P, _LEN)
tg_decision_reason_name = _fn("tg_decision_reason_name", *_STRING_GETTER)
tg_decision_message = _fn("tg_decision_message", *_STRING_GETTER)
tg_decision_route = _fn("tg_decision_route", *_STRING_GETTER)
tg_decision_subject = _fn("tg_decision_subject", *_STRING_GETTER)
tg_decision_kind = _fn("tg_decision_kind", *_STRING_GETTER)
tg_decision_provider = _fn("tg_decision_provider", *_STRING_GETTER)
tg_decision_tenant = _fn("tg_decision_tenant", *_STRING_GETTER)
tg_decision_roles_count = _fn("tg_decision_roles_count", c_size_t, _P)
tg_decision_role = _fn("tg_decision_role", c_void_p, _P, c_size_t, _LEN)
tg_decision_permissions_count = _fn("tg_decision_permissions_count", c_size_t, _P)
tg_decision_permission = _fn("tg_decision_permission", c_void_p, _P, c_size_t, _LEN)
tg_decision_expires_at = _fn("tg_decision_expires_at", c_bool, _P, POINTER(c_double))
tg_decision_claims_json = _fn("tg_decision_claims_json", *_STRING_GETTER)
tg_decision_www_authenticate = _fn("tg_decision_www_authenticate", *_STRING_GETTER)
tg_decision_forward_headers_count = _fn("tg_decision_forward_headers_count", c_size_t, _P)
tg_decision_forward_header = _fn(
    "tg_decision_forward_header", c_uint32, _P, c_size_t, POINTER(Header)
)
tg_decision_correlation_id = _fn("tg_decision_correlation_id", *_STRING_GETTER)
tg_decision_refresh_provider = _fn("tg_decision_refresh_provider", *_STRING_GETTER)
tg_decision_refresh_kid = _fn("tg_decision_refresh_kid", *_STRING_GETTER)
tg_decision_to_json = _fn("tg_decision_to_json", c_uint32, _P, _STR_OUT)

tg_engine_new = _fn("tg_engine_new", c_uint32, c_char_p, c_size_t, _OUT, _STR_OUT)
tg_engine_free = _fn("tg_engine_free", None, _P)
tg_engine_swap_snapshot_json = _fn(
    "tg_engine_swap_snapshot_json", c_uint32, _P, c_char_p, c_size_t, _STR_OUT
)
tg_engine_check = _fn(
    "tg_engine_check",
    c_uint32,
    _P,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    POINTER(Header),
    c_size_t,
    c_uint64,
    _OUT,
)

tg_verifier_new = _fn(
    "tg_verifier_new", c_uint32, c_char_p, c_size_t, c_char_p, c_size_t, _OUT, _STR_OUT
)
tg_verifier_free = _fn("tg_verifier_free", None, _P)
tg_verifier_verify_jws = _fn(
    "tg_verifier_verify_jws", c_uint32, _P, c_char_p, c_size_t, _OUT, _STR_OUT
)
tg_token_free = _fn("tg_token_free", None, _P)
tg_token_payload = _fn("tg_token_payload", *_STRING_GETTER)
tg_token_algorithm = _fn("tg_token_algorithm", *_STRING_GETTER)
tg_token_key_id = _fn("tg_token_key_id", *_STRING_GETTER)

tg_refresher_new = _fn("tg_refresher_new", c_uint32, c_char_p, c_size_t, _OUT, _STR_OUT)
tg_refresher_new_for_provider = _fn(
    "tg_refresher_new_for_provider",
    c_uint32,
    _P,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    _OUT,
    _STR_OUT,
)
tg_refresher_free = _fn("tg_refresher_free", None, _P)
tg_refresher_poll = _fn("tg_refresher_poll", c_bool, _P, c_uint64, POINTER(c_uint64))
tg_refresher_on_fetched = _fn(
    "tg_refresher_on_fetched",
    c_uint32,
    _P,
    c_uint16,
    POINTER(Header),
    c_size_t,
    c_char_p,
    c_size_t,
    c_uint64,
    _STR_OUT,
)
tg_refresher_on_fetch_failed = _fn(
    "tg_refresher_on_fetch_failed", c_uint32, _P, c_char_p, c_size_t, c_uint64
)
tg_refresher_on_unknown_kid = _fn(
    "tg_refresher_on_unknown_kid", c_bool, _P, c_char_p, c_size_t, c_uint64
)
tg_refresher_swap_into = _fn(
    "tg_refresher_swap_into", c_uint32, _P, _P, c_char_p, c_size_t, c_uint64, _STR_OUT
)
tg_refresher_generation = _fn(
    "tg_refresher_generation", c_uint32, _P, c_uint64, POINTER(c_uint64), _STR_OUT
)
tg_refresher_verifier = _fn(
    "tg_refresher_verifier", c_uint32, _P, c_char_p, c_size_t, c_uint64, _OUT, _STR_OUT
)
tg_refresher_status_json = _fn("tg_refresher_status_json", c_uint32, _P, c_uint64, _STR_OUT)
tg_discovery_check_url = _fn("tg_discovery_check_url", c_uint32, c_char_p, c_size_t, _STR_OUT)
tg_discovery_configuration_url = _fn(
    "tg_discovery_configuration_url", c_uint32, c_char_p, c_size_t, _STR_OUT, _STR_OUT
)
tg_discovery_jwks_uri = _fn(
    "tg_discovery_jwks_uri", c_uint32, c_char_p, c_size_t, c_char_p, c_size_t, _STR_OUT, _STR_OUT
)
tg_engine_reissue = _fn("tg_engine_reissue", c_uint32, _P, _P, c_uint64, _STR_OUT, _STR_OUT)

tg_apikey_generate = _fn(
    "tg_apikey_generate",
    c_uint32,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    c_uint64,
    _STR_OUT,
    _STR_OUT,
    _STR_OUT,
)
tg_apikey_check = _fn("tg_apikey_check", c_uint32, c_char_p, c_size_t, c_char_p, c_size_t)
tg_apikey_hash = _fn("tg_apikey_hash", c_uint32, c_char_p, c_size_t, c_char_p, c_size_t, _STR_OUT)

tg_webhook_verifier_new = _fn("tg_webhook_verifier_new", c_uint32, c_char_p, c_size_t, _OUT, _STR_OUT)
tg_webhook_verifier_free = _fn("tg_webhook_verifier_free", None, _P)
tg_webhook_verifier_verify = _fn(
    "tg_webhook_verifier_verify",
    c_uint32,
    _P,
    _P,
    POINTER(Header),
    c_size_t,
    c_char_p,
    c_size_t,
    c_uint64,
    _STR_OUT,
)
tg_webhook_verify = _fn(
    "tg_webhook_verify",
    c_uint32,
    c_char_p,
    c_size_t,
    POINTER(Header),
    c_size_t,
    c_char_p,
    c_size_t,
    c_uint64,
    _STR_OUT,
)
tg_webhook_sign = _fn(
    "tg_webhook_sign",
    c_uint32,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    c_uint64,
    c_char_p,
    c_size_t,
    _STR_OUT,
    _STR_OUT,
)
tg_webhook_secret_generate = _fn("tg_webhook_secret_generate", c_uint32, _STR_OUT)
tg_webhook_key_pair_generate = _fn("tg_webhook_key_pair_generate", c_uint32, _STR_OUT, _STR_OUT)
tg_replay_guard_new = _fn("tg_replay_guard_new", c_uint32, c_size_t, c_uint64, _OUT, _STR_OUT)
tg_replay_guard_free = _fn("tg_replay_guard_free", None, _P)

# Records in a shared store (docs/records.md): checks that wait on a record, invalidation, records
# in store form (a snapshot's, a session's), webhook replay claims.
tg_engine_check_step = _fn(
    "tg_engine_check_step",
    c_uint32,
    _P,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    POINTER(Header),
    c_size_t,
    c_uint64,
    _OUT,
    _OUT,
)
tg_pending_store_key = _fn("tg_pending_store_key", *_STRING_GETTER)
tg_pending_steps = _fn("tg_pending_steps", c_size_t, _P)
tg_pending_free = _fn("tg_pending_free", None, _P)
tg_engine_resume = _fn(
    "tg_engine_resume", c_uint32, _P, _P, c_char_p, c_size_t, c_bool, c_uint64, _OUT, _OUT
)
tg_engine_resume_unavailable = _fn("tg_engine_resume_unavailable", c_uint32, _P, _P, c_uint64, _OUT)
tg_engine_invalidate = _fn("tg_engine_invalidate", c_uint32, _P, c_char_p, c_size_t, _STR_OUT)
tg_engine_release_provider_keys = _fn(
    "tg_engine_release_provider_keys", c_uint32, _P, c_char_p, c_size_t, _STR_OUT
)
tg_webhook_verifier_verify_for_store = _fn(
    "tg_webhook_verifier_verify_for_store",
    c_uint32,
    _P,
    POINTER(Header),
    c_size_t,
    c_char_p,
    c_size_t,
    c_uint64,
    c_uint64,
    _STR_OUT,
    POINTER(c_uint64),
    _STR_OUT,
)
tg_store_records_from_snapshot = _fn(
    "tg_store_records_from_snapshot", c_uint32, c_char_p, c_size_t, _STR_OUT, _STR_OUT
)
tg_store_session_record = _fn(
    "tg_store_session_record",
    c_uint32,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    c_char_p,
    c_size_t,
    _STR_OUT,
    _STR_OUT,
)
