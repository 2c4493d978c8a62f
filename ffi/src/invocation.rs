//! The views a handler callback receives: the invocation (read-only) and the response it fills.

use std::cell::OnceCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::ptr::NonNull;

use scf_core::{ErrorReport, Invocation, METADATA_FIELDS, MetadataField};

use crate::error::{scf_result, set_last_message};
use crate::null_parameter;

/// One invocation, as the handler callback sees it: request id, event body, limits.
///
/// Owned by the library and valid only during the handler call that received it; the pointers
/// its accessors return share that lifetime (copy what you need to keep). Use it only on the
/// thread running the handler.
pub struct scf_invocation {
    /// The core's invocation; it outlives this view (see [`scf_invocation::new`]).
    inv: NonNull<Invocation>,
    /// The request id as a C string, built on first use.
    request_id: OnceCell<CString>,
    /// Image mode's metadata values as C strings (`METADATA_FIELDS` order), built on first use.
    metadata: [OnceCell<Option<CString>>; METADATA_FIELDS.len()],
}

impl scf_invocation {
    /// A view of `inv`. The caller keeps `inv` alive and unmoved while the view exists; the
    /// view never leaves the handler call that creates it.
    pub(crate) fn new(inv: &Invocation) -> scf_invocation {
        scf_invocation {
            inv: NonNull::from(inv),
            request_id: OnceCell::new(),
            metadata: std::array::from_fn(|_| OnceCell::new()),
        }
    }

    fn inv(&self) -> &Invocation {
        // SAFETY: `new`'s caller keeps the invocation alive for the life of this view.
        unsafe { self.inv.as_ref() }
    }
}

/// Read an accessor's `inv`, recording a NULL as the thread's last error.
fn invocation<'a>(inv: *const scf_invocation) -> Option<&'a scf_invocation> {
    // SAFETY: the caller promises a non-NULL `inv` is the pointer its handler received, used
    // during that handler call.
    let inv = unsafe { inv.as_ref() };
    if inv.is_none() {
        null_parameter("inv");
    }
    inv
}

/// The request id of the invocation (the platform's `request_id` header; `X-Scf-Request-Id` in
/// image mode).
///
/// Returns NULL (and sets the last error) when `inv` is NULL. The string is NUL-terminated UTF-8
/// owned by the library, valid until the handler call returns.
///
/// # Safety
///
/// `inv` must be NULL or the pointer passed to the running handler.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_invocation_request_id(inv: *const scf_invocation) -> *const c_char {
    ffi_boundary!("scf_invocation_request_id", {
        let Some(inv) = invocation(inv) else {
            return std::ptr::null();
        };
        inv.request_id
            .get_or_init(|| {
                // HTTP header values cannot hold NUL; cut at one if it ever appears.
                let id = inv.inv().request_id.as_bytes();
                let end = id.iter().position(|&b| b == 0).unwrap_or(id.len());
                CString::new(&id[..end]).unwrap_or_default()
            })
            .as_ptr()
    })
}

/// The event body: raw bytes, usually JSON; not NUL-terminated.
///
/// On success stores the length in `*len` and returns a pointer to the bytes, valid until the
/// handler call returns (an empty body gives a valid non-NULL pointer and `*len == 0`). Returns
/// NULL, leaving `*len` untouched and setting the last error, when `inv` or `len` is NULL.
///
/// # Safety
///
/// `inv` must be NULL or the pointer passed to the running handler; `len` must be NULL or
/// valid for writing a `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_invocation_body(
    inv: *const scf_invocation,
    len: *mut usize,
) -> *const u8 {
    ffi_boundary!("scf_invocation_body", {
        let Some(inv) = invocation(inv) else {
            return std::ptr::null();
        };
        if len.is_null() {
            null_parameter("len");
            return std::ptr::null();
        }
        let body = &inv.inv().body;
        // SAFETY: `len` is non-NULL and the caller promises it is writable.
        unsafe { len.write(body.len()) };
        if body.is_empty() {
            // An empty Vec's pointer is dangling; give C a real address for zero bytes.
            static EMPTY: u8 = 0;
            &EMPTY
        } else {
            body.as_ptr()
        }
    })
}

