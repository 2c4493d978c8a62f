//! The bootstraps of the bindings under test, as subprocesses: a C program linked against
//! libscfruntime.a (`tests/c/reliability.c`) and the Python binding (`python -m scfruntime`
//! from the repo's `.venv`, which test.sh creates before `cargo test`).

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

/// `-l` flags the static library needs (`rustc --print native-static-libs`).
pub const STATIC_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

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
                .args(STATIC_LIBS)
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
            "{} is missing (test.sh creates it: python3 -m venv .venv && maturin develop)",
            py.display()
        ));
    }
    let out = Command::new(&py)
        .args(["-c", "import scfruntime"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", py.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`import scfruntime` fails in .venv (run maturin develop): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(py)
}

/// The Python handler package of this suite (`index.handler`).
pub fn python_code_dir() -> PathBuf {
    repo().join("tests/reliability/fixtures/python")
}

/// A bootstrap to run against a runtime API.
#[derive(Debug, Clone)]
pub enum Bootstrap {
    /// The C program.
    C(PathBuf),
    /// `python -m scfruntime index.handler` with this interpreter.
    Python(PathBuf),
}

impl Bootstrap {
    /// Short name for the summary.
    pub fn name(&self) -> &'static str {
        match self {
            Bootstrap::C(_) => "c",
            Bootstrap::Python(_) => "python",
        }
    }

    /// The command, with `env` added to a clean SCF environment.
    pub fn command(&self, env: &[(String, String)]) -> Command {
        let mut cmd = match self {
            Bootstrap::C(exe) => Command::new(exe),
            Bootstrap::Python(py) => {
                let mut c = Command::new(py);
                c.args(["-m", "scfruntime", "index.handler"])
                    .current_dir(python_code_dir())
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
