//! The platform side of an image-deployed function (protocol.md section 6), without process
//! management: wait until the function's HTTP server listens, then post each event to
//! `POST /event-invoke` with the `X-Scf-*` headers and read the answer, within the timeout.
//!
//! One connection per event (`Connection: close`), so a server that closes idle connections can
//! never lose an event between two invocations. Bodies over 1 MiB are sent after
//! `Expect: 100-continue` (as curl does), so a server that refuses them (413) can say so before
//! the body is on the wire, and that refusal is what gets reported.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::runtime_api::WaitError;

/// The path SCF posts events to.
pub const EVENT_INVOKE_PATH: &str = "/event-invoke";
/// Bodies larger than this are announced with `Expect: 100-continue`.
const EXPECT_CONTINUE_OVER: usize = 1024 * 1024;
/// How long to wait for `100 Continue` before sending the body anyway (RFC 9110 15.2.1; curl
/// waits one second too).
const CONTINUE_WAIT: Duration = Duration::from_secs(1);
/// The longest wait between two connection attempts while the server is not listening yet.
const MAX_PROBE_INTERVAL: Duration = Duration::from_millis(50);
/// Headers of an answer longer than this are refused as malformed.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The port of one instance's HTTP server, and what the supervisor knows about it.
///
/// `Send + Sync`: one thread may block in [`invoke`](Self::invoke) or
/// [`wait_listening`](Self::wait_listening) while another calls [`abort`](Self::abort).
pub struct ImagePort {
    addr: SocketAddr,
    state: Mutex<PortState>,
    /// Wakes `wait_listening` and `invoke` when the bootstrap exits.
    cond: Condvar,
}

#[derive(Default)]
struct PortState {
    aborted: bool,
    /// The connection of the event in flight, so `abort` can cut a blocked read short.
    conn: Option<TcpStream>,
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

/// Why reading an answer stopped early.
enum Stop {
    Deadline,
    Io(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            Stop::Deadline
        } else {
            Stop::Io(e)
        }
    }
}

impl ImagePort {
    /// The platform side of a server that will listen on `addr`.
    pub fn new(addr: SocketAddr) -> ImagePort {
        ImagePort {
            addr,
            state: Mutex::new(PortState::default()),
            cond: Condvar::new(),
        }
    }

    /// The address the function's server must listen on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn lock(&self) -> MutexGuard<'_, PortState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bootstrap exited: wake the waits, cut the connection in flight. Sticky.
    pub fn abort(&self) {
        let mut st = self.lock();
        st.aborted = true;
        if let Some(conn) = st.conn.take() {
            let _ = conn.shutdown(Shutdown::Both);
        }
        drop(st);
        self.cond.notify_all();
    }

