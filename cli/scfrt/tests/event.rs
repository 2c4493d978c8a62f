//! `scfrt event <trigger>`: each trigger's event checked field by field against the documented
//! structure (docs/triggers.md), and the usage errors' exit codes and messages.

use std::io::Read as _;
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::Value;

fn scfrt_event(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scfrt"))
        .arg("event")
        .args(args)
        .output()
        .expect("run scfrt")
}

/// Runs `scfrt event ARGS`, expects exit 0 and returns the JSON it printed.
fn event(args: &[&str]) -> Value {
    let out = scfrt_event(args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "scfrt event {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Runs `scfrt event ARGS`, expects exit 2 and returns stderr.
fn usage_error(args: &[&str]) -> String {
    let out = scfrt_event(args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "scfrt event {args:?} should fail with 2"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout when the input is bad"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn string<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v}"))
}

fn object<'a>(v: &'a Value, key: &str) -> &'a serde_json::Map<String, Value> {
    v.get(key)
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("`{key}` is not an object in {v}"))
}

fn integer(v: &Value, key: &str) -> u64 {
    v.get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("`{key}` is not an integer in {v}"))
}

fn records<'a>(ev: &'a Value, inner: &str) -> Vec<&'a Value> {
    let recs = ev["Records"].as_array().expect("Records is an array");
    recs.iter()
        .map(|r| {
            r.get(inner)
                .unwrap_or_else(|| panic!("record without `{inner}`: {r}"))
        })
        .collect()
}