/// The function's configured memory in MB (the `memory_limit_in_mb` header; `X-Scf-Memory` in
/// image mode); 0 when `inv` is NULL.
///
/// # Safety
///
/// `inv` must be NULL or the pointer passed to the running handler.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_invocation_memory_limit_mb(inv: *const scf_invocation) -> u32 {
    ffi_boundary!("scf_invocation_memory_limit_mb", {
        invocation(inv).map_or(0, |inv| inv.inv().memory_limit_mb)
    })
}

/// The function's configured timeout in milliseconds (the `time_limit_in_ms` header;
/// `X-Scf-Timeout` in image mode), a duration counted from the event's arrival; 0 when `inv` is
/// NULL.
///
/// # Safety
///
/// `inv` must be NULL or the pointer passed to the running handler.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_invocation_time_limit_ms(inv: *const scf_invocation) -> u64 {
    ffi_boundary!("scf_invocation_time_limit_ms", {
        invocation(inv).map_or(0, |inv| millis(inv.inv().time_limit))
    })
}

/// Milliseconds left before the platform's deadline (arrival + time limit), measured now; 0
/// once the deadline has passed, and 0 when `inv` is NULL.
///
/// # Safety
///
/// `inv` must be NULL or the pointer passed to the running handler.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_invocation_remaining_ms(inv: *const scf_invocation) -> u64 {
    ffi_boundary!("scf_invocation_remaining_ms", {
        invocation(inv).map_or(0, |inv| millis(inv.inv().remaining()))
    })
}

