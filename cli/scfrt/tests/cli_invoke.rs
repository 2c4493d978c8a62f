//! The `scfrt` binary: `scfrt invoke` on the bash-echo example, exit codes and usage errors.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{bash_echo_dir, require_curl, write_bootstrap};

const SEED_EVENT: &str = r#"{"key1": "test value 1", "key2": "test value 2"}"#;

fn scfrt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scfrt"))
        .args(args)
        .output()
        .expect("run scfrt")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The JSON lines on stdout.
fn results(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(o.stdout.clone())
        .expect("utf-8 stdout")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

fn check_seed_result(o: &Output) {
    assert_eq!(code(o), 0, "stderr: {}", stderr(o));
    let stdout = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(r#"{"Response":{"Result":{"MemUsage":"#),
        "{stdout}"
    );
    let v = &results(o)[0];
    let result = v["Response"]["Result"].as_object().expect("Result");
    let mut keys: Vec<&str> = result.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "BillDuration",
            "Duration",
            "ErrMsg",
            "FunctionRequestId",
            "InvokeResult",
            "Log",
            "MemUsage",
            "RetMsg"
        ]
    );
    assert_eq!(
        result["RetMsg"],
        format!("Echoing request: '{SEED_EVENT}'").as_str()
    );
    assert_eq!(result["InvokeResult"], 0);
    assert_eq!(result["ErrMsg"], "");
    assert!(result["Duration"].as_f64().unwrap() > 0.0);
    assert!(result["BillDuration"].as_u64().unwrap() >= 1);
    assert!(result["MemUsage"].as_u64().unwrap() > 0);
    let id = result["FunctionRequestId"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(v["Response"]["RequestId"], id);
    let log = result["Log"].as_str().unwrap();
    assert!(
        log.starts_with(&format!("START RequestId: {id}\n")),
        "{log}"
    );
    // index.sh echoes the event to stderr.
    assert!(log.contains(&format!("\n{SEED_EVENT}\n")), "{log}");
    assert!(log.contains(&format!("END RequestId: {id}\n")), "{log}");
    assert!(
        log.contains(&format!("Report RequestId: {id} Duration:")),
        "{log}"
    );
    assert!(log.contains("Init Report"), "{log}");
    // The framed log is streamed to stderr as well.
    let err = stderr(o);
    assert!(err.contains(&format!("START RequestId: {id}")), "{err}");
    assert!(err.contains(SEED_EVENT), "{err}");
}

#[test]
fn bash_echo_example_directory() {
    require_curl();
    let dir = bash_echo_dir();
    for f in ["bootstrap", "index.sh"] {
        let m = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
        assert_eq!(m & 0o777, 0o755, "{f} must be mode 755");
    }
    let o = scfrt(&["invoke", dir.to_str().unwrap(), "--event", SEED_EVENT]);
    check_seed_result(&o);
}

#[test]
fn bash_echo_example_zip() {
    require_curl();
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("demo.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    for f in ["index.sh", "bootstrap"] {
        let path = bash_echo_dir().join(f);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(mode & 0o777);
        w.start_file(f, opts).unwrap();
        w.write_all(&std::fs::read(&path).unwrap()).unwrap();
    }
    w.finish().unwrap();
    let o = scfrt(&["invoke", zip_path.to_str().unwrap(), "--event", SEED_EVENT]);
    check_seed_result(&o);
}

