//! Helpers every function uses: pointer + length inputs, NULL checks, output parameters, handles,
//! owned strings, and the text arena that backs borrowed `const char *` getters.

use crate::panic::boundary;
use crate::status::Status;
use std::borrow::Cow;
use std::ffi::{c_char, CString};

/// A failure on the way out of a call: its status and, for `error_out`, a message.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: Status,
    pub(crate) message: Cow<'static, str>,
}

impl Failure {
    /// A failure with a message of its own.
    pub(crate) fn new(status: Status, message: impl Into<Cow<'static, str>>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }
}

impl From<Status> for Failure {
    fn from(status: Status) -> Failure {
        let message = status.summary().to_string_lossy().into_owned();
        Failure::new(status, message)
    }
}

impl From<tollgate_core::Error> for Failure {
    fn from(e: tollgate_core::Error) -> Failure {
        Failure::new(Status::from_code(e.code()), e.to_string())
    }
}

/// Runs a function body that returns a status, inside the panic boundary. On failure the message
/// goes to `*error_out` when `error_out` is not NULL (the caller frees it with `tg_string_free`).
pub(crate) fn call(
    error_out: *mut *mut c_char,
    body: impl FnOnce() -> Result<(), Failure>,
) -> Status {
    boundary(|| match body() {
        Ok(()) => Status::Ok,
        Err(failure) => {
            if !error_out.is_null() {
                let message = new_string(failure.message.into_owned());
                // SAFETY: `error_out` is not NULL, and the caller promises (header: "Output
                // parameters") that a non-NULL `error_out` points to writable `char *` storage.
                unsafe { error_out.write(message) };
            }
            failure.status
        }
    })
}

/// Fails with `TG_STATUS_NULL_PARAMETER` when any pointer is NULL.
pub(crate) fn not_null<T>(pointers: &[*const T]) -> Result<(), Failure> {
    if pointers.iter().any(|p| p.is_null()) {
        return Err(Failure::new(
            Status::NullParameter,
            "a required pointer argument is NULL",
        ));
    }
    Ok(())
}

/// Checks an output parameter: it must not be NULL.
pub(crate) fn out_param<T>(out: *mut T) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::new(
            Status::NullParameter,
            "an output parameter is NULL",
        ));
    }
    Ok(())
}

/// Writes an output parameter already checked by [`out_param`].
///
/// # Safety
///
/// `out` must be non-NULL, aligned and valid for a write of one `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: the caller guarantees `out` is non-NULL, aligned and writable.
    unsafe { out.write(value) }
}

/// Borrows `len` bytes at `ptr`. NULL is allowed only when `len` is 0.
///
/// # Safety
///
/// When `len > 0`, `ptr` must point to `len` readable bytes that stay valid and unmodified for
/// `'a` (the duration of the call).
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::new(
            Status::NullParameter,
            "a pointer argument is NULL while its length is not 0",
        ));
    }
    if isize::try_from(len).is_err() {
        return Err(Failure::new(
            Status::OutOfRange,
            "a length exceeds PTRDIFF_MAX",
        ));
    }
    // SAFETY: `ptr` is non-NULL and, by the caller's contract, points to `len` readable bytes
    // valid for `'a`; `len <= isize::MAX` was checked above.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Borrows `len` bytes at `ptr` as UTF-8 text.
///
/// # Safety
///
/// As for [`bytes`].
pub(crate) unsafe fn text<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a str, Failure> {
    // SAFETY: forwarded contract.
    let b = unsafe { bytes(ptr, len) }?;
    core::str::from_utf8(b)
        .map_err(|_| Failure::new(Status::InvalidUtf8, format!("{what} is not valid UTF-8")))
}

/// Borrows an array of `len` items at `ptr`. NULL is allowed only when `len` is 0.
///
/// # Safety
///
/// When `len > 0`, `ptr` must point to `len` initialised, aligned `T`s valid for `'a`.
pub(crate) unsafe fn items<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::new(
            Status::NullParameter,
            "an array argument is NULL while its count is not 0",
        ));
    }
    if len
        .checked_mul(core::mem::size_of::<T>())
        .is_none_or(|n| isize::try_from(n).is_err())
    {
        return Err(Failure::new(Status::OutOfRange, "an array is too long"));
    }
    // SAFETY: non-NULL, size checked, and the caller guarantees `len` valid `T`s for `'a`.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// Borrows the object behind a handle pointer.
///
/// # Safety
///
/// `ptr` must be NULL or a live handle of type `T` made by this library and not yet freed, not
/// being mutated by another thread for `'a`.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T) -> Result<&'a T, Failure> {
    if ptr.is_null() {
        return Err(Failure::new(
            Status::NullParameter,
            "a handle argument is NULL",
        ));
    }
    // SAFETY: non-NULL, and by the caller's contract a live handle made by `into_handle`.
    Ok(unsafe { &*ptr })
}

