//! The emulator with throwaway bash bootstraps: lifecycle, timeouts, crashes, limits, logs.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{process_gone, read_pid, write_bootstrap};
use scf_emulator::{EmulatorError, Function, FunctionConfig, InvokeResult};

const MIB: usize = 1024 * 1024;

/// A function whose bootstrap is the test prelude plus `body`, with short timeouts.
fn function_with(dir: &Path, body: &str, tweak: impl FnOnce(&mut FunctionConfig)) -> Function {
    write_bootstrap(dir, body);
    let mut cfg = FunctionConfig::new(dir);
    cfg.timeout = Duration::from_secs(5);
    cfg.init_timeout = Duration::from_secs(10);
    tweak(&mut cfg);
    Function::new(cfg).expect("function")
}

/// A function whose bootstrap writes its pid to `leader` in `dir`; on the event `trigger` it
/// starts `child` (a shell command) in the background, writes its pid to `child`, prints
/// `says` and waits for it. Every event is answered `done:<event>`.
fn function_with_child(
    dir: &Path,
    trigger: &str,
    child: &str,
    says: &str,
    tweak: impl FnOnce(&mut FunctionConfig),
) -> Function {
    let d = dir.display();
    let body = format!(
        r#"
echo $$ > {d}/leader
ready
while true; do
  EVENT="$(next)"
  if [ "$EVENT" = {trigger} ]; then
    {child} &
    echo $! > {d}/child
    echo "{says}"
    wait
  fi
  respond "done:$EVENT"
done
"#
    );
    function_with(dir, &body, tweak)
}

fn error_message(r: &InvokeResult) -> String {
    let v: serde_json::Value = serde_json::from_str(&r.err_msg)
        .unwrap_or_else(|e| panic!("ErrMsg {:?} is not JSON: {e}", r.err_msg));
    assert_eq!(v["errorCode"], -1);
    assert_eq!(v["statusCode"], r.status_code);
    v["errorMessage"].as_str().expect("errorMessage").to_owned()
}

const ECHO_LOOP: &str = r#"
echo "init-line on stdout"
ready
while true; do
  EVENT="$(next)"
  echo "out: $EVENT"
  echo "err: $EVENT" >&2
  respond "echo:$EVENT"
done
"#;

