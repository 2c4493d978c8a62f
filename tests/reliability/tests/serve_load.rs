//! `scfrt serve` under load and abuse, as a subprocess: 16 concurrent TC3-signed clients invoke
//! a C function for 10 s (`SCF_SOAK=1`: 60 s; `SCF_SOAK_SECS=N`: N s) while a slowloris client dribbles a request. No
//! error, no instance serving two events at once (the handler reports its pid and its monotonic
//! start/end), bounded server RSS, the slow client cut off by the read timeout without blocking
//! the others; the server listens on 127.0.0.1 unless asked otherwise.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use scf_reliability::api_client::call;
use scf_reliability::bootstraps;
use scf_reliability::proc_stats;
use scf_reliability::summary::{self, Section};

use scf_reliability::serve_proc::{ServeProcess, code_zip_base64, own_network_namespace};

fn tmpdir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn start_server(state: &Path, extra: &[&str]) -> ServeProcess {
    ServeProcess::start(Path::new(env!("CARGO_BIN_EXE_rel-scfrt")), state, extra)
}

fn c_zip() -> String {
    let boot = std::fs::read(bootstraps::c_bootstrap(tmpdir())).expect("read bootstrap");
    code_zip_base64(&boot)
}

/// Whether a socket on `port` listens on 127.0.0.1 (per /proc/net/tcp).
fn listens_on_loopback(port: u16) -> Option<bool> {
    // This thread's namespace (see listens_on_all_interfaces_only_when_asked).
    let tcp = std::fs::read_to_string("/proc/thread-self/net/tcp").ok()?;
    for line in tcp.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(st)) = (f.get(1), f.get(3)) else {
            continue;
        };
        let (ip, p) = local.split_once(':')?;
        if *st == "0A" && u16::from_str_radix(p, 16).ok()? == port {
            return Some(ip == "0100007F");
        }
    }
    None
}

