//! The Python package's fast path: the extension module `tollgate._native` (crate `tollgate-python`).
//!
//! The Python package talks to this library through ctypes and the C ABI. Two calls are the hot
//! path a gateway makes for every request, `Engine.check` and `Verifier.verify`, and there ctypes'
//! per-call costs (an out parameter per result, a getter call per field, `json.loads` of the
//! claims) were several times the work itself. This crate's library is tollgate-ffi's C ABI
//! (re-exported) and a CPython extension module (it exports `PyInit__native`; the package loads
//! the one file both ways, so both see the same handles): a [`NativeEngine`] or [`NativeVerifier`]
//! shares the core engine or verifier of a handle, works with the GIL released, and builds the
//! result as Python objects straight from the core's values and the verified JSON.
//!
//! Everything else stays on the C ABI: one set of handles, one set of tests for ownership and
//! lifetimes (tests/c, the Python suite).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tollgate_core::json::{parse_object, Kind, Object, Value};
use tollgate_core::limits::MAX_JSON_DEPTH;
use tollgate_core::{Decision, Request, TokenBuffer};
use tollgate_ffi::engine::Engine;
use tollgate_ffi::status::Status;
use tollgate_ffi::verifier::Verifier;

/// `Verifier(handle)`: the fast path of one `tg_verifier`, sharing its core verifier (keys, rules
/// and verified-token cache; the key set and the cache are reference-counted, so this object does
/// not depend on the handle after it is made: the package may free the handle while a call here
/// runs).
#[pyclass(frozen, name = "Verifier", module = "tollgate._native")]
struct NativeVerifier {
    inner: tollgate_core::Verifier,
}

#[pymethods]
impl NativeVerifier {
    /// `handle` is a live `tg_verifier *` as an integer, which the package made with
    /// `tg_verifier_new` or `tg_refresher_verifier` and has not freed.
    #[new]
    fn new(handle: usize) -> PyResult<NativeVerifier> {
        // SAFETY: this constructor is private to the package, which passes only the handle of a
        // Verifier it owns, right after making it: 0 or a live verifier of this library.
        let verifier = unsafe { borrow::<Verifier>(handle, "verifier") }?;
        Ok(NativeVerifier {
            inner: verifier.core().clone(),
        })
    }

    /// `verify(token, now, fail) -> (header_b64, claims, None, key_id, payload)`, the arguments of
    /// the package's `VerifiedToken`: verifies `token` (str or bytes) at `now` (Unix seconds; the
    /// system clock when None) with the GIL released. Returns the token's first segment, the
    /// claims as a dict (what `json.loads` makes of the payload), the verifying key's `kid` (or
    /// None) and the payload bytes. A rejected token (or a panic, as `TG_STATUS_PANIC`) raises
    /// what `fail(number, message)` returns: the package's TokenError / TollgateError.
    fn verify<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        now: Option<u64>,
        fail: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let token: &[u8] = match token.cast::<PyString>() {
            Ok(s) => s.to_str()?.as_bytes(),
            Err(_) => token.cast::<PyBytes>()?.as_bytes(),
        };
        let now = now_or_clock(now)?;
        let verifier = &self.inner;
        let buf = &mut TokenBuffer::new();
        // A panic inside the core comes back as TG_STATUS_PANIC, as from the C functions.
        let verified = py.detach(|| {
            catch_unwind(AssertUnwindSafe(move || {
                let buf = buf; // moved in: the result borrows it
                verifier.verify(token, now, buf)
            }))
        });
        let verified = match verified {
            Ok(Ok(verified)) => verified,
            Ok(Err(e)) => return Err(raise(fail, Status::from_code(e.code()), &e.to_string())?),
            Err(_) => return Err(panicked(fail)),
        };
        // Verified, so the token has its three segments.
        let header_b64 = token.split(|&b| b == b'.').next().unwrap_or_default();
        let claims = verified.claims().object();
        let key_id = match verified.key_id() {
            Some(k) => PyString::new(py, k).into_any(),
            None => py.None().into_bound(py),
        };
        PyTuple::new(
            py,
            [
                PyBytes::new(py, header_b64).into_any(),
                object(py, claims)?.into_any(),
                py.None().into_bound(py),
                key_id,
                PyBytes::new(py, claims.as_str().as_bytes()).into_any(),
            ],
        )
    }
}

/// `Engine(handle)`: the fast path of one `tg_engine`, sharing its core engine (policy, current
/// snapshot, cache): a snapshot swapped through the handle is the one this object checks with, and
/// it does not depend on the handle after it is made.
#[pyclass(frozen, name = "Engine", module = "tollgate._native")]
struct NativeEngine {
    inner: Arc<tollgate_core::Engine>,
}

