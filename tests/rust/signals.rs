//! SIGTERM/SIGINT: during the long poll the bootstrap exits at once with 0; during a handler it
//! answers the invocation first and then stops without asking for another event. In image mode
//! a signal while waiting ends the loop (exit 0); during a handler the answer still goes out.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use scf_runtime_api::image::{Answer, ImagePort};
use scf_runtime_api::{InvokeOptions, Limits, Outcome, RecordedRequest, RuntimeApi};

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

/// The fixture as an image function on a free port, once that port accepts connections.
fn spawn_image_fixture() -> (Child, ImagePort) {
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let child = Command::new(env!("CARGO_BIN_EXE_fixture-echo"))
        .env_clear()
        .env("SCFRUNTIME_MODE", "image")
        .env("SCFRUNTIME_LISTEN", addr.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn fixture-echo");
    let image = ImagePort::new(addr);
    image.wait_listening(LIMIT).expect("the fixture listens");
    (child, image)
}

fn post(image: &ImagePort, event: &[u8]) -> Answer {
    let headers = [
        ("X-Scf-Request-Id", "req-signal"),
        ("X-Scf-Memory", "128"),
        ("X-Scf-Timeout", "20000"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    image.invoke(event, &headers, LIMIT, 1024 * 1024).answer
}

#[test]
fn image_mode_signal_while_waiting_ends_the_loop_with_0() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let (child, image) = spawn_image_fixture();
        assert_eq!(
            post(&image, b"first"),
            Answer::Status {
                status: 200,
                body: b"first".to_vec()
            }
        );
        // SAFETY: signalling a child we spawned and have not reaped.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let status = wait_bounded(child, LIMIT);
        assert_eq!(status.code(), Some(0), "signal {sig}: {status}");
        assert!(
            TcpStream::connect(image.addr()).is_err(),
            "still listening after the exit"
        );
    }
}

#[test]
fn image_mode_sigterm_during_handler_still_answers() {
    let (child, image) = spawn_image_fixture();
    assert_eq!(
        post(&image, b"sigterm"),
        Answer::Status {
            status: 200,
            body: b"answered before stopping".to_vec()
        }
    );
    let status = wait_bounded(child, LIMIT);
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn image_mode_init_failure_or_bad_listen_address_exits_nonzero() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let out = Command::new(env!("CARGO_BIN_EXE_fixture-echo"))
        .env_clear()
        .env("SCFRUNTIME_MODE", "image")
        .env("SCFRUNTIME_LISTEN", addr.to_string())
        .env("FIXTURE_INIT_FAIL", "no database")
        .output()
        .expect("run fixture-echo");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("init failed: InitError: no database"),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_fixture-echo"))
        .env_clear()
        .env("SCFRUNTIME_MODE", "image")
        .env("SCFRUNTIME_LISTEN", "localhost:9000")
        .output()
        .expect("run fixture-echo");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SCFRUNTIME_LISTEN=\"localhost:9000\" is invalid"),
        "{stderr}"
    );
}
