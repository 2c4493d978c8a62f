//! `GetFunctionLogs`: a function's recent invocations, with their logs, as the API answers them
//! (docs/platform.md section 5; what `scfrt serve` keeps and how it answers: docs/scfrt.md).
//!
//! Every finished invocation (`Invoke` and `InvokeFunction`, synchronous or `Event`, success or
//! failure) is one JSON line of the invocation log (`record`); this module reads those lines
//! back, filters, sorts and pages them. Times in `StartTime`/`EndTime` and in each entry's
//! `StartTime` are `YYYY-MM-DD HH:MM:SS` in UTC+8 (China Standard Time), as the API's examples
//! show them (docs/platform.md section 5).

use std::cmp::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use scf_cloud::api::{ApiError, Params, success_envelope};
use scf_cloud::tc3;
use scf_emulator::InvokeResult;

use crate::App;

/// `Limit` when none (or 0) is given (docs/platform.md section 4).
pub const DEFAULT_LIMIT: usize = 20;
/// Most `Offset + Limit` (docs/platform.md section 4).
pub const MAX_OFFSET_PLUS_LIMIT: usize = 10_000;
/// Most bytes of `RetMsg` and `ErrMsg` kept in the invocation log for each invocation (the start
/// is kept); the `Log` kept is the last 4 KB of the invocation's log, as with `LogType=Tail`.
pub const MAX_KEPT_MSG_BYTES: usize = 64 * 1024;
/// Seconds east of UTC of the times the API takes and returns: UTC+8 (docs/platform.md section 4).
pub const API_UTC_OFFSET_S: i64 = 8 * 3600;
/// Most seconds between `StartTime` and `EndTime`, a day (docs/platform.md section 4).
pub const MAX_WINDOW_S: i64 = 86_400;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn unix_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The first `max` bytes of `s`, cut back to a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The invocation log's line for a finished invocation of `namespace`/`name` at `qualifier` (`kind`:
/// `RequestResponse`, `InvokeFunction`, `Event`, or `Timer` for a timer trigger), which ended at
/// `end_ms`.
pub(crate) fn record(
    namespace: &str,
    name: &str,
    qualifier: &str,
    kind: &str,
    r: &InvokeResult,
    end_ms: i64,
) -> Value {
    // Whole milliseconds: the duration is at most the timeout (900 s).
    let start_ms = end_ms.saturating_sub(r.duration_ms.ceil() as i64);
    json!({
        "Time": tc3::utc_datetime(end_ms.div_euclid(1000)),
        "StartTimeMs": start_ms,
        "Namespace": namespace,
        "FunctionName": name,
        // The version that ran ($LATEST or a number), as `GetFunctionLogs` filters on it.
        "Qualifier": qualifier,
        "FunctionVersion": qualifier,
        "InvocationType": kind,
        "FunctionRequestId": r.function_request_id,
        "InvokeResult": r.invoke_result,
        "StatusCode": r.status_code,
        "RetMsg": cut(&r.ret_msg, MAX_KEPT_MSG_BYTES),
        "ErrMsg": cut(&r.err_msg, MAX_KEPT_MSG_BYTES),
        "Duration": r.duration_ms,
        "BillDuration": r.bill_duration_ms,
        "MemUsage": r.mem_usage_bytes,
        "ColdStart": r.cold_start,
        "Log": r.log,
    })
}

/// One invocation read back from the log.
#[derive(Debug, Clone)]
struct Entry {
    /// Position in the log (older first): the tie-break of every order.
    seq: usize,
    start_ms: i64,
    namespace: String,
    name: String,
    qualifier: String,
    request_id: String,
    /// 0 on success, else the status code (docs/platform.md section 8).
    ret_code: i64,
    ret_msg: String,
    err_msg: String,
    duration_ms: f64,
    bill_duration_ms: u64,
    mem_usage: u64,
    log: String,
}

