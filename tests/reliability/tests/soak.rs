//! Soak: many invocations through the C and the Python bootstraps against scfrt's in-process
//! runtime API. The bootstrap's RSS and open descriptors are sampled every 10^4 invocations:
//! after the first sample (warm-up) RSS may grow less than 1%, descriptors not at all, and
//! every result must be the right one.
//!
//! 2x10^4 invocations per binding by default; `SCF_SOAK=1` runs 10^5 (or `SCF_SOAK_N=<n>`).
//! The count that ran is printed and written to the summary.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use scf_reliability::bootstraps::{self, Bootstrap};
use scf_reliability::proc_stats;
use scf_reliability::summary::{self, Section};
use scf_runtime_api::{InvokeOptions, Limits, Outcome, RuntimeApi};

const SAMPLE_EVERY: usize = 10_000;

fn tmpdir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn invocations() -> (usize, &'static str) {
    if let Some(n) = std::env::var("SCF_SOAK_N")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return (n, "SCF_SOAK_N");
    }
    if std::env::var("SCF_SOAK").is_ok_and(|v| v == "1") {
        (100_000, "SCF_SOAK=1")
    } else {
        (20_000, "default; SCF_SOAK=1 runs 10^5")
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn soak(boot: Bootstrap) {
    let (n, why) = invocations();
    let api = RuntimeApi::start(Limits::default()).expect("runtime API");
    let env = vec![
        ("SCF_RUNTIME_API".to_string(), "127.0.0.1".to_string()),
        ("SCF_RUNTIME_API_PORT".to_string(), api.port().to_string()),
        ("SCF_FUNCTIONNAME".to_string(), "soak".to_string()),
        ("_HANDLER".to_string(), "index.handler".to_string()),
    ];
    let mut cmd = boot.command(&env);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let child = Killed(cmd.spawn().expect("spawn bootstrap"));
    let pid = child.0.id();
    api.wait_ready(Duration::from_secs(60))
        .expect("the bootstrap reports ready");
    let python = matches!(boot, Bootstrap::Python(_));
    let started = Instant::now();
    let mut samples: Vec<(usize, u64, usize)> = Vec::new();
    let mut wrong = 0usize;
    for i in 0..n {
        let event = format!("{{\"i\":{i},\"mode\":\"ok\",\"pad\":\"soak-{i}\"}}");
        let opts = InvokeOptions {
            request_id: format!("soak-{i}"),
            memory_limit_mb: 128,
            timeout: Duration::from_secs(30),
        };
        match api.invoke(event.as_bytes(), &opts).expect("invoke") {
            Outcome::Response(body) => {
                let ok = if python {
                    serde_json::from_slice::<serde_json::Value>(&body).ok()
                        == serde_json::from_str::<serde_json::Value>(&event).ok()
                } else {
                    body == event.as_bytes()
                };
                if !ok {
                    wrong += 1;
                }
            }
            other => panic!("invocation {i}: {other:?}"),
        }
        if (i + 1) % SAMPLE_EVERY == 0 {
            let rss = proc_stats::rss_kib(pid).expect("bootstrap alive");
            let fds = proc_stats::fd_count(pid).expect("bootstrap alive");
            samples.push((i + 1, rss, fds));
        }
    }
    let took = started.elapsed();
    drop(child);
    let (_, warm_rss, warm_fds) = samples[0];
    let (_, last_rss, last_fds) = *samples.last().expect("samples");
    let growth = (last_rss as f64 - warm_rss as f64) / warm_rss as f64 * 100.0;
    let fds_stable = samples.iter().all(|s| s.2 == warm_fds);
    let mut sec = Section {
        run: 1,
        ..Section::default()
    };
    sec.lines.push(format!(
        "{} invocations ({why}) in {:.1} s ({:.0}/s), wrong results: {wrong}",
        n,
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    ));
    sec.lines.push(format!(
        "RSS KiB per 10^4: {:?}; growth after warm-up {growth:+.2}% (limit 1%)",
        samples.iter().map(|s| s.1).collect::<Vec<_>>()
    ));
    sec.lines.push(format!(
        "fds per 10^4: {:?} (first {warm_fds}, last {last_fds})",
        samples.iter().map(|s| s.2).collect::<Vec<_>>()
    ));
    let ok = wrong == 0 && growth < 1.0 && fds_stable && samples.len() >= 2;
    if ok {
        sec.passed = 1;
    }
    summary::write(tmpdir(), &format!("soak-{}", boot.name()), &sec);
    assert!(ok, "soak through {} failed: {:#?}", boot.name(), sec.lines);
}

#[test]
fn soak_c() {
    soak(Bootstrap::C(bootstraps::c_bootstrap(tmpdir())));
}

#[test]
fn soak_python() {
    match bootstraps::python() {
        Ok(py) => soak(Bootstrap::Python(py)),
        Err(reason) => {
            scf_test_support::tools::skip("soak_python", &reason);
            summary::write(
                tmpdir(),
                "soak-python",
                &Section {
                    lines: vec![format!("SKIPPED: {reason}")],
                    ..Section::default()
                },
            );
        }
    }
}