#[test]
fn repeat_and_several_events_reuse_the_warm_instance() {
    require_curl();
    let tmp = tempfile::tempdir().unwrap();
    let event_file = tmp.path().join("e.json");
    std::fs::write(&event_file, r#"{"from":"file"}"#).unwrap();
    let dir = bash_echo_dir();
    let o = scfrt(&[
        "invoke",
        dir.to_str().unwrap(),
        "--event",
        r#"{"n":1}"#,
        "--event-file",
        event_file.to_str().unwrap(),
        "--event",
        r#"{"n":3}"#,
        "--repeat",
        "2",
        "--log-type",
        "None",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let rets: Vec<String> = results(&o)
        .iter()
        .map(|v| {
            assert_eq!(v["Response"]["Result"]["Log"], "");
            v["Response"]["Result"]["RetMsg"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let expect = [r#"{"n":1}"#, r#"{"from":"file"}"#, r#"{"n":3}"#];
    let expect: Vec<String> = expect
        .iter()
        .chain(expect.iter())
        .map(|e| format!("Echoing request: '{e}'"))
        .collect();
    assert_eq!(rets, expect);
    // One cold start only.
    assert_eq!(
        stderr(&o).matches("Init Report").count(),
        1,
        "{}",
        stderr(&o)
    );
}

#[test]
fn default_event_is_empty_object_and_at_file_works() {
    require_curl();
    let dir = bash_echo_dir();
    let o = scfrt(&["invoke", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        results(&o)[0]["Response"]["Result"]["RetMsg"],
        "Echoing request: '{}'"
    );
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("ev.json");
    std::fs::write(&f, "[1, 2]").unwrap();
    let at = format!("@{}", f.display());
    let o = scfrt(&["invoke", dir.to_str().unwrap(), "--event", &at]);
    assert_eq!(
        results(&o)[0]["Response"]["Result"]["RetMsg"],
        "Echoing request: '[1, 2]'"
    );
}

#[test]
fn function_failure_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    write_bootstrap(
        tmp.path(),
        "ready\nwhile true; do next >/dev/null; fail 'parse event error'; done",
    );
    let o = scfrt(&["invoke", tmp.path().to_str().unwrap(), "--event", "{}"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v = &results(&o)[0]["Response"]["Result"];
    assert_eq!(v["InvokeResult"], 430);
    assert_eq!(v["ErrMsg"], "parse event error");
    assert_eq!(v["RetMsg"], "");
}

#[test]
fn timeout_flag_applies() {
    let tmp = tempfile::tempdir().unwrap();
    write_bootstrap(tmp.path(), "ready\nnext >/dev/null\nsleep 30");
    let o = scfrt(&["invoke", tmp.path().to_str().unwrap(), "--timeout", "1"]);
    assert_eq!(code(&o), 1);
    let v = &results(&o)[0]["Response"]["Result"];
    assert_eq!(v["InvokeResult"], 433);
    assert_eq!(
        v["ErrMsg"],
        r#"{"errorCode":-1,"errorMessage":"Invoking task timed out after 1 seconds","statusCode":433}"#
    );
}

#[test]
fn env_flag_reaches_the_bootstrap() {
    let tmp = tempfile::tempdir().unwrap();
    write_bootstrap(
        tmp.path(),
        "ready\nnext >/dev/null\nrespond \"$STAGE|$_HANDLER|$SCF_FUNCTIONNAME\"",
    );
    let o = scfrt(&[
        "invoke",
        tmp.path().to_str().unwrap(),
        "--env",
        "STAGE=prod",
        "--handler",
        "app.run",
        "--function-name",
        "orders",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        results(&o)[0]["Response"]["Result"]["RetMsg"],
        "prod|app.run|orders"
    );
}

fn assert_usage_error(args: &[&str], needle: &str) {
    let o = scfrt(args);
    assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    assert!(o.stdout.is_empty(), "{args:?}");
    let err = stderr(&o);
    assert!(
        err.contains(needle),
        "{args:?}: expected {needle:?} in {err}"
    );
}

#[test]
fn usage_and_package_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    assert_usage_error(
        &["invoke", "/nonexistent/fn"],
        "package not found: /nonexistent/fn",
    );
    assert_usage_error(&["invoke", dir], "Bootstrap not found");
    std::fs::write(tmp.path().join("bootstrap"), "#!/bin/sh\n").unwrap();
    assert_usage_error(&["invoke", dir], "Bootstrap not executable");
    std::fs::set_permissions(
        tmp.path().join("bootstrap"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    assert_usage_error(&["invoke", dir, "--env", "NOEQUALS"], "is not KEY=VALUE");
    assert_usage_error(
        &["invoke", dir, "--env", "1X=2"],
        "not a valid variable name",
    );
    assert_usage_error(&["invoke", dir, "--env", "SCF_X=1"], "reserved");
    assert_usage_error(
        &["invoke", dir, "--event-file", "/nonexistent/event.json"],
        "cannot read event file /nonexistent/event.json",
    );
    assert_usage_error(&["invoke", dir, "--event", "{not json"], "not valid JSON");
    assert_usage_error(&["invoke", dir, "--timeout", "0"], "greater than 0");
    assert_usage_error(&["invoke", dir, "--timeout", "abc"], "not a number");
    assert_usage_error(&["invoke", dir, "--log-type", "Full"], "Full");
    assert_usage_error(&["invoke"], "PACKAGE");
    assert_usage_error(&["frobnicate"], "frobnicate");
}

#[test]
fn evil_zip_is_refused_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("evil.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let opts = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    w.start_file("bootstrap", opts).unwrap();
    w.write_all(b"#!/bin/sh\n").unwrap();
    w.start_file("../scfrt-evil-cli", opts).unwrap();
    w.write_all(b"pwned").unwrap();
    w.finish().unwrap();
    assert_usage_error(
        &["invoke", zip_path.to_str().unwrap()],
        "refusing zip entry",
    );
    assert!(
        !Path::new(&std::env::temp_dir())
            .join("scfrt-evil-cli")
            .exists()
    );
    assert!(!tmp.path().join("scfrt-evil-cli").exists());
}

#[test]
fn help_is_informative() {
    let o = scfrt(&["--help"]);
    assert_eq!(code(&o), 0);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("invoke"), "{out}");
    assert!(out.contains("SCF"), "{out}");
    let o = scfrt(&["invoke", "--help"]);
    assert_eq!(code(&o), 0);
    let out = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--event",
        "--event-file",
        "--handler",
        "--timeout",
        "--init-timeout",
        "--memory",
        "--env",
        "--log-type",
        "--function-name",
        "--repeat",
        "Exit status",
    ] {
        assert!(out.contains(flag), "missing {flag} in\n{out}");
    }
    let o = scfrt(&["--version"]);
    assert_eq!(code(&o), 0);
}
