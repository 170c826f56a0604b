//! The panic boundary: every `extern "C"` body runs inside [`boundary`], so a panic never unwinds
//! into C (which is undefined behaviour). A caught panic becomes `TG_STATUS_PANIC`, a NULL
//! pointer, `false` or zero, and no output parameter is written.

use crate::status::Status;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a function returns when its body panicked.
pub(crate) trait OnPanic {
    /// The value for a caught panic.
    fn on_panic() -> Self;
}

impl OnPanic for Status {
    fn on_panic() -> Status {
        Status::Panic
    }
}

impl<T> OnPanic for *const T {
    fn on_panic() -> *const T {
        core::ptr::null()
    }
}

impl<T> OnPanic for *mut T {
    fn on_panic() -> *mut T {
        core::ptr::null_mut()
    }
}

impl<T> OnPanic for Option<T> {
    fn on_panic() -> Option<T> {
        None
    }
}

impl OnPanic for () {
    fn on_panic() {}
}

impl OnPanic for bool {
    fn on_panic() -> bool {
        false
    }
}

macro_rules! zero_on_panic {
    ($($t:ty),*) => { $( impl OnPanic for $t { fn on_panic() -> $t { 0 } } )* };
}
zero_on_panic!(u16, u32, usize);

/// Runs `body`, turning a panic into [`OnPanic::on_panic`].
///
/// `AssertUnwindSafe` is sound here: after a panic the caller only gets the failure value, and
/// every handle it holds is still valid to free (no handle is left half-updated in a way that
/// freeing it could observe; at worst a decision holds stale text).
pub(crate) fn boundary<R: OnPanic>(body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| R::on_panic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_failure_values() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        assert_eq!(boundary(|| -> Status { panic!("boom") }), Status::Panic);
        assert!(boundary(|| -> *const u8 { panic!("boom") }).is_null());
        assert_eq!(boundary(|| -> usize { panic!("boom") }), 0);
        std::panic::set_hook(quiet);
        assert_eq!(boundary(|| Status::Ok), Status::Ok);
    }
}
