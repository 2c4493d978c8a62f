//! The smallest HTTP/1.1 client the runtime API needs: one keep-alive connection to one server,
//! four fixed requests, Content-Length or chunked answers.
//!
//! Why not a general client: measured against a raw-socket C client on the same server
//! (bench/c/RESULTS.md), ureq spent ~20 µs more per invocation than the floor: it sent a
//! POST's head and body in two writes (an extra server wake-up each time), probed the pooled
//! connection with 12 syscalls per invocation, and built URI and header-map types per request.
//! Here a request is one `writev`, the answer is parsed in place (httparse) from a reused
//! buffer, and a body is read once into a buffer sized from Content-Length.

use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;

/// Headers of an answer longer than this are refused (as malformed), like most servers do.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers the parser accepts in one answer.
const MAX_HEADERS: usize = 64;
/// The read buffer's initial size: a whole small answer (head and body) in one read.
const READ_BUF_BYTES: usize = 16 * 1024;
/// The largest body buffer [`Client::recycle`] keeps between answers (an event of the
/// platform's 6 MB limit fits).
const MAX_SPARE_BYTES: usize = 8 * 1024 * 1024;

/// What went wrong with one request.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// No connection could be opened: the request was certainly not sent.
    Connect(io::Error),
    /// The connection broke or the answer was malformed, after the request may have been sent.
    Io(io::Error),
    /// The answer broke one of this client's limits (more than [`MAX_HEADERS`] headers, a head
    /// over [`MAX_HEAD_BYTES`]): well-formed HTTP this client will not read, not a broken line.
    Limit(String),
}

/// Why one exchange failed, inside the connection code.
enum Failure {
    Io(io::Error),
    Limit(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

/// One answer: status, the headers the runtime API uses, the body.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// Headers as (lower-case name, value) pairs, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// The body was over the caller's limit: it was not read (or not kept) and `body` is empty;
    /// the connection was closed. Whatever the framing: Content-Length, chunked, or read to close.
    pub(crate) too_large: bool,
    /// The body's declared length (Content-Length), when the answer had one.
    pub(crate) content_length: Option<u64>,
}

impl Answer {
    /// The first header called `name` (lower case), matched case-insensitively.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
}

/// A client for `host:port`, holding at most one open connection.
pub(crate) struct Client {
    addr: String,
    host_header: String,
    conn: Option<Conn>,
    head: Vec<u8>,
    /// A body buffer given back by [`recycle`](Self::recycle), read into by the next answer
    /// with a Content-Length that fits it.
    spare: Vec<u8>,
}

impl Client {
    pub(crate) fn new(host: &str, port: u16) -> Client {
        let host_port = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        Client {
            addr: host_port.clone(),
            host_header: host_port,
            conn: None,
            head: Vec::with_capacity(256),
            spare: Vec::new(),
        }
    }

    /// Keep `body` (an answer's body the caller is done with) to read the next answer into,
    /// when it is larger than the one kept and at most [`MAX_SPARE_BYTES`].
    ///
    /// Why: an event and its response are freed together at the end of each invocation; when
    /// they are large, glibc's malloc may give the pages back to the kernel (trimming the top of
    /// the heap) and take them again, zeroed, for the next one: measured at 1 MB events, 0.35 ms
    /// or 0.9 ms per invocation depending on whether a 36-byte allocation happened to sit above
    /// them. Reading into a kept buffer makes it not depend on that.
    pub(crate) fn recycle(&mut self, mut body: Vec<u8>) {
        if body.capacity() > self.spare.capacity() && body.capacity() <= MAX_SPARE_BYTES {
            body.clear();
            self.spare = body;
        }
    }

