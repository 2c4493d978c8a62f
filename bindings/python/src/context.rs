//! The `context` argument: a dict with the built-in runtime's keys, plus remaining time; and,
//! in image mode, the event's `X-Scf-*` metadata mirrored into `os.environ`.

use std::time::Instant;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use scf_core::{Config, FunctionMetadata, Invocation, METADATA_FIELDS};

use crate::json::encode::write_str_ascii;

/// The handler's `context`: a `dict` with exactly the keys of SCF's built-in Python runtime, in
/// its order (docs/python.md, "`context` keys, in order").
///
/// Keys: `memory_limit_in_mb` (int), `time_limit_in_ms` (int), `request_id`, `environment` (a
/// compact JSON string of `SCF_NAMESPACE` and the user variables), `environ` (the same as
/// `K=V;K=V`), `function_version`, `function_name`, `namespace`, `tencentcloud_region`,
/// `tencentcloud_appid` and `tencentcloud_uin`. In image mode the request id, limits and
/// function identity come from the event's `X-Scf-*` headers; through the runtime API from its
/// headers and the environment. A dict subclass that prints (`str`, `repr`), compares,
/// indexes and serialises as the dict it is; the method `get_remaining_time_in_millis()` is
/// the only addition.
#[cfg(not(Py_LIMITED_API))]
#[pyclass(extends = PyDict, frozen, module = "scfruntime._scfruntime")]
pub struct Context {
    deadline: Instant,
}

#[cfg(not(Py_LIMITED_API))]
#[pymethods]
impl Context {
    /// Milliseconds left until the invocation's deadline (arrival + `time_limit_in_ms`); 0 once
    /// it has passed.
    fn get_remaining_time_in_millis(&self) -> u64 {
        remaining_millis(self.deadline)
    }
}

/// Milliseconds from now until `deadline`; 0 once it has passed.
fn remaining_millis(deadline: Instant) -> u64 {
    let left = deadline.saturating_duration_since(Instant::now());
    u64::try_from(left.as_millis()).unwrap_or(u64::MAX)
}

/// A new, empty `context` for an invocation that ends at `deadline`.
#[cfg(not(Py_LIMITED_API))]
fn new_context(py: Python<'_>, deadline: Instant) -> PyResult<Bound<'_, PyDict>> {
    Ok(Bound::new(py, Context { deadline })?.into_super())
}

/// The limited API (the `abi3` feature) cannot subclass `dict` from Rust before Python 3.12:
/// there `Context` is a Python class, made once from `abi3::SOURCE`, whose instances keep
/// their deadline in an `abi3::Deadline`.
#[cfg(Py_LIMITED_API)]
pub(crate) mod abi3 {
    use std::time::Instant;

    use pyo3::intern;
    use pyo3::prelude::*;
    use pyo3::sync::PyOnceLock;
    use pyo3::types::{PyDict, PyType};

    /// The class, as the non-abi3 build's `#[pyclass]` behaves: a `dict` that cannot be
    /// subclassed, with `get_remaining_time_in_millis()` as its one addition.
    const SOURCE: &std::ffi::CStr = cr#"
class Context(dict):
    """The handler's ``context``: a dict with the keys of SCF's built-in Python runtime, in its
    order; it prints and serialises as that dict."""

    __slots__ = ("_deadline",)

    def get_remaining_time_in_millis(self):
        """Milliseconds left until the invocation's deadline; 0 once it has passed."""
        return self._deadline.remaining_millis()

    def __init_subclass__(cls, **kwargs):
        raise TypeError("type 'scfruntime._scfruntime.Context' is not an acceptable base type")
"#;

    /// When an invocation ends, for `Context.get_remaining_time_in_millis`.
    #[pyclass(frozen, module = "scfruntime._scfruntime")]
    pub(crate) struct Deadline(Instant);

    #[pymethods]
    impl Deadline {
        fn remaining_millis(&self) -> u64 {
            super::remaining_millis(self.0)
        }
    }

    /// The `Context` class, made on first use (the module's init adds it to the module).
    pub(crate) fn context_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
        static TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        TYPE.get_or_try_init(py, || {
            let globals = PyDict::new(py);
            globals.set_item(intern!(py, "__name__"), "scfruntime._scfruntime")?;
            py.run(SOURCE, Some(&globals), None)?;
            Ok::<_, PyErr>(
                globals
                    .as_any()
                    .get_item("Context")?
                    .cast_into::<PyType>()?
                    .unbind(),
            )
        })
        .map(|ty| ty.bind(py))
    }

    /// A new, empty `context` for an invocation that ends at `deadline`.
    pub(super) fn new_context(py: Python<'_>, deadline: Instant) -> PyResult<Bound<'_, PyDict>> {
        let ctx = context_type(py)?.call0()?;
        ctx.setattr(intern!(py, "_deadline"), Deadline(deadline))?;
        Ok(ctx.cast_into::<PyDict>()?)
    }
}

#[cfg(Py_LIMITED_API)]
use abi3::new_context;

/// Names of environment variables that belong to the platform or the system rather than to
/// the user (docs/platform.md section 2); the rest form `environment` and `environ`. The
/// platform's own list is not published, so this is a best guess (ours).
/// `SCFRUNTIME_` variables (`SCFRUNTIME_MODE`, `SCFRUNTIME_LISTEN`...) configure this runtime,
/// not the function, so they are left out too.
fn is_platform_variable(name: &str) -> bool {
    const PREFIXES: [&str; 6] = [
        "SCF_",
        "_SCF_",
        "QCLOUD_",
        "TENCENTCLOUD_",
        "LC_",
        "SCFRUNTIME_",
    ];
    const NAMES: [&str; 26] = [
        "_HANDLER",
        "USER_CODE_ROOT",
        "TRIGGER_SRC",
        "PATH",
        "HOME",
        "LANG",
        "PWD",
        "OLDPWD",
        "SHLVL",
        "_",
        "HOSTNAME",
        "TERM",
        "USER",
        "LOGNAME",
        "SHELL",
        "LD_LIBRARY_PATH",
        "LD_PRELOAD",
        "PYTHONPATH",
        "NODE_PATH",
        "CLASSPATH",
        "PHP_INI_SCAN_DIR",
        "PYTHONHOME",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
        "VIRTUAL_ENV",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p)) || NAMES.contains(&name)
}

