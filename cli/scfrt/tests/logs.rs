//! `scfrt logs` (GetFunctionLogs) against a `scfrt serve` subprocess on loopback: a function
//! deployed with `scfrt deploy` and invoked twice with `scfrt remote-invoke`, one failing, then
//! read back (docs/deploy.md, docs/scfrt.md).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const ID: &str = "AKIDscfrtLogsTest00000000000000000";
const KEY: &str = "scfrtLogsTestSecretKey00000000000";

/// Logs a line naming its event; an event containing "fail" is reported to /invocation/error.
const BOOTSTRAP: &str = r#"#!/bin/bash
API="http://$SCF_RUNTIME_API:$SCF_RUNTIME_API_PORT/runtime"
curl -sS -o /dev/null -X POST -d " " "$API/init/ready"
while true; do
  EVENT=$(curl -sS "$API/invocation/next")
  echo "handling $EVENT"
  case "$EVENT" in
    *fail*) curl -sS -o /dev/null -X POST -d '{"errorMessage":"asked to fail"}' "$API/invocation/error" ;;
    *) curl -sS -o /dev/null -X POST --data-binary "done" "$API/invocation/response" ;;
  esac
done
"#;

/// Runs scfrt with `args`, with no credentials in its environment.
fn scfrt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scfrt"))
        .args(args)
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .env_remove("TENCENTCLOUD_SECRET_KEY")
        .env_remove("TENCENTCLOUD_SESSION_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run scfrt")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `scfrt serve --port 0` in a temporary state directory, killed on drop.
struct Serve {
    child: Child,
    endpoint: String,
    _state: tempfile::TempDir,
}

impl Serve {
    fn start() -> Serve {
        let state = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_scfrt"))
            .args(["serve", "--port", "0", "--state-dir"])
            .arg(state.path())
            .args(["--secret-id", ID, "--secret-key", KEY])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn scfrt serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let endpoint = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Serve {
            child,
            endpoint,
            _state: state,
        }
    }

    /// `scfrt <cmd> <args> --endpoint <this server> --secret-id ID --secret-key KEY`.
    fn run(&self, cmd: &str, args: &[&str]) -> Output {
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
        scfrt(&all)
    }

    /// `scfrt remote-invoke`: (exit code, FunctionRequestId).
    fn invoke(&self, name: &str, event: &str) -> (i32, String) {
        let out = self.run("remote-invoke", &["--name", name, "--event", event]);
        let (stdout, stderr) = text(&out);
        let json: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("remote-invoke printed no JSON ({e}): {stdout} {stderr}"));
        let id = json["Response"]["Result"]["FunctionRequestId"]
            .as_str()
            .expect("FunctionRequestId")
            .to_owned();
        (out.status.code().unwrap_or(-1), id)
    }

    /// `scfrt logs <args>`: (exit code, stdout, stderr).
    fn logs(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.run("logs", args);
        let (stdout, stderr) = text(&out);
        (out.status.code().unwrap_or(-1), stdout, stderr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn deploy(serve: &Serve, name: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bootstrap = tmp.path().join("bootstrap");
    std::fs::write(&bootstrap, BOOTSTRAP).expect("write bootstrap");
    let mut perms = std::fs::metadata(&bootstrap)
        .expect("metadata")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&bootstrap, perms).expect("chmod");
    let dir = tmp.path().to_str().expect("utf-8 path");
    let out = serve.run("deploy", &[dir, "--name", name]);
    assert_eq!(out.status.code(), Some(0), "deploy: {:?}", text(&out));
}

/// The header line of the invocation `id` in `scfrt logs`'s output.
fn header<'a>(stdout: &'a str, id: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.contains(&format!("  RequestId {id}  ")))
        .unwrap_or_else(|| panic!("no header for {id} in:\n{stdout}"))
}