#[test]
fn sixteen_clients_with_a_slowloris_no_overlap_bounded_memory() {
    let soak = std::env::var("SCF_SOAK").is_ok_and(|v| v == "1");
    let secs = std::env::var("SCF_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&s| s > 0);
    let duration = Duration::from_secs(secs.unwrap_or(if soak { 60 } else { 10 }));
    let state = tempfile::tempdir().expect("state dir");
    let server = start_server(
        state.path(),
        &["--read-timeout", "2", "--max-instances", "4"],
    );
    assert!(
        server.addr.starts_with("127.0.0.1:"),
        "default bind is 127.0.0.1: {}",
        server.addr
    );
    assert_eq!(listens_on_loopback(server.port), Some(true));
    let port = server.port;
    let created = call(
        port,
        "CreateFunction",
        &serde_json::json!({
            "FunctionName": "load", "Runtime": "CustomRuntime", "Handler": "index.handler",
            "Timeout": 30, "Code": {"ZipFile": c_zip()}
        })
        .to_string(),
    );
    assert!(
        created["Response"]["Error"].is_null(),
        "CreateFunction: {created}"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    // Slowloris: one header byte every 200 ms; the server must cut it off after the read
    // timeout (2 s) while the other clients go on.
    let slow_stop = stop.clone();
    let slow = thread::spawn(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let started = Instant::now();
        let head = b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ".repeat(1000);
        for b in head {
            if slow_stop.load(Ordering::SeqCst) || s.write_all(&[b]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(200));
            // The server closing the connection shows as a read of 0 bytes or an error.
            s.set_nonblocking(true).expect("nonblocking");
            let mut buf = [0u8; 512];
            let closed = match s.read(&mut buf) {
                Ok(_) => true,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            };
            s.set_nonblocking(false).expect("blocking");
            if closed {
                return Some(started.elapsed());
            }
        }
        None
    });

    let started = Instant::now();
    let clients: Vec<_> = (0..16)
        .map(|c| {
            let stop = stop.clone();
            let done = done.clone();
            thread::spawn(move || {
                let mut spans = Vec::new();
                let mut errors = Vec::new();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let ctx = format!("{{\"c\":{c},\"i\":{i},\"mode\":\"sleep\"}}");
                    let body = serde_json::json!({"FunctionName": "load", "ClientContext": ctx})
                        .to_string();
                    let r = call(port, "Invoke", &body);
                    let res = &r["Response"]["Result"];
                    match res["RetMsg"]
                        .as_str()
                        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
                    {
                        Some(v) if res["InvokeResult"] == 0 => {
                            spans.push((
                                v["pid"].as_i64().unwrap_or(-1),
                                v["start_ns"].as_i64().unwrap_or(0),
                                v["end_ns"].as_i64().unwrap_or(0),
                            ));
                            done.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => errors.push(r.to_string()),
                    }
                    i += 1;
                }
                (spans, errors)
            })
        })
        .collect();
    let mut rss = Vec::new();
    while started.elapsed() < duration {
        // Sampling the server's memory once a second (not synchronisation).
        thread::sleep(Duration::from_secs(1));
        if let Some(r) = proc_stats::rss_kib(server.child.id()) {
            rss.push(r);
        }
    }
    let during_slowloris = done.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let mut spans = Vec::new();
    let mut errors = Vec::new();
    for c in clients {
        let (s, e) = c.join().expect("client");
        spans.extend(s);
        errors.extend(e);
    }
    let slow_cut = slow.join().expect("slow client");
    let took = started.elapsed();

    spans.sort();
    let mut overlaps = 0;
    for w in spans.windows(2) {
        if w[0].0 == w[1].0 && w[1].1 < w[0].2 {
            overlaps += 1;
        }
    }
    let mut pids: Vec<i64> = spans.iter().map(|s| s.0).collect();
    pids.dedup();
    let peak = rss.iter().copied().max().unwrap_or(0);
    let fds = proc_stats::fd_count(server.child.id()).unwrap_or(0);
    let mut sec = Section {
        run: 1,
        ..Section::default()
    };
    sec.lines.push(format!(
        "16 clients for {duration:?} ({}): {} invocations in {took:.1?}, {} errors, {} instances, {overlaps} overlapping invocations on one instance",
        match (secs, soak) {
            (Some(_), _) => "SCF_SOAK_SECS",
            (None, true) => "SCF_SOAK=1",
            (None, false) => "default; SCF_SOAK=1 runs 60 s, SCF_SOAK_SECS=N runs N s",
        },
        spans.len(),
        errors.len(),
        pids.len()
    ));
    sec.lines.push(format!(
        "server RSS KiB per second: first {:?}, peak {peak}, last {:?}; fds at end {fds}",
        rss.first(),
        rss.last()
    ));
    sec.lines.push(format!(
        "server RSS KiB every 10 s: {:?}",
        rss.iter().step_by(10).collect::<Vec<_>>()
    ));
    sec.lines.push(format!(
        "slowloris cut off after {slow_cut:?} (read timeout 2 s) while {during_slowloris} invocations completed"
    ));
    let ok = errors.is_empty()
        && overlaps == 0
        && !spans.is_empty()
        && peak < 256 * 1024
        && slow_cut.is_some_and(|d| d < Duration::from_secs(10));
    sec.passed = usize::from(ok);
    summary::write(tmpdir(), "serve-load", &sec);
    assert!(
        ok,
        "{:#?}\nerrors: {:?}",
        sec.lines,
        errors.iter().take(3).collect::<Vec<_>>()
    );
    // Nothing was written outside the state directory: the package went into it.
    assert!(state.path().read_dir().expect("state").next().is_some());
}

/// `--host 0.0.0.0` is honoured only when given.
#[test]
fn listens_on_all_interfaces_only_when_asked() {
    // `--host 0.0.0.0` is reachable from nowhere else in a namespace of the test's own.
    own_network_namespace();
    let state = tempfile::tempdir().expect("state dir");
    let server = start_server(state.path(), &["--host", "0.0.0.0"]);
    assert!(server.addr.starts_with("0.0.0.0:"), "{}", server.addr);
    assert_eq!(listens_on_loopback(server.port), Some(false));
    summary::write(
        tmpdir(),
        "serve-bind",
        &Section {
            run: 2,
            passed: 2,
            lines: vec![
                "ok   default bind 127.0.0.1 (checked in /proc/net/tcp by the load test)".into(),
                "ok   --host 0.0.0.0 listens on all interfaces only when given".into(),
            ],
            ..Section::default()
        },
    );
}
