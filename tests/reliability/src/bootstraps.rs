//! The bootstraps of the bindings under test, as subprocesses: a C program linked against
//! libscfruntime.a (`tests/c/reliability.c`), the Python binding's two routes: the wheel
//! (`python -m scfruntime` from the repo's `.venv`, which test.sh creates before `cargo test`)
//! and the embedded-Python bootstrap (`scf-python-bootstrap`, which `cargo test --workspace`
//! builds).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// `libscfruntime.a` as cargo built it for this test run (this package depends on the ffi crate,
/// so cargo leaves its staticlib in `deps/` beside the test executable).
pub fn static_lib() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps dir");
    let a = deps.join("libscfruntime.a");
    assert!(
        a.is_file(),
        "{} is missing: the ffi crate's staticlib should be built as a dependency",
        a.display()
    );
    a
}

/// Compile `tests/c/reliability.c` (once per test process) into `out_dir/bootstrap-c/bootstrap`.
pub fn c_bootstrap(out_dir: &Path) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    BUILT
        .get_or_init(|| {
            let dir = out_dir.join(format!("bootstrap-c-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create C build dir");
            let exe = dir.join("bootstrap");
            let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
            let out = Command::new(&cc)
                .args([
                    "-std=c11",
                    "-Wall",
                    "-Wextra",
                    "-Wpedantic",
                    "-Werror",
                    "-O1",
                    "-g",
                ])
                .arg(format!("-I{}", repo().join("include").display()))
                .arg(repo().join("tests/c/reliability.c"))
                .arg("-o")
                .arg(&exe)
                .arg("-pthread")
                .arg(static_lib())
                .args(scf_test_support::static_libs())
                .output()
                .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
            assert!(
                out.status.success(),
                "compiling tests/c/reliability.c failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            exe
        })
        .clone()
}

/// The venv's Python with the scfruntime extension importable, or why not.
pub fn python() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("SCF_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let py = repo().join(".venv/bin/python");
    if !py.is_file() {
        return Err(format!(
            "{} is missing (./test.sh creates it, and installs the scfruntime wheel in it)",
            py.display()
        ));
    }
    let out = Command::new(&py)
        .args(["-c", "import scfruntime"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", py.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`import scfruntime` fails in .venv (./test.sh installs the scfruntime wheel; or run maturin develop): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(py)
}

/// The embedded-Python bootstrap `scf-python-bootstrap`: `SCF_PYTHON_BOOTSTRAP`, else the one
/// cargo built beside this test executable (`cargo test --workspace` builds it; a test run of
/// this package alone does not, hence the message).
pub fn embedded_python() -> PathBuf {
    if let Ok(p) = std::env::var("SCF_PYTHON_BOOTSTRAP") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the target profile dir");
    let boot = dir.join("scf-python-bootstrap");
    assert!(
        boot.is_file(),
        "{} is missing: run `cargo build -p scf-bootstrap-python` (cargo test --workspace builds it) \
         or set SCF_PYTHON_BOOTSTRAP",
        boot.display()
    );
    boot
}

/// The Python handler package of this suite (`index.handler`).
pub fn python_code_dir() -> PathBuf {
    repo().join("tests/reliability/fixtures/python")
}

/// A bootstrap to run against a runtime API.
#[derive(Debug, Clone)]
pub enum Bootstrap {
    /// A Rust program (`scf_core::serve`), such as this package's `rel-rust`.
    Rust(PathBuf),
    /// The C program.
    C(PathBuf),
    /// `python -m scfruntime index.handler` with this interpreter.
    Python(PathBuf),
    /// The embedded-Python bootstrap at this path, serving `index.handler` (`_HANDLER`).
    EmbeddedPython(PathBuf),
}

impl Bootstrap {
    /// Whether this is one of the two Python routes (whose handler raises `ValueError` and
    /// whose results are JSON-encoded).
    pub fn is_python(&self) -> bool {
        matches!(self, Bootstrap::Python(_) | Bootstrap::EmbeddedPython(_))
    }

    /// Short name for the summary.
    pub fn name(&self) -> &'static str {
        match self {
            Bootstrap::Rust(_) => "rust-subprocess",
            Bootstrap::C(_) => "c",
            Bootstrap::Python(_) => "python",
            Bootstrap::EmbeddedPython(_) => "python-embedded",
        }
    }

    /// The command, with `env` added to a clean SCF environment.
    pub fn command(&self, env: &[(String, String)]) -> Command {
        let mut cmd = match self {
            Bootstrap::Rust(exe) | Bootstrap::C(exe) => Command::new(exe),
            Bootstrap::Python(py) => {
                let mut c = Command::new(py);
                c.args(["-m", "scfruntime", "index.handler"])
                    .current_dir(python_code_dir())
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                c
            }
            Bootstrap::EmbeddedPython(exe) => {
                let mut c = Command::new(exe);
                c.current_dir(python_code_dir())
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                c
            }
        };
        for (k, _) in std::env::vars() {
            if k.starts_with("SCF_") || k.starts_with("TENCENTCLOUD_") || k == "_HANDLER" {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// How a bounded subprocess run ended.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status (None: it was killed because it ran past the limit).
    pub status: Option<ExitStatus>,
    /// Its stderr (lossy).
    pub stderr: String,
    /// Its stdout (lossy).
    pub stdout: String,
    /// How long it ran.
    pub elapsed: Duration,
}

/// Run `cmd` to its end, killing it after `limit`.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Finished {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bootstrap");
    let pid = child.id();
    let mut err = child.stderr.take().expect("stderr");
    let mut out = child.stdout.take().expect("stdout");
    let e = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let o = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(limit) {
        Ok(s) => s.ok(),
        Err(_) => {
            // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
            let _ = rx.recv_timeout(Duration::from_secs(10));
            None
        }
    };
    Finished {
        status,
        stderr: e.join().unwrap_or_default(),
        stdout: o.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}
