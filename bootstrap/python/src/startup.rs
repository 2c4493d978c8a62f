//! How the embedded interpreter starts: the `PyConfig` it is initialised with and the
//! `sys.path` the handler is imported with.
//!
//! `Python::initialize()` would call `Py_InitializeEx(0)`, i.e. CPython's "compat" config with
//! the `site` import and the standard library found from whatever `python3` comes first on
//! `PATH`. The bootstrap initialises CPython itself, before pyo3 does, with `Py_InitializeFromConfig`
//! and a config built like the `python3` executable's (`PyConfig_InitPythonConfig`), changed
//! where an SCF function needs it:
//!
//! - **Locale.** The Python config coerces the C/POSIX locale to UTF-8 (PEP 538/540), as
//!   `python3` does. The compat config left `sys.stdout` ASCII when the function's environment
//!   has no `LANG` (none is documented for SCF), and a handler printing "é" failed with
//!   `UnicodeEncodeError`.
//! - **Where the standard library is.** Unless `PYTHONHOME` is set, the home is the prefix of the
//!   libpython this process actually loaded (`<prefix>/lib/libpython3.X.so`, found with
//!   `dladdr`), when `<prefix>/lib/python3.X/os.py` (or `python3X.zip`) is there. Otherwise
//!   CPython searched from the first `python3` on `PATH`, so a system Python of the same minor
//!   version lent its standard library to our libpython. With the home found, a libpython
//!   shipped beside the bootstrap (`$ORIGIN/python/lib`) needs no `PYTHONHOME` either.
//!   `sys.executable` is `<prefix>/bin/python3.X` when that exists.
//! - **`site`** runs by default, as for `python3`. `SCFRUNTIME_PYTHON_NO_SITE=1` skips it (see
//!   [`Options`]): the bootstrap then puts the interpreter's `site-packages` on `sys.path`
//!   itself, without processing `.pth` files, `sitecustomize`, `usercustomize` or the user
//!   site, and defines `exit`/`quit`.
//! - **`sys.path`**: the code directory (the cwd) first, then the layer directories
//!   (`SCFRUNTIME_PYTHON_LAYER_PATH`, default `/opt/python:/opt`, those that exist), then what
//!   CPython computed (`PYTHONPATH`, the standard library, `site-packages`). They are added after
//!   initialisation, so a file in the code directory named like a module CPython imports while
//!   starting (`encodings`, `site`) does not replace it, as with `python3 script.py`.
//!
//! Signal handlers are not installed (`install_signal_handlers = 0`, as `Py_InitializeEx(0)`):
//! the serve loop sets its own for SIGTERM and SIGINT.

use std::ffi::{CStr, CString, OsStr, OsString, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyList;

/// Skips the `site` import when `1` (see the module doc).
pub const NO_SITE_VAR: &str = "SCFRUNTIME_PYTHON_NO_SITE";
use scfruntime_py::LAYER_PATH_VAR;

/// What the environment asks of the interpreter's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Import `site` while initialising (`SCFRUNTIME_PYTHON_NO_SITE` unset, empty or `0`).
    pub site: bool,
    /// Directories for `sys.path` after the code directory, in order; missing ones are skipped.
    pub layer_paths: Vec<PathBuf>,
}

impl Options {
    /// Read [`NO_SITE_VAR`] and [`LAYER_PATH_VAR`] through `var`.
    ///
    /// # Errors
    ///
    /// A message naming the variable when `SCFRUNTIME_PYTHON_NO_SITE` is not one of `1`, `0`,
    /// `true`, `false`, `yes`, `no` (any case) or empty.
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<Options, String> {
        let site = match var(NO_SITE_VAR) {
            None => true,
            Some(v) => match v.to_string_lossy().to_ascii_lowercase().as_str() {
                "" | "0" | "false" | "no" => true,
                "1" | "true" | "yes" => false,
                _ => {
                    return Err(format!(
                        "{NO_SITE_VAR}={} is not understood: use 1 to skip the site import, 0 or \
                         unset to keep it",
                        v.to_string_lossy()
                    ));
                }
            },
        };
        let layer_paths = scfruntime_py::layer_paths(var(LAYER_PATH_VAR).as_deref());
        Ok(Options { site, layer_paths })
    }
}

