//! Image mode: the HTTP/1.1 server of an image-deployed function (docs/platform.md section 6).
//!
//! SCF starts the image's command, waits until port 9000 accepts connections, and sends each
//! event as `POST /event-invoke` with the context in `X-Scf-*` headers; the answer's body is the
//! result. [`ImageServer`] turns each such request into the same [`Invocation`] the runtime API
//! delivers and the loop's result into the HTTP answer, so a handler runs unchanged in both
//! deployments.
//!
//! The server is hyper's HTTP/1.1 on a current-thread tokio runtime in a thread of its own; the
//! loop's thread stays synchronous and talks to it through a queue. Requests are read and
//! checked concurrently (bad ones are answered at once), but the handler sees one event at a
//! time: a request that arrives while another runs waits for its turn, bounded in number
//! ([`ImageConfig::max_waiting`]) and by its own time limit.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Bytes, Incoming};
use hyper::header::{ALLOW, CONNECTION, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::{Semaphore, oneshot};

use crate::{
    Error, ErrorReport, FunctionMetadata, ImageConfig, Invocation, METADATA_FIELDS, Result,
};

/// The path SCF posts events to.
pub const EVENT_INVOKE_PATH: &str = "/event-invoke";
/// The status of an answer for a failed invocation (the handler's error, a panic, an oversized
/// response). Not documented by Tencent; 500 is what an HTTP client takes for "the function
/// failed", and the body is the same error JSON runtime-API mode posts.
pub const HANDLER_ERROR_STATUS: u16 = 500;

/// The header names of an event's own fields (docs/platform.md section 6).
const REQUEST_ID_HEADER: &str = "X-Scf-Request-Id";
const MEMORY_HEADER: &str = "X-Scf-Memory";
const TIMEOUT_HEADER: &str = "X-Scf-Timeout";
/// How long a shutting-down server waits for answers still being written.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

type Answer = Response<Full<Bytes>>;

/// Image mode's event server: `POST /event-invoke` in, [`Invocation`]s out.
///
/// Create it with [`new`](Self::new); [`ready`](Self::ready) starts listening (the port being
/// open is what tells SCF the function is initialised); [`next`](Self::next) waits for an event,
/// and [`respond`](Self::respond) or [`fail`](Self::fail) answers it. [`Runtime`](crate::Runtime)
/// does all of this through [`Source`](crate::Source).
///
/// Clones share one server. `Send + Sync`. It stops when [`shutdown`](Self::shutdown) is called
/// or the last clone is dropped: requests still waiting are answered 503, answers being written
/// get a few seconds to finish.
#[derive(Clone)]
pub struct ImageServer {
    handle: Arc<Handle>,
}

/// Owns the server thread; its drop (the last clone's) stops the server.
struct Handle {
    shared: Arc<Shared>,
    thread: Mutex<Option<ServerThread>>,
}

struct ServerThread {
    stop: oneshot::Sender<()>,
    join: JoinHandle<()>,
}

/// What the loop's thread and the server's tasks share.
struct Shared {
    config: ImageConfig,
    state: Mutex<State>,
    /// Wakes `next` (an event was queued, or the server stopped) and `wait_listening`.
    cond: Condvar,
}

#[derive(Default)]
struct State {
    local_addr: Option<SocketAddr>,
    stopped: bool,
    /// Requests read completely, waiting for the handler.
    queue: VecDeque<Pending>,
    /// The request the handler has now.
    current: Option<Current>,
    next_key: u64,
}

struct Pending {
    key: u64,
    inv: Invocation,
    reply: oneshot::Sender<Reply>,
}

struct Current {
    request_id: String,
    reply: oneshot::Sender<Reply>,
}

/// The answer the loop gives a request.
struct Reply {
    status: StatusCode,
    body: Bytes,
    json: bool,
}

impl std::fmt::Debug for ImageServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shared = &self.handle.shared;
        let st = shared.lock();
        f.debug_struct("ImageServer")
            .field("config", &shared.config)
            .field("local_addr", &st.local_addr)
            .field("waiting", &st.queue.len())
            .field("stopped", &st.stopped)
            .finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Take the request `key` out of the queue; false when it is no longer there (the handler
    /// has it, or it was answered already).
    fn unqueue(&self, key: u64) -> bool {
        let mut st = self.lock();
        let before = st.queue.len();
        st.queue.retain(|p| p.key != key);
        before != st.queue.len()
    }
}

impl ImageServer {
    /// A server for `config`; nothing listens until [`ready`](Self::ready).
    pub fn new(config: ImageConfig) -> ImageServer {
        ImageServer {
            handle: Arc::new(Handle {
                shared: Arc::new(Shared {
                    config,
                    state: Mutex::new(State::default()),
                    cond: Condvar::new(),
                }),
                thread: Mutex::new(None),
            }),
        }
    }

    /// The settings the server was created with.
    pub fn config(&self) -> &ImageConfig {
        &self.handle.shared.config
    }

    /// Start listening on [`ImageConfig::listen`] and serving on a background thread. Only the
    /// first call does anything (as only the first ready counts in runtime-API mode).
    ///
    /// # Errors
    ///
    /// [`Error::Listen`] when the address cannot be bound (in use, not local) or the server's
    /// thread cannot start; [`Error::ServerStopped`] after [`shutdown`](Self::shutdown).
    pub fn ready(&self) -> Result<()> {
        let shared = &self.handle.shared;
        let mut thread = self
            .handle
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        {
            let st = shared.lock();
            if st.stopped {
                return Err(Error::ServerStopped);
            }
            if st.local_addr.is_some() {
                return Ok(());
            }
        }
        let addr = shared.config.listen;
        let listen_err = |source| Error::Listen {
            addr: addr.to_string(),
            source,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(listen_err)?;
        listener.set_nonblocking(true).map_err(listen_err)?;
        let local_addr = listener.local_addr().map_err(listen_err)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(listen_err)?;
        let listener = {
            let _entered = rt.enter();
            tokio::net::TcpListener::from_std(listener).map_err(listen_err)?
        };
        let (stop, stopped) = oneshot::channel();
        let server_shared = Arc::clone(shared);
        let join = std::thread::Builder::new()
            .name("scfruntime-image".into())
            .spawn(move || {
                // SIGTERM/SIGINT go to the thread running the loop (under Python, the main
                // thread, whose waits they interrupt), not to the server's.
                crate::block_stop_signals();
                rt.block_on(serve(listener, server_shared, stopped));
                // Dropping the runtime here cancels the connections still open.
            })
            .map_err(listen_err)?;
        *thread = Some(ServerThread { stop, join });
        shared.lock().local_addr = Some(local_addr);
        shared.cond.notify_all();
        Ok(())
    }

    /// The address the server listens on (with the port chosen for port 0), once
    /// [`ready`](Self::ready) succeeded.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.handle.shared.lock().local_addr
    }

    /// Wait until [`ready`](Self::ready) succeeded (on another thread, typically inside
    /// `Runtime::run`) and return the address; `None` when `timeout` passed first or the server
    /// was shut down.
    pub fn wait_listening(&self, timeout: Duration) -> Option<SocketAddr> {
        let shared = &self.handle.shared;
        let deadline = Instant::now().checked_add(timeout);
        let mut st = shared.lock();
        loop {
            if let Some(addr) = st.local_addr {
                return Some(addr);
            }
            if st.stopped {
                return None;
            }
            st = wait(&shared.cond, st, deadline)?;
        }
    }

    /// How many requests are waiting for their turn (read completely, not yet handed out).
    pub fn waiting(&self) -> usize {
        self.handle.shared.lock().queue.len()
    }

    /// Wait until at least `n` requests are waiting for their turn; false when `timeout` passed
    /// first. For tests and diagnostics.
    pub fn wait_for_waiting(&self, n: usize, timeout: Duration) -> bool {
        let shared = &self.handle.shared;
        let deadline = Instant::now().checked_add(timeout);
        let mut st = shared.lock();
        while st.queue.len() < n {
            match wait(&shared.cond, st, deadline) {
                Some(guard) => st = guard,
                None => return false,
            }
        }
        true
    }

    /// Wait, without a timeout, for the next event, and make it the current invocation.
    ///
    /// If the previous invocation was not answered, it is answered now with a `NoResult`
    /// error (status 500), since its client would otherwise wait forever.
    ///
    /// # Errors
    ///
    /// [`Error::ServerStopped`] once the server is shut down.
    pub fn next(&self) -> Result<Invocation> {
        loop {
            if let Some(inv) = self.next_until(None)? {
                return Ok(inv);
            }
        }
    }

    /// [`next`](Self::next), waiting at most `timeout`: `Ok(None)` when no event arrived in
    /// that time (the loop uses it to notice stop signals).
    ///
    /// # Errors
    ///
    /// As [`next`](Self::next).
    pub fn next_timeout(&self, timeout: Duration) -> Result<Option<Invocation>> {
        self.next_until(Instant::now().checked_add(timeout))
    }

    fn next_until(&self, deadline: Option<Instant>) -> Result<Option<Invocation>> {
        let shared = &self.handle.shared;
        let mut st = shared.lock();
        if let Some(abandoned) = st.current.take() {
            let report = ErrorReport::new(
                "NoResult",
                "the runtime took the next event without answering this one",
            );
            let _ = abandoned.reply.send(Reply::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                report.to_json(&abandoned.request_id),
            ));
        }
        loop {
            if st.stopped {
                return Err(Error::ServerStopped);
            }
            if let Some(pending) = st.queue.pop_front() {
                st.current = Some(Current {
                    request_id: pending.inv.request_id.clone(),
                    reply: pending.reply,
                });
                return Ok(Some(pending.inv));
            }
            match wait(&shared.cond, st, deadline) {
                Some(guard) => st = guard,
                None => return Ok(None),
            }
        }
    }

    /// Answer the current invocation with status 200 and `body` (raw bytes, copied).
    ///
    /// # Errors
    ///
    /// [`Error::ResultNotDelivered`] when there is no current invocation or its client has
    /// closed the connection.
    pub fn respond(&self, body: &[u8]) -> Result<()> {
        self.answer(Reply {
            status: StatusCode::OK,
            body: Bytes::copy_from_slice(body),
            json: false,
        })
    }

    /// Answer the current invocation as failed: status [`HANDLER_ERROR_STATUS`] (500) with
    /// `body`, the error JSON (`ErrorReport::to_json`), as `application/json`.
    ///
    /// # Errors
    ///
    /// As [`respond`](Self::respond).
    pub fn fail(&self, body: &[u8]) -> Result<()> {
        self.answer(Reply::json(
            StatusCode::INTERNAL_SERVER_ERROR,
            body.to_vec(),
        ))
    }

    fn answer(&self, reply: Reply) -> Result<()> {
        let current = self.handle.shared.lock().current.take();
        let Some(current) = current else {
            return Err(Error::ResultNotDelivered {
                request_id: None,
                reason: "no invocation is in progress",
            });
        };
        current
            .reply
            .send(reply)
            .map_err(|_| Error::ResultNotDelivered {
                request_id: Some(current.request_id),
                reason: "the client closed the connection before the result was ready",
            })
    }

    /// Stop: refuse new connections, answer waiting requests (and an unanswered current one)
    /// with 503, let answers being written finish (up to a few seconds), and end the server's
    /// thread. A waiting [`next`](Self::next) returns [`Error::ServerStopped`]. Idempotent.
    pub fn shutdown(&self) {
        self.handle.shutdown();
    }
}

