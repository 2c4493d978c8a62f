//! SIGTERM / SIGINT: stop after the current invocation, or at once while waiting for one.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static POLLING: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

extern "C" fn on_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
    if POLLING.load(Ordering::SeqCst) {
        // Blocked in the long poll: no invocation is in flight and the handler's output was
        // flushed before polling, so there is nothing to finish: leave now. `_exit` is
        // async-signal-safe.
        unsafe { libc::_exit(0) };
    }
}

/// Install the SIGTERM and SIGINT handlers (once per process).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        for sig in [libc::SIGTERM, libc::SIGINT] {
            // SAFETY: a zeroed sigaction is valid; the handler only touches atomics and `_exit`.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                libc::sigemptyset(&mut action.sa_mask);
                action.sa_flags = libc::SA_RESTART;
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
    });
}

/// Whether SIGTERM or SIGINT arrived since [`install`].
pub(crate) fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Mark the span in which a stop signal may end the process at once: a [`PollGuard`] is alive
/// around the long poll, and within it the span is armed while an attempt waits for an answer
/// and disarmed from the answer's first byte ([`on_poll`]).
pub(crate) struct PollGuard;

/// Whether a [`PollGuard`] is alive (the loop handles signals and is in `next`).
static IN_POLL: AtomicBool = AtomicBool::new(false);

impl PollGuard {
    pub(crate) fn enter() -> Option<PollGuard> {
        IN_POLL.store(true, Ordering::SeqCst);
        POLLING.store(true, Ordering::SeqCst);
        // A signal that landed just before the flag was set would otherwise be missed until the
        // next event arrives.
        if STOP.load(Ordering::SeqCst) {
            POLLING.store(false, Ordering::SeqCst);
            IN_POLL.store(false, Ordering::SeqCst);
            return None;
        }
        Some(PollGuard)
    }
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        POLLING.store(false, Ordering::SeqCst);
        IN_POLL.store(false, Ordering::SeqCst);
    }
}

/// The observer [`Runtime`](crate::Runtime) gives the long poll while it handles signals.
///
/// [`PollState::Receiving`]: the answer's first byte is in, an event is on its way and will be
/// answered before the process exits, so a stop signal from now on only ends the loop after
/// it. [`PollState::Waiting`] (a new attempt, e.g. after a connection broke mid-answer): nothing
/// is held again, so the span is re-armed, and a signal that came meanwhile ends the process
/// now, as it would have in the poll. Outside a [`PollGuard`] this does nothing.
///
/// What is left: a signal landing between the kernel handing over the first bytes and the flag
/// being cleared (a few instructions) still ends the process at once.
pub(crate) fn on_poll(state: crate::PollState) {
    if !IN_POLL.load(Ordering::SeqCst) {
        return;
    }
    match state {
        crate::PollState::Receiving => POLLING.store(false, Ordering::SeqCst),
        crate::PollState::Waiting => {
            POLLING.store(true, Ordering::SeqCst);
            if STOP.load(Ordering::SeqCst) {
                // SAFETY: `_exit` ends the process without running anything else; no event is
                // held and the handler's output was flushed before the poll.
                unsafe { libc::_exit(0) };
            }
        }
    }
}

/// Block SIGTERM and SIGINT in the calling thread, so the kernel delivers them to another one.
///
/// For helper threads (image mode's server, the Python binding's poll thread): the stop signals
/// then reach the thread that runs the loop (under Python, the main thread, whose waits they
/// interrupt and whose handlers turn them into exceptions).
pub fn block_stop_signals() {
    // SAFETY: a sigset_t initialised by sigemptyset; pthread_sigmask only changes this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}
