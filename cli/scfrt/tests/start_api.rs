//! `scfrt start-api`: the real binary behind real HTTP requests over loopback — events from
//! requests, results mapped back as API Gateway maps them, concurrency on the warm pool, usage
//! errors and stopping (docs/triggers.md, "A local API Gateway: scfrt start-api").

mod common;
#[path = "common/start_api.rs"]
mod start_api_harness;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{HttpResponse, RawClient, process_gone, write_bootstrap};
use start_api_harness::{Server, send};

/// A bash function: answers by the request's path (see the arms), else echoes the event as its
/// result.
fn shapes_function(dir: &Path) {
    write_bootstrap(
        dir,
        r#"ready
while true; do
  EV=$(next)
  case "$EV" in
    *'"path":"/shape/text"'*) respond '{"statusCode":201,"headers":{"Content-Type":"text/plain","X-Custom":"yes"},"body":"hello text"}' ;;
    *'"path":"/shape/b64"'*) respond '{"statusCode":200,"isBase64Encoded":true,"headers":{"Content-Type":"application/octet-stream"},"body":"AP8Q"}' ;;
    *'"path":"/shape/bad"'*) respond 'not an integrated response' ;;
    *'"path":"/shape/fail"'*) fail '{"errorType":"Boom","errorMessage":"handler raised"}' ;;
    *'"path":"/shape/slow"'*) sleep 10; respond late ;;
    *) echo "echoing the event"; respond "$EV" ;;
  esac
done"#,
    );
}

fn error_json(r: &HttpResponse) -> serde_json::Value {
    assert_eq!(r.header("content-type"), Some("application/json"), "{r:?}");
    r.json()
}

