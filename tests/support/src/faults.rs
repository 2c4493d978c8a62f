//! A scripted SCF runtime API that models the platform and injects transport faults.
//!
//! Hand-written over `std::net::TcpListener` so that a fault can be placed on an exact byte: a
//! reset before the answer, mid-headers or mid-body, a body shorter than its Content-Length, a
//! malformed status line, a 70 KB header, a refused connection. The platform model:
//!
//! - `next` hands out the *current* event while it has no result (a repeated `next` returns the
//!   same event, docs/platform.md section 1), else the next queued one; when every event has a
//!   result it answers `410 drained`, which ends the runtime's loop (a 4xx on `next` is not
//!   retried).
//! - A result post is accepted for the current event once the server has read it completely,
//!   whatever then happens to the answer; a post answered 5xx, or reset before its body was
//!   read, is not accepted, so the event stays current and is served again.
//!
//! Every event must end with exactly one accepted result: none is *lost*, more is *duplicated*.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// One of the four runtime API endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /runtime/init/ready`
    Ready,
    /// `GET /runtime/invocation/next`
    Next,
    /// `POST /runtime/invocation/response`
    Response,
    /// `POST /runtime/invocation/error`
    Error,
}

impl Endpoint {
    /// All four, in protocol order.
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Ready,
        Endpoint::Next,
        Endpoint::Response,
        Endpoint::Error,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn from_path(path: &str) -> Option<Endpoint> {
        Some(match path {
            "/runtime/init/ready" => Endpoint::Ready,
            "/runtime/invocation/next" => Endpoint::Next,
            "/runtime/invocation/response" => Endpoint::Response,
            "/runtime/invocation/error" => Endpoint::Error,
            _ => return None,
        })
    }

    /// Short name for the summary.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Ready => "ready",
            Endpoint::Next => "next",
            Endpoint::Response => "response",
            Endpoint::Error => "error",
        }
    }
}

/// What the server does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The port is closed (connection refused) for this long when the request is due.
    Refused(Duration),
    /// The request is read in full, then the connection is reset before any answer byte.
    ResetBeforeAnswer,
    /// Only the request's head is read, then the connection is reset: a post's body is unread.
    ResetUnread,
    /// Half of the answer's head is sent, then a reset.
    ResetMidHeaders,
    /// The head (with the full Content-Length) and half the body, then a reset.
    ResetMidBody,
    /// The head (with the full Content-Length) and half the body, then a clean close (FIN).
    TruncatedBody,
    /// The answer has this status.
    Status(u16),
    /// The answer comes after this delay.
    Delay(Duration),
    /// The status line is not HTTP (`HTTP/1.1 2OO OK`).
    MalformedStatusLine,
    /// The answer carries a header of 70 KB (over the client's 64 KB head limit).
    HugeHeader,
    /// `next` only: two `request_id` headers with different values.
    DuplicateRequestIdHeader,
    /// `next` only: the event carries the request id of the event before it.
    ReusedRequestId,
    /// `next` only: no `request_id` header.
    MissingRequestId,
    /// `next` only: `memory_limit_in_mb` and `time_limit_in_ms` are not numbers.
    NonNumericLimits,
    /// The answer carries 65 headers (one more than the client reads).
    TooManyHeaders,
    /// `next` only: this and every later answer to `next` carries 65 headers.
    TooManyHeadersAlways,
    /// `next` only: this and every later answer to `next` carries a header of 70 KB.
    HugeHeaderAlways,
    /// `next` only: the request is held this long with no answer, then the connection is reset
    /// (an idle long poll cut by a server or a middlebox).
    HoldThenReset(Duration),
    /// `next` only: answered `204 No Content` (no event) from this call on, until this long
    /// after it.
    NoContentFor(Duration),
    /// `next` only: answered 200 with the limit headers and a body but no `request_id`, from
    /// this call on, until this long after it.
    NoRequestIdFor(Duration),
    /// `next` only: the event's body is [`OVERSIZED_BYTES`], chunked.
    OversizedChunked,
    /// `next` only: the event's body is [`OVERSIZED_BYTES`], with neither Content-Length nor
    /// chunked (framed by the connection's close).
    OversizedToClose,
    /// `next` only: the head announces a body of [`ANNOUNCED_BYTES`] (Content-Length) and none
    /// of it is sent; then the connection closes. A client that refuses the event from its
    /// head reports it; one that buffers first meets a truncated body instead.
    OversizedAnnounced,
    /// `next` only: the head and half the body are sent, then the rest waits for
    /// [`FaultServer::release`] (see [`FaultServer::wait_held`]).
    HoldBody,
}

