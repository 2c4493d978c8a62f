//! The invocation loop for a Python handler, with the GIL released while it waits.
//!
//! `scf_core::Runtime::run` blocks in the long poll inside a read that cannot be interrupted,
//! and its signal handling `_exit`s the process there. Python needs signals delivered as
//! exceptions instead (KeyboardInterrupt, or the SystemExit that `run` installs for SIGTERM),
//! so this loop drives a `scf_core::Source` itself (the runtime API, or in image mode the
//! `POST /event-invoke` server): one long-lived thread (with SIGTERM and SIGINT blocked, so they
//! go to the main thread) makes the `ready` and `next` calls; the main thread waits for it in
//! `poll(2)` with the GIL released. A signal interrupts that wait, the main thread runs the
//! Python signal handlers, and an exception they raise ends `run`. However `run` ends, the
//! source is shut down: image mode's server stops listening, answers the requests it still
//! holds with 503, and wakes the poll thread out of `next`.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use pyo3::exceptions::{PySystemExit, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use scf_core::{Answer, Config, Error, ErrorReport, Invocation, PollState, Source};

use crate::context::{ContextTemplate, EnvMirror};
use crate::convert::{Outcome, call_python, user_error_json, user_error_trace};
use crate::{RuntimeApiError, to_pyerr};

/// The longest the main thread waits without looking at Python's pending signals; covers a
/// signal that lands between the check and the start of `poll`.
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(200);

/// Serve `handler(event, context)` until stopped; the loop behind `scfruntime.run`.
///
/// Reads the configuration from the environment: the SCF runtime API when `SCF_RUNTIME_API`
/// is set, else with `SCFRUNTIME_MODE=image` an HTTP server for `POST /event-invoke` on
/// `SCFRUNTIME_LISTEN` (default `0.0.0.0:9000`). Reports ready (image mode: starts listening),
/// then answers events one at a time until `max_invocations` (if given) are answered. A
/// handler exception is posted as the error JSON (image mode: answered 500 with it) and the
/// loop goes on.
///
/// # Errors
///
/// `ConfigError` for a missing or malformed environment or an address image mode cannot
/// listen on, `RuntimeApiError` when `ready` or `next` fail for good, and any `BaseException`
/// that is not an `Exception` (a `KeyboardInterrupt`, the `SystemExit(0)` of SIGTERM) raised by
/// the handler or a signal.
pub fn serve(
    py: Python<'_>,
    handler: &Bound<'_, PyAny>,
    max_invocations: Option<u64>,
) -> PyResult<()> {
    let config = Config::from_env().map_err(to_pyerr)?;
    let template = ContextTemplate::new(py, &config)?;
    let source = Arc::new(Source::new(&config));
    // A backstop for an unwinding panic; the normal paths below shut down with the GIL
    // released (stopping the server may wait for answers still being written).
    let _shutdown = source.shutdown_guard();
    let signals = StopSignals::install(py)?;
    let line_buffered = LineBuffered::stdout(py);
    let mut env = EnvMirror::new();
    let result = serve_loop(py, handler, &template, &source, &mut env, max_invocations);
    py.detach(|| source.shutdown());
    // Nothing to undo unless image-mode events set variables; a failure here is only logged,
    // since `result` says how the loop ended.
    if let Err(e) = env.restore(py) {
        eprintln!("scfruntime: cannot restore os.environ: {e}");
    }
    flush_python(py);
    line_buffered.restore(py);
    signals.restore(py);
    result
}

/// `sys.stdout` made line-buffered for the life of `run`, as SCF's built-in runtime writes each
/// print to the log when it happens (docs/python.md, "print, stdout, stderr"): on a pipe Python
/// would buffer 8 KB, and a handler killed at its timeout would lose what it printed.
struct LineBuffered {
    /// The stream changed, to change back.
    stream: Option<Py<PyAny>>,
}

impl LineBuffered {
    fn stdout(py: Python<'_>) -> LineBuffered {
        let stream = py
            .import(intern!(py, "sys"))
            .and_then(|sys| sys.getattr(intern!(py, "stdout")))
            .ok()
            .filter(|s| {
                // A text stream that is not line-buffered yet and can be reconfigured.
                s.getattr(intern!(py, "line_buffering"))
                    .and_then(|b| b.extract::<bool>())
                    .is_ok_and(|on| !on)
            })
            .filter(|s| {
                let kwargs = pyo3::types::PyDict::new(py);
                kwargs.set_item("line_buffering", true).is_ok()
                    && s.call_method(intern!(py, "reconfigure"), (), Some(&kwargs))
                        .is_ok()
            });
        LineBuffered {
            stream: stream.map(Bound::unbind),
        }
    }

