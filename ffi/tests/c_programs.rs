//! The C programs in `tests/c/` and `examples/c-echo/`, compiled against libscfruntime and run
//! as subprocesses against scfrt's runtime API (the emulator's platform side).
//!
//! Every scenario runs in four variants: linked to the shared library (with an rpath), linked to
//! the static library, built with `-fsanitize=address,undefined`, and the static build run
//! under valgrind (which must report no definite or indirect leak and no invalid access).
//! Programs are compiled with `cc -std=c11 -Wall -Wextra -Wpedantic -Werror`; `CC` picks the
//! compiler and `SCF_CFLAGS` adds flags to every build (e.g. `SCF_CFLAGS=-O2`).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread;
use std::time::Duration;

use scf_runtime_api::image::{Answer, ImagePort};
use scf_runtime_api::{InvokeOptions, Limits, Outcome, RuntimeApi};
use serde_json::Value;

const SIX_MB: usize = 6 * 1024 * 1024;
/// The invocation timeout sent to the programs (and the bound on each wait in the tests).
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// The most a whole program run may take before it is killed.
const RUN_LIMIT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Variant {
    Shared,
    Static,
    Sanitized,
    Valgrind,
}

/// How a variant's programs are compiled and linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Build {
    Shared,
    Static,
    Sanitized,
}

