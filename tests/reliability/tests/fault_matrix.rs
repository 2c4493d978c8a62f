//! The transport fault matrix: every fault of [`Fault::matrix`] on each of ready / next /
//! response / error, through each binding (Rust in-process, C and Python as subprocesses),
//! against the platform model of [`FaultServer`]. Each case must end with every event answered
//! exactly once (or reported, for an invalid event), the loop ending cleanly on `410 drained`,
//! no panic and no hang; the totals go to the summary file.

use std::path::Path;
use std::thread;
use std::time::Duration;

use scf_core::{Config, Error, ErrorReport, Invocation, RetryPolicy, Runtime};
use scf_reliability::bootstraps::{self, Bootstrap};
use scf_reliability::faults::{Endpoint, Event, Fault, FaultServer, Mode, Report, Scheduled};
use scf_reliability::summary::{self, Section};

/// The most one case may take before it counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(90);
/// The delay of the `delay` fault in the matrix (the behaviour is the same as for 30 s).
const SHORT_DELAY: Duration = Duration::from_millis(300);

fn tmpdir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn events(with_panic: bool) -> Vec<Event> {
    let mut modes = vec![Mode::Ok, Mode::Fail, Mode::Ok, Mode::Fail, Mode::Ok];
    if with_panic {
        modes.push(Mode::Panic);
    }
    modes
        .into_iter()
        .enumerate()
        .map(|(i, m)| Event::new(i, m))
        .collect()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(50),
        give_up_after: Duration::from_secs(30),
    }
}

fn rust_handler(inv: &Invocation) -> Result<Vec<u8>, ErrorReport> {
    let body = String::from_utf8_lossy(&inv.body);
    if body.contains("\"mode\":\"fail\"") {
        return Err(ErrorReport::new("Fail", "the event asked to fail"));
    }
    if body.contains("\"mode\":\"panic\"") {
        panic!("the event asked to panic");
    }
    Ok(inv.body.clone())
}

/// Which binding runs the case.
#[derive(Clone)]
enum Binding {
    Rust,
    Sub(Bootstrap),
}

impl Binding {
    fn name(&self) -> &'static str {
        match self {
            Binding::Rust => "rust",
            Binding::Sub(b) => b.name(),
        }
    }
}

/// Run the binding against `server` until the server says drained; Ok(log) or Err(why).
fn run_binding(b: &Binding, server: &FaultServer) -> Result<String, String> {
    match b {
        Binding::Rust => {
            let cfg = Config::for_endpoint("127.0.0.1", server.port());
            let (tx, rx) = std::sync::mpsc::channel();
            thread::spawn(move || {
                let r = Runtime::new(cfg)
                    .handle_signals(false)
                    .retry(fast_retry())
                    .run(rust_handler);
                let _ = tx.send(r);
            });
            match rx.recv_timeout(CASE_LIMIT) {
                Ok(Err(Error::Status { status: 410, .. })) => Ok(String::new()),
                Ok(other) => Err(format!("the loop ended with {other:?}, not 410 drained")),
                Err(_) => Err(format!("hang: no end within {CASE_LIMIT:?}")),
            }
        }
        Binding::Sub(boot) => {
            let f = bootstraps::run_bounded(boot.command(&server.env()), CASE_LIMIT);
            let log = format!("stderr:\n{}\nstdout:\n{}", f.stderr, f.stdout);
            let Some(status) = f.status else {
                return Err(format!("hang: killed after {CASE_LIMIT:?}\n{log}"));
            };
            if status.code().is_none() {
                return Err(format!("the process died by a signal: {status}\n{log}"));
            }
            if f.stderr.contains("panicked") {
                return Err(format!("a panic was printed\n{log}"));
            }
            if !f.stderr.contains("410") {
                return Err(format!(
                    "the process ended ({status}) without reporting the 410 that ends the run\n{log}"
                ));
            }
            Ok(f.stderr)
        }
    }
}

