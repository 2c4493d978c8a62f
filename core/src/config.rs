//! The function's environment, as SCF sets it for a custom runtime (docs/platform.md section
//! 2), and the choice between the two ways invocations arrive: the runtime API (code packages)
//! or an HTTP server on port 9000 (image-deployed functions, docs/platform.md section 6).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, FunctionMetadata, Result, RetryPolicy};

/// The environment variable that selects image mode: `SCFRUNTIME_MODE=image`.
///
/// Read only when `SCF_RUNTIME_API` is absent: SCF sets that variable for code packages, and then
/// the runtime API is used whatever this says. Values: `image`, or `runtime-api` (the default).
pub const MODE_ENV: &str = "SCFRUNTIME_MODE";

/// The environment variable with image mode's listening address, `host:port` (or only a port,
/// on all interfaces). Default [`DEFAULT_LISTEN`].
pub const LISTEN_ENV: &str = "SCFRUNTIME_LISTEN";

/// Where an image-deployed function's server listens unless [`LISTEN_ENV`] says otherwise: SCF
/// connects to port 9000 and requires `0.0.0.0` (or `*`), not the loopback address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9000";

/// The environment variable with the runtime API's retry budget in milliseconds: how long
/// `ready` and `next` may keep failing in a row before the runtime gives up
/// ([`RetryPolicy::give_up_after`]; default 60000).
pub const RETRY_BUDGET_ENV: &str = "SCFRUNTIME_RETRY_BUDGET_MS";

/// The largest event body image mode accepts: the platform's 6 MB limit for synchronous events.
pub const IMAGE_MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// How invocations reach the runtime.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// A code-package custom runtime: long-poll the SCF runtime API at
    /// `SCF_RUNTIME_API:SCF_RUNTIME_API_PORT` (docs/platform.md section 1).
    #[default]
    RuntimeApi,
    /// An image-deployed function: serve `POST /event-invoke` on an HTTP server
    /// (docs/platform.md section 6). Selected by `SCFRUNTIME_MODE=image` without
    /// `SCF_RUNTIME_API`.
    Image(ImageConfig),
}

/// Image mode's server settings: where it listens, its read timeouts and its bounds.
///
/// [`ImageConfig::new`] gives the defaults; change the public fields to tune them (tests use short
/// timeouts and `127.0.0.1:0`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageConfig {
    /// The listening address; port 0 picks a free port (see `ImageServer::local_addr`).
    pub listen: SocketAddr,
    /// How long a client may take to send a request's headers, counted from the moment the
    /// server starts reading them (for a new connection: when it is accepted; for a kept-alive
    /// one: when the previous response was sent). Past it the connection is closed. Default 30 s.
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's whole body once its headers are in. Past
    /// it the request is answered 408 and the connection closed. Default 30 s.
    pub body_read_timeout: Duration,
    /// The largest event body; a larger `Content-Length` is refused with 413 before any of the
    /// body is read, a chunked body as soon as it grows past it. Default
    /// [`IMAGE_MAX_EVENT_BYTES`] (6 MB).
    pub max_event_bytes: usize,
    /// How many requests may wait for their turn while another event runs; more are refused
    /// with 503. A waiting request is also refused once its own time limit (`X-Scf-Timeout`)
    /// has run out. SCF sends an instance one event at a time, so a queue is the exception;
    /// each waiting request holds its body (up to 6 MB). Default 8.
    pub max_waiting: usize,
    /// How many connections are served at once; more wait in the listen backlog. Bodies are
    /// read on all of them concurrently, so this also bounds the memory they take (at most
    /// this many times `max_event_bytes`). Default 32.
    pub max_connections: usize,
}

impl ImageConfig {
    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> ImageConfig {
        ImageConfig {
            listen,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            max_event_bytes: IMAGE_MAX_EVENT_BYTES,
            max_waiting: 8,
            max_connections: 32,
        }
    }
}