/// The body size of the oversized-event faults: 20 MB, over the runtime's 16 MB limit.
pub const OVERSIZED_BYTES: usize = 20 * 1024 * 1024;

/// The Content-Length of [`Fault::OversizedAnnounced`]: one byte over the runtime's 16 MiB
/// event limit.
pub const ANNOUNCED_BYTES: usize = 16 * 1024 * 1024 + 1;

impl Fault {
    /// Whether the fault makes sense on `ep`.
    pub fn applies_to(self, ep: Endpoint) -> bool {
        match self {
            Fault::DuplicateRequestIdHeader
            | Fault::ReusedRequestId
            | Fault::MissingRequestId
            | Fault::NonNumericLimits
            | Fault::TooManyHeadersAlways
            | Fault::HugeHeaderAlways
            | Fault::HoldThenReset(_)
            | Fault::NoContentFor(_)
            | Fault::NoRequestIdFor(_)
            | Fault::OversizedChunked
            | Fault::OversizedToClose
            | Fault::OversizedAnnounced
            | Fault::HoldBody => ep == Endpoint::Next,
            _ => true,
        }
    }

    /// Short name for the summary.
    pub fn name(self) -> String {
        match self {
            Fault::Refused(_) => "refused".into(),
            Fault::ResetBeforeAnswer => "reset-before-answer".into(),
            Fault::ResetUnread => "reset-unread".into(),
            Fault::ResetMidHeaders => "reset-mid-headers".into(),
            Fault::ResetMidBody => "reset-mid-body".into(),
            Fault::TruncatedBody => "truncated-body".into(),
            Fault::Status(s) => format!("http-{s}"),
            Fault::Delay(d) => format!("delay-{}ms", d.as_millis()),
            Fault::MalformedStatusLine => "malformed-status-line".into(),
            Fault::HugeHeader => "header-over-64k".into(),
            Fault::DuplicateRequestIdHeader => "duplicate-request-id-header".into(),
            Fault::ReusedRequestId => "reused-request-id".into(),
            Fault::MissingRequestId => "missing-request-id".into(),
            Fault::NonNumericLimits => "non-numeric-limits".into(),
            Fault::TooManyHeaders => "65-headers".into(),
            Fault::TooManyHeadersAlways => "65-headers-always".into(),
            Fault::HugeHeaderAlways => "header-over-64k-always".into(),
            Fault::HoldThenReset(d) => format!("hold-{}ms-then-reset", d.as_millis()),
            Fault::NoContentFor(_) => "no-content".into(),
            Fault::NoRequestIdFor(_) => "no-request-id".into(),
            Fault::OversizedChunked => "oversized-chunked".into(),
            Fault::OversizedToClose => "oversized-to-close".into(),
            Fault::OversizedAnnounced => "oversized-announced".into(),
            Fault::HoldBody => "hold-body".into(),
        }
    }

    /// The whole matrix for one endpoint; `refused` and `delay` set the durations used.
    pub fn matrix(ep: Endpoint, refused: Duration, delay: Duration) -> Vec<Fault> {
        [
            Fault::Refused(refused),
            Fault::ResetBeforeAnswer,
            Fault::ResetUnread,
            Fault::ResetMidHeaders,
            Fault::ResetMidBody,
            Fault::TruncatedBody,
            Fault::Status(500),
            Fault::Status(502),
            Fault::Status(503),
            Fault::Delay(delay),
            Fault::MalformedStatusLine,
            Fault::HugeHeader,
            Fault::TooManyHeaders,
            Fault::DuplicateRequestIdHeader,
            Fault::ReusedRequestId,
            Fault::MissingRequestId,
            Fault::NonNumericLimits,
            Fault::OversizedChunked,
            Fault::OversizedToClose,
        ]
        .into_iter()
        .filter(|f| f.applies_to(ep))
        .collect()
    }
}

/// A fault placed on the `nth` (1-based) call of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Which call of it (1 = the first).
    pub nth: usize,
    /// What happens.
    pub fault: Fault,
}