/// An entry from a log line; `None` for a line that is not a record (skipped).
fn parse_entry(seq: usize, line: &str) -> Option<Entry> {
    let v: Value = serde_json::from_str(line).ok()?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let duration_ms = v.get("Duration").and_then(Value::as_f64).unwrap_or(0.0);
    // Lines written before StartTimeMs was recorded: the end time (whole seconds, UTC) less
    // the duration.
    let start_ms = match v.get("StartTimeMs").and_then(Value::as_i64) {
        Some(ms) => ms,
        None => {
            let end = parse_datetime(v.get("Time")?.as_str()?)?;
            end.saturating_mul(1000)
                .saturating_sub(duration_ms.ceil() as i64)
        }
    };
    let bill = v
        .get("BillDuration")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| (duration_ms.ceil() as u64).max(1));
    Some(Entry {
        seq,
        start_ms,
        namespace: s("Namespace"),
        name: s("FunctionName"),
        qualifier: v
            .get("Qualifier")
            .and_then(Value::as_str)
            .unwrap_or("$LATEST")
            .to_owned(),
        request_id: s("FunctionRequestId"),
        ret_code: v.get("InvokeResult").and_then(Value::as_i64)?,
        ret_msg: s("RetMsg"),
        err_msg: s("ErrMsg"),
        duration_ms,
        bill_duration_ms: bill,
        mem_usage: v.get("MemUsage").and_then(Value::as_u64).unwrap_or(0),
        log: s("Log"),
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Seconds since the epoch of `YYYY-MM-DD HH:MM:SS` read as UTC; `None` when it is not that.
fn parse_datetime(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = text.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, mo, d) = (i64::from(num(0..4)?), num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59
    {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + s))
}

/// `Filter.RetCode`: which invocations to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetCodeFilter {
    All,
    /// `is0`: successes.
    Is0,
    /// `not0`: failures.
    Not0,
    /// `TimeLimitExceeded`: status 433.
    TimeLimit,
    /// `ResourceLimitExceeded`: status 434 (memory).
    ResourceLimit,
    /// `UserCodeException`: status 430.
    UserCode,
}

impl RetCodeFilter {
    fn keeps(self, ret_code: i64) -> bool {
        match self {
            RetCodeFilter::All => true,
            RetCodeFilter::Is0 => ret_code == 0,
            RetCodeFilter::Not0 => ret_code != 0,
            RetCodeFilter::TimeLimit => ret_code == 433,
            RetCodeFilter::ResourceLimit => ret_code == 434,
            RetCodeFilter::UserCode => ret_code == 430,
        }
    }
}

fn ret_code_filter(params: &Params) -> Result<RetCodeFilter, ApiError> {
    let filter = match params.get("Filter") {
        None => return Ok(RetCodeFilter::All),
        Some(Value::Object(f)) => f,
        Some(_) => {
            return Err(ApiError::invalid(
                "RetCode",
                "`Filter` must be an object such as {\"RetCode\": \"not0\"}.",
            ));
        }
    };
    let code = match filter.get("RetCode") {
        None | Some(Value::Null) => return Ok(RetCodeFilter::All),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => {
            return Err(ApiError::invalid(
                "RetCode",
                "`Filter.RetCode` must be a string.",
            ));
        }
    };
    Ok(match code {
        "" => RetCodeFilter::All,
        "is0" => RetCodeFilter::Is0,
        "not0" => RetCodeFilter::Not0,
        "TimeLimitExceeded" => RetCodeFilter::TimeLimit,
        "ResourceLimitExceeded" => RetCodeFilter::ResourceLimit,
        "UserCodeException" => RetCodeFilter::UserCode,
        other => {
            return Err(ApiError::invalid(
                "RetCode",
                format!(
                    "`Filter.RetCode` `{other}` is not one of is0, not0, TimeLimitExceeded, \
                     ResourceLimitExceeded, UserCodeException."
                ),
            ));
        }
    })
}

/// `OrderBy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderBy {
    StartTime,
    FunctionName,
    Duration,
    MemUsage,
}

/// What a request asks for, checked.
#[derive(Debug)]
struct Query {
    name: Option<String>,
    qualifier: Option<String>,
    request_id: Option<String>,
    offset: usize,
    limit: usize,
    descending: bool,
    order_by: OrderBy,
    filter: RetCodeFilter,
    /// Inclusive bounds on the start, seconds since the epoch.
    window: Option<(i64, i64)>,
}

/// A non-negative integer parameter; `code` for a bad one.
fn count(params: &Params, name: &str, code: &str) -> Result<Option<usize>, ApiError> {
    let bad = || ApiError::new(code, format!("`{name}` must be an integer of 0 or more."));
    match params.opt_int(name, name) {
        Ok(None) => Ok(None),
        Ok(Some(n)) => usize::try_from(n).map(Some).map_err(|_| bad()),
        Err(_) => Err(bad()),
    }
}

