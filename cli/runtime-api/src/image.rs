//! The platform side of an image-deployed function (docs/platform.md section 6), without process
//! management: wait until the function's HTTP server listens, then post each event to
//! `POST /event-invoke` with the `X-Scf-*` headers and read the answer, within the timeout.
//!
//! The HTTP client is hyper's (`client::conn::http1` over a tokio `TcpStream`, on a
//! current-thread runtime per event), so the emulator's side parses no HTTP of its own: a
//! malformed answer (a chunk size over 64 bits, a chunk without its CRLF, a head over
//! [`MAX_HEAD_BYTES`]) is hyper's error, reported as [`Answer::Malformed`].
//!
//! One connection per event (`Connection: close`), so a server that closes idle connections can
//! never lose an event between two invocations. Bodies over 1 MiB are announced with
//! `Expect: 100-continue` (as curl does) and held back until the server's `100 Continue` (or one
//! second without an answer), so a server that refuses them (413) can say so before the body
//! is on the wire, and that refusal is what gets reported.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HOST, HeaderName, HeaderValue, USER_AGENT,
};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::{oneshot, watch};

use crate::WaitError;

/// The path SCF posts events to.
pub const EVENT_INVOKE_PATH: &str = "/event-invoke";
/// Bodies larger than this are announced with `Expect: 100-continue`.
const EXPECT_CONTINUE_OVER: usize = 1024 * 1024;
/// How long to wait for `100 Continue` before sending the body anyway (RFC 9110 15.2.1; curl
/// waits one second too).
const CONTINUE_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between two connection attempts while the server is not listening yet.
const MAX_PROBE_INTERVAL: Duration = Duration::from_millis(50);
/// An answer whose head (status line and headers) has not ended once this much of it is read is
/// malformed (hyper's read buffer limit: a head that arrives whole with a read may be a little
/// longer).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The port SCF's image functions listen on (`0.0.0.0:9000`).
pub const SCF_IMAGE_PORT: u16 = 9000;

/// The port of one instance's HTTP server, and what the supervisor knows about it.
///
/// The server is told to listen on one address (`SCFRUNTIME_LISTEN`); an image built for SCF
/// listens on port 9000 instead, which [`with_alternative`](Self::with_alternative) also
/// accepts, once the listener there is shown to be the function's.
///
/// `Send + Sync`: one thread may block in [`invoke`](Self::invoke) or
/// [`wait_listening`](Self::wait_listening) while another calls [`abort`](Self::abort).
pub struct ImagePort {
    addr: SocketAddr,
    /// Another address the server may listen on instead (127.0.0.1:9000).
    alternative: Option<SocketAddr>,
    /// The address that answered the wait: where events go.
    answered: OnceLock<SocketAddr>,
    /// A listener on the alternative address was found that is not the function's.
    alternative_taken: AtomicBool,
    /// Whether the bootstrap exited.
    aborted: Mutex<bool>,
    /// Wakes `wait_listening` and the waits for the exit when the bootstrap exits.
    cond: Condvar,
    /// The same, for the exchange in flight (it cuts the connection short).
    exited: watch::Sender<bool>,
}

/// How one `POST /event-invoke` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The server answered with this status and body.
    Status {
        /// The HTTP status.
        status: u16,
        /// The whole body.
        body: Vec<u8>,
    },
    /// The answer's body is over the response limit (it was not read in full).
    TooLarge {
        /// Its size as declared, or as far as it was read.
        size: u64,
    },
    /// No answer within the timeout.
    TimedOut,
    /// The connection failed or closed without an answer, and the bootstrap was still running
    /// when the timeout passed: no result in time, as for [`Answer::TimedOut`]; says why.
    Closed(String),
    /// The server's answer is not valid HTTP/1.1 (a malformed head or chunk, a head over
    /// [`MAX_HEAD_BYTES`]); says what was wrong.
    Malformed(String),
    /// The bootstrap exited before answering.
    Aborted,
}

/// [`Answer`] plus the timing the supervisor needs for Duration.
#[derive(Debug)]
pub struct Exchange {
    /// How it ended.
    pub answer: Answer,
    /// When the request was written (the event is on its way).
    pub sent_at: Instant,
    /// When the answer was read in full, or the failure noticed.
    pub finished_at: Instant,
}

impl Exchange {
    /// Time from sending the request to the end of the exchange.
    pub fn duration(&self) -> Duration {
        self.finished_at.saturating_duration_since(self.sent_at)
    }
}

/// Why an exchange ended without an answer.
enum Failure {
    /// The connection could not be made.
    Connect(io::Error),
    /// The connection failed or closed before the answer was complete: the server may be
    /// going away (its process exiting).
    Connection(String),
    /// The answer broke the protocol.
    Malformed(String),
}