    fn restore(self, py: Python<'_>) {
        if let Some(stream) = self.stream {
            let kwargs = pyo3::types::PyDict::new(py);
            if kwargs.set_item("line_buffering", false).is_ok() {
                let _ = stream
                    .bind(py)
                    .call_method(intern!(py, "reconfigure"), (), Some(&kwargs));
            }
        }
    }
}

fn serve_loop(
    py: Python<'_>,
    handler: &Bound<'_, PyAny>,
    template: &ContextTemplate,
    source: &Arc<Source>,
    env: &mut EnvMirror,
    max_invocations: Option<u64>,
) -> PyResult<()> {
    flush_python(py);
    let poller = Poller::spawn(Arc::clone(source))
        .map_err(|e| RuntimeApiError::new_err(format!("cannot start the poll thread: {e}")))?;
    // Through the poll thread too: its retries may last a minute, and a signal must not wait.
    poller.ready(py)?.map_err(to_pyerr)?;
    let mut answered = 0u64;
    while max_invocations.is_none_or(|max| answered < max) {
        py.check_signals()?;
        let Polled { event, stop } = poller.next(py)?;
        let inv = match event {
            Ok(inv) => inv,
            // An event that cannot be read is answered by core (with the GIL released), and the
            // loop goes on; any other error ends it.
            Err(e) => match py.detach(|| source.answer_unreadable(e)) {
                Ok(()) => {
                    answered += 1;
                    if let Some(stop) = stop {
                        return Err(stop);
                    }
                    continue;
                }
                // Image mode's server was shut down (by another thread): no event will come.
                Err(Error::ServerStopped) => return stop.map_or(Ok(()), Err),
                Err(e) => return Err(stop.unwrap_or_else(|| to_pyerr(e))),
            },
        };
        let request_id = inv.request_id.clone();
        // Image mode: the event's credentials and identity where a code package has them.
        let outcome = match env.apply(py, inv.metadata.as_ref()) {
            Ok(()) => call_python(py, handler, template, inv),
            Err(e) => Outcome::Fail(crate::error_report(
                py,
                &e,
                "cannot set the event's X-Scf-* values in os.environ",
            )),
        };
        let abort = match outcome {
            Outcome::Respond(body) => {
                match body.as_bytes() {
                    // Posted straight from the Python object's buffer, no copy; core checks the
                    // size (over 6 MB it posts the ResponseTooLarge error instead).
                    Ok(bytes) => {
                        flush_python(py);
                        answer_detached(py, source, &request_id, Answer::Result(bytes));
                    }
                    Err(report) => fail_user(py, source, &report, &request_id),
                }
                None
            }
            Outcome::Fail(report) => {
                fail_user(py, source, &report, &request_id);
                None
            }
            Outcome::Abort(report, err) => {
                fail_user(py, source, &report, &request_id);
                Some(err)
            }
        };
        answered += 1;
        if let Some(err) = abort {
            return Err(err);
        }
        // A stop signal that came while this event was arriving: it is answered, now stop.
        if let Some(stop) = stop {
            return Err(stop);
        }
    }
    Ok(())
}

/// A failed handler: its traceback into the log (stderr, after what it printed), then the error
/// body in the built-in runtime's shape ([`user_error_json`]).
fn fail_user(py: Python<'_>, source: &Source, report: &ErrorReport, request_id: &str) {
    // What the handler printed first: stdout and stderr may share one pipe.
    flush_python(py);
    let trace = user_error_trace(report);
    if let Ok(stderr) = py
        .import(intern!(py, "sys"))
        .and_then(|sys| sys.getattr(intern!(py, "stderr")))
        && !stderr.is_none()
    {
        let _ = stderr.call_method1(intern!(py, "write"), (format!("{trace}\n"),));
    }
    flush_python(py);
    let json = user_error_json(report, request_id);
    answer_detached(py, source, request_id, Answer::ErrorJson(&json));
}

/// Answer the invocation through core's [`Source::answer`] (which checks the size, posts, and
/// logs a refused post) with the GIL released: other Python threads run while the post waits.
fn answer_detached(py: Python<'_>, source: &Source, request_id: &str, answer: Answer<'_>) {
    py.detach(|| source.answer(request_id, answer));
}