/// Parse [`LISTEN_ENV`]: `host:port`, `[v6]:port`, or a bare port meaning all IPv4 interfaces.
fn parse_listen(value: &str) -> Option<SocketAddr> {
    let value = value.trim();
    if let Ok(port) = value.parse::<u16>() {
        return Some(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    let value = value
        .strip_prefix("*:")
        .map_or_else(|| value.to_string(), |port| format!("0.0.0.0:{port}"));
    value.parse().ok()
}

/// Everything SCF tells a custom runtime through its environment.
///
/// Only the runtime API address is required; the rest is optional because some regions were
/// seen without the `TENCENTCLOUD_*` values. The `Debug` output hides the credentials.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// `SCF_RUNTIME_API`: host of the runtime API.
    pub runtime_api: String,
    /// `SCF_RUNTIME_API_PORT`: port of the runtime API.
    pub runtime_api_port: u16,
    /// `_HANDLER`: the handler string the function was configured with, e.g. `index.main_handler`.
    pub handler: Option<String>,
    /// `SCF_RUNTIME`, e.g. `CustomRuntime`.
    pub runtime: Option<String>,
    /// The function's identity, account, temporary role credentials and trigger source:
    /// `SCF_FUNCTIONNAME`, `SCF_FUNCTIONVERSION`, `SCF_NAMESPACE`, `TENCENTCLOUD_REGION`,
    /// `TENCENTCLOUD_APPID`, `TENCENTCLOUD_UIN`, `TENCENTCLOUD_SECRETID`,
    /// `TENCENTCLOUD_SECRETKEY`, `TENCENTCLOUD_SESSIONTOKEN` and `TRIGGER_SRC`
    /// ([`METADATA_FIELDS`](crate::METADATA_FIELDS)). In image mode each event brings its own
    /// (`Invocation::metadata`), and these are what the environment held, usually nothing.
    pub metadata: FunctionMetadata,
    /// `TENCENTCLOUD_RUNENV`, `SCF` on the platform.
    pub run_env: Option<String>,
    /// `USER_CODE_ROOT`, `/var/user/` on the platform.
    pub user_code_root: Option<PathBuf>,
    /// How invocations arrive: the runtime API (`runtime_api` and `runtime_api_port` are set) or
    /// image mode's server (they are empty and 0).
    pub mode: Mode,
    /// How the runtime API's `ready` and `next` retry; its budget comes from
    /// `SCFRUNTIME_RETRY_BUDGET_MS` ([`RETRY_BUDGET_ENV`]), default 60 s.
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("runtime_api", &self.runtime_api)
            .field("runtime_api_port", &self.runtime_api_port)
            .field("handler", &self.handler)
            .field("runtime", &self.runtime)
            .field("metadata", &self.metadata)
            .field("run_env", &self.run_env)
            .field("user_code_root", &self.user_code_root)
            .field("mode", &self.mode)
            .field("retry", &self.retry)
            .finish()
    }
}