impl ImagePort {
    /// The platform side of a server that will listen on `addr`.
    pub fn new(addr: SocketAddr) -> ImagePort {
        ImagePort {
            addr,
            alternative: None,
            answered: OnceLock::new(),
            alternative_taken: AtomicBool::new(false),
            aborted: Mutex::new(false),
            cond: Condvar::new(),
            exited: watch::Sender::new(false),
        }
    }

    /// The platform side of a server told to listen on `addr` that may listen on
    /// `alternative` instead (SCF's port 9000, when it was free): see
    /// [`wait_listening_owned`](Self::wait_listening_owned).
    pub fn with_alternative(addr: SocketAddr, alternative: SocketAddr) -> ImagePort {
        ImagePort {
            alternative: Some(alternative),
            ..ImagePort::new(addr)
        }
    }

    /// Where events go: the address that answered the wait, else the one the server was told
    /// to listen on.
    pub fn addr(&self) -> SocketAddr {
        self.answered.get().copied().unwrap_or(self.addr)
    }

    /// The address the function's server was told to listen on (`SCFRUNTIME_LISTEN`).
    pub fn listen_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The alternative address, if any.
    pub fn alternative(&self) -> Option<SocketAddr> {
        self.alternative
    }

    /// Whether, while waiting, the alternative address was found listening in a process that
    /// is not the function's (so it was no longer watched).
    pub fn alternative_taken(&self) -> bool {
        self.alternative_taken.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, bool> {
        self.aborted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bootstrap exited: wake the waits, cut the exchange in flight short. Sticky.
    pub fn abort(&self) {
        *self.lock() = true;
        self.exited.send_replace(true);
        self.cond.notify_all();
    }

    /// Wait on the condition variable until `deadline`; `true` when the bootstrap exited.
    fn wait_aborted(&self, deadline: Instant) -> bool {
        let mut aborted = self.lock();
        loop {
            if *aborted {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            aborted = self
                .cond
                .wait_timeout(aborted, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Blocks until a connection to the port succeeds (`Ok`; SCF's health check is the same),
    /// `timeout` passes ([`WaitError::TimedOut`]) or the bootstrap exits
    /// ([`WaitError::Aborted`]). Between attempts it waits 1 ms, doubling up to 50 ms, woken at
    /// once by an exit. The alternative address, if any, is not watched: see
    /// [`wait_listening_owned`](Self::wait_listening_owned).
    pub fn wait_listening(&self, timeout: Duration) -> Result<(), WaitError> {
        self.wait_listening_owned(timeout, &|_| false)
    }

    /// [`wait_listening`](Self::wait_listening) on the address the server was told to use and
    /// on the alternative one, whichever accepts a connection first; the alternative counts
    /// only when `owns(port)` says the listener on that port is the function's (a listener
    /// there that is not makes [`alternative_taken`](Self::alternative_taken) true, and the
    /// alternative is no longer watched). Events then go to the address that answered
    /// ([`addr`](Self::addr)).
    pub fn wait_listening_owned(
        &self,
        timeout: Duration,
        owns: &dyn Fn(u16) -> bool,
    ) -> Result<(), WaitError> {
        let deadline = Instant::now() + timeout;
        let mut interval = Duration::from_millis(1);
        loop {
            if *self.lock() {
                return Err(WaitError::Aborted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WaitError::TimedOut);
            }
            if std::net::TcpStream::connect_timeout(&self.addr, left.min(Duration::from_secs(1)))
                .is_ok()
            {
                let _ = self.answered.set(self.addr);
                return Ok(());
            }
            if let Some(alt) = self.alternative.filter(|_| !self.alternative_taken())
                && std::net::TcpStream::connect_timeout(&alt, left.min(Duration::from_secs(1)))
                    .is_ok()
            {
                if owns(alt.port()) {
                    let _ = self.answered.set(alt);
                    return Ok(());
                }
                self.alternative_taken.store(true, Ordering::SeqCst);
            }
            let pause = (Instant::now() + interval).min(deadline);
            if self.wait_aborted(pause) {
                return Err(WaitError::Aborted);
            }
            interval = (interval * 2).min(MAX_PROBE_INTERVAL);
        }
    }

    /// Post `event` with `headers` and wait, at most `timeout` from the moment the request is
    /// sent, for the whole answer; a body over `max_body` is not read.
    ///
    /// A connection that fails or closes without an answer counts as the bootstrap's exit when
    /// it exits before the timeout ([`Answer::Aborted`]), else as [`Answer::Closed`]: no result
    /// in time. An answer that breaks the protocol is [`Answer::Malformed`] at once.
    pub fn invoke(
        &self,
        event: &[u8],
        headers: &[(String, String)],
        timeout: Duration,
        max_body: usize,
    ) -> Exchange {
        let started = Instant::now();
        let deadline = started + timeout;
        let ending = |answer, sent_at| Exchange {
            answer,
            sent_at,
            finished_at: Instant::now(),
        };
        if *self.lock() {
            return ending(Answer::Aborted, started);
        }
        let runtime = match client_runtime() {
            Ok(rt) => rt,
            Err(why) => return ending(Answer::Closed(why), started),
        };
        let request = Post {
            addr: self.addr(),
            event: Bytes::copy_from_slice(event),
            headers,
            max_body,
        };
        let (result, sent_at) = runtime.block_on(self.post(request, deadline, started));
        drop(runtime);
        let answer = match result {
            Ok(answer) => answer,
            Err(Failure::Malformed(why)) => Answer::Malformed(why),
            Err(Failure::Connect(e)) => {
                // Listening a moment ago, refused now: it is going away; wait for the exit.
                if self.wait_aborted(deadline) {
                    Answer::Aborted
                } else {
                    Answer::Closed(format!("cannot connect to {}: {e}", self.addr()))
                }
            }
            Err(Failure::Connection(why)) => {
                if self.wait_aborted(deadline) {
                    Answer::Aborted
                } else {
                    Answer::Closed(format!("no answer on the connection: {why}"))
                }
            }
        };
        // An answer that raced with the exit is still the answer.
        ending(answer, sent_at)
    }

    /// Connects and runs the exchange until the deadline or the bootstrap's exit; returns how it
    /// ended and when the request started on its way.
    async fn post(
        &self,
        request: Post<'_>,
        deadline: Instant,
        started: Instant,
    ) -> (Result<Answer, Failure>, Instant) {
        self.exchange_on(
            deadline,
            started,
            Answer::TimedOut,
            Answer::Aborted,
            |stream| request.exchange(stream),
        )
        .await
    }

    /// Connects to [`addr`](Self::addr) and runs `exchange` on the connection until `deadline`
    /// (then `timed_out`) or the bootstrap's exit (then `aborted`); returns how it ended and when
    /// the request started on its way.
    async fn exchange_on<T, F, Fut>(
        &self,
        deadline: Instant,
        started: Instant,
        timed_out: T,
        aborted: T,
        exchange: F,
    ) -> (Result<T, Failure>, Instant)
    where
        F: FnOnce(tokio::net::TcpStream) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let deadline = tokio::time::Instant::from_std(deadline);
        let stream =
            match tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(self.addr()))
                .await
            {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return (Err(Failure::Connect(e)), started),
                Err(_) => {
                    let e = io::Error::new(io::ErrorKind::TimedOut, "connection timed out");
                    return (Err(Failure::Connect(e)), started);
                }
            };
        let sent_at = Instant::now();
        let mut exited = self.exited.subscribe();
        let result = tokio::select! {
            // Whatever is complete wins over the exit.
            biased;
            done = tokio::time::timeout_at(deadline, exchange(stream)) => {
                done.unwrap_or(Ok(timed_out))
            }
            _ = exited.wait_for(|exited| *exited) => Ok(aborted),
        };
        (result, sent_at)
    }

    /// Passes one HTTP request of a web function on to its server as it came (plus `headers`,
    /// the platform's `X-Scf-*`, which replace any the client sent) and waits, at most `timeout`
    /// from the moment it is sent, for the whole answer; a body over `max_body` is not read
    /// (docs/triggers.md, "Web functions").
    ///
    /// Hop-by-hop headers (`Connection`, `Keep-Alive`, `Transfer-Encoding`, `TE`, `Upgrade`,
    /// `Proxy-*`) are not passed on either way: each request gets a connection of its own
    /// (`Connection: close`), and the answer's body arrives whole. A connection that fails or
    /// closes without an answer is [`Forwarded::Aborted`] when the bootstrap exits within
    /// [`EXIT_GRACE`] (or the timeout, if sooner), else [`Forwarded::Closed`].
    pub fn forward(
        &self,
        request: &ForwardRequest,
        headers: &[(String, String)],
        timeout: Duration,
        max_body: usize,
    ) -> ForwardExchange {
        let started = Instant::now();
        let deadline = started + timeout;
        let ending = |answer, sent_at| ForwardExchange {
            answer,
            sent_at,
            finished_at: Instant::now(),
        };
        if *self.lock() {
            return ending(Forwarded::Aborted, started);
        }
        let runtime = match client_runtime() {
            Ok(rt) => rt,
            Err(why) => return ending(Forwarded::Closed(why), started),
        };
        let addr = self.addr();
        let (result, sent_at) = runtime.block_on(self.exchange_on(
            deadline,
            started,
            Forwarded::TimedOut,
            Forwarded::Aborted,
            |stream| forward_on(stream, addr, request, headers, max_body),
        ));
        drop(runtime);
        let grace = (Instant::now() + EXIT_GRACE).min(deadline);
        let answer = match result {
            Ok(answer) => answer,
            Err(Failure::Malformed(why)) => Forwarded::Malformed(why),
            Err(Failure::Connect(e)) => {
                if self.wait_aborted(grace) {
                    Forwarded::Aborted
                } else {
                    Forwarded::Closed(format!("cannot connect to {addr}: {e}"))
                }
            }
            Err(Failure::Connection(why)) => {
                if self.wait_aborted(grace) {
                    Forwarded::Aborted
                } else {
                    Forwarded::Closed(format!("no answer on the connection: {why}"))
                }
            }
        };
        ending(answer, sent_at)
    }
}

/// The runtime one exchange with an image or web function's server runs on.
fn client_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the HTTP client: {e}"))
}

/// How long [`ImagePort::forward`] waits for the bootstrap's exit after its server dropped a
/// connection, to tell a crash from a server that closes connections unanswered.
pub const EXIT_GRACE: Duration = Duration::from_millis(500);

/// One HTTP request to pass on to a web function's server ([`ImagePort::forward`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardRequest {
    /// The method, as received.
    pub method: String,
    /// The request target in origin form: the path and the query, as received (`/a/b?x=1`).
    pub target: String,
    /// The headers, names and raw values, in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The whole body.
    pub body: Vec<u8>,
}

/// How one forwarded request ended ([`ImagePort::forward`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarded {
    /// The server answered.
    Response {
        /// The HTTP status.
        status: u16,
        /// The headers but the hop-by-hop ones, names in lower case, raw values, in order.
        headers: Vec<(String, Vec<u8>)>,
        /// The whole body (chunks joined).
        body: Vec<u8>,
    },
    /// The answer's body is over the limit (it was not read in full).
    TooLarge {
        /// Its size as declared, or as far as it was read.
        size: u64,
    },
    /// No answer within the timeout.
    TimedOut,
    /// The connection failed or closed without an answer while the bootstrap kept running;
    /// says why.
    Closed(String),
    /// The answer is not valid HTTP/1.1; says what was wrong.
    Malformed(String),
    /// The bootstrap exited before answering.
    Aborted,
}

/// [`Forwarded`] plus the timing the supervisor needs for Duration.
#[derive(Debug)]
pub struct ForwardExchange {
    /// How it ended.
    pub answer: Forwarded,
    /// When the request was written.
    pub sent_at: Instant,
    /// When the answer was read in full, or the failure noticed.
    pub finished_at: Instant,
}

impl ForwardExchange {
    /// Time from sending the request to the end of the exchange.
    pub fn duration(&self) -> Duration {
        self.finished_at.saturating_duration_since(self.sent_at)
    }
}

/// Whether a header is hop-by-hop (RFC 9110 7.6.1), so a proxy does not pass it on.
pub fn is_hop_by_hop(name: &str) -> bool {
    const HOP: [&str; 6] = [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "trailer",
    ];
    let lower = name.to_ascii_lowercase();
    HOP.contains(&lower.as_str()) || lower.starts_with("proxy-")
}

/// Writes `request` on `stream` and reads the answer.
async fn forward_on(
    stream: tokio::net::TcpStream,
    addr: SocketAddr,
    request: &ForwardRequest,
    extra: &[(String, String)],
    max_body: usize,
) -> Result<Forwarded, Failure> {
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .max_buf_size(MAX_HEAD_BYTES)
        .handshake::<_, EventBody>(TokioIo::new(stream))
        .await
        .map_err(classify)?;
    tokio::spawn(connection);
    let method = hyper::Method::from_bytes(request.method.as_bytes())
        .map_err(|e| Failure::Connection(format!("invalid method {:?}: {e}", request.method)))?;
    let target = if request.target.starts_with('/') {
        request.target.as_str()
    } else {
        "/"
    };
    let mut req = Request::builder()
        .method(method)
        .uri(target)
        .body(EventBody {
            data: Some(Bytes::copy_from_slice(&request.body)),
            gate: None,
        })
        .map_err(|e| Failure::Connection(format!("cannot build the request: {e}")))?;
    let mut had_length = false;
    for (name, value) in &request.headers {
        let lower = name.to_ascii_lowercase();
        if is_hop_by_hop(&lower) || lower.starts_with("x-scf-") || lower == "expect" {
            continue;
        }
        if lower == "content-length" {
            had_length = true;
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            req.headers_mut().append(name, value);
        }
    }
    if !req.headers().contains_key(HOST)
        && let Ok(host) = HeaderValue::from_str(&addr.to_string())
    {
        req.headers_mut().insert(HOST, host);
    }
    if had_length || !request.body.is_empty() {
        req.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(request.body.len()));
    }
    req.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    for (name, value) in extra {
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            req.headers_mut().append(name, value);
        }
    }
    let response = sender.send_request(req).await.map_err(classify)?;
    let status = response.status().as_u16();
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(size) = declared.filter(|size| *size > max_body as u64) {
        return Ok(Forwarded::TooLarge { size });
    }
    let headers: Vec<(String, Vec<u8>)> = response
        .headers()
        .iter()
        .filter(|(name, _)| !is_hop_by_hop(name.as_str()))
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let mut incoming = response.into_body();
    let mut body = Vec::new();
    while let Some(frame) = incoming.frame().await {
        let Ok(data) = frame.map_err(classify)?.into_data() else {
            continue; // trailers
        };
        let size = body.len().saturating_add(data.len());
        if size > max_body {
            return Ok(Forwarded::TooLarge { size: size as u64 });
        }
        body.extend_from_slice(&data);
    }
    Ok(Forwarded::Response {
        status,
        headers,
        body,
    })
}

