//! Finding the handler named by `_HANDLER`, and the `main` of `python -m scfruntime` and of the
//! embedded bootstrap.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use pyo3::exceptions::{PyKeyboardInterrupt, PyModuleNotFoundError, PySystemExit};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use scf_core::{HANDLER_FORM, HandlerSpec};

use crate::serve::serve;
use crate::{HandlerImportError, HandlerNotFoundError, ScfRuntimeError};

/// The module to import and the function to take from it for the handler string `spec`, as
/// core's one `_HANDLER` parser reads it ([`scf_core::HandlerSpec::parse`], docs/handler.md):
/// `index.main_handler`, `dir/mod.fn` and `dir.mod.fn` name the function after the last dot in
/// the module before it, whose path separators become dots. Nothing is trimmed or stripped:
/// `index.py.main_handler` names the module `index.py`.
///
/// # Errors
///
/// The message for `[437] handler not found` when `spec` breaks a rule of the parser; it says
/// which, and the expected form.
pub fn load_handler_spec(spec: &str) -> Result<(String, String), String> {
    match HandlerSpec::parse(spec) {
        Ok(h) => Ok((h.module(), h.function)),
        Err(e) => Err(format!(
            "handler {spec:?} is not of the form 'file.function': {}; expected {HANDLER_FORM}",
            e.reason
        )),
    }
}

/// Import the handler named by `spec` from the code directory (the current directory, put
/// first on `sys.path`, followed by the layer directories: `SCFRUNTIME_PYTHON_LAYER_PATH`,
/// default `/opt/python:/opt`, those that exist) and return the function.
///
/// Before the import, `logging` is set up as SCF's built-in runtime has it ([`setup_logging`]).
///
/// # Errors
///
/// `HandlerNotFoundError` (SCF status 437) when the spec is malformed, the module file does not
/// exist, or it has no such function (or it is not callable); `HandlerImportError` (status 443)
/// when importing the module raised, with that exception as `__cause__`.
#[pyfunction]
pub fn load_handler(py: Python<'_>, spec: &str) -> PyResult<Py<PyAny>> {
    let (module_name, function) = load_handler_spec(spec)
        .map_err(|m| HandlerNotFoundError::new_err(format!("[437] handler not found: {m}")))?;
    if let Ok(cwd) = std::env::current_dir() {
        let layers = layer_paths(std::env::var_os(LAYER_PATH_VAR).as_deref());
        put_code_and_layers_on_path(py, &cwd, &layers)?;
    }
    setup_logging(py)?;
    let module = match py.import(module_name.as_str()) {
        Ok(m) => m,
        Err(e) => {
            let missing: Option<String> = if e.is_instance_of::<PyModuleNotFoundError>(py) {
                e.value(py)
                    .getattr("name")
                    .ok()
                    .and_then(|n| n.extract().ok())
            } else {
                None
            };
            // A missing module *of the handler's path* means the handler is not there; any
            // other failure (syntax error, a dependency missing, an exception) is user code.
            let own = missing
                .is_some_and(|m| module_name == m || module_name.starts_with(&format!("{m}.")));
            let err = if own {
                HandlerNotFoundError::new_err(format!(
                    "[437] handler not found: no module '{module_name}' in the code directory for handler '{spec}'"
                ))
            } else {
                let summary = e
                    .value(py)
                    .str()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let ty = e
                    .get_type(py)
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                HandlerImportError::new_err(format!(
                    "[443] user code error: importing module '{module_name}' for handler '{spec}' raised {ty}: {summary}"
                ))
            };
            err.set_cause(py, Some(e));
            return Err(err);
        }
    };
    match module.getattr(function.as_str()) {
        Ok(f) if f.is_callable() => Ok(f.unbind()),
        Ok(_) => Err(HandlerNotFoundError::new_err(format!(
            "[437] handler not found: '{module_name}.{function}' is not a function (handler '{spec}')"
        ))),
        Err(_) => Err(HandlerNotFoundError::new_err(format!(
            "[437] handler not found: module '{module_name}' has no function '{function}' (handler '{spec}')"
        ))),
    }
}

