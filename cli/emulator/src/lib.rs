//! `scf-emulator`: a function run the way the platform runs it: cold start, warm reuse,
//! timeouts, limits, logs. It stands on `scf-runtime-api` (the platform side of the protocols) and
//! must not depend on packaging, the cloud API side (TC3, `serve`, `deploy`) or the command line,
//! nor on TLS, zip or clap.
//!
//! [`Function`] owns at most one warm instance: a running `bootstrap` (under a supervisor process
//! that owns every process it starts, see `process.rs`) plus its platform side: the [`RuntimeApi`]
//! it polls (a code package), or the port its HTTP server listens on (an image,
//! [`Deployment::Image`]). [`Function::invoke`] turns one event into an [`InvokeResult`], which
//! renders as the Invoke API's `Result` JSON ([`invoke_json_line`], the one writer of that line for
//! local and remote invocations). [`pool`] keeps several warm instances of one function.
#![warn(missing_docs)]

mod logs;
pub mod pool;
mod process;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::logs::LogHub;
pub use crate::process::kill_all_process_groups;
use crate::process::{Instance, Platform, Sampler};
/// One HTTP request for a web function ([`Function::forward`]).
pub use scf_runtime_api::image::ForwardRequest;
use scf_runtime_api::image::{
    Answer, EVENT_INVOKE_PATH, Forwarded, ImagePort, SCF_IMAGE_PORT, listening_socket_inodes,
    process_holds_socket,
};
use scf_runtime_api::{
    InvokeError, InvokeOptions, Limits, Outcome, RESPONSE_TOO_LARGE_MESSAGE, RuntimeApi, WaitError,
};

/// Status code of a successful invocation.
pub const STATUS_OK: u16 = 200;
/// The bootstrap could not start or exited before calling `/runtime/init/ready`.
pub const STATUS_CONTAINER_EXITED: u16 = 405;
/// The event is larger than the limit (6 MB).
pub const STATUS_REQUEST_TOO_LARGE: u16 = 406;
/// The posted result is larger than the limit (6 MB).
pub const STATUS_RESPONSE_TOO_LARGE: u16 = 407;
/// The handler posted to `/runtime/invocation/error`.
pub const STATUS_USER_ERROR: u16 = 430;
/// No result within the function's timeout.
pub const STATUS_TIMEOUT: u16 = 433;
/// The function's processes used more resident memory than its memory size (MemoryLimitReached);
/// the instance is killed.
pub const STATUS_MEMORY_LIMIT: u16 = 434;
/// The bootstrap exited while an invocation was running.
pub const STATUS_PROCESS_EXITED: u16 = 439;
/// No `/runtime/init/ready` within the init timeout.
pub const STATUS_INIT_TIMEOUT: u16 = 450;

/// How many bytes of the framed log `Log` carries with `LogType=Tail`.
const LOG_TAIL_BYTES: usize = 4096;
/// How often the process tree's RSS is sampled during initialisation and invocations (and
/// checked against the memory size: a peak shorter than this can pass unseen).
const MEM_SAMPLE_INTERVAL: Duration = Duration::from_millis(10);

/// Placeholder APPID (the real one identifies a Tencent Cloud account).
pub const PLACEHOLDER_APPID: &str = "1250000000";
/// Placeholder UIN (the real one identifies a Tencent Cloud account).
pub const PLACEHOLDER_UIN: &str = "100000000001";
/// The region the local functions run in.
pub const REGION: &str = "ap-guangzhou";
/// Placeholder role credentials. SCF gives a function with a role temporary credentials
/// (`TENCENTCLOUD_SECRETID`... / `X-Scf-Secret-Id`...); scfrt has no role to take them from, so
/// code that reads them finds these, which authenticate nothing.
pub const PLACEHOLDER_SECRET_ID: &str = "AKIDscfrtLocalPlaceholder";
/// See [`PLACEHOLDER_SECRET_ID`].
pub const PLACEHOLDER_SECRET_KEY: &str = "scfrt-local-placeholder-secret-key";
/// See [`PLACEHOLDER_SECRET_ID`].
pub const PLACEHOLDER_SESSION_TOKEN: &str = "scfrt-local-placeholder-session-token";
/// The variable that tells a bootstrap built on scfruntime to serve `POST /event-invoke`
/// instead of polling the runtime API (`scf_core::MODE_ENV`); an image gets it set to `image`.
pub const IMAGE_MODE_ENV: &str = "SCFRUNTIME_MODE";
/// The variable with the address an image's server listens on (`scf_core::LISTEN_ENV`);
/// scfrt sets `127.0.0.1:<a free port>`.
pub const IMAGE_LISTEN_ENV: &str = "SCFRUNTIME_LISTEN";
/// How long SCF waits for an image function's server to listen (its message names 30000 ms).
pub const IMAGE_INIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The executable a web function's package starts (docs/triggers.md, "Web functions").
pub const WEB_BOOTSTRAP: &str = "scf_bootstrap";
/// The variable with the free port a web function's server may listen on instead of 9000
/// (docs/triggers.md, "Web functions"): only the number, as Heroku-style servers read it.
pub const WEB_PORT_ENV: &str = "PORT";
/// The most bytes a web function's answer headers may hold, names and values together
/// (docs/triggers.md, "Web functions").
pub const WEB_MAX_RESPONSE_HEADER_BYTES: usize = 4 * 1024;

/// Prefixes of the variable names SCF reserves for the platform: a function's own variables
/// (`scfrt invoke --env`, CreateFunction's `Environment.Variables`) cannot start with them.
pub const RESERVED_ENV_PREFIXES: [&str; 3] = ["SCF_", "QCLOUD_", "TENCENTCLOUD_"];
/// `PATH` as SCF documents it for a function (also Docker's default `PATH` for an image).
pub const DOCUMENTED_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// `USER` and `LOGNAME` as SCF documents them.
pub const DOCUMENTED_USER: &str = "qcloud";
/// `HOME` as SCF documents it; scfrt keeps the caller's `HOME` and uses this only without one.
pub const DOCUMENTED_HOME: &str = "/home/qcloud";
/// `LANG` and `LC_ALL` as SCF documents them, when the C library has that locale.
pub const DOCUMENTED_LOCALE: &str = "en_US.UTF8";
/// The locale used instead of [`DOCUMENTED_LOCALE`] when the C library does not have it.
pub const FALLBACK_LOCALE: &str = "C.UTF-8";

/// The reserved prefix (one of [`RESERVED_ENV_PREFIXES`]) that the variable `name` starts with.
pub fn reserved_env_prefix(name: &str) -> Option<&'static str> {
    RESERVED_ENV_PREFIXES
        .iter()
        .copied()
        .find(|p| name.starts_with(p))
}

/// Why the variable `name` cannot be set by a function, if it cannot: it names the variable
/// and the rule.
pub fn reserved_env_error(name: &str) -> Option<String> {
    reserved_env_prefix(name).map(|prefix| {
        format!(
            "`{name}` starts with {prefix}: environment variables starting with SCF_, QCLOUD_ or \
             TENCENTCLOUD_ are reserved by the platform and cannot be set"
        )
    })
}