/// One `POST /event-invoke`.
struct Post<'a> {
    addr: SocketAddr,
    event: Bytes,
    headers: &'a [(String, String)],
    max_body: usize,
}

impl Post<'_> {
    /// Write the request and read the answer on `stream`.
    async fn exchange(self, stream: tokio::net::TcpStream) -> Result<Answer, Failure> {
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .title_case_headers(true)
            .max_buf_size(MAX_HEAD_BYTES)
            .handshake::<_, EventBody>(TokioIo::new(stream))
            .await
            .map_err(classify)?;
        // The connection's own outcome reaches us through the answer; the task ends with the
        // runtime at the latest.
        tokio::spawn(connection);
        let expect = self.event.len() > EXPECT_CONTINUE_OVER;
        let (go, gate) = if expect {
            let (tx, rx) = oneshot::channel();
            let timer = Box::pin(tokio::time::sleep(CONTINUE_WAIT));
            (Some(tx), Some(Gate { go: rx, timer }))
        } else {
            (None, None)
        };
        let len = self.event.len();
        let mut req = Request::post(EVENT_INVOKE_PATH)
            .header(HOST, self.addr.to_string())
            .header(
                USER_AGENT,
                concat!("scfrt/", env!("CARGO_PKG_VERSION")).to_string(),
            )
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_LENGTH, len)
            .header(CONNECTION, "close")
            .body(EventBody {
                data: Some(self.event),
                gate,
            })
            .map_err(|e| Failure::Connection(format!("cannot build the request: {e}")))?;
        for (name, value) in self.headers {
            // A header value cannot hold control characters (CR/LF would end it early).
            let value: String = value.chars().filter(|c| !c.is_control()).collect();
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                req.headers_mut().append(name, value);
            }
        }
        if let Some(go) = go {
            req.headers_mut()
                .insert(EXPECT, HeaderValue::from_static("100-continue"));
            let go = Mutex::new(Some(go));
            hyper::ext::on_informational(&mut req, move |res| {
                if res.status() == StatusCode::CONTINUE
                    && let Some(tx) = go.lock().unwrap_or_else(PoisonError::into_inner).take()
                {
                    let _ = tx.send(());
                }
            });
        }
        let response = sender.send_request(req).await.map_err(classify)?;
        let status = response.status().as_u16();
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(size) = declared.filter(|size| *size > self.max_body as u64) {
            return Ok(Answer::TooLarge { size });
        }
        let mut incoming = response.into_body();
        let mut body = Vec::new();
        while let Some(frame) = incoming.frame().await {
            let Ok(data) = frame.map_err(classify)?.into_data() else {
                continue; // trailers
            };
            let size = body.len().saturating_add(data.len());
            if size > self.max_body {
                return Ok(Answer::TooLarge { size: size as u64 });
            }
            body.extend_from_slice(&data);
        }
        Ok(Answer::Status { status, body })
    }
}