#[pymethods]
impl NativeEngine {
    /// `handle` is a live `tg_engine *` as an integer, which the package made with `tg_engine_new`
    /// and has not freed.
    #[new]
    fn new(handle: usize) -> PyResult<NativeEngine> {
        // SAFETY: this constructor is private to the package, which passes only the handle of an
        // Engine it owns, right after making it: 0 or a live engine of this library.
        let engine = unsafe { borrow::<Engine>(handle, "engine") }?;
        Ok(NativeEngine {
            inner: engine.core().clone(),
        })
    }

    /// `check(method, path, headers, now) -> tuple`: the fields of the package's `Decision`, in
    /// its order. `method` and `path` are str or bytes; `headers` an iterable of (name, value)
    /// tuples of str or bytes (anything else raises TypeError, and the package converts it);
    /// `now` Unix seconds, the system clock when None. A method, path or header that is not
    /// UTF-8 is decided as `tg_engine_check` decides it: 400 `invalid_request`. The check runs
    /// with the GIL released; a panic inside it raises what `fail(number, message)` returns.
    fn check<'py>(
        &self,
        py: Python<'py>,
        method: &Bound<'py, PyAny>,
        path: &Bound<'py, PyAny>,
        headers: &Bound<'py, PyAny>,
        now: Option<u64>,
        fail: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let now = now_or_clock(now)?;
        let mut held = Vec::new();
        for item in headers.try_iter()? {
            let pair = item?.cast_into::<PyTuple>()?;
            if pair.len() != 2 {
                return Err(PyTypeError::new_err("a header is a (name, value) pair"));
            }
            held.push((pair.get_item(0)?, pair.get_item(1)?));
        }
        let method = text(method)?;
        let path = text(path)?;
        let mut pairs = Vec::with_capacity(held.len());
        let mut headers_utf8 = true;
        for (name, value) in &held {
            match (text(name)?, text(value)?) {
                (Ok(n), Ok(v)) => pairs.push((n, v)),
                _ => headers_utf8 = false,
            }
        }
        let decision = match Request::parts_from_utf8(method, path, headers_utf8) {
            Ok((method, path)) => {
                let engine = &self.inner;
                let request = Request::new(method, path, &pairs);
                // A panic inside the core comes back as TG_STATUS_PANIC, as from the C functions.
                match py.detach(|| catch_unwind(AssertUnwindSafe(|| engine.check(&request, now)))) {
                    Ok(decision) => decision,
                    Err(_) => return Err(panicked(fail)),
                }
            }
            Err(reason) => Decision::invalid_request(reason),
        };
        decision_fields(py, &decision)
    }
}

/// The object behind a handle the package passes as an integer; ValueError for 0.
///
/// # Safety
///
/// `handle` is 0 or a live handle of a `T` made by this library (`tg_verifier *` for `Verifier`,
/// `tg_engine *` for `Engine`), not freed while the reference is used.
unsafe fn borrow<'a, T>(handle: usize, what: &str) -> PyResult<&'a T> {
    if handle == 0 {
        return Err(PyValueError::new_err(format!(
            "tollgate: a NULL {what} handle"
        )));
    }
    // SAFETY: non-NULL, and by the caller's contract a live `T` made by this library.
    Ok(unsafe { &*(handle as *const T) })
}

/// A str's UTF-8 text, or bytes that may or may not be UTF-8 (Err: they are not); TypeError for
/// anything else.
fn text<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<Result<&'a str, core::str::Utf8Error>> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(Ok(s.to_str()?)),
        Err(_) => Ok(core::str::from_utf8(value.cast::<PyBytes>()?.as_bytes())),
    }
}

/// The TollgateError `panic` (via `fail`) for a panic caught inside the core, as the C
/// functions report one.
fn panicked(fail: &Bound<'_, PyAny>) -> PyErr {
    let message = Status::Panic.summary().to_string_lossy();
    match raise(fail, Status::Panic, &message) {
        Ok(e) | Err(e) => e,
    }
}

/// `now`, or the system clock's Unix seconds.
fn now_or_clock(now: Option<u64>) -> PyResult<u64> {
    match now {
        Some(now) => Ok(now),
        None => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| PyValueError::new_err("tollgate: the system clock is before 1970"))?
            .as_secs()),
    }
}

