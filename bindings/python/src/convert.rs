//! Event in, result out: decoding the body, calling the handler, encoding its return value.

use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString, PyType};
use scf_core::{ErrorReport, Invocation};

use crate::context::ContextTemplate;
use crate::json;

static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static JSON_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static FORMAT_EXCEPTION: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `json.dumps`, imported on first use: only for values the Rust encoder declines.
fn json_dumps(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    JSON_DUMPS.import(py, "json", "dumps")
}

/// `json.loads`, imported on first use: only for bodies the Rust decoder declines.
fn json_loads(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    JSON_LOADS.import(py, "json", "loads")
}

/// The event as the handler sees it: the decoded JSON value (what `json.loads` gives); the
/// text when the body is UTF-8 but not JSON; the `bytes` otherwise.
///
/// JSON is decoded in Rust straight into Python objects ([`json::decode`]); the stdlib only
/// sees the bodies the Rust decoder declines, which it decodes or refuses (the raw text).
pub(crate) fn decode_event(py: Python<'_>, body: Vec<u8>) -> PyResult<Bound<'_, PyAny>> {
    if let Ok(value) = json::decode::loads(py, &body) {
        return Ok(value);
    }
    match String::from_utf8(body) {
        Ok(text) => {
            let s = PyString::new(py, &text);
            drop(text);
            match json_loads(py)?.call1((&s,)) {
                Ok(value) => Ok(value),
                // Not JSON (JSONDecodeError, RecursionError for absurd nesting...): the raw text.
                Err(e) if e.is_instance_of::<PyException>(py) => Ok(s.into_any()),
                Err(e) => Err(e),
            }
        }
        Err(e) => Ok(PyBytes::new(py, e.as_bytes()).into_any()),
    }
}

/// A response body, posted from where it lies without another copy.
pub(crate) enum Body<'py> {
    /// The handler returned `bytes` (or `bytearray`), sent as is.
    Bytes(Bound<'py, PyBytes>),
    /// The JSON text the stdlib's `json.dumps` made; sent as UTF-8.
    Text(Bound<'py, PyString>),
    /// The JSON text of the return value, written by the Rust encoder.
    Json(Vec<u8>),
}

impl Body<'_> {
    /// The bytes to post, borrowed from the Python object (immutable, kept alive by `self`) or
    /// from the encoder's buffer.
    pub(crate) fn as_bytes(&self) -> Result<&[u8], ErrorReport> {
        match self {
            Body::Bytes(b) => Ok(b.as_bytes()),
            Body::Text(s) => json::to_str(s).map(str::as_bytes).map_err(|e| {
                error_report(
                    s.py(),
                    &e,
                    "the handler's return value is not valid UTF-8 text",
                )
            }),
            Body::Json(v) => Ok(v),
        }
    }
}

/// How one invocation ended on the Python side.
pub(crate) enum Outcome<'py> {
    /// Post this body to `/runtime/invocation/response`.
    Respond(Body<'py>),
    /// Post this report to `/runtime/invocation/error`; the loop goes on.
    Fail(ErrorReport),
    /// A `BaseException` that is not an `Exception` (`KeyboardInterrupt`, `SystemExit`): post
    /// the report, then stop the loop and raise the exception from `run`.
    Abort(ErrorReport, PyErr),
}

/// Call `handler(event, context)` for `inv` and turn what happened into an [`Outcome`].
///
/// The GIL is held throughout; nothing here blocks on the network.
pub(crate) fn call_python<'py>(
    py: Python<'py>,
    handler: &Bound<'py, PyAny>,
    template: &ContextTemplate,
    mut inv: Invocation,
) -> Outcome<'py> {
    let body = std::mem::take(&mut inv.body);
    let prepared = decode_event(py, body).and_then(|event| Ok((event, template.build(py, &inv)?)));
    let returned = prepared.and_then(|(event, ctx)| handler.call1((event, ctx)));
    match returned {
        Ok(value) => match encode_result(py, &value) {
            Ok(body) => Outcome::Respond(body),
            Err(report) => Outcome::Fail(report),
        },
        Err(e) if e.is_instance_of::<PyException>(py) => Outcome::Fail(error_report(py, &e, "")),
        Err(e) => Outcome::Abort(error_report(py, &e, ""), e),
    }
}

