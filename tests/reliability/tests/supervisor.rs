//! Issue 14, points 10 and 11, through `scfrt` as a subprocess (`rel-scfrt`).
//!
//! Point 10: no process of a function outlives its instance. A bash bootstrap starts, for each
//! event, a `setsid` daemon and a double-fork daemon (a subshell forks `setsid sh -c`, which
//! backgrounds `sleep` and exits: the sleep is orphaned, in a session of its own). Each sleep
//! gets an argument no other process has (`3141.<pid><n><ns>`), so /proc tells exactly whether
//! it still runs. They must be gone after `scfrt invoke` returns, after a `scfrt serve` instance
//! dies by its timeout (433) or a crash (439) while another instance's daemons live on, and
//! when serve stops (SIGTERM, and SIGKILL). A detached memory hog counts toward the memory
//! size (434).
//!
//! Point 11: hostile image-mode servers (a Python script speaking raw bytes) through
//! `scfrt invoke --image`: chunk sizes `ffffffffffffffff` and `fffffffffffffffff`, chunk data
//! without its CRLF, 10^6 one-byte chunks, a head of 1 MiB. Each is a clean InvokeResult, no
//! panic, scfrt's normal exit code.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use scf_reliability::api_client::call;
use scf_reliability::bootstraps::{Finished, run_bounded};
use scf_reliability::serve_proc::{ServeProcess, code_zip_base64};
use scf_reliability::summary::Cases;
use serde_json::Value;

fn tmpdir() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

/// How long a daemon may take to appear, or to be gone once it should be.
const PROC_WAIT: Duration = Duration::from_secs(20);

/// A `sleep` argument no other process has: 3141 seconds and a unique fraction.
fn unique_sleep() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "3141.{}{:03}{ns:09}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// The live processes whose argv is exactly `sleep <arg>`.
fn sleeping(arg: &str) -> Vec<i32> {
    let want = format!("sleep\0{arg}\0");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            // A zombie's cmdline is empty: only live processes match.
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want.as_bytes())
        })
        .collect()
}

/// Polls /proc every 10 ms until `cond` holds (`Some(how long it took)`) or `limit` passes.
fn poll_until(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    let rounds = limit.as_millis() / 10 + 1;
    for _ in 0..rounds {
        if cond() {
            return Some(started.elapsed());
        }
        if started.elapsed() >= limit {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    None
}

/// (ppid, pgid, sid) of `pid` from /proc/PID/stat.
fn ids(pid: i32) -> Option<(i32, i32, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = stat[stat.rfind(')')? + 1..].split_whitespace().skip(1);
    let mut next = || f.next()?.parse().ok();
    Some((next()?, next()?, next()?))
}

fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_owned())
        .unwrap_or_default()
}

/// The bootstrap of these tests: for each event `"SETSID_ARG FORK_ARG THEN RELEASE"` it starts
/// `setsid sleep SETSID_ARG` and a double-fork daemon `sleep FORK_ARG`, writes its own pid to
/// `leader`, then: `respond` / `exit` once the file RELEASE exists (answer "started ...", or
/// exit 3); `hang` (sleep until killed); `hog` (a detached ~100 MB memory hog, then hang).
const BOOTSTRAP: &str = r#"#!/bin/bash
set -u
API="http://$SCF_RUNTIME_API:$SCF_RUNTIME_API_PORT/runtime"
curl -sS -o /dev/null -X POST -d " " "$API/init/ready"
echo $$ > leader
for _ in $(seq 1000); do
  set -- $(curl -sS "$API/invocation/next" | tr -d '"')
  setsid sleep "$1" &
  ( setsid sh -c "sleep $2 >/dev/null 2>&1 &" & )
  case "$3" in
    hang) sleep 600 ;;
    hog) setsid sh -c '{ head -c 100000000 /dev/zero; sleep 600; } | tail -n 1 >/dev/null' &
         sleep 600 ;;
  esac
  # The test lets the handler go on once it has seen the daemons (bounded: 60 s).
  for _ in $(seq 6000); do [ -e "$4" ] && break; sleep 0.01; done
  [ "$3" = exit ] && exit 3
  curl -sS -o /dev/null -X POST --data-binary "started $1 $2" "$API/invocation/response"
