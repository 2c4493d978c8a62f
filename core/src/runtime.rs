//! The invocation loop: ready, then next -> handler -> response | error, until stopped.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use crate::{
    Answer, Answered, Config, Error, ErrorReport, Invocation, Result, RetryPolicy, Source, signal,
};

/// In image mode, how often a loop waiting for an event looks for a stop signal (the wait is
/// a condition variable, which a signal handler cannot wake).
const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(200);

/// Something that turns one event into a response.
///
/// Implemented for every `FnMut(&Invocation) -> Result<Vec<u8>, ErrorReport>`; the C binding
/// passes such a closure around its callback. (The Python binding drives a [`Source`] from a
/// loop of its own and answers through the same [`Source::answer`].)
pub trait Handler {
    /// Handle one invocation; `Err` is posted to `/runtime/invocation/error`.
    fn handle(&mut self, inv: &Invocation) -> Result<Vec<u8>, ErrorReport>;
}

impl<F> Handler for F
where
    F: FnMut(&Invocation) -> Result<Vec<u8>, ErrorReport>,
{
    fn handle(&mut self, inv: &Invocation) -> Result<Vec<u8>, ErrorReport> {
        self(inv)
    }
}

/// What a finished [`Runtime::run`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunStats {
    /// Invocations answered with a result (`/runtime/invocation/response`, or 200 in image
    /// mode).
    pub responses: u64,
    /// Invocations answered as failed (`/runtime/invocation/error`, or 500 in image mode).
    pub errors: u64,
}

impl RunStats {
    fn count(&mut self, answered: Answered) {
        match answered {
            Answered::Response => self.responses += 1,
            Answered::Error => self.errors += 1,
        }
    }
}

type InitHook = Box<dyn FnOnce() -> Result<(), ErrorReport> + Send>;

/// The runtime: a [`Source`] of invocations (the runtime API, or image mode's server) plus the
/// loop's settings.
///
/// ```no_run
/// use scf_core::{ErrorReport, Invocation, Runtime};
///
/// let rt = Runtime::from_env().expect("SCF environment");
/// rt.run(|inv: &Invocation| -> Result<Vec<u8>, ErrorReport> { Ok(inv.body.clone()) })
///     .expect("runtime API");
/// ```
pub struct Runtime {
    config: Config,
    source: Source,
    max_invocations: Option<u64>,
    init: Option<InitHook>,
    handle_signals: bool,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .field("source", &self.source)
            .field("max_invocations", &self.max_invocations)
            .field("has_init", &self.init.is_some())
            .field("handle_signals", &self.handle_signals)
            .finish()
    }
}

impl Runtime {
    /// A runtime for `config`; signals are handled, invocations unbounded.
    ///
    /// `config.mode` picks the source of invocations: the runtime API, or in image mode an HTTP
    /// server for `POST /event-invoke` (`Config::for_image` chooses it explicitly).
    pub fn new(config: Config) -> Runtime {
        Runtime {
            source: Source::new(&config),
            config,
            max_invocations: None,
            init: None,
            handle_signals: true,
        }
    }

    /// A runtime configured from the process environment: the runtime API when
    /// `SCF_RUNTIME_API` is set, image mode when it is not and `SCFRUNTIME_MODE=image`.
    ///
    /// # Errors
    ///
    /// As [`Config::from_env`].
    pub fn from_env() -> Result<Runtime> {
        Config::from_env().map(Runtime::new)
    }

    /// The configuration the runtime was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where invocations come from (for image mode: the server, whose address is known once
    /// `run` has reported ready).
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Stop after `n` invocations (for tests and benchmarks); `None` runs until stopped.
    pub fn max_invocations(mut self, n: Option<u64>) -> Runtime {
        self.max_invocations = n;
        self
    }

    /// Run `init` before reporting ready (in image mode: before listening). If it fails, ready
    /// is never sent (nothing listens) and [`run`](Self::run) returns [`Error::Init`]; SCF then
    /// reports the init failure.
    pub fn init(
        mut self,
        init: impl FnOnce() -> Result<(), ErrorReport> + Send + 'static,
    ) -> Runtime {
        self.init = Some(Box::new(init));
        self
    }

    /// Whether `run` installs SIGTERM/SIGINT handlers (default `true`).
    ///
    /// With them, a signal during a handler ends the loop after that invocation is answered, and
    /// a signal during the long poll ends the process at once with exit code 0. In image mode a
    /// signal while waiting for an event ends the loop within 200 ms and the server answers what
    /// it still holds before `run` returns. Embedders that own signal handling (such as the
    /// Python binding) turn this off.
    pub fn handle_signals(mut self, on: bool) -> Runtime {
        self.handle_signals = on;
        self
    }