#[test]
fn serverless_yml_routes_query_json_binary_and_path_parameters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let code = dir.path().join("code");
    std::fs::create_dir_all(&code).expect("mkdir");
    shapes_function(&code);
    std::fs::write(
        dir.path().join("serverless.yml"),
        "component: scf\nname: users\ninputs:\n  src: ./code\n  events:\n    - apigw:\n        \
         parameters:\n          serviceId: service-abcd1234\n          environment: test\n          \
         endpoints:\n            - path: /users/{id}\n              method: GET\n            \
         - path: /upload\n              method: POST\n            - path: /any\n",
    )
    .expect("write");
    let server = Server::start(&[dir.path().to_str().expect("utf-8")]);
    server.wait_stderr("/users/{id}");

    // GET with a query string and a path parameter: the result is not integrated, so the event
    // itself comes back as the body.
    let r = server.client().get("/users/42?q=1&q=2&x=a%20b&y=c+d");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let ev = r.json();
    assert_eq!(ev["httpMethod"], "GET");
    assert_eq!(ev["path"], "/users/42");
    assert_eq!(ev["requestContext"]["path"], "/users/{id}");
    assert_eq!(ev["requestContext"]["httpMethod"], "GET");
    assert_eq!(ev["requestContext"]["stage"], "test");
    assert_eq!(ev["requestContext"]["serviceId"], "service-abcd1234");
    assert_eq!(ev["requestContext"]["sourceIp"], "127.0.0.1");
    assert_eq!(ev["pathParameters"], serde_json::json!({"id": "42"}));
    assert_eq!(
        ev["queryString"],
        serde_json::json!({"q": ["1", "2"], "x": "a b", "y": "c d"})
    );
    assert_eq!(ev["headers"]["host"], "127.0.0.1");
    assert!(ev.get("body").is_none(), "{ev}");
    let rid = ev["requestContext"]["requestId"]
        .as_str()
        .expect("requestId");
    assert!(uuid::Uuid::parse_str(rid).is_ok(), "{rid}");
    // The function's log streams to stderr, framed, under the same request id.
    server.wait_stderr(&format!("START RequestId: {rid}"));
    server.wait_stderr(&format!("END RequestId: {rid}"));
    server.wait_stderr(&format!("Report RequestId: {rid}"));
    assert!(server.stderr().contains("echoing the event"));

    // POST JSON: the body as it is.
    let r = send(
        server.port,
        "POST",
        "/upload",
        &[("Content-Type", "application/json")],
        br#"{"a":[1,2]}"#,
    );
    assert_eq!(r.status, 200, "{r:?}");
    let ev = r.json();
    assert_eq!(ev["body"], r#"{"a":[1,2]}"#);
    assert_eq!(ev["headers"]["content-type"], "application/json");
    assert!(ev.get("isBase64Encoded").is_none());
    assert_eq!(ev["requestContext"]["path"], "/upload");

    // A binary body: base64 with isBase64Encoded.
    let bytes: Vec<u8> = (0..=255u8).rev().collect();
    let r = send(
        server.port,
        "POST",
        "/upload",
        &[("Content-Type", "application/octet-stream")],
        &bytes,
    );
    assert_eq!(r.status, 200, "{r:?}");
    let ev = r.json();
    assert_eq!(ev["isBase64Encoded"], true);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(ev["body"].as_str().expect("body"))
        .expect("base64");
    assert_eq!(decoded, bytes);

    // An API bound to ANY: the request's method in httpMethod, the API's in requestContext.
    let r = send(server.port, "PATCH", "/any", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    let ev = r.json();
    assert_eq!(ev["httpMethod"], "PATCH");
    assert_eq!(ev["requestContext"]["httpMethod"], "ANY");

    // A path no API declares, and a method the path's API does not take.
    let r = server.client().get("/nope");
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(error_json(&r)["errno"], 404);
    let r = server.client().get("/upload");
    assert_eq!(r.status, 405, "{r:?}");
    assert_eq!(r.header("allow"), Some("POST"));
    assert_eq!(error_json(&r)["errno"], 405);
    let r = send(server.port, "DELETE", "/users/42", &[], b"");
    assert_eq!(r.status, 405, "{r:?}");
    assert_eq!(r.header("allow"), Some("GET"));
}

#[test]
fn a_package_answers_every_path_with_each_result_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    shapes_function(dir.path());
    let server = Server::start(&[dir.path().to_str().expect("utf-8")]);

    let r = server.client().get("/shape/text");
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(r.header("x-custom"), Some("yes"));
    assert_eq!(r.body, b"hello text");

    let r = send(server.port, "PUT", "/shape/b64", &[], b"x");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body, [0x00, 0xff, 0x10]);

    // Integrated response on (a package's default), but the result is not of that shape.
    for path in ["/shape/bad", "/anything/else"] {
        let r = server.client().get(path);
        assert_eq!(r.status, 403, "{path}: {r:?}");
        let v = error_json(&r);
        assert_eq!(v["errno"], 403);
        assert!(
            v["error"].as_str().is_some_and(
                |e| e.ends_with("Invalid scf response. expected scf response valid JSON.")
            ),
            "{v}"
        );
    }

    let r = server.client().get("/shape/fail");
    assert_eq!(r.status, 502, "{r:?}");
    let v = error_json(&r);
    assert_eq!(v["errno"], 502);
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("handler raised")),
        "{v}"
    );

    // scfrt's default timeout is 3 s; the handler sleeps 10.
    let r = server.client().get("/shape/slow");
    assert_eq!(r.status, 504, "{r:?}");
    assert_eq!(error_json(&r)["errno"], 504);

    // The instance that timed out was replaced: the next request still works.
    let r = server.client().get("/shape/text");
    assert_eq!(r.status, 201, "{r:?}");
    assert!(server.stderr().contains("ANY"), "{}", server.stderr());
}