/// Flush `sys.stdout` and `sys.stderr` so the handler's output is in the log before the result.
fn flush_python(py: Python<'_>) {
    let Ok(sys) = py.import(intern!(py, "sys")) else {
        return;
    };
    for name in [intern!(py, "stdout"), intern!(py, "stderr")] {
        match sys.getattr(name) {
            Ok(stream) if !stream.is_none() => {
                let _ = stream.call_method0(intern!(py, "flush"));
            }
            _ => {}
        }
    }
}

/// What the poll thread is asked to do.
enum Request {
    Ready,
    Next,
}

/// What the poll thread replies: `None` for ready, the event for next.
type Reply = scf_core::Result<Option<Invocation>>;

/// An answer to `next`, with the exception a stop signal raised while that event was arriving:
/// the event is answered first, then `stop` ends `run`.
struct Polled {
    event: scf_core::Result<Invocation>,
    stop: Option<PyErr>,
}

/// The thread that makes the blocking calls of the source (`ready`, then one `next` per
/// request) for the life of a `run`.
struct Poller {
    requests: mpsc::Sender<Request>,
    results: mpsc::Receiver<Reply>,
    wake: UnixStream,
    /// Set by the poll thread from the first byte of an answer to `next` until that answer has
    /// been handed over (or its attempt failed): an event is on its way and must be answered.
    arriving: Arc<AtomicBool>,
}

impl Poller {
    fn spawn(source: Arc<Source>) -> std::io::Result<Poller> {
        let (requests, pending) = mpsc::channel::<Request>();
        let (done, results) = mpsc::channel();
        let (wake, mut wake_tx) = UnixStream::pair()?;
        let arriving = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&arriving);
        std::thread::Builder::new()
            .name("scfruntime-next".into())
            .spawn(move || {
                scf_core::block_stop_signals();
                let observe = |state| flag.store(state == PollState::Receiving, Ordering::SeqCst);
                while let Ok(request) = pending.recv() {
                    let answer = match request {
                        Request::Ready => source.ready().map(|()| None),
                        Request::Next => source.next_with(&observe).map(Some),
                    };
                    // The receiver is gone when `run` ended (e.g. on KeyboardInterrupt).
                    let sent = done.send(answer).is_ok() && wake_tx.write_all(&[1]).is_ok();
                    // Cleared only once the answer can be seen on `wake`: whoever finds the
                    // flag clear and `wake` quiet knows no event is on its way.
                    flag.store(false, Ordering::SeqCst);
                    if !sent {
                        break;
                    }
                }
            })?;
        Ok(Poller {
            requests,
            results,
            wake,
            arriving,
        })
    }

    /// Report ready (`POST /runtime/init/ready`; image mode: start listening), waiting as
    /// [`next`](Self::next) does; a signal's exception ends the wait at once.
    fn ready(&self, py: Python<'_>) -> PyResult<scf_core::Result<()>> {
        self.requests.send(Request::Ready).map_err(|_| gone())?;
        loop {
            if let Some(answer) = self.wait(py)? {
                return Ok(answer.map(|_| ()));
            }
            py.check_signals()?;
        }
    }

    /// The next event, waiting with the GIL released and running Python's signal handlers
    /// whenever a signal interrupts the wait. An exception they raise ends the wait, unless an
    /// event is already arriving: then the event is taken (to be answered) and the exception
    /// comes with it.
    fn next(&self, py: Python<'_>) -> PyResult<Polled> {
        self.requests.send(Request::Next).map_err(|_| gone())?;
        let mut stop = None;
        let answer = loop {
            let answer = self.wait(py)?;
            // Checked after an answer too: a signal that landed between the last check and the
            // start of `poll` does not interrupt it, and would otherwise raise in the handler.
            if stop.is_none()
                && let Err(e) = py.check_signals()
            {
                // Flag first, then `wake`: the poll thread clears the flag only after the
                // answer is there to be read.
                if answer.is_none()
                    && !self.arriving.load(Ordering::SeqCst)
                    && !wait_readable(self.wake.as_raw_fd(), Duration::ZERO)
                {
                    return Err(e);
                }
                // An event is here or on its way (the platform counts it as delivered): take
                // it without running further handlers, answer it, then stop.
                stop = Some(e);
            }
            if let Some(answer) = answer {
                break answer;
            }
        };
        let event = answer.and_then(|inv| {
            inv.ok_or_else(|| Error::Protocol {
                endpoint: scf_core::NEXT_PATH,
                reason: "the poll thread answered next without an event".into(),
            })
        });
        Ok(Polled { event, stop })
    }

    /// One bounded wait for the poll thread's answer; `None` when the wait ended without one
    /// (a signal, or the check interval).
    fn wait(&self, py: Python<'_>) -> PyResult<Option<Reply>> {
        let fd = self.wake.as_raw_fd();
        if !py.detach(|| wait_readable(fd, SIGNAL_CHECK_INTERVAL)) {
            return Ok(None);
        }
        let mut byte = [0u8; 1];
        (&self.wake).read_exact(&mut byte).map_err(|_| gone())?;
        self.results.recv().map(Some).map_err(|_| gone())
    }
}