/// The inodes of the TCP sockets listening on `port`, on any address, IPv4 or IPv6
/// (`tcp` and `tcp6` of the calling thread's network namespace, which the functions it starts
/// share; `/proc/thread-self/net`, since a thread may have a namespace of its own). A table
/// that cannot be read counts as empty; both unreadable is an error.
pub fn listening_socket_inodes(port: u16) -> io::Result<Vec<u64>> {
    let mut inodes = Vec::new();
    let mut read_any = None;
    for table in ["/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"] {
        match std::fs::read_to_string(table) {
            Ok(text) => {
                read_any = Some(Ok(()));
                inodes.extend(parse_listening(&text, port));
            }
            Err(e) => {
                read_any.get_or_insert(Err(e));
            }
        }
    }
    match read_any {
        Some(Err(e)) => Err(e),
        _ => Ok(inodes),
    }
}

/// The inodes of the rows of a `/proc/net/tcp{,6}` table that listen (state `0A`) on `port`.
fn parse_listening(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|row| {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid
            // timeout inode ...
            let fields: Vec<&str> = row.split_whitespace().collect();
            let local_port = fields.get(1)?.rsplit(':').next()?;
            let listening = *fields.get(3)? == "0A";
            let inode = fields.get(9)?.parse::<u64>().ok()?;
            (listening && u16::from_str_radix(local_port, 16).ok()? == port && inode != 0)
                .then_some(inode)
        })
        .collect()
}

