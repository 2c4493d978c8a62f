//! Result codes and the per-thread last error message.

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_int};

use scf_core::Error;

/// The result of a fallible `scf_*` call.
///
/// The numbers are part of the ABI: they are fixed and never reused or renumbered; new codes
/// only get new numbers. Functions that take a code (`scf_result_str`) take it as `int`, since
/// C may pass any value. On any result other than `SCF_RESULT_OK`, `scf_last_error_message()`
/// on the same thread describes the failure.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum scf_result {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL; nothing was done.
    NullParameter = 1,
    /// A `const char *` argument was not valid UTF-8; nothing was done.
    InvalidUtf8 = 2,
    /// The runtime API could not be reached, or the connection broke and retries ran out.
    Transport = 3,
    /// The runtime API answered `ready` or `next` with an HTTP status that is not 2xx.
    HttpStatus = 4,
    /// The SCF environment is missing or malformed (`SCF_RUNTIME_API`, `SCF_RUNTIME_API_PORT`,
    /// `SCFRUNTIME_MODE`, `SCFRUNTIME_LISTEN`, `SCFRUNTIME_MAX_INVOCATIONS`); the message names
    /// the variable.
    Config = 5,
    /// The init callback returned non-zero (or panicked); ready was not sent.
    InitFailed = 6,
    /// No registered handler matches `_HANDLER` and no default handler is registered; ready
    /// was not sent.
    HandlerNotFound = 7,
    /// The runtime is inside `scf_runtime_run` (the call came from one of its callbacks); nothing
    /// was done.
    Busy = 8,
    /// A failure this version does not classify; see `scf_last_error_message()`.
    Other = 9,
    /// Image mode (`SCFRUNTIME_MODE=image`): the event server could not listen on its address
    /// (`SCFRUNTIME_LISTEN`, default `0.0.0.0:9000`): in use, not local, or not permitted.
    Listen = 10,
    /// A panic inside the library was caught at the C boundary; the call did not complete.
    /// The process and the library stay usable.
    Panic = 99,
}

impl scf_result {
    /// Every code, for `scf_result_str` and the tests.
    pub(crate) const ALL: [scf_result; 12] = [
        scf_result::Ok,
        scf_result::NullParameter,
        scf_result::InvalidUtf8,
        scf_result::Transport,
        scf_result::HttpStatus,
        scf_result::Config,
        scf_result::InitFailed,
        scf_result::HandlerNotFound,
        scf_result::Busy,
        scf_result::Other,
        scf_result::Listen,
        scf_result::Panic,
    ];

    fn description(self) -> &'static std::ffi::CStr {
        match self {
            scf_result::Ok => c"ok",
            scf_result::NullParameter => c"a required pointer argument was NULL",
            scf_result::InvalidUtf8 => c"a string argument was not valid UTF-8",
            scf_result::Transport => c"the runtime API could not be reached",
            scf_result::HttpStatus => c"the runtime API answered with an unexpected HTTP status",
            scf_result::Config => c"the SCF environment is missing or invalid",
            scf_result::InitFailed => c"the init callback failed",
            scf_result::HandlerNotFound => c"no registered handler matches _HANDLER",
            scf_result::Busy => c"the runtime is running (called from one of its callbacks)",
            scf_result::Other => c"unclassified error",
            scf_result::Listen => c"image mode: the event server could not listen on its address",
            scf_result::Panic => c"a panic was caught at the C boundary",
        }
    }

    /// The code of a core error.
    pub(crate) fn of(e: &Error) -> scf_result {
        match e {
            Error::MissingEnv { .. } | Error::InvalidEnv { .. } => scf_result::Config,
            Error::Connect { .. }
            | Error::Transport { .. }
            | Error::Protocol { .. }
            | Error::RetriesExhausted { .. } => scf_result::Transport,
            Error::Status { .. } => scf_result::HttpStatus,
            Error::Init(_) => scf_result::InitFailed,
            Error::Listen { .. } => scf_result::Listen,
            Error::NoRuntimeApi { .. } => scf_result::Config,
            _ => scf_result::Other,
        }
    }
}