/// Whether `p` is a correct result for `ev` through `b` (or an InvalidEvent report).
fn check_result(b: &Binding, ev: &Event, body: &[u8], ep: Endpoint) -> Result<bool, String> {
    let text = String::from_utf8_lossy(body);
    if ep == Endpoint::Error {
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("error body is not JSON ({e}): {text}"))?;
        let ty = v["errorType"].as_str().unwrap_or_default();
        if ty == "InvalidEvent" {
            return Ok(true);
        }
        let want = match (ev.mode, b) {
            (Mode::Fail, Binding::Sub(Bootstrap::Python(_))) => "ValueError",
            (Mode::Fail, _) => "Fail",
            (Mode::Panic, _) => "Panic",
            (Mode::Ok, _) => return Err(format!("event {} (ok) got an error: {text}", ev.id)),
        };
        if !ty.contains(want) {
            return Err(format!("event {}: errorType {ty:?}, want {want}", ev.id));
        }
        return Ok(false);
    }
    if ev.mode != Mode::Ok {
        return Err(format!(
            "event {} ({:?}) got a response: {text}",
            ev.id, ev.mode
        ));
    }
    let same = match b {
        Binding::Sub(Bootstrap::Python(_)) => {
            serde_json::from_slice::<serde_json::Value>(body).ok()
                == serde_json::from_slice::<serde_json::Value>(&ev.body).ok()
        }
        _ => body == ev.body.as_slice(),
    };
    if !same {
        return Err(format!(
            "event {}: response {text:?}, want the echo {:?}",
            ev.id,
            String::from_utf8_lossy(&ev.body)
        ));
    }
    Ok(false)
}

fn check_report(b: &Binding, fault: Option<Fault>, r: &Report) -> Result<(), String> {
    if !r.unfired.is_empty() {
        return Err(format!("scheduled faults never fired: {:?}", r.unfired));
    }
    if !r.drained {
        return Err("the run did not reach the end of the events".into());
    }
    if r.lost() > 0 || r.duplicated() > 0 {
        return Err(format!(
            "lost {} duplicated {}: results {:?} stray {:?}",
            r.lost(),
            r.duplicated(),
            r.results,
            r.stray
        ));
    }
    let mut invalid = 0;
    for (ev, res) in r.events.iter().zip(&r.results) {
        if check_result(b, ev, &res[0].body, res[0].endpoint)? {
            invalid += 1;
        }
    }
    let want_invalid = usize::from(matches!(
        fault,
        Some(Fault::MissingRequestId | Fault::NonNumericLimits)
    ));
    if invalid != want_invalid {
        return Err(format!(
            "{invalid} InvalidEvent reports, want {want_invalid}"
        ));
    }
    if r.readies == 0 {
        return Err("ready never arrived".into());
    }
    Ok(())
}

/// Run one case; Ok(()) or Err(description). Adds lost/duplicated counts to `sec`.
fn run_case(b: &Binding, s: Option<Scheduled>, sec: &mut Section) -> Result<(), String> {
    let server = FaultServer::start(events(matches!(b, Binding::Rust)), s.into_iter().collect());
    let out = run_binding(b, &server);
    let r = server.report();
    drop(server);
    sec.lost += r.lost();
    sec.duplicated += r.duplicated();
    let log = out?;
    check_report(b, s.map(|s| s.fault), &r)
        .map_err(|e| format!("{e}\nserver log: {:#?}", r.log))?;
    if let (Some(Fault::Refused(_)), Binding::Sub(_)) = (s.map(|s| s.fault), b) {
        // Evidence that the refusal was seen (the port really was closed when it was due).
        let lower = log.to_lowercase();
        if !lower.contains("connect") && !lower.contains("refused") {
            return Err(format!("no connect failure was logged:\n{log}"));
        }
    }
    Ok(())
}