/// Whether process `pid` has one of the sockets `inodes` open (its `/proc/PID/fd` links read
/// `socket:[INODE]`).
pub fn process_holds_socket(pid: i32, inodes: &[u64]) -> bool {
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|target| {
            target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|inode| inodes.contains(&inode))
        })
    })
}

/// A hyper error as a [`Failure`]: the protocol broken (a parse error of the head, an invalid
/// chunk) or the connection lost.
fn classify(e: hyper::Error) -> Failure {
    let mut why = e.to_string();
    let mut malformed = e.is_parse();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        why.push_str(": ");
        why.push_str(&cause.to_string());
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            malformed |= matches!(
                io.kind(),
                io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput
            );
        }
        source = cause.source();
    }
    if malformed {
        Failure::Malformed(why)
    } else {
        Failure::Connection(why)
    }
}

/// The event as a request body: one frame, held back behind a [`Gate`] when the request
/// carries `Expect: 100-continue`.
struct EventBody {
    data: Option<Bytes>,
    gate: Option<Gate>,
}

/// Opens on the server's `100 Continue` or when [`CONTINUE_WAIT`] has passed.
struct Gate {
    go: oneshot::Receiver<()>,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if let Some(gate) = this.gate.as_mut() {
            // A dropped sender (no 100 is coming through this request any more) opens it too.
            let open = Pin::new(&mut gate.go).poll(cx).is_ready()
                || gate.timer.as_mut().poll(cx).is_ready();
            if !open {
                return Poll::Pending;
            }
            this.gate = None;
        }
        Poll::Ready(this.data.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A one-shot server: reads the request head (and body when `read_body`), then writes
    /// `answer` (as far as the client reads it) and closes.
    fn one_shot(
        answer: impl AsRef<[u8]> + Send + 'static,
        read_body: bool,
    ) -> (SocketAddr, std::thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            if read_body {
                let text = String::from_utf8_lossy(&got).to_string();
                let len: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                while got.len() < head_end + len {
                    let n = s.read(&mut buf).unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
            }
            // A client that stops reading (an answer over the limit) closes the connection.
            let _ = s.write_all(answer.as_ref());
            got
        });
        (addr, t)
    }

