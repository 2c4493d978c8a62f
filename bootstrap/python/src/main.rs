//! The embedded-Python SCF `bootstrap`: hosts CPython in this process, makes `scfruntime`
//! importable without a wheel, imports `$_HANDLER` from the code directory (the current
//! directory) and serves it through the same loop as `scfruntime.run`.
//!
//! Exit status: 0 when stopped by SIGTERM or after the loop ended, 1 for a handler that cannot
//! be loaded (status 443 / 437 on stderr) or a runtime API failure, 2 for a usage error.

use std::ffi::CString;
use std::process::ExitCode;

use pyo3::prelude::*;
use pyo3::types::PyList;

/// The pure-Python part of the package, so `import scfruntime` works inside the host.
const PACKAGE_INIT: &str = include_str!("../../../bindings/python/python/scfruntime/__init__.py");

fn main() -> ExitCode {
    use scfruntime_py::scfruntime_py as module;
    pyo3::append_to_inittab!(module);
    Python::initialize();
    let code = Python::attach(|py| match register_package(py) {
        Ok(()) => scfruntime_py::host_main(py),
        Err(e) => {
            e.display(py);
            1
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