impl Handle {
    fn shutdown(&self) {
        let shared = &self.shared;
        {
            let mut st = shared.lock();
            st.stopped = true;
            let stopping = || {
                ErrorReport::new(
                    "InstanceStopping",
                    "the function instance is shutting down; the event was not handled",
                )
            };
            for pending in st.queue.drain(..) {
                let body = stopping().to_json(&pending.inv.request_id);
                let _ = pending
                    .reply
                    .send(Reply::json(StatusCode::SERVICE_UNAVAILABLE, body));
            }
            if let Some(current) = st.current.take() {
                let body = stopping().to_json(&current.request_id);
                let _ = current
                    .reply
                    .send(Reply::json(StatusCode::SERVICE_UNAVAILABLE, body));
            }
        }
        shared.cond.notify_all();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.stop.send(());
            let _ = thread.join.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Reply {
    fn json(status: StatusCode, body: Vec<u8>) -> Reply {
        Reply {
            status,
            body: Bytes::from(body),
            json: true,
        }
    }
}

/// Wait on `cond` until notified or `deadline` (forever when `None`); `None` once it passed.
fn wait<'a>(
    cond: &Condvar,
    st: MutexGuard<'a, State>,
    deadline: Option<Instant>,
) -> Option<MutexGuard<'a, State>> {
    let Some(deadline) = deadline else {
        return Some(cond.wait(st).unwrap_or_else(PoisonError::into_inner));
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return None;
    }
    Some(
        cond.wait_timeout(st, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0,
    )
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(shared.config.max_connections.max(1)));
    loop {
        let permit = tokio::select! {
            _ = &mut stop => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = &mut stop => break,
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
        let service_shared = Arc::clone(&shared);
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(shared.config.header_read_timeout)
            .keep_alive(true)
            .serve_connection(
                TokioIo::new(stream),
                service_fn(move |req| handle(Arc::clone(&service_shared), req)),
            );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Errors here are the client's (reset, malformed request, header timeout).
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// Answer one request: route, check, read the body, wait for the handler's result.
async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Answer, Infallible> {
    let (parts, body) = req.into_parts();
    let id = parts
        .headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let config = &shared.config;
    if parts.uri.path() != EVENT_INVOKE_PATH {
        let message = format!(
            "no route for {} {}: this is the event server of an SCF image function; send events \
             as POST {EVENT_INVOKE_PATH}",
            parts.method,
            parts.uri.path()
        );
        return Ok(refusal(StatusCode::NOT_FOUND, "NotFound", message, &id));
    }
    if parts.method != Method::POST {
        let message = format!(
            "{} {EVENT_INVOKE_PATH} is not allowed: send the event as the body of a POST",
            parts.method
        );
        let mut answer = refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            message,
            &id,
        );
        answer
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return Ok(answer);
    }
    let head = match EventHead::parse(&parts.headers) {
        Ok(head) => head,
        Err(reason) => {
            let answer = ErrorReport::invalid_event(reason).to_json(&id);
            return Ok(json(StatusCode::BAD_REQUEST, answer));
        }
    };
    let max = config.max_event_bytes;
    let declared = body.size_hint().exact();
    if let Some(len) = declared.filter(|&len| len > max as u64) {
        // Refused before reading a byte of it; the unread body makes the connection unusable.
        let message = format!(
            "the event is {len} bytes (Content-Length), over the limit of {max} bytes (6 MB); it \
             was not read"
        );
        return Ok(closing(refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLarge",
            message,
            &head.request_id,
        )));
    }
    let capacity = declared.map_or(0, |len| len as usize);
    let event = match tokio::time::timeout(config.body_read_timeout, read_body(body, capacity, max))
        .await
    {
        Ok(Ok(event)) => event,
        Ok(Err(BodyError::TooLarge)) => {
            let message = format!(
                "the event grew past the limit of {max} bytes (6 MB); the rest was not read"
            );
            return Ok(closing(refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLarge",
                message,
                &head.request_id,
            )));
        }
        Ok(Err(BodyError::Client)) => {
            let message = "the event body could not be read: the connection failed".to_string();
            return Ok(closing(refusal(
                StatusCode::BAD_REQUEST,
                "InvalidEvent",
                message,
                &head.request_id,
            )));
        }
        Err(_) => {
            let message = format!(
                "the event body did not arrive within {} ms",
                config.body_read_timeout.as_millis()
            );
            return Ok(closing(refusal(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                message,
                &head.request_id,
            )));
        }
    };
    let inv = head.into_invocation(event);
    Ok(queue_and_wait(&shared, inv).await)
}