/// `StartTime`/`EndTime` (UTC+8) as an inclusive window in Unix seconds.
fn window(params: &Params) -> Result<Option<(i64, i64)>, ApiError> {
    let time = |name: &str| -> Result<Option<i64>, ApiError> {
        let bad = || {
            ApiError::invalid(
                "DateTime",
                format!("`{name}` must be a time such as `2017-05-16 20:00:00` (UTC+8)."),
            )
        };
        match params.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => parse_datetime(s)
                .map(|t| Some(t - API_UTC_OFFSET_S))
                .ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    };
    Ok(match (time("StartTime")?, time("EndTime")?) {
        (None, None) => None,
        (Some(s), None) => Some((s, s + MAX_WINDOW_S)),
        (None, Some(e)) => Some((e - MAX_WINDOW_S, e)),
        (Some(s), Some(e)) => {
            if e < s {
                return Err(ApiError::invalid(
                    "StartTimeOrEndTime",
                    "`EndTime` is before `StartTime`.",
                ));
            }
            if e - s > MAX_WINDOW_S {
                return Err(ApiError::invalid(
                    "StartTimeOrEndTime",
                    "`StartTime` and `EndTime` must be at most one day apart.",
                ));
            }
            Some((s, e))
        }
    })
}

fn query(params: &Params) -> Result<Query, ApiError> {
    let name = match params.opt_str("FunctionName", "FunctionName")? {
        None | Some("") => None,
        Some(_) => Some(super::function_name(params)?),
    };
    super::qualifier(params)?;
    // Resolved against the function's versions and aliases in `get_function_logs`.
    let qualifier = params
        .opt_str("Qualifier", "Qualifier")?
        .filter(|q| !q.is_empty())
        .map(str::to_owned);
    let request_id = params
        .opt_str("FunctionRequestId", "FunctionRequestId")?
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let offset = count(params, "Offset", "InvalidParameterValue.Offset")?.unwrap_or(0);
    let limit = match count(params, "Limit", "InvalidParameterValue")? {
        None | Some(0) => DEFAULT_LIMIT,
        Some(n) => n,
    };
    if offset.saturating_add(limit) > MAX_OFFSET_PLUS_LIMIT {
        return Err(ApiError::new(
            "LimitExceeded.Offset",
            format!(
                "`Offset` + `Limit` is {}; at most {MAX_OFFSET_PLUS_LIMIT}.",
                offset.saturating_add(limit)
            ),
        ));
    }
    let descending = match params.opt_str("Order", "Order")? {
        None | Some("") => true,
        Some(o) if o.eq_ignore_ascii_case("desc") => true,
        Some(o) if o.eq_ignore_ascii_case("asc") => false,
        Some(o) => {
            return Err(ApiError::invalid(
                "Order",
                format!("`Order` `{o}` is not desc or asc."),
            ));
        }
    };
    let order_by = match params.opt_str("OrderBy", "OrderBy")? {
        None | Some("") | Some("start_time") => OrderBy::StartTime,
        Some("function_name") => OrderBy::FunctionName,
        Some("duration") => OrderBy::Duration,
        Some("mem_usage") => OrderBy::MemUsage,
        Some(o) => {
            return Err(ApiError::invalid(
                "OrderBy",
                format!(
                    "`OrderBy` `{o}` is not one of function_name, duration, mem_usage, start_time."
                ),
            ));
        }
    };
    Ok(Query {
        name,
        qualifier,
        request_id,
        offset,
        limit,
        descending,
        order_by,
        filter: ret_code_filter(params)?,
        window: window(params)?,
    })
}

fn compare(by: OrderBy, a: &Entry, b: &Entry) -> Ordering {
    let key = match by {
        OrderBy::StartTime => a.start_ms.cmp(&b.start_ms),
        OrderBy::FunctionName => a.name.cmp(&b.name).then(a.start_ms.cmp(&b.start_ms)),
        OrderBy::Duration => a.duration_ms.total_cmp(&b.duration_ms),
        OrderBy::MemUsage => a.mem_usage.cmp(&b.mem_usage),
    };
    key.then(a.seq.cmp(&b.seq))
}

/// One `FunctionLog` of the answer.
fn function_log(app: &App, e: &Entry) -> Value {
    let ret_msg = if e.ret_code == 0 {
        e.ret_msg.clone()
    } else {
        super::hide_state_dir(&app.store, &e.err_msg)
    };
    json!({
        "FunctionName": e.name,
        "RetMsg": ret_msg,
        "RequestId": e.request_id,
        "StartTime": tc3::utc_datetime(e.start_ms.div_euclid(1000) + API_UTC_OFFSET_S),
        "RetCode": e.ret_code,
        "InvokeFinished": 1,
        "Duration": e.duration_ms,
        "BillDuration": e.bill_duration_ms,
        "MemUsage": e.mem_usage,
        "Log": e.log,
        "Level": "INFO",
        "Source": "",
        "RetryNum": 0,
    })
}