/// Set `logging` up as SCF's built-in runtime does before it imports user code: the root logger
/// at DEBUG with a `StreamHandler` on `sys.stdout` and no formatter, so `logger.info("x")` logs
/// a bare `x` without any set-up, and a `logging.basicConfig()` in user code changes nothing
/// (the root logger has a handler already). See docs/python.md, "Logging set-up".
///
/// Importing `logging` costs a few milliseconds of cold start that most handlers never use, so
/// it is not imported here: a [`LoggingFinder`] put first on `sys.meta_path` sets the root logger
/// up the moment anything imports `logging`, before the importer goes on; if `logging` is
/// imported already, it is set up at once. Once per process. (In Rust rather than a Python
/// snippet: compiling one cost ~0.35 ms, 3% of the wheel's cold start.)
///
/// # Errors
///
/// A Python exception from `sys.meta_path` or from configuring `logging`.
pub fn setup_logging(py: Python<'_>) -> PyResult<()> {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return Ok(());
    }
    let sys = py.import(intern!(py, "sys"))?;
    if let Ok(logging) = sys.getattr(intern!(py, "modules"))?.get_item("logging") {
        return configure_logging(py, &logging);
    }
    let meta_path = sys.getattr(intern!(py, "meta_path"))?;
    meta_path.call_method1(intern!(py, "insert"), (0, Py::new(py, LoggingFinder)?))?;
    Ok(())
}

/// The root logger at DEBUG with a plain `StreamHandler(sys.stdout)`, unless it has ours.
fn configure_logging(py: Python<'_>, logging: &Bound<'_, PyAny>) -> PyResult<()> {
    let mark = intern!(py, "_scfruntime");
    let root = logging.call_method0(intern!(py, "getLogger"))?;
    for handler in root.getattr(intern!(py, "handlers"))?.try_iter()? {
        if handler?.hasattr(mark)? {
            return Ok(());
        }
    }
    root.call_method1(
        intern!(py, "setLevel"),
        (logging.getattr(intern!(py, "DEBUG"))?,),
    )?;
    let stdout = py
        .import(intern!(py, "sys"))?
        .getattr(intern!(py, "stdout"))?;
    let handler = logging.call_method1(intern!(py, "StreamHandler"), (stdout,))?;
    handler.setattr(mark, true)?;
    root.call_method1(intern!(py, "addHandler"), (handler,))?;
    Ok(())
}

/// The `sys.meta_path` entry of [`setup_logging`]: for `logging` only, it takes itself off
/// `sys.meta_path`, asks the finders after it for the spec, and wraps its loader in a
/// [`LoggingLoader`]; for any other module it declines (`None`).
#[pyclass(frozen, module = "scfruntime._scfruntime")]
pub struct LoggingFinder;

#[pymethods]
impl LoggingFinder {
    #[pyo3(signature = (name, path = None, target = None))]
    fn find_spec(
        slf: &Bound<'_, Self>,
        name: &str,
        path: Option<Bound<'_, PyAny>>,
        target: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Option<Py<PyAny>>> {
        if name != "logging" {
            return Ok(None);
        }
        let py = slf.py();
        let meta_path = py
            .import(intern!(py, "sys"))?
            .getattr(intern!(py, "meta_path"))?;
        meta_path.call_method1(intern!(py, "remove"), (slf,))?;
        let find_spec = intern!(py, "find_spec");
        for finder in meta_path.try_iter()? {
            let finder = finder?;
            if !finder.hasattr(find_spec)? {
                continue;
            }
            let spec = finder.call_method1(find_spec, (name, &path, &target))?;
            if spec.is_none() {
                continue;
            }
            let loader = spec.getattr(intern!(py, "loader"))?;
            if !loader.is_none() {
                let wrapped = Py::new(
                    py,
                    LoggingLoader {
                        inner: loader.unbind(),
                    },
                )?;
                spec.setattr(intern!(py, "loader"), wrapped)?;
            }
            return Ok(Some(spec.unbind()));
        }
        Ok(None)
    }
}

/// The loader of `logging` while [`LoggingFinder`] is in place: the real loader's, then
/// [`configure_logging`] once the module has run; any other attribute is the real loader's.
#[pyclass(frozen, module = "scfruntime._scfruntime")]
pub struct LoggingLoader {
    inner: Py<PyAny>,
}

#[pymethods]
impl LoggingLoader {
    fn create_module(&self, py: Python<'_>, spec: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Ok(self
            .inner
            .bind(py)
            .call_method1(intern!(py, "create_module"), (spec,))?
            .unbind())
    }

