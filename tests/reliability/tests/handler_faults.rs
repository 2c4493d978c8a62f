//! Handler faults of a C function (libscfruntime) under the emulator: a segfault in the handler
//! (439, then a cold start), an infinite loop (433, killed, replaced), 100 MB written to stdout
//! (the log is capped and scfrt's own memory stays bounded), a handler closing stdout/stderr.
//! Exceptions and panics are in the fault matrix (Python `fail`, Rust `panic` events).

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scf_emulator::{Function, FunctionConfig};
use scf_reliability::bootstraps;
use scf_reliability::summary::{self, Section};

fn tmpdir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// A package directory holding the C bootstrap.
fn c_package(dir: &Path) -> PathBuf {
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&pkg).expect("package dir");
    std::fs::copy(bootstraps::c_bootstrap(tmpdir()), pkg.join("bootstrap")).expect("copy");
    pkg
}

fn function(dir: &Path, timeout: Duration) -> Function {
    let mut cfg = FunctionConfig::new(c_package(dir));
    cfg.timeout = timeout;
    Function::new(cfg).expect("function")
}

fn record(name: &str, lines: Vec<String>) {
    summary::write(
        tmpdir(),
        name,
        &Section {
            run: 1,
            passed: 1,
            lines,
            ..Section::default()
        },
    );
}

#[test]
fn c_handler_segfault_is_439_and_the_next_invoke_cold_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut f = function(dir.path(), Duration::from_secs(10));
    let ok = f.invoke(br#"{"i":0,"mode":"ok"}"#);
    assert!(ok.succeeded(), "{ok:?}");
    let pid = f.warm_pid().expect("warm instance");
    let r = f.invoke(br#"{"i":1,"mode":"segv"}"#);
    assert_eq!(r.status_code, 439, "{r:?}");
    assert!(r.err_msg.contains("signal 11"), "{}", r.err_msg);
    let r = f.invoke(br#"{"i":2,"mode":"ok"}"#);
    assert!(r.succeeded() && r.cold_start, "{r:?}");
    assert_eq!(r.ret_msg, r#"{"i":2,"mode":"ok"}"#);
    assert_ne!(f.warm_pid(), Some(pid));
    record(
        "handler-c-segfault",
        vec!["ok   segv -> 439 (signal 11), next invoke cold-starts and succeeds".into()],
    );
}

#[test]
fn c_handler_infinite_loop_is_433_killed_and_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut f = function(dir.path(), Duration::from_secs(1));
    let r = f.invoke(br#"{"i":0,"mode":"loop"}"#);
    assert_eq!(r.status_code, 433, "{r:?}");
    let pid = f.warm_pid();
    assert_eq!(pid, None, "the looping instance is gone");
    let r = f.invoke(br#"{"i":1,"mode":"ok"}"#);
    assert!(r.succeeded() && r.cold_start, "{r:?}");
    record(
        "handler-c-infinite-loop",
        vec!["ok   loop -> 433 after 1 s, instance killed, next invoke cold-starts".into()],
    );
}

#[test]
fn c_handler_closing_stdout_and_stderr_keeps_working() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut f = function(dir.path(), Duration::from_secs(10));
    for i in 0..3 {
        let ev = format!(r#"{{"i":{i},"mode":"close"}}"#);
        let r = f.invoke(ev.as_bytes());
        assert!(r.succeeded(), "{r:?}");
        assert_eq!(r.ret_msg, ev);
        assert_eq!(r.cold_start, i == 0, "one warm instance: {r:?}");
    }
    record(
        "handler-c-closes-stdio",
        vec!["ok   3 invocations closing fds 1 and 2: all answered by one warm instance".into()],
    );
}

/// `scfrt invoke` of a handler that writes 100 MiB to stdout: the result is right, the log
/// tail is capped, and scfrt's peak RSS (wait4's ru_maxrss: the larger of scfrt and its reaped
/// children) stays far below the volume written.
#[test]
#[allow(
    clippy::zombie_processes,
    reason = "reaped by wait4 below, which also gives its rusage"
)]
fn handler_writing_100_mb_to_stdout_keeps_scfrt_memory_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = c_package(dir.path());
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rel-scfrt"))
        .arg("invoke")
        .arg(&pkg)
        .args(["--timeout", "120"])
        .args(["--event", r#"{"i":0,"mode":"flood"}"#])
        .args(["--event", r#"{"i":1,"mode":"ok"}"#])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn scfrt");
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let mut status = 0;
    // SAFETY: plain out-parameters; `pid` is our child, reaped only here.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4");
    let out = reader.join().expect("stdout reader");
    let exit = std::process::ExitStatus::from_raw(status);
    assert!(exit.success(), "scfrt invoke failed: {exit}\n{out}");
    let results: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("Invoke JSON line"))
        .collect();
    assert_eq!(results.len(), 2, "{out}");
    let first = &results[0]["Response"]["Result"];
    assert_eq!(first["RetMsg"], "flooded", "{first}");
    assert!(first["Log"].as_str().unwrap_or_default().len() <= 4096);
    assert_eq!(results[1]["Response"]["Result"]["InvokeResult"], 0);
    let max_rss_mib = usage.ru_maxrss as f64 / 1024.0;
    assert!(
        max_rss_mib < 64.0,
        "scfrt's peak RSS was {max_rss_mib:.1} MiB while relaying 100 MiB of log"
    );
    record(
        "handler-100mb-stdout",
        vec![format!(
            "ok   100 MiB to stdout: scfrt peak RSS {max_rss_mib:.1} MiB (limit 64), log tail <= 4 KB, {:.1} s",
            started.elapsed().as_secs_f64()
        )],
    );
}