thread_local! {
    static LAST: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Record `message` as this thread's last error and return `code`.
pub(crate) fn fail(code: scf_result, message: impl Into<String>) -> scf_result {
    set_last_message(message);
    code
}

/// Record a core error as this thread's last error and return its code.
pub(crate) fn fail_core(e: &Error) -> scf_result {
    fail(scf_result::of(e), e.to_string())
}

/// Replace this thread's last error message.
pub(crate) fn set_last_message(message: impl Into<String>) {
    let mut bytes = message.into().into_bytes();
    // A C string ends at the first NUL; drop embedded ones rather than lose the message.
    bytes.retain(|&b| b != 0);
    let c = CString::new(bytes).unwrap_or_default();
    // `try_with` fails only while the thread is being torn down; the message is lost then.
    let _ = LAST.try_with(|last| *last.borrow_mut() = Some(c));
}

/// Record a caught panic as this thread's last error.
pub(crate) fn set_last_panic(function: &str, payload: &(dyn std::any::Any + Send)) {
    let detail = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string payload");
    set_last_message(format!("panic in {function}: {detail}"));
}

/// The message of this thread's last error, as an owned string (for `scf_run`'s log line).
pub(crate) fn last_message() -> String {
    LAST.try_with(|last| {
        last.borrow()
            .as_ref()
            .map(|c| c.to_string_lossy().into_owned())
    })
    .ok()
    .flatten()
    .unwrap_or_default()
}

/// A short, static, human-readable description of a result code.
///
/// Unknown codes give `"unknown result code"`. Never returns NULL. The string is NUL-terminated
/// UTF-8 owned by the library and valid for the life of the process: do not free it.
/// Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn scf_result_str(code: c_int) -> *const c_char {
    ffi_boundary!("scf_result_str", {
        scf_result::ALL
            .iter()
            .find(|r| **r as c_int == code)
            .map_or(c"unknown result code", |r| r.description())
            .as_ptr()
    })
}

/// The message of the last failed `scf_*` call on the calling thread, or NULL if none failed yet.
///
/// Calls that succeed leave it alone, so check the result code first. The string is
/// NUL-terminated UTF-8 owned by the library; it stays valid until the next failing `scf_*` call
/// on this thread or the thread's exit. Do not free it. Each thread has its own message.
#[unsafe(no_mangle)]
pub extern "C" fn scf_last_error_message() -> *const c_char {
    ffi_boundary!("scf_last_error_message", {
        LAST.try_with(|last| last.borrow().as_ref().map(|c| c.as_ptr()))
            .ok()
            .flatten()
            .unwrap_or(std::ptr::null())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn result_numbers_are_fixed() {
        let numbers: Vec<(scf_result, c_int)> =
            scf_result::ALL.iter().map(|r| (*r, *r as c_int)).collect();
        assert_eq!(
            numbers,
            [
                (scf_result::Ok, 0),
                (scf_result::NullParameter, 1),
                (scf_result::InvalidUtf8, 2),
                (scf_result::Transport, 3),
                (scf_result::HttpStatus, 4),
                (scf_result::Config, 5),
                (scf_result::InitFailed, 6),
                (scf_result::HandlerNotFound, 7),
                (scf_result::Busy, 8),
                (scf_result::Other, 9),
                (scf_result::Listen, 10),
                (scf_result::Panic, 99),
            ]
        );
    }

    #[test]
    fn last_error_is_per_thread_and_drops_nul_bytes() {
        fail(scf_result::Other, "bad\0news");
        // SAFETY: non-NULL after a failure; valid until the next failure on this thread.
        let msg = unsafe { CStr::from_ptr(scf_last_error_message()) };
        assert_eq!(msg.to_str(), Ok("badnews"));
        let other = std::thread::spawn(|| scf_last_error_message().is_null())
            .join()
            .expect("thread");
        assert!(other);
    }

    #[test]
    fn every_code_has_a_description() {
        for r in scf_result::ALL {
            // SAFETY: scf_result_str returns a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(scf_result_str(r as c_int)) };
            assert_ne!(s.to_bytes(), b"unknown result code");
        }
    }
}