done
"#;

fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A package directory holding [`BOOTSTRAP`].
fn daemon_package(dir: &Path) -> PathBuf {
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&pkg).expect("package dir");
    write_executable(&pkg.join("bootstrap"), BOOTSTRAP);
    pkg
}

/// The two daemons of one event and the file that releases its handler.
struct Daemons {
    setsid: String,
    forked: String,
    release: PathBuf,
}

impl Daemons {
    fn new(dir: &Path) -> Daemons {
        let setsid = unique_sleep();
        Daemons {
            release: dir.join(format!("release-{setsid}")),
            forked: unique_sleep(),
            setsid,
        }
    }

    /// The event asking for them, then `then`.
    fn event(&self, then: &str) -> String {
        format!(
            "\"{} {} {then} {}\"",
            self.setsid,
            self.forked,
            self.release.display()
        )
    }

    fn running(&self) -> bool {
        !sleeping(&self.setsid).is_empty() && !sleeping(&self.forked).is_empty()
    }

    fn gone(&self) -> bool {
        sleeping(&self.setsid).is_empty() && sleeping(&self.forked).is_empty()
    }

    fn release(&self) {
        std::fs::write(&self.release, "").expect("release file");
    }

    /// Where they run: they left the bootstrap's process group and session, and the orphan is
    /// the child of the instance's supervisor (`scfrt-instance`), not of init.
    fn describe_detachment(&self, leader: Option<i32>) -> (bool, String) {
        let setsid = sleeping(&self.setsid).first().and_then(|p| ids(*p));
        let forked = sleeping(&self.forked).first().and_then(|p| ids(*p));
        let (Some(s), Some(f), Some(leader)) = (setsid, forked, leader) else {
            return (
                false,
                format!("setsid {setsid:?} forked {forked:?} leader {leader:?}"),
            );
        };
        let detached = s.1 != leader && f.1 != leader && s.2 != f.2;
        let adopted = comm(f.0);
        (
            detached && adopted == "scfrt-instance",
            format!(
                "bootstrap group {leader}; setsid daemon in group {} session {}; double-fork \
                 daemon in group {} session {}, its parent {} ({adopted})",
                s.1, s.2, f.1, f.2, f.0
            ),
        )
    }
}

