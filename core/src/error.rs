//! The one error type of the crate and the handler's error report.

use std::time::Duration;

use serde::Serialize;

/// A specialised `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between the runtime and the SCF runtime API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable the runtime needs is not set (or not valid UTF-8).
    ///
    /// Happens in [`Config::from_env`](crate::Config::from_env) for `SCF_RUNTIME_API` and
    /// `SCF_RUNTIME_API_PORT`, which SCF always sets for a custom runtime.
    #[error("environment variable {name} is not set; {hint}")]
    MissingEnv {
        /// The variable's name.
        name: &'static str,
        /// What the variable should contain.
        hint: &'static str,
    },

    /// An environment variable is set but its value cannot be used.
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    InvalidEnv {
        /// The variable's name.
        name: &'static str,
        /// The value found.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// No connection to the runtime API could be opened: the request was not sent.
    ///
    /// For `next` and `ready` this is reported only after the retries of the
    /// [`RetryPolicy`](crate::RetryPolicy) are used up; posts are retried too, since the
    /// platform cannot have read them.
    #[error("runtime API {endpoint}: cannot connect: {source}")]
    Connect {
        /// The endpoint path, e.g. `/runtime/invocation/next`.
        endpoint: &'static str,
        /// The connect error (e.g. connection refused).
        #[source]
        source: std::io::Error,
    },

    /// The connection broke mid-request or the answer was not valid HTTP.
    ///
    /// `next` and `ready` retry it; a post is not re-sent, since the platform may have read it.
    #[error("runtime API {endpoint} failed: {source}")]
    Transport {
        /// The endpoint path, e.g. `/runtime/invocation/next`.
        endpoint: &'static str,
        /// The I/O error; `InvalidData` for a malformed answer.
        #[source]
        source: std::io::Error,
    },

    /// The runtime API answered with a status other than 2xx.
    #[error("runtime API {endpoint} answered HTTP {status}: {body}")]
    Status {
        /// The endpoint path.
        endpoint: &'static str,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, as text, for the log.
        body: String,
    },

    /// `next` delivered an event the runtime cannot turn into an [`Invocation`](crate::Invocation):
    /// a missing or malformed `memory_limit_in_mb` / `time_limit_in_ms` header, or a body over
    /// the size limit (whatever its framing).
    ///
    /// The loop reports it to `/runtime/invocation/error` with its request id and goes on. An
    /// answer without a request id is no event at all (a 204, or a 200 without `request_id`):
    /// that is a transport fault, retried with backoff, never posted.
    #[error("invalid event {request_id:?} from {endpoint}: {reason}")]
    InvalidEvent {
        /// Always `/runtime/invocation/next`.
        endpoint: &'static str,
        /// What was wrong.
        reason: String,
        /// The event's request id (never empty).
        request_id: String,
    },

    /// The runtime API's answer broke one of the client's limits: more than 64 headers, or a
    /// head over 64 KB. Retried a few times (one corrupted answer recovers), then reported
    /// rather than retried for the whole budget, since a server that keeps sending such answers
    /// does not speak the protocol.
    #[error("runtime API {endpoint}: {reason}")]
    Protocol {
        /// The endpoint path.
        endpoint: &'static str,
        /// What was wrong.
        reason: String,
    },

    /// The init hook failed. Ready was not sent; the process should exit non-zero.
    #[error("init failed: {0}")]
    Init(ErrorReport),

    /// A [`Transport`](crate::Transport) was used with a configuration that names no runtime
    /// API: image mode (`SCFRUNTIME_MODE=image` without `SCF_RUNTIME_API`), whose invocations
    /// arrive through [`Source`](crate::Source)'s HTTP server instead.
    #[error(
        "runtime API {endpoint}: there is no runtime API in image mode (SCFRUNTIME_MODE=image \
         without SCF_RUNTIME_API); events arrive as POST /event-invoke: serve them with \
         scf_core::Runtime or scf_core::Source (scf-core's `image` feature)"
    )]
    NoRuntimeApi {
        /// The endpoint path that was called.
        endpoint: &'static str,
    },

    /// Image mode: the HTTP server could not listen on its address (in use, not local, no
    /// permission), or its thread could not be started. Happens in `ready`.
    #[error(
        "image mode: cannot listen on {addr}: {source}; choose another address with \
         SCFRUNTIME_LISTEN (SCF connects to 0.0.0.0:9000)"
    )]
    Listen {
        /// The address from the configuration.
        addr: String,
        /// The bind (or thread start) error.
        #[source]
        source: std::io::Error,
    },

    /// Image mode: a result could not be handed to its request, because no invocation was in
    /// progress (`respond`/`fail` without `next`, or twice) or because the client closed the
    /// connection before the result was ready. Like a refused post in runtime-API mode, the
    /// loop logs it and goes on.
    #[error("image mode: the result of request {request_id:?} was not delivered: {reason}")]
    ResultNotDelivered {
        /// The invocation's request id, when there was one.
        request_id: Option<String>,
        /// Why not.
        reason: &'static str,
    },

    /// Image mode: the server was shut down (`shutdown`, or the end of `Runtime::run`), so no
    /// further event will arrive.
    #[error("image mode: the event server was shut down")]
    ServerStopped,

    /// `next` kept failing for longer than the retry policy allows.
    #[error(
        "runtime API {endpoint} unavailable after {attempts} attempts over {elapsed:?}: {last}"
    )]
    RetriesExhausted {
        /// The endpoint path.
        endpoint: &'static str,
        /// How many attempts failed in a row.
        attempts: u32,
        /// How long the runtime API had been failing: from the first of those failures (an
        /// attempt that was held open for a long time, like an idle long poll, does not count
        /// its wait).
        elapsed: Duration,
        /// The last error seen.
        last: Box<Error>,
    },
}

