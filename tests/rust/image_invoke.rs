//! `scfrt invoke --image`: Rust (examples/rust-echo, the fixture) and C (examples/c-echo and a
//! context handler through `scf_run`, the same handler dlopened by `scf-c-bootstrap`) served as
//! image-deployed functions, compared with the same packages run through the runtime API; the
//! seed's bash handler through `scf-shell-bootstrap` too.
//!
//! The binaries of other packages (scfrt, rust-echo's `bootstrap`, scf-c-bootstrap,
//! scf-shell-bootstrap, libscfruntime.a) are built once per run with `cargo build` into this
//! test's target dir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use scf_emulator::{
    IMAGE_LISTEN_ENV, IMAGE_MODE_ENV, PLACEHOLDER_APPID, PLACEHOLDER_SECRET_ID,
    PLACEHOLDER_SECRET_KEY, PLACEHOLDER_SESSION_TOKEN, PLACEHOLDER_UIN, REGION,
};
use serde_json::{Value, json};

#[path = "../../cli/scfrt/tests/common/mod.rs"]
mod common;
use common::process_gone;

const SIX_MB: usize = 6 * 1024 * 1024;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("workspace root")
}

/// `<target>/debug`: where this test runs from (`<target>/debug/deps/<test>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test runs from <target>/<profile>/deps")
        .to_owned()
}

/// scfrt, rust-echo's bootstrap, scf-c-bootstrap and libscfruntime.a, built once.
fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let profile = profile_dir();
        let target = profile.parent().expect("target dir").to_owned();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace())
            .env("CARGO_TARGET_DIR", &target)
            .args(["build", "-q", "-p", "scfrt", "-p", "rust-echo"])
            .args(["-p", "scf-bootstrap-c", "-p", "scf-bootstrap-shell"])
            .args(["-p", "scfruntime-ffi"])
            .status()
            .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build of scfrt, rust-echo, the C and shell bootstraps and scfruntime-ffi failed"
        );
        profile
    })
}

/// Compile a C source once per run into `<profile>/image-tests/<name>`.
fn compile(name: &str, src: &Path, shared_object: bool) -> PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let out_dir = bin_dir().join("image-tests");
    std::fs::create_dir_all(&out_dir).expect("C output dir");
    let out = out_dir.join(name);
    if built.iter().any(|b| b == name) {
        return out;
    }
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cmd = Command::new(&cc);
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
        .arg(format!("-I{}", workspace().join("include").display()));
    if shared_object {
        // No libscfruntime: scf-c-bootstrap exports the scf_* functions to the handler.
        cmd.args(["-shared", "-fPIC", "-DHANDLER_ONLY"]).arg(src);
    } else {
        cmd.arg(src)
            .arg(bin_dir().join("libscfruntime.a"))
            .args(scf_test_support::static_libs());
    }
    let result = cmd
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run the C compiler");
    assert!(
        result.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    built.push(name.to_owned());
    out
}

/// A function package: a temporary directory with `bootstrap` (and more files) in it.
struct Package {
    dir: tempfile::TempDir,
    /// `--handler` to pass, if any.
    handler: Option<&'static str>,
    /// What the handler writes to the log for each event (checked in the Log).
    log_mark: &'static str,
}

fn package(bootstrap: &Path, handler: Option<&'static str>, log_mark: &'static str) -> Package {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(bootstrap, dir.path().join("bootstrap")).expect("copy the bootstrap");
    Package {
        dir,
        handler,
        log_mark,
    }
}

fn rust_echo() -> Package {
    package(&bin_dir().join("bootstrap"), None, "rust-echo: ")
}

/// The seed's `index.sh` (examples/bash-echo) under scf-shell-bootstrap.
fn shell() -> Package {
    let pkg = package(&bin_dir().join("scf-shell-bootstrap"), None, "");
    std::fs::copy(
        workspace().join("examples/bash-echo/index.sh"),
        pkg.dir.path().join("index.sh"),
    )
    .expect("copy index.sh");
    pkg
}