    fn exec_module(&self, py: Python<'_>, module: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner
            .bind(py)
            .call_method1(intern!(py, "exec_module"), (module,))?;
        configure_logging(py, module)
    }

    fn __getattr__(&self, py: Python<'_>, name: &Bound<'_, PyString>) -> PyResult<Py<PyAny>> {
        Ok(self.inner.bind(py).getattr(name)?.unbind())
    }
}

/// Colon-separated directories put on `sys.path` after the code directory (those that exist).
pub const LAYER_PATH_VAR: &str = "SCFRUNTIME_PYTHON_LAYER_PATH";
/// Where SCF unpacks layers (`/opt`), and the `python/` folder of a layer built the way
/// Lambda-style layers are (`pip install -t python/`).
pub const DEFAULT_LAYER_PATH: &str = "/opt/python:/opt";

/// The layer directories named by `value`, the value of [`LAYER_PATH_VAR`] (`None`: unset, the
/// default [`DEFAULT_LAYER_PATH`]), in order; empty entries are dropped.
pub fn layer_paths(value: Option<&OsStr>) -> Vec<PathBuf> {
    value
        .unwrap_or(OsStr::new(DEFAULT_LAYER_PATH))
        .as_bytes()
        .split(|&b| b == b':')
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(OsStr::from_bytes(p)))
        .collect()
}

/// Make `sys.path` start with the code directory, then each of `layers` that is a directory,
/// as SCF's built-in Python runtime has them.
///
/// A code directory already first (as `''` or itself: `python -m` puts it there) is not added
/// again; nor is a layer already on `sys.path`. Entries are `str`, as the
/// import system requires.
///
/// # Errors
///
/// A Python exception from reading or changing `sys.path`.
pub fn put_code_and_layers_on_path(
    py: Python<'_>,
    code_dir: &Path,
    layers: &[PathBuf],
) -> PyResult<()> {
    let path = py
        .import(intern!(py, "sys"))?
        .getattr(intern!(py, "path"))?;
    let path = path.cast::<PyList>()?;
    let code_first = path
        .get_item(0)
        .ok()
        .and_then(|p| p.extract::<PathBuf>().ok())
        .is_some_and(|p| p.as_os_str().is_empty() || p == code_dir);
    if !code_first {
        path.insert(0, code_dir.as_os_str())?;
    }
    let mut at = 1;
    for dir in layers {
        let present = path
            .iter()
            .any(|p| p.extract::<PathBuf>().is_ok_and(|p| &p == dir));
        if !present && dir.is_dir() {
            path.insert(at, dir.as_os_str())?;
            at += 1;
        }
    }
    Ok(())
}

const USAGE: &str = "usage: python -m scfruntime [--max-invocations N] [HANDLER]\n\
    Serve HANDLER (file.function, dir/file.function or dir.file.function; default $_HANDLER)\n\
    from the current directory through the SCF runtime API, or with SCFRUNTIME_MODE=image as an\n\
    image-deployed function (POST /event-invoke on SCFRUNTIME_LISTEN, default 0.0.0.0:9000).\n\
    Modules are found in the current directory first, then in the layer directories\n\
    (SCFRUNTIME_PYTHON_LAYER_PATH, default /opt/python:/opt, those that exist).";

