//! Capture of the bootstrap's stdout and stderr and the per-invocation log framing.
//!
//! A reader thread owns the read ends of both pipes (O_NONBLOCK) and polls them together with a
//! wake pipe. The supervisor asks for a flush after a result post arrived: the reader drains both
//! pipes until EAGAIN and acknowledges, so everything the bootstrap wrote before posting its result
//! lands in that invocation's log, without sleeping.

use std::collections::VecDeque;
use std::io::{PipeReader, PipeWriter, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Bytes kept from the start of an invocation's log.
const HEAD_CAP: usize = 64 * 1024;
/// Bytes kept from the end of an invocation's log.
const TAIL_CAP: usize = 512 * 1024;
/// Bytes of stderr kept for init-failure messages.
const STDERR_TAIL_CAP: usize = 2048;
/// Upper bound for a flush: the reader answers within microseconds unless it is stuck writing to a
/// blocked log stream; we then go on rather than hang the invocation.
const FLUSH_WAIT: Duration = Duration::from_secs(10);

/// A log buffer that keeps its first [`HEAD_CAP`] and last [`TAIL_CAP`] bytes.
#[derive(Default)]
struct CappedLog {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    omitted: u64,
}

impl CappedLog {
    fn push(&mut self, mut data: &[u8]) {
        if self.head.len() < HEAD_CAP && self.tail.is_empty() {
            let take = data.len().min(HEAD_CAP - self.head.len());
            self.head.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        if data.len() >= TAIL_CAP {
            self.omitted += (self.tail.len() + data.len() - TAIL_CAP) as u64;
            self.tail.clear();
            self.tail.extend(&data[data.len() - TAIL_CAP..]);
            return;
        }
        self.tail.extend(data);
        let excess = self.tail.len().saturating_sub(TAIL_CAP);
        if excess > 0 {
            self.tail.drain(..excess);
            self.omitted += excess as u64;
        }
    }

    fn last_byte(&self) -> Option<u8> {
        self.tail.back().or(self.head.last()).copied()
    }

    fn take(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.head);
        if self.omitted > 0 {
            out.extend_from_slice(
                format!("\n[scfrt: {} bytes of log omitted]\n", self.omitted).as_bytes(),
            );
        }
        out.extend(self.tail.drain(..));
        self.omitted = 0;
        out
    }
}

/// Where output goes besides the per-invocation buffer (the CLI streams to its stderr).
pub(crate) type LogStream = Box<dyn Write + Send>;

#[derive(Default)]
struct HubState {
    log: CappedLog,
    stream: Option<LogStream>,
    stderr_tail: VecDeque<u8>,
    flush_requested: u64,
    flush_done: u64,
    /// Whether a reader thread is running (flushes complete at once when none is).
    reader_alive: bool,
}

/// The log of one function: its current invocation's buffer, the optional stream, and the flush
/// handshake with the reader thread of the current instance.
#[derive(Default)]
pub(crate) struct LogHub {
    state: Mutex<HubState>,
    cond: Condvar,
}

impl LogHub {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_stream(&self, stream: Option<LogStream>) {
        self.lock().stream = stream;
    }

    /// Starts an invocation's log with its START line; output captured since the previous
    /// invocation ended (already streamed) follows it.
    pub(crate) fn begin(&self, request_id: &str) {
        let mut st = self.lock();
        let leftover = st.log.take();
        let start = format!("START RequestId: {request_id}\n");
        st.log.push(start.as_bytes());
        stream_write(&mut st.stream, start.as_bytes());
        st.log.push(&leftover);
    }

    /// Appends a platform line (END, Report...), starting a new line first if the user's output
    /// did not end with one.
    pub(crate) fn line(&self, line: &str) {
        let mut st = self.lock();
        if st.log.last_byte().is_some_and(|b| b != b'\n') {
            st.log.push(b"\n");
            stream_write(&mut st.stream, b"\n");
        }
        st.log.push(line.as_bytes());
        st.log.push(b"\n");
        stream_write(&mut st.stream, line.as_bytes());
        stream_write(&mut st.stream, b"\n");
    }

    /// Takes the current invocation's framed log.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.lock().log.take()
    }

    /// The last bytes the current instance wrote to stderr.
    pub(crate) fn stderr_tail(&self) -> String {
        let st = self.lock();
        let bytes: Vec<u8> = st.stderr_tail.iter().copied().collect();
        String::from_utf8_lossy(&bytes).trim().to_owned()
    }

    fn output(&self, data: &[u8], is_stderr: bool) {
        let mut st = self.lock();
        st.log.push(data);
        stream_write(&mut st.stream, data);
        if is_stderr {
            st.stderr_tail.extend(data);
            let excess = st.stderr_tail.len().saturating_sub(STDERR_TAIL_CAP);
            st.stderr_tail.drain(..excess);
        }
    }
}

fn stream_write(stream: &mut Option<LogStream>, data: &[u8]) {
    if let Some(s) = stream {
        // A broken log stream must not break the function.
        let _ = s.write_all(data).and_then(|()| s.flush());
    }
}

