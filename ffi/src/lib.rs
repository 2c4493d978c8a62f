//! libscfruntime: the C ABI of scfruntime.
//!
//! C programs register handler callbacks; the Rust core (`scf_core`) reports ready, long-polls
//! the SCF runtime API for each event, calls the handler and posts its result. The same program
//! serves an image-deployed function when `SCFRUNTIME_MODE=image` is set (and `SCF_RUNTIME_API`
//! is not): events then arrive as `POST /event-invoke` on `SCFRUNTIME_LISTEN` (default
//! `0.0.0.0:9000`), their `X-Scf-*` metadata readable with `scf_invocation_metadata`. The header
//! is `include/scfruntime.h`, generated from this crate by cbindgen (see `ffi/cbindgen.toml`).
//!
//! ```c
//! #include <scfruntime.h>
//! #include <stdio.h>
//!
//! static int echo(void *userdata, const scf_invocation *inv, scf_response *resp) {
//!     (void)userdata;
//!     size_t len = 0;
//!     const uint8_t *body = scf_invocation_body(inv, &len);
//!     printf("request %s\n", scf_invocation_request_id(inv));
//!     return scf_response_set_body(resp, body, len);
//! }
//!
//! int main(void) { return scf_run(echo, NULL); }
//! ```
//!
//! Conventions (also in the header): every fallible call returns an [`scf_result`] and sets a
//! per-thread message readable with `scf_last_error_message()`; NULL pointers give
//! `SCF_RESULT_NULL_PARAMETER`; out-params are written only on success; no panic crosses the
//! ABI (every exported body runs inside `catch_unwind`, a caught panic gives
//! `SCF_RESULT_PANIC`). Strings returned by the library are NUL-terminated UTF-8 that the
//! library owns.
//!
//! Test hook: in builds with debug assertions (never in release builds), the environment
//! variable `SCFRUNTIME_TEST_PANIC=<site>` makes the exported function named `<site>` (or the
//! handler wrapper, for `<site>` = `handler`) panic on entry, so tests can check that panics are
//! caught. It is read once, at the first call.
#![expect(non_camel_case_types, reason = "C naming")]
#![warn(missing_docs)]

use std::ffi::{CStr, c_char, c_int};

/// Run an exported function's body inside `catch_unwind`.
///
/// A panic records `panic in <name>: <message>` as the thread's last error and returns the
/// return type's [`OnPanic`] value. The body is a closure body: `return` leaves the export.
macro_rules! ffi_boundary {
    ($name:literal, $body:block) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| {
            $crate::testing::maybe_panic($name);
            $body
        })) {
            Ok(value) => value,
            Err(payload) => {
                $crate::error::set_last_panic($name, payload.as_ref());
                $crate::OnPanic::on_panic()
            }
        }
    };
}

/// `&T` from a `*const T` / `*mut T`, or return `SCF_RESULT_NULL_PARAMETER` naming the argument.
macro_rules! try_ref {
    ($ptr:ident) => {{
        let ptr = $ptr;
        // SAFETY: the caller promises (see each function's `# Safety`) that a non-NULL pointer
        // points to a live object of the right type, not mutated during the call.
        match unsafe { ptr.as_ref() } {
            Some(r) => r,
            None => return $crate::null_parameter(stringify!($ptr)),
        }
    }};
}

/// `&mut T` from a `*mut T`, or return `SCF_RESULT_NULL_PARAMETER` naming the argument.
macro_rules! try_mut {
    ($ptr:ident) => {{
        let ptr = $ptr;
        // SAFETY: the caller promises that a non-NULL pointer points to a live object of the
        // right type that nothing else accesses during the call.
        match unsafe { ptr.as_mut() } {
            Some(r) => r,
            None => return $crate::null_parameter(stringify!($ptr)),
        }
    }};
}

/// Check an out-param for NULL (returning `SCF_RESULT_NULL_PARAMETER`); write it later with
/// `out.write(value)`, only on success.
macro_rules! try_out {
    ($ptr:ident) => {{
        let ptr = $ptr;
        if ptr.is_null() {
            return $crate::null_parameter(stringify!($ptr));
        }
        ptr
    }};
}