#[test]
fn sixteen_concurrent_requests_on_four_instances_then_sigterm_kills_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bootstrap(
        dir.path(),
        r#"ready
while true; do
  EV=$(next)
  P=$(printf '%s' "$EV" | sed -n 's/.*"path":"\(\/c\/[0-9]*\)".*/\1/p')
  sleep 0.3
  respond "{\"statusCode\":200,\"headers\":{\"Content-Type\":\"text/plain\"},\"body\":\"$P $$\"}"
done"#,
    );
    let mut server = Server::start(&[dir.path().to_str().expect("utf-8"), "--max-instances", "4"]);
    let port = server.port;
    let threads: Vec<_> = (0..16)
        .map(|i| std::thread::spawn(move || (i, RawClient::connect(port).get(&format!("/c/{i}")))))
        .collect();
    let mut pids = std::collections::BTreeSet::new();
    for t in threads {
        let (i, r) = t.join().expect("client thread");
        assert_eq!(r.status, 200, "{r:?}");
        let body = String::from_utf8(r.body).expect("utf-8");
        let (path, pid) = body.split_once(' ').expect("path and pid");
        assert_eq!(path, format!("/c/{i}"), "request {i} got another's answer");
        pids.insert(pid.parse::<i32>().expect("pid"));
    }
    assert!(
        (2..=4).contains(&pids.len()),
        "16 requests of 0.3 s ran on {} instances (at most 4): {pids:?}",
        pids.len()
    );
    for pid in &pids {
        assert!(!process_gone(*pid), "instance {pid} should still be warm");
    }
    server.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pids.iter().all(|p| process_gone(*p)) {
        assert!(
            Instant::now() < deadline,
            "instances outlived start-api: {pids:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn usage_error(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_scfrt"))
        .arg("start-api")
        .args(args)
        .args(["--port", "0"])
        .output()
        .expect("run scfrt");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(
        o.stdout.is_empty(),
        "nothing listened: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    stderr
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let code = d.join("code");
    std::fs::create_dir_all(&code).expect("mkdir");
    write_bootstrap(
        &code,
        "ready\nwhile true; do next >/dev/null; respond ok; done",
    );

    // A template that does not load: the ProjectError, with file and line.
    let bad = d.join("bad.yml");
    std::fs::write(
        &bad,
        "component: scf\nname: x\ninputs:\n  src: ./code\n  memorySize: lots\n",
    )
    .expect("write");
    let e = usage_error(&["--template", bad.to_str().expect("utf-8")]);
    assert!(e.contains("bad.yml:5") && e.contains("memorySize"), "{e}");

    // A web function whose package has `bootstrap` but no `scf_bootstrap`.
    let web = d.join("web.yml");
    std::fs::write(
        &web,
        "component: scf\nname: site\ninputs:\n  src: ./code\n  type: web\n  events:\n    - apigw:\n        \
         parameters:\n          endpoints:\n            - path: /\n",
    )
    .expect("write");
    let e = usage_error(&["--template", web.to_str().expect("utf-8")]);
    assert!(
        e.contains("function `site-dev-site`") && e.contains("scf_bootstrap not found"),
        "{e}"
    );

    // Two endpoints with the same method and path.
    let dup = d.join("dup.yml");
    std::fs::write(
        &dup,
        "component: scf\nname: dup\ninputs:\n  src: ./code\n  events:\n    - apigw:\n        \
         parameters:\n          endpoints:\n            - path: /users/{id}\n              method: GET\n            \
         - path: /users/{uid}\n              method: get\n",
    )
    .expect("write");
    let e = usage_error(&["--template", dup.to_str().expect("utf-8")]);
    assert!(
        e.contains("same method and path") && e.contains("GET /users/{id}"),
        "{e}"
    );

    // A directory with neither bootstrap nor project file.
    let empty = tempfile::tempdir().expect("tempdir");
    let e = usage_error(&[empty.path().to_str().expect("utf-8")]);
    assert!(e.contains("neither a `bootstrap`"), "{e}");
}

#[test]
fn a_per_second_timer_of_the_project_fires_while_the_api_serves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let code = dir.path().join("code");
    std::fs::create_dir(&code).expect("mkdir");
    write_bootstrap(
        &code,
        "ready\nwhile true; do\n  ev=$(next)\n  echo \"event=$ev\"\n  respond '{\"statusCode\":200,\"body\":\"ok\"}'\ndone",
    );
    std::fs::write(
        dir.path().join("serverless.yml"),
        "component: scf\nname: clock\ninputs:\n  src: ./code\n  events:\n    - timer:\n        \
         parameters:\n          name: tick\n          cronExpression: '* * * * * * *'\n          \
         enable: true\n          argument: hello-timer\n    - timer:\n        parameters:\n          \
         name: off\n          cronExpression: '* * * * * * *'\n    - apigw:\n        parameters:\n          \
         endpoints:\n            - path: /\n              method: GET\n",
    )
    .expect("write");
    let server = Server::start(&[dir.path().to_str().expect("utf-8")]);
    server.wait_stderr("scfrt start-api: timer of clock-dev-clock fired: ");
    let log = server.stderr();
    let event: serde_json::Value = log
        .lines()
        .find_map(|l| l.split_once("event=").map(|(_, e)| e))
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_else(|| panic!("no timer event in the log: {log}"));
    assert_eq!(event["Type"], "Timer");
    assert_eq!(event["TriggerName"], "tick");
    assert_eq!(event["Message"], "hello-timer");
    // The trigger left disabled (`enable` defaults to false) never fires.
    assert!(!log.contains("\"TriggerName\":\"off\""), "{log}");
    // The API answers meanwhile.
    let r = send(server.port, "GET", "/", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
}