    fn invoke(addr: SocketAddr, event: &[u8], max_body: usize) -> Answer {
        let port = ImagePort::new(addr);
        let headers = vec![(
            "X-Scf-Request-Id".to_string(),
            "id\r\nX-Evil: 1".to_string(),
        )];
        port.invoke(event, &headers, Duration::from_secs(20), max_body)
            .answer
    }

    #[test]
    fn content_length_chunked_and_eof_answers() {
        let (addr, t) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true);
        assert_eq!(
            invoke(addr, b"{}", 100),
            Answer::Status {
                status: 200,
                body: b"hello".to_vec()
            }
        );
        let request = String::from_utf8(t.join().unwrap()).unwrap();
        assert!(
            request.starts_with("POST /event-invoke HTTP/1.1\r\n"),
            "{request}"
        );
        // Control characters are dropped from header values: no header injection.
        assert!(
            request.contains("X-Scf-Request-Id: idX-Evil: 1\r\n"),
            "{request}"
        );
        assert!(request.ends_with("\r\n\r\n{}"), "{request}");

        let (addr, _) = one_shot(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            true,
        );
        assert_eq!(
            invoke(addr, b"{}", 100),
            Answer::Status {
                status: 500,
                body: b"abcde".to_vec()
            }
        );
        let (addr, _) = one_shot(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", true);
        assert_eq!(
            invoke(addr, b"{}", 100),
            Answer::Status {
                status: 200,
                body: b"until the end".to_vec()
            }
        );
        let (addr, _) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", true);
        assert_eq!(invoke(addr, b"{}", 100), Answer::TooLarge { size: 101 });
    }

