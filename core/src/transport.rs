//! The HTTP client for the four runtime API endpoints (protocol.md section 1).

use std::io::Read;
use std::thread;
use std::time::{Duration, Instant};

use ureq::Agent;
use ureq::http::{HeaderMap, Response};

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
/// Retried: connection refused or reset, EOF before a full answer, a malformed answer, and
/// HTTP 5xx. The delay doubles from `initial_delay` up to `max_delay`; after `give_up_after`
/// the last error is returned. Posts of results are never retried once they may have been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Upper bound of the delay between two attempts.
    pub max_delay: Duration,
    /// Total time after which the transport stops retrying.
    pub give_up_after: Duration,
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
/// One `ureq` agent, no TLS, `TCP_NODELAY`, no timeout (the `next` long poll may wait for
/// hours), no proxy, no redirects, and status codes handled here rather than by `ureq`.
/// `Send + Sync`; calls from several threads would each take their own connection, which the
/// protocol does not expect: use one thread.
#[derive(Debug)]
pub struct Transport {
    agent: Agent,
    ready_url: String,
    next_url: String,
    response_url: String,
    error_url: String,
    retry: RetryPolicy,
}

impl Transport {
    /// A transport for the runtime API that `config` names.
    pub fn new(config: &Config) -> Transport {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(None)
            .proxy(None)
            .max_redirects(0)
            .no_delay(true)
            // The connection sits idle while a handler runs; keep it however long that takes.
            .max_idle_age(Duration::from_secs(24 * 3600))
            .max_idle_connections(1)
            .max_idle_connections_per_host(1)
            .user_agent("scfruntime")
            .build()
            .into();
        let base = config.base_url();
        Transport {
            agent,
            ready_url: format!("{base}{READY_PATH}"),
            next_url: format!("{base}{NEXT_PATH}"),
            response_url: format!("{base}{RESPONSE_PATH}"),
            error_url: format!("{base}{ERROR_PATH}"),
            retry: RetryPolicy::default(),
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
        self.with_retries(READY_PATH, || self.post(READY_PATH, &self.ready_url, b" "))
    }

    /// `GET /runtime/invocation/next`: wait, without a timeout, for the next event.
    ///
    /// A repeated `next` returns the same event, so failures are retried with backoff and each
    /// retry is logged to stderr.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidEvent`] when the event's headers are missing or malformed (report it to
    /// the error endpoint and call `next` again); [`Error::Status`] for a 4xx answer;
    /// [`Error::RetriesExhausted`] when the runtime API stays unreachable.
    pub fn next(&self) -> Result<Invocation> {
        self.with_retries(NEXT_PATH, || self.next_once())
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
        self.post_once_delivered(RESPONSE_PATH, &self.response_url, body)
    }

    /// `POST /runtime/invocation/error`: the current invocation failed; `body` says why.
    ///
    /// # Errors
    ///
    /// As [`respond`](Self::respond).
    pub fn fail(&self, body: &[u8]) -> Result<()> {
        self.post_once_delivered(ERROR_PATH, &self.error_url, body)
    }

    fn next_once(&self) -> Result<Invocation> {
        let transport = |source| Error::Transport {
            endpoint: NEXT_PATH,
            source,
        };
        let mut resp = self.agent.get(&self.next_url).call().map_err(transport)?;
        let received_at = Instant::now();
        check_status(NEXT_PATH, &mut resp)?;
        let (parts, mut body) = resp.into_parts();
        let request_id = header_str(&parts.headers, "request_id");
        let invalid = |reason: String| Error::InvalidEvent {
            endpoint: NEXT_PATH,
            reason,
            request_id: request_id.clone(),
        };
        let declared = body.content_length();
        if declared.is_some_and(|n| n > MAX_EVENT_BYTES) {
            // Dropping the unread body closes the connection; nothing large is buffered.
            return Err(invalid(format!(
                "event of {} bytes is larger than the {MAX_EVENT_BYTES}-byte limit",
                declared.unwrap_or_default()
            )));
        }
        // One buffer, sized from Content-Length, filled once.
        let capacity = usize::try_from(declared.unwrap_or(0)).unwrap_or(0);
        let mut buf = Vec::with_capacity(capacity);
        body.as_reader()
            .take(MAX_EVENT_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| transport(ureq::Error::Io(e)))?;
        if buf.len() as u64 > MAX_EVENT_BYTES {
            return Err(invalid(format!(
                "event is larger than the {MAX_EVENT_BYTES}-byte limit"
            )));
        }
        let request_id = match &request_id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => return Err(invalid("the request_id header is missing".into())),
        };
        let memory_limit_mb =
            parse_header(&parts.headers, "memory_limit_in_mb").map_err(invalid)?;
        let time_limit_ms: u64 =
            parse_header(&parts.headers, "time_limit_in_ms").map_err(invalid)?;
        Ok(Invocation {
            request_id,
            body: buf,
            memory_limit_mb,
            time_limit: Duration::from_millis(time_limit_ms),
            received_at,
        })
    }

