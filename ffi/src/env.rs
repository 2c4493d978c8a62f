//! `scf_env`: the function's metadata from its environment, as stable C strings.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString, c_char};
use std::sync::{Mutex, PoisonError};

use crate::error::{fail, scf_result};
use crate::null_parameter;

/// Friendly names, as the keys of the built-in Python runtime's `context` dict, and the
/// variables they stand for (docs/platform.md section 2).
const ALIASES: &[(&str, &str)] = &[
    ("function_name", "SCF_FUNCTIONNAME"),
    ("function_version", "SCF_FUNCTIONVERSION"),
    ("namespace", "SCF_NAMESPACE"),
    ("tencentcloud_region", "TENCENTCLOUD_REGION"),
    ("tencentcloud_appid", "TENCENTCLOUD_APPID"),
    ("tencentcloud_uin", "TENCENTCLOUD_UIN"),
    ("handler", "_HANDLER"),
];

/// Every value handed out so far. Values are never removed, so a returned pointer stays valid
/// for the life of the process even if the variable changes later (the new value is added).
static INTERNED: Mutex<BTreeSet<CString>> = Mutex::new(BTreeSet::new());

fn intern(value: CString) -> *const c_char {
    let mut set = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = set.get(value.as_c_str()) {
        return known.as_ptr();
    }
    let ptr = value.as_ptr();
    // Moving the CString into the set moves only its handle; the heap bytes `ptr` points to
    // stay where they are.
    set.insert(value);
    ptr
}

/// The value of environment variable `var` as an interned C string, NULL when it is unset (or
/// not a variable name); a value that is not UTF-8 is NULL with the last error set.
pub(crate) fn env_value(var: &str) -> *const c_char {
    if var.is_empty() || var.contains('=') {
        return std::ptr::null();
    }
    let Some(value) = std::env::var_os(var) else {
        return std::ptr::null();
    };
    let Some(value) = value.to_str() else {
        fail(
            scf_result::InvalidUtf8,
            format!("the value of environment variable {var} is not valid UTF-8"),
        );
        return std::ptr::null();
    };
    // Environment values cannot contain NUL, so this does not fail.
    match CString::new(value) {
        Ok(c) => intern(c),
        Err(_) => std::ptr::null(),
    }
}

/// The value of a function metadata variable, or NULL when it is unset.
///
/// `name` is an environment variable name, such as `SCF_FUNCTIONNAME`, `SCF_FUNCTIONVERSION`,
/// `SCF_NAMESPACE`, `TENCENTCLOUD_REGION`, `TENCENTCLOUD_APPID`, `TENCENTCLOUD_UIN`, `_HANDLER`,
/// `TRIGGER_SRC` or a user variable, or one of the friendly names of the built-in Python
/// runtime's context: `function_name`, `function_version`, `namespace`, `tencentcloud_region`,
/// `tencentcloud_appid`, `tencentcloud_uin`, and `handler` (for `_HANDLER`).
///
/// These are a code package's values; an image-deployed function gets its metadata with each
/// event instead (`X-Scf-*` headers): `scf_invocation_metadata` reads it in both deployments.
///
/// The variable is read at each call. The returned string is NUL-terminated UTF-8 owned by the
/// library and valid for the life of the process (do not free it). Returns NULL and sets the
/// last error when `name` is NULL or not UTF-8, or the value is not UTF-8; returns NULL without
/// an error when the variable is unset. Thread-safe, but like `getenv` it races with a
/// concurrent `setenv` in C.
///
/// # Safety
///
/// `name` must be NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_env(name: *const c_char) -> *const c_char {
    ffi_boundary!("scf_env", {
        if name.is_null() {
            null_parameter("name");
            return std::ptr::null();
        }
        // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
        let Ok(name) = unsafe { CStr::from_ptr(name) }.to_str() else {
            fail(
                scf_result::InvalidUtf8,
                "argument `name` is not valid UTF-8",
            );
            return std::ptr::null();
        };
        let var = ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name, |(_, var)| var);
        env_value(var)
    })
}