    /// Send one request and read its whole answer. `max_body` bounds the answer's body: a
    /// larger one is flagged [`Answer::too_large`] and not kept, whatever its framing.
    /// `on_first_byte` runs once, as soon as the first byte of the answer has been read (the
    /// long poll uses it to leave the span in which a stop signal may end the process).
    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        max_body: u64,
        on_first_byte: Option<&dyn Fn()>,
    ) -> Result<Answer, HttpError> {
        if self.conn.as_mut().is_some_and(|c| !c.still_open()) {
            // The server closed the idle connection; a request written into it would be lost
            // without a way to know whether it was read.
            self.conn = None;
        }
        if self.conn.is_none() {
            self.conn = Some(Conn::open(&self.addr).map_err(HttpError::Connect)?);
        }
        self.head.clear();
        write_head(
            &mut self.head,
            method,
            path,
            &self.host_header,
            body.map(<[u8]>::len),
        );
        let result = match self.conn.as_mut() {
            Some(conn) => conn.exchange(
                &self.head,
                body.unwrap_or_default(),
                max_body,
                on_first_byte,
                &mut self.spare,
            ),
            None => Err(Failure::Io(io::Error::other("no connection"))),
        };
        match result {
            Ok((answer, keep_alive)) => {
                if !keep_alive {
                    self.conn = None;
                }
                Ok(answer)
            }
            Err(e) => {
                // Whatever is left on a broken connection cannot be trusted.
                self.conn = None;
                Err(match e {
                    Failure::Io(e) => HttpError::Io(e),
                    Failure::Limit(reason) => HttpError::Limit(reason),
                })
            }
        }
    }
}

