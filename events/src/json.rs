//! JSON handlers: the event deserialized into the handler's type, its result serialized back,
//! on scf-core's one invocation loop (docs/events.md, "JSON handlers").

use std::any::Any;
use std::fmt::Display;
use std::process::ExitCode;

use scf_core::{ErrorReport, Invocation};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The `errorType` of an event that does not deserialize into the handler's event type.
pub const DESERIALIZE_ERROR: &str = "DeserializeError";
/// The `errorType` of a handler result that does not serialize to JSON.
pub const SERIALIZE_ERROR: &str = "SerializeError";
/// The `errorType` of a handler's error that is not an [`ErrorReport`].
pub const HANDLER_ERROR: &str = "HandlerError";

/// Serve `handler` for events of type `T` with a runtime from the environment, as a bootstrap's
/// `main` does: [`scf_core::serve`] over [`json_handler`].
///
/// Each event is deserialized into `T`; an event that does not fit is answered on the error
/// endpoint as [`DESERIALIZE_ERROR`], naming `T` and serde's reason, and the handler is not
/// called. `Ok` is serialized to JSON as the result; `Err` is posted as the invocation's error
/// (an [`ErrorReport`] as it is, any other error as [`HANDLER_ERROR`] with its `Display` text).
///
/// ```no_run
/// use scf_events::{ApiGatewayRequest, ApiGatewayResponse, Invocation};
///
/// fn main() -> std::process::ExitCode {
///     scf_events::serve_json(|req: ApiGatewayRequest, _: &Invocation| {
///         Ok::<_, String>(ApiGatewayResponse::text(200, format!("you asked for {}", req.path)))
///     })
/// }
/// ```
pub fn serve_json<T, U, E, F>(handler: F) -> ExitCode
where
    T: DeserializeOwned,
    U: Serialize,
    E: Display + 'static,
    F: FnMut(T, &Invocation) -> Result<U, E>,
{
    scf_core::serve(json_handler(handler))
}

/// `handler` as an [`scf_core::Handler`] that deserializes each event into `T` and serializes
/// the result, for [`scf_core::Runtime::run`] (a runtime configured by hand, or a bound on the
/// invocations); [`serve_json`] is this under [`scf_core::serve`].
pub fn json_handler<T, U, E, F>(
    mut handler: F,
) -> impl FnMut(&Invocation) -> Result<Vec<u8>, ErrorReport>
where
    T: DeserializeOwned,
    U: Serialize,
    E: Display + 'static,
    F: FnMut(T, &Invocation) -> Result<U, E>,
{
    move |inv: &Invocation| {
        let event = decode_event::<T>(inv)?;
        let result = handler(event, inv).map_err(error_report)?;
        encode_result(&result)
    }
}

/// The event of `inv` as a `T`, or the [`DESERIALIZE_ERROR`] report naming `T` and the reason.
pub(crate) fn decode_event<T: DeserializeOwned>(inv: &Invocation) -> Result<T, ErrorReport> {
    serde_json::from_slice(&inv.body).map_err(|e| {
        ErrorReport::new(
            DESERIALIZE_ERROR,
            format!("the event is not a valid {}: {e}", short_type_name::<T>()),
        )
    })
}

/// `result` as JSON, or the [`SERIALIZE_ERROR`] report.
pub(crate) fn encode_result<U: Serialize>(result: &U) -> Result<Vec<u8>, ErrorReport> {
    serde_json::to_vec(result).map_err(|e| {
        ErrorReport::new(
            SERIALIZE_ERROR,
            format!(
                "the handler's result ({}) cannot be serialized to JSON: {e}",
                short_type_name::<U>()
            ),
        )
    })
}

/// A handler's error as the report posted: an [`ErrorReport`] unchanged, anything else as
/// [`HANDLER_ERROR`] with its `Display` text.
pub fn error_report<E: Display + 'static>(error: E) -> ErrorReport {
    let any: &dyn Any = &error;
    match any.downcast_ref::<ErrorReport>() {
        Some(report) => report.clone(),
        None => ErrorReport::new(HANDLER_ERROR, error.to_string()),
    }
}

/// `T`'s name without its module path (`ApiGatewayRequest`, `Vec<u32>` stays whole).
fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    if full.contains('<') {
        return full;
    }
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ApiGatewayRequest;

    fn inv(body: &str) -> Invocation {
        Invocation::new(
            "req-1",
            body.as_bytes().to_vec(),
            128,
            Duration::from_secs(3),
        )
    }

    #[test]
    fn a_bad_event_names_the_type_and_the_reason_and_skips_the_handler() {
        let mut called = false;
        let mut h = json_handler(|_: ApiGatewayRequest, _: &Invocation| {
            called = true;
            Ok::<_, String>(1)
        });
        let err = h(&inv(r#"{"httpMethod": {"no": 1}}"#)).expect_err("a bad event");
        assert_eq!(err.error_type, DESERIALIZE_ERROR);
        assert!(
            err.error_message
                .starts_with("the event is not a valid ApiGatewayRequest: expected a string"),
            "{}",
            err.error_message
        );
        assert!(
            err.error_message.contains("line 1"),
            "{}",
            err.error_message
        );
        let err = h(&inv("not json")).expect_err("not JSON");
        assert_eq!(err.error_type, DESERIALIZE_ERROR);
        drop(h);
        assert!(!called);
    }

    #[test]
    fn results_are_json_and_errors_keep_an_error_report() {
        let mut h = json_handler(|n: u32, inv: &Invocation| match n {
            0 => Err(ErrorReport::new("Zero", "zero is refused")),
            _ => Ok(serde_json::json!({"double": n * 2, "id": inv.request_id})),
        });
        assert_eq!(h(&inv("21")).unwrap(), br#"{"double":42,"id":"req-1"}"#);
        let err = h(&inv("0")).unwrap_err();
        assert_eq!(
            (err.error_type.as_str(), err.error_message.as_str()),
            ("Zero", "zero is refused")
        );

        let mut h = json_handler(|_: u32, _: &Invocation| Err::<(), _>(format!("no {}", 7)));
        let err = h(&inv("1")).unwrap_err();
        assert_eq!(
            (err.error_type.as_str(), err.error_message.as_str()),
            (HANDLER_ERROR, "no 7")
        );
    }

    #[test]
    fn an_unserializable_result_is_a_serialize_error() {
        use std::collections::HashMap;
        let mut h =
            json_handler(|_: u32, _: &Invocation| Ok::<_, String>(HashMap::from([((1, 2), 3)])));
        let err = h(&inv("1")).unwrap_err();
        assert_eq!(err.error_type, SERIALIZE_ERROR, "{err}");
    }
}
