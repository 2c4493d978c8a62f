//! Sample events written from the structures Tencent documents for each trigger
//! (docs/events.md, "Event sources"), in our own values, and the leniency the platform needs.

use scf_events::{
    ApiGatewayRequest, ApiGatewayResponse, CkafkaEvent, CmqEvent, CosEvent, MultiValue, TimerEvent,
};

const APIGW: &str = r#"{
  "requestContext": {
    "serviceId": "service-k3d9x1qa",
    "path": "/orders/{orderId}",
    "httpMethod": "ANY",
    "requestId": "5f0e3a52-0000-4c1e-8d2b-7e9a41c0ffee",
    "identity": {"secretId": "AKIDexample0001"},
    "sourceIp": "203.0.113.9",
    "stage": "prepub"
  },
  "headers": {"Host": "service-k3d9x1qa-1250000000.gz.apigw.tencentcs.com", "Accept": "*/*",
              "X-Trace": ["t1", "t2"]},
  "body": "{\"qty\":3}",
  "pathParameters": {"orderId": "42"},
  "queryStringParameters": {"verbose": "1"},
  "headerParameters": {"X-Shop": "north"},
  "stageVariables": {"stage": "prepub"},
  "path": "/orders/42",
  "queryString": {"verbose": "1", "lang": "zh"},
  "httpMethod": "PATCH",
  "isBase64Encoded": false
}"#;