    /// Replace the retry policy of the runtime API's `ready` and `next` (image mode has
    /// nothing to retry).
    pub fn retry(mut self, retry: RetryPolicy) -> Runtime {
        self.source = self.source.with_retry(retry);
        self
    }

    /// Init, ready, then serve invocations with `handler` until stopped.
    ///
    /// A handler error, a handler panic, an oversized response or an invalid event are posted to
    /// the error endpoint (image mode: answered 500 with the same error JSON) and the loop goes
    /// on. A refused post (e.g. a second result, or an image-mode client that went away) is
    /// logged to stderr and the loop goes on. In image mode the server is shut down when the loop
    /// ends.
    ///
    /// # Errors
    ///
    /// [`Error::Init`] when the init hook failed; otherwise a transport error that outlived the
    /// retries of `ready` or `next`, or a 4xx answer to them; in image mode [`Error::Listen`]
    /// when the server cannot listen.
    pub fn run(self, handler: impl Handler) -> Result<RunStats> {
        self.run_with(handler, |_| {})
    }

    /// [`run`](Self::run), calling `after_each` once an invocation is answered (bindings use it
    /// to flush their own output buffers before the next long poll).
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    pub fn run_with(
        mut self,
        mut handler: impl Handler,
        mut after_each: impl FnMut(&Invocation),
    ) -> Result<RunStats> {
        if self.handle_signals {
            signal::install();
        }
        let init = self.init.take();
        // However the loop ends, image mode's server answers what it holds and stops.
        let _shutdown = self.source.shutdown_guard();
        if let Some(init) = init {
            match catch_unwind(AssertUnwindSafe(init)) {
                Ok(Ok(())) => {}
                Ok(Err(report)) => return Err(Error::Init(report)),
                Err(payload) => return Err(Error::Init(panic_report(payload.as_ref()))),
            }
        }
        flush_std();
        self.source.ready()?;
        let mut stats = RunStats::default();
        while self
            .max_invocations
            .is_none_or(|max| stats.responses + stats.errors < max)
        {
            let Some(next) = self.next() else {
                break;
            };
            let inv = match next {
                Ok(inv) => inv,
                // An invalid event is answered there and the loop goes on; any other error ends it.
                Err(e) => {
                    self.source.answer_unreadable(e)?;
                    stats.count(Answered::Error);
                    continue;
                }
            };
            let outcome = match catch_unwind(AssertUnwindSafe(|| handler.handle(&inv))) {
                Ok(result) => result,
                Err(payload) => Err(panic_report(payload.as_ref())),
            };
            flush_std();
            stats.count(self.source.answer(&inv.request_id, Answer::from(&outcome)));
            after_each(&inv);
            self.source.recycle(inv.body);
        }
        Ok(stats)
    }

    /// The next event; `None` when a stop signal ends the loop first.
    fn next(&self) -> Option<Result<Invocation>> {
        if !self.handle_signals {
            return Some(self.source.next());
        }
        if self.source.is_image() {
            // A condition-variable wait: look for a stop signal between bounded waits. Ending
            // the loop (rather than the process) lets the server finish writing its answers.
            loop {
                if signal::stop_requested() {
                    return None;
                }
                match self.source.next_timeout(SIGNAL_CHECK_INTERVAL) {
                    Ok(None) => {}
                    Ok(Some(inv)) => return Some(Ok(inv)),
                    Err(e) => return Some(Err(e)),
                }
            }
        }
        // While this guard lives a stop signal ends the process at once (nothing is in flight
        // during the long poll) until the answer's first byte arrives: from then the event is
        // answered before the loop ends. `enter` refuses when a signal already arrived.
        let _polling = signal::PollGuard::enter()?;
        Some(self.source.next_with(&signal::on_poll))
    }
}

fn flush_std() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}

fn panic_report(payload: &(dyn std::any::Any + Send)) -> ErrorReport {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the handler panicked with a non-string payload".to_string());
    ErrorReport::new("Panic", message)
}

/// Serve `handler` with a runtime from the environment, as a bootstrap's `main` does.
///
/// The runtime API when `SCF_RUNTIME_API` is set (code packages); an HTTP server for
/// `POST /event-invoke` on `SCFRUNTIME_LISTEN` (default `0.0.0.0:9000`) when it is not and
/// `SCFRUNTIME_MODE=image` (image-deployed functions). Prints any fatal error to stderr and
/// returns the process exit code: success when the loop ended (signal or bound), failure for a
/// configuration, init or transport error.
///
/// ```no_run
/// use scf_core::{ErrorReport, Invocation};
///
/// fn main() -> std::process::ExitCode {
///     scf_core::serve(|inv: &Invocation| -> Result<Vec<u8>, ErrorReport> { Ok(inv.body.clone()) })
/// }
/// ```
pub fn serve(handler: impl Handler) -> std::process::ExitCode {
    match Runtime::from_env().and_then(|rt| rt.run(handler)) {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scfruntime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