fn matrix(b: Binding, refused_ready: Duration) {
    let mut sec = Section::default();
    let mut failures = Vec::new();
    let mut cases: Vec<Option<Scheduled>> = vec![None];
    for ep in Endpoint::ALL {
        for fault in Fault::matrix(ep, Duration::from_millis(200), SHORT_DELAY) {
            let (nth, fault) = match (ep, fault) {
                (Endpoint::Ready, Fault::Refused(_)) => (1, Fault::Refused(refused_ready)),
                (Endpoint::Ready, f) => (1, f),
                (_, f) => (2, f),
            };
            cases.push(Some(Scheduled {
                endpoint: ep,
                nth,
                fault,
            }));
        }
    }
    for s in cases {
        let name = match s {
            None => "no-fault".to_string(),
            Some(s) => format!("{}/{}", s.endpoint.name(), s.fault.name()),
        };
        sec.run += 1;
        let started = std::time::Instant::now();
        match run_case(&b, s, &mut sec) {
            Ok(()) => {
                sec.passed += 1;
                sec.lines.push(format!(
                    "ok   {name} ({} ms)",
                    started.elapsed().as_millis()
                ));
            }
            Err(e) => {
                sec.lines.push(format!("FAIL {name}"));
                failures.push(format!("{}: {name}: {e}", b.name()));
            }
        }
    }
    summary::write(tmpdir(), &format!("fault-matrix-{}", b.name()), &sec);
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        sec.run,
        failures.join("\n\n")
    );
    assert_eq!((sec.lost, sec.duplicated), (0, 0));
}

#[test]
fn matrix_rust_in_process() {
    matrix(Binding::Rust, Duration::from_millis(200));
}

#[test]
fn matrix_c_subprocess() {
    let c = bootstraps::c_bootstrap(tmpdir());
    matrix(Binding::Sub(Bootstrap::C(c)), Duration::from_millis(1000));
}

#[test]
fn matrix_python_subprocess() {
    match bootstraps::python() {
        Ok(py) => matrix(
            Binding::Sub(Bootstrap::Python(py)),
            Duration::from_millis(2500),
        ),
        Err(reason) => {
            eprintln!("SKIPPED fault-matrix-python: {reason}");
            summary::write(
                tmpdir(),
                "fault-matrix-python",
                &Section {
                    lines: vec![format!("SKIPPED: {reason}")],
                    ..Section::default()
                },
            );
        }
    }
}

/// `next` has no client timeout: an answer that comes after a long delay (30 s by default,
/// `SCF_REL_LONG_DELAY_SECS` changes it) is still received and handled, through Rust and C.
#[test]
fn next_has_no_client_timeout() {
    let secs: u64 = std::env::var("SCF_REL_LONG_DELAY_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let delay = Duration::from_secs(secs);
    let c = bootstraps::c_bootstrap(tmpdir());
    let bindings = [Binding::Rust, Binding::Sub(Bootstrap::C(c))];
    let handles: Vec<_> = bindings
        .into_iter()
        .map(|b| {
            thread::spawn(move || {
                let mut sec = Section::default();
                let s = Scheduled {
                    endpoint: Endpoint::Next,
                    nth: 1,
                    fault: Fault::Delay(delay),
                };
                let started = std::time::Instant::now();
                let r = run_case(&b, Some(s), &mut sec);
                (b.name(), r, started.elapsed(), sec)
            })
        })
        .collect();
    let mut sec = Section::default();
    let mut failures = Vec::new();
    for h in handles {
        let (name, r, took, s) = h.join().expect("case thread");
        sec.run += 1;
        sec.lost += s.lost;
        sec.duplicated += s.duplicated;
        match r {
            Ok(()) if took >= delay => {
                sec.passed += 1;
                sec.lines.push(format!(
                    "ok   {name}: next answered after {secs} s was handled (run took {took:?})"
                ));
            }
            Ok(()) => failures.push(format!("{name}: finished in {took:?}, before the delay")),
            Err(e) => {
                sec.lines.push(format!("FAIL {name}"));
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    summary::write(tmpdir(), "next-long-poll-no-timeout", &sec);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
