//! An instance pool per function, on top of [`Function`] (one `Function` = one warm instance).
//!
//! A warm instance is reused (its init ran once); concurrent invocations start more instances up
//! to [`PoolOptions::max_instances`] and wait in line beyond it; idle instances are reaped by
//! [`Pool::reap_idle`]; an instance that crashed or timed out (no warm process left) is dropped
//! instead of going back to the pool, so the next invocation starts a fresh one.
//!
//! All methods block (cold starts, invocations, teardown): call them from threads, not from an
//! async executor.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::{
    ForwardRequest, Function, FunctionConfig, InvokeResult, STATUS_CONTAINER_EXITED, WebResult,
    platform_error_json,
};
use scf_runtime_api::Limits;

/// Limits of a [`Pool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// At most this many instances run at once (at least 1).
    pub max_instances: usize,
    /// An instance idle this long is stopped by [`Pool::reap_idle`].
    pub idle_timeout: Duration,
}

impl Default for PoolOptions {
    /// 4 instances, 5 minutes idle.
    fn default() -> Self {
        PoolOptions {
            max_instances: 4,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// A snapshot of a pool's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Instances (Function objects) created so far.
    pub instances_created: u64,
    /// Instances alive now: idle + busy.
    pub live: usize,
    /// Instances waiting for work.
    pub idle: usize,
    /// Instances running an invocation.
    pub busy: usize,
    /// The most instances ever busy at once.
    pub peak_busy: usize,
    /// Invocations waiting for a free instance.
    pub waiting: usize,
    /// Invocations finished.
    pub invocations: u64,
}

/// Why [`Pool::invoke`] did not run the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The pool was retired (the function was updated or deleted); use the new one.
    #[error("the function's instance pool was retired")]
    Retired,
}

struct IdleInstance {
    function: Function,
    since: Instant,
}

#[derive(Default)]
struct State {
    idle: Vec<IdleInstance>,
    stats: PoolStats,
    retired: bool,
    remove_on_drop: Option<PathBuf>,
}

/// Makes the sink a new instance streams its framed log to ([`Pool::with_log_stream`]).
pub type LogStreamFactory = Arc<dyn Fn() -> Box<dyn Write + Send> + Send + Sync>;

/// The instances of one function version (configuration + code).
pub struct Pool {
    cfg: FunctionConfig,
    opts: PoolOptions,
    log_stream: Option<LogStreamFactory>,
    state: Mutex<State>,
    /// Notified on every change of `state` (an instance freed, a slot released, retirement).
    changed: Condvar,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("function", &self.cfg.function_name)
            .field("opts", &self.opts)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool for `cfg` (its `log_type_tail` decides whether results carry the log).
    pub fn new(cfg: FunctionConfig, opts: PoolOptions) -> Pool {
        Pool {
            cfg,
            opts: PoolOptions {
                max_instances: opts.max_instances.max(1),
                ..opts
            },
            log_stream: None,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        }
    }

    /// Every instance this pool starts from now on streams its framed log (START, the
    /// bootstrap's output, END, Report) to a sink made by `make`, as
    /// [`Function::set_log_stream`] does for one function.
    #[must_use]
    pub fn with_log_stream(mut self, make: LogStreamFactory) -> Pool {
        self.log_stream = Some(make);
        self
    }