#[test]
fn warm_invocations_and_log_framing() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(dir.path(), ECHO_LOOP, |_| {});
    let first = f.invoke(br#"{"n":1}"#);
    assert!(first.succeeded(), "{first:?}");
    assert_eq!(first.ret_msg, r#"echo:{"n":1}"#);
    assert_eq!(first.err_msg, "");
    assert_eq!(first.invoke_result, 0);
    assert_eq!(first.status_code, 200);
    assert!(first.cold_start);
    assert!(first.duration_ms > 0.0);
    assert!(first.bill_duration_ms >= 1);
    assert!(first.bill_duration_ms as f64 >= first.duration_ms);
    assert!(first.mem_usage_bytes > 0);
    let id = &first.function_request_id;
    let log = &first.log;
    let start = log
        .find(&format!("START RequestId: {id}\n"))
        .expect("START");
    let init = log.find("init-line on stdout\n").expect("init output");
    let out = log.find("out: {\"n\":1}\n").expect("stdout line");
    let err = log.find("err: {\"n\":1}\n").expect("stderr line");
    let end = log.find(&format!("END RequestId: {id}\n")).expect("END");
    let report = log
        .find(&format!("Report RequestId: {id} Duration:"))
        .expect("Report");
    assert!(
        start < init && init < out && out < end && err < end && end < report,
        "{log}"
    );
    assert!(log.contains("Memory:128MB MemUsage:"));
    assert!(log.contains(&format!("Init Report RequestId: {id} InitDuration: ")));
    let pid = f.warm_pid().expect("warm");

    for n in 2..=4 {
        let event = format!(r#"{{"n":{n}}}"#);
        let r = f.invoke(event.as_bytes());
        assert!(r.succeeded(), "{r:?}");
        assert!(!r.cold_start);
        assert_eq!(r.ret_msg, format!("echo:{event}"));
        assert!(
            r.log.contains(&format!("out: {event}\nerr: {event}\n"))
                || r.log.contains(&format!("err: {event}\nout: {event}\n")),
            "{}",
            r.log
        );
        assert!(!r.log.contains("init-line"));
        assert!(!r.log.contains("Init Report"));
        assert_ne!(r.function_request_id, *id);
        assert_eq!(f.warm_pid(), Some(pid));
    }
    drop(f);
    assert!(process_gone(pid as i32), "bootstrap {pid} survived drop");
}

#[test]
fn output_written_right_before_the_post_is_in_that_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(
        dir.path(),
        r#"
ready
while true; do
  EVENT="$(next)"
  for i in $(seq 1 200); do echo "line $i of $EVENT"; done
  echo "last words of $EVENT" >&2
  respond ok
done
"#,
        |_| {},
    );
    for n in 0..5 {
        let r = f.invoke(format!("{n}").as_bytes());
        assert!(r.succeeded());
        let last = format!("last words of {n}\n");
        let pos = r
            .log
            .find(&last)
            .unwrap_or_else(|| panic!("missing {last:?} in {}", r.log));
        assert!(pos < r.log.find("END RequestId").unwrap());
        assert!(r.log.contains(&format!("line 200 of {n}\n")));
    }
}

#[test]
fn environment_of_the_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(
        dir.path(),
        r#"
ready
EVENT="$(next)"
respond "$(env | sort; echo "cwd=$(pwd)"; echo "rid=$(header request_id) mem=$(header memory_limit_in_mb) tl=$(header time_limit_in_ms)")"
"#,
        |cfg| {
            cfg.handler = "main.handle".into();
            cfg.function_name = "my-fn".into();
            cfg.memory_mb = 512;
            cfg.timeout = Duration::from_secs(7);
            cfg.env = vec![
                ("STAGE".into(), "dev".into()),
                ("GREETING".into(), "a b=c".into()),
            ];
        },
    );
    let r = f.invoke(b"{}");
    assert!(r.succeeded(), "{r:?}");
    let env = &r.ret_msg;
    let code_dir = std::fs::canonicalize(dir.path()).unwrap();
    for line in [
        "SCF_RUNTIME_API=127.0.0.1".to_owned(),
        "_HANDLER=main.handle".to_owned(),
        "SCF_RUNTIME=CustomRuntime".to_owned(),
        "SCF_FUNCTIONNAME=my-fn".to_owned(),
        "SCF_FUNCTIONVERSION=$LATEST".to_owned(),
        "SCF_NAMESPACE=default".to_owned(),
        "TENCENTCLOUD_REGION=ap-guangzhou".to_owned(),
        "TENCENTCLOUD_RUNENV=SCF".to_owned(),
        // SCF's value has a trailing slash (/var/user/).
        format!("USER_CODE_ROOT={}/", code_dir.display()),
        format!("cwd={}", code_dir.display()),
        "STAGE=dev".to_owned(),
        "GREETING=a b=c".to_owned(),
        format!("rid={} mem=512 tl=7000", r.function_request_id),
    ] {
        assert!(env.lines().any(|l| l == line), "missing {line:?} in\n{env}");
    }
    assert!(env.lines().any(|l| l.starts_with("SCF_RUNTIME_API_PORT=")));
    assert!(env.lines().any(|l| l.starts_with("TENCENTCLOUD_APPID=")));
    assert!(env.lines().any(|l| l.starts_with("TENCENTCLOUD_UIN=")));
    assert!(env.lines().any(|l| l.starts_with("PATH=")));
    // The test runner's environment does not leak in.
    assert!(!env.contains("CARGO_MANIFEST_DIR"), "{env}");
}

#[test]
fn handler_error_is_430_with_the_body_verbatim() {
    let dir2 = tempfile::tempdir().unwrap();
    let mut f2 = function_with(
        dir2.path(),
        &format!(
            r#"
ready
while true; do
  EVENT="$(next)"
  if [ "$EVENT" = bad ]; then printf 'bad \xff byte' > "{0}/body"; curl -sS -o /dev/null --data-binary @"{0}/body" "$API/invocation/error"
  else fail '{{"errorMessage":"用户错误 é","stackTrace":["a"]}}'; fi
done
"#,
            dir2.path().display()
        ),
        |_| {},
    );
    let r = f2.invoke(b"{}");
    assert_eq!(r.status_code, 430);
    assert_eq!(r.invoke_result, 430);
    assert!(!r.succeeded());
    assert_eq!(
        r.err_msg,
        r#"{"errorMessage":"用户错误 é","stackTrace":["a"]}"#
    );
    assert_eq!(r.ret_msg, "");
    // A handler error keeps the instance warm.
    let r = f2.invoke(b"bad");
    assert_eq!(r.status_code, 430);
    assert!(!r.cold_start);
    assert_eq!(r.err_msg, "bad \u{fffd} byte");
}

