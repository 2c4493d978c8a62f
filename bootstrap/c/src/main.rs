//! `scf-c-bootstrap`: the SCF `bootstrap` for C handlers in a shared object.
//!
//! `_HANDLER=libecho.handle` loads `./libecho.so` (also `lib/echo.handle` or `lib.echo.handle`
//! for `./lib/echo.so`) with `dlopen(RTLD_NOW)` and serves its symbol `handle`, which has the
//! `scf_handler_fn` signature of `scfruntime.h`:
//!
//! ```c
//! int handle(void *userdata, const scf_invocation *inv, scf_response *resp);
//! ```
//!
//! `userdata` is NULL. An optional init function with the `scf_init_fn` signature,
//! `int <symbol>_init(void *userdata)` (here `handle_init`) or else `int scf_init(void *userdata)`,
//! runs once before ready; non-zero is an init failure. A missing file or symbol is an init
//! failure too: a message naming both on stderr, exit status 1, no ready.
//!
//! Everything else is libscfruntime itself (this binary links its Rust crate and calls the same
//! exported functions a C `main` would: `scf_runtime_new`, `scf_runtime_set_init`,
//! `scf_runtime_register`, `scf_runtime_run`), so a handler behaves exactly as under a C program
//! using the library. Its `scf_*` functions are exported from this executable, so the handler
//! object needs no libscfruntime of its own: build it with
//! `cc -shared -fPIC -I include handler.c -o libecho.so`. No libpython is involved.

use std::ffi::{CStr, CString, c_int, c_void};
use std::path::PathBuf;
use std::process::ExitCode;

use scf_core::HandlerSpec;
use scfruntime::{
    scf_handler_fn, scf_init_fn, scf_last_error_message, scf_result, scf_runtime_free,
    scf_runtime_new, scf_runtime_register, scf_runtime_run, scf_runtime_set_init,
};

const NAME: &str = "scf-c-bootstrap";

type HandlerPtr = unsafe extern "C" fn(
    *mut c_void,
    *const scfruntime::scf_invocation,
    *mut scfruntime::scf_response,
) -> c_int;
type InitPtr = unsafe extern "C" fn(*mut c_void) -> c_int;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{NAME}: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The handler's shared object and its functions, resolved before anything is reported.
struct Loaded {
    handler: HandlerPtr,
    init: Option<InitPtr>,
}

fn load() -> Result<Loaded, String> {
    let handler = std::env::var("_HANDLER")
        .map_err(|_| "init failed: _HANDLER is not set; expected e.g. _HANDLER=libecho.handle (./libecho.so, symbol handle)".to_owned())?;
    let spec = HandlerSpec::parse(&handler).map_err(|e| format!("init failed: {e}"))?;
    let file = PathBuf::from(".").join(spec.file_with_extension("so"));
    let symbol = &spec.function;
    let shown = file.display();
    if !file.is_file() {
        let cwd = std::env::current_dir().unwrap_or_default();
        return Err(format!(
            "init failed: shared object {shown} (for symbol {symbol}, _HANDLER={handler}) not found in {}",
            cwd.display()
        ));
    }
    let c_file = CString::new(file.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("init failed: {shown}: NUL byte in path"))?;
    // SAFETY: a valid NUL-terminated path; running the object's constructors is what loading a
    // handler means. The handle is never closed: the handler runs for the life of the process.
    let lib = unsafe { libc::dlopen(c_file.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if lib.is_null() {
        return Err(format!(
            "init failed: cannot load {shown} (for symbol {symbol}): {}",
            dlerror()
        ));
    }
    let find = |name: &str| -> Option<*mut c_void> {
        let c_name = CString::new(name).ok()?;
        // SAFETY: `lib` is a live handle from dlopen and `c_name` NUL-terminated.
        let p = unsafe { libc::dlsym(lib, c_name.as_ptr()) };
        (!p.is_null()).then_some(p)
    };
    let Some(h) = find(symbol) else {
        return Err(format!(
            "init failed: {shown} has no symbol {symbol} (_HANDLER={handler}); export it as \
             `int {symbol}(void *userdata, const scf_invocation *inv, scf_response *resp)`"
        ));
    };
    // SAFETY: the documented contract of the handler symbol is the scf_handler_fn signature.
    let handler = unsafe { std::mem::transmute::<*mut c_void, HandlerPtr>(h) };
    let init = find(&format!("{symbol}_init"))
        .or_else(|| find("scf_init"))
        // SAFETY: the documented contract of the init symbols is the scf_init_fn signature.
        .map(|p| unsafe { std::mem::transmute::<*mut c_void, InitPtr>(p) });
    Ok(Loaded { handler, init })
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown error".to_owned()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

fn last_error() -> String {
    // SAFETY: scf_last_error_message returns a NUL-terminated string owned by the library.
    unsafe {
        let m = scf_last_error_message();
        if m.is_null() {
            String::new()
        } else {
            CStr::from_ptr(m).to_string_lossy().into_owned()
        }
    }
}

fn run() -> Result<(), String> {
    let loaded = load()?;
    let mut rt = std::ptr::null_mut();
    // SAFETY: the calls follow scfruntime.h: `rt` comes from scf_runtime_new, is used on this
    // thread only and freed once; the callbacks were resolved from the handler object with the
    // documented signatures and take no userdata.
    unsafe {
        if scf_runtime_new(&mut rt) != scf_result::Ok {
            return Err(last_error());
        }
        let handler: scf_handler_fn = Some(loaded.handler);
        let mut result =
            scf_runtime_register(rt, std::ptr::null(), handler, std::ptr::null_mut(), None);
        if result == scf_result::Ok
            && let Some(init) = loaded.init
        {
            let init: scf_init_fn = Some(init);
            result = scf_runtime_set_init(rt, init, std::ptr::null_mut(), None);
        }
        if result == scf_result::Ok {
            result = scf_runtime_run(rt);
        }
        let msg = (result != scf_result::Ok).then(last_error);
        scf_runtime_free(rt);
        match msg {
            None => Ok(()),
            Some(m) => Err(m),
        }
    }
}