/// `&str` from a `const char *`: `SCF_RESULT_NULL_PARAMETER` when NULL,
/// `SCF_RESULT_INVALID_UTF8` when not UTF-8.
macro_rules! try_str {
    ($ptr:ident) => {{
        let ptr: *const ::std::ffi::c_char = $ptr;
        if ptr.is_null() {
            return $crate::null_parameter(stringify!($ptr));
        }
        // SAFETY: the caller promises a non-NULL pointer is a NUL-terminated string that stays
        // valid and unchanged during the call.
        match unsafe { ::std::ffi::CStr::from_ptr(ptr) }.to_str() {
            Ok(s) => s,
            Err(e) => {
                return $crate::error::fail(
                    $crate::error::scf_result::InvalidUtf8,
                    format!("argument `{}` is not valid UTF-8: {e}", stringify!($ptr)),
                );
            }
        }
    }};
}

mod env;
mod error;
mod invocation;
mod runtime;
mod testing;
mod userdata;

pub use env::scf_env;
pub use error::{scf_last_error_message, scf_result, scf_result_str};
pub use invocation::{
    scf_invocation, scf_invocation_body, scf_invocation_memory_limit_mb, scf_invocation_metadata,
    scf_invocation_remaining_ms, scf_invocation_request_id, scf_invocation_time_limit_ms,
    scf_response, scf_response_set_body, scf_response_set_error,
};
pub use runtime::{
    scf_free_fn, scf_handler_fn, scf_init_fn, scf_run, scf_runtime, scf_runtime_free,
    scf_runtime_new, scf_runtime_register, scf_runtime_run, scf_runtime_set_handle_signals,
    scf_runtime_set_init, scf_runtime_set_max_invocations,
};

/// The value an exported function returns when its body panicked.
pub(crate) trait OnPanic {
    fn on_panic() -> Self;
}

impl OnPanic for scf_result {
    fn on_panic() -> Self {
        scf_result::Panic
    }
}

impl<T> OnPanic for *const T {
    fn on_panic() -> Self {
        std::ptr::null()
    }
}

impl OnPanic for () {
    fn on_panic() {}
}

impl OnPanic for u32 {
    fn on_panic() -> Self {
        0
    }
}

impl OnPanic for u64 {
    fn on_panic() -> Self {
        0
    }
}

/// `scf_run` returns a process exit status: a panic is a failure.
impl OnPanic for c_int {
    fn on_panic() -> Self {
        1
    }
}

/// Record that argument `name` was NULL and return `SCF_RESULT_NULL_PARAMETER`.
pub(crate) fn null_parameter(name: &str) -> scf_result {
    error::fail(
        scf_result::NullParameter,
        format!("argument `{name}` is NULL"),
    )
}

/// Major version of libscfruntime; matches `scf_version()` and the crate version.
pub const SCF_VERSION_MAJOR: u32 = 0;
/// Minor version of libscfruntime; matches `scf_version()` and the crate version.
pub const SCF_VERSION_MINOR: u32 = 1;
/// Patch version of libscfruntime; matches `scf_version()` and the crate version.
pub const SCF_VERSION_PATCH: u32 = 0;

// The header carries the numbers as literals; refuse to build when they drift from Cargo.toml.
const _: () = {
    assert!(
        SCF_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")),
        "update SCF_VERSION_MAJOR to the crate version, then regenerate the header (SCF_BLESS=1)"
    );
    assert!(
        SCF_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")),
        "update SCF_VERSION_MINOR to the crate version, then regenerate the header (SCF_BLESS=1)"
    );
    assert!(
        SCF_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")),
        "update SCF_VERSION_PATCH to the crate version, then regenerate the header (SCF_BLESS=1)"
    );
};

const fn parse_u32(s: &str) -> u32 {
    let bytes = s.as_bytes();
    let mut n = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "version part is not a number");
        n = n * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    n
}

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the crate version contains a NUL byte"),
    };

/// The library version, `"MAJOR.MINOR.PATCH"`, matching the `SCF_VERSION_*` macros.
///
/// Never NULL. The string is static, NUL-terminated and owned by the library: do not free it.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn scf_version() -> *const c_char {
    ffi_boundary!("scf_version", { VERSION.as_ptr() })
}

/// Flush every C stdio output stream, so what a C callback printed reaches the log before the
/// result is posted.
pub(crate) fn flush_c_stdio() {
    // SAFETY: fflush(NULL) flushes all open output streams; it takes no pointer from us.
    unsafe {
        libc::fflush(std::ptr::null_mut());
    }
}
