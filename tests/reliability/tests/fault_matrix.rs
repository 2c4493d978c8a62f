//! The transport fault matrix: every fault of [`Fault::matrix`] on each of ready / next /
//! response / error, through each binding (Rust in-process, C and Python as subprocesses),
//! against the platform model of [`FaultServer`]. Each case must end with every event answered
//! exactly once (or reported, for an invalid event), the loop ending cleanly on `410 drained`,
//! no panic and no hang; the totals go to the summary file.

use std::path::Path;
use std::thread;
use std::time::Duration;

use scf_core::{Config, Error, RetryPolicy, Runtime};
use scf_reliability::bootstraps::{self, Bootstrap};
use scf_reliability::summary::{self, Section};
use scf_test_support::faults::{
    Endpoint, Event, Fault, FaultServer, Mode, Report, Scheduled, rust_handler,
};

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

/// How a case runs its binding, beyond the defaults.
#[derive(Default, Clone)]
struct Opts {
    /// The retry budget, through `Config::retry` (Rust) or `SCFRUNTIME_RETRY_BUDGET_MS`
    /// (subprocesses); the rest of the retry policy keeps its defaults. Without it, in-process
    /// Rust uses [`fast_retry`] and subprocesses the defaults.
    budget: Option<Duration>,
}

/// Run the binding against `server` until the server says drained; Ok(log) or Err(why).
fn run_binding_with(b: &Binding, server: &FaultServer, opts: &Opts) -> Result<String, String> {
    match b {
        Binding::Rust => {
            let mut cfg = Config::for_endpoint("127.0.0.1", server.port());
            let budget = opts.budget;
            if let Some(budget) = budget {
                cfg.retry.give_up_after = budget;
            }
            let (tx, rx) = std::sync::mpsc::channel();
            thread::spawn(move || {
                let mut rt = Runtime::new(cfg).handle_signals(false);
                if budget.is_none() {
                    rt = rt.retry(fast_retry());
                }
                let _ = tx.send(rt.run(rust_handler));
            });
            match rx.recv_timeout(CASE_LIMIT) {
                Ok(Err(Error::Status { status: 410, .. })) => Ok(String::new()),
                Ok(other) => Err(format!("the loop ended with {other:?}, not 410 drained")),
                Err(_) => Err(format!("hang: no end within {CASE_LIMIT:?}")),
            }
        }
        Binding::Sub(boot) => {
            let mut env = server.env();
            if let Some(budget) = opts.budget {
                env.push((
                    scf_core::RETRY_BUDGET_ENV.into(),
                    budget.as_millis().to_string(),
                ));
            }
            let f = bootstraps::run_bounded(boot.command(&env), CASE_LIMIT);
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
        if let Binding::Sub(boot) = b
            && boot.is_python()
            && v.get("errorCode").is_some()
        {
            return check_python_error(ev, &v).map(|()| false);
        }
        let ty = v["errorType"].as_str().unwrap_or_default();
        if ty == "InvalidEvent" {
            if v["requestId"].as_str() != Some(ev.id.as_str()) {
                return Err(format!(
                    "InvalidEvent without the event's request id: {text}"
                ));
            }
            return Ok(true);
        }
        let want = match ev.mode {
            Mode::Fail => "Fail",
            Mode::Panic => "Panic",
            Mode::Ok => return Err(format!("event {} (ok) got an error: {text}", ev.id)),
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
        Binding::Sub(boot) if boot.is_python() => {
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

/// A Python handler's failure, in the built-in runtime's shape (docs/python.md, "Handler error:
/// the result").
fn check_python_error(ev: &Event, v: &serde_json::Value) -> Result<(), String> {
    if ev.mode != Mode::Fail {
        return Err(format!("event {} ({:?}) got an error: {v}", ev.id, ev.mode));
    }
    let i = ev.id.split('-').nth(1).and_then(|n| n.parse::<u32>().ok());
    let last = format!(
        "ValueError: the event asked to fail: {}",
        i.map(|i| i.to_string()).unwrap_or_default()
    );
    let trace = v["stackTrace"].as_str().unwrap_or_default();
    let shape = v["errorCode"] == -1
        && v["errorMessage"] == "user code exception caught"
        && v["statusCode"] == 430
        // The id the server handed out with the event (the reused-request-id fault hands out
        // the one before it).
        && v["requestId"].as_str().is_some_and(|id| id.starts_with("rel-"))
        && trace.starts_with("Traceback (most recent call last):\n")
        && trace.ends_with(&last);
    if !shape {
        return Err(format!(
            "event {}: not the built-in runtime's error: {v}",
            ev.id
        ));
    }
    Ok(())
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
            let text = String::from_utf8_lossy(&res[0].body);
            let oversized = matches!(
                fault,
                Some(Fault::OversizedChunked | Fault::OversizedToClose)
            );
            if oversized && !text.contains(&scf_core::MAX_EVENT_BYTES.to_string()) {
                return Err(format!("the InvalidEvent report names no size: {text}"));
            }
        }
    }
    // An answer without a request id is no event (retried, never reported); an event the
    // runtime cannot take is reported once, with its id.
    let want_invalid = usize::from(matches!(
        fault,
        Some(Fault::NonNumericLimits | Fault::OversizedChunked | Fault::OversizedToClose)
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
    run_case_with(b, s.into_iter().collect(), sec, &Opts::default()).map(|_| ())
}

/// [`run_case`] with several faults and options; Ok(the server's report) when the case passed.
fn run_case_with(
    b: &Binding,
    faults: Vec<Scheduled>,
    sec: &mut Section,
    opts: &Opts,
) -> Result<Report, String> {
    let s = faults.first().copied();
    let server = FaultServer::start(events(matches!(b, Binding::Rust)), faults);
    let out = run_binding_with(b, &server, opts);
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
    Ok(r)
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
fn matrix_python_embedded_subprocess() {
    let boot = bootstraps::embedded_python();
    matrix(
        Binding::Sub(Bootstrap::EmbeddedPython(boot)),
        Duration::from_millis(2500),
    );
}

#[test]
fn matrix_python_subprocess() {
    match bootstraps::python() {
        Ok(py) => matrix(
            Binding::Sub(Bootstrap::Python(py)),
            Duration::from_millis(2500),
        ),
        Err(reason) => {
            scf_test_support::tools::skip("matrix_python_subprocess", &reason);
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

/// Every binding: `rust` (in-process, or the `rel-rust` subprocess), then the C,
/// embedded-Python and wheel-Python bootstraps as subprocesses; the wheel route only where the
/// venv has the extension (else a SKIPPED line).
fn all_bindings(rust: Binding, sec: &mut Section) -> Vec<Binding> {
    let mut out = vec![
        rust,
        Binding::Sub(Bootstrap::C(bootstraps::c_bootstrap(tmpdir()))),
        Binding::Sub(Bootstrap::EmbeddedPython(bootstraps::embedded_python())),
    ];
    match bootstraps::python() {
        Ok(py) => out.push(Binding::Sub(Bootstrap::Python(py))),
        Err(reason) => {
            scf_test_support::tools::skip("the wheel-Python binding of the matrix", &reason);
            sec.lines.push(format!("SKIPPED python (wheel): {reason}"))
        }
    }
    out
}

/// Run `case` for each binding (Rust in-process), recording it in the section `name`; fails
/// the test if any failed.
fn for_each_binding(name: &str, case: impl Fn(&Binding, &mut Section) -> Result<String, String>) {
    for_each_binding_with(Binding::Rust, name, case);
}

/// [`for_each_binding`] with the Rust binding given.
fn for_each_binding_with(
    rust: Binding,
    name: &str,
    case: impl Fn(&Binding, &mut Section) -> Result<String, String>,
) {
    let mut sec = Section::default();
    let mut failures = Vec::new();
    for b in all_bindings(rust, &mut sec) {
        sec.run += 1;
        match case(&b, &mut sec) {
            Ok(line) => {
                sec.passed += 1;
                sec.lines.push(format!("ok   {}: {line}", b.name()));
            }
            Err(e) => {
                sec.lines.push(format!("FAIL {}", b.name()));
                failures.push(format!("{}: {e}", b.name()));
            }
        }
    }
    summary::write(tmpdir(), name, &sec);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert_eq!((sec.lost, sec.duplicated), (0, 0));
}

/// An idle long poll cut after longer than the retry budget (twice in a row) is retried at
/// once on a new connection and the next event is served: the budget counts only consecutive
/// failures, not the wait.
#[test]
fn idle_long_poll_cut_after_the_budget_is_retried() {
    let budget = Duration::from_millis(500);
    let hold = Duration::from_millis(1500);
    for_each_binding("transport-idle-poll-reset", |b, sec| {
        let faults = [2, 3]
            .map(|nth| Scheduled {
                endpoint: Endpoint::Next,
                nth,
                fault: Fault::HoldThenReset(hold),
            })
            .to_vec();
        let opts = Opts {
            budget: Some(budget),
        };
        let r = run_case_with(b, faults, sec, &opts)?;
        Ok(format!(
            "next held {hold:?} then reset, twice, under a {budget:?} budget: all {} events answered ({} next requests)",
            r.events.len(),
            r.calls(Endpoint::Next)
        ))
    });
}

/// `next` answered with no event (204, or 200 without `request_id`) for 2 s backs off like a
/// 5xx: fewer than 50 requests, no post without a request id, every event answered once.
#[test]
fn next_without_an_event_backs_off() {
    let window = Duration::from_secs(2);
    for fault in [Fault::NoContentFor(window), Fault::NoRequestIdFor(window)] {
        for_each_binding(&format!("transport-{}-2s", fault.name()), |b, sec| {
            // The default retry policy (10 ms doubling to 1 s) for every binding.
            let opts = Opts {
                budget: Some(Duration::from_secs(60)),
            };
            let s = Scheduled {
                endpoint: Endpoint::Next,
                nth: 2,
                fault,
            };
            let r = run_case_with(b, vec![s], sec, &opts)?;
            let met = r.met(fault);
            if !(2..50).contains(&met) {
                return Err(format!(
                    "{met} next requests met {} in {window:?}, want 2..50",
                    fault.name()
                ));
            }
            Ok(format!(
                "{met} next requests answered {} over {window:?}; no post without a request id",
                fault.name()
            ))
        });
    }
}

/// A runtime API whose every answer to `next` has 65 headers, or a head over 64 KB: a protocol
/// error after `PROTOCOL_ATTEMPTS` answers, with a message naming the limit, not a minute of
/// retries.
#[test]
fn answers_over_the_header_limits_end_the_loop_with_a_clear_error() {
    for (fault, limit) in [
        (Fault::TooManyHeadersAlways, "more than 64 headers"),
        (Fault::HugeHeaderAlways, "head is over 65536 bytes"),
    ] {
        over_the_header_limit(fault, limit);
    }
}

fn over_the_header_limit(fault: Fault, limit: &str) {
    for_each_binding(&format!("transport-{}", fault.name()), |b, _sec| {
        let server = FaultServer::start(
            events(false),
            vec![Scheduled {
                endpoint: Endpoint::Next,
                nth: 2,
                fault,
            }],
        );
        let message = match b {
            Binding::Rust => {
                let cfg = Config::for_endpoint("127.0.0.1", server.port());
                match Runtime::new(cfg).handle_signals(false).run(rust_handler) {
                    Err(e @ Error::Protocol { .. }) => e.to_string(),
                    other => return Err(format!("the loop ended with {other:?}, not Protocol")),
                }
            }
            Binding::Sub(boot) => {
                let f = bootstraps::run_bounded(boot.command(&server.env()), CASE_LIMIT);
                match f.status.and_then(|s| s.code()) {
                    Some(code) if code != 0 => f.stderr,
                    other => {
                        return Err(format!(
                            "exit {other:?}, want a failure\nstderr:\n{}",
                            f.stderr
                        ));
                    }
                }
            }
        };
        let r = server.report();
        if !message.contains(limit) {
            return Err(format!("the error does not name the limit:\n{message}"));
        }
        let met = r.met(fault);
        if met != scf_core::PROTOCOL_ATTEMPTS as usize {
            return Err(format!(
                "{met} requests met the fault, want {}",
                scf_core::PROTOCOL_ATTEMPTS
            ));
        }
        if r.results[0].len() != 1 || r.duplicated() != 0 {
            return Err(format!("results {:?} stray {:?}", r.results, r.stray));
        }
        Ok(format!(
            "gave up after {met} answers over the limit, naming it ({limit}); the events after them were never served"
        ))
    });
}

/// SIGTERM that lands while an event's body is arriving: the event is answered, then the
/// process exits 0. The signal is sent once the bootstrap has read the head and half the body
/// (its socket's receive queue is empty) and the rest is sent only once the signal was taken.
#[test]
fn sigterm_while_an_event_arrives_answers_it_first() {
    // Signals need a process of its own: the Rust binding runs as the `rel-rust` bootstrap.
    let rust = Binding::Sub(Bootstrap::Rust(env!("CARGO_BIN_EXE_rel-rust").into()));
    for_each_binding_with(rust, "transport-sigterm-mid-event", |b, sec| match b {
        Binding::Sub(boot) => sigterm_case(boot, sec),
        Binding::Rust => Err("an in-process loop cannot be signalled".into()),
    });
}

fn sigterm_case(boot: &Bootstrap, sec: &mut Section) -> Result<String, String> {
    use scf_reliability::proc_stats::{signal_pending, tcp_rx_queue};
    use std::io::Read;
    use std::process::Stdio;
    use std::time::Instant;

    let evs: Vec<Event> = (0..3).map(|i| Event::new(i, Mode::Ok)).collect();
    let server = FaultServer::start(
        evs,
        vec![Scheduled {
            endpoint: Endpoint::Next,
            nth: 2,
            fault: Fault::HoldBody,
        }],
    );
    let mut child = boot
        .command(&server.env())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let pid = child.id();
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let kill = |sig| {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(pid as i32, sig) };
    };
    let outcome = (|| {
        if !server.wait_held(Duration::from_secs(30)) {
            return Err("the second event was never held".to_string());
        }
        let port = server.held_peer_port().ok_or("no peer port")?;
        // The bootstrap has read all that was sent: the head and half the body.
        let deadline = Instant::now() + Duration::from_secs(10);
        while tcp_rx_queue(port) != Some(0) {
            if Instant::now() > deadline {
                return Err(format!(
                    "the bootstrap did not read the head (rx queue {:?})",
                    tcp_rx_queue(port)
                ));
            }
            thread::yield_now();
        }
        kill(libc::SIGTERM);
        // The signal was taken (its handler ran) before the rest of the body goes out.
        let deadline = Instant::now() + Duration::from_secs(10);
        while signal_pending(pid, libc::SIGTERM) == Some(true) {
            if Instant::now() > deadline {
                return Err("SIGTERM stayed pending".to_string());
            }
            thread::yield_now();
        }
        server.release();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => thread::yield_now(),
                _ => return Err("the bootstrap did not exit after SIGTERM".to_string()),
            }
        }
    })();
    if outcome.is_err() {
        kill(libc::SIGKILL);
        let _ = child.wait();
    }
    let stderr = err_reader.join().unwrap_or_default();
    let r = server.report();
    drop(server);
    // Lost: an event that reached the bootstrap complete or in part and got no result.
    let lost = r
        .events
        .iter()
        .zip(&r.results)
        .enumerate()
        .filter(|(i, (_, res))| res.is_empty() && (*i < 2))
        .count();
    sec.lost += lost;
    sec.duplicated += r.duplicated();
    let status = outcome.map_err(|e| format!("{e}\nstderr:\n{stderr}"))?;
    if status.code() != Some(0) {
        return Err(format!("exit {status}, want 0\nstderr:\n{stderr}"));
    }
    if lost > 0 || r.duplicated() > 0 {
        return Err(format!(
            "lost {lost} duplicated {}: results {:?}\nstderr:\n{stderr}\nlog: {:#?}",
            r.duplicated(),
            r.results,
            r.log
        ));
    }
    let answered = &r.results[1][0];
    let same = if boot.is_python() {
        serde_json::from_slice::<serde_json::Value>(&answered.body).ok()
            == serde_json::from_slice::<serde_json::Value>(&r.events[1].body).ok()
    } else {
        answered.body == r.events[1].body
    };
    if answered.endpoint != Endpoint::Response || !same {
        return Err(format!(
            "the held event got {:?} {}",
            answered.endpoint,
            String::from_utf8_lossy(&answered.body)
        ));
    }
    if !r.results[2].is_empty() || r.deliveries[2] != 0 {
        return Err("the loop went on to the next event after SIGTERM".into());
    }
    Ok("SIGTERM after the head and half the body: the event was answered, then exit 0".into())
}
