//! A `scfrt serve` subprocess on loopback for the integration tests that drive it with the
//! scfrt binary (`deploy`, `remote-invoke`, `logs`). Included with `#[path]` by the test files
//! that use it: it needs `CARGO_BIN_EXE_scfrt`, which only this package's tests have.
#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// The credentials every server started here accepts.
pub const ID: &str = "AKIDscfrtServeHarness0000000000000";
/// The secret key of [`ID`].
pub const KEY: &str = "scfrtServeHarnessSecretKey0000000";

/// The scfrt binary under test.
pub fn scfrt_bin() -> &'static str {
    env!("CARGO_BIN_EXE_scfrt")
}

/// Runs scfrt with `args`, no credentials in its environment unless `env` adds them.
pub fn scfrt_with(args: &[&str], env: &[(&str, OsString)]) -> Output {
    let mut cmd = Command::new(scfrt_bin());
    cmd.args(args)
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .env_remove("TENCENTCLOUD_SECRET_KEY")
        .env_remove("TENCENTCLOUD_SESSION_TOKEN")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run scfrt")
}

/// stdout and stderr as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `scfrt serve --port 0` in a temporary state directory, killed on drop.
pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT` (or `https://` with `--tls`).
    pub endpoint: String,
    /// `--tls`: the local CA that signed the server's certificate.
    pub ca: Option<PathBuf>,
    /// Added to the environment of every scfrt that [`Serve::run`] starts.
    pub env: Vec<(&'static str, OsString)>,
    _state: tempfile::TempDir,
}

impl Serve {
    /// Over plain HTTP.
    pub fn start() -> Serve {
        Serve::start_with(false)
    }

    /// Over HTTPS with a generated certificate when `tls`.
    pub fn start_with(tls: bool) -> Serve {
        let state = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(scfrt_bin())
            .args(["serve", "--port", "0", "--state-dir"])
            .arg(state.path())
            .args(["--secret-id", ID, "--secret-key", KEY])
            .args(if tls { &["--tls"][..] } else { &[][..] })
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn scfrt serve");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let scheme = if tls { "https://" } else { "http://" };
        let endpoint = line
            .trim()
            .strip_prefix("listening on ")
            .filter(|e| e.starts_with(scheme))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Serve {
            child,
            endpoint,
            ca: tls.then(|| state.path().join("tls").join("ca.pem")),
            env: Vec::new(),
            _state: state,
        }
    }

    /// `scfrt <cmd> <args> --endpoint <this server> --secret-id ID --secret-key KEY` (and
    /// `--ca-file` with `--tls`).
    pub fn run(&self, cmd: &str, args: &[&str]) -> Output {
        let mut all = vec![cmd];
        all.extend_from_slice(args);
        all.extend_from_slice(&[
            "--endpoint",
            &self.endpoint,
            "--secret-id",
            ID,
            "--secret-key",
            KEY,
        ]);
        let ca = self.ca.as_ref().map(|p| p.to_string_lossy().into_owned());
        if let Some(ca) = &ca {
            all.extend_from_slice(&["--ca-file", ca]);
        }
        scfrt_with(&all, &self.env)
    }

    /// `scfrt remote-invoke --name NAME --event EVENT <extra>`: (exit code, the first stdout
    /// line, its JSON or null, stderr).
    pub fn remote_invoke(
        &self,
        name: &str,
        event: &str,
        extra: &[&str],
    ) -> (i32, String, Value, String) {
        let mut args = vec!["--name", name, "--event", event];
        args.extend_from_slice(extra);
        let out = self.run("remote-invoke", &args);
        let (stdout, stderr) = text(&out);
        let line = stdout.lines().next().unwrap_or("").to_owned();
        let json = serde_json::from_str(&line).unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), line, json, stderr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