#[test]
fn init_timeout_is_450_and_kills_the_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let mut f = function_with(
        dir.path(),
        &format!(
            "echo $$ > {}\necho 'still initialising' >&2\nexec sleep 60",
            pidfile.display()
        ),
        |cfg| cfg.init_timeout = Duration::from_secs(1),
    );
    let r = f.invoke(b"{}");
    assert_eq!(r.status_code, 450, "{r:?}");
    assert_eq!(r.invoke_result, 450);
    assert!(r.cold_start);
    let msg = error_message(&r);
    assert!(msg.starts_with("Init timeout after 1 seconds"), "{msg}");
    assert!(r.log.contains("still initialising"), "{}", r.log);
    assert!(r.log.contains("Init Report"));
    assert!(process_gone(read_pid(&pidfile)));
    assert_eq!(f.warm_pid(), None);
}

#[test]
fn invocation_timeout_is_433_kills_the_group_and_next_invoke_cold_starts() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().to_owned();
    let mut f = function_with_child(dir.path(), "sleep", "sleep 60", "going to sleep", |cfg| {
        cfg.timeout = Duration::from_secs(1)
    });
    let r = f.invoke(b"sleep");
    assert_eq!(r.status_code, 433, "{r:?}");
    assert_eq!(error_message(&r), "Invoking task timed out after 1 seconds");
    assert_eq!(
        r.err_msg,
        r#"{"errorCode":-1,"errorMessage":"Invoking task timed out after 1 seconds","statusCode":433}"#
    );
    assert!(r.duration_ms >= 1000.0, "{}", r.duration_ms);
    assert!(r.log.contains("going to sleep"));
    assert!(r.log.contains("END RequestId"));
    let leader = read_pid(&pids.join("leader"));
    let child = read_pid(&pids.join("child"));
    assert!(process_gone(leader), "leader {leader} alive");
    assert!(process_gone(child), "child {child} alive");
    assert_eq!(f.warm_pid(), None);

    let r = f.invoke(b"quick");
    assert!(r.succeeded(), "{r:?}");
    assert!(r.cold_start);
    assert_eq!(r.ret_msg, "done:quick");
    assert!(r.log.contains("Init Report"));
    assert_ne!(read_pid(&pids.join("leader")), leader);
}

#[test]
fn memory_over_the_memory_size_is_434_counting_child_processes() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().to_owned();
    // tail keeps the whole unterminated line: ~100 MB resident in a child process.
    let hog = "{ head -c 100000000 /dev/zero; sleep 30; } | tail -n 1 > /dev/null";
    let mut f = function_with_child(dir.path(), "hog", hog, "hogging", |cfg| {
        cfg.memory_mb = 64;
        cfg.timeout = Duration::from_secs(30);
    });
    let r = f.invoke(b"small");
    assert!(r.succeeded(), "{r:?}");
    let r = f.invoke(b"hog");
    assert_eq!(r.status_code, 434, "{r:?}");
    let msg = error_message(&r);
    assert!(
        msg.starts_with("Memory limit reached: the function's processes used ")
            && msg.ends_with("more than its memory size of 64 MB; the instance was killed"),
        "{msg}"
    );
    assert!(r.mem_usage_bytes > 64 * MIB as u64, "{r:?}");
    assert!(r.log.contains("hogging"), "{}", r.log);
    assert!(process_gone(read_pid(&pids.join("leader"))));
    assert!(process_gone(read_pid(&pids.join("child"))));
    assert_eq!(f.warm_pid(), None);
    let r = f.invoke(b"after");
    assert!(r.succeeded() && r.cold_start, "{r:?}");
    assert_eq!(r.ret_msg, "done:after");
}

#[test]
fn memory_over_the_memory_size_while_initialising_is_434() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let mut f = function_with(
        dir.path(),
        &format!(
            r#"
echo $$ > {d}/leader
echo "loading a large model"
{{ head -c 100000000 /dev/zero; sleep 30; }} | tail -n 1 > /dev/null &
echo $! > {d}/child
wait
ready
while true; do EVENT="$(next)"; respond "never"; done
"#
        ),
        |cfg| {
            cfg.memory_mb = 64;
            cfg.init_timeout = Duration::from_secs(30);
        },
    );
    let r = f.invoke(b"{}");
    assert_eq!(r.status_code, 434, "{r:?}");
    let msg = error_message(&r);
    assert!(
        msg.starts_with("Memory limit reached: the function's processes used ")
            && msg.ends_with(
                " MB of resident memory while initialising, more than its memory size of 64 MB; \
                 the instance was killed"
            ),
        "{msg}"
    );
    assert!(r.mem_usage_bytes > 64 * MIB as u64, "{r:?}");
    assert!(r.log.contains("loading a large model"), "{}", r.log);
    assert!(process_gone(read_pid(&dir.path().join("leader"))));
    assert!(process_gone(read_pid(&dir.path().join("child"))));
    assert_eq!(f.warm_pid(), None);
}

