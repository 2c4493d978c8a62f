//! The HTTP client for the four runtime API endpoints (docs/platform.md section 1).

use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{Answer, Client, HttpError};
use crate::{Config, Error, Invocation, Result};

/// Path of the endpoint that ends init.
pub const READY_PATH: &str = "/runtime/init/ready";
/// Path of the long-poll endpoint that delivers the next event.
pub const NEXT_PATH: &str = "/runtime/invocation/next";
/// Path of the endpoint that takes the current invocation's result.
pub const RESPONSE_PATH: &str = "/runtime/invocation/response";
/// Path of the endpoint that takes the current invocation's error.
pub const ERROR_PATH: &str = "/runtime/invocation/error";

/// The largest event body [`Transport::next`] accepts. The platform's own limit is 6 MB for
/// synchronous events; the margin keeps a slightly larger platform limit working.
pub const MAX_EVENT_BYTES: u64 = 16 * 1024 * 1024;

/// How `ready` and `next` retry when the runtime API cannot be reached.
///
/// Retried: connection refused or reset, EOF before a full answer, a malformed answer, HTTP
/// 5xx, and an answer to `next` that carries no event (204, or 200 without `request_id`). The
/// delay doubles from `initial_delay` up to `max_delay`. The budget, `give_up_after`, counts
/// only consecutive failures: it starts at the first failure after the last successful
/// exchange, so a long poll that waited an hour before its connection was reset has spent
/// none of it. A failure that ends an attempt held open for [`HELD_ATTEMPT`] or longer (an idle
/// long poll cut by a server or a middlebox) shows that the runtime API was there a moment
/// ago: it is retried at once, on a fresh connection, and the count starts again from it.
/// Posts of results are never retried once they may have been read.
///
/// The default budget is 60 s; [`Config::retry`](crate::Config::retry) carries the policy
/// (`SCFRUNTIME_RETRY_BUDGET_MS` sets its budget from the environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Upper bound of the delay between two attempts.
    pub max_delay: Duration,
    /// How long the runtime API may keep failing, counted from the first of a run of
    /// consecutive failures, before the transport stops retrying.
    pub give_up_after: Duration,
}

/// An attempt that failed after being open this long had reached a live runtime API (see
/// [`RetryPolicy`]): it is retried at once and restarts the count of consecutive failures.
pub const HELD_ATTEMPT: Duration = Duration::from_secs(1);

/// How many answers in a row may break the client's limits (over 64 headers, a head over
/// 64 KB) before [`Error::Protocol`] is returned instead of retrying for the whole budget.
pub const PROTOCOL_ATTEMPTS: u32 = 3;

/// What the long poll of [`Transport::next_with`] is doing, for its observer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PollState {
    /// An attempt starts: the request is about to be sent and nothing is held (also after an
    /// attempt that broke mid-answer: the platform serves the same event again).
    Waiting,
    /// The first byte of the answer has arrived: an event is on its way and must be answered.
    Receiving,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
            give_up_after: Duration::from_secs(60),
        }
    }
}

/// A client of the SCF runtime API over one keep-alive connection.
///
/// No TLS, `TCP_NODELAY`, no timeout (the `next` long poll may wait for hours), no proxy, no
/// redirects; each request is one write and each answer is read in full, so the connection is
/// reused. `Send + Sync`: calls from several threads are serialised on the one connection,
/// which the protocol expects to carry one call at a time anyway.
pub struct Transport {
    client: Mutex<Client>,
    retry: RetryPolicy,
    /// Built from a configuration without a runtime API (image mode): every call fails with
    /// [`Error::NoRuntimeApi`] instead of retrying connections to nowhere.
    no_runtime_api: bool,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport for the runtime API that `config` names.
    ///
    /// An image-mode configuration names no runtime API: every call of such a transport fails
    /// at once with [`Error::NoRuntimeApi`]; serve it through [`Source`](crate::Source) instead.
    pub fn new(config: &Config) -> Transport {
        Transport {
            client: Mutex::new(Client::new(&config.runtime_api, config.runtime_api_port)),
            retry: config.retry,
            no_runtime_api: config.is_image() || config.runtime_api.is_empty(),
        }
    }