    #[test]
    fn forward_passes_the_request_on_and_the_answer_back() {
        let (addr, t) = one_shot(
            b"HTTP/1.1 201 Created\r\nConnection: keep-alive\r\nSet-Cookie: a=1\r\n\
              Set-Cookie: b=2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n\x00\xff\r\n0\r\n\r\n",
            true,
        );
        let port = ImagePort::new(addr);
        let request = ForwardRequest {
            method: "PATCH".into(),
            target: "/a/b?q=%20&x".into(),
            headers: vec![
                ("Host".into(), b"example.test".to_vec()),
                ("Connection".into(), b"keep-alive".to_vec()),
                ("X-Scf-Name".into(), b"spoofed".to_vec()),
                ("X-Two".into(), b"1".to_vec()),
                ("X-Two".into(), b"2".to_vec()),
                ("Content-Length".into(), b"3".to_vec()),
            ],
            body: b"abc".to_vec(),
        };
        let extra = vec![("X-Scf-Name".to_string(), "fn".to_string())];
        let exchange = port.forward(&request, &extra, Duration::from_secs(20), 100);
        assert_eq!(
            exchange.answer,
            Forwarded::Response {
                status: 201,
                headers: vec![
                    ("set-cookie".into(), b"a=1".to_vec()),
                    ("set-cookie".into(), b"b=2".to_vec()),
                ],
                body: vec![0x00, 0xff],
            }
        );
        let sent = String::from_utf8(t.join().unwrap()).unwrap();
        assert!(
            sent.starts_with("PATCH /a/b?q=%20&x HTTP/1.1\r\n"),
            "{sent}"
        );
        assert!(sent.contains("Host: example.test\r\n"), "{sent}");
        assert!(sent.contains("X-Two: 1\r\nX-Two: 2\r\n"), "{sent}");
        assert!(sent.contains("Connection: close\r\n"), "{sent}");
        assert!(!sent.contains("keep-alive"), "{sent}");
        assert!(!sent.contains("spoofed"), "{sent}");
        assert!(sent.contains("X-Scf-Name: fn\r\n"), "{sent}");
        assert!(sent.ends_with("\r\n\r\nabc"), "{sent}");
        // An answer over the limit is not read in full.
        let (addr, _) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", true);
        let answer = ImagePort::new(addr)
            .forward(&request, &[], Duration::from_secs(20), 100)
            .answer;
        assert_eq!(answer, Forwarded::TooLarge { size: 101 });
    }

    #[test]
    fn a_large_body_waits_for_continue_and_an_early_refusal_wins() {
        // The server answers 413 to the head alone: the body is never sent.
        let (addr, t) = one_shot(
            b"HTTP/1.1 413 Too Large\r\nContent-Length: 2\r\n\r\nno",
            false,
        );
        let event = vec![b'x'; EXPECT_CONTINUE_OVER + 1];
        assert_eq!(
            invoke(addr, &event, 100),
            Answer::Status {
                status: 413,
                body: b"no".to_vec()
            }
        );
        let request = t.join().unwrap();
        let text = String::from_utf8_lossy(&request);
        assert!(text.contains("Expect: 100-continue\r\n"), "{text}");
        assert!(
            text.ends_with("\r\n\r\n"),
            "the body was sent: {} bytes",
            request.len()
        );
    }

    #[test]
    fn waiting_for_the_port_ends_on_abort_or_timeout() {
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let port = std::sync::Arc::new(ImagePort::new(free));
        assert_eq!(
            port.wait_listening(Duration::from_millis(30)),
            Err(WaitError::TimedOut)
        );
        let waiter = std::sync::Arc::clone(&port);
        let t = std::thread::spawn(move || waiter.wait_listening(Duration::from_secs(60)));
        port.abort();
        assert_eq!(t.join().unwrap(), Err(WaitError::Aborted));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = ImagePort::new(listener.local_addr().unwrap());
        assert_eq!(open.wait_listening(Duration::from_secs(20)), Ok(()));
    }