/// The user variables of the process environment, in environment order.
pub(crate) fn user_variables() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !is_platform_variable(k))
        .collect()
}

/// The `environment` string: `vars` as a compact JSON object (`{"K":"V","K2":"V2"}`, as the
/// platform writes it), non-ASCII as `\u` escapes, a repeated name keeping its first position
/// and its last value, as a dict would.
fn environment_json(vars: &[(String, String)]) -> String {
    let mut unique: Vec<(&str, &str)> = Vec::with_capacity(vars.len());
    for (k, v) in vars {
        match unique.iter_mut().find(|(seen, _)| seen == k) {
            Some(entry) => entry.1 = v,
            None => unique.push((k, v)),
        }
    }
    let mut out = Vec::new();
    out.push(b'{');
    for (n, (k, v)) in unique.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_str_ascii(&mut out, k);
        out.push(b':');
        write_str_ascii(&mut out, v);
    }
    out.push(b'}');
    // Only ASCII was written.
    String::from_utf8_lossy(&out).into_owned()
}

/// The function-identity keys of `context`, which are also [`METADATA_FIELDS`] names, in the
/// order the built-in runtime has them: image mode takes their values from each event's
/// headers.
const IDENTITY_KEYS: [&str; 6] = [
    "function_version",
    "function_name",
    "namespace",
    "tencentcloud_region",
    "tencentcloud_appid",
    "tencentcloud_uin",
];

/// One function-identity key of `context` and its value from the configuration.
struct Identity {
    key: Py<PyString>,
    /// The key, which is also the metadata field's name.
    name: &'static str,
    /// The configuration's value (the environment's), as a Python `str` (`""` when unset).
    configured: Py<PyAny>,
}

/// `environment` and `environ` for one namespace: `SCF_NAMESPACE` first, then the user
/// variables, as the platform lists them.
struct EnvStrings {
    namespace: String,
    environment: Py<PyAny>,
    environ: Py<PyAny>,
}