    /// Wait on the condition variable until `deadline`; `true` when the bootstrap exited.
    fn wait_aborted(&self, deadline: Instant) -> bool {
        let mut st = self.lock();
        loop {
            if st.aborted {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .cond
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Blocks until a connection to the port succeeds (`Ok`; SCF's health check is the same),
    /// `timeout` passes ([`WaitError::TimedOut`]) or the bootstrap exits
    /// ([`WaitError::Aborted`]). Between attempts it waits 1 ms, doubling up to 50 ms, woken at
    /// once by an exit.
    pub fn wait_listening(&self, timeout: Duration) -> Result<(), WaitError> {
        let deadline = Instant::now() + timeout;
        let mut interval = Duration::from_millis(1);
        loop {
            if self.lock().aborted {
                return Err(WaitError::Aborted);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(WaitError::TimedOut);
            }
            if TcpStream::connect_timeout(&self.addr, left.min(Duration::from_secs(1))).is_ok() {
                return Ok(());
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
    /// in time.
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
        if self.lock().aborted {
            return ending(Answer::Aborted, started);
        }
        let stream = match TcpStream::connect_timeout(&self.addr, timeout) {
            Ok(s) => s,
            // Listening a moment ago, refused now: it is going away; wait for the exit.
            Err(e) => {
                let answer = if self.wait_aborted(deadline) {
                    Answer::Aborted
                } else {
                    Answer::Closed(format!("cannot connect to {}: {e}", self.addr))
                };
                return ending(answer, started);
            }
        };
        let _ = stream.set_nodelay(true);
        {
            let mut st = self.lock();
            if st.aborted {
                return ending(Answer::Aborted, started);
            }
            st.conn = stream.try_clone().ok();
        }
        let sent_at = Instant::now();
        let result = exchange(stream, &self.addr, event, headers, deadline, max_body);
        self.lock().conn = None;
        let answer = match result {
            Ok(answer) => answer,
            Err(Stop::Deadline) => Answer::TimedOut,
            Err(Stop::Io(e)) => {
                if self.wait_aborted(deadline) {
                    Answer::Aborted
                } else {
                    Answer::Closed(format!("no answer on the connection: {e}"))
                }
            }
        };
        // An answer that raced with the exit is still the answer.
        ending(answer, sent_at)
    }
}

/// Write the request and read the answer on `stream`, all before `deadline`.
fn exchange(
    stream: TcpStream,
    addr: &SocketAddr,
    event: &[u8],
    headers: &[(String, String)],
    deadline: Instant,
    max_body: usize,
) -> Result<Answer, Stop> {
    let expect = event.len() > EXPECT_CONTINUE_OVER;
    let mut head = format!(
        "POST {EVENT_INVOKE_PATH} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: scfrt/{}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        env!("CARGO_PKG_VERSION"),
        event.len()
    );
    for (name, value) in headers {
        // A header value cannot hold control characters (CR/LF would end it early).
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if expect {
        head.push_str("Expect: 100-continue\r\n");
    }
    head.push_str("\r\n");
    // A server that stops reading must not block the writes past the deadline either.
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Stop::Deadline);
    }
    stream.set_write_timeout(Some(left)).map_err(Stop::Io)?;
    let mut reader = AnswerReader {
        stream,
        buf: Vec::with_capacity(16 * 1024),
        deadline,
    };
    if !expect {
        let mut request = head.into_bytes();
        request.extend_from_slice(event);
        // A server that answers early may close before reading it all: read its answer anyway.
        let _ = (&reader.stream).write_all(&request);
        return reader.answer(max_body);
    }
    (&reader.stream)
        .write_all(head.as_bytes())
        .map_err(Stop::Io)?;
    let wait_until = (Instant::now() + CONTINUE_WAIT).min(deadline);
    match reader.interim_or_final(wait_until)? {
        Interim::Final => return reader.answer(max_body),
        Interim::Continue | Interim::Silent => {}
    }
    let _ = (&reader.stream).write_all(event);
    reader.answer(max_body)
}

/// A parsed answer head.
struct Head {
    status: u16,
    /// Lower-case names and trimmed values, in order.
    headers: Vec<(String, String)>,
    /// Its length in bytes, up to and including the empty line.
    len: usize,
}

enum Interim {
    /// `100 Continue` arrived (and was consumed).
    Continue,
    /// A final answer's head is in the buffer.
    Final,
    /// Nothing within the wait.
    Silent,
}

struct AnswerReader {
    stream: TcpStream,
    /// Bytes read but not consumed.
    buf: Vec<u8>,
    deadline: Instant,
}

impl AnswerReader {
    /// Read more bytes before `until`; `Ok(0)` at EOF.
    fn fill(&mut self, until: Instant) -> Result<usize, Stop> {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Stop::Deadline);
        }
        self.stream.set_read_timeout(Some(left)).map_err(Stop::Io)?;
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Stop::from(e)),
            }
        }
    }