/// `LANG`/`LC_ALL` for a code package: [`DOCUMENTED_LOCALE`] when the C library can load it,
/// else [`FALLBACK_LOCALE`] (bash prints `setlocale: LC_ALL: cannot change locale` on every
/// start with a locale the C library lacks, and that would land in every log).
fn locale() -> &'static str {
    static LOCALE: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    LOCALE.get_or_init(|| {
        if locale_available(c"en_US.UTF8") {
            DOCUMENTED_LOCALE
        } else {
            FALLBACK_LOCALE
        }
    })
}

/// Whether the C library has the locale `name` (the same lookup `setlocale` does).
fn locale_available(name: &std::ffi::CStr) -> bool {
    // SAFETY: `name` is a valid C string; a null base asks for a new locale object, which we
    // free at once.
    let loc = unsafe { libc::newlocale(libc::LC_ALL_MASK, name.as_ptr(), std::ptr::null_mut()) };
    if loc.is_null() {
        return false;
    }
    // SAFETY: `loc` came from newlocale and is freed once.
    unsafe { libc::freelocale(loc) };
    true
}

/// An environment under construction: setting a name again replaces its value in place.
#[derive(Default)]
struct Env(Vec<(String, String)>);

impl Env {
    fn set(&mut self, name: &str, value: &str) {
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.0.push((name.to_owned(), value.to_owned())),
        }
    }
}

/// How a function is deployed, which decides how events reach it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Deployment {
    /// A code package: `bootstrap` polls the runtime API (`SCF_RUNTIME_API`); init ends with
    /// `/runtime/init/ready`.
    #[default]
    CodePackage,
    /// An image: `bootstrap` runs an HTTP server on `SCFRUNTIME_LISTEN` (SCF: `0.0.0.0:9000`);
    /// init ends when the port accepts connections, and each event is a `POST /event-invoke`
    /// with `X-Scf-*` headers. scfrt passes every event on, however large, so the server's own
    /// 6 MB refusal (413) is what gets reported.
    Image,
    /// A web function (`Type: HTTP`): `scf_bootstrap` starts an HTTP server on port 9000 (or on
    /// `$PORT`); init ends when the port accepts connections, and each HTTP request is passed
    /// on as it came ([`Function::forward`]), with the `X-Scf-*` headers added. It takes no
    /// events ([`Function::invoke`] fails). docs/triggers.md, "Web functions".
    Web,
}

/// A function's configuration (what CreateFunction would set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    /// The unpacked code package; `bootstrap` (a web function: `scf_bootstrap`) must be at its
    /// root.
    pub code_dir: PathBuf,
    /// `_HANDLER`, interpreted by the custom runtime. Default `index.main_handler`.
    pub handler: String,
    /// `SCF_FUNCTIONNAME`. Default `scfrt-local`.
    pub function_name: String,
    /// `SCF_NAMESPACE`. Default `default`.
    pub namespace: String,
    /// `SCF_FUNCTIONVERSION`. Default `$LATEST`.
    pub version: String,
    /// Invocation timeout, from event delivery to the result post. Default 3 s.
    pub timeout: Duration,
    /// Init timeout, from process start to `/runtime/init/ready`. Default 65 s.
    pub init_timeout: Duration,
    /// Memory size in MB, sent as `memory_limit_in_mb`. Enforced: when the resident memory of
    /// the instance's processes (the bootstrap and every process it started, however it
    /// detached; sampled every 10 ms during initialisation and invocations; pages they share
    /// counted once) passes it, the instance is killed and the
    /// invocation fails with 434. Default 128.
    pub memory_mb: u32,
    /// User environment variables. They override the documented variables that are not the
    /// platform's (`PATH`, `LANG`, `PYTHONPATH`...) but not `_HANDLER`, and none may start with
    /// a reserved prefix ([`RESERVED_ENV_PREFIXES`]; [`Function::new`] refuses them).
    pub env: Vec<(String, String)>,
    /// `LogType=Tail`: put the last 4 KB of the framed log into [`InvokeResult::log`].
    pub log_type_tail: bool,
    /// A code package or an image. Default [`Deployment::CodePackage`].
    pub deployment: Deployment,
    /// What triggered the invocation (`TRIGGER_SRC`, `X-Scf-Trigger-Src`), e.g. `timer`; `None`
    /// (the default) for an Invoke API call.
    pub trigger_src: Option<String>,
}

impl Default for FunctionConfig {
    /// The platform defaults, with an empty `code_dir`.
    fn default() -> Self {
        FunctionConfig {
            code_dir: PathBuf::new(),
            handler: "index.main_handler".into(),
            function_name: "scfrt-local".into(),
            namespace: "default".into(),
            version: "$LATEST".into(),
            timeout: Duration::from_secs(3),
            init_timeout: Duration::from_secs(65),
            memory_mb: 128,
            env: Vec::new(),
            log_type_tail: true,
            deployment: Deployment::CodePackage,
            trigger_src: None,
        }
    }
}

impl FunctionConfig {
    /// The defaults for the package in `code_dir`.
    pub fn new(code_dir: impl Into<PathBuf>) -> FunctionConfig {
        FunctionConfig {
            code_dir: code_dir.into(),
            ..FunctionConfig::default()
        }
    }
}