#[test]
fn logs_show_both_invocations_with_their_ret_code_and_log() {
    let serve = Serve::start();
    deploy(&serve, "logs-fn");
    let (code, ok) = serve.invoke("logs-fn", r#"{"step": "ok"}"#);
    assert_eq!(code, 0);
    let (code, failed) = serve.invoke("logs-fn", r#"{"step": "fail"}"#);
    assert_eq!(code, 1);

    let (code, stdout, stderr) = serve.logs(&["--name", "logs-fn"]);
    assert_eq!(code, 0, "{stderr}");
    // Newest first: the failure, then the success.
    let (h_failed, h_ok) = (header(&stdout, &failed), header(&stdout, &ok));
    assert!(stdout.find(h_failed) < stdout.find(h_ok), "{stdout}");
    assert!(h_failed.contains("  RetCode 430  Duration "), "{h_failed}");
    assert!(h_ok.contains("  RetCode 0  Duration "), "{h_ok}");
    // "YYYY-MM-DD HH:MM:SS" first.
    let time = &h_ok[..19];
    assert!(
        time.bytes()
            .enumerate()
            .all(|(i, b)| matches!(i, 4 | 7 | 10 | 13 | 16) || b.is_ascii_digit()),
        "{h_ok}"
    );
    assert!(stdout.contains("  RetMsg: {\"errorMessage\":\"asked to fail\"}\n"));
    for (id, step) in [(&ok, "ok"), (&failed, "fail")] {
        let framed = format!("START RequestId: {id}\nhandling {{\"step\": \"{step}\"}}\n");
        assert!(stdout.contains(&framed), "{framed:?} not in:\n{stdout}");
        assert!(stdout.contains(&format!("END RequestId: {id}\n")));
    }
    assert!(
        stdout.ends_with("2 of 2 invocation(s), newest first\n"),
        "{stdout}"
    );

    // --failed, --limit, --request-id with --json.
    let (code, stdout, _) = serve.logs(&["--name", "logs-fn", "--failed"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&failed) && !stdout.contains(&ok),
        "{stdout}"
    );
    let (_, stdout, _) = serve.logs(&["--name", "logs-fn", "--succeeded"]);
    assert!(
        stdout.contains(&ok) && !stdout.contains(&failed),
        "{stdout}"
    );
    let (_, stdout, _) = serve.logs(&["--name", "logs-fn", "--limit", "1"]);
    assert!(
        stdout.contains(&failed) && !stdout.contains(&ok),
        "{stdout}"
    );
    assert!(stdout.ends_with("1 of 2 invocation(s), newest first\n"));
    let (_, stdout, _) = serve.logs(&["--name", "logs-fn", "--limit", "1", "--offset", "1"]);
    assert!(
        stdout.contains(&ok) && !stdout.contains(&failed),
        "{stdout}"
    );
    let (code, stdout, _) = serve.logs(&["--name", "logs-fn", "--request-id", &ok, "--json"]);
    assert_eq!(code, 0);
    let json: Value = serde_json::from_str(stdout.trim()).expect("--json prints JSON");
    assert_eq!(json["TotalCount"], 1);
    assert_eq!(json["Data"][0]["RequestId"], ok.as_str());
    assert_eq!(json["Data"][0]["RetCode"], 0);
    assert_eq!(json["Data"][0]["RetMsg"], "done");
    assert!(json["RequestId"].is_string());
}

#[test]
fn api_errors_exit_1_and_usage_errors_exit_2() {
    let serve = Serve::start();
    let (code, stdout, stderr) = serve.logs(&["--name", "nobody"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("scfrt logs: error: ResourceNotFound.Function: "),
        "{stderr}"
    );
    assert!(stdout.is_empty());
    let (code, _, stderr) = serve.logs(&["--name", "nobody", "--namespace", "nowhere"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("ResourceNotFound.Namespace: "), "{stderr}");
    // The API's own limit on Offset + Limit.
    let (code, _, stderr) = serve.logs(&["--name", "x1", "--limit", "10000", "--offset", "1"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("LimitExceeded.Offset: "), "{stderr}");
    // Wrong credentials.
    let out = scfrt(&[
        "logs",
        "--name",
        "x1",
        "--endpoint",
        &serve.endpoint,
        "--secret-id",
        ID,
        "--secret-key",
        "wrong-key",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("AuthFailure.SignatureFailure"));

    for args in [
        &["--name", "x1", "--limit", "0"][..],
        &["--name", "x1", "--failed", "--succeeded"][..],
        &["--limit", "5"][..],
    ] {
        let (code, _, stderr) = serve.logs(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
    // No credentials at all: refused before anything is sent.
    let out = scfrt(&["logs", "--name", "x1", "--endpoint", &serve.endpoint]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
}
