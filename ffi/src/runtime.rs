//! The runtime handle: registration, init, and the loop.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};

use scf_core::{Config, ErrorReport, HandlerSpec, Invocation, Runtime};

use crate::error::{fail, fail_core, last_message, scf_result};
use crate::invocation::{scf_invocation, scf_response};
use crate::userdata::Userdata;
pub use crate::userdata::scf_free_fn;
use crate::{flush_c_stdio, null_parameter, testing};

/// A handler: called once per invocation with its `userdata`, the invocation and the response
/// to fill.
///
/// Runs on the thread that called `scf_runtime_run`, one invocation at a time. `inv` and `resp`
/// are valid only during the call. Return 0 for success. A non-zero return fails the
/// invocation: with the error set by `scf_response_set_error`, or else with a `HandlerFailed`
/// error naming the code. C stdio is flushed (`fflush(NULL)`) after each call, before the
/// result is posted. The callback must not unwind (C++ exceptions, `longjmp`) out of itself.
pub type scf_handler_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        inv: *const scf_invocation,
        resp: *mut scf_response,
    ) -> c_int,
>;

/// An init callback: called once with its `userdata` before ready is reported.
///
/// Runs on the thread that called `scf_runtime_run`. Return 0 for success; non-zero makes
/// `scf_runtime_run` return `SCF_RESULT_INIT_FAILED` without reporting ready (print the reason
/// to stderr: SCF shows it as the init error). C stdio is flushed after the call.
pub type scf_init_fn = Option<unsafe extern "C" fn(userdata: *mut c_void) -> c_int>;

/// The runtime: settings, registered handlers and the init callback.
///
/// Create it with `scf_runtime_new`, release it with `scf_runtime_free`. It may be created on
/// one thread and used on another, but by one thread at a time (not thread-safe). Callbacks run
/// inside `scf_runtime_run`; from there, calls that change the runtime return
/// `SCF_RESULT_BUSY`.
pub struct scf_runtime {
    inner: RefCell<Inner>,
}

struct Inner {
    config: Config,
    handlers: Vec<Registered>,
    init: Option<Callback<unsafe extern "C" fn(*mut c_void) -> c_int>>,
    max_invocations: Option<u64>,
    handle_signals: bool,
    /// The init callback has succeeded; a later `scf_runtime_run` does not call it again.
    initialized: bool,
    /// Inside `scf_runtime_run`.
    running: bool,
}

struct Callback<F> {
    f: F,
    userdata: Userdata,
}

type HandlerFn =
    unsafe extern "C" fn(*mut c_void, *const scf_invocation, *mut scf_response) -> c_int;

struct Registered {
    /// `None` for the default handler.
    name: Option<String>,
    callback: Callback<HandlerFn>,
}

/// The environment variable that bounds the number of invocations (tests and benchmarks).
pub(crate) const MAX_INVOCATIONS_ENV: &str = "SCFRUNTIME_MAX_INVOCATIONS";