/// Put `inv` in line for the handler and wait for its result, or refuse it when the line is
/// full, the server is stopping, or its time limit runs out before its turn.
async fn queue_and_wait(shared: &Arc<Shared>, inv: Invocation) -> Answer {
    let request_id = inv.request_id.clone();
    let deadline = inv.deadline();
    let (reply, mut result) = oneshot::channel();
    let key = {
        let mut st = shared.lock();
        if st.stopped {
            let message = "the function instance is shutting down".to_string();
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "InstanceStopping",
                message,
                &request_id,
            );
        }
        let max = shared.config.max_waiting;
        if st.queue.len() >= max {
            let message = format!(
                "the instance runs one event at a time and {max} more are already waiting for \
                 their turn"
            );
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "InstanceBusy",
                message,
                &request_id,
            );
        }
        st.next_key += 1;
        let key = st.next_key;
        st.queue.push_back(Pending { key, inv, reply });
        key
    };
    shared.cond.notify_all();
    // Until the result arrives, a dropped future (the client went away) leaves the line.
    let mut queued = Queued {
        shared: Arc::clone(shared),
        key,
        armed: true,
    };
    let deadline = tokio::time::Instant::from_std(deadline);
    let outcome = match tokio::time::timeout_at(deadline, &mut result).await {
        Ok(outcome) => outcome,
        Err(_) if shared.unqueue(key) => {
            queued.armed = false;
            let message = "another event was still running when this event's time limit \
                           (X-Scf-Timeout) ran out; the instance runs one event at a time"
                .to_string();
            return refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "InstanceBusy",
                message,
                &request_id,
            );
        }
        // The handler has it: its result comes, however late.
        Err(_) => result.await,
    };
    queued.armed = false;
    match outcome {
        Ok(reply) => {
            let mut answer = Response::new(Full::new(reply.body));
            *answer.status_mut() = reply.status;
            if reply.json {
                answer.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                );
            }
            answer
        }
        // The server stopped without answering (it answers everything it drops; this is the
        // channel's own guarantee).
        Err(_) => refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "InstanceStopping",
            "the function instance stopped before answering".to_string(),
            &request_id,
        ),
    }
}