fn rust_fixture() -> Package {
    package(Path::new(env!("CARGO_BIN_EXE_fixture-echo")), None, "")
}

fn c_echo() -> Package {
    let exe = compile("c-echo", &workspace().join("examples/c-echo/main.c"), false);
    package(&exe, None, "c-echo: request ")
}

fn c_image_handler() -> Package {
    let exe = compile(
        "image-handler",
        &workspace().join("tests/c/image_handler.c"),
        false,
    );
    package(&exe, None, "c-image: request ")
}

fn c_dlopen() -> Package {
    let so = compile(
        "libimage.so",
        &workspace().join("tests/c/image_handler.c"),
        true,
    );
    let pkg = package(
        &bin_dir().join("scf-c-bootstrap"),
        Some("libimage.handle"),
        "c-image: request ",
    );
    std::fs::copy(so, pkg.dir.path().join("libimage.so")).expect("copy the handler object");
    pkg
}

/// What one `scfrt invoke` run printed.
struct Run {
    code: i32,
    results: Vec<Value>,
    stderr: String,
}

impl Run {
    fn result(&self, i: usize) -> &Value {
        &self.results[i]["Response"]["Result"]
    }

    fn describe(&self) -> String {
        format!(
            "exit {}\n{}\n--- stderr ---\n{}",
            self.code,
            self.results
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
            self.stderr
        )
    }
}

/// `scfrt invoke <pkg> [--image] <args>`.
fn invoke(pkg: &Package, image: bool, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin_dir().join("scfrt"));
    cmd.arg("invoke").arg(pkg.dir.path());
    if image {
        cmd.arg("--image");
    }
    if let Some(h) = pkg.handler {
        cmd.args(["--handler", h]);
    }
    let out = cmd.args(args).output().expect("run scfrt");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 stdout");
    Run {
        code: out.status.code().unwrap_or(-1),
        results: stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn events_args<'a>(events: &[&'a str]) -> Vec<&'a str> {
    events.iter().flat_map(|e| ["--event", e]).collect()
}

#[test]
fn scfrt_sets_the_variables_core_reads() {
    assert_eq!(IMAGE_MODE_ENV, scf_core::MODE_ENV);
    assert_eq!(IMAGE_LISTEN_ENV, scf_core::LISTEN_ENV);
}

/// The same handler and events through both deployments: the same RetMsg, byte for byte.
#[test]
fn echo_retmsg_is_identical_in_both_deployments() {
    let events = [
        r#"{"hello": "wörld", "emoji": "🚀", "n": [1, 2.5, null]}"#,
        "{}",
        "[]",
    ];
    for (name, pkg) in [
        ("rust-echo", rust_echo()),
        ("c-echo", c_echo()),
        ("c-dlopen", c_dlopen()),
        ("rust-fixture", rust_fixture()),
        ("shell", shell()),
    ] {
        let runtime = invoke(&pkg, false, &events_args(&events));
        let image = invoke(&pkg, true, &events_args(&events));
        for (mode, run) in [("runtime API", &runtime), ("image", &image)] {
            assert_eq!(run.code, 0, "{name} ({mode}): {}", run.describe());
            assert_eq!(run.results.len(), events.len(), "{name} ({mode})");
            for (i, event) in events.iter().enumerate() {
                let r = run.result(i);
                assert_eq!(r["InvokeResult"], 0, "{name} ({mode}) #{i}: {r}");
                assert_eq!(r["ErrMsg"], "", "{name} ({mode}) #{i}");
                let want = if name == "shell" {
                    // index.sh answers `echo $RESPONSE`, unquoted: the shell splits the words.
                    let words: Vec<&str> = event.split_whitespace().collect();
                    format!("Echoing request: '{}'", words.join(" "))
                } else {
                    event.to_string()
                };
                assert_eq!(
                    r["RetMsg"].as_str(),
                    Some(want.as_str()),
                    "{name} ({mode}) #{i}"
                );
                let id = r["FunctionRequestId"].as_str().unwrap();
                let log = r["Log"].as_str().unwrap();
                assert!(
                    log.starts_with(&format!("START RequestId: {id}\n")),
                    "{log}"
                );
                assert!(log.contains(&format!("\nEND RequestId: {id}\n")), "{log}");
                assert!(
                    log.contains(&format!("Report RequestId: {id} Duration:")),
                    "{log}"
                );
                assert!(log.contains(pkg.log_mark), "{name} ({mode}): {log}");
                // One cold start, then the warm instance answers.
                assert_eq!(
                    log.contains("Init Report"),
                    i == 0,
                    "{name} ({mode}) #{i}: {log}"
                );
                assert!(r["MemUsage"].as_u64().unwrap() > 0, "{r}");
            }
        }
        for i in 0..events.len() {
            assert_eq!(
                runtime.result(i)["RetMsg"],
                image.result(i)["RetMsg"],
                "{name} #{i}"
            );
        }
    }
}