impl EnvStrings {
    fn new(py: Python<'_>, namespace: &str, user: &[(String, String)]) -> EnvStrings {
        let mut vars = Vec::with_capacity(user.len() + 1);
        if !namespace.is_empty() {
            vars.push(("SCF_NAMESPACE".to_string(), namespace.to_string()));
        }
        vars.extend(user.iter().cloned());
        let environ = vars
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";");
        EnvStrings {
            namespace: namespace.to_string(),
            environment: PyString::new(py, &environment_json(&vars))
                .into_any()
                .unbind(),
            environ: PyString::new(py, &environ).into_any().unbind(),
        }
    }
}

/// The parts of `context` that do not change between invocations, built once per `run`.
pub(crate) struct ContextTemplate {
    key_request_id: Py<PyString>,
    key_memory: Py<PyString>,
    key_time: Py<PyString>,
    key_environment: Py<PyString>,
    key_environ: Py<PyString>,
    identity: Vec<Identity>,
    user_vars: Vec<(String, String)>,
    /// For the configured namespace; an image-mode event naming another gets its own.
    env: EnvStrings,
}

impl ContextTemplate {
    /// Keys and values from `config` and the environment.
    pub(crate) fn new(py: Python<'_>, config: &Config) -> PyResult<Self> {
        let key = |k: &str| PyString::intern(py, k).unbind();
        let configured = &config.metadata;
        let identity = IDENTITY_KEYS
            .iter()
            .map(|&name| Identity {
                key: key(name),
                name,
                configured: PyString::new(py, configured.get(name).unwrap_or(""))
                    .into_any()
                    .unbind(),
            })
            .collect();
        let user_vars = user_variables();
        let env = EnvStrings::new(py, configured.get("namespace").unwrap_or(""), &user_vars);
        Ok(ContextTemplate {
            key_request_id: key("request_id"),
            key_memory: key("memory_limit_in_mb"),
            key_time: key("time_limit_in_ms"),
            key_environment: key("environment"),
            key_environ: key("environ"),
            identity,
            user_vars,
            env,
        })
    }

    /// The `context` of `inv`: a new [`Context`] filled from the template, with the function
    /// identity of `inv.metadata` where the event brought one (image mode; an absent header
    /// leaves the configured value).
    pub(crate) fn build<'py>(
        &self,
        py: Python<'py>,
        inv: &Invocation,
    ) -> PyResult<Bound<'py, PyDict>> {
        let dict = new_context(py, inv.deadline())?;
        dict.set_item(self.key_memory.bind(py), inv.memory_limit_mb)?;
        let time_ms = u64::try_from(inv.time_limit.as_millis()).unwrap_or(u64::MAX);
        dict.set_item(self.key_time.bind(py), time_ms)?;
        dict.set_item(self.key_request_id.bind(py), &inv.request_id)?;
        let event_namespace = inv
            .metadata
            .as_ref()
            .and_then(|m| m.get("namespace"))
            .filter(|ns| *ns != self.env.namespace);
        let other;
        let env = match event_namespace {
            Some(ns) => {
                other = EnvStrings::new(py, ns, &self.user_vars);
                &other
            }
            None => &self.env,
        };
        dict.set_item(self.key_environment.bind(py), env.environment.bind(py))?;
        dict.set_item(self.key_environ.bind(py), env.environ.bind(py))?;
        for id in &self.identity {
            match inv.metadata.as_ref().and_then(|m| m.get(id.name)) {
                Some(value) => dict.set_item(id.key.bind(py), value)?,
                None => dict.set_item(id.key.bind(py), id.configured.bind(py))?,
            }
        }
        Ok(dict)
    }
}

/// Image mode: each event's `X-Scf-*` metadata in `os.environ`, under the names a code package
/// finds it there (`TENCENTCLOUD_SECRETID`, `TENCENTCLOUD_SECRETKEY`,
/// `TENCENTCLOUD_SESSIONTOKEN`, `TRIGGER_SRC`, `SCF_FUNCTIONNAME`...; see [`METADATA_FIELDS`]).
///
/// A handler written for a code package reads its temporary role credentials there (the
/// TencentCloud SDK's environment credential does too), and `context` has no key for them; with
/// this it finds them in an image as well, renewed with every event. A header the event lacks
/// gives the variable back the value it had when `run` started (or removes it). Variables are
/// written only when their value changes, through `os.environ` so that Python's view and the
/// process environment agree. Nothing happens for runtime-API events (no metadata).
pub(crate) struct EnvMirror {
    /// Per [`METADATA_FIELDS`] entry: the variable's value when the mirror was made.
    initial: Vec<Option<String>>,
    /// Per [`METADATA_FIELDS`] entry: the value the mirror last left in the environment.
    current: Vec<Option<String>>,
    /// `os.environ`, imported on first use.
    environ: Option<Py<PyAny>>,
}

