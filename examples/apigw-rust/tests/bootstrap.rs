//! The example's real `bootstrap` binary against the workspace's test runtime API
//! (scf-test-support's `FaultServer` on a port of 127.0.0.1 of its own): API Gateway events
//! in, integrated responses out.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use scf_test_support::faults::{Endpoint, Event, FaultServer, Mode};
use serde_json::{Value, json};

fn event(i: usize, body: Value) -> Event {
    Event {
        id: format!("apigw-{i}-{:08x}", std::process::id()),
        body: body.to_string().into_bytes(),
        mode: Mode::Ok,
    }
}

fn apigw(method: &str, path: &str, query: Value, headers: Value, body: Value, b64: bool) -> Value {
    json!({
        "requestContext": {"serviceId": "service-test", "path": path, "httpMethod": "ANY",
                           "requestId": "gw-1", "identity": {}, "sourceIp": "127.0.0.1",
                           "stage": "release"},
        "headers": headers, "body": body, "path": path, "queryString": query,
        "httpMethod": method, "isBase64Encoded": b64,
        "pathParameters": {}, "queryStringParameters": {}, "headerParameters": {},
        "stageVariables": {}
    })
}

#[test]
fn the_bootstrap_answers_api_gateway_events_with_integrated_responses() {
    let events = vec![
        event(
            0,
            apigw(
                "GET",
                "/hello",
                json!({"name": "Ada"}),
                json!({}),
                Value::Null,
                false,
            ),
        ),
        event(
            1,
            apigw("GET", "/hello/", json!({}), json!({}), Value::Null, false),
        ),
        event(
            2,
            apigw(
                "POST",
                "/echo",
                json!({}),
                json!({"Content-Type": "text/plain; charset=utf-8"}),
                json!("café ☕"),
                false,
            ),
        ),
        event(
            3,
            apigw(
                "POST",
                "/echo",
                json!({}),
                json!({"content-type": "image/png"}),
                json!("iVBORw0K"),
                true,
            ),
        ),
        event(
            4,
            apigw("DELETE", "/hello", json!({}), json!({}), Value::Null, false),
        ),
        event(5, json!("not an API Gateway event")),
    ];
    let n = events.len();
    let server = FaultServer::start(events, Vec::new());
    let child = Command::new(env!("CARGO_BIN_EXE_apigw-rust"))
        .env_clear()
        .envs(server.env())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the bootstrap");
    let pid = child.id();
    // Once every event has a result the server answers `next` with 410, which ends the loop:
    // the process exits on its own. Wait for that on a thread, bounded.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(out);
    });
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("wait for the bootstrap"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!(
                "the bootstrap did not exit within 60 s: {:?}",
                server.report().log
            );
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = server.report();
    assert!(report.drained, "{stderr}\n{:?}", report.log);
    assert_eq!(report.lost(), 0, "{stderr}");
    assert_eq!(report.duplicated(), 0, "{stderr}");
    assert!(
        stderr.contains("apigw-rust: GET /hello (request apigw-0-"),
        "{stderr}"
    );

    let posted: Vec<_> = report.results.iter().map(|r| &r[0]).collect();
    assert_eq!(posted.len(), n);
    let answer = |i: usize| -> Value {
        assert_eq!(
            posted[i].endpoint,
            Endpoint::Response,
            "event {i}: {stderr}"
        );
        serde_json::from_slice(&posted[i].body).expect("an integrated response")
    };
    let hello = answer(0);
    assert_eq!(hello["statusCode"], 200);
    assert_eq!(hello["isBase64Encoded"], false);
    assert_eq!(hello["headers"]["Content-Type"], "application/json");
    assert_eq!(hello["body"], r#"{"message":"hello, Ada"}"#);
    assert_eq!(answer(1)["body"], r#"{"message":"hello, world"}"#);
    let echo = answer(2);
    assert_eq!(
        (echo["statusCode"].as_u64(), echo["body"].as_str()),
        (Some(200), Some("café ☕"))
    );
    assert_eq!(echo["headers"]["Content-Type"], "text/plain; charset=utf-8");
    assert_eq!(echo["isBase64Encoded"], false);
    let binary = answer(3);
    assert_eq!(binary["isBase64Encoded"], true);
    assert_eq!(binary["body"], "iVBORw0K");
    assert_eq!(binary["headers"]["Content-Type"], "image/png");
    let missing = answer(4);
    assert_eq!(missing["statusCode"], 404);
    assert_eq!(missing["body"], r#"{"error":"no route for DELETE /hello"}"#);

    assert_eq!(posted[5].endpoint, Endpoint::Error);
    let err: Value = serde_json::from_slice(&posted[5].body).expect("an error report");
    assert_eq!(err["errorType"], "DeserializeError");
    let message = err["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("the event is not a valid ApiGatewayRequest: invalid type: string \"not an API Gateway event\", expected struct ApiGatewayRequest"),
        "{message}"
    );
}
