//! `scfrt logs` (GetFunctionLogs) against a `scfrt serve` subprocess on loopback: a function
//! deployed with `scfrt deploy` and invoked twice with `scfrt remote-invoke`, one failing, then
//! read back (docs/deploy.md, docs/scfrt.md).

use serde_json::Value;

mod common;
#[path = "common/serve.rs"]
mod serve_harness;

use serve_harness::{ID, Serve, text};

/// Logs a line naming its event; an event containing "fail" is reported to /invocation/error.
const BOOTSTRAP: &str = r#"ready
while true; do
  EVENT=$(next)
  echo "handling $EVENT"
  case "$EVENT" in
    *fail*) fail '{"errorMessage":"asked to fail"}' ;;
    *) respond "done" ;;
  esac
done"#;

fn scfrt(args: &[&str]) -> std::process::Output {
    serve_harness::scfrt_with(args, &[])
}

/// `scfrt remote-invoke`: (exit code, FunctionRequestId).
fn invoke(serve: &Serve, name: &str, event: &str) -> (i32, String) {
    let (code, line, json, stderr) = serve.remote_invoke(name, event, &[]);
    let id = json["Response"]["Result"]["FunctionRequestId"]
        .as_str()
        .unwrap_or_else(|| panic!("remote-invoke printed no FunctionRequestId: {line} {stderr}"))
        .to_owned();
    (code, id)
}

/// `scfrt logs <args>`: (exit code, stdout, stderr).
fn logs(serve: &Serve, args: &[&str]) -> (i32, String, String) {
    let out = serve.run("logs", args);
    let (stdout, stderr) = text(&out);
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

fn deploy(serve: &Serve, name: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    common::write_bootstrap(tmp.path(), BOOTSTRAP);
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
    let (code, ok) = invoke(&serve, "logs-fn", r#"{"step": "ok"}"#);
    assert_eq!(code, 0);
    let (code, failed) = invoke(&serve, "logs-fn", r#"{"step": "fail"}"#);
    assert_eq!(code, 1);

    let (code, stdout, stderr) = logs(&serve, &["--name", "logs-fn"]);
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
    let (code, stdout, _) = logs(&serve, &["--name", "logs-fn", "--failed"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&failed) && !stdout.contains(&ok),
        "{stdout}"
    );
    let (_, stdout, _) = logs(&serve, &["--name", "logs-fn", "--succeeded"]);
    assert!(
        stdout.contains(&ok) && !stdout.contains(&failed),
        "{stdout}"
    );
    let (_, stdout, _) = logs(&serve, &["--name", "logs-fn", "--limit", "1"]);
    assert!(
        stdout.contains(&failed) && !stdout.contains(&ok),
        "{stdout}"
    );
    assert!(stdout.ends_with("1 of 2 invocation(s), newest first\n"));
    let (_, stdout, _) = logs(
        &serve,
        &["--name", "logs-fn", "--limit", "1", "--offset", "1"],
    );
    assert!(
        stdout.contains(&ok) && !stdout.contains(&failed),
        "{stdout}"
    );
    let (code, stdout, _) = logs(
        &serve,
        &["--name", "logs-fn", "--request-id", &ok, "--json"],
    );
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
    let (code, stdout, stderr) = logs(&serve, &["--name", "nobody"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("scfrt logs: error: ResourceNotFound.Function: "),
        "{stderr}"
    );
    assert!(stdout.is_empty());
    let (code, _, stderr) = logs(&serve, &["--name", "nobody", "--namespace", "nowhere"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("ResourceNotFound.Namespace: "), "{stderr}");
    // The API's own limit on Offset + Limit.
    let (code, _, stderr) = logs(
        &serve,
        &["--name", "x1", "--limit", "10000", "--offset", "1"],
    );
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
        let (code, _, stderr) = logs(&serve, args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
    }
    // No credentials at all: refused before anything is sent.
    let out = scfrt(&["logs", "--name", "x1", "--endpoint", &serve.endpoint]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
}
