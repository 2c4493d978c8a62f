//! The embedded-Python SCF `bootstrap`: hosts CPython in this process, makes `scfruntime`
//! importable without a wheel, imports `$_HANDLER` from the code directory (the current
//! directory) and serves it through the same loop as `scfruntime.run`: through the runtime
//! API, or with `SCFRUNTIME_MODE=image` as an image-deployed function (`POST /event-invoke` on
//! `SCFRUNTIME_LISTEN`).
//!
//! How the interpreter is configured (locale, where the standard library is, `site` and
//! `SCFRUNTIME_PYTHON_NO_SITE`, the layer directories on `sys.path`) is in [`startup`].
//!
//! Exit status: 0 when stopped by SIGTERM or after the loop ended, 1 for a handler that cannot
//! be loaded (status 443 / 437 on stderr), a runtime API failure, an image-mode address it
//! cannot listen on or an interpreter that cannot start, 2 for a usage error (including a malformed `SCFRUNTIME_PYTHON_*` variable).

mod startup;

use std::ffi::CString;
use std::process::ExitCode;

use pyo3::prelude::*;
use pyo3::types::PyList;

/// The pure-Python part of the package, so `import scfruntime` works inside the host.
const PACKAGE_INIT: &str = include_str!("../../../bindings/python/python/scfruntime/__init__.py");

fn main() -> ExitCode {
    let opts = match startup::Options::from_vars(|name| std::env::var_os(name)) {
        Ok(opts) => opts,
        Err(msg) => {
            eprintln!("scf-python-bootstrap: {msg}");
            return ExitCode::from(2);
        }
    };
    use scfruntime_py::scfruntime_py as module;
    pyo3::append_to_inittab!(module);
    if let Err(msg) = startup::initialize(&opts) {
        eprintln!("scf-python-bootstrap: cannot start Python: {msg}");
        return ExitCode::from(1);
    }
    // The interpreter is running: this only marks pyo3's own initialisation as done.
    Python::initialize();
    let code = Python::attach(|py| {
        let prepared = match startup::code_dir() {
            Some(dir) => startup::prepare_sys_path(py, &opts, &dir),
            None => Ok(()),
        };
        match prepared.and_then(|()| register_package(py)) {
            Ok(()) => scfruntime_py::host_main(py),
            Err(e) => {
                e.display(py);
                1
            }
        }
    });
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Put `scfruntime._scfruntime` (the built-in module) and `scfruntime` (from the embedded
/// `__init__.py`) in `sys.modules`, as an installed wheel would provide them.
fn register_package(py: Python<'_>) -> PyResult<()> {
    let ext = py.import("_scfruntime")?;
    let modules = py.import("sys")?.getattr("modules")?;
    modules.set_item("scfruntime._scfruntime", &ext)?;
    let source = CString::new(PACKAGE_INIT)?;
    let package = PyModule::from_code(py, &source, c"<scfruntime>/__init__.py", c"scfruntime")?;
    package.setattr("__path__", PyList::empty(py))?;
    package.setattr("_scfruntime", ext)?;
    Ok(())
}
