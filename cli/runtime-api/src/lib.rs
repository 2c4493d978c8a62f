//! `scf-runtime-api`: the platform side of the two ways SCF hands a function its events, without
//! any process management. Used by the emulator (`scf-emulator`) and by tests that need a runtime
//! API to poll; it must not depend on the emulator, packaging, the cloud API side or the command
//! line, nor on TLS, zip or clap.
//!
//! - The crate root: the SCF runtime API (docs/platform.md section 1). [`RuntimeApi`] serves the four
//!   routes on `127.0.0.1:<free port>` from its own tokio runtime on a background thread, and
//!   exposes a blocking API to the supervisor: [`RuntimeApi::wait_ready`] for the init phase and
//!   [`RuntimeApi::invoke`] to hand one event to the bootstrap and wait for its result. Every
//!   request is recorded ([`RuntimeApi::requests`]) so tests can assert on the wire log; the log
//!   keeps the most recent requests within a count and byte budget, so a long-lived instance
//!   (`scfrt serve`) does not grow without bound.
//! - [`image`]: an image-deployed function, whose own HTTP server gets each event as
//!   `POST /event-invoke`.
#![warn(missing_docs)]

pub mod image;

use std::convert::Infallible;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::{oneshot, watch};

/// One MiB.
const MIB: usize = 1024 * 1024;
/// By default the wire log keeps at most this many requests ([`Limits::wire_log_requests`])...
pub const MAX_RECORDED_REQUESTS: usize = 4096;
/// ...and at most this many body bytes; the oldest half is dropped when either is passed.
const MAX_RECORDED_BYTES: usize = 64 * MIB;
/// Bodies of requests other than result posts are buffered up to this size.
const SMALL_BODY_CAP: usize = MIB;
/// How far past its buffer cap a body is read (and thrown away) before the server gives up on it,
/// answers 413 and closes the connection. Reading the excess lets the client see our 407 instead of
/// a reset connection; the margin bounds the work a runaway client can make us do.
const DISCARD_MARGIN: usize = 64 * MIB;
/// The 407 body of the real platform.
pub const RESPONSE_TOO_LARGE_MESSAGE: &str = "The size of response exceeds the upper limit (6MB)";

/// Size limits enforced by the runtime API (docs/platform.md section 1: 6 MB each for synchronous calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest event [`RuntimeApi::invoke`] delivers; larger ones are refused (the platform's 406).
    pub max_event_bytes: usize,
    /// Largest result body accepted on `/runtime/invocation/response` or `/error`; larger ones get 407.
    pub max_response_bytes: usize,
    /// Most requests the wire log ([`RuntimeApi::requests`]) keeps, the oldest half dropped when
    /// passed; 0 keeps none. Tests want it; a long-lived instance (`scfrt serve`) does not, since
    /// every instance's log is memory held until the instance ends.
    pub wire_log_requests: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 6 * MIB,
            max_response_bytes: 6 * MIB,
            wire_log_requests: MAX_RECORDED_REQUESTS,
        }
    }
}

/// Per-invocation parameters sent to the bootstrap as `next` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeOptions {
    /// Sent as the `request_id` header.
    pub request_id: String,
    /// Sent as the `memory_limit_in_mb` header.
    pub memory_limit_mb: u32,
    /// The invocation timeout, sent in milliseconds as `time_limit_in_ms`; it runs from event delivery.
    pub timeout: Duration,
}

impl Default for InvokeOptions {
    /// A fresh uuid v4 request id, 128 MB, 3 s.
    fn default() -> Self {
        InvokeOptions {
            request_id: uuid::Uuid::new_v4().to_string(),
            memory_limit_mb: 128,
            timeout: Duration::from_secs(3),
        }
    }
}

/// How one invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The body posted to `/runtime/invocation/response`.
    Response(Vec<u8>),
    /// The body posted to `/runtime/invocation/error`.
    Error(Vec<u8>),
    /// A result over [`Limits::max_response_bytes`] was posted (the server answered 407); `size` is
    /// the number of body bytes received.
    ResponseTooLarge {
        /// Body size in bytes.
        size: usize,
    },
    /// No result arrived within [`InvokeOptions::timeout`].
    TimedOut,
    /// [`RuntimeApi::abort`] was called (for example because the bootstrap died).
    Aborted,
}