/// The version of the libpython in this process as `(major, minor)`, from `Py_GetVersion`
/// (one of the calls CPython allows before initialisation).
fn libpython_version() -> Option<(u32, u32)> {
    // SAFETY: Py_GetVersion returns a static NUL-terminated string and may be called before
    // Py_Initialize (CPython's "Before Python Initialization" list).
    let version = unsafe { CStr::from_ptr(ffi::Py_GetVersion()) }
        .to_str()
        .ok()?;
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The file the dynamic loader mapped libpython from, found through one of its symbols.
fn libpython_file() -> Option<PathBuf> {
    // SAFETY: dladdr only reads the loader's tables; `info` is written on success, and
    // dli_fname then points to a NUL-terminated string owned by the loader.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let symbol = ffi::Py_InitializeFromConfig as *const c_void;
        if libc::dladdr(symbol, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        let name = CStr::from_ptr(info.dli_fname).to_bytes();
        Some(PathBuf::from(OsStr::from_bytes(name)))
    }
}

/// The installation prefix of `libpython`, when the standard library of that version is under
/// it: `<prefix>/lib/libpython3.X.so...` (a `./configure --prefix` build, pyenv, an SCF layer
/// under `/opt/python`) or `<prefix>/lib/<multiarch>/libpython3.X.so...` (Debian's).
pub fn prefix_of(libpython: &Path, (major, minor): (u32, u32)) -> Option<PathBuf> {
    let libdir = libpython.parent()?;
    let has_stdlib = |prefix: &Path| {
        let lib = prefix.join("lib");
        lib.join(format!("python{major}.{minor}"))
            .join("os.py")
            .is_file()
            || lib.join(format!("python{major}{minor}.zip")).is_file()
    };
    libdir
        .ancestors()
        .skip(1)
        .take(2)
        .find(|prefix| has_stdlib(prefix))
        .map(Path::to_path_buf)
}

/// An initialised `PyConfig`, cleared on drop.
struct Config(Box<ffi::PyConfig>);

impl Config {
    fn python() -> Config {
        // SAFETY: PyConfig is plain data; PyConfig_InitPythonConfig initialises every field
        // (zeroed first so that a field it does not know about is NULL rather than garbage).
        unsafe {
            let mut config: Box<ffi::PyConfig> = Box::new(std::mem::zeroed());
            ffi::PyConfig_InitPythonConfig(&mut *config);
            Config(config)
        }
    }

    /// Set one of the config's `wchar_t *` fields from bytes (decoded as CPython decodes paths).
    fn set_path(
        &mut self,
        field: impl FnOnce(&mut ffi::PyConfig) -> *mut *mut libc::wchar_t,
        value: &Path,
        what: &str,
    ) -> Result<(), String> {
        let value = CString::new(value.as_os_str().as_bytes())
            .map_err(|_| format!("{what} {} contains a NUL byte", value.display()))?;
        let config: *mut ffi::PyConfig = &mut *self.0;
        // SAFETY: `config` was initialised by PyConfig_InitPythonConfig; the field pointer
        // points into it; `value` is NUL-terminated and outlives the call (it is copied).
        let status = unsafe {
            let field = field(&mut *config);
            ffi::PyConfig_SetBytesString(config, field, value.as_ptr())
        };
        check(status).map_err(|e| format!("cannot set {what}: {e}"))
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: initialised by PyConfig_InitPythonConfig; cleared once.
        unsafe { ffi::PyConfig_Clear(&mut *self.0) }
    }
}

/// `Err` with CPython's message for a failed `PyStatus`.
fn check(status: ffi::PyStatus) -> Result<(), String> {
    // SAFETY: PyStatus_Exception only reads the status.
    if unsafe { ffi::PyStatus_Exception(status) } == 0 {
        return Ok(());
    }
    let text = |p: *const std::ffi::c_char| {
        // SAFETY: CPython's statuses carry static NUL-terminated strings or NULL.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    };
    Err(match (text(status.func), text(status.err_msg)) {
        (Some(func), Some(msg)) => format!("{func}: {msg}"),
        (None, Some(msg)) => msg,
        _ => format!("CPython exited with status {}", status.exitcode),
    })
}

/// The prefix of the libpython this process loaded, with its version, when `PYTHONHOME` does
/// not say where the standard library is.
fn home_from_libpython() -> Option<(PathBuf, (u32, u32))> {
    if std::env::var_os("PYTHONHOME").is_some_and(|h| !h.is_empty()) {
        return None;
    }
    let version = libpython_version()?;
    let prefix = prefix_of(&libpython_file()?, version)?;
    Some((prefix, version))
}

/// Start CPython with the config described in the module doc, then release the GIL as
/// `Python::initialize()` does, so that pyo3 finds the interpreter running.
///
/// # Errors
///
/// CPython's message when the configuration is refused or initialisation fails (for example
/// no standard library under `PYTHONHOME`).
pub fn initialize(opts: &Options) -> Result<(), String> {
    let mut config = Config::python();
    config.0.parse_argv = 0;
    config.0.install_signal_handlers = 0;
    config.0.site_import = i32::from(opts.site);
    if let Some((prefix, version)) = home_from_libpython() {
        config.set_path(|c| &mut c.home, &prefix, "the Python home")?;
        let python = prefix
            .join("bin")
            .join(format!("python{}.{}", version.0, version.1));
        if python.is_file() {
            config.set_path(|c| &mut c.program_name, &python, "the program name")?;
        }
    }
    // SAFETY: the config is initialised; the interpreter is not (this runs once, first thing
    // in main, before pyo3 is used). PyEval_SaveThread releases the GIL this thread now holds,
    // leaving the state pyo3's own initialisation leaves.
    unsafe {
        check(ffi::Py_InitializeFromConfig(&*config.0))?;
        ffi::PyEval_SaveThread();
    }
    Ok(())
}

/// Put the code directory and the layer directories at the front of `sys.path` and, without
/// `site`, the interpreter's `site-packages` (and `exit`/`quit`) where `site` would have put them.
///
/// # Errors
///
/// A Python exception from manipulating `sys` or `builtins`.
pub fn prepare_sys_path(py: Python<'_>, opts: &Options, code_dir: &Path) -> PyResult<()> {
    let sys = py.import("sys")?;
    let path = sys.getattr("path")?;
    let path = path.cast::<PyList>()?;
    scfruntime_py::put_code_and_layers_on_path(py, code_dir, &opts.layer_paths)?;
    if !opts.site {
        for dir in site_packages(&sys)? {
            if dir.is_dir() && !path.contains(dir.as_os_str())? {
                path.append(dir.as_os_str())?;
            }
        }
        // What site.setquit() defines; handlers (and scripts turned handlers) call exit().
        let quitter = py.import("_sitebuiltins")?.getattr("Quitter")?;
        let builtins = py.import("builtins")?;
        builtins.setattr("exit", quitter.call1(("exit", "Ctrl-D (i.e. EOF)"))?)?;
        builtins.setattr("quit", quitter.call1(("quit", "Ctrl-D (i.e. EOF)"))?)?;
    }
    Ok(())
}

/// `site.getsitepackages()` on POSIX: `<prefix>/<platlibdir or lib>/pythonX.Y/site-packages`
/// for `sys.prefix` and `sys.exec_prefix`.
fn site_packages(sys: &Bound<'_, PyModule>) -> PyResult<Vec<PathBuf>> {
    let (major, minor): (u32, u32) = (
        sys.getattr("version_info")?.get_item(0)?.extract()?,
        sys.getattr("version_info")?.get_item(1)?.extract()?,
    );
    let platlibdir: String = sys.getattr("platlibdir")?.extract()?;
    let mut libdirs = vec![platlibdir.clone()];
    if platlibdir != "lib" {
        libdirs.push("lib".into());
    }
    let mut dirs = Vec::new();
    for prefix in ["prefix", "exec_prefix"] {
        let prefix = PathBuf::from(sys.getattr(prefix)?.extract::<OsString>()?);
        for lib in &libdirs {
            let dir = prefix
                .join(lib)
                .join(format!("python{major}.{minor}"))
                .join("site-packages");
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    Ok(dirs)
}

/// The code directory: the current directory, where SCF unpacks the function (`/var/user`).
pub fn code_dir() -> Option<PathBuf> {
    std::env::current_dir().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(vars: &[(&str, &str)]) -> Result<Options, String> {
        Options::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn site_is_on_unless_turned_off() {
        assert!(opts(&[]).unwrap().site);
        for on in ["", "0", "false", "No"] {
            assert!(opts(&[(NO_SITE_VAR, on)]).unwrap().site, "{on:?}");
        }
        for off in ["1", "true", "YES"] {
            assert!(!opts(&[(NO_SITE_VAR, off)]).unwrap().site, "{off:?}");
        }
        let err = opts(&[(NO_SITE_VAR, "maybe")]).unwrap_err();
        assert!(err.contains("SCFRUNTIME_PYTHON_NO_SITE=maybe"), "{err}");
    }

    #[test]
    fn layer_path_default_and_override() {
        assert_eq!(
            opts(&[]).unwrap().layer_paths,
            [PathBuf::from("/opt/python"), PathBuf::from("/opt")]
        );
        assert_eq!(
            opts(&[(LAYER_PATH_VAR, ":/a::/b:")]).unwrap().layer_paths,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert!(
            opts(&[(LAYER_PATH_VAR, "")])
                .unwrap()
                .layer_paths
                .is_empty()
        );
    }

    #[test]
    fn prefix_needs_the_standard_library_beside_the_library() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("lib");
        std::fs::create_dir_all(lib.join("python3.11")).unwrap();
        let so = lib.join("libpython3.11.so.1.0");
        assert_eq!(prefix_of(&so, (3, 11)), None);
        std::fs::write(lib.join("python3.11/os.py"), "").unwrap();
        assert_eq!(prefix_of(&so, (3, 11)), Some(dir.path().to_path_buf()));
        assert_eq!(prefix_of(&so, (3, 12)), None);
        let multiarch = lib.join("x86_64-linux-gnu").join("libpython3.11.so.1.0");
        assert_eq!(
            prefix_of(&multiarch, (3, 11)),
            Some(dir.path().to_path_buf())
        );
    }
}