/// The reader thread of one instance.
pub(crate) struct LogReader {
    hub: Arc<LogHub>,
    wake: PipeWriter,
    /// Our copy of the wake pipe's read end: while it is open, writing a wake byte can never
    /// raise SIGPIPE, even after the thread ended.
    _wake_keep: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

impl LogReader {
    /// Starts reading `stdout` and `stderr` (the parent's read ends) into `hub`.
    pub(crate) fn start(
        hub: Arc<LogHub>,
        stdout: PipeReader,
        stderr: PipeReader,
    ) -> std::io::Result<LogReader> {
        let (wake_r, wake_w) = std::io::pipe()?;
        let stdout = OwnedFd::from(stdout);
        let stderr = OwnedFd::from(stderr);
        let wake_r = OwnedFd::from(wake_r);
        let wake_keep = wake_r.try_clone()?;
        for fd in [
            stdout.as_raw_fd(),
            stderr.as_raw_fd(),
            wake_r.as_raw_fd(),
            wake_w.as_raw_fd(),
        ] {
            set_nonblocking(fd)?;
        }
        {
            let mut st = hub.lock();
            st.stderr_tail.clear();
            st.flush_requested = 0;
            st.flush_done = 0;
            st.reader_alive = true;
        }
        let thread_hub = Arc::clone(&hub);
        let thread = std::thread::Builder::new()
            .name("scfrt-log-reader".into())
            .spawn(move || {
                read_loop(&thread_hub, &stdout, &stderr, &wake_r);
                thread_hub.lock().reader_alive = false;
                thread_hub.cond.notify_all();
            });
        let thread = match thread {
            Ok(t) => t,
            Err(e) => {
                hub.lock().reader_alive = false;
                return Err(e);
            }
        };
        Ok(LogReader {
            hub,
            wake: wake_w,
            _wake_keep: wake_keep,
            thread: Some(thread),
        })
    }

    /// Returns once everything written to the pipes before this call is in the log.
    pub(crate) fn flush(&mut self) {
        let want = {
            let mut st = self.hub.lock();
            if !st.reader_alive {
                return;
            }
            st.flush_requested += 1;
            st.flush_requested
        };
        // The pipe holds 64 KiB of wake bytes; if it is full the reader has wake-ups pending anyway.
        let _ = self.wake.write(b"f");
        let st = self.hub.lock();
        let _ = self
            .hub
            .cond
            .wait_timeout_while(st, FLUSH_WAIT, |st| st.reader_alive && st.flush_done < want)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// Drains what is left in the pipes and stops the thread.
    pub(crate) fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        let _ = self.wake.write(b"q");
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LogReader {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

fn set_nonblocking(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor we own; F_GETFL/F_SETFL have no memory effects.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

enum Drain {
    /// EAGAIN: nothing more right now.
    Empty,
    /// The write ends are all closed.
    Eof,
}

/// Reads `fd` until EAGAIN or EOF, handing the data to `sink`.
fn drain(fd: RawFd, buf: &mut [u8], mut sink: impl FnMut(&[u8])) -> Drain {
    loop {
        // SAFETY: `buf` is a valid writable buffer of `buf.len()` bytes; `fd` is open.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n > 0 {
            sink(&buf[..n as usize]);
            continue;
        }
        if n == 0 {
            return Drain::Eof;
        }
        match std::io::Error::last_os_error().kind() {
            std::io::ErrorKind::Interrupted => continue,
            std::io::ErrorKind::WouldBlock => return Drain::Empty,
            _ => return Drain::Eof,
        }
    }
}

fn read_loop(hub: &LogHub, stdout: &OwnedFd, stderr: &OwnedFd, wake: &OwnedFd) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = [true, true];
    let fds = [stdout.as_raw_fd(), stderr.as_raw_fd()];
    let drain_outputs = |open: &mut [bool; 2], buf: &mut [u8]| {
        for i in 0..2 {
            if open[i] {
                let is_stderr = i == 1;
                if let Drain::Eof = drain(fds[i], buf, |d| hub.output(d, is_stderr)) {
                    open[i] = false;
                }
            }
        }
    };
    loop {
        let mut pfds = [
            libc::pollfd {
                fd: if open[0] { fds[0] } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if open[1] { fds[1] } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `pfds` is a valid array of 3 pollfd structs.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), 3, -1) };
        if r < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if pfds[2].revents != 0 {
            let mut quit = false;
            let mut wake_buf = [0u8; 64];
            let _ = drain(wake.as_raw_fd(), &mut wake_buf, |d| {
                quit |= d.contains(&b'q');
            });
            // Read the request counter before draining: every request counted here was made after
            // its result post arrived, so draining now covers it.
            let requested = hub.lock().flush_requested;
            drain_outputs(&mut open, &mut buf);
            hub.lock().flush_done = requested;
            hub.cond.notify_all();
            if quit {
                return;
            }
        } else {
            drain_outputs(&mut open, &mut buf);
        }
        if !open[0] && !open[1] {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capped_log_keeps_head_and_tail() {
        let mut log = CappedLog::default();
        log.push(&vec![b'a'; HEAD_CAP]);
        log.push(&vec![b'b'; TAIL_CAP * 3]);
        log.push(b"end\n");
        let out = log.take();
        assert!(out.starts_with(&vec![b'a'; HEAD_CAP]));
        assert!(out.ends_with(b"bbbend\n"));
        assert!(out.len() < HEAD_CAP + TAIL_CAP + 100);
        let marker = format!("[scfrt: {} bytes of log omitted]", TAIL_CAP * 2 + 4);
        assert!(String::from_utf8_lossy(&out).contains(&marker));
        assert!(log.take().is_empty());
    }

    #[test]
    fn capped_log_small_is_verbatim() {
        let mut log = CappedLog::default();
        log.push(b"hello ");
        log.push(b"world\n");
        assert_eq!(log.last_byte(), Some(b'\n'));
        assert_eq!(log.take(), b"hello world\n");
    }
}