impl scf_runtime {
    fn from_env() -> Result<scf_runtime, scf_result> {
        let config = Config::from_env().map_err(|e| fail_core(&e))?;
        let max_invocations = match std::env::var(MAX_INVOCATIONS_ENV) {
            Err(std::env::VarError::NotPresent) => None,
            Ok(v) if v.trim().is_empty() => None,
            Ok(v) => match v.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(n) => Some(n),
                Err(_) => return Err(bad_max_invocations(&v)),
            },
            Err(std::env::VarError::NotUnicode(v)) => {
                return Err(bad_max_invocations(&v.to_string_lossy()));
            }
        };
        Ok(scf_runtime {
            inner: RefCell::new(Inner {
                config,
                handlers: Vec::new(),
                init: None,
                max_invocations,
                handle_signals: true,
                initialized: false,
                running: false,
            }),
        })
    }

    /// Change the settings, unless the runtime is running.
    fn update(&self, change: impl FnOnce(&mut Inner)) -> scf_result {
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return busy();
        };
        if inner.running {
            return busy();
        }
        change(&mut inner);
        scf_result::Ok
    }

    fn register(
        &self,
        name: Option<String>,
        f: HandlerFn,
        userdata: *mut c_void,
        free: scf_free_fn,
    ) -> scf_result {
        // The Userdata is built only once the change is accepted: on failure the caller keeps
        // the pointer and its finalizer must not run.
        self.update(move |inner| {
            let callback = Callback {
                f,
                userdata: Userdata::new(userdata, free),
            };
            match inner.handlers.iter_mut().find(|r| r.name == name) {
                // The replaced userdata's finalizer runs here, once.
                Some(existing) => existing.callback = callback,
                None => inner.handlers.push(Registered { name, callback }),
            }
        })
    }

    fn run(&self) -> scf_result {
        let (runtime, f, userdata) = {
            let Ok(mut inner) = self.inner.try_borrow_mut() else {
                return busy();
            };
            if inner.running {
                return busy();
            }
            let (f, userdata) = match inner.select_handler() {
                Ok(cb) => (cb.f, cb.userdata.ptr()),
                Err(message) => return fail(scf_result::HandlerNotFound, message),
            };
            let mut runtime = Runtime::new(inner.config.clone())
                .max_invocations(inner.max_invocations)
                .handle_signals(inner.handle_signals);
            if !inner.initialized
                && let Some(init) = &inner.init
            {
                let (init_f, init_ud) = (init.f, SendPtr(init.userdata.ptr()));
                runtime = runtime.init(move || call_init(init_f, init_ud));
            }
            inner.running = true;
            (runtime, f, userdata)
        };
        // The userdata pointers stay owned by `inner`; nothing can free them while `running`.
        let result = {
            let _running = RunningGuard(self);
            runtime.run(move |inv: &Invocation| call_handler(f, userdata, inv))
        };
        let mut inner = self.inner.borrow_mut();
        match result {
            Ok(_) => {
                inner.initialized = true;
                scf_result::Ok
            }
            Err(e) => {
                if !matches!(e, scf_core::Error::Init(_)) {
                    inner.initialized = true;
                }
                fail_core(&e)
            }
        }
    }
}

/// Clears `running` when `scf_runtime_run` ends, also by a panic (caught at the boundary), so
/// the runtime stays usable and freeable.
struct RunningGuard<'a>(&'a scf_runtime);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut inner) = self.0.inner.try_borrow_mut() {
            inner.running = false;
        }
    }
}

impl Inner {
    /// The handler `_HANDLER` selects: the first one registered under its function part (as
    /// core's one parser reads it, `scf_core::HandlerSpec`: the text after the last '.' of a
    /// valid handler string) or under the whole string, else the default one.
    ///
    /// A `_HANDLER` the parser refuses has no function part: only a handler registered under
    /// the whole string, or the default one, serves it.
    fn select_handler(&self) -> Result<&Callback<HandlerFn>, String> {
        let wanted = self.config.handler.as_deref();
        let parsed = wanted.map(HandlerSpec::parse);
        let function = match &parsed {
            Some(Ok(spec)) => Some(spec.function.as_str()),
            _ => None,
        };
        let named = self.handlers.iter().find(|r| {
            r.name.is_some()
                && ((function.is_some() && r.name.as_deref() == function)
                    || r.name.as_deref() == wanted)
        });
        let default = || self.handlers.iter().find(|r| r.name.is_none());
        if let Some(found) = named.or_else(default) {
            return Ok(&found.callback);
        }
        let names: Vec<String> = self
            .handlers
            .iter()
            .filter_map(|r| r.name.as_ref().map(|n| format!("{n:?}")))
            .collect();
        let registered = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        Err(match (wanted, &parsed) {
            (Some(h), Some(Ok(spec))) => format!(
                "no handler for _HANDLER={h:?}: nothing is registered as {:?} and there is no \
                 default handler (registered: {registered})",
                spec.function
            ),
            (Some(h), Some(Err(e))) => format!(
                "no handler for _HANDLER={h:?}: it has no function part ({e}), nothing is \
                 registered under the whole string and there is no default handler \
                 (registered: {registered})"
            ),
            _ => format!(
                "_HANDLER is not set and there is no default handler (registered: {registered}); \
                 register one with name NULL"
            ),
        })
    }
}

