//! The JSON and async handlers on scf-core's real loop, against the workspace's test runtime
//! API (scf-test-support's `FaultServer`, on a port of 127.0.0.1 of its own): what the
//! platform receives for each event.

use scf_core::{Config, Handler, Runtime};
use scf_events::{ApiGatewayRequest, ApiGatewayResponse, DESERIALIZE_ERROR, Invocation};
use scf_test_support::faults::{Endpoint, Event, FaultServer, Mode, Posted};
use serde_json::Value;

/// Serve `bodies` with `handler` through the loop; the one accepted result of each event.
fn serve(bodies: &[&str], handler: impl Handler) -> Vec<Posted> {
    let events: Vec<Event> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| Event {
            id: format!("events-{i}-{:08x}", std::process::id()),
            body: body.as_bytes().to_vec(),
            mode: Mode::Ok,
        })
        .collect();
    let server = FaultServer::start(events, Vec::new());
    let stats = Runtime::new(Config::for_endpoint("127.0.0.1", server.port()))
        .handle_signals(false)
        .max_invocations(Some(bodies.len() as u64))
        .run(handler)
        .expect("the loop runs to its bound");
    let report = server.report();
    assert_eq!(stats.responses + stats.errors, bodies.len() as u64);
    assert_eq!(report.lost(), 0, "{:?}", report.log);
    assert_eq!(report.duplicated(), 0, "{:?}", report.log);
    report
        .results
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect()
}

fn json(p: &Posted) -> Value {
    serde_json::from_slice(&p.body).expect("a JSON body")
}

fn assert_error(p: &Posted, error_type: &str, message_part: &str) {
    assert_eq!(
        p.endpoint,
        Endpoint::Error,
        "{}",
        String::from_utf8_lossy(&p.body)
    );
    let v = json(p);
    assert_eq!(v["errorType"], error_type, "{v}");
    let message = v["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains(message_part),
        "{message:?} lacks {message_part:?}"
    );
}

#[test]
fn serve_json_answers_a_bad_event_with_the_deserialization_failure() {
    let mut calls = 0;
    let handler = scf_events::json_handler(|req: ApiGatewayRequest, inv: &Invocation| {
        calls += 1;
        ApiGatewayResponse::json(
            200,
            &serde_json::json!({"path": req.path, "id": inv.request_id}),
        )
    });
    let posted = serve(
        &[
            r#"{"httpMethod":"GET","path":"/a"}"#,
            r#"{"httpMethod":"GET","headers":{"x":{"nested":true}}}"#,
            "this is not JSON",
            r#"{"httpMethod":"GET","path":"/b"}"#,
        ],
        handler,
    );
    assert_eq!(posted[0].endpoint, Endpoint::Response);
    let first: ApiGatewayResponse = serde_json::from_slice(&posted[0].body).expect("integrated");
    assert_eq!(first.status_code, 200);
    assert!(first.body.contains(r#""path":"/a""#), "{}", first.body);
    assert!(
        first.body.contains("events-0-"),
        "the handler saw its invocation: {}",
        first.body
    );
    assert_error(
        &posted[1],
        DESERIALIZE_ERROR,
        "the event is not a valid ApiGatewayRequest: expected a string or a list, found an object at line 1",
    );
    assert_error(
        &posted[2],
        DESERIALIZE_ERROR,
        "expected ident at line 1 column 2",
    );
    assert_eq!(posted[3].endpoint, Endpoint::Response);
    assert_eq!(calls, 2, "the handler never sees a bad event");
}

#[cfg(feature = "async")]
mod async_handlers {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn one_runtime_serves_every_invocation_and_survives_a_panic() {
        let ticks = Arc::new(AtomicUsize::new(0));
        let seen_at_end_of_first = Arc::new(AtomicUsize::new(usize::MAX));
        let (t, s) = (ticks.clone(), seen_at_end_of_first.clone());
        let handler = scf_events::async_handler(async move |inv: &Invocation| {
            match inv.body.as_slice() {
                b"spawn" => {
                    // A task that outlives this invocation: it only runs again if the next
                    // invocation runs on the same runtime.
                    let ticker = t.clone();
                    tokio::spawn(async move {
                        loop {
                            ticker.fetch_add(1, Ordering::SeqCst);
                            tokio::task::yield_now().await;
                        }
                    });
                    s.store(t.load(Ordering::SeqCst), Ordering::SeqCst);
                    Ok(b"spawned".to_vec())
                }
                b"check" => {
                    for _ in 0..4 {
                        tokio::task::yield_now().await;
                    }
                    let (now, then) = (t.load(Ordering::SeqCst), s.load(Ordering::SeqCst));
                    Ok(format!("{}", now > then).into_bytes())
                }
                b"panic" => panic!("async handler panicked on purpose"),
                _ => Err(format!(
                    "unknown command {:?}",
                    String::from_utf8_lossy(&inv.body)
                )),
            }
        })
        .expect("tokio runtime");
        let posted = serve(&["spawn", "check", "panic", "check", "nope"], handler);
        assert_eq!(posted[0].body, b"spawned");
        assert_eq!(
            posted[1].body, b"true",
            "the task from the first invocation ran on"
        );
        assert_error(&posted[2], "Panic", "async handler panicked on purpose");
        assert_eq!(
            posted[3].endpoint,
            Endpoint::Response,
            "the runtime outlives a panic"
        );
        assert_eq!(posted[3].body, b"true");
        assert_error(
            &posted[4],
            scf_events::HANDLER_ERROR,
            "unknown command \"nope\"",
        );
    }

    #[test]
    fn json_async_handlers_decode_events_and_encode_results() {
        async fn double(n: i64, _: &Invocation) -> Result<Value, String> {
            tokio::task::yield_now().await;
            if n < 0 {
                return Err(format!("{n} is negative"));
            }
            Ok(serde_json::json!({ "double": n * 2 }))
        }
        let handler = scf_events::json_async_handler(double).expect("tokio runtime");
        let posted = serve(&["21", "\"21\"", "-1"], handler);
        assert_eq!(posted[0].endpoint, Endpoint::Response);
        assert_eq!(json(&posted[0]), serde_json::json!({"double": 42}));
        assert_error(
            &posted[1],
            DESERIALIZE_ERROR,
            "the event is not a valid i64: invalid type: string \"21\", expected i64",
        );
        assert_error(&posted[2], scf_events::HANDLER_ERROR, "-1 is negative");
    }
}
