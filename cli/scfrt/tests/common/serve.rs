//! A `scfrt serve` subprocess on loopback for the integration tests that drive it with the
//! scfrt binary (`deploy`, `remote-invoke`, `logs`). Included with `#[path]` by the test files
//! that use it: it needs `CARGO_BIN_EXE_scfrt`, which only this package's tests have.
#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

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
    /// The state directory.
    pub state: PathBuf,
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
        Serve::start_args(tls, &[])
    }

    /// With more `scfrt serve` arguments.
    pub fn start_args(tls: bool, extra: &[&str]) -> Serve {
        let state = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(scfrt_bin())
            .args(["serve", "--port", "0", "--state-dir"])
            .arg(state.path())
            .args(["--secret-id", ID, "--secret-key", KEY])
            .args(if tls { &["--tls"][..] } else { &[][..] })
            .args(extra)
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
            state: state.path().to_owned(),
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

impl Serve {
    /// Calls `action` with `params`, signed as a client of this server; the `Response` object.
    pub fn call(&self, action: &str, params: &Value) -> Value {
        let endpoint = scf_cloud::client::Endpoint::parse(&self.endpoint).expect("endpoint");
        let creds =
            scf_cloud::client::Credentials::new(ID, scf_cloud::client::Secret::new(KEY), None);
        let client = match &self.ca {
            Some(ca) => {
                scf_cloud::client::Client::with_ca_file(endpoint, "ap-guangzhou", creds, ca)
                    .expect("client")
            }
            None => scf_cloud::client::Client::new(endpoint, "ap-guangzhou", creds),
        };
        client
            .call(action, params)
            .unwrap_or_else(|e| panic!("{action} {params}: {e}"))
    }

    /// The names of the function's triggers, `Type:TriggerName`, in creation order.
    pub fn triggers(&self, function: &str) -> Vec<String> {
        let r = self.call(
            "ListTriggers",
            &json!({"FunctionName": function, "OrderBy": "add_time", "Order": "ASC"}),
        );
        r["Triggers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| {
                        format!(
                            "{}:{}",
                            t["Type"].as_str().unwrap_or(""),
                            t["TriggerName"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
