//! A scripted runtime API: plain TCP, so a test can break the connection exactly where it wants.
//!
//! Hand-written HTTP is the point here: the faults (reset before any byte, EOF mid-body, a
//! status the client must retry) cannot be injected through a well-behaved server library.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What the server does with one `GET /runtime/invocation/next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with the event.
    None,
    /// Close the connection with a TCP reset before sending any byte.
    Reset,
    /// Answer with this HTTP status and a short body.
    Status(u16),
    /// Send the headers (with the full Content-Length) and half the body, then close.
    TruncatedBody,
    /// Announce a body over the client's event limit (16 MiB + 1), send none of it.
    Huge,
}

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The request id of the event current when the post arrived.
    pub current: Option<String>,
}

struct State {
    events: VecDeque<(String, Vec<u8>)>,
    current: Option<(String, Vec<u8>)>,
    faults: VecDeque<Fault>,
    seen: Vec<Seen>,
}

/// The server; it stops accepting when dropped.
pub struct ScriptServer {
    pub port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl ScriptServer {
    /// Serve `events` (request id, body) in order; `faults` apply to successive `next` calls.
    pub fn start(events: Vec<(String, Vec<u8>)>, faults: Vec<Fault>) -> ScriptServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Self::start_on(listener, events, faults)
    }

    /// As [`start`], on a listener the caller bound.
    pub fn start_on(
        listener: TcpListener,
        events: Vec<(String, Vec<u8>)>,
        faults: Vec<Fault>,
    ) -> ScriptServer {
        let port = listener.local_addr().expect("local addr").port();
        let state = Arc::new((
            Mutex::new(State {
                events: events.into(),
                current: None,
                faults: faults.into(),
                seen: Vec::new(),
            }),
            Condvar::new(),
        ));
        let st = state.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let st = st.clone();
                thread::spawn(move || serve_conn(conn, &st));
            }
        });
        ScriptServer { port, state }
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.0.lock().unwrap().seen.clone()
    }

    /// Wait until `pred` holds over the requests seen, at most `limit`.
    pub fn wait_for(&self, limit: Duration, pred: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let (lock, cv) = &*self.state;
        let deadline = Instant::now() + limit;
        let mut st = lock.lock().unwrap();
        while !pred(&st.seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out; requests seen: {:#?}",
                summary(&st.seen)
            );
            st = cv.wait_timeout(st, left).unwrap().0;
        }
        st.seen.clone()
    }
}

pub fn summary(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| format!("{} {} ({} bytes)", s.method, s.path, s.body.len()))
        .collect()
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Seen> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
        if k == "content-length" {
            len = v.parse().ok()?;
        }
        headers.push((k, v));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        headers,
        body,
        current: None,
    })
}

fn reset(conn: &TcpStream) {
    // SO_LINGER 0 turns close into an RST.
    let _ = socket_linger_zero(conn);
    let _ = conn.shutdown(Shutdown::Both);
}

fn socket_linger_zero(conn: &TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let l = libc_linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a correctly sized linger struct on a live socket.
    let rc = unsafe {
        setsockopt(
            conn.as_raw_fd(),
            1,  /* SOL_SOCKET */
            13, /* SO_LINGER */
            &l as *const libc_linger as *const std::ffi::c_void,
            std::mem::size_of::<libc_linger>() as u32,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[repr(C)]
struct libc_linger {
    l_onoff: i32,
    l_linger: i32,
}

unsafe extern "C" {
    fn setsockopt(fd: i32, level: i32, name: i32, val: *const std::ffi::c_void, len: u32) -> i32;
}

fn serve_conn(conn: TcpStream, st: &Arc<(Mutex<State>, Condvar)>) {
    let (lock, cv) = &**st;
    let mut w = conn.try_clone().expect("clone stream");
    let mut r = BufReader::new(conn);
    while let Some(mut req) = read_request(&mut r) {
        let mut s = lock.lock().unwrap();
        req.current = s.current.as_ref().map(|c| c.0.clone());
        let (method, path) = (req.method.clone(), req.path.clone());
        s.seen.push(req);
        cv.notify_all();
        let answer: Option<Vec<u8>> = match (method.as_str(), path.as_str()) {
            ("POST", "/runtime/init/ready") => Some(ok_empty()),
            ("GET", "/runtime/invocation/next") => {
                let fault = s.faults.pop_front().unwrap_or(Fault::None);
                match fault {
                    Fault::Reset => {
                        drop(s);
                        reset(&w);
                        return;
                    }
                    Fault::Status(code) => Some(
                        format!("HTTP/1.1 {code} Oops\r\ncontent-length: 4\r\n\r\noops")
                            .into_bytes(),
                    ),
                    Fault::Huge => {
                        if s.current.is_none() {
                            s.current = s.events.pop_front();
                        }
                        let id = s.current.as_ref().map(|c| c.0.clone()).unwrap_or_default();
                        Some(
                            format!(
                                "HTTP/1.1 200 OK\r\nrequest_id: {id}\r\nmemory_limit_in_mb: 128\r\ntime_limit_in_ms: 3000\r\ncontent-length: {}\r\n\r\n",
                                16 * 1024 * 1024 + 1
                            )
                            .into_bytes(),
                        )
                    }
                    Fault::None | Fault::TruncatedBody => {
                        if s.current.is_none() {
                            s.current = s.events.pop_front();
                        }
                        match s.current.clone() {
                            None => {
                                // Nothing left: hold the long poll open until the client goes away.
                                drop(s);
                                let mut sink = [0u8; 1];
                                let _ = r.read(&mut sink);
                                return;
                            }
                            Some((id, ev)) => {
                                let mut msg = format!(
                                    "HTTP/1.1 200 OK\r\nrequest_id: {id}\r\nmemory_limit_in_mb: 128\r\ntime_limit_in_ms: 3000\r\ncontent-length: {}\r\n\r\n",
                                    ev.len()
                                )
                                .into_bytes();
                                if fault == Fault::TruncatedBody {
                                    msg.extend_from_slice(&ev[..ev.len() / 2]);
                                    drop(s);
                                    let _ = w.write_all(&msg);
                                    let _ = w.flush();
                                    let _ = w.shutdown(Shutdown::Both);
                                    return;
                                }
                                msg.extend_from_slice(&ev);
                                Some(msg)
                            }
                        }
                    }
                }
            }
            ("POST", "/runtime/invocation/response") | ("POST", "/runtime/invocation/error") => {
                if s.current.take().is_some() {
                    Some(ok_empty())
                } else {
                    Some(b"HTTP/1.1 422 Unprocessable\r\ncontent-length: 0\r\n\r\n".to_vec())
                }
            }
            _ => Some(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_vec()),
        };
        drop(s);
        if let Some(a) = answer
            && w.write_all(&a).is_err()
        {
            return;
        }
    }
}

fn ok_empty() -> Vec<u8> {
    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec()
}