/// [`Outcome`] plus the timing the supervisor needs for Duration.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeReport {
    /// How the invocation ended.
    pub outcome: Outcome,
    /// When `next` first handed the event out (None if the bootstrap never fetched it).
    pub delivered_at: Option<Instant>,
    /// When the result post was read completely, or the timeout / abort was noticed.
    pub finished_at: Instant,
}

impl InvokeReport {
    /// Time from event delivery to the end of the invocation (zero if the event was never delivered).
    pub fn duration(&self) -> Duration {
        self.delivered_at
            .map(|d| self.finished_at.saturating_duration_since(d))
            .unwrap_or_default()
    }
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Request path without the query string, e.g. `/runtime/invocation/next`.
    pub path: String,
    /// The body as buffered: bodies larger than the route's cap are recorded truncated to the cap.
    pub body: Vec<u8>,
}

/// Why [`RuntimeApi::wait_ready`] returned without the bootstrap being ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// `POST /runtime/init/ready` did not arrive within the timeout.
    #[error("the bootstrap did not call /runtime/init/ready in time")]
    TimedOut,
    /// [`RuntimeApi::abort`] was called while waiting (or before).
    #[error("waiting for /runtime/init/ready was aborted")]
    Aborted,
}

/// Why [`RuntimeApi::invoke`] could not start an invocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The event is larger than [`Limits::max_event_bytes`]; nothing was delivered (the platform's 406).
    #[error("event of {size} bytes exceeds the limit of {limit} bytes")]
    EventTooLarge {
        /// Event size in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Another thread's invocation is still in progress: one invocation at a time.
    #[error("another invocation is in progress")]
    Busy,
}

/// The platform side of the runtime API, listening on `127.0.0.1:<port>`.
///
/// It is `Send + Sync`: one thread may block in [`invoke`](Self::invoke) while another calls
/// [`abort`](Self::abort). Dropping it stops the server and closes its connections.
pub struct RuntimeApi {
    shared: Arc<Shared>,
    port: u16,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    limits: Limits,
    state: Mutex<State>,
    /// Wakes blocking callers (`wait_ready`, `invoke`) when the state changes.
    cond: Condvar,
    /// Bumped whenever an invocation is queued, waking long-polling `next` handlers.
    queued: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    ready: bool,
    aborted: bool,
    current: Option<Invocation>,
    requests: Vec<RecordedRequest>,
    /// Body bytes held in `requests`.
    recorded_bytes: usize,
    /// [`Limits::wire_log_requests`].
    wire_log_cap: usize,
}

struct Invocation {
    request_id: String,
    event: Bytes,
    memory_limit_mb: u32,
    time_limit_ms: u128,
    delivered_at: Option<Instant>,
    result: Option<(Outcome, Instant)>,
}