fn busy() -> scf_result {
    fail(
        scf_result::Busy,
        "the runtime is running: it cannot be changed from inside its callbacks",
    )
}

fn bad_max_invocations(value: &str) -> scf_result {
    fail(
        scf_result::Config,
        format!(
            "environment variable {MAX_INVOCATIONS_ENV}={value:?} is invalid: expected a \
             whole number of invocations (0 or unset: no bound)"
        ),
    )
}

/// The init callback's `userdata`, carried into the init hook.
struct SendPtr(*mut c_void);

// SAFETY: core requires the init hook to be `Send`, but it calls the hook synchronously inside
// `Runtime::run` on the thread that called `scf_runtime_run`, the thread the C caller allowed
// (see `scf_runtime_set_init`'s `# Safety`). The pointer is never dereferenced by Rust.
unsafe impl Send for SendPtr {}

fn call_init(
    f: unsafe extern "C" fn(*mut c_void) -> c_int,
    userdata: SendPtr,
) -> Result<(), ErrorReport> {
    // SAFETY: `f` and `userdata` were registered together by `scf_runtime_set_init`, whose
    // caller promised `f` may be called with `userdata` on this thread.
    let code = unsafe { f(userdata.0) };
    flush_c_stdio();
    if code == 0 {
        Ok(())
    } else {
        Err(ErrorReport::new(
            "InitFailed",
            format!("the init callback returned {code}"),
        ))
    }
}

fn call_handler(
    f: HandlerFn,
    userdata: *mut c_void,
    inv: &Invocation,
) -> Result<Vec<u8>, ErrorReport> {
    testing::maybe_panic("handler");
    let view = scf_invocation::new(inv);
    let mut resp = scf_response::default();
    // SAFETY: `f` and `userdata` were registered together by `scf_runtime_register`, whose
    // caller promised `f` may be called with `userdata` on this thread. `view` and `resp` live
    // until after the call, and nothing else touches them meanwhile.
    let code = unsafe { f(userdata, &view, &raw mut resp) };
    flush_c_stdio();
    resp.into_result(code)
}

/// Create a runtime from the SCF environment of the process.
///
/// Reads `SCF_RUNTIME_API` and `SCF_RUNTIME_API_PORT` (required for a code package), `_HANDLER`
/// and the function metadata, and `SCFRUNTIME_MAX_INVOCATIONS` (optional: stop after that many
/// invocations; 0 or unset means no bound; meant for tests and benchmarks). Nothing is sent to
/// the runtime API yet.
///
/// Image-deployed functions: without `SCF_RUNTIME_API`, `SCFRUNTIME_MODE=image` makes
/// `scf_runtime_run` serve events as an HTTP server instead (`POST /event-invoke`, context in
/// `X-Scf-*` headers, read with `scf_invocation_metadata`), listening on `SCFRUNTIME_LISTEN`
/// (`host:port`, default `0.0.0.0:9000`). Handlers are the same in both deployments. On success `*out` holds a runtime the caller owns: release it with `scf_runtime_free`.
/// On failure `*out` is untouched: `SCF_RESULT_NULL_PARAMETER` when `out` is NULL,
/// `SCF_RESULT_CONFIG` when a variable is missing or malformed (the message names it).
///
/// # Safety
///
/// `out` must be NULL or valid for writing one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_runtime_new(out: *mut *mut scf_runtime) -> scf_result {
    ffi_boundary!("scf_runtime_new", {
        let out = try_out!(out);
        match scf_runtime::from_env() {
            Ok(rt) => {
                // SAFETY: `out` is non-NULL and the caller promises it is writable.
                unsafe { out.write(Box::into_raw(Box::new(rt))) };
                scf_result::Ok
            }
            Err(code) => code,
        }
    })
}