#[test]
fn every_context_header_reaches_rust_and_c_handlers() {
    let args = [
        "--event",
        r#""context""#,
        "--memory",
        "256",
        "--timeout",
        "7",
        "--function-name",
        "ctx-fn",
        "--trigger-src",
        "timer",
    ];
    let metadata = json!({
        "function_name": "ctx-fn",
        "function_version": "$LATEST",
        "namespace": "default",
        "tencentcloud_region": REGION,
        "tencentcloud_appid": PLACEHOLDER_APPID,
        "tencentcloud_uin": PLACEHOLDER_UIN,
        "secret_id": PLACEHOLDER_SECRET_ID,
        "secret_key": PLACEHOLDER_SECRET_KEY,
        "session_token": PLACEHOLDER_SESSION_TOKEN,
        "trigger_src": "timer",
    });
    for (name, pkg) in [
        ("rust-fixture", rust_fixture()),
        ("c-scf_run", c_image_handler()),
        ("c-dlopen", c_dlopen()),
    ] {
        let image = invoke(&pkg, true, &args);
        assert_eq!(image.code, 0, "{name}: {}", image.describe());
        let r = image.result(0);
        let seen: Value = serde_json::from_str(r["RetMsg"].as_str().unwrap()).expect("JSON");
        assert_eq!(
            seen,
            json!({
                "request_id": r["FunctionRequestId"],
                "memory_limit_mb": 256,
                "time_limit_ms": 7000,
                "metadata": metadata,
            }),
            "{name}"
        );
        // Through the runtime API the request id and limits come the same way; the metadata is
        // in the environment: Rust's Invocation has none, C's scf_invocation_metadata reads the
        // environment instead and finds the same values.
        let runtime = invoke(&pkg, false, &args);
        assert_eq!(runtime.code, 0, "{name}: {}", runtime.describe());
        let r = runtime.result(0);
        let seen: Value = serde_json::from_str(r["RetMsg"].as_str().unwrap()).expect("JSON");
        assert_eq!(seen["request_id"], r["FunctionRequestId"], "{name}");
        assert_eq!(
            (
                seen["memory_limit_mb"].clone(),
                seen["time_limit_ms"].clone()
            ),
            (json!(256), json!(7000))
        );
        let want = if name.starts_with("rust") {
            Value::Null
        } else {
            metadata.clone()
        };
        assert_eq!(seen["metadata"], want, "{name}");
    }
}