    /// Replace the retry policy of `ready` and `next`.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Transport {
        self.retry = retry;
        self
    }

    /// `POST /runtime/init/ready` with the body `" "`: init is done.
    ///
    /// Retried like `next`, which is safe because only the first ready counts.
    ///
    /// # Errors
    ///
    /// [`Error::RetriesExhausted`] or [`Error::Status`] for a 4xx answer.
    pub fn ready(&self) -> Result<()> {
        self.with_retries(READY_PATH, || self.post(READY_PATH, b" "))
    }

    /// `GET /runtime/invocation/next`: wait, without a timeout, for the next event.
    ///
    /// A repeated `next` returns the same event, so failures are retried with backoff (see
    /// [`RetryPolicy`]) and each retry is logged to stderr. An answer without an event (204, or
    /// 200 without a `request_id`) is such a failure too.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEvent`] when the event's limit headers are missing or malformed or its
    /// body is over [`MAX_EVENT_BYTES`] (report it to the error endpoint with its request id
    /// and call `next` again); [`Error::Status`] for a 4xx answer; [`Error::Protocol`] when
    /// answers keep breaking the client's limits; [`Error::RetriesExhausted`] when the runtime
    /// API stays unreachable.
    pub fn next(&self) -> Result<Invocation> {
        self.next_with(&|_| {})
    }

    /// [`next`](Self::next), telling `observe` when each attempt starts
    /// ([`PollState::Waiting`]) and when its answer's first byte arrives
    /// ([`PollState::Receiving`]). A loop that lets a stop signal end the process during the
    /// poll uses it to stop doing so once an event is on its way.
    ///
    /// # Errors
    ///
    /// As [`next`](Self::next).
    pub fn next_with(&self, observe: &dyn Fn(PollState)) -> Result<Invocation> {
        let first_byte = || observe(PollState::Receiving);
        self.with_retries(NEXT_PATH, || {
            observe(PollState::Waiting);
            self.next_once(&first_byte)
        })
    }

    /// Give back the body of an invocation that has been answered, so the next event can be
    /// read into its buffer instead of a new one (see the `http` module's `Client::recycle`:
    /// large events then cost the same whatever the allocator does with freed memory). Kept
    /// only when larger than the buffer kept already, up to 8 MiB.
    pub fn recycle(&self, body: Vec<u8>) {
        if let Ok(mut client) = self.client.try_lock() {
            client.recycle(body);
        }
    }

    /// `POST /runtime/invocation/response`: the current invocation's result, raw bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Status`] when the platform refuses it (e.g. 407 for a response that is too
    /// large, 4xx for a second result); [`Error::Transport`] when the connection failed. The
    /// post is retried only when the connection could not be opened, never after the server
    /// may have read it.
    pub fn respond(&self, body: &[u8]) -> Result<()> {
        self.post_once_delivered(RESPONSE_PATH, body)
    }

    /// `POST /runtime/invocation/error`: the current invocation failed; `body` says why.
    ///
    /// # Errors
    ///
    /// As [`respond`](Self::respond).
    pub fn fail(&self, body: &[u8]) -> Result<()> {
        self.post_once_delivered(ERROR_PATH, body)
    }

    fn call(
        &self,
        method: &str,
        endpoint: &'static str,
        body: Option<&[u8]>,
        max_body: u64,
        on_first_byte: Option<&dyn Fn()>,
    ) -> Result<Answer> {
        if self.no_runtime_api {
            return Err(Error::NoRuntimeApi { endpoint });
        }
        let mut client = self.client.lock().unwrap_or_else(PoisonError::into_inner);
        let answer = client
            .request(method, endpoint, body, max_body, on_first_byte)
            .map_err(|e| match e {
                HttpError::Connect(source) => Error::Connect { endpoint, source },
                HttpError::Io(source) => Error::Transport { endpoint, source },
                HttpError::Limit(reason) => Error::Protocol { endpoint, reason },
            })?;
        if !(200..300).contains(&answer.status) {
            let mut text = answer.body;
            text.truncate(512);
            return Err(Error::Status {
                endpoint,
                status: answer.status,
                body: String::from_utf8_lossy(&text).trim().to_string(),
            });
        }
        Ok(answer)
    }

    fn next_once(&self, on_first_byte: &dyn Fn()) -> Result<Invocation> {
        let answer = self.call("GET", NEXT_PATH, None, MAX_EVENT_BYTES, Some(on_first_byte))?;
        let received_at = Instant::now();
        // No request id, no event: nothing can be answered, so this is a fault of the transport
        // (retried with backoff), never an invocation.
        let request_id = match answer.header("request_id") {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => {
                let what = if answer.status == 204 {
                    "HTTP 204 (no content)".to_string()
                } else {
                    format!("HTTP {} without a request_id header", answer.status)
                };
                return Err(Error::Transport {
                    endpoint: NEXT_PATH,
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the answer carries no event: {what}"),
                    ),
                });
            }
        };
        let invalid = |reason: String| Error::InvalidEvent {
            endpoint: NEXT_PATH,
            reason,
            request_id: request_id.clone(),
        };
        if answer.too_large {
            return Err(invalid(match answer.content_length {
                Some(len) => format!(
                    "the event is {len} bytes, larger than the {MAX_EVENT_BYTES}-byte limit; it \
                     was not read"
                ),
                None => format!(
                    "the event is larger than the {MAX_EVENT_BYTES}-byte limit (more than that \
                     arrived without a Content-Length); it was not kept"
                ),
            }));
        }
        let memory_limit_mb = parse_header(&answer, "memory_limit_in_mb").map_err(invalid)?;
        let time_limit_ms: u64 = parse_header(&answer, "time_limit_in_ms").map_err(invalid)?;
        Ok(Invocation {
            request_id,
            body: answer.body,
            memory_limit_mb,
            time_limit: Duration::from_millis(time_limit_ms),
            received_at,
            metadata: None,
        })
    }

    fn post(&self, endpoint: &'static str, body: &[u8]) -> Result<()> {
        // The platform's answer to a post is empty; a larger one is not worth buffering.
        self.call("POST", endpoint, Some(body), 64 * 1024, None)
            .map(|_| ())
    }

    fn post_once_delivered(&self, endpoint: &'static str, body: &[u8]) -> Result<()> {
        let mut delay = self.retry.initial_delay;
        let started = Instant::now();
        loop {
            match self.post(endpoint, body) {
                // Only a connection that was never made is certain not to have delivered the post.
                Err(Error::Connect { source, .. })
                    if started.elapsed() < self.retry.give_up_after =>
                {
                    eprintln!(
                        "scfruntime: {endpoint}: could not connect ({source}); retrying in {delay:?}"
                    );
                    thread::sleep(delay);
                    delay = (delay * 2).min(self.retry.max_delay);
                }
                other => return other,
            }
        }
    }

    fn with_retries<T>(
        &self,
        endpoint: &'static str,
        mut f: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        // When the current run of consecutive failures began; None after a success.
        let mut failing_since: Option<Instant> = None;
        let mut delay = self.retry.initial_delay;
        let mut attempts = 0u32;
        let mut protocol_errors = 0u32;
        loop {
            let attempt_started = Instant::now();
            let err = match f() {
                Ok(v) => return Ok(v),
                Err(e) if !is_retryable(&e) => return Err(e),
                Err(e) => e,
            };
            let now = Instant::now();
            attempts += 1;
            if matches!(err, Error::Protocol { .. }) {
                protocol_errors += 1;
                if protocol_errors >= PROTOCOL_ATTEMPTS {
                    eprintln!(
                        "scfruntime: {endpoint}: {protocol_errors} answers in a row broke the \
                         client's limits; giving up"
                    );
                    return Err(err);
                }
            } else {
                protocol_errors = 0;
            }
            let held = now.duration_since(attempt_started) >= HELD_ATTEMPT;
            if held {
                // The connection was up and waiting a moment ago: this failure starts a run.
                failing_since = Some(now);
                attempts = 1;
            }
            let since = *failing_since.get_or_insert(now);
            let elapsed = now.duration_since(since);
            if elapsed >= self.retry.give_up_after {
                return Err(Error::RetriesExhausted {
                    endpoint,
                    attempts,
                    elapsed,
                    last: Box::new(err),
                });
            }
            if held {
                eprintln!(
                    "scfruntime: {endpoint} failed after waiting {:.1?} ({err}); retrying now \
                     on a new connection",
                    now.duration_since(attempt_started)
                );
                delay = self.retry.initial_delay;
                continue;
            }
            eprintln!(
                "scfruntime: {endpoint} attempt {attempts} failed ({err}); retrying in {delay:?}"
            );
            thread::sleep(delay);
            delay = (delay * 2).min(self.retry.max_delay);
        }
    }
}

fn is_retryable(e: &Error) -> bool {
    match e {
        Error::Connect { .. } | Error::Transport { .. } | Error::Protocol { .. } => true,
        Error::Status { status, .. } => *status >= 500,
        _ => false,
    }
}

fn parse_header<T: std::str::FromStr>(answer: &Answer, name: &str) -> Result<T, String> {
    let value = answer
        .header(name)
        .ok_or_else(|| format!("the {name} header is missing"))?;
    value
        .parse()
        .map_err(|_| format!("the {name} header is not a whole number: {value:?}"))
}
