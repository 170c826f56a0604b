//! The Python package's fast path: the extension module `tollgate._native` (feature `python`).
//!
//! The Python package talks to this library through ctypes and the C ABI. One call is the hot path
//! a gateway makes for every request, `Verifier.verify`, and there ctypes' per-call costs (an out
//! parameter per result, a getter call per field, `json.loads` of the claims) were several times
//! the verification itself. With the `python` feature the same `libtollgate.so` is also a CPython
//! extension module (it exports `PyInit__native`; the package loads the one file both ways, so both
//! see the same handles): a [`NativeVerifier`] shares the core verifier of a `tg_verifier` handle,
//! verifies with the GIL released, and builds the claims as Python objects straight from the
//! verified JSON.
//!
//! Everything else stays on the C ABI: one set of handles, one set of tests for ownership and
//! lifetimes (tests/c, the Python suite).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{SystemTime, UNIX_EPOCH};
use tollgate_core::json::{Kind, Object, Value};
use tollgate_core::TokenBuffer;
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
        if handle == 0 {
            return Err(PyValueError::new_err("tollgate: a NULL verifier handle"));
        }
        // SAFETY: non-NULL, and by this constructor's contract (it is private to the package,
        // which passes only the handle of a Verifier it owns, right after making it) a live
        // verifier made by this library, read only during this call.
        let verifier = unsafe { &*(handle as *const Verifier) };
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
        let now = match now {
            Some(now) => now,
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|_| PyValueError::new_err("tollgate: the system clock is before 1970"))?
                .as_secs(),
        };
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
            Err(_) => {
                let message = Status::Panic.summary().to_string_lossy();
                return Err(raise(fail, Status::Panic, &message)?);
            }
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
    Ok(())
}