/// What a test event asks the handler to do; the event body is `{"i":N,"mode":"..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Echo the event.
    Ok,
    /// Fail (an error report / exception).
    Fail,
    /// Panic (Rust handler only).
    Panic,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Ok => "ok",
            Mode::Fail => "fail",
            Mode::Panic => "panic",
        }
    }
}

/// The suite's Rust handler, for events `{"i":N,"mode":"..."}`: `fail` returns an error report
/// of type `Fail`, `panic` panics, anything else is echoed byte for byte. The in-process cases
/// and the `rel-rust` bootstrap both serve it.
pub fn rust_handler(inv: &scf_core::Invocation) -> Result<Vec<u8>, scf_core::ErrorReport> {
    let body = String::from_utf8_lossy(&inv.body);
    if body.contains("\"mode\":\"fail\"") {
        return Err(scf_core::ErrorReport::new(
            "Fail",
            "the event asked to fail",
        ));
    }
    if body.contains("\"mode\":\"panic\"") {
        panic!("the event asked to panic");
    }
    Ok(inv.body.clone())
}

/// One event the server delivers.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its request id.
    pub id: String,
    /// Its body, `{"i":N,"mode":"..."}`.
    pub body: Vec<u8>,
    /// What the handler does with it.
    pub mode: Mode,
}

impl Event {
    /// Event number `i` with `mode`.
    pub fn new(i: usize, mode: Mode) -> Event {
        Event {
            id: format!("rel-{i:04}-{:08x}", std::process::id()),
            body: format!("{{\"i\":{i},\"mode\":\"{}\"}}", mode.name()).into_bytes(),
            mode,
        }
    }
}

/// A result the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// `Response` or `Error`.
    pub endpoint: Endpoint,
    /// The posted body.
    pub body: Vec<u8>,
}

#[derive(Default)]
struct State {
    events: Vec<Event>,
    queue: VecDeque<usize>,
    current: Option<usize>,
    results: Vec<Vec<Posted>>,
    deliveries: Vec<u32>,
    /// Posts that arrived with no current event.
    stray: Vec<Posted>,
    calls: [usize; 4],
    faults: Vec<(Scheduled, bool)>,
    readies: usize,
    drained: bool,
    log: Vec<String>,
    /// Set by a fault that closes the listener after the current answer.
    refuse_after: Option<Duration>,
    /// A `next` fault that lasts: it applies to every `next` until the instant (None: forever).
    lasting: Option<(Fault, Option<Instant>)>,
}

impl State {
    /// The scheduled fault for the call about to happen on `ep`, marked as fired; or the
    /// lasting fault of `next` while it lasts.
    fn take_fault(&mut self, ep: Endpoint, nth: usize) -> Option<Fault> {
        for (s, fired) in &mut self.faults {
            if !*fired && s.endpoint == ep && s.nth == nth && !matches!(s.fault, Fault::Refused(_))
            {
                *fired = true;
                let now = Instant::now();
                self.lasting = match s.fault {
                    Fault::TooManyHeadersAlways | Fault::HugeHeaderAlways => Some((s.fault, None)),
                    Fault::NoContentFor(d) | Fault::NoRequestIdFor(d) => {
                        Some((s.fault, Some(now + d)))
                    }
                    _ => self.lasting,
                };
                return Some(s.fault);
            }
        }
        match self.lasting {
            Some((fault, until)) if ep == Endpoint::Next => {
                if until.is_none_or(|t| Instant::now() < t) {
                    return Some(fault);
                }
                self.lasting = None;
                None
            }
            _ => None,
        }
    }

    /// A `Refused` fault due on the next call of `ep`: the listener closes after this answer.
    fn plan_refusal(&mut self, ep: Endpoint) {
        let nth = self.calls[ep.index()] + 1;
        for (s, fired) in &mut self.faults {
            if !*fired
                && s.endpoint == ep
                && s.nth == nth
                && let Fault::Refused(d) = s.fault
            {
                *fired = true;
                self.refuse_after = Some(d);
            }
        }
    }
}

