//! `scfrt logs`: a function's recent invocations and their logs, through `GetFunctionLogs`
//! (docs/platform.md section 5), from SCF or from `scfrt serve` (docs/deploy.md, docs/scfrt.md).
//!
//! [`get_function_logs`] calls the action and checks the answer's shape; [`render`] prints it
//! for people.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::client::{Client, CloudError};

/// `GetFunctionLogs` parameters; `None` leaves a parameter to the API's default.
#[derive(Debug, Clone, Default)]
pub struct LogsRequest {
    /// `FunctionName`.
    pub name: String,
    /// `Namespace`.
    pub namespace: String,
    /// `Limit` (the API's default is 20; `Offset + Limit` may not pass 10000).
    pub limit: Option<u32>,
    /// `Offset`.
    pub offset: Option<u32>,
    /// `FunctionRequestId`: only this invocation.
    pub request_id: Option<String>,
    /// `Filter.RetCode`: `is0`, `not0`, `TimeLimitExceeded`, `ResourceLimitExceeded`,
    /// `UserCodeException`.
    pub ret_code: Option<String>,
}

/// Calls `GetFunctionLogs` and returns the `Response` object
/// (`{"TotalCount":..,"Data":[..],"RequestId":..}`), newest invocation first.
///
/// # Errors
/// As [`Client::call`]; [`CloudError::BadResponse`] when `Data` is not a list.
pub fn get_function_logs(client: &Client, req: &LogsRequest) -> Result<Value, CloudError> {
    let mut params = json!({
        "FunctionName": req.name,
        "Namespace": req.namespace,
        "Order": "desc",
        "OrderBy": "start_time",
    });
    if let Some(limit) = req.limit {
        params["Limit"] = json!(limit);
    }
    if let Some(offset) = req.offset {
        params["Offset"] = json!(offset);
    }
    if let Some(id) = &req.request_id {
        params["FunctionRequestId"] = json!(id);
    }
    if let Some(code) = &req.ret_code {
        params["Filter"] = json!({ "RetCode": code });
    }
    let r = client.call("GetFunctionLogs", &params)?;
    if r.get("Data").is_none_or(|v| !v.is_array()) {
        return Err(CloudError::BadResponse {
            endpoint: client.endpoint().to_string(),
            action: "GetFunctionLogs".into(),
            message: "no Data list in the response".into(),
        });
    }
    Ok(r)
}

/// The answer for people: per invocation a header line (start time, request id, `RetCode`,
/// duration, memory), the message of a failure, then its log; and a closing count.
///
/// ```text
/// 2024-05-16 20:00:00  RequestId 3f2a..  RetCode 430  Duration 12.35 ms  MemUsage 3.2 MB
///   RetMsg: {"errorMessage":"..."}
/// START RequestId: 3f2a..
/// ...
/// ```
pub fn render(response: &Value) -> String {
    let mut out = String::new();
    let data = response
        .get("Data")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for entry in data {
        let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("");
        let ret_code = entry.get("RetCode").and_then(Value::as_i64).unwrap_or(0);
        let duration = entry.get("Duration").and_then(Value::as_f64).unwrap_or(0.0);
        let mem = entry.get("MemUsage").and_then(Value::as_f64).unwrap_or(0.0);
        let _ = writeln!(
            out,
            "{}  RequestId {}  RetCode {ret_code}  Duration {duration:.2} ms  MemUsage {:.1} MB",
            text("StartTime"),
            text("RequestId"),
            mem / (1024.0 * 1024.0),
        );
        if ret_code != 0 && !text("RetMsg").is_empty() {
            let _ = writeln!(out, "  RetMsg: {}", text("RetMsg"));
        }
        let log = text("Log");
        out.push_str(log);
        if !log.is_empty() && !log.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
    }
    let total = response
        .get("TotalCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let _ = writeln!(out, "{} of {total} invocation(s), newest first", data.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_header_failure_and_log() {
        let r = json!({
            "TotalCount": 3,
            "Data": [
                {"StartTime": "2024-05-16 20:00:01", "RequestId": "b", "RetCode": 430,
                 "RetMsg": "{\"errorMessage\":\"boom\"}", "Duration": 12.345, "MemUsage": 3_355_443,
                 "Log": "START RequestId: b\nline\nEND RequestId: b"},
                {"StartTime": "2024-05-16 20:00:00", "RequestId": "a", "RetCode": 0,
                 "RetMsg": "ok", "Duration": 1.0, "MemUsage": 0, "Log": ""},
            ],
            "RequestId": "x",
        });
        assert_eq!(
            render(&r),
            "2024-05-16 20:00:01  RequestId b  RetCode 430  Duration 12.35 ms  MemUsage 3.2 MB\n\
             \x20 RetMsg: {\"errorMessage\":\"boom\"}\n\
             START RequestId: b\nline\nEND RequestId: b\n\n\
             2024-05-16 20:00:00  RequestId a  RetCode 0  Duration 1.00 ms  MemUsage 0.0 MB\n\n\
             2 of 3 invocation(s), newest first\n"
        );
        assert_eq!(
            render(&json!({"TotalCount": 0, "Data": []})),
            "0 of 0 invocation(s), newest first\n"
        );
    }
}
