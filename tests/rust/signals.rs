//! SIGTERM/SIGINT: during the long poll the bootstrap exits at once with 0; during a handler it
//! answers the invocation first and then stops without asking for another event.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use scfrt::runtime_api::{InvokeOptions, Limits, Outcome, RecordedRequest, RuntimeApi};

const LIMIT: Duration = Duration::from_secs(20);

fn spawn_fixture(api: &RuntimeApi) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fixture-echo"))
        .env_clear()
        .env("SCF_RUNTIME_API", "127.0.0.1")
        .env("SCF_RUNTIME_API_PORT", api.port().to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn fixture-echo")
}

fn count(reqs: &[RecordedRequest], path: &str) -> usize {
    reqs.iter().filter(|r| r.path == path).count()
}

/// Wait for the child to exit, bounded: a hang fails the test instead of blocking it.
fn wait_bounded(mut child: Child, limit: Duration) -> ExitStatus {
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(limit) {
        Ok(status) => status.expect("wait"),
        Err(_) => {
            // SAFETY: killing the child we spawned; the waiting thread reaps it.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the bootstrap did not exit within {limit:?}");
        }
    }
}

fn signal_during_long_poll(sig: i32) {
    let api = RuntimeApi::start(Limits::default()).expect("runtime API");
    let child = spawn_fixture(&api);
    api.wait_ready(LIMIT).expect("ready");
    let out = api
        .invoke(b"first", &InvokeOptions::default())
        .expect("invoke");
    assert_eq!(out, Outcome::Response(b"first".to_vec()));
    // The second `next` is the long poll the signal must cut short.
    api.wait_for_requests(LIMIT, |r| count(r, "/runtime/invocation/next") == 2)
        .expect("second next");
    let sent = Instant::now();
    // SAFETY: signalling a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
    let status = wait_bounded(child, LIMIT);
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "signal {sig}: {status}");
    assert!(took < Duration::from_secs(1), "exit took {took:?}");
}

#[test]
fn sigterm_during_long_poll_exits_promptly_with_0() {
    signal_during_long_poll(libc::SIGTERM);
}

#[test]
fn sigint_during_long_poll_exits_promptly_with_0() {
    signal_during_long_poll(libc::SIGINT);
}

#[test]
fn sigterm_during_handler_answers_then_stops() {
    let api = RuntimeApi::start(Limits::default()).expect("runtime API");
    let child = spawn_fixture(&api);
    api.wait_ready(LIMIT).expect("ready");
    let out = api
        .invoke(b"sigterm", &InvokeOptions::default())
        .expect("invoke");
    assert_eq!(out, Outcome::Response(b"answered before stopping".to_vec()));
    let status = wait_bounded(child, LIMIT);
    assert_eq!(status.code(), Some(0), "{status}");
    let reqs = api.requests();
    assert_eq!(
        count(&reqs, "/runtime/invocation/next"),
        1,
        "no next after the signal"
    );
    assert_eq!(count(&reqs, "/runtime/invocation/response"), 1);
}

#[test]
fn init_failure_exits_nonzero_without_ready() {
    let api = RuntimeApi::start(Limits::default()).expect("runtime API");
    let out = Command::new(env!("CARGO_BIN_EXE_fixture-echo"))
        .env_clear()
        .env("SCF_RUNTIME_API", "127.0.0.1")
        .env("SCF_RUNTIME_API_PORT", api.port().to_string())
        .env("FIXTURE_INIT_FAIL", "config file missing: café")
        .output()
        .expect("run fixture-echo");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("init failed: InitError: config file missing: café"),
        "{stderr}"
    );
    assert!(api.requests().is_empty(), "{:?}", api.requests());
}

#[test]
fn missing_environment_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_fixture-echo"))
        .env_clear()
        .output()
        .expect("run fixture-echo");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SCF_RUNTIME_API is not set"), "{stderr}");
}