/// Register handler `f` under `name`, with `userdata` passed to each call.
///
/// `name` is matched against the function part of `_HANDLER` (the text after its last '.': for
/// `index.main_handler`, register `"main_handler"`), as the one `_HANDLER` parser of scfruntime
/// reads it (docs/handler.md); a name equal to the whole `_HANDLER` also matches. A `_HANDLER`
/// that parser refuses (`index.1main`, whitespace, non-ASCII letters) has no function part: only
/// a name equal to the whole string, or the default handler, serves it. `name` NULL registers the default handler, used when no name matches. Registering
/// a name again replaces the earlier handler and runs its `free_userdata` at once. The runtime
/// owns `userdata` from now on: `free_userdata` (may be NULL) runs exactly once, when the
/// handler is replaced or the runtime is freed. The name is copied. On failure nothing is
/// registered and the caller keeps `userdata`.
///
/// Returns `SCF_RESULT_NULL_PARAMETER` when `rt` or `f` is NULL, `SCF_RESULT_INVALID_UTF8`
/// when `name` is not UTF-8, `SCF_RESULT_BUSY` when called from a callback of `rt`.
///
/// # Safety
///
/// `rt` must be NULL or a live runtime from `scf_runtime_new`; `name` NULL or a NUL-terminated
/// string; `f` must be safe to call with `userdata` on the thread that runs the runtime, and
/// `free_userdata` with `userdata` on the thread that frees it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_runtime_register(
    rt: *mut scf_runtime,
    name: *const c_char,
    f: scf_handler_fn,
    userdata: *mut c_void,
    free_userdata: scf_free_fn,
) -> scf_result {
    ffi_boundary!("scf_runtime_register", {
        let rt = try_ref!(rt);
        let name = if name.is_null() {
            None
        } else {
            Some(try_str!(name).to_string())
        };
        let Some(f) = f else {
            return null_parameter("f");
        };
        rt.register(name, f, userdata, free_userdata)
    })
}

/// Set the init callback, called once before ready is reported by the first `scf_runtime_run`.
///
/// Replaces an earlier init callback (whose `free_userdata` runs at once). The runtime owns
/// `userdata` from now on: `free_userdata` (may be NULL) runs exactly once, when replaced or
/// when the runtime is freed. On failure the caller keeps `userdata`.
///
/// Returns `SCF_RESULT_NULL_PARAMETER` when `rt` or `f` is NULL, `SCF_RESULT_BUSY` when called
/// from a callback of `rt`.
///
/// # Safety
///
/// `rt` must be NULL or a live runtime from `scf_runtime_new`; `f` must be safe to call with
/// `userdata` on the thread that runs the runtime, and `free_userdata` with `userdata` on the
/// thread that frees it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_runtime_set_init(
    rt: *mut scf_runtime,
    f: scf_init_fn,
    userdata: *mut c_void,
    free_userdata: scf_free_fn,
) -> scf_result {
    ffi_boundary!("scf_runtime_set_init", {
        let rt = try_ref!(rt);
        let Some(f) = f else {
            return null_parameter("f");
        };
        rt.update(move |inner| {
            inner.init = Some(Callback {
                f,
                userdata: Userdata::new(userdata, free_userdata),
            });
            inner.initialized = false;
        })
    })
}

/// Stop `scf_runtime_run` after `n` invocations have been answered; 0 removes the bound.
///
/// Overrides `SCFRUNTIME_MAX_INVOCATIONS`. Meant for tests and benchmarks: on SCF the loop runs
/// until the platform stops the instance.
///
/// Returns `SCF_RESULT_NULL_PARAMETER` when `rt` is NULL, `SCF_RESULT_BUSY` when called from a
/// callback of `rt`.
///
/// # Safety
///
/// `rt` must be NULL or a live runtime from `scf_runtime_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_runtime_set_max_invocations(
    rt: *mut scf_runtime,
    n: u64,
) -> scf_result {
    ffi_boundary!("scf_runtime_set_max_invocations", {
        let rt = try_ref!(rt);
        rt.update(|inner| inner.max_invocations = (n != 0).then_some(n))
    })
}