/// Borrows the object behind a handle pointer mutably.
///
/// # Safety
///
/// As for [`handle`], and no other reference to the object may exist for `'a` (the handle is
/// "owned by one thread at a time").
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T) -> Result<&'a mut T, Failure> {
    if ptr.is_null() {
        return Err(Failure::new(
            Status::NullParameter,
            "a handle argument is NULL",
        ));
    }
    // SAFETY: non-NULL, and by the caller's contract a live handle used by this thread alone.
    Ok(unsafe { &mut *ptr })
}

/// Moves a value to the heap and gives C its pointer (freed by [`free_handle`]).
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle made by [`into_handle`]; NULL is a no-op.
///
/// # Safety
///
/// `ptr` must be NULL or a handle of type `T` made by [`into_handle`] and not freed before, and no
/// other thread may be using it.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: made by `Box::into_raw` in `into_handle` and, by contract, not freed before.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// An owned, NUL-terminated copy of `text` for C, freed with `tg_string_free`. A NUL inside the
/// text (never in JSON, keys or hashes; possible only in messages quoting input) becomes U+FFFD,
/// so the C string holds all of it and frees exactly.
pub(crate) fn new_string(text: impl Into<String>) -> *mut c_char {
    let mut text = text.into();
    if text.contains('\0') {
        text = text.replace('\0', "\u{FFFD}");
    }
    CString::new(text).unwrap_or_default().into_raw()
}

/// Where one string sits in a [`Text`] arena.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Span {
    start: usize,
    len: usize,
}

/// NUL-terminated strings packed in one buffer, so that a handle's getters can return
/// `const char *` pointers that stay valid until the handle changes or is freed. Reused across
/// checks: once warm it does not allocate.
#[derive(Debug, Default)]
pub(crate) struct Text {
    buf: Vec<u8>,
}

impl Text {
    /// Forgets every string, keeping the buffer.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
    }

    /// Appends `bytes` and a NUL.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Span {
        let start = self.buf.len();
        self.buf.extend_from_slice(bytes);
        self.buf.push(0);
        Span {
            start,
            len: bytes.len(),
        }
    }

    /// Appends `text` and a NUL.
    pub(crate) fn push_str(&mut self, text: &str) -> Span {
        self.push(text.as_bytes())
    }

    /// Appends text given as characters (decoded JSON strings) and a NUL.
    pub(crate) fn push_chars(&mut self, chars: impl Iterator<Item = char>) -> Span {
        let start = self.buf.len();
        let mut utf8 = [0u8; 4];
        for c in chars {
            self.buf
                .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
        }
        let len = self.buf.len() - start;
        self.buf.push(0);
        Span { start, len }
    }

    /// The pointer to a string (NULL for `None`), its length (without the NUL) written to
    /// `len_out` when that is not NULL.
    pub(crate) fn get(&self, span: Option<Span>, len_out: *mut usize) -> *const c_char {
        let Some(span) = span else {
            return core::ptr::null();
        };
        let Some(at) = self.buf.get(span.start..) else {
            return core::ptr::null();
        };
        if !len_out.is_null() {
            // SAFETY: non-NULL; the header documents `len_out` as NULL or writable `size_t`.
            unsafe { len_out.write(span.len) };
        }
        at.as_ptr().cast()
    }

    /// The bytes of a string (without the NUL).
    #[cfg(test)]
    pub(crate) fn bytes(&self, span: Span) -> &[u8] {
        self.buf
            .get(span.start..span.start.saturating_add(span.len))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_strings_are_nul_terminated_and_exact() {
        let mut t = Text::default();
        let a = t.push_str("alice");
        let b = t.push(b"x\0y");
        let c = t.push_chars("héllo".chars());
        let mut len = 0usize;
        let p = t.get(Some(a), &mut len);
        // SAFETY: `p` points into `t`, which outlives the read, and is NUL-terminated.
        let s = unsafe { std::ffi::CStr::from_ptr(p) };
        assert_eq!((s.to_bytes(), len), (&b"alice"[..], 5));
        t.get(Some(b), &mut len);
        assert_eq!((t.bytes(b), len), (&b"x\0y"[..], 3));
        assert_eq!(t.bytes(c), "héllo".as_bytes());
        assert!(t.get(None, &mut len).is_null());
    }

    #[test]
    fn inputs_are_checked_before_use() {
        // SAFETY: NULL with length 0 is the documented empty input; NULL with a length fails.
        unsafe {
            assert_eq!(bytes(core::ptr::null(), 0).unwrap(), b"");
            assert_eq!(
                bytes(core::ptr::null(), 3).unwrap_err().status,
                Status::NullParameter
            );
            let bad = [0xffu8, 0xfe];
            assert_eq!(
                text(bad.as_ptr(), bad.len(), "x").unwrap_err().status,
                Status::InvalidUtf8
            );
        }
        let s = new_string("a\0b");
        // SAFETY: made by `new_string` just above; freed once.
        let back = unsafe { CString::from_raw(s) };
        assert_eq!(back.to_str().unwrap(), "a\u{FFFD}b");
    }
}