/// A handler error is the same InvokeResult and ErrMsg in both deployments (the request ids
/// aside, which each run draws anew).
#[test]
fn handler_errors_map_to_the_same_invoke_result_and_errmsg() {
    for (name, pkg, event) in [
        ("rust-fixture", rust_fixture(), r#""error""#),
        ("rust-fixture panic", rust_fixture(), r#""panic""#),
        ("c-scf_run", c_image_handler(), r#""error""#),
        ("c-dlopen", c_dlopen(), r#""error""#),
    ] {
        let mut errors = Vec::new();
        for image in [false, true] {
            let run = invoke(&pkg, image, &["--event", event]);
            assert_eq!(run.code, 1, "{name}: {}", run.describe());
            let r = run.result(0);
            assert_eq!(r["InvokeResult"], 430, "{name}: {r}");
            assert_eq!(r["RetMsg"], "", "{name}");
            let id = r["FunctionRequestId"].as_str().unwrap();
            let err_msg = r["ErrMsg"].as_str().unwrap();
            let parsed: Value = serde_json::from_str(err_msg).expect("ErrMsg is the error JSON");
            assert_eq!(parsed["requestId"], id, "{name}");
            errors.push(err_msg.replace(id, "<id>"));
        }
        assert_eq!(errors[0], errors[1], "{name}");
        let parsed: Value = serde_json::from_str(&errors[0]).unwrap();
        match name {
            "rust-fixture" => {
                assert_eq!(parsed["errorType"], "FixtureError");
                assert_eq!(parsed["errorMessage"], "café 错误 🚀");
                assert_eq!(parsed["stackTrace"], json!(["frame one", "frame two"]));
            }
            "rust-fixture panic" => assert_eq!(parsed["errorType"], "Panic"),
            _ => {
                assert_eq!(parsed["errorType"], "ValidationError");
                assert_eq!(parsed["errorMessage"], "champ «nom» invalide: 错误 🚀");
            }
        }
    }
}

/// An event over 6 MB reaches the image's server, which refuses it with 413 unread; scfrt
/// reports that as the platform's 406. The instance stays warm.
#[test]
fn events_over_six_mb_are_refused_by_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    // JSON strings: the quotes make them 2 bytes longer than their content.
    let over = tmp.path().join("over.json");
    std::fs::write(&over, format!("\"{}\"", "a".repeat(SIX_MB - 1))).unwrap();
    let at_limit = tmp.path().join("at-limit.json");
    std::fs::write(&at_limit, format!("\"{}\"", "a".repeat(SIX_MB - 2))).unwrap();
    let over = over.to_str().unwrap();
    for (name, pkg) in [("rust-echo", rust_echo()), ("c-echo", c_echo())] {
        let run = invoke(&pkg, true, &["--event-file", over, "--event", "{}"]);
        assert_eq!(run.code, 1, "{name}: {}", run.describe());
        let r = run.result(0);
        assert_eq!(r["InvokeResult"], 406, "{name}: {r}");
        let err: Value = serde_json::from_str(r["ErrMsg"].as_str().unwrap()).unwrap();
        assert_eq!(err["statusCode"], 406);
        let message = err["errorMessage"].as_str().unwrap();
        for part in [
            "The size of request exceeds the upper limit (6MB)",
            &format!("refused the event ({} bytes) with HTTP 413", SIX_MB + 1),
            &format!("over the limit of {SIX_MB} bytes (6 MB); it was not read"),
        ] {
            assert!(
                message.contains(part),
                "{name}: {part:?} not in {message:?}"
            );
        }
        // The handler never saw it; the warm instance answers the next event.
        assert!(!r["Log"].as_str().unwrap().contains(pkg.log_mark), "{r}");
        let next = run.result(1);
        assert_eq!(next["InvokeResult"], 0, "{name}: {next}");
        assert_eq!(next["RetMsg"], "{}");
        assert!(!next["Log"].as_str().unwrap().contains("Init Report"));

        // Without --image scfrt refuses it itself, with the same status and words.
        let run = invoke(&pkg, false, &["--event-file", over]);
        let r = run.result(0);
        assert_eq!(r["InvokeResult"], 406, "{name}: {r}");
        assert!(
            r["ErrMsg"]
                .as_str()
                .unwrap()
                .contains("The size of request exceeds the upper limit (6MB)")
        );
    }
    // Exactly 6 MB passes.
    let run = invoke(
        &rust_echo(),
        true,
        &["--event-file", at_limit.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "exit {}: {}", run.code, run.stderr);
    assert_eq!(run.result(0)["RetMsg"].as_str().map(str::len), Some(SIX_MB));
}

fn script_package(body: &str) -> Package {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bootstrap");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    Package {
        dir,
        handler: None,
        log_mark: "",
    }
}

#[test]
fn a_server_that_never_listens_is_an_init_timeout_and_is_killed() {
    // A runtime-API bootstrap in image mode would never listen; so does this one, which also
    // leaves a child behind that the kill must reach.
    let pkg = script_package(
        "echo \"never listening on $SCFRUNTIME_LISTEN\"\necho $$ > pid\nsleep 300 &\necho $! > child\nwait",
    );
    let run = invoke(&pkg, true, &["--init-timeout", "0.5"]);
    assert_eq!(run.code, 1, "{}", run.describe());
    let r = run.result(0);
    assert_eq!(r["InvokeResult"], 450, "{r}");
    let err: Value = serde_json::from_str(r["ErrMsg"].as_str().unwrap()).unwrap();
    let message = err["errorMessage"].as_str().unwrap();
    let log = r["Log"].as_str().unwrap();
    let listen = log
        .lines()
        .find_map(|l| l.strip_prefix("never listening on "))
        .expect("the bootstrap's output is in the log");
    let port = listen.rsplit(':').next().unwrap();
    assert!(listen.starts_with("127.0.0.1:"), "{listen}");
    assert_eq!(
        message,
        format!(
            "The request timed out in 500ms. Please confirm your http server have enabled \
             listening on port {port} (scfrt set SCFRUNTIME_LISTEN={listen}; on SCF it is 9000)."
        )
    );
    for file in ["pid", "child"] {
        let pid: i32 = std::fs::read_to_string(pkg.dir.path().join(file))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(process_gone(pid), "{file} {pid} still runs");
    }

    // One that exits before listening is the platform's 405, with its stderr.
    let pkg = script_package("echo 'no config' >&2\nexit 3");
    let run = invoke(&pkg, true, &[]);
    let r = run.result(0);
    assert_eq!(r["InvokeResult"], 405, "{r}");
    let message = r["ErrMsg"].as_str().unwrap();
    assert!(
        message.contains("the bootstrap exited (exit code 3) before listening on 127.0.0.1:")
            && message.contains("stderr: no config"),
        "{message}"
    );
}

#[test]
fn timeouts_and_crashes_map_like_runtime_api_mode() {
    let pkg = rust_fixture();
    for image in [false, true] {
        let run = invoke(
            &pkg,
            image,
            &[
                "--timeout",
                "0.5",
                "--event",
                r#""hang""#,
                "--event",
                r#""exit""#,
                "--event",
                "{}",
            ],
        );
        assert_eq!(run.code, 1, "{}", run.describe());
        let hang = run.result(0);
        assert_eq!(hang["InvokeResult"], 433, "image {image}: {hang}");
        let err: Value = serde_json::from_str(hang["ErrMsg"].as_str().unwrap()).unwrap();
        assert_eq!(
            err["errorMessage"],
            "Invoking task timed out after 0.5 seconds"
        );
        let exit = run.result(1);
        assert_eq!(exit["InvokeResult"], 439, "image {image}: {exit}");
        let err: Value = serde_json::from_str(exit["ErrMsg"].as_str().unwrap()).unwrap();
        assert_eq!(
            err["errorMessage"],
            "User process exited when running: exit code 3"
        );
        // Each failure took the instance down: every invocation here was a cold start.
        let ok = run.result(2);
        assert_eq!(ok["InvokeResult"], 0, "image {image}: {ok}");
        for i in 0..3 {
            assert!(
                run.result(i)["Log"]
                    .as_str()
                    .unwrap()
                    .contains("Init Report")
            );
        }
    }
}

#[test]
fn memory_over_the_memory_size_is_434_in_both_deployments() {
    let pkg = rust_fixture();
    for image in [false, true] {
        let mut args = vec!["--memory", "64", "--timeout", "30"];
        args.extend(events_args(&[r#""hog:16""#, r#""hog:100""#, "{}"]));
        let run = invoke(&pkg, image, &args);
        assert_eq!(run.code, 1, "{}", run.describe());
        let fits = run.result(0);
        assert_eq!(fits["InvokeResult"], 0, "image {image}: {fits}");
        assert_eq!(fits["RetMsg"], "holding 16 MB");
        let hog = run.result(1);
        assert_eq!(hog["InvokeResult"], 434, "image {image}: {hog}");
        let err: Value = serde_json::from_str(hog["ErrMsg"].as_str().unwrap()).unwrap();
        let message = err["errorMessage"].as_str().unwrap();
        assert!(
            message.starts_with("Memory limit reached: the function's processes used ")
                && message.ends_with(
                    " MB of resident memory, more than its memory size of 64 MB; the instance \
                     was killed"
                ),
            "{message}"
        );
        assert!(
            hog["MemUsage"].as_u64().unwrap() > 64 << 20,
            "image {image}: {hog}"
        );
        // The instance was killed: the next event cold-starts and is answered.
        let ok = run.result(2);
        assert_eq!(ok["InvokeResult"], 0, "image {image}: {ok}");
        assert!(ok["Log"].as_str().unwrap().contains("Init Report"));
    }
}

/// Pages several processes share (a fork's copy-on-write memory) are counted once against the
/// memory size, as a memory cgroup counts them, though MemUsage (the summed RSS) shows them in
/// each process.
#[test]
fn memory_shared_by_forked_children_counts_once() {
    let pkg = rust_fixture();
    for image in [false, true] {
        let mut args = vec!["--memory", "128"];
        args.extend(events_args(&[r#""fork:40:3""#, r#""hog:100""#]));
        let run = invoke(&pkg, image, &args);
        let forked = run.result(0);
        assert_eq!(forked["InvokeResult"], 0, "image {image}: {forked}");
        assert_eq!(forked["RetMsg"], "forked 3");
        assert!(
            forked["MemUsage"].as_u64().unwrap() > 128 << 20,
            "four processes each show the 40 MB: image {image}: {forked}"
        );
        // 40 MB shared + 100 MB of the parent's own: over 128 MB however it is counted.
        let hog = run.result(1);
        assert_eq!(hog["InvokeResult"], 434, "image {image}: {hog}");
    }
}

/// examples/image-c/Dockerfile is not built here (no Docker engine), but what it names must
/// exist and agree with core: the switch, the default address, the port, the sources.
#[test]
fn the_dockerfile_example_matches_core_and_the_tree() {
    let root = workspace();
    let dockerfile = std::fs::read_to_string(root.join("examples/image-c/Dockerfile"))
        .expect("examples/image-c/Dockerfile");
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let froms: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(
        froms.len(),
        2,
        "a build stage and a runtime stage: {froms:?}"
    );
    assert!(froms[0].ends_with(" AS build"), "{froms:?}");
    assert!(lines.contains(&"COPY --from=build /bootstrap /var/user/bootstrap"));
    assert!(lines.contains(&format!("ENV {}=image", scf_core::MODE_ENV).as_str()));
    assert!(
        lines.contains(
            &format!("ENV {}={}", scf_core::LISTEN_ENV, scf_core::DEFAULT_LISTEN).as_str()
        )
    );
    let port = scf_core::DEFAULT_LISTEN.rsplit(':').next().unwrap();
    assert!(lines.contains(&format!("EXPOSE {port}").as_str()));
    assert!(lines.contains(&r#"CMD ["/var/user/bootstrap"]"#));
    // The build stage compiles the c-echo example against the header and the static library.
    for (mention, path) in [
        ("examples/c-echo/main.c", "examples/c-echo/main.c"),
        ("-Iinclude", "include/scfruntime.h"),
        ("-p scfruntime-ffi", "ffi/Cargo.toml"),
        ("target/release/libscfruntime.a", "ffi/Cargo.toml"),
        (
            "s/^static_libs=//p' ffi/scfruntime.pc.in",
            "ffi/scfruntime.pc.in",
        ),
    ] {
        assert!(
            dockerfile.contains(mention),
            "the Dockerfile does not mention {mention}"
        );
        assert!(root.join(path).is_file(), "{path} is missing");
    }
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).expect(".dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target/"), "{ignore}");
}