fn gone() -> PyErr {
    RuntimeApiError::new_err("the poll thread ended")
}

/// Wait until `fd` is readable (true) or a signal or the timeout ends the wait (false).
fn wait_readable(fd: i32, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    n > 0 && pfd.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
}

/// The Python-level SIGTERM handler `run` installs when none is set: a clean `SystemExit(0)`.
#[pyfunction]
fn _exit_on_sigterm(_signum: i32, _frame: &Bound<'_, PyAny>) -> PyResult<()> {
    Err(PySystemExit::new_err(0))
}

/// The signal dispositions `run` changed, restored when it returns.
struct StopSignals {
    saved: Vec<(i32, Py<PyAny>)>,
}

impl StopSignals {
    /// Where SIGINT or SIGTERM still has the default disposition (the embedded host starts
    /// Python without its handlers), install Python-level ones: KeyboardInterrupt for SIGINT,
    /// SystemExit(0) for SIGTERM. Handlers the program set itself are left alone. Off the main
    /// thread Python cannot set handlers, and nothing changes.
    fn install(py: Python<'_>) -> PyResult<StopSignals> {
        // `_signal`, not `signal`: the latter imports enum, which a handler may not need.
        let signal = py.import(intern!(py, "_signal"))?;
        let default = signal.getattr(intern!(py, "SIG_DFL"))?;
        let on_term = wrap_pyfunction!(_exit_on_sigterm, py)?.into_any();
        let on_int = signal.getattr(intern!(py, "default_int_handler"))?;
        let mut saved = Vec::new();
        for (signum, handler) in [(libc::SIGINT, on_int), (libc::SIGTERM, on_term)] {
            let current = signal.call_method1(intern!(py, "getsignal"), (signum,))?;
            if !current.eq(&default)? {
                continue;
            }
            match signal.call_method1(intern!(py, "signal"), (signum, handler)) {
                Ok(previous) => saved.push((signum, previous.unbind())),
                Err(e) if e.is_instance_of::<PyValueError>(py) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(StopSignals { saved })
    }

    fn restore(self, py: Python<'_>) {
        let Ok(signal) = py.import(intern!(py, "_signal")) else {
            return;
        };
        for (signum, previous) in self.saved {
            let _ = signal.call_method1(intern!(py, "signal"), (signum, previous));
        }
    }
}

/// Serve `handler(event, context)` with the SCF runtime API named by the environment, or with
/// `SCFRUNTIME_MODE=image` as an image-deployed function (an HTTP server for
/// `POST /event-invoke` on `SCFRUNTIME_LISTEN`, default `0.0.0.0:9000`).
///
/// `handler` is called once per event with `event` (the decoded JSON body; `str` or `bytes`
/// when the body is not JSON) and `context` (a `Context` dict). Its return value is sent as
/// `json.dumps(value, ensure_ascii=False)`; `str` and `bytes` are sent as they are. An exception
/// is posted as `{"errorType", "errorMessage", "stackTrace", "requestId"}` and the loop goes on.
/// `max_invocations` stops the loop after that many events (tests, benchmarks).
///
/// Returns when `max_invocations` events were answered.
///
/// # Errors
///
/// As [`serve`].
#[pyfunction]
#[pyo3(signature = (handler, *, max_invocations = None))]
pub fn run(
    py: Python<'_>,
    handler: &Bound<'_, PyAny>,
    max_invocations: Option<u64>,
) -> PyResult<()> {
    serve(py, handler, max_invocations)
}