impl Variant {
    fn build(self) -> Build {
        match self {
            Variant::Shared => Build::Shared,
            Variant::Static | Variant::Valgrind => Build::Static,
            Variant::Sanitized => Build::Sanitized,
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("ffi/ has a parent")
        .to_path_buf()
}

struct Libs {
    /// `libscfruntime.a` as cargo built it for this test run.
    archive: PathBuf,
    /// Holds `libscfruntime.so` and `libscfruntime.so.0` (the soname) as symlinks: link and
    /// rpath directory of the shared build.
    shared_dir: PathBuf,
    /// Where programs and run logs go.
    out: PathBuf,
}

/// The libraries cargo built for this test run: `cargo test` leaves the package's cdylib and
/// staticlib in `deps/` beside the test executable (it uplifts them to the profile directory only
/// for `cargo build`).
fn libs() -> &'static Libs {
    static LIBS: OnceLock<Libs> = OnceLock::new();
    LIBS.get_or_init(|| {
        let exe = std::env::current_exe().expect("path of the test executable");
        let deps = exe
            .parent()
            .expect("the test runs from <target>/<profile>/deps");
        let profile = deps.parent().expect("deps/ has a parent");
        let so = deps.join("libscfruntime.so");
        let archive = deps.join("libscfruntime.a");
        let rlib = deps.join("libscfruntime.rlib");
        let modified = |p: &Path| {
            fs::metadata(p)
                .and_then(|m| m.modified())
                .unwrap_or_else(|e| {
                    panic!(
                        "{} is missing ({e}): cargo builds the ffi crate's cdylib, staticlib and \
                         rlib together before its integration tests; check `crate-type` in \
                         ffi/Cargo.toml",
                        p.display()
                    )
                })
        };
        // One rustc run writes all three; an older .a/.so would mean testing a stale library.
        let fresh = modified(&rlib);
        for lib in [&so, &archive] {
            let built = modified(lib);
            assert!(
                built + Duration::from_secs(60) >= fresh,
                "{} is older than {}: stale library",
                lib.display(),
                rlib.display()
            );
        }
        let out = profile.join("c-tests");
        let shared_dir = out.join("lib");
        fs::create_dir_all(&shared_dir).expect("create the C test directory");
        for name in ["libscfruntime.so", "libscfruntime.so.0"] {
            let link = shared_dir.join(name);
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(&so, &link).expect("symlink the shared library");
        }
        // Logs of earlier test runs only get in the way.
        let _ = fs::remove_dir_all(out.join("runs"));
        fs::create_dir_all(out.join("runs")).expect("create the run log directory");
        Libs {
            archive,
            shared_dir,
            out,
        }
    })
}

fn source(program: &str) -> PathBuf {
    match program {
        "c-echo" => repo().join("examples/c-echo/main.c"),
        name => repo().join("tests/c").join(format!("{name}.c")),
    }
}

/// Compile `program` for `build` once per test run; returns the executable.
fn program(build: Build, program: &'static str) -> PathBuf {
    type Cell = Arc<OnceLock<PathBuf>>;
    static BUILT: OnceLock<Mutex<HashMap<(Build, &'static str), Cell>>> = OnceLock::new();
    let cell = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry((build, program))
        .or_default()
        .clone();
    cell.get_or_init(|| compile(build, program)).clone()
}

fn compile(build: Build, program: &str) -> PathBuf {
    let libs = libs();
    let exe = libs.out.join(format!("{program}-{build:?}").to_lowercase());
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
        "-g",
    ])
    .arg(format!("-I{}", repo().join("include").display()))
    .arg(format!("-I{}", repo().join("tests/c").display()))
    .args(
        std::env::var("SCF_CFLAGS")
            .unwrap_or_default()
            .split_whitespace(),
    );
    if build == Build::Sanitized {
        cmd.args([
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
            "-fno-omit-frame-pointer",
        ]);
    }
    cmd.arg(source(program)).arg("-o").arg(&exe).arg("-pthread");
    match build {
        Build::Shared => {
            cmd.arg(format!("-L{}", libs.shared_dir.display()))
                .arg("-lscfruntime")
                .arg(format!("-Wl,-rpath,{}", libs.shared_dir.display()));
        }
        Build::Static | Build::Sanitized => {
            cmd.arg(&libs.archive).args(scf_test_support::static_libs());
        }
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(
        out.status.success(),
        "compiling {program} ({build:?}) failed: {cmd:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// valgrind (from ./test.sh's tools step; a missing one fails naming it).
fn valgrind() -> &'static Path {
    static VALGRIND: OnceLock<PathBuf> = OnceLock::new();
    VALGRIND.get_or_init(|| scf_test_support::tools::require("valgrind"))
}

/// One run of a C program against its own runtime API.
struct Run {
    api: Arc<RuntimeApi>,
    /// Image mode: the port the program's event server listens on.
    image: Option<Arc<ImagePort>>,
    name: String,
    stdout: PathBuf,
    stderr: PathBuf,
    pid: u32,
    exited: mpsc::Receiver<std::io::Result<ExitStatus>>,
    status: Option<ExitStatus>,
}

/// What a finished run left behind.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn describe(&self) -> String {
        format!(
            "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Start `program` (built for `variant`) with the SCF environment plus `extra`.
    fn start(variant: Variant, prog: &'static str, args: &[&str], extra: &[(&str, &str)]) -> Run {
        Run::start_in(variant, prog, args, extra, None)
    }

    /// Start `prog` as an image-deployed function (`SCFRUNTIME_MODE=image`, no
    /// `SCF_RUNTIME_API`) listening on 127.0.0.1 and a free port; wait for the port to open.
    fn start_image(variant: Variant, prog: &'static str, extra: &[(&str, &str)]) -> Run {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let image = Arc::new(ImagePort::new(([127, 0, 0, 1], port).into()));
        let mut run = Run::start_in(variant, prog, &[], extra, Some(Arc::clone(&image)));
        if image.wait_listening(TIME_LIMIT).is_err() {
            let done = run.finish();
            panic!("{} never listened; {}", run.name, done.describe());
        }
        run
    }

    fn start_in(
        variant: Variant,
        prog: &'static str,
        args: &[&str],
        extra: &[(&str, &str)],
        image: Option<Arc<ImagePort>>,
    ) -> Run {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let exe = program(variant.build(), prog);
        let api = Arc::new(RuntimeApi::start(Limits::default()).expect("start the runtime API"));
        let name = format!(
            "{prog}-{variant:?}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        )
        .to_lowercase();
        let runs = libs().out.join("runs");
        let stdout = runs.join(format!("{name}.stdout"));
        let stderr = runs.join(format!("{name}.stderr"));
        let mut cmd = if variant == Variant::Valgrind {
            let mut c = Command::new(valgrind());
            c.args([
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect",
                "--quiet",
            ])
            .arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        match &image {
            None => cmd
                .env("SCF_RUNTIME_API", "127.0.0.1")
                .env("SCF_RUNTIME_API_PORT", api.port().to_string()),
            Some(port) => cmd
                .env("SCFRUNTIME_MODE", "image")
                .env("SCFRUNTIME_LISTEN", port.addr().to_string()),
        };
        cmd.env("SCF_RUNTIME", "CustomRuntime")
            .env("SCF_FUNCTIONNAME", "c-test-fn")
            .env("SCF_FUNCTIONVERSION", "$LATEST")
            .env("SCF_NAMESPACE", "default")
            .env("TENCENTCLOUD_REGION", "ap-guangzhou")
            .env("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
            .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("create the stdout log"))
            .stderr(fs::File::create(&stderr).expect("create the stderr log"));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let pid = child.id();
        let (tx, exited) = mpsc::channel();
        let waiter_api = Arc::clone(&api);
        let waiter_image = image.clone();
        thread::spawn(move || {
            let status = child.wait();
            // Wakes a test blocked in wait_ready/invoke: the program is gone.
            waiter_api.abort();
            if let Some(port) = waiter_image {
                port.abort();
            }
            let _ = tx.send(status);
        });
        Run {
            api,
            image,
            name,
            stdout,
            stderr,
            pid,
            exited,
            status: None,
        }
    }

    fn stdout_now(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Wait for the program to exit (killing it after `RUN_LIMIT`) and collect its output.
    fn finish(&mut self) -> Finished {
        let status = match self.status {
            Some(s) => s,
            None => {
                let status = match self.exited.recv_timeout(RUN_LIMIT) {
                    Ok(status) => status.expect("wait for the program"),
                    Err(_) => {
                        // SAFETY: kill has no memory preconditions; the pid is our child's,
                        // which has not been reaped yet.
                        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
                        let _ = self.exited.recv_timeout(Duration::from_secs(10));
                        panic!(
                            "{} did not exit within {RUN_LIMIT:?}; stdout:\n{}\nstderr:\n{}",
                            self.name,
                            self.stdout_now(),
                            fs::read_to_string(&self.stderr).unwrap_or_default()
                        );
                    }
                };
                self.status = Some(status);
                status
            }
        };
        Finished {
            status,
            stdout: self.stdout_now(),
            stderr: fs::read_to_string(&self.stderr).unwrap_or_default(),
        }
    }

    /// Wait for `/runtime/init/ready`.
    fn ready(&mut self) {
        if self.api.wait_ready(TIME_LIMIT).is_err() {
            let done = self.finish();
            panic!("{} never reported ready; {}", self.name, done.describe());
        }
    }

    fn invoke(&mut self, request_id: &str, event: &[u8]) -> Outcome {
        let opts = InvokeOptions {
            request_id: request_id.to_string(),
            memory_limit_mb: 256,
            timeout: TIME_LIMIT,
        };
        let outcome = self.api.invoke(event, &opts).expect("invoke");
        if matches!(outcome, Outcome::Aborted | Outcome::TimedOut) {
            let done = self.finish();
            panic!(
                "{}: invocation {request_id} ended {outcome:?}; {}",
                self.name,
                done.describe()
            );
        }
        outcome
    }

    /// Finish and require exit status `code`.
    fn exit_with(&mut self, code: i32) -> Finished {
        let done = self.finish();
        assert_eq!(
            done.status.code(),
            Some(code),
            "{}: unexpected exit; {}",
            self.name,
            done.describe()
        );
        done
    }

    /// The method and path of every request the runtime API received.
    fn wire(&self) -> Vec<String> {
        self.api
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.status.is_none() && self.exited.try_recv().is_err() {
            // A failed assertion left the program running: do not leak it.
            // SAFETY: as in `finish`.
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

fn error_json(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Error(body) => serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!(
                "error body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(body)
            )
        }),
        other => panic!("expected an error post, got {other:?}"),
    }
}

fn response(outcome: Outcome) -> Vec<u8> {
    match outcome {
        Outcome::Response(body) => body,
        Outcome::Error(body) => panic!(
            "expected a response, got an error: {}",
            String::from_utf8_lossy(&body)
        ),
        other => panic!("expected a response, got {other:?}"),
    }
}

fn echo_errors_utf8_limits_and_6mb(v: Variant) {
    let json = br#"{"key1":"test value 1","key2":[1,2.5,null],"nested":{"a":"b"}}"#;
    let utf8 = "café 错误 🚀 ünïcödé".as_bytes();
    let big: Vec<u8> = (0..SIX_MB).map(|i| (i % 251) as u8).collect();
    let mut run = Run::start(v, "function", &["9"], &[("_HANDLER", "index.echo")]);
    run.ready();

    assert_eq!(response(run.invoke("req-json", json)), json);
    // C stdio was flushed before the result was posted.
    assert!(
        run.stdout_now().contains("echo handling req-json ("),
        "handler output not flushed before the post: {:?}",
        run.stdout_now()
    );
    assert_eq!(response(run.invoke("req-utf8", utf8)), utf8);

    let err = run.invoke("req-error", b"error");
    if let Outcome::Error(raw) = &err {
        // UTF-8 travels as is, not as \u escapes.
        let raw = String::from_utf8(raw.clone()).expect("error body is UTF-8");
        assert!(raw.contains("champ «nom» invalide: 错误 🚀"), "{raw}");
    }
    let err = error_json(&err);
    assert_eq!(err["errorType"], "ValidationError");
    assert_eq!(err["errorMessage"], "champ «nom» invalide: 错误 🚀");
    assert_eq!(err["requestId"], "req-error");
    assert_eq!(err["stackTrace"], serde_json::json!([]));

    let err = error_json(&run.invoke("req-fail7", b"fail7"));
    assert_eq!(err["errorType"], "HandlerFailed");
    assert!(
        err["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("returned 7")),
        "{err}"
    );
    assert_eq!(err["requestId"], "req-fail7");

    assert_eq!(response(run.invoke("req-empty", b"empty")), b"");
    assert_eq!(response(run.invoke("req-empty-event", b"")), b"");

    let info: Value =
        serde_json::from_slice(&response(run.invoke("req-info", b"info"))).expect("info is JSON");
    assert_eq!(info["handler"], "echo");
    assert_eq!(info["request_id"], "req-info");
    assert_eq!(info["memory_limit_mb"], 256);
    assert_eq!(info["time_limit_ms"], TIME_LIMIT.as_millis() as u64);
    let remaining = info["remaining_ms"].as_u64().expect("remaining_ms");
    assert!(
        remaining <= TIME_LIMIT.as_millis() as u64
            && remaining + 10_000 > TIME_LIMIT.as_millis() as u64,
        "remaining_ms {remaining}"
    );
    assert_eq!(info["function_name"], "c-test-fn");
    assert_eq!(info["namespace"], "default");
    // scf_invocation_metadata falls back to the environment outside image mode.
    assert_eq!(info["metadata_function_name"], "c-test-fn");
    assert_eq!(info["metadata_namespace"], "default");
    assert_eq!(info["metadata_trigger_src"], "(unset)");

    assert_eq!(response(run.invoke("req-abi", b"abi")), b"abi ok");

    let echoed = response(run.invoke("req-6mb", &big));
    assert!(
        echoed == big,
        "6 MB body changed: {} bytes back",
        echoed.len()
    );

    let done = run.exit_with(0);
    assert!(done.stdout.contains("init ran"), "{}", done.describe());
    assert!(
        done.stdout.contains("finalizers: 5 of 5"),
        "{}",
        done.describe()
    );
    let wire = run.wire();
    assert_eq!(wire[0], "POST /runtime/init/ready");
    assert_eq!(run.api.requests()[0].body, b" ");
    let count = |p: &str| wire.iter().filter(|w| *w == p).count();
    assert_eq!(count("POST /runtime/invocation/response"), 7, "{wire:?}");
    assert_eq!(count("POST /runtime/invocation/error"), 2, "{wire:?}");
}

fn handlers_selected_by_handler_env(v: Variant) {
    for (handler, prefix, name) in [
        ("index.other_handler", "other:", "other_handler"),
        ("dir/mod.main_handler", "main:", "main_handler"),
        ("main_handler", "main:", "main_handler"),
        ("index.unregistered", "default:", "default"),
    ] {
        let mut run = Run::start(v, "function", &["1"], &[("_HANDLER", handler)]);
        run.ready();
        let body = response(run.invoke("req-1", b"ping"));
        assert_eq!(
            String::from_utf8_lossy(&body),
            format!("{prefix}ping"),
            "_HANDLER={handler}"
        );
        let done = run.exit_with(0);
        assert!(
            done.stdout.contains(&format!("{name} handling req-1")),
            "_HANDLER={handler}: {}",
            done.describe()
        );
    }

    // No match and no default: an init failure, before ready.
    let mut run = Run::start(
        v,
        "function",
        &["1"],
        &[
            ("_HANDLER", "index.missing_handler"),
            ("TEST_NO_DEFAULT", "1"),
        ],
    );
    let done = run.exit_with(1);
    assert!(
        done.stderr.contains("\"missing_handler\"") && done.stderr.contains("(7)"),
        "{}",
        done.describe()
    );
    assert!(
        done.stdout.contains("finalizers: 4 of 4"),
        "{}",
        done.describe()
    );
    assert_eq!(run.wire(), Vec::<String>::new(), "nothing may be sent");
}

fn init_failure_exits_nonzero_without_ready(v: Variant) {
    let mut run = Run::start(
        v,
        "function",
        &["1"],
        &[("_HANDLER", "index.echo"), ("TEST_INIT_FAIL", "1")],
    );
    let done = run.exit_with(1);
    assert!(
        done.stderr
            .contains("init: refusing to start: TEST_INIT_FAIL is set (données ✗)"),
        "{}",
        done.describe()
    );
    assert!(
        done.stderr.contains("init failed") && done.stderr.contains("returned 3"),
        "{}",
        done.describe()
    );
    assert!(
        done.stdout.contains("finalizers: 5 of 5"),
        "{}",
        done.describe()
    );
    assert_eq!(run.wire(), Vec::<String>::new(), "ready must not be sent");
    assert!(!run.api.is_ready());
}

fn abi_contract(v: Variant) {
    let mut run = Run::start(v, "abi", &[], &[]);
    let done = run.exit_with(0);
    assert!(
        done.stdout.contains("abi: all checks passed"),
        "{}",
        done.describe()
    );
    assert!(
        done.stderr.contains("scfruntime: argument `f` is NULL"),
        "{}",
        done.describe()
    );
}

fn injected_panics_are_caught(v: Variant) {
    if !cfg!(debug_assertions) {
        scf_test_support::tools::skip(
            "injected_panics_are_caught",
            "the panic-injection hook exists only in builds with debug assertions",
        );
        return;
    }
    // A panic at an exported function's boundary: SCF_RESULT_PANIC, and the program goes on.
    let mut run = Run::start(
        v,
        "abi",
        &[],
        &[("SCFRUNTIME_TEST_PANIC", "scf_runtime_set_max_invocations")],
    );
    let done = run.exit_with(0);
    assert!(
        done.stdout.contains("abi: panic caught") && done.stdout.contains("all checks passed"),
        "{}",
        done.describe()
    );

    // A panic in the handler path: posted as an error, and the loop goes on.
    let mut run = Run::start(
        v,
        "function",
        &["2"],
        &[
            ("_HANDLER", "index.echo"),
            ("SCFRUNTIME_TEST_PANIC", "handler"),
        ],
    );
    run.ready();
    for id in ["req-p1", "req-p2"] {
        let err = error_json(&run.invoke(id, b"boom"));
        assert_eq!(err["errorType"], "Panic", "{err}");
        assert!(
            err["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("injected panic")),
            "{err}"
        );
        assert_eq!(err["requestId"], id);
    }
    run.exit_with(0);

    // A panic inside a call the C handler makes: it returns SCF_RESULT_PANIC (99) to C.
    let mut run = Run::start(
        v,
        "function",
        &["1"],
        &[
            ("_HANDLER", "index.echo"),
            ("SCFRUNTIME_TEST_PANIC", "scf_response_set_body"),
        ],
    );
    run.ready();
    let err = error_json(&run.invoke("req-p3", b"hello"));
    assert_eq!(err["errorType"], "HandlerFailed", "{err}");
    assert!(
        err["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("returned 99")),
        "{err}"
    );
    let done = run.exit_with(0);
    assert!(
        done.stderr.contains("panic in scf_response_set_body"),
        "{}",
        done.describe()
    );
}

fn c_echo_example_with_scf_run(v: Variant) {
    let mut run = Run::start(v, "c-echo", &[], &[("SCFRUNTIME_MAX_INVOCATIONS", "2")]);
    run.ready();
    let event = br#"{"hello":"world","n":[1,2,3]}"#;
    assert_eq!(response(run.invoke("req-1", event)), event);
    assert!(
        run.stdout_now()
            .contains(&format!("c-echo: request req-1, {} bytes", event.len())),
        "{:?}",
        run.stdout_now()
    );
    assert_eq!(
        response(run.invoke("req-2", "二".as_bytes())),
        "二".as_bytes()
    );
    run.exit_with(0);

    // scf_run turns a broken environment into exit status 1 and a line on stderr.
    let mut run = Run::start(v, "c-echo", &[], &[("SCF_RUNTIME_API_PORT", "not-a-port")]);
    let done = run.exit_with(1);
    assert!(
        done.stderr
            .contains("scfruntime: environment variable SCF_RUNTIME_API_PORT"),
        "{}",
        done.describe()
    );
}

/// The same C handler as an image-deployed function: the `X-Scf-*` headers reach
/// `scf_invocation_metadata`, an error is answered 500 with the error JSON, an oversized event
/// is refused 413, and SIGTERM ends the program with 0 (under valgrind: no leak; under ASan: no
/// invalid access).
fn image_mode_serves_the_same_handler(v: Variant) {
    let mut run = Run::start_image(v, "image_handler", &[("SCF_FUNCTIONNAME", "from-env")]);
    let image = Arc::clone(run.image.as_ref().expect("image mode"));
    let headers: Vec<(String, String)> = [
        ("X-Scf-Request-Id", "req-image"),
        ("X-Scf-Memory", "512"),
        ("X-Scf-Timeout", "9000"),
        ("X-Scf-Version", "3"),
        ("X-Scf-Name", "from-header"),
        ("X-Scf-Namespace", "ns"),
        ("X-Scf-Region", "ap-shanghai"),
        ("X-Scf-Appid", "1250000001"),
        ("X-Scf-Uin", "100000000002"),
        ("X-Scf-Secret-Id", "AKIDc"),
        ("X-Scf-Secret-Key", "key \"quoted\""),
        ("X-Scf-Session-Token", "token"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let post = |event: &[u8]| {
        let exchange = image.invoke(event, &headers, TIME_LIMIT, SIX_MB);
        match exchange.answer {
            Answer::Status { status, body } => (status, body),
            other => panic!("no answer to the event: {other:?}"),
        }
    };
    let (status, body) = post(b"context");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let seen: Value = serde_json::from_slice(&body).expect("context is JSON");
    assert_eq!(
        seen,
        serde_json::json!({
            "request_id": "req-image",
            "memory_limit_mb": 512,
            "time_limit_ms": 9000,
            "metadata": {
                // The header, not the environment's SCF_FUNCTIONNAME.
                "function_name": "from-header",
                "function_version": "3",
                "namespace": "ns",
                "tencentcloud_region": "ap-shanghai",
                "tencentcloud_appid": "1250000001",
                "tencentcloud_uin": "100000000002",
                "secret_id": "AKIDc",
                "secret_key": "key \"quoted\"",
                "session_token": "token",
                "trigger_src": null,
            },
        })
    );
    let (status, body) = post(b"error");
    assert_eq!(status, 500);
    let err: Value = serde_json::from_slice(&body).expect("error JSON");
    assert_eq!(err["errorType"], "ValidationError");
    assert_eq!(err["errorMessage"], "champ «nom» invalide: 错误 🚀");
    assert_eq!(err["requestId"], "req-image");
    let utf8 = "café 错误 🚀".as_bytes();
    assert_eq!(post(utf8), (200, utf8.to_vec()));
    let (status, _) = post(&vec![b'x'; SIX_MB + 1]);
    assert_eq!(status, 413);
    assert!(
        run.stdout_now()
            .contains("c-image: request req-image, 7 bytes"),
        "{:?}",
        run.stdout_now()
    );
    // SAFETY: signalling our child, not yet reaped.
    assert_eq!(
        unsafe { libc::kill(run.pid as libc::pid_t, libc::SIGTERM) },
        0
    );
    run.exit_with(0);
}

/// One test per scenario and variant, so failures name both.
macro_rules! variants {
    ($($variant:ident => $v:expr),* $(,)?) => {$(
        mod $variant {
            use super::*;

            #[test]
            fn echo_errors_utf8_limits_and_6mb() {
                super::echo_errors_utf8_limits_and_6mb($v);
            }

            #[test]
            fn handlers_selected_by_handler_env() {
                super::handlers_selected_by_handler_env($v);
            }

            #[test]
            fn init_failure_exits_nonzero_without_ready() {
                super::init_failure_exits_nonzero_without_ready($v);
            }

            #[test]
            fn abi_contract() {
                super::abi_contract($v);
            }

            #[test]
            fn injected_panics_are_caught() {
                super::injected_panics_are_caught($v);
            }

            #[test]
            fn c_echo_example_with_scf_run() {
                super::c_echo_example_with_scf_run($v);
            }

            #[test]
            fn image_mode_serves_the_same_handler() {
                super::image_mode_serves_the_same_handler($v);
            }
        }
    )*};
}

variants! {
    shared_lib => Variant::Shared,
    static_lib => Variant::Static,
    sanitized => Variant::Sanitized,
    valgrind => Variant::Valgrind,
}

#[test]
fn shared_library_has_a_versioned_soname() {
    let exe = program(Build::Shared, "abi");
    let dynamic = |path: &Path| {
        let out = Command::new("readelf")
            .arg("-d")
            .arg(path)
            .output()
            .expect("run readelf (binutils)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let lib = dynamic(&libs().shared_dir.join("libscfruntime.so"));
    assert!(
        lib.contains("Library soname: [libscfruntime.so.0]"),
        "{lib}"
    );
    // Programs linked with -lscfruntime record the soname, not the unversioned name.
    let needed = dynamic(&exe);
    assert!(
        needed.contains("Shared library: [libscfruntime.so.0]"),
        "{needed}"
    );
}
