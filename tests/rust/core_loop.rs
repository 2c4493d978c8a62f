//! The core loop against scfrt's runtime API (the emulator's platform side), in one process:
//! what the handler sees and what bytes reach each endpoint.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use scf_core::{Config, ErrorReport, Invocation, Runtime};
use scf_runtime_api::{InvokeOptions, Limits, Outcome, RecordedRequest, RuntimeApi};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(20);
const SIX_MB: usize = 6 * 1024 * 1024;

type Handled = mpsc::Receiver<(String, u32, u64, u64)>;

/// Start the API and an echo-ish runtime for `n` invocations; returns what the handler saw.
fn start(
    n: u64,
) -> (
    RuntimeApi,
    thread::JoinHandle<scf_core::Result<scf_core::RunStats>>,
    Handled,
) {
    let api = RuntimeApi::start(Limits::default()).expect("start runtime API");
    let (tx, rx) = mpsc::channel();
    let rt = Runtime::new(Config::for_endpoint("127.0.0.1", api.port()))
        .handle_signals(false)
        .max_invocations(Some(n));
    let handle = thread::spawn(move || {
        rt.run(move |inv: &Invocation| -> Result<Vec<u8>, ErrorReport> {
            let _ = tx.send((
                inv.request_id.clone(),
                inv.memory_limit_mb,
                inv.time_limit.as_millis() as u64,
                inv.remaining().as_millis() as u64,
            ));
            match inv.body.as_slice() {
                b"panic" => panic!("boom: café 错误 🚀"),
                b"error" => Err(ErrorReport {
                    error_type: "MyError".into(),
                    error_message: "café 错误 🚀".into(),
                    stack_trace: vec!["at handler".into()],
                }),
                b"too-big" => Ok(vec![b'x'; SIX_MB + 1]),
                body => Ok(body.to_vec()),
            }
        })
    });
    api.wait_ready(LIMIT).expect("runtime reported ready");
    (api, handle, rx)
}

fn opts(id: &str) -> InvokeOptions {
    InvokeOptions {
        request_id: id.to_string(),
        memory_limit_mb: 256,
        timeout: LIMIT,
    }
}

fn invoke(api: &RuntimeApi, id: &str, event: &[u8]) -> Outcome {
    api.invoke(event, &opts(id)).expect("invoke")
}

fn paths(reqs: &[RecordedRequest]) -> Vec<String> {
    reqs.iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn echoes_json_unicode_empty_and_six_mb_minus_one() {
    let big = vec![b'a'; SIX_MB - 1];
    let cases: Vec<&[u8]> = vec![
        br#"{"key1": "test value 1", "key2": [1, 2.5, null]}"#,
        "café 错误 🚀".as_bytes(),
        b"",
        &big,
    ];
    let (api, rt, _seen) = start(cases.len() as u64);
    for (i, event) in cases.iter().enumerate() {
        let out = invoke(&api, &format!("id-{i}"), event);
        assert_eq!(out, Outcome::Response(event.to_vec()), "case {i}");
    }
    let stats = rt.join().expect("runtime thread").expect("run");
    assert_eq!((stats.responses, stats.errors), (4, 0));
    // On the wire: each response body is the event, byte for byte.
    let reqs = api.requests();
    let responses: Vec<&RecordedRequest> = reqs
        .iter()
        .filter(|r| r.path == "/runtime/invocation/response")
        .collect();
    assert_eq!(responses.len(), 4);
    for (r, event) in responses.iter().zip(&cases) {
        assert_eq!(r.body.as_slice(), *event);
    }
}

#[test]
fn ready_is_sent_once_before_the_first_next_with_a_space() {
    let (api, rt, _seen) = start(2);
    invoke(&api, "a", b"1");
    invoke(&api, "b", b"2");
    rt.join().expect("runtime thread").expect("run");
    let reqs = api.requests();
    assert_eq!(
        paths(&reqs),
        vec![
            "POST /runtime/init/ready",
            "GET /runtime/invocation/next",
            "POST /runtime/invocation/response",
            "GET /runtime/invocation/next",
            "POST /runtime/invocation/response",
        ]
    );
    assert_eq!(reqs[0].body, b" ");
}

fn error_json(out: Outcome) -> Value {
    match out {
        Outcome::Error(body) => {
            let text = String::from_utf8(body).expect("error body is UTF-8");
            assert!(
                !text.contains("\\u"),
                "non-ASCII must not be escaped: {text}"
            );
            serde_json::from_str(&text).expect("error body is JSON")
        }
        other => panic!("expected an error post, got {other:?}"),
    }
}

#[test]
fn handler_error_posts_the_error_json_and_the_next_event_is_served() {
    let (api, rt, _seen) = start(2);
    let err = error_json(invoke(&api, "req-err", b"error"));
    assert_eq!(
        err,
        serde_json::json!({
            "errorType": "MyError",
            "errorMessage": "café 错误 🚀",
            "stackTrace": ["at handler"],
            "requestId": "req-err",
        })
    );
    assert_eq!(
        invoke(&api, "req-ok", b"after"),
        Outcome::Response(b"after".to_vec())
    );
    let stats = rt.join().expect("runtime thread").expect("run");
    assert_eq!((stats.responses, stats.errors), (1, 1));
}

#[test]
fn panic_posts_an_error_and_the_next_event_is_served() {
    let (api, rt, _seen) = start(2);
    let err = error_json(invoke(&api, "req-panic", b"panic"));
    assert_eq!(err["errorType"], "Panic");
    assert_eq!(err["errorMessage"], "boom: café 错误 🚀");
    assert_eq!(err["requestId"], "req-panic");
    assert!(err["stackTrace"].is_array());
    assert_eq!(
        invoke(&api, "req-ok", b"still here"),
        Outcome::Response(b"still here".to_vec())
    );
    rt.join().expect("runtime thread").expect("run");
}

#[test]
fn oversized_response_is_not_sent_and_an_error_is_posted_instead() {
    let (api, rt, _seen) = start(1);
    let err = error_json(invoke(&api, "req-big", b"too-big"));
    assert_eq!(err["errorType"], "ResponseTooLarge");
    assert!(
        err["errorMessage"]
            .as_str()
            .unwrap_or("")
            .contains("6291457 bytes"),
        "{err}"
    );
    rt.join().expect("runtime thread").expect("run");
    assert!(
        api.requests()
            .iter()
            .all(|r| r.path != "/runtime/invocation/response")
    );
}

#[test]
fn request_id_memory_and_time_limit_reach_the_handler() {
    let (api, rt, seen) = start(1);
    let out = api
        .invoke(
            b"{}",
            &InvokeOptions {
                request_id: "3c32a636-d43214e161de".into(),
                memory_limit_mb: 512,
                timeout: Duration::from_secs(15),
            },
        )
        .expect("invoke");
    assert_eq!(out, Outcome::Response(b"{}".to_vec()));
    let (id, mem, limit_ms, remaining_ms) = seen.recv_timeout(LIMIT).expect("handler ran");
    assert_eq!(id, "3c32a636-d43214e161de");
    assert_eq!(mem, 512);
    assert_eq!(limit_ms, 15_000);
    assert!(
        remaining_ms <= 15_000 && remaining_ms > 10_000,
        "remaining {remaining_ms} ms"
    );
    rt.join().expect("runtime thread").expect("run");
}