/// What the server saw in one run, for the checks and the summary.
#[derive(Debug, Clone)]
pub struct Report {
    /// The events, in order.
    pub events: Vec<Event>,
    /// Accepted results per event.
    pub results: Vec<Vec<Posted>>,
    /// Complete 200 deliveries per event.
    pub deliveries: Vec<u32>,
    /// Posts with no current event.
    pub stray: Vec<Posted>,
    /// Scheduled faults that never fired (the case did not test what it meant to).
    pub unfired: Vec<Scheduled>,
    /// `ready` calls that were answered 200.
    pub readies: usize,
    /// Whether `410 drained` was served.
    pub drained: bool,
    /// One line per request, for failure messages.
    pub log: Vec<String>,
    /// How many requests each endpoint received, in [`Endpoint::ALL`] order.
    pub calls: [usize; 4],
}

impl Report {
    /// Events with no accepted result.
    pub fn lost(&self) -> usize {
        self.results.iter().filter(|r| r.is_empty()).count()
    }

    /// How many requests `ep` received.
    pub fn calls(&self, ep: Endpoint) -> usize {
        self.calls[ep.index()]
    }

    /// How many requests met `fault` (by its summary name), from the log.
    pub fn met(&self, fault: Fault) -> usize {
        let tag = format!(" fault={}", fault.name());
        self.log.iter().filter(|l| l.ends_with(&tag)).count()
    }

    /// Extra accepted results (several for one event, or posts with no event).
    pub fn duplicated(&self) -> usize {
        self.results
            .iter()
            .map(|r| r.len().saturating_sub(1))
            .sum::<usize>()
            + self.stray.len()
    }
}

