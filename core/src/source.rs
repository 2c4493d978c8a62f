//! Where invocations come from: the runtime API (code packages) or image mode's server.

use std::time::Duration;

#[cfg(feature = "image")]
use crate::ImageServer;
use crate::{Config, Invocation, PollState, Result, RetryPolicy, Transport};

/// The two ways invocations reach a function, behind one interface: `ready`, then
/// `next` -> `respond` | `fail`, one invocation at a time.
///
/// [`Runtime`](crate::Runtime) drives it; a binding with a loop of its own (the Python one polls
/// from a thread of its own) can drive it the same way, sharing it in an `Arc` (`Send + Sync`).
/// Such a loop answers each invocation with [`answer`](Self::answer) and each error of `next`
/// with [`answer_unreadable`](Self::answer_unreadable), as `Runtime` does, rather than with
/// [`respond`](Self::respond) and [`fail`](Self::fail): those two only post.
///
/// ```no_run
/// use scf_core::{Answer, Config, Source};
///
/// let source = Source::new(&Config::from_env().expect("SCF environment"));
/// source.ready().expect("ready");
/// loop {
///     let inv = match source.next() {
///         Ok(inv) => inv,
///         Err(e) => {
///             source.answer_unreadable(e).expect("next event");
///             continue;
///         }
///     };
///     source.answer(&inv.request_id, Answer::Result(&inv.body));
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Source {
    /// Long-poll the SCF runtime API (docs/platform.md section 1).
    RuntimeApi(Transport),
    /// Serve `POST /event-invoke` (docs/platform.md section 6).
    #[cfg(feature = "image")]
    Image(ImageServer),
}

impl Source {
    /// The source `config` selects (see [`Mode`](crate::Mode)).
    ///
    /// Without scf-core's `image` feature, an image-mode configuration ([`Mode::Image`]) gives a
    /// runtime-API source whose every call fails with
    /// [`Error::NoRuntimeApi`](crate::Error::NoRuntimeApi).
    ///
    /// [`Mode::Image`]: crate::Mode::Image
    pub fn new(config: &Config) -> Source {
        #[cfg(feature = "image")]
        if let crate::Mode::Image(image) = &config.mode {
            return Source::Image(ImageServer::new(image.clone()));
        }
        Source::RuntimeApi(Transport::new(config))
    }

    /// Whether this is image mode's server.
    pub fn is_image(&self) -> bool {
        match self {
            #[cfg(feature = "image")]
            Source::Image(_) => true,
            Source::RuntimeApi(_) => false,
        }
    }

    /// Image mode's server, to learn its address or watch its queue.
    #[cfg(feature = "image")]
    pub fn as_image(&self) -> Option<&ImageServer> {
        match self {
            Source::Image(server) => Some(server),
            Source::RuntimeApi(_) => None,
        }
    }

    /// Replace the runtime API's retry policy (image mode has nothing to retry).
    pub fn with_retry(self, retry: RetryPolicy) -> Source {
        match self {
            Source::RuntimeApi(t) => Source::RuntimeApi(t.with_retry(retry)),
            #[cfg(feature = "image")]
            other => other,
        }
    }

    /// Init is done: `POST /runtime/init/ready`, or in image mode start listening (SCF takes
    /// the open port as the end of init).
    ///
    /// # Errors
    ///
    /// As [`Transport::ready`] or [`ImageServer::ready`].
    pub fn ready(&self) -> Result<()> {
        match self {
            Source::RuntimeApi(t) => t.ready(),
            #[cfg(feature = "image")]
            Source::Image(s) => s.ready(),
        }
    }

    /// Wait, without a timeout, for the next event.
    ///
    /// # Errors
    ///
    /// As [`Transport::next`] or [`ImageServer::next`].
    pub fn next(&self) -> Result<Invocation> {
        match self {
            Source::RuntimeApi(t) => t.next(),
            #[cfg(feature = "image")]
            Source::Image(s) => s.next(),
        }
    }

    /// [`next`](Self::next), telling `observe` when each attempt of the runtime API's long poll
    /// starts and when its answer's first byte arrives (see [`Transport::next_with`]). Image
    /// mode hands over whole events only: `observe` is not called.
    ///
    /// # Errors
    ///
    /// As [`next`](Self::next).
    pub fn next_with(&self, observe: &dyn Fn(PollState)) -> Result<Invocation> {
        match self {
            Source::RuntimeApi(t) => t.next_with(observe),
            #[cfg(feature = "image")]
            Source::Image(s) => {
                let _ = observe;
                s.next()
            }
        }
    }

    /// Image mode: [`next`](Self::next) waiting at most `timeout` (`Ok(None)` when nothing
    /// came). The runtime API's long poll cannot be cut short: there this is `next`.
    ///
    /// # Errors
    ///
    /// As [`next`](Self::next).
    pub fn next_timeout(&self, timeout: Duration) -> Result<Option<Invocation>> {
        let _ = timeout;
        match self {
            Source::RuntimeApi(t) => t.next().map(Some),
            #[cfg(feature = "image")]
            Source::Image(s) => s.next_timeout(timeout),
        }
    }

    /// Give back the body of an invocation that has been answered ([`Transport::recycle`]); image
    /// mode drops it.
    pub fn recycle(&self, body: Vec<u8>) {
        match self {
            Source::RuntimeApi(t) => t.recycle(body),
            #[cfg(feature = "image")]
            Source::Image(_) => drop(body),
        }
    }

    /// The current invocation's result: `POST /runtime/invocation/response`, or a 200 answer.
    ///
    /// # Errors
    ///
    /// As [`Transport::respond`] or [`ImageServer::respond`].
    pub fn respond(&self, body: &[u8]) -> Result<()> {
        match self {
            Source::RuntimeApi(t) => t.respond(body),
            #[cfg(feature = "image")]
            Source::Image(s) => s.respond(body),
        }
    }

    /// The current invocation failed; `body` is the error JSON (`ErrorReport::to_json`):
    /// `POST /runtime/invocation/error`, or a 500 answer with that body.
    ///
    /// # Errors
    ///
    /// As [`respond`](Self::respond).
    pub fn fail(&self, body: &[u8]) -> Result<()> {
        match self {
            Source::RuntimeApi(t) => t.fail(body),
            #[cfg(feature = "image")]
            Source::Image(s) => s.fail(body),
        }
    }

    /// Image mode: stop the server (see [`ImageServer::shutdown`]); a no-op for the runtime
    /// API. `Runtime::run` calls it when its loop ends; a binding with its own loop calls it
    /// when that loop ends.
    pub fn shutdown(&self) {
        match self {
            Source::RuntimeApi(_) => {}
            #[cfg(feature = "image")]
            Source::Image(s) => s.shutdown(),
        }
    }

    /// A guard that calls [`shutdown`](Self::shutdown) when dropped, so the source stops
    /// however the loop that drives it ends (an early return, an error, a panic).
    pub fn shutdown_guard(&self) -> ShutdownGuard<'_> {
        ShutdownGuard(self)
    }
}

/// Shuts its [`Source`] down when dropped ([`Source::shutdown_guard`]).
#[derive(Debug)]
#[must_use = "the source is shut down when the guard is dropped"]
pub struct ShutdownGuard<'a>(&'a Source);

impl Drop for ShutdownGuard<'_> {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}
