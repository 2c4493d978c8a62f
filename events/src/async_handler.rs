//! Async handlers on one current-thread tokio runtime (feature `async`; docs/events.md,
//! "Async handlers").

use std::fmt::Display;
use std::process::ExitCode;

use scf_core::{ErrorReport, Invocation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::json::{decode_event, encode_result, error_report};

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// `handler` as an [`scf_core::Handler`]: each invocation runs `handler(inv)` to completion on
/// a current-thread tokio runtime created here, once, and kept across invocations (tasks it
/// spawned go on between them only while a later invocation runs).
///
/// `Err` is posted as the invocation's error (an [`ErrorReport`] as it is, any other error as
/// [`HANDLER_ERROR`](crate::HANDLER_ERROR)); a panic is caught by the loop, as for any handler.
///
/// # Errors
///
/// When the tokio runtime cannot be built.
pub fn async_handler<E, F>(
    mut handler: F,
) -> std::io::Result<impl FnMut(&Invocation) -> Result<Vec<u8>, ErrorReport>>
where
    E: Display + 'static,
    F: AsyncFnMut(&Invocation) -> Result<Vec<u8>, E>,
{
    let rt = runtime()?;
    Ok(move |inv: &Invocation| rt.block_on(handler(inv)).map_err(error_report))
}

/// [`async_handler`] for events of type `T` and serializable results, as
/// [`json_handler`](crate::json_handler) does for blocking handlers.
///
/// # Errors
///
/// When the tokio runtime cannot be built.
pub fn json_async_handler<T, U, E, F>(
    mut handler: F,
) -> std::io::Result<impl FnMut(&Invocation) -> Result<Vec<u8>, ErrorReport>>
where
    T: DeserializeOwned,
    U: Serialize,
    E: Display + 'static,
    F: AsyncFnMut(T, &Invocation) -> Result<U, E>,
{
    let rt = runtime()?;
    Ok(move |inv: &Invocation| {
        let event = decode_event::<T>(inv)?;
        let result = rt.block_on(handler(event, inv)).map_err(error_report)?;
        encode_result(&result)
    })
}

/// Serve an async `handler` with a runtime from the environment: [`scf_core::serve`] over
/// [`async_handler`]. A tokio runtime that cannot be built is reported on stderr and ends the
/// process with a failure code before ready is sent.
///
/// ```no_run
/// use scf_events::Invocation;
///
/// async fn echo(inv: &Invocation) -> Result<Vec<u8>, String> {
///     Ok(inv.body.clone())
/// }
///
/// fn main() -> std::process::ExitCode {
///     scf_events::serve_async(echo)
/// }
/// ```
pub fn serve_async<E, F>(handler: F) -> ExitCode
where
    E: Display + 'static,
    F: AsyncFnMut(&Invocation) -> Result<Vec<u8>, E>,
{
    match async_handler(handler) {
        Ok(h) => scf_core::serve(h),
        Err(e) => no_runtime(&e),
    }
}

/// Serve an async `handler` for events of type `T`: [`serve_json`](crate::serve_json)'s
/// contract (a bad event is a [`DESERIALIZE_ERROR`](crate::DESERIALIZE_ERROR)) with
/// [`serve_async`]'s runtime.
pub fn serve_json_async<T, U, E, F>(handler: F) -> ExitCode
where
    T: DeserializeOwned,
    U: Serialize,
    E: Display + 'static,
    F: AsyncFnMut(T, &Invocation) -> Result<U, E>,
{
    match json_async_handler(handler) {
        Ok(h) => scf_core::serve(h),
        Err(e) => no_runtime(&e),
    }
}

fn no_runtime(e: &std::io::Error) -> ExitCode {
    eprintln!("scfruntime: cannot build the tokio runtime: {e}");
    ExitCode::FAILURE
}