fn read_leader(code_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(code_dir.join("leader"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn rel_scfrt() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rel-scfrt"))
}

/// The Invoke JSON's `Result` of a finished `scfrt invoke`.
fn invoke_result(run: &Finished) -> Value {
    let line = run.stdout.lines().next().unwrap_or_default();
    serde_json::from_str::<Value>(line)
        .map(|v| v["Response"]["Result"].clone())
        .unwrap_or(Value::Null)
}

/// InvokeResult, RetMsg and the error message of a Result, for the summary.
fn brief(result: &Value) -> String {
    format!(
        "InvokeResult {}, RetMsg {}, {}",
        result["InvokeResult"],
        result["RetMsg"],
        error_message(result)
    )
}

fn error_message(result: &Value) -> String {
    result["ErrMsg"]
        .as_str()
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .and_then(|e| e["errorMessage"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[test]
fn invoke_leaves_no_setsid_or_double_fork_daemon_behind() {
    let mut cases = Cases::new(tmpdir(), "supervisor-invoke");
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = daemon_package(dir.path());
    let d = Daemons::new(dir.path());
    let mut cmd = rel_scfrt();
    cmd.arg("invoke")
        .arg(&pkg)
        .args(["--timeout", "60", "--event", &d.event("respond")]);
    let run = thread::spawn(move || run_bounded(cmd, Duration::from_secs(120)));
    let seen = poll_until(PROC_WAIT, || d.running());
    cases.check(
        "both daemons start",
        seen.is_some(),
        format!("seen after {seen:?}"),
    );
    let (detached, how) = d.describe_detachment(read_leader(&pkg));
    cases.check("they left the bootstrap's group", detached, how);
    d.release();
    let run = run.join().expect("run");
    let result = invoke_result(&run);
    cases.check(
        "the invocation succeeds",
        run.status.and_then(|s| s.code()) == Some(0) && result["InvokeResult"] == 0,
        format!(
            "exit {:?}, {}",
            run.status.and_then(|s| s.code()),
            brief(&result)
        ),
    );
    let gone = poll_until(PROC_WAIT, || d.gone());
    cases.check(
        "no daemon outlives scfrt invoke",
        gone.is_some(),
        format!(
            "gone {gone:?} after scfrt exited (setsid {:?}, double fork {:?})",
            sleeping(&d.setsid),
            sleeping(&d.forked)
        ),
    );
    cases.finish();
}

#[test]
fn a_detached_memory_hog_counts_toward_the_memory_size() {
    let mut cases = Cases::new(tmpdir(), "supervisor-memory");
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = daemon_package(dir.path());
    let d = Daemons::new(dir.path());
    let mut cmd = rel_scfrt();
    cmd.arg("invoke").arg(&pkg).args([
        "--memory",
        "64",
        "--timeout",
        "30",
        "--event",
        &d.event("hog"),
    ]);
    let run = run_bounded(cmd, Duration::from_secs(120));
    let result = invoke_result(&run);
    let msg = error_message(&result);
    cases.check(
        "a setsid child holding ~100 MB is 434",
        result["InvokeResult"] == 434
            && msg.starts_with("Memory limit reached: the function's processes used "),
        format!(
            "exit {:?}, MemUsage {}, {msg}",
            run.status.and_then(|s| s.code()),
            result["MemUsage"]
        ),
    );
    let gone = poll_until(PROC_WAIT, || d.gone());
    cases.check(
        "its daemons are gone",
        gone.is_some(),
        format!("gone {gone:?}"),
    );
    cases.finish();
}

fn start_server(state: &Path) -> ServeProcess {
    ServeProcess::start(Path::new(env!("CARGO_BIN_EXE_rel-scfrt")), state, &[])
}

/// [`BOOTSTRAP`] as a base64 code zip.
fn daemon_zip() -> String {
    code_zip_base64(BOOTSTRAP.as_bytes())
}

fn create(port: u16, name: &str, timeout_s: u32) {
    let r = call(
        port,
        "CreateFunction",
        &serde_json::json!({
            "FunctionName": name, "Runtime": "CustomRuntime", "Handler": "index.handler",
            "Timeout": timeout_s, "Code": {"ZipFile": daemon_zip()}
        })
        .to_string(),
    );
    assert!(r["Response"]["Error"].is_null(), "CreateFunction: {r}");
}

/// Invokes `name` with `d`'s event on a thread; once both daemons run, releases the handler;
/// returns the invocation's Result and whether the daemons were seen.
fn invoke_serve(port: u16, name: &'static str, d: &Daemons, then: &str) -> (Value, bool) {
    let body = serde_json::json!({"FunctionName": name, "ClientContext": d.event(then)});
    let body = body.to_string();
    let call = thread::spawn(move || call(port, "Invoke", &body));
    let seen = poll_until(PROC_WAIT, || d.running()).is_some();
    d.release();
    let r = call.join().expect("invoke");
    (r["Response"]["Result"].clone(), seen)
}

/// PSS and Private_Dirty (KiB) of each supervisor (`scfrt-instance`) under `server`.
fn supervisor_memory(server: u32) -> Vec<(i32, u64, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pid in dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
    {
        if ids(pid).map(|i| i.0) != Some(server as i32) || comm(pid) != "scfrt-instance" {
            continue;
        }
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let kib = |key: &str| {
            rollup
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        out.push((pid, kib("Pss:"), kib("Private_Dirty:")));
    }
    out
}

#[test]
fn serve_kills_an_instance_s_daemons_with_it_and_no_other_s() {
    let mut cases = Cases::new(tmpdir(), "supervisor-serve");
    let dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("state dir");
    let mut server = start_server(state.path());
    let port = server.port;
    create(port, "keep", 30);
    create(port, "fail", 2);

    // A warm instance of `keep` with its daemons: they must survive the other failures.
    let kept = Daemons::new(dir.path());
    let (r, seen) = invoke_serve(port, "keep", &kept, "respond");
    cases.check(
        "keep: daemons start, the instance answers and stays warm",
        seen && r["InvokeResult"] == 0,
        brief(&r),
    );

    let hung = Daemons::new(dir.path());
    let (r, seen) = invoke_serve(port, "fail", &hung, "hang");
    let gone = poll_until(PROC_WAIT, || hung.gone());
    cases.check(
        "timeout (433): the instance's daemons are gone",
        seen && r["InvokeResult"] == 433 && gone.is_some(),
        format!(
            "seen {seen}, InvokeResult {}, gone {gone:?}",
            r["InvokeResult"]
        ),
    );
    cases.check(
        "  and keep's daemons still run",
        kept.running(),
        format!(
            "setsid {:?}, double fork {:?}",
            sleeping(&kept.setsid),
            sleeping(&kept.forked)
        ),
    );

    let crashed = Daemons::new(dir.path());
    let (r, seen) = invoke_serve(port, "fail", &crashed, "exit");
    let gone = poll_until(PROC_WAIT, || crashed.gone());
    cases.check(
        "crash (439): the instance's daemons are gone",
        seen && r["InvokeResult"] == 439 && gone.is_some(),
        format!(
            "seen {seen}, InvokeResult {}, gone {gone:?}",
            r["InvokeResult"]
        ),
    );
    cases.check(
        "  and keep's daemons still run",
        kept.running(),
        format!("{:?}", sleeping(&kept.setsid)),
    );
    for (pid, pss, dirty) in supervisor_memory(server.child.id()) {
        cases.note(format!(
            "supervisor {pid} of a warm instance: Pss {pss} KiB, Private_Dirty {dirty} KiB"
        ));
    }

    // serve stops (SIGTERM): every instance ends, and its daemons with it.
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let exited = poll_until(PROC_WAIT, || {
        server.child.try_wait().ok().flatten().is_some()
    });
    let gone = poll_until(PROC_WAIT, || kept.gone());
    cases.check(
        "serve stopped by SIGTERM: keep's daemons are gone",
        exited.is_some() && gone.is_some(),
        format!("serve exited after {exited:?}, daemons gone {gone:?} after that"),
    );
    cases.finish();
}

#[test]
fn serve_killed_with_sigkill_leaves_no_daemon() {
    let mut cases = Cases::new(tmpdir(), "supervisor-serve-sigkill");
    let dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("state dir");
    let mut server = start_server(state.path());
    create(server.port, "keep", 30);
    let d = Daemons::new(dir.path());
    let (r, seen) = invoke_serve(server.port, "keep", &d, "respond");
    cases.check(
        "daemons start, the instance stays warm",
        seen && r["InvokeResult"] == 0,
        brief(&r),
    );
    let _ = server.child.kill();
    let _ = server.child.wait();
    // No handler of scfrt's runs: the supervisors see their pipe close.
    let gone = poll_until(PROC_WAIT, || d.gone());
    cases.check(
        "serve SIGKILLed: the daemons are gone",
        gone.is_some(),
        format!("gone {gone:?}"),
    );
    cases.finish();
}

/// A hostile image-mode server: answers every `POST /event-invoke` with the raw bytes of
/// `case`, then closes. (The largest 64-bit chunk size follows a chunk: the old client added
/// the two sizes and overflowed.)
const HOSTILE_SERVER: &str = r#"
import os, socket, sys
host, port = os.environ["SCFRUNTIME_LISTEN"].rsplit(":", 1)
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
ANSWERS = {
    "chunk-size-2^64-1": CHUNKED + b"3\r\nabc\r\nffffffffffffffff\r\n" + b"x" * (7 << 20),
    "chunk-size-over-64-bits": CHUNKED + b"fffffffffffffffff\r\nabc\r\n0\r\n\r\n",
    "no-crlf-after-chunk-data": CHUNKED + b"3\r\nabcXY0\r\n\r\n",
    "a-million-one-byte-chunks": CHUNKED + b"1\r\na\r\n" * 1000000 + b"0\r\n\r\n",
    "head-of-1-mib": b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * (1 << 20) + b"\r\n\r\nok",
}
answer = ANSWERS[sys.argv[1]]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(port)))
s.listen(8)
for _ in range(100):
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data and len(data) < (1 << 20):
        more = c.recv(65536)
        if not more:
            break
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        more = c.recv(65536)
        if not more:
            break
        body += more
    try:
        c.sendall(answer)
    except OSError:
        pass  # the client stopped reading
    c.close()
"#;

/// An interpreter for [`HOSTILE_SERVER`] (any Python 3), by absolute path.
fn python3() -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap_or_else(|e| panic!("the hostile image servers need python3: {e}"));
    assert!(out.status.success(), "python3 failed: {out:?}");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

#[test]
fn hostile_image_servers_get_a_clean_invoke_result() {
    let mut cases = Cases::new(tmpdir(), "image-client-hostile");
    let dir = tempfile::tempdir().expect("tempdir");
    let py = python3();
    let server = dir.path().join("server.py");
    std::fs::write(&server, HOSTILE_SERVER).expect("server.py");
    // (case, expected InvokeResult, what ErrMsg's message must contain)
    let expected: [(&str, i64, &str); 5] = [
        (
            "chunk-size-2^64-1",
            407,
            "The size of response exceeds the upper limit (6MB)",
        ),
        (
            "chunk-size-over-64-bits",
            430,
            "invalid chunk size: overflow",
        ),
        ("no-crlf-after-chunk-data", 430, "Invalid chunk body CR"),
        ("a-million-one-byte-chunks", 0, ""),
        ("head-of-1-mib", 430, "message head is too large"),
    ];
    for (case, status, words) in expected {
        let pkg = dir.path().join(case);
        std::fs::create_dir_all(&pkg).expect("package dir");
        write_executable(
            &pkg.join("bootstrap"),
            &format!(
                "#!/bin/sh\nexec '{}' '{}' '{case}'\n",
                py.display(),
                server.display()
            ),
        );
        let mut cmd = rel_scfrt();
        cmd.args(["invoke", "--image"])
            .arg(&pkg)
            .args(["--timeout", "30", "--event", "{}"]);
        let run = run_bounded(cmd, Duration::from_secs(120));
        let result = invoke_result(&run);
        let code = run.status.and_then(|s| s.code());
        let msg = error_message(&result);
        let ok = result["InvokeResult"] == status
            && code == Some(if status == 0 { 0 } else { 1 })
            && !run.stderr.contains("panicked")
            && if status == 0 {
                result["RetMsg"].as_str().map(str::len) == Some(1_000_000)
            } else {
                msg.contains(words)
            };
        let shown: String = msg.chars().take(200).collect();
        cases.check(
            case,
            ok,
            format!(
                "InvokeResult {}, exit {code:?}, {:.0} ms, RetMsg {} bytes; {shown}",
                result["InvokeResult"],
                run.elapsed.as_secs_f64() * 1000.0,
                result["RetMsg"].as_str().map_or(0, str::len)
            ),
        );
    }
    cases.finish();
}