impl Config {
    /// Read the configuration from the process environment.
    ///
    /// With `SCF_RUNTIME_API` set (SCF does so for code packages) the runtime API is used. Without
    /// it, `SCFRUNTIME_MODE=image` selects image mode, listening on `SCFRUNTIME_LISTEN` (default
    /// `0.0.0.0:9000`); the function metadata then arrives with each event in its `X-Scf-*`
    /// headers, and only `_HANDLER` and the other optional variables are read from here.
    ///
    /// # Errors
    ///
    /// [`Error::MissingEnv`] when `SCF_RUNTIME_API` or `SCF_RUNTIME_API_PORT` is unset outside
    /// image mode, and [`Error::InvalidEnv`] when the host is empty, the port is not a number in
    /// 1..=65535, `SCFRUNTIME_MODE` is neither `image` nor `runtime-api`, or `SCFRUNTIME_LISTEN`
    /// is not an address with a port.
    pub fn from_env() -> Result<Config> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the configuration through `lookup`, which returns a variable's value by name.
    ///
    /// This is [`Config::from_env`] without the process environment, for tests and embedders.
    ///
    /// # Errors
    ///
    /// As [`Config::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config> {
        // An empty optional variable means the same as an unset one.
        let opt = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let image = match lookup(MODE_ENV) {
            None => false,
            Some(v) if v.trim().is_empty() || v.trim().eq_ignore_ascii_case("runtime-api") => false,
            Some(v) if v.trim().eq_ignore_ascii_case("image") => true,
            Some(v) => {
                return Err(Error::InvalidEnv {
                    name: MODE_ENV,
                    value: v,
                    reason: "expected `image` (serve POST /event-invoke, for image-deployed \
                             functions) or `runtime-api` (the default)",
                });
            }
        };
        let mut retry = RetryPolicy::default();
        // Empty means unset, as for the other optional variables.
        if let Some(v) = lookup(RETRY_BUDGET_ENV).filter(|v| !v.trim().is_empty()) {
            match v.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => retry.give_up_after = Duration::from_millis(ms),
                _ => {
                    return Err(Error::InvalidEnv {
                        name: RETRY_BUDGET_ENV,
                        value: v,
                        reason: "expected a whole number of milliseconds above 0, such as 60000",
                    });
                }
            }
        }
        let metadata = || Config {
            retry,
            handler: opt("_HANDLER"),
            runtime: opt("SCF_RUNTIME"),
            metadata: FunctionMetadata::from_env(|name| opt(name)),
            run_env: opt("TENCENTCLOUD_RUNENV"),
            user_code_root: opt("USER_CODE_ROOT").map(PathBuf::from),
            ..Config::default()
        };
        if image && lookup("SCF_RUNTIME_API").is_none() {
            if !cfg!(feature = "image") {
                return Err(Error::InvalidEnv {
                    name: MODE_ENV,
                    value: "image".into(),
                    reason: "this program was built without scf-core's `image` feature (on by \
                             default), so it cannot serve POST /event-invoke",
                });
            }
            let listen_text = lookup(LISTEN_ENV).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
            let Some(listen) = parse_listen(&listen_text) else {
                return Err(Error::InvalidEnv {
                    name: LISTEN_ENV,
                    value: listen_text,
                    reason: "expected an IP address and port such as 0.0.0.0:9000 or \
                             127.0.0.1:9000, [::]:9000, or only a port",
                });
            };
            return Ok(Config {
                mode: Mode::Image(ImageConfig::new(listen)),
                ..metadata()
            });
        }
        let runtime_api = lookup("SCF_RUNTIME_API").ok_or(Error::MissingEnv {
            name: "SCF_RUNTIME_API",
            hint: "SCF sets it to the runtime API host; run the bootstrap under SCF or `scfrt invoke` \
                   (for an image-deployed function, set SCFRUNTIME_MODE=image instead)",
        })?;
        if runtime_api.trim().is_empty() || runtime_api.contains(['/', ' ']) {
            return Err(Error::InvalidEnv {
                name: "SCF_RUNTIME_API",
                value: runtime_api,
                reason: "expected a host name or IP address, such as 127.0.0.1",
            });
        }
        let port_text = lookup("SCF_RUNTIME_API_PORT").ok_or(Error::MissingEnv {
            name: "SCF_RUNTIME_API_PORT",
            hint: "SCF sets it to the runtime API port; run the bootstrap under SCF or `scfrt invoke`",
        })?;
        let runtime_api_port = match port_text.trim().parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => {
                return Err(Error::InvalidEnv {
                    name: "SCF_RUNTIME_API_PORT",
                    value: port_text,
                    reason: "expected a port number from 1 to 65535",
                });
            }
        };
        Ok(Config {
            runtime_api,
            runtime_api_port,
            ..metadata()
        })
    }

    /// A configuration that talks to the runtime API at `host:port`, with nothing else set.
    pub fn for_endpoint(host: impl Into<String>, port: u16) -> Config {
        Config {
            runtime_api: host.into(),
            runtime_api_port: port,
            ..Config::default()
        }
    }

    /// A configuration for image mode with `image`'s server settings, with nothing else set.
    ///
    /// This is how a program chooses image mode explicitly, whatever the environment says:
    /// `Runtime::new(Config::for_image(ImageConfig::new(addr)))`.
    pub fn for_image(image: ImageConfig) -> Config {
        Config {
            mode: Mode::Image(image),
            ..Config::default()
        }
    }

    /// Whether invocations arrive through image mode's server (see [`Mode`]).
    pub fn is_image(&self) -> bool {
        matches!(self.mode, Mode::Image(_))
    }

    /// `http://host:port`, with an IPv6 literal put in brackets.
    pub fn base_url(&self) -> String {
        let host = &self.runtime_api;
        if host.contains(':') && !host.starts_with('[') {
            format!("http://[{host}]:{}", self.runtime_api_port)
        } else {
            format!("http://{host}:{}", self.runtime_api_port)
        }
    }
}