impl State {
    /// Append to the wire log, dropping the oldest half when it is over its budget.
    fn record(&mut self, req: RecordedRequest) {
        if self.wire_log_cap == 0 {
            return;
        }
        self.recorded_bytes += req.body.len();
        self.requests.push(req);
        if self.requests.len() > self.wire_log_cap || self.recorded_bytes > MAX_RECORDED_BYTES {
            let drop = self.requests.len().div_ceil(2);
            let freed: usize = self.requests.drain(..drop).map(|r| r.body.len()).sum();
            self.recorded_bytes -= freed;
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wait for the next state change, until `deadline` (forever when `None`). `Err` hands the
    /// guard back once the deadline has passed.
    fn wait_until<'a>(
        &self,
        st: MutexGuard<'a, State>,
        deadline: Option<Instant>,
    ) -> Result<MutexGuard<'a, State>, MutexGuard<'a, State>> {
        let Some(deadline) = deadline else {
            return Ok(self.cond.wait(st).unwrap_or_else(PoisonError::into_inner));
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(st);
        }
        Ok(self
            .cond
            .wait_timeout(st, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0)
    }
}

impl fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("port", &self.port)
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Binds `127.0.0.1:0` and starts serving on a background thread.
    pub fn start(limits: Limits) -> std::io::Result<RuntimeApi> {
        let listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        listener.set_nonblocking(true)?;
        let port = listener.local_addr()?.port();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _guard = rt.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        let (queued, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            limits,
            state: Mutex::new(State {
                wire_log_cap: limits.wire_log_requests,
                ..State::default()
            }),
            cond: Condvar::new(),
            queued,
        });
        let (shutdown, shutdown_rx) = oneshot::channel();
        let server_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("scfrt-runtime-api-{port}"))
            .spawn(move || {
                rt.block_on(serve(listener, server_shared, shutdown_rx));
                // Dropping `rt` here cancels the connection tasks still running.
            })?;
        Ok(RuntimeApi {
            shared,
            port,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The port the server listens on (the bootstrap's `SCF_RUNTIME_API_PORT`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The limits this server enforces.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// Whether `POST /runtime/init/ready` has arrived.
    pub fn is_ready(&self) -> bool {
        self.shared.lock().ready
    }

    /// Blocks until `POST /runtime/init/ready` arrived (`Ok`), `timeout` passed
    /// ([`WaitError::TimedOut`]) or [`abort`](Self::abort) was called ([`WaitError::Aborted`]).
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), WaitError> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.shared.lock();
        loop {
            if st.ready {
                return Ok(());
            }
            if st.aborted {
                return Err(WaitError::Aborted);
            }
            st = self
                .shared
                .wait_until(st, deadline)
                .map_err(|_| WaitError::TimedOut)?;
        }
    }

    /// Delivers `event` to the pending (or next) `GET /runtime/invocation/next` and blocks until the
    /// first result post, the timeout, or [`abort`](Self::abort).
    ///
    /// The timeout runs from event delivery; while the bootstrap has not fetched the event it runs
    /// from this call, so a bootstrap that never calls `next` cannot block the caller forever.
    pub fn invoke(&self, event: &[u8], opts: &InvokeOptions) -> Result<Outcome, InvokeError> {
        self.invoke_timed(event, opts).map(|r| r.outcome)
    }

    /// Like [`invoke`](Self::invoke), and also reports when the event was delivered and when the
    /// invocation ended.
    pub fn invoke_timed(
        &self,
        event: &[u8],
        opts: &InvokeOptions,
    ) -> Result<InvokeReport, InvokeError> {
        let limit = self.shared.limits.max_event_bytes;
        if event.len() > limit {
            return Err(InvokeError::EventTooLarge {
                size: event.len(),
                limit,
            });
        }
        let started = Instant::now();
        let mut st = self.shared.lock();
        if st.current.is_some() {
            return Err(InvokeError::Busy);
        }
        if st.aborted {
            return Ok(InvokeReport {
                outcome: Outcome::Aborted,
                delivered_at: None,
                finished_at: Instant::now(),
            });
        }
        st.current = Some(Invocation {
            request_id: opts.request_id.clone(),
            event: Bytes::copy_from_slice(event),
            memory_limit_mb: opts.memory_limit_mb,
            time_limit_ms: opts.timeout.as_millis(),
            delivered_at: None,
            result: None,
        });
        self.shared.queued.send_modify(|n| *n = n.wrapping_add(1));
        loop {
            let Some(inv) = st.current.as_mut() else {
                // Only this method clears `current`, and `Busy` keeps other callers out.
                unreachable!("the pending invocation vanished");
            };
            let delivered_at = inv.delivered_at;
            if let Some((outcome, finished_at)) = inv.result.take() {
                st.current = None;
                return Ok(InvokeReport {
                    outcome,
                    delivered_at,
                    finished_at,
                });
            }
            if st.aborted {
                st.current = None;
                return Ok(InvokeReport {
                    outcome: Outcome::Aborted,
                    delivered_at,
                    finished_at: Instant::now(),
                });
            }
            let deadline = delivered_at.unwrap_or(started).checked_add(opts.timeout);
            st = match self.shared.wait_until(st, deadline) {
                Ok(st) => st,
                Err(mut st) => {
                    st.current = None;
                    return Ok(InvokeReport {
                        outcome: Outcome::TimedOut,
                        delivered_at,
                        finished_at: Instant::now(),
                    });
                }
            };
        }
    }

    /// Wakes a pending [`wait_ready`](Self::wait_ready) / [`invoke`](Self::invoke), which return
    /// `Aborted`. Sticky: later calls of either return `Aborted` at once. Callable from any thread.
    pub fn abort(&self) {
        let mut st = self.shared.lock();
        st.aborted = true;
        drop(st);
        self.shared.cond.notify_all();
    }

    /// Whether [`abort`](Self::abort) was called.
    pub fn is_aborted(&self) -> bool {
        self.shared.lock().aborted
    }

    /// The requests received, in arrival order: all of them in a short run; in a long one the
    /// most recent (at most 4096 requests and 64 MiB of bodies are kept).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Blocks until `pred` holds over the requests received so far (then returns them), or
    /// `timeout` passes ([`WaitError::TimedOut`]). A request is recorded as soon as it is read,
    /// so `next` shows up here while its long poll is still waiting.
    pub fn wait_for_requests(
        &self,
        timeout: Duration,
        pred: impl Fn(&[RecordedRequest]) -> bool,
    ) -> Result<Vec<RecordedRequest>, WaitError> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.shared.lock();
        while !pred(&st.requests) {
            st = self
                .shared
                .wait_until(st, deadline)
                .map_err(|_| WaitError::TimedOut)?;
        }
        Ok(st.requests.clone())
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Transient accept errors (EMFILE, ECONNABORTED): keep serving.
                Err(_) => {
                    tokio::task::yield_now().await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(Arc::clone(&shared), req));
            // Errors here are the client's (reset, malformed request): nothing to report.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[derive(Clone, Copy)]
enum ResultKind {
    Response,
    Error,
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = match (&method, path.as_str()) {
        (&Method::POST, "/runtime/init/ready") => Route::Ready,
        (&Method::GET, "/runtime/invocation/next") => Route::Next,
        (&Method::POST, "/runtime/invocation/response") => Route::Result(ResultKind::Response),
        (&Method::POST, "/runtime/invocation/error") => Route::Result(ResultKind::Error),
        _ => Route::NotFound,
    };
    let cap = match route {
        Route::Result(_) => shared.limits.max_response_bytes,
        _ => SMALL_BODY_CAP,
    };
    let body = match read_capped(req.into_body(), cap).await {
        Ok(body) => body,
        Err(ReadError::Client) => return Ok(text(StatusCode::BAD_REQUEST, "unreadable body")),
        Err(ReadError::Runaway(prefix)) => {
            record(&shared, &method, &path, prefix);
            let mut resp = text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return Ok(resp);
        }
    };
    Ok(match route {
        Route::Ready => {
            let mut st = shared.lock();
            st.record(recorded(&method, &path, body.data));
            st.ready = true;
            drop(st);
            shared.cond.notify_all();
            empty(StatusCode::OK)
        }
        Route::Next => {
            record(&shared, &method, &path, body.data);
            next(&shared).await
        }
        Route::Result(kind) => post_result(&shared, &method, &path, kind, body),
        Route::NotFound => {
            record(&shared, &method, &path, body.data);
            text(StatusCode::NOT_FOUND, "not found")
        }
    })
}

enum Route {
    Ready,
    Next,
    Result(ResultKind),
    NotFound,
}

async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    // Subscribing before looking at the state means an invocation queued after the check still
    // wakes us: no lost wake-up.
    let mut queued = shared.queued.subscribe();
    loop {
        {
            let mut st = shared.lock();
            if let Some(inv) = st.current.as_mut().filter(|inv| inv.result.is_none()) {
                if inv.delivered_at.is_none() {
                    inv.delivered_at = Some(Instant::now());
                    // `invoke` recomputes its deadline from the delivery time.
                    shared.cond.notify_all();
                }
                return event_response(inv);
            }
        }
        if queued.changed().await.is_err() {
            // The sender lives in `shared`, which we hold: unreachable in practice.
            return text(StatusCode::SERVICE_UNAVAILABLE, "runtime API shutting down");
        }
    }
}

fn event_response(inv: &Invocation) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(inv.event.clone()));
    let headers = resp.headers_mut();
    let values = [
        ("request_id", inv.request_id.clone()),
        ("memory_limit_in_mb", inv.memory_limit_mb.to_string()),
        ("time_limit_in_ms", inv.time_limit_ms.to_string()),
    ];
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    resp
}