/// One item of the function's metadata for this invocation, by name; NULL when it is not set.
///
/// `name` is a friendly name, an `X-Scf-*` header name (any case) or the environment variable of
/// a code package: `function_name` (`X-Scf-Name`, `SCF_FUNCTIONNAME`), `function_version`
/// (`X-Scf-Version`, `SCF_FUNCTIONVERSION`), `namespace` (`X-Scf-Namespace`, `SCF_NAMESPACE`),
/// `tencentcloud_region` (`X-Scf-Region`, `TENCENTCLOUD_REGION`), `tencentcloud_appid`
/// (`X-Scf-Appid`, `TENCENTCLOUD_APPID`), `tencentcloud_uin` (`X-Scf-Uin`, `TENCENTCLOUD_UIN`),
/// `secret_id` (`X-Scf-Secret-Id`, `TENCENTCLOUD_SECRETID`), `secret_key` (`X-Scf-Secret-Key`,
/// `TENCENTCLOUD_SECRETKEY`), `session_token` (`X-Scf-Session-Token`,
/// `TENCENTCLOUD_SESSIONTOKEN`), `trigger_src` (`X-Scf-Trigger-Src`, `TRIGGER_SRC`).
///
/// An image-deployed function (`SCFRUNTIME_MODE=image`) gets these with each event, in its
/// `X-Scf-*` headers: the value is the header's (NULL when the event did not carry it). A code
/// package gets them in its environment: the value is the variable's, as `scf_env` reads it.
/// So one handler reads its metadata the same way in both deployments. The request id, memory
/// and time limit have accessors of their own.
///
/// The string is NUL-terminated UTF-8 owned by the library, valid until the handler call
/// returns. Returns NULL and sets the last error when `inv` or `name` is NULL, `name` is not
/// UTF-8 or not one of the names above; NULL without an error when the item is not set.
///
/// # Safety
///
/// `inv` must be NULL or the pointer passed to the running handler; `name` must be NULL or a
/// NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_invocation_metadata(
    inv: *const scf_invocation,
    name: *const c_char,
) -> *const c_char {
    ffi_boundary!("scf_invocation_metadata", {
        let Some(inv) = invocation(inv) else {
            return std::ptr::null();
        };
        if name.is_null() {
            null_parameter("name");
            return std::ptr::null();
        }
        // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
        let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() else {
            crate::error::fail(
                scf_result::InvalidUtf8,
                "argument `name` is not valid UTF-8",
            );
            return std::ptr::null();
        };
        let Some((index, field)) = MetadataField::find(name) else {
            let known: Vec<&str> = METADATA_FIELDS.iter().map(|f| f.name).collect();
            set_last_message(format!(
                "unknown metadata name {name:?}: expected one of {} (or its X-Scf-* header or \
                 environment variable name)",
                known.join(", ")
            ));
            return std::ptr::null();
        };
        let Some(metadata) = &inv.inv().metadata else {
            return crate::env::env_value(field.env);
        };
        inv.metadata[index]
            .get_or_init(|| {
                // Header values are checked UTF-8 and cannot hold NUL; cut at one regardless.
                metadata.get(field.name).map(|v| {
                    let end = v.find('\0').unwrap_or(v.len());
                    CString::new(&v[..end]).unwrap_or_default()
                })
            })
            .as_ref()
            .map_or(std::ptr::null(), |c| c.as_ptr())
    })
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The result a handler builds: a body, or an error.
///
/// Owned by the library and valid only during the handler call that received it. Starts empty:
/// a handler that returns 0 without setting anything answers with an empty body. Use it only on
/// the thread running the handler.
#[derive(Default)]
pub struct scf_response {
    body: Vec<u8>,
    error: Option<ErrorReport>,
}

impl scf_response {
    /// What to post, given the handler's return code.
    ///
    /// An error that was set wins; a non-zero code without one becomes a `HandlerFailed`
    /// error naming the code; otherwise the body (possibly empty) is the response.
    pub(crate) fn into_result(self, code: c_int) -> Result<Vec<u8>, ErrorReport> {
        match (self.error, code) {
            (Some(report), _) => Err(report),
            (None, 0) => Ok(self.body),
            (None, code) => Err(ErrorReport::new(
                "HandlerFailed",
                format!("the handler returned {code} without setting an error"),
            )),
        }
    }
}

/// Set the response body to a copy of `len` bytes at `data` (any bytes; usually JSON).
///
/// Replaces an earlier body. `data` may be NULL only when `len` is 0 (an empty body). The
/// library copies the bytes, so the caller keeps ownership of `data`. A body over the platform's
/// 6 MB limit is not sent: the invocation fails with a `ResponseTooLarge` error instead. If an
/// error is also set, the error is posted and the body ignored.
///
/// Returns `SCF_RESULT_NULL_PARAMETER` when `resp` is NULL, or `data` is NULL with `len > 0`.
///
/// # Safety
///
/// `resp` must be NULL or the pointer passed to the running handler; `data` must be NULL or
/// valid for reading `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_response_set_body(
    resp: *mut scf_response,
    data: *const u8,
    len: usize,
) -> scf_result {
    ffi_boundary!("scf_response_set_body", {
        let resp = try_mut!(resp);
        let bytes: &[u8] = if len == 0 {
            &[]
        } else {
            if data.is_null() {
                return null_parameter("data");
            }
            // SAFETY: non-NULL, and the caller promises `len` readable bytes.
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        resp.body.clear();
        resp.body.extend_from_slice(bytes);
        scf_result::Ok
    })
}

/// Mark the invocation as failed with an error type and a message (UTF-8, kept as is).
///
/// The error is posted to `/runtime/invocation/error` as
/// `{"errorType":..,"errorMessage":..,"stackTrace":[],"requestId":..}` whatever the handler
/// returns, and any body is ignored. Replaces an earlier error. Both strings are copied.
///
/// Returns `SCF_RESULT_NULL_PARAMETER` for a NULL argument and `SCF_RESULT_INVALID_UTF8` when a
/// string is not UTF-8; the response is unchanged then.
///
/// # Safety
///
/// `resp` must be NULL or the pointer passed to the running handler; `error_type` and
/// `message` must be NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_response_set_error(
    resp: *mut scf_response,
    error_type: *const c_char,
    message: *const c_char,
) -> scf_result {
    ffi_boundary!("scf_response_set_error", {
        let resp = try_mut!(resp);
        let error_type = try_str!(error_type);
        let message = try_str!(message);
        resp.error = Some(ErrorReport::new(error_type, message));
        scf_result::Ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_error_wins_then_the_code_then_the_body() {
        let with_error = scf_response {
            body: b"ignored".to_vec(),
            error: Some(ErrorReport::new("T", "m")),
        };
        assert_eq!(with_error.into_result(0), Err(ErrorReport::new("T", "m")));
        let failed = scf_response {
            body: b"ignored".to_vec(),
            error: None,
        };
        let report = failed.into_result(-3).unwrap_err();
        assert_eq!(report.error_type, "HandlerFailed");
        assert!(report.error_message.contains("returned -3"));
        assert_eq!(scf_response::default().into_result(0), Ok(Vec::new()));
    }
}