/// Entry point of `python -m scfruntime`: load the handler named by `argv` (or `$_HANDLER`)
/// and serve it. Returns the exit status.
///
/// Handler errors (status 443 / 437) and runtime errors are printed to stderr with status 1; a
/// usage error is 2; SIGINT during the wait is 130.
///
/// # Errors
///
/// `SystemExit` (SIGTERM ends the loop with `SystemExit(0)`) and unexpected exceptions.
#[pyfunction]
#[pyo3(signature = (argv = None))]
pub fn main(py: Python<'_>, argv: Option<Vec<String>>) -> PyResult<i32> {
    let mut spec = None;
    let mut max_invocations = None;
    let mut args = argv.unwrap_or_default().into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(0);
            }
            "--max-invocations" => match args.next().and_then(|n| n.parse::<u64>().ok()) {
                Some(n) => max_invocations = Some(n),
                None => return Ok(usage_error("--max-invocations needs a number")),
            },
            _ if spec.is_none() && !arg.starts_with('-') => spec = Some(arg),
            _ => return Ok(usage_error(&format!("unexpected argument '{arg}'"))),
        }
    }
    let Some(spec) = spec.or_else(|| std::env::var("_HANDLER").ok().filter(|h| !h.is_empty()))
    else {
        return Ok(usage_error("no handler given and _HANDLER is not set"));
    };
    let handler = match load_handler(py, &spec) {
        Ok(h) => h,
        Err(e) if e.is_instance_of::<ScfRuntimeError>(py) => {
            report_load_error(py, &e);
            return Ok(1);
        }
        Err(e) => return Err(e),
    };
    match serve(py, handler.bind(py), max_invocations) {
        Ok(()) => Ok(0),
        Err(e) if e.is_instance_of::<ScfRuntimeError>(py) => {
            eprintln!("scfruntime: {}", e.value(py));
            Ok(1)
        }
        Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => {
            eprintln!("scfruntime: interrupted");
            Ok(130)
        }
        Err(e) => Err(e),
    }
}

fn usage_error(msg: &str) -> i32 {
    eprintln!("scfruntime: {msg}\n{USAGE}");
    2
}

/// The SCF-worded line on stderr, then the traceback of the import failure, if any.
fn report_load_error(py: Python<'_>, e: &PyErr) {
    eprintln!("scfruntime: {}", e.value(py));
    if let Some(cause) = e.cause(py) {
        cause.display(py);
    }
}

/// The embedded bootstrap's `main`, after CPython is initialised with the module registered:
/// serve `$_HANDLER` and return the process exit status.
///
/// `SystemExit` gives its code (SIGTERM: 0); other uncaught exceptions are printed, status 1.
pub fn host_main(py: Python<'_>) -> i32 {
    let code = match main(py, None) {
        Ok(code) => code,
        Err(e) if e.is_instance_of::<PySystemExit>(py) => {
            let code = e.value(py).getattr("code").ok();
            match code {
                None => 0,
                Some(c) if c.is_none() => 0,
                Some(c) => c.extract::<i32>().unwrap_or_else(|_| {
                    eprintln!("{c}");
                    1
                }),
            }
        }
        Err(e) => {
            e.display(py);
            1
        }
    };
    if let Ok(sys) = py.import("sys") {
        for name in ["stdout", "stderr"] {
            if let Ok(s) = sys.getattr(name) {
                let _ = s.call_method0("flush");
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::load_handler_spec;

    #[test]
    fn handler_spellings() {
        let ok = |s: &str, m: &str, f: &str| {
            assert_eq!(
                load_handler_spec(s),
                Ok((m.to_string(), f.to_string())),
                "{s}"
            );
        };
        ok("index.main_handler", "index", "main_handler");
        ok("dir/mod.fn", "dir.mod", "fn");
        ok("dir.mod.fn", "dir.mod", "fn");
        ok("a/b/c.handler", "a.b.c", "handler");
        for bad in ["index", "", ".fn", "index.", "a//b.fn", "index.a-b"] {
            assert!(load_handler_spec(bad).is_err(), "{bad}");
        }
    }

    /// The rules core's parser has where this binding used to differ (docs/handler.md).
    #[test]
    fn core_rules_where_python_used_to_differ() {
        // `.py` is not stripped: the module is `index.py`.
        assert_eq!(
            load_handler_spec("index.py.main_handler"),
            Ok(("index.py".to_string(), "main_handler".to_string()))
        );
        for bad in [
            " index.main_handler",
            "index.main_handler\n",
            "index.处理",
            "模块.main_handler",
            "index.1main",
            "in$dex.main_handler",
        ] {
            let e = load_handler_spec(bad).unwrap_err();
            assert!(
                e.contains("is not of the form 'file.function'")
                    && e.contains("expected '<file>.<function>'"),
                "{bad:?}: {e}"
            );
        }
    }
}