    #[test]
    fn the_alternative_address_counts_only_when_the_function_owns_it() {
        let free = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let alt = other.local_addr().unwrap();
        // Listening there, but not the function's: not taken, and no longer watched.
        let port = ImagePort::with_alternative(free, alt);
        assert_eq!(
            port.wait_listening_owned(Duration::from_millis(100), &|_| false),
            Err(WaitError::TimedOut)
        );
        assert!(port.alternative_taken());
        assert_eq!(port.addr(), free);
        // The function's: events go there.
        let port = ImagePort::with_alternative(free, alt);
        let asked = Mutex::new(Vec::new());
        let owns = |p: u16| {
            asked.lock().unwrap().push(p);
            true
        };
        assert_eq!(
            port.wait_listening_owned(Duration::from_secs(20), &owns),
            Ok(())
        );
        assert_eq!(port.addr(), alt);
        assert_eq!(port.listen_addr(), free);
        assert!(!port.alternative_taken());
        assert_eq!(*asked.lock().unwrap(), vec![alt.port()]);
        // The address the server was told to use wins, and needs no ownership check.
        let told = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = ImagePort::with_alternative(told.local_addr().unwrap(), alt);
        assert_eq!(
            port.wait_listening_owned(Duration::from_secs(20), &|_| panic!("not asked")),
            Ok(())
        );
        assert_eq!(port.addr(), told.local_addr().unwrap());
    }

    #[test]
    fn listening_sockets_are_found_in_proc_with_their_process() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            \x20  0: 00000000:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n\
            \x20  1: 0100007F:2328 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1\n\
            \x20  2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0\n";
        // Only the listening row of port 9000 (0x2328): not the connection, not port 8080.
        assert_eq!(parse_listening(table, 9000), vec![4242]);
        assert_eq!(parse_listening(table, 8080), vec![4444]);
        assert!(parse_listening(table, 9001).is_empty());

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let inodes = listening_socket_inodes(port).unwrap();
        assert_eq!(inodes.len(), 1, "{inodes:?}");
        let me = std::process::id() as i32;
        assert!(process_holds_socket(me, &inodes));
        // The init process has no socket of ours.
        assert!(!process_holds_socket(1, &inodes));
        drop(listener);
        assert_eq!(listening_socket_inodes(port).unwrap(), Vec::<u64>::new());
        assert!(!process_holds_socket(me, &inodes));
    }

    /// The body of an answer of `n` one-byte chunks.
    fn tiny_chunks(n: usize) -> Vec<u8> {
        let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..n {
            answer.extend_from_slice(b"1\r\na\r\n");
        }
        answer.extend_from_slice(b"0\r\n\r\n");
        answer
    }

    fn malformed(answer: Vec<u8>) -> String {
        let (addr, _) = one_shot(answer, true);
        match invoke(addr, b"{}", 6 * 1024 * 1024) {
            Answer::Malformed(why) => why,
            other => panic!("not reported as malformed: {other:?}"),
        }
    }

    #[test]
    fn hostile_answers_are_errors_not_panics() {
        const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        // A chunk size over 64 bits overflows hyper's u64: malformed.
        let why = malformed([CHUNKED, b"fffffffffffffffff\r\nabc\r\n0\r\n\r\n"].concat());
        assert!(why.contains("invalid chunk size: overflow"), "{why}");
        // The largest 64-bit size is a valid number, of a chunk over any limit: its data is
        // read up to the limit, and no further (after a first chunk: the old client added the
        // two sizes and overflowed).
        let data = vec![b'x'; 200];
        let answer = [CHUNKED, b"3\r\nabc\r\nffffffffffffffff\r\n", &data].concat();
        let (addr, _) = one_shot(answer, true);
        assert_eq!(invoke(addr, b"{}", 100), Answer::TooLarge { size: 203 });
        // Chunk data not followed by CRLF.
        let why = malformed([CHUNKED, b"3\r\nabcXY0\r\n\r\n"].concat());
        assert!(why.contains("Invalid chunk body CR"), "{why}");
        // A head over the limit; one of a quarter of it is fine.
        let head = |len: usize| {
            format!(
                "HTTP/1.1 200 OK\r\nX-Long: {}\r\nContent-Length: 2\r\n\r\nok",
                "a".repeat(len)
            )
        };
        let why = malformed(head(4 * MAX_HEAD_BYTES).into_bytes());
        assert!(why.contains("message head is too large"), "{why}");
        let (addr, _) = one_shot(head(MAX_HEAD_BYTES / 4), true);
        assert_eq!(
            invoke(addr, b"{}", 100),
            Answer::Status {
                status: 200,
                body: b"ok".to_vec()
            }
        );
        // Not HTTP at all.
        let why = malformed(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec());
        assert!(why.contains("invalid HTTP version"), "{why}");
        // 200 000 one-byte chunks arrive whole (read in linear time).
        let (addr, _) = one_shot(tiny_chunks(200_000), true);
        assert_eq!(
            invoke(addr, b"{}", 1024 * 1024),
            Answer::Status {
                status: 200,
                body: vec![b'a'; 200_000]
            }
        );
    }
}