#[test]
fn apigw_event_has_every_documented_key() {
    let ev = event(&[
        "apigw",
        "--method",
        "post",
        "--path",
        "/users/42",
        "--route",
        "/users/{id}",
        "--query",
        "a=1",
        "--query",
        "b=two words",
        "--query",
        "a=2",
        "--header",
        "Content-Type: application/json",
        "--header",
        "X-Trace:abc",
        "--body",
        r#"{"k":"v"}"#,
        "--stage",
        "test",
    ]);
    let ctx = object(&ev, "requestContext");
    let ctx = Value::Object(ctx.clone());
    assert!(string(&ctx, "serviceId").starts_with("service-"));
    assert_eq!(string(&ctx, "path"), "/users/{id}");
    assert_eq!(string(&ctx, "httpMethod"), "POST");
    assert!(!string(&ctx, "requestId").is_empty());
    assert!(object(&ctx, "identity").is_empty());
    assert_eq!(string(&ctx, "sourceIp"), "127.0.0.1");
    assert_eq!(string(&ctx, "stage"), "test");

    let headers = object(&ev, "headers");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-trace"], "abc");
    assert_eq!(string(&ev, "body"), r#"{"k":"v"}"#);
    assert!(
        ev.get("isBase64Encoded").is_none(),
        "a text body is not encoded"
    );
    assert_eq!(object(&ev, "pathParameters")["id"], "42");
    let qsp = object(&ev, "queryStringParameters");
    assert_eq!(qsp["a"], "2");
    assert_eq!(qsp["b"], "two words");
    assert_eq!(
        object(&ev, "headerParameters")["Content-Type"],
        "application/json"
    );
    assert_eq!(object(&ev, "stageVariables")["stage"], "test");
    assert_eq!(string(&ev, "path"), "/users/42");
    let qs = object(&ev, "queryString");
    assert_eq!(qs["a"], serde_json::json!(["1", "2"]));
    assert_eq!(qs["b"], "two words");
    assert_eq!(string(&ev, "httpMethod"), "POST");
}

#[test]
fn apigw_defaults_and_binary_body_file() {
    let ev = event(&["apigw"]);
    assert_eq!(ev["httpMethod"], "GET");
    assert_eq!(ev["path"], "/");
    assert_eq!(ev["requestContext"]["stage"], "release");
    assert!(
        ev.get("body").is_none(),
        "a GET without a body has no `body`"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob.bin");
    let bytes = [0x89u8, b'P', b'N', b'G', 0, 0xff, 0xfe];
    std::fs::write(&file, bytes).unwrap();
    let ev = event(&[
        "apigw",
        "--method",
        "PUT",
        "--body-file",
        file.to_str().unwrap(),
    ]);
    assert_eq!(ev["isBase64Encoded"], true);
    let body = base64::engine::general_purpose::STANDARD
        .decode(string(&ev, "body"))
        .expect("the body is base64");
    assert_eq!(body, bytes);
}

#[test]
fn timer_event() {
    let ev = event(&[
        "timer",
        "--name",
        "nightly",
        "--message",
        "backup",
        "--time",
        "2019-02-21T11:49:00Z",
    ]);
    assert_eq!(string(&ev, "Type"), "Timer");
    assert_eq!(string(&ev, "TriggerName"), "nightly");
    assert_eq!(string(&ev, "Time"), "2019-02-21T11:49:00Z");
    assert_eq!(string(&ev, "Message"), "backup");

    let now = event(&["timer"]);
    let t = string(&now, "Time");
    assert_eq!(t.len(), 20, "{t}");
    assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
}

#[test]
fn cos_event() {
    let ev = event(&[
        "cos",
        "--bucket",
        "photos-1250000000",
        "--key",
        "cats/tom.jpg",
        "--size",
        "2048",
        "--event-name",
        "cos:ObjectRemove:Delete",
        "--region",
        "ap-beijing",
    ]);
    let recs = ev["Records"].as_array().expect("Records");
    assert_eq!(recs.len(), 1);
    let cos = &recs[0]["cos"];
    assert_eq!(string(cos, "cosSchemaVersion"), "1.0");
    string(cos, "cosNotificationId");
    let obj = &cos["cosObject"];
    assert_eq!(
        string(obj, "url"),
        "http://photos-1250000000.cos.ap-beijing.myqcloud.com/cats/tom.jpg"
    );
    assert!(object(obj, "meta").contains_key("x-cos-request-id"));
    string(obj, "vid");
    assert_eq!(string(obj, "key"), "/1250000000/photos/cats/tom.jpg");
    assert_eq!(integer(obj, "size"), 2048);
    let bucket = &cos["cosBucket"];
    assert_eq!(string(bucket, "region"), "bj");
    assert_eq!(string(bucket, "name"), "photos");
    assert_eq!(string(bucket, "appid"), "1250000000");

    let meta = &recs[0]["event"];
    assert_eq!(string(meta, "eventName"), "cos:ObjectRemove:Delete");
    assert_eq!(string(meta, "eventVersion"), "1.0");
    assert!(integer(meta, "eventTime") > 1_500_000_000);
    assert_eq!(string(meta, "eventSource"), "qcs::cos");
    let params = &meta["requestParameters"];
    string(params, "requestSourceIP");
    object(params, "requestHeaders");
    assert!(string(meta, "eventQueue").starts_with("qcs:0:lambda:bj:appid/1250000000:"));
    string(meta, "reservedInfo");
    integer(meta, "reqid");
}

#[test]
fn cmq_event_records() {
    let ev = event(&[
        "cmq",
        "--topic",
        "orders",
        "--message",
        "a",
        "--message",
        "b",
        "--count",
        "3",
        "--tag",
        "x",
        "--tag",
        "y",
    ]);
    let recs = records(&ev, "CMQ");
    assert_eq!(recs.len(), 3);
    let bodies: Vec<&str> = recs.iter().map(|r| string(r, "msgBody")).collect();
    assert_eq!(bodies, ["a", "b", "a"]);
    for r in &recs {
        assert_eq!(string(r, "type"), "topic");
        integer(r, "topicOwner");
        assert_eq!(string(r, "topicName"), "orders");
        string(r, "subscriptionName");
        assert_eq!(string(r, "publishTime").len(), 20);
        string(r, "msgId");
        string(r, "requestId");
        assert_eq!(string(r, "msgTag"), "x, y");
    }
    assert_ne!(recs[0]["msgId"], recs[1]["msgId"]);
}

#[test]
fn ckafka_event_records() {
    let ev = event(&[
        "ckafka",
        "--topic",
        "clicks",
        "--message",
        "m1",
        "--message",
        "m2",
        "--key",
        "k",
        "--offset",
        "10",
    ]);
    let recs = records(&ev, "Ckafka");
    assert_eq!(recs.len(), 2);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(string(r, "topic"), "clicks");
        assert_eq!(integer(r, "partition"), 0);
        assert_eq!(integer(r, "offset"), 10 + i as u64);
        assert_eq!(string(r, "msgKey"), "k");
        assert_eq!(string(r, "msgBody"), ["m1", "m2"][i]);
    }
    assert_eq!(
        records(&event(&["ckafka", "--count", "5"]), "Ckafka").len(),
        5
    );
}

#[test]
fn cls_event_is_base64_of_gzip_of_json() {
    let ev = event(&[
        "cls",
        "--topic",
        "app-log",
        "--message",
        "line one",
        "--message",
        "line two",
    ]);
    assert_eq!(object(&ev, "clslogs").len(), 1, "clslogs holds only data");
    let data = string(&ev["clslogs"], "data");
    let gz = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("data is base64");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .expect("data is gzip");
    let logs: Value = serde_json::from_str(&text).expect("the logs are JSON");
    assert_eq!(string(&logs, "topic_name"), "app-log");
    assert!(!string(&logs, "topic_id").is_empty());
    let recs = logs["records"].as_array().expect("records");
    assert_eq!(recs.len(), 2);
    for (i, r) in recs.iter().enumerate() {
        let ts = string(r, "timestamp");
        assert!(
            ts.len() == 16 && ts.bytes().all(|b| b.is_ascii_digit()),
            "microseconds: {ts}"
        );
        assert_eq!(string(r, "content"), ["line one", "line two"][i]);
    }
}

#[test]
fn unknown_trigger_lists_the_known_ones() {
    let err = usage_error(&["s3"]);
    assert!(err.contains("unknown trigger `s3`"), "{err}");
    for t in ["apigw", "timer", "cos", "cmq", "ckafka", "cls"] {
        assert!(err.contains(t), "{t} missing from: {err}");
    }
}

#[test]
fn help_lists_the_triggers() {
    let out = scfrt_event(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for t in ["apigw", "timer", "cos", "cmq", "ckafka", "cls"] {
        assert!(help.contains(t), "{t} missing from: {help}");
    }
}

#[test]
fn bad_options_exit_2_naming_what_was_wrong() {
    let err = usage_error(&["apigw", "--query", "novalue"]);
    assert!(
        err.contains("--query") && err.contains("novalue") && err.contains("KEY=VALUE"),
        "{err}"
    );
    let err = usage_error(&["apigw", "--header", "NoColon"]);
    assert!(err.contains("--header") && err.contains("NoColon"), "{err}");
    let err = usage_error(&["cos", "--size", "12kb"]);
    assert!(err.contains("--size") && err.contains("12kb"), "{err}");
    let err = usage_error(&["cos", "--bucket", "nobucketappid"]);
    assert!(err.contains("NAME-APPID"), "{err}");
    let err = usage_error(&["timer", "--time", "yesterday"]);
    assert!(
        err.contains("--time") && err.contains("YYYY-MM-DDTHH:MM:SSZ"),
        "{err}"
    );
    let err = usage_error(&["apigw", "--path", "/a/b", "--route", "/c/{x}"]);
    assert!(err.contains("does not match --route"), "{err}");
    let err = usage_error(&["apigw", "--body-file", "/nonexistent/scfrt-body"]);
    assert!(err.contains("cannot read --body-file"), "{err}");
    let err = usage_error(&["cmq", "--count", "0"]);
    assert!(err.contains("--count"), "{err}");
}