fn write_head(head: &mut Vec<u8>, method: &str, path: &str, host: &str, len: Option<usize>) {
    // Writes into a Vec cannot fail.
    let _ = write!(
        head,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: scfruntime/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(len) = len {
        let _ = write!(
            head,
            "Content-Type: application/octet-stream\r\nContent-Length: {len}\r\n"
        );
    }
    head.extend_from_slice(b"\r\n");
}

impl Conn {
    fn open(addr: &str) -> io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: vec![0; READ_BUF_BYTES],
            start: 0,
            end: 0,
        })
    }

    /// Whether the server has not closed the connection: one non-blocking peek, no mode switch.
    fn still_open(&mut self) -> bool {
        if self.start != self.end {
            // Unsolicited bytes between answers: the stream is out of step.
            return false;
        }
        use std::os::fd::AsRawFd;
        let mut byte = 0u8;
        // SAFETY: a one-byte buffer we own; MSG_PEEK|MSG_DONTWAIT neither consumes nor blocks.
        let n = unsafe {
            libc::recv(
                self.stream.as_raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        // -1 with EAGAIN: open and quiet. 0: the server closed it. >0: unexpected bytes.
        n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
    }

    fn exchange(
        &mut self,
        head: &[u8],
        body: &[u8],
        max_body: u64,
        on_first_byte: Option<&dyn Fn()>,
        spare: &mut Vec<u8>,
    ) -> Result<(Answer, bool), Failure> {
        write_all_vectored(&mut self.stream, head, body)?;
        if let Some(first_byte) = on_first_byte {
            // The buffer is empty between answers (`still_open`), so the first fill brings the
            // answer's first byte.
            self.fill()?;
            first_byte();
        }
        loop {
            let (mut answer, keep_alive, chunked, length) = self.read_head()?;
            if (100..200).contains(&answer.status) {
                continue; // an interim answer (100 Continue): the real one follows
            }
            let (body, keep_alive) = if chunked {
                (self.read_chunked(max_body)?, keep_alive)
            } else if let Some(len) = length {
                (self.read_exact_body(len, max_body, spare)?, keep_alive)
            } else if answer.status == 204 || answer.status == 304 {
                (Some(Vec::new()), keep_alive)
            } else {
                // Neither length nor chunked: the body runs to the end of the connection.
                (self.read_to_close(max_body)?, false)
            };
            return Ok(match body {
                Some(body) => {
                    answer.body = body;
                    (answer, keep_alive)
                }
                None => {
                    // Unread body bytes are still on the wire: the connection is done.
                    answer.too_large = true;
                    (answer, false)
                }
            });
        }
    }

    /// More bytes into the buffer; `UnexpectedEof` when the server closed the connection.
    fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let len = self.buf.len();
                self.buf.resize(len * 2, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.end += n;
        Ok(())
    }

    fn read_head(&mut self) -> Result<(Answer, bool, bool, Option<u64>), Failure> {
        loop {
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut parsed = httparse::Response::new(&mut slots);
            match parsed.parse(&self.buf[self.start..self.end]) {
                Ok(httparse::Status::Complete(n)) => {
                    if n > MAX_HEAD_BYTES {
                        return Err(head_too_large());
                    }
                    let mut answer = Answer {
                        status: parsed.code.unwrap_or(0),
                        headers: Vec::with_capacity(parsed.headers.len()),
                        body: Vec::new(),
                        too_large: false,
                        content_length: None,
                    };
                    let mut keep_alive = parsed.version == Some(1);
                    let mut chunked = false;
                    let mut length = None;
                    for h in parsed.headers.iter() {
                        let name = h.name.to_ascii_lowercase();
                        let value = String::from_utf8_lossy(h.value).trim().to_string();
                        match name.as_str() {
                            "content-length" => {
                                let n = value.parse::<u64>().map_err(|_| {
                                    Failure::from(invalid(format!("bad Content-Length {value:?}")))
                                })?;
                                if length.is_some_and(|m| m != n) {
                                    return Err(
                                        invalid("conflicting Content-Length headers").into()
                                    );
                                }
                                length = Some(n);
                                answer.content_length = Some(n);
                            }
                            "transfer-encoding" => {
                                chunked = value.to_ascii_lowercase().ends_with("chunked");
                            }
                            "connection" => {
                                let v = value.to_ascii_lowercase();
                                if v.contains("close") {
                                    keep_alive = false;
                                } else if v.contains("keep-alive") {
                                    keep_alive = true;
                                }
                            }
                            _ => {}
                        }
                        answer.headers.push((name, value));
                    }
                    self.start += n;
                    return Ok((answer, keep_alive, chunked, length));
                }
                Ok(httparse::Status::Partial) => {
                    if self.end - self.start > MAX_HEAD_BYTES {
                        return Err(head_too_large());
                    }
                    self.fill()?;
                }
                Err(httparse::Error::TooManyHeaders) => {
                    return Err(Failure::Limit(format!(
                        "the answer has more than {MAX_HEADERS} headers, the most this runtime \
                         reads"
                    )));
                }
                Err(e) => return Err(invalid(format!("malformed answer: {e}")).into()),
            }
        }
    }

    /// `len` body bytes: what is buffered, then straight from the socket into a buffer of at
    /// least that size (one copy of a large body, no zeroing): `spare` when it is large enough
    /// (it is then taken), else a new one. `None` when over `max_body`.
    fn read_exact_body(
        &mut self,
        len: u64,
        max_body: u64,
        spare: &mut Vec<u8>,
    ) -> io::Result<Option<Vec<u8>>> {
        let Some(len) = usize::try_from(len).ok().filter(|_| len <= max_body) else {
            return Ok(None);
        };
        let mut body = if spare.capacity() >= len && len > 0 {
            std::mem::take(spare)
        } else {
            Vec::with_capacity(len)
        };
        let buffered = (self.end - self.start).min(len);
        body.extend_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        let rest = (len - body.len()) as u64;
        if rest > 0 {
            (&mut self.stream).take(rest).read_to_end(&mut body)?;
            if body.len() < len {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(Some(body))
    }

    fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf[self.start..self.end]
                .iter()
                .position(|&b| b == b'\n')
            {
                let line = String::from_utf8_lossy(&self.buf[self.start..self.start + i])
                    .trim_end_matches('\r')
                    .to_string();
                self.start += i + 1;
                return Ok(line);
            }
            if self.end - self.start > MAX_HEAD_BYTES {
                return Err(invalid("a chunk line is too long"));
            }
            self.fill()?;
        }
    }

    fn read_chunked(&mut self, max_body: u64) -> io::Result<Option<Vec<u8>>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| invalid(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                // Trailers, then the empty line.
                while !self.read_line()?.is_empty() {}
                return Ok(Some(body));
            }
            let room = max_body.saturating_sub(body.len() as u64);
            let Some(chunk) = self.read_exact_body(size, room, &mut Vec::new())? else {
                return Ok(None);
            };
            body.extend_from_slice(&chunk);
            if !self.read_line()?.is_empty() {
                return Err(invalid("chunk not followed by CRLF"));
            }
        }
    }

    fn read_to_close(&mut self, max_body: u64) -> io::Result<Option<Vec<u8>>> {
        let mut body = self.buf[self.start..self.end].to_vec();
        self.start = self.end;
        (&mut self.stream)
            .take(max_body.saturating_sub(body.len() as u64) + 1)
            .read_to_end(&mut body)?;
        Ok((body.len() as u64 <= max_body).then_some(body))
    }
}

