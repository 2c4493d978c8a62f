//! The SCF custom-runtime API client and its invocation loop.
//!
//! Tencent Cloud SCF starts a function's `bootstrap`, which reports ready, long-polls for each
//! event and posts the result. This crate does that over one keep-alive HTTP connection; every
//! language binding of scfruntime stands on it. See `docs/platform.md` for the platform's
//! contract.
//!
//! The same handler also serves image-deployed functions: with `SCFRUNTIME_MODE=image` and no
//! `SCF_RUNTIME_API`, the loop listens on `SCFRUNTIME_LISTEN` (default `0.0.0.0:9000`) and
//! takes each event as `POST /event-invoke` instead (the `image` feature, on by default; see
//! [`Source`] and [`Mode`]).
//!
//! ```no_run
//! use scf_core::{ErrorReport, Invocation};
//!
//! fn main() -> std::process::ExitCode {
//!     scf_core::serve(|inv: &Invocation| -> Result<Vec<u8>, ErrorReport> {
//!         let mut out = b"echo: ".to_vec();
//!         out.extend_from_slice(&inv.body);
//!         Ok(out)
//!     })
//! }
//! ```
#![warn(missing_docs)]

mod answer;
mod config;
mod error;
mod handler_spec;
mod http;
#[cfg(feature = "image")]
mod image;
mod invocation;
mod metadata;
mod runtime;
mod signal;
mod source;
mod transport;

pub use answer::{Answer, Answered, MAX_RESPONSE_BYTES};
pub use config::{
    Config, DEFAULT_LISTEN, IMAGE_MAX_EVENT_BYTES, ImageConfig, LISTEN_ENV, MODE_ENV, Mode,
    RETRY_BUDGET_ENV,
};
pub use error::{Error, ErrorReport, Result};
pub use handler_spec::{HANDLER_FORM, HandlerSpec, HandlerSpecError};
#[cfg(feature = "image")]
pub use image::{EVENT_INVOKE_PATH, HANDLER_ERROR_STATUS, ImageServer};
pub use invocation::Invocation;
pub use metadata::{FunctionMetadata, METADATA_FIELDS, MetadataField};
pub use runtime::{Handler, RunStats, Runtime, serve};
pub use signal::block_stop_signals;
pub use source::{ShutdownGuard, Source};
pub use transport::{
    ERROR_PATH, HELD_ATTEMPT, MAX_EVENT_BYTES, NEXT_PATH, PROTOCOL_ATTEMPTS, PollState, READY_PATH,
    RESPONSE_PATH, RetryPolicy, Transport,
};

/// This crate's version, the one every binding reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
