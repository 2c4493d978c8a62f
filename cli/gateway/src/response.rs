//! A function's result mapped back to an HTTP response as API Gateway maps it
//! (docs/triggers.md, "A local API Gateway: scfrt start-api", "The response", which gives the
//! source of each rule or says that it is ours).

use base64::Engine as _;
use scf_emulator::{InvokeResult, STATUS_REQUEST_TOO_LARGE, STATUS_TIMEOUT};
use serde_json::{Value, json};

/// The content type of a result passed as it is, and of the gateway's own error bodies.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// An HTTP response, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Header names and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// A gateway error: `{"errno": status, "error": "requestId ID , message"}` as JSON, the
    /// shape of the platform's error for a malformed integrated response.
    pub fn error(status: u16, request_id: &str, message: &str) -> Answer {
        let body = json!({
            "errno": status,
            "error": format!("requestId {request_id} , {message}"),
        });
        Answer {
            status,
            headers: vec![("Content-Type".into(), JSON_CONTENT_TYPE.into())],
            body: body.to_string().into_bytes(),
        }
    }
}

/// The platform's message for a result that is not an integrated response.
pub const INVALID_INTEGRATED: &str = "Invalid scf response. expected scf response valid JSON.";

/// The HTTP response for `result`, the invocation of request `request_id`, on a route whose
/// integrated response is `integrated`.
///
/// - The function failed: 504 when it timed out, 413 when the event was over the 6 MB limit,
///   else 502; the body names the failure and carries its `ErrMsg`.
/// - Integrated response: the result must be a JSON object with an integer `statusCode`
///   (100-599), optional `headers` (an object of strings, numbers or booleans), optional `body`
///   (a string) and optional `isBase64Encoded` (a boolean; the body is then decoded from
///   base64). `Content-Type` is `application/json` unless the headers set one. Anything else
///   is answered 403 with [`INVALID_INTEGRATED`].
/// - Otherwise the result is the body, status 200, `Content-Type: application/json`.
pub fn answer(result: &InvokeResult, integrated: bool, request_id: &str) -> Answer {
    if !result.succeeded() {
        let (status, what) = match result.status_code {
            STATUS_TIMEOUT => (504, "the function timed out"),
            STATUS_REQUEST_TOO_LARGE => (413, "the event is over the function's 6 MB limit"),
            _ => (502, "the function failed"),
        };
        let message = format!(
            "{what} (InvokeResult {}): {}",
            result.invoke_result, result.err_msg
        );
        return Answer::error(status, request_id, &message);
    }
    if !integrated {
        return Answer {
            status: 200,
            headers: vec![("Content-Type".into(), JSON_CONTENT_TYPE.into())],
            body: result.ret_msg.clone().into_bytes(),
        };
    }
    integrated_answer(&result.ret_msg)
        .unwrap_or_else(|| Answer::error(403, request_id, INVALID_INTEGRATED))
}

/// The integrated response in `ret_msg`, or `None` when it is not one.
fn integrated_answer(ret_msg: &str) -> Option<Answer> {
    let v: Value = serde_json::from_str(ret_msg).ok()?;
    let obj = v.as_object()?;
    let status = obj
        .get("statusCode")?
        .as_u64()
        .filter(|s| (100..=599).contains(s))?;
    let mut headers = Vec::new();
    match obj.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let value = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                if !valid_header(name, &value) {
                    return None;
                }
                headers.push((name.clone(), value));
            }
        }
        Some(_) => return None,
    }
    let base64 = match obj.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return None,
    };
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if base64 => base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .ok()?,
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(_) => return None,
    };
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".into(), JSON_CONTENT_TYPE.into()));
    }
    Some(Answer {
        status: u16::try_from(status).ok()?,
        headers,
        body,
    })
}

/// Whether `name: value` can be sent as an HTTP header; the framing headers are the server's.
fn valid_header(name: &str, value: &str) -> bool {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    !name.is_empty()
        && name.bytes().all(token)
        && !["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        && value
            .bytes()
            .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ret: &str) -> InvokeResult {
        InvokeResult {
            function_request_id: "r".into(),
            ret_msg: ret.into(),
            err_msg: String::new(),
            log: String::new(),
            duration_ms: 1.0,
            bill_duration_ms: 1,
            mem_usage_bytes: 0,
            invoke_result: 0,
            status_code: 200,
            cold_start: false,
        }
    }

    fn failed(status: u16) -> InvokeResult {
        InvokeResult {
            invoke_result: i64::from(status),
            status_code: status,
            err_msg: "boom".into(),
            ret_msg: String::new(),
            ..ok("")
        }
    }

    fn header<'a>(a: &'a Answer, name: &str) -> Option<&'a str> {
        a.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn integrated_text_base64_and_headers() {
        let a = answer(
            &ok(
                r#"{"statusCode":201,"headers":{"Content-Type":"text/html","X-N":3},"body":"<b>hi</b>"}"#,
            ),
            true,
            "id",
        );
        assert_eq!(a.status, 201);
        assert_eq!(header(&a, "content-type"), Some("text/html"));
        assert_eq!(header(&a, "x-n"), Some("3"));
        assert_eq!(a.body, b"<b>hi</b>");
        let a = answer(
            &ok(r#"{"statusCode":200,"isBase64Encoded":true,"body":"AP8="}"#),
            true,
            "id",
        );
        assert_eq!(a.body, [0u8, 0xff]);
        assert_eq!(header(&a, "content-type"), Some(JSON_CONTENT_TYPE));
    }

    #[test]
    fn malformed_integrated_results_are_403() {
        for bad in [
            "plain text",
            "[1]",
            r#"{"body":"x"}"#,
            r#"{"statusCode":"200"}"#,
            r#"{"statusCode":99}"#,
            r#"{"statusCode":200,"headers":[]}"#,
            r#"{"statusCode":200,"headers":{"bad name":"x"}}"#,
            r#"{"statusCode":200,"headers":{"X":"a\nb"}}"#,
            r#"{"statusCode":200,"body":{}}"#,
            r#"{"statusCode":200,"isBase64Encoded":true,"body":"%%%"}"#,
        ] {
            let a = answer(&ok(bad), true, "rid");
            assert_eq!(a.status, 403, "{bad}");
            let v: Value = serde_json::from_slice(&a.body).expect("json");
            assert_eq!(v["errno"], 403);
            assert_eq!(v["error"], format!("requestId rid , {INVALID_INTEGRATED}"));
        }
    }

    #[test]
    fn plain_results_and_failures() {
        let a = answer(&ok("not json at all"), false, "id");
        assert_eq!(
            (a.status, a.body.as_slice()),
            (200, &b"not json at all"[..])
        );
        assert_eq!(answer(&failed(430), true, "id").status, 502);
        assert_eq!(answer(&failed(439), false, "id").status, 502);
        assert_eq!(answer(&failed(STATUS_TIMEOUT), true, "id").status, 504);
        assert_eq!(
            answer(&failed(STATUS_REQUEST_TOO_LARGE), true, "id").status,
            413
        );
        let v: Value =
            serde_json::from_slice(&answer(&failed(430), true, "id").body).expect("json");
        assert!(v["error"].as_str().is_some_and(|e| e.contains("boom")));
    }
}