/// Whether `scf_runtime_run` installs SIGTERM/SIGINT handlers (non-zero, the default) or
/// leaves signals to the program (0).
///
/// With the handlers, a signal during a handler call ends the loop once that invocation is
/// answered, and a signal while waiting for the next event exits the process at once with
/// status 0.
///
/// Returns `SCF_RESULT_NULL_PARAMETER` when `rt` is NULL, `SCF_RESULT_BUSY` when called from a
/// callback of `rt`.
///
/// # Safety
///
/// `rt` must be NULL or a live runtime from `scf_runtime_new`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_runtime_set_handle_signals(
    rt: *mut scf_runtime,
    on: c_int,
) -> scf_result {
    ffi_boundary!("scf_runtime_set_handle_signals", {
        let rt = try_ref!(rt);
        rt.update(|inner| inner.handle_signals = on != 0)
    })
}

/// Serve invocations: init, report ready, then next -> handler -> response|error until stopped.
///
/// Picks the handler `_HANDLER` selects (see `scf_runtime_register`), calls the init callback
/// (only until it has succeeded once), reports ready, then loops on the calling thread. Handler
/// failures are posted to the error endpoint and the loop goes on. Returns `SCF_RESULT_OK` when
/// the loop ends normally: SIGTERM/SIGINT during a handler call, or the invocation bound was
/// reached. (A signal while waiting for an event exits the process with status 0.)
///
/// In image mode (see `scf_runtime_new`) "ready" means listening: the port opens after the init
/// callback succeeded. Each `POST /event-invoke` is one invocation, one at a time; a result is
/// answered 200 with the body, a failure 500 with the same error JSON the runtime API gets. A
/// signal while waiting for an event ends the loop (returning `SCF_RESULT_OK`) within 200 ms.
///
/// Errors: `SCF_RESULT_HANDLER_NOT_FOUND` or `SCF_RESULT_INIT_FAILED` (ready was not sent;
/// exit non-zero so SCF reports the init error), `SCF_RESULT_TRANSPORT` /
/// `SCF_RESULT_HTTP_STATUS` when the runtime API fails, `SCF_RESULT_LISTEN` when image mode
/// cannot listen, `SCF_RESULT_NULL_PARAMETER`, `SCF_RESULT_BUSY` when called from one of `rt`'s
/// callbacks.
///
/// # Safety
///
/// `rt` must be NULL or a live runtime from `scf_runtime_new`, not used by another thread
/// during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_runtime_run(rt: *mut scf_runtime) -> scf_result {
    ffi_boundary!("scf_runtime_run", {
        let rt = try_ref!(rt);
        rt.run()
    })
}

/// Free a runtime and run each remaining `free_userdata` finalizer exactly once.
///
/// NULL is a no-op. Called from inside one of `rt`'s own callbacks, it does nothing (and sets
/// the last error), since the runtime is in use.
///
/// # Safety
///
/// `rt` must be NULL or a runtime from `scf_runtime_new` not freed before; it must not be used
/// afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_runtime_free(rt: *mut scf_runtime) {
    ffi_boundary!("scf_runtime_free", {
        if rt.is_null() {
            return;
        }
        {
            // SAFETY: non-NULL, and the caller promises a live runtime.
            let live = unsafe { &*rt };
            let in_use = live.inner.try_borrow().map_or(true, |inner| inner.running);
            if in_use {
                busy();
                return;
            }
        }
        // SAFETY: the pointer came from `Box::into_raw` in `scf_runtime_new` and is freed once.
        drop(unsafe { Box::from_raw(rt) });
    })
}