/// Write `head` then `body` with as few syscalls as the kernel allows (normally one `writev`).
fn write_all_vectored(stream: &mut TcpStream, head: &[u8], body: &[u8]) -> io::Result<()> {
    let (mut head, mut body) = (head, body);
    while !head.is_empty() || !body.is_empty() {
        let n = match stream.write_vectored(&[IoSlice::new(head), IoSlice::new(body)]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let from_head = n.min(head.len());
        head = &head[from_head..];
        body = &body[n - from_head..];
    }
    Ok(())
}

fn head_too_large() -> Failure {
    Failure::Limit(format!(
        "the answer's head is over {MAX_HEAD_BYTES} bytes, the most this runtime reads"
    ))
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::thread;

    /// Serve each scripted raw answer to one request on one connection, returning the requests.
    fn server(answers: Vec<Vec<u8>>) -> (u16, thread::JoinHandle<Vec<Vec<u8>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handle = thread::spawn(move || {
            let (conn, _) = listener.accept().expect("accept");
            let mut w = conn.try_clone().expect("clone");
            let mut r = BufReader::new(conn);
            let mut seen = Vec::new();
            for answer in answers {
                let mut req = Vec::new();
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).expect("read") == 0 {
                        return seen;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().expect("length");
                    }
                    req.extend_from_slice(line.as_bytes());
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).expect("body");
                req.extend_from_slice(&body);
                seen.push(req);
                w.write_all(&answer).expect("write");
            }
            seen
        });
        (port, handle)
    }

    #[test]
    fn one_connection_for_several_requests_and_exact_request_bytes() {
        let (port, srv) = server(vec![
            b"HTTP/1.1 200 OK\r\nRequest_Id: abc\r\ncontent-length: 5\r\n\r\nhello".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ]);
        let mut c = Client::new("127.0.0.1", port);
        let a = c
            .request("GET", "/runtime/invocation/next", None, 100, None)
            .expect("next");
        assert_eq!((a.status, a.body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(a.header("request_id"), Some("abc"));
        let a = c
            .request(
                "POST",
                "/runtime/invocation/response",
                Some("café".as_bytes()),
                100,
                None,
            )
            .expect("post");
        assert_eq!(a.status, 200);
        drop(c);
        let seen = srv.join().expect("server");
        let v = env!("CARGO_PKG_VERSION");
        assert_eq!(
            String::from_utf8_lossy(&seen[0]),
            format!(
                "GET /runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: scfruntime/{v}\r\n\r\n"
            )
        );
        assert_eq!(
            String::from_utf8_lossy(&seen[1]),
            format!(
                "POST /runtime/invocation/response HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: scfruntime/{v}\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\ncafé"
            )
        );
    }

    #[test]
    fn chunked_interim_and_split_answers() {
        let (port, srv) = server(vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n".to_vec(),
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_vec(),
        ]);
        let mut c = Client::new("127.0.0.1", port);
        let a = c.request("GET", "/x", None, 100, None).expect("chunked");
        assert_eq!((a.status, a.body.as_slice()), (200, &b"abcde"[..]));
        let a = c
            .request("POST", "/y", Some(b""), 100, None)
            .expect("close");
        assert_eq!((a.status, a.body.as_slice()), (202, &b"ok"[..]));
        assert!(c.conn.is_none(), "Connection: close drops the connection");
        srv.join().expect("server");
    }

    #[test]
    fn refuses_oversized_and_malformed_answers() {
        for (answer, want) in [
            (
                &b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"[..],
                "bad Content-Length",
            ),
            (
                &b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"[..],
                "conflicting",
            ),
            (&b"NOT HTTP\r\n\r\n"[..], "malformed answer"),
            (
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"[..],
                "bad chunk size",
            ),
        ] {
            let (port, srv) = server(vec![answer.to_vec()]);
            let mut c = Client::new("127.0.0.1", port);
            match c.request("GET", "/", None, 100, None) {
                Err(HttpError::Io(e)) => assert!(e.to_string().contains(want), "{e} / {want}"),
                other => panic!("{want}: {other:?}"),
            }
            drop(c);
            srv.join().expect("server");
        }
    }

    #[test]
    fn oversized_bodies_are_flagged_unread_and_the_connection_dropped() {
        let x64 = "x".repeat(64);
        for raw in [
            format!("HTTP/1.1 200 OK\r\nrequest_id: r1\r\nContent-Length: 101\r\n\r\n{x64}{x64}"),
            format!(
                "HTTP/1.1 200 OK\r\nrequest_id: r1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n{x64}\r\n40\r\n{x64}\r\n0\r\n\r\n"
            ),
            // A chunk size past any limit (and past usize on 32-bit).
            "HTTP/1.1 200 OK\r\nrequest_id: r1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx".to_string(),
            // Neither Content-Length nor chunked: framed by the connection's close.
            format!("HTTP/1.1 200 OK\r\nrequest_id: r1\r\nConnection: close\r\n\r\n{x64}{x64}"),
        ] {
            let raw = raw.into_bytes();
            let (port, srv) = server(vec![raw]);
            let mut c = Client::new("127.0.0.1", port);
            let a = c.request("GET", "/", None, 100, None).expect("answer");
            assert!(a.too_large && a.body.is_empty(), "{a:?}");
            assert_eq!(a.header("request_id"), Some("r1"));
            assert!(c.conn.is_none());
            drop(c);
            srv.join().expect("server");
        }
    }

    #[test]
    fn a_recycled_body_buffer_is_read_into_when_it_fits() {
        let (port, srv) = server(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"
                .iter()
                .copied()
                .chain(std::iter::repeat_n(b'z', 5000))
                .collect(),
        ]);
        let mut c = Client::new("127.0.0.1", port);
        let first = c.request("GET", "/", None, 10_000, None).expect("first");
        assert_eq!(first.body, b"first");
        let mut kept = Vec::with_capacity(4096);
        kept.extend_from_slice(b"stale");
        let kept_ptr = kept.as_ptr();
        c.recycle(kept);
        let second = c.request("GET", "/", None, 10_000, None).expect("second");
        // Read into the kept buffer (cleared first), not a new one.
        assert_eq!(second.body, b"second");
        assert_eq!(second.body.as_ptr(), kept_ptr);
        assert!(second.body.capacity() >= 4096);
        // Taken: a body larger than what is kept gets a buffer of its own.
        c.recycle(second.body);
        let third = c.request("GET", "/", None, 10_000, None).expect("third");
        assert_eq!(third.body.len(), 5000);
        assert_ne!(third.body.as_ptr(), kept_ptr);
        drop(c);
        srv.join().expect("server");
    }

    #[test]
    fn answers_over_the_header_limits_are_limit_errors() {
        let many: String = (0..=MAX_HEADERS)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect();
        let big = format!("X-Big: {}\r\n", "b".repeat(MAX_HEAD_BYTES + 1));
        for (extra, want) in [
            (many, "more than 64 headers"),
            (big, "head is over 65536 bytes"),
        ] {
            let raw = format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: 0\r\n\r\n");
            let (port, srv) = server(vec![raw.into_bytes()]);
            let mut c = Client::new("127.0.0.1", port);
            match c.request("GET", "/", None, 100, None) {
                Err(HttpError::Limit(reason)) => assert!(reason.contains(want), "{reason}"),
                Err(e) => panic!("{want}: {e:?}"),
                Ok(a) => panic!("{want}: an answer with {} headers", a.headers.len()),
            }
            drop(c);
            srv.join().expect("server");
        }
    }

    #[test]
    fn the_first_byte_hook_runs_once_per_answer() {
        let (port, srv) = server(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na".to_vec(),
        ]);
        let calls = std::cell::Cell::new(0);
        let hook = || calls.set(calls.get() + 1);
        let mut c = Client::new("127.0.0.1", port);
        let a = c
            .request("GET", "/", None, 10, Some(&hook))
            .expect("answer");
        assert_eq!((a.body.as_slice(), calls.get()), (&b"a"[..], 1));
        drop(c);
        srv.join().expect("server");
    }

    #[test]
    fn closed_connection_is_reopened_and_refused_is_a_connect_error() {
        let (port, srv) = server(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na".to_vec(),
        ]);
        let mut c = Client::new("127.0.0.1", port);
        c.request("GET", "/", None, 10, None).expect("first");
        // The scripted server closes after its one answer and stops listening.
        srv.join().expect("server");
        match c.request("GET", "/", None, 10, None) {
            Err(HttpError::Connect(_)) => {}
            other => panic!("expected a connect error after the server closed: {other:?}"),
        }
    }
}