/// The running server; it stops when dropped.
pub struct FaultServer {
    port: u16,
    state: Arc<Mutex<State>>,
    hold: Arc<Hold>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

fn bind_port(port: u16) -> io::Result<TcpListener> {
    // The port was ours a moment ago; another socket may briefly hold it (bounded retries).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))) {
            Ok(l) => return Ok(l),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

impl FaultServer {
    /// Serve `events` with the `faults` on a port of 127.0.0.1 of its own. A `Refused` fault on
    /// the first `ready` keeps the port closed for its duration from now.
    pub fn start(events: Vec<Event>, faults: Vec<Scheduled>) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        FaultServer::start_on(listener, events, faults)
    }

    /// As [`start`](FaultServer::start), on a listener the caller bound (a port a client is
    /// already trying to reach). A later rebind (after a `Refused` fault) is on 127.0.0.1.
    pub fn start_on(
        listener: TcpListener,
        events: Vec<Event>,
        faults: Vec<Scheduled>,
    ) -> FaultServer {
        let port = listener.local_addr().expect("local addr").port();
        let n = events.len();
        let mut st = State {
            queue: (0..n).collect(),
            results: vec![Vec::new(); n],
            deliveries: vec![0; n],
            events,
            faults: faults.into_iter().map(|f| (f, false)).collect(),
            ..State::default()
        };
        // Refusal of the very first ready: the port is closed from the start.
        let mut initial_refusal = None;
        for (s, fired) in &mut st.faults {
            if let (Endpoint::Ready, 1, Fault::Refused(d)) = (s.endpoint, s.nth, s.fault) {
                *fired = true;
                initial_refusal = Some(d);
            }
        }
        let listener = match initial_refusal {
            Some(_) => {
                drop(listener);
                None
            }
            None => Some(listener),
        };
        let state = Arc::new(Mutex::new(st));
        let stop = Arc::new(AtomicBool::new(false));
        let hold = Arc::new(Hold::default());
        let (st2, stop2, hold2) = (state.clone(), stop.clone(), hold.clone());
        let thread = thread::spawn(move || {
            serve(port, listener, initial_refusal, st2, stop2, &hold2);
        });
        FaultServer {
            port,
            state,
            hold,
            stop,
            thread: Some(thread),
        }
    }

    /// The port (`SCF_RUNTIME_API_PORT`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The environment a bootstrap needs to reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("SCF_RUNTIME_API".into(), "127.0.0.1".into()),
            ("SCF_RUNTIME_API_PORT".into(), self.port.to_string()),
            ("SCF_FUNCTIONNAME".into(), "reliability".into()),
            ("SCF_FUNCTIONVERSION".into(), "$LATEST".into()),
            ("SCF_NAMESPACE".into(), "default".into()),
            ("_HANDLER".into(), "index.handler".into()),
        ]
    }

    /// Wait up to `timeout` until a [`Fault::HoldBody`] answer is being held (its head and half
    /// its body sent); whether it is.
    pub fn wait_held(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.hold.lock();
        while !st.held {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .hold
                .cv
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// The client's port on the connection of the held answer, once it is held.
    pub fn held_peer_port(&self) -> Option<u16> {
        self.hold.lock().peer_port
    }

    /// Send the rest of a held answer ([`Fault::HoldBody`]).
    pub fn release(&self) {
        self.hold.lock().released = true;
        self.hold.cv.notify_all();
    }

    /// What happened so far.
    pub fn report(&self) -> Report {
        let st = lock(&self.state);
        Report {
            events: st.events.clone(),
            results: st.results.clone(),
            deliveries: st.deliveries.clone(),
            stray: st.stray.clone(),
            unfired: st
                .faults
                .iter()
                .filter(|(_, f)| !f)
                .map(|(s, _)| *s)
                .collect(),
            readies: st.readies,
            drained: st.drained,
            log: st.log.clone(),
            calls: st.calls,
        }
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.release();
        // Wake the accept (a refused connect is fine: the thread is then sleeping or rebinding).
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The gate of a [`Fault::HoldBody`] answer.
#[derive(Default)]
struct Hold {
    state: Mutex<HoldState>,
    cv: Condvar,
}

#[derive(Default)]
struct HoldState {
    held: bool,
    released: bool,
    /// The client's port on the held connection.
    peer_port: Option<u16>,
}

impl Hold {
    fn lock(&self) -> MutexGuard<'_, HoldState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Say the answer is held, then wait (at most a minute) for the release.
    fn hold(&self, peer_port: Option<u16>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut st = self.lock();
        st.held = true;
        st.peer_port = peer_port;
        self.cv.notify_all();
        while !st.released {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            st = self
                .cv
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn serve(
    port: u16,
    mut listener: Option<TcpListener>,
    mut refusal: Option<Duration>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    hold: &Hold,
) {
    loop {
        if let Some(d) = refusal.take() {
            drop(listener.take());
            lock(&state).log.push(format!("port closed for {d:?}"));
            thread::sleep(d);
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let l = match listener.take() {
            Some(l) => l,
            None => match bind_port(port) {
                Ok(l) => l,
                Err(e) => {
                    lock(&state).log.push(format!("cannot rebind {port}: {e}"));
                    return;
                }
            },
        };
        let conn = match l.accept() {
            Ok((c, _)) => {
                // Answers go out in several writes (head, then body; half a body before a
                // reset): with Nagle's algorithm a write could wait for the client's delayed ACK
                // (~40 ms each) or still be unsent when the reset comes.
                let _ = c.set_nodelay(true);
                c
            }
            Err(_) => return,
        };
        listener = Some(l);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        // One connection at a time: the runtime holds one and uses it serially.
        let _ = handle_conn(conn, &state, hold);
        refusal = lock(&state).refuse_after.take();
    }
}

struct Request {
    method: String,
    path: String,
    length: usize,
}

fn read_head(r: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length = 0;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        if h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    Ok(Some(Request {
        method,
        path,
        length,
    }))
}

fn reset(stream: &TcpStream) {
    // SO_LINGER 0: close sends RST instead of FIN.
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket fd and a correctly sized option value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

/// How the connection ends after an answer.
enum After {
    KeepAlive,
    Close,
    Reset,
}

fn handle_conn(conn: TcpStream, state: &Mutex<State>, hold: &Hold) -> io::Result<()> {
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    loop {
        let Some(req) = read_head(&mut r)? else {
            return Ok(());
        };
        let Some(ep) = Endpoint::from_path(&req.path) else {
            let mut body = vec![0; req.length];
            r.read_exact(&mut body)?;
            w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
            continue;
        };
        let fault = {
            let mut st = lock(state);
            st.calls[ep.index()] += 1;
            let nth = st.calls[ep.index()];
            let fault = st.take_fault(ep, nth);
            st.log.push(format!(
                "{} {} #{nth}{}",
                req.method,
                req.path,
                fault
                    .map(|f| format!(" fault={}", f.name()))
                    .unwrap_or_default()
            ));
            fault
        };
        if fault == Some(Fault::ResetUnread) {
            reset(&w);
            return Ok(());
        }
        let mut body = vec![0; req.length];
        r.read_exact(&mut body)?;
        let (status, headers, answer_body) = match ep {
            Endpoint::Ready => {
                let ok = !matches!(fault, Some(Fault::Status(_)));
                let mut st = lock(state);
                if ok {
                    st.readies += 1;
                    st.plan_refusal(Endpoint::Next);
                }
                (200, Vec::new(), Vec::new())
            }
            Endpoint::Next => match next_answer(state, fault) {
                Some(a) => a,
                None => (410, Vec::new(), b"drained".to_vec()),
            },
            Endpoint::Response | Endpoint::Error => {
                let mut st = lock(state);
                let refused = matches!(fault, Some(Fault::Status(_)));
                let posted = Posted { endpoint: ep, body };
                if refused {
                    st.log.push("  post refused with 5xx: not accepted".into());
                } else {
                    match st.current.take() {
                        Some(i) => st.results[i].push(posted),
                        None => st.stray.push(posted),
                    }
                    st.plan_refusal(Endpoint::Next);
                }
                (200, Vec::new(), Vec::new())
            }
        };
        let after = write_answer(&mut w, status, &headers, &answer_body, fault, state, hold)?;
        match after {
            After::KeepAlive => {}
            After::Close => {
                let _ = w.shutdown(Shutdown::Write);
                return Ok(());
            }
            After::Reset => {
                reset(&w);
                return Ok(());
            }
        }
    }
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// The answer to `next` (None: drained). Picks the current event or the next queued one.
fn next_answer(state: &Mutex<State>, fault: Option<Fault>) -> Option<Answer> {
    let limits = || {
        vec![
            ("memory_limit_in_mb".to_string(), "128".to_string()),
            ("time_limit_in_ms".to_string(), "30000".to_string()),
        ]
    };
    // No event is handed out: the current one (if any) stays as it is.
    match fault {
        Some(Fault::NoContentFor(_)) => return Some((204, Vec::new(), Vec::new())),
        Some(Fault::NoRequestIdFor(_)) => return Some((200, limits(), b"{}".to_vec())),
        _ => {}
    }
    let mut st = lock(state);
    let i = match st.current {
        Some(i) => i,
        None => {
            let i = st.queue.pop_front();
            if i.is_none() {
                st.drained = true;
                return None;
            }
            st.current = i;
            i?
        }
    };
    if matches!(fault, Some(Fault::Status(_))) {
        return Some((200, Vec::new(), Vec::new()));
    }
    let ev = st.events[i].clone();
    let id = match fault {
        Some(Fault::ReusedRequestId) if i > 0 => st.events[i - 1].id.clone(),
        _ => ev.id.clone(),
    };
    let mut headers = Vec::new();
    if fault != Some(Fault::MissingRequestId) {
        headers.push(("Request_Id".to_string(), id));
    }
    if fault == Some(Fault::DuplicateRequestIdHeader) {
        headers.push(("request_id".to_string(), "duplicate-bogus-id".to_string()));
    }
    if fault == Some(Fault::NonNumericLimits) {
        headers.push(("memory_limit_in_mb".into(), "lots".into()));
        headers.push(("time_limit_in_ms".into(), "3s".into()));
    } else {
        headers.extend(limits());
    }
    // A complete 200 counts as a delivery; the broken ones do not.
    let complete = !matches!(
        fault,
        Some(
            Fault::ResetBeforeAnswer
                | Fault::ResetMidHeaders
                | Fault::ResetMidBody
                | Fault::TruncatedBody
                | Fault::MalformedStatusLine
                | Fault::HugeHeader
                | Fault::TooManyHeaders
                | Fault::TooManyHeadersAlways
                | Fault::HugeHeaderAlways
                | Fault::HoldThenReset(_)
        )
    );
    if complete {
        st.deliveries[i] += 1;
        // A Refused fault on the post that answers this event closes the port after it.
        let post = if ev.mode == Mode::Ok {
            Endpoint::Response
        } else {
            Endpoint::Error
        };
        st.plan_refusal(post);
    }
    Some((200, headers, ev.body))
}

fn write_answer(
    w: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    fault: Option<Fault>,
    state: &Mutex<State>,
    hold: &Hold,
) -> io::Result<After> {
    if let Some(Fault::HoldThenReset(d)) = fault {
        // The behaviour under test is the wait itself: an idle poll held this long.
        thread::sleep(d);
        return Ok(After::Reset);
    }
    let (status, body): (u16, &[u8]) = match fault {
        Some(Fault::Status(s)) => (s, b"injected failure"),
        _ => (status, body),
    };
    let refuse = lock(state).refuse_after.is_some();
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\n",
        if status == 200 { "OK" } else { "Injected" }
    );
    if fault == Some(Fault::MalformedStatusLine) {
        head = "HTTP/1.1 2OO OK\r\n".to_string();
    }
    if matches!(fault, Some(Fault::HugeHeader | Fault::HugeHeaderAlways)) {
        head.push_str("X-Huge: ");
        head.push_str(&"h".repeat(70 * 1024));
        head.push_str("\r\n");
    }
    if matches!(
        fault,
        Some(Fault::TooManyHeaders | Fault::TooManyHeadersAlways)
    ) {
        // With the headers below, well over the 64 the client reads.
        for i in 0..65 {
            head.push_str(&format!("X-Pad-{i}: v\r\n"));
        }
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if matches!(
        fault,
        Some(Fault::OversizedChunked | Fault::OversizedToClose)
    ) {
        return write_oversized(w, head, fault == Some(Fault::OversizedChunked));
    }
    if fault == Some(Fault::OversizedAnnounced) {
        head.push_str(&format!("Content-Length: {ANNOUNCED_BYTES}\r\n\r\n"));
        // The client may close as soon as it has read the head: not our failure.
        let _ = w.write_all(head.as_bytes()).and_then(|()| w.flush());
        return Ok(After::Close);
    }
    // Empty bodies of post answers get a small one so that "mid-body" has a middle.
    let body: &[u8] =
        if body.is_empty() && matches!(fault, Some(Fault::ResetMidBody | Fault::TruncatedBody)) {
            b"0123456789"
        } else {
            body
        };
    if status != 204 {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if refuse {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let head = head.into_bytes();
    match fault {
        Some(Fault::ResetBeforeAnswer) => return Ok(After::Reset),
        Some(Fault::ResetMidHeaders) => {
            w.write_all(&head[..head.len() / 2])?;
            w.flush()?;
            return Ok(After::Reset);
        }
        Some(Fault::ResetMidBody | Fault::TruncatedBody) => {
            w.write_all(&head)?;
            w.write_all(&body[..body.len() / 2])?;
            w.flush()?;
            return Ok(if fault == Some(Fault::TruncatedBody) {
                After::Close
            } else {
                After::Reset
            });
        }
        Some(Fault::Delay(d)) => thread::sleep(d),
        Some(Fault::HoldBody) => {
            w.write_all(&head)?;
            w.write_all(&body[..body.len() / 2])?;
            w.flush()?;
            hold.hold(w.peer_addr().ok().map(|a| a.port()));
            w.write_all(&body[body.len() / 2..])?;
            return Ok(After::KeepAlive);
        }
        _ => {}
    }
    // The client may drop the connection mid-write (a refused huge head): not our failure.
    let written = w.write_all(&head).and_then(|()| w.write_all(body));
    if written.is_err()
        || matches!(
            fault,
            Some(Fault::MalformedStatusLine | Fault::HugeHeader | Fault::HugeHeaderAlways)
        )
        || refuse
    {
        return Ok(After::Close);
    }
    Ok(After::KeepAlive)
}

/// An event body of [`OVERSIZED_BYTES`], chunked or framed by the connection's close. The client
/// is expected to stop reading and close: a write error then ends the answer.
fn write_oversized(w: &mut TcpStream, mut head: String, chunked: bool) -> io::Result<After> {
    head.push_str(if chunked {
        "Transfer-Encoding: chunked\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    let chunk = vec![b'x'; 1024 * 1024];
    let mut written = w.write_all(head.as_bytes());
    for _ in 0..OVERSIZED_BYTES / chunk.len() {
        if written.is_err() {
            break;
        }
        written = if chunked {
            w.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .and_then(|()| w.write_all(&chunk))
                .and_then(|()| w.write_all(b"\r\n"))
        } else {
            w.write_all(&chunk)
        };
    }
    if written.is_ok() && chunked {
        let _ = w.write_all(b"0\r\n\r\n");
    }
    Ok(After::Close)
}