#[test]
fn process_exit_during_invocation_is_439() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(
        dir.path(),
        r#"
ready
EVENT="$(next)"
if [ "$EVENT" = crash ]; then echo "crashing now" >&2; exit 3; fi
respond "fine"
while true; do EVENT="$(next)"; respond "fine"; done
"#,
        |_| {},
    );
    let r = f.invoke(b"crash");
    assert_eq!(r.status_code, 439, "{r:?}");
    let msg = error_message(&r);
    assert!(msg.starts_with("User process exited when running"), "{msg}");
    assert!(msg.contains("exit code 3"), "{msg}");
    assert!(r.log.contains("crashing now"));
    let r = f.invoke(b"ok");
    assert!(r.succeeded(), "{r:?}");
    assert!(r.cold_start);
}

#[test]
fn process_killed_by_signal_during_invocation_is_439() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(dir.path(), "ready\nnext >/dev/null\nkill -SEGV $$", |_| {});
    let r = f.invoke(b"{}");
    assert_eq!(r.status_code, 439, "{r:?}");
    assert!(error_message(&r).contains("signal 11"), "{}", r.err_msg);
}

#[test]
fn exit_between_invocations_restarts_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    // One event per process, like a bootstrap that exits after answering.
    let mut f = function_with(
        dir.path(),
        "ready\nEVENT=\"$(next)\"\nrespond \"one:$EVENT\"",
        |_| {},
    );
    let a = f.invoke(b"a");
    assert_eq!(a.ret_msg, "one:a");
    // The process may or may not have exited yet when the next event comes; either way it never
    // fetched that event, so, as on the platform, a new instance answers it.
    for event in ["b", "c"] {
        let r = f.invoke(event.as_bytes());
        assert!(r.succeeded(), "{r:?}");
        assert_eq!(r.ret_msg, format!("one:{event}"));
        assert!(r.cold_start, "{r:?}");
    }
}

#[test]
fn bootstrap_exiting_before_ready_is_405_with_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(
        dir.path(),
        "echo 'boom: libfoo.so not found' >&2\nexit 7",
        |_| {},
    );
    let r = f.invoke(b"{}");
    assert_eq!(r.status_code, 405, "{r:?}");
    let msg = error_message(&r);
    assert!(msg.contains("exit code 7"), "{msg}");
    assert!(msg.contains("boom: libfoo.so not found"), "{msg}");
    assert!(r.log.contains("boom: libfoo.so not found"));
    assert!(r.cold_start);
}

#[test]
fn bootstrap_with_bad_interpreter_is_405() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bootstrap");
    std::fs::write(&path, "#!/nonexistent/interpreter\n").unwrap();
    std::fs::set_permissions(&path, PermissionsExt::from_mode(0o755)).unwrap();
    let mut f = Function::new(FunctionConfig::new(dir.path())).unwrap();
    let r = f.invoke(b"{}");
    assert_eq!(r.status_code, 405, "{r:?}");
    assert!(error_message(&r).contains("could not be started"));
}