#[test]
fn api_gateway_event() {
    let e: ApiGatewayRequest = serde_json::from_str(APIGW).expect("sample");
    let ctx = &e.request_context;
    assert_eq!(ctx.service_id, "service-k3d9x1qa");
    assert_eq!(ctx.path, "/orders/{orderId}");
    assert_eq!(ctx.http_method, "ANY");
    assert_eq!(ctx.request_id, "5f0e3a52-0000-4c1e-8d2b-7e9a41c0ffee");
    assert_eq!(ctx.identity.secret_id.as_deref(), Some("AKIDexample0001"));
    assert_eq!(ctx.source_ip, "203.0.113.9");
    assert_eq!(ctx.stage, "prepub");
    assert_eq!(
        e.header("accept"),
        Some("*/*"),
        "header names are matched in any case"
    );
    assert_eq!(
        e.headers["X-Trace"],
        MultiValue::Many(vec!["t1".into(), "t2".into()])
    );
    assert_eq!(e.body.as_deref(), Some(r#"{"qty":3}"#));
    assert_eq!(e.body_bytes().expect("text body"), br#"{"qty":3}"#);
    assert_eq!(e.path_parameters["orderId"], "42");
    assert_eq!(e.query_string_parameters["verbose"], "1");
    assert_eq!(e.header_parameters["X-Shop"], "north");
    assert_eq!(e.stage_variables["stage"], "prepub");
    assert_eq!(e.path, "/orders/42");
    assert_eq!(e.query("lang"), Some("zh"));
    assert_eq!(e.query("missing"), None);
    assert_eq!(e.http_method, "PATCH");
    assert!(!e.is_base64_encoded);

    // Written back and read again, nothing is lost.
    let again: ApiGatewayRequest =
        serde_json::from_value(serde_json::to_value(&e).expect("serializes")).expect("reads");
    assert_eq!(again, e);
}

#[test]
fn api_gateway_event_is_lenient_where_the_platform_is() {
    // The API Gateway doc's own sample has an empty identity, no requestId, no isBase64Encoded;
    // a GET has no body; values may be null or numbers.
    let e: ApiGatewayRequest = serde_json::from_str(
        r#"{"requestContext": {"httpMethod": "ANY", "identity": {}, "stage": "release"},
            "headers": {"x-count": 3, "x-empty": null}, "body": null,
            "queryString": {"page": 2, "flag": true}, "queryStringParameters": null,
            "httpMethod": "GET", "isBase64Encoded": "true", "extra": {"ignored": 1}}"#,
    )
    .expect("lenient");
    assert_eq!(e.request_context.request_id, "");
    assert_eq!(e.request_context.identity.secret_id, None);
    assert_eq!(e.header("X-Count"), Some("3"));
    assert_eq!(e.header("x-empty"), Some(""));
    assert_eq!(e.body, None);
    assert_eq!(e.body_bytes().expect("no body"), b"");
    assert_eq!(e.query("page"), Some("2"));
    assert_eq!(e.query("flag"), Some("true"));
    assert!(e.query_string_parameters.is_empty());
    assert!(e.path.is_empty());
    assert!(e.is_base64_encoded);

    let empty: ApiGatewayRequest = serde_json::from_str("{}").expect("all optional");
    assert_eq!(empty, ApiGatewayRequest::default());

    // What cannot be read at all is still an error, naming the field's problem.
    let err = serde_json::from_str::<ApiGatewayRequest>(r#"{"headers": {"a": {"b": 1}}}"#)
        .expect_err("an object is no header value");
    assert!(
        err.to_string()
            .contains("expected a string or a list, found an object"),
        "{err}"
    );
}

#[test]
fn api_gateway_base64_body() {
    let e: ApiGatewayRequest =
        serde_json::from_str(r#"{"httpMethod":"POST","body":"3q2+7w==","isBase64Encoded":true}"#)
            .expect("sample");
    assert_eq!(e.body_bytes().expect("base64"), [0xde, 0xad, 0xbe, 0xef]);
    let bad: ApiGatewayRequest =
        serde_json::from_str(r#"{"body":"not base64!","isBase64Encoded":true}"#).expect("reads");
    assert!(bad.body_bytes().is_err());
}

#[test]
fn integrated_response_shape() {
    let r = ApiGatewayResponse::json(201, &serde_json::json!({"id": 42}))
        .expect("json")
        .with_header("X-Id", "42");
    assert_eq!(
        serde_json::to_value(&r).expect("serializes"),
        serde_json::json!({"isBase64Encoded": false, "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Id": "42"}, "body": "{\"id\":42}"})
    );
    let t = ApiGatewayResponse::text(404, "no such page").with_header("content-type", "text/html");
    assert_eq!(
        t.headers.len(),
        1,
        "with_header replaces a name in any case: {t:?}"
    );
    assert_eq!(t.headers["content-type"], "text/html");
    let b = ApiGatewayResponse::binary(200, "image/gif", b"GIF89a");
    assert!(b.is_base64_encoded);
    assert_eq!(b.body, "R0lGODlh");
    assert_eq!(b.body_bytes().expect("base64"), b"GIF89a");

    // Read back leniently: a status written as a string, headers missing.
    let read: ApiGatewayResponse =
        serde_json::from_str(r#"{"statusCode":"302","body":"","isBase64Encoded":false}"#)
            .expect("lenient");
    assert_eq!((read.status_code, read.headers.len()), (302, 0));
    assert!(serde_json::from_str::<ApiGatewayResponse>(r#"{"statusCode":"abc"}"#).is_err());
}

#[test]
fn timer_event() {
    let e: TimerEvent = serde_json::from_str(
        r#"{"Type":"Timer","TriggerName":"nightly-report","Time":"2024-05-01T02:30:00Z","Message":"full"}"#,
    )
    .expect("sample");
    assert_eq!(e.r#type, "Timer");
    assert_eq!(e.trigger_name, "nightly-report");
    assert_eq!(e.time, "2024-05-01T02:30:00Z");
    assert_eq!(e.message, "full");
    let bare: TimerEvent =
        serde_json::from_str(r#"{"Type":"Timer","TriggerName":"t","Time":"2024-05-01T00:00:00Z"}"#)
            .expect("no message");
    assert_eq!(bare.message, "");
}

#[test]
fn cos_event() {
    let e: CosEvent = serde_json::from_str(
        r#"{"Records": [{
            "cos": {
                "cosSchemaVersion": "1.0",
                "cosObject": {
                    "url": "http://photos-1250000000.cos.ap-shanghai.myqcloud.com/2024/cat.jpg",
                    "meta": {"x-cos-request-id": "NjYxMzAw", "Content-Type": "image/jpeg",
                             "x-cos-meta-owner": "li"},
                    "vid": "",
                    "key": "/1250000000/photos/2024/cat.jpg",
                    "size": 48213
                },
                "cosBucket": {"region": "sh", "name": "photos", "appid": 1250000000},
                "cosNotificationId": "unkown"
            },
            "event": {
                "eventName": "cos:ObjectCreated:Put",
                "eventVersion": "1.0",
                "eventTime": 1714530600,
                "eventSource": "qcs::cos",
                "requestParameters": {"requestSourceIP": "198.51.100.7",
                                      "requestHeaders": {"Authorization": "q-sign-algorithm=sha1"}},
                "eventQueue": "qcs:0:scf:sh:appid/1250000000:default.thumbs.$LATEST",
                "reservedInfo": "",
                "reqid": 987654321
            }
        }]}"#,
    )
    .expect("sample");
    let r = &e.records[0];
    assert_eq!(r.cos.cos_schema_version, "1.0");
    assert_eq!(r.cos.cos_object.key, "/1250000000/photos/2024/cat.jpg");
    assert_eq!(r.cos.cos_object.size, 48213);
    assert_eq!(r.cos.cos_object.meta["x-cos-meta-owner"], "li");
    assert_eq!(r.cos.cos_object.vid, "");
    assert_eq!(
        r.cos.cos_bucket.appid, "1250000000",
        "a numeric appid is read as text"
    );
    assert_eq!(r.cos.cos_bucket.region, "sh");
    assert_eq!(r.event.event_name, "cos:ObjectCreated:Put");
    assert_eq!(r.event.event_time, 1714530600);
    assert_eq!(r.event.request_parameters.request_source_ip, "198.51.100.7");
    assert_eq!(
        r.event.request_parameters.request_headers["Authorization"],
        "q-sign-algorithm=sha1"
    );
    assert_eq!(r.event.reqid, 987654321);
    assert!(r.event.event_queue.ends_with("$LATEST"));
    // Written back with the platform's names.
    let json = serde_json::to_value(&e).expect("serializes");
    assert_eq!(
        json["Records"][0]["event"]["requestParameters"]["requestSourceIP"],
        "198.51.100.7"
    );
    assert_eq!(
        json["Records"][0]["cos"]["cosBucket"]["appid"],
        "1250000000"
    );
}

#[test]
fn cmq_event() {
    let e: CmqEvent = serde_json::from_str(
        r#"{"Records": [{"CMQ": {
            "type": "topic", "topicOwner": 100012345678, "topicName": "orders",
            "subscriptionName": "order-fn", "publishTime": "2024-05-01T08:00:00.123Z",
            "msgId": "6942316962", "requestId": "15395853485829", "msgBody": "order 42 paid",
            "msgTag": ["paid", "vip"]}}]}"#,
    )
    .expect("sample");
    let m = &e.records[0].cmq;
    assert_eq!(m.r#type, "topic");
    assert_eq!(m.topic_owner, 100012345678);
    assert_eq!(m.topic_name, "orders");
    assert_eq!(m.subscription_name, "order-fn");
    assert_eq!(m.publish_time, "2024-05-01T08:00:00.123Z");
    assert_eq!(m.msg_id, "6942316962");
    assert_eq!(m.request_id, "15395853485829");
    assert_eq!(m.msg_body, "order 42 paid");
    assert_eq!(m.msg_tag, ["paid", "vip"]);
    // Some pages write the tags as one string, and the owner as a string.
    let e: CmqEvent = serde_json::from_str(
        r#"{"Records":[{"CMQ":{"topicOwner":"77","msgTag":"a, b","msgBody":"x"}}]}"#,
    )
    .expect("lenient");
    assert_eq!(e.records[0].cmq.topic_owner, 77);
    assert_eq!(e.records[0].cmq.msg_tag, ["a", "b"]);
}

#[test]
fn ckafka_event() {
    let e: CkafkaEvent = serde_json::from_str(
        r#"{"Records": [
            {"Ckafka": {"topic": "clicks", "partition": 3, "offset": 1024, "msgKey": "user-9",
                        "msgBody": "{\"page\":\"/\"}"}},
            {"Ckafka": {"topic": "clicks", "partition": 3, "offset": 1025, "msgKey": "None",
                        "msgBody": "second"}}]}"#,
    )
    .expect("sample");
    assert_eq!(e.records.len(), 2);
    let m = &e.records[0].ckafka;
    assert_eq!(
        (m.topic.as_str(), m.partition, m.offset),
        ("clicks", 3, 1024)
    );
    assert_eq!(m.msg_key, "user-9");
    assert_eq!(m.msg_body, r#"{"page":"/"}"#);
    assert_eq!(e.records[1].ckafka.offset, 1025);
    assert_eq!(e.records[1].ckafka.msg_key, "None");
    let none: CkafkaEvent = serde_json::from_str(r#"{"Records": null}"#).expect("lenient");
    assert!(none.records.is_empty());
}
