//! Issue 15, the `scfrt` side, through `scfrt` as a subprocess (`rel-scfrt`).
//!
//! The environment of a function (docs/environment.md): a bootstrap sends back its own initial
//! environment (`/proc/self/environ`, exactly what it was started with) through `scfrt invoke`
//! and `scfrt serve`, for a code package and for an image; every variable's value is asserted,
//! and that there is no other. Reserved names (SCF_, QCLOUD_, TENCENTCLOUD_) are refused by
//! `--env` (exit 2) and by CreateFunction, with the same words.
//!
//! Port 9000: an image function written without scfruntime (Python's `http.server`) that
//! listens on 0.0.0.0:9000 whatever SCFRUNTIME_LISTEN says runs under `scfrt invoke --image`;
//! with 9000 held by the test it fails with an ErrMsg saying so, while one that honours
//! SCFRUNTIME_LISTEN still runs. Those cases share port 9000, so they are one test function.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use scf_reliability::api_client::call;
use scf_reliability::bootstraps::{Finished, run_bounded};
use scf_reliability::serve_proc::{ServeProcess, code_zip_base64, own_network_namespace};
use scf_reliability::summary::Cases;
use serde_json::Value;

fn tmpdir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// How long one `scfrt invoke` may run.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// SCF's documented PATH (docs/environment.md).
const SCF_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn rel_scfrt() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rel-scfrt"))
}

fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Python 3 by absolute path (a bootstrap's `#!` line must not depend on PATH).
fn python3() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap_or_else(|e| panic!("these tests run Python image servers; python3: {e}"));
    assert!(out.status.success(), "python3 failed: {out:?}");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The Invoke JSON's `Result` of a finished `scfrt invoke`.
fn invoke_result(run: &Finished) -> Value {
    let line = run.stdout.lines().next().unwrap_or_default();
    serde_json::from_str::<Value>(line)
        .map(|v| v["Response"]["Result"].clone())
        .unwrap_or(Value::Null)
}

/// The `errorMessage` of a Result's ErrMsg.
fn error_message(result: &Value) -> String {
    result["ErrMsg"]
        .as_str()
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .and_then(|e| e["errorMessage"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn exit_code(run: &Finished) -> Option<i32> {
    run.status.and_then(|s| s.code())
}

// ---- the environment ----------------------------------------------------------------------------

/// A runtime-API bootstrap (bash + curl, as SCF's bash sample) that answers every event with
/// its own initial environment, one `NAME=value` per line.
const ENV_BOOTSTRAP: &str = r#"#!/bin/bash
set -u
ENV_DUMP="$(tr '\0' '\n' < /proc/$$/environ)"
API="http://$SCF_RUNTIME_API:$SCF_RUNTIME_API_PORT/runtime"
curl -sS -o /dev/null -X POST -d " " "$API/init/ready"
while true; do
  curl -sS -o /dev/null "$API/invocation/next"
  printf '%s' "$ENV_DUMP" | curl -sS -o /dev/null -X POST --data-binary @- "$API/invocation/response"
done
"#;

/// An image server (Python, by absolute path in its `#!` line) on `$SCFRUNTIME_LISTEN` that
/// answers every event with its own initial environment.
fn env_image_server(python: &Path) -> String {
    format!(
        r#"#!{}
import http.server, os
with open("/proc/self/environ", "rb") as f:
    DUMP = f.read().replace(b"\0", b"\n").rstrip(b"\n")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", str(len(DUMP)))
        self.end_headers()
        self.wfile.write(DUMP)
    def log_message(self, *args):
        pass
host, port = os.environ["SCFRUNTIME_LISTEN"].rsplit(":", 1)
http.server.HTTPServer((host, int(port)), H).serve_forever()
"#,
        python.display()
    )
}

/// `NAME=value` lines as a map (a value may contain `=`).
fn parse_env(dump: &str) -> BTreeMap<String, String> {
    dump.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The locale scfrt must give: SCF's `en_US.UTF8` when the C library has it (`locale -a`
/// lists it as `en_US.utf8`), else `C.UTF-8`.
fn expected_locale() -> &'static str {
    let out = Command::new("locale")
        .arg("-a")
        .output()
        .unwrap_or_else(|e| panic!("`locale -a`: {e}"));
    let has = String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == "en_US.utf8");
    if has { "en_US.UTF8" } else { "C.UTF-8" }
}

/// Compares `got` with `want` exactly, except `SCF_RUNTIME_API_PORT`/`SCFRUNTIME_LISTEN`
/// (`port_var`), whose value is a port scfrt picks: it must be a non-zero port. Returns the
/// differences.
fn env_differences(
    got: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
    port_var: &str,
) -> Vec<String> {
    let mut diffs = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            Some(g) if g == v => {}
            Some(g) => diffs.push(format!("{k}={g:?}, want {v:?}")),
            None => diffs.push(format!("{k} missing, want {v:?}")),
        }
    }
    for (k, g) in got {
        if k == port_var {
            let port = g.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
            if port.is_none_or(|p| p == 0) {
                diffs.push(format!("{k}={g:?} is not a port"));
            }
        } else if !want.contains_key(k) {
            diffs.push(format!("unexpected {k}={g:?}"));
        }
    }
    if !got.contains_key(port_var) {
        diffs.push(format!("{port_var} missing"));
    }
    diffs
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What a code package in `code` must see, given the caller's HOME (`None`: unset) and
/// LD_LIBRARY_PATH, the user's variables and the trigger.
fn code_package_env(
    code: &str,
    home: Option<&str>,
    caller_ld: Option<&str>,
    name: &str,
    trigger: Option<&str>,
) -> BTreeMap<String, String> {
    let locale = expected_locale();
    let ld = match caller_ld {
        Some(l) => format!("{code}:/opt:{l}"),
        None => format!("{code}:/opt"),
    };
    let mut want = map(&[
        ("PATH", SCF_PATH),
        ("HOME", home.unwrap_or("/home/qcloud")),
        ("LANG", locale),
        ("LC_ALL", locale),
        ("USER", "qcloud"),
        ("LOGNAME", "qcloud"),
        ("SHELL", "/bin/bash"),
        ("PWD", code),
        ("PYTHONPATH", &format!("{code}:/opt")),
        // The user's value (STAGE too): a documented variable the user may override.
        ("PYTHONDONTWRITEBYTECODE", "1"),
        ("STAGE", "dev"),
        (
            "NODE_PATH",
            &format!("{code}:{code}/node_modules:/opt:/opt/node_modules"),
        ),
        ("LD_LIBRARY_PATH", &ld),
        ("_SCF_SERVER_PORT", "28902"),
        ("_HANDLER", "idx.handle"),
        ("TENCENTCLOUD_RUNENV", "SCF"),
        ("USER_CODE_ROOT", &format!("{code}/")),
        ("SCF_FUNCTIONNAME", name),
        ("SCF_FUNCTIONVERSION", "$LATEST"),
        ("TENCENTCLOUD_REGION", "ap-guangzhou"),
        ("TENCENTCLOUD_APPID", "1250000000"),
        ("TENCENTCLOUD_UIN", "100000000001"),
        ("SCF_RUNTIME_API", "127.0.0.1"),
        ("SCF_RUNTIME", "CustomRuntime"),
        ("SCF_NAMESPACE", "default"),
        ("TENCENTCLOUD_SECRETID", "AKIDscfrtLocalPlaceholder"),
        (
            "TENCENTCLOUD_SECRETKEY",
            "scfrt-local-placeholder-secret-key",
        ),
        (
            "TENCENTCLOUD_SESSIONTOKEN",
            "scfrt-local-placeholder-session-token",
        ),
        ("TENCENTCLOUD_TZ", "UTC"),
    ]);
    if let Some(t) = trigger {
        want.insert("TRIGGER_SRC".into(), t.into());
    }
    want
}

fn canonical(dir: &Path) -> String {
    std::fs::canonicalize(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .to_string_lossy()
        .into_owned()
}

#[test]
fn invoke_gives_a_code_package_and_an_image_the_documented_environment() {
    let mut cases = Cases::new(tmpdir(), "environment-invoke");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let home = home.to_string_lossy().into_owned();

    // A code package; the caller has a HOME and an LD_LIBRARY_PATH, and a variable that must
    // not reach the function.
    let pkg = dir.path().join("code");
    std::fs::create_dir_all(&pkg).expect("package dir");
    write_executable(&pkg.join("bootstrap"), ENV_BOOTSTRAP);
    let mut cmd = rel_scfrt();
    cmd.arg("invoke")
        .arg(&pkg)
        .args(["--handler", "idx.handle", "--function-name", "env-fn"])
        .args(["--env", "STAGE=dev", "--env", "PYTHONDONTWRITEBYTECODE=1"])
        .args(["--trigger-src", "timer", "--event", "{}"])
        .env("HOME", &home)
        .env("LD_LIBRARY_PATH", "/caller/lib")
        .env("SCFRT_TEST_CALLER_ONLY", "1");
    let run = run_bounded(cmd, RUN_LIMIT);
    let result = invoke_result(&run);
    let got = parse_env(result["RetMsg"].as_str().unwrap_or_default());
    let code = canonical(&pkg);
    let want = code_package_env(
        &code,
        Some(&home),
        Some("/caller/lib"),
        "env-fn",
        Some("timer"),
    );
    let diffs = env_differences(&got, &want, "SCF_RUNTIME_API_PORT");
    cases.check(
        "code-package",
        exit_code(&run) == Some(0) && result["InvokeResult"] == 0 && diffs.is_empty(),
        format!(
            "exit {:?}, InvokeResult {}, {} variables; differences: {diffs:?}; stderr: {}",
            exit_code(&run),
            result["InvokeResult"],
            got.len(),
            run.stderr.lines().last().unwrap_or_default()
        ),
    );
    // bash started with that LANG/LC_ALL: the C library has the locale (no setlocale warning).
    let log = result["Log"].as_str().unwrap_or_default();
    cases.check(
        "locale-loads",
        !log.contains("setlocale") && !run.stderr.contains("setlocale"),
        format!("LANG={:?}; log: {log:?}", got.get("LANG")),
    );

    // An image: SCF's reduced set, plus _HANDLER and scfruntime's two variables.
    let python = python3();
    let img = dir.path().join("image");
    std::fs::create_dir_all(&img).expect("image dir");
    write_executable(&img.join("bootstrap"), &env_image_server(&python));
    let mut cmd = rel_scfrt();
    cmd.args(["invoke", "--image"])
        .arg(&img)
        .args(["--handler", "idx.handle", "--function-name", "env-img"])
        .args([
            "--env",
            "STAGE=dev",
            "--trigger-src",
            "timer",
            "--event",
            "{}",
        ])
        .env("HOME", &home)
        .env("LD_LIBRARY_PATH", "/caller/lib");
    let run = run_bounded(cmd, RUN_LIMIT);
    let result = invoke_result(&run);
    let got = parse_env(result["RetMsg"].as_str().unwrap_or_default());
    let code = canonical(&img);
    let want = map(&[
        ("PATH", SCF_PATH),
        ("HOME", &home),
        ("STAGE", "dev"),
        ("_HANDLER", "idx.handle"),
        ("TENCENTCLOUD_RUNENV", "SCF"),
        ("USER_CODE_ROOT", &format!("{code}/")),
        ("USER", "qcloud"),
        ("SCF_FUNCTIONNAME", "env-img"),
        ("SCF_FUNCTIONVERSION", "$LATEST"),
        ("TENCENTCLOUD_REGION", "ap-guangzhou"),
        ("TENCENTCLOUD_APPID", "1250000000"),
        ("TENCENTCLOUD_UIN", "100000000001"),
        ("SCFRUNTIME_MODE", "image"),
    ]);
    let diffs = env_differences(&got, &want, "SCFRUNTIME_LISTEN");
    let listen_ok = got
        .get("SCFRUNTIME_LISTEN")
        .is_some_and(|l| l.starts_with("127.0.0.1:"));
    cases.check(
        "image",
        exit_code(&run) == Some(0) && result["InvokeResult"] == 0 && diffs.is_empty() && listen_ok,
        format!(
            "exit {:?}, InvokeResult {}, {} variables; differences: {diffs:?}; SCFRUNTIME_LISTEN {:?}",
            exit_code(&run),
            result["InvokeResult"],
            got.len(),
            got.get("SCFRUNTIME_LISTEN")
        ),
    );

    // Reserved names are refused before anything runs: exit 2, the variable and the rule named.
    for var in ["SCF_FOO=1", "TENCENTCLOUD_X=1", "QCLOUD_APPID=1"] {
        let name = var.split('=').next().unwrap_or_default();
        let prefix = format!("{}_", name.split('_').next().unwrap_or_default());
        let mut cmd = rel_scfrt();
        cmd.arg("invoke")
            .arg(&pkg)
            .args(["--env", "STAGE=dev", "--env", var, "--event", "{}"]);
        let run = run_bounded(cmd, RUN_LIMIT);
        let named = format!("`{name}` starts with {prefix}");
        let rule = "environment variables starting with SCF_, QCLOUD_ or TENCENTCLOUD_ are \
                    reserved by the platform and cannot be set";
        cases.check(
            &format!("refused-{name}"),
            exit_code(&run) == Some(2)
                && run.stdout.is_empty()
                && run.stderr.contains(&named)
                && run.stderr.contains(rule),
            format!(
                "exit {:?}, stdout {} bytes, stderr: {}",
                exit_code(&run),
                run.stdout.len(),
                run.stderr.trim()
            ),
        );
    }
    cases.finish();
}

/// `scfrt serve` on 127.0.0.1:0, its HOME removed and no LD_LIBRARY_PATH.
fn start_server(state: &Path) -> ServeProcess {
    ServeProcess::start_with(
        Path::new(env!("CARGO_BIN_EXE_rel-scfrt")),
        state,
        &[],
        |cmd| {
            cmd.env_remove("HOME").env_remove("LD_LIBRARY_PATH");
        },
    )
}

/// [`ENV_BOOTSTRAP`] as a base64 code zip.
fn env_zip() -> String {
    code_zip_base64(ENV_BOOTSTRAP.as_bytes())
}

fn create(port: u16, name: &str, vars: &[(&str, &str)]) -> Value {
    let vars: Vec<Value> = vars
        .iter()
        .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
        .collect();
    call(
        port,
        "CreateFunction",
        &serde_json::json!({
            "FunctionName": name, "Runtime": "CustomRuntime", "Handler": "idx.handle",
            "Code": {"ZipFile": env_zip()}, "Environment": {"Variables": vars}
        })
        .to_string(),
    )
}

/// The directory `scfrt serve` unpacked `name`'s code into: the one under `state` that holds
/// a `bootstrap` identical to [`ENV_BOOTSTRAP`] and has `name` in its path.
fn served_code_dir(state: &Path, name: &str) -> Option<PathBuf> {
    let mut stack = vec![state.to_path_buf()];
    let mut found = Vec::new();
    let mut visited = 0;
    while let Some(dir) = stack.pop() {
        visited += 1;
        if visited > 10_000 {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|f| f == "bootstrap")
                && path.to_string_lossy().contains(name)
                && std::fs::read(&path).is_ok_and(|b| b == ENV_BOOTSTRAP.as_bytes())
            {
                found.push(dir.clone());
            }
        }
    }
    (found.len() == 1).then(|| found.remove(0))
}

#[test]
fn serve_gives_the_same_environment_and_refuses_reserved_names_alike() {
    let mut cases = Cases::new(tmpdir(), "environment-serve");
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let server = start_server(&state);

    let r = create(
        server.port,
        "env-served",
        &[("STAGE", "dev"), ("PYTHONDONTWRITEBYTECODE", "1")],
    );
    cases.check(
        "create",
        r["Response"]["Error"].is_null(),
        format!("CreateFunction: {r}"),
    );
    let r = call(
        server.port,
        "Invoke",
        &serde_json::json!({"FunctionName": "env-served", "ClientContext": "{}"}).to_string(),
    );
    let result = &r["Response"]["Result"];
    let got = parse_env(result["RetMsg"].as_str().unwrap_or_default());
    // The code directory as the function saw it, checked against the state directory.
    let code = got.get("PWD").cloned().unwrap_or_default();
    let code_is_served = served_code_dir(&state, "env-served")
        .is_some_and(|d| canonical(&d) == code && code.starts_with(&canonical(&state)));
    let want = code_package_env(&code, None, None, "env-served", None);
    let diffs = env_differences(&got, &want, "SCF_RUNTIME_API_PORT");
    cases.check(
        "code-package",
        result["InvokeResult"] == 0 && diffs.is_empty() && code_is_served,
        format!(
            "InvokeResult {}, {} variables, code dir {code:?} under the state dir: \
             {code_is_served}; differences: {diffs:?}",
            result["InvokeResult"],
            got.len()
        ),
    );

    // CreateFunction refuses reserved names with the words `--env` uses.
    for name in ["SCF_FOO", "TENCENTCLOUD_X", "QCLOUD_APPID"] {
        let prefix = format!("{}_", name.split('_').next().unwrap_or_default());
        let r = create(server.port, &format!("bad-{}", name.len()), &[(name, "1")]);
        let err = &r["Response"]["Error"];
        let want = format!(
            "`{name}` starts with {prefix}: environment variables starting with SCF_, QCLOUD_ \
             or TENCENTCLOUD_ are reserved by the platform and cannot be set"
        );
        cases.check(
            &format!("refused-{name}"),
            err["Code"] == "InvalidParameterValue.EnvironmentSystemProtect"
                && err["Message"] == want.as_str(),
            format!("{err}"),
        );
    }
    drop(server);
    cases.finish();
}

// ---- port 9000 ---------------------------------------------------------------------------------

/// An image function written without scfruntime, as for SCF: Python's `http.server` on
/// 0.0.0.0:9000 whatever SCFRUNTIME_LISTEN says; `POST /event-invoke` is answered with the
/// body after `plain: `, and the request id is printed.
fn plain_9000_server(python: &Path) -> String {
    format!(
        r#"#!{}
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/event-invoke":
            self.send_error(404)
            return
        print("plain server got request " + self.headers.get("X-Scf-Request-Id", "?"), flush=True)
        out = b"plain: " + body
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", 9000), H).serve_forever()
"#,
        python.display()
    )
}

/// The same answer, on `$SCFRUNTIME_LISTEN`.
fn honouring_server(python: &Path) -> String {
    plain_9000_server(python).replace(
        r#"http.server.HTTPServer(("0.0.0.0", 9000), H)"#,
        "import os\nhost, port = os.environ[\"SCFRUNTIME_LISTEN\"].rsplit(\":\", 1)\n\
         http.server.HTTPServer((host, int(port)), H)",
    )
}

/// Whether anything listens on port 9000 (IPv4 or IPv6, any address).
fn port_9000_listeners() -> Vec<u64> {
    scf_runtime_api::image::listening_socket_inodes(9000).expect("read /proc/net/tcp")
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
fn poll_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn invoke_image(pkg: &Path, extra: &[&str]) -> (Finished, Value) {
    let mut cmd = rel_scfrt();
    cmd.args(["invoke", "--image"])
        .arg(pkg)
        .args(["--event", r#"{"k":1}"#])
        .args(extra);
    let run = run_bounded(cmd, RUN_LIMIT);
    let result = invoke_result(&run);
    (run, result)
}

#[test]
fn image_functions_that_listen_on_9000_themselves() {
    own_network_namespace();
    let held = port_9000_listeners();
    assert!(
        held.is_empty(),
        "port 9000 is in use by another process on this machine (socket inodes {held:?}; \
         `ss -ltnp 'sport = :9000'` names it): these cases need it free, stop that process"
    );
    let mut cases = Cases::new(tmpdir(), "image-port-9000");
    let dir = tempfile::tempdir().expect("tempdir");
    let python = python3();
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).expect("dir");
    write_executable(&plain.join("bootstrap"), &plain_9000_server(&python));
    let honouring = dir.path().join("honouring");
    std::fs::create_dir_all(&honouring).expect("dir");
    write_executable(&honouring.join("bootstrap"), &honouring_server(&python));

    // 9000 free: the server that listens there itself runs.
    let (run, result) = invoke_image(&plain, &[]);
    let rid = result["FunctionRequestId"].as_str().unwrap_or("(none)");
    let log = result["Log"].as_str().unwrap_or_default();
    cases.check(
        "9000-free-plain-server-runs",
        exit_code(&run) == Some(0)
            && result["InvokeResult"] == 0
            && result["RetMsg"] == r#"plain: {"k":1}"#
            && log.contains(&format!("plain server got request {rid}\n")),
        format!(
            "exit {:?}, InvokeResult {}, RetMsg {}, {:.0} ms; {}",
            exit_code(&run),
            result["InvokeResult"],
            result["RetMsg"],
            run.elapsed.as_secs_f64() * 1000.0,
            error_message(&result)
        ),
    );
    // Its instance is gone with scfrt invoke, and 9000 with it.
    let freed = poll_until(Duration::from_secs(20), || port_9000_listeners().is_empty());
    cases.check(
        "9000-freed-after",
        freed,
        format!("{:?}", port_9000_listeners()),
    );

    // 9000 held by this test (on 127.0.0.1, which a bind of 0.0.0.0:9000 conflicts with).
    let holder = std::net::TcpListener::bind(("127.0.0.1", 9000))
        .expect("bind 127.0.0.1:9000, free a moment ago");
    let (run, result) = invoke_image(&plain, &[]);
    let msg = error_message(&result);
    cases.check(
        "9000-held-plain-server-fails-saying-why",
        exit_code(&run) == Some(1)
            && result["InvokeResult"] == 405
            && msg.contains("Address already in use")
            && msg.contains(
                "Port 9000 was in use by another process when the instance started, so an \
                 image whose server listens on 9000 itself cannot run here: stop that process",
            ),
        format!(
            "exit {:?}, InvokeResult {}: {msg}",
            exit_code(&run),
            result["InvokeResult"]
        ),
    );
    // One that never listens: SCF's timeout message, then the same explanation.
    let silent = dir.path().join("silent");
    std::fs::create_dir_all(&silent).expect("dir");
    write_executable(&silent.join("bootstrap"), "#!/bin/sh\nexec sleep 300\n");
    let (run, result) = invoke_image(&silent, &["--init-timeout", "0.5"]);
    let msg = error_message(&result);
    cases.check(
        "9000-held-init-timeout-says-why",
        exit_code(&run) == Some(1)
            && result["InvokeResult"] == 450
            && msg.starts_with("The request timed out in 500ms.")
            && msg.contains("(scfrt set SCFRUNTIME_LISTEN=127.0.0.1:")
            && msg.contains("; on SCF it is 9000). Port 9000 was in use by another process"),
        format!(
            "exit {:?}, InvokeResult {}: {msg}",
            exit_code(&run),
            result["InvokeResult"]
        ),
    );
    // One that honours SCFRUNTIME_LISTEN runs whatever holds 9000.
    let (run, result) = invoke_image(&honouring, &[]);
    let rid = result["FunctionRequestId"].as_str().unwrap_or("(none)");
    let log = result["Log"].as_str().unwrap_or_default();
    cases.check(
        "9000-held-honouring-server-runs",
        exit_code(&run) == Some(0)
            && result["InvokeResult"] == 0
            && result["RetMsg"] == r#"plain: {"k":1}"#
            && log.contains(&format!("plain server got request {rid}\n")),
        format!(
            "exit {:?}, InvokeResult {}, RetMsg {}; {}",
            exit_code(&run),
            result["InvokeResult"],
            result["RetMsg"],
            error_message(&result)
        ),
    );
    drop(holder);
    cases.finish();
}