    /// The function configuration every instance gets.
    pub fn config(&self) -> &FunctionConfig {
        &self.cfg
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current counters.
    pub fn stats(&self) -> PoolStats {
        let st = self.lock();
        PoolStats {
            idle: st.idle.len(),
            ..st.stats
        }
    }

    /// Waits until `pred(stats)` holds or `timeout` passes; returns whether it holds.
    ///
    /// Woken by every state change, so it does not poll.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&PoolStats) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        loop {
            let snapshot = PoolStats {
                idle: st.idle.len(),
                ..st.stats
            };
            if pred(&snapshot) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Takes a warm instance (`Some`), or reserves a slot for a new one (`None`), or waits in
    /// line.
    fn acquire(&self) -> Result<Option<Function>, PoolError> {
        let mut st = self.lock();
        let mut counted_waiting = false;
        let slot = loop {
            if st.retired {
                break Err(PoolError::Retired);
            }
            // Most recently used first: it is the warmest, and the others age towards reaping.
            if let Some(idle) = st.idle.pop() {
                break Ok(Some(idle.function));
            }
            if st.stats.live < self.opts.max_instances {
                st.stats.live += 1;
                st.stats.instances_created += 1;
                break Ok(None);
            }
            if !counted_waiting {
                counted_waiting = true;
                st.stats.waiting += 1;
                self.changed.notify_all();
            }
            st = self
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
        };
        if counted_waiting {
            st.stats.waiting -= 1;
        }
        if slot.is_ok() {
            st.stats.busy += 1;
            st.stats.peak_busy = st.stats.peak_busy.max(st.stats.busy);
        }
        self.changed.notify_all();
        slot
    }

    /// Returns an instance after an invocation (`None`: it died or could not be created).
    fn release(&self, function: Option<Function>) {
        let mut st = self.lock();
        st.stats.busy -= 1;
        st.stats.invocations += 1;
        let retired = st.retired;
        let discard = match function {
            Some(function) if !retired => {
                st.idle.push(IdleInstance {
                    function,
                    since: Instant::now(),
                });
                None
            }
            other => {
                st.stats.live -= 1;
                other
            }
        };
        self.changed.notify_all();
        drop(st);
        drop(discard); // teardown blocks: outside the lock
    }

    /// Runs one event on a warm instance (or a new one), waiting for a free instance when
    /// [`PoolOptions::max_instances`] are busy. `request_id` becomes the `FunctionRequestId`.
    ///
    /// # Errors
    /// [`PoolError::Retired`] when the pool was retired before an instance was free.
    pub fn invoke(&self, event: &[u8], request_id: String) -> Result<InvokeResult, PoolError> {
        self.on_instance(
            request_id,
            |function, id| function.invoke_with_id(event, id),
            unrunnable,
        )
    }

    /// Passes one HTTP request to a web function ([`Function::forward`]) on a warm instance (or
    /// a new one), waiting for a free instance as [`invoke`](Self::invoke) does.
    ///
    /// # Errors
    /// [`PoolError::Retired`] when the pool was retired before an instance was free.
    pub fn forward(
        &self,
        request: &ForwardRequest,
        request_id: String,
    ) -> Result<WebResult, PoolError> {
        self.on_instance(
            request_id,
            |function, id| function.forward(request, id),
            |id, why| WebResult {
                result: unrunnable(id, why),
                response: None,
            },
        )
    }

    /// Runs `run` on a warm instance or a new one (`unrunnable` when none can be created), then
    /// gives the instance back, or drops it when it died.
    fn on_instance<R>(
        &self,
        request_id: String,
        run: impl FnOnce(&mut Function, String) -> R,
        unrunnable: impl FnOnce(String, &str) -> R,
    ) -> Result<R, PoolError> {
        let mut function = match self.acquire()? {
            Some(f) => f,
            None => match Function::new(self.cfg.clone()) {
                Ok(mut f) => {
                    // A pooled instance lives for many invocations and nobody reads its wire
                    // log: keeping one (4096 requests by default) grew `scfrt serve` by ~5 MB
                    // over 10^4 invocations (tests/reliability serve_load, SCF_SOAK=1).
                    f.set_limits(Limits {
                        wire_log_requests: 0,
                        ..Limits::default()
                    });
                    if let Some(make) = &self.log_stream {
                        f.set_log_stream(Some(make()));
                    }
                    f
                }
                Err(e) => {
                    self.release(None);
                    return Ok(unrunnable(request_id, &e.to_string()));
                }
            },
        };
        let result = run(&mut function, request_id);
        // A dead instance is dropped (and reaped) before release, outside the lock.
        if function.warm_pid().is_none() {
            drop(function);
            self.release(None);
        } else {
            self.release(Some(function));
        }
        Ok(result)
    }

    /// Stops the instances idle for at least the idle timeout at `now`; returns how many.
    pub fn reap_idle(&self, now: Instant) -> usize {
        let expired: Vec<IdleInstance> = {
            let mut st = self.lock();
            let (old, fresh): (Vec<_>, Vec<_>) = std::mem::take(&mut st.idle)
                .into_iter()
                .partition(|i| now.saturating_duration_since(i.since) >= self.opts.idle_timeout);
            st.idle = fresh;
            st.stats.live -= old.len();
            if !old.is_empty() {
                self.changed.notify_all();
            }
            old
        };
        let n = expired.len();
        drop(expired); // kills the processes, outside the lock
        n
    }

    /// Retires the pool: idle instances stop now, busy ones when their invocation ends, and
    /// waiting or later invocations get [`PoolError::Retired`]. `remove_on_drop` is deleted
    /// when the pool is dropped (the old code directory, once nothing runs in it).
    pub fn retire(&self, remove_on_drop: Option<PathBuf>) {
        let idle = {
            let mut st = self.lock();
            st.retired = true;
            st.remove_on_drop = remove_on_drop;
            let idle = std::mem::take(&mut st.idle);
            st.stats.live -= idle.len();
            self.changed.notify_all();
            idle
        };
        drop(idle);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        st.idle.clear();
        if let Some(dir) = st.remove_on_drop.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The result of an invocation whose instance could not even be created (no runnable bootstrap).
fn unrunnable(request_id: String, why: &str) -> InvokeResult {
    InvokeResult {
        function_request_id: request_id,
        ret_msg: String::new(),
        err_msg: platform_error_json(STATUS_CONTAINER_EXITED, why),
        log: String::new(),
        duration_ms: 0.0,
        bill_duration_ms: 1,
        mem_usage_bytes: 0,
        invoke_result: i64::from(STATUS_CONTAINER_EXITED),
        status_code: STATUS_CONTAINER_EXITED,
        cold_start: false,
    }
}