/// The response body for the handler's return value, as SCF's built-in runtime sends it: a
/// top-level `decimal.Decimal` becomes its `str`, then everything is
/// `json.dumps(value, ensure_ascii=False)` (so a `str` arrives JSON-quoted, `None` as `null`).
/// `bytes` and `bytearray` are sent as they are: the built-in runtime fails on them, and here
/// they are the way to send a body that is not JSON (docs/python.md, "Result encoding").
///
/// # Errors
///
/// The report of what `json.dumps` raised (`TypeError` naming the type, `ValueError` for a
/// circular reference), with its traceback, as the built-in runtime reports it.
pub(crate) fn encode_result<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
) -> Result<Body<'py>, ErrorReport> {
    encode_value(py, value).map_err(|e| error_report(py, &e, ""))
}

/// [`encode_result`] with the exception json.dumps raised, as is.
///
/// The Rust encoder ([`json::encode`]) writes the JSON of exact builtin types; whatever it
/// declines (other types, subclasses, circular references...) goes whole to the stdlib.
fn encode_value<'py>(py: Python<'py>, value: &Bound<'py, PyAny>) -> PyResult<Body<'py>> {
    if let Ok(b) = value.cast::<PyBytes>() {
        return Ok(Body::Bytes(b.clone()));
    }
    if let Ok(b) = value.cast::<PyByteArray>() {
        return Ok(Body::Bytes(PyBytes::new(py, &b.to_vec())));
    }
    if let Ok(json) = json::encode::dumps(value) {
        return Ok(Body::Json(json));
    }
    // `if type(ret) == Decimal: ret = str(ret)`, as the built-in runtime does. A Decimal exists
    // only where `decimal` was imported, so that is where to look for the type.
    let decimal_str;
    let mut value = value;
    if let Ok(decimal) = py
        .import(intern!(py, "sys"))?
        .getattr(intern!(py, "modules"))?
        .get_item(intern!(py, "decimal"))
        && value
            .get_type()
            .is(&decimal.getattr(intern!(py, "Decimal"))?)
    {
        decimal_str = value.str()?.into_any();
        value = &decimal_str;
    }
    let kwargs = PyDict::new(py);
    kwargs.set_item(intern!(py, "ensure_ascii"), false)?;
    let text = json_dumps(py)?.call((value,), Some(&kwargs))?;
    let s = text
        .cast_into::<PyString>()
        .map_err(|_| PyTypeError::new_err("json.dumps did not return a str"))?;
    Ok(Body::Text(s))
}

/// The event a handler receives for the request body `body`: the value `json.loads` gives
/// (decoded in Rust), the `str` when the body is UTF-8 but not JSON, else the `bytes`.
///
/// The same function `run` uses, exposed so handlers can be tested with the exact event.
#[pyfunction(name = "decode_event")]
pub fn py_decode_event<'py>(py: Python<'py>, body: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    decode_event(py, body.to_vec())
}

/// The response body `run` posts for a handler's return value, as SCF's built-in runtime does:
/// `json.dumps(value, ensure_ascii=False)` (encoded in Rust) after a top-level `Decimal` became
/// its `str`, so a `str` comes back JSON-quoted; `bytes` and `bytearray` as they are.
///
/// Raises what `json.dumps` raises for a value it cannot serialise (`TypeError`, or
/// `ValueError` for a circular reference), and `UnicodeEncodeError` for text that is not
/// valid Unicode.
#[pyfunction(name = "encode_result")]
pub fn py_encode_result<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    Ok(match encode_value(py, value)? {
        Body::Bytes(b) => b,
        Body::Text(s) => s.encode_utf8()?,
        Body::Json(v) => PyBytes::new(py, &v),
    })
}

