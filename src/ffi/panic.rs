//! The panic boundary, handle poisoning, and the helpers every export uses to read pointers
//! from C and write out-parameters.
//!
//! Functions rather than macros, so that rustfmt formats the bodies of the exports.

use core::sync::atomic::{AtomicBool, Ordering};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::enums::*;

/// Run `f` inside the panic boundary: its error, `SASLMECH_OK`, or `SASLMECH_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> R<()>) -> saslmech_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => SASLMECH_OK,
        Ok(Err(e)) => e,
        Err(_) => SASLMECH_PANIC,
    }
}

/// A value returned directly (a static string) from inside the panic boundary, or `fallback`.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Set once a call on a handle caught a panic. Atomic, so that a handle read by several threads
/// at once (a shared configuration) has no data race even then.
#[derive(Default)]
pub(crate) struct Poison(AtomicBool);

impl Poison {
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A handle that a caught panic makes unusable.
pub(crate) trait Handle {
    fn poisoned(&self) -> &Poison;
}

/// Run `f` on the handle `h` points to, inside the panic boundary; a panic poisons the handle.
///
/// # Safety
/// `h` is NULL or points to a live handle that no one else uses during the call.
pub(crate) unsafe fn with_mut<H: Handle>(
    h: *mut H,
    f: impl FnOnce(&mut H) -> R<()>,
) -> saslmech_result {
    // SAFETY: the caller guarantees `h` is NULL (checked here) or valid and unaliased.
    let Some(h) = (unsafe { h.as_mut() }) else {
        return SASLMECH_NULL_ARGUMENT;
    };
    if h.poisoned().get() {
        return SASLMECH_POISONED;
    }
    match catch_unwind(AssertUnwindSafe(|| f(&mut *h))) {
        Ok(Ok(())) => SASLMECH_OK,
        Ok(Err(e)) => e,
        Err(_) => {
            h.poisoned().set();
            SASLMECH_PANIC
        }
    }
}

/// [`with_mut`] for calls that do not change the handle.
///
/// # Safety
/// `h` is NULL or points to a live handle that no one changes during the call.
pub(crate) unsafe fn with_ref<H: Handle>(
    h: *const H,
    f: impl FnOnce(&H) -> R<()>,
) -> saslmech_result {
    // SAFETY: the caller guarantees `h` is NULL (checked here) or valid for shared access.
    let Some(h) = (unsafe { h.as_ref() }) else {
        return SASLMECH_NULL_ARGUMENT;
    };
    if h.poisoned().get() {
        return SASLMECH_POISONED;
    }
    match catch_unwind(AssertUnwindSafe(|| f(h))) {
        Ok(Ok(())) => SASLMECH_OK,
        Ok(Err(e)) => e,
        Err(_) => {
            h.poisoned().set();
            SASLMECH_PANIC
        }
    }
}

/// Bytes from C.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` bytes for `'a`, not written meanwhile.
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize) -> R<&'a [u8]> {
    if p.is_null() {
        return Err(SASLMECH_NULL_ARGUMENT);
    }
    if len > isize::MAX as usize {
        return Err(SASLMECH_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL (checked), `u8` needs no alignment, `len` fits `isize` (checked), and
    // the caller guarantees the bytes are readable and stable for `'a`.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// UTF-8 text from C.
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn text<'a>(p: *const u8, len: usize) -> R<&'a str> {
    // SAFETY: forwarded from the caller.
    let b = unsafe { bytes(p, len) }?;
    core::str::from_utf8(b).map_err(|_| SASLMECH_INVALID_UTF8)
}

/// Fail with `SASLMECH_NULL_ARGUMENT` if an out-pointer is NULL (checked before any work).
pub(crate) fn nonnull<T>(p: *mut T) -> R<()> {
    if p.is_null() {
        Err(SASLMECH_NULL_ARGUMENT)
    } else {
        Ok(())
    }
}

/// Write one out-parameter.
///
/// # Safety
/// `p` is non-NULL (checked by the caller with [`nonnull`]) and valid for one aligned write.
pub(crate) unsafe fn put<T>(p: *mut T, v: T) {
    // SAFETY: guaranteed by the caller.
    unsafe { p.write(v) }
}

/// Write a byte string as pointer + length.
///
/// # Safety
/// Both pointers are non-NULL and valid for one write each.
pub(crate) unsafe fn put_bytes(p: *mut *const u8, n: *mut usize, b: &[u8]) {
    // An empty slice's pointer may dangle; C may not even pass such a pointer to memcmp with a
    // length of 0, so empty output points at a real (NUL) byte.
    static EMPTY: [u8; 1] = [0];
    let ptr = if b.is_empty() {
        EMPTY.as_ptr()
    } else {
        b.as_ptr()
    };
    // SAFETY: guaranteed by the caller.
    unsafe {
        put(p, ptr);
        put(n, b.len());
    }
}

/// Free a handle made by `Box::into_raw`.
///
/// # Safety
/// `h` is NULL or came from `Box::into_raw` and is not used afterwards.
pub(crate) unsafe fn free<H>(h: *mut H) {
    if h.is_null() {
        return;
    }
    // Dropping wipes every secret buffer the handle owns. A panic in a destructor must not
    // unwind into C either; the memory is then leaked, which is the safe outcome.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller guarantees `h` came from `Box::into_raw` and is not used again.
        drop(unsafe { Box::from_raw(h) });
    }));
}

/// Optional bytes from C: NULL is `None` (whatever the length), anything else as [`bytes`].
///
/// # Safety
/// As [`bytes`].
pub(crate) unsafe fn opt_bytes<'a>(p: *const u8, len: usize) -> R<Option<&'a [u8]>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller; non-NULL checked.
    unsafe { bytes(p, len) }.map(Some)
}

/// Copy `src` into a caller's buffer.
///
/// # Safety
/// `out` is non-NULL and valid for `cap` byte writes; `out_len` non-NULL and writable.
pub(crate) unsafe fn copy_out(src: &[u8], out: *mut u8, cap: usize, out_len: *mut usize) -> R<()> {
    if src.len() > cap {
        return Err(SASLMECH_BUFFER_TOO_SMALL);
    }
    // SAFETY: `out` has room for `cap >= src.len()` bytes (caller); `src` is our own memory,
    // which cannot overlap a buffer the caller owns.
    unsafe {
        core::ptr::copy_nonoverlapping(src.as_ptr(), out, src.len());
        put(out_len, src.len());
    }
    Ok(())
}

/// Write the part `get` finds to C (`SASLMECH_ABSENT` if there is none), after checking the
/// out-parameters: a NULL one is `SASLMECH_NULL_ARGUMENT` whatever the state.
///
/// # Safety
/// `p` and `n` are NULL (refused) or writable.
pub(crate) unsafe fn put_part<'a>(
    p: *mut *const u8,
    n: *mut usize,
    get: impl FnOnce() -> R<Option<&'a [u8]>>,
) -> R<()> {
    nonnull(p)?;
    nonnull(n)?;
    let bytes = get()?.ok_or(SASLMECH_ABSENT)?;
    // SAFETY: checked non-NULL above; writable by the caller's contract.
    unsafe { put_bytes(p, n, bytes) };
    Ok(())
}