/// Takes a waiting request out of the line when its future is dropped before its result came.
struct Queued {
    shared: Arc<Shared>,
    key: u64,
    armed: bool,
}

impl Drop for Queued {
    fn drop(&mut self) {
        if self.armed {
            self.shared.unqueue(self.key);
        }
    }
}

/// The event's own headers, checked.
struct EventHead {
    request_id: String,
    memory_limit_mb: u32,
    time_limit: Duration,
    metadata: FunctionMetadata,
}

impl EventHead {
    /// Read the `X-Scf-*` headers. The request id, memory and timeout are required, as their
    /// runtime-API counterparts are; the rest are optional. `Err` says what is wrong.
    fn parse(headers: &HeaderMap) -> Result<EventHead, String> {
        let text = |name: &str| -> Result<Option<String>, String> {
            match headers.get(name) {
                None => Ok(None),
                Some(v) => std::str::from_utf8(v.as_bytes())
                    .map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()))
                    .map_err(|_| format!("the {name} header is not valid UTF-8")),
            }
        };
        let required = |name: &str| {
            text(name)?.ok_or_else(|| {
                format!("the {name} header is missing; SCF sends it with every event")
            })
        };
        let number = |name: &str, unit: &str| -> Result<u64, String> {
            let value = required(name)?;
            value.parse().map_err(|_| {
                format!("the {name} header is not a whole number of {unit}: {value:?}")
            })
        };
        let request_id = required(REQUEST_ID_HEADER)?;
        let memory = number(MEMORY_HEADER, "MB")?;
        let memory_limit_mb = u32::try_from(memory)
            .map_err(|_| format!("the {MEMORY_HEADER} header is too large: {memory}"))?;
        let time_limit = Duration::from_millis(number(TIMEOUT_HEADER, "milliseconds")?);
        for field in &METADATA_FIELDS {
            text(field.header)?;
        }
        let metadata = FunctionMetadata::from_headers(|name| text(name).ok().flatten());
        Ok(EventHead {
            request_id,
            memory_limit_mb,
            time_limit,
            metadata,
        })
    }

    fn into_invocation(self, body: Vec<u8>) -> Invocation {
        // The deadline counts from now, when the whole event has arrived.
        Invocation::new(self.request_id, body, self.memory_limit_mb, self.time_limit)
            .with_metadata(self.metadata)
    }
}

enum BodyError {
    /// Past the limit.
    TooLarge,
    /// The connection failed mid-body.
    Client,
}

/// Read the whole body into one buffer (sized from Content-Length when there is one), stopping
/// as soon as it grows past `max`.
async fn read_body(mut body: Incoming, capacity: usize, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut data = Vec::with_capacity(capacity.min(max));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Client)?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        if chunk.len() > max - data.len() {
            return Err(BodyError::TooLarge);
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// An error answer with the error JSON runtime-API mode would post:
/// `{"errorType","errorMessage","stackTrace":[],"requestId"}`.
fn refusal(status: StatusCode, error_type: &str, message: String, request_id: &str) -> Answer {
    json(
        status,
        ErrorReport::new(error_type, message).to_json(request_id),
    )
}

fn json(status: StatusCode, body: Vec<u8>) -> Answer {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    answer
}

/// Close the connection after this answer: the request's body was not (fully) read.
fn closing(mut answer: Answer) -> Answer {
    answer
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    answer
}
