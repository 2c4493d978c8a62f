//! The transport under faults: a scripted server (`scf_test_support::faults`, shared with the
//! reliability suite) breaks `next` in each way the design names, and every event must still be
//! answered exactly once.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use scf_core::{Config, ErrorReport, Invocation, RetryPolicy, Runtime};
use scf_test_support::faults::{
    Endpoint, Event, Fault, FaultServer, Mode, Posted, Report, Scheduled,
};

fn events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| Event {
            id: format!("req-{i}"),
            body: format!("{{\"n\":{i}}}").into_bytes(),
            mode: Mode::Ok,
        })
        .collect()
}

/// Faults on successive `next` calls: entry k (None: no fault) applies to call k + 1.
fn on_next(faults: &[Option<Fault>]) -> Vec<Scheduled> {
    faults
        .iter()
        .enumerate()
        .filter_map(|(k, f)| {
            f.map(|fault| Scheduled {
                endpoint: Endpoint::Next,
                nth: k + 1,
                fault,
            })
        })
        .collect()
}

/// Every result post the server read, with the request id of the event current when it arrived
/// (None: no event was).
fn posts(report: &Report) -> Vec<(Option<&str>, &Posted)> {
    let answered = report.events.iter().zip(&report.results);
    answered
        .flat_map(|(ev, rs)| rs.iter().map(move |p| (Some(ev.id.as_str()), p)))
        .chain(report.stray.iter().map(|p| (None, p)))
        .collect()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
        give_up_after: Duration::from_secs(10),
    }
}

/// Run an echo runtime in this process for `n` invocations against `server`.
fn run_echo(
    server: &FaultServer,
    n: u64,
) -> thread::JoinHandle<scf_core::Result<scf_core::RunStats>> {
    let rt = Runtime::new(Config::for_endpoint("127.0.0.1", server.port()))
        .handle_signals(false)
        .retry(fast_retry())
        .max_invocations(Some(n));
    thread::spawn(move || {
        rt.run(|inv: &Invocation| -> Result<Vec<u8>, ErrorReport> { Ok(inv.body.clone()) })
    })
}

/// Each event's id got exactly one result post, whose body is the echo of that event.
fn assert_each_answered_once(report: &Report, evs: &[Event]) {
    let seen = posts(report);
    for ev in evs {
        let (id, body) = (&ev.id, &ev.body);
        let posts: Vec<&Posted> = seen
            .iter()
            .filter(|(current, _)| *current == Some(id.as_str()))
            .map(|(_, p)| *p)
            .collect();
        assert_eq!(posts.len(), 1, "event {id}: {:#?}", report.log);
        assert_eq!(posts[0].endpoint, Endpoint::Response);
        assert_eq!(&posts[0].body, body, "event {id}");
    }
    let stray = seen.iter().filter(|(current, _)| current.is_none()).count();
    assert_eq!(stray, 0, "posts with no event current: {:#?}", report.log);
}

fn check_fault(faults: Vec<Option<Fault>>) {
    let evs = events(4);
    let server = FaultServer::start(evs.clone(), on_next(&faults));
    let stats = run_echo(&server, evs.len() as u64)
        .join()
        .expect("runtime thread")
        .expect("run");
    assert_eq!(stats.responses, 4, "{faults:?}");
    assert_each_answered_once(&server.report(), &evs);
    let nexts = server.report().calls(Endpoint::Next);
    assert_eq!(
        nexts,
        4 + faults.iter().filter(|f| f.is_some()).count(),
        "{faults:?}"
    );
}

#[test]
fn reset_on_next_is_retried_and_nothing_is_lost() {
    let reset = Some(Fault::ResetBeforeAnswer);
    check_fault(vec![reset, None, reset, reset]);
}

#[test]
fn http_500_on_next_is_retried() {
    check_fault(vec![
        Some(Fault::Status(500)),
        None,
        Some(Fault::Status(503)),
        Some(Fault::Status(502)),
    ]);
}

#[test]
fn truncated_event_body_is_retried() {
    check_fault(vec![
        None,
        Some(Fault::TruncatedBody),
        None,
        Some(Fault::TruncatedBody),
    ]);
}

#[test]
fn a_4xx_on_next_is_not_retried_and_ends_the_loop() {
    let server = FaultServer::start(events(1), on_next(&[Some(Fault::Status(404))]));
    let err = run_echo(&server, 1)
        .join()
        .expect("runtime thread")
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 404"), "{err}");
    assert!(
        err.to_string().contains("/runtime/invocation/next"),
        "{err}"
    );
}

#[test]
fn unreachable_api_gives_up_with_the_endpoint_named() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let rt = Runtime::new(Config::for_endpoint("127.0.0.1", port))
        .handle_signals(false)
        .retry(RetryPolicy {
            initial_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            give_up_after: Duration::from_millis(100),
        });
    let err = rt
        .run(|inv: &Invocation| -> Result<Vec<u8>, ErrorReport> { Ok(inv.body.clone()) })
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/runtime/init/ready") && msg.contains("attempts"),
        "{msg}"
    );
}

/// The runtime API is down when the bootstrap starts and comes back: ready and the events go
/// through once it is up. The bootstrap is a subprocess so the test can wait for its first logged
/// retry before binding the port.
#[test]
fn refused_for_a_moment_then_back() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_fixture-echo"))
        .env_clear()
        .env("SCF_RUNTIME_API", "127.0.0.1")
        .env("SCF_RUNTIME_API_PORT", port.to_string())
        .env("FIXTURE_MAX_INVOCATIONS", "3")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fixture-echo");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("read stderr");
    assert!(
        line.contains("/runtime/init/ready") && line.contains("retrying"),
        "first stderr line: {line}"
    );
    let evs = events(3);
    let server = FaultServer::start_on(
        TcpListener::bind(("127.0.0.1", port)).expect("rebind the port"),
        evs.clone(),
        on_next(&[Some(Fault::ResetBeforeAnswer)]),
    );
    let status = child.wait().expect("wait");
    let rest: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    assert!(status.success(), "exit {status}; stderr: {rest:#?}");
    let report = server.report();
    assert_eq!(report.calls(Endpoint::Ready), 1);
    assert_each_answered_once(&report, &evs);
}

/// An event over the size limit is refused without buffering it: the runtime posts an
/// InvalidEvent error for that request id and serves the next event.
#[test]
fn oversized_event_is_reported_and_the_loop_goes_on() {
    let evs = events(2);
    let server = FaultServer::start(evs.clone(), on_next(&[Some(Fault::OversizedAnnounced)]));
    let stats = run_echo(&server, 2)
        .join()
        .expect("runtime thread")
        .expect("run");
    assert_eq!((stats.responses, stats.errors), (1, 1));
    let report = server.report();
    let seen = posts(&report);
    let error: Vec<&(Option<&str>, &Posted)> = seen
        .iter()
        .filter(|(_, p)| p.endpoint == Endpoint::Error)
        .collect();
    assert_eq!(error.len(), 1, "{:#?}", report.log);
    assert_eq!(error[0].0, Some("req-0"));
    let json: serde_json::Value = serde_json::from_slice(&error[0].1.body).expect("error JSON");
    assert_eq!(json["errorType"], "InvalidEvent");
    assert_eq!(json["requestId"], "req-0");
    assert!(
        json["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("larger than the 16777216-byte limit")),
        "{json}"
    );
    let ok: Vec<&(Option<&str>, &Posted)> = seen
        .iter()
        .filter(|(_, p)| p.endpoint == Endpoint::Response)
        .collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(
        (ok[0].0, ok[0].1.body.as_slice()),
        (Some("req-1"), &evs[1].body[..])
    );
}