/// What a handler returns when it fails; posted to `/runtime/invocation/error` as JSON.
///
/// Serialised as `{"errorType","errorMessage","stackTrace":[..],"requestId"}` with UTF-8 kept
/// as is (no `\u` escapes for non-ASCII text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorReport {
    /// The kind of failure, e.g. an exception's qualified class name.
    pub error_type: String,
    /// A human-readable message.
    pub error_message: String,
    /// Stack frames or traceback lines, outermost first; may be empty.
    pub stack_trace: Vec<String>,
}

impl ErrorReport {
    /// A report with a type and a message and no stack trace.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        ErrorReport {
            error_type: error_type.into(),
            error_message: error_message.into(),
            stack_trace: Vec::new(),
        }
    }

    /// The report posted instead of a response of `len` bytes, over [`MAX_RESPONSE_BYTES`]
    /// (the platform's 6 MB limit); every binding sends the same words.
    ///
    /// [`MAX_RESPONSE_BYTES`]: crate::MAX_RESPONSE_BYTES
    pub fn response_too_large(len: usize) -> Self {
        let max = crate::MAX_RESPONSE_BYTES;
        ErrorReport::new(
            "ResponseTooLarge",
            format!(
                "the response is {len} bytes, over the platform's limit of {max} bytes (6 MB); it was not sent"
            ),
        )
    }

    /// The report posted for an event the runtime could not take (see `Error::InvalidEvent`).
    pub fn invalid_event(reason: impl Into<String>) -> Self {
        ErrorReport::new("InvalidEvent", reason)
    }

    /// The JSON body posted to `/runtime/invocation/error` for the invocation `request_id`.
    pub fn to_json(&self, request_id: &str) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            error_type: &'a str,
            error_message: &'a str,
            stack_trace: &'a [String],
            request_id: &'a str,
        }
        // Serialising borrowed strings into a Vec cannot fail.
        serde_json::to_vec(&Body {
            error_type: &self.error_type,
            error_message: &self.error_message,
            stack_trace: &self.stack_trace,
            request_id,
        })
        .unwrap_or_default()
    }
}

impl std::fmt::Display for ErrorReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

impl<E: std::error::Error> From<E> for ErrorReport {
    // This blanket conversion lets handlers use `?` on any error. It is why ErrorReport does
    // not implement `std::error::Error` itself (the impls would overlap, as with anyhow).
    fn from(e: E) -> Self {
        let mut stack_trace = Vec::new();
        let mut cause = e.source();
        while let Some(c) = cause {
            stack_trace.push(format!("caused by: {c}"));
            cause = c.source();
        }
        ErrorReport {
            error_type: short_type_name::<E>().to_string(),
            error_message: e.to_string(),
            stack_trace,
        }
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    // Keep generics intact: cut the module path only before the first '<'.
    let head = full.split('<').next().unwrap_or(full);
    let start = head.rfind("::").map_or(0, |i| i + 2);
    &full[start..]
}