/// Why a [`Function`] cannot be created: the package is not runnable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The code directory does not exist.
    #[error("code directory not found: {0}")]
    CodeDirNotFound(PathBuf),
    /// The code path exists but is not a directory.
    #[error("code path is not a directory: {0}")]
    CodeDirNotADirectory(PathBuf),
    /// There is no `bootstrap` at the package root.
    #[error(
        "Bootstrap not found: {0} does not exist; a custom runtime package needs an executable `bootstrap` at its root"
    )]
    BootstrapMissing(PathBuf),
    /// A web function's package has no `scf_bootstrap` at its root.
    #[error(
        "scf_bootstrap not found: {0} does not exist; a web function needs an executable `scf_bootstrap` at its root that starts an HTTP server on port 9000"
    )]
    WebBootstrapMissing(PathBuf),
    /// `bootstrap` is a directory or another non-file.
    #[error("Bootstrap not executable: {0} is not a regular file")]
    BootstrapNotAFile(PathBuf),
    /// `bootstrap` has no execute permission bit.
    #[error("Bootstrap not executable: {path} has mode {mode:03o}; run `chmod 755 {}`", file_name(.path))]
    BootstrapNotExecutable {
        /// The bootstrap's path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A user variable ([`FunctionConfig::env`]) starts with a reserved prefix; the message
    /// names it and the rule.
    #[error("{}", reserved_env_error(.0).unwrap_or_default())]
    ReservedVariable(String),
    /// The code directory could not be inspected.
    #[error("cannot inspect {path}: {source}")]
    Io {
        /// The path being inspected.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Everything the Invoke API reports about one invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeResult {
    /// The invocation's request id (also the `request_id` the bootstrap saw).
    pub function_request_id: String,
    /// The response body (lossy UTF-8; lossless for valid UTF-8); empty on failure.
    pub ret_msg: String,
    /// Empty on success; the posted error body for 430; a platform error JSON otherwise.
    pub err_msg: String,
    /// The last 4 KB of the framed log with `LogType=Tail`, else empty.
    pub log: String,
    /// Milliseconds from event delivery to the result (or the failure).
    pub duration_ms: f64,
    /// `ceil(duration_ms)`, at least 1.
    pub bill_duration_ms: u64,
    /// Peak RSS in bytes of the bootstrap's process tree during the invocation.
    pub mem_usage_bytes: u64,
    /// 0 on success, otherwise [`status_code`](Self::status_code).
    pub invoke_result: i64,
    /// 200, or the platform status code of the failure (406, 407, 430, 433, 439, 405, 450).
    pub status_code: u16,
    /// Whether this invocation started a new instance.
    pub cold_start: bool,
}

/// The last component of `path`, for messages.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// What [`Function::forward`] reports about one HTTP request to a web function.
#[derive(Debug, Clone, PartialEq)]
pub struct WebResult {
    /// The invocation as the Invoke API would report it: status 200 when the server answered
    /// (whatever its HTTP status), else the platform's failure (433 timeout, 439 exited, 450
    /// init timeout, 405 container exited, 407 answer too large, 430 a broken answer, 434
    /// memory) with its `ErrMsg`.
    pub result: InvokeResult,
    /// The server's answer, when it gave one.
    pub response: Option<WebResponse>,
}

/// A web function's answer, to be returned to the client as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers but the hop-by-hop ones (lower-case names, raw values, in order).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl InvokeResult {
    /// Whether the function succeeded (status 200).
    pub fn succeeded(&self) -> bool {
        self.status_code == STATUS_OK
    }

    /// The Invoke API response: `{"Response":{"Result":{..},"RequestId":".."}}`.
    ///
    /// `serde_json` maps sort their keys; use [`to_invoke_json_string`](Self::to_invoke_json_string)
    /// for the platform's key order.
    pub fn to_invoke_json(&self) -> serde_json::Value {
        json!({
            "Response": {
                "Result": {
                    "MemUsage": self.mem_usage_bytes,
                    "Log": self.log,
                    "RetMsg": self.ret_msg,
                    "BillDuration": self.bill_duration_ms,
                    "FunctionRequestId": self.function_request_id,
                    "Duration": self.duration_ms,
                    "ErrMsg": self.err_msg,
                    "InvokeResult": self.invoke_result,
                },
                "RequestId": self.function_request_id,
            }
        })
    }

    /// [`to_invoke_json`](Self::to_invoke_json) as one line, keys in the platform's order
    /// (MemUsage, Log, RetMsg, BillDuration, FunctionRequestId, Duration, ErrMsg, InvokeResult).
    pub fn to_invoke_json_string(&self) -> String {
        crate::invoke_json_line(&self.to_invoke_json()["Response"])
    }
}

/// The Invoke JSON line `scfrt invoke` prints, from an Invoke `Response` object: `Result`'s keys
/// in the platform's order (MemUsage, Log, RetMsg, BillDuration, FunctionRequestId, Duration,
/// ErrMsg, InvokeResult), then `RequestId`. Absent fields are written as the platform's zero
/// values.
pub fn invoke_json_line(response: &serde_json::Value) -> String {
    let result = response.get("Result");
    let field = |name: &str, zero: serde_json::Value| -> String {
        result
            .and_then(|r| r.get(name))
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(zero)
            .to_string()
    };
    let s = || serde_json::Value::from("");
    let n = || serde_json::Value::from(0);
    format!(
        r#"{{"Response":{{"Result":{{"MemUsage":{},"Log":{},"RetMsg":{},"BillDuration":{},"FunctionRequestId":{},"Duration":{},"ErrMsg":{},"InvokeResult":{}}},"RequestId":{}}}}}"#,
        field("MemUsage", n()),
        field("Log", s()),
        field("RetMsg", s()),
        field("BillDuration", n()),
        field("FunctionRequestId", s()),
        field("Duration", n()),
        field("ErrMsg", s()),
        field("InvokeResult", n()),
        response.get("RequestId").cloned().unwrap_or_else(s),
    )
}

/// A function with at most one warm instance.
///
/// Dropping it kills every process of the instance (however it detached) and reaps them.
pub struct Function {
    cfg: FunctionConfig,
    bootstrap: PathBuf,
    limits: Limits,
    hub: Arc<LogHub>,
    instance: Option<Instance>,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("cfg", &self.cfg)
            .field("warm_pid", &self.instance.as_ref().map(|i| i.pid))
            .finish_non_exhaustive()
    }
}

/// The instance exited without fetching the event ([`Function::run`]).
struct Undelivered;

/// How an invocation ended, before it becomes an [`InvokeResult`].
struct Ending {
    status: u16,
    ret: Vec<u8>,
    err_msg: String,
    duration: Duration,
    mem: u64,
}

impl Ending {
    /// The function's result (status 0).
    fn result(ret: Vec<u8>, duration: Duration, mem: u64) -> Ending {
        Ending {
            status: STATUS_OK,
            ret,
            err_msg: String::new(),
            duration,
            mem,
        }
    }

    /// The function's own error (430), `err_msg` as it reported it.
    fn user_error(err_msg: String, duration: Duration, mem: u64) -> Ending {
        Ending {
            status: STATUS_USER_ERROR,
            ret: Vec::new(),
            err_msg,
            duration,
            mem,
        }
    }
}