#[test]
fn missing_and_non_executable_bootstrap() {
    let dir = tempfile::tempdir().unwrap();
    match Function::new(FunctionConfig::new(dir.path())) {
        Err(e @ EmulatorError::BootstrapMissing(_)) => {
            assert!(e.to_string().contains("Bootstrap not found"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(dir.path().join("bootstrap"), "#!/bin/sh\n").unwrap();
    match Function::new(FunctionConfig::new(dir.path())) {
        Err(e @ EmulatorError::BootstrapNotExecutable { .. }) => {
            assert!(e.to_string().contains("Bootstrap not executable"), "{e}");
            assert!(e.to_string().contains("chmod 755"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    match Function::new(FunctionConfig::new(dir.path().join("nope"))) {
        Err(EmulatorError::CodeDirNotFound(_)) => {}
        other => panic!("{other:?}"),
    }
    let sub = dir.path().join("sub");
    std::fs::create_dir_all(sub.join("bootstrap")).unwrap();
    match Function::new(FunctionConfig::new(&sub)) {
        Err(EmulatorError::BootstrapNotAFile(_)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn oversized_event_is_406_without_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("started");
    let mut f = function_with(
        dir.path(),
        &format!(
            r#"
touch {0}
ready
while true; do
  next > {1}/event
  curl -sS -o /dev/null --data-binary @{1}/event "$API/invocation/response"
done
"#,
            marker.display(),
            dir.path().display()
        ),
        |_| {},
    );
    let r = f.invoke(&vec![b' '; 6 * MIB + 1]);
    assert_eq!(r.status_code, 406);
    assert!(error_message(&r).contains("exceeds the upper limit (6MB)"));
    assert!(!r.cold_start);
    assert!(!marker.exists());
    assert_eq!(f.warm_pid(), None);
    // Exactly 6 MiB is fine.
    let r = f.invoke(&vec![b'z'; 6 * MIB]);
    assert!(r.succeeded(), "{}", r.err_msg);
    assert_eq!(r.ret_msg.len(), 6 * MIB);
    assert!(r.cold_start);
}

#[test]
fn oversized_response_is_407_and_kills_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(
        dir.path(),
        &format!(
            r#"
ready
while true; do
  EVENT="$(next)"
  head -c "$EVENT" /dev/zero | tr '\0' 'a' > {0}/body
  curl -sS -o /dev/null --data-binary @{0}/body "$API/invocation/response"
done
"#,
            dir.path().display()
        ),
        |_| {},
    );
    let r = f.invoke((6 * MIB - 1).to_string().as_bytes());
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(r.ret_msg.len(), 6 * MIB - 1);
    let r = f.invoke((6 * MIB + 1).to_string().as_bytes());
    assert_eq!(r.status_code, 407);
    assert_eq!(
        error_message(&r),
        "The size of response exceeds the upper limit (6MB)"
    );
    assert_eq!(f.warm_pid(), None);
    let r = f.invoke(b"3");
    assert!(r.succeeded());
    assert!(r.cold_start);
    assert_eq!(r.ret_msg, "aaa");
}

#[test]
fn huge_log_is_capped_and_tail_is_4kb() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(
        dir.path(),
        r#"
ready
while true; do
  EVENT="$(next)"
  head -c 30000000 /dev/zero | tr '\0' 'x'
  echo
  echo "the very end"
  respond done
done
"#,
        |_| {},
    );
    let r = f.invoke(b"{}");
    assert!(r.succeeded(), "{}", r.err_msg);
    assert!(r.log.len() <= 4096, "{}", r.log.len());
    assert!(r.log.contains("the very end\nEND RequestId"), "{}", r.log);
    assert!(r.log.ends_with('\n'));
}

#[test]
fn log_type_none_returns_no_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(dir.path(), ECHO_LOOP, |cfg| cfg.log_type_tail = false);
    let r = f.invoke(b"{}");
    assert!(r.succeeded());
    assert_eq!(r.log, "");
}

#[test]
fn log_stream_receives_the_framed_log() {
    #[derive(Clone, Default)]
    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(dir.path(), ECHO_LOOP, |_| {});
    let sink = Sink::default();
    f.set_log_stream(Some(Box::new(sink.clone())));
    let r = f.invoke(b"[42]");
    assert!(r.succeeded());
    let streamed = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(streamed.starts_with(&format!("START RequestId: {}\n", r.function_request_id)));
    assert!(streamed.contains("out: [42]\n"));
    assert!(streamed.contains(&format!("Report RequestId: {}", r.function_request_id)));
}

#[test]
fn invoke_json_shape() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = function_with(dir.path(), ECHO_LOOP, |_| {});
    let r = f.invoke(b"{}");
    let line = r.to_invoke_json_string();
    assert!(
        line.starts_with(r#"{"Response":{"Result":{"MemUsage":"#),
        "{line}"
    );
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v, r.to_invoke_json());
    let result = v["Response"]["Result"].as_object().unwrap();
    let mut keys: Vec<&str> = result.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "BillDuration",
            "Duration",
            "ErrMsg",
            "FunctionRequestId",
            "InvokeResult",
            "Log",
            "MemUsage",
            "RetMsg"
        ]
    );
    assert_eq!(v["Response"]["RequestId"], r.function_request_id.as_str());
    assert!(v["Response"]["Result"]["Duration"].is_f64());
    assert!(v["Response"]["Result"]["BillDuration"].is_u64());
}