impl EnvMirror {
    /// A mirror that starts from the process environment as it is now.
    pub(crate) fn new() -> EnvMirror {
        let initial: Vec<Option<String>> = METADATA_FIELDS
            .iter()
            .map(|f| std::env::var(f.env).ok())
            .collect();
        EnvMirror {
            current: initial.clone(),
            initial,
            environ: None,
        }
    }

    /// Set the variables for an event with `metadata` (`None`: a runtime-API event, nothing
    /// to do).
    ///
    /// # Errors
    ///
    /// What `os.environ` raises (importing `os`, `putenv`).
    pub(crate) fn apply(
        &mut self,
        py: Python<'_>,
        metadata: Option<&FunctionMetadata>,
    ) -> PyResult<()> {
        let Some(metadata) = metadata else {
            return Ok(());
        };
        for (i, (_, value)) in metadata.iter().enumerate() {
            let want = value.or(self.initial[i].as_deref()).map(str::to_owned);
            self.set(py, i, want)?;
        }
        Ok(())
    }

    /// Give every variable back the value it had when the mirror was made (when `run` returns,
    /// so a program that goes on after it keeps its own environment).
    ///
    /// # Errors
    ///
    /// As [`apply`](Self::apply).
    pub(crate) fn restore(&mut self, py: Python<'_>) -> PyResult<()> {
        for i in 0..METADATA_FIELDS.len() {
            self.set(py, i, self.initial[i].clone())?;
        }
        Ok(())
    }

    /// Make variable `i` of [`METADATA_FIELDS`] `want` (`None`: unset), unless it is already.
    fn set(&mut self, py: Python<'_>, i: usize, want: Option<String>) -> PyResult<()> {
        if want == self.current[i] {
            return Ok(());
        }
        let environ = match &self.environ {
            Some(environ) => environ.bind(py).clone(),
            None => {
                let environ = py
                    .import(intern!(py, "os"))?
                    .getattr(intern!(py, "environ"))?;
                self.environ = Some(environ.clone().unbind());
                environ
            }
        };
        let name = METADATA_FIELDS[i].env;
        match &want {
            Some(v) => environ.set_item(name, v)?,
            // Deleting a variable another piece of code removed already is not an error.
            None => {
                if environ.contains(name)? {
                    environ.del_item(name)?;
                }
            }
        }
        self.current[i] = want;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{environment_json, is_platform_variable};

    #[test]
    fn environment_is_json_dumps_of_the_variables() {
        let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(environment_json(&[]), "{}");
        // json.dumps({"A": "1", "B": "x\"y\\z", "C": "é😀\n"}, separators=(",", ":")) and a
        // repeated name.
        assert_eq!(
            environment_json(&vars(&[
                ("A", "0"),
                ("B", "x\"y\\z"),
                ("C", "é😀\n"),
                ("A", "1")
            ])),
            r#"{"A":"1","B":"x\"y\\z","C":"\u00e9\ud83d\ude00\n"}"#
        );
    }

    #[test]
    fn platform_variables_are_not_user_variables() {
        for name in [
            "SCF_RUNTIME_API",
            "TENCENTCLOUD_UIN",
            "QCLOUD_X",
            "_HANDLER",
            "PATH",
            "SCFRUNTIME_MODE",
            "SCFRUNTIME_LISTEN",
            "_SCF_SERVER_PORT",
            "LC_ALL",
            "NODE_PATH",
        ] {
            assert!(is_platform_variable(name), "{name}");
        }
        // TZ is the user's: SCF has TENCENTCLOUD_TZ, and shows a TZ the user set in
        // `environment`.
        for name in ["GREETING", "DB_HOST", "scf_lower", "SCFRUNTIMEX", "TZ"] {
            assert!(!is_platform_variable(name), "{name}");
        }
    }
}