impl Function {
    /// Checks the configuration: no user variable starts with a reserved prefix, and
    /// `code_dir` is a directory holding an executable regular file `bootstrap`. The code
    /// directory is made absolute.
    pub fn new(cfg: FunctionConfig) -> Result<Function, EmulatorError> {
        let mut cfg = cfg;
        if let Some((name, _)) = cfg
            .env
            .iter()
            .find(|(k, _)| reserved_env_prefix(k).is_some())
        {
            return Err(EmulatorError::ReservedVariable(name.clone()));
        }
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| EmulatorError::Io { path, source }
        };
        match std::fs::metadata(&cfg.code_dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(EmulatorError::CodeDirNotADirectory(cfg.code_dir)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EmulatorError::CodeDirNotFound(cfg.code_dir));
            }
            Err(e) => return Err(io(&cfg.code_dir)(e)),
        }
        cfg.code_dir = std::fs::canonicalize(&cfg.code_dir).map_err(io(&cfg.code_dir))?;
        let web = cfg.deployment == Deployment::Web;
        let bootstrap = cfg
            .code_dir
            .join(if web { WEB_BOOTSTRAP } else { "bootstrap" });
        match std::fs::metadata(&bootstrap) {
            Ok(m) if !m.is_file() => return Err(EmulatorError::BootstrapNotAFile(bootstrap)),
            Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                return Err(EmulatorError::BootstrapNotExecutable {
                    mode: m.permissions().mode() & 0o7777,
                    path: bootstrap,
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && web => {
                return Err(EmulatorError::WebBootstrapMissing(bootstrap));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EmulatorError::BootstrapMissing(bootstrap));
            }
            Err(e) => return Err(io(&bootstrap)(e)),
        }
        Ok(Function {
            cfg,
            bootstrap,
            limits: Limits::default(),
            hub: Arc::new(LogHub::default()),
            instance: None,
        })
    }

    /// The configuration (with `code_dir` made absolute).
    pub fn config(&self) -> &FunctionConfig {
        &self.cfg
    }

    /// Changes the size limits (default 6 MiB each); a warm instance keeps its old ones until it
    /// is replaced.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Streams the framed log (START, the bootstrap's output as it arrives, END, Report) to
    /// `sink` as well; `None` stops streaming.
    pub fn set_log_stream(&mut self, sink: Option<Box<dyn Write + Send>>) {
        self.hub.set_stream(sink);
    }

    /// The process id (and process group id) of the warm instance's bootstrap, if any.
    pub fn warm_pid(&self) -> Option<u32> {
        self.instance
            .as_ref()
            .and_then(|i| u32::try_from(i.pid).ok())
    }

    /// Kills the warm instance, if any; the next invoke cold-starts.
    pub fn shutdown(&mut self) {
        if let Some(mut inst) = self.instance.take() {
            inst.teardown();
        }
    }

    /// The environment of the bootstrap (docs/environment.md has the table): the documented
    /// variables the user may override, the user's, then the platform's own.
    ///
    /// The one builder of the environment: `scfrt invoke` and `scfrt serve` (through
    /// [`Pool`](crate::pool::Pool)) both start bootstraps through [`Function`]. An image gets
    /// SCF's reduced set, plus `_HANDLER` (the ready-made bootstraps need it; in a real image
    /// the Dockerfile sets it) and the image-mode switch: the rest of its metadata comes with
    /// each event.
    fn environment(&self) -> Vec<(String, String)> {
        let code = self.cfg.code_dir.to_string_lossy().into_owned();
        let code_root = format!("{}/", code.trim_end_matches('/'));
        let home = std::env::var("HOME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| DOCUMENTED_HOME.to_owned());
        let mut env = Env::default();
        env.set("PATH", DOCUMENTED_PATH);
        env.set("HOME", &home);
        // A web function runs in the same standard environment as a code package.
        if self.cfg.deployment != Deployment::Image {
            let locale = locale();
            let caller_ld = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
            let mut ld_library_path = format!("{code}:/opt");
            if !caller_ld.is_empty() {
                ld_library_path.push(':');
                ld_library_path.push_str(&caller_ld);
            }
            env.set("LANG", locale);
            env.set("LC_ALL", locale);
            env.set("USER", DOCUMENTED_USER);
            env.set("LOGNAME", DOCUMENTED_USER);
            env.set("SHELL", "/bin/bash");
            env.set("PWD", &code);
            env.set("PYTHONPATH", &format!("{code}:/opt"));
            env.set("PYTHONDONTWRITEBYTECODE", "x");
            env.set(
                "NODE_PATH",
                &format!("{code}:{code}/node_modules:/opt:/opt/node_modules"),
            );
            env.set("LD_LIBRARY_PATH", &ld_library_path);
            env.set("_SCF_SERVER_PORT", "28902");
        }
        // The user's variables override the documented ones above; none of them can start
        // with a reserved prefix (`Function::new` refuses them).
        for (k, v) in &self.cfg.env {
            env.set(k, v);
        }
        env.set("_HANDLER", &self.cfg.handler);
        env.set("TENCENTCLOUD_RUNENV", "SCF");
        env.set("USER_CODE_ROOT", &code_root);
        env.set("SCF_FUNCTIONNAME", &self.cfg.function_name);
        env.set("SCF_FUNCTIONVERSION", &self.cfg.version);
        env.set("TENCENTCLOUD_REGION", REGION);
        env.set("TENCENTCLOUD_APPID", PLACEHOLDER_APPID);
        env.set("TENCENTCLOUD_UIN", PLACEHOLDER_UIN);
        if self.cfg.deployment == Deployment::Image {
            // USER is in SCF's reduced set for images; LOGNAME is not.
            env.set("USER", DOCUMENTED_USER);
            env.set(IMAGE_MODE_ENV, "image");
            // SCFRUNTIME_LISTEN is added per instance, once the port is known.
            return env.0;
        }
        if self.cfg.deployment == Deployment::CodePackage {
            env.set("SCF_RUNTIME_API", "127.0.0.1");
            env.set("SCF_RUNTIME", "CustomRuntime");
        }
        env.set("SCF_NAMESPACE", &self.cfg.namespace);
        env.set("TENCENTCLOUD_SECRETID", PLACEHOLDER_SECRET_ID);
        env.set("TENCENTCLOUD_SECRETKEY", PLACEHOLDER_SECRET_KEY);
        env.set("TENCENTCLOUD_SESSIONTOKEN", PLACEHOLDER_SESSION_TOKEN);
        env.set("TENCENTCLOUD_TZ", "UTC");
        if let Some(src) = &self.cfg.trigger_src {
            env.set("TRIGGER_SRC", src);
        }
        // SCF_RUNTIME_API_PORT (a web function: PORT) is added per instance, once the port is
        // known.
        env.0
    }

    /// The headers SCF sends an image function with each event: the same facts a code package
    /// finds in its environment.
    fn image_headers(&self, request_id: &str) -> Vec<(String, String)> {
        let timeout_ms = self.cfg.timeout.as_millis().to_string();
        let memory = self.cfg.memory_mb.to_string();
        let mut headers: Vec<(&str, &str)> = vec![
            ("X-Scf-Request-Id", request_id),
            ("X-Scf-Memory", &memory),
            ("X-Scf-Timeout", &timeout_ms),
            ("X-Scf-Version", &self.cfg.version),
            ("X-Scf-Name", &self.cfg.function_name),
            ("X-Scf-Namespace", &self.cfg.namespace),
            ("X-Scf-Region", REGION),
            ("X-Scf-Appid", PLACEHOLDER_APPID),
            ("X-Scf-Uin", PLACEHOLDER_UIN),
            ("X-Scf-Secret-Id", PLACEHOLDER_SECRET_ID),
            ("X-Scf-Secret-Key", PLACEHOLDER_SECRET_KEY),
            ("X-Scf-Session-Token", PLACEHOLDER_SESSION_TOKEN),
        ];
        if let Some(src) = &self.cfg.trigger_src {
            headers.push(("X-Scf-Trigger-Src", src));
        }
        headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Runs one event: cold-starts an instance if none is warm, delivers the event, and waits for
    /// the result. The instance stays warm after a success or a handler error; after a timeout, a
    /// crash or an oversized response it is killed, and the next invoke cold-starts.
    pub fn invoke(&mut self, event: &[u8]) -> InvokeResult {
        self.invoke_with_id(event, uuid::Uuid::new_v4().to_string())
    }

    /// [`invoke`](Self::invoke) with a request id chosen by the caller (an `Event` invocation
    /// hands its `FunctionRequestId` out before it runs).
    pub fn invoke_with_id(&mut self, event: &[u8], request_id: String) -> InvokeResult {
        let started = Instant::now();
        self.hub.begin(&request_id);
        let mut init_duration = None;
        let ending = self.run(event, &request_id, started, &mut init_duration);
        self.finish(request_id, ending, init_duration)
    }

    /// Passes one HTTP request to a web function ([`Deployment::Web`]): cold-starts an instance
    /// if none is warm (waiting up to the init timeout for its port), forwards the request with
    /// the `X-Scf-*` headers (as an image gets them, `X-Scf-Request-Id` being `request_id`) and
    /// waits up to the timeout for the answer, which is returned as it is. The log is framed
    /// as an invocation's (START, END, Report). After a timeout, an answer over the response
    /// limit or a broken one, or a closed connection, the instance is killed; an answer whose
    /// headers pass [`WEB_MAX_RESPONSE_HEADER_BYTES`] is a 407 failure without a response.
    /// docs/triggers.md, "Web functions", gives each rule and its source.
    pub fn forward(&mut self, request: &ForwardRequest, request_id: String) -> WebResult {
        self.hub.begin(&request_id);
        let mut init_duration = None;
        let mut response = None;
        let ending = self.run_web(request, &request_id, &mut init_duration, &mut response);
        let result = self.finish(request_id, ending, init_duration);
        WebResult { result, response }
    }

    fn run_web(
        &mut self,
        request: &ForwardRequest,
        request_id: &str,
        init_duration: &mut Option<Duration>,
        response: &mut Option<WebResponse>,
    ) -> Ending {
        if self.cfg.deployment != Deployment::Web {
            return platform_failure(
                STATUS_CONTAINER_EXITED,
                "not a web function: it takes events, not HTTP requests".to_owned(),
                Duration::ZERO,
            );
        }
        if self
            .instance
            .as_ref()
            .is_some_and(|i| i.exit_info().is_some())
        {
            self.shutdown();
        }
        if self.instance.is_none() {
            let init_started = Instant::now();
            let started = self.cold_start();
            *init_duration = Some(init_started.elapsed());
            if let Err(ending) = started {
                return ending;
            }
        }
        let headers = self.image_headers(request_id);
        let Some(inst) = self.instance.as_mut() else {
            unreachable!("cold_start leaves an instance");
        };
        let port = match &*inst.platform {
            Platform::Image(port) => Arc::clone(port),
            Platform::RuntimeApi(_) => unreachable!("a web function's instance has a port"),
        };
        let sampler = watch_memory(inst.tree(), self.cfg.memory_mb);
        let exchange = port.forward(
            request,
            &headers,
            self.cfg.timeout,
            self.limits.max_response_bytes,
        );
        let peak = sampler.finish();
        let mem = peak.bytes;
        let duration = exchange.duration();
        if let Some(used) = peak.over_limit {
            return self.memory_limit_reached(duration, mem, used);
        }
        let shown = format!("{} {}", request.method, request.target);
        match exchange.answer {
            Forwarded::Response {
                status,
                headers,
                body,
            } => {
                inst.flush_logs();
                let size: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
                if size > WEB_MAX_RESPONSE_HEADER_BYTES {
                    let message = format!(
                        "The size of response headers exceeds the upper limit (4KB): the \
                         function's HTTP server answered {shown} with {size} bytes of headers"
                    );
                    return Ending {
                        mem,
                        ..platform_failure(STATUS_RESPONSE_TOO_LARGE, message, duration)
                    };
                }
                *response = Some(WebResponse {
                    status,
                    headers,
                    body,
                });
                Ending::result(Vec::new(), duration, mem)
            }
            Forwarded::TooLarge { .. } => self.response_too_large(duration, mem),
            Forwarded::TimedOut => {
                self.kill_and_fail(STATUS_TIMEOUT, self.timeout_message(), duration, mem)
            }
            Forwarded::Closed(why) => {
                let message = format!(
                    "The function's HTTP server closed the connection without answering \
                     {shown}: {why}; the instance was killed"
                );
                self.kill_and_fail(STATUS_USER_ERROR, message, duration, mem)
            }
            Forwarded::Malformed(why) => {
                let message = format!(
                    "The function's HTTP server sent an invalid answer to {shown}: {why}; the \
                     instance was killed"
                );
                self.kill_and_fail(STATUS_USER_ERROR, message, duration, mem)
            }
            Forwarded::Aborted => self.exited_while_running(duration, mem),
        }
    }

    fn run(
        &mut self,
        event: &[u8],
        request_id: &str,
        started: Instant,
        init_duration: &mut Option<Duration>,
    ) -> Ending {
        if self.cfg.deployment == Deployment::Web {
            return platform_failure(
                STATUS_CONTAINER_EXITED,
                "a web function takes HTTP requests, not events: serve it with `scfrt start-api` \
                 (docs/triggers.md, \"Web functions\")"
                    .to_owned(),
                Duration::ZERO,
            );
        }
        // An image's server enforces the limit itself, and its refusal is what gets reported.
        if self.cfg.deployment == Deployment::CodePackage
            && event.len() > self.limits.max_event_bytes
        {
            return platform_failure(
                STATUS_REQUEST_TOO_LARGE,
                size_message("request", self.limits.max_event_bytes),
                Duration::ZERO,
            );
        }
        if self
            .instance
            .as_ref()
            .is_some_and(|i| i.exit_info().is_some())
        {
            // It exited between invocations: a warm instance no more.
            self.shutdown();
        }
        // A warm instance that exits before it fetches the event (a bootstrap that ends after
        // answering its last event, as Python's SystemExit does) never had it: the platform
        // gives the event to a new instance, and so does this, once.
        let warm = self.instance.is_some();
        match self.run_once(event, request_id, started, init_duration) {
            Err(Undelivered) if warm => {
                self.kill_instance();
                self.run_once(event, request_id, started, init_duration)
                    .unwrap_or_else(|Undelivered| self.exited_while_running(started.elapsed(), 0))
            }
            Err(Undelivered) => self.exited_while_running(started.elapsed(), 0),
            Ok(ending) => ending,
        }
    }

    /// [`run`](Self::run) on the warm instance or a new one; `Err` when the instance exited
    /// without fetching the event.
    fn run_once(
        &mut self,
        event: &[u8],
        request_id: &str,
        started: Instant,
        init_duration: &mut Option<Duration>,
    ) -> Result<Ending, Undelivered> {
        if self.instance.is_none() {
            let init_started = Instant::now();
            match self.cold_start() {
                Ok(()) => *init_duration = Some(init_started.elapsed()),
                Err(ending) => {
                    *init_duration = Some(init_started.elapsed());
                    return Ok(ending);
                }
            }
        }
        let Some(inst) = self.instance.as_mut() else {
            unreachable!("cold_start leaves an instance");
        };
        let api = match &*inst.platform {
            Platform::RuntimeApi(api) => Arc::clone(api),
            Platform::Image(port) => {
                let port = Arc::clone(port);
                return Ok(self.deliver_to_image(&port, event, request_id));
            }
        };
        let opts = InvokeOptions {
            request_id: request_id.to_owned(),
            memory_limit_mb: self.cfg.memory_mb,
            timeout: self.cfg.timeout,
        };
        let sampler = watch_memory(inst.tree(), self.cfg.memory_mb);
        let report = api.invoke_timed(event, &opts);
        let peak = sampler.finish();
        let mem = peak.bytes;
        let report = match report {
            Ok(r) => r,
            Err(InvokeError::EventTooLarge { limit, .. }) => {
                return Ok(platform_failure(
                    STATUS_REQUEST_TOO_LARGE,
                    size_message("request", limit),
                    Duration::ZERO,
                ));
            }
            Err(InvokeError::Busy) => unreachable!("&mut self allows one invocation at a time"),
        };
        // Without a delivery (the bootstrap never fetched the event) the failure's Duration
        // counts from the start of the invocation.
        let duration = if report.delivered_at.is_some() {
            report.duration()
        } else {
            report.finished_at.saturating_duration_since(started)
        };
        if let Some(used) = peak.over_limit {
            return Ok(self.memory_limit_reached(duration, mem, used));
        }
        if matches!(report.outcome, Outcome::Aborted) && report.delivered_at.is_none() {
            return Err(Undelivered);
        }
        Ok(match report.outcome {
            Outcome::Response(body) => {
                inst.flush_logs();
                Ending::result(body, duration, mem)
            }
            Outcome::Error(body) => {
                inst.flush_logs();
                Ending::user_error(String::from_utf8_lossy(&body).into_owned(), duration, mem)
            }
            Outcome::ResponseTooLarge { .. } => self.response_too_large(duration, mem),
            Outcome::TimedOut => {
                self.kill_and_fail(STATUS_TIMEOUT, self.timeout_message(), duration, mem)
            }
            Outcome::Aborted => self.exited_while_running(duration, mem),
        })
    }

    /// Posts the event to the warm image instance's server and turns its answer into an
    /// [`Ending`]: 2xx is a result, 413 the platform's 406 (request too large), any other status
    /// a function error (430) whose ErrMsg is the answer's body, as runtime-API mode reports
    /// the body posted to `/runtime/invocation/error`.
    fn deliver_to_image(&mut self, port: &ImagePort, event: &[u8], request_id: &str) -> Ending {
        let headers = self.image_headers(request_id);
        let Some(inst) = self.instance.as_mut() else {
            unreachable!("an image invocation runs on a warm instance");
        };
        let sampler = watch_memory(inst.tree(), self.cfg.memory_mb);
        let exchange = port.invoke(
            event,
            &headers,
            self.cfg.timeout,
            self.limits.max_response_bytes,
        );
        let peak = sampler.finish();
        let mem = peak.bytes;
        let duration = exchange.duration();
        if let Some(used) = peak.over_limit {
            return self.memory_limit_reached(duration, mem, used);
        }
        match exchange.answer {
            Answer::Status { status, body } => {
                inst.flush_logs();
                if (200..300).contains(&status) {
                    return Ending::result(body, duration, mem);
                }
                if status == 413 {
                    let message = format!(
                        "{}: the function's HTTP server refused the event ({} bytes) with HTTP \
                         413: {}",
                        size_message("request", self.limits.max_event_bytes),
                        event.len(),
                        server_message(&body)
                    );
                    return Ending {
                        mem,
                        ..platform_failure(STATUS_REQUEST_TOO_LARGE, message, duration)
                    };
                }
                let err_msg = if body.is_empty() {
                    platform_error_json(
                        STATUS_USER_ERROR,
                        &format!(
                            "the function's HTTP server answered HTTP {status} with an empty body"
                        ),
                    )
                } else {
                    String::from_utf8_lossy(&body).into_owned()
                };
                Ending::user_error(err_msg, duration, mem)
            }
            Answer::TooLarge { .. } => self.response_too_large(duration, mem),
            Answer::TimedOut => {
                self.kill_and_fail(STATUS_TIMEOUT, self.timeout_message(), duration, mem)
            }
            Answer::Closed(why) => {
                let message = format!(
                    "{} (the function's HTTP server closed the connection without answering: \
                     {why})",
                    self.timeout_message()
                );
                self.kill_and_fail(STATUS_TIMEOUT, message, duration, mem)
            }
            // The function's failure, as an answer with an error status is; its server is
            // broken, so the instance goes.
            Answer::Malformed(why) => {
                let message = format!(
                    "The function's HTTP server sent an invalid answer to POST {EVENT_INVOKE_PATH}: \
                     {why}; the instance was killed"
                );
                self.kill_and_fail(STATUS_USER_ERROR, message, duration, mem)
            }
            Answer::Aborted => self.exited_while_running(duration, mem),
        }
    }

    /// The platform's words for an invocation that ran out of time.
    fn timeout_message(&self) -> String {
        format!(
            "Invoking task timed out after {} seconds",
            seconds(self.cfg.timeout)
        )
    }

    /// The instance's processes passed the memory size and were killed: 434, whatever the
    /// invocation had answered.
    fn memory_limit_reached(&mut self, duration: Duration, mem: u64, used: u64) -> Ending {
        let message = memory_limit_message(used, self.cfg.memory_mb, "");
        self.kill_and_fail(STATUS_MEMORY_LIMIT, message, duration, mem)
    }

    /// A result over the response limit: 407, and the instance is killed.
    fn response_too_large(&mut self, duration: Duration, mem: u64) -> Ending {
        let message = size_message("response", self.limits.max_response_bytes);
        self.kill_and_fail(STATUS_RESPONSE_TOO_LARGE, message, duration, mem)
    }

    /// Kills the warm instance and ends the invocation with a platform failure; the memory
    /// reported is the larger of the sampled peak and the bootstrap's own ru_maxrss.
    fn kill_and_fail(
        &mut self,
        status: u16,
        message: String,
        duration: Duration,
        mem: u64,
    ) -> Ending {
        let mem = mem.max(self.kill_instance());
        Ending {
            mem,
            ..platform_failure(status, message, duration)
        }
    }

    /// The bootstrap exited while running the invocation: 439 with how it ended.
    fn exited_while_running(&mut self, duration: Duration, mem: u64) -> Ending {
        let exit = self.instance.as_mut().and_then(|i| i.teardown());
        self.instance = None;
        let how = exit.map_or_else(|| "unknown status".to_owned(), |e| e.describe());
        Ending {
            mem: mem.max(exit.map_or(0, |e| e.maxrss_bytes)),
            ..platform_failure(
                STATUS_PROCESS_EXITED,
                format!("User process exited when running: {how}"),
                duration,
            )
        }
    }

    /// Kills the warm instance; returns the bootstrap's ru_maxrss in bytes (0 if unknown).
    fn kill_instance(&mut self) -> u64 {
        let exit = self.instance.as_mut().and_then(|i| i.teardown());
        self.instance = None;
        exit.map_or(0, |e| e.maxrss_bytes)
    }

    /// Starts the bootstrap and waits for `/runtime/init/ready` (an image: for its port to open).
    fn cold_start(&mut self) -> Result<(), Ending> {
        let started = Instant::now();
        let mut env = self.environment();
        let (platform, port_9000) = match self.platform() {
            Ok((platform, var, port_9000)) => {
                env.push(var);
                (platform, port_9000)
            }
            Err(e) => {
                return Err(platform_failure(
                    STATUS_CONTAINER_EXITED,
                    format!("Bootstrap could not be started: cannot serve its platform side: {e}"),
                    started.elapsed(),
                ));
            }
        };
        let mut inst = match Instance::spawn(
            &self.bootstrap,
            &self.cfg.code_dir,
            &env,
            platform,
            &self.hub,
        ) {
            Ok(inst) => inst,
            Err(e) => {
                return Err(platform_failure(
                    STATUS_CONTAINER_EXITED,
                    format!(
                        "Bootstrap could not be started: {}: {e}",
                        self.bootstrap.display()
                    ),
                    started.elapsed(),
                ));
            }
        };
        let sampler = watch_memory(inst.tree(), self.cfg.memory_mb);
        let (waited, awaited) = match &*inst.platform {
            Platform::RuntimeApi(api) => (
                api.wait_ready(self.cfg.init_timeout),
                "calling /runtime/init/ready".to_owned(),
            ),
            Platform::Image(port) => {
                let tree = inst.tree();
                let owns = |port: u16| owns_listener(&tree.pids(), port);
                let awaited = match port.alternative() {
                    Some(alt) => format!("listening on {} or {alt}", port.listen_addr()),
                    None => format!("listening on {}", port.listen_addr()),
                };
                (
                    port.wait_listening_owned(self.cfg.init_timeout, &owns),
                    awaited,
                )
            }
        };
        // Why an image that listens on 9000 itself cannot run here, if it cannot.
        let port_note = match &*inst.platform {
            Platform::Image(port) if port.alternative_taken() => {
                Port9000::TakenWhileStarting.note(self.cfg.deployment)
            }
            Platform::Image(_) => port_9000.and_then(|p| p.note(self.cfg.deployment)),
            Platform::RuntimeApi(_) => None,
        };
        let peak = sampler.finish();
        if let Some(used) = peak.over_limit {
            let exit = inst.teardown();
            return Err(Ending {
                mem: peak.bytes.max(exit.map_or(0, |e| e.maxrss_bytes)),
                ..platform_failure(
                    STATUS_MEMORY_LIMIT,
                    memory_limit_message(used, self.cfg.memory_mb, " while initialising"),
                    started.elapsed(),
                )
            });
        }
        match waited {
            Ok(()) => {
                self.instance = Some(inst);
                Ok(())
            }
            Err(WaitError::TimedOut) => {
                let elapsed = started.elapsed();
                let message = match &*inst.platform {
                    Platform::RuntimeApi(_) => format!(
                        "Init timeout after {} seconds: the bootstrap did not call /runtime/init/ready",
                        seconds(self.cfg.init_timeout)
                    ),
                    // A web function: 9000 is the port it is told of; $PORT the one scfrt adds.
                    Platform::Image(port) if self.cfg.deployment == Deployment::Web => format!(
                        "The request timed out in {}ms. Please confirm your http server have \
                         enabled listening on port 9000 (scfrt also accepted {}={}, the port \
                         in ${}).{}",
                        self.cfg.init_timeout.as_millis(),
                        WEB_PORT_ENV,
                        port.listen_addr().port(),
                        WEB_PORT_ENV,
                        port_note
                            .as_deref()
                            .map(|n| format!(" {n}"))
                            .unwrap_or_default()
                    ),
                    // The platform's own words, with the port the bootstrap was told to use
                    // (port 9000 was watched too, when it was free).
                    Platform::Image(port) => format!(
                        "The request timed out in {}ms. Please confirm your http server have \
                         enabled listening on port {} (scfrt set {}={}; on SCF it is 9000).{}",
                        self.cfg.init_timeout.as_millis(),
                        port.listen_addr().port(),
                        IMAGE_LISTEN_ENV,
                        port.listen_addr(),
                        port_note
                            .as_deref()
                            .map(|n| format!(" {n}"))
                            .unwrap_or_default()
                    ),
                };
                let exit = inst.teardown();
                Err(Ending {
                    mem: exit.map_or(0, |e| e.maxrss_bytes),
                    ..platform_failure(STATUS_INIT_TIMEOUT, message, elapsed)
                })
            }
            Err(WaitError::Aborted) => {
                let elapsed = started.elapsed();
                let exit = inst.teardown();
                let how = exit.map_or_else(|| "unknown status".to_owned(), |e| e.describe());
                let tail = self.hub.stderr_tail();
                let mut msg = format!(
                    "Container exited before init ready: the bootstrap exited ({how}) before {awaited}"
                );
                if !tail.is_empty() {
                    msg.push_str("; stderr: ");
                    msg.push_str(&tail);
                }
                if let Some(note) = port_note {
                    msg.push_str(if msg.ends_with(['.', '\n']) {
                        " "
                    } else {
                        ". "
                    });
                    msg.push_str(&note);
                }
                Err(Ending {
                    mem: exit.map_or(0, |e| e.maxrss_bytes),
                    ..platform_failure(STATUS_CONTAINER_EXITED, msg, elapsed)
                })
            }
        }
    }

    /// A new instance's platform side, the variable that tells the bootstrap where it is, and
    /// (an image) whether port 9000 was free for it.
    fn platform(&self) -> std::io::Result<(Platform, (String, String), Option<Port9000>)> {
        match self.cfg.deployment {
            Deployment::CodePackage => {
                let api = RuntimeApi::start(self.limits)?;
                let var = ("SCF_RUNTIME_API_PORT".into(), api.port().to_string());
                Ok((Platform::RuntimeApi(Arc::new(api)), var, None))
            }
            Deployment::Image | Deployment::Web => {
                // A port free now, for a bootstrap that honours SCFRUNTIME_LISTEN (a web
                // function: PORT).
                let probe = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, probe.local_addr()?.port()));
                drop(probe);
                let var = if self.cfg.deployment == Deployment::Web {
                    (WEB_PORT_ENV.into(), addr.port().to_string())
                } else {
                    (IMAGE_LISTEN_ENV.into(), addr.to_string())
                };
                // One built for SCF listens on 0.0.0.0:9000 whatever it is told: watched too
                // when nothing listens there now (read from /proc, not probed by binding it,
                // which could make a server starting at the same moment fail to bind).
                let port_9000 = Port9000::now();
                let port = match port_9000 {
                    Port9000::Free => ImagePort::with_alternative(
                        addr,
                        SocketAddr::from((Ipv4Addr::LOCALHOST, SCF_IMAGE_PORT)),
                    ),
                    _ => ImagePort::new(addr),
                };
                Ok((Platform::Image(Arc::new(port)), var, Some(port_9000)))
            }
        }
    }

    fn finish(
        &mut self,
        request_id: String,
        ending: Ending,
        init_duration: Option<Duration>,
    ) -> InvokeResult {
        let duration_ms = (ending.duration.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0;
        let bill_duration_ms = (duration_ms.ceil() as u64).max(1);
        self.hub.line(&format!("END RequestId: {request_id}"));
        self.hub.line(&format!(
            "Report RequestId: {request_id} Duration:{duration_ms:.3}ms Memory:{}MB MemUsage:{:.6}MB",
            self.cfg.memory_mb,
            ending.mem as f64 / (1024.0 * 1024.0)
        ));
        if let Some(init) = init_duration {
            self.hub.line(&format!(
                "Init Report RequestId: {request_id} InitDuration: {:.3}ms",
                init.as_secs_f64() * 1000.0
            ));
        }
        let framed = self.hub.take();
        let log = if self.cfg.log_type_tail {
            tail_utf8(&framed, LOG_TAIL_BYTES)
        } else {
            String::new()
        };
        InvokeResult {
            function_request_id: request_id,
            ret_msg: String::from_utf8_lossy(&ending.ret).into_owned(),
            err_msg: ending.err_msg,
            log,
            duration_ms,
            bill_duration_ms,
            mem_usage_bytes: ending.mem,
            invoke_result: if ending.status == STATUS_OK {
                0
            } else {
                i64::from(ending.status)
            },
            status_code: ending.status,
            cold_start: init_duration.is_some(),
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Whether an image instance could listen on SCF's port 9000 when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port9000 {
    /// Nothing listened there: scfrt watches it too.
    Free,
    /// Another process listened there.
    InUse,
    /// The listening sockets could not be read from /proc.
    Unknown,
    /// It was free, but a process that is not the function's started listening there while
    /// the instance started.
    TakenWhileStarting,
}

impl Port9000 {
    /// Port 9000 now.
    fn now() -> Port9000 {
        match listening_socket_inodes(SCF_IMAGE_PORT) {
            Ok(inodes) if inodes.is_empty() => Port9000::Free,
            Ok(_) => Port9000::InUse,
            Err(_) => Port9000::Unknown,
        }
    }

    /// What to tell the user when the instance did not start: why a server that listens on
    /// 9000 itself cannot run here, and what to do.
    fn note(self, deployment: Deployment) -> Option<String> {
        let (what, again, honour) = if deployment == Deployment::Web {
            (
                "a web function",
                "start it again",
                "a server that listens on $PORT runs either way",
            )
        } else {
            (
                "an image",
                "invoke again",
                "a server that listens on $SCFRUNTIME_LISTEN runs either way",
            )
        };
        match self {
            Port9000::Free => None,
            Port9000::InUse => Some(format!(
                "Port 9000 was in use by another process when the instance started, so \
                 {what} whose server listens on 9000 itself cannot run here: stop that process \
                 (`ss -ltnp 'sport = :9000'` names it) and {again}; {honour}."
            )),
            Port9000::Unknown => Some(format!(
                "scfrt could not read /proc/net/tcp to see whether port 9000 was free, so it \
                 did not watch port 9000; {honour}."
            )),
            Port9000::TakenWhileStarting => Some(format!(
                "Port 9000 was taken by another process (not the function's) while the \
                 instance started, so {what} whose server listens on 9000 itself cannot run \
                 here: stop that process (`ss -ltnp 'sport = :9000'` names it) and {again}; \
                 {honour}."
            )),
        }
    }
}

/// Whether one of `pids` holds a socket listening on `port`.
fn owns_listener(pids: &[i32], port: u16) -> bool {
    let Ok(inodes) = listening_socket_inodes(port) else {
        return false;
    };
    pids.iter().any(|pid| process_holds_socket(*pid, &inodes))
}

/// The 434 message: `mem` bytes used `when` (empty, or e.g. " while initialising"), over a memory
/// size of `memory_mb`.
fn memory_limit_message(mem: u64, memory_mb: u32, when: &str) -> String {
    format!(
        "Memory limit reached: the function's processes used {:.1} MB of resident memory{when}, \
         more than its memory size of {memory_mb} MB; the instance was killed",
        mem as f64 / (1024.0 * 1024.0),
    )
}

/// A memory size in bytes: the most resident memory an instance's processes may use.
/// Samples an instance's memory every [`MEM_SAMPLE_INTERVAL`] against its memory size.
fn watch_memory(tree: process::Tree, memory_mb: u32) -> Sampler {
    Sampler::start(tree, MEM_SAMPLE_INTERVAL, Some(memory_bytes(memory_mb)))
}

fn memory_bytes(memory_mb: u32) -> u64 {
    u64::from(memory_mb) * 1024 * 1024
}

/// A failure reported by the platform itself (not by the handler).
fn platform_failure(status: u16, message: String, duration: Duration) -> Ending {
    Ending {
        status,
        ret: Vec::new(),
        err_msg: platform_error_json(status, &message),
        duration,
        mem: 0,
    }
}

/// What an image function's server said when it refused an event: the `errorMessage` of its
/// error JSON, else its body as text (at most 512 bytes).
fn server_message(body: &[u8]) -> String {
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    if let Some(msg) = parsed
        .as_ref()
        .and_then(|v| v.get("errorMessage"))
        .and_then(|m| m.as_str())
    {
        return msg.to_owned();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
    if text.trim().is_empty() {
        "(empty body)".to_owned()
    } else {
        text.trim().to_owned()
    }
}

/// `{"errorCode":-1,"errorMessage":"<message>","statusCode":<status>}`.
pub fn platform_error_json(status: u16, message: &str) -> String {
    format!(
        r#"{{"errorCode":-1,"errorMessage":{},"statusCode":{status}}}"#,
        serde_json::Value::from(message)
    )
}

fn size_message(what: &str, limit: usize) -> String {
    if what == "response" && limit == Limits::default().max_response_bytes {
        return RESPONSE_TOO_LARGE_MESSAGE.to_owned();
    }
    const MIB: usize = 1024 * 1024;
    if limit.is_multiple_of(MIB) {
        format!(
            "The size of {what} exceeds the upper limit ({}MB)",
            limit / MIB
        )
    } else {
        format!("The size of {what} exceeds the upper limit ({limit} bytes)")
    }
}

/// "3" for whole seconds, "1.5" otherwise.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}", d.as_secs_f64())
    }
}

/// The last at most `max` bytes of `bytes` as UTF-8, starting on a character boundary.
fn tail_utf8(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_line_order() {
        let v: serde_json::Value = serde_json::from_str(
            r#"{"Result":{"InvokeResult":0,"ErrMsg":"","RetMsg":"hi","Duration":1.5,"BillDuration":2,"MemUsage":3,"Log":"l","FunctionRequestId":"f"},"RequestId":"r"}"#,
        )
        .unwrap();
        assert_eq!(
            invoke_json_line(&v),
            r#"{"Response":{"Result":{"MemUsage":3,"Log":"l","RetMsg":"hi","BillDuration":2,"FunctionRequestId":"f","Duration":1.5,"ErrMsg":"","InvokeResult":0},"RequestId":"r"}}"#
        );
    }

    #[test]
    fn tail_respects_char_boundaries() {
        let s = "é".repeat(10); // 20 bytes
        assert_eq!(tail_utf8(s.as_bytes(), 5), "éé");
        assert_eq!(tail_utf8(b"abc", 10), "abc");
    }

    #[test]
    fn seconds_formatting() {
        assert_eq!(seconds(Duration::from_secs(3)), "3");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.5");
    }

    #[test]
    fn error_json_shape() {
        let v: serde_json::Value =
            serde_json::from_str(&platform_error_json(433, "a \"quoted\" é")).unwrap();
        assert_eq!(v["errorCode"], -1);
        assert_eq!(v["errorMessage"], "a \"quoted\" é");
        assert_eq!(v["statusCode"], 433);
    }

    #[test]
    fn invoke_json_key_order() {
        let r = InvokeResult {
            function_request_id: "id".into(),
            ret_msg: "r".into(),
            err_msg: String::new(),
            log: "l".into(),
            duration_ms: 1.5,
            bill_duration_ms: 2,
            mem_usage_bytes: 7,
            invoke_result: 0,
            status_code: 200,
            cold_start: true,
        };
        assert_eq!(
            r.to_invoke_json_string(),
            r#"{"Response":{"Result":{"MemUsage":7,"Log":"l","RetMsg":"r","BillDuration":2,"FunctionRequestId":"id","Duration":1.5,"ErrMsg":"","InvokeResult":0},"RequestId":"id"}}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&r.to_invoke_json_string()).unwrap();
        assert_eq!(parsed, r.to_invoke_json());
    }
}