    /// Parse the head at the start of the buffer, or `None` while it is incomplete.
    fn parse_head(&self) -> Result<Option<Head>, Stop> {
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut slots);
        match response.parse(&self.buf) {
            Ok(httparse::Status::Complete(len)) => {
                let headers = response
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).trim().to_string(),
                        )
                    })
                    .collect();
                Ok(Some(Head {
                    status: response.code.unwrap_or(0),
                    headers,
                    len,
                }))
            }
            Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD_BYTES => Err(Stop::Io(
                io::Error::new(io::ErrorKind::InvalidData, "answer head too long"),
            )),
            Ok(httparse::Status::Partial) => Ok(None),
            Err(e) => Err(Stop::Io(io::Error::new(io::ErrorKind::InvalidData, e))),
        }
    }

    /// Before sending a body announced with `Expect: 100-continue`: wait until `until` for the
    /// server's `100 Continue` or its final answer.
    fn interim_or_final(&mut self, until: Instant) -> Result<Interim, Stop> {
        loop {
            if let Some(head) = self.parse_head()? {
                if head.status == 100 {
                    self.buf.drain(..head.len);
                    return Ok(Interim::Continue);
                }
                return Ok(Interim::Final);
            }
            match self.fill(until) {
                Ok(0) => return Err(Stop::Io(io::ErrorKind::UnexpectedEof.into())),
                Ok(_) => {}
                Err(Stop::Deadline) if Instant::now() < self.deadline => {
                    return Ok(Interim::Silent);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Read the final answer (skipping 1xx interim ones).
    fn answer(&mut self, max_body: usize) -> Result<Answer, Stop> {
        let Head {
            status,
            headers,
            len: head_len,
        } = loop {
            match self.parse_head()? {
                Some(head) if (100..200).contains(&head.status) => {
                    self.buf.drain(..head.len);
                }
                Some(head) => break head,
                None => {
                    if self.fill(self.deadline)? == 0 {
                        return Err(Stop::Io(io::ErrorKind::UnexpectedEof.into()));
                    }
                }
            }
        };
        self.buf.drain(..head_len);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let chunked = header("transfer-encoding")
            .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
        if chunked {
            return self.chunked_body(status, max_body);
        }
        if let Some(len) = header("content-length") {
            let len: u64 = len.parse().map_err(|_| {
                Stop::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed Content-Length",
                ))
            })?;
            if len > max_body as u64 {
                return Ok(Answer::TooLarge { size: len });
            }
            let len = len as usize;
            while self.buf.len() < len {
                if self.fill(self.deadline)? == 0 {
                    return Err(Stop::Io(io::ErrorKind::UnexpectedEof.into()));
                }
            }
            self.buf.truncate(len);
            return Ok(Answer::Status {
                status,
                body: std::mem::take(&mut self.buf),
            });
        }
        // Neither: the body ends with the connection.
        while self.fill(self.deadline)? > 0 {
            if self.buf.len() > max_body {
                return Ok(Answer::TooLarge {
                    size: self.buf.len() as u64,
                });
            }
        }
        Ok(Answer::Status {
            status,
            body: std::mem::take(&mut self.buf),
        })
    }

    fn chunked_body(&mut self, status: u16, max_body: usize) -> Result<Answer, Stop> {
        let mut body = Vec::new();
        loop {
            let line = self.line()?;
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16).map_err(|_| {
                Stop::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed chunk size",
                ))
            })?;
            if size == 0 {
                // Trailers, then the empty line.
                while !self.line()?.is_empty() {}
                return Ok(Answer::Status { status, body });
            }
            if body.len() + size > max_body {
                return Ok(Answer::TooLarge {
                    size: (body.len() + size) as u64,
                });
            }
            while self.buf.len() < size + 2 {
                if self.fill(self.deadline)? == 0 {
                    return Err(Stop::Io(io::ErrorKind::UnexpectedEof.into()));
                }
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    /// One CRLF-terminated line, without the CRLF.
    fn line(&mut self) -> Result<String, Stop> {
        loop {
            if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                self.buf.drain(..at + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD_BYTES {
                return Err(Stop::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "chunk line too long",
                )));
            }
            if self.fill(self.deadline)? == 0 {
                return Err(Stop::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-shot server: reads the request head (and body when `read_body`), then writes
    /// `answer` and closes.
    fn one_shot(
        answer: &'static [u8],
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
            s.write_all(answer).unwrap();
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
}