/// Serve `f` as the default handler: `scf_runtime_new`, `scf_runtime_register(NULL)`,
/// `scf_runtime_run`, `scf_runtime_free`, in one call.
///
/// Returns the process exit status for `main` to return: 0 when the loop ended normally, 1 on
/// any failure, after printing `scfruntime: <message>` to stderr (for example a missing
/// `SCF_RUNTIME_API`, or `f` NULL). `userdata` stays owned by the caller. The same program
/// serves an image-deployed function when `SCFRUNTIME_MODE=image` is set (see
/// `scf_runtime_new`).
///
/// # Safety
///
/// `f` must be NULL or safe to call with `userdata` on the calling thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn scf_run(f: scf_handler_fn, userdata: *mut c_void) -> c_int {
    ffi_boundary!("scf_run", {
        let result = (|| {
            let Some(f) = f else {
                return null_parameter("f");
            };
            let rt = match scf_runtime::from_env() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            match rt.register(None, f, userdata, None) {
                scf_result::Ok => rt.run(),
                code => code,
            }
        })();
        if result == scf_result::Ok {
            0
        } else {
            eprintln!("scfruntime: {}", last_message());
            1
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn nop(
        _: *mut c_void,
        _: *const scf_invocation,
        _: *mut scf_response,
    ) -> c_int {
        0
    }

    fn inner(handler: Option<&str>, names: &[Option<&str>]) -> Inner {
        let mut config = Config::for_endpoint("127.0.0.1", 9);
        config.handler = handler.map(str::to_string);
        Inner {
            config,
            handlers: names
                .iter()
                .enumerate()
                .map(|(i, name)| Registered {
                    name: name.map(str::to_string),
                    // The index stands in for userdata, to tell the handlers apart.
                    callback: Callback {
                        f: nop,
                        userdata: Userdata::new(i as *mut c_void, None),
                    },
                })
                .collect(),
            init: None,
            max_invocations: None,
            handle_signals: false,
            initialized: false,
            running: false,
        }
    }

    fn selected(handler: Option<&str>, names: &[Option<&str>]) -> Result<usize, String> {
        inner(handler, names)
            .select_handler()
            .map(|cb| cb.userdata.ptr() as usize)
    }

    #[test]
    fn handler_is_chosen_by_the_function_part_of_handler() {
        let names = [Some("main_handler"), Some("other"), None];
        assert_eq!(selected(Some("index.main_handler"), &names), Ok(0));
        assert_eq!(selected(Some("dir/mod.other"), &names), Ok(1));
        assert_eq!(selected(Some("a.b.other"), &names), Ok(1));
        assert_eq!(selected(Some("other"), &names), Ok(1));
        assert_eq!(selected(Some("index.unknown"), &names), Ok(2));
        assert_eq!(selected(None, &names), Ok(2));
        // A name may also be the whole _HANDLER string.
        assert_eq!(selected(Some("index.x"), &[Some("index.x")]), Ok(0));
    }

    /// The function part is what core's parser says (docs/handler.md): a `_HANDLER` it refuses
    /// no longer selects a handler by the text after its last '.'.
    #[test]
    fn the_function_part_is_core_parsers() {
        let names = [Some("main_handler"), Some("1main"), Some("处理"), None];
        assert_eq!(selected(Some("index.py.main_handler"), &names), Ok(0));
        assert_eq!(selected(Some("src.app.main_handler"), &names), Ok(0));
        for refused in [
            "index.1main",
            "index.处理",
            " index.main_handler",
            "index.main_handler\n",
            ".main_handler",
            "/abs/index.main_handler",
            "../index.main_handler",
        ] {
            assert_eq!(selected(Some(refused), &names), Ok(3), "{refused:?}");
        }
        // A name equal to the whole string still matches, parsed or not.
        assert_eq!(selected(Some("1main"), &names), Ok(1));
        assert_eq!(selected(Some("处理"), &names), Ok(2));
        // Without a default, the error says why the string has no function part.
        let e = selected(Some("index.1main"), &names[..3]).unwrap_err();
        assert!(
            e.contains("no function part")
                && e.contains("not an identifier")
                && e.contains("expected '<file>.<function>'"),
            "{e}"
        );
    }

    #[test]
    fn no_match_and_no_default_names_what_is_registered() {
        let e = selected(Some("index.missing"), &[Some("a"), Some("b")]).unwrap_err();
        assert!(
            e.contains("\"missing\"") && e.contains("\"a\", \"b\""),
            "{e}"
        );
        let e = selected(None, &[]).unwrap_err();
        assert!(
            e.contains("_HANDLER is not set") && e.contains("none"),
            "{e}"
        );
    }
}