    fn post(&self, endpoint: &'static str, url: &str, body: &[u8]) -> Result<()> {
        let mut resp = self
            .agent
            .post(url)
            .header("content-type", "application/octet-stream")
            .send(body)
            .map_err(|source| Error::Transport { endpoint, source })?;
        check_status(endpoint, &mut resp)?;
        // Read the (normally empty) answer to the end so the connection goes back to the pool.
        let _ = std::io::copy(&mut resp.body_mut().as_reader(), &mut std::io::sink());
        Ok(())
    }

    fn post_once_delivered(&self, endpoint: &'static str, url: &str, body: &[u8]) -> Result<()> {
        let mut delay = self.retry.initial_delay;
        let started = Instant::now();
        loop {
            match self.post(endpoint, url, body) {
                // Only a connection that was never made is certain not to have delivered the post.
                Err(Error::Transport { source, .. })
                    if is_connect_failure(&source)
                        && started.elapsed() < self.retry.give_up_after =>
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
        let started = Instant::now();
        let mut delay = self.retry.initial_delay;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let err = match f() {
                Ok(v) => return Ok(v),
                Err(e) if !is_retryable(&e) => return Err(e),
                Err(e) => e,
            };
            let elapsed = started.elapsed();
            if elapsed >= self.retry.give_up_after {
                return Err(Error::RetriesExhausted {
                    endpoint,
                    attempts,
                    elapsed,
                    last: Box::new(err),
                });
            }
            eprintln!(
                "scfruntime: {endpoint} attempt {attempts} failed ({err}); retrying in {delay:?}"
            );
            thread::sleep(delay);
            delay = (delay * 2).min(self.retry.max_delay);
        }
    }
}

fn check_status(endpoint: &'static str, resp: &mut Response<ureq::Body>) -> Result<()> {
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let mut text = Vec::new();
    let _ = resp
        .body_mut()
        .as_reader()
        .take(64 * 1024)
        .read_to_end(&mut text);
    text.truncate(512);
    Err(Error::Status {
        endpoint,
        status,
        body: String::from_utf8_lossy(&text).trim().to_string(),
    })
}

fn is_retryable(e: &Error) -> bool {
    match e {
        Error::Transport { source, .. } => matches!(
            source,
            ureq::Error::Io(_)
                | ureq::Error::ConnectionFailed
                | ureq::Error::Protocol(_)
                | ureq::Error::HostNotFound
        ),
        Error::Status { status, .. } => *status >= 500,
        _ => false,
    }
}

fn is_connect_failure(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
        ),
        _ => false,
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    // HeaderMap lookups are case-insensitive, so `Request_Id` matches `request_id`.
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
}

fn parse_header<T: std::str::FromStr>(headers: &HeaderMap, name: &str) -> Result<T, String> {
    let value = header_str(headers, name).ok_or_else(|| format!("the {name} header is missing"))?;
    value
        .parse()
        .map_err(|_| format!("the {name} header is not a whole number: {value:?}"))
}