/// The error report of a Python exception: its qualified class name, `str(exc)` and the
/// traceback lines (chained causes included), as `traceback.format_exception` prints them
/// (blank lines kept, so joined with `\n` they are that text).
///
/// `context`, when not empty, is put before the message (`"<context>: <message>"`).
pub fn error_report(py: Python<'_>, err: &PyErr, context: &str) -> ErrorReport {
    let value = err.value(py);
    let error_type = qualified_name(&value.get_type());
    let message = value
        .str()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "<exception str() failed>".into());
    let error_message = if context.is_empty() {
        message
    } else {
        format!("{context}: {message}")
    };
    let stack_trace = traceback_lines(py, err).unwrap_or_default();
    ErrorReport {
        error_type,
        error_message,
        stack_trace,
    }
}

/// `module.QualName` of an exception class; just `QualName` for builtins.
fn qualified_name(ty: &Bound<'_, PyType>) -> String {
    let qualname = ty
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    match ty.module().map(|m| m.to_string()) {
        Ok(m) if m != "builtins" && m != "__main__" => format!("{m}.{qualname}"),
        _ => qualname,
    }
}

fn traceback_lines(py: Python<'_>, err: &PyErr) -> PyResult<Vec<String>> {
    // `traceback` is imported on the first error, not at startup: most invocations never fail.
    let format = FORMAT_EXCEPTION.import(py, "traceback", "format_exception")?;
    let value = err.value(py);
    // The traceback travels in the PyErr: on Python < 3.12 the fetched exception's
    // `__traceback__` does not have the frames it was raised through, so pass them explicitly.
    let tb = match err.traceback(py) {
        Some(tb) => tb.into_any(),
        None => value.getattr("__traceback__")?,
    };
    let chunks = format.call1((value.get_type(), value, tb))?;
    let mut lines = Vec::new();
    for chunk in chunks.try_iter()? {
        let chunk = chunk?;
        let text = chunk.cast::<PyString>()?.to_string_lossy();
        lines.extend(
            text.split_inclusive('\n')
                .map(|l| l.trim_end_matches('\n').to_owned()),
        );
    }
    Ok(lines)
}

/// The `errorMessage` of every handler failure, as SCF's built-in runtime words it.
pub const USER_ERROR_MESSAGE: &str = "user code exception caught";

/// The error body posted for a failed Python handler, in the shape SCF's built-in Python runtime
/// reports (docs/python.md, "Handler error: the result"):
/// `{"errorCode":-1,"errorMessage":"user code exception caught","requestId":...,
/// "stackTrace":"Traceback (most recent call last):\n...","statusCode":430}`, where `stackTrace` is
/// the formatted traceback of `report` (its lines joined; the message alone when there is none).
pub(crate) fn user_error_json(report: &ErrorReport, request_id: &str) -> Vec<u8> {
    let trace = user_error_trace(report);
    let mut out = Vec::with_capacity(trace.len() + request_id.len() + 128);
    out.extend_from_slice(b"{\"errorCode\":-1,\"errorMessage\":");
    json::encode::write_str(&mut out, USER_ERROR_MESSAGE);
    out.extend_from_slice(b",\"requestId\":");
    json::encode::write_str(&mut out, request_id);
    out.extend_from_slice(b",\"stackTrace\":");
    json::encode::write_str(&mut out, &trace);
    out.extend_from_slice(b",\"statusCode\":430}");
    out
}

/// The traceback text of `report`, as the log and `stackTrace` show it.
pub(crate) fn user_error_trace(report: &ErrorReport) -> String {
    if report.stack_trace.is_empty() {
        format!("{}: {}", report.error_type, report.error_message)
    } else {
        report.stack_trace.join("\n")
    }
}