/// The fields of the package's `Decision` (status, reason, code, message, route, subject, kind,
/// provider, tenant, roles, permissions, expires_at, claims, www_authenticate, forward_headers,
/// correlation_id, refresh_provider, refresh_kid).
fn decision_fields<'py>(py: Python<'py>, d: &Decision) -> PyResult<Bound<'py, PyTuple>> {
    let none = || py.None().into_bound(py);
    let string = |s: Option<&str>| match s {
        Some(s) => PyString::new(py, s).into_any(),
        None => py.None().into_bound(py),
    };
    let p = d.principal.as_ref();
    let forward = PyDict::new(py);
    for (name, value) in &d.forward_headers {
        forward.set_item(name, value)?;
    }
    let claims = match p {
        Some(p) => {
            let claims = parse_object(p.claims.as_bytes(), MAX_JSON_DEPTH).map_err(|_| {
                PyValueError::new_err("tollgate: a decision's claims failed to read back")
            })?;
            object(py, claims)?.into_any()
        }
        None => none(),
    };
    let roles = match p {
        Some(p) => PyTuple::new(py, p.roles().collect::<Vec<_>>())?,
        None => PyTuple::empty(py),
    };
    let permissions = match p {
        Some(p) => PyTuple::new(py, p.permissions().collect::<Vec<_>>())?,
        None => PyTuple::empty(py),
    };
    let expires_at = match p.and_then(|p| p.expires_at) {
        Some(exp) => PyFloat::new(py, exp).into_any(),
        None => none(),
    };
    let hint = d.refresh_hint.as_ref();
    PyTuple::new(
        py,
        [
            d.status.into_bound_py_any(py)?,
            PyString::new(py, d.code.name()).into_any(),
            d.code.number().into_bound_py_any(py)?,
            PyString::new(py, &d.message).into_any(),
            string(d.route.as_deref()),
            string(p.map(|p| p.subject.as_str())),
            string(p.map(|p| p.kind.name())),
            string(p.map(|p| p.provider())),
            string(p.and_then(|p| p.tenant.as_deref())),
            roles.into_any(),
            permissions.into_any(),
            expires_at,
            claims,
            string(d.www_authenticate.as_deref()),
            forward.into_any(),
            string(d.correlation_id.as_deref()),
            string(hint.map(|h| h.provider.as_str())),
            string(hint.map(|h| h.kid.as_str())),
        ],
    )
}

/// The exception `fail(number, message)` makes, to raise.
fn raise(fail: &Bound<'_, PyAny>, status: Status, message: &str) -> PyResult<PyErr> {
    let error = fail.call1((status as u32, message))?;
    Ok(PyErr::from_value(error))
}

/// A JSON object as a dict, members in document order (names are unique: the reader refused
/// duplicates), values as `json.loads` makes them.
fn object<'py>(py: Python<'py>, object: Object<'_>) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, value) in object.members() {
        let name = match name.as_borrowed() {
            Some(s) => PyString::new(py, s),
            None => PyString::new(py, &name.to_cow()),
        };
        dict.set_item(name, self::value(py, value)?)?;
    }
    Ok(dict)
}

fn value<'py>(py: Python<'py>, value: Value<'_>) -> PyResult<Bound<'py, PyAny>> {
    let invalid = || PyValueError::new_err("tollgate: a verified document failed to read back");
    Ok(match value.kind() {
        Kind::Object => object(py, value.as_object().ok_or_else(invalid)?)?.into_any(),
        Kind::Array => {
            let list = PyList::empty(py);
            for element in value.as_array().ok_or_else(invalid)? {
                list.append(self::value(py, element)?)?;
            }
            list.into_any()
        }
        Kind::String => {
            let s = value.as_str().ok_or_else(invalid)?;
            match s.as_borrowed() {
                Some(s) => PyString::new(py, s).into_any(),
                None => PyString::new(py, &s.to_cow()).into_any(),
            }
        }
        Kind::Number => number(py, value.as_raw())?,
        Kind::Bool => value.as_bool().ok_or_else(invalid)?.into_bound_py_any(py)?,
        Kind::Null => py.None().into_bound(py),
    })
}

/// A JSON number as `json.loads` reads it: with a fraction or an exponent a float (correctly
/// rounded, as Python's `float()`; overflow gives an infinity), otherwise an int of any size.
fn number<'py>(py: Python<'py>, raw: &str) -> PyResult<Bound<'py, PyAny>> {
    if raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        let f: f64 = raw
            .parse()
            .map_err(|_| PyValueError::new_err("tollgate: unreadable number"))?;
        return Ok(PyFloat::new(py, f).into_any());
    }
    match raw.parse::<i64>() {
        Ok(i) => i.into_bound_py_any(py),
        // Python's int() of the digits, with its limit on their count (as json.loads).
        Err(_) => py.get_type::<PyInt>().call1((raw,)),
    }
}

/// The module `tollgate._native`.
#[pymodule]
#[pyo3(name = "_native")]
fn native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeVerifier>()?;
    module.add_class::<NativeEngine>()?;
    Ok(())
}