/// The `GetFunctionLogs` action.
///
/// # Errors
/// `InvalidParameterValue.*`, `LimitExceeded.Offset` for bad parameters;
/// `ResourceNotFound.Namespace` / `ResourceNotFound.Function` for what does not exist.
pub(crate) fn get_function_logs(
    app: &App,
    params: &Params,
    request_id: &str,
) -> Result<String, ApiError> {
    let q = query(params)?;
    let ns = super::namespace(app, params)?;
    if let Some(name) = &q.name
        && !app.lock().contains_key(&(ns.clone(), name.clone()))
    {
        return Err(super::not_found(&ns, name));
    }
    // A qualifier names the version whose invocations are wanted: an alias (`$DEFAULT` too)
    // stands for its main version, as in `GetFunction`. Without a function name, `$DEFAULT`
    // means every version and anything else is compared as written.
    let version = match (&q.name, &q.qualifier) {
        (_, None) => None,
        (Some(name), Some(qualifier)) => {
            let target = app
                .lock()
                .get(&(ns.clone(), name.clone()))
                .and_then(|e| e.resolve(qualifier));
            match target {
                Some(t) => Some(t.label()),
                None => {
                    return Err(super::unknown_qualifier(
                        "ResourceNotFound.Version",
                        qualifier,
                    ));
                }
            }
        }
        (None, Some(qualifier)) if qualifier == "$DEFAULT" => None,
        (None, Some(qualifier)) => Some(qualifier.clone()),
    };
    let mut entries: Vec<Entry> = app
        .store
        .read_log()
        .iter()
        .enumerate()
        .filter_map(|(seq, line)| parse_entry(seq, line))
        .filter(|e| {
            e.namespace == ns
                && q.name.as_ref().is_none_or(|n| *n == e.name)
                && version.as_ref().is_none_or(|v| *v == e.qualifier)
                && q.request_id.as_ref().is_none_or(|id| *id == e.request_id)
                && q.filter.keeps(e.ret_code)
                && q.window
                    .is_none_or(|(from, to)| (from..=to).contains(&e.start_ms.div_euclid(1000)))
        })
        .collect();
    entries.sort_by(|a, b| {
        let o = compare(q.order_by, a, b);
        if q.descending { o.reverse() } else { o }
    });
    let total = entries.len();
    let data: Vec<Value> = entries
        .iter()
        .skip(q.offset)
        .take(q.limit)
        .map(|e| function_log(app, e))
        .collect();
    let mut fields = Map::new();
    fields.insert("TotalCount".into(), Value::from(total));
    fields.insert("Data".into(), Value::Array(data));
    Ok(success_envelope(fields, request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(parse_datetime("1970-01-01 00:00:00"), Some(0));
        assert_eq!(parse_datetime("2023-11-14 22:13:20"), Some(1_700_000_000));
        assert_eq!(parse_datetime("2024-02-29 23:59:59"), Some(1_709_251_199));
        for bad in [
            "2023-02-29 00:00:00",
            "2023-13-01 00:00:00",
            "2023-01-01 24:00:00",
            "2023-01-01T00:00:00",
            "2023-1-01 00:00:00",
            "+023-01-01 00:00:00",
            "2023-01-01 00:00:00Z",
            "",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        for t in [0, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_datetime(&tc3::utc_datetime(t)), Some(t));
        }
    }

    #[test]
    fn cut_keeps_whole_characters() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("abc", 10), "abc");
    }

    #[test]
    fn old_lines_and_garbage() {
        let old = r#"{"Time":"2023-11-14 22:13:20","Namespace":"default","FunctionName":"f","InvocationType":"Event","FunctionRequestId":"r","InvokeResult":433,"RetMsg":"","ErrMsg":"e","Duration":1500.2,"MemUsage":7,"ColdStart":false,"Log":"L"}"#;
        let e = parse_entry(3, old).expect("an old record");
        assert_eq!(e.start_ms, 1_700_000_000_000 - 1501);
        assert_eq!((e.ret_code, e.bill_duration_ms, e.seq), (433, 1501, 3));
        assert_eq!(e.qualifier, "$LATEST");
        assert!(parse_entry(0, "{\"Time\":").is_none());
        assert!(parse_entry(0, "[]").is_none());
    }
}