fn post_result(
    shared: &Shared,
    method: &Method,
    path: &str,
    kind: ResultKind,
    body: CappedBody,
) -> Response<Full<Bytes>> {
    let limit = shared.limits.max_response_bytes;
    let mut st = shared.lock();
    let too_large = body.total > limit;
    let data = body.data;
    let response = match st.current.as_mut() {
        None => text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no invocation in progress",
        ),
        Some(inv) if inv.delivered_at.is_none() => text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no event delivered yet: call /runtime/invocation/next first",
        ),
        Some(inv) if inv.result.is_some() => text(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("a result for request {} was already posted", inv.request_id),
        ),
        Some(inv) => {
            let now = Instant::now();
            let (outcome, response) = if too_large {
                (
                    Outcome::ResponseTooLarge { size: body.total },
                    text(
                        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                        RESPONSE_TOO_LARGE_MESSAGE,
                    ),
                )
            } else {
                let bytes = data.clone();
                let outcome = match kind {
                    ResultKind::Response => Outcome::Response(bytes),
                    ResultKind::Error => Outcome::Error(bytes),
                };
                (outcome, empty(StatusCode::OK))
            };
            inv.result = Some((outcome, now));
            shared.cond.notify_all();
            response
        }
    };
    st.record(recorded(method, path, data));
    shared.cond.notify_all();
    response
}

