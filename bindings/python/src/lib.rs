//! Python handlers for Tencent Cloud SCF over the Rust transport of `scf_core`.
//!
//! This crate is two things: the extension module `scfruntime._scfruntime` that maturin builds
//! (the `scfruntime` package re-exports it), and an rlib the embedded-Python bootstrap
//! (`bootstrap/python`) registers with `append_to_inittab!` before it starts CPython. Both
//! serve a handler written for SCF's built-in Python runtime, unmodified:
//!
//! ```python
//! import scfruntime
//!
//! def main_handler(event, context):
//!     return {"echo": event, "request_id": context["request_id"]}
//!
//! scfruntime.run(main_handler)
//! ```
//!
//! The Rust side is one loop ([`serve`]) shared by both routes: ready, then for each event a
//! long poll with the GIL released, the call of `handler(event, context)` with the GIL held, and
//! the post with the GIL released again. With `SCFRUNTIME_MODE=image` the same loop serves an
//! image-deployed function: events arrive as `POST /event-invoke` on `SCFRUNTIME_LISTEN`
//! (default `0.0.0.0:9000`) instead of through the runtime API.
#![warn(missing_docs)]

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

mod context;
mod convert;
mod json;
mod load;
mod serve;

#[cfg(not(Py_LIMITED_API))]
pub use context::Context;
pub use convert::error_report;
pub use load::{
    DEFAULT_LAYER_PATH, LAYER_PATH_VAR, host_main, layer_paths, load_handler_spec,
    put_code_and_layers_on_path,
};
pub use serve::serve;

create_exception!(
    scfruntime,
    ScfRuntimeError,
    PyException,
    "Base class of every error scfruntime raises."
);
create_exception!(
    scfruntime,
    ConfigError,
    ScfRuntimeError,
    "The SCF environment is missing or malformed (SCF_RUNTIME_API, SCF_RUNTIME_API_PORT, \
     SCFRUNTIME_MODE, SCFRUNTIME_LISTEN), or image mode cannot listen on its address."
);
create_exception!(
    scfruntime,
    RuntimeApiError,
    ScfRuntimeError,
    "The runtime API could not be reached or refused a call (ready or next), or image mode's \
     event server stopped."
);
create_exception!(
    scfruntime,
    HandlerImportError,
    ScfRuntimeError,
    "Importing the handler's module failed (SCF status 443, user code error)."
);
create_exception!(
    scfruntime,
    HandlerNotFoundError,
    ScfRuntimeError,
    "The handler's module or function does not exist (SCF status 437, handler not found)."
);

/// Map a core error to the Python exception that stands for it.
///
/// The one place where `scf_core::Error` becomes a `PyErr`; every error is a subclass of
/// [`ScfRuntimeError`], never a bare `Exception`.
pub fn to_pyerr(e: scf_core::Error) -> PyErr {
    use scf_core::Error;
    let msg = e.to_string();
    match e {
        Error::MissingEnv { .. }
        | Error::InvalidEnv { .. }
        | Error::Listen { .. }
        | Error::NoRuntimeApi { .. } => ConfigError::new_err(msg),
        Error::Connect { .. }
        | Error::Transport { .. }
        | Error::Protocol { .. }
        | Error::Status { .. }
        | Error::RetriesExhausted { .. }
        | Error::InvalidEvent { .. }
        | Error::ServerStopped
        | Error::ResultNotDelivered { .. } => RuntimeApiError::new_err(msg),
        _ => ScfRuntimeError::new_err(msg),
    }
}

/// The extension module `scfruntime._scfruntime`.
#[pymodule(name = "_scfruntime")]
pub mod scfruntime_py {
    use pyo3::prelude::*;

    #[cfg(not(Py_LIMITED_API))]
    #[pymodule_export]
    use super::Context;
    #[pymodule_export]
    use super::convert::{py_decode_event, py_encode_result};
    #[pymodule_export]
    use super::load::{load_handler, main};
    #[pymodule_export]
    use super::serve::run;
    #[pymodule_export]
    use super::{
        ConfigError, HandlerImportError, HandlerNotFoundError, RuntimeApiError, ScfRuntimeError,
    };

    /// Under the limited API (the `abi3` feature) `Context` is a Python class, added here
    /// (`context::abi3`); otherwise there is nothing to do.
    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        #[cfg(Py_LIMITED_API)]
        m.add("Context", super::context::abi3::context_type(m.py())?)?;
        #[cfg(not(Py_LIMITED_API))]
        let _ = m;
        Ok(())
    }

    /// The package version, the crate's `CARGO_PKG_VERSION` (same as `scf_core::VERSION`).
    #[pymodule_export]
    #[expect(non_upper_case_globals, reason = "Python's dunder name")]
    const __version__: &str = env!("CARGO_PKG_VERSION");
}