struct CappedBody {
    /// The first `cap` bytes.
    data: Vec<u8>,
    /// Every byte received, including those past the cap that were thrown away.
    total: usize,
}

enum ReadError {
    /// The connection failed while reading the body.
    Client,
    /// More than `cap + DISCARD_MARGIN` bytes: we stopped reading. Carries the buffered prefix.
    Runaway(Vec<u8>),
}

async fn read_capped(mut body: Incoming, cap: usize) -> Result<CappedBody, ReadError> {
    let mut data = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ReadError::Client)?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(chunk.len());
        if data.len() < cap {
            let take = chunk.len().min(cap - data.len());
            data.extend_from_slice(&chunk[..take]);
        }
        if total > cap.saturating_add(DISCARD_MARGIN) {
            return Err(ReadError::Runaway(data));
        }
    }
    Ok(CappedBody { data, total })
}

fn record(shared: &Shared, method: &Method, path: &str, body: Vec<u8>) {
    shared.lock().record(recorded(method, path, body));
    shared.cond.notify_all();
}

fn recorded(method: &Method, path: &str, body: Vec<u8>) -> RecordedRequest {
    RecordedRequest {
        method: method.as_str().to_owned(),
        path: path.to_owned(),
        body,
    }
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

fn text(status: StatusCode, msg: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::copy_from_slice(msg.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(n: usize, body: usize) -> RecordedRequest {
        RecordedRequest {
            method: "GET".into(),
            path: format!("/{n}"),
            body: vec![b'x'; body],
        }
    }

    #[test]
    fn wire_log_keeps_the_most_recent_within_its_budget() {
        let log = |cap| State {
            wire_log_cap: cap,
            ..State::default()
        };
        let mut st = log(MAX_RECORDED_REQUESTS);
        for n in 0..10_000 {
            st.record(req(n, 1));
        }
        assert!(st.requests.len() <= MAX_RECORDED_REQUESTS);
        assert!(st.requests.len() > MAX_RECORDED_REQUESTS / 2);
        assert_eq!(st.requests.last().map(|r| r.path.as_str()), Some("/9999"));
        assert_eq!(st.recorded_bytes, st.requests.len());

        let mut st = log(16);
        for n in 0..100 {
            st.record(req(n, 1));
        }
        assert!(st.requests.len() <= 16, "{}", st.requests.len());
        assert_eq!(st.requests.last().map(|r| r.path.as_str()), Some("/99"));

        let mut st = log(0);
        st.record(req(0, 1));
        assert!(st.requests.is_empty());
        assert_eq!(st.recorded_bytes, 0);

        let mut st = log(MAX_RECORDED_REQUESTS);
        for n in 0..5 {
            st.record(req(n, 30 * MIB));
        }
        assert!(
            st.recorded_bytes <= MAX_RECORDED_BYTES,
            "{}",
            st.recorded_bytes
        );
        assert_eq!(st.requests.last().map(|r| r.path.as_str()), Some("/4"));
        assert_eq!(
            st.recorded_bytes,
            st.requests.iter().map(|r| r.body.len()).sum::<usize>()
        );
    }
}
